/* Loads zserver.conf with libconfuse into struct zs_config, collecting every error as "file:line: message". */
#include "config.h"

#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/defaults.h"
#include "lib/log.h"
#include "lib/mime.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

/* Defaults of the global options that lib/defaults.h does not name. */
#define CONF_DEFAULT_PID_FILE "/run/zserver.pid"
#define CONF_DEFAULT_ERROR_LOG "stderr"
#define CONF_DEFAULT_MIME_TYPES "mime.types"
#define CONF_DEFAULT_TYPE "application/octet-stream"

#define DURATION_MIN_MS 1L
#define DURATION_MAX_MS (24L * 60 * 60 * 1000)
#define WORKERS_MAX 1024
#define INCLUDE_DEPTH_MAX 16
#define BRACE_STACK_MAX 64

/*
 * libconfuse 3.3 records no line for a section, only the line where its
 * parser is now. Each section therefore has this hidden option. Its default
 * value is parsed when the section is created at its '{', so its parse
 * callback receives the file and line where the section starts. The name
 * starts with a control character, so no real configuration sets it.
 */
#define SECTION_START "\001section-start"

/* Position of an option's last assignment, or of a section's start. */
struct opt_pos {
    const cfg_t *pos_sec;        /* NULL marks a free slot */
    const char *pos_name;
    const char *pos_file;        /* one of conf->files */
    int pos_line;
};

/* A listen address of one server, collected while servers are built. */
struct listen_use {
    struct zs_listener use_lis;  /* parsed address; lis_addr moves to the listener */
    struct zs_server *use_server;
    const char *use_file;        /* the `listen` option */
    int use_line;
    const char *use_default_file;   /* the `default_server` option */
    int use_default_line;
};

/* An error found while loading; errors are sorted by file and line before they are returned. */
struct pending_error {
    size_t err_file_rank;        /* index in conf->files; SIZE_MAX when the message names no file */
    int err_line;
    size_t err_seq;
    char *err_msg;
};

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

/* libconfuse callbacks take no user pointer, and its lexer is global anyway. */
static struct load_state *loading;

/* ---- errors ---- */

