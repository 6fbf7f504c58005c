/*
 * isolate.c - optional process isolation, the host side: one zygote per isolated function
 * (faas-zygote, started with posix_spawn: it loads the module and runs INIT once), an
 * instance forked from it for each new instance, calls over the instance's socketpair with
 * a SIGKILL of its whole process group at the deadline, its tree reaped by the zygote when
 * it is retired, and crashes, kills and refused allocations turned into the core's statuses.
 * Nothing the instance sends is trusted: lengths are checked against what arrived, shared
 * regions against their seals and size. The core reaches it only through faas__isolation
 * (internal.h); it never touches the pool or the records itself. The far side is
 * isolate_child.c, the wire isolate.h.
 */
#include "internal.h"

#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/magic.h>
#include <seccomp.h>

#ifndef FAAS_ZYGOTE_PATH
# define FAAS_ZYGOTE_PATH "faas-zygote"
#endif

#define START_LIMIT_MS    10000   /* load + INIT in the zygote: Lambda's INIT limit */
#define SPAWN_LIMIT_MS    10000   /* a fork in the zygote */
#define SHUTDOWN_LIMIT_MS 2000    /* an instance's SHUTDOWN hook: Lambda's 2 s cap */
#define REAP_LIMIT_MS     5000    /* the zygote kills and reaps an instance's tree */

/* fn->iso: the function's zygote. */
typedef struct iso_fn {
    pthread_mutex_t lock;         /* protects the rest: one round trip at a time */
    pid_t           pid;          /* 0 when no zygote runs */
    int             ctl;          /* its control socket, -1 when none */
    unsigned        gen;          /* which zygote: one more at each start */
    char           *cgroup;       /* its pids cgroup directory, or NULL */
    char           *warning;      /* to log once the lock is dropped, or NULL */
    atomic_bool     userns_said;  /* the log said instances have no user namespace */
    atomic_bool     hidden_said;  /* ... that they do not see its files read-only */
    atomic_bool     proc_said;    /* ... that they see its /proc */
} iso_fn;

/* inst->state of an isolated instance: used by one call at a time (the slot's owner). */
typedef struct iso_inst {
    faas_function *fn;
    pid_t          pid;           /* the instance, and its process group */
    unsigned       zgen;          /* the zygote that forked it (iso_fn.gen) */
    int            pidfd;         /* the instance's pidfd (its exit), or -1 */
    int            fd;            /* the channel */
    bool           eof;           /* the channel reached EOF: no process holds it */
    bool           doomed;        /* crashed, killed or exiting: never given a call again */
    bool           rcvtimeo;      /* the channel's SO_RCVTIMEO is the function's timeout */
    int            shm_fd;        /* the shared region for large payloads, or -1 */
    unsigned char *shm;
    size_t         shm_cap;
    unsigned char *buf;           /* FAAS__ISO_MSG_MAX bytes for incoming messages */
} iso_inst;

#define MS_NS(ms) ((uint64_t)(ms) * 1000000u)

/* ---- the zygote ---------------------------------------------------------------------- */

static const char *zygote_path(void)
{
    const char *p = getenv("FAAS_ZYGOTE");      /* the build tree's, for tests */
    return p != NULL && p[0] != '\0' ? p : FAAS_ZYGOTE_PATH;
}

/* Requires z->lock. Stop the zygote: EOF on its control socket makes it shut its INIT
 * state down and exit; one that does not within the limit is killed. Reaped either way. */
static void zygote_stop(iso_fn *z, bool kill_now)
{
    if (z->pid <= 0)
        return;
    faas__helper_stop(z->pid, z->ctl, kill_now);
    z->ctl = -1;
    z->pid = 0;
    if (z->cgroup != NULL)              /* a zygote that exited cleanly removed it */
        faas__iso_cgroup_remove(z->cgroup);
    free(z->cgroup);
    z->cgroup = NULL;
}

/* Requires z->lock. Start the function's zygote and wait for its HELLO (loaded and
 * initialised). */
