/* Application requests: the worker's side of the adapter interface.
 *
 * An adapter (FastCGI, SCGI, CGI, WSGI) responds asynchronously. It never closes
 * the connection itself: the zs_app_* functions only queue output and set
 * flags, then schedule app_step(), which runs from the connection's own
 * event callback. So a connection is never freed under an adapter's feet,
 * and adapter callbacks are never re-entered. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "lib/defaults.h"
#include "lib/log.h"
#include "lib/path.h"
#include "worker/accesslog.h"
#include "worker/filecache.h"
#include "worker/worker.h"

/* Output queued beyond this pauses the adapter until the client catches up. */
#define APP_OUT_HIGH (64 * 1024)
/* Request body bytes read from a spool file per step. */
#define SPOOL_CHUNK (64 * 1024)
/* Local redirects followed for one request before it fails with 500. */
#define MAX_LOCAL_REDIRECTS 10
/* A connection that waits only for its application has no client deadline. */
#define NO_DEADLINE 1e12

_Static_assert(sizeof(struct zs_header) == sizeof(struct zs_app_header)
                   && offsetof(struct zs_header, value_len) == offsetof(struct zs_app_header, value_len),
               "request headers are handed to adapters as they are");

static void app_step(struct zs_conn *c);

static struct zs_conn *
app_conn(struct zs_app_io *io)
{
    return (struct zs_conn *)io;
}

/* Stands in for an adapter whose module did not load, and for a request
 * that went through too many local redirects: it responds 500 (logged where
 * the failure was found). */
static void *
failed_start(struct zs_app_io *io, const struct zs_app_request *req)
{
    zs_app_fail(io, 500);
    return NULL;
}

static const struct zs_adapter failed_adapter = { .name = "failed", .start = failed_start };

static const struct zs_adapter *
app_adapter(const struct zs_location *loc)
{
    const struct zs_adapter *wsgi;

    switch (loc->loc_handler) {
    case ZS_HANDLER_FASTCGI: return &zs_adapter_fastcgi;
    case ZS_HANDLER_SCGI: return &zs_adapter_scgi;
    case ZS_HANDLER_CGI: return &zs_adapter_cgi;
    case ZS_HANDLER_WSGI:
        wsgi = zs_modules_wsgi();
        if (wsgi != NULL)
            return wsgi;
        zs_log_error("location '%s': the WSGI module is not loaded (see the worker's start-up errors)",
                     loc->loc_title);
        return &failed_adapter;
    case ZS_HANDLER_STATIC: break;
    }
    return NULL;
}

bool
zs_app_wanted(const struct zs_conn *c)
{
    const struct zs_location *loc = c->req.location;

    return loc != NULL && loc->loc_return_status == 0 && loc->loc_handler != ZS_HANDLER_STATIC;
}

/* Runs app_step() soon: at once when called outside a step, else once more
 * at the end of the running one. */
static void
app_schedule(struct zs_conn *c)
{
    if (c->app.in_step) {
        c->app.again = true;
        return;
    }
    if (!c->app.fed) {
        c->app.fed = true;
        ev_feed_event(zs_w.loop, &c->io, EV_CUSTOM);
    }
}

/* ---- Request view ---- */

static void
app_local_address(struct zs_conn *c, char *addr, size_t size, unsigned *port)
{
    const struct sockaddr_storage *lis = &c->lis->lis_sa;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    bool wildcard = (lis->ss_family == AF_INET
                     && ((const struct sockaddr_in *)lis)->sin_addr.s_addr == htonl(INADDR_ANY))
                    || (lis->ss_family == AF_INET6
                        && IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)lis)->sin6_addr));

    addr[0] = '\0';
    *port = 0;
    /* Only a wildcard listener needs a system call to tell the address. */
    if (!wildcard) {
        zs_sockaddr_text((const struct sockaddr *)lis, addr, size, port);
        return;
    }
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == -1)
        return;
    zs_sockaddr_text((struct sockaddr *)&ss, addr, size, port);
}

