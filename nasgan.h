/* nasgan.h - neural architecture search for GANs and text, in one C header.
   GENERATED from src/ by `make nasgan.h` (scripts/amalgamate.sh). Do not edit by hand.

   QUICK START
     In exactly ONE C or C++ file:
         #define NASGAN_IMPLEMENTATION
         #include "nasgan.h"
     and include "nasgan.h" without the define anywhere else. Link with -lm -lz, plus
     -fopenmp for threads and -lopenblas when built with NG_USE_OPENBLAS.

         ng_ctx *ctx = ng_ctx_create(256u << 20, 42);         // step arena + RNG seed
         ng_params *w = ng_params_create("net", 1);           // trainable parameter group
         ng_tensor *W = ng_params_add(w, "fc.weight", 2, (int64_t[]){10, 784});
         ng_params_alloc(w);
         ...
         ng_ctx_grad_for(ctx, &w, 1);                         // differentiate w.r.t. w only
         ng_tensor *loss = ng_cross_entropy(ctx, ng_linear(ctx, x, W, b), labels);
         ng_backward(ctx, loss);                              // grads accumulate into w->grad
         ng_adam_step(&opt); ng_params_zero_grad(w); ng_ctx_reset(ctx);

   BUILD OPTIONS (define before including)
     NASGAN_IMPLEMENTATION   emit the implementation in this translation unit
     NG_USE_OPENBLAS         route ng_sgemm through cblas_sgemm when the context asks for it
     NG_NO_ZLIB              build without zlib (gzip readers then return NG_ERR_UNSUPPORTED)
     NG_GEMM_AVX512          use the AVX-512 SGEMM micro-kernel (default: AVX2+FMA; see @@GEMM)
     NG_ASSERT(x)            replace the programmer-error check (default prints and aborts)

   SHAPE LEGEND (comments on fields and arguments)
     N batch, C channels, H height, W width, K candidates/classes, L sequence length,
     D feature size, O output features, I input features, E edges

   CONTENTS (greppable banners, same order in declarations and implementation)
     @@BASE     status codes, errors, RNG, arena, build info
     @@TENSOR   tensors and parameter groups
     @@TAPE     context, tape, backward, op table
     @@GEMM     built-in blocked SGEMM and the OpenBLAS path
     @@OPS      dense, activation, loss, convolution and normalisation ops
     @@NAS      mixed (softmax-weighted) ops
     @@OPTIM    Adam, SGD, EMA, schedules, clipping, initialisers
     @@IO       CRC32, atomic files, checkpoints
     @@DATA     IDX (MNIST-family) reader
     @@MODELS   the Fashion-MNIST CNN (feature network for FID/KID/IS)

   ERRORS
     Programmer misuse (shape mismatch) -> NG_ASSERT: prints file:line, calls the hook set by
     ng_set_abort_handler, aborts. Recoverable failures (I/O, formats, memory) -> ng_status < 0
     plus ng_last_error(). Ops return NULL after a failure (e.g. arena exhausted) and every op
     given a NULL input returns NULL, so a failed step surfaces as a NULL loss and
     ng_ctx_status(ctx) says why. Library code never calls exit().

   LICENSE: MIT, see the end of this file.
*/
#ifndef NASGAN_H
#define NASGAN_H

/* The implementation uses POSIX (clock_gettime, fsync, rename). Include nasgan.h first in the
   implementation file so this takes effect even under -std=c99. */
#if defined(NASGAN_IMPLEMENTATION) && !defined(_WIN32) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- src/base.h ---- */
/* ======================================================================================== */
/* @@BASE  status codes, errors, RNG, arena, build info                                    */
/* ======================================================================================== */

typedef enum ng_status {
    NG_OK = 0,
    NG_ERR_IO = -1,          /* open/read/write/rename failed */
    NG_ERR_FORMAT = -2,      /* file content is malformed (magic, sizes, truncation) */
    NG_ERR_NOMEM = -3,       /* malloc failed or an arena is exhausted */
    NG_ERR_ARG = -4,         /* an argument is out of range */
    NG_ERR_UNSUPPORTED = -5, /* feature not compiled in (zlib, OpenBLAS, CUDA) */
    NG_ERR_CHECKSUM = -6,    /* checksum mismatch: corrupt file */
    NG_ERR_MISMATCH = -7     /* file is valid but does not fit the object (names, shapes) */
} ng_status;

