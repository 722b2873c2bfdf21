/*
 * test_synthetic.c — the synthetic world (world.h) and the synthetic: data
 * spec: determinism, sizes, the contents of each column and side table, spec
 * errors, and the properties that make the world useful — personalised
 * scores beat popularity on held-out items, the simulator's coin matches its
 * expected reward, and a market shock moves the rewards.
 */
#include "data/world.h"
#include "harness.h"

#include <ctype.h>

static bool sanitized(void) { return getenv("DREC_SANITIZED") != NULL; }

static drec_dataset *load(const char *spec) {
    drec_dataset *ds = NULL;
    drec_status st = drec_dataset_load(spec, &ds);
    if (st) fprintf(stderr, "  load %s: %s\n", spec, drec_errmsg());
    return ds;
}

TEST(same_seed_same_rows_other_seed_other_rows) {
    drec_dataset *a = load("synthetic:users=300,items=200,seed=5");
    drec_dataset *b = load("synthetic:users=300,items=200,seed=5");
    drec_dataset *c = load("synthetic:users=300,items=200,seed=6");
    if (!a || !b || !c) return;
    CHECK(a->n == b->n);
    size_t same = 0;
    for (size_t r = 0; r < a->n && r < b->n; r++)
        same += a->user[r] == b->user[r] && a->item[r] == b->item[r] && a->rating[r] == b->rating[r] &&
                a->ts[r] == b->ts[r];
    CHECK(same == a->n);
    for (int32_t i = 0; i < a->n_items; i++) {
        CHECK_STR(a->side->item_title[i], b->side->item_title[i]);
        CHECK_STR(a->side->item_text[i], b->side->item_text[i]);
    }
    size_t diff = 0, m = DREC_MIN(a->n, c->n);
    for (size_t r = 0; r < m; r++) diff += a->item[r] != c->item[r];
    CHECK(diff > m / 2);
    drec_dataset_free(a);
    drec_dataset_free(b);
    drec_dataset_free(c);
}

TEST(default_sizes_and_ids) {
    drec_dataset *ds = load("synthetic");
    if (!ds) return;
    CHECK(ds->kind == DREC_DS_INTERACTIONS);
    CHECK(ds->n_users == 2000);
    CHECK(ds->n_items == 1000);
    /* 2000 users x ~40 events (a few users are capped by the catalog). */
    CHECK(ds->n > 70000 && ds->n < 90000);
    CHECK_STR(drec_dataset_user_name(ds, 17), "u17");
    CHECK_STR(drec_dataset_item_name(ds, 999), "i999");
    CHECK(drec_dataset_item_id(ds, "i42") == 42);
    int64_t min_rows = 1 << 30;
    for (int32_t u = 0; u < ds->n_users; u++) min_rows = DREC_MIN(min_rows, drec_ds_user_count(ds, u));
    CHECK(min_rows >= 3);
    /* Popularity is skewed but not degenerate: the top item is far above the
     * median, and most items are used. */
    int32_t *cnt = drec_ds_item_counts(ds);
    int32_t mx = 0, used = 0;
    for (int32_t i = 0; i < ds->n_items; i++) {
        mx = DREC_MAX(mx, cnt[i]);
        used += cnt[i] > 0;
    }
    CHECK(mx > 5 * (int32_t)(ds->n / (size_t)ds->n_items));
    CHECK(used > 900);
    free(cnt);
    drec_dataset_free(ds);

    ds = load("synthetic:users=500,items=300,events=10");
    if (!ds) return;
    CHECK(ds->n_users == 500 && ds->n_items == 300);
    CHECK(ds->n > 4000 && ds->n < 6500);
    drec_dataset_free(ds);
}

