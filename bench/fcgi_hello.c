/* FastCGI "Hello, world!" responder (libfcgi) that bench/run puts behind the servers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCESSES 64
#define LISTEN_BACKLOG 1024

/* The whole response: a CGI head, then the body that bench/run checks byte for byte. */
static const char RESPONSE[] =
    "Content-Type: text/plain\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "Hello, world!\n";

struct options {
    const char *opt_socket;
    int opt_processes;
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: fcgi_hello -s PATH [-n PROCESSES]\n"
            "  -s PATH       unix socket to create; a file already at PATH is removed\n"
            "  -n PROCESSES  processes that accept on the socket, 1 to %d (default 1)\n",
            MAX_PROCESSES);
}

static int
parse_options(int argc, char **argv, struct options *opt)
{
    int c;

    opt->opt_socket = NULL;
    opt->opt_processes = 1;

    while ((c = getopt(argc, argv, "s:n:")) != -1) {
        switch (c) {
        case 's':
            opt->opt_socket = optarg;
            break;
        case 'n':
            opt->opt_processes = atoi(optarg);
            break;
        default:
            return -1;
        }
    }

    if (optind != argc || opt->opt_socket == NULL || opt->opt_socket[0] == '\0') {
        fprintf(stderr, "fcgi_hello: missing -s PATH\n");
        return -1;
    }
    if (opt->opt_processes < 1 || opt->opt_processes > MAX_PROCESSES) {
        fprintf(stderr, "fcgi_hello: invalid -n %d: expected 1 to %d\n",
                opt->opt_processes, MAX_PROCESSES);
        return -1;
    }
    return 0;
}

/* Create the socket that every process accepts on, connectable by any user,
 * because the web servers under test run their workers as www-data. */
static int
open_socket(const char *path)
{
    int fd;

    if (unlink(path) == -1 && errno != ENOENT) {
        fprintf(stderr, "fcgi_hello: removing %s failed: %s\n", path, strerror(errno));
        return -1;
    }
    fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
    if (fd == -1) {
        fprintf(stderr, "fcgi_hello: listening on %s failed: %s\n", path, strerror(errno));
        return -1;
    }
    if (chmod(path, 0666) == -1) {
        fprintf(stderr, "fcgi_hello: chmod 0666 %s failed: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Serve requests until accepting fails.  libfcgi serves one connection at a
 * time.  When the web server sets FCGI_KEEP_CONN, FCGX_Accept_r() waits for
 * the next request on that connection and accepts no other meanwhile.
 */
static int
run_process(int listen_fd)
{
    FCGX_Request request;

    /* FCGX_Init() installed libfcgi's SIGTERM handler, which only makes the
     * next accept fail.  The default action ends the process at once, as the
     * master's stop expects. */
    signal(SIGTERM, SIG_DFL);
    /* When the master dies, the kernel sends SIGTERM, so that no process keeps the socket. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    if (FCGX_InitRequest(&request, listen_fd, 0) != 0) {
        fprintf(stderr, "fcgi_hello: FCGX_InitRequest failed\n");
        return -1;
    }
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(RESPONSE, (int)(sizeof(RESPONSE) - 1), request.out);
        FCGX_Finish_r(&request);
    }
    fprintf(stderr, "fcgi_hello: process %d: FCGX_Accept_r failed, exiting\n", (int)getpid());
    return -1;
}

static void
stop_processes(const pid_t *pids, int count)
{
    for (int i = 0; i < count; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
}

/*
 * Wait for SIGTERM or SIGINT, then stop the processes.  A process that exits
 * on its own is an error, so the master then stops the others and fails.
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
            fprintf(stderr, "fcgi_hello: process %d exited unexpectedly (status 0x%x)\n",
                    (int)pid, (unsigned)status);
            rc = -1;
            break;
        }
    }

    stop_processes(pids, count);
    return rc;
}

int
main(int argc, char **argv)
{
    struct options opt;
    pid_t pids[MAX_PROCESSES] = { 0 };
    sigset_t set;
    int listen_fd, rc;

    if (parse_options(argc, argv, &opt) == -1) {
        usage();
        return 2;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi_hello: FCGX_Init failed\n");
        return 1;
    }
    listen_fd = open_socket(opt.opt_socket);
    if (listen_fd == -1)
        return 1;

    /* Signals stay blocked in the master, which takes them with sigwait(),
     * and the processes unblock them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    for (int i = 0; i < opt.opt_processes; i++) {
        pids[i] = fork();
        if (pids[i] == -1) {
            perror("fcgi_hello: fork");
            stop_processes(pids, i);
            unlink(opt.opt_socket);
            return 1;
        }
        if (pids[i] == 0) {
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            return run_process(listen_fd) == 0 ? 0 : 1;
        }
    }

    close(listen_fd);
    rc = supervise(pids, opt.opt_processes);
    unlink(opt.opt_socket);
    return rc == 0 ? 0 : 1;
}
