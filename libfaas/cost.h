/*
 * cost.h - price models, the billing arithmetic of one call, and per-tag budgets. Money
 * is integer pico-dollars (1e-12 USD) everywhere; nothing here is a float. The public
 * model is faas_price_model (faas.h); this header holds what the call path inlines.
 */
#ifndef FAAS_COST_H
#define FAAS_COST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "faas.h"

/* ---- models ------------------------------------------------------------------------- */

/* A copy of m in one allocation (its strings included), freed with free(); NULL on
 * ENOMEM. m must have passed faas__price_check. */
faas_price_model *faas__price_dup(const faas_price_model *m);
/* FAAS_OK, or FAAS_EINVAL with faas_last_error() naming the field that is wrong. */
int faas__price_check(const faas_price_model *m);

/* What one function pays per billed millisecond, fixed at registration by its memory
 * size (with FAAS_MEMORY_OBSERVED the memory part is recomputed per call). */
typedef struct faas__fnprice {
    uint32_t billed_mb;     /* billed memory: configured, bucketed, at least the minimum;
                               1024 with FAAS_MEMORY_NONE, so that MB-ms / 1,024,000 is s */
    uint32_t milli_units;   /* the second dimension's tier for the configured memory */
    uint64_t mem_price;     /* billed_mb x gbs_picousd; per ms it is / 1,024,000 */
    uint64_t unit2_price;   /* milli_units x unit2_picousd; per ms it is / 1,000,000 */
} faas__fnprice;

void faas__price_fn(const faas_price_model *m, uint32_t memory_mb, faas__fnprice *out);

/* round-half-up(a x b / d), exact for any inputs: 64-bit when it fits, else 128-bit. */
static inline uint64_t faas__mul_div(uint64_t a, uint64_t b, uint64_t d)
{
    uint64_t prod;
    if (!__builtin_mul_overflow(a, b, &prod) && prod <= UINT64_MAX - d / 2)
        return (prod + d / 2) / d;
    unsigned __int128 wide = (unsigned __int128)a * b + d / 2;
    wide /= d;
    return wide > UINT64_MAX ? UINT64_MAX : (uint64_t)wide;
}

/* Billed milliseconds for ns of billable time: rounded up to the quantum, then at least
 * min_ms. 1 ms models (AWS, Azure) need no second division. */
static inline uint32_t faas__billed_ms(const faas_price_model *p, uint64_t ns)
{
    uint64_t ms = (ns + 999999u) / 1000000u;
    uint64_t q = p->quantum_ms;
    if (q > 1)
        ms = (ms + q - 1) / q * q;
    if (ms < p->min_ms)
        ms = p->min_ms;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Billed memory for a call that used `bytes` of its arena (FAAS_MEMORY_OBSERVED). */
static inline uint32_t faas__observed_mb(const faas_price_model *p, uint64_t bytes)
{
    uint64_t mb = (bytes + (1u << 20) - 1) >> 20;
    uint64_t b = p->memory_bucket_mb;
    if (b > 1)
        mb = (mb + b - 1) / b * b;
    if (mb < p->min_memory_mb)
        mb = p->min_memory_mb;
    return mb > UINT32_MAX ? UINT32_MAX : (uint32_t)mb;
}

/* One call's bill. */
typedef struct faas__bill {
    uint32_t billed_ms, billed_mb;
    uint64_t compute_pusd;          /* both dimensions; the request price is separate */
    uint64_t mb_ms;                 /* billed_mb x billed_ms */
    uint64_t unit2_ms;              /* milli-units x billed_ms */
} faas__bill;

/* Bill a call: billable time = duration (CPU time with FAAS_TIME_CPU) + INIT on a cold
 * call when the model bills it, rounded (faas__billed_ms); compute = round-half-up(billed
 * ms x billed MB x price per GB-s / 1,024,000) + round-half-up(billed ms x milli-units x
 * price per unit-s / 1,000,000). */
static inline void faas__bill_call(const faas_price_model *p, const faas__fnprice *fp,
                                   const faas_record *r, faas__bill *b)
{
    uint64_t billable = p->time_basis == FAAS_TIME_CPU ? r->cpu_ns : r->duration_ns;
    if (r->cold && p->bill_init)
        billable += r->init_ns;
    uint32_t ms = faas__billed_ms(p, billable);
    uint32_t mb = fp->billed_mb;
    uint64_t mem_price = fp->mem_price;
    if (__builtin_expect(p->memory_basis == FAAS_MEMORY_OBSERVED, 0)) {
        mb = faas__observed_mb(p, r->max_memory_bytes);
        mem_price = (uint64_t)mb * p->gbs_picousd;
    }
    b->billed_ms = ms;
    b->billed_mb = mb;
    b->mb_ms = (uint64_t)mb * ms;
    b->compute_pusd = faas__mul_div(mem_price, ms, 1024000u);
    b->unit2_ms = 0;
    if (__builtin_expect(fp->unit2_price != 0, 0)) {
        b->unit2_ms = (uint64_t)fp->milli_units * ms;
        b->compute_pusd += faas__mul_div(fp->unit2_price, ms, 1000000u);
    }
}

/* ---- budgets ------------------------------------------------------------------------ */

/* A tag's budget. Made by faas_budget_set() and kept until the runtime is freed (a call
 * may hold a pointer to it), so removing one only deactivates it. The call path reads it
 * without a lock: a check before the call, an addition after it. Only the move to a new
 * window takes `roll`. A call counts in the window in which it ended; one ending while
 * another thread moves the window may count in the next. */
typedef struct faas__budget {
    struct faas__budget *next;          /* rt->budgets; under rt->budget_lock */
    char                *tag;
    atomic_uint_fast64_t limit;         /* pico-dollars per window */
    atomic_uint_fast64_t window_ns;     /* 0: one window for ever */
    atomic_uint_fast64_t origin_ns;     /* when window 0 began */
    atomic_uint_fast64_t window;        /* the window `spent` belongs to */
    atomic_uint_fast64_t next_ns;       /* when it ends (UINT64_MAX: never) */
    atomic_uint_fast64_t spent;         /* pico-dollars in that window */
    atomic_uint_fast64_t refusals;      /* calls refused, every window */
    bool                 active;        /* not removed; under rt->budget_lock */
    pthread_mutex_t      roll;          /* serialises moves to a new window and resets */
} faas__budget;

/* Move to the window of `now` if it began since; requires nothing. */
void faas__budget_roll(faas__budget *b, uint64_t now);

static inline void faas__budget_sync(faas__budget *b, uint64_t now)
{
    if (now >= atomic_load_explicit(&b->next_ns, memory_order_relaxed))
        faas__budget_roll(b, now);
}

/* Is the current window's spending under the limit? A call may start if so; when not, the
 * caller moves the budget to the window of now (faas__budget_sync) and asks again, so the
 * clock is read only when a window is spent: a new window can only lower the spending. */
static inline bool faas__budget_under(faas__budget *b)
{
    return atomic_load_explicit(&b->spent, memory_order_relaxed) <
           atomic_load_explicit(&b->limit, memory_order_relaxed);
}

/* A call that ended at `now` cost pusd. */
static inline void faas__budget_charge(faas__budget *b, uint64_t now, uint64_t pusd)
{
    faas__budget_sync(b, now);
    atomic_fetch_add_explicit(&b->spent, pusd, memory_order_relaxed);
}

#endif /* FAAS_COST_H */
