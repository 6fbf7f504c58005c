/*
 * isolate_child.c - process isolation, the far side: the zygote program's loop (load the
 * module and run its INIT once, then fork an instance per request) and an instance's loop
 * (rlimits, seccomp, crash reports, calls served by an inner manual-mode runtime, so the
 * module's faas_ctx is a real one). It runs only in faas-zygote and its forks, never in a
 * host; the host side is isolate.c, the wire isolate.h.
 */
#include "internal.h"

#include "isolate.h"

#if FAAS_HAVE_ISOLATION

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

/* Address-space limits cannot work under AddressSanitizer or ThreadSanitizer: their shadow
 * memory reserves terabytes. Such builds enforce memory_mb through the arena only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define SANITIZED 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
     __has_feature(memory_sanitizer)
#  define SANITIZED 1
# endif
#endif
#ifndef SANITIZED
# define SANITIZED 0
#endif

#define ALTSTACK_SIZE (64 * 1024)

/* The zygote's state, inherited by every instance: one process, one thread, so plain
 * globals (the signal handlers read them too). */
static struct {
    int              ctl;           /* control socket (zygote), -1 in an instance */
    int              chan;          /* an instance's channel to the host */
    faas__iso_config cfg;
    char            *name, *path, *symbol;
    void            *dl;            /* the module */
    faas_handler     handler;       /* its handler symbol */
    faas_runtime    *rt;            /* the inner runtime: manual mode, no thread */
    faas_function   *fn;
    volatile uint64_t *oom;         /* the program's refused-allocation watch, or NULL */
    volatile sig_atomic_t in_handler; /* the module's handler runs: its log lines go out */
    uint64_t         as_base;       /* the zygote's address space after INIT, bytes */
    struct sock_fprog filter;       /* the seccomp profile as BPF, made once */
    unsigned char   *buf;           /* FAAS__ISO_MSG_MAX bytes for incoming messages */
    int              shm_fd;        /* the shared region for large payloads, or -1 */
    unsigned char   *shm;
    size_t           shm_cap;
    rlim_t           cpu_soft, cpu_step;  /* RLIMIT_CPU, seconds */
} z = { .ctl = -1, .chan = -1, .shm_fd = -1 };

/* ---- the seccomp profiles ------------------------------------------------------------ */

/* no-network: what could reach a network or another local service. io_uring is refused
 * too: its operations are not filtered per syscall. */
static const char *const deny_network[] = {
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "io_uring_setup", NULL
};

/* strict: a pure computation. Its channel (read, write, messages), memory (including the
 * shared region of large payloads), signals to report a crash, time, and exit. No open(),
 * no new process, no socket. */
static const char *const allow_strict[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "recvmsg", "sendmsg",
    "recvfrom", "sendto", "close", "fstat", "newfstatat", "lseek",
    "mmap", "munmap", "mremap", "mprotect", "brk", "madvise", "memfd_create", "ftruncate",
    "rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "sigaltstack", "tgkill", "getpid",
    "gettid", "futex", "sched_yield", "clock_gettime", "clock_getres", "clock_nanosleep",
    "nanosleep", "gettimeofday", "time", "getrusage", "getrlimit", "prlimit64",
    "getrandom", "restart_syscall", "exit", "exit_group", NULL
};

static const char *profile_name(int p)
{
    return p == FAAS_SECCOMP_STRICT ? "strict" : p == FAAS_SECCOMP_NO_NETWORK ? "no-network"
                                                                              : "none";
}

/* Compile the profile to BPF once, in the zygote: an instance only loads it (one prctl),
 * so a cold start does not pay libseccomp's generation. */
