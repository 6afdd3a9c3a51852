/* Growable byte buffer. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

int
zs_buf_reserve(struct zs_buf *b, size_t need)
{
    if (b->pos > 0 && b->len + need > b->cap) {
        memmove(b->data, b->data + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
    }
    if (b->len + need <= b->cap)
        return 0;

    size_t cap = b->cap != 0 ? b->cap : 256;
    while (cap < b->len + need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
zs_buf_append(struct zs_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (zs_buf_reserve(b, len) == -1)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void
zs_buf_consume(struct zs_buf *b, size_t n)
{
    b->pos += n;
    if (b->pos >= b->len)
        b->pos = b->len = 0;
}

void
zs_buf_free(struct zs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->pos = b->cap = 0;
}
