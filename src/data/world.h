/*
 * world.h — the synthetic world: drec's embedded default data and the
 * online environment that bandit and reinforcement-learning policies are
 * simulated against.
 *
 * One generative model serves both uses.  Users have a latent taste (R^d)
 * that drifts slowly over time, a sparse affinity over item categories and
 * attributes (age band, region, primary device, preferred time of day).
 * Items have a category with a readable name, latent factors near their
 * category's centroid, a price, a Zipf-like popularity, a title and a short
 * text description whose words come from the category's vocabulary and from
 * style words tied to the item's strongest latent factors.
 *
 * The preference of user u for item i in context (time of day, device) at
 * taste-time tau (0 to 1 across each user's history; taste_u(tau) = base_u
 * + tau drift_u) is the non-linear utility
 *
 *   util = 1.6 tanh(<taste_u(tau), v_i> / sqrt(d))
 *        + 0.7 log(C aff_u[cat_i] + 0.2)             category affinity
 *        + 0.3 log(I pop_i)                          popularity
 *        - sens[age_u] log(price_i / median price of cat_i)
 *        + tod_cat[tod][cat_i] + dev_cat[device][cat_i]   context
 *
 * Offline history (the dataset): users browse in sessions.  Each event
 * either follows the previous item to one of its neighbours (a Markov step:
 * similar items of the same or a linked category) or picks a category from
 * the user's affinity in this context and then an item among candidates
 * exposed by popularity; the choice among candidates is a softmax over
 * utility.  A consumed item is rated 1..5 from its utility plus noise.
 *
 * Online environment: the click probability of item i is
 * sigmoid(1.5 util + B) (B set so that a random item shown to a random
 * user is clicked 5% of the time); a slate is a multinomial-logit choice with a
 * no-click option and a position discount.  At simulation step t the taste
 * keeps drifting at the rate it drifted through the history (tau = 1 +
 * t / 100000) and, from step `shock` on, every user's taste and category
 * affinity shift (a market shock).  The offline history is the pre-shock
 * log: shock= changes only the simulator.
 *
 * Spec keys (synthetic[:k=v,...]): users= (2000), items= (1000), events=
 * (mean interactions per user, 40), seed= (1), dim= (latent width, 8),
 * categories= (16, at most 20), shock= (step, none), implicit= (0; 1 makes
 * every rating 1).  users x events may not exceed 1e9.
 *
 * What the dataset holds (drec_world_dataset):
 *   rows          user "u<k>", item "i<k>" (dense ids equal k), rating 1..5
 *                 (has_rating; all 1 with implicit=1), timestamp in seconds;
 *                 each user's rows are in time order, grouped in sessions
 *                 (events of a session are 30..330 s apart; sessions are
 *                 more than 2 hours apart, so a gap rule recovers them).
 *   ds->ctx       (N, 7) event context of each row: one-hot time of day
 *                 (night, morning, afternoon, evening) then one-hot device
 *                 (mobile, desktop, tablet); side->ctx_dim = 7.  Splits keep
 *                 it (drec_dataset_subset copies ctx).
 *   side          item_title, item_text, item_category (+ categories names),
 *                 item_price; item_attrs "category=<name>", "price=<bucket>";
 *                 user_attrs "age=<band>", "region=<name>", "device=<name>".
 *   sessions      drec_world_sessions(): a session number per row.
 *
 * Every function below is deterministic given the spec (its seed): the
 * draws at step t depend only on (seed, t), so two policies run against
 * the same world see the same users, contexts and coin flips (common random
 * numbers), whatever order they are run in.  A world is read-only after
 * drec_world_new: all functions taking a const world are thread-safe.
 */
#ifndef DREC_WORLD_H
#define DREC_WORLD_H

#include "dataset.h"

typedef struct drec_world drec_world;

enum { DREC_WORLD_TODS = 4, DREC_WORLD_DEVICES = 3, DREC_WORLD_EVENT_CTX = 7 };

