/*
 * util.h - shared helpers of the cmocka test programs: a fake clock, manual-mode options,
 * fixture module paths, /proc/self/maps checks, a log capture, the usual runtime fixture
 * and the runtimes tests start themselves, thread gates and the stress scale.
 */
#ifndef FAAS_TEST_UTIL_H
#define FAAS_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1                   /* fopencookie(), for tap_fix_skips() */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <strings.h>
#include <ftw.h>
#include <unistd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <faas.h>

#define ASSERT_OK(expr) assert_int_equal((expr), FAAS_OK)
#define MS(n) ((uint64_t)(n) * 1000000u)

/* ---- a clock the test moves by hand ------------------------------------------------------ */

typedef struct fake_clock {
    atomic_uint_fast64_t mono;
    atomic_int_fast64_t  wall;
} fake_clock;

static inline uint64_t fake_mono(void *arg)
{
    return atomic_load(&((fake_clock *)arg)->mono);
}

static inline int64_t fake_wall(void *arg)
{
    return atomic_load(&((fake_clock *)arg)->wall);
}

static inline void fake_advance(fake_clock *c, uint64_t ns)
{
    atomic_fetch_add(&c->mono, ns);
    atomic_fetch_add(&c->wall, (int64_t)ns);
}

/* Options for a runtime with no background thread, driven by c. */
static inline faas_options manual_options(fake_clock *c)
{
    faas_options o;
    memset(&o, 0, sizeof o);
    atomic_store(&c->mono, MS(1000));
    atomic_store(&c->wall, INT64_C(1795651200) * 1000000000);  /* 2026-11-26T00:00:00Z */
    o.manual = 1;
    o.clock.mono_ns = fake_mono;
    o.clock.wall_ns = fake_wall;
    o.clock.arg = c;
    return o;
}

/* ---- fixtures --------------------------------------------------------------------------- */

/* $FAAS_TEST_MODULES/file (a static buffer per call site is not needed: 4 rotate). */
static inline const char *test_module(const char *file)
{
    static char bufs[4][4096];
    static int next;
    const char *dir = getenv("FAAS_TEST_MODULES");
    if (dir == NULL)
        dir = "tests/modules/.libs";
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, file);
    return b;
}

/* 1 if a mapping of this process's names file, 0 if none, -1 if maps cannot be read. */
static inline int module_mapped(const char *file)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        char *slash = strrchr(line, '/');
        if (slash != NULL) {
            slash[strcspn(slash, "\n")] = '\0';
            found = strcmp(slash + 1, file) == 0;
        }
    }
    fclose(f);
    return found;
}

/* FAAS_STRESS_SCALE (default 1): multiplies stress sizes; CI lowers it under sanitizers. */
/* This process's open file descriptors, or -1. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;                   /* the directory's own descriptor */
}

static inline double stress_scale(void)
{
    const char *s = getenv("FAAS_STRESS_SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

static inline unsigned scaled(unsigned n)
{
    double v = n * stress_scale();
    return v < 1 ? 1 : (unsigned)v;
}

/* A new directory $TMPDIR/prefix-XXXXXX (/tmp without TMPDIR), its path in dir; NULL if not. */
static inline char *temp_dir(char *dir, size_t size, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    return mkdtemp(dir);
}

/* The same, open to every user as /tmp is (1777): a process function's runtime runs as
 * "nobody" when the tests run as root (faas_register_process(3)), and reads its task root
 * and writes its TMPDIR there. */
static inline char *shared_temp_dir(char *dir, size_t size, const char *prefix)
{
    return temp_dir(dir, size, prefix) != NULL && chmod(dir, 01777) == 0 ? dir : NULL;
}

/* Is pid a live process of the process function FUNCTION (its environment has
 * AWS_LAMBDA_FUNCTION_NAME=FUNCTION: a runtime and what it forks; a zombie's is empty),
 * and, unless marker is NULL, has marker ("NAME=value") too? */
static inline bool process_of_function(long pid, const char *function, const char *marker)
{
    char want[200], path[64], buf[16384];
    int wn = snprintf(want, sizeof want, "AWS_LAMBDA_FUNCTION_NAME=%s", function) + 1;
    if (wn > (int)sizeof want)
        return false;                   /* no function's name is that long */
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';                      /* the last entry may be cut: strlen stops here */
    bool named = false, marked = marker == NULL;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
        named = named || memcmp(buf + i, want, (size_t)wn) == 0;
        marked = marked || strcmp(buf + i, marker) == 0;
    }
    return named && marked;
}

/* The fields of /proc/PID/stat after the command's "(name)", read into buf: from the
 * state on (" S 1 ..."), or NULL if pid is gone. */
static inline const char *proc_stat_fields(long pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t got = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[got] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp != NULL ? rp + 1 : NULL;
}

/* The parent of pid, or 0. */
static inline long parent_of(long pid)
{
    char buf[1024];
    const char *fields = proc_stat_fields(pid, buf, sizeof buf);
    long ppid = 0;
    return fields != NULL && sscanf(fields, " %*c %ld", &ppid) == 1 ? ppid : 0;
}

/* Is pid below this process (its child, grandchild...)? Other test programs that run at
 * the same time (make check -j) may have functions of the same names. */
static inline bool below_me(long pid)
{
    for (int depth = 0; pid > 1 && depth < 64; depth++)
        if ((pid = parent_of(pid)) == (long)getpid())
            return true;
    return false;
}

/* The pid of process pid in the innermost PID namespace it is in: the last of its
 * /proc/PID/status NSpid line (pid itself without one); 0 if it is gone. */
static inline long innermost_pid(long pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long last = pid;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *p = line + 6, *end;
            for (long v; (v = strtol(p, &end, 10), end != p); p = end)
                last = v;
        }
    fclose(f);
    return last;
}

