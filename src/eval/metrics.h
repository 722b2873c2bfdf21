/*
 * metrics.h — the evaluation metrics of drec: their names, what each means
 * for one user (or one prediction, or one row), and the list-level helpers.
 *
 * Ranking metrics are computed from the 1-based ranks of the relevant
 * (held-out) items among the candidates, and ties count AGAINST a relevant
 * item: its rank is 1 + the number of non-relevant candidates whose score is
 * >= its own (+ the relevant items placed before it, which are those with a
 * higher score, or an equal score and a lower id).  A model that gives every
 * item the same score therefore ranks each held-out item last, never first.
 * Relevance is binary.  For one user with relevant set R (|R| = n_rel),
 * ranks r_1 < r_2 < ... and cut-off K:
 *
 *   hr@K        1 if some r_j <= K, else 0
 *   precision@K #{r_j <= K} / K
 *   recall@K    #{r_j <= K} / n_rel
 *   ndcg@K      sum_{r_j <= K} 1/log2(r_j + 1)  /  sum_{j=1..min(K,n_rel)} 1/log2(j + 1)
 *   mrr@K       1 / r_1 when r_1 <= K, else 0
 *   map@K       sum_{r_j <= K} (j / r_j)  /  min(K, n_rel)
 *
 * Each is averaged over users.  Beyond accuracy, over each user's top-K list
 * L (the K best-scored candidates, ties broken by lower id):
 *
 *   coverage@K  |union of all lists| / number of items   (catalogue share)
 *   novelty@K   mean over L of -log2(c_i / U), c_i = training interactions
 *               of item i (at least 1), U = users with training data
 *   diversity@K mean over pairs of L of 1 - sim(i, j) (intra-list; sim is the
 *               cosine of item embeddings, else of item attributes, else
 *               1 for the same category and 0 otherwise)
 *   arp@K       mean over L of c_i (average recommendation popularity)
 *
 * Rating and click metrics over test rows: rmse = sqrt(mean (p - y)^2),
 * mae = mean |p - y|, logloss = mean -(y log p + (1-y) log(1-p)) with p
 * clipped to [1e-7, 1 - 1e-7], auc = the Mann-Whitney probability that a
 * positive row scores above a negative one (ties count one half).  Within a
 * ranking protocol, auc is per user: the share of the user's negative
 * candidates scored strictly below the held-out item.
 */
#ifndef DREC_METRICS_H
#define DREC_METRICS_H

#include "core/common.h"

typedef enum drec_metric_kind {
    DREC_M_RMSE = 0,
    DREC_M_MAE,
    DREC_M_AUC,
    DREC_M_LOGLOSS,
    DREC_M_HR,
    DREC_M_PRECISION,
    DREC_M_RECALL,
    DREC_M_NDCG,
    DREC_M_MRR,
    DREC_M_MAP,
    DREC_M_COVERAGE,
    DREC_M_NOVELTY,
    DREC_M_DIVERSITY,
    DREC_M_ARP,
    DREC_M_COUNT
} drec_metric_kind;

typedef struct drec_metric {
    drec_metric_kind kind;
    int k; /* cut-off for the @K metrics, 0 for the others */
} drec_metric;

#define DREC_MAX_METRICS 32

/* "ndcg", "rmse", ... */
const char *drec_metric_base(drec_metric_kind kind);
/* True for the metrics written name@K. */
bool drec_metric_has_k(drec_metric_kind kind);
/* +1 higher is better, -1 lower is better, 0 descriptive (arp). */
int drec_metric_direction(drec_metric_kind kind);
/* "ndcg@10" into buf; returns buf. */
const char *drec_metric_name(const drec_metric *m, char *buf, size_t n);
/* Parses "hr@10,ndcg@10,rmse" (an @K metric without @K means @10) into
 * out[0..*n); fails with DREC_ERR_USAGE naming the bad entry. */
drec_status drec_metrics_parse(const char *list, drec_metric *out, int max, int *n);

/* One user's ranking metric from the ascending 1-based ranks of its n_rel
 * relevant items (see the table above). */
double drec_rank_metric(drec_metric_kind kind, int k, const int64_t *ranks, int n_rel);

/* The rank of a relevant item with score s among candidate scores
 * cand[0..n) that exclude it: 1 + #{cand >= s} (ties count against it).
 * NaN scores count against it too. */
int64_t drec_rank_of(float s, const float *cand, size_t n);

/* Mann-Whitney AUC of score against binary label (label > 0.5 positive);
 * ties count one half.  NaN when one class is empty. */
double drec_auc(const float *score, const float *label, size_t n);
/* One row's log-loss, p clipped to [1e-7, 1 - 1e-7]. */
double drec_logloss(float p, float y);

/* List metrics over list[0..n) with per-item training counts and U users. */
double drec_list_novelty(const int32_t *list, int n, const int32_t *count, double n_users);
double drec_list_arp(const int32_t *list, int n, const int32_t *count);
/* Mean over the n(n-1)/2 pairs of 1 - sim(a, b); NaN when n < 2. */
double drec_list_diversity(const int32_t *list, int n, double (*sim)(int32_t a, int32_t b, void *ctx), void *ctx);

#endif
