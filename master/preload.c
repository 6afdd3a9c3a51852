/* Preloading (wsgi_preload = on): a loader process per pool and generation
 * imports the pool's applications once, then forks its workers, which share
 * the imported code and data copy-on-write.
 *
 * The loader is a child of the master that has dropped privileges like a
 * worker, so application code never runs as root. Each worker is forked
 * twice (loader, then a short-lived middle process that exits at once), and
 * the master is the child subreaper: the worker ends up the master's child,
 * supervised and reaped like any other. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "lib/channel.h"
#include "lib/log.h"
#include "lib/proctitle.h"
#include "master/master.h"
#include "worker/worker.h"

/* A Django project can take seconds to import on a loaded machine. */
#define LOADER_READY_TIMEOUT_MS 120000
#define LOADER_SPAWN_TIMEOUT_MS 10000

/* Waits for one message of len bytes. Returns 0, or -1 on timeout, error or end of file. */
static int
recv_timed(int fd, void *buf, size_t len, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    ssize_t n;
    int r;

    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r == -1 && errno == EINTR);
    if (r != 1)
        return -1;
    do {
        n = recv(fd, buf, len, 0);
    } while (n == -1 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

int
zs_loader_wait_ready(int fd, const char *pool_name)
{
    int32_t ok = 0;

    if (recv_timed(fd, &ok, sizeof(ok), LOADER_READY_TIMEOUT_MS) == -1) {
        zs_log_error("pool %s: the preloading process did not start (see its errors above)", pool_name);
        return -1;
    }
    if (ok != 1) {
        zs_log_error("pool %s: preloading the WSGI applications failed (see the errors above)", pool_name);
        return -1;
    }
    return 0;
}

pid_t
zs_loader_spawn(int fd, int channel, const char *pool_name)
{
    uint32_t slot = 0;
    int32_t pid = -1;

    if (zs_channel_send_fds(fd, &slot, &channel, 1) == -1
        || recv_timed(fd, &pid, sizeof(pid), LOADER_SPAWN_TIMEOUT_MS) == -1 || pid <= 0) {
        zs_log_error("pool %s: the preloading process did not start a worker", pool_name);
        return -1;
    }
    return (pid_t)pid;
}

/* The middle process: forks the worker, reports its pid to the master, and
 * exits, so that the worker is reparented to the master. */
static void
loader_fork_worker(const struct zs_config *conf, const struct zs_pool *pool, int fd, int channel)
{
    pid_t pid = fork();
    int32_t reply = (int32_t)pid;

    if (pid == 0) {
        close(fd);
        zs_log_set_role("worker");
        zs_proctitle_set("zserver: worker process (pool %s)", pool->pool_name);
        int status = zs_worker_main(conf, pool, channel);
#ifdef __SANITIZE_ADDRESS__
        __lsan_do_leak_check();
#endif
        _exit(status);
    }
    if (pid == -1)
        zs_log_syserr("pool %s: fork failed", pool->pool_name);
    if (send(fd, &reply, sizeof(reply), MSG_NOSIGNAL) == -1)
        zs_log_syserr("pool %s: reporting a new worker failed", pool->pool_name);
    _exit(0);
}

void
zs_loader_main(const struct zs_config *conf, const struct zs_pool *pool, int fd)
{
    int32_t ok = zs_modules_preload(conf, pool) == 0;

    if (send(fd, &ok, sizeof(ok), MSG_NOSIGNAL) == -1 || !ok)
        _exit(1);
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        uint32_t slot;
        int channel = -1;
        int eof = 0;
        ssize_t n;

        if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
            _exit(1);
        n = zs_channel_recv_fds(fd, &slot, &channel, 1, &eof);
        if (eof)
            _exit(0);            /* the master is gone, or this generation is over */
        if (n == 0)
            continue;
        if (n != 1)
            _exit(1);
        zs_modules_fork_prepare();
        pid_t middle = fork();
        if (middle == 0)
            loader_fork_worker(conf, pool, fd, channel);
        zs_modules_fork_parent();
        close(channel);
        if (middle == -1) {
            int32_t reply = -1;
            zs_log_syserr("pool %s: fork failed", pool->pool_name);
            send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
            continue;
        }
        while (waitpid(middle, NULL, 0) == -1 && errno == EINTR)
            ;
    }
}
