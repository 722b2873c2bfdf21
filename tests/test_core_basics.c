/*
 * test_core_basics.c — the small containers and utilities of core/common.h:
 * string interning, top-k selection, the random generator, params, atomic
 * writes.
 */
#include "core/common.h"
#include "core/params.h"
#include "harness.h"

TEST(strmap_interns_in_order) {
    drec_strmap m;
    drec_strmap_init(&m);
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "id%d", i);
        CHECK(drec_strmap_intern(&m, buf, (size_t)n) == i);
    }
    CHECK(drec_strmap_intern(&m, "id17", 4) == 17);
    CHECK(drec_strmap_find(&m, "id999", 5) == 999);
    CHECK(drec_strmap_find(&m, "nope", 4) == -1);
    CHECK_STR(drec_strmap_name(&m, 42), "id42");
    CHECK(m.n == 1000);
    drec_strmap_free(&m);
}

TEST(topk_keeps_best_with_id_tiebreak) {
    drec_scored st[3];
    drec_topk t;
    drec_topk_init(&t, st, 3);
    float s[] = {0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 1.0f};
    for (int i = 0; i < 6; i++) drec_topk_push(&t, i, s[i]);
    int n = drec_topk_finish(&t);
    CHECK(n == 3);
    CHECK(st[0].id == 1 && st[1].id == 3 && st[2].id == 2); /* tie 1.0: id 2 beats id 5 */
}

TEST(rng_is_deterministic_and_uniform) {
    drec_rng a, b;
    drec_rng_seed(&a, 7);
    drec_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++) CHECK(drec_rng_u64(&a) == drec_rng_u64(&b));
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) hist[drec_rng_below(&a, 10)]++;
    for (int k = 0; k < 10; k++) CHECK(hist[k] > 9500 && hist[k] < 10500);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double x = drec_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    CHECK_NEAR(sum / 100000, 0.0, 0.02);
    CHECK_NEAR(sq / 100000, 1.0, 0.02);
    double bs = 0;
    for (int i = 0; i < 20000; i++) bs += drec_rng_beta(&a, 2, 6);
    CHECK_NEAR(bs / 20000, 0.25, 0.01);
}

TEST(params_parse_and_reject) {
    drec_params *p = drec_params_new();
    drec_params_set(p, "epochs", "12");
    drec_params_set(p, "lr", "0.01x");
    drec_params_set(p, "layers", "64,32,16");
    long e;
    double lr;
    CHECK_OK(drec_params_int(p, "epochs", 5, &e));
    CHECK(e == 12);
    CHECK(drec_params_float(p, "lr", 0.1, &lr) == DREC_ERR_USAGE);
    CHECK_STR(drec_errmsg(), "--lr: \"0.01x\" is not a number");
    int l[8];
    CHECK(drec_params_ints(p, "layers", NULL, l, 8) == 3 && l[2] == 16);
    drec_params_free(p);
}

TEST(atomic_write_replaces_whole_file) {
    char *path = write_temp("f.txt", "old", 3);
    CHECK_OK(drec_write_file_atomic(path, "new contents", 12));
    drec_mapped m;
    CHECK_OK(drec_map_file(path, &m));
    CHECK(m.size == 12 && memcmp(m.data, "new contents", 12) == 0 && m.data[12] == 0);
    drec_unmap_file(&m);
    CHECK(drec_map_file("/nonexistent/x", &m) == DREC_ERR_IO);
    free(path);
}

int main(void) {
    RUN(strmap_interns_in_order);
    RUN(topk_keeps_best_with_id_tiebreak);
    RUN(rng_is_deterministic_and_uniform);
    RUN(params_parse_and_reject);
    RUN(atomic_write_replaces_whole_file);
    return harness_summary();
}
