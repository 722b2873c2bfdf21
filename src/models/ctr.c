/*
 * ctr.c — click-through-rate models over feature columns (data/features.h):
 *
 *   lr        logistic regression (the first-order term alone)
 *   widedeep  Cheng et al. 2016: wide = sparse linear model over raw and
 *             hashed cross-product features (--cross, default all pairs
 *             of fields), trained with FTRL-Proximal (--wide_lr, --l1,
 *             --l2); deep = field embeddings + MLP trained with Adam or
 *             AdaGrad; one logit, trained jointly.  --part wide|deep
 *             trains one half alone (the ablation)
 *   deepfm    Guo et al. 2017: first order + FM + MLP sharing embeddings
 *   xdeepfm   Lian et al. 2018: first order + Compressed Interaction
 *             Network + MLP
 *   autoint   Song et al. 2019: multi-head self-attention over the field
 *             embeddings with residual connections (+ first order, and the
 *             MLP in parallel when --layers is not empty: AutoInt+)
 *
 * The whole step is written as fused forward/backward passes over flat
 * float buffers (llm.c style): dense layers go through sgemm with the
 * batch as the long dimension, so the wide MLPs run at BLAS speed; the
 * embedding-bag, FM and the tiny per-row attention are plain loops
 * parallel over the batch; the CIN and the attention run blocks of
 * examples through all their layers (head_fwd).  Embedding and first-order rows get
 * row-sparse gradients and lazy optimizer updates (a step costs O(batch));
 * --set lazy=0 moves every row each step instead, as a dense Adam does.
 * Threads: a sparse row's gradient is gathered by the one thread that owns
 * its id; without batch norm a whole step is one parallel region over
 * fixed row chunks ("the fused step" below), with it one region per layer.
 *
 * Shapes: B = batch rows, F = fields, D = embedding dim, H = hidden width,
 * M = F (CIN's x0 rows), A = attention width (heads * per-head width).
 *
 * Regularisation and schedules for all of them: --dropout (deep part),
 * --bn (batch norm before each ReLU), --reg (L2 on the embedding rows a
 * batch uses), --schedule constant|cosine|exp|step with --warmup steps,
 * --val F (hold out a fraction of the training rows; the best epoch by
 * validation AUC is kept) with --patience N (stop after N epochs without
 * gain).  --epochs 0 saves the initialised model (bench/ctr_torch.py
 * --from-drec starts PyTorch from it).
 */
#include "model.h"

#include "core/blas.h"
#include "core/kernels.h"
#include "data/features.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

enum { K_LR, K_WIDEDEEP, K_DEEPFM, K_XDEEPFM, K_AUTOINT };
/* A loop goes parallel only when its work (roughly, multiply-adds) pays
 * for waking the team: small batches stay on one thread. */
#define PAR(work) ((double)(work) >= 262144.0)
#define MAX_LAYERS 8
/* Sparse gradient slots are handed out SLOT_CHUNK at a time from one shared
 * counter; a thread's unused remainder is marked -1 in the id list. */
enum { SLOT_CHUNK = 256 };
/* Rows a thread takes through the fused step at a time (fixed by the
 * batch, so that partial sums do not depend on the thread count). */
enum { CHUNK_ROWS = 1024 };
enum { ATT_MAX_DH = 1024 }; /* widest attention head */
/* Examples per CIN block: a block's outer products (CIN_B * D rows of H_k * F)
 * and their gradient stay in a core's cache from one product to the next. */
enum { CIN_B = 32 };
/* Examples per attention block: a block's projections (ATT_B * F rows of
 * 4A) and their gradients stay in a core's cache between the product that
 * makes them and the attention that reads them. */
enum { ATT_B = 16 };

typedef struct hyper {
    int kind;
    long epochs, dim, batch, seed, warmup, patience;
    double lr, reg, dropout, wide_lr, l1, l2, val, lr_decay;
    int n_layers, layers[MAX_LAYERS];
    int n_cin, cin[MAX_LAYERS];
    long att_layers, att_dim, heads;
    bool bn, adagrad;
    int part; /* widedeep: 0 both halves, 1 wide only, 2 deep only */
    long lazy; /* 1: optimizer updates only the embedding rows a batch uses */
    int schedule; /* 0 constant, 1 cosine, 2 exp, 3 step */
} hyper;

/* A dense parameter: a view into the one parameter block. */
typedef struct pview {
    int off, n;
} pview;

/* A hashed cross's weight with its FTRL state and its gradient slot in
 * the step under way (-1 outside one), side by side: a cross touched in a
 * step is one cache line, not four (the crosses' table is too big to
 * cache, and a batch touches its entries at random). */
typedef struct cross_w {
    float w, z, n;
    int32_t slot;
} cross_w;

typedef struct net {
    hyper hp;
    int F, D, in;               /* in = F * D */
    int64_t n_ids;
    /* dense parameters (one block: value, grad, Adam m, Adam v) */
    float *w, *g, *m1, *m2;
    int n_w;
    pview W[MAX_LAYERS], b[MAX_LAYERS], gam[MAX_LAYERS], bet[MAX_LAYERS], Wo, bo, bias;
    pview CW[MAX_LAYERS], Cb[MAX_LAYERS], Cfc, Cfcb;
    pview Aq[MAX_LAYERS], Ak[MAX_LAYERS], Av[MAX_LAYERS], Ar[MAX_LAYERS], Afc, Afcb;
    int cin_in[MAX_LAYERS], cin_next[MAX_LAYERS], cin_out_total;
    int cin_pool[MAX_LAYERS];    /* where layer k's pooled half starts in a pool row */
    float *bn_mean[MAX_LAYERS], *bn_var[MAX_LAYERS]; /* running statistics */
    /* sparse tables: embeddings (n_ids, D), first order (n_ids), crosses */
    float *E, *Em1, *Em2;
    float *lin, *lin_m1, *lin_m2;   /* Adam/AdaGrad state, or FTRL z, n */
    int32_t cross_buckets;
    cross_w *xc;                 /* (cross_buckets) */
    long step;
    bool by_layer;              /* the layer-by-layer step even without batch norm
                                   (the gradient check compares it with the fused one) */
} net;

enum { META_SRC, META_F, META_VOCAB, META_IDS, META_HASH, META_NUM, META_NSRC, META_BYPOS, META_U, META_I,
       META_UF, META_IF, META_UB, META_IB, META_NEG, META_NCROSS, META_CB, META_LEN };

typedef struct ctr_state {
    drec_featcols cols;
    net net;
    char *names_blob;        /* field names for the model file (kept until written) */
    int32_t meta[META_LEN];  /* feature-column sizes for the model file */
} ctr_state;

/* ---- hyper-parameters ------------------------------------------------------ */

static drec_status read_hyper(const drec_params *p, int kind, hyper *h) {
    memset(h, 0, sizeof *h);
    h->kind = kind;
    drec_status st = DREC_OK;
    if (!st) st = drec_params_int(p, "epochs", 20, &h->epochs);
    if (!st) st = drec_params_int(p, "dim", 10, &h->dim);
    if (!st) st = drec_params_int(p, "batch", 4096, &h->batch);
    if (!st) st = drec_params_int(p, "seed", 1, &h->seed);
    if (!st) st = drec_params_int(p, "warmup", 0, &h->warmup);
    if (!st) st = drec_params_int(p, "patience", 0, &h->patience);
    if (!st) st = drec_params_int(p, "lazy", 1, &h->lazy);
    if (!st) st = drec_params_float(p, "lr", 0.001, &h->lr);
    if (!st) st = drec_params_float(p, "reg", 0.0, &h->reg);
    if (!st) st = drec_params_float(p, "dropout", 0.0, &h->dropout);
    if (!st) st = drec_params_float(p, "wide_lr", 0.05, &h->wide_lr);
    if (!st) st = drec_params_float(p, "l1", 0.1, &h->l1);
    if (!st) st = drec_params_float(p, "l2", 0.1, &h->l2);
    if (!st) st = drec_params_float(p, "val", 0.0, &h->val);
    if (!st) st = drec_params_float(p, "lr_decay", 0.9, &h->lr_decay);
    if (!st) st = drec_params_int(p, "att_layers", 3, &h->att_layers);
    if (!st) st = drec_params_int(p, "att_dim", 32, &h->att_dim);
    if (!st) st = drec_params_int(p, "heads", 2, &h->heads);
    if (st) return st;
    if (kind != K_LR) {
        h->n_layers = drec_params_ints(p, "layers", "400,400,400", h->layers, MAX_LAYERS);
        if (h->n_layers < 0) return DREC_ERR_USAGE;
    }
    if (kind == K_XDEEPFM) {
        h->n_cin = drec_params_ints(p, "cin", "64,64", h->cin, MAX_LAYERS);
        if (h->n_cin <= 0) return h->n_cin < 0 ? DREC_ERR_USAGE : drec_fail(DREC_ERR_USAGE, "--cin: at least one layer");
        for (int k = 0; k + 1 < h->n_cin; k++)
            if (h->cin[k] % 2) return drec_fail(DREC_ERR_USAGE, "--cin: all but the last layer must be even");
    }
    h->bn = drec_params_flag(p, "bn");
    if (kind == K_WIDEDEEP) {
        const char *part = drec_params_str(p, "part", "both");
        h->part = strcmp(part, "both") == 0 ? 0 : strcmp(part, "wide") == 0 ? 1 : strcmp(part, "deep") == 0 ? 2 : -1;
        if (h->part < 0) return drec_fail(DREC_ERR_USAGE, "--part: \"%s\" is not both, wide or deep", part);
        if (h->part == 1) h->n_layers = 0;
    }
    const char *opt = drec_params_str(p, "optimizer", "adam");
    if (strcmp(opt, "adagrad") == 0) h->adagrad = true;
    else if (strcmp(opt, "adam") != 0 && strcmp(opt, "ftrl") != 0)
        return drec_fail(DREC_ERR_USAGE, "--optimizer: %s takes adam or adagrad (the wide part always uses ftrl)", opt);
    const char *sch = drec_params_str(p, "schedule", "constant");
    const char *names[] = {"constant", "cosine", "exp", "step"};
    h->schedule = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(sch, names[k]) == 0) h->schedule = k;
    if (h->schedule < 0) return drec_fail(DREC_ERR_USAGE, "--schedule: \"%s\" is not constant, cosine, exp or step", sch);
    if (h->epochs < 0 || h->epochs > 100000) return drec_fail(DREC_ERR_USAGE, "--epochs: must be 0..100000");
    if (h->dim < 1 || h->dim > 4096) return drec_fail(DREC_ERR_USAGE, "--dim: must be 1..4096");
    if (h->batch < 1 || h->batch > (1 << 20)) return drec_fail(DREC_ERR_USAGE, "--batch: must be 1..2^20");
    if (!(h->lr > 0)) return drec_fail(DREC_ERR_USAGE, "--lr: must be > 0");
    if (h->dropout < 0 || h->dropout >= 1) return drec_fail(DREC_ERR_USAGE, "--dropout: must be in [0, 1)");
    if (h->val < 0 || h->val >= 1) return drec_fail(DREC_ERR_USAGE, "--val: must be in [0, 1)");
    if (h->reg < 0) return drec_fail(DREC_ERR_USAGE, "--reg: must be >= 0");
    if (kind == K_AUTOINT) {
        if (h->att_layers < 1 || h->att_layers > MAX_LAYERS) return drec_fail(DREC_ERR_USAGE, "--att_layers: 1..%d", MAX_LAYERS);
        if (h->heads < 1 || h->att_dim < h->heads || h->att_dim % h->heads || h->att_dim / h->heads > ATT_MAX_DH)
            return drec_fail(DREC_ERR_USAGE, "--att_dim must be a multiple of --heads");
    }
    return DREC_OK;
}

/* ---- the network ----------------------------------------------------------- */

static pview take(net *n, int count) {
    pview v = {n->n_w, count};
    n->n_w += count;
    return v;
}

/* A table read and written at random rows (embeddings, first-order and
 * cross weights, their optimizer state): zeroed, on huge pages where it is
 * large (core/alloc.c). */
static float *table(size_t n) { return drec_aligned_zalloc(n * sizeof(float)); }

/* Lays out the parameters for the given fields and ids. */
static void net_layout(net *n, const hyper *h, int F, int64_t n_ids, int32_t cross_buckets) {
    memset(n, 0, sizeof *n);
    n->hp = *h;
    n->F = F;
    n->D = h->kind == K_LR || (h->kind == K_WIDEDEEP && h->part == 1) ? 0 : (int)h->dim;
    n->in = F * n->D;
    n->n_ids = n_ids;
    n->bias = take(n, 1);
    if (h->kind != K_LR && h->n_layers > 0) {
        int in = n->in;
        for (int l = 0; l < h->n_layers; l++) {
            n->W[l] = take(n, in * h->layers[l]);
            n->b[l] = take(n, h->layers[l]);
            if (h->bn) {
                n->gam[l] = take(n, h->layers[l]);
                n->bet[l] = take(n, h->layers[l]);
            }
            in = h->layers[l];
        }
        n->Wo = take(n, in);
        n->bo = take(n, 1);
    }
    if (h->kind == K_XDEEPFM) {
        int hk = F;
        for (int k = 0; k < h->n_cin; k++) {
            bool last = k == h->n_cin - 1;
            n->cin_in[k] = hk;
            n->CW[k] = take(n, hk * F * h->cin[k]);
            n->Cb[k] = take(n, h->cin[k]);
            n->cin_next[k] = last ? 0 : h->cin[k] / 2;
            n->cin_pool[k] = n->cin_out_total;
            n->cin_out_total += last ? h->cin[k] : h->cin[k] / 2;
            hk = n->cin_next[k];
        }
        n->Cfc = take(n, n->cin_out_total);
        n->Cfcb = take(n, 1);
    }
    if (h->kind == K_AUTOINT) {
        int din = n->D;
        for (int l = 0; l < h->att_layers; l++) {
            n->Aq[l] = take(n, din * (int)h->att_dim);
            n->Ak[l] = take(n, din * (int)h->att_dim);
            n->Av[l] = take(n, din * (int)h->att_dim);
            n->Ar[l] = take(n, din * (int)h->att_dim);
            din = (int)h->att_dim;
        }
        n->Afc = take(n, F * (int)h->att_dim);
        n->Afcb = take(n, 1);
    }
    n->w = drec_calloc((size_t)n->n_w, sizeof *n->w);
    n->g = drec_calloc((size_t)n->n_w, sizeof *n->g);
    n->m1 = drec_calloc((size_t)n->n_w, sizeof *n->m1);
    n->m2 = drec_calloc((size_t)n->n_w, sizeof *n->m2);
    for (int l = 0; h->bn && l < h->n_layers; l++) {
        n->bn_mean[l] = drec_calloc((size_t)h->layers[l], sizeof(float));
        n->bn_var[l] = drec_malloc((size_t)h->layers[l] * sizeof(float));
        for (int j = 0; j < h->layers[l]; j++) n->bn_var[l][j] = 1.0f;
    }
    if (n->D) {
        n->E = table((size_t)n_ids * (size_t)n->D);
        n->Em1 = table((size_t)n_ids * (size_t)n->D);
        n->Em2 = table((size_t)n_ids * (size_t)n->D);
    }
    n->lin = table((size_t)n_ids);
    n->lin_m1 = table((size_t)n_ids);
    n->lin_m2 = table((size_t)n_ids);
    n->cross_buckets = cross_buckets;
    if (cross_buckets) {
        n->xc = drec_aligned_zalloc((size_t)cross_buckets * sizeof *n->xc);
        for (int32_t i = 0; i < cross_buckets; i++) n->xc[i].slot = -1;
    }
}

/* The crosses' weights alone, to or from a plain array (model files and
 * the best-epoch snapshot keep them so). */
static void cross_weights_get(const net *n, float *wc) {
    for (int32_t i = 0; i < n->cross_buckets; i++) wc[i] = n->xc[i].w;
}

static void cross_weights_set(net *n, const float *wc) {
    for (int32_t i = 0; i < n->cross_buckets; i++) n->xc[i].w = wc[i];
}

static void net_free(net *n) {
    free(n->w);
    free(n->g);
    free(n->m1);
    free(n->m2);
    for (int l = 0; l < MAX_LAYERS; l++) {
        free(n->bn_mean[l]);
        free(n->bn_var[l]);
    }
    free(n->E);
    free(n->Em1);
    free(n->Em2);
    free(n->lin);
    free(n->lin_m1);
    free(n->lin_m2);
    free(n->xc);
    memset(n, 0, sizeof *n);
}

/* PyTorch's defaults, so that both start alike: Linear weights and biases
 * U(+-1/sqrt(fan_in)), embeddings N(0, 0.01), first order zero. */
static void net_init(net *n, uint64_t seed) {
    drec_rng r;
    drec_rng_seed2(&r, seed, 0xc7);
    const hyper *h = &n->hp;
#define UNI(v, fan)                                                                   \
    do {                                                                              \
        float a_ = 1.0f / sqrtf((float)(fan));                                        \
        for (int i_ = 0; i_ < (v).n; i_++) n->w[(v).off + i_] = (2 * drec_rng_float(&r) - 1) * a_; \
    } while (0)
    int in = n->in;
    for (int l = 0; h->kind != K_LR && l < h->n_layers; l++) {
        UNI(n->W[l], in);
        UNI(n->b[l], in);
        if (h->bn)
            for (int j = 0; j < h->layers[l]; j++) n->w[n->gam[l].off + j] = 1.0f;
        in = h->layers[l];
    }
    if (n->Wo.n) {
        UNI(n->Wo, in);
        UNI(n->bo, in);
    }
    for (int k = 0; h->kind == K_XDEEPFM && k < h->n_cin; k++) {
        UNI(n->CW[k], n->cin_in[k] * n->F);
        UNI(n->Cb[k], n->cin_in[k] * n->F);
    }
    if (h->kind == K_XDEEPFM) {
        UNI(n->Cfc, n->cin_out_total);
        UNI(n->Cfcb, n->cin_out_total);
    }
    int din = n->D;
    for (int l = 0; h->kind == K_AUTOINT && l < h->att_layers; l++) {
        UNI(n->Aq[l], din);
        UNI(n->Ak[l], din);
        UNI(n->Av[l], din);
        UNI(n->Ar[l], din);
        din = (int)h->att_dim;
    }
    if (h->kind == K_AUTOINT) {
        UNI(n->Afc, n->F * h->att_dim);
        UNI(n->Afcb, n->F * h->att_dim);
    }
#undef UNI
    for (int64_t i = 0; n->D && i < n->n_ids * n->D; i++) n->E[i] = (float)(0.01 * drec_rng_normal(&r));
}

/* ---- the batch workspace ------------------------------------------------- */

