/*
 * test_gradcheck.c — every op's backward against central finite
 * differences, and key forwards against naive references.
 *
 * Method: inputs are random; the scalar checked is L = sum_i w_i out_i with
 * fixed random w (accumulated in double), so every output element's
 * gradient path is exercised.  For each checked input element,
 *   numeric = (L(x + h) - L(x - h)) / 2h,   h = 1e-3,
 * and the analytic gradient passes when
 *   |analytic - numeric| <= 3e-3 + 3e-2 |numeric|
 * (float32 forward passes: the rounding of L is ~1e-7 |L| / h).  Inputs
 * with more than 96 elements are checked on 96 random elements (32 under
 * DREC_SANITIZED).  Each case
 * prints maxdiff and OK / NOT OK, and all cases run on both the SIMD and
 * the scalar reference kernel paths.
 */
#include "core/blas.h"
#include "core/kernels.h"
#include "core/tensor.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>

enum { V_LEAF, V_PARAM, V_SPARSE, V_CONST };
typedef struct {
    int rows, cols, kind;
    float lo, hi; /* uniform range; 0,0 = [-1,1] */
} var_spec;
typedef drec_tensor *(*build_fn)(drec_tape *tp, drec_tensor **x, drec_param **p, void *ctx);

#define GC_H 1e-3
#define GC_ATOL 3e-3
#define GC_RTOL 3e-2
#define GC_MAXV 8

static double eval_L(drec_tensor *out, const float *w) {
    double s = 0;
    for (int64_t i = 0; i < out->n; i++) s += (double)w[i] * out->data[i];
    return s;
}

/* Builds the graph on fresh leaves / params holding host[v]. */
static drec_tensor *build_on(drec_tape *tp, int nv, const var_spec *vs, float **host, drec_param **p,
                             drec_tensor **x, build_fn fn, void *ctx) {
    drec_tape_reset(tp);
    drec_rng_seed(&tp->rng, 99); /* dropout masks repeat across evaluations */
    for (int v = 0; v < nv; v++) {
        if (vs[v].kind == V_PARAM || vs[v].kind == V_SPARSE) {
            memcpy(p[v]->t.data, host[v], (size_t)p[v]->t.n * sizeof(float));
            x[v] = drec_pt(p[v]);
        } else if (vs[v].kind == V_LEAF) {
            x[v] = drec_leaf(tp, host[v], vs[v].rows, vs[v].cols);
        } else {
            x[v] = drec_tfrom(tp, host[v], vs[v].rows, vs[v].cols);
        }
    }
    return fn(tp, x, p, ctx);
}

static void gradcheck(const char *name, int nv, const var_spec *vs, build_fn fn, void *ctx) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_rng rng;
    drec_rng_seed(&rng, 1234);
    float *host[GC_MAXV];
    drec_param *p[GC_MAXV] = {0};
    drec_tensor *x[GC_MAXV];
    float *ana[GC_MAXV];
    for (int v = 0; v < nv; v++) {
        int64_t n = (int64_t)vs[v].rows * vs[v].cols;
        host[v] = malloc((size_t)n * sizeof(float));
        float lo = vs[v].lo, hi = vs[v].hi;
        if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
        for (int64_t i = 0; i < n; i++) host[v][i] = lo + (hi - lo) * drec_rng_float(&rng);
        if (vs[v].kind == V_PARAM || vs[v].kind == V_SPARSE)
            p[v] = drec_param_new("gc", vs[v].rows, vs[v].cols, vs[v].kind == V_SPARSE ? DREC_PARAM_SPARSE : 0);
        ana[v] = calloc((size_t)n, sizeof(float));
    }
    /* analytic */
    drec_tensor *out = build_on(&tp, nv, vs, host, p, x, fn, ctx);
    float *w = malloc((size_t)out->n * sizeof(float));
    for (int64_t i = 0; i < out->n; i++) w[i] = 2 * drec_rng_float(&rng) - 1;
    drec_backward_seed(&tp, out, w);
    for (int v = 0; v < nv; v++) {
        int64_t n = (int64_t)vs[v].rows * vs[v].cols;
        if (vs[v].kind == V_CONST) continue;
        if (p[v]) {
            drec_param_grad_dense(p[v], ana[v]);
            drec_param_zero_grad(p[v]);
        } else if (x[v]->grad) {
            memcpy(ana[v], x[v]->grad, (size_t)n * sizeof(float));
        }
    }
    /* numeric */
    double maxdiff = 0;
    int bad = 0;
    for (int v = 0; v < nv; v++) {
        if (vs[v].kind == V_CONST) continue;
        int64_t n = (int64_t)vs[v].rows * vs[v].cols;
        int cap = getenv("DREC_SANITIZED") ? 32 : 96; /* the sanitizer build samples fewer */
        int checks = n <= cap ? (int)n : cap;
        for (int c = 0; c < checks; c++) {
            int64_t i = n <= cap ? c : (int64_t)drec_rng_below(&rng, (uint32_t)n);
            float keep = host[v][i];
            host[v][i] = keep + (float)GC_H;
            double lp = eval_L(build_on(&tp, nv, vs, host, p, x, fn, ctx), w);
            host[v][i] = keep - (float)GC_H;
            double lm = eval_L(build_on(&tp, nv, vs, host, p, x, fn, ctx), w);
            host[v][i] = keep;
            /* the step actually taken in float */
            double hh = ((double)(keep + (float)GC_H) - (double)(keep - (float)GC_H));
            double num = (lp - lm) / hh, a = ana[v][i], d = fabs(a - num);
            if (d > maxdiff) maxdiff = d;
            if (d > GC_ATOL + GC_RTOL * fabs(num)) {
                if (bad < 5)
                    fprintf(stderr, "    %s: input %d elem %lld: analytic %.6g numeric %.6g\n", name, v,
                            (long long)i, a, num);
                bad++;
            }
        }
    }
    printf("  gradcheck %-28s [%s] maxdiff %.3e  %s\n", name, drec_kernels_name(), maxdiff, bad ? "NOT OK" : "OK");
    CHECK(bad == 0);
    for (int v = 0; v < nv; v++) {
        free(host[v]);
        free(ana[v]);
        drec_param_free(p[v]);
    }
    free(w);
    drec_tape_free(&tp);
}

