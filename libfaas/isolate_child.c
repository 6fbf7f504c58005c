/*
 * isolate_child.c - process isolation, the far side: the zygote program's loop (load the
 * module and run its INIT once, then fork an instance per request, and reap each instance's
 * process tree when the host retires it) and an instance's loop (its own process group,
 * rlimits and process limit, seccomp, crash reports, calls served by an inner manual-mode
 * runtime, so the module's faas_ctx is a real one). It runs only in faas-zygote and its
 * forks, never in a host; the host side is isolate.c, the wire isolate.h, the filters
 * isolate_seccomp.c and the process limit isolate_cgroup.c.
 */
#include "internal.h"

#include "isolate.h"

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
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/filter.h>

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
    pid_t            self;          /* an instance's pid: its children do not report */
    volatile sig_atomic_t in_call;  /* an instance has taken a call and not answered it */
    uint32_t         userns_flag;   /* an instance's DONE flags: FAAS__ISO_NOUSERNS (it has
                                       no user namespace of its own), FAAS__ISO_NOTHIDDEN
                                       (its view of the host's files is not read-only) */
    faas__iso_config cfg;
    char            *name, *path, *symbol;
    char            *hide;          /* hidden from instances (the host's journal), or "" */
    char           **env;           /* the function's own environment, NULL-terminated */
    void            *dl;            /* the module */
    faas_handler     handler;       /* its handler symbol */
    faas_runtime    *rt;            /* the inner runtime: manual mode, no thread */
    faas_function   *fn;
    volatile uint64_t *oom;         /* the program's refused-allocation watch, or NULL */
    volatile sig_atomic_t in_handler; /* the module's handler runs: its log lines go out */
    uint64_t         as_base;       /* the zygote's address space after INIT, bytes */
    struct sock_fprog filter;       /* the seccomp profile as BPF, made once */
    faas__iso_pids   pids;          /* how pids_max is kept */
    pid_t           *kids;          /* the zygote's instances not reaped yet */
    size_t           nkids, capkids;
    unsigned char   *buf;           /* FAAS__ISO_MSG_MAX + 1 bytes for incoming messages */
    int              shm_fd;        /* the shared region for large payloads, or -1 */
    unsigned char   *shm;
    size_t           shm_cap;
    rlim_t           cpu_soft, cpu_step;  /* RLIMIT_CPU, seconds */
} z = { .ctl = -1, .chan = -1, .shm_fd = -1 };

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

/* A fatal signal: tell the host which, then die of it. Only async-signal-safe calls. A
 * process the module forked inherits this handler but not the right to report: it only
 * dies. */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (getpid() == z.self) {
        faas__iso_crash c;
        memset(&c, 0, sizeof c);
        c.type = FAAS__ISO_CRASH;
        c.signo = sig;
        c.code = si->si_code;
        if (sig == SIGSYS) {
            c.syscall = si->si_syscall;
            c.arch = si->si_arch;
            c.data = si->si_errno;
        }
        c.idle = !z.in_call;
        c.peak_bytes = peak_bytes();
        c.oom_request = oom_request();
        send(z.chan, &c, sizeof c, MSG_NOSIGNAL);
    }
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
    if (getpid() != z.self)
        return;                         /* a process the module forked */
    faas__iso_exit e;
    memset(&e, 0, sizeof e);
    e.type = FAAS__ISO_EXIT;
    e.status = status;
    e.idle = !z.in_call;
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

/* Make a region of at least n bytes (a reply too large for a message); 1 if it is new. It
 * is sealed against resizing before the host gets it: the host checks that it is. */
static int shm_reserve(size_t n)
{
    if (z.shm != NULL && z.shm_cap >= n)
        return 0;
    size_t cap = 1u << 20;
    while (cap < n)
        cap *= 2;
    int fd = memfd_create("faas-reply", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)cap) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
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
    d.flags = z.userns_flag;
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
        d.flags |= FAAS__ISO_SHM;
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
    /* The payload is followed by a NUL byte, as every handler's is: z.buf has room for
     * it, and the host makes a region at least a byte larger than what it puts there. */
    unsigned char *payload = (unsigned char *)(c + 1);
    size_t len = (size_t)n - sizeof *c;
    if (c->flags & FAAS__ISO_SHM) {
        payload = z.shm;
        len = z.shm != NULL && c->len < z.shm_cap ? (size_t)c->len : 0;
        if (payload == NULL)
            payload = z.buf + n;        /* no region: an empty payload */
    }
    payload[len] = '\0';
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

