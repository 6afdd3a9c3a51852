/* Connections: reading requests, writing responses, keep-alive, timeouts and closing. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "worker/accesslog.h"
#include "worker/filecache.h"
#include "worker/worker.h"

#define RBUF_INITIAL 2048
#define WBUF_INITIAL 2048
#define LINGER_TIME 2.0
/* A draining worker closes keep-alive connections idle this long; a client
 * that is busy sends its next request sooner and gets "Connection: close". */
#define DRAIN_IDLE_TIME 1.0
/* Unsent bytes a socket may hold while a large file is sent (TCP_NOTSENT_LOWAT). */
#define NOTSENT_LOWAT (128 * 1024)

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_fail(struct zs_conn *c, int status);
static bool conn_output_pending(const struct zs_conn *c);

/* Formats a socket address without its port, which goes to *port. */
void
zs_sockaddr_text(const struct sockaddr *sa, char *out, size_t size, unsigned *port)
{
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const struct in6_addr *a = &in6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)size);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    } else {
        snprintf(out, size, "unix:");
    }
}

static struct zs_conn *
conn_alloc(void)
{
    struct zs_conn *c = zs_w.free_conns;

    if (c != NULL) {
        zs_w.free_conns = c->next;
        return c;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->rbuf = malloc(RBUF_INITIAL);
    c->wbuf = malloc(WBUF_INITIAL);
    if (c->rbuf == NULL || c->wbuf == NULL) {
        free(c->rbuf);
        free(c->wbuf);
        free(c);
        return NULL;
    }
    c->rcap = RBUF_INITIAL;
    c->wcap = WBUF_INITIAL;
    return c;
}

void
zs_conn_set_events(struct zs_conn *c, int events)
{
    if ((c->io.events & (EV_READ | EV_WRITE)) == events)
        return;
    ev_io_stop(zs_w.loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(zs_w.loop, &c->io);
}

static void
conn_free_path(struct zs_conn *c)
{
    if (c->req.path != NULL && c->req.path != c->pathbuf)
        free(c->req.path);
    c->req.path = NULL;
}

/* Replaces the request's decoded path with an allocated one it now owns. */
void
zs_conn_set_path(struct zs_conn *c, char *path)
{
    conn_free_path(c);
    c->req.path = path;
}

static void
conn_reset_request(struct zs_conn *c)
{
    conn_free_path(c);
    memset(&c->req, 0, sizeof(c->req));
    c->req.content_length = -1;
    c->req.headers = zs_w.headers;
    c->state = CONN_READ_HEAD;
    c->head_started = c->rpos < c->rlen;
    c->sent_continue = false;
    c->body_total = 0;
}

void
zs_conn_accept(int fd, const struct zs_listener *lis, const struct sockaddr *sa)
{
    struct zs_conn *c = conn_alloc();

    if (c == NULL) {
        zs_log_error("listen %s: connection dropped: out of memory", lis->lis_addr);
        close(fd);
        return;
    }
    c->fd = fd;
    c->nodelay = sa->sa_family == AF_UNIX;
    c->lis = lis;
    c->rlen = c->rpos = c->rscan = c->body_pos = 0;
    c->wlen = c->wpos = 0;
    c->seg_count = c->seg_index = 0;
    c->file = NULL;
    c->extra = NULL;
    c->req.path = NULL;
    c->requests = 0;
    c->close_after = c->linger = false;
    c->lowat = false;
    zs_sockaddr_text(sa, c->peer, sizeof(c->peer), &c->peer_port);
    c->body_sink = NULL;
    c->body_paused = false;
    memset(&c->app, 0, sizeof(c->app));
    c->app.spool_fd = -1;
    conn_reset_request(c);
    c->deadline = ev_now(zs_w.loop) + zs_w.conf->header_timeout / 1000.0;

    c->prev = NULL;
    c->next = zs_w.conns;
    if (zs_w.conns != NULL)
        zs_w.conns->prev = c;
    zs_w.conns = c;
    zs_w.conn_count++;

    ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
    c->io.data = c;
    ev_io_start(zs_w.loop, &c->io);

    /* Clients send the request right after connecting, so it is usually
     * there already: a short request is handled, and a Connection: close
     * one even closed, before the socket ever reaches epoll. */
    conn_io_cb(zs_w.loop, &c->io, EV_READ);
}

static void
conn_response_cleanup(struct zs_conn *c)
{
    if (c->file != NULL) {
        zs_file_release(c->file);
        c->file = NULL;
    }
    free(c->extra);
    c->extra = NULL;
    c->seg_count = c->seg_index = 0;
}

void
zs_conn_close(struct zs_conn *c)
{
    ev_io_stop(zs_w.loop, &c->io);
    close(c->fd);
    zs_app_release(c);
    conn_response_cleanup(c);
    conn_free_path(c);

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        zs_w.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;

    /* Buffers that grew for a large head go back to their initial size. */
    if (c->rcap > RBUF_INITIAL) {
        char *p = realloc(c->rbuf, RBUF_INITIAL);
        if (p != NULL) {
            c->rbuf = p;
            c->rcap = RBUF_INITIAL;
        }
    }
    if (c->wcap > WBUF_INITIAL) {
        char *p = realloc(c->wbuf, WBUF_INITIAL);
        if (p != NULL) {
            c->wbuf = p;
            c->wcap = WBUF_INITIAL;
        }
    }
    c->next = zs_w.free_conns;
    zs_w.free_conns = c;
    zs_worker_conn_closed();
}

/* Closing a socket with unread input makes the kernel send RST, which can
 * destroy a response still in flight; so half-close and drain first. */
void
zs_conn_start_linger(struct zs_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) == -1) {
        zs_conn_close(c);
        return;
    }
    c->state = CONN_LINGER;
    c->deadline = ev_now(zs_w.loop) + LINGER_TIME;
    zs_conn_set_events(c, EV_READ);
}

