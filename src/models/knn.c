/*
 * knn.c — neighbourhood collaborative filtering:
 *
 *   itemknn  item-based kNN (Sarwar et al. 2001; Koren's KNNBaseline for ratings)
 *   userknn  user-based kNN (Herlocker et al. 1999)
 *   timeknn  item-based kNN whose user profile forgets: each interaction
 *            weighs 2^(-age / half_life), age counted back from the user's
 *            last event (Ding & Li 2005)
 *
 * Similarities (`sim=`), between two items (users for userknn) over the
 * users (items) they share:
 *   cosine            vector cosine, missing entries read as 0 (the only one
 *                     that makes sense for implicit 0/1 data, used there)
 *   adjusted          cosine of ratings minus each rater's mean, over the
 *                     common raters (Sarwar's adjusted cosine)
 *   pearson           correlation of ratings minus each item's mean, over
 *                     the common raters
 *   pearson_baseline  the same with the baseline b_ui as the centre (Koren
 *                     2010; Surprise's pearson_baseline) — the default for
 *                     ratings
 * each shrunk by n / (n + shrink) for n common raters, and only positive
 * similarities kept, strongest first.
 *
 * Ratings are predicted KNNBaseline-style: baselines b_ui = mu + b_u + b_i
 * fitted by alternating regularised means (Surprise's 'als' baseline), then
 *   r_ui = b_ui + sum_j s_ij (r_uj - b_uj) / sum_j s_ij
 * over the k (`neighbors`, default 40) items j rated by u that are most
 * similar to i.  For ranking, an item's score is the sum of its
 * similarities to the user's items, each item contributing its k nearest
 * neighbours (Deshpande & Karypis 2004); those lists always use the 0/1
 * cosine (with the same shrinkage), also on rated data.
 *
 * Hyper-parameters (--set KEY=VALUE): sim, neighbors (40), shrink (100),
 * keep (neighbours stored per item: 1000 on ratings, else `neighbors`),
 * min_support (1 common rater), bl_epochs / bl_reg_u / bl_reg_i (10, 15,
 * 10: the baselines), half_life (timeknn, days, 30).
 *
 * The similarity lists are computed in parallel over items (users), each by
 * one thread in a fixed order, so the result is the same for any thread
 * count.
 *
 * Shapes: U = users, I = items, E = entities whose neighbours are kept
 * (I for item-based, U for user-based), L = kept neighbour entries.
 */
#include "knn.h"

#include <math.h>
#include <stdlib.h>

enum { KNN_ITEM = 0, KNN_USER = 1, KNN_TIME = 2 };
enum { SIM_COSINE = 0, SIM_ADJUSTED, SIM_PEARSON, SIM_PEARSON_BASELINE };
static const char *const sim_names[] = {"cosine", "adjusted", "pearson", "pearson_baseline"};

typedef struct knn_state {
    int kind;
    int32_t k;
    int rating;          /* 1: explicit ratings, predicted with baselines */
    float mu, rmin, rmax;
    float half_life_s;   /* timeknn: half-life in seconds */
    float gap_s;         /* timeknn: mean gap between a user's consecutive events */
    float *bu, *bi;      /* (U), (I) baselines (rating mode) */
    int32_t n_ent;       /* E */
    int64_t *nb_ptr;     /* (E + 1) */
    int32_t *nb_idx;     /* (L) neighbour ids (strongest first where ranking reads them) */
    float *nb_sim;       /* (L) */
    /* Rating mode: the lists that ranking uses, 0/1 cosine over who had
     * what (whether a user rated an item says more about what to show
     * than how high; the rating similarities rank worse than popularity
     * on MovieLens).  Without ratings the lists above serve both. */
    int64_t *rk_ptr;     /* (E + 1) */
    int32_t *rk_idx;
    float *rk_sim;
    /* Training residuals r - b_ui: by user for item-based, by item for
     * user-based (rating mode). */
    int32_t n_res;
    int64_t *res_ptr;    /* (n_res + 1) */
    int32_t *res_idx;
    float *res_val;
    int64_t *ts;         /* timeknn: time of each entry of the model's seen lists */
    float scal[9];       /* the scalars above as saved (the writer reads them late) */
} knn_state;

/* One orientation of the training matrix: entity e has entries
 * idx[ptr[e]..ptr[e+1]) with rating r and centred value x. */
typedef struct knn_csr {
    int32_t n;
    int64_t *ptr;
    int32_t *idx;
    float *r, *x;
} knn_csr;

static void csr_free(knn_csr *c) {
    free(c->ptr);
    free(c->idx);
    free(c->r);
    free(c->x);
}

