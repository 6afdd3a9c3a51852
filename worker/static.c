/* Static files: safe opening below root, conditional requests, byte ranges,
 * precompressed siblings, and the response with sendfile. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/httpdate.h"
#include "lib/log.h"
#include "lib/mime.h"
#include "lib/path.h"
#include "lib/strutil.h"
#include "worker/etag.h"
#include "worker/filecache.h"
#include "worker/worker.h"

/* Files up to this size are copied into wbuf behind the head, so that the
 * whole response leaves in one write instead of a write and a sendfile. */
#define SMALL_FILE_MAX 16384

/* A file found on disk for a request, before it becomes a struct zs_file. */
struct static_file {
    int fd;
    struct stat st;
    const char *name;            /* last path segment, for the MIME type */
    size_t name_len;
    bool gzip;
    bool gzip_ok;                /* gzip_static is on and the client takes gzip */
    bool missing;                /* the path does not exist: worth a negative cache entry */
};

/* Opens rel below dirfd. RESOLVE_BENEATH refuses any path that leaves the
 * directory, however it is spelled; without follow_symlinks no symlink is
 * followed at all. */
static int
static_openat(int dirfd, const char *rel, bool follow_symlinks, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
    };
    int fd;

    do {
        fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    } while (fd == -1 && errno == EAGAIN);
    return fd;
}

static int
open_error_status(struct zs_conn *c, const char *rel)
{
    switch (errno) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EXDEV:
    case ENAMETOOLONG:
        return 404;
    case ENXIO:
    case ENODEV:
    case EOPNOTSUPP:
        /* A socket or device file below root: not something to serve. */
        return 403;
    case EACCES:
    case EPERM:
        zs_log_info("client %s: open \"%s\" failed: %s", c->peer, rel, strerror(errno));
        return 403;
    default:
        zs_log_syserr("open \"%s\" below %s failed", rel, c->req.location->loc_root);
        return 500;
    }
}

static void
redirect_to_directory(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    char *url = zs_w.scratch;
    size_t size = zs_w.scratch_size;

    ssize_t n = zs_path_encode(r->path, r->path_len, url, size);
    if (n < 0 || (size_t)n + r->query.len + 3 > size) {
        zs_resp_error(c, 414);
        return;
    }
    url[n++] = '/';
    if (r->query.len > 0) {
        url[n++] = '?';
        memcpy(url + n, r->query.p, r->query.len);
        n += (ssize_t)r->query.len;
    }
    zs_resp_redirect(c, 301, url, (size_t)n);
}

static bool
etag_is_weak_or_invalid(const char *v, size_t len)
{
    return len < 2 || v[0] != '"';
}

/* RFC 9110 13.2.2: the order in which preconditions are evaluated.
 * Returns 0 to go on, or the response status. */
static int
static_preconditions(struct zs_conn *c, const struct zs_file *f)
{
    const struct zs_request *r = &c->req;
    time_t mtime = f->st.st_mtim.tv_sec;

    if (r->if_match.p != NULL) {
        if (!zs_etag_list_match(r->if_match.p, r->if_match.len, f->etag, f->etag_len, 0))
            return 412;
    } else if (r->if_unmodified_since.p != NULL) {
        time_t t = zs_http_date_parse(r->if_unmodified_since.p, r->if_unmodified_since.len);
        if (t != (time_t)-1 && mtime > t)
            return 412;
    }
    if (r->if_none_match.p != NULL) {
        if (zs_etag_list_match(r->if_none_match.p, r->if_none_match.len, f->etag, f->etag_len, 1))
            return 304;
    } else if (r->if_modified_since.p != NULL) {
        time_t t = zs_http_date_parse(r->if_modified_since.p, r->if_modified_since.len);
        if (t != (time_t)-1 && mtime <= t)
            return 304;
    }
    return 0;
}

/* RFC 9110 13.1.5: If-Range contains a strong entity tag or the exact
 * Last-Modified date; anything else means "send the whole file". */
static bool
static_if_range_holds(const struct zs_request *r, const struct zs_file *f)
{
    const char *v = r->if_range.p;
    size_t len = r->if_range.len;

    if (v == NULL)
        return true;
    if (len >= 2 && (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))) {
        if (etag_is_weak_or_invalid(v, len))
            return false;
        return len == f->etag_len && memcmp(v, f->etag, len) == 0;
    }
    time_t t = zs_http_date_parse(v, len);
    return t != (time_t)-1 && t == f->st.st_mtim.tv_sec;
}

