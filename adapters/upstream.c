/* Backend connections of one worker: selection, limits, queueing and reuse. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/upstream.h"
#include "lib/log.h"

/* A backend that refused a connection is skipped this long while others are up. */
#define PEER_DOWN_TIME 10.0
/* Idle connections kept per backend. */
#define PEER_MAX_IDLE 32

/* The worker's state of one backend of one location. */
struct zs_upstream_peer {
    const struct zs_backend *be;
    const struct zs_location *loc;
    unsigned active;             /* requests holding a slot */
    unsigned queued;
    struct zs_upstream_req *queue_head, *queue_tail;
    struct zs_upstream_conn *idle;
    unsigned idle_count;
    ev_tstamp down_until;
    struct zs_upstream_peer *next;
};

/* Round-robin position of one location. */
struct rr_state {
    const struct zs_location *loc;
    unsigned next;
    struct rr_state *link;
};

static struct zs_upstream_peer *peers;
static struct rr_state *rr_states;

static struct zs_upstream_peer *
peer_get(const struct zs_location *loc, const struct zs_backend *be)
{
    for (struct zs_upstream_peer *p = peers; p != NULL; p = p->next) {
        if (p->be == be)
            return p;
    }
    struct zs_upstream_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->be = be;
    p->loc = loc;
    p->next = peers;
    peers = p;
    return p;
}

static unsigned
rr_next(const struct zs_location *loc)
{
    struct rr_state *s;

    for (s = rr_states; s != NULL; s = s->link) {
        if (s->loc == loc)
            break;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return 0;
        s->loc = loc;
        s->link = rr_states;
        rr_states = s;
    }
    return s->next++;
}

/* The configured limit, or 0 for none. A managed app with kept connections
 * gets its processes shared among the workers instead, because a FastCGI
 * process stays on a kept connection: one connection more than there are
 * processes would leave its request in the app's accept queue. */
static int
peer_limit(const struct zs_upstream_peer *p)
{
    int max = p->loc->loc_backend_max_requests;

    if (max > 0 || !p->loc->loc_fastcgi_keep_conn || p->be->be_app == NULL)
        return max;
    int workers = zs_app_worker_count();
    int share = p->be->be_app->app_processes / (workers > 0 ? workers : 1);
    return share > 0 ? share : 1;
}

static bool
peer_has_slot(const struct zs_upstream_peer *p)
{
    int max = peer_limit(p);

    return max <= 0 || p->active < (unsigned)max;
}

static void
conn_close(struct zs_upstream_conn *conn)
{
    ev_io_stop(zs_app_loop(), &conn->idle_io);
    close(conn->fd);
    free(conn);
}

static void
idle_remove(struct zs_upstream_peer *p, struct zs_upstream_conn *conn)
{
    for (struct zs_upstream_conn **pp = &p->idle; *pp != NULL; pp = &(*pp)->next_idle) {
        if (*pp == conn) {
            *pp = conn->next_idle;
            p->idle_count--;
            return;
        }
    }
}

/* An idle connection became readable: the backend closed it (or sent
 * something it should not have). Either way it cannot be reused. */
static void
idle_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct zs_upstream_conn *conn = w->data;

    (void)loop;
    (void)revents;
    idle_remove(conn->peer, conn);
    conn_close(conn);
}

static struct zs_upstream_conn *
idle_take(struct zs_upstream_peer *p)
{
    struct zs_upstream_conn *conn = p->idle;

    if (conn == NULL)
        return NULL;
    p->idle = conn->next_idle;
    p->idle_count--;
    ev_io_stop(zs_app_loop(), &conn->idle_io);
    conn->next_idle = NULL;
    conn->reused = true;
    return conn;
}

