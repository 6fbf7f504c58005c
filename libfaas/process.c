/*
 * process.c - process instances: a function whose instances are processes started from a
 * command (a custom runtime's bootstrap) that speak the Lambda Runtime API
 * (runtime_api.c). An instance's runtime is started (process_spawn.c: by the runtime's
 * spawner, in a PID namespace of its own where the host may make one) with the reserved
 * environment of a Lambda function; its cold start is the spawn and the runtime's INIT,
 * until its first GET .../next; a call is offered through the Runtime API and its answer
 * awaited together with the process's death (pidfd) and the deadline, at which the whole
 * instance is killed. The pool, limits, keep-alive, records and cost are the core's: it is
 * reached only through the isolation hook table (internal.h), as isolated modules are.
 */
#include "internal.h"

#include "abi.h"
#include "peer.h"
#include "process_code.h"
#include "process_log.h"
#include "process_spawn.h"
#include "runtime_api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define INIT_LIMIT_MS 10000u      /* spawn + the runtime's INIT: Lambda's INIT limit */
#define REAP_LIMIT_MS 2000u       /* the killed processes of an instance are all gone */
#define REGION "us-east-1"
#define ACCOUNT "000000000000"    /* the gateway's default account */

/* faas_process_config's first layout: the whole struct (it is new in this version). */
#define PROCESS_CONFIG_V1 FAAS__ABI_END(faas_process_config, cwd)

/* fn->iso of a process function. Read-only once registered. */
typedef struct proc_fn {
    faas__rapi *srv;              /* a reference, taken at the first cold start; under lock */
    pthread_mutex_t lock;
    char   *command, *handler, *cwd;
    char  **argv;                 /* NULL-terminated copies */
    char  **env;                  /* the function's own "NAME=value", NULL-terminated */
    char  **writable;             /* the directories its runtimes may write (real paths),
                                     NULL-terminated; the rest they see read-only */
    char   *snapshot;             /* a published version's frozen task root (cwd), removed
                                     with it (process_code.c); NULL for $LATEST */
    int     uid, gid;             /* the user its runtimes run as; -1: the host's */
    bool    peer_said;            /* "cannot tell who connected" logged; under lock */
} proc_fn;

/* inst->state of a process instance: used by one call at a time (the slot's owner). */
typedef struct proc_inst {
    faas_function   *fn;
    faas__rapi_inst *api;
    faas__pspawn_proc proc;       /* the runtime (proc.pid), and how to end it */
    int              pidfd;       /* readable once it has exited (its proc.group's) */
    int              alive;       /* a pipe's read end whose write end every process of the
                                     instance holds as fd 3: EOF once they are all gone */
    int              status_fd;   /* its /proc/PID/status, or -1 (not opened yet) */
    int              stat_fd;     /* its /proc/PID/stat, or -1: the fault counts */
    uint64_t         peak;        /* the last VmHWM read, bytes */
    uint64_t         faults;      /* its page faults (and its reaped children's) then */
    bool             have_faults; /* ... known: a call without faults since keeps peak */
    unsigned         streak;      /* calls in a row that faulted */
    unsigned         skip;        /* calls left that read VmHWM without asking first */
    int              status;      /* its wait status, once ended (proc.reaped) */
    faas__plog       log;         /* its stdout and stderr (process_log.h) */
} proc_inst;

/* ---- the environment ------------------------------------------------------------------ */

static bool own_sets(const proc_fn *pf, const char *name)
{
    size_t n = strlen(name);
    for (char **e = pf->env; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return true;
    return false;
}

/* Append a formatted "NAME=value" to env (k entries so far, room for them all): false
 * when out of memory. */
static bool put_var(char **env, size_t *k, const char *fmt, ...) FAAS_PRINTF(3, 4);
static bool put_var(char **env, size_t *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s == NULL)
        return false;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    env[(*k)++] = s;
    env[*k] = NULL;
    return true;
}


/* LD_LIBRARY_PATH: Lambda's directories, in Lambda's order, that exist as the instance
 * starts (each named once), then this host's own path (if any). The loader skips a missing
 * directory anyway, but only after trying it and its glibc-hwcaps subdirectories for every
 * library of every program the runtime execs: Lambda's full list cost ~60 failed opens and
 * ~120-190 us per exec here (runtime_api.md, "Environment of an instance"). */