static void
conn_linger_read(struct zs_conn *c)
{
    char buf[4096];

    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0)
            continue;
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        zs_conn_close(c);
        return;
    }
}

void
zs_conn_sweep(ev_tstamp now)
{
    struct zs_conn *next;

    for (struct zs_conn *c = zs_w.conns; c != NULL; c = next) {
        next = c->next;
        if (now < c->deadline)
            continue;
        if (conn_output_pending(c) && c->state != CONN_LINGER) {
            zs_log_info("client %s: send timed out", c->peer);
            if (c->state == CONN_WRITE)
                zs_accesslog_write(c);
            zs_conn_close(c);
            continue;
        }
        switch (c->state) {
        case CONN_READ_HEAD:
            if (c->head_started) {
                zs_log_info("client %s: request head timed out", c->peer);
                conn_fail(c, 408);
            } else {
                zs_conn_close(c);
            }
            break;
        case CONN_READ_BODY:
            zs_log_info("client %s: request body timed out", c->peer);
            conn_fail(c, 408);
            break;
        case CONN_APP:
            /* Output is not pending, so the client was slow to send the body;
             * backend timeouts belong to the adapter. */
            zs_log_info("client %s: request body timed out", c->peer);
            if (c->app.head_sent) {
                zs_conn_close(c);
            } else {
                zs_app_release(c);
                conn_fail(c, 408);
            }
            break;
        case CONN_WRITE:
        case CONN_LINGER:
            zs_conn_close(c);
            break;
        }
    }
}

void
zs_conn_drain_idle(void)
{
    ev_tstamp now = ev_now(zs_w.loop);
    struct zs_conn *next;

    for (struct zs_conn *c = zs_w.conns; c != NULL; c = next) {
        next = c->next;
        if (c->state != CONN_READ_HEAD || c->head_started)
            continue;
        if (c->requests == 0 || now - (c->deadline - zs_w.conf->keepalive_timeout / 1000.0) >= DRAIN_IDLE_TIME)
            zs_conn_close(c);
    }
}

