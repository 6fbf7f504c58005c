/* mod_hostile.c - test fixture module for the isolation boundary (faas-isolation(7)): one
 * handler, "attack", that does what a hostile or careless module might to the host or to its
 * own sandbox, chosen by the payload's first word (see attack() at the end). Every process it
 * forks ends itself within a minute (alarm), so that a test run against a libfaas that does
 * not contain them leaves nothing behind for long. It speaks the isolation wire (isolate.h)
 * only to forge messages, as a hostile module could. */
#define _GNU_SOURCE 1
#include <faas.h>

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../../libfaas/isolate.h"   /* the wire, to forge messages (private) */
#include "../spoil.h"

int attack(faas_ctx *ctx, const void *payload, size_t len);

#define LIFETIME_S 60       /* every child this module forks is gone after this */

static int replyf(faas_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replyf(faas_ctx *ctx, const char *fmt, ...)
{
    char out[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sizeof out, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof out)
        n = (int)sizeof out - 1;
    return faas_reply(ctx, out, (size_t)n);
}

/* A child that waits to be killed, for at most LIFETIME_S. */
static void linger(void)
{
    alarm(LIFETIME_S);
    for (;;)
        pause();
}

/* One message with an optional descriptor, as isolate.c's faas__iso_send (not exported). */
static void send_msg(int sock, struct iovec *iov, int iovcnt, int fd)
{
    union {
        struct cmsghdr h;
        char           buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    memset(&u, 0, sizeof u);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)iovcnt;
    if (fd >= 0) {
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    sendmsg(sock, &m, MSG_NOSIGNAL);
}

/* The channel to the host: the one socket among the descriptors (fstat() is all the
 * strict profile allows to find it). */
static int find_channel(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            return fd;
    }
    return -1;
}

/* "truncate": the attack of issue 14: every regular file among the descriptors (the shared
 * payload region is one) cut to 0 bytes. */
static int truncate_all(faas_ctx *ctx)
{
    int cut = 0, refused = 0, err = 0;
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (ftruncate(fd, 0) == 0) {
            cut++;
        } else {
            refused++;
            err = errno;
        }
    }
    return replyf(ctx, "cut %d refused %d errno %d", cut, refused, err);
}

/* "forge-region": a reply in a shared region this module made without sealing it, sent as
 * the instance's own DONE message; then exit, so that nothing else follows it. */
static int forge_region(faas_ctx *ctx)
{
    int chan = find_channel();
    int fd = memfd_create("forged", MFD_CLOEXEC);
    if (chan < 0 || fd < 0 || ftruncate(fd, 1 << 20) != 0)
        return faas_fail(ctx, "Setup", "no channel or memfd");
    if (pwrite(fd, "forged reply", 12, 0) != 12)
        return faas_fail(ctx, "Setup", "pwrite");
    faas__iso_done d;
    memset(&d, 0, sizeof d);
    d.type = FAAS__ISO_DONE;
    d.status = FAAS_OK;
    d.flags = FAAS__ISO_SHM | FAAS__ISO_NEWSHM;
    d.len = 12;
    struct iovec iov = { &d, sizeof d };
    send_msg(chan, &iov, 1, fd);
    _exit(0);
}

/* "forge-lengths": a DONE whose error type and message lengths wrap around 32 bits. */
static int forge_lengths(faas_ctx *ctx)
{
    int chan = find_channel();
    if (chan < 0)
        return faas_fail(ctx, "Setup", "no channel");
    faas__iso_done d;
    memset(&d, 0, sizeof d);
    d.type = FAAS__ISO_DONE;
    d.status = FAAS_EHANDLER;
    d.type_len = 0xfffffff0u;
    d.msg_len = 0x20u;
    struct iovec iov[2] = { { &d, sizeof d }, { (void *)"Boom\0msg", 8 } };
    send_msg(chan, iov, 2, -1);
    _exit(0);
}

/* "mem PID": open /proc/PID/mem for writing ("self": this process's), as a debugger does to
 * change a process's memory; /proc is the host's. Replies {"opened":0|1,"errno":E}. */
