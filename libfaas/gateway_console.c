/*
 * gateway_console.c - what the gateway's web console (GET /console) reads: one JSON
 * document, GET /console/api/state, with every function's registration (faas_list()) and
 * the runtime's counters and quantiles exactly as faas_metrics_json() writes them (one
 * code path: that text is spliced in, not rebuilt). It only reads, like /metrics, and
 * touches nothing an invocation uses. The page itself is libfaas/console.html, compiled
 * in as faas__console_html (mk/gateway.am generates it).
 */
#include "internal.h"

#include "gateway.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* One function's registration, the console's way (the Lambda one is gateway.c's). */
static json_t *registration(const faas_function_info *f)
{
    const faas_config *c = &f->config;
    return json_pack("{s:o, s:s, s:o?, s:o?, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:o?, s:o?}}",
                     "name", faas__json_text(f->name), "kind", f->kind,
                     "module", f->module ? faas__json_text(f->module) : NULL,
                     "symbol", f->symbol ? faas__json_text(f->symbol) : NULL,
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
        json_t *j = registration(&infos[i]);
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
        /* {"functions":[...],"metrics":{...}}: metrics is faas_metrics_json()'s text. */
        static const char a[] = "{\"functions\":", b[] = ",\"metrics\":", c[] = "}";
        size_t llen = strlen(list);
        size_t total = sizeof a - 1 + llen + sizeof b - 1 + mlen + sizeof c - 1;
        char *out = malloc(total + 1);
        if (out != NULL) {
            char *p = out;
            memcpy(p, a, sizeof a - 1), p += sizeof a - 1;
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
