/*
 * evaluate.c — the evaluation engine: builds the units of a test part
 * (users, rows or session predictions), scores them in parallel with one
 * scratch area per thread, and turns per-unit values into metrics and
 * bootstrap intervals.  Each unit writes only its own slots, so results do
 * not depend on the thread count.
 */
#define _GNU_SOURCE /* qsort_r */
#include "evaluate.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

void drec_eval_split_free(drec_eval_split *s) {
    if (!s) return;
    if (s->own_train) drec_dataset_free(s->train);
    if (s->own_test) drec_dataset_free(s->test);
    free(s->own_neg_ptr);
    free(s->own_neg_idx);
    memset(s, 0, sizeof *s);
}

void drec_eval_result_free(drec_eval_result *r) {
    if (!r) return;
    for (int j = 0; j < r->n_metrics; j++) free(r->m[j].per);
    free(r->lists);
    free(r->rec_count);
    memset(r, 0, sizeof *r);
}

const drec_metric_result *drec_eval_find(const drec_eval_result *r, const char *name) {
    for (int j = 0; j < r->n_metrics; j++)
        if (strcmp(r->m[j].name, name) == 0) return &r->m[j];
    return NULL;
}

static bool is_rank_metric(drec_metric_kind k) { return k >= DREC_M_HR && k <= DREC_M_MAP; }
static bool is_list_metric(drec_metric_kind k) { return k >= DREC_M_COVERAGE && k <= DREC_M_ARP; }

/* Scores items (or all items) for a user of the test part: a user past
 * the model's users is scored cold (user -1, no history). */
static void score_items(const drec_model *m, int32_t u, const int32_t *items, int n, float *out) {
    if (u >= 0 && u < m->n_users) {
        drec_model_score_user(m, u, items, n, out);
    } else {
        drec_query q = {.user = -1};
        m->vt->score(m, &q, items, n, out);
    }
}

static const int32_t *seen_of(const drec_model *m, int32_t u, int64_t *n) {
    if (u < 0 || u >= m->n_users) {
        *n = 0;
        return NULL;
    }
    *n = m->seen_ptr[u + 1] - m->seen_ptr[u];
    return m->seen_idx + m->seen_ptr[u];
}

/* ---- diversity: where item similarity comes from ---------------------- */

typedef struct sim_ctx {
    const drec_model *m;
    const float *const *vec; /* (I) item vectors */
    double *norm;            /* (I) */
    int dim;
    const drec_attrs *attrs; /* item attributes in model ids */
    double *attr_norm;
    char *const *cat;        /* model item categories */
} sim_ctx;

static double sim_vec(int32_t a, int32_t b, void *p) {
    const sim_ctx *c = p;
    const float *x = c->vec[a], *y = c->vec[b];
    double dot = 0;
    for (int d = 0; d < c->dim; d++) dot += (double)x[d] * y[d];
    double den = c->norm[a] * c->norm[b];
    return den > 0 ? dot / den : 0;
}

static double sim_attr(int32_t a, int32_t b, void *p) {
    const sim_ctx *c = p;
    const drec_attrs *t = c->attrs;
    int64_t i = t->ptr[a], ie = t->ptr[a + 1], j = t->ptr[b], je = t->ptr[b + 1];
    double dot = 0;
    while (i < ie && j < je) {
        if (t->idx[i] == t->idx[j])
            dot += (double)t->val[i++] * t->val[j++];
        else if (t->idx[i] < t->idx[j])
            i++;
        else
            j++;
    }
    double den = c->attr_norm[a] * c->attr_norm[b];
    return den > 0 ? dot / den : 0;
}

static double sim_cat(int32_t a, int32_t b, void *p) {
    const sim_ctx *c = p;
    return c->cat[a] && c->cat[b] && strcmp(c->cat[a], c->cat[b]) == 0;
}

