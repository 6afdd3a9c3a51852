/* Private declarations of the configuration loader, grouped by the file that defines them. */
#ifndef ZS_CONF_INTERNAL_H
#define ZS_CONF_INTERNAL_H

#include <confuse.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/conf.h"

#define WORKERS_MAX 1024

/*
 * libconfuse 3.3 records no line for a section, only the line where its
 * parser is now. Each section therefore has this hidden option. Its default
 * value is parsed when the section is created at its '{', so its parse
 * callback receives the file and line where the section starts. The name
 * starts with a control character, so no real configuration sets it.
 */
#define SECTION_START "\001section-start"

/* A listen address of one server, collected while servers are built. */
struct listen_use {
    struct zs_listener use_lis;  /* parsed address; lis_addr moves to the listener */
    struct zs_server *use_server;
    const char *use_file;        /* the `listen` option */
    int use_line;
    const char *use_default_file;   /* the `default_server` option */
    int use_default_line;
};

struct opt_pos;
struct pending_error;

/* Everything one zs_conf_load() call builds besides the configuration itself. */
struct load_state {
    struct zs_config *conf;
    size_t error_count;          /* also counts errors whose message could not be allocated */
    struct pending_error *errors;
    size_t pending_count;
    size_t pending_cap;
    struct opt_pos *pos;
    size_t pos_cap;
    size_t pos_count;
    struct listen_use *uses;
    size_t use_count;
    size_t use_cap;
    int include_depth;
};

/* ---- conf_load.c ---- */

/* The load in progress: libconfuse callbacks take no user pointer, and its
 * lexer is global anyway. NULL outside zs_conf_load(). */
extern struct load_state *zs_conf_loading;

/* Errors are collected, not printed: each call adds "file:line: message"
 * (see struct zs_conf_errors) and makes the load fail. */

void zs_conf_error_addv(const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void zs_conf_error_add(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "out of memory" and returns -1. */
int zs_conf_out_of_memory(void);
/* strdup() that records "out of memory" when it fails. */
char *zs_conf_strdup(const char *s);
/* Reports a bad value at the line the parser is on. */
void zs_conf_value_error(const cfg_t *sec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the copy of a file name kept in conf->files, or NULL when out of memory. */
const char *zs_conf_file_intern(const char *name);
/* Every parse callback calls this first, so that checks made after the parse
 * can report an option at the line where it was set. */
void zs_conf_pos_record(const cfg_t *sec, const cfg_opt_t *opt);
void zs_conf_opt_where(const cfg_t *sec, const char *name, const char **file, int *line);
void zs_conf_section_where(const cfg_t *sec, const char **file, int *line);
/* Reports an error at the line where the option was set, or where its section starts. */
void zs_conf_opt_error(const cfg_t *sec, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns path made absolute against dir and normalised, newly allocated. */
char *zs_conf_path_resolve(const char *dir, const char *path);
char *zs_conf_path_dirname(const char *path);
/* Copies a string list option into a new NULL-terminated array. Returns 0 or -1. */
int zs_conf_copy_list(cfg_t *sec, const char *name, char ***items, size_t *count);
void zs_conf_free_list(char **items, size_t count);
/* Resolves a configured path against the directory of the main file. */
char *zs_conf_path(const char *path);
/* Checks that path is an existing directory. Otherwise reports an error at
 * option `name` of sec, with prefix (as "app 'php': ") before the message. */
void zs_conf_check_directory(const cfg_t *sec, const char *name, const char *prefix, const char *path);

/* ---- conf_parse.c ---- */

/* Reads a whole file into a NUL-terminated buffer. Returns NULL with errno set. */
char *zs_conf_read_file(const char *path, size_t *len);
/* Parses the text of one file into cfg. Returns 0, or -1 after recording a syntax error. */
int zs_conf_parse_text(cfg_t *cfg, const char *file, char *text, size_t len);
/* The libconfuse function behind include("pattern"). */
int zs_conf_cb_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv);

/* ---- conf_options.c ---- */

extern cfg_opt_t zs_conf_root_opts[];

/* ---- conf_pools.c ---- */

/* The build functions return -1 only when building cannot go on (out of
 * memory). A bad value is recorded as an error, and building continues. */
int zs_conf_build_globals(cfg_t *root);
int zs_conf_build_pools(cfg_t *root);
struct zs_pool *zs_conf_find_pool(const char *name);
/* Resolves user and group names to ids and the user's supplementary groups,
 * reporting unknown names at the `user` and `group` options of user_sec and
 * group_sec. Returns true when the user was looked up and found, so that a
 * uid of 0 really is root. */
bool zs_conf_resolve_ids(const char *user, const char *group, const cfg_t *user_sec, const cfg_t *group_sec,
                         uid_t *uid, gid_t *gid, gid_t **groups, int *group_count);
/* Merges the listen addresses that zs_conf_build_servers() collected. */
int zs_conf_build_listeners(void);
void zs_conf_load_mime_types(cfg_t *root);

/* ---- conf_apps.c ---- */

int zs_conf_build_apps(cfg_t *root);
const struct zs_app *zs_conf_find_app(const char *name);

/* ---- conf_servers.c ---- */

int zs_conf_build_servers(cfg_t *root);
/* The section whose value applies: the location when it sets the option, else its server. */
cfg_t *zs_conf_inherit_from(cfg_t *loc_sec, cfg_t *srv_sec, const char *name);

/* ---- conf_handlers.c ---- */

/* Checks the handler options that a server section sets itself: at most one
 * of fastcgi_pass, scgi_pass and cgi = on, no empty address list, and only
 * declared apps. zs_conf_build_handler() checks a location's own section. */
void zs_conf_check_server_handler(cfg_t *srv_sec, const char *srv_title);
/* Fills the handler fields of a location whose `return` is already built. */
int zs_conf_build_handler(struct zs_location *loc, cfg_t *loc_sec, cfg_t *srv_sec);
/* Once every server is built: python_home agrees within each pool, and the
 * WSGI module is found (conf->wsgi_module) when a location uses wsgi_app. */
int zs_conf_check_wsgi(void);

/* ---- conf_values.c ---- */

/* On failure each function writes the reason to err, truncated to errsize bytes,
 * and returns -1, or NULL for the zs_conf_compile_*() functions. */

/* Parses the `return` value "CODE [URL or text]", where CODE is 200 to 599, and
 * returns 0. Sets text to point into s, or to NULL when only the code is given.
 * A redirect status (301, 302, 303, 307 or 308) requires a URL. */
int zs_conf_parse_return(const char *s, int *status, const char **text, char *err, size_t errsize);

/* Splits a location title such as "~* \.php$" into its match type and its path or
 * regular expression, and returns 0. Sets path to point into title. */
int zs_conf_parse_location_title(const char *title, enum zs_loc_match *match, const char **path,
                                 char *err, size_t errsize);

/* Compiles a location's regular expression with PCRE2. The caller frees the
 * result with pcre2_code_free(). */
pcre2_code *zs_conf_compile_regex(const char *source, bool caseless, char *err, size_t errsize);

/* Compiles fastcgi_split_path_info, which must have exactly two capture
 * groups: SCRIPT_NAME and PATH_INFO. */
pcre2_code *zs_conf_compile_split_path_info(const char *source, char *err, size_t errsize);

/* Checks an app name: one or more ASCII letters, digits, '.', '-' and '_',
 * because it becomes part of a file name and of "app:NAME". Returns 0 or -1. */
int zs_conf_check_app_name(const char *name, char *err, size_t errsize);

#endif