static int zygote_start(faas_function *fn, iso_fn *z, char *err, size_t errlen)
{
    faas__iso_config c;
    memset(&c, 0, sizeof c);
    c.type = FAAS__ISO_CONFIG;
    c.wire = FAAS__ISO_WIRE;
    c.memory_mb = fn->cfg.memory_mb;
    c.timeout_ms = fn->cfg.timeout_ms;
    c.seccomp = fn->cfg.seccomp;
    c.max_reply = fn->rt->opts.max_payload_sync;
    c.pids_max = fn->cfg.pids_max;
    c.uid = fn->run_uid;
    c.gid = fn->run_gid;
    const char *name = fn->name->name, *mpath = fn->mod->path, *sym = fn->symbol;
    const char *hide = fn->rt->journal ? faas__journal_path(fn->rt->journal) : NULL;
    if (hide == NULL)
        hide = "";
    c.name_len = (uint32_t)strlen(name);
    c.path_len = (uint32_t)strlen(mpath);
    c.symbol_len = (uint32_t)strlen(sym);
    c.hide_len = (uint32_t)strlen(hide);
    /* The function's own environment: the instances' (faas_ctx_getenv, getenv). */
    size_t env_len = 0;
    for (char **e = fn->env; e != NULL && *e != NULL; e++)
        env_len += strlen(*e) + 1;
    size_t total = sizeof c + c.name_len + c.path_len + c.symbol_len + c.hide_len + 4 +
                   env_len;
    if (total > FAAS__ISO_MSG_MAX) {
        snprintf(err, errlen, "module path and environment too long (%zu bytes, at most "
                 "%u): %.80s...", total, FAAS__ISO_MSG_MAX, mpath);
        return FAAS_ELOAD;
    }
    char *env = malloc(env_len + 1);
    if (env == NULL) {
        snprintf(err, errlen, "out of memory");
        return FAAS_ENOMEM;
    }
    char *at = env;
    for (char **e = fn->env; e != NULL && *e != NULL; e++)
        at = stpcpy(at, *e) + 1;
    c.env_len = (uint32_t)env_len;
    struct iovec iov[6] = { { &c, sizeof c },
                            { (void *)name, c.name_len + 1u },
                            { (void *)mpath, c.path_len + 1u },
                            { (void *)sym, c.symbol_len + 1u },
                            { (void *)hide, c.hide_len + 1u },
                            { env, env_len } };
    char buf[sizeof(faas__iso_hello) + 1300];
    long n;
    int pid, ctl;
    char *argv[] = { (char *)"faas-zygote", (char *)name, NULL };
    int rc = faas__helper_start(zygote_path(), argv, iov, 6, START_LIMIT_MS, &pid, &ctl, buf,
                                sizeof buf, &n, err, errlen);
    free(env);
    if (rc != FAAS_OK)
        return rc;
    z->pid = pid;
    z->ctl = ctl;
    z->gen++;
    faas__iso_hello h;
    memcpy(&h, buf, sizeof h);
    if (h.status != FAAS_OK) {
        snprintf(err, errlen, "%s", buf + sizeof h);
        zygote_stop(z, true);
        return h.status == FAAS_EINIT ? FAAS_EINIT : FAAS_ELOAD;
    }
    /* How pids_max is kept: in a cgroup (its directory follows), or not at all (why). */
    const char *what = buf + sizeof h;
    if (h.pids == FAAS__ISO_PIDS_CGROUP && strncmp(what, "cgroup v", 8) == 0 &&
        strchr(what, '/') != NULL)
        z->cgroup = strdup(strchr(what, '/'));
    if (h.pids == FAAS__ISO_PIDS_NONE) {
        size_t len = strlen(name) + strlen(what) + 64;
        free(z->warning);
        if ((z->warning = malloc(len)) != NULL)
            snprintf(z->warning, len, "WARNING %s: pids_max is not enforced: %s", name, what);
    }
    return FAAS_OK;
}

/* One SPAWN round trip; FAAS_OK, or -1 if the zygote is gone, or a status. */
static int zygote_spawn(iso_fn *z, pid_t *pid, int *chan, char *err, size_t errlen)
{
    faas__iso_spawn s = { FAAS__ISO_SPAWN, 0, 0 };
    struct iovec iov = { &s, sizeof s };
    if (faas__iso_send(z->ctl, &iov, 1, -1) != 0)
        return -1;
    int fd = -1;
    long n = -1;
    if (faas__helper_wait(z->ctl, faas__sys_mono_ns() + MS_NS(SPAWN_LIMIT_MS)) == 1)
        n = faas__iso_recv(z->ctl, &s, sizeof s, &fd, true);
    if (n != (long)sizeof s || s.type != FAAS__ISO_SPAWNED) {
        if (fd >= 0)
            faas__iso_close_fd(fd);
        return -1;
    }
    if (s.err != 0 || fd < 0) {
        if (fd >= 0)
            faas__iso_close_fd(fd);
        snprintf(err, errlen, "fork() in the zygote: %s", strerror(s.err ? s.err : EPROTO));
        return FAAS_ENOMEM;
    }
    *pid = s.pid;
    *chan = fd;
    return FAAS_OK;
}

