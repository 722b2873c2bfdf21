/*
 * ops_norm.c — row softmax and log-softmax, layer norm, batch norm.
 *
 * Shapes: x [R,D] (leading dims flatten into R).  Row ops parallelise over
 * rows; reductions down the rows (gamma/beta gradients, batch statistics)
 * accumulate serially in row order so results do not depend on threads.
 */
#include "kernels.h"
#include "tensor.h"

#include <math.h>

#define PAR_MIN (1 << 18)

static drec_tensor *like(drec_tape *tp, const drec_tensor *x) { return drec_tnew(tp, x->ndim, x->shape); }

/* ---- softmax / log-softmax over each row ------------------------------------ */

static void softmax_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *y = nd->out;
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    float *dx = drec_grad(tp, x);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        const float *yr = y->data + r * D, *gr = y->grad + r * D;
        float *dr = dx + r * D;
        float s = drec_kern->dot(gr, yr, D);
        for (int j = 0; j < D; j++) dr[j] += yr[j] * (gr[j] - s);
    });
}

drec_tensor *drec_softmax(drec_tape *tp, drec_tensor *x) {
    drec_tensor *y = like(tp, x);
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        float s = drec_kern->exp_shift_sum(yr, xr, drec_kern->max(xr, D), D);
        drec_kern->scale(yr, 1.0f / s, D);
    });
    drec_tape_record(tp, softmax_backward, y, x, NULL, NULL, NULL);
    return y;
}

static void log_softmax_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *y = nd->out;
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    float *dx = drec_grad(tp, x);
    float *p = drec_tape_floats(tp, x->n);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        const float *yr = y->data + r * D, *gr = y->grad + r * D;
        float *dr = dx + r * D, *pr = p + r * D;
        drec_kern->exp(pr, yr, D);
        float s = drec_kern->sum(gr, D);
        for (int j = 0; j < D; j++) dr[j] += gr[j] - pr[j] * s;
    });
}

drec_tensor *drec_log_softmax(drec_tape *tp, drec_tensor *x) {
    drec_tensor *y = like(tp, x);
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        float m = drec_kern->max(xr, D);
        float lse = m + logf(drec_kern->exp_shift_sum(yr, xr, m, D));
        for (int j = 0; j < D; j++) yr[j] = xr[j] - lse;
    });
    drec_tape_record(tp, log_softmax_backward, y, x, NULL, NULL, NULL);
    return y;
}

/* ---- layer norm ---------------------------------------------------------------------------- */

typedef struct { float *mean, *rstd; } norm_saved;

static void layer_norm_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *gamma = nd->in[1], *beta = nd->in[2], *y = nd->out;
    norm_saved *s = nd->saved;
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    const float *g = y->grad;
    if (x->requires_grad) {
        float *dx = drec_grad(tp, x);
        DREC_PAR_FOR(x->n > PAR_MIN,
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->data + r * D, *gr = g + r * D;
            float mu = s->mean[r], rs = s->rstd[r], m1 = 0, m2 = 0;
            for (int j = 0; j < D; j++) {
                float dn = gr[j] * (gamma ? gamma->data[j] : 1.0f);
                m1 += dn;
                m2 += dn * (xr[j] - mu) * rs;
            }
            m1 /= (float)D;
            m2 /= (float)D;
            float *dr = dx + r * D;
            for (int j = 0; j < D; j++) {
                float dn = gr[j] * (gamma ? gamma->data[j] : 1.0f);
                dr[j] += rs * (dn - m1 - (xr[j] - mu) * rs * m2);
            }
        });
    }
    float *dg = gamma && gamma->requires_grad ? drec_grad(tp, gamma) : NULL;
    float *db = beta && beta->requires_grad ? drec_grad(tp, beta) : NULL;
    for (int64_t r = 0; r < R && (dg || db); r++) {
        const float *xr = x->data + r * D, *gr = g + r * D;
        float mu = s->mean[r], rs = s->rstd[r];
        for (int j = 0; j < D; j++) {
            if (dg) dg[j] += gr[j] * (xr[j] - mu) * rs;
            if (db) db[j] += gr[j];
        }
    }
}

drec_tensor *drec_layer_norm(drec_tape *tp, drec_tensor *x, drec_tensor *gamma, drec_tensor *beta, float eps) {
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    if (gamma) DREC_ASSERT(gamma->n == D);
    if (beta) DREC_ASSERT(beta->n == D);
    drec_tensor *y = like(tp, x);
    norm_saved *s = drec_arena_alloc(&tp->arena, sizeof(*s));
    s->mean = drec_tape_floats(tp, R);
    s->rstd = drec_tape_floats(tp, R);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        float mu = drec_kern->sum(xr, D) / (float)D, var = 0;
        for (int j = 0; j < D; j++) var += (xr[j] - mu) * (xr[j] - mu);
        float rs = 1.0f / sqrtf(var / (float)D + eps);
        s->mean[r] = mu;
        s->rstd[r] = rs;
        for (int j = 0; j < D; j++)
            yr[j] = (xr[j] - mu) * rs * (gamma ? gamma->data[j] : 1.0f) + (beta ? beta->data[j] : 0.0f);
    });
    drec_node *nd = drec_tape_record(tp, layer_norm_backward, y, x, gamma, beta, NULL);
    if (nd) nd->saved = s;
    return y;
}

