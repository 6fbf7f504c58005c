/* test_isolate_boundary.c - process isolation as a security boundary (faas-isolation(7),
 * design.md "Isolation is a security boundary"): a module under isolation = process, in each
 * seccomp profile, attacks its host and its own sandbox (tests/modules/mod_hostile.c), and
 * the host lives on, other functions are unaffected, and the module's whole process tree is
 * bounded and dies with its instance:
 *   - the shared payload regions are sealed: ftruncate() cannot turn the host's next copy
 *     into a SIGBUS, and a region or lengths the instance forges are refused;
 *   - signals (and ptrace, process_vm_writev, ...) reach only the instance's own processes;
 *   - every descendant is killed with its instance (retired, timed out, crashed, freed,
 *     host gone), a timeout takes timeout_ms even when children hold the channel, and
 *     pids_max stops a fork bomb;
 *   - an instance that died while idle costs the next call nothing but a cold start;
 *   - the payload a handler gets is followed by a NUL byte, inline or shared. */
#include "deface.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <grp.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static bool built;                  /* this libfaas has process isolation */

static const int profiles[] = { FAAS_SECCOMP_NONE, FAAS_SECCOMP_NO_NETWORK,
                                FAAS_SECCOMP_STRICT };
static const char *const profile_names[] = { "none", "no-network", "strict" };

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A log sink that also wakes a waiter when a line holding `want` arrives. */
typedef struct sink {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    char            text[65536];    /* every line, newline-separated (the first 64 KB) */
    size_t          len;
} sink;

static void sink_init(sink *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void sink_free(sink *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void sink_line(const char *line, void *arg)
{
    sink *s = arg;
    pthread_mutex_lock(&s->mu);
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s\n", line);
    if (n > 0)
        s->len += (size_t)n < sizeof s->text - s->len ? (size_t)n : sizeof s->text - s->len - 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int occurrences(const char *text, const char *want)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, want)) != NULL; p++)
        n++;
    return n;
}

/* Wait (at most limit_ms) until want occurs count times in the lines; true if it did. */
static bool sink_wait(sink *s, const char *want, int count, unsigned limit_ms)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += limit_ms / 1000;
    at.tv_nsec += (long)(limit_ms % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (occurrences(s->text, want) < count && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &at);
    bool found = occurrences(s->text, want) >= count;
    pthread_mutex_unlock(&s->mu);
    return found;
}

static bool sink_has(sink *s, const char *want)
{
    pthread_mutex_lock(&s->mu);
    bool found = strstr(s->text, want) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

static faas_runtime *runtime(sink *s, unsigned workers)
{
    return plain_runtime(workers, s != NULL ? sink_line : NULL, s);
}

static faas_config hostile_config(int seccomp)
{
    faas_config c;
    faas_config_init(&c);
    c.isolation = FAAS_ISOLATE_PROCESS;
    c.seccomp = seccomp;
    c.timeout_ms = 10000;
    return c;
}

static void reg(faas_runtime *rt, const char *name, const faas_config *c)
{
    int rc = faas_register_module(rt, name, test_module("mod_hostile.so"), "attack", c);
    if (rc != FAAS_OK)
        fail_msg("register %s: %s: %s", name, faas_err_name(rc), faas_last_error());
}

static int callf(faas_runtime *rt, const char *name, faas_response *res, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int callf(faas_runtime *rt, const char *name, faas_response *res, const char *fmt, ...)
{
    char p[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    return faas_invoke(rt, name, p, strlen(p), res);
}

/* The call ended as wanted, and its message holds want (when not NULL). */
static void expect(const faas_response *res, int rc, int status, const char *want,
                   const char *what)
{
    if (rc != status)
        fail_msg("%s: %s, not %s: %s%s", what, faas_err_name(rc), faas_err_name(status),
                 res->error_message ? res->error_message : "",
                 res->status == FAAS_OK ? (const char *)res->data : "");
    if (want != NULL) {
        const char *msg = status == FAAS_OK ? res->data : res->error_message;
        if (msg == NULL || strstr(msg, want) == NULL)
            fail_msg("%s: \"%s\" does not hold \"%s\"", what, msg ? msg : "(null)", want);
    }
}

/* ---- processes ----------------------------------------------------------------------- */

typedef struct proc_id {
    pid_t              pid;
    unsigned long long start;      /* its start time (/proc/PID/stat field 22): pids recycle */
} proc_id;

/* PID's start time and state, or 0 if there is no such process. */
static unsigned long long proc_start(pid_t pid, char *state)
{
    char buf[1024];
    const char *p = proc_stat_fields(pid, buf, sizeof buf);
    if (p == NULL)
        return 0;
    char st = '?';
    unsigned long long start = 0;
    /* after comm: state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice threads itrealvalue starttime(22) */
    if (sscanf(p, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
               "%*d %*d %llu", &st, &start) != 2)
        return 0;
    if (state != NULL)
        *state = st;
    return start;
}

/* Is this process still in /proc (running or a zombie)? (Start time 0: it was gone already
 * when its pid was read.) */
static bool exists(const proc_id *p)
{
    return p->pid > 0 && p->start != 0 && proc_start(p->pid, NULL) == p->start;
}

/* The pids in text after each "kid " (from the log tail), with their start times. */
static int kids_of(const char *text, proc_id *out, int max)
{
    int n = 0;
    for (const char *p = text; p != NULL && (p = strstr(p, "kid ")) != NULL && n < max; p += 4) {
        pid_t pid = (pid_t)atoi(p + 4);
        if (pid <= 0)
            continue;
        out[n].pid = pid;
        out[n].start = proc_start(pid, NULL);
        n++;
    }
    return n;
}

/* How many of them are left; waits up to limit_ms for them to go (0: look once). The
 * processes die of a SIGKILL, which the kernel delivers asynchronously only after a tree
 * was given up from outside (the host-exit test); elsewhere they must be gone already. */
static int left(const proc_id *p, int n, unsigned limit_ms)
{
    uint64_t deadline = now_ns() + MS(limit_ms);
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += exists(&p[i]);
        if (alive == 0 || now_ns() >= deadline)
            return alive;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);               /* polling the kernel's progress, not a race */
    }
}

/* The zygote this process started for the function name, or 0. */
static pid_t zygote_of(const char *name)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while (found == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 2, f);
        fclose(f);
        buf[got] = buf[got + 1] = '\0';
        /* argv[0] is the libtool wrapper's choice: any path ending in faas-zygote. */
        size_t l0 = strlen(buf);
        if (l0 >= 11 && strcmp(buf + l0 - 11, "faas-zygote") == 0 &&
            strcmp(buf + l0 + 1, name) == 0 && parent_of(pid) == getpid())
            found = pid;
    }
    closedir(d);
    return found;
}

