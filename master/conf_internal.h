/* Private declarations of the configuration loader, grouped by the file that defines them. */
#ifndef ZS_CONF_INTERNAL_H
#define ZS_CONF_INTERNAL_H

#include <confuse.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

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

extern struct load_state *loading;

void error_addv(const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void error_add(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int out_of_memory(void);
char *dup_string(const char *s);
/* Reports a bad value at the line the parser is on. */
void parse_error(const cfg_t *sec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *file_intern(const char *name);
void pos_record(const cfg_t *sec, const cfg_opt_t *opt);
void opt_where(const cfg_t *sec, const char *name, const char **file, int *line);
void section_where(const cfg_t *sec, const char **file, int *line);
void opt_error(const cfg_t *sec, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *path_resolve(const char *dir, const char *path);
char *path_dirname(const char *path);
int copy_list(cfg_t *sec, const char *name, char ***items, size_t *count);
void free_list(char **items, size_t count);
char *conf_path(const char *path);

/* ---- conf_parse.c ---- */

char *read_file(const char *path, size_t *len);
int parse_text(cfg_t *cfg, const char *file, char *text, size_t len);
int cb_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv);

/* ---- conf_options.c ---- */

extern cfg_opt_t root_opts[];

/* ---- conf_pools.c ---- */

int build_globals(cfg_t *root);
int build_pools(cfg_t *root);
struct zs_pool *find_pool(const char *name);
int build_listeners(void);
void load_mime_types(cfg_t *root);

/* ---- conf_servers.c ---- */

int build_servers(cfg_t *root);

/* ---- conf_values.c ---- */

/* On failure each function writes the reason to err, truncated to errsize bytes,
 * and returns -1, or NULL for zs_conf_compile_regex(). */

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

#endif