/* A new instance process: forked from the zygote, which is (re)started when it is not
 * running, or found dead (killed from outside). */
static int instance_fork(faas_function *fn, pid_t *pid, unsigned *gen, int *chan, char *err,
                         size_t errlen)
{
    iso_fn *z = fn->iso;
    int rc = -1;
    pthread_mutex_lock(&z->lock);
    for (int tries = 0; tries < 2 && rc == -1; tries++) {
        if (z->pid <= 0) {
            rc = zygote_start(fn, z, err, errlen);
            if (rc != FAAS_OK)
                break;
        }
        rc = zygote_spawn(z, pid, chan, err, errlen);
        if (rc == -1)
            zygote_stop(z, true);       /* it died: reap it, start another */
    }
    *gen = z->gen;
    char *warning = z->warning;
    z->warning = NULL;
    pthread_mutex_unlock(&z->lock);
    if (warning != NULL) {              /* the sink is user code: never under the lock */
        faas__log_line(fn->rt, warning);
        free(warning);
    }
    if (rc == -1) {
        snprintf(err, errlen, "the zygote of %s stopped answering", fn->name->name);
        rc = FAAS_ELOAD;
    }
    return rc;
}

/* ---- the shared region --------------------------------------------------------------- */

static void shm_drop(iso_inst *ii)
{
    if (ii->shm != NULL)
        munmap(ii->shm, ii->shm_cap);
    if (ii->shm_fd >= 0)
        close(ii->shm_fd);
    ii->shm = NULL;
    ii->shm_fd = -1;
    ii->shm_cap = 0;
}

static int shm_map(iso_inst *ii, int fd, size_t cap)
{
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        faas__iso_close_fd(fd);
        return -1;
    }
    shm_drop(ii);
    ii->shm_fd = fd;
    ii->shm = p;
    ii->shm_cap = cap;
    return 0;
}

/* A region of at least n bytes for a payload; 1 if it is new (its fd goes along). Sealed
 * against resizing (and further seals) before the instance can see it: an ftruncate() of
 * the instance's cannot take pages from under the host's copy (a SIGBUS in the host). */
static int shm_reserve(iso_inst *ii, size_t n)
{
    if (ii->shm != NULL && ii->shm_cap >= n)
        return 0;
    size_t cap = 1u << 20;
    while (cap < n)
        cap *= 2;
    int fd = memfd_create("faas-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)cap) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        faas__iso_close_fd(fd);
        return -1;
    }
    return shm_map(ii, fd, cap) == 0 ? 1 : -1;
}

/* The largest region an instance may hand the host: what a reply of max_payload_sync bytes
 * takes (the instance's regions are powers of two from 1 MiB). */
static size_t region_limit(const faas_runtime *rt)
{
    size_t cap = 1u << 20;
    while (cap < rt->opts.max_payload_sync && cap < SIZE_MAX / 2)
        cap *= 2;
    return cap;
}

/* Adopt the instance's region (a reply too large for a message), once it is known to be a
 * memfd of shared memory (not a file, not huge pages that might not be there when touched)
 * sealed against resizing and against more seals, and not too large: then no size it had
 * when checked can change. NULL (fd is ii's region now), or why not (fd is closed). */
static const char *shm_adopt(iso_inst *ii, int fd)
{
    const unsigned need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
#ifdef F_SEAL_FUTURE_WRITE
    const unsigned unwritable = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
#else
    const unsigned unwritable = F_SEAL_WRITE;
#endif
    struct stat st;
    struct statfs sf;
    int seals;
    const char *why = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fstatfs(fd, &sf) != 0 ||
        sf.f_type != TMPFS_MAGIC)
        why = "is not a memfd";
    else if ((seals = fcntl(fd, F_GET_SEALS)) < 0 || ((unsigned)seals & need) != need)
        why = "is not sealed against resizing";
    else if ((unsigned)seals & unwritable)
        why = "is sealed against writing";
    else if (st.st_size <= 0 || (uint64_t)st.st_size > region_limit(ii->fn->rt))
        why = "has a size out of bounds";
    if (why != NULL) {
        faas__iso_close_fd(fd);
        return why;
    }
    return shm_map(ii, fd, (size_t)st.st_size) == 0 ? NULL : "could not be mapped";
}

