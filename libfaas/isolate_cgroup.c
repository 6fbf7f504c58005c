/*
 * isolate_cgroup.c - the cgroups that bound an instance.
 *
 * Its processes (faas_config.pids_max), for process isolation's instances and for process
 * instances: how many processes and threads an instance and everything it forks may have at
 * once. The zygote (or the spawner) finds the best way once, at its start:
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
 *
 * Its memory (faas_config.memory_mb), for process instances (isolated instances have
 * RLIMIT_AS, isolate_child.c): a memory cgroup made the same way (the spawner's own
 * directory in the v2 hierarchy with the memory controller delegated, else in the v1
 * memory hierarchy), a sub-directory per instance whose limit is memory_mb with no swap. The
 * kernel counts every page of the instance's processes (their children's too, and the page
 * cache they fault in) and, past the limit and what it can reclaim, kills one of them (v2:
 * all of them, memory.oom.group); the spawner reads how many it killed (oom_kill) before it
 * removes the directory, so that the host can say Runtime.OutOfMemory.
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

int faas__iso_put(const char *dir, const char *file, const char *text)
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

/* Read dir/file into buf (NUL-terminated); its length, or -1. */
static ssize_t get(const char *dir, const char *file, char *buf, size_t size)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* Is word in the list s of words separated by any of sep? (s is changed.) */
static bool listed(char *s, const char *sep, const char *word)
{
    for (char *save, *w = strtok_r(s, sep, &save); w; w = strtok_r(NULL, sep, &save))
        if (strcmp(w, word) == 0)
            return true;
    return false;
}

/* This process's cgroup directory in the hierarchy that is v2 (v1 NULL) or the v1
 * hierarchy with the controller v1: /proc/self/cgroup names the path, and
 * /proc/self/mountinfo where that hierarchy is mounted (and which of its directories). */
