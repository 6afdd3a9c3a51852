/* Error log: levels, destinations (stderr, file, syslog) and per-process context. */
#ifndef ZS_LOG_H
#define ZS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum zs_log_level {
    ZS_LOG_EMERG,
    ZS_LOG_ALERT,
    ZS_LOG_CRIT,
    ZS_LOG_ERROR,
    ZS_LOG_WARN,
    ZS_LOG_NOTICE,
    ZS_LOG_INFO,
    ZS_LOG_DEBUG
};

/* Level names as written in the configuration ("error", "notice", ...). */
int zs_log_level_parse(const char *name);
const char *zs_log_level_name(int level);

/* Sends log lines to stderr until zs_log_open() names a destination. */
void zs_log_init(const char *role);
void zs_log_set_role(const char *role);
void zs_log_set_level(int level);
int zs_log_get_level(void);

/* Opens "stderr", "syslog" or a file path in append mode; returns 0 or -1.
 * The previous destination stays in use when opening fails. */
int zs_log_open(const char *dest);
/* Replaces the file descriptor of a file destination (after a reopen). */
void zs_log_set_fd(int fd);
int zs_log_fd(void);
const char *zs_log_dest(void);

void zs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zs_logv(int level, const char *fmt, va_list ap);
/* Appends ": strerror(errno)" to the message. */
void zs_log_errno(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define zs_log_error(...) zs_log(ZS_LOG_ERROR, __VA_ARGS__)
#define zs_log_warn(...) zs_log(ZS_LOG_WARN, __VA_ARGS__)
#define zs_log_notice(...) zs_log(ZS_LOG_NOTICE, __VA_ARGS__)
#define zs_log_info(...) zs_log(ZS_LOG_INFO, __VA_ARGS__)
#define zs_log_debug(...) zs_log(ZS_LOG_DEBUG, __VA_ARGS__)
#define zs_log_syserr(...) zs_log_errno(ZS_LOG_ERROR, __VA_ARGS__)
#define zs_log_syswarn(...) zs_log_errno(ZS_LOG_WARN, __VA_ARGS__)

/* Copies network bytes into dst as printable ASCII (\xHH for the rest);
 * always NUL-terminates and returns the length written. */
size_t zs_log_escape(char *dst, size_t dstsize, const char *src, size_t len);
/* For text that an application writes (Python's output, tracebacks): only
 * control bytes become \xHH, so quotes and UTF-8 stay readable. */
size_t zs_log_escape_text(char *dst, size_t dstsize, const char *src, size_t len);

#endif