static bool put_ld_path(char **env, size_t *k, const char *root, const char *host)
{
    size_t rlen = strlen(root);
    char *lib = malloc(rlen + sizeof "/lib");
    if (lib == NULL)
        return false;
    memcpy(lib, root, rlen);
    memcpy(lib + rlen, "/lib", sizeof "/lib");
    const char *dirs[] = { "/lib64", "/usr/lib64", root, lib, root, lib, "/opt/lib" };
    enum { NDIRS = sizeof dirs / sizeof *dirs };
    const char *keep[NDIRS];
    size_t n = 0, len = 0;
    for (size_t i = 0; i < NDIRS; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(keep[j], dirs[i]) == 0;
        struct stat st;
        if (seen || stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        keep[n++] = dirs[i];
        len += strlen(dirs[i]) + 1;
    }
    char *path = malloc(len + 1);
    bool ok = path != NULL;
    if (ok) {
        char *p = path;
        *p = '\0';
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s%s", i ? ":" : "", keep[i]);
        ok = put_var(env, k, "LD_LIBRARY_PATH=%s%s%s", path,
                     host && *host ? (n ? ":" : "") : "", host ? host : "");
    }
    free(path);
    free(lib);
    return ok;
}

/* The instance's environment, every string malloc'd (faas__strv_free): Lambda's variables for
 * a function of the provided (OS-only) runtime family, then the function's own. Sources
 * (runtime_api.md): the Developer Guide's "Defined runtime environment variables". Not
 * set: AWS_EXECUTION_ENV (not defined for the provided family), the execution role's
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN (there is no role here), and
 * _X_AMZN_TRACE_ID (a runtime sets it per call from Lambda-Runtime-Trace-Id). */
static char **build_env(faas_function *fn, const proc_fn *pf, const char *endpoint)
{
    enum { RESERVED = 20 };
    size_t own = 0;
    while (pf->env[own] != NULL)
        own++;
    char **env = calloc(RESERVED + own + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    char version[16];
    if (fn->version != 0)
        snprintf(version, sizeof version, "%u", fn->version);
    else
        snprintf(version, sizeof version, "$LATEST");
    char day[16];
    time_t t = (time_t)(faas__wall(fn->rt) / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    const char *path = getenv("PATH"), *ld = getenv("LD_LIBRARY_PATH");
    const char *name = fn->name->name, *root = pf->cwd;
    bool ok =
        put_var(env, &k, "AWS_LAMBDA_FUNCTION_NAME=%s", name) &&
        put_var(env, &k, "AWS_LAMBDA_FUNCTION_VERSION=%s", version) &&
        put_var(env, &k, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%u", fn->cfg.memory_mb) &&
        put_var(env, &k, "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand") &&
        put_var(env, &k, "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", name) &&
        put_var(env, &k, "AWS_LAMBDA_LOG_STREAM_NAME=%s/[%s]%016llx%016llx", day, version,
                (unsigned long long)faas__rand64(), (unsigned long long)faas__rand64()) &&
        put_var(env, &k, "AWS_LAMBDA_RUNTIME_API=%s", endpoint) &&
        put_var(env, &k, "AWS_REGION=" REGION) &&
        put_var(env, &k, "AWS_DEFAULT_REGION=" REGION) &&
        put_var(env, &k, "_HANDLER=%s", pf->handler) &&
        put_var(env, &k, "LAMBDA_TASK_ROOT=%s", root) &&
        put_var(env, &k, "LAMBDA_RUNTIME_DIR=%s", root) &&
        (own_sets(pf, "TZ") || put_var(env, &k, "TZ=:UTC")) &&
        (own_sets(pf, "LANG") || put_var(env, &k, "LANG=en_US.UTF-8")) &&
        (own_sets(pf, "PATH") ||
         put_var(env, &k, "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin")) &&
        (own_sets(pf, "LD_LIBRARY_PATH") || put_ld_path(env, &k, root, ld));
    for (size_t i = 0; ok && i < own; i++)
        ok = put_var(env, &k, "%s", pf->env[i]);
    if (!ok) {
        faas__strv_free(env);
        return NULL;
    }
    return env;
}

/* ---- spawning and ending a process ---------------------------------------------------- */

/* Start the runtime, its stdout and stderr on out (closed here). */
static int spawn(faas_function *fn, proc_inst *pi, int out, char *err, size_t errlen)
{
    proc_fn *pf = fn->iso;
    char **env = build_env(fn, pf, faas__rapi_endpoint(pi->api));
    if (env == NULL) {
        close(out);
        snprintf(err, errlen, "out of memory starting %s", pf->command);
        return FAAS_ENOMEM;
    }
    int alive[2];
    if (pipe2(alive, O_CLOEXEC) != 0) {
        close(out);
        faas__strv_free(env);
        snprintf(err, errlen, "pipe2: %s", strerror(errno));
        return FAAS_EINIT;
    }
    faas__pspawn_req q = { pf->command, pf->argv, env, pf->cwd, out, alive[1],
                           fn->cfg.pids_max, fn->cfg.memory_mb, pf->uid, pf->gid,
                           fn->rt->journal ? faas__journal_path(fn->rt->journal) : NULL,
                           pf->writable };
    int rc = faas__pspawn_start(fn->rt, &q, &pi->proc, err, errlen);
    faas__strv_free(env);
    close(alive[1]);
    close(out);
    pi->alive = alive[0];
    if (rc != FAAS_OK)
        return rc;
#ifdef SYS_pidfd_open
    pi->pidfd = (int)syscall(SYS_pidfd_open, pi->proc.group, 0);
#else
    pi->pidfd = -1;
    errno = ENOSYS;
#endif
    if (pi->pidfd < 0 && errno != ENOSYS) {
        int e = errno;
        faas__pspawn_end(&pi->proc, false);
        snprintf(err, errlen, "pidfd_open: %s", strerror(e));
        return FAAS_EINIT;
    }
    return FAAS_OK;
}

/* Kill the instance's whole process group while the unreaped leader still holds the
 * group's id, wait (bounded) until no process of it holds fd 3 any more, so that none is
 * left when this returns, then reap the leader. exited: the runtime was seen to end; the
 * group is killed and reaped first, by the spawner once its init has said how the runtime
 * ended (killed at once, the init may not have: "signal: Killed" for "exit status 3"). */
static void reap(proc_inst *pi, bool exited)
{
    if (pi->proc.reaped)
        return;
    if (exited)
        pi->status = faas__pspawn_end(&pi->proc, true);
    else
        faas__pspawn_kill(&pi->proc);
    /* In a PID namespace of its own the init exits (its pidfd readable) only once the
     * kernel has ended every other process of the namespace: that is waited for, not the
     * pipe, whose write end a process outside may hold (one instance of a hostile
     * function can pass its fd 3 to another over a Unix socket: each stop then waited
     * the whole limit, on the thread that runs every function's timers). */
    bool by_init = pi->proc.pidns && pi->pidfd >= 0;
    uint64_t deadline = faas__sys_mono_ns() + (uint64_t)REAP_LIMIT_MS * 1000000u;
    for (;;) {
        uint64_t now = faas__sys_mono_ns();
        struct pollfd p = { by_init ? pi->pidfd : pi->alive, POLLIN, 0 };
        int left = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        int rc = poll(&p, 1, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0 || by_init || (p.revents & (POLLHUP | POLLERR)))
            break;
        char junk[64];
        if (read(pi->alive, junk, sizeof junk) <= 0)
            break;
    }
    if (!exited)
        pi->status = faas__pspawn_end(&pi->proc, false);
}

/* How the reaped runtime ended, as Lambda words it ("signal: Killed", "exit status 2"),
 * and why when the kernel killed a process of it for memory. */
static void describe_exit(const proc_inst *pi, char *out, size_t n)
{
    int status = pi->status;
    int k = WIFSIGNALED(status)
                ? snprintf(out, n, "signal: %s", strsignal(WTERMSIG(status)))
                : snprintf(out, n, "exit status %d", WEXITSTATUS(status));
    if (pi->proc.oom && k >= 0 && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, " (out of memory: past the function's memory "
                 "limit of %u MB)", pi->fn->cfg.memory_mb);
}

static void proc_close(void *state)
{
    proc_inst *pi = state;
    faas__rapi_inst_close(pi->api);     /* its port and connections closed */
    reap(pi, false);
    if (pi->pidfd >= 0)
        close(pi->pidfd);
    if (pi->status_fd >= 0)
        close(pi->status_fd);
    if (pi->stat_fd >= 0)
        close(pi->stat_fd);
    close(pi->alive);
    faas__plog_close(&pi->log);         /* what it printed last: no call's */
    free(pi);
}

/* Drive the instance's Runtime API listener (this thread owns the instance: the requests
 * the runtime sends are served here, runtime_api.h) and wait for the runtime's word or its
 * death until deadline (monotonic ns): 1 news from the Runtime API (faas__rapi_run), 2 it
 * exited, 0 the deadline passed. What it prints meanwhile is read as it comes (a full pipe
 * would stop it), ctx's if ctx had taken the call then (ctx NULL: INIT). The poll comes
 * first, so that a runtime found dead is seen before a call could be handed to it. */
static int wait_event(proc_inst *pi, uint64_t deadline, faas_ctx *ctx)
{
    for (;;) {
        uint64_t now = faas__sys_mono_ns();
        if (now >= deadline)
            return 0;
        int left = (int)((deadline - now + 999999u) / 1000000u);
        int t = faas__rapi_timeout(pi->api);
        if (t >= 0 && t < left)
            left = t;
        /* Without pidfds (ENOSYS: old kernels, valgrind), the hang-up of the pipe every
         * process of the instance holds: the leader has exited with it. */
        struct pollfd p[3] = { { faas__rapi_fd(pi->api), POLLIN, 0 },
                               { pi->pidfd >= 0 ? pi->pidfd : pi->alive, POLLIN, 0 },
                               { faas__plog_fd(&pi->log), POLLIN, 0 } };
        int rc = poll(p, 3, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return 0;
        if (p[1].revents)
            return 2;
        if (p[2].revents)               /* a bounded bite */
            faas__plog_read(&pi->log, ctx, 65536);
        if ((p[0].revents || t == 0) && faas__rapi_run(pi->api))
            return 1;
    }
}

/* ---- the hooks ------------------------------------------------------------------------ */

/* A "type\0message\0" error block on ctx (the form the core reads): a crash
 * (FAAS_ECRASHED), with oom a kill for memory (FAAS_EMEMORY), or with stale, a death before
 * the call was taken. */
static void crashed(faas_ctx *ctx, bool stale, bool oom, const char *fmt, ...)
    FAAS_PRINTF(4, 5);
static void crashed(faas_ctx *ctx, bool stale, bool oom, const char *fmt, ...)
{
    const char *type = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";
    size_t tl = strlen(type) + 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t ml = strlen(msg);
    char *b = malloc(tl + ml + 1);
    if (b != NULL) {
        memcpy(b, type, tl);
        memcpy(b + tl, msg, ml + 1);
        free(ctx->err);
        ctx->err = b;
    }
    ctx->oom = true;
    ctx->crashed = !oom;
    ctx->stale = stale;
}

/* pread of a /proc/PID file kept open (at 0: regenerated) into buf: its length, or 0. */
static size_t proc_read(proc_inst *pi, int *fd, const char *name, char *buf, size_t size)
{
    if (*fd < 0) {
        char path[40];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pi->proc.pid, name);
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0)
            return 0;
    }
    ssize_t n = pread(*fd, buf, size - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return (size_t)n;
}

/* Its page faults so far, minor and major, its own threads' and its reaped children's
 * (fields 10-13 of /proc/PID/stat); false if unknown. */
static bool fault_count(proc_inst *pi, uint64_t *out)
{
    char buf[1024];
    if (proc_read(pi, &pi->stat_fd, "stat", buf, sizeof buf) == 0)
        return false;
    const char *p = strrchr(buf, ')');
    unsigned long long mn, cmn, mj, cmj;
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %llu %llu %llu %llu", &mn,
                            &cmn, &mj, &cmj) != 4)
        return false;
    *out = mn + cmn + mj + cmj;
    return true;
}

/* The runtime's peak resident memory, as the record's max memory used (Lambda's "Max
 * Memory Used": the peak so far of the instance): VmHWM of its /proc/PID/status, read
 * through a descriptor opened once per instance.
 *
 * Generating /proc/PID/status costs the kernel ~6-9 us per call here; /proc/PID/stat about
 * half. The resident set of a process grows only through page faults, which its threads'
 * fault counters count (GUP and MAP_POPULATE included; a reaped child's are added to the
 * c* counters): so when the counters have not moved since the last VmHWM read, VmHWM has
 * not either, and the last value is kept without reading status. Not seen by the counters
 * (runtime_api.md, "Max Memory Used"): pages mapped into its memory by another process
 * (process_vm_writev, ptrace), by khugepaged collapsing a range, or by a vfork child not
 * reaped yet, before its exec. A runtime that faults on most calls (a garbage-collected
 * one) would pay both reads: after 8 faulting calls in a row the counters are not asked
 * for the next 64. */
static uint64_t peak_bytes(proc_inst *pi)
{
    enum { STREAK = 8, SKIP = 64 };
    uint64_t f = 0;
    bool counted = false;
    if (pi->skip > 0) {
        pi->skip--;
        counted = pi->skip == 0 && fault_count(pi, &f);   /* a new start to compare with */
    } else {
        counted = fault_count(pi, &f);
        if (counted && pi->have_faults && f == pi->faults) {
            pi->streak = 0;
            return pi->peak;
        }
        if (counted && pi->have_faults && ++pi->streak >= STREAK) {
            pi->streak = 0;
            pi->skip = SKIP;
            counted = false;
        }
    }
    pi->have_faults = counted;
    pi->faults = f;
    char buf[4096];
    pi->peak = 0;
    if (proc_read(pi, &pi->status_fd, "status", buf, sizeof buf) == 0)
        return 0;
    const char *p = strstr(buf, "\nVmHWM:");
    pi->peak = p ? (uint64_t)strtoull(p + 7, NULL, 10) * 1024u : 0;
    return pi->peak;
}

static void deliver(faas_ctx *ctx, faas__rapi_answer *a)
{
    if (a->too_large) {
        ctx->too_large = true;
    } else if (a->error) {
        if (a->len == 0 || faas_fail_body(ctx, a->body, a->len) != FAAS_EHANDLER)
            faas_fail(ctx, a->error_type ? a->error_type : "Unhandled", "%s",
                      a->body ? a->body : "");
    } else {
        faas_reply(ctx, a->body ? a->body : "", a->len);
    }
}

/* The call is over (answered, timed out or dead): the rest of its output is read (up to
 * the answer's mark, or what the pipe holds now), its lines into ctx's log; what the
 * runtime prints from here on is no call's. */
static void output_end(proc_inst *pi, faas_ctx *ctx)
{
    faas__plog_read(&pi->log, ctx, faas__plog_call_left(&pi->log));
    faas__plog_flush(&pi->log, ctx);
    faas__plog_unmark(&pi->log);
}

static int proc_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    proc_inst *pi = ctx->inst->state;
    faas_function *fn = pi->fn;
    uint64_t now = faas__now(ctx->rt);
    uint64_t left = ctx->deadline_ns > now ? ctx->deadline_ns - now : 0;
    char arn[200], trace[96];
    if (fn->version != 0)
        snprintf(arn, sizeof arn, "arn:aws:lambda:" REGION ":" ACCOUNT ":function:%s:%u",
                 fn->name->name, fn->version);
    else
        snprintf(arn, sizeof arn, "arn:aws:lambda:" REGION ":" ACCOUNT ":function:%s",
                 fn->name->name);
    uint64_t r1 = faas__rand64(), r2 = faas__rand64();
    snprintf(trace, sizeof trace, "Root=1-%08llx-%08llx%016llx;Parent=%016llx;Sampled=0",
             (unsigned long long)(faas__wall(ctx->rt) / 1000000000),
             (unsigned long long)(r1 >> 32), (unsigned long long)r2,
             (unsigned long long)faas__rand64());
    faas__rapi_call call = {
        .request_id = ctx->request_id, .payload = payload, .len = len,
        .deadline_ms = faas__wall(ctx->rt) / 1000000 + (int64_t)(left / 1000000u),
        .arn = arn, .trace_id = trace, .client_context = ctx->client_context,
    };
    faas__rapi_offer(pi->api, &call);
    /* The deadline in real time: the kill must happen even on a test's clock that does
     * not move. */
    uint64_t deadline = faas__sys_mono_ns() + left;
    faas__rapi_answer a;
    for (;;) {
        int ev = wait_event(pi, deadline, ctx);
        if (ev == 1) {
            if (faas__rapi_answer_take(pi->api, &a, false))
                break;
            continue;
        }
        if (ev == 0) {
            if (faas__rapi_answer_take(pi->api, &a, true))
                break;                  /* answered in time; its 202 was not taken */
            faas__rapi_withdraw(pi->api);
            faas__pspawn_kill(&pi->proc);   /* past the deadline: the whole instance */
            output_end(pi, ctx);
            ctx->deadline_ns = 0;       /* FAAS_ETIMEOUT: see internal.h */
            return 0;
        }
        /* It exited: what it sent before is all in the sockets; it is read (an answer
         * sent before the end counts, as it did), no call handed out. */
        faas__rapi_settle(pi->api);
        if (faas__rapi_answer_take(pi->api, &a, true))
            break;
        reap(pi, true);
        bool taken = faas__rapi_taken(pi->api);
        faas__rapi_withdraw(pi->api);
        output_end(pi, ctx);            /* its processes are gone: all of it is there */
        char why[160];
        describe_exit(pi, why, sizeof why);
        if (!taken) {
            crashed(ctx, true, false, "the runtime (pid %d) had exited while idle: %s",
                    (int)pi->proc.pid, why);
        } else {
            if (pi->proc.oom)           /* it reached the limit: Lambda says it so */
                ctx->inst->arena.used = (uint64_t)fn->cfg.memory_mb << 20;
            crashed(ctx, false, pi->proc.oom, "RequestId: %s Error: Runtime exited with "
                    "error: %s", ctx->request_id, why);
        }
        return 0;
    }
    faas__rapi_withdraw(pi->api);
    /* It printed before it answered: the call's output is in the pipe up to the mark. */
    output_end(pi, ctx);
    ctx->inst->arena.used = peak_bytes(pi);
    deliver(ctx, &a);
    faas__rapi_answer_free(&a);
    return 0;
}

/* The instance's Runtime API accepts a connection only from a process of the instance (the
 * tree below its init): any process of the machine may connect to a loopback port, another
 * function's runtime among them, which would then take this instance's calls and answer
 * them (runtime_api.md, "Endpoint"). Where the kernel cannot say who connected (no
 * sock_diag, no right to read a runtime's descriptors) the connection is kept, and the log
 * says so once per function. */
static bool own_peer(void *arg, const struct sockaddr_in *peer, uint16_t port)
{
    proc_inst *pi = arg;
    faas__peer_sock sock;
    int rc = faas__peer_inode(peer, port, &sock);
    if (rc == 0)
        rc = faas__peer_in_tree(pi->proc.group, pi->proc.pid, &sock);
    if (rc == -ENOENT && !faas__peer_works())
        rc = -ENOSYS;                   /* a kernel without inet_diag says ENOENT to all */
    if (rc >= 0 || rc == -ENOENT)
        return rc == 1;                 /* ENOENT: the connection is gone already */
    proc_fn *pf = pi->fn->iso;
    pthread_mutex_lock(&pf->lock);
    bool said = pf->peer_said;
    pf->peer_said = true;
    pthread_mutex_unlock(&pf->lock);
    if (!said) {
        char line[320];
        snprintf(line, sizeof line, "WARNING %s: which process connected to an instance's "
                 "Runtime API cannot be told here (%s): another process of this machine "
                 "could take its calls", pi->fn->name->name, strerror(-rc));
        faas__log_line(pi->fn->rt, line);
    }
    return true;
}

static int proc_create(faas_function *fn, faas__instance *inst, char *err, size_t errlen)
{
    proc_fn *pf = fn->iso;
    faas__rapi *srv;
    pthread_mutex_lock(&pf->lock);
    int rc = FAAS_OK;
    if (pf->srv == NULL)
        rc = faas__rapi_get(fn->rt, &pf->srv, err, errlen);
    srv = pf->srv;
    pthread_mutex_unlock(&pf->lock);
    if (rc != FAAS_OK)
        return rc;
    proc_inst *pi = calloc(1, sizeof *pi);
    if (pi == NULL || faas__rapi_inst_new(srv, &pi->api) != FAAS_OK) {
        free(pi);
        snprintf(err, errlen, "out of memory creating an instance of %s", fn->name->name);
        return FAAS_ENOMEM;
    }
    pi->fn = fn;
    pi->pidfd = -1;
    pi->alive = -1;
    pi->status_fd = -1;
    pi->stat_fd = -1;
    int out;
    if (faas__plog_open(&pi->log, fn->rt, &out) != FAAS_OK) {
        snprintf(err, errlen, "pipe2: %s", strerror(errno));
        faas__rapi_inst_close(pi->api);
        faas__plog_close(&pi->log);
        free(pi);
        return FAAS_EINIT;
    }
    faas__rapi_on_mark(pi->api, faas__plog_mark, &pi->log);
    faas__rapi_on_accept(pi->api, own_peer, pi);
    rc = spawn(fn, pi, out, err, errlen);
    if (rc != FAAS_OK) {
        if (pi->alive >= 0)
            close(pi->alive);
        faas__rapi_inst_close(pi->api);
        faas__plog_close(&pi->log);
        free(pi);
        return rc;
    }
    /* INIT: until the runtime asks for its first call, posts an init error, or exits. */
    uint64_t deadline = faas__sys_mono_ns() + (uint64_t)INIT_LIMIT_MS * 1000000u;
    for (;;) {
        char *body = NULL, *type = NULL;
        int ev = wait_event(pi, deadline, NULL);
        if (ev == 2) {
            reap(pi, true);             /* an init error it sent before it exited counts */
            faas__rapi_settle(pi->api);
        }
        int st = faas__rapi_init_state(pi->api, &body, &type);
        if (st == 1) {
            /* What INIT printed (all of it: it prints before it asks): the function's
             * log, no call's; the first call's lines start with that call. */
            faas__plog_read(&pi->log, NULL, faas__plog_pending(&pi->log));
            faas__plog_flush(&pi->log, NULL);
            break;
        }
        if (st == -1) {
            snprintf(err, errlen, "%s", body);
            free(body);
            free(type);
            rc = FAAS_EINIT;
        } else if (ev == 1) {
            continue;
        } else if (ev == 0) {
            snprintf(err, errlen, "the runtime did not ask for its first call within %u ms "
                     "(Lambda's INIT limit)", INIT_LIMIT_MS);
            rc = FAAS_EINIT;
        } else {
            char why[160];
            describe_exit(pi, why, sizeof why);
            snprintf(err, errlen, "Runtime exited during INIT: %s", why);
            rc = FAAS_EINIT;
        }
        proc_close(pi);
        return rc;
    }
    inst->handler = proc_handler;
    inst->state = pi;
    inst->shutdown = proc_close;
    return FAAS_OK;
}

static int proc_attach(faas_function *fn)
{
    (void)fn;
    return FAAS_OK;                     /* the state came with the registration */
}


static void pf_free(proc_fn *pf)
{
    if (pf == NULL)
        return;
    faas__rapi_unref(pf->srv);
    pthread_mutex_destroy(&pf->lock);
    free(pf->command);
    free(pf->handler);
    free(pf->cwd);
    faas__strv_free(pf->argv);
    faas__strv_free(pf->env);
    faas__strv_free(pf->writable);
    faas__tree_remove(pf->snapshot);
    free(pf->snapshot);
    free(pf);
}

/* The function is being freed: its instances are already shut down. */
static void proc_detach(faas_function *fn)
{
    pf_free(fn->iso);
    fn->iso = NULL;
}

static const faas__isolation_hooks hooks = { proc_attach, proc_detach, proc_create };

/* ---- registration --------------------------------------------------------------------- */

static char **copy_strv(const char *const *v, const char *only)
{
    size_t n = 0;
    if (v != NULL)
        while (v[n] != NULL)
            n++;
    if (v == NULL && only != NULL)
        n = 1;
    char **out = calloc(n + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(v ? v[i] : only);
        if (out[i] == NULL) {
            faas__strv_free(out);
            return NULL;
        }
    }
    return out;
}

/* ---- what GetFunction shows ------------------------------------------------------------ */

int faas__process_describe(faas_runtime *rt, const char *name, char **handler,
                           char **command, char ***env)
{
    *handler = *command = NULL;
    *env = NULL;
    size_t len;
    if (rt == NULL || !faas__valid_name(name, &len))
        return FAAS_EINVAL;
    int rc = FAAS_ENOTFOUND;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn = NULL;
    HASH_FIND(hh, rt->fns, name, len, fn);
    if (fn != NULL && fn->iso_ops == &hooks && fn->iso != NULL) {
        const proc_fn *pf = fn->iso;
        *handler = strdup(pf->handler);
        *command = strdup(pf->command);
        *env = copy_strv((const char *const *)pf->env, NULL);
        rc = *handler && *command && *env ? FAAS_OK : FAAS_ENOMEM;
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc != FAAS_OK) {
        free(*handler);
        free(*command);
        faas__strv_free(*env);
        *handler = *command = NULL;
        *env = NULL;
    }
    return rc;
}

/* ---- published versions (version.c decides; process_code.c freezes the code) ---------- */

bool faas__process_is(const faas_function *fn)
{
    return fn->iso_ops == &hooks && fn->iso != NULL;
}

int faas__process_spec(const faas_function *fn, faas__proc_spec *out)
{
    memset(out, 0, sizeof *out);
    if (!faas__process_is(fn))
        return FAAS_ENOTFOUND;
    const proc_fn *pf = fn->iso;
    out->command = strdup(pf->command);
    out->handler = strdup(pf->handler);
    out->cwd = strdup(pf->cwd);
    out->argv = copy_strv((const char *const *)pf->argv, NULL);
    out->env = copy_strv((const char *const *)pf->env, NULL);
    out->writable = copy_strv((const char *const *)pf->writable, NULL);
    out->uid = pf->uid;
    out->gid = pf->gid;
    if (!out->command || !out->handler || !out->cwd || !out->argv || !out->env ||
        !out->writable) {
        faas__proc_spec_free(out);
        return FAAS_ENOMEM;
    }
    return FAAS_OK;
}

int faas__process_adopt(faas_function *fn, faas__proc_spec *spec, char *snapshot)
{
    proc_fn *pf = calloc(1, sizeof *pf);
    if (pf == NULL) {
        faas__proc_spec_free(spec);
        faas__tree_remove(snapshot);
        free(snapshot);
        return FAAS_ENOMEM;
    }
    pthread_mutex_init(&pf->lock, NULL);
    pf->command = spec->command;
    pf->handler = spec->handler;
    pf->cwd = spec->cwd;
    pf->argv = spec->argv;
    pf->env = spec->env;
    pf->writable = spec->writable;
    pf->uid = spec->uid;
    pf->gid = spec->gid;
    pf->snapshot = snapshot;
    memset(spec, 0, sizeof *spec);
    fn->isolated = true;
    fn->iso_ops = &hooks;
    fn->iso = pf;
    return FAAS_OK;
}

/* path is dir or below it (both real paths). */
static bool path_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/' ||
                                          (n == 1 && dir[0] == '/'));
}

