/* Bare epoll HTTP responder that bench/run measures as the ceiling for the other servers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY_LEN 1024
#define MAX_WORKERS 64
#define MAX_EVENTS 256
#define READ_BUF_LEN 16384

/* Responses are written from a run of copies, so that pipelined requests
 * cost one write() instead of one each. */
#define RESPONSE_COPIES 16

/*
 * Per-connection state.  The responder never parses a request.  It counts the
 * "\r\n\r\n" that end request headers and sends one response for each, so a
 * request with a body would be miscounted, but wrk sends GET requests without one.
 */
struct conn {
    unsigned conn_match;         /* bytes of "\r\n\r\n" matched at the end of the last read */
    size_t conn_owed;            /* responses not yet written in full */
    size_t conn_sent;            /* bytes of the first owed response already written */
    bool conn_wants_out;         /* EPOLLOUT is registered */
};

struct options {
    const char *opt_addr;
    int opt_port;
    int opt_workers;
    bool opt_close;              /* send one response with "Connection: close", then close */
};

static char *response_run;       /* RESPONSE_COPIES copies of the response */
static size_t response_len;
static struct conn *conns;       /* indexed by file descriptor */
static size_t conn_max;
static bool close_mode;

static void
usage(void)
{
    fprintf(stderr,
            "usage: epoll_responder [-a ADDR] -p PORT [-w WORKERS] [-c]\n"
            "  -a ADDR     IPv4 address to listen on (default 127.0.0.1)\n"
            "  -p PORT     TCP port to listen on\n"
            "  -w WORKERS  worker processes, 1 to %d (default 1)\n"
            "  -c          send \"Connection: close\" and close after one response\n",
            MAX_WORKERS);
}

static int
parse_options(int argc, char **argv, struct options *opt)
{
    int c;

    opt->opt_addr = "127.0.0.1";
    opt->opt_port = -1;
    opt->opt_workers = 1;
    opt->opt_close = false;

    while ((c = getopt(argc, argv, "a:p:w:c")) != -1) {
        switch (c) {
        case 'a':
            opt->opt_addr = optarg;
            break;
        case 'p':
            opt->opt_port = atoi(optarg);
            break;
        case 'w':
            opt->opt_workers = atoi(optarg);
            break;
        case 'c':
            opt->opt_close = true;
            break;
        default:
            return -1;
        }
    }

    if (optind != argc || opt->opt_port < 1 || opt->opt_port > 65535) {
        fprintf(stderr, "epoll_responder: missing or invalid -p PORT (1 to 65535)\n");
        return -1;
    }
    if (opt->opt_workers < 1 || opt->opt_workers > MAX_WORKERS) {
        fprintf(stderr, "epoll_responder: invalid -w %d: expected 1 to %d\n",
                opt->opt_workers, MAX_WORKERS);
        return -1;
    }
    return 0;
}

static int
build_response(void)
{
    char head[256];
    int head_len;

    head_len = snprintf(head, sizeof(head),
                        "HTTP/1.1 200 OK\r\n"
                        "Server: epoll_responder\r\n"
                        "Content-Type: application/octet-stream\r\n"
                        "Content-Length: %d\r\n"
                        "%s"
                        "\r\n",
                        BODY_LEN, close_mode ? "Connection: close\r\n" : "");

    response_len = (size_t)head_len + BODY_LEN;
    response_run = malloc(response_len * RESPONSE_COPIES);
    if (response_run == NULL) {
        perror("epoll_responder: malloc");
        return -1;
    }

    for (size_t i = 0; i < RESPONSE_COPIES; i++) {
        char *copy = response_run + i * response_len;

        memcpy(copy, head, (size_t)head_len);
        memset(copy + head_len, 'x', BODY_LEN);
    }
    return 0;
}

/* Size the connection table by the descriptor limit, so any accepted fd indexes it. */
static int
alloc_conns(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
        perror("epoll_responder: getrlimit RLIMIT_NOFILE");
        return -1;
    }
    conn_max = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (size_t)rl.rlim_cur;
    conns = calloc(conn_max, sizeof(*conns));
    if (conns == NULL) {
        perror("epoll_responder: calloc connection table");
        return -1;
    }
    return 0;
}