/* By-user (by_item = false) or by-item view of the rows with a user and
 * an item, in the dataset's index order. */
static void csr_build(const drec_dataset *ds, bool by_item, bool rating, knn_csr *c) {
    int32_t n = by_item ? ds->n_items : ds->n_users;
    const int64_t *ptr = by_item ? ds->item_ptr : ds->user_ptr;
    const size_t *rows = by_item ? ds->by_item : ds->by_user;
    c->n = n;
    c->ptr = drec_calloc((size_t)n + 1, sizeof *c->ptr);
    size_t total = (size_t)ptr[n];
    c->idx = drec_malloc((total ? total : 1) * sizeof *c->idx);
    c->r = drec_malloc((total ? total : 1) * sizeof *c->r);
    c->x = drec_malloc((total ? total : 1) * sizeof *c->x);
    size_t k = 0;
    for (int32_t e = 0; e < n; e++) {
        for (int64_t j = ptr[e]; j < ptr[e + 1]; j++) {
            size_t row = rows[j];
            int32_t other = by_item ? ds->user[row] : ds->item[row];
            if (other < 0 || (by_item ? ds->item[row] : ds->user[row]) < 0) continue;
            c->idx[k] = other;
            c->r[k] = rating ? ds->rating[row] : 1.0f;
            k++;
        }
        c->ptr[e + 1] = (int64_t)k;
    }
}

/* Baselines by alternating regularised means (Koren 2010, sec. 2.1):
 * b_i = sum (r - mu - b_u) / (reg_i + |R(i)|), then
 * b_u = sum (r - mu - b_i) / (reg_u + |R(u)|), `epochs` times. */
static void fit_baselines(const knn_csr *byu, const knn_csr *byi, float mu, int epochs, double reg_u,
                          double reg_i, float *bu, float *bi) {
    for (int e = 0; e < epochs; e++) {
        for (int32_t i = 0; i < byi->n; i++) {
            double s = 0;
            for (int64_t k = byi->ptr[i]; k < byi->ptr[i + 1]; k++) s += byi->r[k] - mu - bu[byi->idx[k]];
            bi[i] = (float)(s / (reg_i + (double)(byi->ptr[i + 1] - byi->ptr[i])));
        }
        for (int32_t u = 0; u < byu->n; u++) {
            double s = 0;
            for (int64_t k = byu->ptr[u]; k < byu->ptr[u + 1]; k++) s += byu->r[k] - mu - bi[byu->idx[k]];
            bu[u] = (float)(s / (reg_u + (double)(byu->ptr[u + 1] - byu->ptr[u])));
        }
    }
}

typedef struct knn_cand {
    int32_t id;
    float sim;
} knn_cand;

