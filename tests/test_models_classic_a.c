/*
 * test_models_classic_a.c — neighbourhood models (itemknn, userknn, timeknn)
 * and matrix factorization (mf, svdpp):
 *  - the similarities and the KNNBaseline prediction on a 4 x 3 matrix
 *    against values worked out by hand;
 *  - on MovieLens-100K's official u1 split, every rating model beats the
 *    bias baseline (mu + b_u + b_i) in RMSE;
 *  - under leave-last-out on MovieLens-100K (as 0/1 data), the ranking
 *    models beat popularity in HR@10, known users and folded-in ones;
 *  - save/load gives identical scores and predictions; similarities do
 *    not depend on the thread count.
 * Under DREC_SANITIZED=1 the MovieLens tests use the first 300 users only.
 */
#include "drec.h"
#include "data/dataset.h"
#include "models/knn.h"
#include "harness.h"

#include <unistd.h>

static bool sanitized(void) {
    const char *e = getenv("DREC_SANITIZED");
    return e && *e && strcmp(e, "0") != 0;
}

/* ---- the tiny matrix -------------------------------------------------------
 *        i0 i1 i2
 *   u0    5  4  1
 *   u1    4  5  2
 *   u2    1  2  5
 *   u3    2  .  4
 */
static drec_dataset *tiny(bool extra) {
    static const int R[4][3] = {{5, 4, 1}, {4, 5, 2}, {1, 2, 5}, {2, 0, 4}};
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "tiny");
    char name[8];
    for (int u = 0; u < 4; u++) {
        snprintf(name, sizeof name, "u%d", u);
        int32_t du = drec_ds_user(ds, name, strlen(name));
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "i%d", i);
            int32_t di = drec_ds_item(ds, name, strlen(name));
            if (R[u][i]) drec_ds_push(ds, du, di, (float)R[u][i], 1000 * (u * 3 + i));
        }
    }
    if (extra) drec_ds_push(ds, 3, 1, 3, 99999); /* (u3, i1): the row to predict */
    ds->has_rating = ds->has_time = true;
    drec_ds_finish(ds);
    return ds;
}

static drec_model *train(const char *name, const drec_dataset *ds, const char *kv) {
    drec_params *p = drec_params_new();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", kv ? kv : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        drec_params_set(p, tok, eq + 1);
    }
    drec_model *m = NULL;
    CHECK_OK(drec_model_train(name, ds, p, &m));
    drec_params_free(p);
    return m;
}

/* sim(i0, i0), sim(i0, i1) and sim(i0, i2) as itemknn keeps them. */
static void sims_from_i0(const char *kv, float out[3]) {
    drec_dataset *ds = tiny(false);
    drec_model *m = train("itemknn", ds, kv);
    for (int i = 0; i < 3; i++) out[i] = drec_knn_similarity(m, 0, i);
    drec_model_free(m);
    drec_dataset_free(ds);
}

TEST(item_similarities_match_hand_values) {
    float s[3];
    /* cosine over full vectors: i0 = (5,4,1,2), i1 = (4,5,2,0), i2 = (1,2,5,4). */
    sims_from_i0("sim=cosine shrink=0", s);
    CHECK_NEAR(s[1], 42 / sqrt(46.0 * 45), 1e-6);
    CHECK_NEAR(s[2], 26 / 46.0, 1e-6);
    CHECK(s[0] == 0); /* an item is not its own neighbour */
    /* shrinkage n / (n + 3): 3 common raters for (i0,i1), 4 for (i0,i2). */
    sims_from_i0("sim=cosine shrink=3", s);
    CHECK_NEAR(s[1], 42 / sqrt(46.0 * 45) * 3 / 6, 1e-6);
    CHECK_NEAR(s[2], 26 / 46.0 * 4 / 7, 1e-6);
    /* adjusted cosine: centred by user means 10/3, 11/3, 8/3, 3 over the
     * common raters u0..u2: (5/3, 1/3, -5/3) . (2/3, 4/3, -2/3) = 24/9,
     * norms^2 51/9 and 24/9.  (i0, i2) is negative: dropped. */
    sims_from_i0("sim=adjusted shrink=0", s);
    CHECK_NEAR(s[1], 24 / sqrt(51.0 * 24), 1e-6);
    CHECK(s[2] == 0);
    /* pearson: centred by item means 3, 11/3, 3: (2, 1, -2) . (1/3, 4/3, -5/3)
     * = 16/3, norms^2 9 and 42/9 -> 16 / (3 sqrt 42); (i0, i2) = -1. */
    sims_from_i0("sim=pearson shrink=0", s);
    CHECK_NEAR(s[1], 16 / (3 * sqrt(42.0)), 1e-6);
    CHECK(s[2] == 0);
    /* keep = 1 keeps only the nearest neighbour. */
    sims_from_i0("sim=cosine shrink=0 keep=1", s);
    CHECK_NEAR(s[1], 42 / sqrt(46.0 * 45), 1e-6);
    CHECK(s[2] == 0);
}

