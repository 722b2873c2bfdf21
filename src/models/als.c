/*
 * als.c — implicit-feedback matrix factorization by alternating least
 * squares (Hu, Koren & Volinsky 2008) with the conjugate-gradient inner
 * solver of Takács, Pilászy & Tikk (2011), as in the `implicit` library.
 *
 * Every observed (u, i) is a preference p_ui = 1 with confidence
 * c_ui = 1 + alpha * r_ui (r_ui = 1 per interaction unless `weighted=1`
 * asks for the rating); unobserved pairs have p = 0, c = 1.  A sweep solves,
 * for every user with the item factors Y fixed,
 *
 *     (Y^T Y + reg I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u p_u
 *
 * by `cg` conjugate-gradient steps warm-started from the previous x_u (the
 * dense Y^T Y is one BLAS ssyrk per sweep), then the same for items.  Users
 * are independent given Y, so the OpenMP loop gives the same numbers for any
 * thread count.  A user unseen at training is folded in from q->hist with
 * one exact (Cholesky) solve against the stored item factors.
 *
 * Shapes: U users, I items, K = dim.  X (U, K) user factors, Y (I, K).
 */
#include "model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

typedef struct als_state {
    int k;
    float alpha, reg;
    float hp[2];  /* alpha, reg as saved (the writer keeps a pointer) */
    float *X;   /* (U, K) */
    float *Y;   /* (I, K) */
    float *YtY; /* (K, K) Y^T Y + reg I, for fold-in */
} als_state;

/* G = A^T A + reg I for A (n, k); full symmetric (both triangles). */
static void gram(const float *A, int64_t n, int k, float reg, float *G) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)n, 1.0f, A, k, 0.0f, G, k);
    for (int a = 0; a < k; a++) {
        G[a * k + a] += reg;
        for (int b = 0; b < a; b++) G[a * k + b] = G[b * k + a];
    }
}

/* The simd reduction lets the compiler vectorise the sum (its order is
 * fixed at compile time, so results still do not depend on threads). */
static inline float dotk(const float *a, const float *b, int k) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < k; d++) s += a[d] * b[d];
    return s;
}

/* `steps` CG iterations on one row x of the system described above, where
 * the row's interactions are idx[0..n) with confidences conf[] (c - 1 is
 * what the sparse correction needs).  scratch holds 3 K floats. */
static void cg_solve(const float *G, const float *Y, int k, const int32_t *idx, const float *conf, int64_t n,
                     float *x, int steps, float *scratch) {
    float *r = scratch, *p = scratch + k, *Ap = scratch + 2 * k;
    if (n == 0) { /* nothing observed: the exact solution is 0 */
        memset(x, 0, (size_t)k * sizeof *x);
        return;
    }
    /* r = b - A x */
    for (int a = 0; a < k; a++) r[a] = -dotk(G + (size_t)a * k, x, k);
    for (int64_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)idx[j] * k;
        float c = conf[j];
        float w = c - (c - 1.0f) * dotk(y, x, k);
        for (int d = 0; d < k; d++) r[d] += w * y[d];
    }
    memcpy(p, r, (size_t)k * sizeof *p);
    float rs = dotk(r, r, k);
    for (int it = 0; it < steps && rs > 1e-20f; it++) {
        for (int a = 0; a < k; a++) Ap[a] = dotk(G + (size_t)a * k, p, k);
        for (int64_t j = 0; j < n; j++) {
            const float *y = Y + (size_t)idx[j] * k;
            float w = (conf[j] - 1.0f) * dotk(y, p, k);
            for (int d = 0; d < k; d++) Ap[d] += w * y[d];
        }
        float pAp = dotk(p, Ap, k);
        if (!(pAp > 0)) break;
        float step = rs / pAp;
        for (int d = 0; d < k; d++) {
            x[d] += step * p[d];
            r[d] -= step * Ap[d];
        }
        float rs_new = dotk(r, r, k);
        float beta = rs_new / rs;
        for (int d = 0; d < k; d++) p[d] = r[d] + beta * p[d];
        rs = rs_new;
    }
}

/* One half-sweep: rows of F (n_rows, K) against the fixed other side O. */
static void sweep(float *F, int32_t n_rows, const float *O, int64_t n_other, int k, float reg, const int64_t *ptr,
                  const int32_t *idx, const float *conf, int steps) {
    float *G = drec_malloc((size_t)k * k * sizeof *G);
    gram(O, n_other, k, reg, G);
#pragma omp parallel
    {
        float *scratch = drec_malloc((size_t)3 * k * sizeof *scratch);
#pragma omp for schedule(dynamic, 32)
        for (int32_t r = 0; r < n_rows; r++)
            cg_solve(G, O, k, idx + ptr[r], conf + ptr[r], ptr[r + 1] - ptr[r], F + (size_t)r * k, steps, scratch);
        free(scratch);
    }
    free(G);
}