/* This test program's mark, in the environment its zygotes (and so their instances and
 * whatever those fork) inherit: other programs' instances may run at the same time. */
static char mark[64];

/* The live processes named "faas-instance" (instances and whatever they forked) that came
 * from this test program. */
static int instance_processes(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], comm[64] = "", env[16384];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        bool named = fgets(comm, sizeof comm, f) != NULL &&
                     strncmp(comm, "faas-instance", 13) == 0;
        fclose(f);
        char st = '?';
        if (!named || proc_start((pid_t)atoi(e->d_name), &st) == 0 || st == 'Z')
            continue;
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        size_t got = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        env[got] = '\0';
        for (size_t i = 0; i < got; i += strlen(env + i) + 1) {
            if (strcmp(env + i, mark) == 0) {
                n++;
                break;
            }
        }
    }
    closedir(d);
    return n;
}

static int reply_int(const faas_response *res, const char *key)
{
    const char *p = res->data ? strstr(res->data, key) : NULL;
    return p ? atoi(p + strlen(key)) : -1;
}

/* ---- 1. the shared regions are sealed ------------------------------------------------ */

static void test_sealed_regions(void **state)
{
    (void)state;
    if (!built)
        skip();
    size_t n = 100000;                      /* past the 60 KB of a message: a shared region */
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    for (size_t p = 0; p < 3; p++) {
        faas_runtime *rt = runtime(NULL, 0);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        faas_response res, cut;
        /* The host's region (the payload), passed to the instance. */
        ASSERT_OK(faas_invoke(rt, "h", big, n, &res));
        assert_int_equal(res.len, n);
        faas_response_free(&res);
        ASSERT_OK(callf(rt, "h", &cut, "truncate"));
        /* The copy that died of SIGBUS when the region could be cut; then the verdict. */
        ASSERT_OK(faas_invoke(rt, "h", big, n, &res));
        assert_memory_equal(res.data, big, n);
        faas_response_free(&res);
        if (strncmp(cut.data, "cut 0 refused 1 errno 1", 23) != 0)   /* EPERM: sealed */
            fail_msg("%s: the payload region: %s", profile_names[p], (char *)cut.data);
        faas_response_free(&cut);
        /* The instance's own region (a reply past 60 KB), adopted by the host, which then
         * writes the next payload into it. */
        ASSERT_OK(faas_invoke(rt, "h", big, n, &res));
        faas_response_free(&res);
        ASSERT_OK(callf(rt, "h", &cut, "truncate"));
        ASSERT_OK(faas_invoke(rt, "h", big, n, &res));
        assert_memory_equal(res.data, big, n);
        faas_response_free(&res);
        if (strncmp(cut.data, "cut 0 refused ", 14) != 0)
            fail_msg("%s: the reply region: %s", profile_names[p], (char *)cut.data);
        faas_response_free(&cut);

        /* A region the instance made without sealing it is not touched. */
        expect(&res, callf(rt, "h", &res, "forge-region"), FAAS_ECRASHED, "not sealed",
               "forge-region");
        faas_response_free(&res);
        /* Lengths that wrap around are not believed. */
        expect(&res, callf(rt, "h", &res, "forge-lengths"), FAAS_ECRASHED, "malformed",
               "forge-lengths");
        faas_response_free(&res);
        ASSERT_OK(faas_invoke(rt, "h", big, n, &res));       /* and the host goes on */
        assert_memory_equal(res.data, big, n);
        faas_response_free(&res);
        faas_runtime_free(rt);
    }
    free(big);
}

/* ---- 2. signals reach only the instance's own processes ------------------------------ */

static volatile char canary = 'c';      /* what process_vm_writev aims at */

static void test_signals_contained(void **state)
{
    (void)state;
    if (!built)
        skip();
    int host = (int)getpid();
    /* The system calls that act on another process, each aimed at the host with SIGKILL,
     * and the name the refusal gives. */
    static const struct { const char *attack, *syscall; } kills[] = {
        { "kill", "kill()" }, { "kill-wide", "kill()" }, { "tkill", "tkill()" },
        { "tgkill", "tgkill()" }, { "sigqueue", "rt_sigqueueinfo()" },
        { "tgsigqueue", "rt_tgsigqueueinfo()" }, { "pidfd", "pidfd_send_signal()" },
        { "ptrace", "ptrace()" }, { "prlimit", "prlimit64()" }, { "setowner", "fcntl()" },
    };
    for (size_t p = 0; p < 3; p++) {
        faas_runtime *rt = runtime(NULL, 0);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        reg(rt, "other", &c);
        faas_response res;
        for (size_t k = 0; k < sizeof kills / sizeof kills[0]; k++) {
            char what[96];
            snprintf(what, sizeof what, "%s: %s", profile_names[p], kills[k].attack);
            int rc = callf(rt, "h", &res, "signal %s %d 9", kills[k].attack, host);
            expect(&res, rc, FAAS_ECRASHED, NULL, what);
            /* strict refuses some of them (or the pipe() or pidfd_open() before them) by
             * itself, and says so. */
            if (strstr(res.error_message, kills[k].syscall) == NULL &&
                (profiles[p] != FAAS_SECCOMP_STRICT ||
                 strstr(res.error_message, "profile \"strict\"") == NULL))
                fail_msg("%s: \"%s\" does not name %s", what, res.error_message,
                         kills[k].syscall);
            faas_response_free(&res);
        }
        /* Every process the user may signal; the function's zygote's group. */
        expect(&res, callf(rt, "h", &res, "signal kill -1 0"), FAAS_ECRASHED, "kill()",
               profile_names[p]);
        faas_response_free(&res);
        ASSERT_OK(callf(rt, "other", &res, "hello"));      /* the zygote runs: its group */
        faas_response_free(&res);
        pid_t zygote = zygote_of("other");
        assert_true(zygote > 0);
        expect(&res, callf(rt, "h", &res, "signal kill %d 9", -(int)zygote), FAAS_ECRASHED,
               "kill()", profile_names[p]);
        faas_response_free(&res);
        /* Memory of another process, and leaving the process group. */
        expect(&res, callf(rt, "h", &res, "signal vmwrite %d 0 %llx", host,
                           (unsigned long long)(uintptr_t)&canary),
               FAAS_ECRASHED, "process_vm_writev()", profile_names[p]);
        faas_response_free(&res);
        assert_int_equal(canary, 'c');
        expect(&res, callf(rt, "h", &res, "signal setpgid 0 0"), FAAS_ECRASHED, "setpgid()",
               profile_names[p]);
        faas_response_free(&res);
        expect(&res, callf(rt, "h", &res, "signal setsid 0 0"), FAAS_ECRASHED, "setsid()",
               profile_names[p]);
        assert_non_null(strstr(res.error_message, "isolated instance"));
        faas_response_free(&res);

        /* What stays allowed: the instance's own process, and (where the profile allows
         * kill() and fork()) its process group, and a child that signals the host dies of
         * it alone. */
        expect(&res, callf(rt, "h", &res, "signal tgkill self 0"), FAAS_OK, "rc=0",
               profile_names[p]);
        faas_response_free(&res);
        if (profiles[p] != FAAS_SECCOMP_STRICT) {
            expect(&res, callf(rt, "h", &res, "signal kill self 0"), FAAS_OK, "rc=0",
                   profile_names[p]);
            faas_response_free(&res);
            expect(&res, callf(rt, "h", &res, "signal kill 0 0"), FAAS_OK, "rc=0",
                   profile_names[p]);
            faas_response_free(&res);
            expect(&res, callf(rt, "h", &res, "child-kill %d 9", host), FAAS_OK,
                   "child signal 31", profile_names[p]);        /* SIGSYS */
            faas_response_free(&res);
        }
        /* The other function never noticed. */
        ASSERT_OK(callf(rt, "other", &res, "hello"));
        assert_int_equal(res.record.cold, 0);
        faas_response_free(&res);
        faas_runtime_free(rt);
    }
}

