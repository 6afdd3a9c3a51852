/* Unit tests for ETag formatting and If-Match / If-None-Match list matching. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/etag.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

struct format_row {
    const char *desc;
    int line;
    int64_t sec;
    long nsec;
    int64_t size;
    const char *expected;
};

#define FMT(desc, sec, nsec, size, expected) { desc, __LINE__, sec, nsec, size, expected }

static const struct format_row format_rows[] = {
    FMT("whole seconds", 0x5f3a1b2c, 0, 0x1a4, "\"5f3a1b2c-1a4\""),
    FMT("zero time and size", 0, 0, 0, "\"0-0\""),
    FMT("nanoseconds included", 0x5f3a1b2c, 1, 0x1a4, "\"5f3a1b2c.1-1a4\""),
    FMT("largest nanoseconds", 0x5f3a1b2c, 999999999, 0x1a4, "\"5f3a1b2c.3b9ac9ff-1a4\""),
    FMT("nanoseconds of one second ignored", 0x5f3a1b2c, 1000000000, 0x1a4, "\"5f3a1b2c-1a4\""),
    FMT("negative nanoseconds ignored", 0x5f3a1b2c, -5, 0x1a4, "\"5f3a1b2c-1a4\""),
    FMT("size past 4 GiB", 0x5f3a1b2c, 0, INT64_C(0x180000000), "\"5f3a1b2c-180000000\""),
    FMT("longest tag", -1, 999999999, -1,
        "\"ffffffffffffffff.3b9ac9ff-ffffffffffffffff\""),
};

START_TEST(format_writes_quoted_hex)
{
    const struct format_row *row = &format_rows[_i];
    /* Exactly ZS_ETAG_MAX bytes, so that AddressSanitizer reports a write past them. */
    char *out = malloc(ZS_ETAG_MAX);

    ck_assert_ptr_nonnull(out);
    size_t n = zs_etag_format(out, row->sec, row->nsec, row->size);
    ck_assert_msg(strcmp(out, row->expected) == 0, "%s (line %d): got %s, expected %s",
                  row->desc, row->line, out, row->expected);
    ck_assert_msg(n == strlen(row->expected), "%s (line %d): length %zu, expected %zu",
                  row->desc, row->line, n, strlen(row->expected));
    free(out);
}
END_TEST

START_TEST(format_differs_by_nanoseconds)
{
    char a[ZS_ETAG_MAX], b[ZS_ETAG_MAX];

    zs_etag_format(a, 1700000000, 100, 4096);
    zs_etag_format(b, 1700000000, 200, 4096);
    ck_assert_str_ne(a, b);
}
END_TEST

struct match_row {
    const char *desc;
    int line;
    const char *list;
    const char *etag;
    int strong;                 /* expected with the strong comparison */
    int weak;                   /* expected with the weak comparison */
};

#define MATCH(desc, list, etag, strong, weak) { desc, __LINE__, list, etag, strong, weak }

