/* Unit tests for the string helpers used by the HTTP code. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strutil.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

struct ieq_row {
    const char *desc;
    int line;
    const char *s;
    const char *lit;
    int expected;
};

#define IEQ(desc, s, lit, expected) { desc, __LINE__, s, lit, expected }

static const struct ieq_row ieq_rows[] = {
    IEQ("same case", "close", "close", 1),
    IEQ("upper case", "CLOSE", "close", 1),
    IEQ("mixed case", "Keep-Alive", "keep-alive", 1),
    IEQ("both empty", "", "", 1),
    IEQ("shorter than literal", "clos", "close", 0),
    IEQ("longer than literal", "closed", "close", 0),
    IEQ("one letter differs", "clote", "close", 0),
    IEQ("case folding is ASCII only", "\xc9", "\xe9", 0),
    IEQ("punctuation is not folded", "@", "`", 0),
};

START_TEST(str_ieq_ignores_ascii_case)
{
    const struct ieq_row *row = &ieq_rows[_i];

    int got = zs_str_ieq(row->s, strlen(row->s), row->lit);
    ck_assert_msg(got == row->expected, "%s (line %d): got %d, expected %d", row->desc,
                  row->line, got, row->expected);
}
END_TEST

START_TEST(str_ieq_stops_at_given_length)
{
    ck_assert_int_eq(zs_str_ieq("closed", 5, "close"), 1);
    ck_assert_int_eq(zs_str_ieq("close\0x", 7, "close"), 0);
}
END_TEST

struct trim_row {
    const char *desc;
    int line;
    const char *in;
    const char *expected;
};

#define TRIM(desc, in, expected) { desc, __LINE__, in, expected }

static const struct trim_row trim_rows[] = {
    TRIM("nothing to trim", "a b", "a b"),
    TRIM("spaces both sides", "  a b  ", "a b"),
    TRIM("tabs both sides", "\ta\t", "a"),
    TRIM("only whitespace", " \t ", ""),
    TRIM("empty", "", ""),
    TRIM("CR and LF are not OWS", "\r\na\r\n", "\r\na\r\n"),
};

START_TEST(trim_ows_removes_spaces_and_tabs)
{
    const struct trim_row *row = &trim_rows[_i];
    const char *s = row->in;
    size_t len = strlen(row->in);

    zs_str_trim_ows(&s, &len);
    ck_assert_msg(len == strlen(row->expected) && memcmp(s, row->expected, len) == 0,
                  "%s (line %d): got \"%.*s\", expected \"%s\"", row->desc, row->line, (int)len,
                  s, row->expected);
}
END_TEST

struct int64_row {
    const char *desc;
    int line;
    const char *in;
    int rc;
    int64_t expected;
};

#define INT(desc, in, rc, expected) { desc, __LINE__, in, rc, expected }

static const struct int64_row int64_rows[] = {
    INT("zero", "0", 0, 0),
    INT("small number", "1234", 0, 1234),
    INT("leading zeros", "000042", 0, 42),
    INT("past 32 bits", "4294967296", 0, INT64_C(4294967296)),
    INT("largest value", "9223372036854775807", 0, INT64_MAX),
    INT("one past largest", "9223372036854775808", -1, 0),
    INT("far too large", "99999999999999999999", -1, 0),
    INT("empty", "", -1, 0),
    INT("minus sign", "-1", -1, 0),
    INT("plus sign", "+1", -1, 0),
    INT("leading space", " 1", -1, 0),
    INT("trailing space", "1 ", -1, 0),
    INT("letter", "12a", -1, 0),
    INT("hex prefix", "0x10", -1, 0),
    INT("decimal point", "1.0", -1, 0),
};

START_TEST(parse_int64_detects_overflow)
{
    const struct int64_row *row = &int64_rows[_i];
    int64_t got = -7;

    int rc = zs_parse_int64(row->in, strlen(row->in), &got);
    ck_assert_msg(rc == row->rc, "%s (line %d): rc %d, expected %d", row->desc, row->line, rc,
                  row->rc);
    if (row->rc == 0)
        ck_assert_msg(got == row->expected, "%s (line %d): got %lld, expected %lld", row->desc,
                      row->line, (long long)got, (long long)row->expected);
    else
        ck_assert_msg(got == -7, "%s (line %d): output changed on error", row->desc, row->line);
}
END_TEST

struct token_row {
    const char *desc;
    int line;
    const char *value;
    const char *token;
    int expected;
};

#define TOKEN(desc, value, token, expected) { desc, __LINE__, value, token, expected }

static const struct token_row token_rows[] = {
    TOKEN("single token", "close", "close", 1),
    TOKEN("case differs", "Close", "close", 1),
    TOKEN("second of two", "keep-alive, Upgrade", "upgrade", 1),
    TOKEN("OWS around comma", "a \t,\t close \t", "close", 1),
    TOKEN("empty elements", ",,close,,", "close", 1),
    TOKEN("longer token", "closed", "close", 0),
    TOKEN("shorter token", "clos", "close", 0),
    TOKEN("token inside a word", "xclose, y", "close", 0),
    TOKEN("token with parameter", "close;x=1", "close", 0),
    TOKEN("empty value", "", "close", 0),
    TOKEN("only commas", " , , ", "close", 0),
    TOKEN("space inside element", "keep alive", "keep", 0),
};

START_TEST(header_has_token_matches_whole_elements)
{
    const struct token_row *row = &token_rows[_i];

    int got = zs_header_has_token(row->value, strlen(row->value), row->token);
    ck_assert_msg(got == row->expected, "%s (line %d): got %d, expected %d", row->desc,
                  row->line, got, row->expected);
}
END_TEST

struct accept_row {
    const char *desc;
    int line;
    const char *value;
    const char *coding;
    int expected;
};

#define ACCEPT(desc, value, coding, expected) { desc, __LINE__, value, coding, expected }

static const struct accept_row accept_rows[] = {
    ACCEPT("listed", "gzip", "gzip", 1),
    ACCEPT("listed among others", "br, gzip, deflate", "gzip", 1),
    ACCEPT("case differs", "GZip", "gzip", 1),
    ACCEPT("not listed", "br, deflate", "gzip", 0),
    ACCEPT("empty value", "", "gzip", 0),
    ACCEPT("q of one", "gzip;q=1", "gzip", 1),
    ACCEPT("q of 1.000", "gzip;q=1.000", "gzip", 1),
    ACCEPT("smallest positive q", "gzip;q=0.001", "gzip", 1),
    ACCEPT("q of zero", "gzip;q=0", "gzip", 0),
    ACCEPT("q of 0.000", "gzip;q=0.000", "gzip", 0),
    ACCEPT("q with OWS around semicolon", "gzip \t; \tq=0.5", "gzip", 1),
    ACCEPT("upper-case Q", "gzip;Q=0", "gzip", 0),
    ACCEPT("unknown parameter ignored", "gzip;level=9", "gzip", 1),
    ACCEPT("unknown parameter then zero q", "gzip;level=9;q=0", "gzip", 0),
    ACCEPT("asterisk", "*", "gzip", 1),
    ACCEPT("asterisk with positive q", "*;q=0.1", "br", 1),
    ACCEPT("asterisk with zero q", "*;q=0", "gzip", 0),
    ACCEPT("listed beats asterisk refusal", "gzip, *;q=0", "gzip", 1),
    ACCEPT("listed refusal beats asterisk", "gzip;q=0, *", "gzip", 0),
    ACCEPT("refusal beats positive listing", "gzip, gzip;q=0", "gzip", 0),
    ACCEPT("x-gzip alias", "x-gzip", "gzip", 1),
    ACCEPT("x-gzip alias refused", "x-gzip;q=0, *", "gzip", 0),
    ACCEPT("x- prefix only for gzip and compress", "x-br", "br", 0),
    ACCEPT("x-compress alias", "X-Compress", "compress", 1),
    ACCEPT("invalid q skipped", "gzip;q=2", "gzip", 0),
    ACCEPT("q above one skipped", "gzip;q=1.001", "gzip", 0),
    ACCEPT("too many q digits skipped", "gzip;q=0.0001", "gzip", 0),
    ACCEPT("letters in q skipped", "gzip;q=abc", "gzip", 0),
    ACCEPT("empty q skipped", "gzip;q=", "gzip", 0),
    ACCEPT("invalid q does not hide others", "gzip;q=x, *", "gzip", 1),
    ACCEPT("empty elements", ", ,gzip, ,", "gzip", 1),
    ACCEPT("prefix of a coding", "gzipped", "gzip", 0),
    ACCEPT("identity when not listed", "gzip", "identity", 1),
    ACCEPT("identity with empty value", "", "identity", 1),
    ACCEPT("identity refused", "identity;q=0", "identity", 0),
    ACCEPT("identity refused by asterisk", "gzip, *;q=0", "identity", 0),
    ACCEPT("identity listed despite asterisk", "identity, *;q=0", "identity", 1),
};

START_TEST(accept_encoding_follows_qvalues)
{
    const struct accept_row *row = &accept_rows[_i];

    int got = zs_accept_encoding_allows(row->value, strlen(row->value), row->coding);
    ck_assert_msg(got == row->expected, "%s (line %d): got %d, expected %d", row->desc,
                  row->line, got, row->expected);
}
END_TEST

static Suite *
strutil_suite(void)
{
    Suite *s = suite_create("strutil");
    TCase *tc = tcase_create("strings");

    tcase_add_loop_test(tc, str_ieq_ignores_ascii_case, 0, N_ROWS(ieq_rows));
    tcase_add_test(tc, str_ieq_stops_at_given_length);
    tcase_add_loop_test(tc, trim_ows_removes_spaces_and_tabs, 0, N_ROWS(trim_rows));
    tcase_add_loop_test(tc, parse_int64_detects_overflow, 0, N_ROWS(int64_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("header_lists");
    tcase_add_loop_test(tc, header_has_token_matches_whole_elements, 0, N_ROWS(token_rows));
    tcase_add_loop_test(tc, accept_encoding_follows_qvalues, 0, N_ROWS(accept_rows));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(strutil_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
