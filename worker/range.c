/* Range request header parsing for byte ranges (RFC 9110 14). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "lib/strutil.h"
#include "worker/range.h"

/* A range-spec before clamping; first is -1 for a suffix range "-N". */
struct range_spec {
    int64_t first;
    int64_t last;               /* -1 when absent ("N-") */
    int64_t suffix;
};

static inline int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses the digits at *pos as a non-negative int64 and advances *pos past them.
 * Returns -1 when there is no digit or the number overflows. */
static int
number_parse(const char *s, size_t len, size_t *pos, int64_t *out)
{
    size_t start = *pos;

    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9')
        (*pos)++;
    return zs_parse_int64(s + start, *pos - start, out);
}

/* Parses one int-range "first-[last]" or suffix-range "-suffix" at *pos
 * (RFC 9110 14.1.1). Returns 0, or -1 when it is invalid. */
static int
spec_parse(const char *s, size_t len, size_t *pos, struct range_spec *spec)
{
    spec->first = -1;
    spec->last = -1;
    spec->suffix = 0;

    if (s[*pos] == '-') {
        (*pos)++;
        return number_parse(s, len, pos, &spec->suffix);
    }
    if (number_parse(s, len, pos, &spec->first) == -1)
        return -1;
    if (*pos == len || s[*pos] != '-')
        return -1;
    (*pos)++;
    if (*pos == len || s[*pos] < '0' || s[*pos] > '9')
        return 0;
    if (number_parse(s, len, pos, &spec->last) == -1)
        return -1;
    return spec->last < spec->first ? -1 : 0;
}

/* Clamps a range-spec to a representation of size bytes. Returns 0, or -1 when
 * it does not overlap the representation. */
static int
spec_clamp(const struct range_spec *spec, int64_t size, struct zs_range *r)
{
    if (spec->first == -1) {
        if (spec->suffix == 0 || size == 0)
            return -1;
        r->first = spec->suffix < size ? size - spec->suffix : 0;
        r->last = size - 1;
        return 0;
    }
    if (spec->first >= size)
        return -1;
    r->first = spec->first;
    r->last = (spec->last == -1 || spec->last >= size) ? size - 1 : spec->last;
    return 0;
}

enum zs_range_result
zs_range_parse(const char *value, size_t len, int64_t size,
               struct zs_range *out, size_t max, size_t *count)
{
    static const char unit[] = "bytes=";
    const size_t unit_len = sizeof(unit) - 1;
    size_t pos = unit_len, specs = 0, n = 0;

    *count = 0;
    zs_str_trim_ows(&value, &len);
    /* Range unit names are case-insensitive (RFC 9110 14.1). */
    if (len < unit_len || !zs_str_ieq(value, unit_len, unit))
        return ZS_RANGE_IGNORE;

    /* range-set is a list (RFC 9110 5.6.1), so empty elements and OWS around
     * the commas are allowed, but at least one range-spec must be present. */
    while (pos < len) {
        struct range_spec spec;

        while (pos < len && is_ows(value[pos]))
            pos++;
        if (pos < len && value[pos] == ',') {
            pos++;
            continue;
        }
        if (pos == len)
            break;
        if (spec_parse(value, len, &pos, &spec) == -1 || ++specs > max)
            return ZS_RANGE_IGNORE;
        if (spec_clamp(&spec, size, &out[n]) == 0)
            n++;

        while (pos < len && is_ows(value[pos]))
            pos++;
        if (pos < len && value[pos] != ',')
            return ZS_RANGE_IGNORE;
        pos++;
    }

    if (specs == 0)
        return ZS_RANGE_IGNORE;
    if (n == 0)
        return ZS_RANGE_UNSATISFIABLE;
    *count = n;
    return ZS_RANGE_OK;
}
