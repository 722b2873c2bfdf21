/*
 * alloc.c — allocation that reports and aborts on exhaustion (see common.h
 * for when to use drec_try_malloc instead).
 */
#include "common.h"

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

void *drec_aligned_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) & ~(size_t)63 : 64) != 0) oom(n);
    return p;
}

void drec_free(void *p) { free(p); }
