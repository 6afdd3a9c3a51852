/* FastCGI 1.0 records (FastCGI Specification, Open Market 1996) and the SCGI
 * request head (scgi.py protocol description). */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapters/fcgi_record.h"

#define FCGI_VERSION_1 1
#define FCGI_ROLE_RESPONDER 1
#define FCGI_FLAG_KEEP_CONN 1
#define FCGI_BEGIN_REQUEST_BODY_LEN 8
#define FCGI_END_REQUEST_BODY_LEN 8

/* The specification recommends records that start at multiples of 8 bytes. */
#define FCGI_ALIGN 8
#define FCGI_MAX_PADDING (FCGI_ALIGN - 1)

/* Name-value pair lengths: up to 127 in one byte, else in four bytes with
 * the high bit of the first one set, which leaves 31 bits for the length. */
#define FCGI_SHORT_LEN_MAX 127
#define FCGI_LONG_LEN_MAX UINT32_C(0x7fffffff)
#define FCGI_LONG_LEN_FLAG 0x80

static const unsigned char zero_padding[FCGI_MAX_PADDING];

/* ---- Encoder ---- */

static size_t
padding_for(size_t content_len)
{
    return (FCGI_ALIGN - content_len % FCGI_ALIGN) % FCGI_ALIGN;
}

static void
header_pack(unsigned char *h, enum zs_fcgi_type type, uint16_t request_id, size_t content_len,
            size_t padding_len)
{
    h[0] = FCGI_VERSION_1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(request_id >> 8);
    h[3] = (unsigned char)request_id;
    h[4] = (unsigned char)(content_len >> 8);
    h[5] = (unsigned char)content_len;
    h[6] = (unsigned char)padding_len;
    h[7] = 0;
}

/* Returns an upper bound on the size of len bytes of stream content once
 * framed, so that the encoder allocates once, or 0 when it overflows size_t.
 * Each record of at most ZS_FCGI_MAX_CONTENT bytes adds a header and up to
 * 7 bytes of padding. */
static size_t
framed_len_max(size_t len)
{
    size_t records = len / ZS_FCGI_MAX_CONTENT + 1;
    size_t overhead = records * (ZS_FCGI_HEADER_LEN + FCGI_MAX_PADDING);

    if (len > SIZE_MAX - overhead)
        return 0;
    return len + overhead;
}

/* Appends one whole record, with len at most ZS_FCGI_MAX_CONTENT. */
static int
record_append(struct zs_buf *out, enum zs_fcgi_type type, uint16_t request_id,
              const void *content, size_t len)
{
    unsigned char header[ZS_FCGI_HEADER_LEN];
    size_t padding = padding_for(len);

    header_pack(header, type, request_id, len, padding);
    if (zs_buf_reserve(out, sizeof(header) + len + padding) == -1)
        return -1;
    if (zs_buf_append(out, header, sizeof(header)) == -1)
        return -1;
    if (zs_buf_append(out, content, len) == -1)
        return -1;
    return zs_buf_append(out, zero_padding, padding);
}

/* Framing state for a byte stream sent as records of one type. Content is
 * copied in as it comes, and a record is closed (header filled in, padding
 * appended) when it contains ZS_FCGI_MAX_CONTENT bytes or when
 * writer_close() is called. */
struct record_writer {
    struct zs_buf *out;
    enum zs_fcgi_type type;
    uint16_t request_id;
    /* Offset of the open record's header from out->pos, which stays valid
     * when zs_buf_reserve() moves the unconsumed bytes to the front. */
    size_t header_offset;
    size_t content_len;
    bool open;
};

static int
writer_close(struct record_writer *w)
{
    if (!w->open)
        return 0;

    size_t padding = padding_for(w->content_len);
    unsigned char *header = (unsigned char *)w->out->data + w->out->pos + w->header_offset;

    header_pack(header, w->type, w->request_id, w->content_len, padding);
    w->open = false;
    return zs_buf_append(w->out, zero_padding, padding);
}

static int
writer_open(struct record_writer *w)
{
    static const unsigned char placeholder[ZS_FCGI_HEADER_LEN];

    if (zs_buf_append(w->out, placeholder, sizeof(placeholder)) == -1)
        return -1;
    w->header_offset = zs_buf_pending(w->out) - sizeof(placeholder);
    w->content_len = 0;
    w->open = true;
    return 0;
}

static int
writer_put(struct record_writer *w, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        if (!w->open && writer_open(w) == -1)
            return -1;

        size_t room = ZS_FCGI_MAX_CONTENT - w->content_len;
        size_t n = len < room ? len : room;

        if (zs_buf_append(w->out, p, n) == -1)
            return -1;
        w->content_len += n;
        p += n;
        len -= n;
        if (w->content_len == ZS_FCGI_MAX_CONTENT && writer_close(w) == -1)
            return -1;
    }
    return 0;
}

