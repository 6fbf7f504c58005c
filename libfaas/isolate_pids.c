/*
 * isolate_pids.c - process isolation's process limit (faas_config.pids_max): how many
 * processes and threads an instance and everything it forks may have at once. The zygote
 * finds the best way once, at its start:
 *   - a pids cgroup: a directory of the zygote's own (faas-zygote-NS-PID) in the cgroup v2
 *     hierarchy when the pids controller is delegated to the host's cgroup, else in the v1
 *     pids hierarchy, where each instance makes and joins a sub-directory (its pid) with
 *     pids.max before its first call: exact, per instance, threads included;
 *   - else, for a user other than root, RLIMIT_NPROC: the kernel counts every process and
 *     thread of the user, so the instance's limit is what the user had when the zygote
 *     started plus pids_max (and root is not bound by it);
 *   - else nothing (root without a writable pids cgroup): the host logs a warning.
 * The zygote removes an instance's directory once it has reaped its processes, and its own
 * at exit; the host removes what a zygote killed from outside left, and the next zygote
 * started there what the host could not (instances still in it then).
 */
#include "internal.h"

#include "isolate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Write text to dir/file; 0 or -1. */
static int put(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* Does dir/file hold word (space-separated)? */
static bool holds(const char *dir, const char *file, const char *word)
{
    char path[PATH_MAX], buf[512];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    for (char *save, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
        if (strcmp(w, word) == 0)
            return true;
    return false;
}

/* This process's cgroup directory in the hierarchy that is v2 (want_v1 false) or the v1
 * hierarchy with the pids controller: /proc/self/cgroup names the path, and
 * /proc/self/mountinfo where that hierarchy is mounted (and which of its directories). */
static bool own_cgroup(bool want_v1, char *out, size_t outlen)
{
    char path[PATH_MAX] = "", line[4096];
    bool found = false;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = *c2 = '\0';
        bool pids = false;
        for (char *save, *w = strtok_r(c1 + 1, ",", &save); w; w = strtok_r(NULL, ",", &save))
            pids |= strcmp(w, "pids") == 0;
        if (want_v1 ? pids : strcmp(line, "0") == 0 && c1[1] == '\0') {
            snprintf(path, sizeof path, "%s", c2 + 1);
            found = true;
        }
    }
    fclose(f);
    if (!found || (f = fopen("/proc/self/mountinfo", "re")) == NULL)
        return false;
    found = false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        char *dash = strstr(line, " - ");
        char root[PATH_MAX], mnt[PATH_MAX], fstype[64], source[256], super[1024] = "";
        if (dash == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(dash + 3, "%63s %255s %1023s", fstype, source, super) < 2)
            continue;
        bool pids = false;
        for (char *save, *w = strtok_r(super, ",", &save); w; w = strtok_r(NULL, ",", &save))
            pids |= strcmp(w, "pids") == 0;
        if (want_v1 ? strcmp(fstype, "cgroup") != 0 || !pids : strcmp(fstype, "cgroup2") != 0)
            continue;
        /* The mount shows ROOT of the hierarchy at MNT: the path must be below it. */
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
            continue;
        const char *below = strcmp(path + rl, "/") == 0 ? "" : path + rl;
        found = (size_t)snprintf(out, outlen, "%s%s", mnt, below) < outlen;
    }
    fclose(f);
    return found;
}

/* The tasks (threads) of this real user now, from /proc. */
static rlim_t user_tasks(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    uid_t me = getuid();
    rlim_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        long uid = -1, threads = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "Uid:", 4) == 0)
                uid = strtol(line + 4, NULL, 10);
            else if (strncmp(line, "Threads:", 8) == 0)
                threads = strtol(line + 8, NULL, 10);
        }
        fclose(f);
        if (uid == (long)me)
            n += (rlim_t)threads;
    }
    closedir(d);
    return n;
}

/* A zygote's directory: faas-zygote-NS-PID, NS the pid namespace (its inode), so that
 * zygotes in other pid namespaces that share the hierarchy are told apart. */
static unsigned long pid_namespace(void)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* The directories of zygotes of this pid namespace that are no more (killed from outside,
 * with instances that outlived them): removed once empty, here, as no one else would. A
 * zygote that runs (any process of that pid) is left alone. */