static int cand_cmp(const void *a, const void *b) {
    const knn_cand *x = a, *y = b;
    if (x->sim != y->sim) return x->sim > y->sim ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Positive similarities of every entity of `ent` to the others, through the
 * raters of `rat` (the transposed view).  With norm != NULL the cosine uses
 * full-vector norms, otherwise norms over the common raters.  Keeps at most
 * `keep` per entity (0 = all), strongest first; when nothing is cut and
 * !sorted the order is left as found (rating prediction looks neighbours
 * up, and sorting ~I entries per item would be a good part of the work). */
static void compute_sims(const knn_csr *ent, const knn_csr *rat, const double *norm, double shrink,
                         long min_support, long keep, bool sorted, int64_t **out_ptr, int32_t **out_idx,
                         float **out_sim) {
    int32_t E = ent->n;
    knn_cand **lists = drec_calloc((size_t)E + 1, sizeof *lists);
    int32_t *lens = drec_calloc((size_t)E + 1, sizeof *lens);
#pragma omp parallel
    {
        double *dot = drec_calloc((size_t)E + 1, sizeof *dot);
        double *sa = drec_calloc((size_t)E + 1, sizeof *sa);
        double *sb = drec_calloc((size_t)E + 1, sizeof *sb);
        int32_t *cnt = drec_calloc((size_t)E + 1, sizeof *cnt);
        int32_t *touched = drec_malloc(((size_t)E + 1) * sizeof *touched);
        knn_cand *cand = drec_malloc(((size_t)E + 1) * sizeof *cand);
        drec_scored *heap = keep > 0 ? drec_malloc(((size_t)keep + 1) * sizeof *heap) : NULL;
#pragma omp for schedule(dynamic, 16)
        for (int32_t e = 0; e < E; e++) {
            int32_t nt = 0;
            for (int64_t p = ent->ptr[e]; p < ent->ptr[e + 1]; p++) {
                int32_t r = ent->idx[p];
                double xa = ent->x[p];
                for (int64_t q = rat->ptr[r]; q < rat->ptr[r + 1]; q++) {
                    int32_t f = rat->idx[q];
                    if (f == e) continue;
                    double xb = rat->x[q];
                    if (cnt[f] == 0) touched[nt++] = f;
                    cnt[f]++;
                    dot[f] += xa * xb;
                    sa[f] += xa * xa;
                    sb[f] += xb * xb;
                }
            }
            int32_t nc = 0;
            for (int32_t t = 0; t < nt; t++) {
                int32_t f = touched[t];
                int32_t n = cnt[f];
                if (n >= min_support) {
                    double den = norm ? norm[e] * norm[f] : sqrt(sa[f] * sb[f]);
                    double s = den > 0 ? dot[f] / den : 0;
                    s *= (double)n / ((double)n + shrink);
                    if (s > 0 && isfinite(s)) cand[nc++] = (knn_cand){f, (float)s};
                }
                dot[f] = sa[f] = sb[f] = 0;
                cnt[f] = 0;
            }
            if (keep > 0 && nc > keep) {
                /* The `keep` strongest, by a heap: sorting all would cost
                 * more than finding them. */
                drec_topk tk;
                drec_topk_init(&tk, heap, (int)keep);
                for (int32_t c = 0; c < nc; c++) drec_topk_push(&tk, cand[c].id, cand[c].sim);
                nc = drec_topk_finish(&tk);
                for (int32_t c = 0; c < nc; c++) cand[c] = (knn_cand){heap[c].id, heap[c].score};
            } else if (sorted)
                qsort(cand, (size_t)nc, sizeof *cand, cand_cmp);
            lens[e] = nc;
            lists[e] = drec_malloc(((size_t)nc + 1) * sizeof **lists);
            memcpy(lists[e], cand, (size_t)nc * sizeof *cand);
        }
        free(dot);
        free(sa);
        free(sb);
        free(cnt);
        free(touched);
        free(cand);
        free(heap);
    }
    int64_t *ptr = drec_malloc(((size_t)E + 1) * sizeof *ptr);
    ptr[0] = 0;
    for (int32_t e = 0; e < E; e++) ptr[e + 1] = ptr[e] + lens[e];
    size_t L = (size_t)ptr[E];
    int32_t *idx = drec_malloc((L ? L : 1) * sizeof *idx);
    float *sim = drec_malloc((L ? L : 1) * sizeof *sim);
    for (int32_t e = 0; e < E; e++) {
        for (int32_t t = 0; t < lens[e]; t++) {
            idx[ptr[e] + t] = lists[e][t].id;
            sim[ptr[e] + t] = lists[e][t].sim;
        }
        free(lists[e]);
    }
    free(lists);
    free(lens);
    *out_ptr = ptr;
    *out_idx = idx;
    *out_sim = sim;
}

static void knn_state_free(knn_state *s) {
    if (!s) return;
    free(s->bu);
    free(s->bi);
    free(s->nb_ptr);
    free(s->nb_idx);
    free(s->nb_sim);
    free(s->rk_ptr);
    free(s->rk_idx);
    free(s->rk_sim);
    free(s->res_ptr);
    free(s->res_idx);
    free(s->res_val);
    free(s->ts);
    free(s);
}

static drec_status knn_fit(drec_model *m, const drec_dataset *train, const drec_params *p, int kind) {
    long k, min_support, keep, bl_epochs;
    double shrink, bl_reg_u, bl_reg_i, half_life;
    drec_status st;
    bool rating = train->has_rating && kind != KNN_TIME;
    const char *sim_name = drec_params_str(p, "sim", rating ? "pearson_baseline" : "cosine");
    /* `neighbors` (the CLI keeps --k for list lengths); library callers may say k. */
    if ((st = drec_params_int(p, "k", 40, &k))) return st;
    if ((st = drec_params_int(p, "neighbors", k, &k))) return st;
    if ((st = drec_params_float(p, "shrink", 100, &shrink))) return st;
    if ((st = drec_params_int(p, "min_support", 1, &min_support))) return st;
    /* Rating prediction looks beyond the k nearest (the k nearest *among
     * the user's items*), so more are kept; 1000 bounds the memory on large
     * catalogues and changes nothing on MovieLens-100K. */
    if ((st = drec_params_int(p, "keep", rating ? 1000 : k, &keep))) return st;
    if ((st = drec_params_int(p, "bl_epochs", 10, &bl_epochs))) return st;
    if ((st = drec_params_float(p, "bl_reg_u", 15, &bl_reg_u))) return st;
    if ((st = drec_params_float(p, "bl_reg_i", 10, &bl_reg_i))) return st;
    if (kind == KNN_TIME && (st = drec_params_float(p, "half_life", 30, &half_life))) return st;
    int sim = -1;
    for (int t = 0; t < (int)DREC_ARRAY_LEN(sim_names); t++)
        if (strcmp(sim_name, sim_names[t]) == 0) sim = t;
    if (sim < 0)
        return drec_fail(DREC_ERR_USAGE, "sim must be cosine, adjusted, pearson or pearson_baseline (got \"%s\")",
                         sim_name);
    if (k < 1) return drec_fail(DREC_ERR_USAGE, "k must be >= 1 (got %ld)", k);
    if (!(shrink >= 0) || keep < 0 || bl_epochs < 0 || !(bl_reg_u >= 0) || !(bl_reg_i >= 0))
        return drec_fail(DREC_ERR_USAGE, "shrink, keep, bl_epochs, bl_reg_u and bl_reg_i must be >= 0");
    if (kind == KNN_TIME && !(half_life > 0))
        return drec_fail(DREC_ERR_USAGE, "half_life must be > 0 days (got %g)", half_life);
    if (!rating && sim != SIM_COSINE) {
        drec_warn("%s: sim=%s needs explicit ratings; using cosine on this 0/1 data", m->vt->name, sim_name);
        sim = SIM_COSINE;
    }

    knn_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    s->kind = kind;
    s->k = (int32_t)k;
    s->rating = rating;
    knn_csr byu, byi;
    csr_build(train, false, rating, &byu);
    csr_build(train, true, rating, &byi);
    int32_t U = byu.n, I = byi.n;
    size_t n = (size_t)byu.ptr[U];
    if (n == 0) {
        csr_free(&byu);
        csr_free(&byi);
        return drec_fail(DREC_ERR_INPUT, "no rows with both a user and an item");
    }
    double sum = 0;
    s->rmin = s->rmax = byu.r[0];
    for (size_t j = 0; j < n; j++) {
        sum += byu.r[j];
        s->rmin = DREC_MIN(s->rmin, byu.r[j]);
        s->rmax = DREC_MAX(s->rmax, byu.r[j]);
    }
    s->mu = (float)(sum / (double)n);
    if (rating) {
        s->bu = drec_calloc((size_t)U + 1, sizeof *s->bu);
        s->bi = drec_calloc((size_t)I + 1, sizeof *s->bi);
        fit_baselines(&byu, &byi, s->mu, (int)bl_epochs, bl_reg_u, bl_reg_i, s->bu, s->bi);
    }

    /* Centre the values: x = r - centre(u, i). */
    bool user_based = kind == KNN_USER;
    double *umean = drec_calloc((size_t)U + 1, sizeof *umean), *imean = drec_calloc((size_t)I + 1, sizeof *imean);
    for (int32_t u = 0; u < U; u++) {
        double t = 0;
        for (int64_t j = byu.ptr[u]; j < byu.ptr[u + 1]; j++) t += byu.r[j];
        umean[u] = byu.ptr[u + 1] > byu.ptr[u] ? t / (double)(byu.ptr[u + 1] - byu.ptr[u]) : 0;
    }
    for (int32_t i = 0; i < I; i++) {
        double t = 0;
        for (int64_t j = byi.ptr[i]; j < byi.ptr[i + 1]; j++) t += byi.r[j];
        imean[i] = byi.ptr[i + 1] > byi.ptr[i] ? t / (double)(byi.ptr[i + 1] - byi.ptr[i]) : 0;
    }
    for (int side = 0; side < 2; side++) {
        knn_csr *c = side ? &byi : &byu;
        for (int32_t e = 0; e < c->n; e++)
            for (int64_t j = c->ptr[e]; j < c->ptr[e + 1]; j++) {
                int32_t u = side ? c->idx[j] : e, i = side ? e : c->idx[j];
                double centre = 0;
                switch (sim) {
                case SIM_ADJUSTED: centre = user_based ? imean[i] : umean[u]; break;
                case SIM_PEARSON: centre = user_based ? umean[u] : imean[i]; break;
                case SIM_PEARSON_BASELINE: centre = s->mu + s->bu[u] + s->bi[i]; break;
                default: break;
                }
                c->x[j] = (float)(c->r[j] - centre);
            }
    }
    free(umean);
    free(imean);

    const knn_csr *ent = user_based ? &byu : &byi, *rat = user_based ? &byi : &byu;
    double *norm = NULL;
    if (sim == SIM_COSINE) {
        norm = drec_calloc((size_t)ent->n + 1, sizeof *norm);
        for (int32_t e = 0; e < ent->n; e++) {
            double t = 0;
            for (int64_t j = ent->ptr[e]; j < ent->ptr[e + 1]; j++) t += (double)ent->x[j] * ent->x[j];
            norm[e] = sqrt(t);
        }
    }
    s->n_ent = ent->n;
    compute_sims(ent, rat, norm, shrink, min_support, keep, !rating, &s->nb_ptr, &s->nb_idx, &s->nb_sim);
    if (rating) {
        for (size_t j = 0; j < n; j++) byu.x[j] = byi.x[j] = 1.0f;
        if (!norm) norm = drec_calloc((size_t)ent->n + 1, sizeof *norm);
        for (int32_t e = 0; e < ent->n; e++) norm[e] = sqrt((double)(ent->ptr[e + 1] - ent->ptr[e]));
        compute_sims(ent, rat, norm, shrink, min_support, k, true, &s->rk_ptr, &s->rk_idx, &s->rk_sim);
    }
    free(norm);

    if (rating) {
        /* Residuals by user (item-based) or by item (user-based). */
        const knn_csr *c = user_based ? &byi : &byu;
        s->n_res = c->n;
        s->res_ptr = drec_malloc(((size_t)c->n + 1) * sizeof *s->res_ptr);
        memcpy(s->res_ptr, c->ptr, ((size_t)c->n + 1) * sizeof *s->res_ptr);
        s->res_idx = drec_malloc(n * sizeof *s->res_idx);
        memcpy(s->res_idx, c->idx, n * sizeof *s->res_idx);
        s->res_val = drec_malloc(n * sizeof *s->res_val);
        for (int32_t e = 0; e < c->n; e++)
            for (int64_t j = c->ptr[e]; j < c->ptr[e + 1]; j++) {
                int32_t u = user_based ? c->idx[j] : e, i = user_based ? e : c->idx[j];
                s->res_val[j] = c->r[j] - (s->mu + s->bu[u] + s->bi[i]);
            }
    }
    csr_free(&byu);
    csr_free(&byi);

    if (kind == KNN_TIME) {
        /* Times aligned with the model's seen lists (the same rows, in the
         * same order), and the mean gap between a user's consecutive
         * events, which dates a history that comes without times. */
        s->half_life_s = (float)(half_life * 86400.0);
        size_t ns = (size_t)m->seen_ptr[m->n_users];
        s->ts = drec_malloc((ns ? ns : 1) * sizeof *s->ts);
        double span = 0, gaps = 0;
        for (int32_t u = 0; u < m->n_users; u++) {
            int64_t lo = train->user_ptr[u], hi = train->user_ptr[u + 1];
            for (int64_t j = lo; j < hi; j++) s->ts[j] = train->has_time ? train->ts[train->by_user[j]] : 0;
            if (hi - lo > 1) {
                span += (double)(s->ts[hi - 1] - s->ts[lo]);
                gaps += (double)(hi - lo - 1);
            }
        }
        s->gap_s = gaps > 0 ? (float)(span / gaps) : 0;
        if (!train->has_time) drec_warn("timeknn: the data has no timestamps; every interaction weighs the same");
    }
    return DREC_OK;
}

static drec_status itemknn_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    return knn_fit(m, train, p, KNN_ITEM);
}
static drec_status userknn_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    return knn_fit(m, train, p, KNN_USER);
}
static drec_status timeknn_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    return knn_fit(m, train, p, KNN_TIME);
}

