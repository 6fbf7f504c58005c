/*
 * metrics.c - counters, the latency histogram and faas_stats_get(). It reads functions
 * through the registry lock and never touches instances beyond their counts.
 */
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Thread_local unsigned faas__tls_shard __attribute__((tls_model("initial-exec")));
_Thread_local bool faas__tls_shard_owned __attribute__((tls_model("initial-exec")));

/* Bit s: shard s (< FAAS__SHARDS_OWNED) is lent to a live thread. A thread gives its shard
 * back when it exits (the key's destructor), with release order; the next thread to take
 * it, with acquire, starts from the values its last owner stored. */
_Static_assert(FAAS__SHARDS_OWNED < 32 && FAAS__SHARDS_OWNED < FAAS__SHARDS,
               "the lent shards fit the bitmap, and some are left to share");
static atomic_uint owned;
static atomic_uint next_shared;
static pthread_once_t lease_once = PTHREAD_ONCE_INIT;
static pthread_key_t lease_key;
static atomic_bool lease_key_made;

static void lease_end(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg - 1;
    /* A call later in this thread's exit (another key's destructor) counts on a shared
     * shard: taking a lease then could outlast the destructors' last round. */
    faas__tls_shard = FAAS__SHARDS_OWNED + 1;
    faas__tls_shard_owned = false;
    atomic_fetch_and_explicit(&owned, ~(1u << s), memory_order_release);
}

/* In a child of fork(), only the forking thread is left: the other owners' shards are
 * free again (their last values are the child's copy). */
static void lease_forked(void)
{
    unsigned mine = faas__tls_shard_owned ? 1u << (faas__tls_shard - 1) : 0;
    atomic_store_explicit(&owned, mine, memory_order_relaxed);
}

static void lease_key_make(void)
{
    if (pthread_key_create(&lease_key, lease_end) == 0) {
        pthread_atfork(NULL, NULL, lease_forked);
        atomic_store(&lease_key_made, true);
    }
}

/* A libfaas linked statically into a module that is unloaded: no thread may run lease_end
 * once its code is gone. (The shared library is linked -z nodelete.) Calls made after
 * this count on the shared shards. */
__attribute__((destructor)) static void lease_key_drop(void)
{
    if (atomic_exchange(&lease_key_made, false))
        pthread_key_delete(lease_key);
}

unsigned faas__shard_assign(void)
{
    pthread_once(&lease_once, lease_key_make);
    unsigned m = atomic_load_explicit(&owned, memory_order_relaxed);
    while (atomic_load_explicit(&lease_key_made, memory_order_relaxed)) {
        unsigned s = (unsigned)__builtin_ctz(~m);
        if (s >= FAAS__SHARDS_OWNED)
            break;                                      /* all lent */
        if (!atomic_compare_exchange_weak_explicit(&owned, &m, m | (1u << s),
                                                   memory_order_acquire,
                                                   memory_order_relaxed))
            continue;
        if (pthread_setspecific(lease_key, (void *)(uintptr_t)(s + 1)) != 0) {
            atomic_fetch_and_explicit(&owned, ~(1u << s), memory_order_release);
            break;
        }
        faas__tls_shard = s + 1;
        faas__tls_shard_owned = true;
        return s;
    }
    unsigned s = FAAS__SHARDS_OWNED +
                 atomic_fetch_add_explicit(&next_shared, 1, memory_order_relaxed) %
                 (FAAS__SHARDS - FAAS__SHARDS_OWNED);
    faas__tls_shard = s + 1;
    faas__tls_shard_owned = false;
    return s;
}

/* The bucket's lowest value and its width. */
static void bucket_range(unsigned b, uint64_t *low, uint64_t *width)
{
    if (b < FAAS__HIST_LINEAR) {
        *low = b;
        *width = 1;
        return;
    }
    unsigned e = (b - FAAS__HIST_LINEAR) / FAAS__HIST_SUB + 7u;
    unsigned mant = (b - FAAS__HIST_LINEAR) % FAAS__HIST_SUB + FAAS__HIST_SUB;
    unsigned shift = e - 6u;
    *low = (uint64_t)mant << shift;
    *width = UINT64_C(1) << shift;
}