const char *ng_status_str(ng_status s);
/* Message of the most recent failure on this thread ("" if none). */
const char *ng_last_error(void);
/* Record a failure (printf-style message) and return the code, for use in `return ng_fail(...)`. */
ng_status ng_fail(ng_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ng_clear_error(void);

/* Programmer-error check. The hook runs before abort() (e.g. to flush logs or longjmp in tests). */
typedef void (*ng_abort_handler)(const char *file, int line, const char *expr);
void ng_set_abort_handler(ng_abort_handler h);
void ng__assert_fail(const char *file, int line, const char *expr);
#ifndef NG_ASSERT
#define NG_ASSERT(x) ((x) ? (void)0 : ng__assert_fail(__FILE__, __LINE__, #x))
#endif

/* Explicit RNG state (xoshiro256**): no hidden globals, a run is reproducible from its seed. */
typedef struct ng_rng { uint64_t s[4]; } ng_rng;
void ng_rng_seed(ng_rng *r, uint64_t seed);
uint64_t ng_rng_u64(ng_rng *r);
double ng_rng_uniform(ng_rng *r);               /* [0, 1) with 53 random bits */
float ng_rng_uniformf(ng_rng *r, float lo, float hi);
double ng_rng_normal(ng_rng *r);                /* standard normal (Box-Muller, no cached pair) */
uint64_t ng_rng_below(ng_rng *r, uint64_t n);   /* uniform integer in [0, n), unbiased */

/* Bump arena for per-step activations and tape nodes: reset after every step, never freed
   piece by piece. Exhaustion returns NULL with NG_ERR_NOMEM recorded, in every build type. */
typedef struct ng_arena {
    unsigned char *base;
    size_t cap, used, peak;
} ng_arena;
ng_status ng_arena_init(ng_arena *a, size_t cap_bytes);
void ng_arena_free(ng_arena *a);
void *ng_arena_alloc(ng_arena *a, size_t bytes);   /* 64-byte aligned, uninitialised */
void *ng_arena_calloc(ng_arena *a, size_t bytes);  /* zero-filled */
void ng_arena_reset(ng_arena *a);

/* Overflow-checked size arithmetic: return 0 and set *out on success, -1 on overflow. */
int ng_mul_size(size_t a, size_t b, size_t *out);
int ng_mul_i64(int64_t a, int64_t b, int64_t *out);

/* 64-byte aligned heap blocks for persistent storage. */
void *ng_aligned_alloc(size_t bytes);
void ng_aligned_free(void *p);

/* One line saying which optional parts are compiled in (OpenMP, OpenBLAS, zlib, CUDA, SIMD). */
const char *ng_build_info(void);
int ng_num_threads(void);
void ng_set_num_threads(int n);
double ng_time_sec(void);  /* monotonic wall clock */
/* Peak resident set size of this process in bytes (0 where unknown). */
size_t ng_peak_rss_bytes(void);

/* ---- src/tensor.h ---- */
/* ======================================================================================== */
/* @@TENSOR  tensors and parameter groups                                                   */
/* ======================================================================================== */

#define NG_MAX_DIMS 4

typedef enum ng_device { NG_CPU = 0, NG_CUDA = 1 } ng_device;

/* A shape of 0..4 dimensions; unused trailing entries are 1. Build with ng_shape1..4. */
typedef struct ng_shape {
    int ndim;
    int64_t d[NG_MAX_DIMS];
} ng_shape;
ng_shape ng_shape1(int64_t a);
ng_shape ng_shape2(int64_t a, int64_t b);
ng_shape ng_shape3(int64_t a, int64_t b, int64_t c);
ng_shape ng_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
int64_t ng_shape_numel(ng_shape s);  /* -1 on overflow or negative size */
int ng_shape_eq(ng_shape a, ng_shape b);

typedef struct ng_params ng_params;

/* float32, row-major (C order), NCHW for images. */
typedef struct ng_tensor {
    ng_shape shape;
    int64_t numel;
    float *data;
    float *grad;         /* parameters: slice of the group's gradient block; activations:
                            allocated in the step arena when a gradient first reaches it */
    ng_params *owner;    /* parameter group, or NULL for activations and inputs */
    int requires_grad;   /* activations/inputs: a gradient must flow to this tensor */
    int device;          /* ng_device */
    const char *name;
} ng_tensor;

/* Persistent parameters: one flat data block (and, if trainable, one flat gradient block) per
   group, so an optimizer step on a group is one loop. Declare every tensor with
   ng_params_add, then ng_params_alloc once; tensor pointers stay valid until ng_params_free. */
struct ng_params {
    char name[64];
    int trainable;       /* 1: has a gradient block and takes optimizer steps; 0: buffers */
    int64_t numel;
    float *data;         /* (numel) */
    float *grad;         /* (numel), NULL for buffer groups */
    int n, cap;
    ng_tensor **tensors;
    int64_t *offsets;    /* element offset of each tensor in the block */
    int allocated;
};

ng_params *ng_params_create(const char *name, int trainable);
void ng_params_free(ng_params *g);
/* Returns NULL (with ng_last_error) on a bad shape, a duplicate name or after allocation. */
ng_tensor *ng_params_add(ng_params *g, const char *name, ng_shape shape);
ng_status ng_params_alloc(ng_params *g);             /* zero-filled data and grad */
void ng_params_zero_grad(ng_params *g);
ng_tensor *ng_params_find(const ng_params *g, const char *name);
/* Copy values (data only) from a group of identical layout; NG_ERR_MISMATCH otherwise. */
ng_status ng_params_copy(ng_params *dst, const ng_params *src);
/* Same names, shapes and order. */
int ng_params_same_layout(const ng_params *a, const ng_params *b);

/* ---- src/tape.h ---- */
/* ======================================================================================== */
/* @@TAPE  context, tape, backward, op table                                                */
/* ======================================================================================== */

/* Every differentiable op, in op-table order: X(ENUM_SUFFIX, function_suffix). The CPU
   forward/backward of op `foo` are ng__fw_foo / ng__bw_foo, kept next to each other in the
   op's family part. */
#define NG_OP_LIST(X)                                                                   \
    X(MATMUL, matmul) X(LINEAR, linear) X(ADD, add) X(SUB, sub) X(MUL, mul)            \
    X(SCALE, scale) X(ADD_SCALAR, add_scalar) X(REDUCE, reduce) X(RESHAPE, reshape)     \
    X(CONCAT, concat) X(SLICE, slice)                                                  \
    X(RELU, relu) X(LEAKY_RELU, leaky_relu) X(TANH, tanh) X(SIGMOID, sigmoid)           \
    X(SOFTMAX, softmax) X(LOG_SOFTMAX, log_softmax) X(DROPOUT, dropout)                 \
    X(CROSS_ENTROPY, cross_entropy) X(HINGE, hinge) X(BCE_LOGITS, bce_logits)          \
    X(CONV2D, conv2d) X(CONV_T2D, conv_transpose2d) X(UPSAMPLE, upsample)              \
    X(AVG_POOL2, avg_pool2) X(SUM_HW, sum_hw)                                          \
    X(BATCH_NORM, batch_norm) X(SPECTRAL_NORM, spectral_norm)                          \
    X(MIXED, mixed)

typedef enum ng_op {
#define NG__ENUM(E, f) NG_OP_##E,
    NG_OP_LIST(NG__ENUM)
#undef NG__ENUM
    NG_OP_COUNT
} ng_op;

typedef enum ng_gemm_backend { NG_GEMM_BUILTIN = 0, NG_GEMM_OPENBLAS = 1 } ng_gemm_backend;

typedef struct ng_ctx ng_ctx;

/* One recorded op. Inputs, saved tensors and scratch live in the step arena. */
typedef struct ng_node {
    int op;                /* ng_op */
    int n_in;
    uint32_t need;         /* bit k: input k needs a gradient */
    ng_tensor *out;
    ng_tensor **in;        /* (n_in) */
    int64_t i[10];         /* integer op parameters (stride, padding, axis, ...) */
    float f[4];            /* float op parameters (slope, scale, eps, ...) */
    void *saved;           /* op-specific values kept for backward */
    void *aux;             /* op-specific external data (labels, running stats, ...) */
    ng_ctx *ctx;
} ng_node;

#define NG_MAX_GRAD_GROUPS 16

struct ng_ctx {
    ng_arena arena;        /* activations, gradients of activations, node inputs/saved */
    ng_rng rng;            /* dropout, Gumbel noise, data shuffling */
    ng_node *nodes;        /* the tape, in execution order */
    int n_nodes, cap_nodes;
    int training;          /* batch norm batch statistics, dropout, spectral-norm updates */
    int no_grad;           /* 1: record nothing (pure inference) */
    ng_params *grad_groups[NG_MAX_GRAD_GROUPS];
    int n_grad_groups;     /* gradients flow only into these parameter groups */
    ng_status status;      /* first failure since the last reset (ops then return NULL) */
    int gemm_backend;      /* ng_gemm_backend used by matmul and convolution */
};

ng_ctx *ng_ctx_create(size_t arena_bytes, uint64_t seed);
void ng_ctx_free(ng_ctx *ctx);
/* Forget the tape and every activation (arena reset); keep RNG and settings. */
void ng_ctx_reset(ng_ctx *ctx);
void ng_ctx_set_training(ng_ctx *ctx, int training);
/* Differentiate only with respect to these groups (n = 0: no parameter gets gradients). */
void ng_ctx_grad_for(ng_ctx *ctx, ng_params *const *groups, int n);
ng_status ng_ctx_status(const ng_ctx *ctx);

/* Step-arena tensors (valid until ng_ctx_reset). NULL on failure. */
ng_tensor *ng_tensor_new(ng_ctx *ctx, ng_shape shape);                  /* uninitialised */
ng_tensor *ng_tensor_zeros(ng_ctx *ctx, ng_shape shape);
ng_tensor *ng_tensor_from(ng_ctx *ctx, ng_shape shape, const float *data); /* copies */
/* Mark an input tensor as needing a gradient (for sensitivity maps and gradient checks). */
void ng_tensor_requires_grad(ng_tensor *t);

/* Reverse pass from a scalar loss (seed 1) or from any output with an explicit upstream
   gradient `seed` of out->numel values. Parameter gradients ACCUMULATE into their groups;
   activation gradients are recomputed on each call. */
ng_status ng_backward(ng_ctx *ctx, ng_tensor *loss);
ng_status ng_backward_from(ng_ctx *ctx, ng_tensor *out, const float *seed);

const char *ng_op_name(int op);

/* ---- src/gemm.h ---- */
/* ======================================================================================== */
/* @@GEMM  single-precision matrix products                                                 */
/* ======================================================================================== */

/* C = alpha * op(A) @ op(B) + beta * C, all row-major. op(A) is (M, K), op(B) is (K, N);
   trans_a/trans_b select A^T/B^T (then A is stored (K, M) and B (N, K)). beta == 0 ignores C's
   old contents (NaN included), as BLAS does; K == 0 or alpha == 0 gives C = beta C without
   reading A or B. Leading dimensions (elements between rows) shorter than a stored row are a
   programmer error (NG_ASSERT). Threads with OpenMP unless already inside a parallel region;
   the built-in kernel's results are bitwise the same for any number of threads. `backend` is
   an ng_gemm_backend; NG_GEMM_OPENBLAS without OpenBLAS compiled in falls back to the built-in
   kernel (see ng_build_info). */
void ng_sgemm(int backend, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void ng_sgemm_builtin(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc);
/* NG_ERR_UNSUPPORTED when the build has no OpenBLAS. */
ng_status ng_sgemm_openblas(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                            float *C, int64_t ldc);

/* ---- src/ops_dense.h ---- */
/* ======================================================================================== */
/* @@OPS dense: products, elementwise arithmetic, reductions, shape ops                      */
/* ======================================================================================== */
/* All ops record themselves on the context's tape when an input needs a gradient, and return
   NULL if an input is NULL or the context has failed (see ERRORS at the top). */

ng_tensor *ng_matmul(ng_ctx *ctx, ng_tensor *a /* (M, K) */, ng_tensor *b /* (K, N) */);
/* y = x W^T + b, as torch.nn.functional.linear. b may be NULL. */
ng_tensor *ng_linear(ng_ctx *ctx, ng_tensor *x /* (N, I) */, ng_tensor *w /* (O, I) */, ng_tensor *b /* (O) */);
/* Elementwise with NumPy/PyTorch broadcasting (shapes aligned at the trailing dimension). */
ng_tensor *ng_add(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_sub(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_mul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_scale(ng_ctx *ctx, ng_tensor *a, float s);        /* s * a */
ng_tensor *ng_add_scalar(ng_ctx *ctx, ng_tensor *a, float s);   /* a + s */
/* Reduce over the dimensions whose bit is set in axes (bit i = dimension i). keepdim keeps
   them as size 1; otherwise they are removed (reducing everything gives a 0-d scalar). */
ng_tensor *ng_sum(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim);
ng_tensor *ng_mean(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim);
#define NG_ALL_AXES 0xFu
/* Same elements, new shape (numel must match). Shares no memory with the input. */
ng_tensor *ng_reshape(ng_ctx *ctx, ng_tensor *a, ng_shape shape);
ng_tensor *ng_concat(ng_ctx *ctx, ng_tensor *const *xs, int n, int axis);
ng_tensor *ng_slice(ng_ctx *ctx, ng_tensor *a, int axis, int64_t start, int64_t len);

/* ---- src/ops_act.h ---- */
/* ======================================================================================== */
/* @@OPS activations, softmax, dropout                                                      */
/* ======================================================================================== */
ng_tensor *ng_relu(ng_ctx *ctx, ng_tensor *x);
ng_tensor *ng_leaky_relu(ng_ctx *ctx, ng_tensor *x, float slope);  /* PyTorch default 0.01 */
ng_tensor *ng_tanh(ng_ctx *ctx, ng_tensor *x);
ng_tensor *ng_sigmoid(ng_ctx *ctx, ng_tensor *x);
/* Softmax / log-softmax along one axis (use x->shape.ndim - 1 for the last). */
ng_tensor *ng_softmax(ng_ctx *ctx, ng_tensor *x, int axis);
ng_tensor *ng_log_softmax(ng_ctx *ctx, ng_tensor *x, int axis);
/* Inverted dropout: in training zero each element with probability p and scale the rest by
   1/(1-p) (mask from ctx->rng); identity when not training or p == 0. */
ng_tensor *ng_dropout(ng_ctx *ctx, ng_tensor *x, float p);

/* ---- src/ops_loss.h ---- */
/* ======================================================================================== */
/* @@OPS losses (each returns a 0-d scalar, mean reduction as PyTorch's default)             */
/* ======================================================================================== */
/* F.cross_entropy(logits, labels): labels are class indices in [0, K). */
ng_tensor *ng_cross_entropy(ng_ctx *ctx, ng_tensor *logits /* (N, K) */, const int32_t *labels /* (N) */);
/* GAN hinge losses: D: mean(relu(1 - real)) + mean(relu(1 + fake)); G: -mean(fake). */
ng_tensor *ng_hinge_loss_d(ng_ctx *ctx, ng_tensor *d_real, ng_tensor *d_fake);
ng_tensor *ng_hinge_loss_g(ng_ctx *ctx, ng_tensor *d_fake);
/* The three hinge terms as one op: mode 0 mean(relu(1 - x)), 1 mean(relu(1 + x)), 2 -mean(x). */
ng_tensor *ng_hinge(ng_ctx *ctx, ng_tensor *x, int mode);
/* F.binary_cross_entropy_with_logits(x, target), mean; target gets no gradient. */
ng_tensor *ng_bce_with_logits(ng_ctx *ctx, ng_tensor *x, const ng_tensor *target);

/* ---- src/ops_conv.h ---- */
/* ======================================================================================== */
/* @@OPS convolution, resampling and pooling (NCHW)                                         */
/* ======================================================================================== */
/* F.conv2d: w (O, C/groups, kh, kw), b (O) or NULL; square stride and zero padding.
   groups == C == O is depthwise. Output (N, O, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1). */
ng_tensor *ng_conv2d(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */, ng_tensor *w, ng_tensor *b,
                     int stride, int pad, int groups);
/* F.conv_transpose2d: w (C, O/groups, kh, kw), b (O) or NULL.
   Output (N, O, (H - 1)s - 2p + kh + output_padding, ...). */
ng_tensor *ng_conv_transpose2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride,
                               int pad, int output_padding, int groups);
/* F.interpolate(scale_factor=2, mode='nearest') and mode='bilinear', align_corners=False. */
ng_tensor *ng_upsample_nearest2x(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
ng_tensor *ng_upsample_bilinear2x(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
/* F.avg_pool2d(x, 2): kernel 2, stride 2, odd trailing row/column dropped. */
ng_tensor *ng_avg_pool2d(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
/* x.sum(dim=(2, 3)) -> (N, C) */
ng_tensor *ng_sum_hw(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);

/* ---- src/ops_norm.h ---- */
/* ======================================================================================== */
/* @@OPS batch norm and spectral norm                                                        */
/* ======================================================================================== */
/* nn.BatchNorm2d / BatchNorm1d semantics over every dimension but 1 (x is (N, C) or
   (N, C, H, W)). Training (ctx->training): normalise with the biased batch variance and, when
   running_mean/running_var are given, update them in place with `momentum` using the UNBIASED
   variance. Eval: normalise with the running statistics (required then). gamma/beta NULL means
   affine=False. PyTorch defaults: momentum 0.1, eps 1e-5. */
ng_tensor *ng_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma /* (C) */, ng_tensor *beta /* (C) */,
                         ng_tensor *running_mean /* (C) */, ng_tensor *running_var /* (C) */,
                         float momentum, float eps);
/* torch.nn.utils.spectral_norm with n_power_iterations=1: w viewed as (O, I) with O = w's first
   dimension. Training: v <- normalize(W^T u), u <- normalize(W v) updated in place (no gradient),
   then sigma = u^T W v; eval: sigma from the stored u and v. Returns w / sigma, differentiable
   in w with u and v held constant (as PyTorch). eps 1e-12 guards the normalisations. */
ng_tensor *ng_spectral_norm(ng_ctx *ctx, ng_tensor *w, ng_tensor *u /* (O) */, ng_tensor *v /* (I) */, float eps);

/* ---- src/nas.h ---- */
/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */
/* The DARTS mixed op: sum_k softmax(alpha[row, :])_k * xs[k]. alpha is (R, K) (or (K) with
   row 0); every xs[k] has the same shape. Gradients flow to alpha's row and to each xs[k]. */
ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k);

/* ---- src/optim.h ---- */
/* ======================================================================================== */
/* @@OPTIM  optimizers, EMA, learning-rate schedules, clipping, initialisers                 */
/* ======================================================================================== */
/* Each optimizer steps ONE parameter group (a flat block), reading group->grad. State blocks
   have the group's numel and are owned by the optimizer. */

/* torch.optim.Adam (amsgrad off): g += wd p (coupled L2); m = b1 m + (1-b1) g;
   v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
typedef struct ng_adam {
    ng_params *group;
    float lr, beta1, beta2, eps, weight_decay;
    int64_t t;          /* steps taken */
    float *m, *v;       /* (numel) */
} ng_adam;
ng_status ng_adam_init(ng_adam *opt, ng_params *g, float lr, float beta1, float beta2, float eps, float weight_decay);
void ng_adam_step(ng_adam *opt);
void ng_adam_reset(ng_adam *opt);   /* t = 0, m = v = 0 (a fresh optimizer) */
void ng_adam_free(ng_adam *opt);

/* torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g on the first
   step); nesterov: g + momentum buf; p -= lr * that. */
typedef struct ng_sgd {
    ng_params *group;
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    int64_t t;
    float *buf;         /* (numel), NULL when momentum == 0 */
} ng_sgd;
ng_status ng_sgd_init(ng_sgd *opt, ng_params *g, float lr, float momentum, float dampening, float weight_decay, int nesterov);
void ng_sgd_step(ng_sgd *opt);
void ng_sgd_free(ng_sgd *opt);

/* Exponential moving average of a group's values: shadow = decay shadow + (1 - decay) p. */
typedef struct ng_ema {
    ng_params *group;
    float decay;
    float *shadow;      /* (numel), starts as a copy of the group */
} ng_ema;
ng_status ng_ema_init(ng_ema *e, ng_params *g, float decay);
void ng_ema_update(ng_ema *e);
void ng_ema_swap(ng_ema *e);        /* exchange shadow and live values (evaluate with the EMA) */
void ng_ema_free(ng_ema *e);

/* Learning rate at `step` of `total`: constant; cosine from base to final
   (final + (base - final)(1 + cos(pi step/total))/2); linear from base to final. */
typedef enum ng_lr_kind { NG_LR_CONSTANT = 0, NG_LR_COSINE = 1, NG_LR_LINEAR = 2 } ng_lr_kind;
float ng_lr_at(ng_lr_kind kind, float base, float final_lr, int64_t step, int64_t total);

/* torch.nn.utils.clip_grad_norm_ over several groups: total L2 norm of all gradients; if it
   exceeds max_norm, scale every gradient by max_norm / (norm + 1e-6). Returns the norm. */
float ng_clip_grad_norm(ng_params *const *groups, int n, float max_norm);

/* Initialisers. Fans as torch.nn.init: fan_in = shape[1] * receptive field, fan_out =
   shape[0] * receptive field (receptive field = product of dims 2..). */
void ng_init_constant(ng_tensor *t, float v);
void ng_init_uniform(ng_tensor *t, float lo, float hi, ng_rng *r);
void ng_init_normal(ng_tensor *t, float mean, float std, ng_rng *r);
void ng_init_xavier_uniform(ng_tensor *t, float gain, ng_rng *r);   /* bound gain*sqrt(6/(fi+fo)) */
/* PyTorch's default for Linear/Conv weights: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)). */
void ng_init_kaiming_uniform_default(ng_tensor *w, ng_rng *r);
/* PyTorch's default bias init: U(+-1/sqrt(fan_in)) with the weight's fan_in. */
void ng_init_bias_default(ng_tensor *b, const ng_tensor *weight, ng_rng *r);
void ng_init_fans(const ng_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* ---- src/io.h ---- */
/* ======================================================================================== */
/* @@IO  CRC32, whole-file and atomic I/O, checkpoints                                      */
/* ======================================================================================== */
uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n);   /* IEEE 802.3, start with 0 */
/* Read a whole file (refusing more than max_bytes). *data is malloc'd; caller frees. */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n);
/* Write via "<path>.tmp.<pid>", fsync, rename over path, fsync the directory: a crash never
   leaves a half-written file at `path` nor loses the previous one. */
ng_status ng_file_write_atomic(const char *path, const void *data, size_t n);

/* A checkpoint is a versioned, checksummed set of named binary records. Writers put records
   (parameters with their layout, optimizer states, RNG, counters) and save atomically;
   readers load, verify and fetch records by name. */
typedef struct ng_ckpt ng_ckpt;
ng_ckpt *ng_ckpt_new(void);
void ng_ckpt_free(ng_ckpt *ck);
ng_status ng_ckpt_put(ng_ckpt *ck, const char *key, const void *data, size_t n);
ng_status ng_ckpt_put_i64(ng_ckpt *ck, const char *key, int64_t v);
ng_status ng_ckpt_put_params(ng_ckpt *ck, const ng_params *g);             /* "params/<name>" */
ng_status ng_ckpt_put_adam(ng_ckpt *ck, const char *key, const ng_adam *opt);
ng_status ng_ckpt_put_sgd(ng_ckpt *ck, const char *key, const ng_sgd *opt);
ng_status ng_ckpt_put_ema(ng_ckpt *ck, const char *key, const ng_ema *e);
ng_status ng_ckpt_put_rng(ng_ckpt *ck, const char *key, const ng_rng *r);
ng_status ng_ckpt_save(const ng_ckpt *ck, const char *path);
/* Parse a checkpoint held in memory (`name` is used in messages); the file loader wraps it. */
ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out);
ng_status ng_ckpt_load(const char *path, ng_ckpt **out);
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n);   /* NULL if absent */
ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v);
/* Restore into an allocated group; NG_ERR_MISMATCH naming the tensor if names/shapes differ. */
ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g);
ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt);
ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt);
ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e);
ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *r);

