/*
 * test_readers.c — every reader against the shared datasets: the counts
 * stated in each SOURCE.md, and spot checks of values read by hand from
 * the files (a u.data row, a Latin-1 title, genres, negatives, ...).
 */
#include "harness.h"

#include "data/dataset.h"
#include "data/textio.h"

#include <dirent.h>
#include <unistd.h>

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


TEST(diginetica_sessions) {
    drec_dataset *ds = load("session", "diginetica-sample/sample_train-item-views.csv");
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->kind == DREC_DS_SESSIONS);
    CHECK(ds->n == 12391);
    CHECK(ds->n_users == 2986);
    CHECK(ds->n_items == 7139);
    CHECK(ds->n_skip_reasons == 1 && ds->skipped[0].count == 1);
    /* "1;NA;81766;526309;2016-05-09": session 1, item 81766,
     * ts = days(2016-05-09) * 86400000 + 526309 ms. */
    CHECK_STR(drec_dataset_user_name(ds, ds->user[0]), "1");
    CHECK_STR(drec_dataset_item_name(ds, ds->item[0]), "81766");
    CHECK(ds->ts[0] == (int64_t)16930 * 86400000 + 526309);
    /* 933 sessions of one event (SOURCE.md). */
    int singles = 0;
    for (int32_t u = 0; u < ds->n_users; u++) singles += drec_ds_user_count(ds, u) == 1;
    CHECK(singles == 933);
    drec_dataset_free(ds);
}

TEST(criteo_csv) {
    drec_dataset *ds = load("ctr", "criteo-kaggle-tiny/train.tiny.csv");
    CHECK(ds != NULL);
    if (!ds) return;
    drec_side *sd = ds->side;
    CHECK(ds->kind == DREC_DS_CTR);
    CHECK(ds->n == 1999);
    CHECK(sd->n_fields == 39);
    size_t pos = 0;
    bool one_per_field = true;
    for (size_t r = 0; r < ds->n; r++) {
        pos += ds->rating[r] == 1.0f;
        one_per_field &= ds->feat_ptr[r + 1] - ds->feat_ptr[r] == 39;
        for (int64_t k = ds->feat_ptr[r]; k < ds->feat_ptr[r + 1] && one_per_field; k++)
            one_per_field &= sd->feature_field[ds->feat_idx[k]] == (int32_t)(k - ds->feat_ptr[r]);
    }
    CHECK(pos == 418);
    CHECK(one_per_field);
    CHECK_STR(sd->field_names[0], "I1");
    CHECK_STR(sd->field_names[13], "C1");
    CHECK_STR(sd->field_names[38], "C26");
    /* Row 1: 10000000,0,1,1,5,0,1382,4,15,2,181,1,2,,2,68fd1e64,...,07b5194c,,3a171ecb,... */
    CHECK(ds->rating[0] == 0.0f);
    const drec_strmap *fn = &sd->feature_names;
    CHECK(ds->feat_idx[0] == drec_strmap_find(fn, "I1", 2));
    CHECK_NEAR(ds->feat_val[0], log(2.0), 1e-6);
    CHECK_NEAR(ds->feat_val[4], log(1383.0), 1e-5);
    CHECK(ds->feat_idx[11] == drec_strmap_find(fn, "I12=missing", 11));
    CHECK(ds->feat_val[11] == 1.0f);
    CHECK(ds->feat_idx[13] == drec_strmap_find(fn, "C1=68fd1e64", 11));
    CHECK(ds->feat_idx[13 + 21] == drec_strmap_find(fn, "C22=missing", 11));
    /* The test file maps into the same dictionary. */
    char *tp = data_path("criteo-kaggle-tiny/test.tiny.csv");
    drec_dataset *te = NULL;
    int32_t nf_before = sd->n_features;
    CHECK_OK(drec_read_ctr_into(tp, ds, &te));
    free(tp);
    if (te) {
        CHECK(te->n == 1999);
        CHECK(te->side == ds->side);
        CHECK(sd->n_fields == 39);
        CHECK(sd->n_features > nf_before);
        bool ok = true;
        for (size_t r = 0; r < te->n; r++) ok &= te->feat_ptr[r + 1] - te->feat_ptr[r] == 39;
        CHECK(ok);
        drec_dataset_free(te);
    }
    drec_dataset_free(ds);
}