/* faas__hist_record's first sample on a shard: its buckets are allocated here. */
void faas__hist_record_slow(faas__hist *h, unsigned shard, uint64_t ns)
{
    _Atomic(atomic_uint_fast64_t *) *slot = &h->buckets[shard];
    atomic_uint_fast64_t *b = atomic_load_explicit(slot, memory_order_acquire);
    if (b == NULL) {
        atomic_uint_fast64_t *fresh = calloc(FAAS__HIST_BUCKETS + 1, sizeof *fresh);
        if (fresh == NULL)
            return;                         /* a sample lost to OOM, never a crash */
        atomic_uint_fast64_t *expected = NULL;
        if (!atomic_compare_exchange_strong_explicit(slot, &expected, fresh,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire))
            free(fresh);
    }
    faas__hist_record_on(h, shard, ns);     /* the buckets are there now */
}

void faas__hist_free(faas__hist *h)
{
    for (unsigned s = 0; s < FAAS__SHARDS; s++) {
        free(atomic_load_explicit(&h->buckets[s], memory_order_relaxed));
        atomic_store_explicit(&h->buckets[s], NULL, memory_order_relaxed);
    }
}

void faas__hist_add_to(const faas__hist *h, faas__hist_snap *snap)
{
    for (unsigned s = 0; s < FAAS__SHARDS; s++) {
        atomic_uint_fast64_t *b =
            atomic_load_explicit(&((faas__hist *)h)->buckets[s], memory_order_acquire);
        if (b == NULL)
            continue;
        for (unsigned i = 0; i < FAAS__HIST_BUCKETS; i++) {
            uint64_t c = atomic_load_explicit(&b[i], memory_order_relaxed);
            snap->buckets[i] += c;
            snap->count += c;
        }
        snap->sum_ns += atomic_load_explicit(&b[FAAS__HIST_BUCKETS], memory_order_relaxed);
    }
    uint64_t m = atomic_load_explicit(&((faas__hist *)h)->max_ns, memory_order_relaxed);
    if (m > snap->max_ns)
        snap->max_ns = m;
}

double faas__hist_quantile(const faas__hist_snap *snap, double q)
{
    if (snap->count == 0)
        return 0.0;
    if (q <= 0.0)
        q = 1e-12;
    if (q > 1.0)
        q = 1.0;
    /* The rank of the q-quantile among count sorted samples, 1-based (nearest rank). */
    double want = q * (double)snap->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < FAAS__HIST_BUCKETS; i++) {
        seen += snap->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            bucket_range(i, &low, &width);
            double mid = (double)low + (double)(width - 1) / 2.0;
            /* Never report more than the largest sample seen. */
            return mid > (double)snap->max_ns ? (double)snap->max_ns : mid;
        }
    }
    return (double)snap->max_ns;
}

void faas__hist_cumulative(const faas__hist_snap *snap, const uint64_t *le_ns, size_t n,
                           uint64_t *out)
{
    uint64_t below = 0;
    size_t k = 0;
    for (unsigned i = 0; i < FAAS__HIST_BUCKETS && k < n; i++) {
        uint64_t low, width;
        bucket_range(i, &low, &width);
        while (k < n && low + width - 1 > le_ns[k])    /* buckets ascend */
            out[k++] = below;
        below += snap->buckets[i];
    }
    while (k < n)
        out[k++] = below;
}

/* ---- counters ----------------------------------------------------------------------- */

void faas__counters_sum(const faas__counters shards[FAAS__SHARDS], faas__sums *out)
{
    memset(out, 0, sizeof *out);
#define SUM(field) out->field += atomic_load_explicit(&c->field, memory_order_relaxed)
    for (unsigned i = 0; i < FAAS__SHARDS; i++) {
        const faas__counters *c = &shards[i];
        SUM(invocations); SUM(cost_pusd); SUM(mb_ms); SUM(unit2_ms); SUM(errors);
        SUM(cold_starts); SUM(retries); SUM(timeouts); SUM(throttles); SUM(dead_letters);
        SUM(budget_refusals); SUM(instance_deaths);
        for (unsigned k = 0; k < FAAS__STATUSES; k++)
            SUM(by_status[k]);
    }
#undef SUM
}