/* Picks the similarity for diversity@K; NULL when there is none. */
static double (*sim_setup(sim_ctx *c, const drec_model *m, const drec_dataset *test))(int32_t, int32_t, void *) {
    memset(c, 0, sizeof *c);
    c->m = m;
    if (m->vt->item_vector && m->n_items > 0) {
        const float **vec = drec_malloc((size_t)m->n_items * sizeof *vec);
        c->norm = drec_malloc((size_t)m->n_items * sizeof *c->norm);
        for (int32_t i = 0; i < m->n_items; i++) {
            int dim = 0;
            vec[i] = m->vt->item_vector(m, i, &dim);
            c->dim = dim;
            double s = 0;
            for (int d = 0; d < dim; d++) s += (double)vec[i][d] * vec[i][d];
            c->norm[i] = sqrt(s);
        }
        c->vec = vec;
        return sim_vec;
    }
    const drec_attrs *t = test ? &test->side->item_attrs : NULL;
    if (t && t->ptr && t->n_entities == m->n_items && t->ptr[t->n_entities] > 0) {
        c->attrs = t;
        c->attr_norm = drec_malloc((size_t)m->n_items * sizeof *c->attr_norm);
        for (int32_t i = 0; i < m->n_items; i++) {
            double s = 0;
            for (int64_t k = t->ptr[i]; k < t->ptr[i + 1]; k++) s += (double)t->val[k] * t->val[k];
            c->attr_norm[i] = sqrt(s);
        }
        return sim_attr;
    }
    if (m->item_category) {
        for (int32_t i = 0; i < m->n_items; i++)
            if (m->item_category[i]) {
                c->cat = m->item_category;
                return sim_cat;
            }
    }
    return NULL;
}

static void sim_free(sim_ctx *c) {
    free((void *)c->vec);
    free(c->norm);
    free(c->attr_norm);
}

/* ---- units ----------------------------------------------------------------- */

typedef struct units {
    size_t n;
    int32_t *user;   /* (n) test user (session) id */
    int64_t *a, *b;  /* (n) SAMPLED: test row in a; FULL: rel[a..b); SESSION: prefix end b, session start a */
    int32_t *rel;    /* FULL: relevant items */
    size_t n_rel, cap_rel;
} units;

static void units_push(units *u, size_t *cap, int32_t user, int64_t a, int64_t b) {
    if (u->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        u->user = drec_realloc(u->user, *cap * sizeof *u->user);
        u->a = drec_realloc(u->a, *cap * sizeof *u->a);
        u->b = drec_realloc(u->b, *cap * sizeof *u->b);
    }
    u->user[u->n] = user;
    u->a[u->n] = a;
    u->b[u->n] = b;
    u->n++;
}

static void units_free(units *u) {
    free(u->user);
    free(u->a);
    free(u->b);
    free(u->rel);
}

/* Builds the units of the mode; counts skipped users and dropped rows. */
static void build_units(const drec_model *m, const drec_eval_split *s, drec_eval_mode mode, units *U,
                        drec_eval_result *res) {
    const drec_dataset *te = s->test;
    size_t cap = 0;
    uint8_t *mark = drec_calloc((size_t)m->n_items + 1, 1);
    bool *has_unit = drec_calloc((size_t)m->n_users + 1, sizeof *has_unit);
    for (int32_t u = 0; u < te->n_users; u++) {
        int64_t a = te->user_ptr[u], b = te->user_ptr[u + 1];
        if (a == b) continue;
        if (mode == DREC_EVAL_SESSION) {
            for (int64_t t = a + 1; t < b; t++) {
                int32_t it = te->user_items[t];
                if (it < 0 || it >= m->n_items || m->item_count[it] == 0)
                    res->n_dropped++;
                else
                    units_push(U, &cap, u, a, t);
            }
            continue;
        }
        int64_t ns;
        const int32_t *seen = seen_of(m, u, &ns);
        for (int64_t k = 0; k < ns; k++) mark[seen[k]] = 1;
        size_t before = U->n;
        if (mode == DREC_EVAL_SAMPLED) {
            for (int64_t k = a; k < b; k++) {
                int32_t it = te->user_items[k];
                if (it < 0 || it >= m->n_items || mark[it])
                    res->n_dropped++;
                else
                    units_push(U, &cap, u, (int64_t)te->by_user[k], 0);
            }
        } else {
            size_t r0 = U->n_rel;
            for (int64_t k = a; k < b; k++) {
                int32_t it = te->user_items[k];
                if (it < 0 || it >= m->n_items || mark[it] == 1) {
                    res->n_dropped++;
                    continue;
                }
                if (mark[it] == 2) continue; /* the same item twice in test */
                mark[it] = 2;
                DREC_GROW(U->rel, U->cap_rel, U->n_rel + 1);
                U->rel[U->n_rel++] = it;
            }
            for (size_t k = r0; k < U->n_rel; k++) mark[U->rel[k]] = 0;
            if (U->n_rel > r0) units_push(U, &cap, u, (int64_t)r0, (int64_t)U->n_rel);
        }
        for (int64_t k = 0; k < ns; k++) mark[seen[k]] = 0;
        if (U->n > before && u < m->n_users) has_unit[u] = true;
    }
    if (mode != DREC_EVAL_SESSION)
        for (int32_t u = 0; u < m->n_users; u++)
            if (!has_unit[u] && m->seen_ptr[u + 1] > m->seen_ptr[u]) res->n_skipped++;
    free(mark);
    free(has_unit);
}

