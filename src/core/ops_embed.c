/*
 * ops_embed.c — embedding lookup, embedding-bag, and row gather/scatter.
 *
 * Shapes: table [N,D], ids int [B] (or [nnz] with offsets int [B+1]).
 * Backward into a sparse table writes a row-sparse gradient: each touched
 * row is recorded once (drec_param_touch) and its gradient accumulated in a
 * compact buffer (one row per distinct id, contiguous and cache-resident),
 * so the optimizer updates only those rows and no table-sized gradient is
 * ever written.  A plain lookup's rows are not even moved there: its
 * backward defers them (drec_param_defer) until the gradient is read.
 *
 * Scatter-adds are parallel by ownership: thread t adds only into rows r
 * with r % nthreads == t, visiting sources in order, so every row sums in
 * the same order whatever the thread count — bit-identical results.
 */
#include "kernels.h"
#include "tensor.h"

#include <omp.h>

#define PAR_MIN (1 << 18) /* elements below which threads cost more than they give */

/* dst[idx[m]] += w[m] * src[m] for m in [0,M) (w NULL = 1), rows of width D. */
static void scatter_rows(float *dst, int D, const int32_t *idx, const float *src, const float *w, int64_t M) {
    DREC_PAR(M * D > PAR_MIN,
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int64_t m = 0; m < M; m++) {
            int32_t r = idx[m];
            if (r % nt != t) continue;
            drec_kern->axpy(dst + (int64_t)r * D, w ? w[m] : 1.0f, src + m * D, D);
        }
    });
}

static void gather_rows(float *dst, int D, const int32_t *idx, const float *src, int64_t M) {
    if (M * D <= PAR_MIN) {
        drec_kern->gather(dst, src, idx, (int)M, D, D);
        return;
    }
    DREC_PAR(true, {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t m0 = M * t / nt, m1 = M * (t + 1) / nt;
        drec_kern->gather(dst + m0 * D, src, idx + m0, (int)(m1 - m0), D, D);
    });
}

static void check_ids(const drec_tensor *ids, int64_t N) {
    DREC_ASSERT(ids->dtype == DREC_I32);
    int32_t lo = 0, hi = 0; /* a min/max pass vectorises; a test per id would not */
    for (int64_t i = 0; i < ids->n; i++) {
        lo = ids->idx[i] < lo ? ids->idx[i] : lo;
        hi = ids->idx[i] > hi ? ids->idx[i] : hi;
    }
    DREC_ASSERT(lo >= 0 && (ids->n == 0 || hi < N));
}

/* Touches every id's row; returns each lookup's slot in p->sgrad (arena). */
static int32_t *touch_all(drec_tape *tp, drec_param *p, const drec_tensor *ids) {
    int32_t *slots = drec_arena_alloc(&tp->arena, (size_t)(ids->n ? ids->n : 1) * sizeof(int32_t));
    for (int64_t i = 0; i < ids->n; i++) {
        drec_param_touch(p, ids->idx[i]);
        slots[i] = p->slot[ids->idx[i]];
    }
    return slots;
}

/* ---- embedding ------------------------------------------------------------- */

static void embedding_backward(drec_tape *tp, drec_node *nd) {
    drec_param *p = nd->in[0]->param;
    drec_tensor *ids = nd->in[1];
    int D = drec_cols(&p->t);
    const float *dout = nd->out->grad;
    if (!drec_param_sparse(p)) {
        scatter_rows(p->t.grad, D, ids->idx, dout, NULL, ids->n);
        return;
    }
    /* compact rows: slot k of sgrad gathers every lookup of row touched[k] */
    if (ids->n * D > PAR_MIN) {
        int32_t *slots = touch_all(tp, p, ids);
        scatter_rows(p->sgrad, D, slots, dout, NULL, ids->n);
        return;
    }
    /* small batches: the slots are assigned first (a row's first lookup this
     * step marked ~slot, which copies instead of adding: no zeroing pass),
     * then one kernel call moves every gradient row */
    int32_t *slots = drec_arena_alloc(&tp->arena, (size_t)ids->n * sizeof(int32_t));
    for (int64_t i = 0; i < ids->n; i++) {
        if (i + 16 < ids->n) __builtin_prefetch(p->slot + ids->idx[i + 16]);
        int32_t r = ids->idx[i], s = p->slot[r];
        if (s < 0) {
            if (p->n_touched == p->cap_touched) drec_param_grow_touched(p);
            s = p->n_touched++;
            p->slot[r] = s;
            p->touched[s] = r;
            s = ~s;
        }
        slots[i] = s;
    }
    /* dout lives until the tape's reset (a caller's seed too, by contract),
     * and the reset adds what is still pending */
    drec_param_defer(tp, p, slots, dout, ids->n);
}

drec_tensor *drec_embedding(drec_tape *tp, drec_param *table, drec_tensor *ids) {
    int N = table->t.shape[0], D = table->t.shape[1];
    check_ids(ids, N);
    drec_tensor *out = drec_t2(tp, (int)ids->n, D);
    gather_rows(out->data, D, ids->idx, table->t.data, ids->n);
    drec_tape_record(tp, embedding_backward, out, &table->t, ids, NULL, NULL);
    return out;
}

