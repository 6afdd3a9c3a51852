/* Response heads, error pages and redirects, written into the connection's wbuf. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/defaults.h"
#include "lib/httpdate.h"
#include "lib/log.h"
#include "worker/worker.h"

static char date_header[ZS_HTTP_DATE_LEN + 1];
static time_t date_second = -1;

void
zs_resp_date_update(ev_tstamp now)
{
    time_t t = (time_t)now;

    if (t == date_second)
        return;
    date_second = t;
    zs_http_date_format(t, date_header);
}

const char *
zs_resp_date(void)
{
    return date_header;
}

const char *
zs_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Makes room for need more bytes in wbuf; returns 0 or -1 when out of memory. */
int
zs_resp_reserve(struct zs_conn *c, size_t need)
{
    if (c->wlen + need <= c->wcap)
        return 0;
    size_t cap = c->wcap;
    while (cap < c->wlen + need)
        cap *= 2;
    char *p = realloc(c->wbuf, cap);
    if (p == NULL)
        return -1;
    c->wbuf = p;
    c->wcap = cap;
    return 0;
}

static void
resp_append(struct zs_conn *c, const char *data, size_t len)
{
    if (zs_resp_reserve(c, len) == -1) {
        c->close_after = true;
        return;
    }
    memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
}

/* Writes the decimal digits of a non-negative value; returns their count. */
static size_t
format_uint(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The status line and the Server and Date headers open every response;
 * they are assembled without printf because they are on every request. */
void
zs_resp_begin(struct zs_conn *c, int status)
{
    static const char server_date[] = "\r\nServer: " ZS_SERVER_NAME "\r\nDate: ";
    const char *reason = zs_status_reason(status);
    size_t rlen = strlen(reason);

    c->req.status = status;
    if (zs_resp_reserve(c, 13 + rlen + sizeof(server_date) + ZS_HTTP_DATE_LEN + 2) == -1) {
        c->close_after = true;
        return;
    }
    char *p = c->wbuf + c->wlen;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    p += format_uint(p, (uint64_t)status);
    *p++ = ' ';
    memcpy(p, reason, rlen);
    p += rlen;
    memcpy(p, server_date, sizeof(server_date) - 1);
    p += sizeof(server_date) - 1;
    memcpy(p, date_header, ZS_HTTP_DATE_LEN);
    p += ZS_HTTP_DATE_LEN;
    *p++ = '\r';
    *p++ = '\n';
    c->wlen = (size_t)(p - c->wbuf);
}

void
zs_resp_header(struct zs_conn *c, const char *name, const char *value, size_t len)
{
    size_t nlen = strlen(name);

    if (zs_resp_reserve(c, nlen + len + 4) == -1) {
        c->close_after = true;
        return;
    }
    char *p = c->wbuf + c->wlen;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    c->wlen = (size_t)(p - c->wbuf);
}

void
zs_resp_header_int(struct zs_conn *c, const char *name, int64_t value)
{
    char num[24];
    size_t n;

    if (value < 0) {
        num[0] = '-';
        n = 1 + format_uint(num + 1, (uint64_t)0 - (uint64_t)value);
    } else {
        n = format_uint(num, (uint64_t)value);
    }
    zs_resp_header(c, name, num, n);
}

/* content_length < 0 sends no Content-Length (304, 204). */
void
zs_resp_end_headers(struct zs_conn *c, int64_t content_length)
{
    if (content_length >= 0)
        zs_resp_header_int(c, "Content-Length", content_length);
    if (c->close_after)
        resp_append(c, "Connection: close\r\n\r\n", 21);
    else if (c->req.http_minor == 0)
        resp_append(c, "Connection: keep-alive\r\n\r\n", 26);
    else
        resp_append(c, "\r\n", 2);
}

void
zs_resp_body_mem(struct zs_conn *c, const char *data, size_t len)
{
    resp_append(c, data, len);
}

/* Error pages are formatted once per status and kept: a 404 flood should cost
 * no more than the bytes it sends. */
struct html_page {
    char *body;
    size_t len;
};

static struct html_page html_pages[600];

static const struct html_page *
html_page(int status)
{
    static char fallback[256];
    static struct html_page scratch;
    const char *reason = zs_status_reason(status);
    /* HTML5 makes html, head and body implicit; the short page is the same document. */
    const char *fmt = "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n";
    bool cacheable = status >= 100 && status < 600;

    if (cacheable && html_pages[status].body != NULL)
        return &html_pages[status];
    int n = snprintf(fallback, sizeof(fallback), fmt, status, reason, status, reason);
    scratch.body = fallback;
    scratch.len = (size_t)n;
    if (!cacheable)
        return &scratch;
    char *copy = malloc(scratch.len);
    if (copy == NULL)
        return &scratch;
    memcpy(copy, fallback, scratch.len);
    html_pages[status].body = copy;
    html_pages[status].len = scratch.len;
    return &html_pages[status];
}

static void
resp_html_page(struct zs_conn *c, int status)
{
    const struct html_page *page = html_page(status);

    zs_resp_header(c, "Content-Type", "text/html", 9);
    zs_resp_end_headers(c, (int64_t)page->len);
    if (!c->req.head)
        resp_append(c, page->body, page->len);
    c->req.body_bytes = c->req.head ? 0 : (int64_t)page->len;
}

void
zs_resp_error(struct zs_conn *c, int status)
{
    zs_resp_begin(c, status);
    if (status == 405)
        zs_resp_header(c, "Allow", "GET, HEAD", 9);
    resp_html_page(c, status);
}

void
zs_resp_redirect(struct zs_conn *c, int status, const char *url, size_t len)
{
    zs_resp_begin(c, status);
    zs_resp_header(c, "Location", url, len);
    resp_html_page(c, status);
}

void
zs_resp_text(struct zs_conn *c, int status, const char *type, const char *text, size_t len)
{
    zs_resp_begin(c, status);
    if (type != NULL)
        zs_resp_header(c, "Content-Type", type, strlen(type));
    zs_resp_end_headers(c, (int64_t)len);
    if (!c->req.head)
        resp_append(c, text, len);
    c->req.body_bytes = c->req.head ? 0 : (int64_t)len;
}
