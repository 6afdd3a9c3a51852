/* CGI adapter (RFC 3875). The script runs in a child process of the worker,
 * in its own process group and as the worker's (the pool's) user. The body
 * goes to its stdin, the response comes from its stdout, and its stderr
 * goes to the error log. The event loop reaps every child, also after the
 * request is over, so none is left a zombie. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/cgi_env.h"
#include "adapters/cgi_head.h"
#include "lib/buf.h"
#include "lib/defaults.h"
#include "lib/log.h"

/* Body bytes buffered for the script's stdin before the client waits. */
#define STDIN_MAX (64 * 1024)
#define READ_SIZE (64 * 1024)
/* Time between SIGTERM and SIGKILL for a script that is stopped. */
#define KILL_GRACE 2.0
/* Bytes of one stderr line kept before it is logged anyway. */
#define STDERR_LINE_MAX 2048

/* A child process, watched until it is reaped; it outlives its request
 * when the request ends first. */
struct cgi_child {
    pid_t pid;
    ev_child child_w;
    ev_timer kill_w;             /* SIGKILL after KILL_GRACE once TERM was sent */
    struct cgi_req *req;         /* NULL once the request is over */
    char script[256];            /* for log lines */
};

struct cgi_req {
    struct zs_app_io *io;
    struct cgi_child *child;
    int in_fd, out_fd, err_fd;
    ev_io in_w, out_w, err_w;
    ev_timer timer;              /* backend_read_timeout between two outputs */
    struct zs_buf in;            /* body bytes waiting for the script's stdin */
    struct zs_buf err_line;      /* the stderr line being collected */
    struct zs_cgi_head head;
    bool nph;                    /* nph- script: its output goes out unchanged */
    bool head_done;
    bool body_last;
    bool body_wait;
    bool paused;
    bool local_redirect;
};

static void cgi_end(struct cgi_req *r, int fail_status);
static void cgi_read_stderr(struct cgi_req *r);

/* ---- children ---- */

static void
child_kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cgi_child *ch = w->data;

    (void)loop;
    (void)revents;
    kill(-ch->pid, SIGKILL);
}

static void
child_exit_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    struct cgi_child *ch = w->data;
    int status = w->rstatus;

    (void)revents;
    ev_child_stop(loop, w);
    ev_timer_stop(loop, &ch->kill_w);
    if (WIFSIGNALED(status))
        zs_log_info("CGI script %s (pid %d) killed by signal %d", ch->script, (int)ch->pid,
                    WTERMSIG(status));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        zs_log_info("CGI script %s (pid %d) exited with status %d", ch->script, (int)ch->pid,
                    WEXITSTATUS(status));
    if (ch->req != NULL)
        ch->req->child = NULL;
    free(ch);
}

/* Stops the script's whole process group: TERM now, KILL after a grace time. */
static void
child_stop(struct cgi_child *ch)
{
    kill(-ch->pid, SIGTERM);
    ev_timer_set(&ch->kill_w, KILL_GRACE, 0.0);
    ev_timer_start(zs_app_loop(), &ch->kill_w);
}

/* ---- starting ---- */

/* A script without PATH could not find the programs it runs; Apache
 * passes its own, and scripts get this one unless cgi_param sets it. */
static const char default_path[] = "PATH=/usr/local/bin:/usr/bin:/bin";

static char **
envp_build(const struct zs_cgi_env *env)
{
    size_t size = 0;
    bool has_path = zs_cgi_env_get(env, "PATH") != NULL;

    for (size_t i = 0; i < env->count; i++)
        size += env->vars[i].name_len + env->vars[i].value_len + 2;
    char **envp = malloc((env->count + 2) * sizeof(char *) + size);
    if (envp == NULL)
        return NULL;
    char *p = (char *)(envp + env->count + 2);
    size_t n = 0;
    for (size_t i = 0; i < env->count; i++) {
        const struct zs_cgi_var *v = &env->vars[i];
        envp[n++] = p;
        memcpy(p, v->name, v->name_len);
        p += v->name_len;
        *p++ = '=';
        memcpy(p, v->value, v->value_len);
        p += v->value_len;
        *p++ = '\0';
    }
    if (!has_path)
        envp[n++] = (char *)default_path;
    envp[n] = NULL;
    return envp;
}

