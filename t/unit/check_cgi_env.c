/* Unit tests for the CGI/1.1 variables and the SCRIPT_NAME/PATH_INFO split,
 * against a real directory tree below a temporary root. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The source itself, so that the growth of the strings can be tested
 * through strings_reserve(): zs_cgi_env_build() reaches it only when its
 * first estimate of the size is too low. */
#include "adapters/cgi_env.c"

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

/* ---- the directory tree ---- */

#define BASE_TEMPLATE "/tmp/zs-check-cgi-env-XXXXXX"

static char base_dir[sizeof(BASE_TEMPLATE)];
static char root_dir[sizeof(BASE_TEMPLATE) + 8];          /* base_dir + "/root" */
static int root_fd = -1;

static void
make_dir(const char *rel, mode_t mode)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", base_dir, rel);
    ck_assert_msg(mkdir(path, mode) == 0, "mkdir %s: %s", path, strerror(errno));
    /* mkdir applies the umask, but the tests need the exact mode. */
    ck_assert_msg(chmod(path, mode) == 0, "chmod %s: %s", path, strerror(errno));
}

static void
make_file(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", base_dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    ck_assert_msg(fd != -1, "create %s: %s", path, strerror(errno));
    close(fd);
}

static void
make_symlink(const char *target, const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", base_dir, rel);
    ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path, strerror(errno));
}

static void
tree_setup(void)
{
    char path[PATH_MAX];
    char outside[PATH_MAX];

    memcpy(base_dir, BASE_TEMPLATE, sizeof(BASE_TEMPLATE));
    ck_assert_ptr_nonnull(mkdtemp(base_dir));
    snprintf(root_dir, sizeof(root_dir), "%s/root", base_dir);

    make_file("outside.sh");
    make_dir("outside", 0755);
    make_file("outside/x.sh");

    make_dir("root", 0755);
    make_file("root/index.php");
    make_file("root/app.php");
    make_file("root/.env.php");
    make_dir("root/dir.php", 0755);
    make_dir("root/upload", 0755);
    make_file("root/upload/evil.jpg");
    make_dir("root/cgi-bin", 0755);
    make_file("root/cgi-bin/hello.sh");
    make_file("root/cgi-bin/.hidden.sh");
    make_dir("root/cgi-bin/.git", 0755);
    make_file("root/cgi-bin/.git/x.sh");
    make_dir("root/cgi-bin/sub", 0755);
    make_file("root/cgi-bin/sub/deep.sh");
    make_dir("root/cgi-bin/sub/empty", 0755);
    make_dir("root/cgi-bin/locked", 0755);
    make_file("root/cgi-bin/locked/x.sh");
    snprintf(path, sizeof(path), "%s/root/cgi-bin/locked", base_dir);
    ck_assert_int_eq(chmod(path, 0), 0);
    snprintf(path, sizeof(path), "%s/root/cgi-bin/fifo", base_dir);
    ck_assert_msg(mkfifo(path, 0644) == 0, "mkfifo %s: %s", path, strerror(errno));

    make_symlink("hello.sh", "root/cgi-bin/in.sh");
    make_symlink("cgi-bin", "root/linked-bin");
    make_symlink("../../outside.sh", "root/cgi-bin/out.sh");
    make_symlink("../../outside", "root/cgi-bin/outdir");
    snprintf(outside, sizeof(outside), "%s/outside.sh", base_dir);
    make_symlink(outside, "root/cgi-bin/abs.sh");

    root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_msg(root_fd != -1, "open %s: %s", root_dir, strerror(errno));
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        return rmdir(path);
    return unlink(path);
}

