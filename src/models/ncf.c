/*
 * ncf.c — neural collaborative filtering (He et al., WWW 2017): gmf, mlp and
 * neumf, one family with one network type.
 *
 *   gmf:   logit = h . (p_u * q_i) + c
 *   mlp:   z = relu-tower([u_u, v_i]) through --layers L0,L1,...,Lk
 *          (L0 = the concatenated embedding width); logit = h . z + c
 *   neumf: separate GMF and MLP embeddings; logit = h . [p_u * q_i, z] + c
 *
 * Training is pointwise BCE with logits over every training pair and --neg
 * negatives per pair, drawn uniformly from the items the user did not have
 * in training and redrawn every epoch (loss=bpr: pairwise BPR with --neg
 * negatives per pair instead), mini-batches of --batch, Adam (or plain
 * SGD), with L2 (--reg), batch norm before each of the MLP's ReLUs
 * (--bn; folded into the layers for scoring), dropout on its hidden layers
 * (--dropout), and a learning-rate schedule (schedule=constant|cosine|exp|step, warmup=
 * steps, lr_decay= per epoch for exp; step halves every 5 epochs).  Early
 * stopping is the protocol's (--patience).  With --pretrain, neumf first
 * trains a gmf and an mlp with the same settings until convergence, as the
 * paper does, judged on held-out training rows (see pretrain_part), or
 * takes them from model files (gmf=FILE mlp=FILE), and starts from their
 * weights, the output layer being [alpha h_gmf, (1-alpha) h_mlp] with the
 * paper's alpha = 0.5, then tunes the whole with plain SGD at --lr as the
 * paper does (finetune_lr= sets that rate apart; finetune=adam: Adam
 * instead, which overfits here).
 *
 * Speed: a training step is one fused forward/backward over the batch
 * (register-blocked layer kernels chosen at load time for AVX-512, AVX2 or
 * plain x86-64), split by rows across threads when the batch is large
 * enough to pay for them (each thread owns its rows' activations and its
 * own dense-gradient partial, summed in thread order, so a run is fixed by
 * seed + thread count).  Embedding tables get row-sparse gradients, and
 * Adam touches only the rows of the batch while keeping the semantics of
 * PyTorch's dense update (see table_update), so a step costs O(batch), not
 * O(table).  Scoring a user against many items precomputes each item's
 * share of the first MLP layer once per model, so an item costs only the
 * upper layers.
 *
 * Shapes: B = rows in a batch, U = users, I = items, F = GMF factors,
 * E = L0/2 (MLP embedding width), L[l] = width of MLP layer l (l = 1..nl),
 * H = width of the output layer's input (F and/or L[nl]).
 */
#include "model.h"

#include "core/tensor.h"

#include "data/sampler.h"
#include "data/split.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define NCF_MAX_LAYERS 8
#define NCF_MAX_THREADS 64
#define NCF_MIN_ROWS_PER_THREAD 1024
#define NCF_CATCHUP 256
#define NCF_BN_EPS 1e-5f
#define NCF_BN_MOMENTUM 0.1f /* PyTorch's: running = (1 - m) running + m batch */ /* (b1 / sqrt(b2))^256 < 1e-11: later idle steps move nothing */

enum { NCF_GMF = 1, NCF_MLP = 2, NCF_NEUMF = 3 };

/* An embedding table with its row-sparse gradient and lazy Adam moments. */
typedef struct ncf_table {
    int32_t rows;
    int dim;
    float *w;          /* (rows, dim) */
    float *g, *m, *v;  /* (rows, dim) training only; g is zero outside touched rows */
    int32_t *stamp;    /* (rows) step at which the row was last touched */
    int32_t *touched;  /* (rows) rows touched by the current step */
    int32_t *upto;     /* (rows) Adam steps applied to the row so far (idle ones included) */
    int32_t *list;     /* (rows) scratch: rows to catch up */
    int32_t n_touched;
} ncf_table;

typedef struct ncf_net {
    int kind;                      /* NCF_GMF | NCF_MLP */
    int F, nl, L[NCF_MAX_LAYERS + 1], H;
    int32_t U, I;
    ncf_table gu, gi;              /* GMF user (U,F) / item (I,F) */
    ncf_table mu, mi;              /* MLP user (U,E) / item (I,E) */
    /* Dense parameters in one block (views below), so that the gradient,
     * the optimizer moments and the thread partials are one loop each. */
    size_t n_dense;
    float *dense;
    float *W[NCF_MAX_LAYERS + 1];  /* W[l] (L[l-1], L[l]), input-major */
    float *b[NCF_MAX_LAYERS + 1];  /* (L[l]) */
    float *h;                      /* (H) output weights: GMF part first */
    float *c;                      /* (1) output bias */
    /* Batch norm between each MLP layer's product and its ReLU (bn). */
    bool bn;
    float *gamma[NCF_MAX_LAYERS + 1], *beta[NCF_MAX_LAYERS + 1]; /* (L[l]) in the dense block */
    float *rmean[NCF_MAX_LAYERS + 1], *rvar[NCF_MAX_LAYERS + 1]; /* (L[l]) running statistics */
    float *stats;                  /* the running statistics' one block (mean, var per layer) */
    size_t n_stats;
    /* Derived (rebuilt after each update and on load, never saved). */
    float *Wo[NCF_MAX_LAYERS + 1]; /* (L[l], L[l-1]) output-major copy for backward */
    float *Ws[NCF_MAX_LAYERS + 1], *bs[NCF_MAX_LAYERS + 1]; /* scoring: batch norm folded in, else W, b */
    float *folded;                 /* Ws, bs storage when bn */
    float *item_proj;              /* (I, L[1]) item share of MLP layer 1 */
    int32_t shape[NCF_MAX_LAYERS + 5]; /* kind, F, nl, L[0..nl], bn: the saved header */
} ncf_net;

/* Training-only state: gradients, moments, per-thread partials, scratch. */
typedef struct ncf_train {
    int threads, cap;              /* cap = most rows in a step */
    bool adam;
    double lr, reg, beta1, beta2, eps;
    drec_sched sched;              /* lr of step s = drec_sched_lr(sched, lr, s) */
    double lr_now;                 /* this step's */
    float keep;                    /* 1 - dropout, on the MLP's hidden layers */
    uint64_t drop_seed;
    long step;
    /* Adam catch-up tables (see table_update): b1^k, b2^k, the bias
     * factor c(t) = sqrt(1 - b2^t) / (1 - b1^t), (b1 / sqrt(b2))^j. */
    double *pw1, *pw2, *ctab, *awin; /* awin: see catch_up_terms */
    long n_tab;
    double rpow[NCF_CATCHUP + 1], rsum[NCF_CATCHUP + 1]; /* r^j, sum_{i<=j} r^i */
    float *cu;                     /* (rows of the largest table, 3) per-row catch-up terms */
    bool dense_all;                /* update every row every step (the test's reference) */
    float *gdense, *mdense, *vdense; /* (n_dense) */
    float *part;                   /* (threads, n_dense) per-thread partial grads */
    double loss_part[NCF_MAX_THREADS];
    /* Activations and their gradients, (cap, width) each, rows split across threads. */
    float *act[NCF_MAX_LAYERS + 1]; /* act[0] = [u_u, v_i] (cap, L0); act[l] post-relu */
    float *dact[NCF_MAX_LAYERS + 1];
    float *gmf;                    /* (cap, F) p_u * q_i */
    float *dgu, *dgi;              /* (cap, F) per-row GMF embedding grads */
    float *logit, *dlogit;         /* (cap) */
    float *xhat[NCF_MAX_LAYERS + 1]; /* (cap, L[l]) batch norm's normalised values */
    float *inv[NCF_MAX_LAYERS + 1];  /* (L[l]) 1 / batch standard deviation */
    double *bnacc;                   /* (2, widest layer) batch norm's column sums */
} ncf_train;

/* ---- kernels ------------------------------------------------------------- */

/* The three products of a dense layer.  Each has a plain reference loop
 * (any width) and, for widths that are multiples of 8, a register-blocked
 * body on 8-float vectors whose trip counts are compile-time constants
 * (NV = width / 8), so the accumulators stay in registers. */
typedef float ncf_v8 __attribute__((vector_size(32)));
typedef int32_t ncf_m8 __attribute__((vector_size(32)));
#define NCF_INLINE static inline __attribute__((always_inline))
/* The vector helpers are always inlined: no vector crosses a call. */
#pragma GCC diagnostic ignored "-Wpsabi"

