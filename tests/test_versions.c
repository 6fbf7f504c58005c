/* test_versions.c - qualified names at every library entry point, published versions
 * (their own pools, counters, records and CodeSha256; a publish with nothing changed),
 * aliases (create, update, delete, handles) and weighted routing (weight 0 and 1 exact,
 * 20,000 calls at 0.1 inside the 99.9 % binomial interval, seeded). */
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <fcntl.h>

#include "../libfaas/sha256.h"

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int other(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    return faas_reply(ctx, "other", 5);
}

typedef struct vfixture {
    faas_runtime *rt;
    capture       cap;
} vfixture;

static int setup(void **state)
{
    vfixture *f = calloc(1, sizeof *f);
    capture_init(&f->cap);
    faas_options o = FAAS_OPTIONS_INIT;
    o.workers = 2;
    o.log = capture_line;
    o.log_arg = &f->cap;
    if (faas_runtime_new(&f->rt, &o) != FAAS_OK)
        return -1;
    faas_on_record(f->rt, capture_record, &f->cap);
    *state = f;
    return 0;
}

/* No log sink, no record hook: for the tests that make tens of thousands of calls. */
static int setup_quiet(void **state)
{
    vfixture *f = calloc(1, sizeof *f);
    capture_init(&f->cap);
    faas_options o = FAAS_OPTIONS_INIT;
    o.workers = 2;
    if (faas_runtime_new(&f->rt, &o) != FAAS_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    vfixture *f = *state;
    faas_runtime_free(f->rt);
    for (size_t i = 0; i < f->cap.n; i++)
        free(f->cap.lines[i]);
    free(f->cap.lines);
    free(f->cap.records);
    free(f->cap.record_fn);
    free(f);
    return 0;
}

/* Invoke NAME; the version that ran (record.version), or the status if it failed. */
static long run_version(faas_runtime *rt, const char *name)
{
    faas_response res;
    int rc = faas_invoke(rt, name, "{}", 2, &res);
    long v = rc == FAAS_OK ? (long)res.record.version : rc;
    faas_response_free(&res);
    return v;
}

static void expect_not_found(faas_runtime *rt, const char *name)
{
    faas_response res;
    assert_int_equal(faas_invoke(rt, name, "{}", 2, &res), FAAS_ENOTFOUND);
    char want[300];
    snprintf(want, sizeof want, "Function not found: %s", name);   /* Lambda's words */
    assert_string_equal(res.error_message, want);
    assert_string_equal(res.error_type, "ResourceNotFoundException");
    faas_response_free(&res);
    assert_null(faas_lookup(rt, name));
    faas_future *fut = NULL;
    assert_int_equal(faas_invoke_future(rt, name, "{}", 2, &fut), FAAS_ENOTFOUND);
    assert_null(fut);
    assert_int_equal(faas_invoke_async(rt, name, "{}", 2, NULL, NULL, NULL), FAAS_ENOTFOUND);
}

static void unknown_qualifiers_are_not_found(void **state)
{
    vfixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    assert_int_equal(run_version(f->rt, "f"), 0);
    assert_int_equal(run_version(f->rt, "f:$LATEST"), 0);
    const char *unknown[] = { "f:1", "f:prod", "f:0", "f:007", "f:$x", "f:99999999999",
                              "g:1", "g:$LATEST" };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        expect_not_found(f->rt, unknown[i]);
    const char *bad[] = { "f:", ":1", "f:1:2", "f:a.b", "f: 1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        faas_response res;
        assert_int_equal(faas_invoke(f->rt, bad[i], "{}", 2, &res), FAAS_EINVAL);
        faas_response_free(&res);
        assert_int_equal(faas_invoke_async(f->rt, bad[i], "{}", 2, NULL, NULL, NULL),
                         FAAS_EINVAL);
    }
    /* $LATEST is the function itself: the same handle, the same counters */
    assert_ptr_equal(faas_lookup(f->rt, "f:$LATEST"), faas_lookup(f->rt, "f"));
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "f:$LATEST", &st));
    assert_int_equal(st.invocations, 2);
}

