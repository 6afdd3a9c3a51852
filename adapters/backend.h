/* The part of the FastCGI and SCGI adapters that they share: a request to a
 * backend over a socket. It takes the connection from upstream.c, builds the
 * CGI variables, writes the encoded request as the socket accepts it,
 * parses the response head as CGI output, and handles timeouts and
 * failures. The protocol supplies the encoding of the request and the
 * decoding of the response. */
#ifndef ZS_BACKEND_H
#define ZS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "adapters/adapter.h"
#include "adapters/cgi_env.h"
#include "adapters/cgi_head.h"
#include "adapters/upstream.h"
#include "lib/buf.h"

struct zs_backend_req;

struct zs_backend_proto {
    const char *name;            /* for log lines */
    bool keep_alive;             /* the protocol lets a connection serve another request */
    /* Append the start of the request to b->out. Return 0, or -1 when out of memory. */
    int (*encode_head)(struct zs_backend_req *b, const struct zs_cgi_env *env);
    /* Append request body bytes; last ends the body (len may be 0). */
    int (*encode_body)(struct zs_backend_req *b, const char *data, size_t len, bool last);
    /* Decode bytes read from the backend, passing response bytes to
     * zs_backend_output(). Return 1 to go on reading, 0 when paused (after
     * keeping the undecoded rest), -1 when the request has ended, finished
     * or failed: b is then freed. */
    int (*decode)(struct zs_backend_req *b, const char *data, size_t len);
    /* The backend closed the connection. NULL when that ends the response
     * (SCGI); otherwise it is an error unless the protocol finished first. */
    void (*eof)(struct zs_backend_req *b);
    /* Forget decoding state before the request is sent again on another connection. */
    void (*reset)(struct zs_backend_req *b);
};

struct zs_backend_req {
    const struct zs_backend_proto *proto;
    struct zs_app_io *io;
    const struct zs_location *loc;
    struct zs_upstream_req up;
    struct zs_upstream_conn *conn;
    ev_io watcher;
    ev_timer timer;
    struct zs_buf out;           /* encoded request bytes not yet written */
    struct zs_buf replay;        /* the whole encoded request while it may be sent again */
    struct zs_cgi_head head;
    struct zs_buf pending;       /* read but undecoded input, kept while paused */
    int64_t body_length;
    bool keep_alive;             /* this request's connection may be kept for reuse */
    bool connecting;
    bool head_done;              /* the response head went to the client */
    bool body_last;              /* the encoder got the end of the body */
    bool body_wait;              /* the worker must hold the request body */
    bool paused;                 /* the client is slow: do not read the backend */
    bool got_response;           /* the backend sent at least one byte */
    bool failed;
    bool finished;
};

/* Splits the path, builds the CGI variables, encodes the start of the
 * request and connects. Returns 0, or -1 after failing the request and
 * freeing b (which must come from malloc and start with the zs_backend_req). */
int zs_backend_start(struct zs_backend_req *b, const struct zs_backend_proto *proto,
                     struct zs_app_io *io, const struct zs_app_request *req);

/* The adapter callbacks, shared by both protocols. */
size_t zs_backend_body(void *state, const char *data, size_t len, bool last);
void zs_backend_resume(void *state);
void zs_backend_abort(void *state);

/* For the protocols' decode(): response bytes in CGI format. Returns 1 to
 * go on, 0 when the client is slow (stop decoding), -1 after a failure
 * (b is freed). */
int zs_backend_output(struct zs_backend_req *b, const char *data, size_t len);
/* Keeps undecoded input until zs_backend_resume(). Returns 0, or -1 after
 * failing the request (b is freed). */
int zs_backend_keep_input(struct zs_backend_req *b, const char *data, size_t len);
/* The response is complete. reusable: the connection is clean for another
 * request. fail_status, if not 0, fails a request whose head did not come.
 * b is freed. */
void zs_backend_finish(struct zs_backend_req *b, bool reusable, int fail_status);
/* Logs and fails the request with 502; b is freed. */
void zs_backend_protocol_error(struct zs_backend_req *b, const char *what);
const char *zs_backend_addr(const struct zs_backend_req *b);

#endif
