/* HTTP/1.1 request heads and bodies: the checks http-parser lacks, then
 * http-parser for the request line and header syntax, then our own body
 * framing (Content-Length and chunked), so that ambiguous framing is rejected. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/path.h"
#include "lib/strutil.h"
#include "worker/worker.h"


/* Bytes of a request line that are checked before its line end arrives.
 * The longest method that http-parser 2.9 parses, UNSUBSCRIBE, has 11. */
#define METHOD_CHECK_MAX 32

/* Tells whether the start of a request line can still be a method followed by
 * SP. A TLS ClientHello or other binary data may contain no line end while
 * its sender waits for a response, so it is rejected before the line ends. */
static bool
method_start_valid(const char *p, size_t len)
{
    if (len > METHOD_CHECK_MAX)
        len = METHOD_CHECK_MAX;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ')
            return i > 0;
        if (!zs_is_tchar(p[i]))
            return false;
    }
    return true;
}

/* Checks one complete line of the head. Lines end in CRLF or LF (RFC 9112
 * 2.2 lets a recipient accept a bare LF); a CR anywhere else is rejected. */
static int
scan_line(struct zs_conn *c, const char *line, size_t len, bool first, int *status)
{
    if (memchr(line, '\r', len) != NULL) {
        *status = 400;
        return -1;
    }
    if (first) {
        if (len > ZS_MAX_REQUEST_LINE) {
            *status = 414;
            return -1;
        }
        c->req.line.p = line;
        c->req.line.len = len;
        return 0;
    }
    if (len > ZS_MAX_HEADER_LINE) {
        *status = 431;
        return -1;
    }
    /* RFC 9112 5.2: obsolete line folding is rejected with 400. */
    if (zs_is_ows(line[0])) {
        *status = 400;
        return -1;
    }
    /* RFC 9112 5.1: the field name is a token, with no whitespace before the
     * colon. http-parser as Debian builds it (not HTTP_PARSER_STRICT) lets a
     * space through inside a name, so the name is checked here. */
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || !zs_is_token(line, (size_t)(colon - line))) {
        *status = 400;
        return -1;
    }
    if (++c->req.header_count > ZS_MAX_HEADERS_COUNT) {
        *status = 431;
        return -1;
    }
    return 0;
}

enum zs_head_result
zs_http1_scan_head(struct zs_conn *c, int *status)
{
    /* RFC 9112 2.2: empty lines before the request line are ignored. */
    if (c->req.line.p == NULL) {
        while (c->rpos < c->rlen) {
            char ch = c->rbuf[c->rpos];
            if (ch == '\n') {
                c->rpos++;
                continue;
            }
            /* A CR counts only with its LF; a bare one is left to the
             * scanner, which rejects it, and a last one waits for more. */
            if (ch != '\r' || c->rpos + 1 == c->rlen || c->rbuf[c->rpos + 1] != '\n')
                break;
            c->rpos += 2;
        }
        if (c->rscan < c->rpos)
            c->rscan = c->rpos;
        if (c->rpos == c->rlen)
            c->head_started = false;
    }

    for (;;) {
        const char *start = c->rbuf + c->rscan;
        const char *nl = memchr(start, '\n', c->rlen - c->rscan);
        bool first = c->req.line.p == NULL;

        if (nl == NULL) {
            size_t partial = c->rlen - c->rscan;
            if (first && partial == 1 && start[0] == '\r')
                return HEAD_INCOMPLETE;
            if (first && !method_start_valid(start, partial)) {
                *status = 400;
                return HEAD_ERROR;
            }
            if (first && partial > ZS_MAX_REQUEST_LINE + 1) {
                *status = 414;
                return HEAD_ERROR;
            }
            if ((!first && partial > ZS_MAX_HEADER_LINE + 1) || c->rlen - c->rpos > ZS_MAX_HEADERS_SIZE) {
                *status = 431;
                return HEAD_ERROR;
            }
            return HEAD_INCOMPLETE;
        }

        size_t len = (size_t)(nl - start);
        if (len > 0 && nl[-1] == '\r')
            len--;
        c->rscan = (size_t)(nl - c->rbuf) + 1;
        if (c->rscan - c->rpos > ZS_MAX_HEADERS_SIZE) {
            *status = 431;
            return HEAD_ERROR;
        }
        if (len == 0 && !first) {
            c->body_pos = c->rscan;
            return HEAD_COMPLETE;
        }
        if (scan_line(c, start, len, first, status) == -1)
            return HEAD_ERROR;
    }
}

