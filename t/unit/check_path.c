/* Unit tests for request path decoding, dot-segment removal and percent-encoding. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/path.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

struct normalize_row {
    const char *desc;
    int line;
    const char *in;
    const char *expected;
};

#define NORM(desc, in, expected) { desc, __LINE__, in, expected }

/* Runs zs_path_normalize() on a copy of in without a NUL after it and on an output
 * buffer of exactly len + 1 bytes, so that AddressSanitizer reports any read past
 * the input or write past the documented output size. */
static int
normalize(const char *in, size_t len, char **out, size_t *outlen)
{
    char *copy = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, in, len);
    *out = malloc(len + 1);
    ck_assert_ptr_nonnull(*out);
    int rc = zs_path_normalize(copy, len, *out, outlen);
    free(copy);
    return rc;
}

static const struct normalize_row normalize_ok_rows[] = {
    NORM("root", "/", "/"),
    NORM("plain file", "/index.html", "/index.html"),
    NORM("trailing slash kept", "/a/b/", "/a/b/"),
    NORM("repeated slashes merged", "//a///b//", "/a/b/"),
    NORM("single dot removed", "/a/./b", "/a/b"),
    NORM("final single dot keeps slash", "/a/.", "/a/"),
    NORM("root single dot", "/.", "/"),
    NORM("root single dot with slash", "/./", "/"),
    NORM("double dot pops segment", "/a/../b", "/b"),
    NORM("final double dot keeps slash", "/a/b/..", "/a/"),
    NORM("double dot with slash", "/a/b/../", "/a/"),
    NORM("double dot back to root", "/a/..", "/"),
    NORM("two double dots", "/a/b/../../c", "/c"),
    NORM("three levels up", "/a/b/c/../../../d", "/d"),
    NORM("empty segment before double dot", "/a//../b", "/b"),
    NORM("three dots are a name", "/...", "/..."),
    NORM("dots before name", "/..a/b", "/..a/b"),
    NORM("dots after name", "/a../b", "/a../b"),
    NORM("hidden file kept", "/.hidden", "/.hidden"),
    NORM("escapes decoded", "/%41%62c", "/Abc"),
    NORM("lower-case hex", "/%6a", "/j"),
    NORM("encoded space", "/a%20b", "/a b"),
    NORM("plus stays literal", "/a+b", "/a+b"),
    NORM("encoded double dot pops", "/a/%2e%2e/b", "/b"),
    NORM("upper-case encoded dot", "/a/%2E/b", "/a/b"),
    NORM("half-encoded double dot", "/a/.%2e/b", "/b"),
    NORM("encoded slash separates", "/a%2Fb", "/a/b"),
    NORM("lower-case encoded slash", "/a%2f..%2fb", "/b"),
    NORM("encoded slash merged", "/a/%2F/b", "/a/b"),
    NORM("double encoding decoded once", "/%252e%252e/x", "/%2e%2e/x"),
    NORM("encoded percent", "/%25", "/%"),
    NORM("encoded question mark", "/a%3Fb", "/a?b"),
    NORM("backslashes stay literal", "/a\\..\\b", "/a\\..\\b"),
    NORM("backslash after dots is a name", "/..\\x", "/..\\x"),
    NORM("encoded backslash stays literal", "/a/..%5c..%5cb", "/a/..\\..\\b"),
    NORM("overlong UTF-8 dots are bytes", "/%c0%ae%c0%ae/x", "/\xc0\xae\xc0\xae/x"),
    NORM("raw high bytes kept", "/caf\xc3\xa9", "/caf\xc3\xa9"),
    NORM("encoded byte 0xff", "/%ff", "/\xff"),
};

START_TEST(normalize_accepts_valid_paths)
{
    const struct normalize_row *row = &normalize_ok_rows[_i];
    size_t len = strlen(row->in), outlen = 0;
    char *out;

    int rc = normalize(row->in, len, &out, &outlen);
    ck_assert_msg(rc == 0, "%s (line %d): rejected", row->desc, row->line);
    ck_assert_msg(strcmp(out, row->expected) == 0, "%s (line %d): got \"%s\", expected \"%s\"",
                  row->desc, row->line, out, row->expected);
    ck_assert_msg(outlen == strlen(row->expected), "%s (line %d): outlen %zu, expected %zu",
                  row->desc, row->line, outlen, strlen(row->expected));
    free(out);
}
END_TEST

