/* Builds a location's application handler from fastcgi_pass, scgi_pass, cgi or
 * wsgi_app, with fastcgi_split_path_info, the extra CGI variables, the
 * backend limits and the Python settings. */
#include "config.h"

#include <confuse.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/defaults.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

/*
 * Inheritance works by group, not by option. A location that sets any of
 * fastcgi_pass, scgi_pass, cgi and wsgi_app takes none of them from its server,
 * so `cgi = off` in a location serves static files under a server that sets
 * fastcgi_pass. Likewise a location that sets any of the three *_param
 * options replaces all of its server's parameters, as nginx does.
 */
static const char *const handler_names[] = { "fastcgi_pass", "scgi_pass", "cgi", "wsgi_app" };
static const char *const param_names[] = { "fastcgi_param", "scgi_param", "cgi_param" };

#define N_NAMES(names) (sizeof(names) / sizeof((names)[0]))

static bool
sets(cfg_t *sec, const char *name)
{
    return sec != NULL && (cfg_getopt(sec, name)->flags & CFGF_MODIFIED);
}

static bool
sets_any(cfg_t *sec, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (sets(sec, names[i]))
            return true;
    return false;
}

/* Tells whether an option selects a handler or sends the response itself: a
 * pass list that is set, cgi = on, or `return`. */
static bool
is_active(cfg_t *sec, const char *name)
{
    if (strcmp(name, "cgi") == 0)
        return cfg_getbool(sec, "cgi");
    if (strcmp(name, "return") == 0)
        return cfg_getstr(sec, "return") != NULL;
    return sets(sec, name);
}

/* Reports "fastcgi_pass and cgi cannot both be set", or "A, B and C cannot be
 * set together", at the line of the option set last. Only a location has
 * `return`, and asking libconfuse for an option that a section lacks is an error. */
static void
check_exclusive(cfg_t *sec, const char *what, bool has_return)
{
    static const char *const names[] = { "fastcgi_pass", "scgi_pass", "cgi", "wsgi_app", "return" };
    size_t count = has_return ? N_NAMES(names) : N_NAMES(names) - 1;
    const char *active[N_NAMES(names)];
    const char *last = NULL;
    int last_line = 0;
    char list[128] = "";
    size_t n = 0;

    for (size_t i = 0; i < count; i++) {
        const char *file;
        int line;

        if (!is_active(sec, names[i]))
            continue;
        active[n++] = names[i];
        zs_conf_opt_where(sec, names[i], &file, &line);
        if (last == NULL || line > last_line) {
            last = names[i];
            last_line = line;
        }
    }
    if (n == 2) {
        zs_conf_opt_error(sec, last, "%s: %s and %s cannot both be set", what, active[0], active[1]);
        return;
    }
    if (n < 2)
        return;
    for (size_t i = 0; i + 1 < n; i++) {
        strcat(list, active[i]);
        if (i + 2 < n)
            strcat(list, ", ");
    }
    zs_conf_opt_error(sec, last, "%s: %s and %s cannot be set together", what, list, active[n - 1]);
}

/* An empty list would leave a location with a handler and no backend, and an
 * "app:NAME" must name a declared app. libconfuse calls no callback for an
 * empty list, so that error has the line where the section starts. */
static void
check_backends(cfg_t *sec, const char *what, const char *name)
{
    unsigned int n = cfg_size(sec, name);
    struct zs_backend backend;
    char err[256];

    if (!sets(sec, name))
        return;
    if (n == 0)
        zs_conf_opt_error(sec, name, "%s: %s is an empty list (expected one or more addresses)", what, name);
    for (unsigned int i = 0; i < n; i++) {
        /* A bad address was reported while parsing. */
        if (zs_conf_parse_backend(cfg_getnstr(sec, name, i), &backend, err, sizeof(err)) == -1)
            continue;
        if (strncmp(backend.be_addr, "app:", 4) == 0 && zs_conf_find_app(backend.be_addr + 4) == NULL)
            zs_conf_opt_error(sec, name, "%s: unknown app '%s'", name, backend.be_addr + 4);
        free(backend.be_addr);
    }
}

