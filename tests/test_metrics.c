/*
 * test_metrics.c — every metric formula of eval/metrics.h against values
 * worked out by hand, ties included (a tie with the held-out item counts
 * against it).
 */
#include "eval/metrics.h"
#include "harness.h"

TEST(rank_metrics_by_hand) {
    /* three relevant items at ranks 2, 5 and 9; K = 5 */
    int64_t r[3] = {2, 5, 9};
    CHECK_NEAR(drec_rank_metric(DREC_M_HR, 5, r, 3), 1.0, 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_PRECISION, 5, r, 3), 0.4, 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_RECALL, 5, r, 3), 2.0 / 3, 1e-12);
    /* dcg = 1/log2(3) + 1/log2(6); idcg = 1 + 1/log2(3) + 1/log2(4) */
    CHECK_NEAR(drec_rank_metric(DREC_M_NDCG, 5, r, 3), 0.4776237035032179, 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_MRR, 5, r, 3), 0.5, 1e-12);
    /* (1/2 + 2/5) / min(5, 3) */
    CHECK_NEAR(drec_rank_metric(DREC_M_MAP, 5, r, 3), 0.3, 1e-12);
    /* K = 1: nothing in the top 1 */
    for (int k = DREC_M_HR; k <= DREC_M_MAP; k++) CHECK_NEAR(drec_rank_metric((drec_metric_kind)k, 1, r, 3), 0, 1e-12);
    /* K = 2: one hit at rank 2 */
    CHECK_NEAR(drec_rank_metric(DREC_M_NDCG, 2, r, 3), (1 / log2(3)) / (1 + 1 / log2(3)), 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_MAP, 2, r, 3), 0.5 / 2, 1e-12);
    /* leave-one-out: one relevant item at rank 1 -> everything 1 (precision 1/K) */
    int64_t one = 1;
    CHECK_NEAR(drec_rank_metric(DREC_M_NDCG, 10, &one, 1), 1, 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_PRECISION, 10, &one, 1), 0.1, 1e-12);
    int64_t four = 4;
    CHECK_NEAR(drec_rank_metric(DREC_M_NDCG, 10, &four, 1), 1 / log2(5), 1e-12);
    CHECK_NEAR(drec_rank_metric(DREC_M_MRR, 10, &four, 1), 0.25, 1e-12);
    CHECK(isnan(drec_rank_metric(DREC_M_HR, 10, r, 0)));
}

TEST(ties_count_against_the_held_out_item) {
    float cand[4] = {0.5f, 0.7f, 0.1f, 0.5f};
    CHECK(drec_rank_of(0.5f, cand, 4) == 4); /* 0.7 and both 0.5s are ahead */
    CHECK(drec_rank_of(0.8f, cand, 4) == 1);
    CHECK(drec_rank_of(0.1f, cand, 4) == 5);
    float same[3] = {1, 1, 1};
    CHECK(drec_rank_of(1, same, 3) == 4); /* a constant model ranks it last */
    float withnan[3] = {NAN, 0.2f, 0.9f};
    CHECK(drec_rank_of(0.5f, withnan, 3) == 3); /* an unscored item counts against it */
    CHECK(drec_rank_of(NAN, cand, 4) == 5);
}

TEST(auc_and_logloss) {
    float s1[4] = {0.1f, 0.4f, 0.35f, 0.8f}, y1[4] = {0, 0, 1, 1};
    CHECK_NEAR(drec_auc(s1, y1, 4), 0.75, 1e-12);
    /* ties count one half: pos {0.5, 0.9} vs neg {0.5, 0.2} -> 3.5 / 4 */
    float s2[4] = {0.5f, 0.5f, 0.2f, 0.9f}, y2[4] = {1, 0, 0, 1};
    CHECK_NEAR(drec_auc(s2, y2, 4), 0.875, 1e-12);
    float y3[2] = {1, 1};
    CHECK(isnan(drec_auc(s1, y3, 2)));
    CHECK_NEAR(drec_logloss(0.8f, 1), -log(0.8f), 1e-7);
    CHECK_NEAR(drec_logloss(0.8f, 0), -log(1 - 0.8f), 1e-6);
    CHECK_NEAR(drec_logloss(0.0f, 1), -log(1e-7), 1e-6); /* clipped */
}

static double parity(int32_t a, int32_t b, void *ctx) {
    (void)ctx;
    return (a % 2) == (b % 2);
}

TEST(list_metrics) {
    int32_t count[4] = {1, 4, 8, 0};
    int32_t list[3] = {0, 1, 2};
    /* -log2(1/8) = 3, -log2(4/8) = 1, -log2(8/8) = 0 */
    CHECK_NEAR(drec_list_novelty(list, 3, count, 8), 4.0 / 3, 1e-12);
    int32_t cold[1] = {3}; /* never seen in training: counted as once */
    CHECK_NEAR(drec_list_novelty(cold, 1, count, 8), 3, 1e-12);
    CHECK_NEAR(drec_list_arp(list, 3, count), 13.0 / 3, 1e-12);
    /* pairs (0,1) differ, (0,2) alike, (1,2) differ -> 2/3 */
    CHECK_NEAR(drec_list_diversity(list, 3, parity, NULL), 2.0 / 3, 1e-12);
    CHECK(isnan(drec_list_diversity(list, 1, parity, NULL)));
}

TEST(metric_names_parse) {
    drec_metric m[8];
    int n;
    CHECK_OK(drec_metrics_parse("hr@5,ndcg,rmse,coverage@20", m, 8, &n));
    CHECK(n == 4);
    CHECK(m[0].kind == DREC_M_HR && m[0].k == 5);
    CHECK(m[1].kind == DREC_M_NDCG && m[1].k == 10);
    CHECK(m[2].kind == DREC_M_RMSE && m[2].k == 0);
    char b[32];
    CHECK_STR(drec_metric_name(&m[3], b, sizeof b), "coverage@20");
    CHECK(drec_metrics_parse("foo", m, 8, &n) == DREC_ERR_USAGE);
    CHECK(drec_metrics_parse("rmse@3", m, 8, &n) == DREC_ERR_USAGE);
    CHECK(drec_metrics_parse("hr@0", m, 8, &n) == DREC_ERR_USAGE);
    CHECK(drec_metrics_parse("hr@x", m, 8, &n) == DREC_ERR_USAGE);
    CHECK(drec_metric_direction(DREC_M_RMSE) == -1 && drec_metric_direction(DREC_M_NDCG) == 1);
}

int main(void) {
    RUN(rank_metrics_by_hand);
    RUN(ties_count_against_the_held_out_item);
    RUN(auc_and_logloss);
    RUN(list_metrics);
    RUN(metric_names_parse);
    return harness_summary();
}