static void error_addv(const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void error_add(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns where a file comes in reading order, so that errors sort by file. */
static size_t
file_rank(const char *file)
{
    const struct zs_config *conf = loading->conf;

    if (file == NULL)
        return SIZE_MAX;
    for (size_t i = 0; conf != NULL && i < conf->file_count; i++)
        if (strcmp(conf->files[i], file) == 0)
            return i;
    return SIZE_MAX - 1;
}

static void
error_addv(const char *file, int line, const char *fmt, va_list ap)
{
    struct pending_error *err;
    char *text = NULL;
    char *msg = NULL;
    int n;

    loading->error_count++;
    if (loading->pending_count == loading->pending_cap) {
        size_t cap = loading->pending_cap ? loading->pending_cap * 2 : 16;
        struct pending_error *errors = realloc(loading->errors, cap * sizeof(*errors));
        if (errors == NULL)
            return;
        loading->errors = errors;
        loading->pending_cap = cap;
    }
    if (vasprintf(&text, fmt, ap) == -1)
        return;
    if (file != NULL && line > 0)
        n = asprintf(&msg, "%s:%d: %s", file, line, text);
    else if (file != NULL)
        n = asprintf(&msg, "%s: %s", file, text);
    else
        n = asprintf(&msg, "%s", text);
    free(text);
    if (n == -1)
        return;
    err = &loading->errors[loading->pending_count];
    err->err_file_rank = file_rank(file);
    err->err_line = line;
    err->err_seq = loading->pending_count++;
    err->err_msg = msg;
}

static void
error_add(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_addv(file, line, fmt, ap);
    va_end(ap);
}

static int
out_of_memory(void)
{
    error_add(loading->conf != NULL ? loading->conf->conf_file : NULL, 0, "out of memory");
    return -1;
}

static char *
dup_string(const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL)
        out_of_memory();
    return copy;
}

/* Reports libconfuse's own errors (syntax, unknown options) in the same form. */
static void
confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
{
    if (strcmp(fmt, "no such option '%s'") == 0)
        fmt = "unknown option '%s'";
    else if (strcmp(fmt, "found duplicate title '%s'") == 0)
        fmt = "duplicate section '%s'";
    error_addv(cfg != NULL ? cfg->filename : NULL, cfg != NULL ? cfg->line : 0, fmt, ap);
}

/* Reports a bad value at the line the parser is on. */
static void parse_error(const cfg_t *sec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
parse_error(const cfg_t *sec, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_addv(sec->filename, sec->line, fmt, ap);
    va_end(ap);
}

/* ---- files and positions ---- */

/* Returns the copy of a file name kept in conf->files, adding it if needed. */
static const char *
file_intern(const char *name)
{
    struct zs_config *conf = loading->conf;
    char **files;

    for (size_t i = 0; i < conf->file_count; i++)
        if (strcmp(conf->files[i], name) == 0)
            return conf->files[i];
    files = realloc(conf->files, (conf->file_count + 1) * sizeof(*files));
    if (files == NULL)
        return NULL;
    conf->files = files;
    conf->files[conf->file_count] = strdup(name);
    if (conf->files[conf->file_count] == NULL)
        return NULL;
    return conf->files[conf->file_count++];
}

static size_t
pos_hash(const cfg_t *sec, const char *name)
{
    uint64_t h = (uint64_t)(uintptr_t)sec * 0x9e3779b97f4a7c15ULL;

    for (const char *p = name; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

static struct opt_pos *
pos_slot(struct opt_pos *slots, size_t cap, const cfg_t *sec, const char *name)
{
    size_t i = pos_hash(sec, name) & (cap - 1);

    while (slots[i].pos_sec != NULL) {
        if (slots[i].pos_sec == sec && strcmp(slots[i].pos_name, name) == 0)
            return &slots[i];
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

static int
pos_grow(void)
{
    size_t cap = loading->pos_cap ? loading->pos_cap * 2 : 256;
    struct opt_pos *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < loading->pos_cap; i++) {
        struct opt_pos *old = &loading->pos[i];
        if (old->pos_sec != NULL)
            *pos_slot(slots, cap, old->pos_sec, old->pos_name) = *old;
    }
    free(loading->pos);
    loading->pos = slots;
    loading->pos_cap = cap;
    return 0;
}

/* Records where an option of a section is set, for checks made after parsing. */
static void
pos_record(const cfg_t *sec, const cfg_opt_t *opt)
{
    struct opt_pos *slot;
    const char *file;

    /* Defaults parsed by cfg_init() have no file. */
    if (sec->filename == NULL || sec->line <= 0)
        return;
    /* A list keeps the line of its first value, because later values append to it. */
    if ((opt->flags & CFGF_LIST) && opt->nvalues > 1)
        return;
    file = file_intern(sec->filename);
    if (file == NULL || ((loading->pos_count + 1) * 2 > loading->pos_cap && pos_grow() == -1)) {
        out_of_memory();
        return;
    }
    slot = pos_slot(loading->pos, loading->pos_cap, sec, opt->name);
    if (slot->pos_sec == NULL)
        loading->pos_count++;
    slot->pos_sec = sec;
    slot->pos_name = opt->name;
    slot->pos_file = file;
    slot->pos_line = sec->line;
}

/* Finds where an option was set. Falls back to where its section starts, then
 * to the main file without a line (a default value of a global option). */
static void
opt_where(const cfg_t *sec, const char *name, const char **file, int *line)
{
    const struct opt_pos *pos = NULL;

    if (loading->pos_cap > 0) {
        pos = pos_slot(loading->pos, loading->pos_cap, sec, name);
        if (pos->pos_sec == NULL)
            pos = pos_slot(loading->pos, loading->pos_cap, sec, SECTION_START);
    }
    if (pos != NULL && pos->pos_sec != NULL) {
        *file = pos->pos_file;
        *line = pos->pos_line;
    } else {
        *file = loading->conf->conf_file;
        *line = 0;
    }
}

static void
section_where(const cfg_t *sec, const char **file, int *line)
{
    opt_where(sec, SECTION_START, file, line);
}

/* Reports an error at the option's position (see opt_where()). */
static void opt_error(const cfg_t *sec, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
opt_error(const cfg_t *sec, const char *name, const char *fmt, ...)
{
    const char *file;
    int line;
    va_list ap;

    opt_where(sec, name, &file, &line);
    va_start(ap, fmt);
    error_addv(file, line, fmt, ap);
    va_end(ap);
}

/* Removes "." and ".." components and repeated slashes from an absolute path, in place. */
static void
path_normalize(char *path)
{
    const char *in = path;
    size_t out = 1;

    while (*in != '\0') {
        const char *end;
        size_t n;

        while (*in == '/')
            in++;
        if (*in == '\0')
            break;
        end = strchrnul(in, '/');
        n = (size_t)(end - in);
        if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > 1 && path[out - 1] != '/')
                out--;
            if (out > 1)
                out--;
        } else if (!(n == 1 && in[0] == '.')) {
            if (out > 1)
                path[out++] = '/';
            memmove(path + out, in, n);
            out += n;
        }
        in = end;
    }
    path[0] = '/';
    path[out] = '\0';
}

/* Returns path made absolute against dir (itself absolute) and normalised. */
static char *
path_resolve(const char *dir, const char *path)
{
    char *full;

    if (path[0] == '/')
        full = strdup(path);
    else if (asprintf(&full, "%s/%s", dir, path) == -1)
        full = NULL;
    if (full == NULL) {
        out_of_memory();
        return NULL;
    }
    path_normalize(full);
    return full;
}

static char *
path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL || slash == path)
        return dup_string("/");
    return strndup(path, (size_t)(slash - path));
}

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
    pos_record(sec, opt);
    *(void **)result = NULL;
    return 0;
}

static int
cb_string(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    pos_record(sec, opt);
    *(const char **)result = value;
    return 0;
}

static int
cb_path(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    pos_record(sec, opt);
    if (value[0] == '\0')
        parse_error(sec, "%s: empty path", opt->name);
    *(const char **)result = value;
    return 0;
}

static int
cb_bool(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int b = cfg_parse_boolean(value);

    pos_record(sec, opt);
    if (b == -1)
        parse_error(sec, "%s: invalid boolean '%s' (expected true or false)", opt->name, value);
    *(int *)result = b == 1;
    return 0;
}

static int
cb_duration(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    long ms = zs_conf_parse_duration(value);

    pos_record(sec, opt);
    if (ms == -1)
        parse_error(sec, "%s: invalid duration '%s' (expected a number with an optional unit: ms, s, m, h or d)",
                    opt->name, value);
    else if (ms < DURATION_MIN_MS || ms > DURATION_MAX_MS)
        parse_error(sec, "%s: duration '%s' is out of range (1ms to 1d)", opt->name, value);
    *(long *)result = ms;
    return 0;
}

static int
cb_size(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int64_t bytes = zs_conf_parse_size(value);

    pos_record(sec, opt);
    if (bytes == -1 || bytes > LONG_MAX)
        parse_error(sec, "%s: invalid size '%s' (expected a number of bytes with an optional unit: k, m or g)",
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
        { "worker_connections", 1, 1048576 },
        { "workers", 1, WORKERS_MAX },
    };
    long min = 0, max = INT_MAX, n = -1;
    size_t digits = strspn(value, "0123456789");

    pos_record(sec, opt);
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
        parse_error(sec, "%s: invalid number '%s'", opt->name, value);
    else if (n < min || n > max)
        parse_error(sec, "%s: %ld is out of range (%ld to %ld)", opt->name, n, min, max);
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
    pos_record(sec, opt);
    if (strcmp(value, "auto") != 0)
        parse_error(sec, "workers: invalid value '%s' (expected auto or a number from 1 to %d)", value,
                    WORKERS_MAX);
    *(long *)result = 0;
    return 0;
}

static int
cb_log_level(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    int level = zs_log_level_parse(value);

    pos_record(sec, opt);
    if (level == -1)
        parse_error(sec, "log_level: invalid level '%s' (expected emerg, alert, crit, error, warn, notice, info or debug)",
                    value);
    *(long *)result = level;
    return 0;
}

static int
cb_access_log_format(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    pos_record(sec, opt);
    if (strcmp(value, "combined") == 0) {
        *(long *)result = ZS_ACCESS_LOG_COMBINED;
    } else if (strcmp(value, "json") == 0) {
        *(long *)result = ZS_ACCESS_LOG_JSON;
    } else {
        parse_error(sec, "access_log_format: invalid format '%s' (expected combined or json)", value);
        *(long *)result = ZS_ACCESS_LOG_COMBINED;
    }
    return 0;
}

static int
cb_listen(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
    struct zs_listener lis;
    char err[256];

    pos_record(sec, opt);
    if (zs_conf_parse_listen(value, &lis, err, sizeof(err)) == -1)
        parse_error(sec, "listen: invalid address '%s': %s", value, err);
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

    pos_record(sec, opt);
    if (zs_conf_parse_return(value, &status, &text, err, sizeof(err)) == -1)
        parse_error(sec, "%s", err);
    *(const char **)result = value;
    return 0;
}

static int cb_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv);

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

