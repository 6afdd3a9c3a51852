/* Unit tests for the mime.types loader and extension lookups. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mime.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))
#define CONF_DIR ZS_TEST_CONF_DIR
#define BUNDLED_MIME_TYPES ZS_TEST_BUNDLED_MIME_TYPES

static struct zs_mime_table *
load_or_fail(const char *path)
{
    char err[512] = "";
    struct zs_mime_table *t = zs_mime_load(path, err, sizeof(err));

    ck_assert_msg(t != NULL, "%s: %s", path, err);
    return t;
}

struct lookup_row {
    const char *desc;
    int line;
    const char *name;
    const char *expected;        /* NULL: no type */
};

#define LOOKUP(desc, name, expected) { desc, __LINE__, name, expected }

/* Lookups in the bundled conf/mime.types. */
static const struct lookup_row bundled_rows[] = {
    LOOKUP("html", "index.html", "text/html"),
    LOOKUP("upper-case extension", "INDEX.HTML", "text/html"),
    LOOKUP("mixed-case extension", "photo.JpEg", "image/jpeg"),
    LOOKUP("path with directories", "/srv/www/css/site.css", "text/css"),
    LOOKUP("JavaScript module", "app.mjs", "text/javascript"),
    LOOKUP("JSON", "data.json", "application/json"),
    LOOKUP("source map", "app.js.map", "application/json"),
    LOOKUP("SVG", "logo.svg", "image/svg+xml"),
    LOOKUP("WebAssembly", "module.wasm", "application/wasm"),
    LOOKUP("font", "font.woff2", "font/woff2"),
    LOOKUP("AVIF image", "a.avif", "image/avif"),
    LOOKUP("last extension counts", "backup.tar.gz", "application/gzip"),
    LOOKUP("web app manifest", "site.webmanifest", "application/manifest+json"),
    LOOKUP("unknown extension", "file.zzzunknown", NULL),
    LOOKUP("no extension", "README", NULL),
    LOOKUP("dot in a directory only", "/dir.d/README", NULL),
    LOOKUP("dotfile has no extension", ".htaccess", NULL),
    LOOKUP("dotfile in a directory", "/srv/www/.gitignore", NULL),
    LOOKUP("dotfile with an extension", ".config.json", "application/json"),
    LOOKUP("file in a dot directory", "/.well-known/keys.json", "application/json"),
    LOOKUP("trailing dot", "file.", NULL),
    LOOKUP("only a dot", ".", NULL),
    LOOKUP("empty name", "", NULL),
    LOOKUP("trailing slash", "/dir.html/", NULL),
};

START_TEST(bundled_lookup_by_extension)
{
    const struct lookup_row *row = &bundled_rows[_i];
    struct zs_mime_table *t = load_or_fail(BUNDLED_MIME_TYPES);
    const char *got = zs_mime_lookup(t, row->name, strlen(row->name));

    if (row->expected == NULL)
        ck_assert_msg(got == NULL, "%s (line %d): '%s' gave %s, expected none", row->desc, row->line,
                      row->name, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, row->expected) == 0, "%s (line %d): '%s' gave %s, expected %s",
                      row->desc, row->line, row->name, got != NULL ? got : "none", row->expected);
    zs_mime_free(t);
}
END_TEST

START_TEST(bundled_file_has_common_types_without_charset)
{
    struct zs_mime_table *t = load_or_fail(BUNDLED_MIME_TYPES);
    static const char *const names[] = { "a.html", "a.css", "a.js", "a.txt", "a.csv", "a.md", "a.xml" };

    ck_assert_uint_ge(zs_mime_count(t), 150);
    for (size_t i = 0; i < N_ROWS(names); i++) {
        const char *type = zs_mime_lookup(t, names[i], strlen(names[i]));
        ck_assert_msg(type != NULL, "%s has no type", names[i]);
        ck_assert_msg(strchr(type, ';') == NULL, "%s has parameters: %s", names[i], type);
    }
    zs_mime_free(t);
}
END_TEST

START_TEST(lookup_uses_only_the_given_length)
{
    struct zs_mime_table *t = load_or_fail(BUNDLED_MIME_TYPES);

    /* "a.css.bak" cut to "a.css". */
    ck_assert_str_eq(zs_mime_lookup(t, "a.css.bak", 5), "text/css");
    /* "a.html" cut to "a.htm". */
    ck_assert_str_eq(zs_mime_lookup(t, "a.html", 5), "text/html");
    ck_assert_ptr_null(zs_mime_lookup(t, "a.css", 2));
    zs_mime_free(t);
}
END_TEST

