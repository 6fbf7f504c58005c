/* test_isolate.c - process isolation (faas-isolation(7)): isolated calls carry back what an
 * in-process call does; a NULL dereference, an abort(), an infinite loop, a 2x allocation,
 * a denied syscall and an exit() each end their call with the right status and message,
 * the host lives on and the next call runs on a new instance; a killed zygote is
 * restarted; nothing leaks (descriptors, processes); and under load with random crashes
 * every call completes exactly once, synchronously and asynchronously. */
#include "util.h"

#include <dirent.h>
#include <strings.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ASan and TSan reserve terabytes of address space: RLIMIT_AS cannot be set under them,
 * so the kernel-enforced memory limit is not tested there (the arena limit still is). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define SANITIZED 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#  define SANITIZED 1
# endif
#endif
#ifndef SANITIZED
# define SANITIZED 0
#endif

static bool built;                  /* this libfaas has process isolation */
static char *zygote_env;            /* FAAS_ZYGOTE as the harness set it, or NULL */

static void restore_zygote(void)
{
    if (zygote_env != NULL)
        setenv("FAAS_ZYGOTE", zygote_env, 1);
    else
        unsetenv("FAAS_ZYGOTE");
}

/* ---- helpers ------------------------------------------------------------------------- */

/* This process's children (zombies included), up to max pids into out; returns how many. */
typedef struct child_scan {
    pid_t *out;
    int    max, n;
    pid_t  self;
} child_scan;

static void count_child(int pid, const char *fields, void *arg)
{
    child_scan *k = arg;
    char state;
    int ppid;
    if (sscanf(fields, " %c %d", &state, &ppid) == 2 && ppid == k->self) {
        if (k->n < k->max)
            k->out[k->n] = (pid_t)pid;
        k->n++;
    }
}

static int children(pid_t *out, int max)
{
    child_scan k = { out, max, 0, getpid() };
    if (proc_each(count_child, &k) != 0)
        return -1;
    return k.n;
}

static faas_runtime *new_runtime(capture *cap, unsigned workers)
{
    faas_runtime *rt = plain_runtime(workers, cap != NULL ? capture_line : NULL, cap);
    if (cap != NULL)
        faas_on_record(rt, capture_record, cap);
    return rt;
}

static faas_config iso_config(int seccomp)
{
    faas_config c;
    faas_config_init(&c);
    c.isolation = FAAS_ISOLATE_PROCESS;
    c.seccomp = seccomp;
    c.timeout_ms = 10000;
    return c;
}

static void reg(faas_runtime *rt, const char *name, const char *symbol, const faas_config *c)
{
    int rc = faas_register_module(rt, name, test_module("mod_misbehave.so"), symbol, c);
    if (rc != FAAS_OK)
        fail_msg("register %s: %s: %s", name, faas_err_name(rc), faas_last_error());
}

static int call(faas_runtime *rt, const char *name, const char *payload, faas_response *res)
{
    return faas_invoke(rt, name, payload, strlen(payload), res);
}

static int reply_pid(const faas_response *res)
{
    const char *p = res->data ? strstr(res->data, "\"pid\":") : NULL;
    return p ? atoi(p + 6) : -1;
}

/* A bad call ends with status and a message holding want; the host lives on, and the next
 * call of the same function works, on a new instance (cold), in another process. */
static void bad_then_good(faas_runtime *rt, const char *name, const char *bad, int status,
                          const char *type, const char *want)
{
    faas_response res;
    ASSERT_OK(call(rt, name, "pid", &res));
    int before = reply_pid(&res);
    faas_response_free(&res);

    int rc = call(rt, name, bad, &res);
    if (rc != status)
        fail_msg("%s: %s, not %s: %s", bad, faas_err_name(rc), faas_err_name(status),
                 res.error_message ? res.error_message : "");
    assert_int_equal(res.status, status);
    assert_string_equal(res.error_type, type);
    if (strstr(res.error_message, want) == NULL)
        fail_msg("%s: \"%s\" does not hold \"%s\"", bad, res.error_message, want);
    assert_non_null(strstr(res.data, "\"errorType\""));     /* Lambda's error body */
    assert_non_null(strstr(res.log_tail, want));             /* and its log line */
    assert_int_equal(res.record.status, status);
    faas_response_free(&res);

    ASSERT_OK(call(rt, name, "pid", &res));
    assert_int_equal(res.record.cold, 1);
    int after = reply_pid(&res);
    assert_true(after > 0 && after != before && after != getpid());
    faas_response_free(&res);
}