static cfg_opt_t location_opts[] = {
    SECTION_START_OPT,
    STATIC_FILE_OPTS(NULL, CFGF_NODEFAULT),
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
    CFG_END()
};

static cfg_opt_t root_opts[] = {
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
    CFG_FUNC("include", cb_include),
    CFG_SEC("pool", pool_opts, SECTION_FLAGS),
    CFG_SEC("server", server_opts, SECTION_FLAGS),
    CFG_END()
};

/* ---- reading files ---- */

static char *
read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0;
    int saved;

    *len = 0;
    if (fp == NULL)
        return NULL;
    for (;;) {
        if (cap - *len < 4096) {
            char *bigger = realloc(text, cap + 65536);
            if (bigger == NULL)
                goto fail;
            text = bigger;
            cap += 65536;
        }
        *len += fread(text + *len, 1, cap - *len - 1, fp);
        if (ferror(fp))
            goto fail;
        if (feof(fp))
            break;
    }
    text[*len] = '\0';
    fclose(fp);
    return text;

fail:
    saved = errno;
    free(text);
    fclose(fp);
    errno = saved != 0 ? saved : ENOMEM;
    return NULL;
}

/*
 * Blanks out '#' comments before libconfuse reads the text: the lexer of
 * libconfuse 3.3 counts extra lines for each comment, so every later error
 * would name the wrong line, and it rejects a comment inside a list. Also
 * reports what that parser accepts silently or fails on without a message:
 * a '{' still open at the end of the file and an unterminated string.
 * Returns 0, or -1 after recording the error.
 */
static int
prepare_text(char *text, size_t len, const char *file)
{
    int open_lines[BRACE_STACK_MAX];
    size_t depth = 0;
    int line = 1;
    int quote_line = 0;
    char quote = '\0';

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '\n')
            line++;
        if (quote != '\0') {
            /* Double quotes escape any character; single quotes escape only \ and '. */
            if (c == '\\' && i + 1 < len && (quote == '"' || text[i + 1] == '\\' || text[i + 1] == '\'')) {
                if (text[++i] == '\n')
                    line++;
            } else if (c == quote) {
                quote = '\0';
            }
            continue;
        }
        switch (c) {
        case '"':
        case '\'':
            quote = c;
            quote_line = line;
            break;
        case '#':
            while (i < len && text[i] != '\n')
                text[i++] = ' ';
            i--;
            break;
        case '$':
            /* "${NAME}" is an environment variable: its '}' closes no section. */
            if (i + 1 < len && text[i + 1] == '{') {
                while (i < len && text[i] != '}')
                    line += text[i++] == '\n';
            }
            break;
        case '{':
            if (depth < BRACE_STACK_MAX)
                open_lines[depth] = line;
            depth++;
            break;
        case '}':
            /* An extra '}' is left to libconfuse, which reports it. */
            if (depth > 0)
                depth--;
            break;
        }
    }
    if (quote != '\0') {
        error_add(file, quote_line, "unterminated string: %c is not closed by the end of the file", quote);
        return -1;
    }
    if (depth > 0) {
        error_add(file, open_lines[depth <= BRACE_STACK_MAX ? depth - 1 : BRACE_STACK_MAX - 1],
                  "'{' is not closed by the end of the file");
        return -1;
    }
    return 0;
}

/* Parses the text of one file into cfg at the top level. An include parses its files from
 * inside this parse. Returns 0, or -1 after recording a syntax error. */
static int
parse_text(cfg_t *cfg, const char *file, char *text, size_t len)
{
    char *saved_name = cfg->filename;
    int saved_line = cfg->line;
    size_t errors_before = loading->error_count;
    FILE *fp;
    int rc = -1;

    if (prepare_text(text, len, file) == -1)
        return -1;
    if (len == 0)
        return 0;
    fp = fmemopen(text, len, "r");
    cfg->filename = strdup(file);
    if (fp == NULL || cfg->filename == NULL) {
        out_of_memory();
    } else if (cfg_parse_fp(cfg, fp) == CFG_SUCCESS) {
        rc = 0;
    } else if (loading->error_count == errors_before) {
        /* Some lexer failures return without calling the error function. */
        error_add(file, cfg->line, "syntax error");
    }
    if (fp != NULL)
        fclose(fp);
    free(cfg->filename);
    cfg->filename = saved_name;
    cfg->line = saved_line;
    return rc;
}