TEST(knn_rating_prediction_matches_hand_value) {
    drec_dataset *all = tiny(true);
    size_t rows[11];
    for (size_t r = 0; r < 11; r++) rows[r] = r;
    drec_dataset *ds = drec_dataset_subset(all, rows, 11), *q = all; /* training leaves out (u3, i1) */
    size_t row = 11;
    const double mu = 35.0 / 11;
    float got;
    /* item-based: u3 rated i0 = 2 and i2 = 4; sim(i1,i0) = 42/sqrt(2070),
     * sim(i1,i2) = 24/sqrt(2070).  With bl_epochs=0 the baseline is mu. */
    drec_model *m = train("itemknn", ds, "sim=cosine shrink=0 bl_epochs=0");
    m->vt->predict(m, q, &row, 1, &got);
    double s0 = 42 / sqrt(2070.0), s2 = 24 / sqrt(2070.0);
    CHECK_NEAR(got, mu + (s0 * (2 - mu) + s2 * (4 - mu)) / (s0 + s2), 1e-5);
    drec_model_free(m);
    /* user-based: u3 = (2, ., 4); raters of i1 are u0 (4), u1 (5), u2 (2)
     * with sims 14/sqrt(840), 16/30, 22/sqrt(600). */
    m = train("userknn", ds, "sim=cosine shrink=0 bl_epochs=0");
    m->vt->predict(m, q, &row, 1, &got);
    double a = 14 / sqrt(840.0), b = 16 / 30.0, c = 22 / sqrt(600.0);
    CHECK_NEAR(got, mu + (a * (4 - mu) + b * (5 - mu) + c * (2 - mu)) / (a + b + c), 1e-5);
    drec_model_free(m);
    /* neighbors=1: only the strongest neighbour, u2 (0.898), counts. */
    m = train("userknn", ds, "sim=cosine shrink=0 bl_epochs=0 neighbors=1");
    m->vt->predict(m, q, &row, 1, &got);
    CHECK_NEAR(got, 2.0, 1e-5);
    drec_model_free(m);
    drec_dataset_free(ds);
    drec_dataset_free(all);
}

TEST(ranking_on_ratings_sums_binary_cosines) {
    /* On rated data the ranking lists are the 0/1 cosine: i0 and i2 were
     * had by u0..u3, i1 by u0..u2, so cos(i0,i1) = 3/sqrt(12), cos(i0,i2) = 1;
     * with shrinkage 3 they take n / (n + 3) = 1/2 and 4/7. */
    drec_dataset *ds = tiny(false);
    drec_model *m = train("itemknn", ds, "shrink=3");
    int32_t h = 0;
    drec_query q = {.user = -1, .hist = &h, .n_hist = 1};
    float s[3];
    m->vt->score(m, &q, NULL, 0, s);
    CHECK(s[0] == 0);
    CHECK_NEAR(s[1], 3 / sqrt(12.0) / 2, 1e-6);
    CHECK_NEAR(s[2], 4.0 / 7, 1e-6);
    drec_model_free(m);
    drec_dataset_free(ds);
}

TEST(timeknn_weights_decay_with_age) {
    /* As 0/1 data: i0 and i2 were had by all four users, i1 by u0..u2, so
     * cos(i0, i1) = cos(i2, i1) = 3 / sqrt(12).  u3 had i0 at t = 9000 and
     * i2 at t = 11000: with a half-life of 2000 s, i0 weighs 1/2. */
    drec_dataset *ds = tiny(false);
    ds->has_rating = false;
    char kv[128];
    snprintf(kv, sizeof kv, "shrink=0 half_life=%.17g", 2000.0 / 86400);
    drec_model *m = train("timeknn", ds, kv);
    float s[3];
    drec_model_score_user(m, 3, NULL, 0, s);
    CHECK_NEAR(s[1], 1.5 * 3 / sqrt(12.0), 1e-5);
    /* Folded in without times, positions are dated by the mean gap between
     * consecutive events, 8000 s / 7 gaps: i0 weighs 2^(-4/7). */
    int32_t h[2] = {0, 2};
    drec_query q = {.user = -1, .hist = h, .n_hist = 2};
    m->vt->score(m, &q, NULL, 0, s);
    CHECK_NEAR(s[1], (pow(2, -4.0 / 7) + 1) * 3 / sqrt(12.0), 1e-5);
    drec_model_free(m);
    drec_dataset_free(ds);
}

