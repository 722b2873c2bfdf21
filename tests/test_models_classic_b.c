/*
 * test_models_classic_b.c — als, bpr, fm, tfidf and hybrid: each beats
 * popularity on held-out data (leave-last-out on the synthetic world, the
 * held-out item ranked against every item the user has not had), save and
 * load give identical scores, fold-in of a user unseen at training works,
 * FM's O(K n) pairwise term equals the O(K n^2) definition and FM learns a
 * pure interaction, TF-IDF weights match values worked out by hand on a
 * three-document corpus, the hybrid's blend and fallbacks are what its
 * header says, and ALS/BPR give the same numbers for 1 and 2 threads.
 */
#include "data/sampler.h"
#include "data/split.h"
#include "harness.h"
#include "models/fm.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static bool sanitized(void) { return getenv("DREC_SANITIZED") != NULL; }

static const char *world_spec(void) {
    return sanitized() ? "synthetic:users=200,items=150,events=25,seed=3"
                       : "synthetic:users=500,items=300,events=30,seed=3";
}

/* HR@10 of test rows (u, i): i ranked against every item u did not have in
 * train (ties count against i).  Only the first row of each user counts. */
static double hr_at_10(const drec_model *m, const drec_dataset *train, const drec_dataset *test) {
    float *sc = malloc((size_t)m->n_items * sizeof *sc);
    int hits = 0, n = 0;
    for (size_t r = 0; r < test->n; r++) {
        int32_t u = test->user[r], i = test->item[r];
        if (u < 0 || i < 0 || (r > 0 && test->user[r - 1] == u)) continue;
        drec_model_score_user(m, u, NULL, 0, sc);
        for (int64_t j = train->user_ptr[u]; j < train->user_ptr[u + 1]; j++) sc[train->user_items[j]] = -INFINITY;
        int rank = 0;
        for (int32_t k = 0; k < m->n_items; k++) rank += k != i && sc[k] != -INFINITY && sc[k] >= sc[i];
        hits += rank < 10;
        n++;
    }
    free(sc);
    return n ? (double)hits / n : 0;
}

static drec_model *train(const char *name, const drec_dataset *ds, const char *const *kv) {
    drec_params *p = drec_params_new();
    for (int j = 0; kv && kv[j]; j += 2) drec_params_set(p, kv[j], kv[j + 1]);
    drec_model *m = NULL;
    CHECK_OK(drec_model_train(name, ds, p, &m));
    drec_params_free(p);
    return m;
}

static const char *const bpr_fast[] = {"epochs", "60", "lr", "0.05", NULL};
static const char *const fm_rank[] = {"task", "classification", "dim", "16", "epochs", "10", NULL};

