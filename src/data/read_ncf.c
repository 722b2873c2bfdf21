/*
 * read_ncf.c — the ncf: reader: the leave-one-out files of the NCF paper
 * (He et al., WWW 2017; github.com/hexiangnan/neural_collaborative_filtering).
 *
 *   PREFIX.train.rating   user \t item \t rating \t ts    -> the dataset's rows
 *   PREFIX.test.rating    same layout, one held-out row per user -> ds->test
 *   PREFIX.test.negative  "(user,item)\tn1\tn2..." per test row -> ds->neg_*
 *
 * All three files are read into one table first so that users and items
 * get one set of dense ids (in order of first sight: train, test, then the
 * negatives); the train and test parts are then cut out with
 * drec_dataset_subset and so share the side block.  The ids stay the
 * file's own text.  Negative line k must name the (user, item) of test row
 * k: the protocol pairs them by position, so a mismatch is an error.
 */
#include "textio.h"

#include <stdio.h>

static drec_status read_negatives(const char *path, drec_dataset *all, size_t n_train, int64_t **ptr_out,
                                  int32_t **idx_out) {
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    size_t n_test = all->n - n_train;
    int64_t *ptr = drec_malloc((n_test + 1) * sizeof *ptr);
    int32_t *idx = NULL;
    size_t cap = 0, n = 0, row = 0;
    ptr[0] = 0;
    char b1[64], b2[64];
    size_t blank = 0;
    while (drec_text_next(&t)) {
        if (drec_text_blank(&t)) {
            blank++;
            continue;
        }
        size_t nf = drec_text_split(&t, DREC_SEP_BLANKS, false);
        const drec_field *f0 = &t.f[0];
        const char *comma = f0->len > 2 ? memchr(f0->s, ',', f0->len) : NULL;
        if (f0->s[0] != '(' || f0->s[f0->len - 1] != ')' || !comma) {
            st = drec_text_fail(&t, "expected \"(user,item)\" first, found %s", drec_field_show(f0->s, f0->len, b1));
            break;
        }
        if (row >= n_test) {
            st = drec_text_fail(&t, "more negative lines than the %zu test rows", n_test);
            break;
        }
        const char *us = f0->s + 1, *is = comma + 1;
        size_t ul = (size_t)(comma - us), il = (size_t)(f0->s + f0->len - 1 - is);
        size_t r = n_train + row;
        const char *tu = drec_strmap_name(&all->side->users, all->user[r]);
        const char *ti = drec_strmap_name(&all->side->items, all->item[r]);
        if (strlen(tu) != ul || memcmp(tu, us, ul) != 0 || strlen(ti) != il || memcmp(ti, is, il) != 0) {
            st = drec_text_fail(&t, "negatives for (%s,%s) but test row %zu is (%s,%s)",
                                drec_field_show(us, ul, b1), drec_field_show(is, il, b2), row + 1, tu, ti);
            break;
        }
        DREC_GROW(idx, cap, n + nf);
        for (size_t k = 1; k < nf; k++) idx[n++] = drec_ds_item(all, t.f[k].s, t.f[k].len);
        ptr[++row] = (int64_t)n;
    }
    drec_text_close(&t);
    drec_ds_skip(all, "blank lines", blank);
    if (!st && row != n_test)
        st = drec_fail(DREC_ERR_INPUT, "%s: %zu negative lines for %zu test rows", path, row, n_test);
    if (st) {
        free(ptr);
        free(idx);
        return st;
    }
    if (!idx) idx = drec_malloc(sizeof *idx);
    *ptr_out = ptr;
    *idx_out = idx;
    return DREC_OK;
}

drec_status drec_read_ncf(const char *prefix, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    size_t plen = strlen(prefix) + 32;
    char *train_p = drec_malloc(plen), *test_p = drec_malloc(plen), *neg_p = drec_malloc(plen);
    snprintf(train_p, plen, "%s.train.rating", prefix);
    snprintf(test_p, plen, "%s.test.rating", prefix);
    snprintf(neg_p, plen, "%s.test.negative", prefix);

    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, prefix);
    all->has_rating = true;
    all->has_time = true;
    drec_table_spec spec = {.sep = '\t', .user_col = 0, .item_col = 1, .rating_col = 2, .time_col = 3,
                            .n_fields = 4, .what = "rating line"};
    drec_text t;
    size_t n_train = 0;
    int64_t *neg_ptr = NULL;
    int32_t *neg_idx = NULL;
    drec_status st = drec_text_open(&t, train_p);
    if (!st) {
        st = drec_text_read_table(&t, &spec, all);
        drec_text_close(&t);
    }
    n_train = all->n;
    if (!st) st = drec_text_open(&t, test_p);
    if (!st) {
        st = drec_text_read_table(&t, &spec, all);
        drec_text_close(&t);
    }
    if (!st && drec_path_exists(neg_p)) st = read_negatives(neg_p, all, n_train, &neg_ptr, &neg_idx);
    free(train_p);
    free(test_p);
    free(neg_p);
    if (st) {
        drec_dataset_free(all);
        return st;
    }
    size_t *rows = drec_malloc((all->n + 1) * sizeof *rows);
    for (size_t r = 0; r < all->n; r++) rows[r] = r;
    drec_dataset *train = drec_dataset_subset(all, rows, n_train);
    drec_dataset *test = drec_dataset_subset(all, rows + n_train, all->n - n_train);
    free(rows);
    memcpy(train->skipped, all->skipped, sizeof train->skipped);
    train->n_skip_reasons = all->n_skip_reasons;
    drec_dataset_free(all);
    train->test = test;
    train->neg_ptr = neg_ptr;
    train->neg_idx = neg_idx;
    *out = train;
    return DREC_OK;
}