/* ---- configuration ------------------------------------------------------------------- */

static void test_config_checks(void **state)
{
    (void)state;
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    assert_int_equal(faas_register(rt, "host", (faas_handler)(void (*)(void))abort, &c),
                     FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "host function pointer"));
    c.isolation = 7;
    assert_int_equal(faas_register_module(rt, "m", "x.so", "echo", &c), FAAS_EINVAL);
    c = iso_config(9);
    assert_int_equal(faas_register_module(rt, "m", "x.so", "echo", &c), FAAS_EINVAL);
    faas_config_init(&c);
    assert_int_equal(c.isolation, FAAS_ISOLATE_NONE);
    assert_int_equal(c.seccomp, FAAS_SECCOMP_NONE);
    c.seccomp = FAAS_SECCOMP_STRICT;             /* the host cannot be filtered */
    assert_int_equal(faas_register_module(rt, "m", "x.so", "echo", &c), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "needs isolation"));
    faas_runtime_free(rt);
}

static void test_without_isolation(void **state)
{
    (void)state;
    if (built)
        skip();                     /* this build has it: see the other tests */
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    assert_int_equal(faas_register_module(rt, "f", test_module("mod_misbehave.so"), "echo",
                                          &c), FAAS_ENOTSUP);
    assert_non_null(strstr(faas_last_error(), "without process isolation"));
    faas_runtime_free(rt);
}

/* ---- what an isolated call carries back ---------------------------------------------- */

static void test_calls(void **state)
{
    (void)state;
    if (!built)
        skip();
    capture cap;
    capture_init(&cap);
    faas_runtime *rt = new_runtime(&cap, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);

    faas_response res;
    ASSERT_OK(call(rt, "f", "pid", &res));
    int pid = reply_pid(&res);
    assert_true(pid > 0 && pid != getpid());
    assert_int_equal(res.record.cold, 1);
    assert_true(res.record.init_ns > 0);
    assert_true(res.record.max_memory_bytes > 0);       /* the process's real peak */
    /* INIT ran once, in the zygote, not in the instance. */
    const char *ip = strstr(res.data, "\"init_pid\":");
    assert_non_null(ip);
    assert_true(atoi(ip + 11) != pid && atoi(ip + 11) != getpid());
    assert_non_null(strstr(res.data, "\"function\":\"f\""));
    char want[64];
    snprintf(want, sizeof want, "\"request_id\":\"%s\"", res.record.request_id);
    assert_non_null(strstr(res.data, want));             /* the host's id, inside */
    assert_non_null(strstr(res.data, "\"remaining_ok\":1"));
    faas_response_free(&res);

    ASSERT_OK(call(rt, "f", "pid", &res));               /* warm: the same process */
    assert_int_equal(res.record.cold, 0);
    assert_int_equal(reply_pid(&res), pid);
    faas_response_free(&res);

    /* Logs stream to the sink between START and END, and make the log tail. */
    pthread_mutex_lock(&cap.mu);
    size_t first = cap.n;
    pthread_mutex_unlock(&cap.mu);
    ASSERT_OK(call(rt, "f", "logs", &res));
    assert_string_equal(res.data, "logs");
    assert_string_equal(res.log_tail, "first line\ngot 4 bytes\n");
    faas_response_free(&res);
    pthread_mutex_lock(&cap.mu);
    assert_int_equal(cap.n - first, 5);
    assert_non_null(strstr(cap.lines[first], "START RequestId: "));
    assert_string_equal(cap.lines[first + 1], "first line");
    assert_string_equal(cap.lines[first + 2], "got 4 bytes");
    assert_non_null(strstr(cap.lines[first + 3], "END RequestId: "));
    assert_non_null(strstr(cap.lines[first + 4], "REPORT RequestId: "));
    assert_non_null(strstr(cap.lines[first + 4], "Max Memory Used: "));
    pthread_mutex_unlock(&cap.mu);

    /* A handler's own failure: its type and message, and the instance is kept. */
    assert_int_equal(call(rt, "f", "fail", &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "KeyError");
    assert_string_equal(res.error_message, "'action'");
    assert_string_equal(res.data, "{\"errorMessage\":\"'action'\",\"errorType\":\"KeyError\"}");
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    ASSERT_OK(call(rt, "f", "pid", &res));
    assert_int_equal(reply_pid(&res), pid);
    faas_response_free(&res);

    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.invocations, 5);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.instances_live, 1);
    faas_runtime_free(rt);
    assert_int_equal(cap.nrec, 5);
    capture_free(&cap);
}