static void units_stride(units *U, size_t max) {
    if (!max || U->n <= max) return;
    for (size_t j = 0; j < max; j++) {
        size_t x = (size_t)((double)j * (double)U->n / (double)max);
        U->user[j] = U->user[x];
        U->a[j] = U->a[x];
        U->b[j] = U->b[x];
    }
    U->n = max;
}

/* ---- the per-unit work ------------------------------------------------------- */

typedef struct scratch {
    float *scores;     /* (I) or (1 + negatives) */
    uint8_t *mark;     /* (I) 1 = excluded, 2 = relevant, 3 = drawn */
    int32_t *cand;     /* (1 + negatives) */
    int64_t *ranks;    /* (max relevant) */
    float *rel_s;      /* (max relevant) */
    float *asc;        /* (max relevant) */
    int32_t *order;    /* (max relevant) */
    int64_t *hist;     /* (max relevant + 1) */
    drec_scored *top;  /* (list_k) */
} scratch;

typedef struct job {
    const drec_model *m;
    const drec_eval_split *s;
    const drec_eval_opts *o;
    const units *U;
    int list_k;
    int n_neg_max;
    int32_t *lists;      /* (n, list_k) */
    double **per;        /* per metric (n) or NULL */
    const drec_metric *metrics;
    int n_metrics;
    double (*sim)(int32_t, int32_t, void *);
    sim_ctx *simc;
    double n_train_users;
} job;

