/* Media types by file extension, loaded from a mime.types file. */
#ifndef ZS_MIME_H
#define ZS_MIME_H

#include <stddef.h>

struct zs_mime_table;

/* Loads a mime.types file in the Debian and Apache format: one "type ext1 ext2 ..."
 * per line, '#' starts a comment, a type may list no extension. When an extension
 * is listed twice, the later line wins. Returns NULL on failure with err set to
 * "PATH: open failed: REASON" or "PATH:LINE: message" for the first bad line. */
struct zs_mime_table *zs_mime_load(const char *path, char *err, size_t errsize);

/* Returns the media type for a file name or path by its last extension, compared
 * case-insensitively, or NULL. A leading dot does not start an extension, so
 * ".htaccess" has none. Allocates nothing: it runs once per response. */
const char *zs_mime_lookup(const struct zs_mime_table *t, const char *name, size_t len);

/* Returns the number of extensions in the table. */
size_t zs_mime_count(const struct zs_mime_table *t);

/* As zs_mime_lookup, but returns the Content-Type header value: text types
 * carry "; charset=utf-8". */
const char *zs_mime_lookup_header(const struct zs_mime_table *t, const char *name, size_t len);
void zs_mime_free(struct zs_mime_table *t);

#endif
