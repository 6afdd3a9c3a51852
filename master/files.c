/* Files the master opens for its workers: document roots and access logs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/log.h"
#include "master/master.h"

static int
access_log_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd == -1)
        zs_log_syserr("access log %s: open failed", path);
    return fd;
}

/* Roots are opened by the master as O_PATH directories: a worker can then
 * reach its files even when a parent directory is closed to its user. */
static int
root_open(struct zs_config *conf, const struct zs_pool *pool, struct zs_location *loc)
{
    for (size_t i = 0; i < conf->server_count; i++) {
        const struct zs_server *srv = &conf->servers[i];
        for (size_t j = 0; j < srv->srv_location_count; j++) {
            /* Pools never share a descriptor: each worker closes the others'. */
            if (srv->srv_pool != pool)
                break;
            const struct zs_location *other = &srv->srv_locations[j];
            if (other == loc)
                goto open_new;
            if (other->loc_root_fd != -1 && strcmp(other->loc_root, loc->loc_root) == 0) {
                loc->loc_root_fd = other->loc_root_fd;
                return 0;
            }
        }
    }
open_new:
    loc->loc_root_fd = open(loc->loc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (loc->loc_root_fd == -1) {
        zs_log_syserr("%s:%d: root %s: open failed", loc->loc_file, loc->loc_line, loc->loc_root);
        return -1;
    }
    return 0;
}

int
zs_files_open(struct zs_config *conf)
{
    for (size_t i = 0; i < conf->server_count; i++) {
        struct zs_server *srv = &conf->servers[i];

        if (srv->srv_access_log.al_path != NULL) {
            srv->srv_access_log.al_fd = access_log_open(srv->srv_access_log.al_path);
            if (srv->srv_access_log.al_fd == -1)
                return -1;
        }
        for (size_t j = 0; j < srv->srv_location_count; j++) {
            struct zs_location *loc = &srv->srv_locations[j];
            if (loc->loc_root != NULL && loc->loc_return_status == 0 && root_open(conf, srv->srv_pool, loc) == -1)
                return -1;
        }
    }
    return 0;
}

/* Closes each descriptor once, though locations may share a root. With keep
 * set, the files of that pool's servers stay open. */
void
zs_files_close_except(struct zs_config *conf, const struct zs_pool *keep)
{
    for (size_t i = 0; i < conf->server_count; i++) {
        struct zs_server *srv = &conf->servers[i];

        if (keep != NULL && srv->srv_pool == keep)
            continue;
        if (srv->srv_access_log.al_fd != -1)
            close(srv->srv_access_log.al_fd);
        srv->srv_access_log.al_fd = -1;
        for (size_t j = 0; j < srv->srv_location_count; j++) {
            int fd = srv->srv_locations[j].loc_root_fd;
            if (fd == -1)
                continue;
            close(fd);
            for (size_t k = 0; k < conf->server_count; k++)
                for (size_t l = 0; l < conf->servers[k].srv_location_count; l++)
                    if (conf->servers[k].srv_locations[l].loc_root_fd == fd)
                        conf->servers[k].srv_locations[l].loc_root_fd = -1;
        }
    }
}

void
zs_files_close(struct zs_config *conf)
{
    zs_files_close_except(conf, NULL);
}

size_t
zs_files_reopen_logs(struct zs_config *conf, uint32_t *slots, int *fds, size_t max)
{
    size_t count = 0;

    for (size_t i = 0; i < conf->server_count && count < max; i++) {
        struct zs_access_log *al = &conf->servers[i].srv_access_log;
        if (al->al_fd == -1)
            continue;
        int fd = access_log_open(al->al_path);
        if (fd == -1)
            continue;
        /* Same number, new file, so every holder of the descriptor number writes to the new file. */
        if (dup3(fd, al->al_fd, O_CLOEXEC) == -1) {
            zs_log_syserr("access log %s: dup3 failed", al->al_path);
            close(fd);
            continue;
        }
        close(fd);
        slots[count] = (uint32_t)i + 1;
        fds[count] = al->al_fd;
        count++;
    }
    return count;
}
