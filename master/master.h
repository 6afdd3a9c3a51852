/* Master process: private prototypes, grouped by the file that defines them. */
#ifndef ZS_MASTER_H
#define ZS_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/conf.h"

/* `zserver -s reload` queues ZS_RELOAD_REQUEST_SIGNAL with this value and
 * waits for the outcome on ZS_RELOAD_REPLY_SIGNAL (value 0: reloaded, 1:
 * failed). Real-time signals queue, so simultaneous callers all get a reply;
 * a plain HUP reloads without one. */
#define ZS_RELOAD_MAGIC 0x7a735244
#define ZS_RELOAD_REQUEST_SIGNAL (SIGRTMIN + 2)
#define ZS_RELOAD_REPLY_SIGNAL (SIGRTMIN + 1)

/* supervise.c */
int zs_master_run(struct zs_config *conf, bool foreground);

/* listen.c */
/* Opens every listener of conf, taking over open sockets of old (may be
 * NULL) with the same address. Returns 0, or -1 after logging the failure. */
int zs_listeners_open(struct zs_config *conf, struct zs_config *old);
/* Closes the sockets still held by conf; unlink removes unix socket files. */
void zs_listeners_close(struct zs_config *conf, bool unlink_paths);

/* files.c */
/* Opens the document roots and access logs of conf. Returns 0 or -1. */
int zs_files_open(struct zs_config *conf);
void zs_files_close(struct zs_config *conf);
void zs_files_close_except(struct zs_config *conf, const struct zs_pool *keep);
/* Reopens the access logs in place (same descriptor numbers); fills
 * slots/fds with what workers must receive. Returns the count. */
size_t zs_files_reopen_logs(struct zs_config *conf, uint32_t *slots, int *fds, size_t max);

/* pidfile.c */
int zs_pidfile_check(const char *path);
int zs_pidfile_write(const char *path);
pid_t zs_pidfile_read(const char *path);
void zs_pidfile_remove(const char *path);
int zs_pidfile_rename(const char *from, const char *to);

/* privdrop.c */
int zs_privdrop(const struct zs_pool *pool);

/* apps.c */
int zs_apps_open(struct zs_config *conf);
void zs_apps_close(struct zs_config *conf, bool unlink_paths);
pid_t zs_app_spawn(const struct zs_app *app);

/* preload.c */
/* The loader's life: preload the pool's applications, report on fd, then
 * fork a worker for each channel the master sends. Never returns. */
void zs_loader_main(const struct zs_config *conf, const struct zs_pool *pool, int fd) __attribute__((noreturn));
/* Master side: waits until the loader has preloaded. Returns 0 or -1 (logged). */
int zs_loader_wait_ready(int fd, const char *pool_name);
/* Master side: has the loader fork a worker on channel. Returns its pid, or -1 (logged). */
pid_t zs_loader_spawn(int fd, int channel, const char *pool_name);

/* signal_send.c */
int zs_signal_send(const struct zs_config *conf, const char *action);

#endif
