/* primes.c - a module whose INIT does real work: faas_init builds a sieve of the primes
 * below 2^22 once per instance, so its cold start is visible and its warm calls are fast.
 * The handler answers {"n":N,"prime":true|false,"count_below":K} for a payload "N". */
#include <faas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LIMIT (1u << 22)

/* What libfaas looks up in this module: the handler and the optional INIT/SHUTDOWN hooks. */
int primes(faas_ctx *ctx, const void *payload, size_t len);
int faas_init(void **state, const char *function);
void faas_shutdown(void *state);

typedef struct sieve {
    uint8_t  *composite;     /* composite[i] != 0 when i is not prime */
    uint32_t *below;         /* below[i >> 10]: primes below i & ~1023 */
} sieve;

int faas_init(void **state, const char *function)
{
    (void)function;
    sieve *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->composite = calloc(LIMIT, 1);
        s->below = calloc(LIMIT / 1024 + 1, sizeof *s->below);
    }
    if (s == NULL || s->composite == NULL || s->below == NULL) {
        if (s != NULL) {
            free(s->composite);
            free(s->below);
            free(s);
        }
        /* With a NULL ctx, faas_fail() from faas_init sets the INIT failure's message. */
        faas_fail(NULL, NULL, "primes: out of memory for a %u-entry sieve", LIMIT);
        return -1;
    }
    s->composite[0] = s->composite[1] = 1;
    for (uint32_t i = 2; (uint64_t)i * i < LIMIT; i++)
        if (!s->composite[i])
            for (uint32_t j = i * i; j < LIMIT; j += i)
                s->composite[j] = 1;
    uint32_t count = 0;
    for (uint32_t i = 0; i < LIMIT; i++) {
        if ((i & 1023) == 0)
            s->below[i >> 10] = count;
        count += !s->composite[i];
    }
    *state = s;
    return 0;
}

void faas_shutdown(void *state)
{
    sieve *s = state;
    free(s->composite);
    free(s->below);
    free(s);
}

int primes(faas_ctx *ctx, const void *payload, size_t len)
{
    const sieve *s = faas_ctx_state(ctx);
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return faas_fail(ctx, "InvalidInput", "expected a number below %u", LIMIT);
    for (size_t i = 0; i < len; i++)
        buf[i] = ((const char *)payload)[i];
    buf[len] = '\0';
    char *end;
    unsigned long n = strtoul(buf, &end, 10);
    if (*end != '\0' || n >= LIMIT)
        return faas_fail(ctx, "InvalidInput", "expected a number below %u, got \"%s\"",
                         LIMIT, buf);
    uint32_t count = s->below[n >> 10];
    for (uint32_t i = (uint32_t)n & ~1023u; i < n; i++)
        count += !s->composite[i];
    char out[96];
    int m = snprintf(out, sizeof out, "{\"n\":%lu,\"prime\":%s,\"count_below\":%u}", n,
                     s->composite[n] ? "false" : "true", count);
    return faas_reply(ctx, out, (size_t)m);
}
