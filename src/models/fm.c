/*
 * fm.c — factorization machines (Rendle 2010) over sparse feature rows:
 *
 *     y(x) = w0 + sum_a w_a x_a + sum_{a<b} <v_a, v_b> x_a x_b
 *
 * with the pairwise term in O(K n) (drec_fm_pairwise).  The rows are the
 * data's own CTR feature rows when it has them (ctr: data); otherwise each
 * interaction (u, i) becomes the one-hot user id, the one-hot item id, and
 * the user's and the item's attributes (side->user_attrs / item_attrs):
 *
 *     [ user (U) | item (I) | user attrs (Fu) | item attrs (Fi) ]
 *
 * `task=auto` picks squared loss on explicit ratings (regression), logistic
 * loss on labels (CTR rows), and logistic loss on implicit interactions
 * against `neg` unseen items drawn uniformly per positive (classification).
 * Training is SGD or AdaGrad (`optimizer=`), sequential, so the same seed
 * gives the same model.  `predict` returns ratings (clipped to the training
 * range) or click probabilities; `score` ranks items for a user (the
 * interaction layout only).
 *
 * Shapes: F features, K = dim.  w (F), V (F, K).
 */
#include "fm.h"
#include "model.h"

#include "data/sampler.h"

#include <math.h>
#include <stdlib.h>

enum { FM_REGRESSION = 0, FM_CLASSIFICATION = 1 };

/* The per-row loops over the K factors: compiled for AVX2 (8 lanes, one
 * step for the default K = 8) and baseline x86-64, picked at load time,
 * without contracting into FMAs, so that every variant gives the same
 * numbers as the plain scalar code (this file is built with
 * -fno-math-errno, so that sqrtf vectorizes). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FM_HOT                                                                                    \
    __attribute__((target_clones("arch=x86-64-v3", "default"),                                      \
                   optimize("O3", "fp-contract=off")))
#else
#define FM_HOT
#endif

typedef struct fm_state {
    int k, task;
    bool ctr;               /* rows are the data's feature rows */
    int32_t nU, nI, Fu, Fi; /* interaction layout */
    int32_t n_feat;
    float w0;
    float *w;               /* (F) */
    float *V;               /* (F, K) */
    float rmin, rmax;       /* regression: range of the training ratings */
    int32_t *ua_ptr, *ua_idx, *ia_ptr, *ia_idx; /* attribute CSR copies */
    float *ua_val, *ia_val;
    int max_row;            /* longest interaction row */
    int32_t meta[9];        /* what save writes: the scalars above, packed */
    float scal[3];
} fm_state;

static void fm_pack(fm_state *s) {
    int32_t meta[9] = {s->k, s->task, s->ctr, s->nU, s->nI, s->Fu, s->Fi, s->n_feat, s->max_row};
    memcpy(s->meta, meta, sizeof meta);
    s->scal[0] = s->w0;
    s->scal[1] = s->rmin;
    s->scal[2] = s->rmax;
}

FM_HOT float drec_fm_pairwise(const float *V, int k, const int32_t *idx, const float *val, int n, float *s) {
    /* Feature-major, 8 factors at a time: each row of V is read once and
     * contiguously and the loop over the factors vectorizes; every
     * factor's sums keep their order. */
    double total = 0;
    for (int f0 = 0; f0 < k; f0 += 8) {
        int nf = DREC_MIN(8, k - f0);
        double sum[8] = {0}, sq[8] = {0};
        if (nf == 8)
            for (int a = 0; a < n; a++) {
                const float *v = V + (size_t)idx[a] * k + f0;
                double x = val[a];
                for (int f = 0; f < 8; f++) {
                    double t = (double)v[f] * x;
                    sum[f] += t;
                    sq[f] += t * t;
                }
            }
        else
            for (int a = 0; a < n; a++) {
                const float *v = V + (size_t)idx[a] * k + f0;
                double x = val[a];
                for (int f = 0; f < nf; f++) {
                    double t = (double)v[f] * x;
                    sum[f] += t;
                    sq[f] += t * t;
                }
            }
        for (int f = 0; f < nf; f++) {
            if (s) s[f0 + f] = (float)sum[f];
            total += sum[f] * sum[f] - sq[f];
        }
    }
    return (float)(0.5 * total);
}