void
zs_conn_close_all(void)
{
    while (zs_w.conns != NULL) {
        struct zs_conn *c = zs_w.conns;
        if (c->state == CONN_WRITE)
            zs_accesslog_write(c);
        zs_conn_close(c);
    }
}

/* Spans of the request that can point into rbuf: the request line once the
 * scanner has seen it, the others once the head is parsed. */
#define REQUEST_SPAN_COUNT 15

static void
request_spans(struct zs_request *r, struct zs_span *spans[REQUEST_SPAN_COUNT])
{
    struct zs_span *list[REQUEST_SPAN_COUNT] = {
        &r->line, &r->target, &r->path_raw, &r->query, &r->host,
        &r->if_match, &r->if_none_match, &r->if_modified_since, &r->if_unmodified_since,
        &r->if_range, &r->range, &r->accept_encoding, &r->referer, &r->user_agent,
        &r->content_type,
    };

    memcpy(spans, list, sizeof(list));
}

/* Makes room in a full rbuf: moves the request being read to the front, or
 * else grows the buffer. The request's spans follow the bytes they point
 * to. NOTE: the header array (zs_w.headers) is not moved with them, since
 * it is read only while the head is parsed. Returns 0, or -1 when rbuf is
 * at its maximum size or out of memory. */
static int
conn_rbuf_make_room(struct zs_conn *c)
{
    struct zs_span *spans[REQUEST_SPAN_COUNT];
    ptrdiff_t offsets[REQUEST_SPAN_COUNT];
    size_t shift = 0;

    request_spans(&c->req, spans);
    for (size_t i = 0; i < REQUEST_SPAN_COUNT; i++) {
        uintptr_t p = (uintptr_t)spans[i]->p, start = (uintptr_t)c->rbuf;
        offsets[i] = spans[i]->p != NULL && p >= start && p <= start + c->rlen ? (ptrdiff_t)(p - start) : -1;
    }

    if (c->rpos > 0 && c->state == CONN_READ_HEAD) {
        shift = c->rpos;
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rscan -= c->rpos;
        c->body_pos = c->body_pos > c->rpos ? c->body_pos - c->rpos : 0;
        c->rpos = 0;
    } else {
        size_t cap = c->rcap * 2;
        if (cap > ZS_MAX_HEADERS_SIZE + 4096)
            cap = ZS_MAX_HEADERS_SIZE + 4096;
        if (cap == c->rcap)
            return -1;
        char *p = realloc(c->rbuf, cap);
        if (p == NULL)
            return -1;
        c->rbuf = p;
        c->rcap = cap;
    }

    for (size_t i = 0; i < REQUEST_SPAN_COUNT; i++) {
        if (offsets[i] >= 0)
            spans[i]->p = c->rbuf + offsets[i] - shift;
    }
    return 0;
}

/* A request body read through the 2 KiB head buffer would take a read()
 * per 2 KiB: an application's body gets a buffer of up to 64 KiB instead. */
void
zs_conn_rbuf_grow_for_body(struct zs_conn *c)
{
    while (c->rcap < 64 * 1024 && conn_rbuf_make_room(c) == 0)
        ;
}

int
zs_conn_read(struct zs_conn *c)
{
    if (c->rpos > 0 && c->rpos == c->rlen) {
        c->rpos = c->rlen = c->rscan = c->body_pos = 0;
    }
    if (c->rlen == c->rcap && conn_rbuf_make_room(c) == -1)
        return -1;
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            return 1;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        zs_log_debug("client %s: read failed: %s", c->peer, strerror(errno));
        return -1;
    }
}

static bool
conn_output_pending(const struct zs_conn *c)
{
    return c->wpos < c->wlen || c->seg_index < c->seg_count;
}

/* Finishes the current response once it is written, or queued whole in wbuf
 * behind earlier pipelined responses: logs it and prepares for the next
 * request. Returns false when the connection was closed. */
