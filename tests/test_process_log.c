/*
 * test_process_log.c - what a process instance prints is its call's log (process_log.c):
 * the tutorial's handler's stderr is in that call's log tail and log sink lines only; what
 * INIT prints goes to the log sink before the first call's START and is in no tail; what a
 * runtime prints between calls (after its answer) is in the sink and in no tail, and a
 * runtime blocked on a full pipe while idle is drained by the next call; 64 MB printed in
 * one call all reach the sink, the tail is its last 4 KB and the host does not grow; a line
 * longer than the cap comes in pieces; a call that times out keeps what it printed; a Node
 * handler's console.log (bootstrap.js, and npm's aws-lambda-ric when built); without a log
 * sink, the host's stderr. The runtime is manual, on a fake clock; the processes are real.
 */
#include "process_fixture.h"

#include <fcntl.h>
#include <stdbool.h>

typedef struct sink {
    pthread_mutex_t mu;
    char          **lines;          /* lines shorter than 200 bytes, in order */
    size_t          n, cap;
    uint64_t        bytes, count;   /* every line */
    size_t          longest;
    uint64_t        zbytes;         /* of lines of 'z' */
} sink;

static void sink_line(const char *line, void *arg)
{
    sink *s = arg;
    size_t len = strlen(line);
    pthread_mutex_lock(&s->mu);
    s->bytes += len;
    s->count++;
    if (len > s->longest)
        s->longest = len;
    if (line[0] == 'z')
        s->zbytes += len;
    if (len < 200) {
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->lines = realloc(s->lines, s->cap * sizeof *s->lines);
        }
        s->lines[s->n++] = strdup(line);
    }
    pthread_mutex_unlock(&s->mu);
}

/* The index of the first kept line equal to (exact) or starting with text, from from; -1. */
static long sink_find(sink *s, size_t from, const char *text, bool exact)
{
    long at = -1;
    pthread_mutex_lock(&s->mu);
    for (size_t i = from; i < s->n && at < 0; i++)
        if (exact ? strcmp(s->lines[i], text) == 0
                  : strncmp(s->lines[i], text, strlen(text)) == 0)
            at = (long)i;
    pthread_mutex_unlock(&s->mu);
    return at;
}

typedef struct lfix {
    proc_fix      pf;               /* first: an lfix is a proc_fix */
    sink          sink;
} lfix;