static void
tree_teardown(void)
{
    char path[PATH_MAX];

    close(root_fd);
    snprintf(path, sizeof(path), "%s/root/cgi-bin/locked", base_dir);
    chmod(path, 0755);
    nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- requests and locations ---- */

struct location_spec {
    enum zs_loc_match match;
    const char *path;            /* prefix, exact path or regular expression source */
    const char *split;           /* fastcgi_split_path_info, or NULL */
    bool follow_symlinks;
    bool allow_dotfiles;
};

static void
location_init(struct zs_location *loc, const struct location_spec *spec)
{
    *loc = (struct zs_location){
        .loc_title = (char *)spec->path,
        .loc_match = spec->match,
        .loc_path = (char *)spec->path,
        .loc_path_len = strlen(spec->path),
        .loc_root = root_dir,
        .loc_root_fd = root_fd,
        .loc_follow_symlinks = spec->follow_symlinks,
        .loc_allow_dotfiles = spec->allow_dotfiles,
    };
    if (spec->split != NULL) {
        int code;
        PCRE2_SIZE offset;

        loc->loc_split_path_info = pcre2_compile((PCRE2_SPTR)spec->split, PCRE2_ZERO_TERMINATED, 0, &code,
                                                 &offset, NULL);
        ck_assert_msg(loc->loc_split_path_info != NULL, "regular expression %s does not compile", spec->split);
    }
}

static void
request_init(struct zs_app_request *req, const struct zs_location *loc, const char *path)
{
    *req = (struct zs_app_request){
        .method = "GET",
        .protocol = "HTTP/1.1",
        .target = path,
        .target_len = strlen(path),
        .path = path,
        .path_len = strlen(path),
        .query = "",
        .host = "example.test",
        .host_len = 12,
        .remote_addr = "192.0.2.7",
        .remote_port = 51234,
        .server_addr = "127.0.0.1",
        .server_port = 8080,
        .location = loc,
    };
}

/* ---- split ---- */

enum split_kind { SPLIT_CGI, SPLIT_APP };

static const struct location_spec cgi_bin = { ZS_LOC_PREFIX, "/cgi-bin/", NULL, false, false };
static const struct location_spec cgi_bin_follow = { ZS_LOC_PREFIX, "/cgi-bin/", NULL, true, false };
static const struct location_spec cgi_bin_dotfiles = { ZS_LOC_PREFIX, "/cgi-bin/", NULL, false, true };
static const struct location_spec cgi_bin_no_slash = { ZS_LOC_PREFIX_NOREGEX, "/cgi-bin", NULL, false, false };
static const struct location_spec cgi_root = { ZS_LOC_PREFIX, "/", NULL, false, false };
static const struct location_spec cgi_missing = { ZS_LOC_PREFIX, "/nothing/", NULL, false, false };
static const struct location_spec cgi_script_prefix = { ZS_LOC_PREFIX, "/cgi-bin/hello.sh/", NULL, false, false };
static const struct location_spec cgi_exact = { ZS_LOC_EXACT, "/cgi-bin/hello.sh", NULL, false, false };
static const struct location_spec cgi_regex = { ZS_LOC_REGEX, "\\.sh", NULL, false, false };
static const struct location_spec cgi_linked = { ZS_LOC_PREFIX, "/linked-bin/", NULL, true, false };

static const struct location_spec php_split = { ZS_LOC_REGEX, "\\.php", "^(.+\\.php)(/.*)$", false, false };
static const struct location_spec php_split_optional = { ZS_LOC_REGEX, "\\.php", "^(.+\\.php)(/.*)?$", false,
                                                         false };
static const struct location_spec php_split_dotfiles = { ZS_LOC_REGEX, "\\.php", "^(.+\\.php)(/.*)$", false, true };
static const struct location_spec php_whole = { ZS_LOC_REGEX, "\\.php$", NULL, false, false };
static const struct location_spec sh_whole = { ZS_LOC_REGEX_NOCASE, "\\.sh$", NULL, false, false };
static const struct location_spec sh_whole_follow = { ZS_LOC_REGEX_NOCASE, "\\.sh$", NULL, true, false };
static const struct location_spec prefix_split = { ZS_LOC_PREFIX, "/", "^(.+\\.php)(/.*)$", false, false };
static const struct location_spec app_mount = { ZS_LOC_PREFIX, "/app/", NULL, false, false };
static const struct location_spec app_root = { ZS_LOC_PREFIX, "/", NULL, false, false };
static const struct location_spec app_exact = { ZS_LOC_EXACT, "/api", NULL, false, false };

struct split_row {
    const char *desc;
    int line;
    enum split_kind kind;
    const struct location_spec *loc;
    const char *path;
    int status;
    const char *script_name;     /* on status 0 */
    const char *path_info;
};

#define CGI(desc, loc, path, status, script, info) { desc, __LINE__, SPLIT_CGI, &loc, path, status, script, info }
#define APP(desc, loc, path, status, script, info) { desc, __LINE__, SPLIT_APP, &loc, path, status, script, info }

static const struct split_row split_rows[] = {
    CGI("script alone", cgi_bin, "/cgi-bin/hello.sh", 0, "/cgi-bin/hello.sh", ""),
    CGI("script and PATH_INFO", cgi_bin, "/cgi-bin/hello.sh/a/b", 0, "/cgi-bin/hello.sh", "/a/b"),
    CGI("PATH_INFO of one slash", cgi_bin, "/cgi-bin/hello.sh/", 0, "/cgi-bin/hello.sh", "/"),
    CGI("PATH_INFO may name a file", cgi_bin, "/cgi-bin/hello.sh/sub/deep.sh", 0, "/cgi-bin/hello.sh",
        "/sub/deep.sh"),
    CGI("script in a subdirectory", cgi_bin, "/cgi-bin/sub/deep.sh/x", 0, "/cgi-bin/sub/deep.sh", "/x"),
    CGI("dot segment in PATH_INFO", cgi_bin, "/cgi-bin/hello.sh/.x", 0, "/cgi-bin/hello.sh", "/.x"),
    CGI("missing script", cgi_bin, "/cgi-bin/nope.sh", 404, NULL, NULL),
    CGI("missing script with PATH_INFO", cgi_bin, "/cgi-bin/nope.sh/x", 404, NULL, NULL),
    CGI("missing below a directory", cgi_bin, "/cgi-bin/sub/nope/x", 404, NULL, NULL),
    CGI("ends at a directory", cgi_bin, "/cgi-bin/sub", 403, NULL, NULL),
    CGI("ends at a directory with slash", cgi_bin, "/cgi-bin/sub/empty/", 403, NULL, NULL),
    CGI("prefix directory itself", cgi_bin, "/cgi-bin/", 403, NULL, NULL),
    CGI("missing prefix directory", cgi_missing, "/nothing/", 404, NULL, NULL),
    CGI("missing script below missing prefix", cgi_missing, "/nothing/x.sh", 404, NULL, NULL),
    CGI("fifo is no script", cgi_bin, "/cgi-bin/fifo/x", 403, NULL, NULL),
    CGI("dot file rejected", cgi_bin, "/cgi-bin/.hidden.sh", 404, NULL, NULL),
    CGI("dot directory rejected", cgi_bin, "/cgi-bin/.git/x.sh", 404, NULL, NULL),
    CGI("dot file allowed", cgi_bin_dotfiles, "/cgi-bin/.hidden.sh/p", 0, "/cgi-bin/.hidden.sh", "/p"),
    CGI("dot directory allowed", cgi_bin_dotfiles, "/cgi-bin/.git/x.sh", 0, "/cgi-bin/.git/x.sh", ""),
    CGI("symlink refused", cgi_bin, "/cgi-bin/in.sh", 404, NULL, NULL),
    CGI("symlink below root followed", cgi_bin_follow, "/cgi-bin/in.sh/p", 0, "/cgi-bin/in.sh", "/p"),
    CGI("directory symlink in prefix followed", cgi_linked, "/linked-bin/hello.sh", 0, "/linked-bin/hello.sh",
        ""),
    CGI("relative symlink out of root", cgi_bin_follow, "/cgi-bin/out.sh", 404, NULL, NULL),
    CGI("absolute symlink out of root", cgi_bin_follow, "/cgi-bin/abs.sh/x", 404, NULL, NULL),
    CGI("directory symlink out of root", cgi_bin_follow, "/cgi-bin/outdir/x.sh", 404, NULL, NULL),
    CGI("root prefix walks every segment", cgi_root, "/cgi-bin/hello.sh/x", 0, "/cgi-bin/hello.sh", "/x"),
    CGI("root prefix finds a top file", cgi_root, "/index.php/x", 0, "/index.php", "/x"),
    CGI("root itself", cgi_root, "/", 403, NULL, NULL),
    CGI("prefix without slash", cgi_bin_no_slash, "/cgi-bin/hello.sh", 0, "/cgi-bin/hello.sh", ""),
    CGI("file inside the prefix is skipped", cgi_script_prefix, "/cgi-bin/hello.sh/x", 404, NULL, NULL),
    CGI("exact location walks from root", cgi_exact, "/cgi-bin/hello.sh", 0, "/cgi-bin/hello.sh", ""),
    CGI("path outside the prefix", cgi_bin, "/other/\n/x.sh", 500, NULL, NULL),
    CGI("regex location walks from root", cgi_regex, "/cgi-bin/sub/deep.sh/x.sh", 0, "/cgi-bin/sub/deep.sh",
        "/x.sh"),

    APP("split without PATH_INFO falls back", php_split, "/index.php", 0, "/index.php", ""),
    APP("split with PATH_INFO", php_split, "/index.php/a/b", 0, "/index.php", "/a/b"),
    APP("split never runs an upload", php_split, "/upload/evil.jpg/x.php", 404, NULL, NULL),
    APP("split upload with PATH_INFO", php_split, "/upload/evil.jpg/x.php/y", 404, NULL, NULL),
    APP("split missing script", php_split, "/missing.php/x", 404, NULL, NULL),
    APP("split script is a directory", php_split, "/dir.php/x", 403, NULL, NULL),
    APP("split dot file rejected", php_split, "/.env.php/x", 404, NULL, NULL),
    APP("split dot file allowed", php_split_dotfiles, "/.env.php/x", 0, "/.env.php", "/x"),
    APP("split unset capture is empty", php_split_optional, "/app.php", 0, "/app.php", ""),
    APP("split in a prefix location", prefix_split, "/index.php/x", 0, "/index.php", "/x"),
    APP("whole path is the script", php_whole, "/app.php", 0, "/app.php", ""),
    APP("whole path missing", php_whole, "/nope.php", 404, NULL, NULL),
    APP("whole path is a directory", php_whole, "/dir.php", 403, NULL, NULL),
    APP("whole path through an upload", php_whole, "/upload/evil.jpg/x.php", 404, NULL, NULL),
    APP("whole path symlink refused", sh_whole, "/cgi-bin/in.sh", 404, NULL, NULL),
    APP("whole path symlink followed", sh_whole_follow, "/cgi-bin/in.sh", 0, "/cgi-bin/in.sh", ""),
    APP("whole path symlink out of root", sh_whole_follow, "/cgi-bin/out.sh", 404, NULL, NULL),
    APP("whole path fifo", sh_whole, "/cgi-bin/fifo", 403, NULL, NULL),
    APP("mount point and PATH_INFO", app_mount, "/app/x/y", 0, "/app", "/x/y"),
    APP("mount point itself", app_mount, "/app/", 0, "/app", "/"),
    APP("mount at root", app_root, "/x/y", 0, "", "/x/y"),
    APP("mount at root itself", app_root, "/", 0, "", "/"),
    APP("exact mount", app_exact, "/api", 0, "/api", ""),
    APP("path outside the mount point", app_mount, "/other/\n", 500, NULL, NULL),
};

START_TEST(split_finds_script_and_path_info)
{
    const struct split_row *row = &split_rows[_i];
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;

    location_init(&loc, row->loc);
    request_init(&req, &loc, row->path);
    int status = row->kind == SPLIT_CGI ? zs_cgi_split_cgi(&req, &script) : zs_cgi_split_app(&req, &script);

    ck_assert_msg(status == row->status, "%s (line %d): %s: status %d, expected %d", row->desc, row->line,
                  row->path, status, row->status);
    if (row->status == 0) {
        ck_assert_msg(script.script_name_len == strlen(row->script_name)
                          && memcmp(script.script_name, row->script_name, script.script_name_len) == 0,
                      "%s (line %d): SCRIPT_NAME \"%.*s\", expected \"%s\"", row->desc, row->line,
                      (int)script.script_name_len, script.script_name, row->script_name);
        ck_assert_msg(script.path_info_len == strlen(row->path_info)
                          && memcmp(script.path_info, row->path_info, script.path_info_len) == 0,
                      "%s (line %d): PATH_INFO \"%.*s\", expected \"%s\"", row->desc, row->line,
                      (int)script.path_info_len, script.path_info, row->path_info);
    }
    pcre2_code_free(loc.loc_split_path_info);
}
END_TEST

START_TEST(split_path_too_long_is_not_found)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    size_t len = PATH_MAX + 16;
    char *path = malloc(len + 1);

    ck_assert_ptr_nonnull(path);
    memcpy(path, "/cgi-bin/", 9);
    memset(path + 9, 'a', len - 9);
    path[len] = '\0';

    location_init(&loc, &cgi_bin);
    request_init(&req, &loc, path);
    ck_assert_int_eq(zs_cgi_split_cgi(&req, &script), 404);

    location_init(&loc, &php_whole);
    ck_assert_int_eq(zs_cgi_split_app(&req, &script), 404);
    free(path);
}
END_TEST

