/* test_error_body.c - faas_fail_body(): a handler's whole Lambda error body (what the
 * bindings send for an exception with its stack trace) reaches the response intact, and
 * which failure wins when a call fails more than one way. */
#include "util.h"

static fixture *F;

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    o.max_payload_sync = 1000;
    F = f;
    *state = f;
    return fixture_start(f, &o, 0);
}

static const char traced[] =
    "{\"errorMessage\": \"'action'\", \"errorType\": \"KeyError\", \"stackTrace\": "
    "[\"  File \\\"/var/task/app.py\\\", line 3, in handler\\n\"]}";

/* The payload is the body to fail with. */
static int fails_with_payload(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_reply(ctx, "\"discarded\"", 11);
    return faas_fail_body(ctx, payload, len);
}

static void body_is_the_response(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", fails_with_payload, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "f", traced, sizeof traced - 1, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "KeyError");
    assert_string_equal(res.error_message, "'action'");
    /* Compact, members in their order, the trace kept. */
    assert_string_equal(res.data,
                        "{\"errorMessage\":\"'action'\",\"errorType\":\"KeyError\",\"stackTrace\":"
                        "[\"  File \\\"/var/task/app.py\\\", line 3, in handler\\n\"]}");
    assert_int_equal(res.len, strlen(res.data));
    faas_response_free(&res);
}

static void missing_members_are_added(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", fails_with_payload, NULL));
    faas_response res;
    const char body[] = "{\"stackTrace\":[]}";
    assert_int_equal(faas_invoke(f->rt, "f", body, sizeof body - 1, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "HandlerError");
    assert_string_equal(res.error_message, "");
    assert_string_equal(res.data,
                        "{\"stackTrace\":[],\"errorType\":\"HandlerError\",\"errorMessage\":\"\"}");
    faas_response_free(&res);

    const char empty_type[] = "{\"errorType\":\"\",\"errorMessage\":\"m\"}";
    assert_int_equal(faas_invoke(f->rt, "f", empty_type, sizeof empty_type - 1, &res),
                     FAAS_EHANDLER);
    assert_string_equal(res.error_type, "HandlerError");
    assert_string_equal(res.error_message, "m");
    faas_response_free(&res);
}

static int bad_body_then_ok(faas_ctx *ctx, const void *payload, size_t len)
{
    if (faas_fail_body(ctx, payload, len) != FAAS_EINVAL)
        return faas_fail(ctx, "Unexpected", "faas_fail_body accepted a bad body");
    return faas_reply(ctx, "\"fine\"", 6);
}

static void a_bad_body_is_refused_and_fails_nothing(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", bad_body_then_ok, NULL));
    const char *bad[] = { "[1,2]", "\"text\"", "{\"errorType\":", "", "nul\0l" };
    size_t lens[] = { 5, 6, 13, 0, 5 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        faas_response res;
        ASSERT_OK(faas_invoke(f->rt, "f", bad[i], lens[i], &res));
        assert_string_equal(res.data, "\"fine\"");
        faas_response_free(&res);
    }
    assert_int_equal(faas_fail_body(NULL, "{}", 2), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "faas_fail_body"));
}

static int body_then_fail(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_fail_body(ctx, payload, len);
    return faas_fail(ctx, "Later", "the last word");
}

static int fail_then_body(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_fail(ctx, "Earlier", "replaced");
    return faas_fail_body(ctx, payload, len);
}

static void the_last_failure_wins(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "bf", body_then_fail, NULL));
    ASSERT_OK(faas_register(f->rt, "fb", fail_then_body, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "bf", traced, sizeof traced - 1, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "Later");
    assert_string_equal(res.data, "{\"errorMessage\":\"the last word\",\"errorType\":\"Later\"}");
    faas_response_free(&res);
    assert_int_equal(faas_invoke(f->rt, "fb", traced, sizeof traced - 1, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "KeyError");
    assert_non_null(strstr(res.data, "stackTrace"));
    faas_response_free(&res);
}

static int body_then_overrun(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_fail_body(ctx, payload, len);
    fake_advance(&F->clock, MS(3001));     /* past the default 3 s deadline */
    return FAAS_EHANDLER;
}

static void a_timeout_still_wins(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", body_then_overrun, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "f", traced, sizeof traced - 1, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_type, "Sandbox.Timedout");
    assert_null(strstr(res.data, "stackTrace"));
    faas_response_free(&res);
}

static void an_oversized_body_fails_as_an_oversized_reply(void **state)
{
    (void)state;
    /* The request fits the limit; the body does not once errorType is added to it. */
    char body[1100];
    int n = snprintf(body, sizeof body, "{\"errorMessage\":\"%0*d\"}", 900, 0);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    o.max_payload_sync = (size_t)n + 10;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "f", fails_with_payload, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(rt, "f", body, (size_t)n, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "Function.ResponseSizeTooLarge");
    faas_response_free(&res);
    faas_runtime_free(rt);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(body_is_the_response),
        T(missing_members_are_added),
        T(a_bad_body_is_refused_and_fails_nothing),
        T(the_last_failure_wins),
        T(a_timeout_still_wins),
        T(an_oversized_body_fails_as_an_oversized_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