/* The confidence-weighted squared error c_ui (1 - x_u . y_i)^2 averaged over
 * the observed cells: a training curve, not the full objective (whose
 * unobserved part and regulariser would cost a pass over U x I). */
static double observed_loss(const als_state *s, const drec_dataset *t, const float *conf_u) {
    double loss = 0;
    for (int32_t u = 0; u < t->n_users; u++)
        for (int64_t j = t->user_ptr[u]; j < t->user_ptr[u + 1]; j++) {
            float e = 1.0f - dotk(s->X + (size_t)u * s->k, s->Y + (size_t)t->user_items[j] * s->k, s->k);
            loss += conf_u[j] * e * e;
        }
    return t->n ? loss / (double)t->n : 0;
}

static drec_status als_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {
    long dim, epochs, cg;
    double alpha, reg, init;
    drec_status st;
    if ((st = drec_params_int(p, "dim", 64, &dim)) || (st = drec_params_int(p, "epochs", 15, &epochs)) ||
        (st = drec_params_int(p, "cg", 3, &cg)) || (st = drec_params_float(p, "alpha", 3, &alpha)) ||
        (st = drec_params_float(p, "reg", 30, &reg)) || (st = drec_params_float(p, "init", 0.01, &init)))
        return st;
    bool weighted = drec_params_flag(p, "weighted");
    if (dim < 1 || dim > 4096) return drec_fail(DREC_ERR_USAGE, "dim must be in 1..4096 (got %ld)", dim);
    if (epochs < 0 || cg < 1) return drec_fail(DREC_ERR_USAGE, "epochs must be >= 0 and cg >= 1");
    if (alpha < 0 || reg < 0) return drec_fail(DREC_ERR_USAGE, "alpha and reg must be >= 0");

    als_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    int k = s->k = (int)dim;
    s->alpha = (float)alpha;
    s->reg = (float)reg;
    int32_t nU = t->n_users, nI = t->n_items;
    s->X = drec_aligned_alloc(((size_t)nU * k + 1) * sizeof *s->X);
    s->Y = drec_aligned_alloc(((size_t)nI * k + 1) * sizeof *s->Y);
    s->YtY = drec_aligned_alloc((size_t)k * k * sizeof *s->YtY);
    drec_rng rng;
    drec_rng_seed(&rng, m->seed);
    for (size_t j = 0; j < (size_t)nU * k; j++) s->X[j] = (float)(init * drec_rng_double(&rng));
    for (size_t j = 0; j < (size_t)nI * k; j++) s->Y[j] = (float)(init * drec_rng_double(&rng));

    /* Confidences in both CSR orders.  Rows with user or item -1 are
     * not interactions and were never indexed under that key. */
    size_t nnz_u = (size_t)t->user_ptr[nU], nnz_i = (size_t)t->item_ptr[nI];
    float *conf_u = drec_malloc((nnz_u + 1) * sizeof *conf_u);
    float *conf_i = drec_malloc((nnz_i + 1) * sizeof *conf_i);
    for (size_t j = 0; j < nnz_u; j++) {
        size_t r = t->by_user[j];
        float v = weighted ? t->rating[r] : 1.0f;
        conf_u[j] = 1.0f + s->alpha * (v > 0 ? v : 0);
    }
    for (size_t j = 0; j < nnz_i; j++) {
        size_t r = t->by_item[j];
        float v = weighted ? t->rating[r] : 1.0f;
        conf_i[j] = 1.0f + s->alpha * (v > 0 ? v : 0);
    }
    for (long e = 0; e < epochs; e++) {
        sweep(s->X, nU, s->Y, nI, k, s->reg, t->user_ptr, t->user_items, conf_u, (int)cg);
        sweep(s->Y, nI, s->X, nU, k, s->reg, t->item_ptr, t->item_users, conf_i, (int)cg);
        /* The loss costs a pass over the data: only when someone looks. */
        double loss = drec_verbosity() >= 2 || m->fit_ctx ? observed_loss(s, t, conf_u) : NAN;
        if (drec_fit_epoch(m, (int)e, (int)epochs, loss)) break;
    }
    gram(s->Y, nI, k, s->reg, s->YtY);
    s->hp[0] = s->alpha;
    s->hp[1] = s->reg;
    free(conf_u);
    free(conf_i);
    return DREC_OK;
}

/* Solves the k x k SPD system A x = b in place (A is overwritten by its
 * Cholesky factor).  Returns false when A is not positive definite. */
