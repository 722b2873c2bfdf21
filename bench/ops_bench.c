/*
 * ops_bench.c — the core engine's ops at recommender shapes, timed as a
 * training step uses them (forward + backward + gradient reset), plus the
 * machine's own sgemm peak for reference.  bench/ops_bench_torch.py times
 * the same computations in PyTorch; bench/ops.sh runs both and prints the
 * ratios.
 *
 *   ops_bench [--threads N] [--time SECONDS_PER_OP] [--only NAME_SUBSTRING]
 *
 * Output: "PEAK <GFLOP/s>" (best sgemm rate), then one line per op,
 * "RESULT <name> <median ms> <GFLOP per iter> <fastest ms>" (GFLOP 0 where
 * the op is not a dense product).
 */
#include "core/blas.h"
#include "core/kernels.h"
#include "core/tensor.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static double budget = 1.0; /* seconds per op */
static const char *only;    /* --only NAME: time just that op */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double last_best; /* fastest run of the last time_op, ms */

/* Median milliseconds of fn(ctx) over as many runs as fit the budget (the
 * fastest run is kept in last_best). */
static double time_op(void (*fn)(void *), void *ctx) {
    double w0 = drec_now();
    fn(ctx);
    bool slow = drec_now() - w0 > 0.1; /* slow ops: fewer warm-ups and runs */
    for (int i = 0; i < (slow ? 0 : 2); i++) fn(ctx);
    static double t[2000];
    int n = 0, min_runs = slow ? 3 : 5;
    double start = drec_now();
    while (n < 2000 && (n < min_runs || drec_now() - start < budget)) {
        double t0 = drec_now();
        fn(ctx);
        t[n++] = (drec_now() - t0) * 1e3;
    }
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    last_best = t[0];
    return t[n / 2];
}

static void fill(float *x, int64_t n, drec_rng *r, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * (2 * drec_rng_float(r) - 1);
}

static bool wanted(const char *name) { return !only || strstr(name, only); }

static void report(const char *name, double ms, double gflop) {
    printf("RESULT %-24s %10.4f %10.6f %10.4f\n", name, ms, gflop, last_best);
    fflush(stdout);
}

/* ---- ops --------------------------------------------------------------------- */

typedef struct {
    drec_tape tp;
    drec_param *E, *W, *b, *W1, *b1, *W2, *b2, *W3, *b3, *W4, *b4;
    drec_optim *opt;
    float *x, *g, *q, *k, *v, *y, *s;
    int32_t *ids;
    drec_csr A;
    int B, T, H, C, Din, Dout, nodes;
} bench;

/* a float tensor over caller memory that collects a gradient (like an
 * activation inside a network) */
static drec_tensor *act(drec_tape *tp, float *data, int rows, int cols) {
    drec_tensor *t = drec_tfrom(tp, data, rows, cols);
    t->requires_grad = true;
    return t;
}

static void op_embedding(void *vb) {
    bench *b = vb;
    drec_tape_reset(&b->tp);
    drec_tensor *e = drec_embedding(&b->tp, b->E, drec_ifrom(&b->tp, b->ids, 1024));
    drec_backward_seed(&b->tp, e, b->g);
    drec_param_zero_grad(b->E);
}

/* the same plus the lazy SGD update of the touched rows (what a step does) */
static void op_embedding_sgd(void *vb) {
    bench *b = vb;
    drec_tape_reset(&b->tp);
    drec_tensor *e = drec_embedding(&b->tp, b->E, drec_ifrom(&b->tp, b->ids, 1024));
    drec_backward_seed(&b->tp, e, b->g);
    drec_optim_step(b->opt);
}

static void op_linear(void *vb) {
    bench *b = vb;
    drec_tape_reset(&b->tp);
    drec_tensor *y = drec_linear(&b->tp, act(&b->tp, b->x, b->B, b->Din), drec_pt(b->W), drec_pt(b->b), DREC_ACT_NONE);
    drec_backward_seed(&b->tp, y, b->g);
    drec_param_zero_grad(b->W);
    drec_param_zero_grad(b->b);
}