/* ---- outcomes ------------------------------------------------------------------------ */

/* Replace the ctx's error block with "type\0message\0" (the form faas__run expects):
 * the call ends FAAS_ECRASHED, or (crashed false) FAAS_EMEMORY. */
static void set_error(faas_ctx *ctx, bool crashed, const char *type, const char *fmt, ...)
    FAAS_PRINTF(4, 5);
static void set_error(faas_ctx *ctx, bool crashed, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t tl = strlen(type), ml = strlen(msg);
    char *b = malloc(tl + ml + 2);
    if (b != NULL) {
        memcpy(b, type, tl + 1);
        memcpy(b + tl + 1, msg, ml + 1);
        free(ctx->err);
        ctx->err = b;
    }
    ctx->oom = true;
    ctx->crashed = crashed;
}

static const char *signal_words(int sig)
{
    switch (sig) {
    case SIGSEGV: return "segmentation fault";
    case SIGBUS:  return "bus error";
    case SIGFPE:  return "floating point exception";
    case SIGILL:  return "illegal instruction";
    case SIGABRT: return "aborted";
    case SIGSYS:  return "bad system call";
    case SIGXCPU: return "CPU time limit exceeded";
    case SIGTRAP: return "trace/breakpoint trap";
    case SIGKILL: return "killed";
    default:      return "fatal signal";
    }
}

static const char *signal_abbrev(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS:  return "SIGBUS";
    case SIGFPE:  return "SIGFPE";
    case SIGILL:  return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGSYS:  return "SIGSYS";
    case SIGXCPU: return "SIGXCPU";
    case SIGTRAP: return "SIGTRAP";
    case SIGKILL: return "SIGKILL";
    default:      return "?";
    }
}

static const char *profile_name(int p)
{
    return p == FAAS_SECCOMP_STRICT ? "strict" : p == FAAS_SECCOMP_NO_NETWORK ? "no-network"
                                                                              : "none";
}

/* An allocation the kernel refused (RLIMIT_AS) decides the call, whatever followed it. */
static void out_of_memory(faas_ctx *ctx, uint64_t asked, const char *then)
{
    set_error(ctx, false, "Runtime.OutOfMemory",
              "an allocation of %llu bytes failed: past the function's memory limit of %u MB"
              "%s%s", (unsigned long long)asked, ctx->fn->cfg.memory_mb,
              then[0] ? ", then " : "", then);
}

static void crashed(faas_ctx *ctx, iso_inst *ii, const faas__iso_crash *c)
{
    ctx->inst->arena.used = c->peak_bytes;
    char sig[160];
    snprintf(sig, sizeof sig, "signal: %s (%s)", signal_words(c->signo),
             signal_abbrev(c->signo));
    if (c->oom_request != 0) {
        out_of_memory(ctx, c->oom_request, sig);
    } else if (c->signo == SIGXCPU) {
        ctx->deadline_ns = 0;           /* RLIMIT_CPU: a timeout (see internal.h) */
    } else if (c->signo == SIGSYS && c->code == 1 /* SYS_SECCOMP */) {
        char *name = seccomp_syscall_resolve_num_arch(c->arch, c->syscall);
        if (c->data == FAAS__ISO_CONTAINED)
            set_error(ctx, true, "Runtime.ExitError",
                      "%s: %s() (syscall %d) is not allowed here: an isolated instance may "
                      "signal, trace or change only its own processes, and not leave its "
                      "process group (any seccomp profile)", sig, name ? name : "?",
                      c->syscall);
        else
            set_error(ctx, true, "Runtime.ExitError",
                      "%s: %s() (syscall %d) is not allowed by the seccomp profile \"%s\"",
                      sig, name ? name : "?", c->syscall, profile_name(ii->fn->cfg.seccomp));
        free(name);
    } else {
        set_error(ctx, true, "Runtime.ExitError", "%s", sig);
    }
}

