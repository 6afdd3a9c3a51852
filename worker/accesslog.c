/* Access log: one buffer per server and worker, flushed when full, at least
 * once a second and at exit, so that a busy worker makes no write per request. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/defaults.h"
#include "lib/log.h"
#include "worker/accesslog.h"
#include "worker/worker.h"

struct log_buffer {
    int fd;
    char *data;
    size_t len;
    enum zs_access_log_format format;
};

static struct log_buffer *buffers;   /* indexed like conf->servers */
static size_t buffer_count;
static const struct zs_config *log_conf;

static char clf_time[40];            /* "04/Dec/2026:21:26:44 +0000" */
static char iso_time[40];            /* "2026-12-04T21:26:44+00:00" */
static time_t time_cached = -1;

void
zs_accesslog_init(const struct zs_config *conf)
{
    log_conf = conf;
    buffer_count = conf->server_count;
    buffers = calloc(buffer_count, sizeof(*buffers));
    if (buffers == NULL) {
        buffer_count = 0;
        return;
    }
    for (size_t i = 0; i < buffer_count; i++) {
        buffers[i].fd = conf->servers[i].srv_access_log.al_fd;
        buffers[i].format = conf->servers[i].srv_access_log.al_format;
    }
}

static void
buffer_flush(struct log_buffer *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t n = write(b->fd, b->data + off, b->len - off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            zs_log_syserr("access log: write of %zu bytes failed, lines lost", b->len - off);
            break;
        }
        off += (size_t)n;
    }
    b->len = 0;
}

void
zs_accesslog_flush_all(void)
{
    for (size_t i = 0; i < buffer_count; i++)
        if (buffers[i].len > 0)
            buffer_flush(&buffers[i]);
}

void
zs_accesslog_reopen(uint32_t slot, int fd)
{
    if (slot == 0 || slot > buffer_count) {
        close(fd);
        return;
    }
    struct log_buffer *b = &buffers[slot - 1];
    if (b->fd == -1) {
        close(fd);
        return;
    }
    /* Lines written before the reopen go to the old, renamed file. */
    if (b->len > 0)
        buffer_flush(b);
    if (dup3(fd, b->fd, O_CLOEXEC) == -1)
        zs_log_syserr("access log: dup3 failed, still writing to the old file");
    close(fd);
}

static void
time_update(time_t now)
{
    struct tm tm;
    char zone[8];

    if (now == time_cached)
        return;
    time_cached = now;
    localtime_r(&now, &tm);
    strftime(zone, sizeof(zone), "%z", &tm);
    strftime(clf_time, sizeof(clf_time), "%d/%b/%Y:%H:%M:%S ", &tm);
    strcat(clf_time, zone);
    strftime(iso_time, sizeof(iso_time), "%Y-%m-%dT%H:%M:%S", &tm);
    size_t n = strlen(iso_time);
    snprintf(iso_time + n, sizeof(iso_time) - n, "%.3s:%.2s", zone, zone + 3);
}

/* Appends src escaped for a quoted combined-log field: bytes outside
 * printable ASCII, '"' and '\' become \xHH. */
static char *
put_escaped(char *p, char *end, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len && p + 4 < end; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            *p++ = (char)ch;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];
        }
    }
    return p;
}

/* Appends src as the inside of a JSON string (RFC 8259 7); bytes above
 * 0x7f are written as \u00XX so that the line stays valid JSON. */
static char *
put_json(char *p, char *end, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len && p + 6 < end; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            *p++ = (char)ch;
        } else if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else {
            memcpy(p, "\\u00", 4);
            p[4] = hex[ch >> 4];
            p[5] = hex[ch & 0xf];
            p += 6;
        }
    }
    return p;
}

static char *
put_str(char *p, char *end, const char *s)
{
    size_t len = strlen(s);

    if (p + len >= end)
        return p;
    memcpy(p, s, len);
    return p + len;
}

static char *
put_field(char *p, char *end, const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return put_str(p, end, "-");
    return put_escaped(p, end, s, len);
}

static size_t
format_combined(const struct zs_access_entry *e, char *out, size_t size)
{
    char *p = out, *end = out + size - 1;
    char num[64];

    p = put_str(p, end, e->peer);
    p = put_str(p, end, " - - [");
    p = put_str(p, end, clf_time);
    p = put_str(p, end, "] \"");
    if (e->line != NULL)
        p = put_escaped(p, end, e->line, e->line_len);
    snprintf(num, sizeof(num), "\" %d %lld \"", e->status, (long long)e->body_bytes);
    p = put_str(p, end, num);
    p = put_field(p, end, e->referer, e->referer_len);
    p = put_str(p, end, "\" \"");
    p = put_field(p, end, e->user_agent, e->user_agent_len);
    p = put_str(p, end, "\"\n");
    if (p >= end || p[-1] != '\n')
        return 0;
    return (size_t)(p - out);
}

