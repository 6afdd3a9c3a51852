/* Unit tests for the FastCGI record encoder and decoder and the SCGI head. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/fcgi_record.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

#define VAR(name, value) { name, sizeof(name) - 1, value, sizeof(value) - 1 }

/* Content length of a full record: the encoder fills each record to this
 * size before it starts the next one. */
#define FULL ZS_FCGI_MAX_CONTENT

/* The seed of every random split, fixed so that a failure can be rerun. */
#define SPLIT_SEED UINT32_C(0x2545f491)
#define RANDOM_SPLIT_RUNS 60

/* ---- helpers ---- */

static void
assert_pending_bytes(const struct zs_buf *b, const void *expected, size_t len)
{
    ck_assert_uint_eq(zs_buf_pending(b), len);
    ck_assert_mem_eq(b->data + b->pos, expected, len);
}

/* Fills dst with letters that do not repeat with any period below 26 * 27
 * bytes, so that a byte shifted by a record boundary shows. */
static void
fill_letters(char *dst, size_t len, unsigned salt)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)('a' + (i + i / 26 + salt) % 26);
}

static char *
letters_new(size_t len, unsigned salt)
{
    char *s = malloc(len + 1);

    ck_assert_ptr_nonnull(s);
    fill_letters(s, len, salt);
    s[len] = '\0';
    return s;
}

/* Returns the next xorshift32 value, so that split points are the same on
 * every libc. */
static uint32_t
rng_next(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* ---- reading encoder output ---- */

struct test_record {
    unsigned type;
    unsigned request_id;
    size_t content_len;
    size_t padding_len;
    const char *content;
};

/* Reads the record at offset *at of b's pending bytes, checks the framing
 * that every record from the encoder has (version 1, zero reserved byte,
 * zero padding to a multiple of 8) and advances *at past it. */
static struct test_record
record_read(const struct zs_buf *b, size_t *at)
{
    const unsigned char *p = (const unsigned char *)b->data + b->pos + *at;
    size_t left = zs_buf_pending(b) - *at;
    struct test_record r;

    ck_assert_uint_ge(left, ZS_FCGI_HEADER_LEN);
    ck_assert_uint_eq(p[0], 1);
    ck_assert_uint_eq(p[7], 0);
    r.type = p[1];
    r.request_id = (unsigned)p[2] << 8 | p[3];
    r.content_len = (size_t)p[4] << 8 | p[5];
    r.padding_len = p[6];
    r.content = (const char *)p + ZS_FCGI_HEADER_LEN;

    ck_assert_uint_lt(r.padding_len, 8);
    ck_assert_uint_eq((r.content_len + r.padding_len) % 8, 0);
    ck_assert_uint_ge(left, ZS_FCGI_HEADER_LEN + r.content_len + r.padding_len);
    for (size_t i = 0; i < r.padding_len; i++)
        ck_assert_uint_eq(p[ZS_FCGI_HEADER_LEN + r.content_len + i], 0);

    *at += ZS_FCGI_HEADER_LEN + r.content_len + r.padding_len;
    return r;
}

#define MAX_RECORDS 16

/* The records of one stream as the encoder framed them. */
struct unframed {
    size_t count;
    size_t content_len[MAX_RECORDS];
    struct zs_buf stream;        /* the records' content, joined */
};

/* Reads every pending record of b, which must all have the given type and
 * request id, and joins their content. */
static void
unframe(const struct zs_buf *b, unsigned type, unsigned request_id, struct unframed *u)
{
    size_t at = 0;

    memset(u, 0, sizeof(*u));
    while (at < zs_buf_pending(b)) {
        struct test_record r = record_read(b, &at);

        ck_assert_uint_lt(u->count, MAX_RECORDS);
        ck_assert_uint_eq(r.type, type);
        ck_assert_uint_eq(r.request_id, request_id);
        u->content_len[u->count++] = r.content_len;
        ck_assert_int_eq(zs_buf_append(&u->stream, r.content, r.content_len), 0);
    }
}

/* Checks the framing of a PARAMS stream of stream_len bytes: full records,
 * then one with the rest (if any), then the empty record that ends it. */
static void
assert_params_framing(const struct unframed *u, size_t stream_len)
{
    size_t full = stream_len / FULL;
    size_t rest = stream_len % FULL;
    size_t expected = full + (rest > 0) + 1;

    ck_assert_uint_eq(u->count, expected);
    for (size_t i = 0; i < full; i++)
        ck_assert_uint_eq(u->content_len[i], FULL);
    if (rest > 0)
        ck_assert_uint_eq(u->content_len[full], rest);
    ck_assert_uint_eq(u->content_len[u->count - 1], 0);
    ck_assert_uint_eq(u->stream.len, stream_len);
}

/* Reads one name-value pair length: one byte below 128, else four bytes,
 * big-endian, with the high bit of the first one set. */
static size_t
pair_length_read(const struct zs_buf *s, size_t *at)
{
    const unsigned char *p = (const unsigned char *)s->data;

    ck_assert_uint_lt(*at, s->len);
    if (p[*at] < 0x80)
        return p[(*at)++];

    ck_assert_uint_le(*at + 4, s->len);
    size_t len = (size_t)(p[*at] & 0x7f) << 24 | (size_t)p[*at + 1] << 16 |
                 (size_t)p[*at + 2] << 8 | p[*at + 3];

    ck_assert_uint_ge(len, 128);
    *at += 4;
    return len;
}

/* Decodes a PARAMS stream and compares its pairs with vars. */
static void
assert_pairs(const struct zs_buf *stream, const struct zs_cgi_var *vars, size_t count)
{
    size_t at = 0;

    for (size_t i = 0; i < count; i++) {
        size_t name_len = pair_length_read(stream, &at);
        size_t value_len = pair_length_read(stream, &at);

        ck_assert_uint_eq(name_len, vars[i].name_len);
        ck_assert_uint_eq(value_len, vars[i].value_len);
        ck_assert_uint_le(at + name_len + value_len, stream->len);
        ck_assert(memcmp(stream->data + at, vars[i].name, name_len) == 0);
        at += name_len;
        ck_assert(memcmp(stream->data + at, vars[i].value, value_len) == 0);
        at += value_len;
    }
    ck_assert_uint_eq(at, stream->len);
}

/* ---- begin, abort ---- */

START_TEST(begin_request_keep_conn)
{
    static const unsigned char expected[] = {
        1, 1, 0x12, 0x34, 0, 8, 0, 0,
        0, 1, 1, 0, 0, 0, 0, 0,
    };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_begin_request(&out, 0x1234, true), 0);
    assert_pending_bytes(&out, expected, sizeof(expected));
    zs_buf_free(&out);
}
END_TEST

