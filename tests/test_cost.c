/* test_cost.c - price models and their exact arithmetic against hand-computed cases from
 * the published figures, model files, records as JSON lines, projections with free tiers,
 * totals per function and per tag, and budgets on a fake clock (sync and async). */
#include "util.h"

#include <fcntl.h>
#include <unistd.h>

#define PICO 1000000000000ull

/* A record as a host would have it: d_us of handler time at mem_mb. */
static faas_record rec(const char *fn, const char *tag, uint64_t d_us, unsigned mem_mb)
{
    faas_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.request_id, "00000000-0000-4000-8000-000000000000");
    r.function = fn;
    r.tag = tag;
    r.attempt = 1;
    r.duration_ns = d_us * 1000u;
    r.memory_mb = mem_mb;
    return r;
}

static faas_record priced(const char *model, faas_record r)
{
    const faas_price_model *m = faas_price_model_find(model);
    assert_non_null(m);
    ASSERT_OK(faas_price_record(m, &r));
    return r;
}

/* ---- the table -------------------------------------------------------------------------- */

static void presets_are_the_published_table(void **state)
{
    (void)state;
    static const char *names[] = { "aws-lambda-x86", "aws-lambda-arm64", "gcp-functions-gen1",
                                   "gcp-cloud-run-functions", "azure-consumption",
                                   "azure-flex", "cloudflare-workers" };
    size_t n = 0;
    while (faas_price_model_preset(n) != NULL)
        n++;
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        const faas_price_model *m = faas_price_model_find(names[i]);
        assert_non_null(m);
        assert_ptr_equal(m, faas_price_model_preset(i));
        assert_non_null(m->source);
        assert_non_null(m->read_on);
        /* Every preset is usable as a runtime's model. */
        faas_options o;
        memset(&o, 0, sizeof o);
        o.manual = 1;
        o.price_model = names[i];
        faas_runtime *rt;
        ASSERT_OK(faas_runtime_new(&rt, &o));
        faas_runtime_free(rt);
    }
    assert_null(faas_price_model_find("aws-lambda-x87"));
    assert_null(faas_price_model_find(NULL));
    /* Spot checks of the published figures, in pico-dollars. */
    const faas_price_model *aws = faas_price_model_find("aws-lambda-x86");
    assert_int_equal(aws->request_picousd, 200000);         /* $0.20 per 1M */
    assert_int_equal(aws->gbs_picousd, 16666700);           /* $0.0000166667 */
    assert_int_equal(aws->free_requests, 1000000);
    assert_int_equal(aws->free_gb_seconds, 400000);
    assert_int_equal(aws->bill_init, 1);
    const faas_price_model *gcp = faas_price_model_find("gcp-functions-gen1");
    assert_int_equal(gcp->request_picousd, 400000);         /* $0.40 per 1M */
    assert_int_equal(gcp->unit2_picousd, 10000000);         /* $0.0000100 per GHz-s */
    assert_int_equal(gcp->free_requests, 2000000);          /* not 200,000 */
    const faas_price_model *cf = faas_price_model_find("cloudflare-workers");
    assert_int_equal(cf->time_basis, FAAS_TIME_CPU);
    assert_int_equal(cf->monthly_picousd, 5 * PICO);
}

/* ---- one call ---------------------------------------------------------------------------- */

static void aws_x86_by_hand(void **state)
{
    (void)state;
    /* 120 ms at 512 MB: $0.0000002 + 0.06 GB-s x $0.0000166667 = $0.0000012000020. */
    faas_record r = priced("aws-lambda-x86", rec("f", NULL, 120000, 512));
    assert_int_equal(r.billed_ms, 120);
    assert_int_equal(r.cost_picousd, 1200002);
    /* Arm: 0.06 x $0.0000133334 = $0.000000800004. */
    r = priced("aws-lambda-arm64", rec("f", NULL, 120000, 512));
    assert_int_equal(r.cost_picousd, 200000 + 800004);
    /* A throttled or budget-refused record costs nothing. */
    faas_record t = rec("f", NULL, 120000, 512);
    t.status = FAAS_ETHROTTLED;
    t = priced("aws-lambda-x86", t);
    assert_int_equal(t.cost_picousd, 0);
    assert_int_equal(t.billed_ms, 0);
    t.status = FAAS_EBUDGET;
    t = priced("aws-lambda-x86", t);
    assert_int_equal(t.cost_picousd, 0);
}

static void rounding_100ms_against_1ms(void **state)
{
    (void)state;
    /* Google's own example: "a function executing for 260ms would be billed as 300ms". */
    faas_record g = priced("gcp-functions-gen1", rec("f", NULL, 260000, 128));
    assert_int_equal(g.billed_ms, 300);
    /* 0.3 s x 0.125 GB x $0.0000025 = $0.00000009375; 0.3 s x 0.2 GHz x $0.00001 =
     * $0.0000006; + $0.0000004 per invocation. */
    assert_int_equal(g.cost_picousd, 93750 + 600000 + 400000);
    /* AWS bills the same call by the millisecond. */
    faas_record a = priced("aws-lambda-x86", rec("f", NULL, 260000, 128));
    assert_int_equal(a.billed_ms, 260);
    /* 260 x 128 x 16,666,700 / 1,024,000 = 541,667.75 -> 541,668 (round half up). */
    assert_int_equal(a.cost_picousd, 200000 + 541668);
    /* 1 us: AWS 1 ms, GCP 100 ms (one increment). */
    assert_int_equal(priced("aws-lambda-x86", rec("f", NULL, 1, 128)).billed_ms, 1);
    assert_int_equal(priced("gcp-functions-gen1", rec("f", NULL, 1, 128)).billed_ms, 100);
    /* 100.001 ms: AWS 101, GCP 200. */
    faas_record x = rec("f", NULL, 100001, 128);
    assert_int_equal(priced("aws-lambda-x86", x).billed_ms, 101);
    assert_int_equal(priced("gcp-functions-gen1", x).billed_ms, 200);
    /* Cloud Run functions, 1 GiB: 0.583 vCPU. 0.3 s x 0.583 x $0.000024 = $0.0000041976;
     * 0.3 s x 1 GiB x $0.0000025 = $0.00000075; + $0.0000004. */
    faas_record c = priced("gcp-cloud-run-functions", rec("f", NULL, 260000, 1024));
    assert_int_equal(c.billed_ms, 300);
    assert_int_equal(c.cost_picousd, 4197600 + 750000 + 400000);
    /* Memory between tiers takes the next tier up: 1,500 MB runs at 2 GiB's 1 vCPU (and
     * is billed 1,500 MB of GiB-s: 100 x 1,500 x 2,500,000 / 1,024,000 = 366,210.9). */
    c = priced("gcp-cloud-run-functions", rec("f", NULL, 100000, 1500));
    assert_int_equal(c.cost_picousd, 400000 + 2400000 + 366211);
}

