/* Worker process: private types and prototypes, grouped by the file that defines them. */
#ifndef ZS_WORKER_H
#define ZS_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <http_parser.h>

#include "lib/conf.h"
#include "lib/defaults.h"
#include "worker/range.h"

struct zs_file;

struct zs_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Counted string pointing into the connection's read buffer. */
struct zs_span {
    const char *p;
    size_t len;
};

enum zs_body_kind { ZS_BODY_NONE, ZS_BODY_LENGTH, ZS_BODY_CHUNKED };

enum zs_chunk_state {
    CHUNK_SIZE,
    CHUNK_SIZE_WS,
    CHUNK_EXT,
    CHUNK_SIZE_LF,
    CHUNK_DATA,
    CHUNK_DATA_CR,
    CHUNK_DATA_LF,
    CHUNK_TRAILER,
    CHUNK_TRAILER_LF,
    CHUNK_DONE
};

/* One parsed request. Spans point into the connection's read buffer, which
 * stays in place until the response has been logged. */
struct zs_request {
    int method;                  /* enum http_method */
    unsigned short http_major;
    unsigned short http_minor;
    struct zs_span line;         /* request line, for logs */
    struct zs_span target;       /* request-target as received */
    struct zs_span path_raw;     /* path part of the target, still encoded */
    struct zs_span query;        /* after '?', without it */
    struct zs_span host;         /* Host header or authority of an absolute-form target, without port */

    struct zs_header *headers;
    size_t header_count;

    /* Headers the server itself acts on. */
    struct zs_span if_match, if_none_match, if_modified_since, if_unmodified_since;
    struct zs_span if_range, range, accept_encoding, referer, user_agent, content_type;

    enum zs_body_kind body_kind;
    int64_t content_length;      /* -1 when absent */
    bool expect_continue;
    bool keep_alive;
    bool head;                   /* HEAD: headers only */

    const struct zs_server *server;
    const struct zs_location *location;
    char *path;                  /* decoded and normalised, NUL-terminated */
    size_t path_len;

    int status;
    int64_t body_bytes;          /* body bytes of the response, for the access log */
    ev_tstamp start;
};

/* A piece of the response body: bytes in memory or a range of an open file. */
struct zs_segment {
    const char *mem;
    int64_t offset;              /* file offset, or bytes of mem already sent */
    int64_t len;
    bool is_file;
};

#define ZS_MAX_SEGMENTS (2 * ZS_MAX_RANGES + 2)

enum zs_conn_state {
    CONN_READ_HEAD,
    CONN_READ_BODY,
    CONN_WRITE,
    CONN_APP,                    /* an adapter responds: see worker/app.c */
    CONN_LINGER,
};

struct zs_adapter;

/* An application request in progress on a connection (worker/app.c). */
struct zs_conn_app {
    const struct zs_adapter *adapter;   /* NULL when the request is not an application's */
    void *state;                 /* the adapter's, NULL once it has ended or failed */
    int fail_status;             /* error page to send instead of the application's head */
    int64_t body_length;         /* CONTENT_LENGTH the adapter was given */
    int64_t content_length;      /* the response's Content-Length, or -1 */
    int spool_fd;                /* temporary file of a chunked request body, or -1 */
    char *spool_buf;
    int64_t spool_off;           /* file bytes read into spool_buf so far */
    size_t spool_pos, spool_len;
    char *redirect;              /* local redirect target to follow */
    char *redirect_kept;         /* followed redirect target, backing the request's spans */
    unsigned redirects;
    /* The request headers as offsets into rbuf: the shared header array is
     * overwritten by the next head parsed, and rbuf may move when it grows. */
    struct zs_header *headers;
    size_t header_count;
    bool head_sent;
    bool logged;                 /* the access log has the response's line */
    bool ended;                  /* zs_app_end, zs_app_fail or a redirect came */
    bool incomplete;             /* the body is cut short: close the connection */
    bool failed_after_head;
    bool chunked;                /* the response body goes out in chunked coding */
    bool raw;                    /* nph- output, passed through unchanged */
    bool paused;                 /* the adapter waits for resume() */
    bool body_read;              /* the request body is read from the client */
    bool body_fed;               /* ... and handed to the adapter */
    bool in_step, again, fed;    /* scheduling of app_step() */
};

struct zs_conn {
    int fd;
    enum zs_conn_state state;
    ev_io io;
    ev_tstamp deadline;          /* checked by the worker's once-a-second sweep */
    struct zs_conn *prev, *next; /* in the worker's list of connections */

    const struct zs_listener *lis;
    char peer[64];               /* client address as text, without port */
    unsigned peer_port;

    char *rbuf;
    size_t rcap;
    size_t rlen;                 /* bytes in rbuf */
    size_t rpos;                 /* start of the request being parsed */
    size_t rscan;                /* head bytes already checked by the line scanner */
    size_t body_pos;             /* first unconsumed body byte in rbuf */

    /* Response being written: wbuf contains headers and small bodies, and segs follow it. */
    char *wbuf;
    size_t wcap;
    size_t wlen;
    size_t wpos;
    struct zs_segment segs[ZS_MAX_SEGMENTS];
    int seg_count;
    int seg_index;
    struct zs_file *file;        /* file of the file segments, released when done */
    char *extra;                 /* heap buffer behind memory segments (multipart parts) */

    http_parser parser;
    struct zs_request req;
    char pathbuf[512];           /* decoded path; longer ones are allocated */