static int cmp_rel(const void *x, const void *y, void *ctx) {
    const float *s = ctx;
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    if (s[a] != s[b]) return s[a] > s[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static void finish_list(const job *J, size_t x, drec_topk *t) {
    int n = drec_topk_finish(t);
    int32_t *L = J->lists + x * (size_t)J->list_k;
    for (int j = 0; j < J->list_k; j++) L[j] = j < n ? t->heap[j].id : -1;
}

static void unit_metrics(const job *J, size_t x, const int64_t *ranks, int n_rel, double auc) {
    const int32_t *L = J->lists + x * (size_t)J->list_k;
    for (int mi = 0; mi < J->n_metrics; mi++) {
        if (!J->per[mi]) continue;
        const drec_metric *me = &J->metrics[mi];
        double v = NAN;
        if (is_rank_metric(me->kind))
            v = drec_rank_metric(me->kind, me->k, ranks, n_rel);
        else if (me->kind == DREC_M_AUC)
            v = auc;
        else if (is_list_metric(me->kind)) {
            int n = 0;
            while (n < me->k && n < J->list_k && L[n] >= 0) n++;
            if (me->kind == DREC_M_NOVELTY)
                v = drec_list_novelty(L, n, J->m->item_count, J->n_train_users);
            else if (me->kind == DREC_M_ARP)
                v = drec_list_arp(L, n, J->m->item_count);
            else if (me->kind == DREC_M_DIVERSITY && J->sim)
                v = drec_list_diversity(L, n, J->sim, J->simc);
        }
        J->per[mi][x] = v;
    }
}

static void run_sampled(const job *J, scratch *S, size_t x) {
    const drec_model *m = J->m;
    const drec_dataset *te = J->s->test;
    int32_t u = J->U->user[x];
    size_t row = (size_t)J->U->a[x];
    int32_t pos = te->item[row];
    int n = 0;
    S->cand[n++] = pos;
    if (J->s->neg_ptr) {
        for (int64_t k = J->s->neg_ptr[row]; k < J->s->neg_ptr[row + 1]; k++) {
            int32_t it = J->s->neg_idx[k];
            if (it >= 0 && it < m->n_items && it != pos) S->cand[n++] = it;
        }
    } else {
        /* Items the user never touched: not in training, not in test. */
        int64_t ns;
        const int32_t *seen = seen_of(m, u, &ns);
        int64_t n_marked = 0;
        for (int64_t k = 0; k < ns; k++) n_marked += !S->mark[seen[k]], S->mark[seen[k]] = 1;
        for (int64_t k = te->user_ptr[u]; k < te->user_ptr[u + 1]; k++) {
            int32_t it = te->user_items[k];
            if (it >= 0 && it < m->n_items) n_marked += !S->mark[it], S->mark[it] = 1;
        }
        int64_t avail = m->n_items - n_marked;
        int want = J->o->n_sampled;
        drec_rng rng;
        drec_rng_seed2(&rng, J->o->seed, (uint64_t)row);
        if (avail <= 2 * (int64_t)want) {
            int first = n;
            for (int32_t i = 0; i < m->n_items; i++)
                if (!S->mark[i]) S->cand[n++] = i;
            drec_rng_shuffle_i32(&rng, S->cand + first, (size_t)(n - first));
            if (n - first > want) n = first + want;
        } else {
            while (n < 1 + want) {
                int32_t i = (int32_t)drec_rng_below(&rng, (uint32_t)m->n_items);
                if (S->mark[i]) continue;
                S->mark[i] = 3;
                S->cand[n++] = i;
            }
        }
        for (int k = 1; k < n; k++) S->mark[S->cand[k]] = 0;
        for (int64_t k = 0; k < ns; k++) S->mark[seen[k]] = 0;
        for (int64_t k = te->user_ptr[u]; k < te->user_ptr[u + 1]; k++) {
            int32_t it = te->user_items[k];
            if (it >= 0 && it < m->n_items) S->mark[it] = 0;
        }
    }
    score_items(m, u, S->cand, n, S->scores);
    float sp = S->scores[0];
    int64_t rank = drec_rank_of(sp, S->scores + 1, (size_t)(n - 1));
    double auc = n > 1 ? (double)(n - rank) / (double)(n - 1) : NAN;
    if (J->list_k > 0) {
        drec_topk t;
        drec_topk_init(&t, S->top, J->list_k);
        for (int k = 0; k < n; k++)
            if (!isnan(S->scores[k])) drec_topk_push(&t, S->cand[k], S->scores[k]);
        finish_list(J, x, &t);
    }
    unit_metrics(J, x, &rank, 1, auc);
}

static void run_full(const job *J, scratch *S, size_t x) {
    const drec_model *m = J->m;
    int32_t u = J->U->user[x];
    const int32_t *rel = J->U->rel + J->U->a[x];
    int R = (int)(J->U->b[x] - J->U->a[x]);
    float *sc = S->scores;
    score_items(m, u, NULL, 0, sc);
    int64_t ns;
    const int32_t *seen = seen_of(m, u, &ns);
    for (int64_t k = 0; k < ns; k++) S->mark[seen[k]] = 1;
    for (int j = 0; j < R; j++) {
        S->mark[rel[j]] = 2;
        float v = sc[rel[j]];
        S->rel_s[j] = isnan(v) ? -INFINITY : v;
        S->order[j] = j;
    }
    /* Relevant items best-first.  Which of two equally scored relevant
     * items goes first does not change any metric (they take the same two
     * ranks either way), so the order's tie-break is by position. */
    const float *key = S->rel_s;
    qsort_r(S->order, (size_t)R, sizeof *S->order, cmp_rel, (void *)key);
    /* Ascending relevant scores for the >= counts. */
    float *asc = S->asc;
    for (int j = 0; j < R; j++) asc[j] = key[S->order[R - 1 - j]];
    for (int j = 0; j <= R; j++) S->hist[j] = 0;
    int64_t n_cand = 0;
    drec_topk t;
    if (J->list_k > 0) drec_topk_init(&t, S->top, J->list_k);
    /* One pass over the items.  Items come in increasing id, so a score no
     * better than the worst kept in a full top-K can never enter it (an
     * equal score loses on id): most items skip the heap. */
    float floor_s = -INFINITY;
    bool full = false;
    for (int32_t i = 0; i < m->n_items; i++) {
        uint8_t mk = S->mark[i];
        if (mk == 1) continue;
        float v = sc[i];
        if (J->list_k > 0 && !isnan(v) && (!full || v > floor_s)) {
            drec_topk_push(&t, i, v);
            if (t.n == t.k) {
                full = true;
                floor_s = t.heap[0].score;
            }
        }
        if (mk == 2) continue;
        n_cand++;
        if (isnan(v)) v = INFINITY; /* an unscored item counts against */
        if (R == 1) {
            S->hist[asc[0] <= v]++;
            continue;
        }
        /* p = number of relevant scores <= v */
        int lo = 0, hi = R;
        while (lo < hi) {
            int mid = (lo + hi) >> 1;
            if (asc[mid] <= v)
                lo = mid + 1;
            else
                hi = mid;
        }
        S->hist[lo]++;
    }
    /* ge[a] (ascending index a) = #candidates with score >= asc[a] = sum_{p > a} hist[p] */
    int64_t acc = 0;
    double auc = 0;
    for (int a = R - 1; a >= 0; a--) {
        acc += S->hist[a + 1];
        int j = R - 1 - a; /* position in best-first order */
        S->ranks[j] = 1 + acc + j;
        auc += n_cand > 0 ? (double)(n_cand - acc) / (double)n_cand : NAN;
    }
    for (int64_t k = 0; k < ns; k++) S->mark[seen[k]] = 0;
    for (int j = 0; j < R; j++) S->mark[rel[j]] = 0;
    if (J->list_k > 0) finish_list(J, x, &t);
    unit_metrics(J, x, S->ranks, R, auc / R);
}

static void run_session(const job *J, scratch *S, size_t x) {
    const drec_model *m = J->m;
    const drec_dataset *te = J->s->test;
    int64_t a = J->U->a[x], t_end = J->U->b[x];
    int32_t target = te->user_items[t_end];
    drec_query q = {.user = -1, .hist = te->user_items + a, .n_hist = (int)(t_end - a)};
    float *sc = S->scores;
    m->vt->score(m, &q, NULL, 0, sc);
    float s = sc[target];
    int64_t rank = 1;
    drec_topk t;
    if (J->list_k > 0) drec_topk_init(&t, S->top, J->list_k);
    for (int32_t i = 0; i < m->n_items; i++) {
        if (J->list_k > 0 && !isnan(sc[i])) drec_topk_push(&t, i, sc[i]);
        if (i != target) rank += isnan(s) || !(sc[i] < s);
    }
    if (J->list_k > 0) finish_list(J, x, &t);
    double auc = m->n_items > 1 ? (double)(m->n_items - rank) / (double)(m->n_items - 1) : NAN;
    unit_metrics(J, x, &rank, 1, auc);
}

/* ---- row metrics ------------------------------------------------------------- */

static drec_status row_metrics(const drec_model *m, const drec_eval_split *s, const drec_eval_opts *o,
                               drec_eval_result *res) {
    const drec_dataset *te = s->test;
    bool ctr = te->kind == DREC_DS_CTR;
    size_t *rows = drec_malloc((te->n ? te->n : 1) * sizeof *rows);
    size_t n = 0;
    for (size_t r = 0; r < te->n; r++) {
        if (!ctr && !m->vt->predict && (te->item[r] < 0 || te->item[r] >= m->n_items)) continue;
        rows[n++] = r;
    }
    if (n == 0) {
        free(rows);
        return drec_fail(DREC_ERR_INPUT, "no test rows the model can score");
    }
    float *p = drec_malloc(n * sizeof *p), *y = drec_malloc(n * sizeof *y);
    if (m->vt->predict) {
        m->vt->predict(m, te, rows, n, p);
    } else if (ctr) {
        free(rows), free(p), free(y);
        return drec_fail(DREC_ERR_UNSUPPORTED, "model %s cannot predict click probabilities of feature rows",
                         m->vt->name);
    } else {
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) score_items(m, te->user[rows[j]], &te->item[rows[j]], 1, &p[j]);
    }
    for (size_t j = 0; j < n; j++) y[j] = te->rating[rows[j]];
    for (int mi = 0; mi < res->n_metrics; mi++) {
        drec_metric_kind k = res->m[mi].metric.kind;
        if (k != DREC_M_LOGLOSS && !(k == DREC_M_AUC && o->mode == DREC_EVAL_ROWS)) continue;
        for (size_t j = 0; j < n; j++)
            if (!(y[j] >= 0 && y[j] <= 1)) {
                float bad = y[j];
                free(rows), free(p), free(y);
                return drec_fail(DREC_ERR_INPUT,
                                 "%s needs labels in [0, 1] and this data has %g (ratings?): use a ranking "
                                 "protocol, or rmse/mae",
                                 res->m[mi].name, (double)bad);
            }
    }
    res->n_rows = n;
    for (int mi = 0; mi < res->n_metrics; mi++) {
        drec_metric_result *r = &res->m[mi];
        switch (r->metric.kind) {
        case DREC_M_RMSE:
        case DREC_M_MAE:
        case DREC_M_LOGLOSS:
            /* A ranking score (a popularity count, a dot product) is not a
             * rating or a probability: report "not applicable", not a
             * meaningless error. */
            if (!m->vt->predict && !(m->vt->caps & DREC_CAP_RATING)) {
                snprintf(res->note, sizeof res->note, "%s is not applicable: %s ranks items, it does not predict %s",
                         r->name, m->vt->name, r->metric.kind == DREC_M_LOGLOSS ? "probabilities" : "ratings");
                break;
            }
            r->per = drec_malloc(n * sizeof *r->per);
            r->n_per = n;
            r->stat = r->metric.kind == DREC_M_RMSE ? DREC_STAT_SQRT_MEAN : DREC_STAT_MEAN;
            for (size_t j = 0; j < n; j++) {
                double d = (double)p[j] - y[j];
                r->per[j] = r->metric.kind == DREC_M_RMSE  ? d * d
                            : r->metric.kind == DREC_M_MAE ? fabs(d)
                                                           : drec_logloss(p[j], y[j]);
            }
            break;
        case DREC_M_AUC:
            if (o->mode == DREC_EVAL_ROWS) r->value = drec_auc(p, y, n);
            break;
        default: break;
        }
    }
    free(rows);
    free(p);
    free(y);
    return DREC_OK;
}

/* ---- the whole evaluation ---------------------------------------------------- */

drec_status drec_evaluate(const drec_model *m, const drec_eval_split *s, const drec_eval_opts *o,
                          drec_eval_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = drec_now();
    if (!s->test || s->test->n == 0) return drec_fail(DREC_ERR_INPUT, "the test part has no rows");
    if (o->n_metrics <= 0 || o->n_metrics > DREC_MAX_METRICS)
        return drec_fail(DREC_ERR_USAGE, "between 1 and %d metrics, please", DREC_MAX_METRICS);
    res->n_items = m->n_items;
    res->n_metrics = o->n_metrics;
    bool any_rank = false, any_row = false;
    for (int j = 0; j < o->n_metrics; j++) {
        drec_metric_result *r = &res->m[j];
        r->metric = o->metrics[j];
        drec_metric_name(&r->metric, r->name, sizeof r->name);
        r->value = r->ci_lo = r->ci_hi = NAN;
        drec_metric_kind k = r->metric.kind;
        if (k == DREC_M_RMSE || k == DREC_M_MAE || k == DREC_M_LOGLOSS || (k == DREC_M_AUC && o->mode == DREC_EVAL_ROWS))
            any_row = true;
        else {
            any_rank = true;
            if (drec_metric_has_k(k)) res->list_k = DREC_MAX(res->list_k, r->metric.k);
        }
    }
    if (any_rank && o->mode == DREC_EVAL_ROWS) {
        for (int j = 0; j < o->n_metrics; j++)
            if (!(res->m[j].metric.kind <= DREC_M_LOGLOSS))
                return drec_fail(DREC_ERR_USAGE, "metric %s needs a ranking protocol", res->m[j].name);
    }
    if (any_row) {
        drec_status st = row_metrics(m, s, o, res);
        if (st) {
            drec_eval_result_free(res);
            return st;
        }
    }
    if (any_rank) {
        units U = {0};
        build_units(m, s, o->mode, &U, res);
        units_stride(&U, o->max_units);
        res->n_units = U.n;
        res->unit = o->mode == DREC_EVAL_SESSION ? "predictions" : o->mode == DREC_EVAL_SAMPLED ? "rows" : "users";
        if (o->mode == DREC_EVAL_SAMPLED) {
            /* One test row per user is the norm there: say users then. */
            bool one = true;
            for (size_t x = 1; x < U.n && one; x++) one = U.user[x] != U.user[x - 1];
            if (one) res->unit = "users";
        }
        sim_ctx simc;
        double (*sim)(int32_t, int32_t, void *) = sim_setup(&simc, m, s->test);
        job J = {.m = m, .s = s, .o = o, .U = &U, .list_k = res->list_k, .metrics = o->metrics,
                 .n_metrics = o->n_metrics, .sim = sim, .simc = &simc};
        double *per[DREC_MAX_METRICS] = {0};
        for (int j = 0; j < o->n_metrics; j++) {
            drec_metric_kind k = res->m[j].metric.kind;
            if (is_rank_metric(k) || (k == DREC_M_AUC && o->mode != DREC_EVAL_ROWS) || k == DREC_M_NOVELTY ||
                k == DREC_M_ARP || k == DREC_M_DIVERSITY)
                per[j] = drec_malloc((U.n ? U.n : 1) * sizeof *per[j]);
        }
        J.per = per;
        J.lists = drec_malloc((U.n ? U.n : 1) * (size_t)(res->list_k ? res->list_k : 1) * sizeof *J.lists);
        for (int32_t u = 0; u < m->n_users; u++) J.n_train_users += m->seen_ptr[u + 1] > m->seen_ptr[u];
        /* Largest candidate and relevant sets, for the scratch sizes. */
        int max_cand = m->n_items + 1, max_rel = 1;
        if (o->mode == DREC_EVAL_SAMPLED) {
            max_cand = 1 + o->n_sampled;
            if (s->neg_ptr)
                for (size_t r = 0; r < s->test->n; r++)
                    max_cand = DREC_MAX(max_cand, 1 + (int)(s->neg_ptr[r + 1] - s->neg_ptr[r]));
            max_cand = DREC_MIN(max_cand, m->n_items + 1);
        }
        if (o->mode == DREC_EVAL_FULL)
            for (size_t x = 0; x < U.n; x++) max_rel = DREC_MAX(max_rel, (int)(U.b[x] - U.a[x]));
        /* Small evaluations (validation after each epoch, sampled ranking on
         * small data) run on one thread: waking a team costs more than the
         * work, and far more when the cores are busy. */
        double work = (double)U.n * (o->mode == DREC_EVAL_SAMPLED ? max_cand : m->n_items);
#pragma omp parallel if (work > (double)(1 << 20))
        {
            scratch S;
            S.scores = drec_malloc((size_t)DREC_MAX(max_cand, m->n_items) * sizeof *S.scores);
            S.mark = drec_calloc((size_t)m->n_items + 1, 1);
            S.cand = drec_malloc((size_t)max_cand * sizeof *S.cand);
            S.ranks = drec_malloc((size_t)max_rel * sizeof *S.ranks);
            S.rel_s = drec_malloc((size_t)max_rel * sizeof *S.rel_s);
            S.asc = drec_malloc((size_t)max_rel * sizeof *S.asc);
            S.order = drec_malloc((size_t)max_rel * sizeof *S.order);
            S.hist = drec_malloc(((size_t)max_rel + 1) * sizeof *S.hist);
            S.top = drec_malloc((size_t)(res->list_k ? res->list_k : 1) * sizeof *S.top);
#pragma omp for schedule(dynamic, 8)
            for (size_t x = 0; x < U.n; x++) {
                if (o->mode == DREC_EVAL_SAMPLED)
                    run_sampled(&J, &S, x);
                else if (o->mode == DREC_EVAL_FULL)
                    run_full(&J, &S, x);
                else
                    run_session(&J, &S, x);
            }
            free(S.scores);
            free(S.mark);
            free(S.cand);
            free(S.ranks);
            free(S.rel_s);
            free(S.asc);
            free(S.order);
            free(S.hist);
            free(S.top);
        }
        /* Lists -> coverage and how often each item is recommended. */
        res->rec_count = drec_calloc((size_t)m->n_items + 1, sizeof *res->rec_count);
        for (int j = 0; j < o->n_metrics; j++) {
            drec_metric_result *r = &res->m[j];
            if (per[j]) {
                r->per = per[j];
                r->n_per = U.n;
                r->stat = DREC_STAT_MEAN;
            }
            if (r->metric.kind == DREC_M_COVERAGE) {
                uint8_t *hit = drec_calloc((size_t)m->n_items + 1, 1);
                size_t covered = 0;
                for (size_t x = 0; x < U.n; x++)
                    for (int k = 0; k < r->metric.k && k < res->list_k; k++) {
                        int32_t i = J.lists[x * (size_t)res->list_k + k];
                        if (i >= 0 && !hit[i]) hit[i] = 1, covered++;
                    }
                r->value = m->n_items ? (double)covered / m->n_items : NAN;
                free(hit);
            }
            if (r->metric.kind == DREC_M_DIVERSITY && !sim)
                snprintf(res->note, sizeof res->note,
                         "diversity needs item embeddings, item attributes or categories; %s has none here",
                         m->vt->name);
        }
        for (size_t x = 0; x < U.n; x++)
            for (int k = 0; k < res->list_k; k++) {
                int32_t i = J.lists[x * (size_t)res->list_k + k];
                if (i >= 0) res->rec_count[i]++;
            }
        if (o->keep_lists)
            res->lists = J.lists;
        else
            free(J.lists);
        sim_free(&simc);
        units_free(&U);
    }
    res->seconds = drec_now() - t0; /* the intervals below are not evaluation time */
    /* Per-unit values -> metric values and intervals. */
    for (int j = 0; j < res->n_metrics; j++) {
        drec_metric_result *r = &res->m[j];
        if (!r->per) continue;
        double sum = 0;
        size_t cnt = 0;
        for (size_t x = 0; x < r->n_per; x++)
            if (!isnan(r->per[x])) sum += r->per[x], cnt++;
        r->value = cnt ? sum / (double)cnt : NAN;
        if (r->stat == DREC_STAT_SQRT_MEAN && cnt) r->value = sqrt(r->value);
        if (o->bootstrap > 0)
            drec_bootstrap_ci(r->per, NULL, r->n_per, r->stat, o->bootstrap, 0.95, o->seed + 7919u * (uint64_t)j,
                              &r->ci_lo, &r->ci_hi);
    }
    return DREC_OK;
}

/* ---- translating separately loaded test data into a model's ids ---------- */

drec_status drec_eval_split_to_model(const drec_model *m, const drec_dataset *test, const int64_t *neg_ptr,
                                     const int32_t *neg_idx, drec_eval_split *out, size_t *dropped) {
    memset(out, 0, sizeof *out);
    *dropped = 0;
    drec_dataset *t = drec_ds_new(test->kind, test->side->source);
    /* The model's ids first, in order, so dense ids coincide. */
    for (int32_t u = 0; u < m->n_users; u++) {
        const char *nm = drec_strmap_name(&m->users, u);
        drec_ds_user(t, nm, strlen(nm));
    }
    for (int32_t i = 0; i < m->n_items; i++) {
        const char *nm = drec_strmap_name(&m->items, i);
        drec_ds_item(t, nm, strlen(nm));
    }
    int32_t *imap = drec_malloc(((size_t)test->n_items + 1) * sizeof *imap);
    for (int32_t i = 0; i < test->n_items; i++) {
        const char *nm = drec_dataset_item_name(test, i);
        imap[i] = drec_strmap_find(&m->items, nm, strlen(nm));
    }
    int64_t *nptr = neg_ptr ? drec_malloc((test->n + 1) * sizeof *nptr) : NULL;
    int32_t *nidx = neg_ptr ? drec_malloc(((size_t)neg_ptr[test->n] + 1) * sizeof *nidx) : NULL;
    if (nptr) nptr[0] = 0;
    for (size_t r = 0; r < test->n; r++) {
        int32_t it = test->item[r] >= 0 ? imap[test->item[r]] : -1;
        if (test->kind != DREC_DS_CTR && it < 0) {
            (*dropped)++;
            continue;
        }
        int32_t u = -1;
        if (test->user[r] >= 0) {
            const char *nm = drec_dataset_user_name(test, test->user[r]);
            u = drec_ds_user(t, nm, strlen(nm));
        }
        size_t nr = drec_ds_push(t, u, it, test->rating[r], test->ts[r]);
        if (test->feat_ptr)
            for (int64_t k = test->feat_ptr[r]; k < test->feat_ptr[r + 1]; k++)
                drec_ds_push_feature(t, test->feat_idx[k], test->feat_val[k]);
        if (nptr) {
            int64_t w = nptr[nr];
            for (int64_t k = neg_ptr[r]; k < neg_ptr[r + 1]; k++) {
                int32_t j = neg_idx[k] >= 0 ? imap[neg_idx[k]] : -1;
                if (j >= 0) nidx[w++] = j;
            }
            nptr[nr + 1] = w;
        }
    }
    t->has_rating = test->has_rating;
    t->has_time = test->has_time;
    /* Item attributes too, in the model's ids (diversity@K uses them). */
    const drec_attrs *ia = &test->side->item_attrs;
    if (ia->ptr && ia->n_entities == test->n_items) {
        for (int32_t i = 0; i < test->n_items; i++) {
            if (imap[i] < 0) continue;
            for (int64_t k = ia->ptr[i]; k < ia->ptr[i + 1]; k++) {
                const char *name = drec_strmap_name(&ia->names, ia->idx[k]);
                const char *fld = drec_strmap_name(&ia->fields, ia->field_of[ia->idx[k]]);
                size_t fl = strlen(fld);
                bool kv = strncmp(name, fld, fl) == 0 && name[fl] == '=';
                drec_attrs_add(&t->side->item_attrs, imap[i], fld, kv ? name + fl + 1 : NULL, ia->val[k]);
            }
        }
        drec_attrs_finish(&t->side->item_attrs, m->n_items);
    }
    drec_ds_finish(t);
    free(imap);
    out->test = t;
    out->own_test = true;
    out->neg_ptr = out->own_neg_ptr = nptr;
    out->neg_idx = out->own_neg_idx = nidx;
    return DREC_OK;
}