START_TEST(begin_request_no_keep_conn)
{
    static const unsigned char expected[] = {
        1, 1, 0, 1, 0, 8, 0, 0,
        0, 1, 0, 0, 0, 0, 0, 0,
    };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_begin_request(&out, 1, false), 0);
    assert_pending_bytes(&out, expected, sizeof(expected));
    zs_buf_free(&out);
}
END_TEST

START_TEST(abort_request_bytes)
{
    static const unsigned char expected[] = { 1, 2, 0xff, 0xfe, 0, 0, 0, 0 };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_abort_request(&out, 0xfffe), 0);
    assert_pending_bytes(&out, expected, sizeof(expected));
    zs_buf_free(&out);
}
END_TEST

/* ---- params ---- */

START_TEST(params_short_pairs_exact)
{
    static const struct zs_cgi_var vars[] = {
        VAR("A", "b"),
        VAR("QUERY_STRING", ""),
    };
    static const unsigned char expected[] = {
        1, 4, 0, 1, 0, 18, 6, 0,
        1, 1, 'A', 'b',
        12, 0, 'Q', 'U', 'E', 'R', 'Y', '_', 'S', 'T', 'R', 'I', 'N', 'G',
        0, 0, 0, 0, 0, 0,
        1, 4, 0, 1, 0, 0, 0, 0,
    };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_params(&out, 1, vars, N_ROWS(vars)), 0);
    assert_pending_bytes(&out, expected, sizeof(expected));
    zs_buf_free(&out);
}
END_TEST

START_TEST(params_no_vars)
{
    static const unsigned char expected[] = { 1, 4, 0, 3, 0, 0, 0, 0 };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_params(&out, 3, NULL, 0), 0);
    assert_pending_bytes(&out, expected, sizeof(expected));
    zs_buf_free(&out);
}
END_TEST

/* One pair per row: the length bytes that must start the PARAMS stream. */
struct pair_row {
    size_t name_len;
    size_t value_len;
    unsigned char lengths[8];
    size_t lengths_len;
};

static const struct pair_row pair_rows[] = {
    { 1, 127, { 0x01, 0x7f }, 2 },
    { 127, 1, { 0x7f, 0x01 }, 2 },
    { 128, 0, { 0x80, 0x00, 0x00, 0x80, 0x00 }, 5 },
    { 1, 128, { 0x01, 0x80, 0x00, 0x00, 0x80 }, 5 },
    { 200, 300, { 0x80, 0x00, 0x00, 0xc8, 0x80, 0x00, 0x01, 0x2c }, 8 },
    /* 65535 - 1 - 4 - 1: the stream fills exactly one record. */
    { 1, 65529, { 0x01, 0x80, 0x00, 0xff, 0xf9 }, 5 },
    /* One byte more: the last byte of the value goes to a second record. */
    { 1, 65530, { 0x01, 0x80, 0x00, 0xff, 0xfa }, 5 },
    { 1, 70000, { 0x01, 0x80, 0x01, 0x11, 0x70 }, 5 },
    { 70000, 65536, { 0x80, 0x01, 0x11, 0x70, 0x80, 0x01, 0x00, 0x00 }, 8 },
    { 3, 200000, { 0x03, 0x80, 0x03, 0x0d, 0x40 }, 5 },
};

