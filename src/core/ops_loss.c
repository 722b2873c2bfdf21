/*
 * ops_loss.c — losses.  Each returns the mean over examples as a [1]
 * tensor; element losses are summed in double, in order, so the value is
 * the same for any thread count.
 *
 * Shapes: pred/logit/label/target have the same element count n (any
 * shape); softmax CE takes logits [B,C] and int targets [B]; sampled
 * softmax takes u [B,D], p [B,D], negatives [S,D].
 */
#include "blas.h"
#include "kernels.h"
#include "tensor.h"

#include <math.h>

static drec_tensor *scalar_out(drec_tape *tp) {
    int one = 1;
    return drec_tnew(tp, 1, &one);
}
static inline float softplus(float z) { return fmaxf(z, 0) + log1pf(expf(-fabsf(z))); }
static inline float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

/* Element-wise losses share one frame: forward fills dl/dpred (already
 * divided by n) into `saved`, backward scales it by the incoming grad. */
static void pointwise_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    const float *d = nd->saved;
    float g = nd->out->grad[0];
    float *dx = drec_grad(tp, x);
    for (int64_t i = 0; i < x->n; i++) dx[i] += g * d[i];
}

enum { L_MSE, L_HUBER, L_BCE, L_FOCAL, L_HINGE };

static drec_tensor *pointwise(drec_tape *tp, drec_tensor *x, drec_tensor *y, drec_tensor *w, int kind,
                              float c0, float c1) {
    DREC_ASSERT(x->n == y->n && y->dtype == DREC_F32);
    if (w) DREC_ASSERT(w->n == x->n);
    int64_t n = x->n;
    float *d = drec_tape_floats(tp, n);
    double total = 0;
    float inv = 1.0f / (float)(n ? n : 1);
    for (int64_t i = 0; i < n; i++) {
        float xi = x->data[i], yi = y->data[i], wi = w ? w->data[i] : 1.0f, l, g;
        switch (kind) {
        case L_MSE: {
            float e = xi - yi;
            l = e * e;
            g = 2 * e;
            break;
        }
        case L_HUBER: {
            float e = xi - yi, a = fabsf(e);
            if (a <= c0) { l = 0.5f * e * e; g = e; }
            else { l = c0 * (a - 0.5f * c0); g = e > 0 ? c0 : -c0; }
            break;
        }
        case L_BCE:
            l = softplus(xi) - xi * yi;
            g = sigm(xi) - yi;
            break;
        case L_FOCAL: {
            /* y treated as binary; s = +1 for positives.  With pt = sigmoid(s x):
             * L = -at (1-pt)^gamma log pt,
             * dL/dx = s at (1-pt)^gamma (gamma pt log pt - (1 - pt)). */
            float s = yi >= 0.5f ? 1.0f : -1.0f;
            float at = c1 < 0 ? 1.0f : (s > 0 ? c1 : 1 - c1);
            float logpt = -softplus(-s * xi), pt = expf(logpt), q = 1 - pt;
            float qg = powf(q, c0);
            l = -at * qg * logpt;
            g = s * at * qg * (c0 * pt * logpt - q);
            break;
        }
        default: { /* hinge */
            float s = yi >= 0.5f ? 1.0f : -1.0f, m = 1 - s * xi;
            l = m > 0 ? m : 0;
            g = m > 0 ? -s : 0;
            break;
        }
        }
        total += (double)(wi * l);
        d[i] = wi * g * inv;
    }
    drec_tensor *out = scalar_out(tp);
    out->data[0] = (float)(total / (double)(n ? n : 1));
    drec_node *nd = drec_tape_record(tp, pointwise_backward, out, x, NULL, NULL, NULL);
    if (nd) nd->saved = d;
    return out;
}