static void
static_common_headers(struct zs_conn *c, const struct zs_file *f)
{
    zs_resp_header(c, "Last-Modified", f->last_modified, ZS_HTTP_DATE_LEN);
    zs_resp_header(c, "ETag", f->etag, f->etag_len);
    if (c->req.location->loc_gzip_static)
        zs_resp_header(c, "Vary", "Accept-Encoding", 15);
}

static const char *
static_content_type(const struct zs_file *f)
{
    return f->type;
}

static void
static_send_not_modified(struct zs_conn *c, const struct zs_file *f)
{
    zs_resp_begin(c, 304);
    static_common_headers(c, f);
    zs_resp_end_headers(c, -1);
}

static void
static_send_unsatisfiable(struct zs_conn *c, const struct zs_file *f)
{
    char cr[48];
    int n = snprintf(cr, sizeof(cr), "bytes */%lld", (long long)f->st.st_size);

    zs_resp_begin(c, 416);
    zs_resp_header(c, "Content-Range", cr, (size_t)n);
    static const char body[] = "<!DOCTYPE html>\n<html><head><title>416 Range Not Satisfiable</title></head>\n"
                               "<body><h1>416 Range Not Satisfiable</h1></body></html>\n";
    zs_resp_header(c, "Content-Type", "text/html", 9);
    zs_resp_end_headers(c, sizeof(body) - 1);
    if (!c->req.head) {
        zs_resp_body_mem(c, body, sizeof(body) - 1);
        c->req.body_bytes = sizeof(body) - 1;
    }
}

/* Adds the body: copied into wbuf from the cached content or with pread
 * when small, else a sendfile segment that holds a reference to f. */
static void
static_body(struct zs_conn *c, struct zs_file *f, int64_t offset, int64_t len)
{
    c->req.body_bytes = len;
    if (f->data != NULL && zs_resp_reserve(c, (size_t)len) == 0) {
        memcpy(c->wbuf + c->wlen, f->data + offset, (size_t)len);
        c->wlen += (size_t)len;
        return;
    }
    if (len <= SMALL_FILE_MAX && zs_resp_reserve(c, (size_t)len) == 0) {
        ssize_t n = pread(f->fd, c->wbuf + c->wlen, (size_t)len, offset);
        if (n == (ssize_t)len) {
            c->wlen += (size_t)len;
            return;
        }
        /* The file shrank since fstat: the promised length cannot be sent. */
        zs_log_error("client %s: read of \"%s\" returned %zd of %lld bytes", c->peer, c->req.path, n,
                     (long long)len);
        c->close_after = true;
        c->req.body_bytes = 0;
        return;
    }
    c->file = f;
    f->refs++;
    c->segs[0] = (struct zs_segment){ .offset = offset, .len = len, .is_file = true };
    c->seg_count = 1;
}

static void
static_send_full(struct zs_conn *c, struct zs_file *f)
{
    const char *type = static_content_type(f);

    zs_resp_begin(c, 200);
    zs_resp_header(c, "Content-Type", type, strlen(type));
    if (f->gzip)
        zs_resp_header(c, "Content-Encoding", "gzip", 4);
    static_common_headers(c, f);
    zs_resp_header(c, "Accept-Ranges", "bytes", 5);
    zs_resp_end_headers(c, f->st.st_size);
    if (!c->req.head && f->st.st_size > 0)
        static_body(c, f, 0, f->st.st_size);
}

static void
static_send_range(struct zs_conn *c, struct zs_file *f, const struct zs_range *rg)
{
    const char *type = static_content_type(f);
    char cr[80];
    int n = snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)rg->first, (long long)rg->last,
                     (long long)f->st.st_size);

    zs_resp_begin(c, 206);
    zs_resp_header(c, "Content-Type", type, strlen(type));
    if (f->gzip)
        zs_resp_header(c, "Content-Encoding", "gzip", 4);
    zs_resp_header(c, "Content-Range", cr, (size_t)n);
    static_common_headers(c, f);
    zs_resp_header(c, "Accept-Ranges", "bytes", 5);
    zs_resp_end_headers(c, rg->last - rg->first + 1);
    static_body(c, f, rg->first, rg->last - rg->first + 1);
}

/* Writes 16 random hex digits. A boundary that clients can predict lets a
 * file that contains it forge parts (RFC 2046 5.1.1), and random() is not
 * seeded, so every worker would start the same sequence. */
