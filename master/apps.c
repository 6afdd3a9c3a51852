/* Managed FastCGI applications: the master binds each app's unix socket and
 * starts its processes with the socket as their standard input, which is
 * where FastCGI programs look for their listening socket (FastCGI
 * Specification 1.0, section 2.2: FCGI_LISTENSOCK_FILENO is 0). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/defaults.h"
#include "lib/log.h"
#include "master/master.h"

/* Removes the socket file a previous run or generation left. The pid file
 * check keeps a second master away, so a listener there is this server's
 * own earlier app: it keeps its connections, and new ones reach the socket
 * bound anew under the same name. Anything but a socket is left alone. */
static int
app_socket_remove_old(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == -1)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    return unlink(path);
}

/* The socket's directory is created for the default location under /run. */
static int
app_socket_dir(const char *path)
{
    char *dir = strdup(path);

    if (dir == NULL)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
            free(dir);
            return -1;
        }
    }
    free(dir);
    return 0;
}

static int
app_bind(struct zs_app *app)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(app->app_socket) + 1);
    const char *step = "socket";
    int fd = -1;

    if (strlen(app->app_socket) >= sizeof(sun.sun_path)) {
        zs_log_error("app %s: socket path %s is too long", app->app_name, app->app_socket);
        return -1;
    }
    strcpy(sun.sun_path, app->app_socket);
    step = "create socket directory";
    if (app_socket_dir(app->app_socket) == -1)
        goto fail;
    step = "remove old socket";
    if (app_socket_remove_old(app->app_socket) == -1)
        goto fail;
    step = "socket";
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        goto fail;
    step = "bind";
    if (bind(fd, (struct sockaddr *)&sun, len) == -1)
        goto fail;
    /* Only the workers (their group) and the app itself may connect: any
     * other local user could otherwise run scripts as the app's user. */
    step = "chown";
    if (geteuid() == 0 && chown(app->app_socket, app->app_uid, app->app_socket_gid) == -1)
        goto fail;
    step = "chmod";
    if (chmod(app->app_socket, geteuid() == 0 ? 0660 : 0600) == -1)
        goto fail;
    step = "listen";
    if (listen(fd, ZS_LISTEN_BACKLOG) == -1)
        goto fail;
    app->app_fd = fd;
    return 0;

fail:
    zs_log_syserr("app %s: %s %s failed", app->app_name, step, app->app_socket);
    if (fd != -1)
        close(fd);
    return -1;
}

/* The group of the first pool whose workers pass requests to the app.
 * NOTE: workers of a pool with another group cannot connect to it. */
static gid_t
app_client_gid(const struct zs_config *conf, const struct zs_app *app)
{
    for (size_t s = 0; s < conf->server_count; s++) {
        const struct zs_server *srv = &conf->servers[s];
        for (size_t l = 0; l < srv->srv_location_count; l++) {
            const struct zs_location *loc = &srv->srv_locations[l];
            for (size_t b = 0; b < loc->loc_backend_count; b++)
                if (loc->loc_backends[b].be_app == app)
                    return srv->srv_pool->pool_gid;
        }
    }
    return app->app_gid;
}

/* TODO: while an app has no process running (crash loop, back-off), its
 * socket stays bound, so requests wait backend_read_timeout and get 504
 * instead of a fast 502. */
int
zs_apps_open(struct zs_config *conf)
{
    for (size_t i = 0; i < conf->app_count; i++)
        conf->apps[i].app_socket_gid = app_client_gid(conf, &conf->apps[i]);
    for (size_t i = 0; i < conf->app_count; i++) {
        if (app_bind(&conf->apps[i]) == -1) {
            zs_apps_close(conf, true);
            return -1;
        }
    }
    return 0;
}

void
zs_apps_close(struct zs_config *conf, bool unlink_paths)
{
    for (size_t i = 0; i < conf->app_count; i++) {
        struct zs_app *app = &conf->apps[i];
        if (app->app_fd == -1)
            continue;
        close(app->app_fd);
        app->app_fd = -1;
        if (unlink_paths)
            unlink(app->app_socket);
    }
}

static int
app_drop_privileges(const struct zs_app *app)
{
    if (geteuid() != 0)
        return 0;
    if (setgroups((size_t)app->app_group_count, app->app_groups) == -1
        || setresgid(app->app_gid, app->app_gid, app->app_gid) == -1
        || setresuid(app->app_uid, app->app_uid, app->app_uid) == -1) {
        zs_log_syserr("app %s: dropping privileges to user %s failed", app->app_name,
                      app->app_user != NULL ? app->app_user : "-");
        return -1;
    }
    return 0;
}

/* Runs in the child: never returns. */
static void __attribute__((noreturn))
app_exec(const struct zs_app *app)
{
    sigset_t none;
    struct sigaction dfl = { .sa_handler = SIG_DFL };

    setsid();
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dup2(app->app_fd, 0) == -1 || (null != -1 && dup2(null, 1) == -1)) {
        zs_log_syserr("app %s: setting up standard input failed", app->app_name);
        _exit(127);
    }
    /* stderr goes to the error log file, or stays the terminal with -f. */
    if (zs_log_fd() > 2)
        dup2(zs_log_fd(), 2);
    if (app_drop_privileges(app) == -1)
        _exit(127);
    if (chdir(app->app_dir != NULL ? app->app_dir : "/") == -1) {
        zs_log_syserr("app %s: cannot change to directory %s", app->app_name,
                      app->app_dir != NULL ? app->app_dir : "/");
        _exit(127);
    }
    /* app_env is the programs' whole environment, PATH included. */
    execve(app->app_command[0], app->app_command, app->app_env);
    zs_log_syserr("app %s: cannot execute %s", app->app_name, app->app_command[0]);
    _exit(127);
}

pid_t
zs_app_spawn(const struct zs_app *app)
{
    pid_t pid = fork();

    if (pid == -1) {
        zs_log_syserr("app %s: fork failed", app->app_name);
        return -1;
    }
    if (pid == 0)
        app_exec(app);
    zs_log_info("app %s: started process %d", app->app_name, (int)pid);
    return pid;
}