static void op_matmul(void *vb) {
    bench *b = vb;
    drec_sgemm(false, false, b->B, b->Dout, b->Din, 1, b->x, b->Din, b->W->t.data, b->Dout, 0, b->y, b->Dout);
}

static void op_attention(void *vb) {
    bench *b = vb;
    drec_tape_reset(&b->tp);
    int R = b->B * b->T;
    drec_tensor *o = drec_attention(&b->tp, act(&b->tp, b->q, R, b->C), act(&b->tp, b->k, R, b->C),
                                    act(&b->tp, b->v, R, b->C), b->T, b->H, true, NULL);
    drec_backward_seed(&b->tp, o, b->g);
}

static void op_spmm(void *vb) {
    bench *b = vb;
    drec_tape_reset(&b->tp);
    drec_tensor *y = drec_spmm(&b->tp, &b->A, act(&b->tp, b->x, b->nodes, 64));
    drec_backward_seed(&b->tp, y, b->g);
}

/* sum(sigmoid(x * w + bias_row) * s): four element-wise ops and a reduction */
static void op_chain(void *vb) {
    bench *b = vb;
    drec_tape *tp = &b->tp;
    drec_tape_reset(tp);
    drec_tensor *x = act(tp, b->x, 1024, 64), *w = act(tp, b->q, 1024, 64), *bias = act(tp, b->k, 1, 64);
    drec_tensor *s = drec_tfrom(tp, b->s, 1024, 64);
    drec_tensor *h = drec_sigmoid(tp, drec_add(tp, drec_mul(tp, x, w), bias));
    drec_backward(tp, drec_sum(tp, drec_mul(tp, h, s)));
}

static void op_mlp_step(void *vb) {
    bench *b = vb;
    drec_tape *tp = &b->tp;
    drec_tape_reset(tp);
    drec_tensor *h = drec_tfrom(tp, b->x, 256, 64);
    h = drec_linear(tp, h, drec_pt(b->W1), drec_pt(b->b1), DREC_ACT_RELU);
    h = drec_linear(tp, h, drec_pt(b->W2), drec_pt(b->b2), DREC_ACT_RELU);
    h = drec_linear(tp, h, drec_pt(b->W3), drec_pt(b->b3), DREC_ACT_RELU);
    h = drec_linear(tp, h, drec_pt(b->W4), drec_pt(b->b4), DREC_ACT_NONE);
    drec_backward(tp, drec_bce_logits(tp, h, drec_tfrom(tp, b->y, 256, 1), NULL));
    drec_optim_step(b->opt);
}

/* ---- the graph: 10k users x 20k items, 30 interactions each ------------------------ */

static void build_graph(drec_csr *A) {
    const int NU = 10000, NI = 20000, per = 30;
    int64_t nnz = 2LL * NU * per;
    int32_t *r = malloc(sizeof(int32_t) * nnz), *c = malloc(sizeof(int32_t) * nnz);
    float *v = malloc(sizeof(float) * nnz);
    int *deg = calloc(NU + NI, sizeof(int));
    int64_t k = 0;
    /* the same formula in ops_bench_torch.py */
    for (int u = 0; u < NU; u++)
        for (int j = 0; j < per; j++) {
            int i = (int)(((int64_t)u * 7919 + (int64_t)j * 104729 + ((int64_t)u * j) % 997) % NI);
            r[k] = u, c[k] = NU + i, k++;
            r[k] = NU + i, c[k] = u, k++;
            deg[u]++, deg[NU + i]++;
        }
    for (int64_t e = 0; e < nnz; e++) v[e] = 1.0f / sqrtf((float)deg[r[e]] * (float)deg[c[e]]);
    drec_csr_build(A, NU + NI, NU + NI, nnz, r, c, v);
    free(r), free(c), free(v), free(deg);
}