NCF_INLINE ncf_v8 v8_load(const float *p) {
    ncf_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define v8_store(p, v)                                                                            \
    do {                                                                                          \
        ncf_v8 v8_t_ = (v);                                                                       \
        memcpy((p), &v8_t_, sizeof v8_t_);                                                        \
    } while (0)
/* v where keep > 0, else 0 (macros: no vector crosses a call). */
#define v8_where_pos(keep, v) ((ncf_v8)((ncf_m8)(v) & ((keep) > (ncf_v8){0})))
#define v8_relu(v) v8_where_pos(v, v)

/* y (n, out) = [relu](x (n, in) . w (in, out) + b), reference. */
NCF_INLINE void linear_fwd_ref(float *restrict y, const float *restrict x, const float *restrict w,
                               const float *restrict b, int n, int in, int out, bool relu) {
    for (int r = 0; r < n; r++) {
        float *restrict yr = y + (size_t)r * out;
        const float *restrict xr = x + (size_t)r * in;
        for (int o = 0; o < out; o++) yr[o] = b[o];
        for (int k = 0; k < in; k++) {
            const float xk = xr[k];
            const float *restrict wk = w + (size_t)k * out;
            for (int o = 0; o < out; o++) yr[o] += xk * wk[o];
        }
        if (relu)
            for (int o = 0; o < out; o++) yr[o] = yr[o] > 0 ? yr[o] : 0;
    }
}

/* Same, out = 8 * NV, four rows at a time. */
NCF_INLINE void linear_fwd_v8(float *restrict y, const float *restrict x, const float *restrict w,
                              const float *restrict b, int n, int in, const int NV, bool relu) {
    const int out = 8 * NV;
    int r = 0;
    for (; r + 4 <= n; r += 4) {
        ncf_v8 a[4][4];
        for (int v = 0; v < NV; v++) a[0][v] = a[1][v] = a[2][v] = a[3][v] = v8_load(b + 8 * v);
        const float *x0 = x + (size_t)r * in;
        for (int k = 0; k < in; k++) {
            const float *wk = w + (size_t)k * out;
            /* Scalar * vector: GCC broadcasts (a splat built by hand is
             * assembled lane by lane). */
            const float s0 = x0[k], s1 = x0[in + k], s2 = x0[2 * in + k], s3 = x0[3 * in + k];
            for (int v = 0; v < NV; v++) {
                ncf_v8 wv = v8_load(wk + 8 * v);
                a[0][v] += s0 * wv;
                a[1][v] += s1 * wv;
                a[2][v] += s2 * wv;
                a[3][v] += s3 * wv;
            }
        }
        for (int q = 0; q < 4; q++)
            for (int v = 0; v < NV; v++) v8_store(y + (size_t)(r + q) * out + 8 * v, relu ? v8_relu(a[q][v]) : a[q][v]);
    }
    linear_fwd_ref(y + (size_t)r * out, x + (size_t)r * in, w, b, n - r, in, out, relu);
}

typedef float ncf_v16 __attribute__((vector_size(64)));
typedef int32_t ncf_m16 __attribute__((vector_size(64)));
NCF_INLINE ncf_v16 v16_load(const float *p) {
    ncf_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define v16_store(p, v)                                                                           \
    do {                                                                                          \
        ncf_v16 v16_t_ = (v);                                                                     \
        memcpy((p), &v16_t_, sizeof v16_t_);                                                      \
    } while (0)
#define v16_where_pos(keep, v) ((ncf_v16)((ncf_m16)(v) & ((keep) > (ncf_v16){0})))
#define v16_relu(v) v16_where_pos(v, v)

/* The same kernels on 16-float vectors (one AVX-512 register; two AVX2
 * ones), for widths that are multiples of 16.  A block keeps 16 (or, for
 * one vector a row, 8) accumulators: enough independent sums to hide the
 * FMA latency, and each loaded weight vector serves that many rows. */
#define NCF_ROWS16(NV) ((NV) >= 4 ? 4 : 8)
NCF_INLINE void linear_bwd_x_ref(float *restrict dx, const float *restrict dy, const float *restrict wo,
                                 const float *restrict mask, int n, int in, int out);
NCF_INLINE void linear_bwd_w_ref(float *restrict gw, float *restrict gb, const float *restrict x,
                                 const float *restrict dy, int n, int in, int out, int k0);
NCF_INLINE void linear_fwd_v16(float *restrict y, const float *restrict x, const float *restrict w,
                              const float *restrict b, int n, int in, const int NV, bool relu) {
    const int out = 16 * NV, R = NCF_ROWS16(NV);
    int r = 0;
    for (; r + R <= n; r += R) {
        ncf_v16 a[8][2];
        for (int q = 0; q < R; q++)
            for (int v = 0; v < NV; v++) a[q][v] = v16_load(b + 16 * v);
        const float *x0 = x + (size_t)r * in;
        for (int k = 0; k < in; k++) {
            const float *wk = w + (size_t)k * out;
            for (int v = 0; v < NV; v++) {
                ncf_v16 wv = v16_load(wk + 16 * v);
                /* Scalar * vector: GCC broadcasts (a splat built by hand is
                 * assembled lane by lane). */
                for (int q = 0; q < R; q++) a[q][v] += x0[(size_t)q * in + k] * wv;
            }
        }
        for (int q = 0; q < R; q++)
            for (int v = 0; v < NV; v++) v16_store(y + (size_t)(r + q) * out + 16 * v, relu ? v16_relu(a[q][v]) : a[q][v]);
    }
    linear_fwd_ref(y + (size_t)r * out, x + (size_t)r * in, w, b, n - r, in, out, relu);
}

NCF_INLINE void linear_bwd_x_v16(float *restrict dx, const float *restrict dy, const float *restrict wo,
                                const float *restrict mask, int n, const int NV, int out) {
    const int in = 16 * NV, R = NCF_ROWS16(NV);
    int r = 0;
    for (; r + R <= n; r += R) {
        ncf_v16 a[8][4];
        for (int q = 0; q < R; q++)
            for (int v = 0; v < NV; v++) a[q][v] = (ncf_v16){0};
        const float *d0 = dy + (size_t)r * out;
        for (int o = 0; o < out; o++) {
            const float *wr = wo + (size_t)o * in;
            for (int v = 0; v < NV; v++) {
                ncf_v16 wv = v16_load(wr + 16 * v);
                for (int q = 0; q < R; q++) a[q][v] += d0[(size_t)q * out + o] * wv;
            }
        }
        for (int q = 0; q < R; q++)
            for (int v = 0; v < NV; v++) {
                float *p = dx + (size_t)(r + q) * in + 16 * v;
                if (mask) {
                    v16_store(p, v16_where_pos(v16_load(mask + (size_t)(r + q) * in + 16 * v), a[q][v]));
                } else
                    v16_store(p, a[q][v]);
            }
    }
    linear_bwd_x_ref(dx + (size_t)r * in, dy + (size_t)r * out, wo, mask ? mask + (size_t)r * in : NULL, n - r, in,
                     out);
}

NCF_INLINE void linear_bwd_w_v16(float *restrict gw, float *restrict gb, const float *restrict x,
                                const float *restrict dy, int n, int in, const int NV) {
    const int out = 16 * NV, K = NCF_ROWS16(NV);
    int k = 0;
    for (; k + K <= in; k += K) {
        ncf_v16 a[8][2];
        for (int q = 0; q < K; q++)
            for (int v = 0; v < NV; v++) a[q][v] = v16_load(gw + (size_t)(k + q) * out + 16 * v);
        for (int r = 0; r < n; r++) {
            const float *xr = x + (size_t)r * in + k;
            for (int v = 0; v < NV; v++) {
                ncf_v16 d = v16_load(dy + (size_t)r * out + 16 * v);
                for (int q = 0; q < K; q++) a[q][v] += xr[q] * d;
            }
        }
        for (int q = 0; q < K; q++)
            for (int v = 0; v < NV; v++) v16_store(gw + (size_t)(k + q) * out + 16 * v, a[q][v]);
    }
    ncf_v16 bsum[4];
    for (int v = 0; v < NV; v++) bsum[v] = v16_load(gb + 16 * v);
    for (int r = 0; r < n; r++)
        for (int v = 0; v < NV; v++) bsum[v] += v16_load(dy + (size_t)r * out + 16 * v);
    for (int v = 0; v < NV; v++) v16_store(gb + 16 * v, bsum[v]);
    if (k < in) { /* rows of gw left over when in % 4 != 0; the bias is done */
        for (int r = 0; r < n; r++)
            for (int kk = k; kk < in; kk++)
                for (int o = 0; o < out; o++) gw[(size_t)kk * out + o] += x[(size_t)r * in + kk] * dy[(size_t)r * out + o];
    }
}

DREC_HOT_HAND static void ncf_linear_fwd(float *restrict y, const float *restrict x, const float *restrict w,
                                   const float *restrict b, int n, int in, int out, bool relu) {
    if (out % 16 == 0 && out <= 32) {
        if (out == 16)
            linear_fwd_v16(y, x, w, b, n, in, 1, relu);
        else
            linear_fwd_v16(y, x, w, b, n, in, 2, relu);
        return;
    }
    switch (out % 8 ? 0 : out / 8) {
    case 1: linear_fwd_v8(y, x, w, b, n, in, 1, relu); break;
    case 2: linear_fwd_v8(y, x, w, b, n, in, 2, relu); break;
    case 3: linear_fwd_v8(y, x, w, b, n, in, 3, relu); break;
    case 4: linear_fwd_v8(y, x, w, b, n, in, 4, relu); break;
    default: linear_fwd_ref(y, x, w, b, n, in, out, relu);
    }
}

/* dx (n, in) = dy (n, out) . wo (out, in), then zeroed where the forward
 * value (mask) was clipped by a relu (mask != NULL); reference. */
NCF_INLINE void linear_bwd_x_ref(float *restrict dx, const float *restrict dy, const float *restrict wo,
                                 const float *restrict mask, int n, int in, int out) {
    for (int r = 0; r < n; r++) {
        float *restrict dxr = dx + (size_t)r * in;
        const float *restrict dyr = dy + (size_t)r * out;
        for (int k = 0; k < in; k++) dxr[k] = 0;
        for (int o = 0; o < out; o++) {
            const float d = dyr[o];
            const float *restrict wr = wo + (size_t)o * in;
            for (int k = 0; k < in; k++) dxr[k] += d * wr[k];
        }
        if (mask) {
            const float *restrict mr = mask + (size_t)r * in;
            for (int k = 0; k < in; k++) dxr[k] = mr[k] > 0 ? dxr[k] : 0;
        }
    }
}

/* Same, in = 8 * NV, two rows at a time. */
NCF_INLINE void linear_bwd_x_v8(float *restrict dx, const float *restrict dy, const float *restrict wo,
                                const float *restrict mask, int n, const int NV, int out) {
    const int in = 8 * NV;
    int r = 0;
    for (; r + 2 <= n; r += 2) {
        ncf_v8 a[2][8];
        for (int v = 0; v < NV; v++) a[0][v] = a[1][v] = (ncf_v8){0};
        const float *d0 = dy + (size_t)r * out;
        for (int o = 0; o < out; o++) {
            const float *wr = wo + (size_t)o * in;
            const float s0 = d0[o], s1 = d0[out + o];
            for (int v = 0; v < NV; v++) {
                ncf_v8 wv = v8_load(wr + 8 * v);
                a[0][v] += s0 * wv;
                a[1][v] += s1 * wv;
            }
        }
        for (int q = 0; q < 2; q++)
            for (int v = 0; v < NV; v++) {
                float *p = dx + (size_t)(r + q) * in + 8 * v;
                if (mask) {
                    v8_store(p, v8_where_pos(v8_load(mask + (size_t)(r + q) * in + 8 * v), a[q][v]));
                } else
                    v8_store(p, a[q][v]);
            }
    }
    linear_bwd_x_ref(dx + (size_t)r * in, dy + (size_t)r * out, wo, mask ? mask + (size_t)r * in : NULL, n - r, in,
                     out);
}

DREC_HOT_HAND static void ncf_linear_bwd_x(float *restrict dx, const float *restrict dy, const float *restrict wo,
                                     const float *restrict mask, int n, int in, int out) {
    switch (in % 16 ? 0 : in / 16) {
    case 1: linear_bwd_x_v16(dx, dy, wo, mask, n, 1, out); return;
    case 2: linear_bwd_x_v16(dx, dy, wo, mask, n, 2, out); return;
    case 4: linear_bwd_x_v16(dx, dy, wo, mask, n, 4, out); return;
    }
    switch (in % 8 ? 0 : in / 8) {
    case 1: linear_bwd_x_v8(dx, dy, wo, mask, n, 1, out); break;
    case 2: linear_bwd_x_v8(dx, dy, wo, mask, n, 2, out); break;
    case 4: linear_bwd_x_v8(dx, dy, wo, mask, n, 4, out); break;
    case 8: linear_bwd_x_v8(dx, dy, wo, mask, n, 8, out); break;
    default: linear_bwd_x_ref(dx, dy, wo, mask, n, in, out);
    }
}

/* gw (in, out) += x^T dy; gb (out) += column sums of dy; reference. */
NCF_INLINE void linear_bwd_w_ref(float *restrict gw, float *restrict gb, const float *restrict x,
                                 const float *restrict dy, int n, int in, int out, int k0) {
    for (int r = 0; r < n; r++) {
        const float *restrict x0 = x + (size_t)r * in;
        const float *restrict d0 = dy + (size_t)r * out;
        for (int k = k0; k < in; k++) {
            float *restrict gk = gw + (size_t)k * out;
            for (int o = 0; o < out; o++) gk[o] += x0[k] * d0[o];
        }
        if (k0 == 0)
            for (int o = 0; o < out; o++) gb[o] += d0[o];
    }
}

/* Same, out = 8 * NV: four rows of gw held in registers across the batch. */
NCF_INLINE void linear_bwd_w_v8(float *restrict gw, float *restrict gb, const float *restrict x,
                                const float *restrict dy, int n, int in, const int NV) {
    const int out = 8 * NV;
    int k = 0;
    for (; k + 4 <= in; k += 4) {
        ncf_v8 a[4][4];
        for (int q = 0; q < 4; q++)
            for (int v = 0; v < NV; v++) a[q][v] = v8_load(gw + (size_t)(k + q) * out + 8 * v);
        for (int r = 0; r < n; r++) {
            const float *xr = x + (size_t)r * in + k;
            const float s0 = xr[0], s1 = xr[1], s2 = xr[2], s3 = xr[3];
            for (int v = 0; v < NV; v++) {
                ncf_v8 d = v8_load(dy + (size_t)r * out + 8 * v);
                a[0][v] += s0 * d;
                a[1][v] += s1 * d;
                a[2][v] += s2 * d;
                a[3][v] += s3 * d;
            }
        }
        for (int q = 0; q < 4; q++)
            for (int v = 0; v < NV; v++) v8_store(gw + (size_t)(k + q) * out + 8 * v, a[q][v]);
    }
    ncf_v8 bsum[4];
    for (int v = 0; v < NV; v++) bsum[v] = v8_load(gb + 8 * v);
    for (int r = 0; r < n; r++)
        for (int v = 0; v < NV; v++) bsum[v] += v8_load(dy + (size_t)r * out + 8 * v);
    for (int v = 0; v < NV; v++) v8_store(gb + 8 * v, bsum[v]);
    if (k < in) { /* rows of gw left over when in % 4 != 0; the bias is done */
        for (int r = 0; r < n; r++)
            for (int kk = k; kk < in; kk++)
                for (int o = 0; o < out; o++) gw[(size_t)kk * out + o] += x[(size_t)r * in + kk] * dy[(size_t)r * out + o];
    }
}

DREC_HOT_HAND static void ncf_linear_bwd_w(float *restrict gw, float *restrict gb, const float *restrict x,
                                     const float *restrict dy, int n, int in, int out) {
    if (out % 16 == 0 && out <= 32) {
        if (out == 16)
            linear_bwd_w_v16(gw, gb, x, dy, n, in, 1);
        else
            linear_bwd_w_v16(gw, gb, x, dy, n, in, 2);
        return;
    }
    switch (out % 8 ? 0 : out / 8) {
    case 1: linear_bwd_w_v8(gw, gb, x, dy, n, in, 1); break;
    case 2: linear_bwd_w_v8(gw, gb, x, dy, n, in, 2); break;
    case 3: linear_bwd_w_v8(gw, gb, x, dy, n, in, 3); break;
    case 4: linear_bwd_w_v8(gw, gb, x, dy, n, in, 4); break;
    default: linear_bwd_w_ref(gw, gb, x, dy, n, in, out, 0);
    }
}

/* Adam in PyTorch's form (L2 as weight decay folded into the gradient):
 * lr1 = lr / (1 - beta1^t), bc2 = sqrt(1 - beta2^t). */
typedef struct ncf_adam_hp {
    float lr1, bc2, b1, b2, eps, reg;
} ncf_adam_hp;

static void adam_span_ref(float *restrict w, float *restrict g, float *restrict m, float *restrict v, size_t n,
                          const ncf_adam_hp *h, bool zero_g) {
    for (size_t k = 0; k < n; k++) {
        const float gk = g[k] + h->reg * w[k];
        m[k] = h->b1 * m[k] + (1 - h->b1) * gk;
        v[k] = h->b2 * v[k] + (1 - h->b2) * gk * gk;
        w[k] -= h->lr1 * m[k] / (sqrtf(v[k]) / h->bc2 + h->eps);
        if (zero_g) g[k] = 0;
    }
}

/* The k Adam steps a row sat out with a zero gradient, in one go:
 * m0 and v0 decay to b1^k m0 and b2^k v0, and w moves by
 * -lr sum_j (b1^j m0) c(t0+j) / sqrt(b2^j v0) = -(lr S) m0 / sqrt(v0),
 * S = sum_j (b1 / sqrt(b2))^j c(t0+j) (eps, 1e-8 against sqrt(v), left out). */
static void catch_up(float *restrict w, float *restrict m, float *restrict v, size_t dim, float lrS, float d1,
                     float d2) {
    for (size_t k = 0; k < dim; k++) {
        if (v[k] > 0) w[k] -= lrS * m[k] / sqrtf(v[k]);
        m[k] *= d1;
        v[k] *= d2;
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
/* The same on 8 lanes.  Written with intrinsics because GCC will not
 * vectorise sqrtf while errno matters, and the build keeps -fmath-errno. */
__attribute__((target("avx2,fma"))) static void adam_rows_avx2(float *w, float *g, float *m, float *v,
                                                              const int32_t *rows, int32_t nrows, size_t dim,
                                                              const ncf_adam_hp *h, bool zero_g) {
    const __m256 b1 = _mm256_set1_ps(h->b1), c1 = _mm256_set1_ps(1 - h->b1), b2 = _mm256_set1_ps(h->b2),
                 c2 = _mm256_set1_ps(1 - h->b2), lr1 = _mm256_set1_ps(h->lr1), ibc2 = _mm256_set1_ps(1 / h->bc2),
                 eps = _mm256_set1_ps(h->eps), reg = _mm256_set1_ps(h->reg), zero = _mm256_setzero_ps();
    size_t d8 = dim & ~(size_t)7;
    for (int32_t j = 0; j < nrows; j++) {
        size_t o = rows ? (size_t)rows[j] * dim : 0;
        float *wr = w + o, *gr = g + o, *mr = m + o, *vr = v + o;
        for (size_t k = 0; k < d8; k += 8) {
            __m256 wk = _mm256_loadu_ps(wr + k);
            __m256 gk = _mm256_fmadd_ps(reg, wk, _mm256_loadu_ps(gr + k));
            __m256 mk = _mm256_fmadd_ps(c1, gk, _mm256_mul_ps(b1, _mm256_loadu_ps(mr + k)));
            __m256 vk = _mm256_fmadd_ps(c2, _mm256_mul_ps(gk, gk), _mm256_mul_ps(b2, _mm256_loadu_ps(vr + k)));
            __m256 den = _mm256_fmadd_ps(_mm256_sqrt_ps(vk), ibc2, eps);
            _mm256_storeu_ps(mr + k, mk);
            _mm256_storeu_ps(vr + k, vk);
            _mm256_storeu_ps(wr + k, _mm256_sub_ps(wk, _mm256_div_ps(_mm256_mul_ps(lr1, mk), den)));
            if (zero_g) _mm256_storeu_ps(gr + k, zero);
        }
        if (d8 < dim) adam_span_ref(wr + d8, gr + d8, mr + d8, vr + d8, dim - d8, h, zero_g);
    }
}

/* The catch-up on 8 lanes (see catch_up). */
__attribute__((target("avx2,fma"))) static void catch_up_avx2(float *w, float *m, float *v, const int32_t *rows,
                                                             int32_t nrows, size_t dim, const float *cu) {
    size_t d8 = dim & ~(size_t)7;
    const __m256 tiny = _mm256_set1_ps(1e-38f);
    for (int32_t j = 0; j < nrows; j++) {
        size_t o = (size_t)rows[j] * dim;
        const __m256 lrS = _mm256_set1_ps(cu[3 * j]), d1 = _mm256_set1_ps(cu[3 * j + 1]),
                     d2 = _mm256_set1_ps(cu[3 * j + 2]);
        for (size_t k = 0; k < d8; k += 8) {
            __m256 mk = _mm256_loadu_ps(m + o + k), vk = _mm256_loadu_ps(v + o + k);
            __m256 step = _mm256_div_ps(_mm256_mul_ps(lrS, mk), _mm256_sqrt_ps(_mm256_max_ps(vk, tiny)));
            _mm256_storeu_ps(w + o + k, _mm256_sub_ps(_mm256_loadu_ps(w + o + k), step));
            _mm256_storeu_ps(m + o + k, _mm256_mul_ps(mk, d1));
            _mm256_storeu_ps(v + o + k, _mm256_mul_ps(vk, d2));
        }
        if (d8 < dim) catch_up(w + o + d8, m + o + d8, v + o + d8, dim - d8, cu[3 * j], cu[3 * j + 1], cu[3 * j + 2]);
    }
}
#endif

/* Adam over rows[0..nrows) of width dim (rows == NULL: one span of dim
 * values); zero_g clears the gradient after (the tables). */
static void ncf_adam(float *w, float *g, float *m, float *v, const int32_t *rows, int32_t nrows, size_t dim,
                     const ncf_adam_hp *h, bool zero_g) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        adam_rows_avx2(w, g, m, v, rows, nrows, dim, h, zero_g);
        return;
    }
#endif
    for (int32_t j = 0; j < nrows; j++) {
        size_t o = rows ? (size_t)rows[j] * dim : 0;
        adam_span_ref(w + o, g + o, m + o, v + o, dim, h, zero_g);
    }
}

/* catch_up over rows[0..nrows); cu (nrows, 3) holds each row's lr S,
 * b1^k and b2^k. */
static void ncf_catch_up(float *w, float *m, float *v, const int32_t *rows, int32_t nrows, size_t dim,
                         const float *cu) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        catch_up_avx2(w, m, v, rows, nrows, dim, cu);
        return;
    }
#endif
    for (int32_t j = 0; j < nrows; j++) {
        size_t o = (size_t)rows[j] * dim;
        catch_up(w + o, m + o, v + o, dim, cu[3 * j], cu[3 * j + 1], cu[3 * j + 2]);
    }
}