/* A test file loaded on its own, then moved into the training dictionary. */
TEST(ctr_adopt_features) {
    drec_dataset *tr = load("ctr", "criteo-kaggle-tiny/train.tiny.csv");
    drec_dataset *te = load("ctr", "criteo-kaggle-tiny/test.tiny.csv");
    CHECK(tr && te);
    if (!tr || !te) return;
    /* Test row 1's C1 value, by name in the test's own dictionary. */
    const char *name = drec_strmap_name(&te->side->feature_names, te->feat_idx[13]);
    char want[64];
    snprintf(want, sizeof want, "%s", name);
    CHECK_OK(drec_ctr_adopt_features(tr, te));
    CHECK_STR(drec_strmap_name(&tr->side->feature_names, te->feat_idx[13]), want);
    bool fields = true;
    for (size_t r = 0; r < te->n; r++)
        for (int64_t k = te->feat_ptr[r]; k < te->feat_ptr[r + 1]; k++)
            fields &= tr->side->feature_field[te->feat_idx[k]] == (int32_t)(k - te->feat_ptr[r]);
    CHECK(fields);
    /* The same dictionary as reading the test file into it directly. */
    drec_dataset *tr2 = load("ctr", "criteo-kaggle-tiny/train.tiny.csv"), *te2 = NULL;
    char *tp = data_path("criteo-kaggle-tiny/test.tiny.csv");
    CHECK(tr2 && drec_read_ctr_into(tp, tr2, &te2) == DREC_OK);
    free(tp);
    if (te2) {
        CHECK(tr2->side->n_features == tr->side->n_features);
        CHECK(te2->feat_n == te->feat_n && memcmp(te2->feat_idx, te->feat_idx, te->feat_n * sizeof *te->feat_idx) == 0);
    }
    drec_dataset_free(te2);
    drec_dataset_free(tr2);
    drec_dataset_free(te);
    drec_dataset_free(tr);
}

/* Field ranges from frappe-nfm/SOURCE.md. */
static int frappe_field(int32_t f) {
    static const int32_t first[11] = {0, 957, 5039, 5046, 5053, 5055, 5058, 5060, 5069, 5149, 5382};
    for (int k = 0; k < 10; k++)
        if (f < first[k + 1]) return k;
    return -1;
}

TEST(frappe_libfm) {
    drec_dataset *ds = load("ctr", "frappe-nfm/frappe.validation.libfm");
    CHECK(ds != NULL);
    if (!ds) return;
    drec_side *sd = ds->side;
    CHECK(ds->n == 57722);
    CHECK(sd->n_features == 5382);
    CHECK(sd->n_fields == 10);
    size_t pos = 0;
    bool ten = true, fields = true;
    for (size_t r = 0; r < ds->n; r++) {
        pos += ds->rating[r] == 1.0f;
        ten &= ds->feat_ptr[r + 1] - ds->feat_ptr[r] == 10;
        for (int64_t k = ds->feat_ptr[r]; k < ds->feat_ptr[r + 1]; k++)
            fields &= sd->feature_field[ds->feat_idx[k]] == frappe_field(ds->feat_idx[k]) &&
                      ds->feat_val[k] == 1.0f;
    }
    CHECK(pos == 19063);
    CHECK(ten);
    CHECK(fields);
    /* "1 266:1 1244:1 5042:1 ..." */
    CHECK(ds->rating[0] == 1.0f && ds->feat_idx[0] == 266 && ds->feat_idx[1] == 1244 && ds->feat_idx[2] == 5042);
    char *tp = data_path("frappe-nfm/frappe.test.libfm");
    drec_dataset *te = NULL;
    CHECK_OK(drec_read_ctr_into(tp, ds, &te));
    free(tp);
    if (te) {
        CHECK(te->n == 28860);
        size_t tpos = 0;
        for (size_t r = 0; r < te->n; r++) tpos += te->rating[r] == 1.0f;
        CHECK(tpos == 9536);
        CHECK(sd->n_features == 5382);
        drec_dataset_free(te);
    }
    drec_dataset_free(ds);
}