/* ---- MovieLens-100K --------------------------------------------------------- */

static int load_rows(drec_dataset *ds, const char *rel, int max_user) {
    char *path = data_path(rel);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return -1;
    char u[32], i[32];
    float r;
    long long t;
    int n = 0;
    while (fscanf(f, "%31s %31s %f %lld", u, i, &r, &t) == 4) {
        if (atoi(u) > max_user) continue;
        drec_ds_push(ds, drec_ds_user(ds, u, strlen(u)), drec_ds_item(ds, i, strlen(i)), r, (int64_t)t);
        n++;
    }
    fclose(f);
    return n;
}

static int max_user(void) { return sanitized() ? 300 : 1000000; }

TEST(rating_models_beat_bias_baseline_on_ml100k_u1) {
    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k-u1");
    int nb = load_rows(all, "movielens-100k/u1.base", max_user());
    int nt = load_rows(all, "movielens-100k/u1.test", max_user());
    CHECK(nb > 10000 && nt > 2000);
    if (nb <= 0 || nt <= 0) return;
    all->has_rating = all->has_time = true;
    drec_ds_finish(all);
    size_t *tr = malloc((size_t)nb * sizeof *tr), *te = malloc((size_t)nt * sizeof *te);
    for (int k = 0; k < nb; k++) tr[k] = (size_t)k;
    for (int k = 0; k < nt; k++) te[k] = (size_t)(nb + k);
    drec_dataset *trn = drec_dataset_subset(all, tr, (size_t)nb);

    /* The bias baseline, fitted here independently: alternating
     * regularised means (reg 10 for items, 15 for users). */
    double mu = 0;
    for (int k = 0; k < nb; k++) mu += all->rating[k];
    mu /= nb;
    double *bu = calloc((size_t)all->n_users, sizeof *bu), *bi = calloc((size_t)all->n_items, sizeof *bi);
    double *acc = calloc((size_t)DREC_MAX(all->n_users, all->n_items), sizeof *acc);
    int *cnt = calloc((size_t)DREC_MAX(all->n_users, all->n_items), sizeof *cnt);
    for (int it = 0; it < 10; it++) {
        memset(acc, 0, (size_t)all->n_items * sizeof *acc);
        memset(cnt, 0, (size_t)all->n_items * sizeof *cnt);
        for (int k = 0; k < nb; k++) {
            acc[all->item[k]] += all->rating[k] - mu - bu[all->user[k]];
            cnt[all->item[k]]++;
        }
        for (int i = 0; i < all->n_items; i++) bi[i] = acc[i] / (10 + cnt[i]);
        memset(acc, 0, (size_t)all->n_users * sizeof *acc);
        memset(cnt, 0, (size_t)all->n_users * sizeof *cnt);
        for (int k = 0; k < nb; k++) {
            acc[all->user[k]] += all->rating[k] - mu - bi[all->item[k]];
            cnt[all->user[k]]++;
        }
        for (int u = 0; u < all->n_users; u++) bu[u] = acc[u] / (15 + cnt[u]);
    }
    double se = 0;
    for (int k = 0; k < nt; k++) {
        size_t r = te[k];
        double p = DREC_MIN(5, DREC_MAX(1, mu + bu[all->user[r]] + bi[all->item[r]]));
        se += (p - all->rating[r]) * (p - all->rating[r]);
    }
    double base = sqrt(se / nt);
    fprintf(stderr, "    bias baseline rmse %.4f\n", base);
    CHECK(base > 0.9 && base < 1.0);

    const char *models[] = {"mf", "svdpp", "itemknn", "userknn"};
    float *pred = malloc((size_t)nt * sizeof *pred);
    for (int j = 0; j < 4; j++) {
        drec_model *m = train(models[j], trn, NULL);
        if (!m) continue;
        m->vt->predict(m, all, te, (size_t)nt, pred);
        se = 0;
        for (int k = 0; k < nt; k++) se += (pred[k] - all->rating[te[k]]) * (pred[k] - all->rating[te[k]]);
        double rmse = sqrt(se / nt);
        fprintf(stderr, "    %-8s rmse %.4f (%.2fs)\n", models[j], rmse, m->train_seconds);
        /* The 300-user subset of the sanitizer build is too small for the
         * neighbourhood models to win; there it checks sanity only. */
        CHECK(sanitized() ? rmse < base + 0.05 : rmse < base - 0.01);
        drec_model_free(m);
    }
    free(pred);
    free(bu);
    free(bi);
    free(acc);
    free(cnt);
    free(tr);
    free(te);
    drec_dataset_free(trn);
    drec_dataset_free(all);
}

