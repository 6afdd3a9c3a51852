/* The interface between the worker and the application adapters (FastCGI,
 * SCGI, CGI, WSGI). Adapters include this header and lib/, never worker/: they see
 * a read-only view of the request and respond through the zs_app_* functions,
 * which the worker implements. */
#ifndef ZS_ADAPTER_H
#define ZS_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "lib/conf.h"

/* The worker's side of one request; opaque to adapters. */
struct zs_app_io;

struct zs_app_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The read-only request view given to an adapter. Everything it points to stays valid
 * only during the adapter's start(): copy what is needed later. */
struct zs_app_request {
    const char *method;              /* "GET", NUL-terminated */
    const char *protocol;            /* "HTTP/1.1", NUL-terminated */
    const char *target;              /* request-target as received: REQUEST_URI */
    size_t target_len;
    const char *path;                /* decoded and normalised, NUL-terminated */
    size_t path_len;
    const char *query;               /* after '?', without it; "" when absent */
    size_t query_len;
    const struct zs_app_header *headers;  /* as received, in order */
    size_t header_count;
    int64_t content_length;          /* exact body length, 0 when there is none */
    const char *content_type;        /* Content-Type header, or NULL */
    size_t content_type_len;
    const char *host;                /* Host without port, or the server's first name */
    size_t host_len;
    const char *remote_addr;         /* NUL-terminated; "" for unix sockets */
    unsigned remote_port;
    const char *server_addr;         /* NUL-terminated local address */
    unsigned server_port;
    bool https;
    const struct zs_server *server;
    const struct zs_location *location;
};

/* One adapter: the worker calls these for each request of a location that uses it. */
struct zs_adapter {
    const char *name;
    /* Starts a request. Returns the adapter's state, or NULL after it has
     * called zs_app_fail(). The body, if any, follows through body(). */
    void *(*start)(struct zs_app_io *io, const struct zs_app_request *req);
    /* Decoded request body bytes, in order; `last` is set with the final
     * ones (len may then be 0). Returns how many bytes were taken: fewer
     * than len pauses the client until the adapter calls zs_app_body_resume(). */
    size_t (*body)(void *state, const char *data, size_t len, bool last);
    /* The client has taken the output queued so far: read the backend again. */
    void (*resume)(void *state);
    /* The request is over for the worker (client gone, timeout, shutdown):
     * release everything. The adapter must not call zs_app_* for it again. */
    void (*abort)(void *state);
};

extern const struct zs_adapter zs_adapter_fastcgi;
extern const struct zs_adapter zs_adapter_scgi;
extern const struct zs_adapter zs_adapter_cgi;

/* An adapter built as a module that workers load with dlopen() (WSGI): the
 * module defines one `const struct zs_adapter_module zs_module`. */
struct zs_adapter_module {
    const struct zs_adapter *adapter;
    /* Runs once in each worker that serves a location of the adapter, after
     * privileges are dropped and before the first request. Returns 0, or -1
     * when the worker cannot serve any of those locations (logged). */
    int (*init)(const struct zs_config *conf, const struct zs_pool *pool);
    /* Runs when the worker stops, after its last request. */
    void (*exit)(void);
    /* Preloading (wsgi_preload): runs once in the pool's loader process,
     * which then forks the workers; their init() finds the work done.
     * Returns 0, or -1 when an application failed to load (logged). */
    int (*preload)(const struct zs_config *conf, const struct zs_pool *pool);
    /* Around each fork() of the loader. */
    void (*fork_prepare)(void);
    void (*fork_parent)(void);
};

/* ---- Implemented by the worker ---- */

struct ev_loop *zs_app_loop(void);
/* The configuration the worker runs with (timeouts, temporary directory). */
const struct zs_config *zs_app_config(void);
/* Workers of the pool this worker belongs to. */
int zs_app_worker_count(void);

/* Response head: status and the application's headers (without Status,
 * Content-Length and hop-by-hop headers, which the worker writes itself).
 * content_length is -1 when unknown: the worker then uses chunked coding
 * or closes the connection after the body. */
void zs_app_head(struct zs_app_io *io, int status, const struct zs_app_header *headers,
                 size_t count, int64_t content_length);
/* Response body bytes. Returns 1 when the adapter may send more, 0 when it
 * should stop reading its backend until resume() is called. */
int zs_app_body(struct zs_app_io *io, const char *data, size_t len);
/* Bytes written to the client unchanged: the whole response of an nph- script. */
int zs_app_raw(struct zs_app_io *io, const char *data, size_t len);
/* The response is complete. complete = false when the backend stopped
 * early: the worker then closes the connection so the client sees it. */
void zs_app_end(struct zs_app_io *io, bool complete);
/* The request failed: before the head an error page with this status
 * (502, 503, 504, 500), after it the connection is closed. Logged by the caller. */
void zs_app_fail(struct zs_app_io *io, int status);
/* Sends len bytes of the open file fd from offset as the whole response body
 * (with sendfile), taking fd over; the adapter then calls zs_app_end(). Only
 * right after a head with a Content-Length: returns -1 otherwise (fd left
 * open), else 0. */
int zs_app_sendfile(struct zs_app_io *io, int fd, int64_t offset, int64_t len);
/* Writes queued output to the client now, as far as the socket takes it
 * without waiting, so that a piece an application streams goes out before
 * it produces the next. Returns 1 when all is written; 0 when some is left,
 * and resume() comes once the client has taken it; -1 when the client is
 * gone: the response is then cut short. */
int zs_app_flush(struct zs_app_io *io);
/* Writes all queued output to the client now, waiting up to send_timeout.
 * For adapters that cannot wait for resume() (WSGI's write()). Returns 0,
 * or -1 when the client is gone or too slow: the response is then cut short. */
int zs_app_drain(struct zs_app_io *io);
/* A local redirect (RFC 3875 6.2.2): the worker serves path as a GET instead. */
void zs_app_redirect_local(struct zs_app_io *io, const char *path, size_t len);
/* The adapter can take request body bytes again. */
void zs_app_body_resume(struct zs_app_io *io);
/* Client address for log lines about this request. */
const char *zs_app_peer(const struct zs_app_io *io);

#endif
