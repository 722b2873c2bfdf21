/*
 * bpr.c — Bayesian personalised ranking over matrix factorization
 * (Rendle et al. 2009): for an observed (u, i) and a sampled item j the
 * user did not touch, SGD ascends ln sigmoid(x_ui - x_uj) - reg |theta|^2
 * with x_ui = b_i + p_u . q_i.
 *
 * Negatives come from the shared sampler (data/sampler.h): uniform
 * (`neg_alpha=0`) or in proportion to popularity^neg_alpha, never an item
 * the user has.
 * One epoch draws as many triples as there are interactions; the step size
 * falls linearly from lr to lr * (1 - decay) over the epochs.  Training is
 * sequential by default (same seed = same numbers); `hogwild=1` runs the
 * epoch lock-free over threads (Niu et al. 2011), faster but no longer
 * reproducible.  A user unseen at training is folded in from q->hist with
 * a few SGD epochs on a fresh user vector, item factors fixed.
 *
 * Shapes: U users, I items, K = dim.  P (U, K), Q (I, K), b (I).
 */
#include "model.h"

#include "data/sampler.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

typedef struct bpr_state {
    int k;
    float *P, *Q, *b;
    float lr, reg;   /* kept for fold-in */
    int foldin_epochs;
    float hp[3];     /* lr, reg, foldin_epochs as saved */
} bpr_state;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static bool sorted_has(const int32_t *a, int64_t n, int32_t v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == v;
}

/* One SGD step on the triple (u, i, j); returns -ln sigmoid(x_uij). */
static inline double bpr_step(float *pu, float *qi, float *qj, float *bi, float *bj, int k, float lr, float reg,
                              float reg_b, bool update_items) {
    float x = *bi - *bj;
#pragma omp simd reduction(+ : x)
    for (int d = 0; d < k; d++) x += pu[d] * (qi[d] - qj[d]);
    float g = 1.0f / (1.0f + expf(x)); /* sigmoid(-x) */
    for (int d = 0; d < k; d++) {
        float p = pu[d], a = qi[d], c = qj[d];
        pu[d] += lr * (g * (a - c) - reg * p);
        if (update_items) {
            qi[d] += lr * (g * p - reg * a);
            qj[d] += lr * (-g * p - reg * c);
        }
    }
    if (update_items) {
        *bi += lr * (g - reg_b * *bi);
        *bj += lr * (-g - reg_b * *bj);
    }
    return x > 30 ? 0 : log1p(exp(-(double)x));
}