/* ---- src/data.h ---- */
/* ======================================================================================== */
/* @@DATA  dataset readers                                                                  */
/* ======================================================================================== */
/* Decompress a gzip stream held in memory, refusing output beyond max_out bytes. */
ng_status ng_gunzip(const unsigned char *buf, size_t n, const char *name, size_t max_out,
                    unsigned char **out, size_t *out_n);

/* IDX (MNIST family): big-endian magic 0x000008DD (type 0x08 = uint8, DD = #dims), dims as
   big-endian uint32, then the bytes. Raw or gzip (detected by its magic). */
typedef struct ng_idx {
    int ndim;
    int64_t dims[4];
    int64_t count;          /* product of dims */
    unsigned char *data;    /* (count) */
} ng_idx;
ng_status ng_idx_parse(const unsigned char *buf, size_t n, const char *name, ng_idx *out);
ng_status ng_idx_load(const char *path, ng_idx *out);
void ng_idx_free(ng_idx *idx);

/* An images file (N, H, W) and its labels file (N) with labels < num_classes. */
typedef struct ng_mnist {
    int64_t n, h, w;
    unsigned char *images;  /* (N, H, W) */
    unsigned char *labels;  /* (N) */
} ng_mnist;
ng_status ng_mnist_load(const char *images_path, const char *labels_path, int num_classes, ng_mnist *out);
void ng_mnist_free(ng_mnist *m);

/* ---- src/models.h ---- */
/* @@models (being written) */

/* ---- src/optable.h ---- */

#ifdef __cplusplus
}
#endif
#endif /* NASGAN_H */

/* ======================================================================================== */
/*                                    IMPLEMENTATION                                        */
/* ======================================================================================== */
#if defined(NASGAN_IMPLEMENTATION) && !defined(NASGAN_IMPLEMENTATION_DONE)
#define NASGAN_IMPLEMENTATION_DONE

#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <math.h>
#include <errno.h>
#include <float.h>
#ifndef _WIN32
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#ifndef NG_NO_ZLIB
#include <zlib.h>
#endif
#ifdef NG_USE_OPENBLAS
#include <cblas.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NG__HAVE_AVX2 1
#endif

#ifdef __cplusplus
#define NG__CAST(T, x) static_cast<T>(x)
#else
#define NG__CAST(T, x) ((T)(x))
#endif

/* Scalar formulas shared by the CPU ops and the CUDA kernels are written once with NG__HD. */
#ifdef __CUDACC__
#define NG__HD __host__ __device__
#else
#define NG__HD
#endif

/* OpenMP through _Pragma so builds without -fopenmp see no unknown pragmas. */
#define NG__PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define NG__OMP_FOR(cond) NG__PRAGMA(omp parallel for if (cond))
#define NG__OMP(x) NG__PRAGMA(omp x)
#else
#define NG__OMP_FOR(cond)
#define NG__OMP(x)
#endif

/* ---- src/base.c ---- */
/* ======================================================================================== */
/* @@BASE                                                                                   */
/* ======================================================================================== */
#if defined(__cplusplus)
#define NG__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NG__TLS _Thread_local
#else
#define NG__TLS __thread
#endif

static NG__TLS char ng__errbuf[1024];
static ng_abort_handler ng__abort_hook = NULL;

const char *ng_status_str(ng_status s) {
    switch (s) {
    case NG_OK: return "ok";
    case NG_ERR_IO: return "I/O error";
    case NG_ERR_FORMAT: return "malformed input";
    case NG_ERR_NOMEM: return "out of memory";
    case NG_ERR_ARG: return "invalid argument";
    case NG_ERR_UNSUPPORTED: return "unsupported in this build";
    case NG_ERR_CHECKSUM: return "checksum mismatch";
    case NG_ERR_MISMATCH: return "content does not match";
    }
    return "unknown status";
}

const char *ng_last_error(void) { return ng__errbuf; }
void ng_clear_error(void) { ng__errbuf[0] = 0; }

ng_status ng_fail(ng_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ng__errbuf, sizeof ng__errbuf, fmt, ap);
    va_end(ap);
    return code;
}

void ng_set_abort_handler(ng_abort_handler h) { ng__abort_hook = h; }

void ng__assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "nasgan: %s:%d: check failed: %s\n", file, line, expr);
    fflush(stderr);
    if (ng__abort_hook) ng__abort_hook(file, line, expr);
    abort();
}

/* ---- RNG: xoshiro256** seeded through splitmix64 ---- */
static uint64_t ng__splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
void ng_rng_seed(ng_rng *r, uint64_t seed) {
    int i;
    for (i = 0; i < 4; i++) r->s[i] = ng__splitmix(&seed);
}
static uint64_t ng__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t ng_rng_u64(ng_rng *r) {
    uint64_t *s = r->s, result = ng__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = ng__rotl(s[3], 45);
    return result;
}
double ng_rng_uniform(ng_rng *r) { return (double)(ng_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
float ng_rng_uniformf(ng_rng *r, float lo, float hi) {
    float x = lo + (hi - lo) * (float)ng_rng_uniform(r);
    return x < hi ? x : lo; /* rounding can reach hi; keep the interval half-open */
}
double ng_rng_normal(ng_rng *r) {
    double u1 = 1.0 - ng_rng_uniform(r), u2 = ng_rng_uniform(r); /* u1 in (0,1] */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
uint64_t ng_rng_below(ng_rng *r, uint64_t n) {
    uint64_t lim, x;
    if (n <= 1) return 0;
    lim = UINT64_MAX - UINT64_MAX % n;
    do x = ng_rng_u64(r); while (x >= lim);
    return x % n;
}

/* ---- sizes ---- */
int ng_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
int ng_mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > INT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* ---- aligned heap ---- */
void *ng_aligned_alloc(size_t bytes) {
    void *raw, **p;
    if (bytes > SIZE_MAX - 64 - sizeof(void *)) return NULL;
    raw = malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    p = (void **)(((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63);
    p[-1] = raw;
    return p;
}
void ng_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}

/* ---- arena ---- */
ng_status ng_arena_init(ng_arena *a, size_t cap) {
    a->base = (unsigned char *)ng_aligned_alloc(cap);
    a->cap = a->base ? cap : 0;
    a->used = a->peak = 0;
    if (!a->base) return ng_fail(NG_ERR_NOMEM, "arena: cannot allocate %zu bytes", cap);
    return NG_OK;
}
void ng_arena_free(ng_arena *a) {
    ng_aligned_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}
void *ng_arena_alloc(ng_arena *a, size_t bytes) {
    size_t off = (a->used + 63) & ~(size_t)63;
    void *p;
    if (off > a->cap || bytes > a->cap - off) {
        ng_fail(NG_ERR_NOMEM, "arena exhausted: need %zu more bytes, %zu of %zu used (raise the arena size)",
                bytes, a->used, a->cap);
        return NULL;
    }
    p = a->base + off;
    a->used = off + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}
void *ng_arena_calloc(ng_arena *a, size_t bytes) {
    void *p = ng_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}
void ng_arena_reset(ng_arena *a) { a->used = 0; }

/* ---- build info, threads, clocks ---- */
const char *ng_build_info(void) {
    return "nasgan 0.1:"
#ifdef _OPENMP
           " openmp=on"
#else
           " openmp=off"
#endif
#ifdef NG_USE_OPENBLAS
           " openblas=on"
#else
           " openblas=off"
#endif
#ifndef NG_NO_ZLIB
           " zlib=on"
#else
           " zlib=off"
#endif
#ifdef NG_USE_CUDA
           " cuda=on"
#else
           " cuda=off"
#endif
#ifdef NG__HAVE_AVX2
           " simd=avx2+fma"
#else
           " simd=generic"
#endif
#if defined(NG__HAVE_AVX2) && defined(__AVX512F__) && defined(NG_GEMM_AVX512)
           " gemm=avx512"
#endif
        ;
}
int ng_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
void ng_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}
double ng_time_sec(void) {
#ifndef _WIN32
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return 0.0;
#endif
}
size_t ng_peak_rss_bytes(void) {
#ifndef _WIN32
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (size_t)ru.ru_maxrss * 1024u;
#endif
    return 0;
}

/* ---- src/tensor.c ---- */
/* ======================================================================================== */
/* @@TENSOR                                                                                 */
/* ======================================================================================== */
static ng_shape ng__shape(int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    ng_shape s;
    s.ndim = nd; s.d[0] = a; s.d[1] = b; s.d[2] = c; s.d[3] = d;
    return s;
}
ng_shape ng_shape1(int64_t a) { return ng__shape(1, a, 1, 1, 1); }
ng_shape ng_shape2(int64_t a, int64_t b) { return ng__shape(2, a, b, 1, 1); }
ng_shape ng_shape3(int64_t a, int64_t b, int64_t c) { return ng__shape(3, a, b, c, 1); }
ng_shape ng_shape4(int64_t a, int64_t b, int64_t c, int64_t d) { return ng__shape(4, a, b, c, d); }

int64_t ng_shape_numel(ng_shape s) {
    int64_t n = 1;
    int i;
    if (s.ndim < 0 || s.ndim > NG_MAX_DIMS) return -1;
    for (i = 0; i < s.ndim; i++)
        if (ng_mul_i64(n, s.d[i], &n)) return -1;
    return n;
}
int ng_shape_eq(ng_shape a, ng_shape b) {
    int i;
    if (a.ndim != b.ndim) return 0;
    for (i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i]) return 0;
    return 1;
}

static char *ng__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

ng_params *ng_params_create(const char *name, int trainable) {
    ng_params *g = (ng_params *)calloc(1, sizeof *g);
    if (!g) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", name); return NULL; }
    snprintf(g->name, sizeof g->name, "%s", name);
    g->trainable = trainable;
    return g;
}

void ng_params_free(ng_params *g) {
    int i;
    if (!g) return;
    for (i = 0; i < g->n; i++) {
        free((void *)g->tensors[i]->name);
        free(g->tensors[i]);
    }
    free(g->tensors);
    free(g->offsets);
    ng_aligned_free(g->data);
    ng_aligned_free(g->grad);
    free(g);
}

ng_tensor *ng_params_find(const ng_params *g, const char *name) {
    int i;
    for (i = 0; i < g->n; i++)
        if (strcmp(g->tensors[i]->name, name) == 0) return g->tensors[i];
    return NULL;
}

ng_tensor *ng_params_add(ng_params *g, const char *name, ng_shape shape) {
    int64_t numel = ng_shape_numel(shape);
    ng_tensor *t;
    if (g->allocated) { ng_fail(NG_ERR_ARG, "params '%s': add '%s' after alloc", g->name, name); return NULL; }
    if (numel < 0 || g->numel > INT64_MAX - numel) {
        ng_fail(NG_ERR_ARG, "params '%s': bad or overflowing shape for '%s'", g->name, name);
        return NULL;
    }
    if (ng_params_find(g, name)) { ng_fail(NG_ERR_ARG, "params '%s': duplicate name '%s'", g->name, name); return NULL; }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        ng_tensor **nt = (ng_tensor **)realloc(g->tensors, (size_t)cap * sizeof *nt);
        int64_t *no;
        if (!nt) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
        g->tensors = nt;
        no = (int64_t *)realloc(g->offsets, (size_t)cap * sizeof *no);
        if (!no) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
        g->offsets = no;
        g->cap = cap;
    }
    t = (ng_tensor *)calloc(1, sizeof *t);
    if (!t) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
    t->name = ng__strdup(name);
    if (!t->name) { free(t); ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
    t->shape = shape;
    t->numel = numel;
    t->owner = g;
    g->tensors[g->n] = t;
    g->offsets[g->n] = g->numel;
    g->n++;
    g->numel += numel;
    return t;
}

ng_status ng_params_alloc(ng_params *g) {
    size_t bytes;
    int i;
    if (g->allocated) return ng_fail(NG_ERR_ARG, "params '%s': allocated twice", g->name);
    if (ng_mul_size((size_t)(g->numel ? g->numel : 1), sizeof(float), &bytes))
        return ng_fail(NG_ERR_NOMEM, "params '%s': size overflow", g->name);
    g->data = (float *)ng_aligned_alloc(bytes);
    g->grad = g->trainable ? (float *)ng_aligned_alloc(bytes) : NULL;
    if (!g->data || (g->trainable && !g->grad))
        return ng_fail(NG_ERR_NOMEM, "params '%s': cannot allocate %zu bytes", g->name, bytes);
    memset(g->data, 0, bytes);
    if (g->grad) memset(g->grad, 0, bytes);
    for (i = 0; i < g->n; i++) {
        g->tensors[i]->data = g->data + g->offsets[i];
        g->tensors[i]->grad = g->grad ? g->grad + g->offsets[i] : NULL;
    }
    g->allocated = 1;
    return NG_OK;
}

void ng_params_zero_grad(ng_params *g) {
    if (g->grad) memset(g->grad, 0, (size_t)g->numel * sizeof(float));
}

int ng_params_same_layout(const ng_params *a, const ng_params *b) {
    int i;
    if (a->n != b->n || a->numel != b->numel) return 0;
    for (i = 0; i < a->n; i++)
        if (strcmp(a->tensors[i]->name, b->tensors[i]->name) ||
            !ng_shape_eq(a->tensors[i]->shape, b->tensors[i]->shape))
            return 0;
    return 1;
}

ng_status ng_params_copy(ng_params *dst, const ng_params *src) {
    if (!ng_params_same_layout(dst, src) || !dst->allocated || !src->allocated)
        return ng_fail(NG_ERR_MISMATCH, "params copy: '%s' and '%s' differ in layout", dst->name, src->name);
    memcpy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    return NG_OK;
}

/* ---- src/tape.c ---- */
/* ======================================================================================== */
/* @@TAPE                                                                                   */
/* ======================================================================================== */
#define NG__PROTO(E, f) static void ng__fw_##f(ng_node *n); static void ng__bw_##f(ng_node *n);
NG_OP_LIST(NG__PROTO)
#undef NG__PROTO
static void ng__dispatch_forward(ng_node *n);   /* defined with the op table (@@OPTABLE) */
static void ng__dispatch_backward(ng_node *n);

ng_ctx *ng_ctx_create(size_t arena_bytes, uint64_t seed) {
    ng_ctx *ctx = (ng_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) { ng_fail(NG_ERR_NOMEM, "context: out of memory"); return NULL; }
    if (ng_arena_init(&ctx->arena, arena_bytes) != NG_OK) { free(ctx); return NULL; }
    ng_rng_seed(&ctx->rng, seed);
    ctx->training = 1;
#ifdef NG_USE_OPENBLAS
    ctx->gemm_backend = NG_GEMM_OPENBLAS;
#endif
    return ctx;
}

void ng_ctx_free(ng_ctx *ctx) {
    if (!ctx) return;
    ng_arena_free(&ctx->arena);
    free(ctx->nodes);
    free(ctx);
}

void ng_ctx_reset(ng_ctx *ctx) {
    ng_arena_reset(&ctx->arena);
    ctx->n_nodes = 0;
    ctx->status = NG_OK;
}

void ng_ctx_set_training(ng_ctx *ctx, int training) { ctx->training = training; }
ng_status ng_ctx_status(const ng_ctx *ctx) { return ctx->status; }

void ng_ctx_grad_for(ng_ctx *ctx, ng_params *const *groups, int n) {
    int i;
    NG_ASSERT(n >= 0 && n <= NG_MAX_GRAD_GROUPS);
    for (i = 0; i < n; i++) ctx->grad_groups[i] = groups[i];
    ctx->n_grad_groups = n;
}

/* Record the first failure; later ops see ctx->status and return NULL. */
static void ng__ctx_fail(ng_ctx *ctx, ng_status s) {
    if (ctx->status == NG_OK) ctx->status = s;
}

/* An op was handed a NULL input: keep the first failure, or record this one. */
static ng_tensor *ng__null_input(ng_ctx *ctx, int op) {
    if (ctx->status == NG_OK) {
        ctx->status = NG_ERR_ARG;
        ng_fail(NG_ERR_ARG, "%s: an input is NULL", ng_op_name(op));
    }
    return NULL;
}

static void *ng__alloc(ng_ctx *ctx, size_t bytes) {
    void *p = ng_arena_alloc(&ctx->arena, bytes);
    if (!p) ng__ctx_fail(ctx, NG_ERR_NOMEM);
    return p;
}
static float *ng__falloc(ng_ctx *ctx, int64_t n) { return (float *)ng__alloc(ctx, (size_t)n * sizeof(float)); }
static float *ng__fzalloc(ng_ctx *ctx, int64_t n) {
    float *p = ng__falloc(ctx, n);
    if (p) memset(p, 0, (size_t)n * sizeof(float));
    return p;
}

ng_tensor *ng_tensor_new(ng_ctx *ctx, ng_shape shape) {
    int64_t numel = ng_shape_numel(shape);
    ng_tensor *t;
    size_t bytes;
    if (ctx->status != NG_OK) return NULL;
    if (numel < 0 || ng_mul_size((size_t)numel, sizeof(float), &bytes)) {
        ng_fail(NG_ERR_ARG, "tensor: invalid or overflowing shape");
        ng__ctx_fail(ctx, NG_ERR_ARG);
        return NULL;
    }
    t = (ng_tensor *)ng__alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->shape = shape;
    t->numel = numel;
    t->data = (float *)ng__alloc(ctx, bytes ? bytes : 1);
    return t->data ? t : NULL;
}
ng_tensor *ng_tensor_zeros(ng_ctx *ctx, ng_shape shape) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}
ng_tensor *ng_tensor_from(ng_ctx *ctx, ng_shape shape, const float *data) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    return t;
}
void ng_tensor_requires_grad(ng_tensor *t) { t->requires_grad = 1; }

