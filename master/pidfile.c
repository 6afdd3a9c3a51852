/* The pid file: written by the master, read by `zserver -s`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "master/master.h"

pid_t
zs_pidfile_read(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end != '\n' && *end != '\0'))
        return -1;
    return (pid_t)pid;
}

/* Returns -1 after logging when the pid file names another live process. */
int
zs_pidfile_check(const char *path)
{
    pid_t old = zs_pidfile_read(path);

    if (old > 0 && old != getpid() && kill(old, 0) == 0) {
        zs_log_error("pid file %s: zserver is already running as pid %d", path, (int)old);
        return -1;
    }
    return 0;
}

/* Refuses to overwrite the pid file of a master that is still running. */
int
zs_pidfile_write(const char *path)
{
    char buf[32];

    if (zs_pidfile_check(path) == -1)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        zs_log_syserr("pid file %s: open failed", path);
        return -1;
    }
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        zs_log_syserr("pid file %s: write failed", path);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

void
zs_pidfile_remove(const char *path)
{
    if (zs_pidfile_read(path) == getpid())
        unlink(path);
}

int
zs_pidfile_rename(const char *from, const char *to)
{
    if (rename(from, to) == -1) {
        zs_log_syserr("pid file %s: rename to %s failed", from, to);
        return -1;
    }
    return 0;
}