/* Starts a non-blocking connect. Returns NULL with errno set when it failed at once. */
static struct zs_upstream_conn *
conn_open(struct zs_upstream_peer *p)
{
    const struct zs_backend *be = p->be;
    int fd = socket(be->be_sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return NULL;
    if (connect(fd, (const struct sockaddr *)&be->be_sa, be->be_salen) == -1 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    struct zs_upstream_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    conn->fd = fd;
    conn->peer = p;
    return conn;
}

/* Tries backends from the request's round-robin position on. */
static enum zs_upstream_result
acquire_from(struct zs_upstream_req *r, bool keep_alive, struct zs_upstream_conn **conn)
{
    const struct zs_location *loc = r->loc;
    unsigned n = (unsigned)loc->loc_backend_count;
    ev_tstamp now = ev_now(zs_app_loop());
    struct zs_upstream_peer *full = NULL;

    for (; r->tried < n; r->tried++) {
        const struct zs_backend *be = &loc->loc_backends[(r->first + r->tried) % n];
        struct zs_upstream_peer *p = peer_get(loc, be);
        if (p == NULL)
            return ZS_UPSTREAM_FAILED;
        /* A backend marked down is still tried when it is the last one left. */
        if (p->down_until > now && r->tried + 1 < n)
            continue;
        if (!peer_has_slot(p)) {
            if (full == NULL)
                full = p;
            continue;
        }
        struct zs_upstream_conn *c = keep_alive ? idle_take(p) : NULL;
        if (c == NULL)
            c = conn_open(p);
        if (c == NULL) {
            zs_log_error("backend %s: connect failed: %s", be->be_addr, strerror(errno));
            p->down_until = now + PEER_DOWN_TIME;
            continue;
        }
        p->active++;
        r->peer = p;
        *conn = c;
        return ZS_UPSTREAM_OK;
    }
    if (full == NULL)
        return ZS_UPSTREAM_FAILED;
    if (full->queued >= (unsigned)loc->loc_backend_queue)
        return ZS_UPSTREAM_BUSY;
    /* Wait on the first full backend; its next free slot goes to this request. */
    r->peer = full;
    r->queued = true;
    r->queue_next = NULL;
    r->queued_at = now;
    if (full->queue_tail != NULL)
        full->queue_tail->queue_next = r;
    else
        full->queue_head = r;
    full->queue_tail = r;
    full->queued++;
    return ZS_UPSTREAM_QUEUED;
}

enum zs_upstream_result
zs_upstream_acquire(struct zs_upstream_req *r, bool keep_alive, struct zs_upstream_conn **conn)
{
    r->tried = 0;
    r->first = rr_next(r->loc);
    r->peer = NULL;
    r->queued = false;
    return acquire_from(r, keep_alive, conn);
}

enum zs_upstream_result
zs_upstream_retry(struct zs_upstream_req *r, struct zs_upstream_conn *failed, bool keep_alive,
                  struct zs_upstream_conn **conn)
{
    struct zs_upstream_peer *p = r->peer;

    if (failed != NULL)
        conn_close(failed);
    if (p != NULL) {
        p->down_until = ev_now(zs_app_loop()) + PEER_DOWN_TIME;
        p->active--;
        r->peer = NULL;
    }
    r->tried++;
    enum zs_upstream_result res = acquire_from(r, keep_alive, conn);
    /* Queueing after a failure would only delay the 502. */
    if (res == ZS_UPSTREAM_QUEUED || res == ZS_UPSTREAM_BUSY) {
        zs_upstream_cancel(r);
        return ZS_UPSTREAM_FAILED;
    }
    return res;
}

static void
queue_remove(struct zs_upstream_peer *p, struct zs_upstream_req *r)
{
    struct zs_upstream_req *prev = NULL;

    for (struct zs_upstream_req *q = p->queue_head; q != NULL; prev = q, q = q->queue_next) {
        if (q != r)
            continue;
        if (prev != NULL)
            prev->queue_next = q->queue_next;
        else
            p->queue_head = q->queue_next;
        if (p->queue_tail == q)
            p->queue_tail = prev;
        p->queued--;
        return;
    }
}

/* A slot of p is free: the oldest queued request takes it. */
static void
queue_wake(struct zs_upstream_peer *p)
{
    struct zs_upstream_req *r = p->queue_head;

    if (r == NULL || !peer_has_slot(p))
        return;
    queue_remove(p, r);
    r->queued = false;
    r->peer = NULL;
    r->tried = 0;
    r->ready(r);
}

void
zs_upstream_release(struct zs_upstream_req *r, struct zs_upstream_conn *conn, bool keep)
{
    struct zs_upstream_peer *p = r->peer;

    if (conn != NULL) {
        if (keep && p != NULL && p->idle_count < PEER_MAX_IDLE) {
            conn->next_idle = p->idle;
            p->idle = conn;
            p->idle_count++;
            ev_io_init(&conn->idle_io, idle_cb, conn->fd, EV_READ);
            conn->idle_io.data = conn;
            ev_io_start(zs_app_loop(), &conn->idle_io);
        } else {
            conn_close(conn);
        }
    }
    if (p == NULL)
        return;
    r->peer = NULL;
    p->active--;
    queue_wake(p);
}

void
zs_upstream_cancel(struct zs_upstream_req *r)
{
    struct zs_upstream_peer *p = r->peer;

    if (p == NULL)
        return;
    if (r->queued) {
        queue_remove(p, r);
        r->queued = false;
        r->peer = NULL;
        return;
    }
    zs_upstream_release(r, NULL, false);
}

const char *
zs_upstream_addr(const struct zs_upstream_req *r)
{
    if (r->peer != NULL)
        return r->peer->be->be_addr;
    if (r->loc->loc_backend_count > 0)
        return r->loc->loc_backends[0].be_addr;
    return "-";
}
