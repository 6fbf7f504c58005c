/*
 * metrics_export.c - the counters, gauges and histograms of every function as JSON and as
 * Prometheus text exposition (format 0.0.4). It only reads: counters and histograms are
 * summed over their shards, the function set is read under the registry lock, and the
 * text is built in memory (no user code, no I/O under a lock).
 */
#include "internal.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- what is read, per function ------------------------------------------------------------- */

typedef struct fn_view {
    const char *name, *tag;         /* valid while the registry lock is held */
    unsigned    memory_mb, live, busy;
    faas__sums  s;
} fn_view;

typedef struct view {
    fn_view *fns;
    size_t   n;
    size_t   pending;               /* async calls accepted, not completed */
} view;

/* Requires rt->reg_lock (read). */
static int view_take(faas_runtime *rt, view *v)
{
    v->n = HASH_COUNT(rt->fns);
    v->fns = calloc(v->n ? v->n : 1, sizeof *v->fns);
    if (v->fns == NULL)
        return FAAS_ENOMEM;
    size_t i = 0;
    faas_function *fn, *tmp;
    HASH_ITER(hh, rt->fns, fn, tmp) {
        fn_view *f = &v->fns[i++];
        f->name = fn->name->name;
        f->tag = fn->name->tag;
        f->memory_mb = fn->cfg.memory_mb;
        faas__counters_sum(fn->counters, &f->s);
        faas__pool_counts(fn, &f->live, &f->busy);
    }
    v->pending = faas__sched_pending(rt);
    return FAAS_OK;
}

/* The three histograms of a function. */
enum { H_RUN, H_INIT, H_QUEUE, NHIST };

static const faas__hist *hist_of(const faas_function *fn, int which)
{
    return which == H_RUN ? &fn->hist : which == H_INIT ? &fn->init_hist : &fn->queue_hist;
}

/* Lower-case status names for labels: "ok", "handler", "timeout", ... (FAAS_E dropped). */
static void status_label(int k, char out[24])
{
    const char *n = faas_err_name(-k);
    n += strncmp(n, "FAAS_E", 6) == 0 ? 6 : strncmp(n, "FAAS_", 5) == 0 ? 5 : 0;
    size_t i = 0;
    for (; n[i] && i < 23; i++)
        out[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] - 'A' + 'a' : n[i]);
    out[i] = '\0';
}

/* ---- a growing text buffer ----------------------------------------------------------------- */

typedef struct sbuf {
    char  *p;
    size_t n, cap;
    int    nomem;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) FAAS_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->nomem)
        return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->nomem = 1;
            return;
        }
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap - b->n <= (size_t)k)
            cap *= 2;
        char *bigger = realloc(b->p, cap);
        if (bigger == NULL) {
            b->nomem = 1;
            return;
        }
        b->p = bigger;
        b->cap = cap;
    }
}

/* A label value with Prometheus's escapes (\\, \", \n). */
static void sb_label(sbuf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        if (*s == '\\')
            sb_printf(b, "\\\\");
        else if (*s == '"')
            sb_printf(b, "\\\"");
        else if (*s == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *s);
    }
}

/* Pico-dollars as a decimal number of dollars, exact: 1.200002 */
static void sb_dollars(sbuf *b, uint64_t pusd)
{
    char usd[48];
    faas_format_usd(pusd, -1, usd, sizeof usd);
    sb_printf(b, "%s", usd + 1);            /* without the "$" */
}