static drec_status bpr_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {
    long dim, epochs, foldin;
    double lr, reg, neg_alpha, init;
    drec_status st;
    if ((st = drec_params_int(p, "dim", 64, &dim)) || (st = drec_params_int(p, "epochs", 120, &epochs)) ||
        (st = drec_params_int(p, "foldin_epochs", 30, &foldin)) || (st = drec_params_float(p, "lr", 0.05, &lr)) ||
        (st = drec_params_float(p, "reg", 0.01, &reg)) || (st = drec_params_float(p, "neg_alpha", 0, &neg_alpha)) ||
        (st = drec_params_float(p, "init", 0.01, &init)))
        return st;
    bool hogwild = drec_params_flag(p, "hogwild");
    const char *sample = drec_params_str(p, "sample", "pair");
    bool by_user = strcmp(sample, "user") == 0;
    if (!by_user && strcmp(sample, "pair") != 0)
        return drec_fail(DREC_ERR_USAGE, "bpr: sample must be pair or user (got %s)", sample);
    double decay, reg_b;
    if ((st = drec_params_float(p, "decay", 0.9, &decay)) || (st = drec_params_float(p, "reg_bias", reg, &reg_b)))
        return st;
    if (!(decay >= 0 && decay <= 1)) return drec_fail(DREC_ERR_USAGE, "decay must be in [0, 1]");
    if (dim < 1 || dim > 4096) return drec_fail(DREC_ERR_USAGE, "dim must be in 1..4096 (got %ld)", dim);
    if (epochs < 0 || lr <= 0 || reg < 0 || neg_alpha < 0)
        return drec_fail(DREC_ERR_USAGE, "need epochs >= 0, lr > 0, reg >= 0, neg_alpha >= 0");
    bpr_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    int k = s->k = (int)dim;
    s->lr = (float)lr;
    s->reg = (float)reg;
    s->foldin_epochs = (int)foldin;
    s->hp[0] = s->lr;
    s->hp[1] = s->reg;
    s->hp[2] = (float)s->foldin_epochs;
    int32_t nU = t->n_users, nI = t->n_items;
    s->P = drec_aligned_alloc(((size_t)nU * k + 1) * sizeof *s->P);
    s->Q = drec_aligned_alloc(((size_t)nI * k + 1) * sizeof *s->Q);
    s->b = drec_calloc((size_t)nI + 1, sizeof *s->b);
    drec_rng rng;
    drec_rng_seed(&rng, m->seed);
    for (size_t j = 0; j < (size_t)nU * k; j++) s->P[j] = (float)(init * drec_rng_normal(&rng));
    for (size_t j = 0; j < (size_t)nI * k; j++) s->Q[j] = (float)(init * drec_rng_normal(&rng));

    /* The positive pairs (u, i) to draw from, one per interaction. */
    size_t nnz = (size_t)t->user_ptr[nU];
    int32_t *pair_u = drec_malloc((nnz + 1) * sizeof *pair_u);
    for (int32_t u = 0; u < nU; u++)
        for (int64_t j = t->user_ptr[u]; j < t->user_ptr[u + 1]; j++) pair_u[j] = u;
    drec_sampler *ns = drec_sampler_new(t, neg_alpha, m->seed);
    int n_threads = hogwild ? drec_threads() : 1;
    for (long e = 0; e < epochs && nnz > 0; e++) {
        double loss = 0;
        /* linear decay of the step towards lr * (1 - decay) at the last epoch */
        float lr_e = (float)(lr * (1.0 - decay * (double)e / (double)DREC_MAX(epochs - 1, 1)));
#pragma omp parallel num_threads(n_threads) reduction(+ : loss)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            drec_rng r;
            drec_rng_seed2(&r, m->seed + (uint64_t)e * 7919u, (uint64_t)tid + 1);
            size_t lo = nnz * (size_t)tid / (size_t)nt, hi = nnz * (size_t)(tid + 1) / (size_t)nt;
            for (size_t step = lo; step < hi; step++) {
                size_t j;
                if (by_user) {
                    int32_t uu = (int32_t)drec_rng_below(&r, (uint32_t)nU);
                    int64_t c = t->user_ptr[uu + 1] - t->user_ptr[uu];
                    if (c == 0) continue;
                    j = (size_t)t->user_ptr[uu] + (size_t)drec_rng_below(&r, (uint32_t)c);
                } else
                    j = (size_t)(drec_rng_u64(&r) % nnz);
                int32_t u = pair_u[j], i = t->user_items[j];
                int32_t neg = drec_sampler_neg(ns, &r, u);
                if (neg < 0) continue; /* the user has every item */
                loss += bpr_step(s->P + (size_t)u * k, s->Q + (size_t)i * k, s->Q + (size_t)neg * k, s->b + i,
                                 s->b + neg, k, lr_e, s->reg, (float)reg_b, true);
            }
        }
        if (drec_fit_epoch(m, (int)e, (int)epochs, loss / (double)nnz)) break;
    }
    drec_sampler_free(ns);
    free(pair_u);
    return DREC_OK;
}

/* A user vector for a history, item factors fixed: SGD from zero with
 * negatives drawn uniformly outside the history, seeded by the history so
 * that the same request gives the same answer. */
static void bpr_foldin(const bpr_state *s, const int32_t *hist, int n_hist, int32_t n_items, float *pu) {
    int k = s->k;
    memset(pu, 0, (size_t)k * sizeof *pu);
    if (n_hist <= 0 || n_items < 2) return;
    int32_t *h = drec_malloc((size_t)n_hist * sizeof *h);
    int n = 0;
    for (int j = 0; j < n_hist; j++)
        if (hist[j] >= 0 && hist[j] < n_items) h[n++] = hist[j];
    qsort(h, (size_t)n, sizeof *h, cmp_i32);
    drec_rng r;
    drec_rng_seed(&r, drec_hash64(h, (size_t)n * sizeof *h, 17));
    float *qi = drec_malloc((size_t)k * sizeof *qi), *qj = drec_malloc((size_t)k * sizeof *qj);
    for (int e = 0; e < s->foldin_epochs && n > 0 && n < n_items; e++)
        for (int j = 0; j < n; j++) {
            int32_t i = h[j], neg;
            do neg = (int32_t)drec_rng_below(&r, (uint32_t)n_items);
            while (sorted_has(h, n, neg));
            /* copies: bpr_step must not write the shared item factors */
            memcpy(qi, s->Q + (size_t)i * k, (size_t)k * sizeof *qi);
            memcpy(qj, s->Q + (size_t)neg * k, (size_t)k * sizeof *qj);
            float bi = s->b[i], bj = s->b[neg];
            bpr_step(pu, qi, qj, &bi, &bj, k, s->lr, s->reg, 0, false);
        }
    free(qi);
    free(qj);
    free(h);
}

