/* Entity tags for static files and If-Match / If-None-Match lists (RFC 9110 8.8.3, 13.1). */
#ifndef ZS_ETAG_H
#define ZS_ETAG_H

#include <stddef.h>
#include <stdint.h>

#define ZS_ETAG_MAX 48

/* Formats a strong ETag from mtime (seconds + nanoseconds) and size, quoted, as
 * lower-case hex: "\"<sec>-<size>\"" when mtime_nsec is 0, else
 * "\"<sec>.<nsec>-<size>\"", e.g. "\"5f3a1b2c-1a4\"". Negative seconds or sizes are
 * written as their two's complement and an mtime_nsec outside 0..999999999 as 0.
 * Writes a NUL and returns the length without it. out must hold ZS_ETAG_MAX bytes. */
size_t zs_etag_format(char *out, int64_t mtime_sec, long mtime_nsec, int64_t size);

/* Returns 1 when the If-Match / If-None-Match list value matches etag ("*" matches any).
 * weak = 1 uses the weak comparison (If-None-Match), 0 the strong one (If-Match, If-Range).
 * etag is a full entity-tag with its quotes and optional "W/". A list that breaks the
 * entity-tag grammar matches nothing from the first invalid element on. */
int zs_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len, int weak);

#endif
