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
 * Also what a process sees of the host's files (faas__iso_view): every mount read-only, a
 * /tmp of its own, the directories it was given put back, the host's journal hidden.
 */
#include "internal.h"

#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- what a process sees of the host's files ------------------------------------------ */

/* path is dir or below it (both absolute, without a trailing slash but "/"). */
static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The scratch tmpfs of the view that covers path (/tmp or /dev/shm), or NULL. */
static const char *covered_by(const char *path)
{
    static const char *const scratch[] = { "/tmp", "/dev/shm" };
    for (size_t i = 0; i < sizeof scratch / sizeof *scratch; i++)
        if (below(path, scratch[i]))
            return scratch[i];
    return NULL;
}

/* dir opened as an O_PATH fd, only if what it names now is the directory itself: a process
 * able to write one of its parents could have put a link to another directory in its place
 * since it was registered (ELOOP then). */
static int open_dir_as_named(const char *dir)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char self[64], real[PATH_MAX];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(self, real, sizeof real - 1);
    if (n < 0 || (real[n] = '\0', strcmp(real, dir) != 0)) {
        close(fd);
        errno = n < 0 ? errno : ELOOP;
        return -1;
    }
    return fd;
}

/* A copy of the mounts at dir (and below), detached, to put back on the view: read-only
 * for a kept directory, as the host has it for a writable one. An fd, or -1. */
static int copy_of(const char *dir, bool writable)
{
    int at = writable ? open_dir_as_named(dir) : open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (at < 0)
        return -1;
    int fd = open_tree(at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                               AT_EMPTY_PATH);
    int e = errno;
    close(at);
    if (fd >= 0 && !writable) {
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    errno = e;
    return fd;
}

/* path, and its parents, made in the scratch tmpfs that covers it (mode 0755). */
static int make_path(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return errno = ENAMETOOLONG, -1;
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s != NULL)
            *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return -1;
        if (s == NULL)
            return 0;
        *s = '/';
    }
}

/* Cover the journal, where it is to be seen from here; 0, or -1 (errno). */
static int hide_journal(const char *hide)
{
    struct stat st;
    if (hide == NULL || hide[0] != '/')
        return 0;
    if (stat(hide, &st) != 0)
        return errno == ENOENT ? 0 : -1;        /* not to be seen: hidden already */
    return mount("faas-hidden", hide, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=4k,mode=0");
}

/* The device nodes a process run as root keeps in its view (every other one it may not
 * open: the host's disks, its memory). */
static const char *const harmless_devices[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
};
#define NDEVICES (sizeof harmless_devices / sizeof *harmless_devices)

/* path (in /proc) put back read-only over itself; 0, or -1 (errno). ENOENT: none here. */
static int proc_read_only(const char *path)
{
    int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
    int rc = mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) == 0 &&
             move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) == 0 ? 0 : -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* A new procfs on /proc (FAAS__ISO_PROC_PIDNS or _TRACEABLE); 0, or -1 (errno). */
static int own_proc(int kind)
{
    return mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 kind == FAAS__ISO_PROC_TRACEABLE ? "hidepid=invisible" : NULL);
}