static int ng__needs_grad(const ng_ctx *ctx, const ng_tensor *t) {
    int i;
    if (ctx->no_grad) return 0;
    if (!t->owner) return t->requires_grad;
    if (!t->owner->grad) return 0;
    for (i = 0; i < ctx->n_grad_groups; i++)
        if (ctx->grad_groups[i] == t->owner) return 1;
    return 0;
}

/* Start an op: check inputs, allocate the output, and fill a node at the tape's tail (kept
   only by ng__finish when some input needs a gradient). NULL if any input is NULL or the
   context already failed. */
static ng_node *ng__begin(ng_ctx *ctx, int op, ng_tensor *const *ins, int n_in, ng_shape out_shape) {
    ng_node *n;
    int k;
    if (ctx->status != NG_OK) return NULL;
    NG_ASSERT(n_in >= 0 && n_in <= 32);
    for (k = 0; k < n_in; k++)
        if (!ins[k]) { ng__ctx_fail(ctx, NG_ERR_ARG); ng_fail(NG_ERR_ARG, "%s: input %d is NULL", ng_op_name(op), k); return NULL; }
    if (ctx->n_nodes == ctx->cap_nodes) {
        int cap = ctx->cap_nodes ? 2 * ctx->cap_nodes : 1024;
        ng_node *nn = (ng_node *)realloc(ctx->nodes, (size_t)cap * sizeof *nn);
        if (!nn) { ng__ctx_fail(ctx, NG_ERR_NOMEM); ng_fail(NG_ERR_NOMEM, "tape: out of memory"); return NULL; }
        ctx->nodes = nn;
        ctx->cap_nodes = cap;
    }
    n = &ctx->nodes[ctx->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->ctx = ctx;
    n->n_in = n_in;
    n->in = (ng_tensor **)ng__alloc(ctx, (size_t)(n_in ? n_in : 1) * sizeof(ng_tensor *));
    if (!n->in) return NULL;
    for (k = 0; k < n_in; k++) {
        n->in[k] = ins[k];
        if (ng__needs_grad(ctx, ins[k])) n->need |= 1u << k;
    }
    n->out = ng_tensor_new(ctx, out_shape);
    return n->out ? n : NULL;
}

/* Run the forward and keep the node on the tape if a gradient must flow through it. */
static ng_tensor *ng__finish(ng_node *n) {
    ng_ctx *ctx = n->ctx;
    ng__dispatch_forward(n);
    if (ctx->status != NG_OK) return NULL;
    if (n->need) {
        n->out->requires_grad = 1;
        ctx->n_nodes++;
    }
    return n->out;
}

static int ng__need(const ng_node *n, int k) { return (n->need >> k) & 1u; }

/* Gradient buffer of a tensor, allocated zeroed in the arena on first use. */
static float *ng__grad_of(ng_ctx *ctx, ng_tensor *t) {
    if (!t->grad) t->grad = ng__fzalloc(ctx, t->numel);
    return t->grad;
}
/* Gradient buffer of input k, or NULL when input k needs no gradient. */
static float *ng__in_grad(ng_node *n, int k) {
    return ng__need(n, k) ? ng__grad_of(n->ctx, n->in[k]) : NULL;
}

ng_status ng_backward_from(ng_ctx *ctx, ng_tensor *out, const float *seed) {
    int i;
    int64_t j;
    float *g;
    if (ctx->status != NG_OK) return ctx->status;
    if (!out) return ng_fail(NG_ERR_ARG, "backward: output is NULL (an earlier op failed)");
    /* activation gradients start from zero on every pass; parameter gradients accumulate */
    for (i = 0; i < ctx->n_nodes; i++) ctx->nodes[i].out->grad = NULL;
    if (!out->requires_grad && !(out->owner && ng__needs_grad(ctx, out))) return NG_OK;
    g = ng__grad_of(ctx, out);
    if (!g) return ng_fail(NG_ERR_NOMEM, "backward: arena exhausted");
    for (j = 0; j < out->numel; j++) g[j] += seed ? seed[j] : 1.0f;
    for (i = ctx->n_nodes - 1; i >= 0; i--) {
        ng_node *n = &ctx->nodes[i];
        if (!n->out->grad) continue; /* nothing flowed here: not an ancestor of `out` */
        ng__dispatch_backward(n);
        if (ctx->status != NG_OK) return ng_fail(ctx->status, "backward: %s failed (%s)", ng_op_name(n->op), ng_status_str(ctx->status));
    }
    return NG_OK;
}

ng_status ng_backward(ng_ctx *ctx, ng_tensor *loss) {
    if (loss && loss->numel != 1) return ng_fail(NG_ERR_ARG, "backward: loss must be a scalar, has %lld elements", (long long)loss->numel);
    return ng_backward_from(ctx, loss, NULL);
}

/* ---- src/gemm.c ---- */
/* ======================================================================================== */
/* @@GEMM                                                                                   */
/* ======================================================================================== */
/* Built-in SGEMM, GotoBLAS/BLIS style, with a direct path for small products.

   Packed path. C (M x N, row-major) is cut into column blocks of NC (loop jc), the K range into
   blocks of KC (loop pc), and the rows into blocks of MC (loop ic). For each (jc, pc) the
   KC x NC block of op(B) is packed into micro-panels of NR columns (k-major: NR floats per k),
   and for each ic the MC x KC block of alpha op(A) into micro-panels of MR rows (MR floats per
   k); edges are zero-padded. The macro-kernel walks the NR panels of B (each stays in L1)
   against the MR panels of A (the A block stays in L2), and the register-blocked micro-kernel
   adds one MR x NR tile: acc = sum_k a[k][0..MR) x b[k][0..NR), C = acc + beta C (beta only on
   the first K block; beta == 0 stores without reading C). Partial tiles at the matrix edges go
   through a small buffer.

   Direct path (K <= 256 and M N K <= 128^3): no packing of A, 16-column strips of B copied to
   the stack when useful (see ng__gemm_direct).

   Micro-kernels: AVX2+FMA (MR x NR = 6 x 16), portable C (4 x 16, left to the auto-vectoriser),
   and AVX-512 (12 x 32) when NG_GEMM_AVX512 is defined. The AVX-512 kernel is opt-in because on
   the AMD Zen 4 it was measured on (512-bit FMAs split in two) it ran 3-4% slower than the AVX2
   one at 1024^3 (102 vs 106 GFLOP/s, one thread); CPUs with full-width AVX-512 units may
   gain from it.

   Threads: C is split into a tm x tn grid of parts (tm tn = threads, edges on tile multiples),
   one per thread, each with its own packing buffers, so the only synchronisation is the end of
   the parallel loop. (A variant sharing one packed B block between threads, with a dynamic
   queue of row blocks and one barrier per K block, measured slower on this 2-core machine, e.g.
   94 vs 143 GFLOP/s at 256x64x2304 and 174 vs 187 at 512^3 with A^T, and its barriers cost much
   more when other processes compete for the cores.) Inside an OpenMP parallel region
   (convolution calls sgemm per image) everything runs on the caller's thread.

   Determinism: the tile grid and the K blocking do not depend on the number of threads and
   every C element is computed by one thread in a fixed order (no atomics, no reductions across
   threads), so results are bitwise the same for any thread count. */

#if defined(NG__HAVE_AVX2) && defined(__AVX512F__) && defined(NG_GEMM_AVX512)
#define NG__GEMM_AVX512 1
#define NG__GEMM_MR 12
#define NG__GEMM_NR 32
#elif defined(NG__HAVE_AVX2)
#define NG__GEMM_MR 6
#define NG__GEMM_NR 16
#else
#define NG__GEMM_MR 4
#define NG__GEMM_NR 16
#endif
/* Cache blocks (overridable for tuning): KC x NR floats of B fill about half of L1, MC x KC of A
   fit in L2, KC x NC of B in L3. */
#ifndef NG__GEMM_KC
#define NG__GEMM_KC 256
#endif
#ifndef NG__GEMM_MC
#define NG__GEMM_MC 144
#endif
#ifndef NG__GEMM_NC
#define NG__GEMM_NC 4096
#endif
/* Up to this many multiply-adds (M N K), and K <= NG__GEMM_DIRECT_KMAX, the direct path (no
   packing) wins; below NG__GEMM_MT_MIN per thread, extra threads cost more than they save. */
#ifndef NG__GEMM_SMALL
#define NG__GEMM_SMALL 2097152 /* 128^3 */
#endif
#define NG__GEMM_MT_MIN 262144

static int64_t ng__gemm_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ng__gemm_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- micro-kernels: c[0..MR)[0..NR) (+)= sum_k a[k*MR + r] b[k*NR + j] ---- */
#if defined(NG__GEMM_AVX512)
/* 24 accumulators (12 rows x 2 zmm), 2 B vectors, 1 broadcast: 27 of 32 registers. */
#define NG__GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define NG__GEMM_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define NG__GEMM_FMA(r) { __m512 av = _mm512_set1_ps(a[r]);                              \
                     c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                    \
                     c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1); }
#define NG__GEMM_STEP { __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);       \
                   NG__GEMM_ROWS(NG__GEMM_FMA) a += NG__GEMM_MR; b += NG__GEMM_NR; }
#define NG__GEMM_PF(r) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);             \
                  _mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
#define NG__GEMM_ST0(r) _mm512_storeu_ps(c + r * ldc, c##r##0); _mm512_storeu_ps(c + r * ldc + 16, c##r##1);
#define NG__GEMM_STB(r) _mm512_storeu_ps(c + r * ldc, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + r * ldc), c##r##0)); \
                   _mm512_storeu_ps(c + r * ldc + 16, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + r * ldc + 16), c##r##1));