static void test_large_payloads(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_STRICT);   /* the shared region needs no open() */
    reg(rt, "echo", "echo", &c);
    reg(rt, "big", "dispatch", &c);
    for (size_t n = 1000; n <= 4u << 20; n *= 8) {     /* in the message, then in a memfd */
        char *p = malloc(n);
        for (size_t i = 0; i < n; i++)
            p[i] = (char)('a' + i % 26);
        faas_response res;
        ASSERT_OK(faas_invoke(rt, "echo", p, n, &res));
        assert_int_equal(res.len, n);
        assert_memory_equal(res.data, p, n);
        assert_int_equal(((char *)res.data)[n], '\0');
        faas_response_free(&res);
        char word[32];
        snprintf(word, sizeof word, "big %zu", n);
        ASSERT_OK(call(rt, "big", word, &res));
        assert_int_equal(res.len, n);
        assert_int_equal(((char *)res.data)[0], 'a');
        assert_int_equal(((char *)res.data)[n - 1], 'z');
        faas_response_free(&res);
        free(p);
    }
    faas_runtime_free(rt);
}

/* ---- misbehaviour -------------------------------------------------------------------- */

static void test_null_dereference(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);
    bad_then_good(rt, "f", "segv", FAAS_ECRASHED, "Runtime.ExitError",
                  "signal: segmentation fault (SIGSEGV)");
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.cold_starts, 2);
    assert_int_equal(st.instances_live, 1);            /* the crashed one was replaced */
    faas_runtime_free(rt);
}

static void test_abort(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);
    bad_then_good(rt, "f", "abort", FAAS_ECRASHED, "Runtime.ExitError",
                  "signal: aborted (SIGABRT)");
    faas_runtime_free(rt);
}

/* A slow log sink (a terminal, a full disk): 1 ms a line for its first 3,000 lines
 * (3 s), fast after that; the lines counted. */
static void slow_line(const char *line, void *arg)
{
    (void)line;
    unsigned long *n = arg;
    struct timespec ms = { 0, 1000000 };
    if ((*n)++ < 3000)
        nanosleep(&ms, NULL);
}

/* An instance that logs without end, to a host whose sink is slower than its logging,
 * still times out at its deadline: each log line is a message on its channel, and the
 * host read them for as long as one was there (its wait said "readable" even past the
 * deadline), so the call lasted as long as the sink was slow (3.2 s here) instead of
 * 200 ms; with a sink slow for ever, for ever. */
static void test_log_flood_times_out(void **state)
{
    (void)state;
    if (!built)
        skip();
    unsigned long lines = 0;
    faas_runtime *rt = plain_runtime(0, slow_line, &lines);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.timeout_ms = 200;
    reg(rt, "f", "dispatch", &c);
    faas_response res;
    assert_int_equal(call(rt, "f", "logspin", &res), FAAS_ETIMEOUT);
    print_message("# %lu lines logged, the call ended after %.1f ms\n", lines,
                  (double)res.record.duration_ns / 1e6);
    assert_true(lines > 0);
    assert_true(res.record.duration_ns >= MS(200));
    assert_true(res.record.duration_ns < MS(2000));     /* 3 s of slow sink not waited */
    faas_response_free(&res);
    faas_runtime_free(rt);
}

