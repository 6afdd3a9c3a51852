/* Unit tests for the CGI response head parser: field syntax, Status,
 * Location, Content-Length, dropped headers, limits, and feeding in pieces. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cgi_head.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

/* max_size for tests that do not test it: larger than every head below. */
#define TEST_MAX_SIZE 4096

/* Body bytes appended after a head to check that they are not consumed. */
#define BODY "BODY\r\n\r\nStatus: 500\r\n\r\n"

/* Feeds text in pieces of piece bytes until the parser stops asking for
 * more or the text runs out, and stores in *consumed the bytes it took. */
static enum zs_cgi_head_result
feed_in_pieces(struct zs_cgi_head *h, const char *text, size_t len, size_t piece,
               size_t *consumed)
{
    enum zs_cgi_head_result result = ZS_CGI_HEAD_MORE;
    size_t pos = 0;

    *consumed = 0;
    while (result == ZS_CGI_HEAD_MORE && pos < len) {
        size_t n = len - pos < piece ? len - pos : piece;
        size_t used = 0;

        result = zs_cgi_head_feed(h, text + pos, n, &used);
        if (result == ZS_CGI_HEAD_MORE)
            ck_assert_uint_eq(used, n);
        *consumed += used;
        pos += n;
    }
    return result;
}

/* Piece size that makes feed_in_pieces() pass the text in one call. */
#define WHOLE SIZE_MAX

/* Names a way of feeding for failure messages. */
static const char *
feeding_name(size_t piece, char *out, size_t size)
{
    if (piece == WHOLE)
        snprintf(out, size, "fed whole");
    else
        snprintf(out, size, "fed in pieces of %zu", piece);
    return out;
}

/* Writes the results as one line: the status, then " cl=N" for a
 * Content-Length, " location=V" and " local" for a local redirect, then
 * " | Name: value" for each header. */
static void
describe_results(const struct zs_cgi_head *h, char *out, size_t size)
{
    int n = snprintf(out, size, "%d", h->status);

    if (h->content_length != -1)
        n += snprintf(out + n, size - (size_t)n, " cl=%lld", (long long)h->content_length);
    if (h->location != NULL)
        n += snprintf(out + n, size - (size_t)n, " location=%.*s", (int)h->location_len,
                      h->location);
    if (h->local_redirect)
        n += snprintf(out + n, size - (size_t)n, " local");
    for (size_t i = 0; i < h->count; i++) {
        const struct zs_app_header *hdr = &h->headers[i];
        n += snprintf(out + n, size - (size_t)n, " | %.*s: %.*s", (int)hdr->name_len, hdr->name,
                      (int)hdr->value_len, hdr->value);
    }
    ck_assert_int_lt(n, (int)size);
}

/* Tells whether every result points into the received head bytes. */
static bool
results_point_into_raw(const struct zs_cgi_head *h)
{
    const char *start = h->raw.data;
    const char *end = h->raw.data + h->raw.len;

    if (h->location != NULL && (h->location < start || h->location + h->location_len > end))
        return false;
    for (size_t i = 0; i < h->count; i++) {
        const struct zs_app_header *hdr = &h->headers[i];
        if (hdr->name < start || hdr->name + hdr->name_len > end)
            return false;
        if (hdr->value < start || hdr->value + hdr->value_len > end)
            return false;
    }
    return true;
}

/* ---- heads that parse ---- */

struct ok_row {
    const char *desc;
    int line;
    const char *head;
    size_t head_len;
    const char *expected;        /* as describe_results() writes it */
};

#define OK(desc, head, expected) { desc, __LINE__, head, sizeof(head) - 1, expected }

