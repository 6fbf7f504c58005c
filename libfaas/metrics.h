/*
 * metrics.h - per-function counters and a log-linear latency histogram, both updated with
 * relaxed atomics only (no lock on the call path, and no locked instruction on a shard
 * that one thread owns) and merged when read.
 */
#ifndef FAAS_METRICS_H
#define FAAS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Counters are kept in FAAS__SHARDS shards, each starting on its own cache line; a thread
 * adds to its own shard, and readers add the shards up. Two workers running the same
 * function then do not bounce one line between their cores. A successful call touches
 * only the first line of its shard.
 *
 * The first FAAS__SHARDS_OWNED shards are each lent to one thread at a time, from its
 * first call until it exits: the only thread that writes them, it adds with a plain load
 * and store (a locked add was ~40 ns of every call: 5 to 7 of them). Threads that find
 * them all taken share the others round-robin, with atomic adds. */
#define FAAS__SHARDS       16
#define FAAS__SHARDS_OWNED 12

/* Room for every status by its negated code (FAAS_OK .. FAAS_ENOTSUP is 0 .. 16); a code
 * past it counts in the last slot. */
#define FAAS__STATUSES 24

typedef struct faas__counters {
    /* The first cache line is what every call touches; the rest, failures and refusals. */
    _Alignas(64) atomic_uint_fast64_t invocations;
    atomic_uint_fast64_t cost_pusd,
                         mb_ms,           /* billed MB x billed ms */
                         unit2_ms,        /* second dimension: milli-units x billed ms */
                         errors, cold_starts, retries, timeouts;
    atomic_uint_fast64_t throttles, dead_letters, budget_refusals,
                         instance_deaths;  /* idle instances found dead and replaced */
    atomic_uint_fast64_t by_status[FAAS__STATUSES];   /* failed runs by status */
} faas__counters;

/* One function's counters added up over the shards. */
typedef struct faas__sums {
    uint64_t invocations, cost_pusd, mb_ms, unit2_ms, errors, cold_starts, retries, timeouts,
             throttles, dead_letters, budget_refusals, instance_deaths;
    uint64_t by_status[FAAS__STATUSES];
} faas__sums;

void faas__counters_sum(const faas__counters shards[FAAS__SHARDS], faas__sums *out);

/* This thread's shard, 0 .. FAAS__SHARDS - 1. */
extern _Thread_local unsigned faas__tls_shard __attribute__((tls_model("initial-exec")));
extern _Thread_local bool faas__tls_shard_owned __attribute__((tls_model("initial-exec")));
unsigned faas__shard_assign(void);
static inline unsigned faas__shard(void)
{
    unsigned s = faas__tls_shard;            /* shard + 1; 0 until the first use */
    return s != 0 ? s - 1 : faas__shard_assign();
}

/* The compute part of a cost summed over shards while calls run: a reader may see a
 * call counted in invocations (so its request price) before its cost. */
static inline uint64_t faas__compute_part(uint64_t cost, uint64_t request)
{
    return cost > request ? cost - request : 0;
}

/* Add v to a counter of this thread's shard (faas__shard() first); owned: the shard is
 * this thread's alone (faas__tls_shard_owned, read once by a caller that counts often). */
static inline void faas__count_on(bool owned, atomic_uint_fast64_t *c, uint64_t v)
{
    if (__builtin_expect(owned, 1))
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* Buckets: values below 128 ns are exact; above, each power of two is cut in 64 equal
 * sub-buckets, so a bucket's midpoint is within 1/128 (0.8%) of any value in it.
 * Values are clamped to 2^42 ns (73 minutes). */
#define FAAS__HIST_LINEAR 128u
#define FAAS__HIST_SUB    64u
#define FAAS__HIST_TOPBIT 41u
#define FAAS__HIST_BUCKETS \
    (FAAS__HIST_LINEAR + (FAAS__HIST_TOPBIT - 6u) * FAAS__HIST_SUB)

/* One set of buckets per thread shard that has recorded a sample (allocated then), so
 * threads running the same function do not share the buckets' cache lines. Each set has
 * one more slot after the buckets: the sum of its samples in ns (Prometheus's _sum). */
typedef struct faas__hist {
    _Atomic(atomic_uint_fast64_t *) buckets[FAAS__SHARDS];
    atomic_uint_fast64_t max_ns;
} faas__hist;

/* The bucket of a value in ns. */
static inline unsigned faas__hist_bucket(uint64_t v)
{
    if (v < FAAS__HIST_LINEAR)
        return (unsigned)v;
    if (v >> (FAAS__HIST_TOPBIT + 1))
        v = (UINT64_C(1) << (FAAS__HIST_TOPBIT + 1)) - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);     /* 7 .. TOPBIT */
    unsigned shift = e - 6u;
    unsigned mant = (unsigned)(v >> shift);             /* 64 .. 127 */
    return FAAS__HIST_LINEAR + (e - 7u) * FAAS__HIST_SUB + (mant - FAAS__HIST_SUB);
}

void faas__hist_record_slow(faas__hist *h, unsigned shard, uint64_t ns);

/* Record a sample from the thread whose shard is `shard` (faas__shard()); owned: as
 * faas__count_on's (a constant where the caller has branched on it once). Inline: it is
 * on every call's path; only a shard's first sample leaves it, to allocate its buckets. */
static inline __attribute__((always_inline)) void
faas__hist_record_owned(faas__hist *h, unsigned shard, uint64_t ns, bool owned)
{
    atomic_uint_fast64_t *b = atomic_load_explicit(&h->buckets[shard], memory_order_acquire);
    if (__builtin_expect(b == NULL, 0)) {
        faas__hist_record_slow(h, shard, ns);
        return;
    }
    faas__count_on(owned, &b[faas__hist_bucket(ns)], 1);
    faas__count_on(owned, &b[FAAS__HIST_BUCKETS], ns);     /* the sum */
    uint64_t m = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    while (ns > m && !atomic_compare_exchange_weak_explicit(&h->max_ns, &m, ns,
                                                            memory_order_relaxed,
                                                            memory_order_relaxed))
        ;
}

static inline void faas__hist_record_on(faas__hist *h, unsigned shard, uint64_t ns)
{
    faas__hist_record_owned(h, shard, ns, faas__tls_shard_owned);
}

static inline void faas__hist_record(faas__hist *h, uint64_t ns)
{
    faas__hist_record_on(h, faas__shard(), ns);
}
void faas__hist_free(faas__hist *h);

/* A merged snapshot for quantiles. */
typedef struct faas__hist_snap {
    uint64_t count, max_ns, sum_ns;
    uint64_t buckets[FAAS__HIST_BUCKETS];
} faas__hist_snap;

void     faas__hist_add_to(const faas__hist *h, faas__hist_snap *snap);
/* The q-quantile (0 < q <= 1) in ns: the midpoint of the bucket holding that rank. */
double   faas__hist_quantile(const faas__hist_snap *snap, double q);
/* For each of the n ascending bounds le_ns[i], the samples of at most that many ns, in
 * one pass: whole buckets whose every value is <= the bound (a bucket that straddles it
 * counts in the next bound: off by less than 1/64 of the bound). */
void faas__hist_cumulative(const faas__hist_snap *snap, const uint64_t *le_ns, size_t n,
                           uint64_t *out);

#endif /* FAAS_METRICS_H */