static void test_infinite_loop(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.timeout_ms = 200;
    reg(rt, "f", "dispatch", &c);
    bad_then_good(rt, "f", "spin", FAAS_ETIMEOUT, "Sandbox.Timedout",
                  "Task timed out after 0.20 seconds");
    faas_response res;
    assert_int_equal(call(rt, "f", "spin", &res), FAAS_ETIMEOUT);
    assert_true(res.record.duration_ns >= MS(200));
    assert_true(res.record.duration_ns < MS(10000));    /* killed, not waited for */
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.timeouts, 2);
    faas_runtime_free(rt);
}

static void test_memory_limit(void **state)
{
    (void)state;
    if (!built)
        skip();
    if (SANITIZED)
        skip();                     /* see SANITIZED above: never weakened elsewhere */
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.memory_mb = 64;
    reg(rt, "f", "dispatch", &c);
    /* Twice the limit: malloc() fails under RLIMIT_AS, then the module writes to NULL. */
    bad_then_good(rt, "f", "hog 128", FAAS_EMEMORY, "Runtime.OutOfMemory",
                  "past the function's memory limit of 64 MB");
    faas_runtime_free(rt);
}

static void test_peak_memory(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.memory_mb = 64;
    reg(rt, "f", "dispatch", &c);
    faas_response res;
    ASSERT_OK(call(rt, "f", "pid", &res));
    uint64_t idle = res.record.max_memory_bytes;
    faas_response_free(&res);
    ASSERT_OK(call(rt, "f", "hog 24", &res));          /* 24 MB, every page touched */
    assert_true(res.record.max_memory_bytes >= idle + (20u << 20));
    char line[512];
    faas_record_format(&res.record, line, sizeof line);
    unsigned long mb = strtoul(strstr(line, "Max Memory Used: ") + 17, NULL, 10);
    /* The instance's own high-water mark, not the host's: 24 MB above what it had when
     * idle, and not much more. Under a sanitizer each touched page also maps shadow memory
     * (TSan: about twice more again), which the kernel's mark counts. */
    unsigned long idle_mb = (unsigned long)(idle >> 20);
    unsigned long touched = SANITIZED ? 24 * 4 : 24;
    assert_true(mb >= 24 && mb <= idle_mb + touched + 16);
    faas_response_free(&res);
    /* The arena's own limit still applies (cooperative, as in-process). */
    reg(rt, "arena", "arena", &c);
    assert_int_equal(call(rt, "arena", "", &res), FAAS_EMEMORY);
    assert_string_equal(res.error_type, "Runtime.OutOfMemory");
    faas_response_free(&res);
    faas_runtime_free(rt);
}

static void test_exit(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);
    bad_then_good(rt, "f", "exit 3", FAAS_ECRASHED, "Runtime.ExitError", "exit status 3");
    faas_runtime_free(rt);
}

static void test_seccomp(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NO_NETWORK);
    reg(rt, "nonet", "dispatch", &c);
    bad_then_good(rt, "nonet", "net", FAAS_ECRASHED, "Runtime.ExitError",
                  "signal: bad system call (SIGSYS): socket() (syscall");
    faas_response res;
    ASSERT_OK(call(rt, "nonet", "open", &res));         /* files are not network */
    faas_response_free(&res);

    c = iso_config(FAAS_SECCOMP_STRICT);
    reg(rt, "strict", "dispatch", &c);
    bad_then_good(rt, "strict", "open", FAAS_ECRASHED, "Runtime.ExitError",
                  "openat() (syscall");
    ASSERT_OK(call(rt, "strict", "logs", &res));        /* a pure computation runs */
    assert_string_equal(res.log_tail, "first line\ngot 4 bytes\n");
    faas_response_free(&res);
    assert_int_equal(call(rt, "strict", "net", &res), FAAS_ECRASHED);
    assert_non_null(strstr(res.error_message, "\"strict\""));
    faas_response_free(&res);

    c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "open", "dispatch", &c);
    ASSERT_OK(call(rt, "open", "net", &res));
    assert_string_equal(res.data, "\"socket ok\"");
    faas_response_free(&res);
    faas_runtime_free(rt);
}