TEST(every_model_beats_pop_leave_last_out) {
    drec_dataset *ds, *tr, *te;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    CHECK_OK(drec_split_loo(ds, &tr, &te));
    drec_model *pop = train("pop", tr, NULL);
    double hr_pop = hr_at_10(pop, tr, te);
    drec_model_free(pop);
    struct {
        const char *name;
        const char *const *kv;
    } models[] = {{"als", NULL}, {"bpr", bpr_fast}, {"fm", fm_rank}, {"tfidf", NULL}, {"hybrid", NULL}};
    for (size_t k = 0; k < DREC_ARRAY_LEN(models); k++) {
        drec_model *m = train(models[k].name, tr, models[k].kv);
        if (!m) continue;
        double hr = hr_at_10(m, tr, te);
        printf("  %-7s HR@10 %.4f (pop %.4f)\n", models[k].name, hr, hr_pop);
        CHECK(hr > hr_pop + 0.02);
        drec_model_free(m);
    }
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

/* Scores of users 0..9 and of a fold-in query, before and after a save and
 * load, must be bit-identical. */
TEST(save_load_round_trip_identical_scores) {
    drec_dataset *ds;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    const char *names[] = {"als", "bpr", "fm", "tfidf", "hybrid"};
    const char *const *kvs[] = {NULL, bpr_fast, fm_rank, NULL, NULL};
    char path[256];
    snprintf(path, sizeof path, "/tmp/drec_test_cb_%d.drec", (int)getpid());
    int32_t hist[] = {3, 17, 42, 5, 8};
    drec_query fq = {.user = -1, .hist = hist, .n_hist = 5};
    for (size_t k = 0; k < DREC_ARRAY_LEN(names); k++) {
        drec_model *m = train(names[k], ds, kvs[k]), *l = NULL;
        if (!m) continue;
        CHECK_OK(drec_model_save(m, path));
        CHECK_OK(drec_model_load(path, &l));
        if (!l) {
            drec_model_free(m);
            continue;
        }
        CHECK_STR(drec_model_name(l), names[k]);
        size_t nI = (size_t)m->n_items;
        float *a = malloc(nI * sizeof *a), *b = malloc(nI * sizeof *b);
        int same = 1;
        for (int32_t u = 0; u < 10; u++) {
            drec_model_score_user(m, u, NULL, 0, a);
            drec_model_score_user(l, u, NULL, 0, b);
            same &= memcmp(a, b, nI * sizeof *a) == 0;
        }
        if (m->vt->caps & DREC_CAP_FOLDIN) {
            m->vt->score(m, &fq, NULL, 0, a);
            l->vt->score(l, &fq, NULL, 0, b);
            same &= memcmp(a, b, nI * sizeof *a) == 0;
        }
        if (!same) printf("  %s: scores differ after load\n", names[k]);
        CHECK(same);
        free(a);
        free(b);
        drec_model_free(m);
        drec_model_free(l);
    }
    unlink(path);
    drec_dataset_free(ds);
}

/* Users absent from training, scored from their history at request time:
 * the held-out last item must be found more often than popularity finds
 * it, and the same request must give the same scores. */
TEST(foldin_new_users_beats_pop) {
    drec_dataset *ds;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    int32_t n_new = ds->n_users / 5, first_new = ds->n_users - n_new;
    size_t *rows = malloc(ds->n * sizeof *rows), n = 0;
    for (size_t r = 0; r < ds->n; r++)
        if (ds->user[r] < first_new) rows[n++] = r;
    drec_dataset *tr = drec_dataset_subset(ds, rows, n);
    free(rows);
    drec_model *pop = train("pop", tr, NULL);
    const char *names[] = {"als", "bpr"};
    const char *const *kvs[] = {NULL, bpr_fast};
    float *sc = malloc((size_t)ds->n_items * sizeof *sc), *sc2 = malloc((size_t)ds->n_items * sizeof *sc2);
    for (size_t k = 0; k < DREC_ARRAY_LEN(names); k++) {
        drec_model *m = train(names[k], tr, kvs[k]);
        if (!m) continue;
        CHECK(m->vt->caps & DREC_CAP_FOLDIN);
        int hits = 0, hits_pop = 0, users = 0, same = 1;
        for (int32_t u = first_new; u < ds->n_users; u++) {
            int64_t lo = ds->user_ptr[u], hi = ds->user_ptr[u + 1];
            if (hi - lo < 3) continue;
            drec_query q = {.user = -1, .hist = ds->user_items + lo, .n_hist = (int)(hi - lo - 1)};
            int32_t target = ds->user_items[hi - 1];
            for (int pass = 0; pass < 2; pass++) {
                const drec_model *mm = pass ? pop : m;
                mm->vt->score(mm, &q, NULL, 0, sc);
                if (pass == 0) {
                    mm->vt->score(mm, &q, NULL, 0, sc2);
                    same &= memcmp(sc, sc2, (size_t)ds->n_items * sizeof *sc) == 0;
                }
                for (int j = 0; j < q.n_hist; j++) sc[q.hist[j]] = -INFINITY;
                if (sc[target] == -INFINITY) continue;
                int rank = 0;
                for (int32_t i = 0; i < ds->n_items; i++) rank += i != target && sc[i] >= sc[target];
                if (pass) hits_pop += rank < 10;
                else hits += rank < 10;
            }
            users++;
        }
        printf("  %s fold-in HR@10 %.4f, pop %.4f (%d new users)\n", names[k], (double)hits / users,
               (double)hits_pop / users, users);
        CHECK(users > 10);
        CHECK(hits > hits_pop);
        CHECK(same);
        drec_model_free(m);
    }
    free(sc);
    free(sc2);
    drec_model_free(pop);
    drec_dataset_free(tr);
    drec_dataset_free(ds);
}

/* ALS fold-in of a training user's own history should land near the user
 * vector learned in training (same objective, exact solve): their score
 * vectors correlate strongly. */
TEST(als_foldin_agrees_with_trained_user) {
    drec_dataset *ds;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    drec_model *m = train("als", ds, NULL);
    if (!m) return;
    float *a = malloc((size_t)m->n_items * sizeof *a), *b = malloc((size_t)m->n_items * sizeof *b);
    double worst = 1;
    for (int32_t u = 0; u < 20; u++) {
        drec_model_score_user(m, u, NULL, 0, a);
        drec_query q = {.user = -1, .hist = m->seen_idx + m->seen_ptr[u],
                        .n_hist = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u])};
        m->vt->score(m, &q, NULL, 0, b);
        double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        int n = m->n_items;
        for (int i = 0; i < n; i++) {
            sa += a[i];
            sb += b[i];
            saa += (double)a[i] * a[i];
            sbb += (double)b[i] * b[i];
            sab += (double)a[i] * b[i];
        }
        double corr = (sab - sa * sb / n) / sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
        worst = fmin(worst, corr);
    }
    printf("  worst correlation of fold-in and trained scores: %.4f\n", worst);
    CHECK(worst > 0.95);
    free(a);
    free(b);
    drec_model_free(m);
    drec_dataset_free(ds);
}