TEST(ratings_explicit_and_implicit) {
    drec_dataset *ds = load("synthetic:users=400,items=300");
    if (!ds) return;
    CHECK(ds->has_rating && ds->has_time);
    size_t hist[6] = {0}, bad = 0;
    double sum = 0;
    for (size_t r = 0; r < ds->n; r++) {
        float x = ds->rating[r];
        if (x < 1 || x > 5 || x != floorf(x))
            bad++;
        else
            hist[(int)x]++;
        sum += x;
    }
    CHECK(bad == 0);
    for (int k = 1; k <= 5; k++) CHECK(hist[k] > ds->n / 50); /* every grade is used */
    double mean = sum / (double)ds->n;
    CHECK(mean > 3.0 && mean < 4.0);
    drec_dataset_free(ds);

    ds = load("synthetic:users=100,items=100,implicit=1");
    if (!ds) return;
    CHECK(!ds->has_rating);
    size_t ones = 0;
    for (size_t r = 0; r < ds->n; r++) ones += ds->rating[r] == 1.0f;
    CHECK(ones == ds->n && ds->n > 0);
    drec_dataset_free(ds);
}

TEST(time_order_sessions_and_context) {
    drec_world *w;
    CHECK_OK(drec_world_new("users=300,items=200", &w));
    if (!w) return;
    const drec_dataset *ds = drec_world_dataset(w);
    const int32_t *sess = drec_world_sessions(w);
    size_t order_bad = 0, sess_bad = 0, ctx_bad = 0, n_sess = 1;
    for (size_t r = 1; r < ds->n; r++) {
        if (ds->user[r] != ds->user[r - 1]) {
            CHECK(ds->user[r] == ds->user[r - 1] + 1); /* rows grouped by user */
            sess_bad += sess[r] != sess[r - 1] + 1;
            n_sess++;
            continue;
        }
        order_bad += ds->ts[r] <= ds->ts[r - 1];
        /* Inside a session events are minutes apart; sessions over 2 hours. */
        int64_t gap = ds->ts[r] - ds->ts[r - 1];
        if (sess[r] == sess[r - 1])
            sess_bad += gap > 330;
        else {
            sess_bad += sess[r] != sess[r - 1] + 1 || gap <= 7200;
            n_sess++;
        }
    }
    CHECK(order_bad == 0);
    CHECK(sess_bad == 0);
    /* Sessions average a few events: between 2 and 10. */
    CHECK(n_sess * 2 < ds->n && n_sess * 10 > ds->n);
    /* The CSR by user keeps time order. */
    for (int32_t u = 0; u < ds->n_users; u++)
        for (int64_t k = ds->user_ptr[u] + 1; k < ds->user_ptr[u + 1]; k++)
            order_bad += ds->ts[ds->by_user[k]] <= ds->ts[ds->by_user[k - 1]];
    CHECK(order_bad == 0);
    /* Event context: one time of day, one device; the time of day agrees
     * with the timestamp's hour (UTC) for the session's first event. */
    CHECK(ds->side->ctx_dim == DREC_WORLD_EVENT_CTX && ds->ctx != NULL);
    for (size_t r = 0; r < ds->n; r++) {
        const float *c = ds->ctx + r * DREC_WORLD_EVENT_CTX;
        float st = 0, sd = 0;
        int tod = -1;
        for (int k = 0; k < DREC_WORLD_TODS; k++) {
            st += c[k];
            if (c[k] == 1.0f) tod = k;
        }
        for (int k = 0; k < DREC_WORLD_DEVICES; k++) sd += c[DREC_WORLD_TODS + k];
        ctx_bad += st != 1.0f || sd != 1.0f;
        if (r == 0 || sess[r] != sess[r - 1]) ctx_bad += (int)((ds->ts[r] % 86400) / 21600) != tod;
    }
    CHECK(ctx_bad == 0);
    drec_world_free(w);
}

static bool word_in(const char *text, const char *word) {
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)) != NULL; p++)
        if ((p == text || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[n])) return true;
    return false;
}