static void azure_buckets_and_minimums(void **state)
{
    (void)state;
    /* Observed memory, rounded up to 128 MB buckets, at least 128 MB; at least 100 ms. */
    faas_record r = rec("f", NULL, 150200, 1536);
    r.max_memory_bytes = 200u << 20;                     /* 200 MB -> 256 MB */
    r = priced("azure-consumption", r);
    assert_int_equal(r.billed_ms, 151);                  /* 1 ms rounding */
    /* 0.151 s x 0.25 GB x $0.000016 = $0.000000604; + $0.0000002. */
    assert_int_equal(r.cost_picousd, 604000 + 200000);
    r = rec("f", NULL, 50000, 1536);                     /* 50 ms, 1 byte */
    r.max_memory_bytes = 1;
    r = priced("azure-consumption", r);
    assert_int_equal(r.billed_ms, 100);                  /* the 100 ms minimum */
    /* 0.1 s x 0.125 GB x $0.000016 = $0.0000002. */
    assert_int_equal(r.cost_picousd, 200000 + 200000);
    r = rec("f", NULL, 50000, 1536);                     /* nothing allocated: 128 MB */
    assert_int_equal(priced("azure-consumption", r).cost_picousd, 400000);
    r.max_memory_bytes = (128u << 20) + 1;               /* one byte over: 256 MB */
    assert_int_equal(priced("azure-consumption", r).cost_picousd, 200000 + 400000);
    /* The configured 1,536 MB plays no part in Consumption; in Flex it is what is billed,
     * for at least 1,000 ms: 1 s x 1.5 GB x $0.000026 = $0.000039 + $0.0000004. */
    r = priced("azure-flex", rec("f", NULL, 50000, 1536));
    assert_int_equal(r.billed_ms, 1000);
    assert_int_equal(r.cost_picousd, 39000000 + 400000);
}

static void init_billed_or_not(void **state)
{
    (void)state;
    faas_record r = rec("f", NULL, 10200, 128);
    r.cold = 1;
    r.init_ns = MS(5);
    /* AWS bills INIT since 2025-08-01: 5 + 10.2 = 15.2 -> 16 ms. */
    assert_int_equal(priced("aws-lambda-x86", r).billed_ms, 16);
    /* GCP 1st gen bills from the request's receipt: 10.2 -> 100 ms. */
    assert_int_equal(priced("gcp-functions-gen1", r).billed_ms, 100);
    /* Cloud Run bills start-up: 15.2 -> 100 ms; 95.2 ms of INIT -> 200 ms. */
    r.init_ns = MS(95);
    assert_int_equal(priced("gcp-cloud-run-functions", r).billed_ms, 200);
    assert_int_equal(priced("azure-consumption", r).billed_ms, 100);
    /* The same model with bill_init off. */
    faas_price_model m = *faas_price_model_find("aws-lambda-x86");
    m.name = "aws-no-init";
    m.bill_init = 0;
    ASSERT_OK(faas_price_record(&m, &r));
    assert_int_equal(r.billed_ms, 11);
    /* A warm call's init_ns is never billed (it is 0 anyway, but not looked at). */
    r.cold = 0;
    r.init_ns = MS(500);
    assert_int_equal(priced("aws-lambda-x86", r).billed_ms, 11);
}

static void cpu_time_basis(void **state)
{
    (void)state;
    /* Cloudflare bills CPU time: 2.5 CPU-ms -> 3 ms x $0.02 per 1M CPU-ms = $0.00000006,
     * + $0.30 per 1M requests; wall time (1 s here) plays no part. */
    faas_record r = rec("f", NULL, 1000000, 128);
    r.cpu_ns = 2500000;
    r = priced("cloudflare-workers", r);
    assert_int_equal(r.billed_ms, 3);
    assert_int_equal(r.cost_picousd, 60000 + 300000);
    /* Memory plays no part either. */
    faas_record big = rec("f", NULL, 1000000, 4096);
    big.cpu_ns = 2500000;
    assert_int_equal(priced("cloudflare-workers", big).cost_picousd, 360000);
}

static void overflow_is_exact(void **state)
{
    (void)state;
    /* An hour at 1 GB on a $1 per GB-s model: 3,600,000 ms x 1024 MB x 1e12 pUSD is
     * 3.7e21, past 64 bits; the 128-bit path gives exactly $3,600. */
    faas_price_model m;
    memset(&m, 0, sizeof m);
    m.name = "steep";
    m.gbs_picousd = 1000000000000ull;                    /* $1 per GB-s */
    faas_record r = rec("f", NULL, 3600000000ull, 1024); /* an hour at 1 GB */
    ASSERT_OK(faas_price_record(&m, &r));
    assert_int_equal(r.billed_ms, 3600000);
    assert_int_equal(r.cost_picousd, 3600 * PICO);       /* $3,600, exactly */
}

