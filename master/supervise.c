/* The master's loop: it forks the workers of every pool, replaces those that
 * die, and acts on signals (reload, shutdown, log reopening, worker count). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "lib/channel.h"
#include "lib/defaults.h"
#include "lib/log.h"
#include "lib/proctitle.h"
#include "master/conf_load.h"
#include "master/master.h"
#include "worker/worker.h"

/* A configuration and the workers started from it. */
struct generation {
    struct zs_config *conf;
    unsigned id;
    unsigned live;               /* workers still running */
    int *extra;                  /* TTIN/TTOU adjustment per pool */
    int64_t *respawn_at;         /* back-off per pool, monotonic ms */
    int64_t *backoff;
    unsigned app_live;           /* managed app processes still running */
    int64_t *app_respawn_at;     /* back-off per app */
    int64_t *app_backoff;
    bool apps_stopping;
    pid_t *loader_pid;           /* per pool: the preloading process, or 0 */
    int *loader_fd;              /* per pool: the master's end of its socket, or -1 */
    struct generation *next;
};

/* A child of the master: a worker, or a process of a managed app. */
struct worker_proc {
    pid_t pid;
    struct generation *gen;
    size_t pool;                 /* index in gen->conf->pools */
    const struct zs_app *app;    /* the app it runs, NULL for a worker */
    size_t app_index;            /* index in gen->conf->apps */
    int channel;                 /* master's end of the socket pair, -1 for apps */
    int64_t started;
    bool stopping;               /* sent QUIT or TERM */
    int64_t kill_at;             /* when stopping: SIGKILL after this */
};

static struct {
    struct generation *current;
    struct generation *gens;     /* every generation with live workers, current first */
    struct worker_proc *procs;
    size_t proc_count;
    size_t proc_cap;
    bool foreground;
    bool quitting;               /* QUIT: graceful shutdown */
    bool terminating;            /* TERM/INT: fast shutdown */
    bool winched;                /* WINCH: workers stopped, master stays */
    int64_t exit_deadline;
    unsigned next_gen_id;
} m;

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
generation_free(struct generation *g)
{
    free(g->extra);
    free(g->respawn_at);
    free(g->backoff);
    free(g->app_respawn_at);
    free(g->app_backoff);
    free(g->loader_pid);
    free(g->loader_fd);
    free(g);
}

static void apps_stop(struct generation *g, int sig);
static void loaders_stop(struct generation *g);

static struct generation *
generation_new(struct zs_config *conf)
{
    struct generation *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->extra = calloc(conf->pool_count, sizeof(int));
    g->respawn_at = calloc(conf->pool_count, sizeof(int64_t));
    g->backoff = calloc(conf->pool_count, sizeof(int64_t));
    g->app_respawn_at = calloc(conf->app_count + 1, sizeof(int64_t));
    g->app_backoff = calloc(conf->app_count + 1, sizeof(int64_t));
    g->loader_pid = calloc(conf->pool_count + 1, sizeof(pid_t));
    g->loader_fd = malloc((conf->pool_count + 1) * sizeof(int));
    if (g->extra == NULL || g->respawn_at == NULL || g->backoff == NULL || g->app_respawn_at == NULL
        || g->app_backoff == NULL || g->loader_pid == NULL || g->loader_fd == NULL) {
        generation_free(g);
        return NULL;
    }
    for (size_t i = 0; i < conf->pool_count; i++)
        g->loader_fd[i] = -1;
    g->conf = conf;
    g->id = ++m.next_gen_id;
    g->next = m.gens;
    m.gens = g;
    return g;
}

