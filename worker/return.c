/* `return` in a location: a fixed status with a redirect URL or a text body. */
#include "config.h"

#include <string.h>

#include "lib/log.h"
#include "lib/path.h"
#include "worker/worker.h"

struct expand {
    char *p;
    char *end;
    bool overflow;
};

static void
expand_put(struct expand *x, const char *s, size_t len)
{
    if (x->overflow || (size_t)(x->end - x->p) < len) {
        x->overflow = true;
        return;
    }
    memcpy(x->p, s, len);
    x->p += len;
}

/* Copies s lower-cased: host names compare case-insensitively, and nginx's
 * $host is lower case whatever the client sent. */
static void
expand_put_lower(struct expand *x, const char *s, size_t len)
{
    char *start = x->p;

    expand_put(x, s, len);
    if (x->overflow)
        return;
    for (char *p = start; p < x->p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

/* $uri is the decoded path: it is percent-encoded again, so that a CR, LF,
 * space or non-ASCII byte from the client cannot reach a response header. */
static void
expand_uri(struct expand *x, const char *path, size_t len)
{
    if (x->overflow)
        return;
    ssize_t n = zs_path_encode(path, len, x->p, (size_t)(x->end - x->p));
    if (n < 0) {
        x->overflow = true;
        return;
    }
    x->p += n;
}

/* Expands the nginx variables a redirect needs: $scheme, $host,
 * $request_uri, $uri and $args. Other text is copied as it is. */
static bool
expand_variable(struct expand *x, const struct zs_conn *c, const char **src)
{
    static const struct {
        const char *name;
        size_t len;
    } vars[] = { { "scheme", 6 }, { "host", 4 }, { "request_uri", 11 }, { "uri", 3 }, { "args", 4 } };
    const struct zs_request *r = &c->req;
    const char *s = *src + 1;

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (strncmp(s, vars[i].name, vars[i].len) != 0)
            continue;
        char next = s[vars[i].len];
        if ((next >= 'a' && next <= 'z') || next == '_')
            continue;
        switch (i) {
        case 0: expand_put(x, "http", 4); break;
        case 1:
            if (r->host.len > 0)
                expand_put_lower(x, r->host.p, r->host.len);
            else if (r->server->srv_name_count > 0)
                expand_put_lower(x, r->server->srv_names[0], strlen(r->server->srv_names[0]));
            break;
        case 2:
            /* The path and query as received, without the scheme and host
             * of an absolute-form target. */
            expand_put(x, r->path_raw.p, r->query.len > 0 ? (size_t)(r->query.p + r->query.len - r->path_raw.p)
                                                         : r->path_raw.len);
            break;
        case 3:
            expand_uri(x, r->path, r->path_len);
            break;
        case 4: expand_put(x, r->query.p, r->query.len); break;
        }
        *src = s + vars[i].len;
        return true;
    }
    return false;
}

void
zs_return_handle(struct zs_conn *c)
{
    const struct zs_location *loc = c->req.location;
    const char *text = loc->loc_return_text != NULL ? loc->loc_return_text : "";
    struct expand x = { zs_w.scratch, zs_w.scratch + zs_w.scratch_size, false };
    int status = loc->loc_return_status;

    while (*text != '\0') {
        if (*text == '$' && expand_variable(&x, c, &text))
            continue;
        expand_put(&x, text, 1);
        text++;
    }
    if (x.overflow) {
        zs_log_warn("location '%s': return text longer than %zu bytes after expansion", loc->loc_title,
                    zs_w.scratch_size);
        zs_resp_error(c, 500);
        return;
    }
    size_t len = (size_t)(x.p - zs_w.scratch);
    bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && (memchr(zs_w.scratch, '\r', len) != NULL || memchr(zs_w.scratch, '\n', len) != NULL)) {
        zs_log_warn("location '%s': redirect URL contains a line break after expansion", loc->loc_title);
        zs_resp_error(c, 500);
        return;
    }
    if (redirect)
        zs_resp_redirect(c, status, zs_w.scratch, len);
    else if (status == 204 || status == 304) {
        /* RFC 9110 15.3.5 and 15.4.5: no content, and no Content-Length for 204. */
        zs_resp_begin(c, status);
        zs_resp_end_headers(c, -1);
    } else if (len == 0 && status >= 400)
        zs_resp_error(c, status);
    else
        zs_resp_text(c, status, "text/plain", zs_w.scratch, len);
}
