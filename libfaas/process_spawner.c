/*
 * process_spawner.c - faas-spawner, the helper program that starts process instances'
 * runtimes (one per libfaas runtime, started by process_spawn.c; the wire is isolate.h's
 * EXEC and REAP). It links only the C library (and wire.c), so that its forks are cheap
 * and the init it leaves in each instance is small. A runtime is not its child:
 *
 *   spawner --fork--> init (pid 1 of a new PID namespace, leader of the instance's group)
 *                       --fork, exec--> the runtime (pid 2 there, in the init's group)
 *
 * When the host may make PID namespaces (CAP_SYS_ADMIN; a host not root gets that right in a
 * user namespace the spawner makes for itself at start, where the host's user maps to
 * itself), each instance gets one, so
 *   - everything the runtime starts dies with the instance, even a process that left its
 *     process group and session (setsid) or was orphaned: when a namespace's init exits,
 *     the kernel kills every process in it, and the init exits as soon as the runtime has;
 *   - the runtime sees no process outside its namespace, so it cannot signal, trace or wait
 *     for one (the host included);
 *   - the runtime is not pid 1: the init is, and reaps what is orphaned below it.
 * Each init also joins a pids cgroup (pids_max) and a memory cgroup (memory_mb) of its own
 * before it starts the runtime (isolate_cgroup.c), where they can be made; the spawner
 * removes them at REAP, and tells the host whether the kernel killed a process of the
 * instance for memory.
 * Without that right the instance is its init's process group and nothing more, as a
 * runtime spawned directly by the host was: a process that calls setsid() can outlive it
 * (its HELLO says which; the host warns once).
 *
 * The spawner keeps one init forked ahead (the spare), so that a cold start pays no fork
 * of its own, and hands the host the spare's socket (SPARE): the host sends the EXEC and
 * its two descriptors to the init itself, the init starts the runtime with posix_spawn (the
 * runtime runs at once, and an error of its exec comes back as a result) and answers its
 * pid to the host (STARTED): the spawner is not on the cold start's path. The host then
 * says TAKEN, and the spawner keeps the init as that runtime's and forks the next spare.
 * The spawner reaps an init only when the host retires the instance (REAP): until then the
 * group's id (the init's pid) cannot be reused, so the host may always kill(-group). The
 * init sends the runtime's wait status over its socket as it reaps it, and REAP answers
 * it. Single-threaded, so it forks freely; it never runs code of
 * the function. Started by hand, or by another build of libfaas (argv[1] is the wire's
 * version), it exits.
 */
#include "process_spawn.h"    /* first: internal.h, config.h */

#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

typedef struct kid {
    pid_t runtime, init;
    int   sock;                     /* the spawner's end of the init's socket */
} kid;

static struct {
    int      ctl;
    pid_t    self;
    int      own_ns;                /* this process's PID namespace, or -1: none made */
    bool     fresh_ns;              /* in a user namespace of its own (a host not root):
                                       each init is cloned into a new PID namespace */
    kid      spare;                 /* an init waiting for its runtime (init 0: none) */
    faas__iso_pids pids;            /* how pids_max is kept (isolate_cgroup.c) */
    faas__iso_mem  mem;             /* how memory_mb is kept (isolate_cgroup.c) */
    kid     *kids;
    size_t   nkids, cap;
    unsigned char *buf;
} sp = { .ctl = -1, .own_ns = -1 };

/* ---- an init (in a fork) -------------------------------------------------------------- */

/* Close every descriptor but keep[0..n) (sorted ascending). */
static void close_all_but(const int *keep, int n)
{
    int from = 0;
    for (int i = 0; i <= n; i++) {
        int to = i < n ? keep[i] - 1 : INT_MAX;
        if (to >= from) {
#ifdef SYS_close_range
            if (syscall(SYS_close_range, (unsigned)from, (unsigned)to, 0) != 0)
#endif
                for (int fd = from; fd <= to && fd < 65536; fd++)
                    close(fd);
        }
        if (i < n)
            from = keep[i] + 1;
    }
}

