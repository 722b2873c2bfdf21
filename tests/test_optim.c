/*
 * test_optim.c — each optimizer against steps computed by hand (the
 * arithmetic is in the comments), lazy updates of sparse tables, gradient
 * clipping, schedules and initialisers.
 */
#include "core/tensor.h"
#include "harness.h"

#include <math.h>

/* One scalar weight w0, gradients g[0..n) fed one per step; returns w. */
static float run(drec_optim_config c, float w0, const float *g, int n) {
    drec_param *p = drec_param_new("w", 1, 1, 0);
    p->t.data[0] = w0;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, p);
    for (int i = 0; i < n; i++) {
        p->t.grad[0] = g[i];
        drec_optim_step(o);
        CHECK(p->t.grad[0] == 0); /* the step zeroes the gradient */
    }
    float w = p->t.data[0];
    drec_optim_free(o);
    drec_param_free(p);
    return w;
}

static const float half2[2] = {0.5f, 0.5f};

TEST(sgd_momentum_nesterov) {
    drec_optim_config c = drec_optim_defaults(DREC_OPT_SGD);
    c.lr = 0.1f;
    CHECK_NEAR(run(c, 1, half2, 1), 0.95, 1e-7); /* 1 - 0.1*0.5 */
    c.momentum = 0.9f;
    /* buf 0.5 -> w 0.95; buf 0.9*0.5+0.5 = 0.95 -> w 0.95 - 0.095 */
    CHECK_NEAR(run(c, 1, half2, 2), 0.855, 1e-6);
    c.nesterov = true;
    /* step 1: buf 0.5, g' = 0.5 + 0.45 = 0.95 -> 0.905; step 2: buf 0.95, g' = 0.5 + 0.855 -> 0.7695 */
    CHECK_NEAR(run(c, 1, half2, 2), 0.7695, 1e-6);
    c = drec_optim_defaults(DREC_OPT_SGD);
    c.lr = 0.1f;
    c.weight_decay = 0.2f; /* g = 0.5 + 0.2*1 = 0.7 -> 0.93 */
    CHECK_NEAR(run(c, 1, half2, 1), 0.93, 1e-7);
}

TEST(adam_adamw) {
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.1f;
    /* step 1: mhat = 0.5, vhat = 0.25 -> w = 1 - 0.1 * 0.5/0.5 = 0.9; a constant gradient moves lr per step */
    CHECK_NEAR(run(c, 1, half2, 1), 0.9, 1e-6);
    CHECK_NEAR(run(c, 1, half2, 2), 0.8, 1e-6);
    /* step 2 with g = -1: m = 0.045 - 0.1 = -0.055, mhat = -0.055/0.19 = -0.2894737;
     * v = 0.00024975 + 0.001 = 0.00124975, vhat = v/0.001999 = 0.6251876, sqrt = 0.7906880;
     * w = 0.9 + 0.1 * 0.2894737/0.7906880 = 0.9366101 */
    const float g2[2] = {0.5f, -1.0f};
    CHECK_NEAR(run(c, 1, g2, 2), 0.9366101, 2e-6);
    c = drec_optim_defaults(DREC_OPT_ADAMW);
    c.lr = 0.1f;
    c.weight_decay = 0.1f; /* w *= 1 - 0.01 -> 0.99, then - 0.1 -> 0.89 */
    CHECK_NEAR(run(c, 1, half2, 1), 0.89, 1e-6);
    c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.1f;
    c.weight_decay = 0.1f; /* L2: g = 0.6; first Adam step still moves lr: 0.9 */
    CHECK_NEAR(run(c, 1, half2, 1), 0.9, 1e-6);
}