/* The features of interaction (u, i) in the interaction layout; u or i
 * may be -1 (unknown), which drops that part. */
static int fm_row(const fm_state *s, int32_t u, int32_t i, int32_t *idx, float *val) {
    int n = 0;
    if (u >= 0 && u < s->nU) {
        idx[n] = u;
        val[n++] = 1;
        if (s->ua_ptr)
            for (int32_t j = s->ua_ptr[u]; j < s->ua_ptr[u + 1]; j++) {
                idx[n] = s->nU + s->nI + s->ua_idx[j];
                val[n++] = s->ua_val[j];
            }
    }
    if (i >= 0 && i < s->nI) {
        idx[n] = s->nU + i;
        val[n++] = 1;
        if (s->ia_ptr)
            for (int32_t j = s->ia_ptr[i]; j < s->ia_ptr[i + 1]; j++) {
                idx[n] = s->nU + s->nI + s->Fu + s->ia_idx[j];
                val[n++] = s->ia_val[j];
            }
    }
    return n;
}

static float fm_raw(const fm_state *s, const int32_t *idx, const float *val, int n, float *sums) {
    float y = s->w0;
    for (int a = 0; a < n; a++) y += s->w[idx[a]] * val[a];
    return y + drec_fm_pairwise(s->V, s->k, idx, val, n, sums);
}

static float fm_output(const fm_state *s, float raw) {
    if (s->task == FM_CLASSIFICATION) return 1.0f / (1.0f + expf(-raw));
    return raw < s->rmin ? s->rmin : raw > s->rmax ? s->rmax : raw;
}

typedef struct fm_opt {
    float lr, reg;
    bool adagrad;
    float g0;      /* AdaGrad accumulators */
    float *gw, *gV;
} fm_opt;

static inline void fm_update(float *p, float *acc, float g, const fm_opt *o) {
    if (o->adagrad) {
        *acc += g * g;
        *p -= o->lr * g / sqrtf(*acc + 1e-8f);
    } else
        *p -= o->lr * g;
}

/* fm_update over a factor row v (k): one loop per optimizer, so that the
 * square roots and divisions run as vector instructions (the same IEEE
 * operations, so the same numbers as the scalar form). */
FM_HOT static void fm_update_row(float *restrict v, float *restrict gv, int k, float dx, float x,
                            const float *restrict sums, const fm_opt *o) {
    float lr = o->lr, reg = o->reg;
    if (o->adagrad) {
#pragma omp simd
        for (int f = 0; f < k; f++) {
            float g = dx * (sums[f] - v[f] * x) + reg * v[f];
            gv[f] += g * g;
            v[f] -= lr * g / sqrtf(gv[f] + 1e-8f);
        }
    } else {
#pragma omp simd
        for (int f = 0; f < k; f++) v[f] -= lr * (dx * (sums[f] - v[f] * x) + reg * v[f]);
    }
}

/* One SGD step on a row with target y; returns its loss. */
static double fm_step(fm_state *s, fm_opt *o, const int32_t *idx, const float *val, int n, float y, float *sums) {
    float raw = fm_raw(s, idx, val, n, sums);
    double loss;
    float d;
    if (s->task == FM_CLASSIFICATION) {
        float p = 1.0f / (1.0f + expf(-raw));
        d = p - y;
        double pc = p < 1e-7f ? 1e-7 : p > 1 - 1e-7f ? 1 - 1e-7 : p;
        /* a 0/1 label needs one logarithm (the other term is exactly 0) */
        loss = y == 1 ? -log(pc) : y == 0 ? -log(1 - pc) : -(y * log(pc) + (1 - y) * log(1 - pc));
    } else {
        d = raw - y;
        loss = (double)d * d;
    }
    int k = s->k;
    fm_update(&s->w0, &o->g0, d, o);
    for (int a = 0; a < n; a++) {
        int32_t j = idx[a];
        float x = val[a];
        fm_update(&s->w[j], &o->gw[j], d * x + o->reg * s->w[j], o);
        fm_update_row(s->V + (size_t)j * k, o->adagrad ? o->gV + (size_t)j * k : NULL, k, d * x, x, sums, o);
    }
    return loss;
}