static void ncf_sgd(float *restrict w, const float *restrict g, size_t n, float lr, float reg) {
    for (size_t k = 0; k < n; k++) w[k] -= lr * (g[k] + reg * w[k]);
}

/* ---- the network ---------------------------------------------------------- */

static bool has_gmf(const ncf_net *n) { return n->kind & NCF_GMF; }
static bool has_mlp(const ncf_net *n) { return n->kind & NCF_MLP; }

static void table_init(ncf_table *t, int32_t rows, int dim) {
    memset(t, 0, sizeof *t);
    t->rows = rows;
    t->dim = dim;
    t->w = drec_calloc((size_t)rows * dim + 1, sizeof *t->w);
}

static void table_free(ncf_table *t) {
    free(t->w);
    free(t->g);
    free(t->m);
    free(t->v);
    free(t->stamp);
    free(t->touched);
    memset(t, 0, sizeof *t);
}

/* Lays out the dense block for kind/F/layers; all parameters zero. */
static ncf_net *net_new(int kind, int32_t U, int32_t I, int F, int nl, const int *L, bool bn) {
    ncf_net *n = drec_calloc(1, sizeof *n);
    n->kind = kind;
    n->U = U;
    n->I = I;
    n->F = F;
    n->nl = has_mlp(n) ? nl : 0;
    for (int l = 0; l <= n->nl; l++) n->L[l] = L[l];
    n->H = (has_gmf(n) ? F : 0) + (has_mlp(n) ? L[nl] : 0);
    n->bn = bn && has_mlp(n);
    size_t off = 0, nbn = 0;
    for (int l = 1; l <= n->nl; l++) off += (size_t)L[l - 1] * L[l] + L[l], nbn += (size_t)L[l];
    if (!n->bn) nbn = 0;
    n->n_dense = off + n->H + 1 + 2 * nbn;
    n->dense = drec_calloc(n->n_dense, sizeof *n->dense);
    off = 0;
    for (int l = 1; l <= n->nl; l++) {
        n->W[l] = n->Ws[l] = n->dense + off;
        off += (size_t)L[l - 1] * L[l];
        n->b[l] = n->bs[l] = n->dense + off;
        off += L[l];
        n->Wo[l] = drec_calloc((size_t)L[l - 1] * L[l], sizeof *n->Wo[l]);
    }
    n->h = n->dense + off;
    n->c = n->h + n->H;
    if (n->bn) {
        float *p = n->c + 1;
        n->n_stats = 2 * nbn;
        n->stats = drec_malloc(n->n_stats * sizeof *n->stats);
        n->folded = drec_malloc((off + 1) * sizeof *n->folded);
        float *st = n->stats, *fo = n->folded;
        for (int l = 1; l <= n->nl; l++) {
            n->gamma[l] = p, p += L[l];
            n->beta[l] = p, p += L[l];
            for (int j = 0; j < L[l]; j++) n->gamma[l][j] = 1;
            n->rmean[l] = st, st += L[l];
            n->rvar[l] = st, st += L[l];
            for (int j = 0; j < L[l]; j++) n->rmean[l][j] = 0, n->rvar[l][j] = 1;
            n->Ws[l] = fo, fo += (size_t)L[l - 1] * L[l];
            n->bs[l] = fo, fo += L[l];
        }
    }
    if (has_gmf(n)) {
        table_init(&n->gu, U, F);
        table_init(&n->gi, I, F);
    }
    if (has_mlp(n)) {
        table_init(&n->mu, U, L[0] / 2);
        table_init(&n->mi, I, L[0] / 2);
        n->item_proj = drec_calloc((size_t)I * L[1] + 1, sizeof *n->item_proj);
    }
    return n;
}

static void net_free(ncf_net *n) {
    if (!n) return;
    table_free(&n->gu);
    table_free(&n->gi);
    table_free(&n->mu);
    table_free(&n->mi);
    free(n->dense);
    free(n->stats);
    free(n->folded);
    for (int l = 1; l <= n->nl; l++) free(n->Wo[l]);
    free(n->item_proj);
    free(n);
}

/* The paper's initialisation: embeddings N(0, 0.01), hidden layers
 * Glorot-uniform, output layer LeCun-uniform, biases zero. */
static void net_init(ncf_net *n, drec_rng *rng) {
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    for (int t = 0; t < 4; t++)
        for (size_t k = 0; tabs[t]->w && k < (size_t)tabs[t]->rows * tabs[t]->dim; k++)
            tabs[t]->w[k] = (float)(0.01 * drec_rng_normal(rng));
    for (int l = 1; l <= n->nl; l++) {
        double lim = sqrt(6.0 / (n->L[l - 1] + n->L[l]));
        for (size_t k = 0; k < (size_t)n->L[l - 1] * n->L[l]; k++)
            n->W[l][k] = (float)((2 * drec_rng_double(rng) - 1) * lim);
    }
    double lim = sqrt(3.0 / n->H);
    for (int k = 0; k < n->H; k++) n->h[k] = (float)((2 * drec_rng_double(rng) - 1) * lim);
}