/* Drops what a failed append left after the first `pending` unconsumed bytes. */
static void
buf_truncate(struct zs_buf *out, size_t pending)
{
    out->len = out->pos + pending;
}

int
zs_fcgi_begin_request(struct zs_buf *out, uint16_t request_id, bool keep_conn)
{
    /* role (16 bits, big-endian), flags, 5 reserved bytes */
    unsigned char body[FCGI_BEGIN_REQUEST_BODY_LEN] = { 0 };

    body[0] = (unsigned char)(FCGI_ROLE_RESPONDER >> 8);
    body[1] = (unsigned char)FCGI_ROLE_RESPONDER;
    body[2] = keep_conn ? FCGI_FLAG_KEEP_CONN : 0;
    return record_append(out, ZS_FCGI_BEGIN_REQUEST, request_id, body, sizeof(body));
}

int
zs_fcgi_abort_request(struct zs_buf *out, uint16_t request_id)
{
    return record_append(out, ZS_FCGI_ABORT_REQUEST, request_id, NULL, 0);
}

static size_t
pair_length_size(size_t len)
{
    return len <= FCGI_SHORT_LEN_MAX ? 1 : 4;
}

/* Adds the encoded size of every name-value pair to *total. Returns -1 when
 * a name or value is longer than the 31-bit length field allows. */
static int
params_stream_len(const struct zs_cgi_var *vars, size_t count, size_t *total)
{
    size_t sum = 0;

    for (size_t i = 0; i < count; i++) {
        size_t name_len = vars[i].name_len;
        size_t value_len = vars[i].value_len;

        if (name_len > FCGI_LONG_LEN_MAX || value_len > FCGI_LONG_LEN_MAX)
            return -1;

        size_t pair = pair_length_size(name_len) + pair_length_size(value_len);

        /* With a 32-bit size_t, two lengths that fit in 31 bits each can
         * still overflow when added. */
        if (name_len > SIZE_MAX - pair || value_len > SIZE_MAX - pair - name_len)
            return -1;
        pair += name_len + value_len;
        if (pair > SIZE_MAX - sum)
            return -1;
        sum += pair;
    }
    *total = sum;
    return 0;
}

static int
pair_length_put(struct record_writer *w, size_t len)
{
    unsigned char bytes[4];

    if (len <= FCGI_SHORT_LEN_MAX) {
        bytes[0] = (unsigned char)len;
        return writer_put(w, bytes, 1);
    }
    bytes[0] = (unsigned char)(len >> 24) | FCGI_LONG_LEN_FLAG;
    bytes[1] = (unsigned char)(len >> 16);
    bytes[2] = (unsigned char)(len >> 8);
    bytes[3] = (unsigned char)len;
    return writer_put(w, bytes, 4);
}

static int
pair_put(struct record_writer *w, const struct zs_cgi_var *var)
{
    if (pair_length_put(w, var->name_len) == -1)
        return -1;
    if (pair_length_put(w, var->value_len) == -1)
        return -1;
    if (writer_put(w, var->name, var->name_len) == -1)
        return -1;
    return writer_put(w, var->value, var->value_len);
}

int
zs_fcgi_params(struct zs_buf *out, uint16_t request_id, const struct zs_cgi_var *vars,
               size_t count)
{
    struct record_writer w = { .out = out, .type = ZS_FCGI_PARAMS, .request_id = request_id };
    size_t start = zs_buf_pending(out);
    size_t stream_len;

    if (params_stream_len(vars, count, &stream_len) == -1)
        return -1;

    /* One allocation for all records and the empty one that ends the stream. */
    size_t framed = framed_len_max(stream_len);

    if (framed == 0 || framed > SIZE_MAX - ZS_FCGI_HEADER_LEN)
        return -1;
    if (zs_buf_reserve(out, framed + ZS_FCGI_HEADER_LEN) == -1)
        return -1;

    for (size_t i = 0; i < count; i++) {
        if (pair_put(&w, &vars[i]) == -1)
            goto fail;
    }
    if (writer_close(&w) == -1)
        goto fail;
    if (record_append(out, ZS_FCGI_PARAMS, request_id, NULL, 0) == -1)
        goto fail;
    return 0;

fail:
    buf_truncate(out, start);
    return -1;
}