/* http-parser callbacks: the whole head is passed in one call, so every
 * field and value arrives in one piece. */

static int
on_url(http_parser *p, const char *at, size_t len)
{
    struct zs_conn *c = p->data;

    c->req.target.p = at;
    c->req.target.len = len;
    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
    struct zs_conn *c = p->data;
    struct zs_header *h = &c->req.headers[c->req.header_count++];

    h->name = at;
    h->name_len = len;
    h->value = "";
    h->value_len = 0;
    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
    struct zs_conn *c = p->data;
    struct zs_header *h = &c->req.headers[c->req.header_count - 1];

    zs_str_trim_ows(&at, &len);
    h->value = at;
    h->value_len = len;
    return 0;
}

/* Returning 1 makes http-parser treat the message as bodiless, because body framing is ours. */
static int
on_headers_complete(http_parser *p)
{
    return 1;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

static bool
is_method_token(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && line[i] >= 'A' && line[i] <= 'Z')
        i++;
    return i > 0 && i < len && line[i] == ' ';
}

static int
parser_error_status(struct zs_conn *c)
{
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

    zs_log_debug("client %s: invalid request: %s", c->peer, http_errno_description(err));
    if (err == HPE_INVALID_METHOD && is_method_token(c->req.line.p, c->req.line.len))
        return 501;
    return 400;
}

#define SPAN_SET(span, h) ((span).p = (h)->value, (span).len = (h)->value_len)

/* Notes one header the server acts on. Returns an error status or 0. */
static int
header_note(struct zs_conn *c, const struct zs_header *h, int *host_count, int *cl_count,
            int *te_count)
{
    struct zs_request *r = &c->req;
    const char *n = h->name;
    size_t len = h->name_len;

    switch (len) {
    case 4:
        if (zs_str_ieq(n, len, "host")) {
            (*host_count)++;
            SPAN_SET(r->host, h);
        }
        break;
    case 5:
        if (zs_str_ieq(n, len, "range"))
            SPAN_SET(r->range, h);
        break;
    case 6:
        if (zs_str_ieq(n, len, "expect")) {
            if (!zs_str_ieq(h->value, h->value_len, "100-continue"))
                return 417;
            r->expect_continue = true;
        }
        break;
    case 7:
        if (zs_str_ieq(n, len, "referer"))
            SPAN_SET(r->referer, h);
        break;
    case 8:
        if (zs_str_ieq(n, len, "if-match"))
            SPAN_SET(r->if_match, h);
        else if (zs_str_ieq(n, len, "if-range"))
            SPAN_SET(r->if_range, h);
        break;
    case 10:
        if (zs_str_ieq(n, len, "user-agent"))
            SPAN_SET(r->user_agent, h);
        break;
    case 12:
        if (zs_str_ieq(n, len, "content-type"))
            SPAN_SET(r->content_type, h);
        break;
    case 13:
        if (zs_str_ieq(n, len, "if-none-match"))
            SPAN_SET(r->if_none_match, h);
        break;
    case 14:
        if (zs_str_ieq(n, len, "content-length")) {
            (*cl_count)++;
            if (zs_parse_int64(h->value, h->value_len, &r->content_length) == -1)
                return 400;
        }
        break;
    case 15:
        if (zs_str_ieq(n, len, "accept-encoding"))
            SPAN_SET(r->accept_encoding, h);
        break;
    case 17:
        if (zs_str_ieq(n, len, "if-modified-since"))
            SPAN_SET(r->if_modified_since, h);
        else if (zs_str_ieq(n, len, "transfer-encoding")) {
            (*te_count)++;
            /* RFC 9112 6.1: only "chunked" is implemented; others get 501. */
            if (!zs_str_ieq(h->value, h->value_len, "chunked"))
                return 501;
        }
        break;
    case 19:
        if (zs_str_ieq(n, len, "if-unmodified-since"))
            SPAN_SET(r->if_unmodified_since, h);
        break;
    }
    return 0;
}

