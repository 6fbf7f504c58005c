/*
 * test_process.c - process instances speaking the Lambda Runtime API (faas_register_process):
 * AWS's tutorial custom runtime (tests/runtime/bootstrap + function.sh, unchanged) served
 * through faas_invoke(); a handler that fails mid-call (Runtime.ExitError with the exit
 * status), the /error and /init/error routes, a timeout (the group is killed), concurrency
 * at max_concurrency (4 processes, the 5th call throttled) and scale to zero (no process
 * left in /proc). The runtime is manual, on a fake clock, so that keep-alive is exact; the
 * processes are real.
 */
#include "process_fixture.h"
#include "deface.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

typedef proc_fix pfix;

static int setup(void **state)
{
    pfix *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    faas_options o = manual_options(&f->clock);
    if (proc_fix_open(f, &o, "faas-process") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    pfix *f = *state;
    proc_fix_close(f);
    free(f);
    return 0;
}

/* Copy the tutorial's function.sh into DIR (LAMBDA_TASK_ROOT). */
static void put_tutorial_handler(const pfix *f)
{
    const char *src = getenv("top_srcdir");
    char path[1024], text[4096];
    snprintf(path, sizeof path, "%s/tests/runtime/function.sh", src ? src : "..");
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    proc_fix_put_file(f, "function.sh", text);
}

/* Register NAME running the tutorial bootstrap (under bash) with handler H. */
static void register_tutorial(pfix *f, const char *name, const char *handler,
                              const faas_config *cfg)
{
    proc_fix_register_tutorial(f, name, handler, "GREETING=hello there", cfg);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the tutorial, unchanged ------------------------------------------------------------- */

static void tutorial_bootstrap_serves_its_handler(void **state)
{
    pfix *f = *state;
    put_tutorial_handler(f);
    register_tutorial(f, "bash-runtime", "function.handler", NULL);
    static const char event[] = "{\"text\":\"Hello\"}";
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "bash-runtime", event, sizeof event - 1, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_string_equal((const char *)res.data, "Echoing request: '{\"text\":\"Hello\"}'");
    assert_int_equal(res.record.cold, 1);
    assert_true(res.record.max_memory_bytes > 0);       /* the runtime's VmHWM */
    faas_response_free(&res);

    /* Warm: the same process answers, with a new request id. */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(faas_invoke(f->rt, "bash-runtime", "{\"n\":1}", 7, &res));
        assert_string_equal((const char *)res.data, "Echoing request: '{\"n\":1}'");
        assert_int_equal(res.record.cold, 0);
        faas_response_free(&res);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "bash-runtime", &st));
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.instances_live, 1);
}

/* The handler sees Lambda's reserved variables and the function's own. */
static void environment_is_lambdas(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "env.sh",
             "function handler () {\n"
             "  echo \"$AWS_LAMBDA_FUNCTION_NAME|$AWS_LAMBDA_FUNCTION_VERSION|"
             "$AWS_LAMBDA_FUNCTION_MEMORY_SIZE|$AWS_LAMBDA_LOG_GROUP_NAME|$AWS_REGION|"
             "$AWS_DEFAULT_REGION|$_HANDLER|$LAMBDA_TASK_ROOT|$TZ|$GREETING|"
             "${AWS_LAMBDA_RUNTIME_API%%/*}\"\n"
             "}\n");
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.memory_mb = 256;
    register_tutorial(f, "envfn", "env.handler", &cfg);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "envfn", "{}", 2, &res));
    char want[1024];
    snprintf(want, sizeof want, "envfn|$LATEST|256|/aws/lambda/envfn|us-east-1|us-east-1|"
             "env.handler|%s|:UTC|hello there|127.0.0.1:", f->dir);
    /* the endpoint's port varies: compare up to it */
    assert_int_equal(strncmp((const char *)res.data, want, strlen(want)), 0);
    faas_response_free(&res);

    /* Reserved names cannot be set by the function. */
    const char *bad[] = { "AWS_LAMBDA_FUNCTION_NAME=x", NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/true";
    pc.environment = bad;
    assert_int_equal(faas_register_process(f->rt, "bad", &pc, NULL), FAAS_EINVAL);
    pc.environment = NULL;
    /* A runtime's user is pc.user: faas_config.user (an isolated module's) is refused. */
    cfg.user = "nobody";
    assert_int_equal(faas_register_process(f->rt, "bad", &pc, &cfg), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "faas_process_config.user"));
    pc.command = NULL;
    assert_int_equal(faas_register_process(f->rt, "bad", &pc, NULL), FAAS_EINVAL);
}

/* LD_LIBRARY_PATH names Lambda's directories that exist as the instance starts, each once:
 * the task root's lib/ appears once it exists, and a function's own value replaces it. */
static void ld_library_path_names_what_exists(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "ld.sh", "function handler () { printf '%s' \"$LD_LIBRARY_PATH\"; }\n");
    char lib[600];
    snprintf(lib, sizeof lib, "%s/lib", f->dir);
    assert_int_equal(mkdir(lib, 0755), 0);
    register_tutorial(f, "ldpath", "ld.handler", NULL);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "ldpath", "{}", 2, &res));
    const char *got = (const char *)res.data;
    print_message("# LD_LIBRARY_PATH=%s\n", got);
    char want[2048] = "";
    const char *lambda_dirs[] = { "/lib64", "/usr/lib64", f->dir, lib, "/opt/lib" };
    for (size_t i = 0; i < 5; i++)
        if (is_dir(lambda_dirs[i]))
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                     *want ? ":" : "", lambda_dirs[i]);
    assert_int_equal(strncmp(got, want, strlen(want)), 0);
    assert_true(got[strlen(want)] == '\0' || got[strlen(want)] == ':');
    /* the task root and its lib/ once each, though Lambda's list names them twice */
    const char *second = strstr(strstr(got, lib) + strlen(lib), lib);
    assert_null(second);
    faas_response_free(&res);

    /* The function's own value is the value. */
    proc_fix_register_tutorial(f, "ldown", "ld.handler", "LD_LIBRARY_PATH=/nowhere", NULL);
    ASSERT_OK(faas_invoke(f->rt, "ldown", "{}", 2, &res));
    assert_string_equal((const char *)res.data, "/nowhere");
    faas_response_free(&res);
    assert_int_equal(rmdir(lib), 0);
}

/* Every variable Lambda defines for a provided-runtime function, as the runtime's process
 * sees it (a handler that prints them). */
static void environment_is_complete(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "envall.sh",
             "function handler () {\n"
             "  for v in AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_VERSION "
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_INITIALIZATION_TYPE "
             "AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME AWS_LAMBDA_RUNTIME_API "
             "AWS_REGION AWS_DEFAULT_REGION _HANDLER LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR TZ "
             "LANG PATH LD_LIBRARY_PATH AWS_EXECUTION_ENV GREETING; do\n"
             "    printf '%s=%s;' \"$v\" \"${!v-(unset)}\"\n"
             "  done\n"
             "}\n");
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.memory_mb = 512;
    register_tutorial(f, "envall", "envall.handler", &cfg);
    /* $LATEST; a published version's variables (its number, its frozen task root) are
     * tests/test_process_versions.c's. */
    const char *qualified[] = { "envall" };
    const char *version[] = { "$LATEST" };
    for (int q = 0; q < 1; q++) {
        faas_response res;
        ASSERT_OK(faas_invoke(f->rt, qualified[q], "{}", 2, &res));
        const char *out = (const char *)res.data;
        print_message("# %s\n", out);
        char want[2048];
        snprintf(want, sizeof want,
                 "AWS_LAMBDA_FUNCTION_NAME=envall;AWS_LAMBDA_FUNCTION_VERSION=%s;"
                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512;AWS_LAMBDA_INITIALIZATION_TYPE=on-demand;"
                 "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/envall;", version[q]);
        assert_int_equal(strncmp(out, want, strlen(want)), 0);
        /* Lambda's LD_LIBRARY_PATH, less the directories this host lacks (the task root
         * has no lib/ here) and the task root named twice. */
        char ld[1024] = "";
        const char *lambda_dirs[] = { "/lib64", "/usr/lib64", f->dir, "/opt/lib" };
        for (size_t i = 0; i < 4; i++)
            if (is_dir(lambda_dirs[i]))
                snprintf(ld + strlen(ld), sizeof ld - strlen(ld), "%s%s", *ld ? ":" : "",
                         lambda_dirs[i]);
        regex_t re;
        char pattern[4096];
        snprintf(pattern, sizeof pattern,
                 ";AWS_LAMBDA_LOG_STREAM_NAME=[0-9]{4}/[0-9]{2}/[0-9]{2}/\\[%s\\][0-9a-f]{32};"
                 "AWS_LAMBDA_RUNTIME_API=127\\.0\\.0\\.1:[0-9]+;"
                 "AWS_REGION=us-east-1;AWS_DEFAULT_REGION=us-east-1;_HANDLER=envall\\.handler;"
                 "LAMBDA_TASK_ROOT=%s;LAMBDA_RUNTIME_DIR=%s;TZ=:UTC;LANG=en_US\\.UTF-8;"
                 "PATH=[^;]+;LD_LIBRARY_PATH=%s(:[^;]*)?;"
                 "AWS_EXECUTION_ENV=\\(unset\\);GREETING=hello there;$",
                 q == 0 ? "\\$LATEST" : "1", f->dir, f->dir, ld);
        assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
        int m = regexec(&re, out, 0, NULL, 0);
        regfree(&re);
        if (m != 0)
            print_message("# does not match %s\n", pattern);
        assert_int_equal(m, 0);
        faas_response_free(&res);
    }
}