TEST(adagrad_rmsprop) {
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAGRAD);
    c.lr = 0.1f;
    /* G = 0.25 -> w = 1 - 0.1*0.5/0.5 = 0.9; G = 0.5 -> w = 0.9 - 0.05/0.7071068 = 0.8292893 */
    CHECK_NEAR(run(c, 1, half2, 2), 0.8292893, 1e-6);
    c.init_acc = 0.75f; /* G = 1 -> w = 1 - 0.05 */
    CHECK_NEAR(run(c, 1, half2, 1), 0.95, 1e-6);
    c = drec_optim_defaults(DREC_OPT_RMSPROP);
    c.lr = 0.01f; /* v = 0.01 * 0.25 = 0.0025, sqrt 0.05 -> w = 1 - 0.01*0.5/0.05 = 0.9 */
    CHECK_NEAR(run(c, 1, half2, 1), 0.9, 1e-6);
    /* v = 0.99*0.0025 + 0.0025 = 0.004975, sqrt = 0.0705337 -> w = 0.9 - 0.005/0.0705337 = 0.8291116 */
    CHECK_NEAR(run(c, 1, half2, 2), 0.8291116, 1e-6);
}

TEST(ftrl_proximal) {
    drec_optim_config c = drec_optim_defaults(DREC_OPT_FTRL);
    c.lr = 0.1f; /* alpha */
    c.ftrl_beta = 1;
    /* n = 0.25, sigma = 0.5/0.1 = 5, z = 0.5 - 5*0 = 0.5; w = -0.5 / ((1 + 0.5)/0.1) = -1/30 */
    CHECK_NEAR(run(c, 0, half2, 1), -1.0 / 30, 1e-7);
    /* step 2: n = 0.5, sigma = (0.7071068 - 0.5)/0.1 = 2.071068, z = 1 + 2.071068/30 = 1.0690356;
     * w = -1.0690356 / (1.7071068/0.1) = -0.0626228 */
    CHECK_NEAR(run(c, 0, half2, 2), -0.0626228, 1e-6);
    c.l1 = 1.0f; /* |z| = 0.5 <= l1: w = 0 */
    CHECK_NEAR(run(c, 0, half2, 1), 0, 0);
    c.l1 = 0.2f; /* w = -(0.5 - 0.2)/15 = -0.02 */
    CHECK_NEAR(run(c, 0, half2, 1), -0.02, 1e-7);
    c.l1 = 0;
    c.l2 = 5.0f; /* w = -0.5/(15 + 5) = -0.025 */
    CHECK_NEAR(run(c, 0, half2, 1), -0.025, 1e-7);
}

TEST(lazy_sparse_updates_touch_only_batch_rows) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_param *E = drec_param_new("E", 4, 2, DREC_PARAM_SPARSE);
    drec_init_const(E, 1.0f);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.lr = 0.1f;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, E);
    int32_t ids[2] = {1, 1};
    drec_tensor *e = drec_embedding(&tp, E, drec_ifrom(&tp, ids, 2));
    drec_backward(&tp, drec_sum(&tp, e));
    CHECK(E->n_touched == 1);
    drec_optim_step(o);
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 2; j++) {
            CHECK_NEAR(E->t.data[r * 2 + j], r == 1 ? 0.9 : 1.0, 1e-6); /* Adam's first step: lr */
            CHECK_NEAR(E->s1[r * 2 + j], r == 1 ? 0.2 : 0.0, 1e-7);     /* m = (1-b1) g, g = 2 */
        }
    CHECK(E->n_touched == 0 && E->slot[1] == -1);
    /* A dense op on the table (full softmax over items) updates every row. */
    drec_tape_reset(&tp);
    drec_backward(&tp, drec_sum(&tp, drec_pt(E)));
    CHECK(E->all_touched);
    drec_optim_step(o);
    /* Row 0's first update happens at global step 2 (bias corrections use the
     * optimizer's step, as LazyAdam): m = 0.1, v = 0.001, mhat = 0.1/0.19,
     * vhat = 0.001/0.001999 -> w = 1 - 0.1 * 0.5263158/0.7072836 = 0.9255869 */
    CHECK_NEAR(E->t.data[0], 0.9255869, 2e-6);
    CHECK(!E->all_touched);
    drec_optim_free(o);
    drec_param_free(E);
    drec_tape_free(&tp);
}

/* Embedding and a dense op on one table in one step: the compact rows fold
 * into the dense gradient. */