/* Log "WARNING FUNCTION: what" the first time only (*said). */
static void say_once(faas_function *fn, atomic_bool *said, const char *what)
{
    if (atomic_exchange_explicit(said, true, memory_order_relaxed))
        return;
    char line[300];
    snprintf(line, sizeof line, "WARNING %s: %s", fn->name->name, what);
    faas__log_line(fn->rt, line);
}

/* The call ended; reproduce its outcome on the host's ctx. Every length in the message is
 * the instance's word: it is checked against what arrived, never trusted. */
static int finished(faas_ctx *ctx, iso_inst *ii, const faas__iso_done *d, long n, int fd)
{
    ctx->inst->arena.used = d->peak_bytes;      /* the record's Max Memory Used */
    if (__builtin_expect(d->flags & (FAAS__ISO_NOUSERNS | FAAS__ISO_NOTHIDDEN |
                                     FAAS__ISO_HOSTPROC), 0)) {
        iso_fn *z = ii->fn->iso;
        if (d->flags & FAAS__ISO_NOUSERNS)
            say_once(ii->fn, &z->userns_said, ii->fn->run_uid >= 0
                     ? "isolated instances have no user namespace of their own (none can be "
                       "made here): one may open the memory of another process of its user "
                       "(another instance, a process function's runtime)"
                     : "isolated instances have no user namespace of their own (none can be "
                       "made here): one may open the memory of another process of its user, "
                       "this host's included");
        if (d->flags & FAAS__ISO_HOSTPROC)
            say_once(ii->fn, &z->proc_said, "isolated instances see this host's /proc (none "
                     "of their own could be mounted here): one may list its processes and "
                     "read their command lines");
        if (d->flags & FAAS__ISO_NOTHIDDEN)
            say_once(ii->fn, &z->hidden_said, "isolated instances do not see this host's "
                     "files read-only (no mount namespace can be made here): one may change "
                     "those its user may, the journal included");
    }
    const char *text = (const char *)(d + 1);
    size_t textlen = (size_t)n - sizeof *d;
    const char *type = "Runtime.Unknown", *msg = "";
    if (d->status != FAAS_OK) {
        uint64_t tl = d->type_len, ml = d->msg_len;
        if (tl + ml + 2u > textlen || text[tl] != '\0' || text[tl + 1u + ml] != '\0') {
            if (fd >= 0)
                faas__iso_close_fd(fd);
            ii->doomed = true;
            set_error(ctx, true, "Runtime.ExitError", "a malformed reply: an error of "
                      "%llu + %llu bytes in %zu", (unsigned long long)tl,
                      (unsigned long long)ml, textlen);
            return 0;
        }
        type = text;
        msg = text + tl + 1;
    }
    const char *why = fd >= 0 ? shm_adopt(ii, fd) : NULL;
    if (why != NULL) {
        ii->doomed = true;
        set_error(ctx, true, "Runtime.ExitError", "the reply's shared region %s: it is "
                  "not used", why);
        return 0;
    }
    if (d->oom_request != 0) {
        out_of_memory(ctx, d->oom_request, "");
        return 0;
    }
    switch (d->status) {
    case FAAS_OK:
        if (d->flags & FAAS__ISO_SHM) {
            if (ii->shm == NULL || d->len > ii->shm_cap) {
                ii->doomed = true;
                set_error(ctx, true, "Runtime.ExitError", "a malformed reply: %llu bytes "
                          "in a shared region of %zu", (unsigned long long)d->len,
                          ii->shm_cap);
                return 0;
            }
            faas_reply(ctx, ii->shm, (size_t)d->len);
            return 0;
        }
        if (d->len != textlen) {
            ii->doomed = true;
            set_error(ctx, true, "Runtime.ExitError", "a malformed reply: %llu bytes "
                      "announced, %zu sent", (unsigned long long)d->len, textlen);
            return 0;
        }
        faas_reply(ctx, text, textlen);         /* a too-large reply sets too_large */
        return 0;
    case FAAS_EHANDLER:
        return faas_fail(ctx, type, "%s", msg);
    case FAAS_ETIMEOUT:
        ctx->deadline_ns = 0;                   /* see internal.h */
        return 0;
    case FAAS_EMEMORY:
        set_error(ctx, false, type, "%s", msg);
        return 0;
    default:
        set_error(ctx, true, type, "%s", msg);
        return 0;
    }
}

/* ---- one call ------------------------------------------------------------------------ */

