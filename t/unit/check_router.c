/* Unit tests for routing: the server by Host, then the location by path. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker/worker.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

/* ---- locations ---- */

struct location_spec {
    const char *title;
    enum zs_loc_match match;
    const char *path;            /* prefix, exact path or regular expression */
};

/* The main server's locations, in configuration order. The exact "= /docs/"
 * comes after the prefix "/docs/" so that a match cannot depend on order. */
static const struct location_spec main_specs[] = {
    { "= /exact", ZS_LOC_EXACT, "/exact" },
    { "/", ZS_LOC_PREFIX, "/" },
    { "/docs/", ZS_LOC_PREFIX, "/docs/" },
    { "/docs/api/", ZS_LOC_PREFIX, "/docs/api/" },
    { "^~ /static/", ZS_LOC_PREFIX_NOREGEX, "/static/" },
    { "/static/js/", ZS_LOC_PREFIX, "/static/js/" },
    { "~ \\.php$", ZS_LOC_REGEX, "\\.php$" },
    { "~ ^/docs/.*\\.php$", ZS_LOC_REGEX, "^/docs/.*\\.php$" },
    { "~* \\.(png|jpg)$", ZS_LOC_REGEX_NOCASE, "\\.(png|jpg)$" },
    { "/images/", ZS_LOC_PREFIX, "/images/" },
    { "= /docs/", ZS_LOC_EXACT, "/docs/" },
    { "= /", ZS_LOC_EXACT, "/" },
};

/* A server without a "/" location, so that some paths match nothing. */
static const struct location_spec sparse_specs[] = {
    { "= /a", ZS_LOC_EXACT, "/a" },
    { "/b/", ZS_LOC_PREFIX, "/b/" },
    { "~ c$", ZS_LOC_REGEX, "c$" },
};

static struct zs_server main_srv, sparse_srv;

static void
locations_build(struct zs_server *srv, const struct location_spec *specs, size_t count)
{
    srv->srv_locations = calloc(count, sizeof(*srv->srv_locations));
    ck_assert_ptr_nonnull(srv->srv_locations);
    srv->srv_location_count = count;

    for (size_t i = 0; i < count; i++) {
        struct zs_location *loc = &srv->srv_locations[i];

        loc->loc_title = (char *)specs[i].title;
        loc->loc_match = specs[i].match;
        loc->loc_path = (char *)specs[i].path;
        loc->loc_path_len = strlen(specs[i].path);
        loc->loc_root_fd = -1;
        if (loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE) {
            int code;
            PCRE2_SIZE offset;
            uint32_t options = loc->loc_match == ZS_LOC_REGEX_NOCASE ? PCRE2_CASELESS : 0;

            loc->loc_regex = pcre2_compile((PCRE2_SPTR)loc->loc_path, PCRE2_ZERO_TERMINATED, options,
                                           &code, &offset, NULL);
            ck_assert_msg(loc->loc_regex != NULL, "location '%s': regular expression does not compile",
                          loc->loc_title);
        }
    }
}

static void
locations_free(struct zs_server *srv)
{
    for (size_t i = 0; i < srv->srv_location_count; i++)
        pcre2_code_free(srv->srv_locations[i].loc_regex);
    free(srv->srv_locations);
    srv->srv_locations = NULL;
    srv->srv_location_count = 0;
}

static void
locations_setup(void)
{
    locations_build(&main_srv, main_specs, N_ROWS(main_specs));
    locations_build(&sparse_srv, sparse_specs, N_ROWS(sparse_specs));
}

static void
locations_teardown(void)
{
    locations_free(&main_srv);
    locations_free(&sparse_srv);
}

struct location_row {
    const char *desc;
    int line;
    const struct zs_server *srv;
    const char *path;
    const char *expected;        /* title of the expected location, NULL for no match */
};

#define LOC(desc, srv, path, expected) { desc, __LINE__, srv, path, expected }