TEST(items_have_titles_categories_prices_text) {
    drec_dataset *ds = load("synthetic:users=200,items=600,categories=12");
    if (!ds) return;
    const drec_side *sd = ds->side;
    CHECK(sd->categories.n == 12);
    CHECK_STR(drec_strmap_name(&sd->categories, 0), "Books");
    drec_strmap titles;
    drec_strmap_init(&titles);
    int per_cat[12] = {0};
    size_t bad = 0;
    for (int32_t i = 0; i < ds->n_items; i++) {
        const char *t = sd->item_title[i], *x = sd->item_text[i];
        int32_t c = sd->item_category[i];
        if (!t || !x || c < 0 || c >= 12) {
            bad++;
            continue;
        }
        per_cat[c]++;
        CHECK(drec_strmap_intern(&titles, t, strlen(t)) == i); /* titles are unique */
        bad += !isupper((unsigned char)t[0]) || !strchr(t, ' ');
        bad += strlen(x) < 40 || !word_in(x, drec_strmap_name(&sd->categories, c));
        bad += !(sd->item_price[i] > 0);
        /* attrs: category=<name> and a price bucket. */
        int64_t a = sd->item_attrs.ptr[i], b = sd->item_attrs.ptr[i + 1];
        bad += b - a != 2;
        char want[64];
        snprintf(want, sizeof want, "category=%s", drec_strmap_name(&sd->categories, c));
        int found = 0;
        for (int64_t k = a; k < b; k++) found += strcmp(drec_strmap_name(&sd->item_attrs.names, sd->item_attrs.idx[k]), want) == 0;
        bad += found != 1;
    }
    CHECK(bad == 0);
    for (int c = 0; c < 12; c++) CHECK(per_cat[c] >= 5);
    /* Users: age band, region, device. */
    CHECK(sd->user_attrs.n_entities == ds->n_users);
    for (int32_t u = 0; u < ds->n_users; u++) CHECK(sd->user_attrs.ptr[u + 1] - sd->user_attrs.ptr[u] == 3);
    CHECK(drec_strmap_find(&sd->user_attrs.names, "age=25-34", 9) >= 0);
    CHECK(drec_strmap_find(&sd->user_attrs.fields, "device", 6) >= 0);
    drec_strmap_free(&titles);

    /* The text carries the category: two items of one category share more
     * words than two of different categories. */
    double same = 0, other = 0;
    int ns = 0, no = 0;
    for (int32_t i = 0; i < 200; i++)
        for (int32_t j = i + 1; j < 200; j++) {
            int shared = 0;
            char buf[512];
            snprintf(buf, sizeof buf, "%s", sd->item_text[i]);
            for (char *tok = strtok(buf, " ,."); tok; tok = strtok(NULL, " ,."))
                if (strlen(tok) > 3 && word_in(sd->item_text[j], tok)) shared++;
            if (sd->item_category[i] == sd->item_category[j]) {
                same += shared;
                ns++;
            } else {
                other += shared;
                no++;
            }
        }
    CHECK(ns > 0 && no > 0);
    CHECK(same / ns > other / no + 2.0);
    drec_dataset_free(ds);
}

TEST(spec_errors_name_the_key) {
    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"synthetic:users=10,colour=red", "colour"}, {"synthetic:users=abc", "users"},
        {"synthetic:users=0", "users"},              {"synthetic:items=-5", "items"},
        {"synthetic:dim=999", "dim"},                {"synthetic:implicit=2", "implicit"},
        {"synthetic:users", "users"},                {"synthetic:events=", "events"},
        {"synthetic:categories=21", "categories"},   {"synthetic:seed=1x", "seed"},
        {"synthetic:users=20000000,events=100", "1e9"},
    };
    for (size_t k = 0; k < DREC_ARRAY_LEN(bad); k++) {
        drec_dataset *ds = (drec_dataset *)1;
        drec_status st = drec_dataset_load(bad[k].spec, &ds);
        CHECK(st == DREC_ERR_USAGE);
        CHECK(ds == NULL);
        if (!strstr(drec_errmsg(), bad[k].needle)) {
            fprintf(stderr, "  %s: message \"%s\" lacks \"%s\"\n", bad[k].spec, drec_errmsg(), bad[k].needle);
            harness_failed_checks++;
        }
    }
    drec_world *w = (drec_world *)1;
    CHECK(drec_world_new("bogus=1", &w) == DREC_ERR_USAGE && w == NULL);
}