/* The client context reaches a process instance in Lambda-Runtime-Client-Context: a
 * runtime of our own answers with the header's value ("none" without one). */
static void client_context_header(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "ccboot",
             "API=\"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime\"\n"
             "while true; do\n"
             "  H=$(mktemp)\n"
             "  curl -sS -D \"$H\" \"$API/invocation/next\" >/dev/null\n"
             "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | "
             "cut -d: -f2)\n"
             "  CC=$(grep -Fi Lambda-Runtime-Client-Context \"$H\" | cut -d' ' -f2- | "
             "tr -d '\\r')\n"
             "  curl -sS -X POST \"$API/invocation/$ID/response\" --data-binary "
             "\"${CC:-none}\" >/dev/null\n"
             "done\n");
    char boot[300];
    snprintf(boot, sizeof boot, "%s/ccboot", f->dir);
    const char *argv[] = { "bash", boot, NULL };
    const char *env[] = { f->tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.environment = env;
    pc.writable = f->writable;
    pc.cwd = f->dir;
    ASSERT_OK(faas_register_process(f->rt, "ccfn", &pc, NULL));
    faas_invoke_options io = FAAS_INVOKE_OPTIONS_INIT;
    io.client_context = "{\"custom\": {\"k\": \"v\"},\n \"env\": {}}";
    faas_response res;
    ASSERT_OK(faas_invoke_ex(f->rt, "ccfn", "{}", 2, &io, &res));
    assert_string_equal(res.data, "{\"custom\":{\"k\":\"v\"},\"env\":{}}");
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "ccfn", "{}", 2, &res));
    assert_string_equal(res.data, "none");
    faas_response_free(&res);
}

/* The per-call headers a runtime reads: the function's ARN (the same each call), a trace
 * header of X-Ray's form (new ids each call) and the deadline in Unix ms. */
static void call_headers_are_lambdas(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "hdboot",
             "API=\"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime\"\n"
             "while true; do\n"
             "  H=$(mktemp)\n"
             "  curl -sS -D \"$H\" \"$API/invocation/next\" >/dev/null\n"
             "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | "
             "cut -d: -f2)\n"
             "  V=$(grep -Ei '^Lambda-Runtime-(Invoked-Function-Arn|Trace-Id|Deadline-Ms):' "
             "\"$H\" | sort | cut -d' ' -f2- | tr -d '\\r' | tr '\\n' ' ')\n"
             "  curl -sS -X POST \"$API/invocation/$ID/response\" --data-binary \"$V\" "
             ">/dev/null\n"
             "done\n");
    char boot[300];
    snprintf(boot, sizeof boot, "%s/hdboot", f->dir);
    const char *argv[] = { "bash", boot, NULL };
    const char *env[] = { f->tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.environment = env;
    pc.writable = f->writable;
    pc.cwd = f->dir;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 5000;
    ASSERT_OK(faas_register_process(f->rt, "hdfn", &pc, &cfg));
    regex_t re;
    /* sorted by name (the runtime's clock is the fixture's, standing still): Deadline-Ms, Invoked-Function-Arn, Trace-Id */
    assert_int_equal(regcomp(&re, "^([0-9]{13}) arn:aws:lambda:us-east-1:000000000000:"
                             "function:hdfn (Root=1-[0-9a-f]{8}-[0-9a-f]{24};"
                             "Parent=[0-9a-f]{16};Sampled=0) $", REG_EXTENDED), 0);
    char trace[2][128];
    for (int i = 0; i < 2; i++) {
        long long now_ms = (long long)(atomic_load(&f->clock.wall) / 1000000);  /* still */
        faas_response res;
        ASSERT_OK(faas_invoke(f->rt, "hdfn", "{}", 2, &res));
        regmatch_t m[3];
        if (regexec(&re, res.data, 3, m, 0) != 0)
            fail_msg("headers seen by the runtime: \"%s\"", (const char *)res.data);
        long long deadline = strtoll((const char *)res.data + m[1].rm_so, NULL, 10);
        assert_true(deadline > now_ms + 4000 && deadline <= now_ms + 5000);
        snprintf(trace[i], sizeof trace[i], "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
                 (const char *)res.data + m[2].rm_so);
        /* its Root's time is the call's, in hex seconds */
        long long root_s = strtoll(trace[i] + 7, NULL, 16);
        assert_int_equal(root_s, now_ms / 1000);
        faas_response_free(&res);
    }
    assert_string_not_equal(trace[0], trace[1]);
    regfree(&re);
}

/* ---- failures ---------------------------------------------------------------------------- */

/* The tutorial's bootstrap runs under set -e: a failing handler ends the runtime mid-call. */
static void handler_failure_is_an_exit_error(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "fail.sh", "function handler () {\n  exit 3\n}\n");
    register_tutorial(f, "failing", "fail.handler", NULL);
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "failing", "{}", 2, &res), FAAS_ECRASHED);
    assert_string_equal(res.error_type, "Runtime.ExitError");
    assert_non_null(strstr(res.error_message, "exit status 3"));
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "failing", &st));
    assert_int_equal(st.instances_live, 0);             /* retired, as Lambda resets it */
}

/* A runtime of our own posting to /error and /init/error, with curl. */
static void error_routes(void **state)
{
    pfix *f = *state;
    proc_fix_put_file(f, "errboot",
             "API=\"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime\"\n"
             "if [ \"$_HANDLER\" = init ]; then\n"
             "  curl -sS -X POST \"$API/init/error\" -H 'Lambda-Runtime-Function-Error-Type: "
             "Runtime.Custom' -d '{\"errorMessage\":\"no config\",\"errorType\":"
             "\"ConfigError\"}' >/dev/null\n"
             "  exit 1\n"
             "fi\n"
             "while true; do\n"
             "  H=$(mktemp)\n"
             "  curl -sS -D \"$H\" \"$API/invocation/next\" >/dev/null\n"
             "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | "
             "cut -d: -f2)\n"
             "  C=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "
             "\"$API/invocation/not-$ID/response\" -d x)\n"
             "  curl -sS -X POST \"$API/invocation/$ID/error\" -H "
             "'Lambda-Runtime-Function-Error-Type: Unhandled' -d "
             "\"{\\\"errorMessage\\\":\\\"bad id got $C\\\",\\\"errorType\\\":"
             "\\\"InvalidEventDataException\\\",\\\"stackTrace\\\":[]}\" >/dev/null\n"
             "done\n");
    char boot[300];
    snprintf(boot, sizeof boot, "%s/errboot", f->dir);
    const char *argv[] = { "bash", boot, NULL };
    const char *env[] = { f->tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.environment = env;
    pc.writable = f->writable;
    pc.cwd = f->dir;
    pc.handler = "call";
    ASSERT_OK(faas_register_process(f->rt, "errs", &pc, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "errs", "{}", 2, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "InvalidEventDataException");
    assert_string_equal(res.error_message, "bad id got 400");
    assert_non_null(strstr((const char *)res.data, "\"stackTrace\""));
    faas_response_free(&res);
    /* A function error keeps the instance: the next call is warm. */
    assert_int_equal(faas_invoke(f->rt, "errs", "{}", 2, &res), FAAS_EHANDLER);
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);

    pc.handler = "init";
    ASSERT_OK(faas_register_process(f->rt, "initerr", &pc, NULL));
    assert_int_equal(faas_invoke(f->rt, "initerr", "{}", 2, &res), FAAS_EINIT);
    assert_string_equal(res.error_type, "Runtime.InitError");
    assert_non_null(strstr(res.error_message, "no config"));
    faas_response_free(&res);
}

/* ---- tests/runtime/c/bootstrap: a custom runtime in C ------------------------------------ */

/* Register NAME on rt running the C bootstrap (built by make check) with handler H in dir,
 * with cfg (NULL: the defaults). */
static void register_c_on(faas_runtime *rt, const char *dir, const char *name,
                          const char *handler, const faas_config *cfg)
{
    const char *b = getenv("top_builddir");
    char boot[1024];
    snprintf(boot, sizeof boot, "%s/tests/runtime/c/bootstrap", b ? b : "..");
    assert_int_equal(access(boot, X_OK), 0);
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = boot;
    pc.handler = handler;
    pc.cwd = dir;
    ASSERT_OK(faas_register_process(rt, name, &pc, cfg));
}

static void register_c(pfix *f, const char *name, const char *handler)
{
    register_c_on(f->rt, f->dir, name, handler, NULL);
}

/* Register NAME (the C bootstrap's handler H, a timeout of timeout_ms) and start its
 * instance with a call of "0": warm and idle. */
static void start_c(pfix *f, const char *name, const char *handler, unsigned timeout_ms)
{
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = timeout_ms;
    register_c_on(f->rt, f->dir, name, handler, &cfg);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, name, "0", 1, &res));
    faas_response_free(&res);
}

/* Max Memory Used is the runtime's peak so far (VmHWM), also when the peak was freed
 * before the answer and the calls before it left /proc/PID/status unread (process.c reads
 * it only when the runtime's page-fault counts have moved): a call that maps and touches
 * 64 MiB shows them; the quiet calls after it keep them. */