typedef struct work {
    int cap;                     /* rows it holds */
    float *x0;                   /* (B, F*D) field embeddings */
    float *dx0;                  /* (B, F*D) */
    float *a[MAX_LAYERS];        /* (B, H_l) pre-ReLU (after batch norm) */
    float *xh[MAX_LAYERS];       /* (B, H_l) batch norm x-hat */
    float *bm[MAX_LAYERS], *bi[MAX_LAYERS]; /* (H_l) batch mean, 1/std */
    float *h[MAX_LAYERS];        /* (B, H_l) post-ReLU, post-dropout */
    uint8_t *mask[MAX_LAYERS];   /* (B, H_l) dropout keep */
    float *d1, *d2;              /* (B, max H) gradient ping-pong */
    float *logit, *dlogit;       /* (B) */
    /* CIN (blocks of CIN_B examples; scratch per thread) */
    float *co[MAX_LAYERS];       /* (B*D, H_{k+1}) after ReLU */
    float *cpool;                /* (B, out_total) */
    float *cscr;                 /* per thread: a block's scratch (cin_bufs) */
    size_t cscr_n;               /* floats of scratch per thread */
    float *cpart;                /* (chunks, CIN weights and biases) each chunk's gradient */
    /* attention */
    float *ax[MAX_LAYERS + 1];   /* (B*F, A) layer inputs/outputs; ax[0] = x0 */
    float *awp[MAX_LAYERS];      /* (din, 4A) the layer's weights side by side */
    float *awt[MAX_LAYERS];      /* (4A, din) the same, transposed */
    float *ap[MAX_LAYERS];       /* (B, heads, F, F) attention weights */
    float *ascr;                 /* per thread: a block's scratch (att_bufs) */
    size_t ascr_n;
    float *apart;                /* (chunks, att_part) each chunk's weight gradients */
    /* sparse gradient gathering */
    int32_t *uniq;               /* (cap*nnz) distinct ids in the batch */
    int32_t *slot;               /* (n_ids) id -> row in G, -1 */
    float *G, *G1;               /* (U, D), (U) */
    int32_t *cuniq;
    float *CG;
    /* the fused step (train_step) */
    float *rowloss;              /* (B) */
    float *dhl[MAX_LAYERS];      /* (B, H_l) gradient at each layer's product */
    float *pb[MAX_LAYERS];       /* (chunks, H_l) bias-gradient partial sums */
    float *pwo;                  /* (chunks, H_L) output-weight partial sums */
    float *pw;                   /* (chunks, the MLP's weights) their partial sums, when the batch has chunks */
    float *ps;                   /* (chunks) dlogit partial sums */
    int nt_cap;                  /* threads a step may use (the CIN's scratch is per thread) */
    int max_cross;               /* crosses in the longest row */
    int32_t *bx_idx, *bx_n;      /* (B, max_cross), (B): the batch's crosses in its row order, */
    float *bx_val;               /* copied by the forward for the backward to read in sequence */
} work;

static float *fz(size_t n) { return drec_calloc(n ? n : 1, sizeof(float)); }

/* The CIN's weights and biases and its read-out's weights, contiguous in
 * the parameter block: the size of a chunk's share of their gradient. */
static int cin_weights(const net *n) { return (int)(n->Cfc.off + n->Cfc.n - n->CW[0].off); }

/* A thread's scratch for one CIN block, CIN_B * D columns (or rows, for
 * dco and co): x0T and dx0T (F rows), dxT and dnT (up to H rows), dzT (up
 * to H_k * F rows), dco (up to H columns); per layer k its input xT (k > 0;
 * layer 0's is x0T), outer products zT and, when block-local, its output
 * co; the block's pooled read-out input (CIN_B rows). */
typedef struct cin_buf {
    float *x0T, *dzT, *dco, *dxT, *dnT, *dx0T;
    float *xT[MAX_LAYERS], *zT[MAX_LAYERS], *co[MAX_LAYERS], *pool;
} cin_buf;
static cin_buf cin_bufs(const net *n, float *p, size_t *total);
/* A thread's scratch for one attention block: the block's [q | k | v | r]
 * of every layer and their gradients (ATT_B * F rows of 4A each), two sets
 * of input gradients (ATT_B * F rows of max(A, D)) and F more; then, for a
 * block whose backward follows at once, its attention weights and layer
 * outputs (x[1..L]; x[0] is the embeddings). */
typedef struct att_buf {
    float *qkvr[MAX_LAYERS], *dq, *dout, *dnext, *dp;
    float *P[MAX_LAYERS], *x[MAX_LAYERS + 1];
} att_buf;
static att_buf att_bufs(const net *n, float *p, size_t *total);
static size_t att_part(const net *n, size_t *off);

static void work_init(work *w, const net *n, int cap, int max_nnz, int max_cross) {
    memset(w, 0, sizeof *w);
    w->nt_cap = DREC_MAX(1, omp_get_max_threads());
    const hyper *h = &n->hp;
    size_t B = (size_t)cap;
    w->cap = cap;
    int maxh = 1;
    w->x0 = fz(B * (size_t)n->in);
    w->dx0 = fz(B * (size_t)n->in);
    for (int l = 0; h->kind != K_LR && l < h->n_layers; l++) {
        size_t sz = B * (size_t)h->layers[l];
        if (h->bn) w->a[l] = fz(sz);
        w->h[l] = fz(sz);
        if (h->bn) {
            w->xh[l] = fz(sz);
            w->bm[l] = fz((size_t)h->layers[l]);
            w->bi[l] = fz((size_t)h->layers[l]);
        }
        if (h->dropout > 0) w->mask[l] = drec_calloc(sz, 1);
        maxh = DREC_MAX(maxh, h->layers[l]);
    }
    maxh = DREC_MAX(maxh, n->in);
    w->d1 = fz(B * (size_t)maxh);
    w->d2 = fz(B * (size_t)maxh);
    w->logit = fz(B);
    w->dlogit = fz(B);
    if (h->kind == K_XDEEPFM) {
        size_t BD = B * (size_t)n->D;
        for (int k = 0; k < h->n_cin; k++) w->co[k] = fz(BD * (size_t)h->cin[k]);
        w->cpool = fz(B * (size_t)n->cin_out_total);
        cin_bufs(n, NULL, &w->cscr_n);
        w->cscr = fz((size_t)w->nt_cap * w->cscr_n);
        w->cpart = fz((B + CHUNK_ROWS - 1) / CHUNK_ROWS * (size_t)cin_weights(n));
    }
    if (h->kind == K_AUTOINT) {
        size_t BF = B * (size_t)n->F, A = (size_t)h->att_dim;
        for (int l = 0; l < h->att_layers; l++) {
            w->ax[l + 1] = fz(BF * A);
            w->awp[l] = fz((size_t)(l ? A : (size_t)n->D) * 4 * A);
            w->awt[l] = fz((size_t)(l ? A : (size_t)n->D) * 4 * A);
            w->ap[l] = fz(B * (size_t)h->heads * (size_t)(n->F * n->F));
        }
        att_bufs(n, NULL, &w->ascr_n);
        w->ascr = fz((size_t)w->nt_cap * w->ascr_n);
        w->apart = fz((B + CHUNK_ROWS - 1) / CHUNK_ROWS * att_part(n, NULL));
    }
    /* slots: at most one per entry, plus each thread's unused chunk */
    w->max_cross = max_cross;
    size_t spare = (size_t)SLOT_CHUNK * (size_t)w->nt_cap;
    size_t nnz = B * (size_t)max_nnz + spare;
    w->uniq = drec_malloc(nnz * sizeof *w->uniq);
    w->slot = drec_malloc((size_t)n->n_ids * sizeof *w->slot);
    for (int64_t i = 0; i < n->n_ids; i++) w->slot[i] = -1;
    w->G = fz(nnz * (size_t)(n->D ? n->D : 1));
    w->G1 = fz(nnz);
    if (n->cross_buckets) {
        size_t cn = B * (size_t)max_cross + spare;
        w->cuniq = drec_malloc(cn * sizeof *w->cuniq);
        w->CG = fz(cn);
        if (max_cross) {
            w->bx_idx = drec_malloc(B * (size_t)max_cross * sizeof *w->bx_idx);
            w->bx_val = fz(B * (size_t)max_cross);
            w->bx_n = drec_malloc(B * sizeof *w->bx_n);
        }
    }
}

static void work_free(work *w) {
    free(w->x0);
    free(w->dx0);
    for (int l = 0; l < MAX_LAYERS; l++) {
        free(w->a[l]);
        free(w->h[l]);
        free(w->xh[l]);
        free(w->bm[l]);
        free(w->bi[l]);
        free(w->mask[l]);
        free(w->co[l]);
        free(w->ax[l + 1]);
        free(w->awp[l]);
        free(w->awt[l]);
        free(w->ap[l]);
    }
    free(w->d1);
    free(w->d2);
    free(w->logit);
    free(w->dlogit);
    free(w->cpool);
    free(w->cscr);
    free(w->cpart);
    free(w->ascr);
    free(w->apart);
    free(w->uniq);
    free(w->slot);
    free(w->G);
    free(w->G1);
    free(w->cuniq);
    free(w->bx_idx);
    free(w->bx_val);
    free(w->bx_n);
    free(w->CG);
    free(w->rowloss);
    for (int l = 0; l < MAX_LAYERS; l++) {
        free(w->dhl[l]);
        free(w->pb[l]);
    }
    free(w->pwo);
    free(w->pw);
    free(w->ps);
    memset(w, 0, sizeof *w);
}

/* Row-major sgemm: C[M,N] = alpha op(A) op(B) + beta C (core/blas.h:
 * OpenBLAS single-threaded per block, the rows split over drec's team). */
#define gemm drec_sgemm

/* Thread t of nt takes rows [*r0, *r1) of M: whole 16-row panels, the way
 * core/blas.c splits a product, so each block is one OpenBLAS call. */
static void rows_of(int M, int t, int nt, int *r0, int *r1) {
    int panels = (M + 15) / 16;
    *r0 = DREC_MIN(M, panels * t / nt * 16);
    *r1 = DREC_MIN(M, panels * (t + 1) / nt * 16);
}

/* Thread t of nt takes columns [*j0, *j1) of H (cut at multiples of 16
 * floats, so that no two threads write one cache line). */
static void cols_of(int H, int t, int nt, int *j0, int *j1) {
    *j0 = t == 0 ? 0 : DREC_MIN(H, (H * t / nt) & ~15);
    *j1 = t == nt - 1 ? H : DREC_MIN(H, (H * (t + 1) / nt) & ~15);
}

/* A batch: rows r0..r0+B of a featrows, in the order of perm (or as is). */
typedef struct batch {
    const drec_featrows *fr;
    const size_t *rows; /* (B) row ids into fr */
    int B;
} batch;

/* ---- forward --------------------------------------------------------------- */

/* Bag f of row r as [lo, hi) into idx/val.  One-hot rows (Frappe, Criteo
 * after bucketing) skip the offsets: bag f of row r is entry r*F + f. */
static inline void bag_of(const drec_featrows *fr, size_t r, int f, int64_t *lo, int64_t *hi) {
    if (fr->one_hot) {
        *lo = (int64_t)(r * (size_t)fr->n_fields) + f;
        *hi = *lo + 1;
    } else {
        *lo = fr->ptr[r * (size_t)fr->n_fields + f];
        *hi = fr->ptr[r * (size_t)fr->n_fields + f + 1];
    }
}

/* Embedding-bag: x0[b, f*D:(f+1)*D] = sum_k val_k E[idx_k]; first order,
 * crosses and (fm) the FM second order 0.5 * sum_d ((sum_f x_fd)^2 -
 * sum_f x_fd^2) go straight into the logit, while the row is in cache. */
DREC_HOT static void sparse_rows(const net *n, const batch *bt, bool fm, int b0, int b1, work *w) {
    const drec_featrows *fr = bt->fr;
    int F = n->F, D = n->D;
    const float *restrict lin = n->lin;
    bool cross = n->cross_buckets && fr->cross_ptr;
    for (int b = b0; b < b1; b++) {
        size_t r = bt->rows[b];
        float lg = n->w[n->bias.off];
        /* the rows come shuffled, each a miss: ask for later ones ahead */
        if (b + 16 < b1 && cross) __builtin_prefetch(&fr->cross_ptr[bt->rows[b + 16]]);
        if (b + 8 < b1) {
            size_t r8 = bt->rows[b + 8];
            if (fr->one_hot) {
                __builtin_prefetch(fr->idx + r8 * (size_t)F);
                __builtin_prefetch(fr->val + r8 * (size_t)F);
            }
            if (cross)
                for (int64_t k = fr->cross_ptr[r8]; k < fr->cross_ptr[r8 + 1]; k += 16) {
                    __builtin_prefetch(fr->cross_idx + k);
                    __builtin_prefetch(fr->cross_val + k);
                }
        }
        float *x = w->x0 + (size_t)b * (size_t)n->in;
        if (fr->one_hot) {
            const int32_t *ix = fr->idx + r * (size_t)F;
            const float *vv = fr->val + r * (size_t)F;
            for (int f = 0; f < F; f++) {
                int32_t id = ix[f];
                float v = vv[f];
                lg += v * lin[id];
                const float *e = n->E ? n->E + (size_t)id * (size_t)D : NULL;
                for (int d = 0; d < D; d++) x[f * D + d] = v * e[d];
            }
        } else {
            for (int f = 0; f < F; f++) {
                float *xf = x + f * D;
                for (int d = 0; d < D; d++) xf[d] = 0;
                int64_t lo, hi;
                bag_of(fr, r, f, &lo, &hi);
                for (int64_t k = lo; k < hi; k++) {
                    int32_t id = fr->idx[k];
                    float v = fr->val[k];
                    lg += v * lin[id];
                    const float *e = n->E ? n->E + (size_t)id * (size_t)D : NULL;
                    for (int d = 0; d < D; d++) xf[d] += v * e[d];
                }
            }
        }
        if (cross) {
            int64_t k0 = fr->cross_ptr[r], k1 = fr->cross_ptr[r + 1];
            for (int64_t k = k0; k < k1; k++) lg += fr->cross_val[k] * n->xc[fr->cross_idx[k]].w;
            if (w->bx_idx) { /* scatter_crosses reads them from here, in batch order */
                size_t at = (size_t)b * w->max_cross;
                memcpy(w->bx_idx + at, fr->cross_idx + k0, (size_t)(k1 - k0) * sizeof *w->bx_idx);
                memcpy(w->bx_val + at, fr->cross_val + k0, (size_t)(k1 - k0) * sizeof *w->bx_val);
                w->bx_n[b] = (int32_t)(k1 - k0);
            }
        }
        if (fm) {
            float t = 0;
            for (int d = 0; d < D; d++) {
                float s = 0, q = 0;
                for (int f = 0; f < F; f++) {
                    s += x[f * D + d];
                    q += x[f * D + d] * x[f * D + d];
                }
                t += s * s - q;
            }
            lg += 0.5f * t;
        }
        w->logit[b] = lg;
    }
}

static void fwd_sparse(const net *n, const batch *bt, bool fm, work *w) {
#pragma omp parallel if (PAR(bt->B * n->F * (n->D + 1)))
    {
        int r0, r1;
        rows_of(bt->B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        sparse_rows(n, bt, fm, r0, r1, w);
    }
}

static void bn_forward(const net *n, int l, int B, bool train, work *w) {
    int H = n->hp.layers[l];
    float *z = w->a[l], *xh = w->xh[l];
    const float *gam = n->w + n->gam[l].off, *bet = n->w + n->bet[l].off;
    float *mean = w->bm[l], *inv = w->bi[l];
    if (train) {
        double *s = drec_calloc((size_t)H * 2, sizeof *s);
        for (int b = 0; b < B; b++) {
            const float *zr = z + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                s[j] += zr[j];
                s[H + j] += (double)zr[j] * zr[j];
            }
        }
        for (int j = 0; j < H; j++) {
            double mu = s[j] / B, var = s[H + j] / B - mu * mu;
            if (var < 0) var = 0;
            mean[j] = (float)mu;
            inv[j] = (float)(1.0 / sqrt(var + 1e-5));
            /* running statistics with PyTorch's momentum and unbiased var */
            n->bn_mean[l][j] = 0.9f * n->bn_mean[l][j] + 0.1f * (float)mu;
            n->bn_var[l][j] = 0.9f * n->bn_var[l][j] + 0.1f * (float)(B > 1 ? var * B / (B - 1) : var);
        }
        free(s);
    } else {
        for (int j = 0; j < H; j++) {
            mean[j] = n->bn_mean[l][j];
            inv[j] = 1.0f / sqrtf(n->bn_var[l][j] + 1e-5f);
        }
    }
#pragma omp parallel for schedule(static) if (PAR(B * H))
    for (int b = 0; b < B; b++) {
        float *zr = z + (size_t)b * H, *xr = xh + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            xr[j] = (zr[j] - mean[j]) * inv[j];
            zr[j] = gam[j] * xr[j] + bet[j];
        }
    }
}

static uint64_t mask_seed(const net *n, int l) { return (uint64_t)n->hp.seed * 1000003u + (uint64_t)n->step * 64u + (uint64_t)l; }

/* Rows [b0, b1) of layer l: h = ReLU(a (+ bias)) (dropout). */
DREC_HOT static void act_rows(const net *n, int l, bool train, const float *a, const float *badd, int b0, int b1,
                              work *w) {
    const hyper *h = &n->hp;
    int H = h->layers[l];
    float *hh = w->h[l];
    bool drop = train && h->dropout > 0;
    float keep = (float)(1.0 - h->dropout), sc = 1.0f / keep;
    uint64_t ms = mask_seed(n, l);
    for (int b = b0; b < b1; b++) {
        const float *ar = a + (size_t)b * H; /* may be hr itself */
        float *hr = hh + (size_t)b * H;
        if (!drop) {
            if (badd)
#pragma omp simd
                for (int j = 0; j < H; j++) {
                    float v = ar[j] + badd[j];
                    hr[j] = v > 0 ? v : 0;
                }
            else
#pragma omp simd
                for (int j = 0; j < H; j++) hr[j] = ar[j] > 0 ? ar[j] : 0;
            continue;
        }
        drec_rng r;
        drec_rng_seed2(&r, ms, (uint64_t)b);
        uint8_t *mk = w->mask[l] + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            float v = badd ? ar[j] + badd[j] : ar[j];
            mk[j] = drec_rng_float(&r) < keep;
            hr[j] = mk[j] && v > 0 ? v * sc : 0;
        }
    }
}

/* Rows [b0, b1): logit += x Wo + bo. */
static void out_rows(const net *n, const float *x, int in, int b0, int b1, work *w) {
    const float *wo = n->w + n->Wo.off;
    float bo = n->w[n->bo.off];
    for (int b = b0; b < b1; b++) {
        const float *xr = x + (size_t)b * in;
        float s = bo;
        for (int j = 0; j < in; j++) s += xr[j] * wo[j];
        w->logit[b] += s;
    }
}

/* The MLP: x0 -> [Linear, (BN), ReLU, (dropout)]* -> Linear(1).  Without
 * batch norm a layer is one parallel region: each thread multiplies its
 * block of rows and runs bias + ReLU (+ dropout, + the output product
 * after the last layer) on the block it has just written. */
