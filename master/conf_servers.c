/* Builds the servers of struct zs_config and their locations, which inherit their server's settings. */
#include "config.h"

#include <confuse.h>
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "master/conf_internal.h"
#include "master/conf_load.h"

cfg_t *
zs_conf_inherit_from(cfg_t *loc_sec, cfg_t *srv_sec, const char *name)
{
    if (loc_sec != NULL && (cfg_getopt(loc_sec, name)->flags & CFGF_MODIFIED))
        return loc_sec;
    return srv_sec;
}

/* Checks a server_name: letters, digits, '-', '.' and '_', with '*' only as
 * a whole first or last label. An unquoted "*.example.org" reaches here as
 * ".example.org", because libconfuse drops the '*'. */
static void
server_name_check(cfg_t *srv_sec, const char *name)
{
    size_t len = strlen(name);
    const char *body = name;
    size_t body_len = len;

    if (len > 2 && name[0] == '*' && name[1] == '.') {
        body += 2;
        body_len -= 2;
    } else if (len > 2 && name[len - 1] == '*' && name[len - 2] == '.') {
        body_len -= 2;
    }
    bool ok = body_len > 0 && body[0] != '.' && body[body_len - 1] != '.';
    for (size_t i = 0; ok && i < body_len; i++)
        ok = isalnum((unsigned char)body[i]) || body[i] == '-' || body[i] == '.' || body[i] == '_';
    if (ok)
        return;
    if (name[0] == '.')
        zs_conf_opt_error(srv_sec, "server_name", "server_name '%s': invalid name; write a wildcard in quotes, "
                          "as \"*%s\"", name, name);
    else
        zs_conf_opt_error(srv_sec, "server_name", "server_name '%s': invalid name (expected a host name, "
                          "\"*.suffix\" or \"prefix.*\")", name);
}
static void
build_location_match(struct zs_location *loc)
{
    const char *path;
    char err[512];

    if (zs_conf_parse_location_title(loc->loc_title, &loc->loc_match, &path, err, sizeof(err)) == -1) {
        zs_conf_error_add(loc->loc_file, loc->loc_line, "location '%s': %s", loc->loc_title, err);
        return;
    }
    loc->loc_path = zs_conf_strdup(path);
    if (loc->loc_path == NULL)
        return;
    loc->loc_path_len = strlen(path);
    if (loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE) {
        loc->loc_regex = zs_conf_compile_regex(path, loc->loc_match == ZS_LOC_REGEX_NOCASE, err, sizeof(err));
        if (loc->loc_regex == NULL)
            zs_conf_error_add(loc->loc_file, loc->loc_line, "location '%s': %s", loc->loc_title, err);
    }
}

static int
build_location_return(struct zs_location *loc, cfg_t *loc_sec)
{
    const char *value = loc_sec != NULL ? cfg_getstr(loc_sec, "return") : NULL;
    const char *text;
    char err[512];

    /* A bad value was reported while parsing. */
    if (value == NULL || zs_conf_parse_return(value, &loc->loc_return_status, &text, err, sizeof(err)) == -1)
        return 0;
    if (text != NULL && (loc->loc_return_text = zs_conf_strdup(text)) == NULL)
        return -1;
    return 0;
}

/* Fills a location from its section, or the implicit "/" location when loc_sec is NULL
 * (see build_locations()). */
static int
build_location(struct zs_location *loc, cfg_t *loc_sec, const struct zs_server *srv, cfg_t *srv_sec)
{
    cfg_t *root_sec = zs_conf_inherit_from(loc_sec, srv_sec, "root");
    const char *root = cfg_getstr(root_sec, "root");

    loc->loc_title = zs_conf_strdup(loc_sec != NULL ? cfg_title(loc_sec) : "/");
    if (loc->loc_title == NULL)
        return -1;
    if (loc_sec != NULL) {
        zs_conf_section_where(loc_sec, &loc->loc_file, &loc->loc_line);
    } else {
        loc->loc_file = srv->srv_file;
        loc->loc_line = srv->srv_line;
    }
    build_location_match(loc);
    if (build_location_return(loc, loc_sec) == -1)
        return -1;
    if (root != NULL && (loc->loc_root = zs_conf_path(root)) == NULL)
        return -1;
    /* Without a root, the implicit "/" of a server that has other locations returns 404. */
    if (root == NULL && loc_sec == NULL && srv->srv_location_count > 1)
        loc->loc_return_status = 404;
    if (zs_conf_copy_list(zs_conf_inherit_from(loc_sec, srv_sec, "index"), "index", &loc->loc_index,
                          &loc->loc_index_count) == -1)
        return -1;
    loc->loc_autoindex = cfg_getbool(zs_conf_inherit_from(loc_sec, srv_sec, "autoindex"), "autoindex");
    loc->loc_gzip_static = cfg_getbool(zs_conf_inherit_from(loc_sec, srv_sec, "gzip_static"), "gzip_static");
    loc->loc_follow_symlinks =
        cfg_getbool(zs_conf_inherit_from(loc_sec, srv_sec, "follow_symlinks"), "follow_symlinks");
    loc->loc_allow_dotfiles = cfg_getbool(zs_conf_inherit_from(loc_sec, srv_sec, "allow_dotfiles"), "allow_dotfiles");
    loc->loc_client_max_body_size =
        cfg_getint(zs_conf_inherit_from(loc_sec, srv_sec, "client_max_body_size"), "client_max_body_size");
    if (zs_conf_build_handler(loc, loc_sec, srv_sec) == -1)
        return -1;
    /* A WSGI application serves no files, so it needs no root. */
    if (root == NULL && loc->loc_return_status == 0 && loc->loc_handler != ZS_HANDLER_WSGI) {
        if (loc_sec != NULL)
            zs_conf_error_add(loc->loc_file, loc->loc_line,
                              "location '%s' in server '%s': root is not set (set it in the location or in the server)",
                              loc->loc_title, srv->srv_title);
        else
            zs_conf_error_add(loc->loc_file, loc->loc_line, "server '%s': root is not set", srv->srv_title);
    }
    return 0;
}

