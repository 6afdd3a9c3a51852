/* Worker process: the event loop, accepting connections, and messages from the master. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/log.h"
#include "worker/accesslog.h"
#include "worker/filecache.h"
#include "worker/worker.h"

#define ACCEPT_BATCH 32
#define SWEEP_INTERVAL 0.5
/* A draining worker leaves idle connections open this long: a client whose
 * connection was accepted just before the drain began has sent, or is about
 * to send, a request that closing the connection unread would reset. */
#define DRAIN_GRACE 1.0

struct zs_worker zs_w;
static ev_tstamp drain_started;

static void worker_stop_accepting(void);

static void
accept_ready(const struct zs_listener *lis)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);

        /* The connection just accepted may have reached max_requests,
         * and draining closes the listening sockets. */
        if (zs_w.draining)
            return;

        if (zs_w.conn_count >= (unsigned)zs_w.pool->pool_worker_connections) {
            zs_log_warn("pool %s: worker_connections limit of %d reached",
                        zs_w.pool->pool_name, zs_w.pool->pool_worker_connections);
            worker_stop_accepting();
            return;
        }
        int fd = accept4(lis->lis_fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return;
            zs_log_syserr("listen %s: accept failed", lis->lis_addr);
            return;
        }
        zs_conn_accept(fd, lis, (struct sockaddr *)&sa);
    }
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct epoll_event evs[16];

    int n = epoll_wait(zs_w.accept_epfd, evs, 16, 0);
    for (int i = 0; i < n && !zs_w.draining; i++)
        accept_ready(zs_w.pool->pool_listeners[evs[i].data.u32]);
}

/* Listening sockets sit in an epoll set of their own with EPOLLEXCLUSIVE, so a
 * new connection wakes one worker instead of all of them. A worker that stops
 * accepting removes them from the set, so that no wake-up is spent on it. */
static int
worker_accept_enable(bool enable)
{
    if (enable == zs_w.accepting)
        return 0;
    for (size_t i = 0; i < zs_w.pool->pool_listener_count; i++) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i };
        const struct zs_listener *lis = zs_w.pool->pool_listeners[i];
        int op = enable ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;

        if (epoll_ctl(zs_w.accept_epfd, op, lis->lis_fd, &ev) == -1) {
            zs_log_syserr("listen %s: epoll_ctl failed", lis->lis_addr);
            return -1;
        }
    }
    zs_w.accepting = enable;
    return 0;
}

static int
worker_listen_setup(void)
{
    zs_w.accept_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (zs_w.accept_epfd == -1) {
        zs_log_syserr("epoll_create1 failed");
        return -1;
    }
    ev_io_init(&zs_w.accept_io, accept_cb, zs_w.accept_epfd, EV_READ);
    ev_io_start(zs_w.loop, &zs_w.accept_io);
    return worker_accept_enable(true);
}

static void
worker_stop_accepting(void)
{
    worker_accept_enable(false);
}

/* A listening socket refuses connections only once every process has closed
 * it. The master closes its own copy on shutdown and keeps it on reload for
 * the next generation. */
static void
worker_listeners_close(void)
{
    for (size_t i = 0; i < zs_w.pool->pool_listener_count; i++)
        close(zs_w.pool->pool_listeners[i]->lis_fd);
}

static void
worker_exit_if_idle(void)
{
    if (zs_w.draining && zs_w.conn_count == 0)
        ev_break(zs_w.loop, EVBREAK_ALL);
}

/* Graceful stop: accept nothing more, respond to requests in flight with
 * "Connection: close", and let the sweep close idle connections once
 * DRAIN_GRACE has passed. */
static void
worker_drain(void)
{
    if (zs_w.draining)
        return;
    zs_w.draining = true;
    drain_started = ev_now(zs_w.loop);
    worker_stop_accepting();
    ev_io_stop(zs_w.loop, &zs_w.accept_io);
    worker_listeners_close();
    ev_io_stop(zs_w.loop, &zs_w.channel_io);
    worker_exit_if_idle();
}

