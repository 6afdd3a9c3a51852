/* FastCGI responder that describes the request it received, so tests can
 * check every parameter and body byte that an adapter sent.
 * Usage: fcgi_echo SOCKET_PATH|HOST:PORT
 *
 * The text/plain body has one NAME=VALUE line per FastCGI parameter, sorted
 * by name in byte order, then "BODY <length> <sha256 hex>" for the whole
 * STDIN stream. Query parameters change the head: status=NNN adds
 * "Status: NNN <reason>", cookies=N adds N Set-Cookie headers
 * ("Set-Cookie: echoK=K; Path=/" for K from 1 to N). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "t/apps/fcgi_app.h"
#include "t/apps/sha256.h"

#define MAX_COOKIES 1000

/* Orders "NAME=VALUE" strings by NAME, then by the whole string. */
static int
compare_params(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    size_t x_name = strcspn(x, "=");
    size_t y_name = strcspn(y, "=");
    size_t common = x_name < y_name ? x_name : y_name;
    int order = memcmp(x, y, common);

    if (order != 0)
        return order;
    if (x_name != y_name)
        return x_name < y_name ? -1 : 1;
    return strcmp(x, y);
}

/* Appends the sorted parameter lines. Returns 0, or -1 when out of memory. */
static int
append_params(struct zs_buf *out, char **envp)
{
    size_t count = 0;

    while (envp[count] != NULL)
        count++;
    char **sorted = malloc((count + 1) * sizeof *sorted);
    if (sorted == NULL)
        return -1;
    memcpy(sorted, envp, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, compare_params);

    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = zs_buf_append(out, sorted[i], strlen(sorted[i]));
        if (rc == 0)
            rc = zs_buf_append(out, "\n", 1);
    }
    free(sorted);
    return rc;
}

/* Reads STDIN to its end and appends "BODY <length> <sha256>". */
static int
append_body_digest(struct zs_buf *out, FCGX_Stream *in)
{
    struct sha256 digest;
    char chunk[16384];
    char hex[SHA256_HEX_SIZE];
    char line[128];
    unsigned long long length = 0;
    int n;

    sha256_init(&digest);
    while ((n = FCGX_GetStr(chunk, sizeof chunk, in)) > 0) {
        sha256_update(&digest, chunk, (size_t)n);
        length += (unsigned long long)n;
    }
    sha256_final_hex(&digest, hex);
    n = snprintf(line, sizeof line, "BODY %llu %s\n", length, hex);
    return zs_buf_append(out, line, (size_t)n);
}

static void
send_head(FCGX_Request *req, long status, long cookies, size_t body_len)
{
    char line[128];
    int n;

    if (status >= 0) {
        n = snprintf(line, sizeof line, "Status: %ld %s\r\n", status,
                     app_reason_phrase((int)status));
        FCGX_PutStr(line, n, req->out);
    }
    FCGX_PutS("Content-Type: text/plain\r\n", req->out);
    for (long k = 1; k <= cookies; k++) {
        n = snprintf(line, sizeof line, "Set-Cookie: echo%ld=%ld; Path=/\r\n", k, k);
        FCGX_PutStr(line, n, req->out);
    }
    n = snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", body_len);
    FCGX_PutStr(line, n, req->out);
}

static void
handle_echo(FCGX_Request *req)
{
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    struct zs_buf body = {0};

    if (query == NULL)
        query = "";
    long status = app_query_long(query, "status", 999);
    long cookies = app_query_long(query, "cookies", MAX_COOKIES);
    if (status == -2 || (status >= 0 && status < 100)) {
        app_reply_text(req, 400, "status must be a number from 100 to 999\n");
        return;
    }
    if (cookies == -2) {
        app_reply_text(req, 400, "cookies must be a number from 0 to 1000\n");
        return;
    }

    if (append_params(&body, req->envp) != 0 || append_body_digest(&body, req->in) != 0) {
        app_reply_text(req, 500, "out of memory\n");
        goto out;
    }
    send_head(req, status, cookies, body.len);
    FCGX_PutStr(body.data, (int)body.len, req->out);
out:
    zs_buf_free(&body);
}

int
main(int argc, char **argv)
{
    return app_serve(argc, argv, handle_echo);
}
