/*
 * sampler.h — negative sampling for implicit-feedback training (BPR, NCF,
 * two-tower, ...) and for sampled evaluation.
 *
 * A sampler is built once from the training data and is read-only after
 * that: many threads may draw from it at once, each with its own drec_rng.
 * A negative for user u is an item u never had in the data the sampler was
 * built from, drawn either uniformly (alpha = 0) or with probability
 * proportional to popularity^alpha (alpha > 0; word2vec uses 0.75), via
 * Walker's alias method (O(1) per draw).  Seen items are rejected by one
 * bit test in a users x items bitmap when that fits in DREC_SAMPLER_BITMAP
 * bytes, else by a binary search in the user's sorted, de-duplicated item
 * list (both are always built from the same lists); a user who
 * has seen nearly everything falls back on an exact scan of the unseen
 * items, so a draw always terminates.  Same rng state = same draws.
 *
 * Typical use in a model's fit:
 *
 *     drec_sampler *s = drec_sampler_new(train, 0.0, seed);
 *     drec_rng rng;  drec_rng_seed2(&rng, seed, thread_id);
 *     int32_t j = drec_sampler_neg(s, &rng, u);   // -1: u has seen every item
 *     ...
 *     drec_sampler_free(s);
 *
 * Shapes: U = users, I = items.
 */
#ifndef DREC_SAMPLER_H
#define DREC_SAMPLER_H

#include "data/dataset.h"

/* Walker's alias table over n outcomes with weights w (>= 0, not all 0). */
typedef struct drec_alias {
    int32_t n;
    float *prob;    /* (n) acceptance probability of the own outcome */
    int32_t *alias; /* (n) the other outcome of each column */
} drec_alias;

/* Builds the table; weights need not be normalised.  Returns false (and
 * leaves a zeroed table) when n == 0 or every weight is 0. */
bool drec_alias_build(drec_alias *a, const double *w, int32_t n);
int32_t drec_alias_draw(const drec_alias *a, drec_rng *r);
void drec_alias_free(drec_alias *a);

/* The largest seen-bitmap a sampler builds (16 MiB: e.g. 13k users x 10k items). */
#define DREC_SAMPLER_BITMAP ((int64_t)16 << 20)

typedef struct drec_sampler {
    int32_t n_users, n_items;
    int64_t *ptr;         /* (U + 1) */
    int32_t *items;       /* (ptr[U]) each user's items, sorted, unique */
    uint64_t *seen_bits;  /* (U, words) bit i of row u: u had item i; NULL when too large */
    int64_t words;        /* 64-bit words per bitmap row */
    double alpha;         /* 0 = uniform */
    double *weight;       /* (I) popularity^alpha, NULL when uniform */
    drec_alias alias;     /* over weight, when alpha > 0 */
    drec_rng rng;         /* for calls with rng == NULL (one thread only) */
} drec_sampler;

/* A sampler over the users and items of `data` (a training split, or the
 * whole data set when negatives must avoid test items too).  alpha = 0:
 * uniform over unseen items; alpha > 0: popularity^alpha among them (items
 * with no interactions are then never drawn unless nothing else is left).
 * seed seeds the sampler's own rng, used when a call passes rng == NULL.
 * Never fails (allocation failure aborts); free with drec_sampler_free. */
drec_sampler *drec_sampler_new(const drec_dataset *data, double alpha, uint64_t seed);
void drec_sampler_free(drec_sampler *s);

/* One item user u never had, or -1 when u has had every item.  A user id
 * outside 0..U-1 (e.g. -1) has seen nothing.  rng NULL: the sampler's own. */
int32_t drec_sampler_neg(drec_sampler *s, drec_rng *rng, int32_t user);

/* n negatives for u, with replacement (the usual for training); returns how
 * many were written (n, or 0 when u has seen every item). */
int drec_sampler_negs(drec_sampler *s, drec_rng *rng, int32_t user, int32_t *out, int n);

/* n distinct negatives for u (sampled evaluation: "rank the held-out item
 * among N items the user never touched"), in draw order; returns how many
 * were written (fewer than n only when u has fewer unseen items). */
int drec_sampler_negs_distinct(drec_sampler *s, drec_rng *rng, int32_t user, int32_t *out, int n);

/* True when user u had item i in the sampler's data (binary search). */
bool drec_sampler_seen(const drec_sampler *s, int32_t user, int32_t item);

/* User u's sorted unique items; *n gets the count. */
const int32_t *drec_sampler_user_items(const drec_sampler *s, int32_t user, int64_t *n);

#endif