static void fwd_deep(const net *n, int B, bool train, work *w) {
    const hyper *h = &n->hp;
    const float *x = w->x0;
    int in = n->in, L = h->n_layers;
    bool out_done = false;
    for (int l = 0; l < L; l++) {
        int H = h->layers[l];
        const float *bias = n->w + n->b[l].off, *W = n->w + n->W[l].off;
        float *hh = w->h[l];
        if (h->bn) {
            /* a keeps the normalised pre-activation */
            float *aa = w->a[l];
            for (int b = 0; b < B; b++) memcpy(aa + (size_t)b * H, bias, (size_t)H * sizeof *aa);
            gemm(false, false, B, H, in, 1.0f, x, in, W, H, 1.0f, aa, H);
            bn_forward(n, l, B, train, w);
#pragma omp parallel if (PAR(B * H))
            {
                int r0, r1;
                rows_of(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
                act_rows(n, l, train, aa, NULL, r0, r1, w);
            }
        } else {
            bool last = l == L - 1;
            out_done = last;
#pragma omp parallel if (PAR((double)B * H * in))
            {
                int r0, r1;
                rows_of(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
                if (r1 > r0) {
                    gemm(false, false, r1 - r0, H, in, 1.0f, x + (size_t)r0 * in, in, W, H, 0.0f, hh + (size_t)r0 * H, H);
                    act_rows(n, l, train, hh, bias, r0, r1, w);
                    if (last) out_rows(n, hh, H, r0, r1, w);
                }
            }
        }
        x = hh;
        in = H;
    }
    if (!out_done) {
#pragma omp parallel if (PAR(B * in))
        {
            int r0, r1;
            rows_of(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            out_rows(n, x, in, r0, r1, w);
        }
    }
}

/* CIN, with the batch and embedding dim folded into rows: row (b, d) of
 * layer k's input is xk[b, :, d]; z = outer(xk, x0) over fields, then one
 * sgemm with W_k [H_k*M, H_{k+1}].  Half of each hidden layer feeds the
 * next layer, half is sum-pooled over d into the output.  Blocks of CIN_B
 * examples go through every layer while their outer products are in cache;
 * only the layers' outputs are kept (backward builds z again).  Within a
 * block the inputs and z are kept transposed (a column per row (b, d)), so
 * the outer products are long vector loops over the block's rows. */

/* x0T[f][r] for the block's rows r = (b - b0, d) */
static void cin_x0t(const net *n, const work *w, int b0, int b1, float *x0T) {
    int F = n->F, D = n->D, R = (b1 - b0) * D;
    for (int b = b0; b < b1; b++)
        for (int f = 0; f < F; f++)
            memcpy(x0T + (size_t)f * R + (size_t)(b - b0) * D, w->x0 + (size_t)b * n->in + (size_t)f * D,
                   (size_t)D * sizeof *x0T);
}

/* xT[i][r] = o[r][off + i], i < Hk: a layer's second half, transposed */
static void cin_xt(const float *o, int Ho, int off, int Hk, int R, float *restrict xT) {
    for (int r = 0; r < R; r++)
        for (int i = 0; i < Hk; i++) xT[(size_t)i * R + r] = o[(size_t)r * Ho + off + i];
}

/* zT[i*F + j][r] = xT[i][r] x0T[j][r] */
DREC_HOT static void cin_outer(float *restrict zT, const float *xT, const float *x0T, int F, int Hk, int R) {
    for (int i = 0; i < Hk; i++)
        for (int j = 0; j < F; j++) {
            const float *a = xT + (size_t)i * R, *c = x0T + (size_t)j * R;
            float *zr = zT + ((size_t)i * F + j) * R;
            for (int r = 0; r < R; r++) zr[r] = a[r] * c[r];
        }
}

/* o = ReLU(o + bias) over a block's layer output (nb examples x D rows of
 * Ho), and the first nout columns summed over d into each example's pool
 * row. */
DREC_HOT static void cin_relu_pool(float *restrict o, const float *restrict bias, int Ho, int nout, int D, int nb,
                                   float *restrict pool, int T) {
    for (int b = 0; b < nb; b++)
        for (int d = 0; d < D; d++) {
            float *orow = o + ((size_t)b * D + d) * Ho;
            for (int j = 0; j < Ho; j++) {
                float v = orow[j] + bias[j];
                orow[j] = v > 0 ? v : 0;
            }
            for (int j = 0; j < nout; j++) pool[(size_t)b * T + j] += orow[j];
        }
}

/* Lays out a thread's block scratch at p (NULL: only its size, in *total). */
static cin_buf cin_bufs(const net *n, float *p, size_t *total) {
    int maxz = 0, maxo = n->F;
    for (int k = 0; k < n->hp.n_cin; k++) {
        maxz = DREC_MAX(maxz, n->cin_in[k] * n->F);
        maxo = DREC_MAX(maxo, n->hp.cin[k]);
    }
    size_t c = (size_t)CIN_B * n->D, F = (size_t)n->F, at = 0;
    cin_buf b = {0};
    float **slot[] = {&b.x0T, &b.dx0T, &b.dxT, &b.dnT, &b.dco, &b.dzT};
    size_t rows[] = {F, F, (size_t)maxo, (size_t)maxo, (size_t)maxo, (size_t)maxz};
    for (int k = 0; k < 6; k++) {
        *slot[k] = p ? p + at : NULL;
        at += c * rows[k];
    }
    for (int k = 0; k < n->hp.n_cin; k++) {
        if (k) {
            b.xT[k] = p ? p + at : NULL;
            at += c * (size_t)maxo;
        }
        b.zT[k] = p ? p + at : NULL;
        at += c * (size_t)maxz;
        b.co[k] = p ? p + at : NULL;
        at += c * (size_t)maxo;
    }
    b.pool = p ? p + at : NULL;
    at += (size_t)CIN_B * n->cin_out_total;
    if (total) *total = at;
    return b;
}

/* CIN forward of one block, examples [b0, b1), by thread t: adds the
 * pooled read-out into their logits.  Its layers' outputs go to the
 * batch's buffers, or (block_local: the backward follows at once) stay in
 * the thread's scratch, sparing 22 MB a step their trip to memory. */
static void cin_fwd_block(const net *n, int b0, int b1, int t, bool block_local, work *w) {
    const hyper *h = &n->hp;
    int F = n->F, D = n->D, T = n->cin_out_total, R = (b1 - b0) * D;
    const float *fc = n->w + n->Cfc.off;
    float fb = n->w[n->Cfcb.off];
    size_t r0 = (size_t)b0 * D;
    cin_buf cb = cin_bufs(n, w->cscr + (size_t)t * w->cscr_n, NULL);
    cin_x0t(n, w, b0, b1, cb.x0T);
    const float *in = cb.x0T;
    float *pool = block_local ? cb.pool : w->cpool + (size_t)b0 * T;
    memset(pool, 0, (size_t)(b1 - b0) * T * sizeof(float));
    for (int k = 0; k < h->n_cin; k++) {
        int Hk = n->cin_in[k], Z = Hk * F, Ho = h->cin[k], nout = n->cin_next[k] ? Ho - n->cin_next[k] : Ho;
        float *o = block_local ? cb.co[k] : w->co[k] + r0 * Ho;
        cin_outer(cb.zT[k], in, cb.x0T, F, Hk, R);
        gemm(true, false, R, Ho, Z, 1.0f, cb.zT[k], R, n->w + n->CW[k].off, Ho, 0.0f, o, Ho);
        cin_relu_pool(o, n->w + n->Cb[k].off, Ho, nout, D, b1 - b0, pool + n->cin_pool[k], T);
        if (n->cin_next[k]) {
            cin_xt(o, Ho, nout, n->cin_next[k], R, cb.xT[k + 1]);
            in = cb.xT[k + 1];
        }
    }
    for (int b = b0; b < b1; b++) {
        float s = fb;
        for (int j = 0; j < T; j++) s += pool[(size_t)(b - b0) * T + j] * fc[j];
        w->logit[b] += s;
    }
}

/* AutoInt: per layer one product QKVR = x [Wq | Wk | Wv | Wr] (rows = b, f;
 * the four weight blocks packed side by side so that x is read once), then
 * per example and head softmax(Q K^T) V, and out = ReLU(attn + R). */

/* The four (din, A) weight blocks of layer l side by side in pack (din, 4A). */
static void att_pack(const net *n, int l, float *pack) {
    int din = l ? (int)n->hp.att_dim : n->D, A = (int)n->hp.att_dim;
    const pview *blk[4] = {&n->Aq[l], &n->Ak[l], &n->Av[l], &n->Ar[l]};
    for (int i = 0; i < din; i++)
        for (int c = 0; c < 4; c++) memcpy(pack + (size_t)i * 4 * A + c * A, n->w + blk[c]->off + (size_t)i * A, (size_t)A * sizeof *pack);
}

/* The paper's shape, heads 16 wide over at most 16 fields, one vector per
 * head row (GCC's vector extension: one zmm, two ymm or four xmm,
 * whichever the clone has).  The head's keys (values, in the backward)
 * are transposed into 16 vectors of F lanes, so that a row's F scores
 * are 16 broadcast multiply-adds instead of F dot products. */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias)); /* unaligned loads and stores */
#define LD16(p) (*(const v16u *)(p))
#define ST16(p, v) (*(v16u *)(p) = (v))

typedef int32_t v16i __attribute__((vector_size(64)));
#define VSEL(c, a, b) ((v16)(((v16i)(a) & (c)) | ((v16i)(b) & ~(c)))) /* c ? a : b, lane by lane */
#define VMAX(a, b) VSEL((a) > (b), a, b)
/* lane l gets lane l ^ k (k a constant) */
#ifdef __clang__
#define VSWAP(v, k) __builtin_shufflevector(v, v, 0 ^ k, 1 ^ k, 2 ^ k, 3 ^ k, 4 ^ k, 5 ^ k, 6 ^ k, 7 ^ k, 8 ^ k, \
                                            9 ^ k, 10 ^ k, 11 ^ k, 12 ^ k, 13 ^ k, 14 ^ k, 15 ^ k)
#else
#define VSWAP(v, k) __builtin_shuffle(v, (v16i){0 ^ k, 1 ^ k, 2 ^ k, 3 ^ k, 4 ^ k, 5 ^ k, 6 ^ k, 7 ^ k, 8 ^ k, \
                                               9 ^ k, 10 ^ k, 11 ^ k, 12 ^ k, 13 ^ k, 14 ^ k, 15 ^ k})
#endif

/* The lanes of the F real fields (a macro: a function returning a vector
 * would change the ABI between the clones). */
#define LIVE16(F) ((v16i){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} < (F))

/* The maximum and the sum of all lanes, in every lane (a shuffle tree:
 * four steps instead of a chain of sixteen). */
static inline __attribute__((always_inline)) void hmax16(v16 *v) {
    *v = VMAX(*v, VSWAP(*v, 8));
    *v = VMAX(*v, VSWAP(*v, 4));
    *v = VMAX(*v, VSWAP(*v, 2));
    *v = VMAX(*v, VSWAP(*v, 1));
}
static inline __attribute__((always_inline)) void hsum16(v16 *v) {
    *v += VSWAP(*v, 8);
    *v += VSWAP(*v, 4);
    *v += VSWAP(*v, 2);
    *v += VSWAP(*v, 1);
}

/* exp of lanes <= 0 (Cephes' polynomial, as the kernels' exp16), inline
 * so that a head's rows overlap.  Under -80 it gives 0: a subnormal
 * result (below exp(-87.3)) would cost a microcode assist per lane. */
static inline __attribute__((always_inline)) void exp16_neg(v16 *v) {
    const v16 lo = (v16){0} - 80.0f, round = (v16){0} + 12582912.0f; /* 1.5 * 2^23 */
    v16i under = *v < lo;
    v16 x = VMAX(*v, lo);
    v16 fx = (x * 1.44269504088896341f + round) - round; /* round to nearest */
    x = x - fx * 0.693359375f - fx * -2.12194440e-4f;
    v16 y = (v16){0} + 1.9875691500E-4f;
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * (x * x) + x + 1.0f;
    v16i e = (__builtin_convertvector(fx, v16i) + 127) << 23; /* 2^fx, fx in [-126, 0] */
    *v = VSEL(under, (v16){0}, y * (v16)e);
}

/* out = sum_u x[u] t[u] (x: 16 floats in memory, each a broadcast the
 * multiply-add takes with it; t: 16 vectors), in four independent chains
 * so that the multiply-adds overlap instead of waiting on each other */
#define dot16(x, t)                                                                         \
    ({                                                                                      \
        v16 a0_ = (x)[0] * (t)[0], a1_ = (x)[1] * (t)[1], a2_ = (x)[2] * (t)[2], a3_ = (x)[3] * (t)[3]; \
        for (int u_ = 4; u_ < 16; u_ += 4) {                                                \
            a0_ += (x)[u_] * (t)[u_];                                                       \
            a1_ += (x)[u_ + 1] * (t)[u_ + 1];                                               \
            a2_ += (x)[u_ + 2] * (t)[u_ + 2];                                               \
            a3_ += (x)[u_ + 3] * (t)[u_ + 3];                                               \
        }                                                                                   \
        (a0_ + a1_) + (a2_ + a3_);                                                          \
    })

/* acc[o] += sum_s c(o, s) x_s over the head's F rows x_s (ld floats
 * apart), c(o, s) = c[o][s] (by_row) or c[s][o]: every output in a
 * register of its own, so that the F multiply-add chains run side by
 * side instead of one after another. */
static inline __attribute__((always_inline)) void mix16(const v16 *c, bool by_row, const float *x, size_t ld, int F,
                                                        v16 *acc) {
    for (int s = 0; s < F; s++) {
        v16 xs = LD16(x + (size_t)s * ld);
        for (int o = 0; o < 16; o++)
            if (o < F) acc[o] += (by_row ? c[o][s] : c[s][o]) * xs;
    }
}

/* One level of the 16 x 16 transpose: rows i and i + s (i & s == 0) swap
 * their off-diagonal s x s blocks.  The four levels (s = 8, 4, 2, 1) are
 * 64 two-source shuffles, in registers: a lane-by-lane copy through
 * memory costs 320 scalar moves and stalls the vector loads after it. */
#ifdef __clang__
#define VMIX(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define VMIX(a, b, ...) __builtin_shuffle(a, b, (v16i){__VA_ARGS__})
#endif
#define T_LO(s, c) ((c) & (s) ? 16 + (c) - (s) : (c))
#define T_HI(s, c) ((c) & (s) ? 16 + (c) : (c) + (s))
#define T_MASK(M, s)                                                                                        \
    M(s, 0), M(s, 1), M(s, 2), M(s, 3), M(s, 4), M(s, 5), M(s, 6), M(s, 7), M(s, 8), M(s, 9), M(s, 10), \
        M(s, 11), M(s, 12), M(s, 13), M(s, 14), M(s, 15)
#define T_LEVEL(t, s)                                          \
    for (int i_ = 0; i_ < 16; i_++)                             \
        if (!(i_ & (s))) {                                      \
            v16 a_ = (t)[i_], b_ = (t)[i_ + (s)];               \
            (t)[i_] = VMIX(a_, b_, T_MASK(T_LO, s));            \
            (t)[i_ + (s)] = VMIX(a_, b_, T_MASK(T_HI, s));      \
        }

/* t[u] lane j = rows[j * ld + u] for j < F, 0 beyond. */
static inline __attribute__((always_inline)) void transpose16(const float *rows, int F, size_t ld, v16 *t) {
    for (int j = 0; j < 16; j++) t[j] = (v16){0};
    for (int j = 0; j < F; j++) t[j] = LD16(rows + (size_t)j * ld);
    T_LEVEL(t, 8)
    T_LEVEL(t, 4)
    T_LEVEL(t, 2)
    T_LEVEL(t, 1)
}

static inline __attribute__((always_inline)) void att16_fwd_one(const float *restrict qkvr, int F, int A, int NH,
                                                                float *restrict P, float *restrict out) {
    size_t A4 = 4 * (size_t)A;
    v16i live = LIVE16(F);
    for (int hd = 0; hd < NH; hd++) {
        const float *q0 = qkvr + hd * 16, *k0 = q0 + A, *v0 = q0 + 2 * A, *r0 = q0 + 3 * A;
        v16 kt[16];
        transpose16(k0, F, A4, kt);
        /* each step over all rows before the next, so that the rows'
         * dependency chains (scores, max, exp, sum) overlap */
        v16 S[16];
        for (int i = 0; i < F; i++) {
            S[i] = VSEL(live, dot16(q0 + i * A4, kt), (v16){0} - INFINITY);
        }
        for (int i = 0; i < F; i++) {
            v16 mx = S[i];
            hmax16(&mx);
            S[i] -= mx;
            exp16_neg(&S[i]);
        }
        for (int i = 0; i < F; i++) {
            v16 sum = S[i];
            hsum16(&sum);
            S[i] *= 1.0f / sum[0];
            /* rows in order, whole vectors where they stay inside the
             * head's F x F: each one's spill past F lanes is overwritten by
             * the rows after it */
            float *p = P + ((size_t)hd * F + i) * F;
            if ((size_t)i * F + 16 <= (size_t)F * F) ST16(p, S[i]);
            else for (int j = 0; j < F; j++) p[j] = S[i][j];
        }
        /* out_i = ReLU(r_i + sum_j p_ij v_j) */
        v16 O[16];
        for (int i = 0; i < 16; i++)
            if (i < F) O[i] = LD16(r0 + i * A4);
        mix16(S, true, v0, A4, F, O);
        for (int i = 0; i < F; i++) ST16(out + (size_t)i * A + hd * 16, VMAX(O[i], (v16){0}));
    }
}

static inline __attribute__((always_inline)) void att16_bwd_one(const float *restrict qkvr, const float *restrict P,
                                                                int F, int A, int NH, float *restrict g) {
    size_t A4 = 4 * (size_t)A;
    v16i live = LIVE16(F);
    for (int hd = 0; hd < NH; hd++) {
        const float *Ph = P + (size_t)hd * F * F, *q0 = qkvr + hd * 16, *k0 = q0 + A, *v0 = q0 + 2 * A;
        float *gq0 = g + hd * 16, *gk0 = gq0 + A, *gv0 = gq0 + 2 * A;
        const float *go0 = gq0 + 3 * A;
        v16 vt[16], ds[16];
        transpose16(v0, F, A4, vt);
        /* ds = P * (dP - rowsum(P * dP)), dP = dO V^T, lanes j */
        v16 dp[16], pr[16]; /* in steps over all rows, as the forward */
        for (int i = 0; i < F; i++) {
            if ((size_t)i * F + 16 <= (size_t)F * F) { /* inside the head's F x F; lanes past F dropped */
                pr[i] = VSEL(live, LD16(Ph + i * F), (v16){0});
            } else {
                pr[i] = (v16){0};
                for (int j = 0; j < F; j++) pr[i][j] = Ph[i * F + j];
            }
            dp[i] = dot16(go0 + i * A4, vt);
        }
        for (int i = 0; i < F; i++) {
            v16 dot = pr[i] * dp[i];
            hsum16(&dot);
            ds[i] = pr[i] * (dp[i] - dot);
        }
        /* dq_i = sum_j ds_ij k_j; dk_j = sum_i ds_ij q_i; dv_j = sum_i p_ij do_i */
        v16 acc[16];
        for (int i = 0; i < 16; i++) acc[i] = (v16){0};
        mix16(ds, true, k0, A4, F, acc);
        for (int i = 0; i < F; i++) ST16(gq0 + i * A4, acc[i]);
        for (int j = 0; j < 16; j++) acc[j] = (v16){0};
        mix16(ds, false, q0, A4, F, acc);
        for (int j = 0; j < F; j++) ST16(gk0 + j * A4, acc[j]);
        for (int j = 0; j < 16; j++) acc[j] = (v16){0};
        mix16(pr, false, go0, A4, F, acc);
        for (int j = 0; j < F; j++) ST16(gv0 + j * A4, acc[j]);
    }
}