/* An instance cannot open the host's memory, nor another function's instance's, through
 * /proc/PID/mem (the file system is not filtered, and the instance runs as the host's
 * user): each instance is in a user namespace of its own, and the kernel grants that open
 * only with a right in the other process's. Its own memory it may open. Under strict,
 * open() itself is refused. Where no user namespace can be made (TSan's threaded
 * instances), the log says so and the refusals are not asserted. */
static void test_memory_of_others_closed(void **state)
{
    (void)state;
    if (!built)
        skip();
    int host = (int)getpid();
    for (size_t p = 0; p < 3; p++) {
        sink s;
        sink_init(&s);
        faas_runtime *rt = runtime(&s, 0);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        reg(rt, "other", &c);
        faas_response res;
        ASSERT_OK(callf(rt, "other", &res, "pid"));
        int other = 0;
        assert_int_equal(sscanf((const char *)res.data, "{\"pid\":%d}", &other), 1);
        faas_response_free(&res);
        const struct { int pid; const char *whose; } targets[] = {
            { 0, "its own" }, { host, "the host's" }, { other, "another function's" },
        };
        for (size_t t = 0; t < 3; t++) {
            char what[96];
            snprintf(what, sizeof what, "%s: %s memory", profile_names[p], targets[t].whose);
            int rc = t == 0 ? callf(rt, "h", &res, "mem self")
                            : callf(rt, "h", &res, "mem %d", targets[t].pid);
            if (profiles[p] == FAAS_SECCOMP_STRICT) {
                expect(&res, rc, FAAS_ECRASHED, "profile \"strict\"", what);
                faas_response_free(&res);
                continue;
            }
            expect(&res, rc, FAAS_OK, NULL, what);
            int opened = -1, err = -1;
            assert_int_equal(sscanf((const char *)res.data, "{\"opened\":%d,\"errno\":%d}",
                                    &opened, &err), 2);
            faas_response_free(&res);
            bool shared = sink_has(&s, "no user namespace of their own");
            print_message("# %s: %s (errno %d)%s\n", what, opened ? "opened" : "refused", err,
                          shared ? " (no user namespaces here)" : "");
            if (t == 0)
                assert_int_equal(opened, 1);
            else if (!shared) {
                assert_int_equal(opened, 0);
                /* ENOENT: a root host's instance has a /proc that shows only what it may
                 * trace (hidepid=invisible) */
                assert_true(err == EACCES || err == EPERM || err == ENOENT);
            }
        }
        faas_runtime_free(rt);
        sink_free(&s);
    }
}

/* Should the machine run out of memory, the OOM killer takes an isolated instance first
 * (oom_score_adj 1000), never the host, whose own is untouched. */
static void test_oom_killer_takes_instances_first(void **state)
{
    (void)state;
    if (!built)
        skip();
    int host_before = oom_score_adj_of((int)getpid());
    assert_int_not_equal(host_before, -2000);
    faas_runtime *rt = runtime(NULL, 0);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    reg(rt, "h", &c);
    faas_response res;
    ASSERT_OK(callf(rt, "h", &res, "pid"));
    int pid = 0;
    assert_int_equal(sscanf((const char *)res.data, "{\"pid\":%d}", &pid), 1);
    faas_response_free(&res);
    int inst = oom_score_adj_of(pid), host_after = oom_score_adj_of((int)getpid());
    faas_runtime_free(rt);              /* first: a failure leaves no instance behind */
    print_message("# the instance's oom_score_adj %d, the host's %d\n", inst, host_after);
    assert_int_equal(inst, 1000);
    assert_int_equal(host_after, host_before);
}

/* A manual runtime whose log goes to s (initialised here) and whose journal is the
 * directory journal. */
static faas_runtime *journal_runtime(sink *s, const char *journal)
{
    sink_init(s);
    return journal_plain_runtime(0, sink_line, s, journal);
}

/* mod_hostile's "spoil DIR" answer. */
typedef struct spoil_answer {
    int      umount, umount_own;        /* 0: an unmount succeeded, else its errno */
    unsigned seen, removed;
    int      created, err;
} spoil_answer;