static void bad_models_are_refused(void **state)
{
    (void)state;
    faas_price_model m = *faas_price_model_find("aws-lambda-x86");
    faas_record r = rec("f", NULL, 1000, 128);
    m.name = "bad name";
    assert_int_equal(faas_price_record(&m, &r), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "name"));
    m.name = "ok";
    m.time_basis = 7;
    assert_int_equal(faas_price_record(&m, &r), FAAS_EINVAL);
    m.time_basis = FAAS_TIME_WALL;
    m.unit2 = "GHz-s";                                   /* a unit without tiers */
    assert_int_equal(faas_price_record(&m, &r), FAAS_EINVAL);
    m.unit2_tiers[0].memory_mb = 256;
    m.unit2_tiers[0].milli_units = 400;
    m.unit2_tiers[1].memory_mb = 128;                    /* not ascending */
    assert_int_equal(faas_price_record(&m, &r), FAAS_EINVAL);
    m.unit2_tiers[1].memory_mb = 512;
    ASSERT_OK(faas_price_record(&m, &r));
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    m.memory_basis = 9;
    o.price = &m;
    faas_runtime *rt = NULL;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_null(rt);
    assert_int_equal(faas_price_record(NULL, &r), FAAS_EINVAL);
}

/* ---- model files --------------------------------------------------------------------------- */

static const char model_text[] =
    "# a region priced 10% above us-east-1, from the x86 preset\n"
    "base = aws-lambda-x86\n"
    "name = aws-lambda-x86-dear\n"
    "source = a made-up region   # comments run to the end of the line\n"
    "read_on = 2026-11-27\n"
    "request_per_million = 0.22\n"
    "gb_second = $0.00001833337\n"
    "\n"
    "free_requests = 0\n"
    "free_gb_seconds = 0\n";

static void model_file_parses(void **state)
{
    (void)state;
    faas_price_model *m;
    ASSERT_OK(faas_price_model_parse(model_text, strlen(model_text), &m));
    assert_string_equal(m->name, "aws-lambda-x86-dear");
    assert_string_equal(m->source, "a made-up region");
    assert_int_equal(m->request_picousd, 220000);
    assert_int_equal(m->gbs_picousd, 18333370);
    assert_int_equal(m->quantum_ms, 1);                  /* from the base */
    assert_int_equal(m->bill_init, 1);
    assert_int_equal(m->free_requests, 0);
    faas_record r = rec("f", NULL, 120000, 512);
    ASSERT_OK(faas_price_record(m, &r));
    /* 120 x 512 x 18,333,370 / 1,024,000 = 1,100,002.2 -> 1,100,002. */
    assert_int_equal(r.cost_picousd, 220000 + 1100002);

    /* From a file, and as a runtime's model (copied: the caller's may go). */
    char path[] = "/tmp/faas-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char gen1[] =
        "name = my-gen1\nrequest = 0.0000004\ngb_second = 0.0000025\n"
        "unit2 = GHz-s\nunit2_second = 0.00001\n"
        "unit2_tier = 128 0.2\nunit2_tier = 256 0.4\nunit2_tier = 8192 4.8\n"
        "quantum_ms = 100\nmin_ms = 100\nbill_init = no\ntime = wall\nmemory = configured\n";
    assert_int_equal(write(fd, gen1, sizeof gen1 - 1), (ssize_t)(sizeof gen1 - 1));
    close(fd);
    faas_price_model *g;
    ASSERT_OK(faas_price_model_load(path, &g));
    unlink(path);
    faas_record a = rec("f", NULL, 260000, 128), b = a;
    ASSERT_OK(faas_price_record(g, &a));
    ASSERT_OK(faas_price_record(faas_price_model_find("gcp-functions-gen1"), &b));
    assert_int_equal(a.cost_picousd, b.cost_picousd);

    /* A base with a second dimension keeps it; "unit2 = none" drops it. */
    static const char g2[] = "base = gcp-functions-gen1\nname = g2\nquantum_ms = 1\n";
    faas_price_model *m2;
    ASSERT_OK(faas_price_model_parse(g2, sizeof g2 - 1, &m2));
    assert_string_equal(m2->unit2, "GHz-s");
    assert_int_equal(m2->unit2_tiers[6].memory_mb, 8192);
    faas_record q = rec("f", NULL, 260000, 128);
    ASSERT_OK(faas_price_record(m2, &q));
    assert_int_equal(q.billed_ms, 260);
    /* 260 x 128 x 2,500,000 / 1,024,000 = 81,250; 260 x 200 x 10,000,000 / 1e6 = 520,000. */
    assert_int_equal(q.cost_picousd, 400000 + 81250 + 520000);
    faas_price_model_free(m2);
    static const char g3[] = "base = gcp-functions-gen1\nname = g3\nunit2 = none\n";
    ASSERT_OK(faas_price_model_parse(g3, sizeof g3 - 1, &m2));
    assert_null(m2->unit2);
    assert_int_equal(m2->unit2_tiers[0].memory_mb, 0);
    faas_price_model_free(m2);

    fake_clock clk;
    faas_options o = manual_options(&clk);
    o.price = m;
    o.price_model = "ignored-when-price-is-set";
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_price_model_free(m);
    faas_price_model_free(g);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, NULL, &st));
    faas_runtime_free(rt);
}

static void model_file_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *why; } bad[] = {
        { "request = 0.1\n", "name" },
        { "name = x\nflavour = vanilla\n", "unknown key" },
        { "name = x\ngb_second = 0.0000000000001\n", "12 decimals" },
        { "name = x\nrequest = 1e-7\n", "dollars" },
        { "name = x\nunit2 = GHz-s\nunit2_tier = 256 0.4\nunit2_tier = 128 0.2\n",
          "ascending" },
        { "name = x\nbase = aws-lambda-x86\n", "first" },
        { "base = nope\nname = x\n", "no preset" },
        { "name = x\ntime = sundial\n", "wall or cpu" },
        { "name = x\nmemory = lots\n", "configured" },
        { "name = x\nquantum_ms = -1\n", "whole number" },
        { "name = x y\n", "name" },
        { "just words\n", "KEY = VALUE" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        faas_price_model *m = (faas_price_model *)1;
        assert_int_equal(faas_price_model_parse(bad[i].text, strlen(bad[i].text), &m),
                         FAAS_EINVAL);
        assert_null(m);
        if (strstr(faas_last_error(), bad[i].why) == NULL)
            fail_msg("\"%s\": error \"%s\" does not say \"%s\"", bad[i].text,
                     faas_last_error(), bad[i].why);
    }
    faas_price_model *m;
    assert_int_equal(faas_price_model_load("/nonexistent/model", &m), FAAS_ENOTFOUND);
    faas_price_model_free(NULL);
}

