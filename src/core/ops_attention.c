/*
 * ops_attention.c — fused multi-head scaled dot-product attention.
 *
 * Shapes: q, k, v [B*T, H*Dh]; head h of batch b is the [T,Dh] block at
 * rows b*T.., columns h*Dh..  One (b,h) pair is one unit of work:
 *   S = Q K^T / sqrt(Dh), masked (causal: key j > query t; padding: key
 *   mask 0) to -inf;  P = softmax_rows(S);  O = P V.
 * P is kept for backward ([B,H,T,T]); S never exists for more than one
 * pair per thread.  Every product is a linear combination of rows
 * (kernels.h lincomb, accumulators in registers): scores of one query are
 * a combination of the rows of K^T, an output row a combination of V's.
 *
 * Backward per pair:  dP = dO V^T;  dS = P * (dP - rowsum(P * dP));
 *   dQ = dS K / sqrt(Dh);  dK = dS^T Q / sqrt(Dh);  dV = P^T dO.
 * Products go G = 4 rows at a time (kernels.h lincomb_block: each loaded
 * row of K^T, V, Q or dO feeds four accumulators); the transposed ones
 * take the columns of dS and P in place, as coefficients a row apart.
 * Pairs write disjoint blocks of dQ, dK, dV: parallel with no reductions.
 */
#include "kernels.h"
#include "tensor.h"

#include <math.h>
#include <omp.h>

typedef struct {
    float *P;            /* [B*H, T, T] */
    const int32_t *mask; /* [B*T] or NULL */
    int T, H;
    bool causal;
} attn_saved;

/* Copies the [T,Dh] head block of x (row stride ld) transposed into out [Dh,T]. */
static void head_transpose(float *out, const float *x, int T, int Dh, int ld) {
    for (int t = 0; t < T; t++)
        for (int d = 0; d < Dh; d++) out[d * T + t] = x[(int64_t)t * ld + d];
}

static inline int key_end(const attn_saved *s, int t) { return s->causal ? t + 1 : s->T; }

#define G 4 /* queries (or keys) per small product: lincomb_block's output block */

static void attention_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *o = nd->out;
    attn_saved *s = nd->saved;
    int T = s->T, H = s->H, C = drec_cols(q), Dh = C / H, B = (int)(drec_rows(q) / T);
    float scale = 1.0f / sqrtf((float)Dh);
    float *dq = drec_grad(tp, q), *dk = drec_grad(tp, k), *dv = drec_grad(tp, v);
    int nth = omp_get_max_threads();
    int64_t per = (int64_t)Dh * T + (int64_t)T * T + G * T;
    float *scratch = drec_tape_floats(tp, nth * per);
    DREC_PAR_FOR((int64_t)B * H * T * T * Dh > 100000,
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        float *Vt = scratch + (int64_t)omp_get_thread_num() * per;
        float *dS = Vt + (int64_t)Dh * T, *dP = dS + (int64_t)T * T;
        int64_t base = (int64_t)b * T * C + (int64_t)h * Dh;
        const float *Q = q->data + base, *K = k->data + base, *dO = o->grad + base;
        const float *P = s->P + (int64_t)bh * T * T;
        head_transpose(Vt, v->data + base, T, Dh, C);
        /* rows, G at a time: dP = dO V^T, dS = P (dP - rowsum(P dP)) scale, dQ = dS K */
        for (int t0 = 0; t0 < T; t0 += G) {
            int tn = DREC_MIN(G, T - t0), jm = key_end(s, t0 + tn - 1);
            drec_kern->lincomb_block(dP, T, tn, dO + (int64_t)t0 * C, C, 1, Vt, Dh, T, jm, false);
            for (int k = 0; k < tn; k++) {
                int t = t0 + k, je = key_end(s, t);
                const float *pr = P + (int64_t)t * T, *dp = dP + (int64_t)k * T;
                float *dr = dS + (int64_t)t * T;
                float acc = drec_kern->dot(pr, dp, je);
                for (int j = 0; j < je; j++) dr[j] = pr[j] * (dp[j] - acc) * scale;
                for (int j = je; j < T; j++) dr[j] = 0;
            }
            drec_kern->lincomb_block(dq + base + (int64_t)t0 * C, C, tn, dS + (int64_t)t0 * T, T, 1, K, jm, C, Dh, true);
        }
        /* columns, G at a time: dK_j = sum_t dS[t][j] Q_t, dV_j = sum_t P[t][j] dO_t
         * (causal: t >= j; rows t < j of a later column hold zeros) */
        for (int j0 = 0; j0 < T; j0 += G) {
            int jn = DREC_MIN(G, T - j0), t0 = s->causal ? j0 : 0, n = T - t0;
            drec_kern->lincomb_block(dk + base + (int64_t)j0 * C, C, jn, dS + (int64_t)t0 * T + j0, 1, T,
                                     Q + (int64_t)t0 * C, n, C, Dh, true);
            drec_kern->lincomb_block(dv + base + (int64_t)j0 * C, C, jn, P + (int64_t)t0 * T + j0, 1, T,
                                     dO + (int64_t)t0 * C, n, C, Dh, true);
        }
    });
}

