/* Parser of the head of a CGI-style response (RFC 3875, section 6): header
 * lines up to the first empty line, fed in pieces of any size. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapters/cgi_head.h"
#include "lib/log.h"
#include "lib/strutil.h"

/* Largest Content-Length accepted from an application. Adding any value
 * below 2^62 to it stays within int64_t, so callers need no overflow checks. */
#define CONTENT_LENGTH_MAX ((int64_t)1 << 62)

/* Bytes of a rejected line or value quoted in an error message. */
#define EXCERPT_MAX 40

/* Headers the worker writes itself: Date, Server, and the hop-by-hop
 * headers, which describe the application's connection, not the client's.
 * Status and Content-Length are parsed separately. */
static const char *const dropped_headers[] = {
    "Date",    "Server",  "Connection", "Keep-Alive",       "Transfer-Encoding",
    "TE",      "Trailer", "Upgrade",    "Proxy-Connection",
};


static bool
is_dropped(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(dropped_headers) / sizeof(dropped_headers[0]); i++) {
        if (zs_str_ieq(name, len, dropped_headers[i]))
            return true;
    }
    return false;
}

/* Copies the first EXCERPT_MAX bytes of text into dst as printable ASCII
 * for an error message, with "..." when text is longer. dst needs
 * EXCERPT_MAX * 4 + 4 bytes. */
#define EXCERPT_SIZE (EXCERPT_MAX * 4 + 4)

static const char *
excerpt(char *dst, const char *text, size_t len)
{
    size_t n = zs_log_escape(dst, EXCERPT_SIZE, text, len < EXCERPT_MAX ? len : EXCERPT_MAX);

    if (len > EXCERPT_MAX)
        memcpy(dst + n, "...", 4);
    return dst;
}

static enum zs_cgi_head_result fail(struct zs_cgi_head *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum zs_cgi_head_result
fail(struct zs_cgi_head *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->error_text, sizeof(h->error_text), fmt, ap);
    va_end(ap);
    h->error = h->error_text;
    return ZS_CGI_HEAD_ERROR;
}

/* Rejects the current header line, quoting it after the problem. */
static enum zs_cgi_head_result
fail_line(struct zs_cgi_head *h, const char *line, size_t len, const char *problem)
{
    char quoted[EXCERPT_SIZE];

    return fail(h, "response header line %zu %s: \"%s\"", h->lines, problem,
                excerpt(quoted, line, len));
}

static enum zs_cgi_head_result
fail_value(struct zs_cgi_head *h, const char *name, const char *value, size_t len,
           const char *expected)
{
    char quoted[EXCERPT_SIZE];

    return fail(h, "invalid %s header \"%s\": expected %s", name, excerpt(quoted, value, len),
                expected);
}

/* Status (RFC 3875 6.3.3): a three-digit code, then optionally SP or HTAB
 * and a reason phrase, which is dropped because the worker writes the
 * standard one. */
static enum zs_cgi_head_result
parse_status(struct zs_cgi_head *h, const char *value, size_t len)
{
    /* An interim 1xx would leave the client waiting for the real response. */
    static const char expected[] = "a code from 200 to 599, optionally followed by a reason";
    int code = 0;

    if (len < 3 || (len > 3 && !zs_is_ows(value[3])))
        return fail_value(h, "Status", value, len, expected);
    for (size_t i = 0; i < 3; i++) {
        if (value[i] < '0' || value[i] > '9')
            return fail_value(h, "Status", value, len, expected);
        code = code * 10 + (value[i] - '0');
    }
    if (code < 200 || code > 599)
        return fail_value(h, "Status", value, len, expected);

    if (h->status != 0 && h->status != code)
        return fail(h, "conflicting Status headers: %d and %d", h->status, code);
    h->status = code;
    return ZS_CGI_HEAD_MORE;
}

/* Content-Length: digits only. A repeated header must carry the same
 * value, because two lengths leave the end of the body ambiguous. */