/* faas_process_config.writable as real paths, NULL-terminated, in *out; FAAS_OK, or
 * FAAS_EINVAL with the error set (not a directory, "/", the journal's, too many). */
static int writable_dirs(faas_runtime *rt, const char *const *dirs, const char *name,
                         char ***out)
{
    size_t n = 0;
    while (dirs != NULL && dirs[n] != NULL)
        n++;
    if (n > FAAS_PROCESS_WRITABLE_MAX)
        return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: %zu writable "
                          "directories: %d at most", name, n, FAAS_PROCESS_WRITABLE_MAX);
    char **w = calloc(n + 1, sizeof *w);
    if (w == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_register_process: out of memory");
    const char *journal = rt != NULL && rt->journal ? faas__journal_path(rt->journal) : NULL;
    char *jreal = journal ? realpath(journal, NULL) : NULL;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        const char *why = NULL;
        w[i] = dirs[i][0] != '\0' ? realpath(dirs[i], NULL) : NULL;
        if (w[i] == NULL)
            why = dirs[i][0] != '\0' ? strerror(errno) : "empty";
        else if (stat(w[i], &st) != 0 || !S_ISDIR(st.st_mode))
            why = "not a directory";
        else if (strcmp(w[i], "/") == 0)
            why = "the whole tree cannot be writable";
        else if (jreal != NULL && (path_below(w[i], jreal) || path_below(jreal, w[i])))
            why = "it holds the journal, or the journal holds it";
        if (why != NULL) {
            faas__strv_free(w);
            free(jreal);
            return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: writable "
                              "directory %.200s: %s", name, dirs[i], why);
        }
    }
    free(jreal);
    *out = w;
    return FAAS_OK;
}

