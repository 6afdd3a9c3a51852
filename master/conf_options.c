/* The libconfuse option tables of zserver.conf and the parse callbacks that check each value at its line. */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "lib/defaults.h"
#include "lib/log.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

/* Defaults of the global options that lib/defaults.h does not name. */
#define CONF_DEFAULT_PID_FILE "/run/zserver.pid"
#define CONF_DEFAULT_ERROR_LOG "stderr"
#define CONF_DEFAULT_MIME_TYPES "mime.types"
#define CONF_DEFAULT_TYPE "application/octet-stream"

#define DURATION_MIN_MS 1L
#define DURATION_MAX_MS (24L * 60 * 60 * 1000)

/* ---- libconfuse parse callbacks: each checks one value while its line is known ---- */

/*
 * libconfuse aborts the whole parse when a callback returns non-zero, so
 * every callback records its error and returns 0: the parse goes on and
 * finds the next error too. Any error makes zs_conf_load() fail, so the
 * value stored after an error is never used.
 */

static int
cb_section_start(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    zs_conf_pos_record(sec, opt);
    *(void **)result = NULL;
    return 0;
}

static int
cb_string(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    zs_conf_pos_record(sec, opt);
    *(const char **)result = value;
    return 0;
}

static int
cb_path(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    zs_conf_pos_record(sec, opt);
    if (value[0] == '\0')
        zs_conf_value_error(sec, "%s: empty path", opt->name);
    *(const char **)result = value;
    return 0;
}

static int
cb_bool(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int b = cfg_parse_boolean(value);

    zs_conf_pos_record(sec, opt);
    if (b == -1)
        zs_conf_value_error(sec, "%s: invalid boolean '%s' (expected true or false)", opt->name, value);
    *(int *)result = b == 1;
    return 0;
}

static int
cb_duration(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    long ms = zs_conf_parse_duration(value);

    zs_conf_pos_record(sec, opt);
    if (ms == -1)
        zs_conf_value_error(sec,
                            "%s: invalid duration '%s' (expected a number with an optional unit: ms, s, m, h or d)",
                            opt->name, value);
    else if (ms < DURATION_MIN_MS || ms > DURATION_MAX_MS)
        zs_conf_value_error(sec, "%s: duration '%s' is out of range (1ms to 1d)", opt->name, value);
    *(long *)result = ms;
    return 0;
}

static int
cb_size(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int64_t bytes = zs_conf_parse_size(value);

    zs_conf_pos_record(sec, opt);
    if (bytes == -1 || bytes > LONG_MAX)
        zs_conf_value_error(sec, "%s: invalid size '%s' (expected a number of bytes with an optional unit: k, m or g)",
                            opt->name, value);
    *(long *)result = (long)bytes;
    return 0;
}

static int
cb_count(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    static const struct { const char *name; long min; long max; } limits[] = {
        { "keepalive_requests", 1, INT_MAX },
        { "max_requests", 0, LONG_MAX },
        { "processes", 1, ZS_APP_PROCESSES_MAX },
        { "worker_connections", 1, 1048576 },
        { "workers", 1, WORKERS_MAX },
    };
    long min = 0, max = INT_MAX, n = -1;
    size_t digits = strspn(value, "0123456789");

    zs_conf_pos_record(sec, opt);
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (strcmp(opt->name, limits[i].name) == 0) {
            min = limits[i].min;
            max = limits[i].max;
        }
    }
    errno = 0;
    if (digits > 0 && digits == strlen(value))
        n = strtol(value, NULL, 10);
    if (n == -1 || errno == ERANGE)
        zs_conf_value_error(sec, "%s: invalid number '%s'", opt->name, value);
    else if (n < min || n > max)
        zs_conf_value_error(sec, "%s: %ld is out of range (%ld to %ld)", opt->name, n, min, max);
    *(long *)result = n;
    return 0;
}

/* "auto" is stored as 0 and resolved to the number of online CPUs later. */
static int
cb_workers(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    size_t digits = strspn(value, "0123456789");

    if (digits > 0 && digits == strlen(value))
        return cb_count(sec, opt, value, result);
    zs_conf_pos_record(sec, opt);
    if (strcmp(value, "auto") != 0)
        zs_conf_value_error(sec, "workers: invalid value '%s' (expected auto or a number from 1 to %d)", value,
                            WORKERS_MAX);
    *(long *)result = 0;
    return 0;
}

static int
cb_log_level(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int level = zs_log_level_parse(value);

    zs_conf_pos_record(sec, opt);
    if (level == -1)
        zs_conf_value_error(sec, "log_level: invalid level '%s' "
                            "(expected emerg, alert, crit, error, warn, notice, info or debug)", value);
    *(long *)result = level;
    return 0;
}

static int
cb_access_log_format(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    zs_conf_pos_record(sec, opt);
    if (strcmp(value, "combined") == 0) {
        *(long *)result = ZS_ACCESS_LOG_COMBINED;
    } else if (strcmp(value, "json") == 0) {
        *(long *)result = ZS_ACCESS_LOG_JSON;
    } else {
        zs_conf_value_error(sec, "access_log_format: invalid format '%s' (expected combined or json)", value);
        *(long *)result = ZS_ACCESS_LOG_COMBINED;
    }
    return 0;
}

