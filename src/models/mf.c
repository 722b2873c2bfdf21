/*
 * mf.c — matrix factorization for explicit ratings, trained by SGD:
 *
 *   mf     biased MF (Funk / Koren "SVD"):  r_ui = mu + b_u + b_i + q_i . p_u
 *   svdpp  SVD++ (Koren 2008): p_u is completed by the implicit feedback of
 *          what u rated,  r_ui = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
 *
 * Defaults start from the Surprise library's (SVD: 100 factors, 20 epochs,
 * lr 0.005, reg 0.02; SVDpp: 20 factors, 20 epochs, lr 0.007, reg 0.02;
 * factors drawn from N(0, 0.1), biases at 0) with what MovieLens-100K
 * cross-validation prefers: factors start from N(0, 0.05) for both, and mf
 * takes lr 0.01, reg 0.05 (RMSE 0.912 instead of 0.938 on a random 5-fold
 * split; docs/RESULTS.md).  `--lr 0.005 --reg 0.02 --init_std 0.1` gives
 * Surprise's SVD exactly as configured there.
 *
 * Hyper-parameters: --dim, --epochs, --lr, --reg, and with --set init_std
 * (std of the initial factors) and foldin_reg (ridge weight per history
 * item when a user unknown at training is folded in; mf only).
 *
 * SGD is sequential and deterministic for a given seed: ratings are visited
 * user by user (users in a fresh random order each epoch, each user's
 * ratings shuffled too).  For SVD++ this grouping is what makes an epoch
 * O(N D) instead of O(N |N(u)| D): within one user's ratings every y_j of
 * N(u) receives the same affine update  y_j <- a y_j + c  (a = 1 - lr reg,
 * c = lr err q_i / sqrt|N(u)|), so the updates are kept as one scalar A
 * and one vector C and applied to the y_j once at the end of the user.
 * The result is exactly Surprise's per-rating update, in O(D) per rating.
 *
 * Shapes: U = users, I = items, D = factors.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>

typedef struct mf_state {
    int32_t dim;
    int pp;            /* 1 = SVD++ */
    float mu;          /* global mean of the training ratings */
    float rmin, rmax;  /* rating range seen in training (predictions are clipped to it) */
    float foldin_reg;  /* ridge weight for folding in unknown users (mf) */
    float *bu, *bi;    /* (U), (I) */
    float *P;          /* (U, D) user factors */
    float *Q;          /* (I, D) item factors */
    float *Y;          /* (I, D) implicit item factors (svdpp) */
    float *Z;          /* (U, D) svdpp: |N(u)|^-1/2 sum_{j in N(u)} y_j, cached after fit */
    float scal[6];     /* the scalars above as saved (the writer reads them late) */
} mf_state;

/* The training ratings grouped by user, only rows with a known user/item. */
typedef struct mf_rows {
    int64_t *ptr; /* (U + 1) */
    int32_t *item;
    float *r;
} mf_rows;

static void mf_rows_build(const drec_dataset *train, mf_rows *g) {
    int32_t U = train->n_users;
    g->ptr = drec_calloc((size_t)U + 1, sizeof *g->ptr);
    size_t n = (size_t)train->user_ptr[U];
    g->item = drec_malloc((n ? n : 1) * sizeof *g->item);
    g->r = drec_malloc((n ? n : 1) * sizeof *g->r);
    size_t k = 0;
    for (int32_t u = 0; u < U; u++) {
        for (int64_t j = train->user_ptr[u]; j < train->user_ptr[u + 1]; j++) {
            size_t row = train->by_user[j];
            if (train->item[row] < 0) continue;
            g->item[k] = train->item[row];
            g->r[k] = train->has_rating ? train->rating[row] : 1.0f;
            k++;
        }
        g->ptr[u + 1] = (int64_t)k;
    }
}

static void mf_rows_free(mf_rows *g) {
    free(g->ptr);
    free(g->item);
    free(g->r);
}

static float dotf(const float *a, const float *b, int d) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int f = 0; f < d; f++) s += a[f] * b[f];
    return s;
}

static void mf_state_free(mf_state *s) {
    if (!s) return;
    free(s->bu);
    free(s->bi);
    free(s->P);
    free(s->Q);
    free(s->Y);
    free(s->Z);
    free(s);
}

