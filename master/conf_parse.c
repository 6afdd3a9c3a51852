/* Reads configuration files for libconfuse: blanks comments, reports what libconfuse does not, and runs include(). */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "master/conf_internal.h"

#define INCLUDE_DEPTH_MAX 16
#define BRACE_STACK_MAX 64

char *
zs_conf_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0;
    int saved;

    *len = 0;
    if (fp == NULL)
        return NULL;
    for (;;) {
        if (cap - *len < 4096) {
            char *bigger = realloc(text, cap + 65536);
            if (bigger == NULL)
                goto fail;
            text = bigger;
            cap += 65536;
        }
        *len += fread(text + *len, 1, cap - *len - 1, fp);
        if (ferror(fp))
            goto fail;
        if (feof(fp))
            break;
    }
    text[*len] = '\0';
    fclose(fp);
    return text;

fail:
    saved = errno;
    free(text);
    fclose(fp);
    errno = saved != 0 ? saved : ENOMEM;
    return NULL;
}

/*
 * Blanks out '#' comments before libconfuse reads the text: the lexer of
 * libconfuse 3.3 counts extra lines for each comment, so every later error
 * would name the wrong line, and it rejects a comment inside a list. Also
 * reports what that parser accepts silently or fails on without a message:
 * a '{' still open at the end of the file and an unterminated string.
 * Returns 0, or -1 after recording the error.
 */
static int
prepare_text(char *text, size_t len, const char *file)
{
    int open_lines[BRACE_STACK_MAX];
    size_t depth = 0;
    int line = 1;
    int quote_line = 0;
    char quote = '\0';

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '\n')
            line++;
        if (quote != '\0') {
            /* Double quotes escape any character; single quotes escape only \ and '. */
            if (c == '\\' && i + 1 < len && (quote == '"' || text[i + 1] == '\\' || text[i + 1] == '\'')) {
                if (text[++i] == '\n')
                    line++;
            } else if (c == quote) {
                quote = '\0';
            }
            continue;
        }
        switch (c) {
        case '"':
        case '\'':
            quote = c;
            quote_line = line;
            break;
        case '#':
            while (i < len && text[i] != '\n')
                text[i++] = ' ';
            i--;
            break;
        case '$':
            /* "${NAME}" is an environment variable: its '}' closes no section. */
            if (i + 1 < len && text[i + 1] == '{') {
                while (i < len && text[i] != '}')
                    line += text[i++] == '\n';
            }
            break;
        case '{':
            if (depth < BRACE_STACK_MAX)
                open_lines[depth] = line;
            depth++;
            break;
        case '}':
            /* An extra '}' is left to libconfuse, which reports it. */
            if (depth > 0)
                depth--;
            break;
        }
    }
    if (quote != '\0') {
        zs_conf_error_add(file, quote_line, "unterminated string: %c is not closed by the end of the file", quote);
        return -1;
    }
    if (depth > 0) {
        zs_conf_error_add(file, open_lines[depth <= BRACE_STACK_MAX ? depth - 1 : BRACE_STACK_MAX - 1],
                          "'{' is not closed by the end of the file");
        return -1;
    }
    return 0;
}

/* Parses the text of one file into cfg at the top level. An include parses its files from
 * inside this parse. Returns 0, or -1 after recording a syntax error. */
int
zs_conf_parse_text(cfg_t *cfg, const char *file, char *text, size_t len)
{
    char *saved_name = cfg->filename;
    int saved_line = cfg->line;
    size_t errors_before = zs_conf_loading->error_count;
    FILE *fp;
    int rc = -1;

    if (prepare_text(text, len, file) == -1)
        return -1;
    if (len == 0)
        return 0;
    fp = fmemopen(text, len, "r");
    cfg->filename = strdup(file);
    if (fp == NULL || cfg->filename == NULL) {
        zs_conf_out_of_memory();
    } else if (cfg_parse_fp(cfg, fp) == CFG_SUCCESS) {
        rc = 0;
    } else if (zs_conf_loading->error_count == errors_before) {
        /* Some lexer failures return without calling the error function. */
        zs_conf_error_add(file, cfg->line, "syntax error");
    }
    if (fp != NULL)
        fclose(fp);
    free(cfg->filename);
    cfg->filename = saved_name;
    cfg->line = saved_line;
    return rc;
}

static int
include_file(cfg_t *cfg, const char *pattern, const char *path, bool wildcard,
             const char *from_file, int from_line)
{
    const char *file = zs_conf_file_intern(path);
    struct stat st;
    size_t len;
    char *text;
    int rc;

    if (file == NULL)
        return zs_conf_out_of_memory();
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A wildcard pattern may match directories: skip them. */
        if (wildcard)
            return 0;
        zs_conf_error_add(from_file, from_line, "include '%s': '%s' is not a regular file", pattern, path);
        return 0;
    }
    text = zs_conf_read_file(path, &len);
    if (text == NULL) {
        zs_conf_error_add(from_file, from_line, "include '%s': open '%s' failed: %s", pattern, path, strerror(errno));
        return 0;
    }
    zs_conf_loading->include_depth++;
    rc = zs_conf_parse_text(cfg, file, text, len);
    zs_conf_loading->include_depth--;
    free(text);
    return rc;
}

/* include("pattern"): parses each file that the glob pattern matches, in
 * sorted order. The pattern is relative to the directory of the including
 * file. A pattern without a wildcard must match a file. */
int
zs_conf_cb_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
    const char *from_file = zs_conf_file_intern(cfg->filename);
    int from_line = cfg->line;
    char *dir = NULL;
    char *pattern = NULL;
    glob_t matches = { 0 };
    bool wildcard;
    int rc = 0;

    if (argc != 1) {
        zs_conf_error_add(from_file, from_line,
                          "include: expected one file name or pattern, as in include(\"sites/*.conf\")");
        return 0;
    }
    if (zs_conf_loading->include_depth >= INCLUDE_DEPTH_MAX) {
        zs_conf_error_add(from_file, from_line, "include '%s': includes are nested more than %d deep", argv[0],
                          INCLUDE_DEPTH_MAX);
        return -1;
    }
    dir = zs_conf_path_dirname(from_file);
    pattern = dir != NULL ? zs_conf_path_resolve(dir, argv[0]) : NULL;
    if (pattern == NULL) {
        rc = -1;
        goto done;
    }
    wildcard = strpbrk(argv[0], "*?[") != NULL;
    switch (glob(pattern, 0, NULL, &matches)) {
    case 0:
        break;
    case GLOB_NOMATCH:
        if (!wildcard)
            zs_conf_error_add(from_file, from_line, "include '%s': file '%s' not found", argv[0], pattern);
        goto done;
    case GLOB_NOSPACE:
        rc = zs_conf_out_of_memory();
        goto done;
    default:
        zs_conf_error_add(from_file, from_line, "include '%s': reading a directory of '%s' failed", argv[0], pattern);
        goto done;
    }
    for (size_t i = 0; i < matches.gl_pathc && rc == 0; i++)
        rc = include_file(cfg, argv[0], matches.gl_pathv[i], wildcard, from_file, from_line);

done:
    globfree(&matches);
    free(pattern);
    free(dir);
    return rc;
}
