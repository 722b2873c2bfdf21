/*
 * ops_elementwise.c — binary arithmetic with row/column/scalar broadcast,
 * activations, scaling and dropout.
 *
 * Shapes: a is viewed as [R,D] (D = its last dim).  b is [R,D] (same),
 * [1,D] or [D] (ROW: one row broadcast down), [R,1] (COL: one value per
 * row) or [1] (SCALAR).  Gradients of a broadcast b sum over the broadcast
 * axis serially, in row order, so they are the same for any thread count.
 */
#include "kernels.h"
#include "tensor.h"

#include <math.h>

#define EW_MIN drec_split_min()

static drec_tensor *like(drec_tape *tp, const drec_tensor *x) { return drec_tnew(tp, x->ndim, x->shape); }

/* ---- binary ops with broadcast ---------------------------------------------------- */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
enum { BC_SAME, BC_ROW, BC_COL, BC_SCALAR };

static int bcast_mode(const drec_tensor *a, const drec_tensor *b) {
    int64_t R = drec_rows(a);
    int D = drec_cols(a);
    if (b->n == a->n && drec_cols(b) == D) return BC_SAME;
    if (b->n == 1) return BC_SCALAR;
    if (drec_cols(b) == D && b->n == D) return BC_ROW;
    if (drec_cols(b) == 1 && b->n == R) return BC_COL;
    DREC_ASSERT(!"operands cannot broadcast: b must be [R,D], [1,D], [R,1] or [1]");
    return -1;
}

/* One row of a op b: bv points at b's row (SAME, ROW) or its one value (COL, SCALAR). */
static inline void fwd_row(int op, bool vec, float *o, const float *a, const float *bv, int D) {
    if (vec) {
        switch (op) {
        case OP_ADD: drec_kern->add(o, a, bv, D); break;
        case OP_MUL: drec_kern->mul(o, a, bv, D); break;
        case OP_SUB:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] - bv[j];
            break;
        default:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] / bv[j];
            break;
        }
    } else {
        float c = bv[0];
        switch (op) {
        case OP_ADD:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] + c;
            break;
        case OP_SUB:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] - c;
            break;
        case OP_MUL:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] * c;
            break;
        default:
            #pragma omp simd
            for (int j = 0; j < D; j++) o[j] = a[j] / c;
            break;
        }
    }
}

/* da += g * d(a op b)/da over one row */
static inline void bwd_a_row(int op, bool vec, float *da, const float *g, const float *bv, int D, bool assign) {
    if (assign) memset(da, 0, (size_t)D * sizeof(float)); /* one row, in cache */
    switch (op) {
    case OP_ADD: case OP_SUB: drec_kern->add(da, da, g, D); break;
    case OP_MUL:
        if (vec) {
            #pragma omp simd
            for (int j = 0; j < D; j++) da[j] += g[j] * bv[j];
        } else {
            drec_kern->axpy(da, bv[0], g, D);
        }
        break;
    default:
        if (vec) {
            #pragma omp simd
            for (int j = 0; j < D; j++) da[j] += g[j] / bv[j];
        } else {
            drec_kern->axpy(da, 1.0f / bv[0], g, D);
        }
        break;
    }
}

/* db_row += g * d(a op b)/db over one row, element-wise (SAME, ROW) */
static inline void bwd_b_row(int op, float *db, const float *g, const float *a, const float *bv, int D,
                             bool assign) {
    if (assign) memset(db, 0, (size_t)D * sizeof(float));
    switch (op) {
    case OP_ADD: drec_kern->add(db, db, g, D); break;
    case OP_SUB: drec_kern->axpy(db, -1.0f, g, D); break;
    case OP_MUL:
        #pragma omp simd
        for (int j = 0; j < D; j++) db[j] += g[j] * a[j];
        break;
    default:
        #pragma omp simd
        for (int j = 0; j < D; j++) db[j] -= g[j] * a[j] / (bv[j] * bv[j]);
        break;
    }
}