/* In an init: what became of the runtime's user namespace and of its view of the host's
 * files (faas__iso_started.userns, .view, .view_step). */
static int32_t own_userns, own_view, own_view_step, own_pidns;

static void send_report(int sock, int32_t code, const char *where)
{
    faas__iso_started r;
    memset(&r, 0, sizeof r);
    r.code = code;
    r.userns = own_userns;
    r.view = own_view;
    r.view_step = own_view_step;
    r.pidns = own_pidns;
    if (where != NULL)
        snprintf(r.where, sizeof r.where, "%s", where);
    send(sock, &r, sizeof r, MSG_NOSIGNAL);
}

/* Split the strings of an EXEC (the path to run, argc arguments, envc variables, the
 * directory; then the journal and the writable directories, which the view took) into v
 * (argc + envc + 2 slots): the NULL-terminated argv and envp. False if they do not add
 * up. */
static bool split(const faas__iso_exec *e, long n, char **v, char **path, char ***argv,
                  char ***envp, char **cwd)
{
    if ((size_t)n != sizeof *e + e->len || e->argc == 0)
        return false;
    char *p = (char *)(e + 1), *end = p + e->len;
    size_t want = 1u + e->argc + e->envc + 2u + e->writable, k = 0, j = 0;
    size_t cwd_at = 1u + e->argc + e->envc;     /* then the journal, the writable dirs */
    *argv = v;
    *envp = v + e->argc + 1;
    while (p < end && k < want) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (z == NULL)
            return false;
        if (k == 0)
            *path = p;
        else if (k == cwd_at)
            *cwd = p;
        else if (k < cwd_at)
            v[j++] = p;
        if (k == e->argc)
            v[j++] = NULL;                      /* the end of argv */
        k++;
        p = z + 1;
    }
    v[j] = NULL;
    return k == want && p == end;
}

/* This process's pid as the host sees it (/proc is the host's), or 0. */
static pid_t self_as_host_sees(void)
{
    char self[32] = "";
    ssize_t n = readlink("/proc/self", self, sizeof self - 1);
    return n > 0 ? (pid_t)strtol(self, NULL, 10) : 0;
}

/* The host's /proc/SELF/task/SELF/children of self (the init's pid as the host sees it),
 * opened while /proc is the host's (the view puts a /proc of the init's own PID namespace
 * in its place): an fd, or -1. */
static int children_file(pid_t self)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)self, (int)self);
    return self > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
}

/* The pid of the init's only child as the host sees it (children: children_file()), or 0. */
static pid_t child_as_host_sees(int children)
{
    char buf[64] = "";
    ssize_t n = children >= 0 ? pread(children, buf, sizeof buf - 1, 0) : -1;
    return n > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
}

/* Start the runtime the EXEC in buf (n bytes) asks for, with out and fd3, as the init's
 * child (children: the init's, children_file()); its pid (the init's view), or -1 with
 * the report sent. */
static pid_t start_runtime(unsigned char *buf, long n, int out, int fd3, int sock,
                           int children)
{
    const faas__iso_exec *e = (const void *)buf;
    char **argv = NULL, **envp = NULL, *cwd = NULL, *path = NULL;
    char **v = (size_t)n >= sizeof *e && e->argc < 4096 && e->envc < 4096
                   ? calloc(e->argc + e->envc + 2u, sizeof *v) : NULL;
    if (v == NULL || !split(e, n, v, &path, &argv, &envp, &cwd)) {
        send_report(sock, -(v == NULL ? ENOMEM : EPROTO), "request");
        return -1;
    }
    faas__pspawn_req q = { path, argv, envp, cwd, out, fd3, e->pids_max, e->memory_mb, e->uid,
                           e->gid, NULL, NULL };
    pid_t rt;
    int rc = faas__spawn_runtime(&q, false, &rt);  /* in the init's group */
    free(v);
    if (rc != 0) {
        send_report(sock, -rc, "posix_spawn");
        return -1;
    }
    pid_t seen = child_as_host_sees(children);
    send_report(sock, seen > 0 ? seen : rt, NULL);
    return rt;
}

