/* test_metrics.c - latency histograms against exact sorted quantiles, init and queue-wait
 * quantiles, histograms switched off, the JSON export parsed back, the Prometheus text
 * checked line by line (tests/prometheus.sh runs promtool on it), and exports read while
 * other threads call. */
#include "util.h"

#include <math.h>

#include <jansson.h>

static fixture *F;

static int make(void **state, int no_histograms)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    o.no_histograms = no_histograms;
    F = f;
    *state = f;
    return fixture_start(f, &o, 0);
}

static int setup(void **state) { return make(state, 0); }
static int setup_nohist(void **state) { return make(state, 1); }

/* Runs for the number of nanoseconds in its payload, on the fake clock. */
static int takes_ns(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    fake_advance(&F->clock, strtoull(payload, NULL, 10));
    return 0;
}

static int fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "Broken", "always");
}

static int init_7ms(void **st, const char *fn)
{
    (void)st; (void)fn;
    fake_advance(&F->clock, MS(7));
    return 0;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void call_ns(faas_function *fn, uint64_t ns)
{
    char p[24];
    int n = snprintf(p, sizeof p, "%llu", (unsigned long long)ns);
    ASSERT_OK(faas_invoke_fn(fn, p, (size_t)n, NULL));
}

/* ---- quantiles ------------------------------------------------------------------------------ */

static void quantiles_within_one_percent(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.timeout_ms = 60000;                   /* samples run to 10 s */
    ASSERT_OK(faas_register(f->rt, "h", takes_ns, &c));
    ASSERT_OK(faas_warm(f->rt, "h", 1));
    faas_function *fn = faas_lookup(f->rt, "h");
    /* 1M samples (scaled): a tenth below 128 ns, where buckets are exact, the rest
     * log-uniform from 128 ns to 10 s. */
    size_t n = scaled(1000000);
    uint64_t *v = malloc(n * sizeof *v);
    assert_non_null(v);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = xorshift(&seed);
        if (r % 10 == 0)
            v[i] = r % 128;
        else
            v[i] = (uint64_t)(128.0 * pow(1e10 / 128.0, (double)(r >> 11) / 9007199254740992.0));
        call_ns(fn, v[i]);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "h", &st));
    assert_int_equal(st.invocations, n);
    qsort(v, n, sizeof *v, cmp_u64);
    static const double qs[] = { 0.50, 0.90, 0.99, 0.999 };
    const double got[] = { st.p50_ms, st.p90_ms, st.p99_ms, st.p999_ms };
    for (int i = 0; i < 4; i++) {
        size_t rank = (size_t)ceil(qs[i] * (double)n);      /* nearest rank, 1-based */
        double exact = (double)v[rank - 1] / 1e6;
        double err = fabs(got[i] - exact) / exact;
        if (err > 0.01)
            fail_msg("p%g: %.6f ms, exact %.6f ms (%.3f%% off)", qs[i] * 100, got[i], exact,
                     err * 100);
    }
    assert_true(fabs(st.max_ms * 1e6 - (double)v[n - 1]) < 1.0);   /* the max is exact */
    /* Below 128 ns every value has its own bucket: exact. */
    ASSERT_OK(faas_register(f->rt, "tiny", takes_ns, NULL));
    faas_function *tiny = faas_lookup(f->rt, "tiny");
    for (int i = 1; i <= 100; i++)
        call_ns(tiny, (uint64_t)i);
    ASSERT_OK(faas_stats_get(f->rt, "tiny", &st));
    assert_true(fabs(st.p50_ms * 1e6 - 50) < 1e-6);
    assert_true(fabs(st.p99_ms * 1e6 - 99) < 1e-6);
    free(v);
}