static void ng__gemm_ukr(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float beta) {
    int64_t k;
    NG__GEMM_ROWS(NG__GEMM_DECL)
    NG__GEMM_ROWS(NG__GEMM_PF)
    for (k = kc; k >= 4; k -= 4) { NG__GEMM_STEP NG__GEMM_STEP NG__GEMM_STEP NG__GEMM_STEP }
    for (; k > 0; k--) { NG__GEMM_STEP }
    if (beta == 0.0f) { NG__GEMM_ROWS(NG__GEMM_ST0) }
    else { __m512 bv = _mm512_set1_ps(beta); NG__GEMM_ROWS(NG__GEMM_STB) }
}
#elif defined(NG__HAVE_AVX2)
/* 12 accumulators (6 rows x 2 ymm), 2 B vectors, 1 broadcast: 15 of 16 registers. */
#define NG__GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define NG__GEMM_DECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps();
#define NG__GEMM_FMA(r) { __m256 av = _mm256_broadcast_ss(a + r);                         \
                     c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                    \
                     c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1); }
#define NG__GEMM_STEP { __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);        \
                   NG__GEMM_ROWS(NG__GEMM_FMA) a += NG__GEMM_MR; b += NG__GEMM_NR; }
#define NG__GEMM_PF(r) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);             \
                  _mm_prefetch((const char *)(c + r * ldc + 15), _MM_HINT_T0);
#define NG__GEMM_ST0(r) _mm256_storeu_ps(c + r * ldc, c##r##0); _mm256_storeu_ps(c + r * ldc + 8, c##r##1);
#define NG__GEMM_STB(r) _mm256_storeu_ps(c + r * ldc, _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + r * ldc), c##r##0)); \
                   _mm256_storeu_ps(c + r * ldc + 8, _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + r * ldc + 8), c##r##1));
static void ng__gemm_ukr(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float beta) {
    int64_t k;
    NG__GEMM_ROWS(NG__GEMM_DECL)
    NG__GEMM_ROWS(NG__GEMM_PF)
    for (k = kc; k >= 4; k -= 4) { NG__GEMM_STEP NG__GEMM_STEP NG__GEMM_STEP NG__GEMM_STEP }
    for (; k > 0; k--) { NG__GEMM_STEP }
    if (beta == 0.0f) { NG__GEMM_ROWS(NG__GEMM_ST0) }
    else { __m256 bv = _mm256_set1_ps(beta); NG__GEMM_ROWS(NG__GEMM_STB) }
}
#else
static void ng__gemm_ukr(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float beta) {
    float acc[NG__GEMM_MR][NG__GEMM_NR];
    int64_t k;
    int r, j;
    memset(acc, 0, sizeof acc);
    for (k = 0; k < kc; k++, a += NG__GEMM_MR, b += NG__GEMM_NR)
        for (r = 0; r < NG__GEMM_MR; r++) {
            const float ar = a[r];
            for (j = 0; j < NG__GEMM_NR; j++) acc[r][j] += ar * b[j];
        }
    for (r = 0; r < NG__GEMM_MR; r++) {
        float *cr = c + r * ldc;
        if (beta == 0.0f) for (j = 0; j < NG__GEMM_NR; j++) cr[j] = acc[r][j];
        else for (j = 0; j < NG__GEMM_NR; j++) cr[j] = beta * cr[j] + acc[r][j];
    }
}
#endif

/* ---- packing ---- */
/* dst[k W + r] = alpha src[k ld + r] for r < n, 0 for n <= r < W: each k's lanes are adjacent
   (op(A) with trans_a, op(B) without trans_b). */
static void ng__gemm_pack_contig(const float *src, int64_t ld, int n, int W, int64_t kc, float alpha, float *dst) {
    int64_t k;
    int r;
    for (k = 0; k < kc; k++, src += ld, dst += W) {
        if (alpha == 1.0f) for (r = 0; r < n; r++) dst[r] = src[r];
        else for (r = 0; r < n; r++) dst[r] = alpha * src[r];
        for (r = n; r < W; r++) dst[r] = 0.0f;
    }
}

/* dst[k W + r] = alpha src[r ld + k] for r < n, 0 for n <= r < W: lane r is a row of its own,
   contiguous along k (op(A) without trans_a, op(B) with trans_b). With AVX2, 8 x 8 blocks are
   transposed in registers (W a multiple of 8, or 8 k + 4 or 6); the rest goes lane by lane with
   the rows read side by side, so the writes stay sequential. */
