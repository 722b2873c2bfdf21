/*
 * test_protocols.c — the evaluation engine and the protocols, with a stub
 * model whose scores are set by hand: full ranking with training items
 * excluded and ties counted against the held-out item, users without test
 * items skipped and counted, sampled negatives drawn only from items the
 * user never touched (and the same at any thread count), the ncf: file's
 * own negatives used exactly, session next-item prediction, rating and click
 * metrics over rows, and k-fold means and standard deviations.
 */
#include "data/split.h"
#include "eval/protocol.h"
#include "harness.h"

#include <omp.h>

/* ---- a stub model: scores from a table, or from a function ------------- */

static float g_table[8][16];
static int32_t **g_scored; /* per user: the items scored in the last call */
static int *g_n_scored;
static int g_mode; /* 0 table, 1 constant, 2 next-item (session), 3 record */

static void stub_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    int cnt = items ? n : m->n_items;
    for (int k = 0; k < cnt; k++) {
        int32_t i = items ? items[k] : k;
        switch (g_mode) {
        case 0: out[k] = g_table[q->user][i]; break;
        case 1: out[k] = 0; break;
        case 2: out[k] = q->n_hist > 0 && i == q->hist[q->n_hist - 1] + 1; break;
        default: out[k] = (float)((i * 7919) % 1009); break;
        }
    }
    if (g_mode == 3 && items && q->user >= 0) {
        free(g_scored[q->user]);
        g_scored[q->user] = malloc((size_t)n * sizeof *items);
        memcpy(g_scored[q->user], items, (size_t)n * sizeof *items);
        g_n_scored[q->user] = n;
    }
}

static float *g_pred;
static void stub_predict(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out) {
    (void)m;
    (void)ds;
    for (size_t k = 0; k < n; k++) out[k] = g_pred[rows[k]];
}

static const float g_vec[2][2] = {{1, 0}, {1, 1}}; /* even items, odd items */
static const float *stub_vector(const drec_model *m, int32_t i, int *dim) {
    (void)m;
    *dim = 2;
    return g_vec[i % 2];
}

static const drec_model_vt stub_vt = {.name = "stub", .score = stub_score};
static const drec_model_vt stub_vec_vt = {.name = "stubv", .score = stub_score, .item_vector = stub_vector};
static const drec_model_vt stub_pred_vt = {.name = "stubp", .score = stub_score, .predict = stub_predict};

static drec_model *stub_model(const drec_dataset *train, const drec_model_vt *vt) {
    drec_model *m = calloc(1, sizeof *m);
    m->vt = vt;
    m->n_users = train->n_users;
    m->n_items = train->n_items;
    m->seen_ptr = malloc(((size_t)m->n_users + 1) * sizeof *m->seen_ptr);
    memcpy(m->seen_ptr, train->user_ptr, ((size_t)m->n_users + 1) * sizeof *m->seen_ptr);
    m->seen_idx = malloc((train->n + 1) * sizeof *m->seen_idx);
    memcpy(m->seen_idx, train->user_items, train->n * sizeof *m->seen_idx);
    m->item_count = drec_ds_item_counts(train);
    return m;
}

static drec_dataset *new_ds(drec_ds_kind kind, int U, int I) {
    drec_dataset *ds = drec_ds_new(kind, "test");
    char b[16];
    for (int u = 0; u < U; u++) drec_ds_user(ds, b, (size_t)snprintf(b, sizeof b, "u%d", u));
    for (int i = 0; i < I; i++) drec_ds_item(ds, b, (size_t)snprintf(b, sizeof b, "i%d", i));
    return ds;
}

static const drec_metric_result *get(const drec_eval_result *r, const char *name) {
    const drec_metric_result *m = drec_eval_find(r, name);
    if (!m) {
        fprintf(stderr, "  metric %s missing\n", name);
        static drec_metric_result none = {.value = NAN};
        return &none;
    }
    return m;
}

