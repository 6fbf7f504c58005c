/*
 * test_process_node.c - an unchanged Node.js handler (tests/runtime/node/index.js,
 * exports.handler = async (event, context) => ...) as a process function, run by npm's
 * Node.js runtime interface client (aws-lambda-ric, installed by tests/npm) and by
 * tests/runtime/node/bootstrap.js (a minimal loop on node's http): the answer,
 * context.awsRequestId and getRemainingTimeInMillis(), a thrown error (errorType,
 * errorMessage, trace), and a timeout that kills the process. A runtime that is missing
 * here is a skip that says why, never a pass.
 */
#include "util.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

typedef struct nfix {
    faas_runtime *rt;
    bool          ric;          /* aws-lambda-ric, else bootstrap.js */
    char          root[900];    /* LAMBDA_TASK_ROOT: tests/runtime/node */
    char          entry[1024];  /* the script node runs */
    char          why[1200];    /* the skip reason, if any */
} nfix;

static const char *srcdir(void)
{
    const char *src = getenv("top_srcdir");
    return src ? src : "..";
}

static bool have_node(void)
{
    return system("node --version >/dev/null 2>&1") == 0;
}

static int setup_common(void **state, bool ric)
{
    nfix *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->ric = ric;
    snprintf(f->root, sizeof f->root, "%s/tests/runtime/node", srcdir());
    if (ric)
        snprintf(f->entry, sizeof f->entry,
                 "%s/tests/npm/node_modules/aws-lambda-ric/bin/index.mjs", srcdir());
    else
        snprintf(f->entry, sizeof f->entry, "%s/bootstrap.js", f->root);
    f->rt = plain_runtime(0, NULL, NULL);       /* manual, on the real clock */
    *state = f;
    return 0;
}

static int setup_ric(void **state)
{
    return setup_common(state, true);
}

static int setup_loop(void **state)
{
    return setup_common(state, false);
}

static int teardown(void **state)
{
    nfix *f = *state;
    faas_runtime_free(f->rt);
    free(f);
    return 0;
}

/* Skip (with the reason) when this variant's runtime cannot run here. */
static void need_runtime(nfix *f)
{
    if (!have_node()) {
        fprintf(stderr, "# SKIP: node is not installed (./quickstart installs it)\n");
        skip();
    }
    if (!f->ric)
        return;
    char native[1200];
    snprintf(native, sizeof native,
             "%s/tests/npm/node_modules/aws-lambda-ric/dist/rapid-client.node",
             srcdir());
    if (access(f->entry, R_OK) != 0) {
        fprintf(stderr, "# SKIP: aws-lambda-ric is not installed in tests/npm "
                "(./quickstart runs npm ci there)\n");
        skip();
    }
    if (access(native, R_OK) != 0) {
        fprintf(stderr, "# SKIP: aws-lambda-ric's native client %s is not built: npm ci "
                "ran without its install scripts (./quickstart approves and rebuilds it)\n",
                native);
        skip();
    }
}

static void register_handler(nfix *f, const char *name, const char *handler,
                             const faas_config *cfg)
{
    /* as Lambda's nodejs images run it: node <ric>/bin/index.mjs index.handler */
    const char *argv[] = { "env", "node", f->entry, handler, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/usr/bin/env";            /* node from PATH */
    pc.argv = argv;
    pc.handler = handler;
    pc.cwd = f->root;
    ASSERT_OK(faas_register_process(f->rt, name, &pc, cfg));
}

static void register_node(nfix *f, const char *name, const faas_config *cfg)
{
    register_handler(f, name, "index.handler", cfg);
}

/* The number after "KEY": in a JSON text, or -1. */
static long long json_number(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void answers_with_its_context(void **state)
{
    nfix *f = *state;
    need_runtime(f);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 30000;
    register_node(f, "nodefn", &cfg);
    static const char ev[] = "{\"text\":\"Hello\"}";
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "nodefn", ev, sizeof ev - 1, &res));
    assert_int_equal(res.status, FAAS_OK);
    const char *out = (const char *)res.data;
    fprintf(stderr, "# %s\n", out);
    assert_non_null(strstr(out, "\"echo\":{\"text\":\"Hello\"}"));
    char want[80];
    snprintf(want, sizeof want, "\"requestId\":\"%s\"", res.record.request_id);
    assert_non_null(strstr(out, want));             /* context.awsRequestId */
    assert_non_null(strstr(out, "\"functionName\":\"nodefn\""));
    assert_non_null(strstr(out, "\"arn\":\"arn:aws:lambda:us-east-1:"));
    long long left = json_number(out, "remainingMs");
    assert_true(left > 0 && left <= 30000);         /* within the deadline */
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    /* warm: the same process */
    ASSERT_OK(faas_invoke(f->rt, "nodefn", ev, sizeof ev - 1, &res));
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
}

