/*
 * tfidf.c — content-based recommendation: each item is a TF-IDF vector over
 * the words of its title and text, its category and its attributes
 * (genres, ...); a user is the rating-weighted mean of the vectors of the
 * items they had; an item's score is the cosine between the two.
 *
 * Terms live in separate namespaces ("w:" words, "c:" category, "a:"
 * attribute features), so the word "comedy" in a title and the genre
 * Comedy are different terms.  Weights are
 *
 *     tf(t, d) = count of t in d (an attribute's value for attributes)
 *     idf(t)   = ln((1 + N) / (1 + df(t))) + 1     (N items; smoothed, as
 *                scikit-learn's TfidfVectorizer does)
 *
 * and each item vector is scaled to unit length.  Items with no
 * interactions score like any other, which is the point of the model; an
 * unseen user is scored from q->hist with weight 1 per item.
 *
 * Shapes: I items, T terms; item vectors in CSR (I + 1 pointers).
 */
#include "model.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct tfidf_state {
    int32_t n_terms;
    int32_t *ptr;  /* (I + 1) */
    int32_t *idx;  /* (nnz) term ids, ascending within an item */
    float *val;    /* (nnz) unit-length TF-IDF weights */
    float *seen_w; /* (seen_ptr[U]) weight of each training item of each user */
} tfidf_state;

typedef struct term_count {
    int32_t term;
    float count;
} term_count;

static int cmp_tc(const void *a, const void *b) {
    const term_count *x = a, *y = b;
    return (x->term > y->term) - (x->term < y->term);
}

/* Adds the lower-cased alphanumeric words (2+ characters) of s. */
static void add_words(drec_strmap *vocab, const char *s, term_count **tc, size_t *n, size_t *cap) {
    char buf[66] = "w:";
    while (s && *s) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        size_t len = 0;
        while (isalnum((unsigned char)*s)) {
            if (len < 63) buf[2 + len] = (char)tolower((unsigned char)*s);
            len++;
            s++;
        }
        if (len < 2) continue;
        if (len > 63) len = 63;
        DREC_GROW(*tc, *cap, *n + 1);
        (*tc)[(*n)++] = (term_count){drec_strmap_intern(vocab, buf, 2 + len), 1.0f};
    }
}

static void add_term(drec_strmap *vocab, const char *prefix, const char *name, float v, term_count **tc, size_t *n,
                     size_t *cap) {
    char buf[256];
    int len = snprintf(buf, sizeof buf, "%s%s", prefix, name);
    if (len >= (int)sizeof buf) len = (int)sizeof buf - 1;
    DREC_GROW(*tc, *cap, *n + 1);
    (*tc)[(*n)++] = (term_count){drec_strmap_intern(vocab, buf, (size_t)len), v};
}

static drec_status tfidf_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {
    const drec_side *sd = t->side;
    int32_t nI = t->n_items;
    drec_strmap vocab;
    drec_strmap_init(&vocab);
    /* Raw term counts per item, then merged per item in CSR. */
    int32_t *ptr = drec_calloc((size_t)nI + 1, sizeof *ptr);
    term_count *all = NULL, *tc = NULL;
    size_t n_all = 0, cap_all = 0, n_tc = 0, cap_tc = 0;
    for (int32_t i = 0; i < nI; i++) {
        n_tc = 0;
        if (sd->item_title) add_words(&vocab, sd->item_title[i], &tc, &n_tc, &cap_tc);
        if (sd->item_text) add_words(&vocab, sd->item_text[i], &tc, &n_tc, &cap_tc);
        if (sd->item_category && sd->item_category[i] >= 0)
            add_term(&vocab, "c:", drec_strmap_name(&sd->categories, sd->item_category[i]), 1.0f, &tc, &n_tc,
                     &cap_tc);
        const drec_attrs *a = &sd->item_attrs;
        if (a->ptr && i < a->n_entities)
            for (int32_t j = a->ptr[i]; j < a->ptr[i + 1]; j++)
                add_term(&vocab, "a:", drec_strmap_name(&a->names, a->idx[j]), a->val[j], &tc, &n_tc, &cap_tc);
        if (n_tc > 1) qsort(tc, n_tc, sizeof *tc, cmp_tc);
        size_t start = n_all;
        for (size_t j = 0; j < n_tc; j++) {
            if (n_all > start && all[n_all - 1].term == tc[j].term) {
                all[n_all - 1].count += tc[j].count;
                continue;
            }
            DREC_GROW(all, cap_all, n_all + 1);
            all[n_all++] = tc[j];
        }
        ptr[i + 1] = (int32_t)n_all;
    }
    free(tc);
    int32_t T = vocab.n;
    drec_strmap_free(&vocab);
    if (n_all == 0) {
        free(ptr);
        free(all);
        return drec_fail(DREC_ERR_INPUT, "the data has no item titles, text, categories or attributes to build "
                                         "content vectors from");
    }
    int32_t *df = drec_calloc((size_t)T, sizeof *df);
    for (size_t j = 0; j < n_all; j++) df[all[j].term]++;
    tfidf_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    s->n_terms = T;
    s->ptr = ptr;
    s->idx = drec_malloc(n_all * sizeof *s->idx);
    s->val = drec_malloc(n_all * sizeof *s->val);
    for (int32_t i = 0; i < nI; i++) {
        double norm = 0;
        for (int32_t j = ptr[i]; j < ptr[i + 1]; j++) {
            double idf = log((1.0 + nI) / (1.0 + df[all[j].term])) + 1.0;
            double w = all[j].count * idf;
            s->idx[j] = all[j].term;
            s->val[j] = (float)w;
            norm += w * w;
        }
        norm = sqrt(norm);
        for (int32_t j = ptr[i]; j < ptr[i + 1]; j++) s->val[j] = norm > 0 ? (float)(s->val[j] / norm) : 0;
    }
    free(df);
    free(all);
    /* Per-interaction weights in the order of m->seen_idx (the training
     * CSR by user): the rating when ratings are explicit. */
    size_t ns = (size_t)t->user_ptr[t->n_users];
    s->seen_w = drec_malloc((ns + 1) * sizeof *s->seen_w);
    for (size_t j = 0; j < ns; j++) {
        float r = t->rating[t->by_user[j]];
        s->seen_w[j] = t->has_rating ? (r > 0 ? r : 0) : 1.0f;
    }
    (void)p;
    return DREC_OK;
}