static void init_and_queue_wait(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.init = init_7ms;
    c.keep_alive_ms = 0;                    /* every call is cold */
    ASSERT_OK(faas_register(f->rt, "cold", takes_ns, &c));
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(faas_invoke(f->rt, "cold", "1000", 4, NULL));
        faas_run_pending(f->rt);            /* the keep-alive reaper */
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "cold", &st));
    assert_int_equal(st.cold_starts, 10);
    assert_int_equal(st.init_count, 10);
    assert_true(fabs(st.init_p50_ms - 7.0) <= 0.07);
    assert_true(fabs(st.init_p999_ms - 7.0) <= 0.07);
    assert_true(fabs(st.init_max_ms - 7.0) < 1e-9);
    assert_int_equal(st.queue_count, 0);    /* sync calls do not queue */

    /* Async: five calls wait 20 ms in the queue, one waits 40 ms. */
    ASSERT_OK(faas_register(f->rt, "q", takes_ns, NULL));
    ASSERT_OK(faas_warm(f->rt, "q", 1));
    for (int i = 0; i < 5; i++)
        ASSERT_OK(faas_invoke_async(f->rt, "q", "0", 1, NULL, NULL, NULL));
    fake_advance(&f->clock, MS(20));
    assert_int_equal(faas_run_pending(f->rt), 5);
    ASSERT_OK(faas_invoke_async(f->rt, "q", "0", 1, NULL, NULL, NULL));
    fake_advance(&f->clock, MS(40));
    assert_int_equal(faas_run_pending(f->rt), 1);
    ASSERT_OK(faas_stats_get(f->rt, "q", &st));
    assert_int_equal(st.queue_count, 6);
    assert_true(fabs(st.queue_p50_ms - 20.0) <= 0.2);
    assert_true(fabs(st.queue_p90_ms - 40.0) <= 0.4);
    assert_true(fabs(st.queue_max_ms - 40.0) < 1e-9);
    assert_int_equal(st.init_count, 0);     /* pre-warmed: no cold call */
    /* Over every function: the merged histograms. */
    ASSERT_OK(faas_stats_get(f->rt, NULL, &st));
    assert_int_equal(st.init_count, 10);
    assert_int_equal(st.queue_count, 6);
}

static void histograms_can_be_off(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "h", takes_ns, NULL));
    for (int i = 0; i < 10; i++)
        ASSERT_OK(faas_invoke(f->rt, "h", "5000", 4, NULL));
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "h", &st));
    assert_int_equal(st.invocations, 10);
    assert_int_equal(st.cold_starts, 1);
    assert_true(st.cost_picousd > 0);
    assert_true(st.p50_ms == 0.0 && st.max_ms == 0.0 && st.init_count == 0);
    char *text;
    size_t len;
    ASSERT_OK(faas_metrics_prometheus(f->rt, &text, &len));
    assert_non_null(strstr(text, "faas_duration_seconds_count{function=\"h\"} 0\n"));
    assert_non_null(strstr(text, "faas_invocations_total{function=\"h\",status=\"ok\"} 10\n"));
    faas_free(text);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static int set_up_workload(fixture *f)
{
    faas_config c;
    faas_config_init(&c);
    c.tag = "team-a";
    c.memory_mb = 512;
    c.max_concurrency = 1;
    if (faas_register(f->rt, "resize", takes_ns, &c) != FAAS_OK)
        return -1;
    c.tag = NULL;
    c.memory_mb = 128;
    c.max_concurrency = 0;
    c.max_retries = 0;
    if (faas_register(f->rt, "broken", fails, &c) != FAAS_OK)
        return -1;
    for (int i = 0; i < 20; i++)
        faas_invoke(f->rt, "resize", "120000000", 9, NULL);      /* 120 ms */
    faas_invoke(f->rt, "broken", "", 0, NULL);
    faas_invoke(f->rt, "broken", "", 0, NULL);
    faas_invoke_async(f->rt, "resize", "1000", 4, NULL, NULL, NULL);
    fake_advance(&f->clock, MS(3));
    faas_run_pending(f->rt);
    if (faas_budget_set(f->rt, "team-a", 0, 1000) != FAAS_OK)
        return -1;
    faas_invoke(f->rt, "resize", "1", 1, NULL);                   /* over budget */
    faas_invoke(f->rt, "resize", "1", 1, NULL);
    faas_budget_remove(f->rt, "team-a");
    return faas_budget_set(f->rt, "team-a", 5000000000ull, 60000);
}