/* Z[u] = |N(u)|^-1/2 sum y_j over the user's training items. */
static void svdpp_cache_z(mf_state *s, const drec_model *m) {
    int D = s->dim;
    free(s->Z);
    s->Z = drec_calloc((size_t)m->n_users * D + 1, sizeof *s->Z);
#pragma omp parallel for schedule(static) if ((double)m->seen_ptr[m->n_users] * D > 1e7)
    for (int32_t u = 0; u < m->n_users; u++) {
        float *z = s->Z + (size_t)u * D;
        int cnt = 0;
        for (int64_t k = m->seen_ptr[u]; k < m->seen_ptr[u + 1]; k++) {
            int32_t j = m->seen_idx[k];
            if (j < 0 || j >= m->n_items) continue;
            const float *y = s->Y + (size_t)j * D;
            for (int f = 0; f < D; f++) z[f] += y[f];
            cnt++;
        }
        if (cnt == 0) continue;
        float w = 1.0f / sqrtf((float)cnt);
        for (int f = 0; f < D; f++) z[f] *= w;
    }
}

static drec_status mf_fit_common(drec_model *m, const drec_dataset *train, const drec_params *p, int pp) {
    long dim, epochs;
    double lr, reg, init_std, foldin_reg;
    drec_status st;
    if ((st = drec_params_int(p, "dim", pp ? 20 : 100, &dim))) return st;
    if ((st = drec_params_int(p, "epochs", 20, &epochs))) return st;
    if ((st = drec_params_float(p, "lr", pp ? 0.007 : 0.01, &lr))) return st;
    if ((st = drec_params_float(p, "reg", pp ? 0.02 : 0.05, &reg))) return st;
    if ((st = drec_params_float(p, "init_std", 0.05, &init_std))) return st;
    if ((st = drec_params_float(p, "foldin_reg", 1.0, &foldin_reg))) return st;
    if (dim < 1 || dim > 4096) return drec_fail(DREC_ERR_USAGE, "dim must be in 1..4096 (got %ld)", dim);
    if (epochs < 0) return drec_fail(DREC_ERR_USAGE, "epochs must be >= 0 (got %ld)", epochs);
    if (!(lr > 0) || !(reg >= 0) || !(init_std >= 0) || !(foldin_reg > 0))
        return drec_fail(DREC_ERR_USAGE, "lr and foldin_reg must be > 0, reg and init_std >= 0");

    int32_t U = train->n_users, I = train->n_items, D = (int32_t)dim;
    mf_rows g;
    mf_rows_build(train, &g);
    size_t n = (size_t)g.ptr[U];
    if (n == 0) {
        mf_rows_free(&g);
        return drec_fail(DREC_ERR_INPUT, "no rows with both a user and an item");
    }

    mf_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    s->dim = D;
    s->pp = pp;
    s->foldin_reg = (float)foldin_reg;
    double sum = 0;
    s->rmin = s->rmax = g.r[0];
    for (size_t k = 0; k < n; k++) {
        sum += g.r[k];
        s->rmin = DREC_MIN(s->rmin, g.r[k]);
        s->rmax = DREC_MAX(s->rmax, g.r[k]);
    }
    s->mu = (float)(sum / (double)n);
    s->bu = drec_calloc((size_t)U + 1, sizeof *s->bu);
    s->bi = drec_calloc((size_t)I + 1, sizeof *s->bi);
    s->P = drec_malloc(((size_t)U * D + 1) * sizeof *s->P);
    s->Q = drec_malloc(((size_t)I * D + 1) * sizeof *s->Q);
    drec_rng rng;
    drec_rng_seed2(&rng, m->seed, 0x6d66);
    for (size_t k = 0; k < (size_t)U * D; k++) s->P[k] = (float)(init_std * drec_rng_normal(&rng));
    for (size_t k = 0; k < (size_t)I * D; k++) s->Q[k] = (float)(init_std * drec_rng_normal(&rng));
    if (pp) {
        s->Y = drec_malloc(((size_t)I * D + 1) * sizeof *s->Y);
        for (size_t k = 0; k < (size_t)I * D; k++) s->Y[k] = (float)(init_std * drec_rng_normal(&rng));
    }

    int32_t *uorder = drec_malloc(((size_t)U + 1) * sizeof *uorder);
    for (int32_t u = 0; u < U; u++) uorder[u] = u;
    int32_t *perm = drec_malloc(n * sizeof *perm); /* per-user offsets, shuffled in place */
    for (int32_t u = 0; u < U; u++)
        for (int64_t k = g.ptr[u]; k < g.ptr[u + 1]; k++) perm[k] = (int32_t)(k - g.ptr[u]);
    float *S0 = drec_malloc((size_t)D * sizeof *S0), *C = drec_malloc((size_t)D * sizeof *C);
    float *z = drec_malloc((size_t)D * sizeof *z);
    const float flr = (float)lr, freg = (float)reg, mu = s->mu;

    for (long e = 0; e < epochs; e++) {
        drec_rng_shuffle_i32(&rng, uorder, (size_t)U);
        double loss = 0;
        for (int32_t t = 0; t < U; t++) {
            int32_t u = uorder[t];
            int64_t a = g.ptr[u], b = g.ptr[u + 1];
            if (a == b) continue;
            drec_rng_shuffle_i32(&rng, perm + a, (size_t)(b - a));
            float *pu = s->P + (size_t)u * D;
            float isq = 0, A = 1;
            float nu = (float)(b - a);
            if (pp) {
                isq = 1.0f / sqrtf(nu);
                memset(S0, 0, (size_t)D * sizeof *S0);
                memset(C, 0, (size_t)D * sizeof *C);
                for (int64_t k = a; k < b; k++) {
                    const float *y = s->Y + (size_t)g.item[k] * D;
                    for (int f = 0; f < D; f++) S0[f] += y[f];
                }
            }
            for (int64_t k = a; k < b; k++) {
                int64_t row = a + perm[k];
                int32_t i = g.item[row];
                float *qi = s->Q + (size_t)i * D;
                float est;
                if (pp) {
                    for (int f = 0; f < D; f++) z[f] = (A * S0[f] + nu * C[f]) * isq;
                    est = mu + s->bu[u] + s->bi[i];
                    for (int f = 0; f < D; f++) est += qi[f] * (pu[f] + z[f]);
                } else {
                    est = mu + s->bu[u] + s->bi[i] + dotf(qi, pu, D);
                }
                float err = g.r[row] - est;
                loss += (double)err * err;
                s->bu[u] += flr * (err - freg * s->bu[u]);
                s->bi[i] += flr * (err - freg * s->bi[i]);
                if (pp) {
                    float ay = 1.0f - flr * freg, cy = flr * err * isq;
                    for (int f = 0; f < D; f++) {
                        float puf = pu[f], qif = qi[f];
                        pu[f] += flr * (err * qif - freg * puf);
                        qi[f] += flr * (err * (puf + z[f]) - freg * qif);
                        C[f] = ay * C[f] + cy * qif;
                    }
                    A *= ay;
                } else {
#pragma omp simd
                    for (int f = 0; f < D; f++) {
                        float puf = pu[f], qif = qi[f];
                        pu[f] += flr * (err * qif - freg * puf);
                        qi[f] += flr * (err * puf - freg * qif);
                    }
                }
            }
            if (pp)
                for (int64_t k = a; k < b; k++) {
                    float *y = s->Y + (size_t)g.item[k] * D;
                    for (int f = 0; f < D; f++) y[f] = A * y[f] + C[f];
                }
        }
        /* A validation hook scores the model as it stands: SVD++ needs its
         * implicit sums up to date for that. */
        if (pp && m->fit_ctx && m->fit_ctx->validate) svdpp_cache_z(s, m);
        if (drec_fit_epoch(m, (int)e, (int)epochs, loss / (double)n)) break;
    }
    free(uorder);
    free(perm);
    free(S0);
    free(C);
    free(z);
    mf_rows_free(&g);
    if (pp) svdpp_cache_z(s, m);
    return DREC_OK;
}

