/* FastCGI responder that misbehaves on request, for the error paths of the
 * FastCGI adapter. Usage: fcgi_edge SOCKET_PATH|HOST:PORT
 *
 * The query string picks the behaviours, which combine ("big=2&nolength"):
 *   slow=MS     sleep MS milliseconds (at most 60000) before anything else
 *   nohead      shut the connection down without sending any record
 *   empty       end the request (FCGI_END_REQUEST) without any output
 *   stderr=N    first write N KiB (at most 1024) to FCGI_STDERR, one
 *               1 KiB line per record
 *   split       send the head one byte per FCGI_STDOUT record
 *   lf          end header lines with a bare LF instead of CRLF
 *   bighead=N   add "X-Big: " and N KiB (at most 1024) of 'h' to the head
 *   big=N       send N MiB (at most 1024) of body in 64 KiB writes, as
 *               application/octet-stream
 *   nolength    send no Content-Length
 *   die         after the head and half of the body, exit the process with
 *               status 1, so the request never ends
 * Without big the body is "edge\n" (text/plain). The bytes of a big body
 * follow the pattern: the byte at offset i is i % 251, which a test can
 * rebuild; 251 is prime, so a lost or repeated block changes the digest. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "t/apps/fcgi_app.h"

#define KIB 1024L
#define MIB (1024L * 1024L)
#define BIG_WRITE_SIZE (64 * 1024)
#define PATTERN_PERIOD 251

static const char small_body[] = "edge\n";

struct edge_options {
    long slow_ms;
    long stderr_kib;
    long bighead_kib;
    long big_mib;
    bool nohead;
    bool empty;
    bool split;
    bool lf;
    bool nolength;
    bool die;
};

static bool
query_has(const char *query, const char *name)
{
    const char *value;
    size_t len;

    return app_query_find(query, name, &value, &len);
}

/* Reads the options. Returns NULL, or the name of the invalid parameter. */
static const char *
parse_options(const char *query, struct edge_options *opt)
{
    opt->slow_ms = app_query_long(query, "slow", 60000);
    if (opt->slow_ms == -2)
        return "slow";
    opt->stderr_kib = app_query_long(query, "stderr", 1024);
    if (opt->stderr_kib == -2)
        return "stderr";
    opt->bighead_kib = app_query_long(query, "bighead", 1024);
    if (opt->bighead_kib == -2)
        return "bighead";
    opt->big_mib = app_query_long(query, "big", 1024);
    if (opt->big_mib == -2)
        return "big";
    opt->nohead = query_has(query, "nohead");
    opt->empty = query_has(query, "empty");
    opt->split = query_has(query, "split");
    opt->lf = query_has(query, "lf");
    opt->nolength = query_has(query, "nolength");
    opt->die = query_has(query, "die");
    return NULL;
}

static void
sleep_ms(long ms)
{
    struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&delay, &delay) != 0)
        continue;
}

/* Writes kib lines of exactly 1 KiB to FCGI_STDERR, each flushed into a
 * record of its own. */
static void
write_stderr(FCGX_Request *req, long kib)
{
    char line[KIB];

    for (long i = 0; i < kib; i++) {
        int n = snprintf(line, sizeof line, "fcgi_edge stderr line %ld ", i + 1);
        memset(line + n, 'e', sizeof line - 1 - (size_t)n);
        line[sizeof line - 1] = '\n';
        FCGX_PutStr(line, sizeof line, req->err);
        FCGX_FFlush(req->err);
    }
}

/* Builds the response head. Returns 0, or -1 when out of memory. */
static int
build_head(struct zs_buf *head, const struct edge_options *opt, long long body_len)
{
    const char *eol = opt->lf ? "\n" : "\r\n";
    char line[128];
    int n;
    int rc = 0;

    n = snprintf(line, sizeof line, "Content-Type: %s%s",
                 opt->big_mib >= 0 ? "application/octet-stream" : "text/plain", eol);
    rc |= zs_buf_append(head, line, (size_t)n);
    if (!opt->nolength) {
        n = snprintf(line, sizeof line, "Content-Length: %lld%s", body_len, eol);
        rc |= zs_buf_append(head, line, (size_t)n);
    }
    if (opt->bighead_kib >= 0) {
        size_t value_len = (size_t)(opt->bighead_kib * KIB);
        rc |= zs_buf_append(head, "X-Big: ", 7);
        rc |= zs_buf_reserve(head, value_len);
        if (rc == 0) {
            memset(head->data + head->len, 'h', value_len);
            head->len += value_len;
        }
        rc |= zs_buf_append(head, eol, strlen(eol));
    }
    rc |= zs_buf_append(head, eol, strlen(eol));
    return rc;
}

static void
send_head(FCGX_Request *req, const struct zs_buf *head, bool split)
{
    if (!split) {
        FCGX_PutStr(head->data, (int)head->len, req->out);
        return;
    }
    for (size_t i = 0; i < head->len; i++) {
        FCGX_PutChar(head->data[i], req->out);
        FCGX_FFlush(req->out);
    }
}

/* Sends the pattern bytes from offset `from` up to `to`. */
static void
send_big_body(FCGX_Request *req, long long from, long long to)
{
    static char block[BIG_WRITE_SIZE];

    for (long long offset = from; offset < to; offset += BIG_WRITE_SIZE) {
        long long len = to - offset < BIG_WRITE_SIZE ? to - offset : BIG_WRITE_SIZE;
        for (long long j = 0; j < len; j++)
            block[j] = (char)((offset + j) % PATTERN_PERIOD);
        FCGX_PutStr(block, (int)len, req->out);
    }
}

static void
send_body(FCGX_Request *req, const struct edge_options *opt, long long body_len)
{
    long long sent_len = opt->die ? body_len / 2 : body_len;

    if (opt->big_mib >= 0)
        send_big_body(req, 0, sent_len);
    else
        FCGX_PutStr(small_body, (int)sent_len, req->out);

    if (opt->die) {
        FCGX_FFlush(req->out);
        fprintf(stderr, "fcgi_edge: exiting mid-body after %lld of %lld bytes, as requested by \"die\"\n",
                sent_len, body_len);
        _exit(1);
    }
}

static void
handle_edge(FCGX_Request *req)
{
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    struct edge_options opt;
    struct zs_buf head = {0};

    if (query == NULL)
        query = "";
    const char *invalid = parse_options(query, &opt);
    if (invalid != NULL) {
        char message[128];
        snprintf(message, sizeof message, "invalid value for %s in the query string\n", invalid);
        app_reply_text(req, 400, message);
        return;
    }

    if (opt.slow_ms > 0)
        sleep_ms(opt.slow_ms);
    if (opt.nohead) {
        /* FCGX_Finish_r still tries to send FCGI_END_REQUEST; after the
         * shutdown that write fails (SIGPIPE is ignored) and the client sees
         * the connection close with no record at all. */
        shutdown(req->ipcFd, SHUT_RDWR);
        return;
    }
    if (opt.empty)
        return;
    if (opt.stderr_kib > 0)
        write_stderr(req, opt.stderr_kib);

    long long body_len = opt.big_mib >= 0 ? opt.big_mib * MIB : (long long)strlen(small_body);
    if (build_head(&head, &opt, body_len) != 0) {
        app_reply_text(req, 500, "out of memory\n");
        goto out;
    }
    send_head(req, &head, opt.split);
    send_body(req, &opt, body_len);
out:
    zs_buf_free(&head);
}

int
main(int argc, char **argv)
{
    return app_serve(argc, argv, handle_edge);
}
