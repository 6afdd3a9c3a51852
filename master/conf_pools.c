/* Builds the global options, the pools with their users and groups, and the listeners of struct zs_config.
 * zs_conf_resolve_ids() serves the apps of conf_apps.c too. */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/defaults.h"
#include "lib/mime.h"
#include "master/conf_internal.h"

/* A value that goes into a response header must not end the header line. */
static bool
is_header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return false;
    return true;
}

int
zs_conf_build_globals(cfg_t *root)
{
    struct zs_config *conf = zs_conf_loading->conf;
    const char *error_log = cfg_getstr(root, "error_log");

    conf->user = zs_conf_strdup(cfg_getstr(root, "user"));
    conf->group = zs_conf_strdup(cfg_getstr(root, "group"));
    conf->pid_file = zs_conf_path(cfg_getstr(root, "pid_file"));
    if (strcmp(error_log, "stderr") == 0 || strcmp(error_log, "syslog") == 0)
        conf->error_log = zs_conf_strdup(error_log);
    else
        conf->error_log = zs_conf_path(error_log);
    conf->log_level = (int)cfg_getint(root, "log_level");
    conf->header_timeout = (int)cfg_getint(root, "client_header_timeout");
    conf->body_timeout = (int)cfg_getint(root, "client_body_timeout");
    conf->keepalive_timeout = (int)cfg_getint(root, "keepalive_timeout");
    conf->send_timeout = (int)cfg_getint(root, "send_timeout");
    conf->shutdown_timeout = (int)cfg_getint(root, "shutdown_timeout");
    conf->keepalive_requests = (int)cfg_getint(root, "keepalive_requests");
    conf->backend_connect_timeout = (int)cfg_getint(root, "backend_connect_timeout");
    conf->backend_read_timeout = (int)cfg_getint(root, "backend_read_timeout");
    conf->client_body_temp_path = zs_conf_path(cfg_getstr(root, "client_body_temp_path"));
    if (conf->client_body_temp_path != NULL)
        zs_conf_check_directory(root, "client_body_temp_path", "", conf->client_body_temp_path);
    conf->mime_types_file = zs_conf_path(cfg_getstr(root, "mime_types"));
    conf->default_type = zs_conf_strdup(cfg_getstr(root, "default_type"));
    if (conf->default_type != NULL && !is_header_safe(conf->default_type))
        zs_conf_opt_error(root, "default_type", "default_type: invalid media type (it contains control characters)");
    if (conf->user == NULL || conf->group == NULL || conf->pid_file == NULL || conf->error_log == NULL
        || conf->client_body_temp_path == NULL || conf->mime_types_file == NULL || conf->default_type == NULL)
        return -1;
    return 0;
}

/* Lists the user's supplementary groups now, so that a worker sets them with
 * setgroups() and never loads the NSS modules that initgroups() would. The
 * lookup runs in a short-lived child: walking the group database touches
 * about 0.7 MiB of NSS code that would otherwise stay resident in the master. */
static void
resolve_groups(const char *user, gid_t gid, gid_t **out, int *out_count)
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
        if (getgrouplist(user, gid, groups, &n) == -1)
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
    *out = groups;
    *out_count = (int)(got / sizeof(gid_t));
}

/* Names are looked up only when the master runs as root, because any other
 * master runs its workers and apps as itself. */
bool
zs_conf_resolve_ids(const char *user, const char *group, const cfg_t *user_sec, const cfg_t *group_sec,
                    uid_t *uid, gid_t *gid, gid_t **groups, int *group_count)
{
    struct passwd *pw;
    struct group *gr;

    *uid = geteuid();
    *gid = getegid();
    if (geteuid() != 0)
        return false;
    pw = getpwnam(user);
    if (pw == NULL)
        zs_conf_opt_error(user_sec, "user", "unknown user '%s'", user);
    else
        *uid = pw->pw_uid;
    gr = getgrnam(group);
    if (gr == NULL)
        zs_conf_opt_error(group_sec, "group", "unknown group '%s'", group);
    else
        *gid = gr->gr_gid;
    if (pw != NULL && gr != NULL)
        resolve_groups(user, *gid, groups, group_count);
    return pw != NULL;
}