/* The O(K n) identity against the definition sum_{a<b} <v_a, v_b> x_a x_b,
 * with a repeated feature id in the row. */
TEST(fm_pairwise_matches_bruteforce) {
    enum { F = 20, K = 5, N = 7 };
    float V[F * K];
    drec_rng r;
    drec_rng_seed(&r, 11);
    for (int j = 0; j < F * K; j++) V[j] = (float)drec_rng_normal(&r);
    int32_t idx[N] = {0, 3, 7, 7, 12, 19, 4};
    float val[N] = {1.0f, 0.5f, -2.0f, 1.0f, 3.0f, 1.0f, 0.25f};
    double brute = 0;
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++) {
            double d = 0;
            for (int f = 0; f < K; f++) d += (double)V[idx[a] * K + f] * V[idx[b] * K + f];
            brute += d * val[a] * val[b];
        }
    float sums[K];
    float fast = drec_fm_pairwise(V, K, idx, val, N, sums);
    CHECK_NEAR(fast, brute, 1e-4 * fmax(1, fabs(brute)));
    for (int f = 0; f < K; f++) {
        double s = 0;
        for (int a = 0; a < N; a++) s += (double)V[idx[a] * K + f] * val[a];
        CHECK_NEAR(sums[f], s, 1e-5);
    }
    CHECK_NEAR(drec_fm_pairwise(V, K, idx, val, 1, NULL), 0, 0);
}

/* CTR rows with two fields whose label depends only on their combination
 * (every single feature has a click rate of 1/2 either way): a linear model
 * cannot learn it, the pairwise term must. */
TEST(fm_learns_a_feature_interaction_on_ctr_rows) {
    drec_dataset *ds = drec_ds_new(DREC_DS_CTR, "test");
    ds->side->n_features = 6;
    drec_rng r;
    drec_rng_seed(&r, 5);
    for (int n = 0; n < 6000; n++) {
        int a = (int)drec_rng_below(&r, 3), b = (int)drec_rng_below(&r, 3);
        float p = a == b ? 0.9f : 0.1f;
        drec_ds_push(ds, -1, -1, drec_rng_float(&r) < p ? 1.0f : 0.0f, 0);
        drec_ds_push_feature(ds, a, 1);
        drec_ds_push_feature(ds, 3 + b, 1);
    }
    drec_ds_finish(ds);
    static const char *const kv[] = {"dim", "4", "epochs", "8", "lr", "0.1", NULL};
    drec_model *m = train("fm", ds, kv);
    if (m) {
        CHECK(m->vt->predict != NULL);
        size_t rows[9];
        float out[9];
        int ok = 0;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) /* find a row with (a, b) */
                for (size_t j = 0; j < ds->n; j++)
                    if (ds->feat_idx[ds->feat_ptr[j]] == a && ds->feat_idx[ds->feat_ptr[j] + 1] == 3 + b) {
                        rows[a * 3 + b] = j;
                        break;
                    }
        m->vt->predict(m, ds, rows, 9, out);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) ok += a == b ? out[a * 3 + b] > 0.75f : out[a * 3 + b] < 0.25f;
        CHECK(ok == 9);
        if (ok != 9)
            for (int c = 0; c < 9; c++) printf("  p(%d,%d) = %.3f\n", c / 3, c % 3, out[c]);
        drec_model_free(m);
    }
    drec_dataset_free(ds);
}