static int32_t *copy_i32(const int32_t *a, size_t n) {
    int32_t *b = drec_malloc((n ? n : 1) * sizeof *b);
    if (n) memcpy(b, a, n * sizeof *b);
    return b;
}
static float *copy_f32(const float *a, size_t n) {
    float *b = drec_malloc((n ? n : 1) * sizeof *b);
    if (n) memcpy(b, a, n * sizeof *b);
    return b;
}

/* Copies an attribute table as CSR over exactly n entities (missing
 * entities get no features). */
static void copy_attrs(const drec_attrs *a, int32_t n, int32_t **ptr, int32_t **idx, float **val, int32_t *n_feat) {
    *n_feat = a->names.n;
    *ptr = drec_calloc((size_t)n + 1, sizeof **ptr);
    int32_t have = a->ptr ? DREC_MIN(a->n_entities, n) : 0;
    for (int32_t e = 0; e < n; e++) (*ptr)[e + 1] = e < have ? a->ptr[e + 1] : (*ptr)[e];
    size_t nnz = (size_t)(*ptr)[n];
    *idx = copy_i32(a->idx, nnz);
    *val = copy_f32(a->val, nnz);
}

static drec_status fm_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {
    long dim, epochs, neg;
    double lr, reg, init;
    drec_status st;
    const char *task = drec_params_str(p, "task", "auto");
    const char *optim = drec_params_str(p, "optimizer", "adagrad");
    if ((st = drec_params_int(p, "dim", 8, &dim)) || (st = drec_params_int(p, "epochs", 20, &epochs)) ||
        (st = drec_params_int(p, "neg", 4, &neg)) || (st = drec_params_float(p, "lr", 0.05, &lr)) ||
        (st = drec_params_float(p, "reg", 1e-4, &reg)) || (st = drec_params_float(p, "init", 0.01, &init)))
        return st;
    if (dim < 1 || dim > 1024) return drec_fail(DREC_ERR_USAGE, "dim must be in 1..1024 (got %ld)", dim);
    if (epochs < 0 || neg < 0 || lr <= 0 || reg < 0) return drec_fail(DREC_ERR_USAGE, "bad epochs, neg, lr or reg");
    if (strcmp(optim, "sgd") != 0 && strcmp(optim, "adagrad") != 0)
        return drec_fail(DREC_ERR_USAGE, "fm: optimizer must be sgd or adagrad (got %s)", optim);
    fm_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    s->k = (int)dim;
    s->ctr = t->feat_ptr != NULL;
    bool implicit = false;
    if (strcmp(task, "regression") == 0) {
        if (s->ctr || !t->has_rating)
            return drec_fail(DREC_ERR_USAGE, "fm: task=regression needs explicit ratings");
        s->task = FM_REGRESSION;
    } else if (strcmp(task, "classification") == 0) {
        s->task = FM_CLASSIFICATION;
        implicit = !s->ctr;
    } else if (strcmp(task, "auto") == 0) {
        s->task = s->ctr || !t->has_rating ? FM_CLASSIFICATION : FM_REGRESSION;
        implicit = !s->ctr && !t->has_rating;
    } else
        return drec_fail(DREC_ERR_USAGE, "fm: task must be auto, regression or classification (got %s)", task);

    const drec_side *sd = t->side;
    if (s->ctr) {
        int32_t mx = sd->n_features;
        for (size_t j = 0; j < t->feat_n; j++) mx = DREC_MAX(mx, t->feat_idx[j] + 1);
        s->n_feat = mx;
        for (int64_t r = 0; r < (int64_t)t->n; r++)
            s->max_row = DREC_MAX(s->max_row, (int)(t->feat_ptr[r + 1] - t->feat_ptr[r]));
    } else {
        s->nU = t->n_users;
        s->nI = t->n_items;
        copy_attrs(&sd->user_attrs, s->nU, &s->ua_ptr, &s->ua_idx, &s->ua_val, &s->Fu);
        copy_attrs(&sd->item_attrs, s->nI, &s->ia_ptr, &s->ia_idx, &s->ia_val, &s->Fi);
        s->n_feat = s->nU + s->nI + s->Fu + s->Fi;
        int mu = 0, mi = 0;
        for (int32_t u = 0; u < s->nU; u++) mu = DREC_MAX(mu, s->ua_ptr[u + 1] - s->ua_ptr[u]);
        for (int32_t i = 0; i < s->nI; i++) mi = DREC_MAX(mi, s->ia_ptr[i + 1] - s->ia_ptr[i]);
        s->max_row = 2 + mu + mi;
    }
    s->rmin = INFINITY;
    s->rmax = -INFINITY;
    for (size_t r = 0; r < t->n; r++) {
        s->rmin = DREC_MIN(s->rmin, t->rating[r]);
        s->rmax = DREC_MAX(s->rmax, t->rating[r]);
    }
    if (s->task == FM_CLASSIFICATION) {
        s->rmin = 0;
        s->rmax = 1;
    }
    size_t F = (size_t)s->n_feat, k = (size_t)s->k;
    s->w = drec_calloc(F + 1, sizeof *s->w);
    s->V = drec_aligned_alloc((F * k + 1) * sizeof *s->V);
    drec_rng rng;
    drec_rng_seed(&rng, m->seed);
    for (size_t j = 0; j < F * k; j++) s->V[j] = (float)(init * drec_rng_normal(&rng));
    if (s->task == FM_REGRESSION) {
        double mean = 0;
        for (size_t r = 0; r < t->n; r++) mean += t->rating[r];
        s->w0 = t->n ? (float)(mean / (double)t->n) : 0;
    }
    fm_opt o = {.lr = (float)lr, .reg = (float)reg, .adagrad = strcmp(optim, "adagrad") == 0};
    if (o.adagrad) {
        o.gw = drec_calloc(F + 1, sizeof *o.gw);
        o.gV = drec_calloc(F * k + 1, sizeof *o.gV);
    }
    /* The training rows: data rows (skipping interactions without a user
     * or an item in the interaction layout). */
    size_t *rows = drec_malloc((t->n + 1) * sizeof *rows), n_rows = 0;
    for (size_t r = 0; r < t->n; r++)
        if (s->ctr || (t->user[r] >= 0 && t->item[r] >= 0)) rows[n_rows++] = r;
    int32_t *idx = drec_malloc((size_t)(s->max_row + 1) * sizeof *idx);
    float *val = drec_malloc((size_t)(s->max_row + 1) * sizeof *val), *sums = drec_malloc(k * sizeof *sums);
    drec_sampler *ns = implicit ? drec_sampler_new(t, 0.0, m->seed) : NULL;
    for (long e = 0; e < epochs && n_rows > 0; e++) {
        drec_rng_shuffle_size(&rng, rows, n_rows);
        double loss = 0;
        size_t n_loss = 0;
        for (size_t j = 0; j < n_rows; j++) {
            size_t r = rows[j];
            int n;
            if (s->ctr) {
                n = (int)(t->feat_ptr[r + 1] - t->feat_ptr[r]);
                loss += fm_step(s, &o, t->feat_idx + t->feat_ptr[r], t->feat_val + t->feat_ptr[r], n, t->rating[r],
                                sums);
                n_loss++;
                continue;
            }
            int32_t u = t->user[r];
            n = fm_row(s, u, t->item[r], idx, val);
            loss += fm_step(s, &o, idx, val, n, implicit ? 1.0f : t->rating[r], sums);
            n_loss++;
            for (long q = 0; implicit && q < neg; q++) {
                int32_t i = drec_sampler_neg(ns, &rng, u);
                if (i < 0) break;
                n = fm_row(s, u, i, idx, val);
                loss += fm_step(s, &o, idx, val, n, 0.0f, sums);
                n_loss++;
            }
        }
        if (drec_fit_epoch(m, (int)e, (int)epochs, n_loss ? loss / (double)n_loss : 0)) break;
    }
    drec_sampler_free(ns);
    free(rows);
    free(idx);
    free(val);
    free(sums);
    free(o.gw);
    free(o.gV);
    fm_pack(s);
    return DREC_OK;
}

