/* Unit tests for HTTP date formatting and parsing. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/httpdate.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

struct format_row {
    const char *desc;
    int line;
    int64_t t;
    const char *expected;
};

#define FMT(desc, t, expected) { desc, __LINE__, t, expected }

static const struct format_row format_rows[] = {
    FMT("epoch", 0, "Thu, 01 Jan 1970 00:00:00 GMT"),
    FMT("RFC 9110 example", 784111777, "Sun, 06 Nov 1994 08:49:37 GMT"),
    FMT("last second of 1999", 946684799, "Fri, 31 Dec 1999 23:59:59 GMT"),
    FMT("leap day of a 400-year leap year", 951782400, "Tue, 29 Feb 2000 00:00:00 GMT"),
    FMT("day after that leap day", 951868800, "Wed, 01 Mar 2000 00:00:00 GMT"),
    FMT("leap day 2024", 1709164800, "Thu, 29 Feb 2024 00:00:00 GMT"),
    FMT("end of a leap year", 1483228799, "Sat, 31 Dec 2016 23:59:59 GMT"),
    FMT("largest 32-bit time", 2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"),
    FMT("2100 is not a leap year", 4107542399, "Sun, 28 Feb 2100 23:59:59 GMT"),
    FMT("March 2100 follows February 28", 4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"),
    FMT("last four-digit year", INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT"),
    FMT("before the epoch clamps to it", -1, "Thu, 01 Jan 1970 00:00:00 GMT"),
    FMT("far past clamps to the epoch", INT64_C(-9000000000), "Thu, 01 Jan 1970 00:00:00 GMT"),
    FMT("year 10000 clamps to 9999", INT64_C(253402300800), "Fri, 31 Dec 9999 23:59:59 GMT"),
};

START_TEST(format_writes_imf_fixdate)
{
    const struct format_row *row = &format_rows[_i];
    char out[ZS_HTTP_DATE_LEN + 1];

    zs_http_date_format((time_t)row->t, out);
    ck_assert_msg(strcmp(out, row->expected) == 0, "%s (line %d): got \"%s\", expected \"%s\"",
                  row->desc, row->line, out, row->expected);
    ck_assert_msg(strlen(out) == ZS_HTTP_DATE_LEN, "%s (line %d): length %zu", row->desc,
                  row->line, strlen(out));
}
END_TEST

/* Compares against gmtime_r() and strftime() in the C locale (the test never calls
 * setlocale) once per day from 1970 to 2400, at a second that moves through the day. */
