/* Master-to-worker channel over a SOCK_SEQPACKET pair, with SCM_RIGHTS. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/channel.h"

int
zs_channel_send_fds(int sock, const uint32_t *slots, const int *fds, size_t count)
{
    struct zs_channel_reopen msg = { .count = (uint32_t)count };
    char control[CMSG_SPACE(sizeof(int) * ZS_CHANNEL_MAX_FDS)];
    struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (count > ZS_CHANNEL_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    memcpy(msg.slots, slots, count * sizeof(uint32_t));
    if (count > 0) {
        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * count);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n == -1 && errno == EINTR);
    return n == -1 ? -1 : 0;
}

ssize_t
zs_channel_recv_fds(int sock, uint32_t *slots, int *fds, size_t max, int *eof)
{
    struct zs_channel_reopen msg;
    char control[CMSG_SPACE(sizeof(int) * ZS_CHANNEL_MAX_FDS)];
    struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof(control) };
    size_t got = 0;

    *eof = 0;
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n == -1 && errno == EINTR);
    if (n == 0) {
        *eof = 1;
        return 0;
    }
    if (n == -1)
        return errno == EAGAIN ? 0 : -1;

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < max && got < msg.count) {
                fds[got] = fd;
                slots[got] = msg.slots[got];
                got++;
            } else {
                close(fd);
            }
        }
    }
    return (ssize_t)got;
}