/* What host_pid_of() and function_processes() look for, through proc_each(). */
typedef struct function_search {
    const char *function, *marker;
    long        local;                  /* host_pid_of's: the process's own getpid() */
    pid_t       found;
    int         count;
} function_search;

static inline void find_local(int pid, const char *fields, void *arg)
{
    (void)fields;
    function_search *q = arg;
    if (q->found == 0 && innermost_pid(pid) == q->local &&
        process_of_function(pid, q->function, NULL) && below_me(pid))
        q->found = (pid_t)pid;
}

static inline void count_marked(int pid, const char *fields, void *arg)
{
    (void)fields;
    function_search *q = arg;
    q->count += process_of_function(pid, q->function, q->marker);
}

static inline int proc_each(void (*fn)(int pid, const char *fields, void *arg), void *arg);

/* The pid, as this process sees it, of a process below it of the process function
 * FUNCTION whose own getpid() is local (a runtime is in a PID namespace of its own, and
 * its /proc shows that namespace alone); 0: none. */
static inline pid_t host_pid_of(const char *function, long local)
{
    function_search q = { function, NULL, local, 0, 0 };
    proc_each(find_local, &q);
    return q.found;
}

/* How many live processes of the process function FUNCTION there are whose environment
 * has marker too (its TMPDIR, say: this test's own, though another program's function
 * may have the same name and its processes be left to init). */
static inline int function_processes(const char *function, const char *marker)
{
    function_search q = { function, marker, 0, 0, 0 };
    proc_each(count_marked, &q);
    return q.count;
}

/* A new directory prefix-XXXXXX outside /tmp (/var/tmp, else $top_builddir), open to
 * every user (0777), its path in dir; NULL if not. A process function's runtime and an
 * isolated instance see a /tmp of their own: a directory of the host's they must see
 * (read-only) is made here. */
static inline char *outside_temp_dir(char *dir, size_t size, const char *prefix)
{
    const char *build = getenv("top_builddir");
    const char *at = access("/var/tmp", W_OK) == 0 ? "/var/tmp" : build ? build : ".";
    snprintf(dir, size, "%s/%s-XXXXXX", at, prefix);
    return mkdtemp(dir) != NULL && chmod(dir, 0777) == 0 ? dir : NULL;
}

