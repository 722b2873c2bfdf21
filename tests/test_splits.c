/*
 * test_splits.c — the data splits (holdout, k-fold, leave-one-out,
 * temporal, session-last) and the negative sampler (uniform and
 * popularity^alpha through the alias method), on small datasets built here
 * whose right answers can be worked out by hand.
 */
#include "data/sampler.h"
#include "data/split.h"
#include "harness.h"

/* users u0..u(U-1); user u has items (u + j) % I for j < len(u), at time
 * 100 * j + u, pushed in reverse time order so that the index must sort. */
static drec_dataset *build(int U, int I, int (*len)(int)) {
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "test");
    char b[32];
    for (int u = 0; u < U; u++) drec_ds_user(ds, b, (size_t)snprintf(b, sizeof b, "u%d", u));
    for (int i = 0; i < I; i++) drec_ds_item(ds, b, (size_t)snprintf(b, sizeof b, "i%d", i));
    for (int u = 0; u < U; u++)
        for (int j = len(u) - 1; j >= 0; j--) drec_ds_push(ds, u, (u + j) % I, (float)(1 + j % 5), 100 * j + u);
    ds->has_time = true;
    ds->has_rating = true;
    drec_ds_finish(ds);
    return ds;
}
static int len_var(int u) { return u == 0 ? 1 : 2 + u % 4; }
static int len_5(int u) { (void)u; return 5; }

TEST(holdout_fraction_and_partition) {
    drec_dataset *ds = build(20, 30, len_5), *tr, *te;
    CHECK_OK(drec_split_holdout(ds, 0.2, 7, &tr, &te));
    CHECK(te->n == 20 && tr->n == 80);
    CHECK(tr->n_users == 20 && te->n_items == 30); /* ids shared */
    /* every (user, item) of ds is in exactly one part */
    for (int32_t u = 0; u < ds->n_users; u++)
        for (int64_t k = ds->user_ptr[u]; k < ds->user_ptr[u + 1]; k++) {
            int32_t i = ds->user_items[k];
            CHECK(drec_ds_user_has(tr, u, i) != drec_ds_user_has(te, u, i));
        }
    drec_dataset *tr2, *te2;
    CHECK_OK(drec_split_holdout(ds, 0.2, 7, &tr2, &te2));
    bool same = te2->n == te->n;
    for (size_t r = 0; same && r < te->n; r++) same = te->user[r] == te2->user[r] && te->item[r] == te2->item[r];
    CHECK(same);
    drec_dataset_free(tr2);
    drec_dataset_free(te2);
    CHECK_OK(drec_split_holdout(ds, 0.2, 8, &tr2, &te2));
    same = true;
    for (size_t r = 0; same && r < te->n; r++) same = te->user[r] == te2->user[r] && te->item[r] == te2->item[r];
    CHECK(!same); /* another seed, another split */
    drec_dataset_free(tr2);
    drec_dataset_free(te2);
    drec_dataset_free(tr);
    drec_dataset_free(te);
    CHECK(drec_split_holdout(ds, 1.5, 7, &tr, &te) == DREC_ERR_USAGE && !tr && !te);
    drec_dataset_free(ds);
}

TEST(kfold_covers_each_row_once) {
    drec_dataset *ds = build(7, 10, len_5); /* 35 rows, 4 folds: 9 9 9 8 */
    int *hits = calloc(7 * 10, sizeof *hits);
    size_t total = 0;
    for (int f = 0; f < 4; f++) {
        drec_dataset *tr, *te;
        CHECK_OK(drec_split_kfold(ds, 4, f, 3, &tr, &te));
        CHECK(te->n == (f < 3 ? 9u : 8u));
        CHECK(tr->n + te->n == 35);
        for (size_t r = 0; r < te->n; r++) hits[te->user[r] * 10 + te->item[r]]++;
        total += te->n;
        drec_dataset_free(tr);
        drec_dataset_free(te);
    }
    CHECK(total == 35);
    int bad = 0;
    for (size_t r = 0; r < ds->n; r++) bad += hits[ds->user[r] * 10 + ds->item[r]] != 1;
    CHECK(bad == 0);
    free(hits);
    drec_dataset *tr, *te;
    CHECK(drec_split_kfold(ds, 1, 0, 3, &tr, &te) == DREC_ERR_USAGE);
    drec_dataset_free(ds);
}

