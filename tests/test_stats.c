/*
 * test_stats.c — Student's t distribution against textbook quantiles, the
 * incomplete beta function against closed forms, the paired t-test against
 * hand arithmetic, and the bootstrap's determinism and width.
 */
#include "eval/stats.h"
#include "harness.h"

#include <omp.h>

TEST(incomplete_beta_closed_forms) {
    /* I_x(2,3) = sum_{j=2..4} C(4,j) x^j (1-x)^(4-j): 11/16 at x = 1/2 */
    CHECK_NEAR(drec_betainc(2, 3, 0.5), 11.0 / 16, 1e-12);
    /* I_x(1,1) = x; I_x(a,1) = x^a */
    CHECK_NEAR(drec_betainc(1, 1, 0.3), 0.3, 1e-12);
    CHECK_NEAR(drec_betainc(3.5, 1, 0.7), pow(0.7, 3.5), 1e-12);
    /* symmetry I_x(a,b) = 1 - I_{1-x}(b,a) */
    CHECK_NEAR(drec_betainc(2.5, 7, 0.2), 1 - drec_betainc(7, 2.5, 0.8), 1e-12);
    CHECK(drec_betainc(2, 3, 0) == 0 && drec_betainc(2, 3, 1) == 1);
}

TEST(student_t_quantiles) {
    /* two-sided 95% critical values from the t table */
    CHECK_NEAR(drec_t_cdf(12.706204736, 1), 0.975, 1e-8);
    CHECK_NEAR(drec_t_cdf(2.776445105, 4), 0.975, 1e-8);
    CHECK_NEAR(drec_t_cdf(2.262157163, 9), 0.975, 1e-8);
    CHECK_NEAR(drec_t_cdf(2.756385904, 29), 0.995, 1e-8);
    CHECK_NEAR(drec_t_cdf(-1.812461123, 10), 0.05, 1e-8);
    /* Cauchy (df = 1): F(t) = 1/2 + atan(t)/pi */
    CHECK_NEAR(drec_t_cdf(1, 1), 0.75, 1e-12);
    CHECK_NEAR(drec_t_cdf(-3, 1), 0.5 + atan(-3) / M_PI, 1e-12);
    /* df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)) */
    CHECK_NEAR(drec_t_cdf(1.5, 2), 0.5 + 1.5 / (2 * sqrt(2 + 2.25)), 1e-12);
    CHECK_NEAR(drec_t_cdf(0, 7), 0.5, 1e-15);
    /* large df tends to the normal: Phi(1.959963985) = 0.975 */
    CHECK_NEAR(drec_t_cdf(1.959963985, 1e7), 0.975, 1e-6);
}

TEST(paired_ttest_by_hand) {
    /* differences 1..5: mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5)/sqrt(5)) = 3 sqrt(2) */
    double a[5] = {2, 4, 6, 8, 10}, b[5] = {1, 2, 3, 4, 5};
    drec_ttest t = drec_paired_ttest(a, b, 5);
    CHECK(t.n == 5);
    CHECK_NEAR(t.mean_diff, 3, 1e-12);
    CHECK_NEAR(t.t, 3 * sqrt(2.0), 1e-12);
    CHECK_NEAR(t.p, 2 * (1 - drec_t_cdf(3 * sqrt(2.0), 4)), 1e-12);
    CHECK(t.p > 0.01 && t.p < 0.02); /* 0.0132 */
    /* swapped: same p, negative t */
    drec_ttest u = drec_paired_ttest(b, a, 5);
    CHECK_NEAR(u.t, -t.t, 1e-12);
    CHECK_NEAR(u.p, t.p, 1e-12);
    /* a NaN pair is left out */
    double c[6] = {2, 4, 6, 8, 10, NAN}, d[6] = {1, 2, 3, 4, 5, 0};
    CHECK(drec_paired_ttest(c, d, 6).n == 5);
    /* identical vectors: no difference, p = 1; constant nonzero shift: p = 0 */
    CHECK_NEAR(drec_paired_ttest(a, a, 5).p, 1, 0);
    double e[5] = {3, 5, 7, 9, 11};
    CHECK_NEAR(drec_paired_ttest(e, a, 5).p, 0, 0);
    /* small noisy difference: not significant */
    double f[6] = {0.1, 0.5, 0.3, 0.2, 0.4, 0.6}, g[6] = {0.2, 0.4, 0.35, 0.1, 0.45, 0.55};
    CHECK(drec_paired_ttest(f, g, 6).p > 0.5);
}

TEST(bootstrap_intervals) {
    drec_rng r;
    drec_rng_seed(&r, 11);
    size_t n = 2000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double mean = 0;
    for (size_t j = 0; j < n; j++) {
        x[j] = drec_rng_normal(&r);
        y[j] = x[j] - 0.5;
        mean += x[j];
    }
    mean /= (double)n;
    double lo, hi, lo2, hi2;
    drec_bootstrap_ci(x, NULL, n, DREC_STAT_MEAN, 1000, 0.95, 5, &lo, &hi);
    drec_bootstrap_ci(x, NULL, n, DREC_STAT_MEAN, 1000, 0.95, 5, &lo2, &hi2);
    CHECK(lo == lo2 && hi == hi2); /* fixed seed, same interval */
    omp_set_num_threads(1);
    drec_bootstrap_ci(x, NULL, n, DREC_STAT_MEAN, 1000, 0.95, 5, &lo2, &hi2);
    omp_set_num_threads(2);
    CHECK(lo == lo2 && hi == hi2); /* and at any thread count */
    CHECK(lo < mean && mean < hi);
    /* width close to 2 * 1.96 / sqrt(n) = 0.0877 */
    CHECK_NEAR(hi - lo, 2 * 1.96 / sqrt((double)n), 0.012);
    /* paired: x - y is exactly 0.5 everywhere */
    drec_bootstrap_ci(x, y, n, DREC_STAT_MEAN, 200, 0.95, 5, &lo, &hi);
    CHECK_NEAR(lo, 0.5, 1e-12);
    CHECK_NEAR(hi, 0.5, 1e-12);
    /* sqrt of the mean (rmse from squared errors): constant 4 -> 2 */
    double sq[3] = {4, 4, 4};
    drec_bootstrap_ci(sq, NULL, 3, DREC_STAT_SQRT_MEAN, 100, 0.95, 1, &lo, &hi);
    CHECK_NEAR(lo, 2, 1e-12);
    CHECK_NEAR(hi, 2, 1e-12);
    drec_bootstrap_ci(sq, NULL, 1, DREC_STAT_MEAN, 100, 0.95, 1, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi));
    free(x);
    free(y);
}

int main(void) {
    RUN(incomplete_beta_closed_forms);
    RUN(student_t_quantiles);
    RUN(paired_ttest_by_hand);
    RUN(bootstrap_intervals);
    return harness_summary();
}
