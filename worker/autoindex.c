/* Directory listings for locations with autoindex = on. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/path.h"
#include "worker/worker.h"

struct listing_entry {
    char *name;
    bool is_dir;
    int64_t size;
    time_t mtime;
};

struct listing {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

static void
listing_put(struct listing *l, const char *s, size_t len)
{
    if (l->failed)
        return;
    if (l->len + len > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < l->len + len)
            cap *= 2;
        char *p = realloc(l->data, cap);
        if (p == NULL) {
            l->failed = true;
            return;
        }
        l->data = p;
        l->cap = cap;
    }
    memcpy(l->data + l->len, s, len);
    l->len += len;
}

static void
listing_puts(struct listing *l, const char *s)
{
    listing_put(l, s, strlen(s));
}

static void
listing_put_html(struct listing *l, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '<': listing_puts(l, "&lt;"); break;
        case '>': listing_puts(l, "&gt;"); break;
        case '&': listing_puts(l, "&amp;"); break;
        case '"': listing_puts(l, "&quot;"); break;
        case '\'': listing_puts(l, "&#39;"); break;
        default: listing_put(l, &s[i], 1);
        }
    }
}

static int
entry_compare(const void *a, const void *b)
{
    const struct listing_entry *x = a, *y = b;

    if (x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Reads the directory; takes ownership of dirfd. Returns the entry count or -1. */
static ssize_t
read_entries(int dirfd, bool dotfiles, struct listing_entry **out)
{
    DIR *dir = fdopendir(dirfd);
    struct listing_entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    if (dir == NULL) {
        close(dirfd);
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' && (!dotfiles || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0))
            continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct listing_entry *p = realloc(v, cap * sizeof(*v));
            if (p == NULL)
                break;
            v = p;
        }
        v[n].name = strdup(de->d_name);
        if (v[n].name == NULL)
            break;
        v[n].is_dir = S_ISDIR(st.st_mode);
        v[n].size = st.st_size;
        v[n].mtime = st.st_mtim.tv_sec;
        n++;
    }
    closedir(dir);
    qsort(v, n, sizeof(*v), entry_compare);
    *out = v;
    return (ssize_t)n;
}

static void
listing_entry_row(struct listing *l, const struct listing_entry *e)
{
    char href[4096], line[128];
    struct tm tm;

    ssize_t n = zs_path_encode(e->name, strlen(e->name), href, sizeof(href) - 1);
    if (n < 0)
        return;
    if (e->is_dir)
        href[n++] = '/';
    listing_puts(l, "<tr><td><a href=\"");
    listing_put_html(l, href, (size_t)n);
    listing_puts(l, "\">");
    listing_put_html(l, e->name, strlen(e->name));
    if (e->is_dir)
        listing_puts(l, "/");
    gmtime_r(&e->mtime, &tm);
    strftime(line, sizeof(line), "</a></td><td>%Y-%m-%d %H:%M</td>", &tm);
    listing_puts(l, line);
    if (e->is_dir)
        snprintf(line, sizeof(line), "<td>-</td></tr>\n");
    else
        snprintf(line, sizeof(line), "<td>%lld</td></tr>\n", (long long)e->size);
    listing_puts(l, line);
}

void
zs_autoindex_send(struct zs_conn *c, int dirfd, const char *path, size_t path_len)
{
    struct listing l = { 0 };
    struct listing_entry *entries = NULL;
    ssize_t count = read_entries(dirfd, c->req.location->loc_allow_dotfiles, &entries);

    if (count < 0) {
        zs_log_syserr("autoindex of \"%s\" failed", path);
        zs_resp_error(c, 500);
        return;
    }
    listing_puts(&l, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    listing_put_html(&l, path, path_len);
    listing_puts(&l, "</title></head>\n<body><h1>Index of ");
    listing_put_html(&l, path, path_len);
    listing_puts(&l, "</h1>\n<table>\n<tr><th>Name</th><th>Last modified (UTC)</th><th>Size</th></tr>\n");
    if (path_len > 1)
        listing_puts(&l, "<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    for (ssize_t i = 0; i < count; i++) {
        listing_entry_row(&l, &entries[i]);
        free(entries[i].name);
    }
    free(entries);
    listing_puts(&l, "</table></body></html>\n");

    if (l.failed) {
        free(l.data);
        zs_resp_error(c, 500);
        return;
    }
    zs_resp_text(c, 200, "text/html; charset=utf-8", l.data, l.len);
    free(l.data);
}