/* sum over one row of g * d(a op b)/db for a scalar b (COL, SCALAR) */
static inline float bwd_b_scalar(int op, const float *g, const float *a, float b, int D) {
    switch (op) {
    case OP_ADD: return drec_kern->sum(g, D);
    case OP_SUB: return -drec_kern->sum(g, D);
    case OP_MUL: return drec_kern->dot(g, a, D);
    default: return -drec_kern->dot(g, a, D) / (b * b);
    }
}

static inline const float *brow(int mode, const float *b, int64_t r, int D) {
    switch (mode) {
    case BC_SAME: return b + r * D;
    case BC_COL: return b + r;
    default: return b;
    }
}

static void copy_or_add(float *d, const float *g, int64_t n, bool assign) {
    DREC_PAR_CHUNKS(n, {
        if (assign) memcpy(d + i0, g + i0, (size_t)(i1 - i0) * sizeof(float));
        else drec_kern->add(d + i0, d + i0, g + i0, (int)(i1 - i0));
    });
}
static void mul_or_muladd(float *d, const float *g, const float *x, int64_t n, bool assign) {
    DREC_PAR_CHUNKS(n, {
        if (assign) drec_kern->mul(d + i0, g + i0, x + i0, (int)(i1 - i0));
        else drec_kern->muladd(d + i0, g + i0, x + i0, (int)(i1 - i0));
    });
}

/* db += the column sums of g [R,D]: each block of rows is summed (a linear
 * combination with weights 1, accumulators in registers) in parallel, then
 * the blocks are added in order, so the result is the same for any thread
 * count. */
static void col_sums(drec_tape *tp, float *db, const float *g, int64_t R, int D) {
    int64_t rb = DREC_MAX(1, DREC_CHUNK / D), nb = (R + rb - 1) / rb;
    float *ones = drec_tape_floats(tp, rb), *part = drec_tape_floats(tp, nb * D);
    for (int64_t r = 0; r < rb; r++) ones[r] = 1.0f;
    DREC_PAR_FOR(R * D >= EW_MIN,
    for (int64_t b = 0; b < nb; b++)
        drec_kern->lincomb(part + b * D, ones, g + b * rb * D, NULL, (int)DREC_MIN(rb, R - b * rb), D, D, false););
    for (int64_t b = 0; b < nb; b++) drec_kern->add(db, db, part + b * D, D);
}

/* The common cases take whole-buffer kernels (no per-row calls, no zeroing
 * pass): an add's or sub's gradient into a passes g through (shared when a
 * has none yet), a product's is one multiply over the buffer (or a row
 * broadcast per row), a row-broadcast add's b gets column sums. */