TEST(a_million_events_generate) {
    /* Not a timing assertion: the size that drec is meant to handle is
     * possible (the sanitizer build checks a tenth of it). */
    const char *spec = sanitized() ? "synthetic:users=2500,items=2000" : "synthetic:users=25000,items=10000";
    double t0 = drec_now();
    drec_dataset *ds = load(spec);
    if (!ds) return;
    size_t want = sanitized() ? 100000 : 1000000;
    CHECK(ds->n > want * 9 / 10 && ds->n < want * 11 / 10);
    fprintf(stderr, "  %s: %zu events in %.2f s\n", spec, ds->n, drec_now() - t0);
    drec_dataset_free(ds);
}

/* Leave-last-out on the history: HR@10 over all items the user has not
 * touched, for popularity and for item co-occurrence. */
TEST(personal_scores_beat_popularity) {
    drec_world *w;
    CHECK_OK(drec_world_new("users=1000,items=400,seed=3", &w));
    if (!w) return;
    const drec_dataset *ds = drec_world_dataset(w);
    int32_t I = ds->n_items;
    float *pop = calloc((size_t)I, sizeof *pop), *co = calloc((size_t)I * I, sizeof *co);
    float *score = malloc((size_t)I * sizeof *score);
    char *seen = calloc((size_t)I, 1);
    for (int32_t u = 0; u < ds->n_users; u++) {
        int64_t a = ds->user_ptr[u], b = ds->user_ptr[u + 1] - 1;
        for (int64_t k = a; k < b; k++) {
            pop[ds->user_items[k]]++;
            for (int64_t q = a; q < b; q++)
                if (q != k) co[(size_t)ds->user_items[k] * I + ds->user_items[q]]++;
        }
    }
    double hits[3] = {0};
    int users = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        int64_t a = ds->user_ptr[u], b = ds->user_ptr[u + 1] - 1;
        int32_t held = ds->user_items[b];
        memset(seen, 0, (size_t)I);
        for (int64_t k = a; k < b; k++) seen[ds->user_items[k]] = 1;
        users++;
        for (int m = 0; m < 3; m++) {
            for (int32_t i = 0; i < I; i++) {
                if (m == 0)
                    score[i] = (float)((uint32_t)(i * 2654435761u + (uint32_t)u * 40503u) % 100003u);
                else if (m == 1)
                    score[i] = pop[i];
                else {
                    double s = 0;
                    for (int64_t k = a; k < b; k++) s += co[(size_t)ds->user_items[k] * I + i];
                    score[i] = (float)(s / sqrt(pop[i] + 1.0));
                }
            }
            int better = 0;
            for (int32_t i = 0; i < I; i++)
                if (i != held && !seen[i] && (score[i] > score[held] || (score[i] == score[held] && i < held))) better++;
            hits[m] += better < 10;
        }
    }
    double hr_rand = hits[0] / users, hr_pop = hits[1] / users, hr_co = hits[2] / users;
    fprintf(stderr, "  HR@10 random %.3f, popularity %.3f, co-occurrence %.3f\n", hr_rand, hr_pop, hr_co);
    CHECK(hr_pop > 2.5 * hr_rand); /* popularity carries signal ...        */
    CHECK(hr_pop < 0.3);            /* ... but is far from the whole story  */
    CHECK(hr_co > 1.4 * hr_pop);    /* personalisation beats it clearly     */
    free(pop);
    free(co);
    free(score);
    free(seen);
    drec_world_free(w);
}

