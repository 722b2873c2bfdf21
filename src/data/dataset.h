/*
 * dataset.h — the in-memory columnar dataset every model reads.
 *
 * A dataset is a table of rows (user, item, rating/label, timestamp) plus
 * optional columns for other data kinds, and a shared "side" block that
 * holds what does not change when the rows are split: the id dictionaries,
 * item titles/text/tags, user attributes, the CTR feature dictionary.
 * A split (drec_dataset_subset) copies the chosen rows and shares the side
 * block by reference count, so train and test keep the same dense ids and
 * the same universe of users and items.
 *
 * Shapes: N = rows, U = users, I = items, F = features.
 */
#ifndef DREC_DATASET_H
#define DREC_DATASET_H

#include "core/common.h"

typedef enum drec_ds_kind {
    DREC_DS_INTERACTIONS = 0, /* user-item events (ratings, clicks, lists)  */
    DREC_DS_SESSIONS,         /* user column = session id                    */
    DREC_DS_CTR,              /* labelled feature rows; user/item may be -1   */
    DREC_DS_BANDIT            /* context, action (= item), reward, propensity */
} drec_ds_kind;

/* A sparse attribute table over users or items: entity e has features
 * idx[ptr[e]..ptr[e+1]) with values val[...] (1 for one-hot).  Feature
 * names read "field=value" (e.g. "genre=Comedy", "age=25-34") or just the
 * field for numeric features ("price"); field_of[f] names its field. */
typedef struct drec_attrs {
    drec_strmap names;   /* F feature names                      */
    drec_strmap fields;  /* field names                          */
    int32_t *field_of;   /* (F) field id of each feature          */
    int32_t n_entities;
    int32_t *ptr;        /* (n_entities + 1)                      */
    int32_t *idx;        /* (ptr[n]) feature ids                  */
    float *val;          /* (ptr[n]) values                       */
    struct drec_attr_triple *staged; /* while building: (entity, feature, value) */
    size_t n_staged, staged_cap;
} drec_attrs;

/* What every split of one loaded dataset shares. */
typedef struct drec_side {
    int refs;
    drec_strmap users, items;  /* external ids <-> dense ids */
    char **item_title;         /* (I) or NULL; entries may be NULL */
    char **item_text;          /* (I) free-text description or NULL */
    int32_t *item_category;    /* (I) primary category id or NULL (-1 = none) */
    drec_strmap categories;    /* names of item_category ids */
    float *item_price;         /* (I) or NULL */
    drec_attrs item_attrs;     /* genres, category, price bucket, ... */
    drec_attrs user_attrs;     /* age band, gender, occupation, region, ... */
    /* CTR: the global feature dictionary (row features index into it). */
    int32_t n_features, n_fields;
    int32_t *feature_field;    /* (n_features) field id of each feature */
    char **field_names;        /* (n_fields) */
    drec_strmap feature_names; /* named features ("C3=68fd1e64") -> id; empty
                                  when the file numbers its features (libsvm) */
    /* Bandit: per-action features (dense), ctx_dim context width. */
    int32_t action_dim;
    float *action_feat;        /* (I, action_dim) or NULL */
    int32_t ctx_dim;
    char *source;              /* the spec it was loaded from */
} drec_side;

struct drec_dataset {
    drec_ds_kind kind;
    drec_side *side;
    int32_t n_users, n_items;  /* = side dictionary sizes */

    size_t n, cap;             /* rows */
    int32_t *user;             /* (N) dense user (or session) id, -1 = none */
    int32_t *item;             /* (N) dense item (or action) id, -1 = none  */
    float *rating;             /* (N) rating, label (0/1) or reward          */
    int64_t *ts;               /* (N) timestamp (seconds, or ms for sessions) */
    bool has_rating;           /* ratings are explicit (not all 1)           */
    bool has_time;

    /* CTR rows: features feat_idx[feat_ptr[r]..feat_ptr[r+1]) with values. */
    int64_t *feat_ptr;         /* (N + 1) or NULL */
    int32_t *feat_idx;
    float *feat_val;
    size_t feat_n, feat_cap;

    /* Bandit rows. */
    float *ctx;                /* (N, ctx_dim) */
    float *propensity;         /* (N) */
    int32_t *position;         /* (N) slot, 0-based; -1 = none */

    /* Index by user: rows of user u are by_user[user_ptr[u]..user_ptr[u+1]),
     * in time order (stable: file order breaks ties).  Same by item. */
    int64_t *user_ptr;         /* (U + 1) */
    size_t *by_user;           /* (N) row ids */
    int32_t *user_items;       /* (N) item of by_user[k], for fast scans */
    int64_t *item_ptr;         /* (I + 1) */
    size_t *by_item;           /* (N) row ids */
    int32_t *item_users;       /* (N) user of by_item[k] */