static bool chol_solve(float *A, float *b, int k) {
    for (int j = 0; j < k; j++) {
        double d = A[j * k + j];
        for (int l = 0; l < j; l++) d -= (double)A[j * k + l] * A[j * k + l];
        if (!(d > 0)) return false;
        float ljj = (float)sqrt(d);
        A[j * k + j] = ljj;
        for (int i = j + 1; i < k; i++) {
            double v = A[i * k + j];
            for (int l = 0; l < j; l++) v -= (double)A[i * k + l] * A[j * k + l];
            A[i * k + j] = (float)(v / ljj);
        }
    }
    for (int i = 0; i < k; i++) { /* L y = b */
        double v = b[i];
        for (int l = 0; l < i; l++) v -= (double)A[i * k + l] * b[l];
        b[i] = (float)(v / A[i * k + i]);
    }
    for (int i = k - 1; i >= 0; i--) { /* L^T x = y */
        double v = b[i];
        for (int l = i + 1; l < k; l++) v -= (double)A[l * k + i] * b[l];
        b[i] = (float)(v / A[i * k + i]);
    }
    return true;
}

/* The exact least-squares user vector for a history (fold-in): x solves
 * (YtY + reg I + sum_i alpha y_i y_i^T) x = sum_i (1 + alpha) y_i.  Repeated
 * items count once, as in training. */
static void als_foldin(const als_state *s, const int32_t *hist, int n_hist, int32_t n_items, float *x) {
    int k = s->k;
    float *A = drec_malloc((size_t)k * k * sizeof *A);
    memcpy(A, s->YtY, (size_t)k * k * sizeof *A);
    memset(x, 0, (size_t)k * sizeof *x);
    for (int j = 0; j < n_hist; j++) {
        int32_t i = hist[j];
        if (i < 0 || i >= n_items) continue;
        bool dup = false;
        for (int l = 0; l < j && !dup; l++) dup = hist[l] == i;
        if (dup) continue;
        const float *y = s->Y + (size_t)i * k;
        for (int a = 0; a < k; a++) {
            x[a] += (1.0f + s->alpha) * y[a];
            for (int b = 0; b < k; b++) A[a * k + b] += s->alpha * y[a] * y[b];
        }
    }
    if (!chol_solve(A, x, k)) memset(x, 0, (size_t)k * sizeof *x);
    free(A);
}

static void als_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const als_state *s = m->state;
    int k = s->k;
    float *tmp = NULL;
    const float *x;
    if (q->user >= 0 && q->user < m->n_users)
        x = s->X + (size_t)q->user * k;
    else {
        tmp = drec_malloc((size_t)k * sizeof *tmp);
        als_foldin(s, q->hist, q->n_hist, m->n_items, tmp);
        x = tmp;
    }
    if (!items) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n_items, k, 1.0f, s->Y, k, x, 1, 0.0f, out, 1);
    } else {
        for (int j = 0; j < n; j++)
            out[j] = items[j] >= 0 && items[j] < m->n_items ? dotk(x, s->Y + (size_t)items[j] * k, k) : -INFINITY;
    }
    free(tmp);
}

static const float *als_item_vector(const drec_model *m, int32_t i, int *dim) {
    const als_state *s = m->state;
    *dim = s->k;
    return s->Y + (size_t)i * s->k;
}

static drec_status als_save(const drec_model *m, drec_mf_writer *w) {
    const als_state *s = m->state;
    drec_status st = drec_mf_put_f32(w, "X", s->X, m->n_users, s->k);
    if (!st) st = drec_mf_put_f32(w, "Y", s->Y, m->n_items, s->k);
    if (!st) st = drec_mf_put_f32(w, "YtY", s->YtY, s->k, s->k);
    if (!st) st = drec_mf_put_f32(w, "alpha_reg", s->hp, 2, 0);
    return st;
}

static drec_status als_load(drec_model *m, drec_mf_reader *r) {
    als_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    const void *d;
    int64_t shape[2] = {m->n_items, 0};
    drec_status st = drec_mf_get(r, "Y", DREC_DT_F32, 2, shape, &d);
    if (st) return st;
    s->k = (int)shape[1];
    float *hp = NULL;
    if ((st = drec_mf_get_f32(r, "X", m->n_users, s->k, &s->X))) return st;
    if ((st = drec_mf_get_f32(r, "Y", m->n_items, s->k, &s->Y))) return st;
    if ((st = drec_mf_get_f32(r, "YtY", s->k, s->k, &s->YtY))) return st;
    if ((st = drec_mf_get_f32(r, "alpha_reg", 2, 0, &hp))) return st;
    s->alpha = s->hp[0] = hp[0];
    s->reg = s->hp[1] = hp[1];
    drec_free(hp);
    return DREC_OK;
}

static void als_free(drec_model *m) {
    als_state *s = m->state;
    if (!s) return;
    drec_free(s->X);
    drec_free(s->Y);
    drec_free(s->YtY);
    free(s);
}

const drec_model_vt drec_als_vt = {
    .name = "als",
    .summary = "implicit-feedback ALS with confidence weighting and a conjugate-gradient solver (--dim, --reg, "
               "--epochs, --set alpha=3, --set cg=3)",
    .caps = DREC_CAP_RANK | DREC_CAP_FOLDIN,
    .fit = als_fit,
    .score = als_score,
    .item_vector = als_item_vector,
    .save = als_save,
    .load = als_load,
    .free_state = als_free,
};