static int
cb_listen(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    struct zs_listener lis;
    char err[256];

    zs_conf_pos_record(sec, opt);
    if (zs_conf_parse_listen(value, &lis, err, sizeof(err)) == -1)
        zs_conf_value_error(sec, "listen: invalid address '%s': %s", value, err);
    free(lis.lis_addr);
    *(const char **)result = value;
    return 0;
}

static int
cb_return(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    const char *text;
    char err[512];
    int status;

    zs_conf_pos_record(sec, opt);
    if (zs_conf_parse_return(value, &status, &text, err, sizeof(err)) == -1)
        zs_conf_value_error(sec, "%s", err);
    *(const char **)result = value;
    return 0;
}

/* fastcgi_pass and scgi_pass: each value of the list is one backend. */
static int
cb_backend(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    struct zs_backend backend;
    char err[256];

    zs_conf_pos_record(sec, opt);
    if (zs_conf_parse_backend(value, &backend, err, sizeof(err)) == -1)
        zs_conf_value_error(sec, "%s: invalid address '%s': %s", opt->name, value, err);
    else
        free(backend.be_addr);
    *(const char **)result = value;
    return 0;
}

static int
cb_split_path_info(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    char err[512];
    pcre2_code *re;

    zs_conf_pos_record(sec, opt);
    re = zs_conf_compile_split_path_info(value, err, sizeof(err));
    if (re == NULL)
        zs_conf_value_error(sec, "%s: %s", opt->name, err);
    pcre2_code_free(re);
    *(const char **)result = value;
    return 0;
}

/* fastcgi_param, scgi_param, cgi_param and env: "NAME=value" entries. */
static int
cb_param(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    size_t name_len;
    char err[512];

    zs_conf_pos_record(sec, opt);
    if (zs_conf_parse_param(value, &name_len, err, sizeof(err)) == -1)
        zs_conf_value_error(sec, "%s: %s", opt->name, err);
    *(const char **)result = value;
    return 0;
}

/* wsgi_app: "module" or "module:callable", each a dotted Python name. */
static int
cb_wsgi_app(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    char err[256];

    zs_conf_pos_record(sec, opt);
    if (zs_conf_parse_wsgi_app(value, err, sizeof(err)) == -1)
        zs_conf_value_error(sec, "%s: invalid value '%s': %s", opt->name, value, err);
    *(const char **)result = value;
    return 0;
}

#define SECTION_START_OPT CFG_PTR_CB(SECTION_START, "-", CFGF_NONE, cb_section_start, NULL)
#define SECTION_FLAGS (CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES)

/* Options that a location inherits from its server when it does not set them. */
#define STATIC_FILE_OPTS(index_default, index_flags) \
    CFG_STR_CB("root", NULL, CFGF_NODEFAULT, cb_path), \
    CFG_STR_LIST_CB("index", index_default, index_flags, cb_string), \
    CFG_BOOL_CB("autoindex", cfg_false, CFGF_NONE, cb_bool), \
    CFG_BOOL_CB("gzip_static", cfg_false, CFGF_NONE, cb_bool), \
    CFG_BOOL_CB("follow_symlinks", cfg_false, CFGF_NONE, cb_bool), \
    CFG_BOOL_CB("allow_dotfiles", cfg_false, CFGF_NONE, cb_bool), \
    CFG_INT_CB("client_max_body_size", ZS_CLIENT_MAX_BODY_SIZE, CFGF_NONE, cb_size)

/* The application handler options, which a location inherits from its server
 * too: see conf_handlers.c for how each group is inherited. */
#define HANDLER_OPTS \
    CFG_STR_LIST_CB("fastcgi_pass", NULL, CFGF_NODEFAULT, cb_backend), \
    CFG_STR_LIST_CB("scgi_pass", NULL, CFGF_NODEFAULT, cb_backend), \
    CFG_BOOL_CB("cgi", cfg_false, CFGF_NONE, cb_bool), \
    CFG_STR_CB("fastcgi_split_path_info", NULL, CFGF_NODEFAULT, cb_split_path_info), \
    CFG_STR_LIST_CB("fastcgi_param", NULL, CFGF_NODEFAULT, cb_param), \
    CFG_STR_LIST_CB("scgi_param", NULL, CFGF_NODEFAULT, cb_param), \
    CFG_STR_LIST_CB("cgi_param", NULL, CFGF_NODEFAULT, cb_param), \
    CFG_INT_CB("backend_max_requests", 0, CFGF_NONE, cb_count), \
    CFG_INT_CB("backend_queue", ZS_BACKEND_QUEUE, CFGF_NONE, cb_count), \
    CFG_BOOL_CB("fastcgi_keep_conn", cfg_false, CFGF_NONE, cb_bool), \
    CFG_STR_CB("wsgi_app", NULL, CFGF_NODEFAULT, cb_wsgi_app), \
    CFG_STR_LIST_CB("python_path", NULL, CFGF_NODEFAULT, cb_path), \
    CFG_STR_CB("python_home", NULL, CFGF_NODEFAULT, cb_path), \
    CFG_INT_CB("wsgi_timeout", ZS_WSGI_TIMEOUT, CFGF_NONE, cb_duration)