/* A process the module forks (with fork(), not a raw clone) does not keep the channel:
 * were the instance to die while idle, the host would still see it close (and know that a
 * call it then sends was never taken). */
static void forked_by_module(void)
{
    if (z.chan >= 0)
        close(z.chan);
    z.chan = -1;
}

/* A root host's instance that is to run as another user (faas_config.user; "nobody" by
 * default): its view of the host's files made while it is still root (in the host's user
 * namespace: nothing to gain first), then that user, then a user namespace of its own, as
 * a process runtime's init does (process_spawner.c). As that user it reads only what the
 * user may (not root's files: /etc/shadow, keys), and it has no right over the view's
 * mount namespace, which the host's user namespace owns. Sets *hidden: the view made.
 * *host_proc: its /proc is the host's (no new one could be mounted). Returns whether it
 * has a user namespace of its own. */
static bool become(bool *hidden, bool *host_proc)
{
    int step = 0;
    int32_t view = faas__iso_view(z.hide, NULL, 0, 0, false, FAAS__ISO_PROC_TRACEABLE, &step);
    if (faas__iso_view_fatal(view, step))
        _exit(125);                     /* a view half made: the host reports the exit */
    *hidden = view > 0;
    *host_proc = view == 1;
    if (setgroups(0, NULL) != 0 || setgid((gid_t)z.cfg.gid) != 0 ||
        setuid((uid_t)z.cfg.uid) != 0)
        _exit(125);                     /* never root by mistake: the host reports it */
    /* A change of user made the process not dumpable: its /proc/self files are root's,
     * so it could neither write its own uid_map nor open its own /proc/self/fd, environ
     * or mem. Dumpable again, as a process started as that user is: its user namespace
     * keeps other processes of that user (a process function's runtime, another
     * instance) from tracing it or opening its memory. Where none can be made, they may,
     * as the host warns (FAAS__ISO_NOUSERNS). */
    bool broken;
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    bool own = faas__iso_userns((uid_t)z.cfg.uid, (gid_t)z.cfg.gid, &broken) > 0;
    if (broken)
        _exit(125);                     /* a namespace without its user */
    return own;
}

