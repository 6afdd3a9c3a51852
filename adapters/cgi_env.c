/* CGI/1.1 meta-variables (RFC 3875) and the SCRIPT_NAME/PATH_INFO split. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "adapters/cgi_env.h"
#include "lib/log.h"
#include "lib/path.h"

#define SERVER_SOFTWARE "zserver/" PACKAGE_VERSION

/* Built-in variables that zs_cgi_env_build() can add, at most. */
#define BUILTIN_VARS_MAX 20
/* Bytes of the built-in variables that do not come from the request, with
 * room to spare: the names sum to 248 bytes, the NULs to 40, and the fixed
 * values, numbers and joining slashes to about 90. */
#define BUILTIN_BYTES_MAX 512
/* Digits of UINT64_MAX. */
#define UINT64_DIGITS 20
/* Bytes of a request path quoted in a log line, escaped and cut to fit. */
#define LOGGED_PATH_MAX 256

/* ---- Split of SCRIPT_NAME and PATH_INFO ---- */

/* Opens rel below the location's root, as worker/static.c opens files:
 * RESOLVE_BENEATH rejects every spelling of a path that leaves root, and
 * without follow_symlinks no symlink is followed at all. O_PATH needs no read
 * permission on the file, so an execute-only script is found too. */
static int
open_beneath_root(const struct zs_location *loc, const char *rel)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (loc->loc_follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
    };
    int fd;

    do {
        fd = (int)syscall(SYS_openat2, loc->loc_root_fd, rel, &how, sizeof(how));
    } while (fd == -1 && errno == EAGAIN);
    return fd;
}

/* Copies a path that came from the network into buf[LOGGED_PATH_MAX] as
 * printable ASCII, because a decoded path may contain control bytes. */
static const char *
logged_path(char *buf, const char *path)
{
    zs_log_escape(buf, LOGGED_PATH_MAX, path, strlen(path));
    return buf;
}

/* Maps the errno of a failed open to a status, with the same mapping as
 * static files: a symlink that is rejected or leaves root counts as missing. */
static int
open_error_status(const struct zs_location *loc, const char *rel)
{
    char logged[LOGGED_PATH_MAX];

    switch (errno) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EXDEV:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
        zs_log_info("open \"%s\" below %s failed: %s", logged_path(logged, rel), loc->loc_root, strerror(errno));
        return 403;
    default:
        zs_log_syserr("open \"%s\" below %s failed", logged_path(logged, rel), loc->loc_root);
        return 500;
    }
}

/* Stats rel below the location's root. rel is NUL-terminated and has no
 * leading '/', and "" is root itself. Returns 0 with *st filled, or a status. */
static int
stat_beneath_root(const struct zs_location *loc, const char *rel, struct stat *st)
{
    if (rel[0] == '\0')
        rel = ".";

    int fd = open_beneath_root(loc, rel);
    if (fd == -1)
        return open_error_status(loc, rel);

    int status = 0;
    if (fstat(fd, st) == -1) {
        char logged[LOGGED_PATH_MAX];
        zs_log_syserr("fstat \"%s\" below %s failed", logged_path(logged, rel), loc->loc_root);
        status = 500;
    }
    close(fd);
    return status;
}

static bool
location_has_root_fd(const struct zs_location *loc)
{
    if (loc->loc_root_fd != -1)
        return true;
    zs_log_error("location %s: cannot look up the script without an open root directory (set root)",
                 loc->loc_title);
    return false;
}

/* Checks that the script path/len (a URL path) names a regular file below
 * root, with no dot-file segment unless the location allows them. Returns 0
 * or a status. */
