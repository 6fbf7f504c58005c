/*
 * metrics.h - per-function counters and a log-linear latency histogram, both updated with
 * relaxed atomics only (no lock on the call path) and merged when read.
 */
#ifndef FAAS_METRICS_H
#define FAAS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

/* Counters are kept in FAAS__SHARDS shards a cache line each; a thread adds to its own
 * shard (threads are spread over them round-robin), and readers add the shards up. Two
 * workers running the same function then do not bounce one line between their cores. */
#define FAAS__SHARDS 8

typedef struct faas__counters {
    _Alignas(64) atomic_uint_fast64_t invocations;
    atomic_uint_fast64_t errors, throttles, cold_starts, timeouts, retries, dead_letters,
                         cost_pusd;
} faas__counters;

/* This thread's shard, 0 .. FAAS__SHARDS - 1. */
extern _Thread_local unsigned faas__tls_shard __attribute__((tls_model("initial-exec")));
unsigned faas__shard_assign(void);
static inline unsigned faas__shard(void)
{
    unsigned s = faas__tls_shard;            /* shard + 1; 0 until the first use */
    return s != 0 ? s - 1 : faas__shard_assign();
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
 * threads running the same function do not share the buckets' cache lines. */
typedef struct faas__hist {
    _Atomic(atomic_uint_fast64_t *) buckets[FAAS__SHARDS];
    atomic_uint_fast64_t max_ns;
} faas__hist;

void faas__hist_record(faas__hist *h, uint64_t ns);
void faas__hist_free(faas__hist *h);

/* A merged snapshot for quantiles. */
typedef struct faas__hist_snap {
    uint64_t count, max_ns;
    uint64_t buckets[FAAS__HIST_BUCKETS];
} faas__hist_snap;

void     faas__hist_add_to(const faas__hist *h, faas__hist_snap *snap);
/* The q-quantile (0 < q <= 1) in ns: the midpoint of the bucket holding that rank. */
double   faas__hist_quantile(const faas__hist_snap *snap, double q);

#endif /* FAAS_METRICS_H */
