/*
 * lock.h - a small futex lock for critical sections of a few instructions (the job cache's
 * pop in sched.c): uncontended, one compare-and-swap to take it and one exchange to drop
 * it, a fraction of a pthread mutex's lock and unlock; contended, a short spin, then the
 * waiter sleeps in the kernel (FUTEX_WAIT), so a holder that lost its CPU is waited for
 * without burning the CPU it needs. The three states are Drepper's ("Futexes Are Tricky",
 * mutex 3): 0 free, 1 held, 2 held with waiters. Linux only, as the rest of libfaas.
 * tests/bench/bench_cachelock.c measures it under contention against a pthread mutex and a
 * spin lock.
 */
#ifndef FAAS_LOCK_H
#define FAAS_LOCK_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef atomic_int faas__lock;

static inline void faas__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void faas__lock_init(faas__lock *l)
{
    atomic_init(l, 0);
}

/* Contended: spin a little while the holder is likely running, then mark the lock as
 * having waiters (2) and sleep until it is dropped. Out of line: the fast path stays small. */
static __attribute__((noinline, unused)) void faas__lock_wait_(faas__lock *l)
{
    for (int i = 0; i < 64; i++) {
        faas__cpu_relax();
        int c = 0;
        if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(l, &c, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            return;
    }
    while (atomic_exchange_explicit(l, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, (int *)l, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

static inline void faas__lock_take(faas__lock *l)
{
    int c = 0;
    if (!atomic_compare_exchange_strong_explicit(l, &c, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        faas__lock_wait_(l);
}

/* Take it if it is free; false at once if not. */
static inline bool faas__lock_try(faas__lock *l)
{
    int c = 0;
    return atomic_compare_exchange_strong_explicit(l, &c, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void faas__lock_drop(faas__lock *l)
{
    if (atomic_exchange_explicit(l, 0, memory_order_release) == 2)
        syscall(SYS_futex, (int *)l, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#endif /* FAAS_LOCK_H */