/* ML-100K as 0/1 data, each user's last interaction held out. */
typedef struct loo {
    drec_dataset *all, *train;
    size_t *test_row; /* (U) held-out row of each user */
} loo;

static bool loo_load(loo *d, bool ratings) {
    d->all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k-loo");
    if (load_rows(d->all, "movielens-100k/u.data", max_user()) <= 0) return false;
    d->all->has_time = true;
    d->all->has_rating = ratings;
    drec_ds_finish(d->all);
    drec_dataset *a = d->all;
    size_t *tr = malloc(a->n * sizeof *tr), ntr = 0;
    d->test_row = malloc((size_t)a->n_users * sizeof *d->test_row);
    for (int32_t u = 0; u < a->n_users; u++) {
        int64_t lo = a->user_ptr[u], hi = a->user_ptr[u + 1];
        for (int64_t j = lo; j < hi - 1; j++) tr[ntr++] = a->by_user[j];
        d->test_row[u] = a->by_user[hi - 1];
    }
    d->train = drec_dataset_subset(a, tr, ntr);
    free(tr);
    return true;
}

static void loo_free(loo *d) {
    drec_dataset_free(d->train);
    drec_dataset_free(d->all);
    free(d->test_row);
}

/* HR@10 over all users, ranking every item the user did not have in
 * training; foldin = score each user as unknown from the history alone. */
static double hr10(const drec_model *m, const loo *d, bool foldin) {
    int hits = 0;
    drec_scored top[10];
    for (int32_t u = 0; u < m->n_users; u++) {
        const int32_t *h = m->seen_idx + m->seen_ptr[u];
        int nh = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u]);
        drec_query q = {.user = foldin ? -1 : u, .hist = h, .n_hist = nh};
        int n = drec_model_recommend_query(m, &q, 10, h, nh, top);
        int32_t target = d->all->item[d->test_row[u]];
        for (int k = 0; k < n; k++) hits += top[k].id == target;
    }
    return (double)hits / m->n_users;
}

TEST(ranking_models_beat_pop_leave_last_out) {
    loo d = {0};
    CHECK(loo_load(&d, false));
    if (!d.all) return;
    drec_model *pop = train("pop", d.train, NULL);
    double hp = hr10(pop, &d, false);
    fprintf(stderr, "    pop      hr@10 %.4f\n", hp);
    const char *models[] = {"itemknn", "userknn", "timeknn"};
    for (int j = 0; j < 3; j++) {
        drec_model *m = train(models[j], d.train, NULL);
        double h = hr10(m, &d, false);
        fprintf(stderr, "    %-8s hr@10 %.4f\n", models[j], h);
        CHECK(h > hp * 1.1);
        if (m->vt->caps & DREC_CAP_FOLDIN) {
            double hf = hr10(m, &d, true);
            fprintf(stderr, "    %-8s hr@10 %.4f folded in\n", models[j], hf);
            CHECK(hf > hp * 1.1);
            if (strcmp(models[j], "itemknn") == 0) CHECK(hf == h); /* nothing per-user is learned */
        }
        drec_model_free(m);
    }
    drec_model_free(pop);
    loo_free(&d);
    /* The same with the ratings kept: ranking still beats popularity. */
    CHECK(loo_load(&d, true));
    for (int j = 0; j < 2; j++) {
        drec_model *m = train(models[j], d.train, NULL);
        double h = hr10(m, &d, false);
        fprintf(stderr, "    %-8s hr@10 %.4f trained on ratings\n", models[j], h);
        CHECK(h > hp * 1.1);
        drec_model_free(m);
    }
    loo_free(&d);
}

/* Folding a trained user's history back in gives a user vector that ranks
 * items like the trained one: mean Spearman-like agreement measured as the
 * Pearson correlation of the two score vectors over all items. */