bool
zs_conn_finish(struct zs_conn *c)
{
    zs_accesslog_write(c);
    conn_response_cleanup(c);
    c->requests++;
    zs_worker_request_done();

    if (c->close_after) {
        if (c->linger || c->body_pos < c->rlen)
            zs_conn_start_linger(c);
        else
            zs_conn_close(c);
        return false;
    }
    /* Nagle's algorithm would hold a keep-alive response behind the
     * delayed ACK of the previous one; a first response needs no help. */
    if (!c->nodelay) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->nodelay = true;
    }
    c->rpos = c->rscan = c->body_pos;
    conn_reset_request(c);
    c->deadline = ev_now(zs_w.loop) + (c->head_started ? zs_w.conf->header_timeout
                                                         : zs_w.conf->keepalive_timeout) / 1000.0;
    return true;
}

static int
conn_write_mem(struct zs_conn *c)
{
    while (c->wpos < c->wlen) {
        int flags = c->seg_index < c->seg_count ? MSG_MORE : 0;
        ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos, flags | MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->wpos += (size_t)n;
    }
    return 1;
}

/* With an unlimited send buffer, sendfile queues megabytes that the kernel
 * then transmits from the ACK processing of the receiver, on the client's
 * CPU; a loopback client such as wrk read 10 MiB files 40 % slower for it.
 * Keeping little unsent data in the socket makes the server send it itself. */