/* Regression on explicit ratings: held-out RMSE below the global mean's. */
TEST(fm_regression_beats_the_mean_rating) {
    drec_dataset *ds, *tr, *te;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    CHECK_OK(drec_split_holdout(ds, 0.2, 7, &tr, &te));
    static const char *const kv[] = {"epochs", "15", NULL};
    drec_model *m = train("fm", tr, kv);
    if (m) {
        size_t *rows = malloc(te->n * sizeof *rows);
        float *out = malloc(te->n * sizeof *out);
        for (size_t j = 0; j < te->n; j++) rows[j] = j;
        m->vt->predict(m, te, rows, te->n, out);
        double mean = 0, e_fm = 0, e_mean = 0;
        for (size_t j = 0; j < tr->n; j++) mean += tr->rating[j];
        mean /= (double)tr->n;
        for (size_t j = 0; j < te->n; j++) {
            e_fm += (out[j] - te->rating[j]) * (out[j] - te->rating[j]);
            e_mean += (mean - te->rating[j]) * (mean - te->rating[j]);
        }
        printf("  fm RMSE %.4f, mean RMSE %.4f\n", sqrt(e_fm / (double)te->n), sqrt(e_mean / (double)te->n));
        CHECK(e_fm < 0.95 * e_mean);
        free(rows);
        free(out);
        drec_model_free(m);
    }
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

/* Three documents; d2 has no interactions (a cold item).
 *   d0 "apple banana apple", d1 "banana cherry", d2 "cherry cherry date"
 * idf = ln((1 + 3) / (1 + df)) + 1: apple, date 1 + ln 2 = 1.693147;
 * banana, cherry 1 + ln(4/3) = 1.287682.  Unit vectors:
 *   d0: apple 2*1.693147 / 3.622862 = 0.934702, banana 0.355432
 *   d1: banana 0.707107, cherry 0.707107
 *   d2: cherry 2*1.287682 / 3.082056 = 0.835592, date 0.549351
 * cos(d0, d1) = 0.355432 * 0.707107 = 0.251329;
 * cos(d1, d2) = 0.707107 * 0.835592 = 0.590852; cos(d0, d2) = 0.
 * A user who rated d0 5 and d2 1 has profile 5 d0 + d2, whose cosine with
 * d1 is (5 * 0.251329 + 0.590852) / |5 d0 + d2| = 1.847497 / 5.099020
 * = 0.362324. */
static drec_dataset *toy_corpus(void) {
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "toy");
    const char *texts[] = {"apple banana apple", "banana cherry", "Cherry, cherry; date!"};
    char name[8];
    for (int i = 0; i < 3; i++) drec_ds_item(ds, name, (size_t)snprintf(name, sizeof name, "d%d", i));
    int32_t u = drec_ds_user(ds, "u0", 2), v = drec_ds_user(ds, "u1", 2);
    ds->side->item_text = calloc(3, sizeof *ds->side->item_text);
    for (int i = 0; i < 3; i++) ds->side->item_text[i] = strdup(texts[i]);
    drec_ds_push(ds, u, 0, 5, 1);
    drec_ds_push(ds, u, 1, 1, 2);
    drec_ds_push(ds, v, 0, 5, 1);
    drec_ds_push(ds, v, 2, 1, 2);
    ds->has_rating = true;
    drec_ds_finish(ds);
    return ds;
}

TEST(tfidf_weights_match_hand_computed_values) {
    drec_dataset *ds = toy_corpus();
    drec_model *m = train("tfidf", ds, NULL);
    if (m) {
        float out[3];
        int32_t h0 = 0, h1 = 1;
        drec_query q = {.user = -1, .hist = &h0, .n_hist = 1};
        m->vt->score(m, &q, NULL, 0, out);
        CHECK_NEAR(out[0], 1.0, 1e-5);
        CHECK_NEAR(out[1], 0.251329, 1e-5);
        CHECK_NEAR(out[2], 0.0, 1e-6);
        q.hist = &h1;
        m->vt->score(m, &q, NULL, 0, out);
        CHECK_NEAR(out[0], 0.251329, 1e-5);
        CHECK_NEAR(out[2], 0.590852, 1e-5); /* d2 is cold for u0 yet scored */
        /* user u1 (d0 rated 5, d2 rated 1): rating-weighted profile */
        int32_t items[1] = {1};
        drec_model_score_user(m, 1, items, 1, out);
        CHECK_NEAR(out[0], 0.362324, 1e-5);
        /* similar items of d1: d2 first, then d0 */
        drec_scored top[2];
        int n = 0;
        CHECK_OK(drec_model_similar(m, 1, 2, top, &n));
        CHECK(n == 2 && top[0].id == 2 && top[1].id == 0);
        drec_model_free(m);
    }
    drec_dataset_free(ds);
}