/* ---- cases --------------------------------------------------------------------- */

static int32_t ids7[] = {3, 1, 3, 0, 5, 1, 3};
static drec_tensor *b_embedding(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_embedding(tp, p[0], drec_ifrom(tp, ids7, 7));
}
static int32_t bag_ids[] = {0, 2, 2, 5, 1, 4, 5, 3};
static int32_t bag_off[] = {0, 3, 3, 6, 8}; /* bag 1 is empty */
static drec_tensor *b_bag(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    drec_bag_mode mode = *(drec_bag_mode *)c;
    return drec_embedding_bag(tp, p[0], drec_ifrom(tp, bag_ids, 8), drec_ifrom(tp, bag_off, 5), NULL, mode);
}
static drec_tensor *b_bag_w(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    drec_tensor *w = drec_reshape2(tp, x[1], 8, 1);
    return drec_embedding_bag(tp, p[0], drec_ifrom(tp, bag_ids, 8), drec_ifrom(tp, bag_off, 5), w, DREC_BAG_MEAN);
}
static drec_tensor *b_linear(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_linear(tp, x[0], x[1], x[2], *(drec_act *)c);
}
static drec_tensor *b_linear_nobias(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_linear(tp, x[0], x[1], NULL, DREC_ACT_NONE);
}
static drec_tensor *b_matmul(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    int t = *(int *)c;
    return drec_matmul(tp, x[0], x[1], t & 1, t & 2);
}
static drec_tensor *b_bmm(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    int t = *(int *)c;
    int sa[3] = {3, t & 1 ? 4 : 2, t & 1 ? 2 : 4}, sb[3] = {3, t & 2 ? 5 : 4, t & 2 ? 4 : 5};
    return drec_bmm(tp, drec_reshape(tp, x[0], 3, sa), drec_reshape(tp, x[1], 3, sb), t & 1, t & 2);
}
static drec_tensor *b_binary(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    switch (*(int *)c) {
    case 0: return drec_add(tp, x[0], x[1]);
    case 1: return drec_sub(tp, x[0], x[1]);
    case 2: return drec_mul(tp, x[0], x[1]);
    default: return drec_div(tp, x[0], x[1]);
    }
}
/* (x0 x1)(x0 + x1): the product's backward meets operands that have
 * gradients already (the add passed its own on to x0) */
static drec_tensor *b_mul_reuse(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    drec_tensor *prod = drec_mul(tp, x[0], x[1]); /* recorded first, so its backward runs last */
    return drec_mul(tp, prod, drec_add(tp, x[0], x[1]));
}
static drec_tensor *b_unary(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    switch (*(int *)c) {
    case 0: return drec_relu(tp, x[0]);
    case 1: return drec_leaky_relu(tp, x[0], 0.1f);
    case 2: return drec_gelu(tp, x[0]);
    case 3: return drec_sigmoid(tp, x[0]);
    case 4: return drec_tanh(tp, x[0]);
    case 5: return drec_softmax(tp, x[0]);
    case 6: return drec_log_softmax(tp, x[0]);
    case 7: return drec_scale(tp, x[0], -1.7f);
    case 8: return drec_add_scalar(tp, x[0], 0.3f);
    case 9: return drec_dropout(tp, x[0], 0.4f);
    case 10: return drec_sum(tp, x[0]);
    case 11: return drec_mean(tp, x[0]);
    case 12: return drec_sum_rows(tp, x[0]);
    case 13: return drec_sum_cols(tp, x[0]);
    case 14: return drec_l2(tp, x[0]);
    case 15: return drec_l1(tp, x[0]);
    case 16: { int s[3] = {2, 3, 4}; return drec_mul(tp, drec_reshape(tp, x[0], 3, s), drec_reshape(tp, x[0], 3, s)); }
    case 17: return drec_slice(tp, x[0], 1, 1, 2);
    default: /* fan-out: x feeds four ops, whose gradients must add up */
        return drec_add(tp, drec_relu(tp, x[0]), drec_mul(tp, drec_sigmoid(tp, x[0]), drec_scale(tp, x[0], 2)));
    }
}
static drec_tensor *b_layer_norm(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_layer_norm(tp, x[0], x[1], x[2], 1e-5f);
}
static float rm[5], rv[5];
static drec_tensor *b_batch_norm(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    tp->training = *(int *)c;
    for (int j = 0; j < 5; j++) { rm[j] = 0.1f * j; rv[j] = 1.0f + 0.2f * j; }
    drec_tensor *y = drec_batch_norm(tp, x[0], x[1], x[2], rm, rv, 0.1f, 1e-5f);
    tp->training = true;
    return y;
}
static drec_tensor *b_concat(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    int axis = *(int *)c;
    drec_tensor *xs[3] = {x[0], x[1], axis == 1 ? x[2] : drec_reshape2(tp, x[2], 3, 2)};
    return drec_concat(tp, xs, axis == 1 ? 3 : 3, axis);
}
static drec_tensor *b_split(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    drec_tensor *parts[3];
    drec_split(tp, x[0], *(int *)c, *(int *)c == 1 ? 3 : 2, parts);
    drec_tensor *s = drec_mul(tp, parts[0], parts[1]);
    return *(int *)c == 1 ? drec_add(tp, s, parts[2]) : s;
}
static drec_tensor *b_rowdot(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_rowdot(tp, x[0], x[1]);
}
static int32_t g_idx[] = {2, 0, 2, 3, 1, 2};
static drec_tensor *b_gather(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_gather_rows(tp, x[0], drec_ifrom(tp, g_idx, 6));
}
static drec_tensor *b_scatter(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_scatter_add_rows(tp, x[0], drec_ifrom(tp, g_idx, 6), 5);
}
static drec_tensor *b_loss(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    switch (*(int *)c) {
    case 0: return drec_mse(tp, x[0], x[1]);
    case 1: return drec_huber(tp, x[0], x[1], 0.5f);
    case 2: return drec_bce_logits(tp, x[0], x[1], NULL);
    case 3: return drec_bce_logits(tp, x[0], x[1], x[2]);
    case 4: return drec_focal(tp, x[0], x[1], 2.0f, 0.25f);
    case 5: return drec_hinge(tp, x[0], x[1]);
    case 6: return drec_bpr(tp, x[0], x[2]);
    default: return drec_focal(tp, x[0], x[1], 0.0f, -1.0f);
    }
}
static int32_t ce_t[] = {2, 0, 4, 4, 1};
static drec_tensor *b_ce(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_softmax_ce(tp, x[0], drec_ifrom(tp, ce_t, 5));
}
static int32_t ss_pos[] = {1, 7, 3, 4}, ss_neg[] = {7, 2, 3, 9, 5};
static drec_tensor *b_sampled(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    int mode = *(int *)c;
    drec_tensor *lqp = mode ? drec_reshape2(tp, x[3], 4, 1) : NULL, *lqn = mode ? drec_reshape2(tp, x[4], 5, 1) : NULL;
    drec_tensor *pid = mode == 2 ? drec_ifrom(tp, ss_pos, 4) : NULL, *nid = mode == 2 ? drec_ifrom(tp, ss_neg, 5) : NULL;
    return drec_sampled_softmax(tp, x[0], x[1], x[2], lqp, lqn, pid, nid);
}

