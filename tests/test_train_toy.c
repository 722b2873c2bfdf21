/*
 * test_train_toy.c — whole training loops on toy problems with a known
 * answer: logistic regression reaches the loss of the generating model,
 * a two-layer MLP learns XOR, a sparse matrix factorization recovers a
 * rank-2 matrix (tape + lazy Adam, and the Hogwild path), and training is
 * bit-for-bit repeatable.
 */
#include "core/tensor.h"
#include "harness.h"

#include <math.h>

/* ---- logistic regression ---------------------------------------------------------- */

enum { LR_N = 2000, LR_D = 5 };

static float logreg(float *w_out) {
    static float X[LR_N * LR_D], Y[LR_N];
    const double wstar[LR_D] = {1.5, -2.0, 0.5, 1.0, 0.0}, bstar = 0.3;
    drec_rng r;
    drec_rng_seed(&r, 42);
    double true_loss = 0;
    for (int i = 0; i < LR_N; i++) {
        double z = bstar;
        for (int j = 0; j < LR_D; j++) {
            X[i * LR_D + j] = (float)drec_rng_normal(&r);
            z += wstar[j] * X[i * LR_D + j];
        }
        double p = 1 / (1 + exp(-z));
        Y[i] = drec_rng_double(&r) < p ? 1.0f : 0.0f;
        true_loss += Y[i] ? -log(p) : -log(1 - p);
    }
    true_loss /= LR_N;
    drec_param *W = drec_param_new("w", LR_D, 1, 0), *b = drec_param_new("b", 1, 1, 0);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.05f;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, W);
    drec_optim_add(o, b);
    drec_tape tp;
    drec_tape_init(&tp, 0);
    float loss = 0;
    for (int step = 0; step < 400; step++) {
        drec_tape_reset(&tp);
        drec_tensor *z = drec_linear(&tp, drec_tfrom(&tp, X, LR_N, LR_D), drec_pt(W), drec_pt(b), DREC_ACT_NONE);
        drec_tensor *l = drec_bce_logits(&tp, z, drec_tfrom(&tp, Y, LR_N, 1), NULL);
        loss = l->data[0];
        drec_backward(&tp, l);
        drec_optim_step(o);
    }
    printf("  logistic regression: loss %.5f, generating model's loss %.5f\n", loss, true_loss);
    /* The MLE fits the sample at least as well as the generating weights,
     * and with 6 parameters and 2000 examples not much better. */
    CHECK(loss <= true_loss + 2e-3);
    CHECK(loss >= true_loss - 0.02);
    for (int j = 0; j < LR_D; j++) CHECK_NEAR(W->t.data[j], wstar[j], 0.25);
    CHECK_NEAR(b->t.data[0], bstar, 0.2);
    if (w_out) memcpy(w_out, W->t.data, sizeof(float) * LR_D);
    drec_tape_free(&tp);
    drec_optim_free(o);
    drec_param_free(W);
    drec_param_free(b);
    return loss;
}

TEST(logistic_regression_reaches_generating_loss) { logreg(NULL); }

/* ---- two-layer MLP on XOR ------------------------------------------------------------------ */

enum { XN = 1024, XH = 32 };