static void fm_predict(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out) {
    const fm_state *s = m->state;
    int cap = s->max_row + 1;
    int32_t *idx = drec_malloc((size_t)cap * sizeof *idx);
    float *val = drec_malloc((size_t)cap * sizeof *val);
    for (size_t j = 0; j < n; j++) {
        size_t r = rows[j];
        if (s->ctr) {
            if (!ds->feat_ptr) {
                out[j] = NAN;
                continue;
            }
            int nf = 0, len = (int)(ds->feat_ptr[r + 1] - ds->feat_ptr[r]);
            if (len > cap) {
                cap = len;
                idx = drec_realloc(idx, (size_t)cap * sizeof *idx);
                val = drec_realloc(val, (size_t)cap * sizeof *val);
            }
            for (int64_t l = ds->feat_ptr[r]; l < ds->feat_ptr[r + 1]; l++)
                if (ds->feat_idx[l] >= 0 && ds->feat_idx[l] < s->n_feat) { /* unseen features weigh 0 */
                    idx[nf] = ds->feat_idx[l];
                    val[nf++] = ds->feat_val[l];
                }
            out[j] = fm_output(s, fm_raw(s, idx, val, nf, NULL));
        } else {
            int nf = fm_row(s, ds->user[r], ds->item[r], idx, val);
            out[j] = fm_output(s, fm_raw(s, idx, val, nf, NULL));
        }
    }
    free(idx);
    free(val);
}