static const struct ok_row ok_rows[] = {
    OK("status defaults to 200", "Content-Type: text/html\n\n", "200 | Content-Type: text/html"),
    OK("empty head with LF", "\n", "200"),
    OK("empty head with CRLF", "\r\n", "200"),

    OK("Status with reason", "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n",
       "404 | Content-Type: text/plain"),
    OK("Status code alone", "Status: 204\n\n", "204"),
    OK("Status with tab before reason", "Status: 503\tBusy\n\n", "503"),
    OK("Status lowest code", "Status: 200\n\n", "200"),
    OK("Status highest code", "Status: 599\n\n", "599"),
    OK("Status name in upper case", "STATUS: 201 Created\n\n", "201"),
    OK("Status repeated with same code", "Status: 404\nStatus: 404 Gone\n\n", "404"),

    OK("value trimmed", "X-A: \t v a l \t\r\n\r\n", "200 | X-A: v a l"),
    OK("value without space", "X-A:v\n\n", "200 | X-A: v"),
    OK("empty values", "X-A:\nX-B: \t\n\n", "200 | X-A:  | X-B: "),
    OK("colons in value", "X-A: a:b: c\n\n", "200 | X-A: a:b: c"),
    OK("obs-text in value", "X-A: caf\xe9\n\n", "200 | X-A: caf\xe9"),
    OK("every tchar in name", "!#$%&'*+-.^_`|~09azAZ: 1\n\n",
       "200 | !#$%&'*+-.^_`|~09azAZ: 1"),

    OK("LF line ends", "A: 1\nB: 2\n\n", "200 | A: 1 | B: 2"),
    OK("CRLF line ends", "A: 1\r\nB: 2\r\n\r\n", "200 | A: 1 | B: 2"),
    OK("CRLF lines, LF end", "A: 1\r\nB: 2\r\n\n", "200 | A: 1 | B: 2"),
    OK("LF lines, CRLF end", "A: 1\nB: 2\n\r\n", "200 | A: 1 | B: 2"),
    OK("alternating line ends", "A: 1\r\nB: 2\nC: 3\r\n\n", "200 | A: 1 | B: 2 | C: 3"),

    OK("order and repeated Set-Cookie",
       "Set-Cookie: a=1\nContent-Type: text/html\nSet-Cookie: b=2\nX-A: 1\n\n",
       "200 | Set-Cookie: a=1 | Content-Type: text/html | Set-Cookie: b=2 | X-A: 1"),

    OK("Content-Length left out", "Content-Length: 42\nContent-Type: text/plain\n\n",
       "200 cl=42 | Content-Type: text/plain"),
    OK("Content-Length zero", "Content-Length: 0\n\n", "200 cl=0"),
    OK("Content-Length leading zeros", "Content-Length: 007\n\n", "200 cl=7"),
    OK("Content-Length at 2^62", "Content-Length: 4611686018427387904\n\n",
       "200 cl=4611686018427387904"),
    OK("Content-Length repeated", "Content-Length: 5\ncontent-length: 5\n\n", "200 cl=5"),
    OK("Content-Length same number", "Content-Length: 5\nContent-Length: 005\n\n", "200 cl=5"),

    OK("local redirect", "Location: /next?a=1\n\n", "200 location=/next?a=1 local"),
    OK("local redirect keeps others", "X-A: 1\nLocation: /next\nX-B: 2\n\n",
       "200 location=/next local | X-A: 1 | X-B: 2"),
    OK("local redirect, name in lower case", "location: /x\n\n", "200 location=/x local"),
    OK("client redirect", "Location: http://example.org/x\n\n",
       "302 location=http://example.org/x | Location: http://example.org/x"),
    OK("client redirect keeps order", "X-A: 1\nLocation: https://a/\nX-B: 2\n\n",
       "302 location=https://a/ | X-A: 1 | Location: https://a/ | X-B: 2"),
    OK("relative Location redirects client", "Location: next.html\n\n",
       "302 location=next.html | Location: next.html"),
    OK("Location repeated with same value", "Location: http://a/\nLocation: http://a/\n\n",
       "302 location=http://a/ | Location: http://a/"),
    OK("Status before local path", "Status: 303 See Other\nLocation: /x\n\n",
       "303 location=/x | Location: /x"),
    OK("Status after local path", "Location: /x\nStatus: 201\n\n",
       "201 location=/x | Location: /x"),
    OK("Status 200 with local path", "Status: 200\nLocation: /x\n\n",
       "200 location=/x | Location: /x"),
    OK("Status with absolute URI", "Status: 301\nLocation: http://a/\n\n",
       "301 location=http://a/ | Location: http://a/"),

    OK("Date dropped", "X-A: 1\nDate: Sat, 05 Dec 2026 00:00:00 GMT\nX-B: 2\n\n",
       "200 | X-A: 1 | X-B: 2"),
    OK("Server dropped", "X-A: 1\nSERVER: app/1.0\nX-B: 2\n\n", "200 | X-A: 1 | X-B: 2"),
    OK("Connection dropped", "X-A: 1\nconnection: close\nX-B: 2\n\n", "200 | X-A: 1 | X-B: 2"),
    OK("Keep-Alive dropped", "X-A: 1\nKeep-Alive: timeout=5\nX-B: 2\n\n",
       "200 | X-A: 1 | X-B: 2"),
    OK("Transfer-Encoding dropped", "X-A: 1\nTransfer-Encoding: chunked\nX-B: 2\n\n",
       "200 | X-A: 1 | X-B: 2"),
    OK("TE dropped", "X-A: 1\nte: trailers\nX-B: 2\n\n", "200 | X-A: 1 | X-B: 2"),
    OK("Trailer dropped", "X-A: 1\nTrailer: X-C\nX-B: 2\n\n", "200 | X-A: 1 | X-B: 2"),
    OK("Upgrade dropped", "X-A: 1\nUpgrade: h2c\nX-B: 2\n\n", "200 | X-A: 1 | X-B: 2"),
    OK("Proxy-Connection dropped", "X-A: 1\nProxy-Connection: close\nX-B: 2\n\n",
       "200 | X-A: 1 | X-B: 2"),
    OK("names that only start like dropped ones kept",
       "X-Date: 1\nServers: 2\nTEA: 3\nDat: 4\n\n",
       "200 | X-Date: 1 | Servers: 2 | TEA: 3 | Dat: 4"),
};