/* ---- embedding-bag --------------------------------------------------------------- */

/* Per-id scale: weight (or 1), divided by the bag size for mean. */
static float *bag_scales(drec_tape *tp, drec_tensor *ids, drec_tensor *offsets, drec_tensor *weights,
                         drec_bag_mode mode) {
    int B = (int)offsets->n - 1;
    float *s = drec_tape_floats(tp, ids->n ? ids->n : 1);
    for (int b = 0; b < B; b++) {
        int32_t lo = offsets->idx[b], hi = offsets->idx[b + 1];
        float inv = (mode == DREC_BAG_MEAN && hi > lo) ? 1.0f / (float)(hi - lo) : 1.0f;
        for (int32_t j = lo; j < hi; j++) s[j] = (weights ? weights->data[j] : 1.0f) * inv;
    }
    return s;
}

static void bag_backward(drec_tape *tp, drec_node *nd) {
    drec_param *p = nd->in[0]->param;
    drec_tensor *ids = nd->in[1], *offsets = nd->in[2];
    int D = drec_cols(&p->t), B = (int)offsets->n - 1;
    const float *scale = nd->saved, *dout = nd->out->grad;
    const int32_t *rows = ids->idx;
    float *g = p->t.grad;
    if (drec_param_sparse(p)) {
        rows = touch_all(tp, p, ids);
        g = p->sgrad;
    }
    int64_t nnz = ids->n;
    DREC_PAR(nnz * D > PAR_MIN,
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int b = 0; b < B; b++)
            for (int32_t j = offsets->idx[b]; j < offsets->idx[b + 1]; j++) {
                int32_t r = rows[j];
                if (r % nt == t) drec_kern->axpy(g + (int64_t)r * D, scale[j], dout + (int64_t)b * D, D);
            }
    });
}

drec_tensor *drec_embedding_bag(drec_tape *tp, drec_param *table, drec_tensor *ids, drec_tensor *offsets,
                                drec_tensor *weights, drec_bag_mode mode) {
    int N = table->t.shape[0], D = table->t.shape[1];
    int B = (int)offsets->n - 1;
    check_ids(ids, N);
    DREC_ASSERT(offsets->dtype == DREC_I32 && B >= 0 && offsets->idx[0] == 0 && offsets->idx[B] == ids->n);
    for (int b = 0; b < B; b++) DREC_ASSERT(offsets->idx[b] <= offsets->idx[b + 1]);
    if (weights) DREC_ASSERT(weights->n == ids->n);
    float *scale = bag_scales(tp, ids, offsets, weights, mode);
    drec_tensor *out = drec_t2(tp, B, D);
    const float *E = table->t.data;
    DREC_PAR_FOR(ids->n * D > PAR_MIN,
    for (int b = 0; b < B; b++) {
        int32_t lo = offsets->idx[b];
        drec_kern->lincomb(out->data + (int64_t)b * D, scale + lo, E, ids->idx + lo, offsets->idx[b + 1] - lo, D, D,
                           false);
    });
    drec_node *nd = drec_tape_record(tp, bag_backward, out, &table->t, ids, offsets, NULL);
    if (nd) nd->saved = scale;
    return out;
}

/* ---- gather / scatter-add on any tensor -------------------------------------------- */

static void gather_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *idx = nd->in[1];
    scatter_rows(drec_grad(tp, x), drec_cols(x), idx->idx, nd->out->grad, NULL, idx->n);
}

drec_tensor *drec_gather_rows(drec_tape *tp, drec_tensor *x, drec_tensor *idx) {
    int D = drec_cols(x);
    check_ids(idx, drec_rows(x));
    drec_tensor *out = drec_t2(tp, (int)idx->n, D);
    gather_rows(out->data, D, idx->idx, x->data, idx->n);
    drec_tape_record(tp, gather_backward, out, x, idx, NULL, NULL);
    return out;
}

static void scatter_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *src = nd->in[0], *idx = nd->in[1];
    int D = drec_cols(src);
    float *ds = drec_grad(tp, src);
    const float *dout = nd->out->grad;
    int64_t M = idx->n;
    DREC_PAR_FOR(M * D > PAR_MIN,
    for (int64_t m = 0; m < M; m++) drec_kern->add(ds + m * D, ds + m * D, dout + (int64_t)idx->idx[m] * D, D););
}

drec_tensor *drec_scatter_add_rows(drec_tape *tp, drec_tensor *src, drec_tensor *idx, int R) {
    int D = drec_cols(src);
    DREC_ASSERT(drec_rows(src) == idx->n);
    check_ids(idx, R);
    drec_tensor *out = drec_zeros(tp, R, D);
    scatter_rows(out->data, D, idx->idx, src->data, NULL, idx->n);
    drec_tape_record(tp, scatter_backward, out, src, idx, NULL, NULL);
    return out;
}