START_TEST(split_without_root_fd_fails)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;

    location_init(&loc, &cgi_bin);
    loc.loc_root_fd = -1;
    request_init(&req, &loc, "/cgi-bin/hello.sh");
    ck_assert_int_eq(zs_cgi_split_cgi(&req, &script), 500);

    location_init(&loc, &php_whole);
    loc.loc_root_fd = -1;
    request_init(&req, &loc, "/app.php");
    ck_assert_int_eq(zs_cgi_split_app(&req, &script), 500);
}
END_TEST

/* The statuses a split returns, indexed by the exit code that carries them
 * out of a child process. */
static const int split_statuses[] = { 0, 403, 404, 500 };

/* Runs the split in a child process as the user nobody (uid 65534), because
 * root passes every permission check. Returns the status. */
static int
split_as_nobody(enum split_kind kind, const struct location_spec *spec, const char *path)
{
    pid_t pid = fork();
    int wstatus;

    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        struct zs_location loc;
        struct zs_app_request req;
        struct zs_cgi_script script;

        if (geteuid() == 0 && setresuid(65534, 65534, 65534) == -1)
            _exit(255);
        location_init(&loc, spec);
        request_init(&req, &loc, path);
        int status = kind == SPLIT_CGI ? zs_cgi_split_cgi(&req, &script) : zs_cgi_split_app(&req, &script);
        for (size_t i = 0; i < N_ROWS(split_statuses); i++)
            if (split_statuses[i] == status)
                _exit((int)i);
        _exit(254);
    }
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFEXITED(wstatus), "split as nobody ended by a signal");
    ck_assert_msg(WEXITSTATUS(wstatus) != 255, "setresuid to nobody failed");
    ck_assert_msg((size_t)WEXITSTATUS(wstatus) < N_ROWS(split_statuses), "split as nobody returned an unknown status");
    return split_statuses[WEXITSTATUS(wstatus)];
}