static size_t
format_json(const struct zs_access_entry *e, char *out, size_t size)
{
    char *p = out, *end = out + size - 1;
    char num[128];

    p = put_str(p, end, "{\"time\":\"");
    p = put_str(p, end, iso_time);
    p = put_str(p, end, "\",\"remote_addr\":\"");
    p = put_json(p, end, e->peer, strlen(e->peer));
    p = put_str(p, end, "\",\"host\":\"");
    p = put_json(p, end, e->host, e->host_len);
    p = put_str(p, end, "\",\"request\":\"");
    p = put_json(p, end, e->line, e->line_len);
    p = put_str(p, end, "\",\"method\":\"");
    p = put_json(p, end, e->method, strlen(e->method));
    p = put_str(p, end, "\",\"uri\":\"");
    p = put_json(p, end, e->uri, e->uri_len);
    snprintf(num, sizeof(num), "\",\"protocol\":\"HTTP/1.%d\",\"status\":%d,\"body_bytes_sent\":%lld,\"referer\":\"",
             e->http_minor, e->status, (long long)e->body_bytes);
    p = put_str(p, end, num);
    p = put_json(p, end, e->referer, e->referer_len);
    p = put_str(p, end, "\",\"user_agent\":\"");
    p = put_json(p, end, e->user_agent, e->user_agent_len);
    snprintf(num, sizeof(num), "\",\"request_time\":%.3f}\n", e->request_time);
    p = put_str(p, end, num);
    if (p >= end || p[-1] != '\n')
        return 0;
    return (size_t)(p - out);
}

size_t
zs_accesslog_format(enum zs_access_log_format fmt, const struct zs_access_entry *e, char *out, size_t size)
{
    time_update(e->now);
    if (fmt == ZS_ACCESS_LOG_JSON)
        return format_json(e, out, size);
    return format_combined(e, out, size);
}

static void
entry_fill(struct zs_access_entry *e, const struct zs_conn *c)
{
    const struct zs_request *r = &c->req;
    ev_tstamp now = ev_now(zs_w.loop);

    memset(e, 0, sizeof(*e));
    e->peer = c->peer;
    e->line = r->line.p;
    e->line_len = r->line.len;
    e->method = r->target.p != NULL ? http_method_str(r->method) : "";
    e->uri = r->target.p;
    e->uri_len = r->target.len;
    e->http_minor = r->http_minor;
    e->host = r->host.p;
    e->host_len = r->host.len;
    e->status = r->status;
    e->body_bytes = r->body_bytes;
    e->referer = r->referer.p;
    e->referer_len = r->referer.len;
    e->user_agent = r->user_agent.p;
    e->user_agent_len = r->user_agent.len;
    e->request_time = r->start > 0 ? now - r->start : 0;
    e->now = (time_t)now;
}

/* Bounds the length of the formatted line: escaping turns a byte into at
 * most six (JSON's \u00XX), and the fixed text with the time and numbers
 * takes less than 512 bytes. */
static size_t
entry_max_len(const struct zs_access_entry *e)
{
    size_t variable = strlen(e->peer) + strlen(e->method) + e->line_len + e->uri_len + e->host_len
                      + e->referer_len + e->user_agent_len;

    return 6 * variable + 512;
}

/* Writes a line that may not fit the buffer (long request lines and headers
 * full of escaped bytes) on its own, so that it is neither cut nor lost. */
static void
line_write_unbuffered(const struct log_buffer *b, const struct zs_access_entry *e, size_t max)
{
    struct log_buffer alone = { .fd = b->fd, .format = b->format, .data = malloc(max) };

    if (alone.data == NULL) {
        zs_log_error("access log: out of memory, a line of up to %zu bytes is lost", max);
        return;
    }
    alone.len = zs_accesslog_format(b->format, e, alone.data, max);
    buffer_flush(&alone);
    free(alone.data);
}

void
zs_accesslog_write(struct zs_conn *c)
{
    const struct zs_server *srv = c->req.server != NULL ? c->req.server : c->lis->lis_servers[0];
    size_t index = (size_t)(srv - log_conf->servers);
    struct log_buffer *b;
    struct zs_access_entry e;

    if (index >= buffer_count || buffers[index].fd == -1 || c->req.status == 0)
        return;
    b = &buffers[index];
    if (b->data == NULL) {
        b->data = malloc(ZS_ACCESS_LOG_BUFFER);
        if (b->data == NULL)
            return;
    }
    entry_fill(&e, c);
    size_t max = entry_max_len(&e);
    if (ZS_ACCESS_LOG_BUFFER - b->len < max)
        buffer_flush(b);
    if (max > ZS_ACCESS_LOG_BUFFER) {
        line_write_unbuffered(b, &e, max);
        return;
    }
    b->len += zs_accesslog_format(b->format, &e, b->data + b->len, ZS_ACCESS_LOG_BUFFER - b->len);
}
