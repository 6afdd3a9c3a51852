/* Prints a loaded configuration in the configuration file's own syntax, for `zserver -T`. */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "master/conf_load.h"

/* Characters that the libconfuse lexer reads as part of an unquoted value. */
static bool
is_bare_value(const char *s)
{
    if (s[0] == '\0' || strstr(s, "//") != NULL)
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("._-/:@", *p) == NULL)
            return false;
    return true;
}

/* Prints a value bare when it is safe, else in single quotes. Inside single
 * quotes libconfuse unescapes only \\ and \', so other backslashes, as in
 * regular expressions, stay as written. */
static void
dump_value(FILE *out, const char *s)
{
    if (is_bare_value(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\'' || (*p == '\\' && (p[1] == '\\' || p[1] == '\'' || p[1] == '\0')))
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('\'', out);
}

static void
dump_string(FILE *out, int indent, const char *name, const char *value)
{
    fprintf(out, "%*s%s = ", indent, "", name);
    dump_value(out, value);
    fputc('\n', out);
}

static void
dump_list(FILE *out, int indent, const char *name, char **items, size_t count)
{
    fprintf(out, "%*s%s = {", indent, "", name);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            fputs(", ", out);
        dump_value(out, items[i]);
    }
    fputs("}\n", out);
}

static void
dump_bool(FILE *out, int indent, const char *name, bool value)
{
    fprintf(out, "%*s%s = %s\n", indent, "", name, value ? "true" : "false");
}

static void
dump_duration(FILE *out, const char *name, long ms)
{
    static const struct { const char *unit; long ms; } units[] = {
        { "d", 24L * 60 * 60 * 1000 }, { "h", 60L * 60 * 1000 }, { "m", 60L * 1000 }, { "s", 1000 },
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].ms == 0) {
            fprintf(out, "%s = %ld%s\n", name, ms / units[i].ms, units[i].unit);
            return;
        }
    }
    fprintf(out, "%s = %ldms\n", name, ms);
}

static void
dump_size(FILE *out, int indent, const char *name, int64_t bytes)
{
    static const char units[] = "gmk";

    for (int i = 0; i < 3 && bytes > 0; i++) {
        int64_t unit = (int64_t)1 << (10 * (3 - i));
        if (bytes % unit == 0) {
            fprintf(out, "%*s%s = %lld%c\n", indent, "", name, (long long)(bytes / unit), units[i]);
            return;
        }
    }
    fprintf(out, "%*s%s = %lld\n", indent, "", name, (long long)bytes);
}

static void
dump_globals(const struct zs_config *conf, FILE *out)
{
    dump_string(out, 0, "user", conf->user);
    dump_string(out, 0, "group", conf->group);
    dump_string(out, 0, "pid_file", conf->pid_file);
    dump_string(out, 0, "error_log", conf->error_log);
    dump_string(out, 0, "log_level", zs_log_level_name(conf->log_level));
    dump_string(out, 0, "mime_types", conf->mime_types_file);
    dump_string(out, 0, "default_type", conf->default_type);
    dump_duration(out, "client_header_timeout", conf->header_timeout);
    dump_duration(out, "client_body_timeout", conf->body_timeout);
    dump_duration(out, "keepalive_timeout", conf->keepalive_timeout);
    dump_duration(out, "send_timeout", conf->send_timeout);
    dump_duration(out, "shutdown_timeout", conf->shutdown_timeout);
    fprintf(out, "keepalive_requests = %d\n", conf->keepalive_requests);
    dump_duration(out, "backend_connect_timeout", conf->backend_connect_timeout);
    dump_duration(out, "backend_read_timeout", conf->backend_read_timeout);
    dump_string(out, 0, "client_body_temp_path", conf->client_body_temp_path);
}

static void
dump_pool(const struct zs_pool *pool, FILE *out)
{
    fputs("\npool ", out);
    dump_value(out, pool->pool_name);
    fprintf(out, " {\n    # uid %ld, gid %ld\n", (long)pool->pool_uid, (long)pool->pool_gid);
    dump_string(out, 4, "user", pool->pool_user);
    dump_string(out, 4, "group", pool->pool_group);
    fprintf(out, "    workers = %d\n", pool->pool_workers);
    fprintf(out, "    max_requests = %ld\n", pool->pool_max_requests);
    fprintf(out, "    worker_connections = %d\n", pool->pool_worker_connections);
    dump_bool(out, 4, "allow_root", pool->pool_allow_root);
    dump_bool(out, 4, "wsgi_preload", pool->pool_wsgi_preload);
    fputs("}\n", out);
}

static void
dump_app(const struct zs_app *app, FILE *out)
{
    fputs("\napp ", out);
    dump_value(out, app->app_name);
    fprintf(out, " {\n    # uid %ld, gid %ld\n", (long)app->app_uid, (long)app->app_gid);
    dump_list(out, 4, "command", app->app_command, app->app_command_count);
    fprintf(out, "    processes = %d\n", app->app_processes);
    dump_string(out, 4, "user", app->app_user);
    dump_string(out, 4, "group", app->app_group);
    dump_bool(out, 4, "allow_root", app->app_allow_root);
    dump_string(out, 4, "socket", app->app_socket);
    dump_list(out, 4, "env", app->app_env, app->app_env_count);
    if (app->app_dir != NULL)
        dump_string(out, 4, "directory", app->app_dir);
    fputs("}\n", out);
}

/* The three *_param options fill one list: it is printed under the name that
 * matches the handler. */
