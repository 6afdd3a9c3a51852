/* SCGI adapter: a netstring of CGI variables, the body, then the response
 * as CGI output until the backend closes the connection. */
#include "config.h"

#include <stdlib.h>

#include "adapters/adapter.h"
#include "adapters/backend.h"
#include "adapters/fcgi_record.h"

struct scgi_req {
    struct zs_backend_req b;     /* first member */
};

static int
scgi_encode_head(struct zs_backend_req *b, const struct zs_cgi_env *env)
{
    return zs_scgi_head(&b->out, env->vars, env->count, b->body_length);
}

static int
scgi_encode_body(struct zs_backend_req *b, const char *data, size_t len, bool last)
{
    (void)last;
    return zs_buf_append(&b->out, data, len);
}

/* The response is the byte stream itself. zs_backend_output() passes all of
 * it on even when it requests a pause, so nothing is kept. */
static int
scgi_decode(struct zs_backend_req *b, const char *data, size_t len)
{
    return zs_backend_output(b, data, len);
}

/* The end of the stream is the end of the response. */
static void
scgi_eof(struct zs_backend_req *b)
{
    zs_backend_finish(b, false, 0);
}

static const struct zs_backend_proto scgi_proto = {
    .name = "SCGI",
    .keep_alive = false,
    .encode_head = scgi_encode_head,
    .encode_body = scgi_encode_body,
    .decode = scgi_decode,
    .eof = scgi_eof,
};

static void *
scgi_start(struct zs_app_io *io, const struct zs_app_request *req)
{
    struct scgi_req *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        zs_app_fail(io, 500);
        return NULL;
    }
    if (zs_backend_start(&s->b, &scgi_proto, io, req) == -1)
        return NULL;
    return s;
}

const struct zs_adapter zs_adapter_scgi = {
    .name = "scgi",
    .start = scgi_start,
    .body = zs_backend_body,
    .resume = zs_backend_resume,
    .abort = zs_backend_abort,
};
