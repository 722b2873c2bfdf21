/*
 * tensor.h — the numerical engine: arena memory, tensors, parameters, the
 * autograd tape, every differentiable op, optimizers, schedules and
 * initialisers.  The one internal header a gradient-trained model includes.
 *
 * A training step, start to finish:
 *
 *     drec_tape tp;  drec_tape_init(&tp, 0);           // once
 *     drec_param *E = drec_param_new("item_emb", n_items, 64, DREC_PARAM_SPARSE);
 *     drec_param *W = drec_param_new("w1", 64, 32, 0), *b = drec_param_new("b1", 1, 32, 0);
 *     drec_init_normal(E, &rng, 0, 0.01f); drec_init_xavier_uniform(W, &rng);
 *     drec_optim *opt = drec_optim_new(&cfg);            // cfg = drec_optim_defaults(DREC_OPT_ADAM)
 *     drec_optim_add(opt, E); drec_optim_add(opt, W); drec_optim_add(opt, b);
 *     for (each batch) {
 *         drec_tape_reset(&tp);                          // frees the last step's tensors
 *         drec_tensor *ids = drec_ifrom(&tp, batch_items, B);     // int32 [B]
 *         drec_tensor *y   = drec_tfrom(&tp, batch_labels, B, 1); // f32 [B,1], no grad
 *         drec_tensor *h = drec_embedding(&tp, E, ids);           // [B,64]
 *         h = drec_linear(&tp, h, drec_pt(W), drec_pt(b), DREC_ACT_RELU); // [B,32]
 *         ...
 *         drec_tensor *loss = drec_bce_logits(&tp, logit, y, NULL);    // [1]
 *         drec_backward(&tp, loss);                      // grads into params (+=)
 *         drec_optim_step(opt);                          // update, then zero grads
 *     }
 *
 * Every op computes its forward at once and, when any input needs a
 * gradient, records a node on the tape whose backward ADDS into the inputs'
 * gradients (llm.c / ggml convention: backward accumulates, the optimizer
 * zeroes).  All op outputs live in the tape's arena and die at the next
 * drec_tape_reset; after the first step or two the arena has grown to fit
 * and a step allocates nothing from the heap.
 *
 * Shape legend (row-major, contiguous, last index fastest):
 *   B  batch rows         D  feature / embedding width    N  table rows
 *   H  heads              T  sequence length              Dh head width (D = H*Dh)
 *   K  inner dim of a product   C  classes                S  sampled negatives
 * A "row" of a tensor is its last dimension; rows(t) = t->n / cols(t).
 *
 * Errors: shape mismatches are bugs in the calling model, not bad user
 * input, so ops check shapes with DREC_ASSERT (message on stderr, abort),
 * as ggml does.  Nothing here prints to stdout or exits normally.
 *
 * Threads: ops parallelise over rows with OpenMP (static partitions, no
 * cross-thread reductions, or per-thread partials summed in thread order),
 * so the same inputs, seed and thread count give bit-identical results.
 * Dense products go to OpenBLAS sgemm (blas.h); small vector loops go to
 * the SIMD kernels (kernels.h), whose scalar reference path is selectable
 * with DREC_KERNELS=scalar or drec_kernels_select("scalar").
 */
#ifndef DREC_TENSOR_H
#define DREC_TENSOR_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

