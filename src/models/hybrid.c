/*
 * hybrid.c — a weighted blend of a collaborative model (`cf=als` by
 * default, any registered ranking model) and the content model (tfidf):
 *
 *     score(u, i) = weight * z_cf(u, i) + (1 - weight) * z_content(u, i)
 *
 * where z is the model's score standardised over all items for that user
 * (mean 0, standard deviation 1), so that two models on different scales
 * can be added.  Where collaborative evidence is thin the blend leans on
 * what is left:
 *   - a user with fewer than `min_user` interactions gets content only;
 *   - an item with fewer than `min_item` training interactions has its CF
 *     term replaced by the average, 0 (its factors are mostly noise), so
 *     it is ranked by content alone but does not outrank well-known items
 *     on content alone;
 *   - a user with no history at all gets popularity;
 *   - data without item content gives CF only.
 * The sub-models are trained through the registry with this model's
 * hyper-parameters (less the hybrid's own keys) and stored in the same
 * file under the tensor prefixes "cf." and "content.".
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>

typedef struct hybrid_state {
    drec_model *cf, *content; /* content may be NULL */
    double weight;
    long min_user, min_item;
    bool views; /* loaded: sub-models borrow the parent's ids and lists */
    int32_t has_content; /* as saved */
} hybrid_state;

static const char *const own_keys[] = {"cf", "weight", "min_user", "min_item", NULL};

static bool is_own(const char *k) {
    for (int j = 0; own_keys[j]; j++)
        if (strcmp(own_keys[j], k) == 0) return true;
    return false;
}

/* The sub-model's parameters: every key but the hybrid's own (content
 * gets only the framework's seed and threads). */
static drec_params *sub_params(const drec_params *p, bool content) {
    drec_params *q = drec_params_new();
    for (size_t j = 0; j < drec_params_count(p); j++) {
        const char *k, *v;
        drec_params_at(p, j, &k, &v);
        if (is_own(k)) continue;
        if (content && strcmp(k, "seed") != 0 && strcmp(k, "threads") != 0) continue;
        drec_params_set(q, k, v);
        drec_params_mark_used(p, k);
    }
    return q;
}

static drec_status read_params(hybrid_state *s, const drec_params *p, const char **cf) {
    drec_status st;
    *cf = drec_params_str(p, "cf", "als");
    if ((st = drec_params_float(p, "weight", 0.7, &s->weight)) ||
        (st = drec_params_int(p, "min_user", 3, &s->min_user)) || (st = drec_params_int(p, "min_item", 3, &s->min_item)))
        return st;
    if (!(s->weight >= 0 && s->weight <= 1)) return drec_fail(DREC_ERR_USAGE, "weight must be in [0, 1]");
    const drec_model_vt *vt = drec_model_find(*cf);
    if (!vt || strcmp(*cf, "hybrid") == 0 || !(vt->caps & DREC_CAP_RANK))
        return drec_fail(DREC_ERR_USAGE, "cf=%s is not a ranking model this blend can use", *cf);
    return DREC_OK;
}

static drec_status hybrid_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {
    hybrid_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    const char *cf;
    drec_status st = read_params(s, p, &cf);
    if (st) return st;
    drec_params *cp = sub_params(p, false);
    st = drec_model_train(cf, t, cp, &s->cf);
    drec_params_free(cp);
    if (st) return st;
    cp = sub_params(p, true);
    st = drec_model_train("tfidf", t, cp, &s->content);
    drec_params_free(cp);
    s->has_content = s->content != NULL;
    if (st == DREC_ERR_INPUT) {
        drec_note("hybrid: %s; using %s and popularity only", drec_errmsg(), cf);
        drec_clear_error();
        st = DREC_OK;
    }
    return st;
}

/* Standardises x[0..n) in place over its finite entries. */
static void standardise(float *x, int32_t n) {
    double sum = 0, sq = 0;
    int32_t c = 0;
    for (int32_t j = 0; j < n; j++)
        if (isfinite(x[j])) {
            sum += x[j];
            sq += (double)x[j] * x[j];
            c++;
        }
    double mean = c ? sum / c : 0, var = c ? sq / c - mean * mean : 0;
    double inv = var > 1e-24 ? 1.0 / sqrt(var) : 0;
    for (int32_t j = 0; j < n; j++)
        if (isfinite(x[j])) x[j] = (float)((x[j] - mean) * inv);
}