/* Weight of each history entry: 1, or for timeknn 2^(-age / half-life)
 * with ages from the stored times when the history is the user's training
 * history, else from positions times the mean gap. */
static float hist_weight(const knn_state *s, const drec_model *m, const drec_query *q, int k) {
    if (s->kind != KNN_TIME) return 1.0f;
    double age;
    int32_t u = q->user;
    if (u >= 0 && u < m->n_users && q->hist == m->seen_idx + m->seen_ptr[u] &&
        q->n_hist == (int)(m->seen_ptr[u + 1] - m->seen_ptr[u]))
        age = (double)(s->ts[m->seen_ptr[u] + q->n_hist - 1] - s->ts[m->seen_ptr[u] + k]);
    else
        age = (double)(q->n_hist - 1 - k) * s->gap_s;
    return (float)exp2(-age / s->half_life_s);
}

static void knn_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const knn_state *s = m->state;
    const int64_t *ptr = s->rating ? s->rk_ptr : s->nb_ptr;
    const int32_t *idx = s->rating ? s->rk_idx : s->nb_idx;
    const float *sim = s->rating ? s->rk_sim : s->nb_sim;
    int32_t I = m->n_items;
    float *acc = items ? drec_calloc((size_t)I + 1, sizeof *acc) : out;
    if (!items) memset(out, 0, (size_t)I * sizeof *out);
    bool any = false;
    if (s->kind == KNN_USER) {
        int32_t u = q->user;
        if (u >= 0 && u < m->n_users)
            for (int64_t t = ptr[u]; t < DREC_MIN(ptr[u + 1], ptr[u] + s->k); t++) {
                int32_t v = idx[t];
                for (int64_t j = m->seen_ptr[v]; j < m->seen_ptr[v + 1]; j++)
                    if (m->seen_idx[j] >= 0) acc[m->seen_idx[j]] += sim[t];
                any = true;
            }
    } else {
        for (int h = 0; h < q->n_hist; h++) {
            int32_t i = q->hist[h];
            if (i < 0 || i >= I) continue;
            float w = hist_weight(s, m, q, h);
            for (int64_t t = ptr[i]; t < DREC_MIN(ptr[i + 1], ptr[i] + s->k); t++) acc[idx[t]] += w * sim[t];
            any = true;
        }
    }
    /* Nobody to go on (no history, or a user unknown to userknn): fall back
     * on popularity, scaled below any similarity sum. */
    if (!any)
        for (int32_t i = 0; i < I; i++) acc[i] = (float)m->item_count[i] * 1e-9f;
    if (items) {
        for (int k = 0; k < n; k++) out[k] = items[k] >= 0 && items[k] < I ? acc[items[k]] : 0;
        free(acc);
    }
}

