/* HTTP dates (RFC 9110 5.6.7): IMF-fixdate output, all three historic forms as input. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "lib/httpdate.h"

#define SECS_PER_DAY 86400
/* Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar. */
#define EPOCH_DAY_NUMBER 719162
#define DAYS_PER_400_YEARS 146097
#define DAYS_PER_100_YEARS 36524
#define DAYS_PER_4_YEARS 1461
/* 9999-12-31 23:59:59 UTC, the last time a four-digit year can show. */
#define MAX_FORMAT_TIME INT64_C(253402300799)

static const char weekday_short[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const weekday_long[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
};
static const char month_short[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};
/* Days before the first of each month in a common year. */
static const int days_before_month[13] = {
    0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365
};

struct civil_time {
    int year, month, day;       /* month 1-12, day 1-31 */
    int hour, minute, second;
};

static int
is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
days_in_month(int year, int month)
{
    int n = days_before_month[month] - days_before_month[month - 1];

    return n + (month == 2 && is_leap(year));
}

/* Returns the days from 1970-01-01 to the given date, for years from 1. */
static int64_t
days_from_civil(int year, int month, int day)
{
    int64_t y = year - 1;
    int64_t days = 365 * y + y / 4 - y / 100 + y / 400;

    days += days_before_month[month - 1] + (month > 2 && is_leap(year)) + day - 1;
    return days - EPOCH_DAY_NUMBER;
}

/* Splits days since 1970-01-01 (not negative) into year, month and day by
 * counting whole 400-, 100-, 4- and 1-year blocks from 0001-01-01. */
static void
civil_from_days(int64_t days, struct civil_time *ct)
{
    int64_t n = days + EPOCH_DAY_NUMBER;
    int64_t n400 = n / DAYS_PER_400_YEARS;
    int64_t n100, n4, n1;
    int month = 1;

    n %= DAYS_PER_400_YEARS;
    /* The last day of a 400-year block ends a fourth 100-year block of 36525 days. */
    n100 = n / DAYS_PER_100_YEARS;
    if (n100 == 4)
        n100 = 3;
    n -= n100 * DAYS_PER_100_YEARS;
    n4 = n / DAYS_PER_4_YEARS;
    n %= DAYS_PER_4_YEARS;
    n1 = n / 365;
    if (n1 == 4)
        n1 = 3;
    n -= n1 * 365;

    ct->year = (int)(1 + 400 * n400 + 100 * n100 + 4 * n4 + n1);
    while (month < 12 && n >= days_before_month[month] + (month >= 2 && is_leap(ct->year)))
        month++;
    ct->month = month;
    ct->day = (int)(n - days_before_month[month - 1] - (month > 2 && is_leap(ct->year))) + 1;
}

static char *
put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void
zs_http_date_format(time_t t, char *out)
{
    int64_t secs = (int64_t)t;
    struct civil_time ct;
    char *p = out;

    if (secs < 0)
        secs = 0;
    if (secs > MAX_FORMAT_TIME)
        secs = MAX_FORMAT_TIME;
    int64_t days = secs / SECS_PER_DAY;
    int rem = (int)(secs % SECS_PER_DAY);
    civil_from_days(days, &ct);

    /* 1970-01-01 was a Thursday. */
    memcpy(p, weekday_short[(days + 4) % 7], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, ct.day);
    *p++ = ' ';
    memcpy(p, month_short[ct.month - 1], 3);
    p += 3;
    *p++ = ' ';
    p = put2(p, ct.year / 100);
    p = put2(p, ct.year % 100);
    *p++ = ' ';
    p = put2(p, rem / 3600);
    *p++ = ':';
    p = put2(p, rem / 60 % 60);
    *p++ = ':';
    p = put2(p, rem % 60);
    memcpy(p, " GMT", 5);
}

/* Returns the value of n decimal digits at s, or -1 when one is not a digit. */
static int
parse_digits(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Returns the month 1-12 named by the three bytes at s (case-sensitive), or -1. */
static int
parse_month(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(s, month_short[i], 3) == 0)
            return i + 1;
    return -1;
}

static int
is_weekday_short(const char *s)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(s, weekday_short[i], 3) == 0)
            return 1;
    return 0;
}

