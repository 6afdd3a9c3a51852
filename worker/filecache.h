/* Per-worker cache of resolved static files: open descriptor, metadata,
 * validators and, for small files, the content. */
#ifndef ZS_FILECACHE_H
#define ZS_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include <ev.h>

#include "lib/conf.h"
#include "lib/httpdate.h"
#include "worker/etag.h"

/* Files up to this size keep their content in memory. */
#define ZS_FILECACHE_DATA_MAX 16384
/* An entry is trusted this long (seconds), then resolved again, so a change
 * on disk shows within a second, as with lighttpd's default stat cache. */
#define ZS_FILECACHE_VALID 1.0
#define ZS_FILECACHE_ENTRIES 512
#define ZS_FILECACHE_DATA_TOTAL (4 * 1024 * 1024)

struct zs_file {
    int fd;                      /* -1 in an entry that records a missing path */
    struct stat st;
    bool gzip;                   /* the precompressed sibling was opened */
    const char *type;            /* Content-Type */
    char etag[ZS_ETAG_MAX];
    size_t etag_len;
    char last_modified[ZS_HTTP_DATE_LEN + 1];
    char *data;                  /* the whole content, or NULL */

    /* Cache bookkeeping. */
    unsigned refs;               /* the cache's own reference plus responses in flight */
    bool cached;
    ev_tstamp expires;
    const struct zs_location *loc;
    char *key;                   /* path, then '\0', then 'g' or 'p' */
    size_t key_len;
    unsigned hash;
    struct zs_file *hnext;       /* bucket chain */
    struct zs_file *older, *newer;  /* insertion order, for eviction */
};

/* Returns a referenced entry for the request path, or NULL. */
struct zs_file *zs_filecache_lookup(const struct zs_location *loc, const char *path, size_t len,
                                    bool gzip_ok, ev_tstamp now);
/* Builds a file from an open descriptor (taking it over): validators and,
 * when small, the content. Returns a referenced file, or NULL (fd closed). */
struct zs_file *zs_file_open(int fd, const struct stat *st, const char *type, bool gzip);
/* Returns a referenced entry that records a missing path, or NULL. */
struct zs_file *zs_file_missing(void);
/* Adds a file to the cache under the request path; the caller keeps its reference. */
void zs_filecache_insert(struct zs_file *f, const struct zs_location *loc, const char *path, size_t len,
                         bool gzip_ok, ev_tstamp now);
void zs_file_release(struct zs_file *f);
void zs_filecache_expire(ev_tstamp now);

#endif