TEST(open_bandit_random_men) {
    drec_dataset *ds = load("bandit", "open-bandit-dataset-sample/random/men/men.csv");
    CHECK(ds != NULL);
    if (!ds) return;
    drec_side *sd = ds->side;
    CHECK(ds->kind == DREC_DS_BANDIT);
    CHECK(ds->n == 10000);
    CHECK(ds->n_items == 34);
    size_t clicks = 0;
    bool prop = true, posok = true;
    for (size_t r = 0; r < ds->n; r++) {
        clicks += ds->rating[r] == 1.0f;
        prop &= fabs(ds->propensity[r] - 1.0 / 34) < 1e-7;
        posok &= ds->position[r] >= 0 && ds->position[r] <= 2;
    }
    CHECK(clicks == 46);
    CHECK(prop);
    CHECK(posok);
    for (int32_t i = 0; i < 34; i++) {
        char nm[8];
        snprintf(nm, sizeof nm, "%d", i);
        CHECK(iid(ds, nm) == i);
    }
    /* Row 0: 2019-11-24 00:03:13.44+00:00, item 14, position 3, click 0. */
    CHECK(ds->item[0] == 14 && ds->position[0] == 2 && ds->rating[0] == 0.0f);
    CHECK(ds->ts[0] == 1574553793);
    /* user_feature_0..3 take 3, 5, 9 and 8 values; 34 affinities. */
    CHECK(sd->ctx_dim == 3 + 5 + 9 + 8 + 34);
    float s = 0;
    for (int32_t k = 0; k < 25; k++) s += ds->ctx[k];
    CHECK(s == 4.0f);
    /* item_context: item_feature_0 numeric, then 7, 16 and 4 hashed values. */
    CHECK(sd->action_dim == 1 + 7 + 16 + 4);
    CHECK(sd->action_feat != NULL);
    if (sd->action_feat) CHECK_NEAR(sd->action_feat[0], -0.6771831139635117, 1e-6);
    drec_dataset_free(ds);
}

TEST(open_bandit_bts) {
    drec_dataset *ds = load("bandit", "open-bandit-dataset-sample/bts/men/men.csv");
    CHECK(ds != NULL);
    if (!ds) return;
    size_t clicks = 0;
    float lo = 1, hi = 0;
    for (size_t r = 0; r < ds->n; r++) {
        clicks += ds->rating[r] == 1.0f;
        lo = fminf(lo, ds->propensity[r]);
        hi = fmaxf(hi, ds->propensity[r]);
    }
    CHECK(ds->n == 10000 && ds->n_items == 34);
    CHECK(clicks == 69);
    /* men: 0.000165-0.725 (SOURCE.md). */
    CHECK(lo < 0.0002f && lo > 0.0001f && hi > 0.72f && hi < 0.73f);
    drec_dataset_free(ds);
}

TEST(csv_reads_u_data) {
    drec_dataset *ds = load("csv", "movielens-100k/u.data");
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->n == 100000 && ds->n_users == 943 && ds->n_items == 1682);
    CHECK(ds->has_rating && ds->has_time);
    CHECK(ds->rating[0] == 3.0f && ds->ts[0] == 881250949);
    drec_dataset_free(ds);
}

static drec_dataset *load_text(const char *kind, const char *name, const char *text, drec_params *opts) {
    char *p = write_temp(name, text, strlen(text));
    char spec[512];
    snprintf(spec, sizeof spec, "%s:%s", kind, p);
    drec_dataset *ds = NULL;
    if (drec_dataset_load_opts(spec, opts, &ds)) fprintf(stderr, "  %s: %s\n", spec, drec_errmsg());
    remove_temp(p);
    free(p);
    return ds;
}