TEST(mf_foldin_agrees_with_trained_users) {
    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k");
    CHECK(load_rows(all, "movielens-100k/u.data", max_user()) > 0);
    all->has_rating = all->has_time = true;
    drec_ds_finish(all);
    const char *models[] = {"mf", "svdpp"};
    for (int j = 0; j < 2; j++) {
        drec_model *m = train(models[j], all, NULL);
        int32_t I = m->n_items;
        float *a = malloc((size_t)I * sizeof *a), *b = malloc((size_t)I * sizeof *b);
        double mean_corr = 0;
        int users = DREC_MIN(m->n_users, 100);
        for (int32_t u = 0; u < users; u++) {
            drec_model_score_user(m, u, NULL, 0, a);
            drec_query q = {.user = -1, .hist = m->seen_idx + m->seen_ptr[u],
                            .n_hist = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u])};
            m->vt->score(m, &q, NULL, 0, b);
            double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
            for (int32_t i = 0; i < I; i++) {
                sa += a[i];
                sb += b[i];
            }
            sa /= I;
            sb /= I;
            for (int32_t i = 0; i < I; i++) {
                sab += (a[i] - sa) * (b[i] - sb);
                saa += (a[i] - sa) * (a[i] - sa);
                sbb += (b[i] - sb) * (b[i] - sb);
            }
            mean_corr += sab / sqrt(saa * sbb + 1e-30);
        }
        mean_corr /= users;
        fprintf(stderr, "    %-6s fold-in vs trained score correlation %.3f\n", models[j], mean_corr);
        CHECK(mean_corr > 0.6);
        free(a);
        free(b);
        drec_model_free(m);
    }
    drec_dataset_free(all);
}

TEST(save_load_round_trip_is_exact) {
    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k-small");
    CHECK(load_rows(all, "movielens-100k/u.data", 200) > 0);
    all->has_rating = all->has_time = true;
    drec_ds_finish(all);
    const char *models[] = {"itemknn", "userknn", "timeknn", "mf", "svdpp"};
    char path[256];
    snprintf(path, sizeof path, "/tmp/drec_classic_a_%d.drec", (int)getpid());
    size_t rows[50];
    for (int k = 0; k < 50; k++) rows[k] = (size_t)k * 97 % all->n;
    for (int j = 0; j < 5; j++) {
        drec_model *m = train(models[j], all, j >= 3 ? "epochs=3" : NULL), *l = NULL;
        CHECK_OK(drec_model_save(m, path));
        CHECK_OK(drec_model_load(path, &l));
        if (!l) continue;
        int32_t I = m->n_items;
        float *a = malloc((size_t)I * sizeof *a), *b = malloc((size_t)I * sizeof *b);
        for (int32_t u = 0; u < m->n_users; u += 37) {
            drec_model_score_user(m, u, NULL, 0, a);
            drec_model_score_user(l, u, NULL, 0, b);
            CHECK(memcmp(a, b, (size_t)I * sizeof *a) == 0);
        }
        int32_t h[2] = {3, 10};
        drec_query q = {.user = -1, .hist = h, .n_hist = 2};
        m->vt->score(m, &q, NULL, 0, a);
        l->vt->score(l, &q, NULL, 0, b);
        CHECK(memcmp(a, b, (size_t)I * sizeof *a) == 0);
        float pa[50], pb[50];
        m->vt->predict(m, all, rows, 50, pa);
        l->vt->predict(l, all, rows, 50, pb);
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
        free(a);
        free(b);
        drec_model_free(m);
        drec_model_free(l);
    }
    unlink(path);
    drec_dataset_free(all);
}

TEST(similarities_do_not_depend_on_threads) {
    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k-small");
    CHECK(load_rows(all, "movielens-100k/u.data", 300) > 0);
    all->has_rating = all->has_time = true;
    drec_ds_finish(all);
    drec_model *a = train("itemknn", all, "threads=1"), *b = train("itemknn", all, "threads=2");
    size_t rows[200];
    for (int k = 0; k < 200; k++) rows[k] = (size_t)k * 131 % all->n;
    float pa[200], pb[200];
    a->vt->predict(a, all, rows, 200, pa);
    b->vt->predict(b, all, rows, 200, pb);
    CHECK(memcmp(pa, pb, sizeof pa) == 0);
    drec_model_free(a);
    drec_model_free(b);
    drec_set_threads(0);
    drec_dataset_free(all);
}

int main(void) {
    RUN(item_similarities_match_hand_values);
    RUN(knn_rating_prediction_matches_hand_value);
    RUN(ranking_on_ratings_sums_binary_cosines);
    RUN(timeknn_weights_decay_with_age);
    RUN(rating_models_beat_bias_baseline_on_ml100k_u1);
    RUN(ranking_models_beat_pop_leave_last_out);
    RUN(mf_foldin_agrees_with_trained_users);
    RUN(save_load_round_trip_is_exact);
    RUN(similarities_do_not_depend_on_threads);
    return harness_summary();
}