/* Rebuilds what is derived from the parameters: the output-major weight
 * copies (every step) and, when `proj`, the items' layer-1 shares. */
static void net_refresh(ncf_net *n, bool proj) {
    for (int l = 1; l <= n->nl; l++) {
        int in = n->L[l - 1], out = n->L[l];
        for (int k = 0; k < in; k++)
            for (int o = 0; o < out; o++) n->Wo[l][(size_t)o * in + k] = n->W[l][(size_t)k * out + o];
    }
    if (proj && n->bn) /* scoring folds each batch norm, with its running statistics, into its layer */
        for (int l = 1; l <= n->nl; l++) {
            int in = n->L[l - 1], out = n->L[l];
            for (int o = 0; o < out; o++) {
                float sc = n->gamma[l][o] / sqrtf(n->rvar[l][o] + NCF_BN_EPS);
                for (int k = 0; k < in; k++) n->Ws[l][(size_t)k * out + o] = n->W[l][(size_t)k * out + o] * sc;
                n->bs[l][o] = (n->b[l][o] - n->rmean[l][o]) * sc + n->beta[l][o];
            }
        }
    if (proj && has_mlp(n)) {
        int E = n->L[0] / 2, L1 = n->L[1];
        static const float zero[256];
        const float *zb = zero;
        float *zbuf = NULL;
        if (L1 > 256) zb = zbuf = drec_calloc((size_t)L1, sizeof *zbuf);
        ncf_linear_fwd(n->item_proj, n->mi.w, n->Ws[1] + (size_t)E * L1, zb, n->I, E, L1, false);
        free(zbuf);
    }
}

/* ---- scoring -------------------------------------------------------------- */

#define NCF_SCORE_BLOCK 128

/* Logits of user u for items[0..n) (all items when items == NULL). */
static void net_score(const ncf_net *net, int32_t u, const int32_t *items, int n, float *out) {
    int F = net->F, nl = net->nl;
    int widest = 1;
    for (int l = 1; l <= nl; l++) widest = DREC_MAX(widest, net->L[l]);
    float *buf = drec_malloc(((size_t)2 * NCF_SCORE_BLOCK * widest + F + net->L[1] + 2) * sizeof *buf);
    float *za = buf, *zb = buf + (size_t)NCF_SCORE_BLOCK * widest;
    float *hu = zb + (size_t)NCF_SCORE_BLOCK * widest; /* (F) h_gmf * p_u */
    float *up = hu + F;                                 /* (L1) user share of layer 1 + bias */
    if (has_gmf(net))
        for (int f = 0; f < F; f++) hu[f] = net->h[f] * net->gu.w[(size_t)u * F + f];
    if (has_mlp(net))
        ncf_linear_fwd(up, net->mu.w + (size_t)u * (net->L[0] / 2), net->Ws[1], net->bs[1], 1, net->L[0] / 2,
                       net->L[1], false);
    const float *hm = net->h + (has_gmf(net) ? F : 0);
    for (int s = 0; s < n; s += NCF_SCORE_BLOCK) {
        int nb = DREC_MIN(NCF_SCORE_BLOCK, n - s);
        for (int k = 0; k < nb; k++) {
            int32_t i = items ? items[s + k] : s + k;
            float z = net->c[0];
            if (has_gmf(net)) {
                const float *q = net->gi.w + (size_t)i * F;
                for (int f = 0; f < F; f++) z += hu[f] * q[f];
            }
            out[s + k] = z;
            if (has_mlp(net)) {
                const float *p = net->item_proj + (size_t)i * net->L[1];
                float *a = za + (size_t)k * net->L[1];
                for (int o = 0; o < net->L[1]; o++) a[o] = DREC_MAX(up[o] + p[o], 0.0f);
            }
        }
        if (!has_mlp(net)) continue;
        float *x = za, *y = zb;
        for (int l = 2; l <= nl; l++) {
            ncf_linear_fwd(y, x, net->Ws[l], net->bs[l], nb, net->L[l - 1], net->L[l], true);
            float *t = x;
            x = y;
            y = t;
        }
        for (int k = 0; k < nb; k++) {
            float z = 0;
            for (int o = 0; o < net->L[nl]; o++) z += hm[o] * x[(size_t)k * net->L[nl] + o];
            out[s + k] += z;
        }
    }
    free(buf);
}

/* ---- training ------------------------------------------------------------- */

static void table_train_init(ncf_table *t) {
    size_t n = (size_t)t->rows * t->dim + 1;
    t->g = drec_calloc(n, sizeof *t->g);
    t->m = drec_calloc(n, sizeof *t->m);
    t->v = drec_calloc(n, sizeof *t->v);
    t->stamp = drec_malloc(((size_t)t->rows + 1) * sizeof *t->stamp);
    for (int32_t r = 0; r < t->rows; r++) t->stamp[r] = -1;
    t->touched = drec_malloc(((size_t)t->rows + 1) * sizeof *t->touched);
    t->upto = drec_calloc((size_t)t->rows + 1, sizeof *t->upto);
    t->list = drec_malloc(((size_t)t->rows + 1) * sizeof *t->list);
    t->n_touched = 0;
}

static void table_train_free(ncf_table *t) {
    free(t->g);
    free(t->m);
    free(t->v);
    free(t->stamp);
    free(t->touched);
    free(t->upto);
    free(t->list);
    t->g = t->m = t->v = NULL;
    t->stamp = t->touched = t->upto = t->list = NULL;
}

/* g[rows[r]] += src[r] for r < n (src rows `stride` apart), in order. */
DREC_HOT static void ncf_scatter_add(float *restrict g, int dim, const int32_t *restrict rows, int n,
                                    const float *restrict src, int stride) {
    for (int r = 0; r < n; r++) {
        float *restrict gr = g + (size_t)rows[r] * dim;
        const float *restrict sr = src + (size_t)r * stride;
        for (int k = 0; k < dim; k++) gr[k] += sr[k];
    }
}

/* Adds the row gradients src[r] (rows `stride` apart) of rows[0..n) to t:
 * row-sparse, the rows join the touched list. */
static void table_acc(ncf_table *t, const int32_t *rows, int n, const float *src, int stride, int32_t step) {
    for (int r = 0; r < n; r++)
        if (t->stamp[rows[r]] != step) {
            t->stamp[rows[r]] = step;
            t->touched[t->n_touched++] = rows[r];
        }
    ncf_scatter_add(t->g, t->dim, rows, n, src, stride);
}

/* The catch-up of a row last updated at Adam step t0 (0: never) and next
 * updated at step t: k = t - 1 - t0 idle steps. */
static void adam_tables(ncf_train *tr, long need) {
    if (need < tr->n_tab) return;
    long n = DREC_MAX(need + 1, 2 * tr->n_tab), W = NCF_CATCHUP;
    tr->pw1 = drec_realloc(tr->pw1, (size_t)n * sizeof *tr->pw1);
    tr->pw2 = drec_realloc(tr->pw2, (size_t)n * sizeof *tr->pw2);
    tr->ctab = drec_realloc(tr->ctab, (size_t)(n + W) * sizeof *tr->ctab);
    tr->awin = drec_realloc(tr->awin, (size_t)n * sizeof *tr->awin);
    for (long k = tr->n_tab; k < n; k++) {
        tr->pw1[k] = pow(tr->beta1, (double)k);
        tr->pw2[k] = pow(tr->beta2, (double)k);
    }
    /* c(t) carries step t's share of the schedule, so that idle steps
     * taken in one go move a row as far as they would have one by one. */
    for (long k = tr->n_tab ? tr->n_tab + W : 0; k < n + W; k++)
        tr->ctab[k] = k ? sqrt(1 - pow(tr->beta2, (double)k)) / (1 - pow(tr->beta1, (double)k)) *
                              drec_sched_lr(&tr->sched, 1.0f, k - 1)
                        : 0;
    for (long t = tr->n_tab; t < n; t++) {
        double a = 0;
        for (long j = 1; j <= W; j++) a += tr->rpow[j] * tr->ctab[t + j];
        tr->awin[t] = a;
    }
    tr->n_tab = n;
}

/* S(t0, k) = sum_{j=1..k} r^j c(t0+j) in O(1): with the window sums
 * A(t) = sum_{j=1..W} r^j c(t+j) (W = NCF_CATCHUP), S = A(t0) - r^k A(t0+k)
 * for k < W (the two windows differ by terms below r^W ~ 1e-11), else A(t0). */
static void catch_up_terms(ncf_train *tr, long t0, long k, float *lrS, float *d1, float *d2) {
    double S = k >= NCF_CATCHUP ? tr->awin[t0] : tr->awin[t0] - tr->rpow[k] * tr->awin[t0 + k];
    *lrS = (float)(tr->lr * S);
    *d1 = (float)tr->pw1[k];
    *d2 = (float)tr->pw2[k];
}

/* Adam with PyTorch's dense semantics at sparse cost: a row that sat out
 * k steps takes those k zero-gradient steps in closed form (its momentum
 * keeps moving it, as in a dense update) just before it is next read by a
 * forward pass, and all rows are brought up to date before scoring.  With
 * weight decay the idle steps are not zero-gradient; the update is then
 * lazy (touched rows only). */
static bool dense_semantics(const ncf_train *tr) { return tr->adam && tr->reg == 0; }

/* Brings rows[0..nrows) of t (all rows when rows == NULL) up to Adam
 * step `upto`, applying the idle steps each has missed; and the same rows
 * of t2 when given, a table indexed by the same ids and updated in the
 * same steps (neumf's GMF and MLP tables of users, and of items), whose
 * catch-up terms are then t's. */
static void table_catch_up(ncf_table *t, ncf_table *t2, ncf_train *tr, const int32_t *rows, int nrows, long upto) {
    int32_t n = 0;
    adam_tables(tr, upto + 1);
    for (int r = 0; r < nrows; r++) {
        int32_t row = rows ? rows[r] : r;
        long t0 = t->upto[row];
        if (t0 >= upto) continue;
        t->upto[row] = (int32_t)upto;
        if (t2) t2->upto[row] = (int32_t)upto;
        if (t0 == 0) continue; /* never updated: no momentum to carry it */
        catch_up_terms(tr, t0, upto - t0, &tr->cu[3 * n], &tr->cu[3 * n + 1], &tr->cu[3 * n + 2]);
        t->list[n++] = row;
    }
    ncf_catch_up(t->w, t->m, t->v, t->list, n, (size_t)t->dim, tr->cu);
    if (t2) ncf_catch_up(t2->w, t2->m, t2->v, t->list, n, (size_t)t2->dim, tr->cu);
}

/* The update of the rows this step touched; their gradients are zeroed
 * after. */
static void table_update(ncf_table *t, ncf_train *tr, const ncf_adam_hp *h) {
    int dim = t->dim;
    if (tr->dense_all)
        for (int32_t r = 0; r < t->rows; r++)
            if (t->stamp[r] != tr->step - 1) {
                t->stamp[r] = (int32_t)(tr->step - 1);
                t->touched[t->n_touched++] = r;
            }
    if (tr->adam) {
        ncf_adam(t->w, t->g, t->m, t->v, t->touched, t->n_touched, (size_t)dim, h, true);
        for (int32_t j = 0; j < t->n_touched; j++) t->upto[t->touched[j]] = (int32_t)tr->step;
    } else
        for (int32_t j = 0; j < t->n_touched; j++) {
            size_t o = (size_t)t->touched[j] * dim;
            ncf_sgd(t->w + o, t->g + o, (size_t)dim, (float)tr->lr_now, (float)tr->reg);
            memset(t->g + o, 0, (size_t)dim * sizeof *t->g);
        }
    t->n_touched = 0;
}

