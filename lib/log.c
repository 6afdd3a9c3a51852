/* Error log: one write per line so that concurrent processes never interleave. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_LINE_MAX 4096

static const char *level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};

static const int syslog_priorities[] = {
    LOG_EMERG, LOG_ALERT, LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
};

enum log_dest_kind { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static struct {
    enum log_dest_kind kind;
    int fd;
    int level;
    char role[16];
    char dest[256];
} log_state = { DEST_STDERR, 2, ZS_LOG_NOTICE, "master", "stderr" };

int
zs_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcmp(name, "warning") == 0)
        return ZS_LOG_WARN;
    return -1;
}

const char *
zs_log_level_name(int level)
{
    if (level < 0 || level > ZS_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

void
zs_log_init(const char *role)
{
    zs_log_set_role(role);
}

void
zs_log_set_role(const char *role)
{
    snprintf(log_state.role, sizeof(log_state.role), "%s", role);
}

void
zs_log_set_level(int level)
{
    log_state.level = level;
}

int
zs_log_get_level(void)
{
    return log_state.level;
}

int
zs_log_open(const char *dest)
{
    if (strcmp(dest, "stderr") == 0) {
        if (log_state.kind == DEST_FILE)
            close(log_state.fd);
        log_state.kind = DEST_STDERR;
        log_state.fd = 2;
    } else if (strcmp(dest, "syslog") == 0) {
        if (log_state.kind == DEST_FILE)
            close(log_state.fd);
        openlog("zserver", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_state.kind = DEST_SYSLOG;
        log_state.fd = -1;
    } else {
        int fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1)
            return -1;
        if (log_state.kind == DEST_FILE)
            close(log_state.fd);
        log_state.kind = DEST_FILE;
        log_state.fd = fd;
    }
    snprintf(log_state.dest, sizeof(log_state.dest), "%s", dest);
    return 0;
}

void
zs_log_set_fd(int fd)
{
    if (log_state.kind != DEST_FILE) {
        close(fd);
        return;
    }
    if (dup3(fd, log_state.fd, O_CLOEXEC) == -1) {
        close(log_state.fd);
        log_state.fd = fd;
        return;
    }
    close(fd);
}

int
zs_log_fd(void)
{
    return log_state.kind == DEST_SYSLOG ? -1 : log_state.fd;
}

const char *
zs_log_dest(void)
{
    return log_state.dest;
}

/* Copies src into dst with \xHH for every byte that keep() rejects. */
static size_t
escape(char *dst, size_t dstsize, const char *src, size_t len, bool (*keep)(unsigned char))
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (dstsize == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (keep(c)) {
            if (n + 1 >= dstsize)
                break;
            dst[n++] = (char)c;
            continue;
        }
        if (n + 4 >= dstsize)
            break;
        dst[n++] = '\\';
        dst[n++] = 'x';
        dst[n++] = hex[c >> 4];
        dst[n++] = hex[c & 0xf];
    }
    dst[n] = '\0';
    return n;
}

static bool
keep_in_quotes(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '\\' && c != '"';
}

static bool
keep_in_text(unsigned char c)
{
    return c >= 0x20 && c != 0x7f;
}

size_t
zs_log_escape(char *dst, size_t dstsize, const char *src, size_t len)
{
    return escape(dst, dstsize, src, len, keep_in_quotes);
}

size_t
zs_log_escape_text(char *dst, size_t dstsize, const char *src, size_t len)
{
    return escape(dst, dstsize, src, len, keep_in_text);
}

static void
log_write(int level, const char *msg, size_t len)
{
    if (log_state.kind == DEST_SYSLOG) {
        syslog(syslog_priorities[level], "%s: %.*s", log_state.role, (int)len, msg);
        return;
    }

    char line[LOG_LINE_MAX + 128];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d/%02d/%02d %02d:%02d:%02d [%s] %d#%s: %.*s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, level_names[level], (int)getpid(), log_state.role, (int)len, msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line);
        line[n - 1] = '\n';
    }
    /* A single write with O_APPEND keeps lines whole across processes. */
    ssize_t r;
    do {
        r = write(log_state.fd, line, (size_t)n);
    } while (r == -1 && errno == EINTR);
}

void
zs_logv(int level, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    int saved = errno;

    if (level > log_state.level)
        return;
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    log_write(level, msg, (size_t)n);
    errno = saved;
}

void
zs_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    zs_logv(level, fmt, ap);
    va_end(ap);
}

void
zs_log_errno(int level, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX];
    int saved = errno;
    va_list ap;

    if (level > log_state.level)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
    log_write(level, msg, strlen(msg));
    errno = saved;
}
