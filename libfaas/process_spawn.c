/*
 * process_spawn.c - starting and ending a process instance's runtime (process_spawn.h)
 * through the runtime's spawner: one faas-spawner per runtime (process_spawner.c; the wire
 * is isolate.h's SPARE, TAKEN and REAP, and EXEC to a spare init), started at the first
 * process instance and stopped when the runtime and its last instance are gone. One
 * exchange at a time (its lock): a cold start sends EXEC to the spare init the spawner
 * offered, reads its STARTED, and tells the spawner TAKEN without waiting for the next
 * SPARE (read when the next cold start needs it). A spawner found dead is started again,
 * and the instances it had are gone with it (their inits die with it); a spare found dead
 * is replaced by the next. When it cannot start (no faas-spawner), runtimes are spawned
 * directly, and the log says once that their processes are not contained.
 */
#include "internal.h"

#include "isolate.h"
#include "process_spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define START_LIMIT_MS 10000u     /* the spawner's own start */
#define EXEC_LIMIT_MS  10000u     /* a runtime's fork and exec in the spawner */
#define REAP_LIMIT_MS  5000u      /* an instance's processes killed and reaped */

/* ---- directly ------------------------------------------------------------------------- */

static int spawn_direct(const faas__pspawn_req *q, faas__pspawn_proc *p, char *err,
                        size_t errlen)
{
    int rc = faas__spawn_runtime(q, true, &p->pid);
    if (rc != 0) {
        snprintf(err, errlen, "posix_spawn(\"%s\"): %s", q->path, strerror(rc));
        return FAAS_EINIT;
    }
    p->group = p->pid;
    p->sp = NULL;
    p->gen = 0;
    p->reaped = p->oom = p->pidns = false;
    return FAAS_OK;
}

/* ---- through the spawner -------------------------------------------------------------- */

#ifndef FAAS_SPAWNER_PATH
# define FAAS_SPAWNER_PATH "faas-spawner"
#endif

static const char *spawner_path(void)
{
    const char *p = getenv("FAAS_SPAWNER");     /* the build tree's, for tests */
    return p != NULL && p[0] != '\0' ? p : FAAS_SPAWNER_PATH;
}

/* The spawner: the runtime's part holds a reference, and each instance it started one, so
 * that it outlives them all (the parts are freed before the instances are closed). */
typedef struct faas__spawner {
    atomic_uint     refs;
    pthread_mutex_t lock;         /* protects the rest: one round trip at a time */
    int             pid, ctl;     /* 0 / -1 when none runs */
    int             spare;        /* a spare init's socket, or -1: none offered yet */
    int             spare_init;   /* its pid */
    int             spare_err;    /* or the errno of its fork (no spare then) */
    unsigned        gen;          /* one more at each start */
    bool            direct;       /* it could not start: runtimes are spawned directly */
    bool            userns_said;  /* the log said runtimes have no user namespace */
    bool            view_said;    /* ... that their view of its files is not read-only */
    bool            proc_said;    /* ... that their /proc is the host's */
    char           *warning;      /* to log once the lock is dropped, or NULL: lines
                                     separated by '\n' */
    unsigned char  *buf;          /* FAAS__ISO_MSG_MAX bytes: an EXEC */
} spawner;

typedef struct spawner_part {
    faas__part base;
    spawner   *s;
} spawner_part;

static void spawner_stop(spawner *s, bool kill_now)
{
    if (s->pid > 0)
        faas__helper_stop(s->pid, s->ctl, kill_now);
    if (s->spare >= 0)
        close(s->spare);
    s->pid = 0;
    s->ctl = -1;
    s->spare = -1;
    s->spare_err = 0;
}

static void spawner_unref(spawner *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    spawner_stop(s, false);             /* EOF: it kills what it still has, and exits */
    pthread_mutex_destroy(&s->lock);
    free(s->warning);
    free(s->buf);
    free(s);
}

static void part_free(faas__part *part)
{
    spawner_part *sp = (spawner_part *)part;
    spawner_unref(sp->s);
    free(sp);
}

static const faas__part_ops spawner_ops = { NULL, part_free };