static void test_load_and_init_failures(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    ASSERT_OK(faas_register_module(rt, "missing", "/nonexistent/x.so", "h", &c));
    faas_response res;
    assert_int_equal(call(rt, "missing", "{}", &res), FAAS_ELOAD);
    assert_string_equal(res.error_type, "Runtime.LoadError");
    assert_non_null(strstr(res.error_message, "dlopen(\"/nonexistent/x.so\")"));
    faas_response_free(&res);
    reg(rt, "nosym", "no_such_symbol", &c);
    assert_int_equal(call(rt, "nosym", "{}", &res), FAAS_ELOAD);
    assert_non_null(strstr(res.error_message, "no_such_symbol"));
    faas_response_free(&res);

    ASSERT_OK(faas_register_module(rt, "initfail", test_module("mod_initfail.so"), "handler",
                                   &c));
    for (int i = 0; i < 2; i++) {       /* INIT is tried again by the next cold start */
        assert_int_equal(call(rt, "initfail", "{}", &res), FAAS_EINIT);
        assert_string_equal(res.error_type, "Runtime.InitError");
        assert_string_equal(res.error_message,
                            "cannot open config for initfail: No such file or directory");
        faas_response_free(&res);
    }
    /* No helper program, or one that is not a faas-zygote: FAAS_ELOAD, said so. */
    reg(rt, "nohelper", "echo", &c);
    setenv("FAAS_ZYGOTE", "/nonexistent/faas-zygote", 1);
    assert_int_equal(call(rt, "nohelper", "{}", &res), FAAS_ELOAD);
    /* posix_spawn() fails (glibc), or, where it cannot report a failed exec (valgrind's
     * emulation), the child exits and the zygote "did not start": the path is named. */
    assert_non_null(strstr(res.error_message, "/nonexistent/faas-zygote"));
    faas_response_free(&res);
    setenv("FAAS_ZYGOTE", "/bin/true", 1);
    assert_int_equal(call(rt, "nohelper", "{}", &res), FAAS_ELOAD);
    assert_non_null(strstr(res.error_message, "did not start"));
    faas_response_free(&res);
    restore_zygote();
    ASSERT_OK(call(rt, "nohelper", "{}", &res));      /* the right one again */
    faas_response_free(&res);
    pid_t kids[8];
    assert_int_equal(children(kids, 8), 1);             /* failed zygotes are reaped */
    faas_runtime_free(rt);
}

static void test_warm(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);
    ASSERT_OK(faas_warm(rt, "f", 3));
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.instances_live, 3);
    faas_response res;
    ASSERT_OK(call(rt, "f", "pid", &res));
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(rt, "f"));                /* stops its zygote */
    pid_t kids[8];
    assert_int_equal(children(kids, 8), 0);
    faas_runtime_free(rt);
}

/* ---- the zygote ---------------------------------------------------------------------- */

static void test_zygote_restarted(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.keep_alive_ms = 0;                /* every call forks a new instance */
    reg(rt, "f", "dispatch", &c);
    faas_response res;
    ASSERT_OK(call(rt, "f", "pid", &res));
    faas_response_free(&res);
    pid_t kids[8];
    assert_int_equal(children(kids, 8), 1);             /* the zygote */
    pid_t zygote = kids[0];
    ASSERT_OK(kill(zygote, SIGKILL));

    for (int i = 0; i < 3; i++) {
        ASSERT_OK(call(rt, "f", "pid", &res));
        assert_int_equal(res.record.cold, 1);
        faas_response_free(&res);
    }
    assert_int_equal(children(kids, 8), 1);             /* a new one; the dead one reaped */
    assert_true(kids[0] != zygote);
    faas_runtime_free(rt);
    assert_int_equal(children(kids, 8), 0);
}

/* ---- nothing leaks ------------------------------------------------------------------- */

