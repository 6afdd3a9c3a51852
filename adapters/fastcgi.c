/* FastCGI adapter: one request per backend connection at a time, with
 * FCGI_KEEP_CONN so that connections are reused across requests. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/backend.h"
#include "adapters/cgi_env.h"
#include "adapters/fcgi_record.h"
#include "lib/log.h"

/* Request id used on every connection: requests are never multiplexed. */
#define FCGI_REQUEST_ID 1

struct fcgi_req {
    struct zs_backend_req b;     /* shared backend request machinery; first member */
    struct zs_fcgi_parser parser;
    bool ended;                  /* END_REQUEST received */
};

static int
fcgi_encode_head(struct zs_backend_req *b, const struct zs_cgi_env *env)
{
    if (zs_fcgi_begin_request(&b->out, FCGI_REQUEST_ID, b->keep_alive) == -1)
        return -1;
    return zs_fcgi_params(&b->out, FCGI_REQUEST_ID, env->vars, env->count);
}

static int
fcgi_encode_body(struct zs_backend_req *b, const char *data, size_t len, bool last)
{
    if (len > 0 && zs_fcgi_stream(&b->out, ZS_FCGI_STDIN, FCGI_REQUEST_ID, data, len) == -1)
        return -1;
    if (last && zs_fcgi_stream(&b->out, ZS_FCGI_STDIN, FCGI_REQUEST_ID, "", 0) == -1)
        return -1;
    return 0;
}

/* Logs what the application wrote to its stderr, one log line per line. */
static void
fcgi_stderr(struct zs_backend_req *b, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t line = nl != NULL ? (size_t)(nl - data) : len;
        size_t shown = line;
        if (shown > 0 && data[shown - 1] == '\r')
            shown--;
        if (shown > 0) {
            char text[4 * 2048 + 1];
            /* Control bytes from the application must not reach a terminal showing the log. */
            zs_log_escape(text, sizeof(text), data, shown > 2048 ? 2048 : shown);
            zs_log_warn("client %s: backend %s: stderr: %s", zs_app_peer(b->io), zs_backend_addr(b), text);
        }
        if (nl == NULL)
            break;
        data += line + 1;
        len -= line + 1;
    }
}

/* Decodes records from the backend, as zs_backend_proto.decode. */
static int
fcgi_decode(struct zs_backend_req *b, const char *data, size_t len)
{
    struct fcgi_req *f = (struct fcgi_req *)b;
    struct zs_fcgi_piece piece;

    while (len > 0) {
        enum zs_fcgi_next n = zs_fcgi_parse(&f->parser, &data, &len, &piece);
        if (n == ZS_FCGI_NEED_MORE)
            return 1;
        if (n == ZS_FCGI_INVALID) {
            zs_backend_protocol_error(b, "invalid FastCGI record");
            return -1;
        }
        if (piece.request_id != FCGI_REQUEST_ID && piece.type != ZS_FCGI_END_REQUEST)
            continue;
        switch (piece.type) {
        case ZS_FCGI_STDOUT: {
            int r = piece.len > 0 ? zs_backend_output(b, piece.data, piece.len) : 1;
            if (r == -1)
                return -1;
            if (r == 0)
                return zs_backend_keep_input(b, data, len) == -1 ? -1 : 0;
            break;
        }
        case ZS_FCGI_STDERR:
            fcgi_stderr(b, piece.data, piece.len);
            break;
        case ZS_FCGI_END_REQUEST:
            f->ended = true;
            if (piece.protocol_status != ZS_FCGI_REQUEST_COMPLETE) {
                zs_log_error("client %s: backend %s ended the request with protocol status %u",
                             zs_app_peer(b->io), zs_backend_addr(b), piece.protocol_status);
                zs_backend_finish(b, false, piece.protocol_status == ZS_FCGI_OVERLOADED ? 503 : 502);
                return -1;
            }
            /* Bytes after END_REQUEST and its padding would belong to no
             * request: such a connection is not reused. */
            zs_backend_finish(b, len == f->parser.padding_left, 0);
            return -1;
        default:
            break;
        }
    }
    return 1;
}

static void
fcgi_reset(struct zs_backend_req *b)
{
    struct fcgi_req *f = (struct fcgi_req *)b;

    zs_fcgi_parser_init(&f->parser);
    f->ended = false;
}

static const struct zs_backend_proto fcgi_proto = {
    .name = "FastCGI",
    .keep_alive = true,
    .encode_head = fcgi_encode_head,
    .encode_body = fcgi_encode_body,
    .decode = fcgi_decode,
    .reset = fcgi_reset,
};

static void *
fcgi_start(struct zs_app_io *io, const struct zs_app_request *req)
{
    struct fcgi_req *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        zs_app_fail(io, 500);
        return NULL;
    }
    zs_fcgi_parser_init(&f->parser);
    if (zs_backend_start(&f->b, &fcgi_proto, io, req) == -1)
        return NULL;     /* zs_backend_start failed the request and freed f */
    return f;
}

const struct zs_adapter zs_adapter_fastcgi = {
    .name = "fastcgi",
    .start = fcgi_start,
    .body = zs_backend_body,
    .resume = zs_backend_resume,
    .abort = zs_backend_abort,
};
