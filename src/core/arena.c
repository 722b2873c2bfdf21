/*
 * arena.c — the step arena: a bump allocator whose steady state makes no
 * heap calls.  A step that outgrows the main block spills into extra
 * chunks; the next reset frees them and regrows the main block to the
 * step's high-water mark (plus a quarter), so only the first steps of a
 * run, or a step larger than any before, ever touch malloc.
 */
#include "tensor.h"

#include <stdio.h>

struct drec_arena_chunk {
    drec_arena_chunk *next;
    size_t size;
    char data[];
};

#define ALIGN 64
static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

void drec_arena_init(drec_arena *a, size_t initial_bytes) {
    memset(a, 0, sizeof(*a));
    a->cap = round_up(initial_bytes ? initial_bytes : ((size_t)1 << 20));
    a->base = drec_aligned_alloc(a->cap);
}

void *drec_arena_alloc(drec_arena *a, size_t bytes) {
    bytes = round_up(bytes ? bytes : 1);
    if (a->used + bytes <= a->cap) {
        void *p = a->base + a->used;
        a->used += bytes;
        return p;
    }
    /* Spill: a chunk of its own, aligned past the header. */
    drec_arena_chunk *c = drec_aligned_alloc(sizeof(drec_arena_chunk) + ALIGN + bytes);
    c->next = a->extra;
    c->size = bytes;
    a->extra = c;
    a->spill += bytes;
    return (char *)c + ALIGN;
}

void *drec_arena_calloc(drec_arena *a, size_t bytes) {
    void *p = drec_arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void drec_arena_reset(drec_arena *a) {
    size_t total = a->used + a->spill;
    if (total > a->peak) a->peak = total;
    if (a->extra) {
        while (a->extra) {
            drec_arena_chunk *n = a->extra->next;
            drec_free(a->extra);
            a->extra = n;
        }
        drec_free(a->base);
        a->cap = round_up(a->peak + a->peak / 4);
        a->base = drec_aligned_alloc(a->cap);
    }
    a->used = 0;
    a->spill = 0;
}

void drec_arena_free(drec_arena *a) {
    while (a->extra) {
        drec_arena_chunk *n = a->extra->next;
        drec_free(a->extra);
        a->extra = n;
    }
    drec_free(a->base);
    memset(a, 0, sizeof(*a));
}

void drec_assert_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "drec: %s:%d: internal check failed: %s\n", file, line, what);
    abort();
}