static int
open_listener(const char *addr, int port)
{
    struct sockaddr_in sin;
    int fd, one = 1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "epoll_responder: invalid IPv4 address \"%s\"\n", addr);
        return -1;
    }

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        perror("epoll_responder: socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
        perror("epoll_responder: setsockopt SO_REUSEADDR/SO_REUSEPORT");
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
        fprintf(stderr, "epoll_responder: bind %s:%d failed: %s\n", addr, port, strerror(errno));
        goto fail;
    }
    if (listen(fd, 4096) == -1) {
        fprintf(stderr, "epoll_responder: listen %s:%d failed: %s\n", addr, port, strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}

static void
close_conn(int fd)
{
    memset(&conns[fd], 0, sizeof(conns[fd]));
    close(fd);
}

/* Add the requests completed in buf to the connection's owed responses. */
static void
count_requests(struct conn *c, const char *buf, size_t len)
{
    unsigned m = c->conn_match;

    for (size_t i = 0; i < len; i++) {
        switch (buf[i]) {
        case '\r':
            m = m == 2 ? 3 : 1;
            break;
        case '\n':
            if (m == 3) {
                c->conn_owed++;
                m = 0;
            } else {
                m = m == 1 ? 2 : 0;
            }
            break;
        default:
            m = 0;
            break;
        }
    }
    c->conn_match = m;
}

static int
set_out_interest(int epfd, int fd, bool want_out)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

    if (conns[fd].conn_wants_out == want_out)
        return 0;
    if (want_out)
        ev.events |= EPOLLOUT;
    conns[fd].conn_wants_out = want_out;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/*
 * Write owed responses until none is left or the socket is full.
 * Returns 0 to keep the connection, -1 to close it.
 */
static int
flush_responses(int epfd, int fd)
{
    struct conn *c = &conns[fd];

    while (c->conn_owed > 0) {
        size_t copies = c->conn_owed < RESPONSE_COPIES ? c->conn_owed : RESPONSE_COPIES;
        size_t len = copies * response_len - c->conn_sent;
        ssize_t n = write(fd, response_run + c->conn_sent, len);

        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR)
                return set_out_interest(epfd, fd, true);
            return -1;
        }

        size_t done = c->conn_sent + (size_t)n;
        c->conn_owed -= done / response_len;
        c->conn_sent = done % response_len;
    }

    if (close_mode)
        return -1;
    return set_out_interest(epfd, fd, false);
}

/* Read requests and write the responses they are owed.
 * Returns 0 to keep the connection, -1 to close it. */
static int
handle_readable(int epfd, int fd)
{
    char buf[READ_BUF_LEN];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n == 0)
        return -1;
    if (n == -1)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;

    count_requests(&conns[fd], buf, (size_t)n);

    /* In close mode the connection ends after its first response, whatever else arrived. */
    if (close_mode && conns[fd].conn_owed > 1)
        conns[fd].conn_owed = 1;
    if (conns[fd].conn_owed == 0)
        return 0;
    return flush_responses(epfd, fd);
}

static void
accept_all(int epfd, int lfd)
{
    int one = 1;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };

        if (fd == -1) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("epoll_responder: accept4");
            return;
        }
        if ((size_t)fd >= conn_max) {
            close(fd);
            continue;
        }

        /* Without TCP_NODELAY, Nagle would hold a response's tail behind the delayed ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ev.data.fd = fd;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
            perror("epoll_responder: epoll_ctl add");
            close(fd);
        }
    }
}

static void
handle_event(int epfd, int lfd, const struct epoll_event *ev)
{
    int fd = ev->data.fd;
    int rc = 0;

    if (fd == lfd) {
        accept_all(epfd, lfd);
        return;
    }

    if (ev->events & (EPOLLERR | EPOLLHUP))
        rc = -1;
    if (rc == 0 && (ev->events & EPOLLOUT))
        rc = flush_responses(epfd, fd);
    if (rc == 0 && (ev->events & EPOLLIN))
        rc = handle_readable(epfd, fd);
    if (rc == -1)
        close_conn(fd);
}

static int
run_worker(int lfd)
{
    struct epoll_event events[MAX_EVENTS];
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    int epfd;

    /* When the master dies, the kernel sends SIGTERM so that no worker stays bound to the port. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd == -1 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == -1) {
        perror("epoll_responder: epoll setup");
        return -1;
    }

    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            perror("epoll_responder: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++)
            handle_event(epfd, lfd, &events[i]);
    }
}

static void
stop_workers(const pid_t *pids, int count)
{
    for (int i = 0; i < count; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
}

/*
 * Wait for SIGTERM or SIGINT, then stop the workers.  A worker that exits on
 * its own is an error, so the master then stops the other workers and fails.
 */
static int
supervise(const pid_t *pids, int count)
{
    sigset_t set;
    int sig, rc = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGCHLD)
            break;

        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            fprintf(stderr, "epoll_responder: worker %d exited unexpectedly (status 0x%x)\n",
                    (int)pid, (unsigned)status);
            rc = -1;
            break;
        }
    }

    stop_workers(pids, count);
    return rc;
}

int
main(int argc, char **argv)
{
    struct options opt;
    int lfds[MAX_WORKERS];
    pid_t pids[MAX_WORKERS] = { 0 };
    sigset_t set;

    if (parse_options(argc, argv, &opt) == -1) {
        usage();
        return 2;
    }
    close_mode = opt.opt_close;
    if (build_response() == -1 || alloc_conns() == -1)
        return 1;

    /* One SO_REUSEPORT socket per worker, all bound before any fork, so that
     * a busy port fails the start instead of one worker. */
    for (int i = 0; i < opt.opt_workers; i++) {
        lfds[i] = open_listener(opt.opt_addr, opt.opt_port);
        if (lfds[i] == -1)
            return 1;
    }

    /* Signals stay blocked in the master for sigwait(); workers unblock them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    for (int i = 0; i < opt.opt_workers; i++) {
        pids[i] = fork();
        if (pids[i] == -1) {
            perror("epoll_responder: fork");
            stop_workers(pids, i);
            return 1;
        }
        if (pids[i] == 0) {
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            for (int j = 0; j < opt.opt_workers; j++)
                if (j != i)
                    close(lfds[j]);
            return run_worker(lfds[i]) == 0 ? 0 : 1;
        }
    }

    for (int i = 0; i < opt.opt_workers; i++)
        close(lfds[i]);
    return supervise(pids, opt.opt_workers) == 0 ? 0 : 1;
}