/* The EXEC's string i (0: the command), or NULL if the message has no such string. */
static const char *exec_string(const faas__iso_exec *e, long n, size_t i)
{
    if ((size_t)n != sizeof *e + e->len || e->len == 0)
        return NULL;
    const char *p = (const char *)(e + 1), *end = p + e->len;
    if (end[-1] != '\0')
        return NULL;
    for (; i > 0 && p < end; i--)
        p += strlen(p) + 1;
    return p < end ? p : NULL;
}

/* The runtime's view of the host's files (faas__iso_view), made while the init still has
 * the right to mount: read-only, the journal hidden; its directory and its command's
 * kept where the view's /tmp covers them, the EXEC's writable directories writable. NULL,
 * or what failed when the runtime must not start: a directory it was given cannot be (a
 * writable one swapped for a link, say); where no view can be made at all, it starts,
 * and STARTED says why (the host warns). */
static const char *make_view(const faas__iso_exec *e, long n, bool ns)
{
    size_t at = 1u + e->argc + e->envc;         /* cwd, the journal, the writable dirs */
    const char *cmd = exec_string(e, n, 0), *cwd = exec_string(e, n, at);
    const char *hide = exec_string(e, n, at + 1);
    const char *dirs[FAAS__ISO_VIEW_DIRS];
    char cmd_dir[PATH_MAX];
    size_t nkeep = 0;
    own_view_step = 0;
    if (cmd == NULL || cwd == NULL || hide == NULL ||
        e->writable > FAAS__ISO_VIEW_DIRS - 2u) {
        own_view = -EPROTO;                     /* no runtime without its view */
        return "request";
    }
    dirs[nkeep++] = cwd;
    const char *slash = strrchr(cmd, '/');
    if (cmd[0] == '/' && slash != cmd &&
        snprintf(cmd_dir, sizeof cmd_dir, "%.*s", (int)(slash - cmd), cmd) < (int)sizeof cmd_dir)
        dirs[nkeep++] = cmd_dir;
    /* the writable dirs follow the journal (exec_string checked the last NUL) */
    const char *w = hide, *end = (const char *)(e + 1) + e->len;
    for (uint32_t i = 0; i < e->writable; i++) {
        w += strlen(w) + 1;
        if (w >= end) {
            own_view = -EPROTO;
            return "request";
        }
        dirs[nkeep + i] = w;
    }
    /* uid -1: the spawner's own, which is root's for a host run as root */
    bool root = e->uid == 0 || (e->uid < 0 && geteuid() == 0);
    /* In a PID namespace of its own (the init its first process), a /proc of that
     * namespace: the runtime sees its instance's processes, none of the host's. */
    own_view = faas__iso_view(hide, dirs, nkeep, e->writable, root,
                              ns ? FAAS__ISO_PROC_PIDNS : FAAS__ISO_PROC_HOST, &own_view_step);
    if (!faas__iso_view_fatal(own_view, own_view_step))
        return NULL;
    int step = own_view_step & ~FAAS__ISO_VIEW_PARTIAL;
    return step == FAAS__ISO_VIEW_WRITABLE ? "writable dir"
         : step == FAAS__ISO_VIEW_KEEP ? "runtime's dir"
         : step == FAAS__ISO_VIEW_ROOT ? "root's devices" : "read-only view";
}

/* An instance's init: leads the instance's process group, waits for its EXEC on sock,
 * starts the runtime in its group, reaps whatever is orphaned to it, and exits once the
 * runtime has (after sending its wait status): in a namespace of its own, the kernel then
 * kills the rest. */
