/* Builds the `app` sections: FastCGI programs that the master runs on a unix socket of its own. */
#include "config.h"

#include <confuse.h>
#include <errno.h>
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

const struct zs_app *
zs_conf_find_app(const char *name)
{
    const struct zs_config *conf = zs_conf_loading->conf;

    for (size_t i = 0; i < conf->app_count; i++)
        if (strcmp(conf->apps[i].app_name, name) == 0)
            return &conf->apps[i];
    return NULL;
}

/* The program is checked when the configuration loads, so that `zserver -t`
 * finds a typo in its path. */
static void
check_command(const struct zs_app *app, cfg_t *sec)
{
    const char *program = app->app_command[0];
    struct stat st;

    if (program[0] != '/')
        zs_conf_opt_error(sec, "command", "app '%s': command '%s': the program must be an absolute path",
                          app->app_name, program);
    else if (stat(program, &st) == -1)
        zs_conf_opt_error(sec, "command", "app '%s': command '%s': %s", app->app_name, program, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        zs_conf_opt_error(sec, "command", "app '%s': command '%s': not a regular file", app->app_name, program);
    else if ((st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0)
        zs_conf_opt_error(sec, "command", "app '%s': command '%s': not executable", app->app_name, program);
}

static int
build_command(struct zs_app *app, cfg_t *sec)
{
    if (zs_conf_copy_list(sec, "command", &app->app_command, &app->app_command_count) == -1)
        return -1;
    if (app->app_command_count == 0)
        zs_conf_opt_error(sec, "command", "app '%s': command is not set", app->app_name);
    else
        check_command(app, sec);
    return 0;
}

/* Copies env, then adds PATH unless env sets it: the programs inherit nothing
 * from the master's environment. */
static int
build_env(struct zs_app *app, cfg_t *sec)
{
    unsigned int n = cfg_size(sec, "env");
    bool has_path = false;
    char err[512];

    app->app_env = calloc(n + 2, sizeof(*app->app_env));
    if (app->app_env == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n; i++) {
        const char *entry = cfg_getnstr(sec, "env", i);
        size_t name_len;

        /* A bad entry was reported while parsing. */
        if (zs_conf_parse_param(entry, &name_len, err, sizeof(err)) == -1)
            continue;
        for (size_t j = 0; j < app->app_env_count; j++)
            if (strncmp(app->app_env[j], entry, name_len + 1) == 0)
                zs_conf_opt_error(sec, "env", "app '%s': env: variable '%.*s' is set twice", app->app_name,
                                  (int)name_len, entry);
        has_path = has_path || (name_len == 4 && strncmp(entry, "PATH", 4) == 0);
        app->app_env[app->app_env_count] = zs_conf_strdup(entry);
        if (app->app_env[app->app_env_count] == NULL)
            return -1;
        app->app_env_count++;
    }
    if (has_path)
        return 0;
    app->app_env[app->app_env_count] = zs_conf_strdup(ZS_APP_PATH);
    if (app->app_env[app->app_env_count] == NULL)
        return -1;
    app->app_env_count++;
    return 0;
}

/* Tells whether a listen address names the unix socket at path (normalised). */
static bool
listen_is_socket(const char *listen, const char *path)
{
    char *listen_path;
    bool same;

    if (strncmp(listen, "unix:/", 6) != 0)
        return false;
    listen_path = zs_conf_path_resolve("/", listen + 5);
    same = listen_path != NULL && strcmp(listen_path, path) == 0;
    free(listen_path);
    return same;
}

/* Reports a socket that is also the socket of an app built before this one,
 * or a unix listen address of a server: the master binds each path once. */
static void
check_socket_unique(const struct zs_app *app, cfg_t *sec, cfg_t *root)
{
    const struct zs_config *conf = zs_conf_loading->conf;

    for (size_t i = 0; i < conf->app_count; i++) {
        if (conf->apps[i].app_socket != NULL && strcmp(conf->apps[i].app_socket, app->app_socket) == 0)
            zs_conf_opt_error(sec, "socket", "app '%s': socket '%s' is also the socket of app '%s'",
                              app->app_name, app->app_socket, conf->apps[i].app_name);
    }
    for (unsigned int i = 0; i < cfg_size(root, "server"); i++) {
        cfg_t *srv_sec = cfg_getnsec(root, "server", i);

        for (unsigned int j = 0; j < cfg_size(srv_sec, "listen"); j++)
            if (listen_is_socket(cfg_getnstr(srv_sec, "listen", j), app->app_socket))
                zs_conf_opt_error(sec, "socket", "app '%s': socket '%s' is also a listen address of server '%s'",
                                  app->app_name, app->app_socket, cfg_title(srv_sec));
    }
}

/* The default socket is /run/zserver/app-NAME.sock when the master runs as
 * root, else app-NAME.sock beside the pid file, because the master must be
 * able to write to that directory anyway. */
static char *
default_socket(const char *name)
{
    const struct zs_config *conf = zs_conf_loading->conf;
    char *dir = geteuid() == 0 ? zs_conf_strdup(ZS_APP_SOCKET_DIR) : zs_conf_path_dirname(conf->pid_file);
    char *path = NULL;

    if (dir != NULL && asprintf(&path, "%s/app-%s.sock", dir, name) == -1)
        path = NULL;
    free(dir);
    if (path == NULL)
        zs_conf_out_of_memory();
    return path;
}

static int
build_socket(struct zs_app *app, cfg_t *sec, cfg_t *root)
{
    const char *socket = cfg_getstr(sec, "socket");
    struct zs_listener lis;
    char addr[sizeof("unix:") + PATH_MAX];
    char err[256];

    if (socket != NULL && socket[0] != '/') {
        zs_conf_opt_error(sec, "socket", "app '%s': socket '%s': the socket path must be absolute", app->app_name,
                          socket);
        return 0;
    }
    app->app_socket = socket != NULL ? zs_conf_path(socket) : default_socket(app->app_name);
    if (app->app_socket == NULL)
        return -1;
    snprintf(addr, sizeof(addr), "unix:%s", app->app_socket);
    if (zs_conf_parse_listen(addr, &lis, err, sizeof(err)) == -1) {
        if (socket != NULL)
            zs_conf_opt_error(sec, "socket", "app '%s': socket '%s': %s", app->app_name, app->app_socket, err);
        else
            zs_conf_opt_error(sec, "socket", "app '%s': default socket '%s': %s (set socket to a shorter path)",
                              app->app_name, app->app_socket, err);
        return 0;
    }
    free(lis.lis_addr);
    check_socket_unique(app, sec, root);
    return 0;
}

static void
resolve_app_ids(struct zs_app *app, cfg_t *sec, cfg_t *root)
{
    cfg_t *user_sec = cfg_getstr(sec, "user") != NULL ? sec : root;
    cfg_t *group_sec = cfg_getstr(sec, "group") != NULL ? sec : root;

    if (zs_conf_resolve_ids(app->app_user, app->app_group, user_sec, group_sec, &app->app_uid, &app->app_gid,
                            &app->app_groups, &app->app_group_count)
        && app->app_uid == 0 && !app->app_allow_root)
        zs_conf_opt_error(sec, SECTION_START, "app '%s': refusing to run as root; set allow_root = true to allow it",
                          app->app_name);
}

static int
build_app(struct zs_app *app, cfg_t *sec, cfg_t *root)
{
    const char *user = cfg_getstr(sec, "user");
    const char *group = cfg_getstr(sec, "group");
    const char *dir = cfg_getstr(sec, "directory");
    char err[256];

    app->app_fd = -1;
    app->app_name = zs_conf_strdup(cfg_title(sec));
    app->app_user = zs_conf_strdup(user != NULL ? user : cfg_getstr(root, "user"));
    app->app_group = zs_conf_strdup(group != NULL ? group : cfg_getstr(root, "group"));
    if (app->app_name == NULL || app->app_user == NULL || app->app_group == NULL)
        return -1;
    zs_conf_section_where(sec, &app->app_file, &app->app_line);
    if (zs_conf_check_app_name(app->app_name, err, sizeof(err)) == -1)
        zs_conf_error_add(app->app_file, app->app_line, "%s", err);
    app->app_processes = (int)cfg_getint(sec, "processes");
    app->app_allow_root = cfg_getbool(sec, "allow_root");
    if (build_command(app, sec) == -1 || build_env(app, sec) == -1 || build_socket(app, sec, root) == -1)
        return -1;
    if (dir != NULL) {
        char prefix[512];

        app->app_dir = zs_conf_path(dir);
        if (app->app_dir == NULL)
            return -1;
        snprintf(prefix, sizeof(prefix), "app '%s': ", app->app_name);
        zs_conf_check_directory(sec, "directory", prefix, app->app_dir);
    }
    resolve_app_ids(app, sec, root);
    return 0;
}

int
zs_conf_build_apps(cfg_t *root)
{
    struct zs_config *conf = zs_conf_loading->conf;
    unsigned int n = cfg_size(root, "app");

    conf->apps = calloc(n + 1, sizeof(*conf->apps));
    if (conf->apps == NULL)
        return zs_conf_out_of_memory();
    /* app_count counts only finished apps, so that check_socket_unique() compares with those. */
    for (unsigned int i = 0; i < n; i++) {
        struct zs_app *app = &conf->apps[i];
        int rc = build_app(app, cfg_getnsec(root, "app", i), root);

        conf->app_count++;
        if (rc == -1)
            return -1;
    }
    return 0;
}