/* Frees generations that are neither current nor have workers left. */
static void
generations_collect(void)
{
    struct generation **pp = &m.gens;

    while (*pp != NULL) {
        struct generation *g = *pp;
        if (g == m.current || g->live > 0) {
            pp = &g->next;
            continue;
        }
        /* Its workers are gone, so its apps have no more clients. */
        if (g->app_live > 0) {
            apps_stop(g, SIGTERM);
            pp = &g->next;
            continue;
        }
        *pp = g->next;
        loaders_stop(g);
        zs_listeners_close(g->conf, false);
        zs_apps_close(g->conf, false);
        zs_files_close(g->conf);
        zs_conf_free(g->conf);
        generation_free(g);
    }
}

static int
pool_target(const struct generation *g, size_t pool)
{
    int n = g->conf->pools[pool].pool_workers + g->extra[pool];

    return n < 1 ? 1 : n;
}

static int
pool_running(const struct generation *g, size_t pool)
{
    int n = 0;

    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].gen == g && m.procs[i].app == NULL && m.procs[i].pool == pool && !m.procs[i].stopping)
            n++;
    return n;
}

/* Runs in a new child that will serve a pool (a worker, or the loader that
 * forks its workers): keeps only the pool's sockets, roots and logs, and
 * drops privileges. */
static void
child_isolate(struct generation *g, size_t pool, const char *role)
{
    const struct zs_pool *p = &g->conf->pools[pool];
    sigset_t none;

    zs_log_set_role(role);
    zs_proctitle_set("zserver: %s process (pool %s)", role, p->pool_name);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].channel != -1)
            close(m.procs[i].channel);
    /* Sockets, roots and logs of other pools and older generations stay
     * out of this worker's reach. */
    for (struct generation *other = m.gens; other != NULL; other = other->next) {
        zs_apps_close(other->conf, false);
        if (other == g)
            continue;
        zs_listeners_close(other->conf, false);
        zs_files_close(other->conf);
    }
    for (size_t i = 0; i < g->conf->listener_count; i++)
        if (g->conf->listeners[i].lis_pool != p && g->conf->listeners[i].lis_fd != -1)
            close(g->conf->listeners[i].lis_fd);
    zs_files_close_except(g->conf, p);
    for (struct generation *other = m.gens; other != NULL; other = other->next)
        for (size_t i = 0; i < other->conf->pool_count; i++)
            if (other->loader_fd[i] != -1)
                close(other->loader_fd[i]);

    if (zs_privdrop(p) == -1)
        _exit(2);
}

/* Runs in the new child: enters the worker loop. Never returns. */
static void
worker_child(struct generation *g, size_t pool, int channel)
{
    child_isolate(g, pool, "worker");
    int status = zs_worker_main(g->conf, &g->conf->pools[pool], channel);
#ifdef __SANITIZE_ADDRESS__
    /* _exit() skips LeakSanitizer's check at exit, and a worker's leaks
     * (per request, per connection) are the ones that matter. */
    __lsan_do_leak_check();
#endif
    _exit(status);
}

static int
procs_reserve(void)
{
    if (m.proc_count < m.proc_cap)
        return 0;
    size_t cap = m.proc_cap ? m.proc_cap * 2 : 16;
    struct worker_proc *p = realloc(m.procs, cap * sizeof(*p));
    if (p == NULL)
        return -1;
    m.procs = p;
    m.proc_cap = cap;
    return 0;
}

static int
worker_spawn(struct generation *g, size_t pool)
{
    int sv[2];

    if (procs_reserve() == -1)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        zs_log_syserr("pool %s: socketpair failed", g->conf->pools[pool].pool_name);
        return -1;
    }
    pid_t pid = g->loader_fd[pool] != -1 ? zs_loader_spawn(g->loader_fd[pool], sv[1], g->conf->pools[pool].pool_name)
                                         : fork();
    if (pid == -1) {
        if (g->loader_fd[pool] == -1)
            zs_log_syserr("pool %s: fork failed", g->conf->pools[pool].pool_name);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        worker_child(g, pool, sv[1]);
    }
    close(sv[1]);
    m.procs[m.proc_count++] = (struct worker_proc){
        .pid = pid, .gen = g, .pool = pool, .channel = sv[0], .started = now_ms(),
    };
    g->live++;
    zs_log_info("pool %s: started worker %d", g->conf->pools[pool].pool_name, (int)pid);
    return 0;
}