static void instance_main(int chan)
{
    z.chan = chan;
    z.self = getpid();
    /* Its own process group, which nothing it forks can leave (the filter refuses setpgid()
     * and setsid()): the host and the zygote kill the instance's whole tree through it. */
    setpgid(0, 0);
    signal(SIGCHLD, SIG_DFL);           /* the module may wait for its own children */
    prctl(PR_SET_NAME, "faas-instance", 0, 0, 0);
    catch_fatal_signals();
    /* The OOM killer's first choice, never the host (what it forks inherits it). */
    faas__iso_put("/proc/self", "oom_score_adj", "1000");
    on_exit(on_exit_report, NULL);
    pthread_atfork(NULL, NULL, forked_by_module);
    if (faas__iso_pids_join(&z.pids, (int)getpid()) != 0)
        _exit(126);                     /* no process limit: the host reports the exit */
    set_limits();
    bool own, hidden, broken, host_proc = false;
    if (z.cfg.uid >= 0) {
        own = become(&hidden, &host_proc);
    } else {
        /* A user namespace of its own, its user mapped to itself, before the filter
         * (which refuses unshare()): /proc is the host's, and without it the instance
         * could open the host's memory (/proc/PID/mem) or another instance's, as any
         * process of its user can. */
        own = faas__iso_userns(geteuid(), getegid(), &broken) > 0;
        if (broken)
            _exit(125);                 /* a namespace without its user: the host reports
                                           the exit */
        /* The host's files read-only, a /tmp of its own, the journal hidden: a mount
         * namespace that this user namespace has the right to make, then a second user
         * namespace below it, which has no right over that mount namespace (the instance
         * cannot unmount or remount what it sees). The module is loaded already: nothing
         * of its own to keep. */
        int step = 0;
        int32_t view = own ? faas__iso_view(z.hide, NULL, 0, 0, geteuid() == 0,
                                            FAAS__ISO_PROC_HOST, &step)
                           : -EPERM;
        if (faas__iso_view_fatal(view, step))
            _exit(125);                 /* a view half made: the host reports the exit */
        hidden = view > 0;
        if (own && faas__iso_userns(geteuid(), getegid(), &broken) <= 0)
            hidden = false;
        if (broken)
            _exit(125);
    }
    /* Said with every answer: the host warns once. */
    z.userns_flag = (own ? 0u : FAAS__ISO_NOUSERNS) | (hidden ? 0u : FAAS__ISO_NOTHIDDEN) |
                    (hidden && host_proc ? FAAS__ISO_HOSTPROC : 0u);
    if (faas__iso_filters_load(&z.filter, (int)z.self) != 0)
        _exit(127);                     /* the host reports an exit without a report */
    for (;;) {
        int fd;
        long n = faas__iso_recv(chan, z.buf, FAAS__ISO_MSG_MAX, &fd, true);
        if (n <= 0)
            break;                      /* EOF: the host retires this instance */
        const faas__iso_call *c = (const void *)z.buf;
        if ((size_t)n >= sizeof *c && c->type == FAAS__ISO_CALL) {
            z.in_call = 1;              /* from here, the call may have started */
            serve_call(c, n, fd);
            z.in_call = 0;
        } else if (fd >= 0) {
            close(fd);
        }
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
    faas__iso_hello h = { FAAS__ISO_HELLO, status, z.pids.how, 0 };
    struct iovec iov[2] = { { &h, sizeof h }, { (void *)msg, strlen(msg) + 1 } };
    faas__iso_send(z.ctl, iov, 2, -1);
}

/* The function's own variables in the zygote's environment, which its instances inherit:
 * a module's constructors, INIT and handler read them with getenv(), as a process
 * runtime's do (the handler also through faas_ctx_getenv()). The rest of the zygote's
 * environment is the few of the host's that faas__helper_start() passes. */
static int put_environment(char *err, size_t errlen)
{
    for (char **e = z.env; *e != NULL; e++) {
        char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;                   /* the host checked: NAME=value */
        *eq = '\0';
        int rc = setenv(*e, eq + 1, 1);
        *eq = '=';
        if (rc != 0) {
            snprintf(err, errlen, "setenv(\"%.80s\"): %s", *e, strerror(errno));
            return FAAS_ELOAD;
        }
    }
    return FAAS_OK;
}

/* Load the module and run its INIT once, here, so that every instance starts from it. */
static int load(char *err, size_t errlen)
{
    int env_rc = put_environment(err, errlen);
    if (env_rc != FAAS_OK)
        return env_rc;
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
    c.environment = (const char *const *)z.env;
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
    rc = faas__iso_profile_build(z.cfg.seccomp, &z.filter, err, errlen);
    if (rc != FAAS_OK)
        return rc;
    z.buf = malloc(FAAS__ISO_MSG_MAX + 1);
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
    size_t need = sizeof z.cfg + (size_t)z.cfg.name_len + z.cfg.path_len + z.cfg.symbol_len +
                  z.cfg.hide_len + 4 + z.cfg.env_len;
    if (z.cfg.type != FAAS__ISO_CONFIG || z.cfg.wire != FAAS__ISO_WIRE || (size_t)n != need)
        return -1;
    char *p = (char *)z.buf + sizeof z.cfg;
    const uint32_t lens[4] = { z.cfg.name_len, z.cfg.path_len, z.cfg.symbol_len,
                               z.cfg.hide_len };
    char **strs[4] = { &z.name, &z.path, &z.symbol, &z.hide };
    for (int i = 0; i < 4; i++) {       /* each ends where its length says */
        if (p[lens[i]] != '\0' || strlen(p) != lens[i])
            return -1;
        *strs[i] = strdup(p);
        p += lens[i] + 1;
    }
    /* The environment's entries, each NUL-terminated (the last byte a NUL). */
    const char *env = p, *end = p + z.cfg.env_len;
    if (z.cfg.env_len > 0 && end[-1] != '\0')
        return -1;
    size_t count = 0;
    for (const char *e = env; e < end; e += strlen(e) + 1)
        count++;
    if ((z.env = calloc(count + 1, sizeof *z.env)) == NULL)
        return -1;
    size_t i = 0;
    for (const char *e = env; e < end; e += strlen(e) + 1)
        if ((z.env[i++] = strdup(e)) == NULL)
            return -1;
    return z.name && z.path && z.symbol && z.hide ? 0 : -1;
}

/* ---- the zygote: instances and their process trees ---------------------------------- */

/* Every instance is the zygote's child and leads its own process group; the zygote is the
 * child subreaper of them all, so that whatever an instance forks and orphans stays below
 * it, in the instance's group (which no descendant can leave). An instance is not reaped
 * until the host retires it (REAP): its pid, the group's id, cannot be reused while the host
 * may still signal the group. */

static volatile sig_atomic_t child_exited;

static void on_sigchld(int sig)
{
    (void)sig;                          /* and interrupts recvmsg(): see reap_orphans() */
    child_exited = 1;
}

static int remember(pid_t pid)
{
    if (z.nkids == z.capkids) {
        size_t cap = z.capkids ? z.capkids * 2 : 16;
        pid_t *k = realloc(z.kids, cap * sizeof *k);
        if (k == NULL)
            return -1;
        z.kids = k;
        z.capkids = cap;
    }
    z.kids[z.nkids++] = pid;
    return 0;
}

/* Reap the exited processes of the live instances' groups that came to the zygote (their
 * parent died first), but not an instance itself: that waits for REAP. Only after a
 * SIGCHLD: a look costs a system call per instance. */
static void reap_orphans(void)
{
    if (!child_exited)
        return;
    child_exited = 0;
    for (size_t i = 0; i < z.nkids; i++) {
        for (;;) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PGID, (id_t)z.kids[i], &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
                si.si_pid == 0 || si.si_pid == z.kids[i])
                break;
            waitpid(si.si_pid, NULL, 0);
        }
    }
}

