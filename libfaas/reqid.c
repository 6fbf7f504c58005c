/*
 * reqid.c - request ids: RFC 4122 version-4 UUID text from a per-thread wyrand generator
 * seeded once per thread from getrandom(), so an id costs no system call. A fork()
 * reseeds, so parent and child never share a stream.
 */
#include "internal.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static atomic_uint fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

typedef struct gen {
    uint64_t state;
    unsigned generation;       /* 0: never seeded */
} gen;

static _Thread_local gen tls_gen;

static void seed(gen *g, unsigned generation)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        /* No entropy yet (early boot): mix what differs between threads and processes. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() ^
            (uint64_t)(uintptr_t)g;
    }
    g->state = s;
    g->generation = generation;
}

static inline uint64_t next(gen *g)
{
    g->state += UINT64_C(0xa0761d6478bd642f);
    unsigned __int128 t = (unsigned __int128)g->state *
                          (g->state ^ UINT64_C(0xe7037ed1a0b428db));
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

static const char hex[] = "0123456789abcdef";

void faas__request_id(char out[37])
{
    gen *g = &tls_gen;
    unsigned generation = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (g->generation != generation) {
        pthread_once(&atfork_once, register_atfork);
        seed(g, generation);
    }
    uint64_t hi = next(g), lo = next(g);
    hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);               /* version 4 */
    lo = (lo & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);         /* variant 10 */
    /* 8-4-4-4-12 hex digits: hi gives the first 16, lo the last 16. */
    static const unsigned char pos[32] = {
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17,
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35 };
    for (int i = 0; i < 16; i++)
        out[pos[i]] = hex[(hi >> (60 - 4 * i)) & 0xf];
    for (int i = 0; i < 16; i++)
        out[pos[16 + i]] = hex[(lo >> (60 - 4 * i)) & 0xf];
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}
