/* Requests to FastCGI and SCGI backends over a socket. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/backend.h"
#include "lib/defaults.h"
#include "lib/log.h"

/* Encoded request bytes buffered before the client is asked to wait. */
#define OUT_MAX (64 * 1024)
/* Bytes read from a backend per read call. */
#define READ_SIZE (64 * 1024)
/* The largest response head accepted from an application. */
#define HEAD_MAX ZS_MAX_HEADERS_SIZE

static const struct zs_config *conf_of(const struct zs_backend_req *b);
static void backend_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void backend_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void backend_attach(struct zs_backend_req *b, struct zs_upstream_conn *conn);
static void backend_update(struct zs_backend_req *b);
static bool backend_write(struct zs_backend_req *b);

static const struct zs_config *
conf_of(const struct zs_backend_req *b)
{
    (void)b;
    return zs_app_config();
}

const char *
zs_backend_addr(const struct zs_backend_req *b)
{
    return zs_upstream_addr(&b->up);
}

static void
backend_free(struct zs_backend_req *b)
{
    struct ev_loop *loop = zs_app_loop();

    ev_io_stop(loop, &b->watcher);
    ev_timer_stop(loop, &b->timer);
    zs_buf_free(&b->out);
    zs_buf_free(&b->replay);
    zs_buf_free(&b->pending);
    zs_cgi_head_free(&b->head);
    free(b);
}

/* Gives the connection and the slot back. keep: the connection may be reused. */
static void
backend_release(struct zs_backend_req *b, bool keep)
{
    ev_io_stop(zs_app_loop(), &b->watcher);
    if (b->conn != NULL || b->up.peer != NULL)
        zs_upstream_release(&b->up, b->conn, keep);
    b->conn = NULL;
}

/* Ends the request with an error: a status page before the head, a cut
 * response after it. */
static void
backend_fail(struct zs_backend_req *b, int status)
{
    struct zs_app_io *io = b->io;

    b->failed = true;
    if (b->up.queued)
        zs_upstream_cancel(&b->up);
    backend_release(b, false);
    backend_free(b);
    zs_app_fail(io, status);
}

void
zs_backend_protocol_error(struct zs_backend_req *b, const char *what)
{
    zs_log_error("client %s: backend %s: %s", zs_app_peer(b->io), zs_backend_addr(b), what);
    backend_fail(b, 502);
}

static void
backend_timer_start(struct zs_backend_req *b, int ms)
{
    struct ev_loop *loop = zs_app_loop();

    ev_timer_stop(loop, &b->timer);
    ev_timer_set(&b->timer, ms / 1000.0, 0.0);
    ev_timer_start(loop, &b->timer);
}

/* ---- start ---- */

static void
backend_ready(struct zs_upstream_req *up)
{
    struct zs_backend_req *b = (struct zs_backend_req *)((char *)up - offsetof(struct zs_backend_req, up));
    struct zs_upstream_conn *conn = NULL;

    switch (zs_upstream_acquire(up, b->keep_alive, &conn)) {
    case ZS_UPSTREAM_OK:
        backend_attach(b, conn);
        return;
    case ZS_UPSTREAM_QUEUED:
        return;
    case ZS_UPSTREAM_BUSY:
    case ZS_UPSTREAM_FAILED:
        break;
    }
    zs_log_error("client %s: no backend of location %s is available", zs_app_peer(b->io),
                 b->loc->loc_title);
    backend_fail(b, 502);
}

static int
backend_encode_start(struct zs_backend_req *b, const struct zs_app_request *req)
{
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    int status = zs_cgi_split_app(req, &script);

    if (status != 0)
        return status;
    if (zs_cgi_env_build(&env, req, &script) == -1)
        return 500;
    status = b->proto->encode_head(b, &env) == -1 ? 500 : 0;
    zs_cgi_env_free(&env);
    return status;
}

int
zs_backend_start(struct zs_backend_req *b, const struct zs_backend_proto *proto,
                 struct zs_app_io *io, const struct zs_app_request *req)
{
    struct zs_upstream_conn *conn = NULL;

