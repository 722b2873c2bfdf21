/*
 * test_models_ctr.c — feature columns and the CTR models (lr, widedeep,
 * deepfm, xdeepfm, autoint): hand-computed feature bags, finite-difference
 * checks of every fused backward pass, each model learning held-out clicks
 * that logistic regression cannot, and a save/load round trip.
 */
#include "harness.h"

#include <unistd.h>

#include "data/features.h"
#include "data/split.h"
#include "eval/metrics.h"
#include "drec.h"
#include "models/ctr.h"
#include "models/model.h"

static bool sanitized(void) { return getenv("DREC_SANITIZED") != NULL; }

/* ---- feature columns ------------------------------------------------------ */

/* Three ctr rows; the reader gave no fields, all rows have 3 features, so
 * field k is the k-th feature of the row.  Feature 5 is numeric. */
static drec_dataset *tiny_ctr(void) {
    drec_dataset *ds = drec_ds_new(DREC_DS_CTR, "test");
    const int32_t f[3][3] = {{0, 2, 5}, {1, 3, 5}, {0, 4, 5}};
    const float v[3] = {1.0f, 10.0f, 0.5f};
    for (int r = 0; r < 3; r++) {
        drec_ds_push(ds, -1, -1, r == 1 ? 1.0f : -1.0f, 0);
        drec_ds_push_feature(ds, f[r][0], 1);
        drec_ds_push_feature(ds, f[r][1], 1);
        drec_ds_push_feature(ds, f[r][2], v[r]);
    }
    drec_ds_finish(ds);
    return ds;
}

TEST(features_ctr_by_position) {
    drec_dataset *ds = tiny_ctr();
    drec_params *p = drec_params_new();
    drec_params_set(p, "num", "norm");
    drec_params_set(p, "cross", "f0*f1");
    drec_params_set(p, "cross_buckets", "1000");
    drec_featcols c;
    CHECK_OK(drec_featcols_fit(ds, p, &c));
    CHECK(c.n_fields == 3);
    CHECK(c.by_position == 1);
    /* ids by source index: 0,1,2,3,4 categorical, 5 numeric (norm: one id) */
    CHECK(c.vocab == 6);
    CHECK(c.n_ids == 9);
    CHECK(c.src_num[5] == 1 && c.src_num[0] == 0);
    drec_featrows fr;
    drec_featrows_build(&c, ds, NULL, 0, false, 1, &fr);
    CHECK(fr.n == 3);
    CHECK(!fr.one_hot); /* the numeric field has weights */
    CHECK(fr.label[0] == 0 && fr.label[1] == 1 && fr.label[2] == 0);
    CHECK(fr.ptr[3] == 3 && fr.ptr[9] == 9);
    CHECK(fr.idx[3] == 1 && fr.idx[4] == 3 && fr.idx[5] == 5);
    /* numeric: (v - mean) / std over the 3 rows: mean 3.8333, std 4.365267 */
    CHECK_NEAR(fr.val[5], (10.0 - 23.0 / 6) / 4.365267, 1e-4);
    CHECK_NEAR(fr.val[2], (1.0 - 23.0 / 6) / 4.365267, 1e-4);
    /* one cross per row, equal for equal (f0, f1) pairs only */
    CHECK(fr.cross_ptr[3] == 3);
    CHECK(fr.cross_idx[0] != fr.cross_idx[1] || fr.cross_idx[0] != fr.cross_idx[2]);
    for (int k = 0; k < 3; k++) CHECK(fr.cross_idx[k] >= 0 && fr.cross_idx[k] < 1000);
    drec_featrows_free(&fr);

    /* A feature unseen at fit time maps to its field's OOV id. */
    drec_dataset *t = drec_ds_new(DREC_DS_CTR, "test2");
    drec_ds_push(t, -1, -1, 1, 0);
    drec_ds_push_feature(t, 0, 1);
    drec_ds_push_feature(t, 7, 1);
    drec_ds_push_feature(t, 5, 3.0f);
    drec_ds_finish(t);
    drec_featrows_build(&c, t, NULL, 0, false, 1, &fr);
    CHECK(fr.idx[0] == 0);
    CHECK(fr.idx[1] == c.vocab + 1);
    drec_featrows_free(&fr);
    drec_dataset_free(t);
    drec_featcols_free(&c);

    /* Bucketised numeric: 64 ids for feature 5; v=1 -> bucket 3, v=10 ->
     * 5 + floor(log(10)^2) = 10, v=0.5 -> 2. */
    drec_params_set(p, "num", "bucket");
    CHECK_OK(drec_featcols_fit(ds, p, &c));
    CHECK(c.vocab == 5 + DREC_NUM_BUCKETS);
    drec_featrows_build(&c, ds, NULL, 0, false, 1, &fr);
    CHECK(fr.one_hot);
    CHECK(fr.idx[2] == 5 + 3);
    CHECK(fr.idx[5] == 5 + 10);
    CHECK(fr.idx[8] == 5 + 2);
    drec_featrows_free(&fr);
    drec_featcols_free(&c);

    /* Hashed: ids fall in [0, hash) and equal features share ids. */
    drec_params_set(p, "hash", "97");
    CHECK_OK(drec_featcols_fit(ds, p, &c));
    CHECK(c.vocab == 97 && c.n_ids == 100);
    drec_featrows_build(&c, ds, NULL, 0, false, 1, &fr);
    for (int k = 0; k < 9; k++) CHECK(fr.idx[k] >= 0 && fr.idx[k] < 97);
    CHECK(fr.idx[0] == fr.idx[6]);
    drec_featrows_free(&fr);
    drec_featcols_free(&c);

    drec_params_set(p, "cross", "f0*nope");
    CHECK(drec_featcols_fit(ds, p, &c) == DREC_ERR_USAGE);
    drec_params_free(p);
    drec_dataset_free(ds);
}

