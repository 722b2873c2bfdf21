/*
 * ops_rnn.c — the GRU cell (torch.nn.GRUCell semantics), fused: two sgemms
 * for the gate pre-activations, one pass for the gates, and the mirror
 * image in backward.
 *
 * Shapes: x [B,Din], h [B,H], W_ih [Din,3H], W_hh [H,3H], b_ih, b_hh [1,3H];
 * gate column blocks in order r | z | n.
 *   r = sigmoid(gi_r + gh_r)   z = sigmoid(gi_z + gh_z)
 *   n = tanh(gi_n + r * gh_n)  h' = (1 - z) n + z h
 * with gi = x W_ih + b_ih and gh = h W_hh + b_hh.
 */
#include "blas.h"
#include "kernels.h"
#include "tensor.h"

#include <math.h>

#define PAR_MIN (1 << 18)

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* saved: [B, 4H] = r | z | n | gh_n */
static void gru_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *h = nd->in[1], *Wi = nd->in[2], *Wh = nd->in[3];
    drec_tensor *bi = ((drec_tensor **)nd->saved)[0], *bh = ((drec_tensor **)nd->saved)[1];
    const float *gates = ((float **)nd->saved)[2];
    int B = (int)drec_rows(x), Din = drec_cols(x), H = drec_cols(h), G = 3 * H;
    const float *dy = nd->out->grad;
    float *dgi = drec_tape_floats(tp, (int64_t)B * G), *dgh = drec_tape_floats(tp, (int64_t)B * G);
    float *dh = h->requires_grad ? drec_grad(tp, h) : NULL;
    DREC_PAR_FOR((int64_t)B * H > PAR_MIN,
    for (int b = 0; b < B; b++) {
        const float *g = gates + (int64_t)b * 4 * H, *hv = h->data + (int64_t)b * H, *d = dy + (int64_t)b * H;
        float *ai = dgi + (int64_t)b * G, *ah = dgh + (int64_t)b * G;
        for (int j = 0; j < H; j++) {
            float r = g[j], z = g[H + j], n = g[2 * H + j], ghn = g[3 * H + j];
            float dn = d[j] * (1 - z), dz = d[j] * (hv[j] - n);
            float dnp = dn * (1 - n * n), dr = dnp * ghn;
            float drp = dr * r * (1 - r), dzp = dz * z * (1 - z);
            ai[j] = drp;
            ai[H + j] = dzp;
            ai[2 * H + j] = dnp;
            ah[j] = drp;
            ah[H + j] = dzp;
            ah[2 * H + j] = dnp * r;
            if (dh) dh[(int64_t)b * H + j] += d[j] * z;
        }
    });
    if (x->requires_grad) drec_sgemm(false, true, B, Din, G, 1, dgi, G, Wi->data, G, 1, drec_grad(tp, x), Din);
    if (Wi->requires_grad) drec_sgemm(true, false, Din, G, B, 1, x->data, Din, dgi, G, 1, drec_grad(tp, Wi), G);
    if (dh) drec_sgemm(false, true, B, H, G, 1, dgh, G, Wh->data, G, 1, dh, H);
    if (Wh->requires_grad) drec_sgemm(true, false, H, G, B, 1, h->data, H, dgh, G, 1, drec_grad(tp, Wh), G);
    if (bi && bi->requires_grad) {
        float *db = drec_grad(tp, bi);
        for (int b = 0; b < B; b++) drec_kern->add(db, db, dgi + (int64_t)b * G, G);
    }
    if (bh && bh->requires_grad) {
        float *db = drec_grad(tp, bh);
        for (int b = 0; b < B; b++) drec_kern->add(db, db, dgh + (int64_t)b * G, G);
    }
}

drec_tensor *drec_gru_cell(drec_tape *tp, drec_tensor *x, drec_tensor *h, drec_tensor *W_ih, drec_tensor *W_hh,
                           drec_tensor *b_ih, drec_tensor *b_hh) {
    int B = (int)drec_rows(x), Din = drec_cols(x), H = drec_cols(h), G = 3 * H;
    DREC_ASSERT(drec_rows(h) == B && W_ih->n == (int64_t)Din * G && W_hh->n == (int64_t)H * G);
    DREC_ASSERT(drec_cols(W_ih) == G && drec_cols(W_hh) == G);
    if (b_ih) DREC_ASSERT(b_ih->n == G);
    if (b_hh) DREC_ASSERT(b_hh->n == G);
    float *gi = drec_tape_floats(tp, (int64_t)B * G), *gh = drec_tape_floats(tp, (int64_t)B * G);
    drec_sgemm(false, false, B, G, Din, 1, x->data, Din, W_ih->data, G, 0, gi, G);
    drec_sgemm(false, false, B, G, H, 1, h->data, H, W_hh->data, G, 0, gh, G);
    float *gates = drec_tape_floats(tp, (int64_t)B * 4 * H);
    drec_tensor *y = drec_t2(tp, B, H);
    DREC_PAR_FOR((int64_t)B * H > PAR_MIN,
    for (int b = 0; b < B; b++) {
        const float *a = gi + (int64_t)b * G, *c = gh + (int64_t)b * G, *hv = h->data + (int64_t)b * H;
        float *g = gates + (int64_t)b * 4 * H, *o = y->data + (int64_t)b * H;
        for (int j = 0; j < H; j++) {
            float bir = b_ih ? b_ih->data[j] : 0, biz = b_ih ? b_ih->data[H + j] : 0, bin = b_ih ? b_ih->data[2 * H + j] : 0;
            float bhr = b_hh ? b_hh->data[j] : 0, bhz = b_hh ? b_hh->data[H + j] : 0, bhn = b_hh ? b_hh->data[2 * H + j] : 0;
            float r = sigm(a[j] + bir + c[j] + bhr), z = sigm(a[H + j] + biz + c[H + j] + bhz);
            float ghn = c[2 * H + j] + bhn, n = tanhf(a[2 * H + j] + bin + r * ghn);
            g[j] = r;
            g[H + j] = z;
            g[2 * H + j] = n;
            g[3 * H + j] = ghn;
            o[j] = (1 - z) * n + z * hv[j];
        }
    });
    bool need = x->requires_grad || h->requires_grad || W_ih->requires_grad || W_hh->requires_grad ||
                (b_ih && b_ih->requires_grad) || (b_hh && b_hh->requires_grad);
    drec_node *nd = need ? drec_tape_push(tp, gru_backward, y) : NULL;
    if (nd) {
        nd->in[0] = x;
        nd->in[1] = h;
        nd->in[2] = W_ih;
        nd->in[3] = W_hh;
    }
    if (nd) {
        void **s = drec_arena_alloc(&tp->arena, 3 * sizeof(void *));
        s[0] = b_ih;
        s[1] = b_hh;
        s[2] = gates;
        nd->saved = s;
    }
    return y;
}