static int build_filter(char *err, size_t errlen)
{
    int p = z.cfg.seccomp;
    if (p == FAAS_SECCOMP_NONE)
        return FAAS_OK;
    scmp_filter_ctx sc = seccomp_init(p == FAAS_SECCOMP_STRICT ? SCMP_ACT_TRAP
                                                                : SCMP_ACT_ALLOW);
    if (sc == NULL) {
        snprintf(err, errlen, "seccomp_init: out of memory");
        return FAAS_ENOMEM;
    }
    const char *const *list = p == FAAS_SECCOMP_STRICT ? allow_strict : deny_network;
    uint32_t action = p == FAAS_SECCOMP_STRICT ? SCMP_ACT_ALLOW : SCMP_ACT_TRAP;
    int rc = 0;
    for (; *list != NULL && rc == 0; list++) {
        int nr = seccomp_syscall_resolve_name(*list);
        if (nr != __NR_SCMP_ERROR)      /* not on this architecture */
            rc = seccomp_rule_add(sc, action, nr, 0);
    }
    int mfd = rc == 0 ? memfd_create("faas-seccomp", MFD_CLOEXEC) : -1;
    if (mfd >= 0)
        rc = seccomp_export_bpf(sc, mfd);
    seccomp_release(sc);
    off_t size = mfd >= 0 && rc == 0 ? lseek(mfd, 0, SEEK_END) : -1;
    void *prog = size > 0 ? malloc((size_t)size) : NULL;
    if (prog == NULL || pread(mfd, prog, (size_t)size, 0) != size) {
        free(prog);
        if (mfd >= 0)
            close(mfd);
        snprintf(err, errlen, "seccomp profile \"%s\" could not be built (%s)",
                 profile_name(p), rc < 0 ? strerror(-rc) : "export failed");
        return FAAS_ELOAD;
    }
    close(mfd);
    z.filter.len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
    z.filter.filter = prog;
    return FAAS_OK;
}

/* ---- an instance: crash and exit reports --------------------------------------------- */

static uint64_t peak_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;     /* ru_maxrss is in KiB: VmHWM */
}

static uint64_t oom_request(void)
{
    return z.oom != NULL ? *z.oom : 0;
}

/* A fatal signal: tell the host which, then die of it. Only async-signal-safe calls. */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    faas__iso_crash c;
    memset(&c, 0, sizeof c);
    c.type = FAAS__ISO_CRASH;
    c.signo = sig;
    c.code = si->si_code;
    if (sig == SIGSYS) {
        c.syscall = si->si_syscall;
        c.arch = si->si_arch;
    }
    c.peak_bytes = peak_bytes();
    c.oom_request = oom_request();
    send(z.chan, &c, sizeof c, MSG_NOSIGNAL);
    /* SA_RESETHAND restored the default action. A fault would simply happen again on
     * return, but a trapped syscall or SIGXCPU would not: raise it (pending until this
     * handler returns), and exit should it somehow be ignored. */
    raise(sig);
    if (sig == SIGSYS || sig == SIGXCPU)
        syscall(SYS_exit_group, 128 + sig);
}

/* The handler called exit(): say so (the host reports "exit status N"). */
static void on_exit_report(int status, void *arg)
{
    (void)arg;
    faas__iso_exit e;
    memset(&e, 0, sizeof e);
    e.type = FAAS__ISO_EXIT;
    e.status = status;
    e.oom_request = oom_request();
    send(z.chan, &e, sizeof e, MSG_NOSIGNAL);
}

static void catch_fatal_signals(void)
{
    static unsigned char altstack[ALTSTACK_SIZE];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGXCPU,
                                SIGTRAP };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- an instance: limits ------------------------------------------------------------- */

/* Keep RLIMIT_CPU (soft) a whole timeout and a second ahead of the CPU time used so far:
 * a backstop for an instance the host can no longer kill (its host died mid-call). The
 * host's SIGKILL at the deadline comes first. */
static void arm_cpu_limit(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1;
    if (used + z.cpu_step <= z.cpu_soft)
        return;                         /* most calls: nothing to do */
    struct rlimit rl = { used + 2 * z.cpu_step, RLIM_INFINITY };
    if (setrlimit(RLIMIT_CPU, &rl) == 0)
        z.cpu_soft = rl.rlim_cur;
}

static void set_limits(void)
{
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);      /* a crash is reported, not dumped */
    z.cpu_step = (rlim_t)(z.cfg.timeout_ms + 999) / 1000 + 1;
    z.cpu_soft = 0;
    arm_cpu_limit();
    if (!SANITIZED && z.as_base != 0) {
        uint64_t lim = z.as_base + ((uint64_t)z.cfg.memory_mb << 20);
        struct rlimit rl = { (rlim_t)lim, (rlim_t)lim };
        setrlimit(RLIMIT_AS, &rl);
    }
}

