/* Unit tests for configuration loading: exact errors, resolved values (apps and application
 * handlers too), value parsers and -T output. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "lib/mime.h"
#include "master/conf_load.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))
#define CONF_DIR ZS_TEST_CONF_DIR
#define MAX_EXPECTED 10

/* ---- errors: each fixture file and the exact messages it gives ---- */

struct error_row {
    const char *desc;
    int line;
    const char *file;            /* below CONF_DIR */
    bool needs_root;             /* user and group names are resolved only as root */
    const char *expected[MAX_EXPECTED];   /* "{dir}" stands for CONF_DIR */
};

#define ERR(desc, file, ...) { desc, __LINE__, file, false, { __VA_ARGS__ } }
#define ROOT_ERR(desc, file, ...) { desc, __LINE__, file, true, { __VA_ARGS__ } }

static const struct error_row error_rows[] = {
    ERR("unknown option stops the parse", "unknown_option.conf",
        "{dir}/unknown_option.conf:4: unknown option 'listen_port'"),
    ERR("bad durations", "bad_duration.conf",
        "{dir}/bad_duration.conf:2: keepalive_timeout: invalid duration '75sec' "
        "(expected a number with an optional unit: ms, s, m, h or d)",
        "{dir}/bad_duration.conf:3: send_timeout: duration '0' is out of range (1ms to 1d)",
        "{dir}/bad_duration.conf:4: client_body_timeout: duration '25h' is out of range (1ms to 1d)"),
    ERR("bad sizes", "bad_size.conf",
        "{dir}/bad_size.conf:5: client_max_body_size: invalid size '1t' "
        "(expected a number of bytes with an optional unit: k, m or g)",
        "{dir}/bad_size.conf:6: client_max_body_size: invalid size '-1' "
        "(expected a number of bytes with an optional unit: k, m or g)"),
    ERR("bad listen addresses, each on its line", "bad_listen.conf",
        "{dir}/bad_listen.conf:3: listen: invalid address 'localhost:80': "
        "'localhost' is not an IP address (host names are not resolved)",
        "{dir}/bad_listen.conf:3: listen: invalid address '127.0.0.1': missing port (expected ADDRESS:PORT)",
        "{dir}/bad_listen.conf:4: listen: invalid address '[::1]': missing port (expected [ADDRESS]:PORT)",
        "{dir}/bad_listen.conf:4: listen: invalid address '127.0.0.2:70000': invalid port '70000' (expected 1 to 65535)",
        "{dir}/bad_listen.conf:4: listen: invalid address 'unix:run/a.sock': the socket path must be absolute"),
    ERR("unknown pool", "unknown_pool.conf",
        "{dir}/unknown_pool.conf:5: server 'a': unknown pool 'wbe'"),
    ERR("two pools on one address", "two_pools.conf",
        "{dir}/two_pools.conf:8: listen 127.0.0.1:8080: server 'b' is in pool 'web' but server 'a' "
        "on the same address is in pool 'default'; an address belongs to one pool"),
    ERR("two default servers on one address", "two_defaults.conf",
        "{dir}/two_defaults.conf:10: listen 0.0.0.0:8080: servers 'a' and 'b' both set default_server"),
    ERR("invalid regular expressions", "bad_regex.conf",
        "{dir}/bad_regex.conf:4: location '~ (': invalid regular expression at offset 1: "
        "missing closing parenthesis",
        "{dir}/bad_regex.conf:5: location '~* \\.(png|jpg$': invalid regular expression at offset 11: "
        "missing closing parenthesis"),
    ERR("return without URL and bad statuses", "return_no_url.conf",
        "{dir}/return_no_url.conf:4: return: status 301 requires a URL, as in "
        "\"301 https://example.org$request_uri\"",
        "{dir}/return_no_url.conf:6: return: status 600 is out of range (200 to 599)",
        "{dir}/return_no_url.conf:7: return: invalid value 'ok' "
        "(expected a status code, then an optional URL or text)"),
    ERR("missing root", "missing_root.conf",
        "{dir}/missing_root.conf:4: location '/files/' in server 'a': root is not set "
        "(set it in the location or in the server)",
        "{dir}/missing_root.conf:8: server 'b': root is not set"),
    ERR("include of a missing file", "missing_include.conf",
        "{dir}/missing_include.conf:2: include 'missing.conf': file '{dir}/missing.conf' not found"),
    ERR("syntax error", "syntax_error.conf",
        "{dir}/syntax_error.conf:2: missing equal sign after option 'listen'"),
    ERR("syntax error in an included file", "include_syntax_error.conf",
        "{dir}/inc/broken.conf:4: unexpected closing brace"),
    ERR("brace left open at the end of the file", "unclosed_brace.conf",
        "{dir}/unclosed_brace.conf:1: '{' is not closed by the end of the file"),
    ERR("unterminated string", "unterminated_string.conf",
        "{dir}/unterminated_string.conf:3: unterminated string: \" is not closed by the end of the file"),
    ERR("several errors in one file, all reported in order", "many_errors.conf",
        "{dir}/many_errors.conf:4: keepalive_timeout: invalid duration 'soon' "
        "(expected a number with an optional unit: ms, s, m, h or d)",
        "{dir}/many_errors.conf:7: workers: invalid value 'many' (expected auto or a number from 1 to 1024)",
        "{dir}/many_errors.conf:12: listen: invalid address '127.0.0.1:99999': invalid port '99999' "
        "(expected 1 to 65535)",
        "{dir}/many_errors.conf:13: server 'a': unknown pool 'nope'",
        "{dir}/many_errors.conf:14: client_max_body_size: invalid size 'lots' "
        "(expected a number of bytes with an optional unit: k, m or g)",
        "{dir}/many_errors.conf:15: location '~ [': invalid regular expression at offset 1: "
        "missing terminating ] for character class",
        "{dir}/many_errors.conf:15: location '~ [' in server 'a': root is not set "
        "(set it in the location or in the server)"),
    ERR("bad location titles", "bad_location_title.conf",
        "{dir}/bad_location_title.conf:4: location 'files/': the path must start with '/'",
        "{dir}/bad_location_title.conf:5: location '=': missing path or regular expression"),
    ERR("server without listen", "no_listen.conf",
        "{dir}/no_listen.conf:1: server 'a': listen is not set"),
    ERR("bad levels, counts, booleans and formats", "bad_values.conf",
        "{dir}/bad_values.conf:1: log_level: invalid level 'loud' "
        "(expected emerg, alert, crit, error, warn, notice, info or debug)",
        "{dir}/bad_values.conf:3: workers: 0 is out of range (1 to 1024)",
        "{dir}/bad_values.conf:4: worker_connections: 2000000 is out of range (1 to 1048576)",
        "{dir}/bad_values.conf:5: allow_root: invalid boolean 'maybe' (expected true or false)",
        "{dir}/bad_values.conf:10: access_log_format: invalid format 'xml' (expected combined or json)",
        "{dir}/bad_values.conf:11: default_server: invalid boolean 'perhaps' (expected true or false)"),
    ERR("missing mime.types file", "mime_missing.conf",
        "{dir}/mime_missing.conf:1: mime_types '{dir}/no-such.types': No such file or directory"),
    ERR("bad line in mime.types", "mime_bad.conf",
        "{dir}/bad.types:3: invalid media type 'html' (expected type/subtype)"),
    ERR("missing main file", "does-not-exist.conf",
        "{dir}/does-not-exist.conf: open failed: No such file or directory"),
    ERR("bad backend addresses", "bad_backend.conf",
        "{dir}/bad_backend.conf:5: fastcgi_pass: invalid address 'localhost:9000': "
        "'localhost' is not an IP address (host names are not resolved)",
        "{dir}/bad_backend.conf:5: fastcgi_pass: invalid address '9000': "
        "0.0.0.0 is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)",
        "{dir}/bad_backend.conf:5: fastcgi_pass: invalid address '[::]:9000': "
        "[::] is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)",
        "{dir}/bad_backend.conf:7: scgi_pass: invalid address 'unix:run/scgi.sock': the socket path must be absolute",
        "{dir}/bad_backend.conf:7: scgi_pass: invalid address 'app:': missing app name",
        "{dir}/bad_backend.conf:7: scgi_pass: invalid address 'app:a/b': "
        "invalid app name 'a/b' (expected letters, digits, '.', '-' and '_')",
        "{dir}/bad_backend.conf:7: scgi_pass: invalid address '127.0.0.1': missing port (expected ADDRESS:PORT)"),
    ERR("handlers set together, in a server and in locations", "handler_conflict.conf",
        "{dir}/handler_conflict.conf:6: server 'a': fastcgi_pass and cgi cannot both be set",
        "{dir}/handler_conflict.conf:9: location '/php/': fastcgi_pass and cgi cannot both be set",
        "{dir}/handler_conflict.conf:13: location '/two/': fastcgi_pass and scgi_pass cannot both be set",
        "{dir}/handler_conflict.conf:17: location '/ret/': scgi_pass and return cannot both be set",
        "{dir}/handler_conflict.conf:23: location '/all/': fastcgi_pass, scgi_pass, cgi and return "
        "cannot be set together"),
    ERR("unknown apps and an empty address list", "unknown_app.conf",
        "{dir}/unknown_app.conf:5: fastcgi_pass: unknown app 'nope'",
        "{dir}/unknown_app.conf:6: scgi_pass: unknown app 'py'",
        "{dir}/unknown_app.conf:7: location '/empty/': fastcgi_pass is an empty list "
        "(expected one or more addresses)"),
    ERR("bad parameters", "bad_params.conf",
        "{dir}/bad_params.conf:5: fastcgi_param: 'SCRIPT_FILENAME' has no '=' (expected NAME=value)",
        "{dir}/bad_params.conf:5: fastcgi_param: '=/srv/a' has no name before '=' (expected NAME=value)",
        "{dir}/bad_params.conf:6: scgi_param: invalid name 'HTTP-HOST' in 'HTTP-HOST=x' "
        "(expected letters, digits and '_')",
        "{dir}/bad_params.conf:8: cgi_param: invalid name 'A B' in 'A B=c' (expected letters, digits and '_')"),
    ERR("split_path_info without two captures", "bad_split_path_info.conf",
        "{dir}/bad_split_path_info.conf:5: fastcgi_split_path_info: invalid regular expression at offset 15: "
        "missing closing parenthesis",
        "{dir}/bad_split_path_info.conf:6: fastcgi_split_path_info: the regular expression has 1 capture group, "
        "expected 2 (SCRIPT_NAME and PATH_INFO)",
        "{dir}/bad_split_path_info.conf:7: fastcgi_split_path_info: the regular expression has 3 capture groups, "
        "expected 2 (SCRIPT_NAME and PATH_INFO)",
        "{dir}/bad_split_path_info.conf:8: fastcgi_split_path_info: the regular expression has 0 capture groups, "
        "expected 2 (SCRIPT_NAME and PATH_INFO)"),
    ERR("bad backend timeouts and limits", "bad_backend_limits.conf",
        "{dir}/bad_backend_limits.conf:1: backend_connect_timeout: duration '0' is out of range (1ms to 1d)",
        "{dir}/bad_backend_limits.conf:2: backend_read_timeout: invalid duration 'soon' "
        "(expected a number with an optional unit: ms, s, m, h or d)",
        "{dir}/bad_backend_limits.conf:6: backend_max_requests: invalid number '-1'",
        "{dir}/bad_backend_limits.conf:7: backend_queue: invalid number 'lots'"),
    ERR("missing client_body_temp_path", "temp_path_missing.conf",
        "{dir}/temp_path_missing.conf:1: client_body_temp_path '{dir}/no-such-dir': No such file or directory"),
    ERR("client_body_temp_path is a file", "temp_path_file.conf",
        "{dir}/temp_path_file.conf:2: client_body_temp_path '{dir}/mime.types': not a directory"),
    ERR("bad app commands", "bad_app_command.conf",
        "{dir}/bad_app_command.conf:2: app 'none': command is not set",
        "{dir}/bad_app_command.conf:3: app 'relative': command 'php-cgi': the program must be an absolute path",
        "{dir}/bad_app_command.conf:4: app 'missing': command '/nonexistent/zs-test-program': "
        "No such file or directory",
        "{dir}/bad_app_command.conf:5: app 'directory': command '/': not a regular file",
        "{dir}/bad_app_command.conf:7: app 'not_executable': command '/etc/passwd': not executable"),
    ERR("bad app names, counts, sockets, env and directories", "bad_app_values.conf",
        "{dir}/bad_app_values.conf:1: invalid app name 'a/b' (expected letters, digits, '.', '-' and '_')",
        "{dir}/bad_app_values.conf:3: processes: 0 is out of range (1 to 1024)",
        "{dir}/bad_app_values.conf:4: app 'a/b': socket 'run/a.sock': the socket path must be absolute",
        "{dir}/bad_app_values.conf:5: env: 'NOEQ' has no '=' (expected NAME=value)",
        "{dir}/bad_app_values.conf:5: app 'a/b': env: variable 'X' is set twice",
        "{dir}/bad_app_values.conf:6: app 'a/b': directory '{dir}/no-such-dir': No such file or directory",
        "{dir}/bad_app_values.conf:10: processes: 1025 is out of range (1 to 1024)",
        "{dir}/bad_app_values.conf:11: app 'c': directory '{dir}/mime.types': not a directory"),
    ERR("app sockets shared or too long", "app_sockets.conf",
        "{dir}/app_sockets.conf:8: app 'b': socket '/tmp/zs-test-shared.sock' is also the socket of app 'a'",
        "{dir}/app_sockets.conf:12: app 'c': socket '/tmp/zs-test-listen.sock' is also a listen address "
        "of server 's'",
        "{dir}/app_sockets.conf:16: app 'd': socket '/tmp/zs-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock': the socket path is longer than 107 bytes"),
    ERR("two apps with one name", "duplicate_app.conf",
        "{dir}/duplicate_app.conf:2: duplicate section 'php'"),
    ROOT_ERR("apps running as root and unknown app users", "app_root.conf",
        "{dir}/app_root.conf:1: app 'admin': refusing to run as root; set allow_root = true to allow it",
        "{dir}/app_root.conf:12: unknown user 'zs-test-no-such-user'",
        "{dir}/app_root.conf:13: unknown group 'zs-test-no-such-group'"),
    ROOT_ERR("unknown users and groups, each reported once", "unknown_user.conf",
        "{dir}/unknown_user.conf:1: unknown user 'zs-test-no-such-user'",
        "{dir}/unknown_user.conf:2: unknown group 'zs-test-no-such-group'",
        "{dir}/unknown_user.conf:4: unknown user 'zs-test-no-such-user-2'"),
    ROOT_ERR("pool running as root without allow_root", "root_pool.conf",
        "{dir}/root_pool.conf:1: pool admin: refusing to run workers as root; set allow_root = true to allow it"),
};