int
zs_fcgi_stream(struct zs_buf *out, enum zs_fcgi_type type, uint16_t request_id,
               const char *data, size_t len)
{
    struct record_writer w = { .out = out, .type = type, .request_id = request_id };
    size_t start = zs_buf_pending(out);

    if (len == 0)
        return record_append(out, type, request_id, NULL, 0);

    size_t framed = framed_len_max(len);

    if (framed == 0 || zs_buf_reserve(out, framed) == -1)
        return -1;
    if (writer_put(&w, data, len) == -1 || writer_close(&w) == -1) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

/* ---- Decoder ---- */

static enum zs_fcgi_type
record_type(const struct zs_fcgi_parser *p)
{
    return (enum zs_fcgi_type)p->header[1];
}

static uint16_t
record_request_id(const struct zs_fcgi_parser *p)
{
    return (uint16_t)(p->header[2] << 8 | p->header[3]);
}

static bool
is_output_stream(enum zs_fcgi_type type)
{
    return type == ZS_FCGI_STDOUT || type == ZS_FCGI_STDERR;
}

static size_t
input_take(const char **data, size_t *len, size_t want)
{
    size_t n = want < *len ? want : *len;

    *data += n;
    *len -= n;
    return n;
}

void
zs_fcgi_parser_init(struct zs_fcgi_parser *p)
{
    memset(p, 0, sizeof(*p));
}

/* Collects header bytes and, once all 8 are in, checks them and enters the
 * record. Returns 1 when the record has started, 0 when more bytes are
 * needed, -1 when the header is invalid. */
static int
header_feed(struct zs_fcgi_parser *p, const char **data, size_t *len)
{
    const char *from = *data;
    size_t n = input_take(data, len, ZS_FCGI_HEADER_LEN - p->header_have);

    memcpy(p->header + p->header_have, from, n);
    p->header_have += n;
    if (p->header_have < ZS_FCGI_HEADER_LEN)
        return 0;

    if (p->header[0] != FCGI_VERSION_1)
        return -1;
    p->content_left = (size_t)p->header[4] << 8 | p->header[5];
    p->padding_left = p->header[6];
    if (record_type(p) == ZS_FCGI_END_REQUEST && p->content_left != FCGI_END_REQUEST_BODY_LEN)
        return -1;
    p->body_have = 0;
    p->in_record = true;
    return 1;
}

static void
piece_stream(const struct zs_fcgi_parser *p, const char *data, size_t len,
             struct zs_fcgi_piece *piece)
{
    memset(piece, 0, sizeof(*piece));
    piece->type = record_type(p);
    piece->request_id = record_request_id(p);
    piece->data = data;
    piece->len = len;
}

static void
piece_end_request(const struct zs_fcgi_parser *p, struct zs_fcgi_piece *piece)
{
    const unsigned char *b = p->body;

    memset(piece, 0, sizeof(*piece));
    piece->type = ZS_FCGI_END_REQUEST;
    piece->request_id = record_request_id(p);
    piece->app_status = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    piece->protocol_status = b[4];
}

/* Takes content of the current record that is not returned as a piece:
 * END_REQUEST's body is copied, any other type's content is skipped. */
static void
content_absorb(struct zs_fcgi_parser *p, const char **data, size_t *len)
{
    if (record_type(p) != ZS_FCGI_END_REQUEST) {
        p->content_left -= input_take(data, len, p->content_left);
        return;
    }

    const char *from = *data;
    size_t n = input_take(data, len, p->content_left);

    memcpy(p->body + p->body_have, from, n);
    p->body_have += n;
    p->content_left -= n;
}

enum zs_fcgi_next
zs_fcgi_parse(struct zs_fcgi_parser *p, const char **data, size_t *len,
              struct zs_fcgi_piece *piece)
{
    for (;;) {
        if (!p->in_record) {
            if (*len == 0)
                return ZS_FCGI_NEED_MORE;

            int started = header_feed(p, data, len);

            if (started == -1)
                return ZS_FCGI_INVALID;
            if (started == 0)
                return ZS_FCGI_NEED_MORE;
            /* An empty STDOUT or STDERR record ends its stream, and the
             * caller must see it even though it carries no bytes. */
            if (is_output_stream(record_type(p)) && p->content_left == 0) {
                piece_stream(p, *data, 0, piece);
                return ZS_FCGI_PIECE;
            }
            continue;
        }

        if (p->content_left > 0) {
            if (*len == 0)
                return ZS_FCGI_NEED_MORE;
            if (is_output_stream(record_type(p))) {
                const char *from = *data;
                size_t n = input_take(data, len, p->content_left);

                p->content_left -= n;
                piece_stream(p, from, n, piece);
                return ZS_FCGI_PIECE;
            }
            content_absorb(p, data, len);
            continue;
        }

        if (p->padding_left > 0) {
            if (*len == 0)
                return ZS_FCGI_NEED_MORE;
            p->padding_left -= input_take(data, len, p->padding_left);
            continue;
        }

        /* The whole record, padding included, has been read. END_REQUEST is
         * returned only now, so that the input is at a record boundary when
         * the caller hands the connection to the next request. */
        p->in_record = false;
        p->header_have = 0;
        if (record_type(p) == ZS_FCGI_END_REQUEST) {
            piece_end_request(p, piece);
            return ZS_FCGI_PIECE;
        }
    }
}

/* ---- SCGI ---- */

static bool
var_name_is(const struct zs_cgi_var *var, const char *name)
{
    size_t len = strlen(name);

    return var->name_len == len && memcmp(var->name, name, len) == 0;
}

/* The head replaces these two with its own values, and a second copy would
 * be a duplicate name, which SCGI forbids. */
static bool
scgi_var_is_builtin(const struct zs_cgi_var *var)
{
    return var_name_is(var, "CONTENT_LENGTH") || var_name_is(var, "SCGI");
}

/* Adds the size of the NUL-terminated name and value of each variable to
 * *total. Returns -1 when a name is empty, which SCGI does not allow, or
 * when a name or value contains a NUL byte, which would end it early and
 * let its rest pass as another variable. */
static int
scgi_vars_len(const struct zs_cgi_var *vars, size_t count, size_t *total)
{
    size_t sum = *total;

    for (size_t i = 0; i < count; i++) {
        const struct zs_cgi_var *var = &vars[i];

        if (scgi_var_is_builtin(var))
            continue;
        if (var->name_len == 0)
            return -1;
        if (memchr(var->name, '\0', var->name_len) != NULL ||
            memchr(var->value, '\0', var->value_len) != NULL)
            return -1;
        if (var->name_len > SIZE_MAX - 2 || var->value_len > SIZE_MAX - 2 - var->name_len)
            return -1;

        size_t entry = var->name_len + var->value_len + 2;

        if (entry > SIZE_MAX - sum)
            return -1;
        sum += entry;
    }
    *total = sum;
    return 0;
}

/* Appends len bytes of s and the NUL that ends them in the SCGI head. */
static int
append_with_nul(struct zs_buf *out, const char *s, size_t len)
{
    if (zs_buf_append(out, s, len) == -1)
        return -1;
    return zs_buf_append(out, "", 1);
}

static int
scgi_headers_append(struct zs_buf *out, const struct zs_cgi_var *vars, size_t count,
                    const char *content_length, size_t content_length_len)
{
    if (append_with_nul(out, "CONTENT_LENGTH", strlen("CONTENT_LENGTH")) == -1)
        return -1;
    if (append_with_nul(out, content_length, content_length_len) == -1)
        return -1;
    if (append_with_nul(out, "SCGI", strlen("SCGI")) == -1)
        return -1;
    if (append_with_nul(out, "1", 1) == -1)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (scgi_var_is_builtin(&vars[i]))
            continue;
        if (append_with_nul(out, vars[i].name, vars[i].name_len) == -1)
            return -1;
        if (append_with_nul(out, vars[i].value, vars[i].value_len) == -1)
            return -1;
    }
    return 0;
}