static void max_memory_is_the_peak(void **state)
{
    pfix *f = *state;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.memory_mb = 1024;               /* room for a sanitizer's shadow of the 64 MiB */
    register_c_on(f->rt, f->dir, "c-alloc", "alloc", &cfg);
    faas_response res;
    uint64_t quiet = 0;
    for (int i = 0; i < 5; i++) {                 /* no faults: the peak kept, not re-read */
        ASSERT_OK(faas_invoke(f->rt, "c-alloc", "0", 1, &res));
        assert_true(res.record.max_memory_bytes > 0);
        if (i > 0)
            assert_true(res.record.max_memory_bytes <= quiet + (1u << 20));
        quiet = res.record.max_memory_bytes;
        faas_response_free(&res);
    }
    ASSERT_OK(faas_invoke(f->rt, "c-alloc", "64", 2, &res));
    uint64_t peak = res.record.max_memory_bytes;
    assert_true(peak >= quiet + (60u << 20));     /* unmapped before it answered */
    faas_response_free(&res);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(faas_invoke(f->rt, "c-alloc", "0", 1, &res));
        assert_true(res.record.max_memory_bytes >= peak);
        faas_response_free(&res);
    }
}

/* A runtime whose log lines go to cap, and cfg at its defaults. */
static faas_runtime *logged_runtime(capture *cap, faas_config *cfg)
{
    capture_init(cap);
    faas_config_init(cfg);
    return plain_runtime(0, capture_line, cap);
}

/* memory_mb bounds the instance's processes together (a memory cgroup per instance; the
 * runtime gets no RLIMIT_AS, which V8 could not live with): a runtime that touches more is
 * killed by the kernel, and the call fails Runtime.OutOfMemory (FAAS_EMEMORY) with Max
 * Memory Used at the limit, as Lambda's; the host and the next call (on a new instance) go
 * on. A child of the runtime is counted too: it is killed, and the runtime goes on. The
 * limit leaves room for a sanitizer's shadow of the small calls' 8 MiB (TSan's is ~5x). */
static void memory_mb_bounds_a_runtime(void **state)
{
    pfix *f = *state;
    capture cap;
    faas_config cfg;
    faas_runtime *rt = logged_runtime(&cap, &cfg);
    cfg.memory_mb = 256;
    register_c_on(rt, f->dir, "c-alloc", "alloc", &cfg);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "c-alloc", "8", 1, &res));        /* under the limit */
    faas_response_free(&res);
    if (capture_count(&cap, "memory_mb is not enforced") > 0) {
        faas_runtime_free(rt);
        capture_free(&cap);
        print_message("# memory_mb is not enforced here (no memory cgroup): see the log\n");
        skip();                         /* not 1 GiB touched for nothing */
    }
    assert_int_equal(faas_invoke(rt, "c-alloc", "1024", 4, &res), FAAS_EMEMORY);
    assert_string_equal(res.error_type, "Runtime.OutOfMemory");
    assert_non_null(strstr(res.error_message, "memory limit of 256 MB"));
    assert_int_equal(res.record.status, FAAS_EMEMORY);
    assert_int_equal(res.record.max_memory_bytes, 256u << 20);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "c-alloc", "c1024", 5, &res));    /* a child of it */
    char want[64];
    snprintf(want, sizeof want, "{\"exit\":-1,\"signal\":%d}", SIGKILL);
    assert_int_equal(res.len, strlen(want));
    assert_memory_equal(res.data, want, res.len);
    assert_int_equal(res.record.cold, 1);                       /* a new instance */
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "c-alloc", "c8", 2, &res));       /* under it: fine */
    static const char fine[] = "{\"exit\":0,\"signal\":0}";
    assert_int_equal(res.len, sizeof fine - 1);
    assert_memory_equal(res.data, fine, res.len);
    faas_response_free(&res);
    faas_runtime_free(rt);
    capture_free(&cap);
}

/* A runtime cannot open its host's memory (/proc/PID/mem, as a debugger would) to change
 * it, nor another runtime's: /proc is the host's, so what stops it is its user ("nobody"
 * by default when the host is root) and a user namespace of its own, where it has no right
 * over processes outside. A runtime run as root (user "root") is root in that namespace
 * only. Without either (all runtimes as root, as before), the first open succeeded. Where
 * user namespaces cannot be made (a sanitizer's threaded init), the log says so and the
 * runtimes of one user are not asserted apart. A user that does not exist is refused. */
static void runtime_cannot_open_the_hosts_memory(void **state)
{
    pfix *f = *state;
    if (geteuid() != 0) {
        print_message("# the host is not root: its runtimes run as its own user (see "
                      "non_root_host_cannot_be_reached), and it may not name root\n");
        skip();
    }
    capture cap;
    faas_config cfg;
    faas_runtime *rt = logged_runtime(&cap, &cfg);
    const char *b = getenv("top_builddir");
    char boot[1024], pid[16];
    snprintf(boot, sizeof boot, "%s/tests/runtime/c/bootstrap", b ? b : "..");
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = boot;
    pc.handler = "mem";
    pc.cwd = f->dir;
    /* c-mem-0 and c-mem-1 (the default user), then c-mem-2 (root): each opens the memory
     * of the one before it (the first, the host's). */
    const char *users[] = { NULL, NULL, "root" };
    int last = (int)getpid();
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "c-mem-%d", i);
        pc.user = users[i];
        ASSERT_OK(faas_register_process(rt, name, &pc, NULL));
        int n = snprintf(pid, sizeof pid, "%d", last);
        faas_response res;
        ASSERT_OK(faas_invoke(rt, name, pid, (size_t)n, &res));
        int opened = -1, err = -1, uid = -1, self = 0;
        assert_int_equal(sscanf((const char *)res.data, "{\"opened\":%d,\"errno\":%d,"
                                "\"uid\":%d,\"self\":%d}", &opened, &err, &uid, &self), 4);
        print_message("# runtime as %s (uid %d): /proc/%s/mem (%s) %s (errno %d)\n",
                      users[i] ? users[i] : "the default", uid, pid,
                      i == 0 ? "the host's" : "another function's runtime's",
                      opened ? "opened for writing" : "refused", err);
        faas_response_free(&res);
        if (i < 2) {
            struct passwd *pw = getpwnam("nobody");
            assert_int_equal(uid, pw ? (int)pw->pw_uid : 65534);
            bool shared = capture_count(&cap, "without a user namespace of their own") > 0;
            if (i == 0 || !shared) {    /* runtimes of one user: their namespaces apart */
                assert_int_equal(opened, 0);
                /* ENOENT: its /proc, its PID namespace's, does not show the process */
                assert_true(err == EACCES || err == EPERM || err == ENOENT);
            }
        } else {                        /* root in a user namespace of its own: no more */
            assert_int_equal(uid, 0);
            if (capture_count(&cap, "without a user namespace of their own") == 0)
                assert_int_equal(opened, 0);
        }
        last = (int)host_pid_of(name, self);   /* its pid as the host sees it */
        assert_true(last > 0);
    }
    pc.user = "no-such-user-here";
    assert_int_equal(faas_register_process(rt, "c-mem-x", &pc, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "no-such-user-here"));
    faas_runtime_free(rt);
    capture_free(&cap);
}


/* A manual runtime whose log goes to cap (initialised here) and whose journal is the
 * directory journal: faas_runtime_new()'s status. Without cmocka (it may run in a child). */
static int journal_runtime(faas_runtime **rt, capture *cap, const char *journal)
{
    capture_init(cap);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    o.log = capture_line;
    o.log_arg = cap;
    o.journal_dir = journal;
    return faas_runtime_new(rt, &o);
}

/* Should the machine run out of memory (memory_mb not kept, a host not root), the kernel's
 * OOM killer takes a runtime first (oom_score_adj 1000, inherited from its init), never
 * the host, whose own is untouched. */
static void runtimes_are_the_oom_killers_first_choice(void **state)
{
    pfix *f = *state;
    int host = oom_score_adj_of((int)getpid());
    register_c(f, "c-oom", "mem");
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "c-oom", "1", 1, &res));
    const char *at = strstr((const char *)res.data, "\"self\":");
    assert_non_null(at);
    int self = (int)host_pid_of("c-oom", atol(at + 7));     /* as the host sees it */
    faas_response_free(&res);
    assert_true(self > 0);
    print_message("# the runtime's oom_score_adj %d, the host's %d\n", oom_score_adj_of(self),
                  oom_score_adj_of((int)getpid()));
    assert_int_equal(oom_score_adj_of(self), 1000);
    assert_int_equal(oom_score_adj_of((int)getpid()), host);
}

/* A runtime (as user, NULL: the default) of rt, whose journal is the directory journal,
 * tries to list, add to and empty it ("spoil"). 1: it saw, made or removed something, or the
 * journal's lock file is gone; 0: none of that; -1: the call did not run (why says so).
 * Without cmocka (it may run in a child). */