/* nftw()'s callback for remove_tree(). */
static inline int remove_tree_one(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Removes path, and all below it when it is a directory: a test's clean-up, errors ignored. */
static inline void remove_tree(const char *path)
{
    nftw(path, remove_tree_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the handler ABI's NUL byte ----------------------------------------------------------- */

/* A handler that replies with its payload when the payload keeps the handler ABI (never
 * NULL, payload[len] == 0), and fails with NullPayload or NotTerminated otherwise. Reading
 * payload[len] is what valgrind and ASan flag when a path hands a handler a caller's
 * buffer without the copy that terminates it. */
static inline int nul_terminated_echo(faas_ctx *ctx, const void *payload, size_t len)
{
    if (payload == NULL)
        return faas_fail(ctx, "NullPayload", "payload is NULL (len %zu)", len);
    unsigned char after = ((const unsigned char *)payload)[len];
    if (after != 0)
        return faas_fail(ctx, "NotTerminated", "payload[%zu] is 0x%02x, not NUL", len, after);
    return faas_reply(ctx, payload, len);
}

/* n bytes of a pattern (NUL bytes among them) in an exact-size malloc'd block, or, with
 * sentinel, in n + 1 bytes whose last is 'X': a path that passes the caller's buffer on
 * shows the 'X' to nul_terminated_echo. Never NULL (malloc(1) for n = 0). */
static inline char *pattern_payload(size_t n, int sentinel)
{
    char *p = malloc(n + (sentinel ? 1 : 0) + (n == 0 && !sentinel ? 1 : 0));
    if (p == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + i % 26);
    if (n > 2)
        p[n / 2] = '\0';                        /* a NUL of its own: len is the length */
    if (sentinel)
        p[n] = 'X';
    return p;
}

/* ---- capturing the log sink and the record hook ------------------------------------------- */

typedef struct capture {
    pthread_mutex_t mu;
    char          **lines;
    size_t          n, cap;
    faas_record    *records;
    char          (*record_fn)[65];   /* copies: a record's strings live only in the hook */
    size_t          nrec, reccap;
} capture;

static inline void capture_init(capture *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

static inline void capture_line(const char *line, void *arg)
{
    capture *c = arg;
    pthread_mutex_lock(&c->mu);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->lines = realloc(c->lines, c->cap * sizeof *c->lines);
    }
    c->lines[c->n++] = strdup(line);
    pthread_mutex_unlock(&c->mu);
}

static inline void capture_record(const faas_record *r, void *arg)
{
    capture *c = arg;
    pthread_mutex_lock(&c->mu);
    if (c->nrec == c->reccap) {
        c->reccap = c->reccap ? c->reccap * 2 : 16;
        c->records = realloc(c->records, c->reccap * sizeof *c->records);
        c->record_fn = realloc(c->record_fn, c->reccap * sizeof *c->record_fn);
    }
    c->records[c->nrec] = *r;
    snprintf(c->record_fn[c->nrec], 65, "%s", r->function ? r->function : "");
    c->records[c->nrec].function = c->record_fn[c->nrec];
    c->records[c->nrec].tag = NULL;
    c->nrec++;
    pthread_mutex_unlock(&c->mu);
}

/* How many captured lines hold needle. */
static inline size_t capture_count(capture *c, const char *needle)
{
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        n += strstr(c->lines[i], needle) != NULL;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static inline void capture_free(capture *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->records);
    free(c->record_fn);
    pthread_mutex_destroy(&c->mu);
}

/* ---- runtimes the tests start ------------------------------------------------------------ */

/* The usual cmocka fixture: a manual runtime on a fake clock, a capture for what it sends. */
typedef struct fixture {
    faas_runtime *rt;
    fake_clock    clock;
    capture       cap;
} fixture;

/* A new fixture (its capture ready) and, in *o, manual_options on its clock to adjust. */
static inline fixture *fixture_new(faas_options *o)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        abort();
    capture_init(&f->cap);
    *o = manual_options(&f->clock);
    return f;
}

/* Starts f's runtime on o, its records into f->cap when records; 0, or -1 as a setup fails. */
static inline int fixture_start(fixture *f, const faas_options *o, int records)
{
    if (faas_runtime_new(&f->rt, o) != FAAS_OK)
        return -1;
    if (records)
        faas_on_record(f->rt, capture_record, &f->cap);
    return 0;
}

/* A cmocka teardown for a fixture: its runtime, its capture, itself. */
static inline int fixture_teardown(void **state)
{
    fixture *f = *state;
    faas_runtime_free(f->rt);
    capture_free(&f->cap);
    free(f);
    return 0;
}

/* A runtime on the real clock, manual when workers is 0; its log to log(arg) when log is
 * set; its journal the directory journal when that is set. */
static inline faas_runtime *journal_plain_runtime(unsigned workers,
                                                  void (*log)(const char *line, void *arg),
                                                  void *arg, const char *journal)
{
    faas_options o;
    memset(&o, 0, sizeof o);
    if (workers == 0)
        o.manual = 1;
    else
        o.workers = workers;
    o.log = log;
    o.log_arg = arg;
    o.journal_dir = journal;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    return rt;
}

static inline faas_runtime *plain_runtime(unsigned workers,
                                          void (*log)(const char *line, void *arg), void *arg)
{
    return journal_plain_runtime(workers, log, arg, NULL);
}

/* A one-shot gate for threads: wait until opened. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             open;
} gate;

#define GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static inline void gate_wait(gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Wait for the gate with a generous real-time bound; 0 if it opened. */
static inline int gate_wait_for(gate *g, unsigned seconds)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += seconds;
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    while (!g->open && rc == 0)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &at);
    int opened = g->open;
    pthread_mutex_unlock(&g->mu);
    return opened ? 0 : -1;
}