void
zs_worker_conn_closed(void)
{
    zs_w.conn_count--;
    if (!zs_w.accepting && !zs_w.draining)
        worker_accept_enable(true);
    worker_exit_if_idle();
}

void
zs_worker_request_done(void)
{
    zs_w.requests++;
    if (zs_w.pool->pool_max_requests > 0 && zs_w.requests >= (unsigned long)zs_w.pool->pool_max_requests
        && !zs_w.draining) {
        zs_log_info("pool %s: max_requests of %ld reached, worker exits", zs_w.pool->pool_name,
                    zs_w.pool->pool_max_requests);
        worker_drain();
    }
}

static void
sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_tstamp now = ev_now(loop);

    zs_resp_date_update(now);
    zs_conn_sweep(now);
    zs_filecache_expire(now);
    if (zs_w.draining && now - drain_started >= DRAIN_GRACE)
        zs_conn_drain_idle();
    zs_accesslog_flush_all();
    worker_exit_if_idle();
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    if (w->signum == SIGQUIT) {
        zs_log_info("graceful stop requested");
        worker_drain();
        return;
    }
    zs_conn_close_all();
    ev_break(loop, EVBREAK_ALL);
}

/* The master sends fresh log file descriptors after USR1; EOF means it died. */
static void
channel_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    uint32_t slots[ZS_CHANNEL_MAX_FDS];
    int fds[ZS_CHANNEL_MAX_FDS];
    int eof;
    ssize_t n = zs_channel_recv_fds(w->fd, slots, fds, ZS_CHANNEL_MAX_FDS, &eof);

    if (eof) {
        zs_log_notice("master process is gone, stopping");
        worker_drain();
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (slots[i] == 0)
            zs_log_set_fd(fds[i]);
        else
            zs_accesslog_reopen(slots[i], fds[i]);
    }
}

int
zs_worker_main(const struct zs_config *conf, const struct zs_pool *pool, int channel_fd)
{
    memset(&zs_w, 0, sizeof(zs_w));
    zs_w.conf = conf;
    zs_w.pool = pool;
    zs_w.channel_fd = channel_fd;
    zs_w.accept_epfd = -1;
    zs_w.scratch_size = ZS_MAX_REQUEST_LINE + 1024;
    zs_w.scratch = malloc(zs_w.scratch_size);
    zs_w.loop = ev_default_loop(EVFLAG_NOSIGMASK | EVBACKEND_EPOLL);
    if (zs_w.scratch == NULL || zs_w.loop == NULL) {
        zs_log_error("pool %s: worker start-up failed: out of memory or no epoll", pool->pool_name);
        return 1;
    }

    if (worker_listen_setup() == -1)
        return 1;
    zs_accesslog_init(conf);
    zs_resp_date_update(ev_now(zs_w.loop));

    ev_io_init(&zs_w.channel_io, channel_cb, channel_fd, EV_READ);
    ev_io_start(zs_w.loop, &zs_w.channel_io);
    ev_timer_init(&zs_w.sweep_timer, sweep_cb, SWEEP_INTERVAL, SWEEP_INTERVAL);
    ev_timer_start(zs_w.loop, &zs_w.sweep_timer);
    ev_signal_init(&zs_w.sig_quit, signal_cb, SIGQUIT);
    ev_signal_start(zs_w.loop, &zs_w.sig_quit);
    ev_signal_init(&zs_w.sig_term, signal_cb, SIGTERM);
    ev_signal_start(zs_w.loop, &zs_w.sig_term);
    ev_signal_init(&zs_w.sig_int, signal_cb, SIGINT);
    ev_signal_start(zs_w.loop, &zs_w.sig_int);

    zs_modules_init(conf, pool);
    ev_run(zs_w.loop, 0);
    zs_modules_exit();

    zs_accesslog_flush_all();
    return 0;
}