static const struct location_row location_rows[] = {
    LOC("exact match", &main_srv, "/exact", "= /exact"),
    LOC("exact needs the whole path", &main_srv, "/exact/", "/"),
    LOC("exact is not a prefix", &main_srv, "/exactly", "/"),
    LOC("exact beats an equal prefix listed first", &main_srv, "/docs/", "= /docs/"),
    LOC("exact root beats prefix root", &main_srv, "/", "= /"),
    LOC("shortest path falls to the root prefix", &main_srv, "/x", "/"),
    LOC("prefix", &main_srv, "/docs/intro.html", "/docs/"),
    LOC("longest prefix wins", &main_srv, "/docs/api/index.html", "/docs/api/"),
    LOC("longer prefix does not match a shorter path", &main_srv, "/docs/api", "/docs/"),
    LOC("prefix is case-sensitive", &main_srv, "/DOCS/intro.html", "/"),
    LOC("prefix needs its trailing slash", &main_srv, "/static", "/"),
    LOC("^~ stops the regular expressions", &main_srv, "/static/a.php", "^~ /static/"),
    LOC("^~ stops a case-insensitive regex", &main_srv, "/static/logo.png", "^~ /static/"),
    LOC("^~ that is not the longest prefix does not stop regex", &main_srv, "/static/js/app.php",
        "~ \\.php$"),
    LOC("longer plain prefix inside ^~ wins without regex match", &main_srv, "/static/js/app.js",
        "/static/js/"),
    LOC("regex beats the root prefix", &main_srv, "/index.php", "~ \\.php$"),
    LOC("regex beats a longer prefix", &main_srv, "/docs/api/x.php", "~ \\.php$"),
    LOC("first matching regex in order wins", &main_srv, "/docs/y.php", "~ \\.php$"),
    LOC("regex is case-sensitive with ~", &main_srv, "/index.PHP", "/"),
    LOC("~* matches upper case", &main_srv, "/images/A.PNG", "~* \\.(png|jpg)$"),
    LOC("~* matches mixed case", &main_srv, "/photo.Jpg", "~* \\.(png|jpg)$"),
    LOC("no regex match keeps the prefix", &main_srv, "/images/a.gif", "/images/"),
    LOC("regex is not anchored at the start", &main_srv, "/a/b/c.php", "~ \\.php$"),
    LOC("exact beats a regex", &sparse_srv, "/a", "= /a"),
    LOC("no match is NULL", &sparse_srv, "/z", NULL),
    LOC("no match for a prefix without its slash", &sparse_srv, "/b", NULL),
    LOC("prefix in a server without root location", &sparse_srv, "/b/x", "/b/"),
    LOC("regex in a server without root location", &sparse_srv, "/abc", "~ c$"),
    LOC("regex beats prefix without root location", &sparse_srv, "/b/c", "~ c$"),
};

START_TEST(router_location_follows_nginx_order)
{
    const struct location_row *row = &location_rows[_i];
    /* The path without a NUL after it, so that AddressSanitizer reports a read past it. */
    size_t len = strlen(row->path);
    char *path = malloc(len);

    ck_assert_ptr_nonnull(path);
    memcpy(path, row->path, len);
    const struct zs_location *got = zs_router_location(row->srv, path, len);
    const char *title = got != NULL ? got->loc_title : NULL;

    if (row->expected == NULL)
        ck_assert_msg(got == NULL, "%s (line %d): path %s: got '%s', expected no location",
                      row->desc, row->line, row->path, title);
    else
        ck_assert_msg(title != NULL && strcmp(title, row->expected) == 0,
                      "%s (line %d): path %s: got '%s', expected '%s'", row->desc, row->line,
                      row->path, title != NULL ? title : "(none)", row->expected);
    free(path);
}
END_TEST

START_TEST(router_location_stops_at_given_length)
{
    const struct zs_location *loc;

    /* "/index.php.bak" cut to "/index.php" must match the ".php$" regex. */
    loc = zs_router_location(&main_srv, "/index.php.bak", 10);
    ck_assert_ptr_nonnull(loc);
    ck_assert_str_eq(loc->loc_title, "~ \\.php$");

    /* "/exact" followed by more bytes is still an exact match when cut. */
    loc = zs_router_location(&main_srv, "/exact/more", 6);
    ck_assert_ptr_nonnull(loc);
    ck_assert_str_eq(loc->loc_title, "= /exact");

    /* The prefix "/docs/" is longer than the first 5 bytes. */
    loc = zs_router_location(&main_srv, "/docs/intro.html", 5);
    ck_assert_ptr_nonnull(loc);
    ck_assert_str_eq(loc->loc_title, "/");
}
END_TEST

/* ---- servers ---- */

struct server_spec {
    const char *title;
    const char *names[3];        /* NULL-terminated */
};

/* Listener order: the first server is the listener's default. */
static const struct server_spec server_specs[] = {
    { "default", { "default.test", NULL } },
    { "exact", { "example.org", "www.example.org", NULL } },
    { "suffix", { "*.example.org", NULL } },
    { "longer-suffix", { "*.api.example.org", NULL } },
    { "prefix", { "www.*", NULL } },
    { "longer-prefix", { "www.example.*", NULL } },
    { "upper-case", { "Upper.TEST", NULL } },
};