/* Kill the instance's process group and reap every process of it. They all end below the
 * zygote (or are reaped by one of them), so waitid() reports no child of the group left
 * (ECHILD) exactly when none is alive. */
static void reap_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    siginfo_t si;
    while (waitid(P_PGID, (id_t)pid, &si, WEXITED) == 0 || errno == EINTR)
        ;
    faas__iso_pids_release(&z.pids, (int)pid);
}

/* REAP: the host retired the instance pid. */
static void reap_instance(pid_t pid)
{
    for (size_t i = 0; i < z.nkids; i++) {
        if (z.kids[i] == pid) {
            z.kids[i] = z.kids[--z.nkids];
            reap_group(pid);
            break;
        }
    }
    faas__iso_reap r = { FAAS__ISO_REAPED, (int32_t)pid, 0, 0 };
    struct iovec iov = { &r, sizeof r };
    faas__iso_send(z.ctl, &iov, 1, -1);
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
    /* Remembered first (a place for its pid), so that no instance can go untracked. */
    pid_t pid = remember(0) == 0 ? fork() : (errno = ENOMEM, -1);
    int err = errno;
    if (pid == 0) {
        close(sv[0]);
        close(z.ctl);
        z.ctl = -1;
        instance_main(sv[1]);           /* never returns */
    }
    close(sv[1]);
    if (pid < 0) {
        r.err = err;
        if (z.nkids > 0 && z.kids[z.nkids - 1] == 0)
            z.nkids--;
    } else {
        r.pid = pid;
        z.kids[z.nkids - 1] = pid;
        setpgid(pid, pid);              /* the child does too: whichever runs first */
    }
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
    /* The instances' process trees: see reap_orphans(). SIGCHLD interrupts the wait for
     * the host's next message (no SA_RESTART). */
    char what[1200];
    faas__iso_pids_setup(&z.pids, z.cfg.pids_max, what, sizeof what);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    send_hello(FAAS_OK, what);
    for (;;) {
        int fd;
        long n = faas__iso_recv(z.ctl, z.buf, FAAS__ISO_MSG_MAX, &fd, false);
        if (n < 0 && errno == EINTR) {
            reap_orphans();
            continue;
        }
        if (n <= 0)
            break;                      /* EOF: the function is unregistered, or the host
                                           is gone */
        if (fd >= 0)
            close(fd);
        const faas__iso_spawn *s = (const void *)z.buf;
        const faas__iso_reap *r = (const void *)z.buf;
        if ((size_t)n >= sizeof *s && s->type == FAAS__ISO_SPAWN)
            spawn_instance();
        else if ((size_t)n >= sizeof *r && r->type == FAAS__ISO_REAP)
            reap_instance((pid_t)r->pid);
        reap_orphans();
    }
    /* The host is done with this function, or gone (killed, exited without freeing its
     * runtime): no instance outlives it. */
    for (size_t i = 0; i < z.nkids; i++)
        kill(-z.kids[i], SIGKILL);
    for (size_t i = 0; i < z.nkids; i++)
        reap_group(z.kids[i]);
    if (z.pids.how == FAAS__ISO_PIDS_CGROUP)
        rmdir(z.pids.dir);
    faas_runtime_free(z.rt);            /* the zygote's own INIT state is shut down too */
    _exit(0);
}