static void bpr_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const bpr_state *s = m->state;
    int k = s->k;
    float *tmp = NULL;
    const float *pu;
    if (q->user >= 0 && q->user < m->n_users)
        pu = s->P + (size_t)q->user * k;
    else {
        tmp = drec_malloc((size_t)k * sizeof *tmp);
        bpr_foldin(s, q->hist, q->n_hist, m->n_items, tmp);
        pu = tmp;
    }
    int count = items ? n : m->n_items;
    for (int j = 0; j < count; j++) {
        int32_t i = items ? items[j] : j;
        if (i < 0 || i >= m->n_items) {
            out[j] = -INFINITY;
            continue;
        }
        const float *qi = s->Q + (size_t)i * k;
        float x = s->b[i];
#pragma omp simd reduction(+ : x)
        for (int d = 0; d < k; d++) x += pu[d] * qi[d];
        out[j] = x;
    }
    free(tmp);
}

static const float *bpr_item_vector(const drec_model *m, int32_t i, int *dim) {
    const bpr_state *s = m->state;
    *dim = s->k;
    return s->Q + (size_t)i * s->k;
}

static drec_status bpr_save(const drec_model *m, drec_mf_writer *w) {
    const bpr_state *s = m->state;
    drec_status st = drec_mf_put_f32(w, "P", s->P, m->n_users, s->k);
    if (!st) st = drec_mf_put_f32(w, "Q", s->Q, m->n_items, s->k);
    if (!st) st = drec_mf_put_f32(w, "b", s->b, m->n_items, 0);
    if (!st) st = drec_mf_put_f32(w, "lr_reg_foldin", s->hp, 3, 0);
    return st;
}

static drec_status bpr_load(drec_model *m, drec_mf_reader *r) {
    bpr_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    const void *d;
    int64_t shape[2] = {m->n_items, 0};
    drec_status st = drec_mf_get(r, "Q", DREC_DT_F32, 2, shape, &d);
    if (st) return st;
    s->k = (int)shape[1];
    float *hp = NULL, *b = NULL;
    if ((st = drec_mf_get_f32(r, "P", m->n_users, s->k, &s->P))) return st;
    if ((st = drec_mf_get_f32(r, "Q", m->n_items, s->k, &s->Q))) return st;
    if ((st = drec_mf_get_f32(r, "b", m->n_items, 0, &b))) return st;
    s->b = drec_calloc((size_t)m->n_items + 1, sizeof *s->b);
    memcpy(s->b, b, (size_t)m->n_items * sizeof *b);
    drec_free(b);
    if ((st = drec_mf_get_f32(r, "lr_reg_foldin", 3, 0, &hp))) return st;
    s->lr = hp[0];
    s->reg = hp[1];
    s->foldin_epochs = (int)hp[2];
    memcpy(s->hp, hp, sizeof s->hp);
    drec_free(hp);
    return DREC_OK;
}

static void bpr_free(drec_model *m) {
    bpr_state *s = m->state;
    if (!s) return;
    drec_free(s->P);
    drec_free(s->Q);
    free(s->b);
    free(s);
}

const drec_model_vt drec_bpr_vt = {
    .name = "bpr",
    .summary = "BPR matrix factorization, SGD with uniform or popularity^neg_alpha negatives (--set hogwild=1 "
               "for lock-free threads)",
    .caps = DREC_CAP_RANK | DREC_CAP_FOLDIN,
    .fit = bpr_fit,
    .score = bpr_score,
    .item_vector = bpr_item_vector,
    .save = bpr_save,
    .load = bpr_load,
    .free_state = bpr_free,
};
