/*
 * model.h — the one interface every model family fills, and the pieces of a
 * model that the framework owns (ids, what each user saw in training,
 * popularity, the training history).
 *
 * Adding a model: write src/models/<family>.c with a `const drec_model_vt
 * drec_<name>_vt` and add one line to the table in registry.c.
 *
 * Contract of the hooks:
 *  - fit: reads train (never kept: copy what is needed) and params; fills
 *    m->state.  Calls drec_fit_epoch(m, epoch, loss) after each epoch of an
 *    iterative method (records the curve, runs validation, draws progress,
 *    and returns true when training should stop early).
 *  - score: q->user (dense id, or -1 for a user unknown at training) and/or
 *    q->hist (the user's items, oldest first) -> out[k] for items[k], or
 *    for every item when items == NULL (out has n_items entries).  Higher is
 *    better.  Must be thread-safe on a fitted model: no writes to state.
 *  - predict (optional): rating or click probability for dataset rows
 *    (rmse/mae/auc/logloss).  Models without it are scored by `score`.
 *  - item_vector (optional): embedding of item i (for similar, diversity).
 *  - save/load: the model's own tensors through the model-file writer and
 *    reader; the framework saves ids, params and seen lists itself.
 */
#ifndef DREC_MODEL_H
#define DREC_MODEL_H

#include "core/params.h"
#include "data/dataset.h"

typedef struct drec_mf_writer drec_mf_writer;
typedef struct drec_mf_reader drec_mf_reader;

enum {
    DREC_CAP_RATING = 1 << 0,  /* predicts explicit ratings (rmse/mae)       */
    DREC_CAP_RANK = 1 << 1,    /* ranks items for a user                     */
    DREC_CAP_CTR = 1 << 2,     /* predicts click probability of feature rows */
    DREC_CAP_SEQ = 1 << 3,     /* uses the order of q->hist                  */
    DREC_CAP_FOLDIN = 1 << 4,  /* scores users unseen in training from hist  */
    DREC_CAP_SIMILAR = 1 << 5, /* item-to-item similarity                    */
    DREC_CAP_OWN_VAL = 1 << 6, /* holds out its own validation rows (val=F)  */
};

typedef struct drec_query {
    int32_t user;          /* dense user id, or -1 */
    const int32_t *hist;   /* the user's items, oldest first (may be NULL) */
    int n_hist;
    int64_t now;           /* request time (time-aware models), 0 = none */
} drec_query;

typedef struct drec_model_vt {
    const char *name;
    const char *summary; /* one line for `drec train --help` */
    unsigned caps;
    drec_status (*fit)(drec_model *m, const drec_dataset *train, const drec_params *p);
    void (*score)(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out);
    void (*predict)(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out);
    const float *(*item_vector)(const drec_model *m, int32_t i, int *dim);
    drec_status (*save)(const drec_model *m, drec_mf_writer *w);
    drec_status (*load)(drec_model *m, drec_mf_reader *r);
    void (*free_state)(drec_model *m);
} drec_model_vt;

/* Called once per epoch by iterative models during fit (see fit_ctx). */
typedef struct drec_fit_ctx {
    /* Validation hook set by the evaluator: returns the validation metric
     * of the model as it stands (higher is better), or NAN. */
    double (*validate)(const drec_model *m, void *user);
    void *user;
    const char *metric_name; /* e.g. "ndcg@10" */
    int patience;            /* early stopping: epochs without gain; 0 = off */
    bool keep_best;          /* end with the weights of the best epoch (a snapshot on disk) */
} drec_fit_ctx;

struct drec_model {
    const drec_model_vt *vt;
    void *state;
    drec_params *params;       /* the hyper-parameters it was trained with */
    int32_t n_users, n_items;
    drec_strmap users, items;  /* external ids (copied from the data) */
    char **item_title;         /* (I) entries may be NULL; NULL if none */
    char **item_category;      /* (I) category name or NULL */
    int64_t *seen_ptr;         /* (U + 1) items each user had in training */
    int32_t *seen_idx;         /* in time order */
    int32_t *item_count;       /* (I) training popularity */
    uint64_t seed;
    int threads;