static spoil_answer spoil_parse(const faas_response *res)
{
    spoil_answer a = { -1, -1, 0, 0, -1, -1 };
    assert_int_equal(sscanf((const char *)res->data, "{\"umount\":%d,\"umount_own\":%d,"
                            "\"seen\":%u,\"created\":%d,\"removed\":%u,\"errno\":%d}",
                            &a.umount, &a.umount_own, &a.seen, &a.created, &a.removed,
                            &a.err), 6);
    return a;
}

/* The host's journal (faas_options.journal_dir) is out of an instance's reach, though it
 * runs as the host's user: an empty, read-only tmpfs covers it in the instance's mount
 * namespace, made in a user namespace that the instance then leaves for one below it, with
 * no right to unmount it, there or in a namespace it makes of its own (the mount is locked
 * there). Under strict, opendir() itself is refused. Where no namespaces can be made
 * (TSan's threaded instances) the log says so and nothing is asserted. */
static void test_journal_hidden(void **state)
{
    (void)state;
    if (!built)
        skip();
    char dir[256], journal[300], lock[320];      /* outside /tmp: the view's own covers it */
    assert_non_null(outside_temp_dir(dir, sizeof dir, "faas-boundary-journal"));
    snprintf(journal, sizeof journal, "%s/j", dir);
    snprintf(lock, sizeof lock, "%s/lock", journal);
    for (size_t p = 0; p < 3; p++) {
        sink s;
        faas_runtime *rt = journal_runtime(&s, journal);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        faas_response res;
        int rc = callf(rt, "h", &res, "spoil %s", journal);
        if (profiles[p] == FAAS_SECCOMP_STRICT) {
            expect(&res, rc, FAAS_ECRASHED, "profile \"strict\"", profile_names[p]);
        } else {
            expect(&res, rc, FAAS_OK, NULL, profile_names[p]);
            spoil_answer a = spoil_parse(&res);
            bool open_here = sink_has(&s, "do not see this host's files read-only");
            print_message("# %s: unmount %d, in its own namespaces %d; saw %u, created %d, "
                          "removed %u (errno %d)%s\n", profile_names[p], a.umount, a.umount_own,
                          a.seen, a.created, a.removed, a.err,
                          open_here ? " (not hidden here: the log says so)" : "");
            if (!open_here) {
                assert_int_not_equal(a.umount, 0);
                assert_int_not_equal(a.umount_own, 0);
                assert_int_equal(a.seen, 0);
                assert_int_equal(a.created, 0);
                assert_int_equal(a.removed, 0);
            }
        }
        faas_response_free(&res);
        bool open_here = sink_has(&s, "do not see this host's files read-only");
        faas_runtime_free(rt);
        sink_free(&s);
        if (!open_here)
            assert_int_equal(access(lock, F_OK), 0);    /* the host's journal is whole */
    }
    remove_tree(dir);
}

/* The journal is hidden from an instance also through a working directory it inherited in
 * the host's /tmp (which its own /tmp covers, but "." still reaches): covered before
 * /tmp is. */
static void test_journal_hidden_below_cwd(void **state)
{
    (void)state;
    if (!built)
        skip();
    char dir[] = "/tmp/faas-boundary-cwd-XXXXXX", journal[64], lock[80], here[4096];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(here, sizeof here));
    snprintf(journal, sizeof journal, "%s/j", dir);
    snprintf(lock, sizeof lock, "%s/lock", journal);
    assert_int_equal(chdir(dir), 0);            /* the zygote, and so each instance, too */
    sink s;
    faas_runtime *rt = journal_runtime(&s, journal);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    reg(rt, "h", &c);
    faas_response res;
    int rc = callf(rt, "h", &res, "spoil j");   /* relative: through its working directory */
    spoil_answer a = { -1, -1, 0, 0, -1, -1 };
    if (rc == FAAS_OK)
        a = spoil_parse(&res);
    faas_response_free(&res);
    faas_runtime_free(rt);
    bool open_here = sink_has(&s, "do not see this host's files read-only");
    sink_free(&s);
    assert_int_equal(chdir(here), 0);
    print_message("# through its working directory %s: saw %u, created %d, removed %u "
                  "(errno %d)%s\n", dir, a.seen, a.created, a.removed, a.err,
                  open_here ? " (not hidden here: the log says so)" : "");
    assert_int_equal(rc, FAAS_OK);
    if (open_here && user_namespaces_allowed() && !TSAN)
        fail_msg("the log says instances do not see the host read-only, where they could");
    if (!open_here) {
        assert_int_equal(a.seen, 0);
        assert_int_equal(a.created, 0);
        assert_int_equal(a.removed, 0);
        assert_int_equal(access(lock, F_OK), 0);
    }
    remove_tree(dir);
}

/* The host's files are read-only to an instance, though it runs as the host's user: it
 * cannot remove a file of a directory it owns, add one, or remount / read-write, there or
 * in a user and mount namespace of its own (its mounts are locked there); it sees a /tmp of
 * its own, empty. Where no namespaces can be made (TSan's threaded instances) the log says
 * so and nothing is asserted. */
static void test_files_read_only(void **state)
{
    (void)state;
    if (!built)
        skip();
    for (size_t p = 0; p < 2; p++) {            /* strict refuses open() itself */
        deface_scene sc;
        deface_scene_make(&sc, "faas-boundary-deface");
        sink s;
        sink_init(&s);
        faas_runtime *rt = runtime(&s, 1);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        faas_response res;
        int rc = callf(rt, "h", &res, "deface %s", sc.event);
        expect(&res, rc, FAAS_OK, NULL, profile_names[p]);
        defaced d;
        assert_int_equal(defaced_parse((const char *)res.data, res.len, &d), 0);
        faas_response_free(&res);
        faas_runtime_free(rt);
        bool open_here = sink_has(&s, "do not see this host's files read-only");
        sink_free(&s);
        bool intact = deface_scene_intact(&sc);
        deface_expect_refused(profile_names[p], &d, intact, open_here);
        deface_scene_free(&sc);
    }
}

/* Who an instance runs as ("who PATH": its uid, gid, supplementary groups, and whether it
 * may read PATH). */
typedef struct whoami {
    unsigned uid, gid;
    int groups, read;
} whoami;

