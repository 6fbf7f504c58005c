/* test_registry.c - names, configs, duplicates, lookup, unregistration (and its wait). */
#include "util.h"

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int setup(void **state)
{
    faas_runtime *rt;
    if (faas_runtime_new(&rt, NULL) != FAAS_OK)
        return -1;
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    faas_runtime_free(*state);
    return 0;
}

static void names_follow_lambdas_rule(void **state)
{
    faas_runtime *rt = *state;
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'b', 65);
    n65[65] = '\0';
    const char *good[] = { "a", "Z", "0", "resize-image_v2", n64 };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ASSERT_OK(faas_register(rt, good[i], echo, NULL));
    const char *bad[] = { "", n65, "a.b", "a b", "a/b", "caf\xc3\xa9", "arn:aws:x", "x\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(faas_register(rt, bad[i], echo, NULL), FAAS_EINVAL);
        assert_non_null(strstr(faas_last_error(), "invalid function name"));
        faas_response res;
        assert_int_equal(faas_invoke(rt, bad[i], NULL, 0, &res), FAAS_EINVAL);
        assert_int_equal(res.status, FAAS_EINVAL);
        assert_string_equal(res.error_type, "InvalidParameterValueException");
        faas_response_free(&res);
        assert_null(faas_lookup(rt, bad[i]));
    }
    assert_int_equal(faas_register(rt, NULL, echo, NULL), FAAS_EINVAL);
    assert_int_equal(faas_register(NULL, "x", echo, NULL), FAAS_EINVAL);
}

static void duplicate_is_eexist(void **state)
{
    faas_runtime *rt = *state;
    ASSERT_OK(faas_register(rt, "dup", echo, NULL));
    assert_int_equal(faas_register(rt, "dup", echo, NULL), FAAS_EEXIST);
    assert_int_equal(faas_register_module(rt, "dup", "x.so", "f", NULL), FAAS_EEXIST);
    assert_non_null(strstr(faas_last_error(), "exists"));
}

static void config_defaults_and_checks(void **state)
{
    faas_runtime *rt = *state;
    faas_config c;
    memset(&c, 0xff, sizeof c);
    faas_config_init(&c);
    assert_int_equal(c.memory_mb, 128);
    assert_int_equal(c.timeout_ms, 3000);
    assert_int_equal(c.max_concurrency, 0);
    assert_int_equal(c.min_warm, 0);
    assert_int_equal(c.keep_alive_ms, 600000);
    assert_int_equal(c.max_retries, 2);
    assert_null(c.dead_letter);
    assert_null(c.tag);
    assert_null(c.init);
    assert_null(c.shutdown);

    c.memory_mb = 0;
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "memory_mb"));
    faas_config_init(&c);
    c.timeout_ms = 0;
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "timeout_ms"));
    faas_config_init(&c);
    c.max_concurrency = 2;
    c.min_warm = 3;
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    faas_config_init(&c);
    c.dead_letter = "not a name";
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    c.dead_letter = "c1";
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    faas_config_init(&c);
    c.tag = "";
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    c.tag = "team\x01";
    assert_int_equal(faas_register(rt, "c1", echo, &c), FAAS_EINVAL);
    assert_null(faas_lookup(rt, "c1"));

    /* Zero is literal after faas_config_init: max_retries 0, keep_alive 0 are accepted. */
    faas_config_init(&c);
    c.max_retries = 0;
    c.keep_alive_ms = 0;
    c.tag = "tenant-a";
    ASSERT_OK(faas_register(rt, "c1", echo, &c));

    /* A NULL config is the defaults, seen in the record. */
    ASSERT_OK(faas_register(rt, "c2", echo, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "c2", "x", 1, &res));
    assert_int_equal(res.record.memory_mb, 128);
    assert_null(res.record.tag);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "c1", "x", 1, &res));
    assert_string_equal(res.record.tag, "tenant-a");
    faas_response_free(&res);

    /* Module registration: path and symbol required, hooks come from the module. */
    assert_int_equal(faas_register_module(rt, "m", NULL, "f", NULL), FAAS_EINVAL);
    assert_int_equal(faas_register_module(rt, "m", "x.so", "", NULL), FAAS_EINVAL);
    faas_config_init(&c);
    c.shutdown = (faas_shutdown_fn)free;
    assert_int_equal(faas_register_module(rt, "m", "x.so", "f", &c), FAAS_EINVAL);
}