static const char *
app_protocol(const struct zs_request *r)
{
    return r->http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

/* Keeps the request headers as offsets into rbuf until the adapter starts. */
static int
app_headers_keep(struct zs_conn *c)
{
    const struct zs_request *r = &c->req;

    c->app.header_count = 0;
    if (r->header_count == 0)
        return 0;
    c->app.headers = malloc(r->header_count * sizeof(struct zs_header));
    if (c->app.headers == NULL)
        return -1;
    for (size_t i = 0; i < r->header_count; i++) {
        struct zs_header h = r->headers[i];
        h.name = (const char *)(uintptr_t)(h.name - c->rbuf);
        h.value = (const char *)(uintptr_t)(h.value - c->rbuf);
        c->app.headers[i] = h;
    }
    c->app.header_count = r->header_count;
    return 0;
}

/* Writes the kept headers into out as pointers into rbuf, where it is now. */
static void
app_headers_resolve(const struct zs_conn *c, struct zs_header *out)
{
    for (size_t i = 0; i < c->app.header_count; i++) {
        out[i] = c->app.headers[i];
        out[i].name = c->rbuf + (uintptr_t)out[i].name;
        out[i].value = c->rbuf + (uintptr_t)out[i].value;
    }
}

static int
app_start(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    char server_addr[64];
    struct zs_header headers[ZS_MAX_HEADERS_COUNT];
    struct zs_app_request view = {
        .method = http_method_str((enum http_method)r->method),
        .protocol = app_protocol(r),
        .target = r->target.p,
        .target_len = r->target.len,
        .path = r->path,
        .path_len = r->path_len,
        .query = r->query.p != NULL ? r->query.p : "",
        .query_len = r->query.len,
        .headers = (const struct zs_app_header *)headers,
        .header_count = c->app.header_count,
        .content_length = c->app.body_length,
        .content_type = r->content_type.p,
        .content_type_len = r->content_type.len,
        .host = r->host.p,
        .host_len = r->host.len,
        .remote_addr = c->peer,
        .remote_port = c->peer_port,
        .server_addr = server_addr,
        .https = false,
        .server = r->server,
        .location = r->location,
    };

    if (view.host_len == 0 && r->server->srv_name_count > 0) {
        view.host = r->server->srv_names[0];
        view.host_len = strlen(view.host);
    }
    app_local_address(c, server_addr, sizeof(server_addr), &view.server_port);
    app_headers_resolve(c, headers);

    c->app.state = c->app.adapter->start((struct zs_app_io *)c, &view);
    if (c->app.state == NULL && c->app.fail_status == 0)
        c->app.fail_status = 500;
    return c->app.state != NULL ? 0 : -1;
}

/* ---- Request body ---- */

static size_t
app_body_sink(struct zs_conn *c, const char *data, size_t len)
{
    if (c->app.state == NULL)
        return len;              /* the application is done: drop the rest */
    return c->app.adapter->body(c->app.state, data, len, false);
}

static size_t
app_spool_sink(struct zs_conn *c, const char *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(c->app.spool_fd, data + done, len - done);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            zs_log_syserr("client %s: writing the request body to a temporary file failed", c->peer);
            c->app.fail_status = 500;
            return len;
        }
        done += (size_t)n;
    }
    return len;
}

/* A chunked body goes to an unnamed temporary file first: CGI, SCGI and
 * PHP need CONTENT_LENGTH before the body, and a slow upload takes no worker
 * memory. */
static int
app_spool_open(struct zs_conn *c)
{
    const char *dir = zs_w.conf->client_body_temp_path;

    c->app.spool_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (c->app.spool_fd == -1) {
        zs_log_syserr("client %s: creating a temporary file in %s failed (check client_body_temp_path)", c->peer, dir);
        return -1;
    }
    return 0;
}

static void
app_spool_close(struct zs_conn *c)
{
    if (c->app.spool_fd != -1)
        close(c->app.spool_fd);
    c->app.spool_fd = -1;
    free(c->app.spool_buf);
    c->app.spool_buf = NULL;
}

/* Hands the spooled body to the adapter, as far as it takes it. */
static void
app_feed_spool(struct zs_conn *c)
{
    while (c->app.state != NULL && !c->body_paused && c->app.fail_status == 0) {
        if (c->app.spool_pos == c->app.spool_len) {
            if (c->app.spool_off == c->app.body_length)
                break;
            ssize_t n = pread(c->app.spool_fd, c->app.spool_buf, SPOOL_CHUNK, c->app.spool_off);
            if (n <= 0) {
                zs_log_syserr("client %s: reading the spooled request body failed", c->peer);
                c->app.fail_status = 500;
                return;
            }
            c->app.spool_off += n;
            c->app.spool_pos = 0;
            c->app.spool_len = (size_t)n;
        }
        size_t left = c->app.spool_len - c->app.spool_pos;
        size_t taken = c->app.adapter->body(c->app.state, c->app.spool_buf + c->app.spool_pos, left, false);
        c->app.spool_pos += taken;
        if (taken < left)
            c->body_paused = true;
    }
    if (c->app.state != NULL && c->app.spool_off == c->app.body_length
        && c->app.spool_pos == c->app.spool_len && !c->body_paused) {
        c->app.body_fed = true;
        c->app.adapter->body(c->app.state, "", 0, true);
        app_spool_close(c);
    }
}

