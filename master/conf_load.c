/* Loads zserver.conf with libconfuse into struct zs_config, collecting every error as "file:line: message".
 * This file keeps the error list, the positions of options and the order of the build. conf_parse.c
 * reads the files, conf_options.c contains the option tables, and the other conf_*.c files build the parts. */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/mime.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

/* Position of an option's last assignment, or of a section's start. */
struct opt_pos {
    const cfg_t *pos_sec;        /* NULL marks a free slot */
    const char *pos_name;
    const char *pos_file;        /* one of conf->files */
    int pos_line;
};

/* An error found while loading; errors are sorted by file and line before they are returned. */
struct pending_error {
    size_t err_file_rank;        /* index in conf->files; SIZE_MAX when the message names no file */
    int err_line;
    size_t err_seq;
    char *err_msg;
};

struct load_state *zs_conf_loading;

/* ---- errors ---- */

/* Returns where a file comes in reading order, so that errors sort by file. */
static size_t
file_rank(const char *file)
{
    const struct zs_config *conf = zs_conf_loading->conf;

    if (file == NULL)
        return SIZE_MAX;
    for (size_t i = 0; conf != NULL && i < conf->file_count; i++)
        if (strcmp(conf->files[i], file) == 0)
            return i;
    return SIZE_MAX - 1;
}

void
zs_conf_error_addv(const char *file, int line, const char *fmt, va_list ap)
{
    struct pending_error *err;
    char *text = NULL;
    char *msg = NULL;
    int n;

    zs_conf_loading->error_count++;
    if (zs_conf_loading->pending_count == zs_conf_loading->pending_cap) {
        size_t cap = zs_conf_loading->pending_cap ? zs_conf_loading->pending_cap * 2 : 16;
        struct pending_error *errors = realloc(zs_conf_loading->errors, cap * sizeof(*errors));
        if (errors == NULL)
            return;
        zs_conf_loading->errors = errors;
        zs_conf_loading->pending_cap = cap;
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
    err = &zs_conf_loading->errors[zs_conf_loading->pending_count];
    err->err_file_rank = file_rank(file);
    err->err_line = line;
    err->err_seq = zs_conf_loading->pending_count++;
    err->err_msg = msg;
}

void
zs_conf_error_add(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    zs_conf_error_addv(file, line, fmt, ap);
    va_end(ap);
}

int
zs_conf_out_of_memory(void)
{
    zs_conf_error_add(zs_conf_loading->conf != NULL ? zs_conf_loading->conf->conf_file : NULL, 0, "out of memory");
    return -1;
}

char *
zs_conf_strdup(const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL)
        zs_conf_out_of_memory();
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
    zs_conf_error_addv(cfg != NULL ? cfg->filename : NULL, cfg != NULL ? cfg->line : 0, fmt, ap);
}

void
zs_conf_value_error(const cfg_t *sec, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    zs_conf_error_addv(sec->filename, sec->line, fmt, ap);
    va_end(ap);
}

/* ---- files and positions ---- */

/* Returns the copy of a file name kept in conf->files, adding it if needed. */
const char *
zs_conf_file_intern(const char *name)
{
    struct zs_config *conf = zs_conf_loading->conf;
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
    size_t cap = zs_conf_loading->pos_cap ? zs_conf_loading->pos_cap * 2 : 256;
    struct opt_pos *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < zs_conf_loading->pos_cap; i++) {
        struct opt_pos *old = &zs_conf_loading->pos[i];
        if (old->pos_sec != NULL)
            *pos_slot(slots, cap, old->pos_sec, old->pos_name) = *old;
    }
    free(zs_conf_loading->pos);
    zs_conf_loading->pos = slots;
    zs_conf_loading->pos_cap = cap;
    return 0;
}

