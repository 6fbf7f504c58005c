/* test_errors.c - status codes, their names and words, faas_last_error(), the version. */
#include "util.h"

static const int all_codes[] = {
    FAAS_OK, FAAS_EINVAL, FAAS_ENOMEM, FAAS_ENOTFOUND, FAAS_EEXIST, FAAS_ELOAD, FAAS_EINIT,
    FAAS_EHANDLER, FAAS_ETIMEOUT, FAAS_ETHROTTLED, FAAS_ETOOLARGE, FAAS_EBUSY, FAAS_ESHUTDOWN,
    FAAS_EBUDGET, FAAS_ECRASHED, FAAS_EMEMORY, FAAS_ENOTSUP, FAAS_EIO,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

static void codes_have_contract_values(void **state)
{
    (void)state;
    /* design.md's numbers: append-only, never renumbered. */
    for (size_t i = 0; i < NCODES; i++)
        assert_int_equal(all_codes[i], -(int)i);
}

static void strerror_names_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = faas_strerror(all_codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, faas_strerror(all_codes[j]));
    }
    assert_string_equal(faas_strerror(-999), "unknown error");
    assert_string_equal(faas_strerror(1), "unknown error");
    assert_string_equal(faas_strerror(FAAS_ETHROTTLED), "function at its concurrency limit");
}

static void err_name_is_the_macro_name(void **state)
{
    (void)state;
    assert_string_equal(faas_err_name(FAAS_OK), "FAAS_OK");
    assert_string_equal(faas_err_name(FAAS_ETHROTTLED), "FAAS_ETHROTTLED");
    assert_string_equal(faas_err_name(FAAS_ENOTSUP), "FAAS_ENOTSUP");
    assert_string_equal(faas_err_name(FAAS_EIO), "FAAS_EIO");
    assert_string_equal(faas_err_name(-18), "FAAS_EUNKNOWN");
}

static void *fresh_thread_last_error(void *arg)
{
    (void)arg;
    return strdup(faas_last_error());
}

static void last_error_is_per_thread_and_sticky(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    assert_int_equal(faas_register(rt, "bad.name", NULL, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "handler is NULL"));
    assert_int_equal(faas_register_module(rt, "bad.name", "x.so", "f", NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "bad.name"));
    char before[512];
    snprintf(before, sizeof before, "%s", faas_last_error());

    /* Another thread starts with "" and does not see this thread's message. */
    pthread_t t;
    void *other;
    assert_int_equal(pthread_create(&t, NULL, fresh_thread_last_error, NULL), 0);
    pthread_join(t, &other);
    assert_string_equal(other, "");
    free(other);

    /* A success does not clear it. */
    faas_config cfg;
    faas_config_init(&cfg);
    assert_non_null(faas_version());
    faas_stats st;
    assert_int_equal(faas_stats_get(rt, NULL, &st), FAAS_OK);
    assert_string_equal(faas_last_error(), before);
    faas_runtime_free(rt);
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(faas_version(), FAAS_VERSION_STRING);
    assert_int_equal(faas_version_number(), FAAS_VERSION_HEX);
    unsigned maj, min, pat;
    assert_int_equal(sscanf(faas_version(), "%u.%u.%u", &maj, &min, &pat), 3);
    assert_int_equal(faas_version_number(), (maj << 16) | (min << 8) | pat);
}

static void runtime_options_are_checked(void **state)
{
    (void)state;
    faas_runtime *rt = (faas_runtime *)0x1;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.price_model = "aws-lambda-mainframe";
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_null(rt);
    assert_non_null(strstr(faas_last_error(), "aws-lambda-mainframe"));
    o.price_model = NULL;
    o.workers = 100000;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_int_equal(faas_runtime_new(NULL, NULL), FAAS_EINVAL);
    faas_runtime_free(NULL);                         /* a no-op */
    o.workers = 0;
    o.price_model = "aws-lambda-arm64";
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_have_contract_values),
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(err_name_is_the_macro_name),
        cmocka_unit_test(last_error_is_per_thread_and_sticky),
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(runtime_options_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