START_TEST(params_pair_lengths_and_split)
{
    const struct pair_row *row = &pair_rows[_i];
    char *name = letters_new(row->name_len, 1);
    char *value = letters_new(row->value_len, 2);
    struct zs_cgi_var var = { name, row->name_len, value, row->value_len };
    size_t stream_len = row->lengths_len + row->name_len + row->value_len;
    struct zs_buf out = { 0 };
    struct unframed u;

    ck_assert_int_eq(zs_fcgi_params(&out, 0x0102, &var, 1), 0);
    unframe(&out, ZS_FCGI_PARAMS, 0x0102, &u);
    assert_params_framing(&u, stream_len);
    ck_assert_mem_eq(u.stream.data, row->lengths, row->lengths_len);
    assert_pairs(&u.stream, &var, 1);

    zs_buf_free(&u.stream);
    zs_buf_free(&out);
    free(name);
    free(value);
}
END_TEST

START_TEST(params_many_pairs_across_records)
{
    char *long_name = letters_new(300, 3);
    char *long_value = letters_new(100000, 4);
    char *medium_value = letters_new(65535, 5);
    const struct zs_cgi_var vars[] = {
        VAR("GATEWAY_INTERFACE", "CGI/1.1"),
        { long_name, 300, "x", 1 },
        VAR("EMPTY", ""),
        { "HTTP_X_LONG", 11, long_value, 100000 },
        { "M", 1, medium_value, 65535 },
        VAR("SERVER_PROTOCOL", "HTTP/1.1"),
    };
    struct zs_buf out = { 0 };
    struct unframed u;

    ck_assert_int_eq(zs_fcgi_params(&out, 7, vars, N_ROWS(vars)), 0);
    unframe(&out, ZS_FCGI_PARAMS, 7, &u);
    assert_params_framing(&u, u.stream.len);
    ck_assert_uint_eq(u.count, 4);
    assert_pairs(&u.stream, vars, N_ROWS(vars));

    zs_buf_free(&u.stream);
    zs_buf_free(&out);
    free(long_name);
    free(long_value);
    free(medium_value);
}
END_TEST

START_TEST(params_rejects_value_over_31_bits)
{
    /* The length is checked before any byte is read, so the short string
     * behind the oversized length is never touched. */
    const struct zs_cgi_var vars[] = {
        VAR("A", "b"),
        { "BIG", 3, "v", (size_t)0x80000000u },
    };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_buf_append(&out, "xy", 2), 0);
    ck_assert_int_eq(zs_fcgi_params(&out, 1, vars, N_ROWS(vars)), -1);
    assert_pending_bytes(&out, "xy", 2);
    zs_buf_free(&out);
}
END_TEST

START_TEST(params_keep_pending_bytes)
{
    char *value = letters_new(70000, 6);
    const struct zs_cgi_var var = { "V", 1, value, 70000 };
    struct zs_buf out = { 0 };
    struct zs_buf records = { 0 };
    struct unframed u;

    /* A consumed prefix makes zs_buf_reserve() move the pending bytes. */
    ck_assert_int_eq(zs_buf_append(&out, "consumed-pending", 16), 0);
    zs_buf_consume(&out, 9);
    ck_assert_int_eq(zs_fcgi_params(&out, 1, &var, 1), 0);
    ck_assert_mem_eq(out.data + out.pos, "pending", 7);

    ck_assert_int_eq(zs_buf_append(&records, out.data + out.pos + 7, zs_buf_pending(&out) - 7),
                     0);
    unframe(&records, ZS_FCGI_PARAMS, 1, &u);
    assert_params_framing(&u, 1 + 4 + 1 + 70000);
    assert_pairs(&u.stream, &var, 1);

    zs_buf_free(&u.stream);
    zs_buf_free(&records);
    zs_buf_free(&out);
    free(value);
}
END_TEST

/* ---- streams ---- */

struct stream_row {
    size_t len;
    size_t records;
    size_t last_content;
    size_t last_padding;
};

static const struct stream_row stream_rows[] = {
    { 0, 1, 0, 0 },
    { 1, 1, 1, 7 },
    { 8, 1, 8, 0 },
    { 65535, 1, 65535, 1 },
    { 65536, 2, 1, 7 },
    { 200000, 4, 3395, 5 },
};

START_TEST(stream_records_split_and_padded)
{
    const struct stream_row *row = &stream_rows[_i];
    char *data = letters_new(row->len, 7);
    struct zs_buf out = { 0 };
    size_t at = 0;
    size_t content_at = 0;

    ck_assert_int_eq(zs_fcgi_stream(&out, ZS_FCGI_STDIN, 0x0a0b, data, row->len), 0);
    for (size_t i = 0; i < row->records; i++) {
        struct test_record r = record_read(&out, &at);
        bool last = i + 1 == row->records;

        ck_assert_uint_eq(r.type, ZS_FCGI_STDIN);
        ck_assert_uint_eq(r.request_id, 0x0a0b);
        ck_assert_uint_eq(r.content_len, last ? row->last_content : FULL);
        ck_assert_uint_eq(r.padding_len, last ? row->last_padding : 1);
        ck_assert(memcmp(r.content, data + content_at, r.content_len) == 0);
        content_at += r.content_len;
    }
    ck_assert_uint_eq(at, zs_buf_pending(&out));
    ck_assert_uint_eq(content_at, row->len);

    zs_buf_free(&out);
    free(data);
}
END_TEST

