/* test_loader.c - lazy dlopen, load and INIT failures, one handle per path, dlclose with
 * the last instance (checked in /proc/self/maps). */
#include "util.h"

#include <jansson.h>

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    *state = f;
    return fixture_start(f, &o, 0);
}

/* {"serial":S,"calls":C,"inits":I,"live":L} from mod_basic's whoami. */
static int field(const faas_response *res, const char *key)
{
    json_error_t err;
    json_t *j = json_loadb(res->data, res->len, 0, &err);
    assert_non_null(j);
    int v = (int)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

static void registration_loads_nothing(void **state)
{
    fixture *f = *state;
    assert_int_equal(module_mapped("mod_basic.so"), 0);
    ASSERT_OK(faas_register_module(f->rt, "who", test_module("mod_basic.so"), "whoami", NULL));
    assert_int_equal(module_mapped("mod_basic.so"), 0);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "who", NULL, 0, &res));
    assert_int_equal(module_mapped("mod_basic.so"), 1);
    assert_int_equal(res.record.cold, 1);
    assert_int_equal(field(&res, "serial"), 1);
    assert_int_equal(field(&res, "inits"), 1);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "who", NULL, 0, &res));
    assert_int_equal(res.record.cold, 0);
    assert_int_equal(field(&res, "serial"), 1);
    assert_int_equal(field(&res, "calls"), 2);
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(f->rt, "who"));
    assert_int_equal(module_mapped("mod_basic.so"), 0);
}

static void missing_file_is_eload_with_dlerror(void **state)
{
    fixture *f = *state;
    const char *path = test_module("no_such_module.so");
    ASSERT_OK(faas_register_module(f->rt, "ghost", path, "handler", NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "ghost", "{}", 2, &res), FAAS_ELOAD);
    assert_int_equal(res.status, FAAS_ELOAD);
    assert_string_equal(res.error_type, "Runtime.LoadError");
    assert_non_null(strstr(res.error_message, "dlopen(\""));
    assert_non_null(strstr(res.error_message, path));
    assert_non_null(strstr(res.error_message, "No such file"));
    assert_non_null(strstr(faas_last_error(), "No such file"));
    /* The body is Lambda's error JSON. */
    json_t *j = json_loadb(res.data, res.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")),
                        "Runtime.LoadError");
    assert_string_equal(json_string_value(json_object_get(j, "errorMessage")),
                        res.error_message);
    json_decref(j);
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "ghost", &st));
    assert_int_equal(st.instances_live, 0);
    assert_int_equal(st.errors, 1);
}

static void missing_symbol_is_eload(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register_module(f->rt, "nosym", test_module("mod_basic.so"), "nope", NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "nosym", NULL, 0, &res), FAAS_ELOAD);
    assert_non_null(strstr(res.error_message, "dlsym("));
    assert_non_null(strstr(res.error_message, "nope"));
    faas_response_free(&res);
    /* No instance was kept, so the module is not kept loaded either. */
    assert_int_equal(module_mapped("mod_basic.so"), 0);
}

static void init_failure_is_einit_and_keeps_nothing(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register_module(f->rt, "cfgless", test_module("mod_initfail.so"), "handler",
                                   NULL));
    for (int i = 0; i < 2; i++) {
        faas_response res;
        assert_int_equal(faas_invoke(f->rt, "cfgless", "x", 1, &res), FAAS_EINIT);
        assert_string_equal(res.error_type, "Runtime.InitError");
        /* The message is what faas_init reported through faas_fail(NULL, ...). */
        assert_string_equal(res.error_message,
                            "cannot open config for cfgless: No such file or directory");
        assert_int_equal(res.record.cold, 1);
        faas_response_free(&res);
        faas_stats st;
        ASSERT_OK(faas_stats_get(f->rt, "cfgless", &st));
        assert_int_equal(st.instances_live, 0);
        assert_int_equal(module_mapped("mod_initfail.so"), 0);
    }
    /* faas_warm reports the same failure. */
    assert_int_equal(faas_warm(f->rt, "cfgless", 2), FAAS_EINIT);
    assert_non_null(strstr(faas_last_error(), "cannot open config"));
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "cfgless", &st));
    assert_int_equal(st.instances_live, 0);
}

static void one_handle_per_path_refcounted(void **state)
{
    fixture *f = *state;
    const char *path = test_module("mod_basic.so");
    ASSERT_OK(faas_register_module(f->rt, "a", path, "whoami", NULL));
    ASSERT_OK(faas_register_module(f->rt, "b", path, "echo", NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "a", NULL, 0, &res));
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "b", "e", 1, &res));
    assert_string_equal(res.data, "e");
    faas_response_free(&res);
    /* Both functions share the handle: a's second INIT sees the same module globals. */
    ASSERT_OK(faas_warm(f->rt, "a", 2));
    ASSERT_OK(faas_invoke(f->rt, "a", NULL, 0, &res));
    assert_int_equal(field(&res, "inits"), 3);     /* a x2, b x1, one load */
    assert_int_equal(field(&res, "live"), 3);
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(f->rt, "a"));
    assert_int_equal(module_mapped("mod_basic.so"), 1);   /* b's instance holds it */
    ASSERT_OK(faas_unregister(f->rt, "b"));
    assert_int_equal(module_mapped("mod_basic.so"), 0);
}

static void shutdown_hook_runs_on_eviction(void **state)
{
    fixture *f = *state;
    const char *path = test_module("mod_basic.so");
    faas_config c;
    faas_config_init(&c);
    c.keep_alive_ms = 1000;
    ASSERT_OK(faas_register_module(f->rt, "w", path, "whoami", &c));
    ASSERT_OK(faas_register_module(f->rt, "keep", path, "whoami", NULL));
    ASSERT_OK(faas_warm(f->rt, "keep", 1));             /* holds the module loaded */
    ASSERT_OK(faas_warm(f->rt, "w", 3));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "keep", NULL, 0, &res));
    assert_int_equal(field(&res, "live"), 4);
    faas_response_free(&res);
    fake_advance(&f->clock, MS(1000));
    assert_true(faas_run_pending(f->rt) >= 1);
    ASSERT_OK(faas_invoke(f->rt, "keep", NULL, 0, &res));
    assert_int_equal(field(&res, "live"), 1);           /* three faas_shutdown calls */
    faas_response_free(&res);
}

static void reload_after_scale_to_zero_starts_fresh(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.keep_alive_ms = 500;
    ASSERT_OK(faas_register_module(f->rt, "z", test_module("mod_basic.so"), "whoami", &c));
    faas_response res;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(faas_invoke(f->rt, "z", NULL, 0, &res));
        faas_response_free(&res);
    }
    ASSERT_OK(faas_warm(f->rt, "z", 2));
    assert_int_equal(module_mapped("mod_basic.so"), 1);
    fake_advance(&f->clock, MS(500));
    faas_run_pending(f->rt);
    assert_int_equal(module_mapped("mod_basic.so"), 0);
    ASSERT_OK(faas_invoke(f->rt, "z", NULL, 0, &res));
    assert_int_equal(res.record.cold, 1);
    assert_int_equal(field(&res, "inits"), 1);          /* module globals start over */
    faas_response_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registration_loads_nothing, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(missing_file_is_eload_with_dlerror, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(missing_symbol_is_eload, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(init_failure_is_einit_and_keeps_nothing, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(one_handle_per_path_refcounted, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(shutdown_hook_runs_on_eviction, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(reload_after_scale_to_zero_starts_fresh, setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