static const struct match_row match_rows[] = {
    MATCH("same strong tag", "\"abc\"", "\"abc\"", 1, 1),
    MATCH("weak tag in list", "W/\"abc\"", "\"abc\"", 0, 1),
    MATCH("weak own tag", "\"abc\"", "W/\"abc\"", 0, 1),
    MATCH("both weak", "W/\"abc\"", "W/\"abc\"", 0, 1),
    MATCH("asterisk", "*", "\"abc\"", 1, 1),
    MATCH("asterisk with OWS", " * ", "\"abc\"", 1, 1),
    MATCH("asterisk followed by junk", "*x", "\"abc\"", 0, 0),
    MATCH("second element", "\"x\", \"abc\"", "\"abc\"", 1, 1),
    MATCH("no space after comma", "\"x\",\"abc\"", "\"abc\"", 1, 1),
    MATCH("OWS around comma", "\"x\" ,\t\"abc\"", "\"abc\"", 1, 1),
    MATCH("empty elements", ",, \"abc\" ,", "\"abc\"", 1, 1),
    MATCH("strong after weak", "W/\"abc\", \"abc\"", "\"abc\"", 1, 1),
    MATCH("prefix of the tag", "\"ab\"", "\"abc\"", 0, 0),
    MATCH("tag is a prefix", "\"abcd\"", "\"abc\"", 0, 0),
    MATCH("case differs", "\"ABC\"", "\"abc\"", 0, 0),
    MATCH("unquoted tag", "abc", "\"abc\"", 0, 0),
    MATCH("unterminated tag", "\"abc", "\"abc\"", 0, 0),
    MATCH("comma inside a tag", "\"a,b\"", "\"a,b\"", 1, 1),
    MATCH("tag with a comma is one tag", "\"abc,def\"", "\"abc\"", 0, 0),
    MATCH("comma tag before ours", "\"a,b\", \"abc\"", "\"abc\"", 1, 1),
    MATCH("tags without separator", "\"x\"\"abc\"", "\"abc\"", 0, 0),
    MATCH("lower-case weak prefix", "w/\"abc\"", "\"abc\"", 0, 0),
    MATCH("invalid element stops matching", "junk, \"abc\"", "\"abc\"", 0, 0),
    MATCH("match before an invalid element", "\"abc\", junk", "\"abc\"", 1, 1),
    MATCH("empty list", "", "\"abc\"", 0, 0),
    MATCH("only commas", " , ,", "\"abc\"", 0, 0),
    MATCH("empty opaque tags", "\"\"", "\"\"", 1, 1),
    MATCH("unquoted own tag", "\"abc\"", "abc", 0, 0),
};

START_TEST(list_match_compares_entity_tags)
{
    const struct match_row *row = &match_rows[_i];
    size_t list_len = strlen(row->list), etag_len = strlen(row->etag);

    int strong = zs_etag_list_match(row->list, list_len, row->etag, etag_len, 0);
    ck_assert_msg(strong == row->strong, "%s (line %d): strong comparison %d, expected %d",
                  row->desc, row->line, strong, row->strong);
    int weak = zs_etag_list_match(row->list, list_len, row->etag, etag_len, 1);
    ck_assert_msg(weak == row->weak, "%s (line %d): weak comparison %d, expected %d",
                  row->desc, row->line, weak, row->weak);
}
END_TEST

START_TEST(list_match_finds_formatted_tag)
{
    char etag[ZS_ETAG_MAX], list[3 * ZS_ETAG_MAX];

    size_t n = zs_etag_format(etag, 1700000000, 123456789, 6442450944);
    snprintf(list, sizeof(list), "\"old\", W/%s", etag);
    ck_assert_int_eq(zs_etag_list_match(list, strlen(list), etag, n, 1), 1);
    ck_assert_int_eq(zs_etag_list_match(list, strlen(list), etag, n, 0), 0);
}
END_TEST

START_TEST(list_match_stops_at_given_length)
{
    static const char list[] = "\"x\", \"abc\"";

    ck_assert_int_eq(zs_etag_list_match(list, sizeof(list) - 1, "\"abc\"", 5, 0), 1);
    ck_assert_int_eq(zs_etag_list_match(list, sizeof(list) - 2, "\"abc\"", 5, 0), 0);
    ck_assert_int_eq(zs_etag_list_match(list, 3, "\"x\"", 3, 0), 1);
}
END_TEST

static Suite *
etag_suite(void)
{
    Suite *s = suite_create("etag");
    TCase *tc = tcase_create("format");

    tcase_add_loop_test(tc, format_writes_quoted_hex, 0, N_ROWS(format_rows));
    tcase_add_test(tc, format_differs_by_nanoseconds);
    suite_add_tcase(s, tc);

    tc = tcase_create("list_match");
    tcase_add_loop_test(tc, list_match_compares_entity_tags, 0, N_ROWS(match_rows));
    tcase_add_test(tc, list_match_finds_formatted_tag);
    tcase_add_test(tc, list_match_stops_at_given_length);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(etag_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