static void
worker_stop(struct worker_proc *w, int sig)
{
    int64_t grace = sig == SIGQUIT ? w->gen->conf->shutdown_timeout : 5000;

    if (!w->stopping || sig == SIGTERM)
        kill(w->pid, sig);
    if (!w->stopping)
        w->kill_at = now_ms() + grace;
    w->stopping = true;
}

static void
workers_stop_all(struct generation *only, int sig)
{
    for (size_t i = 0; i < m.proc_count; i++)
        if ((only == NULL || m.procs[i].gen == only) && m.procs[i].app == NULL)
            worker_stop(&m.procs[i], sig);
}

/* ---- preloading ---- */

static void
loader_close(struct generation *g, size_t pool)
{
    if (g->loader_fd[pool] != -1)
        close(g->loader_fd[pool]);
    g->loader_fd[pool] = -1;
}

/* Reaps a loader that failed to start, or kills one that took too long,
 * and logs which, because a crash in an extension module leaves no Python error. */
static void
loader_end(pid_t pid, const char *name)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) == 0) {
        usleep(100 * 1000);
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    if (WIFSIGNALED(status))
        zs_log_error("pool %s: preloading process %d killed by signal %d (%s)", name, (int)pid,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        zs_log_error("pool %s: preloading process %d exited with status %d", name, (int)pid, WEXITSTATUS(status));
}

static int
loader_start(struct generation *g, size_t pool)
{
    const char *name = g->conf->pools[pool].pool_name;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        zs_log_syserr("pool %s: socketpair failed", name);
        return -1;
    }
    pid = fork();
    if (pid == -1) {
        zs_log_syserr("pool %s: fork failed", name);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        child_isolate(g, pool, "loader");
        zs_loader_main(g->conf, &g->conf->pools[pool], sv[1]);
    }
    close(sv[1]);
    g->loader_pid[pool] = pid;
    g->loader_fd[pool] = sv[0];
    zs_log_info("pool %s: started preloading process %d", name, (int)pid);
    if (zs_loader_wait_ready(sv[0], name) == -1) {
        loader_close(g, pool);
        loader_end(pid, name);
        g->loader_pid[pool] = 0;
        return -1;
    }
    return 0;
}

/* Stops a generation's loaders: end of file on its socket ends a loader. */
static void
loaders_stop(struct generation *g)
{
    for (size_t pool = 0; pool < g->conf->pool_count; pool++)
        loader_close(g, pool);
}

/* Starts the loader of every pool with wsgi_preload, each importing its
 * applications before the first worker forks. Returns -1 when one failed:
 * the generation must not start. */
static int
loaders_start(struct generation *g)
{
    static bool subreaper;

    for (size_t pool = 0; pool < g->conf->pool_count; pool++) {
        if (!zs_modules_preload_wanted(g->conf, &g->conf->pools[pool]) || g->conf->pools[pool].pool_listener_count == 0)
            continue;
        /* Workers forked through a middle process come back to the master. */
        if (!subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
            zs_log_syserr("preloading needs PR_SET_CHILD_SUBREAPER");
            loaders_stop(g);
            return -1;
        }
        subreaper = true;
        if (loader_start(g, pool) == -1) {
            loaders_stop(g);
            return -1;
        }
    }
    return 0;
}

/* A loader that dies is logged; its pool's workers then import the
 * applications themselves. Returns true when pid was a loader. */
