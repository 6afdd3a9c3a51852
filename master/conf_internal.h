/* Declares the value parsers that conf_values.c defines and conf_load.c calls. */
#ifndef ZS_CONF_INTERNAL_H
#define ZS_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/conf.h"

/* On failure each function writes the reason to err, truncated to errsize bytes,
 * and returns -1, or NULL for zs_conf_compile_regex(). */

/* Parses the `return` value "CODE [URL or text]", where CODE is 200 to 599, and
 * returns 0. Sets text to point into s, or to NULL when only the code is given.
 * A redirect status (301, 302, 303, 307 or 308) requires a URL. */
int zs_conf_parse_return(const char *s, int *status, const char **text, char *err, size_t errsize);

/* Splits a location title such as "~* \.php$" into its match type and its path or
 * regular expression, and returns 0. Sets path to point into title. */
int zs_conf_parse_location_title(const char *title, enum zs_loc_match *match, const char **path,
                                 char *err, size_t errsize);

/* Compiles a location's regular expression with PCRE2. The caller frees the
 * result with pcre2_code_free(). */
pcre2_code *zs_conf_compile_regex(const char *source, bool caseless, char *err, size_t errsize);

#endif
