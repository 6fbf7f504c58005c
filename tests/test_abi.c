/* test_abi.c - the structs' ABI promise (faas.h, "Plain-data structures"), from the side of
 * programs built with another header: 0.1.0's layouts (abi_v1.h) are kept field by field;
 * a sized struct from an older, smaller header is read to its size and no further (it ends
 * where an unmapped page begins, so a read past it faults in every build) and the rest
 * takes its defaults; one from a newer header is refused only when it sets what this
 * library does not know; the fixed structs are written within their 0.1.0 size and handed
 * back in arrays of that stride. */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <sys/mman.h>

#include "abi_v1.h"

/* ---- memory that ends where an unmapped page begins -------------------------------------- */

typedef struct guarded {
    char  *base;
    size_t len;
} guarded;

/* N bytes whose last one is followed by a page with no access: reading or writing past
 * them is a SIGSEGV (which cmocka reports as a failure), and ASan and valgrind name it. */
static void *page_end(guarded *g, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    assert_true(n <= pg && n % 8 == 0);
    g->len = 2 * pg;
    g->base = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->base != MAP_FAILED);
    assert_int_equal(mprotect(g->base + pg, pg, PROT_NONE), 0);
    memset(g->base, 0xa5, pg);          /* garbage, as an uninitialised struct would hold */
    return g->base + pg - n;
}

static void page_free(guarded *g)
{
    munmap(g->base, g->len);
}

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static void count_done(const faas_response *res, void *arg)
{
    (void)res;
    ++*(int *)arg;
}

/* ---- 0.1.0's layouts are kept ------------------------------------------------------------- */

static int moved;