static _Noreturn void init_main(int sock, bool ns)
{
    int keep[] = { sock };
    close_all_but(keep, 1);                     /* the spawner's socket, other instances' */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  /* the spawner killed: so is the instance */
    if (getppid() != (ns ? 0 : sp.self))        /* (its parent is outside the namespace) */
        _exit(1);
    prctl(PR_SET_NAME, "faas-init", 0, 0, 0);
    own_pidns = ns;
    setpgid(0, 0);
    if (!ns)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    struct rlimit none_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none_core);         /* a crash is reported, not dumped */
    /* The kernel's OOM killer takes the instance first, never the host, should the machine
     * run out of memory (where memory_mb is not kept, a host not root): raising it needs
     * no right, and the runtime inherits it. */
    faas__iso_put("/proc/self", "oom_score_adj", "1000");
    /* Its own cgroups (named by its pid as the spawner sees it), joined ahead of its EXEC:
     * a join costs 0.1-0.5 ms here (v1), off the cold start's path; the limits, cheap
     * writes, come with the EXEC, before the runtime exists. */
    pid_t self = self_as_host_sees();
    int children = children_file(self);         /* before the view's own /proc */
    const char *failed = self <= 0 ? "/proc/self" : NULL;
    int err = self <= 0 ? EIO : 0;
    bool pids_cg = sp.pids.how == FAAS__ISO_PIDS_CGROUP;
    faas__iso_pids unlimited = sp.pids;
    unlimited.max = 0;
    if (failed == NULL && faas__iso_mem_join(&sp.mem, (int)self) != 0)
        failed = "memory cgroup", err = errno;
    if (failed == NULL && pids_cg && faas__iso_pids_join(&unlimited, (int)self) != 0)
        failed = "pids cgroup", err = errno;
    int fds[2], nfds;
    long n = faas__iso_recv_fds(sock, sp.buf, FAAS__ISO_MSG_MAX, fds, 2, &nfds, true);
    if (n <= 0 || nfds != 2)
        _exit(0);                               /* the spawner is done with its spare */
    const faas__iso_exec *e = (const void *)sp.buf;
    if (failed == NULL && (size_t)n >= sizeof *e &&
        faas__iso_mem_limit(&sp.mem, (int)self, e->memory_mb) != 0)
        failed = "memory cgroup", err = errno;
    if (failed == NULL && (size_t)n >= sizeof *e && pids_cg &&
        faas__iso_pids_limit(&sp.pids, (int)self, e->pids_max) != 0)
        failed = "pids cgroup", err = errno;
    /* The host's files read-only, the journal hidden, while the init still has the right
     * to mount. */
    if (failed == NULL && (size_t)n >= sizeof *e && (failed = make_view(e, n, ns)) != NULL)
        err = -own_view;
    /* The runtime's user, last: the cgroups are the init's to join and limit as root.
     * The init runs as it too from here, so the runtime is no child of a process with more
     * rights than its own. */
    if (failed == NULL && (size_t)n >= sizeof *e) {
        /* uid -1: the host's own (a host not root), kept; a user namespace all the same,
         * or the runtime could open the host's memory as any process of its user can. */
        uid_t uid = e->uid >= 0 ? (uid_t)e->uid : geteuid();
        gid_t gid = e->uid >= 0 ? (gid_t)e->gid : getegid();
        if (e->uid >= 0 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
            failed = "setuid", err = errno;
        } else {
            /* A change of user clears the parent-death signal: armed again, then checked
             * (the spawner may have died in between). A user namespace of its own, then not
             * dumpable: the runtime, of the same user now, cannot trace its init or read
             * its memory. */
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            if (getppid() != (ns ? 0 : sp.self))
                _exit(1);
            bool broken;
            prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* a new user's is 0: its maps root's */
            own_userns = faas__iso_userns(uid, gid, &broken);
            if (broken)
                failed = "user namespace", err = -own_userns;
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* after: its /proc/self files are root's */
        }
    }
    /* Root without a user namespace of its own keeps its rights over the mount namespace:
     * it could remount what the view made read-only. Said, as a view not made. */
    if (failed == NULL && own_view > 0 && own_userns < 0 && geteuid() == 0) {
        own_view = own_userns;
        own_view_step = FAAS__ISO_VIEW_LOCK;
    }
    /* RLIMIT_NPROC (a host not root) counts a user's processes per user namespace: in the
     * instance's own only the instance's, its init the first, so the limit is pids_max
     * itself. Set once the namespace is made: the namespace keeps the limit its creator
     * had then as the bound of the count above it, where every instance's processes are
     * counted together. */
    if (failed == NULL && (size_t)n >= sizeof *e && !pids_cg && e->pids_max > 0 &&
        sp.pids.how == FAAS__ISO_PIDS_RLIMIT) {
        struct rlimit rl = { (rlim_t)e->pids_max, (rlim_t)e->pids_max };
        if (own_userns > 0 ? setrlimit(RLIMIT_NPROC, &rl) != 0
                           : faas__iso_pids_limit(&sp.pids, (int)self, e->pids_max) != 0)
            failed = "RLIMIT_NPROC", err = errno;
    }
    if (failed != NULL) {
        send_report(sock, -(err ? err : EIO), failed);
        _exit(1);
    }
    for (int i = 0; i < 2; i++) {               /* above 0-3, where the runtime's go */
        int high = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        close(fds[i]);
        fds[i] = high;
    }
    pid_t rt = start_runtime(sp.buf, n, fds[0], fds[1], sock, children);
    close(fds[0]);                              /* the init holds nothing of the instance's */
    close(fds[1]);
    if (rt < 0)
        _exit(1);
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p == rt) {
            send(sock, &status, sizeof status, MSG_NOSIGNAL);
            _exit(0);
        }
        if (p < 0 && errno != EINTR)
            _exit(0);
    }
}