TEST(sparse_table_mixed_sparse_and_dense_use) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_param *E = drec_param_new("E", 3, 2, DREC_PARAM_SPARSE);
    drec_init_const(E, 1.0f);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_SGD);
    c.lr = 1;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, E);
    int32_t ids[1] = {1};
    drec_tensor *e = drec_embedding(&tp, E, drec_ifrom(&tp, ids, 1));
    drec_backward(&tp, drec_add(&tp, drec_sum(&tp, e), drec_sum(&tp, drec_pt(E))));
    drec_optim_step(o);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 2; j++) CHECK_NEAR(E->t.data[r * 2 + j], r == 1 ? -1.0 : 0.0, 0); /* g = 2 or 1 */
    CHECK(E->n_touched == 0 && E->slot[1] == -1 && !E->all_touched);
    /* next step: sparse only again */
    drec_tape_reset(&tp);
    e = drec_embedding(&tp, E, drec_ifrom(&tp, ids, 1));
    drec_backward(&tp, drec_sum(&tp, e));
    drec_optim_step(o);
    CHECK_NEAR(E->t.data[0], 0, 0);
    CHECK_NEAR(E->t.data[2], -2, 0);
    drec_optim_free(o);
    drec_param_free(E);
    drec_tape_free(&tp);
}

TEST(clip_grad_norm) {
    drec_param *p = drec_param_new("w", 1, 2, 0);
    drec_optim_config c = drec_optim_defaults(DREC_OPT_SGD);
    c.lr = 1;
    c.clip_norm = 1;
    drec_optim *o = drec_optim_new(&c);
    drec_optim_add(o, p);
    p->t.grad[0] = 3;
    p->t.grad[1] = 4; /* norm 5 -> scaled to (0.6, 0.8) */
    drec_optim_step(o);
    CHECK_NEAR(o->last_grad_norm, 5, 1e-6);
    CHECK_NEAR(p->t.data[0], -0.6, 1e-6);
    CHECK_NEAR(p->t.data[1], -0.8, 1e-6);
    drec_optim_free(o);
    drec_param_free(p);
}

TEST(schedules) {
    drec_sched s = {DREC_SCHED_STEP, 2, 0, 0, 0.5f, 0};
    const double want_step[5] = {1, 1, 0.5, 0.5, 0.25};
    for (int i = 0; i < 5; i++) CHECK_NEAR(drec_sched_lr(&s, 1, i), want_step[i], 1e-7);
    drec_sched e = {DREC_SCHED_EXP, 0, 0, 0, 0.9f, 0};
    CHECK_NEAR(drec_sched_lr(&e, 2, 3), 2 * 0.729, 1e-6);
    drec_sched cs = {DREC_SCHED_COSINE, 0, 10, 0, 0, 0};
    CHECK_NEAR(drec_sched_lr(&cs, 1, 0), 1, 1e-7);
    CHECK_NEAR(drec_sched_lr(&cs, 1, 5), 0.5, 1e-7);
    CHECK_NEAR(drec_sched_lr(&cs, 1, 10), 0, 1e-7);
    CHECK_NEAR(drec_sched_lr(&cs, 1, 50), 0, 1e-7);
    drec_sched w = {DREC_SCHED_LINEAR, 0, 4, 4, 0, 0};
    const double want_w[8] = {0.25, 0.5, 0.75, 1, 1, 0.75, 0.5, 0.25};
    for (int i = 0; i < 8; i++) CHECK_NEAR(drec_sched_lr(&w, 1, i), want_w[i], 1e-7);
    drec_sched k = {DREC_SCHED_CONSTANT, 0, 0, 0, 0, 0};
    CHECK_NEAR(drec_sched_lr(&k, 0.3f, 1000), 0.3, 1e-7);
    /* the optimizer uses the schedule: SGD lr 1 with step decay, g = 1 each step */
    drec_optim_config c = drec_optim_defaults(DREC_OPT_SGD);
    c.lr = 1;
    c.sched = s;
    const float ones[3] = {1, 1, 1};
    CHECK_NEAR(run(c, 0, ones, 3), -2.5, 1e-6); /* 1 + 1 + 0.5 */
}

TEST(config_check) {
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    CHECK(drec_optim_check(&c) == NULL);
    c.lr = 0;
    CHECK(drec_optim_check(&c) != NULL);
    c = drec_optim_defaults(DREC_OPT_SGD);
    c.nesterov = true;
    CHECK(drec_optim_check(&c) != NULL);
}