static void tfidf_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const tfidf_state *s = m->state;
    const int32_t *hist = q->hist;
    int n_hist = q->n_hist;
    const float *w = NULL;
    if (q->user >= 0 && q->user < m->n_users) {
        hist = m->seen_idx + m->seen_ptr[q->user];
        n_hist = (int)(m->seen_ptr[q->user + 1] - m->seen_ptr[q->user]);
        w = s->seen_w + m->seen_ptr[q->user];
    }
    /* The profile: a weighted sum (the mean's scale cancels in the cosine). */
    float *prof = drec_calloc((size_t)s->n_terms + 1, sizeof *prof);
    for (int j = 0; j < n_hist; j++) {
        int32_t i = hist[j];
        if (i < 0 || i >= m->n_items) continue;
        float wi = w ? w[j] : 1.0f;
        for (int32_t l = s->ptr[i]; l < s->ptr[i + 1]; l++) prof[s->idx[l]] += wi * s->val[l];
    }
    double norm = 0;
    for (int32_t t = 0; t < s->n_terms; t++) norm += (double)prof[t] * prof[t];
    float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
    int count = items ? n : m->n_items;
    for (int j = 0; j < count; j++) {
        int32_t i = items ? items[j] : j;
        if (i < 0 || i >= m->n_items) {
            out[j] = -INFINITY;
            continue;
        }
        float dot = 0;
        for (int32_t l = s->ptr[i]; l < s->ptr[i + 1]; l++) dot += prof[s->idx[l]] * s->val[l];
        out[j] = dot * inv;
    }
    free(prof);
}

static drec_status tfidf_save(const drec_model *m, drec_mf_writer *w) {
    const tfidf_state *s = m->state;
    int32_t nnz = s->ptr[m->n_items];
    drec_status st = drec_mf_put_i32(w, "ptr", s->ptr, (int64_t)m->n_items + 1);
    if (!st) st = drec_mf_put_i32(w, "idx", s->idx, nnz);
    if (!st) st = drec_mf_put_f32(w, "val", s->val, nnz, 0);
    if (!st) st = drec_mf_put_f32(w, "seen_w", s->seen_w, m->seen_ptr[m->n_users], 0);
    if (!st) st = drec_mf_put_i32(w, "n_terms", &s->n_terms, 1);
    return st;
}

static drec_status tfidf_load(drec_model *m, drec_mf_reader *r) {
    tfidf_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    int32_t *nt = NULL;
    drec_status st;
    if ((st = drec_mf_get_i32(r, "n_terms", 1, &nt))) return st;
    s->n_terms = nt[0];
    drec_free(nt);
    if ((st = drec_mf_get_i32(r, "ptr", (int64_t)m->n_items + 1, &s->ptr))) return st;
    int32_t nnz = s->ptr[m->n_items];
    bool ok = s->ptr[0] == 0 && s->n_terms >= 0;
    for (int32_t i = 0; i < m->n_items && ok; i++) ok = s->ptr[i + 1] >= s->ptr[i];
    if (!ok) return drec_fail(DREC_ERR_FORMAT, "tfidf: item index is inconsistent");
    if ((st = drec_mf_get_i32(r, "idx", nnz, &s->idx))) return st;
    for (int32_t j = 0; j < nnz; j++)
        if (s->idx[j] < 0 || s->idx[j] >= s->n_terms)
            return drec_fail(DREC_ERR_FORMAT, "tfidf: term id out of range");
    if ((st = drec_mf_get_f32(r, "val", nnz, 0, &s->val))) return st;
    return drec_mf_get_f32(r, "seen_w", m->seen_ptr[m->n_users], 0, &s->seen_w);
}

static void tfidf_free(drec_model *m) {
    tfidf_state *s = m->state;
    if (!s) return;
    /* fit allocates with malloc, load with drec_aligned_alloc */
    drec_free(s->ptr);
    drec_free(s->idx);
    drec_free(s->val);
    drec_free(s->seen_w);
    free(s);
}

const drec_model_vt drec_tfidf_vt = {
    .name = "tfidf",
    .summary = "content-based: TF-IDF of item titles, text, categories and attributes; cosine to the user's "
               "rating-weighted profile (works for items nobody has touched)",
    .caps = DREC_CAP_RANK | DREC_CAP_FOLDIN | DREC_CAP_SIMILAR,
    .fit = tfidf_fit,
    .score = tfidf_score,
    .save = tfidf_save,
    .load = tfidf_load,
    .free_state = tfidf_free,
};