/* The whole body is read: start the application on a spooled body, or
 * tell it the streamed one is complete. */
static void
app_body_complete(struct zs_conn *c)
{
    c->app.body_read = true;
    c->body_sink = NULL;
    if (c->app.spool_fd != -1) {
        c->app.body_length = c->body_total;
        c->app.spool_buf = malloc(SPOOL_CHUNK);
        if (c->app.spool_buf == NULL) {
            c->app.fail_status = 500;
            return;
        }
        if (app_start(c) == -1)
            return;
        app_feed_spool(c);
        return;
    }
    c->app.body_fed = true;
    if (c->app.state != NULL)
        c->app.adapter->body(c->app.state, "", 0, true);
}

/* Reads and delivers request body bytes. Returns false when the connection
 * was closed. */
static bool
app_read_body(struct zs_conn *c, bool can_read)
{
    int status = 0;

    /* A bounded number of reads per step, so that one fast upload does not
     * hold up the worker's other connections; EV_READ brings it back. */
    for (int reads = 0; reads <= 16; reads++) {
        int r = zs_http1_read_body(c, &status);
        if (r == -1) {
            c->app.fail_status = status;
            c->close_after = true;
            c->linger = true;
            return true;
        }
        if (r == 1) {
            app_body_complete(c);
            return true;
        }
        if (c->body_paused || !can_read || reads == 16)
            return true;
        int n = zs_conn_read(c);
        if (n == 0)
            return true;
        if (n == -1) {
            zs_log_info("client %s: connection closed during the request body", c->peer);
            zs_conn_close(c);
            return false;
        }
    }
    return true;
}

/* ---- Response ---- */

/* Output queued for the client: bytes in wbuf, then a file segment. */
static bool
app_output_pending(const struct zs_conn *c)
{
    return c->wpos < c->wlen || c->seg_index < c->seg_count;
}

static bool
app_body_allowed(const struct zs_conn *c)
{
    int status = c->req.status;

    return !c->req.head && status != 204 && status != 304 && status >= 200;
}

void
zs_app_head(struct zs_app_io *io, int status, const struct zs_app_header *headers, size_t count,
            int64_t content_length)
{
    struct zs_conn *c = app_conn(io);

    if (c->app.head_sent)
        return;
    c->app.head_sent = true;
    zs_resp_begin(c, status);
    for (size_t i = 0; i < count; i++) {
        const struct zs_app_header *h = &headers[i];
        if (zs_resp_reserve(c, h->name_len + h->value_len + 4) == -1) {
            c->close_after = true;
            break;
        }
        memcpy(c->wbuf + c->wlen, h->name, h->name_len);
        c->wlen += h->name_len;
        memcpy(c->wbuf + c->wlen, ": ", 2);
        c->wlen += 2;
        memcpy(c->wbuf + c->wlen, h->value, h->value_len);
        c->wlen += h->value_len;
        memcpy(c->wbuf + c->wlen, "\r\n", 2);
        c->wlen += 2;
    }

    c->app.content_length = content_length;
    if (!app_body_allowed(c)) {
        /* HEAD keeps the Content-Length the application declared, except
         * on 204 and 304, which have none (RFC 9110 8.6). */
        zs_resp_end_headers(c, c->req.head && status != 204 && status != 304 ? content_length : -1);
    } else if (content_length >= 0) {
        zs_resp_end_headers(c, content_length);
    } else if (c->req.http_minor >= 1) {
        c->app.chunked = true;
        zs_resp_header(c, "Transfer-Encoding", "chunked", 7);
        zs_resp_end_headers(c, -1);
    } else {
        /* HTTP/1.0 without a length: the end of the body is the close. */
        c->close_after = true;
        zs_resp_end_headers(c, -1);
    }
    app_schedule(c);
}

