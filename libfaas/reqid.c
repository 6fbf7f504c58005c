/*
 * reqid.c - request ids: RFC 4122 version-4 UUID text from a per-thread wyrand generator
 * seeded once per thread from getrandom(), so an id costs no system call. A fork()
 * reseeds, so parent and child never share a stream. The text itself: reqid_text.h.
 */
#include "internal.h"
#include "reqid_text.h"

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

static inline __attribute__((always_inline)) void draw(uint64_t bits[2])
{
    gen *g = this_gen();
    bits[0] = next(g);
    bits[1] = next(g);
}

void faas__request_id_bits(uint64_t bits[2])
{
    draw(bits);
}

/* Every sync call's: the draw and the text in one frame (issue 17: the two calls were
 * ~12 of its instructions). */
void faas__request_id(char out[37])
{
    uint64_t bits[2];
    draw(bits);
    faas__uuid_text(bits, out);
}

void faas__request_id_format(const uint64_t bits[2], char out[37])
{
    faas__uuid_text(bits, out);
}
