/* Small string helpers for HTTP header values: counted strings, ASCII only, no locale. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/strutil.h"

/* Accept-Encoding weights are kept as thousandths: "q=0.5" is 500. */
#define QVALUE_ONE 1000

static inline unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static inline int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int
zs_str_ieq(const char *s, size_t len, const char *lit)
{
    for (size_t i = 0; i < len; i++) {
        if (lit[i] == '\0')
            return 0;
        if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
            return 0;
    }
    return lit[len] == '\0';
}

void
zs_str_trim_ows(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;

    while (n > 0 && is_ows(p[0])) {
        p++;
        n--;
    }
    while (n > 0 && is_ows(p[n - 1]))
        n--;
    *s = p;
    *len = n;
}

int
zs_parse_int64(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';
        if (d > 9)
            return -1;
        if (v > (INT64_MAX - (int64_t)d) / 10)
            return -1;
        v = v * 10 + (int64_t)d;
    }
    *out = v;
    return 0;
}

/* Stores the element of a comma-separated list that starts at pos, without OWS,
 * and returns the position after its comma (len at the end of the value). */
static size_t
list_next(const char *v, size_t len, size_t pos, const char **elem, size_t *elen)
{
    const char *comma = memchr(v + pos, ',', len - pos);
    size_t end = comma ? (size_t)(comma - v) : len;

    *elem = v + pos;
    *elen = end - pos;
    zs_str_trim_ows(elem, elen);
    return comma ? end + 1 : len;
}

int
zs_header_has_token(const char *value, size_t len, const char *token)
{
    size_t pos = 0;

    while (pos < len) {
        const char *elem;
        size_t elen;

        pos = list_next(value, len, pos, &elem, &elen);
        if (elen > 0 && zs_str_ieq(elem, elen, token))
            return 1;
    }
    return 0;
}

/* Parses a qvalue (RFC 9110 12.4.2: "0" to "0.999", or "1" to "1.000") into
 * thousandths, or returns -1 when it does not follow that grammar. */
static int
qvalue_parse(const char *s, size_t len)
{
    int q, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * QVALUE_ONE;
    if (len == 1)
        return q;
    if (s[1] != '.' || len > 5)
        return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > QVALUE_ONE ? -1 : q;
}

/* Returns the weight of one Accept-Encoding element in thousandths (1000 when it
 * has no "q" parameter) and stores its coding name, or returns -1 when the element
 * is empty or its qvalue is invalid. */
static int
coding_weight(const char *elem, size_t elen, const char **name, size_t *nlen)
{
    const char *semi = memchr(elem, ';', elen);
    size_t pos;
    int q = QVALUE_ONE;

    *name = elem;
    *nlen = semi ? (size_t)(semi - elem) : elen;
    zs_str_trim_ows(name, nlen);
    if (*nlen == 0)
        return -1;

    /* Parameters other than q have no meaning for content codings and are skipped. */
    while (semi != NULL) {
        const char *param = semi + 1;
        size_t plen;

        pos = (size_t)(param - elem);
        semi = memchr(param, ';', elen - pos);
        plen = semi ? (size_t)(semi - param) : elen - pos;
        zs_str_trim_ows(&param, &plen);
        if (plen >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
            q = qvalue_parse(param + 2, plen - 2);
        if (q < 0)
            return -1;
    }
    return q;
}

/* Returns 1 when an Accept-Encoding coding name denotes coding, counting the
 * "x-gzip" and "x-compress" aliases (RFC 9110 8.4.1). */
static int
coding_matches(const char *name, size_t nlen, const char *coding, int has_alias)
{
    if (zs_str_ieq(name, nlen, coding))
        return 1;
    return has_alias && nlen > 2 && ascii_lower((unsigned char)name[0]) == 'x' &&
           name[1] == '-' && zs_str_ieq(name + 2, nlen - 2, coding);
}

int
zs_accept_encoding_allows(const char *v, size_t len, const char *coding)
{
    size_t coding_len = strlen(coding);
    int has_alias = zs_str_ieq(coding, coding_len, "gzip") ||
                    zs_str_ieq(coding, coding_len, "compress");
    int listed_pos = 0, listed_zero = 0, star_pos = 0, star_zero = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *elem, *name;
        size_t elen, nlen;
        int q;

        pos = list_next(v, len, pos, &elem, &elen);
        q = coding_weight(elem, elen, &name, &nlen);
        if (q < 0)
            continue;
        if (nlen == 1 && name[0] == '*') {
            star_pos |= q > 0;
            star_zero |= q == 0;
        } else if (coding_matches(name, nlen, coding, has_alias)) {
            listed_pos |= q > 0;
            listed_zero |= q == 0;
        }
    }

    if (listed_zero)
        return 0;
    if (listed_pos)
        return 1;
    if (star_zero)
        return 0;
    if (star_pos)
        return 1;
    return zs_str_ieq(coding, coding_len, "identity");
}