static void
multipart_boundary(char *out, size_t size)
{
    uint64_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        /* Only before the kernel's pool is initialised: unique, though guessable. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 48);
    }
    snprintf(out, size, "%016llx", (unsigned long long)v);
}

/* RFC 9110 14.6: multipart/byteranges, one part per range. The part heads
 * live in c->extra; the file ranges between them go out with sendfile. */
static void
static_send_multipart(struct zs_conn *c, struct zs_file *f, const struct zs_range *rg, size_t count)
{
    const char *type = static_content_type(f);
    char boundary[24];
    size_t part_max = 128 + strlen(type);
    size_t cap = (count + 1) * part_max;
    char *parts = malloc(cap);
    size_t used = 0;
    int64_t total = 0;

    if (parts == NULL) {
        zs_resp_error(c, 500);
        return;
    }
    multipart_boundary(boundary, sizeof(boundary));
    c->seg_count = 0;
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(parts + used, part_max, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %lld-%lld/%lld\r\n\r\n",
                         boundary, type, (long long)rg[i].first, (long long)rg[i].last, (long long)f->st.st_size);
        c->segs[c->seg_count++] = (struct zs_segment){ .mem = parts + used, .len = n };
        c->segs[c->seg_count++] = (struct zs_segment){ .offset = rg[i].first,
                                                       .len = rg[i].last - rg[i].first + 1, .is_file = true };
        used += (size_t)n;
        total += n + rg[i].last - rg[i].first + 1;
    }
    int n = snprintf(parts + used, part_max, "\r\n--%s--\r\n", boundary);
    c->segs[c->seg_count++] = (struct zs_segment){ .mem = parts + used, .len = n };
    total += n;
    c->extra = parts;
    c->file = f;
    f->refs++;
    c->req.body_bytes = total;

    char ctype[64];
    int m = snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
    zs_resp_begin(c, 206);
    zs_resp_header(c, "Content-Type", ctype, (size_t)m);
    static_common_headers(c, f);
    zs_resp_header(c, "Accept-Ranges", "bytes", 5);
    zs_resp_end_headers(c, total);
}

/* Overlapping ranges can ask for the same bytes many times over ("0-" sixteen
 * times is a 16-fold copy of the file). RFC 9110 14.2 lets a server ignore
 * such a Range, so when the ranges add up to more than the file, the whole
 * file is sent once instead, as nginx does. */
static bool
ranges_exceed_size(const struct zs_range *ranges, size_t count, int64_t size)
{
    int64_t total = 0;

    for (size_t i = 0; i < count; i++) {
        total += ranges[i].last - ranges[i].first + 1;
        if (total > size)
            return true;
    }
    return false;
}

static void
static_send_file(struct zs_conn *c, struct zs_file *f)
{
    struct zs_request *r = &c->req;
    struct zs_range ranges[ZS_MAX_RANGES];
    size_t count = 0;

    int status = static_preconditions(c, f);
    if (status == 304 && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
        static_send_not_modified(c, f);
        return;
    }
    if (status != 0) {
        zs_resp_error(c, 412);
        return;
    }
    if (r->range.p == NULL || r->method != HTTP_GET || !static_if_range_holds(r, f)) {
        static_send_full(c, f);
        return;
    }
    switch (zs_range_parse(r->range.p, r->range.len, f->st.st_size, ranges, ZS_MAX_RANGES, &count)) {
    case ZS_RANGE_IGNORE:
        static_send_full(c, f);
        return;
    case ZS_RANGE_UNSATISFIABLE:
        static_send_unsatisfiable(c, f);
        return;
    case ZS_RANGE_OK:
        break;
    }
    if (ranges_exceed_size(ranges, count, f->st.st_size)) {
        static_send_full(c, f);
        return;
    }
    if (count == 1)
        static_send_range(c, f, &ranges[0]);
    else
        static_send_multipart(c, f, ranges, count);
}

/* Replaces f with its precompressed "NAME.gz" sibling when the client takes
 * gzip and the sibling is a regular file. */
static void
static_try_gzip(struct zs_conn *c, struct static_file *f, int dirfd, const char *rel)
{
    char *gz = zs_w.scratch;
    size_t len = strlen(rel);
    struct stat st;

    if (!f->gzip_ok || len + 4 > zs_w.scratch_size)
        return;
    memcpy(gz, rel, len);
    memcpy(gz + len, ".gz", 4);
    int fd = static_openat(dirfd, gz, c->req.location->loc_follow_symlinks, O_RDONLY);
    if (fd == -1)
        return;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    close(f->fd);
    f->fd = fd;
    f->st = st;
    f->gzip = true;
}

/* Looks for an index file in the directory dirfd; returns its fd or -1. */
static int
static_find_index(struct zs_conn *c, int dirfd, struct static_file *f)
{
    const struct zs_location *loc = c->req.location;

    for (size_t i = 0; i < loc->loc_index_count; i++) {
        int fd = static_openat(dirfd, loc->loc_index[i], loc->loc_follow_symlinks, O_RDONLY);
        if (fd == -1)
            continue;
        if (fstat(fd, &f->st) == 0 && S_ISREG(f->st.st_mode)) {
            f->name = loc->loc_index[i];
            f->name_len = strlen(f->name);
            return fd;
        }
        close(fd);
    }
    return -1;
}