static int32_t amask[8] = {0, 1, 1, 1, 1, 1, 0, 1}; /* batch 0: key 0 padded; batch 1: key 2 padded */
static drec_tensor *b_attention(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    int mode = *(int *)c;
    return drec_attention(tp, x[0], x[1], x[2], 4, 2, mode & 1, mode & 2 ? drec_ifrom(tp, amask, 8) : NULL);
}
static drec_csr gc_A;
static drec_tensor *b_spmm(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_spmm(tp, &gc_A, x[0]);
}
static drec_tensor *b_gru(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    return drec_gru_cell(tp, x[0], x[1], x[2], x[3], x[4], x[5]);
}

/* Element-wise chains whose backward hands gradient buffers down in place
 * (an add's pass-through, a product or activation over its output's
 * gradient), with fan-out so that a shared buffer later takes additions. */
static drec_tensor *b_inplace(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    switch (*(int *)c) {
    case 0: /* the ops_bench chain: sum(sigmoid(x * w + b_row) * s) */
        return drec_sum(tp, drec_mul(tp, drec_sigmoid(tp, drec_add(tp, drec_mul(tp, x[0], x[1]), x[2])), x[3]));
    case 1: /* const + x, const * x, x * const: b's and a's buffers taken in place */
        return drec_add(tp, drec_mul(tp, drec_add(tp, x[3], x[0]), x[1]),
                        drec_mul(tp, drec_tanh(tp, drec_mul(tp, x[3], x[0])), drec_mul(tp, x[0], x[3])));
    case 2: /* x - x, x + x, relu(x) + x: one tensor on both sides and fanned out */
        return drec_add(tp, drec_mul(tp, drec_sub(tp, x[0], x[0]), x[1]),
                        drec_add(tp, drec_add(tp, x[0], x[0]), drec_add(tp, drec_relu(tp, x[1]), x[1])));
    default: /* row-broadcast product and sum, then a mean */
        return drec_mean(tp, drec_sigmoid(tp, drec_mul(tp, drec_sub(tp, x[0], x[2]), x[2])));
    }
}

/* A chain through a sparse table and dense layers: the whole sparse path. */
static drec_tensor *b_chain(drec_tape *tp, drec_tensor **x, drec_param **p, void *c) {
    drec_tensor *e = drec_embedding(tp, p[0], drec_ifrom(tp, ids7, 7));          /* [7,4] */
    drec_tensor *h = drec_linear(tp, e, drec_pt(p[1]), NULL, DREC_ACT_TANH);    /* [7,3] */
    drec_tensor *bag = drec_embedding_bag(tp, p[0], drec_ifrom(tp, bag_ids, 8), drec_ifrom(tp, bag_off, 5), NULL,
                                          DREC_BAG_SUM);                         /* [4,4] */
    drec_tensor *s = drec_sum(tp, drec_mul(tp, bag, bag));
    return drec_add(tp, drec_sum(tp, h), s);
}