static int mem_open(faas_ctx *ctx, const char *arg)
{
    char path[64];
    if (strcmp(arg, "self") == 0)
        snprintf(path, sizeof path, "/proc/self/mem");
    else
        snprintf(path, sizeof path, "/proc/%ld/mem", strtol(arg, NULL, 10));
    errno = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    int e = errno;
    if (fd >= 0)
        close(fd);
    return replyf(ctx, "{\"opened\":%d,\"errno\":%d}", fd >= 0, fd >= 0 ? 0 : e);
}

/* "spoil DIR" (the host's journal): unmount what covers DIR, here and in a user and mount
 * namespace of its own; then count what DIR holds, try to add a file and to remove every
 * entry. Replies {"umount":E,"umount_own":E2,"seen":N,"created":0|1,"removed":R,"errno":E3},
 * E and E2 0 when an unmount succeeded (else its errno), E3 the create's errno (or
 * opendir's). */
static int spoil(faas_ctx *ctx, const char *dir)
{
    int u1 = umount2(dir, MNT_DETACH) == 0 ? 0 : errno;
    int u2 = unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ? errno
             : umount2(dir, MNT_DETACH) == 0 ? 0 : errno;
    spoiled r = spoil_dir(dir);
    return replyf(ctx, "{\"umount\":%d,\"umount_own\":%d,\"seen\":%u,\"created\":%d,"
                  "\"removed\":%u,\"errno\":%d}", u1, u2, r.seen, r.created, r.removed, r.err);
}

/* "deface DIR MARKER": try to change the host's files (spoil.h's deface_dir); replies
 * defaced_json(). */
static int deface(faas_ctx *ctx, const char *arg)
{
    char event[4096], *dir, *marker;
    snprintf(event, sizeof event, "%s", arg);
    if (deface_event(event, &dir, &marker) != 0)
        return faas_fail(ctx, "Usage", "deface DIR MARKER");
    defaced d = deface_dir(dir, marker);
    char *json = NULL;
    if (defaced_json(&d, &json) < 0)
        return faas_fail(ctx, "NoMemory", "asprintf");
    int rc = replyf(ctx, "%s", json);
    free(json);
    return rc;
}

/* "signal NAME PID SIG [ADDR]": one system call that acts on process PID ("self": this one). */
static int signal_other(faas_ctx *ctx, const char *arg)
{
    char name[32] = "", target[32] = "";
    long pid, sig = 0;
    unsigned long long addr = 0;
    if (sscanf(arg, "%31s %31s %ld %llx", name, target, &sig, &addr) < 3)
        return faas_fail(ctx, "Usage", "signal NAME PID|self SIG [ADDR]");
    pid = strcmp(target, "self") == 0 ? (long)getpid() : strtol(target, NULL, 10);
    long rc = -1;
    errno = 0;
    if (strcmp(name, "kill") == 0) {
        rc = syscall(SYS_kill, pid, sig);
    } else if (strcmp(name, "kill-wide") == 0) {     /* upper 32 bits set: int pid */
        rc = syscall(SYS_kill, (long)(0xffffffff00000000ull | (uint32_t)pid), sig);
    } else if (strcmp(name, "tkill") == 0) {
        rc = syscall(SYS_tkill, pid, sig);
    } else if (strcmp(name, "tgkill") == 0) {
        rc = syscall(SYS_tgkill, pid, pid, sig);
    } else if (strcmp(name, "sigqueue") == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = (int)sig;
        si.si_code = SI_QUEUE;
        si.si_pid = getpid();
        rc = syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
    } else if (strcmp(name, "tgsigqueue") == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = (int)sig;
        si.si_code = SI_QUEUE;
        si.si_pid = getpid();
        rc = syscall(SYS_rt_tgsigqueueinfo, pid, pid, sig, &si);
    } else if (strcmp(name, "pidfd") == 0) {
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        rc = pfd < 0 ? -2 : syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
    } else if (strcmp(name, "vmwrite") == 0) {        /* 'X' into PID's memory at ADDR */
        char x = 'X';
        struct iovec local = { &x, 1 }, remote = { (void *)(uintptr_t)addr, 1 };
        rc = syscall(SYS_process_vm_writev, pid, &local, 1, &remote, 1, 0);
    } else if (strcmp(name, "ptrace") == 0) {
        rc = syscall(SYS_ptrace, PTRACE_SEIZE, pid, 0, 0);
        if (rc == 0)
            _exit(0);       /* attached: the tracer's exit detaches it again */
    } else if (strcmp(name, "setpgid") == 0) {
        rc = syscall(SYS_setpgid, pid, pid);
    } else if (strcmp(name, "setsid") == 0) {
        rc = syscall(SYS_setsid);
    } else if (strcmp(name, "prlimit") == 0) {        /* sets PID's RLIMIT_CORE unchanged */
        struct rlimit cur;
        rc = syscall(SYS_prlimit64, pid, RLIMIT_CORE, NULL, &cur);
        if (rc == 0)
            rc = syscall(SYS_prlimit64, pid, RLIMIT_CORE, &cur, NULL);
    } else if (strcmp(name, "setowner") == 0) {       /* SIGIO of a pipe to PID */
        int p[2];
        rc = pipe(p);
        if (rc == 0) {
            rc = syscall(SYS_fcntl, p[0], F_SETOWN, pid);
            close(p[0]);
            close(p[1]);
        }
    } else {
        return faas_fail(ctx, "Usage", "unknown system call %s", name);
    }
    return replyf(ctx, "%s rc=%ld errno=%d", name, rc, rc < 0 ? errno : 0);
}

