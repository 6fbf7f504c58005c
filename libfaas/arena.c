/*
 * arena.c - the call arena (see arena.h). Owns only its chunks; knows nothing of calls.
 */
#include "config.h"

#include <stdalign.h>
#include <stdlib.h>

#include "arena.h"

#define FAAS__CHUNK_MIN (64u * 1024u)   /* first and smallest chunk: 16 pages */
#define FAAS__ALIGN     alignof(max_align_t)

struct faas__chunk {
    faas__chunk *next;
    size_t       size;      /* bytes in data */
    size_t       off;       /* next free byte in data */
    alignas(max_align_t) unsigned char data[];
};

void faas__arena_init(faas__arena *a, size_t limit)
{
    a->head = a->keep = NULL;
    a->used = 0;
    a->limit = limit;
}

void *faas__arena_alloc(faas__arena *a, size_t n, int *over)
{
    *over = 0;
    if (n == 0)
        n = 1;
    size_t need = (n + FAAS__ALIGN - 1) & ~(size_t)(FAAS__ALIGN - 1);
    if (need < n || need > a->limit || a->used > a->limit - need) {
        *over = 1;
        return NULL;
    }
    faas__chunk *c = a->head;
    if (c == NULL || c->size - c->off < need) {
        size_t size = need > FAAS__CHUNK_MIN ? need : FAAS__CHUNK_MIN;
        if (c == NULL && a->keep != NULL && a->keep->size >= need) {
            c = a->keep;            /* the kept chunk after a reset */
        } else {
            c = malloc(sizeof *c + size);
            if (c == NULL)
                return NULL;
            c->size = size;
            c->off = 0;
            if (a->keep == NULL)
                a->keep = c;
        }
        if (c != a->head) {
            c->next = (c == a->keep) ? NULL : a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    return p;
}

void faas__arena_reset(faas__arena *a)
{
    faas__chunk *c = a->head;
    while (c != NULL) {
        faas__chunk *next = c->next;
        if (c != a->keep)
            free(c);
        c = next;
    }
    if (a->keep != NULL)
        a->keep->off = 0;
    a->head = NULL;
    a->used = 0;
}

void faas__arena_free(faas__arena *a)
{
    faas__arena_reset(a);
    free(a->keep);
    a->keep = NULL;
}