static void fm_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const fm_state *s = m->state;
    int count = items ? n : m->n_items;
    if (s->ctr) { /* no user/item layout to rank with */
        for (int j = 0; j < count; j++) out[j] = 0;
        return;
    }
    int32_t *idx = drec_malloc((size_t)(s->max_row + 1) * sizeof *idx);
    float *val = drec_malloc((size_t)(s->max_row + 1) * sizeof *val);
    for (int j = 0; j < count; j++) {
        int32_t i = items ? items[j] : j;
        if (i < 0 || i >= s->nI) {
            out[j] = -INFINITY;
            continue;
        }
        int nf = fm_row(s, q->user, i, idx, val);
        out[j] = fm_raw(s, idx, val, nf, NULL);
    }
    free(idx);
    free(val);
}

static drec_status fm_save(const drec_model *m, drec_mf_writer *w) {
    const fm_state *s = m->state;
    drec_status st;
    if ((st = drec_mf_put_i32(w, "meta", s->meta, 9)) || (st = drec_mf_put_f32(w, "scalars", s->scal, 3, 0)) ||
        (st = drec_mf_put_f32(w, "w", s->w, s->n_feat, 0)) || (st = drec_mf_put_f32(w, "V", s->V, s->n_feat, s->k)))
        return st;
    if (s->ctr) return DREC_OK;
    if ((st = drec_mf_put_i32(w, "ua_ptr", s->ua_ptr, (int64_t)s->nU + 1)) ||
        (st = drec_mf_put_i32(w, "ua_idx", s->ua_idx, s->ua_ptr[s->nU])) ||
        (st = drec_mf_put_f32(w, "ua_val", s->ua_val, s->ua_ptr[s->nU], 0)) ||
        (st = drec_mf_put_i32(w, "ia_ptr", s->ia_ptr, (int64_t)s->nI + 1)) ||
        (st = drec_mf_put_i32(w, "ia_idx", s->ia_idx, s->ia_ptr[s->nI])))
        return st;
    return drec_mf_put_f32(w, "ia_val", s->ia_val, s->ia_ptr[s->nI], 0);
}

