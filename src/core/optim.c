/*
 * optim.c — optimizers, learning-rate schedules, gradient clipping and the
 * Hogwild runner.
 *
 * An update visits, for a dense param, all its elements; for a sparse
 * (embedding) param, only the rows its step touched (lazy updates), unless
 * a dense op used the table, in which case all rows.  Updates are per
 * element and parallel over rows with no reductions, so they are
 * deterministic for any thread count.  Formulas match torch.optim.
 */
#include "kernels.h"
#include "tensor.h"

#include <math.h>
#include <omp.h>

/* ---- schedules ------------------------------------------------------------------ */

float drec_sched_lr(const drec_sched *s, float lr, int64_t step) {
    if (!s) return lr;
    double f = 1.0;
    if (s->warmup > 0 && step < s->warmup) return (float)(lr * (double)(step + 1) / (double)s->warmup);
    int64_t t = step - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case DREC_SCHED_CONSTANT: break;
    case DREC_SCHED_STEP: f = pow(s->gamma, (double)(t / (s->step_size > 0 ? s->step_size : 1))); break;
    case DREC_SCHED_EXP: f = pow(s->gamma, (double)t); break;
    case DREC_SCHED_COSINE: {
        double T = s->total > 0 ? (double)s->total : 1.0, x = DREC_MIN((double)t, T);
        return (float)(s->min_lr + (lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * x / T)));
    }
    case DREC_SCHED_LINEAR: {
        double T = s->total > 0 ? (double)s->total : 1.0, x = DREC_MIN((double)t, T);
        return (float)(lr + (s->min_lr - lr) * x / T);
    }
    }
    return (float)(lr * f);
}

/* ---- config ------------------------------------------------------------------------ */

drec_optim_config drec_optim_defaults(drec_optim_kind kind) {
    drec_optim_config c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.rho = 0.99f;
    c.ftrl_beta = 1.0f;
    switch (kind) {
    case DREC_OPT_SGD: c.lr = 0.01f; break;
    case DREC_OPT_ADAM: c.lr = 1e-3f; break;
    case DREC_OPT_ADAMW: c.lr = 1e-3f; c.weight_decay = 0.01f; break;
    case DREC_OPT_ADAGRAD: c.lr = 0.01f; c.eps = 1e-10f; break;
    case DREC_OPT_RMSPROP: c.lr = 0.01f; break;
    case DREC_OPT_FTRL: c.lr = 0.1f; break;
    }
    return c;
}

const char *drec_optim_check(const drec_optim_config *c) {
    if ((int)c->kind < DREC_OPT_SGD || c->kind > DREC_OPT_FTRL) return "unknown optimizer";
    if (!(c->lr > 0) || !isfinite(c->lr)) return "learning rate must be > 0";
    if (c->momentum < 0 || c->momentum >= 1) return "momentum must be in [0, 1)";
    if (c->nesterov && c->momentum <= 0) return "nesterov needs momentum > 0";
    if (c->beta1 < 0 || c->beta1 >= 1 || c->beta2 < 0 || c->beta2 >= 1) return "betas must be in [0, 1)";
    if (c->eps < 0 || c->weight_decay < 0) return "eps and weight_decay must be >= 0";
    if (c->rho < 0 || c->rho >= 1) return "rho must be in [0, 1)";
    if (c->l1 < 0 || c->l2 < 0 || c->ftrl_beta < 0) return "l1, l2 and beta must be >= 0";
    if (c->clip_norm < 0) return "clip_norm must be >= 0";
    return NULL;
}

drec_optim *drec_optim_new(const drec_optim_config *c) {
    drec_optim *o = drec_calloc(1, sizeof(*o));
    o->cfg = *c;
    return o;
}

void drec_optim_free(drec_optim *o) {
    if (!o) return;
    drec_free(o->params);
    drec_free(o);
}

void drec_optim_add(drec_optim *o, drec_param *p) {
    DREC_GROW(o->params, o->cap_params, o->n_params + 1);
    o->params[o->n_params++] = p;
    size_t bytes = (size_t)p->t.n * sizeof(float);
    bool two = o->cfg.kind == DREC_OPT_ADAM || o->cfg.kind == DREC_OPT_ADAMW || o->cfg.kind == DREC_OPT_FTRL;
    bool one = two || o->cfg.kind == DREC_OPT_ADAGRAD || o->cfg.kind == DREC_OPT_RMSPROP ||
               (o->cfg.kind == DREC_OPT_SGD && o->cfg.momentum > 0);
    if (one && !p->s1) {
        p->s1 = drec_aligned_zalloc(bytes);
        if (o->cfg.kind == DREC_OPT_ADAGRAD)
            for (int64_t i = 0; i < p->t.n; i++) p->s1[i] = o->cfg.init_acc;
    }
    if (two && !p->s2) {
        p->s2 = drec_aligned_zalloc(bytes);
    }
}