/* ---- dollars ------------------------------------------------------------------------------- */

static void dollars_as_text(void **state)
{
    (void)state;
    char b[48];
    assert_int_equal(faas_format_usd(1200002000000ull, -1, b, sizeof b), 9);
    assert_string_equal(b, "$1.200002");
    faas_format_usd(200000000000ull, -1, b, sizeof b);
    assert_string_equal(b, "$0.20");
    faas_format_usd(202083, -1, b, sizeof b);
    assert_string_equal(b, "$0.000000202083");
    faas_format_usd(0, -1, b, sizeof b);
    assert_string_equal(b, "$0.00");
    faas_format_usd(1995000000000ull, 2, b, sizeof b);   /* 1.995 rounds half up */
    assert_string_equal(b, "$2.00");
    faas_format_usd(1994999999999ull, 2, b, sizeof b);
    assert_string_equal(b, "$1.99");
    faas_format_usd(UINT64_MAX, 0, b, sizeof b);
    assert_string_equal(b, "$18446744");
    faas_format_usd(UINT64_MAX, -1, b, sizeof b);
    assert_string_equal(b, "$18446744.073709551615");
    assert_int_equal(faas_format_usd(5 * PICO, 12, NULL, 0), 15);
    assert_int_equal(faas_format_usd(1, 13, b, sizeof b), FAAS_EINVAL);
}

/* ---- records as JSON lines ------------------------------------------------------------------ */

static void records_round_trip(void **state)
{
    (void)state;
    faas_record r = rec("resize", "team \"a\"\\b", 120000, 512);
    r.status = FAAS_ETIMEOUT;
    r.cold = 1;
    r.attempt = 3;
    r.init_ns = 5123456;
    r.cpu_ns = 99;
    r.billed_ms = 126;
    r.max_memory_bytes = 3u << 20;
    r.cost_picousd = 1234567;
    char line[2048];
    int n = faas_record_json(&r, line, sizeof line);
    assert_true(n > 0 && (size_t)n == strlen(line));
    assert_non_null(strstr(line, "\"status_name\":\"FAAS_ETIMEOUT\""));
    assert_non_null(strstr(line, "\"tag\":\"team \\\"a\\\"\\\\b\""));
    assert_null(strchr(line, '\n'));
    assert_int_equal(faas_record_json(&r, NULL, 0), n);  /* the length it needs */

    char path[] = "/tmp/faas-records-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    ASSERT_OK(faas_record_write(&r, fd));
    faas_record u = rec("thumb", NULL, 7, 128);
    ASSERT_OK(faas_record_write(&u, fd));
    assert_int_equal(write(fd, "\n", 1), 1);             /* blank lines are skipped */
    close(fd);
    faas_record *back;
    size_t count;
    ASSERT_OK(faas_records_load(path, &back, &count));
    assert_int_equal(count, 2);
    assert_string_equal(back[0].function, "resize");
    assert_string_equal(back[0].tag, "team \"a\"\\b");
    assert_string_equal(back[0].request_id, r.request_id);
    assert_int_equal(back[0].status, FAAS_ETIMEOUT);
    assert_int_equal(back[0].cold, 1);
    assert_int_equal(back[0].attempt, 3);
    assert_int_equal(back[0].init_ns, r.init_ns);
    assert_int_equal(back[0].duration_ns, r.duration_ns);
    assert_int_equal(back[0].cpu_ns, 99);
    assert_int_equal(back[0].billed_ms, 126);
    assert_int_equal(back[0].memory_mb, 512);
    assert_int_equal(back[0].max_memory_bytes, 3u << 20);
    assert_int_equal(back[0].cost_picousd, 1234567);
    assert_string_equal(back[1].function, "thumb");
    assert_null(back[1].tag);
    faas_records_free(back, count);

    /* A line that is not a record names the line. */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "{\"function\": 7}\n", 16), 16);
    close(fd);
    assert_int_equal(faas_records_load(path, &back, &count), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), ":4:"));
    unlink(path);
    assert_int_equal(faas_records_load(path, &back, &count), FAAS_ENOTFOUND);
}

/* ---- projections ---------------------------------------------------------------------------- */

static const faas_cost_row *row_of(const faas_cost_row *rows, size_t n, const char *model,
                                   int group, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].model, model) == 0 && rows[i].group == group &&
            ((name == NULL && rows[i].name == NULL) ||
             (name != NULL && rows[i].name != NULL && strcmp(rows[i].name, name) == 0)))
            return &rows[i];
    fail_msg("no row %s/%d/%s", model, group, name ? name : "(null)");
    return NULL;
}