static whoami who_runs(faas_runtime *rt, const char *name, const char *path)
{
    faas_response res;
    int rc = callf(rt, name, &res, "who %s", path);
    expect(&res, rc, FAAS_OK, NULL, name);
    whoami w;
    if (sscanf((const char *)res.data, "{\"uid\":%u,\"gid\":%u,\"groups\":%d,\"read\":%d}",
               &w.uid, &w.gid, &w.groups, &w.read) != 4)
        fail_msg("%s: who: %s", name, (const char *)res.data);
    faas_response_free(&res);
    return w;
}

/* faas_config.user: a root host's instances run as "nobody" unless told otherwise, and so
 * read none of root's files; a host not root can name only itself. */
static void test_instances_run_as_user(void **state)
{
    (void)state;
    if (!built)
        skip();
    char dir[400], secret[420];
    assert_non_null(outside_temp_dir(dir, sizeof dir, "faas-boundary-user"));
    snprintf(secret, sizeof secret, "%s/secret", dir);
    int fd = open(secret, O_WRONLY | O_CREAT | O_EXCL, 0600);   /* the host's alone */
    assert_true(fd >= 0);
    close(fd);
    faas_runtime *rt = runtime(NULL, 1);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    /* Refused at registration: a user for an in-process function, a user not known. */
    faas_config in = c;
    in.isolation = FAAS_ISOLATE_NONE;
    in.user = "nobody";
    assert_int_equal(faas_register_module(rt, "in", test_module("mod_hostile.so"), "attack",
                                          &in), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "user is for isolated instances"));
    c.user = "faas-no-such-user";
    assert_int_equal(faas_register_module(rt, "x", test_module("mod_hostile.so"), "attack",
                                          &c), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "faas-no-such-user"));
    if (geteuid() != 0) {
        /* Another user: refused; its own, by number: its own. */
        c.user = "0";
        assert_int_equal(faas_register_module(rt, "x", test_module("mod_hostile.so"),
                                              "attack", &c), FAAS_EINVAL);
        assert_non_null(strstr(faas_last_error(), "only a host run as root"));
        char self[16];
        snprintf(self, sizeof self, "%u", (unsigned)geteuid());
        c.user = self;
        reg(rt, "self", &c);
        c.user = NULL;
        reg(rt, "default", &c);
        for (int i = 0; i < 2; i++) {
            whoami w = who_runs(rt, i ? "default" : "self", secret);
            assert_int_equal(w.uid, geteuid());
            assert_int_equal(w.read, 0);            /* its user's file */
        }
        faas_runtime_free(rt);
        remove_tree(dir);
        return;
    }
    for (size_t p = 0; p < 2; p++) {
        char name[32];
        c = hostile_config(profiles[p]);
        snprintf(name, sizeof name, "default-%zu", p);
        reg(rt, name, &c);                          /* NULL: "nobody" */
        whoami w = who_runs(rt, name, secret);
        print_message("# %s: uid %u gid %u, %d groups, read root's file: %d\n",
                      profile_names[p], w.uid, w.gid, w.groups, w.read);
        struct passwd *pw = getpwnam("nobody");
        assert_int_equal(w.uid, pw ? pw->pw_uid : 65534);
        assert_int_equal(w.gid, pw ? pw->pw_gid : 65534);
        assert_int_equal(w.groups, 0);              /* root's groups dropped */
        assert_int_equal(w.read, EACCES);
        w = who_runs(rt, name, "/etc/shadow");
        assert_int_not_equal(w.read, 0);
        /* Its /proc shows only what it may trace: not the host (its command line). */
        faas_response res;
        ASSERT_OK(callf(rt, name, &res, "mem %d", (int)getpid()));
        assert_non_null(strstr((const char *)res.data, "\"errno\":2}"));     /* ENOENT */
        faas_response_free(&res);
    }
    c = hostile_config(FAAS_SECCOMP_NONE);
    c.user = "4321";                                /* a uid without a name */
    reg(rt, "numbered", &c);
    whoami w = who_runs(rt, "numbered", secret);
    assert_int_equal(w.uid, 4321);
    assert_int_equal(w.gid, 4321);
    assert_int_equal(w.read, EACCES);
    c.user = "root";                                /* as before: root, in its namespace */
    reg(rt, "root", &c);
    w = who_runs(rt, "root", secret);
    assert_int_equal(w.uid, 0);
    assert_int_equal(w.read, 0);
    /* What the catalog says it was given. */
    faas_function_info *info;
    size_t n;
    ASSERT_OK(faas_list(rt, &info, &n));
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(info[i].name, "numbered") == 0)
            seen++, assert_string_equal(info[i].config.user, "4321");
        if (strcmp(info[i].name, "default-0") == 0)
            seen++, assert_null(info[i].config.user);
    }
    assert_int_equal(seen, 2);
    faas_info_free(info);
    faas_runtime_free(rt);
    remove_tree(dir);
}

/* What an instance has of the variable NAME ("env NAME"): getenv(), faas_ctx_getenv(),
 * and whether it was in the environment its process started with. */
static void env_in(faas_runtime *rt, const char *name, const char *var, char *g, char *c,
                   int *proc)
{
    faas_response res;
    int rc = callf(rt, name, &res, "env %s", var);
    expect(&res, rc, FAAS_OK, NULL, var);
    if (sscanf((const char *)res.data, "{\"getenv\":%1023[^,],\"ctx\":%1023[^,],\"proc\":%d}",
               g, c, proc) != 3)
        fail_msg("env %s: %s", var, (const char *)res.data);
    faas_response_free(&res);
}

/* An isolated instance's process environment is not the host's: none of the host's
 * variables but what running a program needs (PATH...), so not a secret the host holds
 * there (the gateway's token); the function's own environment is there, and in its
 * context. */