    b->proto = proto;
    b->keep_alive = proto->keep_alive && req->location->loc_fastcgi_keep_conn;
    b->io = io;
    b->loc = req->location;
    b->body_length = req->content_length;
    b->up.loc = req->location;
    b->up.ready = backend_ready;
    ev_init(&b->watcher, backend_io_cb);
    b->watcher.data = b;
    ev_init(&b->timer, backend_timer_cb);
    b->timer.data = b;
    zs_cgi_head_init(&b->head, HEAD_MAX);

    int status = backend_encode_start(b, req);
    if (status != 0) {
        backend_free(b);
        zs_app_fail(io, status);
        return -1;
    }

    switch (zs_upstream_acquire(&b->up, b->keep_alive, &conn)) {
    case ZS_UPSTREAM_OK:
        backend_attach(b, conn);
        return 0;
    case ZS_UPSTREAM_QUEUED:
        /* A queued request waits at most the connect timeout for its slot. */
        backend_timer_start(b, conf_of(b)->backend_connect_timeout);
        return 0;
    case ZS_UPSTREAM_BUSY:
        zs_log_warn("client %s: backend %s is at its limit of %d requests and its queue is full",
                    zs_app_peer(io), zs_backend_addr(b), b->loc->loc_backend_max_requests);
        backend_free(b);
        zs_app_fail(io, 503);
        return -1;
    case ZS_UPSTREAM_FAILED:
        break;
    }
    zs_log_error("client %s: no backend of location %s is available", zs_app_peer(io),
                 b->loc->loc_title);
    backend_free(b);
    zs_app_fail(io, 502);
    return -1;
}

static void
backend_attach(struct zs_backend_req *b, struct zs_upstream_conn *conn)
{
    b->conn = conn;
    b->connecting = !conn->reused;
    ev_io_set(&b->watcher, conn->fd, EV_WRITE);
    ev_io_start(zs_app_loop(), &b->watcher);
    backend_timer_start(b, b->connecting ? conf_of(b)->backend_connect_timeout
                                         : conf_of(b)->backend_read_timeout);
}

/* A reused connection that the backend had closed fails on first use; a
 * request without a body is then sent again on a new connection. */
static bool
backend_replay(struct zs_backend_req *b)
{
    struct zs_upstream_conn *conn = NULL;

    if (b->conn == NULL || !b->conn->reused || b->got_response || b->replay.len == 0)
        return false;
    backend_release(b, false);
    b->out.len = b->out.pos = 0;
    if (zs_buf_append(&b->out, b->replay.data, b->replay.len) == -1)
        return false;
    zs_buf_free(&b->replay);
    if (b->proto->reset != NULL)
        b->proto->reset(b);
    if (zs_upstream_acquire(&b->up, false, &conn) != ZS_UPSTREAM_OK)
        return false;
    backend_attach(b, conn);
    return true;
}

/* ---- request body ---- */

size_t
zs_backend_body(void *state, const char *data, size_t len, bool last)
{
    struct zs_backend_req *b = state;

    if (zs_buf_pending(&b->out) >= OUT_MAX && len > 0) {
        b->body_wait = true;
        return 0;
    }
    if (b->proto->encode_body(b, data, len, last) == -1) {
        zs_log_error("client %s: out of memory encoding the request body", zs_app_peer(b->io));
        backend_fail(b, 500);
        return len;
    }
    if (last)
        b->body_last = true;
    /* A request without a body is kept whole, end of stdin included, until
     * a response arrives: a reused connection the backend had closed sends
     * it once more on a new one. Nothing of it was written yet. */
    if (last && b->body_length == 0 && b->keep_alive && b->out.pos == 0)
        zs_buf_append(&b->replay, b->out.data, b->out.len);
    /* Body bytes moving count as activity, like response bytes. */
    if (b->conn != NULL && !b->connecting)
        backend_timer_start(b, conf_of(b)->backend_read_timeout);
    /* Write at once: waiting for EV_WRITE would toggle the watcher per piece. */
    if (b->conn != NULL && !b->connecting && backend_write(b))
        backend_update(b);
    return len;
}