/* Interaction rows with user and item attributes: fields user, item, age,
 * genre; genre is multi-hot (mean pooled); label = rating >= 4. */
TEST(features_interactions) {
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "test");
    int32_t u0 = drec_ds_user(ds, "u0", 2), u1 = drec_ds_user(ds, "u1", 2);
    int32_t i0 = drec_ds_item(ds, "i0", 2), i1 = drec_ds_item(ds, "i1", 2);
    drec_ds_push(ds, u0, i0, 5, 1);
    drec_ds_push(ds, u1, i1, 2, 2);
    ds->has_rating = true;
    drec_attrs_add(&ds->side->user_attrs, u0, "age", "18-24", 1);
    drec_attrs_add(&ds->side->user_attrs, u1, "age", "25-34", 1);
    drec_attrs_finish(&ds->side->user_attrs, 2);
    drec_attrs_add(&ds->side->item_attrs, i0, "genre", "Comedy", 1);
    drec_attrs_add(&ds->side->item_attrs, i0, "genre", "Drama", 1);
    drec_attrs_add(&ds->side->item_attrs, i1, "genre", "Drama", 1);
    drec_attrs_finish(&ds->side->item_attrs, 2);
    drec_ds_finish(ds);
    drec_featcols c;
    CHECK_OK(drec_featcols_fit(ds, NULL, &c));
    CHECK(c.n_fields == 4);
    CHECK_STR(c.field_names[2], "age");
    CHECK_STR(c.field_names[3], "genre");
    /* ids: users 0-1, items 2-3, ages 4-5, genres 6-7 */
    CHECK(c.vocab == 8);
    drec_featrows fr;
    drec_featrows_build(&c, ds, NULL, 0, false, 1, &fr);
    CHECK(fr.label[0] == 1 && fr.label[1] == 0);
    /* row 0: user 0, item 2, age 4, genre {6, 7} at 1/2 each */
    CHECK(fr.ptr[4] == 5);
    CHECK(fr.idx[0] == 0 && fr.idx[1] == 2 && fr.idx[2] == 4);
    CHECK(fr.idx[3] == 6 && fr.idx[4] == 7);
    CHECK_NEAR(fr.val[3], 0.5, 1e-7);
    CHECK_NEAR(fr.val[4], 0.5, 1e-7);
    CHECK(!fr.one_hot);
    drec_featrows_free(&fr);
    /* a pair built for scoring matches the row */
    int32_t items[1] = {i1};
    drec_featrows_pairs(&c, u1, items, 1, &fr);
    CHECK(fr.n == 1 && fr.idx[0] == 1 && fr.idx[1] == 3 && fr.idx[2] == 5 && fr.idx[3] == 7);
    drec_featrows_free(&fr);
    drec_featcols_free(&c);
    drec_dataset_free(ds);
}

