/*
 * ops_dense.c — linear layers and (batched) matrix products on BLAS sgemm.
 *
 * Shapes: x [B,K] (any leading dims flatten into B), W [K,D], b [1,D].
 * Backward of C = op(A) op(B):  dA += dC op(B)^T,  dB += op(A)^T dC, each
 * one sgemm with beta = 1 so that gradients accumulate.
 */
#include "blas.h"
#include "kernels.h"
#include "tensor.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>

/* ---- linear (+ fused activation) ------------------------------------------ */

/* Branch-free loops: with random signs a branch per element mispredicts
 * half the time, which costs more than the small matrix product itself. */
static void act_forward(drec_act act, float *v, int64_t n) {
    switch (act) {
    case DREC_ACT_NONE: break;
    case DREC_ACT_RELU:
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : 0.0f;
        break;
    case DREC_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i += 4096) drec_kern->sigmoid(v + i, v + i, (int)DREC_MIN(4096, n - i));
        break;
    case DREC_ACT_TANH:
        for (int64_t i = 0; i < n; i += 4096) {
            int m = (int)DREC_MIN(4096, n - i);
            float *w = v + i;
            #pragma omp simd
            for (int j = 0; j < m; j++) w[j] = -2.0f * w[j];
            drec_kern->exp(w, w, m);
            #pragma omp simd
            for (int j = 0; j < m; j++) w[j] = 2.0f / (1.0f + w[j]) - 1.0f;
        }
        break;
    }
}

/* dz = dy * act'(z), written in terms of the output y */
static void act_backward(drec_act act, float *dz, const float *dy, const float *y, int64_t n) {
    switch (act) {
    case DREC_ACT_RELU:
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float g = dy[i];
            dz[i] = y[i] > 0 ? g : 0.0f;
        }
        break;
    case DREC_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i += 1 << 20) drec_kern->sigmoid_grad(dz + i, dy + i, y + i, (int)DREC_MIN(1 << 20, n - i), false);
        break;
    default:
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) dz[i] = dy[i] * (1 - y[i] * y[i]);
        break;
    }
}

/* Threads for a linear layer: large enough products run in ONE parallel
 * region per direction, as a list of independent work items (forward and
 * dx: blocks of batch rows; dW: blocks of its rows, i.e. input features;
 * db: one item) handed out first come, first served, each item one
 * single-threaded sgemm.  One region instead of one per product, and
 * dynamic hand-out instead of fixed halves, because waking an OpenMP team
 * costs tens of microseconds on a shared machine (passive wait policy), as
 * much as a small product: the calling thread starts on the items at once
 * and the others join when they wake (or never, if their cores are busy).
 * Each item packs its shared operand anew inside sgemm, so items are only
 * as fine as the hand-out needs: about four per thread for small products
 * (where the wake-up matters), one per thread for large ones (where the
 * packing would).  The items depend only on the shapes and the thread
 * count, and each is computed the same way whichever thread takes it, so
 * results are bit-identical for a given thread count. */
static bool linear_parallel(int B, int K, int D) {
    return omp_get_max_threads() > 1 && !omp_in_parallel() && B >= 256 && (double)B * K * D >= 8e6;
}
/* Threads that run out of items wait for the others here, spinning
 * briefly, before the region's closing barrier: under a passive wait policy
 * that barrier puts an early thread to sleep, and waking it again costs as
 * much as an item. */