START_TEST(split_permission_denied_is_forbidden)
{
    static const struct location_spec sh_locked = { ZS_LOC_REGEX, "\\.sh$", NULL, false, false };

    ck_assert_int_eq(split_as_nobody(SPLIT_CGI, &cgi_bin, "/cgi-bin/locked/x.sh"), 403);
    ck_assert_int_eq(split_as_nobody(SPLIT_APP, &sh_locked, "/cgi-bin/locked/x.sh"), 403);
    /* The same user still reaches the scripts that are not locked. */
    ck_assert_int_eq(split_as_nobody(SPLIT_CGI, &cgi_bin, "/cgi-bin/hello.sh"), 0);
}
END_TEST

/* ---- variables ---- */

struct expected_var {
    const char *name;
    const char *value;
};

/* Checks each variable's layout: counted strings that end in NUL, and the
 * value right after the name's NUL. */
static void
check_var_layout(const struct zs_cgi_var *var)
{
    ck_assert_msg(strlen(var->name) == var->name_len, "%s: name length %zu", var->name, var->name_len);
    ck_assert_msg(strlen(var->value) == var->value_len, "%s: value length %zu, strlen %zu", var->name,
                  var->value_len, strlen(var->value));
    ck_assert_msg(var->value == var->name + var->name_len + 1, "%s: value does not follow the name", var->name);
}