/* u0: train {0,1}, test {2};  u1: train {0,3}, no test;  u2: train {1}, test {4,5} */
static void full_parts(drec_dataset **train, drec_dataset **test) {
    drec_dataset *tr = new_ds(DREC_DS_INTERACTIONS, 3, 6);
    drec_ds_push(tr, 0, 0, 1, 0);
    drec_ds_push(tr, 0, 1, 1, 0);
    drec_ds_push(tr, 1, 0, 1, 0);
    drec_ds_push(tr, 1, 3, 1, 0);
    drec_ds_push(tr, 2, 1, 1, 0);
    drec_ds_finish(tr);
    size_t none = 0;
    drec_dataset *te = drec_dataset_subset(tr, &none, 0);
    drec_ds_push(te, 0, 2, 1, 0);
    drec_ds_push(te, 2, 4, 1, 0);
    drec_ds_push(te, 2, 5, 1, 0);
    drec_ds_finish(te);
    *train = tr;
    *test = te;
}

TEST(full_ranking_by_hand) {
    drec_dataset *tr, *te;
    full_parts(&tr, &te);
    float s0[6] = {10, 9, 5, 5, 1, 7}, s2[6] = {3, 100, 2, 8, 8, 1};
    memcpy(g_table[0], s0, sizeof s0);
    memcpy(g_table[2], s2, sizeof s2);
    g_mode = 0;
    drec_model *m = stub_model(tr, &stub_vt);
    drec_metric ms[10];
    int n;
    CHECK_OK(drec_metrics_parse("hr@3,precision@3,recall@3,ndcg@3,mrr@3,map@3,coverage@3,arp@3,novelty@3,auc", ms,
                                10, &n));
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_FULL, .metrics = ms, .n_metrics = n, .seed = 1, .keep_lists = true};
    drec_eval_result r;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    /* u0: items 0,1 excluded; 2 (score 5) is behind 5 (7) and tied with 3
     * (5): rank 3.  u2: item 1 excluded; ranks of 4 and 5 are 2 and 5. */
    CHECK(r.n_units == 2);
    CHECK(r.n_skipped == 1); /* u1 has training data and no test item */
    CHECK_NEAR(get(&r, "hr@3")->value, 1, 1e-12);
    CHECK_NEAR(get(&r, "precision@3")->value, 1.0 / 3, 1e-12);
    CHECK_NEAR(get(&r, "recall@3")->value, (1 + 0.5) / 2, 1e-12);
    CHECK_NEAR(get(&r, "ndcg@3")->value, (0.5 + (1 / log2(3)) / (1 + 1 / log2(3))) / 2, 1e-12);
    CHECK_NEAR(get(&r, "mrr@3")->value, (1.0 / 3 + 0.5) / 2, 1e-12);
    CHECK_NEAR(get(&r, "map@3")->value, (1.0 / 3 + 0.25) / 2, 1e-12);
    /* top-3 lists: u0 [5, 2, 3] (2 before 3: lower id), u2 [3, 4, 0] */
    CHECK(r.list_k == 3);
    CHECK(r.lists[0] == 5 && r.lists[1] == 2 && r.lists[2] == 3);
    CHECK(r.lists[3] == 3 && r.lists[4] == 4 && r.lists[5] == 0);
    CHECK_NEAR(get(&r, "coverage@3")->value, 5.0 / 6, 1e-12);
    /* training counts: item0 2, item1 2, item3 1, others 0 */
    CHECK_NEAR(get(&r, "arp@3")->value, (1.0 / 3 + 1.0) / 2, 1e-12);
    CHECK_NEAR(get(&r, "novelty@3")->value, (log2(3) + (2 * log2(3) + log2(1.5)) / 3) / 2, 1e-12);
    /* auc: u0 1/3 of its negatives below; u2 (2/3 + 0) / 2 */
    CHECK_NEAR(get(&r, "auc")->value, 1.0 / 3, 1e-12);
    CHECK(r.rec_count[3] == 2 && r.rec_count[1] == 0);
    drec_eval_result_free(&r);

    /* A constant model: every held-out item ties with all candidates and
     * is ranked last, so nothing is in the top 3. */
    g_mode = 1;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK_NEAR(get(&r, "hr@3")->value, 0, 0);
    CHECK_NEAR(get(&r, "mrr@3")->value, 0, 0);
    drec_eval_result_free(&r);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(diversity_from_embeddings_then_attributes) {
    drec_dataset *tr, *te;
    full_parts(&tr, &te);
    float s0[6] = {10, 9, 5, 5, 1, 7}, s2[6] = {3, 100, 2, 8, 8, 1};
    memcpy(g_table[0], s0, sizeof s0);
    memcpy(g_table[2], s2, sizeof s2);
    g_mode = 0;
    drec_metric ms[1] = {{DREC_M_DIVERSITY, 3}};
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_FULL, .metrics = ms, .n_metrics = 1, .seed = 1};
    drec_eval_result r;
    /* lists u0 [5, 2, 3] and u2 [3, 4, 0]: each has one same-parity pair
     * (cosine 1) and two mixed pairs (cosine 1/sqrt 2) */
    drec_model *m = stub_model(tr, &stub_vec_vt);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK_NEAR(r.m[0].value, 2 * (1 - 1 / sqrt(2.0)) / 3, 1e-6);
    drec_eval_result_free(&r);
    drec_model_free(m);
    /* no embeddings, no attributes, no categories: not available */
    m = stub_model(tr, &stub_vt);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK(isnan(r.m[0].value) && r.note[0]);
    drec_eval_result_free(&r);
    /* item attributes: genre A for even items, B for odd ones -> 2/3 */
    for (int i = 0; i < 6; i++) drec_attrs_add(&tr->side->item_attrs, i, "genre", i % 2 ? "B" : "A", 1);
    drec_attrs_finish(&tr->side->item_attrs, 6);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK_NEAR(r.m[0].value, 2.0 / 3, 1e-12);
    drec_eval_result_free(&r);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(sampled_negatives_never_touched) {
    /* 3 users, 300 items; user u had items [100u, 100u + 50) in training
     * and 100u + 50 in test. */
    drec_dataset *tr = new_ds(DREC_DS_INTERACTIONS, 3, 300);
    for (int u = 0; u < 3; u++)
        for (int i = 0; i < 50; i++) drec_ds_push(tr, u, 100 * u + i, 1, i);
    drec_ds_finish(tr);
    size_t none = 0;
    drec_dataset *te = drec_dataset_subset(tr, &none, 0);
    for (int u = 0; u < 3; u++) drec_ds_push(te, u, 100 * u + 50, 1, 99);
    drec_ds_finish(te);
    drec_model *m = stub_model(tr, &stub_vt);
    g_scored = calloc(3, sizeof *g_scored);
    g_n_scored = calloc(3, sizeof *g_n_scored);
    g_mode = 3;
    drec_metric ms[2];
    int n;
    CHECK_OK(drec_metrics_parse("hr@10,ndcg@10", ms, 2, &n));
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_SAMPLED, .metrics = ms, .n_metrics = n, .n_sampled = 100, .seed = 4};
    drec_eval_result r1, r2;
    omp_set_num_threads(1);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r1));
    int bad = 0, dup = 0;
    for (int u = 0; u < 3; u++) {
        CHECK(g_n_scored[u] == 101);
        CHECK(g_scored[u][0] == 100 * u + 50);
        for (int k = 1; k < g_n_scored[u]; k++) {
            int32_t i = g_scored[u][k];
            bad += i >= 100 * u && i <= 100 * u + 50;
            for (int j = 1; j < k; j++) dup += g_scored[u][j] == i;
        }
    }
    CHECK(bad == 0 && dup == 0);
    omp_set_num_threads(2);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r2));
    for (int j = 0; j < 2; j++)
        for (int u = 0; u < 3; u++) CHECK(r1.m[j].per[u] == r2.m[j].per[u]);
    drec_eval_result_free(&r1);
    drec_eval_result_free(&r2);
    for (int u = 0; u < 3; u++) free(g_scored[u]);
    free(g_scored);
    free(g_n_scored);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(same_numbers_at_any_thread_count) {
    /* Big enough (700 x 2000 scores) to run in parallel. */
    int U = 700, I = 2000;
    drec_dataset *tr = new_ds(DREC_DS_INTERACTIONS, U, I);
    for (int u = 0; u < U; u++)
        for (int j = 0; j < 5; j++) drec_ds_push(tr, u, (u * 13 + j * 101) % I, 1, j);
    drec_ds_finish(tr);
    size_t none = 0;
    drec_dataset *te = drec_dataset_subset(tr, &none, 0);
    for (int u = 0; u < U; u++) drec_ds_push(te, u, (u * 29 + 7) % I, 1, 9);
    drec_ds_finish(te);
    drec_model *m = stub_model(tr, &stub_vt);
    g_mode = 3;
    drec_metric ms[3];
    int n;
    CHECK_OK(drec_metrics_parse("ndcg@10,mrr@20,novelty@10", ms, 3, &n));
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_FULL, .metrics = ms, .n_metrics = n, .seed = 2, .keep_lists = true};
    drec_eval_result r1, r2;
    omp_set_num_threads(1);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r1));
    omp_set_num_threads(2);
    CHECK_OK(drec_evaluate(m, &sp, &o, &r2));
    CHECK(r1.n_units == (size_t)U && r2.n_units == (size_t)U);
    int diff = 0;
    for (int j = 0; j < n; j++)
        for (int u = 0; u < U; u++) diff += r1.m[j].per[u] != r2.m[j].per[u];
    CHECK(diff == 0);
    CHECK(memcmp(r1.lists, r2.lists, (size_t)U * 10 * sizeof *r1.lists) == 0);
    CHECK(r1.m[0].value > 0); /* the hash scores do put some held-out items in the top 10 */
    drec_eval_result_free(&r1);
    drec_eval_result_free(&r2);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(ncf_file_negatives_exactly) {
    char *prefix = data_path("ncf-ml-100k/ml-100k");
    char spec[4096];
    snprintf(spec, sizeof spec, "ncf:%s", prefix);
    drec_dataset *ds;
    drec_status st = drec_dataset_load(spec, &ds);
    if (st) {
        fprintf(stderr, "  cannot load %s: %s\n", spec, drec_errmsg());
        CHECK_OK(st);
        free(prefix);
        return;
    }
    drec_protocol p;
    CHECK_OK(drec_protocol_parse("loo-sampled:100", &p));
    drec_eval_split sp;
    CHECK_OK(drec_protocol_split(&p, ds, 0, 1, &sp));
    CHECK(sp.train == ds && sp.test == ds->test && sp.neg_ptr == ds->neg_ptr);
    drec_model *m = stub_model(ds, &stub_vt);
    g_scored = calloc((size_t)ds->n_users, sizeof *g_scored);
    g_n_scored = calloc((size_t)ds->n_users, sizeof *g_n_scored);
    g_mode = 3;
    drec_metric ms[1] = {{DREC_M_HR, 10}};
    drec_eval_opts o = {.mode = DREC_EVAL_SAMPLED, .metrics = ms, .n_metrics = 1, .n_sampled = 100, .seed = 1};
    drec_eval_result r;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK(r.n_units == ds->test->n);
    /* Read the negatives file ourselves and compare, line by line. */
    char path[4096];
    snprintf(path, sizeof path, "%s.test.negative", prefix);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char line[65536];
    size_t lines = 0, mismatches = 0;
    while (f && fgets(line, sizeof line, f)) {
        char us[64], is[64];
        if (sscanf(line, "(%63[^,],%63[^)])", us, is) != 2) continue;
        int32_t u = drec_dataset_user_id(ds, us), i = drec_dataset_item_id(ds, is);
        char *p2 = strchr(line, ')') + 1;
        int32_t want[1024];
        int nw = 0;
        want[nw++] = i;
        for (char *tok = strtok(p2, "\t\r\n "); tok && nw < 1024; tok = strtok(NULL, "\t\r\n "))
            want[nw++] = drec_dataset_item_id(ds, tok);
        lines++;
        if (u < 0 || g_n_scored[u] != nw) {
            mismatches++;
            continue;
        }
        for (int k = 0; k < nw; k++)
            if (g_scored[u][k] != want[k]) {
                mismatches++;
                break;
            }
    }
    if (f) fclose(f);
    CHECK(lines == ds->test->n);
    CHECK(mismatches == 0);
    CHECK(g_n_scored[0] == 100); /* the held-out item and the file's 99 negatives */
    drec_eval_result_free(&r);
    for (int32_t u = 0; u < ds->n_users; u++) free(g_scored[u]);
    free(g_scored);
    free(g_n_scored);
    drec_model_free(m);
    drec_dataset_free(ds);
    free(prefix);
}

