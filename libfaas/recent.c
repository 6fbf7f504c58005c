/*
 * recent.c - the runtime's last records, kept while someone looks: the gateway's console
 * prices them on every preset (faas_cost_compare) to project the workload it sees. Nothing
 * is kept, and a call pays nothing, until faas__recent_start(); then the record hook (see
 * faas__hook in internal.h) files each record here before the user's hook sees it.
 *
 * A ring of RING records under one mutex. The strings a record points to are the
 * function's and may go with it, so they are interned here (a set freed with the ring);
 * past MAX_NAMES distinct strings a record is counted but not kept.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "uthash.h"

#define RING      4096u         /* records kept: the last calls, what a projection prices */
#define MAX_NAMES 4096u         /* distinct function names and tags interned */

typedef struct interned {
    UT_hash_handle hh;
    char           text[];
} interned;

struct faas__recent {
    pthread_mutex_t lock;
    faas_record     ring[RING];
    size_t          head;       /* the next slot written */
    size_t          count;      /* slots in use, up to RING */
    uint64_t        total;      /* records filed since the start (kept or not) */
    uint64_t        since_ns;   /* the start, on the runtime's clock */
    interned       *names;
    unsigned        nnames;
    interned       *last[2];    /* the function and the tag interned last: most calls
                                   name them again, and a strcmp beats a hash */
};

/* Requires r->lock. The interned copy of s, or NULL (out of memory, or too many); *last
 * remembers it for the next call. */
static const char *intern_locked(faas__recent *r, const char *s, interned **last)
{
    interned *e = *last;
    if (e != NULL && strcmp(e->text, s) == 0)
        return e->text;
    size_t n = strlen(s);
    HASH_FIND(hh, r->names, s, n, e);
    if (e == NULL) {
        if (r->nnames >= MAX_NAMES || (e = malloc(sizeof *e + n + 1)) == NULL)
            return NULL;
        memcpy(e->text, s, n + 1);
        HASH_ADD_KEYPTR(hh, r->names, e->text, n, e);
        r->nnames++;
    }
    *last = e;
    return e->text;
}

void faas__recent_hook(const faas_record *rec, void *arg)
{
    const faas__hook *h = arg;
    faas__recent *r = h->recent;
    pthread_mutex_lock(&r->lock);
    r->total++;
    const char *fn = rec->function ? intern_locked(r, rec->function, &r->last[0]) : NULL;
    const char *tag = rec->tag ? intern_locked(r, rec->tag, &r->last[1]) : NULL;
    if ((fn != NULL || rec->function == NULL) && (tag != NULL || rec->tag == NULL)) {
        faas_record *slot = &r->ring[r->head];
        *slot = *rec;
        slot->function = fn;
        slot->tag = tag;
        r->head = (r->head + 1) % RING;
        if (r->count < RING)
            r->count++;
    }
    pthread_mutex_unlock(&r->lock);
    if (h->user != NULL)
        h->user(rec, h->user_arg);
}

int faas__recent_start(faas_runtime *rt)
{
    int rc = FAAS_OK;
    pthread_mutex_lock(&rt->hook_lock);
    if (rt->recent == NULL) {
        faas__recent *r = calloc(1, sizeof *r);
        if (r == NULL) {
            pthread_mutex_unlock(&rt->hook_lock);
            return faas__fail(FAAS_ENOMEM, "recent records: out of memory");
        }
        pthread_mutex_init(&r->lock, NULL);
        rt->recent = r;
    }
    if (rt->recent_users == 0) {
        /* A new watch: what an earlier one kept is not this one's workload. */
        faas__recent *r = rt->recent;
        pthread_mutex_lock(&r->lock);
        r->head = r->count = 0;
        r->total = 0;
        r->since_ns = faas__now(rt);
        pthread_mutex_unlock(&r->lock);
        rt->recent_users = 1;
        rc = faas__hook_publish_locked(rt);
        if (rc != FAAS_OK)
            rt->recent_users = 0;
    } else {
        rt->recent_users++;
    }
    pthread_mutex_unlock(&rt->hook_lock);
    return rc;
}

void faas__recent_stop(faas_runtime *rt)
{
    pthread_mutex_lock(&rt->hook_lock);
    if (rt->recent_users > 0 && --rt->recent_users == 0 &&
        faas__hook_publish_locked(rt) != FAAS_OK)
        rt->recent_users = 1;   /* out of memory: keep filing rather than lose the user's hook */
    pthread_mutex_unlock(&rt->hook_lock);
}

int faas__recent_copy(faas_runtime *rt, faas_record **recs, size_t *n, uint64_t *total,
                      uint64_t *since_ns)
{
    *recs = NULL;
    *n = 0;
    pthread_mutex_lock(&rt->hook_lock);
    faas__recent *r = rt->recent_users > 0 ? rt->recent : NULL;
    pthread_mutex_unlock(&rt->hook_lock);
    if (r == NULL)      /* never freed before the runtime: safe to use unlocked from here */
        return faas__fail(FAAS_ENOTFOUND, "no recent records are kept");
    pthread_mutex_lock(&r->lock);
    /* The records, then every string they name, in one block. */
    size_t strings = 0;
    for (size_t i = 0; i < r->count; i++) {
        const faas_record *x = &r->ring[i];
        strings += (x->function ? strlen(x->function) + 1 : 0) + (x->tag ? strlen(x->tag) + 1 : 0);
    }
    faas_record *out = malloc(r->count * sizeof *out + strings + 1);
    if (out == NULL) {
        pthread_mutex_unlock(&r->lock);
        return faas__fail(FAAS_ENOMEM, "recent records: out of memory");
    }
    char *p = (char *)(out + r->count);
    size_t first = r->count < RING ? 0 : r->head;
    for (size_t i = 0; i < r->count; i++) {
        out[i] = r->ring[(first + i) % RING];
        const char **s[2] = { &out[i].function, &out[i].tag };
        for (int k = 0; k < 2; k++) {
            if (*s[k] == NULL)
                continue;
            size_t len = strlen(*s[k]) + 1;
            memcpy(p, *s[k], len);
            *s[k] = p;
            p += len;
        }
    }
    *recs = out;
    *n = r->count;
    *total = r->total;
    *since_ns = r->since_ns;
    pthread_mutex_unlock(&r->lock);
    return FAAS_OK;
}

void faas__recent_free(faas__recent *r)
{
    if (r == NULL)
        return;
    interned *e, *tmp;
    HASH_ITER(hh, r->names, e, tmp) {
        HASH_DEL(r->names, e);
        free(e);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}
