/* A growable byte buffer with a read position: bytes are appended at len and
 * consumed from pos. */
#ifndef ZS_BUF_H
#define ZS_BUF_H

#include <stddef.h>

struct zs_buf {
    char *data;
    size_t len;                  /* bytes stored */
    size_t pos;                  /* bytes already consumed */
    size_t cap;
};

/* Makes room for need more bytes after len, first by moving unconsumed bytes
 * to the front. Returns 0, or -1 when out of memory. */
int zs_buf_reserve(struct zs_buf *b, size_t need);
/* Returns 0, or -1 when out of memory. */
int zs_buf_append(struct zs_buf *b, const void *data, size_t len);
/* Marks n bytes as consumed; an emptied buffer starts over at 0. */
void zs_buf_consume(struct zs_buf *b, size_t n);
/* Bytes stored and not yet consumed. */
static inline size_t
zs_buf_pending(const struct zs_buf *b)
{
    return b->len - b->pos;
}
void zs_buf_free(struct zs_buf *b);

#endif