#define N_SERVERS N_ROWS(server_specs)

static struct zs_server servers[N_SERVERS];
static struct zs_server *server_ptrs[N_SERVERS];
static struct zs_listener multi_lis = { .lis_servers = server_ptrs, .lis_server_count = N_SERVERS };
static struct zs_listener single_lis = { .lis_servers = &server_ptrs[1], .lis_server_count = 1 };

static void
servers_setup(void)
{
    for (size_t i = 0; i < N_SERVERS; i++) {
        struct zs_server *srv = &servers[i];

        memset(srv, 0, sizeof(*srv));
        srv->srv_title = (char *)server_specs[i].title;
        srv->srv_names = (char **)server_specs[i].names;
        while (server_specs[i].names[srv->srv_name_count] != NULL)
            srv->srv_name_count++;
        server_ptrs[i] = srv;
    }
}

struct server_row {
    const char *desc;
    int line;
    const struct zs_listener *lis;
    const char *host;
    const char *expected;        /* title of the expected server */
};

#define SRV(desc, host, expected) { desc, __LINE__, &multi_lis, host, expected }
#define SRV_SINGLE(desc, host, expected) { desc, __LINE__, &single_lis, host, expected }

static const struct server_row server_rows[] = {
    SRV("exact name", "example.org", "exact"),
    SRV("exact name ignores case", "EXAMPLE.Org", "exact"),
    SRV("name in config ignores case", "upper.test", "upper-case"),
    SRV("exact beats *.suffix and prefix.*", "www.example.org", "exact"),
    SRV("*.suffix", "a.example.org", "suffix"),
    SRV("*.suffix with several labels", "a.b.example.org", "suffix"),
    SRV("*.suffix ignores case", "A.EXAMPLE.ORG", "suffix"),
    SRV("*.suffix does not match its bare domain", "api.example.org", "suffix"),
    SRV("longest *.suffix wins", "v1.api.example.org", "longer-suffix"),
    SRV("*.suffix needs a dot boundary", "xexample.org", "default"),
    SRV("*.suffix beats prefix.*", "www.foo.example.org", "suffix"),
    SRV("prefix.*", "www.other.net", "prefix"),
    SRV("longest prefix.* wins", "www.example.net", "longer-prefix"),
    SRV("prefix.* ignores case", "WWW.EXAMPLE.NET", "longer-prefix"),
    SRV("prefix.* needs something after the dot", "www.", "default"),
    SRV("prefix.* needs a dot boundary", "wwwx.net", "default"),
    SRV("default server for an unknown name", "unknown.test", "default"),
    SRV("default server for an empty host", "", "default"),
    SRV("default server for an IP address", "127.0.0.1", "default"),
    SRV("default name is also an exact name", "default.test", "default"),
    SRV_SINGLE("single server takes every name", "unknown.test", "exact"),
    SRV_SINGLE("single server takes an empty host", "", "exact"),
};

START_TEST(router_server_picks_by_name)
{
    const struct server_row *row = &server_rows[_i];
    size_t len = strlen(row->host);
    char *host = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(host);
    memcpy(host, row->host, len);
    const struct zs_server *got = zs_router_server(row->lis, host, len);

    ck_assert_msg(got != NULL, "%s (line %d): host '%s': got no server", row->desc, row->line,
                  row->host);
    ck_assert_msg(strcmp(got->srv_title, row->expected) == 0,
                  "%s (line %d): host '%s': got '%s', expected '%s'", row->desc, row->line,
                  row->host, got->srv_title, row->expected);
    free(host);
}
END_TEST

START_TEST(router_server_stops_at_given_length)
{
    /* "example.org" cut out of a longer buffer matches the exact name. */
    const struct zs_server *got = zs_router_server(&multi_lis, "example.org.evil", 11);

    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got->srv_title, "exact");
}
END_TEST

static Suite *
router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc_loc = tcase_create("location");
    TCase *tc_srv = tcase_create("server");

    tcase_add_checked_fixture(tc_loc, locations_setup, locations_teardown);
    tcase_add_loop_test(tc_loc, router_location_follows_nginx_order, 0, N_ROWS(location_rows));
    tcase_add_test(tc_loc, router_location_stops_at_given_length);
    suite_add_tcase(s, tc_loc);

    tcase_add_checked_fixture(tc_srv, servers_setup, NULL);
    tcase_add_loop_test(tc_srv, router_server_picks_by_name, 0, N_ROWS(server_rows));
    tcase_add_test(tc_srv, router_server_stops_at_given_length);
    suite_add_tcase(s, tc_srv);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(router_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