static int
check_script_file(const struct zs_location *loc, const char *path, size_t len)
{
    char rel[PATH_MAX];
    struct stat st;

    if (len == 0)
        return 404;
    if (!loc->loc_allow_dotfiles && zs_path_has_dot_segment(path, len))
        return 404;
    if (!location_has_root_fd(loc))
        return 500;

    if (path[0] == '/') {
        path++;
        len--;
    }
    if (len >= sizeof(rel))
        return 404;
    memcpy(rel, path, len);
    rel[len] = '\0';

    int status = stat_beneath_root(loc, rel, &st);
    if (status != 0)
        return status;
    return S_ISREG(st.st_mode) ? 0 : 403;
}

/* Length of the location's prefix, which the script lookup skips: the path
 * of a prefix location, "/" for exact and regular-expression locations.
 * Returns 0 when path does not start with the prefix (a caller error). */
static size_t
location_prefix_len(const struct zs_location *loc, const char *path, size_t len)
{
    if (loc->loc_match != ZS_LOC_PREFIX && loc->loc_match != ZS_LOC_PREFIX_NOREGEX)
        return 1;
    if (loc->loc_path_len > len || memcmp(loc->loc_path, path, loc->loc_path_len) != 0)
        return 0;
    return loc->loc_path_len > 0 ? loc->loc_path_len : 1;
}

static void
script_set(struct zs_cgi_script *out, const char *path, size_t script_len, size_t path_len)
{
    out->script_name = path;
    out->script_name_len = script_len;
    out->path_info = path + script_len;
    out->path_info_len = path_len - script_len;
}

/* Walks the request path segment by segment, skipping the segments that end
 * within its first skip bytes (the location's prefix). rel is a copy of the
 * path without its leading '/', so that each candidate can be cut with a NUL
 * in place. */
static int
walk_to_script(const struct zs_app_request *req, char *rel, size_t rel_len, size_t skip,
               struct zs_cgi_script *out)
{
    const struct zs_location *loc = req->location;
    bool walked = false;
    struct stat st;

    for (size_t end = 0; end <= rel_len; end++) {
        if (end < rel_len && rel[end] != '/')
            continue;
        /* An empty segment: the end of a path with a trailing slash. */
        if (end == 0 || rel[end - 1] == '/')
            continue;
        if (end + 1 < skip)
            continue;

        walked = true;
        if (!loc->loc_allow_dotfiles && zs_path_has_dot_segment(req->path, end + 1))
            return 404;
        rel[end] = '\0';
        int status = stat_beneath_root(loc, rel, &st);
        if (end < rel_len)
            rel[end] = '/';
        if (status != 0)
            return status;
        if (S_ISREG(st.st_mode)) {
            script_set(out, req->path, end + 1, req->path_len);
            return 0;
        }
        if (!S_ISDIR(st.st_mode))
            return 403;
    }
    if (walked)
        return 403;

    /* The path is the prefix itself: a directory, or nothing. */
    if (!loc->loc_allow_dotfiles && zs_path_has_dot_segment(req->path, req->path_len))
        return 404;
    int status = stat_beneath_root(loc, rel, &st);
    return status != 0 ? status : 403;
}

int
zs_cgi_split_cgi(const struct zs_app_request *req, struct zs_cgi_script *out)
{
    const struct zs_location *loc = req->location;
    char rel[PATH_MAX];

    *out = (struct zs_cgi_script){ .script_name = "", .path_info = "" };
    size_t skip = location_prefix_len(loc, req->path, req->path_len);
    if (skip == 0 || req->path_len == 0 || req->path[0] != '/') {
        char logged[LOGGED_PATH_MAX];
        zs_log_error("location %s: path \"%s\" is not below its prefix", loc->loc_title,
                     logged_path(logged, req->path));
        return 500;
    }
    if (!location_has_root_fd(loc))
        return 500;
    if (req->path_len - 1 >= sizeof(rel))
        return 404;

    memcpy(rel, req->path + 1, req->path_len - 1);
    rel[req->path_len - 1] = '\0';
    return walk_to_script(req, rel, req->path_len - 1, skip, out);
}