/* Any other shape, one example: P gets softmax(q k^T) per head (NH, F,
 * F); out (F, A) = ReLU(P v + r). */
static void att_fwd_one(const float *restrict qkvr, int F, int A, int NH, float *restrict P, float *restrict out) {
    int A4 = 4 * A, dh = A / NH;
    for (int hd = 0; hd < NH; hd++) {
        for (int i = 0; i < F; i++) {
            const float *q = qkvr + (size_t)i * A4 + hd * dh;
            float *p = P + ((size_t)hd * F + i) * F, mx = -INFINITY;
            for (int j = 0; j < F; j++) {
                const float *k = qkvr + (size_t)j * A4 + A + hd * dh;
                float s = 0;
                for (int u = 0; u < dh; u++) s += q[u] * k[u];
                p[j] = s;
                mx = s > mx ? s : mx;
            }
            float inv = 1.0f / drec_kern->exp_shift_sum(p, p, mx, F);
            float *o = out + (size_t)i * A + hd * dh;
            const float *r = qkvr + (size_t)i * A4 + 3 * A + hd * dh;
            for (int u = 0; u < dh; u++) o[u] = r[u];
            for (int j = 0; j < F; j++) {
                float pj = p[j] *= inv;
                const float *v = qkvr + (size_t)j * A4 + 2 * A + hd * dh;
                for (int u = 0; u < dh; u++) o[u] += pj * v[u];
            }
            for (int u = 0; u < dh; u++) o[u] = o[u] > 0 ? o[u] : 0;
        }
    }
}

/* Any other shape, one example's backward into g = its rows of dqkvr,
 * whose dr part is set; dp: F floats of scratch. */
static void att_bwd_one(const float *restrict qkvr, const float *restrict P, int F, int A, int NH, float *restrict g,
                        float *restrict dp) {
    int A4 = 4 * A, dh = A / NH;
    for (int i = 0; i < F; i++) memset(g + (size_t)i * A4, 0, 3 * (size_t)A * sizeof *g);
    for (int hd = 0; hd < NH; hd++) {
        for (int i = 0; i < F; i++) {
            const float *p = P + ((size_t)hd * F + i) * F;
            const float *go = g + (size_t)i * A4 + 3 * A + hd * dh;
            const float *q = qkvr + (size_t)i * A4 + hd * dh;
            float *gq = g + (size_t)i * A4 + hd * dh, dot = 0;
            for (int j = 0; j < F; j++) {
                const float *v = qkvr + (size_t)j * A4 + 2 * A + hd * dh;
                float *gv = g + (size_t)j * A4 + 2 * A + hd * dh;
                float s = 0;
                for (int u = 0; u < dh; u++) {
                    s += go[u] * v[u];
                    gv[u] += p[j] * go[u];
                }
                dp[j] = s;
                dot += p[j] * s;
            }
            for (int j = 0; j < F; j++) {
                float ds = p[j] * (dp[j] - dot);
                const float *k = qkvr + (size_t)j * A4 + A + hd * dh;
                float *gk = g + (size_t)j * A4 + A + hd * dh;
                for (int u = 0; u < dh; u++) {
                    gq[u] += ds * k[u];
                    gk[u] += ds * q[u];
                }
            }
        }
    }
}

static bool att16(int F, int A, int NH) { return A == 16 * NH && F <= 16; }

/* nb examples' attention, one after the other. */
DREC_HOT static void att_fwd_rows(const float *qkvr, int nb, int F, int A, int NH, float *P, float *out) {
    bool v = att16(F, A, NH);
    for (int b = 0; b < nb; b++) {
        const float *x = qkvr + (size_t)b * F * 4 * A;
        float *pb = P + (size_t)b * NH * F * F, *ob = out + (size_t)b * F * A;
        if (v) att16_fwd_one(x, F, A, NH, pb, ob);
        else att_fwd_one(x, F, A, NH, pb, ob);
    }
}

/* nb examples' rows of dqkvr [dq | dk | dv | dr] from dout, the gradient
 * at the layer's output out: through the ReLU, dr = d(attn) = dout where
 * out > 0.  dp: F floats of scratch. */
DREC_HOT static void att_bwd_rows(const float *qkvr, const float *P, const float *out, const float *dout, int nb,
                                  int F, int A, int NH, float *dqkvr, float *dp) {
    bool v = att16(F, A, NH);
    for (int b = 0; b < nb; b++) {
        const float *x = qkvr + (size_t)b * F * 4 * A, *pb = P + (size_t)b * NH * F * F;
        float *g = dqkvr + (size_t)b * F * 4 * A;
        for (int i = 0; i < F; i++) {
            float *gr = g + (size_t)i * 4 * A + 3 * A;
            const float *o = out + ((size_t)b * F + i) * A, *d = dout + ((size_t)b * F + i) * A;
            for (int t = 0; t < A; t++) gr[t] = o[t] > 0 ? d[t] : 0;
        }
        if (v) att16_bwd_one(x, pb, F, A, NH, g);
        else att_bwd_one(x, pb, F, A, NH, g, dp);
    }
}

/* A chunk's share of autoint's weight gradients: each layer's (din, 4A)
 * in layer order (*off gets each layer's offset), then the read-out's F * A. */
static size_t att_part(const net *n, size_t *off) {
    size_t at = 0, A4 = 4 * (size_t)n->hp.att_dim;
    for (int l = 0; l < n->hp.att_layers; l++) {
        if (off) off[l] = at;
        at += (size_t)(l ? n->hp.att_dim : n->D) * A4;
    }
    return at + (size_t)n->F * n->hp.att_dim;
}

/* Lays out a thread's block scratch at p (NULL: only its size, in *total). */
static att_buf att_bufs(const net *n, float *p, size_t *total) {
    size_t R = (size_t)ATT_B * n->F, A = (size_t)n->hp.att_dim, RW = R * DREC_MAX(A, (size_t)n->D), at = 0;
    int L = (int)n->hp.att_layers;
    att_buf b = {0};
#define ATT_TAKE(ptr, count) (ptr = p ? p + at : NULL, at += (count))
    for (int l = 0; l < L; l++) ATT_TAKE(b.qkvr[l], R * 4 * A);
    ATT_TAKE(b.dq, R * 4 * A);
    ATT_TAKE(b.dout, RW);
    ATT_TAKE(b.dnext, RW);
    ATT_TAKE(b.dp, (size_t)n->F);
    for (int l = 0; l < L; l++) ATT_TAKE(b.P[l], R * n->hp.heads * n->F);
    for (int l = 1; l <= L; l++) ATT_TAKE(b.x[l], R * A);
#undef ATT_TAKE
    if (total) *total = at;
    return b;
}

/* Thread t's buffers for the block from example b0.  Its attention weights
 * and layer outputs go to the batch's buffers, or (block_local: the
 * backward follows at once) stay in the thread's scratch, which spares the
 * batch's 25 MB a step their trip to memory. */
static att_buf att_block(const net *n, const work *w, int t, int b0, bool block_local) {
    att_buf b = att_bufs(n, w->ascr + (size_t)t * w->ascr_n, NULL);
    b.x[0] = w->x0 + (size_t)b0 * n->F * n->D;
    for (int l = 0; !block_local && l < n->hp.att_layers; l++) {
        b.P[l] = w->ap[l] + (size_t)b0 * n->hp.heads * n->F * n->F;
        b.x[l + 1] = w->ax[l + 1] + (size_t)b0 * n->F * n->hp.att_dim;
    }
    return b;
}

/* Attention forward of one block, examples [b0, b1), by thread t: adds the
 * read-out into their logits (block_local: see att_block).  The layers'
 * weights are packed (att_pack). */
static void att_fwd_block(const net *n, int b0, int b1, int t, bool block_local, work *w) {
    const hyper *h = &n->hp;
    int F = n->F, A = (int)h->att_dim, NH = (int)h->heads, L = (int)h->att_layers, R = (b1 - b0) * F;
    const float *fc = n->w + n->Afc.off;
    float fb = n->w[n->Afcb.off];
    att_buf ab = att_block(n, w, t, b0, block_local);
    for (int l = 0, din = n->D; l < L; din = A, l++) {
        gemm(false, false, R, 4 * A, din, 1.0f, ab.x[l], din, w->awp[l], 4 * A, 0.0f, ab.qkvr[l], 4 * A);
        att_fwd_rows(ab.qkvr[l], b1 - b0, F, A, NH, ab.P[l], ab.x[l + 1]);
    }
    const float *x = ab.x[L];
    for (int b = b0; b < b1; b++) {
        float s = fb;
        for (int j = 0; j < F * A; j++) s += x[(size_t)(b - b0) * F * A + j] * fc[j];
        w->logit[b] += s;
    }
}

static bool fusable(const net *n);
static bool has_deep(const net *n);
static double mlp_macs(const net *n);
static void deep_fwd_rows(const net *n, bool train, int b0, int b1, work *w);
static bool has_head(const net *n);
static void head_prepare(const net *n, work *w);
static void head_fwd(const net *n, int b0, int b1, int t, work *w);
static void fwd_head(const net *n, int B, work *w);

static void forward(const net *n, const batch *bt, bool train, work *w) {
    int k = n->hp.kind;
    if (fusable(n)) {
        /* rows are independent: each thread takes its chunks all the way */
        int B = bt->B, nc = (B + CHUNK_ROWS - 1) / CHUNK_ROWS;
        bool deep = has_deep(n), head = has_head(n);
        if (head) head_prepare(n, w);
#pragma omp parallel num_threads(w->nt_cap) if (PAR((double)B * (n->F * (n->D + 1) + mlp_macs(n))))
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            for (int c = nc * t / nt; c < nc * (t + 1) / nt; c++) {
                int b0 = c * CHUNK_ROWS, b1 = DREC_MIN(B, b0 + CHUNK_ROWS);
                sparse_rows(n, bt, k == K_DEEPFM, b0, b1, w);
                if (head) head_fwd(n, b0, b1, t, w);
                if (deep) deep_fwd_rows(n, train, b0, b1, w);
            }
        }
        return;
    }
    fwd_sparse(n, bt, k == K_DEEPFM, w);
    if (has_head(n)) fwd_head(n, bt->B, w);
    if (k != K_LR && n->hp.n_layers > 0) fwd_deep(n, bt->B, train, w);
}

/* ---- backward -------------------------------------------------------------- */

/* Column sums of a [B, H] matrix added into out[H] (fixed order). */
DREC_HOT static void colsum_add(const float *restrict x, int B, int H, float *restrict out) {
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) out[j] += x[(size_t)b * H + j];
}

/* out[j] += sum_b wt[b] x[b][j] for columns [j0, j1) of a [B, H] matrix,
 * the rows in order. */
DREC_HOT static void wcolsum_add(const float *restrict x, int B, int H, const float *restrict wt, float *restrict out,
                                 int j0, int j1) {
    for (int b = 0; b < B; b++)
        for (int j = j0; j < j1; j++) out[j] += wt[b] * x[(size_t)b * H + j];
}

/* Columns [j0, j1) of dh (B, H) through dropout and ReLU (h > 0 exactly
 * where the unit was kept and active); without batch norm the bias
 * gradient gb += column sums, summed in row order whatever the threads. */
DREC_HOT static void relu_bwd_cols(float *dh, const float *hh, int B, int H, float sc, float *gb, int j0, int j1) {
    for (int b = 0; b < B; b++) {
        float *restrict dr = dh + (size_t)b * H;
        const float *restrict hr = hh + (size_t)b * H;
        if (gb) {
#pragma omp simd
            for (int j = j0; j < j1; j++) {
                float d = hr[j] > 0 ? dr[j] * sc : 0;
                dr[j] = d;
                gb[j] += d;
            }
        } else {
#pragma omp simd
            for (int j = j0; j < j1; j++) dr[j] = hr[j] > 0 ? dr[j] * sc : 0;
        }
    }
}

/* Batch norm of layer l, backward: dh becomes the gradient of the
 * pre-normalisation product; gamma, beta and the bias get theirs. */
static void bn_backward(net *n, int l, int B, float *dh, work *w) {
    int H = n->hp.layers[l];
    float *gg = n->g + n->gam[l].off, *gb = n->g + n->bet[l].off;
    const float *gam = n->w + n->gam[l].off;
    const float *xh = w->xh[l], *inv = w->bi[l];
    double *sd = drec_calloc((size_t)H * 2, sizeof *sd);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            float da = dh[(size_t)b * H + j];
            sd[j] += da;
            sd[H + j] += (double)da * xh[(size_t)b * H + j];
        }
    for (int j = 0; j < H; j++) {
        gb[j] += (float)sd[j];
        gg[j] += (float)sd[H + j];
    }
#pragma omp parallel for schedule(static) if (PAR(B * H))
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            size_t i = (size_t)b * H + j;
            /* dz = gamma * inv / B * (B da - sum da - xh sum(da xh)) */
            dh[i] = gam[j] * inv[j] / (float)B * ((float)B * dh[i] - (float)sd[j] - xh[i] * (float)sd[H + j]);
        }
    free(sd);
    float *gbias = n->g + n->b[l].off;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) gbias[j] += dh[(size_t)b * H + j];
}

/* Columns [j0, j1) of the output layer's backward over B rows of x: dWo +=
 * x^T dlogit, dh = dlogit wo^T through the last ReLU (and dropout scale
 * sc), and the last hidden bias gradient gb += column sums (when given). */
DREC_HOT static void out_bwd_cols(const float *x, const float *dlogit, const float *wo, float sc, int B, int in,
                                  float *restrict gWo, float *restrict dh, float *restrict gb, int j0, int j1) {
    for (int b = 0; b < B; b++) {
        const float *xr = x + (size_t)b * in;
        float *dr = dh + (size_t)b * in, g = dlogit[b];
        for (int j = j0; j < j1; j++) {
            gWo[j] += g * xr[j];
            float d = g * wo[j];
            d = xr[j] > 0 ? d * sc : 0;
            dr[j] = d;
            if (gb) gb[j] += d;
        }
    }
}

/* The MLP backward, writing dx0 (not adding to it).  Each layer is one
 * parallel region: the weight gradient split by its rows, dx = dz W^T by
 * the batch rows, then (after a barrier) the layer below's ReLU and bias
 * gradient split by columns.  Every sum keeps one order whatever the
 * number of threads. */
static void bwd_deep(net *n, int B, work *w) {
    const hyper *h = &n->hp;
    int L = h->n_layers, in = h->layers[L - 1];
    const float *x = w->h[L - 1], *wo = n->w + n->Wo.off;
    float *gWo = n->g + n->Wo.off;
    float sc = h->dropout > 0 ? (float)(1.0 / (1.0 - h->dropout)) : 1.0f;
    float s = 0;
    for (int b = 0; b < B; b++) s += w->dlogit[b];
    n->g[n->bo.off] += s;
    float *dh = w->d1, *dn = w->d2;
    /* the output layer: dWo = x^T dlogit, dh = dlogit wo^T, then the last
     * hidden layer's ReLU, in one pass over x by columns */
    float *gb_top = h->bn ? NULL : n->g + n->b[L - 1].off;
#pragma omp parallel if (PAR(B * in))
    {
        int j0, j1;
        cols_of(in, omp_get_thread_num(), omp_get_num_threads(), &j0, &j1);
        out_bwd_cols(x, w->dlogit, wo, sc, B, in, gWo, dh, gb_top, j0, j1);
    }
    for (int l = L - 1; l >= 0; l--) {
        int H = h->layers[l];
        int pin = l ? h->layers[l - 1] : n->in;
        if (h->bn) bn_backward(n, l, B, dh, w);
        const float *xin = l ? w->h[l - 1] : w->x0, *W = n->w + n->W[l].off;
        float *gW = n->g + n->W[l].off, *out = l ? dn : w->dx0;
        float *gb = l && !h->bn ? n->g + n->b[l - 1].off : NULL;
#pragma omp parallel if (PAR((double)B * H * pin))
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads(), r0, r1;
            rows_of(pin, t, nt, &r0, &r1);
            if (r1 > r0) gemm(true, false, r1 - r0, H, B, 1.0f, xin + r0, pin, dh, H, 1.0f, gW + (size_t)r0 * H, H);
            rows_of(B, t, nt, &r0, &r1);
            if (r1 > r0) gemm(false, true, r1 - r0, pin, H, 1.0f, dh + (size_t)r0 * H, H, W, H, 0.0f, out + (size_t)r0 * pin, pin);
            if (l) {
#pragma omp barrier
                int j0, j1;
                cols_of(pin, t, nt, &j0, &j1);
                relu_bwd_cols(dn, w->h[l - 1], B, pin, sc, gb, j0, j1);
            }
        }
        if (l) {
            float *tmp = dh;
            dh = dn;
            dn = tmp;
        }
    }
}

DREC_HOT static void fm_bwd_rows(const net *n, int b0, int b1, work *w) {
    int F = n->F, D = n->D;
    for (int b = b0; b < b1; b++) {
        const float *x = w->x0 + (size_t)b * n->in;
        float *dx = w->dx0 + (size_t)b * n->in, g = w->dlogit[b];
        for (int d = 0; d < D; d++) {
            float s = 0;
            for (int f = 0; f < F; f++) s += x[f * D + d];
            for (int f = 0; f < F; f++) dx[f * D + d] += g * (s - x[f * D + d]);
        }
    }
}