/* ---- the spawner ---------------------------------------------------------------------- */

/* fork(), the child in a PID namespace of its own (clone's CLONE_NEWPID: the caller's
 * stays as it is). The spawner is single-threaded, so nothing fork() would do for threads
 * is missed; the child only runs init_main, which asks glibc nothing of its thread. */
static pid_t fork_into_pidns(void)
{
    return (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), NULL, NULL,
                          NULL, 0UL);
}

/* Fork the next spare init, in a PID namespace of its own where it may; 0 or an errno. */
static int prefork(void)
{
    int sv[2];
    if (sp.nkids == sp.cap) {           /* room for it as a kid, before it is handed out */
        size_t cap = sp.cap ? sp.cap * 2 : 16;
        kid *k = realloc(sp.kids, cap * sizeof *k);
        if (k == NULL)
            return ENOMEM;
        sp.kids = k;
        sp.cap = cap;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    /* The namespace is made for the next child only, then this process's own is back for
     * the ones after it. In a user namespace of its own the spawner may not come back (its
     * own PID namespace is not that user namespace's, and the kernel makes a new one only
     * from the one a process runs in): each init is cloned into a new one instead, and
     * none is forked without. */
    bool ns;
    pid_t init;
    if (sp.fresh_ns) {
        init = fork_into_pidns();
        ns = true;
    } else {
        ns = sp.own_ns >= 0 && unshare(CLONE_NEWPID) == 0;
        init = fork();
    }
    int e = errno;
    if (init != 0 && ns && !sp.fresh_ns && setns(sp.own_ns, CLONE_NEWPID) != 0)
        _exit(3);                       /* cannot be: it was ours. Exiting kills them all */
    if (init == 0) {
        close(sv[0]);
        init_main(sv[1], ns);
    }
    close(sv[1]);
    if (init < 0) {
        close(sv[0]);
        return e;
    }
    sp.spare = (kid){ .runtime = -1, .init = init, .sock = sv[0] };
    return 0;
}

/* Fork the next spare and hand the host its socket (SPARE), or say why there is none. */
static void offer_spare(void)
{
    faas__iso_spare m = { FAAS__ISO_SPARE, 0, 0 };
    if (sp.spare.init <= 0)
        m.err = prefork();
    m.init = sp.spare.init;
    struct iovec iov = { &m, sizeof m };
    faas__iso_send(sp.ctl, &iov, 1, m.err == 0 ? sp.spare.sock : -1);
}

/* Kill an init (and so its namespace or group) and reap it; the runtime's wait status, or
 * a SIGKILL's when the init sent none, and in *oom how many of its processes the kernel
 * killed for memory. */
/* Its init's messages on sock, read until the runtime's wait status (its last: a STARTED
 * the host did not read may precede), for at most limit_ms (0: what is there now). True,
 * with *status, if it came. */
static bool read_report(int sock, int *status, int limit_ms)
{
    union { faas__iso_started s; int status; } m;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        ssize_t got = recv(sock, &m, sizeof m, MSG_DONTWAIT);
        if (got == (ssize_t)sizeof m.status) {
            *status = m.status;
            return true;
        }
        if (got > 0)
            continue;
        if (got == 0 || errno != EAGAIN || limit_ms <= 0)
            return false;               /* the init is gone without it, or no wait */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd p = { sock, POLLIN, 0 };
        if (spent >= limit_ms || (poll(&p, 1, (int)(limit_ms - spent)) < 0 && errno != EINTR))
            return false;
    }
}

