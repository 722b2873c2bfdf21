/*
 * test_readers.c — every reader against the shared datasets: the counts
 * stated in each SOURCE.md, and spot checks of values read by hand from
 * the files (a u.data row, a Latin-1 title, genres, negatives, ...).
 */
#include "harness.h"

#include "data/dataset.h"
#include "data/textio.h"

static drec_dataset *load(const char *kind, const char *rel) {
    char *p = data_path(rel);
    char spec[4096];
    snprintf(spec, sizeof spec, "%s:%s", kind, p);
    free(p);
    drec_dataset *ds = NULL;
    drec_status st = drec_dataset_load(spec, &ds);
    if (st) fprintf(stderr, "  loading %s: %s\n", spec, drec_errmsg());
    return ds;
}

static int32_t uid(const drec_dataset *ds, const char *s) { return drec_dataset_user_id(ds, s); }
static int32_t iid(const drec_dataset *ds, const char *s) { return drec_dataset_item_id(ds, s); }

/* Does item i carry attribute name (e.g. "genre=Comedy")? */
static bool has_attr(const drec_attrs *a, int32_t e, const char *name) {
    int32_t f = drec_strmap_find(&a->names, name, strlen(name));
    if (f < 0 || e < 0 || e >= a->n_entities) return false;
    for (int32_t k = a->ptr[e]; k < a->ptr[e + 1]; k++)
        if (a->idx[k] == f) return true;
    return false;
}

static int attr_count(const drec_attrs *a, int32_t e) { return a->ptr[e + 1] - a->ptr[e]; }

TEST(movielens_100k_counts) {
    drec_dataset *ds = load("movielens", "movielens-100k");
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->n == 100000);
    CHECK(ds->n_users == 943);
    CHECK(ds->n_items == 1682);
    CHECK(ds->has_rating && ds->has_time);
    /* Rating histogram from SOURCE.md. */
    size_t hist[6] = {0};
    for (size_t r = 0; r < ds->n; r++) {
        int v = (int)ds->rating[r];
        if (v >= 1 && v <= 5 && (float)v == ds->rating[r]) hist[v]++;
    }
    CHECK(hist[1] == 6110 && hist[2] == 11370 && hist[3] == 27145 && hist[4] == 34174 && hist[5] == 21201);
    /* First line of u.data: 196 242 3 881250949. */
    CHECK(ds->user[0] == uid(ds, "196"));
    CHECK(ds->item[0] == iid(ds, "242"));
    CHECK(ds->rating[0] == 3.0f);
    CHECK(ds->ts[0] == 881250949);
    CHECK_STR(drec_dataset_user_name(ds, ds->user[0]), "196");
    /* CSR: every user has >= 20 ratings, in time order. */
    int64_t min_count = 1 << 30;
    bool ordered = true;
    for (int32_t u = 0; u < ds->n_users; u++) {
        min_count = DREC_MIN(min_count, drec_ds_user_count(ds, u));
        for (int64_t k = ds->user_ptr[u] + 1; k < ds->user_ptr[u + 1]; k++)
            ordered &= ds->ts[ds->by_user[k - 1]] <= ds->ts[ds->by_user[k]];
    }
    CHECK(min_count >= 20);
    CHECK(ordered);
    CHECK(ds->user_ptr[ds->n_users] == 100000 && ds->item_ptr[ds->n_items] == 100000);
    drec_dataset_free(ds);
}