/* ---- gradients ----------------------------------------------------------- */

TEST(gradcheck_all_models) {
    const char *models[] = {"lr", "widedeep", "deepfm", "xdeepfm", "autoint"};
    for (int k = 0; k < 5; k++)
        for (int bn = 0; bn < 2; bn++) {
            if (k == 0 && bn) continue;
            int n = 0;
            double worst = drec_ctr_gradcheck(models[k], bn, &n);
            if (!(worst <= 1.0)) fprintf(stderr, "  %s bn=%d: worst %.3f of %d\n", models[k], bn, worst, n);
            CHECK(worst <= 1.0);
            CHECK(n > 10);
        }
}

/* The kernel for 16-wide heads against the general one, for field counts
 * where its whole-vector reads and writes of the scores fit inside a
 * head's F x F (8 and up) and where they do not. */
TEST(attention_kernels_agree) {
    const int Fs[] = {1, 3, 7, 8, 10, 16};
    for (int k = 0; k < 6; k++) {
        double d = drec_ctr_att_check(Fs[k]);
        if (!(d < 1e-4)) fprintf(stderr, "  F=%d: differ by %g\n", Fs[k], d);
        CHECK(d < 1e-4);
    }
}

/* ---- learning ------------------------------------------------------------- */

/* Clicks driven by a user x item interaction (parity match) plus a main
 * effect: logistic regression sees only the main effect. */
static drec_dataset *interaction_ctr(size_t n, uint64_t seed) {
    drec_dataset *ds = drec_ds_new(DREC_DS_CTR, "synthetic-ctr");
    drec_rng r;
    drec_rng_seed(&r, seed);
    for (size_t k = 0; k < n; k++) {
        int u = (int)drec_rng_below(&r, 30), i = (int)drec_rng_below(&r, 30), c = (int)drec_rng_below(&r, 4);
        double z = ((u % 2) == (i % 2) ? 2.0 : -2.0) + (c == 0 ? 1.0 : -0.3);
        float y = drec_rng_double(&r) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
        drec_ds_push(ds, -1, -1, y, 0);
        drec_ds_push_feature(ds, u, 1);
        drec_ds_push_feature(ds, 30 + i, 1);
        drec_ds_push_feature(ds, 60 + c, 1);
    }
    drec_ds_finish(ds);
    return ds;
}

/* AUC of scores against the click labels (label > 0 for ctr rows,
 * rating >= 4 for ratings), through the shared metric code. */
static double auc(const float *s, const drec_dataset *ds) {
    float *y = malloc(ds->n * sizeof *y);
    for (size_t r = 0; r < ds->n; r++) y[r] = ds->kind == DREC_DS_CTR ? ds->rating[r] > 0 : ds->rating[r] >= 4;
    double a = drec_auc(s, y, ds->n);
    free(y);
    return a;
}

/* Trains model on tr with p (freed here); its scores of te's rows, and the
 * epochs it ran (when n_epochs is given). */
static float *train_scores(const char *model, const drec_dataset *tr, const drec_dataset *te, drec_params *p,
                           int *n_epochs) {
    drec_model *m = NULL;
    CHECK_OK(drec_model_train(model, tr, p, &m));
    float *s = calloc(te->n, sizeof *s);
    if (m) {
        m->vt->predict(m, te, NULL, te->n, s);
        if (n_epochs) *n_epochs = m->n_epochs;
    }
    drec_model_free(m);
    drec_params_free(p);
    return s;
}

