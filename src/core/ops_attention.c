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
 * The transposed products take the columns of dS and P in place, as
 * coefficients a row apart (lincomb_strided).
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

static void attention_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *o = nd->out;
    attn_saved *s = nd->saved;
    int T = s->T, H = s->H, C = drec_cols(q), Dh = C / H, B = (int)(drec_rows(q) / T);
    float scale = 1.0f / sqrtf((float)Dh);
    float *dq = drec_grad(tp, q), *dk = drec_grad(tp, k), *dv = drec_grad(tp, v);
    int nth = omp_get_max_threads();
    int64_t per = (int64_t)Dh * T + (int64_t)T * T + T;
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
        /* rows: dP = dO V^T, dS = P (dP - rowsum(P dP)) scale, dQ = dS K */
        for (int t = 0; t < T; t++) {
            const float *pr = P + (int64_t)t * T;
            float *dr = dS + (int64_t)t * T;
            int je = key_end(s, t);
            drec_kern->lincomb(dP, dO + (int64_t)t * C, Vt, NULL, Dh, T, je, false);
            float acc = drec_kern->dot(pr, dP, je);
            for (int j = 0; j < je; j++) dr[j] = pr[j] * (dP[j] - acc) * scale;
            for (int j = je; j < T; j++) dr[j] = 0;
            drec_kern->lincomb(dq + base + (int64_t)t * C, dr, K, NULL, je, C, Dh, true);
        }
        /* columns: dK_j = sum_t dS[t][j] Q_t, dV_j = sum_t P[t][j] dO_t */
        for (int j = 0; j < T; j++) {
            int t0 = s->causal ? j : 0, n = T - t0;
            drec_kern->lincomb_strided(dk + base + (int64_t)j * C, dS + (int64_t)t0 * T + j, T, Q + (int64_t)t0 * C, n,
                                       C, Dh, true);
            drec_kern->lincomb_strided(dv + base + (int64_t)j * C, P + (int64_t)t0 * T + j, T, dO + (int64_t)t0 * C, n,
                                       C, Dh, true);
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
    int64_t per = (int64_t)Dh * T + Dh;
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
        for (int t = 0; t < T; t++) {
            float *pr = P + (int64_t)t * T, *ot = o->data + base + (int64_t)t * C;
            const float *qt = Q + (int64_t)t * C;
            int je = key_end(s, t);
            for (int d = 0; d < Dh; d++) qs[d] = qt[d] * scale;
            memset(pr + je, 0, (size_t)(T - je) * sizeof(float));
            drec_kern->lincomb(pr, qs, Kt, NULL, Dh, T, je, false);
            if (mk)
                for (int j = 0; j < je; j++)
                    if (!mk[j]) pr[j] = -INFINITY;
            float m = drec_kern->max(pr, je);
            if (m == -INFINITY) { /* no valid key: output 0, P row 0 */
                memset(ot, 0, (size_t)Dh * sizeof(float));
                memset(pr, 0, (size_t)T * sizeof(float));
                continue;
            }
            float sum = drec_kern->exp_shift_sum(pr, pr, m, je);
            drec_kern->scale(pr, 1.0f / sum, je);
            drec_kern->lincomb(ot, pr, V, NULL, je, C, Dh, false);
        }
    });
    drec_node *nd = drec_tape_record(tp, attention_backward, o, q, k, v, NULL);
    if (nd) nd->saved = s;
    return o;
}
