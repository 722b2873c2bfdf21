/*
 * protocol.h — the evaluation protocols of the contract (--protocol P):
 * parsing, the split each one makes, its default metrics, and the full run
 * of one model through one protocol (train on each training part with the
 * per-epoch validation hook, evaluate on the test part, combine folds).
 *
 *   loo-sampled:N  last interaction per user vs N sampled never-touched items
 *                  (ncf: data and other pre-split data with fixed negatives:
 *                  the file's own negatives, whatever N says)
 *   loo-full       last interaction per user vs all items not had in training
 *   holdout:F      random fraction F of rows held out
 *   kfold:K        K folds over rows; mean and std per metric
 *   temporal:F     the last fraction F of rows by time held out
 *   session-last[:F]  the last fraction F of sessions (default 0.1), each
 *                  next item predicted from the prefix
 *   ctr:F          random fraction F of rows held out; auc and logloss
 *
 * Data that brings its own test part (ncf:, --test SPEC) is not split
 * again: the protocol then says only how that test part is scored.
 */
#ifndef DREC_PROTOCOL_H
#define DREC_PROTOCOL_H

#include "eval/evaluate.h"

typedef enum drec_proto_kind {
    DREC_PROTO_LOO_SAMPLED = 0,
    DREC_PROTO_LOO_FULL,
    DREC_PROTO_HOLDOUT,
    DREC_PROTO_KFOLD,
    DREC_PROTO_TEMPORAL,
    DREC_PROTO_SESSION_LAST,
    DREC_PROTO_CTR,
} drec_proto_kind;

typedef struct drec_protocol {
    drec_proto_kind kind;
    int n;         /* loo-sampled: negatives; kfold: K */
    double frac;   /* holdout, temporal, session-last, ctr */
    char name[64]; /* canonical spelling, e.g. "loo-sampled:100" */
} drec_protocol;

/* Parses a protocol name; DREC_ERR_USAGE with the list of known ones. */
drec_status drec_protocol_parse(const char *s, drec_protocol *out);
/* The protocol used when none is given, for this data: ctr:0.2 for CTR
 * rows, session-last for sessions, loo-sampled:100 for data with fixed
 * negatives, loo-full otherwise. */
void drec_protocol_default(const drec_dataset *ds, drec_protocol *out);
drec_eval_mode drec_protocol_mode(const drec_protocol *p);
/* Folds to run: K for kfold on data without its own test part, else 1. */
int drec_protocol_folds(const drec_protocol *p, const drec_dataset *ds);
/* Default metrics: ranking protocols hr ndcg precision recall mrr map
 * coverage novelty arp @10 (+ diversity@10 when items have attributes or
 * categories); holdout/kfold/temporal on explicit ratings: rmse mae; ctr:
 * auc logloss.  Returns the count written to out (DREC_MAX_METRICS room). */
int drec_protocol_default_metrics(const drec_protocol *p, const drec_dataset *ds, drec_metric *out);

/* The train and test parts of fold `fold` (seeded by seed). */
drec_status drec_protocol_split(const drec_protocol *p, const drec_dataset *ds, int fold, uint64_t seed,
                                drec_eval_split *out);

/* One model through one protocol. */
typedef struct drec_run {
    char name[32];                      /* the model name */
    drec_eval_result eval;              /* fold means; per-unit values of all folds, in fold order */
    double std[DREC_MAX_METRICS];       /* across folds; NAN with one fold */
    int n_folds;
    double train_seconds, eval_seconds; /* totals over folds */
    int n_epochs;                       /* curves of the first fold's model */
    float *loss_curve, *val_curve;
    char val_metric[32];
    bool val_on_test;                   /* the curve is the test part's (no validation part) */
    drec_model *model;                  /* the (first fold's) model when keep_model */
} drec_run;

/* Trains `model` (hyper-parameters hp) on each fold's training part, with a
 * hook that records val_metric after each epoch: on the test part, for
 * monitoring only, unless hp sets patience=N; then a validation part
 * (val=F of the training rows, default 0.1, or each user's latest item
 * under the leave-one-out protocols) is held out of the training part, and
 * training stops after N epochs without gain there and keeps its best
 * epoch.  A model given val=F itself holds out its own (CTR models).  It
 * evaluates it with o (o->mode is taken from the protocol).  max_folds > 0
 * limits the folds run.  out is filled; free with drec_run_free. */
drec_status drec_protocol_run(const char *model, const drec_params *hp, const drec_dataset *ds,
                              const drec_protocol *p, const drec_eval_opts *o, int max_folds, bool keep_model,
                              drec_run *out);
void drec_run_free(drec_run *r);

/* The comparison of the best model with the runner-up on one metric. */
typedef struct drec_best {
    int best, second;        /* run indexes; -1 when none (descriptive metric, one model) */
    double p_value;          /* paired t-test over units; NAN when not testable */
    double diff_lo, diff_hi; /* 95% bootstrap CI of best - second */
    bool significant;        /* the lead is significant at 95% */
} drec_best;

/* For metric j of runs[0..n): who is best (by the metric's direction) and
 * whether its lead over the runner-up is significant at 95% (two-sided
 * paired t-test on the per-unit values, which line up because every run
 * uses the same split and seed). */
drec_best drec_runs_best(const drec_run *runs, int n, int j, uint64_t seed);

/* Attaches a separately loaded test set (--test SPEC) to ds as its own test
 * part, matching users and items by external id; rows with a user or item
 * that ds does not know are dropped and counted in *dropped.  Consumes
 * test (frees it). */
drec_status drec_dataset_attach_test(drec_dataset *ds, drec_dataset *test, size_t *dropped);

#endif