static void bwd_fm(const net *n, int B, work *w) {
#pragma omp parallel if (PAR(B * n->in))
    {
        int r0, r1;
        rows_of(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        fm_bwd_rows(n, r0, r1, w);
    }
}

/* Through zT[i*F + j] = xT[i] x0T[j] for a block's R columns: dx0T += its
 * part, dxT = its part (NULL: xT is x0T itself, so that part goes to dx0T). */
DREC_HOT static void cin_outer_bwd(const float *dzT, const float *xT, const float *x0T, int F, int Hk, int R,
                                   float *restrict dx0T, float *restrict dxT) {
    if (dxT) memset(dxT, 0, (size_t)Hk * R * sizeof *dxT);
    for (int i = 0; i < Hk; i++) {
        float *di = dxT ? dxT + (size_t)i * R : dx0T + (size_t)i * R;
        const float *xi = xT + (size_t)i * R;
        for (int j = 0; j < F; j++) {
            const float *dz = dzT + ((size_t)i * F + j) * R, *x0j = x0T + (size_t)j * R;
            float *d0 = dx0T + (size_t)j * R;
            for (int r = 0; r < R; r++) {
                d0[r] += dz[r] * xi[r];
                di[r] += dz[r] * x0j[r];
            }
        }
    }
}

/* A CIN block's gradient at layer k's output o (R rows (b, d) of Ho),
 * through its ReLU: the pooled first nout columns from the read-out (fc,
 * dlogit per example), the rest from the next layer (dnT, transposed;
 * none for the last layer). */
DREC_HOT static void cin_dco(const float *restrict o, int Ho, int nout, int R, int D, const float *restrict dlogit,
                             const float *restrict fc, const float *restrict dnT, float *restrict dco) {
    for (int r = 0; r < R; r++) {
        float g = dlogit[r / D];
        const float *orow = o + (size_t)r * Ho;
        float *drow = dco + (size_t)r * Ho;
        for (int j = 0; j < nout; j++) drow[j] = orow[j] > 0 ? g * fc[j] : 0;
        if (dnT)
            for (int j = nout; j < Ho; j++) drow[j] = orow[j] > 0 ? dnT[(size_t)(j - nout) * R + r] : 0;
        else
            for (int j = nout; j < Ho; j++) drow[j] = 0;
    }
}

/* CIN backward of the block of examples [b0, b1), by thread t.  Straight
 * after its forward (after_fwd) it takes the block's outer products and
 * outputs from the thread's scratch and sets its rows of dx0; otherwise it
 * builds the outer products again and adds into dx0.  Its share of the
 * CIN's and the read-out's weight gradients goes into its chunk's (see
 * head_bwd). */
static void cin_bwd_block(const net *n, int b0, int b1, int t, bool after_fwd, work *w) {
    const hyper *h = &n->hp;
    int F = n->F, D = n->D, R = (b1 - b0) * D;
    const float *fc = n->w + n->Cfc.off;
    size_t r0 = (size_t)b0 * D;
    cin_buf cb = cin_bufs(n, w->cscr + (size_t)t * w->cscr_n, NULL);
    float *part = w->cpart + (size_t)(b0 / CHUNK_ROWS) * cin_weights(n), *dnT = cb.dnT, *dxT = cb.dxT;
    float beta = b0 % CHUNK_ROWS ? 1.0f : 0.0f; /* the chunk's first block starts its share */
    if (!after_fwd) cin_x0t(n, w, b0, b1, cb.x0T);
    memset(cb.dx0T, 0, (size_t)F * R * sizeof(float));
    /* the read-out's share */
    int T = n->cin_out_total;
    float *pfc = part + cin_weights(n) - T;
    if (!beta) memset(pfc, 0, (size_t)T * sizeof *pfc);
    wcolsum_add(after_fwd ? cb.pool : w->cpool + (size_t)b0 * T, b1 - b0, T, w->dlogit + b0, pfc, 0, T);
    bool has_next = false; /* dnT holds the gradient flowing into layer k's second half */
    for (int k = h->n_cin - 1; k >= 0; k--) {
        int Hk = n->cin_in[k], Z = Hk * F, Ho = h->cin[k], nout = n->cin_next[k] ? Ho - n->cin_next[k] : Ho;
        const float *o = after_fwd ? cb.co[k] : w->co[k] + r0 * Ho;
        cin_dco(o, Ho, nout, R, D, w->dlogit + b0, fc + n->cin_pool[k], has_next ? dnT : NULL, cb.dco);
        const float *xT = k ? cb.xT[k] : cb.x0T;
        if (!after_fwd && k) {
            int Hp = h->cin[k - 1];
            cin_xt(w->co[k - 1] + r0 * Hp, Hp, Hp - n->cin_next[k - 1], Hk, R, cb.xT[k]);
        }
        if (!after_fwd) cin_outer(cb.zT[k], xT, cb.x0T, F, Hk, R);
        float *pw = part + (n->CW[k].off - n->CW[0].off), *pb = part + (n->Cb[k].off - n->CW[0].off);
        gemm(false, false, Z, Ho, R, 1.0f, cb.zT[k], R, cb.dco, Ho, beta, pw, Ho);
        if (!beta) memset(pb, 0, (size_t)Ho * sizeof *pb);
        colsum_add(cb.dco, R, Ho, pb);
        gemm(false, true, Z, R, Ho, 1.0f, n->w + n->CW[k].off, Ho, cb.dco, Ho, 0.0f, cb.dzT, R);
        cin_outer_bwd(cb.dzT, xT, cb.x0T, F, Hk, R, cb.dx0T, k ? dxT : NULL);
        if (k) {
            float *tmp = dnT;
            dnT = dxT;
            dxT = tmp;
            has_next = true;
        }
    }
    for (int b = b0; b < b1; b++)
        for (int f = 0; f < F; f++) {
            float *dst = w->dx0 + (size_t)b * n->in + (size_t)f * D;
            const float *src = cb.dx0T + (size_t)f * R + (size_t)(b - b0) * D;
            if (after_fwd)
                for (int d = 0; d < D; d++) dst[d] = src[d];
            else
                for (int d = 0; d < D; d++) dst[d] += src[d];
        }
}

/* Attention backward of the block of examples [b0, b1), by thread t, down
 * through every layer.  Straight after its forward (after_fwd) it takes the
 * block's projections and intermediates from the thread's scratch and sets
 * its rows of dx0; otherwise it remakes the projections (cheaper than
 * keeping the batch's and reading them back) and adds into dx0.  Its share
 * of the weight gradients goes into its chunk's (see head_bwd). */
static void att_bwd_block(const net *n, int b0, int b1, int t, bool after_fwd, work *w) {
    const hyper *h = &n->hp;
    int F = n->F, A = (int)h->att_dim, NH = (int)h->heads, L = (int)h->att_layers, D = n->D, R = (b1 - b0) * F;
    const float *fc = n->w + n->Afc.off;
    size_t off[MAX_LAYERS], P = att_part(n, off);
    att_buf ab = att_block(n, w, t, b0, after_fwd);
    float *dq = ab.dq, *dout = ab.dout, *dnext = ab.dnext;
    float *part = w->apart + (size_t)(b0 / CHUNK_ROWS) * P;
    float beta = b0 % CHUNK_ROWS ? 1.0f : 0.0f; /* the chunk's first block starts its share */
    /* the read-out's share, and the gradient at the last layer's output */
    float *pfc = part + P - (size_t)F * A;
    if (!beta) memset(pfc, 0, (size_t)F * A * sizeof *pfc);
    wcolsum_add(ab.x[L], b1 - b0, F * A, w->dlogit + b0, pfc, 0, F * A);
    for (int b = b0; b < b1; b++)
        for (int j = 0; j < F * A; j++) dout[(size_t)(b - b0) * F * A + j] = w->dlogit[b] * fc[j];
    for (int l = L - 1; l >= 0; l--) {
        int din = l ? A : D;
        const float *x = ab.x[l];
        float *qkvr = ab.qkvr[l];
        if (!after_fwd) gemm(false, false, R, 4 * A, din, 1.0f, x, din, w->awp[l], 4 * A, 0.0f, qkvr, 4 * A);
        att_bwd_rows(qkvr, ab.P[l], ab.x[l + 1], dout, b1 - b0, F, A, NH, dq, ab.dp);
        gemm(true, false, din, 4 * A, R, 1.0f, x, din, dq, 4 * A, beta, part + off[l], 4 * A);
        if (l) {
            gemm(false, false, R, din, 4 * A, 1.0f, dq, 4 * A, w->awt[l], din, 0.0f, dnext, din);
            float *tmp = dout;
            dout = dnext;
            dnext = tmp;
        } else {
            gemm(false, false, R, D, 4 * A, 1.0f, dq, 4 * A, w->awt[0], D, after_fwd ? 0.0f : 1.0f,
                 w->dx0 + (size_t)b0 * F * D, D);
        }
    }
}

/* ---- the interaction head: xdeepfm's CIN or autoint's attention ---------- */

static bool has_head(const net *n) { return n->hp.kind == K_XDEEPFM || n->hp.kind == K_AUTOINT; }

/* Examples per block of the head (CHUNK_ROWS is a multiple), and blocks in B rows. */
static int head_b(const net *n) { return n->hp.kind == K_XDEEPFM ? CIN_B : ATT_B; }
static int head_blocks(const net *n, int B) { return (B + head_b(n) - 1) / head_b(n); }

/* Before a forward pass: autoint's layers' weights packed side by side, and
 * transposed for the backward's input gradients (a plain product runs at
 * nearly twice the speed of the transposed one on these thin shapes). */
static void head_prepare(const net *n, work *w) {
    for (int l = 0; n->hp.kind == K_AUTOINT && l < n->hp.att_layers; l++) {
        att_pack(n, l, w->awp[l]);
        int din = l ? (int)n->hp.att_dim : n->D, A4 = 4 * (int)n->hp.att_dim;
        for (int i = 0; i < din; i++)
            for (int j = 0; j < A4; j++) w->awt[l][(size_t)j * din + i] = w->awp[l][(size_t)i * A4 + j];
    }
    w->ax[0] = w->x0;
}

/* The head of examples [b0, b1) (b0 at a block's start), by thread t. */
static void head_fwd(const net *n, int b0, int b1, int t, work *w) {
    for (int c = b0; c < b1; c += head_b(n)) {
        int c1 = DREC_MIN(b1, c + head_b(n));
        if (n->hp.kind == K_XDEEPFM) cin_fwd_block(n, c, c1, t, false, w);
        else att_fwd_block(n, c, c1, t, false, w);
    }
}

/* The head's backward of examples [b0, b1), a whole chunk (CHUNK_ROWS
 * rows, the last one shorter), by thread t.  Its blocks add their weight
 * gradients into the chunk's share in block order: one share a chunk
 * rather than a block keeps the shares in cache and the sum over them
 * short, and the chunks, fixed by the batch, keep the model the same for
 * any thread count. */
static void head_bwd(const net *n, int b0, int b1, int t, work *w) {
    for (int c = b0; c < b1; c += head_b(n)) {
        int c1 = DREC_MIN(b1, c + head_b(n));
        if (n->hp.kind == K_XDEEPFM) cin_bwd_block(n, c, c1, t, false, w);
        else att_bwd_block(n, c, c1, t, false, w);
    }
}

/* Thread t of nt's share of the head's weight gradients once every chunk
 * is done: the chunks' shares (the head's and its read-out's weights)
 * added in chunk order, a range of them each, so that the model is the
 * same for any thread count; thread 0 adds the read-out's bias. */
static void head_grads(net *n, int B, int t, int nt, work *w) {
    bool cin = n->hp.kind == K_XDEEPFM;
    int nc = (B + CHUNK_ROWS - 1) / CHUNK_ROWS, A = (int)n->hp.att_dim;
    int T = cin ? n->cin_out_total : n->F * A;
    pview fc = cin ? n->Cfc : n->Afc, fcb = cin ? n->Cfcb : n->Afcb;
    if (t == 0) {
        float s = 0;
        for (int b = 0; b < B; b++) s += w->dlogit[b];
        n->g[fcb.off] += s;
    }
    size_t off[MAX_LAYERS], P = cin ? (size_t)cin_weights(n) : att_part(n, off);
    float *part = cin ? w->cpart : w->apart;
    size_t i0 = P * t / nt, i1 = P * (t + 1) / nt;
    for (int k = 1; k < nc; k++) drec_kern->add(part + i0, part + i0, part + (size_t)k * P + i0, (int)(i1 - i0));
    if (cin) {
        float *g = n->g + n->CW[0].off;
        for (size_t i = i0; i < i1; i++) g[i] += part[i];
        return;
    }
    /* autoint's shares are packed (din, 4A) per layer: to the four blocks;
     * then the read-out's */
    for (int l = 0; l < n->hp.att_layers; l++) {
        const pview *blk4[4] = {&n->Aq[l], &n->Ak[l], &n->Av[l], &n->Ar[l]};
        for (size_t i = DREC_MAX(i0, off[l]); i < DREC_MIN(i1, off[l] + (size_t)(l ? A : n->D) * 4 * A); i++) {
            size_t r = (i - off[l]) / (4 * (size_t)A), c = (i - off[l]) % (4 * (size_t)A);
            n->g[blk4[c / A]->off + r * A + c % A] += part[i];
        }
    }
    for (size_t i = DREC_MAX(i0, P - (size_t)T); i < i1; i++) n->g[fc.off + i - (P - T)] += part[i];
}

/* The head over a whole batch, layer-by-layer path: blocks over the threads. */
static void fwd_head(const net *n, int B, work *w) {
    int nblk = head_blocks(n, B);
    head_prepare(n, w);
#pragma omp parallel for schedule(static) num_threads(w->nt_cap) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++)
        head_fwd(n, blk * head_b(n), DREC_MIN(B, (blk + 1) * head_b(n)), omp_get_thread_num(), w);
}

static void bwd_head(net *n, int B, work *w) {
    int nc = (B + CHUNK_ROWS - 1) / CHUNK_ROWS;
#pragma omp parallel num_threads(w->nt_cap)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int c = 0; c < nc; c++) head_bwd(n, c * CHUNK_ROWS, DREC_MIN(B, (c + 1) * CHUNK_ROWS), t, w);
        head_grads(n, B, t, nt, w);
    }
}

/* Mean BCE-with-logits of the batch; fills dlogit = (p - y) / B. */
static inline float loss_row(const batch *bt, int b, float inv, work *w) {
    float z = w->logit[b], y = bt->fr->label[bt->rows[b]];
    float e = expf(-fabsf(z)); /* one exp serves the loss and the sigmoid */
    float p = z >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    w->dlogit[b] = (p - y) * inv;
    return fmaxf(z, 0) - z * y + log1pf(e);
}

static double loss_grad(const batch *bt, work *w) {
    double loss = 0;
    float inv = 1.0f / (float)bt->B;
    for (int b = 0; b < bt->B; b++) loss += (double)loss_row(bt, b, inv, w);
    return loss / bt->B;
}

/* Backward of the dense part into n->g (which the caller zeroed) and dx0
 * (which it sets); the sparse rows are sparse_step's. */
static void backward(net *n, const batch *bt, work *w) {
    int B = bt->B, k = n->hp.kind;
    bool deep = k != K_LR && n->hp.n_layers > 0;
    if (deep) bwd_deep(n, B, w);
    else if (n->D) memset(w->dx0, 0, (size_t)B * n->in * sizeof(float));
    if (k == K_DEEPFM) bwd_fm(n, B, w);
    if (has_head(n)) bwd_head(n, B, w);
    float s = 0;
    for (int b = 0; b < B; b++) s += w->dlogit[b];
    n->g[n->bias.off] += s;
}

/* ---- optimizers -------------------------------------------------------------- */

static float lr_at(const hyper *h, long step, long total, int epoch) {
    double lr = h->lr;
    if (h->warmup > 0 && step < h->warmup) lr *= (double)(step + 1) / (double)h->warmup;
    switch (h->schedule) {
    case 1: lr *= 0.5 * (1 + cos(M_PI * (double)step / (double)(total > 1 ? total : 1))); break;
    case 2: lr *= pow(h->lr_decay, epoch); break;
    case 3: lr *= pow(0.5, epoch / 5); break;
    default: break;
    }
    return (float)lr;
}

static inline void adam1(float *w, float *m, float *v, float g, float lr, float c1, float c2, bool adagrad) {
    if (adagrad) {
        *v += g * g;
        *w -= lr * g / (sqrtf(*v) + 1e-10f);
        return;
    }
    *m = 0.9f * *m + 0.1f * g;
    *v = 0.999f * *v + 0.001f * g * g;
    *w -= lr * (*m / c1) / (sqrtf(*v / c2) + 1e-8f);
}

/* FTRL-Proximal (McMahan et al. 2013), per coordinate. */
static inline void ftrl1(float *w, float *z, float *nn, float g, const hyper *h) {
    float n0 = *nn, n1 = n0 + g * g;
    float sigma = (sqrtf(n1) - sqrtf(n0)) / (float)h->wide_lr;
    *z += g - sigma * *w;
    *nn = n1;
    float zz = *z;
    if (fabsf(zz) <= h->l1)
        *w = 0;
    else
        *w = -(zz - copysignf((float)h->l1, zz)) / ((1.0f + sqrtf(n1)) / (float)h->wide_lr + (float)h->l2);
}

/* One step's optimizer settings; wide_scale turns the batch-mean
 * first-order gradient into the summed (per-example) one FTRL expects. */
typedef struct step_hp {
    float lr, c1, c2, wide_scale;
} step_hp;

/* The settings of step n->step + 1 (the caller counts it after the step). */
static step_hp step_of(const net *n, float lr, float wide_scale) {
    float k = (float)(n->step + 1);
    step_hp s = {lr, 1.0f - powf(0.9f, k), 1.0f - powf(0.999f, k), wide_scale};
    return s;
}

/* A thread's next run of slots [*next, *end). */
static inline void slot_refill(int *next, int *end, int *shared) {
    int at;
#pragma omp atomic capture
    {
        at = *shared;
        *shared += SLOT_CHUNK;
    }
    *next = at;
    *end = at + SLOT_CHUNK;
}

static inline int32_t slot_claim(int *next, int *end, int *shared) {
    if (*next == *end) slot_refill(next, end, shared);
    return (*next)++;
}

/* Does thread t of nt own id?  Every id has one owner, so its gradient
 * slot is summed by one thread in batch-row order: the same numbers for
 * any number of threads. */
static inline bool owns(int32_t id, int t, int nt, unsigned pow2_mask) {
    if (nt == 1) return true;
    unsigned u = (unsigned)id;
    return (pow2_mask ? u & pow2_mask : u % (unsigned)nt) == (unsigned)t;
}

/* One entry (row b, field f, id, value v) into thread t's gradient slots. */
static inline __attribute__((always_inline)) void scatter_one(const net *n, work *w, int b, int f, int32_t id, float v,
                                                              float g, float l2, int *next, int *end, int *U) {
    int D = n->D;
    int32_t sl = w->slot[id];
    if (sl < 0) {
        sl = w->slot[id] = slot_claim(next, end, U);
        w->uniq[sl] = id;
        w->G1[sl] = 0;
        for (int d = 0; d < D; d++) w->G[(size_t)sl * D + d] = 0;
    }
    w->G1[sl] += v * g;
    if (!D) return;
    float *gr = w->G + (size_t)sl * D;
    const float *dx = w->dx0 + (size_t)b * n->in + f * D, *e = n->E + (size_t)id * D;
    if (l2 != 0)
        for (int d = 0; d < D; d++) gr[d] += v * dx[d] + l2 * e[d];
    else
        for (int d = 0; d < D; d++) gr[d] += v * dx[d];
}