/* fastcgi_split_path_info: capture 1 is the script, capture 2 PATH_INFO.
 * A path that does not match is all script, as in nginx, so that a path
 * such as "/upload/evil.jpg/x.php" still gets the file check. */
static int
split_by_regex(const struct zs_app_request *req, struct zs_cgi_script *out)
{
    const struct zs_location *loc = req->location;
    pcre2_match_data *md = pcre2_match_data_create(3, NULL);

    if (md == NULL) {
        zs_log_error("location %s: fastcgi_split_path_info: out of memory", loc->loc_title);
        return 500;
    }
    int rc = pcre2_match(loc->loc_split_path_info, (PCRE2_SPTR)req->path, req->path_len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        pcre2_match_data_free(md);
        script_set(out, req->path, req->path_len, req->path_len);
        return check_script_file(loc, out->script_name, out->script_name_len);
    }
    if (rc < 0) {
        PCRE2_UCHAR message[128];
        pcre2_get_error_message(rc, message, sizeof(message));
        char logged[LOGGED_PATH_MAX];
        zs_log_error("location %s: fastcgi_split_path_info on \"%s\" failed: %s", loc->loc_title,
                     logged_path(logged, req->path), (const char *)message);
        pcre2_match_data_free(md);
        return 500;
    }

    /* rc is 0 when the expression has more than two captures: the first
     * ones are still filled in. An unset capture is empty. */
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    if (pairs > 1 && ov[2] != PCRE2_UNSET) {
        out->script_name = req->path + ov[2];
        out->script_name_len = ov[3] - ov[2];
    }
    if (pairs > 2 && ov[4] != PCRE2_UNSET) {
        out->path_info = req->path + ov[4];
        out->path_info_len = ov[5] - ov[4];
    }
    pcre2_match_data_free(md);
    return check_script_file(loc, out->script_name, out->script_name_len);
}

/* An application mounted at a prefix or exact path: SCRIPT_NAME is the mount
 * point without its trailing slash, so "/" gives an empty SCRIPT_NAME. */
static int
split_at_mount_point(const struct zs_app_request *req, struct zs_cgi_script *out)
{
    const struct zs_location *loc = req->location;
    size_t mount_len = loc->loc_path_len;

    if (mount_len > req->path_len || memcmp(loc->loc_path, req->path, mount_len) != 0) {
        char logged[LOGGED_PATH_MAX];
        zs_log_error("location %s: path \"%s\" is not below its prefix", loc->loc_title,
                     logged_path(logged, req->path));
        return 500;
    }
    if (mount_len > 0 && loc->loc_path[mount_len - 1] == '/')
        mount_len--;
    /* A prefix without a trailing slash also matches a longer name: "/app"
     * matches "/application". That is not below the mount point, and a
     * PATH_INFO of "lication" would let "/appadmin" reach the application's
     * "/admin" past a location that guards "/app/admin". */
    else if (req->path_len > mount_len && req->path[mount_len] != '/')
        return 404;
    script_set(out, req->path, mount_len, req->path_len);
    return 0;
}

int
zs_cgi_split_app(const struct zs_app_request *req, struct zs_cgi_script *out)
{
    const struct zs_location *loc = req->location;

    *out = (struct zs_cgi_script){ .script_name = "", .path_info = "" };
    if (loc->loc_split_path_info != NULL)
        return split_by_regex(req, out);
    if (loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE) {
        script_set(out, req->path, req->path_len, req->path_len);
        return check_script_file(loc, out->script_name, out->script_name_len);
    }
    return split_at_mount_point(req, out);
}

/* ---- Variable storage ---- */

/* Makes room for need more bytes in env->strings. The strings move to a new
 * block when they grow, so every stored pointer is moved by the same offset
 * while the old block is still allocated. */