TEST(tfidf_without_content_is_an_input_error) {
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "bare");
    drec_ds_item(ds, "a", 1);
    drec_ds_push(ds, drec_ds_user(ds, "u", 1), 0, 1, 0);
    drec_ds_finish(ds);
    drec_model *m = NULL;
    drec_params *p = drec_params_new();
    CHECK(drec_model_train("tfidf", ds, p, &m) == DREC_ERR_INPUT);
    CHECK(strstr(drec_errmsg(), "content") != NULL);
    CHECK(m == NULL);
    drec_params_free(p);
    drec_dataset_free(ds);
}

static void standardise(float *x, int n) {
    double s = 0, q = 0;
    for (int j = 0; j < n; j++) {
        s += x[j];
        q += (double)x[j] * x[j];
    }
    double mean = s / n, sd = sqrt(q / n - mean * mean);
    for (int j = 0; j < n; j++) x[j] = (float)((x[j] - mean) / sd);
}

/* The blend against its parts trained separately (same data, same seed):
 * warm items 0.7 z_als + 0.3 z_tfidf, an item with no training interactions
 * 0.3 z_tfidf (its CF term at the mean, 0), a short-history user content only, no history popularity. */
TEST(hybrid_blend_and_fallbacks) {
    drec_dataset *ds;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    int32_t cold = 7;
    size_t *rows = malloc(ds->n * sizeof *rows), n = 0;
    for (size_t r = 0; r < ds->n; r++)
        if (ds->item[r] != cold) rows[n++] = r;
    drec_dataset *tr = drec_dataset_subset(ds, rows, n);
    free(rows);
    drec_model *h = train("hybrid", tr, NULL), *als = train("als", tr, NULL), *ct = train("tfidf", tr, NULL);
    if (h && als && ct) {
        int nI = h->n_items;
        float *zh = malloc((size_t)nI * sizeof *zh), *za = malloc((size_t)nI * sizeof *za),
              *zc = malloc((size_t)nI * sizeof *zc);
        int32_t u = 0;
        while (drec_ds_user_count(tr, u) < 10) u++;
        drec_model_score_user(h, u, NULL, 0, zh);
        drec_model_score_user(als, u, NULL, 0, za);
        drec_model_score_user(ct, u, NULL, 0, zc);
        standardise(za, nI);
        standardise(zc, nI);
        double err_warm = 0;
        for (int i = 0; i < nI; i++)
            if (h->item_count[i] >= 3) err_warm = fmax(err_warm, fabs(zh[i] - (0.7 * za[i] + 0.3 * zc[i])));
        CHECK(err_warm < 1e-4);
        CHECK(h->item_count[cold] == 0);
        CHECK_NEAR(zh[cold], 0.3 * zc[cold], 1e-5);
        /* two items of history (< min_user = 3): content only */
        int32_t hist[2] = {tr->user_items[tr->user_ptr[u]], tr->user_items[tr->user_ptr[u] + 1]};
        drec_query q = {.user = -1, .hist = hist, .n_hist = 2};
        h->vt->score(h, &q, NULL, 0, zh);
        ct->vt->score(ct, &q, NULL, 0, zc);
        standardise(zc, nI);
        double err = 0;
        for (int i = 0; i < nI; i++) err = fmax(err, fabs(zh[i] - zc[i]));
        CHECK(err < 1e-4);
        /* no history: popularity order */
        q.n_hist = 0;
        h->vt->score(h, &q, NULL, 0, zh);
        int order_ok = 1;
        for (int i = 1; i < nI; i++)
            order_ok &= (h->item_count[i] > h->item_count[i - 1]) == (zh[i] > zh[i - 1]);
        CHECK(order_ok);
        free(zh);
        free(za);
        free(zc);
    }
    drec_model_free(h);
    drec_model_free(als);
    drec_model_free(ct);
    drec_dataset_free(tr);
    drec_dataset_free(ds);
}