static double train_auc(const char *model, const drec_dataset *tr, const drec_dataset *te, const char *extra_k,
                        const char *extra_v) {
    drec_params *p = drec_params_new();
    drec_params_set(p, "dim", "8");
    if (tr->kind != DREC_DS_CTR) drec_params_set(p, "batch", "512");
    if (strcmp(model, "lr") != 0) drec_params_set(p, "layers", "32,32");
    if (tr->kind == DREC_DS_CTR) drec_params_set(p, "batch", "128");
    drec_params_set(p, "epochs", sanitized() && tr->kind != DREC_DS_CTR ? "4" : "6");
    drec_params_set(p, "lr", "0.01");
    if (strcmp(model, "xdeepfm") == 0) drec_params_set(p, "cin", "8,8");
    if (strcmp(model, "autoint") == 0) {
        drec_params_set(p, "att_dim", "8");
        drec_params_set(p, "att_layers", "2");
    }
    drec_params_set(p, "threads", "2");
    if (extra_k) drec_params_set(p, extra_k, extra_v);
    if (extra_v && strcmp(extra_v, "adagrad") == 0) drec_params_set(p, "lr", "0.1"); /* no momentum */
    float *s = train_scores(model, tr, te, p, NULL);
    double a = auc(s, te);
    free(s);
    return a;
}