static void projection_aws_issue_figure(void **state)
{
    (void)state;
    /* The issue's figure: 1,000,000 calls x 120 ms x 512 MB on AWS x86 =
     * $0.20 + 60,000 GB-s x $0.0000166667 = $1.200002 before the free tier. */
    faas_record r = rec("f", NULL, 120000, 512);
    faas_cost_row *rows;
    size_t n;
    const faas_price_model *aws[] = { faas_price_model_find("aws-lambda-x86") };
    ASSERT_OK(faas_cost_compare(&r, 1, 1000000, aws, 1, &rows, &n));
    const faas_cost_row *t = row_of(rows, n, "aws-lambda-x86", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->calls, 1000000);
    assert_int_equal(t->mb_ms, 60000ull * 1024000);      /* 60,000 GB-s */
    assert_int_equal(t->request_picousd, 200000000000ull);             /* $0.20 */
    assert_int_equal(t->compute_picousd, 1000002000000ull);            /* $1.000002 */
    assert_int_equal(t->request_picousd + t->compute_picousd, 1200002000000ull);
    /* The free tier (1M requests, 400,000 GB-s) covers it all. */
    assert_int_equal(t->free_picousd, 1200002000000ull);
    assert_int_equal(t->total_picousd, 0);
    faas_free(rows);

    /* 5M calls: 4M requests billed ($0.80); 300,000 GB-s, under the free 400,000. */
    ASSERT_OK(faas_cost_compare(&r, 1, 5000000, aws, 1, &rows, &n));
    t = row_of(rows, n, "aws-lambda-x86", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->total_picousd, 800000000000ull);
    faas_free(rows);

    /* 10M calls: 9M requests ($1.80) + (600,000 - 400,000) GB-s x $0.0000166667 =
     * $3.33334: $5.13334. */
    ASSERT_OK(faas_cost_compare(&r, 1, 10000000, aws, 1, &rows, &n));
    t = row_of(rows, n, "aws-lambda-x86", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->total_picousd, 5133340000000ull);
    faas_free(rows);
}

static void projection_free_tiers(void **state)
{
    (void)state;
    /* modal.com's Azure Consumption example: 3M executions x 1 s x 1.5 GB = 4.5M GB-s;
     * (4.5M - 0.4M) x $0.000016 = $65.60, plus 2M executions x $0.20/1M = $0.40: $66.00. */
    faas_record r = rec("f", NULL, 1000000, 1536);
    r.max_memory_bytes = 1536ull << 20;
    const faas_price_model *az[] = { faas_price_model_find("azure-consumption") };
    faas_cost_row *rows;
    size_t n;
    ASSERT_OK(faas_cost_compare(&r, 1, 3000000, az, 1, &rows, &n));
    const faas_cost_row *t = row_of(rows, n, "azure-consumption", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->total_picousd, 66 * PICO);
    faas_free(rows);

    /* Cloudflare: 20M requests x 5 CPU-ms. 10M requests over the included 10M: $3.00;
     * 100M CPU-ms - 30M included = 70M x $0.02/1M = $1.40; + $5 a month: $9.40. */
    faas_record c = rec("f", NULL, 9000, 128);
    c.cpu_ns = MS(5);
    const faas_price_model *cf[] = { faas_price_model_find("cloudflare-workers") };
    ASSERT_OK(faas_cost_compare(&c, 1, 20000000, cf, 1, &rows, &n));
    t = row_of(rows, n, "cloudflare-workers", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->fixed_picousd, 5 * PICO);
    assert_int_equal(t->total_picousd, 9400000000000ull);
    assert_int_equal(t->cpu_estimated, 0);
    faas_free(rows);
    /* Without CPU times, wall time stands in, and the row says so. */
    c.cpu_ns = 0;
    ASSERT_OK(faas_cost_compare(&c, 1, 20000000, cf, 1, &rows, &n));
    t = row_of(rows, n, "cloudflare-workers", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->cpu_estimated, 1);
    assert_true(t->total_picousd > 9400000000000ull);
    faas_free(rows);

    /* GCP 1st gen: 4M calls x 260 ms at 256 MB (0.4 GHz). 2M invocations billed: $0.80.
     * 4M x 0.3 s = 1.2M s: 300,000 GB-s (under 400,000); 480,000 GHz-s - 200,000 =
     * 280,000 x $0.00001 = $2.80. Total $3.60. */
    faas_record g = rec("f", NULL, 260000, 256);
    const faas_price_model *gc[] = { faas_price_model_find("gcp-functions-gen1") };
    ASSERT_OK(faas_cost_compare(&g, 1, 4000000, gc, 1, &rows, &n));
    t = row_of(rows, n, "gcp-functions-gen1", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->unit2_ms, 480000ull * 1000000);
    assert_int_equal(t->total_picousd, 3600000000000ull);
    faas_free(rows);
}

static void projection_groups(void **state)
{
    (void)state;
    /* Three functions, two tags and an untagged one; throttled and refused records are
     * not calls. Scaled to 1,000 calls a month: each function gets its share. */
    faas_record r[6] = {
        rec("a", "t1", 100000, 128), rec("a", "t1", 100000, 128), rec("b", "t2", 50000, 256),
        rec("c", NULL, 10000, 128), rec("c", NULL, 10000, 128), rec("c", NULL, 10000, 128),
    };
    faas_record all[8];
    memcpy(all, r, sizeof r);
    all[6] = rec("a", "t1", 0, 128);
    all[6].status = FAAS_ETHROTTLED;
    all[7] = rec("b", "t2", 0, 256);
    all[7].status = FAAS_EBUDGET;
    faas_cost_row *rows;
    size_t n;
    ASSERT_OK(faas_cost_compare(all, 8, 600, NULL, 0, &rows, &n));
    size_t presets = 0;
    while (faas_price_model_preset(presets) != NULL)
        presets++;
    /* Per model: the total, 3 functions, 3 tags (t1, t2, untagged). */
    assert_int_equal(n, presets * 7);
    const faas_cost_row *a = row_of(rows, n, "aws-lambda-x86", FAAS_COST_FUNCTION, "a");
    assert_int_equal(a->calls, 200);                    /* 2 of 6 */
    /* 200 x 100 ms x 128 MB = 2,560,000 MB-ms. */
    assert_int_equal(a->mb_ms, 2560000);
    assert_int_equal(a->request_picousd, 200 * 200000ull);
    assert_int_equal(a->total_picousd, a->request_picousd + a->compute_picousd);
    const faas_cost_row *un = row_of(rows, n, "aws-lambda-x86", FAAS_COST_TAG, NULL);
    assert_int_equal(un->calls, 300);
    const faas_cost_row *t = row_of(rows, n, "aws-lambda-x86", FAAS_COST_TOTAL, NULL);
    assert_int_equal(t->calls, 600);
    /* The function rows add up to the total's usage. */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].model, "aws-lambda-x86") == 0 && rows[i].group == FAAS_COST_FUNCTION)
            sum += rows[i].mb_ms;
    assert_int_equal(sum, t->mb_ms);
    /* Rows come model by model, each: total, functions by name, tags by name (untagged
     * last). */
    assert_int_equal(rows[0].group, FAAS_COST_TOTAL);
    assert_string_equal(rows[1].name, "a");
    assert_string_equal(rows[3].name, "c");
    assert_string_equal(rows[4].name, "t1");
    assert_null(rows[6].name);
    assert_string_equal(rows[7].model, "aws-lambda-arm64");
    faas_free(rows);

    /* monthly 0: priced as recorded. */
    ASSERT_OK(faas_cost_compare(r, 6, 0, NULL, 0, &rows, &n));
    assert_int_equal(row_of(rows, n, "azure-flex", FAAS_COST_TOTAL, NULL)->calls, 6);
    faas_free(rows);
    /* Nothing recorded: zero usage, the fees alone. */
    ASSERT_OK(faas_cost_compare(NULL, 0, 1000, NULL, 0, &rows, &n));
    assert_int_equal(n, presets);
    assert_int_equal(row_of(rows, n, "cloudflare-workers", FAAS_COST_TOTAL, NULL)->total_picousd,
                     5 * PICO);
    faas_free(rows);
    assert_int_equal(faas_cost_compare(NULL, 1, 0, NULL, 0, &rows, &n), FAAS_EINVAL);
}

