/* Parses and checks single configuration values (durations, sizes, listen and backend
 * addresses, `return` values, location titles, NAME=value entries and app names) and
 * compiles the regular expressions of locations and fastcgi_split_path_info. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/conf.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

long
zs_conf_parse_duration(const char *s)
{
    static const struct { const char *unit; unsigned long ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 },
        { "d", 24 * 60 * 60 * 1000 }, { "", 1000 },
    };
    unsigned long long value;
    char *end;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    value = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (value > (unsigned long long)LONG_MAX / units[i].ms)
            return -1;
        return (long)(value * units[i].ms);
    }
    return -1;
}

int64_t
zs_conf_parse_size(const char *s)
{
    unsigned long long value;
    int shift = 0;
    char *end;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    value = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (end[0]) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (end[0] != '\0' && end[1] != '\0')
        return -1;
    if (value > ((unsigned long long)INT64_MAX >> shift))
        return -1;
    return (int64_t)(value << shift);
}

static int
parse_port(const char *s, in_port_t *port, char *err, size_t errsize)
{
    size_t n = strspn(s, "0123456789");
    unsigned long value;

    if (s[0] == '\0') {
        snprintf(err, errsize, "missing port (expected ADDRESS:PORT)");
        return -1;
    }
    value = n > 0 && n <= 5 ? strtoul(s, NULL, 10) : 0;
    if (n != strlen(s) || value < 1 || value > 65535) {
        snprintf(err, errsize, "invalid port '%s' (expected 1 to 65535)", s);
        return -1;
    }
    *port = htons((in_port_t)value);
    return 0;
}

static int
listen_unix(const char *path, struct zs_listener *out, char *err, size_t errsize)
{
    struct sockaddr_un *sa_un = (struct sockaddr_un *)&out->lis_sa;
    size_t len = strlen(path);

    if (path[0] != '/') {
        snprintf(err, errsize, "the socket path must be absolute");
        return -1;
    }
    if (len >= sizeof(sa_un->sun_path)) {
        snprintf(err, errsize, "the socket path is longer than %zu bytes", sizeof(sa_un->sun_path) - 1);
        return -1;
    }
    sa_un->sun_family = AF_UNIX;
    memcpy(sa_un->sun_path, path, len + 1);
    out->lis_salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (asprintf(&out->lis_addr, "unix:%s", path) == -1)
        out->lis_addr = NULL;
    return 0;
}

static int
listen_inet6(const char *s, struct zs_listener *out, char *err, size_t errsize)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->lis_sa;
    const char *bracket = strchr(s, ']');
    char host[INET6_ADDRSTRLEN + 1];
    size_t len;

    if (bracket == NULL || bracket[1] != ':') {
        snprintf(err, errsize, bracket == NULL ? "missing ']'" : "missing port (expected [ADDRESS]:PORT)");
        return -1;
    }
    len = (size_t)(bracket - s - 1);
    if (len >= sizeof(host)) {
        snprintf(err, errsize, "invalid IPv6 address");
        return -1;
    }
    memcpy(host, s + 1, len);
    host[len] = '\0';
    sin6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
        snprintf(err, errsize, "invalid IPv6 address '%s'", host);
        return -1;
    }
    if (parse_port(bracket + 2, &sin6->sin6_port, err, errsize) == -1)
        return -1;
    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
    out->lis_salen = sizeof(*sin6);
    if (asprintf(&out->lis_addr, "[%s]:%u", host, ntohs(sin6->sin6_port)) == -1)
        out->lis_addr = NULL;
    return 0;
}

static int
listen_inet4(const char *s, struct zs_listener *out, char *err, size_t errsize)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->lis_sa;
    const char *colon = strrchr(s, ':');
    char host[256];
    const char *port = colon != NULL ? colon + 1 : s;
    size_t len = colon != NULL ? (size_t)(colon - s) : 0;

    if (colon != NULL && strchr(s, ':') != colon) {
        snprintf(err, errsize, "an IPv6 address must be in brackets, as in [::1]:8080");
        return -1;
    }
    if (len >= sizeof(host)) {
        snprintf(err, errsize, "invalid IPv4 address");
        return -1;
    }
    memcpy(host, s, len);
    host[len] = '\0';
    if (colon == NULL && strspn(s, "0123456789") != strlen(s)) {
        /* No colon and not a port: an address or a name without a port. */
        snprintf(host, sizeof(host), "%s", s);
        port = "";
    }
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    sin->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        if (strspn(host, "0123456789.") == strlen(host))
            snprintf(err, errsize, "invalid IPv4 address '%s'", host);
        else
            snprintf(err, errsize, "'%s' is not an IP address (host names are not resolved)", host);
        return -1;
    }
    if (parse_port(port, &sin->sin_port, err, errsize) == -1)
        return -1;
    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
    out->lis_salen = sizeof(*sin);
    if (asprintf(&out->lis_addr, "%s:%u", host, ntohs(sin->sin_port)) == -1)
        out->lis_addr = NULL;
    return 0;
}