/* Resolves a directory: redirect to the slashed path, its index file, a
 * listing or 403. Returns 1 when f now refers to the index file, 0 when a
 * response was queued. Takes over f->fd either way. */
static int
static_directory(struct zs_conn *c, struct static_file *f)
{
    const struct zs_location *loc = c->req.location;
    int dirfd = f->fd;

    f->fd = -1;
    if (c->req.path[c->req.path_len - 1] != '/') {
        close(dirfd);
        redirect_to_directory(c);
        return 0;
    }
    f->fd = static_find_index(c, dirfd, f);
    if (f->fd != -1) {
        static_try_gzip(c, f, dirfd, f->name);
        close(dirfd);
        return 1;
    }
    if (loc->loc_autoindex) {
        zs_autoindex_send(c, dirfd, c->req.path, c->req.path_len);
        return 0;
    }
    close(dirfd);
    zs_resp_error(c, 403);
    return 0;
}

/* Finds the file for the request on disk. Returns 1 with f->fd open on a
 * regular file, or 0 when a response (error, redirect, listing) was queued. */
static int
static_resolve(struct zs_conn *c, struct static_file *f)
{
    const struct zs_request *r = &c->req;
    const struct zs_location *loc = r->location;
    const char *rel = r->path_len > 1 ? r->path + 1 : ".";

    f->fd = static_openat(loc->loc_root_fd, rel, loc->loc_follow_symlinks, O_RDONLY);
    if (f->fd == -1) {
        f->missing = errno == ENOENT || errno == ENOTDIR;
        zs_resp_error(c, open_error_status(c, rel));
        return 0;
    }
    if (fstat(f->fd, &f->st) == -1) {
        zs_log_syserr("fstat \"%s\" failed", rel);
        zs_resp_error(c, 500);
        return 0;
    }
    if (S_ISDIR(f->st.st_mode))
        return static_directory(c, f);
    if (!S_ISREG(f->st.st_mode)) {
        zs_resp_error(c, 403);
        return 0;
    }
    const char *slash = strrchr(r->path, '/');
    f->name = slash + 1;
    f->name_len = r->path_len - (size_t)(f->name - r->path);
    static_try_gzip(c, f, loc->loc_root_fd, rel);
    return 1;
}

static const char *
static_type_for(const char *name, size_t len)
{
    const char *type = zs_mime_lookup_header(zs_w.conf->mime, name, len);

    return type != NULL ? type : zs_w.conf->default_type;
}

/* Remembers that a path does not exist, for as long as a found file is
 * trusted, so that repeated requests for it cost no system call. */
static void
static_cache_missing(const struct zs_location *loc, const char *path, size_t len, bool gzip_ok,
                     ev_tstamp now)
{
    struct zs_file *f = zs_file_missing();

    if (f == NULL)
        return;
    zs_filecache_insert(f, loc, path, len, gzip_ok, now);
    zs_file_release(f);
}

void
zs_static_handle(struct zs_conn *c)
{
    struct zs_request *r = &c->req;
    const struct zs_location *loc = r->location;
    struct static_file sf = { .fd = -1 };
    ev_tstamp now = ev_now(zs_w.loop);

    if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
        zs_resp_error(c, 405);
        return;
    }
    if (!loc->loc_allow_dotfiles && zs_path_has_dot_segment(r->path, r->path_len)) {
        zs_resp_error(c, 404);
        return;
    }
    sf.gzip_ok = loc->loc_gzip_static && r->accept_encoding.p != NULL
                 && zs_accept_encoding_allows(r->accept_encoding.p, r->accept_encoding.len, "gzip");

    struct zs_file *f = zs_filecache_lookup(loc, r->path, r->path_len, sf.gzip_ok, now);
    if (f != NULL && f->fd == -1) {
        zs_file_release(f);
        zs_resp_error(c, 404);
        return;
    }
    if (f == NULL) {
        int found = static_resolve(c, &sf);
        if (!found) {
            if (sf.fd != -1)
                close(sf.fd);
            if (sf.missing)
                static_cache_missing(loc, r->path, r->path_len, sf.gzip_ok, now);
            return;
        }
        f = zs_file_open(sf.fd, &sf.st, static_type_for(sf.name, sf.name_len), sf.gzip);
        if (f == NULL) {
            zs_resp_error(c, 500);
            return;
        }
        zs_filecache_insert(f, loc, r->path, r->path_len, sf.gzip_ok, now);
    }
    static_send_file(c, f);
    zs_file_release(f);
}
