/* Access log: buffered lines in Apache combined format or as JSON. */
#ifndef ZS_ACCESSLOG_H
#define ZS_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/conf.h"

struct zs_conn;

/* Details of a finished request, as the log line needs them. */
struct zs_access_entry {
    const char *peer;
    const char *line;            /* request line, raw bytes, may be NULL */
    size_t line_len;
    const char *method;
    const char *uri;             /* raw request-target */
    size_t uri_len;
    int http_minor;
    const char *host;
    size_t host_len;
    int status;
    int64_t body_bytes;
    const char *referer;
    size_t referer_len;
    const char *user_agent;
    size_t user_agent_len;
    double request_time;         /* seconds */
    time_t now;
};

void zs_accesslog_init(const struct zs_config *conf);
void zs_accesslog_write(struct zs_conn *c);
void zs_accesslog_flush_all(void);
/* Flushes the buffer of log slot `slot` (1 + server index) and puts fd in place of its file. */
void zs_accesslog_reopen(uint32_t slot, int fd);

/* Formats one line (with its newline) into out; returns its length, or 0
 * when out is too small. Exposed for the unit tests. */
size_t zs_accesslog_format(enum zs_access_log_format fmt, const struct zs_access_entry *e,
                           char *out, size_t size);

#endif