drec_tensor *drec_mse(drec_tape *tp, drec_tensor *pred, drec_tensor *target) {
    return pointwise(tp, pred, target, NULL, L_MSE, 0, 0);
}
drec_tensor *drec_huber(drec_tape *tp, drec_tensor *pred, drec_tensor *target, float delta) {
    return pointwise(tp, pred, target, NULL, L_HUBER, delta, 0);
}
drec_tensor *drec_bce_logits(drec_tape *tp, drec_tensor *logit, drec_tensor *label, drec_tensor *weights) {
    return pointwise(tp, logit, label, weights, L_BCE, 0, 0);
}
drec_tensor *drec_focal(drec_tape *tp, drec_tensor *logit, drec_tensor *label, float gamma, float alpha) {
    return pointwise(tp, logit, label, NULL, L_FOCAL, gamma, alpha);
}
drec_tensor *drec_hinge(drec_tape *tp, drec_tensor *score, drec_tensor *label) {
    return pointwise(tp, score, label, NULL, L_HINGE, 0, 0);
}

/* ---- BPR ----------------------------------------------------------------------------- */

static void bpr_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *pos = nd->in[0], *neg = nd->in[1];
    const float *d = nd->saved;
    float g = nd->out->grad[0];
    if (pos->requires_grad) {
        float *dp = drec_grad(tp, pos);
        for (int64_t i = 0; i < pos->n; i++) dp[i] += g * d[i];
    }
    if (neg->requires_grad) {
        float *dn = drec_grad(tp, neg);
        for (int64_t i = 0; i < neg->n; i++) dn[i] -= g * d[i];
    }
}

drec_tensor *drec_bpr(drec_tape *tp, drec_tensor *pos, drec_tensor *neg) {
    DREC_ASSERT(pos->n == neg->n);
    int64_t n = pos->n;
    float *d = drec_tape_floats(tp, n);
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        float z = pos->data[i] - neg->data[i];
        total += softplus(-z);
        d[i] = -sigm(-z) / (float)n; /* dL/dpos */
    }
    drec_tensor *out = scalar_out(tp);
    out->data[0] = (float)(total / (double)n);
    drec_node *nd = drec_tape_record(tp, bpr_backward, out, pos, neg, NULL, NULL);
    if (nd) nd->saved = d;
    return out;
}

/* ---- softmax cross-entropy ------------------------------------------------------------ */

/* Row softmax of logits into p, returns sum of (lse - logit[target]) in double. */
static double softmax_rows_ce(const float *logits, float *p, int64_t B, int C, const int32_t *target) {
    double total = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *x = logits + b * C;
        float *pr = p + b * C;
        float m = drec_kern->max(x, C);
        float s = drec_kern->exp_shift_sum(pr, x, m, C);
        drec_kern->scale(pr, 1.0f / s, C);
        total += (double)(m + logf(s) - x[target[b]]);
    }
    return total;
}

static void ce_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *t = nd->in[1];
    int64_t B = drec_rows(x);
    int C = drec_cols(x);
    const float *p = nd->saved;
    float c = nd->out->grad[0] / (float)B;
    float *dx = drec_grad(tp, x);
    for (int64_t b = 0; b < B; b++) {
        drec_kern->axpy(dx + b * C, c, p + b * C, C);
        dx[b * C + t->idx[b]] -= c;
    }
}

drec_tensor *drec_softmax_ce(drec_tape *tp, drec_tensor *logits, drec_tensor *target) {
    int64_t B = drec_rows(logits);
    int C = drec_cols(logits);
    DREC_ASSERT(target->dtype == DREC_I32 && target->n == B);
    for (int64_t b = 0; b < B; b++) DREC_ASSERT(target->idx[b] >= 0 && target->idx[b] < C);
    float *p = drec_tape_floats(tp, logits->n);
    double total = softmax_rows_ce(logits->data, p, B, C, target->idx);
    drec_tensor *out = scalar_out(tp);
    out->data[0] = (float)(total / (double)B);
    drec_node *nd = drec_tape_record(tp, ce_backward, out, logits, target, NULL, NULL);
    if (nd) nd->saved = p;
    return out;
}