static int
include_file(cfg_t *cfg, const char *pattern, const char *path, bool wildcard,
             const char *from_file, int from_line)
{
    const char *file = file_intern(path);
    struct stat st;
    size_t len;
    char *text;
    int rc;

    if (file == NULL)
        return out_of_memory();
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A wildcard pattern may match directories: skip them. */
        if (wildcard)
            return 0;
        error_add(from_file, from_line, "include '%s': '%s' is not a regular file", pattern, path);
        return 0;
    }
    text = read_file(path, &len);
    if (text == NULL) {
        error_add(from_file, from_line, "include '%s': open '%s' failed: %s", pattern, path, strerror(errno));
        return 0;
    }
    loading->include_depth++;
    rc = parse_text(cfg, file, text, len);
    loading->include_depth--;
    free(text);
    return rc;
}

/* include("pattern"): parses each file that the glob pattern matches, in
 * sorted order. The pattern is relative to the directory of the including
 * file. A pattern without a wildcard must match a file. */
static int
cb_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
    const char *from_file = file_intern(cfg->filename);
    int from_line = cfg->line;
    char *dir = NULL;
    char *pattern = NULL;
    glob_t matches = { 0 };
    bool wildcard;
    int rc = 0;

    if (argc != 1) {
        error_add(from_file, from_line, "include: expected one file name or pattern, as in include(\"sites/*.conf\")");
        return 0;
    }
    if (loading->include_depth >= INCLUDE_DEPTH_MAX) {
        error_add(from_file, from_line, "include '%s': includes are nested more than %d deep", argv[0],
                  INCLUDE_DEPTH_MAX);
        return -1;
    }
    dir = path_dirname(from_file);
    pattern = dir != NULL ? path_resolve(dir, argv[0]) : NULL;
    if (pattern == NULL) {
        rc = -1;
        goto done;
    }
    wildcard = strpbrk(argv[0], "*?[") != NULL;
    switch (glob(pattern, 0, NULL, &matches)) {
    case 0:
        break;
    case GLOB_NOMATCH:
        if (!wildcard)
            error_add(from_file, from_line, "include '%s': file '%s' not found", argv[0], pattern);
        goto done;
    case GLOB_NOSPACE:
        rc = out_of_memory();
        goto done;
    default:
        error_add(from_file, from_line, "include '%s': reading a directory of '%s' failed", argv[0], pattern);
        goto done;
    }
    for (size_t i = 0; i < matches.gl_pathc && rc == 0; i++)
        rc = include_file(cfg, argv[0], matches.gl_pathv[i], wildcard, from_file, from_line);

done:
    globfree(&matches);
    free(pattern);
    free(dir);
    return rc;
}

/* ---- building struct zs_config ---- */

/* The section whose value applies: the location when it sets the option, else its server. */
static cfg_t *
inherit_from(cfg_t *loc_sec, cfg_t *srv_sec, const char *name)
{
    if (loc_sec != NULL && (cfg_getopt(loc_sec, name)->flags & CFGF_MODIFIED))
        return loc_sec;
    return srv_sec;
}

static int
copy_list(cfg_t *sec, const char *name, char ***items, size_t *count)
{
    unsigned int n = cfg_size(sec, name);

    *items = calloc(n ? n : 1, sizeof(**items));
    if (*items == NULL)
        return out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        (*items)[i] = dup_string(cfg_getnstr(sec, name, i));
        if ((*items)[i] == NULL)
            return -1;
        (*count)++;
    }
    return 0;
}

static void
free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

/* Resolves a configured path against the directory of the main file. */
static char *
conf_path(const char *path)
{
    return path_resolve(loading->conf->conf_dir, path);
}

/* A value that goes into a response header must not end the header line. */
static bool
is_header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return false;
    return true;
}

/* Checks a server_name: letters, digits, '-', '.' and '_', with '*' only as
 * a whole first or last label. An unquoted "*.example.org" reaches here as
 * ".example.org", because libconfuse drops the '*'. */
static void
server_name_check(cfg_t *srv_sec, const char *name)
{
    size_t len = strlen(name);
    const char *body = name;
    size_t body_len = len;

    if (len > 2 && name[0] == '*' && name[1] == '.') {
        body += 2;
        body_len -= 2;
    } else if (len > 2 && name[len - 1] == '*' && name[len - 2] == '.') {
        body_len -= 2;
    }
    bool ok = body_len > 0 && body[0] != '.' && body[body_len - 1] != '.';
    for (size_t i = 0; ok && i < body_len; i++)
        ok = isalnum((unsigned char)body[i]) || body[i] == '-' || body[i] == '.' || body[i] == '_';
    if (ok)
        return;
    if (name[0] == '.')
        opt_error(srv_sec, "server_name", "server_name '%s': invalid name; write a wildcard in quotes, "
                  "as \"*%s\"", name, name);
    else
        opt_error(srv_sec, "server_name", "server_name '%s': invalid name (expected a host name, "
                  "\"*.suffix\" or \"prefix.*\")", name);
}

static int
build_globals(cfg_t *root)
{
    struct zs_config *conf = loading->conf;
    const char *error_log = cfg_getstr(root, "error_log");

    conf->user = dup_string(cfg_getstr(root, "user"));
    conf->group = dup_string(cfg_getstr(root, "group"));
    conf->pid_file = conf_path(cfg_getstr(root, "pid_file"));
    if (strcmp(error_log, "stderr") == 0 || strcmp(error_log, "syslog") == 0)
        conf->error_log = dup_string(error_log);
    else
        conf->error_log = conf_path(error_log);
    conf->log_level = (int)cfg_getint(root, "log_level");
    conf->header_timeout = (int)cfg_getint(root, "client_header_timeout");
    conf->body_timeout = (int)cfg_getint(root, "client_body_timeout");
    conf->keepalive_timeout = (int)cfg_getint(root, "keepalive_timeout");
    conf->send_timeout = (int)cfg_getint(root, "send_timeout");
    conf->shutdown_timeout = (int)cfg_getint(root, "shutdown_timeout");
    conf->keepalive_requests = (int)cfg_getint(root, "keepalive_requests");
    conf->mime_types_file = conf_path(cfg_getstr(root, "mime_types"));
    conf->default_type = dup_string(cfg_getstr(root, "default_type"));
    if (conf->default_type != NULL && !is_header_safe(conf->default_type))
        opt_error(root, "default_type", "default_type: invalid media type (it contains control characters)");
    if (conf->user == NULL || conf->group == NULL || conf->pid_file == NULL || conf->error_log == NULL
        || conf->mime_types_file == NULL || conf->default_type == NULL)
        return -1;
    return 0;
}