TEST(bad_hyper_parameters_are_usage_errors) {
    drec_dataset *ds = toy_corpus();
    struct {
        const char *model, *key, *value;
    } bad[] = {{"als", "dim", "0"}, {"bpr", "lr", "-1"}, {"fm", "task", "ranking"}, {"fm", "optimizer", "adam"},
               {"hybrid", "cf", "hybrid"}, {"hybrid", "weight", "1.5"}};
    for (size_t k = 0; k < DREC_ARRAY_LEN(bad); k++) {
        drec_params *p = drec_params_new();
        drec_params_set(p, bad[k].key, bad[k].value);
        drec_model *m = NULL;
        drec_status st = drec_model_train(bad[k].model, ds, p, &m);
        if (st != DREC_ERR_USAGE) printf("  %s %s=%s: status %d\n", bad[k].model, bad[k].key, bad[k].value, st);
        CHECK(st == DREC_ERR_USAGE);
        CHECK(m == NULL);
        drec_params_free(p);
    }
    drec_dataset_free(ds);
}

/* Same seed, 1 or 2 threads: ALS solves rows independently, so the model
 * must be bit-identical; BPR is sequential unless hogwild is asked for. */
TEST(same_seed_same_numbers_for_any_thread_count) {
    drec_dataset *ds;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    const char *names[] = {"als", "bpr"};
    for (size_t k = 0; k < DREC_ARRAY_LEN(names); k++) {
        static const char *const one[] = {"threads", "1", "epochs", "5", NULL};
        static const char *const two[] = {"threads", "2", "epochs", "5", NULL};
        drec_model *a = train(names[k], ds, one), *b = train(names[k], ds, two);
        if (a && b) {
            size_t nI = (size_t)a->n_items;
            float *x = malloc(nI * sizeof *x), *y = malloc(nI * sizeof *y);
            int same = 1;
            for (int32_t u = 0; u < 20; u++) {
                drec_model_score_user(a, u, NULL, 0, x);
                drec_model_score_user(b, u, NULL, 0, y);
                same &= memcmp(x, y, nI * sizeof *x) == 0;
            }
            if (!same) printf("  %s differs between 1 and 2 threads\n", names[k]);
            CHECK(same);
            free(x);
            free(y);
        }
        drec_model_free(a);
        drec_model_free(b);
    }
    drec_set_threads(0);
    drec_dataset_free(ds);
}

/* The other BPR paths: popularity negatives, user-uniform positives and
 * lock-free threads still learn (beat popularity on held-out items). */
TEST(bpr_options_still_learn) {
    drec_dataset *ds, *tr, *te;
    CHECK_OK(drec_dataset_load(world_spec(), &ds));
    CHECK_OK(drec_split_loo(ds, &tr, &te));
    drec_model *pop = train("pop", tr, NULL);
    double hr_pop = hr_at_10(pop, tr, te);
    static const char *const opts[][9] = {
        {"epochs", "60", "neg_alpha", "0.5", NULL},
        {"epochs", "60", "sample", "user", NULL},
        {"epochs", "60", "hogwild", "1", "threads", "2", NULL},
    };
    for (size_t k = 0; k < DREC_ARRAY_LEN(opts); k++) {
        drec_model *m = train("bpr", tr, opts[k]);
        if (!m) continue;
        double hr = hr_at_10(m, tr, te);
        printf("  bpr %s=%s HR@10 %.4f (pop %.4f)\n", opts[k][2], opts[k][3], hr, hr_pop);
        CHECK(hr > hr_pop + 0.02);
        drec_model_free(m);
    }
    drec_set_threads(0);
    drec_model_free(pop);
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

int main(void) {
    RUN(every_model_beats_pop_leave_last_out);
    RUN(save_load_round_trip_identical_scores);
    RUN(foldin_new_users_beats_pop);
    RUN(als_foldin_agrees_with_trained_user);
    RUN(fm_pairwise_matches_bruteforce);
    RUN(fm_learns_a_feature_interaction_on_ctr_rows);
    RUN(fm_regression_beats_the_mean_rating);
    RUN(tfidf_weights_match_hand_computed_values);
    RUN(tfidf_without_content_is_an_input_error);
    RUN(hybrid_blend_and_fallbacks);
    RUN(bad_hyper_parameters_are_usage_errors);
    RUN(same_seed_same_numbers_for_any_thread_count);
    RUN(bpr_options_still_learn);
    return harness_summary();
}
