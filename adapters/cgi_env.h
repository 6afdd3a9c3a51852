/* CGI/1.1 meta-variables (RFC 3875, section 4.1) for one request, built in
 * one place for every adapter: FastCGI sends them as parameters, SCGI as a
 * netstring, CGI as the script's environment. */
#ifndef ZS_CGI_ENV_H
#define ZS_CGI_ENV_H

#include <stddef.h>

#include "adapters/adapter.h"

struct zs_cgi_var {
    const char *name;            /* NUL-terminated */
    size_t name_len;
    const char *value;           /* NUL-terminated; may contain no NUL itself */
    size_t value_len;
};

/* The variables of one request. All strings live in one allocation, each
 * variable as "NAME\0VALUE\0": writing '=' over the NUL after a name makes
 * the "NAME=VALUE" string of an environment entry. */
struct zs_cgi_env {
    struct zs_cgi_var *vars;
    size_t count;
    char *strings;
    size_t strings_len;
    size_t strings_cap;
    size_t vars_cap;
};

/* The split of the request path into SCRIPT_NAME and PATH_INFO.
 * Both point into the request's decoded path or into static storage. */
struct zs_cgi_script {
    const char *script_name;
    size_t script_name_len;
    const char *path_info;
    size_t path_info_len;
};

/* Outcome of zs_cgi_split_*: 0 or the HTTP status of the response (404, 403, 500). */

/* CGI (`cgi = on`): the script is the first path segment below the
 * location's prefix that names an existing regular file under root, opened
 * beneath root only (no escape through symlinks or "..", as for static files).
 * Directories are walked through; anything else after them is PATH_INFO. */
int zs_cgi_split_cgi(const struct zs_app_request *req, struct zs_cgi_script *out);

/* FastCGI and SCGI: with the location's `fastcgi_split_path_info` regular
 * expression, capture 1 is SCRIPT_NAME and capture 2 is PATH_INFO, and the
 * script must be an existing regular file below root (404 otherwise), so that
 * "/upload/evil.jpg/x.php" never runs evil.jpg. A regular-expression location
 * without it takes the whole path as SCRIPT_NAME, with the same file check.
 * A prefix or exact location is an application mount point: SCRIPT_NAME is
 * the prefix without its trailing slash, PATH_INFO the rest, and no file is
 * checked. */
int zs_cgi_split_app(const struct zs_app_request *req, struct zs_cgi_script *out);

/* Builds every variable: the RFC 3875 set (CONTENT_LENGTH only with a body),
 * REQUEST_URI, SERVER_ADDR, REMOTE_PORT (not for a peer on a unix socket),
 * REDIRECT_STATUS=200, HTTPS=on over TLS, and when the location has a root
 * DOCUMENT_ROOT, SCRIPT_FILENAME (root + SCRIPT_NAME) and PATH_TRANSLATED
 * (root + PATH_INFO, only with a PATH_INFO). HTTP_* comes from each request
 * header, except Content-Type, Content-Length, Proxy and any header whose
 * name contains '_' (which would alias a '-' name). Repeated headers are
 * joined with ", " (Cookie with "; "). The location's extra parameters come
 * last and replace a built-in variable of the same name.
 * env is zeroed or contains an earlier request's variables, whose storage is
 * reused. Returns 0, or -1 when out of memory; call zs_cgi_env_free() after
 * either. */
int zs_cgi_env_build(struct zs_cgi_env *env, const struct zs_app_request *req,
                     const struct zs_cgi_script *script);

/* Looks a variable up by name; NULL when absent. */
const struct zs_cgi_var *zs_cgi_env_get(const struct zs_cgi_env *env, const char *name);

void zs_cgi_env_free(struct zs_cgi_env *env);

#endif