int
zs_conf_parse_listen(const char *s, struct zs_listener *out, char *err, size_t errsize)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->lis_fd = -1;
    if (strncmp(s, "unix:", 5) == 0)
        rc = listen_unix(s + 5, out, err, errsize);
    else if (s[0] == '[')
        rc = listen_inet6(s, out, err, errsize);
    else
        rc = listen_inet4(s, out, err, errsize);
    if (rc == 0 && out->lis_addr == NULL) {
        snprintf(err, errsize, "out of memory");
        rc = -1;
    }
    return rc;
}

static bool
status_is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Parses the `return` value "CODE [URL or text]". Sets text to NULL when there is none. */
int
zs_conf_parse_return(const char *s, int *status, const char **text, char *err, size_t errsize)
{
    size_t digits = strspn(s, "0123456789");
    const char *rest = s + digits;

    if (digits != 3 || (*rest != '\0' && !isspace((unsigned char)*rest))) {
        snprintf(err, errsize, "return: invalid value '%s' (expected a status code, then an optional URL or text)", s);
        return -1;
    }
    *status = atoi(s);
    if (*status < 200 || *status > 599) {
        snprintf(err, errsize, "return: status %d is out of range (200 to 599)", *status);
        return -1;
    }
    rest += strspn(rest, " \t\r\n");
    *text = *rest != '\0' ? rest : NULL;
    if (status_is_redirect(*status) && *text != NULL && strpbrk(*text, "\r\n") != NULL) {
        snprintf(err, errsize, "return: the URL of a %d redirect contains a line break", *status);
        return -1;
    }
    if (status_is_redirect(*status) && *text == NULL) {
        snprintf(err, errsize, "return: status %d requires a URL, as in \"%d https://example.org$request_uri\"",
                 *status, *status);
        return -1;
    }
    return 0;
}

/* Splits a location title into its match type and its path or regular expression. */
int
zs_conf_parse_location_title(const char *title, enum zs_loc_match *match, const char **path,
                             char *err, size_t errsize)
{
    static const struct { const char *modifier; enum zs_loc_match match; } modifiers[] = {
        { "^~", ZS_LOC_PREFIX_NOREGEX }, { "~*", ZS_LOC_REGEX_NOCASE },
        { "~", ZS_LOC_REGEX }, { "=", ZS_LOC_EXACT },
    };
    const char *p = title;

    *match = ZS_LOC_PREFIX;
    for (size_t i = 0; i < sizeof(modifiers) / sizeof(modifiers[0]); i++) {
        size_t len = strlen(modifiers[i].modifier);
        if (strncmp(p, modifiers[i].modifier, len) == 0) {
            *match = modifiers[i].match;
            p += len;
            p += strspn(p, " \t");
            break;
        }
    }
    *path = p;
    if (*p == '\0') {
        snprintf(err, errsize, "missing path or regular expression");
        return -1;
    }
    if (*match != ZS_LOC_REGEX && *match != ZS_LOC_REGEX_NOCASE && *p != '/') {
        snprintf(err, errsize, "the path must start with '/'");
        return -1;
    }
    return 0;
}

pcre2_code *
zs_conf_compile_regex(const char *source, bool caseless, char *err, size_t errsize)
{
    PCRE2_UCHAR message[256];
    PCRE2_SIZE offset;
    int code;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED,
                                   caseless ? PCRE2_CASELESS : 0, &code, &offset, NULL);

    if (re == NULL) {
        pcre2_get_error_message(code, message, sizeof(message));
        snprintf(err, errsize, "invalid regular expression at offset %zu: %s", (size_t)offset,
                 (const char *)message);
    }
    return re;
}

