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

/* initial-exec: no __tls_get_addr call per id. These 16 bytes come from glibc's static
 * TLS surplus when libfaas itself is dlopen()ed (a Python ctypes host, say). */
static _Thread_local gen tls_gen __attribute__((tls_model("initial-exec")));

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

/* 32 bits as 8 lower-case hex digits, in a few word operations (no table, no loop):
 * spread the nibbles one per byte, turn each into its ASCII digit, then put the most
 * significant first. */
static inline void hex8(char *out, uint32_t v)
{
    uint64_t x = v;
    x = ((x & UINT64_C(0xffff0000)) << 16) | (x & UINT64_C(0x0000ffff));
    x = ((x & UINT64_C(0x0000ff000000ff00)) << 8) | (x & UINT64_C(0x000000ff000000ff));
    x = ((x & UINT64_C(0x00f000f000f000f0)) << 4) | (x & UINT64_C(0x000f000f000f000f));
    /* Bytes holding 10..15 get 'a' - '0' - 10 = 39 more than the digits do. */
    uint64_t letters = ((x + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
    x += UINT64_C(0x3030303030303030) + letters * 39;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);        /* the most significant digit at the lowest address */
#endif
    memcpy(out, &x, 8);
}

static inline gen *this_gen(void)
{
    gen *g = &tls_gen;
    unsigned generation = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (g->generation != generation) {
        pthread_once(&atfork_once, register_atfork);
        seed(g, generation);
    }
    return g;
}

uint64_t faas__rand64(void)
{
    return next(this_gen());
}

void faas__request_id_bits(uint64_t bits[2])
{
    gen *g = this_gen();
    bits[0] = next(g);
    bits[1] = next(g);
}

void faas__request_id(char out[37])
{
    uint64_t bits[2];
    faas__request_id_bits(bits);
    faas__request_id_format(bits, out);
}

void faas__request_id_format(const uint64_t bits[2], char out[37])
{
    uint64_t hi = bits[0], lo = bits[1];
    hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);               /* version 4 */
    lo = (lo & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);         /* variant 10 */
    /* 8-4-4-4-12 hex digits: hi gives the first 16, lo the last 16. */
    char d[32];
    hex8(d, (uint32_t)(hi >> 32));
    hex8(d + 8, (uint32_t)hi);
    hex8(d + 16, (uint32_t)(lo >> 32));
    hex8(d + 24, (uint32_t)lo);
    memcpy(out, d, 8);
    memcpy(out + 9, d + 8, 4);
    memcpy(out + 14, d + 12, 4);
    memcpy(out + 19, d + 16, 4);
    memcpy(out + 24, d + 20, 12);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}