static void publish_freezes_a_version_with_its_own_pool(void **state)
{
    vfixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    uint32_t v = 99;
    ASSERT_OK(faas_publish_version(f->rt, "f", "first", &v));
    assert_int_equal(v, 1);
    /* nothing changed: Lambda gives back the last version and makes none */
    ASSERT_OK(faas_publish_version(f->rt, "f", "again", &v));
    assert_int_equal(v, 1);

    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "f:1", "hi", 2, &res));
    assert_string_equal(res.data, "hi");
    assert_string_equal(res.record.function, "f");
    assert_int_equal(res.record.version, 1);
    assert_int_equal(res.record.cold, 1);            /* its own pool: a cold start */
    char start[96];
    snprintf(start, sizeof start, "START RequestId: %s Version: 1", res.record.request_id);
    faas_response_free(&res);
    int seen = 0;
    for (size_t i = 0; i < f->cap.n; i++)
        seen += strcmp(f->cap.lines[i], start) == 0;
    assert_int_equal(seen, 1);
    assert_int_equal(run_version(f->rt, "f:1"), 1);
    assert_int_equal(run_version(f->rt, "f"), 0);

    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "f:1", &st));
    assert_int_equal(st.invocations, 2);
    assert_int_equal(st.cold_starts, 1);
    ASSERT_OK(faas_warm(f->rt, "f:1", 2));           /* its own pool is warmed */
    ASSERT_OK(faas_stats_get(f->rt, "f:1", &st));
    assert_int_equal(st.instances_live, 2);
    ASSERT_OK(faas_alias_set(f->rt, "f", "a", 1, 0, 0.0));
    assert_int_equal(faas_warm(f->rt, "f:a", 1), FAAS_EINVAL);
    assert_int_equal(faas_warm(f->rt, "f:7", 1), FAAS_ENOTFOUND);
    ASSERT_OK(faas_stats_get(f->rt, "f", &st));
    assert_int_equal(st.invocations, 1);
    assert_int_equal(faas_stats_get(f->rt, "f:2", &st), FAAS_ENOTFOUND);

    /* the version's handle, sync, async and future */
    faas_function *h = faas_lookup(f->rt, "f:1");
    assert_non_null(h);
    assert_ptr_not_equal(h, faas_lookup(f->rt, "f"));
    ASSERT_OK(faas_invoke_fn(h, "x", 1, &res));
    assert_int_equal(res.record.version, 1);
    faas_response_free(&res);
    faas_future *fut;
    ASSERT_OK(faas_invoke_future(f->rt, "f:1", "y", 1, &fut));
    ASSERT_OK(faas_future_wait(fut, 10000, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_int_equal(res.record.version, 1);
    faas_response_free(&res);
    faas_future_free(fut);
    ASSERT_OK(faas_invoke_async(f->rt, "f:1", "z", 1, NULL, NULL, NULL));
    ASSERT_OK(faas_drain(f->rt, 10000));
    ASSERT_OK(faas_stats_get(f->rt, "f:1", &st));
    assert_int_equal(st.invocations, 5);

    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "f", &vi, &n));
    assert_int_equal(n, 1);
    assert_int_equal(vi[0].version, 1);
    assert_string_equal(vi[0].description, "first");
    assert_int_equal(strlen(vi[0].code_sha256), 44);
    assert_true(vi[0].published_ns > 0);
    faas_versions_free(vi);

    /* versions are not functions of their own: faas_list() shows f once */
    faas_function_info *fi;
    ASSERT_OK(faas_list(f->rt, &fi, &n));
    assert_int_equal(n, 1);
    faas_info_free(fi);
}