/* One decision point of the simulator. */
typedef struct drec_world_ctx {
    int32_t user;   /* dense user id, 0 .. n_users-1                     */
    int32_t tod;    /* time of day: 0 night, 1 morning, 2 afternoon, 3 evening */
    int32_t device; /* 0 mobile, 1 desktop, 2 tablet                     */
    int64_t step;   /* simulation step, >= 0: sets drift, shock and the coin */
} drec_world_ctx;

/* Builds the world described by `args` (the text after "synthetic:", may be
 * "" or NULL for the defaults) and generates its offline history.
 * Returns DREC_ERR_USAGE naming the key for an unknown key or a bad value;
 * *out is NULL then.  Free with drec_world_free. */
drec_status drec_world_new(const char *args, drec_world **out);
void drec_world_free(drec_world *w);

/* The offline history, owned by the world (NULL after take_dataset). */
const drec_dataset *drec_world_dataset(const drec_world *w);
/* Hands the history to the caller, who frees it with drec_dataset_free. */
drec_dataset *drec_world_take_dataset(drec_world *w);
/* Session number of each history row (N), sessions numbered from 0 in row
 * order; valid while the world lives, even after take_dataset. */
const int32_t *drec_world_sessions(const drec_world *w);

int32_t drec_world_n_users(const drec_world *w);
int32_t drec_world_n_items(const drec_world *w);
/* Width of drec_world_features: 1 (bias) + 4 (time of day) + 3 (device)
 * + 5 (age band) + d (the user's profile embedding: the taste as of the
 * history's start, with noise — it does not see drift or the shock). */
int drec_world_ctx_dim(const drec_world *w);
/* The shock step, or -1 when the spec has none. */
int64_t drec_world_shock_step(const drec_world *w);

/* Width of drec_world_item_features: C (category one-hot) + 1 (log price
 * relative to the category's median) + d (the item's latent factors with
 * noise: a pre-trained item embedding, as a catalogue would have). */
int drec_world_item_dim(const drec_world *w);
/* The feature vector of item, drec_world_item_dim floats into out. */
void drec_world_item_features(const drec_world *w, int32_t item, float *out);

/* The user and context the world presents at `step`: a uniform user, her
 * usual time of day (60%) or another, her device (80%) or another. */
void drec_world_draw(const drec_world *w, int64_t step, drec_world_ctx *out);
/* The context feature vector of c, drec_world_ctx_dim floats into out. */
void drec_world_features(const drec_world *w, const drec_world_ctx *c, float *out);

/* The utility of item for c (the formula above; for oracle rankings). */
double drec_world_utility(const drec_world *w, const drec_world_ctx *c, int32_t item);
/* Probability that the user of c clicks item when shown it alone. */
double drec_world_expected(const drec_world *w, const drec_world_ctx *c, int32_t item);
/* A click (1) or not (0), drawn with probability drec_world_expected.  The
 * coin depends on (seed, step, user) only: call it once per step. */
int drec_world_click(const drec_world *w, const drec_world_ctx *c, int32_t item);
/* The best expected reward among arms[0..n) and, when best is not NULL,
 * the index in arms of the arm that has it (the lowest index on ties).
 * For regret: best - expected(chosen).  n must be >= 1. */
double drec_world_best(const drec_world *w, const drec_world_ctx *c, const int32_t *arms, int n, int *best);

/* Slates: the user clicks at most one of items[0..n), slot k chosen with
 * probability e_k / (1 + sum_j e_j), e_k = exp(1.5 util_k + B) * 0.85^k.
 * A slate of one is a single item: same probability. */
double drec_world_slate_expected(const drec_world *w, const drec_world_ctx *c, const int32_t *items, int n);
/* The clicked slot, or -1 for no click (same coin as drec_world_click). */
int drec_world_slate_click(const drec_world *w, const drec_world_ctx *c, const int32_t *items, int n);

#endif
