/* Shared parts of the FastCGI test programs in t/apps: the accept loop,
 * query string parameters and plain-text replies. */
#ifndef APP_FCGI_APP_H
#define APP_FCGI_APP_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>

/* Handles one request: reads it from req and writes the response. The loop
 * finishes the request after the handler returns. */
typedef void app_handler(FCGX_Request *req);

/* Listens on argv[1] (a unix socket path, "host:port" or ":port", as
 * FCGX_OpenSocket takes it) and serves one request at a time until the
 * process is killed. Returns the exit status for main(): 2 for a usage
 * error, 1 when the address is invalid or accept fails. When the socket
 * cannot be bound, libfcgi exits the process with errno as the status. */
int app_serve(int argc, char **argv, app_handler *handle);

/* Finds NAME among the '&'-separated NAME or NAME=VALUE items of a query
 * string. On success *value points into query ("" for a bare NAME). */
bool app_query_find(const char *query, const char *name, const char **value, size_t *value_len);

/* Returns the decimal value of the query parameter NAME, -1 when it is
 * absent, or -2 when it is not a number from 0 to max. */
long app_query_long(const char *query, const char *name, long max);

/* The standard reason phrase of an HTTP status code, or "Unknown Status". */
const char *app_reason_phrase(int status);

/* Sends a complete text/plain response with Content-Length. A status other
 * than 200 adds a Status header. */
void app_reply_text(FCGX_Request *req, int status, const char *body);

#endif