static void test_no_leaks(void **state)
{
    (void)state;
    if (!built)
        skip();
    pid_t kids[8];
    int fds = count_fds();
    assert_int_equal(children(kids, 8), 0);
    for (int round = 0; round < 2; round++) {
        faas_runtime *rt = new_runtime(NULL, 2);
        faas_config c = iso_config(FAAS_SECCOMP_NO_NETWORK);
        c.timeout_ms = 300;
        reg(rt, "a", "dispatch", &c);
        reg(rt, "b", "dispatch", &c);
        ASSERT_OK(faas_warm(rt, "a", 3));
        faas_response res;
        const char *calls[] = { "pid", "segv", "spin", "net", "big 200000", "exit 1", "pid" };
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            faas_invoke(rt, "a", calls[i], strlen(calls[i]), &res);
            faas_response_free(&res);
            faas_invoke(rt, "b", calls[i], strlen(calls[i]), &res);
            faas_response_free(&res);
        }
        char big[100000];
        memset(big, 'x', sizeof big);
        ASSERT_OK(faas_invoke(rt, "b", big, sizeof big, &res));    /* a shared region */
        faas_response_free(&res);
        assert_true(children(kids, 8) >= 2);
        faas_runtime_free(rt);
        assert_int_equal(count_fds(), fds);
        assert_int_equal(children(kids, 8), 0);     /* no zygote, no zombie */
    }
}

/* ---- under load, with crashes: every call completes exactly once --------------------- */

static void test_stress_sync(void **state)
{
    (void)state;
    if (!built)
        skip();
    unsigned n = scaled(100000);
    capture cap;
    capture_init(&cap);
    faas_runtime *rt = new_runtime(NULL, 0);
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    reg(rt, "f", "dispatch", &c);
    unsigned ok = 0, crashed = 0, want_crashed = 0;
    srand(12345);
    for (unsigned i = 0; i < n; i++) {
        bool crash = rand() % 100 == 0;            /* 1% */
        want_crashed += crash;
        char p[32];
        int len = snprintf(p, sizeof p, "%s %u", crash ? "crash" : "ok", i);
        faas_response res;
        int rc = faas_invoke(rt, "f", p, (size_t)len, &res);
        if (crash) {
            assert_int_equal(rc, FAAS_ECRASHED);
            crashed++;
        } else {
            assert_int_equal(rc, FAAS_OK);
            assert_int_equal(res.len, (size_t)len);
            assert_memory_equal(res.data, p, (size_t)len);
            ok++;
        }
        faas_response_free(&res);
    }
    assert_int_equal(ok + crashed, n);
    assert_int_equal(crashed, want_crashed);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.invocations, n);
    assert_int_equal(st.errors, want_crashed);
    assert_int_equal(st.cold_starts, want_crashed + 1);
    faas_runtime_free(rt);
    capture_free(&cap);
}

typedef struct tally {
    atomic_uint *done;              /* completions per call index */
    atomic_uint  ok, crashed, other;
    bool        *crash;             /* which calls were asked to crash */
} tally;

static tally *T;

static void completed_index(const faas_response *res, void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    atomic_fetch_add(&T->done[i], 1);
    if (res->status == FAAS_OK && !T->crash[i] && res->len > 3 &&
        (unsigned)atoi((const char *)res->data + 3) == i)
        atomic_fetch_add(&T->ok, 1);
    else if (res->status == FAAS_ECRASHED && T->crash[i])
        atomic_fetch_add(&T->crashed, 1);
    else
        atomic_fetch_add(&T->other, 1);
}

static void test_stress_async(void **state)
{
    (void)state;
    if (!built)
        skip();
    unsigned n = scaled(100000);
    tally t;
    memset(&t, 0, sizeof t);
    t.done = calloc(n, sizeof *t.done);
    t.crash = calloc(n, sizeof *t.crash);
    T = &t;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.queue_capacity = n + 16;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_config c = iso_config(FAAS_SECCOMP_NO_NETWORK);
    c.max_retries = 0;                  /* one completion per call, no retry */
    reg(rt, "f", "dispatch", &c);
    unsigned want_crashed = 0;
    srand(54321);
    for (unsigned i = 0; i < n; i++) {
        t.crash[i] = rand() % 100 == 0;
        want_crashed += t.crash[i];
        char p[32];
        int len = snprintf(p, sizeof p, "%s %u", t.crash[i] ? "crash" : "ok", i);
        ASSERT_OK(faas_invoke_async(rt, "f", p, (size_t)len, completed_index,
                                    (void *)(uintptr_t)i, NULL));
    }
    ASSERT_OK(faas_drain(rt, 600000));
    for (unsigned i = 0; i < n; i++)
        if (atomic_load(&t.done[i]) != 1)
            fail_msg("call %u completed %u times", i, atomic_load(&t.done[i]));
    assert_int_equal(atomic_load(&t.other), 0);
    assert_int_equal(atomic_load(&t.crashed), want_crashed);
    assert_int_equal(atomic_load(&t.ok), n - want_crashed);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.invocations, n);
    assert_int_equal(st.errors, want_crashed);
    faas_runtime_free(rt);
    free(t.done);
    free(t.crash);
}