static void projection_many_groups(void **state)
{
    (void)state;
    /* Thousands of functions and hundreds of tags: groups are hashed, not searched. */
    size_t n = scaled(20000), nfn = scaled(5000);
    faas_record *r = calloc(n, sizeof *r);
    char (*names)[24] = calloc(nfn, sizeof *names);
    char (*tags)[24] = calloc(500, sizeof *tags);
    assert_true(r && names && tags);
    for (size_t i = 0; i < nfn; i++)
        snprintf(names[i], sizeof names[i], "f%zu", i);
    for (size_t i = 0; i < 500; i++)
        snprintf(tags[i], sizeof tags[i], "t%zu", i);
    for (size_t i = 0; i < n; i++)
        r[i] = rec(names[i % nfn], i % 7 ? tags[i % 500] : NULL, 1000 + i % 300, 128);
    const faas_price_model *aws[] = { faas_price_model_find("aws-lambda-x86") };
    faas_cost_row *rows;
    size_t nrows;
    ASSERT_OK(faas_cost_compare(r, n, 0, aws, 1, &rows, &nrows));
    size_t fns = 0, tg = 0;
    uint64_t calls_f = 0, calls_t = 0, mb_f = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].group == FAAS_COST_FUNCTION) {
            fns++;
            calls_f += rows[i].calls;
            mb_f += rows[i].mb_ms;
        } else if (rows[i].group == FAAS_COST_TAG) {
            tg++;
            calls_t += rows[i].calls;
        }
    }
    assert_int_equal(fns, nfn);
    assert_int_equal(tg, n >= 3500 ? 501 : tg);        /* 500 tags and the untagged */
    assert_int_equal(calls_f, n);
    assert_int_equal(calls_t, n);
    assert_int_equal(mb_f, rows[0].mb_ms);
    faas_free(rows);
    free(r);
    free(names);
    free(tags);
}

/* ---- live totals and budgets on a runtime ------------------------------------------------------- */

static fixture *F;
static atomic_int ran;              /* calls of takes() since the test's setup */

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    atomic_store(&ran, 0);
    F = f;
    *state = f;
    return fixture_start(f, &o, 1);
}

/* Runs for the number of microseconds in its payload, on the fake clock. */
static int takes(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    atomic_fetch_add(&ran, 1);
    fake_advance(&F->clock, strtoull(payload, NULL, 10) * 1000u);
    return 0;
}

/* The same, after taking 3 MB from its arena. */
static int takes_3mb(faas_ctx *ctx, const void *payload, size_t len)
{
    if (faas_ctx_alloc(ctx, 3u << 20) == NULL)
        return -1;
    return takes(ctx, payload, len);
}

static int reg(fixture *f, const char *name, const char *tag, unsigned mem,
               const char *dead_letter)
{
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = mem;
    c.tag = tag;
    c.dead_letter = dead_letter;
    c.max_retries = 0;
    int rc = faas_register(f->rt, name, takes, &c);
    if (rc == FAAS_OK)
        rc = faas_warm(f->rt, name, 1);
    return rc;
}

static int call_us(fixture *f, const char *name, unsigned us, faas_response *res)
{
    char p[24];
    int n = snprintf(p, sizeof p, "%u", us);
    return faas_invoke(f->rt, name, p, (size_t)n, res);
}

static void totals_per_function_and_tag(void **state)
{
    fixture *f = *state;
    ASSERT_OK(reg(f, "a", "team-a", 512, NULL));
    ASSERT_OK(reg(f, "b", "team-a", 128, NULL));
    ASSERT_OK(reg(f, "c", NULL, 128, NULL));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(call_us(f, "a", 120000, NULL));       /* 1,200,002 each */
    ASSERT_OK(call_us(f, "b", 400, NULL));               /* 1 ms at 128 MB: 202,083 */
    ASSERT_OK(call_us(f, "c", 400, NULL));
    faas_cost_row *rows;
    size_t n;
    ASSERT_OK(faas_cost_totals(f->rt, FAAS_COST_FUNCTION, &rows, &n));
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].name, "a");             /* sorted by name */
    assert_string_equal(rows[0].model, "aws-lambda-x86");
    assert_int_equal(rows[0].calls, 3);
    assert_int_equal(rows[0].mb_ms, 3 * 120 * 512);
    assert_int_equal(rows[0].request_picousd, 600000);
    assert_int_equal(rows[0].compute_picousd, 3 * 1000002);
    assert_int_equal(rows[0].total_picousd, 3 * 1200002);
    faas_free(rows);
    ASSERT_OK(faas_cost_totals(f->rt, FAAS_COST_TAG, &rows, &n));
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].name, "team-a");
    assert_int_equal(rows[0].calls, 4);
    assert_int_equal(rows[0].total_picousd, 3 * 1200002 + 202083);
    assert_null(rows[1].name);                           /* untagged last */
    assert_int_equal(rows[1].total_picousd, 202083);
    faas_free(rows);
    ASSERT_OK(faas_cost_totals(f->rt, FAAS_COST_TOTAL, &rows, &n));
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].total_picousd, 3 * 1200002 + 2 * 202083);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, NULL, &st));
    assert_int_equal(st.cost_picousd, rows[0].total_picousd);
    assert_int_equal(st.request_picousd, rows[0].request_picousd);
    assert_int_equal(st.compute_picousd, rows[0].compute_picousd);
    assert_int_equal(st.mb_ms, rows[0].mb_ms);
    faas_free(rows);
    assert_int_equal(faas_cost_totals(f->rt, 9, &rows, &n), FAAS_EINVAL);
}