START_TEST(stream_small_exact)
{
    static const unsigned char one_byte[] = {
        1, 5, 0, 9, 0, 1, 7, 0,
        'x', 0, 0, 0, 0, 0, 0, 0,
    };
    static const unsigned char end_of_stream[] = { 1, 5, 0, 9, 0, 0, 0, 0 };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_fcgi_stream(&out, ZS_FCGI_STDIN, 9, "x", 1), 0);
    assert_pending_bytes(&out, one_byte, sizeof(one_byte));
    zs_buf_consume(&out, zs_buf_pending(&out));
    ck_assert_int_eq(zs_fcgi_stream(&out, ZS_FCGI_STDIN, 9, NULL, 0), 0);
    assert_pending_bytes(&out, end_of_stream, sizeof(end_of_stream));
    zs_buf_free(&out);
}
END_TEST

/* ---- decoder helpers ---- */

/* Appends a record as an application may send it: any version, type and
 * padding length, with padding bytes that are not zero (receivers ignore
 * them). */
static void
raw_record(struct zs_buf *b, unsigned version, unsigned type, unsigned request_id,
           const void *content, size_t len, size_t padding)
{
    unsigned char header[ZS_FCGI_HEADER_LEN] = {
        (unsigned char)version, (unsigned char)type,
        (unsigned char)(request_id >> 8), (unsigned char)request_id,
        (unsigned char)(len >> 8), (unsigned char)len,
        (unsigned char)padding, 0,
    };
    unsigned char pad[255];

    memset(pad, 0xaa, sizeof(pad));
    ck_assert_uint_le(len, ZS_FCGI_MAX_CONTENT);
    ck_assert_uint_le(padding, sizeof(pad));
    ck_assert_int_eq(zs_buf_append(b, header, sizeof(header)), 0);
    ck_assert_int_eq(zs_buf_append(b, content, len), 0);
    ck_assert_int_eq(zs_buf_append(b, pad, padding), 0);
}

static void
end_request_record(struct zs_buf *b, unsigned request_id, uint32_t app_status,
                   uint8_t protocol_status, size_t padding)
{
    const unsigned char body[8] = {
        (unsigned char)(app_status >> 24), (unsigned char)(app_status >> 16),
        (unsigned char)(app_status >> 8), (unsigned char)app_status,
        protocol_status, 0, 0, 0,
    };

    raw_record(b, 1, ZS_FCGI_END_REQUEST, request_id, body, sizeof(body), padding);
}

#define MAX_EVENTS 32

/* A decoder result in a form that does not depend on where the input was
 * split: consecutive pieces of one stream are joined, and each empty piece
 * (end of a stream) and END_REQUEST is an event of its own. */
struct event {
    enum zs_fcgi_type type;
    uint16_t request_id;
    bool stream_end;
    struct zs_buf data;
    uint32_t app_status;
    uint8_t protocol_status;
};

struct events {
    struct event list[MAX_EVENTS];
    size_t count;
};

static void
events_add(struct events *ev, const struct zs_fcgi_piece *piece)
{
    bool is_data = piece->type != ZS_FCGI_END_REQUEST && piece->len > 0;

    if (is_data && ev->count > 0) {
        struct event *last = &ev->list[ev->count - 1];

        if (last->type == piece->type && last->request_id == piece->request_id &&
            !last->stream_end) {
            ck_assert_int_eq(zs_buf_append(&last->data, piece->data, piece->len), 0);
            return;
        }
    }

    ck_assert_uint_lt(ev->count, MAX_EVENTS);
    struct event *e = &ev->list[ev->count++];

    memset(e, 0, sizeof(*e));
    e->type = piece->type;
    e->request_id = piece->request_id;
    e->stream_end = piece->type != ZS_FCGI_END_REQUEST && piece->len == 0;
    e->app_status = piece->app_status;
    e->protocol_status = piece->protocol_status;
    ck_assert_int_eq(zs_buf_append(&e->data, piece->data, piece->len), 0);
}

static void
events_free(struct events *ev)
{
    for (size_t i = 0; i < ev->count; i++)
        zs_buf_free(&ev->list[i].data);
    ev->count = 0;
}

static void
assert_events_equal(const struct events *got, const struct events *want)
{
    ck_assert_uint_eq(got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        const struct event *g = &got->list[i];
        const struct event *w = &want->list[i];

        ck_assert_int_eq(g->type, w->type);
        ck_assert_uint_eq(g->request_id, w->request_id);
        ck_assert_int_eq(g->stream_end, w->stream_end);
        ck_assert_uint_eq(g->app_status, w->app_status);
        ck_assert_uint_eq(g->protocol_status, w->protocol_status);
        ck_assert_uint_eq(g->data.len, w->data.len);
        if (w->data.len > 0)
            ck_assert(memcmp(g->data.data, w->data.data, w->data.len) == 0);
    }
}

static void
expect_data(struct events *ev, enum zs_fcgi_type type, uint16_t request_id, const char *data,
            size_t len)
{
    struct zs_fcgi_piece piece = { .type = type, .request_id = request_id, .data = data,
                                   .len = len };

    events_add(ev, &piece);
}