int main(int argc, char **argv) {
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--time") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: ops_bench [--threads N] [--time SECONDS] [--only NAME]\n");
            return 2;
        }
    }
    drec_set_threads(threads);
    threads = drec_threads();
    printf("INFO threads %d kernels %s blas %s\n", threads, drec_kernels_name(), drec_blas_name());

    /* sgemm peak: the best rate over square products of 512, 1024 and 2048,
     * through OpenBLAS's own threading and through drec's row split (best
     * of several runs: on a shared machine a single run undershoots) */
    if (!only) {
        int nmax = 2048;
        float *A = drec_aligned_alloc(sizeof(float) * nmax * nmax), *Bm = drec_aligned_alloc(sizeof(float) * nmax * nmax),
              *Cm = drec_aligned_alloc(sizeof(float) * nmax * nmax);
        drec_rng r;
        drec_rng_seed(&r, 1);
        fill(A, (int64_t)nmax * nmax, &r, 1);
        fill(Bm, (int64_t)nmax * nmax, &r, 1);
        double best = 0;
        extern void openblas_set_num_threads(int);
        for (int n = 512; n <= nmax; n *= 2)
            for (int rep = 0; rep < (n == 512 ? 30 : 6); rep++) {
                openblas_set_num_threads(threads);
                double t0 = drec_now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, A, n, Bm, n, 0, Cm, n);
                double t1 = drec_now();
                drec_sgemm(false, false, n, n, n, 1, A, n, Bm, n, 0, Cm, n);
                double t2 = drec_now();
                best = fmax(best, 2.0 * n * n * n / fmin(t1 - t0, t2 - t1) / 1e9);
            }
        printf("PEAK %.2f\n", best);
        drec_free(A), drec_free(Bm), drec_free(Cm);
    }

    bench b;
    memset(&b, 0, sizeof b);
    drec_tape_init(&b.tp, 0);
    drec_rng r;
    drec_rng_seed(&r, 7);
    size_t big = 30000 * 64;
    b.x = drec_aligned_alloc(sizeof(float) * big);
    b.g = drec_aligned_alloc(sizeof(float) * big);
    b.q = drec_aligned_alloc(sizeof(float) * big);
    b.k = drec_aligned_alloc(sizeof(float) * big);
    b.v = drec_aligned_alloc(sizeof(float) * big);
    b.y = drec_aligned_alloc(sizeof(float) * 2048 * 512);
    b.s = drec_aligned_alloc(sizeof(float) * 1024 * 64);
    b.ids = malloc(sizeof(int32_t) * 1024);
    fill(b.x, big, &r, 1), fill(b.g, big, &r, 1), fill(b.q, big, &r, 1), fill(b.k, big, &r, 1), fill(b.v, big, &r, 1);
    fill(b.s, 1024 * 64, &r, 1);

    /* embedding gather + scatter: table 100k x 64, batch 1024 */
    b.E = drec_param_new("E", 100000, 64, DREC_PARAM_SPARSE);
    drec_init_normal(b.E, &r, 0, 0.1f);
    for (int i = 0; i < 1024; i++) b.ids[i] = (int32_t)drec_rng_below(&r, 100000);
    if (wanted("embedding_1024x64")) report("embedding_1024x64", time_op(op_embedding, &b), 0);
    {
        drec_optim_config sc = drec_optim_defaults(DREC_OPT_SGD);
        sc.lr = 1e-6f;
        b.opt = drec_optim_new(&sc);
        drec_optim_add(b.opt, b.E);
        if (wanted("embedding_sgd")) report("embedding_sgd_1024x64", time_op(op_embedding_sgd, &b), 0);
        drec_optim_free(b.opt);
    }

    /* linear 1024x128 -> 64, forward + backward */
    b.B = 1024, b.Din = 128, b.Dout = 64;
    b.W = drec_param_new("W", 128, 64, 0), b.b = drec_param_new("b", 1, 64, 0);
    drec_init_xavier_uniform(b.W, &r);
    if (wanted("linear_1024x128x64")) report("linear_1024x128x64", time_op(op_linear, &b), 3 * 2.0 * 1024 * 128 * 64 / 1e9);
    drec_param_free(b.W), drec_param_free(b.b);

    /* compute-bound: linear 2048x512 -> 512 forward + backward, and one sgemm 2048x512x512 */
    b.B = 2048, b.Din = 512, b.Dout = 512;
    b.W = drec_param_new("W", 512, 512, 0), b.b = drec_param_new("b", 1, 512, 0);
    drec_init_xavier_uniform(b.W, &r);
    if (wanted("linear_2048x512x512")) report("linear_2048x512x512", time_op(op_linear, &b), 3 * 2.0 * 2048 * 512 * 512 / 1e9);
    if (wanted("matmul_2048x512x512")) report("matmul_2048x512x512", time_op(op_matmul, &b), 2.0 * 2048 * 512 * 512 / 1e9);
    drec_param_free(b.W), drec_param_free(b.b);

    /* attention: batch 128, length 50, dim 64, 2 heads, causal, fwd + bwd */
    b.B = 128, b.T = 50, b.H = 2, b.C = 64;
    if (wanted("attention_128x50x64x2")) report("attention_128x50x64x2", time_op(op_attention, &b), 3 * 4.0 * 128 * 2 * 50 * 50 * 32 / 1e9);

    /* CSR spmm: 30k-node bipartite graph x 64, fwd + bwd */
    if (wanted("spmm")) build_graph(&b.A);
    b.nodes = b.A.n_rows;
    if (wanted("spmm")) printf("INFO graph nodes %d nnz %lld\n", b.A.n_rows, (long long)b.A.nnz);
    if (wanted("spmm_30k_x64")) report("spmm_30k_x64", time_op(op_spmm, &b), 0);
    drec_csr_free(&b.A);

    /* element-wise chain on 1024 x 64 */
    if (wanted("elementwise_chain_1024x64")) report("elementwise_chain_1024x64", time_op(op_chain, &b), 0);

    /* a whole MLP training step: batch 256, 64-32-16-8-1, BCE, Adam */
    b.W1 = drec_param_new("W1", 64, 32, 0), b.b1 = drec_param_new("b1", 1, 32, 0);
    b.W2 = drec_param_new("W2", 32, 16, 0), b.b2 = drec_param_new("b2", 1, 16, 0);
    b.W3 = drec_param_new("W3", 16, 8, 0), b.b3 = drec_param_new("b3", 1, 8, 0);
    b.W4 = drec_param_new("W4", 8, 1, 0), b.b4 = drec_param_new("b4", 1, 1, 0);
    drec_optim_config oc = drec_optim_defaults(DREC_OPT_ADAM);
    b.opt = drec_optim_new(&oc);
    drec_param *ps[] = {b.W1, b.b1, b.W2, b.b2, b.W3, b.b3, b.W4, b.b4};
    for (int i = 0; i < 8; i++) {
        drec_init_xavier_uniform(ps[i], &r);
        drec_optim_add(b.opt, ps[i]);
    }
    for (int i = 0; i < 256; i++) b.y[i] = (float)drec_rng_below(&r, 2);
    if (wanted("mlp_step_256_64-32-16-8")) report("mlp_step_256_64-32-16-8", time_op(op_mlp_step, &b), 0);
    for (int i = 0; i < 8; i++) drec_param_free(ps[i]);
    drec_optim_free(b.opt);

    drec_param_free(b.E);
    drec_tape_free(&b.tp);
    drec_free(b.x), drec_free(b.g), drec_free(b.q), drec_free(b.k), drec_free(b.v), drec_free(b.y), drec_free(b.s);
    free(b.ids);
    return 0;
}