#define SAME_FIELD(s, f)                                                                     \
    if (offsetof(faas_##s, f) != offsetof(abi_v1_##s, f) ||                                  \
        sizeof(((faas_##s *)0)->f) != sizeof(((abi_v1_##s *)0)->f)) {                       \
        print_error("faas_%s.%s: offset %zu size %zu, 0.1.0 had %zu and %zu\n", #s, #f,      \
                    offsetof(faas_##s, f), sizeof(((faas_##s *)0)->f),                       \
                    offsetof(abi_v1_##s, f), sizeof(((abi_v1_##s *)0)->f));                  \
        moved++;                                                                             \
    }
#define FIXED(s)                                                                             \
    if (sizeof(faas_##s) != sizeof(abi_v1_##s)) {                                            \
        print_error("faas_%s: %zu bytes, 0.1.0 had %zu (a fixed size never changes)\n", #s,  \
                    sizeof(faas_##s), sizeof(abi_v1_##s));                                   \
        moved++;                                                                             \
    }
#define GROWN(s)                                                                             \
    if (sizeof(faas_##s) < sizeof(abi_v1_##s)) {                                             \
        print_error("faas_%s: %zu bytes, fewer than 0.1.0's %zu\n", #s, sizeof(faas_##s),    \
                    sizeof(abi_v1_##s));                                                     \
        moved++;                                                                             \
    }

static void every_field_is_where_0_1_0_put_it(void **state)
{
    (void)state;
    moved = 0;
    ABI_V1_CLOCK(SAME_FIELD) ABI_V1_OPTIONS(SAME_FIELD) ABI_V1_CONFIG(SAME_FIELD)
    ABI_V1_RECORD(SAME_FIELD) ABI_V1_RESPONSE(SAME_FIELD) ABI_V1_STATS(SAME_FIELD)
    ABI_V1_JOURNAL_STATS(SAME_FIELD) ABI_V1_PRICE_TIER(SAME_FIELD)
    ABI_V1_PRICE_MODEL(SAME_FIELD) ABI_V1_COST_ROW(SAME_FIELD) ABI_V1_BUDGET(SAME_FIELD)
    ABI_V1_FUNCTION_INFO(SAME_FIELD) ABI_V1_GATEWAY_OPTIONS(SAME_FIELD)
    ABI_V1_SCHEDULE_OPTIONS(SAME_FIELD) ABI_V1_WATCH_OPTIONS(SAME_FIELD)
    ABI_V1_NATS_OPTIONS(SAME_FIELD) ABI_V1_NATS_STATS(SAME_FIELD)
    /* Embedded in other structs: they never change. */
    FIXED(clock) FIXED(price_tier)
    assert_int_equal(FAAS_PRICE_TIERS, 12);
    /* Fixed: the library writes them into the caller's memory or strides arrays of them. */
    FIXED(config) FIXED(record) FIXED(response) FIXED(stats) FIXED(journal_stats)
    FIXED(nats_stats) FIXED(budget) FIXED(cost_row) FIXED(function_info) FIXED(price_model)
    /* Sized: they only grow. */
    GROWN(options) GROWN(gateway_options) GROWN(nats_options) GROWN(schedule_options)
    GROWN(watch_options)
    assert_int_equal(moved, 0);
}

static void init_macros_set_the_size(void **state)
{
    (void)state;
    faas_options o = FAAS_OPTIONS_INIT;
    faas_gateway_options g = FAAS_GATEWAY_OPTIONS_INIT;
    faas_nats_options n = FAAS_NATS_OPTIONS_INIT;
    faas_schedule_options s = FAAS_SCHEDULE_OPTIONS_INIT;
    faas_watch_options w = FAAS_WATCH_OPTIONS_INIT;
    assert_int_equal(o.size, sizeof o);
    assert_int_equal(g.size, sizeof g);
    assert_int_equal(n.size, sizeof n);
    assert_int_equal(s.size, sizeof s);
    assert_int_equal(w.size, sizeof w);
    assert_int_equal(o.workers, 0);
    assert_null(o.price_model);
    assert_null(w.prefix);
}

/* ---- sized structs: an older caller ------------------------------------------------------- */

/* faas_options as a header that ended at `manual` declared it. */
typedef struct older_options {
    size_t      size;
    unsigned    workers;
    size_t      queue_capacity;
    const char *price_model;
    void      (*log)(const char *line, void *arg);
    void       *log_arg;
    faas_clock  clock;
    int         manual;
} older_options;

static void set_older(older_options *o, fake_clock *c)
{
    faas_options m = manual_options(c);
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->workers = 1;
    o->price_model = "aws-lambda-arm64";
    o->clock = m.clock;
    o->manual = 1;
}

/* What rt shows of the options it was given: the fields an older_options has, read; those
 * it has not, their defaults. */
static void check_older_read(faas_runtime *rt, fake_clock *c)
{
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    int done = 0;
    ASSERT_OK(faas_invoke_async(rt, "echo", "x", 1, count_done, &done, NULL));
    assert_int_equal(done, 0);                  /* manual: nothing runs by itself */
    fake_advance(c, MS(1));
    assert_int_equal(faas_run_pending(rt), 1);
    assert_int_equal(done, 1);
    faas_cost_row *rows;
    size_t n;
    ASSERT_OK(faas_cost_totals(rt, FAAS_COST_TOTAL, &rows, &n));
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].model, "aws-lambda-arm64");
    faas_free(rows);
    /* max_payload_sync (past it) is the default, 6,291,456 bytes. */
    size_t big = 6291456;
    char *p = calloc(1, big + 1);
    assert_non_null(p);
    faas_response res;
    assert_int_equal(faas_invoke(rt, "echo", p, big + 1, &res), FAAS_ETOOLARGE);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "echo", p, big, &res));
    assert_int_equal(res.len, big);
    faas_response_free(&res);
    free(p);
    faas_journal_stats js;                      /* journal_dir (past it): none */
    ASSERT_OK(faas_journal_stats_get(rt, &js));
    assert_int_equal(js.enabled, 0);
}

static void an_older_options_is_read_to_its_size(void **state)
{
    (void)state;
    fake_clock c;
    guarded g;
    older_options *o = page_end(&g, sizeof *o);
    set_older(o, &c);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, (const faas_options *)(void *)o));
    check_older_read(rt, &c);
    faas_runtime_free(rt);
    page_free(&g);
}

static void what_follows_an_older_options_is_ignored(void **state)
{
    (void)state;
    /* The older struct at the start of a whole faas_options full of 0xff: read, the rest
     * would be SIZE_MAX payload limits and a journal_dir pointing nowhere. */
    unsigned char *block = malloc(sizeof(faas_options));
    assert_non_null(block);
    memset(block, 0xff, sizeof(faas_options));
    fake_clock c;
    older_options o;
    set_older(&o, &c);
    memcpy(block, &o, sizeof o);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, (const faas_options *)(void *)block));
    check_older_read(rt, &c);
    faas_runtime_free(rt);
    free(block);
}

static void size_zero_is_the_0_1_0_layout(void **state)
{
    (void)state;
    fake_clock c;
    guarded g;
    abi_v1_options *o = page_end(&g, sizeof *o);
    faas_options m = manual_options(&c);
    memset(o, 0, sizeof *o);                    /* = {0}: size 0 */
    o->manual = 1;
    o->clock.mono_ns = m.clock.mono_ns;
    o->clock.wall_ns = m.clock.wall_ns;
    o->clock.arg = m.clock.arg;
    o->max_payload_sync = 100;                  /* the last fields of 0.1.0 are read too */
    o->journal_segment_bytes = 1;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, (const faas_options *)(void *)o));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    char p[101] = { 0 };
    faas_response res;
    assert_int_equal(faas_invoke(rt, "echo", p, 101, &res), FAAS_ETOOLARGE);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "echo", p, 100, &res));
    faas_response_free(&res);
    int done = 0;
    ASSERT_OK(faas_invoke_async(rt, "echo", "x", 1, count_done, &done, NULL));
    assert_int_equal(done, 0);
    assert_int_equal(faas_run_pending(rt), 1);
    assert_int_equal(done, 1);
    faas_runtime_free(rt);
    page_free(&g);
}

/* faas_options as a header with one more field declares it. */
typedef struct newer_options {
    faas_options o;
    uint64_t     later;
} newer_options;

static void a_newer_options_is_refused_only_when_it_sets_more(void **state)
{
    (void)state;
    fake_clock c;
    guarded g;
    newer_options *n = page_end(&g, sizeof *n);
    memset(n, 0, sizeof *n);
    n->o = manual_options(&c);
    n->o.size = sizeof *n;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &n->o));    /* the field it does not know is 0 */
    faas_runtime_free(rt);
    n->later = 1;
    assert_int_equal(faas_runtime_new(&rt, &n->o), FAAS_ENOTSUP);
    assert_null(rt);
    assert_non_null(strstr(faas_last_error(), "newer faas.h"));
    /* Not a size at all: an options struct never initialised. */
    n->o.size = 3;
    assert_int_equal(faas_runtime_new(&rt, &n->o), FAAS_EINVAL);
    n->o.size = (size_t)1 << 40;
    assert_int_equal(faas_runtime_new(&rt, &n->o), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "FAAS_*_INIT"));
    page_free(&g);
}