static void binary_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *a = nd->in[0], *b = nd->in[1], *out = nd->out;
    int op = nd->i[0], mode = nd->i[1], D = drec_cols(a);
    int64_t R = drec_rows(a), n = a->n;
    bool vec = mode == BC_SAME || mode == BC_ROW;
    float *g = out->grad;
    const float *av = a->data, *bv = b->data;
    bool shared = false;
    if (a->requires_grad) {
        if ((op == OP_ADD || op == OP_SUB) && (shared = drec_grad_share(tp, a, g))) {
            /* a->grad is g now; b's part below reads g before anyone adds to it */
        } else if (op == OP_ADD || op == OP_SUB) {
            bool assign;
            float *da = drec_grad_first(tp, a, &assign);
            copy_or_add(da, g, n, assign);
        } else if (op == OP_MUL && mode == BC_SAME && b->requires_grad && b != a) {
            /* both parts in one pass: per chunk, da from g, then db (in
             * place over g where it may), so g is read from memory once */
            bool assign_a, assign_b = !shared && drec_grad_share(tp, b, g);
            float *da = drec_grad_first(tp, a, &assign_a), *db = assign_b ? g : drec_grad_first(tp, b, &assign_b);
            DREC_PAR_CHUNKS(n, {
                int m = (int)(i1 - i0);
                if (assign_a) drec_kern->mul(da + i0, g + i0, bv + i0, m);
                else drec_kern->muladd(da + i0, g + i0, bv + i0, m);
                if (assign_b) drec_kern->mul(db + i0, g + i0, av + i0, m);
                else drec_kern->muladd(db + i0, g + i0, av + i0, m);
            });
            return;
        } else if (op == OP_MUL && mode == BC_SAME && b->requires_grad) {
            bool assign; /* a * a: b's part needs g, so no sharing */
            float *da = drec_grad_first(tp, a, &assign);
            mul_or_muladd(da, g, bv, n, assign);
        } else if (op == OP_MUL && mode == BC_SAME) {
            bool assign = drec_grad_share(tp, a, g); /* in place: da[i] = g[i] b[i] */
            float *da = assign ? g : drec_grad(tp, a);
            mul_or_muladd(da, g, bv, n, assign);
        } else if (op == OP_MUL && mode == BC_ROW) {
            bool assign;
            float *da = drec_grad_first(tp, a, &assign);
            DREC_PAR_FOR(n >= EW_MIN,
            for (int64_t r = 0; r < R; r++) {
                if (assign) drec_kern->mul(da + r * D, g + r * D, bv, D);
                else drec_kern->muladd(da + r * D, g + r * D, bv, D);
            });
        } else {
            bool assign;
            float *da = drec_grad_first(tp, a, &assign);
            DREC_PAR_FOR(n >= EW_MIN,
            for (int64_t r = 0; r < R; r++) bwd_a_row(op, vec, da + r * D, g + r * D, brow(mode, bv, r, D), D, assign););
        }
    }
    if (b->requires_grad) {
        bool assign = false;
        switch (mode) {
        case BC_SAME:
            if (op == OP_ADD && b != a && !shared && drec_grad_share(tp, b, g)) break;
            {
                float *db;
                if (op == OP_MUL && b != a && !shared && drec_grad_share(tp, b, g)) {
                    db = g, assign = true; /* a's part is done: db[i] = g[i] a[i] in place */
                } else {
                    db = drec_grad_first(tp, b, &assign);
                }
                if (op == OP_ADD) copy_or_add(db, g, n, assign);
                else if (op == OP_MUL) mul_or_muladd(db, g, av, n, assign);
                else
                    DREC_PAR_FOR(n >= EW_MIN,
                    for (int64_t r = 0; r < R; r++) bwd_b_row(op, db + r * D, g + r * D, av + r * D, bv + r * D, D, assign););
            }
            break;
        case BC_ROW: { /* rows summed in order */
            float *db = drec_grad(tp, b);
            if (op == OP_ADD) {
                col_sums(tp, db, g, R, D);
            } else if (op == OP_MUL) {
                for (int64_t r = 0; r < R; r++) drec_kern->muladd(db, g + r * D, av + r * D, D);
            } else {
                for (int64_t r = 0; r < R; r++) bwd_b_row(op, db, g + r * D, av + r * D, bv, D, false);
            }
            break;
        }
        case BC_COL: {
            float *db = drec_grad(tp, b);
            DREC_PAR_FOR(n >= EW_MIN,
            for (int64_t r = 0; r < R; r++) db[r] += bwd_b_scalar(op, g + r * D, av + r * D, bv[r], D););
            break;
        }
        default: {
            float *db = drec_grad(tp, b);
            double s = 0;
            for (int64_t r = 0; r < R; r++) s += bwd_b_scalar(op, g + r * D, av + r * D, bv[0], D);
            db[0] += (float)s;
        }
        }
    }
}

