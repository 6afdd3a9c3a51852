/* Small string helpers for HTTP header values: counted strings, ASCII only, no locale. */
#ifndef ZS_STRUTIL_H
#define ZS_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Returns 1 when s/len equals the NUL-terminated lit, ignoring ASCII case, else 0. */
int zs_str_ieq(const char *s, size_t len, const char *lit);

/* Removes leading and trailing optional whitespace (SP and HTAB, RFC 9110 5.6.3)
 * from the counted string at *s of *len bytes, updating both. */
void zs_str_trim_ows(const char **s, size_t *len);

/* Parses a non-negative decimal integer made only of digits (no sign, no spaces).
 * Returns 0 and stores it in *out, or -1 when s is empty, contains a non-digit or
 * exceeds INT64_MAX. *out is left unchanged on error. */
int zs_parse_int64(const char *s, size_t len, int64_t *out);

/* Returns 1 when the comma-separated header value contains token as a whole list
 * element (ASCII case ignored, OWS around commas and empty elements allowed), else 0.
 * An element with parameters ("gzip;q=1") matches only the whole text. */
int zs_header_has_token(const char *value, size_t len, const char *token);

/* Returns 1 when an Accept-Encoding value v/len accepts the content coding, else 0
 * (RFC 9110 12.5.3). A coding is accepted when listed with q > 0, or when "*" has
 * q > 0 and the coding is not listed with q = 0. Any listing with q = 0 wins over a
 * listing with q > 0. "identity" is accepted unless refused with q = 0 directly or
 * through "*". "x-gzip" and "x-compress" count as "gzip" and "compress". Elements
 * with an invalid qvalue are skipped. The caller handles an absent header, which
 * accepts every coding. */
int zs_accept_encoding_allows(const char *v, size_t len, const char *coding);

/* Optional whitespace (OWS) of RFC 9110 5.6.3. */
static inline bool
zs_is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* tchar of RFC 9110 5.6.2: the bytes allowed in a method and a field name. */
static inline bool
zs_is_tchar(char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A token of RFC 9110 5.6.2: one or more tchar. */
static inline bool
zs_is_token(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!zs_is_tchar(p[i]))
            return false;
    }
    return len > 0;
}

#endif