static void publish_checks_its_arguments(void **state)
{
    vfixture *f = *state;
    uint32_t v;
    assert_int_equal(faas_publish_version(f->rt, "nope", NULL, &v), FAAS_ENOTFOUND);
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    assert_int_equal(faas_publish_version(f->rt, "f:1", NULL, &v), FAAS_EINVAL);
    assert_int_equal(faas_publish_version(f->rt, "f:$LATEST", NULL, &v), FAAS_EINVAL);
    assert_int_equal(faas_publish_version(NULL, "f", NULL, &v), FAAS_EINVAL);
    char longd[300];
    memset(longd, 'd', sizeof longd - 1);
    longd[sizeof longd - 1] = '\0';
    assert_int_equal(faas_publish_version(f->rt, "f", longd, &v), FAAS_EINVAL);
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, NULL));
    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "f", &vi, &n));
    assert_int_equal(n, 1);
    assert_string_equal(vi[0].description, "");
    faas_versions_free(vi);
    assert_int_equal(faas_versions_list(f->rt, "g", &vi, &n), FAAS_ENOTFOUND);
}

static void module_code_sha256_is_the_files(void **state)
{
    vfixture *f = *state;
    const char *path = test_module("mod_basic.so");
    ASSERT_OK(faas_register_module(f->rt, "m", path, "echo", NULL));
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "m", "v1", &v));
    assert_int_equal(v, 1);
    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "m", &vi, &n));
    assert_int_equal(n, 1);

    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    faas__sha256 h;
    faas__sha256_init(&h);
    char buf[4096];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        faas__sha256_update(&h, buf, (size_t)got);
    close(fd);
    unsigned char d[32];
    char want[45];
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, want);
    assert_string_equal(vi[0].code_sha256, want);
    faas_versions_free(vi);

    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "m:1", "hey", 3, &res));
    assert_string_equal(res.data, "hey");
    assert_int_equal(res.record.version, 1);
    faas_response_free(&res);
    ASSERT_OK(faas_publish_version(f->rt, "m", NULL, &v));
    assert_int_equal(v, 1);                          /* same file: no new version */
}

/* Re-registering NAME with other code and publishing again makes version 1 of a new
 * function; an unregistered function takes its versions and aliases with it. */
static void unregister_takes_versions_and_aliases(void **state)
{
    vfixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, NULL));
    ASSERT_OK(faas_alias_set(f->rt, "f", "prod", 1, 0, 0.0));
    assert_int_equal(run_version(f->rt, "f:prod"), 1);
    ASSERT_OK(faas_unregister(f->rt, "f"));
    expect_not_found(f->rt, "f:1");
    expect_not_found(f->rt, "f:prod");
    ASSERT_OK(faas_register(f->rt, "f", other, NULL));
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, &v));
    assert_int_equal(v, 1);
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "f:1", "x", 1, &res));
    assert_string_equal(res.data, "other");
    faas_response_free(&res);
    expect_not_found(f->rt, "f:prod");
}

