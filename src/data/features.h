/*
 * features.h — feature columns: turning a dataset into per-row, field-wise
 * feature ids for embedding models (wide & deep, DeepFM, xDeepFM, AutoInt,
 * logistic regression).
 *
 * A column set (drec_featcols) is fitted on the training data and saved
 * with the model; it then maps any rows of the same kind — training rows,
 * test rows, or a (user, item) pair being scored — to the same ids.
 *
 * Every row becomes F bags, one per field; bag f of row r holds
 * idx/val[ptr[r*F+f] .. ptr[r*F+f+1]) and the model's field embedding is
 * sum_k val[k] * E[idx[k]] (an embedding-bag).  All fields share one id
 * space 0..n_ids-1, so one embedding table serves every field.
 *
 * Column kinds:
 *  - categorical: a dictionary built from the training rows (ids in order of
 *    first appearance) or, with hash=B, the hash of the feature's name into
 *    B buckets.  Values never seen in training map to their field's
 *    out-of-vocabulary id, and so does a field a row leaves empty ("missing"
 *    is a value the model can learn).
 *  - numeric (a CTR feature whose value is ever other than 0/1, or a
 *    numeric user/item attribute): num=bucket (default) turns value v into
 *    one of 64 categorical ids (log-squared buckets, the Criteo winners'
 *    transform), num=norm keeps one id weighted by (v - mean) / std over the
 *    training rows, num=raw keeps one id weighted by v.
 *  - multi-hot (several values in one field, e.g. genres): one bag with
 *    each value weighted 1/k (mean pooling).
 *  - crossed: the pairs of fields named by cross= ("all", "none", or
 *    "a*b,c*d" by field name) give hashed ids in a separate space of
 *    cross_buckets ids (wide models only): row r's crosses are
 *    cross_idx/cross_val[cross_ptr[r] .. cross_ptr[r+1]).
 *
 * Sources:
 *  - ctr: rows: a feature's field is side->feature_field when the reader
 *    gave fields; otherwise, when every row has the same number of
 *    features, the k-th feature of a row belongs to field k (libFM files
 *    such as Frappe list one feature per field in field order); otherwise
 *    all features form one multi-hot field.  Label = (rating > 0).
 *  - interaction rows (movielens:, synthetic:, ...): fields user, item,
 *    then each user-attribute field (age, gender, occupation, ...), then
 *    each item-attribute field (genre, ...).  Label = (rating >= pos) for
 *    explicit ratings (pos=4 by default); for implicit data every row is a
 *    positive and neg= random unseen items per row are added as negatives.
 *
 * The struct is plain arrays so a model can save and load it with its own
 * tensors (src/models/ctr.c does).
 *
 * Options (a drec_params set, keys as above): hash, num, cross,
 * cross_buckets, pos, neg, seed.
 */
#ifndef DREC_FEATURES_H
#define DREC_FEATURES_H

#include "core/params.h"
#include "dataset.h"

enum { DREC_NUM_BUCKET = 0, DREC_NUM_NORM = 1, DREC_NUM_RAW = 2 };
#define DREC_NUM_BUCKETS 64

typedef struct drec_featcols {
    int32_t src_ctr;          /* 1: ctr rows; 0: interaction rows */
    int32_t n_fields;         /* F */
    char **field_names;       /* (F) */
    int32_t vocab;            /* ids [0, vocab) are values; vocab + f is field f's OOV id */
    int32_t n_ids;            /* vocab + F */
    int32_t hash;             /* 0 = dictionary, else buckets */
    int32_t num_mode;         /* DREC_NUM_* */
    /* ctr source: per source feature (side->n_features at fit time) */
    int32_t n_src;
    int32_t by_position;      /* 1: field = position in row; 2: one field */
    int32_t *src_field;       /* (n_src) field, or -1 when by_position */
    int32_t *src_id;          /* (n_src) id (numeric buckets: first of 64), -1 unseen */
    uint8_t *src_num;         /* (n_src) 1 = numeric */
    float *num_mean, *num_std;/* (n_src) */
    /* interaction source */
    int32_t n_users, n_items, n_ufields, n_ifields;
    int32_t user_base, item_base;
    int32_t *uattr_ptr, *uattr_field, *uattr_id; /* (n_users+1), (nnz), (nnz) */
    float *uattr_val;
    int32_t *iattr_ptr, *iattr_field, *iattr_id;
    float *iattr_val;
    float pos;                /* label threshold for explicit ratings */
    int32_t neg;              /* negatives per implicit positive */
    /* crosses */
    int32_t n_cross;
    int32_t *cross_a, *cross_b; /* (n_cross) field pairs */
    int32_t cross_buckets;
} drec_featcols;

typedef struct drec_featrows {
    size_t n;                 /* rows */
    int32_t n_fields;         /* F */
    int64_t *ptr;             /* (n*F + 1) */
    int32_t *idx;             /* ids in [0, n_ids) */
    float *val;
    bool one_hot;             /* every bag is one id with value 1: idx is (n, F) */
    float *label;             /* (n) 0/1 */
    int64_t *cross_ptr;       /* (n + 1) or NULL when no crosses */
    int32_t *cross_idx;       /* ids in [0, cross_buckets) */
    float *cross_val;
} drec_featrows;

/* Fits the columns on ds (reads only; nothing of ds is kept).  opts may
 * be NULL.  On failure *out is untouched. */
drec_status drec_featcols_fit(const drec_dataset *ds, const drec_params *opts, drec_featcols *out);
void drec_featcols_free(drec_featcols *c);

/* Rows rows[0..n) of ds (all rows when rows == NULL) as bags; ds must be
 * of the kind the columns were fitted on and share their dictionaries.
 * Implicit interaction data with training = true also gets the sampled
 * negatives (seeded by seed).  Caller frees with drec_featrows_free. */
void drec_featrows_build(const drec_featcols *c, const drec_dataset *ds, const size_t *rows, size_t n,
                         bool training, uint64_t seed, drec_featrows *out);
/* One row per (u, items[k]) pair (interaction columns only). */
void drec_featrows_pairs(const drec_featcols *c, int32_t u, const int32_t *items, int n, drec_featrows *out);
void drec_featrows_free(drec_featrows *r);

#endif