/* The instance had died before the call reached it (killed while idle, or ended by
 * RLIMIT_CPU between calls): nothing of the call ran. ctx->stale asks the core to run it
 * on a new instance instead (once); the error is the call's only if that fails too. */
static void died_idle(faas_ctx *ctx, iso_inst *ii, const char *why)
{
    ii->doomed = true;
    set_error(ctx, true, "Runtime.ExitError", "instance (pid %d) died while idle: %s",
              (int)ii->pid, why);
    ctx->stale = true;
}

/* inst->handler of an isolated instance: the call runs in the instance's process. */
static int iso_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    iso_inst *ii = ctx->inst->state;
    faas__iso_call c;
    memset(&c, 0, sizeof c);
    c.type = FAAS__ISO_CALL;
    c.len = len;
    memcpy(c.request_id, ctx->request_id, sizeof c.request_id);
    struct iovec iov[2] = { { &c, sizeof c }, { (void *)payload, len } };
    int iovcnt = 2, passfd = -1;
    if (len > FAAS__ISO_INLINE) {
        int fresh = shm_reserve(ii, len + 1);   /* and the NUL that follows every payload */
        if (fresh < 0) {
            set_error(ctx, false, "Runtime.OutOfMemory", "no memory for a shared region "
                      "of %zu bytes to pass the payload: %s", len, strerror(errno));
            return 0;
        }
        memcpy(ii->shm, payload, len);
        ii->shm[len] = '\0';
        c.flags = FAAS__ISO_SHM | (fresh ? FAAS__ISO_NEWSHM : 0u);
        passfd = fresh ? ii->shm_fd : -1;
        iovcnt = 1;
    }
    /* The deadline in real time: the kill must happen even if the runtime's clock is a
     * test's that does not move. */
    uint64_t now = faas__now(ctx->rt);
    uint64_t deadline = faas__sys_mono_ns() +
                        (ctx->deadline_ns > now ? ctx->deadline_ns - now : 0);
    if (faas__iso_send(ii->fd, iov, iovcnt, passfd) != 0) {
        /* A closed channel: the instance (and whatever it forked) had gone, and the
         * message was not sent. */
        if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
            /* What it said before it went, if anything: a crash report (SIGXCPU). */
            char why[160] = "it had exited: signal: killed (SIGKILL), or _exit()";
            long n = faas__iso_recv_now(ii->fd, ii->buf, FAAS__ISO_MSG_MAX);
            const faas__iso_crash *cr = (const void *)ii->buf;
            const faas__iso_exit *e = (const void *)ii->buf;
            if (n >= (long)sizeof *cr && cr->type == FAAS__ISO_CRASH)
                snprintf(why, sizeof why, "signal: %s (%s)", signal_words(cr->signo),
                         signal_abbrev(cr->signo));
            else if (n >= (long)sizeof *e && e->type == FAAS__ISO_EXIT)
                snprintf(why, sizeof why, "exit status %d", e->status);
            ii->eof = true;
            died_idle(ctx, ii, why);
            return 0;
        }
        ii->doomed = true;
        set_error(ctx, true, "Runtime.ExitError", "the call could not be sent to the "
                  "instance: %s", strerror(errno));
        return 0;
    }
    /* The first message is waited for by recvmsg() alone, under the channel's SO_RCVTIMEO
     * (the function's timeout, set once): one system call fewer per warm call than poll()
     * then recvmsg(). Later messages (after log lines) are polled for with the time left. */
    bool first = ii->rcvtimeo, answer = true;
    for (;;) {
        int fd = -1;
        long n;
        int ready = 1;
        if (first) {
            first = false;
            n = faas__iso_recv(ii->fd, ii->buf, FAAS__ISO_MSG_MAX, &fd, false);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                continue;       /* past SO_RCVTIMEO, or a signal: poll for the time left */
        } else {
            ready = faas__helper_wait(ii->fd, deadline);
            n = ready > 0 ? faas__iso_recv(ii->fd, ii->buf, FAAS__ISO_MSG_MAX, &fd, true) : -1;
        }
        if (ready == 0) {
            /* Past the deadline, the channel still open: a process of the instance's group
             * holds it, so the group still exists (its id is not reused). All of it dies. */
            kill(-ii->pid, SIGKILL);
            ii->doomed = true;
            ctx->deadline_ns = 0;               /* FAAS_ETIMEOUT: see internal.h */
            return 0;
        }
        if (n < 0 && errno == ECONNRESET && answer) {
            /* The instance went with a message unread: the call, which it never took
             * (the kernel reports a reset only then). */
            ii->eof = true;
            died_idle(ctx, ii, "it exited (killed, or out of CPU time) as the call was "
                      "sent");
            return 0;
        }
        if (n <= 0) {
            ii->doomed = true;
            ii->eof = n == 0;
            set_error(ctx, true, "Runtime.ExitError", "Runtime exited without a "
                      "report: signal: killed (SIGKILL), or _exit()");
            return 0;
        }
        bool reply = answer;                    /* the instance's first word on this call */
        answer = false;
        uint32_t type;
        memcpy(&type, ii->buf, sizeof type);
        if (type == FAAS__ISO_LOG && n >= (long)sizeof(faas__iso_log)) {
            faas_ctx_log(ctx, "%.*s", (int)(n - (long)sizeof(faas__iso_log)),
                         (const char *)ii->buf + sizeof(faas__iso_log));
            if (fd >= 0)
                faas__iso_close_fd(fd);
            continue;
        }
        if (type == FAAS__ISO_DONE && n >= (long)sizeof(faas__iso_done))
            return finished(ctx, ii, (const faas__iso_done *)(void *)ii->buf, n, fd);
        if (fd >= 0)
            faas__iso_close_fd(fd);
        ii->doomed = true;
        if (type == FAAS__ISO_CRASH && n >= (long)sizeof(faas__iso_crash)) {
            const faas__iso_crash *cr = (const void *)ii->buf;
            if (reply && cr->idle) {
                /* It was dying before it took the call (another thread's fault, or
                 * SIGXCPU): the call never started. */
                char why[160];
                snprintf(why, sizeof why, "signal: %s (%s)", signal_words(cr->signo),
                         signal_abbrev(cr->signo));
                died_idle(ctx, ii, why);
            } else {
                crashed(ctx, ii, cr);
            }
        } else if (type == FAAS__ISO_EXIT && n >= (long)sizeof(faas__iso_exit)) {
            const faas__iso_exit *e = (const void *)ii->buf;
            if (reply && e->idle) {
                char why[64];
                snprintf(why, sizeof why, "exit status %d", e->status);
                died_idle(ctx, ii, why);
            } else if (e->oom_request != 0) {
                out_of_memory(ctx, e->oom_request, "then exit()");
            } else {
                set_error(ctx, true, "Runtime.ExitError", "exit status %d", e->status);
            }
        } else {
            set_error(ctx, true, "Runtime.ExitError", "a malformed message");
        }
        return 0;
    }
}