static void observed_memory_on_a_runtime(void **state)
{
    (void)state;
    /* Azure Consumption bills the arena's high-water mark, in 128 MB buckets: a 1 GB
     * function that used 3 MB is billed 128 MB. */
    fixture *f = calloc(1, sizeof *f);
    capture_init(&f->cap);
    faas_options o = manual_options(&f->clock);
    o.price_model = "azure-consumption";
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    F = f;
    f->rt = rt;
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = 1024;
    ASSERT_OK(faas_register(rt, "w", takes_3mb, &c));
    ASSERT_OK(faas_warm(rt, "w", 1));
    faas_response res;
    ASSERT_OK(call_us(f, "w", 150200, &res));
    assert_int_equal(res.record.max_memory_bytes, 3u << 20);
    assert_int_equal(res.record.billed_ms, 151);
    /* 0.151 s x 0.125 GB x $0.000016 = $0.000000302; + $0.0000002. */
    assert_int_equal(res.record.cost_picousd, 302000 + 200000);
    faas_response_free(&res);
    faas_runtime_free(rt);
    capture_free(&f->cap);
    free(f);
}

static void sync_calls_stop_at_the_budget(void **state)
{
    fixture *f = *state;
    /* Set before the function exists: it applies when it registers. */
    ASSERT_OK(faas_budget_set(f->rt, "tenant", 500000, 1000));
    ASSERT_OK(reg(f, "w", "tenant", 128, NULL));
    ASSERT_OK(reg(f, "free", NULL, 128, NULL));
    /* 1 ms at 128 MB costs 202,083: three calls pass (the third crosses the limit), the
     * fourth is refused. */
    for (int i = 0; i < 3; i++)
        ASSERT_OK(call_us(f, "w", 400, NULL));
    atomic_store(&ran, 0);
    size_t before = f->cap.nrec;
    faas_response res;
    assert_int_equal(call_us(f, "w", 400, &res), FAAS_EBUDGET);
    assert_int_equal(res.status, FAAS_EBUDGET);
    assert_string_equal(res.error_type, "BudgetExceededException");
    assert_non_null(strstr(res.error_message, "tenant"));
    assert_non_null(strstr(res.error_message, "$0.000000606249"));
    assert_int_equal(res.len, 0);
    assert_int_equal(res.record.cost_picousd, 0);
    assert_int_equal(res.record.status, FAAS_EBUDGET);
    faas_response_free(&res);
    assert_int_equal(atomic_load(&ran), 0);          /* no handler ran */
    assert_int_equal(f->cap.nrec, before + 1);          /* but a record was made */
    assert_int_equal(f->cap.records[before].status, FAAS_EBUDGET);
    /* Through a handle too. */
    faas_function *fn = faas_lookup(f->rt, "w");
    assert_int_equal(faas_invoke_fn(fn, "1", 1, NULL), FAAS_EBUDGET);
    /* Other tags are not limited. */
    ASSERT_OK(call_us(f, "free", 400, NULL));

    faas_budget b;
    ASSERT_OK(faas_budget_get(f->rt, "tenant", &b));
    assert_int_equal(b.limit_picousd, 500000);
    assert_int_equal(b.window_ms, 1000);
    assert_int_equal(b.spent_picousd, 3 * 202083);
    assert_int_equal(b.refusals, 2);
    /* 1000 ms window from when it was set; 3 x 0.4 ms went by. */
    assert_int_equal(b.window_left_ms, 999);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "w", &st));
    assert_int_equal(st.budget_refusals, 2);
    assert_int_equal(st.invocations, 3);
    assert_int_equal(st.errors, 0);

    /* The next window starts afresh. */
    fake_advance(&f->clock, MS(1000));
    ASSERT_OK(call_us(f, "w", 400, NULL));
    ASSERT_OK(faas_budget_get(f->rt, "tenant", &b));
    assert_int_equal(b.spent_picousd, 202083);

    /* A new limit applies at once; removing the budget lifts it. */
    ASSERT_OK(faas_budget_set(f->rt, "tenant", 0, 0));
    assert_int_equal(call_us(f, "w", 400, NULL), FAAS_EBUDGET);
    ASSERT_OK(faas_budget_remove(f->rt, "tenant"));
    ASSERT_OK(call_us(f, "w", 400, NULL));
    assert_int_equal(faas_budget_get(f->rt, "tenant", &b), FAAS_ENOTFOUND);
    assert_int_equal(faas_budget_remove(f->rt, "tenant"), FAAS_ENOTFOUND);
    /* A window of 0 is one window for ever. */
    ASSERT_OK(faas_budget_set(f->rt, "tenant", 202083, 0));
    ASSERT_OK(call_us(f, "w", 400, NULL));
    fake_advance(&f->clock, MS(86400000));
    assert_int_equal(call_us(f, "w", 400, NULL), FAAS_EBUDGET);
    ASSERT_OK(faas_budget_get(f->rt, "tenant", &b));
    assert_int_equal(b.window_left_ms, 0);

    assert_int_equal(faas_budget_set(f->rt, NULL, 1, 1), FAAS_EINVAL);
    assert_int_equal(faas_budget_set(f->rt, "", 1, 1), FAAS_EINVAL);
    assert_int_equal(faas_budget_set(NULL, "t", 1, 1), FAAS_EINVAL);
    assert_int_equal(faas_budget_get(f->rt, "t", NULL), FAAS_EINVAL);
}