static int setup(void **state)
{
    lfix *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    pthread_mutex_init(&f->sink.mu, NULL);
    faas_options o = manual_options(&f->pf.clock);
    o.log = sink_line;
    o.log_arg = &f->sink;
    if (proc_fix_open(&f->pf, &o, "faas-plog") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    lfix *f = *state;
    proc_fix_close(&f->pf);
    for (size_t i = 0; i < f->sink.n; i++)
        free(f->sink.lines[i]);
    free(f->sink.lines);
    pthread_mutex_destroy(&f->sink.mu);
    free(f);
    return 0;
}

/* NAME: the tutorial's bootstrap (unchanged, under bash) with handler H. */
static void register_tutorial(lfix *f, const char *name, const char *handler,
                              unsigned timeout_ms)
{
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = timeout_ms;
    proc_fix_register_tutorial(&f->pf, name, handler, NULL, &cfg);
}

static bool has_line(const char *log, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = log; (p = strstr(p, line)) != NULL; p++)
        if ((p == log || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

/* ---- the tutorial: its handler's stderr ------------------------------------------------- */

static void handler_output_is_its_calls(void **state)
{
    lfix *f = *state;
    /* the tutorial's function.sh, plus a line at INIT (when the bootstrap sources it) */
    proc_fix_put_file(&f->pf, "function.sh",
             "echo \"init says hi\" 1>&2\n"
             "function handler () {\n"
             "  EVENT_DATA=$1\n"
             "  echo \"$EVENT_DATA\" 1>&2;\n"
             "  RESPONSE=\"Echoing request: '$EVENT_DATA'\"\n"
             "\n"
             "  echo $RESPONSE\n"
             "}\n");
    register_tutorial(f, "tut", "function.handler", 10000);
    faas_response res;
    ASSERT_OK(faas_invoke(f->pf.rt, "tut", "{\"n\":1}", 7, &res));
    assert_string_equal((const char *)res.data, "Echoing request: '{\"n\":1}'");
    assert_true(res.record.cold);
    assert_true(has_line(res.log_tail, "{\"n\":1}"));
    assert_null(strstr(res.log_tail, "init says hi"));  /* INIT's: no call's */
    char start[96], end[96];
    snprintf(start, sizeof start, "START RequestId: %s", res.record.request_id);
    snprintf(end, sizeof end, "END RequestId: %s", res.record.request_id);
    faas_response_free(&res);
    /* the sink: INIT's line before the first START; the call's between START and END */
    long init = sink_find(&f->sink, 0, "init says hi", true);
    long s1 = sink_find(&f->sink, 0, start, false), e1 = sink_find(&f->sink, 0, end, true);
    assert_true(init >= 0 && s1 > init && e1 > s1);
    long l1 = sink_find(&f->sink, (size_t)s1, "{\"n\":1}", true);
    assert_true(l1 > s1 && l1 < e1);

    /* warm calls: each tail holds its own event only, never the one before, nor what curl
     * prints after the answer ({"status":"OK"}: between calls) */
    for (int i = 2; i <= 4; i++) {
        char ev[32], prev[32];
        snprintf(ev, sizeof ev, "{\"n\":%d}", i);
        snprintf(prev, sizeof prev, "{\"n\":%d}", i - 1);
        ASSERT_OK(faas_invoke(f->pf.rt, "tut", ev, strlen(ev), &res));
        assert_false(res.record.cold);
        assert_true(has_line(res.log_tail, ev));
        assert_null(strstr(res.log_tail, prev));
        assert_null(strstr(res.log_tail, "status"));
        faas_response_free(&res);
    }
    /* what curl printed after each answer reached the sink as lines of no call */
    assert_true(sink_find(&f->sink, 0, "{\"status\":\"OK\"}", true) >= 0);
}

/* ---- between calls --------------------------------------------------------------------- */

/* A runtime that prints after its answer, 1 MB of it: more than the pipe holds, so it
 * blocks there until the next call reads it. */
static void output_between_calls_is_no_calls(void **state)
{
    lfix *f = *state;
    proc_fix_put_file(&f->pf, "idleboot",
             "API=\"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime\"\n"
             "echo \"init line\"\n"
             "N=0\n"
             "while true; do\n"
             "  H=$(mktemp)\n"
             "  BODY=$(curl -sS -D \"$H\" \"$API/invocation/next\")\n"
             "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | "
             "cut -d: -f2)\n"
             "  N=$((N+1))\n"
             "  echo \"call $N says $BODY\"\n"
             "  printf 'no newline at the end of call %s' $N 1>&2\n"
             "  curl -sS -o /dev/null -X POST \"$API/invocation/$ID/response\" -d \"a$N\"\n"
             "  echo \"after answer $N\"\n"
             "  head -c 1048576 /dev/zero | tr '\\0' z | fold -w 1000\n"
             "done\n");
    char boot[300];
    snprintf(boot, sizeof boot, "%s/idleboot", f->pf.dir);
    const char *argv[] = { "bash", boot, NULL };
    const char *env[] = { f->pf.tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.environment = env;
    pc.writable = f->pf.writable;
    pc.cwd = f->pf.dir;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 20000;
    ASSERT_OK(faas_register_process(f->pf.rt, "idle", &pc, &cfg));
    for (int i = 1; i <= 3; i++) {
        faas_response res;
        char ev[32], says[64], nonl[64];
        snprintf(ev, sizeof ev, "{\"i\":%d}", i);
        ASSERT_OK(faas_invoke(f->pf.rt, "idle", ev, strlen(ev), &res));
        snprintf(says, sizeof says, "call %d says %s", i, ev);
        snprintf(nonl, sizeof nonl, "no newline at the end of call %d", i);
        assert_true(has_line(res.log_tail, says));
        assert_true(has_line(res.log_tail, nonl));          /* its last line, unfinished */
        assert_null(strstr(res.log_tail, "init line"));
        assert_null(strstr(res.log_tail, "after answer"));
        assert_null(strchr(res.log_tail, 'z'));             /* the idle megabytes */
        assert_true(strlen(res.log_tail) < 200);
        faas_response_free(&res);
    }
    /* nothing printed between calls was lost: two whole megabytes by the third answer */
    pthread_mutex_lock(&f->sink.mu);
    uint64_t z = f->sink.zbytes;
    pthread_mutex_unlock(&f->sink.mu);
    assert_true(z >= 2u * 1048576u);
    assert_true(sink_find(&f->sink, 0, "init line", true) >= 0);
    assert_true(sink_find(&f->sink, 0, "after answer 1", true) >= 0);
    assert_true(sink_find(&f->sink, 0, "after answer 2", true) >= 0);
}

/* ---- bounds ---------------------------------------------------------------------------- */

static size_t peak_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[128];
    size_t kb = 0;
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "VmHWM: %zu", &kb) == 1)
            break;
    fclose(fp);
    return kb;
}

static void sixty_four_megabytes_keep_the_last_4kb(void **state)
{
    lfix *f = *state;
    proc_fix_put_file(&f->pf, "loud.sh",
             "function handler () {\n"
             "  L=$(printf '%0999d' 0)\n"
             "  yes \"$L\" | head -n 65536 1>&2\n"
             "  head -c 20000 /dev/zero | tr '\\0' y 1>&2\n"
             "  echo 1>&2\n"
             "  seq 1 1000 1>&2\n"
             "  echo \"the end\" 1>&2\n"
             "  echo done\n"
             "}\n");
    register_tutorial(f, "loud", "loud.handler", 60000);
    faas_response res;
    ASSERT_OK(faas_invoke(f->pf.rt, "loud", "{}", 2, &res));  /* cold: the pool's own memory */
    faas_response_free(&res);
    pthread_mutex_lock(&f->sink.mu);
    uint64_t bytes0 = f->sink.bytes;
    pthread_mutex_unlock(&f->sink.mu);
    size_t before = peak_kb();
    ASSERT_OK(faas_invoke(f->pf.rt, "loud", "{}", 2, &res));
    size_t after = peak_kb();
    assert_string_equal((const char *)res.data, "done");
    /* the tail: exactly the last 4 KB, which end with the handler's last lines (then
     * what the bootstrap's curl prints to stderr as it posts the answer: its progress) */
    assert_int_equal(strlen(res.log_tail), 4096);
    assert_non_null(strstr(res.log_tail, "\n998\n999\n1000\nthe end\n"));
    faas_response_free(&res);
    /* the sink: every byte (64 MB of lines, the 20,000-byte line in pieces, the rest) */
    pthread_mutex_lock(&f->sink.mu);
    uint64_t got = f->sink.bytes - bytes0;
    size_t longest = f->sink.longest;
    pthread_mutex_unlock(&f->sink.mu);
    uint64_t seq = 0;
    for (int i = 1; i <= 1000; i++)
        seq += (uint64_t)snprintf(NULL, 0, "%d", i);
    /* and START, END, REPORT, curl's progress meter and {"status":"OK"}: a few lines */
    uint64_t printed = 65536u * 999u + 20000u + seq + 7u;
    fprintf(stderr, "# the sink: %llu bytes, the handler printed %llu\n",
            (unsigned long long)got, (unsigned long long)printed);
    assert_true(got >= printed && got < printed + 4096);
    assert_int_equal(longest, 8192);                    /* FAAS__PLOG_LINE: cut, not kept */
    /* 64 MB went through the host; its peak grew by far less */
    fprintf(stderr, "# peak before %zu kB, after %zu kB\n", before, after);
    assert_true(after < before + 16 * 1024);
}

static void a_timed_out_call_keeps_what_it_printed(void **state)
{
    lfix *f = *state;
    proc_fix_put_file(&f->pf, "slow.sh", "function handler () {\n  echo \"about to hang\" 1>&2\n"
             "  sleep 30\n}\n");
    register_tutorial(f, "slow", "slow.handler", 1500);
    faas_response res;
    assert_int_equal(faas_invoke(f->pf.rt, "slow", "{}", 2, &res), FAAS_ETIMEOUT);
    assert_true(has_line(res.log_tail, "about to hang"));
    assert_non_null(strstr(res.log_tail, "Task timed out"));
    faas_response_free(&res);
}

/* A runtime that closes its stdout and stderr at INIT: its calls go on. */
static void closed_output_does_not_stall(void **state)
{
    lfix *f = *state;
    proc_fix_put_file(&f->pf, "quiet.sh", "exec >&- 2>&-\nfunction handler () {\n  echo quiet\n}\n");
    register_tutorial(f, "quiet", "quiet.handler", 10000);
    for (int i = 0; i < 3; i++) {
        faas_response res;
        ASSERT_OK(faas_invoke(f->pf.rt, "quiet", "{}", 2, &res));
        assert_string_equal((const char *)res.data, "quiet");
        faas_response_free(&res);
    }
}

/* Without a log sink, the lines also go to the host's stderr (and still to the tail). */
static void without_a_sink_lines_go_to_stderr(void **state)
{
    lfix *f = *state;
    faas_runtime *rt;
    fake_clock clock;
    faas_options o = manual_options(&clock);
    ASSERT_OK(faas_runtime_new(&rt, &o));
    proc_fix_put_file(&f->pf, "says.sh", "function handler () {\n  echo \"to the host's stderr\" 1>&2\n"
             "  echo fine\n}\n");
    const char *argv[] = { "bash", f->pf.bootstrap, NULL };
    const char *env[] = { f->pf.tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.handler = "says.handler";
    pc.environment = env;
    pc.writable = f->pf.writable;
    pc.cwd = f->pf.dir;
    ASSERT_OK(faas_register_process(rt, "says", &pc, NULL));
    char path[512];
    snprintf(path, sizeof path, "%s/host-stderr", f->pf.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    close(fd);
    faas_response res;
    int rc = faas_invoke(rt, "says", "{}", 2, &res);
    dup2(saved, 2);
    close(saved);
    ASSERT_OK(rc);
    assert_true(has_line(res.log_tail, "to the host's stderr"));
    faas_response_free(&res);
    faas_runtime_free(rt);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_true(has_line(text, "to the host's stderr"));
}

/* ---- Node: console.log ------------------------------------------------------------------ */

/* node's console.log and console.error, under bootstrap.js (node's http) or npm's
 * aws-lambda-ric (which prefixes each line with the time, the request id and the level). */
static void node_logs(lfix *f, bool ric)
{
    if (system("node --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "# SKIP: node is not installed (./quickstart installs it)\n");
        skip();
    }
    const char *src = getenv("top_srcdir");
    char entry[1024], native[1100];
    if (ric) {
        snprintf(entry, sizeof entry,
                 "%s/tests/npm/node_modules/aws-lambda-ric/bin/index.mjs", src ? src : "..");
        snprintf(native, sizeof native,
                 "%s/tests/npm/node_modules/aws-lambda-ric/dist/rapid-client.node",
                 src ? src : "..");
        if (access(entry, R_OK) != 0 || access(native, R_OK) != 0) {
            fprintf(stderr, "# SKIP: aws-lambda-ric and its native client are not built in "
                    "tests/npm (./quickstart installs them)\n");
            skip();
        }
    } else {
        snprintf(entry, sizeof entry, "%s/tests/runtime/node/bootstrap.js", src ? src : "..");
    }
    proc_fix_put_file(&f->pf, "logs.js",
             "console.log('loaded');\n"
             "exports.handler = async (event, context) => {\n"
             "  console.log('hello from', event.who);\n"
             "  console.error('and stderr', context.awsRequestId);\n"
             "  return 'ok';\n"
             "};\n");
    const char *argv[] = { "env", "node", entry, "logs.handler", NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/usr/bin/env";
    pc.argv = argv;
    pc.handler = "logs.handler";
    pc.cwd = f->pf.dir;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 20000;
    ASSERT_OK(faas_register_process(f->pf.rt, "nodelog", &pc, &cfg));
    for (int i = 0; i < 3; i++) {
        faas_response res;
        const char *ev = i % 2 == 0 ? "{\"who\":\"ann\"}" : "{\"who\":\"bob\"}";
        ASSERT_OK(faas_invoke(f->pf.rt, "nodelog", ev, strlen(ev), &res));
        fprintf(stderr, "# tail %d: %s", i, res.log_tail);
        assert_non_null(strstr(res.log_tail, i % 2 == 0 ? "hello from ann" : "hello from bob"));
        assert_null(strstr(res.log_tail, i % 2 == 0 ? "bob" : "ann"));
        char err[96];
        snprintf(err, sizeof err, "and stderr %s", res.record.request_id);
        assert_non_null(strstr(res.log_tail, err));
        assert_null(strstr(res.log_tail, "loaded"));
        faas_response_free(&res);
    }
    bool loaded = false;
    pthread_mutex_lock(&f->sink.mu);
    for (size_t i = 0; i < f->sink.n; i++)
        loaded = loaded || strstr(f->sink.lines[i], "loaded") != NULL;
    pthread_mutex_unlock(&f->sink.mu);
    assert_true(loaded);
}

static void node_bootstrap_console_log(void **state)
{
    node_logs(*state, false);
}

static void node_ric_console_log(void **state)
{
    node_logs(*state, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(handler_output_is_its_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(output_between_calls_is_no_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(sixty_four_megabytes_keep_the_last_4kb, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_timed_out_call_keeps_what_it_printed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(closed_output_does_not_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(without_a_sink_lines_go_to_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(node_bootstrap_console_log, setup, teardown),
        cmocka_unit_test_setup_teardown(node_ric_console_log, setup, teardown),
    };
    tap_fix_skips();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
