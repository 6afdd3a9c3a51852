/* Master-to-worker channel: small messages that may carry file descriptors. */
#ifndef ZS_CHANNEL_H
#define ZS_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZS_CHANNEL_MAX_FDS 250

/* Log slot 0 is the error log; slot i + 1 is the access log of server i. */
struct zs_channel_reopen {
    uint32_t count;
    uint32_t slots[ZS_CHANNEL_MAX_FDS];
};

/* Sends the slots and their descriptors in one message; returns 0 or -1. */
int zs_channel_send_fds(int sock, const uint32_t *slots, const int *fds, size_t count);
/* Receives one message: returns the number of descriptors (0..max), 0 on
 * end of file with *eof set, -1 on error. */
ssize_t zs_channel_recv_fds(int sock, uint32_t *slots, int *fds, size_t max, int *eof);

#endif