static faas__part *part_create(faas_runtime *rt)
{
    (void)rt;
    spawner_part *sp = calloc(1, sizeof *sp);
    spawner *s = calloc(1, sizeof *s);
    if (sp == NULL || s == NULL || (s->buf = malloc(FAAS__ISO_MSG_MAX)) == NULL) {
        free(sp);
        free(s);
        faas__fail(FAAS_ENOMEM, "the process instances' spawner: out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);           /* the part's */
    pthread_mutex_init(&s->lock, NULL);
    s->ctl = -1;
    s->spare = -1;
    sp->s = s;
    sp->base.ops = &spawner_ops;
    return &sp->base;
}

/* Wait until fd is readable or limit_ms passed: true if readable. */
static bool readable(int fd, unsigned limit_ms)
{
    return faas__helper_wait(fd, faas__sys_mono_ns() + (uint64_t)limit_ms * 1000000u) == 1;
}

/* Requires s->lock. Start the spawner; false if it cannot be (s->direct from then on,
 * with the warning to log). */
static bool spawner_start(spawner *s)
{
    char wire[16], hello[sizeof(faas__iso_hello) + 1400], err[512];
    snprintf(wire, sizeof wire, "%x", (unsigned)FAAS__ISO_WIRE);
    char *argv[] = { (char *)"faas-spawner", wire, NULL };
    long n;
    int rc = faas__helper_start(spawner_path(), argv, NULL, 0, START_LIMIT_MS, &s->pid, &s->ctl,
                                hello, sizeof hello, &n, err, sizeof err);
    faas__iso_hello h;
    if (rc == FAAS_OK)
        memcpy(&h, hello, sizeof h);
    if (rc != FAAS_OK || h.status != FAAS_OK) {
        if (rc == FAAS_OK)
            spawner_stop(s, true);
        s->direct = true;
        free(s->warning);
        if (asprintf(&s->warning, "WARNING process instances are spawned directly, their "
                     "processes not contained (nor pids_max, memory_mb, user and a read-only "
                     "view of this host's files kept): the spawner "
                     "did not start: %s",
                     rc != FAAS_OK ? err : "out of memory") < 0)
            s->warning = NULL;
        return false;
    }
    s->gen++;
    /* The text: "pid namespaces" or "no pid namespaces: why", then on lines of their own
     * how pids_max and memory_mb are kept (isolate_cgroup.c's words). */
    hello[n < (long)sizeof hello ? n : (long)sizeof hello - 1] = '\0';
    char *what = hello + sizeof h, *pids = strchr(what, '\n'), *mem = NULL;
    if (pids != NULL) {
        *pids++ = '\0';
        if ((mem = strchr(pids, '\n')) != NULL)
            *mem++ = '\0';
    }
    /* What is not kept, each in its own clause. */
    char clause[3][1500];
    int nc = 0;
    if (strncmp(what, "no ", 3) == 0)
        snprintf(clause[nc++], sizeof clause[0], "they are process groups only (a process "
                 "that leaves its group outlives them, and a runtime may signal any process "
                 "of its user%s): %.1200s", geteuid() != 0 ? ", this host included" : "", what);
    if (h.pids == FAAS__ISO_PIDS_NONE)
        snprintf(clause[nc++], sizeof clause[0], "pids_max is not enforced: %s",
                 pids ? pids : "?");
    if (!h.memory)
        snprintf(clause[nc++], sizeof clause[0], "memory_mb is not enforced: %s",
                 mem ? mem : "?");
    free(s->warning);
    s->warning = NULL;
    if (nc > 0 && asprintf(&s->warning, "WARNING process instances: %s%s%s%s%s", clause[0],
                           nc > 1 ? "; " : "", nc > 1 ? clause[1] : "", nc > 2 ? "; " : "",
                           nc > 2 ? clause[2] : "") < 0)
        s->warning = NULL;
    return true;
}

/* exec_round's answers besides FAAS_OK and the FAAS_E* statuses: */
#define SPAWNER_GONE   1        /* the spawner died or hangs: start another */
#define SPARE_GONE     2        /* its spare did not answer: the next one is tried */

/* Requires s->lock. Read the spawner's messages until one of type want (its length, in m)
 * has come: a SPARE on the way is kept, whichever is wanted. -1 if the spawner is gone or
 * silent for limit_ms. */
typedef union ctl_msg {
    uint32_t        type;
    faas__iso_spare spare;
    faas__iso_reap  reap;
} ctl_msg;

static long ctl_read(spawner *s, uint32_t want, ctl_msg *m, unsigned limit_ms)
{
    for (;;) {
        int fd = -1;
        long n = readable(s->ctl, limit_ms) ? faas__iso_recv(s->ctl, m, sizeof *m, &fd, true)
                                            : -1;
        if (n == (long)sizeof m->spare && m->type == FAAS__ISO_SPARE) {
            if (s->spare >= 0)
                close(s->spare);        /* cannot be: one at a time */
            s->spare = m->spare.err == 0 ? fd : -1;
            s->spare_init = m->spare.init;
            s->spare_err = m->spare.err == 0 && fd < 0 ? EPROTO : m->spare.err;
            if (s->spare < 0 && fd >= 0)
                close(fd);
            if (want == FAAS__ISO_SPARE)
                return n;
            continue;
        }
        if (fd >= 0)
            close(fd);
        return n > 0 && m->type == want ? n : -1;
    }
}

/* Requires s->lock. Tell the spawner its spare was used (runtime 0: it is to be ended);
 * its next SPARE is read when it is needed. False if the spawner is gone. */
static bool taken(spawner *s, int init, int runtime)
{
    faas__iso_taken t = { FAAS__ISO_TAKEN, init, runtime };
    struct iovec iov = { &t, sizeof t };
    return faas__iso_send(s->ctl, &iov, 1, -1) == 0;
}

/* Requires s->lock. Start a runtime in the spare init: EXEC to it, STARTED from it (one
 * round trip, the spawner not on the path), then TAKEN to the spawner; FAAS_OK,
 * SPAWNER_GONE, SPARE_GONE (killed from outside: the spawner ends it and offers another),
 * or a status with err. */
static int exec_round(spawner *s, const faas__pspawn_req *q, faas__pspawn_proc *p, char *err,
                      size_t errlen)
{
    ctl_msg m;
    if (s->spare < 0 && s->spare_err == 0 && ctl_read(s, FAAS__ISO_SPARE, &m, EXEC_LIMIT_MS) < 0)
        return SPAWNER_GONE;
    if (s->spare < 0) {
        int e = s->spare_err;
        s->spare_err = 0;
        snprintf(err, errlen, "fork(\"%s\") for the runtime: %s", q->path, strerror(e));
        if (!taken(s, 0, 0))
            return SPAWNER_GONE;
        return e == ENOMEM || e == EAGAIN ? FAAS_ENOMEM : FAAS_EINIT;
    }
    faas__iso_exec e = { FAAS__ISO_EXEC, 0, 0, 0, q->pids_max, q->memory_mb, q->uid, q->gid,
                         0 };
    size_t len = 0, room = FAAS__ISO_MSG_MAX - sizeof e;
    char *out = (char *)s->buf + sizeof e;
    bool fits = true;
#define PUT(str)                                                    \
    do {                                                            \
        size_t l_ = strlen(str) + 1;                                \
        if (l_ > room - len)                                        \
            fits = false;                                           \
        else                                                        \
            memcpy(out + len, (str), l_), len += l_;                \
    } while (0)
    PUT(q->path);
    for (char *const *a = q->argv; *a != NULL && fits; a++, e.argc++)
        PUT(*a);
    for (char *const *v = q->envp; *v != NULL && fits; v++, e.envc++)
        PUT(*v);
    PUT(q->cwd);
    PUT(q->hide ? q->hide : "");
    for (char *const *w = q->writable; w != NULL && *w != NULL && fits; w++, e.writable++)
        PUT(*w);
#undef PUT
    if (!fits || e.argc == 0) {
        snprintf(err, errlen, "%s: its command, arguments, environment and directory "
                 "%s", q->path, fits ? "name no program (argv is empty)"
                                      : "exceed 64 KB");
        return FAAS_EINIT;              /* the spare stays for the next */
    }
    e.len = (uint32_t)len;
    memcpy(s->buf, &e, sizeof e);
    struct iovec iov = { s->buf, sizeof e + len };
    int fds[2] = { q->out, q->fd3 }, init = s->spare_init;
    faas__iso_started r;
    int fd = -1;
    bool ok = faas__iso_send_fds(s->spare, &iov, 1, fds, 2) == 0 &&
              readable(s->spare, EXEC_LIMIT_MS) &&
              faas__iso_recv(s->spare, &r, sizeof r, &fd, true) == (long)sizeof r;
    if (fd >= 0)
        close(fd);
    close(s->spare);                    /* the spawner keeps its own end */
    s->spare = -1;
    if (!taken(s, init, ok && r.code > 0 ? r.code : 0))
        return SPAWNER_GONE;
    if (!ok) {
        snprintf(err, errlen, "%s: the runtime's init did not answer its start", q->path);
        return SPARE_GONE;
    }
    if (r.code <= 0) {
        r.where[sizeof r.where - 1] = '\0';
        snprintf(err, errlen, "%s(\"%s\") for the runtime: %s", r.where, q->path,
                 strerror(-r.code));
        return r.code == -ENOMEM || r.code == -EAGAIN ? FAAS_ENOMEM : FAAS_EINIT;
    }
    if (r.userns < 0 && !s->userns_said && s->warning == NULL) {
        s->userns_said = true;
        /* uid -1: the host's own user, whose processes the host is one of. */
        if (asprintf(&s->warning, "WARNING process instances: runtimes run as uid %d share "
                     "it without a user namespace of their own (%s): one may read another's "
                     "memory and environment%s", q->uid >= 0 ? q->uid : (int)geteuid(),
                     strerror(-r.userns), q->uid >= 0 ? "" : ", and write this host's") < 0)
            s->warning = NULL;
    }
    char *view = NULL;
    if (r.view < 0 && !s->view_said &&
        asprintf(&view, "%s%sWARNING process instances: runtimes do not see this host's "
                 "files read-only (%s: %s): one may change those its user may%s%s",
                 s->warning ? s->warning : "", s->warning ? "\n" : "",
                 faas__iso_view_step(r.view_step), strerror(-r.view),
                 q->hide ? ", the journal " : "", q->hide ? q->hide : "") >= 0) {
        s->view_said = true;
        free(s->warning);               /* a second line after the first */
        s->warning = view;
    }
    if (r.view == 1 && r.view_step == FAAS__ISO_VIEW_PROC && !s->proc_said &&
        asprintf(&view, "%s%sWARNING process instances: runtimes see this host's /proc (none "
                 "of their own could be mounted here): one may list its processes and read "
                 "their command lines", s->warning ? s->warning : "",
                 s->warning ? "\n" : "") >= 0) {
        s->proc_said = true;
        free(s->warning);
        s->warning = view;
    }
    p->pid = r.code;
    p->group = init;
    p->gen = s->gen;
    p->reaped = p->oom = false;
    p->pidns = r.pidns == 1;
    return FAAS_OK;
}

int faas__pspawn_start(faas_runtime *rt, const faas__pspawn_req *q, faas__pspawn_proc *p,
                       char *err, size_t errlen)
{
    spawner_part *part = (spawner_part *)faas__part_get(rt, &spawner_ops, part_create);
    if (part == NULL) {
        snprintf(err, errlen, "%s", faas_last_error());
        return FAAS_ENOMEM;
    }
    spawner *s = part->s;
    int rc = SPAWNER_GONE;
    pthread_mutex_lock(&s->lock);
    for (int tries = 0; tries < 3 && rc > 0 && !s->direct; tries++) {
        if (s->pid <= 0 && !spawner_start(s))
            break;
        rc = exec_round(s, q, p, err, errlen);
        if (rc == SPAWNER_GONE)
            spawner_stop(s, true);      /* it died, or hangs: kill it, start another */
    }
    bool direct = s->direct;
    char *warning = s->warning;
    s->warning = NULL;
    pthread_mutex_unlock(&s->lock);
    /* the sink is user code: never under the lock */
    for (char *line = warning, *nl; line != NULL; line = nl ? nl + 1 : NULL) {
        if ((nl = strchr(line, '\n')) != NULL)
            *nl = '\0';
        faas__log_line(rt, line);
    }
    free(warning);
    if (direct)
        return spawn_direct(q, p, err, errlen);
    if (rc == SPAWNER_GONE)
        snprintf(err, errlen, "the process instances' spawner stopped answering");
    if (rc > 0)
        return FAAS_EINIT;              /* with err */
    if (rc == FAAS_OK) {
        atomic_fetch_add(&s->refs, 1);  /* the instance's, until faas__pspawn_end */
        p->sp = s;
    }
    return rc;
}

/* The wait status REAP gives (and p->oom), or -1 if its spawner is gone since. */
static int reap_round(faas__pspawn_proc *p, bool exited)
{
    spawner *s = p->sp;
    int status = -1;
    pthread_mutex_lock(&s->lock);
    if (s->pid > 0 && s->gen == p->gen) {
        faas__iso_reap q = { FAAS__ISO_REAP, (int32_t)p->pid,
                             exited ? FAAS__ISO_REAP_EXITED : 0, 0 };
        struct iovec iov = { &q, sizeof q };
        ctl_msg m;
        if (faas__iso_send(s->ctl, &iov, 1, -1) == 0 &&
            ctl_read(s, FAAS__ISO_REAPED, &m, REAP_LIMIT_MS) == (long)sizeof m.reap &&
            m.reap.pid == q.pid) {
            status = m.reap.status;
            p->oom = m.reap.oom_kills > 0;
        } else {
            spawner_stop(s, true);      /* gone or stuck: its instances die with it */
        }
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

void faas__pspawn_kill(const faas__pspawn_proc *p)
{
    if (!p->reaped)
        kill(-p->group, SIGKILL);
}

int faas__pspawn_end(faas__pspawn_proc *p, bool exited)
{
    if (p->reaped)
        return 0;
    p->reaped = true;
    int status = SIGKILL;               /* as waitpid says "killed by SIGKILL" */
    if (p->sp == NULL) {
        kill(-p->group, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
            ;
        return status;
    }
    int st = reap_round(p, exited);     /* the spawner kills and reaps it */
    spawner_unref(p->sp);
    p->sp = NULL;
    return st == -1 ? SIGKILL : st;
}