static void config_strings_are_copied(void **state)
{
    faas_runtime *rt = *state;
    char tag[16] = "tenant-b";
    faas_config c;
    faas_config_init(&c);
    c.tag = tag;
    ASSERT_OK(faas_register(rt, "copies", echo, &c));
    memcpy(tag, "XXXXXXXX", 8);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "copies", NULL, 0, &res));
    assert_string_equal(res.record.tag, "tenant-b");
    faas_response_free(&res);
}

/* Replies "NAME=value|NAME=value..." for the names in its payload ("A B C"), (null) for
 * those it does not have. */
static int getenv_echo(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    char out[1024] = "", names[256];
    snprintf(names, sizeof names, "%s", (const char *)payload);
    for (char *save = NULL, *n = strtok_r(names, " ", &save); n != NULL;
         n = strtok_r(NULL, " ", &save)) {
        const char *v = faas_ctx_getenv(ctx, n);
        size_t at = strlen(out);
        snprintf(out + at, sizeof out - at, "%s%s=%s", at ? "|" : "", n, v ? v : "(null)");
    }
    return faas_reply(ctx, out, strlen(out));
}

/* An in-process function's environment: Lambda's reserved variables and its own, through
 * the context (never the host's); reserved names refused; copied at registration; shown by
 * faas_describe(). */
static void environment_through_the_context(void **state)
{
    faas_runtime *rt = *state;
    char greeting[32] = "GREETING=hello";
    const char *env[] = { greeting, "TZ=Europe/Paris", "EMPTY=", NULL };
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = 256;
    c.environment = env;
    ASSERT_OK(faas_register(rt, "envfn", getenv_echo, &c));
    memcpy(greeting, "GREETING=XXXXX", 14);     /* copied at registration */
    setenv("FAAS_TEST_HOST_ONLY", "host", 1);
    const char *ask = "AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_VERSION "
                      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_LOG_GROUP_NAME AWS_REGION "
                      "_HANDLER GREETING TZ EMPTY FAAS_TEST_HOST_ONLY PATH";
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "envfn", ask, strlen(ask), &res));
    assert_string_equal(res.data,
                        "AWS_LAMBDA_FUNCTION_NAME=envfn|AWS_LAMBDA_FUNCTION_VERSION=$LATEST|"
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256|"
                        "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/envfn|AWS_REGION=us-east-1|"
                        "_HANDLER=envfn|GREETING=hello|TZ=Europe/Paris|EMPTY=|"
                        "FAAS_TEST_HOST_ONLY=(null)|PATH=(null)");
    faas_response_free(&res);
    /* A function without one still has Lambda's. */
    ASSERT_OK(faas_register(rt, "plain", getenv_echo, NULL));
    ASSERT_OK(faas_invoke(rt, "plain", "TZ GREETING", 11, &res));
    assert_string_equal(res.data, "TZ=:UTC|GREETING=(null)");
    faas_response_free(&res);

    faas_function_info *info;
    ASSERT_OK(faas_describe(rt, "envfn", &info));
    assert_non_null(info->config.environment);
    assert_string_equal(info->config.environment[0], "GREETING=hello");
    assert_string_equal(info->config.environment[2], "EMPTY=");
    assert_null(info->config.environment[3]);
    faas_info_free(info);
    faas_function_info *all;
    size_t n;
    ASSERT_OK(faas_list(rt, &all, &n));
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "envfn");
    assert_string_equal(all[0].config.environment[1], "TZ=Europe/Paris");
    assert_null(all[1].config.environment);
    faas_info_free(all);

    const char *reserved[] = { "AWS_LAMBDA_FUNCTION_NAME=x", NULL };
    c.environment = reserved;
    assert_int_equal(faas_register(rt, "bad", getenv_echo, &c), FAAS_EINVAL);
    const char *handler[] = { "_HANDLER=x", NULL };
    c.environment = handler;
    assert_int_equal(faas_register(rt, "bad", getenv_echo, &c), FAAS_EINVAL);
    const char *no_equals[] = { "JUSTNAME", NULL };
    c.environment = no_equals;
    assert_int_equal(faas_register(rt, "bad", getenv_echo, &c), FAAS_EINVAL);
    assert_null(faas_lookup(rt, "bad"));
}