static void moments(const drec_param *p, double *mean, double *sd, double *absmax) {
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < p->t.n; i++) {
        s += p->t.data[i];
        s2 += (double)p->t.data[i] * p->t.data[i];
        m = fmax(m, fabs(p->t.data[i]));
    }
    *mean = s / (double)p->t.n;
    *sd = sqrt(s2 / (double)p->t.n - *mean * *mean);
    *absmax = m;
}

TEST(initialisers) {
    drec_rng r;
    drec_rng_seed(&r, 3);
    drec_param *p = drec_param_new("w", 200, 100, 0);
    double mean, sd, mx;
    drec_init_xavier_uniform(p, &r); /* U(+-sqrt(6/300)), sd = sqrt(2/300) */
    moments(p, &mean, &sd, &mx);
    CHECK(mx <= sqrt(6.0 / 300) + 1e-6);
    CHECK_NEAR(sd, sqrt(2.0 / 300), 0.02 * sqrt(2.0 / 300));
    drec_init_xavier_normal(p, &r);
    moments(p, &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2.0 / 300), 0.02 * sqrt(2.0 / 300));
    drec_init_he_normal(p, &r);
    moments(p, &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2.0 / 200), 0.02 * sqrt(2.0 / 200));
    CHECK_NEAR(mean, 0, 0.003);
    drec_init_he_uniform(p, &r);
    moments(p, &mean, &sd, &mx);
    CHECK(mx <= sqrt(6.0 / 200) + 1e-6);
    CHECK_NEAR(sd, sqrt(2.0 / 200), 0.02 * sqrt(2.0 / 200));
    drec_init_normal(p, &r, 1, 0.5f);
    moments(p, &mean, &sd, &mx);
    CHECK_NEAR(mean, 1, 0.01);
    CHECK_NEAR(sd, 0.5, 0.01);
    drec_init_uniform(p, &r, 2, 4);
    moments(p, &mean, &sd, &mx);
    CHECK_NEAR(mean, 3, 0.01);
    CHECK(mx <= 4);
    drec_param_free(p);
}

/* One step's loss over table E: two lookups (ids repeat) and, with bag, a
 * bag (which reads the compact rows, so the pending ones are added first). */
static void deferred_step(drec_tape *tp, drec_param *E, const float *w, bool bag) {
    static const int32_t ids1[5] = {2, 4, 2, 0, 2}, ids2[3] = {4, 5, 1}, ids3[4] = {1, 2, 2, 3}, off[3] = {0, 3, 4};
    drec_tensor *e1 = drec_embedding(tp, E, drec_ifrom(tp, ids1, 5));
    drec_tensor *e2 = drec_embedding(tp, E, drec_ifrom(tp, ids2, 3));
    drec_tensor *l = drec_add(tp, drec_sum(tp, drec_mul(tp, e1, drec_tfrom(tp, w, 5, 4))),
                              drec_sum(tp, drec_mul(tp, e2, drec_tfrom(tp, w + 20, 3, 4))));
    if (bag) {
        drec_tensor *b = drec_embedding_bag(tp, E, drec_ifrom(tp, ids3, 4), drec_ifrom(tp, off, 3), NULL, DREC_BAG_SUM);
        l = drec_add(tp, l, drec_sum(tp, drec_mul(tp, b, drec_tfrom(tp, w + 32, 2, 4))));
    }
    drec_backward(tp, l);
}

/* A lookup's gradient rows are deferred until something reads them: the
 * gradient then is the dense table's; plain SGD applied straight from the
 * pending rows moves the table as the summed update does; a tape reset
 * before the step keeps them; a table freed first leaves no dangling entry. */