static void team_meet(atomic_int *done) {
    int nt = omp_get_num_threads();
    atomic_fetch_add(done, 1);
    for (int spin = 0; spin < 2000 && atomic_load(done) < nt; spin++) { /* ~0.1 ms at most */
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
}

/* rows per item for n rows (whole 16-row panels, at least lo) */
static int item_rows(int n, int B, int K, int D, int lo) {
    int nt = omp_get_max_threads(), per = (double)B * K * D >= 64e6 ? nt : 4 * nt;
    int r = (n + per - 1) / per;
    r = (r + 15) / 16 * 16;
    return DREC_MAX(r, lo);
}

/* db += column sums of dz [B,D]: rows in order, as a linear combination
 * with weights 1 */
static void bias_grad(float *db, const float *dz, const float *ones, int B, int D) {
    drec_kern->lincomb(db, ones, dz, NULL, B, D, D, true);
}

static void linear_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *y = nd->out, *x = nd->in[0], *W = nd->in[1], *b = nd->in[2];
    drec_act act = (drec_act)nd->i[0];
    int B = (int)drec_rows(x), K = drec_cols(x), D = drec_cols(W);
    const float *dy = y->grad;
    float *dz = (float *)dy;
    if (act != DREC_ACT_NONE) dz = drec_tape_floats(tp, y->n);
    bool assign = false;
    float *dx = x->requires_grad ? drec_grad_first(tp, x, &assign) : NULL;
    float *dW = W->requires_grad ? drec_grad(tp, W) : NULL;
    float *db = b && b->requires_grad ? drec_grad(tp, b) : NULL;
    float *ones = NULL;
    if (db) {
        ones = drec_tape_floats(tp, B);
        drec_kern->fill(ones, 1.0f, B);
    }
    float beta_x = assign ? 0.0f : 1.0f;
    if (!linear_parallel(B, K, D)) {
        if (act != DREC_ACT_NONE) act_backward(act, dz, dy, y->data, y->n);
        if (dx) drec_sgemm(false, true, B, K, D, 1, dz, D, W->data, D, beta_x, dx, K);
        if (dW) drec_sgemm(true, false, K, D, B, 1, x->data, K, dz, D, 1, dW, D);
        if (db) bias_grad(db, dz, ones, B, D);
        return;
    }
    const int ROWS_ITEM = item_rows(B, B, K, D, 128), FEAT_ITEM = item_rows(K, B, K, D, 64);
    int row_items = (B + ROWS_ITEM - 1) / ROWS_ITEM, feat_items = dW ? (K + FEAT_ITEM - 1) / FEAT_ITEM : 0;
    int n_items = feat_items + (dx ? row_items : 0) + (db ? 1 : 0);
    atomic_int done = 0;
    #pragma omp parallel
    {
        if (act != DREC_ACT_NONE) {
            #pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < row_items; it++) {
                int64_t r0 = (int64_t)it * ROWS_ITEM, r1 = DREC_MIN(B, r0 + ROWS_ITEM);
                act_backward(act, dz + r0 * D, dy + r0 * D, y->data + r0 * D, (r1 - r0) * D);
            }
        }
        /* dW's items first: each is as long as several of dx's, which then even out the end */
        #pragma omp for schedule(dynamic, 1) nowait
        for (int it = 0; it < n_items; it++) {
            if (it < feat_items) {
                int k0 = it * FEAT_ITEM, k1 = DREC_MIN(K, k0 + FEAT_ITEM);
                drec_sgemm(true, false, k1 - k0, D, B, 1, x->data + k0, K, dz, D, 1, dW + (int64_t)k0 * D, D);
            } else if (dx && it < feat_items + row_items) {
                int r0 = (it - feat_items) * ROWS_ITEM, r1 = DREC_MIN(B, r0 + ROWS_ITEM);
                drec_sgemm(false, true, r1 - r0, K, D, 1, dz + (int64_t)r0 * D, D, W->data, D, beta_x,
                           dx + (int64_t)r0 * K, K);
            } else {
                bias_grad(db, dz, ones, B, D);
            }
        }
        team_meet(&done);
    }
}

static void linear_forward_rows(float *y, const float *x, const float *W, const float *b, drec_act act, int r0,
                                int r1, int K, int D) {
    if (r1 <= r0) return;
    float *yr = y + (int64_t)r0 * D;
    if (b)
        for (int i = r0; i < r1; i++) memcpy(y + (int64_t)i * D, b, (size_t)D * sizeof(float));
    drec_sgemm(false, false, r1 - r0, D, K, 1, x + (int64_t)r0 * K, K, W, D, b ? 1.0f : 0.0f, yr, D);
    act_forward(act, yr, (int64_t)(r1 - r0) * D);
}

drec_tensor *drec_linear(drec_tape *tp, drec_tensor *x, drec_tensor *W, drec_tensor *b, drec_act act) {
    DREC_ASSERT(W->ndim == 2 && drec_cols(x) == W->shape[0]);
    int B = (int)drec_rows(x), K = W->shape[0], D = W->shape[1];
    if (b) DREC_ASSERT(b->n == D);
    int shape[DREC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(shape));
    shape[x->ndim - 1] = D;
    drec_tensor *y = drec_tnew(tp, x->ndim, shape);
    const float *bv = b ? b->data : NULL;
    if (linear_parallel(B, K, D)) {
        const int ROWS_ITEM = item_rows(B, B, K, D, 128);
        int row_items = (B + ROWS_ITEM - 1) / ROWS_ITEM;
        atomic_int done = 0;
        #pragma omp parallel
        {
            #pragma omp for schedule(dynamic, 1) nowait
            for (int it = 0; it < row_items; it++)
                linear_forward_rows(y->data, x->data, W->data, bv, act, it * ROWS_ITEM, DREC_MIN(B, (it + 1) * ROWS_ITEM),
                                    K, D);
            team_meet(&done);
        }
    } else {
        linear_forward_rows(y->data, x->data, W->data, bv, act, 0, B, K, D);
    }
    drec_node *nd = drec_tape_record(tp, linear_backward, y, x, W, b, NULL);
    if (nd) nd->i[0] = act;
    return y;
}