/* Records where an option of a section is set, for checks made after parsing. */
void
zs_conf_pos_record(const cfg_t *sec, const cfg_opt_t *opt)
{
    struct opt_pos *slot;
    const char *file;

    /* Defaults parsed by cfg_init() have no file. */
    if (sec->filename == NULL || sec->line <= 0)
        return;
    /* A list keeps the line of its first value, because later values append to it. */
    if ((opt->flags & CFGF_LIST) && opt->nvalues > 1)
        return;
    file = zs_conf_file_intern(sec->filename);
    if (file == NULL || ((zs_conf_loading->pos_count + 1) * 2 > zs_conf_loading->pos_cap && pos_grow() == -1)) {
        zs_conf_out_of_memory();
        return;
    }
    slot = pos_slot(zs_conf_loading->pos, zs_conf_loading->pos_cap, sec, opt->name);
    if (slot->pos_sec == NULL)
        zs_conf_loading->pos_count++;
    slot->pos_sec = sec;
    slot->pos_name = opt->name;
    slot->pos_file = file;
    slot->pos_line = sec->line;
}

/* Finds where an option was set. Falls back to where its section starts, then
 * to the main file without a line (a default value of a global option). */
void
zs_conf_opt_where(const cfg_t *sec, const char *name, const char **file, int *line)
{
    const struct opt_pos *pos = NULL;

    if (zs_conf_loading->pos_cap > 0) {
        pos = pos_slot(zs_conf_loading->pos, zs_conf_loading->pos_cap, sec, name);
        if (pos->pos_sec == NULL)
            pos = pos_slot(zs_conf_loading->pos, zs_conf_loading->pos_cap, sec, SECTION_START);
    }
    if (pos != NULL && pos->pos_sec != NULL) {
        *file = pos->pos_file;
        *line = pos->pos_line;
    } else {
        *file = zs_conf_loading->conf->conf_file;
        *line = 0;
    }
}

void
zs_conf_section_where(const cfg_t *sec, const char **file, int *line)
{
    zs_conf_opt_where(sec, SECTION_START, file, line);
}

/* Reports an error at the option's position (see zs_conf_opt_where()). */
void
zs_conf_opt_error(const cfg_t *sec, const char *name, const char *fmt, ...)
{
    const char *file;
    int line;
    va_list ap;

    zs_conf_opt_where(sec, name, &file, &line);
    va_start(ap, fmt);
    zs_conf_error_addv(file, line, fmt, ap);
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
char *
zs_conf_path_resolve(const char *dir, const char *path)
{
    char *full;

    if (path[0] == '/')
        full = strdup(path);
    else if (asprintf(&full, "%s/%s", dir, path) == -1)
        full = NULL;
    if (full == NULL) {
        zs_conf_out_of_memory();
        return NULL;
    }
    path_normalize(full);
    return full;
}

char *
zs_conf_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL || slash == path)
        return zs_conf_strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int
zs_conf_copy_list(cfg_t *sec, const char *name, char ***items, size_t *count)
{
    unsigned int n = cfg_size(sec, name);

    *items = calloc(n + 1, sizeof(**items));
    if (*items == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        (*items)[i] = zs_conf_strdup(cfg_getnstr(sec, name, i));
        if ((*items)[i] == NULL)
            return -1;
        (*count)++;
    }
    return 0;
}

void
zs_conf_free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

/* Resolves a configured path against the directory of the main file. */
char *
zs_conf_path(const char *path)
{
    return zs_conf_path_resolve(zs_conf_loading->conf->conf_dir, path);
}

void
zs_conf_check_directory(const cfg_t *sec, const char *name, const char *prefix, const char *path)
{
    struct stat st;

    if (stat(path, &st) == -1)
        zs_conf_opt_error(sec, name, "%s%s '%s': %s", prefix, name, path, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        zs_conf_opt_error(sec, name, "%s%s '%s': not a directory", prefix, name, path);
}

/* Apps come before servers, whose fastcgi_pass may name them. */
static void
build_config(cfg_t *root)
{
    if (zs_conf_build_globals(root) == -1 || zs_conf_build_pools(root) == -1 || zs_conf_build_apps(root) == -1
        || zs_conf_build_servers(root) == -1 || zs_conf_build_listeners() == -1 || zs_conf_check_wsgi() == -1)
        return;
    zs_conf_load_mime_types(root);
}

static int
set_main_file(struct zs_config *conf, const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) {
        zs_conf_error_add(path, 0, "finding the current directory failed: %s", strerror(errno));
        return -1;
    }
    conf->conf_file = zs_conf_path_resolve(cwd, path);
    if (conf->conf_file == NULL || (conf->conf_dir = zs_conf_path_dirname(conf->conf_file)) == NULL)
        return zs_conf_out_of_memory();
    if (zs_conf_file_intern(conf->conf_file) == NULL)
        return zs_conf_out_of_memory();
    return 0;
}