drec_tensor *drec_attention(drec_tape *tp, drec_tensor *q, drec_tensor *k, drec_tensor *v, int T, int H,
                            bool causal, drec_tensor *key_mask) {
    int C = drec_cols(q);
    DREC_ASSERT(T > 0 && H > 0 && C % H == 0);
    DREC_ASSERT(q->n == k->n && q->n == v->n && drec_cols(k) == C && drec_cols(v) == C);
    DREC_ASSERT(drec_rows(q) % T == 0);
    int Dh = C / H, B = (int)(drec_rows(q) / T);
    if (key_mask) DREC_ASSERT(key_mask->dtype == DREC_I32 && key_mask->n == (int64_t)B * T);
    float scale = 1.0f / sqrtf((float)Dh);
    drec_tensor *o = drec_tnew(tp, q->ndim, q->shape);
    attn_saved *s = drec_arena_alloc(&tp->arena, sizeof(*s));
    s->P = drec_tape_floats(tp, (int64_t)B * H * T * T);
    s->mask = key_mask ? key_mask->idx : NULL;
    s->T = T;
    s->H = H;
    s->causal = causal;
    int nth = omp_get_max_threads();
    int64_t per = (int64_t)Dh * T + G * Dh;
    float *scratch = drec_tape_floats(tp, nth * per);
    DREC_PAR_FOR((int64_t)B * H * T * T * Dh > 100000,
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        float *Kt = scratch + (int64_t)omp_get_thread_num() * per, *qs = Kt + (int64_t)Dh * T;
        int64_t base = (int64_t)b * T * C + (int64_t)h * Dh;
        const float *Q = q->data + base, *K = k->data + base, *V = v->data + base;
        const int32_t *mk = s->mask ? s->mask + (int64_t)b * T : NULL;
        float *P = s->P + (int64_t)bh * T * T;
        head_transpose(Kt, K, T, Dh, C);
        /* G queries at a time: their scores as one small product (up to the
         * last one's causal end), then each row's mask and softmax, then
         * their outputs as one product (P is 0 past each row's end) */
        for (int t0 = 0; t0 < T; t0 += G) {
            int tn = DREC_MIN(G, T - t0), jm = key_end(s, t0 + tn - 1);
            for (int k = 0; k < tn; k++)
                for (int d = 0; d < Dh; d++) qs[k * Dh + d] = Q[(int64_t)(t0 + k) * C + d] * scale;
            drec_kern->lincomb_block(P + (int64_t)t0 * T, T, tn, qs, Dh, 1, Kt, Dh, T, jm, false);
            for (int k = 0; k < tn; k++) {
                int t = t0 + k, je = key_end(s, t);
                float *pr = P + (int64_t)t * T;
                memset(pr + je, 0, (size_t)(T - je) * sizeof(float));
                if (mk)
                    for (int j = 0; j < je; j++)
                        if (!mk[j]) pr[j] = -INFINITY;
                float m = drec_kern->max(pr, je);
                if (m == -INFINITY) { /* no valid key: P row 0, so output 0 */
                    memset(pr, 0, (size_t)T * sizeof(float));
                    continue;
                }
                float sum = drec_kern->exp_shift_sum(pr, pr, m, je);
                drec_kern->scale(pr, 1.0f / sum, je);
            }
            drec_kern->lincomb_block(o->data + base + (int64_t)t0 * C, C, tn, P + (int64_t)t0 * T, T, 1, V, jm, C, Dh,
                                     false);
        }
    });
    drec_node *nd = drec_tape_record(tp, attention_backward, o, q, k, v, NULL);
    if (nd) nd->saved = s;
    return o;
}