/* The dead letter's envelopes, copied. */
static char *letters[8];
static int nletters;

static int dead_letter(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    if (nletters < 8)
        letters[nletters++] = strndup(payload, len);
    return 0;
}

typedef struct outcome { int calls, status; char type[64]; } outcome;

static void on_done(const faas_response *res, void *arg)
{
    outcome *o = arg;
    o->calls++;
    o->status = res->status;
    snprintf(o->type, sizeof o->type, "%s", res->error_type ? res->error_type : "");
}

static void async_calls_go_to_the_dead_letter(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "dlq", dead_letter, NULL));
    ASSERT_OK(reg(f, "w", "tenant", 128, "dlq"));
    ASSERT_OK(faas_budget_set(f->rt, "tenant", 202083, 60000));
    outcome first = { 0 }, second = { 0 };
    ASSERT_OK(faas_invoke_async(f->rt, "w", "400", 3, on_done, &first, NULL));
    assert_true(faas_run_pending(f->rt) >= 1);
    assert_int_equal(first.calls, 1);
    assert_int_equal(first.status, FAAS_OK);
    /* The budget is spent: accepted, but refused when its turn comes. */
    atomic_store(&ran, 0);
    char id[37];
    ASSERT_OK(faas_invoke_async(f->rt, "w", "{\"n\":2}", 7, on_done, &second, id));
    ASSERT_OK(faas_drain(f->rt, 1000));
    assert_int_equal(second.calls, 1);
    assert_int_equal(second.status, FAAS_EBUDGET);
    assert_string_equal(second.type, "BudgetExceededException");
    assert_int_equal(atomic_load(&ran), 0);
    assert_int_equal(nletters, 1);
    assert_non_null(strstr(letters[0], "\"condition\":\"BudgetExceeded\""));
    assert_non_null(strstr(letters[0], id));
    assert_non_null(strstr(letters[0], "\"requestPayload\":{\"n\":2}"));
    assert_non_null(strstr(letters[0], "\"approximateInvokeCount\":0"));
    assert_non_null(strstr(letters[0], "BudgetExceededException"));
    assert_null(strstr(letters[0], "functionError"));
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "w", &st));
    assert_int_equal(st.budget_refusals, 1);
    assert_int_equal(st.dead_letters, 1);
    /* Without a dead letter, the call still completes once with FAAS_EBUDGET. */
    ASSERT_OK(reg(f, "nodlq", "tenant", 128, NULL));
    outcome third = { 0 };
    ASSERT_OK(faas_invoke_async(f->rt, "nodlq", "1", 1, on_done, &third, NULL));
    ASSERT_OK(faas_drain(f->rt, 1000));
    assert_int_equal(third.calls, 1);
    assert_int_equal(third.status, FAAS_EBUDGET);
    assert_int_equal(nletters, 1);
    for (int i = 0; i < nletters; i++)
        free(letters[i]);
    nletters = 0;
}

static void budgets_under_threads(void **state)
{
    (void)state;
    /* Real threads, real clock: the budget stops a tenant within a few calls of its
     * limit, and every refused call costs nothing. */
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.tag = "t";
    static fixture dummy;
    F = &dummy;
    ASSERT_OK(faas_register(rt, "w", takes, &c));
    /* About 50 calls' worth (each costs at least 202,083). */
    ASSERT_OK(faas_budget_set(rt, "t", 50 * 202083ull, 0));
    unsigned n = scaled(2000);
    unsigned ok = 0, refused = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = faas_invoke_async(rt, "w", "0", 1, NULL, NULL, NULL);
        assert_int_equal(rc, FAAS_OK);
    }
    ASSERT_OK(faas_drain(rt, 60000));
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "w", &st));
    ok = (unsigned)st.invocations;
    refused = (unsigned)st.budget_refusals;
    assert_int_equal(ok + refused, n);
    faas_budget b;
    ASSERT_OK(faas_budget_get(rt, "t", &b));
    assert_int_equal(b.spent_picousd, st.cost_picousd);
    assert_int_equal(b.refusals, refused);
    if (n > 60) {
        assert_true(refused > 0);
        assert_true(b.spent_picousd >= b.limit_picousd);
        /* A call slower than 1 ms costs more, so fewer may pass; never more than the limit
         * allows plus one per worker that started before the other's cost was added. */
        assert_true(ok <= 50 + 2);
    }
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presets_are_the_published_table),
        cmocka_unit_test(aws_x86_by_hand),
        cmocka_unit_test(rounding_100ms_against_1ms),
        cmocka_unit_test(azure_buckets_and_minimums),
        cmocka_unit_test(init_billed_or_not),
        cmocka_unit_test(cpu_time_basis),
        cmocka_unit_test(overflow_is_exact),
        cmocka_unit_test(bad_models_are_refused),
        cmocka_unit_test(model_file_parses),
        cmocka_unit_test(model_file_errors),
        cmocka_unit_test(dollars_as_text),
        cmocka_unit_test(records_round_trip),
        cmocka_unit_test(projection_aws_issue_figure),
        cmocka_unit_test(projection_free_tiers),
        cmocka_unit_test(projection_groups),
        cmocka_unit_test(projection_many_groups),
        cmocka_unit_test_setup_teardown(totals_per_function_and_tag, setup, fixture_teardown),
        cmocka_unit_test(observed_memory_on_a_runtime),
        cmocka_unit_test_setup_teardown(sync_calls_stop_at_the_budget, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(async_calls_go_to_the_dead_letter, setup, fixture_teardown),
        cmocka_unit_test(budgets_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
