/*
 * arena.h - the per-instance call arena behind faas_ctx_alloc(): a bump allocator over
 * malloc'd chunks, limited to memory_mb, reset when a call ends. The first chunk is kept
 * with the instance, so a warm call that allocates a little touches no new memory.
 */
#ifndef FAAS_ARENA_H
#define FAAS_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct faas__chunk faas__chunk;

typedef struct faas__arena {
    faas__chunk *head;      /* chunk being filled; NULL until the first allocation */
    faas__chunk *keep;      /* the first chunk, kept across calls */
    size_t       used;      /* bytes handed out during this call (the high-water) */
    size_t       limit;     /* memory_mb in bytes */
} faas__arena;

void  faas__arena_init(faas__arena *a, size_t limit);
/* NULL when the allocation would pass the limit or malloc fails; *over says which. */
void *faas__arena_alloc(faas__arena *a, size_t n, int *over);
/* End of a call: free every chunk but the first, forget what was handed out. */
void  faas__arena_reset(faas__arena *a);
void  faas__arena_free(faas__arena *a);

#endif /* FAAS_ARENA_H */