TEST(csv_header_quotes_and_options) {
    const char *text = "movie,\"who, exactly\",stars,when\r\n"
                       "\"Heat \"\"95\"\"\",\"ann, b\",4.5,2001-02-03\r\n"
                       "Up,carl,2,2001-02-04T00:00:01Z\r\n";
    drec_params *o = drec_params_new();
    drec_params_set(o, "user-col", "who, exactly");
    drec_params_set(o, "item-col", "1");
    drec_params_set(o, "rating-col", "stars");
    drec_params_set(o, "time-col", "when");
    drec_dataset *ds = load_text("csv", "q.csv", text, o);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 2);
        CHECK_STR(drec_dataset_user_name(ds, ds->user[0]), "ann, b");
        CHECK_STR(drec_dataset_item_name(ds, ds->item[0]), "Heat \"95\"");
        CHECK(ds->rating[0] == 4.5f && ds->ts[0] == 981158400 && ds->ts[1] == 981244801);
        CHECK(ds->n_skip_reasons == 1 && strcmp(ds->skipped[0].reason, "header") == 0);
        drec_dataset_free(ds);
    }
    drec_params_free(o);
    /* Separator and header detected: ';', header because "rating" is no number. */
    ds = load_text("csv", "s.csv", "u;i;rating\na;x;1\nb;y;0\nb;x;1\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 3 && ds->n_users == 2 && ds->n_items == 2);
        CHECK(ds->has_rating && !ds->has_time && ds->rating[1] == 0.0f);
        drec_dataset_free(ds);
    }
    /* The user index is in time order, ties in file order (negative and
     * far-apart times too). */
    ds = load_text("csv", "t.csv", "u,a,1,5\nu,b,1,3\nv,a,1,4000000000000\nu,c,1,5\nu,d,1,-2\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        int32_t u = uid(ds, "u");
        const int32_t *it = ds->user_items + ds->user_ptr[u];
        CHECK(drec_ds_user_count(ds, u) == 4);
        CHECK(it[0] == iid(ds, "d") && it[1] == iid(ds, "b") && it[2] == iid(ds, "a") && it[3] == iid(ds, "c"));
        int32_t a = iid(ds, "a");
        CHECK(ds->item_users[ds->item_ptr[a]] == u && ds->item_users[ds->item_ptr[a] + 1] == uid(ds, "v"));
        drec_dataset_free(ds);
    }
    /* Columns chosen by name: the default rating column 3 is the user's. */
    o = drec_params_new();
    drec_params_set(o, "user-col", "c");
    drec_params_set(o, "item-col", "a");
    ds = load_text("csv", "n.csv", "a;b;c\n1;2;3\n4;5;6\n", o);
    drec_params_free(o);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 2 && !ds->has_rating && ds->rating[0] == 1.0f);
        CHECK_STR(drec_dataset_user_name(ds, ds->user[0]), "3");
        CHECK_STR(drec_dataset_item_name(ds, ds->item[0]), "1");
        drec_dataset_free(ds);
    }
    /* "::" and two columns only, no header: implicit. */
    ds = load_text("csv", "c.dat", "1::10\n2::20\n2::10\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 3 && ds->n_users == 2 && ds->n_items == 2 && ds->n_skip_reasons == 0);
        CHECK(!ds->has_rating && ds->rating[0] == 1.0f);
        drec_dataset_free(ds);
    }
}

