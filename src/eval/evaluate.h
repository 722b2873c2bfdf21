/*
 * evaluate.h — scoring a trained model on a test part and computing the
 * metrics of metrics.h, in parallel over users (OpenMP).
 *
 * The test part and the model share dense ids (a split of the data the
 * model was trained on; drec_eval_split_to_model translates other data).
 * What is ranked, by mode:
 *
 *  - DREC_EVAL_SAMPLED: each test row's item against that row's fixed
 *    negatives (ncf: files) or against n_sampled items drawn uniformly, per
 *    user with a seed derived from (seed, user), among the items the user
 *    never touched (neither in training nor in test).  One unit per row.
 *  - DREC_EVAL_FULL: per user, the user's distinct test items (relevant)
 *    against every item the user did not have in training; items the user
 *    had in training are excluded from ranking (and a test item the user
 *    also had in training is dropped and counted).  One unit per user.
 *  - DREC_EVAL_SESSION: in each test session x_0..x_T-1, each x_t (t >= 1)
 *    against all items, the model given the prefix x_0..x_t-1 as history
 *    (user -1).  Targets never seen in training are dropped and counted.
 *    One unit per prediction.
 *  - DREC_EVAL_ROWS: rating / click metrics over test rows only.
 *
 * Rating and click metrics (rmse, mae, auc, logloss) are always computed
 * over test rows, with the model's predict hook when it has one and its
 * score for (user, item) otherwise (rmse/mae/logloss only for models that
 * predict ratings or probabilities: NAN with a note for ranking-only
 * models); in the ranking modes auc is per user.
 * Users with training data and no usable test item are skipped and counted
 * (n_skipped).  Same seed and same data = same numbers, at any thread count.
 */
#ifndef DREC_EVALUATE_H
#define DREC_EVALUATE_H

#include "eval/metrics.h"
#include "eval/stats.h"
#include "models/model.h"

typedef enum drec_eval_mode {
    DREC_EVAL_SAMPLED = 0,
    DREC_EVAL_FULL,
    DREC_EVAL_SESSION,
    DREC_EVAL_ROWS,
} drec_eval_mode;

typedef struct drec_eval_opts {
    drec_eval_mode mode;
    const drec_metric *metrics;
    int n_metrics;
    int n_sampled;       /* SAMPLED without fixed negatives: negatives per row */
    uint64_t seed;       /* sampled negatives and bootstrap */
    size_t max_units;    /* evaluate at most this many units (an even stride); 0 = all */
    int bootstrap;       /* resamples for the 95% CIs; 0 = none */
    bool keep_lists;     /* keep every unit's top-K list (reports) */
} drec_eval_opts;

typedef struct drec_metric_result {
    drec_metric metric;
    char name[32];
    double value;        /* NAN when the metric does not apply (see note) */
    double *per;         /* (n_per) per-unit values (squared errors for rmse), or NULL */
    size_t n_per;
    drec_stat_kind stat; /* how per becomes value */
    double ci_lo, ci_hi; /* 95% bootstrap CI of value, or NAN */
} drec_metric_result;

typedef struct drec_eval_result {
    int n_metrics;
    drec_metric_result m[DREC_MAX_METRICS];
    const char *unit;      /* "users", "rows" or "predictions" */
    size_t n_units;        /* units evaluated */
    size_t n_skipped;      /* users with training data but no usable test item */
    size_t n_dropped;      /* test rows that could not be evaluated (see the modes) */
    size_t n_rows;         /* test rows used by the row metrics */
    int list_k;            /* length of the top-K lists (max K of the metrics) */
    int32_t *lists;        /* (n_units, list_k), -1 padded, when keep_lists */
    int64_t *rec_count;    /* (n_items) how often each item is in a top-K list */
    int32_t n_items;
    double seconds;
    char note[256];        /* why a metric is NAN, when one is */
} drec_eval_result;

/* A test part with the ids of the model it is scored by. */
typedef struct drec_eval_split {
    drec_dataset *train, *test;
    bool own_train, own_test;
    const int64_t *neg_ptr; /* (test->n + 1) fixed negatives per test row, or NULL */
    const int32_t *neg_idx;
    int64_t *own_neg_ptr;   /* set when the split allocated them */
    int32_t *own_neg_idx;
} drec_eval_split;

void drec_eval_split_free(drec_eval_split *s);

/* Evaluates m on s->test (ids of m).  res is filled and owned by the caller
 * (drec_eval_result_free).  Fails only on unusable input (no test rows, a
 * CTR metric for a model that cannot predict rows). */
drec_status drec_evaluate(const drec_model *m, const drec_eval_split *s, const drec_eval_opts *o,
                          drec_eval_result *res);
void drec_eval_result_free(drec_eval_result *r);
/* The result of metric `name`, or NULL. */
const drec_metric_result *drec_eval_find(const drec_eval_result *r, const char *name);

/* Rewrites a test part loaded on its own (eval of a saved model) into the
 * model's ids: users and items are matched by external id; rows whose item
 * the model does not know are dropped (counted in *dropped); users the
 * model does not know get new ids past m->n_users (scored cold, user -1).
 * Fixed negatives are translated too.  *out is a new split owning its test. */
drec_status drec_eval_split_to_model(const drec_model *m, const drec_dataset *test, const int64_t *neg_ptr,
                                     const int32_t *neg_idx, drec_eval_split *out, size_t *dropped);

#endif