/* Every row up to the last step: before scoring and at the end. */
static void tables_flush(ncf_net *n, ncf_train *tr) {
    if (!dense_semantics(tr) || tr->step == 0) return;
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    for (int q = 0; q < 4; q++)
        if (tabs[q]->w) table_catch_up(tabs[q], NULL, tr, NULL, tabs[q]->rows, tr->step);
}

static ncf_train *train_new(ncf_net *n, int threads, int cap, bool adam, double lr, double reg) {
    ncf_train *tr = drec_calloc(1, sizeof *tr);
    tr->threads = DREC_MAX(1, DREC_MIN(threads, NCF_MAX_THREADS));
    tr->cap = cap;
    tr->adam = adam;
    tr->lr = lr;
    tr->lr_now = lr;
    tr->keep = 1;
    tr->reg = reg;
    tr->beta1 = 0.9;
    tr->beta2 = 0.999;
    tr->eps = 1e-8;
    tr->gdense = drec_calloc(n->n_dense, sizeof(float));
    tr->mdense = drec_calloc(n->n_dense, sizeof(float));
    tr->vdense = drec_calloc(n->n_dense, sizeof(float));
    tr->part = drec_calloc((size_t)tr->threads * n->n_dense, sizeof(float));
    int widest = 1;
    for (int l = 0; l <= n->nl; l++) {
        tr->act[l] = drec_malloc((size_t)cap * n->L[l] * sizeof(float));
        tr->dact[l] = drec_malloc((size_t)cap * n->L[l] * sizeof(float));
        widest = DREC_MAX(widest, n->L[l]);
    }
    for (int l = 1; n->bn && l <= n->nl; l++) {
        tr->xhat[l] = drec_malloc((size_t)cap * n->L[l] * sizeof(float));
        tr->inv[l] = drec_malloc((size_t)n->L[l] * sizeof(float));
    }
    if (n->bn) tr->bnacc = drec_malloc((size_t)2 * widest * sizeof *tr->bnacc);
    tr->gmf = drec_malloc(((size_t)cap * n->F + 1) * sizeof(float));
    tr->dgu = drec_malloc(((size_t)cap * n->F + 1) * sizeof(float));
    tr->dgi = drec_malloc(((size_t)cap * n->F + 1) * sizeof(float));
    tr->logit = drec_malloc((size_t)cap * sizeof(float));
    tr->dlogit = drec_malloc((size_t)cap * sizeof(float));
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    int32_t most = 1;
    for (int t = 0; t < 4; t++)
        if (tabs[t]->w) {
            table_train_init(tabs[t]);
            most = DREC_MAX(most, tabs[t]->rows);
        }
    tr->cu = drec_malloc((size_t)3 * most * sizeof *tr->cu);
    double r = tr->beta1 / sqrt(tr->beta2);
    tr->rpow[0] = 1;
    tr->rsum[0] = 0;
    for (int j = 1; j <= NCF_CATCHUP; j++) {
        tr->rpow[j] = tr->rpow[j - 1] * r;
        tr->rsum[j] = tr->rsum[j - 1] + tr->rpow[j];
    }
    return tr;
}

static void train_free(ncf_net *n, ncf_train *tr) {
    if (!tr) return;
    free(tr->gdense);
    free(tr->mdense);
    free(tr->vdense);
    free(tr->part);
    for (int l = 0; l <= NCF_MAX_LAYERS; l++) {
        free(tr->act[l]);
        free(tr->dact[l]);
        free(tr->xhat[l]);
        free(tr->inv[l]);
    }
    free(tr->bnacc);
    free(tr->gmf);
    free(tr->dgu);
    free(tr->dgi);
    free(tr->logit);
    free(tr->dlogit);
    free(tr->pw1);
    free(tr->pw2);
    free(tr->ctab);
    free(tr->awin);
    free(tr->cu);
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    for (int t = 0; t < 4; t++)
        if (tabs[t]->w) table_train_free(tabs[t]);
    free(tr);
}

/* softplus(x) and sigmoid(x) from one exp(-|x|), stable at both ends. */
static inline float softplus_sigmoid(float x, float *sig) {
    const float e = expf(-fabsf(x));
    *sig = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    return (x > 0 ? x : 0) + log1pf(e);
}

/* Inverted dropout on rows [lo, hi) of a hidden layer's output: each unit
 * kept with probability keep and scaled by 1/keep.  A row's draws depend on
 * the seed, the step, the layer and the row only (not on the threads). */
static void dropout_rows(const ncf_train *tr, int l, float *a, int width, int lo, int hi) {
    const float keep = tr->keep, sc = 1 / keep;
    for (int r = lo; r < hi; r++) {
        drec_rng rng;
        drec_rng_seed2(&rng, tr->drop_seed + (uint64_t)tr->step * 64 + (uint64_t)l, (uint64_t)r);
        float *ar = a + (size_t)r * width;
        for (int o = 0; o < width; o++) ar[o] = drec_rng_float(&rng) < keep ? ar[o] * sc : 0;
    }
}

/* Batch norm of layer l over rows [lo, hi), the whole batch (a batch-norm
 * step runs on one thread): act[l] holds the layer's products and gets
 * relu(gamma xhat + beta); xhat and 1/std are kept for the backward, and
 * the running statistics move by NCF_BN_MOMENTUM (unbiased variance). */
DREC_HOT static void bn_forward(ncf_net *n, ncf_train *tr, int l, int lo, int hi) {
    int w = n->L[l], B = hi - lo;
    double *sum = tr->bnacc, *sq = tr->bnacc + w;
    float *a = tr->act[l] + (size_t)lo * w, *xh = tr->xhat[l] + (size_t)lo * w;
    for (int j = 0; j < w; j++) sum[j] = sq[j] = 0;
    for (int r = 0; r < B; r++)
        for (int j = 0; j < w; j++) sum[j] += a[(size_t)r * w + j];
    for (int j = 0; j < w; j++) sum[j] /= B;
    for (int r = 0; r < B; r++)
        for (int j = 0; j < w; j++) {
            double d = a[(size_t)r * w + j] - sum[j];
            sq[j] += d * d;
        }
    for (int j = 0; j < w; j++) {
        double var = sq[j] / B;
        tr->inv[l][j] = (float)(1 / sqrt(var + NCF_BN_EPS));
        n->rmean[l][j] += NCF_BN_MOMENTUM * ((float)sum[j] - n->rmean[l][j]);
        n->rvar[l][j] += NCF_BN_MOMENTUM * ((float)(B > 1 ? sq[j] / (B - 1) : var) - n->rvar[l][j]);
    }
    for (int r = 0; r < B; r++)
        for (int j = 0; j < w; j++) {
            size_t k = (size_t)r * w + j;
            xh[k] = (float)(a[k] - sum[j]) * tr->inv[l][j];
            a[k] = DREC_MAX(n->gamma[l][j] * xh[k] + n->beta[l][j], 0.0f);
        }
}

/* Its backward: dact[l] rows [lo, hi), the gradient at the batch norm's
 * output, become the gradient at the layer's products; gamma's and beta's
 * gradients go to the dense partial gd. */
DREC_HOT static void bn_backward(const ncf_net *n, ncf_train *tr, int l, int lo, int hi, float *gd) {
    int w = n->L[l], B = hi - lo;
    double *sd = tr->bnacc, *sdx = tr->bnacc + w;
    float *d = tr->dact[l] + (size_t)lo * w;
    const float *xh = tr->xhat[l] + (size_t)lo * w;
    for (int j = 0; j < w; j++) sd[j] = sdx[j] = 0;
    for (int r = 0; r < B; r++)
        for (int j = 0; j < w; j++) {
            size_t k = (size_t)r * w + j;
            sd[j] += d[k];
            sdx[j] += (double)d[k] * xh[k];
        }
    float *gg = gd + (n->gamma[l] - n->dense), *gb = gd + (n->beta[l] - n->dense);
    for (int j = 0; j < w; j++) gg[j] += (float)sdx[j], gb[j] += (float)sd[j];
    for (int r = 0; r < B; r++)
        for (int j = 0; j < w; j++) {
            size_t k = (size_t)r * w + j;
            float c = n->gamma[l][j] * tr->inv[l][j] / (float)B;
            d[k] = c * (float)(B * (double)d[k] - sd[j] - xh[k] * sdx[j]);
        }
}

/* Forward of rows [lo, hi): act[*], gmf, logit. */
DREC_HOT static void step_forward(ncf_net *n, ncf_train *tr, const int32_t *u, const int32_t *it, int lo, int hi) {
    int F = n->F;
    if (has_gmf(n))
        for (int r = lo; r < hi; r++) {
            const float *p = n->gu.w + (size_t)u[r] * F, *q = n->gi.w + (size_t)it[r] * F;
            float *g = tr->gmf + (size_t)r * F;
            for (int f = 0; f < F; f++) g[f] = p[f] * q[f];
        }
    if (has_mlp(n)) {
        int E = n->L[0] / 2;
        for (int r = lo; r < hi; r++) {
            float *x = tr->act[0] + (size_t)r * n->L[0];
            memcpy(x, n->mu.w + (size_t)u[r] * E, (size_t)E * sizeof *x);
            memcpy(x + E, n->mi.w + (size_t)it[r] * E, (size_t)E * sizeof *x);
        }
        for (int l = 1; l <= n->nl; l++) {
            ncf_linear_fwd(tr->act[l] + (size_t)lo * n->L[l], tr->act[l - 1] + (size_t)lo * n->L[l - 1], n->W[l],
                           n->b[l], hi - lo, n->L[l - 1], n->L[l], !n->bn);
            if (n->bn) bn_forward(n, tr, l, lo, hi);
            if (tr->keep < 1) dropout_rows(tr, l, tr->act[l], n->L[l], lo, hi);
        }
    }
    const float *hm = n->h + (has_gmf(n) ? F : 0);
    int Lk = n->L[n->nl];
    for (int r = lo; r < hi; r++) {
        float z = n->c[0];
        if (has_gmf(n))
            for (int f = 0; f < F; f++) z += n->h[f] * tr->gmf[(size_t)r * F + f];
        if (has_mlp(n))
            for (int o = 0; o < Lk; o++) z += hm[o] * tr->act[n->nl][(size_t)r * Lk + o];
        tr->logit[r] = z;
    }
}

/* Backward of rows [lo, hi) from dlogit: per-row embedding grads (dgu,
 * dgi, dact[0]) and this thread's dense partial gd (accumulated). */
DREC_HOT static void step_backward(const ncf_net *n, ncf_train *tr, const int32_t *u, const int32_t *it, int lo, int hi,
                          float *gd) {
    int F = n->F, H = n->H;
    float *gh = gd + (n->h - n->dense), *gc = gd + (n->c - n->dense);
    if (has_gmf(n))
        for (int r = lo; r < hi; r++) {
            const float d = tr->dlogit[r];
            const float *g = tr->gmf + (size_t)r * F;
            const float *p = n->gu.w + (size_t)u[r] * F, *q = n->gi.w + (size_t)it[r] * F;
            float *dp = tr->dgu + (size_t)r * F, *dq = tr->dgi + (size_t)r * F;
            for (int f = 0; f < F; f++) {
                gh[f] += d * g[f];
                const float dg = d * n->h[f];
                dp[f] = dg * q[f];
                dq[f] = dg * p[f];
            }
        }
    for (int r = lo; r < hi; r++) gc[0] += tr->dlogit[r];
    if (!has_mlp(n)) return;
    int nl = n->nl, Lk = n->L[nl], off = H - Lk;
    /* A dropped unit's output is 0, so the ReLU masks below drop its
     * gradient too; a kept one carries the 1/keep scale. */
    const float sc = 1 / tr->keep;
    for (int r = lo; r < hi; r++) {
        const float d = tr->dlogit[r];
        const float *a = tr->act[nl] + (size_t)r * Lk;
        float *da = tr->dact[nl] + (size_t)r * Lk;
        for (int o = 0; o < Lk; o++) {
            gh[off + o] += d * a[o];
            da[o] = a[o] > 0 ? d * n->h[off + o] * sc : 0;
        }
    }
    for (int l = nl; l >= 1; l--) {
        int in = n->L[l - 1], out = n->L[l];
        const float *x = tr->act[l - 1] + (size_t)lo * in;
        const float *dy = tr->dact[l] + (size_t)lo * out;
        if (n->bn) bn_backward(n, tr, l, lo, hi, gd);
        ncf_linear_bwd_w(gd + (n->W[l] - n->dense), gd + (n->b[l] - n->dense), x, dy, hi - lo, in, out);
        ncf_linear_bwd_x(tr->dact[l - 1] + (size_t)lo * in, dy, n->Wo[l], l > 1 ? x : NULL, hi - lo, in, out);
        if (l > 1 && tr->keep < 1)
            for (float *p = tr->dact[l - 1] + (size_t)lo * in, *e = p + (size_t)(hi - lo) * in; p < e; p++) *p *= sc;
    }
}