/* Returns the final loss; writes the trained first-layer weights to w1. */
static float mlp_xor(float *w1, int steps) {
    static float X[XN * 2], Y[XN];
    drec_rng r;
    drec_rng_seed(&r, 7);
    for (int i = 0; i < XN; i++) {
        float a, b;
        do {
            a = 2 * drec_rng_float(&r) - 1;
            b = 2 * drec_rng_float(&r) - 1;
        } while (fabsf(a) < 0.1f || fabsf(b) < 0.1f); /* a margin around the axes */
        X[2 * i] = a;
        X[2 * i + 1] = b;
        Y[i] = a * b > 0 ? 1.0f : 0.0f;
    }
    drec_param *W1 = drec_param_new("w1", 2, XH, 0), *b1 = drec_param_new("b1", 1, XH, 0);
    drec_param *W2 = drec_param_new("w2", XH, 1, 0), *b2 = drec_param_new("b2", 1, 1, 0);
    drec_init_he_normal(W1, &r);
    drec_init_xavier_uniform(W2, &r);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.02f;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, W1);
    drec_optim_add(o, b1);
    drec_optim_add(o, W2);
    drec_optim_add(o, b2);
    drec_tape tp;
    drec_tape_init(&tp, 0);
    float loss = 0;
    for (int step = 0; step < steps; step++) {
        drec_tape_reset(&tp);
        int off = (step % 8) * 128; /* minibatches of 128 */
        drec_tensor *x = drec_tfrom(&tp, X + off * 2, 128, 2);
        drec_tensor *h = drec_linear(&tp, x, drec_pt(W1), drec_pt(b1), DREC_ACT_RELU);
        drec_tensor *z = drec_linear(&tp, h, drec_pt(W2), drec_pt(b2), DREC_ACT_NONE);
        drec_tensor *l = drec_bce_logits(&tp, z, drec_tfrom(&tp, Y + off, 128, 1), NULL);
        drec_backward(&tp, l);
        drec_optim_step(o);
    }
    /* final full-data loss, no tape */
    drec_tape_reset(&tp);
    tp.no_grad = true;
    drec_tensor *h = drec_linear(&tp, drec_tfrom(&tp, X, XN, 2), drec_pt(W1), drec_pt(b1), DREC_ACT_RELU);
    drec_tensor *z = drec_linear(&tp, h, drec_pt(W2), drec_pt(b2), DREC_ACT_NONE);
    loss = drec_bce_logits(&tp, z, drec_tfrom(&tp, Y, XN, 1), NULL)->data[0];
    CHECK(tp.n_nodes == 0);
    if (w1) memcpy(w1, W1->t.data, sizeof(float) * 2 * XH);
    drec_tape_free(&tp);
    drec_optim_free(o);
    drec_param_free(W1);
    drec_param_free(b1);
    drec_param_free(W2);
    drec_param_free(b2);
    return loss;
}

TEST(mlp_learns_xor) {
    float loss = mlp_xor(NULL, 1200);
    printf("  MLP 2-32-1 on XOR: loss %.5f (separable with margin: minimum 0)\n", loss);
    CHECK(loss < 0.05f);
}

TEST(training_is_bit_identical) {
    float a[2 * XH], b[2 * XH];
    float la = mlp_xor(a, 200), lb = mlp_xor(b, 200);
    CHECK(la == lb);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

/* ---- sparse MF on a rank-2 matrix --------------------------------------------------------- */

enum { MU = 60, MI = 50, MK = 2, MD = 8 };

static float truth[MU * MI];
static void make_truth(void) {
    drec_rng r;
    drec_rng_seed(&r, 11);
    float U[MU * MK], V[MI * MK];
    for (int i = 0; i < MU * MK; i++) U[i] = (float)drec_rng_normal(&r);
    for (int i = 0; i < MI * MK; i++) V[i] = (float)drec_rng_normal(&r);
    for (int u = 0; u < MU; u++)
        for (int i = 0; i < MI; i++) truth[u * MI + i] = U[u * MK] * V[i * MK] + U[u * MK + 1] * V[i * MK + 1];
}

static double mf_rmse(const drec_param *P, const drec_param *Q) {
    double s = 0;
    for (int u = 0; u < MU; u++)
        for (int i = 0; i < MI; i++) {
            double d = -truth[u * MI + i];
            for (int k = 0; k < MD; k++) d += (double)P->t.data[u * MD + k] * Q->t.data[i * MD + k];
            s += d * d;
        }
    return sqrt(s / (MU * MI));
}

TEST(sparse_mf_recovers_low_rank) {
    make_truth();
    drec_rng r;
    drec_rng_seed(&r, 12);
    drec_param *P = drec_param_new("P", MU, MD, DREC_PARAM_SPARSE), *Q = drec_param_new("Q", MI, MD, DREC_PARAM_SPARSE);
    drec_init_normal(P, &r, 0, 0.3f);
    drec_init_normal(Q, &r, 0, 0.3f);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.02f;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, P);
    drec_optim_add(o, Q);
    drec_tape tp;
    drec_tape_init(&tp, 0);
    int32_t us[64], is[64];
    float ys[64];
    double before = mf_rmse(P, Q);
    for (int step = 0; step < 3000; step++) {
        for (int b = 0; b < 64; b++) {
            us[b] = (int32_t)drec_rng_below(&r, MU);
            is[b] = (int32_t)drec_rng_below(&r, MI);
            ys[b] = truth[us[b] * MI + is[b]];
        }
        drec_tape_reset(&tp);
        drec_tensor *pu = drec_embedding(&tp, P, drec_ifrom(&tp, us, 64));
        drec_tensor *qi = drec_embedding(&tp, Q, drec_ifrom(&tp, is, 64));
        drec_tensor *l = drec_mse(&tp, drec_rowdot(&tp, pu, qi), drec_tfrom(&tp, ys, 64, 1));
        drec_backward(&tp, l);
        CHECK(P->n_touched <= 64 && !P->all_touched);
        drec_optim_step(o);
    }
    double after = mf_rmse(P, Q);
    printf("  sparse MF (lazy Adam): RMSE %.4f -> %.4f\n", before, after);
    CHECK(after < 0.05);
    drec_tape_free(&tp);
    drec_optim_free(o);
    drec_param_free(P);
    drec_param_free(Q);
}