TEST(session_next_item) {
    /* items 0..10; training session s2 has 0..9 (item 10 never seen);
     * test sessions s0 = 0,1,2,3 and s1 = 5,6,9,10.  The stub predicts
     * "last item + 1". */
    drec_dataset *tr = new_ds(DREC_DS_SESSIONS, 3, 11);
    for (int i = 0; i < 10; i++) drec_ds_push(tr, 2, i, 1, i);
    tr->has_time = true;
    drec_ds_finish(tr);
    size_t none = 0;
    drec_dataset *te = drec_dataset_subset(tr, &none, 0);
    int s0[4] = {0, 1, 2, 3}, s1[4] = {5, 6, 9, 10};
    for (int t = 0; t < 4; t++) drec_ds_push(te, 0, s0[t], 1, 100 + t);
    for (int t = 0; t < 4; t++) drec_ds_push(te, 1, s1[t], 1, 200 + t);
    drec_ds_finish(te);
    drec_model *m = stub_model(tr, &stub_vt);
    g_mode = 2;
    drec_metric ms[3];
    int n;
    CHECK_OK(drec_metrics_parse("hr@5,mrr@20,hr@10", ms, 3, &n));
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_SESSION, .metrics = ms, .n_metrics = n, .seed = 1};
    drec_eval_result r;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    /* 6 targets, item 10 dropped; 1,2,3,6 at rank 1; 9 behind 7 (score 1)
     * and tied with the 9 other zero-scored items: rank 11 */
    CHECK(r.n_units == 5 && r.n_dropped == 1);
    CHECK_NEAR(get(&r, "hr@5")->value, 0.8, 1e-12);
    CHECK_NEAR(get(&r, "hr@10")->value, 0.8, 1e-12);
    CHECK_NEAR(get(&r, "mrr@20")->value, (4 + 1.0 / 11) / 5, 1e-12);
    drec_eval_result_free(&r);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(rating_and_click_rows) {
    drec_dataset *tr, *te;
    full_parts(&tr, &te);
    te->rating[0] = 4, te->rating[1] = 2, te->rating[2] = 5;
    float pred[3] = {3.5f, 2.0f, 3.0f};
    g_pred = pred;
    drec_model *m = stub_model(tr, &stub_pred_vt);
    drec_metric ms[2];
    int n;
    CHECK_OK(drec_metrics_parse("rmse,mae", ms, 2, &n));
    drec_eval_split sp = {.train = tr, .test = te};
    drec_eval_opts o = {.mode = DREC_EVAL_FULL, .metrics = ms, .n_metrics = n, .seed = 1, .bootstrap = 100};
    drec_eval_result r;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK_NEAR(get(&r, "rmse")->value, sqrt((0.25 + 0 + 4) / 3), 1e-6);
    CHECK_NEAR(get(&r, "mae")->value, (0.5 + 0 + 2) / 3, 1e-6);
    CHECK(r.n_rows == 3);
    CHECK(get(&r, "rmse")->ci_lo <= get(&r, "rmse")->value && get(&r, "rmse")->value <= get(&r, "rmse")->ci_hi);
    drec_eval_result_free(&r);
    /* clicks: labels 1 0 1 with p .9 .2 .3 -> auc 1, logloss by hand */
    te->rating[0] = 1, te->rating[1] = 0, te->rating[2] = 1;
    pred[0] = 0.9f, pred[1] = 0.2f, pred[2] = 0.3f;
    CHECK_OK(drec_metrics_parse("auc,logloss", ms, 2, &n));
    o.mode = DREC_EVAL_ROWS;
    CHECK_OK(drec_evaluate(m, &sp, &o, &r));
    CHECK_NEAR(get(&r, "auc")->value, 1, 1e-12);
    CHECK_NEAR(get(&r, "logloss")->value, -(log(0.9f) + log(1 - 0.2f) + log(0.3f)) / 3, 1e-6);
    drec_eval_result_free(&r);
    drec_model_free(m);
    drec_dataset_free(tr);
    drec_dataset_free(te);
}