static int spoil_journal(faas_runtime *rt, const char *boot, const char *dir,
                         const char *journal, const char *user, char *why, size_t whylen)
{
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = boot;
    pc.handler = "spoil";
    pc.cwd = dir;
    pc.user = user;
    char name[32];
    snprintf(name, sizeof name, "spoil-%s", user ? user : "default");
    faas_response res;
    memset(&res, 0, sizeof res);
    if (faas_register_process(rt, name, &pc, NULL) != FAAS_OK ||
        faas_invoke(rt, name, journal, strlen(journal), &res) != FAAS_OK) {
        snprintf(why, whylen, "%s: %s", name, faas_last_error());
        faas_response_free(&res);
        return -1;
    }
    unsigned seen = 0, removed = 0;
    int created = -1, e = -1;
    int got = sscanf((const char *)res.data, "{\"seen\":%u,\"created\":%d,\"removed\":%u,"
                     "\"errno\":%d}", &seen, &created, &removed, &e);
    faas_response_free(&res);
    char lock[1100];
    snprintf(lock, sizeof lock, "%s/lock", journal);
    bool intact = access(lock, F_OK) == 0;
    printf("# host uid %d: a runtime (as %s) in its journal %s: saw %u, created %d, removed "
           "%u (errno %d); its lock file %s\n", (int)geteuid(), user ? user : "the default",
           journal, seen, created, removed, e, intact ? "is there" : "is GONE");
    if (got != 4) {
        snprintf(why, whylen, "%s: no answer of the expected form", name);
        return -1;
    }
    return seen > 0 || created != 0 || removed > 0 || !intact ? 1 : 0;
}

/* The host's side of non_root_host_cannot_be_reached, without cmocka (it may run in a
 * child): as this process's user, a runtime opens this process's memory ("mem"), then
 * signals it ("signal", SIGUSR1, ignored here). 0: both refused; 1: one succeeded, or the
 * log says runtimes are not contained where they could be; 2: the test could not run (its
 * reason in why); 3: the log says they are not contained, and they cannot be here (no user
 * namespaces for this user, or a threaded spawner under TSan): nothing is asserted. */
static int reach_host_as_self(const char *dir, char *why, size_t whylen)
{
    const char *b = getenv("top_builddir");
    char boot[1024], pid[16];
    snprintf(boot, sizeof boot, "%s/tests/runtime/c/bootstrap", b ? b : "..");
    if (access(boot, X_OK) != 0 || access(dir, W_OK | X_OK) != 0) {
        snprintf(why, whylen, "uid %d cannot run %.200s in %.200s", (int)geteuid(), boot, dir);
        return 2;
    }
    signal(SIGUSR1, SIG_IGN);               /* a signal that arrives is seen in kill()'s rc */
    capture cap;
    char journal[1024];
    snprintf(journal, sizeof journal, "%s/journal-%d", dir, (int)getpid());
    faas_runtime *rt;
    int result = 2;
    if (journal_runtime(&rt, &cap, journal) != FAAS_OK) {
        snprintf(why, whylen, "faas_runtime_new: %s", faas_last_error());
        capture_free(&cap);
        return 2;
    }
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    /* The host signalled, the host's memory, then a second runtime opens the first's
     * memory (both of the host's user); then one goes for the host's journal. */
    const char *names[] = { "signal", "mem", "mem-2" }, *handlers[] = { "signal", "mem", "mem" };
    const char *what[] = { "signalling the host", "opening the host's memory",
                           "opening another runtime's memory" };
    int reached = 0;
    for (int i = 0; i < 3; i++) {
        faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
        pc.command = boot;
        pc.handler = handlers[i];
        pc.cwd = dir;
        faas_response res;
        memset(&res, 0, sizeof res);
        if (faas_register_process(rt, names[i], &pc, NULL) != FAAS_OK ||
            faas_invoke(rt, names[i], pid, strlen(pid), &res) != FAAS_OK) {
            snprintf(why, whylen, "%s: %s", names[i], faas_last_error());
            faas_response_free(&res);
            goto out;
        }
        int a = -1, e = -1, uid = -1, self = 0;
        bool mem = i != 0;
        bool read = mem
            ? sscanf((const char *)res.data, "{\"opened\":%d,\"errno\":%d,\"uid\":%d,"
                     "\"self\":%d}", &a, &e, &uid, &self) == 4
            : sscanf((const char *)res.data, "{\"rc\":%d,\"errno\":%d", &a, &e) == 2;
        printf("# host uid %d: a runtime %s (%s): %s (errno %d)\n", (int)geteuid(), what[i],
               pid, (mem ? a == 1 : a == 0) ? "done" : "refused", e);
        faas_response_free(&res);
        if (!read) {
            snprintf(why, whylen, "%s: no answer of the expected form", names[i]);
            goto out;
        }
        if (i == 1)                                     /* the next "mem" opens this one's */
            snprintf(pid, sizeof pid, "%d", (int)host_pid_of(names[i], self));
        if (mem && uid != (int)geteuid()) {
            snprintf(why, whylen, "the runtime ran as uid %d, not the host's %d", uid,
                     (int)geteuid());
            result = 1;
            goto out;
        }
        reached += mem ? a == 1 : a == 0;
    }
    int journal_spoiled = spoil_journal(rt, boot, dir, journal, NULL, why, whylen);
    if (journal_spoiled < 0)
        goto out;
    reached += journal_spoiled;
    result = reached > 0 ? 1 : 0;
    if (capture_count(&cap, "process groups only") > 0 ||
        capture_count(&cap, "without a user namespace of their own") > 0 ||
        capture_count(&cap, "do not see this host's files read-only") > 0) {
        bool could = user_namespaces_allowed() && !TSAN;
        snprintf(why, whylen, "the log says runtimes are not contained%s",
                 could ? ", where user namespaces could contain them" : " (nor can they be here)");
        result = could ? 1 : 3;
    }
out:
    fflush(stdout);
    faas_runtime_free(rt);
    capture_free(&cap);
    return result;
}

/* The host's journal (faas_options.journal_dir: its accepted calls) is hidden from its
 * runtimes: an empty, read-only tmpfs covers it in each instance's mount namespace. A
 * runtime run as root (in its own user namespace) could otherwise empty it, root's mode
 * 0700 or not. (A host not root: non_root_host_cannot_be_reached.) Where no mount
 * namespace can be made (TSan's threaded init) the log says so, and nothing is asserted. */
static void runtime_cannot_reach_the_journal(void **state)
{
    pfix *f = *state;
    if (geteuid() != 0)
        skip();                             /* it may not name root; the other test runs */
    const char *b = getenv("top_builddir");
    char boot[1024], journal[1024], why[512] = "";
    snprintf(boot, sizeof boot, "%s/tests/runtime/c/bootstrap", b ? b : "..");
    char outside[256];                      /* the view's own /tmp would hide f->dir */
    assert_non_null(outside_temp_dir(outside, sizeof outside, "faas-journal"));
    snprintf(journal, sizeof journal, "%s/journal", outside);
    capture cap;
    faas_runtime *rt;
    ASSERT_OK(journal_runtime(&rt, &cap, journal));
    const char *users[] = { "root", NULL };
    for (int i = 0; i < 2; i++) {
        int rc = spoil_journal(rt, boot, f->dir, journal, users[i], why, sizeof why);
        if (rc < 0)
            fail_msg("%s", why);
        if (capture_count(&cap, "do not see this host's files read-only") == 0)
            assert_int_equal(rc, 0);
    }
    faas_runtime_free(rt);
    capture_free(&cap);
    remove_tree(outside);
}

/* Register NAME on rt: the C bootstrap's "deface" in dir, as user (NULL: the default),
 * writable the directories it may write (NULL: none). faas_register_process()'s status. */
static int register_deface(faas_runtime *rt, const char *name, const char *dir,
                           const char *user, const char *const *writable)
{
    const char *b = getenv("top_builddir");
    char boot[1024];
    snprintf(boot, sizeof boot, "%s/tests/runtime/c/bootstrap", b ? b : "..");
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = boot;
    pc.handler = "deface";
    pc.cwd = dir;
    pc.user = user;
    pc.writable = writable;
    return faas_register_process(rt, name, &pc, NULL);
}

/* NAME's "deface" of sc: what it did, its call's status returned. */
static int deface_call(faas_runtime *rt, const char *name, const deface_scene *sc, defaced *d,
                       faas_response *res)
{
    int rc = faas_invoke(rt, name, sc->event, strlen(sc->event), res);
    if (rc == FAAS_OK)
        assert_int_equal(defaced_parse((const char *)res->data, res->len, d), 0);
    return rc;
}

/* A runtime sees the host's files read-only, whatever its user (the default, and root in
 * a user namespace of its own on a root host): it cannot remove a file of a directory its
 * user may write (0777), add one, or remount / read-write, there or in namespaces of its
 * own; it has a /tmp of its own, where the host's files are not. A directory named
 * writable it may change. Where no view can be made (TSan's threaded spawner) the log says
 * so, and nothing is asserted; where one could be, that warning fails the test. */