    /* Training history (per epoch), filled by drec_fit_epoch. */
    int n_epochs;
    float *loss_curve;         /* (n_epochs) */
    float *val_curve;          /* (n_epochs) or NAN entries */
    double train_seconds;          /* fitting only: the per-epoch validation is in val_seconds */
    double val_seconds;
    double train_cpu_seconds;      /* the same span in CPU time of all threads (not saved) */
    double val_cpu_seconds;
    const drec_fit_ctx *fit_ctx; /* during fit only */
    drec_progress progress;
    int best_epoch;
    double best_val;
    char *best_path;           /* keep_best: the best epoch's model file, while fitting */
};

/* The registry (registry.c). */
const drec_model_vt *drec_model_find(const char *name);
extern const drec_model_vt *const drec_model_table[];

/* Trains with an optional fit context (validation, early stopping). */
drec_status drec_model_train_ctx(const char *name, const drec_dataset *train, const drec_params *params,
                                 const drec_fit_ctx *ctx, drec_model **out);

/* Records epoch `epoch` (0-based) with its mean training loss; returns true
 * when the fit context's early stopping says stop. */
bool drec_fit_epoch(drec_model *m, int epoch, int total_epochs, double loss);

/* Scores items[0..n) (or all items when items == NULL) for dense user u,
 * filling q->hist from the training history. */
void drec_model_score_user(const drec_model *m, int32_t u, const int32_t *items, int n, float *out);
/* Top-k for a query (with hist), excluding `exclude` items. */
int drec_model_recommend_query(const drec_model *m, const drec_query *q, int k, const int32_t *exclude,
                               int n_exclude, drec_scored *out);

/* Common hyper-parameters, read the same way by every model. */
typedef struct drec_common_hp {
    long epochs, dim, neg, batch, threads, seed;
    double lr, reg;
} drec_common_hp;

/* ---- model files (modelfile.c) ---------------------------------------- */

typedef enum { DREC_DT_F32 = 0, DREC_DT_I32 = 1, DREC_DT_I64 = 2, DREC_DT_U8 = 3 } drec_mf_dtype;

/* Adds a named tensor (copied at write time; data must live until the
 * writer is finished).  ndim <= 4. */
drec_status drec_mf_put(drec_mf_writer *w, const char *name, drec_mf_dtype dt, const void *data, int ndim,
                        const int64_t *shape);
/* Convenience for 1-D and 2-D float tensors. */
drec_status drec_mf_put_f32(drec_mf_writer *w, const char *name, const float *data, int64_t rows, int64_t cols);
drec_status drec_mf_put_i32(drec_mf_writer *w, const char *name, const int32_t *data, int64_t n);
/* A tensor's data, checked for dtype, rank and (where shape[k] > 0) each
 * dimension; the actual shape is written back into shape.  The pointer
 * stays valid while the model lives (it is copied out by the reader). */
drec_status drec_mf_get(drec_mf_reader *r, const char *name, drec_mf_dtype dt, int ndim, int64_t *shape,
                        const void **data);
/* Copies a float tensor of exactly rows x cols into a fresh allocation. */
drec_status drec_mf_get_f32(drec_mf_reader *r, const char *name, int64_t rows, int64_t cols, float **out);
drec_status drec_mf_get_i32(drec_mf_reader *r, const char *name, int64_t n, int32_t **out);
/* Prepends prefix (e.g. "cf.") to every name put or got from now on, so a
 * model can store sub-models in its own file; NULL or "" stops.  Prefix
 * plus name must stay under 64 characters. */
void drec_mf_writer_prefix(drec_mf_writer *w, const char *prefix);
void drec_mf_reader_prefix(drec_mf_reader *r, const char *prefix);

#endif