/* The process's address-space size now (VmSize), in bytes; 0 if unknown. */
static uint64_t vm_size(void)
{
    char b[64];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0)
        return 0;
    b[n] = '\0';
    return (uint64_t)strtoull(b, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- an instance: the shared region -------------------------------------------------- */

static void shm_drop(void)
{
    if (z.shm != NULL)
        munmap(z.shm, z.shm_cap);
    if (z.shm_fd >= 0)
        close(z.shm_fd);
    z.shm = NULL;
    z.shm_fd = -1;
    z.shm_cap = 0;
}

/* Map fd's cap bytes as the region, in place of the old one; fd is closed on failure. */
static int shm_map(int fd, size_t cap)
{
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return -1;
    }
    shm_drop();
    z.shm_fd = fd;
    z.shm = p;
    z.shm_cap = cap;
    return 0;
}

/* Adopt a region the host sent. */
static int shm_adopt(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return -1;
    }
    return shm_map(fd, (size_t)st.st_size);
}

/* Make a region of at least n bytes (a reply too large for a message); 1 if it is new. */
static int shm_reserve(size_t n)
{
    if (z.shm != NULL && z.shm_cap >= n)
        return 0;
    size_t cap = 1u << 20;
    while (cap < n)
        cap *= 2;
    int fd = memfd_create("faas-reply", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)cap) != 0) {
        close(fd);
        return -1;
    }
    return shm_map(fd, cap) == 0 ? 1 : -1;
}

/* ---- an instance: serving calls ------------------------------------------------------ */

/* The inner runtime's log sink: a line the module's handler logged goes to the host at
 * once (the host's sink and log_tail see it as if the call ran in-process). START, END,
 * REPORT and error lines of the inner runtime stay here: the host makes its own. */
static void inner_log(const char *line, void *arg)
{
    (void)arg;
    if (!z.in_handler)
        return;
    faas__iso_log h = { FAAS__ISO_LOG };
    size_t n = strlen(line);
    if (n > FAAS__ISO_INLINE)
        n = FAAS__ISO_INLINE;
    struct iovec iov[2] = { { &h, sizeof h }, { (void *)line, n } };
    faas__iso_send(z.chan, iov, 2, -1);
}

static int inner_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    z.in_handler = 1;
    int rc = z.handler(ctx, payload, len);
    z.in_handler = 0;
    return rc;
}

static void send_done(const faas_response *res)
{
    faas__iso_done d;
    memset(&d, 0, sizeof d);
    d.type = FAAS__ISO_DONE;
    d.status = res->status;
    d.peak_bytes = peak_bytes();
    d.oom_request = oom_request();
    struct iovec iov[4];
    int n = 1, fd = -1;
    iov[0].iov_base = &d;
    iov[0].iov_len = sizeof d;
    if (res->status != FAAS_OK) {
        const char *type = res->error_type ? res->error_type : "Runtime.Unknown";
        const char *msg = res->error_message ? res->error_message : "";
        d.type_len = (uint32_t)strnlen(type, FAAS__ISO_TEXT);
        d.msg_len = (uint32_t)strnlen(msg, FAAS__ISO_TEXT);
        char *t = (char *)type, *m = (char *)msg;
        /* Cut at the caps: the host reads each up to its NUL. */
        char tb[FAAS__ISO_TEXT + 1], mb[FAAS__ISO_TEXT + 1];
        memcpy(tb, t, d.type_len);
        tb[d.type_len] = '\0';
        memcpy(mb, m, d.msg_len);
        mb[d.msg_len] = '\0';
        iov[1].iov_base = tb;
        iov[1].iov_len = d.type_len + 1u;
        iov[2].iov_base = mb;
        iov[2].iov_len = d.msg_len + 1u;
        faas__iso_send(z.chan, iov, 3, -1);
        return;
    }
    d.len = res->len;
    if (res->len <= FAAS__ISO_INLINE) {
        iov[1].iov_base = res->data;
        iov[1].iov_len = res->len;
        n = 2;
    } else {
        int fresh = shm_reserve(res->len);
        if (fresh < 0) {
            static const char type[] = "Runtime.OutOfMemory";
            static const char msg[] = "no memory for a shared region to return the reply";
            d.status = FAAS_EMEMORY;
            d.len = 0;
            d.type_len = sizeof type - 1;
            d.msg_len = sizeof msg - 1;
            iov[1].iov_base = (void *)type;
            iov[1].iov_len = sizeof type;
            iov[2].iov_base = (void *)msg;
            iov[2].iov_len = sizeof msg;
            faas__iso_send(z.chan, iov, 3, -1);
            return;
        }
        memcpy(z.shm, res->data, res->len);
        d.flags = FAAS__ISO_SHM;
        if (fresh) {
            d.flags |= FAAS__ISO_NEWSHM;
            fd = z.shm_fd;
        }
    }
    faas__iso_send(z.chan, iov, n, fd);
}