static void runtimes_see_the_host_read_only(void **state)
{
    pfix *f = *state;
    const char *users[] = { NULL, "root" };
    for (int i = 0; i < (geteuid() == 0 ? 2 : 1); i++) {
        deface_scene sc;
        deface_scene_make(&sc, "faas-deface");
        capture cap;
        faas_runtime *rt;
        ASSERT_OK(journal_runtime(&rt, &cap, NULL));
        const char *writable[] = { sc.dir, NULL };
        ASSERT_OK(register_deface(rt, "ro", f->dir, users[i], NULL));
        ASSERT_OK(register_deface(rt, "rw", f->dir, users[i], writable));
        faas_response res;
        defaced d;
        ASSERT_OK(deface_call(rt, "ro", &sc, &d, &res));
        faas_response_free(&res);
        bool intact = deface_scene_intact(&sc);
        bool said = capture_count(&cap, "do not see this host's files read-only") > 0;
        char who[64];
        snprintf(who, sizeof who, "a runtime as %s", users[i] ? users[i] : "the default");
        deface_expect_refused(who, &d, intact, said);
        if (!intact) {                  /* not read-only here: the scene again */
            FILE *fp = fopen(sc.victim, "w");
            assert_non_null(fp);
            fclose(fp);
            unlink(sc.made);
        }
        ASSERT_OK(deface_call(rt, "rw", &sc, &d, &res));      /* named writable: it may */
        faas_response_free(&res);
        print_message("# writable: victim %d, new %d\n", d.victim, d.made);
        assert_int_equal(d.victim, 0);
        assert_int_equal(d.made, 0);
        assert_int_not_equal(access(sc.victim, F_OK), 0);
        assert_int_equal(access(sc.made, F_OK), 0);
        if (!said)
            assert_int_not_equal(access(sc.its_file, F_OK), 0);   /* its /tmp: its own */
        faas_runtime_free(rt);
        capture_free(&cap);
        deface_scene_free(&sc);
    }
}

/* faas_process_config.writable: each a directory that exists, not "/", not the journal's
 * nor one that holds it, 64 at most; FAAS_EINVAL naming it otherwise. */
static void writable_is_checked(void **state)
{
    pfix *f = *state;
    char base[256], journal[300], inside[320], file[300];
    assert_non_null(outside_temp_dir(base, sizeof base, "faas-writable"));
    snprintf(journal, sizeof journal, "%s/journal", base);
    snprintf(file, sizeof file, "%s/file", base);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    capture cap;
    faas_runtime *rt;
    ASSERT_OK(journal_runtime(&rt, &cap, journal));
    snprintf(inside, sizeof inside, "%s/below", journal);
    assert_int_equal(mkdir(inside, 0700), 0);
    struct { const char *dir, *why; } bad[] = {
        { "/no/such/dir", "No such file or directory" }, { file, "not a directory" },
        { "/", "the whole tree" }, { "", "empty" }, { base, "holds the journal" },
        { journal, "holds the journal" }, { inside, "holds the journal" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *w[] = { f->dir, bad[i].dir, NULL };
        assert_int_equal(register_deface(rt, "bad", f->dir, NULL, w), FAAS_EINVAL);
        print_message("# %s\n", faas_last_error());
        assert_non_null(strstr(faas_last_error(), bad[i].why));
        assert_non_null(strstr(faas_last_error(), "writable directory"));
    }
    const char *many[FAAS_PROCESS_WRITABLE_MAX + 2];
    for (int i = 0; i < FAAS_PROCESS_WRITABLE_MAX + 1; i++)
        many[i] = f->dir;
    many[FAAS_PROCESS_WRITABLE_MAX + 1] = NULL;
    assert_int_equal(register_deface(rt, "bad", f->dir, NULL, many), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "at most"));
    many[FAAS_PROCESS_WRITABLE_MAX] = NULL;                 /* 64: fine */
    ASSERT_OK(register_deface(rt, "good", f->dir, NULL, many));
    faas_runtime_free(rt);
    capture_free(&cap);
    remove_tree(base);
}

/* A writable directory is the one named, whatever its path names later: a runtime that
 * may write it or one of its parents (here the host plays it) could put there a link to
 * another of the host's directories, for the directory itself or for a parent. The
 * instance then does not start (the init finds the path naming another directory: ELOOP),
 * and the other directory is untouched; the directory put back, it starts and writes
 * there. */
static void writable_is_only_what_was_named(void **state)
{
    pfix *f = *state;
    deface_scene sc;
    deface_scene_make(&sc, "faas-deface");
    char base[256], p[300], w[310], away[300], target[300], moved[320];
    assert_non_null(outside_temp_dir(base, sizeof base, "faas-writable"));
    snprintf(p, sizeof p, "%s/p", base);
    snprintf(w, sizeof w, "%s/w", p);
    snprintf(away, sizeof away, "%s/away", base);
    snprintf(target, sizeof target, "%s/target", base);
    assert_int_equal(mkdir(p, 0777), 0);
    assert_int_equal(mkdir(w, 0777), 0);
    assert_int_equal(chmod(w, 0777), 0);                /* the runtime's user writes it */
    assert_int_equal(mkdir(target, 0777), 0);
    /* The scene moves to target/w: what base/p/w names once base/p is a link to target. */
    snprintf(moved, sizeof moved, "%s/w", target);
    assert_int_equal(rename(sc.dir, moved), 0);
    snprintf(sc.dir, sizeof sc.dir, "%s", moved);
    snprintf(sc.victim, sizeof sc.victim, "%s/victim", moved);
    snprintf(sc.made, sizeof sc.made, "%s/new", moved);
    snprintf(sc.event, sizeof sc.event, "%s %s", moved, sc.marker);
    capture cap;
    faas_runtime *rt;
    ASSERT_OK(journal_runtime(&rt, &cap, NULL));
    const char *writable[] = { w, NULL };
    ASSERT_OK(register_deface(rt, "rw", f->dir, NULL, writable));
    const char *swapped[] = { "the writable directory", "its parent" };
    for (int i = 0; i < 2; i++) {
        const char *from = i == 0 ? w : p;              /* the directory, or its parent */
        assert_int_equal(rename(from, away), 0);
        assert_int_equal(symlink(i == 0 ? moved : target, from), 0);
        faas_response res;
        defaced d;
        int rc = deface_call(rt, "rw", &sc, &d, &res);
        print_message("# %s swapped for a link: %s (%s)\n",
                      swapped[i], faas_strerror(rc), res.error_message ? res.error_message
                                                                       : "");
        bool said = capture_count(&cap, "do not see this host's files read-only") > 0;
        if (!said || (user_namespaces_allowed() && !TSAN)) {
            assert_int_equal(rc, FAAS_EINIT);
            assert_non_null(strstr(res.error_message, "Too many levels of symbolic links"));
            assert_true(deface_scene_intact(&sc));
        }
        faas_response_free(&res);
        assert_int_equal(unlink(from), 0);              /* put back */
        assert_int_equal(rename(away, from), 0);
    }
    deface_scene event = sc;                            /* it works, in w itself */
    snprintf(event.event, sizeof event.event, "%s %s", w, sc.marker);
    faas_response res;
    defaced d;
    ASSERT_OK(deface_call(rt, "rw", &event, &d, &res));
    faas_response_free(&res);
    assert_int_equal(d.made, 0);
    assert_true(deface_scene_intact(&sc));
    faas_runtime_free(rt);
    capture_free(&cap);
    deface_scene_free(&sc);
    remove_tree(base);
}

/* A host not run as root, as most are: its runtimes run as its own user, but in PID and
 * user namespaces of their own, so none can signal the host or open its memory (as any
 * other process of its user could: two of them are here). Run as root, the test makes
 * such a host: a child that drops to nobody. */
static void non_root_host_cannot_be_reached(void **state)
{
    pfix *f = *state;
    char why[512] = "";
    int rc;
    if (geteuid() != 0) {
        rc = reach_host_as_self(f->dir, why, sizeof why);
    } else {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(stdout);
        pid_t kid = fork();
        assert_true(kid >= 0);
        if (kid == 0) {
            close(p[0]);
            struct passwd *pw = getpwnam("nobody");
            uid_t uid = pw ? pw->pw_uid : 65534;
            gid_t gid = pw ? pw->pw_gid : 65534;
            /* Dumpable again after the change of user, as a host exec'd as that user is:
             * else its memory is closed to its user's processes anyway. */
            if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
                prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
                snprintf(why, sizeof why, "setuid(%d): %s", (int)uid, strerror(errno));
                rc = 2;
            } else {
                rc = reach_host_as_self(f->dir, why, sizeof why);
            }
            if (write(p[1], why, strlen(why)) < 0)
                rc = 2;
            _exit(rc);
        }
        close(p[1]);
        ssize_t n = read(p[0], why, sizeof why - 1);
        why[n > 0 ? n : 0] = '\0';
        close(p[0]);
        int st;
        assert_int_equal(waitpid(kid, &st, 0), kid);
        assert_true(WIFEXITED(st));
        rc = WEXITSTATUS(st);
    }
    if (rc == 2 || rc == 3) {
        print_message("# %s\n", why);
        skip();
    }
    if (rc != 0)
        print_message("# %s\n", why);
    assert_int_equal(rc, 0);
}

/* The live children of parent named comm (its /proc/PID/stat's "(comm)"; NULL: any), up
 * to max, in pids; how many. */