static const struct normalize_row normalize_bad_rows[] = {
    NORM("empty path", "", NULL),
    NORM("relative path", "a/b", NULL),
    NORM("asterisk form", "*", NULL),
    NORM("encoded leading slash", "%2Fa", NULL),
    NORM("double dot at root", "/..", NULL),
    NORM("double dot at root with slash", "/../", NULL),
    NORM("double dot at root then name", "/../a", NULL),
    NORM("climb past root later", "/a/../../b", NULL),
    NORM("climb after dot", "/./..", NULL),
    NORM("encoded double dot at root", "/%2e%2e", NULL),
    NORM("encoded double dot with slash", "/%2E%2E/", NULL),
    NORM("encoded climb to etc", "/a/%2e%2e/%2e%2e/etc", NULL),
    NORM("climb with encoded slashes", "/a/..%2f..%2fetc", NULL),
    NORM("encoded NUL", "/%00", NULL),
    NORM("encoded NUL before extension", "/a.php%00.html", NULL),
    NORM("non-hex escape", "/%zz", NULL),
    NORM("first digit not hex", "/%g4", NULL),
    NORM("second digit not hex", "/%4g", NULL),
    NORM("one hex digit at end", "/%4", NULL),
    NORM("percent at end", "/%", NULL),
    NORM("percent after name", "/a%", NULL),
    NORM("percent before escape", "/%%41", NULL),
    NORM("escape split by slash", "/%4/1", NULL),
};

START_TEST(normalize_rejects_invalid_paths)
{
    const struct normalize_row *row = &normalize_bad_rows[_i];
    size_t len = strlen(row->in), outlen = 0;
    char *out;

    int rc = normalize(row->in, len, &out, &outlen);
    ck_assert_msg(rc == -1, "%s (line %d): accepted as \"%.*s\"", row->desc, row->line,
                  (int)outlen, out);
    free(out);
}
END_TEST

START_TEST(normalize_rejects_raw_nul_byte)
{
    static const char in[] = "/a\0b";
    size_t outlen = 0;
    char *out;

    ck_assert_int_eq(normalize(in, sizeof(in) - 1, &out, &outlen), -1);
    free(out);
}
END_TEST

START_TEST(normalize_stops_at_given_length)
{
    static const char in[] = "/a/b/../c?x=/../../etc";
    size_t outlen = 0;
    char *out;

    ck_assert_int_eq(normalize(in, 9, &out, &outlen), 0);
    ck_assert_str_eq(out, "/a/c");
    ck_assert_uint_eq(outlen, 4);
    free(out);
}
END_TEST

struct dot_row {
    const char *desc;
    int line;
    const char *path;
    int expected;
};

#define DOT(desc, path, expected) { desc, __LINE__, path, expected }

static const struct dot_row dot_rows[] = {
    DOT("root", "/", 0),
    DOT("plain path", "/a/b.html", 0),
    DOT("dots inside names", "/a.b/c.d/e.", 0),
    DOT("hidden directory", "/.git/config", 1),
    DOT("hidden file in directory", "/a/.env", 1),
    DOT("hidden directory with trailing slash", "/a/.svn/", 1),
    DOT("name starting with two dots", "/a/..b", 1),
    DOT("well-known directory", "/.well-known/acme-challenge/token", 0),
    DOT("well-known alone", "/.well-known", 0),
    DOT("well-known with trailing slash", "/.well-known/", 0),
    DOT("hidden file under well-known", "/.well-known/.hidden", 1),
    DOT("well-known not first", "/a/.well-known/x", 1),
    DOT("well-known prefix only", "/.well-knownx/y", 1),
    DOT("well-known is case-sensitive", "/.WELL-KNOWN/x", 1),
    DOT("hidden segment deep down", "/.well-known/a/b/.c", 1),
};

START_TEST(has_dot_segment_flags_hidden_names)
{
    const struct dot_row *row = &dot_rows[_i];

    int got = zs_path_has_dot_segment(row->path, strlen(row->path));
    ck_assert_msg(got == row->expected, "%s (line %d): got %d, expected %d", row->desc,
                  row->line, got, row->expected);
}
END_TEST