int32_t faas__iso_view(const char *hide, const char *const *dirs, size_t nkeep,
                       size_t nwritable, bool root, int proc_kind, int *step)
{
    int fds[FAAS__ISO_VIEW_DIRS], nfds = 0, proc = -1, rc = 0;
    int devs[NDEVICES];
    bool done_ro = false;
    for (size_t i = 0; i < NDEVICES; i++)
        devs[i] = -1;
    size_t n = nkeep + nwritable;
    if (n > FAAS__ISO_VIEW_DIRS)
        return *step = FAAS__ISO_VIEW_WRITABLE, -E2BIG;
    *step = FAAS__ISO_VIEW_NS;
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -errno;
    /* Copied while the host's tree is still as it is: /proc, to put back as the host has
     * it (the process's own files there, uid_map and oom_score_adj, are written after;
     * what it may write of others' the kernel decides by their owner), and the
     * directories to put back. */
    *step = FAAS__ISO_VIEW_READONLY;
    proc = open_tree(AT_FDCWD, "/proc", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (proc < 0) {
        rc = -errno;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool writable = i >= nkeep;
        fds[i] = -1;
        nfds++;
        if (!writable && covered_by(dirs[i]) == NULL)
            continue;                   /* a kept dir outside /tmp: read-only, in place */
        fds[i] = copy_of(dirs[i], writable);
        if (fds[i] < 0) {
            *step = writable ? FAAS__ISO_VIEW_WRITABLE : FAAS__ISO_VIEW_KEEP;
            rc = -errno;
            goto out;
        }
    }
    /* Root may open every device node its mounts allow, the host's disks among them (a
     * read-only mount does not stop a device): none but the harmless ones, copied here. */
    *step = FAAS__ISO_VIEW_ROOT;
    for (size_t i = 0; root && i < NDEVICES; i++)
        if (access(harmless_devices[i], F_OK) == 0 &&
            (devs[i] = open_tree(AT_FDCWD, harmless_devices[i],
                                 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0) {
            rc = -errno;
            goto out;
        }
    /* Every mount read-only (one call: all or none), then /proc back. From here on, a
     * failure leaves a view half made: the caller must not run code in it. */
    *step = FAAS__ISO_VIEW_READONLY;
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | (root ? MOUNT_ATTR_NODEV : 0) };
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0) {
        rc = -errno;
        goto out;
    }
    done_ro = true;
    /* /proc: a new one, which shows none of the host's processes (their command lines,
     * their environments' names), where it can be mounted; else the host's, as it has it
     * (the copy taken first). */
    *step = FAAS__ISO_VIEW_PROC;
    bool mine = proc_kind != FAAS__ISO_PROC_HOST && own_proc(proc_kind) == 0;
    if (!mine && move_mount(proc, "", AT_FDCWD, "/proc", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        rc = -errno;
        goto out;
    }
    /* Root's kernel settings read-only (core_pattern would run a program of its choice as
     * the host's root), the harmless devices back. */
    *step = FAAS__ISO_VIEW_ROOT;
    if (root && (proc_read_only("/proc/sys") != 0 ||
                 proc_read_only("/proc/sysrq-trigger") != 0)) {
        rc = -errno;
        goto out;
    }
    for (size_t i = 0; i < NDEVICES; i++)
        if (devs[i] >= 0 &&
            move_mount(devs[i], "", AT_FDCWD, harmless_devices[i], MOVE_MOUNT_F_EMPTY_PATH)
                != 0) {
            rc = -errno;
            goto out;
        }
    /* The journal, before /tmp is covered: a process whose working directory is in the
     * host's /tmp still reaches what lies below it there. */
    *step = FAAS__ISO_VIEW_HIDE;
    if (hide_journal(hide) != 0) {
        rc = -errno;
        goto out;
    }
    /* A /tmp and a /dev/shm of its own, empty. */
    *step = FAAS__ISO_VIEW_TMP;
    if (mount("faas-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=512m,mode=1777") != 0 ||
        (access("/dev/shm", F_OK) == 0 &&
         mount("faas-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=512m,mode=1777")
             != 0)) {
        rc = -errno;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        *step = i >= nkeep ? FAAS__ISO_VIEW_WRITABLE : FAAS__ISO_VIEW_KEEP;
        if ((covered_by(dirs[i]) != NULL && make_path(dirs[i]) != 0) ||
            move_mount(fds[i], "", AT_FDCWD, dirs[i], MOVE_MOUNT_F_EMPTY_PATH) != 0) {
            rc = -errno;
            goto out;
        }
    }
    /* Again, where a directory put back from /tmp shows it. */
    *step = FAAS__ISO_VIEW_HIDE;
    if (hide_journal(hide) != 0) {
        rc = -errno;
        goto out;
    }
    rc = mine ? 2 : 1;
    if (!mine && proc_kind != FAAS__ISO_PROC_HOST)
        *step = FAAS__ISO_VIEW_PROC;    /* made, but /proc is the host's: the caller says so */
out:
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (proc >= 0)
        close(proc);
    for (size_t i = 0; i < NDEVICES; i++)
        if (devs[i] >= 0)
            close(devs[i]);
    if (rc < 0 && done_ro)
        *step |= FAAS__ISO_VIEW_PARTIAL;
    return rc;
}

bool faas__iso_view_fatal(int32_t rc, int step)
{
    if (rc > 0)
        return false;
    if (step & FAAS__ISO_VIEW_PARTIAL)
        return true;                    /* half made: read-only, /tmp or the journal not */
    /* Before the read-only step nothing is changed: none can be made (a kernel without
     * open_tree or mount_setattr included), or a directory of the runtime's cannot be put
     * back (a writable one swapped for a link, say), which it must not run without. */
    return (step == FAAS__ISO_VIEW_KEEP || step == FAAS__ISO_VIEW_WRITABLE ||
            step == FAAS__ISO_VIEW_ROOT) && rc != -ENOSYS;
}