static void test_environment_is_not_the_hosts(void **state)
{
    (void)state;
    if (!built)
        skip();
    assert_int_equal(setenv("FAAS_GATEWAY_TOKEN", "host-secret-0451", 1), 0);
    assert_int_equal(setenv("FAAS_TEST_DB_PASSWORD", "host-secret-0452", 1), 0);
    faas_runtime *rt = runtime(NULL, 1);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    const char *own[] = { "GREETING=hello", "TZ=Europe/Paris", NULL };
    c.environment = own;
    reg(rt, "h", &c);
    char g[1024], x[1024];
    int proc;
    static const char *const secrets[] = { "FAAS_GATEWAY_TOKEN", "FAAS_TEST_DB_PASSWORD" };
    for (size_t i = 0; i < 2; i++) {
        env_in(rt, "h", secrets[i], g, x, &proc);
        print_message("# the host's %s: getenv %s, context %s, started with it: %d\n",
                      secrets[i], g, x, proc);
        assert_string_equal(g, "null");
        assert_string_equal(x, "null");
        assert_int_equal(proc, 0);
    }
    env_in(rt, "h", "GREETING", g, x, &proc);   /* its own: both ways */
    assert_string_equal(g, "\"hello\"");
    assert_string_equal(x, "\"hello\"");
    env_in(rt, "h", "TZ", g, x, &proc);         /* its own over Lambda's :UTC */
    assert_string_equal(g, "\"Europe/Paris\"");
    assert_string_equal(x, "\"Europe/Paris\"");
    env_in(rt, "h", "PATH", g, x, &proc);       /* the host's, kept: a program needs it */
    assert_string_not_equal(g, "null");
    assert_int_equal(proc, 1);
    faas_runtime_free(rt);
    unsetenv("FAAS_GATEWAY_TOKEN");
    unsetenv("FAAS_TEST_DB_PASSWORD");
}

/* ---- 3. the process tree dies with its instance -------------------------------------- */

static void test_tree_killed_on_retire(void **state)
{
    (void)state;
    if (!built)
        skip();
    fake_clock clk;
    faas_options o = manual_options(&clk);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    c.timeout_ms = 1000;
    c.keep_alive_ms = 60000;
    reg(rt, "h", &c);
    proc_id kids[8];
    faas_response res;
    int n;
    const char *how[] = { "kids 3 segv", "kids 3 exit", "kids 3 spin" };
    int want[] = { FAAS_ECRASHED, FAAS_ECRASHED, FAAS_ETIMEOUT };
    for (int i = 0; i < 3; i++) {
        expect(&res, callf(rt, "h", &res, "%s", how[i]), want[i], NULL, how[i]);
        n = kids_of(res.log_tail, kids, 8);
        assert_int_equal(n, 3);
        faas_response_free(&res);
        if (left(kids, n, 0) != 0)
            fail_msg("%s: %d of 3 descendants outlived the instance", how[i],
                     left(kids, n, 0));
    }
    /* Kept alive past its keep-alive: the reaper retires it. */
    ASSERT_OK(callf(rt, "h", &res, "kids 3"));
    n = kids_of(res.log_tail, kids, 8);
    assert_int_equal(n, 3);
    faas_response_free(&res);
    assert_int_equal(left(kids, n, 0), 3);
    fake_advance(&clk, MS(61000));
    faas_run_pending(rt);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "h", &st));
    assert_int_equal(st.instances_live, 0);
    assert_int_equal(left(kids, n, 0), 0);
    /* Unregistered. */
    ASSERT_OK(callf(rt, "h", &res, "kids 3"));
    n = kids_of(res.log_tail, kids, 8);
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(rt, "h"));
    assert_int_equal(left(kids, n, 0), 0);
    /* The runtime freed. */
    reg(rt, "h", &c);
    ASSERT_OK(callf(rt, "h", &res, "kids 3"));
    n = kids_of(res.log_tail, kids, 8);
    faas_response_free(&res);
    faas_runtime_free(rt);
    assert_int_equal(left(kids, n, 0), 0);
    assert_int_equal(instance_processes(), 0);
}

/* faas_runtime_free() while an instance is busy: the call ends at its deadline, and its
 * tree goes with it. */
static void test_tree_killed_on_free_while_busy(void **state)
{
    (void)state;
    if (!built)
        skip();
    sink s;
    sink_init(&s);
    faas_runtime *rt = runtime(&s, 1);
    faas_config c = hostile_config(FAAS_SECCOMP_NO_NETWORK);
    c.timeout_ms = 1500;
    c.max_retries = 0;
    reg(rt, "h", &c);
    ASSERT_OK(faas_invoke_async(rt, "h", "kids 2 spin", 11, NULL, NULL, NULL));
    assert_true(sink_wait(&s, "kid ", 2, 30000));  /* the call runs: its two children */
    faas_runtime_free(rt);
    proc_id kids[8];
    pthread_mutex_lock(&s.mu);
    int n = kids_of(s.text, kids, 8);
    pthread_mutex_unlock(&s.mu);
    assert_true(n >= 1);
    assert_int_equal(left(kids, n, 0), 0);
    assert_int_equal(instance_processes(), 0);
    sink_free(&s);
}

/* The host process ends without freeing its runtime (SIGKILL; or it replaces itself with
 * another program, which closes its descriptors as an exit does, without the leak report of
 * valgrind's that an exit of this fork would print): the zygote sees its control socket
 * close and takes every instance's tree down with it. */
static void test_tree_killed_when_host_exits(void **state)
{
    (void)state;
    if (!built)
        skip();
    for (int how = 0; how < 2; how++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t hostpid = fork();
        assert_true(hostpid >= 0);
        if (hostpid == 0) {
            close(p[0]);
            faas_runtime *rt;
            if (faas_runtime_new(&rt, &(faas_options){ .manual = 1 }) != FAAS_OK)
                _exit(2);
            faas_config c = hostile_config(FAAS_SECCOMP_NONE);
            if (faas_register_module(rt, "h", test_module("mod_hostile.so"), "attack", &c))
                _exit(3);
            faas_response res;
            if (faas_invoke(rt, "h", "kids 3", 6, &res) != FAAS_OK)
                _exit(4);
            if (write(p[1], res.log_tail, strlen(res.log_tail) + 1) < 0)
                _exit(5);
            if (how == 1)
                raise(SIGKILL);
            execl("/bin/true", "true", (char *)NULL);   /* no faas_runtime_free() */
            _exit(6);
        }
        close(p[1]);
        char text[4096] = "";
        size_t got = 0;
        ssize_t r;
        while ((r = read(p[0], text + got, sizeof text - 1 - got)) > 0)
            got += (size_t)r;
        text[got] = '\0';
        close(p[0]);
        int st;
        waitpid(hostpid, &st, 0);
        proc_id kids[8];
        int n = kids_of(text, kids, 8);
        assert_int_equal(n, 3);
        int alive = left(kids, n, 20000);
        for (int i = 0; i < n; i++)         /* clean up after a failure */
            if (exists(&kids[i]))
                kill(kids[i].pid, SIGKILL);
        if (alive != 0)
            fail_msg("%s: %d of 3 descendants outlived their host", how ? "SIGKILL" : "exec",
                     alive);
    }
}