/* Async retries and dead letters work unchanged: a crash is retried, then dead-lettered. */
static atomic_int dl_count;
static char dl_body[4096];

static int dead_letter(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    snprintf(dl_body, sizeof dl_body, "%.*s", (int)len, (const char *)payload);
    atomic_fetch_add(&dl_count, 1);
    return 0;
}

static atomic_int final_status;

static void final(const faas_response *res, void *arg)
{
    (void)arg;
    atomic_store(&final_status, res->status);
}

static void test_retries_and_dead_letter(void **state)
{
    (void)state;
    if (!built)
        skip();
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    o.retry_base_ms = 1;
    o.retry_cap_ms = 2;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "dlq", dead_letter, NULL));
    faas_config c = iso_config(FAAS_SECCOMP_NONE);
    c.max_retries = 2;
    c.dead_letter = "dlq";
    reg(rt, "f", "dispatch", &c);
    ASSERT_OK(faas_invoke_async(rt, "f", "segv", 4, final, NULL, NULL));
    ASSERT_OK(faas_drain(rt, 30000));
    assert_int_equal(atomic_load(&final_status), FAAS_ECRASHED);
    assert_int_equal(atomic_load(&dl_count), 1);
    assert_non_null(strstr(dl_body, "\"approximateInvokeCount\":3"));
    assert_non_null(strstr(dl_body, "SIGSEGV"));
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "f", &st));
    assert_int_equal(st.invocations, 3);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.cold_starts, 3);            /* each crash replaced its instance */
    faas_runtime_free(rt);
}

/* After every test: its runtimes are freed, so no zygote (nor a zombie) is left. */
static int no_children(void **state)
{
    (void)state;
    restore_zygote();                   /* a failed test may have left another one set */
    pid_t kids[8];
    int n = children(kids, 8);
    if (n == 0)
        return 0;
    /* A failed test left its runtime (and so a zygote) behind: clear them away, so that
     * the next tests start clean and only this one fails. */
    fprintf(stderr, "# %d child process(es) left, the first %d\n", n, (int)kids[0]);
    for (int i = 0; i < n && i < 8; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    return -1;
}

#define T(name) cmocka_unit_test_teardown(name, no_children)

int main(void)
{
    if (getenv("FAAS_ZYGOTE") != NULL)
        zygote_env = strdup(getenv("FAAS_ZYGOTE"));
    /* Is isolation built? A registration tells (FAAS_ENOTSUP when not). */
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &(faas_options){ .manual = 1 }) != FAAS_OK)
        return 1;
    faas_config c;
    faas_config_init(&c);
    c.isolation = FAAS_ISOLATE_PROCESS;
    built = faas_register_module(rt, "probe", "probe.so", "h", &c) == FAAS_OK;
    faas_runtime_free(rt);

    tap_fix_skips();
    const struct CMUnitTest tests[] = {
        T(test_config_checks),
        T(test_without_isolation),
        T(test_calls),
        T(test_large_payloads),
        T(test_null_dereference),
        T(test_abort),
        T(test_infinite_loop),
        T(test_log_flood_times_out),
        T(test_memory_limit),
        T(test_peak_memory),
        T(test_exit),
        T(test_seccomp),
        T(test_load_and_init_failures),
        T(test_warm),
        T(test_zygote_restarted),
        T(test_no_leaks),
        T(test_stress_sync),
        T(test_stress_async),
        T(test_retries_and_dead_letter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