/* Loss and dlogit of rows [lo, hi).  Pointwise: BCE with logits of label
 * y[r], mean over the `total` rows of the step.  Pairwise (y == NULL):
 * rows 2k and 2k+1 are (u, positive) and (u, negative), BPR over the
 * total/2 pairs. */
static double step_loss(ncf_train *tr, const float *y, int lo, int hi, int total) {
    double loss = 0;
    if (y) {
        const float inv = 1.0f / (float)total;
        for (int r = lo; r < hi; r++) {
            const float z = tr->logit[r];
            float sg;
            loss += softplus_sigmoid(z, &sg) - y[r] * z;
            tr->dlogit[r] = (sg - y[r]) * inv;
        }
    } else {
        const float inv = 2.0f / (float)total;
        for (int r = lo; r + 1 < hi; r += 2) {
            const float x = tr->logit[r] - tr->logit[r + 1];
            float sg;
            loss += softplus_sigmoid(-x, &sg);
            const float d = -sg * inv;
            tr->dlogit[r] = d;
            tr->dlogit[r + 1] = -d;
        }
    }
    return loss;
}

/* One optimisation step over rows [0, nrows) (user u[r], item it[r],
 * label y[r]; y == NULL: BPR pairs, nrows even).  Returns the summed loss
 * (per row for BCE, per pair for BPR). */
static double net_step(ncf_net *n, ncf_train *tr, const int32_t *u, const int32_t *it, const float *y, int nrows) {
    /* A thread needs many rows to pay for waking it: on a busy machine a
     * second thread that is not scheduled stalls every step, so small
     * batches (the paper's 256) run on one. */
    int T = DREC_MAX(1, DREC_MIN(tr->threads, nrows / NCF_MIN_ROWS_PER_THREAD));
    if (n->bn) T = 1; /* its statistics are over the whole batch */
    size_t nd = n->n_dense;
    tr->lr_now = tr->lr * drec_sched_lr(&tr->sched, 1.0f, tr->step);
    if (dense_semantics(tr)) {
        ncf_table *fu = has_gmf(n) ? &n->gu : &n->mu, *fi = has_gmf(n) ? &n->gi : &n->mi;
        ncf_table *su = has_gmf(n) && has_mlp(n) ? &n->mu : NULL, *si = su ? &n->mi : NULL;
        table_catch_up(fu, su, tr, u, nrows, tr->step);
        table_catch_up(fi, si, tr, it, nrows, tr->step);
    }
    memset(tr->part, 0, (size_t)T * nd * sizeof *tr->part);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        /* Even chunk bounds keep BPR pairs inside one thread. */
        int per = ((nrows + nt - 1) / nt + 1) & ~1;
        int lo = DREC_MIN(nrows, t * per), hi = DREC_MIN(nrows, lo + per);
        if (lo < hi) {
            step_forward(n, tr, u, it, lo, hi);
            tr->loss_part[t] = step_loss(tr, y, lo, hi, nrows);
            step_backward(n, tr, u, it, lo, hi, tr->part + (size_t)t * nd);
        } else
            tr->loss_part[t] = 0;
    }
    double loss = 0;
    for (int t = 0; t < T; t++) loss += tr->loss_part[t];
    memcpy(tr->gdense, tr->part, nd * sizeof *tr->gdense);
    for (int t = 1; t < T; t++) {
        const float *p = tr->part + (size_t)t * nd;
        for (size_t k = 0; k < nd; k++) tr->gdense[k] += p[k];
    }
    /* Embedding gradients, added in row order (independent of threads). */
    int32_t step = (int32_t)tr->step;
    int F = n->F, E = n->L[0] / 2;
    if (has_gmf(n)) {
        table_acc(&n->gu, u, nrows, tr->dgu, F, step);
        table_acc(&n->gi, it, nrows, tr->dgi, F, step);
    }
    if (has_mlp(n)) {
        table_acc(&n->mu, u, nrows, tr->dact[0], n->L[0], step);
        table_acc(&n->mi, it, nrows, tr->dact[0] + E, n->L[0], step);
    }
    tr->step++;
    ncf_adam_hp h = {0};
    if (tr->adam) {
        h = (ncf_adam_hp){.lr1 = (float)(tr->lr_now / (1 - pow(tr->beta1, (double)tr->step))),
                          .bc2 = (float)sqrt(1 - pow(tr->beta2, (double)tr->step)),
                          .b1 = (float)tr->beta1, .b2 = (float)tr->beta2, .eps = (float)tr->eps, .reg = (float)tr->reg};
        ncf_adam(n->dense, tr->gdense, tr->mdense, tr->vdense, NULL, 1, nd, &h, false);
    } else
        ncf_sgd(n->dense, tr->gdense, nd, (float)tr->lr_now, (float)tr->reg);
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    for (int k = 0; k < 4; k++)
        if (tabs[k]->w) table_update(tabs[k], tr, &h);
    net_refresh(n, false);
    return loss;
}

/* ---- hyper-parameters ----------------------------------------------------- */

typedef struct ncf_hp {
    int kind;
    long epochs, dim, neg, batch, threads;
    long pretrain_epochs, patience; /* pre-training: at most, and epochs without a validation gain */
    long warmup;                    /* steps of linear lr warm-up */
    int schedule;                   /* 0 constant, 1 cosine, 2 exp, 3 step */
    double lr_decay, dropout;
    bool bn;                        /* batch norm in the MLP tower */
    int nl, layers[NCF_MAX_LAYERS + 1];
    double lr, reg, alpha, finetune_lr; /* finetune_lr: after pre-training, 0 = lr */
    bool adam, bpr, pretrain, finetune_adam;
    const char *gmf_file, *mlp_file;
} ncf_hp;

static drec_status read_hp(const drec_model *m, const drec_params *p, int kind, ncf_hp *hp) {
    memset(hp, 0, sizeof *hp);
    hp->kind = kind;
    drec_status st;
    if ((st = drec_params_int(p, "epochs", 20, &hp->epochs)) || (st = drec_params_int(p, "dim", 8, &hp->dim)) ||
        (st = drec_params_int(p, "neg", 4, &hp->neg)) || (st = drec_params_int(p, "batch", 256, &hp->batch)) ||
        (st = drec_params_float(p, "lr", 0.001, &hp->lr)) || (st = drec_params_float(p, "reg", 0, &hp->reg)) ||
        (st = drec_params_float(p, "alpha", 0.5, &hp->alpha)) ||
        (st = drec_params_float(p, "finetune_lr", 0, &hp->finetune_lr)) ||
        (st = drec_params_int(p, "pretrain_epochs", 100, &hp->pretrain_epochs)) ||
        (st = drec_params_int(p, "pretrain_patience", 5, &hp->patience)) ||
        (st = drec_params_int(p, "warmup", 0, &hp->warmup)) ||
        (st = drec_params_float(p, "lr_decay", 0.9, &hp->lr_decay)) ||
        (st = drec_params_float(p, "dropout", 0, &hp->dropout)))
        return st;
    hp->bn = drec_params_flag(p, "bn");
    static const char *const schedules[] = {"constant", "cosine", "exp", "step"};
    const char *sch = drec_params_str(p, "schedule", "constant");
    hp->schedule = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(sch, schedules[k]) == 0) hp->schedule = k;
    if (hp->schedule < 0) return drec_fail(DREC_ERR_USAGE, "schedule \"%s\": expected constant, cosine, exp or step", sch);
    if (hp->warmup < 0) return drec_fail(DREC_ERR_USAGE, "warmup: must not be negative");
    if (!(hp->lr_decay > 0 && hp->lr_decay <= 1)) return drec_fail(DREC_ERR_USAGE, "lr_decay: must be in (0, 1]");
    if (!(hp->dropout >= 0 && hp->dropout < 1)) return drec_fail(DREC_ERR_USAGE, "dropout: must be in [0, 1)");
    hp->threads = m->threads > 0 ? m->threads : drec_threads();
    if (kind & NCF_MLP) {
        int n = drec_params_ints(p, "layers", "64,32,16,8", hp->layers, NCF_MAX_LAYERS + 1);
        if (n < 0) return DREC_ERR_USAGE;
        if (n < 2) return drec_fail(DREC_ERR_USAGE, "layers: need at least two sizes (input width, then a layer)");
        if (hp->layers[0] % 2) return drec_fail(DREC_ERR_USAGE, "layers: the first size (%d) must be even: "
                                                "it is the user and item embeddings side by side", hp->layers[0]);
        for (int k = 0; k < n; k++)
            if (hp->layers[k] < 1 || hp->layers[k] > 4096)
                return drec_fail(DREC_ERR_USAGE, "layers: size %d is out of range 1..4096", hp->layers[k]);
        hp->nl = n - 1;
    }
    const char *opt = drec_params_str(p, "optimizer", "adam");
    if (strcmp(opt, "adam") == 0)
        hp->adam = true;
    else if (strcmp(opt, "sgd") != 0)
        return drec_fail(DREC_ERR_USAGE, "optimizer \"%s\": %s supports adam and sgd", opt, m->vt->name);
    const char *loss = drec_params_str(p, "loss", "bce");
    if (strcmp(loss, "bpr") == 0)
        hp->bpr = true;
    else if (strcmp(loss, "bce") != 0)
        return drec_fail(DREC_ERR_USAGE, "loss \"%s\": expected bce or bpr", loss);
    if (kind == NCF_NEUMF) {
        hp->pretrain = drec_params_flag(p, "pretrain");
        hp->gmf_file = drec_params_str(p, "gmf", NULL);
        hp->mlp_file = drec_params_str(p, "mlp", NULL);
        const char *ft = drec_params_str(p, "finetune", "sgd");
        if (strcmp(ft, "adam") == 0)
            hp->finetune_adam = true;
        else if (strcmp(ft, "sgd") != 0)
            return drec_fail(DREC_ERR_USAGE, "finetune \"%s\": expected sgd (the paper) or adam", ft);
    }
    if (hp->epochs < 0 || hp->epochs > 100000) return drec_fail(DREC_ERR_USAGE, "epochs: %ld is out of range", hp->epochs);
    if (hp->pretrain_epochs < 1 || hp->pretrain_epochs > 100000)
        return drec_fail(DREC_ERR_USAGE, "pretrain_epochs: %ld is out of range 1..100000", hp->pretrain_epochs);
    if (hp->patience < 1 || hp->patience > 100000)
        return drec_fail(DREC_ERR_USAGE, "pretrain_patience: %ld is out of range 1..100000", hp->patience);
    if (hp->dim < 1 || hp->dim > 4096) return drec_fail(DREC_ERR_USAGE, "dim: %ld is out of range 1..4096", hp->dim);
    if (hp->neg < 1 || hp->neg > 1000) return drec_fail(DREC_ERR_USAGE, "neg: %ld is out of range 1..1000", hp->neg);
    if (hp->batch < 1 || hp->batch > (1 << 20))
        return drec_fail(DREC_ERR_USAGE, "batch: %ld is out of range 1..1048576", hp->batch);
    if (!(hp->lr > 0)) return drec_fail(DREC_ERR_USAGE, "lr: must be positive");
    if (hp->finetune_lr < 0) return drec_fail(DREC_ERR_USAGE, "finetune_lr: must not be negative (0: --lr)");
    if (hp->reg < 0) return drec_fail(DREC_ERR_USAGE, "reg: must not be negative");
    if (hp->alpha < 0 || hp->alpha > 1) return drec_fail(DREC_ERR_USAGE, "alpha: must be in [0, 1]");
    return DREC_OK;
}

/* ---- fit ------------------------------------------------------------------- */