/* Applies RFC 9112 6.3 strictly: a request with both Content-Length and
 * Transfer-Encoding, or with either repeated, is rejected rather than guessed. */
static int
headers_check(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    int host_count = 0, cl_count = 0, te_count = 0;

    for (size_t i = 0; i < r->header_count; i++) {
        int status = header_note(c, &r->headers[i], &host_count, &cl_count, &te_count);
        if (status != 0)
            return status;
    }
    if (cl_count > 1 || te_count > 1 || (cl_count && te_count))
        return 400;
    if (te_count && r->http_minor == 0)
        return 400;
    /* RFC 9112 3.2: an HTTP/1.1 request needs exactly one Host, even with an
     * absolute-form target. */
    if (host_count > 1 || (host_count == 0 && r->http_minor >= 1))
        return 400;

    if (te_count) {
        r->body_kind = ZS_BODY_CHUNKED;
        c->chunk_state = CHUNK_SIZE;
        c->chunk_line = 0;
        c->chunk_digits = 0;
        c->trailer_bytes = 0;
        c->body_left = 0;
    } else if (cl_count && r->content_length > 0) {
        r->body_kind = ZS_BODY_LENGTH;
        c->body_left = r->content_length;
    }
    return 0;
}

/* Splits the request-target (RFC 9112 3.2) into path and query; the
 * absolute form also names the host, which then overrides Host. */
static int
target_split(struct zs_request *r)
{
    const char *t = r->target.p;
    size_t len = r->target.len;
    bool absolute = false;

    if (len >= 7 && (zs_str_ieq(t, 7, "http://") || (len >= 8 && zs_str_ieq(t, 8, "https://")))) {
        const char *auth = t + (t[4] == ':' ? 7 : 8);
        const char *end = t + len;
        const char *authend = auth;
        while (authend < end && *authend != '/' && *authend != '?')
            authend++;
        if (authend == auth || memchr(auth, '@', (size_t)(authend - auth)) != NULL)
            return -1;
        r->host.p = auth;
        r->host.len = (size_t)(authend - auth);
        t = authend;
        len = (size_t)(end - authend);
        absolute = true;
    }
    if (memchr(t, '#', len) != NULL)
        return -1;
    const char *q = memchr(t, '?', len);
    size_t path_len = q != NULL ? (size_t)(q - t) : len;
    if (q != NULL) {
        r->query.p = q + 1;
        r->query.len = len - path_len - 1;
    }
    if (path_len == 0 && absolute) {
        /* RFC 9110 4.2.3: an empty path in an http or https URI is "/". */
        r->path_raw.p = "/";
        r->path_raw.len = 1;
        return 0;
    }
    if (path_len == 0 || t[0] != '/')
        return -1;
    r->path_raw.p = t;
    r->path_raw.len = path_len;
    return 0;
}

/* Strips the port and one trailing dot from the host; rejects bytes that
 * cannot appear in a host name or an IP literal. */
/* A port after the host: empty (RFC 3986 allows it) or 0 to 65535. */
static bool
port_valid(const char *p, size_t len)
{
    unsigned value = 0;

    if (len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        value = value * 10 + (unsigned)(p[i] - '0');
    }
    return value <= 65535;
}

static int
host_normalize(struct zs_span *host)
{
    const char *p = host->p;
    size_t len = host->len;

    if (len == 0)
        return 0;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', len);
        if (close == NULL)
            return -1;
        host->len = (size_t)(close - p) + 1;
        if (host->len < len && (p[host->len] != ':' || !port_valid(p + host->len + 1, len - host->len - 1)))
            return -1;
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == ':') {
            if (!port_valid(p + i + 1, len - i - 1))
                return -1;
            len = i;
            break;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '.' || ch == '_'))
            return -1;
    }
    if (len > 0 && p[len - 1] == '.')
        len--;
    host->len = len;
    return 0;
}

