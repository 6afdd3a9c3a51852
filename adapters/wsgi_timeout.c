/* wsgi_timeout: a watchdog thread that stops application code which runs
 * too long without producing output, since the worker's other connections
 * wait meanwhile.
 *
 * The worker records when the running code's clock started
 * (CLOCK_MONOTONIC, which the vDSO reads without a system call): at its
 * start, less the time the request's code already used, and again at each
 * piece of output. Time spent waiting for the client does not count. The
 * watchdog compares a few times per timeout: past it, it sends SIGNAL to
 * the worker's thread, and Python's handler raises TimeoutError in the
 * application (a blocked system call returns EINTR first, and Python runs
 * the handler before it retries). Code that does not return to Python, or
 * that catches the error and goes on, is not stopped that way: GRACE_MS
 * later the watchdog ends the whole worker, and the master starts a new one.
 * SIGNAL is a real-time signal, which applications leave alone, unlike
 * SIGALRM (signal.alarm()). */
#include "config.h"

#include "adapters/wsgi.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

/* The watchdog checks every quarter of the shortest timeout, within these. */
#define CHECK_MIN_MS 10
#define CHECK_MAX_MS 1000
#define SIGNAL (SIGRTMIN + 2)
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
static int check_ms;

int64_t
wsgi_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
watchdog_main(void *arg)
{
    for (;;) {
        struct timespec pause = { .tv_sec = check_ms / 1000, .tv_nsec = (check_ms % 1000) * 1000000L };
        int64_t since, limit, now;

        nanosleep(&pause, NULL);
        since = atomic_load(&since_ms);
        limit = atomic_load(&limit_ms);
        if (since == 0)
            continue;
        now = wsgi_clock_ms();
        if (now - since >= limit + GRACE_MS) {
            zs_log_error("wsgi_timeout: application code still running %lld ms after its TimeoutError; "
                         "ending the worker", (long long)(now - since - limit));
            _exit(WATCHDOG_EXIT);
        }
        if (now - since >= limit && !atomic_exchange(&interrupted, true))
            pthread_kill(worker_thread, SIGNAL);
    }
    return NULL;
}

/* Python's own handler (signal.signal) makes SIGNAL a TimeoutError in the
 * worker's thread, at the next bytecode. */
static int
install_handler(void)
{
    static const char code[] =
        "import signal as _signal\n"
        "def _zserver_timeout(signum, frame):\n"
        "    raise TimeoutError('the request ran longer than wsgi_timeout without output')\n"
        "_signal.signal(_signal.SIGRTMIN + 2, _zserver_timeout)\n";
    PyObject *globals = PyDict_New();
    PyObject *r = globals != NULL ? PyRun_String(code, Py_file_input, globals, globals) : NULL;

    Py_XDECREF(r);
    Py_XDECREF(globals);
    return r != NULL ? 0 : -1;
}

int
wsgi_timeout_start(int shortest_ms)
{
    check_ms = shortest_ms / 4;
    if (check_ms < CHECK_MIN_MS)
        check_ms = CHECK_MIN_MS;
    if (check_ms > CHECK_MAX_MS)
        check_ms = CHECK_MAX_MS;
    worker_thread = pthread_self();
    if (install_handler() == -1) {
        wsgi_log_exception("wsgi_timeout: ");
        return -1;
    }
    /* The watchdog takes no signal: QUIT, TERM and SIGNAL are the worker's. */
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
wsgi_timeout_begin(int timeout_ms, int64_t used_ms)
{
    atomic_store(&limit_ms, timeout_ms);
    atomic_store(&interrupted, false);
    atomic_store(&since_ms, wsgi_clock_ms() - used_ms);
}

int64_t
wsgi_timeout_end(void)
{
    int64_t since = atomic_exchange(&since_ms, 0);

    return since != 0 ? wsgi_clock_ms() - since : 0;
}

void
wsgi_timeout_progress(void)
{
    atomic_store(&interrupted, false);
    atomic_store(&since_ms, wsgi_clock_ms());
}