static void
resolve_pool_ids(struct zs_pool *pool, cfg_t *pool_sec, cfg_t *root)
{
    cfg_t *user_sec = pool_sec != NULL && cfg_getstr(pool_sec, "user") != NULL ? pool_sec : root;
    cfg_t *group_sec = pool_sec != NULL && cfg_getstr(pool_sec, "group") != NULL ? pool_sec : root;

    if (zs_conf_resolve_ids(pool->pool_user, pool->pool_group, user_sec, group_sec, &pool->pool_uid,
                            &pool->pool_gid, &pool->pool_groups, &pool->pool_group_count)
        && pool->pool_uid == 0 && !pool->pool_allow_root)
        zs_conf_opt_error(pool_sec != NULL ? pool_sec : root, pool_sec != NULL ? SECTION_START : "user",
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

    pool->pool_name = zs_conf_strdup(pool_sec != NULL ? cfg_title(pool_sec) : "default");
    pool->pool_user = zs_conf_strdup(user != NULL ? user : cfg_getstr(root, "user"));
    pool->pool_group = zs_conf_strdup(group != NULL ? group : cfg_getstr(root, "group"));
    if (pool->pool_name == NULL || pool->pool_user == NULL || pool->pool_group == NULL)
        return -1;
    if (pool_sec != NULL) {
        zs_conf_section_where(pool_sec, &pool->pool_file, &pool->pool_line);
        pool->pool_allow_root = cfg_getbool(pool_sec, "allow_root");
        pool->pool_max_requests = cfg_getint(pool_sec, "max_requests");
        pool->pool_worker_connections = (int)cfg_getint(pool_sec, "worker_connections");
        pool->pool_wsgi_preload = cfg_getbool(pool_sec, "wsgi_preload");
    } else {
        pool->pool_file = zs_conf_loading->conf->conf_file;
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

int
zs_conf_build_pools(cfg_t *root)
{
    struct zs_config *conf = zs_conf_loading->conf;
    unsigned int n = cfg_size(root, "pool");
    bool has_default = false;

    conf->pools = calloc(n + 1, sizeof(*conf->pools));
    if (conf->pools == NULL)
        return zs_conf_out_of_memory();
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

struct zs_pool *
zs_conf_find_pool(const char *name)
{
    struct zs_config *conf = zs_conf_loading->conf;

    for (size_t i = 0; i < conf->pool_count; i++)
        if (strcmp(conf->pools[i].pool_name, name) == 0)
            return &conf->pools[i];
    return NULL;
}

static struct zs_listener *
find_listener(const char *addr)
{
    struct zs_config *conf = zs_conf_loading->conf;

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
            zs_conf_error_add(use->use_file, use->use_line, "server '%s': duplicate listen address %s",
                              srv->srv_title, lis->lis_addr);
            return;
        }
    }
    if (srv->srv_pool != NULL && lis->lis_pool != NULL && srv->srv_pool != lis->lis_pool) {
        zs_conf_error_add(use->use_file, use->use_line,
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
        zs_conf_error_add(use->use_default_file, use->use_default_line,
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
    struct zs_config *conf = zs_conf_loading->conf;

    for (size_t p = 0; p < conf->pool_count; p++) {
        struct zs_pool *pool = &conf->pools[p];

        pool->pool_listeners = calloc(conf->listener_count + 1, sizeof(*pool->pool_listeners));
        if (pool->pool_listeners == NULL)
            return zs_conf_out_of_memory();
        for (size_t i = 0; i < conf->listener_count; i++)
            if (conf->listeners[i].lis_pool == pool)
                pool->pool_listeners[pool->pool_listener_count++] = &conf->listeners[i];
    }
    return 0;
}

/* Merges equal listen addresses of all servers into conf->listeners. */
int
zs_conf_build_listeners(void)
{
    struct zs_config *conf = zs_conf_loading->conf;

    conf->listeners = calloc(zs_conf_loading->use_count + 1, sizeof(*conf->listeners));
    if (conf->listeners == NULL)
        return zs_conf_out_of_memory();
    for (size_t i = 0; i < zs_conf_loading->use_count; i++) {
        struct listen_use *use = &zs_conf_loading->uses[i];
        struct zs_listener *lis = find_listener(use->use_lis.lis_addr);

        if (lis == NULL) {
            lis = &conf->listeners[conf->listener_count++];
            *lis = use->use_lis;
            use->use_lis.lis_addr = NULL;
            /* Every use of this address may add one server. */
            lis->lis_servers = calloc(zs_conf_loading->use_count - i, sizeof(*lis->lis_servers));
            if (lis->lis_servers == NULL)
                return zs_conf_out_of_memory();
        }
        listener_add_server(lis, use);
    }
    return fill_pool_listeners();
}

void
zs_conf_load_mime_types(cfg_t *root)
{
    struct zs_config *conf = zs_conf_loading->conf;
    struct stat st;
    char err[4096];

    /* A missing file is reported at the option; a bad line at that line of the file. */
    if (stat(conf->mime_types_file, &st) == -1) {
        zs_conf_opt_error(root, "mime_types", "mime_types '%s': %s", conf->mime_types_file, strerror(errno));
        return;
    }
    conf->mime = zs_mime_load(conf->mime_types_file, err, sizeof(err));
    if (conf->mime == NULL)
        zs_conf_error_add(NULL, 0, "%s", err);
}
