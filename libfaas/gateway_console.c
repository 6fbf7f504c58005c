/*
 * gateway_console.c - what the gateway's web console (GET /console) reads. Two JSON
 * documents: GET /console/api/state, every function's registration (faas_list()) with its
 * idle instances, and the runtime's counters and quantiles exactly as faas_metrics_json()
 * writes them (one code path: that text is spliced in, not rebuilt); GET
 * /console/api/cost, what was spent (faas_cost_totals), the budgets (faas_budget_get) and
 * the projection of the calls seen since the gateway started onto every price preset
 * (faas_cost_compare over the records recent.c keeps: the code of `faas cost`). It only
 * reads, like /metrics. The page itself is libfaas/console.html, compiled in as
 * faas__console_html (mk/gateway.am generates it).
 */
#include "internal.h"

#include "cost.h"
#include "gateway.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MONTH_S 2592000u      /* 30 days: "a month at the measured rate", as faas bench */
#define MAX_IDLE 64u          /* idle instances listed per function */

/* fn's idle instances, most recently used first, as [{"age_ms","idle_ms","calls"}]. */
static json_t *idle_instances(faas_runtime *rt, const char *name)
{
    faas__idle_info info[MAX_IDLE];
    size_t n = 0;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn;
    HASH_FIND_STR(rt->fns, name, fn);
    if (fn != NULL)
        n = faas__pool_idle(fn, info, MAX_IDLE);
    pthread_rwlock_unlock(&rt->reg_lock);
    uint64_t now = faas__now(rt);
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n && i < MAX_IDLE; i++) {
        const faas__idle_info *x = &info[i];
        json_t *j = json_pack("{s:I, s:I, s:I}",
                              "age_ms", (json_int_t)((now - x->created_ns) / 1000000u),
                              "idle_ms", (json_int_t)((now - x->idle_since_ns) / 1000000u),
                              "calls", (json_int_t)x->calls);
        if (j == NULL || json_array_append_new(a, j) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

/* One function's registration, the console's way (the Lambda one is gateway.c's). */
static json_t *registration(faas_runtime *rt, const faas_function_info *f)
{
    const faas_config *c = &f->config;
    json_t *idle = idle_instances(rt, f->name);
    if (idle == NULL)
        return NULL;
    return json_pack("{s:o, s:s, s:o?, s:o?, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:o?, s:o?}}",
                     "name", faas__json_text(f->name), "kind", f->kind,
                     "module", f->module ? faas__json_text(f->module) : NULL,
                     "symbol", f->symbol ? faas__json_text(f->symbol) : NULL,
                     "instances", idle,
                     "config",
                     "memory_mb", (json_int_t)c->memory_mb,
                     "timeout_ms", (json_int_t)c->timeout_ms,
                     "max_concurrency", (json_int_t)c->max_concurrency,
                     "min_warm", (json_int_t)c->min_warm,
                     "keep_alive_ms", (json_int_t)c->keep_alive_ms,
                     "max_retries", (json_int_t)c->max_retries,
                     "dead_letter", c->dead_letter ? faas__json_text(c->dead_letter) : NULL,
                     "tag", c->tag ? faas__json_text(c->tag) : NULL);
}

int faas__console_state(faas__gw *gw, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    faas_function_info *infos;
    size_t n;
    int rc = faas_list(gw->rt, &infos, &n);
    if (rc != FAAS_OK)
        return rc;
    json_t *fns = json_array();
    for (size_t i = 0; fns != NULL && i < n; i++) {
        json_t *j = registration(gw->rt, &infos[i]);
        if (j == NULL || json_array_append_new(fns, j) != 0) {
            json_decref(fns);
            fns = NULL;
        }
    }
    faas_info_free(infos);
    char *list = fns ? json_dumps(fns, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(fns);
    char *metrics = NULL;
    size_t mlen = 0;
    rc = list ? faas_metrics_json(gw->rt, &metrics, &mlen) : FAAS_ENOMEM;
    if (rc == FAAS_OK) {
        /* {"uptime_ms":N,"functions":[...],"metrics":{...}}: metrics is
         * faas_metrics_json()'s text. */
        char a[64];
        snprintf(a, sizeof a, "{\"uptime_ms\":%llu,\"functions\":",
                 (unsigned long long)((faas__now(gw->rt) - gw->started_ns) / 1000000u));
        static const char b[] = ",\"metrics\":", c[] = "}";
        size_t alen = strlen(a), llen = strlen(list);
        size_t total = alen + llen + sizeof b - 1 + mlen + sizeof c - 1;
        char *out = malloc(total + 1);
        if (out != NULL) {
            char *p = out;
            memcpy(p, a, alen), p += alen;
            memcpy(p, list, llen), p += llen;
            memcpy(p, b, sizeof b - 1), p += sizeof b - 1;
            memcpy(p, metrics, mlen), p += mlen;
            memcpy(p, c, sizeof c);
            *text = out;
            *len = total;
        } else {
            rc = faas__fail(FAAS_ENOMEM, "console state: out of memory");
        }
    } else if (list == NULL) {
        rc = faas__fail(FAAS_ENOMEM, "console state: out of memory");
    }
    if (list != NULL) {
        json_free_t jfree;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(list);
    }
    faas_free(metrics);
    return rc;
}

/* ---- GET /console/api/cost ------------------------------------------------------------ */

static json_t *usd(uint64_t picousd)
{
    char buf[48];
    faas_format_usd(picousd, -1, buf, sizeof buf);
    return json_string(buf);
}

/* {"name","calls","total_usd","total_picousd"} of a row: what function or tag, and cost. */
static json_t *row_json(const faas_cost_row *r)
{
    return json_pack("{s:o, s:I, s:o, s:I}", "name", r->name ? faas__json_text(r->name)
                                                            : json_null(),
                     "calls", (json_int_t)r->calls, "total_usd", usd(r->total_picousd),
                     "total_picousd", (json_int_t)r->total_picousd);
}

/* Append row_json of every row of group g (and model, when not NULL) to a. */
static int rows_into(json_t *a, const faas_cost_row *rows, size_t n, int g, const char *model)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].group != g || (model != NULL && strcmp(rows[i].model, model) != 0))
            continue;
        if (json_array_append_new(a, row_json(&rows[i])) != 0)
            return -1;
    }
    return 0;
}