/* "child-kill PID SIG": a child of the instance signals PID. */
static int child_kill(faas_ctx *ctx, const char *arg)
{
    long pid = strtol(arg, NULL, 10);
    const char *sp = strchr(arg, ' ');
    int sig = sp ? atoi(sp + 1) : 0;
    pid_t c = fork();
    if (c < 0)
        return faas_fail(ctx, "Fork", "%s", strerror(errno));
    if (c == 0) {
        int rc = kill((pid_t)pid, sig);
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    if (WIFSIGNALED(st))
        return replyf(ctx, "child signal %d", WTERMSIG(st));
    return replyf(ctx, "child exit %d", WEXITSTATUS(st));
}

/* "kids N [spin|segv|exit]": N children and a grandchild (the first child's, orphaned when
 * the first child exits), each lingering; their pids are logged ("kid P") and replied; then
 * the handler returns, spins, crashes or exits. */
static int kids(faas_ctx *ctx, const char *arg)
{
    int n = atoi(arg);
    const char *then = strchr(arg, ' ') ? strchr(arg, ' ') + 1 : "";
    char out[2048];
    size_t used = 0;
    int p[2];
    if (pipe(p) != 0)
        return faas_fail(ctx, "Pipe", "%s", strerror(errno));
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0)
            return faas_fail(ctx, "Fork", "%s", strerror(errno));
        if (c == 0) {
            if (i == 0) {
                pid_t g = fork();
                if (g == 0)
                    linger();
                if (write(p[1], &g, sizeof g) != sizeof g)
                    _exit(1);
                _exit(0);              /* the grandchild is an orphan now */
            }
            linger();
        }
        if (i == 0) {
            pid_t g = -1;
            if (read(p[0], &g, sizeof g) != sizeof g)
                g = -1;
            waitpid(c, NULL, 0);       /* reaped: only the grandchild remains of it */
            faas_ctx_log(ctx, "kid %d", (int)g);
            used += (size_t)snprintf(out + used, sizeof out - used, "%d ", (int)g);
            continue;
        }
        faas_ctx_log(ctx, "kid %d", (int)c);
        used += (size_t)snprintf(out + used, sizeof out - used, "%d ", (int)c);
    }
    close(p[0]);
    close(p[1]);
    if (strcmp(then, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp(then, "segv") == 0)
        raise(SIGSEGV);
    if (strcmp(then, "exit") == 0)
        exit(4);
    return faas_reply(ctx, out, used);
}

/* "hold N": the channel duplicated where a careless close would not find it, N children
 * forked that keep it open, their pids logged; then spin until killed. */
static int hold(faas_ctx *ctx, const char *arg)
{
    int n = atoi(arg);
    int chan = find_channel();
    if (chan < 0 || dup2(chan, 900) < 0)
        return faas_fail(ctx, "Setup", "no channel");
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0)
            return faas_fail(ctx, "Fork", "%s", strerror(errno));
        if (c == 0)
            linger();
        faas_ctx_log(ctx, "kid %d", (int)c);
    }
    for (volatile unsigned long i = 0;; i++)
        ;
}

/* "bomb N": fork N children, each of which tries to fork one more; reply how many of the
 * first forks worked. Bounded, so that a libfaas without a process limit survives it. */