static void aliases_route_update_and_delete(void **state)
{
    vfixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, NULL));
    ASSERT_OK(faas_unregister(f->rt, "f"));          /* a new f: other code, versions 1, 2 */
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, NULL));
    faas_unregister(f->rt, "g");
    ASSERT_OK(faas_register(f->rt, "g", echo, NULL));

    ASSERT_OK(faas_alias_set(f->rt, "f", "live", 0, 0, 0.0));  /* to $LATEST */
    assert_int_equal(run_version(f->rt, "f:live"), 0);
    ASSERT_OK(faas_alias_set(f->rt, "f", "live", 1, 0, 0.0));
    assert_int_equal(run_version(f->rt, "f:live"), 1);
    faas_alias_info ai;
    ASSERT_OK(faas_alias_get(f->rt, "f", "live", &ai));
    assert_int_equal(ai.version, 1);
    assert_int_equal(ai.extra_version, 0);
    assert_int_equal(ai.revision, 2);

    /* the handle routes each call: an update is seen by the next call through it */
    faas_function *h = faas_lookup(f->rt, "f:live");
    assert_non_null(h);
    faas_response res;
    ASSERT_OK(faas_invoke_fn(h, "x", 1, &res));
    assert_int_equal(res.record.version, 1);
    faas_response_free(&res);
    ASSERT_OK(faas_alias_set(f->rt, "f", "live", 0, 0, 0.0));
    ASSERT_OK(faas_invoke_fn(h, "x", 1, &res));
    assert_int_equal(res.record.version, 0);
    faas_response_free(&res);
    char rid[37];
    ASSERT_OK(faas_invoke_fn_async(h, "x", 1, NULL, NULL, rid));
    ASSERT_OK(faas_drain(f->rt, 10000));

    ASSERT_OK(faas_alias_delete(f->rt, "f", "live"));
    expect_not_found(f->rt, "f:live");
    assert_int_equal(faas_invoke_fn(h, "x", 1, &res), FAAS_ENOTFOUND);  /* still valid */
    faas_response_free(&res);
    assert_int_equal(faas_alias_delete(f->rt, "f", "live"), FAAS_ENOTFOUND);
    assert_int_equal(faas_alias_get(f->rt, "f", "live", &ai), FAAS_ENOTFOUND);
    /* an alias of f is not one of g */
    ASSERT_OK(faas_alias_set(f->rt, "f", "prod", 1, 0, 0.0));
    expect_not_found(f->rt, "g:prod");
    ASSERT_OK(faas_alias_set(f->rt, "f", "live", 1, 0, 0.0));   /* made again */
    assert_int_equal(run_version(f->rt, "f:live"), 1);
}

static void alias_arguments_are_checked(void **state)
{
    vfixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "f", echo, NULL));
    ASSERT_OK(faas_publish_version(f->rt, "f", NULL, NULL));
    char a129[130];
    memset(a129, 'a', 129);
    a129[129] = '\0';
    const char *bad[] = { NULL, "", "123", "a:b", "a.b", "$LATEST", "a b", a129 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(faas_alias_set(f->rt, "f", bad[i], 1, 0, 0.0), FAAS_EINVAL);
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 2, 0, 0.0), FAAS_ENOTFOUND);
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 2, 0.5), FAAS_ENOTFOUND);
    assert_int_equal(faas_alias_set(f->rt, "g", "p", 1, 0, 0.0), FAAS_ENOTFOUND);
    assert_int_equal(faas_alias_set(f->rt, "f:1", "p", 1, 0, 0.0), FAAS_EINVAL);
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 0, 0.5), FAAS_EINVAL); /* no extra */
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 1, 0.5), FAAS_EINVAL); /* same */
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 0, 1, 0.5), FAAS_EINVAL); /* $LATEST */
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 0, NAN), FAAS_EINVAL);
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 0, -0.1), FAAS_EINVAL);
    assert_int_equal(faas_alias_set(f->rt, "f", "p", 1, 0, 1.1), FAAS_EINVAL);
    expect_not_found(f->rt, "f:p");                  /* nothing was made */
    ASSERT_OK(faas_alias_set(f->rt, "f", a129 + 1, 1, 0, 0.0));  /* 128: the longest */
}

/* Count the calls of NAME that ran version 2. */
static unsigned count_v2(faas_runtime *rt, const char *name, unsigned calls)
{
    unsigned v2 = 0;
    for (unsigned i = 0; i < calls; i++) {
        long v = run_version(rt, name);
        assert_true(v == 1 || v == 2);
        v2 += v == 2;
    }
    return v2;
}

/* Copy FROM to TO, plus EXTRA bytes at the end (an ELF file with trailing bytes loads the
 * same, but is other bytes: another CodeSha256). */
static void copy_file(const char *from, const char *to, const char *extra)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    if (extra != NULL)
        fputs(extra, out);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* f, a module in a scratch file, published twice with other bytes: versions 1 and 2. */
