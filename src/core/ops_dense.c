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

static void linear_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *y = nd->out, *x = nd->in[0], *W = nd->in[1], *b = nd->in[2];
    drec_act act = (drec_act)nd->i[0];
    int B = (int)drec_rows(x), K = drec_cols(x), D = drec_cols(W);
    const float *dy = y->grad;
    float *dz = (float *)dy;
    if (act != DREC_ACT_NONE) {
        dz = drec_tape_floats(tp, y->n);
        act_backward(act, dz, dy, y->data, y->n);
    }
    if (x->requires_grad) {
        bool assign;
        float *dx = drec_grad_first(tp, x, &assign);
        drec_sgemm(false, true, B, K, D, 1, dz, D, W->data, D, assign ? 0.0f : 1.0f, dx, K);
    }
    if (W->requires_grad) drec_sgemm(true, false, K, D, B, 1, x->data, K, dz, D, 1, drec_grad(tp, W), D);
    if (b && b->requires_grad) {
        float *db = drec_grad(tp, b);
        for (int i = 0; i < B; i++) drec_kern->add(db, db, dz + (int64_t)i * D, D);
    }
}

drec_tensor *drec_linear(drec_tape *tp, drec_tensor *x, drec_tensor *W, drec_tensor *b, drec_act act) {
    DREC_ASSERT(W->ndim == 2 && drec_cols(x) == W->shape[0]);
    int B = (int)drec_rows(x), K = W->shape[0], D = W->shape[1];
    if (b) DREC_ASSERT(b->n == D);
    int shape[DREC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(shape));
    shape[x->ndim - 1] = D;
    drec_tensor *y = drec_tnew(tp, x->ndim, shape);
    if (b)
        for (int i = 0; i < B; i++) memcpy(y->data + (int64_t)i * D, b->data, (size_t)D * sizeof(float));
    drec_sgemm(false, false, B, D, K, 1, x->data, K, W->data, D, b ? 1.0f : 0.0f, y->data, D);
    act_forward(act, y->data, y->n);
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