static void
app_compact_output(struct zs_conn *c)
{
    if (c->wpos == 0 || c->wpos < c->wlen / 2)
        return;
    memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
    c->wlen -= c->wpos;
    c->wpos = 0;
}

static void
app_append(struct zs_conn *c, const char *data, size_t len)
{
    if (zs_resp_reserve(c, len) == -1) {
        c->app.failed_after_head = true;
        return;
    }
    memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
}

int
zs_app_body(struct zs_app_io *io, const char *data, size_t len)
{
    struct zs_conn *c = app_conn(io);

    if (!c->app.head_sent || c->app.failed_after_head)
        return 0;
    if (len > 0 && app_body_allowed(c)) {
        if (c->app.content_length >= 0) {
            int64_t room = c->app.content_length - c->req.body_bytes;
            if ((int64_t)len > room) {
                zs_log_warn("client %s: application sent more than its Content-Length of %lld",
                            c->peer, (long long)c->app.content_length);
                len = (size_t)room;
                c->app.incomplete = true;
            }
        }
        app_compact_output(c);
        if (c->app.chunked) {
            char size_line[24];
            int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
            app_append(c, size_line, (size_t)n);
            app_append(c, data, len);
            app_append(c, "\r\n", 2);
        } else {
            app_append(c, data, len);
        }
        c->req.body_bytes += (int64_t)len;
    }
    app_schedule(c);
    if (c->wlen - c->wpos >= APP_OUT_HIGH) {
        c->app.paused = true;
        return 0;
    }
    return 1;
}

int
zs_app_raw(struct zs_app_io *io, const char *data, size_t len)
{
    struct zs_conn *c = app_conn(io);

    if (!c->app.head_sent) {
        /* The script wrote the status line itself: log its status if it reads as one. */
        c->app.head_sent = true;
        c->app.raw = true;
        c->close_after = true;
        c->req.status = 200;
        if (len >= 12 && memcmp(data, "HTTP/1.", 7) == 0)
            c->req.status = atoi(data + 9);
    }
    app_compact_output(c);
    app_append(c, data, len);
    c->req.body_bytes += (int64_t)len;
    app_schedule(c);
    if (c->wlen - c->wpos >= APP_OUT_HIGH) {
        c->app.paused = true;
        return 0;
    }
    return 1;
}

int
zs_app_sendfile(struct zs_app_io *io, int fd, int64_t offset, int64_t len)
{
    struct zs_conn *c = app_conn(io);
    struct zs_file *f;

    if (!c->app.head_sent || c->app.chunked || c->app.raw || c->seg_count > 0 || c->req.body_bytes > 0)
        return -1;
    if (c->app.failed_after_head || !app_body_allowed(c) || len <= 0) {
        close(fd);
        return 0;
    }
    if (c->app.content_length >= 0 && len > c->app.content_length)
        len = c->app.content_length;
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        close(fd);
        c->app.failed_after_head = true;
        return 0;
    }
    f->fd = fd;
    f->refs = 1;
    c->file = f;
    c->segs[0] = (struct zs_segment){ .offset = offset, .len = len, .is_file = true };
    c->seg_count = 1;
    c->seg_index = 0;
    c->req.body_bytes += len;
    app_schedule(c);
    return 0;
}

/* Streamed pieces go out as they come: Nagle's algorithm would hold a
 * small one back until the previous one is acknowledged. */
static void
app_nodelay(struct zs_conn *c)
{
    int one = 1;

    if (c->nodelay)
        return;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->nodelay = true;
}

/* Writes queued bytes until the socket is full. Returns 1 when all are
 * written, 0 when the socket is full, -1 when the client is gone (and marks
 * the response as cut short). */
static int
app_send_queued(struct zs_conn *c)
{
    while (!c->app.failed_after_head && c->wpos < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            c->wpos += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        c->app.failed_after_head = true;
    }
    return c->app.failed_after_head ? -1 : 1;
}

int
zs_app_flush(struct zs_app_io *io)
{
    struct zs_conn *c = app_conn(io);
    int r;

    app_nodelay(c);
    r = app_send_queued(c);
    if (r == 1) {
        c->wpos = c->wlen = 0;
        c->app.paused = false;
        return 1;
    }
    if (r == 0)
        c->app.paused = true;
    app_schedule(c);
    return r;
}