/* The other sized structs, each as a header that had only its first fields declared it. */
typedef struct older_schedule_options {
    size_t      size;
    const char *time_zone;
} older_schedule_options;

typedef struct older_watch_options {
    size_t   size;
    int      recursive;
    unsigned events;
} older_watch_options;

typedef struct older_gateway_options {
    size_t      size;
    const char *token;
    unsigned    max_connections;
    unsigned    pad_;
} older_gateway_options;

typedef struct older_nats_options {
    size_t size;
    int    role;
    int    pad_;
} older_nats_options;

static void older_trigger_options_are_read_to_their_size(void **state)
{
    (void)state;
    fake_clock c;
    faas_options m = manual_options(&c);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &m));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    guarded g;
    older_schedule_options *so = page_end(&g, sizeof *so);
    so->size = sizeof *so;
    so->time_zone = "Europe/Atlantis";          /* read: refused */
    faas_trigger_id id = 0;
    assert_int_equal(faas_schedule_ex(rt, "echo", "rate(1 minute)",
                                      (const faas_schedule_options *)(void *)so, &id),
                     FAAS_EINVAL);
    so->time_zone = "Europe/Berlin";            /* and the name, account, region: defaults */
    ASSERT_OK(faas_schedule_ex(rt, "echo", "cron(0 12 * * ? *)",
                               (const faas_schedule_options *)(void *)so, &id));
    assert_true(id != 0);
    ASSERT_OK(faas_unschedule(rt, id));
    page_free(&g);

    char dir[] = "/tmp/faas-abi-XXXXXX";
    assert_non_null(mkdtemp(dir));
    older_watch_options *wo = page_end(&g, sizeof *wo);
    wo->size = sizeof *wo;
    wo->recursive = 0;
    wo->events = 4;                             /* read: no such event */
    assert_int_equal(faas_watch(rt, "echo", dir, (const faas_watch_options *)(void *)wo, &id),
                     FAAS_EINVAL);
    wo->events = FAAS_WATCH_CREATED;
    ASSERT_OK(faas_watch(rt, "echo", dir, (const faas_watch_options *)(void *)wo, &id));
    ASSERT_OK(faas_unwatch(rt, id));
    page_free(&g);
    assert_int_equal(rmdir(dir), 0);
    faas_runtime_free(rt);
}