static int children_named(int parent, const char *comm, int *pids, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512], want[64];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        if (f == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        int ppid = 0;
        char st = 0;
        const char *rp = strrchr(buf, ')');
        snprintf(want, sizeof want, "(%s)", comm ? comm : "");
        if (rp != NULL && (comm == NULL || strstr(buf, want) != NULL) &&
            sscanf(rp + 1, " %c %d", &st, &ppid) == 2 &&
            ppid == parent && st != 'Z' && n < max)
            pids[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

/* A cold start hands the runtime to the spawner's spare init directly (the host holds its
 * socket): a spare killed from outside meanwhile does not fail the call, the next spare
 * starts it. */
static void a_killed_spare_init_is_replaced(void **state)
{
    pfix *f = *state;
    faas_runtime *rt = plain_runtime(0, NULL, NULL);
    register_c_on(rt, f->dir, "c-one", "echo", NULL);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "c-one", "1", 1, &res));          /* the spawner starts */
    faas_response_free(&res);
    assert_int_equal(faas_unregister(rt, "c-one"), FAAS_OK);    /* its instance ended */
    int spawner, init[4];
    assert_int_equal(children_named((int)getpid(), "faas-spawner", &spawner, 1), 1);
    /* The spawner made the next spare before it answered the REAP (it reads in order): its
     * only child (by any name: a spare just forked may not have named itself yet). */
    assert_int_equal(children_named(spawner, NULL, init, 4), 1);
    assert_int_equal(kill(init[0], SIGKILL), 0);
    register_c_on(rt, f->dir, "c-two", "echo", NULL);
    ASSERT_OK(faas_invoke(rt, "c-two", "2", 1, &res));
    assert_memory_equal(res.data, "2", 1);
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    faas_runtime_free(rt);
}

/* Warm echoes through one kept-alive connection, a body larger than one read, the /error
 * route and an init error, from a runtime with no interpreter or curl in the way. */
static void c_bootstrap_echoes(void **state)
{
    pfix *f = *state;
    register_c(f, "c-echo", "echo");
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "c-echo", "{\"text\":\"Hello\"}", 16, &res));
    assert_int_equal(res.record.cold, 1);
    assert_int_equal(res.len, 16);
    assert_memory_equal(res.data, "{\"text\":\"Hello\"}", 16);
    faas_response_free(&res);
    size_t big = 300000;                /* several reads on both sides */
    char *ev = malloc(big);
    assert_non_null(ev);
    for (size_t i = 0; i < big; i++)
        ev[i] = (char)('a' + i % 26);
    ev[0] = '"';
    ev[big - 1] = '"';
    for (int i = 0; i < 5; i++) {
        size_t len = i % 2 ? big : 7;
        ASSERT_OK(faas_invoke(f->rt, "c-echo", i % 2 ? ev : "{\"n\":1}", len, &res));
        assert_int_equal(res.record.cold, 0);
        assert_int_equal(res.len, len);
        assert_memory_equal(res.data, i % 2 ? ev : "{\"n\":1}", len);
        faas_response_free(&res);
    }
    free(ev);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "c-echo", &st));
    assert_int_equal(st.cold_starts, 1);

    register_c(f, "c-error", "error");
    assert_int_equal(faas_invoke(f->rt, "c-error", "{}", 2, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "Handled.Error");
    assert_string_equal(res.error_message, "failed on an event of 2 bytes");
    faas_response_free(&res);

    register_c(f, "c-init", "no.such");
    assert_int_equal(faas_invoke(f->rt, "c-init", "{}", 2, &res), FAAS_EINIT);
    assert_string_equal(res.error_type, "Runtime.InitError");
    assert_non_null(strstr(res.error_message, "no handler named no.such"));
    faas_response_free(&res);
}

/* CALLS calls of NAME (an echoing bootstrap), each answered with its own event; the first
 * is cold, and so is every one if EVERY_COLD. */
static void echo_calls(pfix *f, const char *name, int calls, bool every_cold)
{
    for (int i = 0; i < calls; i++) {
        char ev[32];
        int n = snprintf(ev, sizeof ev, "{\"n\":%d}", i);
        faas_response res;
        ASSERT_OK(faas_invoke(f->rt, name, ev, (size_t)n, &res));
        assert_int_equal(res.len, n);
        assert_memory_equal(res.data, ev, (size_t)n);
        assert_int_equal(res.record.cold, every_cold || i == 0);
        faas_response_free(&res);
    }
}

/* A runtime that misbehaves between calls (bootstrap "hostile": a second connection
 * waiting in its own next, garbage and a request never finished on others, every third
 * next sent only 20 ms after the 202): the host drives its listener only during calls,
 * and each call still reaches it exactly once (the runtime exits if an answer is refused:
 * a call handed out twice) and ends with its own answer, on the same process. */
static void hostile_runtime_gets_each_call_once(void **state)
{
    pfix *f = *state;
    register_c(f, "c-hostile", "hostile");
    echo_calls(f, "c-hostile", 30, false);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "c-hostile", &st));
    assert_int_equal(st.cold_starts, 1);
}

/* What runtime_api_port() looks for, through proc_each(). */
typedef struct port_search {
    const char *function;
    unsigned    port;
} port_search;

static void find_port(int pid, const char *fields, void *arg)
{
    (void)fields;
    port_search *q = arg;
    if (q->port != 0 || !process_of_function(pid, q->function, NULL) || !below_me(pid))
        return;
    char path[64], buf[16384];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
        buf[n] = '\0';
        const char *v = buf + i, *key = "AWS_LAMBDA_RUNTIME_API=127.0.0.1:";
        if (strncmp(v, key, strlen(key)) == 0)
            q->port = (unsigned)strtoul(v + strlen(key), NULL, 10);
    }
}

/* The port of the Runtime API endpoint of process function FUNCTION's (one) instance,
 * as its runtime was told it, read from the runtime's environment; 0: none found. */
static unsigned runtime_api_port(const char *function)
{
    port_search q = { function, 0 };
    proc_each(find_port, &q);
    return q.port;
}

/* A hostile function cannot take another function's calls: its runtime (bootstrap
 * "steal") connects to the other instance's Runtime API endpoint (a loopback port anyone
 * on the machine may connect to) and waits there in a GET .../next, ready to answer what
 * it gets "stolen". The endpoint serves only connections from its own instance's
 * processes (runtime_api.md, "Endpoint"): the thief's is closed unanswered, and each of
 * the victim's calls reaches its own runtime and ends with its own answer. Without that
 * check the thief's next, suspended first, took the second call and forged its answer. */
static void another_function_cannot_take_the_calls(void **state)
{
    pfix *f = *state;
    char victim[64], thief[64];
    snprintf(victim, sizeof victim, "c-victim-%d", (int)getpid());
    snprintf(thief, sizeof thief, "c-thief-%d", (int)getpid());
    register_c(f, victim, "echo");
    register_c(f, thief, "steal");
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, victim, "\"v\"", 3, &res));      /* started, idle */
    faas_response_free(&res);
    unsigned port = runtime_api_port(victim);
    assert_true(port > 0);
    char ev[16];
    int n = snprintf(ev, sizeof ev, "%u", port);
    ASSERT_OK(faas_invoke(f->rt, thief, ev, (size_t)n, &res));
    assert_string_equal((const char *)res.data, "{\"sent\":1}");   /* its next is there */
    faas_response_free(&res);
    for (int i = 0; i < 10; i++) {
        char want[32];
        n = snprintf(want, sizeof want, "\"call %d\"", i);
        ASSERT_OK(faas_invoke(f->rt, victim, want, (size_t)n, &res));
        assert_int_equal(res.status, FAAS_OK);
        assert_int_equal(res.len, (size_t)n);
        assert_memory_equal(res.data, want, (size_t)n);              /* not "stolen" */
        assert_int_equal(res.record.cold, 0);
        faas_response_free(&res);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, victim, &st));
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.errors, 0);
}

/* This process's resident set, KiB (VmRSS), or 0. */
static unsigned long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long kib = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %lu", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

/* A runtime cannot make its host hold a body on each of its connections (bootstrap
 * "hoard": 4 more connections, each an unfinished 6 MiB POST of an answer, kept open):
 * only an answer to the call it has taken, or an init error during INIT, is kept, and the
 * instance's requests may hold max_body (6 MiB) at once in all. With a made-up request id
 * nothing is kept; with the call's own id at most one body, and the call ends either with
 * its answer or, when its answer came after that body, refused as too large. Echo calls
 * after each drive the listener, so the host reads what is left. Without the bound the
 * host's resident set grew by 20-25 MiB with the made-up id (8 MiB a connection). */
static void runtime_cannot_make_the_host_hoard(void **state)
{
    pfix *f = *state;
    start_c(f, "c-hoard", "hoard", 60000);
    faas_response res;
    unsigned long before = rss_kib();
    const char *events[] = { "\"other\"", "\"same\"" };
    for (int e = 0; e < 2; e++) {
        int rc = faas_invoke(f->rt, "c-hoard", events[e], strlen(events[e]), &res);
        unsigned opened = 0;
        if (rc == FAAS_OK)
            assert_int_equal(sscanf((const char *)res.data, "{\"opened\":%u}", &opened), 1);
        else
            assert_string_equal(res.error_type, "Function.ResponseSizeTooLarge");
        assert_true(e == 1 || (rc == FAAS_OK && opened == 4));
        faas_response_free(&res);
        for (int i = 0; i < 3; i++) {
            ASSERT_OK(faas_invoke(f->rt, "c-hoard", "{}", 2, &res));
            faas_response_free(&res);
        }
        unsigned long now = rss_kib();
        print_message("# hoard with %s id: %u of 4 connections; host VmRSS %lu KiB, then "
                      "%lu\n", e ? "its own" : "a made-up", opened, before, now);
        /* nothing kept with a made-up id; one body (6 MiB) at most with its own, which
         * an instrumented malloc counts with every smaller buffer it grew from (under
         * ASan +35 MiB) */
        if (e == 0 || plain_malloc())
            assert_true(now < before + (e ? 20 : 8) * 1024);
    }
}