/* Thread t's share of the embedding-bag and first-order backward: the
 * batch's entries whose id it owns, gathered into G (embeddings) and G1
 * (first order) at slots it claims. */
static void scatter_ids(const net *n, const batch *bt, work *w, int t, int nt, int *U) {
    const drec_featrows *fr = bt->fr;
    int B = bt->B, F = n->F, next = 0, end = 0;
    unsigned pm = (nt & (nt - 1)) == 0 ? (unsigned)nt - 1 : 0;
    float l2 = (float)(2.0 * n->hp.reg / B);
    if (fr->one_hot && nt == 1) {
        /* the common case, without offsets or owners */
        for (int b = 0; b < B; b++) {
            size_t r = bt->rows[b];
            const int32_t *ix = fr->idx + r * (size_t)F;
            const float *vv = fr->val + r * (size_t)F;
            float g = w->dlogit[b];
            for (int f = 0; f < F; f++) scatter_one(n, w, b, f, ix[f], vv[f], g, l2, &next, &end, U);
        }
    } else {
        for (int b = 0; b < B; b++) {
            size_t r = bt->rows[b];
            float g = w->dlogit[b];
            if (b + 8 < B && fr->one_hot) /* shuffled rows: ask ahead, as the forward */
                __builtin_prefetch(fr->idx + bt->rows[b + 8] * (size_t)F);
            for (int f = 0; f < F; f++) {
                int64_t lo, hi;
                bag_of(fr, r, f, &lo, &hi);
                for (int64_t q = lo; q < hi; q++)
                    if (owns(fr->idx[q], t, nt, pm)) scatter_one(n, w, b, f, fr->idx[q], fr->val[q], g, l2, &next, &end, U);
            }
        }
    }
    for (int k = next; k < end; k++) w->uniq[k] = -1;
}

/* The same for the hashed crosses: CG holds per-example gradients summed
 * over the batch (FTRL's).  Without a branch the predictor could guess
 * (whether this thread owns an entry, whether its id is new in the step):
 * a mispredicted branch throws away the table reads begun behind it, and
 * these reads miss the cache, so only many of them in flight at once make
 * the pass fast.  A row's owned entries (read from the forward's copy of
 * the crosses in batch order) are first listed, then gathered. */
static void scatter_crosses(net *n, const batch *bt, work *w, int t, int nt, int *CU) {
    enum { PIECE = 64 };
    int B = bt->B, next = 0, end = 0;
    unsigned pm = (nt & (nt - 1)) == 0 ? (unsigned)nt - 1 : 0;
    cross_w *restrict xc = n->xc;
    int32_t *restrict cu = w->cuniq, ids[PIECE];
    float *restrict cg = w->CG, vs[PIECE];
    for (int b = 0; b < B; b++) {
        float g = w->dlogit[b] * (float)B;
        const int32_t *bi = w->bx_idx + (size_t)b * w->max_cross;
        const float *bv = w->bx_val + (size_t)b * w->max_cross;
        for (int q0 = 0, q1 = w->bx_n[b]; q0 < q1; q0 += PIECE) {
            int m = 0;
            for (int q = q0; q < DREC_MIN(q1, q0 + PIECE); q++) {
                ids[m] = bi[q];
                vs[m] = bv[q];
                m += owns(ids[m], t, nt, pm);
            }
            for (int k = 0; k < m; k++) {
                if (next == end) slot_refill(&next, &end, CU); /* before it is needed */
                cross_w *x = &xc[ids[k]];
                int32_t sl = x->slot;
                bool fresh = sl < 0;
                sl = fresh ? next : sl;
                next += fresh;
                x->slot = sl;
                cu[sl] = ids[k];
                cg[sl] = (fresh ? 0.0f : cg[sl]) + vs[k] * g;
            }
        }
    }
    for (int k = next; k < end; k++) cu[k] = -1;
}

/* The dense step over parameters [i0, i1), zeroing their gradient. */
DREC_HOT static void dense_range(net *n, const step_hp *u, int i0, int i1) {
    float *restrict w = n->w, *restrict m = n->m1, *restrict v = n->m2, *restrict g = n->g;
    float lr = u->lr, c1 = u->c1, c2 = u->c2;
    bool ag = n->hp.adagrad;
    for (int i = i0; i < i1; i++) {
        adam1(&w[i], &m[i], &v[i], g[i], lr, c1, c2, ag);
        g[i] = 0;
    }
}

/* The dense Adam step over every parameter of the block; it zeroes the
 * gradient for the next step.  Work-shared when called in a parallel region. */
static void dense_update(net *n, const step_hp *u) {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    dense_range(n, u, (int)((int64_t)n->n_w * t / nt), (int)((int64_t)n->n_w * (t + 1) / nt));
}

/* The updates of the sparse rows gathered in uniq[0..U) and cuniq[0..CU),
 * clearing their slots.  Work-shared when called in a parallel region. */
static void sparse_update(net *n, work *w, const step_hp *u, int U, int CU) {
    const hyper *h = &n->hp;
    int D = n->D;
    bool ag = h->adagrad, wide = h->kind == K_WIDEDEEP, frozen = wide && h->part == 2; /* deep only: no first order */
    /* Lazy (default): only the rows in the batch move.  --set lazy=0: every
     * row moves each step with a zero gradient where absent, as PyTorch's
     * dense Adam does (O(table) a step). */
    int64_t rows = h->lazy ? U : n->n_ids;
#pragma omp for schedule(static) nowait
    for (int64_t k = 0; k < rows; k++) {
        int32_t id = h->lazy ? w->uniq[k] : (int32_t)k;
        if (id < 0) continue;
        int32_t s = h->lazy ? (int32_t)k : w->slot[id];
        float g1 = s >= 0 ? w->G1[s] : 0.0f;
        if (wide && !frozen) {
            if (s >= 0) ftrl1(&n->lin[id], &n->lin_m1[id], &n->lin_m2[id], g1 * u->wide_scale, h);
        } else if (!wide) {
            adam1(&n->lin[id], &n->lin_m1[id], &n->lin_m2[id], g1, u->lr, u->c1, u->c2, ag);
        }
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)id * D + d;
            adam1(&n->E[i], &n->Em1[i], &n->Em2[i], s >= 0 ? w->G[(size_t)s * D + d] : 0.0f, u->lr, u->c1, u->c2, ag);
        }
        if (s >= 0) w->slot[id] = -1;
    }
    /* distinct coordinates: the FTRL steps are independent */
#pragma omp for schedule(static) nowait
    for (int k = 0; k < CU; k++) {
        int32_t id = w->cuniq[k];
        if (id < 0) continue;
        cross_w *x = &n->xc[id];
        ftrl1(&x->w, &x->z, &x->n, w->CG[k], h);
        x->slot = -1;
    }
}

/* The sparse half of the step in one parallel region: the dense Adam
 * update (when u is given), the row-sparse gradients of the embeddings,
 * first order and crosses (each thread the ids it owns; slots in
 * uniq[0..*nu) and cuniq[0..*ncu), -1 where unused), and then (when u is
 * given) their updates, which also clear the slots. */
static void sparse_step(net *n, const batch *bt, work *w, const step_hp *u, int *nu, int *ncu) {
    const drec_featrows *fr = bt->fr;
    int U = 0, CU = 0;
    bool cross = n->cross_buckets && fr->cross_ptr;
    double work_est = (double)bt->B * n->F * (n->D + 1) + (cross ? (double)bt->B * w->max_cross : 0) + (u ? n->n_w : 0);
#pragma omp parallel num_threads(w->nt_cap) if (PAR(work_est))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (u) dense_update(n, u);
        scatter_ids(n, bt, w, t, nt, &U);
        if (cross) scatter_crosses(n, bt, w, t, nt, &CU);
        if (u) {
#pragma omp barrier
            sparse_update(n, w, u, U, CU);
        }
    }
    *nu = U;
    *ncu = CU;
}

/* ---- the fused step (lr, widedeep, deepfm without batch norm) -------------
 *
 * Everything up to the input gradient is independent per row, so a
 * thread takes whole chunks of CHUNK_ROWS rows through the embedding bag,
 * the MLP, the loss and back down to dx0 without waiting for the other
 * threads; each chunk also leaves its partial sums of the weight, bias
 * and output gradients, the weights' taken while the chunk's rows are
 * still in cache (reading the whole batch's activations again afterwards
 * is a trip to memory).  Then, after one barrier, the partial sums in
 * chunk order (split by columns) and the sparse gradients; after a
 * second, the updates.  Three synchronisations a step.  The chunks are
 * fixed by the batch, not by the threads, so no sum here depends on the
 * thread count.  A batch of one chunk takes its weight gradients after
 * the barrier, split by their rows (OpenBLAS may round those differently
 * in the last bit for another thread count). */

static bool fusable(const net *n) { return !n->hp.bn && !n->by_layer; }

static bool has_deep(const net *n) { return n->hp.kind != K_LR && n->hp.n_layers > 0; }

/* Multiply-adds of the MLP per row. */
static double mlp_macs(const net *n) {
    double s = 0;
    int in = n->in;
    for (int l = 0; has_deep(n) && l < n->hp.n_layers; l++) {
        s += (double)in * n->hp.layers[l];
        in = n->hp.layers[l];
    }
    return s + in;
}

/* A chunk's share of the MLP's weight gradients holds W_0 .. W_{L-1} (not
 * the biases) in this order: where W_l starts in it (l = L: its size). */
static size_t mlp_weight_at(const net *n, int l) {
    size_t s = 0;
    for (int k = 0, in = n->in; k < l; in = n->hp.layers[k], k++) s += (size_t)in * n->hp.layers[k];
    return s;
}

static size_t mlp_weights(const net *n) { return has_deep(n) ? mlp_weight_at(n, n->hp.n_layers) : 0; }

/* Rows [b0, b1) through the MLP into the logit. */
static void deep_fwd_rows(const net *n, bool train, int b0, int b1, work *w) {
    const hyper *h = &n->hp;
    const float *x = w->x0;
    int in = n->in;
    for (int l = 0; l < h->n_layers; l++) {
        int H = h->layers[l];
        float *hh = w->h[l];
        gemm(false, false, b1 - b0, H, in, 1.0f, x + (size_t)b0 * in, in, n->w + n->W[l].off, H, 0.0f, hh + (size_t)b0 * H,
             H);
        act_rows(n, l, train, hh, n->w + n->b[l].off, b0, b1, w);
        x = hh;
        in = H;
    }
    out_rows(n, x, in, b0, b1, w);
}

/* Chunk c (rows [b0, b1)) back through the MLP: dh of every layer (dhl),
 * dx0 (added to what is there: dx0_beta 1), and the chunk's partial sums
 * of the weight, bias and output gradients. */
static void deep_bwd_rows(net *n, int c, int b0, int b1, float dx0_beta, work *w) {
    const hyper *h = &n->hp;
    int L = h->n_layers, in = h->layers[L - 1];
    float sc = h->dropout > 0 ? (float)(1.0 / (1.0 - h->dropout)) : 1.0f;
    float *pwo = w->pwo + (size_t)c * in, *pb = w->pb[L - 1] + (size_t)c * in;
    memset(pwo, 0, (size_t)in * sizeof *pwo);
    memset(pb, 0, (size_t)in * sizeof *pb);
    out_bwd_cols(w->h[L - 1] + (size_t)b0 * in, w->dlogit + b0, n->w + n->Wo.off, sc, b1 - b0, in, pwo,
                 w->dhl[L - 1] + (size_t)b0 * in, pb, 0, in);
    for (int l = L - 1; l >= 0; l--) {
        int H = h->layers[l], pin = l ? h->layers[l - 1] : n->in;
        float *out = l ? w->dhl[l - 1] : w->dx0;
        if (w->pw) /* while the chunk's rows are in cache */
            gemm(true, false, pin, H, b1 - b0, 1.0f, (l ? w->h[l - 1] : w->x0) + (size_t)b0 * pin, pin,
                 w->dhl[l] + (size_t)b0 * H, H, 0.0f, w->pw + (size_t)c * mlp_weights(n) + mlp_weight_at(n, l), H);
        gemm(false, true, b1 - b0, pin, H, 1.0f, w->dhl[l] + (size_t)b0 * H, H, n->w + n->W[l].off, H, l ? 0.0f : dx0_beta,
             out + (size_t)b0 * pin, pin);
        if (!l) break;
        float *pbl = w->pb[l - 1] + (size_t)c * pin;
        memset(pbl, 0, (size_t)pin * sizeof *pbl);
        relu_bwd_cols(out + (size_t)b0 * pin, w->h[l - 1] + (size_t)b0 * pin, b1 - b0, pin, sc, pbl, 0, pin);
    }
}

/* Thread t's share of the MLP's weight gradients (elements of each W,
 * summed over the chunks in order; rows of each W from the whole batch
 * when it is one chunk) and of the bias and output gradients (columns,
 * summed over the chunks in order). */
static void deep_grads_part(net *n, int B, int nc, int t, int nt, work *w) {
    const hyper *h = &n->hp;
    int L = h->n_layers;
    for (int l = 0; l < L && !w->pw; l++) {
        int H = h->layers[l], pin = l ? h->layers[l - 1] : n->in, r0, r1;
        const float *xin = l ? w->h[l - 1] : w->x0;
        rows_of(pin, t, nt, &r0, &r1);
        if (r1 > r0)
            gemm(true, false, r1 - r0, H, B, 1.0f, xin + r0, pin, w->dhl[l], H, 1.0f, n->g + n->W[l].off + (size_t)r0 * H,
                 H);
    }
    for (int l = 0; l < L && w->pw; l++) {
        size_t nw = (size_t)(l ? h->layers[l - 1] : n->in) * h->layers[l], at = mlp_weight_at(n, l);
        size_t i0 = nw * t / nt, i1 = nw * (t + 1) / nt, P = mlp_weights(n);
        float *g = n->g + n->W[l].off;
        for (int c = 0; c < nc; c++) drec_kern->add(g + i0, g + i0, w->pw + c * P + at + i0, (int)(i1 - i0));
    }
    for (int l = 0; l <= L; l++) {
        /* l == L: the output weights, whose input is the last layer */
        int H = h->layers[l < L ? l : L - 1], j0, j1;
        const float *part = l < L ? w->pb[l] : w->pwo;
        float *g = n->g + (l < L ? n->b[l].off : n->Wo.off);
        cols_of(H, t, nt, &j0, &j1);
        for (int c = 0; c < nc; c++)
            for (int j = j0; j < j1; j++) g[j] += part[(size_t)c * H + j];
    }
}

/* The head over the chunk [b0, b1) in the fused step, after the MLP's
 * forward: each block forward, its rows' loss, and straight back while
 * its projections (outer products, for the CIN) are in cache, instead of
 * a second pass that remakes them; it sets the rows of dx0, which the
 * MLP's backward adds to. */
static void head_chunk(const net *n, const batch *bt, float inv, int b0, int b1, int t, work *w) {
    bool cin = n->hp.kind == K_XDEEPFM;
    for (int c = b0; c < b1; c += head_b(n)) {
        int c1 = DREC_MIN(b1, c + head_b(n));
        if (cin) cin_fwd_block(n, c, c1, t, true, w);
        else att_fwd_block(n, c, c1, t, true, w);
        for (int b = c; b < c1; b++) w->rowloss[b] = loss_row(bt, b, inv, w);
        if (cin) cin_bwd_block(n, c, c1, t, true, w);
        else att_bwd_block(n, c, c1, t, true, w);
    }
}

/* Sets up rowloss, dhl, pb, pwo and ps for the fused step. */
static void fused_work_init(work *w, const net *n, int cap) {
    int nc = (cap + CHUNK_ROWS - 1) / CHUNK_ROWS, L = n->hp.n_layers;
    w->rowloss = fz((size_t)cap);
    w->ps = fz((size_t)nc);
    for (int l = 0; has_deep(n) && l < L; l++) {
        w->dhl[l] = fz((size_t)cap * (size_t)n->hp.layers[l]);
        w->pb[l] = fz((size_t)nc * (size_t)n->hp.layers[l]);
    }
    if (has_deep(n)) w->pwo = fz((size_t)nc * (size_t)n->hp.layers[L - 1]);
    if (has_deep(n) && nc > 1) w->pw = fz((size_t)nc * mlp_weights(n));
}

/* One training step on a batch: forward, loss, backward, and (when u is
 * given) the updates; the sparse gradients as sparse_step leaves them.
 * Returns the batch's mean loss. */
static double train_step(net *n, const batch *bt, work *w, const step_hp *u, int *nu, int *ncu) {
    if (!fusable(n)) {
        forward(n, bt, true, w);
        double loss = loss_grad(bt, w);
        backward(n, bt, w);
        sparse_step(n, bt, w, u, nu, ncu);
        return loss;
    }
    const drec_featrows *fr = bt->fr;
    int B = bt->B, nc = (B + CHUNK_ROWS - 1) / CHUNK_ROWS, U = 0, CU = 0;
    bool deep = has_deep(n), fm = n->hp.kind == K_DEEPFM, cross = n->cross_buckets && fr->cross_ptr;
    bool head = has_head(n);
    float inv = 1.0f / (float)B;
    if (head) head_prepare(n, w);
    double work_est = (double)B * (n->F * (n->D + 1) + 3 * mlp_macs(n) + (cross ? w->max_cross : 0)) + n->n_w;
#pragma omp parallel num_threads(w->nt_cap) if (PAR(work_est))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int c = nc * t / nt; c < nc * (t + 1) / nt; c++) {
            int b0 = c * CHUNK_ROWS, b1 = DREC_MIN(B, b0 + CHUNK_ROWS);
            sparse_rows(n, bt, fm, b0, b1, w);
            if (deep) deep_fwd_rows(n, true, b0, b1, w);
            if (head) head_chunk(n, bt, inv, b0, b1, t, w);
            float s = 0;
            for (int b = b0; b < b1; b++) {
                if (!head) w->rowloss[b] = loss_row(bt, b, inv, w);
                s += w->dlogit[b];
            }
            w->ps[c] = s;
            if (deep) deep_bwd_rows(n, c, b0, b1, head ? 1.0f : 0.0f, w);
            else if (n->D && !head) memset(w->dx0 + (size_t)b0 * n->in, 0, (size_t)(b1 - b0) * n->in * sizeof(float));
            if (fm) fm_bwd_rows(n, b0, b1, w);
        }
#pragma omp barrier
        if (deep) deep_grads_part(n, B, nc, t, nt, w);
        if (head) head_grads(n, B, t, nt, w);
        if (t == 0) {
            float s = 0;
            for (int c = 0; c < nc; c++) s += w->ps[c];
            n->g[n->bias.off] += s;
            if (deep) n->g[n->bo.off] += s;
        }
        scatter_ids(n, bt, w, t, nt, &U);
        if (cross) scatter_crosses(n, bt, w, t, nt, &CU);
        if (u) {
#pragma omp barrier
            dense_update(n, u);
            sparse_update(n, w, u, U, CU);
        }
    }
    double loss = 0;
    for (int b = 0; b < B; b++) loss += (double)w->rowloss[b];
    *nu = U;
    *ncu = CU;
    return loss / B;
}

