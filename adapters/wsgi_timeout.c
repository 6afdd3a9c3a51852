/* wsgi_timeout: a watchdog thread that stops application code which runs
 * too long, since the worker's other connections wait meanwhile.
 *
 * The worker records when it entered application code (CLOCK_MONOTONIC,
 * which the vDSO reads without a system call). Once a second the
 * watchdog compares: past the timeout it sends SIGALRM to the worker's
 * thread, and Python's handler raises TimeoutError in the application (a
 * blocked system call returns EINTR first, and Python runs the handler
 * before it retries). Code that does not return to Python (a loop in an
 * extension module) is not stopped that way: GRACE_MS later the watchdog
 * ends the whole worker, and the master starts a new one. */
#include "config.h"

#include "adapters/wsgi.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define CHECK_INTERVAL_MS 1000
/* Time between TimeoutError and the end of the worker. */
#define GRACE_MS 10000
/* Exit status of a worker ended by the watchdog, for the master's log. */
#define WATCHDOG_EXIT 3

static pthread_t worker_thread;
static pthread_t watchdog_thread;
/* When the running application code started and its limit, in ms of the
 * monotonic clock; since = 0 while no application code runs. */
static _Atomic int64_t since_ms;
static _Atomic int64_t limit_ms;
static _Atomic bool interrupted;

static int64_t
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
watchdog_main(void *arg)
{
    for (;;) {
        struct timespec pause = { .tv_sec = CHECK_INTERVAL_MS / 1000 };
        int64_t since, limit, now;

        nanosleep(&pause, NULL);
        since = atomic_load(&since_ms);
        limit = atomic_load(&limit_ms);
        if (since == 0)
            continue;
        now = monotonic_ms();
        if (now - since >= limit + GRACE_MS) {
            zs_log_error("wsgi_timeout: application code still running %lld ms after its TimeoutError; "
                         "ending the worker", (long long)(now - since - limit));
            _exit(WATCHDOG_EXIT);
        }
        if (now - since >= limit && !atomic_exchange(&interrupted, true))
            pthread_kill(worker_thread, SIGALRM);
    }
    return NULL;
}

/* Python's own handler (signal.signal) makes SIGALRM a TimeoutError in
 * the worker's thread, at the next bytecode. */
static int
install_handler(void)
{
    static const char code[] =
        "import signal as _signal\n"
        "def _zserver_timeout(signum, frame):\n"
        "    raise TimeoutError('the request ran longer than wsgi_timeout')\n"
        "_signal.signal(_signal.SIGALRM, _zserver_timeout)\n";
    PyObject *globals = PyDict_New();
    PyObject *r = globals != NULL ? PyRun_String(code, Py_file_input, globals, globals) : NULL;

    Py_XDECREF(r);
    Py_XDECREF(globals);
    return r != NULL ? 0 : -1;
}

int
wsgi_timeout_start(void)
{
    worker_thread = pthread_self();
    if (install_handler() == -1) {
        wsgi_log_exception("wsgi_timeout: ");
        return -1;
    }
    /* The watchdog takes no signal: QUIT, TERM and SIGALRM are the worker's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&watchdog_thread, NULL, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        zs_log_error("wsgi_timeout: starting the watchdog thread failed");
        return -1;
    }
    return 0;
}

void
wsgi_timeout_begin(int timeout_ms)
{
    atomic_store(&limit_ms, timeout_ms);
    atomic_store(&interrupted, false);
    atomic_store(&since_ms, monotonic_ms());
}

void
wsgi_timeout_end(void)
{
    atomic_store(&since_ms, 0);
}