/* The first process below this one of process function FUNCTION (its runtime), or 0. */
static void find_runtime(int pid, const char *fields, void *arg)
{
    (void)fields;
    port_search *q = arg;
    if (q->port == 0 && process_of_function(pid, q->function, NULL) && below_me(pid))
        q->port = (unsigned)pid;
}

/* CLOCK_MONOTONIC, ns. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is process pid in another PID namespace than this one? */
static bool own_pid_namespace(long pid)
{
    char path[64], mine[64] = "", its[64] = "";
    snprintf(path, sizeof path, "/proc/%ld/ns/pid", pid);
    return readlink("/proc/self/ns/pid", mine, sizeof mine - 1) > 0 &&
           readlink(path, its, sizeof its - 1) > 0 && strcmp(mine, its) != 0;
}

/* One instance of a hostile function hands its fd 3 (the pipe whose hang-up tells the host
 * an instance's processes are all gone) to another's, over an abstract Unix socket
 * (bootstrap "lend"); the instance is then stopped. In a PID namespace of its own, its
 * init's exit says that (the kernel ends the namespace's processes first), so the stop
 * does not wait for the pipe the other holds. Before, it waited the whole 2 s limit, on
 * the thread that runs every function's timers (measured: 2003 ms); now a few ms. Where
 * runtimes get no PID namespace (a threaded spawner under TSan) or the host no pidfd
 * (valgrind) the pipe is all there is: skipped. */
static void a_lent_descriptor_does_not_hold_a_stop(void **state)
{
    pfix *f = *state;
    register_c(f, "c-holder", "lend");
    register_c(f, "c-lender", "lend");
    char ev[64];
    int n = snprintf(ev, sizeof ev, "\"hold faas-lend-%d\"", (int)getpid());
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "c-holder", ev, (size_t)n, &res));
    assert_string_equal((const char *)res.data, "{\"done\":1}");
    faas_response_free(&res);
    n = snprintf(ev, sizeof ev, "\"lend faas-lend-%d\"", (int)getpid());
    ASSERT_OK(faas_invoke(f->rt, "c-lender", ev, (size_t)n, &res));
    assert_string_equal((const char *)res.data, "{\"done\":1}");
    faas_response_free(&res);
    port_search q = { "c-lender", 0 };
    proc_each(find_runtime, &q);
    assert_true(q.port > 0);
    /* without pidfds (valgrind, kernels before 5.3) the pipe is all the host has */
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    bool pidns = own_pid_namespace((long)q.port) && pfd >= 0;
    if (pfd >= 0)
        close(pfd);
    uint64_t t0 = now_ns();
    ASSERT_OK(faas_unregister(f->rt, "c-lender"));
    double ms = (double)(now_ns() - t0) / 1e6;
    print_message("# the lender's instance stopped in %.1f ms (%s)\n", ms,
                  pidns ? "its own PID namespace" : "no PID namespace, or no pidfd");
    if (!pidns)
        skip();
    assert_true(ms < 1500);             /* the pipe's limit is 2000 ms */
}

/* A runtime that exits right after it posts its answer, without reading the 202
 * (bootstrap "once"): its answer counts; the next call finds it gone before it was
 * handed the call and runs on a new instance instead of failing. */
static void answer_then_exit(void **state)
{
    pfix *f = *state;
    register_c(f, "c-once", "once");
    echo_calls(f, "c-once", 4, true);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "c-once", &st));
    assert_int_equal(st.cold_starts, 4);
    assert_int_equal(st.errors, 0);
}

/* A runtime that opens connection after connection to its endpoint and keeps them (bootstrap
 * "flood": each kept once the API has answered on it) cannot run its host out of file
 * descriptors: an instance's listener holds at most 16 connections (runtime_api.c) and
 * leaves the rest unaccepted, so the flood stops there, and the warm instance holds no more
 * than 16 of the host's descriptors. Without the limit the host accepts and keeps all 300.
 * The instance still serves its next call. */
static void connection_flood_is_capped(void **state)
{
    pfix *f = *state;
    start_c(f, "c-flood", "flood", 30000);
    faas_response res;
    int before = count_fds();
    assert_true(before > 0);
    ASSERT_OK(faas_invoke(f->rt, "c-flood", "300", 3, &res));
    assert_int_equal(res.status, FAAS_OK);
    unsigned opened = 0;
    assert_int_equal(sscanf((const char *)res.data, "{\"opened\":%u}", &opened), 1);
    faas_response_free(&res);
    int after = count_fds();
    print_message("# flood: %u connections kept; host fds %d before, %d after\n", opened,
                  before, after);
    assert_true(opened < 16);           /* the runtime's own connection is the 16th */
    assert_true(after - before <= 16);
    ASSERT_OK(faas_invoke(f->rt, "c-flood", "0", 1, &res));    /* still served */
    assert_int_equal(res.status, FAAS_OK);
    faas_response_free(&res);
    faas_unregister(f->rt, "c-flood");
}

/* A process with that pid that is neither a zombie nor dead (/proc/PID/stat). */
static bool live_process(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* May this host's spawner make PID namespaces: has this process CAP_SYS_ADMIN (bit 21 of
 * CapEff in /proc/self/status), or, not root, may it make a user namespace (where it has
 * it; not under TSan, whose threaded spawner may not)? */
static bool can_make_pid_namespaces(void)
{
    if (geteuid() != 0 && !TSAN && user_namespaces_allowed())
        return true;
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long caps = 0;
    bool found = false;
    while (fp != NULL && !found && fgets(line, sizeof line, fp) != NULL)
        found = sscanf(line, "CapEff: %llx", &caps) == 1;
    if (fp != NULL)
        fclose(fp);
    return found && (caps >> 21 & 1u);
}

/* Skip the test, saying what is missing, where this host may not make PID namespaces. */
static void need_pid_namespaces(const char *without)
{
    if (!can_make_pid_namespaces()) {
        print_message("# skipped: this host may not make PID namespaces (no CAP_SYS_ADMIN, "
                      "no user namespace), "
                      "so %s\n", without);
        skip();
    }
}

/* A process that a runtime started and that left the instance's process group and session
 * (bootstrap "escape": fork, setsid, fork, every descriptor closed) dies with the instance:
 * the runtime is the init of a PID namespace of its own, whose processes the kernel kills
 * when it dies. Without that, killing the group missed it and it lived on, reparented to
 * the host's init, after its function was gone. */
static void escaped_processes_die_with_the_instance(void **state)
{
    need_pid_namespaces("an instance is only a process group");
    pfix *f = *state;
    register_c(f, "c-escape", "escape");
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "c-escape", "{}", 2, &res));
    long pid = -1;
    int self = 0;
    assert_int_equal(sscanf((const char *)res.data, "{\"pid\":%ld,\"self\":%d}", &pid, &self),
                     2);
    faas_response_free(&res);
    assert_true(pid > 1);
    /* The runtime, under its init, in a namespace of its own: a small pid there (2, or 3
     * when a sanitizer's thread in the init took 2), not 1 and not the host's. */
    assert_true(self > 1 && self < 64);
    pid = (long)host_pid_of("c-escape", pid);   /* the escapee as the host sees it */
    assert_true(pid > 1);
    assert_true(live_process((pid_t)pid));       /* it runs */
    /* The instance is stopped: its init reaped, so its namespace's processes are gone
     * (the kernel kills and reaps them before the init's exit is complete). */
    faas_unregister(f->rt, "c-escape");
    bool gone = !live_process((pid_t)pid);
    if (!gone)
        kill((pid_t)pid, SIGKILL);
    assert_true(gone);
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_seen++;
}

/* A runtime cannot signal its host (or any process outside its instance): in its PID
 * namespace the host's pid names no process (bootstrap "signal" sends SIGUSR1 to the pid in
 * its event: kill() fails with ESRCH, and the host's handler never runs). */
static void runtime_cannot_signal_the_host(void **state)
{
    need_pid_namespaces("a runtime can signal processes of the same user");
    pfix *f = *state;
    char ev[32];
    register_c(f, "c-signal", "signal");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    usr1_seen = 0;
    int n = snprintf(ev, sizeof ev, "%d", (int)getpid());
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "c-signal", ev, (size_t)n, &res));
    int rc = 0, e = 0;
    assert_int_equal(sscanf((const char *)res.data, "{\"rc\":%d,\"errno\":%d}", &rc, &e), 2);
    faas_response_free(&res);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(e, ESRCH);
    assert_int_equal(usr1_seen, 0);
    faas_unregister(f->rt, "c-signal");
}

/* A runtime's /proc is its PID namespace's: it shows the instance's processes (the init,
 * the runtime, what it forks), none of the host's, whose command lines and environments'
 * names it could read otherwise (bootstrap "procs": is /proc/PID there, how many). */