/* ---- training and inference -------------------------------------------- */

static void max_widths(const drec_featrows *fr, int *max_nnz, int *max_cross) {
    int F = fr->n_fields;
    int64_t mn = 1, mc = 1;
    for (size_t r = 0; r < fr->n; r++) {
        mn = DREC_MAX(mn, fr->ptr[(r + 1) * F] - fr->ptr[r * F]);
        if (fr->cross_ptr) mc = DREC_MAX(mc, fr->cross_ptr[r + 1] - fr->cross_ptr[r]);
    }
    *max_nnz = (int)mn;
    *max_cross = (int)mc;
}

/* Logits of rows[0..n) of fr (inference: no dropout, running BN stats). */
static void infer(const net *n, const drec_featrows *fr, const size_t *rows, size_t count, float *out) {
    int cap = (int)DREC_MIN((size_t)4096, count ? count : 1);
    int mnz, mcr;
    max_widths(fr, &mnz, &mcr);
    work w;
    net *nn = (net *)n; /* work_init reads only */
    work_init(&w, nn, cap, 0, 0);
    size_t *idx = drec_malloc((size_t)cap * sizeof *idx);
    for (size_t s = 0; s < count; s += (size_t)cap) {
        int B = (int)DREC_MIN((size_t)cap, count - s);
        for (int b = 0; b < B; b++) idx[b] = rows ? rows[s + b] : s + b;
        batch bt = {fr, idx, B};
        forward(n, &bt, false, &w);
        memcpy(out + s, w.logit, (size_t)B * sizeof *out);
    }
    free(idx);
    work_free(&w);
}

typedef struct scored_label {
    float s, y;
} scored_label;

static int cmp_sl(const void *a, const void *b) {
    float x = ((const scored_label *)a)->s, y = ((const scored_label *)b)->s;
    return x < y ? -1 : x > y;
}

/* ROC AUC with tied scores sharing their mean rank (used for --val). */
static double auc_of(const float *score, const float *label, const size_t *rows, size_t n) {
    scored_label *v = drec_malloc((n ? n : 1) * sizeof *v);
    for (size_t k = 0; k < n; k++) v[k] = (scored_label){score[k], label[rows ? rows[k] : k]};
    qsort(v, n, sizeof *v, cmp_sl);
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1].s == v[i].s) j++;
        double r = (double)(i + j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            if (v[k].y > 0.5f) {
                pos++;
                rank_sum += r;
            }
        i = j + 1;
    }
    free(v);
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0) return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/* Copies of the trainable values (for keeping the best epoch). */
typedef struct snapshot {
    float *w, *E, *lin, *wc, *bn[2 * MAX_LAYERS];
} snapshot;

static void snap_copy(float **dst, const float *src, size_t n) {
    if (!src) return;
    if (!*dst) *dst = drec_malloc(n * sizeof(float));
    memcpy(*dst, src, n * sizeof(float));
}

static void snap_take(snapshot *s, const net *n) {
    snap_copy(&s->w, n->w, (size_t)n->n_w);
    snap_copy(&s->E, n->E, (size_t)n->n_ids * (size_t)n->D);
    snap_copy(&s->lin, n->lin, (size_t)n->n_ids);
    if (n->xc && !s->wc) s->wc = drec_malloc((size_t)n->cross_buckets * sizeof *s->wc);
    if (n->xc) cross_weights_get(n, s->wc);
    for (int l = 0; n->hp.bn && l < n->hp.n_layers; l++) {
        snap_copy(&s->bn[2 * l], n->bn_mean[l], (size_t)n->hp.layers[l]);
        snap_copy(&s->bn[2 * l + 1], n->bn_var[l], (size_t)n->hp.layers[l]);
    }
}

static void snap_restore(const snapshot *s, net *n) {
    memcpy(n->w, s->w, (size_t)n->n_w * sizeof(float));
    if (n->E) memcpy(n->E, s->E, (size_t)n->n_ids * (size_t)n->D * sizeof(float));
    memcpy(n->lin, s->lin, (size_t)n->n_ids * sizeof(float));
    if (n->xc) cross_weights_set(n, s->wc);
    for (int l = 0; n->hp.bn && l < n->hp.n_layers; l++) {
        memcpy(n->bn_mean[l], s->bn[2 * l], (size_t)n->hp.layers[l] * sizeof(float));
        memcpy(n->bn_var[l], s->bn[2 * l + 1], (size_t)n->hp.layers[l] * sizeof(float));
    }
}

static void snap_free(snapshot *s) {
    free(s->w);
    free(s->E);
    free(s->lin);
    free(s->wc);
    for (int k = 0; k < 2 * MAX_LAYERS; k++) free(s->bn[k]);
}

static const char *const feature_keys[] = {"hash", "num", "cross", "cross_buckets", "pos", "neg"};

static drec_status ctr_fit(drec_model *m, const drec_dataset *train, const drec_params *p, int kind) {
    hyper h;
    drec_status st = read_hyper(p, kind, &h);
    if (st) return st;
    drec_params *fp = drec_params_clone(p);
    if (kind == K_WIDEDEEP && !drec_params_str(p, "cross", NULL)) drec_params_set(fp, "cross", h.part == 2 ? "none" : "all");
    ctr_state *s = drec_calloc(1, sizeof *s);
    st = drec_featcols_fit(train, fp, &s->cols);
    drec_params_free(fp);
    for (size_t k = 0; k < DREC_ARRAY_LEN(feature_keys); k++) drec_params_mark_used(p, feature_keys[k]);
    if (st) {
        free(s);
        return st;
    }
    m->state = s;
    drec_featrows fr;
    drec_featrows_build(&s->cols, train, NULL, 0, true, (uint64_t)h.seed, &fr);
    drec_verbose("%s: %zu rows, %d fields, %d ids, %.1f features and %.1f crosses per row", m->vt->name, fr.n,
                 s->cols.n_fields, s->cols.n_ids, fr.n ? (double)fr.ptr[fr.n * (size_t)fr.n_fields] / (double)fr.n : 0.0,
                 fr.n && fr.cross_ptr ? (double)fr.cross_ptr[fr.n] / (double)fr.n : 0.0);
    /* the internal validation split */
    size_t n_all = fr.n, *perm = drec_malloc(n_all * sizeof *perm);
    for (size_t r = 0; r < n_all; r++) perm[r] = r;
    drec_rng rng;
    drec_rng_seed2(&rng, (uint64_t)h.seed, 0x5911);
    size_t n_val = (size_t)((double)n_all * h.val), n_tr = n_all - n_val;
    if (n_val) drec_rng_shuffle_size(&rng, perm, n_all);
    size_t *val_rows = perm + n_tr;
    if (n_tr == 0) {
        free(perm);
        drec_featrows_free(&fr);
        return drec_fail(DREC_ERR_INPUT, "no training rows left after --val");
    }
    net *n = &s->net;
    net_layout(n, &h, s->cols.n_fields, s->cols.n_ids, kind == K_WIDEDEEP && s->cols.n_cross ? s->cols.cross_buckets : 0);
    net_init(n, (uint64_t)h.seed);
    int mnz, mcr, cap = (int)DREC_MIN((size_t)h.batch, n_tr);
    max_widths(&fr, &mnz, &mcr);
    work w;
    work_init(&w, n, cap, mnz, mcr);
    if (fusable(n)) fused_work_init(&w, n, cap);
    size_t *bidx = drec_malloc((size_t)cap * sizeof *bidx);
    long steps_per_epoch = (long)((n_tr + (size_t)cap - 1) / (size_t)cap), total = steps_per_epoch * h.epochs;
    float *vscore = n_val ? drec_malloc(n_val * sizeof *vscore) : NULL;
    snapshot snap = {0};
    double best = -INFINITY;
    int best_epoch = -1;
    memset(n->g, 0, (size_t)n->n_w * sizeof *n->g);
    for (int e = 0; e < h.epochs; e++) {
        drec_rng_shuffle_size(&rng, perm, n_tr);
        double loss = 0;
        for (size_t s0 = 0; s0 < n_tr; s0 += (size_t)cap) {
            int B = (int)DREC_MIN((size_t)cap, n_tr - s0);
            memcpy(bidx, perm + s0, (size_t)B * sizeof *bidx);
            batch bt = {&fr, bidx, B};
            step_hp u = step_of(n, lr_at(&h, n->step, total, e), (float)B);
            int U, CU;
            loss += train_step(n, &bt, &w, &u, &U, &CU) * B; /* also zeroes n->g for the next step */
            n->step++;
        }
        loss /= (double)n_tr;
        if (n_val) {
            infer(n, &fr, val_rows, n_val, vscore);
            double a = auc_of(vscore, fr.label, val_rows, n_val);
            drec_verbose("%s: epoch %d validation auc %.4f", m->vt->name, e + 1, a);
            if (a > best) {
                best = a;
                best_epoch = e;
                snap_take(&snap, n);
            }
        }
        bool stop = drec_fit_epoch(m, e, (int)h.epochs, loss);
        if (n_val && h.patience > 0 && e - best_epoch >= h.patience) {
            drec_note("%s: stopping early at epoch %d (best validation auc %.4f at epoch %d)", m->vt->name, e + 1,
                      best, best_epoch + 1);
            stop = true;
        }
        if (stop) break;
    }
    if (n_val && best_epoch >= 0) snap_restore(&snap, n);
    snap_free(&snap);
    free(vscore);
    free(bidx);
    work_free(&w);
    free(perm);
    drec_featrows_free(&fr);
    return DREC_OK;
}

static void ctr_predict(const drec_model *m, const drec_dataset *ds, const size_t *rows, size_t n, float *out) {
    const ctr_state *s = m->state;
    drec_featrows fr;
    drec_featrows_build(&s->cols, ds, rows, n, false, 0, &fr);
    infer(&s->net, &fr, NULL, fr.n, out);
    for (size_t k = 0; k < fr.n; k++) out[k] = 1.0f / (1.0f + expf(-out[k]));
    drec_featrows_free(&fr);
}

static void ctr_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const ctr_state *s = m->state;
    int32_t *all = NULL;
    if (!items) {
        n = m->n_items;
        all = drec_malloc((size_t)(n ? n : 1) * sizeof *all);
        for (int i = 0; i < n; i++) all[i] = i;
        items = all;
    }
    if (s->cols.src_ctr) {
        /* rows, not users: there is nothing to rank a user's items by */
        for (int k = 0; k < n; k++) out[k] = 0;
    } else {
        drec_featrows fr;
        drec_featrows_pairs(&s->cols, q->user, items, n, &fr);
        infer(&s->net, &fr, NULL, fr.n, out);
        drec_featrows_free(&fr);
    }
    free(all);
}

/* ---- model files ------------------------------------------------------------ */

static drec_status ctr_save(const drec_model *m, drec_mf_writer *wr) {
    ctr_state *s = m->state; /* only the model-file buffers are written */
    const drec_featcols *c = &s->cols;
    const net *n = &s->net;
    int32_t vals[META_LEN] = {c->src_ctr, c->n_fields, c->vocab, c->n_ids, c->hash, c->num_mode, c->n_src,
                              c->by_position, c->n_users, c->n_items, c->n_ufields, c->n_ifields, c->user_base,
                              c->item_base, c->neg, c->n_cross, c->cross_buckets};
    memcpy(s->meta, vals, sizeof vals);
    /* the writer reads its buffers when it finishes: keep them in the state */
    free(s->names_blob);
    size_t len = 0;
    for (int f = 0; f < c->n_fields; f++) len += strlen(c->field_names[f]) + 1;
    s->names_blob = drec_malloc(len + 1);
    char *p = s->names_blob;
    for (int f = 0; f < c->n_fields; f++) {
        size_t l = strlen(c->field_names[f]) + 1;
        memcpy(p, c->field_names[f], l);
        p += l;
    }
    int64_t nl = (int64_t)len;
    drec_status st = drec_mf_put(wr, "feat.names", DREC_DT_U8, s->names_blob, 1, &nl);
    if (!st) st = drec_mf_put_i32(wr, "feat.meta", s->meta, META_LEN);
    if (!st) st = drec_mf_put_f32(wr, "feat.pos", &c->pos, 1, 0);
    if (!st && c->src_ctr && c->n_src) {
        int64_t ns = c->n_src;
        st = drec_mf_put_i32(wr, "feat.src_field", c->src_field, c->n_src);
        if (!st) st = drec_mf_put_i32(wr, "feat.src_id", c->src_id, c->n_src);
        if (!st) st = drec_mf_put(wr, "feat.src_num", DREC_DT_U8, c->src_num, 1, &ns);
        if (!st) st = drec_mf_put_f32(wr, "feat.num_mean", c->num_mean, c->n_src, 0);
        if (!st) st = drec_mf_put_f32(wr, "feat.num_std", c->num_std, c->n_src, 0);
    }
    if (!st && !c->src_ctr) {
        int32_t un = c->uattr_ptr[c->n_users], in = c->iattr_ptr[c->n_items];
        st = drec_mf_put_i32(wr, "feat.uattr_ptr", c->uattr_ptr, c->n_users + 1);
        if (!st && un) st = drec_mf_put_i32(wr, "feat.uattr_field", c->uattr_field, un);
        if (!st && un) st = drec_mf_put_i32(wr, "feat.uattr_id", c->uattr_id, un);
        if (!st && un) st = drec_mf_put_f32(wr, "feat.uattr_val", c->uattr_val, un, 0);
        if (!st) st = drec_mf_put_i32(wr, "feat.iattr_ptr", c->iattr_ptr, c->n_items + 1);
        if (!st && in) st = drec_mf_put_i32(wr, "feat.iattr_field", c->iattr_field, in);
        if (!st && in) st = drec_mf_put_i32(wr, "feat.iattr_id", c->iattr_id, in);
        if (!st && in) st = drec_mf_put_f32(wr, "feat.iattr_val", c->iattr_val, in, 0);
    }
    if (!st && c->n_cross) st = drec_mf_put_i32(wr, "feat.cross_a", c->cross_a, c->n_cross);
    if (!st && c->n_cross) st = drec_mf_put_i32(wr, "feat.cross_b", c->cross_b, c->n_cross);
    if (!st) st = drec_mf_put_f32(wr, "w", n->w, n->n_w, 0);
    if (!st && n->E) st = drec_mf_put_f32(wr, "E", n->E, n->n_ids, n->D);
    if (!st) st = drec_mf_put_f32(wr, "lin", n->lin, n->n_ids, 0);
    if (!st && n->xc) {
        float *wc = drec_malloc((size_t)n->cross_buckets * sizeof *wc);
        cross_weights_get(n, wc);
        st = drec_mf_put_f32(wr, "wc", wc, n->cross_buckets, 0);
        free(wc);
    }
    for (int l = 0; !st && n->hp.bn && l < n->hp.n_layers; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "bn_mean%d", l);
        st = drec_mf_put_f32(wr, nm, n->bn_mean[l], n->hp.layers[l], 0);
        snprintf(nm, sizeof nm, "bn_var%d", l);
        if (!st) st = drec_mf_put_f32(wr, nm, n->bn_var[l], n->hp.layers[l], 0);
    }
    return st;
}

/* Copies tensor `name` of exactly n floats/ints into dst (allocated). */
static drec_status get_into(drec_mf_reader *r, const char *name, drec_mf_dtype dt, int64_t count, void **dst) {
    int64_t shape[1] = {count};
    const void *data;
    drec_status st = drec_mf_get(r, name, dt, 1, shape, &data);
    if (st) return st;
    size_t sz = dt == DREC_DT_U8 ? 1 : 4;
    if (!*dst) *dst = drec_malloc((size_t)(count ? count : 1) * sz);
    memcpy(*dst, data, (size_t)count * sz);
    return DREC_OK;
}

static drec_status get_2d(drec_mf_reader *r, const char *name, int64_t rows, int64_t cols, float *dst) {
    int64_t shape[2] = {rows, cols};
    const void *data;
    drec_status st = drec_mf_get(r, name, DREC_DT_F32, cols > 0 ? 2 : 1, shape, &data);
    if (!st) memcpy(dst, data, (size_t)rows * (size_t)(cols > 0 ? cols : 1) * sizeof(float));
    return st;
}