/* A timeout takes timeout_ms, not more, even when children hold the channel open. */
static void test_timeout_with_children_holding_the_channel(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = runtime(NULL, 0);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    c.timeout_ms = 1000;
    reg(rt, "h", &c);
    faas_response res;
    ASSERT_OK(callf(rt, "h", &res, "pid"));           /* warm: the fork is not timed */
    faas_response_free(&res);
    uint64_t t0 = now_ns();
    int rc = callf(rt, "h", &res, "hold 3");
    uint64_t wall = now_ns() - t0;
    expect(&res, rc, FAAS_ETIMEOUT, "Task timed out after 1.00 seconds", "hold 3");
    proc_id kids[8];
    int n = kids_of(res.log_tail, kids, 8);
    faas_response_free(&res);
    assert_int_equal(n, 3);
    fprintf(stderr, "# timeout_ms 1000 with 3 children holding the channel: %.0f ms\n",
            (double)wall / 1e6);
    assert_true(wall >= MS(1000));
    if (wall >= MS(2500))
        fail_msg("the timeout took %.0f ms, not about 1000", (double)wall / 1e6);
    assert_int_equal(left(kids, n, 0), 0);
    ASSERT_OK(callf(rt, "h", &res, "pid"));           /* a new instance */
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    faas_runtime_free(rt);
}

/* ---- 3. pids_max: a fork bomb is contained ------------------------------------------- */

static int in_process(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static void test_fork_bomb(void **state)
{
    (void)state;
    if (!built)
        skip();
    sink s;
    sink_init(&s);
    faas_runtime *rt = runtime(&s, 0);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    c.pids_max = 16;
    reg(rt, "bomb", &c);
    faas_config o = hostile_config(FAAS_SECCOMP_NONE);
    reg(rt, "other", &o);
    ASSERT_OK(faas_register(rt, "inproc", in_process, NULL));
    faas_response res;
    ASSERT_OK(callf(rt, "bomb", &res, "bomb 200"));
    if (sink_has(&s, "pids_max is not enforced")) {
        faas_response_free(&res);
        faas_runtime_free(rt);
        sink_free(&s);
        fprintf(stderr, "# skip: no pids cgroup can be made here, and RLIMIT_NPROC does "
                "not bind root\n");
        skip();
    }
    int made = reply_int(&res, "forked ");
    fprintf(stderr, "# fork bomb with pids_max 16: %s\n", (char *)res.data);
    assert_true(made >= 1);
    if (made >= 16)
        fail_msg("pids_max 16, and the instance forked %d children: %s", made,
                 (char *)res.data);
    assert_true(reply_int(&res, "failed ") > 0);
    faas_response_free(&res);
    /* The bomb's processes are still there: the host and the other functions go on. */
    ASSERT_OK(callf(rt, "other", &res, "pid"));
    assert_int_equal(res.record.cold, 1);               /* a fork of its own zygote */
    faas_response_free(&res);
    ASSERT_OK(callf(rt, "inproc", &res, "x"));
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(rt, "bomb"));
    faas_runtime_free(rt);
    assert_int_equal(instance_processes(), 0);
    sink_free(&s);
}

/* Without a pids cgroup (a user other than root cannot make one here), pids_max is kept with
 * RLIMIT_NPROC. Root can try it: the host runs as nobody in a child process. */
static void test_fork_bomb_as_another_user(void **state)
{
    (void)state;
    if (!built)
        skip();
    if (geteuid() != 0) {
        fprintf(stderr, "# skip: only root can run a host as another user here\n");
        skip();
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(p[0]);
        char out[1024] = "";
        int code = 0;
        sink s;
        sink_init(&s);
        faas_options o;
        memset(&o, 0, sizeof o);
        o.manual = 1;
        o.log = sink_line;
        o.log_arg = &s;
        faas_runtime *rt = NULL;
        faas_config c = hostile_config(FAAS_SECCOMP_NONE), d = hostile_config(FAAS_SECCOMP_NONE);
        c.pids_max = 16;
        faas_response res;
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            code = 10;
        else if (faas_runtime_new(&rt, &o) != FAAS_OK ||
                 faas_register_module(rt, "bomb", test_module("mod_hostile.so"), "attack",
                                      &c) != FAAS_OK ||
                 faas_register_module(rt, "other", test_module("mod_hostile.so"), "attack",
                                      &d) != FAAS_OK)
            code = 11;
        else if (faas_invoke(rt, "bomb", "bomb 200", 8, &res) != FAAS_OK)
            code = 12;
        if (code == 0) {
            snprintf(out, sizeof out, "%s", (char *)res.data);
            faas_response_free(&res);
            if (faas_invoke(rt, "other", "hello", 5, &res) != FAAS_OK)
                code = 13;                  /* the other function still forks and runs */
            faas_response_free(&res);
        }
        if (rt != NULL)
            faas_runtime_free(rt);
        if (code == 0 && sink_has(&s, "pids_max is not enforced"))
            code = 14;
        if (write(p[1], out, strlen(out) + 1) < 0)
            code = 15;
        _exit(code);
    }
    close(p[1]);
    char text[1024] = "";
    ssize_t got = read(p[0], text, sizeof text - 1);
    close(p[0]);
    text[got > 0 ? got : 0] = '\0';
    int st;
    waitpid(child, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the host as nobody: status 0x%x (%s)", st, text);
    fprintf(stderr, "# fork bomb as nobody with pids_max 16: %s\n", text);
    const char *f = strstr(text, "forked ");
    assert_non_null(f);
    int made = atoi(f + 7);
    assert_true(made >= 1);
    if (made >= 16)
        fail_msg("pids_max 16, and the instance forked %d children: %s", made, text);
    assert_int_equal(instance_processes(), 0);
}

/* ---- 4. an instance that died while idle does not fail the next call ---------------- */

/* Wait until the process is gone or a zombie. */
static bool dead(pid_t pid, unsigned limit_ms)
{
    uint64_t deadline = now_ns() + MS(limit_ms);
    for (;;) {
        char st = '?';
        if (proc_start(pid, &st) == 0 || st == 'Z' || st == 'X')
            return true;
        if (now_ns() >= deadline)
            return false;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);               /* the kernel's progress, not a race */
    }
}