TEST(models_learn_interactions) {
    size_t n = 3000; /* small already: the sanitizer build runs it as is */
    drec_dataset *tr = interaction_ctr(n, 1), *te = interaction_ctr(1500, 2);
    double lr = train_auc("lr", tr, te, NULL, NULL);
    fprintf(stderr, "  lr auc %.4f\n", lr);
    CHECK(lr > 0.55); /* the main effect; pop (constant) scores 0.5 */
    const char *models[] = {"widedeep", "deepfm", "xdeepfm", "autoint"};
    for (int k = 0; k < 4; k++) {
        double a = train_auc(models[k], tr, te, NULL, NULL);
        fprintf(stderr, "  %s auc %.4f\n", models[k], a);
        CHECK(a > lr + 0.1);
    }
    /* the regularisers and schedules run and still learn */
    double a = train_auc("deepfm", tr, te, "dropout", "0.2");
    CHECK(a > lr + 0.1);
    a = train_auc("deepfm", tr, te, "bn", "1");
    CHECK(a > lr + 0.1);
    a = train_auc("widedeep", tr, te, "schedule", "cosine");
    CHECK(a > lr + 0.1);
    a = train_auc("xdeepfm", tr, te, "optimizer", "adagrad");
    CHECK(a > lr + 0.1);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

/* Threads: two runs at 2 threads give the same numbers, and 1 thread the
 * same up to rounding (each sparse row has one owner and the fused step's
 * chunks are fixed by the batch, 2,500 rows here: three chunks; only
 * OpenBLAS may round a product split across threads differently). */
TEST(threads_deterministic) {
    drec_dataset *tr = interaction_ctr(3000, 5), *te = interaction_ctr(500, 6);
    const char *models[] = {"deepfm", "widedeep", "lr", "xdeepfm", "autoint"};
    for (int k = 0; k < 5; k++) {
        float *s[3];
        for (int t = 0; t < 3; t++) {
            drec_params *p = drec_params_new();
            drec_params_set(p, "dim", "8");
            drec_params_set(p, "layers", "64,32");
            drec_params_set(p, "batch", "2500");
            drec_params_set(p, "epochs", "3");
            drec_params_set(p, "lr", "0.01");
            drec_params_set(p, "cin", "8,8");
            drec_params_set(p, "threads", t ? "2" : "1");
            if (k == 0) drec_params_set(p, "dropout", "0.2");
            s[t] = train_scores(models[k], tr, te, p, NULL);
        }
        double d12 = 0, d01 = 0;
        for (size_t q = 0; q < te->n; q++) {
            d01 = fmax(d01, fabs(s[0][q] - s[1][q]));
            d12 = fmax(d12, fabs(s[1][q] - s[2][q]));
        }
        CHECK(d12 == 0);
        CHECK(d01 < 1e-5);
        CHECK(s[0][0] > 0 && s[0][0] < 1);
        for (int t = 0; t < 3; t++) free(s[t]);
    }
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(early_stopping_and_roundtrip) {
    drec_dataset *tr = interaction_ctr(sanitized() ? 1500 : 3000, 3), *te = interaction_ctr(500, 4);
    drec_params *p = drec_params_new();
    drec_params_set(p, "dim", "4");
    drec_params_set(p, "layers", "16");
    drec_params_set(p, "batch", "64");
    drec_params_set(p, "epochs", "50");
    drec_params_set(p, "lr", "0.05");
    drec_params_set(p, "val", "0.3");
    drec_params_set(p, "patience", "2");
    drec_params_set(p, "bn", "1");
    drec_model *m = NULL;
    CHECK_OK(drec_model_train("deepfm", tr, p, &m));
    CHECK(m && m->n_epochs < 50); /* stopped on the validation split */
    float *a = malloc(te->n * sizeof *a), *b = malloc(te->n * sizeof *b);
    m->vt->predict(m, te, NULL, te->n, a);
    char path[] = "/tmp/drec_ctr_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(drec_model_save(m, path));
    drec_model *m2 = NULL;
    CHECK_OK(drec_model_load(path, &m2));
    if (m2) {
        m2->vt->predict(m2, te, NULL, te->n, b);
        double worst = 0;
        for (size_t k = 0; k < te->n; k++) worst = fmax(worst, fabs(a[k] - b[k]));
        CHECK(worst == 0);
        drec_model_free(m2);
    }
    unlink(path);
    free(a);
    free(b);
    drec_model_free(m);
    drec_params_free(p);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

/* --epochs 0 gives the initialised model (to start another tool from the
 * same weights): it predicts, it is not the trained one, and the seed sets
 * it. */
TEST(epochs_zero_is_the_initial_model) {
    drec_dataset *tr = interaction_ctr(1000, 7), *te = interaction_ctr(200, 8);
    float *s[3];
    const char *seeds[] = {"3", "3", "4"}, *epochs[] = {"0", "1", "0"};
    for (int k = 0; k < 3; k++) {
        drec_params *p = drec_params_new();
        drec_params_set(p, "dim", "4");
        drec_params_set(p, "layers", "16");
        drec_params_set(p, "cin", "4,4");
        drec_params_set(p, "epochs", epochs[k]);
        drec_params_set(p, "seed", seeds[k]);
        int ran = -1;
        s[k] = train_scores("xdeepfm", tr, te, p, &ran);
        CHECK(ran == atoi(epochs[k]));
    }
    double d_trained = 0, d_seed = 0;
    for (size_t q = 0; q < te->n; q++) {
        d_trained = fmax(d_trained, fabs(s[0][q] - s[1][q]));
        d_seed = fmax(d_seed, fabs(s[0][q] - s[2][q]));
    }
    CHECK(d_trained > 1e-3 && d_seed > 1e-4);
    for (int k = 0; k < 3; k++) free(s[k]);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

/* MovieLens-100K as click prediction (rating >= 4) with user age, gender,
 * occupation and item genres: the joint wide & deep model beats each half
 * trained alone. */
TEST(widedeep_movielens_halves) {
    drec_dataset *ds = NULL;
    char *path = data_path("movielens-100k");
    CHECK_OK(drec_read_movielens(path, NULL, &ds));
    free(path);
    if (!ds) return;
    drec_dataset *tr = NULL, *te = NULL;
    CHECK_OK(drec_split_holdout(ds, 0.2, 1, &tr, &te));
    double wide = train_auc("widedeep", tr, te, "part", "wide");
    double deep = train_auc("widedeep", tr, te, "part", "deep");
    double both = train_auc("widedeep", tr, te, NULL, NULL);
    fprintf(stderr, "  movielens auc: wide %.4f deep %.4f wide&deep %.4f\n", wide, deep, both);
    CHECK(both > wide);
    CHECK(both > deep);
    CHECK(deep > 0.7);
    drec_dataset_free(tr);
    drec_dataset_free(te);
    drec_dataset_free(ds);
}

int main(void) {
    RUN(features_ctr_by_position);
    RUN(features_interactions);
    RUN(gradcheck_all_models);
    RUN(attention_kernels_agree);
    RUN(models_learn_interactions);
    RUN(threads_deterministic);
    RUN(early_stopping_and_roundtrip);
    RUN(epochs_zero_is_the_initial_model);
    RUN(widedeep_movielens_halves);
    return harness_summary();
}