static void
parse_and_build(struct zs_config *conf)
{
    cfg_t *root = cfg_init(zs_conf_root_opts, CFGF_NONE);
    char *text;
    size_t len;

    if (root == NULL) {
        zs_conf_out_of_memory();
        return;
    }
    cfg_set_error_function(root, confuse_error);
    text = zs_conf_read_file(conf->conf_file, &len);
    if (text == NULL)
        zs_conf_error_add(conf->conf_file, 0, "open failed: %s", strerror(errno));
    else if (zs_conf_parse_text(root, conf->files[0], text, len) == 0)
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
    if (zs_conf_loading->pending_count > 0)
        qsort(zs_conf_loading->errors, zs_conf_loading->pending_count, sizeof(*zs_conf_loading->errors),
              compare_errors);
    for (size_t i = 0; i < zs_conf_loading->pending_count; i++) {
        char *msg = zs_conf_loading->errors[i].err_msg;
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
    free(zs_conf_loading->errors);
}

struct zs_config *
zs_conf_load(const char *path, struct zs_conf_errors *errs)
{
    struct load_state state = { 0 };
    struct zs_config *conf = calloc(1, sizeof(*conf));

    zs_conf_loading = &state;
    state.conf = conf;
    if (conf == NULL)
        zs_conf_out_of_memory();
    else if (set_main_file(conf, path) == 0)
        parse_and_build(conf);
    for (size_t i = 0; i < state.use_count; i++)
        free(state.uses[i].use_lis.lis_addr);
    free(state.uses);
    free(state.pos);
    flush_errors(errs);
    zs_conf_loading = NULL;
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
    zs_conf_free_list(loc->loc_index, loc->loc_index_count);
    for (size_t i = 0; i < loc->loc_backend_count; i++)
        free(loc->loc_backends[i].be_addr);
    free(loc->loc_backends);
    pcre2_code_free(loc->loc_split_path_info);
    free(loc->loc_split_path_info_source);
    for (size_t i = 0; i < loc->loc_param_count; i++) {
        free(loc->loc_params[i].name);
        free(loc->loc_params[i].value);
    }
    free(loc->loc_params);
    free(loc->loc_wsgi_app);
    zs_conf_free_list(loc->loc_python_path, loc->loc_python_path_count);
    free(loc->loc_python_home);
}

static void
free_server(struct zs_server *srv)
{
    free(srv->srv_title);
    zs_conf_free_list(srv->srv_names, srv->srv_name_count);
    zs_conf_free_list(srv->srv_listen, srv->srv_listen_count);
    for (size_t i = 0; i < srv->srv_location_count; i++)
        free_location(&srv->srv_locations[i]);
    free(srv->srv_locations);
    free(srv->srv_access_log.al_path);
}

static void
free_app(struct zs_app *app)
{
    free(app->app_name);
    zs_conf_free_list(app->app_command, app->app_command_count);
    zs_conf_free_list(app->app_env, app->app_env_count);
    free(app->app_user);
    free(app->app_group);
    free(app->app_groups);
    free(app->app_socket);
    free(app->app_dir);
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
    for (size_t i = 0; i < conf->app_count; i++)
        free_app(&conf->apps[i]);
    free(conf->apps);
    zs_mime_free(conf->mime);
    free(conf->mime_types_file);
    free(conf->default_type);
    free(conf->user);
    free(conf->group);
    free(conf->pid_file);
    free(conf->error_log);
    free(conf->client_body_temp_path);
    free(conf->wsgi_module);
    free(conf->conf_file);
    free(conf->conf_dir);
    zs_conf_free_list(conf->files, conf->file_count);
    free(conf);
}

void
zs_conf_errors_clear(struct zs_conf_errors *errs)
{
    if (errs == NULL)
        return;
    zs_conf_free_list(errs->msgs, errs->count);
    errs->msgs = NULL;
    errs->count = 0;
}