static int
strings_reserve(struct zs_cgi_env *env, size_t need)
{
    if (need <= env->strings_cap - env->strings_len)
        return 0;

    size_t cap = env->strings_cap > 0 ? env->strings_cap : 1024;
    while (cap - env->strings_len < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *strings = malloc(cap);
    if (strings == NULL)
        return -1;
    if (env->strings_len > 0)
        memcpy(strings, env->strings, env->strings_len);
    for (size_t i = 0; i < env->count; i++) {
        struct zs_cgi_var *var = &env->vars[i];
        var->name = strings + (var->name - env->strings);
        var->value = strings + (var->value - env->strings);
    }
    free(env->strings);
    env->strings = strings;
    env->strings_cap = cap;
    return 0;
}

static int
vars_reserve(struct zs_cgi_env *env, size_t need)
{
    if (need <= env->vars_cap - env->count)
        return 0;
    if (need > SIZE_MAX / sizeof(*env->vars) / 2 - env->count)
        return -1;

    size_t cap = env->count + need;
    if (cap < 2 * env->vars_cap)
        cap = 2 * env->vars_cap;
    struct zs_cgi_var *vars = realloc(env->vars, cap * sizeof(*vars));
    if (vars == NULL)
        return -1;
    env->vars = vars;
    env->vars_cap = cap;
    return 0;
}

/* Copies len bytes to the end of the strings, for which room was reserved. */
static char *
strings_put(struct zs_cgi_env *env, const void *data, size_t len)
{
    char *p = env->strings + env->strings_len;

    if (len > 0)
        memcpy(p, data, len);
    env->strings_len += len;
    return p;
}

static struct zs_cgi_var *
var_find(const struct zs_cgi_env *env, const char *name, size_t name_len)
{
    for (size_t i = 0; i < env->count; i++) {
        struct zs_cgi_var *var = &env->vars[i];
        if (var->name_len == name_len && memcmp(var->name, name, name_len) == 0)
            return var;
    }
    return NULL;
}

/* A piece of a variable's value. */
struct value_part {
    const char *data;
    size_t len;
};

/* Stores "NAME\0VALUE\0", VALUE being the parts one after the other. With
 * replace set, a variable of the same name gets the new copy. Without it,
 * the caller guarantees that the name is new. */
static int
env_put_parts(struct zs_cgi_env *env, const char *name, size_t name_len, const struct value_part *parts,
              size_t part_count, bool replace)
{
    size_t value_len = 0;

    for (size_t i = 0; i < part_count; i++) {
        if (parts[i].len > SIZE_MAX / 4 - value_len)
            return -1;
        value_len += parts[i].len;
    }
    if (name_len > SIZE_MAX / 4)
        return -1;
    if (strings_reserve(env, name_len + value_len + 2) == -1 || vars_reserve(env, 1) == -1)
        return -1;

    struct zs_cgi_var *var = replace ? var_find(env, name, name_len) : NULL;
    if (var == NULL)
        var = &env->vars[env->count++];
    var->name = strings_put(env, name, name_len);
    var->name_len = name_len;
    strings_put(env, "", 1);
    var->value = env->strings + env->strings_len;
    for (size_t i = 0; i < part_count; i++)
        strings_put(env, parts[i].data, parts[i].len);
    var->value_len = value_len;
    strings_put(env, "", 1);
    return 0;
}

static int
env_put(struct zs_cgi_env *env, const char *name, size_t name_len, const char *value, size_t value_len,
        bool replace)
{
    const struct value_part part = { value, value_len };

    return env_put_parts(env, name, name_len, &part, 1, replace);
}

/* A built-in variable: a literal name, which no other built-in variable has. */
#define ENV_PUT(env, name, value, len) env_put(env, name, sizeof(name) - 1, value, len, false)
#define ENV_PUT_LITERAL(env, name, value) ENV_PUT(env, name, value, sizeof(value) - 1)

/* Writes v in decimal at the end of buf[UINT64_DIGITS]. Returns its first
 * digit, and the number of digits in *len. */
static const char *
format_decimal(char *buf, uint64_t v, size_t *len)
{
    char *p = buf + UINT64_DIGITS;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    *len = (size_t)(buf + UINT64_DIGITS - p);
    return p;
}

static int
env_put_number(struct zs_cgi_env *env, const char *name, size_t name_len, uint64_t v)
{
    char buf[UINT64_DIGITS];
    size_t len;
    const char *digits = format_decimal(buf, v, &len);

    return env_put(env, name, name_len, digits, len, false);
}

#define ENV_PUT_NUMBER(env, name, v) env_put_number(env, name, sizeof(name) - 1, v)

static size_t
length_or_zero(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static const char *
string_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* root + path with one '/' between them: a root with a trailing slash (or
 * "/" itself) loses it, and a path without a leading one gains one. */
static int
env_put_file_path(struct zs_cgi_env *env, const char *name, size_t name_len, const char *root,
                  const char *path, size_t path_len)
{
    size_t root_len = strlen(root);

    while (root_len > 0 && root[root_len - 1] == '/')
        root_len--;

    bool needs_slash = path_len == 0 || path[0] != '/';
    const struct value_part parts[] = {
        { root, root_len },
        { "/", needs_slash ? 1 : 0 },
        { path, path_len },
    };
    return env_put_parts(env, name, name_len, parts, 3, false);
}

#define ENV_PUT_FILE_PATH(env, name, root, path, len) \
    env_put_file_path(env, name, sizeof(name) - 1, root, path, len)

/* ---- HTTP_* variables ---- */

static bool
name_equal_nocase(const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len != b_len)
        return false;
    for (size_t i = 0; i < a_len; i++) {
        unsigned char ca = (unsigned char)a[i];
        unsigned char cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z')
            ca |= 0x20;
        if (cb >= 'A' && cb <= 'Z')
            cb |= 0x20;
        if (ca != cb)
            return false;
    }
    return true;
}

#define NAME_IS(h, lit) name_equal_nocase((h)->name, (h)->name_len, lit, sizeof(lit) - 1)

/* Headers that get no HTTP_* variable. Content-Type and Content-Length are
 * CONTENT_TYPE and CONTENT_LENGTH. HTTP_PROXY would be taken for the proxy
 * setting of HTTP client libraries (the "httpoxy" attack of 2016).
 * A name with '_' would map onto the variable of the same name with '-',
 * so a client could hide a header value behind another one (nginx drops
 * such headers by default, underscores_in_headers off). Transfer-Encoding
 * describes a body the worker has already decoded: the application gets the
 * exact CONTENT_LENGTH instead. */
static bool
header_is_dropped(const struct zs_app_header *h)
{
    /* Only letters, digits and '-': PHP also turns '.' (and more) into '_'. */
    for (size_t i = 0; i < h->name_len; i++) {
        char ch = h->name[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
        if (!plain)
            return true;
    }
    return NAME_IS(h, "Content-Type") || NAME_IS(h, "Content-Length") || NAME_IS(h, "Proxy")
           || NAME_IS(h, "Transfer-Encoding");
}

static bool
header_seen_before(const struct zs_app_request *req, size_t index)
{
    const struct zs_app_header *h = &req->headers[index];

    for (size_t i = 0; i < index; i++) {
        const struct zs_app_header *earlier = &req->headers[i];
        if (name_equal_nocase(earlier->name, earlier->name_len, h->name, h->name_len))
            return true;
    }
    return false;
}

/* Stores HTTP_NAME for the header at first, its value joined with those of
 * every later header of the same name in arrival order (RFC 9110 5.3).
 * Cookie is joined with "; " instead, as RFC 6265 5.4 writes one Cookie. */
static int
env_put_header(struct zs_cgi_env *env, const struct zs_app_request *req, size_t first)
{
    const struct zs_app_header *h = &req->headers[first];
    const char *separator = NAME_IS(h, "Cookie") ? "; " : ", ";
    size_t value_len = h->value_len;

    for (size_t i = first + 1; i < req->header_count; i++) {
        const struct zs_app_header *other = &req->headers[i];
        if (name_equal_nocase(other->name, other->name_len, h->name, h->name_len))
            value_len += 2 + other->value_len;
    }
    size_t name_len = 5 + h->name_len;
    if (strings_reserve(env, name_len + value_len + 2) == -1 || vars_reserve(env, 1) == -1)
        return -1;

    struct zs_cgi_var *var = &env->vars[env->count++];
    char *name = strings_put(env, "HTTP_", 5);
    for (size_t i = 0; i < h->name_len; i++) {
        char c = h->name[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c == '-')
            c = '_';
        env->strings[env->strings_len++] = c;
    }
    strings_put(env, "", 1);
    var->name = name;
    var->name_len = name_len;

    var->value = strings_put(env, h->value, h->value_len);
    for (size_t i = first + 1; i < req->header_count; i++) {
        const struct zs_app_header *other = &req->headers[i];
        if (!name_equal_nocase(other->name, other->name_len, h->name, h->name_len))
            continue;
        strings_put(env, separator, 2);
        strings_put(env, other->value, other->value_len);
    }
    var->value_len = value_len;
    strings_put(env, "", 1);
    return 0;
}

static int
env_put_headers(struct zs_cgi_env *env, const struct zs_app_request *req)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (header_is_dropped(&req->headers[i]) || header_seen_before(req, i))
            continue;
        if (env_put_header(env, req, i) == -1)
            return -1;
    }
    return 0;
}