static void lookup_and_handles(void **state)
{
    faas_runtime *rt = *state;
    assert_null(faas_lookup(rt, "nobody"));
    assert_non_null(strstr(faas_last_error(), "Function not found: nobody"));
    ASSERT_OK(faas_register(rt, "h", echo, NULL));
    faas_function *fn = faas_lookup(rt, "h");
    assert_non_null(fn);
    assert_ptr_equal(fn, faas_lookup(rt, "h"));
    faas_response res;
    ASSERT_OK(faas_invoke_fn(fn, "hi", 2, &res));
    assert_string_equal(res.data, "hi");
    faas_response_free(&res);
    assert_int_equal(faas_invoke_fn(NULL, "hi", 2, &res), FAAS_EINVAL);
    faas_response_free(&res);
}

static void unregister_then_reregister(void **state)
{
    faas_runtime *rt = *state;
    assert_int_equal(faas_unregister(rt, "ghost"), FAAS_ENOTFOUND);
    assert_int_equal(faas_unregister(rt, "bad name"), FAAS_EINVAL);
    ASSERT_OK(faas_register(rt, "u", echo, NULL));
    faas_response kept;
    ASSERT_OK(faas_invoke(rt, "u", "v1", 2, &kept));
    ASSERT_OK(faas_unregister(rt, "u"));
    assert_null(faas_lookup(rt, "u"));
    faas_response res;
    assert_int_equal(faas_invoke(rt, "u", NULL, 0, &res), FAAS_ENOTFOUND);
    assert_string_equal(res.error_type, "ResourceNotFoundException");
    assert_string_equal(res.error_message, "Function not found: u");
    assert_int_equal(res.len, 0);
    assert_string_equal(res.data, "");
    faas_response_free(&res);
    /* A response outlives its function: its strings are still good (ASan checks). */
    assert_string_equal(kept.record.function, "u");
    assert_string_equal(kept.data, "v1");
    ASSERT_OK(faas_register(rt, "u", echo, NULL));
    ASSERT_OK(faas_invoke(rt, "u", "v2", 2, &res));
    assert_string_equal(res.data, "v2");
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    faas_response_free(&kept);
}

/* ---- unregister waits for running calls -------------------------------------------------- */

typedef struct waiting {
    faas_runtime *rt;
    gate          entered, release;
    atomic_int    handler_done;
    atomic_int    done_seen_by_unregister;
} waiting;

static waiting W = { NULL, GATE_INIT, GATE_INIT, 0, -1 };

static int blocking(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    gate_open(&W.entered);
    gate_wait(&W.release);
    atomic_store(&W.handler_done, 1);
    return faas_reply(ctx, "ok", 2);
}

static void *invoker(void *arg)
{
    (void)arg;
    faas_response res;
    int rc = faas_invoke(W.rt, "slow", NULL, 0, &res);
    faas_response_free(&res);
    return (void *)(intptr_t)rc;
}

static void *unregisterer(void *arg)
{
    (void)arg;
    int rc = faas_unregister(W.rt, "slow");
    atomic_store(&W.done_seen_by_unregister, atomic_load(&W.handler_done));
    return (void *)(intptr_t)rc;
}

static void unregister_waits_for_running_calls(void **state)
{
    W.rt = *state;
    ASSERT_OK(faas_register(W.rt, "slow", blocking, NULL));
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, invoker, NULL), 0);
    gate_wait(&W.entered);
    assert_int_equal(pthread_create(&b, NULL, unregisterer, NULL), 0);
    /* Unregistration removes the name first, then waits: once the name is gone, the
     * unregistering thread is inside that wait. */
    while (faas_lookup(W.rt, "slow") != NULL)
        sched_yield();
    assert_int_equal(atomic_load(&W.done_seen_by_unregister), -1);
    gate_open(&W.release);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_int_equal((intptr_t)ra, FAAS_OK);
    assert_int_equal((intptr_t)rb, FAAS_OK);
    /* It returned only after the handler finished. */
    assert_int_equal(atomic_load(&W.done_seen_by_unregister), 1);
}

static int self_unregister(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    faas_runtime *rt = *(faas_runtime **)faas_ctx_state(ctx);
    int rc = faas_unregister(rt, faas_ctx_function(ctx));
    char out[16];
    int n = snprintf(out, sizeof out, "%d", rc);
    return faas_reply(ctx, out, (size_t)n);
}

static faas_runtime *self_rt;
static int self_init(void **st, const char *fn)
{
    (void)fn;
    *st = &self_rt;
    return 0;
}