TEST(protocol_names) {
    drec_protocol p;
    CHECK_OK(drec_protocol_parse("loo-sampled:100", &p));
    CHECK(p.kind == DREC_PROTO_LOO_SAMPLED && p.n == 100);
    CHECK_OK(drec_protocol_parse("kfold:5", &p));
    CHECK(p.kind == DREC_PROTO_KFOLD && p.n == 5);
    CHECK_OK(drec_protocol_parse("holdout:0.2", &p));
    CHECK(p.kind == DREC_PROTO_HOLDOUT && p.frac == 0.2);
    CHECK_STR(p.name, "holdout:0.2");
    CHECK_OK(drec_protocol_parse("session-last", &p));
    CHECK(p.kind == DREC_PROTO_SESSION_LAST && p.frac == 0.1);
    CHECK_OK(drec_protocol_parse("temporal:0.1", &p));
    CHECK_OK(drec_protocol_parse("ctr:0.1", &p));
    CHECK_OK(drec_protocol_parse("loo-full", &p));
    CHECK(drec_protocol_parse("holdout:1.5", &p) == DREC_ERR_USAGE);
    CHECK(drec_protocol_parse("kfold:1", &p) == DREC_ERR_USAGE);
    CHECK(drec_protocol_parse("loo-sampled:x", &p) == DREC_ERR_USAGE);
    CHECK(drec_protocol_parse("random", &p) == DREC_ERR_USAGE);
}