/* Compares the whole set of variables with expected: the order does not
 * matter, the names and values do, and no variable may be extra. */
static void
check_env(const struct zs_cgi_env *env, const struct expected_var *expected, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct zs_cgi_var *var = zs_cgi_env_get(env, expected[i].name);
        ck_assert_msg(var != NULL, "%s is missing", expected[i].name);
        ck_assert_msg(strcmp(var->value, expected[i].value) == 0, "%s is \"%s\", expected \"%s\"",
                      expected[i].name, var->value, expected[i].value);
    }
    for (size_t i = 0; i < env->count; i++) {
        const struct zs_cgi_var *var = &env->vars[i];
        bool listed = false;

        check_var_layout(var);
        for (size_t j = 0; j < count && !listed; j++)
            listed = strcmp(var->name, expected[j].name) == 0;
        ck_assert_msg(listed, "unexpected variable %s=%s", var->name, var->value);
    }
    ck_assert_msg(env->count == count, "%zu variables, expected %zu (a name is repeated)", env->count, count);
}

/* The value of a variable that must be present. */
static const char *
env_value(const struct zs_cgi_env *env, const char *name)
{
    const struct zs_cgi_var *var = zs_cgi_env_get(env, name);

    ck_assert_msg(var != NULL, "%s is missing", name);
    return var->value;
}

static const struct location_spec php_env = { ZS_LOC_REGEX, "\\.php$", "^(.+\\.php)(/.*)$", false, false };

/* Fills script with counted strings, as the split functions return them. */
static void
script_init(struct zs_cgi_script *script, const char *script_name, const char *path_info)
{
    script->script_name = script_name;
    script->script_name_len = strlen(script_name);
    script->path_info = path_info;
    script->path_info_len = strlen(path_info);
}

START_TEST(env_get_request_exact)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    char script_filename[PATH_MAX];
    static const struct zs_app_header headers[] = {
        { "Host", 4, "example.test:8080", 17 },
        { "User-Agent", 10, "curl/8.0", 8 },
    };

    location_init(&loc, &php_env);
    request_init(&req, &loc, "/index.php");
    req.target = "/index.php?a=1&b=%20";
    req.target_len = strlen(req.target);
    req.query = "a=1&b=%20";
    req.query_len = strlen(req.query);
    req.headers = headers;
    req.header_count = N_ROWS(headers);
    script_init(&script, "/index.php", "");
    snprintf(script_filename, sizeof(script_filename), "%s/index.php", root_dir);

    const struct expected_var expected[] = {
        { "GATEWAY_INTERFACE", "CGI/1.1" },
        { "SERVER_SOFTWARE", "zserver/" PACKAGE_VERSION },
        { "SERVER_NAME", "example.test" },
        { "SERVER_PORT", "8080" },
        { "SERVER_ADDR", "127.0.0.1" },
        { "SERVER_PROTOCOL", "HTTP/1.1" },
        { "REQUEST_METHOD", "GET" },
        { "REQUEST_URI", "/index.php?a=1&b=%20" },
        { "QUERY_STRING", "a=1&b=%20" },
        { "SCRIPT_NAME", "/index.php" },
        { "PATH_INFO", "" },
        { "SCRIPT_FILENAME", script_filename },
        { "DOCUMENT_ROOT", root_dir },
        { "REMOTE_ADDR", "192.0.2.7" },
        { "REMOTE_PORT", "51234" },
        { "REDIRECT_STATUS", "200" },
        { "HTTP_HOST", "example.test:8080" },
        { "HTTP_USER_AGENT", "curl/8.0" },
    };
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    check_env(&env, expected, N_ROWS(expected));
    zs_cgi_env_free(&env);
    pcre2_code_free(loc.loc_split_path_info);
}
END_TEST