/* In the child: never returns. */
static void __attribute__((noreturn))
child_exec(const char *path, const char *dir, char **envp, int in_fd, int out_fd, int err_fd)
{
    sigset_t none;
    struct sigaction dfl = { .sa_handler = SIG_DFL };

    setpgid(0, 0);
    /* The worker ignores SIGPIPE and handles others; a script starts clean. */
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(in_fd, 0) == -1 || dup2(out_fd, 1) == -1 || dup2(err_fd, 2) == -1)
        _exit(127);
    if (chdir(dir) == -1) {
        dprintf(2, "cannot change to directory %s: %s\n", dir, strerror(errno));
        _exit(127);
    }
    char *argv[] = { (char *)path, NULL };
    execve(path, argv, envp);
    dprintf(2, "cannot execute %s: %s\n", path, strerror(errno));
    _exit(127);
}

static int
pipe_nonblocking_end(int fds[2], int ours)
{
    if (pipe2(fds, O_CLOEXEC) == -1)
        return -1;
    return fcntl(fds[ours], F_SETFL, O_NONBLOCK);
}

static void cgi_out_cb(struct ev_loop *loop, ev_io *w, int revents);
static void cgi_err_cb(struct ev_loop *loop, ev_io *w, int revents);
static void cgi_in_cb(struct ev_loop *loop, ev_io *w, int revents);
static void cgi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Forks the script. Returns 0, or an HTTP status on failure. */
static int
cgi_spawn(struct cgi_req *r, const char *path, char **envp, bool has_body)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    char *dir = strdup(path);
    int status = 500;

    if (dir == NULL)
        return 500;
    *strrchr(dir, '/') = '\0';
    if (dir[0] == '\0')
        strcpy(dir, "/");
    if (has_body) {
        if (pipe_nonblocking_end(in, 1) == -1)
            goto fail;
    } else {
        in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in[0] == -1)
            goto fail;
    }
    if (pipe_nonblocking_end(out, 0) == -1 || pipe_nonblocking_end(err, 0) == -1)
        goto fail;

    struct cgi_child *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        goto fail;
    pid_t pid = fork();
    if (pid == 0)
        child_exec(path, dir, envp, in[0], out[1], err[1]);
    if (pid == -1) {
        zs_log_syserr("CGI script %s: fork failed", path);
        free(ch);
        status = 503;
        goto fail;
    }
    /* Also from the parent, so that a kill(-pid) right away reaches the group. */
    setpgid(pid, pid);

    ch->pid = pid;
    ch->req = r;
    snprintf(ch->script, sizeof(ch->script), "%s", path);
    ev_child_init(&ch->child_w, child_exit_cb, pid, 0);
    ch->child_w.data = ch;
    ev_child_start(zs_app_loop(), &ch->child_w);
    ev_init(&ch->kill_w, child_kill_cb);
    ch->kill_w.data = ch;
    r->child = ch;

    close(in[0]);
    close(out[1]);
    close(err[1]);
    r->in_fd = in[1];
    r->out_fd = out[0];
    r->err_fd = err[0];
    free(dir);
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] != -1)
            close(in[i]);
        if (out[i] != -1)
            close(out[i]);
        if (err[i] != -1)
            close(err[i]);
    }
    free(dir);
    return status;
}

static void
cgi_watch(struct cgi_req *r)
{
    struct ev_loop *loop = zs_app_loop();

    ev_io_init(&r->out_w, cgi_out_cb, r->out_fd, EV_READ);
    r->out_w.data = r;
    ev_io_start(loop, &r->out_w);
    ev_io_init(&r->err_w, cgi_err_cb, r->err_fd, EV_READ);
    r->err_w.data = r;
    ev_io_start(loop, &r->err_w);
    ev_io_init(&r->in_w, cgi_in_cb, r->in_fd, EV_WRITE);
    r->in_w.data = r;
    /* A repeating timer restarted by each read: ev_timer_again() is cheap. */
    ev_timer_init(&r->timer, cgi_timer_cb, 0.0, zs_app_config()->backend_read_timeout / 1000.0);
    r->timer.data = r;
    ev_timer_again(loop, &r->timer);
}

/* Builds the variables and the script path, then forks. Returns 0 or a status. */
static int
cgi_prepare(struct cgi_req *r, const struct zs_app_request *req)
{
    struct zs_cgi_script script;
    struct zs_cgi_env env = { 0 };
    int status = zs_cgi_split_cgi(req, &script);

    if (status != 0)
        return status;
    if (zs_cgi_env_build(&env, req, &script) == -1)
        return 500;

    const struct zs_cgi_var *file = zs_cgi_env_get(&env, "SCRIPT_FILENAME");
    const char *base = memrchr(script.script_name, '/', script.script_name_len);
    base = base != NULL ? base + 1 : script.script_name;
    r->nph = strncmp(base, "nph-", 4) == 0;

    char **envp = envp_build(&env);
    status = 500;
    if (envp != NULL && file != NULL)
        status = cgi_spawn(r, file->value, envp, req->content_length > 0);
    free(envp);
    zs_cgi_env_free(&env);
    return status;
}