static void serve_call(const faas__iso_call *c, long n, int fd)
{
    if (fd >= 0 && shm_adopt(fd) != 0) {
        faas_response res;
        memset(&res, 0, sizeof res);
        res.status = FAAS_EMEMORY;
        res.error_type = "Runtime.OutOfMemory";
        res.error_message = "the payload's shared region could not be mapped";
        send_done(&res);
        return;
    }
    const void *payload = c + 1;
    size_t len = (size_t)n - sizeof *c;
    if (c->flags & FAAS__ISO_SHM) {
        payload = z.shm;
        len = z.shm != NULL && c->len <= z.shm_cap ? (size_t)c->len : 0;
    }
    char rid[37];
    memcpy(rid, c->request_id, sizeof rid);
    rid[36] = '\0';
    if (z.oom != NULL)
        *z.oom = 0;
    faas_response res;
    faas__call(z.fn, payload, len, 1, rid, &res);
    send_done(&res);
    faas_response_free(&res);
    arm_cpu_limit();
}

static void instance_main(int chan)
{
    z.chan = chan;
    signal(SIGCHLD, SIG_DFL);           /* the module may wait for its own children */
    prctl(PR_SET_NAME, "faas-instance", 0, 0, 0);
    catch_fatal_signals();
    on_exit(on_exit_report, NULL);
    set_limits();
    if (z.filter.len != 0 &&
        (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &z.filter) != 0))
        _exit(127);                     /* the host reports an exit without a report */
    for (;;) {
        int fd;
        long n = faas__iso_recv(chan, z.buf, FAAS__ISO_MSG_MAX, &fd, true);
        if (n <= 0)
            break;                      /* EOF: the host retires this instance */
        const faas__iso_call *c = (const void *)z.buf;
        if ((size_t)n >= sizeof *c && c->type == FAAS__ISO_CALL)
            serve_call(c, n, fd);
        else if (fd >= 0)
            close(fd);
    }
    faas_runtime_free(z.rt);            /* the SHUTDOWN hook of this instance's state */
    _exit(0);
}

/* ---- the zygote ---------------------------------------------------------------------- */

/* Close every descriptor above the control socket: the host's, inherited through exec. */
static void close_inherited(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, FAAS__ISO_CTL_FD + 1, ~0u, 0) == 0)
        return;
#endif
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > FAAS__ISO_CTL_FD && fd != self)
            close(fd);
    }
    closedir(d);
}

static void send_hello(int status, const char *msg)
{
    faas__iso_hello h = { FAAS__ISO_HELLO, status };
    struct iovec iov[2] = { { &h, sizeof h }, { (void *)msg, strlen(msg) + 1 } };
    faas__iso_send(z.ctl, iov, 2, -1);
}

/* Load the module and run its INIT once, here, so that every instance starts from it. */
static int load(char *err, size_t errlen)
{
    dlerror();
    /* RTLD_NOW: every symbol is bound once, here, not again by each instance. */
    z.dl = dlopen(z.path, RTLD_NOW | RTLD_LOCAL);
    if (z.dl == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "dlopen(\"%s\"): %s", z.path, why ? why : "unknown error");
        return FAAS_ELOAD;
    }
    dlerror();
    z.handler = (faas_handler)dlsym(z.dl, z.symbol);
    if (z.handler == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "dlsym(\"%s\", \"%s\"): %s", z.path, z.symbol,
                 why ? why : "symbol is NULL");
        return FAAS_ELOAD;
    }
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    o.workers = 1;
    o.max_payload_sync = (size_t)z.cfg.max_reply;
    o.log = inner_log;
    int rc = faas_runtime_new(&z.rt, &o);
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = z.cfg.memory_mb;
    c.timeout_ms = z.cfg.timeout_ms;
    c.keep_alive_ms = UINT_MAX;         /* nothing is reaped: no one runs the timers */
    c.max_retries = 0;
    c.init = (faas_init_fn)dlsym(z.dl, "faas_init");
    c.shutdown = (faas_shutdown_fn)dlsym(z.dl, "faas_shutdown");
    if (rc == FAAS_OK)
        rc = faas_register(z.rt, z.name, inner_handler, &c);
    if (rc == FAAS_OK && (z.fn = faas_lookup(z.rt, z.name)) == NULL)
        rc = FAAS_ENOTFOUND;
    if (rc != FAAS_OK) {
        snprintf(err, errlen, "%s", faas_last_error());
        return FAAS_ELOAD;
    }
    rc = faas_warm(z.rt, z.name, 1);    /* INIT, once */
    if (rc != FAAS_OK) {
        snprintf(err, errlen, "%s", faas_last_error());
        return rc == FAAS_EINIT ? FAAS_EINIT : FAAS_ELOAD;
    }
    rc = build_filter(err, errlen);
    if (rc != FAAS_OK)
        return rc;
    z.buf = malloc(FAAS__ISO_MSG_MAX);
    if (z.buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return FAAS_ENOMEM;
    }
    z.as_base = vm_size();
    return FAAS_OK;
}