static void
check_section(cfg_t *sec, const char *what, bool has_return)
{
    check_exclusive(sec, what, has_return);
    check_backends(sec, what, "fastcgi_pass");
    check_backends(sec, what, "scgi_pass");
}

void
zs_conf_check_server_handler(cfg_t *srv_sec, const char *srv_title)
{
    char what[512];

    snprintf(what, sizeof(what), "server '%s'", srv_title);
    check_section(srv_sec, what, false);
}

/* Sets be_sa to the unix socket of the app behind an "app:NAME" backend. */
static void
backend_use_app(struct zs_backend *backend, const struct zs_app *app)
{
    struct zs_listener lis;
    char addr[sizeof("unix:") + PATH_MAX];
    char err[256];

    backend->be_app = app;
    snprintf(addr, sizeof(addr), "unix:%s", app->app_socket);
    /* A socket path that does not fit was reported when the app was built. */
    if (zs_conf_parse_listen(addr, &lis, err, sizeof(err)) == -1)
        return;
    backend->be_sa = lis.lis_sa;
    backend->be_salen = lis.lis_salen;
    free(lis.lis_addr);
}

/* Fills loc_backends from a pass list that check_section() has checked:
 * entries it reported are left out.
 * NOTE: scgi_pass takes "app:NAME" as fastcgi_pass does, although struct
 * zs_app describes a FastCGI program. Whether an SCGI program can serve the
 * socket that the master binds depends on how the app supervisor hands it over. */
static int
build_backends(struct zs_location *loc, cfg_t *sec, const char *name)
{
    unsigned int n = cfg_size(sec, name);
    char err[256];

    loc->loc_backends = calloc(n + 1, sizeof(*loc->loc_backends));
    if (loc->loc_backends == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        struct zs_backend *backend = &loc->loc_backends[loc->loc_backend_count];
        const struct zs_app *app;

        if (zs_conf_parse_backend(cfg_getnstr(sec, name, i), backend, err, sizeof(err)) == -1)
            continue;
        loc->loc_backend_count++;
        if (strncmp(backend->be_addr, "app:", 4) != 0)
            continue;
        app = zs_conf_find_app(backend->be_addr + 4);
        if (app != NULL && app->app_socket != NULL)
            backend_use_app(backend, app);
    }
    return 0;
}

static int
build_params(struct zs_location *loc, cfg_t *sec)
{
    size_t n = 0;
    char err[512];

    for (size_t i = 0; i < N_NAMES(param_names); i++)
        n += cfg_size(sec, param_names[i]);
    loc->loc_params = calloc(n + 1, sizeof(*loc->loc_params));
    if (loc->loc_params == NULL)
        return zs_conf_out_of_memory();
    for (size_t i = 0; i < N_NAMES(param_names); i++) {
        for (unsigned int j = 0; j < cfg_size(sec, param_names[i]); j++) {
            const char *entry = cfg_getnstr(sec, param_names[i], j);
            struct zs_param *param = &loc->loc_params[loc->loc_param_count];
            size_t name_len;

            /* A bad entry was reported while parsing. */
            if (zs_conf_parse_param(entry, &name_len, err, sizeof(err)) == -1)
                continue;
            param->name = strndup(entry, name_len);
            param->value = strdup(entry + name_len + 1);
            if (param->name == NULL || param->value == NULL) {
                free(param->name);
                free(param->value);
                return zs_conf_out_of_memory();
            }
            loc->loc_param_count++;
        }
    }
    return 0;
}

static int
build_split_path_info(struct zs_location *loc, const char *source)
{
    char err[512];

    /* A bad expression was reported while parsing. */
    loc->loc_split_path_info = zs_conf_compile_split_path_info(source, err, sizeof(err));
    if (loc->loc_split_path_info == NULL)
        return 0;
    loc->loc_split_path_info_source = zs_conf_strdup(source);
    return loc->loc_split_path_info_source != NULL ? 0 : -1;
}