static int
is_weekday_long(const char *s, size_t len)
{
    for (int i = 0; i < 7; i++)
        if (strlen(weekday_long[i]) == len && memcmp(s, weekday_long[i], len) == 0)
            return 1;
    return 0;
}

/* Parses "HH:MM:SS" at s into ct. Returns 0, or -1 when a field is not two digits. */
static int
parse_clock(const char *s, struct civil_time *ct)
{
    if (s[2] != ':' || s[5] != ':')
        return -1;
    ct->hour = parse_digits(s, 2);
    ct->minute = parse_digits(s + 3, 2);
    ct->second = parse_digits(s + 6, 2);
    return (ct->hour < 0 || ct->minute < 0 || ct->second < 0) ? -1 : 0;
}

/* Parses "Sun, 06 Nov 1994 08:49:37 GMT". */
static int
parse_imf_fixdate(const char *s, size_t len, struct civil_time *ct)
{
    if (len != ZS_HTTP_DATE_LEN || !is_weekday_short(s) || memcmp(s + 3, ", ", 2) != 0 ||
        s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    ct->day = parse_digits(s + 5, 2);
    ct->month = parse_month(s + 8);
    ct->year = parse_digits(s + 12, 4);
    return parse_clock(s + 17, ct);
}

/* Parses "Sun Nov  6 08:49:37 1994", whose day may be padded with a space. */
static int
parse_asctime(const char *s, size_t len, struct civil_time *ct)
{
    if (len != 24 || !is_weekday_short(s) || s[3] != ' ' || s[7] != ' ' ||
        s[10] != ' ' || s[19] != ' ')
        return -1;
    ct->month = parse_month(s + 4);
    ct->day = s[8] == ' ' ? parse_digits(s + 9, 1) : parse_digits(s + 8, 2);
    ct->year = parse_digits(s + 20, 4);
    return parse_clock(s + 11, ct);
}

/* Returns the full year for a two-digit RFC 850 year yy. That is the year in the
 * current century, or a century earlier when it is more than 50 years ahead. */
static int
expand_two_digit_year(int yy)
{
    struct civil_time now;
    time_t t = time(NULL);

    civil_from_days(t > 0 ? (int64_t)t / SECS_PER_DAY : 0, &now);
    int year = now.year - now.year % 100 + yy;
    if (year > now.year + 50)
        year -= 100;
    return year;
}

/* Parses "Sunday, 06-Nov-94 08:49:37 GMT". */
static int
parse_rfc850(const char *s, size_t len, struct civil_time *ct)
{
    const char *comma = memchr(s, ',', len < 10 ? len : 10);
    const char *p;

    if (comma == NULL || !is_weekday_long(s, (size_t)(comma - s)))
        return -1;
    p = comma + 1;
    if ((size_t)(s + len - p) != 23 || p[0] != ' ' || p[3] != '-' || p[7] != '-' ||
        p[10] != ' ' || memcmp(p + 19, " GMT", 4) != 0)
        return -1;
    ct->day = parse_digits(p + 1, 2);
    ct->month = parse_month(p + 4);
    ct->year = parse_digits(p + 8, 2);
    if (ct->year < 0)
        return -1;
    ct->year = expand_two_digit_year(ct->year);
    return parse_clock(p + 11, ct);
}

time_t
zs_http_date_parse(const char *s, size_t len)
{
    struct civil_time ct;
    int rc;

    if (len < 24)
        return -1;
    if (s[3] == ',')
        rc = parse_imf_fixdate(s, len, &ct);
    else if (s[3] == ' ')
        rc = parse_asctime(s, len, &ct);
    else
        rc = parse_rfc850(s, len, &ct);
    if (rc == -1 || ct.year < 1970 || ct.month < 1 || ct.day < 1 ||
        ct.day > days_in_month(ct.year, ct.month))
        return -1;
    /* The grammar allows second 60 for a leap second, which reads as the next second. */
    if (ct.hour > 23 || ct.minute > 59 || ct.second > 60)
        return -1;

    int64_t days = days_from_civil(ct.year, ct.month, ct.day);
    return (time_t)(days * SECS_PER_DAY + ct.hour * 3600 + ct.minute * 60 + ct.second);
}