static int
path_decode(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    char *out = c->pathbuf;

    if (r->path_raw.len + 1 > sizeof(c->pathbuf)) {
        out = malloc(r->path_raw.len + 1);
        if (out == NULL)
            return 500;
    }
    if (zs_path_normalize(r->path_raw.p, r->path_raw.len, out, &r->path_len) == -1) {
        if (out != c->pathbuf)
            free(out);
        return 400;
    }
    r->path = out;
    return 0;
}

static int64_t
body_max(const struct zs_conn *c)
{
    if (c->req.location == NULL)
        return ZS_CLIENT_MAX_BODY_SIZE;
    /* 0 turns the limit off, as in nginx. */
    if (c->req.location->loc_client_max_body_size == 0)
        return INT64_MAX;
    return c->req.location->loc_client_max_body_size;
}

int
zs_http1_parse_head(struct zs_conn *c, int *status)
{
    struct zs_request *r = &c->req;
    size_t head_len = c->body_pos - c->rpos;

    r->header_count = 0;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    size_t n = http_parser_execute(&c->parser, &parser_settings, c->rbuf + c->rpos, head_len);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || n != head_len) {
        *status = parser_error_status(c);
        return -1;
    }

    r->method = c->parser.method;
    r->http_major = c->parser.http_major;
    r->http_minor = c->parser.http_minor;
    r->head = r->method == HTTP_HEAD;
    if (r->http_major != 1) {
        *status = 505;
        return -1;
    }
    r->keep_alive = http_should_keep_alive(&c->parser);

    if ((*status = headers_check(c)) != 0)
        return -1;
    /* CONNECT requests a tunnel, which an origin server does not offer, and
     * its authority-form target has no path to route. So, like any target in
     * neither origin nor absolute form, it gets 400. */
    if (r->method == HTTP_CONNECT || target_split(r) == -1 || host_normalize(&r->host) == -1) {
        *status = 400;
        return -1;
    }
    if ((*status = path_decode(c)) != 0)
        return -1;

    r->server = zs_router_server(c->lis, r->host.p, r->host.len);
    r->location = zs_router_location(r->server, r->path, r->path_len);
    if (r->body_kind == ZS_BODY_LENGTH && r->content_length > body_max(c)) {
        *status = 413;
        return -1;
    }
    return 0;
}