TEST(gradcheck_all_ops) {
    const var_spec tbl[] = {{6, 4, V_SPARSE}};
    const var_spec tbl_dense[] = {{6, 4, V_PARAM}};
    gradcheck("embedding (sparse)", 1, tbl, b_embedding, NULL);
    gradcheck("embedding (dense param)", 1, tbl_dense, b_embedding, NULL);
    drec_bag_mode sum = DREC_BAG_SUM, mean = DREC_BAG_MEAN;
    gradcheck("embedding_bag sum", 1, tbl, b_bag, &sum);
    gradcheck("embedding_bag mean", 1, tbl, b_bag, &mean);
    const var_spec bagw[] = {{6, 4, V_SPARSE}, {8, 1, V_CONST}};
    gradcheck("embedding_bag weighted mean", 2, bagw, b_bag_w, NULL);
    const var_spec chain[] = {{6, 4, V_SPARSE}, {4, 3, V_PARAM}};
    gradcheck("sparse chain emb+bag+linear", 2, chain, b_chain, NULL);

    const var_spec lin[] = {{5, 4, V_LEAF}, {4, 3, V_PARAM}, {1, 3, V_PARAM}};
    const char *an[] = {"linear", "linear+relu", "linear+sigmoid", "linear+tanh"};
    for (int a = 0; a < 4; a++) {
        drec_act act = (drec_act)a;
        gradcheck(an[a], 3, lin, b_linear, &act);
    }
    gradcheck("linear no bias", 2, lin, b_linear_nobias, NULL);
    /* through OpenBLAS, and large enough for drec_sgemm's split of rows
     * across threads (M*N*K >= 8e6); the scalar path's reference loop
     * would be slow here, so only the SIMD path runs it */
    const var_spec mid[] = {{64, 48, V_LEAF}, {48, 80, V_PARAM}, {1, 80, V_PARAM}};
    drec_act tanh_act = DREC_ACT_TANH;
    gradcheck("linear 64x48->80 (BLAS)", 3, mid, b_linear, &tanh_act);
    if (strcmp(drec_kernels_name(), "scalar") != 0) {
        const var_spec big[] = {{256, 128, V_LEAF}, {128, 256, V_PARAM}, {1, 256, V_PARAM}};
        gradcheck("linear 256x128->256 (split)", 3, big, b_linear, &tanh_act);
    }
    for (int t = 0; t < 4; t++) {
        var_spec mm[] = {{t & 1 ? 40 : 36, t & 1 ? 36 : 40, V_LEAF}, {t & 2 ? 24 : 40, t & 2 ? 40 : 24, V_LEAF}};
        char nm[40];
        snprintf(nm, sizeof nm, "matmul 36x40x24 ta=%d tb=%d", t & 1, (t >> 1) & 1);
        gradcheck(nm, 2, mm, b_matmul, &t);
    }
    for (int t = 0; t < 4; t++) {
        var_spec mm[] = {{t & 1 ? 4 : 3, t & 1 ? 3 : 4, V_LEAF}, {t & 2 ? 5 : 4, t & 2 ? 4 : 5, V_LEAF}};
        char nm[32];
        snprintf(nm, sizeof nm, "matmul ta=%d tb=%d", t & 1, (t >> 1) & 1);
        gradcheck(nm, 2, mm, b_matmul, &t);
        var_spec bm[] = {{3 * 8, 1, V_LEAF}, {3 * 20, 1, V_LEAF}};
        snprintf(nm, sizeof nm, "bmm ta=%d tb=%d", t & 1, (t >> 1) & 1);
        gradcheck(nm, 2, bm, b_bmm, &t);
    }
    const char *bn[] = {"add", "sub", "mul", "div"};
    const int bshape[4][2] = {{4, 5}, {1, 5}, {4, 1}, {1, 1}};
    const char *bsn[] = {"same", "row", "col", "scalar"};
    for (int op = 0; op < 4; op++)
        for (int m = 0; m < 4; m++) {
            var_spec bs[] = {{4, 5, V_LEAF}, {bshape[m][0], bshape[m][1], V_LEAF, 0, 0}};
            if (op == 3) { bs[1].lo = 0.5f; bs[1].hi = 2.0f; }
            char nm[32];
            snprintf(nm, sizeof nm, "%s (%s)", bn[op], bsn[m]);
            gradcheck(nm, 2, bs, b_binary, &op);
        }
    const var_spec two[] = {{4, 5, V_LEAF}, {4, 5, V_LEAF}};
    gradcheck("mul of operands with gradients", 2, two, b_mul_reuse, NULL);
    const char *un[] = {"relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax", "scale",
                        "add_scalar", "dropout", "sum", "mean", "sum_rows", "sum_cols", "l2", "l1",
                        "reshape", "slice", "fan-out relu+sigmoid*scale"};
    for (int u = 0; u < 19; u++) {
        var_spec us[] = {{4, 6, V_LEAF, -3, 3}};
        gradcheck(un[u], 1, us, b_unary, &u);
    }
    const char *ipn[] = {"in-place chain (ops_bench)", "in-place const operands", "in-place same operand",
                         "in-place row broadcast"};
    for (int m = 0; m < 4; m++) {
        const var_spec ip[] = {{4, 6, V_LEAF, -2, 2}, {4, 6, V_LEAF, -2, 2}, {1, 6, V_LEAF}, {4, 6, V_CONST}};
        gradcheck(ipn[m], 4, ip, b_inplace, &m);
    }
    const var_spec ln[] = {{5, 6, V_LEAF, -2, 2}, {1, 6, V_PARAM}, {1, 6, V_PARAM}};
    gradcheck("layer_norm", 3, ln, b_layer_norm, NULL);
    const var_spec bnv[] = {{6, 5, V_LEAF, -2, 2}, {1, 5, V_PARAM}, {1, 5, V_PARAM}};
    int train = 1, eval = 0;
    gradcheck("batch_norm (train)", 3, bnv, b_batch_norm, &train);
    gradcheck("batch_norm (eval)", 3, bnv, b_batch_norm, &eval);
    const var_spec cat1[] = {{3, 2, V_LEAF}, {3, 4, V_LEAF}, {3, 2, V_LEAF}};
    const var_spec cat0[] = {{2, 2, V_LEAF}, {4, 2, V_LEAF}, {6, 1, V_LEAF}};
    int ax1 = 1, ax0 = 0;
    gradcheck("concat axis 1", 3, cat1, b_concat, &ax1);
    gradcheck("concat axis 0", 3, cat0, b_concat, &ax0);
    const var_spec sp[] = {{4, 6, V_LEAF}};
    gradcheck("split axis 1", 1, sp, b_split, &ax1);
    gradcheck("split axis 0", 1, sp, b_split, &ax0);
    const var_spec rd[] = {{5, 7, V_LEAF}, {5, 7, V_LEAF}};
    gradcheck("rowdot", 2, rd, b_rowdot, NULL);
    const var_spec ga[] = {{4, 3, V_LEAF}};
    gradcheck("gather_rows", 1, ga, b_gather, NULL);
    const var_spec sc[] = {{6, 3, V_LEAF}};
    gradcheck("scatter_add_rows", 1, sc, b_scatter, NULL);

    const char *lsn[] = {"mse", "huber", "bce_logits", "bce_logits weighted", "focal", "hinge", "bpr",
                         "focal gamma=0 (=bce)"};
    for (int l = 0; l < 8; l++) {
        var_spec ls[] = {{6, 1, V_LEAF, -2, 2}, {6, 1, V_CONST, 0, 1}, {6, 1, l == 6 ? V_LEAF : V_CONST, 0, 1}};
        if (l >= 2 && l != 6) { /* binary labels */
            ls[1].lo = 0.0f; ls[1].hi = 0.0f;
        }
        gradcheck(lsn[l], 3, ls, b_loss, &l);
    }
    const var_spec ce[] = {{5, 6, V_LEAF, -2, 2}};
    gradcheck("softmax_ce", 1, ce, b_ce, NULL);
    const char *ssn[] = {"sampled_softmax", "sampled_softmax logQ", "sampled_softmax logQ+hits"};
    for (int m = 0; m < 3; m++) {
        const var_spec ss[] = {{4, 3, V_LEAF}, {4, 3, V_LEAF}, {5, 3, V_LEAF}, {4, 1, V_CONST, -5, -1},
                               {5, 1, V_CONST, -5, -1}};
        gradcheck(ssn[m], 5, ss, b_sampled, &m);
    }
    const char *atn[] = {"attention", "attention causal", "attention padding", "attention causal+padding"};
    for (int m = 0; m < 4; m++) {
        const var_spec at[] = {{8, 6, V_LEAF, -2, 2}, {8, 6, V_LEAF, -2, 2}, {8, 6, V_LEAF}};
        gradcheck(atn[m], 3, at, b_attention, &m);
    }
    const int32_t ar[] = {0, 0, 1, 2, 2, 4, 4, 0}, ac[] = {1, 3, 0, 2, 3, 1, 1, 1};
    const float av[] = {0.5f, -1, 2, 0.3f, 0.7f, 1.5f, -0.5f, 0.25f};
    CHECK_OK(drec_csr_build(&gc_A, 5, 4, 8, ar, ac, av));
    const var_spec spm[] = {{4, 3, V_LEAF}};
    gradcheck("spmm (csr x dense)", 1, spm, b_spmm, NULL);
    drec_csr_free(&gc_A);
    const var_spec gru[] = {{3, 4, V_LEAF}, {3, 2, V_LEAF}, {4, 6, V_PARAM}, {2, 6, V_PARAM}, {1, 6, V_PARAM},
                            {1, 6, V_PARAM}};
    gradcheck("gru_cell", 6, gru, b_gru, NULL);
}

