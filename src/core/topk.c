/*
 * topk.c — bounded best-k selection with a min-heap (see common.h).
 * "Better" means higher score, then lower id, so order is total and
 * results are the same whatever the thread count.
 */
#include "common.h"

#include <stdlib.h>

static inline bool better(drec_scored a, drec_scored b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
}

void drec_topk_init(drec_topk *t, drec_scored *storage, int k) {
    t->heap = storage;
    t->k = k;
    t->n = 0;
}

static void sift_down(drec_scored *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(h[w], h[l])) w = l;
        if (r < n && better(h[w], h[r])) w = r;
        if (w == i) return;
        drec_scored t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

void drec_topk_push(drec_topk *t, int32_t id, float score) {
    drec_scored e = {id, score};
    if (t->k <= 0) return;
    if (t->n < t->k) {
        int i = t->n++;
        t->heap[i] = e;
        while (i > 0) { /* the root is the worst kept */
            int p = (i - 1) / 2;
            if (!better(t->heap[p], t->heap[i])) break;
            drec_scored tmp = t->heap[p];
            t->heap[p] = t->heap[i];
            t->heap[i] = tmp;
            i = p;
        }
    } else if (better(e, t->heap[0])) {
        t->heap[0] = e;
        sift_down(t->heap, t->n, 0);
    }
}

static int cmp_best_first(const void *a, const void *b) {
    const drec_scored *x = a, *y = b;
    return better(*x, *y) ? -1 : better(*y, *x) ? 1 : 0;
}

int drec_topk_finish(drec_topk *t) {
    qsort(t->heap, (size_t)t->n, sizeof *t->heap, cmp_best_first);
    return t->n;
}