static void
assert_parses(const struct ok_row *row, size_t piece)
{
    struct zs_cgi_head h;
    char got[2048];
    char mode[48];
    size_t consumed;

    feeding_name(piece, mode, sizeof(mode));
    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    enum zs_cgi_head_result result = feed_in_pieces(&h, row->head, row->head_len, piece, &consumed);
    ck_assert_msg(result == ZS_CGI_HEAD_DONE, "%s (line %d), %s: result %d, error %s",
                  row->desc, row->line, mode, result, h.error ? h.error : "none");
    ck_assert_msg(consumed == row->head_len, "%s (line %d), %s: consumed %zu of %zu",
                  row->desc, row->line, mode, consumed, row->head_len);
    describe_results(&h, got, sizeof(got));
    ck_assert_msg(strcmp(got, row->expected) == 0,
                  "%s (line %d), %s: got \"%s\", expected \"%s\"", row->desc,
                  row->line, mode, got, row->expected);
    ck_assert_msg(results_point_into_raw(&h), "%s (line %d), %s: results outside raw",
                  row->desc, row->line, mode);
    zs_cgi_head_free(&h);
}

START_TEST(head_parses_whole)
{
    assert_parses(&ok_rows[_i], WHOLE);
}
END_TEST

START_TEST(head_parses_byte_by_byte)
{
    assert_parses(&ok_rows[_i], 1);
}
END_TEST

START_TEST(head_parses_in_three_byte_pieces)
{
    assert_parses(&ok_rows[_i], 3);
}
END_TEST

/* The head and a body in one buffer, fed whole or in pieces: the parser
 * takes the head alone, and the same results as without the body. */
START_TEST(head_leaves_body_unconsumed)
{
    const struct ok_row *row = &ok_rows[_i];
    static const size_t pieces[] = { WHOLE, 1, 2, 5 };
    char input[1024];
    char got[2048];

    ck_assert_uint_lt(row->head_len + sizeof(BODY), sizeof(input));
    memcpy(input, row->head, row->head_len);
    memcpy(input + row->head_len, BODY, sizeof(BODY) - 1);
    size_t input_len = row->head_len + sizeof(BODY) - 1;

    for (size_t p = 0; p < N_ROWS(pieces); p++) {
        struct zs_cgi_head h;
        char mode[48];
        size_t consumed;

        feeding_name(pieces[p], mode, sizeof(mode));
        zs_cgi_head_init(&h, TEST_MAX_SIZE);
        enum zs_cgi_head_result result = feed_in_pieces(&h, input, input_len, pieces[p], &consumed);
        ck_assert_msg(result == ZS_CGI_HEAD_DONE, "%s (line %d), %s: result %d",
                      row->desc, row->line, mode, result);
        ck_assert_msg(consumed == row->head_len,
                      "%s (line %d), %s: consumed %zu, head is %zu", row->desc,
                      row->line, mode, consumed, row->head_len);
        describe_results(&h, got, sizeof(got));
        ck_assert_msg(strcmp(got, row->expected) == 0,
                      "%s (line %d), %s: got \"%s\", expected \"%s\"", row->desc,
                      row->line, mode, got, row->expected);
        zs_cgi_head_free(&h);
    }
}
END_TEST