/* ---- the update of one row segment ---------------------------------------------- */

typedef struct {
    drec_optim_config c;
    float lr, bc1, bc2_sqrt, clip_scale;
} step_ctx;

/* One contiguous segment of n weights.  Each optimizer is its own loop with
 * its conditions hoisted, so the compiler vectorises it. */
static void update(const step_ctx *k, float *restrict w, float *restrict g, float *restrict s1,
                   float *restrict s2, int n) {
    const drec_optim_config *c = &k->c;
    const float lr = k->lr, cs = k->clip_scale, wd = c->weight_decay;
    switch (c->kind) {
    case DREC_OPT_SGD:
        if (c->momentum > 0) {
            const float mu = c->momentum;
            if (c->nesterov) {
                #pragma omp simd
                for (int i = 0; i < n; i++) {
                    float gi = g[i] * cs + wd * w[i];
                    s1[i] = mu * s1[i] + gi;
                    w[i] -= lr * (gi + mu * s1[i]);
                }
            } else {
                #pragma omp simd
                for (int i = 0; i < n; i++) {
                    float gi = g[i] * cs + wd * w[i];
                    s1[i] = mu * s1[i] + gi;
                    w[i] -= lr * s1[i];
                }
            }
        } else {
            #pragma omp simd
            for (int i = 0; i < n; i++) w[i] -= lr * (g[i] * cs + wd * w[i]);
        }
        break;
    case DREC_OPT_ADAM:
    case DREC_OPT_ADAMW: {
        const float b1 = c->beta1, b2 = c->beta2, step = lr / k->bc1, ib2 = 1.0f / k->bc2_sqrt, eps = c->eps;
        const float decay = c->kind == DREC_OPT_ADAMW ? 1 - lr * wd : 1.0f, l2 = c->kind == DREC_OPT_ADAMW ? 0 : wd;
        #pragma omp simd
        for (int i = 0; i < n; i++) {
            float wi = w[i] * decay;
            float gi = g[i] * cs + l2 * wi;
            float m = b1 * s1[i] + (1 - b1) * gi, v = b2 * s2[i] + (1 - b2) * gi * gi;
            s1[i] = m;
            s2[i] = v;
            w[i] = wi - step * m / (sqrtf(v) * ib2 + eps);
        }
        break;
    }
    case DREC_OPT_ADAGRAD: {
        const float eps = c->eps;
        #pragma omp simd
        for (int i = 0; i < n; i++) {
            float gi = g[i] * cs + wd * w[i];
            float G = s1[i] + gi * gi;
            s1[i] = G;
            w[i] -= lr * gi / (sqrtf(G) + eps);
        }
        break;
    }
    case DREC_OPT_RMSPROP: {
        const float rho = c->rho, eps = c->eps;
        #pragma omp simd
        for (int i = 0; i < n; i++) {
            float gi = g[i] * cs + wd * w[i];
            float v = rho * s1[i] + (1 - rho) * gi * gi;
            s1[i] = v;
            w[i] -= lr * gi / (sqrtf(v) + eps);
        }
        break;
    }
    case DREC_OPT_FTRL:
        /* s1 = z, s2 = n (sum of squared gradients); alpha = lr */
        for (int i = 0; i < n; i++) {
            float gi = g[i] * cs;
            float nn = s2[i] + gi * gi;
            float sigma = (sqrtf(nn) - sqrtf(s2[i])) / lr;
            s1[i] += gi - sigma * w[i];
            s2[i] = nn;
            float z = s1[i];
            if (fabsf(z) <= c->l1) w[i] = 0;
            else w[i] = -(z - (z > 0 ? c->l1 : -c->l1)) / ((c->ftrl_beta + sqrtf(nn)) / lr + c->l2);
        }
        break;
    }
    memset(g, 0, (size_t)n * sizeof(float));
}

/* A sparse table that a dense op also used this step: add its compact
 * rows into the dense gradient and forget them, so the step is dense. */
static void fold_sparse(drec_param *p) {
    drec_param_flush(p);
    int d = drec_cols(&p->t);
    for (int32_t k = 0; k < p->n_touched; k++) {
        int32_t r = p->touched[k];
        drec_kern->add(p->t.grad + (int64_t)r * d, p->t.grad + (int64_t)r * d, p->sgrad + (int64_t)k * d, d);
        p->slot[r] = -1;
    }
    p->n_touched = 0;
}