TEST(movielens_100k_side) {
    drec_dataset *ds = load("movielens", "movielens-100k/u.data");
    CHECK(ds != NULL);
    if (!ds) return;
    drec_side *sd = ds->side;
    int32_t toy = iid(ds, "1");
    CHECK(toy >= 0);
    CHECK_STR(sd->item_title[toy], "Toy Story (1995)");
    /* 1|Toy Story (1995)|...|0|0|0|1|1|1|0|... : Animation, Children's, Comedy. */
    CHECK(attr_count(&sd->item_attrs, toy) == 3);
    CHECK(has_attr(&sd->item_attrs, toy, "genre=Animation"));
    CHECK(has_attr(&sd->item_attrs, toy, "genre=Children's"));
    CHECK(has_attr(&sd->item_attrs, toy, "genre=Comedy"));
    CHECK_STR(drec_strmap_name(&sd->categories, sd->item_category[toy]), "Animation");
    /* 543|Mis\xe9rables, Les (1995) in Latin-1, UTF-8 here. */
    CHECK_STR(sd->item_title[iid(ds, "543")], "Mis\xc3\xa9rables, Les (1995)");
    int32_t n_titled = 0;
    for (int32_t i = 0; i < ds->n_items; i++) n_titled += sd->item_title[i] != NULL;
    CHECK(n_titled == 1682);
    for (int32_t i = 0; i < ds->n_items; i++)
        if (sd->item_title[i] && !drec_utf8_valid(sd->item_title[i], strlen(sd->item_title[i]))) CHECK(!"utf8");
    /* 196|49|M|writer|55105 */
    int32_t u = uid(ds, "196");
    CHECK(has_attr(&sd->user_attrs, u, "age=45-49"));
    CHECK(has_attr(&sd->user_attrs, u, "gender=M"));
    CHECK(has_attr(&sd->user_attrs, u, "occupation=writer"));
    CHECK(has_attr(&sd->user_attrs, u, "region=5"));
    CHECK(attr_count(&sd->user_attrs, u) == 4);
    drec_dataset_free(ds);
}

TEST(movielens_100k_fold) {
    drec_dataset *ds = load("movielens", "movielens-100k/u1.test");
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->n == 20000);
    /* Titles come from u.item in the same folder. */
    CHECK_STR(ds->side->item_title[iid(ds, "1")], "Toy Story (1995)");
    drec_dataset_free(ds);
}

TEST(ncf_ml100k) {
    drec_dataset *ds = load("ncf", "ncf-ml-100k/ml-100k");
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->n == 99057);
    CHECK(ds->n_users == 943 && ds->n_items == 1682);
    CHECK(ds->test != NULL);
    if (!ds->test || !ds->neg_ptr) {
        drec_dataset_free(ds);
        return;
    }
    drec_dataset *te = ds->test;
    CHECK(te->n == 943);
    CHECK(te->side == ds->side);
    CHECK(te->n_users == 943 && te->n_items == 1682);
    /* First lines: train "0 0 3 881250949"; test "0 521 1 881252305";
     * negatives "(0,521) 1360 519 ...". */
    CHECK_STR(drec_dataset_user_name(ds, ds->user[0]), "0");
    CHECK_STR(drec_dataset_item_name(ds, ds->item[0]), "0");
    CHECK(ds->rating[0] == 3.0f && ds->ts[0] == 881250949);
    CHECK_STR(drec_dataset_user_name(ds, te->user[0]), "0");
    CHECK_STR(drec_dataset_item_name(ds, te->item[0]), "521");
    CHECK(te->rating[0] == 1.0f && te->ts[0] == 881252305);
    CHECK_STR(drec_dataset_item_name(ds, ds->neg_idx[0]), "1360");
    CHECK_STR(drec_dataset_item_name(ds, ds->neg_idx[1]), "519");
    bool all99 = true, unseen = true, one_per_user = true;
    int32_t *seen = calloc((size_t)ds->n_users, sizeof *seen);
    for (size_t r = 0; r < te->n; r++) {
        all99 &= ds->neg_ptr[r + 1] - ds->neg_ptr[r] == 99;
        one_per_user &= seen[te->user[r]]++ == 0;
        for (int64_t k = ds->neg_ptr[r]; k < ds->neg_ptr[r + 1]; k++)
            unseen &= !drec_ds_user_has(ds, te->user[r], ds->neg_idx[k]) && ds->neg_idx[k] != te->item[r];
    }
    free(seen);
    CHECK(all99);
    CHECK(unseen);
    CHECK(one_per_user);
    drec_dataset_free(ds);
}

int main(void) {
    RUN(movielens_100k_counts);
    RUN(movielens_100k_side);
    RUN(movielens_100k_fold);
    RUN(ncf_ml100k);
    return harness_summary();
}