/* Binary labels for the classification losses: the gradcheck fills labels
 * with uniform [-1,1]; these losses treat >= 0.5 as positive, so that is a
 * mix of both classes. */

/* ---- forward references ------------------------------------------------------------ */

TEST(forward_values_match_references) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    /* linear with bias and relu vs a naive loop */
    float x[2 * 3] = {1, -2, 0.5f, 0.25f, 3, -1}, W[3 * 2] = {0.5f, -1, 2, 0.1f, -0.3f, 0.7f}, b[2] = {0.1f, -0.2f};
    drec_tensor *y = drec_linear(&tp, drec_tfrom(&tp, x, 2, 3), drec_tfrom(&tp, W, 3, 2), drec_tfrom(&tp, b, 1, 2),
                                 DREC_ACT_RELU);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            float s = b[j];
            for (int k = 0; k < 3; k++) s += x[i * 3 + k] * W[k * 2 + j];
            CHECK_NEAR(y->data[i * 2 + j], s > 0 ? s : 0, 1e-6);
        }
    /* softmax and log-softmax of (1,2,3) */
    float v[3] = {1, 2, 3};
    drec_tensor *sm = drec_softmax(&tp, drec_tfrom(&tp, v, 1, 3));
    drec_tensor *ls = drec_log_softmax(&tp, drec_tfrom(&tp, v, 1, 3));
    double z = exp(1) + exp(2) + exp(3);
    for (int j = 0; j < 3; j++) {
        CHECK_NEAR(sm->data[j], exp(v[j]) / z, 1e-6);
        CHECK_NEAR(ls->data[j], v[j] - log(z), 1e-6);
    }
    /* BCE with logits: x=0 -> log 2 regardless of label; x=2,y=1 -> log(1+e^-2) */
    float lg[2] = {0, 2}, lb[2] = {0, 1};
    drec_tensor *l = drec_bce_logits(&tp, drec_tfrom(&tp, lg, 2, 1), drec_tfrom(&tp, lb, 2, 1), NULL);
    CHECK_NEAR(l->data[0], (log(2.0) + log1p(exp(-2.0))) / 2, 1e-6);
    /* layer norm of (1,2,3,4): mean 2.5, var 1.25 */
    float r[4] = {1, 2, 3, 4};
    drec_tensor *n = drec_layer_norm(&tp, drec_tfrom(&tp, r, 1, 4), NULL, NULL, 0);
    for (int j = 0; j < 4; j++) CHECK_NEAR(n->data[j], (r[j] - 2.5) / sqrt(1.25), 1e-5);
    /* gelu(1) = 0.8413447; sigmoid(0.5) = 0.6224593; tanh(0.5) = 0.4621172 */
    float one[1] = {1}, half[1] = {0.5f};
    CHECK_NEAR(drec_gelu(&tp, drec_tfrom(&tp, one, 1, 1))->data[0], 0.8413447, 1e-6);
    CHECK_NEAR(drec_sigmoid(&tp, drec_tfrom(&tp, half, 1, 1))->data[0], 0.6224593, 1e-6);
    CHECK_NEAR(drec_tanh(&tp, drec_tfrom(&tp, half, 1, 1))->data[0], 0.4621172, 1e-6);
    /* softmax CE: logits (0, ln 3) target 1 -> -log(3/4) */
    float cl[2] = {0, (float)log(3.0)};
    int32_t ct[1] = {1};
    CHECK_NEAR(drec_softmax_ce(&tp, drec_tfrom(&tp, cl, 1, 2), drec_ifrom(&tp, ct, 1))->data[0], -log(0.75), 1e-6);
    /* BPR of pos 1, neg 0: log(1 + e^-1) */
    float pp[1] = {1}, nn[1] = {0};
    CHECK_NEAR(drec_bpr(&tp, drec_tfrom(&tp, pp, 1, 1), drec_tfrom(&tp, nn, 1, 1))->data[0], log1p(exp(-1.0)), 1e-6);
    drec_tape_free(&tp);
}