static bool own_cgroup(const char *v1, char *out, size_t outlen)
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
        if (v1 ? listed(c1 + 1, ",", v1) : strcmp(line, "0") == 0 && c1[1] == '\0') {
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
        if (v1 ? strcmp(fstype, "cgroup") != 0 || !listed(super, ",", v1)
               : strcmp(fstype, "cgroup2") != 0)
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

/* Make this process's own directory (faas-zygote-NS-PID) for the controller ctl: in the v2
 * hierarchy when ctl is delegated to this process's cgroup there (and then handed down
 * from it), else in ctl's v1 hierarchy. True with dir (dirlen bytes) and *v2. */
static bool make_own(const char *ctl, char *dir, size_t dirlen, bool *v2)
{
    char parent[PATH_MAX], mine[PATH_MAX], buf[512], plus[32];
    unsigned long ns = pid_namespace();
    int self = (int)getpid();
    snprintf(plus, sizeof plus, "+%s", ctl);
    for (int pass = 0; pass < 2; pass++) {
        *v2 = pass == 0;
        if (!own_cgroup(*v2 ? NULL : ctl, parent, sizeof parent) ||
            (*v2 && (get(parent, "cgroup.subtree_control", buf, sizeof buf) <= 0 ||
                     !listed(buf, " \n", ctl))) ||
            (size_t)snprintf(mine, sizeof mine, "%s/faas-zygote-%lu-%d", parent, ns, self) >=
                sizeof mine ||
            (mkdir(mine, 0755) != 0 && errno != EEXIST))
            continue;
        if (*v2 && faas__iso_put(mine, "cgroup.subtree_control", plus) != 0) {
            rmdir(mine);
            continue;
        }
        sweep_dead_zygotes(parent);
        return (size_t)snprintf(dir, dirlen, "%s", mine) < dirlen;
    }
    return false;
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
    if (make_own("pids", p->dir, sizeof p->dir, &p->v2)) {
        p->how = FAAS__ISO_PIDS_CGROUP;
        snprintf(what, whatlen, "cgroup %s %s", p->v2 ? "v2" : "v1", p->dir);
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

/* The directory of instance id below base, into dir. */
static bool instance_dir(const char *base, int id, char *dir, size_t dirlen)
{
    return (size_t)snprintf(dir, dirlen, "%s/%d", base, id) < dirlen;
}

/* Make it (dir: PATH_MAX bytes); 0, or -1 (errno). */
static int instance_make(const char *base, int id, char *dir)
{
    if (!instance_dir(base, id, dir, PATH_MAX)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Move this process into dir, made by instance_make; 0, or -1 (errno) with dir removed
 * (also when failed, a step before this one that failed). */
static int instance_enter(const char *dir, bool failed)
{
    if (!failed && faas__iso_put(dir, "cgroup.procs", "0") == 0)
        return 0;
    int e = errno;
    rmdir(dir);
    errno = e;
    return -1;
}

int faas__iso_pids_join(const faas__iso_pids *p, int id)
{
    if (p->how == FAAS__ISO_PIDS_RLIMIT) {
        struct rlimit rl = { (rlim_t)p->nproc, (rlim_t)p->nproc };
        return setrlimit(RLIMIT_NPROC, &rl);
    }
    if (p->how != FAAS__ISO_PIDS_CGROUP)
        return 0;
    char dir[PATH_MAX];
    if (instance_make(p->dir, id, dir) != 0)
        return -1;
    /* The limit first, then the move: nothing runs in the cgroup without it. */
    return instance_enter(dir, faas__iso_pids_limit(p, id, p->max) != 0);
}

int faas__iso_pids_limit(const faas__iso_pids *p, int id, unsigned max)
{
    if (p->how == FAAS__ISO_PIDS_RLIMIT && max > 0) {
        rlim_t n = (rlim_t)(p->nproc - p->max + max);
        struct rlimit rl = { n, n };
        return setrlimit(RLIMIT_NPROC, &rl);
    }
    char dir[PATH_MAX], text[16];
    if (p->how != FAAS__ISO_PIDS_CGROUP)
        return 0;
    if (!instance_dir(p->dir, id, dir, sizeof dir))
        return -1;
    snprintf(text, sizeof text, max ? "%u" : "max", max);
    return faas__iso_put(dir, "pids.max", text);
}

void faas__iso_pids_release(const faas__iso_pids *p, int pid)
{
    if (p->how != FAAS__ISO_PIDS_CGROUP)
        return;
    char dir[PATH_MAX];
    if (instance_dir(p->dir, pid, dir, sizeof dir))
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

/* ---- memory (process instances) ------------------------------------------------------- */

bool faas__iso_mem_setup(faas__iso_mem *m, char *what, size_t whatlen)
{
    memset(m, 0, sizeof *m);
    m->on = make_own("memory", m->dir, sizeof m->dir, &m->v2);
    if (m->on)
        snprintf(what, whatlen, "cgroup %s %s", m->v2 ? "v2" : "v1", m->dir);
    else
        snprintf(what, whatlen, "no memory cgroup could be made (neither cgroup v2 with the "
                 "memory controller delegated nor a writable v1 memory hierarchy)");
    return m->on;
}

int faas__iso_mem_join(const faas__iso_mem *m, int id)
{
    char dir[PATH_MAX];
    if (!m->on)
        return 0;
    return instance_make(m->dir, id, dir) == 0 ? instance_enter(dir, false) : -1;
}

int faas__iso_mem_limit(const faas__iso_mem *m, int id, unsigned memory_mb)
{
    char dir[PATH_MAX], bytes[32];
    if (!m->on || memory_mb == 0)
        return 0;
    if (!instance_dir(m->dir, id, dir, sizeof dir))
        return -1;
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)memory_mb << 20);
    /* No swap: the memory a function is given is memory (the swap limits are absent
     * without swap accounting; then there is none to limit). On v2 an out-of-memory kill
     * takes the whole instance, as a runtime half killed is no use. */
    if (faas__iso_put(dir, m->v2 ? "memory.max" : "memory.limit_in_bytes", bytes) != 0)
        return -1;
    if (m->v2) {
        faas__iso_put(dir, "memory.swap.max", "0");
        faas__iso_put(dir, "memory.oom.group", "1");
    } else {
        faas__iso_put(dir, "memory.memsw.limit_in_bytes", bytes);
    }
    return 0;
}

unsigned faas__iso_mem_release(const faas__iso_mem *m, int id)
{
    if (!m->on)
        return 0;
    char dir[PATH_MAX], buf[1024];
    if (!instance_dir(m->dir, id, dir, sizeof dir))
        return 0;
    unsigned kills = 0;
    /* v2: memory.events; v1: memory.oom_control (Linux 4.13 and later): "oom_kill N". */
    if (get(dir, m->v2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) > 0) {
        const char *k = strstr(buf, "oom_kill ");
        if (k != NULL && (k == buf || k[-1] == '\n'))
            kills = (unsigned)strtoul(k + 9, NULL, 10);
    }
    rmdir(dir);
    return kills;
}