/* ---- the hooks ----------------------------------------------------------------------- */

/* Have the zygote kill the instance's process group and reap every process of it (REAP).
 * Only the zygote that forked the instance can: it keeps the instance unreaped until then,
 * so the group's id is still the instance's. False if it could not (that zygote is gone). */
static bool zygote_reap(iso_inst *ii)
{
    iso_fn *z = ii->fn->iso;
    bool done = false;
    pthread_mutex_lock(&z->lock);
    if (z->pid > 0 && z->gen == ii->zgen) {
        faas__iso_reap r = { FAAS__ISO_REAP, (int32_t)ii->pid, 0, 0 };
        struct iovec iov = { &r, sizeof r };
        int fd = -1;
        if (faas__iso_send(z->ctl, &iov, 1, -1) == 0 &&
            faas__helper_wait(z->ctl, faas__sys_mono_ns() + MS_NS(REAP_LIMIT_MS)) == 1 &&
            faas__iso_recv(z->ctl, &r, sizeof r, &fd, true) == (long)sizeof r &&
            r.type == FAAS__ISO_REAPED && r.pid == (int32_t)ii->pid)
            done = true;
        if (fd >= 0)
            faas__iso_close_fd(fd);
        if (!done)
            zygote_stop(z, true);       /* dead or stuck: the next cold start restarts it */
    }
    pthread_mutex_unlock(&z->lock);
    return done;
}

/* Wait until the instance's process has exited (its pidfd, or the channel's EOF when there
 * is no pidfd) or the deadline; late messages are dropped. */