START_TEST(env_post_over_https_exact)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    char script_filename[PATH_MAX];
    char path_translated[PATH_MAX];
    static const struct zs_app_header headers[] = {
        { "Host", 4, "example.test", 12 },
        { "Content-Type", 12, "application/json", 16 },
        { "Content-Length", 14, "12345678901", 11 },
    };

    location_init(&loc, &php_env);
    request_init(&req, &loc, "/index.php/a b/c");
    req.method = "POST";
    req.protocol = "HTTP/1.0";
    req.target = "/index.php/a%20b/c";
    req.target_len = strlen(req.target);
    req.headers = headers;
    req.header_count = N_ROWS(headers);
    req.content_length = 12345678901LL;
    req.content_type = "application/json";
    req.content_type_len = 16;
    req.https = true;
    /* A client on a unix socket. */
    req.remote_addr = "";
    req.remote_port = 0;
    req.server_addr = "::1";
    req.server_port = 443;
    script_init(&script, "/index.php", "/a b/c");
    snprintf(script_filename, sizeof(script_filename), "%s/index.php", root_dir);
    snprintf(path_translated, sizeof(path_translated), "%s/a b/c", root_dir);

    const struct expected_var expected[] = {
        { "GATEWAY_INTERFACE", "CGI/1.1" },
        { "SERVER_SOFTWARE", "zserver/" PACKAGE_VERSION },
        { "SERVER_NAME", "example.test" },
        { "SERVER_PORT", "443" },
        { "SERVER_ADDR", "::1" },
        { "SERVER_PROTOCOL", "HTTP/1.0" },
        { "REQUEST_METHOD", "POST" },
        { "REQUEST_URI", "/index.php/a%20b/c" },
        { "QUERY_STRING", "" },
        { "SCRIPT_NAME", "/index.php" },
        { "PATH_INFO", "/a b/c" },
        { "PATH_TRANSLATED", path_translated },
        { "SCRIPT_FILENAME", script_filename },
        { "DOCUMENT_ROOT", root_dir },
        { "REMOTE_ADDR", "" },
        { "CONTENT_LENGTH", "12345678901" },
        { "CONTENT_TYPE", "application/json" },
        { "REDIRECT_STATUS", "200" },
        { "HTTPS", "on" },
        { "HTTP_HOST", "example.test" },
    };
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    check_env(&env, expected, N_ROWS(expected));
    zs_cgi_env_free(&env);
    pcre2_code_free(loc.loc_split_path_info);
}
END_TEST

START_TEST(env_empty_content_type_kept)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };

    location_init(&loc, &app_mount);
    request_init(&req, &loc, "/app/");
    req.content_type = "";
    req.content_type_len = 0;
    script_init(&script, "/app", "/");

    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_str_eq(env_value(&env, "CONTENT_TYPE"), "");
    ck_assert_ptr_null(zs_cgi_env_get(&env, "CONTENT_LENGTH"));
    zs_cgi_env_free(&env);
}
END_TEST

START_TEST(env_headers_joined_in_order)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    static const struct zs_app_header headers[] = {
        { "X-Forwarded-For", 15, "192.0.2.1", 9 },
        { "Cookie", 6, "a=1", 3 },
        { "Accept", 6, "text/html", 9 },
        { "x-forwarded-for", 15, "192.0.2.2", 9 },
        { "COOKIE", 6, "b=2", 3 },
        { "X-Empty", 7, "", 0 },
        { "X-Forwarded-For", 15, "192.0.2.3", 9 },
        { "cookie", 6, "c=3", 3 },
    };

    location_init(&loc, &app_mount);
    request_init(&req, &loc, "/app/x");
    req.headers = headers;
    req.header_count = N_ROWS(headers);
    script_init(&script, "/app", "/x");

    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_str_eq(env_value(&env, "HTTP_X_FORWARDED_FOR"), "192.0.2.1, 192.0.2.2, 192.0.2.3");
    ck_assert_str_eq(env_value(&env, "HTTP_COOKIE"), "a=1; b=2; c=3");
    ck_assert_str_eq(env_value(&env, "HTTP_ACCEPT"), "text/html");
    ck_assert_str_eq(env_value(&env, "HTTP_X_EMPTY"), "");

    size_t http_vars = 0;
    for (size_t i = 0; i < env.count; i++) {
        check_var_layout(&env.vars[i]);
        if (strncmp(env.vars[i].name, "HTTP_", 5) == 0)
            http_vars++;
    }
    ck_assert_uint_eq(http_vars, 4);
    zs_cgi_env_free(&env);
}
END_TEST

START_TEST(env_headers_dropped)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    static const struct zs_app_header headers[] = {
        { "Content-Type", 12, "text/plain", 10 },
        { "content-length", 14, "5", 1 },
        { "Proxy", 5, "http://192.0.2.9:3128", 21 },
        { "PROXY", 5, "http://192.0.2.9:3129", 21 },
        { "X_Real_IP", 9, "192.0.2.66", 10 },
        { "X-Real_IP", 9, "192.0.2.67", 10 },
        { "X-Real-IP", 9, "192.0.2.10", 10 },
        { "Proxy-Authorization", 19, "Basic eA==", 10 },
    };

    location_init(&loc, &app_mount);
    request_init(&req, &loc, "/app/x");
    req.headers = headers;
    req.header_count = N_ROWS(headers);
    req.content_length = 5;
    req.content_type = "text/plain";
    req.content_type_len = 10;
    script_init(&script, "/app", "/x");

    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_ptr_null(zs_cgi_env_get(&env, "HTTP_CONTENT_TYPE"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "HTTP_CONTENT_LENGTH"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "HTTP_PROXY"));
    ck_assert_str_eq(env_value(&env, "HTTP_X_REAL_IP"), "192.0.2.10");
    /* Only a name that is exactly "Proxy" is dropped. */
    ck_assert_ptr_nonnull(zs_cgi_env_get(&env, "HTTP_PROXY_AUTHORIZATION"));
    ck_assert_str_eq(env_value(&env, "CONTENT_LENGTH"), "5");
    ck_assert_str_eq(env_value(&env, "CONTENT_TYPE"), "text/plain");

    size_t http_vars = 0;
    for (size_t i = 0; i < env.count; i++)
        if (strncmp(env.vars[i].name, "HTTP_", 5) == 0)
            http_vars++;
    ck_assert_uint_eq(http_vars, 2);
    zs_cgi_env_free(&env);
}
END_TEST