TEST(simulator_draws_and_features) {
    drec_world *w;
    CHECK_OK(drec_world_new("users=500,items=300,dim=6", &w));
    if (!w) return;
    CHECK(drec_world_n_users(w) == 500 && drec_world_n_items(w) == 300);
    CHECK(drec_world_ctx_dim(w) == 13 + 6);
    CHECK(drec_world_shock_step(w) == -1);
    drec_world_ctx a, b;
    int users_seen = 0;
    char *hit = calloc(500, 1);
    for (int64_t t = 0; t < 3000; t++) {
        drec_world_draw(w, t, &a);
        drec_world_draw(w, t, &b);
        CHECK(a.user == b.user && a.tod == b.tod && a.device == b.device && a.step == t);
        CHECK(a.user >= 0 && a.user < 500 && a.tod >= 0 && a.tod < 4 && a.device >= 0 && a.device < 3);
        users_seen += !hit[a.user];
        hit[a.user] = 1;
    }
    CHECK(users_seen > 450);
    free(hit);
    float f[19];
    drec_world_draw(w, 7, &a);
    drec_world_features(w, &a, f);
    CHECK(f[0] == 1.0f);
    CHECK(f[1 + a.tod] == 1.0f && f[1] + f[2] + f[3] + f[4] == 1.0f);
    CHECK(f[5 + a.device] == 1.0f && f[5] + f[6] + f[7] == 1.0f);
    CHECK(f[8] + f[9] + f[10] + f[11] + f[12] == 1.0f);
    double norm = 0;
    for (int k = 13; k < 19; k++) norm += f[k] * f[k];
    CHECK(norm > 0);
    /* Item features: category one-hot, relative log price, embedding. */
    const drec_dataset *ds = drec_world_dataset(w);
    int C = ds->side->categories.n;
    CHECK(drec_world_item_dim(w) == C + 1 + 6);
    float *g = malloc((size_t)drec_world_item_dim(w) * sizeof *g), lp[300];
    size_t bad = 0;
    for (int32_t i = 0; i < 300; i++) {
        drec_world_item_features(w, i, g);
        float ones = 0;
        for (int c = 0; c < C; c++) ones += g[c];
        bad += ones != 1.0f || g[ds->side->item_category[i]] != 1.0f;
        lp[i] = g[C];
    }
    /* log(price / category median): within a category, ordered as prices. */
    for (int32_t i = 0; i < 300; i++)
        for (int32_t j = 0; j < 300; j++)
            if (ds->side->item_category[i] == ds->side->item_category[j] &&
                ds->side->item_price[i] < ds->side->item_price[j])
                bad += !(lp[i] < lp[j]);
    CHECK(bad == 0);
    free(g);
    /* best is the maximum of expected over the arms. */
    int32_t arms[12];
    for (int k = 0; k < 12; k++) arms[k] = k * 25;
    int bi = -1;
    double best = drec_world_best(w, &a, arms, 12, &bi), mx = 0;
    for (int k = 0; k < 12; k++) mx = DREC_MAX(mx, drec_world_expected(w, &a, arms[k]));
    CHECK_NEAR(best, mx, 1e-12);
    CHECK(bi >= 0 && bi < 12);
    CHECK_NEAR(drec_world_expected(w, &a, arms[bi]), best, 1e-12);
    /* Personalised arms are worth much more than average ones. */
    double mean_best = 0, mean_any = 0;
    for (int64_t t = 0; t < 2000; t++) {
        drec_world_draw(w, t, &a);
        mean_best += drec_world_best(w, &a, arms, 12, NULL);
        mean_any += drec_world_expected(w, &a, arms[t % 12]);
    }
    mean_best /= 2000;
    mean_any /= 2000;
    fprintf(stderr, "  mean expected reward: best of 12 arms %.3f, any arm %.3f\n", mean_best, mean_any);
    CHECK(mean_best > 3 * mean_any);
    CHECK(mean_any > 0.01 && mean_any < 0.2);
    drec_world_free(w);
}