static bool
loader_reaped(pid_t pid, int status)
{
    for (struct generation *g = m.gens; g != NULL; g = g->next) {
        for (size_t pool = 0; pool < g->conf->pool_count; pool++) {
            if (g->loader_pid[pool] != pid)
                continue;
            g->loader_pid[pool] = 0;
            if (g->loader_fd[pool] != -1 && WIFSIGNALED(status))
                zs_log_error("pool %s: preloading process %d killed by signal %d (%s); new workers import "
                             "the applications themselves", g->conf->pools[pool].pool_name, (int)pid,
                             WTERMSIG(status), strsignal(WTERMSIG(status)));
            else if (g->loader_fd[pool] != -1)
                zs_log_error("pool %s: preloading process %d exited with status %d; new workers import "
                             "the applications themselves", g->conf->pools[pool].pool_name, (int)pid,
                             WEXITSTATUS(status));
            loader_close(g, pool);
            return true;
        }
    }
    return false;
}

/* ---- managed apps ---- */

static int
app_spawn(struct generation *g, size_t index)
{
    const struct zs_app *app = &g->conf->apps[index];

    if (procs_reserve() == -1)
        return -1;
    pid_t pid = zs_app_spawn(app);
    if (pid == -1)
        return -1;
    m.procs[m.proc_count++] = (struct worker_proc){
        .pid = pid, .gen = g, .app = app, .app_index = index, .channel = -1, .started = now_ms(),
    };
    g->app_live++;
    return 0;
}

static int
app_running(const struct generation *g, size_t index)
{
    int n = 0;

    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].gen == g && m.procs[i].app == &g->conf->apps[index] && !m.procs[i].stopping)
            n++;
    return n;
}

/* Stops a generation's app processes; SIGTERM is how FastCGI programs
 * (php-cgi, libfcgi) expect to be stopped. */
static void
apps_stop(struct generation *g, int sig)
{
    if (g->apps_stopping && sig != SIGKILL)
        return;
    g->apps_stopping = true;
    for (size_t i = 0; i < m.proc_count; i++) {
        struct worker_proc *w = &m.procs[i];
        if (w->gen != g || w->app == NULL)
            continue;
        /* Each app runs in its own session: its children (php-cgi forks
         * PHP_FCGI_CHILDREN) must go with it. */
        kill(-w->pid, sig);
        if (!w->stopping)
            w->kill_at = now_ms() + 5000;
        w->stopping = true;
    }
}

static void
apps_maintain(struct generation *g)
{
    int64_t now = now_ms();

    if (g->apps_stopping)
        return;
    for (size_t i = 0; i < g->conf->app_count; i++) {
        if (now < g->app_respawn_at[i])
            continue;
        for (int n = app_running(g, i); n < g->conf->apps[i].app_processes; n++)
            if (app_spawn(g, i) == -1)
                break;
    }
}

static bool
workers_left(void)
{
    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].app == NULL)
            return true;
    return false;
}