#ifdef NG__HAVE_AVX2
static void ng__gemm_tr8(__m256 *v) {
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    v[0] = _mm256_permute2f128_ps(u0, u4, 0x20); v[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    v[2] = _mm256_permute2f128_ps(u2, u6, 0x20); v[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    v[4] = _mm256_permute2f128_ps(u0, u4, 0x31); v[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    v[6] = _mm256_permute2f128_ps(u2, u6, 0x31); v[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif
static void ng__gemm_pack_strided(const float *src, int64_t ld, int n, int W, int64_t kc, float alpha, float *dst) {
    const float *rows[64];
    int64_t k = 0;
    int r;
#ifdef NG__HAVE_AVX2
    if (n == W && (W % 8 == 0 || W % 8 == 4 || W % 8 == 6)) {
        const __m256 av = _mm256_set1_ps(alpha);
        for (; k + 8 <= kc; k += 8) {
            int g;
            for (g = 0; g < W; g += 8) {
                const int nv = W - g < 8 ? W - g : 8;
                __m256 v[8];
                for (r = 0; r < 8; r++)
                    v[r] = r < nv ? _mm256_mul_ps(av, _mm256_loadu_ps(src + (g + r) * ld + k)) : _mm256_setzero_ps();
                ng__gemm_tr8(v);
                for (r = 0; r < 8; r++) {
                    float *d = dst + (k + r) * W + g;
                    if (nv == 8) {
                        _mm256_storeu_ps(d, v[r]);
                    } else {
                        _mm_storeu_ps(d, _mm256_castps256_ps128(v[r]));
                        if (nv == 6) _mm_store_sd((double *)(void *)(d + 4), _mm_castps_pd(_mm256_extractf128_ps(v[r], 1)));
                    }
                }
            }
        }
    }
#endif
    for (r = 0; r < n; r++) rows[r] = src + r * ld;
    for (dst += k * W; k < kc; k++, dst += W) {
        for (r = 0; r < n; r++) dst[r] = alpha * rows[r][k];
        for (r = n; r < W; r++) dst[r] = 0.0f;
    }
}

/* alpha op(A)[i0 .. i0+mc, k0 .. k0+kc] -> MR-row micro-panels (MR floats per k). */
static void ng__gemm_pack_a(int ta, const float *A, int64_t lda, int64_t i0, int64_t k0, int64_t mc,
                            int64_t kc, float alpha, float *dst) {
    int64_t p = 0, k;
    if (ta) { /* whole rows of A^T at a time (sequential reads), scattered to the full panels */
        const int64_t nfull = mc / NG__GEMM_MR;
        for (k = 0; k < kc; k++) {
            const float *s = A + (k0 + k) * lda + i0;
            float *d = dst + k * NG__GEMM_MR;
            int r;
            for (p = 0; p < nfull; p++, s += NG__GEMM_MR, d += NG__GEMM_MR * kc)
                for (r = 0; r < NG__GEMM_MR; r++) d[r] = alpha * s[r];
        }
        p = nfull * NG__GEMM_MR;
        dst += nfull * NG__GEMM_MR * kc;
    }
    for (; p < mc; p += NG__GEMM_MR, dst += NG__GEMM_MR * kc) {
        const int mr = (int)ng__gemm_min(NG__GEMM_MR, mc - p);
        if (ta) ng__gemm_pack_contig(A + k0 * lda + i0 + p, lda, mr, NG__GEMM_MR, kc, alpha, dst);
        else ng__gemm_pack_strided(A + (i0 + p) * lda + k0, lda, mr, NG__GEMM_MR, kc, alpha, dst);
    }
}

/* op(B)[k0 .. k0+kc, j0 .. j0+nc] -> NR-column micro-panels (NR floats per k). */
static void ng__gemm_pack_b(int tb, const float *B, int64_t ldb, int64_t k0, int64_t j0, int64_t kc,
                       int64_t nc, float *dst) {
    int64_t q = 0, k;
    if (!tb) { /* whole rows of B at a time (sequential reads), scattered to the full panels */
        const int64_t nfull = nc / NG__GEMM_NR;
        for (k = 0; k < kc; k++) {
            const float *s = B + (k0 + k) * ldb + j0;
            float *d = dst + k * NG__GEMM_NR;
            for (q = 0; q < nfull; q++) memcpy(d + q * NG__GEMM_NR * kc, s + q * NG__GEMM_NR, NG__GEMM_NR * sizeof(float));
        }
        q = nfull * NG__GEMM_NR;
        dst += nfull * NG__GEMM_NR * kc;
    }
    for (; q < nc; q += NG__GEMM_NR, dst += NG__GEMM_NR * kc) {
        const int nr = (int)ng__gemm_min(NG__GEMM_NR, nc - q);
        if (!tb) ng__gemm_pack_contig(B + k0 * ldb + j0 + q, ldb, nr, NG__GEMM_NR, kc, 1.0f, dst);
        else ng__gemm_pack_strided(B + (j0 + q) * ldb + k0, ldb, nr, NG__GEMM_NR, kc, 1.0f, dst);
    }
}

/* C[0..mr, 0..nr] = beta C + t (t: an MR x NR tile; beta == 0 overwrites). */
static void ng__gemm_merge(const float *t, float *C, int64_t ldc, int mr, int nr, float beta) {
    int r, j;
    for (r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        const float *tr = t + r * NG__GEMM_NR;
        if (beta == 0.0f) for (j = 0; j < nr; j++) c[j] = tr[j];
        else for (j = 0; j < nr; j++) c[j] = beta * c[j] + tr[j];
    }
}

/* C = beta C on an M x N block (beta == 0 writes zeros, whatever C held). */
static void ng__gemm_scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    int64_t i, j;
    if (beta == 1.0f) return;
    for (i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
        else for (j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Plain loops: the fallback when the packing buffers cannot be allocated. */
static void ng__gemm_small(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                           float *C, int64_t ldc) {
    int64_t i, j, k;
    for (i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (!tb) {
            ng__gemm_scale_c(1, N, beta, c, ldc);
            for (k = 0; k < K; k++) {
                const float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
                const float *b = B + k * ldb;
                for (j = 0; j < N; j++) c[j] += a * b[j];
            }
        } else {
            for (j = 0; j < N; j++) {
                const float *b = B + j * ldb;
                float s = 0.0f;
                for (k = 0; k < K; k++) s += (ta ? A[k * lda + i] : A[i * lda + k]) * b[k];
                c[j] = (beta == 0.0f ? 0.0f : beta * c[j]) + alpha * s;
            }
        }
    }
}

/* ---- direct path for small products: no packing of A, no heap ----
   A DMR x 16 tile (6 x 16 with AVX2, 4 x 16 portable) of C = alpha sum_k A(i, k) B(k, j) +
   beta C is accumulated reading op(A) in place (element (r, k) at a[r rs + k cs], either
   transposition) and 16 consecutive floats of op(B) per k (b + k ldb). Rows past mr repeat row
   mr-1 (in bounds, never stored); columns past nr are masked off (AVX2) or computed on the
   zero padding of a strip and dropped. Each 16-column strip of op(B) is first copied to a
   k-major buffer on the stack when op(B) is B^T, when enough row tiles reuse it, or always in
   the portable build. */
#ifdef NG__HAVE_AVX2
#define NG__GEMM_DMR 6
#else
#define NG__GEMM_DMR 4
#endif
#define NG__GEMM_DNR 16
#define NG__GEMM_DIRECT_KMAX 256 /* strip of K x 16 floats on the stack (16 KiB) */
#ifdef NG__HAVE_AVX2
#define NG__GEMM_DIRECT_COPY_ALWAYS 0 /* the AVX2 tile masks partial columns itself */
#else
#define NG__GEMM_DIRECT_COPY_ALWAYS 1 /* the portable tile reads 16 floats of b per k */
#endif
#ifdef NG__HAVE_AVX2
#define NG__GEMM_DROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define NG__GEMM_DDECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps(); \
                          const float *a##r = a + (r < mr ? r : mr - 1) * rs;
#define NG__GEMM_DFMA(r) { const __m256 av = _mm256_broadcast_ss(a##r + o);                  \
                           c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                    \
                           c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1); }
#define NG__GEMM_DOUT(r) if (r < mr) {                                                    \
        float *cr = c + r * ldc;                                                             \
        __m256 v0 = _mm256_mul_ps(alv, c##r##0), v1 = _mm256_mul_ps(alv, c##r##1);            \
        if (nr == NG__GEMM_DNR) {                                                            \
            if (beta != 0.0f) { v0 = _mm256_fmadd_ps(bev, _mm256_loadu_ps(cr), v0);             \
                                v1 = _mm256_fmadd_ps(bev, _mm256_loadu_ps(cr + 8), v1); }       \
            _mm256_storeu_ps(cr, v0); _mm256_storeu_ps(cr + 8, v1);                          \
        } else {                                                                             \
            if (beta != 0.0f) { v0 = _mm256_fmadd_ps(bev, _mm256_maskload_ps(cr, m0), v0);      \
                                v1 = _mm256_fmadd_ps(bev, _mm256_maskload_ps(cr + 8, m1), v1); } \
            _mm256_maskstore_ps(cr, m0, v0); _mm256_maskstore_ps(cr + 8, m1, v1);            \
        } }
static void ng__gemm_direct_tile(int64_t K, const float *a, int64_t rs, int64_t cs, const float *b,
                                 int64_t ldb, int mr, int nr, float alpha, float beta, float *c, int64_t ldc) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
    const __m256 alv = _mm256_set1_ps(alpha), bev = _mm256_set1_ps(beta);
    int64_t k, o = 0;
    NG__GEMM_DROWS(NG__GEMM_DDECL)
    if (nr == NG__GEMM_DNR) {
        for (k = 0; k < K; k++, b += ldb, o += cs) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            NG__GEMM_DROWS(NG__GEMM_DFMA)
        }
    } else {
        for (k = 0; k < K; k++, b += ldb, o += cs) {
            const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
            NG__GEMM_DROWS(NG__GEMM_DFMA)
        }
    }
    NG__GEMM_DROWS(NG__GEMM_DOUT)
}
#undef NG__GEMM_DROWS
#undef NG__GEMM_DDECL
#undef NG__GEMM_DFMA
#undef NG__GEMM_DOUT
#else
/* Portable version: constant loop bounds so the compiler can keep acc in vector registers; rows
   past mr are clamped as above, columns past nr computed and dropped (b has >= 16 per k). */
static void ng__gemm_direct_tile(int64_t K, const float *a, int64_t rs, int64_t cs, const float *b,
                                 int64_t ldb, int mr, int nr, float alpha, float beta, float *c, int64_t ldc) {
    float acc[NG__GEMM_DMR][NG__GEMM_DNR];
    const float *ar[NG__GEMM_DMR];
    int64_t k;
    int r, j;
    memset(acc, 0, sizeof acc);
    for (r = 0; r < NG__GEMM_DMR; r++) ar[r] = a + (r < mr ? r : mr - 1) * rs;
    for (k = 0; k < K; k++, b += ldb)
        for (r = 0; r < NG__GEMM_DMR; r++) {
            const float av = ar[r][k * cs];
            for (j = 0; j < NG__GEMM_DNR; j++) acc[r][j] += av * b[j];
        }
    for (r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        if (beta == 0.0f) for (j = 0; j < nr; j++) cr[j] = alpha * acc[r][j];
        else for (j = 0; j < nr; j++) cr[j] = alpha * acc[r][j] + beta * cr[j];
    }
}
#endif

static void ng__gemm_direct(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                            float *C, int64_t ldc) {
    float strip[NG__GEMM_DIRECT_KMAX * NG__GEMM_DNR];
    const int64_t rs = ta ? 1 : lda, cs = ta ? lda : 1;
    int64_t i, j;
    for (j = 0; j < N; j += NG__GEMM_DNR) {
        const int nr = (int)ng__gemm_min(NG__GEMM_DNR, N - j);
        const float *b = B + j;
        int64_t ldb_strip = ldb;
        if (tb) { /* columns j .. j+nr of op(B) are rows of B: copy them to a k-major strip */
            ng__gemm_pack_strided(B + j * ldb, ldb, nr, NG__GEMM_DNR, K, 1.0f, strip);
            b = strip;
            ldb_strip = NG__GEMM_DNR;
        } else if (M > 2 * NG__GEMM_DMR || NG__GEMM_DIRECT_COPY_ALWAYS) {
            /* copy too (amortised over the row tiles): a strip read in place strides by ldb,
               and with ldb a multiple of 4 KiB all its k rows fight for one L1 set */
            int64_t k;
            if (nr == NG__GEMM_DNR)
                for (k = 0; k < K; k++) memcpy(strip + k * NG__GEMM_DNR, B + k * ldb + j, NG__GEMM_DNR * sizeof(float));
            else
                ng__gemm_pack_contig(B + j, ldb, nr, NG__GEMM_DNR, K, 1.0f, strip);
            b = strip;
            ldb_strip = NG__GEMM_DNR;
        }
        for (i = 0; i < M; i += NG__GEMM_DMR)
            ng__gemm_direct_tile(K, A + i * rs, rs, cs, b, ldb_strip, (int)ng__gemm_min(NG__GEMM_DMR, M - i), nr,
                                 alpha, beta, C + i * ldc + j, ldc);
    }
}

/* The packed path for rows [m0, m1) and columns [n0, n1) of C, all of K, on the calling thread,
   with its own packing buffers (allocated once per call). */
static void ng__gemm_packed(int ta, int tb, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K,
                            float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                            float beta, float *C, int64_t ldc) {
    const int64_t M = m1 - m0, N = n1 - n0;
    /* balanced blocks: as large as allowed, split evenly (no sliver at the end) */
    const int64_t kc_max = ng__gemm_cdiv(K, ng__gemm_cdiv(K, NG__GEMM_KC));
    const int64_t mc_max = ng__gemm_cdiv(ng__gemm_cdiv(M, ng__gemm_cdiv(M, NG__GEMM_MC)), NG__GEMM_MR) * NG__GEMM_MR;
    const int64_t nc_max = ng__gemm_cdiv(ng__gemm_cdiv(N, ng__gemm_cdiv(N, NG__GEMM_NC)), NG__GEMM_NR) * NG__GEMM_NR;
    const int64_t b_size = nc_max * kc_max; /* a multiple of 16: the A block stays 64-byte aligned */
    float *bp, *ap, *tile;
    int64_t jc, pc, ic, jr, ir;
    bp = (float *)ng_aligned_alloc((size_t)(b_size + mc_max * kc_max + NG__GEMM_MR * NG__GEMM_NR) * sizeof(float));
    if (!bp) { /* out of memory: the plain loops need no buffers */
        ng__gemm_small(ta, tb, M, N, K, alpha, A + (ta ? m0 : m0 * lda), lda, B + (tb ? n0 * ldb : n0), ldb,
                       beta, C + m0 * ldc + n0, ldc);
        return;
    }
    ap = bp + b_size;
    tile = ap + mc_max * kc_max;
    for (jc = 0; jc < N; jc += nc_max) {
        const int64_t nc = ng__gemm_min(nc_max, N - jc);
        for (pc = 0; pc < K; pc += kc_max) {
            const int64_t kc = ng__gemm_min(kc_max, K - pc);
            const float beta_k = pc == 0 ? beta : 1.0f;
            ng__gemm_pack_b(tb, B, ldb, pc, n0 + jc, kc, nc, bp);
            for (ic = 0; ic < M; ic += mc_max) {
                const int64_t mc = ng__gemm_min(mc_max, M - ic);
                ng__gemm_pack_a(ta, A, lda, m0 + ic, pc, mc, kc, alpha, ap);
                for (jr = 0; jr < nc; jr += NG__GEMM_NR) {
                    const int nr = (int)ng__gemm_min(NG__GEMM_NR, nc - jr);
                    const float *b = bp + jr * kc;
                    for (ir = 0; ir < mc; ir += NG__GEMM_MR) {
                        const int mr = (int)ng__gemm_min(NG__GEMM_MR, mc - ir);
                        float *c = C + (m0 + ic + ir) * ldc + n0 + jc + jr;
                        if (mr == NG__GEMM_MR && nr == NG__GEMM_NR) {
                            ng__gemm_ukr(kc, ap + ir * kc, b, c, ldc, beta_k);
                        } else {
                            ng__gemm_ukr(kc, ap + ir * kc, b, tile, NG__GEMM_NR, 0.0f);
                            ng__gemm_merge(tile, c, ldc, mr, nr, beta_k);
                        }
                    }
                }
            }
        }
    }
    ng_aligned_free(bp);
}

void ng_sgemm_builtin(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    int nt = 1, tm = 1, tn = 1, direct, mr, nr;
    int64_t mt, ntc;
    if (M <= 0 || N <= 0) return;
    NG_ASSERT(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N));
    if (K <= 0 || alpha == 0.0f) { ng__gemm_scale_c(M, N, beta, C, ldc); return; }
    direct = K <= NG__GEMM_DIRECT_KMAX && (double)M * (double)N * (double)K <= NG__GEMM_SMALL;
    mr = direct ? NG__GEMM_DMR : NG__GEMM_MR;
    nr = direct ? NG__GEMM_DNR : NG__GEMM_NR;
    mt = ng__gemm_cdiv(M, mr);  /* row tiles */
    ntc = ng__gemm_cdiv(N, nr); /* column tiles */
#ifdef _OPENMP
    if (!omp_in_parallel()) {
        const double work = (double)M * (double)N * (double)K / NG__GEMM_MT_MIN;
        nt = omp_get_max_threads();
        if (work < nt) nt = work < 1.0 ? 1 : (int)work;
        if ((int64_t)nt > mt * ntc) nt = (int)(mt * ntc);
    }
#endif
    /* Threads: a tm x tn grid of parts (tm tn = nt, edges on tile multiples) minimising the
       busiest thread's tiles plus its packing, in elements; with too few tiles for any grid of
       nt, one thread less. Each thread packs its own panels: no barrier but the final one. */
    for (; nt > 1; nt--) {
        double best = -1.0;
        int d;
        for (d = 1; d <= nt; d++) {
            if (nt % d == 0 && d <= mt && nt / d <= ntc) {
                const double rm = (double)(ng__gemm_cdiv(mt, d) * mr), rn = (double)(ng__gemm_cdiv(ntc, nt / d) * nr);
                const double cost = rm * rn + 32.0 * (rm + rn);
                if (best < 0.0 || cost <= best) { best = cost; tm = d; tn = nt / d; } /* ties: split M */
            }
        }
        if (best >= 0.0) break;
    }
    if (nt <= 1) {
        if (direct) ng__gemm_direct(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else ng__gemm_packed(trans_a, trans_b, 0, M, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        int t;
        NG__OMP(parallel for num_threads(nt) schedule(static, 1))
        for (t = 0; t < nt; t++) {
            const int64_t ti = t / tn, tj = t % tn;
            const int64_t m0 = ng__gemm_min(M, (mt * ti / tm) * mr), m1 = ng__gemm_min(M, (mt * (ti + 1) / tm) * mr);
            const int64_t n0 = ng__gemm_min(N, (ntc * tj / tn) * nr), n1 = ng__gemm_min(N, (ntc * (tj + 1) / tn) * nr);
            if (m1 <= m0 || n1 <= n0) continue;
            if (direct)
                ng__gemm_direct(trans_a, trans_b, m1 - m0, n1 - n0, K, alpha, A + (trans_a ? m0 : m0 * lda), lda,
                                B + (trans_b ? n0 * ldb : n0), ldb, beta, C + m0 * ldc + n0, ldc);
            else
                ng__gemm_packed(trans_a, trans_b, m0, m1, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
        }
    }
}
#undef NG__GEMM_ROWS
#undef NG__GEMM_DECL
#undef NG__GEMM_FMA
#undef NG__GEMM_STEP
#undef NG__GEMM_PF
#undef NG__GEMM_ST0
#undef NG__GEMM_STB

ng_status ng_sgemm_openblas(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                            float *C, int64_t ldc) {
#ifdef NG_USE_OPENBLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
    return NG_OK;
#else
    (void)trans_a; (void)trans_b; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda;
    (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return ng_fail(NG_ERR_UNSUPPORTED, "sgemm: this build has no OpenBLAS (rebuild with NG_USE_OPENBLAS)");
#endif
}

void ng_sgemm(int backend, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    NG_ASSERT(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N));
#ifdef NG_USE_OPENBLAS
    if (backend == NG_GEMM_OPENBLAS && K > 0) {
        ng_sgemm_openblas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#else
    (void)backend;
#endif
    ng_sgemm_builtin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- src/ops_dense.c ---- */
/* ======================================================================================== */
/* @@OPS dense                                                                              */
/* ======================================================================================== */
static void ng__bad(ng_ctx *ctx, const char *op, const char *why) {
    ng__ctx_fail(ctx, NG_ERR_ARG);
    ng_fail(NG_ERR_ARG, "%s: %s", op, why);
}

/* ---- matmul: C = A B ---- */
ng_tensor *ng_matmul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = a; ins[1] = b;
    if (!a || !b) return ng__null_input(ctx, NG_OP_MATMUL);
    NG_ASSERT(a->shape.ndim == 2 && b->shape.ndim == 2 && a->shape.d[1] == b->shape.d[0]);
    n = ng__begin(ctx, NG_OP_MATMUL, ins, 2, ng_shape2(a->shape.d[0], b->shape.d[1]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    ng_sgemm(n->ctx->gemm_backend, 0, 0, M, N, K, 1.0f, a->data, K, b->data, N, 0.0f, n->out->data, N);
}
static void ng__bw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    float *ga = ng__in_grad(n, 0), *gb = ng__in_grad(n, 1), *g = n->out->grad;
    if (ga) ng_sgemm(n->ctx->gemm_backend, 0, 1, M, K, N, 1.0f, g, N, b->data, N, 1.0f, ga, K);
    if (gb) ng_sgemm(n->ctx->gemm_backend, 1, 0, K, N, M, 1.0f, a->data, K, g, N, 1.0f, gb, N);
}

/* ---- linear: y = x W^T + b ---- */
ng_tensor *ng_linear(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b) {
    ng_tensor *ins[3];
    ng_node *n;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_LINEAR);
    NG_ASSERT(x->shape.ndim == 2 && w->shape.ndim == 2 && x->shape.d[1] == w->shape.d[1]);
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    n = ng__begin(ctx, NG_OP_LINEAR, ins, b ? 3 : 2, ng_shape2(x->shape.d[0], w->shape.d[0]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0], r, o;
    float *y = n->out->data;
    if (n->n_in == 3) {
        const float *b = n->in[2]->data;
        for (r = 0; r < N; r++)
            for (o = 0; o < O; o++) y[r * O + o] = b[o];
    }
    ng_sgemm(n->ctx->gemm_backend, 0, 1, N, O, Din, 1.0f, x->data, Din, w->data, Din, n->n_in == 3 ? 1.0f : 0.0f, y, O);
}
static void ng__bw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0], r, o;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (gx) ng_sgemm(n->ctx->gemm_backend, 0, 0, N, Din, O, 1.0f, g, O, w->data, Din, 1.0f, gx, Din);
    if (gw) ng_sgemm(n->ctx->gemm_backend, 1, 0, O, Din, N, 1.0f, g, O, x->data, Din, 1.0f, gw, Din);
    if (gb)
        for (r = 0; r < N; r++)
            for (o = 0; o < O; o++) gb[o] += g[r * O + o];
}

/* ---- broadcasting elementwise add / sub / mul ---- */
/* Both operands viewed as 4-D, right-aligned; stride 0 along broadcast dimensions. */
typedef struct ng__bcast {
    int64_t d[4], sa[4], sb[4];
    int same; /* identical shapes: flat loops */
} ng__bcast;

static void ng__strides4(const ng_shape *s, int64_t dims[4], int64_t st[4]) {
    int i, off = 4 - s->ndim;
    int64_t acc = 1;
    for (i = 0; i < 4; i++) dims[i] = i < off ? 1 : s->d[i - off];
    for (i = 3; i >= 0; i--) { st[i] = dims[i] == 1 ? 0 : acc; acc *= dims[i]; }
}

static int ng__bcast_shape(const ng_shape *a, const ng_shape *b, ng_shape *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim, i;
    out->ndim = nd;
    for (i = 0; i < NG_MAX_DIMS; i++) out->d[i] = 1;
    for (i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return -1;
        out->d[i] = da == 1 ? db : da;
    }
    return 0;
}

static ng__bcast ng__bcast_plan(const ng_node *n) {
    ng__bcast p;
    int64_t tmp[4];
    ng__strides4(&n->out->shape, p.d, tmp);
    ng__strides4(&n->in[0]->shape, tmp, p.sa);
    ng__strides4(&n->in[1]->shape, tmp, p.sb);
    p.same = n->in[0]->numel == n->out->numel && n->in[1]->numel == n->out->numel;
    return p;
}

static ng_tensor *ng__binary(ng_ctx *ctx, int op, ng_tensor *a, ng_tensor *b) {
    ng_tensor *ins[2];
    ng_shape s;
    ng_node *n;
    ins[0] = a; ins[1] = b;
    if (!a || !b) return ng__null_input(ctx, op);
    if (ng__bcast_shape(&a->shape, &b->shape, &s)) { ng__bad(ctx, ng_op_name(op), "shapes do not broadcast"); return NULL; }
    n = ng__begin(ctx, op, ins, 2, s);
    return n ? ng__finish(n) : NULL;
}
ng_tensor *ng_add(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_ADD, a, b); }
ng_tensor *ng_sub(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_SUB, a, b); }
ng_tensor *ng_mul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_MUL, a, b); }

/* kind: 0 add, 1 sub, 2 mul */
static void ng__binary_fw(ng_node *n, int kind) {
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out->data;
    ng__bcast p = ng__bcast_plan(n);
    int64_t i0, i1, i2, i3, o = 0;
    if (p.same) {
        int64_t i, N = n->out->numel;
        if (kind == 0) for (i = 0; i < N; i++) y[i] = a[i] + b[i];
        else if (kind == 1) for (i = 0; i < N; i++) y[i] = a[i] - b[i];
        else for (i = 0; i < N; i++) y[i] = a[i] * b[i];
        return;
    }
    for (i0 = 0; i0 < p.d[0]; i0++)
        for (i1 = 0; i1 < p.d[1]; i1++)
            for (i2 = 0; i2 < p.d[2]; i2++)
                for (i3 = 0; i3 < p.d[3]; i3++, o++) {
                    float x = a[i0 * p.sa[0] + i1 * p.sa[1] + i2 * p.sa[2] + i3 * p.sa[3]];
                    float z = b[i0 * p.sb[0] + i1 * p.sb[1] + i2 * p.sb[2] + i3 * p.sb[3]];
                    y[o] = kind == 0 ? x + z : kind == 1 ? x - z : x * z;
                }
}
static void ng__binary_bw(ng_node *n, int kind) {
    const float *a = n->in[0]->data, *b = n->in[1]->data, *g = n->out->grad;
    float *ga = ng__in_grad(n, 0), *gb = ng__in_grad(n, 1);
    ng__bcast p = ng__bcast_plan(n);
    int64_t i0, i1, i2, i3, o = 0;
    for (i0 = 0; i0 < p.d[0]; i0++)
        for (i1 = 0; i1 < p.d[1]; i1++)
            for (i2 = 0; i2 < p.d[2]; i2++)
                for (i3 = 0; i3 < p.d[3]; i3++, o++) {
                    int64_t ia = i0 * p.sa[0] + i1 * p.sa[1] + i2 * p.sa[2] + i3 * p.sa[3];
                    int64_t ib = i0 * p.sb[0] + i1 * p.sb[1] + i2 * p.sb[2] + i3 * p.sb[3];
                    if (ga) ga[ia] += kind == 2 ? g[o] * b[ib] : g[o];
                    if (gb) gb[ib] += kind == 2 ? g[o] * a[ia] : kind == 1 ? -g[o] : g[o];
                }
}
static void ng__fw_add(ng_node *n) { ng__binary_fw(n, 0); }
static void ng__bw_add(ng_node *n) { ng__binary_bw(n, 0); }
static void ng__fw_sub(ng_node *n) { ng__binary_fw(n, 1); }
static void ng__bw_sub(ng_node *n) { ng__binary_bw(n, 1); }
static void ng__fw_mul(ng_node *n) { ng__binary_fw(n, 2); }
static void ng__bw_mul(ng_node *n) { ng__binary_bw(n, 2); }

/* ---- scale and add_scalar ---- */
static ng_tensor *ng__unary_f(ng_ctx *ctx, int op, ng_tensor *a, float s) {
    ng_node *n = ng__begin(ctx, op, &a, 1, a ? a->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = s;
    return ng__finish(n);
}
ng_tensor *ng_scale(ng_ctx *ctx, ng_tensor *a, float s) { return ng__unary_f(ctx, NG_OP_SCALE, a, s); }
ng_tensor *ng_add_scalar(ng_ctx *ctx, ng_tensor *a, float s) { return ng__unary_f(ctx, NG_OP_ADD_SCALAR, a, s); }
static void ng__fw_scale(ng_node *n) {
    int64_t i;
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->f[0] * n->in[0]->data[i];
}
static void ng__bw_scale(ng_node *n) {
    int64_t i;
    float *ga = ng__in_grad(n, 0);
    if (ga) for (i = 0; i < n->out->numel; i++) ga[i] += n->f[0] * n->out->grad[i];
}
static void ng__fw_add_scalar(ng_node *n) {
    int64_t i;
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->in[0]->data[i] + n->f[0];
}
static void ng__bw_add_scalar(ng_node *n) {
    int64_t i;
    float *ga = ng__in_grad(n, 0);
    if (ga) for (i = 0; i < n->out->numel; i++) ga[i] += n->out->grad[i];
}

/* ---- sum / mean over axes ---- */
/* i[0] = axes bitmask (over the input's dims), f[0] = 1 (sum) or 1/count (mean) */
static ng_tensor *ng__reduce(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim, int mean) {
    ng_shape s;
    ng_node *n;
    int i;
    int64_t count = 1;
    if (!a) return ng__null_input(ctx, NG_OP_REDUCE);
    axes &= (1u << a->shape.ndim) - 1u;
    s.ndim = 0;
    for (i = 0; i < NG_MAX_DIMS; i++) s.d[i] = 1;
    for (i = 0; i < a->shape.ndim; i++) {
        if (axes >> i & 1u) {
            count *= a->shape.d[i];
            if (keepdim) s.d[s.ndim++] = 1;
        } else {
            s.d[s.ndim++] = a->shape.d[i];
        }
    }
    n = ng__begin(ctx, NG_OP_REDUCE, &a, 1, s);
    if (!n) return NULL;
    n->i[0] = axes;
    n->f[0] = mean ? 1.0f / (float)(count ? count : 1) : 1.0f;
    return ng__finish(n);
}
ng_tensor *ng_sum(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim) { return ng__reduce(ctx, a, axes, keepdim, 0); }
ng_tensor *ng_mean(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim) { return ng__reduce(ctx, a, axes, keepdim, 1); }

/* input dims (4-D, left-padded) and the output stride of each (0 along reduced axes) */
static void ng__reduce_plan(const ng_node *n, int64_t d[4], int64_t so[4]) {
    const ng_shape *s = &n->in[0]->shape;
    unsigned axes = (unsigned)n->i[0];
    int i, off = 4 - s->ndim;
    int64_t acc = 1;
    for (i = 0; i < 4; i++) d[i] = i < off ? 1 : s->d[i - off];
    for (i = 3; i >= 0; i--) {
        int reduced = i >= off && (axes >> (i - off) & 1u);
        so[i] = reduced ? 0 : acc;
        if (!reduced) acc *= d[i];
    }
}
static void ng__fw_reduce(ng_node *n) {
    int64_t d[4], so[4], i0, i1, i2, i3, ii = 0, j;
    const float *a = n->in[0]->data;
    double *acc = (double *)ng__alloc(n->ctx, (size_t)n->out->numel * sizeof(double));
    if (!acc) return;
    for (j = 0; j < n->out->numel; j++) acc[j] = 0.0;
    ng__reduce_plan(n, d, so);
    for (i0 = 0; i0 < d[0]; i0++)
        for (i1 = 0; i1 < d[1]; i1++)
            for (i2 = 0; i2 < d[2]; i2++)
                for (i3 = 0; i3 < d[3]; i3++)
                    acc[i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3]] += a[ii++];
    for (j = 0; j < n->out->numel; j++) n->out->data[j] = (float)(acc[j] * n->f[0]);
}
static void ng__bw_reduce(ng_node *n) {
    int64_t d[4], so[4], i0, i1, i2, i3, ii = 0;
    float *ga = ng__in_grad(n, 0);
    const float *g = n->out->grad;
    if (!ga) return;
    ng__reduce_plan(n, d, so);
    for (i0 = 0; i0 < d[0]; i0++)
        for (i1 = 0; i1 < d[1]; i1++)
            for (i2 = 0; i2 < d[2]; i2++)
                for (i3 = 0; i3 < d[3]; i3++)
                    ga[ii++] += n->f[0] * g[i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3]];
}