/* TODO: no limit on concurrent scripts per worker; backend_max_requests is
 * accepted in a cgi location but not applied here. */
static void *
cgi_start(struct zs_app_io *io, const struct zs_app_request *req)
{
    struct cgi_req *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        zs_app_fail(io, 500);
        return NULL;
    }
    r->io = io;
    r->in_fd = r->out_fd = r->err_fd = -1;
    zs_cgi_head_init(&r->head, ZS_MAX_HEADERS_SIZE);
    int status = cgi_prepare(r, req);
    if (status != 0) {
        zs_cgi_head_free(&r->head);
        free(r);
        zs_app_fail(io, status);
        return NULL;
    }
    cgi_watch(r);
    return r;
}

/* ---- ending ---- */

static void
cgi_close_fd(struct ev_io *w, int *fd)
{
    ev_io_stop(zs_app_loop(), w);
    if (*fd != -1)
        close(*fd);
    *fd = -1;
}

/* Releases the request; a script still running is stopped. */
static void
cgi_free(struct cgi_req *r)
{
    struct ev_loop *loop = zs_app_loop();

    cgi_close_fd(&r->in_w, &r->in_fd);
    cgi_close_fd(&r->out_w, &r->out_fd);
    cgi_close_fd(&r->err_w, &r->err_fd);
    ev_timer_stop(loop, &r->timer);
    if (r->child != NULL) {
        r->child->req = NULL;
        child_stop(r->child);
    }
    zs_buf_free(&r->in);
    zs_buf_free(&r->err_line);
    zs_cgi_head_free(&r->head);
    free(r);
}

/* Ends the request: fail_status 0 when the response is complete. */
static void
cgi_end(struct cgi_req *r, int fail_status)
{
    struct zs_app_io *io = r->io;

    /* Log what the script wrote to stderr before it closed stdout. */
    for (int i = 0; i < 16 && r->err_fd != -1; i++)
        cgi_read_stderr(r);
    /* A script that closed stdout is done with the request; let it exit on its own. */
    if (r->child != NULL && fail_status == 0) {
        r->child->req = NULL;
        r->child = NULL;
    }
    if (r->local_redirect) {
        char *path = strndup(r->head.location, r->head.location_len);
        cgi_free(r);
        if (path == NULL) {
            zs_app_fail(io, 500);
            return;
        }
        zs_app_redirect_local(io, path, strlen(path));
        free(path);
        return;
    }
    cgi_free(r);
    if (fail_status != 0)
        zs_app_fail(io, fail_status);
    else
        zs_app_end(io, true);
}

/* ---- stdin ---- */

static bool
cgi_write_stdin(struct cgi_req *r)
{
    while (zs_buf_pending(&r->in) > 0) {
        ssize_t n = write(r->in_fd, r->in.data + r->in.pos, zs_buf_pending(&r->in));
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            break;
        if (n == -1) {
            /* The script stopped reading (EPIPE): the rest of the body is dropped. */
            zs_buf_free(&r->in);
            cgi_close_fd(&r->in_w, &r->in_fd);
            break;
        }
        zs_buf_consume(&r->in, (size_t)n);
    }
    if (r->body_wait && zs_buf_pending(&r->in) < STDIN_MAX) {
        r->body_wait = false;
        zs_app_body_resume(r->io);
    }
    if (r->in_fd == -1)
        return true;
    if (zs_buf_pending(&r->in) == 0) {
        ev_io_stop(zs_app_loop(), &r->in_w);
        if (r->body_last)
            cgi_close_fd(&r->in_w, &r->in_fd);
    } else {
        ev_io_start(zs_app_loop(), &r->in_w);
    }
    return true;
}

static void
cgi_in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    cgi_write_stdin(w->data);
}

static size_t
cgi_body(void *state, const char *data, size_t len, bool last)
{
    struct cgi_req *r = state;

    if (r->in_fd == -1)
        return len;              /* no stdin pipe, or the script closed it */
    if (zs_buf_pending(&r->in) >= STDIN_MAX && len > 0) {
        r->body_wait = true;
        return 0;
    }
    if (zs_buf_append(&r->in, data, len) == -1) {
        cgi_end(r, 500);
        return len;
    }
    if (last)
        r->body_last = true;
    /* An upload in progress is activity too: the timeout is for silence. */
    ev_timer_again(zs_app_loop(), &r->timer);
    cgi_write_stdin(r);
    return len;
}

/* ---- stdout ---- */