#define DREC_ASSERT(cond)                                                            \
    do {                                                                             \
        if (!(cond)) drec_assert_fail(__FILE__, __LINE__, #cond);                    \
    } while (0)
void drec_assert_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Runs a for statement across OpenMP threads (static schedule) when cond
 * holds and more than one thread is allowed, inline otherwise.  Not `omp
 * parallel for if(cond)`: libgomp allocates a team for every serialised or
 * one-thread region, and a training step must make no heap calls.  DREC_PAR
 * does the same for an `omp parallel` block (which reads omp_get_thread_num
 * / omp_get_num_threads: 0 and 1 inline). */
#define DREC_PAR_FOR(cond, ...)                                                      \
    do {                                                                             \
        if ((cond) && drec_threads() > 1) {                                          \
            _Pragma("omp parallel for schedule(static)") __VA_ARGS__                 \
        } else {                                                                     \
            __VA_ARGS__                                                              \
        }                                                                            \
    } while (0)
/* Runs body over [i0, i1) chunks of DREC_CHUNK of n elements, split in
 * contiguous parts (one a thread) from drec_split_min() elements: the same
 * thread touches the same part of every buffer from pass to pass, so a
 * chain of passes keeps each part in one core's cache. */
#define DREC_CHUNK 4096
#define DREC_PAR_CHUNKS(n, body)                                                     \
    DREC_PAR_FOR((n) >= drec_split_min(), for (int64_t i0 = 0; i0 < (n); i0 += DREC_CHUNK) { \
        int64_t i1 = DREC_MIN((n), i0 + DREC_CHUNK);                                 \
        body                                                                         \
    })
#define DREC_PAR_FOR_DYN(cond, ...)                                                  \
    do {                                                                             \
        if ((cond) && drec_threads() > 1) {                                          \
            _Pragma("omp parallel for schedule(dynamic, 64)") __VA_ARGS__            \
        } else {                                                                     \
            __VA_ARGS__                                                              \
        }                                                                            \
    } while (0)
#define DREC_PAR(cond, ...)                                                          \
    do {                                                                             \
        if ((cond) && drec_threads() > 1) {                                          \
            _Pragma("omp parallel") __VA_ARGS__                                      \
        } else {                                                                     \
            __VA_ARGS__                                                              \
        }                                                                            \
    } while (0)

/* ---- arena (arena.c) ------------------------------------------------------
 * A bump allocator for everything one step allocates.  Blocks are 64-byte
 * aligned.  When a step outgrows the block, extra chunks are malloc'd; the
 * next reset frees them and regrows the main block to the high-water mark,
 * so the steady state makes no heap calls at all. */
typedef struct drec_arena_chunk drec_arena_chunk;
typedef struct drec_arena {
    char *base;
    size_t used, cap;
    size_t spill;               /* bytes in extra chunks this step */
    size_t peak;                /* largest step so far (bytes) */
    drec_arena_chunk *extra;    /* overflow chunks, freed at reset */
} drec_arena;
void drec_arena_init(drec_arena *a, size_t initial_bytes);
void *drec_arena_alloc(drec_arena *a, size_t bytes);  /* uninitialised */
void *drec_arena_calloc(drec_arena *a, size_t bytes); /* zeroed */
void drec_arena_reset(drec_arena *a);
void drec_arena_free(drec_arena *a);

/* ---- tensors ---------------------------------------------------------------- */
typedef enum { DREC_F32 = 0, DREC_I32 = 1 } drec_dtype;
#define DREC_MAX_DIMS 4

struct drec_param;
typedef struct drec_tensor {
    float *data;            /* F32 values (n floats); NULL for I32 */
    int32_t *idx;           /* I32 values (n ints);   NULL for F32 */
    float *grad;            /* dL/d(data), n floats; NULL until backward reaches it */
    int64_t n;              /* element count */
    int ndim;
    int shape[DREC_MAX_DIMS];
    drec_dtype dtype;
    bool requires_grad;     /* some parameter or leaf upstream wants a gradient */
    struct drec_param *param; /* set when this is a parameter's value tensor */
} drec_tensor;

static inline int drec_cols(const drec_tensor *t) { return t->shape[t->ndim - 1]; }
static inline int64_t drec_rows(const drec_tensor *t) {
    return t->shape[t->ndim - 1] ? t->n / t->shape[t->ndim - 1] : 0;
}

/* ---- parameters (tensor.c) ------------------------------------------------
 * A parameter owns its value, its gradient (same shape, zeroed by the
 * optimizer after each step) and its optimizer state (optim.c).  All of it
 * is heap memory that outlives the tape; free with drec_param_free.
 *
 * DREC_PARAM_SPARSE marks an embedding table.  Its gradient is row-sparse:
 * embedding ops record each touched row once (first-touch order, in
 * touched[]) and accumulate its gradient in a compact buffer, row k of
 * sgrad belonging to table row touched[k]; the optimizers update only those
 * rows (lazy updates: a step is O(batch), not O(table)).  t.grad stays NULL
 * until a dense op uses the table (say, a full softmax over all items);
 * then a dense gradient is allocated, all_touched is set and the step
 * updates every row.  drec_param_grad_dense() gives the whole gradient in
 * table layout (tests, inspection).
 *
 * An embedding's backward assigns the slots at once but leaves the rows'
 * gradients where they are (the op's output gradient, in the tape's arena):
 * up to DREC_PARAM_PENDING such pending segments are added into sgrad only
 * when something reads it (drec_param_flush: the optimizer, the gradient
 * norm, drec_param_touch, the tape's reset), and plain SGD applies them to
 * the rows without the compact copy at all; zeroing the gradient just drops
 * them.  PyTorch's sparse embedding gradient defers the same way. */
enum { DREC_PARAM_SPARSE = 1 };
#define DREC_PARAM_PENDING 8
struct drec_tape;
typedef struct drec_param_pending {
    const int32_t *slots; /* (m) each source row's slot; ~slot: the slot's first contribution (copy) */
    const float *src;     /* (m, cols) */
    int64_t m;
} drec_param_pending;
typedef struct drec_param {
    drec_tensor t;          /* value tensor: t.data = value, t.grad = gradient (see above) */
    char name[48];
    unsigned flags;
    /* row-sparse gradient (sparse params only) */
    int32_t *touched;       /* (cap_touched) rows touched this step, first-touch order */
    int32_t n_touched, cap_touched;
    int32_t *slot;          /* (rows) index into touched/sgrad, -1 if untouched */
    float *sgrad;           /* (cap_touched, cols) gradient rows, in touched[] order */
    bool all_touched;       /* a dense op used this table this step */
    drec_param_pending pend[DREC_PARAM_PENDING]; /* contributions not yet in sgrad, in order */
    int n_pend;
    bool sgrad_written;     /* sgrad holds contributions this step (not only pending ones) */
    struct drec_tape *pend_tape; /* the tape whose arena holds the pending sources */
    /* optimizer state, allocated by drec_optim_add (NULL until then) */
    float *s1, *s2;         /* e.g. Adam m/v, FTRL z/n, momentum buffer */
} drec_param;

/* A [rows, cols] parameter, value zeroed.  name is copied (truncated). */
drec_param *drec_param_new(const char *name, int rows, int cols, unsigned flags);
void drec_param_free(drec_param *p);
static inline drec_tensor *drec_pt(drec_param *p) { return &p->t; }
static inline bool drec_param_sparse(const drec_param *p) { return p->flags & DREC_PARAM_SPARSE; }
/* Zeroes the gradient (for a sparse table: forgets the touched rows). */
void drec_param_zero_grad(drec_param *p);
/* Grows the touched-row buffers (rarely: only when a step touches more
 * distinct rows than any before). */
void drec_param_grow_touched(drec_param *p);
/* Adds the pending contributions into sgrad (see above); a no-op without. */
void drec_param_flush(drec_param *p);
/* Row r of a sparse table touched: returns its gradient row (zeroed on the
 * first touch of the step).  Embedding ops call this. */
static inline float *drec_param_touch(drec_param *p, int32_t r) {
    if (p->n_pend) drec_param_flush(p);
    p->sgrad_written = true;
    int32_t s = p->slot[r];
    int d = p->t.shape[1];
    if (s < 0) {
        if (p->n_touched == p->cap_touched) drec_param_grow_touched(p);
        s = p->n_touched++;
        p->slot[r] = s;
        p->touched[s] = r;
        memset(p->sgrad + (int64_t)s * d, 0, (size_t)d * sizeof(float));
    }
    return p->sgrad + (int64_t)s * d;
}
/* The whole gradient in table layout (rows x cols floats) into out. */
void drec_param_grad_dense(drec_param *p, float *out);

/* Initialisers.  fan_in = rows, fan_out = cols for a [in, out] weight. */
void drec_init_zeros(drec_param *p);
void drec_init_const(drec_param *p, float v);
void drec_init_normal(drec_param *p, drec_rng *r, float mean, float std);
void drec_init_uniform(drec_param *p, drec_rng *r, float lo, float hi);
void drec_init_xavier_uniform(drec_param *p, drec_rng *r); /* U(+-sqrt(6/(in+out))) */
void drec_init_xavier_normal(drec_param *p, drec_rng *r);  /* N(0, 2/(in+out)) */
void drec_init_he_uniform(drec_param *p, drec_rng *r);     /* U(+-sqrt(6/in)) */
void drec_init_he_normal(drec_param *p, drec_rng *r);      /* N(0, 2/in) */

/* ---- the tape (tensor.c) ---------------------------------------------------
 * Holds the step arena and the recorded nodes.  `training` switches
 * dropout and batch norm between train and eval behaviour; `rng` drives
 * dropout (seed it once; it advances each step). */
struct drec_node;
struct drec_tape;
typedef void (*drec_backward_fn)(struct drec_tape *tp, struct drec_node *nd);
typedef struct drec_node {
    drec_backward_fn backward;
    drec_tensor *out;
    drec_tensor *in[4];
    void *saved;            /* op-specific, in the arena */
    float f[4];
    int i[4];
    struct drec_node *prev;
} drec_node;

typedef struct drec_tape {
    drec_arena arena;
    drec_node *last;
    int n_nodes;
    bool training;
    bool no_grad;           /* set to record nothing (inference) */
    drec_rng rng;
    const float *seed;      /* the caller's seed buffer while backward runs (read-only) */
    struct drec_param *pend[16]; /* params holding pending gradients from this tape's arena */
    int n_pend;
} drec_tape;
/* Defers a sparse table's gradient rows (slots, src: m rows, in tp's arena);
 * adds them at once when the param or the tape has no room left. */
void drec_param_defer(drec_tape *tp, struct drec_param *p, const int32_t *slots, const float *src, int64_t m);

/* initial_bytes = 0 picks 1 MiB; the arena grows to fit. */
void drec_tape_init(drec_tape *tp, size_t initial_bytes);
void drec_tape_reset(drec_tape *tp);
void drec_tape_free(drec_tape *tp);
/* Runs the tape backward from a scalar (n == 1) loss with dL/dloss = 1. */
void drec_backward(drec_tape *tp, drec_tensor *loss);
/* Same from any tensor, with dL/dout = seed (out->n floats), which must stay
 * unchanged until the tape is reset (it may serve as out->grad itself).
 * Tests and benchmarks use it. */
void drec_backward_seed(drec_tape *tp, drec_tensor *out, const float *seed);

/* Tensor creation — all memory from the arena, dead at the next reset. */
drec_tensor *drec_tnew(drec_tape *tp, int ndim, const int *shape);   /* uninitialised */
drec_tensor *drec_t2(drec_tape *tp, int rows, int cols);            /* uninitialised */
drec_tensor *drec_zeros(drec_tape *tp, int rows, int cols);
/* Wraps caller memory [rows, cols] without copying; no gradient. */
drec_tensor *drec_tfrom(drec_tape *tp, const float *data, int rows, int cols);
/* Copies data into the arena as a leaf that collects a gradient in ->grad. */
drec_tensor *drec_leaf(drec_tape *tp, const float *data, int rows, int cols);
/* Wraps caller int32 ids [n] without copying. */
drec_tensor *drec_ifrom(drec_tape *tp, const int32_t *idx, int n);
drec_tensor *drec_inew(drec_tape *tp, int n);
/* Arena scratch for op implementations. */
static inline float *drec_tape_floats(drec_tape *tp, int64_t n) {
    return drec_arena_alloc(&tp->arena, (size_t)n * sizeof(float));
}
/* Records a node (ops call this; returns NULL when nothing needs a grad). */
drec_node *drec_tape_record(drec_tape *tp, drec_backward_fn fn, drec_tensor *out,
                            drec_tensor *a, drec_tensor *b, drec_tensor *c, drec_tensor *d);
/* Records unconditionally (for ops with more than four inputs, which decide
 * themselves whether any needs a gradient); NULL when tp->no_grad. */
drec_node *drec_tape_push(drec_tape *tp, drec_backward_fn fn, drec_tensor *out);
/* The gradient buffer of t, allocated zeroed on first use (backward only). */
float *drec_grad(drec_tape *tp, drec_tensor *t);
/* For a backward that writes every element of t's gradient: when this is
 * the first contribution (no buffer yet) the buffer comes uninitialised and
 * *assign is set, so the op stores (=) instead of adding (+=) and no memset
 * is spent; later contributors find the buffer and add. */
float *drec_grad_first(drec_tape *tp, drec_tensor *t, bool *assign);
/* For an element-wise backward (t's gradient element i depends on the
 * output gradient g's element i only): when t has no gradient yet, t takes
 * g's buffer itself and this returns true; the op then leaves it as it is
 * (an add's pass-through) or overwrites it in place with its contribution,
 * after every other read of g.  No copy, and the step's working set shrinks
 * by a buffer.  Safe because backward visits nodes newest first: an op's
 * output gradient is complete when its node runs and never read after.
 * Not for parameters, nor for the caller's seed (read-only). */
bool drec_grad_share(drec_tape *tp, drec_tensor *t, float *g);

/* ---- ops -------------------------------------------------------------------
 * Every op returns a new tensor from the arena.  "(grad: x, W)" lists the
 * inputs that receive gradients; int tensors never do. */

/* Embeddings.  table [N,D] sparse or dense param; ids int [B] -> [B,D].
 * Out-of-range ids abort (the data layer maps ids to 0..N-1). */
drec_tensor *drec_embedding(drec_tape *tp, drec_param *table, drec_tensor *ids);
/* Embedding-bag: bag b is ids[offsets[b] .. offsets[b+1]), offsets int [B+1],
 * optional per-id weights f32 [nnz] (no grad); mode sum or mean -> [B,D].
 * An empty bag gives a zero row. */
typedef enum { DREC_BAG_SUM = 0, DREC_BAG_MEAN = 1 } drec_bag_mode;
drec_tensor *drec_embedding_bag(drec_tape *tp, drec_param *table, drec_tensor *ids,
                                drec_tensor *offsets, drec_tensor *weights, drec_bag_mode mode);

/* Dense products (BLAS).  Activation fused into linear where it pays. */
typedef enum { DREC_ACT_NONE = 0, DREC_ACT_RELU, DREC_ACT_SIGMOID, DREC_ACT_TANH } drec_act;
/* x [B,K], W [K,D], b [1,D] or NULL -> act(x W + b) [B,D] (grad: x, W, b) */
drec_tensor *drec_linear(drec_tape *tp, drec_tensor *x, drec_tensor *W, drec_tensor *b, drec_act act);
/* a [M,K] (or [K,M] if ta), b [K,N] (or [N,K] if tb) -> [M,N] (grad: a, b) */
drec_tensor *drec_matmul(drec_tape *tp, drec_tensor *a, drec_tensor *b, bool ta, bool tb);
/* Batched: a [G,M,K], b [G,K,N] (transposes per matrix as above) -> [G,M,N] */
drec_tensor *drec_bmm(drec_tape *tp, drec_tensor *a, drec_tensor *b, bool ta, bool tb);

/* Element-wise binary ops.  b has a's shape, or is a row vector [1,D]
 * (broadcast down the rows), a column [R,1] (across the columns) or a
 * scalar [1]; a is viewed as [R,D] with D = cols(a).  Output has a's shape. */
drec_tensor *drec_add(drec_tape *tp, drec_tensor *a, drec_tensor *b);
drec_tensor *drec_sub(drec_tape *tp, drec_tensor *a, drec_tensor *b);
drec_tensor *drec_mul(drec_tape *tp, drec_tensor *a, drec_tensor *b);
drec_tensor *drec_div(drec_tape *tp, drec_tensor *a, drec_tensor *b);
drec_tensor *drec_scale(drec_tape *tp, drec_tensor *a, float s);        /* s*a */
drec_tensor *drec_add_scalar(drec_tape *tp, drec_tensor *a, float s);   /* a+s */

/* Activations (same shape). */
drec_tensor *drec_relu(drec_tape *tp, drec_tensor *x);
drec_tensor *drec_leaky_relu(drec_tape *tp, drec_tensor *x, float slope);
drec_tensor *drec_gelu(drec_tape *tp, drec_tensor *x);     /* exact (erf) form */
drec_tensor *drec_sigmoid(drec_tape *tp, drec_tensor *x);
drec_tensor *drec_tanh(drec_tape *tp, drec_tensor *x);
drec_tensor *drec_softmax(drec_tape *tp, drec_tensor *x);     /* over each row */
drec_tensor *drec_log_softmax(drec_tape *tp, drec_tensor *x); /* over each row */
/* Inverted dropout: keeps with prob 1-p and scales by 1/(1-p); identity when
 * !tp->training or p == 0.  Draws from tp->rng. */
drec_tensor *drec_dropout(drec_tape *tp, drec_tensor *x, float p);

/* Normalisation over each row [R,D]: gamma, beta [1,D] (grad: x, gamma, beta). */
drec_tensor *drec_layer_norm(drec_tape *tp, drec_tensor *x, drec_tensor *gamma, drec_tensor *beta, float eps);
/* Batch norm over the rows of x [B,D].  Training: batch statistics (biased
 * variance), and running_mean/var [D] (plain float buffers owned by the
 * caller) move by `momentum` (torch convention, unbiased var).  Eval: uses
 * the running statistics.  gamma, beta [1,D]. */
drec_tensor *drec_batch_norm(drec_tape *tp, drec_tensor *x, drec_tensor *gamma, drec_tensor *beta,
                             float *running_mean, float *running_var, float momentum, float eps);

/* Shape ops.  Concat/split/slice along columns (axis 1) or rows (axis 0) of
 * 2-D views [R,D]; reshape keeps the data order. */
drec_tensor *drec_concat(drec_tape *tp, drec_tensor **xs, int n, int axis);
drec_tensor *drec_slice(drec_tape *tp, drec_tensor *x, int axis, int start, int len);
/* Splits into n equal parts along axis; writes them to out[0..n). */
void drec_split(drec_tape *tp, drec_tensor *x, int axis, int n, drec_tensor **out);
drec_tensor *drec_reshape(drec_tape *tp, drec_tensor *x, int ndim, const int *shape);
drec_tensor *drec_reshape2(drec_tape *tp, drec_tensor *x, int rows, int cols);

/* Reductions. */
drec_tensor *drec_rowdot(drec_tape *tp, drec_tensor *a, drec_tensor *b); /* [R,D],[R,D] -> [R,1] */
drec_tensor *drec_sum(drec_tape *tp, drec_tensor *x);                   /* -> [1] */
drec_tensor *drec_mean(drec_tape *tp, drec_tensor *x);                  /* -> [1] */
drec_tensor *drec_sum_rows(drec_tape *tp, drec_tensor *x);  /* [R,D] -> [R,1] (sum of each row) */
drec_tensor *drec_sum_cols(drec_tape *tp, drec_tensor *x);  /* [R,D] -> [1,D] (sum down columns) */
/* x [R,D], idx int [M] -> x[idx] [M,D] */
drec_tensor *drec_gather_rows(drec_tape *tp, drec_tensor *x, drec_tensor *idx);
/* src [M,D], idx int [M] -> out [R,D] with out[idx[m]] += src[m] */
drec_tensor *drec_scatter_add_rows(drec_tape *tp, drec_tensor *src, drec_tensor *idx, int R);

/* Graph propagation.  A CSR matrix [n_rows, n_cols] with float values and
 * its transpose (for backward), built once outside the step. */
typedef struct drec_csr {
    int32_t n_rows, n_cols;
    int64_t nnz;
    int64_t *ptr;  int32_t *col;  float *val;    /* A   */
    int64_t *tptr; int32_t *tcol; float *tval;   /* A^T */
} drec_csr;
/* Copies (rows, cols, vals) triplets; duplicates are summed.  vals NULL = 1. */
drec_status drec_csr_build(drec_csr *A, int32_t n_rows, int32_t n_cols, int64_t nnz,
                           const int32_t *rows, const int32_t *cols, const float *vals);
void drec_csr_free(drec_csr *A);
/* A [n_rows,n_cols] x X [n_cols,D] -> [n_rows,D]  (grad: X; A is constant) */
drec_tensor *drec_spmm(drec_tape *tp, const drec_csr *A, drec_tensor *X);

/* GRU cell (torch.nn.GRUCell): x [B,Din], h [B,H], W_ih [Din,3H], W_hh [H,3H],
 * b_ih, b_hh [1,3H]; gate order r, z, n.  -> h' [B,H] (grad: all). */
drec_tensor *drec_gru_cell(drec_tape *tp, drec_tensor *x, drec_tensor *h, drec_tensor *W_ih,
                           drec_tensor *W_hh, drec_tensor *b_ih, drec_tensor *b_hh);

/* Fused multi-head scaled dot-product attention.  q, k, v [B,T,H*Dh] (or
 * [B*T, H*Dh] with T given); head h uses columns h*Dh..(h+1)*Dh.
 * causal: position t attends to <= t.  key_mask int [B,T] or NULL: 0 marks
 * padding keys, never attended (a query with no valid key outputs 0).
 * -> [B,T,H*Dh]  (grad: q, k, v). */
drec_tensor *drec_attention(drec_tape *tp, drec_tensor *q, drec_tensor *k, drec_tensor *v,
                            int T, int H, bool causal, drec_tensor *key_mask);

/* Losses.  Each returns the mean over examples as a [1] tensor.  Labels and
 * weights are f32 tensors without gradient; `weights` (same length as the
 * examples) may be NULL. */
drec_tensor *drec_mse(drec_tape *tp, drec_tensor *pred, drec_tensor *target);
drec_tensor *drec_huber(drec_tape *tp, drec_tensor *pred, drec_tensor *target, float delta);
/* labels in {0,1} (soft labels allowed) */
drec_tensor *drec_bce_logits(drec_tape *tp, drec_tensor *logit, drec_tensor *label, drec_tensor *weights);
/* Focal loss (Lin et al.) on logits: -alpha_t (1-p_t)^gamma log p_t;
 * alpha < 0 disables the alpha weighting. */
drec_tensor *drec_focal(drec_tape *tp, drec_tensor *logit, drec_tensor *label, float gamma, float alpha);
/* Binary hinge: labels in {0,1} mapped to y = +-1; mean max(0, 1 - y s). */
drec_tensor *drec_hinge(drec_tape *tp, drec_tensor *score, drec_tensor *label);
/* BPR: mean -log sigmoid(pos - neg); pos, neg same shape. */
drec_tensor *drec_bpr(drec_tape *tp, drec_tensor *pos, drec_tensor *neg);
/* Softmax cross-entropy: logits [B,C], target int [B] in 0..C-1. */
drec_tensor *drec_softmax_ce(drec_tape *tp, drec_tensor *logits, drec_tensor *target);
/* Sampled softmax with logQ correction (Yi et al. 2019): query u [B,D],
 * positive item vectors p [B,D], shared sampled negatives n [S,D],
 * log-probabilities of sampling: logq_pos [B], logq_neg [S] (f32, no grad;
 * NULL = no correction).  Logit = u.item - logq.  pos_ids int [B] and
 * neg_ids int [S] (both or neither) mask accidental hits (a negative equal
 * to the row's positive).  (grad: u, p, n) */
drec_tensor *drec_sampled_softmax(drec_tape *tp, drec_tensor *u, drec_tensor *p, drec_tensor *n,
                                  drec_tensor *logq_pos, drec_tensor *logq_neg,
                                  drec_tensor *pos_ids, drec_tensor *neg_ids);
/* Penalties: sum x^2 and sum |x| -> [1] (scale them yourself). */
drec_tensor *drec_l2(drec_tape *tp, drec_tensor *x);
drec_tensor *drec_l1(drec_tape *tp, drec_tensor *x);

/* ---- optimizers (optim.c) ------------------------------------------------- */
typedef enum {
    DREC_OPT_SGD = 0, DREC_OPT_ADAM, DREC_OPT_ADAMW, DREC_OPT_ADAGRAD, DREC_OPT_RMSPROP, DREC_OPT_FTRL
} drec_optim_kind;
typedef enum {
    DREC_SCHED_CONSTANT = 0, DREC_SCHED_STEP, DREC_SCHED_EXP, DREC_SCHED_COSINE, DREC_SCHED_LINEAR
} drec_sched_kind;

/* Learning rate at step s (0-based): warm-up multiplies by (s+1)/warmup for
 * s < warmup; after it, the schedule runs on s' = s - warmup:
 *   constant  lr
 *   step      lr * gamma^(s' / step_size)
 *   exp       lr * gamma^s'
 *   cosine    min_lr + (lr - min_lr) (1 + cos(pi s'/total)) / 2, s' capped at total
 *   linear    lr + (min_lr - lr) s'/total, s' capped at total */
typedef struct drec_sched {
    drec_sched_kind kind;
    int64_t step_size, total, warmup;
    float gamma, min_lr;
} drec_sched;
float drec_sched_lr(const drec_sched *s, float base_lr, int64_t step);

/* Formulas follow PyTorch's (torch.optim.*) so results can be compared:
 *   SGD      buf = mu buf + g; step = nesterov ? g + mu buf : buf   (mu = momentum)
 *   Adam     m, v moments; w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps);
 *            weight_decay adds wd*w to g (L2)
 *   AdamW    as Adam but w *= 1 - lr*wd first (decoupled)
 *   AdaGrad  G += g^2; w -= lr g / (sqrt(G) + eps)       (G starts at init_acc)
 *   RMSprop  v = rho v + (1-rho) g^2; w -= lr g / (sqrt(v) + eps)
 *   FTRL     McMahan et al. 2013 per-coordinate: alpha = lr, beta, l1, l2
 * Sparse params get lazy updates: only touched rows move (moments of other
 * rows stay as they are, as TF's LazyAdam / torch SparseAdam).
 * clip_norm > 0 rescales all gradients of the optimizer so their global L2
 * norm is at most clip_norm before the update. */
typedef struct drec_optim_config {
    drec_optim_kind kind;
    float lr;
    float momentum;     /* SGD */
    bool nesterov;      /* SGD */
    float beta1, beta2; /* Adam(W) */
    float eps;          /* Adam(W), AdaGrad, RMSprop */
    float weight_decay; /* SGD, Adam (L2), AdamW (decoupled), AdaGrad, RMSprop */
    float rho;          /* RMSprop smoothing */
    float init_acc;     /* AdaGrad initial accumulator */
    float ftrl_beta, l1, l2; /* FTRL */
    float clip_norm;
    drec_sched sched;
} drec_optim_config;
drec_optim_config drec_optim_defaults(drec_optim_kind kind);
/* Returns NULL if the config is valid, else a message. */
const char *drec_optim_check(const drec_optim_config *c);

typedef struct drec_optim {
    drec_optim_config cfg;
    drec_param **params;
    int n_params, cap_params;
    int64_t step;       /* steps taken */
    float last_lr;
    float last_grad_norm; /* before clipping; only computed when clip_norm > 0 */
} drec_optim;
drec_optim *drec_optim_new(const drec_optim_config *c);
/* Registers p and allocates its state (zeroed). */
void drec_optim_add(drec_optim *o, drec_param *p);
/* Applies one update to every registered param, then zeroes their grads
 * and clears the touched-row lists. */
void drec_optim_step(drec_optim *o);
void drec_optim_free(drec_optim *o);
/* Global L2 norm of the grads of params[0..n) (sparse: touched rows only). */
double drec_grad_norm(drec_param *const *params, int n);
/* FTRL keeps (z, n) per weight in s1, s2 and writes the weights it implies
 * into p->t.data for every element (or touched row) it updates. */

/* ---- Hogwild (optim.c) ----------------------------------------------------
 * Lock-free parallel SGD (Niu et al. 2011) for sparse embedding models:
 * n_threads threads each take a contiguous slice of `order` and call
 * fn(ctx, example, thread) on each, updating shared tables without locks.
 * Races may drop an occasional update (that is the algorithm), so results
 * are reproducible only with one thread.  Use it for models whose step
 * touches a few rows (MF, BPR-MF, word2vec-style item2vec); use the tape
 * for dense models. */
typedef void (*drec_hogwild_fn)(void *ctx, int64_t example, int thread);
void drec_hogwild_run(const int64_t *order, int64_t n, int n_threads, drec_hogwild_fn fn, void *ctx);

#endif /* DREC_TENSOR_H */