/* ---- heads that are rejected ---- */

struct error_row {
    const char *desc;
    int line;
    const char *head;
    size_t head_len;
    const char *expected;        /* part of the error text */
};

#define ERR(desc, head, expected) { desc, __LINE__, head, sizeof(head) - 1, expected }

static const struct error_row error_rows[] = {
    ERR("line without colon", "Content-Type text/html\r\n\r\n",
        "line 1 has no colon: \"Content-Type text/html\""),
    ERR("body without head", "X-A: 1\nHello world\n\n",
        "line 2 has no colon: \"Hello world\""),
    ERR("empty name", "X-A: 1\n: x\n\n", "line 2 has an empty field name: \": x\""),
    ERR("space before colon", "Status : 200\n\n",
        "line 1 has whitespace before the colon: \"Status : 200\""),
    ERR("tab before colon", "X-A\t: 1\n\n",
        "line 1 has whitespace before the colon: \"X-A\\x09: 1\""),
    ERR("space inside name", "X A: 1\n\n", "line 1 has a field name that is not a token: \"X A: 1\""),
    ERR("separator in name", "X(A): 1\n\n",
        "line 1 has a field name that is not a token: \"X(A): 1\""),
    ERR("non-ASCII name", "X\xe9: 1\n\n",
        "line 1 has a field name that is not a token: \"X\\xe9: 1\""),
    ERR("obs-fold with space", "X-A: 1\n b\n\n",
        "line 2 starts with whitespace (obsolete line folding): \" b\""),
    ERR("obs-fold with tab", "X-A: 1\r\n\tb\r\n\r\n",
        "line 2 starts with whitespace (obsolete line folding): \"\\x09b\""),
    ERR("first line starts with space", " X-A: 1\n\n", "line 1 starts with whitespace"),
    ERR("NUL in value", "X-A: a\0b\n\n", "line 1 contains a NUL byte: \"X-A: a\\x00b\""),
    ERR("NUL in name", "X\0A: 1\n\n", "line 1 contains a NUL byte"),
    ERR("NUL alone", "\0\n\n", "line 1 contains a NUL byte"),
    ERR("bare CR in value", "X-A: a\rb\r\n\r\n",
        "line 1 contains a CR not followed by LF: \"X-A: a\\x0db\""),
    ERR("two CRs before LF", "X-A: a\r\r\n\r\n", "line 1 contains a CR not followed by LF"),
    ERR("bare CR starts a line", "X-A: 1\n\rX: 2\n\n", "line 2 contains a CR not followed by LF"),

    ERR("Status not a number", "Status: OK\n\n",
        "invalid Status header \"OK\": expected a code from 200 to 599"),
    ERR("Status empty", "Status:\n\n", "invalid Status header \"\""),
    ERR("Status of two digits", "Status: 20\n\n", "invalid Status header \"20\""),
    ERR("Status of four digits", "Status: 2000\n\n", "invalid Status header \"2000\""),
    ERR("Status below 100", "Status: 099\n\n", "invalid Status header \"099\""),
    ERR("Status interim 1xx", "Status: 103 Early Hints\n\n", "invalid Status header \"103 Early Hints\""),
    ERR("Status above 599", "Status: 600\n\n", "invalid Status header \"600\""),
    ERR("Status with letter", "Status: 2x0\n\n", "invalid Status header \"2x0\""),
    ERR("Status with sign", "Status: +200\n\n", "invalid Status header \"+200\""),
    ERR("Status glued to reason", "Status: 200OK\n\n", "invalid Status header \"200OK\""),
    ERR("Status repeated with other code", "Status: 200\nStatus: 404\n\n",
        "conflicting Status headers: 200 and 404"),

    ERR("Content-Length empty", "Content-Length:\n\n", "invalid Content-Length header \"\""),
    ERR("Content-Length negative", "Content-Length: -1\n\n",
        "invalid Content-Length header \"-1\": expected digits only, at most 2^62"),
    ERR("Content-Length with plus", "Content-Length: +1\n\n", "invalid Content-Length header \"+1\""),
    ERR("Content-Length hexadecimal", "Content-Length: 0x10\n\n",
        "invalid Content-Length header \"0x10\""),
    ERR("Content-Length with space", "Content-Length: 1 2\n\n",
        "invalid Content-Length header \"1 2\""),
    ERR("Content-Length list", "Content-Length: 5, 5\n\n",
        "invalid Content-Length header \"5, 5\""),
    ERR("Content-Length above 2^62", "Content-Length: 4611686018427387905\n\n",
        "invalid Content-Length header \"4611686018427387905\""),
    ERR("Content-Length above INT64_MAX", "Content-Length: 99999999999999999999\n\n",
        "invalid Content-Length header \"99999999999999999999\""),
    ERR("Content-Length repeated with other value", "Content-Length: 5\nContent-Length: 6\n\n",
        "conflicting Content-Length headers: 5 and 6"),

    ERR("Location empty", "Location: \n\n", "invalid Location header \"\""),
    ERR("Location repeated with other value", "Location: /a\nLocation: /b\n\n",
        "conflicting Location headers: \"/a\" and \"/b\""),

    ERR("long line quoted in part",
        "X-Long-Header-Name-That-Goes-On and on and on and on\n\n",
        "line 1 has no colon: \"X-Long-Header-Name-That-Goes-On and on a...\""),
};

