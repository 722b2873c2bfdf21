/*
 * split.h — dividing one dataset into a training part and a test part.
 *
 * Every split returns two datasets made with drec_dataset_subset: they share
 * the side block (dense ids, titles, attributes) of the input, so a model
 * trained on one part scores the other with the same ids.  Rows keep their
 * original order inside each part.  Randomised splits are deterministic by
 * seed (same seed = same parts, whatever the thread count).
 *
 * On success *train and *test are new datasets the caller frees; on failure
 * (bad fraction, too few rows) both are NULL and drec_errmsg() says why.
 */
#ifndef DREC_SPLIT_H
#define DREC_SPLIT_H

#include "data/dataset.h"

/* A random fraction frac (0 < frac < 1) of the rows, round(frac * N) of
 * them, goes to test.  Used for holdout:F and ctr:F. */
drec_status drec_split_holdout(const drec_dataset *ds, double frac, uint64_t seed, drec_dataset **train,
                               drec_dataset **test);

/* Fold `fold` (0..k-1) of a k-fold partition of the rows: the rows are
 * shuffled by seed once and row j of the shuffle belongs to fold j % k, so
 * fold sizes differ by at most one and the k test parts cover every row
 * exactly once. */
drec_status drec_split_kfold(const drec_dataset *ds, int k, int fold, uint64_t seed, drec_dataset **train,
                             drec_dataset **test);

/* Leave-one-out by time: each user's last interaction (latest timestamp;
 * file order breaks ties and orders data without time) is the test row.
 * A user with a single interaction keeps it in training (there would be
 * nothing to learn that user from) and so has no test row. */
drec_status drec_split_loo(const drec_dataset *ds, drec_dataset **train, drec_dataset **test);

/* Global temporal split: the last round(frac * N) rows by timestamp (row
 * order breaks ties) are the test part. */
drec_status drec_split_temporal(const drec_dataset *ds, double frac, drec_dataset **train,
                                drec_dataset **test);

/* Session data: sessions are ordered by their last event (then by id) and
 * the last round(frac * sessions) of them, at least one, form the test part
 * whole; the evaluator predicts each next item of a test session from its
 * prefix. */
drec_status drec_split_session_last(const drec_dataset *ds, double frac, drec_dataset **train,
                                    drec_dataset **test);

/* Splits by a per-row mark (is_test[r] != 0: test).  The building block of
 * the others, public for custom protocols. */
drec_status drec_split_by_mask(const drec_dataset *ds, const uint8_t *is_test, drec_dataset **train,
                               drec_dataset **test);

#endif