START_TEST(env_params_come_last_and_replace)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    char script_filename[PATH_MAX];
    static const struct zs_app_header headers[] = {
        { "Host", 4, "example.test", 12 },
        { "X-Tenant", 8, "from-client", 11 },
    };
    struct zs_param params[] = {
        { "SCRIPT_FILENAME", "/srv/app/front.php" },
        { "HTTP_PROXY", "" },
        { "HTTP_X_TENANT", "from-config" },
        { "APP_ENV", "first" },
        { "APP_ENV", "production" },
        { "SERVER_NAME", "" },
    };

    location_init(&loc, &php_env);
    loc.loc_params = params;
    loc.loc_param_count = N_ROWS(params);
    request_init(&req, &loc, "/index.php");
    req.headers = headers;
    req.header_count = N_ROWS(headers);
    script_init(&script, "/index.php", "");
    snprintf(script_filename, sizeof(script_filename), "%s/index.php", root_dir);

    const struct expected_var expected[] = {
        { "GATEWAY_INTERFACE", "CGI/1.1" },
        { "SERVER_SOFTWARE", "zserver/" PACKAGE_VERSION },
        { "SERVER_NAME", "" },
        { "SERVER_PORT", "8080" },
        { "SERVER_ADDR", "127.0.0.1" },
        { "SERVER_PROTOCOL", "HTTP/1.1" },
        { "REQUEST_METHOD", "GET" },
        { "REQUEST_URI", "/index.php" },
        { "QUERY_STRING", "" },
        { "SCRIPT_NAME", "/index.php" },
        { "PATH_INFO", "" },
        { "SCRIPT_FILENAME", "/srv/app/front.php" },
        { "DOCUMENT_ROOT", root_dir },
        { "REMOTE_ADDR", "192.0.2.7" },
        { "REMOTE_PORT", "51234" },
        { "REDIRECT_STATUS", "200" },
        { "HTTP_HOST", "example.test" },
        { "HTTP_X_TENANT", "from-config" },
        { "HTTP_PROXY", "" },
        { "APP_ENV", "production" },
    };
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    check_env(&env, expected, N_ROWS(expected));
    zs_cgi_env_free(&env);
    pcre2_code_free(loc.loc_split_path_info);
}
END_TEST

START_TEST(env_path_translated_only_with_path_info)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };

    location_init(&loc, &cgi_bin);
    request_init(&req, &loc, "/cgi-bin/hello.sh");
    script_init(&script, "/cgi-bin/hello.sh", "");
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_ptr_null(zs_cgi_env_get(&env, "PATH_TRANSLATED"));

    /* The same env again: its buffers are reused. A root with a trailing
     * slash still gives one slash in the joined paths. */
    loc.loc_root = "/srv/www/";
    request_init(&req, &loc, "/cgi-bin/hello.sh/x/y");
    script_init(&script, "/cgi-bin/hello.sh", "/x/y");
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_str_eq(env_value(&env, "PATH_TRANSLATED"), "/srv/www/x/y");
    ck_assert_str_eq(env_value(&env, "SCRIPT_FILENAME"), "/srv/www/cgi-bin/hello.sh");
    ck_assert_str_eq(env_value(&env, "DOCUMENT_ROOT"), "/srv/www/");
    ck_assert_str_eq(env_value(&env, "PATH_INFO"), "/x/y");

    /* "/" as root, and a mount point at "/" with an empty SCRIPT_NAME. */
    loc.loc_root = "/";
    script_init(&script, "", "/x");
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_str_eq(env_value(&env, "PATH_TRANSLATED"), "/x");
    ck_assert_str_eq(env_value(&env, "SCRIPT_FILENAME"), "/");
    ck_assert_str_eq(env_value(&env, "SCRIPT_NAME"), "");
    zs_cgi_env_free(&env);
}
END_TEST

START_TEST(env_without_root_has_no_file_paths)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };

    location_init(&loc, &app_mount);
    loc.loc_root = NULL;
    request_init(&req, &loc, "/app/x");
    script_init(&script, "/app", "/x");
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_ptr_null(zs_cgi_env_get(&env, "DOCUMENT_ROOT"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "SCRIPT_FILENAME"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "PATH_TRANSLATED"));
    ck_assert_str_eq(env_value(&env, "PATH_INFO"), "/x");
    zs_cgi_env_free(&env);
}
END_TEST

/* Many large headers, joined and not, and many parameters: every value
 * arrives whole. */