static void hybrid_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const hybrid_state *s = m->state;
    int32_t nI = m->n_items;
    bool known = q->user >= 0 && q->user < m->n_users;
    int64_t n_hist = known ? m->seen_ptr[q->user + 1] - m->seen_ptr[q->user] : q->n_hist;
    bool use_cf = n_hist >= s->min_user && n_hist > 0 && (known || (s->cf->vt->caps & DREC_CAP_FOLDIN));
    bool use_content = s->content && n_hist > 0;
    float *cf = NULL, *ct = NULL, *all = drec_malloc((size_t)nI * sizeof *all);
    if (use_cf) {
        cf = drec_malloc((size_t)nI * sizeof *cf);
        s->cf->vt->score(s->cf, q, NULL, 0, cf);
        standardise(cf, nI);
    }
    if (use_content) {
        ct = drec_malloc((size_t)nI * sizeof *ct);
        s->content->vt->score(s->content, q, NULL, 0, ct);
        standardise(ct, nI);
    }
    if (!use_cf && !use_content) {
        for (int32_t i = 0; i < nI; i++) all[i] = (float)m->item_count[i];
        standardise(all, nI);
    } else {
        for (int32_t i = 0; i < nI; i++) {
            if (!use_content) all[i] = cf[i];
            else if (!use_cf) all[i] = ct[i];
            else if (m->item_count[i] < s->min_item) all[i] = (float)((1 - s->weight) * ct[i]);
            else all[i] = (float)(s->weight * cf[i] + (1 - s->weight) * ct[i]);
        }
    }
    if (!items) memcpy(out, all, (size_t)nI * sizeof *out);
    else
        for (int j = 0; j < n; j++) out[j] = items[j] >= 0 && items[j] < nI ? all[items[j]] : -INFINITY;
    free(cf);
    free(ct);
    free(all);
}

static drec_status hybrid_save(const drec_model *m, drec_mf_writer *w) {
    const hybrid_state *s = m->state;
    drec_status st = drec_mf_put_i32(w, "has_content", &s->has_content, 1);
    drec_mf_writer_prefix(w, "cf.");
    if (!st) st = s->cf->vt->save(s->cf, w);
    drec_mf_writer_prefix(w, "content.");
    if (!st && s->content) st = s->content->vt->save(s->content, w);
    drec_mf_writer_prefix(w, NULL);
    return st;
}

/* A sub-model that borrows the parent's ids, titles and seen lists. */
static drec_model *view_of(const drec_model *m, const drec_model_vt *vt, drec_params *p) {
    drec_model *v = drec_malloc(sizeof *v);
    *v = *m;
    v->vt = vt;
    v->state = NULL;
    v->params = p;
    v->fit_ctx = NULL;
    return v;
}

static void view_free(drec_model *v) {
    if (!v) return;
    if (v->vt->free_state && v->state) v->vt->free_state(v);
    drec_params_free(v->params);
    free(v);
}

static drec_status hybrid_load(drec_model *m, drec_mf_reader *r) {
    hybrid_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    s->views = true;
    const char *cf;
    drec_status st = read_params(s, m->params, &cf);
    if (st) return st;
    int32_t *parts = NULL;
    if ((st = drec_mf_get_i32(r, "has_content", 1, &parts))) return st;
    bool has_content = parts[0] != 0;
    s->has_content = has_content;
    drec_free(parts);
    s->cf = view_of(m, drec_model_find(cf), sub_params(m->params, false));
    drec_mf_reader_prefix(r, "cf.");
    st = s->cf->vt->load(s->cf, r);
    if (!st && has_content) {
        s->content = view_of(m, drec_model_find("tfidf"), sub_params(m->params, true));
        drec_mf_reader_prefix(r, "content.");
        st = s->content->vt->load(s->content, r);
    }
    drec_mf_reader_prefix(r, NULL);
    return st;
}

static void hybrid_free(drec_model *m) {
    hybrid_state *s = m->state;
    if (!s) return;
    if (s->views) {
        view_free(s->cf);
        view_free(s->content);
    } else {
        drec_model_free(s->cf);
        drec_model_free(s->content);
    }
    free(s);
}

const drec_model_vt drec_hybrid_vt = {
    .name = "hybrid",
    .summary = "blend of a CF model (--set cf=als) and tfidf content (--set weight=0.7 for CF), per-user "
               "standardised, falling back to content then popularity for thin histories",
    .caps = DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = hybrid_fit,
    .score = hybrid_score,
    .save = hybrid_save,
    .load = hybrid_load,
    .free_state = hybrid_free,
};