static drec_status check_csr(const int32_t *ptr, int32_t n, const int32_t *idx, int32_t n_feat) {
    if (ptr[0] != 0) return drec_fail(DREC_ERR_FORMAT, "fm: attribute index is inconsistent");
    for (int32_t e = 0; e < n; e++)
        if (ptr[e + 1] < ptr[e]) return drec_fail(DREC_ERR_FORMAT, "fm: attribute index is inconsistent");
    for (int32_t j = 0; j < ptr[n]; j++)
        if (idx[j] < 0 || idx[j] >= n_feat) return drec_fail(DREC_ERR_FORMAT, "fm: attribute id out of range");
    return DREC_OK;
}

static drec_status fm_load(drec_model *m, drec_mf_reader *r) {
    fm_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    int32_t *meta = NULL;
    float *scal = NULL;
    drec_status st;
    if ((st = drec_mf_get_i32(r, "meta", 9, &meta))) return st;
    s->k = meta[0];
    s->task = meta[1];
    s->ctr = meta[2] != 0;
    s->nU = meta[3];
    s->nI = meta[4];
    s->Fu = meta[5];
    s->Fi = meta[6];
    s->n_feat = meta[7];
    s->max_row = meta[8];
    drec_free(meta);
    if (s->k < 1 || s->n_feat < 0 || s->max_row < 0 || (!s->ctr && (s->nU != m->n_users || s->nI != m->n_items ||
                                                                     s->n_feat != s->nU + s->nI + s->Fu + s->Fi)))
        return drec_fail(DREC_ERR_FORMAT, "fm: layout does not match the model's users and items");
    if ((st = drec_mf_get_f32(r, "scalars", 3, 0, &scal))) return st;
    s->w0 = scal[0];
    s->rmin = scal[1];
    s->rmax = scal[2];
    drec_free(scal);
    fm_pack(s);
    if ((st = drec_mf_get_f32(r, "w", s->n_feat, 0, &s->w)) || (st = drec_mf_get_f32(r, "V", s->n_feat, s->k, &s->V)))
        return st;
    if (s->ctr) return DREC_OK;
    if ((st = drec_mf_get_i32(r, "ua_ptr", (int64_t)s->nU + 1, &s->ua_ptr)) ||
        (st = drec_mf_get_i32(r, "ia_ptr", (int64_t)s->nI + 1, &s->ia_ptr)))
        return st;
    int64_t nu = s->ua_ptr[s->nU], ni = s->ia_ptr[s->nI];
    if (nu < 0 || ni < 0) return drec_fail(DREC_ERR_FORMAT, "fm: attribute index is inconsistent");
    if ((st = drec_mf_get_i32(r, "ua_idx", nu, &s->ua_idx)) || (st = drec_mf_get_f32(r, "ua_val", nu, 0, &s->ua_val)) ||
        (st = drec_mf_get_i32(r, "ia_idx", ni, &s->ia_idx)) || (st = drec_mf_get_f32(r, "ia_val", ni, 0, &s->ia_val)))
        return st;
    if ((st = check_csr(s->ua_ptr, s->nU, s->ua_idx, s->Fu))) return st;
    return check_csr(s->ia_ptr, s->nI, s->ia_idx, s->Fi);
}

static void fm_free(drec_model *m) {
    fm_state *s = m->state;
    if (!s) return;
    free(s->w);
    drec_free(s->V);
    free(s->ua_ptr);
    free(s->ua_idx);
    free(s->ua_val);
    free(s->ia_ptr);
    free(s->ia_idx);
    free(s->ia_val);
    free(s);
}

const drec_model_vt drec_fm_vt = {
    .name = "fm",
    .summary = "factorization machine over CTR feature rows, or user/item ids and attributes (--set "
               "task=auto|regression|classification, --optimizer sgd|adagrad)",
    .caps = DREC_CAP_RANK | DREC_CAP_RATING | DREC_CAP_CTR,
    .fit = fm_fit,
    .score = fm_score,
    .predict = fm_predict,
    .save = fm_save,
    .load = fm_load,
    .free_state = fm_free,
};