/* cmocka 1.1.5 reports a skipped test as "not ok N # SKIP", which the TAP driver counts as
 * a failure (TAP skips are "ok N # SKIP"; later cmocka versions print that). stdout goes
 * through this filter, which rewrites such lines and passes everything else as it is. */
static char tap_line[4096] __attribute__((unused));
static size_t tap_len;

static inline ssize_t tap_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    for (size_t i = 0; i < n; i++) {
        if (tap_len < sizeof tap_line - 1)
            tap_line[tap_len++] = buf[i];
        if (buf[i] != '\n')
            continue;
        const char *out = tap_line;
        size_t len = tap_len;
        if (len > 7 && memcmp(tap_line, "not ok ", 7) == 0 && strstr(tap_line, " # SKIP")) {
            out += 4;
            len -= 4;
        }
        if (write(STDOUT_FILENO, out, len) < 0)
            return -1;
        tap_len = 0;
    }
    return (ssize_t)n;
}

/* Call first in main() of a test program that uses skip(). */
static inline void tap_fix_skips(void)
{
    const char *mode = getenv("CMOCKA_MESSAGE_OUTPUT");
    if (mode == NULL || strcasecmp(mode, "TAP") != 0)
        return;
    fflush(stdout);
    FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = tap_write });
    if (f != NULL) {
        setvbuf(f, NULL, _IOLBF, 0);
        stdout = f;
    }
}

#if defined(__SANITIZE_THREAD__)
# define TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define TSAN 1
# endif
#endif
#ifndef TSAN
# define TSAN 0
#endif

/* Can a process of this user make a user namespace here (a probe, in a child)? Where it
 * can, and not under ThreadSanitizer (whose threads forbid it), instances get namespaces
 * of their own: a log that says they do not is then a failure. */
static inline bool user_namespaces_allowed(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    int st;
    return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- /proc ---------------------------------------------------------------------------- */

/* /proc/PID/oom_score_adj, or -2000 (outside its range) if it cannot be read. */
static inline int oom_score_adj_of(int pid)
{
    char path[64];
    int v = -2000;
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", pid);
    FILE *fp = fopen(path, "r");
    if (fp != NULL) {
        if (fscanf(fp, "%d", &v) != 1)
            v = -2000;
        fclose(fp);
    }
    return v;
}

/* Call fn(pid, fields, arg) for every process in /proc, fields being its stat line after
 * the command's closing parenthesis (" S PPID PGRP ..."; comm may hold spaces and
 * parentheses). Returns -1 if /proc cannot be read. */
static inline int proc_each(void (*fn)(int pid, const char *fields, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char buf[1024];
        const char *fields = proc_stat_fields(atol(e->d_name), buf, sizeof buf);
        if (fields != NULL)
            fn(atoi(e->d_name), fields, arg);
    }
    closedir(d);
    return 0;
}

/* Is malloc the C library's, natively? ASan and valgrind keep freed blocks aside for a
 * while (a quarantine, a free list), so what a test sees of the resident set grows with
 * every buffer grown by realloc, freed or not; and neither fits under RLIMIT_AS. */
static inline bool plain_malloc(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return false;
#else
# if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return false;
#  endif
# endif
    const char *pre = getenv("LD_PRELOAD");
    return pre == NULL || strstr(pre, "vgpreload") == NULL;     /* valgrind's */
#endif
}

#endif /* FAAS_TEST_UTIL_H */
