/* Dropping a worker's privileges to its pool's user and group. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "lib/log.h"
#include "master/master.h"

/* Order matters: supplementary groups while still root, then the gid, then the uid, and
 * finally a check that root cannot be regained. */
int
zs_privdrop(const struct zs_pool *pool)
{
    if (geteuid() != 0)
        return 0;
    if (pool->pool_uid == 0) {
        if (!pool->pool_allow_root) {
            zs_log_error("pool %s: refusing to run workers as root", pool->pool_name);
            return -1;
        }
        return 0;
    }
    /* The list was resolved with the configuration; an empty one still
     * drops root's own supplementary groups. */
    if (setgroups((size_t)pool->pool_group_count, pool->pool_groups) == -1) {
        zs_log_syserr("pool %s: setgroups for user %s failed", pool->pool_name, pool->pool_user);
        return -1;
    }
    if (setresgid(pool->pool_gid, pool->pool_gid, pool->pool_gid) == -1) {
        zs_log_syserr("pool %s: setresgid %d failed", pool->pool_name, (int)pool->pool_gid);
        return -1;
    }
    if (setresuid(pool->pool_uid, pool->pool_uid, pool->pool_uid) == -1) {
        zs_log_syserr("pool %s: setresuid %d failed", pool->pool_name, (int)pool->pool_uid);
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0) {
        zs_log_error("pool %s: root privileges could be regained after the drop", pool->pool_name);
        return -1;
    }
    return 0;
}