TEST(clicks_match_expected_reward) {
    drec_world *w;
    CHECK_OK(drec_world_new("users=200,items=100", &w));
    if (!w) return;
    /* One user and context; many steps.  Drift over 40000 steps is small
     * but real, so compare with the mean of the expected rewards. */
    enum { T = 40000 };
    int32_t slate[5] = {3, 14, 15, 92, 65};
    double clicks = 0, expect = 0, sclicks = 0, sexpect = 0;
    size_t not01 = 0, badslot = 0;
    for (int64_t t = 0; t < T; t++) {
        drec_world_ctx c = {7, 2, 0, t};
        int32_t item = (int32_t)(t % 10) * 10;
        int r = drec_world_click(w, &c, item);
        not01 += r != 0 && r != 1;
        clicks += r;
        expect += drec_world_expected(w, &c, item);
        int s = drec_world_slate_click(w, &c, slate, 5);
        badslot += s < -1 || s >= 5;
        sclicks += s >= 0;
        sexpect += drec_world_slate_expected(w, &c, slate, 5);
    }
    CHECK(not01 == 0 && badslot == 0);
    double p = expect / T, ps = sexpect / T;
    /* 4.5 standard errors of a mean of T Bernoulli draws. */
    CHECK_NEAR(clicks / T, p, 4.5 * sqrt(p * (1 - p) / T) + 1e-9);
    CHECK_NEAR(sclicks / T, ps, 4.5 * sqrt(ps * (1 - ps) / T) + 1e-9);
    CHECK(p > 0.005 && p < 0.995);
    /* A slate of one is the item alone. */
    drec_world_ctx c = {7, 2, 0, 123};
    CHECK_NEAR(drec_world_slate_expected(w, &c, slate, 1), drec_world_expected(w, &c, slate[0]), 1e-12);
    CHECK((drec_world_slate_click(w, &c, slate, 1) == 0) == (drec_world_click(w, &c, slate[0]) == 1));
    /* A longer slate never lowers the chance of a click. */
    CHECK(drec_world_slate_expected(w, &c, slate, 5) >= drec_world_slate_expected(w, &c, slate, 2));
    drec_world_free(w);
}

TEST(market_shock_moves_rewards) {
    drec_world *plain, *shocked;
    CHECK_OK(drec_world_new("users=300,items=200,shock=5000", &shocked));
    CHECK_OK(drec_world_new("users=300,items=200", &plain));
    if (!plain || !shocked) return;
    CHECK(drec_world_shock_step(shocked) == 5000);
    /* Same seed: the same history (the shock is after it). */
    const drec_dataset *a = drec_world_dataset(plain), *b = drec_world_dataset(shocked);
    CHECK(a->n == b->n && memcmp(a->item, b->item, a->n * sizeof *a->item) == 0);
    int32_t arms[20];
    for (int k = 0; k < 20; k++) arms[k] = k * 10;
    double moved = 0, drifted = 0;
    int best_changed = 0;
    for (int32_t u = 0; u < 300; u++) {
        drec_world_ctx before = {u, 1, 0, 4999}, after = {u, 1, 0, 5000};
        int b0, b1;
        drec_world_best(shocked, &before, arms, 20, &b0);
        drec_world_best(shocked, &after, arms, 20, &b1);
        best_changed += b0 != b1;
        for (int k = 0; k < 20; k++) {
            moved += fabs(drec_world_expected(shocked, &after, arms[k]) - drec_world_expected(shocked, &before, arms[k]));
            drifted += fabs(drec_world_expected(plain, &after, arms[k]) - drec_world_expected(plain, &before, arms[k]));
        }
        /* Before the shock both worlds agree exactly. */
        CHECK(drec_world_expected(plain, &before, arms[u % 20]) == drec_world_expected(shocked, &before, arms[u % 20]));
    }
    moved /= 300 * 20;
    drifted /= 300 * 20;
    CHECK(moved > 0.02);
    CHECK(drifted < 1e-3);
    CHECK(best_changed > 150);
    drec_world_free(plain);
    drec_world_free(shocked);
}

/* Solves the n x n system A x = b in place (Gaussian elimination with
 * partial pivoting; A is well conditioned here: ridge-regularised). */