static void sweep_dead_zygotes(const char *parent)
{
    DIR *d = opendir(parent);
    if (d == NULL)
        return;
    char mine[64];
    int ml = snprintf(mine, sizeof mine, "faas-zygote-%lu-", pid_namespace());
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, mine, (size_t)ml) != 0)
            continue;
        char proc[64], dir[PATH_MAX];
        snprintf(proc, sizeof proc, "/proc/%.20s", e->d_name + ml);
        if (access(proc, F_OK) == 0 ||
            (size_t)snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name) >= sizeof dir)
            continue;
        faas__iso_cgroup_remove(dir);
    }
    closedir(d);
}

int faas__iso_pids_setup(faas__iso_pids *p, unsigned max, char *what, size_t whatlen)
{
    memset(p, 0, sizeof *p);
    p->max = max;
    if (max == 0) {
        p->how = FAAS__ISO_PIDS_OFF;
        snprintf(what, whatlen, "no limit (pids_max 0)");
        return p->how;
    }
    char dir[PATH_MAX], mine[PATH_MAX];
    pid_t self = getpid();
    unsigned long ns = pid_namespace();
    /* cgroup v2, when the host's cgroup hands the pids controller down. */
    if (own_cgroup(false, dir, sizeof dir) && holds(dir, "cgroup.subtree_control", "pids") &&
        (size_t)snprintf(mine, sizeof mine, "%s/faas-zygote-%lu-%d", dir, ns, (int)self) <
            sizeof mine &&
        (mkdir(mine, 0755) == 0 || errno == EEXIST)) {
        if (put(mine, "cgroup.subtree_control", "+pids") == 0) {
            sweep_dead_zygotes(dir);
            p->how = FAAS__ISO_PIDS_CGROUP;
            p->v2 = true;
            snprintf(p->dir, sizeof p->dir, "%s", mine);
            snprintf(what, whatlen, "cgroup v2 %s", mine);
            return p->how;
        }
        rmdir(mine);
    }
    /* The v1 pids hierarchy. */
    if (own_cgroup(true, dir, sizeof dir) &&
        (size_t)snprintf(mine, sizeof mine, "%s/faas-zygote-%lu-%d", dir, ns, (int)self) <
            sizeof mine &&
        (mkdir(mine, 0755) == 0 || errno == EEXIST)) {
        sweep_dead_zygotes(dir);
        p->how = FAAS__ISO_PIDS_CGROUP;
        snprintf(p->dir, sizeof p->dir, "%s", mine);
        snprintf(what, whatlen, "cgroup v1 %s", mine);
        return p->how;
    }
    if (geteuid() != 0) {
        p->how = FAAS__ISO_PIDS_RLIMIT;
        p->nproc = (uint64_t)user_tasks() + max;
        snprintf(what, whatlen, "RLIMIT_NPROC %llu (the user's %llu tasks now, plus "
                 "pids_max)", (unsigned long long)p->nproc,
                 (unsigned long long)(p->nproc - max));
        return p->how;
    }
    p->how = FAAS__ISO_PIDS_NONE;
    snprintf(what, whatlen, "no pids cgroup could be made (neither cgroup v2 with the pids "
             "controller delegated nor a writable v1 pids hierarchy), and RLIMIT_NPROC does "
             "not bind root");
    return p->how;
}

int faas__iso_pids_join(const faas__iso_pids *p, int id)
{
    if (p->how == FAAS__ISO_PIDS_RLIMIT) {
        struct rlimit rl = { (rlim_t)p->nproc, (rlim_t)p->nproc };
        return setrlimit(RLIMIT_NPROC, &rl);
    }
    if (p->how != FAAS__ISO_PIDS_CGROUP)
        return 0;
    char dir[PATH_MAX], max[16];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%d", p->dir, id) >= sizeof dir ||
        (mkdir(dir, 0755) != 0 && errno != EEXIST))
        return -1;
    snprintf(max, sizeof max, "%u", p->max);
    /* The limit first, then the move: nothing runs in the cgroup without it. */
    if (put(dir, "pids.max", max) != 0 || put(dir, "cgroup.procs", "0") != 0) {
        rmdir(dir);
        return -1;
    }
    return 0;
}

void faas__iso_pids_release(const faas__iso_pids *p, int pid)
{
    if (p->how != FAAS__ISO_PIDS_CGROUP)
        return;
    char dir[PATH_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%d", p->dir, (int)pid) < sizeof dir)
        rmdir(dir);
}

void faas__iso_cgroup_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;                   /* the instances' directories are their pids */
        char sub[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < sizeof sub)
            rmdir(sub);                 /* fails (EBUSY) while a process is in it */
    }
    closedir(d);
    rmdir(dir);
}