/* Hogwild: plain SGD on the same problem, examples split over threads. */
typedef struct { float *P, *Q; const int32_t *u, *i; float lr; } hw_ctx;
static void hw_step(void *vctx, int64_t e, int thread) {
    hw_ctx *c = vctx;
    float *p = c->P + c->u[e] * MD, *q = c->Q + c->i[e] * MD;
    float pred = 0;
    for (int k = 0; k < MD; k++) pred += p[k] * q[k];
    float g = pred - truth[c->u[e] * MI + c->i[e]];
    for (int k = 0; k < MD; k++) {
        float pk = p[k];
        p[k] -= c->lr * g * q[k];
        q[k] -= c->lr * g * pk;
    }
}

static double hogwild_mf(int threads, float *P_out) {
    make_truth();
    drec_rng r;
    drec_rng_seed(&r, 13);
    drec_param *P = drec_param_new("P", MU, MD, 0), *Q = drec_param_new("Q", MI, MD, 0);
    drec_init_normal(P, &r, 0, 0.3f);
    drec_init_normal(Q, &r, 0, 0.3f);
    int64_t n = MU * MI;
    int32_t *u = malloc(sizeof(int32_t) * n), *it = malloc(sizeof(int32_t) * n);
    int64_t *order = malloc(sizeof(int64_t) * n);
    for (int64_t e = 0; e < n; e++) {
        u[e] = (int32_t)(e / MI);
        it[e] = (int32_t)(e % MI);
        order[e] = e;
    }
    hw_ctx c = {P->t.data, Q->t.data, u, it, 0.02f};
    for (int epoch = 0; epoch < 150; epoch++) {
        for (int64_t e = n - 1; e > 0; e--) { /* shuffle */
            int64_t j = (int64_t)drec_rng_below(&r, (uint32_t)(e + 1)), t = order[e];
            order[e] = order[j];
            order[j] = t;
        }
        drec_hogwild_run(order, n, threads, hw_step, &c);
    }
    double rmse = mf_rmse(P, Q);
    if (P_out) memcpy(P_out, P->t.data, sizeof(float) * MU * MD);
    free(u);
    free(it);
    free(order);
    drec_param_free(P);
    drec_param_free(Q);
    return rmse;
}

TEST(hogwild_mf_converges) {
    double r2 = hogwild_mf(2, NULL);
    printf("  Hogwild MF, 2 threads: RMSE %.4f\n", r2);
    CHECK(r2 < 0.05);
    static float a[MU * MD], b[MU * MD];
    double r1 = hogwild_mf(1, a), r1b = hogwild_mf(1, b);
    CHECK(r1 < 0.05 && r1 == r1b);
    CHECK(memcmp(a, b, sizeof a) == 0); /* one thread: repeatable */
}

int main(void) {
    RUN(logistic_regression_reaches_generating_loss);
    RUN(mlp_learns_xor);
    RUN(training_is_bit_identical);
    RUN(sparse_mf_recovers_low_rank);
    RUN(hogwild_mf_converges);
    return harness_summary();
}