/* ---- sampled softmax with logQ correction ------------------------------------------------ */

/* Logits [B, 1+S]: column 0 is the positive, columns 1..S the shared
 * negatives; accidental hits get -inf (probability 0). */
static void sampled_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *u = nd->in[0], *p = nd->in[1], *n = nd->in[2];
    int B = (int)drec_rows(u), D = drec_cols(u), S = (int)drec_rows(n), W = S + 1;
    float *P = nd->saved; /* probabilities, turned into dlogits in place */
    float c = nd->out->grad[0] / (float)B;
    for (int b = 0; b < B; b++) {
        float *r = P + (int64_t)b * W;
        r[0] -= 1.0f;
        drec_kern->scale(r, c, W);
    }
    float *du = u->requires_grad ? drec_grad(tp, u) : NULL;
    float *dp = p->requires_grad ? drec_grad(tp, p) : NULL;
    for (int b = 0; b < B; b++) {
        float g0 = P[(int64_t)b * W];
        if (du) drec_kern->axpy(du + (int64_t)b * D, g0, p->data + (int64_t)b * D, D);
        if (dp) drec_kern->axpy(dp + (int64_t)b * D, g0, u->data + (int64_t)b * D, D);
    }
    /* du += G N, dN += G^T U with G = dlogits[:, 1:] (row stride W) */
    if (du) drec_sgemm(false, false, B, D, S, 1, P + 1, W, n->data, D, 1, du, D);
    if (n->requires_grad) drec_sgemm(true, false, S, D, B, 1, P + 1, W, u->data, D, 1, drec_grad(tp, n), D);
}

drec_tensor *drec_sampled_softmax(drec_tape *tp, drec_tensor *u, drec_tensor *p, drec_tensor *n,
                                  drec_tensor *logq_pos, drec_tensor *logq_neg, drec_tensor *pos_ids,
                                  drec_tensor *neg_ids) {
    int B = (int)drec_rows(u), D = drec_cols(u), S = (int)drec_rows(n), W = S + 1;
    DREC_ASSERT(p->n == u->n && drec_cols(n) == D && S >= 1);
    DREC_ASSERT((logq_pos == NULL) == (logq_neg == NULL) && (pos_ids == NULL) == (neg_ids == NULL));
    if (logq_pos) DREC_ASSERT(logq_pos->n == B && logq_neg->n == S);
    if (pos_ids) DREC_ASSERT(pos_ids->n == B && neg_ids->n == S);
    float *L = drec_tape_floats(tp, (int64_t)B * W);
    drec_sgemm(false, true, B, S, D, 1, u->data, D, n->data, D, 0, L + 1, W);
    for (int b = 0; b < B; b++) {
        float *r = L + (int64_t)b * W;
        r[0] = drec_kern->dot(u->data + (int64_t)b * D, p->data + (int64_t)b * D, D);
        if (logq_pos) {
            r[0] -= logq_pos->data[b];
            for (int j = 0; j < S; j++) r[1 + j] -= logq_neg->data[j];
        }
        if (pos_ids)
            for (int j = 0; j < S; j++)
                if (neg_ids->idx[j] == pos_ids->idx[b]) r[1 + j] = -INFINITY;
    }
    /* softmax in place; loss = lse - logit0 */
    double total = 0;
    for (int b = 0; b < B; b++) {
        float *r = L + (int64_t)b * W;
        float m = drec_kern->max(r, W), l0 = r[0];
        float s = drec_kern->exp_shift_sum(r, r, m, W);
        drec_kern->scale(r, 1.0f / s, W);
        total += (double)(m + logf(s) - l0);
    }
    drec_tensor *out = scalar_out(tp);
    out->data[0] = (float)(total / (double)B);
    drec_node *nd = drec_tape_record(tp, sampled_backward, out, u, p, n, NULL);
    if (nd) nd->saved = L;
    return out;
}