/* The most an exited runtime's init is given to report how it ended, before it is killed:
 * it does at once (the host saw the runtime go; the init but reaps it). */
#define REPORT_LIMIT_MS 200

/* End an instance: its init and what is left of its group killed and reaped, its cgroups
 * released. exited: the host saw the runtime end (its descriptor 3 closed), so its init is
 * given REPORT_LIMIT_MS to say how before it is killed, lest its report be lost (a host
 * without pidfds, valgrind's: it sees the runtime go before the init has reaped it). The
 * runtime's wait status, or SIGKILL's. */
static int end_init(kid *k, unsigned *oom, bool exited)
{
    int status = SIGKILL;               /* as waitpid says "killed by SIGKILL" */
    bool reported = exited && read_report(k->sock, &status, REPORT_LIMIT_MS);
    kill(-k->init, SIGKILL);
    kill(k->init, SIGKILL);             /* a spare that has not made its group yet */
    while (waitpid(k->init, NULL, 0) < 0 && errno == EINTR)
        ;
    *oom = faas__iso_mem_release(&sp.mem, (int)k->init);   /* its cgroups, empty now */
    faas__iso_pids_release(&sp.pids, (int)k->init);
    if (!reported)
        read_report(k->sock, &status, 0);
    close(k->sock);
    return status;
}

static int end_kid(size_t i, unsigned *oom, bool exited)
{
    kid k = sp.kids[i];
    sp.kids[i] = sp.kids[--sp.nkids];
    return end_init(&k, oom, exited);
}

/* The host used the spare: keep it as the instance of its runtime (or end it: none
 * started), and offer the next. */
static void do_taken(const faas__iso_taken *q)
{
    if (sp.spare.init > 0 && q->init == (int32_t)sp.spare.init) {
        kid k = sp.spare;
        sp.spare.init = 0;
        unsigned oom;
        if (q->runtime > 0 && sp.nkids < sp.cap) {
            k.runtime = q->runtime;
            sp.kids[sp.nkids++] = k;
        } else {
            end_init(&k, &oom, false);
        }
    }
    offer_spare();
}

static void do_reap(const faas__iso_reap *q)
{
    faas__iso_reap r = { FAAS__ISO_REAPED, q->pid, SIGKILL, 0 };
    for (size_t i = 0; i < sp.nkids; i++)
        if (sp.kids[i].runtime == (pid_t)q->pid) {
            r.status = end_kid(i, &r.oom_kills, q->status == FAAS__ISO_REAP_EXITED);
            break;
        }
    struct iovec iov = { &r, sizeof r };
    faas__iso_send(sp.ctl, &iov, 1, -1);
}

