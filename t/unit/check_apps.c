/* Unit tests for the helpers of the FastCGI test programs in t/apps: the
 * SHA-256 that fcgi_echo prints and the query string parsing. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "t/apps/fcgi_app.h"
#include "t/apps/sha256.h"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

/* Expected digests computed with Python's hashlib. When the length mod 64
 * is 56 or more, the padding needs one more block: hence the lengths around
 * 56 and 64. */
struct digest_row {
    const char *desc;
    int line;
    char fill;                   /* repeated `length` times, unless text is set */
    size_t length;
    const char *text;
    const char *hex;
};

#define FILLED(desc, fill, length, hex) { desc, __LINE__, fill, length, NULL, hex }
#define TEXT(desc, text, hex) { desc, __LINE__, 0, 0, text, hex }

static const struct digest_row digest_rows[] = {
    TEXT("empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    TEXT("abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    TEXT("448-bit message", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    FILLED("55 bytes, padding fits", 'x', 55,
           "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"),
    FILLED("56 bytes, padding spills", 'x', 56,
           "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"),
    FILLED("63 bytes", 'x', 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"),
    FILLED("64 bytes, one full block", 'x', 64,
           "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"),
    FILLED("65 bytes", 'x', 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"),
    FILLED("119 bytes", 'x', 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"),
    FILLED("120 bytes", 'x', 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"),
    FILLED("one million a", 'a', 1000000,
           "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
};

static char *
row_input(const struct digest_row *row, size_t *len)
{
    if (row->text != NULL) {
        *len = strlen(row->text);
        return strdup(row->text);
    }
    *len = row->length;
    char *data = malloc(row->length + 1);
    memset(data, row->fill, row->length);
    return data;
}

START_TEST(sha256_matches_known_digests)
{
    const struct digest_row *row = &digest_rows[_i];
    struct sha256 digest;
    char hex[SHA256_HEX_SIZE];
    size_t len;
    char *data = row_input(row, &len);

    ck_assert_ptr_nonnull(data);
    sha256_init(&digest);
    sha256_update(&digest, data, len);
    sha256_final_hex(&digest, hex);
    ck_assert_msg(strcmp(hex, row->hex) == 0, "%s (line %d): got %s, expected %s", row->desc,
                  row->line, hex, row->hex);
    free(data);
}
END_TEST

/* Feeding 200 bytes in pieces of every size from 1 to 70 bytes must give
 * the digest of a single update: the pieces cross the 64-byte blocks. */
START_TEST(sha256_split_updates_match_one_update)
{
    struct sha256 digest;
    char whole_hex[SHA256_HEX_SIZE];
    char hex[SHA256_HEX_SIZE];
    unsigned char data[200];

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    sha256_init(&digest);
    sha256_update(&digest, data, sizeof data);
    sha256_final_hex(&digest, whole_hex);

    for (size_t piece = 1; piece <= 70; piece++) {
        sha256_init(&digest);
        for (size_t offset = 0; offset < sizeof data; offset += piece) {
            size_t rest = sizeof data - offset;
            sha256_update(&digest, data + offset, rest < piece ? rest : piece);
        }
        sha256_final_hex(&digest, hex);
        ck_assert_msg(strcmp(hex, whole_hex) == 0, "pieces of %zu bytes: got %s, expected %s",
                      piece, hex, whole_hex);
    }
}
END_TEST

struct query_row {
    const char *desc;
    int line;
    const char *query;
    const char *name;
    long max;
    long expected;
};

#define QUERY(desc, query, name, max, expected) { desc, __LINE__, query, name, max, expected }

static const struct query_row query_rows[] = {
    QUERY("only parameter", "big=3", "big", 10, 3),
    QUERY("last parameter", "split&big=3", "big", 10, 3),
    QUERY("first parameter", "big=3&split", "big", 10, 3),
    QUERY("absent", "split&nolength", "big", 10, -1),
    QUERY("empty query", "", "big", 10, -1),
    QUERY("name is a prefix of another", "bighead=4", "big", 10, -1),
    QUERY("other name is a prefix", "b=4", "big", 10, -1),
    QUERY("zero", "big=0", "big", 10, 0),
    QUERY("maximum", "big=10", "big", 10, 10),
    QUERY("above maximum", "big=11", "big", 10, -2),
    QUERY("negative", "big=-1", "big", 10, -2),
    QUERY("plus sign", "big=+1", "big", 10, -2),
    QUERY("trailing letters", "big=1x", "big", 10, -2),
    QUERY("bare name", "big", "big", 10, -2),
    QUERY("empty value", "big=&split", "big", 10, -2),
    QUERY("overflow", "big=99999999999999999999", "big", 10, -2),
};

START_TEST(query_long_parses_bounded_numbers)
{
    const struct query_row *row = &query_rows[_i];

    long got = app_query_long(row->query, row->name, row->max);
    ck_assert_msg(got == row->expected, "%s (line %d): got %ld, expected %ld", row->desc,
                  row->line, got, row->expected);
}
END_TEST

START_TEST(query_find_returns_value_span)
{
    const char *value;
    size_t len;

    ck_assert(app_query_find("a=1&status=404&z", "status", &value, &len));
    ck_assert_uint_eq(len, 3);
    ck_assert(strncmp(value, "404", len) == 0);

    ck_assert(app_query_find("a=1&nohead", "nohead", &value, &len));
    ck_assert_uint_eq(len, 0);

    ck_assert(!app_query_find("a=1&noheads", "nohead", &value, &len));
}
END_TEST

START_TEST(reason_phrase_covers_unknown_codes)
{
    ck_assert_str_eq(app_reason_phrase(404), "Not Found");
    ck_assert_str_eq(app_reason_phrase(599), "Unknown Status");
}
END_TEST

static Suite *
apps_suite(void)
{
    Suite *s = suite_create("apps");
    TCase *tc = tcase_create("sha256");

    tcase_add_loop_test(tc, sha256_matches_known_digests, 0, N_ROWS(digest_rows));
    tcase_add_test(tc, sha256_split_updates_match_one_update);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_loop_test(tc, query_long_parses_bounded_numbers, 0, N_ROWS(query_rows));
    tcase_add_test(tc, query_find_returns_value_span);
    tcase_add_test(tc, reason_phrase_covers_unknown_codes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(apps_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
