/*
 * isolate_userns.c - a user namespace of a process's own, where its user and group map to
 * themselves. The kernel lets a process open another's memory, trace it or read its
 * environment only with a right in the other's user namespace (or its own, if they share
 * it and their users match): a process in a namespace of its own has no right over any
 * process outside it, its host and its siblings included, whatever user they share, while
 * its files are made and read as before (its ids are the same). The process that made the
 * namespace's parent, and its user, keep every right over it.
 *
 * Used by process instances' inits (process_spawner.c), by the spawner of a host not root
 * (for the right to make PID namespaces), and by isolated instances (isolate_child.c).
 *
 * Also a directory hidden from a process: the host's journal, which its functions must not
 * reach whatever user they run as.
 */
#include "internal.h"

#include "isolate.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>

int32_t faas__iso_userns(uid_t uid, gid_t gid, bool *broken)
{
    char map[64];
    *broken = false;
    if (unshare(CLONE_NEWUSER) != 0)
        return -errno;
    *broken = true;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (faas__iso_put("/proc/self", "uid_map", map) != 0)
        return -errno;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (faas__iso_put("/proc/self", "setgroups", "deny") != 0 ||
        faas__iso_put("/proc/self", "gid_map", map) != 0)
        return -errno;
    *broken = false;
    return 1;
}

int32_t faas__iso_hide(const char *dir)
{
    if (unshare(CLONE_NEWNS) != 0)
        return -errno;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("faas-hidden", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,mode=0") != 0)
        return -errno;
    return 1;
}