static void knn_predict(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out) {
    const knn_state *s = m->state;
    bool user_based = s->kind == KNN_USER;
#pragma omp parallel
    {
        float *dense = drec_calloc((size_t)s->n_ent + 1, sizeof *dense);
        float *resid = drec_malloc(((size_t)s->n_ent + 1) * sizeof *resid);
        drec_scored *heap = drec_malloc(((size_t)s->k + 1) * sizeof *heap);
#pragma omp for schedule(dynamic, 64)
        for (size_t r = 0; r < n; r++) {
            int32_t u = ds->user[rows[r]], i = ds->item[rows[r]];
            bool ku = u >= 0 && u < m->n_users, ki = i >= 0 && i < m->n_items;
            if (!s->rating) {
                drec_query q = {.user = ku ? u : -1};
                if (ku) {
                    q.hist = m->seen_idx + m->seen_ptr[u];
                    q.n_hist = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u]);
                }
                float sc = 0;
                if (ki) knn_score(m, &q, &i, 1, &sc);
                out[r] = sc;
                continue;
            }
            float est = s->mu + (ku ? s->bu[u] : 0) + (ki ? s->bi[i] : 0);
            if (ku && ki) {
                /* e = the entity whose neighbours we look at, o = whose
                 * residuals (item-based: neighbours of i among u's items). */
                int32_t e = user_based ? u : i, o = user_based ? i : u;
                for (int64_t t = s->nb_ptr[e]; t < s->nb_ptr[e + 1]; t++) dense[s->nb_idx[t]] = s->nb_sim[t];
                /* The k most similar among what o has, strongest first
                 * (ties: lower id), with their residuals. */
                drec_topk tk;
                drec_topk_init(&tk, heap, s->k);
                for (int64_t j = s->res_ptr[o]; j < s->res_ptr[o + 1]; j++) {
                    int32_t x = s->res_idx[j];
                    float sim = dense[x];
                    if (sim <= 0) continue;
                    resid[x] = s->res_val[j];
                    drec_topk_push(&tk, x, sim);
                }
                for (int64_t t = s->nb_ptr[e]; t < s->nb_ptr[e + 1]; t++) dense[s->nb_idx[t]] = 0;
                int nc = drec_topk_finish(&tk);
                double num = 0, den = 0;
                for (int c = 0; c < nc; c++) {
                    num += (double)heap[c].score * resid[heap[c].id];
                    den += heap[c].score;
                }
                if (den > 0) est += (float)(num / den);
            }
            out[r] = DREC_MIN(DREC_MAX(est, s->rmin), s->rmax);
        }
        free(dense);
        free(resid);
        free(heap);
    }
}