TEST(kfold_mean_and_std_over_folds) {
    /* 12 users x 6 items each out of 20, implicit */
    drec_dataset *ds = new_ds(DREC_DS_INTERACTIONS, 12, 20);
    for (int u = 0; u < 12; u++)
        for (int j = 0; j < 6; j++) drec_ds_push(ds, u, (u * 3 + j * j) % 20, 1, j);
    drec_ds_finish(ds);
    drec_protocol p;
    CHECK_OK(drec_protocol_parse("kfold:3", &p));
    drec_metric ms[2];
    int n;
    CHECK_OK(drec_metrics_parse("hr@5,ndcg@5", ms, 2, &n));
    drec_eval_opts o = {.metrics = ms, .n_metrics = n, .seed = 1};
    drec_run run;
    CHECK_OK(drec_protocol_run("pop", NULL, ds, &p, &o, 0, false, &run));
    CHECK(run.n_folds == 3);
    /* The same by hand: each fold's split, a pop model, an evaluation. */
    double v[3][2], units = 0;
    for (int f = 0; f < 3; f++) {
        drec_eval_split sp;
        CHECK_OK(drec_protocol_split(&p, ds, f, 1, &sp));
        drec_model *m;
        CHECK_OK(drec_model_train("pop", sp.train, NULL, &m));
        drec_eval_opts o2 = o;
        o2.mode = DREC_EVAL_FULL;
        drec_eval_result r;
        CHECK_OK(drec_evaluate(m, &sp, &o2, &r));
        for (int j = 0; j < 2; j++) v[f][j] = r.m[j].value;
        units += (double)r.n_units;
        drec_eval_result_free(&r);
        drec_model_free(m);
        drec_eval_split_free(&sp);
    }
    for (int j = 0; j < 2; j++) {
        double mean = (v[0][j] + v[1][j] + v[2][j]) / 3, ss = 0;
        for (int f = 0; f < 3; f++) ss += (v[f][j] - mean) * (v[f][j] - mean);
        CHECK_NEAR(run.eval.m[j].value, mean, 1e-12);
        CHECK_NEAR(run.std[j], sqrt(ss / 2), 1e-12);
        CHECK(run.eval.m[j].n_per == (size_t)units); /* per-user values of all folds */
    }
    drec_run_free(&run);
    drec_dataset_free(ds);
}

