/* Per-worker cache of resolved static files. A hit saves the open, fstat,
 * read and close of a request; entries expire after ZS_FILECACHE_VALID so
 * that changes on disk show quickly without a stat per request. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "worker/filecache.h"

#define BUCKETS 1024

static struct zs_file *buckets[BUCKETS];
static struct zs_file *oldest, *newest;
static size_t entry_count;
static size_t data_total;

static unsigned
key_hash(const struct zs_location *loc, const char *key, size_t len)
{
    /* FNV-1a over the key, mixed with the location's address. */
    unsigned h = 2166136261u ^ (unsigned)((uintptr_t)loc >> 4);

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

static void
file_free(struct zs_file *f)
{
    if (f->fd != -1)
        close(f->fd);
    if (f->data != NULL)
        data_total -= (size_t)f->st.st_size;
    free(f->data);
    free(f->key);
    free(f);
}

void
zs_file_release(struct zs_file *f)
{
    if (f != NULL && --f->refs == 0)
        file_free(f);
}

static void
cache_unlink(struct zs_file *f)
{
    struct zs_file **pp = &buckets[f->hash % BUCKETS];

    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    if (f->older != NULL)
        f->older->newer = f->newer;
    else
        oldest = f->newer;
    if (f->newer != NULL)
        f->newer->older = f->older;
    else
        newest = f->older;
    f->cached = false;
    entry_count--;
    zs_file_release(f);
}

static bool
key_equal(const struct zs_file *f, const struct zs_location *loc, const char *key, size_t len)
{
    return f->loc == loc && f->key_len == len && memcmp(f->key, key, len) == 0;
}

/* Keys are the path with a variant byte: 'g' when the client takes gzip. */
static size_t
key_build(char *out, size_t size, const char *path, size_t len, bool gzip_ok)
{
    if (len + 2 > size)
        return 0;
    memcpy(out, path, len);
    out[len] = '\0';
    out[len + 1] = gzip_ok ? 'g' : 'p';
    return len + 2;
}

struct zs_file *
zs_filecache_lookup(const struct zs_location *loc, const char *path, size_t len, bool gzip_ok,
                    ev_tstamp now)
{
    char key[1024];
    size_t klen = key_build(key, sizeof(key), path, len, gzip_ok);

    if (klen == 0)
        return NULL;
    unsigned h = key_hash(loc, key, klen);
    for (struct zs_file *f = buckets[h % BUCKETS]; f != NULL; f = f->hnext) {
        if (f->hash != h || !key_equal(f, loc, key, klen))
            continue;
        if (now >= f->expires) {
            cache_unlink(f);
            return NULL;
        }
        f->refs++;
        return f;
    }
    return NULL;
}

struct zs_file *
zs_file_open(int fd, const struct stat *st, const char *type, bool gzip)
{
    struct zs_file *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->st = *st;
    f->type = type;
    f->gzip = gzip;
    f->refs = 1;
    f->etag_len = zs_etag_format(f->etag, st->st_mtim.tv_sec, st->st_mtim.tv_nsec, st->st_size);
    zs_http_date_format(st->st_mtim.tv_sec, f->last_modified);

    if (st->st_size > 0 && st->st_size <= ZS_FILECACHE_DATA_MAX
        && data_total + (size_t)st->st_size <= ZS_FILECACHE_DATA_TOTAL) {
        f->data = malloc((size_t)st->st_size);
        if (f->data != NULL && pread(fd, f->data, (size_t)st->st_size, 0) == st->st_size) {
            data_total += (size_t)st->st_size;
        } else {
            /* A short read: the file changed since fstat; send it from disk. */
            free(f->data);
            f->data = NULL;
        }
    }
    return f;
}

struct zs_file *
zs_file_missing(void)
{
    struct zs_file *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    f->fd = -1;
    f->refs = 1;
    return f;
}

void
zs_filecache_insert(struct zs_file *f, const struct zs_location *loc, const char *path, size_t len,
                    bool gzip_ok, ev_tstamp now)
{
    char key[1024];
    size_t klen = key_build(key, sizeof(key), path, len, gzip_ok);

    if (klen == 0 || f->cached)
        return;
    f->key = malloc(klen);
    if (f->key == NULL)
        return;
    memcpy(f->key, key, klen);
    f->key_len = klen;
    f->loc = loc;
    f->hash = key_hash(loc, key, klen);
    f->expires = now + ZS_FILECACHE_VALID;

    while (entry_count >= ZS_FILECACHE_ENTRIES && oldest != NULL)
        cache_unlink(oldest);
    f->hnext = buckets[f->hash % BUCKETS];
    buckets[f->hash % BUCKETS] = f;
    f->older = newest;
    f->newer = NULL;
    if (newest != NULL)
        newest->newer = f;
    else
        oldest = f;
    newest = f;
    f->cached = true;
    f->refs++;
    entry_count++;
}

/* Drops expired entries, oldest first (insertion order is expiry order),
 * so that files deleted on disk do not stay open. */
void
zs_filecache_expire(ev_tstamp now)
{
    while (oldest != NULL && now >= oldest->expires)
        cache_unlink(oldest);
}