/* ---- Building ---- */

/* Bytes that the request and location add to the strings, for the first
 * allocation. Variables are still checked one by one, so an estimate that is
 * too low costs a copy, not an overflow. */
static size_t
estimate_strings(const struct zs_app_request *req, const struct zs_cgi_script *script)
{
    const struct zs_location *loc = req->location;
    size_t root_len = length_or_zero(loc->loc_root);
    size_t bytes = BUILTIN_BYTES_MAX;

    bytes += req->host_len + length_or_zero(req->server_addr) + length_or_zero(req->remote_addr);
    bytes += length_or_zero(req->protocol) + length_or_zero(req->method);
    bytes += req->target_len + req->query_len + req->content_type_len;
    /* SCRIPT_NAME and PATH_INFO appear alone and joined to root, and root
     * also alone as DOCUMENT_ROOT. */
    bytes += 2 * (script->script_name_len + script->path_info_len + root_len) + root_len;
    for (size_t i = 0; i < req->header_count; i++)
        bytes += 8 + req->headers[i].name_len + req->headers[i].value_len;
    for (size_t i = 0; i < loc->loc_param_count; i++)
        bytes += 2 + strlen(loc->loc_params[i].name) + strlen(loc->loc_params[i].value);
    return bytes;
}

/* The variables of RFC 3875 4.1 that describe the server and the request line. */
static int
env_put_request(struct zs_cgi_env *env, const struct zs_app_request *req)
{
    const char *protocol = string_or_empty(req->protocol);
    const char *method = string_or_empty(req->method);
    const char *server_addr = string_or_empty(req->server_addr);

    if (ENV_PUT_LITERAL(env, "GATEWAY_INTERFACE", "CGI/1.1") == -1
        || ENV_PUT_LITERAL(env, "SERVER_SOFTWARE", SERVER_SOFTWARE) == -1
        || ENV_PUT(env, "SERVER_NAME", string_or_empty(req->host), req->host_len) == -1
        || ENV_PUT_NUMBER(env, "SERVER_PORT", req->server_port) == -1
        || ENV_PUT(env, "SERVER_ADDR", server_addr, strlen(server_addr)) == -1
        || ENV_PUT(env, "SERVER_PROTOCOL", protocol, strlen(protocol)) == -1
        || ENV_PUT(env, "REQUEST_METHOD", method, strlen(method)) == -1
        || ENV_PUT(env, "REQUEST_URI", string_or_empty(req->target), req->target_len) == -1
        || ENV_PUT(env, "QUERY_STRING", string_or_empty(req->query), req->query_len) == -1)
        return -1;
    return 0;
}