static bool
is_directory(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Python would start without the virtualenv, silently, from a python_home
 * it cannot use: a missing directory, or one made by another Python. */
static void
check_python_home_dir(cfg_t *sec, const char *home)
{
    char path[PATH_MAX];

    if (!is_directory(home)) {
        zs_conf_opt_error(sec, "python_home", "python_home '%s': no such directory", home);
        return;
    }
    snprintf(path, sizeof(path), "%s/pyvenv.cfg", home);
    if (access(path, F_OK) != 0) {
        zs_conf_opt_error(sec, "python_home", "python_home '%s' is not a virtualenv (no pyvenv.cfg): "
                          "make one with /usr/bin/python3 -m venv", home);
        return;
    }
#ifdef ZS_PYTHON_VERSION
    snprintf(path, sizeof(path), "%s/lib/python%s", home, ZS_PYTHON_VERSION);
    if (!is_directory(path))
        zs_conf_opt_error(sec, "python_home", "python_home '%s' belongs to another Python (no lib/python%s): "
                          "ZServer runs Python %s; make the virtualenv with /usr/bin/python3 -m venv",
                          home, ZS_PYTHON_VERSION, ZS_PYTHON_VERSION);
#endif
}

/* Paths of python_path and python_home are resolved against the main file's directory. */
static int
build_wsgi(struct zs_location *loc, cfg_t *handler_sec, cfg_t *loc_sec, cfg_t *srv_sec)
{
    cfg_t *path_sec = zs_conf_inherit_from(loc_sec, srv_sec, "python_path");
    cfg_t *home_sec = zs_conf_inherit_from(loc_sec, srv_sec, "python_home");
    cfg_t *timeout_sec = zs_conf_inherit_from(loc_sec, srv_sec, "wsgi_timeout");
    const char *home = cfg_getstr(home_sec, "python_home");
    unsigned int n = cfg_size(path_sec, "python_path");

    loc->loc_wsgi_timeout = (int)cfg_getint(timeout_sec, "wsgi_timeout");
    loc->loc_wsgi_app = zs_conf_strdup(cfg_getstr(handler_sec, "wsgi_app"));
    if (loc->loc_wsgi_app == NULL)
        return -1;
    if (home != NULL && (loc->loc_python_home = zs_conf_path(home)) == NULL)
        return zs_conf_out_of_memory();
    if (loc->loc_python_home != NULL)
        check_python_home_dir(home_sec, loc->loc_python_home);
    loc->loc_python_path = calloc(n + 1, sizeof(char *));
    if (loc->loc_python_path == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        loc->loc_python_path[i] = zs_conf_path(cfg_getnstr(path_sec, "python_path", i));
        if (loc->loc_python_path[i] == NULL)
            return zs_conf_out_of_memory();
        loc->loc_python_path_count++;
    }
    return 0;
}

int
zs_conf_build_handler(struct zs_location *loc, cfg_t *loc_sec, cfg_t *srv_sec)
{
    cfg_t *handler_sec = sets_any(loc_sec, handler_names, N_NAMES(handler_names)) ? loc_sec : srv_sec;
    cfg_t *param_sec = sets_any(loc_sec, param_names, N_NAMES(param_names)) ? loc_sec : srv_sec;
    cfg_t *split_sec = zs_conf_inherit_from(loc_sec, srv_sec, "fastcgi_split_path_info");
    const char *split = cfg_getstr(split_sec, "fastcgi_split_path_info");
    cfg_t *max_sec = zs_conf_inherit_from(loc_sec, srv_sec, "backend_max_requests");
    cfg_t *queue_sec = zs_conf_inherit_from(loc_sec, srv_sec, "backend_queue");
    cfg_t *keep_sec = zs_conf_inherit_from(loc_sec, srv_sec, "fastcgi_keep_conn");
    char what[512];

    if (loc_sec != NULL) {
        snprintf(what, sizeof(what), "location '%s'", loc->loc_title);
        check_section(loc_sec, what, true);
    }
    loc->loc_backend_max_requests = (int)cfg_getint(max_sec, "backend_max_requests");
    loc->loc_backend_queue = (int)cfg_getint(queue_sec, "backend_queue");
    loc->loc_fastcgi_keep_conn = cfg_getbool(keep_sec, "fastcgi_keep_conn");
    if (build_params(loc, param_sec) == -1)
        return -1;
    if (split != NULL && build_split_path_info(loc, split) == -1)
        return -1;
    /* `return` responds to every request of its location, whatever handler the server sets. */
    if (loc->loc_return_status != 0)
        return 0;
    if (sets(handler_sec, "fastcgi_pass")) {
        loc->loc_handler = ZS_HANDLER_FASTCGI;
        return build_backends(loc, handler_sec, "fastcgi_pass");
    }
    if (sets(handler_sec, "scgi_pass")) {
        loc->loc_handler = ZS_HANDLER_SCGI;
        return build_backends(loc, handler_sec, "scgi_pass");
    }
    if (sets(handler_sec, "wsgi_app")) {
        loc->loc_handler = ZS_HANDLER_WSGI;
        return build_wsgi(loc, handler_sec, loc_sec, srv_sec);
    }
    if (cfg_getbool(handler_sec, "cgi"))
        loc->loc_handler = ZS_HANDLER_CGI;
    return 0;
}

/* ---- WSGI ---- */

/* Where the WSGI module is looked for: beside the running binary, so that a
 * build tree runs as it is, then where `make install` puts it. */
static char *
find_wsgi_module(char *tried, size_t tried_size)
{
    char exe[PATH_MAX];
    char *path = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    tried[0] = '\0';
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        if (asprintf(&path, "%s/%s", exe, ZS_WSGI_MODULE_NAME) == -1)
            return NULL;
        if (access(path, R_OK) == 0)
            return path;
        snprintf(tried, tried_size, "%s, ", path);
        free(path);
    }
    if (asprintf(&path, "%s/%s", ZS_PKGLIBDIR, ZS_WSGI_MODULE_NAME) == -1)
        return NULL;
    if (access(path, R_OK) == 0)
        return path;
    strncat(tried, path, tried_size - strlen(tried) - 1);
    free(path);
    return NULL;
}