static void
worker_exit_log(const struct worker_proc *w, int status)
{
    const char *pool = w->gen->conf->pools[w->pool].pool_name;

    if (w->app != NULL) {
        if (WIFSIGNALED(status))
            zs_log(w->stopping ? ZS_LOG_INFO : ZS_LOG_ERROR, "app %s: process %d killed by signal %d (%s)",
                   w->app->app_name, (int)w->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            zs_log(w->stopping ? ZS_LOG_INFO : ZS_LOG_ERROR, "app %s: process %d exited with status %d",
                   w->app->app_name, (int)w->pid, WEXITSTATUS(status));
        return;
    }

    if (WIFSIGNALED(status))
        zs_log(w->stopping && WTERMSIG(status) != SIGKILL ? ZS_LOG_INFO : ZS_LOG_ALERT,
               "worker %d (pool %s) killed by signal %d (%s)", (int)w->pid, pool, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        zs_log_error("worker %d (pool %s) exited with status %d", (int)w->pid, pool, WEXITSTATUS(status));
    else
        zs_log_info("worker %d (pool %s) exited", (int)w->pid, pool);
}

/* A worker that failed soon after it started waits longer each time before
 * it is replaced: 100 ms doubling up to 30 s, reset after a healthy run. */
static void
worker_respawn_plan(const struct worker_proc *w, int status)
{
    struct generation *g = w->gen;
    int64_t now = now_ms();
    bool failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
    int64_t *backoff = w->app != NULL ? &g->app_backoff[w->app_index] : &g->backoff[w->pool];
    int64_t *respawn_at = w->app != NULL ? &g->app_respawn_at[w->app_index] : &g->respawn_at[w->pool];

    if (!failed || now - w->started >= ZS_RESPAWN_MIN_LIFETIME) {
        *backoff = 0;
        return;
    }
    *backoff = *backoff ? *backoff * 2 : 100;
    if (*backoff > ZS_RESPAWN_BACKOFF_MAX)
        *backoff = ZS_RESPAWN_BACKOFF_MAX;
    *respawn_at = now + *backoff;
    if (w->app != NULL)
        zs_log_warn("app %s: processes keep dying, next start in %lld ms", w->app->app_name,
                    (long long)*backoff);
    else
        zs_log_warn("pool %s: workers keep dying, next start in %lld ms", g->conf->pools[w->pool].pool_name,
                    (long long)*backoff);
}

static void
workers_reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (loader_reaped(pid, status))
            continue;
        for (size_t i = 0; i < m.proc_count; i++) {
            struct worker_proc *w = &m.procs[i];
            if (w->pid != pid)
                continue;
            worker_exit_log(w, status);
            if (w->gen == m.current && !w->stopping)
                worker_respawn_plan(w, status);
            if (w->app != NULL) {
                /* Children the app forked (php-cgi's PHP_FCGI_CHILDREN)
                 * would go on serving from the old socket without it. */
                kill(-w->pid, SIGTERM);
                w->gen->app_live--;
            } else {
                close(w->channel);
                w->gen->live--;
            }
            m.procs[i] = m.procs[--m.proc_count];
            break;
        }
    }
    generations_collect();
}

/* Starts missing workers of the current generation, unless stopping. */
static void
workers_maintain(void)
{
    struct generation *g = m.current;
    int64_t now = now_ms();

    if (m.quitting || m.terminating)
        return;
    apps_maintain(g);
    if (m.winched)
        return;
    for (size_t pool = 0; pool < g->conf->pool_count; pool++) {
        /* A pool no server uses (the implicit "default" one, often) has
         * nothing to accept on, so it gets no workers. */
        if (now < g->respawn_at[pool] || g->conf->pools[pool].pool_listener_count == 0)
            continue;
        for (int n = pool_running(g, pool); n < pool_target(g, pool); n++)
            if (worker_spawn(g, pool) == -1)
                break;
    }
}

static void
workers_kill_overdue(void)
{
    int64_t now = now_ms();

    for (size_t i = 0; i < m.proc_count; i++) {
        struct worker_proc *w = &m.procs[i];
        if (w->stopping && now >= w->kill_at) {
            if (w->app != NULL) {
                zs_log_warn("app %s: process %d still running 5 s after SIGTERM, killing it",
                            w->app->app_name, (int)w->pid);
                kill(-w->pid, SIGKILL);
            }
            else
                zs_log_warn("worker %d (pool %s) still running after its stop timeout, killing it",
                            (int)w->pid, w->gen->conf->pools[w->pool].pool_name);
            kill(w->pid, SIGKILL);
            w->kill_at = now + 1000;
        }
    }
}

static int64_t
next_deadline(void)
{
    int64_t next = now_ms() + 1000;

    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].stopping && m.procs[i].kill_at < next)
            next = m.procs[i].kill_at;
    for (size_t pool = 0; m.current != NULL && pool < m.current->conf->pool_count; pool++)
        if (m.current->respawn_at[pool] > now_ms() && m.current->respawn_at[pool] < next)
            next = m.current->respawn_at[pool];
    return next;
}

static void
log_errors(const struct zs_conf_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        zs_log_error("%s", errs->msgs[i]);
}