/* ---- response ---- */

static int
backend_send_head(struct zs_backend_req *b)
{
    struct zs_cgi_head *h = &b->head;

    b->head_done = true;
    if (h->local_redirect) {
        b->finished = true;
        return 0;
    }
    zs_app_head(b->io, h->status, h->headers, h->count, h->content_length);
    return 1;
}

int
zs_backend_output(struct zs_backend_req *b, const char *data, size_t len)
{
    if (!b->head_done) {
        size_t used = 0;
        switch (zs_cgi_head_feed(&b->head, data, len, &used)) {
        case ZS_CGI_HEAD_MORE:
            return 1;
        case ZS_CGI_HEAD_ERROR:
            zs_log_error("client %s: backend %s sent an invalid response head: %s",
                         zs_app_peer(b->io), zs_backend_addr(b), b->head.error);
            backend_fail(b, 502);
            return -1;
        case ZS_CGI_HEAD_DONE:
            break;
        }
        if (backend_send_head(b) == 0)
            return 1;    /* a local redirect: its body, if any, is dropped */
        data += used;
        len -= used;
    }
    if (b->head.local_redirect || len == 0)
        return 1;
    if (zs_app_body(b->io, data, len) == 0) {
        b->paused = true;
        ev_timer_stop(zs_app_loop(), &b->timer);
        return 0;
    }
    return 1;
}

int
zs_backend_keep_input(struct zs_backend_req *b, const char *data, size_t len)
{
    if (len > 0 && zs_buf_append(&b->pending, data, len) == -1) {
        zs_log_error("client %s: out of memory keeping backend output", zs_app_peer(b->io));
        backend_fail(b, 500);
        return -1;
    }
    return 0;
}

void
zs_backend_finish(struct zs_backend_req *b, bool reusable, int fail_status)
{
    struct zs_app_io *io = b->io;

    if (!b->head_done) {
        if (fail_status == 0) {
            zs_log_error("client %s: backend %s ended the response before the end of its head",
                         zs_app_peer(io), zs_backend_addr(b));
            fail_status = 502;
        }
        backend_fail(b, fail_status);
        return;
    }
    backend_release(b, reusable && b->keep_alive && b->body_last && zs_buf_pending(&b->out) == 0);
    if (b->head.local_redirect) {
        char *path = strndup(b->head.location, b->head.location_len);
        backend_free(b);
        if (path == NULL) {
            zs_app_fail(io, 500);
            return;
        }
        zs_app_redirect_local(io, path, strlen(path));
        free(path);
        return;
    }
    backend_free(b);
    zs_app_end(io, fail_status == 0);
}

/* ---- socket events ---- */

static void
backend_update(struct zs_backend_req *b)
{
    int events = 0;

    if (zs_buf_pending(&b->out) > 0 || b->connecting)
        events |= EV_WRITE;
    if (!b->paused && !b->connecting)
        events |= EV_READ;
    if (b->paused)
        ev_timer_stop(zs_app_loop(), &b->timer);
    if ((b->watcher.events & (EV_READ | EV_WRITE)) == events && ev_is_active(&b->watcher))
        return;
    ev_io_stop(zs_app_loop(), &b->watcher);
    ev_io_set(&b->watcher, b->conn->fd, events);
    if (events != 0)
        ev_io_start(zs_app_loop(), &b->watcher);
}

/* Finishes a non-blocking connect. Returns false when the request moved on
 * (to another backend) or failed. */
static bool
backend_connected(struct zs_backend_req *b)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(b->conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err == 0) {
        b->connecting = false;
        backend_timer_start(b, conf_of(b)->backend_read_timeout);
        return true;
    }
    zs_log_error("client %s: backend %s: connect failed: %s", zs_app_peer(b->io),
                 zs_backend_addr(b), strerror(err));
    struct zs_upstream_conn *conn = NULL;
    struct zs_upstream_conn *failed = b->conn;

    /* Nothing was sent: the next backend gets the request. */
    ev_io_stop(zs_app_loop(), &b->watcher);
    b->conn = NULL;
    switch (zs_upstream_retry(&b->up, failed, b->keep_alive, &conn)) {
    case ZS_UPSTREAM_OK:
        backend_attach(b, conn);
        return false;
    default:
        backend_fail(b, 502);
        return false;
    }
}