static drec_status mf_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    return mf_fit_common(m, train, p, 0);
}

static drec_status svdpp_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    return mf_fit_common(m, train, p, 1);
}

/* Solves the symmetric positive definite system A x = b (A is D x D,
 * overwritten by its Cholesky factor). */
static void cholesky_solve(double *A, double *b, int D) {
    for (int j = 0; j < D; j++) {
        double d = A[j * D + j];
        for (int k = 0; k < j; k++) d -= A[j * D + k] * A[j * D + k];
        d = sqrt(d > 1e-12 ? d : 1e-12);
        A[j * D + j] = d;
        for (int i = j + 1; i < D; i++) {
            double v = A[i * D + j];
            for (int k = 0; k < j; k++) v -= A[i * D + k] * A[j * D + k];
            A[i * D + j] = v / d;
        }
    }
    for (int i = 0; i < D; i++) {
        double v = b[i];
        for (int k = 0; k < i; k++) v -= A[i * D + k] * b[k];
        b[i] = v / A[i * D + i];
    }
    for (int i = D - 1; i >= 0; i--) {
        double v = b[i];
        for (int k = i + 1; k < D; k++) v -= A[k * D + i] * b[k];
        b[i] = v / A[i * D + i];
    }
}

/* The user vector a query stands for, written to pu (D); returns b_u.
 * Known users use their trained factors.  An unknown user with a history
 * is folded in: for mf, p_u solves the ridge problem over the history with
 * the item factors fixed, each interaction read as the top rating seen in
 * training (an interaction is a sign of approval); for svdpp, p_u = 0 and
 * the implicit part is computed from the history, which is exactly how
 * SVD++ treats implicit feedback. */
