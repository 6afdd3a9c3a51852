/* Parser of the head of a CGI-style response (RFC 3875, section 6), as
 * FastCGI, SCGI and CGI applications send it: header lines up to an empty
 * line, with Status, Location and Content-Type as CGI fields. */
#ifndef ZS_CGI_HEAD_H
#define ZS_CGI_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "lib/buf.h"

#define ZS_CGI_HEAD_MAX_HEADERS 100

enum zs_cgi_head_result {
    ZS_CGI_HEAD_MORE,            /* the empty line has not arrived yet */
    ZS_CGI_HEAD_DONE,
    ZS_CGI_HEAD_ERROR            /* malformed or too large: respond 502 */
};

struct zs_cgi_head {
    /* Results, valid after ZS_CGI_HEAD_DONE until zs_cgi_head_free(). */
    int status;                  /* Status, else 302 for a client redirect, else 200 */
    bool local_redirect;         /* Location with a local path and no Status (RFC 3875 6.2.2) */
    const char *location;        /* Location value, or NULL */
    size_t location_len;
    int64_t content_length;      /* Content-Length, or -1 when absent */
    /* Headers for the client, in order, repeated ones kept apart. Left out:
     * Status, Content-Length, Date, Server and hop-by-hop headers
     * (Connection, Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade,
     * Proxy-Connection), which the worker writes itself. */
    struct zs_app_header headers[ZS_CGI_HEAD_MAX_HEADERS];
    size_t count;
    const char *error;           /* why ZS_CGI_HEAD_ERROR, for the error log */

    /* Parser state. */
    struct zs_buf raw;           /* head bytes received so far */
    size_t scanned;              /* bytes of raw split into lines so far */
    size_t max_size;
    size_t lines;                /* header lines parsed, counting those left out */
    bool done;                   /* the empty line has been parsed */
    char error_text[384];        /* the text error points to */
};

/* max_size bounds the head, empty line included. */
void zs_cgi_head_init(struct zs_cgi_head *h, size_t max_size);
/* Feeds the next bytes of the response. On ZS_CGI_HEAD_DONE, *consumed is
 * how many of them belonged to the head; the rest is body. On
 * ZS_CGI_HEAD_MORE it is len. Once DONE or ERROR has been returned, later
 * calls return the same result and consume nothing.
 * More than ZS_CGI_HEAD_MAX_HEADERS header lines is an error, counting the
 * lines that are left out of headers. */
enum zs_cgi_head_result zs_cgi_head_feed(struct zs_cgi_head *h, const char *data, size_t len,
                                         size_t *consumed);
void zs_cgi_head_free(struct zs_cgi_head *h);

#endif