/* Attention, spmm and the GRU cell against naive double-precision loops. */
TEST(fused_forwards_match_naive) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_rng r;
    drec_rng_seed(&r, 77);
    enum { B = 2, T = 5, H = 2, Dh = 3, C = H * Dh };
    float q[B * T * C], k[B * T * C], v[B * T * C];
    for (int i = 0; i < B * T * C; i++) {
        q[i] = 2 * drec_rng_float(&r) - 1;
        k[i] = 2 * drec_rng_float(&r) - 1;
        v[i] = 2 * drec_rng_float(&r) - 1;
    }
    int32_t mask[B * T] = {1, 1, 0, 1, 1, 0, 1, 1, 1, 0};
    for (int causal = 0; causal < 2; causal++) {
        drec_tensor *o = drec_attention(&tp, drec_tfrom(&tp, q, B * T, C), drec_tfrom(&tp, k, B * T, C),
                                        drec_tfrom(&tp, v, B * T, C), T, H, causal, drec_ifrom(&tp, mask, B * T));
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    double s[T], mx = -INFINITY, z = 0;
                    for (int j = 0; j < T; j++) {
                        bool ok = mask[b * T + j] && (!causal || j <= t);
                        s[j] = -INFINITY;
                        if (!ok) continue;
                        s[j] = 0;
                        for (int d = 0; d < Dh; d++)
                            s[j] += (double)q[(b * T + t) * C + h * Dh + d] * k[(b * T + j) * C + h * Dh + d];
                        s[j] /= sqrt((double)Dh);
                        mx = fmax(mx, s[j]);
                    }
                    for (int j = 0; j < T; j++) z += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
                    for (int d = 0; d < Dh; d++) {
                        double want = 0;
                        for (int j = 0; j < T; j++)
                            if (s[j] != -INFINITY) want += exp(s[j] - mx) / z * v[(b * T + j) * C + h * Dh + d];
                        CHECK_NEAR(o->data[(b * T + t) * C + h * Dh + d], want, 1e-5);
                    }
                }
    }
    /* spmm with a duplicate entry (summed) */
    const int32_t ar[] = {0, 1, 1, 2}, ac[] = {2, 0, 0, 1};
    const float av[] = {2, 1, 0.5f, -1};
    drec_csr A;
    CHECK_OK(drec_csr_build(&A, 3, 3, 4, ar, ac, av));
    CHECK(A.nnz == 3);
    float X[3 * 2] = {1, 2, 3, 4, 5, 6};
    drec_tensor *Y = drec_spmm(&tp, &A, drec_tfrom(&tp, X, 3, 2));
    const float wantY[6] = {10, 12, 1.5f, 3, -3, -4};
    for (int i = 0; i < 6; i++) CHECK_NEAR(Y->data[i], wantY[i], 1e-6);
    drec_csr_free(&A);
    const int32_t bad_r[] = {3}, bad_c[] = {0};
    CHECK(drec_csr_build(&A, 3, 3, 1, bad_r, bad_c, NULL) == DREC_ERR_USAGE);
    /* GRU cell, one unit, no biases: weights chosen by hand */
    float x1[1] = {1}, h1[1] = {0.5f}, Wi[3] = {0.2f, -0.4f, 0.6f}, Wh[3] = {0.3f, 0.1f, -0.5f};
    drec_tensor *g = drec_gru_cell(&tp, drec_tfrom(&tp, x1, 1, 1), drec_tfrom(&tp, h1, 1, 1), drec_tfrom(&tp, Wi, 1, 3),
                                   drec_tfrom(&tp, Wh, 1, 3), NULL, NULL);
    double rr = 1 / (1 + exp(-(0.2 + 0.15))), zz = 1 / (1 + exp(-(-0.4 + 0.05))), nn = tanh(0.6 + rr * -0.25);
    CHECK_NEAR(g->data[0], (1 - zz) * nn + zz * 0.5, 1e-6);
    drec_tape_free(&tp);
}

/* The sparse gradient: touched rows deduplicated in first-touch order,
 * untouched rows' gradients stay zero. */
TEST(sparse_grad_touched_rows) {
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_param *E = drec_param_new("E", 6, 4, DREC_PARAM_SPARSE);
    drec_rng r;
    drec_rng_seed(&r, 5);
    drec_init_normal(E, &r, 0, 1);
    drec_tensor *e = drec_embedding(&tp, E, drec_ifrom(&tp, ids7, 7));
    drec_backward(&tp, drec_sum(&tp, e));
    CHECK(E->n_touched == 4);
    int32_t want[4] = {3, 1, 0, 5};
    for (int k = 0; k < 4 && k < E->n_touched; k++) CHECK(E->touched[k] == want[k]);
    CHECK(E->t.grad == NULL); /* no table-sized gradient */
    CHECK(E->slot[3] == 0 && E->slot[1] == 1 && E->slot[0] == 2 && E->slot[5] == 3 && E->slot[2] == -1);
    float dense[6 * 4];
    drec_param_grad_dense(E, dense);
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(E->sgrad[0 * 4 + j], 3, 0); /* id 3 appears three times */
        CHECK_NEAR(dense[3 * 4 + j], 3, 0);
        CHECK_NEAR(dense[1 * 4 + j], 2, 0);
        CHECK_NEAR(dense[2 * 4 + j], 0, 0);
        CHECK_NEAR(dense[4 * 4 + j], 0, 0);
    }
    CHECK(!E->all_touched);
    drec_param_zero_grad(E);
    CHECK(E->n_touched == 0 && E->slot[3] == -1);
    drec_param_free(E);
    drec_tape_free(&tp);
}