static void thrown_error_is_unhandled(void **state)
{
    nfix *f = *state;
    need_runtime(f);
    register_node(f, "nodeerr", NULL);
    static const char ev[] = "{\"fail\":\"no such widget\"}";
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "nodeerr", ev, sizeof ev - 1, &res), FAAS_EHANDLER);
    fprintf(stderr, "# %s | %s | %s\n", res.error_type, res.error_message,
            res.data ? (const char *)res.data : "");
    assert_string_equal(res.error_type, "TypeError");
    assert_string_equal(res.error_message, "no such widget");
    assert_non_null(res.data);
    assert_non_null(strstr((const char *)res.data, "\"trace\":[\"TypeError: no such widget"));
    assert_non_null(strstr((const char *)res.data, "index.js"));
    faas_response_free(&res);
    /* a function error keeps the process: the next call is warm */
    assert_int_equal(faas_invoke(f->rt, "nodeerr", ev, sizeof ev - 1, &res), FAAS_EHANDLER);
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
}

static void timeout_kills_the_process(void **state)
{
    nfix *f = *state;
    need_runtime(f);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 4000;          /* generous for node's start; the call waits 60 s */
    register_node(f, "nodeslow", &cfg);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "nodeslow", "{}", 2, &res));
    long long pid = host_pid_of("nodeslow", (long)json_number((const char *)res.data, "pid"));
    assert_true(pid > 0);                           /* as the host sees it */
    faas_response_free(&res);
    static const char ev[] = "{\"wait_ms\":60000}";
    assert_int_equal(faas_invoke(f->rt, "nodeslow", ev, sizeof ev - 1, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_type, "Sandbox.Timedout");
    faas_response_free(&res);
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld", pid);
    assert_int_not_equal(access(path, F_OK), 0);    /* killed and reaped */
    /* the next call starts a new process */
    ASSERT_OK(faas_invoke(f->rt, "nodeslow", "{}", 2, &res));
    assert_int_equal(res.record.cold, 1);
    assert_true(host_pid_of("nodeslow", (long)json_number((const char *)res.data, "pid")) != pid);
    faas_response_free(&res);
}

/* A handler module that does not load: the runtime posts .../init/error (the RIC from its
 * JavaScript side, which takes AWS_LAMBDA_RUNTIME_API as host:port) and the call fails
 * Runtime.InitError with the runtime's own body. */
static void init_error_is_the_runtimes(void **state)
{
    nfix *f = *state;
    need_runtime(f);
    register_handler(f, "nodeinit", "missing.handler", NULL);
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "nodeinit", "{}", 2, &res), FAAS_EINIT);
    fprintf(stderr, "# %s | %s\n", res.error_type, res.error_message);
    assert_string_equal(res.error_type, "Runtime.InitError");
    assert_non_null(strstr(res.error_message, "missing"));
    faas_response_free(&res);
}

int main(void)
{
    tap_fix_skips();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answers_with_its_context, setup_ric, teardown),
        cmocka_unit_test_setup_teardown(thrown_error_is_unhandled, setup_ric, teardown),
        cmocka_unit_test_setup_teardown(timeout_kills_the_process, setup_ric, teardown),
        cmocka_unit_test_setup_teardown(init_error_is_the_runtimes, setup_ric, teardown),
        cmocka_unit_test_setup_teardown(answers_with_its_context, setup_loop, teardown),
        cmocka_unit_test_setup_teardown(thrown_error_is_unhandled, setup_loop, teardown),
        cmocka_unit_test_setup_teardown(timeout_kills_the_process, setup_loop, teardown),
        cmocka_unit_test_setup_teardown(init_error_is_the_runtimes, setup_loop, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