/* ---- reshape ---- */
ng_tensor *ng_reshape(ng_ctx *ctx, ng_tensor *a, ng_shape shape) {
    if (a && ng_shape_numel(shape) != a->numel) { ng__bad(ctx, "reshape", "element count differs"); return NULL; }
    {
        ng_node *n = ng__begin(ctx, NG_OP_RESHAPE, &a, 1, shape);
        return n ? ng__finish(n) : NULL;
    }
}
static void ng__fw_reshape(ng_node *n) { memcpy(n->out->data, n->in[0]->data, (size_t)n->out->numel * sizeof(float)); }
static void ng__bw_reshape(ng_node *n) {
    int64_t i;
    float *ga = ng__in_grad(n, 0);
    if (ga) for (i = 0; i < n->out->numel; i++) ga[i] += n->out->grad[i];
}

/* ---- concat and slice along one axis: outer blocks x (axis extent * inner) ---- */
static void ng__outer_inner(const ng_shape *s, int axis, int64_t *outer, int64_t *inner) {
    int i;
    *outer = 1; *inner = 1;
    for (i = 0; i < axis; i++) *outer *= s->d[i];
    for (i = axis + 1; i < s->ndim; i++) *inner *= s->d[i];
}

ng_tensor *ng_concat(ng_ctx *ctx, ng_tensor *const *xs, int count, int axis) {
    ng_shape s;
    ng_node *n;
    int k, i;
    if (count < 1 || count > 32) { ng__bad(ctx, "concat", "needs 1..32 inputs"); return NULL; }
    for (k = 0; k < count; k++)
        if (!xs[k]) return ng__null_input(ctx, NG_OP_CONCAT);
    s = xs[0]->shape;
    NG_ASSERT(axis >= 0 && axis < s.ndim);
    for (k = 1; k < count; k++) {
        NG_ASSERT(xs[k]->shape.ndim == s.ndim);
        for (i = 0; i < s.ndim; i++) NG_ASSERT(i == axis || xs[k]->shape.d[i] == s.d[i]);
        s.d[axis] += xs[k]->shape.d[axis];
    }
    n = ng__begin(ctx, NG_OP_CONCAT, xs, count, s);
    if (!n) return NULL;
    n->i[0] = axis;
    return ng__finish(n);
}
static void ng__concat_copy(ng_node *n, int backward) {
    int axis = (int)n->i[0], k;
    int64_t outer, inner, o, off = 0, total = n->out->shape.d[axis];
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (k = 0; k < n->n_in; k++) {
        int64_t len = n->in[k]->shape.d[axis] * inner, i;
        float *gk = backward ? ng__in_grad(n, k) : NULL;
        for (o = 0; o < outer; o++) {
            float *y = n->out->data + o * total * inner + off;
            if (!backward) memcpy(y, n->in[k]->data + o * len, (size_t)len * sizeof(float));
            else if (gk) {
                const float *g = n->out->grad + o * total * inner + off;
                for (i = 0; i < len; i++) gk[o * len + i] += g[i];
            }
        }
        off += len;
    }
}
static void ng__fw_concat(ng_node *n) { ng__concat_copy(n, 0); }
static void ng__bw_concat(ng_node *n) { ng__concat_copy(n, 1); }

ng_tensor *ng_slice(ng_ctx *ctx, ng_tensor *a, int axis, int64_t start, int64_t len) {
    ng_shape s;
    ng_node *n;
    if (!a) return ng__null_input(ctx, NG_OP_SLICE);
    NG_ASSERT(axis >= 0 && axis < a->shape.ndim);
    NG_ASSERT(start >= 0 && len >= 0 && start + len <= a->shape.d[axis]);
    s = a->shape;
    s.d[axis] = len;
    n = ng__begin(ctx, NG_OP_SLICE, &a, 1, s);
    if (!n) return NULL;
    n->i[0] = axis; n->i[1] = start;
    return ng__finish(n);
}
static void ng__slice_copy(ng_node *n, int backward) {
    int axis = (int)n->i[0];
    int64_t outer, inner, o, i, full = n->in[0]->shape.d[axis];
    int64_t len, start = n->i[1];
    float *ga = backward ? ng__in_grad(n, 0) : NULL;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    len = n->out->shape.d[axis] * inner;
    if (backward && !ga) return;
    for (o = 0; o < outer; o++) {
        int64_t src = o * full * inner + start * inner;
        if (!backward) memcpy(n->out->data + o * len, n->in[0]->data + src, (size_t)len * sizeof(float));
        else for (i = 0; i < len; i++) ga[src + i] += n->out->grad[o * len + i];
    }
}
static void ng__fw_slice(ng_node *n) { ng__slice_copy(n, 0); }
static void ng__bw_slice(ng_node *n) { ng__slice_copy(n, 1); }