static drec_status knn_save(const drec_model *m, drec_mf_writer *w) {
    knn_state *s = m->state;
    float *scal = s->scal;
    float v[9] = {(float)s->kind, (float)s->k, (float)s->rating, s->mu, s->rmin, s->rmax,
                  s->half_life_s, s->gap_s, (float)s->n_ent};
    memcpy(scal, v, sizeof v);
    drec_status st;
    int64_t np = (int64_t)s->n_ent + 1, L = s->nb_ptr[s->n_ent];
    if ((st = drec_mf_put_f32(w, "scalars", scal, 9, 0))) return st;
    if ((st = drec_mf_put(w, "nb_ptr", DREC_DT_I64, s->nb_ptr, 1, &np))) return st;
    if ((st = drec_mf_put_i32(w, "nb_idx", s->nb_idx, L))) return st;
    if ((st = drec_mf_put_f32(w, "nb_sim", s->nb_sim, L, 0))) return st;
    if (s->rating) {
        int64_t nr = (int64_t)s->n_res + 1, R = s->res_ptr[s->n_res];
        if ((st = drec_mf_put_f32(w, "bu", s->bu, m->n_users, 0))) return st;
        if ((st = drec_mf_put_f32(w, "bi", s->bi, m->n_items, 0))) return st;
        if ((st = drec_mf_put(w, "res_ptr", DREC_DT_I64, s->res_ptr, 1, &nr))) return st;
        if ((st = drec_mf_put_i32(w, "res_idx", s->res_idx, R))) return st;
        if ((st = drec_mf_put_f32(w, "res_val", s->res_val, R, 0))) return st;
        int64_t RK = s->rk_ptr[s->n_ent];
        if ((st = drec_mf_put(w, "rk_ptr", DREC_DT_I64, s->rk_ptr, 1, &np))) return st;
        if ((st = drec_mf_put_i32(w, "rk_idx", s->rk_idx, RK))) return st;
        if ((st = drec_mf_put_f32(w, "rk_sim", s->rk_sim, RK, 0))) return st;
    }
    if (s->kind == KNN_TIME) {
        int64_t ns = m->seen_ptr[m->n_users];
        if ((st = drec_mf_put(w, "ts", DREC_DT_I64, s->ts, 1, &ns))) return st;
    }
    return DREC_OK;
}