static drec_status ctr_load(drec_model *m, drec_mf_reader *r, int kind) {
    ctr_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    drec_featcols *c = &s->cols;
    int32_t *meta = NULL;
    drec_status st = get_into(r, "feat.meta", DREC_DT_I32, META_LEN, (void **)&meta);
    if (st) return st;
    c->src_ctr = meta[META_SRC];
    c->n_fields = meta[META_F];
    c->vocab = meta[META_VOCAB];
    c->n_ids = meta[META_IDS];
    c->hash = meta[META_HASH];
    c->num_mode = meta[META_NUM];
    c->n_src = meta[META_NSRC];
    c->by_position = meta[META_BYPOS];
    c->n_users = meta[META_U];
    c->n_items = meta[META_I];
    c->n_ufields = meta[META_UF];
    c->n_ifields = meta[META_IF];
    c->user_base = meta[META_UB];
    c->item_base = meta[META_IB];
    c->neg = meta[META_NEG];
    c->n_cross = meta[META_NCROSS];
    c->cross_buckets = meta[META_CB];
    free(meta);
    if (c->n_fields < 1 || c->n_ids != c->vocab + c->n_fields || c->n_src < 0 || c->n_cross < 0)
        return drec_fail(DREC_ERR_FORMAT, "feature columns in the model file are inconsistent");
    int64_t shape[1] = {0};
    const void *blob;
    st = drec_mf_get(r, "feat.names", DREC_DT_U8, 1, shape, &blob);
    if (st) return st;
    c->field_names = drec_calloc((size_t)c->n_fields, sizeof *c->field_names);
    const char *p = blob, *end = p + shape[0];
    for (int f = 0; f < c->n_fields; f++) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) return drec_fail(DREC_ERR_FORMAT, "field names in the model file are truncated");
        c->field_names[f] = drec_strdup(p);
        p = z + 1;
    }
    float *pos = NULL;
    st = get_into(r, "feat.pos", DREC_DT_F32, 1, (void **)&pos);
    if (st) return st;
    c->pos = *pos;
    free(pos);
    if (c->src_ctr && c->n_src) {
        st = get_into(r, "feat.src_field", DREC_DT_I32, c->n_src, (void **)&c->src_field);
        if (!st) st = get_into(r, "feat.src_id", DREC_DT_I32, c->n_src, (void **)&c->src_id);
        if (!st) st = get_into(r, "feat.src_num", DREC_DT_U8, c->n_src, (void **)&c->src_num);
        if (!st) st = get_into(r, "feat.num_mean", DREC_DT_F32, c->n_src, (void **)&c->num_mean);
        if (!st) st = get_into(r, "feat.num_std", DREC_DT_F32, c->n_src, (void **)&c->num_std);
        if (st) return st;
        for (int32_t f = 0; f < c->n_src; f++)
            if (c->src_id[f] >= c->vocab || (c->src_id[f] >= 0 && c->src_num[f] && !c->hash &&
                                             c->num_mode == DREC_NUM_BUCKET && c->src_id[f] + DREC_NUM_BUCKETS > c->vocab))
                return drec_fail(DREC_ERR_FORMAT, "feature id out of range in the model file");
    }
    if (!c->src_ctr) {
        st = get_into(r, "feat.uattr_ptr", DREC_DT_I32, c->n_users + 1, (void **)&c->uattr_ptr);
        if (!st) st = get_into(r, "feat.iattr_ptr", DREC_DT_I32, c->n_items + 1, (void **)&c->iattr_ptr);
        if (st) return st;
        int32_t un = c->uattr_ptr[c->n_users], in = c->iattr_ptr[c->n_items];
        if (un) st = get_into(r, "feat.uattr_field", DREC_DT_I32, un, (void **)&c->uattr_field);
        if (!st && un) st = get_into(r, "feat.uattr_id", DREC_DT_I32, un, (void **)&c->uattr_id);
        if (!st && un) st = get_into(r, "feat.uattr_val", DREC_DT_F32, un, (void **)&c->uattr_val);
        if (!st && in) st = get_into(r, "feat.iattr_field", DREC_DT_I32, in, (void **)&c->iattr_field);
        if (!st && in) st = get_into(r, "feat.iattr_id", DREC_DT_I32, in, (void **)&c->iattr_id);
        if (!st && in) st = get_into(r, "feat.iattr_val", DREC_DT_F32, in, (void **)&c->iattr_val);
        if (st) return st;
        for (int32_t k = 0; k < un; k++)
            if (c->uattr_id[k] < 0 || c->uattr_id[k] >= c->vocab || c->uattr_field[k] < 0 || c->uattr_field[k] >= c->n_fields)
                return drec_fail(DREC_ERR_FORMAT, "user attribute out of range in the model file");
        for (int32_t k = 0; k < in; k++)
            if (c->iattr_id[k] < 0 || c->iattr_id[k] >= c->vocab || c->iattr_field[k] < 0 || c->iattr_field[k] >= c->n_fields)
                return drec_fail(DREC_ERR_FORMAT, "item attribute out of range in the model file");
    }
    if (c->n_cross) {
        st = get_into(r, "feat.cross_a", DREC_DT_I32, c->n_cross, (void **)&c->cross_a);
        if (!st) st = get_into(r, "feat.cross_b", DREC_DT_I32, c->n_cross, (void **)&c->cross_b);
        if (st) return st;
        for (int x = 0; x < c->n_cross; x++)
            if (c->cross_a[x] < 0 || c->cross_a[x] >= c->n_fields || c->cross_b[x] < 0 || c->cross_b[x] >= c->n_fields)
                return drec_fail(DREC_ERR_FORMAT, "crossed column out of range in the model file");
    }
    hyper h;
    st = read_hyper(m->params, kind, &h);
    if (st) return st;
    net *n = &s->net;
    net_layout(n, &h, c->n_fields, c->n_ids, kind == K_WIDEDEEP && c->n_cross ? c->cross_buckets : 0);
    st = get_2d(r, "w", n->n_w, 0, n->w);
    if (!st && n->E) st = get_2d(r, "E", n->n_ids, n->D, n->E);
    if (!st) st = get_2d(r, "lin", n->n_ids, 0, n->lin);
    if (!st && n->xc) {
        float *wc = drec_malloc((size_t)n->cross_buckets * sizeof *wc);
        st = get_2d(r, "wc", n->cross_buckets, 0, wc);
        if (!st) cross_weights_set(n, wc);
        free(wc);
    }
    for (int l = 0; !st && h.bn && l < h.n_layers; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "bn_mean%d", l);
        st = get_2d(r, nm, h.layers[l], 0, n->bn_mean[l]);
        snprintf(nm, sizeof nm, "bn_var%d", l);
        if (!st) st = get_2d(r, nm, h.layers[l], 0, n->bn_var[l]);
    }
    return st;
}

static void ctr_free(drec_model *m) {
    ctr_state *s = m->state;
    if (!s) return;
    drec_featcols_free(&s->cols);
    net_free(&s->net);
    free(s->names_blob);
    free(s);
}

/* ---- gradient check (tests) ------------------------------------------------ */

#include "ctr.h"

/* Loss of the batch including the L2 term, at the current parameters. */
static double full_loss(net *n, const batch *bt, work *w) {
    forward(n, bt, true, w);
    double l = loss_grad(bt, w), reg = 0;
    for (int b = 0; b < bt->B; b++) {
        size_t r = bt->rows[b];
        for (int64_t q = bt->fr->ptr[r * n->F]; q < bt->fr->ptr[(r + 1) * n->F]; q++)
            for (int d = 0; d < n->D; d++) {
                float e = n->E[(size_t)bt->fr->idx[q] * n->D + d];
                reg += (double)e * e;
            }
    }
    return l + n->hp.reg * reg / bt->B;
}

double drec_ctr_att_check(int F) {
    enum { A = 32, NH = 2, NB = 2 };
    size_t nq = (size_t)NB * F * 4 * A, np = (size_t)NB * NH * F * F, no = (size_t)NB * F * A;
    float *x = drec_malloc(nq * sizeof *x), *dout = drec_malloc(no * sizeof *dout), *dp = drec_malloc(F * sizeof *dp);
    float *P[2], *out[2], *g[2];
    drec_rng rg;
    drec_rng_seed2(&rg, 11, 0xa7);
    for (size_t i = 0; i < nq; i++) x[i] = (float)drec_rng_normal(&rg);
    for (size_t i = 0; i < no; i++) dout[i] = (float)drec_rng_normal(&rg);
    for (int k = 0; k < 2; k++) {
        P[k] = drec_malloc(np * sizeof *P[k]);
        out[k] = drec_malloc(no * sizeof *out[k]);
        g[k] = drec_malloc(nq * sizeof *g[k]);
    }
    att_fwd_rows(x, NB, F, A, NH, P[0], out[0]); /* the vector path */
    att_bwd_rows(x, P[0], out[0], dout, NB, F, A, NH, g[0], dp);
    for (int b = 0; b < NB; b++) { /* the general one, as att_*_rows would call it */
        size_t xo = (size_t)b * F * 4 * A, oo = (size_t)b * F * A;
        att_fwd_one(x + xo, F, A, NH, P[1] + (size_t)b * NH * F * F, out[1] + oo);
        for (int i = 0; i < F; i++)
            for (int t = 0; t < A; t++)
                g[1][xo + (size_t)i * 4 * A + 3 * A + t] = out[1][oo + (size_t)i * A + t] > 0 ? dout[oo + (size_t)i * A + t] : 0;
        att_bwd_one(x + xo, P[1] + (size_t)b * NH * F * F, F, A, NH, g[1] + xo, dp);
    }
    double worst = 0;
    for (size_t i = 0; i < np; i++) worst = fmax(worst, fabs(P[0][i] - P[1][i]));
    for (size_t i = 0; i < no; i++) worst = fmax(worst, fabs(out[0][i] - out[1][i]));
    for (size_t i = 0; i < nq; i++) worst = fmax(worst, fabs(g[0][i] - g[1][i]));
    for (int k = 0; k < 2; k++) {
        free(P[k]);
        free(out[k]);
        free(g[k]);
    }
    free(x);
    free(dout);
    free(dp);
    return worst;
}

double drec_ctr_gradcheck(const char *model, bool bn, int *n_checked) {
    static const char *names[] = {"lr", "widedeep", "deepfm", "xdeepfm", "autoint"};
    int kind = -1;
    for (int k = 0; k < 5; k++)
        if (strcmp(model, names[k]) == 0) kind = k;
    if (kind < 0) return INFINITY;
    hyper h = {0};
    h.kind = kind;
    h.dim = 3;
    h.n_layers = kind == K_LR ? 0 : 2;
    h.layers[0] = 6;
    h.layers[1] = 5;
    h.n_cin = 2;
    h.cin[0] = 4;
    h.cin[1] = 3;
    h.att_layers = 2;
    h.att_dim = bn ? 32 : 4; /* heads 16 or 2 wide: the vector path and the general one */
    h.heads = 2;
    h.reg = 0.01;
    h.bn = bn;
    h.seed = 3;
    enum { F = 3, NIDS = 12 + F, CB = 7 };
    /* The fused step's batch (no batch norm) spans three chunks (two for
     * the costlier heads), so that the chunks' partial sums and the
     * threads' shares of the sparse rows are checked; deepfm's is one
     * chunk, for the MLP's weight gradients over the whole batch at once.
     * With batch norm, xdeepfm's and autoint's span three blocks, the
     * last one short. */
    const int NB = !bn && kind == K_DEEPFM ? CHUNK_ROWS - 24
                   : !bn                ? (kind == K_XDEEPFM || kind == K_AUTOINT ? 1 : 2) * CHUNK_ROWS + 52
                   : kind == K_XDEEPFM ? 2 * CIN_B + 7
                   : kind == K_AUTOINT ? 2 * ATT_B + 7
                                       : 5;
    /* rows: field 0 one-hot, field 1 multi-hot with weights, field 2 numeric */
    drec_featrows fr = {0};
    fr.n = NB;
    fr.n_fields = F;
    fr.ptr = drec_malloc((NB * F + 1) * sizeof *fr.ptr);
    fr.idx = drec_malloc(NB * 6 * sizeof *fr.idx);
    fr.val = drec_malloc(NB * 6 * sizeof *fr.val);
    fr.label = drec_malloc(NB * sizeof *fr.label);
    fr.cross_ptr = drec_malloc((NB + 1) * sizeof *fr.cross_ptr);
    fr.cross_idx = drec_malloc(NB * 2 * sizeof *fr.cross_idx);
    fr.cross_val = drec_malloc(NB * 2 * sizeof *fr.cross_val);
    int64_t at = 0;
    fr.ptr[0] = 0;
    fr.cross_ptr[0] = 0;
    for (int r = 0; r < NB; r++) {
        fr.idx[at] = r % 4;
        fr.val[at++] = 1;
        fr.ptr[r * F + 1] = at;
        fr.idx[at] = 4 + r % 3;
        fr.val[at++] = 0.5f;
        fr.idx[at] = 7 + (r * 2) % 4;
        fr.val[at++] = 0.5f;
        fr.ptr[r * F + 2] = at;
        fr.idx[at] = 11;
        fr.val[at++] = 0.3f + 0.4f * (float)(r % 5);
        fr.ptr[r * F + 3] = at;
        fr.label[r] = (float)(r % 2);
        fr.cross_idx[2 * r] = r % CB;
        fr.cross_idx[2 * r + 1] = (r + 3) % CB;
        fr.cross_val[2 * r] = fr.cross_val[2 * r + 1] = 1;
        fr.cross_ptr[r + 1] = 2 * (r + 1);
    }
    net n;
    net_layout(&n, &h, F, NIDS, kind == K_WIDEDEEP ? CB : 0);
    net_init(&n, 7);
    drec_rng rg;
    drec_rng_seed(&rg, 11);
    /* non-trivial first-order, cross and embedding values */
    for (int i = 0; i < NIDS; i++) n.lin[i] = (float)(0.3 * drec_rng_normal(&rg));
    for (int i = 0; i < NIDS * n.D; i++) n.E[i] = (float)(0.5 * drec_rng_normal(&rg));
    for (int i = 0; n.xc && i < CB; i++) n.xc[i].w = (float)(0.3 * drec_rng_normal(&rg));
    for (int i = 0; i < n.n_w; i++) n.w[i] *= 2.0f; /* away from zero */
    work w;
    work_init(&w, &n, NB, 6, 2);
    if (fusable(&n)) fused_work_init(&w, &n, NB);
    size_t *rows = drec_malloc((size_t)NB * sizeof *rows);
    for (int r = 0; r < NB; r++) rows[r] = (size_t)r;
    batch bt = {&fr, rows, NB};
    int U, CU;
    double worst = 0;
    float *gd = drec_malloc((size_t)n.n_w * sizeof *gd), *dx_layer = NULL;
    if (fusable(&n)) {
        /* the layer-by-layer step's dense gradient, which the fused step's
         * must match to rounding (a missed chunk or block would be off by
         * its share, too little for the finite differences to see) */
        n.by_layer = true;
        memset(n.g, 0, (size_t)n.n_w * sizeof *n.g);
        train_step(&n, &bt, &w, NULL, &U, &CU);
        memcpy(gd, n.g, (size_t)n.n_w * sizeof *gd);
        dx_layer = drec_malloc((size_t)NB * n.in * sizeof *dx_layer);
        memcpy(dx_layer, w.dx0, (size_t)NB * n.in * sizeof *dx_layer);
        for (int u = 0; u < U; u++)
            if (w.uniq[u] >= 0) w.slot[w.uniq[u]] = -1;
        for (int u = 0; u < CU; u++)
            if (w.cuniq[u] >= 0) n.xc[w.cuniq[u]].slot = -1;
        /* nothing the fused step should write may pass for written */
        size_t nc = (NB + CHUNK_ROWS - 1) / CHUNK_ROWS;
        for (size_t i = 0; w.cpart && i < nc * cin_weights(&n); i++) w.cpart[i] = NAN;
        for (size_t i = 0; w.apart && i < nc * att_part(&n, NULL); i++) w.apart[i] = NAN;
        for (size_t i = 0; w.pw && i < nc * mlp_weights(&n); i++) w.pw[i] = NAN;
        for (size_t i = 0; i < (size_t)NB * n.in; i++) w.dx0[i] = NAN;
        n.by_layer = false;
    }
    memset(n.g, 0, (size_t)n.n_w * sizeof *n.g);
    train_step(&n, &bt, &w, NULL, &U, &CU);
    /* |fused - layer by layer| in units of rounding-size tolerance; NaN counts as a miss */
#define SAME(a, b) (fabs((double)(a) - (b)) <= 1e-6 + 1e-3 * fabs((double)(b)) ? 0.0 : 2.0)
    for (int i = 0; dx_layer && i < n.n_w; i++) worst = DREC_MAX(worst, SAME(n.g[i], gd[i]));
    for (size_t i = 0; dx_layer && i < (size_t)NB * n.in; i++) worst = DREC_MAX(worst, SAME(w.dx0[i], dx_layer[i]));
#undef SAME
    free(dx_layer);
    memcpy(gd, n.g, (size_t)n.n_w * sizeof *gd);
    float *gE = drec_calloc((size_t)NIDS * (n.D ? n.D : 1), sizeof *gE), gL[NIDS] = {0}, gC[CB] = {0};
    for (int u = 0; u < U; u++) {
        if (w.uniq[u] < 0) continue;
        gL[w.uniq[u]] = w.G1[u];
        for (int d = 0; d < n.D; d++) gE[w.uniq[u] * n.D + d] = w.G[u * n.D + d];
        w.slot[w.uniq[u]] = -1;
    }
    for (int u = 0; u < CU; u++) {
        if (w.cuniq[u] < 0) continue;
        gC[w.cuniq[u]] = w.CG[u] / NB;
        n.xc[w.cuniq[u]].slot = -1;
    }
    int checked = 0;
    const double eps = getenv("DREC_GC_EPS") ? atof(getenv("DREC_GC_EPS")) : 3e-4;
#define CHECK_ONE(ptr, analytic)                                                      \
    do {                                                                              \
        float keep_ = *(ptr);                                                         \
        *(ptr) = (float)(keep_ + eps);                                                \
        double lp_ = full_loss(&n, &bt, &w);                                          \
        *(ptr) = (float)(keep_ - eps);                                                \
        double lm_ = full_loss(&n, &bt, &w);                                          \
        *(ptr) = keep_;                                                               \
        double num_ = (lp_ - lm_) / (2 * eps), an_ = (analytic);                      \
        double err_ = fabs(num_ - an_) / (2e-3 + 0.03 * fabs(num_));                  \
        if (err_ > worst) worst = err_;                                               \
        if (err_ > 1 && getenv("DREC_GRADCHECK_VERBOSE"))                             \
            fprintf(stderr, "%s: %s analytic %.6g numeric %.6g\n", model, #ptr, an_, num_); \
        checked++;                                                                    \
    } while (0)
    for (int i = 0; i < n.n_w; i += (n.n_w > 400 ? 3 : 1)) CHECK_ONE(&n.w[i], gd[i]);
    for (int i = 0; i < NIDS * n.D; i++) CHECK_ONE(&n.E[i], gE[i]);
    for (int i = 0; i < NIDS; i++) CHECK_ONE(&n.lin[i], gL[i]);
    for (int i = 0; n.xc && i < CB; i++) CHECK_ONE(&n.xc[i].w, gC[i]);
#undef CHECK_ONE
    if (n_checked) *n_checked = checked;
    free(gd);
    free(gE);
    free(rows);
    work_free(&w);
    net_free(&n);
    drec_featrows_free(&fr);
    return worst;
}

/* ---- the vtables ----------------------------------------------------------- */

#define CTR_MODEL(NAME, KIND, SUMMARY)                                                                   \
    static drec_status NAME##_fit(drec_model *m, const drec_dataset *t, const drec_params *p) {          \
        drec_status st = ctr_fit(m, t, p, KIND);                                                         \
        return st;                                                                                       \
    }                                                                                                    \
    static drec_status NAME##_load(drec_model *m, drec_mf_reader *r) { return ctr_load(m, r, KIND); }    \
    const drec_model_vt drec_##NAME##_vt = {                                                             \
        .name = #NAME,                                                                                   \
        .summary = SUMMARY,                                                                              \
        .caps = DREC_CAP_CTR | DREC_CAP_RANK | DREC_CAP_OWN_VAL,                                                            \
        .fit = NAME##_fit,                                                                               \
        .score = ctr_score,                                                                              \
        .predict = ctr_predict,                                                                          \
        .save = ctr_save,                                                                                \
        .load = NAME##_load,                                                                             \
        .free_state = ctr_free,                                                                          \
    };

CTR_MODEL(lr, K_LR, "logistic regression over feature columns (Adam/AdaGrad)")
CTR_MODEL(widedeep, K_WIDEDEEP, "wide & deep: FTRL linear over features and crosses + embedding MLP (Cheng et al. 2016)")
CTR_MODEL(deepfm, K_DEEPFM, "DeepFM: first order + FM + MLP over shared field embeddings (Guo et al. 2017)")
CTR_MODEL(xdeepfm, K_XDEEPFM, "xDeepFM: linear + Compressed Interaction Network (--cin) + MLP (Lian et al. 2018)")
CTR_MODEL(autoint, K_AUTOINT, "AutoInt: multi-head self-attention over field embeddings, residual (+ MLP) (Song et al. 2019)")