static json_t *find_fn(json_t *root, const char *name)
{
    size_t i;
    json_t *fn;
    json_array_foreach(json_object_get(root, "functions"), i, fn)
        if (strcmp(json_string_value(json_object_get(fn, "name")), name) == 0)
            return fn;
    fail_msg("function %s not in the JSON", name);
    return NULL;
}

static uint64_t jget(json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *k = strtok(buf, "."); k != NULL; k = strtok(NULL, "."))
        cur = json_object_get(cur, k);
    if (!json_is_integer(cur))
        fail_msg("%s is not an integer", path);
    return (uint64_t)json_integer_value(cur);
}

static double jgetf(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void json_parses_back(void **state)
{
    fixture *f = *state;
    ASSERT_OK(set_up_workload(f));
    char *text;
    size_t len;
    ASSERT_OK(faas_metrics_json(f->rt, &text, &len));
    assert_int_equal(len, strlen(text));
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (root == NULL)
        fail_msg("JSON does not parse: %s at %d: %.200s", err.text, err.position, text);
    faas_free(text);
    assert_string_equal(json_string_value(json_object_get(root, "price_model")),
                        "aws-lambda-x86");
    assert_string_equal(json_string_value(json_object_get(root, "version")), faas_version());
    assert_int_equal(jget(root, "queue_pending"), 0);

    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "resize", &st));
    json_t *r = find_fn(root, "resize");
    assert_string_equal(json_string_value(json_object_get(r, "tag")), "team-a");
    assert_int_equal(jget(r, "memory_mb"), 512);
    assert_int_equal(jget(r, "invocations"), st.invocations);
    assert_int_equal(st.invocations, 21);
    assert_int_equal(jget(r, "budget_refusals"), 2);
    assert_int_equal(jget(r, "status.ok"), 21);
    assert_int_equal(jget(r, "status.budget"), 2);
    assert_int_equal(jget(r, "cold_starts"), 1);
    assert_int_equal(jget(r, "cost.total_picousd"), st.cost_picousd);
    assert_int_equal(jget(r, "cost.request_picousd"), st.request_picousd);
    assert_int_equal(jget(r, "cost.compute_picousd"), st.compute_picousd);
    assert_int_equal(jget(r, "cost.mb_ms"), st.mb_ms);
    assert_int_equal(jget(r, "duration_ms.count"), 21);
    assert_true(jgetf(r, "duration_ms", "p99") == st.p99_ms);
    assert_true(jgetf(r, "duration_ms", "p999") == st.p999_ms);
    assert_true(jgetf(r, "duration_ms", "max") == st.max_ms);
    assert_true(fabs(jgetf(r, "duration_ms", "sum") - (20 * 120.0 + 0.001)) < 1e-6);
    assert_int_equal(jget(r, "queue_wait_ms.count"), 1);
    assert_true(fabs(jgetf(r, "queue_wait_ms", "max") - 3.0) < 1e-9);
    assert_int_equal(jget(r, "init_ms.count"), 1);
    assert_int_equal(jget(r, "instances.live"), 1);

    json_t *b = find_fn(root, "broken");
    assert_true(json_is_null(json_object_get(b, "tag")));
    assert_int_equal(jget(b, "errors"), 2);
    assert_int_equal(jget(b, "status.handler"), 2);
    assert_int_equal(jget(b, "status.ok"), 0);

    json_t *tags = json_object_get(root, "tags");
    assert_int_equal(json_array_size(tags), 2);
    size_t i;
    json_t *t;
    int seen = 0;
    json_array_foreach(tags, i, t) {
        json_t *name = json_object_get(t, "tag");
        if (json_is_string(name)) {
            assert_string_equal(json_string_value(name), "team-a");
            assert_int_equal(jget(t, "cost.total_picousd"), st.cost_picousd);
            seen++;
        } else {
            assert_true(json_is_null(name));
            assert_int_equal(jget(t, "functions"), 1);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_t *budgets = json_object_get(root, "budgets");
    assert_int_equal(json_array_size(budgets), 1);
    json_t *bg = json_array_get(budgets, 0);
    assert_string_equal(json_string_value(json_object_get(bg, "tag")), "team-a");
    assert_int_equal(jget(bg, "limit_picousd"), 5000000000ull);
    assert_int_equal(jget(bg, "window_ms"), 60000);
    assert_int_equal(jget(bg, "spent_picousd"), 0);
    json_decref(root);
    assert_int_equal(faas_metrics_json(NULL, &text, &len), FAAS_EINVAL);
    assert_int_equal(faas_metrics_json(f->rt, NULL, &len), FAAS_EINVAL);
    faas_free(NULL);
}

/* ---- Prometheus ------------------------------------------------------------------------------ */

/* The value of the sample line that starts with `prefix` (name and labels), or -1. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *l = text; *l; ) {
        if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
        const char *nl = strchr(l, '\n');
        if (nl == NULL)
            break;
        l = nl + 1;
    }
    return -1;
}

static void prometheus_text_is_well_formed(void **state)
{
    fixture *f = *state;
    ASSERT_OK(set_up_workload(f));
    char *text;
    size_t len;
    ASSERT_OK(faas_metrics_prometheus(f->rt, &text, &len));
    assert_int_equal(len, strlen(text));
    assert_true(len > 0 && text[len - 1] == '\n');
    /* Line by line: comments are HELP or TYPE; a sample's family was typed before it. */
    char typed[64][64];
    int ntyped = 0;
    char *copy = strdup(text);
    for (char *line = strtok(copy, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char name[64];
        if (line[0] == '#') {
            char kind[8], type[16];
            assert_int_equal(sscanf(line, "# %7s %63s", kind, name), 2);
            assert_true(strcmp(kind, "HELP") == 0 || strcmp(kind, "TYPE") == 0);
            if (strcmp(kind, "TYPE") == 0) {
                assert_int_equal(sscanf(line, "# TYPE %63s %15s", name, type), 2);
                assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                            strcmp(type, "histogram") == 0);
                for (int i = 0; i < ntyped; i++)
                    assert_string_not_equal(typed[i], name);   /* each family once */
                assert_true(ntyped < 64);
                snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
            }
            continue;
        }
        size_t k = strcspn(line, "{ ");
        assert_true(k > 0 && k < sizeof name);
        memcpy(name, line, k);
        name[k] = '\0';
        int found = 0;
        for (int i = 0; i < ntyped && !found; i++) {
            size_t tl = strlen(typed[i]);
            found = strcmp(typed[i], name) == 0 ||
                    (strncmp(typed[i], name, tl) == 0 &&
                     (strcmp(name + tl, "_bucket") == 0 || strcmp(name + tl, "_sum") == 0 ||
                      strcmp(name + tl, "_count") == 0));
        }
        if (!found)
            fail_msg("sample %s before its # TYPE", name);
        char *value = strrchr(line, ' ');
        assert_non_null(value);
        char *end;
        strtod(value + 1, &end);
        assert_true(*end == '\0');
    }
    free(copy);

    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "resize", &st));
    assert_true(sample(text, "faas_invocations_total{function=\"resize\",status=\"ok\"}") ==
                21);
    assert_true(sample(text, "faas_invocations_total{function=\"resize\",status=\"budget\"}")
                == 2);
    assert_true(sample(text, "faas_invocations_total{function=\"broken\",status=\"handler\"}")
                == 2);
    assert_true(sample(text, "faas_cold_starts_total{function=\"resize\"}") == 1);
    assert_true(sample(text, "faas_duration_seconds_count{function=\"resize\"}") == 21);
    assert_true(sample(text, "faas_duration_seconds_bucket{function=\"resize\",le=\"+Inf\"}")
                == 21);
    /* 20 calls of 120 ms and one of 1 us: 1 at or below 1 ms, 21 at or below 0.25 s. */
    assert_true(sample(text, "faas_duration_seconds_bucket{function=\"resize\",le=\"0.001\"}")
                == 1);
    assert_true(sample(text, "faas_duration_seconds_bucket{function=\"resize\",le=\"0.1\"}")
                == 1);
    assert_true(sample(text, "faas_duration_seconds_bucket{function=\"resize\",le=\"0.25\"}")
                == 21);
    assert_true(fabs(sample(text, "faas_duration_seconds_sum{function=\"resize\"}") - 2.400001)
                < 1e-9);
    assert_true(sample(text, "faas_queue_wait_seconds_count{function=\"resize\"}") == 1);
    assert_true(sample(text, "faas_init_duration_seconds_count{function=\"resize\"}") == 1);
    /* Dollars, exactly: the cost counter is printed from integer pico-dollars. */
    char want[64];
    faas_format_usd(st.cost_picousd, -1, want, sizeof want);
    char line[160];
    snprintf(line, sizeof line, "faas_cost_dollars_total{function=\"resize\",tag=\"team-a\"} %s\n",
             want + 1);
    assert_non_null(strstr(text, line));
    assert_non_null(strstr(text, "faas_cost_dollars_total{function=\"broken\",tag=\"\"} "));
    assert_true(sample(text, "faas_budget_limit_dollars{tag=\"team-a\"}") == 0.005);
    assert_true(sample(text, "faas_instances_live{function=\"resize\"}") == 1);
    assert_true(sample(text, "faas_queue_pending") == 0);
    assert_non_null(strstr(text, "faas_build_info{version=\""));
    /* Buckets are cumulative. */
    double last = 0;
    const char *p = text;
    while ((p = strstr(p, "faas_duration_seconds_bucket{function=\"resize\"")) != NULL) {
        p = strstr(p, "} ") + 2;
        double v = strtod(p, NULL);
        assert_true(v >= last);
        last = v;
    }
    assert_true(last == 21);
    faas_free(text);
    assert_int_equal(faas_metrics_prometheus(NULL, &text, &len), FAAS_EINVAL);
}