TEST(loo_holds_out_latest_per_user) {
    drec_dataset *ds = build(9, 20, len_var), *tr, *te;
    CHECK_OK(drec_split_loo(ds, &tr, &te));
    /* user 0 has one row: kept in training, no test row */
    CHECK(drec_ds_user_count(te, 0) == 0 && drec_ds_user_count(tr, 0) == 1);
    for (int u = 1; u < 9; u++) {
        int L = len_var(u);
        CHECK(drec_ds_user_count(te, u) == 1);
        CHECK(drec_ds_user_count(tr, u) == L - 1);
        /* latest event is j = L-1: item (u + L - 1) % 20 */
        CHECK(te->user_items[te->user_ptr[u]] == (u + L - 1) % 20);
    }
    CHECK(te->n == 8);
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

TEST(temporal_takes_last_rows_by_time) {
    drec_dataset *ds = build(4, 10, len_5), *tr, *te; /* times 100j + u */
    CHECK_OK(drec_split_temporal(ds, 0.25, &tr, &te)); /* 5 of 20 rows */
    CHECK(te->n == 5);
    int64_t tmax_train = 0, tmin_test = INT64_MAX;
    for (size_t r = 0; r < tr->n; r++) tmax_train = DREC_MAX(tmax_train, tr->ts[r]);
    for (size_t r = 0; r < te->n; r++) tmin_test = DREC_MIN(tmin_test, te->ts[r]);
    CHECK(tmax_train == 302);  /* the latest kept: 100*3 + 2 */
    CHECK(tmin_test == 303);   /* the 5 latest: 400..403 and 303 */
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

TEST(session_last_keeps_sessions_whole) {
    drec_dataset *ds = drec_ds_new(DREC_DS_SESSIONS, "test");
    char b[16];
    /* session s ends at time 1000 * (5 - s): session 4 ends first, 0 last */
    for (int s = 0; s < 5; s++) drec_ds_user(ds, b, (size_t)snprintf(b, sizeof b, "s%d", s));
    for (int i = 0; i < 6; i++) drec_ds_item(ds, b, (size_t)snprintf(b, sizeof b, "i%d", i));
    for (int s = 0; s < 5; s++)
        for (int j = 0; j < 3; j++) drec_ds_push(ds, s, (s + j) % 6, 1, 1000 * (5 - s) - 10 + j);
    ds->has_time = true;
    drec_ds_finish(ds);
    drec_dataset *tr, *te;
    CHECK_OK(drec_split_session_last(ds, 0.4, &tr, &te)); /* 2 of 5 sessions: s0, s1 */
    CHECK(te->n == 6);
    CHECK(drec_ds_user_count(te, 0) == 3 && drec_ds_user_count(te, 1) == 3);
    CHECK(drec_ds_user_count(tr, 0) == 0 && drec_ds_user_count(tr, 4) == 3);
    /* prefix order kept: session 0 is items 0,1,2 in time order */
    CHECK(te->user_items[te->user_ptr[0]] == 0 && te->user_items[te->user_ptr[0] + 2] == 2);
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

TEST(alias_matches_weights) {
    double w[4] = {1, 2, 3, 4};
    drec_alias a;
    CHECK(drec_alias_build(&a, w, 4));
    drec_rng r;
    drec_rng_seed(&r, 5);
    int cnt[4] = {0};
    int n = 200000;
    for (int k = 0; k < n; k++) cnt[drec_alias_draw(&a, &r)]++;
    for (int i = 0; i < 4; i++) CHECK_NEAR((double)cnt[i] / n, w[i] / 10.0, 0.006);
    drec_alias_free(&a);
    double z[2] = {0, 0};
    CHECK(!drec_alias_build(&a, z, 2));
}

TEST(sampler_uniform_rejects_seen) {
    drec_dataset *ds = build(3, 10, len_5); /* user u has items u..u+4 */
    drec_sampler *s = drec_sampler_new(ds, 0, 1);
    CHECK(drec_sampler_seen(s, 1, 3) && !drec_sampler_seen(s, 1, 0));
    drec_rng r;
    drec_rng_seed(&r, 9);
    int cnt[10] = {0}, bad = 0, n = 50000;
    for (int k = 0; k < n; k++) {
        int32_t i = drec_sampler_neg(s, &r, 1);
        if (i < 1 + 5 && i >= 1) bad++;
        if (i >= 0) cnt[i]++;
    }
    CHECK(bad == 0);
    /* uniform over the 5 unseen items 0, 6, 7, 8, 9 */
    int unseen[5] = {0, 6, 7, 8, 9};
    for (int j = 0; j < 5; j++) CHECK_NEAR((double)cnt[unseen[j]] / n, 0.2, 0.01);
    /* same seed, same draws */
    drec_rng r1, r2;
    drec_rng_seed(&r1, 4);
    drec_rng_seed(&r2, 4);
    int32_t a[20], b2[20];
    CHECK(drec_sampler_negs(s, &r1, 2, a, 20) == 20);
    CHECK(drec_sampler_negs(s, &r2, 2, b2, 20) == 20);
    CHECK(memcmp(a, b2, sizeof a) == 0);
    /* an unknown user has seen nothing */
    CHECK(drec_sampler_neg(s, &r, -1) >= 0);
    drec_sampler_free(s);
    drec_dataset_free(ds);
}

static int len_all(int u) { return u == 0 ? 10 : 9; }
TEST(sampler_dense_user_and_distinct) {
    drec_dataset *ds = build(3, 10, len_all); /* user 0 saw all; user 1 misses item 0 */
    drec_sampler *s = drec_sampler_new(ds, 0, 1);
    drec_rng r;
    drec_rng_seed(&r, 2);
    CHECK(drec_sampler_neg(s, &r, 0) == -1);
    for (int k = 0; k < 50; k++) CHECK(drec_sampler_neg(s, &r, 1) == 0);
    int32_t out[8];
    CHECK(drec_sampler_negs_distinct(s, &r, 1, out, 8) == 1 && out[0] == 0);
    drec_sampler_free(s);
    drec_dataset_free(ds);

    ds = build(2, 300, len_5);
    s = drec_sampler_new(ds, 0, 1);
    int32_t big[100];
    CHECK(drec_sampler_negs_distinct(s, &r, 1, big, 100) == 100);
    int dup = 0, seen = 0;
    for (int a = 0; a < 100; a++) {
        seen += drec_sampler_seen(s, 1, big[a]);
        for (int b = 0; b < a; b++) dup += big[a] == big[b];
    }
    CHECK(dup == 0 && seen == 0);
    drec_sampler_free(s);
    drec_dataset_free(ds);
}

TEST(sampler_popularity_alpha) {
    /* items 0..3 with popularity 1, 2, 3, 4 (over users 1..4); user 0 has
     * item 4 only.  With alpha = 1 user 0's negatives follow 1:2:3:4. */
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "test");
    char b[16];
    for (int u = 0; u < 5; u++) drec_ds_user(ds, b, (size_t)snprintf(b, sizeof b, "u%d", u));
    for (int i = 0; i < 5; i++) drec_ds_item(ds, b, (size_t)snprintf(b, sizeof b, "i%d", i));
    drec_ds_push(ds, 0, 4, 1, 0);
    for (int i = 0; i < 4; i++)
        for (int c = 0; c <= i; c++) drec_ds_push(ds, 1 + c, i, 1, 0);
    drec_ds_finish(ds);
    drec_sampler *s = drec_sampler_new(ds, 1.0, 3);
    int cnt[5] = {0}, n = 100000;
    for (int k = 0; k < n; k++) cnt[drec_sampler_neg(s, NULL, 0)]++;
    CHECK(cnt[4] == 0);
    for (int i = 0; i < 4; i++) CHECK_NEAR((double)cnt[i] / n, (i + 1) / 10.0, 0.006);
    drec_sampler_free(s);
    /* alpha 0.5: weights sqrt(1..4) */
    s = drec_sampler_new(ds, 0.5, 3);
    memset(cnt, 0, sizeof cnt);
    for (int k = 0; k < n; k++) cnt[drec_sampler_neg(s, NULL, 0)]++;
    double tot = 1 + sqrt(2) + sqrt(3) + 2;
    for (int i = 0; i < 4; i++) CHECK_NEAR((double)cnt[i] / n, sqrt(i + 1) / tot, 0.006);
    drec_sampler_free(s);
    drec_dataset_free(ds);
}

int main(void) {
    RUN(holdout_fraction_and_partition);
    RUN(kfold_covers_each_row_once);
    RUN(loo_holds_out_latest_per_user);
    RUN(temporal_takes_last_rows_by_time);
    RUN(session_last_keeps_sessions_whole);
    RUN(alias_matches_weights);
    RUN(sampler_uniform_rejects_seen);
    RUN(sampler_dense_user_and_distinct);
    RUN(sampler_popularity_alpha);
    return harness_summary();
}
