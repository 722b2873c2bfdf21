/*
 * split.c — holdout, k-fold, leave-one-out, temporal and session splits
 * (see split.h).  Each builds a per-row test mark, then two subsets.
 */
#define _GNU_SOURCE /* qsort_r */
#include "split.h"

#include <math.h>
#include <stdlib.h>

drec_status drec_split_by_mask(const drec_dataset *ds, const uint8_t *is_test, drec_dataset **train,
                               drec_dataset **test) {
    size_t n_test = 0;
    for (size_t r = 0; r < ds->n; r++) n_test += is_test[r] != 0;
    size_t n_train = ds->n - n_test;
    size_t *tr = drec_malloc((n_train ? n_train : 1) * sizeof *tr);
    size_t *te = drec_malloc((n_test ? n_test : 1) * sizeof *te);
    size_t a = 0, b = 0;
    for (size_t r = 0; r < ds->n; r++) {
        if (is_test[r])
            te[b++] = r;
        else
            tr[a++] = r;
    }
    *train = drec_dataset_subset(ds, tr, n_train);
    *test = drec_dataset_subset(ds, te, n_test);
    free(tr);
    free(te);
    return DREC_OK;
}

static drec_status check_frac(const char *what, double frac, const drec_dataset *ds) {
    if (!(frac > 0 && frac < 1))
        return drec_fail(DREC_ERR_USAGE, "%s: the test fraction must be between 0 and 1, got %g", what, frac);
    if (ds->n < 2) return drec_fail(DREC_ERR_INPUT, "%s: need at least 2 rows to split, have %zu", what, ds->n);
    return DREC_OK;
}

/* round(frac * n), kept within 1..n-1 so that neither part is empty. */
static size_t test_count(double frac, size_t n) {
    size_t k = (size_t)llround(frac * (double)n);
    if (k < 1) k = 1;
    if (k > n - 1) k = n - 1;
    return k;
}

static size_t *shuffled_rows(size_t n, uint64_t seed) {
    size_t *perm = drec_malloc((n ? n : 1) * sizeof *perm);
    for (size_t r = 0; r < n; r++) perm[r] = r;
    drec_rng rng;
    drec_rng_seed(&rng, seed);
    drec_rng_shuffle_size(&rng, perm, n);
    return perm;
}

drec_status drec_split_holdout(const drec_dataset *ds, double frac, uint64_t seed, drec_dataset **train,
                               drec_dataset **test) {
    *train = *test = NULL;
    drec_status st = check_frac("holdout", frac, ds);
    if (st) return st;
    size_t k = test_count(frac, ds->n);
    size_t *perm = shuffled_rows(ds->n, seed);
    uint8_t *mask = drec_calloc(ds->n, 1);
    for (size_t j = 0; j < k; j++) mask[perm[j]] = 1;
    st = drec_split_by_mask(ds, mask, train, test);
    free(perm);
    free(mask);
    return st;
}

drec_status drec_split_kfold(const drec_dataset *ds, int k, int fold, uint64_t seed, drec_dataset **train,
                             drec_dataset **test) {
    *train = *test = NULL;
    if (k < 2) return drec_fail(DREC_ERR_USAGE, "kfold: K must be at least 2, got %d", k);
    if (fold < 0 || fold >= k) return drec_fail(DREC_ERR_USAGE, "kfold: fold %d out of 0..%d", fold, k - 1);
    if (ds->n < (size_t)k)
        return drec_fail(DREC_ERR_INPUT, "kfold: %zu rows cannot make %d folds", ds->n, k);
    size_t *perm = shuffled_rows(ds->n, seed);
    uint8_t *mask = drec_calloc(ds->n, 1);
    for (size_t j = (size_t)fold; j < ds->n; j += (size_t)k) mask[perm[j]] = 1;
    drec_status st = drec_split_by_mask(ds, mask, train, test);
    free(perm);
    free(mask);
    return st;
}

drec_status drec_split_loo(const drec_dataset *ds, drec_dataset **train, drec_dataset **test) {
    *train = *test = NULL;
    uint8_t *mask = drec_calloc(ds->n ? ds->n : 1, 1);
    size_t held = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        int64_t a = ds->user_ptr[u], b = ds->user_ptr[u + 1];
        if (b - a < 2) continue;
        /* by_user is in time order, file order breaking ties: the last
         * entry is the latest event. */
        mask[ds->by_user[b - 1]] = 1;
        held++;
    }
    if (!held) {
        free(mask);
        return drec_fail(DREC_ERR_INPUT, "leave-one-out: no user has two or more interactions");
    }
    drec_status st = drec_split_by_mask(ds, mask, train, test);
    free(mask);
    return st;
}

static int cmp_row_time(const void *x, const void *y, void *ctx) {
    const drec_dataset *sort_ds = ctx;
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int64_t ta = sort_ds->ts[a], tb = sort_ds->ts[b];
    if (ta != tb) return ta < tb ? -1 : 1;
    return (a > b) - (a < b);
}

drec_status drec_split_temporal(const drec_dataset *ds, double frac, drec_dataset **train,
                                drec_dataset **test) {
    *train = *test = NULL;
    drec_status st = check_frac("temporal", frac, ds);
    if (st) return st;
    size_t *rows = drec_malloc(ds->n * sizeof *rows);
    for (size_t r = 0; r < ds->n; r++) rows[r] = r;
    if (ds->has_time) {
        qsort_r(rows, ds->n, sizeof *rows, cmp_row_time, (void *)ds);
    }
    size_t k = test_count(frac, ds->n);
    uint8_t *mask = drec_calloc(ds->n, 1);
    for (size_t j = ds->n - k; j < ds->n; j++) mask[rows[j]] = 1;
    st = drec_split_by_mask(ds, mask, train, test);
    free(rows);
    free(mask);
    return st;
}

typedef struct {
    int64_t last;
    int32_t s;
} sess_end;
static int cmp_sess(const void *x, const void *y) {
    const sess_end *a = x, *b = y;
    if (a->last != b->last) return a->last < b->last ? -1 : 1;
    return (a->s > b->s) - (a->s < b->s);
}

drec_status drec_split_session_last(const drec_dataset *ds, double frac, drec_dataset **train,
                                    drec_dataset **test) {
    *train = *test = NULL;
    if (!(frac > 0 && frac < 1))
        return drec_fail(DREC_ERR_USAGE, "session-last: the test fraction must be between 0 and 1, got %g", frac);
    sess_end *e = drec_malloc(((size_t)ds->n_users + 1) * sizeof *e);
    size_t ns = 0;
    for (int32_t s = 0; s < ds->n_users; s++) {
        int64_t a = ds->user_ptr[s], b = ds->user_ptr[s + 1];
        if (a == b) continue;
        e[ns++] = (sess_end){ds->has_time ? ds->ts[ds->by_user[b - 1]] : (int64_t)ds->by_user[b - 1], s};
    }
    if (ns < 2) {
        free(e);
        return drec_fail(DREC_ERR_INPUT, "session-last: need at least 2 sessions, have %zu", ns);
    }
    qsort(e, ns, sizeof *e, cmp_sess);
    size_t k = test_count(frac, ns);
    uint8_t *mask = drec_calloc(ds->n, 1);
    for (size_t j = ns - k; j < ns; j++) {
        int32_t s = e[j].s;
        for (int64_t x = ds->user_ptr[s]; x < ds->user_ptr[s + 1]; x++) mask[ds->by_user[x]] = 1;
    }
    drec_status st = drec_split_by_mask(ds, mask, train, test);
    free(e);
    free(mask);
    return st;
}