static int read_config(void)
{
    long n = faas__iso_recv(z.ctl, z.buf, FAAS__ISO_MSG_MAX, &(int){ -1 }, true);
    if (n < (long)sizeof z.cfg)
        return -1;
    memcpy(&z.cfg, z.buf, sizeof z.cfg);
    size_t need = sizeof z.cfg + z.cfg.name_len + z.cfg.path_len + z.cfg.symbol_len + 3;
    if (z.cfg.type != FAAS__ISO_CONFIG || z.cfg.wire != FAAS__ISO_WIRE || (size_t)n != need)
        return -1;
    char *p = (char *)z.buf + sizeof z.cfg;
    z.name = strdup(p);
    p += z.cfg.name_len + 1;
    z.path = strdup(p);
    p += z.cfg.path_len + 1;
    z.symbol = strdup(p);
    return z.name && z.path && z.symbol ? 0 : -1;
}

/* Fork an instance with a new channel and send the host its end. */
static void spawn_instance(void)
{
    faas__iso_spawn r = { FAAS__ISO_SPAWNED, 0, 0 };
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        r.err = errno;
        struct iovec iov = { &r, sizeof r };
        faas__iso_send(z.ctl, &iov, 1, -1);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(z.ctl);
        z.ctl = -1;
        instance_main(sv[1]);           /* never returns */
    }
    close(sv[1]);
    if (pid < 0)
        r.err = errno;
    else
        r.pid = pid;
    struct iovec iov = { &r, sizeof r };
    faas__iso_send(z.ctl, &iov, 1, pid > 0 ? sv[0] : -1);
    close(sv[0]);
}

int faas__isolate_main(int argc, char **argv, volatile uint64_t *oom_request)
{
    (void)argc;
    (void)argv;
    z.ctl = FAAS__ISO_CTL_FD;
    z.oom = oom_request;
    close_inherited();
    z.buf = malloc(FAAS__ISO_MSG_MAX);
    if (z.buf == NULL || read_config() != 0)
        return 2;                       /* not started by libfaas */
    free(z.buf);
    z.buf = NULL;
    char err[1024] = "";
    int rc = load(err, sizeof err);
    if (rc != FAAS_OK) {
        send_hello(rc, err);
        _exit(1);
    }
    /* Instances are reaped by the kernel: the host learns how one ended from the instance
     * itself (a crash report) or from its channel (EOF). */
    signal(SIGCHLD, SIG_IGN);
    send_hello(FAAS_OK, "");
    for (;;) {
        int fd;
        long n = faas__iso_recv(z.ctl, z.buf, FAAS__ISO_MSG_MAX, &fd, true);
        if (n <= 0)
            break;                      /* EOF: the function is unregistered, or the host
                                           is gone */
        if (fd >= 0)
            close(fd);
        const faas__iso_spawn *s = (const void *)z.buf;
        if ((size_t)n >= sizeof *s && s->type == FAAS__ISO_SPAWN)
            spawn_instance();
    }
    faas_runtime_free(z.rt);            /* the zygote's own INIT state is shut down too */
    _exit(0);
}

#else /* !FAAS_HAVE_ISOLATION */

int faas__isolate_main(int argc, char **argv, volatile uint64_t *oom_request)
{
    (void)argc;
    (void)argv;
    (void)oom_request;
    return 2;                           /* this libfaas has no process isolation */
}

#endif
