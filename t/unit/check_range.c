/* Unit tests for Range header parsing. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/range.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))
#define MAX_EXPECTED 4

#define GiB INT64_C(1073741824)

struct range_row {
    const char *desc;
    int line;
    const char *value;
    int64_t size;
    size_t max;
    enum zs_range_result result;
    size_t count;
    struct zs_range ranges[MAX_EXPECTED];
};

#define OK(desc, value, size, max, count, ...) \
    { desc, __LINE__, value, size, max, ZS_RANGE_OK, count, { __VA_ARGS__ } }
#define UNSAT(desc, value, size) \
    { desc, __LINE__, value, size, 16, ZS_RANGE_UNSATISFIABLE, 0, { { 0, 0 } } }
#define IGNORE(desc, value, size, max) \
    { desc, __LINE__, value, size, max, ZS_RANGE_IGNORE, 0, { { 0, 0 } } }

static const struct range_row range_rows[] = {
    OK("first byte", "bytes=0-0", 10000, 16, 1, { 0, 0 }),
    OK("first 500 bytes", "bytes=0-499", 10000, 16, 1, { 0, 499 }),
    OK("suffix", "bytes=-500", 10000, 16, 1, { 9500, 9999 }),
    OK("open end", "bytes=9500-", 10000, 16, 1, { 9500, 9999 }),
    OK("whole file open end", "bytes=0-", 10000, 16, 1, { 0, 9999 }),
    OK("suffix larger than size", "bytes=-20000", 10000, 16, 1, { 0, 9999 }),
    OK("suffix equal to size", "bytes=-10000", 10000, 16, 1, { 0, 9999 }),
    OK("last past the end is clamped", "bytes=500-20000", 10000, 16, 1, { 500, 9999 }),
    OK("last byte only", "bytes=9999-9999", 10000, 16, 1, { 9999, 9999 }),
    OK("largest last is clamped", "bytes=0-9223372036854775807", 10000, 16, 1, { 0, 9999 }),
    OK("unsatisfiable part dropped", "bytes=0-1,10000-10005", 10000, 16, 1, { 0, 1 }),
    OK("unsatisfiable first part dropped", "bytes=10000-,0-1", 10000, 16, 1, { 0, 1 }),
    OK("zero suffix dropped", "bytes=-0,5-6", 10000, 16, 1, { 5, 6 }),
    OK("two ranges", "bytes=0-1,4-5", 10000, 16, 2, { 0, 1 }, { 4, 5 }),
    OK("OWS around comma", "bytes=0-1 ,\t4-5", 10000, 16, 2, { 0, 1 }, { 4, 5 }),
    OK("empty element inside", "bytes=0-1,,2-3", 10000, 16, 2, { 0, 1 }, { 2, 3 }),
    OK("empty element first", "bytes=,0-1", 10000, 16, 1, { 0, 1 }),
    OK("empty element last", "bytes=0-1,", 10000, 16, 1, { 0, 1 }),
    OK("empty elements with OWS", "bytes= , 0-1 , ", 10000, 16, 1, { 0, 1 }),
    OK("overlapping ranges kept", "bytes=0-5,2-3", 10000, 16, 2, { 0, 5 }, { 2, 3 }),
    OK("request order kept", "bytes=5-9,0-1,-2", 10000, 16, 3, { 5, 9 }, { 0, 1 }, { 9998, 9999 }),
    OK("unit is case-insensitive", "BYTES=0-1", 10000, 16, 1, { 0, 1 }),
    OK("OWS around the value", " \tbytes=0-1\t ", 10000, 16, 1, { 0, 1 }),
    OK("leading zeros", "bytes=0010-0020", 10000, 16, 1, { 10, 20 }),
    OK("one-byte file", "bytes=0-0", 1, 16, 1, { 0, 0 }),
    OK("suffix of one-byte file", "bytes=-1", 1, 16, 1, { 0, 0 }),
    OK("exactly max ranges", "bytes=0-1,2-3", 10000, 2, 2, { 0, 1 }, { 2, 3 }),
    OK("offset past 4 GiB", "bytes=5000000000-", 6 * GiB, 16, 1, { 5000000000, 6 * GiB - 1 }),
    OK("suffix of a 6 GiB file", "bytes=-1073741824", 6 * GiB, 16, 1, { 5 * GiB, 6 * GiB - 1 }),
    OK("range across 4 GiB", "bytes=4294967295-4294967296", 6 * GiB, 16, 1,
       { 4294967295, 4294967296 }),

    UNSAT("first at the size", "bytes=10000-", 10000),
    UNSAT("first beyond the size", "bytes=10000-10001", 10000),
    UNSAT("zero suffix", "bytes=-0", 10000),
    UNSAT("no part overlaps", "bytes=10000-,20000-30000,-0", 10000),
    UNSAT("largest first", "bytes=9223372036854775807-", 10000),
    UNSAT("zero-size file", "bytes=0-0", 0),
    UNSAT("suffix of a zero-size file", "bytes=-1", 0),
    UNSAT("open end on a zero-size file", "bytes=0-", 0),
    UNSAT("beyond a 6 GiB file", "bytes=6442450944-", 6 * GiB),

    IGNORE("empty value", "", 10000, 16),
    IGNORE("unit only", "bytes", 10000, 16),
    IGNORE("no range-spec", "bytes=", 10000, 16),
    IGNORE("only empty elements", "bytes= , ,", 10000, 16),
    IGNORE("other unit", "items=0-1", 10000, 16),
    IGNORE("unit prefix of a longer name", "bytesx=0-1", 10000, 16),
    IGNORE("space instead of equals", "bytes 0-1", 10000, 16),
    IGNORE("space before equals", "bytes =0-1", 10000, 16),
    IGNORE("last before first", "bytes=1-0", 10000, 16),
    IGNORE("invalid part spoils the rest", "bytes=0-1,5-4", 10000, 16),
    IGNORE("letters", "bytes=a-b", 10000, 16),
    IGNORE("trailing letter", "bytes=0-1x", 10000, 16),
    IGNORE("dash alone", "bytes=-", 10000, 16),
    IGNORE("double dash suffix", "bytes=--1", 10000, 16),
    IGNORE("negative last", "bytes=0--1", 10000, 16),
    IGNORE("plus sign", "bytes=+1-2", 10000, 16),
    IGNORE("number without dash", "bytes=5", 10000, 16),
    IGNORE("OWS inside a range", "bytes=0 - 1", 10000, 16),
    IGNORE("semicolon separator", "bytes=0-1;2-3", 10000, 16),
    IGNORE("missing comma", "bytes=0-1 2-3", 10000, 16),
    IGNORE("hex number", "bytes=0x10-", 10000, 16),
    IGNORE("three numbers", "bytes=1-2-3", 10000, 16),
    IGNORE("overflowing first", "bytes=9223372036854775808-", 10000, 16),
    IGNORE("overflowing last", "bytes=0-99999999999999999999", 10000, 16),
    IGNORE("overflowing suffix", "bytes=-9223372036854775808", 10000, 16),
    IGNORE("more than max ranges", "bytes=0-1,2-3,4-5", 10000, 2),
    IGNORE("unsatisfiable ranges count for max", "bytes=0-1,20000-,30000-", 10000, 2),
    IGNORE("max of zero", "bytes=0-1", 10000, 0),
};

START_TEST(range_parse_follows_rfc9110)
{
    const struct range_row *row = &range_rows[_i];
    /* The value without a NUL after it and exactly max output entries, so that
     * AddressSanitizer reports a read or write past either. */
    size_t len = strlen(row->value);
    char *value = malloc(len ? len : 1);
    struct zs_range *out = malloc((row->max ? row->max : 1) * sizeof(*out));
    size_t count = 99;

    ck_assert_ptr_nonnull(value);
    ck_assert_ptr_nonnull(out);
    memcpy(value, row->value, len);
    enum zs_range_result got = zs_range_parse(value, len, row->size, out, row->max, &count);
    ck_assert_msg(got == row->result, "%s (line %d): result %d, expected %d", row->desc,
                  row->line, (int)got, (int)row->result);
    ck_assert_msg(count == row->count, "%s (line %d): count %zu, expected %zu", row->desc,
                  row->line, count, row->count);
    for (size_t i = 0; i < row->count; i++) {
        ck_assert_msg(out[i].first == row->ranges[i].first,
                      "%s (line %d): range %zu first %lld, expected %lld", row->desc, row->line,
                      i, (long long)out[i].first, (long long)row->ranges[i].first);
        ck_assert_msg(out[i].last == row->ranges[i].last,
                      "%s (line %d): range %zu last %lld, expected %lld", row->desc, row->line,
                      i, (long long)out[i].last, (long long)row->ranges[i].last);
    }
    free(value);
    free(out);
}
END_TEST

START_TEST(range_parse_stops_at_given_length)
{
    static const char value[] = "bytes=0-1,junk";
    struct zs_range out[2];
    size_t count = 0;

    ck_assert_int_eq(zs_range_parse(value, 9, 100, out, 2, &count), ZS_RANGE_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(out[0].first, 0);
    ck_assert_int_eq(out[0].last, 1);
    ck_assert_int_eq(zs_range_parse(value, sizeof(value) - 1, 100, out, 2, &count),
                     ZS_RANGE_IGNORE);
    ck_assert_uint_eq(count, 0);
}
END_TEST

static Suite *
range_suite(void)
{
    Suite *s = suite_create("range");
    TCase *tc = tcase_create("parse");

    tcase_add_loop_test(tc, range_parse_follows_rfc9110, 0, N_ROWS(range_rows));
    tcase_add_test(tc, range_parse_stops_at_given_length);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(range_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