/* SIMD kernels agree with the scalar reference. */
TEST(kernels_match_scalar) {
    float a[133], b[133], o1[133], o2[133];
    drec_rng r;
    drec_rng_seed(&r, 9);
    for (int i = 0; i < 133; i++) { a[i] = 20 * drec_rng_float(&r) - 10; b[i] = 2 * drec_rng_float(&r) - 1; }
    const char *paths[] = {"avx2", "avx512"};
    for (int p = 0; p < 2; p++) {
        CHECK_OK(drec_kernels_select("scalar"));
        float d0 = drec_kern->dot(a, b, 133), s0 = drec_kern->sum(a, 133), m0 = drec_kern->max(a, 133);
        drec_kern->exp(o1, a, 133);
        if (drec_kernels_select(paths[p]) != DREC_OK) continue; /* CPU lacks it */
        CHECK_NEAR(drec_kern->dot(a, b, 133), d0, 1e-4);
        CHECK_NEAR(drec_kern->sum(a, 133), s0, 1e-4);
        CHECK(drec_kern->max(a, 133) == m0);
        drec_kern->exp(o2, a, 133);
        for (int i = 0; i < 133; i++) CHECK_NEAR(o2[i], o1[i], 3e-7 * o1[i]);
        /* lincomb: every tail length, with and without row indices, both modes */
        static float M[7 * 133], c[7], l1[133], l2[133];
        const int32_t idx[7] = {6, 0, 3, 3, 1, 5, 2};
        for (int i = 0; i < 7 * 133; i++) M[i] = b[i % 133] * (float)(i % 7 - 3);
        for (int i = 0; i < 7; i++) c[i] = a[i] / 10;
        for (int len = 1; len <= 133; len += (len < 70 ? 1 : 9))
            for (int mode = 0; mode < 4; mode++) {
                for (int j = 0; j < len; j++) l1[j] = l2[j] = b[j];
                if (len < 133) l2[len] = 12345.0f;
                const int32_t *ix = mode & 1 ? idx : NULL;
                CHECK_OK(drec_kernels_select("scalar"));
                drec_kern->lincomb(l1, c, M, ix, 7, 133, len, mode & 2);
                CHECK_OK(drec_kernels_select(paths[p]));
                drec_kern->lincomb(l2, c, M, ix, 7, 133, len, mode & 2);
                for (int j = 0; j < len; j++) CHECK_NEAR(l2[j], l1[j], 1e-5);
                CHECK(len == 133 || l2[len] == 12345.0f); /* nothing written past len */
                /* several outputs at once, coefficients by rows and by columns of a */
                for (int m = 1; m <= 6; m++)
                    for (int cols = 0; cols < 2; cols++) {
                        static float b1[6 * 134], b2[6 * 134];
                        for (int i = 0; i < 6 * 134; i++) b1[i] = b2[i] = b[i % 133];
                        int64_t ck = cols ? 1 : 7, ci = cols ? 6 : 1;
                        CHECK_OK(drec_kernels_select("scalar"));
                        drec_kern->lincomb_block(b1, 134, m, a, ck, ci, M, 7, 133, len, mode & 2);
                        CHECK_OK(drec_kernels_select(paths[p]));
                        drec_kern->lincomb_block(b2, 134, m, a, ck, ci, M, 7, 133, len, mode & 2);
                        for (int i = 0; i < 6 * 134; i++) /* untouched lanes equal too */
                            CHECK_NEAR(b2[i], b1[i], 1e-5 * (1 + fabs(b1[i])));
                    }
            }
        /* the element-wise kernels, every tail length */
        for (int n = 0; n < 40; n++) {
            float s1[40], s2[40], g1[40], g2[40], f1[41], f2[41];
            CHECK_OK(drec_kernels_select("scalar"));
            drec_kern->sigmoid(s1, a, n);
            for (int i = 0; i < n; i++) g1[i] = a[i + 40];
            drec_kern->sigmoid_grad(g1, b, s1, n, true);
            for (int i = 0; i < n; i++) f1[i] = a[i];
            drec_kern->muladd(f1, b, a + 50, n);
            f1[n] = f2[n] = 7.0f;
            CHECK_OK(drec_kernels_select(paths[p]));
            drec_kern->sigmoid(s2, a, n);
            for (int i = 0; i < n; i++) CHECK_NEAR(s2[i], s1[i], 3e-7 * s1[i] + 1e-30);
            for (int i = 0; i < n; i++) g2[i] = a[i + 40];
            drec_kern->sigmoid_grad(g2, b, s1, n, true);
            for (int i = 0; i < n; i++) CHECK_NEAR(g2[i], g1[i], 1e-6);
            drec_kern->sigmoid_grad(g2, b, s1, n, false);
            for (int i = 0; i < n; i++) CHECK_NEAR(g2[i], b[i] * s1[i] * (1 - s1[i]), 1e-7);
            for (int i = 0; i < n; i++) f2[i] = a[i];
            drec_kern->muladd(f2, b, a + 50, n);
            for (int i = 0; i < n; i++) CHECK_NEAR(f2[i], f1[i], 1e-5);
            drec_kern->fill(f2, -2.5f, n);
            for (int i = 0; i < n; i++) CHECK(f2[i] == -2.5f);
            CHECK(f2[n] == 7.0f); /* nothing written past n */
        }
        /* row gather and the compact scatter (copy on a row's first write, then add) */
        for (int len = 1; len <= 40; len += 3) {
            static float g1[6 * 41], g2[6 * 41], c1[3 * 41], c2[3 * 41];
            const int32_t gi[6] = {4, 0, 6, 6, 2, 1}, sl[6] = {~1, ~0, 1, 0, ~2, 2};
            CHECK_OK(drec_kernels_select("scalar"));
            drec_kern->gather(g1, M, gi, 6, 133, len);
            for (int i = 0; i < 3 * 41; i++) c1[i] = 99.0f;
            drec_kern->scatter(c1, g1, sl, 6, len);
            CHECK_OK(drec_kernels_select(paths[p]));
            for (int i = 0; i < 6 * 41; i++) g2[i] = 12345.0f;
            drec_kern->gather(g2, M, gi, 6, 133, len);
            for (int m = 0; m < 6; m++)
                for (int j = 0; j < len; j++) CHECK(g2[m * len + j] == M[gi[m] * 133 + j]);
            CHECK(g2[6 * len] == 12345.0f);
            for (int i = 0; i < 3 * 41; i++) c2[i] = 99.0f;
            drec_kern->scatter(c2, g2, sl, 6, len);
            for (int i = 0; i < 3 * 41; i++) CHECK(c2[i] == c1[i]);
            for (int j = 0; j < len; j++) CHECK(c2[j] == g2[len + j] + g2[3 * len + j]); /* slot 0: rows 1 and 3 */
            CHECK(c2[3 * len] == 99.0f);
        }
        for (int n = 0; n < 40; n++) {
            float y1[40], y2[40];
            for (int i = 0; i < n; i++) y1[i] = y2[i] = b[i];
            drec_kern->axpy(y2, 0.5f, a, n);
            for (int i = 0; i < n; i++) CHECK_NEAR(y2[i], y1[i] + 0.5f * a[i], 1e-6);
        }
    }
    drec_kernels_select("auto");
}