static drec_tensor *binary(drec_tape *tp, drec_tensor *a, drec_tensor *b, int op) {
    int mode = bcast_mode(a, b), D = drec_cols(a);
    int64_t R = drec_rows(a);
    bool vec = mode == BC_SAME || mode == BC_ROW;
    drec_tensor *out = like(tp, a);
    const float *av = a->data, *bv = b->data;
    float *o = out->data;
    if (mode == BC_SAME) {
        DREC_PAR_CHUNKS(a->n, fwd_row(op, true, o + i0, av + i0, bv + i0, (int)(i1 - i0)););
    } else {
        DREC_PAR_FOR(a->n >= EW_MIN,
        for (int64_t r = 0; r < R; r++) fwd_row(op, vec, o + r * D, av + r * D, brow(mode, bv, r, D), D););
    }
    drec_node *nd = drec_tape_record(tp, binary_backward, out, a, b, NULL, NULL);
    if (nd) {
        nd->i[0] = op;
        nd->i[1] = mode;
    }
    return out;
}

drec_tensor *drec_add(drec_tape *tp, drec_tensor *a, drec_tensor *b) { return binary(tp, a, b, OP_ADD); }
drec_tensor *drec_sub(drec_tape *tp, drec_tensor *a, drec_tensor *b) { return binary(tp, a, b, OP_SUB); }
drec_tensor *drec_mul(drec_tape *tp, drec_tensor *a, drec_tensor *b) { return binary(tp, a, b, OP_MUL); }
drec_tensor *drec_div(drec_tape *tp, drec_tensor *a, drec_tensor *b) { return binary(tp, a, b, OP_DIV); }

/* ---- unary ops ------------------------------------------------------------------------ */

enum { U_SCALE, U_ADDS, U_RELU, U_LEAKY, U_GELU, U_SIGMOID, U_TANH };

static inline float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
static inline float gelu_d(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

/* dx (+)= g * f'(x) over [i0, i1), one loop per op so each vectorises; dx
 * may be g itself (element-wise in place), so assign stores, never zeroes first */
#define UBWD(expr)                                                                        \
    do {                                                                                  \
        if (assign) {                                                                     \
            _Pragma("omp simd") for (int64_t i = i0; i < i1; i++) dx[i] = (expr);         \
        } else {                                                                          \
            _Pragma("omp simd") for (int64_t i = i0; i < i1; i++) dx[i] += (expr);        \
        }                                                                                 \
    } while (0)
static void unary_bwd_range(int op, float c, float *dx, const float *g, const float *xv, const float *yv,
                            int64_t i0, int64_t i1, bool assign) {
    switch (op) {
    case U_SCALE: UBWD(g[i] * c); break;
    case U_ADDS: UBWD(g[i]); break;
    case U_RELU: UBWD(xv[i] > 0 ? g[i] : 0.0f); break;
    case U_LEAKY: UBWD(xv[i] > 0 ? g[i] : c * g[i]); break;
    case U_GELU:
        if (assign)
            for (int64_t i = i0; i < i1; i++) dx[i] = g[i] * gelu_d(xv[i]);
        else
            for (int64_t i = i0; i < i1; i++) dx[i] += g[i] * gelu_d(xv[i]);
        break;
    case U_SIGMOID: drec_kern->sigmoid_grad(dx + i0, g + i0, yv + i0, (int)(i1 - i0), !assign); break;
    default: UBWD(g[i] * (1 - yv[i] * yv[i])); break;
    }
}
#undef UBWD

static void unary_fwd_range(int op, float c, float *o, const float *xv, int64_t i0, int64_t i1) {
    switch (op) {
    case U_SCALE:
        #pragma omp simd
        for (int64_t i = i0; i < i1; i++) o[i] = c * xv[i];
        break;
    case U_ADDS:
        #pragma omp simd
        for (int64_t i = i0; i < i1; i++) o[i] = xv[i] + c;
        break;
    case U_RELU:
        #pragma omp simd
        for (int64_t i = i0; i < i1; i++) {
            float v = xv[i];
            o[i] = v > 0 ? v : 0.0f;
        }
        break;
    case U_LEAKY:
        #pragma omp simd
        for (int64_t i = i0; i < i1; i++) {
            float v = xv[i];
            o[i] = v > 0 ? v : c * v;
        }
        break;
    case U_GELU:
        for (int64_t i = i0; i < i1; i++) o[i] = gelu_f(xv[i]);
        break;
    case U_SIGMOID:
        drec_kern->sigmoid(o + i0, xv + i0, (int)(i1 - i0));
        break;
    default: {
        /* tanh(x) = 2 sigmoid(2x) - 1, through the SIMD exp */
        float k = -2.0f;
        float *oo = o + i0;
        int m = (int)(i1 - i0);
        #pragma omp simd
        for (int j = 0; j < m; j++) oo[j] = k * xv[i0 + j];
        drec_kern->exp(oo, oo, m);
        #pragma omp simd
        for (int j = 0; j < m; j++) oo[j] = 2.0f / (1.0f + oo[j]) - 1.0f;
    }
    }
}

static void unary_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *y = nd->out;
    int op = nd->i[0];
    float c = nd->f[0];
    int64_t n = x->n;
    bool assign = drec_grad_share(tp, x, y->grad); /* element-wise: in place over y's gradient */
    float *dx = assign ? y->grad : drec_grad_first(tp, x, &assign);
    const float *g = y->grad, *xv = x->data, *yv = y->data;
    DREC_PAR_CHUNKS(n, unary_bwd_range(op, c, dx, g, xv, yv, i0, i1, assign););
}