/* Removes n consumed body bytes at body_pos from rbuf, keeping what follows. */
static void
body_consume(struct zs_conn *c, size_t n)
{
    memmove(c->rbuf + c->body_pos, c->rbuf + c->body_pos + n, c->rlen - c->body_pos - n);
    c->rlen -= n;
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Steps the chunked decoder (RFC 9112 7.1) over one byte of framing.
 * Returns 0 to go on, -1 on a framing error. */
static int
chunk_framing_byte(struct zs_conn *c, char ch)
{
    int v;

    switch (c->chunk_state) {
    case CHUNK_SIZE:
        v = hex_value(ch);
        if (v >= 0) {
            c->chunk_line++;
            /* 15 hex digits keep the size below 2^60, far past any body limit. */
            if (++c->chunk_digits > 15)
                return -1;
            c->body_left = c->body_left * 16 + v;
            return 0;
        }
        if (c->chunk_digits == 0)
            return -1;
        /* The byte after the digits: the same rules as the whitespace after them. */
        __attribute__((fallthrough));
    case CHUNK_SIZE_WS:
        /* RFC 9112 7.1.1: only whitespace (BWS) may come between the size
         * and ';'; "5 6" or "5 junk" would be read differently by others. */
        if (ch == ';') {
            c->chunk_line++;
            c->chunk_state = CHUNK_EXT;
            return 0;
        }
        if (ch == ' ' || ch == '\t') {
            if (++c->chunk_line > ZS_MAX_CHUNK_LINE)
                return -1;
            c->chunk_state = CHUNK_SIZE_WS;
            return 0;
        }
        if (ch == '\r') {
            c->chunk_state = CHUNK_SIZE_LF;
            return 0;
        }
        if (ch == '\n')
            goto size_done;
        return -1;
    case CHUNK_EXT:
        if (ch == '\r') {
            c->chunk_state = CHUNK_SIZE_LF;
            return 0;
        }
        if (ch == '\n')
            goto size_done;
        if (++c->chunk_line > ZS_MAX_CHUNK_LINE)
            return -1;
        if ((unsigned char)ch < 0x20 && ch != '\t')
            return -1;
        return 0;
    case CHUNK_SIZE_LF:
        if (ch != '\n')
            return -1;
        goto size_done;
    case CHUNK_DATA_CR:
        if (ch == '\n') {
            c->chunk_state = CHUNK_SIZE;
            return 0;
        }
        if (ch != '\r')
            return -1;
        c->chunk_state = CHUNK_DATA_LF;
        return 0;
    case CHUNK_DATA_LF:
        if (ch != '\n')
            return -1;
        c->chunk_state = CHUNK_SIZE;
        return 0;
    case CHUNK_TRAILER:
        if (++c->trailer_bytes > ZS_MAX_HEADERS_SIZE)
            return -1;
        if (ch == '\r') {
            c->chunk_state = CHUNK_TRAILER_LF;
            return 0;
        }
        if (ch == '\n')
            goto trailer_line_done;
        c->chunk_line++;
        return 0;
    case CHUNK_TRAILER_LF:
        if (ch != '\n')
            return -1;
        goto trailer_line_done;
    case CHUNK_DATA:
    case CHUNK_DONE:
        return -1;
    }
    return -1;

size_done:
    c->chunk_line = 0;
    c->chunk_digits = 0;
    c->chunk_state = c->body_left == 0 ? CHUNK_TRAILER : CHUNK_DATA;
    return 0;

trailer_line_done:
    c->chunk_state = c->chunk_line == 0 ? CHUNK_DONE : CHUNK_TRAILER;
    c->chunk_line = 0;
    return 0;
}

/* Hands n body bytes at pos to the connection's sink (NULL drops them) and
 * returns how many it took. */
static size_t
body_deliver(struct zs_conn *c, size_t pos, size_t n)
{
    if (c->body_sink == NULL || n == 0)
        return n;
    size_t taken = c->body_sink(c, c->rbuf + pos, n);
    if (taken < n)
        c->body_paused = true;
    return taken;
}

static int
body_read_chunked(struct zs_conn *c, int *status)
{
    int64_t max = body_max(c);
    size_t pos = c->body_pos;
    int result = 0;

    while (pos < c->rlen && c->chunk_state != CHUNK_DONE && !c->body_paused) {
        if (c->chunk_state == CHUNK_DATA) {
            size_t avail = c->rlen - pos;
            size_t take = (int64_t)avail < c->body_left ? avail : (size_t)c->body_left;
            if (c->body_total + (int64_t)take > max) {
                *status = 413;
                return -1;
            }
            take = body_deliver(c, pos, take);
            c->body_left -= (int64_t)take;
            c->body_total += (int64_t)take;
            pos += take;
            if (c->body_left == 0)
                c->chunk_state = CHUNK_DATA_CR;
            continue;
        }
        if (c->chunk_state == CHUNK_SIZE && c->chunk_line == 0)
            c->body_left = 0;
        if (chunk_framing_byte(c, c->rbuf[pos]) == -1) {
            *status = 400;
            result = -1;
            break;
        }
        pos++;
    }
    /* Framing and delivered data leave rbuf; what follows the body stays. */
    body_consume(c, pos - c->body_pos);
    if (result == -1)
        return -1;
    return c->chunk_state == CHUNK_DONE ? 1 : 0;
}

/* Reads body bytes from rbuf into the connection's sink, or drops them when
 * it has none. Returns 1 when the body is complete, 0 when more must be read
 * (or the sink paused), -1 on a framing error or an oversized body. */
int
zs_http1_read_body(struct zs_conn *c, int *status)
{
    switch (c->req.body_kind) {
    case ZS_BODY_NONE:
        return 1;
    case ZS_BODY_LENGTH: {
        size_t avail = c->rlen - c->body_pos;
        size_t take = (int64_t)avail < c->body_left ? avail : (size_t)c->body_left;
        take = body_deliver(c, c->body_pos, take);
        body_consume(c, take);
        c->body_left -= (int64_t)take;
        c->body_total += (int64_t)take;
        return c->body_left == 0 ? 1 : 0;
    }
    case ZS_BODY_CHUNKED:
        return body_read_chunked(c, status);
    }
    return -1;
}