int faas_register_process(faas_runtime *rt, const char *name, const faas_process_config *pc,
                          const faas_config *cfg)
{
    faas_process_config c;
    int rc = faas__abi_copy(&c, sizeof c, pc, PROCESS_CONFIG_V1, "faas_register_process");
    if (rc != FAAS_OK)
        return rc;
    if (pc == NULL || c.command == NULL || c.command[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_register_process: a command is required");
    if (cfg != NULL && cfg->environment != NULL)
        return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: a process function's "
                          "environment is faas_process_config.environment, not "
                          "faas_config.environment", name ? name : "(null)");
    if (cfg != NULL && (cfg->init != NULL || cfg->shutdown != NULL ||
                        cfg->isolation != FAAS_ISOLATE_NONE || cfg->seccomp != 0))
        return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: init, shutdown, "
                          "isolation and seccomp are not for process functions (their "
                          "instances are processes already)", name ? name : "(null)");
    if (cfg != NULL && cfg->user != NULL)
        return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: a runtime's user is "
                          "faas_process_config.user, not faas_config.user",
                          name ? name : "(null)");
    rc = faas__env_check(c.environment, "faas_register_process", name);
    if (rc != FAAS_OK)
        return rc;
    int uid, gid;
    rc = faas__user_lookup(c.user, "faas_register_process", name ? name : "(null)",
                           "runtimes", &uid, &gid);
    if (rc != FAAS_OK)
        return rc;
    proc_fn *pf = calloc(1, sizeof *pf);
    if (pf == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_register_process: out of memory");
    pthread_mutex_init(&pf->lock, NULL);
    pf->uid = uid;
    pf->gid = gid;
    /* Both absolute: the process starts in cwd, where a relative command would not be
     * found, and LAMBDA_TASK_ROOT is a path the runtime uses from anywhere. */
    pf->command = strchr(c.command, '/') ? realpath(c.command, NULL) : strdup(c.command);
    pf->handler = strdup(c.handler ? c.handler : "");
    if (c.cwd != NULL) {
        pf->cwd = realpath(c.cwd, NULL);
    } else {
        const char *slash = strrchr(c.command, '/');
        char *d = slash ? strndup(c.command, slash == c.command ? 1
                                                                : (size_t)(slash - c.command))
                        : strdup(".");
        pf->cwd = d ? realpath(d, NULL) : NULL;
        free(d);
    }
    if ((pf->command == NULL || pf->cwd == NULL) && errno != ENOMEM) {
        int e = errno;
        bool cmd = pf->command == NULL;
        pf_free(pf);
        return faas__fail(FAAS_EINVAL, "faas_register_process %.80s: %s %.200s: %s",
                          name ? name : "(null)", cmd ? "command" : "cwd",
                          cmd ? c.command : (c.cwd ? c.cwd : "(its directory)"), strerror(e));
    }
    rc = writable_dirs(rt, c.writable, name ? name : "(null)", &pf->writable);
    if (rc != FAAS_OK) {
        pf_free(pf);
        return rc;
    }
    pf->argv = copy_strv(c.argv, c.command);
    pf->env = copy_strv(c.environment, NULL);
    if (pf->command == NULL || pf->handler == NULL || pf->cwd == NULL || pf->argv == NULL ||
        pf->env == NULL) {
        pf_free(pf);
        return faas__fail(FAAS_ENOMEM, "faas_register_process: out of memory");
    }
    return faas__register_hooked(rt, name, cfg, &hooks, pf);
}
