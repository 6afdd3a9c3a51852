/* Request path decoding, dot-segment removal and percent-encoding. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lib/path.h"

/* Returns the value of a hex digit, or -1 for any other byte. */
static inline int
hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Bytes that zs_path_encode() copies as they are: RFC 3986 unreserved and '/'. */
static const uint8_t path_keep[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1,
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['/'] = 1,
};

/* Closes the segment out[seg..*o) at a '/' or at the end of the path. A "."
 * segment is dropped, and ".." drops itself and the segment before it. out[seg - 1]
 * is the slash that opened the segment. Returns -1 when ".." would climb above "/". */
static int
segment_close(char *out, size_t seg, size_t *o)
{
    size_t n = *o - seg;

    if (n == 1 && out[seg] == '.') {
        *o = seg;
    } else if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        if (seg == 1)
            return -1;
        /* Back up over the slash that opened ".." and the segment before it. */
        seg--;
        while (out[seg - 1] != '/')
            seg--;
        *o = seg;
    }
    return 0;
}

int
zs_path_normalize(const char *in, size_t len, char *out, size_t *outlen)
{
    size_t i = 1, o = 1, seg = 1;

    if (len == 0 || in[0] != '/')
        return -1;
    out[0] = '/';

    /* One pass decodes each byte and then handles it as a byte of the decoded path.
     * Each output byte consumes at least one input byte, so out needs at most
     * len + 1 bytes. */
    while (i < len) {
        unsigned char c = (unsigned char)in[i++];

        if (c == '%') {
            if (len - i < 2)
                return -1;
            int hi = hex_digit((unsigned char)in[i]);
            int lo = hex_digit((unsigned char)in[i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        if (c != '/') {
            out[o++] = (char)c;
            continue;
        }
        if (segment_close(out, seg, &o) == -1)
            return -1;
        if (out[o - 1] != '/')
            out[o++] = '/';
        seg = o;
    }
    if (segment_close(out, seg, &o) == -1)
        return -1;

    out[o] = '\0';
    *outlen = o;
    return 0;
}

int
zs_path_has_dot_segment(const char *path, size_t len)
{
    static const char well_known[] = ".well-known";
    const size_t wk_len = sizeof(well_known) - 1;
    size_t first = (len > 0 && path[0] == '/') ? 1 : 0;
    size_t pos = first;

    while (pos < len) {
        const char *slash = memchr(path + pos, '/', len - pos);
        size_t end = slash ? (size_t)(slash - path) : len;

        if (pos < end && path[pos] == '.') {
            int is_well_known = pos == first && end - pos == wk_len &&
                                memcmp(path + pos, well_known, wk_len) == 0;
            if (!is_well_known)
                return 1;
        }
        pos = end + 1;
    }
    return 0;
}

ssize_t
zs_path_encode(const char *in, size_t len, char *out, size_t outsize)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (path_keep[c]) {
            if (outsize - o < 2)
                return -1;
            out[o++] = (char)c;
            continue;
        }
        if (outsize - o < 4)
            return -1;
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 0xf];
    }
    if (outsize - o < 1)
        return -1;
    out[o] = '\0';
    return (ssize_t)o;
}