int
zs_conf_check_app_name(const char *name, char *err, size_t errsize)
{
    size_t len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    if (name[0] == '\0') {
        snprintf(err, errsize, "missing app name");
        return -1;
    }
    if (name[len] != '\0') {
        snprintf(err, errsize, "invalid app name '%s' (expected letters, digits, '.', '-' and '_')", name);
        return -1;
    }
    return 0;
}

/* "app:NAME" is checked here only for its form: apps may be declared later in the file. */
static int
backend_app(const char *s, struct zs_backend *out, char *err, size_t errsize)
{
    if (zs_conf_check_app_name(s + 4, err, errsize) == -1)
        return -1;
    out->be_addr = strdup(s);
    if (out->be_addr == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

int
zs_conf_parse_backend(const char *s, struct zs_backend *out, char *err, size_t errsize)
{
    struct zs_listener lis;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&lis.lis_sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&lis.lis_sa;

    memset(out, 0, sizeof(*out));
    if (strncmp(s, "app:", 4) == 0)
        return backend_app(s, out, err, errsize);
    if (zs_conf_parse_listen(s, &lis, err, errsize) == -1)
        return -1;
    /* A listen address may be a wildcard, but a backend is one host. */
    if ((lis.lis_sa.ss_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_ANY))
        || (lis.lis_sa.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))) {
        snprintf(err, errsize, "%s is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)",
                 lis.lis_sa.ss_family == AF_INET ? "0.0.0.0" : "[::]");
        free(lis.lis_addr);
        return -1;
    }
    out->be_addr = lis.lis_addr;
    out->be_sa = lis.lis_sa;
    out->be_salen = lis.lis_salen;
    return 0;
}

int
zs_conf_parse_param(const char *s, size_t *name_len, char *err, size_t errsize)
{
    const char *equals = strchr(s, '=');
    size_t len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

    if (equals == NULL) {
        snprintf(err, errsize, "'%s' has no '=' (expected NAME=value)", s);
        return -1;
    }
    if (equals == s) {
        snprintf(err, errsize, "'%s' has no name before '=' (expected NAME=value)", s);
        return -1;
    }
    if (s + len != equals) {
        snprintf(err, errsize, "invalid name '%.*s' in '%s' (expected letters, digits and '_')",
                 (int)(equals - s), s, s);
        return -1;
    }
    *name_len = len;
    return 0;
}

/* Length of the dotted name at s: "a.b_c.d1", each part not starting with a digit; 0 if none. */
static size_t
dotted_name_len(const char *s)
{
    static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
    size_t len = 0;

    for (;;) {
        if (s[len] == '\0' || strchr(first, s[len]) == NULL)
            return 0;
        len += strspn(s + len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
        if (s[len] != '.')
            return len;
        len++;
    }
}

int
zs_conf_parse_wsgi_app(const char *s, char *err, size_t errsize)
{
    size_t module_len = dotted_name_len(s);

    if (module_len == 0 || (s[module_len] != '\0' && s[module_len] != ':')) {
        snprintf(err, errsize, "expected a Python module name, as in \"mysite.wsgi:application\"");
        return -1;
    }
    if (s[module_len] == ':') {
        const char *callable = s + module_len + 1;
        size_t callable_len = dotted_name_len(callable);
        if (callable_len == 0 || callable[callable_len] != '\0') {
            snprintf(err, errsize, "expected a Python name after ':', as in \"mysite.wsgi:application\"");
            return -1;
        }
    }
    return 0;
}

pcre2_code *
zs_conf_compile_split_path_info(const char *source, char *err, size_t errsize)
{
    pcre2_code *re = zs_conf_compile_regex(source, false, err, errsize);
    uint32_t captures = 0;

    if (re == NULL)
        return NULL;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (captures != 2) {
        snprintf(err, errsize,
                 "the regular expression has %u capture group%s, expected 2 (SCRIPT_NAME and PATH_INFO)",
                 (unsigned)captures, captures == 1 ? "" : "s");
        pcre2_code_free(re);
        return NULL;
    }
    return re;
}