static float user_vector(const drec_model *m, const drec_query *q, float *pu) {
    const mf_state *s = m->state;
    int D = s->dim;
    if (q->user >= 0 && q->user < m->n_users) {
        for (int f = 0; f < D; f++)
            pu[f] = s->P[(size_t)q->user * D + f] + (s->pp ? s->Z[(size_t)q->user * D + f] : 0);
        return s->bu[q->user];
    }
    memset(pu, 0, (size_t)D * sizeof *pu);
    int nh = 0;
    for (int k = 0; k < q->n_hist; k++) nh += q->hist[k] >= 0 && q->hist[k] < m->n_items;
    if (nh == 0) return 0;
    if (s->pp) {
        for (int k = 0; k < q->n_hist; k++) {
            int32_t j = q->hist[k];
            if (j < 0 || j >= m->n_items) continue;
            for (int f = 0; f < D; f++) pu[f] += s->Y[(size_t)j * D + f];
        }
        float w = 1.0f / sqrtf((float)nh);
        for (int f = 0; f < D; f++) pu[f] *= w;
        return 0;
    }
    double *A = drec_calloc((size_t)D * D, sizeof *A), *b = drec_calloc((size_t)D, sizeof *b);
    float target = s->rmax > s->rmin ? s->rmax : s->mu + 1.0f;
    for (int k = 0; k < q->n_hist; k++) {
        int32_t j = q->hist[k];
        if (j < 0 || j >= m->n_items) continue;
        const float *qj = s->Q + (size_t)j * D;
        double res = target - s->mu - s->bi[j];
        for (int x = 0; x < D; x++) {
            b[x] += res * qj[x];
            for (int y = 0; y <= x; y++) A[x * D + y] += (double)qj[x] * qj[y];
        }
    }
    for (int x = 0; x < D; x++) {
        A[x * D + x] += s->foldin_reg * nh;
        for (int y = 0; y < x; y++) A[y * D + x] = A[x * D + y];
    }
    cholesky_solve(A, b, D);
    for (int f = 0; f < D; f++) pu[f] = (float)b[f];
    free(A);
    free(b);
    return 0;
}

static void mf_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const mf_state *s = m->state;
    int D = s->dim;
    float *pu = drec_malloc((size_t)D * sizeof *pu);
    float bu = user_vector(m, q, pu);
    int cnt = items ? n : m->n_items;
    for (int k = 0; k < cnt; k++) {
        int32_t i = items ? items[k] : k;
        if (i < 0 || i >= m->n_items) {
            out[k] = s->mu + bu;
            continue;
        }
        out[k] = s->mu + bu + s->bi[i] + dotf(s->Q + (size_t)i * D, pu, D);
    }
    free(pu);
}

