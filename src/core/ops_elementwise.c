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

#define PAR_MIN 65536

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

static inline int64_t bidx(int mode, int64_t i, int D) {
    switch (mode) {
    case BC_SAME: return i;
    case BC_ROW: return i % D;
    case BC_COL: return i / D;
    default: return 0;
    }
}

static void binary_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *a = nd->in[0], *b = nd->in[1], *out = nd->out;
    int op = nd->i[0], mode = nd->i[1], D = drec_cols(a);
    int64_t n = a->n;
    const float *g = out->grad, *av = a->data, *bv = b->data;
    if (a->requires_grad) {
        float *da = drec_grad(tp, a);
        DREC_PAR_FOR(n > PAR_MIN,
        for (int64_t i = 0; i < n; i++) {
            float bb = bv[bidx(mode, i, D)];
            switch (op) {
            case OP_ADD: case OP_SUB: da[i] += g[i]; break;
            case OP_MUL: da[i] += g[i] * bb; break;
            default: da[i] += g[i] / bb; break;
            }
        });
    }
    if (b->requires_grad) {
        float *db = drec_grad(tp, b);
        if (mode == BC_SAME) {
            DREC_PAR_FOR(n > PAR_MIN,
            for (int64_t i = 0; i < n; i++) {
                switch (op) {
                case OP_ADD: db[i] += g[i]; break;
                case OP_SUB: db[i] -= g[i]; break;
                case OP_MUL: db[i] += g[i] * av[i]; break;
                default: db[i] -= g[i] * av[i] / (bv[i] * bv[i]); break;
                }
            });
        } else {
            for (int64_t i = 0; i < n; i++) {
                int64_t j = bidx(mode, i, D);
                switch (op) {
                case OP_ADD: db[j] += g[i]; break;
                case OP_SUB: db[j] -= g[i]; break;
                case OP_MUL: db[j] += g[i] * av[i]; break;
                default: db[j] -= g[i] * av[i] / (bv[j] * bv[j]); break;
                }
            }
        }
    }
}

static drec_tensor *binary(drec_tape *tp, drec_tensor *a, drec_tensor *b, int op) {
    int mode = bcast_mode(a, b), D = drec_cols(a);
    drec_tensor *out = like(tp, a);
    int64_t n = a->n;
    const float *av = a->data, *bv = b->data;
    float *o = out->data;
    if (mode == BC_SAME && op == OP_ADD) {
        drec_kern->add(o, av, bv, (int)n);
    } else if (mode == BC_SAME && op == OP_MUL) {
        drec_kern->mul(o, av, bv, (int)n);
    } else {
        DREC_PAR_FOR(n > PAR_MIN,
        for (int64_t i = 0; i < n; i++) {
            float bb = bv[bidx(mode, i, D)];
            switch (op) {
            case OP_ADD: o[i] = av[i] + bb; break;
            case OP_SUB: o[i] = av[i] - bb; break;
            case OP_MUL: o[i] = av[i] * bb; break;
            default: o[i] = av[i] / bb; break;
            }
        });
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

static void unary_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *y = nd->out;
    int op = nd->i[0];
    float c = nd->f[0];
    int64_t n = x->n;
    float *dx = drec_grad(tp, x);
    const float *g = y->grad, *xv = x->data, *yv = y->data;
    DREC_PAR_FOR(n > PAR_MIN,
    for (int64_t i = 0; i < n; i++) {
        float d;
        switch (op) {
        case U_SCALE: d = c; break;
        case U_ADDS: d = 1; break;
        case U_RELU: d = xv[i] > 0 ? 1.0f : 0.0f; break;
        case U_LEAKY: d = xv[i] > 0 ? 1.0f : c; break;
        case U_GELU: d = gelu_d(xv[i]); break;
        case U_SIGMOID: d = yv[i] * (1 - yv[i]); break;
        default: d = 1 - yv[i] * yv[i]; break;
        }
        dx[i] += g[i] * d;
    });
}

static drec_tensor *unary(drec_tape *tp, drec_tensor *x, int op, float c) {
    drec_tensor *y = like(tp, x);
    int64_t n = x->n;
    const float *xv = x->data;
    float *o = y->data;
    if (op == U_SIGMOID || op == U_TANH) {
        /* sigmoid(x) = 1/(1+e^-x); tanh(x) = 2 sigmoid(2x) - 1, through the SIMD exp */
        float k = op == U_SIGMOID ? -1.0f : -2.0f;
        DREC_PAR_FOR(n > PAR_MIN,
        for (int64_t i0 = 0; i0 < n; i0 += 1024) {
            int m = (int)DREC_MIN(1024, n - i0);
            float *oo = o + i0;
            for (int j = 0; j < m; j++) oo[j] = k * xv[i0 + j];
            drec_kern->exp(oo, oo, m);
            if (op == U_SIGMOID)
                for (int j = 0; j < m; j++) oo[j] = 1.0f / (1.0f + oo[j]);
            else
                for (int j = 0; j < m; j++) oo[j] = 2.0f / (1.0f + oo[j]) - 1.0f;
        });
    } else {
        DREC_PAR_FOR(n > PAR_MIN,
        for (int64_t i = 0; i < n; i++) {
            float v = xv[i];
            switch (op) {
            case U_SCALE: o[i] = c * v; break;
            case U_ADDS: o[i] = v + c; break;
            case U_RELU: o[i] = v > 0 ? v : 0; break;
            case U_LEAKY: o[i] = v > 0 ? v : c * v; break;
            default: o[i] = gelu_f(v); break;
            }
        });
    }
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