static void
conn_limit_unsent(struct zs_conn *c)
{
    int lowat = NOTSENT_LOWAT;

    c->lowat = true;
    if (c->lis->lis_sa.ss_family != AF_UNIX)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

static int
conn_write_segment(struct zs_conn *c, struct zs_segment *s)
{
    while (s->len > 0) {
        ssize_t n;
        if (s->is_file) {
            if (!c->lowat && s->len > NOTSENT_LOWAT)
                conn_limit_unsent(c);
            off_t off = s->offset;
            size_t chunk = s->len > 0x7ffff000 ? 0x7ffff000 : (size_t)s->len;
            n = sendfile(c->fd, c->file->fd, &off, chunk);
            if (n == 0) {
                zs_log_error("client %s: file shrank while it was being sent", c->peer);
                errno = EIO;
                return -1;
            }
        } else {
            int flags = c->seg_index + 1 < c->seg_count ? MSG_MORE : 0;
            n = send(c->fd, s->mem + s->offset, (size_t)s->len, flags | MSG_NOSIGNAL);
        }
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        s->offset += n;
        s->len -= n;
    }
    return 1;
}

/* Writes pending output. Returns 1 when all is written, 0 when the socket is
 * full (the connection then waits for EV_WRITE), -1 when it was closed. */
int
zs_conn_flush(struct zs_conn *c)
{
    int r = conn_write_mem(c);

    while (r == 1 && c->seg_index < c->seg_count) {
        r = conn_write_segment(c, &c->segs[c->seg_index]);
        if (r == 1)
            c->seg_index++;
    }
    if (r == -1) {
        /* EIO comes from a file that shrank, which is logged where it is found. */
        if (errno != EPIPE && errno != ECONNRESET && errno != EIO)
            zs_log_info("client %s: write failed: %s", c->peer, strerror(errno));
        if (c->state == CONN_WRITE)
            zs_accesslog_write(c);
        zs_conn_close(c);
        return -1;
    }
    if (r == 0) {
        c->deadline = ev_now(zs_w.loop) + zs_w.conf->send_timeout / 1000.0;
        zs_conn_set_events(c, EV_WRITE);
        return 0;
    }
    c->wlen = c->wpos = 0;
    return 1;
}

static void
conn_handle_by_location(struct zs_conn *c)
{
    if (c->req.location == NULL)
        zs_resp_error(c, 404);
    else if (c->req.location->loc_return_status != 0)
        zs_return_handle(c);
    else
        zs_static_handle(c);
}

static void
conn_keepalive_check(struct zs_conn *c)
{
    if (zs_w.draining || c->requests + 1 >= (unsigned)zs_w.conf->keepalive_requests)
        c->close_after = true;
    if (!c->req.keep_alive)
        c->close_after = true;
}

/* Dispatches a request whose head and body have been read. */
static void
conn_handle(struct zs_conn *c)
{
    c->state = CONN_WRITE;
    conn_keepalive_check(c);
    conn_handle_by_location(c);
}

/* Serves an application's local redirect with the server's own handlers,
 * then goes on with the connection as after any response. */
void
zs_conn_handle_local(struct zs_conn *c)
{
    c->state = CONN_WRITE;
    conn_handle_by_location(c);
    if (zs_conn_flush(c) == 1 && zs_conn_finish(c))
        zs_conn_process(c);
}

/* Sends an error response to a request that cannot be read further, then closes the connection. */
static void
conn_fail(struct zs_conn *c, int status)
{
    c->close_after = true;
    c->linger = true;
    c->state = CONN_WRITE;
    zs_resp_error(c, status);
    if (zs_conn_flush(c) == 1)
        zs_conn_finish(c);
}

/* Responses that fit in wbuf are queued behind each other while more
 * pipelined requests wait in rbuf, and leave in one write. */
#define BATCH_MAX 16384

static bool
conn_can_batch(const struct zs_conn *c)
{
    return c->seg_count == 0 && !c->close_after && c->rpos < c->rlen && c->wlen < BATCH_MAX;
}

/* Parses and handles the requests in rbuf until one needs more input. */
void
zs_conn_process(struct zs_conn *c)
{
    int status = 0;

    for (;;) {
        if (c->state == CONN_READ_HEAD) {
            bool idle = !c->head_started;
            enum zs_head_result h = zs_http1_scan_head(c, &status);
            /* The scan skips empty lines before a request line. They must not
             * restart the deadline of an idle connection, or a client could
             * hold it open forever by sending CRLFs. */
            if (idle && c->rpos < c->rlen) {
                c->head_started = true;
                c->deadline = ev_now(zs_w.loop) + zs_w.conf->header_timeout / 1000.0;
            }
            if (h == HEAD_INCOMPLETE)
                break;
            if (h == HEAD_ERROR || zs_http1_parse_head(c, &status) == -1) {
                conn_fail(c, status);
                return;
            }
            c->req.start = ev_now(zs_w.loop);
            zs_app_route_index(c);
            if (zs_app_wanted(c)) {
                conn_keepalive_check(c);
                zs_app_begin(c);
                return;
            }
            c->state = CONN_READ_BODY;
        }
        if (c->state == CONN_READ_BODY) {
            int r = zs_http1_read_body(c, &status);
            if (r == -1) {
                conn_fail(c, status);
                return;
            }
            if (r == 0) {
                c->deadline = ev_now(zs_w.loop) + zs_w.conf->body_timeout / 1000.0;
                if (c->req.expect_continue && !c->sent_continue && c->req.http_minor >= 1) {
                    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    c->sent_continue = true;
                    zs_resp_body_mem(c, line, sizeof(line) - 1);
                }
                break;
            }
        }
        conn_handle(c);
        if (conn_can_batch(c)) {
            zs_conn_finish(c);
            continue;
        }
        if (zs_conn_flush(c) != 1 || !zs_conn_finish(c))
            return;
    }

    if (c->wpos < c->wlen && zs_conn_flush(c) != 1)
        return;
    zs_conn_set_events(c, EV_READ);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct zs_conn *c = w->data;

    if (c->state == CONN_LINGER) {
        conn_linger_read(c);
        return;
    }
    if (c->state == CONN_APP) {
        zs_app_event(c, revents);
        return;
    }
    if (conn_output_pending(c)) {
        if (zs_conn_flush(c) != 1)
            return;
        if (c->state == CONN_WRITE && !zs_conn_finish(c))
            return;
        zs_conn_set_events(c, EV_READ);
        zs_conn_process(c);
        return;
    }

    int r = zs_conn_read(c);
    if (r == -1) {
        if (c->rlen == c->rcap) {
            conn_fail(c, 431);
            return;
        }
        zs_conn_close(c);
        return;
    }
    if (r == 1)
        zs_conn_process(c);
}