/* HUP: the new configuration replaces the old one only when all of it
 * loaded and every socket and file it names could be opened. */
static int
master_reload(void)
{
    struct zs_config *old = m.current->conf;
    struct zs_conf_errors errs = { 0 };
    struct zs_config *conf = zs_conf_load(old->conf_file, &errs);

    zs_log_notice("reloading configuration from %s", old->conf_file);
    if (conf == NULL) {
        log_errors(&errs);
        zs_conf_errors_clear(&errs);
        zs_log_error("reload failed, still running the previous configuration");
        return -1;
    }
    if (zs_files_open(conf) == -1 || zs_listeners_open(conf, old) == -1) {
        zs_files_close(conf);
        zs_conf_free(conf);
        zs_log_error("reload failed, still running the previous configuration");
        return -1;
    }
    if (zs_apps_open(conf) == -1) {
        zs_listeners_open(old, conf);
        zs_files_close(conf);
        zs_conf_free(conf);
        zs_log_error("reload failed, still running the previous configuration");
        return -1;
    }
    struct generation *g = generation_new(conf);
    if (g == NULL) {
        zs_listeners_open(old, conf);
        zs_apps_close(conf, false);
        zs_files_close(conf);
        zs_conf_free(conf);
        zs_log_error("reload failed: out of memory");
        return -1;
    }
    if (loaders_start(g) == -1) {
        m.gens = g->next;
        generation_free(g);
        zs_listeners_open(old, conf);
        zs_apps_close(conf, false);
        zs_files_close(conf);
        zs_conf_free(conf);
        zs_log_error("reload failed, still running the previous configuration");
        return -1;
    }
    if (!m.foreground && strcmp(conf->error_log, old->error_log) != 0 && zs_log_open(conf->error_log) == -1)
        zs_log_syserr("error log %s: open failed, keeping %s", conf->error_log, zs_log_dest());
    zs_log_set_level(conf->log_level);

    struct generation *prev = m.current;
    m.current = g;
    m.winched = false;
    if (strcmp(conf->pid_file, prev->conf->pid_file) != 0 && zs_pidfile_write(conf->pid_file) == 0)
        zs_pidfile_remove(prev->conf->pid_file);
    workers_maintain();
    loaders_stop(prev);
    workers_stop_all(prev, SIGQUIT);
    /* Only the addresses the new configuration dropped are still open here;
     * their unix socket files go too. */
    zs_listeners_close(prev->conf, true);
    generations_collect();
    zs_log_notice("configuration reloaded, generation %u started", g->id);
    return 0;
}