static void empty_runtime_exports(void **state)
{
    fixture *f = *state;
    char *text;
    size_t len;
    ASSERT_OK(faas_metrics_prometheus(f->rt, &text, NULL));
    assert_non_null(strstr(text, "# TYPE faas_invocations_total counter"));
    faas_free(text);
    ASSERT_OK(faas_metrics_json(f->rt, &text, &len));
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "functions")), 0);
    json_decref(root);
    faas_free(text);
}

/* ---- reading while calls run ---------------------------------------------------------------- */

static int quick(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

typedef struct caller { faas_runtime *rt; unsigned n; } caller;

static void *call_loop(void *arg)
{
    caller *c = arg;
    for (unsigned i = 0; i < c->n; i++)
        faas_invoke(c->rt, i % 2 ? "a" : "b", "x", 1, NULL);
    return NULL;
}

static void exports_while_calls_run(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.tag = "t";
    ASSERT_OK(faas_register(rt, "a", quick, &c));
    ASSERT_OK(faas_register(rt, "b", quick, NULL));
    ASSERT_OK(faas_budget_set(rt, "t", UINT64_MAX, 1));
    caller cl = { rt, scaled(20000) };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, call_loop, &cl), 0);
    for (unsigned i = 0; i < scaled(50); i++) {
        char *text;
        size_t len;
        ASSERT_OK(faas_metrics_prometheus(rt, &text, &len));
        faas_free(text);
        ASSERT_OK(faas_metrics_json(rt, &text, &len));
        faas_free(text);
        for (unsigned k = 0; k < 50; k++)
            faas_invoke_async(rt, "a", "x", 1, NULL, NULL, NULL);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_OK(faas_drain(rt, 60000));
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, NULL, &st));
    assert_int_equal(st.invocations, 2ull * cl.n + 50ull * scaled(50));
    assert_int_equal(st.queue_count, 50ull * scaled(50));
    faas_runtime_free(rt);
}