static void solve(int n, double *A, double *b, double *x) {
    for (int i = 0; i < n; i++) {
        int p = i;
        for (int r = i + 1; r < n; r++)
            if (fabs(A[r * n + i]) > fabs(A[p * n + i])) p = r;
        for (int c = 0; c < n; c++) {
            double t = A[i * n + c];
            A[i * n + c] = A[p * n + c];
            A[p * n + c] = t;
        }
        double t = b[i];
        b[i] = b[p];
        b[p] = t;
        for (int r = i + 1; r < n; r++) {
            double f = A[r * n + i] / A[i * n + i];
            for (int c = i; c < n; c++) A[r * n + c] -= f * A[i * n + c];
            b[r] -= f * b[i];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double v = b[i];
        for (int c = i + 1; c < n; c++) v -= A[i * n + c] * x[c];
        x[i] = v / A[i * n + i];
    }
}

/* The context features are worth using: per-arm ridge regressions of the
 * clicks on them (what LinUCB converges to), fitted on observed clicks,
 * choose arms far better than the best single arm. */
TEST(context_features_carry_signal) {
    drec_world *w;
    CHECK_OK(drec_world_new("users=1000,items=400", &w));
    if (!w) return;
    enum { K = 10, N = 6000, M = 3000 };
    int D = drec_world_ctx_dim(w);
    int32_t arms[K];
    for (int k = 0; k < K; k++) arms[k] = k * 40;
    double *A = calloc((size_t)K * D * D, sizeof *A), *b = calloc((size_t)K * D, sizeof *b);
    double *th = calloc((size_t)K * D, sizeof *th), arm_mean[K] = {0};
    float *f = malloc((size_t)D * sizeof *f);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < D; i++) A[(size_t)k * D * D + i * D + i] = 1.0;
    for (int64_t t = 0; t < N; t++) {
        drec_world_ctx c;
        drec_world_draw(w, t, &c);
        drec_world_features(w, &c, f);
        for (int k = 0; k < K; k++) {
            double y = drec_world_click(w, &c, arms[k]);
            arm_mean[k] += drec_world_expected(w, &c, arms[k]) / N;
            double *Ak = A + (size_t)k * D * D;
            for (int i = 0; i < D; i++) {
                b[k * D + i] += f[i] * y;
                for (int j = 0; j < D; j++) Ak[i * D + j] += (double)f[i] * f[j];
            }
        }
    }
    for (int k = 0; k < K; k++) solve(D, A + (size_t)k * D * D, b + k * D, th + k * D);
    double fixed = 0, greedy = 0, oracle = 0;
    for (int k = 0; k < K; k++) fixed = DREC_MAX(fixed, arm_mean[k]);
    for (int64_t t = N; t < N + M; t++) {
        drec_world_ctx c;
        drec_world_draw(w, t, &c);
        drec_world_features(w, &c, f);
        int bk = 0;
        double bv = -1e30;
        for (int k = 0; k < K; k++) {
            double v = 0;
            for (int i = 0; i < D; i++) v += th[k * D + i] * f[i];
            if (v > bv) {
                bv = v;
                bk = k;
            }
        }
        greedy += drec_world_expected(w, &c, arms[bk]) / M;
        oracle += drec_world_best(w, &c, arms, K, NULL) / M;
    }
    fprintf(stderr, "  mean reward: best single arm %.3f, linear in context %.3f, oracle %.3f\n", fixed, greedy,
            oracle);
    CHECK(greedy > 1.3 * fixed);
    CHECK(oracle > greedy);
    free(A);
    free(b);
    free(th);
    free(f);
    drec_world_free(w);
}

int main(void) {
    RUN(same_seed_same_rows_other_seed_other_rows);
    RUN(default_sizes_and_ids);
    RUN(ratings_explicit_and_implicit);
    RUN(time_order_sessions_and_context);
    RUN(items_have_titles_categories_prices_text);
    RUN(spec_errors_name_the_key);
    RUN(a_million_events_generate);
    RUN(personal_scores_beat_popularity);
    RUN(simulator_draws_and_features);
    RUN(clicks_match_expected_reward);
    RUN(market_shock_moves_rewards);
    RUN(context_features_carry_signal);
    return harness_summary();
}