/* A copy of a 1-D int64 tensor of n entries. */
static drec_status get_i64(drec_mf_reader *r, const char *name, int64_t n, int64_t **out) {
    const void *data;
    drec_status st = drec_mf_get(r, name, DREC_DT_I64, 1, &n, &data);
    if (st) return st;
    *out = drec_malloc(((size_t)n + 1) * sizeof **out);
    memcpy(*out, data, (size_t)n * sizeof **out);
    return DREC_OK;
}

/* A CSR pointer array must start at 0, never decrease and end at len. */
static bool ptr_ok(const int64_t *ptr, int32_t n, int64_t len) {
    if (ptr[0] != 0 || ptr[n] != len) return false;
    for (int32_t e = 0; e < n; e++)
        if (ptr[e + 1] < ptr[e]) return false;
    return true;
}

static drec_status knn_load(drec_model *m, drec_mf_reader *r) {
    knn_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    float *scal;
    drec_status st = drec_mf_get_f32(r, "scalars", 9, 0, &scal);
    if (st) return st;
    s->kind = (int)scal[0];
    s->k = (int32_t)scal[1];
    s->rating = (int)scal[2];
    s->mu = scal[3];
    s->rmin = scal[4];
    s->rmax = scal[5];
    s->half_life_s = scal[6];
    s->gap_s = scal[7];
    s->n_ent = (int32_t)scal[8];
    free(scal);
    int want = strcmp(m->vt->name, "userknn") == 0 ? KNN_USER : strcmp(m->vt->name, "timeknn") == 0 ? KNN_TIME
                                                                                                     : KNN_ITEM;
    bool user_based = s->kind == KNN_USER;
    if (s->kind != want || s->k < 1 || s->n_ent != (user_based ? m->n_users : m->n_items) ||
        (s->rating && s->kind == KNN_TIME))
        return drec_fail(DREC_ERR_FORMAT, "%s model file: bad scalars", m->vt->name);
    if ((st = get_i64(r, "nb_ptr", (int64_t)s->n_ent + 1, &s->nb_ptr))) return st;
    int64_t L = s->nb_ptr[s->n_ent];
    if (!ptr_ok(s->nb_ptr, s->n_ent, L) || L < 0)
        return drec_fail(DREC_ERR_FORMAT, "%s model file: neighbour index is inconsistent", m->vt->name);
    if ((st = drec_mf_get_i32(r, "nb_idx", L, &s->nb_idx))) return st;
    if ((st = drec_mf_get_f32(r, "nb_sim", L, 0, &s->nb_sim))) return st;
    for (int64_t t = 0; t < L; t++)
        if (s->nb_idx[t] < 0 || s->nb_idx[t] >= s->n_ent)
            return drec_fail(DREC_ERR_FORMAT, "%s model file: neighbour id out of range", m->vt->name);
    if (s->rating) {
        s->n_res = user_based ? m->n_items : m->n_users;
        int32_t n_other = user_based ? m->n_users : m->n_items;
        if ((st = drec_mf_get_f32(r, "bu", m->n_users, 0, &s->bu))) return st;
        if ((st = drec_mf_get_f32(r, "bi", m->n_items, 0, &s->bi))) return st;
        if ((st = get_i64(r, "res_ptr", (int64_t)s->n_res + 1, &s->res_ptr))) return st;
        int64_t R = s->res_ptr[s->n_res];
        if (!ptr_ok(s->res_ptr, s->n_res, R) || R < 0)
            return drec_fail(DREC_ERR_FORMAT, "%s model file: rating index is inconsistent", m->vt->name);
        if ((st = drec_mf_get_i32(r, "res_idx", R, &s->res_idx))) return st;
        if ((st = drec_mf_get_f32(r, "res_val", R, 0, &s->res_val))) return st;
        for (int64_t t = 0; t < R; t++)
            if (s->res_idx[t] < 0 || s->res_idx[t] >= n_other)
                return drec_fail(DREC_ERR_FORMAT, "%s model file: rating index out of range", m->vt->name);
        if ((st = get_i64(r, "rk_ptr", (int64_t)s->n_ent + 1, &s->rk_ptr))) return st;
        int64_t RK = s->rk_ptr[s->n_ent];
        if (!ptr_ok(s->rk_ptr, s->n_ent, RK) || RK < 0)
            return drec_fail(DREC_ERR_FORMAT, "%s model file: neighbour index is inconsistent", m->vt->name);
        if ((st = drec_mf_get_i32(r, "rk_idx", RK, &s->rk_idx))) return st;
        if ((st = drec_mf_get_f32(r, "rk_sim", RK, 0, &s->rk_sim))) return st;
        for (int64_t t = 0; t < RK; t++)
            if (s->rk_idx[t] < 0 || s->rk_idx[t] >= s->n_ent)
                return drec_fail(DREC_ERR_FORMAT, "%s model file: neighbour id out of range", m->vt->name);
    }
    if (s->kind == KNN_TIME) {
        if (!(s->half_life_s > 0)) return drec_fail(DREC_ERR_FORMAT, "timeknn model file: bad half-life");
        if ((st = get_i64(r, "ts", m->seen_ptr[m->n_users], &s->ts))) return st;
    }
    return DREC_OK;
}