/* ---- faas_stats_get ----------------------------------------------------------------- */

typedef struct snaps {
    faas__hist_snap run, init, queue;
} snaps;

static void add_function(faas_runtime *rt, faas_function *fn, faas_stats *st, snaps *sn)
{
    faas__sums s;
    faas__counters_sum(fn->counters, &s);
    st->invocations     += s.invocations;
    st->errors          += s.errors;
    st->throttles       += s.throttles;
    st->cold_starts     += s.cold_starts;
    st->timeouts        += s.timeouts;
    st->retries         += s.retries;
    st->dead_letters    += s.dead_letters;
    st->cost_picousd    += s.cost_pusd;
    st->budget_refusals += s.budget_refusals;
    st->instance_deaths += s.instance_deaths;
    st->mb_ms           += s.mb_ms;
    /* Every priced record pays the request price once, and every invocation is priced. */
    uint64_t request = s.invocations * rt->price->request_picousd;
    st->request_picousd += request;
    st->compute_picousd += faas__compute_part(s.cost_pusd, request);
    unsigned live, busy;
    faas__pool_counts(fn, &live, &busy);
    st->instances_live += live;
    st->instances_busy += busy;
    faas__hist_add_to(&fn->hist, &sn->run);
    faas__hist_add_to(&fn->init_hist, &sn->init);
    faas__hist_add_to(&fn->queue_hist, &sn->queue);
}

static void quantiles(const faas__hist_snap *h, double *p50, double *p90, double *p99,
                      double *p999, double *max)
{
    *p50 = faas__hist_quantile(h, 0.50) / 1e6;
    *p90 = faas__hist_quantile(h, 0.90) / 1e6;
    *p99 = faas__hist_quantile(h, 0.99) / 1e6;
    *p999 = faas__hist_quantile(h, 0.999) / 1e6;
    *max = (double)h->max_ns / 1e6;
}

int faas_stats_get(faas_runtime *rt, const char *name, faas_stats *out)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_stats_get: runtime is NULL");
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_stats_get: out is NULL");
    faas__qname qn;
    if (name != NULL && faas__qname_parse(name, &qn) != FAAS_OK)
        return faas__fail(FAAS_EINVAL, "faas_stats_get: invalid name \"%.80s\"", name);
    memset(out, 0, sizeof *out);
    snaps *snap = calloc(1, sizeof *snap);
    if (snap == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_stats_get: out of memory");
    int rc = FAAS_OK;
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (name != NULL) {
        faas_function *fn = NULL;
        if (qn.kind == FAAS__Q_NONE)
            HASH_FIND_STR(rt->fns, name, fn);
        else                            /* a version's own counters ("NAME:3") */
            fn = faas__qualified_find(rt, name, false, &rc);
        if (fn == NULL)
            rc = faas__fail(FAAS_ENOTFOUND, "faas_stats_get: no function named \"%.200s\"",
                            name);
        else if (fn->kind == FAAS__ALIAS)
            rc = faas__fail(FAAS_EINVAL, "faas_stats_get: %.200s is an alias: counters are "
                            "per version (ask for NAME:VERSION)", name);
        else
            add_function(rt, fn, out, snap);
    } else {
        faas_function *fn, *tmp;
        HASH_ITER(hh, rt->fns, fn, tmp)
            add_function(rt, fn, out, snap);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc == FAAS_OK) {
        quantiles(&snap->run, &out->p50_ms, &out->p90_ms, &out->p99_ms, &out->p999_ms,
                  &out->max_ms);
        quantiles(&snap->init, &out->init_p50_ms, &out->init_p90_ms, &out->init_p99_ms,
                  &out->init_p999_ms, &out->init_max_ms);
        quantiles(&snap->queue, &out->queue_p50_ms, &out->queue_p90_ms, &out->queue_p99_ms,
                  &out->queue_p999_ms, &out->queue_max_ms);
        out->init_count = snap->init.count;
        out->queue_count = snap->queue.count;
    }
    free(snap);
    return rc;
}
