/*
 * timer.h - the runtime's one timer facility: a min-heap of intrusive timers ordered by
 * due time on the runtime's monotonic clock. The keep-alive reaper is its first user; the
 * scheduler adds retry delays and schedules. Timers fire on the runtime's timer thread, or
 * in faas_run_pending() in manual mode, never under a libfaas lock.
 */
#ifndef FAAS_TIMER_H
#define FAAS_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct faas__timer faas__timer;
typedef struct faas_runtime faas_runtime;

/* cancelled: 1 when the runtime is being freed and the timer will never fire for real. */
typedef void (*faas__timer_fn)(faas__timer *t, int cancelled);

struct faas__timer {
    uint64_t       due_ns;
    uint64_t       seq;        /* ties broken by arming order */
    size_t         index;      /* position in the heap; FAAS__TIMER_IDLE when not armed */
    faas__timer_fn fire;
};

#define FAAS__TIMER_IDLE ((size_t)-1)

typedef struct faas__timers {
    pthread_mutex_t lock;      /* protects everything below */
    pthread_cond_t  wake;      /* the timer thread waits here */
    pthread_cond_t  done;      /* signalled when a callback returns */
    faas__timer   **heap;
    size_t          n, cap;
    uint64_t        seq;
    faas__timer    *running;   /* the callback running now, or NULL */
    pthread_t       runner;    /* the thread running it */
    bool            stop;
    bool            has_thread;
    pthread_t       thread;
} faas__timers;

void faas__timer_init(faas__timer *t, faas__timer_fn fire);
int  faas__timers_init(faas_runtime *rt, bool start_thread);
/* Stop the thread, then fire every timer still armed with cancelled = 1. The timers stay
 * usable (disarm, and arm for manual firing) until faas__timers_destroy(). */
void faas__timers_stop(faas_runtime *rt);
void faas__timers_destroy(faas_runtime *rt);
/* Arm (or move) a timer; FAAS_ENOMEM if the heap cannot grow. */
int  faas__timer_arm(faas_runtime *rt, faas__timer *t, uint64_t due_ns);
/* Disarm a timer; if its callback is running on another thread, wait for it to return.
 * Returns true if the timer was armed. */
bool faas__timer_disarm(faas_runtime *rt, faas__timer *t);
/* Fire every timer due at the clock's now; returns how many fired. */
int  faas__timers_run_due(faas_runtime *rt);
/* The due time of the earliest armed timer, UINT64_MAX if none. */
uint64_t faas__timers_next_due(faas_runtime *rt);
/* Wake the timer thread so it re-reads the clock (for a test clock that jumped). */
void faas__timers_kick(faas_runtime *rt);

#endif /* FAAS_TIMER_H */
