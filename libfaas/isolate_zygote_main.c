/*
 * isolate_zygote_main.c - the main of faas-zygote, the helper program of process isolation
 * (built and installed as $(pkglibexecdir)/faas-zygote, only when isolation is; it links
 * libfaas and is the only user of faas__isolate_main). libfaas starts one with posix_spawn
 * for each isolated function; it loads the module, runs INIT once and forks an instance per
 * request (all of that is libfaas's, in isolate_child.c). What only a main program can add
 * is here: allocation wrappers that see an allocation the kernel refuses (RLIMIT_AS), so
 * that a call past its memory limit ends FAAS_EMEMORY, not as a crash.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "isolate.h"

static volatile uint64_t refused;   /* the last refused allocation's size, in bytes */

/* Under the sanitizers malloc is theirs, and RLIMIT_AS is not set anyway. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define WATCH_MALLOC 0
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
     __has_feature(memory_sanitizer)
#  define WATCH_MALLOC 0
# endif
#endif
#ifndef WATCH_MALLOC
# define WATCH_MALLOC 1
#endif

#if WATCH_MALLOC
/* glibc's own allocator under its exported names: these wrappers forward to it and only
 * note a failure, so free(), malloc_usable_size() and the rest stay glibc's. The program
 * exports them (-rdynamic), so the module binds to them. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void *memalign(size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
int   posix_memalign(void **out, size_t align, size_t n);
void *valloc(size_t n);
void *pvalloc(size_t n);

static void *noted(void *p, size_t n)
{
    if (p == NULL && n != 0)
        refused = n;
    return p;
}

void *malloc(size_t n) { return noted(__libc_malloc(n), n); }
void *realloc(void *p, size_t n) { return noted(__libc_realloc(p, n), n); }
void *memalign(size_t align, size_t n) { return noted(__libc_memalign(align, n), n); }
void *aligned_alloc(size_t align, size_t n) { return noted(__libc_memalign(align, n), n); }
void *valloc(size_t n) { return noted(__libc_valloc(n), n); }
void *pvalloc(size_t n) { return noted(__libc_pvalloc(n), n); }

void *calloc(size_t n, size_t m)
{
    size_t total = n * m;
    if (n != 0 && total / n != m)
        total = SIZE_MAX;
    return noted(__libc_calloc(n, m), total);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = noted(__libc_memalign(align, n), n);
    if (p == NULL && n != 0)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

int main(int argc, char **argv)
{
    int rc = faas__isolate_main(argc, argv, WATCH_MALLOC ? &refused : NULL);
    /* Only reached when not started by libfaas (or not built with isolation). */
    fprintf(stderr, "faas-zygote: the helper of libfaas's process isolation; libfaas starts "
            "it, it is not run by hand\n");
    return rc;
}