static cfg_opt_t location_opts[] = {
    SECTION_START_OPT,
    STATIC_FILE_OPTS(NULL, CFGF_NODEFAULT),
    HANDLER_OPTS,
    CFG_STR_CB("return", NULL, CFGF_NODEFAULT, cb_return),
    CFG_END()
};

static cfg_opt_t server_opts[] = {
    SECTION_START_OPT,
    CFG_STR_LIST_CB("listen", NULL, CFGF_NODEFAULT, cb_listen),
    CFG_STR_LIST_CB("server_name", NULL, CFGF_NODEFAULT, cb_string),
    CFG_BOOL_CB("default_server", cfg_false, CFGF_NONE, cb_bool),
    CFG_STR_CB("pool", "default", CFGF_NONE, cb_string),
    STATIC_FILE_OPTS("{" ZS_DEFAULT_INDEX "}", CFGF_NONE),
    HANDLER_OPTS,
    CFG_STR_CB("access_log", "off", CFGF_NONE, cb_path),
    CFG_INT_CB("access_log_format", ZS_ACCESS_LOG_COMBINED, CFGF_NONE, cb_access_log_format),
    CFG_SEC("location", location_opts, SECTION_FLAGS),
    CFG_END()
};

static cfg_opt_t pool_opts[] = {
    SECTION_START_OPT,
    CFG_STR_CB("user", NULL, CFGF_NODEFAULT, cb_string),
    CFG_STR_CB("group", NULL, CFGF_NODEFAULT, cb_string),
    CFG_INT_CB("workers", 0, CFGF_NONE, cb_workers),
    CFG_INT_CB("max_requests", 0, CFGF_NONE, cb_count),
    CFG_INT_CB("worker_connections", ZS_WORKER_CONNECTIONS, CFGF_NONE, cb_count),
    CFG_BOOL_CB("allow_root", cfg_false, CFGF_NONE, cb_bool),
    CFG_BOOL_CB("wsgi_preload", cfg_false, CFGF_NONE, cb_bool),
    CFG_END()
};

static cfg_opt_t app_opts[] = {
    SECTION_START_OPT,
    CFG_STR_LIST_CB("command", NULL, CFGF_NODEFAULT, cb_string),
    CFG_INT_CB("processes", 1, CFGF_NONE, cb_count),
    CFG_STR_CB("user", NULL, CFGF_NODEFAULT, cb_string),
    CFG_STR_CB("group", NULL, CFGF_NODEFAULT, cb_string),
    CFG_BOOL_CB("allow_root", cfg_false, CFGF_NONE, cb_bool),
    CFG_STR_CB("socket", NULL, CFGF_NODEFAULT, cb_path),
    CFG_STR_LIST_CB("env", NULL, CFGF_NODEFAULT, cb_param),
    CFG_STR_CB("directory", NULL, CFGF_NODEFAULT, cb_path),
    CFG_END()
};

cfg_opt_t zs_conf_root_opts[] = {
    CFG_STR_CB("user", ZS_DEFAULT_USER, CFGF_NONE, cb_string),
    CFG_STR_CB("group", ZS_DEFAULT_GROUP, CFGF_NONE, cb_string),
    CFG_STR_CB("pid_file", CONF_DEFAULT_PID_FILE, CFGF_NONE, cb_path),
    CFG_STR_CB("error_log", CONF_DEFAULT_ERROR_LOG, CFGF_NONE, cb_path),
    CFG_INT_CB("log_level", ZS_LOG_NOTICE, CFGF_NONE, cb_log_level),
    CFG_STR_CB("mime_types", CONF_DEFAULT_MIME_TYPES, CFGF_NONE, cb_path),
    CFG_STR_CB("default_type", CONF_DEFAULT_TYPE, CFGF_NONE, cb_string),
    CFG_INT_CB("client_header_timeout", ZS_HEADER_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("client_body_timeout", ZS_BODY_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("keepalive_timeout", ZS_KEEPALIVE_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("send_timeout", ZS_SEND_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("shutdown_timeout", ZS_SHUTDOWN_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("keepalive_requests", ZS_KEEPALIVE_REQUESTS, CFGF_NONE, cb_count),
    CFG_INT_CB("backend_connect_timeout", ZS_BACKEND_CONNECT_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_INT_CB("backend_read_timeout", ZS_BACKEND_READ_TIMEOUT, CFGF_NONE, cb_duration),
    CFG_STR_CB("client_body_temp_path", ZS_CLIENT_BODY_TEMP_PATH, CFGF_NONE, cb_path),
    CFG_FUNC("include", zs_conf_cb_include),
    CFG_SEC("pool", pool_opts, SECTION_FLAGS),
    CFG_SEC("app", app_opts, SECTION_FLAGS),
    CFG_SEC("server", server_opts, SECTION_FLAGS),
    CFG_END()
};