static void wait_exit(iso_inst *ii, uint64_t deadline)
{
    for (;;) {
        uint64_t now = faas__sys_mono_ns();
        if (now >= deadline)
            return;                     /* an instance that keeps writing: no longer */
        int left = (int)((deadline - now + 999999u) / 1000000u);
        struct pollfd p[2] = { { ii->fd, POLLIN, 0 }, { ii->pidfd, POLLIN, 0 } };
        int rc = poll(p, ii->pidfd >= 0 ? 2 : 1, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0 || (ii->pidfd >= 0 && (p[1].revents & POLLIN)))
            return;                     /* timed out, or the process has exited */
        int fd = -1;
        long n = faas__iso_recv(ii->fd, ii->buf, FAAS__ISO_MSG_MAX, &fd, true);
        if (fd >= 0)
            faas__iso_close_fd(fd);
        if (n <= 0) {
            ii->eof = n == 0;
            return;                     /* EOF (or reset): nothing holds the channel */
        }
    }
}

/* inst->shutdown of an isolated instance: EOF on its channel makes it run the SHUTDOWN hook
 * and exit (within the limit); then its whole process group is killed and reaped, by the
 * zygote, so that nothing the instance forked outlives it. When this returns, no process
 * of the instance is left. */
static void iso_close(void *state)
{
    iso_inst *ii = state;
    if (!ii->eof && !ii->doomed) {
        shutdown(ii->fd, SHUT_WR);
        wait_exit(ii, faas__sys_mono_ns() + MS_NS(SHUTDOWN_LIMIT_MS));
    }
    if (!zygote_reap(ii)) {
        /* Its zygote died (killed from outside): the group can be killed only while a
         * process of it is known to exist: one that holds the channel open. */
        struct pollfd p = { ii->fd, POLLIN, 0 };
        if (!ii->eof && poll(&p, 1, 0) == 0)
            kill(-ii->pid, SIGKILL);
    }
    if (ii->pidfd >= 0)
        close(ii->pidfd);
    close(ii->fd);
    shm_drop(ii);
    free(ii->buf);
    free(ii);
}

static int iso_create(faas_function *fn, faas__instance *inst, char *err, size_t errlen)
{
    iso_inst *ii = calloc(1, sizeof *ii);
    if (ii != NULL)
        ii->buf = malloc(FAAS__ISO_MSG_MAX);
    if (ii == NULL || ii->buf == NULL) {
        if (ii != NULL)
            free(ii);
        snprintf(err, errlen, "out of memory creating an instance of %s", fn->name->name);
        return FAAS_ENOMEM;
    }
    ii->fn = fn;
    ii->shm_fd = -1;
    int rc = instance_fork(fn, &ii->pid, &ii->zgen, &ii->fd, err, errlen);
    if (rc != FAAS_OK) {
        free(ii->buf);
        free(ii);
        return rc;
    }
    /* The instance's exit, for its shutdown (the zygote keeps it unreaped until REAP, so
     * the pid is its own). -1 on kernels without pidfds: the channel's EOF then. */
#ifdef SYS_pidfd_open
    ii->pidfd = (int)syscall(SYS_pidfd_open, ii->pid, 0);
#else
    ii->pidfd = -1;
#endif
    struct timeval tv = { (time_t)(fn->cfg.timeout_ms / 1000u),
                          (suseconds_t)(fn->cfg.timeout_ms % 1000u) * 1000 };
    ii->rcvtimeo = setsockopt(ii->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
    inst->handler = iso_handler;
    inst->state = ii;
    inst->shutdown = iso_close;
    return FAAS_OK;
}

static int iso_attach(faas_function *fn)
{
    iso_fn *z = calloc(1, sizeof *z);
    if (z == NULL)
        return faas__fail(FAAS_ENOMEM, "register %s: out of memory", fn->name->name);
    pthread_mutex_init(&z->lock, NULL);
    z->ctl = -1;
    fn->iso = z;
    return FAAS_OK;
}

/* The function is being freed: its instances are already shut down. */
static void iso_detach(faas_function *fn)
{
    iso_fn *z = fn->iso;
    pthread_mutex_lock(&z->lock);
    zygote_stop(z, false);
    free(z->warning);
    pthread_mutex_unlock(&z->lock);
    pthread_mutex_destroy(&z->lock);
    free(z);
    fn->iso = NULL;
}

static const faas__isolation_hooks hooks = { iso_attach, iso_detach, iso_create };

/* Registered before any runtime exists: the core only looks at faas__isolation. */
__attribute__((constructor)) static void iso_register(void)
{
    faas__isolation = &hooks;
}
