/*
 * metrics.h - per-function counters and a log-linear latency histogram, both updated with
 * relaxed atomics only (no lock on the call path) and merged when read.
 */
#ifndef FAAS_METRICS_H
#define FAAS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct faas__counters {
    atomic_uint_fast64_t invocations, errors, throttles, cold_starts, timeouts, retries,
                         dead_letters, cost_pusd;
} faas__counters;

/* Buckets: values below 128 ns are exact; above, each power of two is cut in 64 equal
 * sub-buckets, so a bucket's midpoint is within 1/128 (0.8%) of any value in it.
 * Values are clamped to 2^42 ns (73 minutes). */
#define FAAS__HIST_LINEAR 128u
#define FAAS__HIST_SUB    64u
#define FAAS__HIST_TOPBIT 41u
#define FAAS__HIST_BUCKETS \
    (FAAS__HIST_LINEAR + (FAAS__HIST_TOPBIT - 6u) * FAAS__HIST_SUB)

typedef struct faas__hist {
    _Atomic(atomic_uint_fast64_t *) buckets;  /* allocated at the first sample */
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