/* ---- batch norm ------------------------------------------------------------------------------ */

static void batch_norm_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *gamma = nd->in[1], *beta = nd->in[2], *y = nd->out;
    norm_saved *s = nd->saved;
    bool train = nd->i[0];
    int64_t B = drec_rows(x);
    int D = drec_cols(x);
    const float *g = y->grad;
    /* per-column sums of dxhat and dxhat * xhat, in row order */
    float *sd = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    float *sdx = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    float *sg = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    float *sgx = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    for (int64_t i = 0; i < B; i++) {
        const float *xr = x->data + i * D, *gr = g + i * D;
        for (int j = 0; j < D; j++) {
            float xh = (xr[j] - s->mean[j]) * s->rstd[j];
            sg[j] += gr[j];
            sgx[j] += gr[j] * xh;
        }
    }
    for (int j = 0; j < D; j++) {
        float ga = gamma ? gamma->data[j] : 1.0f;
        sd[j] = sg[j] * ga;
        sdx[j] = sgx[j] * ga;
    }
    if (x->requires_grad) {
        float *dx = drec_grad(tp, x);
        float invB = 1.0f / (float)B;
        DREC_PAR_FOR(x->n > PAR_MIN,
        for (int64_t i = 0; i < B; i++) {
            const float *xr = x->data + i * D, *gr = g + i * D;
            float *dr = dx + i * D;
            for (int j = 0; j < D; j++) {
                float ga = gamma ? gamma->data[j] : 1.0f, rs = s->rstd[j];
                float dxh = gr[j] * ga;
                if (train) {
                    float xh = (xr[j] - s->mean[j]) * rs;
                    dr[j] += rs * (dxh - sd[j] * invB - xh * sdx[j] * invB);
                } else {
                    dr[j] += rs * dxh;
                }
            }
        });
    }
    if (gamma && gamma->requires_grad) {
        float *dg = drec_grad(tp, gamma);
        for (int j = 0; j < D; j++) dg[j] += sgx[j];
    }
    if (beta && beta->requires_grad) {
        float *db = drec_grad(tp, beta);
        for (int j = 0; j < D; j++) db[j] += sg[j];
    }
}

drec_tensor *drec_batch_norm(drec_tape *tp, drec_tensor *x, drec_tensor *gamma, drec_tensor *beta,
                             float *running_mean, float *running_var, float momentum, float eps) {
    int64_t B = drec_rows(x);
    int D = drec_cols(x);
    bool train = tp->training;
    DREC_ASSERT(train ? B > 1 : (running_mean && running_var));
    drec_tensor *y = like(tp, x);
    norm_saved *s = drec_arena_alloc(&tp->arena, sizeof(*s));
    s->mean = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    s->rstd = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
    if (train) {
        float *var = drec_arena_calloc(&tp->arena, (size_t)D * sizeof(float));
        for (int64_t i = 0; i < B; i++) drec_kern->add(s->mean, s->mean, x->data + i * D, D);
        for (int j = 0; j < D; j++) s->mean[j] /= (float)B;
        for (int64_t i = 0; i < B; i++)
            for (int j = 0; j < D; j++) {
                float d = x->data[i * D + j] - s->mean[j];
                var[j] += d * d;
            }
        for (int j = 0; j < D; j++) {
            float v = var[j] / (float)B;
            s->rstd[j] = 1.0f / sqrtf(v + eps);
            if (running_mean) running_mean[j] = (1 - momentum) * running_mean[j] + momentum * s->mean[j];
            if (running_var)
                running_var[j] = (1 - momentum) * running_var[j] + momentum * var[j] / (float)(B - 1);
        }
    } else {
        for (int j = 0; j < D; j++) {
            s->mean[j] = running_mean[j];
            s->rstd[j] = 1.0f / sqrtf(running_var[j] + eps);
        }
    }
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t i = 0; i < B; i++)
        for (int j = 0; j < D; j++)
            y->data[i * D + j] = (x->data[i * D + j] - s->mean[j]) * s->rstd[j] * (gamma ? gamma->data[j] : 1.0f) +
                                 (beta ? beta->data[j] : 0.0f););
    drec_node *nd = drec_tape_record(tp, batch_norm_backward, y, x, gamma, beta, NULL);
    if (nd) {
        nd->saved = s;
        nd->i[0] = train;
    }
    return y;
}