/* Element-wise passes over long buffers split across threads (contiguous
 * halves; a reduction's blocks summed in order).  A chain of them over
 * 4096 x 80 (above the split threshold under either wait policy) gives the
 * same loss and gradients, bit for bit, on 1 and 2 threads, and the loss
 * matches a double-precision reference. */
static double ew_chain(int threads, float *gx, float *gw, float *gb, float *gc, const float *x, const float *w,
                       const float *b, const float *c, const float *s, int R, int D) {
    drec_set_threads(threads);
    drec_tape tp;
    drec_tape_init(&tp, 0);
    drec_tensor *tx = drec_leaf(&tp, x, R, D), *tw = drec_leaf(&tp, w, R, D);
    drec_tensor *tb = drec_leaf(&tp, b, 1, D), *tc = drec_leaf(&tp, c, R, 1);
    drec_tensor *h = drec_sigmoid(&tp, drec_add(&tp, drec_mul(&tp, tx, tw), tb));
    h = drec_tanh(&tp, drec_sub(&tp, drec_scale(&tp, h, 2.0f), tc));
    h = drec_relu(&tp, drec_add(&tp, h, drec_div(&tp, tx, drec_add_scalar(&tp, drec_mul(&tp, tw, tw), 1.0f))));
    drec_tensor *L = drec_sum(&tp, drec_mul(&tp, h, drec_tfrom(&tp, (float *)s, R, D)));
    drec_backward(&tp, L);
    double v = L->data[0];
    memcpy(gx, tx->grad, (size_t)R * D * sizeof(float));
    memcpy(gw, tw->grad, (size_t)R * D * sizeof(float));
    memcpy(gb, tb->grad, (size_t)D * sizeof(float));
    memcpy(gc, tc->grad, (size_t)R * sizeof(float));
    drec_tape_free(&tp);
    drec_set_threads(0);
    return v;
}

TEST(elementwise_split_matches_one_thread) {
    enum { R = 4096, D = 80, N = R * D };
    float *in = malloc(4 * (size_t)N * sizeof(float)), *g = malloc(2 * 2 * (size_t)N * sizeof(float));
    float b[D], c[R], gb[2][D], gc[2][R];
    float *x = in, *w = in + N, *s = in + 2 * N;
    drec_rng rng;
    drec_rng_seed(&rng, 7);
    for (int i = 0; i < 3 * N; i++) in[i] = 2 * drec_rng_float(&rng) - 1;
    for (int j = 0; j < D; j++) b[j] = drec_rng_float(&rng) - 0.5f;
    for (int r = 0; r < R; r++) c[r] = drec_rng_float(&rng);
    double ref = 0;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < D; j++) {
            int i = r * D + j;
            double h = 1 / (1 + exp(-((double)x[i] * w[i] + b[j])));
            h = tanh(2 * h - c[r]) + x[i] / ((double)w[i] * w[i] + 1);
            ref += (h > 0 ? h : 0) * s[i];
        }
    double L1 = ew_chain(1, g, g + N, gb[0], gc[0], x, w, b, c, s, R, D);
    double L2 = ew_chain(2, g + 2 * N, g + 3 * N, gb[1], gc[1], x, w, b, c, s, R, D);
    printf("  loss %.6f (1 thread) %.6f (2 threads), double reference %.6f\n", L1, L2, ref);
    CHECK(L1 == L2);
    CHECK_NEAR(L1, ref, 1e-4 * fabs(ref) + 1e-3);
    CHECK(!memcmp(g, g + 2 * N, 2 * (size_t)N * sizeof(float)));
    CHECK(!memcmp(gb[0], gb[1], sizeof gb[0]));
    CHECK(!memcmp(gc[0], gc[1], sizeof gc[0]));
    free(in);
    free(g);
}

int main(void) {
    printf("kernels: %s\n", drec_kernels_name());
    RUN(forward_values_match_references);
    RUN(fused_forwards_match_naive);
    RUN(sparse_grad_touched_rows);
    RUN(kernels_match_scalar);
    RUN(elementwise_split_matches_one_thread);
    RUN(gradcheck_all_ops);
    drec_kernels_select("scalar");
    RUN(gradcheck_all_ops);
    drec_kernels_select("auto");
    return harness_summary();
}