/* A thread adds to a metrics shard of its own with plain loads and stores while it has
 * one (12 are lent, one thread each, from its first call until it exits), and with atomic
 * adds on the shared ones otherwise. ROLL_THREADS threads, ROLL_LIVE at a time (more than
 * are lent): as one exits another starts, so shards change hands while others count, and
 * each makes one more call from a thread-specific key's destructor as it exits (after or
 * before its lease ends). Every count is exact: calls, cost and GB-s (against the records'
 * own, added up by a hook), the duration and queue-wait histograms' samples. Two threads
 * writing one shard with plain stores lose adds; what it cannot see is a lease never
 * given back (the thread after it counts on a shared shard, exactly). */
#define ROLL_THREADS 64
#define ROLL_LIVE 16

/* What every record says, added up apart (a record hook), to compare with the counters:
 * a call's price depends on how long it ran. */
typedef struct sums { atomic_uint_fast64_t calls, cost, mb_ms; } sums;

static void add_record(const faas_record *r, void *arg)
{
    sums *s = arg;
    atomic_fetch_add(&s->calls, 1);
    atomic_fetch_add(&s->cost, r->cost_picousd);
    atomic_fetch_add(&s->mb_ms, (uint64_t)r->memory_mb * r->billed_ms);
}

static pthread_key_t exit_key;

