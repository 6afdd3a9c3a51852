/* Entity tags for static files and If-Match / If-None-Match lists (RFC 9110 8.8.3, 13.1). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "worker/etag.h"

#define NSEC_PER_SEC 1000000000L

/* An entity-tag split into its weakness flag and the opaque-tag between the quotes. */
struct entity_tag {
    int weak;
    const char *opaque;
    size_t opaque_len;
};

/* Writes v as lower-case hex without leading zeros and returns the end. */
static char *
put_hex(char *p, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = hex[v & 0xf];
        v >>= 4;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

size_t
zs_etag_format(char *out, int64_t mtime_sec, long mtime_nsec, int64_t size)
{
    char *p = out;

    /* The longest tag is 1 + 16 + 1 + 8 + 1 + 16 + 1 = 44 bytes and its NUL. */
    *p++ = '"';
    p = put_hex(p, (uint64_t)mtime_sec);
    if (mtime_nsec > 0 && mtime_nsec < NSEC_PER_SEC) {
        *p++ = '.';
        p = put_hex(p, (uint64_t)mtime_nsec);
    }
    *p++ = '-';
    p = put_hex(p, (uint64_t)size);
    *p++ = '"';
    *p = '\0';
    return (size_t)(p - out);
}

/* Parses the entity-tag at *pos ([ "W/" ] DQUOTE *etagc DQUOTE) and advances *pos
 * past it. Returns 0, or -1 when no quoted tag is there. The opaque-tag may contain
 * commas, so the list cannot be split at commas before this. */
static int
entity_tag_parse(const char *s, size_t len, size_t *pos, struct entity_tag *tag)
{
    size_t p = *pos;
    const char *close;

    tag->weak = 0;
    if (len - p >= 2 && s[p] == 'W' && s[p + 1] == '/') {
        tag->weak = 1;
        p += 2;
    }
    if (p >= len || s[p] != '"')
        return -1;
    p++;
    close = memchr(s + p, '"', len - p);
    if (close == NULL)
        return -1;
    tag->opaque = s + p;
    tag->opaque_len = (size_t)(close - tag->opaque);
    *pos = (size_t)(close - s) + 1;
    return 0;
}

/* Compares two entity-tags as RFC 9110 8.8.3.2 defines. The strong comparison
 * needs both tags to be strong, and the weak one ignores "W/". */
static int
entity_tag_equal(const struct entity_tag *a, const struct entity_tag *b, int weak)
{
    if (!weak && (a->weak || b->weak))
        return 0;
    return a->opaque_len == b->opaque_len && memcmp(a->opaque, b->opaque, a->opaque_len) == 0;
}

static inline int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Returns 1 when the list element that ended before pos is followed by OWS, a
 * comma or the end, so that "\"a\"\"b\"" and "*x" are rejected. */
static int
element_ends_at(const char *list, size_t len, size_t pos)
{
    return pos == len || is_ows(list[pos]) || list[pos] == ',';
}

int
zs_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len, int weak)
{
    struct entity_tag ours, theirs;
    size_t pos = 0;

    if (entity_tag_parse(etag, etag_len, &pos, &ours) == -1)
        return 0;

    pos = 0;
    while (pos < len) {
        if (is_ows(list[pos]) || list[pos] == ',') {
            pos++;
            continue;
        }
        if (list[pos] == '*')
            return element_ends_at(list, len, pos + 1);
        if (entity_tag_parse(list, len, &pos, &theirs) == -1 ||
            !element_ends_at(list, len, pos))
            return 0;
        if (entity_tag_equal(&ours, &theirs, weak))
            return 1;
    }
    return 0;
}