    /* A pre-split benchmark brings its own test rows (ncf:, --test SPEC),
     * and ncf: brings fixed negatives for each test row. */
    struct drec_dataset *test;
    int64_t *neg_ptr;          /* (test->n + 1) or NULL */
    int32_t *neg_idx;

    /* Rows skipped on purpose while reading, by reason (headers, ...). */
    struct { char reason[96]; size_t count; } skipped[8];
    int n_skip_reasons;
    char *summary;             /* built on demand */
};

/* ---- building (used by the readers) ----------------------------------- */

/* An empty dataset with a fresh side block. */
drec_dataset *drec_ds_new(drec_ds_kind kind, const char *source);
/* Dense id of an external id, added when new. */
int32_t drec_ds_user(drec_dataset *ds, const char *s, size_t len);
int32_t drec_ds_item(drec_dataset *ds, const char *s, size_t len);
/* Appends a row; returns its index.  ts may be 0 when !has_time. */
size_t drec_ds_push(drec_dataset *ds, int32_t u, int32_t i, float r, int64_t ts);
/* Appends one feature to the last pushed row (CTR data). */
void drec_ds_push_feature(drec_dataset *ds, int32_t f, float v);
/* Counts rows skipped on purpose, for the summary. */
void drec_ds_skip(drec_dataset *ds, const char *reason, size_t count);
/* Call once all rows are in: fixes n_users/n_items and builds the CSR
 * indexes.  Readers call it; so does drec_dataset_subset. */
void drec_ds_finish(drec_dataset *ds);

/* Builder for attribute tables: call begin, then for each entity in order
 * 0..n-1 add its features with add, then end_entity. */
void drec_attrs_init(drec_attrs *a);
void drec_attrs_free(drec_attrs *a);
/* Adds feature "field=value" (value NULL: numeric feature named field) to
 * entity e with weight v.  Entities may be added in any order; call
 * drec_attrs_finish with the entity count to build the CSR. */
void drec_attrs_add(drec_attrs *a, int32_t e, const char *field, const char *value, float v);
void drec_attrs_finish(drec_attrs *a, int32_t n_entities);

/* ---- splits ---------------------------------------------------------------- */

/* A new dataset holding rows[0..n) of ds (in that order), sharing its side
 * block; CTR/bandit columns are copied too.  ds->test is not carried. */
drec_dataset *drec_dataset_subset(const drec_dataset *ds, const size_t *rows, size_t n);

/* ---- queries -------------------------------------------------------------- */

static inline int64_t drec_ds_user_count(const drec_dataset *ds, int32_t u) {
    return ds->user_ptr[u + 1] - ds->user_ptr[u];
}
/* Item popularity in ds (interaction count per item), (I) ints, caller frees. */
int32_t *drec_ds_item_counts(const drec_dataset *ds);
/* True when user u has item i in ds (binary search over a sorted copy is
 * not kept; this scans the user's row list — fine for short lists). */
bool drec_ds_user_has(const drec_dataset *ds, int32_t u, int32_t i);

/* Readers, one per spec kind (src/data/read_*.c).  Each fills *out or
 * returns an error naming file, line and reason. */
drec_status drec_read_movielens(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_ncf(const char *prefix, const drec_params *opts, drec_dataset **out);
drec_status drec_read_csv(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_seq(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_session(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_ctr(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_bandit(const char *path, const drec_params *opts, drec_dataset **out);
drec_status drec_read_lists(const char *path, const drec_params *opts, drec_dataset **out);
/* ctr: rows that must share the feature dictionary of an earlier ctr: load
 * (a --test file next to a training file): *out shares parent's side block,
 * and features parent never saw are added to that dictionary (so load every
 * ctr file before sizing a model by side->n_features).  Same formats and
 * errors as drec_read_ctr. */
drec_status drec_read_ctr_into(const char *path, drec_dataset *parent, drec_dataset **out);
/* The same for a ctr: dataset loaded on its own: rewrites test's feature
 * ids into parent's dictionary (matching names, or indices for libsvm
 * data), adding the features parent lacks.  test's own side is untouched,
 * so its feature ids then index parent->side only. */
drec_status drec_ctr_adopt_features(drec_dataset *parent, drec_dataset *test);
drec_status drec_read_synthetic(const char *args, const drec_params *opts, drec_dataset **out);

#endif