int
zs_app_drain(struct zs_app_io *io)
{
    struct zs_conn *c = app_conn(io);
    struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
    int r;

    app_nodelay(c);
    while ((r = app_send_queued(c)) == 0) {
        int ready = poll(&pfd, 1, zs_w.conf->send_timeout);
        if (ready == 0) {
            zs_log_info("client %s: send timed out while the application wrote", c->peer);
            c->app.failed_after_head = true;
        } else if (ready == -1 && errno != EINTR) {
            c->app.failed_after_head = true;
        }
    }
    app_compact_output(c);
    c->app.paused = false;
    return r == 1 ? 0 : -1;
}

void
zs_app_end(struct zs_app_io *io, bool complete)
{
    struct zs_conn *c = app_conn(io);

    c->app.state = NULL;
    c->app.ended = true;
    if (!complete)
        c->app.incomplete = true;
    app_schedule(c);
}

void
zs_app_fail(struct zs_app_io *io, int status)
{
    struct zs_conn *c = app_conn(io);

    c->app.state = NULL;
    c->app.ended = true;
    if (c->app.head_sent)
        c->app.incomplete = true;
    else
        c->app.fail_status = status;
    app_schedule(c);
}

void
zs_app_redirect_local(struct zs_app_io *io, const char *path, size_t len)
{
    struct zs_conn *c = app_conn(io);

    free(c->app.redirect);
    c->app.redirect = strndup(path, len);
    c->app.state = NULL;
    c->app.ended = true;
    if (c->app.redirect == NULL)
        c->app.fail_status = 500;
    app_schedule(c);
}

void
zs_app_body_resume(struct zs_app_io *io)
{
    struct zs_conn *c = app_conn(io);

    c->body_paused = false;
    app_schedule(c);
}

const char *
zs_app_peer(const struct zs_app_io *io)
{
    return ((const struct zs_conn *)io)->peer;
}

struct ev_loop *
zs_app_loop(void)
{
    return zs_w.loop;
}

const struct zs_config *
zs_app_config(void)
{
    return zs_w.conf;
}

int
zs_app_worker_count(void)
{
    return zs_w.pool->pool_workers;
}

/* ---- Steps ---- */

static void
app_reset(struct zs_conn *c)
{
    free(c->app.redirect);
    free(c->app.headers);
    memset(&c->app, 0, sizeof(c->app));
    c->app.spool_fd = -1;
    c->body_sink = NULL;
    c->body_paused = false;
}

/* Releases what the application request holds; the adapter is aborted when
 * it is still running. Called when the connection closes. */
void
zs_app_release(struct zs_conn *c)
{
    if (c->app.adapter == NULL)
        return;
    if (c->app.state != NULL)
        c->app.adapter->abort(c->app.state);
    c->app.state = NULL;
    /* A response cut short by the client or a timeout is logged, as a
     * static download is. */
    if (c->app.head_sent && !c->app.logged)
        zs_accesslog_write(c);
    app_spool_close(c);
    app_reset(c);
}

/* Re-serves the request as a GET of the application's local redirect target. */
static void
app_follow_redirect(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    char *target = c->app.redirect;
    unsigned hops = c->app.redirects + 1;
    char *query = strchr(target, '?');
    size_t path_len = query != NULL ? (size_t)(query - target) : strlen(target);
    char *path = malloc(path_len + 1);

    if (path == NULL || zs_path_normalize(target, path_len, path, &r->path_len) == -1) {
        free(path);
        zs_log_error("client %s: invalid local redirect \"%s\" from the application", c->peer, target);
        free(c->app.redirect);
        c->app.redirect = NULL;
        c->app.fail_status = 502;
        return;
    }
    zs_conn_set_path(c, path);
    r->method = HTTP_GET;
    r->head = false;
    r->content_type.p = NULL;
    r->content_type.len = 0;
    r->target.p = target;
    r->target.len = strlen(target);
    r->query.p = query != NULL ? query + 1 : NULL;
    r->query.len = query != NULL ? strlen(query + 1) : 0;
    r->location = zs_router_location(r->server, r->path, r->path_len);

    /* The redirect string now backs the request's spans: keep it. */
    c->app.redirect = NULL;
    free(c->app.redirect_kept);
    c->app.redirect_kept = target;

    bool body_read = c->app.body_read;
    char *kept = c->app.redirect_kept;
    struct zs_header *headers = c->app.headers;
    size_t header_count = c->app.header_count;
    app_spool_close(c);
    memset(&c->app, 0, sizeof(c->app));
    c->app.spool_fd = -1;
    c->app.redirect_kept = kept;
    c->app.headers = headers;
    c->app.header_count = header_count;
    c->app.redirects = hops;
    c->app.body_read = body_read;

    if (hops > MAX_LOCAL_REDIRECTS) {
        zs_log_error("client %s: more than %d local redirects", c->peer, MAX_LOCAL_REDIRECTS);
        c->app.adapter = &failed_adapter;
        c->app.fail_status = 500;
        return;
    }
    if (!zs_app_wanted(c)) {
        c->app.adapter = NULL;
        zs_conn_handle_local(c);
        return;
    }
    c->app.adapter = app_adapter(r->location);
    c->app.body_length = 0;
    c->app.body_fed = true;
    if (app_start(c) == 0)
        c->app.adapter->body(c->app.state, "", 0, true);
}

