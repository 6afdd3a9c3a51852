/* Shared parts of the FastCGI test programs: accept loop, query parameters,
 * plain-text replies. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t/apps/fcgi_app.h"

/* Connections that may wait for accept(). The tests open a few at a time;
 * a benchmark opens as many as the server's workers have backend slots. */
#define LISTEN_BACKLOG 128

int
app_serve(int argc, char **argv, app_handler *handle)
{
    if (argc > 2) {
        fprintf(stderr, "usage: %s [SOCKET_PATH | HOST:PORT | :PORT]\n", argv[0]);
        return 2;
    }

    /* A client that closes early must end the request, not the process. */
    signal(SIGPIPE, SIG_IGN);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "%s: FCGX_Init failed\n", argv[0]);
        return 1;
    }
    /* NOTE: libfcgi 2.4.2 exits by itself when bind() fails on a unix
     * socket path. It prints "bind/listen: <error>" and exits with errno as
     * the status, so this check covers only its other failures. */
    /* Without an address, the listening socket is standard input
     * (FCGI_LISTENSOCK_FILENO), as a web server that manages FastCGI
     * processes passes it. */
    const char *where = argc == 2 ? argv[1] : "standard input";
    int listen_fd = argc == 2 ? FCGX_OpenSocket(argv[1], LISTEN_BACKLOG) : 0;
    if (listen_fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", argv[0], where, strerror(errno));
        return 1;
    }
    fprintf(stderr, "%s: listening on %s\n", argv[0], where);

    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, 0) != 0) {
        fprintf(stderr, "%s: FCGX_InitRequest failed\n", argv[0]);
        return 1;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        handle(&req);
        FCGX_Finish_r(&req);
    }
    fprintf(stderr, "%s: accept on %s failed, exiting\n", argv[0], where);
    return 1;
}

bool
app_query_find(const char *query, const char *name, const char **value, size_t *value_len)
{
    size_t name_len = strlen(name);
    const char *item = query;

    while (item != NULL && *item != '\0') {
        const char *end = strchr(item, '&');
        size_t item_len = end != NULL ? (size_t)(end - item) : strlen(item);

        if (item_len >= name_len && memcmp(item, name, name_len) == 0) {
            if (item_len == name_len) {
                *value = item + item_len;
                *value_len = 0;
                return true;
            }
            if (item[name_len] == '=') {
                *value = item + name_len + 1;
                *value_len = item_len - name_len - 1;
                return true;
            }
        }
        item = end != NULL ? end + 1 : NULL;
    }
    return false;
}

long
app_query_long(const char *query, const char *name, long max)
{
    const char *value;
    size_t len;
    char digits[24];

    if (!app_query_find(query, name, &value, &len))
        return -1;
    if (len == 0 || len >= sizeof digits)
        return -2;
    memcpy(digits, value, len);
    digits[len] = '\0';

    char *end;
    errno = 0;
    long n = strtol(digits, &end, 10);
    if (errno != 0 || *end != '\0' || digits[0] < '0' || digits[0] > '9' || n > max)
        return -2;
    return n;
}

const char *
app_reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown Status";
    }
}

void
app_reply_text(FCGX_Request *req, int status, const char *body)
{
    char head[256];
    size_t body_len = strlen(body);
    int n;

    if (status == 200)
        n = snprintf(head, sizeof head,
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", body_len);
    else
        n = snprintf(head, sizeof head,
                     "Status: %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, app_reason_phrase(status), body_len);
    FCGX_PutStr(head, n, req->out);
    FCGX_PutStr(body, (int)body_len, req->out);
}