/* ---- validation for pre-training ------------------------------------------ */

#define NCF_VAL_NEG 100

/* The paper trains GMF and MLP "until convergence" before fusing them.
 * Convergence is judged on a validation split carved from the training
 * data, never on the test part: each user's latest training interaction
 * (leave-one-out by time, as the NCF protocol does for test) is held out
 * and ranked among NCF_VAL_NEG items the user never had in training; the
 * part trains on the rest until its NDCG@10 there has not improved for
 * `patience` epochs, and keeps the weights of its best epoch. */
typedef struct ncf_val {
    int n;            /* users with a held-out item */
    int32_t *user;    /* (n) */
    int32_t *cand;    /* (n, 1 + NCF_VAL_NEG): the held-out item, then the negatives */
    long patience;
} ncf_val;

static void val_free(ncf_val *v) {
    free(v->user);
    free(v->cand);
    memset(v, 0, sizeof *v);
}

/* Splits off the held-out rows; *rest gets the training data without them
 * (NULL and an empty v when no user has two interactions). */
static drec_status val_make(const drec_dataset *train, drec_sampler *all, uint64_t seed, long patience, ncf_val *v,
                            drec_dataset **rest) {
    memset(v, 0, sizeof *v);
    *rest = NULL;
    drec_dataset *tr, *te;
    drec_status st = drec_split_loo(train, &tr, &te);
    if (st) return st;
    if (te->n == 0) {
        drec_dataset_free(tr);
        drec_dataset_free(te);
        return DREC_OK;
    }
    v->patience = patience;
    v->user = drec_malloc((size_t)te->n * sizeof *v->user);
    v->cand = drec_malloc((size_t)te->n * (1 + NCF_VAL_NEG) * sizeof *v->cand);
    drec_rng rng;
    drec_rng_seed2(&rng, seed, 0x76616c);
    for (size_t r = 0; r < te->n; r++) {
        int32_t *c = v->cand + (size_t)v->n * (1 + NCF_VAL_NEG);
        c[0] = te->item[r];
        /* negatives avoid everything the user had, the held-out item included */
        if (drec_sampler_negs_distinct(all, &rng, te->user[r], c + 1, NCF_VAL_NEG) < NCF_VAL_NEG) continue;
        v->user[v->n++] = te->user[r];
    }
    drec_dataset_free(te);
    *rest = tr;
    return DREC_OK;
}

/* NDCG@10 of the held-out items (ties rank against them). */
static double val_ndcg(const ncf_net *net, const ncf_val *v) {
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int k = 0; k < v->n; k++) {
        float s[1 + NCF_VAL_NEG];
        net_score(net, v->user[k], v->cand + (size_t)k * (1 + NCF_VAL_NEG), 1 + NCF_VAL_NEG, s);
        int rank = 0;
        for (int j = 1; j <= NCF_VAL_NEG; j++) rank += s[j] >= s[0];
        if (rank < 10) sum += 1 / log2(rank + 2.0);
    }
    return v->n ? sum / v->n : 0;
}

/* The learned values of net, as (pointer, count) spans: the tables and the
 * dense block (what a best-epoch snapshot must keep). */
static int net_spans(ncf_net *n, float **ptr, size_t *len) {
    ncf_table *tabs[4] = {&n->gu, &n->gi, &n->mu, &n->mi};
    int k = 0;
    for (int t = 0; t < 4; t++)
        if (tabs[t]->w) ptr[k] = tabs[t]->w, len[k++] = (size_t)tabs[t]->rows * tabs[t]->dim;
    ptr[k] = n->dense, len[k++] = n->n_dense;
    return k;
}

static void net_snapshot(ncf_net *n, float *buf, bool restore) {
    float *ptr[5];
    size_t len[5];
    int k = net_spans(n, ptr, len);
    for (int j = 0; j < k; j++) {
        memcpy(restore ? ptr[j] : buf, restore ? buf : ptr[j], len[j] * sizeof *buf);
        buf += len[j];
    }
}

/* Trains net for hp->epochs over the sampler's positives.  m: the model
 * whose curve is recorded (drec_fit_epoch), or NULL for a pre-training
 * phase.  stream separates the random draws of the phases. */
/* Fisher-Yates over a[0..n) and, when b != NULL, b[0..n) alongside. */
static void shuffle_units(drec_rng *rng, uint64_t *a, int32_t *b, size_t n) {
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)drec_rng_below(rng, (uint32_t)k);
        uint64_t t = a[k - 1];
        a[k - 1] = a[j];
        a[j] = t;
        if (b) {
            int32_t x = b[k - 1];
            b[k - 1] = b[j];
            b[j] = x;
        }
    }
}

static long net_fit(ncf_net *net, drec_model *m, const ncf_hp *hp, drec_sampler *smp, const ncf_val *val,
                    uint64_t seed, uint64_t stream, const char *label) {
    int N = (int)hp->neg;
    int64_t P = smp->ptr[smp->n_users];
    /* The shuffled units, one word each so that a shuffle moves one thing:
     * BCE: a row, user << 32 | label << 31 | item, each positive followed by
     * N negatives.  BPR: a pair, user << 32 | positive, its negative in neg. */
    size_t units = (size_t)P * (hp->bpr ? N : N + 1);
    uint64_t *unit = drec_malloc((units + 1) * sizeof *unit);
    int32_t *neg = hp->bpr ? drec_malloc((units + 1) * sizeof *neg) : NULL;
    int per_unit = hp->bpr ? 2 : 1;
    int cap = (int)DREC_MIN((size_t)hp->batch * per_unit, DREC_MAX(units * per_unit, (size_t)1));
    int32_t *su = drec_malloc((size_t)cap * sizeof *su), *si = drec_malloc((size_t)cap * sizeof *si);
    float *sy = drec_malloc((size_t)cap * sizeof *sy);
    ncf_train *tr = train_new(net, (int)hp->threads, cap, hp->adam, hp->lr, hp->reg);
    /* The schedules in steps: exp decays by lr_decay each epoch, step
     * halves every 5 epochs, cosine anneals to 0 over the run. */
    int64_t per_epoch = (int64_t)((units + (size_t)cap / per_unit - 1) / ((size_t)cap / per_unit));
    static const drec_sched_kind kinds[] = {DREC_SCHED_CONSTANT, DREC_SCHED_COSINE, DREC_SCHED_STEP, DREC_SCHED_STEP};
    tr->sched = (drec_sched){.kind = kinds[hp->schedule], .warmup = hp->warmup, .min_lr = 0,
                             .total = DREC_MAX(1, per_epoch * hp->epochs - hp->warmup),
                             .step_size = DREC_MAX(1, hp->schedule == 3 ? 5 * per_epoch : per_epoch),
                             .gamma = (float)(hp->schedule == 3 ? 0.5 : hp->lr_decay)};
    tr->keep = (float)(1 - hp->dropout);
    tr->drop_seed = seed ^ stream << 48;
    drec_rng rng;
    drec_rng_seed2(&rng, seed, stream);
    int32_t negs[1024];
    float *best = NULL;
    long best_ep = -1;
    double best_val = -1;
    if (val && val->n) {
        float *ptr[5];
        size_t len[5], total = 0;
        for (int k = net_spans(net, ptr, len); k-- > 0;) total += len[k];
        best = drec_malloc(total * sizeof *best);
    }
    for (long ep = 0; ep < hp->epochs; ep++) {
        size_t n = 0;
        for (int32_t uu = 0; uu < smp->n_users; uu++) {
            uint64_t hi = (uint64_t)(uint32_t)uu << 32;
            for (int64_t k = smp->ptr[uu]; k < smp->ptr[uu + 1]; k++) {
                int32_t pos = smp->items[k];
                int got = drec_sampler_negs(smp, &rng, uu, negs, N);
                if (hp->bpr)
                    for (int j = 0; j < got; j++) neg[n] = negs[j], unit[n++] = hi | (uint32_t)pos;
                else {
                    unit[n++] = hi | 1u << 31 | (uint32_t)pos;
                    for (int j = 0; j < got; j++) unit[n++] = hi | (uint32_t)negs[j];
                }
            }
        }
        shuffle_units(&rng, unit, neg, n);
        double loss = 0;
        size_t per_step = (size_t)cap / per_unit;
        for (size_t s = 0; s < n; s += per_step) {
            int nb = (int)DREC_MIN(per_step, n - s);
            for (int r = 0; r < nb; r++) {
                uint64_t w = unit[s + r];
                int32_t uu = (int32_t)(w >> 32), it = (int32_t)(w & 0x7fffffff);
                if (hp->bpr) {
                    su[2 * r] = su[2 * r + 1] = uu;
                    si[2 * r] = it;
                    si[2 * r + 1] = neg[s + r];
                } else {
                    su[r] = uu;
                    si[r] = it;
                    sy[r] = (float)(w >> 31 & 1);
                }
            }
            loss += net_step(net, tr, su, si, hp->bpr ? NULL : sy, nb * per_unit);
        }
        loss /= (double)DREC_MAX(n, (size_t)1);
        tables_flush(net, tr);
        net_refresh(net, true);
        if (m) {
            if (drec_fit_epoch(m, (int)ep, (int)hp->epochs, loss)) break;
        } else if (best) {
            double v = val_ndcg(net, val);
            drec_verbose("neumf: pre-training %s: epoch %ld loss %.5f validation ndcg@10 %.4f", label, ep + 1, loss, v);
            if (v > best_val) {
                best_val = v, best_ep = ep;
                net_snapshot(net, best, false);
            } else if (ep - best_ep >= val->patience)
                break;
        } else
            drec_verbose("neumf: pre-training %s: epoch %ld/%ld loss %.5f", label, ep + 1, hp->epochs, loss);
    }
    if (best) {
        net_snapshot(net, best, true);
        net_refresh(net, true);
        drec_verbose("neumf: %s converged after %ld epochs (validation ndcg@10 %.4f)", label, best_ep + 1, best_val);
        free(best);
    }
    train_free(net, tr);
    free(unit);
    free(neg);
    free(su);
    free(si);
    free(sy);
    return best_ep + 1;
}

static int kind_of(const drec_model *m) {
    const char *name = m->vt->name;
    return strcmp(name, "gmf") == 0 ? NCF_GMF : strcmp(name, "mlp") == 0 ? NCF_MLP : NCF_NEUMF;
}

static void table_copy(ncf_table *dst, const ncf_table *src) {
    memcpy(dst->w, src->w, (size_t)src->rows * src->dim * sizeof *dst->w);
}

/* A pre-trained part from a model file, checked against this training run. */
static drec_status load_part(const drec_model *m, const char *path, const char *want, const ncf_hp *hp,
                             drec_model **out) {
    drec_status st = drec_model_load(path, out);
    if (st) return drec_fail_wrap(st, "%s=%s", want, path);
    const drec_model *p = *out;
    const char *why = NULL;
    if (strcmp(p->vt->name, want) != 0)
        why = "is not a model of that kind";
    else if (p->n_users != m->n_users || p->n_items != m->n_items)
        why = "was trained on other users or items than this neumf";
    else {
        for (int32_t u = 0; u < m->n_users && !why; u++)
            if (strcmp(drec_strmap_name(&p->users, u), drec_strmap_name(&m->users, u)) != 0)
                why = "was trained on other users than this neumf";
        for (int32_t i = 0; i < m->n_items && !why; i++)
            if (strcmp(drec_strmap_name(&p->items, i), drec_strmap_name(&m->items, i)) != 0)
                why = "was trained on other items than this neumf";
    }
    const ncf_net *pn = p->state;
    if (!why && pn->F != hp->dim && *want == 'g') why = "has another --dim than this neumf";
    if (!why && *want == 'm') {
        if (pn->nl != hp->nl)
            why = "has other --layers than this neumf";
        else
            for (int l = 0; l <= pn->nl; l++)
                if (pn->L[l] != hp->layers[l]) why = "has other --layers than this neumf";
    }
    if (why) {
        st = drec_fail(DREC_ERR_USAGE, "%s=%s: the %s model in it %s", want, path, p->vt->name, why);
        drec_model_free(*out);
        *out = NULL;
        return st;
    }
    return DREC_OK;
}