START_TEST(format_matches_gmtime_every_day)
{
    for (int64_t day = 0; day < 157000; day++) {
        time_t t = (time_t)(day * 86400 + (day * 7919) % 86400);
        char got[ZS_HTTP_DATE_LEN + 1], expected[64];
        struct tm tm;

        /* Plain ifs, because every passing ck_assert sends a message to the parent. */
        if (gmtime_r(&t, &tm) == NULL)
            ck_abort_msg("t=%lld: gmtime_r failed", (long long)t);
        strftime(expected, sizeof(expected), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        zs_http_date_format(t, got);
        if (strcmp(got, expected) != 0)
            ck_abort_msg("t=%lld: got \"%s\", expected \"%s\"", (long long)t, got, expected);
        if (zs_http_date_parse(got, ZS_HTTP_DATE_LEN) != t)
            ck_abort_msg("t=%lld: \"%s\" does not parse back", (long long)t, got);
    }
}
END_TEST

struct parse_row {
    const char *desc;
    int line;
    const char *in;
    int64_t expected;           /* -1: invalid */
};

#define PARSE(desc, in, expected) { desc, __LINE__, in, expected }

static const struct parse_row parse_rows[] = {
    PARSE("IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", 784111777),
    PARSE("asctime with space-padded day", "Sun Nov  6 08:49:37 1994", 784111777),
    PARSE("asctime with two-digit day", "Wed Jun 09 10:18:14 2021", 1623233894),
    PARSE("asctime with day 16", "Wed Nov 16 00:00:00 1994", 784944000),
    /* Two-digit years: "94" reads as 1994 until 2044 and "21" as 2021 until 2099. */
    PARSE("RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 784111777),
    PARSE("RFC 850 in this century", "Wednesday, 09-Jun-21 10:18:14 GMT", 1623233894),
    PARSE("epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0),
    PARSE("leap day", "Tue, 29 Feb 2000 00:00:00 GMT", 951782400),
    PARSE("last four-digit year", "Fri, 31 Dec 9999 23:59:59 GMT", INT64_C(253402300799)),
    PARSE("leap second reads as next second", "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800),
    PARSE("weekday not checked against date", "Mon, 06 Nov 1994 08:49:37 GMT", 784111777),

    PARSE("empty", "", -1),
    PARSE("truncated", "Sun, 06 Nov 1994 08:49:37 GM", -1),
    PARSE("trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", -1),
    PARSE("leading space", " Sun, 06 Nov 1994 08:49:37 GMT", -1),
    PARSE("trailing parameter", "Sun, 06 Nov 1994 08:49:37 GMT; length=12", -1),
    PARSE("last second before the epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1),
    PARSE("two seconds before the epoch", "Wed, 31 Dec 1969 23:59:58 GMT", -1),
    PARSE("asctime before the epoch", "Sun Nov  6 08:49:37 1904", -1),
    PARSE("lower-case GMT", "Sun, 06 Nov 1994 08:49:37 gmt", -1),
    PARSE("UTC instead of GMT", "Sun, 06 Nov 1994 08:49:37 UTC", -1),
    PARSE("numeric zone", "Sun, 06 Nov 1994 08:49:37 +000", -1),
    PARSE("unknown weekday", "Sux, 06 Nov 1994 08:49:37 GMT", -1),
    PARSE("lower-case weekday", "sun, 06 Nov 1994 08:49:37 GMT", -1),
    PARSE("lower-case month", "Sun, 06 nov 1994 08:49:37 GMT", -1),
    PARSE("unknown month", "Sun, 06 Nox 1994 08:49:37 GMT", -1),
    PARSE("letter in year", "Sun, 06 Nov 19a4 08:49:37 GMT", -1),
    PARSE("space-padded day in IMF-fixdate", "Sun,  6 Nov 1994 08:49:37 GMT", -1),
    PARSE("day zero", "Sun, 00 Nov 1994 08:49:37 GMT", -1),
    PARSE("April 31", "Sun, 31 Apr 1994 08:49:37 GMT", -1),
    PARSE("February 29 in a common year", "Wed, 29 Feb 2023 00:00:00 GMT", -1),
    PARSE("February 29 in 2100", "Mon, 29 Feb 2100 00:00:00 GMT", -1),
    PARSE("day 32", "Sun, 32 Jan 1994 08:49:37 GMT", -1),
    PARSE("hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", -1),
    PARSE("minute 60", "Sun, 06 Nov 1994 08:60:37 GMT", -1),
    PARSE("second 61", "Sun, 06 Nov 1994 08:49:61 GMT", -1),
    PARSE("dots in clock", "Sun, 06 Nov 1994 08.49.37 GMT", -1),
    PARSE("sign in clock", "Sun, 06 Nov 1994 -8:49:37 GMT", -1),
    PARSE("missing comma", "Sun 06 Nov 1994 08:49:37 GMT", -1),
    PARSE("RFC 850 with short weekday", "Sun, 06-Nov-94 08:49:37 GMT", -1),
    PARSE("RFC 850 with unknown weekday", "Sundae, 06-Nov-94 08:49:37 GMT", -1),
    PARSE("RFC 850 with four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT", -1),
    PARSE("RFC 850 with slashes", "Sunday, 06/Nov/94 08:49:37 GMT", -1),
    PARSE("asctime with zone", "Sun Nov  6 08:49:37 1994 GMT", -1),
    PARSE("asctime with two-digit year", "Sun Nov  6 08:49:37 94", -1),
    PARSE("asctime with blank day", "Sun Nov    08:49:37 1994", -1),
    PARSE("ISO 8601", "1994-11-06T08:49:37Z", -1),
};

START_TEST(parse_reads_three_forms)
{
    const struct parse_row *row = &parse_rows[_i];

    int64_t got = (int64_t)zs_http_date_parse(row->in, strlen(row->in));
    ck_assert_msg(got == row->expected, "%s (line %d): got %lld, expected %lld", row->desc,
                  row->line, (long long)got, (long long)row->expected);
}
END_TEST

START_TEST(parse_stops_at_given_length)
{
    static const char in[] = "Sun, 06 Nov 1994 08:49:37 GMT, junk";

    ck_assert_int_eq(zs_http_date_parse(in, ZS_HTTP_DATE_LEN), 784111777);
    ck_assert_int_eq(zs_http_date_parse(in, sizeof(in) - 1), -1);
    ck_assert_int_eq(zs_http_date_parse(in, 3), -1);
}
END_TEST

static Suite *
httpdate_suite(void)
{
    Suite *s = suite_create("httpdate");
    TCase *tc = tcase_create("format");

    tcase_add_loop_test(tc, format_writes_imf_fixdate, 0, N_ROWS(format_rows));
    tcase_add_test(tc, format_matches_gmtime_every_day);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, parse_reads_three_forms, 0, N_ROWS(parse_rows));
    tcase_add_test(tc, parse_stops_at_given_length);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(httpdate_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