/* Sends the error page of a request that failed before its head was sent. */
static void
app_answer_error(struct zs_conn *c)
{
    int status = c->app.fail_status;

    if (c->app.state != NULL)
        c->app.adapter->abort(c->app.state);
    c->app.state = NULL;
    c->app.ended = true;
    c->app.head_sent = true;
    c->app.fail_status = 0;
    if (!c->app.body_read) {
        c->close_after = true;
        c->linger = true;
    }
    zs_resp_error(c, status);
}

/* With the body read, the client socket is watched only for the client
 * going away: its end of file aborts the application's work, which would
 * otherwise go on, and hold a backend slot, with no client to receive it. Bytes that arrive
 * instead are the next pipelined request and stay in rbuf. Returns false
 * when the connection was closed. */
static bool
app_watch_client(struct zs_conn *c)
{
    if (!c->app.body_read || c->app.ended || c->rlen == c->rcap)
        return true;
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n > 0) {
        c->rlen += (size_t)n;
        return true;
    }
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    zs_log_info("client %s: connection closed before the application answered", c->peer);
    zs_conn_close(c);
    return false;
}

static void
app_update_events(struct zs_conn *c)
{
    bool reading = !c->app.body_read && !c->body_paused && c->app.fail_status == 0;
    bool writing = app_output_pending(c);
    bool watching = c->app.body_read && !c->app.ended && c->rlen < c->rcap;
    ev_tstamp now = ev_now(zs_w.loop);

    if (writing)
        c->deadline = now + zs_w.conf->send_timeout / 1000.0;
    else if (reading)
        c->deadline = now + zs_w.conf->body_timeout / 1000.0;
    else
        c->deadline = now + NO_DEADLINE;
    zs_conn_set_events(c, (reading || watching ? EV_READ : 0) | (writing ? EV_WRITE : 0));
}

/* Finishes the response once everything is written. Returns false when the
 * connection was closed or moved on to its next request. */
static bool
app_try_finish(struct zs_conn *c)
{
    if (!c->app.ended || app_output_pending(c) || c->app.redirect != NULL)
        return true;
    if (c->app.chunked && !c->app.incomplete && app_body_allowed(c)) {
        app_append(c, "0\r\n\r\n", 5);
        c->app.chunked = false;
        return true;     /* written by the next round */
    }
    if (!c->app.incomplete && !c->app.raw && c->app.content_length >= 0 && app_body_allowed(c)
        && c->req.body_bytes < c->app.content_length) {
        zs_log_warn("client %s: application sent %lld of its Content-Length of %lld bytes",
                    c->peer, (long long)c->req.body_bytes, (long long)c->app.content_length);
        c->app.incomplete = true;
    }
    if (c->app.incomplete || c->app.failed_after_head) {
        /* The client must see that the body is cut short: close without lingering. */
        zs_accesslog_write(c);
        c->app.logged = true;
        zs_conn_close(c);
        return false;
    }
    if (!c->app.body_read) {
        c->close_after = true;
        c->linger = true;
    }
    app_spool_close(c);
    char *kept = c->app.redirect_kept;
    app_reset(c);
    c->req.target.p = NULL;
    free(kept);
    if (zs_conn_finish(c))
        zs_conn_process(c);
    return false;
}