    /* Request body framing (decoded by us, not by http-parser). */
    int64_t body_left;           /* bytes left in the body or in the current chunk */
    int64_t body_total;          /* decoded body bytes so far */
    enum zs_chunk_state chunk_state;
    size_t chunk_line;           /* bytes of the current chunk-size or trailer line */
    int chunk_digits;
    int64_t trailer_bytes;

    unsigned requests;           /* served on this connection */
    bool close_after;            /* close once the response is written */
    bool linger;                 /* read and drop input for a while before close */
    bool head_started;           /* bytes of a request head have arrived */
    bool nodelay;                /* TCP_NODELAY is set, or not needed (unix socket) */
    bool sent_continue;
    bool lowat;                  /* TCP_NOTSENT_LOWAT is set, or not needed */

    /* Where request body bytes go: NULL drops them (static files). Returns
     * how many it took; fewer pauses reading until body_paused is cleared. */
    size_t (*body_sink)(struct zs_conn *c, const char *data, size_t len);
    bool body_paused;
    struct zs_conn_app app;
};

/* worker.c */
struct zs_worker {
    struct ev_loop *loop;
    const struct zs_config *conf;
    const struct zs_pool *pool;
    int channel_fd;
    int accept_epfd;
    ev_io accept_io;
    ev_io channel_io;
    ev_timer sweep_timer;
    ev_signal sig_quit, sig_term, sig_int;
    bool accepting;
    bool draining;               /* graceful stop: finish requests, accept no more */
    unsigned conn_count;
    unsigned long requests;      /* served by this worker, for max_requests */
    struct zs_conn *conns;       /* every open connection */
    struct zs_conn *free_conns;
    char *scratch;               /* per-request scratch buffer (decoded path, etc.) */
    size_t scratch_size;
    /* Request headers of the request being parsed; handlers run to completion
     * before the next head is parsed, so one array serves every connection. */
    struct zs_header headers[ZS_MAX_HEADERS_COUNT];
};

extern struct zs_worker zs_w;

int zs_worker_main(const struct zs_config *conf, const struct zs_pool *pool, int channel_fd);
void zs_worker_conn_closed(void);
void zs_worker_request_done(void);

/* conn.c */
void zs_conn_accept(int fd, const struct zs_listener *lis, const struct sockaddr *sa);
void zs_conn_close(struct zs_conn *c);
void zs_conn_start_linger(struct zs_conn *c);
void zs_conn_sweep(ev_tstamp now);
void zs_conn_drain_idle(void);
void zs_conn_close_all(void);
int zs_conn_read(struct zs_conn *c);
void zs_conn_rbuf_grow_for_body(struct zs_conn *c);
int zs_conn_flush(struct zs_conn *c);
bool zs_conn_finish(struct zs_conn *c);
void zs_conn_process(struct zs_conn *c);
void zs_conn_set_events(struct zs_conn *c, int events);
void zs_conn_set_path(struct zs_conn *c, char *path);
void zs_conn_handle_local(struct zs_conn *c);
void zs_sockaddr_text(const struct sockaddr *sa, char *out, size_t size, unsigned *port);

/* app.c */
bool zs_app_wanted(const struct zs_conn *c);
void zs_app_route_index(struct zs_conn *c);
void zs_app_begin(struct zs_conn *c);
void zs_app_event(struct zs_conn *c, int revents);
void zs_app_release(struct zs_conn *c);

/* modules.c */
void zs_modules_init(const struct zs_config *conf, const struct zs_pool *pool);
void zs_modules_exit(void);
/* The WSGI adapter, or NULL when its module is not loaded. */
const struct zs_adapter *zs_modules_wsgi(void);
/* Preloading, in the loader process (master/preload.c). */
bool zs_modules_preload_wanted(const struct zs_config *conf, const struct zs_pool *pool);
int zs_modules_preload(const struct zs_config *conf, const struct zs_pool *pool);
void zs_modules_fork_prepare(void);
void zs_modules_fork_parent(void);

/* http1.c */
enum zs_head_result { HEAD_INCOMPLETE, HEAD_COMPLETE, HEAD_ERROR };
enum zs_head_result zs_http1_scan_head(struct zs_conn *c, int *status);
int zs_http1_parse_head(struct zs_conn *c, int *status);
int zs_http1_read_body(struct zs_conn *c, int *status);

/* router.c */
const struct zs_server *zs_router_server(const struct zs_listener *lis, const char *host, size_t len);
const struct zs_location *zs_router_location(const struct zs_server *srv, const char *path, size_t len);

/* response.c */
const char *zs_status_reason(int status);
void zs_resp_begin(struct zs_conn *c, int status);
void zs_resp_header(struct zs_conn *c, const char *name, const char *value, size_t len);
void zs_resp_header_int(struct zs_conn *c, const char *name, int64_t value);
void zs_resp_end_headers(struct zs_conn *c, int64_t content_length);
void zs_resp_body_mem(struct zs_conn *c, const char *data, size_t len);
void zs_resp_error(struct zs_conn *c, int status);
void zs_resp_redirect(struct zs_conn *c, int status, const char *url, size_t len);
void zs_resp_text(struct zs_conn *c, int status, const char *type, const char *text, size_t len);
int zs_resp_reserve(struct zs_conn *c, size_t need);
void zs_resp_date_update(ev_tstamp now);
const char *zs_resp_date(void);

/* static.c */
void zs_static_handle(struct zs_conn *c);

/* return.c */
void zs_return_handle(struct zs_conn *c);

/* autoindex.c */
void zs_autoindex_send(struct zs_conn *c, int dirfd, const char *path, size_t path_len);

/* accesslog.c, declared in accesslog.h for the unit tests */

#endif