START_TEST(has_dot_segment_stops_at_given_length)
{
    static const char path[] = "/a/.b";

    ck_assert_int_eq(zs_path_has_dot_segment(path, 3), 0);
    ck_assert_int_eq(zs_path_has_dot_segment(path, 4), 1);
}
END_TEST

struct encode_row {
    const char *desc;
    int line;
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    const char *expected;
};

#define ENC(desc, in, expected) { desc, __LINE__, in, 0, expected }

static const struct encode_row encode_rows[] = {
    ENC("empty", "", ""),
    ENC("unreserved kept", "/a/B-c_d.e~f/09", "/a/B-c_d.e~f/09"),
    ENC("space", "/a b", "/a%20b"),
    ENC("percent", "/100%", "/100%25"),
    ENC("query and fragment marks", "/a?b#c", "/a%3Fb%23c"),
    ENC("sub-delimiters", "/+&=;,", "/%2B%26%3D%3B%2C"),
    ENC("markup characters", "/\"<x>'", "/%22%3Cx%3E%27"),
    ENC("backslash", "/a\\b", "/a%5Cb"),
    ENC("UTF-8 name", "/caf\xc3\xa9", "/caf%C3%A9"),
    ENC("control and high bytes", "/\x01\x7f\xff", "/%01%7F%FF"),
    { "NUL byte", __LINE__, "/a\0b", 4, "/a%00b" },
};

START_TEST(encode_escapes_all_but_unreserved)
{
    const struct encode_row *row = &encode_rows[_i];
    size_t len = row->len ? row->len : strlen(row->in);
    char out[64];

    ssize_t n = zs_path_encode(row->in, len, out, sizeof(out));
    ck_assert_msg(n == (ssize_t)strlen(row->expected), "%s (line %d): length %zd, expected %zu",
                  row->desc, row->line, n, strlen(row->expected));
    ck_assert_msg(strcmp(out, row->expected) == 0, "%s (line %d): got \"%s\", expected \"%s\"",
                  row->desc, row->line, out, row->expected);
}
END_TEST

START_TEST(encode_needs_room_for_nul)
{
    static const char in[] = "/a b";
    char out[16];

    /* "/a%20b" is 6 bytes, so 7 bytes of room are needed. */
    ck_assert_int_eq(zs_path_encode(in, 4, out, 7), 6);
    ck_assert_str_eq(out, "/a%20b");
    ck_assert_int_eq(zs_path_encode(in, 4, out, 6), -1);
    ck_assert_int_eq(zs_path_encode(in, 4, out, 4), -1);
    ck_assert_int_eq(zs_path_encode(in, 4, out, 0), -1);
    ck_assert_int_eq(zs_path_encode("", 0, out, 1), 0);
    ck_assert_int_eq(zs_path_encode("", 0, out, 0), -1);
}
END_TEST

START_TEST(encode_output_normalizes_back)
{
    static const char *const paths[] = {
        "/a b/c%d", "/caf\xc3\xa9/x?y#z", "/..\\.../", "/+&=;/\x7f",
    };

    for (size_t i = 0; i < N_ROWS(paths); i++) {
        char enc[128], dec[128];
        size_t declen;

        ssize_t n = zs_path_encode(paths[i], strlen(paths[i]), enc, sizeof(enc));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(zs_path_normalize(enc, (size_t)n, dec, &declen), 0);
        ck_assert_str_eq(dec, paths[i]);
    }
}
END_TEST

static Suite *
path_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("normalize");

    tcase_add_loop_test(tc, normalize_accepts_valid_paths, 0, N_ROWS(normalize_ok_rows));
    tcase_add_loop_test(tc, normalize_rejects_invalid_paths, 0, N_ROWS(normalize_bad_rows));
    tcase_add_test(tc, normalize_rejects_raw_nul_byte);
    tcase_add_test(tc, normalize_stops_at_given_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("dot_segment");
    tcase_add_loop_test(tc, has_dot_segment_flags_hidden_names, 0, N_ROWS(dot_rows));
    tcase_add_test(tc, has_dot_segment_stops_at_given_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_loop_test(tc, encode_escapes_all_but_unreserved, 0, N_ROWS(encode_rows));
    tcase_add_test(tc, encode_needs_room_for_nul);
    tcase_add_test(tc, encode_output_normalizes_back);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(path_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