static void an_older_gateway_options_is_read_to_its_size(void **state)
{
    (void)state;
#if FAAS_HAVE_GATEWAY
    faas_options m = FAAS_OPTIONS_INIT;
    m.workers = 1;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &m));
    guarded g;
    older_gateway_options *o = page_end(&g, sizeof *o);
    o->size = sizeof *o;
    o->token = "has space";                     /* read: refused */
    o->max_connections = 8;
    faas_gateway *gw = NULL;
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1:0",
                                        (const faas_gateway_options *)(void *)o, &gw),
                     FAAS_EINVAL);
    o->token = "secret";
    ASSERT_OK(faas_gateway_start(rt, "127.0.0.1:0", (const faas_gateway_options *)(void *)o,
                                 &gw));
    assert_true(faas_gateway_port(gw) > 0);
    faas_gateway_stop(gw);
    page_free(&g);
    faas_runtime_free(rt);
#else
    skip();                                     /* no gateway in this build: nothing reads */
#endif
}

static void an_older_nats_options_is_read_to_its_size(void **state)
{
    (void)state;
#if FAAS_HAVE_NATS
    faas_options m = FAAS_OPTIONS_INIT;
    m.workers = 1;                              /* NATS needs threads: not manual */
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &m));
    guarded g;
    older_nats_options *o = page_end(&g, sizeof *o);
    o->size = sizeof *o;
    o->role = 9;                                /* read: refused before any connection */
    assert_int_equal(faas_nats_attach(rt, "nats://127.0.0.1:1",
                                      (const faas_nats_options *)(void *)o),
                     FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "role 9"));
    page_free(&g);
    faas_runtime_free(rt);
#else
    skip();                                     /* no NATS in this build: nothing reads */
#endif
}

/* ---- fixed structs ------------------------------------------------------------------------ */

