/* HTTP dates (RFC 9110 5.6.7): IMF-fixdate output, all three historic forms as input. */
#ifndef ZS_HTTPDATE_H
#define ZS_HTTPDATE_H

#include <stddef.h>
#include <time.h>

#define ZS_HTTP_DATE_LEN 29   /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes IMF-fixdate for t into out (at least 30 bytes), NUL-terminated. Times
 * before 1970 are written as the epoch and times after 9999 as the last second of
 * 9999, because the format has a four-digit year and parsing rejects pre-1970 dates. */
void zs_http_date_format(time_t t, char *out);

/* Parses IMF-fixdate, RFC 850 and asctime forms; returns the time or -1 when invalid.
 * The weekday name must be valid for the form but is not checked against the date.
 * Dates before 1970 are invalid, which keeps -1 free as the error value. A two-digit
 * RFC 850 year is read in the current century unless that puts it more than 50
 * years in the future (RFC 9110 5.6.7), so that form reads the clock. */
time_t zs_http_date_parse(const char *s, size_t len);

#endif
