/* Routing: the virtual host by Host, then the location in nginx's order. */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "worker/worker.h"

static pcre2_match_data *match_data;

/* Server names: exact, then the longest "*.suffix", then the longest
 * "prefix.*", then the listener's default server, as nginx picks them. */
const struct zs_server *
zs_router_server(const struct zs_listener *lis, const char *host, size_t len)
{
    const struct zs_server *wild_front = NULL, *wild_back = NULL;
    size_t front_len = 0, back_len = 0;

    if (lis->lis_server_count == 1 || len == 0)
        return lis->lis_servers[0];

    for (size_t i = 0; i < lis->lis_server_count; i++) {
        const struct zs_server *srv = lis->lis_servers[i];
        for (size_t j = 0; j < srv->srv_name_count; j++) {
            const char *name = srv->srv_names[j];
            size_t nlen = strlen(name);

            if (nlen == len && strncasecmp(name, host, len) == 0)
                return srv;
            if (nlen > 2 && name[0] == '*' && name[1] == '.' && len > nlen - 1
                && strncasecmp(host + len - (nlen - 1), name + 1, nlen - 1) == 0 && nlen > front_len) {
                wild_front = srv;
                front_len = nlen;
            }
            if (nlen > 2 && name[nlen - 1] == '*' && name[nlen - 2] == '.' && len > nlen - 1
                && strncasecmp(host, name, nlen - 1) == 0 && nlen > back_len) {
                wild_back = srv;
                back_len = nlen;
            }
        }
    }
    if (wild_front != NULL)
        return wild_front;
    if (wild_back != NULL)
        return wild_back;
    return lis->lis_servers[0];
}

/* A pattern that hits a PCRE2 limit fails on every request that reaches
 * it, so the message is written at most once a second. */
static void
regex_error_log(const struct zs_location *loc, int rc)
{
    static time_t last;
    time_t now = time(NULL);
    PCRE2_UCHAR msg[128];

    if (now == last)
        return;
    last = now;
    pcre2_get_error_message(rc, msg, sizeof(msg));
    zs_log_warn("location '%s': regular expression match failed, location skipped: %s", loc->loc_title,
                (const char *)msg);
}

static bool
regex_matches(const struct zs_location *loc, const char *path, size_t len)
{
    if (match_data == NULL) {
        match_data = pcre2_match_data_create(16, NULL);
        if (match_data == NULL)
            return false;
    }
    int rc = pcre2_match(loc->loc_regex, (PCRE2_SPTR)path, len, 0, 0, match_data, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
        regex_error_log(loc, rc);
    return rc >= 0;
}

/* Locations: an exact match wins; otherwise the longest prefix is noted, and
 * unless it is "^~" the regular expressions are tried in configuration order;
 * the first that matches wins, else the longest prefix. Returns NULL when
 * nothing matches. */
const struct zs_location *
zs_router_location(const struct zs_server *srv, const char *path, size_t len)
{
    const struct zs_location *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < srv->srv_location_count; i++) {
        const struct zs_location *loc = &srv->srv_locations[i];
        size_t plen = loc->loc_path_len;

        switch (loc->loc_match) {
        case ZS_LOC_EXACT:
            if (plen == len && memcmp(loc->loc_path, path, len) == 0)
                return loc;
            break;
        case ZS_LOC_PREFIX:
        case ZS_LOC_PREFIX_NOREGEX:
            if (plen <= len && (best == NULL || plen > best_len) && memcmp(loc->loc_path, path, plen) == 0) {
                best = loc;
                best_len = plen;
            }
            break;
        default:
            break;
        }
    }
    if (best != NULL && best->loc_match == ZS_LOC_PREFIX_NOREGEX)
        return best;

    for (size_t i = 0; i < srv->srv_location_count; i++) {
        const struct zs_location *loc = &srv->srv_locations[i];
        if ((loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE)
            && regex_matches(loc, path, len))
            return loc;
    }
    return best;
}