int
zs_scgi_head(struct zs_buf *out, const struct zs_cgi_var *vars, size_t count,
             int64_t content_length)
{
    char length_text[24];
    char prefix[24];
    size_t start = zs_buf_pending(out);

    if (content_length < 0)
        return -1;

    /* Every name and value is followed by a NUL, which sizeof counts for the
     * literals. */
    int length_len = snprintf(length_text, sizeof(length_text), "%" PRId64, content_length);
    size_t headers_len = sizeof("CONTENT_LENGTH") + (size_t)length_len + 1 + sizeof("SCGI") +
                         sizeof("1");

    if (scgi_vars_len(vars, count, &headers_len) == -1)
        return -1;
    if (headers_len > SIZE_MAX - sizeof(prefix) - 1)
        return -1;

    int prefix_len = snprintf(prefix, sizeof(prefix), "%zu:", headers_len);

    if (zs_buf_reserve(out, (size_t)prefix_len + headers_len + 1) == -1)
        return -1;
    if (zs_buf_append(out, prefix, (size_t)prefix_len) == -1)
        goto fail;
    if (scgi_headers_append(out, vars, count, length_text, (size_t)length_len) == -1)
        goto fail;
    if (zs_buf_append(out, ",", 1) == -1)
        goto fail;
    return 0;

fail:
    buf_truncate(out, start);
    return -1;
}