TEST(seq_and_lists) {
    drec_dataset *ds = load_text("seq", "s.txt", "1 5\n1 3\n2 5\n1 7\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        int32_t u = uid(ds, "1");
        CHECK(ds->n == 4 && drec_ds_user_count(ds, u) == 3);
        /* Time order = line order. */
        CHECK(ds->user_items[ds->user_ptr[u] + 0] == iid(ds, "5"));
        CHECK(ds->user_items[ds->user_ptr[u] + 1] == iid(ds, "3"));
        CHECK(ds->user_items[ds->user_ptr[u] + 2] == iid(ds, "7"));
        drec_dataset_free(ds);
    }
    ds = load_text("lists", "l.txt", "0 4 2 9\n1 2\n2\n\n3 9 4\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 6 && ds->n_users == 4 && ds->n_items == 3);
        int32_t u = uid(ds, "0");
        CHECK(drec_ds_user_count(ds, u) == 3 && ds->user_items[ds->user_ptr[u] + 2] == iid(ds, "9"));
        CHECK(drec_ds_user_count(ds, uid(ds, "2")) == 0);
        drec_dataset_free(ds);
    }
}

TEST(yoochoose_sessions) {
    drec_dataset *ds = load_text("session", "clicks.dat",
                                 "1,2014-04-07T10:54:09.868Z,214536500,0\n"
                                 "1,2014-04-07T10:51:09.277Z,214536502,0\n"
                                 "2,2014-04-06T14:46:10.000Z,214716935,S\n",
                                 NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->kind == DREC_DS_SESSIONS && ds->n == 3 && ds->n_users == 2 && ds->n_items == 3);
        CHECK(ds->ts[1] == 1396867869277LL);
        /* Within session 1, the earlier click comes first. */
        int32_t s = uid(ds, "1");
        CHECK(ds->user_items[ds->user_ptr[s]] == iid(ds, "214536502"));
        drec_dataset_free(ds);
    }
}

TEST(libffm_and_libsvm_labels) {
    drec_dataset *ds = load_text("ctr", "a.ffm", "1 0:3:1 1:7:0.5\n0 0:2:1 1:7:1\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 2 && ds->side->n_features == 8 && ds->side->n_fields == 2);
        CHECK(ds->feat_val[1] == 0.5f);
        CHECK_STR(ds->side->field_names[ds->side->feature_field[3]], "field0");
        CHECK_STR(ds->side->field_names[ds->side->feature_field[7]], "field1");
        drec_dataset_free(ds);
    }
    ds = load_text("ctr", "b.svm", "-1 1:1\n+1 2:2.5\n0 1:1\n", NULL);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->rating[0] == 0.0f && ds->rating[1] == 1.0f && ds->rating[2] == 0.0f);
        CHECK(ds->side->n_features == 3);
        drec_dataset_free(ds);
    }
}

/* Writes name into the folder of path (a file made by write_temp). */
static void write_beside(const char *path, const char *name, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%.*s/%s", (int)(strrchr(path, '/') - path), path, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
}

TEST(movielens_1m_layout) {
    char *p = write_temp("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n", 65);
    write_beside(p, "movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                                  "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                                  "3::Unrated (1990)::Comedy\n");
    write_beside(p, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n");
    char spec[1024];
    snprintf(spec, sizeof spec, "movielens:%s", p);
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load(spec, &ds));
    if (ds) {
        drec_side *sd = ds->side;
        CHECK(ds->n == 3 && ds->n_users == 2 && ds->n_items == 2);
        CHECK(ds->rating[1] == 3.0f && ds->ts[1] == 978302109);
        int32_t peach = iid(ds, "661");
        CHECK_STR(sd->item_title[peach], "James and the Giant Peach (1996)");
        CHECK(attr_count(&sd->item_attrs, peach) == 3 && has_attr(&sd->item_attrs, peach, "genre=Musical"));
        CHECK_STR(drec_strmap_name(&sd->categories, sd->item_category[peach]), "Animation");
        int32_t u1 = uid(ds, "1"), u2 = uid(ds, "2");
        CHECK(has_attr(&sd->user_attrs, u1, "age=under-18") && has_attr(&sd->user_attrs, u1, "gender=F"));
        CHECK(has_attr(&sd->user_attrs, u1, "occupation=K-12 student") && has_attr(&sd->user_attrs, u1, "region=4"));
        CHECK(has_attr(&sd->user_attrs, u2, "age=56+") && has_attr(&sd->user_attrs, u2, "occupation=self-employed"));
        drec_dataset_free(ds);
    }
    remove_temp(p);
    free(p);
}