/* INIT and the log sink run inside the call too: unregistering from them is FAAS_EBUSY,
 * not a wait for themselves. */
static int init_rc = -100;
static int unregistering_init(void **st, const char *fn)
{
    (void)st;
    init_rc = faas_unregister(self_rt, fn);
    return 0;
}

static int sink_rc = -100;
static void unregistering_sink(const char *line, void *arg)
{
    (void)arg;
    if (strncmp(line, "START ", 6) == 0)
        sink_rc = faas_unregister(self_rt, "logged");
}

static int noop(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static void unregister_from_init_or_log_sink_is_ebusy(void **state)
{
    self_rt = *state;
    faas_config c;
    faas_config_init(&c);
    c.init = unregistering_init;
    ASSERT_OK(faas_register(self_rt, "initself", noop, &c));
    ASSERT_OK(faas_invoke(self_rt, "initself", NULL, 0, NULL));
    assert_int_equal(init_rc, FAAS_EBUSY);
    init_rc = -100;
    ASSERT_OK(faas_register(self_rt, "initwarm", noop, &c));
    ASSERT_OK(faas_warm(self_rt, "initwarm", 1));        /* INIT outside any call */
    assert_int_equal(init_rc, FAAS_EBUSY);

    faas_options o;
    memset(&o, 0, sizeof o);
    o.log = unregistering_sink;
    ASSERT_OK(faas_runtime_new(&self_rt, &o));
    ASSERT_OK(faas_register(self_rt, "logged", noop, NULL));
    ASSERT_OK(faas_invoke(self_rt, "logged", NULL, 0, NULL));
    assert_int_equal(sink_rc, FAAS_EBUSY);
    faas_runtime_free(self_rt);
}

static void unregister_from_own_handler_is_ebusy(void **state)
{
    self_rt = *state;
    faas_config c;
    faas_config_init(&c);
    c.init = self_init;
    ASSERT_OK(faas_register(self_rt, "selfish", self_unregister, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(self_rt, "selfish", NULL, 0, &res));
    assert_int_equal(atoi(res.data), FAAS_EBUSY);
    faas_response_free(&res);
    assert_non_null(faas_lookup(self_rt, "selfish"));
}

/* ---- many threads registering, invoking and unregistering at once (TSan) ------------------ */

typedef struct churn_arg {
    faas_runtime *rt;
    int           id;
    unsigned      rounds;
    int           failures;
} churn_arg;

static void *churn(void *p)
{
    churn_arg *a = p;
    char name[32], payload[32];
    for (unsigned i = 0; i < a->rounds; i++) {
        snprintf(name, sizeof name, "churn-%d-%u", a->id, i % 8);
        int rc = faas_register(a->rt, name, echo, NULL);
        if (rc != FAAS_OK && rc != FAAS_EEXIST)
            a->failures++;
        int n = snprintf(payload, sizeof payload, "%u", i);
        faas_response res;
        rc = faas_invoke(a->rt, name, payload, (size_t)n, &res);
        if (rc == FAAS_OK && strcmp(res.data, payload) != 0)
            a->failures++;
        if (rc != FAAS_OK && rc != FAAS_ENOTFOUND)
            a->failures++;
        faas_response_free(&res);
        if (i % 3 == 0) {
            rc = faas_unregister(a->rt, name);
            if (rc != FAAS_OK && rc != FAAS_ENOTFOUND)
                a->failures++;
        }
        /* Another thread's name, which may come and go under us. */
        snprintf(name, sizeof name, "churn-%d-%u", (a->id + 1) % 4, i % 8);
        rc = faas_invoke(a->rt, name, payload, (size_t)n, NULL);
        if (rc != FAAS_OK && rc != FAAS_ENOTFOUND)
            a->failures++;
    }
    return NULL;
}

static void registry_is_thread_safe(void **state)
{
    faas_runtime *rt = *state;
    pthread_t t[4];
    churn_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (churn_arg){ rt, i, scaled(2000), 0 };
        assert_int_equal(pthread_create(&t[i], NULL, churn, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(names_follow_lambdas_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(config_defaults_and_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(config_strings_are_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_through_the_context, setup, teardown),
        cmocka_unit_test_setup_teardown(lookup_and_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_then_reregister, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_waits_for_running_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_from_own_handler_is_ebusy, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_from_init_or_log_sink_is_ebusy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(registry_is_thread_safe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