START_TEST(header_adds_charset_to_text_types_only)
{
    struct zs_mime_table *t = load_or_fail(BUNDLED_MIME_TYPES);

    ck_assert_str_eq(zs_mime_lookup_header(t, "index.html", 10), "text/html; charset=utf-8");
    ck_assert_str_eq(zs_mime_lookup_header(t, "site.css", 8), "text/css; charset=utf-8");
    ck_assert_str_eq(zs_mime_lookup_header(t, "logo.png", 8), "image/png");
    ck_assert_str_eq(zs_mime_lookup(t, "index.html", 10), "text/html");
    ck_assert_ptr_null(zs_mime_lookup_header(t, "README", 6));
    zs_mime_free(t);
}
END_TEST

START_TEST(lookup_in_null_table_finds_nothing)
{
    ck_assert_ptr_null(zs_mime_lookup(NULL, "a.html", 6));
    ck_assert_uint_eq(zs_mime_count(NULL), 0);
    zs_mime_free(NULL);
}
END_TEST

/* Lookups in the fixture, which exercises the format's corners. */
static const struct lookup_row fixture_rows[] = {
    LOOKUP("plain line", "a.png", "image/png"),
    LOOKUP("upper case in the file", "notes.text", "text/plain"),
    LOOKUP("later line wins", "a.jpg", "image/jpeg"),
    LOOKUP("tabs and trailing blanks", "a.css", "text/css"),
    LOOKUP("type alone adds nothing", "a.x-empty", NULL),
    LOOKUP("comment text is not an extension", "a.upper", NULL),
};

START_TEST(fixture_lookup_by_extension)
{
    const struct lookup_row *row = &fixture_rows[_i];
    struct zs_mime_table *t = load_or_fail(CONF_DIR "/mime_fixture.types");
    const char *got = zs_mime_lookup(t, row->name, strlen(row->name));

    if (row->expected == NULL)
        ck_assert_msg(got == NULL, "%s (line %d): '%s' gave %s, expected none", row->desc, row->line,
                      row->name, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, row->expected) == 0, "%s (line %d): '%s' gave %s, expected %s",
                      row->desc, row->line, row->name, got != NULL ? got : "none", row->expected);
    ck_assert_uint_eq(zs_mime_count(t), 6);
    zs_mime_free(t);
}
END_TEST

struct error_row {
    const char *desc;
    int line;
    const char *path;
    const char *expected;
};

#define LOAD_ERR(desc, path, expected) { desc, __LINE__, path, expected }

static const struct error_row error_rows[] = {
    LOAD_ERR("type without subtype", CONF_DIR "/bad.types",
             CONF_DIR "/bad.types:3: invalid media type 'html' (expected type/subtype)"),
    LOAD_ERR("extension with a dot", CONF_DIR "/mime_bad_ext.types",
             CONF_DIR "/mime_bad_ext.types:2: invalid extension 'tar.gz' for application/x-tar (no dots or slashes)"),
    LOAD_ERR("missing file", CONF_DIR "/no-such.types",
             CONF_DIR "/no-such.types: open failed: No such file or directory"),
};

START_TEST(load_reports_first_bad_line)
{
    const struct error_row *row = &error_rows[_i];
    char err[512] = "";
    struct zs_mime_table *t = zs_mime_load(row->path, err, sizeof(err));

    ck_assert_msg(t == NULL, "%s (line %d): loaded", row->desc, row->line);
    ck_assert_msg(strcmp(err, row->expected) == 0, "%s (line %d): error\n  %s\nexpected\n  %s", row->desc,
                  row->line, err, row->expected);
}
END_TEST

static Suite *
mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("bundled");

    tcase_add_loop_test(tc, bundled_lookup_by_extension, 0, N_ROWS(bundled_rows));
    tcase_add_test(tc, bundled_file_has_common_types_without_charset);
    tcase_add_test(tc, lookup_uses_only_the_given_length);
    tcase_add_test(tc, lookup_in_null_table_finds_nothing);
    tcase_add_test(tc, header_adds_charset_to_text_types_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_loop_test(tc, fixture_lookup_by_extension, 0, N_ROWS(fixture_rows));
    tcase_add_loop_test(tc, load_reports_first_bad_line, 0, N_ROWS(error_rows));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(mime_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