float drec_knn_similarity(const drec_model *m, int32_t a, int32_t b) {
    if (!m || !m->state || (m->vt->fit != itemknn_fit && m->vt->fit != userknn_fit && m->vt->fit != timeknn_fit))
        return 0;
    const knn_state *s = m->state;
    if (a < 0 || a >= s->n_ent) return 0;
    for (int64_t t = s->nb_ptr[a]; t < s->nb_ptr[a + 1]; t++)
        if (s->nb_idx[t] == b) return s->nb_sim[t];
    return 0;
}

static void knn_free(drec_model *m) {
    knn_state_free(m->state);
    m->state = NULL;
}

const drec_model_vt drec_itemknn_vt = {
    .name = "itemknn",
    .summary = "item-based kNN (cosine/adjusted/pearson/pearson_baseline, shrinkage; KNNBaseline ratings)",
    .caps = DREC_CAP_RATING | DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = itemknn_fit,
    .score = knn_score,
    .predict = knn_predict,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free,
};

const drec_model_vt drec_userknn_vt = {
    .name = "userknn",
    .summary = "user-based kNN (cosine/adjusted/pearson/pearson_baseline, shrinkage; KNNBaseline ratings)",
    .caps = DREC_CAP_RATING | DREC_CAP_RANK,
    .fit = userknn_fit,
    .score = knn_score,
    .predict = knn_predict,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free,
};

const drec_model_vt drec_timeknn_vt = {
    .name = "timeknn",
    .summary = "item-based kNN over a time-decayed user profile (--half_life days, default 30)",
    .caps = DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = timeknn_fit,
    .score = knn_score,
    .predict = knn_predict,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free,
};
