/*
 * alloc.c — allocation that reports and aborts on exhaustion (see common.h
 * for when to use drec_try_malloc instead).
 */
#include "common.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>

static void oom(size_t n) {
    fprintf(stderr, "drec: out of memory allocating %zu bytes\n", n);
    abort();
}

void *drec_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *drec_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *drec_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *drec_strdup(const char *s) { return drec_strndup(s, strlen(s)); }

char *drec_strndup(const char *s, size_t n) {
    char *d = drec_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *drec_try_malloc(size_t n) { return malloc(n ? n : 1); }

/* Large blocks (embedding tables, their optimizer state) are read at random
 * rows: on 2 MB pages a batch's rows cost a few TLB entries instead of one
 * 4 KB page walk each, so they start on a 2 MB boundary and ask for huge
 * pages (a hint; where transparent huge pages are off nothing changes). */
#define HUGE_PAGE ((size_t)2 << 20)
void *drec_aligned_alloc(size_t n) {
    void *p = NULL;
    size_t bytes = n ? (n + 63) & ~(size_t)63 : 64;
    bool huge = bytes >= 2 * HUGE_PAGE;
    if (posix_memalign(&p, huge ? HUGE_PAGE : 64, bytes) != 0) oom(n);
#ifdef MADV_HUGEPAGE
    if (huge) madvise(p, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

void *drec_aligned_zalloc(size_t n) {
    void *p = drec_aligned_alloc(n);
    memset(p, 0, n);
    return p;
}

void drec_free(void *p) { free(p); }