static void
expect_end(struct events *ev, uint16_t request_id, uint32_t app_status, uint8_t protocol_status)
{
    struct zs_fcgi_piece piece = { .type = ZS_FCGI_END_REQUEST, .request_id = request_id,
                                   .app_status = app_status,
                                   .protocol_status = protocol_status };

    events_add(ev, &piece);
}

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

struct splitter {
    enum split_mode mode;
    uint32_t rng;
};

/* Mostly short chunks, which fall inside headers, END_REQUEST bodies and
 * padding, and now and then a long one that spans whole records. */
static size_t
chunk_len(struct splitter *s, size_t left)
{
    size_t n;

    switch (s->mode) {
    case SPLIT_WHOLE:
        return left;
    case SPLIT_BYTES:
        return 1;
    case SPLIT_RANDOM:
    default:
        n = rng_next(&s->rng) % 4 == 0 ? 1 + rng_next(&s->rng) % 100000
                                       : 1 + rng_next(&s->rng) % 20;
        return n < left ? n : left;
    }
}

/* Feeds input to a zero-initialised decoder in chunks, each copied to an
 * allocation of its own size so that AddressSanitizer reports a read past
 * the chunk, and checks that every piece points into its chunk. Returns
 * ZS_FCGI_NEED_MORE once all input is decoded, or ZS_FCGI_INVALID. */
static enum zs_fcgi_next
decode_split(const struct zs_buf *input, struct splitter *split, struct events *ev)
{
    struct zs_fcgi_parser parser = { 0 };
    size_t at = 0;

    while (at < input->len) {
        size_t n = chunk_len(split, input->len - at);
        char *chunk = malloc(n);

        ck_assert_ptr_nonnull(chunk);
        memcpy(chunk, input->data + at, n);
        at += n;

        const char *data = chunk;
        size_t len = n;
        enum zs_fcgi_next next;
        struct zs_fcgi_piece piece;

        while ((next = zs_fcgi_parse(&parser, &data, &len, &piece)) == ZS_FCGI_PIECE) {
            ck_assert_uint_eq((size_t)(data - chunk) + len, n);
            if (piece.type != ZS_FCGI_END_REQUEST) {
                ck_assert(piece.data >= chunk && piece.data + piece.len <= chunk + n);
            }
            events_add(ev, &piece);
        }
        free(chunk);
        if (next == ZS_FCGI_INVALID)
            return next;
        ck_assert_uint_eq(len, 0);
    }
    return ZS_FCGI_NEED_MORE;
}

/* Builds an application's output for two requests on one connection, with
 * every kind of record the decoder must return or skip, and the events the
 * decoder must return for it. */
static void
mixed_output(struct zs_buf *in, struct events *want, char **body)
{
    static const char head[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    static const char values_result[] = "\x0f\x01" "FCGI_MPXS_CONNS0";
    static const unsigned char unknown_type_body[8] = { 200 };

    *body = letters_new(ZS_FCGI_MAX_CONTENT, 8);
    memset(in, 0, sizeof(*in));
    memset(want, 0, sizeof(*want));

    raw_record(in, 1, ZS_FCGI_STDOUT, 1, head, sizeof(head) - 1, 4);
    raw_record(in, 1, ZS_FCGI_STDERR, 1, "warning: x", 10, 6);
    raw_record(in, 1, ZS_FCGI_GET_VALUES_RESULT, 0, values_result, sizeof(values_result) - 1, 7);
    raw_record(in, 1, ZS_FCGI_STDOUT, 1, *body, ZS_FCGI_MAX_CONTENT, 1);
    raw_record(in, 1, ZS_FCGI_UNKNOWN_TYPE, 0, unknown_type_body, 8, 0);
    raw_record(in, 1, 200, 1, "other", 5, 255);
    raw_record(in, 1, ZS_FCGI_STDOUT, 1, "z", 1, 0);
    raw_record(in, 1, ZS_FCGI_STDOUT, 1, NULL, 0, 0);
    raw_record(in, 1, ZS_FCGI_STDERR, 1, NULL, 0, 8);
    end_request_record(in, 1, 0x01020304, ZS_FCGI_OVERLOADED, 3);
    raw_record(in, 1, ZS_FCGI_STDOUT, 2, "next", 4, 4);
    raw_record(in, 1, ZS_FCGI_STDOUT, 2, NULL, 0, 0);
    end_request_record(in, 2, 0, ZS_FCGI_REQUEST_COMPLETE, 0);

    expect_data(want, ZS_FCGI_STDOUT, 1, head, sizeof(head) - 1);
    expect_data(want, ZS_FCGI_STDERR, 1, "warning: x", 10);
    expect_data(want, ZS_FCGI_STDOUT, 1, *body, ZS_FCGI_MAX_CONTENT);
    expect_data(want, ZS_FCGI_STDOUT, 1, "z", 1);
    expect_data(want, ZS_FCGI_STDOUT, 1, "", 0);
    expect_data(want, ZS_FCGI_STDERR, 1, "", 0);
    expect_end(want, 1, 0x01020304, ZS_FCGI_OVERLOADED);
    expect_data(want, ZS_FCGI_STDOUT, 2, "next", 4);
    expect_data(want, ZS_FCGI_STDOUT, 2, "", 0);
    expect_end(want, 2, 0, ZS_FCGI_REQUEST_COMPLETE);
}

static void
decode_mixed_output(enum split_mode mode, uint32_t seed)
{
    struct zs_buf in;
    struct events want, got = { .count = 0 };
    struct splitter split = { mode, seed };
    char *body;

    mixed_output(&in, &want, &body);
    ck_assert_int_eq(decode_split(&in, &split, &got), ZS_FCGI_NEED_MORE);
    assert_events_equal(&got, &want);

    events_free(&got);
    events_free(&want);
    zs_buf_free(&in);
    free(body);
}

/* ---- decoder ---- */

START_TEST(parse_whole_input)
{
    decode_mixed_output(SPLIT_WHOLE, 0);
}
END_TEST

START_TEST(parse_byte_by_byte)
{
    decode_mixed_output(SPLIT_BYTES, 0);
}
END_TEST

START_TEST(parse_random_splits)
{
    uint32_t seeds = SPLIT_SEED;

    for (int run = 0; run < RANDOM_SPLIT_RUNS; run++)
        decode_mixed_output(SPLIT_RANDOM, rng_next(&seeds));
}
END_TEST

START_TEST(parse_empty_input)
{
    struct zs_fcgi_parser parser;
    struct zs_fcgi_piece piece;
    const char *data = "";
    size_t len = 0;

    zs_fcgi_parser_init(&parser);
    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_NEED_MORE);
}
END_TEST

