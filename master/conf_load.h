/* Loading, checking and printing the configuration file (libconfuse). */
#ifndef ZS_CONF_LOAD_H
#define ZS_CONF_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/conf.h"

/* Error messages, each "file:line: message". A message about a file that cannot
 * be read, or about a default value that the file does not set, has no line:
 * "file: message". */
struct zs_conf_errors {
    char **msgs;
    size_t count;
};

/* Loads the main file `path` and everything it includes into a new configuration.
 * Returns NULL when any error was found. Then errs (which may be NULL) gets every
 * error appended: all validation errors are collected, but a syntax error stops
 * the parse. Opens no socket and no log file, so every descriptor in the result
 * is -1. Uses libconfuse, whose parser keeps global state: call it from one
 * thread at a time. */
struct zs_config *zs_conf_load(const char *path, struct zs_conf_errors *errs);

/* Frees a configuration. Accepts NULL and half-built configurations. */
void zs_conf_free(struct zs_config *conf);

void zs_conf_errors_clear(struct zs_conf_errors *errs);

/* Prints the resolved configuration in the file's own syntax (for `zserver -T`),
 * preceded by a "# configuration file PATH" line for each file read. */
void zs_conf_dump(const struct zs_config *conf, FILE *out);

/* Parses "500ms", "60s", "2m", "1h", "1d" or "75" (seconds) into milliseconds.
 * Returns -1 if invalid. */
long zs_conf_parse_duration(const char *s);

/* Parses "1024", "64k", "1m" or "1g" (binary multiples, either case) into bytes.
 * Returns -1 if invalid. */
int64_t zs_conf_parse_size(const char *s);

/* Parses a listen address into out (lis_addr normalised and allocated, lis_sa,
 * lis_salen, lis_fd = -1). Accepts "127.0.0.1:8080", "[::1]:8080", "[::]:80",
 * "*:80", "0.0.0.0:80", a bare port "8080" (all IPv4 addresses) and
 * "unix:/absolute/path.sock". Host names are rejected: nothing is resolved.
 * Returns 0, or -1 with the reason in err. */
int zs_conf_parse_listen(const char *s, struct zs_listener *out, char *err, size_t errsize);

/* Parses one address of fastcgi_pass or scgi_pass into out (be_addr allocated,
 * be_app NULL). Accepts the forms of zs_conf_parse_listen() except the wildcard
 * addresses (0.0.0.0, [::], "*:PORT" and a bare port), and "app:NAME", for
 * which only be_addr is set: the caller looks the app up. Returns 0, or -1 with
 * the reason in err. */
int zs_conf_parse_backend(const char *s, struct zs_backend *out, char *err, size_t errsize);

/* Checks one "NAME=value" entry (fastcgi_param, scgi_param, cgi_param, an
 * app's env), where NAME is one or more ASCII letters, digits and '_' and the
 * value may be empty. Sets name_len and returns 0, or -1 with the reason in err. */
int zs_conf_parse_param(const char *s, size_t *name_len, char *err, size_t errsize);

/* Checks a wsgi_app value, "module" or "module:callable", where both are
 * dotted names of ASCII letters, digits and '_' that do not start with a
 * digit. Returns 0, or -1 with the reason in err. */
int zs_conf_parse_wsgi_app(const char *s, char *err, size_t errsize);

#endif
