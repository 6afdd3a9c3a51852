/* Range request header parsing for byte ranges (RFC 9110 14). */
#ifndef ZS_RANGE_H
#define ZS_RANGE_H

#include <stddef.h>
#include <stdint.h>

struct zs_range {
    int64_t first;              /* inclusive, clamped to the file */
    int64_t last;
};

enum zs_range_result { ZS_RANGE_IGNORE, ZS_RANGE_OK, ZS_RANGE_UNSATISFIABLE };

/* Parses a "bytes=" Range value against a representation of `size` bytes (not
 * negative) into at most `max` ranges. IGNORE: the header is invalid, not in bytes,
 * or has more than max ranges, counting the unsatisfiable ones too (serve 200 with the
 * whole file). UNSATISFIABLE: syntactically valid but no range overlaps the
 * representation (416); a zero-size representation never overlaps. OK: *count ranges
 * written, in request order, with the ones that do not overlap dropped. Overlapping
 * ranges are returned as requested, not merged. *count is 0 unless the result is OK. */
enum zs_range_result zs_range_parse(const char *value, size_t len, int64_t size,
                                    struct zs_range *out, size_t max, size_t *count);

#endif