/* Replaces each "{dir}" in a pattern with CONF_DIR. */
static void
expand_dir(char *out, size_t size, const char *pattern)
{
    size_t n = 0;

    for (const char *p = pattern; *p != '\0' && n + 1 < size; p++) {
        if (strncmp(p, "{dir}", 5) == 0) {
            n += (size_t)snprintf(out + n, size - n, "%s", CONF_DIR);
            p += 4;
        } else {
            out[n++] = *p;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

static void
print_errors(const struct zs_conf_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        fprintf(stderr, "    got: %s\n", errs->msgs[i]);
}

START_TEST(load_reports_exact_errors)
{
    const struct error_row *row = &error_rows[_i];
    struct zs_conf_errors errs = { 0 };
    struct zs_config *conf;
    char path[4096];
    size_t expected_count = 0;

    if (row->needs_root && geteuid() != 0) {
        fprintf(stderr, "skipped: %s (line %d): user and group names are resolved only as root\n",
                row->desc, row->line);
        return;
    }
    while (expected_count < MAX_EXPECTED && row->expected[expected_count] != NULL)
        expected_count++;
    snprintf(path, sizeof(path), "%s/%s", CONF_DIR, row->file);
    conf = zs_conf_load(path, &errs);
    ck_assert_msg(conf == NULL, "%s (line %d): the configuration loaded", row->desc, row->line);
    if (errs.count != expected_count)
        print_errors(&errs);
    ck_assert_msg(errs.count == expected_count, "%s (line %d): %zu errors, expected %zu",
                  row->desc, row->line, errs.count, expected_count);
    for (size_t i = 0; i < expected_count; i++) {
        char expected[4096];

        expand_dir(expected, sizeof(expected), row->expected[i]);
        ck_assert_msg(strcmp(errs.msgs[i], expected) == 0, "%s (line %d): error %zu is\n  %s\nexpected\n  %s",
                      row->desc, row->line, i, errs.msgs[i], expected);
    }
    zs_conf_errors_clear(&errs);
    ck_assert_ptr_null(errs.msgs);
    ck_assert_uint_eq(errs.count, 0);
}
END_TEST

START_TEST(load_appends_to_existing_errors)
{
    struct zs_conf_errors errs = { 0 };

    ck_assert_ptr_null(zs_conf_load(CONF_DIR "/no_listen.conf", &errs));
    ck_assert_ptr_null(zs_conf_load(CONF_DIR "/unknown_pool.conf", &errs));
    ck_assert_uint_eq(errs.count, 2);
    ck_assert_str_eq(errs.msgs[0], CONF_DIR "/no_listen.conf:1: server 'a': listen is not set");
    ck_assert_str_eq(errs.msgs[1], CONF_DIR "/unknown_pool.conf:5: server 'a': unknown pool 'wbe'");
    zs_conf_errors_clear(&errs);
}
END_TEST

START_TEST(load_without_error_list_still_fails)
{
    ck_assert_ptr_null(zs_conf_load(CONF_DIR "/many_errors.conf", NULL));
}
END_TEST

/* ---- the valid configuration in CONF_DIR/valid ---- */

static struct zs_config *
load_valid(void)
{
    struct zs_conf_errors errs = { 0 };
    struct zs_config *conf = zs_conf_load(CONF_DIR "/valid/main.conf", &errs);

    print_errors(&errs);
    ck_assert_msg(conf != NULL, "valid/main.conf: %zu errors", errs.count);
    zs_conf_errors_clear(&errs);
    return conf;
}

static const struct zs_server *
find_server(const struct zs_config *conf, const char *title)
{
    for (size_t i = 0; i < conf->server_count; i++)
        if (strcmp(conf->servers[i].srv_title, title) == 0)
            return &conf->servers[i];
    ck_abort_msg("no server '%s'", title);
    return NULL;
}

static const struct zs_location *
find_location(const struct zs_server *srv, const char *title)
{
    for (size_t i = 0; i < srv->srv_location_count; i++)
        if (strcmp(srv->srv_locations[i].loc_title, title) == 0)
            return &srv->srv_locations[i];
    ck_abort_msg("no location '%s' in server '%s'", title, srv->srv_title);
    return NULL;
}

START_TEST(valid_globals_and_relative_paths)
{
    struct zs_config *conf = load_valid();

    ck_assert_str_eq(conf->conf_file, CONF_DIR "/valid/main.conf");
    ck_assert_str_eq(conf->conf_dir, CONF_DIR "/valid");
    ck_assert_str_eq(conf->user, "www-data");
    ck_assert_str_eq(conf->group, "www-data");
    ck_assert_str_eq(conf->pid_file, CONF_DIR "/valid/run/zserver.pid");
    ck_assert_str_eq(conf->error_log, CONF_DIR "/valid/logs/error.log");
    ck_assert_int_eq(conf->log_level, ZS_LOG_INFO);
    ck_assert_str_eq(conf->mime_types_file, CONF_DIR "/valid/mime.types");
    ck_assert_str_eq(conf->default_type, "application/octet-stream");
    ck_assert_str_eq(zs_mime_lookup(conf->mime, "a.css", 5), "text/css");
    ck_assert_int_eq(conf->header_timeout, 60000);
    ck_assert_int_eq(conf->body_timeout, 60000);
    ck_assert_int_eq(conf->keepalive_timeout, 500);
    ck_assert_int_eq(conf->send_timeout, 120000);
    ck_assert_int_eq(conf->shutdown_timeout, 60000);
    ck_assert_int_eq(conf->keepalive_requests, 50);
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_includes_are_read_in_sorted_order)
{
    struct zs_config *conf = load_valid();
    static const char *const files[] = {
        CONF_DIR "/valid/main.conf",
        CONF_DIR "/valid/conf.d/10-app.conf",
        CONF_DIR "/valid/sub/more.conf",
        CONF_DIR "/valid/conf.d/20-fallback.conf",
    };
    static const char *const servers[] = { "static", "app", "other", "fallback" };

    ck_assert_uint_eq(conf->file_count, N_ROWS(files));
    for (size_t i = 0; i < N_ROWS(files); i++)
        ck_assert_str_eq(conf->files[i], files[i]);
    ck_assert_uint_eq(conf->server_count, N_ROWS(servers));
    for (size_t i = 0; i < N_ROWS(servers); i++)
        ck_assert_str_eq(conf->servers[i].srv_title, servers[i]);
    ck_assert_str_eq(conf->servers[2].srv_file, CONF_DIR "/valid/sub/more.conf");
    ck_assert_int_eq(conf->servers[2].srv_line, 1);
    /* A root in an included file is still relative to the main file. */
    ck_assert_str_eq(conf->servers[2].srv_locations[0].loc_root, CONF_DIR "/valid/www");
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_pools_resolve_users_and_workers)
{
    struct zs_config *conf = load_valid();
    const struct zs_pool *def = &conf->pools[0];
    const struct zs_pool *app = &conf->pools[1];
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("www-data");
        struct group *gr = getgrnam("www-data");
        ck_assert_msg(pw != NULL && gr != NULL, "the tests need the www-data user and group");
        uid = pw->pw_uid;
        gid = gr->gr_gid;
    }
    ck_assert_uint_eq(conf->pool_count, 2);
    ck_assert_str_eq(def->pool_name, "default");
    ck_assert_int_eq(def->pool_workers, 2);
    ck_assert_int_eq(def->pool_worker_connections, 1024);
    ck_assert_int_eq(def->pool_max_requests, 0);
    ck_assert_str_eq(def->pool_file, CONF_DIR "/valid/main.conf");
    ck_assert_int_eq(def->pool_line, 11);
    ck_assert_str_eq(app->pool_name, "app");
    ck_assert_str_eq(app->pool_user, "www-data");
    ck_assert_int_eq(app->pool_workers, 3);
    ck_assert_int_eq(app->pool_max_requests, 500);
    ck_assert_int_eq(app->pool_worker_connections, 64);
    ck_assert(!app->pool_allow_root);
    for (size_t i = 0; i < conf->pool_count; i++) {
        ck_assert_uint_eq(conf->pools[i].pool_uid, uid);
        ck_assert_uint_eq(conf->pools[i].pool_gid, gid);
    }
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_server_values)
{
    struct zs_config *conf = load_valid();
    const struct zs_server *srv = find_server(conf, "static");
    const struct zs_server *app = find_server(conf, "app");

    ck_assert_uint_eq(srv->srv_name_count, 2);
    ck_assert_str_eq(srv->srv_names[0], "static.example");
    ck_assert_str_eq(srv->srv_names[1], "*.static.example");
    ck_assert_uint_eq(srv->srv_listen_count, 2);
    ck_assert_str_eq(srv->srv_listen[1], "[::1]:8080");
    ck_assert(!srv->srv_default);
    ck_assert_ptr_eq(srv->srv_pool, &conf->pools[0]);
    ck_assert_str_eq(srv->srv_access_log.al_path, CONF_DIR "/valid/logs/static.log");
    ck_assert_int_eq(srv->srv_access_log.al_format, ZS_ACCESS_LOG_JSON);
    ck_assert_int_eq(srv->srv_access_log.al_fd, -1);
    ck_assert_str_eq(srv->srv_file, CONF_DIR "/valid/main.conf");
    ck_assert_int_eq(srv->srv_line, 15);
    ck_assert_ptr_null(app->srv_access_log.al_path);
    ck_assert_int_eq(app->srv_access_log.al_format, ZS_ACCESS_LOG_COMBINED);
    ck_assert_ptr_eq(app->srv_pool, &conf->pools[1]);
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_locations_inherit_server_values)
{
    struct zs_config *conf = load_valid();
    const struct zs_server *srv = find_server(conf, "static");
    const struct zs_location *root = find_location(srv, "/");
    const struct zs_location *health = find_location(srv, "= /healthz");
    const struct zs_location *assets = find_location(srv, "^~ /assets/");
    const struct zs_location *php = find_location(srv, "~* \\.PHP$");
    const struct zs_location *old = find_location(srv, "/old/");

    /* The server has a "/" location, so none is added. */
    ck_assert_uint_eq(srv->srv_location_count, 5);

    ck_assert_int_eq(root->loc_match, ZS_LOC_PREFIX);
    ck_assert_str_eq(root->loc_path, "/");
    ck_assert_str_eq(root->loc_root, CONF_DIR "/html");
    ck_assert_int_eq(root->loc_root_fd, -1);
    ck_assert_uint_eq(root->loc_index_count, 2);
    ck_assert_str_eq(root->loc_index[0], "index.html");
    ck_assert_str_eq(root->loc_index[1], "index.htm");
    ck_assert(root->loc_autoindex);
    ck_assert(!root->loc_gzip_static);
    ck_assert(!root->loc_follow_symlinks);
    ck_assert(!root->loc_allow_dotfiles);
    ck_assert_int_eq(root->loc_client_max_body_size, 2 * 1024 * 1024);
    ck_assert_int_eq(root->loc_return_status, 0);
    ck_assert_int_eq(root->loc_line, 25);

    ck_assert_int_eq(health->loc_match, ZS_LOC_EXACT);
    ck_assert_str_eq(health->loc_path, "/healthz");
    ck_assert_uint_eq(health->loc_path_len, 8);
    ck_assert_int_eq(health->loc_return_status, 200);
    ck_assert_str_eq(health->loc_return_text, "ok");
    ck_assert_str_eq(health->loc_root, CONF_DIR "/html");

    ck_assert_int_eq(assets->loc_match, ZS_LOC_PREFIX_NOREGEX);
    ck_assert_str_eq(assets->loc_path, "/assets/");
    ck_assert_str_eq(assets->loc_root, "/srv/assets");
    ck_assert(!assets->loc_autoindex);
    ck_assert(assets->loc_gzip_static);
    ck_assert_uint_eq(assets->loc_index_count, 2);
    ck_assert_int_eq(assets->loc_line, 27);

    ck_assert_int_eq(php->loc_match, ZS_LOC_REGEX_NOCASE);
    ck_assert_str_eq(php->loc_path, "\\.PHP$");
    ck_assert_ptr_nonnull(php->loc_regex);
    ck_assert_uint_eq(php->loc_index_count, 0);
    ck_assert_int_eq(php->loc_client_max_body_size, 16 * 1024 * 1024);
    ck_assert(php->loc_autoindex);

    ck_assert_int_eq(old->loc_return_status, 301);
    ck_assert_str_eq(old->loc_return_text, "https://example.org/new/");
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_regex_location_matches_case_insensitively)
{
    struct zs_config *conf = load_valid();
    const struct zs_location *php = find_location(find_server(conf, "static"), "~* \\.PHP$");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(php->loc_regex, NULL);

    ck_assert_int_gt(pcre2_match(php->loc_regex, (PCRE2_SPTR) "/app/index.php", 14, 0, 0, md, NULL), 0);
    ck_assert_int_eq(pcre2_match(php->loc_regex, (PCRE2_SPTR) "/app/index.phps", 15, 0, 0, md, NULL),
                     PCRE2_ERROR_NOMATCH);
    pcre2_match_data_free(md);
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_server_without_root_location_gets_one)
{
    struct zs_config *conf = load_valid();
    const struct zs_server *app = find_server(conf, "app");
    const struct zs_location *loc = &app->srv_locations[0];

    ck_assert_uint_eq(app->srv_location_count, 1);
    ck_assert_str_eq(loc->loc_title, "/");
    ck_assert_int_eq(loc->loc_match, ZS_LOC_PREFIX);
    ck_assert_str_eq(loc->loc_root, "/srv/app");
    ck_assert_uint_eq(loc->loc_index_count, 1);
    ck_assert_str_eq(loc->loc_index[0], "index.html");
    ck_assert_int_eq(loc->loc_client_max_body_size, 1024 * 1024);
    ck_assert_str_eq(loc->loc_file, app->srv_file);
    ck_assert_int_eq(loc->loc_line, app->srv_line);
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_listeners_merge_with_default_first)
{
    struct zs_config *conf = load_valid();
    const struct zs_server *static_srv = find_server(conf, "static");
    const struct zs_server *app = find_server(conf, "app");
    const struct zs_server *other = find_server(conf, "other");
    const struct zs_server *fallback = find_server(conf, "fallback");
    const struct zs_listener *lis;

    ck_assert_uint_eq(conf->listener_count, 3);

    lis = &conf->listeners[0];
    ck_assert_str_eq(lis->lis_addr, "127.0.0.1:8080");
    ck_assert_int_eq(lis->lis_fd, -1);
    ck_assert_int_eq(lis->lis_sa.ss_family, AF_INET);
    ck_assert_uint_eq(lis->lis_salen, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(lis->lis_server_count, 2);
    ck_assert_ptr_eq(lis->lis_servers[0], fallback);
    ck_assert_ptr_eq(lis->lis_servers[1], static_srv);
    ck_assert_ptr_eq(lis->lis_pool, &conf->pools[0]);

    lis = &conf->listeners[1];
    ck_assert_str_eq(lis->lis_addr, "[::1]:8080");
    ck_assert_int_eq(lis->lis_sa.ss_family, AF_INET6);
    ck_assert_uint_eq(lis->lis_server_count, 1);
    ck_assert_ptr_eq(lis->lis_servers[0], static_srv);

    /* "9090" and "*:9090" are one address; no default, so file order. */
    lis = &conf->listeners[2];
    ck_assert_str_eq(lis->lis_addr, "0.0.0.0:9090");
    ck_assert_uint_eq(lis->lis_server_count, 2);
    ck_assert_ptr_eq(lis->lis_servers[0], app);
    ck_assert_ptr_eq(lis->lis_servers[1], other);
    ck_assert_ptr_eq(lis->lis_pool, &conf->pools[1]);

    ck_assert_uint_eq(conf->pools[0].pool_listener_count, 2);
    ck_assert_ptr_eq(conf->pools[0].pool_listeners[0], &conf->listeners[0]);
    ck_assert_ptr_eq(conf->pools[0].pool_listeners[1], &conf->listeners[1]);
    ck_assert_uint_eq(conf->pools[1].pool_listener_count, 1);
    ck_assert_ptr_eq(conf->pools[1].pool_listeners[0], &conf->listeners[2]);
    zs_conf_free(conf);
}
END_TEST

START_TEST(valid_backend_defaults)
{
    struct zs_config *conf = load_valid();
    const struct zs_location *root = find_location(find_server(conf, "static"), "/");

    ck_assert_int_eq(conf->backend_connect_timeout, 60000);
    ck_assert_int_eq(conf->backend_read_timeout, 60000);
    ck_assert_str_eq(conf->client_body_temp_path, "/tmp");
    ck_assert_uint_eq(conf->app_count, 0);
    ck_assert_int_eq(root->loc_handler, ZS_HANDLER_STATIC);
    ck_assert_uint_eq(root->loc_backend_count, 0);
    ck_assert_ptr_null(root->loc_split_path_info);
    ck_assert_ptr_null(root->loc_split_path_info_source);
    ck_assert_uint_eq(root->loc_param_count, 0);
    ck_assert_int_eq(root->loc_backend_max_requests, 0);
    ck_assert_int_eq(root->loc_backend_queue, 64);
    zs_conf_free(conf);
}
END_TEST

/* ---- apps and application handlers: CONF_DIR/apps ---- */

static struct zs_config *
load_apps(void)
{
    struct zs_conf_errors errs = { 0 };
    struct zs_config *conf = zs_conf_load(CONF_DIR "/apps/main.conf", &errs);

    print_errors(&errs);
    ck_assert_msg(conf != NULL, "apps/main.conf: %zu errors", errs.count);
    zs_conf_errors_clear(&errs);
    return conf;
}

static const struct zs_app *
find_app(const struct zs_config *conf, const char *name)
{
    for (size_t i = 0; i < conf->app_count; i++)
        if (strcmp(conf->apps[i].app_name, name) == 0)
            return &conf->apps[i];
    ck_abort_msg("no app '%s'", name);
    return NULL;
}

static void
assert_param(const struct zs_location *loc, size_t i, const char *name, const char *value)
{
    ck_assert_msg(i < loc->loc_param_count, "location '%s' has %zu parameters", loc->loc_title,
                  loc->loc_param_count);
    ck_assert_str_eq(loc->loc_params[i].name, name);
    ck_assert_str_eq(loc->loc_params[i].value, value);
}

START_TEST(apps_globals)
{
    struct zs_config *conf = load_apps();

    ck_assert_int_eq(conf->backend_connect_timeout, 5000);
    ck_assert_int_eq(conf->backend_read_timeout, 120000);
    ck_assert_str_eq(conf->client_body_temp_path, CONF_DIR "/inc");
    ck_assert_uint_eq(conf->app_count, 3);
    zs_conf_free(conf);
}
END_TEST

START_TEST(apps_fill_every_field)
{
    struct zs_config *conf = load_apps();
    const struct zs_app *php = find_app(conf, "php");
    const struct zs_app *py = find_app(conf, "py");
    static const char *const php_env[] = {
        "PHP_FCGI_CHILDREN=0", "PHP_FCGI_MAX_REQUESTS=500", "PATH=/usr/local/bin:/usr/bin:/bin",
    };

    ck_assert_uint_eq(php->app_command_count, 3);
    ck_assert_str_eq(php->app_command[0], "/bin/sh");
    ck_assert_str_eq(php->app_command[1], "-c");
    ck_assert_str_eq(php->app_command[2], "exec php-cgi");
    ck_assert_ptr_null(php->app_command[3]);
    ck_assert_uint_eq(php->app_env_count, N_ROWS(php_env));
    for (size_t i = 0; i < N_ROWS(php_env); i++)
        ck_assert_str_eq(php->app_env[i], php_env[i]);
    ck_assert_ptr_null(php->app_env[N_ROWS(php_env)]);
    ck_assert_int_eq(php->app_processes, 4);
    ck_assert_str_eq(php->app_user, "www-data");
    ck_assert_str_eq(php->app_group, "www-data");
    ck_assert(!php->app_allow_root);
    ck_assert_str_eq(php->app_dir, CONF_DIR);
    ck_assert_str_eq(php->app_file, CONF_DIR "/apps/main.conf");
    ck_assert_int_eq(php->app_line, 10);

    /* An env that sets PATH gets no default PATH. */
    ck_assert_uint_eq(py->app_env_count, 1);
    ck_assert_str_eq(py->app_env[0], "PATH=/opt/py/bin");
    ck_assert_ptr_null(py->app_env[1]);
    ck_assert_uint_eq(py->app_command_count, 1);
    ck_assert_ptr_null(py->app_command[1]);
    ck_assert_int_eq(py->app_processes, 1);
    ck_assert_str_eq(py->app_socket, "/tmp/zs-test-py.sock");
    ck_assert_ptr_null(py->app_dir);
    zs_conf_free(conf);
}
END_TEST

START_TEST(apps_resolve_users_like_pools)
{
    struct zs_config *conf = load_apps();
    const struct zs_app *php = find_app(conf, "php");

    ck_assert_uint_eq(php->app_uid, conf->pools[0].pool_uid);
    ck_assert_uint_eq(php->app_gid, conf->pools[0].pool_gid);
    ck_assert_int_eq(php->app_group_count, conf->pools[0].pool_group_count);
    for (int i = 0; i < php->app_group_count; i++)
        ck_assert_uint_eq(php->app_groups[i], conf->pools[0].pool_groups[i]);
    if (geteuid() != 0) {
        ck_assert_uint_eq(php->app_uid, geteuid());
        ck_assert_ptr_null(php->app_groups);
    }
    zs_conf_free(conf);
}
END_TEST

/* Without `socket`: /run/zserver when the master runs as root, else the pid file's directory. */
START_TEST(apps_default_socket)
{
    struct zs_config *conf = load_apps();
    const char *expected = geteuid() == 0 ? "/run/zserver/app-php.sock" : CONF_DIR "/apps/run/app-php.sock";

    ck_assert_str_eq(find_app(conf, "php")->app_socket, expected);
    zs_conf_free(conf);
}
END_TEST

/* The default socket of a 95-byte name passes the 107-byte limit in either directory. */
START_TEST(apps_default_socket_too_long)
{
    struct zs_conf_errors errs = { 0 };
    char name[96];
    char expected[512];

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(expected, sizeof(expected),
             "%s/app_default_socket.conf:2: app '%s': default socket '%s/app-%s.sock': "
             "the socket path is longer than 107 bytes (set socket to a shorter path)",
             CONF_DIR, name, geteuid() == 0 ? "/run/zserver" : "/run", name);
    ck_assert_ptr_null(zs_conf_load(CONF_DIR "/app_default_socket.conf", &errs));
    if (errs.count != 1)
        print_errors(&errs);
    ck_assert_uint_eq(errs.count, 1);
    ck_assert_str_eq(errs.msgs[0], expected);
    zs_conf_errors_clear(&errs);
}
END_TEST

START_TEST(apps_fastcgi_location)
{
    struct zs_config *conf = load_apps();
    const struct zs_location *loc = find_location(find_server(conf, "php"), "~ \\.php(/|$)");
    const struct zs_backend *be = loc->loc_backends;
    const struct sockaddr_un *sa_un = (const struct sockaddr_un *)&be[0].be_sa;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&be[1].be_sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&be[2].be_sa;
    const struct sockaddr_un *fpm = (const struct sockaddr_un *)&be[3].be_sa;

    ck_assert_int_eq(loc->loc_handler, ZS_HANDLER_FASTCGI);
    ck_assert_uint_eq(loc->loc_backend_count, 4);

    ck_assert_str_eq(be[0].be_addr, "app:php");
    ck_assert_ptr_eq(be[0].be_app, find_app(conf, "php"));
    ck_assert_int_eq(sa_un->sun_family, AF_UNIX);
    ck_assert_str_eq(sa_un->sun_path, find_app(conf, "php")->app_socket);
    ck_assert_uint_eq(be[0].be_salen, offsetof(struct sockaddr_un, sun_path) + strlen(sa_un->sun_path) + 1);

    ck_assert_str_eq(be[1].be_addr, "127.0.0.1:9000");
    ck_assert_ptr_null(be[1].be_app);
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(sin->sin_port), 9000);
    ck_assert_uint_eq(be[1].be_salen, sizeof(*sin));

    ck_assert_str_eq(be[2].be_addr, "[::1]:9001");
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    ck_assert_uint_eq(be[2].be_salen, sizeof(*sin6));

    ck_assert_str_eq(be[3].be_addr, "unix:/run/php-fpm.sock");
    ck_assert_str_eq(fpm->sun_path, "/run/php-fpm.sock");

    /* Parameters and backend_max_requests come from the server, backend_queue from the location. */
    ck_assert_uint_eq(loc->loc_param_count, 2);
    assert_param(loc, 0, "APP_ENV", "test");
    assert_param(loc, 1, "EMPTY", "");
    ck_assert_int_eq(loc->loc_backend_max_requests, 8);
    ck_assert_int_eq(loc->loc_backend_queue, 0);
    zs_conf_free(conf);
}
END_TEST

START_TEST(apps_split_path_info_captures)
{
    struct zs_config *conf = load_apps();
    const struct zs_location *loc = find_location(find_server(conf, "php"), "~ \\.php(/|$)");
    const char *path = "/app/index.php/users/7";
    pcre2_match_data *md;
    PCRE2_SIZE *ovector;

    ck_assert_str_eq(loc->loc_split_path_info_source, "^(.+\\.php)(/.*)$");
    ck_assert_ptr_nonnull(loc->loc_split_path_info);
    md = pcre2_match_data_create_from_pattern(loc->loc_split_path_info, NULL);
    ck_assert_int_eq(pcre2_match(loc->loc_split_path_info, (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL), 3);
    ovector = pcre2_get_ovector_pointer(md);
    ck_assert_uint_eq(ovector[2], 0);
    ck_assert_uint_eq(ovector[3], strlen("/app/index.php"));
    ck_assert_uint_eq(ovector[4], strlen("/app/index.php"));
    ck_assert_uint_eq(ovector[5], strlen(path));
    pcre2_match_data_free(md);
    zs_conf_free(conf);
}
END_TEST

START_TEST(apps_scgi_and_cgi_locations)
{
    struct zs_config *conf = load_apps();
    const struct zs_server *srv = find_server(conf, "php");
    const struct zs_location *py = find_location(srv, "/py/");
    const struct zs_location *cgi = find_location(srv, "/cgi-bin/");

    ck_assert_int_eq(py->loc_handler, ZS_HANDLER_SCGI);
    ck_assert_uint_eq(py->loc_backend_count, 1);
    ck_assert_str_eq(py->loc_backends[0].be_addr, "app:py");
    ck_assert_ptr_eq(py->loc_backends[0].be_app, find_app(conf, "py"));
    ck_assert_str_eq(((const struct sockaddr_un *)&py->loc_backends[0].be_sa)->sun_path, "/tmp/zs-test-py.sock");
    /* A location's parameters replace its server's. */
    ck_assert_uint_eq(py->loc_param_count, 1);
    assert_param(py, 0, "SCRIPT_NAME", "/py");
    ck_assert_int_eq(py->loc_backend_max_requests, 8);
    ck_assert_int_eq(py->loc_backend_queue, 64);
    ck_assert_ptr_null(py->loc_split_path_info);

    ck_assert_int_eq(cgi->loc_handler, ZS_HANDLER_CGI);
    ck_assert_uint_eq(cgi->loc_backend_count, 0);
    ck_assert_uint_eq(cgi->loc_param_count, 2);
    assert_param(cgi, 0, "B", "2");
    assert_param(cgi, 1, "A", "1");
    zs_conf_free(conf);
}
END_TEST

START_TEST(apps_static_locations_have_no_backend)
{
    struct zs_config *conf = load_apps();
    const struct zs_server *srv = find_server(conf, "php");
    static const char *const titles[] = { "/files/", "= /healthz", "/" };

    for (size_t i = 0; i < N_ROWS(titles); i++) {
        const struct zs_location *loc = find_location(srv, titles[i]);

        ck_assert_msg(loc->loc_handler == ZS_HANDLER_STATIC, "location '%s': handler %d", titles[i],
                      (int)loc->loc_handler);
        ck_assert_uint_eq(loc->loc_backend_count, 0);
        ck_assert_uint_eq(loc->loc_param_count, 2);
    }
    ck_assert_int_eq(find_location(srv, "= /healthz")->loc_return_status, 200);
    zs_conf_free(conf);
}
END_TEST

/* A location that sets cgi, fastcgi_pass or scgi_pass takes none of them from its server. */
START_TEST(apps_handler_inherited_as_group)
{
    struct zs_config *conf = load_apps();
    const struct zs_server *srv = find_server(conf, "app");
    const struct zs_location *root = find_location(srv, "/");
    const struct zs_location *static_loc = find_location(srv, "/static/");
    const struct zs_location *other = find_location(srv, "/other/");

    ck_assert_int_eq(root->loc_handler, ZS_HANDLER_FASTCGI);
    ck_assert_uint_eq(root->loc_backend_count, 1);
    ck_assert_str_eq(root->loc_backends[0].be_addr, "app:py");
    ck_assert_ptr_eq(root->loc_backends[0].be_app, find_app(conf, "py"));

    ck_assert_int_eq(static_loc->loc_handler, ZS_HANDLER_STATIC);
    ck_assert_uint_eq(static_loc->loc_backend_count, 0);

    ck_assert_int_eq(other->loc_handler, ZS_HANDLER_FASTCGI);
    ck_assert_uint_eq(other->loc_backend_count, 1);
    ck_assert_str_eq(other->loc_backends[0].be_addr, "127.0.0.1:9002");
    ck_assert_ptr_null(other->loc_backends[0].be_app);
    zs_conf_free(conf);
}
END_TEST

/* ---- -T output ---- */

static char *
dump_to_string(const struct zs_config *conf)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(out);
    zs_conf_dump(conf, out);
    fclose(out);
    return text;
}

START_TEST(dump_names_files_and_resolved_values)
{
    struct zs_config *conf = load_valid();
    char *text = dump_to_string(conf);
    static const char *const lines[] = {
        "# configuration file " CONF_DIR "/valid/main.conf\n",
        "# configuration file " CONF_DIR "/valid/sub/more.conf\n",
        "\nkeepalive_timeout = 500ms\n",
        "\nsend_timeout = 2m\n",
        "\nclient_header_timeout = 1m\n",
        "\nlog_level = info\n",
        "\npool app {\n",
        "\n    workers = 3\n",
        "\nserver static {\n    listen = {127.0.0.1:8080, '[::1]:8080'}\n",
        "\n    location '~* \\.PHP$' {\n        root = " CONF_DIR "/html\n        index = {}\n",
        "\n        client_max_body_size = 16m\n",
        "\n        return = '301 https://example.org/new/'\n",
        "\n# 127.0.0.1:8080 pool default: fallback static\n",
        "\n# 0.0.0.0:9090 pool app: app other\n",
    };

    for (size_t i = 0; i < N_ROWS(lines); i++)
        ck_assert_msg(strstr(text, lines[i]) != NULL, "the dump lacks\n%s\nin\n%s", lines[i], text);
    free(text);
    zs_conf_free(conf);
}
END_TEST

START_TEST(dump_prints_apps_and_handlers)
{
    struct zs_config *conf = load_apps();
    char *text = dump_to_string(conf);
    static const char *const lines[] = {
        "\nbackend_connect_timeout = 5s\nbackend_read_timeout = 2m\n"
        "client_body_temp_path = " CONF_DIR "/inc\n",
        "\napp php {\n",
        "\n    command = {/bin/sh, -c, 'exec php-cgi'}\n    processes = 4\n    user = www-data\n"
        "    group = www-data\n    allow_root = false\n",
        "\n    env = {'PHP_FCGI_CHILDREN=0', 'PHP_FCGI_MAX_REQUESTS=500', 'PATH=/usr/local/bin:/usr/bin:/bin'}\n"
        "    directory = " CONF_DIR "\n}\n",
        "\n    socket = /tmp/zs-test-py.sock\n    env = {'PATH=/opt/py/bin'}\n}\n",
        "\n        fastcgi_pass = {app:php, 127.0.0.1:9000, '[::1]:9001', unix:/run/php-fpm.sock}\n"
        "        cgi = false\n        fastcgi_split_path_info = '^(.+\\.php)(/.*)$'\n"
        "        fastcgi_param = {'APP_ENV=test', 'EMPTY='}\n"
        "        backend_max_requests = 8\n        backend_queue = 0\n",
        "\n        scgi_pass = {app:py}\n        cgi = false\n        scgi_param = {'SCRIPT_NAME=/py'}\n",
        "\n        cgi = true\n        cgi_param = {'B=2', 'A=1'}\n",
        "\n        fastcgi_pass = {127.0.0.1:9002}\n",
    };

    /* The dump is too long for a Check message, so it goes to standard error. */
    for (size_t i = 0; i < N_ROWS(lines); i++) {
        if (strstr(text, lines[i]) == NULL)
            fprintf(stderr, "the dump:\n%s\n", text);
        ck_assert_msg(strstr(text, lines[i]) != NULL, "the dump lacks\n%s", lines[i]);
    }
    free(text);
    zs_conf_free(conf);
}
END_TEST

static const char *const dump_fixtures[] = { "valid/main.conf", "apps/main.conf" };

/* Loads the dump of a valid configuration back and compares the two dumps:
 * apart from the file names, every printed value must survive. */
START_TEST(dump_loads_back_to_the_same_configuration)
{
    struct zs_conf_errors first_errs = { 0 };
    char fixture[4096];
    struct zs_config *conf;
    char *first;
    char dir[] = "/tmp/zs-check-conf-XXXXXX";
    char path[256];
    struct zs_conf_errors errs = { 0 };
    struct zs_config *again;
    char *second;
    FILE *fp;

    snprintf(fixture, sizeof(fixture), "%s/%s", CONF_DIR, dump_fixtures[_i]);
    conf = zs_conf_load(fixture, &first_errs);
    print_errors(&first_errs);
    ck_assert_msg(conf != NULL, "%s did not load", fixture);
    zs_conf_errors_clear(&first_errs);
    first = dump_to_string(conf);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/dump.conf", dir);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(first, fp);
    fclose(fp);
    again = zs_conf_load(path, &errs);
    print_errors(&errs);
    ck_assert_msg(again != NULL, "the dump of %s did not load", fixture);
    zs_conf_errors_clear(&errs);
    second = dump_to_string(again);
    /* Skip the "# configuration file" lines, which differ. */
    ck_assert_str_eq(strstr(first, "\n\n"), strstr(second, "\n\n"));
    unlink(path);
    rmdir(dir);
    free(first);
    free(second);
    zs_conf_free(again);
    zs_conf_free(conf);
}
END_TEST

START_TEST(free_accepts_null)
{
    zs_conf_free(NULL);
    zs_conf_errors_clear(NULL);
}
END_TEST

/* ---- value parsers ---- */

struct duration_row {
    const char *desc;
    int line;
    const char *text;
    long expected;
};

#define DUR(desc, text, expected) { desc, __LINE__, text, expected }

static const struct duration_row duration_rows[] = {
    DUR("bare number is seconds", "75", 75000),
    DUR("seconds", "60s", 60000),
    DUR("milliseconds", "500ms", 500),
    DUR("minutes", "2m", 120000),
    DUR("hours", "1h", 3600000),
    DUR("days", "1d", 86400000),
    DUR("zero", "0", 0),
    DUR("empty", "", -1),
    DUR("unit alone", "s", -1),
    DUR("negative", "-1s", -1),
    DUR("plus sign", "+1s", -1),
    DUR("space before unit", "1 s", -1),
    DUR("leading space", " 1s", -1),
    DUR("unknown unit", "1w", -1),
    DUR("upper-case unit", "1S", -1),
    DUR("two units", "1m30s", -1),
    DUR("fraction", "1.5s", -1),
    DUR("overflow", "99999999999999999999", -1),
    DUR("overflow after unit", "9223372036854775807d", -1),
};

START_TEST(parse_duration_returns_milliseconds)
{
    const struct duration_row *row = &duration_rows[_i];
    long got = zs_conf_parse_duration(row->text);

    ck_assert_msg(got == row->expected, "%s (line %d): '%s' gave %ld, expected %ld", row->desc, row->line,
                  row->text, got, row->expected);
}
END_TEST

struct size_row {
    const char *desc;
    int line;
    const char *text;
    int64_t expected;
};

#define SIZE(desc, text, expected) { desc, __LINE__, text, expected }

static const struct size_row size_rows[] = {
    SIZE("bytes", "1024", 1024),
    SIZE("zero", "0", 0),
    SIZE("kibibytes", "64k", 65536),
    SIZE("upper-case K", "64K", 65536),
    SIZE("mebibytes", "1m", 1048576),
    SIZE("upper-case M", "1M", 1048576),
    SIZE("gibibytes", "1g", INT64_C(1073741824)),
    SIZE("large gibibytes", "100g", INT64_C(107374182400)),
    SIZE("empty", "", -1),
    SIZE("unit alone", "k", -1),
    SIZE("two-letter unit", "1kb", -1),
    SIZE("terabytes are not supported", "1t", -1),
    SIZE("negative", "-1", -1),
    SIZE("space", "1 k", -1),
    SIZE("overflow with unit", "9223372036854775807k", -1),
    SIZE("overflow", "99999999999999999999", -1),
};

START_TEST(parse_size_returns_bytes)
{
    const struct size_row *row = &size_rows[_i];
    int64_t got = zs_conf_parse_size(row->text);

    ck_assert_msg(got == row->expected, "%s (line %d): '%s' gave %lld, expected %lld", row->desc, row->line,
                  row->text, (long long)got, (long long)row->expected);
}
END_TEST

struct listen_row {
    const char *desc;
    int line;
    const char *text;
    const char *expected;        /* normalised address, or NULL */
    const char *error;           /* expected reason when expected is NULL */
};

#define LISTEN_OK(desc, text, expected) { desc, __LINE__, text, expected, NULL }
#define LISTEN_BAD(desc, text, error) { desc, __LINE__, text, NULL, error }

static const struct listen_row listen_rows[] = {
    LISTEN_OK("IPv4 address and port", "127.0.0.1:8080", "127.0.0.1:8080"),
    LISTEN_OK("IPv6 loopback", "[::1]:8080", "[::1]:8080"),
    LISTEN_OK("IPv6 any", "[::]:80", "[::]:80"),
    LISTEN_OK("IPv6 normalised", "[0:0:0:0:0:0:0:1]:443", "[::1]:443"),
    LISTEN_OK("asterisk is all IPv4 addresses", "*:80", "0.0.0.0:80"),
    LISTEN_OK("explicit any", "0.0.0.0:80", "0.0.0.0:80"),
    LISTEN_OK("bare port", "8080", "0.0.0.0:8080"),
    LISTEN_OK("highest port", "65535", "0.0.0.0:65535"),
    LISTEN_OK("unix socket", "unix:/run/zserver.sock", "unix:/run/zserver.sock"),
    LISTEN_BAD("host name", "localhost:80", "'localhost' is not an IP address (host names are not resolved)"),
    LISTEN_BAD("host name without port", "example.org", "'example.org' is not an IP address (host names are not resolved)"),
    LISTEN_BAD("address without port", "127.0.0.1", "missing port (expected ADDRESS:PORT)"),
    LISTEN_BAD("empty port", "127.0.0.1:", "missing port (expected ADDRESS:PORT)"),
    LISTEN_BAD("port zero", "0", "invalid port '0' (expected 1 to 65535)"),
    LISTEN_BAD("port too large", "127.0.0.1:65536", "invalid port '65536' (expected 1 to 65535)"),
    LISTEN_BAD("port with letters", "127.0.0.1:80a", "invalid port '80a' (expected 1 to 65535)"),
    LISTEN_BAD("bad IPv4 address", "127.0.0.256:80", "invalid IPv4 address '127.0.0.256'"),
    LISTEN_BAD("IPv6 without brackets", "::1:80", "an IPv6 address must be in brackets, as in [::1]:8080"),
    LISTEN_BAD("IPv6 without port", "[::1]", "missing port (expected [ADDRESS]:PORT)"),
    LISTEN_BAD("IPv6 without closing bracket", "[::1:80", "missing ']'"),
    LISTEN_BAD("bad IPv6 address", "[::g]:80", "invalid IPv6 address '::g'"),
    LISTEN_BAD("relative unix socket", "unix:zserver.sock", "the socket path must be absolute"),
    LISTEN_BAD("empty", "", "missing port (expected ADDRESS:PORT)"),
};

START_TEST(parse_listen_normalises_addresses)
{
    const struct listen_row *row = &listen_rows[_i];
    struct zs_listener lis;
    char err[256] = "";
    int rc = zs_conf_parse_listen(row->text, &lis, err, sizeof(err));

    if (row->expected == NULL) {
        ck_assert_msg(rc == -1, "%s (line %d): '%s' was accepted", row->desc, row->line, row->text);
        ck_assert_msg(strcmp(err, row->error) == 0, "%s (line %d): reason '%s', expected '%s'", row->desc,
                      row->line, err, row->error);
        ck_assert_ptr_null(lis.lis_addr);
        return;
    }
    ck_assert_msg(rc == 0, "%s (line %d): '%s' rejected: %s", row->desc, row->line, row->text, err);
    ck_assert_msg(strcmp(lis.lis_addr, row->expected) == 0, "%s (line %d): '%s' gave '%s', expected '%s'",
                  row->desc, row->line, row->text, lis.lis_addr, row->expected);
    ck_assert_int_eq(lis.lis_fd, -1);
    free(lis.lis_addr);
}
END_TEST

START_TEST(parse_listen_fills_socket_addresses)
{
    struct zs_listener lis;
    struct sockaddr_in *sin = (struct sockaddr_in *)&lis.lis_sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&lis.lis_sa;
    struct sockaddr_un *sa_un = (struct sockaddr_un *)&lis.lis_sa;
    char err[256];

    ck_assert_int_eq(zs_conf_parse_listen("127.0.0.1:8080", &lis, err, sizeof(err)), 0);
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    ck_assert_uint_eq(lis.lis_salen, sizeof(*sin));
    free(lis.lis_addr);

    ck_assert_int_eq(zs_conf_parse_listen("[::1]:443", &lis, err, sizeof(err)), 0);
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(ntohs(sin6->sin6_port), 443);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    ck_assert_uint_eq(lis.lis_salen, sizeof(*sin6));
    free(lis.lis_addr);

    ck_assert_int_eq(zs_conf_parse_listen("unix:/run/z.sock", &lis, err, sizeof(err)), 0);
    ck_assert_int_eq(sa_un->sun_family, AF_UNIX);
    ck_assert_str_eq(sa_un->sun_path, "/run/z.sock");
    ck_assert_uint_eq(lis.lis_salen, offsetof(struct sockaddr_un, sun_path) + strlen("/run/z.sock") + 1);
    free(lis.lis_addr);
}
END_TEST

START_TEST(parse_listen_rejects_long_unix_path)
{
    struct zs_listener lis;
    char text[256];
    char err[256];

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "unix:/", 6);
    ck_assert_int_eq(zs_conf_parse_listen(text, &lis, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "the socket path is longer than 107 bytes");
}
END_TEST

struct backend_row {
    const char *desc;
    int line;
    const char *text;
    const char *expected;        /* be_addr, or NULL */
    const char *error;           /* expected reason when expected is NULL */
};

#define BACKEND_OK(desc, text, expected) { desc, __LINE__, text, expected, NULL }
#define BACKEND_BAD(desc, text, error) { desc, __LINE__, text, NULL, error }

static const struct backend_row backend_rows[] = {
    BACKEND_OK("IPv4 address", "127.0.0.1:9000", "127.0.0.1:9000"),
    BACKEND_OK("IPv6 address normalised", "[0:0:0:0:0:0:0:1]:9000", "[::1]:9000"),
    BACKEND_OK("unix socket", "unix:/run/php/php-fpm.sock", "unix:/run/php/php-fpm.sock"),
    BACKEND_OK("app", "app:php", "app:php"),
    BACKEND_OK("app name with dots, dashes and underscores", "app:my_app-2.0", "app:my_app-2.0"),
    BACKEND_BAD("host name", "localhost:9000", "'localhost' is not an IP address (host names are not resolved)"),
    BACKEND_BAD("bare port is a wildcard", "9000",
                "0.0.0.0 is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)"),
    BACKEND_BAD("asterisk is a wildcard", "*:9000",
                "0.0.0.0 is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)"),
    BACKEND_BAD("IPv6 wildcard", "[::]:9000",
                "[::] is a wildcard address (expected the address of one host, as in 127.0.0.1:9000)"),
    BACKEND_BAD("address without port", "127.0.0.1", "missing port (expected ADDRESS:PORT)"),
    BACKEND_BAD("relative unix socket", "unix:php.sock", "the socket path must be absolute"),
    BACKEND_BAD("app without name", "app:", "missing app name"),
    BACKEND_BAD("app name with a slash", "app:../x",
                "invalid app name '../x' (expected letters, digits, '.', '-' and '_')"),
    BACKEND_BAD("app name with a blank", "app:my app",
                "invalid app name 'my app' (expected letters, digits, '.', '-' and '_')"),
};

START_TEST(parse_backend_one_host_or_app)
{
    const struct backend_row *row = &backend_rows[_i];
    struct zs_backend backend;
    char err[256] = "";
    int rc = zs_conf_parse_backend(row->text, &backend, err, sizeof(err));

    if (row->expected == NULL) {
        ck_assert_msg(rc == -1, "%s (line %d): '%s' was accepted", row->desc, row->line, row->text);
        ck_assert_msg(strcmp(err, row->error) == 0, "%s (line %d): reason '%s', expected '%s'", row->desc,
                      row->line, err, row->error);
        ck_assert_ptr_null(backend.be_addr);
        return;
    }
    ck_assert_msg(rc == 0, "%s (line %d): '%s' rejected: %s", row->desc, row->line, row->text, err);
    ck_assert_msg(strcmp(backend.be_addr, row->expected) == 0, "%s (line %d): '%s' gave '%s', expected '%s'",
                  row->desc, row->line, row->text, backend.be_addr, row->expected);
    ck_assert_ptr_null(backend.be_app);
    /* The socket address of "app:NAME" is the app's, filled in when the location is built. */
    if (strncmp(row->text, "app:", 4) == 0)
        ck_assert_uint_eq(backend.be_salen, 0);
    else
        ck_assert_uint_gt(backend.be_salen, 0);
    free(backend.be_addr);
}
END_TEST

struct param_row {
    const char *desc;
    int line;
    const char *text;
    int expected_name_len;       /* -1 when the entry is invalid */
    const char *error;
};

#define PARAM_OK(desc, text, name_len) { desc, __LINE__, text, name_len, NULL }
#define PARAM_BAD(desc, text, error) { desc, __LINE__, text, -1, error }

static const struct param_row param_rows[] = {
    PARAM_OK("name and value", "SCRIPT_FILENAME=/srv/www/index.php", 15),
    PARAM_OK("empty value", "HTTPS=", 5),
    PARAM_OK("value with '='", "QUERY=a=b", 5),
    PARAM_OK("lower case and digits", "php_value2=x", 10),
    PARAM_OK("leading digit", "1X=y", 2),
    PARAM_BAD("no '='", "HTTPS", "'HTTPS' has no '=' (expected NAME=value)"),
    PARAM_BAD("empty name", "=x", "'=x' has no name before '=' (expected NAME=value)"),
    PARAM_BAD("dash in name", "X-Y=1", "invalid name 'X-Y' in 'X-Y=1' (expected letters, digits and '_')"),
    PARAM_BAD("blank in name", "A B=1", "invalid name 'A B' in 'A B=1' (expected letters, digits and '_')"),
    PARAM_BAD("blank before '='", "A =1", "invalid name 'A ' in 'A =1' (expected letters, digits and '_')"),
    PARAM_BAD("empty", "", "'' has no '=' (expected NAME=value)"),
};

START_TEST(parse_param_splits_name)
{
    const struct param_row *row = &param_rows[_i];
    size_t name_len = 0;
    char err[256] = "";
    int rc = zs_conf_parse_param(row->text, &name_len, err, sizeof(err));

    if (row->expected_name_len == -1) {
        ck_assert_msg(rc == -1, "%s (line %d): '%s' was accepted", row->desc, row->line, row->text);
        ck_assert_msg(strcmp(err, row->error) == 0, "%s (line %d): reason '%s', expected '%s'", row->desc,
                      row->line, err, row->error);
        return;
    }
    ck_assert_msg(rc == 0, "%s (line %d): '%s' rejected: %s", row->desc, row->line, row->text, err);
    ck_assert_msg(name_len == (size_t)row->expected_name_len, "%s (line %d): name length %zu, expected %d",
                  row->desc, row->line, name_len, row->expected_name_len);
}
END_TEST

static Suite *
conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("errors");

    tcase_add_loop_test(tc, load_reports_exact_errors, 0, N_ROWS(error_rows));
    tcase_add_test(tc, load_appends_to_existing_errors);
    tcase_add_test(tc, load_without_error_list_still_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_test(tc, valid_globals_and_relative_paths);
    tcase_add_test(tc, valid_includes_are_read_in_sorted_order);
    tcase_add_test(tc, valid_pools_resolve_users_and_workers);
    tcase_add_test(tc, valid_server_values);
    tcase_add_test(tc, valid_locations_inherit_server_values);
    tcase_add_test(tc, valid_regex_location_matches_case_insensitively);
    tcase_add_test(tc, valid_server_without_root_location_gets_one);
    tcase_add_test(tc, valid_listeners_merge_with_default_first);
    tcase_add_test(tc, valid_backend_defaults);
    tcase_add_test(tc, free_accepts_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("apps");
    tcase_add_test(tc, apps_globals);
    tcase_add_test(tc, apps_fill_every_field);
    tcase_add_test(tc, apps_resolve_users_like_pools);
    tcase_add_test(tc, apps_default_socket);
    tcase_add_test(tc, apps_default_socket_too_long);
    tcase_add_test(tc, apps_fastcgi_location);
    tcase_add_test(tc, apps_split_path_info_captures);
    tcase_add_test(tc, apps_scgi_and_cgi_locations);
    tcase_add_test(tc, apps_static_locations_have_no_backend);
    tcase_add_test(tc, apps_handler_inherited_as_group);
    suite_add_tcase(s, tc);

    tc = tcase_create("dump");
    tcase_add_test(tc, dump_names_files_and_resolved_values);
    tcase_add_test(tc, dump_prints_apps_and_handlers);
    tcase_add_loop_test(tc, dump_loads_back_to_the_same_configuration, 0, N_ROWS(dump_fixtures));
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_loop_test(tc, parse_duration_returns_milliseconds, 0, N_ROWS(duration_rows));
    tcase_add_loop_test(tc, parse_size_returns_bytes, 0, N_ROWS(size_rows));
    tcase_add_loop_test(tc, parse_listen_normalises_addresses, 0, N_ROWS(listen_rows));
    tcase_add_test(tc, parse_listen_fills_socket_addresses);
    tcase_add_test(tc, parse_listen_rejects_long_unix_path);
    tcase_add_loop_test(tc, parse_backend_one_host_or_app, 0, N_ROWS(backend_rows));
    tcase_add_loop_test(tc, parse_param_splits_name, 0, N_ROWS(param_rows));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(conf_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
