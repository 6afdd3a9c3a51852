/* Process titles, as `ps` shows them: "zserver: master process ...",
 * "zserver: worker process (pool NAME)", so that an administrator can tell
 * the processes apart. Linux shows the memory that held argv, so the title
 * is written there. The environment strings that follow argv are moved to
 * the heap first, because that makes room for a title longer than the command. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proctitle.h"

extern char **environ;

static char *title_start;        /* the original argv[0] */
static size_t title_size;        /* bytes from there that may be overwritten */
static char *command_line;       /* the original arguments, joined by spaces */
/* The moved environment. setenv() may replace environ with an array of its
 * own later; this keeps ours reachable, as the strings in it still are.
 * Not static: the compiler would drop a store that nothing reads. */
char **zs_proctitle_env;

/* Extends end over str when str starts right there. */
static char *
extend_area(char *end, const char *str)
{
    return str == end ? end + strlen(str) + 1 : end;
}

/* Copies argv's strings and the environment to the heap. Returns 0, or -1
 * when out of memory, with nothing moved that is still in use. */
static int
move_strings(int argc, char **argv, size_t env_count)
{
    char **env = malloc((env_count + 1) * sizeof(*env));
    char **args = malloc((size_t)argc * sizeof(*args));

    if (env == NULL || args == NULL)
        goto fail;
    for (size_t i = 0; i < env_count; i++)
        if ((env[i] = strdup(environ[i])) == NULL)
            goto fail;
    env[env_count] = NULL;
    for (int i = 0; i < argc; i++)
        if ((args[i] = strdup(argv[i])) == NULL)
            goto fail;
    environ = zs_proctitle_env = env;
    memcpy(argv, args, (size_t)argc * sizeof(*args));
    free(args);
    program_invocation_name = argv[0];
    return 0;

fail:
    /* Left allocated: this runs once, at start, and the process goes on
     * without titles. */
    return -1;
}

void
zs_proctitle_init(int argc, char **argv)
{
    size_t env_count = 0;
    size_t line_len = 0;
    char *start, *end;

    if (argc == 0 || argv[0] == NULL)
        return;
    start = argv[0];
    end = start + strlen(start) + 1;
    for (int i = 1; i < argc; i++) {
        end = extend_area(end, argv[i]);
        line_len += strlen(argv[i]) + 1;
    }
    while (environ[env_count] != NULL)
        end = extend_area(end, environ[env_count++]);

    command_line = malloc(strlen(start) + line_len + 1);
    if (command_line == NULL)
        return;
    strcpy(command_line, start);
    for (int i = 1; i < argc; i++) {
        strcat(command_line, " ");
        strcat(command_line, argv[i]);
    }
    if (move_strings(argc, argv, env_count) == -1)
        return;
    title_start = start;
    title_size = (size_t)(end - start);
}

const char *
zs_proctitle_command(void)
{
    return command_line != NULL ? command_line : "zserver";
}

void
zs_proctitle_set(const char *fmt, ...)
{
    va_list ap;
    size_t len;

    if (title_start == NULL || title_size < 2)
        return;
    va_start(ap, fmt);
    vsnprintf(title_start, title_size, fmt, ap);
    va_end(ap);
    /* The rest of the area is cleared, so that no old argument shows. */
    len = strlen(title_start);
    memset(title_start + len, '\0', title_size - len);
}