static void
app_step(struct zs_conn *c)
{
    c->app.in_step = true;
    do {
        c->app.again = false;

        if (c->app.redirect != NULL) {
            app_follow_redirect(c);
            if (c->app.adapter == NULL)
                return;  /* served locally: the connection has moved on */
        }
        if (c->app.fail_status != 0 && !c->app.head_sent)
            app_answer_error(c);
        if (!c->app.body_read && !c->body_paused && !app_read_body(c, true))
            return;
        if (c->app.spool_buf != NULL && !c->app.body_fed && !c->body_paused)
            app_feed_spool(c);
        if (c->app.fail_status != 0 && !c->app.head_sent) {
            c->app.again = true;
            continue;
        }
        if (app_output_pending(c)) {
            int r = zs_conn_flush(c);
            if (r == -1)
                return;
        }
        if (c->app.paused && c->wlen - c->wpos < APP_OUT_HIGH / 2 && c->app.state != NULL) {
            c->app.paused = false;
            c->app.adapter->resume(c->app.state);
        }
        if (!app_try_finish(c))
            return;
    } while (c->app.again);
    c->app.in_step = false;
    app_update_events(c);
}

void
zs_app_event(struct zs_conn *c, int revents)
{
    c->app.fed = false;
    if ((revents & EV_READ) && c->app.body_read && !app_watch_client(c))
        return;
    app_step(c);
}

/* Static-only servers skip the index lookup below. */
static bool
app_server_has_apps(const struct zs_server *srv)
{
    for (size_t i = 0; i < srv->srv_location_count; i++)
        if (srv->srv_locations[i].loc_handler != ZS_HANDLER_STATIC)
            return true;
    return false;
}

/* nginx's index rule for applications: a request for a directory whose
 * first existing index file is run by an application (index.php, doku.php)
 * goes to that application, body included, as a request for the file. An
 * index file served as a static file is left to the static handler. */
void
zs_app_route_index(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    const struct zs_location *loc = r->location;

    if (loc == NULL || loc->loc_return_status != 0 || loc->loc_handler != ZS_HANDLER_STATIC
        || r->path_len == 0 || r->path[r->path_len - 1] != '/' || !app_server_has_apps(r->server))
        return;
    for (size_t i = 0; i < loc->loc_index_count; i++) {
        size_t name_len = strlen(loc->loc_index[i]);
        size_t len = r->path_len + name_len;
        char *path = malloc(len + 1);
        if (path == NULL)
            return;
        memcpy(path, r->path, r->path_len);
        memcpy(path + r->path_len, loc->loc_index[i], name_len + 1);

        const struct zs_location *target = zs_router_location(r->server, path, len);
        struct stat st;
        /* Only whether the file exists: the handler opens it safely below its root. */
        bool exists = target != NULL && target->loc_root_fd != -1
                      && fstatat(target->loc_root_fd, path + 1, &st, 0) == 0 && S_ISREG(st.st_mode);
        if (!exists) {
            free(path);
            continue;
        }
        if (target->loc_return_status == 0 && target->loc_handler != ZS_HANDLER_STATIC) {
            zs_conn_set_path(c, path);
            r->path_len = len;
            r->location = target;
            return;
        }
        free(path);
        return;
    }
}

/* Takes over a request whose head is parsed and whose location runs an
 * application: starts the adapter now for a body of known length, or after
 * spooling a chunked one. */
void
zs_app_begin(struct zs_conn *c)
{
    struct zs_request *r = &c->req;

    app_reset(c);
    c->state = CONN_APP;
    c->app.adapter = app_adapter(r->location);
    if (app_headers_keep(c) == -1)
        c->app.fail_status = 500;
    c->app.in_step = true;
    c->app.body_length = r->body_kind == ZS_BODY_LENGTH ? r->content_length : 0;
    c->app.body_read = r->body_kind == ZS_BODY_NONE;
    if (r->body_kind == ZS_BODY_CHUNKED || c->app.body_length > (int64_t)(c->rcap - c->rlen))
        zs_conn_rbuf_grow_for_body(c);

    if (r->body_kind == ZS_BODY_CHUNKED) {
        if (app_spool_open(c) == -1) {
            c->app.fail_status = 500;
        } else {
            c->body_sink = app_spool_sink;
        }
    } else if (app_start(c) == 0) {
        c->body_sink = app_body_sink;
        if (c->app.body_read) {
            c->app.body_fed = true;
            c->app.adapter->body(c->app.state, "", 0, true);
        }
    }
    if (c->req.expect_continue && !c->app.body_read && c->app.fail_status == 0 && r->http_minor >= 1) {
        static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->sent_continue = true;
        zs_resp_body_mem(c, line, sizeof(line) - 1);
    }
    c->app.in_step = false;
    app_step(c);
}