static void mf_predict(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out) {
    const mf_state *s = m->state;
    int D = s->dim;
    /* Threads only for big batches: a small parallel region costs more
     * than it saves (and its idle threads spin through the next SGD epoch
     * when a validation hook calls this during training). */
#pragma omp parallel for schedule(static) if ((double)n * D > 1e7)
    for (size_t k = 0; k < n; k++) {
        int32_t u = ds->user[rows[k]], i = ds->item[rows[k]];
        bool ku = u >= 0 && u < m->n_users, ki = i >= 0 && i < m->n_items;
        float est = s->mu + (ku ? s->bu[u] : 0) + (ki ? s->bi[i] : 0);
        if (ku && ki) {
            const float *qi = s->Q + (size_t)i * D, *pu = s->P + (size_t)u * D;
            est += dotf(qi, pu, D);
            if (s->pp) est += dotf(qi, s->Z + (size_t)u * D, D);
        }
        out[k] = DREC_MIN(DREC_MAX(est, s->rmin), s->rmax);
    }
}

static const float *mf_item_vector(const drec_model *m, int32_t i, int *dim) {
    const mf_state *s = m->state;
    *dim = s->dim;
    return s->Q + (size_t)i * s->dim;
}

static drec_status mf_save(const drec_model *m, drec_mf_writer *w) {
    mf_state *s = m->state;
    float *scal = s->scal;
    float v[6] = {(float)s->dim, (float)s->pp, s->mu, s->rmin, s->rmax, s->foldin_reg};
    memcpy(scal, v, sizeof v);
    drec_status st;
    if ((st = drec_mf_put_f32(w, "scalars", scal, 6, 0))) return st;
    if ((st = drec_mf_put_f32(w, "bu", s->bu, m->n_users, 0))) return st;
    if ((st = drec_mf_put_f32(w, "bi", s->bi, m->n_items, 0))) return st;
    if ((st = drec_mf_put_f32(w, "P", s->P, m->n_users, s->dim))) return st;
    if ((st = drec_mf_put_f32(w, "Q", s->Q, m->n_items, s->dim))) return st;
    if (s->pp && (st = drec_mf_put_f32(w, "Y", s->Y, m->n_items, s->dim))) return st;
    return DREC_OK;
}

static drec_status mf_load(drec_model *m, drec_mf_reader *r) {
    mf_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    float *scal;
    drec_status st = drec_mf_get_f32(r, "scalars", 6, 0, &scal);
    if (st) return st;
    s->dim = (int32_t)scal[0];
    s->pp = (int)scal[1];
    s->mu = scal[2];
    s->rmin = scal[3];
    s->rmax = scal[4];
    s->foldin_reg = scal[5];
    free(scal);
    if (s->dim < 1 || s->dim > 4096 || s->pp != (strcmp(m->vt->name, "svdpp") == 0))
        return drec_fail(DREC_ERR_FORMAT, "%s model file: bad scalars", m->vt->name);
    if ((st = drec_mf_get_f32(r, "bu", m->n_users, 0, &s->bu))) return st;
    if ((st = drec_mf_get_f32(r, "bi", m->n_items, 0, &s->bi))) return st;
    if ((st = drec_mf_get_f32(r, "P", m->n_users, s->dim, &s->P))) return st;
    if ((st = drec_mf_get_f32(r, "Q", m->n_items, s->dim, &s->Q))) return st;
    if (s->pp) {
        if ((st = drec_mf_get_f32(r, "Y", m->n_items, s->dim, &s->Y))) return st;
        svdpp_cache_z(s, m);
    }
    return DREC_OK;
}

static void mf_free(drec_model *m) {
    mf_state_free(m->state);
    m->state = NULL;
}

const drec_model_vt drec_mf_vt = {
    .name = "mf",
    .summary = "biased matrix factorization for ratings by SGD (Funk/Koren SVD)",
    .caps = DREC_CAP_RATING | DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = mf_fit,
    .score = mf_score,
    .predict = mf_predict,
    .item_vector = mf_item_vector,
    .save = mf_save,
    .load = mf_load,
    .free_state = mf_free,
};

const drec_model_vt drec_svdpp_vt = {
    .name = "svdpp",
    .summary = "SVD++: biased MF with implicit feedback from what each user rated",
    .caps = DREC_CAP_RATING | DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = svdpp_fit,
    .score = mf_score,
    .predict = mf_predict,
    .item_vector = mf_item_vector,
    .save = mf_save,
    .load = mf_load,
    .free_state = mf_free,
};