static void two_versions_with(vfixture *f, char *dir, size_t size, char *path,
                              const faas_config *cfg)
{
    temp_dir(dir, size, "faas-versions");
    snprintf(path, 4096, "%s/f.so", dir);
    copy_file(test_module("mod_basic.so"), path, NULL);
    ASSERT_OK(faas_register_module(f->rt, "f", path, "echo", cfg));
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "f", "one", &v));
    assert_int_equal(v, 1);
    copy_file(test_module("mod_basic.so"), path, "\nv2");
    ASSERT_OK(faas_publish_version(f->rt, "f", "two", &v));
    assert_int_equal(v, 2);
    ASSERT_OK(faas_publish_version(f->rt, "f", "two again", &v));
    assert_int_equal(v, 2);
    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "f", &vi, &n));
    assert_int_equal(n, 2);
    assert_int_equal(vi[0].version, 1);
    assert_int_equal(vi[1].version, 2);
    assert_string_not_equal(vi[0].code_sha256, vi[1].code_sha256);
    assert_string_equal(vi[1].description, "two");
    faas_versions_free(vi);
}

static void two_versions(vfixture *f, char *dir, size_t size, char *path)
{
    two_versions_with(f, dir, size, path, NULL);
}

/* Versions run their own frozen copy: the file replaced or removed after a publish
 * changes nothing for them. */
static void versions_keep_their_code(void **state)
{
    vfixture *f = *state;
    char dir[4096], path[4096];
    two_versions(f, dir, sizeof dir, path);
    assert_int_equal(unlink(path), 0);              /* $LATEST's file is gone */
    assert_int_equal(run_version(f->rt, "f:1"), 1);
    assert_int_equal(run_version(f->rt, "f:2"), 2);
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "f", "{}", 2, &res), FAAS_ELOAD);
    faas_response_free(&res);
    remove_tree(dir);
}

static void weights_zero_and_one_are_exact(void **state)
{
    vfixture *f = *state;
    char dir[4096], path[4096];
    two_versions(f, dir, sizeof dir, path);
    faas_routing_seed(f->rt, 42);
    ASSERT_OK(faas_alias_set(f->rt, "f", "canary", 1, 2, 0.0));
    assert_int_equal(count_v2(f->rt, "f:canary", 2000), 0);
    ASSERT_OK(faas_alias_set(f->rt, "f", "canary", 1, 2, 1.0));
    assert_int_equal(count_v2(f->rt, "f:canary", 2000), 2000);
    faas_alias_info ai;
    ASSERT_OK(faas_alias_get(f->rt, "f", "canary", &ai));
    assert_int_equal(ai.version, 1);
    assert_int_equal(ai.extra_version, 2);
    assert_true(ai.extra_weight == 1.0);
    /* the smallest and largest weights that are not 0 or 1 still route both ways over
     * enough calls? Not asserted (chance); what is exact is only 0 and 1. */
    remove_tree(dir);
}

/* 20,000 calls at weight 0.1: the count on version 2 is Binomial(20000, 0.1); it must lie
 * within the two-sided 99.9 % interval np +- z sqrt(np(1-p)), z = 3.2905 (the normal
 * quantile of 0.9995; n is large enough for the normal approximation). Seeded, so the
 * run is the same every time; the bound is computed, not chosen to fit one seed. */
static void weighted_routing_is_binomial(void **state)
{
    vfixture *f = *state;
    char dir[4096], path[4096];
    two_versions(f, dir, sizeof dir, path);
    const unsigned n = 20000;
    const double p = 0.1, z = 3.2905267314919;
    double mean = n * p, half = z * sqrt(n * p * (1 - p));
    for (uint64_t seed = 1; seed <= 3; seed++) {
        faas_routing_seed(f->rt, seed);
        ASSERT_OK(faas_alias_set(f->rt, "f", "canary", 1, 2, p));
        unsigned v2 = count_v2(f->rt, "f:canary", n);
        if (fabs((double)v2 - mean) > half)
            fail_msg("seed %llu: %u of %u calls on version 2, outside %.1f +- %.1f",
                     (unsigned long long)seed, v2, n, mean, half);
        /* the same seed, the same choices */
        faas_routing_seed(f->rt, seed);
        assert_int_equal(count_v2(f->rt, "f:canary", n), v2);
    }
    faas_stats s1, s2;
    ASSERT_OK(faas_stats_get(f->rt, "f:1", &s1));
    ASSERT_OK(faas_stats_get(f->rt, "f:2", &s2));
    assert_int_equal(s1.invocations + s2.invocations, 6 * n);
    assert_int_equal(faas_stats_get(f->rt, "f:canary", &s1), FAAS_EINVAL);
    remove_tree(dir);
}