static void runtime_sees_only_its_processes(void **state)
{
    need_pid_namespaces("a runtime's /proc is the host's");
    pfix *f = *state;
    capture cap;
    faas_runtime *rt;
    ASSERT_OK(journal_runtime(&rt, &cap, NULL));
    register_c_on(rt, f->dir, "c-procs", "procs", NULL);
    char ev[32];
    int n = snprintf(ev, sizeof ev, "%d", (int)getpid());
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "c-procs", ev, (size_t)n, &res));
    int seen = -1, count = -1, self = -1;
    assert_int_equal(sscanf((const char *)res.data, "{\"seen\":%d,\"count\":%d,\"self\":%d}",
                            &seen, &count, &self), 3);
    faas_response_free(&res);
    bool said = capture_count(&cap, "do not see this host's files read-only") > 0;
    print_message("# the host's /proc/%s: %s; /proc shows %d processes%s\n", ev,
                  seen ? "seen" : "not there", count, said ? " (no view here: the log says so)"
                                                            : "");
    if (!said) {
        assert_int_equal(seen, 0);
        assert_true(count >= 2 && count <= 8);  /* the init and the runtime (+ a sanitizer's) */
        snprintf(ev, sizeof ev, "%d", self);    /* itself: there */
        ASSERT_OK(faas_invoke(rt, "c-procs", ev, strlen(ev), &res));
        assert_non_null(strstr((const char *)res.data, "\"seen\":1"));
        faas_response_free(&res);
    }
    faas_runtime_free(rt);
    capture_free(&cap);
}

/* Without its spawner (FAAS_SPAWNER names no program), a runtime's process instances are
 * spawned directly: they work, and the log says once that their processes are not
 * contained. */
static void without_the_spawner_runtimes_start_directly(void **state)
{
    pfix *f = *state;
    const char *was = getenv("FAAS_SPAWNER");
    char *saved = was ? strdup(was) : NULL;
    setenv("FAAS_SPAWNER", "/nonexistent/faas-spawner", 1);
    capture cap;
    capture_init(&cap);
    faas_runtime *rt = plain_runtime(0, capture_line, &cap);
    register_c_on(rt, f->dir, "c-direct", "echo", NULL);
    faas_response res;
    for (int i = 0; i < 2; i++) {                 /* a second instance: said once */
        ASSERT_OK(faas_invoke(rt, "c-direct", "{\"n\":1}", 7, &res));
        assert_string_equal((const char *)res.data, "{\"n\":1}");
        faas_response_free(&res);
        faas_runtime_free(rt);
        if (i == 0) {
            rt = plain_runtime(0, capture_line, &cap);
            register_c_on(rt, f->dir, "c-direct", "echo", NULL);
        }
    }
    if (saved != NULL)
        setenv("FAAS_SPAWNER", saved, 1);
    else
        unsetenv("FAAS_SPAWNER");
    free(saved);
    size_t said = capture_count(&cap, "spawned directly, their processes not contained");
    capture_free(&cap);
    assert_int_equal(said, 2);                    /* once per runtime */
}

/* pids_max bounds an instance's processes and threads, the runtime's init included (a pids
 * cgroup per instance): a runtime that forks 64 children under pids_max 8 gets at most 6
 * (init + runtime + 6), and is still served. Without it all 64 are made. Skipped, saying
 * why, where the spawner cannot keep the limit (no writable pids cgroup as root). */
static void pids_max_bounds_a_runtimes_forks(void **state)
{
    pfix *f = *state;
    capture cap;
    faas_config cfg;
    faas_runtime *rt = logged_runtime(&cap, &cfg);
    cfg.pids_max = 8;
    register_c_on(rt, f->dir, "c-fork", "fork", &cfg);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "c-fork", "64", 2, &res));
    unsigned made = 0;
    assert_int_equal(sscanf((const char *)res.data, "{\"forked\":%u}", &made), 1);
    faas_response_free(&res);
    bool unenforced = capture_count(&cap, "pids_max is not enforced") > 0;
    print_message("# 64 forks under pids_max 8: %u made%s\n", made,
                  unenforced ? " (pids_max is not enforced here)" : "");
    if (!unenforced) {
        assert_true(made <= 6);
        ASSERT_OK(faas_invoke(rt, "c-fork", "0", 1, &res));     /* still served */
        faas_response_free(&res);
    }
    faas_runtime_free(rt);
    capture_free(&cap);
    if (unenforced)
        skip();
}

static void timeout_kills_the_group(void **state)
{
    pfix *f = *state;
    /* The bootstrap's id as the host sees it: its process group's (the runtime is 1 in its
     * own PID namespace, where it can; /proc is the host's). */
    proc_fix_put_file(f, "slow.sh", "function handler () {\n"
             "  read -r _ _ _ _ group _ < /proc/self/stat; echo $group > \"$TMPDIR/pid\"\n"
             "  sleep 30\n}\n");
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 3000;          /* generous: the handler must have started by then */
    register_tutorial(f, "slow", "slow.handler", &cfg);
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "slow", "{}", 2, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_type, "Sandbox.Timedout");
    faas_response_free(&res);
    char path[300];
    snprintf(path, sizeof path, "%s/pid", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    int pid = 0;
    assert_int_equal(fscanf(fp, "%d", &pid), 1);
    fclose(fp);
    assert_true(pid > 0);                               /* it ran, in its namespace */
    /* the bootstrap reaped and its sleep killed: no process of the function is left */
    assert_int_equal(function_processes("slow", f->tmpenv), 0);
}

/* ---- concurrency and scale to zero ---------------------------------------------------- */

typedef struct caller {
    pfix *f;
    int      status;
    char     pid[32];
} caller;

static void *call_blocking(void *arg)
{
    caller *c = arg;
    faas_response res;
    c->status = faas_invoke(c->f->rt, "block", "{}", 2, &res);
    if (c->status == FAAS_OK)
        snprintf(c->pid, sizeof c->pid, "%s", (const char *)res.data);
    faas_response_free(&res);
    return NULL;
}

static void four_processes_then_throttled_then_zero(void **state)
{
    pfix *f = *state;
    char fifo[300], gatefile[300];
    snprintf(fifo, sizeof fifo, "%s/started", f->dir);
    snprintf(gatefile, sizeof gatefile, "%s/gate", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(chmod(fifo, 0666), 0);     /* the runtime's user writes it */
    /* Each call says it started (the FIFO the test reads), then waits for the gate file. */
    proc_fix_put_file(f, "block.sh",
             "function handler () {\n"
             "  ns=$(readlink /proc/self/ns/pid)\n"     /* its instance's PID namespace */
             "  echo $ns > \"$TMPDIR/started\"\n"
             "  while [ ! -e \"$TMPDIR/gate\" ]; do sleep 0.01; done\n"
             "  echo $ns\n"
             "}\n");
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_concurrency = 4;
    cfg.keep_alive_ms = 60000;
    cfg.timeout_ms = 20000;
    register_tutorial(f, "block", "block.handler", &cfg);

    caller c[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        c[i].f = f;
        assert_int_equal(pthread_create(&t[i], NULL, call_blocking, &c[i]), 0);
    }
    /* Wait for the four to be running: four lines through the FIFO. */
    int lines = 0;
    while (lines < 4) {
        FILE *fp = fopen(fifo, "r");            /* blocks until a writer opens it */
        assert_non_null(fp);
        int ch;
        while ((ch = fgetc(fp)) != EOF)
            lines += ch == '\n';
        fclose(fp);
    }
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "block", "{}", 2, &res), FAAS_ETHROTTLED);
    faas_response_free(&res);
    proc_fix_put_file(f, "gate", "");
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].status, FAAS_OK);
    }
    for (int i = 0; i < 4; i++) {
        assert_non_null(strstr(c[i].pid, "pid:["));
        for (int j = 0; j < i; j++)                     /* four instances, apart */
            assert_string_not_equal(c[i].pid, c[j].pid);
    }
    /* four bootstraps (and what they run between calls: nothing) */
    assert_true(function_processes("block", f->tmpenv) >= 4);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "block", &st));
    assert_int_equal(st.instances_live, 4);
    assert_int_equal(st.throttles, 1);

    /* Keep-alive passes on the runtime's clock: every instance is stopped. */
    fake_advance(&f->clock, MS(60001));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_stats_get(f->rt, "block", &st));
    assert_int_equal(st.instances_live, 0);
    assert_int_equal(function_processes("block", f->tmpenv), 0);  /* none left */
}

int main(void)
{
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tutorial_bootstrap_serves_its_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(environment_is_lambdas, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_is_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(ld_library_path_names_what_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(client_context_header, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_failure_is_an_exit_error, setup, teardown),
        cmocka_unit_test_setup_teardown(error_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(call_headers_are_lambdas, setup, teardown),
        cmocka_unit_test_setup_teardown(c_bootstrap_echoes, setup, teardown),
        cmocka_unit_test_setup_teardown(max_memory_is_the_peak, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_runtime_gets_each_call_once, setup, teardown),
        cmocka_unit_test_setup_teardown(another_function_cannot_take_the_calls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(runtime_cannot_make_the_host_hoard, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lent_descriptor_does_not_hold_a_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(connection_flood_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(escaped_processes_die_with_the_instance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(runtime_cannot_signal_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(runtime_sees_only_its_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(pids_max_bounds_a_runtimes_forks, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_mb_bounds_a_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(a_killed_spare_init_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(runtime_cannot_open_the_hosts_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(non_root_host_cannot_be_reached, setup, teardown),
        cmocka_unit_test_setup_teardown(runtime_cannot_reach_the_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(runtimes_see_the_host_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(writable_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(writable_is_only_what_was_named, setup, teardown),
        cmocka_unit_test_setup_teardown(runtimes_are_the_oom_killers_first_choice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(without_the_spawner_runtimes_start_directly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(answer_then_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_kills_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(four_processes_then_throttled_then_zero, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