static void
dump_params(const struct zs_location *loc, FILE *out)
{
    const char *name = loc->loc_handler == ZS_HANDLER_SCGI ? "scgi_param"
                       : loc->loc_handler == ZS_HANDLER_CGI ? "cgi_param" : "fastcgi_param";

    fprintf(out, "        %s = {", name);
    for (size_t i = 0; i < loc->loc_param_count; i++) {
        char *entry = NULL;

        if (asprintf(&entry, "%s=%s", loc->loc_params[i].name, loc->loc_params[i].value) == -1)
            continue;
        if (i > 0)
            fputs(", ", out);
        dump_value(out, entry);
        free(entry);
    }
    fputs("}\n", out);
}

static void
dump_handler(const struct zs_location *loc, FILE *out)
{
    if (loc->loc_handler == ZS_HANDLER_FASTCGI || loc->loc_handler == ZS_HANDLER_SCGI) {
        fprintf(out, "        %s = {", loc->loc_handler == ZS_HANDLER_FASTCGI ? "fastcgi_pass" : "scgi_pass");
        for (size_t i = 0; i < loc->loc_backend_count; i++) {
            if (i > 0)
                fputs(", ", out);
            dump_value(out, loc->loc_backends[i].be_addr);
        }
        fputs("}\n", out);
    }
    dump_bool(out, 8, "cgi", loc->loc_handler == ZS_HANDLER_CGI);
    if (loc->loc_handler == ZS_HANDLER_WSGI) {
        dump_string(out, 8, "wsgi_app", loc->loc_wsgi_app);
        dump_list(out, 8, "python_path", loc->loc_python_path, loc->loc_python_path_count);
        if (loc->loc_python_home != NULL)
            dump_string(out, 8, "python_home", loc->loc_python_home);
        fputs("        ", out);
        dump_duration(out, "wsgi_timeout", loc->loc_wsgi_timeout);
    }
    if (loc->loc_split_path_info_source != NULL)
        dump_string(out, 8, "fastcgi_split_path_info", loc->loc_split_path_info_source);
    dump_params(loc, out);
    fprintf(out, "        backend_max_requests = %d\n", loc->loc_backend_max_requests);
    fprintf(out, "        backend_queue = %d\n", loc->loc_backend_queue);
    dump_bool(out, 8, "fastcgi_keep_conn", loc->loc_fastcgi_keep_conn);
}

static void
dump_location(const struct zs_location *loc, FILE *out)
{
    char status[16];

    fputs("    location ", out);
    dump_value(out, loc->loc_title);
    fputs(" {\n", out);
    if (loc->loc_return_status != 0) {
        char *value = NULL;
        snprintf(status, sizeof(status), "%d", loc->loc_return_status);
        if (loc->loc_return_text != NULL && asprintf(&value, "%s %s", status, loc->loc_return_text) == -1)
            value = NULL;
        dump_string(out, 8, "return", value != NULL ? value : status);
        free(value);
    }
    if (loc->loc_root != NULL)
        dump_string(out, 8, "root", loc->loc_root);
    dump_list(out, 8, "index", loc->loc_index, loc->loc_index_count);
    dump_bool(out, 8, "autoindex", loc->loc_autoindex);
    dump_bool(out, 8, "gzip_static", loc->loc_gzip_static);
    dump_bool(out, 8, "follow_symlinks", loc->loc_follow_symlinks);
    dump_bool(out, 8, "allow_dotfiles", loc->loc_allow_dotfiles);
    dump_size(out, 8, "client_max_body_size", loc->loc_client_max_body_size);
    dump_handler(loc, out);
    fputs("    }\n", out);
}

static void
dump_server(const struct zs_server *srv, FILE *out)
{
    fputs("\nserver ", out);
    dump_value(out, srv->srv_title);
    fputs(" {\n", out);
    dump_list(out, 4, "listen", srv->srv_listen, srv->srv_listen_count);
    dump_list(out, 4, "server_name", srv->srv_names, srv->srv_name_count);
    dump_bool(out, 4, "default_server", srv->srv_default);
    dump_string(out, 4, "pool", srv->srv_pool != NULL ? srv->srv_pool->pool_name : "default");
    dump_string(out, 4, "access_log", srv->srv_access_log.al_path != NULL ? srv->srv_access_log.al_path : "off");
    dump_string(out, 4, "access_log_format",
                srv->srv_access_log.al_format == ZS_ACCESS_LOG_JSON ? "json" : "combined");
    for (size_t i = 0; i < srv->srv_location_count; i++)
        dump_location(&srv->srv_locations[i], out);
    fputs("}\n", out);
}

static void
dump_listeners(const struct zs_config *conf, FILE *out)
{
    fputs("\n# listeners: address, pool, then its servers with the default server first\n", out);
    for (size_t i = 0; i < conf->listener_count; i++) {
        const struct zs_listener *lis = &conf->listeners[i];

        fprintf(out, "# %s pool %s:", lis->lis_addr, lis->lis_pool != NULL ? lis->lis_pool->pool_name : "?");
        for (size_t j = 0; j < lis->lis_server_count; j++)
            fprintf(out, " %s", lis->lis_servers[j]->srv_title);
        fputc('\n', out);
    }
}

void
zs_conf_dump(const struct zs_config *conf, FILE *out)
{
    for (size_t i = 0; i < conf->file_count; i++)
        fprintf(out, "# configuration file %s\n", conf->files[i]);
    fputc('\n', out);
    dump_globals(conf, out);
    for (size_t i = 0; i < conf->pool_count; i++)
        dump_pool(&conf->pools[i], out);
    for (size_t i = 0; i < conf->app_count; i++)
        dump_app(&conf->apps[i], out);
    for (size_t i = 0; i < conf->server_count; i++)
        dump_server(&conf->servers[i], out);
    dump_listeners(conf, out);
}