static enum zs_cgi_head_result
parse_content_length(struct zs_cgi_head *h, const char *value, size_t len)
{
    int64_t n;

    if (zs_parse_int64(value, len, &n) == -1 || n > CONTENT_LENGTH_MAX)
        return fail_value(h, "Content-Length", value, len, "digits only, at most 2^62");
    if (h->content_length != -1 && h->content_length != n)
        return fail(h, "conflicting Content-Length headers: %lld and %lld",
                    (long long)h->content_length, (long long)n);
    h->content_length = n;
    return ZS_CGI_HEAD_MORE;
}

static enum zs_cgi_head_result
add_header(struct zs_cgi_head *h, const char *name, size_t name_len, const char *value,
           size_t value_len)
{
    struct zs_app_header *out = &h->headers[h->count++];

    out->name = name;
    out->name_len = name_len;
    out->value = value;
    out->value_len = value_len;
    return ZS_CGI_HEAD_MORE;
}

/* Stores Location in location and in headers. Whether it is a redirect
 * depends on Status, which may come later, so finish_head() decides. */
static enum zs_cgi_head_result
parse_location(struct zs_cgi_head *h, const char *name, size_t name_len, const char *value,
               size_t len)
{
    char first[EXCERPT_SIZE], second[EXCERPT_SIZE];

    if (len == 0)
        return fail_value(h, "Location", value, len, "a path or an absolute URI");
    if (h->location == NULL) {
        h->location = value;
        h->location_len = len;
        return add_header(h, name, name_len, value, len);
    }
    if (h->location_len == len && memcmp(h->location, value, len) == 0)
        return ZS_CGI_HEAD_MORE;
    return fail(h, "conflicting Location headers: \"%s\" and \"%s\"",
                excerpt(first, h->location, h->location_len), excerpt(second, value, len));
}

/* Checks one header line, without its line end, and stores its field in
 * the results. */
static enum zs_cgi_head_result
parse_line(struct zs_cgi_head *h, const char *line, size_t len)
{
    h->lines++;
    if (h->lines > ZS_CGI_HEAD_MAX_HEADERS)
        return fail(h, "response head has more than %d header lines", ZS_CGI_HEAD_MAX_HEADERS);
    if (memchr(line, '\0', len) != NULL)
        return fail_line(h, line, len, "contains a NUL byte");
    /* The line end was removed with its CR, so any CR left is a bare one. */
    if (memchr(line, '\r', len) != NULL)
        return fail_line(h, line, len, "contains a CR not followed by LF");
    if (zs_is_ows(line[0]))
        return fail_line(h, line, len, "starts with whitespace (obsolete line folding)");

    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return fail_line(h, line, len, "has no colon");
    size_t name_len = (size_t)(colon - line);
    if (name_len == 0)
        return fail_line(h, line, len, "has an empty field name");
    if (zs_is_ows(line[name_len - 1]))
        return fail_line(h, line, len, "has whitespace before the colon");
    if (!zs_is_token(line, name_len))
        return fail_line(h, line, len, "has a field name that is not a token");

    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    zs_str_trim_ows(&value, &value_len);

    if (zs_str_ieq(line, name_len, "Status"))
        return parse_status(h, value, value_len);
    if (zs_str_ieq(line, name_len, "Content-Length"))
        return parse_content_length(h, value, value_len);
    if (zs_str_ieq(line, name_len, "Location"))
        return parse_location(h, line, name_len, value, value_len);
    if (is_dropped(line, name_len))
        return ZS_CGI_HEAD_MORE;
    return add_header(h, line, name_len, value, value_len);
}

static void
reset_results(struct zs_cgi_head *h)
{
    h->status = 0;
    h->local_redirect = false;
    h->location = NULL;
    h->location_len = 0;
    h->content_length = -1;
    h->count = 0;
    h->lines = 0;
}