/* Writes what is buffered. Returns false when the request failed or moved on. */
static bool
backend_write(struct zs_backend_req *b)
{
    while (zs_buf_pending(&b->out) > 0) {
        ssize_t n = send(b->conn->fd, b->out.data + b->out.pos, zs_buf_pending(&b->out), MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == -1) {
            if (backend_replay(b))
                return false;
            zs_log_error("client %s: backend %s: write failed: %s", zs_app_peer(b->io),
                         zs_backend_addr(b), strerror(errno));
            backend_fail(b, 502);
            return false;
        }
        zs_buf_consume(&b->out, (size_t)n);
    }
    if (b->body_wait && zs_buf_pending(&b->out) < OUT_MAX) {
        b->body_wait = false;
        zs_app_body_resume(b->io);
    }
    return true;
}

static void
backend_eof(struct zs_backend_req *b, int err)
{
    if (backend_replay(b))
        return;
    if (b->proto->eof != NULL && err == 0) {
        b->proto->eof(b);
        return;
    }
    if (err != 0)
        zs_log_error("client %s: backend %s: read failed: %s", zs_app_peer(b->io),
                     zs_backend_addr(b), strerror(err));
    else
        zs_log_error("client %s: backend %s closed the connection before the end of the response",
                     zs_app_peer(b->io), zs_backend_addr(b));
    backend_fail(b, 502);
}

/* Decodes kept input first, then reads more. Returns false when the request ended. */
static bool
backend_read(struct zs_backend_req *b)
{
    static char buf[READ_SIZE];

    if (zs_buf_pending(&b->pending) > 0) {
        struct zs_buf kept = b->pending;
        memset(&b->pending, 0, sizeof(b->pending));
        int r = b->proto->decode(b, kept.data + kept.pos, zs_buf_pending(&kept));
        zs_buf_free(&kept);
        if (r == -1)
            return false;
        if (r == 0)
            return true;
    }
    for (int i = 0; i < 4 && !b->paused; i++) {
        ssize_t n = recv(b->conn->fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            backend_eof(b, n == 0 ? 0 : errno);
            return false;
        }
        b->got_response = true;
        backend_timer_start(b, conf_of(b)->backend_read_timeout);
        int r = b->proto->decode(b, buf, (size_t)n);
        if (r == -1)
            return false;
        if (r == 0)
            return true;
    }
    return true;
}

static void
backend_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct zs_backend_req *b = w->data;

    (void)loop;
    if (b->connecting) {
        if (!backend_connected(b))
            return;
    }
    if ((revents & EV_WRITE) && !backend_write(b))
        return;
    if ((revents & EV_READ) && !backend_read(b))
        return;
    backend_update(b);
}

static void
backend_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct zs_backend_req *b = w->data;

    (void)loop;
    (void)revents;
    if (b->up.queued) {
        zs_log_warn("client %s: no slot of backend %s became free in time", zs_app_peer(b->io),
                    zs_backend_addr(b));
        backend_fail(b, 503);
        return;
    }
    zs_log_error("client %s: backend %s: %s timed out", zs_app_peer(b->io), zs_backend_addr(b),
                 b->connecting ? "connect" : "read");
    backend_fail(b, 504);
}

/* ---- adapter callbacks ---- */

void
zs_backend_resume(void *state)
{
    struct zs_backend_req *b = state;

    b->paused = false;
    if (b->conn == NULL)
        return;
    backend_timer_start(b, conf_of(b)->backend_read_timeout);
    if (!backend_read(b))
        return;
    backend_update(b);
}

void
zs_backend_abort(void *state)
{
    struct zs_backend_req *b = state;

    if (b->up.queued)
        zs_upstream_cancel(&b->up);
    backend_release(b, false);
    backend_free(b);
}