static bool
same_home(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The workers of a pool run one interpreter, so its WSGI locations must
 * agree on python_home. An application with its own virtualenv needs its own pool. */
static void
check_python_home(const struct zs_config *conf, const struct zs_location *loc, const struct zs_pool *pool)
{
    for (size_t i = 0; i < conf->server_count; i++) {
        const struct zs_server *srv = &conf->servers[i];
        if (srv->srv_pool != pool)
            continue;
        for (size_t j = 0; j < srv->srv_location_count; j++) {
            const struct zs_location *other = &srv->srv_locations[j];
            if (other == loc)
                return;
            if (other->loc_handler != ZS_HANDLER_WSGI || same_home(other->loc_python_home, loc->loc_python_home))
                continue;
            zs_conf_error_add(loc->loc_file, loc->loc_line,
                              "location '%s': python_home '%s' differs from '%s' of location '%s' (%s:%d): "
                              "the workers of pool '%s' run one Python interpreter; give each virtualenv a pool",
                              loc->loc_title, loc->loc_python_home ? loc->loc_python_home : "(none)",
                              other->loc_python_home ? other->loc_python_home : "(none)", other->loc_title,
                              other->loc_file, other->loc_line, pool->pool_name);
            return;
        }
    }
}

int
zs_conf_check_wsgi(void)
{
    struct zs_config *conf = zs_conf_loading->conf;
    const struct zs_location *first = NULL;
    char tried[2 * PATH_MAX];

    for (size_t i = 0; i < conf->server_count; i++) {
        const struct zs_server *srv = &conf->servers[i];
        for (size_t j = 0; j < srv->srv_location_count; j++) {
            const struct zs_location *loc = &srv->srv_locations[j];
            if (loc->loc_handler != ZS_HANDLER_WSGI)
                continue;
            if (first == NULL)
                first = loc;
            check_python_home(conf, loc, srv->srv_pool);
        }
    }
    if (first == NULL)
        return 0;
    conf->wsgi_module = find_wsgi_module(tried, sizeof(tried));
    if (conf->wsgi_module == NULL)
        zs_conf_error_add(first->loc_file, first->loc_line,
                          "location '%s': wsgi_app needs the WSGI module, which is not installed (looked for %s); "
                          "build ZServer with the Debian package libpython3-dev installed",
                          first->loc_title, tried);
    return 0;
}
