/* Connections from a worker to FastCGI and SCGI backends: round-robin over
 * a location's backends with failover, non-blocking connect with a timeout,
 * a per-backend limit on concurrent requests with a bounded wait queue, and
 * idle connections kept for reuse (FastCGI's FCGI_KEEP_CONN). */
#ifndef ZS_UPSTREAM_H
#define ZS_UPSTREAM_H

#include <stdbool.h>

#include <ev.h>

#include "lib/conf.h"

struct zs_upstream_peer;

/* A connection to one backend, owned by one request at a time. */
struct zs_upstream_conn {
    int fd;
    struct zs_upstream_peer *peer;
    bool reused;                 /* it served an earlier request */
    struct zs_upstream_conn *next_idle;
    ev_io idle_io;               /* watches an idle connection for its close */
};

/* One request's claim on the backends of its location. */
struct zs_upstream_req {
    const struct zs_location *loc;
    unsigned tried;              /* backends tried so far */
    unsigned first;              /* round-robin start */
    struct zs_upstream_peer *peer;   /* backend whose slot this request has */
    bool queued;
    struct zs_upstream_req *queue_next;
    ev_tstamp queued_at;
    /* Called once a slot is free for a queued request; 0 on success. */
    void (*ready)(struct zs_upstream_req *r);
};

enum zs_upstream_result {
    ZS_UPSTREAM_OK,              /* *conn is set: connected, or connecting (wait for EV_WRITE) */
    ZS_UPSTREAM_QUEUED,          /* ready() is called when a slot frees */
    ZS_UPSTREAM_BUSY,            /* limit reached and the queue is full: respond 503 */
    ZS_UPSTREAM_FAILED           /* every backend failed to connect: respond 502 */
};

/* Takes a slot on the next backend in round-robin order and a connection to
 * it: an idle one when keep_alive allows, else a new non-blocking connect. */
enum zs_upstream_result zs_upstream_acquire(struct zs_upstream_req *r, bool keep_alive,
                                            struct zs_upstream_conn **conn);
/* After a failed connect: closes the failed connection, marks its backend
 * down for a while and moves to the next untried one. Returns
 * ZS_UPSTREAM_FAILED when none is left. */
enum zs_upstream_result zs_upstream_retry(struct zs_upstream_req *r, struct zs_upstream_conn *failed,
                                          bool keep_alive, struct zs_upstream_conn **conn);
/* Returns the connection: kept idle for reuse when keep is set, else
 * closed. Frees the request's slot, which may start a queued request. */
void zs_upstream_release(struct zs_upstream_req *r, struct zs_upstream_conn *conn, bool keep);
/* Leaves the wait queue or frees the slot of a request that is given up. */
void zs_upstream_cancel(struct zs_upstream_req *r);
/* The address of the request's current backend, for log lines. */
const char *zs_upstream_addr(const struct zs_upstream_req *r);

#endif