static void family(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- Prometheus ------------------------------------------------------------------------------ */

/* Histogram bounds, 1 us to 15 minutes: as Prometheus prints them, and in ns. */
#define NBOUNDS 20
static const char *const bound_le[NBOUNDS] = {
    "1e-06", "1e-05", "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "900",
};
static const uint64_t bound_ns[NBOUNDS] = {
    1000u, 10000u, 100000u, 500000u, 1000000u, 5000000u, 10000000u, 25000000u, 50000000u,
    100000000u, 250000000u, 500000000u, 1000000000u, 2500000000u, 5000000000u,
    10000000000u, 30000000000u, 60000000000u, 300000000000u, 900000000000u,
};

static void prom_histograms(faas_runtime *rt, sbuf *b, faas__hist_snap *snap)
{
    static const struct { const char *name, *help; } fams[NHIST] = {
        { "faas_duration_seconds", "Handler wall time of each run." },
        { "faas_init_duration_seconds", "Load and INIT time of each cold call." },
        { "faas_queue_wait_seconds",
          "Asynchronous calls: from acceptance (or a retry falling due) to the run's start." },
    };
    for (int h = 0; h < NHIST; h++) {
        family(b, fams[h].name, "histogram", fams[h].help);
        faas_function *fn, *tmp;
        HASH_ITER(hh, rt->fns, fn, tmp) {
            memset(snap, 0, sizeof *snap);
            faas__hist_add_to(hist_of(fn, h), snap);
            uint64_t cum[NBOUNDS];
            faas__hist_cumulative(snap, bound_ns, NBOUNDS, cum);
            for (size_t i = 0; i < NBOUNDS; i++)
                sb_printf(b, "%s_bucket{function=\"%s\",le=\"%s\"} %llu\n", fams[h].name,
                          fn->name->name, bound_le[i], (unsigned long long)cum[i]);
            sb_printf(b, "%s_bucket{function=\"%s\",le=\"+Inf\"} %llu\n", fams[h].name,
                      fn->name->name, (unsigned long long)snap->count);
            sb_printf(b, "%s_sum{function=\"%s\"} %.9f\n", fams[h].name, fn->name->name,
                      (double)snap->sum_ns / 1e9);
            sb_printf(b, "%s_count{function=\"%s\"} %llu\n", fams[h].name, fn->name->name,
                      (unsigned long long)snap->count);
        }
    }
}

/* One counter family with one sample per function: offsetof a faas__sums field. */
static void prom_per_function(sbuf *b, const view *v, const char *name, const char *help,
                              size_t off)
{
    family(b, name, "counter", help);
    for (size_t i = 0; i < v->n; i++)
        sb_printf(b, "%s{function=\"%s\"} %llu\n", name, v->fns[i].name,
                  (unsigned long long)*(const uint64_t *)(const void *)
                      ((const char *)&v->fns[i].s + off));
}

int faas_metrics_prometheus(faas_runtime *rt, char **text, size_t *len)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_metrics_prometheus: runtime is NULL");
    if (text == NULL)
        return faas__fail(FAAS_EINVAL, "faas_metrics_prometheus: text is NULL");
    *text = NULL;
    if (len != NULL)
        *len = 0;
    faas__hist_snap *snap = malloc(sizeof *snap);
    if (snap == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_metrics_prometheus: out of memory");
    sbuf b = { 0 };
    view v = { 0 };
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (view_take(rt, &v) != FAAS_OK)
        b.nomem = 1;

    family(&b, "faas_build_info", "gauge", "The libfaas version and the runtime's price model.");
    sb_printf(&b, "faas_build_info{version=\"%s\",price_model=\"", faas_version());
    sb_label(&b, rt->price->name);
    sb_printf(&b, "\"} 1\n");

    family(&b, "faas_invocations_total", "counter",
           "Calls that produced a record, by function and status: ok, a failure (handler, "
           "timeout, memory, load, init, ...), or refused (throttled, budget).");
    for (size_t i = 0; i < v.n; i++) {
        const fn_view *f = &v.fns[i];
        sb_printf(&b, "faas_invocations_total{function=\"%s\",status=\"ok\"} %llu\n", f->name,
                  (unsigned long long)(f->s.invocations - f->s.errors));
        for (int k = 1; k < FAAS__STATUSES; k++) {
            if (f->s.by_status[k] == 0)
                continue;
            char st[24];
            status_label(k, st);
            sb_printf(&b, "faas_invocations_total{function=\"%s\",status=\"%s\"} %llu\n",
                      f->name, st, (unsigned long long)f->s.by_status[k]);
        }
        if (f->s.throttles)
            sb_printf(&b, "faas_invocations_total{function=\"%s\",status=\"throttled\"} "
                      "%llu\n", f->name, (unsigned long long)f->s.throttles);
        if (f->s.budget_refusals)
            sb_printf(&b, "faas_invocations_total{function=\"%s\",status=\"budget\"} %llu\n",
                      f->name, (unsigned long long)f->s.budget_refusals);
    }
    prom_per_function(&b, &v, "faas_cold_starts_total",
                      "Calls that created their instance (load and INIT).",
                      offsetof(faas__sums, cold_starts));
    prom_per_function(&b, &v, "faas_retries_total",
                      "Runs that were retries of an asynchronous call.",
                      offsetof(faas__sums, retries));
    prom_per_function(&b, &v, "faas_dead_letters_total",
                      "Asynchronous calls sent to the function's dead letter.",
                      offsetof(faas__sums, dead_letters));
    prom_per_function(&b, &v, "faas_instance_deaths_total",
                      "Isolated instances found dead between calls (killed from outside, "
                      "out of CPU time) and replaced by a new one for the next call.",
                      offsetof(faas__sums, instance_deaths));

    family(&b, "faas_cost_dollars_total", "counter",
           "What the calls cost at the runtime's price model, in US dollars.");
    for (size_t i = 0; i < v.n; i++) {
        sb_printf(&b, "faas_cost_dollars_total{function=\"%s\",tag=\"", v.fns[i].name);
        sb_label(&b, v.fns[i].tag);
        sb_printf(&b, "\"} ");
        sb_dollars(&b, v.fns[i].s.cost_pusd);
        sb_printf(&b, "\n");
    }
    /* Prometheus wants base units: bytes and seconds (a GB-second is 2^30 of these). */
    family(&b, "faas_billed_byte_seconds_total", "counter",
           "Billed memory times billed duration, in byte-seconds (GB-s x 2^30).");
    for (size_t i = 0; i < v.n; i++) {
        sb_printf(&b, "faas_billed_byte_seconds_total{function=\"%s\",tag=\"", v.fns[i].name);
        sb_label(&b, v.fns[i].tag);
        sb_printf(&b, "\"} %.3f\n", (double)v.fns[i].s.mb_ms * 1048576.0 / 1000.0);
    }

    family(&b, "faas_instances_live", "gauge",
           "Instances alive now: busy, idle or being created.");
    for (size_t i = 0; i < v.n; i++)
        sb_printf(&b, "faas_instances_live{function=\"%s\"} %u\n", v.fns[i].name,
                  v.fns[i].live);
    family(&b, "faas_instances_busy", "gauge", "Instances running a call (or being made).");
    for (size_t i = 0; i < v.n; i++)
        sb_printf(&b, "faas_instances_busy{function=\"%s\"} %u\n", v.fns[i].name,
                  v.fns[i].busy);
    family(&b, "faas_queue_pending", "gauge",
           "Asynchronous calls accepted and not yet completed.");
    sb_printf(&b, "faas_queue_pending %zu\n", v.pending);

    if (!b.nomem)
        prom_histograms(rt, &b, snap);

    pthread_mutex_lock(&rt->budget_lock);
    bool any = false;
    for (faas__budget *bg = rt->budgets; bg != NULL; bg = bg->next)
        any |= bg->active;
    if (any) {
        uint64_t now = faas__now(rt);
        family(&b, "faas_budget_limit_dollars", "gauge", "A tag's budget per window.");
        for (faas__budget *bg = rt->budgets; bg != NULL; bg = bg->next) {
            if (!bg->active)
                continue;
            sb_printf(&b, "faas_budget_limit_dollars{tag=\"");
            sb_label(&b, bg->tag);
            sb_printf(&b, "\"} ");
            sb_dollars(&b, atomic_load(&bg->limit));
            sb_printf(&b, "\n");
        }
        family(&b, "faas_budget_spent_dollars", "gauge",
               "What a tag's functions have cost in the budget's current window.");
        for (faas__budget *bg = rt->budgets; bg != NULL; bg = bg->next) {
            if (!bg->active)
                continue;
            faas__budget_sync(bg, now);
            sb_printf(&b, "faas_budget_spent_dollars{tag=\"");
            sb_label(&b, bg->tag);
            sb_printf(&b, "\"} ");
            sb_dollars(&b, atomic_load(&bg->spent));
            sb_printf(&b, "\n");
        }
    }
    pthread_mutex_unlock(&rt->budget_lock);
    pthread_rwlock_unlock(&rt->reg_lock);
    free(v.fns);
    free(snap);
    if (b.nomem) {
        free(b.p);
        return faas__fail(FAAS_ENOMEM, "faas_metrics_prometheus: out of memory");
    }
    if (b.p == NULL)
        sb_printf(&b, "%s", "");
    *text = b.p;
    if (len != NULL)
        *len = b.n;
    return FAAS_OK;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static json_t *jint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

static json_t *quantiles_json(const faas__hist_snap *h)
{
    return json_pack("{s:o, s:f, s:f, s:f, s:f, s:f, s:f}",
                     "count", jint(h->count),
                     "sum", (double)h->sum_ns / 1e6,
                     "p50", faas__hist_quantile(h, 0.50) / 1e6,
                     "p90", faas__hist_quantile(h, 0.90) / 1e6,
                     "p99", faas__hist_quantile(h, 0.99) / 1e6,
                     "p999", faas__hist_quantile(h, 0.999) / 1e6,
                     "max", (double)h->max_ns / 1e6);
}

static json_t *cost_json(const faas__sums *s, uint64_t request_price)
{
    uint64_t request = s->invocations * request_price;
    char usd[48];
    faas_format_usd(s->cost_pusd, -1, usd, sizeof usd);
    return json_pack("{s:o, s:o, s:f, s:o, s:o, s:o, s:s}",
                     "calls", jint(s->invocations),
                     "mb_ms", jint(s->mb_ms),
                     "gb_seconds", (double)s->mb_ms / 1024000.0,
                     "request_picousd", jint(request),
                     "compute_picousd", jint(faas__compute_part(s->cost_pusd, request)),
                     "total_picousd", jint(s->cost_pusd),
                     "total_usd", usd);
}

/* Views by tag, untagged last. */
static int tag_order(const void *a, const void *b)
{
    const fn_view *x = *(const fn_view *const *)a, *y = *(const fn_view *const *)b;
    if (x->tag == NULL || y->tag == NULL)
        return (x->tag == NULL) - (y->tag == NULL);
    return strcmp(x->tag, y->tag);
}

static json_t *function_json(faas_runtime *rt, faas_function *fn, const fn_view *f,
                             faas__hist_snap *snap)
{
    json_t *status = json_object();
    if (status == NULL)
        return NULL;
    json_object_set_new(status, "ok", jint(f->s.invocations - f->s.errors));
    for (int k = 1; k < FAAS__STATUSES; k++) {
        if (f->s.by_status[k] == 0)
            continue;
        char st[24];
        status_label(k, st);
        json_object_set_new(status, st, jint(f->s.by_status[k]));
    }
    if (f->s.throttles)
        json_object_set_new(status, "throttled", jint(f->s.throttles));
    if (f->s.budget_refusals)
        json_object_set_new(status, "budget", jint(f->s.budget_refusals));
    json_t *q[NHIST];
    for (int h = 0; h < NHIST; h++) {
        memset(snap, 0, sizeof *snap);
        faas__hist_add_to(hist_of(fn, h), snap);
        q[h] = quantiles_json(snap);
    }
    return json_pack("{s:s, s:s?, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
                     " s:{s:i, s:i}, s:o, s:o, s:o, s:o}",
                     "name", f->name, "tag", f->tag, "memory_mb", (int)f->memory_mb,
                     "invocations", jint(f->s.invocations), "errors", jint(f->s.errors),
                     "throttles", jint(f->s.throttles),
                     "cold_starts", jint(f->s.cold_starts), "timeouts", jint(f->s.timeouts),
                     "retries", jint(f->s.retries), "dead_letters", jint(f->s.dead_letters),
                     "budget_refusals", jint(f->s.budget_refusals),
                     "instance_deaths", jint(f->s.instance_deaths),
                     "status", status,
                     "instances", "live", (int)f->live, "busy", (int)f->busy,
                     "cost", cost_json(&f->s, rt->price->request_picousd),
                     "duration_ms", q[H_RUN], "init_ms", q[H_INIT],
                     "queue_wait_ms", q[H_QUEUE]);
}

int faas_metrics_json(faas_runtime *rt, char **text, size_t *len)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_metrics_json: runtime is NULL");
    if (text == NULL)
        return faas__fail(FAAS_EINVAL, "faas_metrics_json: text is NULL");
    *text = NULL;
    if (len != NULL)
        *len = 0;
    faas__hist_snap *snap = malloc(sizeof *snap);
    json_t *root = json_object(), *fns = json_array(), *tags = json_array(),
           *budgets = json_array();
    int nomem = snap == NULL || root == NULL || fns == NULL || tags == NULL ||
                budgets == NULL;
    char when[25];
    faas__format_time(faas__wall(rt), when);
    view v = { 0 };
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (!nomem && view_take(rt, &v) != FAAS_OK)
        nomem = 1;
    size_t i = 0;
    faas_function *fn, *tmp;
    HASH_ITER(hh, rt->fns, fn, tmp) {
        if (nomem)
            break;
        json_t *j = function_json(rt, fn, &v.fns[i++], snap);
        if (j == NULL || json_array_append_new(fns, j) != 0)
            nomem = 1;
    }
    /* Per tag: the sums of its functions (untagged ones under "tag": null), from the
     * functions sorted by tag. */
    const fn_view **by_tag = nomem ? NULL : malloc((v.n ? v.n : 1) * sizeof *by_tag);
    if (by_tag == NULL)
        nomem = 1;
    for (size_t a = 0; a < v.n && !nomem; a++)
        by_tag[a] = &v.fns[a];
    if (!nomem && v.n > 1)
        qsort(by_tag, v.n, sizeof *by_tag, tag_order);
    for (size_t a = 0; a < v.n && !nomem; ) {
        faas__sums t;
        memset(&t, 0, sizeof t);
        size_t c = a;
        for (; c < v.n && tag_order(&by_tag[a], &by_tag[c]) == 0; c++) {
            t.invocations += by_tag[c]->s.invocations;
            t.cost_pusd += by_tag[c]->s.cost_pusd;
            t.mb_ms += by_tag[c]->s.mb_ms;
        }
        json_t *j = json_pack("{s:s?, s:i, s:o}", "tag", by_tag[a]->tag,
                              "functions", (int)(c - a),
                              "cost", cost_json(&t, rt->price->request_picousd));
        if (j == NULL || json_array_append_new(tags, j) != 0)
            nomem = 1;
        a = c;
    }
    free(by_tag);
    pthread_mutex_lock(&rt->budget_lock);
    uint64_t now = faas__now(rt);
    for (faas__budget *b = rt->budgets; b != NULL && !nomem; b = b->next) {
        if (!b->active)
            continue;
        faas__budget_sync(b, now);
        uint64_t w = atomic_load(&b->window_ns);
        uint64_t left = 0;
        if (w != 0) {
            uint64_t end = atomic_load(&b->next_ns);
            left = end > now ? (end - now + 999999u) / 1000000u : 0;
        }
        json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "tag", b->tag,
                              "limit_picousd", jint(atomic_load(&b->limit)),
                              "window_ms", jint(w / 1000000u),
                              "spent_picousd", jint(atomic_load(&b->spent)),
                              "window_left_ms", jint(left),
                              "refusals", jint(atomic_load(&b->refusals)));
        if (j == NULL || json_array_append_new(budgets, j) != 0)
            nomem = 1;
    }
    pthread_mutex_unlock(&rt->budget_lock);
    pthread_rwlock_unlock(&rt->reg_lock);
    if (!nomem) {
        json_object_set_new(root, "version", json_string(faas_version()));
        json_object_set_new(root, "price_model", json_string(rt->price->name));
        json_object_set_new(root, "time", json_string(when));
        json_object_set_new(root, "queue_pending", jint(v.pending));
        json_object_set(root, "functions", fns);
        json_object_set(root, "tags", tags);
        json_object_set(root, "budgets", budgets);
    }
    json_decref(fns);
    json_decref(tags);
    json_decref(budgets);
    char *out = nomem ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    free(v.fns);
    free(snap);
    if (out == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_metrics_json: out of memory");
    /* json_dumps() allocates with jansson's allocator, malloc() unless the host changed
     * it: copy, so that faas_free() is always right. */
    size_t n = strlen(out);
    char *copy = malloc(n + 1);
    if (copy != NULL)
        memcpy(copy, out, n + 1);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(out);
    if (copy == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_metrics_json: out of memory");
    *text = copy;
    if (len != NULL)
        *len = n;
    return FAAS_OK;
}
