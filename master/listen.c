/* Listening sockets: opened once by the master and kept across reloads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/defaults.h"
#include "lib/log.h"
#include "master/master.h"

/* Removes a socket file left by a previous run, but only when no process
 * accepts on it, so that a live socket of another server stays. */
static int
unix_socket_remove_stale(const struct zs_listener *lis)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&lis->lis_sa;
    struct stat st;

    if (lstat(sun->sun_path, &st) == -1 || !S_ISSOCK(st.st_mode))
        return 0;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe == -1)
        return -1;
    int r = connect(probe, (const struct sockaddr *)sun, lis->lis_salen);
    int err = errno;
    close(probe);
    if (r == 0) {
        errno = EADDRINUSE;
        return -1;
    }
    if (err == ECONNREFUSED)
        unlink(sun->sun_path);
    return 0;
}

static int
listener_bind(struct zs_listener *lis)
{
    int family = lis->lis_sa.ss_family;
    int one = 1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step = "socket";

    if (fd == -1)
        goto fail;
    if (family == AF_UNIX) {
        step = "remove stale socket";
        if (unix_socket_remove_stale(lis) == -1)
            goto fail;
    } else {
        step = "setsockopt SO_REUSEADDR";
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
            goto fail;
        step = "setsockopt IPV6_V6ONLY";
        if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
            goto fail;
        /* HTTP clients speak first: a connection wakes a worker once its
         * request has arrived, not once for the handshake and again for the
         * data. With Connection: close this cut context switches eightfold. */
        step = "setsockopt TCP_DEFER_ACCEPT";
        if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) == -1)
            goto fail;
    }
    step = "bind";
    if (bind(fd, (struct sockaddr *)&lis->lis_sa, lis->lis_salen) == -1)
        goto fail;
    if (family == AF_UNIX) {
        step = "chmod";
        if (chmod(((struct sockaddr_un *)&lis->lis_sa)->sun_path, 0666) == -1)
            goto fail;
    }
    step = "listen";
    if (listen(fd, ZS_LISTEN_BACKLOG) == -1)
        goto fail;
    lis->lis_fd = fd;
    return 0;

fail:
    zs_log_syserr("listen %s: %s failed", lis->lis_addr, step);
    if (fd != -1)
        close(fd);
    return -1;
}

static struct zs_listener *
listener_find(struct zs_config *conf, const char *addr)
{
    if (conf == NULL)
        return NULL;
    for (size_t i = 0; i < conf->listener_count; i++)
        if (conf->listeners[i].lis_fd != -1 && strcmp(conf->listeners[i].lis_addr, addr) == 0)
            return &conf->listeners[i];
    return NULL;
}

int
zs_listeners_open(struct zs_config *conf, struct zs_config *old)
{
    for (size_t i = 0; i < conf->listener_count; i++) {
        struct zs_listener *lis = &conf->listeners[i];
        struct zs_listener *prev = listener_find(old, lis->lis_addr);

        if (prev != NULL) {
            lis->lis_fd = prev->lis_fd;
            prev->lis_fd = -1;
            continue;
        }
        if (listener_bind(lis) == -1)
            goto fail;
    }
    return 0;

fail:
    /* Give taken-over sockets back so that the old configuration keeps them. */
    for (size_t i = 0; i < conf->listener_count; i++) {
        struct zs_listener *lis = &conf->listeners[i];
        if (lis->lis_fd == -1)
            continue;
        struct zs_listener *prev = NULL;
        for (size_t j = 0; old != NULL && j < old->listener_count; j++)
            if (old->listeners[j].lis_fd == -1 && strcmp(old->listeners[j].lis_addr, lis->lis_addr) == 0)
                prev = &old->listeners[j];
        if (prev != NULL)
            prev->lis_fd = lis->lis_fd;
        else
            close(lis->lis_fd);
        lis->lis_fd = -1;
    }
    return -1;
}

void
zs_listeners_close(struct zs_config *conf, bool unlink_paths)
{
    for (size_t i = 0; i < conf->listener_count; i++) {
        struct zs_listener *lis = &conf->listeners[i];
        if (lis->lis_fd == -1)
            continue;
        close(lis->lis_fd);
        lis->lis_fd = -1;
        if (unlink_paths && lis->lis_sa.ss_family == AF_UNIX)
            unlink(((struct sockaddr_un *)&lis->lis_sa)->sun_path);
    }
}