/* Tells whether a location title is the prefix "/" (plain or "^~"). */
static bool
title_is_root_prefix(const char *title)
{
    enum zs_loc_match match;
    const char *path;
    char err[128];

    return zs_conf_parse_location_title(title, &match, &path, err, sizeof(err)) == 0
           && (match == ZS_LOC_PREFIX || match == ZS_LOC_PREFIX_NOREGEX) && strcmp(path, "/") == 0;
}

/* Builds the server's locations in file order. Like nginx, which serves a
 * request that matches no location with the server's settings, a server
 * without a "/" prefix location gets one at the end, built from its own
 * settings. */
static int
build_locations(struct zs_server *srv, cfg_t *srv_sec)
{
    unsigned int n = cfg_size(srv_sec, "location");
    bool add_root = true;

    for (unsigned int i = 0; i < n && add_root; i++)
        add_root = !title_is_root_prefix(cfg_title(cfg_getnsec(srv_sec, "location", i)));
    srv->srv_locations = calloc(n + 1, sizeof(*srv->srv_locations));
    if (srv->srv_locations == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n + add_root; i++) {
        struct zs_location *loc = &srv->srv_locations[srv->srv_location_count++];

        loc->loc_root_fd = -1;
        if (build_location(loc, i < n ? cfg_getnsec(srv_sec, "location", i) : NULL, srv, srv_sec) == -1)
            return -1;
    }
    return 0;
}

/* Collects the server's listen addresses for zs_conf_build_listeners(). */
static int
collect_listen_uses(struct zs_server *srv, cfg_t *srv_sec)
{
    for (size_t i = 0; i < srv->srv_listen_count; i++) {
        struct listen_use *use;
        char err[256];

        if (zs_conf_loading->use_count == zs_conf_loading->use_cap) {
            size_t cap = zs_conf_loading->use_cap ? zs_conf_loading->use_cap * 2 : 16;
            struct listen_use *uses = realloc(zs_conf_loading->uses, cap * sizeof(*uses));
            if (uses == NULL)
                return zs_conf_out_of_memory();
            zs_conf_loading->uses = uses;
            zs_conf_loading->use_cap = cap;
        }
        use = &zs_conf_loading->uses[zs_conf_loading->use_count];
        /* A bad address was reported while parsing. */
        if (zs_conf_parse_listen(srv->srv_listen[i], &use->use_lis, err, sizeof(err)) == -1)
            continue;
        use->use_server = srv;
        zs_conf_opt_where(srv_sec, "listen", &use->use_file, &use->use_line);
        zs_conf_opt_where(srv_sec, "default_server", &use->use_default_file, &use->use_default_line);
        zs_conf_loading->use_count++;
    }
    return 0;
}

static int
build_server(struct zs_server *srv, cfg_t *srv_sec)
{
    const char *pool = cfg_getstr(srv_sec, "pool");
    const char *access_log = cfg_getstr(srv_sec, "access_log");

    srv->srv_access_log.al_fd = -1;
    srv->srv_title = zs_conf_strdup(cfg_title(srv_sec));
    if (srv->srv_title == NULL)
        return -1;
    zs_conf_section_where(srv_sec, &srv->srv_file, &srv->srv_line);
    if (zs_conf_copy_list(srv_sec, "server_name", &srv->srv_names, &srv->srv_name_count) == -1
        || zs_conf_copy_list(srv_sec, "listen", &srv->srv_listen, &srv->srv_listen_count) == -1)
        return -1;
    for (size_t i = 0; i < srv->srv_name_count; i++)
        server_name_check(srv_sec, srv->srv_names[i]);
    zs_conf_check_server_handler(srv_sec, srv->srv_title);
    if (srv->srv_listen_count == 0)
        zs_conf_error_add(srv->srv_file, srv->srv_line, "server '%s': listen is not set", srv->srv_title);
    srv->srv_default = cfg_getbool(srv_sec, "default_server");
    srv->srv_pool = zs_conf_find_pool(pool);
    if (srv->srv_pool == NULL)
        zs_conf_opt_error(srv_sec, "pool", "server '%s': unknown pool '%s'", srv->srv_title, pool);
    if (strcmp(access_log, "off") != 0 && (srv->srv_access_log.al_path = zs_conf_path(access_log)) == NULL)
        return -1;
    srv->srv_access_log.al_format = (enum zs_access_log_format)cfg_getint(srv_sec, "access_log_format");
    if (build_locations(srv, srv_sec) == -1)
        return -1;
    return collect_listen_uses(srv, srv_sec);
}

int
zs_conf_build_servers(cfg_t *root)
{
    struct zs_config *conf = zs_conf_loading->conf;
    unsigned int n = cfg_size(root, "server");

    conf->servers = calloc(n ? n : 1, sizeof(*conf->servers));
    if (conf->servers == NULL)
        return zs_conf_out_of_memory();
    for (unsigned int i = 0; i < n; i++)
        if (build_server(&conf->servers[conf->server_count++], cfg_getnsec(root, "server", i)) == -1)
            return -1;
    return 0;
}
