/*
 * cost.h - price models and the billing arithmetic of one call. Money is integer
 * pico-dollars (1e-12 USD) everywhere; nothing here is a float.
 */
#ifndef FAAS_COST_H
#define FAAS_COST_H

#include <stdbool.h>
#include <stdint.h>

typedef struct faas__price {
    const char *name;           /* "aws-lambda-x86" */
    uint64_t    request_pusd;   /* per request */
    uint64_t    gbs_pusd;       /* per GB-second of configured memory (GB = 1024 MB) */
    uint32_t    quantum_ms;     /* billing granularity */
    bool        bill_init;      /* a cold call's INIT time is billed */
    bool        cpu_basis;      /* duration is CPU time, not wall time */
    const char *read_on;        /* the date the figures were read */
    const char *source;         /* where they were read */
} faas__price;

/* The preset of that name, or NULL. */
const faas__price *faas__price_find(const char *name);

/* Billed milliseconds for ns of billable time: rounded up to the quantum, at least one. */
static inline uint32_t faas__billed_ms(const faas__price *p, uint64_t ns)
{
    uint64_t ms = (ns + 999999u) / 1000000u;
    uint64_t q = p->quantum_ms;
    if (q > 1)                          /* 1 ms (AWS, Azure) needs no second division */
        ms = (ms + q - 1) / q * q;
    if (ms == 0)
        ms = q ? q : 1;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* request price + round-half-up(billed_ms x memory_mb x price per GB-s / 1,024,000), where
 * mem_price = memory_mb x price per GB-s; exact for any inputs (128-bit on overflow). */
static inline uint64_t faas__cost_pusd(const faas__price *p, uint64_t mem_price,
                                       uint32_t billed_ms)
{
    uint64_t prod;
    uint64_t compute;
    if (!__builtin_mul_overflow(mem_price, (uint64_t)billed_ms, &prod) &&
        prod <= UINT64_MAX - 512000u) {
        compute = (prod + 512000u) / 1024000u;
    } else {
        unsigned __int128 wide = (unsigned __int128)mem_price * billed_ms + 512000u;
        compute = (uint64_t)(wide / 1024000u);
    }
    return p->request_pusd + compute;
}

#endif /* FAAS_COST_H */