START_TEST(parse_header_split)
{
    static const char input[] = "\x01\x06\x12\x34\x00\x03\x05\x00" "abc" "\0\0\0\0\0";
    struct zs_fcgi_parser parser;
    struct zs_fcgi_piece piece;
    const char *data = input;
    size_t len = 5;

    zs_fcgi_parser_init(&parser);
    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_eq(data, input + 5);

    len = sizeof(input) - 1 - 5;
    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_STDOUT);
    ck_assert_uint_eq(piece.request_id, 0x1234);
    ck_assert_ptr_eq(piece.data, input + 8);
    ck_assert_uint_eq(piece.len, 3);
    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(parse_empty_stream_records)
{
    struct zs_buf in = { 0 };
    struct zs_fcgi_parser parser;
    struct zs_fcgi_piece piece;

    raw_record(&in, 1, ZS_FCGI_STDOUT, 0x0102, NULL, 0, 0);
    raw_record(&in, 1, ZS_FCGI_STDERR, 0x0102, NULL, 0, 8);
    raw_record(&in, 1, ZS_FCGI_STDOUT, 0x0102, "x", 1, 7);

    const char *data = in.data;
    size_t len = in.len;

    zs_fcgi_parser_init(&parser);
    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_STDOUT);
    ck_assert_uint_eq(piece.request_id, 0x0102);
    ck_assert_uint_eq(piece.len, 0);

    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_STDERR);
    ck_assert_uint_eq(piece.len, 0);

    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_STDOUT);
    ck_assert_uint_eq(piece.len, 1);
    ck_assert_int_eq(piece.data[0], 'x');

    ck_assert_int_eq(zs_fcgi_parse(&parser, &data, &len, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_uint_eq(len, 0);
    zs_buf_free(&in);
}
END_TEST

/* Feeds `len` more bytes of in, from *at, and returns the decoder's result. */
static enum zs_fcgi_next
feed(struct zs_fcgi_parser *parser, const struct zs_buf *in, size_t *at, size_t len,
     struct zs_fcgi_piece *piece)
{
    const char *data = in->data + *at;
    size_t left = len;
    enum zs_fcgi_next next = zs_fcgi_parse(parser, &data, &left, piece);

    ck_assert_uint_eq(left, 0);
    *at += len;
    return next;
}

START_TEST(parse_end_request_body_split)
{
    struct zs_buf in = { 0 };
    struct zs_fcgi_parser parser;
    struct zs_fcgi_piece piece;
    size_t at = 0;

    end_request_record(&in, 5, 0xfedcba98, ZS_FCGI_UNKNOWN_ROLE, 0);
    zs_fcgi_parser_init(&parser);
    ck_assert_int_eq(feed(&parser, &in, &at, ZS_FCGI_HEADER_LEN + 3, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_int_eq(feed(&parser, &in, &at, 4, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_int_eq(feed(&parser, &in, &at, 1, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_END_REQUEST);
    ck_assert_uint_eq(piece.request_id, 5);
    ck_assert_uint_eq(piece.app_status, 0xfedcba98);
    ck_assert_uint_eq(piece.protocol_status, ZS_FCGI_UNKNOWN_ROLE);
    zs_buf_free(&in);
}
END_TEST

START_TEST(parse_end_request_after_padding)
{
    struct zs_buf in = { 0 };
    struct zs_fcgi_parser parser;
    struct zs_fcgi_piece piece;
    size_t at = 0;

    end_request_record(&in, 5, 7, ZS_FCGI_CANT_MPX_CONN, 5);
    zs_fcgi_parser_init(&parser);
    ck_assert_int_eq(feed(&parser, &in, &at, ZS_FCGI_HEADER_LEN + 8, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_int_eq(feed(&parser, &in, &at, 2, &piece), ZS_FCGI_NEED_MORE);
    ck_assert_int_eq(feed(&parser, &in, &at, 3, &piece), ZS_FCGI_PIECE);
    ck_assert_int_eq(piece.type, ZS_FCGI_END_REQUEST);
    ck_assert_uint_eq(piece.app_status, 7);
    ck_assert_uint_eq(piece.protocol_status, ZS_FCGI_CANT_MPX_CONN);
    ck_assert_uint_eq(at, in.len);
    zs_buf_free(&in);
}
END_TEST

static const unsigned bad_versions[] = { 0, 2, 255 };

START_TEST(parse_rejects_bad_version)
{
    struct zs_buf in = { 0 };
    struct events got = { .count = 0 };
    struct splitter split = { SPLIT_BYTES, 0 };

    raw_record(&in, 1, ZS_FCGI_STDOUT, 1, "ok", 2, 6);
    raw_record(&in, bad_versions[_i], ZS_FCGI_STDOUT, 1, "no", 2, 6);
    ck_assert_int_eq(decode_split(&in, &split, &got), ZS_FCGI_INVALID);
    ck_assert_uint_eq(got.count, 1);
    ck_assert_mem_eq(got.list[0].data.data, "ok", 2);
    events_free(&got);
    zs_buf_free(&in);
}
END_TEST

static const size_t bad_end_lengths[] = { 0, 7, 9, 16 };

START_TEST(parse_rejects_end_request_length)
{
    static const char body[16] = { 0 };
    struct zs_buf in = { 0 };
    struct events got = { .count = 0 };
    struct splitter split = { SPLIT_WHOLE, 0 };

    raw_record(&in, 1, ZS_FCGI_END_REQUEST, 1, body, bad_end_lengths[_i], 0);
    ck_assert_int_eq(decode_split(&in, &split, &got), ZS_FCGI_INVALID);
    ck_assert_uint_eq(got.count, 0);
    zs_buf_free(&in);
}
END_TEST

START_TEST(parse_skips_other_types)
{
    static const unsigned skipped[] = {
        ZS_FCGI_BEGIN_REQUEST, ZS_FCGI_ABORT_REQUEST, ZS_FCGI_PARAMS, ZS_FCGI_STDIN,
        ZS_FCGI_DATA, ZS_FCGI_GET_VALUES, ZS_FCGI_GET_VALUES_RESULT, ZS_FCGI_UNKNOWN_TYPE,
        12, 255,
    };
    struct zs_buf in = { 0 };

    for (size_t i = 0; i < N_ROWS(skipped); i++) {
        raw_record(&in, 1, skipped[i], 1, "skipped", 7, i * 3);
        raw_record(&in, 1, skipped[i], 1, NULL, 0, i);
    }
    raw_record(&in, 1, ZS_FCGI_STDOUT, 1, "ok", 2, 0);

    for (enum split_mode mode = SPLIT_WHOLE; mode <= SPLIT_BYTES; mode++) {
        struct events got = { .count = 0 };
        struct splitter split = { mode, 0 };

        ck_assert_int_eq(decode_split(&in, &split, &got), ZS_FCGI_NEED_MORE);
        ck_assert_uint_eq(got.count, 1);
        ck_assert_int_eq(got.list[0].type, ZS_FCGI_STDOUT);
        ck_assert_uint_eq(got.list[0].data.len, 2);
        ck_assert_mem_eq(got.list[0].data.data, "ok", 2);
        events_free(&got);
    }
    zs_buf_free(&in);
}
END_TEST

/* ---- round trip ---- */

/* zs_fcgi_stream() frames every stream type the same way, so STDOUT records
 * from it are what an application would send. */
START_TEST(stream_round_trip)
{
    char *data = letters_new(200000, 9);
    struct zs_buf in = { 0 };
    struct events want = { .count = 0 };
    uint32_t seeds = SPLIT_SEED;

    ck_assert_int_eq(zs_fcgi_stream(&in, ZS_FCGI_STDOUT, 3, data, 200000), 0);
    ck_assert_int_eq(zs_fcgi_stream(&in, ZS_FCGI_STDOUT, 3, NULL, 0), 0);
    end_request_record(&in, 3, 0, ZS_FCGI_REQUEST_COMPLETE, 0);
    expect_data(&want, ZS_FCGI_STDOUT, 3, data, 200000);
    expect_data(&want, ZS_FCGI_STDOUT, 3, "", 0);
    expect_end(&want, 3, 0, ZS_FCGI_REQUEST_COMPLETE);

    for (int run = 0; run < RANDOM_SPLIT_RUNS; run++) {
        struct events got = { .count = 0 };
        struct splitter split = { run == 0 ? SPLIT_WHOLE : SPLIT_RANDOM, rng_next(&seeds) };

        ck_assert_int_eq(decode_split(&in, &split, &got), ZS_FCGI_NEED_MORE);
        assert_events_equal(&got, &want);
        events_free(&got);
    }

    events_free(&want);
    zs_buf_free(&in);
    free(data);
}
END_TEST

/* ---- SCGI ---- */

START_TEST(scgi_head_exact)
{
    static const struct zs_cgi_var vars[] = {
        VAR("REQUEST_METHOD", "POST"),
        VAR("CONTENT_LENGTH", "5"),
        VAR("REQUEST_URI", "/deepthought"),
        VAR("SCGI", "2"),
        VAR("QUERY_STRING", ""),
    };
    static const char expected[] = "84:"
                                   "CONTENT_LENGTH\0" "27\0"
                                   "SCGI\0" "1\0"
                                   "REQUEST_METHOD\0" "POST\0"
                                   "REQUEST_URI\0" "/deepthought\0"
                                   "QUERY_STRING\0" "\0"
                                   ",";
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_scgi_head(&out, vars, N_ROWS(vars), 27), 0);
    assert_pending_bytes(&out, expected, sizeof(expected) - 1);
    zs_buf_free(&out);
}
END_TEST

START_TEST(scgi_head_no_vars)
{
    static const char expected[] = "24:CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" ",";
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_scgi_head(&out, NULL, 0, 0), 0);
    assert_pending_bytes(&out, expected, sizeof(expected) - 1);
    zs_buf_free(&out);
}
END_TEST

START_TEST(scgi_head_max_content_length)
{
    static const char expected[] = "42:CONTENT_LENGTH\0" "9223372036854775807\0" "SCGI\0" "1\0"
                                   ",";
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_scgi_head(&out, NULL, 0, INT64_MAX), 0);
    assert_pending_bytes(&out, expected, sizeof(expected) - 1);
    zs_buf_free(&out);
}
END_TEST

START_TEST(scgi_head_rejects_bad_input)
{
    static const struct zs_cgi_var nul_in_value[] = { { "A", 1, "x\0y", 3 } };
    static const struct zs_cgi_var nul_in_name[] = { { "A\0B", 3, "x", 1 } };
    static const struct zs_cgi_var empty_name[] = { VAR("", "x") };
    struct zs_buf out = { 0 };

    ck_assert_int_eq(zs_buf_append(&out, "kept", 4), 0);
    ck_assert_int_eq(zs_scgi_head(&out, NULL, 0, -1), -1);
    assert_pending_bytes(&out, "kept", 4);
    ck_assert_int_eq(zs_scgi_head(&out, nul_in_value, 1, 0), -1);
    assert_pending_bytes(&out, "kept", 4);
    ck_assert_int_eq(zs_scgi_head(&out, nul_in_name, 1, 0), -1);
    assert_pending_bytes(&out, "kept", 4);
    ck_assert_int_eq(zs_scgi_head(&out, empty_name, 1, 0), -1);
    assert_pending_bytes(&out, "kept", 4);
    zs_buf_free(&out);
}
END_TEST

static Suite *
fcgi_record_suite(void)
{
    Suite *s = suite_create("fcgi_record");
    TCase *encode = tcase_create("encode");
    TCase *decode = tcase_create("decode");
    TCase *scgi = tcase_create("scgi");

    tcase_add_test(encode, begin_request_keep_conn);
    tcase_add_test(encode, begin_request_no_keep_conn);
    tcase_add_test(encode, abort_request_bytes);
    tcase_add_test(encode, params_short_pairs_exact);
    tcase_add_test(encode, params_no_vars);
    tcase_add_loop_test(encode, params_pair_lengths_and_split, 0, N_ROWS(pair_rows));
    tcase_add_test(encode, params_many_pairs_across_records);
    tcase_add_test(encode, params_rejects_value_over_31_bits);
    tcase_add_test(encode, params_keep_pending_bytes);
    tcase_add_loop_test(encode, stream_records_split_and_padded, 0, N_ROWS(stream_rows));
    tcase_add_test(encode, stream_small_exact);
    suite_add_tcase(s, encode);

    tcase_add_test(decode, parse_whole_input);
    tcase_add_test(decode, parse_byte_by_byte);
    tcase_add_test(decode, parse_random_splits);
    tcase_add_test(decode, parse_empty_input);
    tcase_add_test(decode, parse_header_split);
    tcase_add_test(decode, parse_empty_stream_records);
    tcase_add_test(decode, parse_end_request_body_split);
    tcase_add_test(decode, parse_end_request_after_padding);
    tcase_add_loop_test(decode, parse_rejects_bad_version, 0, N_ROWS(bad_versions));
    tcase_add_loop_test(decode, parse_rejects_end_request_length, 0, N_ROWS(bad_end_lengths));
    tcase_add_test(decode, parse_skips_other_types);
    tcase_add_test(decode, stream_round_trip);
    /* Decoding byte by byte and at random splits under AddressSanitizer
     * comes close to Check's default timeout of 4 seconds. */
    tcase_set_timeout(decode, 60);
    suite_add_tcase(s, decode);

    tcase_add_test(scgi, scgi_head_exact);
    tcase_add_test(scgi, scgi_head_no_vars);
    tcase_add_test(scgi, scgi_head_max_content_length);
    tcase_add_test(scgi, scgi_head_rejects_bad_input);
    suite_add_tcase(s, scgi);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fcgi_record_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