/* Passes script output on. Returns false when the request ended. */
static bool
cgi_output(struct cgi_req *r, const char *data, size_t len)
{
    if (r->nph) {
        if (zs_app_raw(r->io, data, len) == 0)
            r->paused = true;
        return true;
    }
    if (!r->head_done) {
        size_t used = 0;
        switch (zs_cgi_head_feed(&r->head, data, len, &used)) {
        case ZS_CGI_HEAD_MORE:
            return true;
        case ZS_CGI_HEAD_ERROR:
            zs_log_error("client %s: CGI script sent an invalid response head: %s",
                         zs_app_peer(r->io), r->head.error);
            cgi_end(r, 502);
            return false;
        case ZS_CGI_HEAD_DONE:
            break;
        }
        r->head_done = true;
        if (r->head.local_redirect) {
            r->local_redirect = true;
            return true;
        }
        zs_app_head(r->io, r->head.status, r->head.headers, r->head.count, r->head.content_length);
        data += used;
        len -= used;
    }
    if (r->local_redirect || len == 0)
        return true;
    if (zs_app_body(r->io, data, len) == 0)
        r->paused = true;
    return true;
}

static void
cgi_read_stdout(struct cgi_req *r)
{
    static char buf[READ_SIZE];

    for (int i = 0; i < 4 && !r->paused; i++) {
        ssize_t n = read(r->out_fd, buf, sizeof(buf));
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            break;
        if (n <= 0) {
            if (n == -1)
                zs_log_error("client %s: reading CGI output failed: %s", zs_app_peer(r->io), strerror(errno));
            if (!r->head_done && !r->nph) {
                zs_log_error("client %s: CGI script ended before the end of its response head",
                             zs_app_peer(r->io));
                cgi_end(r, 502);
                return;
            }
            cgi_end(r, 0);
            return;
        }
        ev_timer_again(zs_app_loop(), &r->timer);
        if (!cgi_output(r, buf, (size_t)n))
            return;
    }
    if (r->paused) {
        ev_io_stop(zs_app_loop(), &r->out_w);
        ev_timer_stop(zs_app_loop(), &r->timer);
    }
}

static void
cgi_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    cgi_read_stdout(w->data);
}

static void
cgi_resume(void *state)
{
    struct cgi_req *r = state;

    r->paused = false;
    ev_io_start(zs_app_loop(), &r->out_w);
    r->timer.repeat = zs_app_config()->backend_read_timeout / 1000.0;
    ev_timer_again(zs_app_loop(), &r->timer);
}

/* ---- stderr ---- */

static void
cgi_log_line(struct cgi_req *r, const char *line, size_t len)
{
    char text[4 * STDERR_LINE_MAX + 1];

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    /* Control bytes from the script must not reach a terminal showing the log. */
    zs_log_escape(text, sizeof(text), line, len > STDERR_LINE_MAX ? STDERR_LINE_MAX : len);
    zs_log_warn("client %s: CGI %s: stderr: %s", zs_app_peer(r->io),
                r->child != NULL ? r->child->script : "script", text);
}

static void
cgi_read_stderr(struct cgi_req *r)
{
    char buf[4096];
    ssize_t n = read(r->err_fd, buf, sizeof(buf));

    if (n == -1 && errno == EINTR)
        return;
    if (n == -1 && errno == EAGAIN) {
        /* Nothing more for now: stop cgi_end()'s draining loop. */
        return;
    }
    if (n <= 0) {
        if (r->err_line.len > 0)
            cgi_log_line(r, r->err_line.data, r->err_line.len);
        zs_buf_free(&r->err_line);
        cgi_close_fd(&r->err_w, &r->err_fd);
        return;
    }
    const char *p = buf;
    size_t left = (size_t)n;
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        size_t take = nl != NULL ? (size_t)(nl - p) : left;
        if (zs_buf_append(&r->err_line, p, take) == -1)
            return;
        if (nl != NULL || r->err_line.len >= STDERR_LINE_MAX) {
            cgi_log_line(r, r->err_line.data, r->err_line.len);
            r->err_line.len = r->err_line.pos = 0;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
        left -= take + 1;
    }
}

static void
cgi_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    cgi_read_stderr(w->data);
}

/* ---- timeout and abort ---- */

static void
cgi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cgi_req *r = w->data;

    (void)loop;
    (void)revents;
    zs_log_error("client %s: CGI script %s timed out", zs_app_peer(r->io),
                 r->child != NULL ? r->child->script : "");
    cgi_end(r, 504);
}

static void
cgi_abort(void *state)
{
    cgi_free(state);
}

const struct zs_adapter zs_adapter_cgi = {
    .name = "cgi",
    .start = cgi_start,
    .body = cgi_body,
    .resume = cgi_resume,
    .abort = cgi_abort,
};