static void call_at_exit(void *arg)
{
    faas_invoke(arg, "q", "w", 1, NULL);
}

static void *rolling_caller(void *arg)
{
    caller *c = arg;
    pthread_setspecific(exit_key, c->rt);
    for (unsigned i = 0; i < c->n; i++) {
        faas_invoke(c->rt, "q", "x", 1, NULL);
        faas_invoke(c->rt, "q", "y", 1, NULL);
        ASSERT_OK(faas_invoke_async(c->rt, "q", "z", 1, NULL, NULL, NULL));
    }
    return NULL;
}

static void counts_are_exact_as_threads_come_and_go(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    ASSERT_OK(faas_register(rt, "q", quick, NULL));
    sums all = { 0, 0, 0 };
    faas_on_record(rt, add_record, &all);
    assert_int_equal(pthread_key_create(&exit_key, call_at_exit), 0);
    caller cl = { rt, scaled(1000) };
    pthread_t th[ROLL_LIVE];
    for (int i = 0; i < ROLL_THREADS; i++) {
        if (i >= ROLL_LIVE)
            pthread_join(th[i % ROLL_LIVE], NULL);
        assert_int_equal(pthread_create(&th[i % ROLL_LIVE], NULL, rolling_caller, &cl), 0);
    }
    for (int i = 0; i < ROLL_LIVE; i++)
        pthread_join(th[i], NULL);
    pthread_key_delete(exit_key);
    ASSERT_OK(faas_drain(rt, 120000));
    uint64_t calls = 3ull * ROLL_THREADS * cl.n + ROLL_THREADS;
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "q", &st));
    assert_int_equal(atomic_load(&all.calls), calls);
    assert_int_equal(st.invocations, calls);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.cost_picousd, atomic_load(&all.cost));
    assert_int_equal(st.mb_ms, atomic_load(&all.mb_ms));
    assert_int_equal(st.queue_count, (uint64_t)ROLL_THREADS * cl.n);
    char *text;
    size_t len;
    ASSERT_OK(faas_metrics_json(rt, &text, &len));
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    faas_free(text);
    assert_non_null(root);
    json_t *fns = json_object_get(root, "functions"), *fn;
    size_t i;
    bool seen = false;
    json_array_foreach(fns, i, fn) {
        if (strcmp(json_string_value(json_object_get(fn, "name")), "q") != 0)
            continue;
        seen = true;
        json_t *d = json_object_get(json_object_get(fn, "duration_ms"), "count");
        assert_int_equal(json_integer_value(d), (json_int_t)calls);
    }
    assert_true(seen);
    json_decref(root);
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(quantiles_within_one_percent, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(init_and_queue_wait, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(histograms_can_be_off, setup_nohist, fixture_teardown),
        cmocka_unit_test_setup_teardown(json_parses_back, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(prometheus_text_is_well_formed, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(empty_runtime_exports, setup, fixture_teardown),
        cmocka_unit_test(exports_while_calls_run),
        cmocka_unit_test(counts_are_exact_as_threads_come_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