/* SCRIPT_NAME, PATH_INFO and, with a root, the file paths they map to. */
static int
env_put_script(struct zs_cgi_env *env, const struct zs_app_request *req, const struct zs_cgi_script *script)
{
    const char *root = req->location->loc_root;

    if (ENV_PUT(env, "SCRIPT_NAME", script->script_name, script->script_name_len) == -1
        || ENV_PUT(env, "PATH_INFO", script->path_info, script->path_info_len) == -1)
        return -1;
    if (root == NULL)
        return 0;
    if (script->path_info_len > 0
        && ENV_PUT_FILE_PATH(env, "PATH_TRANSLATED", root, script->path_info, script->path_info_len) == -1)
        return -1;
    if (ENV_PUT_FILE_PATH(env, "SCRIPT_FILENAME", root, script->script_name, script->script_name_len) == -1
        || ENV_PUT(env, "DOCUMENT_ROOT", root, strlen(root)) == -1)
        return -1;
    return 0;
}

/* The client, the body and the connection. */
static int
env_put_client(struct zs_cgi_env *env, const struct zs_app_request *req)
{
    const char *remote_addr = string_or_empty(req->remote_addr);

    if (ENV_PUT(env, "REMOTE_ADDR", remote_addr, strlen(remote_addr)) == -1)
        return -1;
    /* A unix socket peer has no port. */
    if (req->remote_port != 0 && ENV_PUT_NUMBER(env, "REMOTE_PORT", req->remote_port) == -1)
        return -1;
    if (req->content_length > 0 && ENV_PUT_NUMBER(env, "CONTENT_LENGTH", (uint64_t)req->content_length) == -1)
        return -1;
    if (req->content_type != NULL
        && ENV_PUT(env, "CONTENT_TYPE", req->content_type, req->content_type_len) == -1)
        return -1;
    /* php-cgi runs no script without it while cgi.force_redirect is on, which
     * is the default (PHP manual, "Installed as CGI binary"), so that it
     * cannot be called directly as /cgi-bin/php-cgi. */
    if (ENV_PUT_LITERAL(env, "REDIRECT_STATUS", "200") == -1)
        return -1;
    if (req->https && ENV_PUT_LITERAL(env, "HTTPS", "on") == -1)
        return -1;
    return 0;
}