START_TEST(env_large_request_survives)
{
    enum { HEADERS = 300, VALUE_LEN = 700, PARAMS = 50 };
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    struct zs_app_header *headers = calloc(HEADERS, sizeof(*headers));
    struct zs_param *params = calloc(PARAMS, sizeof(*params));
    char (*names)[32] = calloc(HEADERS, sizeof(*names));
    char *value = malloc(VALUE_LEN + 1);

    ck_assert_ptr_nonnull(headers);
    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(names);
    ck_assert_ptr_nonnull(value);
    memset(value, 'v', VALUE_LEN);
    value[VALUE_LEN] = '\0';
    /* Header i is named X-H<i mod 100>, so each name arrives three times. */
    for (size_t i = 0; i < HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "X-H%zu", i % 100);
        headers[i] = (struct zs_app_header){ names[i], strlen(names[i]), value, VALUE_LEN };
    }
    for (size_t i = 0; i < PARAMS; i++)
        params[i] = (struct zs_param){ i % 2 == 0 ? "REQUEST_URI" : names[i], value };

    location_init(&loc, &app_mount);
    loc.loc_params = params;
    loc.loc_param_count = PARAMS;
    request_init(&req, &loc, "/app/x");
    req.headers = headers;
    req.header_count = HEADERS;
    script_init(&script, "/app", "/x");

    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    for (size_t i = 0; i < env.count; i++)
        check_var_layout(&env.vars[i]);
    const struct zs_cgi_var *joined = zs_cgi_env_get(&env, "HTTP_X_H42");
    ck_assert_ptr_nonnull(joined);
    ck_assert_uint_eq(joined->value_len, 3 * VALUE_LEN + 4);
    ck_assert_str_eq(env_value(&env, "REQUEST_URI"), value);
    /* The odd parameters add variables named like the headers ("X-H1"). */
    ck_assert_str_eq(env_value(&env, "X-H1"), value);
    ck_assert_str_eq(env_value(&env, "PATH_INFO"), "/x");

    zs_cgi_env_free(&env);
    ck_assert_ptr_null(env.vars);
    ck_assert_ptr_null(env.strings);
    free(value);
    free(names);
    free(params);
    free(headers);
}
END_TEST

/* Growth moves the strings: every stored variable must follow them. */
START_TEST(env_strings_growth_moves_pointers)
{
    struct zs_cgi_env env = { 0 };
    char name[16];

    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "VAR_%d", i);
        ck_assert_int_eq(env_put(&env, name, strlen(name), name, strlen(name), false), 0);
    }
    char *before = env.strings;
    size_t cap = env.strings_cap;
    ck_assert_int_eq(strings_reserve(&env, 4 * cap), 0);
    ck_assert_uint_ge(env.strings_cap - env.strings_len, 4 * cap);
    ck_assert_ptr_ne(env.strings, before);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "VAR_%d", i);
        const struct zs_cgi_var *var = zs_cgi_env_get(&env, name);
        ck_assert_ptr_nonnull(var);
        ck_assert_str_eq(var->value, name);
        check_var_layout(var);
    }
    zs_cgi_env_free(&env);
}
END_TEST

START_TEST(env_get_absent_is_null)
{
    struct zs_location loc;
    struct zs_app_request req;
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };

    location_init(&loc, &app_mount);
    request_init(&req, &loc, "/app/x");
    script_init(&script, "/app", "/x");
    ck_assert_int_eq(zs_cgi_env_build(&env, &req, &script), 0);
    ck_assert_ptr_null(zs_cgi_env_get(&env, "HTTPS"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "SCRIPT"));
    ck_assert_ptr_null(zs_cgi_env_get(&env, "SCRIPT_NAMES"));
    ck_assert_ptr_nonnull(zs_cgi_env_get(&env, "SCRIPT_NAME"));
    zs_cgi_env_free(&env);
    /* Freeing twice is harmless: the env is zeroed. */
    zs_cgi_env_free(&env);
}
END_TEST

static Suite *
cgi_env_suite(void)
{
    Suite *s = suite_create("cgi_env");
    TCase *tc_split = tcase_create("split");
    TCase *tc_env = tcase_create("env");

    tcase_add_unchecked_fixture(tc_split, tree_setup, tree_teardown);
    tcase_add_loop_test(tc_split, split_finds_script_and_path_info, 0, N_ROWS(split_rows));
    tcase_add_test(tc_split, split_path_too_long_is_not_found);
    tcase_add_test(tc_split, split_without_root_fd_fails);
    tcase_add_test(tc_split, split_permission_denied_is_forbidden);
    suite_add_tcase(s, tc_split);

    tcase_add_unchecked_fixture(tc_env, tree_setup, tree_teardown);
    tcase_add_test(tc_env, env_get_request_exact);
    tcase_add_test(tc_env, env_post_over_https_exact);
    tcase_add_test(tc_env, env_empty_content_type_kept);
    tcase_add_test(tc_env, env_headers_joined_in_order);
    tcase_add_test(tc_env, env_headers_dropped);
    tcase_add_test(tc_env, env_params_come_last_and_replace);
    tcase_add_test(tc_env, env_path_translated_only_with_path_info);
    tcase_add_test(tc_env, env_without_root_has_no_file_paths);
    tcase_add_test(tc_env, env_large_request_survives);
    tcase_add_test(tc_env, env_strings_growth_moves_pointers);
    tcase_add_test(tc_env, env_get_absent_is_null);
    suite_add_tcase(s, tc_env);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cgi_env_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