/* "spent": the runtime's own model, per function and per tag, so far. */
static json_t *spent(faas_runtime *rt)
{
    json_t *o = json_pack("{s:[], s:[]}", "functions", "tags");
    static const int groups[2] = { FAAS_COST_FUNCTION, FAAS_COST_TAG };
    for (int k = 0; o != NULL && k < 2; k++) {
        faas_cost_row *rows = NULL;
        size_t n;
        if (faas_cost_totals(rt, groups[k], &rows, &n) != FAAS_OK ||
            rows_into(json_object_get(o, k ? "tags" : "functions"), rows, n, groups[k],
                      NULL) != 0) {
            json_decref(o);
            o = NULL;
        }
        faas_free(rows);
    }
    return o;
}

/* "budgets": every tag that has one, as faas_budget_get() says. */
static json_t *budgets(faas_runtime *rt)
{
    size_t n = 0, cap = 0;
    char **tags = NULL;
    bool ok = true;
    pthread_mutex_lock(&rt->budget_lock);
    for (faas__budget *b = rt->budgets; b != NULL && ok; b = b->next) {
        if (!b->active)
            continue;
        if (n == cap) {
            char **t = realloc(tags, (cap = cap ? 2 * cap : 8) * sizeof *t);
            ok = t != NULL;
            if (ok)
                tags = t;
        }
        if (ok && (tags[n] = strdup(b->tag)) != NULL)
            n++;
        else
            ok = false;
    }
    pthread_mutex_unlock(&rt->budget_lock);
    json_t *a = ok ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        faas_budget bud = { 0 };
        if (a != NULL && faas_budget_get(rt, tags[i], &bud) == FAAS_OK) {
            json_t *j = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I}",
                                  "tag", faas__json_text(tags[i]),
                                  "limit_usd", usd(bud.limit_picousd),
                                  "spent_usd", usd(bud.spent_picousd),
                                  "limit_picousd", (json_int_t)bud.limit_picousd,
                                  "spent_picousd", (json_int_t)bud.spent_picousd,
                                  "window_ms", (json_int_t)bud.window_ms,
                                  "window_left_ms", (json_int_t)bud.window_left_ms,
                                  "refusals", (json_int_t)bud.refusals);
            if (j == NULL || json_array_append_new(a, j) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        free(tags[i]);
    }
    free(tags);
    return a;
}