TEST(movielens_latest_layout) {
    char *p = write_temp("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n"
                                        "2,3,0.5,964982224\n", 86);
    write_beside(p, "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n"
                                  "3,\"Grumpier Old Men, The (1995)\",(no genres listed)\n");
    char spec[1024];
    snprintf(spec, sizeof spec, "movielens:%.*s", (int)(strrchr(p, '/') - p), p);
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load(spec, &ds));
    if (ds) {
        drec_side *sd = ds->side;
        CHECK(ds->n == 3 && ds->n_users == 2 && ds->n_items == 2);
        CHECK(ds->rating[1] == 4.5f && ds->rating[2] == 0.5f);
        CHECK(ds->n_skip_reasons == 1 && ds->skipped[0].count == 1);
        CHECK_STR(sd->item_title[iid(ds, "3")], "Grumpier Old Men, The (1995)");
        CHECK(attr_count(&sd->item_attrs, iid(ds, "3")) == 0 && sd->item_category[iid(ds, "3")] == -1);
        CHECK(has_attr(&sd->item_attrs, iid(ds, "1"), "genre=Children"));
        drec_dataset_free(ds);
    }
    remove_temp(p);
    free(p);
}

TEST(criteo_raw_tsv) {
    /* The first train.tiny.csv row in the raw train.txt layout (no Id). */
    const char *row = "0\t1\t1\t5\t0\t1382\t4\t15\t2\t181\t1\t2\t\t2\t68fd1e64\t80e26c9b\tfb936136\t7b4723c4\t"
                      "25c83c98\t7e0ccccf\tde7995b8\t1f89b562\ta73ee510\ta8cd5504\tb2cb9c98\t37c9c164\t2824a5f6\t"
                      "1adce6ef\t8ba8b39a\t891b62e7\te5ba7672\tf54016b9\t21ddcdc9\tb1252a9d\t07b5194c\t\t3a171ecb\t"
                      "c5c50484\te8b83407\t9727dd16\n";
    char text[2048];
    snprintf(text, sizeof text, "%s1%s", row, row + 1);
    char *p = write_temp("train.txt", text, strlen(text));
    char spec[1024];
    snprintf(spec, sizeof spec, "ctr:%s", p);
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load(spec, &ds));
    if (ds) {
        const drec_strmap *fn = &ds->side->feature_names;
        CHECK(ds->n == 2 && ds->side->n_fields == 39 && ds->feat_n == 78);
        CHECK(ds->rating[0] == 0.0f && ds->rating[1] == 1.0f);
        CHECK(ds->feat_idx[11] == drec_strmap_find(fn, "I12=missing", 11));
        CHECK(ds->feat_idx[13] == drec_strmap_find(fn, "C1=68fd1e64", 11));
        CHECK(ds->feat_idx[39 + 34] == drec_strmap_find(fn, "C22=missing", 11));
        CHECK_NEAR(ds->feat_val[4], log(1383.0), 1e-5);
        drec_dataset_free(ds);
    }
    remove_temp(p);
    free(p);
}

int main(void) {
    RUN(movielens_100k_counts);
    RUN(movielens_100k_side);
    RUN(movielens_100k_fold);
    RUN(movielens_1m_layout);
    RUN(movielens_latest_layout);
    RUN(ncf_ml100k);
    RUN(diginetica_sessions);
    RUN(criteo_csv);
    RUN(ctr_adopt_features);
    RUN(criteo_raw_tsv);
    RUN(frappe_libfm);
    RUN(open_bandit_random_men);
    RUN(open_bandit_bts);
    RUN(csv_reads_u_data);
    RUN(csv_header_quotes_and_options);
    RUN(seq_and_lists);
    RUN(yoochoose_sessions);
    RUN(libffm_and_libsvm_labels);
    return harness_summary();
}