static void fixed_structs_are_written_within_0_1_0_sizes(void **state)
{
    (void)state;
    fake_clock c;
    faas_options m = manual_options(&c);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &m));
    guarded g;

    abi_v1_config *cfg = page_end(&g, sizeof *cfg);
    faas_config_init((faas_config *)(void *)cfg);
    assert_int_equal(cfg->memory_mb, 128);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(cfg->reserved[i], 0);  /* over the page's garbage */
    ASSERT_OK(faas_register(rt, "echo", echo, (const faas_config *)(void *)cfg));
    ASSERT_OK(faas_register(rt, "echo2", echo, (const faas_config *)(void *)cfg));
    page_free(&g);

    abi_v1_response *res = page_end(&g, sizeof *res);
    ASSERT_OK(faas_invoke(rt, "echo", "hi", 2, (faas_response *)(void *)res));
    assert_int_equal(res->len, 2);
    assert_string_equal(res->record.function, "echo");
    faas_response_free((faas_response *)(void *)res);
    page_free(&g);

    abi_v1_stats *st = page_end(&g, sizeof *st);
    ASSERT_OK(faas_stats_get(rt, NULL, (faas_stats *)(void *)st));
    assert_int_equal(st->invocations, 1);
    page_free(&g);

    ASSERT_OK(faas_budget_set(rt, "team", 1000000, 0));
    abi_v1_budget *b = page_end(&g, sizeof *b);
    ASSERT_OK(faas_budget_get(rt, "team", (faas_budget *)(void *)b));
    assert_int_equal(b->limit_picousd, 1000000);
    page_free(&g);

    abi_v1_journal_stats *js = page_end(&g, sizeof *js);
    ASSERT_OK(faas_journal_stats_get(rt, (faas_journal_stats *)(void *)js));
    assert_int_equal(js->enabled, 0);
    page_free(&g);

    abi_v1_nats_stats *ns = page_end(&g, sizeof *ns);
    assert_true(faas_nats_stats_get(rt, (faas_nats_stats *)(void *)ns) != FAAS_OK);
    assert_int_equal(ns->published, 0);         /* not attached (or not built): zeroed */
    page_free(&g);

    /* Arrays the library hands back are strided by 0.1.0's size. */
    faas_function_info *infos;
    size_t n;
    ASSERT_OK(faas_list(rt, &infos, &n));
    assert_int_equal(n, 2);
    const abi_v1_function_info *v1 = (const abi_v1_function_info *)(const void *)infos;
    assert_string_equal(v1[0].name, "echo");
    assert_string_equal(v1[1].name, "echo2");
    assert_int_equal(v1[1].config.memory_mb, 128);
    faas_info_free(infos);
    faas_cost_row *rows;
    ASSERT_OK(faas_cost_totals(rt, FAAS_COST_FUNCTION, &rows, &n));
    assert_int_equal(n, 2);
    const abi_v1_cost_row *r1 = (const abi_v1_cost_row *)(const void *)rows;
    assert_string_equal(r1[1].name, "echo2");
    faas_free(rows);
    faas_runtime_free(rt);
}

static void reserved_words_set_are_refused(void **state)
{
    (void)state;
    fake_clock c;
    faas_options m = manual_options(&c);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &m));
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.reserved[5] = 1;                        /* a field of a newer header */
    assert_int_equal(faas_register(rt, "echo", echo, &cfg), FAAS_ENOTSUP);
    assert_non_null(strstr(faas_last_error(), "reserved"));
    assert_null(faas_lookup(rt, "echo"));
    cfg.reserved[5] = 0;
    ASSERT_OK(faas_register(rt, "echo", echo, &cfg));
    faas_runtime_free(rt);

    faas_price_model pm = *faas_price_model_find("aws-lambda-x86");   /* a copied preset */
    faas_record rec = { .memory_mb = 128, .duration_ns = 1000000 };
    ASSERT_OK(faas_price_record(&pm, &rec));
    pm.reserved[0] = 1;
    assert_int_equal(faas_price_record(&pm, &rec), FAAS_ENOTSUP);
    m.price = &pm;
    assert_int_equal(faas_runtime_new(&rt, &m), FAAS_ENOTSUP);
}

int main(void)
{
    tap_fix_skips();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_where_0_1_0_put_it),
        cmocka_unit_test(init_macros_set_the_size),
        cmocka_unit_test(an_older_options_is_read_to_its_size),
        cmocka_unit_test(what_follows_an_older_options_is_ignored),
        cmocka_unit_test(size_zero_is_the_0_1_0_layout),
        cmocka_unit_test(a_newer_options_is_refused_only_when_it_sets_more),
        cmocka_unit_test(older_trigger_options_are_read_to_their_size),
        cmocka_unit_test(an_older_gateway_options_is_read_to_its_size),
        cmocka_unit_test(an_older_nats_options_is_read_to_its_size),
        cmocka_unit_test(fixed_structs_are_written_within_0_1_0_sizes),
        cmocka_unit_test(reserved_words_set_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