/* ---- matmul and batched matmul -------------------------------------------- */

/* beta_a / beta_b: 0 when the gradient buffer is fresh (assigned), else 1 */
static void mm_backward_one(bool ta, bool tb, int M, int N, int K, const float *A, const float *B,
                            const float *dC, float *dA, float *dB, float beta_a, float beta_b) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    if (dA) {
        if (!ta) drec_sgemm(false, !tb, M, K, N, 1, dC, N, B, ldb, beta_a, dA, K);
        else drec_sgemm(tb, true, K, M, N, 1, B, ldb, dC, N, beta_a, dA, M);
    }
    if (dB) {
        if (!tb) drec_sgemm(!ta, false, K, N, M, 1, A, lda, dC, N, beta_b, dB, N);
        else drec_sgemm(true, ta, N, K, M, 1, dC, N, A, lda, beta_b, dB, K);
    }
}

static void matmul_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *a = nd->in[0], *b = nd->in[1], *c = nd->out;
    bool ta = nd->i[0], tb = nd->i[1];
    int G = nd->i[2], M = nd->i[3], N = drec_cols(c);
    int K = (int)(a->n / G / M);
    bool fa = false, fb = false;
    float *dA = a->requires_grad ? drec_grad_first(tp, a, &fa) : NULL;
    float *dB = b->requires_grad && b != a ? drec_grad_first(tp, b, &fb) : b->requires_grad ? dA : NULL;
    if (b == a && fa) { /* a product of a tensor with itself: two contributions, so add */
        memset(dA, 0, (size_t)a->n * sizeof(float));
        fa = false;
    }
    int64_t sa = (int64_t)M * K, sb = (int64_t)K * N, sc = (int64_t)M * N;
    for (int g = 0; g < G; g++)
        mm_backward_one(ta, tb, M, N, K, a->data + g * sa, b->data + g * sb, c->grad + g * sc,
                        dA ? dA + g * sa : NULL, dB ? dB + g * sb : NULL, fa ? 0.0f : 1.0f, fb ? 0.0f : 1.0f);
}

static drec_tensor *mm(drec_tape *tp, drec_tensor *a, drec_tensor *b, bool ta, bool tb, int G) {
    int ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int M = ta ? ac : ar, K = ta ? ar : ac, Kb = tb ? bc : br, N = tb ? br : bc;
    DREC_ASSERT(K == Kb);
    DREC_ASSERT(a->n == (int64_t)G * M * K && b->n == (int64_t)G * K * N);
    drec_tensor *c;
    if (G == 1 && a->ndim == 2) {
        c = drec_t2(tp, M, N);
    } else {
        int s[3] = {G, M, N};
        c = drec_tnew(tp, 3, s);
    }
    int lda = ta ? M : K, ldb = tb ? K : N;
    for (int g = 0; g < G; g++)
        drec_sgemm(ta, tb, M, N, K, 1, a->data + (int64_t)g * M * K, lda, b->data + (int64_t)g * K * N, ldb, 0,
                   c->data + (int64_t)g * M * N, N);
    drec_node *nd = drec_tape_record(tp, matmul_backward, c, a, b, NULL, NULL);
    if (nd) {
        nd->i[0] = ta;
        nd->i[1] = tb;
        nd->i[2] = G;
        nd->i[3] = M;
    }
    return c;
}

drec_tensor *drec_matmul(drec_tape *tp, drec_tensor *a, drec_tensor *b, bool ta, bool tb) {
    DREC_ASSERT(a->ndim == 2 && b->ndim == 2);
    return mm(tp, a, b, ta, tb, 1);
}

drec_tensor *drec_bmm(drec_tape *tp, drec_tensor *a, drec_tensor *b, bool ta, bool tb) {
    DREC_ASSERT(a->ndim == 3 && b->ndim == 3 && a->shape[0] == b->shape[0]);
    return mm(tp, a, b, ta, tb, a->shape[0]);
}