static int
env_put_params(struct zs_cgi_env *env, const struct zs_location *loc)
{
    for (size_t i = 0; i < loc->loc_param_count; i++) {
        const struct zs_param *param = &loc->loc_params[i];
        if (env_put(env, param->name, strlen(param->name), param->value, strlen(param->value), true) == -1)
            return -1;
    }
    return 0;
}

int
zs_cgi_env_build(struct zs_cgi_env *env, const struct zs_app_request *req, const struct zs_cgi_script *script)
{
    const struct zs_location *loc = req->location;

    env->count = 0;
    env->strings_len = 0;
    if (strings_reserve(env, estimate_strings(req, script)) == -1
        || vars_reserve(env, BUILTIN_VARS_MAX + req->header_count + loc->loc_param_count) == -1)
        return -1;

    if (env_put_request(env, req) == -1 || env_put_script(env, req, script) == -1
        || env_put_client(env, req) == -1 || env_put_headers(env, req) == -1
        || env_put_params(env, loc) == -1)
        return -1;
    return 0;
}

const struct zs_cgi_var *
zs_cgi_env_get(const struct zs_cgi_env *env, const char *name)
{
    return var_find(env, name, strlen(name));
}

void
zs_cgi_env_free(struct zs_cgi_env *env)
{
    free(env->vars);
    free(env->strings);
    *env = (struct zs_cgi_env){ 0 };
}