TEST(deferred_sparse_gradients) {
    drec_rng r;
    drec_rng_seed(&r, 17);
    float w[40];
    for (int i = 0; i < 40; i++) w[i] = (float)drec_rng_normal(&r);
    drec_param *S = drec_param_new("S", 6, 4, DREC_PARAM_SPARSE), *D = drec_param_new("D", 6, 4, 0);
    drec_init_normal(S, &r, 0, 1);
    memcpy(D->t.data, S->t.data, sizeof(float) * 24);
    drec_tape tp;
    drec_tape_init(&tp, 0);
    deferred_step(&tp, D, w, true);
    drec_tape_reset(&tp); /* one backward per tape between resets */
    deferred_step(&tp, S, w, true);
    CHECK(S->n_pend > 0 && tp.n_pend == 1);
    float dense[24];
    drec_param_grad_dense(S, dense);
    double worst = 0;
    for (int i = 0; i < 24; i++) worst = DREC_MAX(worst, fabs(dense[i] - D->t.grad[i]));
    fprintf(stderr, "  deferred sparse gradient against the dense table's: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-6);
    CHECK(S->n_pend == 0 && tp.n_pend == 0); /* read: added, forgotten by the tape */
    /* plain SGD from the pending rows against SGD on the summed rows (a
     * clip threshold that never bites makes the optimizer read the norm,
     * which adds them up first) */
    drec_param *A = drec_param_new("A", 6, 4, DREC_PARAM_SPARSE), *B = drec_param_new("B", 6, 4, DREC_PARAM_SPARSE),
               *C = drec_param_new("C", 6, 4, DREC_PARAM_SPARSE);
    memcpy(A->t.data, S->t.data, sizeof(float) * 24);
    memcpy(B->t.data, S->t.data, sizeof(float) * 24);
    memcpy(C->t.data, S->t.data, sizeof(float) * 24);
    drec_optim_config ca = drec_optim_defaults(DREC_OPT_SGD), cb = ca;
    ca.lr = cb.lr = 0.1f;
    cb.clip_norm = 1e30f;
    drec_optim *oa = drec_optim_new(&ca), *ob = drec_optim_new(&cb), *oc = drec_optim_new(&ca);
    drec_optim_add(oa, A), drec_optim_add(ob, B), drec_optim_add(oc, C);
    for (int step = 0; step < 3; step++) {
        drec_tape_reset(&tp);
        deferred_step(&tp, A, w, false);
        CHECK(A->n_pend == 2 && !A->sgrad_written); /* the SGD step reads the pending rows themselves */
        drec_optim_step(oa);
        drec_tape_reset(&tp);
        deferred_step(&tp, B, w, false);
        drec_optim_step(ob);
        drec_tape_reset(&tp);
        deferred_step(&tp, C, w, false);
        drec_tape_reset(&tp); /* before the step: the pending rows must survive it */
        drec_tensor *junk = drec_t2(&tp, 64, 64);
        for (int i = 0; i < 64 * 64; i++) junk->data[i] = 1e9f;
        drec_optim_step(oc);
    }
    worst = 0;
    for (int i = 0; i < 24; i++) {
        worst = DREC_MAX(worst, fabs(A->t.data[i] - B->t.data[i]));
        worst = DREC_MAX(worst, fabs(C->t.data[i] - B->t.data[i]));
    }
    fprintf(stderr, "  pending-row SGD against summed-row SGD, 3 steps: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-6);
    CHECK(A->n_touched == 0 && A->n_pend == 0 && A->slot[2] == -1);
    double moved = 0;
    for (int i = 0; i < 24; i++) moved += fabs(A->t.data[i] - S->t.data[i]);
    CHECK(moved > 0.1);
    /* freed while pending on the tape: the tape forgets it */
    drec_tape_reset(&tp);
    deferred_step(&tp, A, w, false);
    CHECK(tp.n_pend == 1);
    drec_optim_free(oa);
    drec_param_free(A);
    CHECK(tp.n_pend == 0);
    drec_tape_reset(&tp);
    drec_optim_free(ob), drec_optim_free(oc);
    drec_param_free(B), drec_param_free(C), drec_param_free(S), drec_param_free(D);
    drec_tape_free(&tp);
}

int main(void) {
    RUN(sgd_momentum_nesterov);
    RUN(adam_adamw);
    RUN(adagrad_rmsprop);
    RUN(ftrl_proximal);
    RUN(lazy_sparse_updates_touch_only_batch_rows);
    RUN(sparse_table_mixed_sparse_and_dense_use);
    RUN(deferred_sparse_gradients);
    RUN(clip_grad_norm);
    RUN(schedules);
    RUN(config_check);
    RUN(initialisers);
    return harness_summary();
}