static void
master_reopen(void)
{
    uint32_t slots[ZS_CHANNEL_MAX_FDS];
    int fds[ZS_CHANNEL_MAX_FDS];
    size_t count = 0;

    zs_log_notice("reopening log files");
    if (!m.foreground && zs_log_fd() != -1 && strcmp(zs_log_dest(), "stderr") != 0) {
        int fd = open(zs_log_dest(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1) {
            zs_log_syserr("error log %s: reopen failed", zs_log_dest());
        } else {
            zs_log_set_fd(fd);
            slots[count] = 0;
            fds[count] = zs_log_fd();
            count++;
        }
    }
    count += zs_files_reopen_logs(m.current->conf, slots + count, fds + count, ZS_CHANNEL_MAX_FDS - count);
    for (size_t i = 0; i < m.proc_count; i++)
        if (m.procs[i].gen == m.current && !m.procs[i].stopping && m.procs[i].app == NULL
            && zs_channel_send_fds(m.procs[i].channel, slots, fds, count) == -1)
            zs_log_syserr("worker %d: sending reopened log files failed", (int)m.procs[i].pid);
}

static void
master_ttin_ttou(int delta)
{
    struct generation *g = m.current;

    for (size_t pool = 0; pool < g->conf->pool_count; pool++) {
        const char *name = g->conf->pools[pool].pool_name;

        /* A pool that no server uses runs no workers to add or remove. */
        if (g->conf->pools[pool].pool_listener_count == 0)
            continue;
        if (delta < 0 && pool_target(g, pool) <= 1) {
            zs_log_notice("pool %s: already at one worker, not lowered", name);
            continue;
        }
        g->extra[pool] += delta;
        zs_log_notice("pool %s: worker count %s to %d", name, delta > 0 ? "raised" : "lowered",
                      pool_target(g, pool));
        if (delta > 0)
            continue;
        for (size_t i = m.proc_count; i-- > 0;) {
            struct worker_proc *w = &m.procs[i];
            if (w->gen == g && w->app == NULL && w->pool == pool && !w->stopping) {
                worker_stop(w, SIGQUIT);
                break;
            }
        }
    }
}

/* `zserver -s reload` sends a queued real-time signal, so that callers at
 * the same moment are not merged into one: all pending requests share one
 * reload, and every caller gets the outcome. */
static void
master_reload_requested(const siginfo_t *first)
{
    pid_t callers[64];
    size_t count = 0;
    sigset_t only;
    siginfo_t si = *first;
    struct timespec zero = { 0, 0 };

    sigemptyset(&only);
    sigaddset(&only, ZS_RELOAD_REQUEST_SIGNAL);
    do {
        if (si.si_code == SI_QUEUE && si.si_value.sival_int == ZS_RELOAD_MAGIC && count < 64)
            callers[count++] = si.si_pid;
    } while (sigtimedwait(&only, &si, &zero) > 0);

    bool ok = false;
    if (m.quitting || m.terminating)
        zs_log_notice("reload ignored: shutting down");
    else
        ok = master_reload() == 0;
    for (size_t i = 0; i < count; i++) {
        union sigval v = { .sival_int = ok ? 0 : 1 };
        sigqueue(callers[i], ZS_RELOAD_REPLY_SIGNAL, v);
    }
}

static void
master_signal(int sig, const siginfo_t *si)
{
    if (sig == ZS_RELOAD_REQUEST_SIGNAL) {
        master_reload_requested(si);
        return;
    }
    switch (sig) {
    case SIGCHLD:
        workers_reap();
        break;
    case SIGHUP:
        if (m.quitting || m.terminating) {
            zs_log_notice("reload ignored: shutting down");
            break;
        }
        master_reload();
        break;
    case SIGQUIT:
        if (!m.quitting)
            zs_log_notice("graceful shutdown requested");
        m.quitting = true;
        workers_stop_all(NULL, SIGQUIT);
        /* Workers close their copies as they start draining, so new
         * clients are refused instead of waiting in a backlog nobody reads. */
        zs_listeners_close(m.current->conf, true);
        break;
    case SIGTERM:
    case SIGINT:
        zs_log_notice("shutting down");
        m.terminating = true;
        workers_stop_all(NULL, SIGTERM);
        for (struct generation *g = m.gens; g != NULL; g = g->next)
            apps_stop(g, SIGTERM);
        break;
    case SIGUSR1:
        master_reopen();
        break;
    case SIGWINCH:
        zs_log_notice("stopping workers gracefully, the master stays");
        m.winched = true;
        workers_stop_all(NULL, SIGQUIT);
        break;
    case SIGTTIN:
        master_ttin_ttou(1);
        break;
    case SIGTTOU:
        master_ttin_ttou(-1);
        break;
    }
}

static void
master_signals_block(sigset_t *set)
{
    static const int sigs[] = { SIGCHLD, SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1,
                                SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU };

    sigemptyset(set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(set, sigs[i]);
    sigaddset(set, ZS_RELOAD_REQUEST_SIGNAL);
    sigprocmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
master_loop(const sigset_t *set)
{
    for (;;) {
        workers_maintain();
        workers_kill_overdue();
        /* Apps outlive the workers, which may still be sending them requests. */
        if ((m.quitting || m.terminating) && !workers_left())
            for (struct generation *g = m.gens; g != NULL; g = g->next)
                apps_stop(g, SIGTERM);
        if ((m.quitting || m.terminating) && m.proc_count == 0)
            return;

        int64_t wait = next_deadline() - now_ms();
        if (wait < 1)
            wait = 1;
        struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
        siginfo_t si;
        int sig = sigtimedwait(set, &si, &ts);
        if (sig > 0)
            master_signal(sig, &si);
    }
}

/* Points whoever started a daemon that failed to the reason, which went to
 * the error log and not to the terminal. */
static void
daemon_start_failed(void)
{
    const char *dest = zs_log_dest();

    if (strcmp(dest, "stderr") == 0)
        return;
    if (strcmp(dest, "syslog") == 0)
        fprintf(stderr, "zserver: start-up failed, see syslog\n");
    else
        fprintf(stderr, "zserver: start-up failed, see the error log %s\n", dest);
}

/* Detaches from the terminal. The parent waits until the daemon reports that
 * it started, so that init scripts see a failed start as a failed command. */
static int
master_daemonize(int *ready_fd)
{
    int pipefd[2];

    if (pipe2(pipefd, O_CLOEXEC) == -1) {
        zs_log_syserr("pipe2 failed");
        return -1;
    }
    pid_t pid = fork();
    if (pid == -1) {
        zs_log_syserr("fork failed");
        return -1;
    }
    if (pid > 0) {
        char ok = 0;
        close(pipefd[1]);
        ssize_t n = read(pipefd[0], &ok, 1);
        if (n == 1 && ok == 1)
            _exit(0);
        daemon_start_failed();
        _exit(1);
    }
    close(pipefd[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null != -1) {
        dup2(null, 0);
        dup2(null, 1);
        if (strcmp(zs_log_dest(), "stderr") != 0)
            dup2(null, 2);
        if (null > 2)
            close(null);
    }
    *ready_fd = pipefd[1];
    return 0;
}

int
zs_master_run(struct zs_config *conf, bool foreground)
{
    sigset_t set;
    int ready_fd = -1;

    m.foreground = foreground;
    zs_log_set_level(conf->log_level);
    if (!foreground && zs_log_open(conf->error_log) == -1) {
        zs_log_syserr("error log %s: open failed", conf->error_log);
        return 1;
    }
    /* Checked before any socket is touched: a second start must not take a
     * unix socket path away from the running master. */
    if (zs_pidfile_check(conf->pid_file) == -1 || zs_listeners_open(conf, NULL) == -1
        || zs_files_open(conf) == -1 || zs_apps_open(conf) == -1
        || (!foreground && master_daemonize(&ready_fd) == -1)) {
        if (!foreground)
            daemon_start_failed();
        return 1;
    }
    if (zs_pidfile_write(conf->pid_file) == -1)
        return 1;

    master_signals_block(&set);
    m.current = generation_new(conf);
    if (m.current == NULL || loaders_start(m.current) == -1) {
        if (!foreground)
            daemon_start_failed();
        zs_listeners_close(conf, true);
        zs_apps_close(conf, true);
        zs_pidfile_remove(conf->pid_file);
        return 1;
    }
    zs_proctitle_set("zserver: master process %s", zs_proctitle_command());
    zs_log_notice("zserver " PACKAGE_VERSION " started, configuration %s", conf->conf_file);
    workers_maintain();
    if (ready_fd != -1) {
        char ok = 1;
        if (write(ready_fd, &ok, 1) != 1)
            zs_log_syswarn("start-up notification failed");
        close(ready_fd);
    }

    master_loop(&set);

    loaders_stop(m.current);
    zs_listeners_close(m.current->conf, true);
    zs_apps_close(m.current->conf, true);
    zs_pidfile_remove(m.current->conf->pid_file);
    zs_log_notice("exiting");
    return 0;
}