static int bomb(faas_ctx *ctx, const char *arg)
{
    int n = atoi(arg), made = 0, failed = 0, err = 0;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            if (fork() == 0)
                linger();
            linger();
        }
        if (c > 0) {
            made++;
        } else {
            failed++;
            err = errno;
        }
    }
    return replyf(ctx, "forked %d failed %d errno %d", made, failed, err);
}

static void *burn(void *arg)
{
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return NULL;
}

/* "threads": two threads left spinning after the call returns (until RLIMIT_CPU). */
static int threads(faas_ctx *ctx)
{
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, burn, NULL) != 0)
            return faas_fail(ctx, "Thread", "pthread_create failed");
        pthread_detach(t);
    }
    return replyf(ctx, "{\"pid\":%d}", (int)getpid());
}

/* "nul": is the payload followed by a NUL byte? (Read it: valgrind and ASan check the read.) */
static int nul(faas_ctx *ctx, const void *payload, size_t len)
{
    return replyf(ctx, "%s %zu", ((const char *)payload)[len] == '\0' ? "nul" : "no-nul", len);
}

/* "who PATH": the user the instance runs as, and whether it may read PATH (a file only
 * root may read, say). Replies {"uid":U,"gid":G,"groups":N,"read":0|errno}. */
static int who(faas_ctx *ctx, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int read_err = fd >= 0 ? 0 : errno;
    if (fd >= 0)
        close(fd);
    return replyf(ctx, "{\"uid\":%u,\"gid\":%u,\"groups\":%d,\"read\":%d}",
                  (unsigned)geteuid(), (unsigned)getegid(), getgroups(0, NULL), read_err);
}

/* "env NAME": what the instance has of the variable NAME: getenv()'s value, the
 * context's (faas_ctx_getenv), and whether NAME= is in /proc/self/environ (what it was
 * started with). Replies {"getenv":"V"|null,"ctx":"V"|null,"proc":0|1} (plain values). */
static int env_of(faas_ctx *ctx, const char *name)
{
    const char *g = getenv(name), *c = faas_ctx_getenv(ctx, name);
    char buf[65536], want[256];
    int proc = 0;
    snprintf(want, sizeof want, "%s=", name);
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n > 0)
        buf[n] = '\0';
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        if (strncmp(buf + i, want, strlen(want)) == 0)
            proc = 1;
    return replyf(ctx, "{\"getenv\":%s%s%s,\"ctx\":%s%s%s,\"proc\":%d}",
                  g ? "\"" : "", g ? g : "null", g ? "\"" : "",
                  c ? "\"" : "", c ? c : "null", c ? "\"" : "", proc);
}

/* The first word of the payload picks the attack; its argument follows a space. */
int attack(faas_ctx *ctx, const void *payload, size_t len)
{
    char word[256];
    snprintf(word, sizeof word, "%.*s", (int)(len < 255 ? len : 255), (const char *)payload);
    const char *arg = strchr(word, ' ') ? strchr(word, ' ') + 1 : "";
    size_t w = strcspn(word, " ");
#define IS(s) (w == sizeof(s) - 1 && memcmp(word, s, w) == 0)
    if (IS("truncate"))
        return truncate_all(ctx);
    if (IS("forge-region"))
        return forge_region(ctx);
    if (IS("forge-lengths"))
        return forge_lengths(ctx);
    if (IS("signal"))
        return signal_other(ctx, arg);
    if (IS("mem"))
        return mem_open(ctx, arg);
    if (IS("spoil"))
        return spoil(ctx, arg);
    if (IS("deface"))
        return deface(ctx, arg);
    if (IS("child-kill"))
        return child_kill(ctx, arg);
    if (IS("kids"))
        return kids(ctx, arg);
    if (IS("hold"))
        return hold(ctx, arg);
    if (IS("bomb"))
        return bomb(ctx, arg);
    if (IS("threads"))
        return threads(ctx);
    if (IS("nul") || (len > 3 && memcmp(payload, "nul", 3) == 0))
        return nul(ctx, payload, len);
    if (IS("pid"))
        return replyf(ctx, "{\"pid\":%d}", (int)getpid());
    if (IS("who"))
        return who(ctx, arg);
    if (IS("env"))
        return env_of(ctx, arg);
#undef IS
    return faas_reply(ctx, payload, len);
}
