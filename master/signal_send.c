/* `zserver -s ACTION`: signals the running master found through the pid file. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "master/master.h"

#define RELOAD_WAIT_SECONDS 60

static int
action_signal(const char *action)
{
    static const struct {
        const char *name;
        int sig;
    } actions[] = {
        { "reload", SIGHUP }, { "reopen", SIGUSR1 }, { "quit", SIGQUIT }, { "stop", SIGTERM },
    };

    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(action, actions[i].name) == 0)
            return actions[i].sig;
    return -1;
}

/* Queues a reload request with a marker and waits for the master's verdict. */
static int
reload_and_wait(pid_t pid)
{
    sigset_t set;
    siginfo_t si;
    union sigval v = { .sival_int = ZS_RELOAD_MAGIC };
    struct timespec ts = { .tv_sec = RELOAD_WAIT_SECONDS };

    sigemptyset(&set);
    sigaddset(&set, ZS_RELOAD_REPLY_SIGNAL);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (sigqueue(pid, ZS_RELOAD_REQUEST_SIGNAL, v) == -1) {
        fprintf(stderr, "zserver: signal to master %d failed: %s\n", (int)pid, strerror(errno));
        return 1;
    }
    for (;;) {
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig == -1 && errno == EINTR)
            continue;
        if (sig == -1) {
            fprintf(stderr, "zserver: no reply from master %d within %d s; see its error log\n",
                    (int)pid, RELOAD_WAIT_SECONDS);
            return 1;
        }
        if (si.si_pid != pid)
            continue;
        if (si.si_value.sival_int != 0) {
            fprintf(stderr, "zserver: reload failed, the previous configuration is still running; "
                            "see the error log\n");
            return 1;
        }
        return 0;
    }
}

int
zs_signal_send(const struct zs_config *conf, const char *action)
{
    int sig = action_signal(action);

    if (sig == -1) {
        fprintf(stderr, "zserver: invalid -s action \"%s\": use reload, reopen, quit or stop\n", action);
        return 2;
    }
    pid_t pid = zs_pidfile_read(conf->pid_file);
    if (pid <= 0) {
        fprintf(stderr, "zserver: pid file %s: missing or invalid; is zserver running?\n", conf->pid_file);
        return 1;
    }
    if (sig == SIGHUP)
        return reload_and_wait(pid);
    if (kill(pid, sig) == -1) {
        fprintf(stderr, "zserver: signal to master %d failed: %s\n", (int)pid, strerror(errno));
        return 1;
    }
    return 0;
}
