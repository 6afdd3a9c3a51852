/* Process titles shown by ps: the memory of argv is reused for them. */
#ifndef ZS_PROCTITLE_H
#define ZS_PROCTITLE_H

/* Moves argv's strings and the environment to the heap, so that their
 * memory can hold a title. Call first in main(); argv stays usable. */
void zs_proctitle_init(int argc, char **argv);
/* The command line as it was started, for the master's title. */
const char *zs_proctitle_command(void);
extern char **zs_proctitle_env;
void zs_proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