/* patience=N: the model trains on the training part less a validation part
 * (here each user's latest training item), stops on it, and comes back as
 * its best epoch: evaluated on that validation part by hand, it scores the
 * best value of its curve, and the test part was never looked at. */
TEST(early_stopping_on_a_validation_part) {
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load("synthetic:users=300,items=200,events=30,seed=5", &ds));
    if (!ds) return;
    drec_protocol p;
    CHECK_OK(drec_protocol_parse("loo-full", &p));
    drec_metric ms[1];
    int n;
    CHECK_OK(drec_metrics_parse("ndcg@10", ms, 1, &n));
    drec_eval_opts o = {.metrics = ms, .n_metrics = n, .seed = 1};
    drec_params *hp = drec_params_new();
    const char *kv[][2] = {{"epochs", "40"}, {"patience", "2"}, {"lr", "0.3"}, {"dim", "32"}, {"threads", "1"}};
    for (size_t k = 0; k < DREC_ARRAY_LEN(kv); k++) drec_params_set(hp, kv[k][0], kv[k][1]);
    drec_run run;
    CHECK_OK(drec_protocol_run("bpr", hp, ds, &p, &o, 0, true, &run));
    drec_model *m = run.model;
    if (!m) return;
    CHECK(!run.val_on_test);
    CHECK(m->n_epochs >= 1 && m->n_epochs <= 40 && m->best_epoch >= 0 && m->best_epoch < m->n_epochs);
    float best = -1;
    for (int e = 0; e < m->n_epochs; e++) best = DREC_MAX(best, m->val_curve[e]);
    CHECK(m->val_curve[m->best_epoch] == best);
    fprintf(stderr, "  bpr: %d epochs run, epoch %d kept (validation ndcg@10 %.4f)\n", m->n_epochs,
            m->best_epoch + 1, best);
    /* the same validation part by hand */
    drec_eval_split sp, vs = {0};
    CHECK_OK(drec_protocol_split(&p, ds, 0, 1, &sp));
    CHECK_OK(drec_split_loo(sp.train, &vs.train, &vs.test));
    vs.own_train = vs.own_test = true;
    CHECK(m->seen_ptr[m->n_users] == vs.train->user_ptr[vs.train->n_users]);
    drec_eval_opts vo = o;
    vo.mode = DREC_EVAL_FULL;
    vo.max_units = 2000;
    drec_eval_result r;
    CHECK_OK(drec_evaluate(m, &vs, &vo, &r));
    CHECK_NEAR(r.m[0].value, m->best_val, 1e-9);
    drec_eval_result_free(&r);
    drec_eval_split_free(&vs);
    drec_eval_split_free(&sp);
    drec_run_free(&run);
    drec_params_free(hp);
    drec_dataset_free(ds);
}

int main(void) {
    RUN(full_ranking_by_hand);
    RUN(diversity_from_embeddings_then_attributes);
    RUN(sampled_negatives_never_touched);
    RUN(same_numbers_at_any_thread_count);
    RUN(ncf_file_negatives_exactly);
    RUN(session_next_item);
    RUN(rating_and_click_rows);
    RUN(protocol_names);
    RUN(kfold_mean_and_std_over_folds);
    RUN(early_stopping_on_a_validation_part);
    return harness_summary();
}