/* ---- src/ops_act.c ---- */
/* ======================================================================================== */
/* @@OPS activations                                                                        */
/* ======================================================================================== */
NG__HD static inline float ng__sigmoidf(float x) {
    /* split by sign so exp never overflows */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    { float e = expf(x); return e / (1.0f + e); }
}
NG__HD static inline float ng__leakyf(float x, float slope) { return x > 0.0f ? x : slope * x; }

static ng_tensor *ng__act(ng_ctx *ctx, int op, ng_tensor *x, float param) {
    ng_node *n = ng__begin(ctx, op, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = param;
    return ng__finish(n);
}
ng_tensor *ng_relu(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_RELU, x, 0.0f); }
ng_tensor *ng_leaky_relu(ng_ctx *ctx, ng_tensor *x, float slope) { return ng__act(ctx, NG_OP_LEAKY_RELU, x, slope); }
ng_tensor *ng_tanh(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_TANH, x, 0.0f); }
ng_tensor *ng_sigmoid(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_SIGMOID, x, 0.0f); }

/* ReLU and LeakyReLU: gradient uses the sign of the input (PyTorch: 0 at x == 0 for ReLU). */
static void ng__fw_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void ng__bw_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] += x[i] > 0.0f ? g[i] : 0.0f;
}
static void ng__fw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    for (i = 0; i < N; i++) n->out->data[i] = ng__leakyf(n->in[0]->data[i], n->f[0]);
}
static void ng__bw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (gx) for (i = 0; i < N; i++) gx[i] += x[i] > 0.0f ? g[i] : n->f[0] * g[i];
}
static void ng__fw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    for (i = 0; i < N; i++) n->out->data[i] = tanhf(n->in[0]->data[i]);
}
static void ng__bw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (gx) for (i = 0; i < N; i++) gx[i] += g[i] * (1.0f - y[i] * y[i]);
}
static void ng__fw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    for (i = 0; i < N; i++) n->out->data[i] = ng__sigmoidf(n->in[0]->data[i]);
}
static void ng__bw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (gx) for (i = 0; i < N; i++) gx[i] += g[i] * y[i] * (1.0f - y[i]);
}

/* ---- softmax / log-softmax along i[0]; rows are (outer, inner) pairs strided by inner ---- */
static ng_tensor *ng__softmax_any(ng_ctx *ctx, int op, ng_tensor *x, int axis) {
    ng_node *n;
    if (x) NG_ASSERT(axis >= 0 && axis < x->shape.ndim);
    n = ng__begin(ctx, op, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->i[0] = axis;
    return ng__finish(n);
}
ng_tensor *ng_softmax(ng_ctx *ctx, ng_tensor *x, int axis) { return ng__softmax_any(ctx, NG_OP_SOFTMAX, x, axis); }
ng_tensor *ng_log_softmax(ng_ctx *ctx, ng_tensor *x, int axis) { return ng__softmax_any(ctx, NG_OP_LOG_SOFTMAX, x, axis); }

/* y = softmax or log_softmax of K values strided by `st` */
static void ng__softmax_row(const float *x, float *y, int64_t K, int64_t st, int log_out) {
    int64_t k;
    float mx = -INFINITY;
    double sum = 0.0;
    for (k = 0; k < K; k++) if (x[k * st] > mx) mx = x[k * st];
    for (k = 0; k < K; k++) sum += exp((double)(x[k * st] - mx));
    if (log_out) {
        float lse = (float)log(sum);
        for (k = 0; k < K; k++) y[k * st] = x[k * st] - mx - lse;
    } else {
        for (k = 0; k < K; k++) y[k * st] = (float)(exp((double)(x[k * st] - mx)) / sum);
    }
}
static void ng__softmax_fw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis], o, j;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (o = 0; o < outer; o++)
        for (j = 0; j < inner; j++)
            ng__softmax_row(n->in[0]->data + o * K * inner + j, n->out->data + o * K * inner + j, K, inner, log_out);
}
static void ng__softmax_bw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis], o, j, k;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (o = 0; o < outer; o++)
        for (j = 0; j < inner; j++) {
            int64_t base = o * K * inner + j;
            const float *y = n->out->data + base, *g = n->out->grad + base;
            float *gr = gx + base;
            double dot = 0.0;
            if (log_out) { /* dx = g - softmax * sum(g) */
                for (k = 0; k < K; k++) dot += g[k * inner];
                for (k = 0; k < K; k++) gr[k * inner] += g[k * inner] - expf(y[k * inner]) * (float)dot;
            } else {       /* dx = y * (g - sum(g * y)) */
                for (k = 0; k < K; k++) dot += (double)g[k * inner] * y[k * inner];
                for (k = 0; k < K; k++) gr[k * inner] += y[k * inner] * (g[k * inner] - (float)dot);
            }
        }
}
static void ng__fw_softmax(ng_node *n) { ng__softmax_fw(n, 0); }
static void ng__bw_softmax(ng_node *n) { ng__softmax_bw(n, 0); }
static void ng__fw_log_softmax(ng_node *n) { ng__softmax_fw(n, 1); }
static void ng__bw_log_softmax(ng_node *n) { ng__softmax_bw(n, 1); }

/* ---- dropout: saved = per-element multiplier (0 or 1/(1-p)) ---- */
ng_tensor *ng_dropout(ng_ctx *ctx, ng_tensor *x, float p) {
    ng_node *n;
    if (x) NG_ASSERT(p >= 0.0f && p < 1.0f);
    if (x && (!ctx->training || p == 0.0f)) return x;
    n = ng__begin(ctx, NG_OP_DROPOUT, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = p;
    n->saved = ng__falloc(ctx, x->numel);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
static void ng__fw_dropout(ng_node *n) {
    int64_t i, N = n->out->numel;
    float *m = (float *)n->saved, keep = 1.0f / (1.0f - n->f[0]);
    for (i = 0; i < N; i++) {
        m[i] = ng_rng_uniform(&n->ctx->rng) < (double)n->f[0] ? 0.0f : keep;
        n->out->data[i] = n->in[0]->data[i] * m[i];
    }
}
static void ng__bw_dropout(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *m = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0);
    if (gx) for (i = 0; i < N; i++) gx[i] += n->out->grad[i] * m[i];
}

/* ---- src/ops_loss.c ---- */
/* ======================================================================================== */
/* @@OPS losses                                                                             */
/* ======================================================================================== */
static ng_shape ng__scalar_shape(void) {
    ng_shape s = ng_shape1(1);
    s.ndim = 0;
    return s;
}

/* ---- cross-entropy: saved = softmax probabilities, aux = labels copy ---- */
ng_tensor *ng_cross_entropy(ng_ctx *ctx, ng_tensor *logits, const int32_t *labels) {
    ng_node *n;
    int64_t r, N, K;
    int32_t *lab;
    if (logits) NG_ASSERT(logits->shape.ndim == 2);
    n = ng__begin(ctx, NG_OP_CROSS_ENTROPY, &logits, 1, ng__scalar_shape());
    if (!n) return NULL;
    N = logits->shape.d[0]; K = logits->shape.d[1];
    lab = (int32_t *)ng__alloc(ctx, (size_t)(N ? N : 1) * sizeof(int32_t));
    n->saved = ng__falloc(ctx, logits->numel);
    if (!lab || !n->saved) return NULL;
    for (r = 0; r < N; r++) {
        if (labels[r] < 0 || labels[r] >= K) {
            ng__bad(ctx, "cross_entropy", "label out of range");
            ng_fail(NG_ERR_ARG, "cross_entropy: label %d at row %lld is outside [0, %lld)", (int)labels[r], (long long)r, (long long)K);
            return NULL;
        }
        lab[r] = labels[r];
    }
    n->aux = lab;
    return ng__finish(n);
}
static void ng__fw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1], r;
    const int32_t *lab = (const int32_t *)n->aux;
    float *p = (float *)n->saved;
    double loss = 0.0;
    for (r = 0; r < N; r++) {
        ng__softmax_row(x->data + r * K, p + r * K, K, 1, 1); /* log-probabilities */
        loss -= p[r * K + lab[r]];
    }
    for (r = 0; r < N * K; r++) p[r] = expf(p[r]);
    n->out->data[0] = N ? (float)(loss / (double)N) : NAN; /* PyTorch: mean of nothing is NaN */
}
static void ng__bw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1], r, k;
    const int32_t *lab = (const int32_t *)n->aux;
    const float *p = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0), s;
    if (!gx || N == 0) return;
    s = n->out->grad[0] / (float)N;
    for (r = 0; r < N; r++)
        for (k = 0; k < K; k++) gx[r * K + k] += s * (p[r * K + k] - (k == lab[r] ? 1.0f : 0.0f));
}

/* ---- hinge terms ---- */
ng_tensor *ng_hinge(ng_ctx *ctx, ng_tensor *x, int mode) {
    ng_node *n;
    NG_ASSERT(mode >= 0 && mode <= 2);
    n = ng__begin(ctx, NG_OP_HINGE, &x, 1, ng__scalar_shape());
    if (!n) return NULL;
    n->i[0] = mode;
    return ng__finish(n);
}
ng_tensor *ng_hinge_loss_d(ng_ctx *ctx, ng_tensor *d_real, ng_tensor *d_fake) {
    return ng_add(ctx, ng_hinge(ctx, d_real, 0), ng_hinge(ctx, d_fake, 1));
}
ng_tensor *ng_hinge_loss_g(ng_ctx *ctx, ng_tensor *d_fake) { return ng_hinge(ctx, d_fake, 2); }

static void ng__fw_hinge(ng_node *n) {
    const float *x = n->in[0]->data;
    int64_t i, N = n->in[0]->numel;
    int mode = (int)n->i[0];
    double s = 0.0;
    for (i = 0; i < N; i++) {
        float v = mode == 0 ? 1.0f - x[i] : mode == 1 ? 1.0f + x[i] : -x[i];
        s += mode == 2 ? v : (v > 0.0f ? v : 0.0f);
    }
    n->out->data[0] = (float)(s / (double)N);
}
static void ng__bw_hinge(ng_node *n) {
    const float *x = n->in[0]->data;
    int64_t i, N = n->in[0]->numel;
    int mode = (int)n->i[0];
    float *gx = ng__in_grad(n, 0), s = n->out->grad[0] / (float)N;
    if (!gx) return;
    for (i = 0; i < N; i++) {
        if (mode == 0) gx[i] += 1.0f - x[i] > 0.0f ? -s : 0.0f;
        else if (mode == 1) gx[i] += 1.0f + x[i] > 0.0f ? s : 0.0f;
        else gx[i] -= s;
    }
}

/* ---- BCE with logits: loss = max(x,0) - x t + log(1 + exp(-|x|)) ---- */
ng_tensor *ng_bce_with_logits(ng_ctx *ctx, ng_tensor *x, const ng_tensor *target) {
    ng_node *n;
    if (x && target) NG_ASSERT(x->numel == target->numel);
    if (!target && ctx->status == NG_OK) { ng__bad(ctx, "bce_with_logits", "target is NULL"); return NULL; }
    n = ng__begin(ctx, NG_OP_BCE_LOGITS, &x, 1, ng__scalar_shape());
    if (!n) return NULL;
    n->aux = (void *)target->data;
    return ng__finish(n);
}
static void ng__fw_bce_logits(ng_node *n) {
    const float *x = n->in[0]->data, *t = (const float *)n->aux;
    int64_t i, N = n->in[0]->numel;
    double s = 0.0;
    for (i = 0; i < N; i++) s += (x[i] > 0.0f ? x[i] : 0.0f) - x[i] * t[i] + log1pf(expf(-fabsf(x[i])));
    n->out->data[0] = (float)(s / (double)N);
}
static void ng__bw_bce_logits(ng_node *n) {
    const float *x = n->in[0]->data, *t = (const float *)n->aux;
    int64_t i, N = n->in[0]->numel;
    float *gx = ng__in_grad(n, 0), s = n->out->grad[0] / (float)N;
    if (gx) for (i = 0; i < N; i++) gx[i] += s * (ng__sigmoidf(x[i]) - t[i]);
}

/* ---- src/ops_conv.c ---- */
/* ======================================================================================== */
/* @@OPS convolution (placeholder: being written)                                           */
/* ======================================================================================== */
#define NG__TODO(f) static void ng__fw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); } \
                    static void ng__bw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); }
NG__TODO(conv2d) NG__TODO(conv_transpose2d) NG__TODO(upsample) NG__TODO(avg_pool2)  NG__TODO(sum_hw)

/* ---- src/ops_norm.c ---- */
NG__TODO(batch_norm) NG__TODO(spectral_norm)

/* ---- src/nas.c ---- */
NG__TODO(mixed)

/* ---- src/optable.c ---- */
/* ======================================================================================== */
/* @@OPTABLE  one row per op: name, CPU forward and backward (CUDA columns join with          */
/*            nasgan_cuda.cu)                                                               */
/* ======================================================================================== */
typedef struct ng__op_info {
    const char *name;
    void (*forward_cpu)(ng_node *n);
    void (*backward_cpu)(ng_node *n);
} ng__op_info;

static const ng__op_info ng__op_table[] = {
#define NG__ROW(E, f) {#f, ng__fw_##f, ng__bw_##f},
    NG_OP_LIST(NG__ROW)
#undef NG__ROW
};
typedef char ng__op_table_size_check[(sizeof ng__op_table / sizeof ng__op_table[0] == NG_OP_COUNT) ? 1 : -1];

const char *ng_op_name(int op) { return op >= 0 && op < NG_OP_COUNT ? ng__op_table[op].name : "?"; }
static void ng__dispatch_forward(ng_node *n) { ng__op_table[n->op].forward_cpu(n); }
static void ng__dispatch_backward(ng_node *n) { ng__op_table[n->op].backward_cpu(n); }

#endif /* NASGAN_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 the nasgan authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