static void
assert_rejected(const struct error_row *row, size_t piece)
{
    struct zs_cgi_head h;
    char mode[48];
    size_t consumed;

    feeding_name(piece, mode, sizeof(mode));
    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    enum zs_cgi_head_result result = feed_in_pieces(&h, row->head, row->head_len, piece, &consumed);
    ck_assert_msg(result == ZS_CGI_HEAD_ERROR, "%s (line %d), %s: result %d",
                  row->desc, row->line, mode, result);
    ck_assert_ptr_nonnull(h.error);
    ck_assert_msg(strstr(h.error, row->expected) != NULL,
                  "%s (line %d), %s: error \"%s\" lacks \"%s\"", row->desc, row->line,
                  mode, h.error, row->expected);
    zs_cgi_head_free(&h);
}

START_TEST(head_rejected_whole)
{
    assert_rejected(&error_rows[_i], WHOLE);
}
END_TEST

START_TEST(head_rejected_byte_by_byte)
{
    assert_rejected(&error_rows[_i], 1);
}
END_TEST

/* ---- feeding ---- */

START_TEST(incomplete_head_takes_all_bytes)
{
    static const char part[] = "Status: 200\r\nX-A: 1\n\r";
    struct zs_cgi_head h;
    size_t consumed = 0;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    enum zs_cgi_head_result result = zs_cgi_head_feed(&h, part, sizeof(part) - 1, &consumed);
    ck_assert_int_eq(result, ZS_CGI_HEAD_MORE);
    ck_assert_uint_eq(consumed, sizeof(part) - 1);

    result = zs_cgi_head_feed(&h, "", 0, &consumed);
    ck_assert_int_eq(result, ZS_CGI_HEAD_MORE);
    ck_assert_uint_eq(consumed, 0);

    result = zs_cgi_head_feed(&h, "\nbody", 5, &consumed);
    ck_assert_int_eq(result, ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(consumed, 1);
    ck_assert_int_eq(h.status, 200);
    ck_assert_uint_eq(h.count, 1);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(feed_after_done_takes_nothing)
{
    static const char head[] = "Status: 201\n\n";
    struct zs_cgi_head h;
    size_t consumed = 0;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(zs_cgi_head_feed(&h, head, sizeof(head) - 1, &consumed), ZS_CGI_HEAD_DONE);

    consumed = 99;
    ck_assert_int_eq(zs_cgi_head_feed(&h, "X-A: 1\n\n", 8, &consumed), ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(consumed, 0);
    ck_assert_int_eq(h.status, 201);
    ck_assert_uint_eq(h.count, 0);
    ck_assert_uint_eq(h.raw.len, sizeof(head) - 1);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(feed_after_error_takes_nothing)
{
    static const char head[] = "Status: 9\n";
    struct zs_cgi_head h;
    size_t consumed = 0;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(zs_cgi_head_feed(&h, head, sizeof(head) - 1, &consumed), ZS_CGI_HEAD_ERROR);
    const char *first_error = h.error;

    consumed = 99;
    ck_assert_int_eq(zs_cgi_head_feed(&h, "\n", 1, &consumed), ZS_CGI_HEAD_ERROR);
    ck_assert_uint_eq(consumed, 0);
    ck_assert_ptr_eq(h.error, first_error);
    zs_cgi_head_free(&h);
}
END_TEST

/* Error checks run as each line completes, before the empty line. */
START_TEST(error_found_before_head_ends)
{
    static const char part[] = "X-A: 1\nno colon here\nX-B: 2";
    struct zs_cgi_head h;
    size_t consumed = 0;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(zs_cgi_head_feed(&h, part, sizeof(part) - 1, &consumed), ZS_CGI_HEAD_ERROR);
    ck_assert_uint_eq(consumed, strlen("X-A: 1\nno colon here\n"));
    ck_assert_ptr_nonnull(strstr(h.error, "line 2 has no colon"));
    zs_cgi_head_free(&h);
}
END_TEST

/* A head larger than the first allocation of raw, fed byte by byte so
 * that raw moves several times: every result must point into the final
 * copy (AddressSanitizer reports a read of a freed one). */
START_TEST(results_follow_raw_when_it_grows)
{
    char head[3200];
    size_t len = 0;
    struct zs_cgi_head h;
    size_t consumed;

    len += (size_t)snprintf(head + len, sizeof(head) - len, "Location: http://a/first\r\n");
    for (int i = 0; i < 80; i++)
        len += (size_t)snprintf(head + len, sizeof(head) - len, "X-Header-%02d: value %02d\r\n", i, i);
    len += (size_t)snprintf(head + len, sizeof(head) - len, "\r\n");
    ck_assert_uint_lt(len, sizeof(head));

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(feed_in_pieces(&h, head, len, 1, &consumed), ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(consumed, len);
    ck_assert(results_point_into_raw(&h));
    ck_assert_uint_eq(h.count, 81);
    ck_assert_uint_eq(h.location_len, strlen("http://a/first"));
    ck_assert_int_eq(memcmp(h.location, "http://a/first", h.location_len), 0);

    const struct zs_app_header *last = &h.headers[80];
    ck_assert_uint_eq(last->name_len, strlen("X-Header-79"));
    ck_assert_int_eq(memcmp(last->name, "X-Header-79", last->name_len), 0);
    ck_assert_uint_eq(last->value_len, strlen("value 79"));
    ck_assert_int_eq(memcmp(last->value, "value 79", last->value_len), 0);
    zs_cgi_head_free(&h);
}
END_TEST

/* ---- limits ---- */

static const char sized_head[] = "Status: 200\r\nContent-Type: text/plain\r\n\r\n";
#define SIZED_HEAD_LEN (sizeof(sized_head) - 1)

/* Ways of feeding in the limit tests, indexed by _i: whole, then byte by byte. */
static const size_t limit_pieces[] = { WHOLE, 1 };

START_TEST(max_size_allows_exact_head)
{
    struct zs_cgi_head h;
    size_t consumed;

    zs_cgi_head_init(&h, SIZED_HEAD_LEN);
    ck_assert_int_eq(feed_in_pieces(&h, sized_head, SIZED_HEAD_LEN, limit_pieces[_i], &consumed),
                     ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(consumed, SIZED_HEAD_LEN);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(max_size_ignores_body)
{
    static const char input[] = "Status: 200\r\nContent-Type: text/plain\r\n\r\n" BODY;
    struct zs_cgi_head h;
    size_t consumed;

    zs_cgi_head_init(&h, SIZED_HEAD_LEN);
    ck_assert_int_eq(feed_in_pieces(&h, input, sizeof(input) - 1, limit_pieces[_i], &consumed),
                     ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(consumed, SIZED_HEAD_LEN);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(max_size_rejects_one_byte_more)
{
    struct zs_cgi_head h;
    size_t consumed;
    char expected[64];

    zs_cgi_head_init(&h, SIZED_HEAD_LEN - 1);
    ck_assert_int_eq(feed_in_pieces(&h, sized_head, SIZED_HEAD_LEN, limit_pieces[_i], &consumed),
                     ZS_CGI_HEAD_ERROR);
    snprintf(expected, sizeof(expected), "response head is larger than %zu bytes",
             SIZED_HEAD_LEN - 1);
    ck_assert_str_eq(h.error, expected);
    ck_assert_uint_le(h.raw.len, SIZED_HEAD_LEN - 1);
    zs_cgi_head_free(&h);
}
END_TEST

/* Builds a head of count header lines; every tenth is a Date line, which
 * is left out of headers but still counts. Returns its length. */
static size_t
build_many_headers(char *out, size_t size, int count)
{
    size_t len = 0;

    for (int i = 0; i < count; i++) {
        const char *fmt = i % 10 == 0 ? "Date: %d\n" : "X-%d: v\n";
        len += (size_t)snprintf(out + len, size - len, fmt, i);
    }
    len += (size_t)snprintf(out + len, size - len, "\n");
    ck_assert_uint_lt(len, size);
    return len;
}

START_TEST(header_count_allows_limit)
{
    char head[2048];
    size_t len = build_many_headers(head, sizeof(head), ZS_CGI_HEAD_MAX_HEADERS);
    struct zs_cgi_head h;
    size_t consumed;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(feed_in_pieces(&h, head, len, limit_pieces[_i], &consumed), ZS_CGI_HEAD_DONE);
    ck_assert_uint_eq(h.count, ZS_CGI_HEAD_MAX_HEADERS - ZS_CGI_HEAD_MAX_HEADERS / 10);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(header_count_rejects_one_more)
{
    char head[2048];
    size_t len = build_many_headers(head, sizeof(head), ZS_CGI_HEAD_MAX_HEADERS + 1);
    struct zs_cgi_head h;
    size_t consumed;
    char expected[64];

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(feed_in_pieces(&h, head, len, limit_pieces[_i], &consumed), ZS_CGI_HEAD_ERROR);
    snprintf(expected, sizeof(expected), "response head has more than %d header lines",
             ZS_CGI_HEAD_MAX_HEADERS);
    ck_assert_str_eq(h.error, expected);
    zs_cgi_head_free(&h);
}
END_TEST

START_TEST(free_without_feed)
{
    struct zs_cgi_head h;

    zs_cgi_head_init(&h, TEST_MAX_SIZE);
    ck_assert_int_eq(h.content_length, -1);
    ck_assert_ptr_null(h.location);
    ck_assert_ptr_null(h.error);
    zs_cgi_head_free(&h);
    zs_cgi_head_free(&h);
}
END_TEST

static Suite *
cgi_head_suite(void)
{
    Suite *s = suite_create("cgi_head");
    TCase *tc = tcase_create("fields");

    tcase_add_loop_test(tc, head_parses_whole, 0, N_ROWS(ok_rows));
    tcase_add_loop_test(tc, head_parses_byte_by_byte, 0, N_ROWS(ok_rows));
    tcase_add_loop_test(tc, head_parses_in_three_byte_pieces, 0, N_ROWS(ok_rows));
    tcase_add_loop_test(tc, head_leaves_body_unconsumed, 0, N_ROWS(ok_rows));
    tcase_add_loop_test(tc, head_rejected_whole, 0, N_ROWS(error_rows));
    tcase_add_loop_test(tc, head_rejected_byte_by_byte, 0, N_ROWS(error_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("feeding");
    tcase_add_test(tc, incomplete_head_takes_all_bytes);
    tcase_add_test(tc, feed_after_done_takes_nothing);
    tcase_add_test(tc, feed_after_error_takes_nothing);
    tcase_add_test(tc, error_found_before_head_ends);
    tcase_add_test(tc, results_follow_raw_when_it_grows);
    tcase_add_test(tc, free_without_feed);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_loop_test(tc, max_size_allows_exact_head, 0, N_ROWS(limit_pieces));
    tcase_add_loop_test(tc, max_size_ignores_body, 0, N_ROWS(limit_pieces));
    tcase_add_loop_test(tc, max_size_rejects_one_byte_more, 0, N_ROWS(limit_pieces));
    tcase_add_loop_test(tc, header_count_allows_limit, 0, N_ROWS(limit_pieces));
    tcase_add_loop_test(tc, header_count_rejects_one_more, 0, N_ROWS(limit_pieces));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cgi_head_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