/* "projection": the records seen since the gateway started, priced on every preset at
 * their rate for a month (faas_cost_compare: free tiers and fixed fees applied). */
static json_t *projection(faas__gw *gw)
{
    faas_record *recs = NULL;
    size_t n = 0;
    uint64_t total = 0, since = 0;
    if (faas__recent_copy(gw->rt, &recs, &n, &total, &since) != FAAS_OK)
        return NULL;
    double up_s = (double)(faas__now(gw->rt) - since) / 1e9;
    double rate = up_s > 0 ? (double)total / up_s : 0;
    uint64_t monthly = (uint64_t)(rate * MONTH_S + 0.5);
    if (monthly == 0 && total > 0)
        monthly = 1;
    json_t *o = json_pack("{s:I, s:I, s:f, s:I, s:[]}", "sample_calls", (json_int_t)n,
                          "recorded_calls", (json_int_t)total, "per_second", rate,
                          "monthly_calls", (json_int_t)monthly, "models");
    faas_cost_row *rows = NULL;
    size_t nrows = 0;
    if (o != NULL && n > 0 &&
        faas_cost_compare(recs, n, monthly, NULL, 0, &rows, &nrows) != FAAS_OK) {
        json_decref(o);
        o = NULL;
    }
    json_t *models = o ? json_object_get(o, "models") : NULL;
    for (size_t i = 0; models != NULL && i < nrows; i++) {
        const faas_cost_row *r = &rows[i];
        if (r->group != FAAS_COST_TOTAL)
            continue;
        json_t *m = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:b, s:[], s:[]}",
                              "model", r->model, "total_usd", usd(r->total_picousd),
                              "request_usd", usd(r->request_picousd),
                              "compute_usd", usd(r->compute_picousd),
                              "fixed_usd", usd(r->fixed_picousd),
                              "free_usd", usd(r->free_picousd),
                              "total_picousd", (json_int_t)r->total_picousd,
                              "cpu_estimated", r->cpu_estimated, "functions", "tags");
        if (m == NULL || json_array_append_new(models, m) != 0 ||
            rows_into(json_object_get(m, "functions"), rows, nrows, FAAS_COST_FUNCTION,
                      r->model) != 0 ||
            rows_into(json_object_get(m, "tags"), rows, nrows, FAAS_COST_TAG, r->model) != 0) {
            json_decref(o);
            o = models = NULL;
        }
    }
    faas_free(rows);
    free(recs);
    return o;
}

int faas__console_cost(faas__gw *gw, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    json_t *doc = json_pack("{s:I, s:s, s:o?, s:o?, s:o?}",
                            "uptime_ms",
                            (json_int_t)((faas__now(gw->rt) - gw->started_ns) / 1000000u),
                            "model", gw->rt->price->name, "spent", spent(gw->rt),
                            "budgets", budgets(gw->rt), "projection", projection(gw));
    if (doc == NULL || json_object_size(doc) != 5) {
        json_decref(doc);
        return faas__fail(FAAS_ENOMEM, "console cost: out of memory");
    }
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (s == NULL)
        return faas__fail(FAAS_ENOMEM, "console cost: out of memory");
    /* The gateway frees bodies with free(): hand it a copy if jansson allocates otherwise. */
    *len = strlen(s);
    *text = malloc(*len + 1);
    if (*text != NULL)
        memcpy(*text, s, *len + 1);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
    return *text ? FAAS_OK : faas__fail(FAAS_ENOMEM, "console cost: out of memory");
}