static void
remove_location_header(struct zs_cgi_head *h)
{
    for (size_t i = 0; i < h->count; i++) {
        if (!zs_str_ieq(h->headers[i].name, h->headers[i].name_len, "Location"))
            continue;
        memmove(&h->headers[i], &h->headers[i + 1], (h->count - i - 1) * sizeof(h->headers[0]));
        h->count--;
        return;
    }
}

/* Completes the results once the empty line has arrived. raw may have
 * moved while it grew, so the lines are parsed again to point every result
 * into its final place. They passed every check already, and the second
 * pass reaches the same state. */
static enum zs_cgi_head_result
finish_head(struct zs_cgi_head *h)
{
    size_t pos = 0;

    reset_results(h);
    for (;;) {
        const char *line = h->raw.data + pos;
        const char *nl = memchr(line, '\n', h->raw.len - pos);
        size_t len = (size_t)(nl - line);

        pos += len + 1;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0)
            break;
        if (parse_line(h, line, len) == ZS_CGI_HEAD_ERROR)
            return ZS_CGI_HEAD_ERROR;
    }

    /* RFC 3875 6.2.2 to 6.2.4: without Status, a local path makes the server
     * serve that path instead, and anything else redirects the client.
     * RFC 3875 allows only an absolute URI there, but HTTP clients resolve
     * a relative reference too (RFC 9110 10.2.2), so it gets 302 as well. */
    if (h->location != NULL && h->status == 0) {
        if (h->location[0] == '/') {
            h->local_redirect = true;
            remove_location_header(h);
        } else {
            h->status = 302;
        }
    }
    if (h->status == 0)
        h->status = 200;
    h->done = true;
    return ZS_CGI_HEAD_DONE;
}

/* Appends bytes from data to raw up to and including the next LF, or all
 * of them, and parses the line once it is complete. Stores in *appended
 * the number of bytes appended. */
static enum zs_cgi_head_result
append_line(struct zs_cgi_head *h, const char *data, size_t len, size_t *appended)
{
    const char *nl = memchr(data, '\n', len);
    size_t n = nl != NULL ? (size_t)(nl - data) + 1 : len;

    *appended = 0;
    /* Checked before the bytes are copied, so raw never grows beyond max_size. */
    if (h->raw.len + n > h->max_size)
        return fail(h, "response head is larger than %zu bytes", h->max_size);
    if (zs_buf_append(&h->raw, data, n) == -1)
        return fail(h, "out of memory for a response head of %zu bytes", h->raw.len + n);
    *appended = n;
    if (nl == NULL)
        return ZS_CGI_HEAD_MORE;

    const char *line = h->raw.data + h->scanned;
    size_t line_len = h->raw.len - h->scanned - 1;
    h->scanned = h->raw.len;
    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    /* NOTE: an empty line first is accepted as an empty head, although
     * RFC 3875 6.2 requires at least one CGI field. */
    if (line_len == 0)
        return finish_head(h);
    return parse_line(h, line, line_len);
}

void
zs_cgi_head_init(struct zs_cgi_head *h, size_t max_size)
{
    memset(h, 0, sizeof(*h));
    h->content_length = -1;
    h->max_size = max_size;
}

enum zs_cgi_head_result
zs_cgi_head_feed(struct zs_cgi_head *h, const char *data, size_t len, size_t *consumed)
{
    enum zs_cgi_head_result result = ZS_CGI_HEAD_MORE;
    size_t total = 0;

    if (h->error != NULL)
        result = ZS_CGI_HEAD_ERROR;
    else if (h->done)
        result = ZS_CGI_HEAD_DONE;

    while (result == ZS_CGI_HEAD_MORE && total < len) {
        size_t appended;

        result = append_line(h, data + total, len - total, &appended);
        total += appended;
    }
    *consumed = total;
    return result;
}

void
zs_cgi_head_free(struct zs_cgi_head *h)
{
    zs_buf_free(&h->raw);
    reset_results(h);
}