/* An update is atomic for concurrent calls: callers through the alias (by name and by
 * handle) while the routing flips between "all on 1" and "all on 2"; every call runs 1 or
 * 2 and none fails. (TSan checks the swap.) */
typedef struct flip_arg {
    faas_runtime  *rt;
    faas_function *h;
    atomic_bool   *stop;
    unsigned       bad, calls;
    char           first_bad[200];  /* how the first bad call ended */
} flip_arg;

static void *flip_caller(void *p)
{
    flip_arg *a = p;
    while (!atomic_load(a->stop)) {
        faas_response res;
        int rc = a->calls % 2 ? faas_invoke_fn(a->h, "{}", 2, &res)
                              : faas_invoke(a->rt, "f:flip", "{}", 2, &res);
        if (rc != FAAS_OK || (res.record.version != 1 && res.record.version != 2)) {
            if (a->bad++ == 0)
                snprintf(a->first_bad, sizeof a->first_bad, "%s, version %d: %s: %s",
                         faas_err_name(rc), res.record.version,
                         res.error_type ? res.error_type : "-",
                         res.error_message ? res.error_message : "-");
        }
        faas_response_free(&res);
        a->calls++;
    }
    return NULL;
}

static void alias_updates_are_atomic_for_calls(void **state)
{
    vfixture *f = *state;
    char dir[4096], path[4096];
    /* What is asserted is the routing, not time: a caller that valgrind leaves unscheduled
     * for seconds on a loaded machine must not end its call FAAS_ETIMEOUT. */
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 600000;
    two_versions_with(f, dir, sizeof dir, path, &cfg);
    ASSERT_OK(faas_alias_set(f->rt, "f", "flip", 1, 0, 0.0));
    /* an instance for every caller, made now: mod_basic's INIT counts in plain ints */
    ASSERT_OK(faas_warm(f->rt, "f:1", 3));
    ASSERT_OK(faas_warm(f->rt, "f:2", 3));
    faas_function *h = faas_lookup(f->rt, "f:flip");
    assert_non_null(h);
    atomic_bool stop = false;
    pthread_t t[3];
    flip_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (flip_arg){ f->rt, h, &stop, 0, (unsigned)i, "" };
        assert_int_equal(pthread_create(&t[i], NULL, flip_caller, &args[i]), 0);
    }
    for (unsigned k = 0; k < scaled(2000); k++)
        ASSERT_OK(faas_alias_set(f->rt, "f", "flip", k % 2 ? 1 : 2, k % 2 ? 2 : 0,
                                 k % 2 ? 0.5 : 0.0));
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        if (args[i].bad != 0)
            print_message("# caller %d: %u of %u calls bad, the first %s\n", i, args[i].bad,
                          args[i].calls, args[i].first_bad);
        assert_int_equal(args[i].bad, 0);
    }
    faas_alias_info ai;
    ASSERT_OK(faas_alias_get(f->rt, "f", "flip", &ai));
    assert_int_equal(ai.revision, 1 + scaled(2000));
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unknown_qualifiers_are_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(publish_freezes_a_version_with_its_own_pool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(publish_checks_its_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(module_code_sha256_is_the_files, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_takes_versions_and_aliases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(aliases_route_update_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(alias_arguments_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(versions_keep_their_code, setup, teardown),
        cmocka_unit_test_setup_teardown(weights_zero_and_one_are_exact, setup_quiet, teardown),
        cmocka_unit_test_setup_teardown(weighted_routing_is_binomial, setup_quiet, teardown),
        cmocka_unit_test_setup_teardown(alias_updates_are_atomic_for_calls, setup_quiet, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