static void dead_then_innocent(faas_runtime *rt, sink *s, const char *kill_how,
                               unsigned limit_ms)
{
    faas_response res;
    int pid;
    if (strcmp(kill_how, "SIGKILL") == 0) {
        ASSERT_OK(callf(rt, "h", &res, "pid"));
        pid = reply_int(&res, "\"pid\":");
        faas_response_free(&res);
        ASSERT_OK(kill(pid, SIGKILL));
    } else {
        ASSERT_OK(callf(rt, "h", &res, "threads"));       /* they burn RLIMIT_CPU away */
        pid = reply_int(&res, "\"pid\":");
        faas_response_free(&res);
    }
    assert_true(pid > 0);
    if (!dead(pid, limit_ms))
        fail_msg("%s: instance %d is still alive after %u ms", kill_how, pid, limit_ms);
    faas_stats before;
    ASSERT_OK(faas_stats_get(rt, "h", &before));

    int rc = callf(rt, "h", &res, "pid");
    expect(&res, rc, FAAS_OK, NULL, kill_how);
    assert_int_equal(res.record.cold, 1);
    assert_int_equal(res.record.status, FAAS_OK);
    int after = reply_int(&res, "\"pid\":");
    assert_true(after > 0 && after != pid);
    faas_response_free(&res);

    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "h", &st));
    assert_int_equal(st.errors, before.errors);               /* the call is no error */
    assert_int_equal(st.invocations, before.invocations + 1);
    assert_int_equal(st.instance_deaths, before.instance_deaths + 1);
    char want[64];
    snprintf(want, sizeof want, "(pid %d)", pid);
    assert_true(sink_has(s, want));
    assert_true(sink_has(s, "WARNING h: "));
}

static void test_dead_idle_instance(void **state)
{
    (void)state;
    if (!built)
        skip();
    for (size_t p = 0; p < 3; p++) {
        sink s;
        sink_init(&s);
        faas_runtime *rt = runtime(&s, 0);
        faas_config c = hostile_config(profiles[p]);
        reg(rt, "h", &c);
        dead_then_innocent(rt, &s, "SIGKILL", 10000);
        char *json = NULL;
        size_t len;
        ASSERT_OK(faas_metrics_json(rt, &json, &len));
        assert_non_null(strstr(json, "\"instance_deaths\":1"));
        faas_free(json);
        ASSERT_OK(faas_metrics_prometheus(rt, &json, &len));
        assert_non_null(strstr(json, "faas_instance_deaths_total{function=\"h\"} 1"));
        faas_free(json);
        faas_runtime_free(rt);
        sink_free(&s);
    }
}

/* A handler leaves threads spinning; RLIMIT_CPU ends the instance between calls. */
static void test_dead_of_cpu_limit_between_calls(void **state)
{
    (void)state;
    if (!built)
        skip();
    sink s;
    sink_init(&s);
    faas_runtime *rt = runtime(&s, 0);
    faas_config c = hostile_config(FAAS_SECCOMP_NONE);
    c.timeout_ms = 500;                 /* RLIMIT_CPU: about 5 s of CPU time */
    reg(rt, "h", &c);
    dead_then_innocent(rt, &s, "threads", 180000);
    /* Usually "signal: CPU time limit exceeded (SIGXCPU)"; ThreadSanitizer's deferred
     * signal handlers may not get to report it before the process goes. */
    assert_true(sink_has(&s, "died while idle"));
    faas_runtime_free(rt);
    sink_free(&s);
}

/* ---- 9. the payload is followed by a NUL byte ---------------------------------------- */

static void test_payload_nul(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = runtime(NULL, 0);
    faas_config c = hostile_config(FAAS_SECCOMP_STRICT);
    reg(rt, "h", &c);
    /* In a message, at its largest, in a region, exactly a region's size, and larger. */
    const size_t sizes[] = { 3, 100, 60u * 1024u, 60u * 1024u + 1u, 1u << 20, 3u << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        memset(p, 'x', sizes[i]);
        memcpy(p, "nul", 3);
        faas_response res;
        int rc = faas_invoke(rt, "h", p, sizes[i], &res);
        char want[64];
        snprintf(want, sizeof want, "nul %zu", sizes[i]);
        expect(&res, rc, FAAS_OK, NULL, want);
        if (strcmp(res.data, want) != 0)
            fail_msg("%zu bytes: \"%s\"", sizes[i], (char *)res.data);
        faas_response_free(&res);
        free(p);
    }
    faas_runtime_free(rt);
}

/* After every test, no child of this process is left (its runtimes are freed). */
static int no_children(void **state)
{
    (void)state;
    int st;
    pid_t pid;
    int n = 0;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        n++;                            /* a forked host of test_tree_killed_when_host_exits */
    (void)n;
    return 0;
}

#define T(name) cmocka_unit_test_teardown(name, no_children)

int main(void)
{
    snprintf(mark, sizeof mark, "FAAS_TEST_BOUNDARY=%d", (int)getpid());
    putenv(mark);
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &(faas_options){ .manual = 1 }) != FAAS_OK)
        return 1;
    faas_config c;
    faas_config_init(&c);
    c.isolation = FAAS_ISOLATE_PROCESS;
    built = faas_register_module(rt, "probe", "probe.so", "h", &c) == FAAS_OK;
    faas_runtime_free(rt);

    tap_fix_skips();
    if (getenv("FAAS_TEST_FILTER") != NULL)     /* one test by name, while working on it */
        cmocka_set_test_filter(getenv("FAAS_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        T(test_sealed_regions),
        T(test_signals_contained),
        T(test_memory_of_others_closed),
        T(test_journal_hidden),
        T(test_files_read_only),
        T(test_journal_hidden_below_cwd),
        T(test_instances_run_as_user),
        T(test_environment_is_not_the_hosts),
        T(test_oom_killer_takes_instances_first),
        T(test_tree_killed_on_retire),
        /* before any test starts a thread: a fork then inherits no cached thread stack,
         * which valgrind would report as possibly lost in the forked host */
        T(test_tree_killed_when_host_exits),
        T(test_tree_killed_on_free_while_busy),
        T(test_timeout_with_children_holding_the_channel),
        T(test_fork_bomb),
        T(test_fork_bomb_as_another_user),
        T(test_dead_idle_instance),
        T(test_dead_of_cpu_limit_between_calls),
        T(test_payload_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