/* Plain SGD straight from a table's pending gradient rows (each lookup's
 * row added to its table row, in lookup order; threads own rows by
 * r % nthreads), without first summing them into sgrad: w[r] += a g. */
static void sgd_pending(drec_param *p, float a) {
    int d = drec_cols(&p->t);
    int64_t total = 0;
    for (int q = 0; q < p->n_pend; q++) total += p->pend[q].m;
    DREC_PAR(total * d > (1 << 18), {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int q = 0; q < p->n_pend; q++) {
            const drec_param_pending *pd = &p->pend[q];
            for (int64_t i = 0; i < pd->m; i++) {
                int32_t s = pd->slots[i], r = p->touched[s < 0 ? ~s : s];
                if (r % nt == t) drec_kern->axpy(p->t.data + (int64_t)r * d, a, pd->src + i * d, d);
            }
        }
    });
    drec_param_zero_grad(p); /* applied: drop the pending rows and free the slots */
}

double drec_grad_norm(drec_param *const *params, int n) {
    double s = 0;
    for (int k = 0; k < n; k++) {
        drec_param *p = params[k];
        int d = drec_cols(&p->t);
        drec_param_flush(p);
        if (drec_param_sparse(p))
            for (int64_t i = 0; i < (int64_t)p->n_touched * d; i++) s += (double)p->sgrad[i] * p->sgrad[i];
        if (p->t.grad && (!drec_param_sparse(p) || p->all_touched))
            for (int64_t i = 0; i < p->t.n; i++) s += (double)p->t.grad[i] * p->t.grad[i];
    }
    return sqrt(s);
}

void drec_optim_step(drec_optim *o) {
    step_ctx k;
    k.c = o->cfg;
    k.lr = drec_sched_lr(&o->cfg.sched, o->cfg.lr, o->step);
    o->step++;
    k.bc1 = 1.0f - powf(o->cfg.beta1, (float)o->step);
    k.bc2_sqrt = sqrtf(1.0f - powf(o->cfg.beta2, (float)o->step));
    k.clip_scale = 1.0f;
    o->last_lr = k.lr;
    for (int q = 0; q < o->n_params; q++)
        if (drec_param_sparse(o->params[q]) && o->params[q]->all_touched) fold_sparse(o->params[q]);
    if (o->cfg.clip_norm > 0) {
        double norm = drec_grad_norm(o->params, o->n_params);
        o->last_grad_norm = (float)norm;
        if (norm > o->cfg.clip_norm) k.clip_scale = (float)(o->cfg.clip_norm / (norm + 1e-6));
    }
    for (int q = 0; q < o->n_params; q++) {
        drec_param *p = o->params[q];
        int d = drec_cols(&p->t);
        float *w = p->t.data, *s1 = p->s1, *s2 = p->s2;
        if (drec_param_sparse(p) && !p->all_touched) {
            if (p->n_pend && !p->sgrad_written && k.c.kind == DREC_OPT_SGD && k.c.momentum == 0 &&
                k.c.weight_decay == 0)
                sgd_pending(p, -k.lr * k.clip_scale);
            else
                drec_param_flush(p);
            p->sgrad_written = false;
            int32_t nt = p->n_touched;
            const int32_t *rows = p->touched;
            float *g = p->sgrad;
            DREC_PAR_FOR((int64_t)nt * d > (1 << 18),
            for (int32_t t = 0; t < nt; t++) {
                int64_t off = (int64_t)rows[t] * d;
                update(&k, w + off, g + (int64_t)t * d, s1 ? s1 + off : NULL, s2 ? s2 + off : NULL, d);
            });
            for (int32_t t = 0; t < nt; t++) p->slot[rows[t]] = -1;
            p->n_touched = 0;
        } else {
            int64_t n = p->t.n, chunk = 4096;
            float *g = p->t.grad;
            DREC_PAR_FOR(n > (1 << 18),
            for (int64_t i = 0; i < n; i += chunk) {
                int m = (int)DREC_MIN(chunk, n - i);
                update(&k, w + i, g + i, s1 ? s1 + i : NULL, s2 ? s2 + i : NULL, m);
            });
        }
        p->all_touched = false;
    }
}

/* ---- Hogwild ---------------------------------------------------------------------------- */

void drec_hogwild_run(const int64_t *order, int64_t n, int n_threads, drec_hogwild_fn fn, void *ctx) {
    if (n_threads <= 0) n_threads = drec_threads();
    #pragma omp parallel num_threads(n_threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
        for (int64_t i = lo; i < hi; i++) fn(ctx, order ? order[i] : i, t);
    }
}