/* One part for neumf, trained until convergence: the number of epochs is
 * the best on the validation rows (hp->epochs at most), and the part is
 * then trained that long again on all the training data, so that it also
 * learns from each user's latest interaction, the one most like the test's. */
static ncf_net *pretrain_part(const ncf_hp *part, const drec_model *m, drec_sampler *all, drec_sampler *rest,
                              const ncf_val *val, drec_rng *rng, uint64_t stream, const char *label) {
    ncf_hp hp = *part;
    hp.epochs = hp.pretrain_epochs;
    ncf_net *n = net_new(hp.kind, m->n_users, m->n_items, (int)hp.dim, hp.nl, hp.layers, hp.bn);
    net_init(n, rng);
    if (!val->n) {
        net_fit(n, NULL, &hp, all, NULL, m->seed, stream, label);
        return n;
    }
    hp.epochs = net_fit(n, NULL, &hp, rest, val, m->seed, stream, label);
    net_init(n, rng);
    net_fit(n, NULL, &hp, all, NULL, m->seed, stream + 16, label);
    drec_note("neumf: pre-trained %s for %ld epochs (its best on validation)", label, hp.epochs);
    return n;
}

/* neumf's start from a gmf and an mlp, each read from a file or trained
 * here to convergence (pretrain_part): their tables and MLP as they are, the
 * output layer [alpha h_gmf, (1-alpha) h_mlp]; then plain SGD, as the paper
 * tunes the fused model (Adam restarted without its parts' moments takes
 * full-size steps and overfits). */
static drec_status fuse_parts(ncf_net *net, const drec_model *m, ncf_hp *hp, const drec_dataset *train,
                              drec_sampler *smp, drec_rng *rng) {
    drec_model *gfile = NULL, *mfile = NULL;
    ncf_net *gown = NULL, *mown = NULL;
    ncf_val val = {0};
    drec_dataset *rest = NULL;
    drec_sampler *psmp = smp; /* the parts train without the held-out rows */
    drec_status st = DREC_OK;
    if ((hp->gmf_file && (st = load_part(m, hp->gmf_file, "gmf", hp, &gfile))) ||
        (hp->mlp_file && (st = load_part(m, hp->mlp_file, "mlp", hp, &mfile))))
        goto done;
    if (mfile && ((const ncf_net *)mfile->state)->bn != net->bn) {
        st = drec_fail(DREC_ERR_USAGE, "mlp=%s: the part %s batch norm and this neumf %s", hp->mlp_file,
                       net->bn ? "has no" : "has", net->bn ? "has (--bn)" : "has not");
        goto done;
    }
    if (!gfile || !mfile) {
        if ((st = val_make(train, smp, m->seed, hp->patience, &val, &rest))) goto done;
        if (rest) psmp = drec_sampler_new(rest, 0.0, m->seed);
    }
    ncf_hp part = *hp;
    part.kind = NCF_GMF;
    const ncf_net *g = gfile ? gfile->state : (gown = pretrain_part(&part, m, smp, psmp, &val, rng, 1, "gmf"));
    part.kind = NCF_MLP;
    const ncf_net *ml = mfile ? mfile->state : (mown = pretrain_part(&part, m, smp, psmp, &val, rng, 2, "mlp"));
    table_copy(&net->gu, &g->gu);
    table_copy(&net->gi, &g->gi);
    table_copy(&net->mu, &ml->mu);
    table_copy(&net->mi, &ml->mi);
    for (int l = 1; l <= net->nl; l++) {
        memcpy(net->W[l], ml->W[l], (size_t)net->L[l - 1] * net->L[l] * sizeof(float));
        memcpy(net->b[l], ml->b[l], (size_t)net->L[l] * sizeof(float));
        if (!net->bn) continue;
        memcpy(net->gamma[l], ml->gamma[l], (size_t)net->L[l] * sizeof(float));
        memcpy(net->beta[l], ml->beta[l], (size_t)net->L[l] * sizeof(float));
    }
    if (net->bn) memcpy(net->stats, ml->stats, net->n_stats * sizeof(float));
    float a = (float)hp->alpha;
    for (int f = 0; f < net->F; f++) net->h[f] = a * g->h[f];
    for (int o = 0; o < net->L[net->nl]; o++) net->h[net->F + o] = (1 - a) * ml->h[o];
    net->c[0] = a * g->c[0] + (1 - a) * ml->c[0];
    hp->adam = hp->finetune_adam;
    if (hp->finetune_lr > 0) hp->lr = hp->finetune_lr;
done:
    net_free(gown);
    net_free(mown);
    drec_model_free(gfile);
    drec_model_free(mfile);
    if (psmp != smp) drec_sampler_free(psmp);
    drec_dataset_free(rest);
    val_free(&val);
    return st;
}

static drec_status ncf_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    ncf_hp hp;
    int kind = kind_of(m);
    drec_status st = read_hp(m, p, kind, &hp);
    if (st) return st;
    drec_sampler *smp = drec_sampler_new(train, 0.0, m->seed);
    ncf_net *net = net_new(kind, m->n_users, m->n_items, (int)hp.dim, hp.nl, hp.layers, hp.bn);
    drec_rng rng;
    drec_rng_seed2(&rng, m->seed, 0x6e6366);
    net_init(net, &rng);
    if (kind == NCF_NEUMF && (hp.pretrain || hp.gmf_file || hp.mlp_file) &&
        (st = fuse_parts(net, m, &hp, train, smp, &rng))) {
        net_free(net);
        drec_sampler_free(smp);
        return st;
    }
    net_refresh(net, true);
    m->state = net;
    net_fit(net, m, &hp, smp, NULL, m->seed, 3, m->vt->name);
    drec_sampler_free(smp);
    return DREC_OK;
}

/* ---- the vtable hooks ------------------------------------------------------- */

static void ncf_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    int count = items ? n : m->n_items;
    if (q->user < 0 || q->user >= m->n_users) {
        /* No fold-in for users unseen in training: popularity. */
        for (int k = 0; k < count; k++) {
            int32_t i = items ? items[k] : k;
            out[k] = i >= 0 && i < m->n_items ? (float)m->item_count[i] : 0;
        }
        return;
    }
    if (items) {
        for (int k = 0; k < n; k++)
            if (items[k] < 0 || items[k] >= m->n_items) {
                /* Rare: score the valid ones through a filtered copy. */
                int32_t *ok = drec_malloc((size_t)n * sizeof *ok);
                float *s = drec_malloc((size_t)n * sizeof *s);
                int c = 0;
                for (int j = 0; j < n; j++)
                    if (items[j] >= 0 && items[j] < m->n_items) ok[c++] = items[j];
                net_score(m->state, q->user, ok, c, s);
                for (int j = 0, t = 0; j < n; j++) out[j] = items[j] >= 0 && items[j] < m->n_items ? s[t++] : -INFINITY;
                free(ok);
                free(s);
                return;
            }
    }
    net_score(m->state, q->user, items, count, out);
}

static const float *ncf_item_vector(const drec_model *m, int32_t i, int *dim) {
    const ncf_net *n = m->state;
    const ncf_table *t = has_gmf(n) ? &n->gi : &n->mi;
    *dim = t->dim;
    return t->w + (size_t)i * t->dim;
}

static drec_status ncf_save(const drec_model *m, drec_mf_writer *w) {
    ncf_net *n = m->state;
    int32_t *shape = n->shape; /* lives as long as the model, as the writer needs */
    int ns = 0;
    shape[ns++] = n->kind;
    shape[ns++] = n->F;
    shape[ns++] = n->nl;
    for (int l = 0; has_mlp(n) && l <= n->nl; l++) shape[ns++] = n->L[l];
    shape[ns++] = n->bn;
    drec_status st = drec_mf_put_i32(w, "ncf.shape", shape, ns);
    if (!st && has_gmf(n)) st = drec_mf_put_f32(w, "gmf.user", n->gu.w, n->U, n->F);
    if (!st && has_gmf(n)) st = drec_mf_put_f32(w, "gmf.item", n->gi.w, n->I, n->F);
    if (!st && has_mlp(n)) st = drec_mf_put_f32(w, "mlp.user", n->mu.w, n->U, n->mu.dim);
    if (!st && has_mlp(n)) st = drec_mf_put_f32(w, "mlp.item", n->mi.w, n->I, n->mi.dim);
    if (!st) st = drec_mf_put_f32(w, "dense", n->dense, (int64_t)n->n_dense, 0);
    if (!st && n->bn) st = drec_mf_put_f32(w, "mlp.bn_stats", n->stats, (int64_t)n->n_stats, 0);
    return st;
}

static drec_status ncf_load(drec_model *m, drec_mf_reader *r) {
    int64_t ns = 0;
    const void *data;
    drec_status st = drec_mf_get(r, "ncf.shape", DREC_DT_I32, 1, &ns, &data);
    if (st) return st;
    const int32_t *s = data;
    int kind = kind_of(m);
    bool mlp = kind & NCF_MLP;
    /* kind, F, nl, L[0..nl] (mlp parts), then the batch-norm flag (absent in older files) */
    int64_t base = ns >= 3 ? 3 + (mlp ? s[2] + 1 : 0) : 0;
    if (ns < 3 || s[0] != kind || s[1] < 1 || s[1] > 4096 || s[2] < 0 || s[2] > NCF_MAX_LAYERS ||
        (ns != base && ns != base + 1) || (mlp && (s[2] < 1 || s[3] % 2)) || (ns == base + 1 && (s[base] & ~1)))
        return drec_fail(DREC_ERR_FORMAT, "%s model file: the network shape is inconsistent", m->vt->name);
    bool bn = ns == base + 1 && s[base];
    int L[NCF_MAX_LAYERS + 1] = {0};
    for (int l = 0; mlp && l <= s[2]; l++) {
        L[l] = s[3 + l];
        if (L[l] < 1 || L[l] > 4096)
            return drec_fail(DREC_ERR_FORMAT, "%s model file: the network shape is inconsistent", m->vt->name);
    }
    ncf_net *n = net_new(kind, m->n_users, m->n_items, s[1], s[2], L, bn);
    m->state = n;
    struct { const char *name; ncf_table *t; } tabs[4] = {
        {"gmf.user", &n->gu}, {"gmf.item", &n->gi}, {"mlp.user", &n->mu}, {"mlp.item", &n->mi}};
    for (int k = 0; k < 4; k++) {
        if (!tabs[k].t->w) continue;
        int64_t sh[2] = {tabs[k].t->rows, tabs[k].t->dim};
        if ((st = drec_mf_get(r, tabs[k].name, DREC_DT_F32, 2, sh, &data))) return st;
        memcpy(tabs[k].t->w, data, (size_t)sh[0] * sh[1] * sizeof(float));
    }
    int64_t nd = (int64_t)n->n_dense;
    if ((st = drec_mf_get(r, "dense", DREC_DT_F32, 1, &nd, &data))) return st;
    memcpy(n->dense, data, n->n_dense * sizeof(float));
    int64_t nst = (int64_t)n->n_stats;
    if (n->bn && (st = drec_mf_get(r, "mlp.bn_stats", DREC_DT_F32, 1, &nst, &data))) return st;
    if (n->bn) memcpy(n->stats, data, n->n_stats * sizeof(float));
    net_refresh(n, true);
    return DREC_OK;
}

static void ncf_free(drec_model *m) {
    net_free(m->state);
    m->state = NULL;
}

#define NCF_VT(NAME, SUMMARY)                                                                          \
    {                                                                                                  \
        .name = NAME, .summary = SUMMARY, .caps = DREC_CAP_RANK, .fit = ncf_fit, .score = ncf_score,   \
        .item_vector = ncf_item_vector, .save = ncf_save, .load = ncf_load, .free_state = ncf_free,    \
    }

const drec_model_vt drec_gmf_vt = NCF_VT("gmf", "generalized matrix factorization (NCF, He et al. 2017)");
const drec_model_vt drec_mlp_vt = NCF_VT("mlp", "multi-layer perceptron over user and item embeddings (NCF)");
const drec_model_vt drec_neumf_vt =
    NCF_VT("neumf", "NeuMF: GMF and MLP fused (NCF); --pretrain trains both to convergence first "
                    "(pretrain_epochs, pretrain_patience), or gmf=FILE mlp=FILE");