int main(int argc, char **argv)
{
    char wire[16];
    snprintf(wire, sizeof wire, "%x", (unsigned)FAAS__ISO_WIRE);
    if (argc != 2 || strcmp(argv[1], wire) != 0) {
        fprintf(stderr, "faas-spawner: the helper of libfaas's process instances; libfaas "
                "starts it, it is not run by hand\n");
        return 2;
    }
    int ctl = FAAS__ISO_CTL_FD;
    int keep[] = { 0, 1, 2, ctl };
    close_all_but(keep, 4);             /* the host's, inherited through exec */
    sp.ctl = ctl;
    sp.self = getpid();
    prctl(PR_SET_NAME, "faas-spawner", 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    sp.buf = malloc(FAAS__ISO_MSG_MAX + 1);
    /* May it make PID namespaces? Tried once: a namespace for no child costs nothing
     * more. Its own is kept open to come back to after each one. */
    char what[200] = "pid namespaces";
    int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own >= 0 && unshare(CLONE_NEWPID) == 0 && setns(own, CLONE_NEWPID) == 0) {
        sp.own_ns = own;
    } else {
        int e = errno;
        if (own >= 0)
            close(own);
        /* Not root: a user namespace of its own, where this user maps to itself, gives it
         * the right (its PID namespaces are that namespace's). The host, its creator's
         * user, keeps every right over it; nothing in it has any over the host. */
        bool broken = false;
        int32_t uns = e == EPERM && geteuid() != 0
                      ? faas__iso_userns(geteuid(), getegid(), &broken) : 0;
        if (broken)
            return 1;                   /* in a namespace without its user: the host goes on
                                           without a spawner, and says so */
        pid_t probe = uns > 0 ? fork_into_pidns() : -1;
        if (probe == 0)
            _exit(0);
        if (probe > 0) {
            while (waitpid(probe, NULL, 0) < 0 && errno == EINTR)
                ;
            sp.fresh_ns = true;
        }
        else if (uns < 0)
            snprintf(what, sizeof what, "no pid namespaces: %s (nor a user namespace: %s)",
                     strerror(e), strerror(-uns));
        else
            snprintf(what, sizeof what, "no pid namespaces: %s", strerror(uns > 0 ? errno : e));
    }
    /* How each instance's pids_max will be kept: set up once (a cgroup of the spawner's
     * own, with a directory per instance), whatever the limit of each. */
    char pids[1024], mem[1024], text[2100];
    faas__iso_pids_setup(&sp.pids, 1, pids, sizeof pids);
    faas__iso_mem_setup(&sp.mem, mem, sizeof mem);
    faas__iso_hello h = { FAAS__ISO_HELLO, sp.buf != NULL ? FAAS_OK : FAAS_ENOMEM,
                          sp.pids.how, sp.mem.on };
    snprintf(text, sizeof text, "\n%s\n%s", pids, mem);
    struct iovec hi[3] = { { &h, sizeof h }, { what, strlen(what) },
                           { text, strlen(text) + 1 } };
    faas__iso_send(ctl, hi, 3, -1);
    if (sp.buf == NULL)
        return 1;
    offer_spare();
    for (;;) {
        union { uint32_t type; faas__iso_taken t; faas__iso_reap r; } m;
        int fd;
        long n = faas__iso_recv(ctl, &m, sizeof m, &fd, true);
        if (n <= 0)
            break;                      /* EOF: the runtime is freed, or the host is gone */
        if (fd >= 0)
            close(fd);
        if (n == (long)sizeof m.t && m.type == FAAS__ISO_TAKEN)
            do_taken(&m.t);
        else if (n == (long)sizeof m.r && m.type == FAAS__ISO_REAP)
            do_reap(&m.r);
    }
    unsigned oom;
    while (sp.nkids > 0)                /* no runtime outlives its host */
        end_kid(0, &oom, false);
    if (sp.spare.init > 0)
        end_init(&sp.spare, &oom, false);
    if (sp.pids.how == FAAS__ISO_PIDS_CGROUP)
        faas__iso_cgroup_remove(sp.pids.dir);
    if (sp.mem.on)
        faas__iso_cgroup_remove(sp.mem.dir);
    free(sp.kids);
    free(sp.buf);
    return 0;
}