static drec_tensor *unary(drec_tape *tp, drec_tensor *x, int op, float c) {
    drec_tensor *y = like(tp, x);
    int64_t n = x->n;
    const float *xv = x->data;
    float *o = y->data;
    DREC_PAR_CHUNKS(n, unary_fwd_range(op, c, o, xv, i0, i1););
    drec_node *nd = drec_tape_record(tp, unary_backward, y, x, NULL, NULL, NULL);
    if (nd) {
        nd->i[0] = op;
        nd->f[0] = c;
    }
    return y;
}

drec_tensor *drec_scale(drec_tape *tp, drec_tensor *a, float s) { return unary(tp, a, U_SCALE, s); }
drec_tensor *drec_add_scalar(drec_tape *tp, drec_tensor *a, float s) { return unary(tp, a, U_ADDS, s); }
drec_tensor *drec_relu(drec_tape *tp, drec_tensor *x) { return unary(tp, x, U_RELU, 0); }
drec_tensor *drec_leaky_relu(drec_tape *tp, drec_tensor *x, float slope) { return unary(tp, x, U_LEAKY, slope); }
drec_tensor *drec_gelu(drec_tape *tp, drec_tensor *x) { return unary(tp, x, U_GELU, 0); }
drec_tensor *drec_sigmoid(drec_tape *tp, drec_tensor *x) { return unary(tp, x, U_SIGMOID, 0); }
drec_tensor *drec_tanh(drec_tape *tp, drec_tensor *x) { return unary(tp, x, U_TANH, 0); }

/* ---- dropout ---------------------------------------------------------------------------- */

static void dropout_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    const float *mask = nd->saved, *g = nd->out->grad;
    float *dx = drec_grad(tp, x);
    for (int64_t i = 0; i < x->n; i++) dx[i] += g[i] * mask[i];
}

drec_tensor *drec_dropout(drec_tape *tp, drec_tensor *x, float p) {
    DREC_ASSERT(p >= 0 && p < 1);
    if (!tp->training || p == 0) return x;
    drec_tensor *y = like(tp, x);
    float *mask = drec_tape_floats(tp, x->n);
    float keep = 1.0f / (1.0f - p);
    /* Draws in element order from one stream: the mask does not depend on threads. */
    for (int64_t i = 0; i < x->n; i++) {
        mask[i] = drec_rng_float(&tp->rng) < p ? 0.0f : keep;
        y->data[i] = x->data[i] * mask[i];
    }
    drec_node *nd = drec_tape_record(tp, dropout_backward, y, x, NULL, NULL, NULL);
    if (nd) nd->saved = mask;
    return y;
}