/* Lists the user's supplementary groups now, so that a worker sets them with
 * setgroups() and never loads the NSS modules that initgroups() would. The
 * lookup runs in a short-lived child: walking the group database touches
 * about 0.7 MiB of NSS code that would otherwise stay resident in the master. */
static void
resolve_pool_groups(struct zs_pool *pool)
{
    enum { GROUPS_MAX = 1024 };
    gid_t *groups = malloc(GROUPS_MAX * sizeof(gid_t));
    int fds[2];

    if (groups == NULL || pipe2(fds, O_CLOEXEC) == -1) {
        free(groups);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int n = GROUPS_MAX;
        close(fds[0]);
        if (getgrouplist(pool->pool_user, pool->pool_gid, groups, &n) == -1)
            n = 0;
        ssize_t w = write(fds[1], groups, (size_t)n * sizeof(gid_t));
        _exit(w == (ssize_t)((size_t)n * sizeof(gid_t)) ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (pid > 0 && got < GROUPS_MAX * sizeof(gid_t)) {
        ssize_t r = read(fds[0], (char *)groups + got, GROUPS_MAX * sizeof(gid_t) - got);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (got == 0) {
        free(groups);
        return;
    }
    pool->pool_groups = groups;
    pool->pool_group_count = (int)(got / sizeof(gid_t));
}

/* Resolves the pool's user and group to ids. Names are looked up only when the
 * master runs as root, because any other master runs its workers as itself. */
static void
resolve_pool_ids(struct zs_pool *pool, cfg_t *pool_sec, cfg_t *root)
{
    cfg_t *user_sec = pool_sec != NULL && cfg_getstr(pool_sec, "user") != NULL ? pool_sec : root;
    cfg_t *group_sec = pool_sec != NULL && cfg_getstr(pool_sec, "group") != NULL ? pool_sec : root;
    struct passwd *pw;
    struct group *gr;

    pool->pool_uid = geteuid();
    pool->pool_gid = getegid();
    if (geteuid() != 0)
        return;
    pw = getpwnam(pool->pool_user);
    if (pw == NULL)
        opt_error(user_sec, "user", "unknown user '%s'", pool->pool_user);
    else
        pool->pool_uid = pw->pw_uid;
    gr = getgrnam(pool->pool_group);
    if (gr == NULL)
        opt_error(group_sec, "group", "unknown group '%s'", pool->pool_group);
    else
        pool->pool_gid = gr->gr_gid;
    if (pw != NULL && gr != NULL)
        resolve_pool_groups(pool);
    if (pw != NULL && pool->pool_uid == 0 && !pool->pool_allow_root)
        opt_error(pool_sec != NULL ? pool_sec : root, pool_sec != NULL ? SECTION_START : "user",
                  "pool %s: refusing to run workers as root; set allow_root = true to allow it",
                  pool->pool_name);
}

/* Fills a pool from its section, or the implicit "default" pool when pool_sec is NULL. */
static int
build_pool(struct zs_pool *pool, cfg_t *pool_sec, cfg_t *root)
{
    const char *user = pool_sec != NULL ? cfg_getstr(pool_sec, "user") : NULL;
    const char *group = pool_sec != NULL ? cfg_getstr(pool_sec, "group") : NULL;
    long workers = pool_sec != NULL ? cfg_getint(pool_sec, "workers") : 0;

    pool->pool_name = dup_string(pool_sec != NULL ? cfg_title(pool_sec) : "default");
    pool->pool_user = dup_string(user != NULL ? user : cfg_getstr(root, "user"));
    pool->pool_group = dup_string(group != NULL ? group : cfg_getstr(root, "group"));
    if (pool->pool_name == NULL || pool->pool_user == NULL || pool->pool_group == NULL)
        return -1;
    if (pool_sec != NULL) {
        section_where(pool_sec, &pool->pool_file, &pool->pool_line);
        pool->pool_allow_root = cfg_getbool(pool_sec, "allow_root");
        pool->pool_max_requests = cfg_getint(pool_sec, "max_requests");
        pool->pool_worker_connections = (int)cfg_getint(pool_sec, "worker_connections");
    } else {
        pool->pool_file = loading->conf->conf_file;
        pool->pool_worker_connections = ZS_WORKER_CONNECTIONS;
    }
    if (workers == 0) {
        workers = sysconf(_SC_NPROCESSORS_ONLN);
        if (workers < 1)
            workers = 1;
        if (workers > WORKERS_MAX)
            workers = WORKERS_MAX;
    }
    pool->pool_workers = (int)workers;
    resolve_pool_ids(pool, pool_sec, root);
    return 0;
}

static int
build_pools(cfg_t *root)
{
    struct zs_config *conf = loading->conf;
    unsigned int n = cfg_size(root, "pool");
    bool has_default = false;

    conf->pools = calloc(n + 1, sizeof(*conf->pools));
    if (conf->pools == NULL)
        return out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(root, "pool", i);
        has_default = has_default || strcmp(cfg_title(sec), "default") == 0;
        if (build_pool(&conf->pools[conf->pool_count++], sec, root) == -1)
            return -1;
    }
    if (!has_default && build_pool(&conf->pools[conf->pool_count++], NULL, root) == -1)
        return -1;
    return 0;
}

static struct zs_pool *
find_pool(const char *name)
{
    struct zs_config *conf = loading->conf;

    for (size_t i = 0; i < conf->pool_count; i++)
        if (strcmp(conf->pools[i].pool_name, name) == 0)
            return &conf->pools[i];
    return NULL;
}

static void
build_location_match(struct zs_location *loc)
{
    const char *path;
    char err[512];

    if (zs_conf_parse_location_title(loc->loc_title, &loc->loc_match, &path, err, sizeof(err)) == -1) {
        error_add(loc->loc_file, loc->loc_line, "location '%s': %s", loc->loc_title, err);
        return;
    }
    loc->loc_path = dup_string(path);
    if (loc->loc_path == NULL)
        return;
    loc->loc_path_len = strlen(path);
    if (loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE) {
        loc->loc_regex = zs_conf_compile_regex(path, loc->loc_match == ZS_LOC_REGEX_NOCASE, err, sizeof(err));
        if (loc->loc_regex == NULL)
            error_add(loc->loc_file, loc->loc_line, "location '%s': %s", loc->loc_title, err);
    }
}

static int
build_location_return(struct zs_location *loc, cfg_t *loc_sec)
{
    const char *value = loc_sec != NULL ? cfg_getstr(loc_sec, "return") : NULL;
    const char *text;
    char err[512];

    /* A bad value was reported while parsing. */
    if (value == NULL || zs_conf_parse_return(value, &loc->loc_return_status, &text, err, sizeof(err)) == -1)
        return 0;
    if (text != NULL && (loc->loc_return_text = dup_string(text)) == NULL)
        return -1;
    return 0;
}

/* Fills a location from its section, or the implicit "/" location when loc_sec is NULL
 * (see build_locations()). */
static int
build_location(struct zs_location *loc, cfg_t *loc_sec, const struct zs_server *srv, cfg_t *srv_sec)
{
    cfg_t *root_sec = inherit_from(loc_sec, srv_sec, "root");
    const char *root = cfg_getstr(root_sec, "root");

    loc->loc_title = dup_string(loc_sec != NULL ? cfg_title(loc_sec) : "/");
    if (loc->loc_title == NULL)
        return -1;
    if (loc_sec != NULL) {
        section_where(loc_sec, &loc->loc_file, &loc->loc_line);
    } else {
        loc->loc_file = srv->srv_file;
        loc->loc_line = srv->srv_line;
    }
    build_location_match(loc);
    if (build_location_return(loc, loc_sec) == -1)
        return -1;
    if (root != NULL && (loc->loc_root = conf_path(root)) == NULL)
        return -1;
    /* Without a root, the implicit "/" of a server that has other locations returns 404. */
    if (root == NULL && loc_sec == NULL && srv->srv_location_count > 1)
        loc->loc_return_status = 404;
    if (root == NULL && loc->loc_return_status == 0) {
        if (loc_sec != NULL)
            error_add(loc->loc_file, loc->loc_line,
                      "location '%s' in server '%s': root is not set (set it in the location or in the server)",
                      loc->loc_title, srv->srv_title);
        else
            error_add(loc->loc_file, loc->loc_line, "server '%s': root is not set", srv->srv_title);
    }
    if (copy_list(inherit_from(loc_sec, srv_sec, "index"), "index", &loc->loc_index, &loc->loc_index_count) == -1)
        return -1;
    loc->loc_autoindex = cfg_getbool(inherit_from(loc_sec, srv_sec, "autoindex"), "autoindex");
    loc->loc_gzip_static = cfg_getbool(inherit_from(loc_sec, srv_sec, "gzip_static"), "gzip_static");
    loc->loc_follow_symlinks = cfg_getbool(inherit_from(loc_sec, srv_sec, "follow_symlinks"), "follow_symlinks");
    loc->loc_allow_dotfiles = cfg_getbool(inherit_from(loc_sec, srv_sec, "allow_dotfiles"), "allow_dotfiles");
    loc->loc_client_max_body_size =
        cfg_getint(inherit_from(loc_sec, srv_sec, "client_max_body_size"), "client_max_body_size");
    return 0;
}

/* Tells whether a location title is the prefix "/" (plain or "^~"). */
static bool
title_is_root_prefix(const char *title)
{
    enum zs_loc_match match;
    const char *path;
    char err[128];

    return zs_conf_parse_location_title(title, &match, &path, err, sizeof(err)) == 0
           && (match == ZS_LOC_PREFIX || match == ZS_LOC_PREFIX_NOREGEX) && strcmp(path, "/") == 0;
}

/* Builds the server's locations in file order. Like nginx, which serves a
 * request that matches no location with the server's settings, a server
 * without a "/" prefix location gets one at the end, built from its own
 * settings. */
static int
build_locations(struct zs_server *srv, cfg_t *srv_sec)
{
    unsigned int n = cfg_size(srv_sec, "location");
    bool add_root = true;

    for (unsigned int i = 0; i < n && add_root; i++)
        add_root = !title_is_root_prefix(cfg_title(cfg_getnsec(srv_sec, "location", i)));
    srv->srv_locations = calloc(n + 1, sizeof(*srv->srv_locations));
    if (srv->srv_locations == NULL)
        return out_of_memory();
    for (unsigned int i = 0; i < n + add_root; i++) {
        struct zs_location *loc = &srv->srv_locations[srv->srv_location_count++];

        loc->loc_root_fd = -1;
        if (build_location(loc, i < n ? cfg_getnsec(srv_sec, "location", i) : NULL, srv, srv_sec) == -1)
            return -1;
    }
    return 0;
}

/* Collects the server's listen addresses for build_listeners(). */
static int
collect_listen_uses(struct zs_server *srv, cfg_t *srv_sec)
{
    for (size_t i = 0; i < srv->srv_listen_count; i++) {
        struct listen_use *use;
        char err[256];

        if (loading->use_count == loading->use_cap) {
            size_t cap = loading->use_cap ? loading->use_cap * 2 : 16;
            struct listen_use *uses = realloc(loading->uses, cap * sizeof(*uses));
            if (uses == NULL)
                return out_of_memory();
            loading->uses = uses;
            loading->use_cap = cap;
        }
        use = &loading->uses[loading->use_count];
        /* A bad address was reported while parsing. */
        if (zs_conf_parse_listen(srv->srv_listen[i], &use->use_lis, err, sizeof(err)) == -1)
            continue;
        use->use_server = srv;
        opt_where(srv_sec, "listen", &use->use_file, &use->use_line);
        opt_where(srv_sec, "default_server", &use->use_default_file, &use->use_default_line);
        loading->use_count++;
    }
    return 0;
}

static int
build_server(struct zs_server *srv, cfg_t *srv_sec)
{
    const char *pool = cfg_getstr(srv_sec, "pool");
    const char *access_log = cfg_getstr(srv_sec, "access_log");

    srv->srv_access_log.al_fd = -1;
    srv->srv_title = dup_string(cfg_title(srv_sec));
    if (srv->srv_title == NULL)
        return -1;
    section_where(srv_sec, &srv->srv_file, &srv->srv_line);
    if (copy_list(srv_sec, "server_name", &srv->srv_names, &srv->srv_name_count) == -1
        || copy_list(srv_sec, "listen", &srv->srv_listen, &srv->srv_listen_count) == -1)
        return -1;
    for (size_t i = 0; i < srv->srv_name_count; i++)
        server_name_check(srv_sec, srv->srv_names[i]);
    if (srv->srv_listen_count == 0)
        error_add(srv->srv_file, srv->srv_line, "server '%s': listen is not set", srv->srv_title);
    srv->srv_default = cfg_getbool(srv_sec, "default_server");
    srv->srv_pool = find_pool(pool);
    if (srv->srv_pool == NULL)
        opt_error(srv_sec, "pool", "server '%s': unknown pool '%s'", srv->srv_title, pool);
    if (strcmp(access_log, "off") != 0 && (srv->srv_access_log.al_path = conf_path(access_log)) == NULL)
        return -1;
    srv->srv_access_log.al_format = (enum zs_access_log_format)cfg_getint(srv_sec, "access_log_format");
    if (build_locations(srv, srv_sec) == -1)
        return -1;
    return collect_listen_uses(srv, srv_sec);
}

static int
build_servers(cfg_t *root)
{
    struct zs_config *conf = loading->conf;
    unsigned int n = cfg_size(root, "server");

    conf->servers = calloc(n ? n : 1, sizeof(*conf->servers));
    if (conf->servers == NULL)
        return out_of_memory();
    for (unsigned int i = 0; i < n; i++)
        if (build_server(&conf->servers[conf->server_count++], cfg_getnsec(root, "server", i)) == -1)
            return -1;
    return 0;
}

static struct zs_listener *
find_listener(const char *addr)
{
    struct zs_config *conf = loading->conf;

    for (size_t i = 0; i < conf->listener_count; i++)
        if (strcmp(conf->listeners[i].lis_addr, addr) == 0)
            return &conf->listeners[i];
    return NULL;
}

/* Adds one server to its listener: the default server goes first, the others
 * keep configuration order. All servers of one address must share a pool. */
static void
listener_add_server(struct zs_listener *lis, const struct listen_use *use)
{
    struct zs_server *srv = use->use_server;

    for (size_t i = 0; i < lis->lis_server_count; i++) {
        if (lis->lis_servers[i] == srv) {
            error_add(use->use_file, use->use_line, "server '%s': duplicate listen address %s",
                      srv->srv_title, lis->lis_addr);
            return;
        }
    }
    if (srv->srv_pool != NULL && lis->lis_pool != NULL && srv->srv_pool != lis->lis_pool) {
        error_add(use->use_file, use->use_line,
                  "listen %s: server '%s' is in pool '%s' but server '%s' on the same address is in pool '%s'; "
                  "an address belongs to one pool",
                  lis->lis_addr, srv->srv_title, srv->srv_pool->pool_name, lis->lis_servers[0]->srv_title,
                  lis->lis_pool->pool_name);
    }
    if (lis->lis_pool == NULL)
        lis->lis_pool = srv->srv_pool;
    if (!srv->srv_default) {
        lis->lis_servers[lis->lis_server_count++] = srv;
        return;
    }
    if (lis->lis_server_count > 0 && lis->lis_servers[0]->srv_default) {
        error_add(use->use_default_file, use->use_default_line,
                  "listen %s: servers '%s' and '%s' both set default_server", lis->lis_addr,
                  lis->lis_servers[0]->srv_title, srv->srv_title);
        lis->lis_servers[lis->lis_server_count++] = srv;
        return;
    }
    memmove(&lis->lis_servers[1], &lis->lis_servers[0], lis->lis_server_count * sizeof(*lis->lis_servers));
    lis->lis_servers[0] = srv;
    lis->lis_server_count++;
}

static int
fill_pool_listeners(void)
{
    struct zs_config *conf = loading->conf;

    for (size_t p = 0; p < conf->pool_count; p++) {
        struct zs_pool *pool = &conf->pools[p];

        pool->pool_listeners = calloc(conf->listener_count + 1, sizeof(*pool->pool_listeners));
        if (pool->pool_listeners == NULL)
            return out_of_memory();
        for (size_t i = 0; i < conf->listener_count; i++)
            if (conf->listeners[i].lis_pool == pool)
                pool->pool_listeners[pool->pool_listener_count++] = &conf->listeners[i];
    }
    return 0;
}

/* Merges equal listen addresses of all servers into conf->listeners. */
static int
build_listeners(void)
{
    struct zs_config *conf = loading->conf;

    conf->listeners = calloc(loading->use_count + 1, sizeof(*conf->listeners));
    if (conf->listeners == NULL)
        return out_of_memory();
    for (size_t i = 0; i < loading->use_count; i++) {
        struct listen_use *use = &loading->uses[i];
        struct zs_listener *lis = find_listener(use->use_lis.lis_addr);

        if (lis == NULL) {
            lis = &conf->listeners[conf->listener_count++];
            *lis = use->use_lis;
            use->use_lis.lis_addr = NULL;
            /* Every use of this address may add one server. */
            lis->lis_servers = calloc(loading->use_count - i, sizeof(*lis->lis_servers));
            if (lis->lis_servers == NULL)
                return out_of_memory();
        }
        listener_add_server(lis, use);
    }
    return fill_pool_listeners();
}

static void
load_mime_types(cfg_t *root)
{
    struct zs_config *conf = loading->conf;
    struct stat st;
    char err[4096];

    /* A missing file is reported at the option; a bad line at that line of the file. */
    if (stat(conf->mime_types_file, &st) == -1) {
        opt_error(root, "mime_types", "mime_types '%s': %s", conf->mime_types_file, strerror(errno));
        return;
    }
    conf->mime = zs_mime_load(conf->mime_types_file, err, sizeof(err));
    if (conf->mime == NULL)
        error_add(NULL, 0, "%s", err);
}

static void
build_config(cfg_t *root)
{
    if (build_globals(root) == -1 || build_pools(root) == -1 || build_servers(root) == -1
        || build_listeners() == -1)
        return;
    load_mime_types(root);
}

static int
set_main_file(struct zs_config *conf, const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) {
        error_add(path, 0, "finding the current directory failed: %s", strerror(errno));
        return -1;
    }
    conf->conf_file = path_resolve(cwd, path);
    if (conf->conf_file == NULL || (conf->conf_dir = path_dirname(conf->conf_file)) == NULL)
        return out_of_memory();
    if (file_intern(conf->conf_file) == NULL)
        return out_of_memory();
    return 0;
}

static void
parse_and_build(struct zs_config *conf)
{
    cfg_t *root = cfg_init(root_opts, CFGF_NONE);
    char *text;
    size_t len;

    if (root == NULL) {
        out_of_memory();
        return;
    }
    cfg_set_error_function(root, confuse_error);
    text = read_file(conf->conf_file, &len);
    if (text == NULL)
        error_add(conf->conf_file, 0, "open failed: %s", strerror(errno));
    else if (parse_text(root, conf->files[0], text, len) == 0)
        build_config(root);
    free(text);
    cfg_free(root);
}

static int
compare_errors(const void *a, const void *b)
{
    const struct pending_error *x = a;
    const struct pending_error *y = b;

    if (x->err_file_rank != y->err_file_rank)
        return x->err_file_rank < y->err_file_rank ? -1 : 1;
    if (x->err_line != y->err_line)
        return x->err_line < y->err_line ? -1 : 1;
    return x->err_seq < y->err_seq ? -1 : x->err_seq > y->err_seq;
}

/* Appends the errors to errs in file and line order, each message once: pools
 * that inherit one bad global value would otherwise repeat it. */
static void
flush_errors(struct zs_conf_errors *errs)
{
    if (loading->pending_count > 0)
        qsort(loading->errors, loading->pending_count, sizeof(*loading->errors), compare_errors);
    for (size_t i = 0; i < loading->pending_count; i++) {
        char *msg = loading->errors[i].err_msg;
        char **msgs = NULL;
        bool seen = false;

        for (size_t j = 0; errs != NULL && j < errs->count && !seen; j++)
            seen = strcmp(errs->msgs[j], msg) == 0;
        if (errs != NULL && !seen)
            msgs = realloc(errs->msgs, (errs->count + 1) * sizeof(*msgs));
        if (msgs == NULL) {
            free(msg);
            continue;
        }
        errs->msgs = msgs;
        errs->msgs[errs->count++] = msg;
    }
    free(loading->errors);
}

struct zs_config *
zs_conf_load(const char *path, struct zs_conf_errors *errs)
{
    struct load_state state = { 0 };
    struct zs_config *conf = calloc(1, sizeof(*conf));

    loading = &state;
    state.conf = conf;
    if (conf == NULL)
        out_of_memory();
    else if (set_main_file(conf, path) == 0)
        parse_and_build(conf);
    for (size_t i = 0; i < state.use_count; i++)
        free(state.uses[i].use_lis.lis_addr);
    free(state.uses);
    free(state.pos);
    flush_errors(errs);
    loading = NULL;
    if (state.error_count > 0) {
        zs_conf_free(conf);
        return NULL;
    }
    return conf;
}

/* ---- freeing ---- */

static void
free_location(struct zs_location *loc)
{
    free(loc->loc_title);
    free(loc->loc_path);
    pcre2_code_free(loc->loc_regex);
    free(loc->loc_return_text);
    free(loc->loc_root);
    free_list(loc->loc_index, loc->loc_index_count);
}

static void
free_server(struct zs_server *srv)
{
    free(srv->srv_title);
    free_list(srv->srv_names, srv->srv_name_count);
    free_list(srv->srv_listen, srv->srv_listen_count);
    for (size_t i = 0; i < srv->srv_location_count; i++)
        free_location(&srv->srv_locations[i]);
    free(srv->srv_locations);
    free(srv->srv_access_log.al_path);
}

void
zs_conf_free(struct zs_config *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i < conf->listener_count; i++) {
        free(conf->listeners[i].lis_addr);
        free(conf->listeners[i].lis_servers);
    }
    free(conf->listeners);
    for (size_t i = 0; i < conf->server_count; i++)
        free_server(&conf->servers[i]);
    free(conf->servers);
    for (size_t i = 0; i < conf->pool_count; i++) {
        free(conf->pools[i].pool_name);
        free(conf->pools[i].pool_user);
        free(conf->pools[i].pool_groups);
        free(conf->pools[i].pool_group);
        free(conf->pools[i].pool_listeners);
    }
    free(conf->pools);
    zs_mime_free(conf->mime);
    free(conf->mime_types_file);
    free(conf->default_type);
    free(conf->user);
    free(conf->group);
    free(conf->pid_file);
    free(conf->error_log);
    free(conf->conf_file);
    free(conf->conf_dir);
    free_list(conf->files, conf->file_count);
    free(conf);
}

void
zs_conf_errors_clear(struct zs_conf_errors *errs)
{
    if (errs == NULL)
        return;
    free_list(errs->msgs, errs->count);
    errs->msgs = NULL;
    errs->count = 0;
}
