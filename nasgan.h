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
         ng_tensor *W = ng_params_add(w, "fc.weight", ng_shape2(10, 784));
         ng_tensor *b = ng_params_add(w, "fc.bias", ng_shape1(10));
         ng_params_alloc(w);                                  // then ng_init_* the values
         ng_adam opt; ng_adam_init(&opt, w, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
         ...                                                  // each step:
         ng_ctx_reset(ctx);
         ng_ctx_grad_for(ctx, &w, 1);                         // differentiate w.r.t. w only
         ng_tensor *loss = ng_cross_entropy(ctx, ng_linear(ctx, x, W, b), labels);
         ng_backward(ctx, loss);                              // grads accumulate into w->grad
         ng_adam_step(&opt); ng_params_zero_grad(w);

   BUILD OPTIONS (define before including)
     NASGAN_IMPLEMENTATION   emit the implementation in this translation unit
     NG_USE_OPENBLAS         route ng_sgemm through cblas_sgemm when the context asks for it
     NG_NO_ZLIB              build without zlib (gzip readers then return NG_ERR_UNSUPPORTED)
     NG_USE_UTF8PROC         the text tokenizer through utf8proc (Debian libutf8proc-dev, link
                             -lutf8proc); without it ng_tokenize returns NG_ERR_UNSUPPORTED
     NG_USE_STB              PNG sample grids through stb_image_write (Debian libstb-dev:
                             -I/usr/include/stb, link -lstb); without it they return
                             NG_ERR_UNSUPPORTED
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
     @@OPS      dense, activation, loss, convolution, normalisation and sequence ops
     @@NAS      mixed (softmax-weighted) ops
     @@OPTIM    Adam, SGD, EMA, schedules, clipping, initialisers
     @@IO       CRC32, atomic files, checkpoints
     @@DATA     IDX (MNIST-family) reader
     @@MODELS   the Fashion-MNIST CNN (feature network for FID/KID/IS)
     @@LINALG   symmetric eigensolver (double), double matrix product
     @@TEXT     text pipeline (utf8proc), vocabulary, text readers, word vectors
     @@GAN_DATA CIFAR-10, STL-10 and Fashion-MNIST image sets, PIL-exact resize, PNG grids
     @@GAN      alphaGAN generator search space, fixed generator, discriminator, genotypes
     @@METRICS  feature statistics, FID, KID, IS, offline evaluation
     @@NPZ      numpy .npy / .npz arrays; pytorch-fid / TTUR statistics files
     @@BILEVEL  alphaGAN's alternating duality-gap search
     @@GANTRAIN retraining a derived generator, sampling, image batches for both
     @@TEXTNAS  the TextNAS search space
     @@CUDA     the GPU backend's C side (link nasgan_cuda.o from `make cuda` for the kernels)

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

/* Dropout masks are counter-based: element i of one dropout call is dropped when
   ng_dropout_bits(key, i) < ng_dropout_threshold(p), with one key per call drawn from the
   context RNG (ng_rng_u64). Each decision is a pure function of (key, i), so CPU threads in
   any order and the GPU kernels (nasgan_cuda.cu) draw the same mask, and the GPU needs no
   per-element host work. The bits are the high half of the i-th output of a SplitMix64
   stream started at key. */
#if defined(__CUDACC__)
#define NG_HOST_DEVICE __host__ __device__
#else
#define NG_HOST_DEVICE
#endif
static inline NG_HOST_DEVICE uint32_t ng_dropout_bits(uint64_t key, uint64_t i) {
    uint64_t z = key + (i + 1u) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}
/* p in [0, 1): a drop probability of threshold / 2^32 (within 2.4e-10 of p) */
static inline NG_HOST_DEVICE uint32_t ng_dropout_threshold(float p) { return (uint32_t)((double)p * 4294967296.0); }

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
    int device;          /* ng_device where data/grad live (ng_params_to_device) */
    float *host_data;    /* NG_CUDA: the host blocks kept while data/grad point to device */
    float *host_grad;
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
    X(EMBEDDING, embedding) X(SEQ_MASK, seq_mask) X(CONV1D, conv1d)                    \
    X(SEQ_POOL3, seq_pool3) X(SEQ_BATCH_NORM, seq_batch_norm)                          \
    X(SEQ_MEAN_POOL, seq_mean_pool) X(SEQ_ATTENTION, seq_attention)                    \
    X(SEQ_GRU, seq_gru)                                                                \
    X(MIXED, mixed) X(MIXED_COLS, mixed_cols)

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
    int device;            /* ng_device of the tensors this context creates (ng_ctx_create_on) */
    ng_arena dev_arena;    /* NG_CUDA: device step arena (one cudaMalloc), float data lives here */
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
/* Standard normal values from r (drawn on the host in index order, so the same seed gives the
   same tensor on every device). */
ng_tensor *ng_tensor_randn(ng_ctx *ctx, ng_shape shape, ng_rng *r);

/* Host access that works on both devices (a GPU tensor's data pointer is not host memory):
   ng_tensor_host_write gives a host buffer of t->numel floats to fill (t->data itself on the
   CPU), ng_tensor_host_done puts it in place; ng_tensor_host_read gives t's values in host
   memory (t->data on the CPU, a copy in ctx's host arena on the GPU, valid until
   ng_ctx_reset); ng_tensor_item is element 0 (PyTorch's .item(); NaN if the copy fails).
   NULL / an error status on failure (recorded in ctx). */
float *ng_tensor_host_write(ng_ctx *ctx, ng_tensor *t);
ng_status ng_tensor_host_done(ng_tensor *t, float *buf);
const float *ng_tensor_host_read(ng_ctx *ctx, const ng_tensor *t);
float ng_tensor_item(const ng_tensor *t);
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
/* @@OPS convolution (NCHW)                                                                 */
/* ======================================================================================== */
/* F.conv2d: w (O, C/groups, kh, kw), b (O) or NULL; square stride and zero padding.
   groups == C == O is depthwise. Output (N, O, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1). */
ng_tensor *ng_conv2d(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */, ng_tensor *w, ng_tensor *b,
                     int stride, int pad, int groups);
/* The same with separate vertical/horizontal stride and padding. */
ng_tensor *ng_conv2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                        int pad_h, int pad_w, int groups);
/* F.conv_transpose2d: w (C, O/groups, kh, kw), b (O) or NULL.
   Output (N, O, (H - 1)s - 2p + kh + output_padding, ...). */
ng_tensor *ng_conv_transpose2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride,
                               int pad, int output_padding, int groups);
/* The same with separate vertical/horizontal stride, padding and output padding. */
ng_tensor *ng_conv_transpose2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h,
                                  int stride_w, int pad_h, int pad_w, int outpad_h, int outpad_w, int groups);

/* ---- src/ops_resample.h ---- */
/* ======================================================================================== */
/* @@OPS resampling and pooling (NCHW)                                                      */
/* ======================================================================================== */
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
   variance. Eval: normalise with the running statistics; with none given (PyTorch's
   track_running_stats=False) batch statistics are used in eval too. gamma/beta NULL means
   affine=False. PyTorch defaults: momentum 0.1, eps 1e-5. Whenever batch statistics are used,
   N * H * W must be at least 2: otherwise (as PyTorch's "Expected more than 1 value per
   channel") the op fails with NG_ERR_ARG, returns NULL and leaves the running stats untouched.
   Gradients: x, gamma and beta, through the batch statistics in training (running statistics
   are constants in eval). */
ng_tensor *ng_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma /* (C) */, ng_tensor *beta /* (C) */,
                         ng_tensor *running_mean /* (C) */, ng_tensor *running_var /* (C) */,
                         float momentum, float eps);
/* torch.nn.utils.spectral_norm with n_power_iterations=1: w viewed as (O, I) with O = w's first
   dimension. Training: v <- normalize(W^T u), u <- normalize(W v) updated in place (no gradient),
   then sigma = u^T W v; eval: sigma from the stored u and v. Returns w / sigma, differentiable
   in w with u and v held constant (as PyTorch). eps 1e-12 guards the normalisations. */
ng_tensor *ng_spectral_norm(ng_ctx *ctx, ng_tensor *w, ng_tensor *u /* (O) */, ng_tensor *v /* (I) */, float eps);
/* PyTorch's initial u and v: N(0, 1) draws, each normalised (x / max(||x||, eps)). */
void ng_spectral_norm_init(ng_tensor *u /* (O) */, ng_tensor *v /* (I) */, ng_rng *r, float eps);

/* ---- src/ops_seq.h ---- */
/* ======================================================================================== */
/* @@OPS sequence ops (TextNAS): embedding, masking, conv1d, pools, batch norm, pooling      */
/* ======================================================================================== */
/* Layout: sequences are CHANNEL-LAST (N, L, D) = (batch, length, features), so every op
   reads whole feature rows; this is PyTorch's (N, C, L) transposed, with the same numbers.
   Weights keep PyTorch's layouts (nn.Embedding (V, D), nn.Conv1d (Cout, Cin, K)), so
   checkpoints map one to one. A mask is an (N, L) float tensor, 1 at real tokens and 0 at
   padding (ng_seq_mask_from_lengths builds it); it never receives a gradient. */

/* mask[n, t] = t < lengths[n] ? 1 : 0, as an (N, L) tensor (no gradient). */
ng_tensor *ng_seq_mask_from_lengths(ng_ctx *ctx, const int32_t *lengths /* (N) */, int64_t N, int64_t L);
/* nn.Embedding: out[n, t, :] = table[ids[n, t], :] -> (N, L, D). ids (N*L values, copied) must
   lie in [0, V). Gradients scatter-add into the table rows in a fixed order (deterministic);
   padding_idx >= 0: that row gets no gradient (its value is still looked up), as PyTorch's
   padding_idx; padding_idx < 0: none. */
ng_tensor *ng_embedding(ng_ctx *ctx, ng_tensor *table /* (V, D) */, const int32_t *ids /* (N, L) */,
                        int64_t N, int64_t L, int64_t padding_idx);
/* Select, not multiply: out[n, t, :] = mask[n, t] != 0 ? x[n, t, :] : 0, so padded positions
   are exactly 0 (NaN/Inf included) and their input gradient is 0. */
ng_tensor *ng_seq_mask(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *mask /* (N, L) */);
/* nn.Conv1d(Cin, Cout, K, stride 1, padding (K-1)/2) on channel-last sequences: K odd, zero
   padding beyond [0, L) ("same" length). out[n, t, o] = b[o] + sum_{c,k} w[o, c, k]
   x[n, t + k - (K-1)/2, c]. b may be NULL. */
ng_tensor *ng_conv1d(ng_ctx *ctx, ng_tensor *x /* (N, L, Cin) */, ng_tensor *w /* (Cout, Cin, K) */,
                     ng_tensor *b /* (Cout) */);
/* F.avg_pool1d / F.max_pool1d with kernel 3, stride 1, padding 1 along L (same length).
   avg: count_include_pad=True, the divisor is always 3 (also at t = 0 and t = L-1).
   max: the border padding is -inf (never chosen); ties go to the earliest position, as
   PyTorch's CPU kernel. Padded tokens inside [0, L) take part as the values they hold. */
ng_tensor *ng_seq_avg_pool3(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */);
ng_tensor *ng_seq_max_pool3(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */);
/* nn.BatchNorm1d over the feature dimension of (N, L, D) (= BatchNorm1d on (N, D, L)):
   statistics per feature over all N*L positions, padded positions INCLUDED (TextNAS: they
   hold zeros). Same semantics, arguments and failure rules as ng_batch_norm. */
ng_tensor *ng_seq_batch_norm(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *gamma /* (D) */,
                             ng_tensor *beta /* (D) */, ng_tensor *running_mean /* (D) */,
                             ng_tensor *running_var /* (D) */, float momentum, float eps);
/* TextNAS GlobalAvgPool: out[n, :] = sum_t x[n, t, :] / cnt[n], cnt = sum_t mask[n, t], with
   cnt replaced by 1e-12 when 0. The sum runs over all L positions (as the reference; exact
   masked mean when x is 0 at pads) -> (N, D). */
ng_tensor *ng_seq_mean_pool(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *mask /* (N, L) */);
/* TextNAS multi-head attention core on projected sequences (the caller applies the three
   Linear + ReLU projections, e.g. ng_relu(ng_linear(...)) on the (N*L, H) view). Heads take
   contiguous channel blocks of d = H/heads. Per sequence and head: S = Q_h K_h^T / sqrt(d);
   S[:, j] = -1e10 (replaced) where key j is padding; P = softmax over keys; rows of padding
   queries set to 0; inverted dropout with probability p on P (training only; ctx->rng);
   out_h = P V_h, heads concatenated in channel order -> (N, L, H). No output projection.
   Gradients to q, k, v (never to the mask). */
ng_tensor *ng_seq_attention(ng_ctx *ctx, ng_tensor *q /* (N, L, H) */, ng_tensor *k /* (N, L, H) */,
                            ng_tensor *v /* (N, L, H) */, ng_tensor *mask /* (N, L) */, int heads, float p);
/* One direction of nn.GRU (1 layer, bias=True, batch_first) over each sequence's TRUE length
   (packed-sequence semantics): lengths are the mask's row sums (mask must be 1s then 0s);
   reverse = 0 runs t = 0..len-1, reverse = 1 runs t = len-1..0 starting from h = 0 at the
   sequence's own last token. Gate rows in PyTorch's order (r, z, n):
   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h. Output h_t at real
   positions, exactly 0 at pads -> (N, L, H). TextNAS's BiGRU is ng_add of the two directions
   (each with its own weights). Gradients to x and all four weights (not the mask). */
ng_tensor *ng_seq_gru(ng_ctx *ctx, ng_tensor *x /* (N, L, I) */, ng_tensor *mask /* (N, L) */,
                      ng_tensor *w_ih /* (3H, I) */, ng_tensor *w_hh /* (3H, H) */,
                      ng_tensor *b_ih /* (3H) */, ng_tensor *b_hh /* (3H) */, int reverse);
/* The same with the true lengths also given on the host (mask must be their mask, as from
   ng_seq_mask_from_lengths): the mask's values are not read, so a device mask costs no copy
   back to the host, which would wait for every kernel queued before it. */
ng_tensor *ng_seq_gru_lengths(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths /* (N), in [0, L] */,
                              ng_tensor *w_ih, ng_tensor *w_hh, ng_tensor *b_ih, ng_tensor *b_hh, int reverse);

/* ---- src/nas.h ---- */
/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */
/* The DARTS mixed op: sum_k softmax(alpha[row, :])_k * xs[k]. alpha is (R, K) (or (K) with
   row 0); every xs[k] has the same shape; 1 <= k <= 31. Gradients flow to alpha's row and to
   each xs[k] (alpha's gradient is 0 when k == 1). One blocked pass reads each candidate once;
   the alpha reduction is summed in double in a fixed block order (thread-count independent). */
ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k);
/* Part of a mixed op: y = sum_j w_j pad(xs[j]) with w_j = softmax(alpha[row, :])[cols[j]]
   (the softmax over the WHOLE row of K), or w_j = 1 where cols[j] < 0 (a term added as it is,
   no alpha gradient). Each xs[j] has y's shape `out`, or (for 4-d tensors) the same first two
   dimensions and a smaller spatial size that is zero-padded around the centre (kernels
   (O, C, k, k) into (O, C, kmax, kmax); kmax - k even). Distinct columns, 1 <= n <= 7. Calls
   over disjoint column sets of one row add up to ng_mixed of the full row, and their alpha
   gradients add up to its gradient. The algebra of a search space in one op: a softmax-
   weighted sum of convolutions reading the same input is one convolution with the
   softmax-weighted (padded) kernel. */
ng_tensor *ng_mixed_cols(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, const int *cols, int n, ng_shape out);

/* ---- src/optim.h ---- */
/* ======================================================================================== */
/* @@OPTIM  optimizers, EMA, learning-rate schedules, clipping, initialisers                 */
/* ======================================================================================== */
/* Each optimizer steps ONE parameter group (a flat block), reading group->grad. State blocks
   have the group's numel and are owned by the optimizer. They live where the group lives and
   follow it: when the group moves (ng_params_to_device) the next step, reset or update moves
   the state too, so an optimizer made before or after the move works the same. On the GPU
   the step is one fused kernel with the same float arithmetic; checkpoints read and write the
   state on either device. */

/* torch.optim.Adam (amsgrad off): g += wd p (coupled L2); m = b1 m + (1-b1) g;
   v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
   Elementwise work is float in PyTorch's order; scalars such as 1 - b2 and lr / (1 - b1^t) are
   formed in double from the shortest decimal of each float setting (0.999f -> 0.999), as Python
   would. The gradient block is not modified (weight decay is applied to a copy). Change lr
   between steps for a schedule. */
typedef struct ng_adam {
    ng_params *group;
    float lr, beta1, beta2, eps, weight_decay;
    int64_t t;          /* steps taken */
    float *m, *v;       /* (numel), on `device` */
    int device;         /* where m and v are (ng_device) */
} ng_adam;
ng_status ng_adam_init(ng_adam *opt, ng_params *g, float lr, float beta1, float beta2, float eps, float weight_decay);
ng_status ng_adam_step(ng_adam *opt);  /* NG_ERR_NOMEM when the state cannot follow its group */
void ng_adam_reset(ng_adam *opt);   /* t = 0, m = v = 0 (a fresh optimizer) */
void ng_adam_free(ng_adam *opt);

/* torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g on the first
   step); nesterov: g + momentum buf; p -= lr * that. */
typedef struct ng_sgd {
    ng_params *group;
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    int64_t t;
    float *buf;         /* (numel), NULL when momentum == 0; on `device` */
    int device;
} ng_sgd;
ng_status ng_sgd_init(ng_sgd *opt, ng_params *g, float lr, float momentum, float dampening, float weight_decay, int nesterov);
ng_status ng_sgd_step(ng_sgd *opt);
void ng_sgd_free(ng_sgd *opt);

/* Exponential moving average of a group's values: shadow = decay shadow + (1 - decay) p. */
typedef struct ng_ema {
    ng_params *group;
    float decay;
    float *shadow;      /* (numel), starts as a copy of the group; on `device` */
    int device;
} ng_ema;
ng_status ng_ema_init(ng_ema *e, ng_params *g, float decay);
ng_status ng_ema_update(ng_ema *e);
ng_status ng_ema_swap(ng_ema *e);        /* exchange shadow and live values (evaluate with the EMA) */
void ng_ema_free(ng_ema *e);

/* Learning rate at `step` of `total`: constant; cosine from base to final
   (final + (base - final)(1 + cos(pi step/total))/2, CosineAnnealingLR's closed form); linear
   from base to final. step is clamped to [0, total]; total <= 0 gives base. */
typedef enum ng_lr_kind { NG_LR_CONSTANT = 0, NG_LR_COSINE = 1, NG_LR_LINEAR = 2 } ng_lr_kind;
float ng_lr_at(ng_lr_kind kind, float base, float final_lr, int64_t step, int64_t total);

/* torch.nn.utils.clip_grad_norm_ over several groups: total L2 norm of all gradients; if it
   exceeds max_norm, scale every gradient by max_norm / (norm + 1e-6). Returns the norm. The
   norm is summed in double (deterministic for any thread count); groups without gradients are
   skipped. A NaN or infinite norm is returned as it is and the gradients are left unscaled
   (PyTorch would multiply them by 0 or NaN): check the result to skip such a step. */
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
/* CHECKPOINT FILE FORMAT, version 1 (NG_CKPT_VERSION). Every integer is little-endian, written
   and read byte by byte (never a struct dump), so files move between machines unchanged.

     offset  size  field
     0       4     magic "NGCK" (4E 47 43 4B)
     4       4     u32 format version (1)
     8       4     u32 record count R
     12      ...   R records, each:
                     u32  key length K (1..NG_CKPT_MAX_KEY)
                     K    key bytes (no NUL byte; keys are unique within a file)
                     u32  kind (ng_ckpt_kind)
                     u64  payload length P
                     P    payload bytes (layout by kind, below)
     end-4   4     u32 CRC-32 (IEEE 802.3, as zlib/gzip) of every byte before it

   Payloads ("str" = u32 length then that many bytes; f32 = IEEE-754 binary32 bit pattern as
   a u32, so -0.0, denormals and NaN payloads survive bit for bit; i64 = two's complement):
     NG_CKPT_RAW    (1)  the bytes given to ng_ckpt_put
     NG_CKPT_I64    (2)  i64
     NG_CKPT_PARAMS (3)  u32 tensor count T; T x { str name, u32 ndim (0..4), ndim x u64 dim };
                         u64 numel (sum over tensors); numel x f32 values (group order)
                         key: "params/<group name>"
     NG_CKPT_ADAM   (4)  str group name; f32 lr, beta1, beta2, eps, weight_decay; i64 t;
                         u64 numel; numel x f32 m; numel x f32 v
     NG_CKPT_SGD    (5)  str group name; f32 lr, momentum, dampening, weight_decay;
                         u32 nesterov; i64 t; u64 numel; u32 has_buf (0/1);
                         has_buf ? numel x f32 buf
     NG_CKPT_EMA    (6)  str group name; f32 decay; u64 numel; numel x f32 shadow
     NG_CKPT_RNG    (7)  4 x u64 (xoshiro256** state)

   The reader checks magic, version and CRC, then every length against the bytes that remain
   (so hostile input never causes a large allocation), the exact payload length of each typed
   record, unknown kinds and duplicate keys; any problem is an error naming the file. Typed
   getters restore into existing objects only when the layout matches (names, shapes, order,
   element counts), and write nothing unless everything matches. */
#define NG_CKPT_VERSION 1u
#ifndef NG_CKPT_MAX_KEY
#define NG_CKPT_MAX_KEY 1024u
#endif
#ifndef NG_CKPT_MAX_BYTES
#define NG_CKPT_MAX_BYTES (((size_t)-1) >> 1)   /* largest checkpoint file ng_ckpt_load reads */
#endif
typedef enum ng_ckpt_kind {
    NG_CKPT_RAW = 1, NG_CKPT_I64 = 2, NG_CKPT_PARAMS = 3, NG_CKPT_ADAM = 4,
    NG_CKPT_SGD = 5, NG_CKPT_EMA = 6, NG_CKPT_RNG = 7
} ng_ckpt_kind;

uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n);   /* IEEE 802.3, start with 0 */
/* Read a whole file (refusing more than max_bytes). *data is malloc'd (non-NULL even for an
   empty file); caller frees. Errors name the path and the OS error. */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n);
/* Write via "<path>.tmp.<pid>", fsync, rename over path, fsync the directory: a crash never
   leaves a half-written file at `path` nor loses the previous one. On failure the temporary
   file is removed and `path` is untouched. (A symlink at `path` is replaced, not followed.) */
ng_status ng_file_write_atomic(const char *path, const void *data, size_t n);

/* A checkpoint is a versioned, checksummed set of named binary records. Writers put records
   (parameters with their layout, optimizer states, RNG, counters) and save atomically;
   readers load, verify and fetch records by name. Putting an existing key is NG_ERR_ARG. */
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
/* Serialise to a malloc'd buffer (what ng_ckpt_save writes); caller frees *out. */
ng_status ng_ckpt_serialize(const ng_ckpt *ck, unsigned char **out, size_t *n);
/* Parse a checkpoint held in memory (`name` is used in messages); the file loader wraps it.
   The buffer is copied; the caller keeps ownership of `buf`. */
ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out);
ng_status ng_ckpt_load(const char *path, ng_ckpt **out);
/* Records in file/insertion order: count, key and kind of record i (NULL / 0 out of range). */
int ng_ckpt_count(const ng_ckpt *ck);
const char *ng_ckpt_key_at(const ng_ckpt *ck, int i);
ng_ckpt_kind ng_ckpt_kind_of(const ng_ckpt *ck, const char *key);   /* 0 if absent */
/* Payload bytes of any record (for NG_CKPT_RAW: the bytes given to ng_ckpt_put; may be
   unaligned). NULL if absent. Valid until ng_ckpt_free. */
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n);
/* Typed getters: NG_ERR_MISMATCH (naming checkpoint, key and what differs) when the record is
   absent, of another kind, or does not fit the target; the target is then left unchanged. */
ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v);
/* Restore into an allocated group; NG_ERR_MISMATCH naming the tensor if names/shapes differ. */
ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g);
/* Optimizer/EMA getters restore hyperparameters, step count and state into an initialised
   object (state blocks allocated) whose group has the recorded name and element count. */
ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt);
ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt);
ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e);
ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *r);

/* ---- src/json.h ---- */
/* ======================================================================================== */
/* @@JSON  internal: a growable string builder and a strict JSON lexer                      */
/* ======================================================================================== */
/* No public API: the static helpers in json.c (ng__sb_*, ng__json_*) serve the JSON readers
   and writers of later parts (GAN genotypes, TextNAS architectures). */

/* ---- src/data.h ---- */
/* ======================================================================================== */
/* @@DATA  dataset readers                                                                  */
/* ======================================================================================== */
#ifndef NG_IDX_MAX_BYTES
#define NG_IDX_MAX_BYTES ((size_t)0x7fffffff)   /* largest IDX file (compressed or not) read */
#endif
/* Decompress a gzip stream held in memory (concatenated members allowed), refusing output
   beyond max_out bytes. Corrupt, truncated or trailing data -> NG_ERR_FORMAT naming `name`;
   built with NG_NO_ZLIB -> NG_ERR_UNSUPPORTED. *out is malloc'd; caller frees. */
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
/* The byte count must equal the product of the dims exactly (missing or trailing bytes are
   errors). On failure *out is zeroed and nothing needs freeing. */
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
/* ======================================================================================== */
/* @@MODELS  the Fashion-MNIST CNN (classifier and feature network for FID/KID/IS)           */
/* ======================================================================================== */
/* conv3x3(1->32) BN ReLU avgpool2 | conv3x3(32->64) BN ReLU avgpool2 | linear(3136->128) ReLU
   [= the 128-d feature layer] dropout | linear(128->10). Input (N, 1, 28, 28) scaled to
   [-1, 1] (the range GAN generators produce). PyTorch-default initialisation. */
#define NG_FMNIST_FEATURES 128
#define NG_FMNIST_CLASSES 10

typedef struct ng_fmnist_cnn {
    ng_params *weights;     /* trainable */
    ng_params *buffers;     /* BN running statistics */
    ng_tensor *conv1_w, *conv1_b, *bn1_g, *bn1_b, *bn1_mean, *bn1_var;
    ng_tensor *conv2_w, *conv2_b, *bn2_g, *bn2_b, *bn2_mean, *bn2_var;
    ng_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float dropout;          /* 0.3 */
} ng_fmnist_cnn;

ng_fmnist_cnn *ng_fmnist_cnn_create(ng_rng *init_rng);
void ng_fmnist_cnn_free(ng_fmnist_cnn *net);
/* Logits (N, 10); *features (if non-NULL) receives the (N, 128) penultimate activations. */
ng_tensor *ng_fmnist_cnn_forward(ng_ctx *ctx, ng_fmnist_cnn *net, ng_tensor *x /* (N,1,28,28) */,
                                 ng_tensor **features);
/* Weights + running statistics, as a checkpoint file (atomic write). */
ng_status ng_fmnist_cnn_save(const ng_fmnist_cnn *net, const char *path);
ng_status ng_fmnist_cnn_load(ng_fmnist_cnn *net, const char *path);
/* uint8 images (N, 28, 28) -> (N, 1, 28, 28) floats in [-1, 1] in the step arena. */
ng_tensor *ng_images_u8_to_tensor(ng_ctx *ctx, const unsigned char *pixels, int64_t n, int64_t h, int64_t w);

/* ---- src/gan_data.h ---- */
/* ======================================================================================== */
/* @@GAN_DATA  image sets for the GAN search (CIFAR-10, STL-10, Fashion-MNIST), PNG grids   */
/* ======================================================================================== */
/* Image sets are uint8 (N, C, H, W) planes held in memory; batches are turned into float
   tensors in the step arena on demand (ng_image_set_batch).

   FILE FORMATS (the publishers' binary layouts; docs: /work/shared/docs/data.md)
     CIFAR-10  data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin: 10,000 records of
               3,073 bytes each: 1 label byte (0..9), then 1,024 R, 1,024 G, 1,024 B bytes
               (row-major 32x32 planes).
     STL-10    train_X.bin, test_X.bin, unlabeled_X.bin: N x 3 x 96 x 96 bytes, each channel
               plane stored COLUMN-major (transposed; torchvision transposes it back), and
               train_y.bin, test_y.bin: one byte per image, labels 1..10 (stored here as 0..9).
   The directory loaders also look in the archives' own subdirectory (cifar-10-batches-bin/,
   stl10_binary/) when the files are not directly in `dir`.

   alphaGAN's use (docs: alphagan.md 3.2 and 4)
     search    CIFAR-10 train (50,000) split by index, NOT shuffled: [0, 25000) trains the
               weights, [25000, 50000) is the "valid" queue (worst-case estimate and the
               architecture steps); see ng_image_set_split_half. Batches of 64 drawn at random
               from each part (ng_sample_indices). Normalisation: the reference code's quirk,
               ToTensor + Normalize(CIFAR mean/std) (NG_IMAGE_NORM_CIFAR_MEANSTD).
     retrain   CIFAR-10 train at 32x32, or STL-10 'train+unlabeled' (105,000 images) resized
               96 -> 48 with PIL's bilinear filter; both scaled to [-1, 1] (NG_IMAGE_NORM_PM1).
     Fashion-MNIST: 28x28 zero-padded to 32x32 (pixel 0 = -1 after scaling), 1 channel.

   PNG GRIDS need stb_image_write: build with -DNG_USE_STB and link -lstb (Debian's libstb-dev:
   -I/usr/include/stb; its libstb.so carries the stb_image_write functions, so nasgan.h only
   includes the declarations and never defines STB_IMAGE_WRITE_IMPLEMENTATION). Without it
   ng_save_image_grid returns NG_ERR_UNSUPPORTED. */
#ifndef NG_FMNIST_DIR
#define NG_FMNIST_DIR "/usr/share/datasets/fashion-mnist"   /* Debian's dataset-fashion-mnist */
#endif
#define NG_CIFAR10_RECORD_BYTES 3073            /* 1 label byte + 3 x 32 x 32 pixels */
#define NG_CIFAR10_FILE_RECORDS 10000           /* records in every CIFAR-10 batch file */
#define NG_STL10_IMAGE_BYTES 27648              /* 3 x 96 x 96 */

typedef struct ng_image_set {
    int64_t n;
    int c, h, w;
    unsigned char *pixels;  /* (N, C, H, W) channel planes, row-major; malloc'd */
    unsigned char *labels;  /* (N) class indices 0..9, or NULL (unlabelled sets) */
} ng_image_set;
/* Frees both arrays and zeroes the struct (NULL and zeroed sets are fine). */
void ng_image_set_free(ng_image_set *s);

/* One CIFAR-10 batch file held in memory. Its size must be a positive multiple of 3,073 bytes
   (any number of records is accepted here) and every label must be 0..9; otherwise
   NG_ERR_FORMAT with a message naming `name` and the size or the record index. On failure *out
   is zeroed and nothing needs freeing. */
ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out);
/* train != 0: data_batch_1.bin .. data_batch_5.bin concatenated in that order (50,000
   images); train == 0: test_batch.bin (10,000). Every file must hold exactly 10,000 records;
   a missing file is an error naming it. (3, 32, 32) with labels. */
ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out);

/* One STL-10 X file held in memory (N x 3 x 96 x 96, column-major planes): transposed into
   row-major (N, 3, 96, 96), labels NULL. Size must be a positive multiple of 27,648 bytes. */
ng_status ng_stl10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out);
/* A y file for the images already in *set: exactly set->n bytes, each 1..10; stored in
   set->labels as 0..9 (replacing any labels there). On failure set is unchanged. */
ng_status ng_stl10_parse_labels(const unsigned char *buf, size_t n, const char *name, ng_image_set *set);
/* split "train" (train_X + train_y, 5,000), "test" (test_X + test_y, 8,000), "unlabeled"
   (unlabeled_X, 100,000, labels NULL) or "train+unlabeled" (train then unlabeled, in that
   order as torchvision's STL10, 105,000, labels NULL). size 96 keeps the images, 48 resizes
   each one with ng_image_resize_bilinear_pil (torchvision Resize(48) on the PIL image). The X
   files are streamed one image at a time, so the peak memory is the output set only (the
   unlabeled split at 48x48 is 691 MB; at 96x96, 2.8 GB). */
ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out);

/* PIL's Image.resize((ow, oh), Image.BILINEAR) on uint8 planes (Pillow's ImagingResample,
   bit-exact): a separable triangle filter whose support grows with the downscale factor
   (support = max(1, in/out), so a 2x reduction averages a 4-pixel window: antialiasing),
   coefficients normalised per output pixel then rounded to fixed point with 22 fraction bits
   (PRECISION_BITS = 32 - 8 - 2), horizontal pass first, rounded and clamped to uint8 after
   each pass. src (C, H, W) -> dst (C, OH, OW), each channel independently. Any sizes >= 1,
   up or down. NG_ERR_ARG for sizes < 1 or NULL buffers, NG_ERR_NOMEM if the small
   coefficient tables cannot be allocated. */
ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh, int ow);

/* Fashion-MNIST images for the GAN: an IDX images file (raw or .gz, read by ng_idx_load;
   e.g. NG_FMNIST_DIR "/train-images-idx3-ubyte.gz") of (N, H, W) bytes, zero-padded to
   pad_to x pad_to and centred (left/top padding (pad_to - W) / 2, the rest right/bottom),
   c = 1, labels NULL. pad_to = 32 for the alphaGAN space (bottom width 4); pad_to must be at
   least H and W (pad_to == H == W keeps the images as they are). */
ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out);

typedef enum ng_image_norm {
    NG_IMAGE_NORM_PM1 = 0,           /* x / 127.5 - 1: [-1, 1], what tanh generators produce (default) */
    NG_IMAGE_NORM_CIFAR_MEANSTD = 1  /* (x / 255 - mean[c]) / std[c], mean (0.4914, 0.4822, 0.4465),
                                        std (0.2470, 0.2435, 0.2616): alphaGAN's search-time quirk; C = 3 only */
} ng_image_norm;
/* Images idx[0..n) of s as an (n, C, H, W) float tensor in ctx's step arena (no gradient).
   NULL with ctx's status set (NG_ERR_ARG, message in ng_last_error) for an index outside
   [0, s->n), n < 1, an unknown norm or NG_IMAGE_NORM_CIFAR_MEANSTD with C != 3; NULL with
   NG_ERR_NOMEM when the arena is full. */
ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm);

/* alphaGAN's search split (search.py: split = floor(0.5 * num_train)): *first_len = n / 2.
   Images [0, first_len) train the weights, [first_len, n) form the validation queue; by
   index, never shuffled (50,000 -> 25,000 + 25,000). */
void ng_image_set_split_half(int64_t n, int64_t *first_len);
/* n indices drawn uniformly WITH replacement from [begin, end) (end > begin). alphaGAN draws
   from a SubsetRandomSampler (a permutation per pass, i.e. without replacement within an
   epoch); with 25,000 images and batches of 64 the two differ negligibly. Callers who want
   epochs can shuffle an index array with ng_rng_below instead. */
void ng_sample_indices(ng_rng *r, int64_t begin, int64_t end, int n, int64_t *out);

/* Save n images (N, C, H, W) with values in [-1, 1] as one PNG, torchvision's
   save_image(make_grid(x, nrow, padding), normalize=True, value_range=(-1, 1)):
   ncol = min(nrow, n) images per row, nrows = ceil(n / ncol) rows, `padding` pixels of value 0
   between and around the images, so the PNG is ncol * (W + padding) + padding wide and
   nrows * (H + padding) + padding high; as in make_grid a single image (n == 1) is saved
   without any padding. Quantisation as torchvision: u8 = clamp((x + 1) / 2 * 255 + 0.5, 0, 255)
   truncated (NaN -> 0). C = 1 gives a grayscale PNG (torchvision repeats it into RGB; the
   pixel values are the same), C = 3 an RGB PNG. Written with ng_file_write_atomic.
   NG_ERR_ARG for bad sizes (C not 1 or 3, n, H, W, nrow < 1, padding < 0, a grid over 2^30
   pixels); NG_ERR_UNSUPPORTED when built without NG_USE_STB. */
ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow, int padding);

/* ---- src/text.h ---- */
/* ======================================================================================== */
/* @@TEXT  tokenizer, vocabulary, encoding, text datasets and readers (TextNAS input)        */
/* ======================================================================================== */
/* TOKENIZER (needs utf8proc: build with NG_USE_UTF8PROC and link -lutf8proc; otherwise
   ng_tokenize returns NG_ERR_UNSUPPORTED). Steps:
     1. UTF-8 validation. Overlong forms, surrogates (U+D800..DFFF), code points > U+10FFFF,
        stray continuation bytes and truncated sequences are NG_ERR_FORMAT naming the source and
        line, or, with replace_invalid, each maximal invalid subsequence becomes one U+FFFD.
     2. NFKC (utf8proc COMPOSE|COMPAT|STABLE, plus CASEFOLD when casefold): "ﬁ" -> "fi",
        "ＡＢＣ１２３" -> "ABC123"; casefold is full folding: "Straße" -> "strasse", "Σ" and
        the final sigma "ς" both fold to "σ" (so "ΣΟΦΟΣ" and "σοφος" meet as "σοφοσ").
     3. Split by Unicode general category:
        - letters (L*) and numbers (N*) GLUE into one token: "mp3", "covid19", "2nd", "ABC123"
          stay whole; "3.14" is "3" "." "14".
        - marks (M*) attach to the token before them (a leading mark starts a token);
        - CJK ideographs, Hiragana and Katakana: one token per character (no segmenter);
          Hangul and every other script form words like Latin;
        - each punctuation (P*) and symbol (S*) character is its own token, except emoji
          sequences: a ZWJ (U+200D) joins the next symbol to the current one, variation
          selectors and keycap marks (M*) and skin-tone modifiers (U+1F3FB..1F3FF) and tag
          characters (U+E0020..E007F) attach, and two regional indicators form one flag;
        - whitespace of every script (Zs, Zl, Zp) and control characters (Cc: \t \n \r ...)
          separate; other format characters (Cf: soft hyphen, ZWJ outside emoji, BOM) are
          dropped without splitting; private-use / unassigned characters are single tokens.
   VOCABULARY: id 0 "<pad>", id 1 "<unk>", then the kept tokens (count >= min_count, at most
   max_size entries in all) ordered by count descending, ties in byte (= code point) order;
   with `sorted` set, kept tokens are in byte order only (TextNAS's SST vocabulary).
   Saved as UTF-8 text, one token per line, line i = id i (the first two lines are the
   specials), written atomically. */
#ifndef NG_TEXT_MAX_LINE
#define NG_TEXT_MAX_LINE (1u << 20)          /* longest line / record a reader accepts */
#endif
#ifndef NG_TEXT_MAX_FILE
#define NG_TEXT_MAX_FILE (((size_t)1) << 31) /* largest file the *_load readers accept */
#endif
#ifndef NG_TEXT_MAX_CLASSES
#define NG_TEXT_MAX_CLASSES 10000
#endif
#define NG_TEXT_PAD 0
#define NG_TEXT_UNK 1

typedef struct ng_text_opts {
    int casefold;          /* 1: Unicode full case folding after NFKC (default 0: GloVe is cased) */
    int replace_invalid;   /* 1: invalid UTF-8 -> U+FFFD instead of an error (default 0) */
    int max_len;           /* encoded length L (default 64, TextNAS retrain) */
} ng_text_opts;
ng_text_opts ng_text_opts_default(void);

/* Tokens of one text: tok[i] are NUL-terminated strings inside one block. */
typedef struct ng_tokens { int64_t n; char **tok; char *buf_; } ng_tokens;
void ng_tokens_free(ng_tokens *t);
/* text need not be NUL-terminated (n bytes; embedded NULs are control characters).
   src_name/line name the input in error messages. out is valid (n = 0) on failure. */
ng_status ng_tokenize(const char *text, size_t n, const ng_text_opts *o, const char *src_name,
                      int64_t line, ng_tokens *out);
/* Split on single spaces (empty pieces skipped): TextNAS's SST "tokenizer". Never fails except NOMEM. */
ng_status ng_tokenize_spaces(const char *text, size_t n, ng_tokens *out);

typedef struct ng_vocab {
    int64_t size;          /* V, including <pad> and <unk> */
    char **words;          /* (V) */
    int64_t *slots_;       /* hash table (id + 1, 0 = empty) */
    int64_t cap_;
} ng_vocab;
typedef struct ng_vocab_opts {
    int64_t min_count;     /* default 1 */
    int64_t max_size;      /* including the two specials; 0 = no limit */
    int sorted;            /* 1: byte order instead of count order */
} ng_vocab_opts;
ng_vocab_opts ng_vocab_opts_default(void);
int32_t ng_vocab_lookup(const ng_vocab *v, const char *word);   /* NG_TEXT_UNK if absent */
void ng_vocab_free(ng_vocab *v);
ng_status ng_vocab_save(const ng_vocab *v, const char *path);
ng_status ng_vocab_load(const char *path, ng_vocab *v);
ng_status ng_vocab_parse(const char *buf, size_t n, const char *src_name, ng_vocab *v);
/* ids (L), mask (L, 1 for tokens, 0 for padding; may be NULL), length (may be NULL): head kept,
   padding at the tail with NG_TEXT_PAD. */
void ng_text_encode(const ng_vocab *v, const char *const *tok, int64_t ntok, int max_len,
                    int32_t *ids, float *mask, int32_t *length);

/* Labelled raw texts, as read. */
typedef struct ng_text_examples {
    int64_t n;
    int32_t *labels;       /* (n), 0..num_classes-1 */
    char **texts;          /* (n) NUL-terminated UTF-8 */
    int num_classes;
    char **class_names;    /* (num_classes) */
    int64_t cap_;
} ng_text_examples;
void ng_text_examples_free(ng_text_examples *e);
ng_status ng_text_examples_add(ng_text_examples *e, int32_t label, const char *text, size_t len);
ng_status ng_text_examples_set_classes(ng_text_examples *e, int num_classes, const char *const *names);

typedef struct ng_text_dataset {
    int64_t n;
    int max_len;
    int num_classes;
    int32_t *ids;          /* (n, max_len) */
    int32_t *lengths;      /* (n) */
    int32_t *labels;       /* (n) */
    char **class_names;    /* (num_classes) */
} ng_text_dataset;
void ng_text_dataset_free(ng_text_dataset *d);
/* Count tokens over any number of example sets (e.g. train only, or train+dev+test as TextNAS
   does for SST). o == NULL: split on spaces (pre-tokenized text such as SST). */
ng_status ng_vocab_build(const ng_text_examples *const *sets, int nsets, const ng_text_opts *o,
                         const ng_vocab_opts *vo, ng_vocab *out);
/* Tokenize (o == NULL: spaces) and encode every example to o->max_len (or max_len_if_null). */
ng_status ng_text_dataset_make(const ng_text_examples *e, const ng_vocab *v, const ng_text_opts *o,
                               int max_len_if_null, ng_text_dataset *out);

/* ---- readers: parse from memory (src_name in messages) or load a file; errors name the file
   and line. All texts are checked to be valid UTF-8 only when tokenized. ---- */
/* TSV: `label<TAB>text` per line (\n or \r\n; blank lines skipped; the text may hold further
   TABs). integer_labels = 0: labels are strings, class ids in order of first appearance and
   class_names are the strings. integer_labels = 1: labels are decimal 0..NG_TEXT_MAX_CLASSES-1,
   num_classes = largest + 1, class_names "0", "1", ... */
ng_status ng_tsv_parse(const char *buf, size_t n, const char *src_name, int integer_labels,
                       ng_text_examples *out);
ng_status ng_tsv_load(const char *path, int integer_labels, ng_text_examples *out);
/* AG News CSV (Zhang et al. 2015): `"class","title","body"` per record, RFC 4180 quoting
   (doubled quotes, commas and newlines inside quotes, \r\n accepted). class 1..4 -> 0..3
   (World, Sports, Business, Sci/Tech); text = title + " " + body, with AG's literal
   backslash-n sequences ("\n" as two characters) turned into spaces. */
ng_status ng_agnews_parse(const char *buf, size_t n, const char *src_name, ng_text_examples *out);
ng_status ng_agnews_load(const char *path, ng_text_examples *out);
/* SST PTB trees (textnas.md 2.2/2.3), one tree per line, labels 0..4 at every node.
   phrases = 0: each root sentence once. phrases = 1 (TextNAS train/dev): the root sentence,
   then every node in post-order, leaves included (so the root appears twice; no
   deduplication). binary: 0,1 -> 0, 3,4 -> 1, neutral (2) phrases dropped. Leaves holding a
   space keep only the text after the last space; "{" -> "-LCB-", "}" -> "-RCB-"; words are
   not unescaped or lowercased; a phrase is its leaves joined by single spaces; empty phrases
   are skipped. */
typedef struct ng_sst_opts { int binary; int phrases; } ng_sst_opts;
ng_status ng_sst_parse(const char *buf, size_t n, const char *src_name, const ng_sst_opts *o,
                       ng_text_examples *out);
ng_status ng_sst_load(const char *path, const ng_sst_opts *o, ng_text_examples *out);
/* WordNet gloss supersense task (data.md). Files data.{noun,verb,adj,adv} in dir (NULL:
   /usr/share/wordnet); lines starting with two spaces (license) skipped; label = lex_filenum
   (00..44, the 45 lexnames(5WN) names); text = the gloss after "| " with trailing spaces cut.
   Split: h = FNV-1a 64 of "<basename>:<offset>" (e.g. "data.noun:00001740", the offset as
   the 8 digits in the file); h % 10 in 0..7 train, 8 valid, 9 test. split: 0 train, 1 valid,
   2 test, -1 all. ng_wordnet_parse APPENDS to out (zero it before the first call; the 45
   class names are set when out has none); ng_wordnet_load reads the four files in the order
   noun, verb, adj, adv. */
#define NG_WORDNET_CLASSES 45
extern const char *const ng_wordnet_lexnames[NG_WORDNET_CLASSES];
uint64_t ng_fnv1a64(const void *data, size_t n);
ng_status ng_wordnet_parse(const char *buf, size_t n, const char *src_name, const char *basename,
                           int split, ng_text_examples *out);
ng_status ng_wordnet_load(const char *dir, int split, ng_text_examples *out);

/* Word vectors, GloVe / word2vec text: optional first line "count dim"; then `token v1 .. vD`
   separated by spaces. D comes from the header or the first row; every row must have D
   values. A row with more than D + 1 fields takes its last D fields as the vector and the
   rest (joined by single spaces) as the token (GloVe 840B has tokens with spaces, as NNI
   reads it). Duplicate tokens: the first wins. keep != NULL: only tokens in that vocabulary
   are stored (how a 5 GB GloVe file is read for one dataset). */
typedef struct ng_wordvec {
    int64_t n;
    int dim;
    char **words;          /* (n) */
    float *vecs;           /* (n, dim) */
    ng_vocab index_;       /* word -> row lookup (ids 0/1 unused) */
    int64_t cap_;
} ng_wordvec;
#ifndef NG_WORDVEC_MAX_DIM
#define NG_WORDVEC_MAX_DIM 4096
#endif
void ng_wordvec_free(ng_wordvec *w);
ng_status ng_wordvec_parse(const char *buf, size_t n, const char *src_name, const ng_vocab *keep,
                           ng_wordvec *out);
ng_status ng_wordvec_load(const char *path, const ng_vocab *keep, ng_wordvec *out);
int64_t ng_wordvec_find(const ng_wordvec *w, const char *word);   /* row or -1 */
/* TextNAS 2.5 order: the whole (V, dim) table ~ U[-0.25, 0.25) row-major; row 0 (<pad>) = 0;
   row 1 (<unk>) a fresh draw; then for ids 2.. in order: the exact-match vector, or a fresh
   U[-0.25, 0.25) draw. *found (may be NULL) = number of ids >= 2 with a vector. */
void ng_wordvec_init_embedding(const ng_wordvec *w, const ng_vocab *v, ng_rng *r,
                               float *table /* (V, dim) */, int64_t *found);

/* ---- src/gan_space.h ---- */
/* ======================================================================================== */
/* @@GAN  alphaGAN generator search space, fixed generator, discriminator, genotypes        */
/* ======================================================================================== */
/* The alphaGAN generator space (docs: /work/shared/docs/alphagan.md sections 1, 2, 4, 7):

     z (N, latent) -> l1 linear -> reshape channel-major (N, gf, bw, bw)
       -> cell 1 -> cell 2 -> cell 3 (each doubles H and W) -> to_rgb -> (N, channels, 8bw, 8bw)
     to_rgb = BN(affine) -> ReLU -> conv3x3(gf -> channels, bias) -> tanh

   Every cell has 5 nodes; node 0 is the cell input (H x W), nodes 1-4 are 2H x 2W:
       node1 = up[0](node0)        node3 = up[1](node0)       node2 = normal[0](node1)
       node4 = normal[1](node2) + normal[2](node3) + (sum of the cell's skip-ins)
   A cell returns node4 (next cell's input) and node1 (source of the cross-cell skips):
       skip_2[0]: cell1.node1 -> cell2.node4 (x2)
       skip_3[0]: cell1.node1 -> cell3.node4 (x4: the up op applied twice, the SAME deconv)
       skip_3[1]: cell2.node1 -> cell3.node4 (x2)

   EDGE ORDER (the 18 searched edges; genotype index e = NG_GAN_EDGE_*):
       e = 5c + 0..2   cell c (0-based) normal[0..2]   6 normal ops (NG_GAN_N_NORMAL_OPS)
       e = 5c + 3..4   cell c up[0..1]                 3 up ops (NG_GAN_N_UP_OPS)
       e = 15          skip_2[0]                       3 up ops
       e = 16, 17      skip_3[0], skip_3[1]            3 up ops
   Normal ops: conv_1x1, conv_3x3, conv_5x5 (ReLU -> conv with bias), sep_conv_3x3/5x5/7x7
   (ReLU -> depthwise -> pointwise -> BN -> ReLU -> depthwise -> pointwise -> BN; affine-free BN
   in the supernet, affine in the fixed net). Up ops: deconv (ConvTranspose2d k2 s2, bias),
   nearest, bilinear (align_corners=False).

   ARCHITECTURE PARAMETERS: the supernet's "alpha" group holds 81 scalars as three tensors,
   alpha.normal (9, 6) with row 3c + j = cell c normal[j], alpha.up (6, 3) with row 2c + j =
   cell c up[j], alpha.skip (3, 3) with rows skip_2[0], skip_3[0], skip_3[1]. Every edge is
   sum_k softmax(alpha_row)_k op_k(x) (DARTS), or with cfg.gumbel softmax((alpha_row + g)/t),
   g = -log(-log(U + 1e-20)) drawn from ctx->rng once per forward for every alpha element.

   GENOTYPE JSON (version 1), written by ng_gan_genotype_to_json and read by the strict parser:
       {
         "format": "nasgan.gan_genotype",
         "version": 1,
         "cells": [
           {"normal": ["conv_5x5", "conv_5x5", "sep_conv_5x5"], "up": ["deconv", "bilinear"]},
           {"normal": [...3 normal op names...], "up": [...2 up op names...]},
           {"normal": [...], "up": [...]}
         ],
         "skip_2": ["nearest"],
         "skip_3": ["bilinear", "nearest"]
       }
   Every key is required exactly once, in any order; no other key is allowed. "normal" lists
   the ops of (node1->node2, node2->node4, node3->node4), "up" of (node0->node1, node0->node3),
   "skip_3" of (cell1 x4, cell2 x2). Strings must be valid UTF-8 (escapes allowed); whitespace is
   JSON's (space, tab, CR, LF); nothing may follow the object. Errors are NG_ERR_FORMAT with a
   message naming the file, the line, column and byte offset, and what was expected. */

#define NG_GAN_CELLS 3
#define NG_GAN_EDGES 18
#define NG_GAN_N_NORMAL_OPS 6
#define NG_GAN_N_UP_OPS 3
#define NG_GAN_EDGE_NORMAL(c, j) (5 * (c) + (j))      /* c 0..2, j 0..2 */
#define NG_GAN_EDGE_UP(c, j) (5 * (c) + 3 + (j))      /* c 0..2, j 0..1 */
#define NG_GAN_EDGE_SKIP2 15
#define NG_GAN_EDGE_SKIP3(j) (16 + (j))               /* j 0..1 */

enum { NG_GAN_CONV_1X1 = 0, NG_GAN_CONV_3X3, NG_GAN_CONV_5X5,
       NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_7X7 };   /* normal ops */
enum { NG_GAN_DECONV = 0, NG_GAN_NEAREST, NG_GAN_BILINEAR };              /* up ops */

/* ---- configuration ---- */
typedef struct ng_gan_config {
    int gf_dim;          /* G width (CIFAR-10/STL-10: 256) */
    int df_dim;          /* D width (128) */
    int latent_dim;      /* z size (128) */
    int bottom_width;    /* bw: 4 (32x32 images) or 6 (48x48); image size 8 bw */
    int channels;        /* image channels: 3, or 1 for Fashion-MNIST */
    int gumbel;          /* supernet edges use Gumbel-softmax weights (search default 0) */
    float gumbel_temp;   /* its temperature t (0.5) */
} ng_gan_config;
/* "cifar10" (bw 4, 3 channels), "stl10" (bw 6, 3 channels), "fashion_mnist" (bw 4, 1
   channel); gf 256, df 128, latent 128, no Gumbel, t 0.5. NG_ERR_ARG for other names. */
ng_status ng_gan_config_preset(ng_gan_config *cfg, const char *dataset);
/* NG_ERR_ARG (with a message) unless every size is positive and small enough, t > 0. */
ng_status ng_gan_config_check(const ng_gan_config *cfg);

/* ---- genotypes ---- */
typedef struct ng_gan_genotype {
    int op[NG_GAN_EDGES];   /* op index per edge, in EDGE ORDER */
} ng_gan_genotype;
int ng_gan_edge_is_normal(int e);                  /* 1 for normal edges, 0 for up/skip */
int ng_gan_edge_n_ops(int e);                      /* 6 or 3 */
const char *ng_gan_edge_name(int e);               /* "cell1.normal0", ..., "skip_3.1" */
const char *ng_gan_normal_op_name(int k);          /* NULL out of range */
const char *ng_gan_up_op_name(int k);
const char *ng_gan_op_name(int e, int k);          /* by the edge's kind; NULL out of range */
int ng_gan_op_index(int e, const char *name);      /* -1 if not an op of edge e's kind */
/* The published genotypes (alphagan.md 1.9): "alphaGAN_l", "alphaGAN_s". */
ng_gan_genotype ng_gan_genotype_alphagan_l(void);
ng_gan_genotype ng_gan_genotype_alphagan_s(void);
ng_status ng_gan_genotype_builtin(const char *name, ng_gan_genotype *out);   /* NG_ERR_ARG if unknown */
void ng_gan_genotype_random(ng_gan_genotype *g, ng_rng *r);   /* each edge uniform over its ops */
int ng_gan_genotype_valid(const ng_gan_genotype *g);
int ng_gan_genotype_eq(const ng_gan_genotype *a, const ng_gan_genotype *b);
/* JSON (layout above). to_json: malloc'd NUL-terminated text, *n its length; caller frees. */
ng_status ng_gan_genotype_to_json(const ng_gan_genotype *g, char **out, size_t *n);
ng_status ng_gan_genotype_save(const ng_gan_genotype *g, const char *path);       /* atomic */
/* Parse n bytes (not NUL-terminated) from memory; `name` names the source in messages. On
   failure *out is left unchanged. */
ng_status ng_gan_genotype_parse(const char *text, size_t n, const char *name, ng_gan_genotype *out);
ng_status ng_gan_genotype_load(const char *path, ng_gan_genotype *out);           /* <= 1 MiB */
/* The reference code's form (yuesongtian/AlphaGAN models/genotypes.py), to paste there:
   "VAR = Genotype_gen(normal={'1': [('conv_5x5', 0), ...]}, up={...}, skip_2=[...], skip_3=[...])"
   (no "VAR = " when var is NULL or ""). */
ng_status ng_gan_genotype_to_python(const ng_gan_genotype *g, const char *var, char **out, size_t *n);
/* Reads that form back from n bytes of text (a genotypes.py file, a log line): the
   Genotype_gen(...) assigned to `var`, or when var is NULL or "" the only one in the text.
   Also accepts the logged form's *_concat=range(a, b) fields, either quote style, comments and
   line continuations. NG_ERR_FORMAT naming `name` and the offset; *out unchanged on failure. */
ng_status ng_gan_genotype_parse_python(const char *text, size_t n, const char *name, const char *var, ng_gan_genotype *out);
/* Graphviz DOT: z, l1, the 3 cells (clusters of nodes 0-4, every edge labelled with its op),
   the cross-cell skips (dashed, labelled with op and factor) and to_rgb. */
ng_status ng_gan_genotype_to_dot(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
ng_status ng_gan_genotype_save_dot(const ng_gan_genotype *g, const char *title, const char *path);
/* The same picture as a standalone SVG with a fixed layout (no graphviz needed). */
ng_status ng_gan_genotype_to_svg(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
ng_status ng_gan_genotype_save_svg(const ng_gan_genotype *g, const char *title, const char *path);

/* ---- building blocks (tensor pointers only; shared by the supernet and the fixed net) ---- */
typedef struct ng_gan_conv {
    ng_tensor *w;   /* conv (O, C, k, k); deconv (C, O, 2, 2); linear (O, I) */
    ng_tensor *b;   /* (O) */
} ng_gan_conv;
typedef struct ng_gan_sepconv {
    int k;                              /* 3, 5 or 7 (padding k/2) */
    ng_tensor *dw1, *pw1, *dw2, *pw2;   /* depthwise (C, 1, k, k), pointwise (C, C, 1, 1), no bias */
    ng_tensor *bn1_w, *bn1_b, *bn2_w, *bn2_b;          /* (C), NULL when affine-free */
    ng_tensor *bn1_mean, *bn1_var, *bn2_mean, *bn2_var; /* (C) running statistics (buffers) */
} ng_gan_sepconv;
/* One supernet normal edge: its 6 candidates. */
typedef struct ng_gan_mixed_normal {
    ng_gan_conv conv[3];       /* conv_1x1, conv_3x3, conv_5x5 */
    ng_gan_sepconv sep[3];     /* sep_conv_3x3, 5x5, 7x7 */
} ng_gan_mixed_normal;

/* Supernet normal edge: sum_k softmax(alpha[row])_k op_k(x). All six candidates share one
   ReLU(x). fuse = 1 computes the three plain convolutions as ONE 5x5 convolution whose kernel
   and bias are the softmax-weighted sums of the (centre zero-padded) candidates' (exactly the
   same function; gradients of the kernels and of alpha follow from the combined kernel's). */
ng_tensor *ng_gan_mixed_normal_forward(ng_ctx *ctx, const ng_gan_mixed_normal *e, ng_tensor *alpha, int row,
                                       ng_tensor *x /* (N, C, H, W) */, int fuse);
/* Supernet up edge: sum_k softmax(alpha[row])_k up_k^times(x), up = [deconv, nearest,
   bilinear]; times 1 (x2) or 2 (x4, the same deconv applied twice). */
ng_tensor *ng_gan_mixed_up_forward(ng_ctx *ctx, const ng_gan_conv *deconv, ng_tensor *alpha, int row,
                                   ng_tensor *x /* (N, C, H, W) */, int times);
/* One chosen op (fixed net): normal op k reads x (ReLU inside); up op k applied `times`. */
ng_tensor *ng_gan_normal_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *conv, const ng_gan_sepconv *sep, ng_tensor *x);
ng_tensor *ng_gan_up_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *deconv, ng_tensor *x, int times);

/* Initialisation. PYTORCH: every conv / deconv / linear kaiming_uniform(a=sqrt 5) with bias
   U(+-1/sqrt(fan_in)), BN gamma 1, beta 0 (the search). XAVIER: alphaGAN's retraining
   (alphagan.md 4): PyTorch defaults first, then xavier_uniform(gain 1) on every Conv2d weight
   (incl. depthwise; not ConvTranspose2d, not Linear), BN gamma ~ N(1, 0.02), beta 0. */
typedef enum ng_gan_init { NG_GAN_INIT_PYTORCH = 0, NG_GAN_INIT_XAVIER = 1 } ng_gan_init;

/* ---- the search supernet ---- */
typedef struct ng_gan_gen_search {
    ng_gan_config cfg;
    int fuse;                   /* 1 (default): fused conv_1x1/3x3/5x5 on normal edges (see
                                   ng_gan_mixed_normal_forward; measured 17% faster forward +
                                   backward at gf 256); 0: the plain sum of six candidates */
    ng_params *weights;         /* "<name>", trainable */
    ng_params *buffers;         /* "<name>.buffers": BN running statistics */
    ng_params *alpha;           /* "<name>.alpha": the 81 architecture parameters */
    ng_tensor *alpha_normal;    /* (9, 6) */
    ng_tensor *alpha_up;        /* (6, 3) */
    ng_tensor *alpha_skip;      /* (3, 3) */
    ng_gan_conv l1;             /* (bw^2 gf, latent), (bw^2 gf) */
    ng_gan_mixed_normal normal[NG_GAN_CELLS][3];
    ng_gan_conv up[NG_GAN_CELLS][2];   /* the deconv candidate of each up edge */
    ng_gan_conv skip[3];               /* the deconv candidate of skip_2[0], skip_3[0], skip_3[1] */
    ng_tensor *rgb_bn_w, *rgb_bn_b, *rgb_bn_mean, *rgb_bn_var;   /* (gf) */
    ng_gan_conv to_rgb;         /* (channels, gf, 3, 3), (channels) */
} ng_gan_gen_search;

/* PyTorch-default weights, alpha = 1e-3 N(0, 1), BN running stats (0, 1). name NULL: "G".
   NULL (with ng_last_error) on a bad config or no memory. */
ng_gan_gen_search *ng_gan_gen_search_create(const ng_gan_config *cfg, const char *name, ng_rng *init_rng);
void ng_gan_gen_search_free(ng_gan_gen_search *G);
/* Copy weights, buffers and alpha VALUES into dst (its own storage: changing one net's alpha
   never changes the other's). NG_ERR_MISMATCH if the configurations differ. */
ng_status ng_gan_gen_search_copy(ng_gan_gen_search *dst, const ng_gan_gen_search *src);
/* A new supernet (groups named `name`, e.g. "G_worst") holding a copy of src. */
ng_gan_gen_search *ng_gan_gen_search_clone(const ng_gan_gen_search *src, const char *name);
/* (N, latent) -> (N, channels, 8 bw, 8 bw) in [-1, 1]. */
ng_tensor *ng_gan_gen_search_forward(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor *z);
/* One cell (c = 0..2) of the supernet: x (N, gf, H, W) -> node4 (N, gf, 2H, 2W); skip_in holds
   c sources (cell1.node1 for c = 1; cell1.node1 and cell2.node1 for c = 2); *node1 (if not
   NULL) receives node1. */
ng_tensor *ng_gan_gen_search_cell(ng_ctx *ctx, const ng_gan_gen_search *G, int c, ng_tensor *x,
                                  ng_tensor *const *skip_in, ng_tensor **node1);
/* Argmax of softmax(alpha_row) on every edge (first index on ties), alphagan.md 1.8. */
void ng_gan_gen_search_derive(const ng_gan_gen_search *G, ng_gan_genotype *out);
/* The alpha tensor and row that edge e reads. */
ng_tensor *ng_gan_gen_search_alpha_of(const ng_gan_gen_search *G, int e, int *row);
/* Edge e's ng_gan_edge_n_ops(e) architecture logits, copied to host memory (either device). */
ng_status ng_gan_gen_search_alpha_row(const ng_gan_gen_search *G, int e, float *logits);
/* ... and written from host memory (either device). */
ng_status ng_gan_gen_search_set_alpha_row(ng_gan_gen_search *G, int e, const float *logits);

/* ---- the fixed (retrain) generator of one genotype ---- */
typedef struct ng_gan_fixed_edge {
    int op;                     /* the chosen op index */
    ng_gan_conv conv;           /* conv_kxk (normal edges) or deconv (up/skip edges), else NULL */
    ng_gan_sepconv sep;         /* sep_conv_kxk (normal edges, affine BN), else zeroed */
} ng_gan_fixed_edge;
typedef struct ng_gan_gen_fixed {
    ng_gan_config cfg;
    ng_gan_genotype geno;
    ng_params *weights, *buffers;      /* "<name>", "<name>.buffers" */
    ng_gan_conv l1;
    ng_gan_fixed_edge edge[NG_GAN_EDGES];
    ng_tensor *rgb_bn_w, *rgb_bn_b, *rgb_bn_mean, *rgb_bn_var;
    ng_gan_conv to_rgb;
} ng_gan_gen_fixed;
/* Only the chosen op per edge; deconv skips apply their one ConvTranspose2d `times` times.
   name NULL: "G". init: NG_GAN_INIT_XAVIER is alphaGAN's retraining. */
ng_gan_gen_fixed *ng_gan_gen_fixed_create(const ng_gan_config *cfg, const ng_gan_genotype *geno, const char *name,
                                          ng_gan_init init, ng_rng *init_rng);
void ng_gan_gen_fixed_free(ng_gan_gen_fixed *G);
ng_tensor *ng_gan_gen_fixed_forward(ng_ctx *ctx, const ng_gan_gen_fixed *G, ng_tensor *z);
ng_tensor *ng_gan_gen_fixed_cell(ng_ctx *ctx, const ng_gan_gen_fixed *G, int c, ng_tensor *x,
                                 ng_tensor *const *skip_in, ng_tensor **node1);

/* ---- the discriminator (AutoGAN's D, alphagan.md 2) ---- */
typedef struct ng_gan_snconv {
    ng_tensor *w, *b;           /* conv (O, C, k, k) and (O), or linear (O, I) and b NULL */
    ng_tensor *u, *v;           /* spectral-norm vectors (O), (C k k) in the buffers group */
} ng_gan_snconv;
typedef struct ng_gan_disc {
    ng_gan_config cfg;
    ng_params *weights, *buffers;      /* "<name>", "<name>.buffers" (SN u and v) */
    ng_gan_snconv b1_c1, b1_c2, b1_sc; /* OptimizedDisBlock: channels -> df */
    ng_gan_snconv b2_c1, b2_c2, b2_sc; /* DisBlock, downsample */
    ng_gan_snconv b3_c1, b3_c2, b4_c1, b4_c2;   /* DisBlocks, identity shortcut */
    ng_gan_snconv l5;                  /* linear df -> 1, no bias */
    int pool_sum;                      /* 0 (default): mean over H and W before l5, the reference
                                          code's stated intent; 1: its actual sum (a quirk) */
} ng_gan_disc;
/* block1: (conv3x3 -> ReLU -> conv3x3 -> avgpool2) + conv1x1(avgpool2(x)); block2: (ReLU conv3x3
   ReLU conv3x3 avgpool2) + avgpool2(conv1x1(x)); blocks 3, 4: (ReLU conv ReLU conv) + x; then
   ReLU, mean over H and W (sum with pool_sum = 1), linear(df -> 1). Spectral norm (1 power iteration per training
   forward, u and v persistent, PyTorch's initial draws) on every conv and the linear. Any input
   size, cfg.channels channels. name NULL: "D". */
ng_gan_disc *ng_gan_disc_create(const ng_gan_config *cfg, const char *name, ng_gan_init init, ng_rng *init_rng);
void ng_gan_disc_free(ng_gan_disc *D);
ng_status ng_gan_disc_copy(ng_gan_disc *dst, const ng_gan_disc *src);   /* weights and u, v */
ng_tensor *ng_gan_disc_forward(ng_ctx *ctx, const ng_gan_disc *D, ng_tensor *x /* (N, channels, H, W) */); /* (N, 1) */

/* ---- src/linalg.h ---- */
/* ======================================================================================== */
/* @@LINALG  double precision: symmetric eigensolver (and an internal matrix product)      */
/* ======================================================================================== */
/* Eigenvalues w (n), ascending, and, if v != NULL, orthonormal eigenvectors: column j of the
   row-major (n, n) v (v[i * n + j]) belongs to w[j]. Only the lower triangle of the row-major
   (n, n) matrix a is read; a is not modified. Householder tridiagonalisation, then implicit QL
   with Wilkinson shifts; the matrix is scaled by its largest entry first. Errors: NG_ERR_ARG
   (n < 1, NULL pointers, a non-finite entry), NG_ERR_NOMEM, NG_ERR_FORMAT if QL fails to
   converge (30 iterations for one eigenvalue; not seen in practice). */
ng_status ng_linalg_eigh(int64_t n, const double *a, double *w, double *v);


/* ---- src/metrics.h ---- */
/* ======================================================================================== */
/* @@METRICS  feature statistics, FID, KID, IS, offline evaluation                          */
/* ======================================================================================== */
/* GAN sample-quality metrics computed on plain feature matrices, so that any feature network
   can feed them, plus a convenience layer that uses the Fashion-MNIST CNN of @@MODELS.

   !! The FMNIST numbers live in the feature space of nasgan's own Fashion-MNIST classifier
   !! (128-d penultimate layer, 10 classes). They are NOT comparable to the Inception-v3 FID,
   !! KID or Inception Score of papers, nor across differently trained classifiers: always
   !! report them with the network identity (ng_fmnist_cnn_identity) and N, e.g.
   !! "FD_fmnistcnn = 3.2 (N=10000 vs train stats)".

   Definitions (as in bioinf-jku/TTUR and toshas/torch-fidelity; docs/ecosystem.md 4(b)):
     statistics  mu = mean of the rows, S = unbiased (N-1) covariance, both in double.
     FID         |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr((S1 S2)^1/2), where
                 Tr((S1 S2)^1/2) = sum_i sqrt(max(lambda_i(M), 0)), M = S1^1/2 S2 S1^1/2, and
                 S1^1/2 = V diag(sqrt(max(lambda, 0))) V^T from the symmetric eigensolver.
                 Real arithmetic throughout: no complex parts, no NaN, also for singular
                 covariances (N <= D). Results a rounding error below 0 are returned as 0.
     KID         unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3 (torch-fidelity's "unbiased"
                 estimator: the within-set sums drop the diagonal, the cross sum keeps it),
                     (sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)) / (m (m-1))
                       - 2 sum_{i,j} k(x_i, y_j) / m^2,
                 averaged over `subsets` random subsets of m rows drawn without replacement
                 from each side; mean and population std (numpy's np.std) over the subsets.
                 Can be slightly negative when the distributions are close.
     IS          exp(mean_x KL(p(y|x) || p(y))) on each of `splits` consecutive chunks
                 [i N / splits, (i+1) N / splits) (p(y) = mean of p(y|x) over the chunk);
                 mean and population std over the chunks (Salimans et al.; torch-fidelity).
                 From logits, log p is taken as log_softmax in double as torch-fidelity does;
                 from probabilities, 0 log 0 = 0.
     P/R         improved precision and recall (Kynkaanniemi et al. 2019; torch-fidelity's
                 calculate_precision_recall_part, k = 3): each row a of a set A gets the radius
                 r(a) = distance to its k-th nearest other row of A (cdist(A, A).kthvalue(k + 1),
                 self included at distance 0; duplicate rows count as neighbours). b lies in A's
                 manifold when |b - a| <= r(a) for some a in A. precision = fraction of generated
                 rows in the real manifold, recall = fraction of real rows in the generated one.

   Cost (measured figures in docs/metrics.md): FID is O(D^3) (one eigendecomposition with
   vectors, two matrix products, one without vectors); KID is O(subsets m^2 D); statistics
   are O(N D^2); precision/recall is O(N^2 D) (2 N^2 D multiply-adds, no N x N matrix held). */

/* ---- feature statistics ---- */
#define NG_FEAT_ID_MAX 128
typedef struct ng_feat_stats {
    int64_t n;              /* samples accumulated */
    int64_t d;              /* feature size D */
    double *mean;           /* (D) */
    double *cov;            /* (D, D) full symmetric unbiased covariance once finished; while
                               accumulating it holds the lower triangle of the sum of squared
                               deviations */
    int finished;           /* 1 after ng_feat_stats_finish (or load): no more rows */
    char net_id[NG_FEAT_ID_MAX];  /* identity of the feature network (free text, "" = unknown) */
} ng_feat_stats;

/* Streaming accumulation: init, add rows in any number of batches, finish (needs N >= 2).
   Each batch is centred on its own mean (two passes) and merged with Chan et al.'s update,
   all in double, so the result does not depend on the feature's offset and barely on the
   batching. net_id is truncated to NG_FEAT_ID_MAX - 1 bytes. */
ng_status ng_feat_stats_init(ng_feat_stats *s, int64_t d, const char *net_id);
ng_status ng_feat_stats_add(ng_feat_stats *s, const float *x /* (N, D) */, int64_t n);
ng_status ng_feat_stats_finish(ng_feat_stats *s);
/* init + add + finish. */
ng_status ng_feat_stats_compute(ng_feat_stats *s, const float *x /* (N, D) */, int64_t n, int64_t d,
                                const char *net_id);
void ng_feat_stats_free(ng_feat_stats *s);   /* frees the arrays and zeroes the struct */

/* Finished statistics as one checkpoint record (kind NG_CKPT_RAW) under `key`. Payload,
   little-endian: "NGFS", u32 version 1, u32 id length, id bytes, i64 N, u64 D, D f64 mean,
   D (D + 1) / 2 f64 covariance lower triangle row by row (f64 = IEEE binary64 bits as u64). */
ng_status ng_ckpt_put_feat_stats(ng_ckpt *ck, const char *key, const ng_feat_stats *s);
/* Refuses (NG_ERR_MISMATCH, naming both) statistics whose network identity differs from
   expect_net_id (unless NULL) or whose N differs from expect_n (unless 0); NG_ERR_FORMAT for
   a malformed record. *s must be zeroed or freed; it is filled only on success. */
ng_status ng_ckpt_get_feat_stats(const ng_ckpt *ck, const char *key, ng_feat_stats *s,
                                 const char *expect_net_id, int64_t expect_n);
/* A checkpoint file holding one record "feat_stats" (atomic write), and its loader. */
ng_status ng_feat_stats_save(const ng_feat_stats *s, const char *path);
ng_status ng_feat_stats_load(ng_feat_stats *s, const char *path, const char *expect_net_id, int64_t expect_n);

/* ---- FID ---- */
/* From means (D) and full symmetric covariances (D, D) (only lower triangles are read). */
ng_status ng_metric_fid_moments(int64_t d, const double *mu1, const double *cov1, const double *mu2,
                                const double *cov2, double *fid);
/* From finished statistics; NG_ERR_MISMATCH when D or the network identities differ. */
ng_status ng_metric_fid(const ng_feat_stats *a, const ng_feat_stats *b, double *fid);

/* ---- KID ---- */
/* Unbiased MMD^2 between x (M, D) and y (M, D) with the cubic kernel (M >= 2). */
ng_status ng_metric_mmd2_poly(const float *x, const float *y, int64_t m, int64_t d, double *mmd2);
/* KID over `subsets` (<= 0: 100) subsets of `subset_size` (<= 0: 1000; clipped to min(nx, ny))
   rows of x (nx, D) and of y (ny, D), drawn without replacement with `rng`. NG_ERR_ARG if
   fewer than 2 rows on a side. */
ng_status ng_metric_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                        int subset_size, ng_rng *rng, double *mean, double *std);
/* The same with given subsets: row indices idx_x (subsets, m) into x and idx_y into y. */
ng_status ng_metric_kid_indexed(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d,
                                int subsets, int64_t m, const int64_t *idx_x, const int64_t *idx_y,
                                double *mean, double *std);

/* ---- Inception-Score analogue ---- */
/* Class probabilities p (N, K) (rows sum to 1) or logits (N, K); splits <= 0: 10 (needs
   splits <= N). shuffle: NULL keeps the row order (the original code); an RNG permutes the
   rows first (torch-fidelity shuffles with its seed). */
ng_status ng_metric_is(const float *p, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean,
                       double *std);
ng_status ng_metric_is_logits(const float *logits, int64_t n, int64_t k, int splits, ng_rng *shuffle,
                              double *mean, double *std);

/* ---- precision / recall ---- */
/* Precision of gen (n_gen, D) against real (n_real, D) and recall, with k nearest neighbours
   (k <= 0: 3). Refuses (NG_ERR_ARG) NULL pointers, D < 1, k >= n on either side (a radius
   needs k other rows) and non-finite features. Squared distances come from SGEMM in blocks of
   rows (|x|^2 + |y|^2 - 2 x.y after centring both sets on their common mean; extra memory
   about 4 (n_real + n_gen) D bytes + 2 MB per 1000 rows of the larger set). A squared
   distance is off by about sqrt(D) 2^-24 times the rows' squared norms about that mean; below
   that, rows are not told apart. The results are counts / n, the same for any thread count. */
ng_status ng_metric_prc(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d, int k,
                        double *precision, double *recall);

/* ---- offline evaluation with the Fashion-MNIST CNN (see the warning at the top) ---- */
/* Images to evaluate, produced on demand: fill() writes images [first, first + count) as
   (count, C, size, size) floats in [-1, 1], C = channels (0 means 1). For the Fashion-MNIST
   CNN, C is 1 and size is 28 or larger with size - 28 even (a 32x32 generator's output is
   centre-cropped to 28x28); the Inception network (@@INCEPTION) takes C = 1 or 3, any size.
   `channels` was added last so that brace initialisers {fill, user, n, size} written before
   it still mean grayscale; code that sets the fields one by one must set it too. */
typedef struct ng_image_source ng_image_source;
struct ng_image_source {
    ng_status (*fill)(const ng_image_source *src, int64_t first, int64_t count, float *out);
    void *user;
    int64_t n;              /* number of images */
    int size;               /* H = W */
    int channels;           /* 0 or 1: grayscale; 3: RGB planes */
};
/* A source over uint8 images (N, size, size), mapped to [-1, 1] as ng_images_u8_to_tensor. */
ng_image_source ng_image_source_u8(const unsigned char *pixels, int64_t n, int size);
/* The same over (N, channels, size, size) channel planes (ng_image_set's layout). */
ng_image_source ng_image_source_u8_planes(const unsigned char *pixels, int64_t n, int channels, int size);

/* "fmnist_cnn/fc1_relu128/crc32=XXXXXXXX": the layer and a CRC-32 of every weight and
   running statistic, so statistics from another training run are refused. cap >= 64. */
void ng_fmnist_cnn_identity(const ng_fmnist_cnn *net, char *buf, size_t cap);
/* Features (N, 128) and/or logits (N, 10) (either may be NULL) of every image of src, in
   batches of `batch` (<= 0: 256), in eval mode with no tape (BN running statistics, no
   dropout), in a context of its own. */
ng_status ng_fmnist_cnn_embed(ng_fmnist_cnn *net, const ng_image_source *src, int batch, float *features,
                              float *logits);
/* Statistics of src's features, tagged with the network's identity (e.g. of the real data,
   computed once and saved with ng_feat_stats_save). */
ng_status ng_fmnist_stats(ng_fmnist_cnn *net, const ng_image_source *src, int batch, ng_feat_stats *out);

typedef struct ng_eval_opts {
    int batch;              /* CNN batch (<= 0: 256) */
    int kid_subsets;        /* <= 0: 100 */
    int kid_subset_size;    /* <= 0: 1000, clipped to the smaller sample */
    int is_splits;          /* <= 0: 10 */
    int is_shuffle;         /* 1: permute before splitting (torch-fidelity), 0: in order */
    uint64_t seed;          /* RNG of the KID subsets and the IS permutation */
    int prc_k;              /* precision/recall neighbours: 0 = 3, < 0 = off */
} ng_eval_opts;
typedef struct ng_eval_result {
    int64_t n;              /* generated images evaluated */
    int64_t n_real;         /* N of the real statistics */
    double fid;
    int has_kid;            /* 1 when real features were given */
    double kid_mean, kid_std;
    double is_mean, is_std;
    int has_prc;            /* 1 when precision/recall were computed */
    double precision, recall;
} ng_eval_result;
/* FID of gen against `real` (statistics of real images from this network; refused with
   NG_ERR_MISMATCH if their identity differs), KID and precision/recall against real_features
   (n_real, 128) when not NULL, and the IS analogue of gen's class probabilities. opts NULL:
   defaults. Precision/recall is skipped (has_prc = 0) when opts->prc_k < 0 or either side has
   no more than k rows. */
ng_status ng_fmnist_evaluate(ng_fmnist_cnn *net, const ng_image_source *gen, const ng_feat_stats *real,
                             const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                             ng_eval_result *out);

/* ---- src/npz.h ---- */
/* ======================================================================================== */
/* @@NPZ  numpy .npy / .npz arrays; pytorch-fid / TTUR feature statistics                   */
/* ======================================================================================== */
/* Reads and writes numpy's array files, so that FID statistics move between nasgan and the
   Python tools: pytorch-fid's `--save-stats` and TTUR's precomputed `fid_stats_*.npz` hold the
   keys `mu` (D) and `sigma` (D, D).

   .npy: "\x93NUMPY", format version 1.0, 2.0 or 3.0, a Python dict literal header with exactly
   the keys 'descr', 'fortran_order' and 'shape', then the data. Read: float32 and float64 in
   either byte order ('<f4' '>f4' '<f8' '>f8'), C or Fortran order, up to NG_NPY_MAX_DIMS dims;
   values are returned as doubles in C order. The data must be exactly as long as the shape
   says.
   .npz: a ZIP archive of .npy members (np.savez: stored; np.savez_compressed: deflate), ZIP64
   records included (numpy writes them). Members are found through the central directory; each
   one's CRC-32 is checked. Encrypted or otherwise compressed members are refused.
   Written: format 1.0, '<f8', C order, header padded to 64 bytes as numpy does; stored members
   with fixed timestamps (the same arrays give the same bytes), written atomically. */

#define NG_NPY_MAX_DIMS 8
#ifndef NG_NPZ_MAX_BYTES
#define NG_NPZ_MAX_BYTES ((size_t)0x7fffffff)   /* largest .npz file, and member, read */
#endif

typedef struct ng_npy {
    int ndim;
    int64_t shape[NG_NPY_MAX_DIMS];
    int64_t count;          /* product of the shape (1 for a 0-d array) */
    double *data;           /* (count), C order */
} ng_npy;

/* One .npy file held in memory. `name` only labels errors. On failure *out is zeroed. */
ng_status ng_npy_parse(const unsigned char *buf, size_t n, const char *name, ng_npy *out);
/* The member `key` ("mu" or "mu.npy") of a .npz archive held in memory / in a file. A missing
   key is NG_ERR_FORMAT naming the keys present. */
ng_status ng_npz_parse_member(const unsigned char *buf, size_t n, const char *name, const char *key, ng_npy *out);
ng_status ng_npz_load_member(const char *path, const char *key, ng_npy *out);
void ng_npy_free(ng_npy *a);

/* An .npz archive of `count` float64 arrays named keys[i] (".npy" is appended), atomically. */
ng_status ng_npz_save(const char *path, int count, const char *const *keys, const ng_npy *arrays);

/* Statistics as pytorch-fid / TTUR store them: `mu` (D) and `sigma` (D, D) (np.cov's N-1
   covariance). Saving writes float64. Loading accepts float32 or float64, needs D = expect_d
   unless expect_d is 0, finite values, and uses sigma's lower triangle (mirrored, as the FID
   reads only that). Such files carry neither N nor the feature network: the statistics get
   n = 0 ("unknown") and the identity `net_id` that the caller vouches for, so
   ng_metric_fid accepts them against features of that network. */
ng_status ng_feat_stats_save_npz(const ng_feat_stats *s, const char *path);
ng_status ng_feat_stats_load_npz(ng_feat_stats *s, const char *path, const char *net_id, int64_t expect_d);

/* ---- src/inception.h ---- */
/* ======================================================================================== */
/* @@INCEPTION  the FID Inception-v3 feature network (inference only, weights from a file)  */
/* ======================================================================================== */
/* The Inception-v3 variant that FID, KID and IS on CIFAR-10/STL-10 are conventionally computed
   with (the TF-FID "2015-12-05" graph as ported by pytorch-fid): a forward-only network with
   no tape, so that users who bring those weights get numbers comparable to papers.

   Architecture (torchvision's Inception-v3 layout and tensor names, with the FID changes):
     input     (N, 3, H, W) in [-1, 1] (grayscale inputs are replicated to 3 channels),
               resized to 299x299 with bilinear interpolation, align_corners = False (no
               antialiasing), as F.interpolate does
     stem      Conv2d_1a_3x3 (s2), Conv2d_2a_3x3, Conv2d_2b_3x3 (p1), max-pool 3/2,
               Conv2d_3b_1x1, Conv2d_4a_3x3, max-pool 3/2
     blocks    Mixed_5b/5c/5d (A), Mixed_6a (B), Mixed_6b..6e (C), Mixed_7a (D),
               Mixed_7b (E_1), Mixed_7c (E_2)
     pool3     global average pool of Mixed_7c: 2048 features
     logits    fc: 2048 -> 1008 (the TF graph's 1008 classes; IS uses all of them)
   Every convolution is "BasicConv2d": conv (no bias) + batch norm (eps 1e-3, running
   statistics) + ReLU; the batch norm is folded into the convolution at load time. The pool
   branches of A, C and E_1 average 3x3 windows (stride 1, padding 1) over the valid pixels
   only (count_include_pad = False); E_2's pool branch is a 3x3 max-pool (stride 1, pad 1).

   WEIGHT FILE: a nasgan checkpoint (format in @@IO) with two records:
     "inception/format"      NG_CKPT_RAW, 8 bytes: "NGIN", u32 version (1)
     "params/inception_fid"  NG_CKPT_PARAMS: every tensor of the network by its PyTorch name
                             (Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.weight, .bn.bias,
                             .bn.running_mean, .bn.running_var, ..., fc.weight, fc.bias), in
                             any order (scripts/convert_inception.py writes the order of
                             ng_inception_tensor_info)
   so the checkpoint layer checks magic, version, CRC-32 and framing. The loader then refuses,
   naming the file and the tensor: a missing, duplicated, unknown or misshaped tensor, a
   non-finite value and a negative running variance. scripts/convert_inception.py converts
   pytorch-fid's pt_inception-2015-12-05-6726825d.pth (see docs/metrics.md).

   Cost: about 5.7 GFLOP per image, nearly all of it in SGEMM (im2col + @@GEMM, activations
   kept channel-major across the batch so 1x1 convolutions need no im2col). Weights take
   95 MB; the forward about 20 MB per image of the batch plus an 8 MB im2col tile (peak RSS
   416 MB at batch 16, weights included; loading peaks at twice the weights). */

#define NG_INCEPTION_FEATURES 2048      /* pool3 */
#define NG_INCEPTION_CLASSES 1008       /* logits */
#define NG_INCEPTION_SIZE 299           /* network input size */
#define NG_INCEPTION_FORMAT_VERSION 1u
#define NG_INCEPTION_GROUP "inception_fid"   /* parameter record: "params/inception_fid" */

typedef struct ng_inception ng_inception;

/* Load a weight file / parse one held in memory (`name` is used in messages). The loaded
   network holds only the folded weights. */
ng_status ng_inception_load(const char *path, ng_inception **out);
ng_status ng_inception_parse(const unsigned char *buf, size_t n, const char *name, ng_inception **out);
void ng_inception_free(ng_inception *net);
/* A network with random weights from `seed` (He-uniform convolutions, batch norms near the
   identity, a small fc layer), built in memory: for speed tests and device parity checks,
   where only the shapes matter. Its features mean nothing. ng_inception_random_params fills
   a group laid out by ng_inception_params_layout and allocated with the same values (to
   write such a weight file with ng_inception_save_params). */
ng_status ng_inception_random(uint64_t seed, ng_inception **out);
void ng_inception_random_params(ng_params *g, uint64_t seed);

/* "inception_fid/pool3_2048/crc32=XXXXXXXX": a CRC-32 of every tensor of the file in the order
   of ng_inception_tensor_info (independent of the file's order), so that statistics computed
   with other weights are refused; "/tf1" is appended under NG_INCEPTION_TF1 (below), so that
   they are not mixed across preprocessings either. cap >= 64. */
void ng_inception_identity(const ng_inception *net, char *buf, size_t cap);

/* How images become the network's 299x299 input:
     NG_INCEPTION_PYTORCH_FID (default)  pytorch-fid's: bilinear resize with align_corners =
         False (source x = (i + 0.5) in / 299 - 0.5, F.interpolate) of the [-1, 1] image.
     NG_INCEPTION_TF1  the TF1 graph's, as TTUR's FID and AlphaGAN/AutoGAN's evaluation code
         compute it and torch-fidelity reproduces it: the [-1, 1] image back in [0, 255]
         (u = 127.5 (x + 1), taken as the integer when within 1e-3 of one, so a uint8 image's
         bytes come back exactly), tf.image.resize_bilinear with align_corners = False and no
         half pixel (source x = i * (in / 299) in float32, each lerp rounded in float32 as TF,
         never fused into a multiply-add), then (r - 128) / 128. For FIDs comparable with TF-evaluated papers; the two differ by
         small amounts (the resize shifts CIFAR images by about half an input pixel).
   The mode is part of the identity; set it before computing statistics. */
enum { NG_INCEPTION_PYTORCH_FID = 0, NG_INCEPTION_TF1 = 1 };
ng_status ng_inception_set_preprocess(ng_inception *net, int mode);
int ng_inception_preprocess_mode(const ng_inception *net);
/* The network input of n images (n, channels, h, w) in [-1, 1]: (3, n, 299, 299), channel-
   major across the batch as the network keeps its activations (grayscale replicated), on
   the CPU, in the given mode. */
void ng_inception_preprocess(int mode, const float *x, int n, int channels, int h, int w, float *out);

/* The file's tensors: count, and the name (truncated to cap - 1 bytes; 64 always suffice)
   and shape of tensor i (NG_ERR_ARG out of range). */
int ng_inception_tensor_count(void);
ng_status ng_inception_tensor_info(int i, char *name, size_t cap, ng_shape *shape);
/* Writing weight files from C (tests, or weights trained elsewhere): add every tensor, in
   ng_inception_tensor_info's order, to an empty group created with
   ng_params_create(NG_INCEPTION_GROUP, 0); allocate and fill it; then serialise or save it
   with the format record. */
ng_status ng_inception_params_layout(ng_params *g);
ng_status ng_inception_serialize_params(const ng_params *g, unsigned char **out, size_t *n);
ng_status ng_inception_save_params(const ng_params *g, const char *path);

/* Where the forwards below run: NG_CUDA uploads the folded weights once (ng_cuda_init first;
   95 MB of device memory) and runs every layer on the GPU, with activations in device memory
   taken in each call's first batch and given back at its end, about 36 MB per image of the
   batch plus a 128 MB im2col tile. It uses exact FP32 products whatever ng_cuda_set_tf32 says, so FID does
   not depend on it. NG_CPU (the default) frees the device copy. Inputs and outputs stay host
   arrays either way. */
ng_status ng_inception_to_device(ng_inception *net, ng_device device);
ng_device ng_inception_device(const ng_inception *net);

/* pool3 features (n, 2048) and/or logits (n, 1008) (either may be NULL) of n images x
   (n, channels, h, w) in [-1, 1], channels 1 or 3, 1 <= h, w <= 4096, in batches of `batch`
   (<= 0: 16 on the CPU, 100 on the GPU). Threads with OpenMP (inside SGEMM and the
   im2col/pool loops). NG_ERR_ARG for non-finite pixels. */
ng_status ng_inception_forward(const ng_inception *net, const float *x, int64_t n, int channels, int h, int w,
                               int batch, float *pool3, float *logits);
/* The same for an image source of 1 or 3 channels (ng_image_source.channels) of any size. */
ng_status ng_inception_embed(const ng_inception *net, const ng_image_source *src, int batch, float *pool3,
                             float *logits);
/* torch-fidelity's "logits_unbiased", pool3 W^T without fc's bias (n, 1008) (host arrays):
   what the TF reference code's Inception Score uses (logits = matmul(pool3, w)), and what
   ng_inception_evaluate's IS is computed from. */
void ng_inception_logits_unbiased(const ng_inception *net, const float *pool3, int64_t n, float *out);
/* Statistics of src's pool3 features tagged with ng_inception_identity (N >= 2). */
ng_status ng_inception_stats(const ng_inception *net, const ng_image_source *src, int batch, ng_feat_stats *out);
/* FID of gen against `real` (refused with NG_ERR_MISMATCH unless computed with this network),
   KID and precision/recall against real_features (n_real_features, 2048) when not NULL, and
   IS from the 1008 unbiased logits (ng_inception_logits_unbiased); options and result as
   ng_fmnist_evaluate (opts->batch <= 0: as above). */
ng_status ng_inception_evaluate(const ng_inception *net, const ng_image_source *gen, const ng_feat_stats *real,
                                const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                                ng_eval_result *out);

/* ---- src/bilevel.h ---- */
/* ======================================================================================== */
/* @@BILEVEL  alphaGAN's alternating minimax search (weights / worst case / architecture)    */
/* ======================================================================================== */
/* One network of the search, seen through its parameter groups and its forward.
   G maps a latent batch (N, latent) to images; D maps images to scores (N, 1). */
typedef struct ng_gan_net {
    void *net;
    ng_params *weights;   /* trainable weights */
    ng_params *buffers;   /* BN running statistics, SN u/v (may be NULL) */
    ng_params *alpha;     /* architecture parameters (NULL for D) */
    ng_tensor *(*forward)(ng_ctx *ctx, void *net, ng_tensor *in);
} ng_gan_net;

/* Step counts and optimiser settings of alphaGAN's search (spec sections 3.3-3.5). */
typedef struct ng_bilevel_config {
    int batch;                 /* 64: real and latent batch of every step */
    int latent_dim;            /* 128 */
    int n_critic;              /* 5: one G step when the global D-step counter % n_critic == 0 */
    int inner_steps;           /* D steps per epoch = min(inner_steps + 2, batches per pass) */
    int worst_steps;           /* D_worst and G_worst steps = min(worst_steps + 2, batches per pass) */
    int arch_steps;            /* 20 alpha steps per epoch */
    int epochs;                /* epochs 1..epochs (the reference runs 99) */
    float lr_g, lr_d;          /* 2e-4, Adam betas (beta1, beta2) = (0.0, 0.9) */
    float beta1, beta2;
    float lr_worst_early, lr_worst_late; /* 2e-4 up to epoch worst_lr_switch, then 1e-4 */
    int worst_lr_switch;       /* 30 */
    float lr_alpha, alpha_beta1, alpha_beta2, alpha_weight_decay; /* 3e-4, 0.5, 0.999, 1e-3 */
    /* Reference quirk (off by default): the supernet G's lr follows CosineAnnealingLR with
       eta_min 1e-3 > base 2e-4 over 100 epochs, so it RISES to ~1e-3. */
    int g_lr_rising_cosine;
} ng_bilevel_config;

/* "paper-s" (alphaGAN(s): inner/worst 20), "paper-l" (alphaGAN(l): 390, a full split),
   "quick" (a CPU-sized run: batch 32, inner/worst 10, 10 arch steps, 10 epochs, and alpha's lr
   5e-3 instead of 3e-4 so that 100 alpha steps can move alpha about as far as alphaGAN(s)'s
   1,980 do).
   Returns 0 on success, -1 for an unknown name. */
int ng_bilevel_preset(const char *name, ng_bilevel_config *cfg);

/* Source of real images: a (batch, C, H, W) tensor in the step arena from split 0 (train:
   weight steps) or 1 (validation: worst-case and architecture steps). */
typedef ng_tensor *(*ng_real_batch_fn)(ng_ctx *ctx, void *user, int split, int batch);

typedef struct ng_bilevel_losses {
    float d_loss, g_loss;            /* last weight-step hinge losses */
    float d_worst_loss, g_worst_loss;
    float minmax, maxmin, gap;       /* last architecture step: gap = minmax - maxmin */
} ng_bilevel_losses;

typedef struct ng_bilevel {
    ng_bilevel_config cfg;
    ng_gan_net g, d, g_worst, d_worst;  /* the *_worst nets are rebuilt from g, d every epoch */
    ng_adam opt_g, opt_d, opt_alpha;    /* persistent */
    ng_adam opt_g_worst, opt_d_worst;   /* fresh every epoch */
    ng_ctx *ctx;                        /* step arena; ctx->rng drives Gumbel noise / dropout */
    ng_rng rng;                         /* latent vectors */
    ng_real_batch_fn real_batch;
    void *data;
    int64_t batches_per_pass;           /* of each split, for the step counts */
    int64_t epoch;                      /* epochs completed */
    int64_t global_step;                /* D steps taken */
    ng_bilevel_losses last;
} ng_bilevel;

ng_status ng_bilevel_init(ng_bilevel *b, const ng_bilevel_config *cfg, ng_gan_net g, ng_gan_net d,
                          ng_gan_net g_worst, ng_gan_net d_worst, ng_ctx *ctx, uint64_t seed,
                          ng_real_batch_fn real_batch, void *data, int64_t batches_per_pass);
void ng_bilevel_free(ng_bilevel *b);

/* The pieces of an epoch, exposed for tests and custom loops. Each resets the step arena. */
ng_status ng_bilevel_d_step(ng_bilevel *b);          /* hinge D step on a train batch */
ng_status ng_bilevel_g_step(ng_bilevel *b);          /* -mean D(G(z)) step of G's weights */
ng_status ng_bilevel_find_worst(ng_bilevel *b);      /* copy G, D; fresh Adam; worst-case steps */
/* Duality gap on a validation batch; leaves d gap / d alpha in g.alpha->grad (accumulated). */
ng_status ng_bilevel_gap_grad(ng_bilevel *b);
ng_status ng_bilevel_arch_step(ng_bilevel *b);       /* gap_grad, Adam on alpha, zero grads */

/* The steps epoch b->epoch + 1 will take: D steps, the G steps among them (every D step whose
   global index % n_critic == 0 is followed by one), D_worst steps (as many G_worst steps) and
   architecture steps. For progress bars and ETAs. */
void ng_bilevel_epoch_plan(const ng_bilevel *b, int64_t *d_steps, int64_t *g_steps, int64_t *worst_steps,
                           int64_t *arch_steps);

/* Called after every step: phase is "D", "G", "D_worst", "G_worst" or "alpha". */
typedef void (*ng_bilevel_progress)(const ng_bilevel *b, const char *phase, int64_t step, int64_t total, void *user);
/* One epoch (number b->epoch + 1): weight steps, worst case, architecture steps. */
ng_status ng_bilevel_epoch(ng_bilevel *b, ng_bilevel_progress progress, void *user);

/* Whole search state (weights, buffers, alpha, the three persistent Adams, both RNGs, epoch and
   step counters) into / out of a checkpoint, at epoch boundaries. */
ng_status ng_bilevel_put(ng_ckpt *ck, const ng_bilevel *b);
ng_status ng_bilevel_get(const ng_ckpt *ck, ng_bilevel *b);

/* ---- src/gan_train.h ---- */
/* ======================================================================================== */
/* @@GANTRAIN  alphaGAN nets as ng_gan_net, retraining a derived generator, sampling        */
/* ======================================================================================== */
/* The search supernet, a fixed generator and the discriminator seen as ng_gan_net (the view
   ng_bilevel_* and ng_gan_trainer_* work on). The structs stay owned by the caller. */
ng_gan_net ng_gan_net_search(ng_gan_gen_search *G);
ng_gan_net ng_gan_net_fixed(ng_gan_gen_fixed *G);
ng_gan_net ng_gan_net_disc(ng_gan_disc *D);

/* Retraining of a derived genotype, alphagan.md section 4 (train_geno_gan.py):
     each step: one hinge D step on d_batch real images and d_batch fakes; when the global D
     step counter % n_critic == 0 (step 0 included) one G step on g_batch latents
     (L = -mean D(G(z))) followed by the EMA update avg = d avg + (1 - d) w over G's
     trainable parameters (running statistics are not averaged).
   Adam for both nets with lr 2e-4 and betas (0.0, 0.9) on CIFAR-10, (0.5, 0.9) on STL-10;
   the learning rate is constant (the reference never passes --lr_decay); Xavier init comes
   from ng_gan_gen_fixed_create / ng_gan_disc_create with NG_GAN_INIT_XAVIER. */
typedef struct ng_gan_train_config {
    int d_batch;            /* 64: real and fake images per D step (also the loader batch) */
    int g_batch;            /* 128: latents per G step */
    int latent_dim;         /* 128 */
    int n_critic;           /* 5 */
    float lr_g, lr_d;       /* 2e-4 */
    float beta1, beta2;     /* (0.0, 0.9) CIFAR-10 and Fashion-MNIST; (0.5, 0.9) STL-10 */
    float ema_decay;        /* 0.999 */
    int64_t max_g_steps;    /* 50,000 (CIFAR-10), 80,000 (STL-10): the reference's max_iter */
} ng_gan_train_config;
/* "cifar10", "stl10", "fashion_mnist" (CIFAR-10's settings). NG_ERR_ARG for other names. */
ng_status ng_gan_train_preset(const char *dataset, ng_gan_train_config *cfg);

typedef struct ng_gan_trainer {
    ng_gan_train_config cfg;
    ng_gan_net g, d;
    ng_adam opt_g, opt_d;
    ng_ema ema;                 /* shadow of g.weights */
    ng_ctx *ctx;                /* step arena; its rng is saved with the state */
    ng_rng rng;                 /* latent vectors */
    ng_real_batch_fn real_batch;/* called with split 0 */
    void *data;
    int64_t d_steps, g_steps;   /* steps taken */
    float d_loss, g_loss;       /* last losses */
} ng_gan_trainer;

ng_status ng_gan_trainer_init(ng_gan_trainer *t, const ng_gan_train_config *cfg, ng_gan_net g, ng_gan_net d,
                              ng_ctx *ctx, uint64_t seed, ng_real_batch_fn real_batch, void *data);
void ng_gan_trainer_free(ng_gan_trainer *t);
/* One D step, plus the G step and EMA update on G's turn. */
ng_status ng_gan_trainer_step(ng_gan_trainer *t);
/* The whole state (weights, buffers, EMA shadow, both Adams, both RNGs, counters). */
ng_status ng_gan_trainer_put(ng_ckpt *ck, const ng_gan_trainer *t);
ng_status ng_gan_trainer_get(const ng_ckpt *ck, ng_gan_trainer *t);

/* n images of generator g as uint8 (n, C, H, W), quantised as the reference evaluates them:
   uint8(clamp(127.5 x + 127.5, 0, 255)) (truncation). Latents are drawn from an RNG seeded
   with `seed`, in batches of `batch`, in eval mode (BN running statistics) without a tape, in
   a context of its own. The image geometry is read from the first batch; *out is malloc'd
   (caller frees). */
ng_status ng_gan_generate_u8(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                             unsigned char **out, int *c, int *h, int *w);
/* The same as floats in [-1, 1] (n, C, H, W), into a caller buffer of n C H W floats whose
   geometry the caller knows (e.g. for sample grids). */
ng_status ng_gan_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed, float *out,
                          int64_t out_numel);
/* Real-image batches for ng_bilevel_* and ng_gan_trainer_* (an ng_real_batch_fn): shuffled
   passes over two index ranges of an image set, split 0 = [0, split_at) and split 1 =
   [split_at, n) (alphaGAN's search: the first half trains the weights, the second half is the
   validation split of the worst-case and architecture steps; by index, not shuffled, as the
   reference). Each split draws batches from a random permutation of its range and reshuffles
   when it is exhausted (SubsetRandomSampler); a pass's last short batch is topped up from the
   next pass. The permutations, cursors and RNG are saved with the state. */
typedef struct ng_image_sampler {
    const ng_image_set *set;
    ng_image_norm norm;
    int64_t begin[2], end[2];   /* split ranges (split 1 empty when split_at == n) */
    int32_t *perm[2];           /* current permutation of each range */
    int64_t cursor[2];          /* next position in perm */
    int64_t *idx;               /* scratch (capacity idx_cap) */
    int idx_cap;
    ng_rng rng;
} ng_image_sampler;
ng_status ng_image_sampler_init(ng_image_sampler *s, const ng_image_set *set, int64_t split_at, ng_image_norm norm,
                                uint64_t seed);
void ng_image_sampler_free(ng_image_sampler *s);
/* ng_real_batch_fn: `user` is the sampler. NULL (ctx status set) for an empty split. */
ng_tensor *ng_image_sampler_batch(ng_ctx *ctx, void *user, int split, int batch);
ng_status ng_image_sampler_put(ng_ckpt *ck, const char *key, const ng_image_sampler *s);
ng_status ng_image_sampler_get(const ng_ckpt *ck, const char *key, ng_image_sampler *s);
/* The image sets of alphaGAN's datasets, pixels (N, C, H, W) uint8:
     "fashion_mnist"  the 60,000 training images padded 28 -> 32 (1 channel); dir NULL: the
                      Debian package's NG_FMNIST_DIR (train-images-idx3-ubyte.gz)
     "cifar10"        the 50,000 training images (data_batch_1..5.bin in dir)
     "stl10"          train + unlabeled (105,000) resized 96 -> 48 with PIL's bilinear filter
   Errors name the file and what was wrong. */
ng_status ng_gan_dataset_load(const char *dataset, const char *dir, ng_image_set *out);

/* ---- src/textnas.h ---- */
/* ======================================================================================== */
/* @@TEXTNAS  the TextNAS text-representation search space                                  */
/* ======================================================================================== */
/* docs: /work/shared/docs/textnas.md section 1. One architecture = per layer i (0-based):
     input[i]  the layer whose output layer i reads: -1 for layer 0 (init_conv's output),
               else one of [max(0, i - 5), i - 1]
     op[i]     0..7 in the spec's index order (NG_TEXTNAS_CONV1 ... NG_TEXTNAS_ATTENTION)
     skip[i]   bit j set (j < i): layer j's output is summed in (any subset of 0..i-1) */
#define NG_TEXTNAS_MAX_LAYERS 32
#define NG_TEXTNAS_N_OPS 8
#define NG_TEXTNAS_CHOOSE_FROM 5
enum { NG_TEXTNAS_CONV1 = 0, NG_TEXTNAS_CONV3, NG_TEXTNAS_CONV5, NG_TEXTNAS_CONV7,
       NG_TEXTNAS_AVG_POOL, NG_TEXTNAS_MAX_POOL, NG_TEXTNAS_RNN, NG_TEXTNAS_ATTENTION };

typedef struct ng_textnas_arch {
    int n_layers;                            /* 24 in TextNAS; 1..NG_TEXTNAS_MAX_LAYERS */
    int input[NG_TEXTNAS_MAX_LAYERS];
    int op[NG_TEXTNAS_MAX_LAYERS];
    uint32_t skip[NG_TEXTNAS_MAX_LAYERS];
} ng_textnas_arch;

const char *ng_textnas_op_name(int op);      /* "conv1" ... "attention"; "?" out of range */
int ng_textnas_op_index(const char *name);   /* -1 if unknown */
/* Candidates of layer i's input choice: [ng_textnas_input_first(i, k), i - 1] (k = choose_from). */
int ng_textnas_input_first(int layer, int choose_from);
/* NG_ERR_ARG naming the layer and field when `a` is not an architecture of the space with
   input choice among the last `choose_from` layers. */
ng_status ng_textnas_arch_check(const ng_textnas_arch *a, int choose_from);
/* The paper's discovered architecture (textnas.md 5.3, NNI arc/final_arc.json): 24 layers. */
void ng_textnas_arch_published(ng_textnas_arch *a);
/* A uniformly random architecture: op and input uniform, each skip with probability p_skip
   (0.4 = the controller's skip target). */
void ng_textnas_arch_random(ng_textnas_arch *a, int n_layers, int choose_from, double p_skip, ng_rng *r);
/* The simple baseline of the results table, in the space's own terms: 2 layers, conv k=3 then
   max pool k=3 on it, no skips. */
void ng_textnas_arch_baseline(ng_textnas_arch *a);
int ng_textnas_arch_eq(const ng_textnas_arch *a, const ng_textnas_arch *b);
int ng_textnas_arch_n_skips(const ng_textnas_arch *a);
/* Layers whose op has no weights (the two pools): many of them in a searched architecture is
   the collapse that differentiable searches are known for (docs/ecosystem.md 4(a)). */
int ng_textnas_arch_n_param_free(const ng_textnas_arch *a);
/* 1 for the parameter-free ops (avg and max pool) */
int ng_textnas_op_is_param_free(int op);

/* ARCHITECTURE JSON: NNI's final_arc.json layout, so published architectures load as they
   are. Keys come from NNI's global mutable counter in creation order: layer 0 is
   "LayerChoice1" (the op); layer i >= 1 has "InputChoice<3i-1>" (its input, one true among the
   min(i, 5) candidates oldest first), "LayerChoice<3i>" (its op, 8 booleans in the op order
   above) and "InputChoice<3i+1>" (its skips, i booleans for layers 0..i-1). An n-layer
   architecture has 3n - 2 keys. The reader is strict (exact key set, array lengths, one true
   in every single choice, no duplicates, nothing after the object) and names the file, line
   and column of what is wrong. choose_from: the input-choice width the file was written for (5). */
ng_status ng_textnas_arch_to_json(const ng_textnas_arch *a, char **out, size_t *n);
ng_status ng_textnas_arch_save(const ng_textnas_arch *a, const char *path);   /* atomic */
ng_status ng_textnas_arch_parse(const char *text, size_t n, const char *name, int choose_from, ng_textnas_arch *out);
ng_status ng_textnas_arch_load(const char *path, int choose_from, ng_textnas_arch *out);
/* Graphviz DOT of the architecture (layers as boxes labelled with their op, solid input edges,
   dashed skip edges, all layers into the output). *out malloc'd. */
ng_status ng_textnas_arch_to_dot(const ng_textnas_arch *a, const char *title, char **out, size_t *n);
/* The same picture as a standalone SVG, layers top to bottom (no graphviz needed). */
ng_status ng_textnas_arch_to_svg(const ng_textnas_arch *a, const char *title, char **out, size_t *n);

/* ---- the network: one struct for the weight-sharing supernet and for a fixed child ----
   Tensors are channel-last (N, L, H) (ops_seq). Per layer (textnas.md 1.3-1.5, NNI):
     conv k  : conv1d(k, bias) -> mask -> BN -> mask -> ReLU -> dropout(p_cnn)
     avg/max : pool k=3 stride 1 (count_include_pad; -inf border) -> mask
     rnn     : GRU forward + GRU backward over true lengths (summed) -> dropout(p_rnn)
     attention: Q, K, V = ReLU(Linear(x)) -> 4-head masked attention (dropout p_att on the
                probabilities) -> mask -> BN -> mask
     layer   : op(input) + sum of skip layers -> BN -> mask (bn_always = 0: BN only when the
               layer has skips, as the authors' release)
   Input: embedding (V, E) -> dropout(p_embed) -> ConvBN(k=1, E -> H) as above. Output:
   LinearCombine (softmax of n_layers scalars, init 1/n) over all layer outputs -> masked mean
   over tokens -> Linear(H -> classes). */
typedef struct ng_textnas_hp {
    int n_layers;           /* 24 (1..31) */
    int hidden;             /* H: 256 (retraining and NNI search; the authors' search: 32) */
    int embed_dim;          /* E: 300 (GloVe) */
    int64_t vocab;          /* V, including <pad> and <unk> */
    int n_classes;
    int choose_from;        /* 5 */
    int heads;              /* 4 */
    float p_embed, p_cnn, p_rnn, p_att;  /* dropout: 0.2 retraining, 0.5 NNI search */
    int bn_always;          /* 1 (NNI) */
    float bn_momentum, bn_eps;           /* 0.1, 1e-5 */
    int xavier;             /* 1: Xavier-uniform conv/linear weights (retraining); 0: PyTorch
                               default kaiming-uniform (NNI search) */
} ng_textnas_hp;
/* Retraining defaults (textnas.md section 4) for a vocabulary and class count. */
void ng_textnas_hp_default(ng_textnas_hp *hp, int64_t vocab, int n_classes);
ng_status ng_textnas_hp_check(const ng_textnas_hp *hp);

typedef struct ng_textnas_op_w {
    ng_tensor *w, *b;                       /* conv1d (H, Cin, k), (H) */
    ng_tensor *bn_g, *bn_b, *bn_mean, *bn_var; /* conv and attention BN */
    ng_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* attention (H, H), (H) */
    ng_tensor *w_ih[2], *w_hh[2], *b_ih[2], *b_hh[2]; /* GRU forward [0] and backward [1] */
} ng_textnas_op_w;
typedef struct ng_textnas_layer_w {
    ng_textnas_op_w op[NG_TEXTNAS_N_OPS];   /* tensors NULL for ops a fixed net does not have */
    ng_tensor *bn_g, *bn_b, *bn_mean, *bn_var;  /* the layer's BN (NULL when not built) */
} ng_textnas_layer_w;

typedef struct ng_textnas_net {
    ng_textnas_hp hp;
    int fixed;              /* 1: built for `arch` only; 0: the supernet (every op of every layer) */
    ng_textnas_arch arch;
    ng_params *embed;       /* "textnas.embed": the (V, E) table, trainable */
    ng_params *weights;     /* "textnas": every other trainable tensor */
    ng_params *buffers;     /* "textnas.stats": BN running statistics */
    ng_tensor *emb;
    ng_textnas_op_w init;   /* init_conv: a ConvBN with kernel 1 */
    ng_textnas_layer_w layer[NG_TEXTNAS_MAX_LAYERS];
    ng_tensor *combine;     /* (n_layers) LinearCombine scalars */
    ng_tensor *fc_w, *fc_b; /* (C, H), (C) */
} ng_textnas_net;

/* arch NULL: the supernet; otherwise a fixed net with only that architecture's ops. The
   embedding is U[-0.25, 0.25) with row 0 (<pad>) = 0; load pretrained rows into net->emb. */
ng_status ng_textnas_net_init(ng_textnas_net *net, const ng_textnas_hp *hp, const ng_textnas_arch *arch,
                              uint64_t seed);
void ng_textnas_net_free(ng_textnas_net *net);
/* Trainable parameters outside the embedding (textnas.md 1.8: 6,140,186 for the published
   architecture, 2 classes, H = 256). */
int64_t ng_textnas_net_count(const ng_textnas_net *net);

/* One batch of encoded texts: ids (n, len), true lengths (n) in [0, len], labels (n) or NULL. */
typedef struct ng_text_batch {
    const int32_t *ids, *lengths, *labels;
    int64_t n;
    int len;
} ng_text_batch;
/* Logits (N, C) of architecture `arch` (a fixed net: NULL or its own arch). Training mode,
   dropout and BN statistics follow ng_ctx_set_training. *layers (may be NULL) receives the
   n_layers layer outputs (N, L, H) (for tests and inspection). */
ng_tensor *ng_textnas_forward(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_text_batch *b, ng_tensor **layers);

/* ---- differentiable search on the same space (beyond the paper) ----
   Architecture parameters, one group "textnas.alpha":
     "op"     (n_layers, 8): per layer, the op mixture softmax(op[i, :]) over all 8 ops;
     "in.<i>" (min(i, choose_from)) for i >= 1: the input mixture over the candidates;
     "skip"   (n_layers (n_layers - 1) / 2, 2): pair (i, j) at row i (i - 1) / 2 + j holds
              [off, on] logits; layer j is added with weight softmax(pair)[on] = sigmoid(on - off)
              (the controller's [-q, +q] pair, relaxed).
   All zero at init: uniform mixtures and skip weights 0.5. */
typedef struct ng_textnas_alpha {
    int n_layers, choose_from;
    ng_params *params;
    ng_tensor *op, *skip;
    ng_tensor *in[NG_TEXTNAS_MAX_LAYERS];   /* in[0] NULL */
    uint32_t op_mask;   /* ops in the mixtures (bit k: op k); 0 (init) = all 8. The others are
                           left out of the forward, their logits count as -1e30 (weight 0, no
                           gradient) and derive never picks them. Beyond the paper: a guard
                           against searches that settle on parameter-free pools. */
    float pf_dropout;   /* dropout on the pools' outputs inside the mixtures, in training mode (weight
                           and architecture steps); 0 (init) = none. Beyond the paper: P-DARTS's
                           op-level dropout on parameter-free ops, so that ops which help before any
                           weight is trained do not take the mixtures early. */
} ng_textnas_alpha;
ng_status ng_textnas_alpha_init(ng_textnas_alpha *a, int n_layers, int choose_from);
void ng_textnas_alpha_free(ng_textnas_alpha *a);
/* argmax op (among op_mask), argmax input (first on ties), skips with weight > 0.5. */
void ng_textnas_alpha_derive(const ng_textnas_alpha *a, ng_textnas_arch *out);
/* Mean over layers of the op mixture's entropy divided by ln(number of ops in op_mask): 1
   while the mixtures are uniform, towards 0 as each layer settles on one op (0 with a single
   op; NaN if alpha cannot be read). */
double ng_textnas_alpha_op_entropy(const ng_textnas_alpha *a);
/* Logits of the supernet with every choice relaxed: layer i = BN(mask(sum_k w_k op_k(x_i)) +
   sum_j s_ij layer_j), x_i = sum_c u_c layer_c over the input candidates. */
ng_tensor *ng_textnas_forward_mixed(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_alpha *alpha,
                                    const ng_text_batch *b);

/* ---- src/textnas_ctrl.h ---- */
/* ======================================================================================== */
/* @@TEXTNAS_CTRL  the TextNAS search controller (ENAS LSTM + REINFORCE, NNI's release)      */
/* ======================================================================================== */
/* docs: /work/shared/docs/textnas.md section 3.1 ("Variant A").

   WHICH CONTROLLER. The spec documents two controllers. This part implements Variant A, the
   one in the published NNI release of TextNAS (examples/nas/legacy/textnas/search.py driving
   NNI's EnasMutator / EnasTrainer): it is the public, maintained search code, and it takes
   ONE LSTM step per layer. Variant B (the authors' standalone microsoft/TextNAS, section 3.2)
   differs in: three LSTM steps per layer (input, op, skip); a fixed classifier w_layer over
   "distance back" for the input choice instead of attention; op/layer embeddings that are
   really fed back; tanh_constant 1.5; skip penalty averaged (not summed) over layers; all
   parameters U(-0.1, 0.1); Adam lr 1e-3, eps 1e-3, weight decay 1e-3; 20 controller steps
   per epoch with the whole test set as reward. tanh_constant, temperature, Adam's eps and
   weight decay are settings here, the rest of Variant B is not provided.

   SAMPLING (exactly NNI's order; h = c = 0 and inp = g_emb at the start):
     layer 0 : (h, c) = LSTMCell(inp, (h, c)); logits = W_soft h; op_0 ~ softmax; anchor_0 = h
     layer i : prec: e_j = v . tanh(W_anchor anchor_j + W_query h) for the candidates
                     j = max(0, i - choose_from) .. i - 1 (oldest first); input_i ~ softmax(e);
                     inp = anchor_{input_i}                      (no LSTM step)
               op  : (h, c) = LSTMCell(inp, (h, c)); logits = W_soft h; op_i ~ softmax
               skip: q_j = v . tanh(W_anchor anchor_j + W_query h), j = 0 .. i - 1 (same h);
                     s_j ~ softmax([-q_j, +q_j]) (s_j = 1: layer j is summed in);
                     KL_j = sum_b sigmoid(l_b) log(sigmoid(l_b) / t_b) over the pair
                     l = (-q_j, q_j), t = (1 - skip_target, skip_target)
               anchor_i = h
   With a temperature T (> 0) logits become logits / T, with a tanh constant C (> 0) then
   C tanh(logits) (both "none" in NNI's TextNAS; e and q are transformed the same way).
   The op embedding and the skip average that NNI feeds back are overwritten by the next input
   choice before any LSTM step reads them, so they are not computed (NNI's 9x64 op embedding
   gets no gradient and is omitted). g_emb enters as NNI's `g_emb.data`: it gets NO gradient
   and so never moves under Adam; it is kept in the group only to be checkpointed. This is the
   FIXED NNI code (after issue #2839): the LSTM's hidden state h, not the cell state, is read.

   LOG-PROB, ENTROPY, SKIP PENALTY (entropy_reduction "mean", as TextNAS's search.py):
     log_prob     = sum over decisions of -log p(chosen); the skip decision of layer i adds
                    the MEAN over its i candidates of -log p(s_j);
     entropy      = sum over decisions of p(chosen) * (-log p(chosen)) (not the full entropy;
                    no gradient), skip decisions averaged over candidates likewise;
     skip_penalty = sum over layers of sum_j KL_j.
   Layer 0 has no input and no skip decision; layer 1's input choice has one candidate
   (log p = 0).

   CONTROLLER STEP (NNI EnasTrainer, ctrl_steps_aggregate 1):
     sample with gradient; reward = reward_fn(arch) (the child's accuracy);
     R = reward + entropy_weight * entropy;
     baseline = decay * baseline + (1 - decay) * R      (BEFORE the loss; starts at 0)
     loss = log_prob * (R - baseline) + skip_weight * skip_penalty;
     zero grads, backward, clip the global gradient norm to grad_clip, Adam step.
   R and the baseline are doubles (Python floats in NNI); R - baseline is rounded to float when
   it scales the float log-prob, as PyTorch does. Parameters that get no gradient in a step
   (g_emb always; the attention weights when n_layers = 1) see a zero gradient here, where
   PyTorch's Adam skips them (grad None): identical while weight_decay = 0 (Variant A), but with
   weight decay they would decay here and not in PyTorch.

   RANDOMNESS: every decision draws one ng_rng_uniform u from the caller's rng and takes the
   first index whose cumulative probability (double, from the float logits) exceeds u. */

#define NG_TEXTNAS_CTRL_MAX_LSTM 1024

typedef struct ng_textnas_ctrl_hp {
    int lstm_size;          /* 64 */
    int n_layers;           /* 24 (1..NG_TEXTNAS_MAX_LAYERS) */
    int choose_from;        /* 5: input candidates = the last choose_from layers */
    float skip_target;      /* 0.4: target probability of a skip (KL target (0.6, 0.4)) */
    float skip_weight;      /* 0.8 */
    double entropy_weight;  /* 1e-4 */
    double baseline_decay;  /* 0.99 */
    float lr;               /* 2e-3 (Adam) */
    float beta1, beta2;     /* 0.9, 0.999 (torch defaults) */
    float eps;              /* 1e-8 (torch default; Variant B: 1e-3) */
    float weight_decay;     /* 0 (Variant B: 1e-3) */
    float grad_clip;        /* 5.0: global L2 norm; <= 0 disables clipping */
    float tanh_constant;    /* 0 = none (NNI TextNAS); Variant B: 1.5 */
    float temperature;      /* 0 = none */
    uint32_t op_mask;       /* ops the controller may choose (bit k: op k); 0 = all 8. The others
                               get logit -1e30 (probability 0, no gradient). Beyond the paper:
                               a guard against searches that settle on parameter-free pools. */
} ng_textnas_ctrl_hp;

/* The spec's Variant A defaults (above). */
void ng_textnas_ctrl_hp_default(ng_textnas_ctrl_hp *hp);
/* NG_ERR_ARG naming the bad field. */
ng_status ng_textnas_ctrl_hp_check(const ng_textnas_ctrl_hp *hp);

/* Statistics of the last controller step. */
typedef struct ng_textnas_ctrl_stats {
    double reward;          /* reward_fn's value */
    double R;               /* reward + entropy_weight * entropy */
    double baseline;        /* after the update */
    double log_prob, entropy, skip_penalty, loss;
    double grad_norm;       /* before clipping */
} ng_textnas_ctrl_stats;

typedef struct ng_textnas_ctrl {
    ng_textnas_ctrl_hp hp;
    ng_params *params;      /* group "ctrl", in this order: */
    ng_tensor *w_ih;        /* lstm.weight_ih (4S, S), gate rows i, f, g, o; U(+-1/sqrt(S)) */
    ng_tensor *w_hh;        /* lstm.weight_hh (4S, S); U(+-1/sqrt(S)) */
    ng_tensor *w_soft;      /* soft.weight (8, S); U(+-1/sqrt(S)) */
    ng_tensor *w_anchor;    /* attn_anchor.weight (S, S) */
    ng_tensor *w_query;     /* attn_query.weight (S, S) */
    ng_tensor *v_attn;      /* v_attn.weight (1, S) */
    ng_tensor *g_emb;       /* g_emb (1, S) ~ N(0, 1) * 0.1; never receives a gradient */
    ng_adam adam;
    double baseline;        /* REINFORCE baseline, starts at 0 */
    int64_t steps;          /* controller steps taken */
    ng_textnas_ctrl_stats last;
    ng_ctx *nograd;         /* private context of the no-gradient sampler */
} ng_textnas_ctrl;

/* Arena bytes that one controller step (sample with gradient + backward) fits in, with room to
   spare (the step itself peaks at about 1.2 MB for 24 layers, lstm_size 64). */
size_t ng_textnas_ctrl_arena_bytes(const ng_textnas_ctrl_hp *hp);
/* hp NULL: defaults. seed drives the parameter initialisation only. */
ng_status ng_textnas_ctrl_init(ng_textnas_ctrl *c, const ng_textnas_ctrl_hp *hp, uint64_t seed);
void ng_textnas_ctrl_free(ng_textnas_ctrl *c);

/* Sample one architecture on ctx's tape. *log_prob, *entropy, *skip_penalty (any may be NULL)
   receive 0-d tensors in ctx's arena; log_prob and skip_penalty carry the graph to
   c->params when ctx differentiates that group (the caller sets ng_ctx_grad_for; this function
   leaves the context's settings alone), entropy never has a gradient. The arena must hold the
   step: see ng_textnas_ctrl_arena_bytes. */
ng_status ng_textnas_ctrl_sample(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out,
                                 ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty);
/* The same three quantities for a GIVEN architecture (teacher forcing: the decisions are
   read from arch instead of drawn). arch->n_layers must equal hp.n_layers; NG_ERR_ARG naming
   the layer and field when arch is not valid for this controller. */
ng_status ng_textnas_ctrl_score(ng_ctx *ctx, ng_textnas_ctrl *c, const ng_textnas_arch *arch,
                                ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty);
/* No-gradient sampling (the child-training path): the same draws as ng_textnas_ctrl_sample
   for the same rng state, computed on the controller's private context. */
ng_status ng_textnas_ctrl_sample_arch(ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out);
/* n independent no-gradient samples (NNI exports 20). */
ng_status ng_textnas_ctrl_export(ng_textnas_ctrl *c, ng_rng *rng, int n, ng_textnas_arch *archs);

/* Reward of an architecture (the child's accuracy on a held-out batch). Must not use the
   controller step's ctx: the sample's tape lives there until the update. */
typedef double (*ng_textnas_reward_fn)(const ng_textnas_arch *arch, void *user);

/* One controller step (see the top): resets ctx, sets ng_ctx_grad_for(ctx, {c->params}),
   samples, calls reward_fn, updates the baseline and takes an Adam step; statistics in
   c->last. *arch_out (may be NULL) receives the sampled architecture. A non-finite reward or
   gradient norm is NG_ERR_ARG and leaves parameters, Adam state, baseline and step count
   unchanged (the rng has advanced). */
ng_status ng_textnas_ctrl_step(ng_textnas_ctrl *c, ng_ctx *ctx, ng_rng *rng, ng_textnas_reward_fn reward_fn,
                               void *user, ng_textnas_arch *arch_out);
/* The update part of a step for a given architecture and reward (teacher-forced: used by the
   PyTorch fixture and by callers that sample and evaluate themselves). */
ng_status ng_textnas_ctrl_step_arch(ng_textnas_ctrl *c, ng_ctx *ctx, const ng_textnas_arch *arch, double reward);

/* Checkpoint records: "params/ctrl", "<prefix>.adam", "<prefix>.baseline" (the double's bit
   pattern as i64, so resuming is bit-exact), "<prefix>.steps". The sampling rng belongs to the
   caller: put it with ng_ckpt_put_rng next to these. get restores into an initialised
   controller of the same lstm_size; nothing is changed when a record is missing or differs. */
ng_status ng_textnas_ctrl_put(ng_ckpt *ck, const char *prefix, const ng_textnas_ctrl *c);
ng_status ng_textnas_ctrl_get(const ng_ckpt *ck, const char *prefix, ng_textnas_ctrl *c);

/* ---- src/textnas_train.h ---- */
/* ======================================================================================== */
/* @@TEXTNAS_TRAIN  TextNAS child training, evaluation, the two searches' steps, batching   */
/* ======================================================================================== */
/* Batches of an encoded text dataset in shuffled passes (a new permutation per pass; the
   last short batch of a pass is topped up from the next one). Checkpointed as the RNG state
   at the start of the current pass, the cursor and the current RNG, so a resumed run draws
   the same batches. */
typedef struct ng_text_sampler {
    const ng_text_dataset *d;
    int32_t *perm;          /* (d->n) the current pass */
    int64_t cursor;
    ng_rng rng, pass_rng;   /* now / at the start of the current pass */
    int cap;                /* batch buffers below hold cap examples */
    int32_t *ids, *lengths, *labels;
} ng_text_sampler;
ng_status ng_text_sampler_init(ng_text_sampler *s, const ng_text_dataset *d, uint64_t seed);
void ng_text_sampler_free(ng_text_sampler *s);
/* The next `batch` examples; out points into the sampler's buffers (valid until the next call). */
ng_status ng_text_sampler_next(ng_text_sampler *s, int batch, ng_text_batch *out);
ng_status ng_text_sampler_put(ng_ckpt *ck, const char *key, const ng_text_sampler *s);
ng_status ng_text_sampler_get(const ng_ckpt *ck, const char *key, ng_text_sampler *s);
/* Examples [first, first + n) of d in order (evaluation). */
ng_text_batch ng_text_dataset_slice(const ng_text_dataset *d, int64_t first, int64_t n);

/* The child (shared or fixed) network's optimiser: Adam with coupled L2 on the embedding and
   on every other weight (two groups, the same settings: the same as one Adam over all), global
   gradient-norm clipping over both (grad_clip <= 0: none). */
typedef struct ng_textnas_child {
    ng_textnas_net *net;
    ng_adam adam_w, adam_e;
    float grad_clip;
    int64_t steps;
    double loss, accuracy;  /* of the last step's batch */
} ng_textnas_child;
ng_status ng_textnas_child_init(ng_textnas_child *c, ng_textnas_net *net, float lr, float eps, float weight_decay,
                                float grad_clip);
void ng_textnas_child_free(ng_textnas_child *c);
void ng_textnas_child_set_lr(ng_textnas_child *c, float lr);
/* One training step (training mode) of architecture `arch` (alpha NULL) or of the relaxed
   supernet (alpha given; its parameters get no update here). Resets ctx. A non-finite loss or
   gradient norm is NG_ERR_ARG and leaves the weights and Adam unchanged. */
ng_status ng_textnas_child_step(ng_textnas_child *c, ng_ctx *ctx, const ng_textnas_arch *arch,
                                const ng_textnas_alpha *alpha, const ng_text_batch *b);
ng_status ng_textnas_child_put(ng_ckpt *ck, const char *prefix, const ng_textnas_child *c);
ng_status ng_textnas_child_get(const ng_ckpt *ck, const char *prefix, ng_textnas_child *c);

/* Accuracy (and mean loss, and the confusion matrix conf[true * C + predicted] when not NULL)
   of architecture `arch` / the relaxed supernet (alpha) on examples [0, limit) of d (limit <= 0:
   all), in eval mode (running statistics, no dropout), batch by batch. Resets ctx. */
ng_status ng_textnas_evaluate(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_textnas_alpha *alpha, const ng_text_dataset *d, int batch, int64_t limit,
                              double *accuracy, double *loss, int64_t *conf);
/* Accuracy of one batch in eval mode (the controller's reward). Resets ctx. */
ng_status ng_textnas_batch_accuracy(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                                    const ng_text_batch *b, double *accuracy);
/* One architecture step of the differentiable search (first order, DARTS-style): the
   cross-entropy of the relaxed supernet on a validation batch, in training mode, differentiated
   in alpha only, then opt's Adam step on alpha. *loss (may be NULL) receives the loss. */
ng_status ng_textnas_alpha_step(ng_ctx *ctx, ng_textnas_net *net, ng_textnas_alpha *alpha, ng_adam *opt,
                                const ng_text_batch *b, double *loss);

/* ---- src/cuda.h ---- */
/* ======================================================================================== */
/* @@CUDA  the GPU backend's public API and host-side glue (kernels: nasgan_cuda.cu)        */
/* ======================================================================================== */
/* Plain C, no CUDA includes. The kernels live in nasgan_cuda.cu (compiled by nvcc as C++,
   `make cuda`), which fills an ng_cuda_hooks table and registers it with ng_cuda_register
   (automatically, from a static initialiser, when nasgan_cuda.o is linked in). Without it
   every entry point below reports NG_ERR_UNSUPPORTED and the CPU build needs no CUDA.

   Model: a tensor lives on one device (ng_tensor.device). A context made with
   ng_ctx_create_on(bytes, seed, NG_CUDA) takes its float step arena once from cudaMalloc;
   every tensor it creates (outputs, gradients, saved buffers) is a device tensor. Parameter
   groups move with ng_params_to_device. Transfers are explicit (ng_tensor_to_host,
   ng_tensor_to_device); an op whose inputs sit on different devices, or that has no CUDA
   kernel, sets the context status to NG_ERR_UNSUPPORTED with a message naming the op.

   Ops with CUDA kernels (forward and backward) are listed by ng_cuda_op_supported and at
   the top of nasgan_cuda.cu. Deterministic by default: no atomics into gradients, fixed
   reduction order, no TF32 unless ng_cuda_set_tf32(1). */

/* One convolution of the FID Inception's forward (@@INCEPTION) on (C, B, H, W) activations:
   y (cout, B, ho, wo) = relu(conv(x (cin, B, h, w)) + bias), im2col over `tile_rows` (b, oy)
   output lines at a time. */
typedef struct ng_cuda_inc_conv { int cin, cout, kh, kw, stride, ph, pw, B, h, w, ho, wo; int64_t tile_rows; } ng_cuda_inc_conv;
/* its 3x3 pools: stride 1 padding 1 over the valid pixels (mean, count_include_pad = False;
   maximum), and the unpadded stride-2 maximum */
enum { NG_CUDA_INC_AVG3, NG_CUDA_INC_MAX3, NG_CUDA_INC_MAX3_S2 };

typedef struct ng_cuda_hooks {
    int (*device_count)(void);                          /* 0 when no usable device */
    ng_status (*init)(int device);                      /* context: cuBLAS handle, stream, workspace */
    const char *(*info)(void);                          /* "NVIDIA H200, 139 GiB, sm_90" */
    void *(*dev_malloc)(size_t bytes);                  /* NULL on failure */
    void (*dev_free)(void *p);
    int (*memcpy_h2d)(void *dst, const void *src, size_t bytes);   /* 0 on success */
    int (*memcpy_d2h)(void *dst, const void *src, size_t bytes);
    int (*memcpy_d2d)(void *dst, const void *src, size_t bytes);
    int (*memset0)(void *p, size_t bytes);
    int (*synchronize)(void);
    void (*set_tf32)(int on);
    size_t (*peak_bytes)(void);                         /* peak of cudaMalloc'd bytes */
    size_t (*mem_free)(void);                           /* free device bytes now (0: unknown) */
    void (*fw[NG_OP_COUNT])(ng_node *n);                /* NULL: no kernel for this op */
    void (*bw[NG_OP_COUNT])(ng_node *n);
    /* fused optimizer kernels on device blocks of n floats */
    void (*adam)(float *p, const float *g, float *m, float *v, int64_t n, float b1, float b2,
                 float omb1, float omb2, float step_size, float sqrt_bc2, float eps, float wd);
    void (*ema)(float *shadow, const float *p, int64_t n, float decay, float one_minus_decay);
    void (*sgd)(float *p, const float *g, float *buf, int64_t n, float lr, float momentum,
                float one_minus_dampening, float wd, int first, int nesterov);   /* buf NULL: no momentum */
    double (*sumsq)(const float *x, int64_t n);         /* sum of x^2 in double, fixed order */
    void (*scale)(float *x, int64_t n, float c);        /* x *= c */
    /* the FID Inception's inference on device buffers, in exact FP32 whatever ng_cuda_set_tf32
       says (so FID does not depend on it); each returns 0 on success */
    int (*inc_conv)(const ng_cuda_inc_conv *g, const float *w, const float *b, const float *x, float *y, float *col);
    int (*inc_pool)(int kind, const float *x, float *y, int64_t planes, int h, int w);
    /* n images (n, channels, h, w) -> (3, n, size, size), bilinear, align_corners = False */
    int (*inc_resize)(const float *x, int n, int channels, int h, int w, float *out, int size, int mode);   /* mode: NG_INCEPTION_* */
    /* pool3 (B, F) = mean over hw of x (F, B, hw); logits (B, L) = pool3 fc_w^T + fc_b when
       logits is not NULL */
    int (*inc_head)(const float *x, int B, int F, int hw, const float *fc_w, const float *fc_b, int L, float *pool3,
                    float *logits);
} ng_cuda_hooks;

/* Called by nasgan_cuda.cu; the table must outlive the program. */
void ng_cuda_register(const ng_cuda_hooks *h);
const ng_cuda_hooks *ng_cuda_get_hooks(void);      /* NULL when the backend is not linked */

/* 1 when the backend is linked in and at least one device is visible. */
int ng_cuda_available(void);
/* Select a device and create the backend context (idempotent). */
ng_status ng_cuda_init(int device);
int ng_cuda_ready(void);                           /* 1 after a successful ng_cuda_init */
const char *ng_cuda_device_info(void);             /* "" before ng_cuda_init */
void ng_cuda_set_tf32(int on);                     /* default off: exact FP32 products */
ng_status ng_cuda_synchronize(void);
size_t ng_cuda_peak_bytes(void);
size_t ng_cuda_mem_free(void);                     /* free device memory in bytes; 0 when unknown */
/* 1 when op (ng_op) has a CUDA forward (backward = 0) or backward (backward = 1) kernel. */
int ng_cuda_op_supported(int op, int backward);

/* A context whose step arena sits on `device` (NG_CPU: same as ng_ctx_create). */
ng_ctx *ng_ctx_create_on(size_t arena_bytes, uint64_t seed, ng_device device);
/* Move a group's data and gradient blocks to `device`, one allocation each (values kept).
   Tensor pointers stay valid; their data/grad point into the device blocks. */
ng_status ng_params_to_device(ng_params *g, ng_device device);
/* Copy a group's device blocks back into its host mirror (data and grad) without moving. */
ng_status ng_params_sync_host(ng_params *g);
/* Explicit transfers between host memory and a tensor of either device. */
ng_status ng_tensor_to_host(const ng_tensor *t, float *dst);            /* numel floats */
ng_status ng_tensor_to_device(ng_tensor *t, const float *src);          /* numel floats */
/* A copy of t in ctx (on ctx's device); NULL on failure. */
ng_tensor *ng_tensor_copy_to(ng_ctx *ctx, const ng_tensor *t);
/* Optimizers need nothing special: ng_adam_step, ng_sgd_step, ng_ema_update/swap and
   ng_clip_grad_norm run fused kernels when their group is on the GPU (optim.h). */
/* n zeroed device floats (NULL and an error on failure) and their release. */
float *ng_cuda_alloc_zeros(int64_t n);
void ng_cuda_free(void *p);

/* internal: used by the tape and tensor parts */
void *ng__cuda_arena_alloc(ng_ctx *ctx, size_t bytes);
void ng__cuda_arena_free(ng_arena *a);
void ng__cuda_free(void *p);
void ng__memset0(int device, void *p, size_t bytes);
void ng__cuda_copy(void *dst, const void *src, size_t bytes, int kind); /* 1 h2d, 2 d2h, 3 d2d */
int ng__optable_has_cuda(int op, int backward);
/* for the kernels in nasgan_cuda.cu: gradient of input k (device, zeroed on first use, NULL
   when not needed), device scratch and host scratch in the node's context arenas */
float *ng__cuda_in_grad(ng_node *n, int k);
float *ng__cuda_scratch(ng_node *n, int64_t nfloats);
void *ng__cuda_host_scratch(ng_node *n, size_t bytes);
void ng__cuda_op_fail(ng_node *n, const char *what);
/* 1 (and NG_ERR_UNSUPPORTED recorded, in ctx too when given) when `device` is NG_CUDA: guards
   host-only code (optimizers, some op wrappers) against device pointers */
int ng__cuda_refuse(ng_ctx *ctx, int device, const char *what);

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
#ifdef NG_USE_UTF8PROC
           " utf8proc=on"
#else
           " utf8proc=off"
#endif
#ifndef NG_NO_ZLIB
           " zlib=on"
#else
           " zlib=off"
#endif
#ifdef NG_USE_STB
           " stb=on"
#else
           " stb=off"
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
    if (g->device == NG_CUDA) {
        ng__cuda_free(g->data);
        ng__cuda_free(g->grad);
        g->data = g->host_data;
        g->grad = g->host_grad;
    }
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
    if (g->grad) ng__memset0(g->device, g->grad, (size_t)g->numel * sizeof(float));
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
    if (dst->device == NG_CPU && src->device == NG_CPU) memcpy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    else ng__cuda_copy(dst->data, src->data, (size_t)src->numel * sizeof(float),
                       dst->device == NG_CUDA ? (src->device == NG_CUDA ? 3 : 1) : 2);
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
    /* The built-in SGEMM matches OpenBLAS here and shares OpenMP's threads; OpenBLAS's own
       pthreads would oversubscribe the cores. Set ctx->gemm_backend to opt in. */
    ctx->gemm_backend = NG_GEMM_BUILTIN;
    return ctx;
}

void ng_ctx_free(ng_ctx *ctx) {
    if (!ctx) return;
    ng_arena_free(&ctx->arena);
    ng__cuda_arena_free(&ctx->dev_arena);
    free(ctx->nodes);
    free(ctx);
}

void ng_ctx_reset(ng_ctx *ctx) {
    ng_arena_reset(&ctx->arena);
    ng_arena_reset(&ctx->dev_arena);
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

/* A tensor an op reads beside its inputs (a target, running statistics, power-iteration
   vectors) must be on the device of its input x: the kernels take its pointer as it is. */
static int ng__side_device_ok(ng_ctx *ctx, int op, const ng_tensor *x, const ng_tensor *side, const char *what) {
    if (!x || !side || side->device == x->device) return 1;
    if (ctx->status == NG_OK) {
        ctx->status = NG_ERR_UNSUPPORTED;
        ng_fail(NG_ERR_UNSUPPORTED, "%s: %s is on the %s but the input is on the %s (copy explicitly)", ng_op_name(op), what,
                side->device == NG_CUDA ? "GPU" : "CPU", x->device == NG_CUDA ? "GPU" : "CPU");
    }
    return 0;
}

static void *ng__alloc(ng_ctx *ctx, size_t bytes) {
    void *p = ng_arena_alloc(&ctx->arena, bytes);
    if (!p) ng__ctx_fail(ctx, NG_ERR_NOMEM);
    return p;
}
/* Float buffers (outputs, gradients, saved values) live on the context's device. */
static float *ng__falloc(ng_ctx *ctx, int64_t n) {
    if (ctx->device == NG_CUDA) {
        void *p = ng__cuda_arena_alloc(ctx, (size_t)n * sizeof(float));
        if (!p) ng__ctx_fail(ctx, NG_ERR_NOMEM);
        return (float *)p;
    }
    return (float *)ng__alloc(ctx, (size_t)n * sizeof(float));
}
static float *ng__fzalloc(ng_ctx *ctx, int64_t n) {
    float *p = ng__falloc(ctx, n);
    if (p) ng__memset0(ctx->device, p, (size_t)n * sizeof(float));
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
    t->device = ctx->device;
    t->data = ng__falloc(ctx, numel ? numel : 1);
    return t->data ? t : NULL;
}
ng_tensor *ng_tensor_zeros(ng_ctx *ctx, ng_shape shape) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) ng__memset0(t->device, t->data, (size_t)t->numel * sizeof(float));
    return t;
}
/* `data` is host memory (copied to the device for a device context). */
ng_tensor *ng_tensor_from(ng_ctx *ctx, ng_shape shape, const float *data) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) {
        if (t->device == NG_CUDA) ng__cuda_copy(t->data, data, (size_t)t->numel * sizeof(float), 1);
        else memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    }
    return t;
}
void ng_tensor_requires_grad(ng_tensor *t) { t->requires_grad = 1; }

float *ng_tensor_host_write(ng_ctx *ctx, ng_tensor *t) {
    if (!t) return NULL;
    if (t->device != NG_CUDA) return t->data;
    return (float *)ng__alloc(ctx, (size_t)(t->numel ? t->numel : 1) * sizeof(float));
}
ng_status ng_tensor_host_done(ng_tensor *t, float *buf) {
    if (!t || !buf) return ng_fail(NG_ERR_ARG, "tensor host write: no tensor or buffer");
    if (t->device == NG_CUDA) return ng_tensor_to_device(t, buf);
    if (buf != t->data) memcpy(t->data, buf, (size_t)t->numel * sizeof(float));
    return NG_OK;
}
const float *ng_tensor_host_read(ng_ctx *ctx, const ng_tensor *t) {
    float *h;
    if (!t) return NULL;
    if (t->device != NG_CUDA) return t->data;
    h = (float *)ng__alloc(ctx, (size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (h && ng_tensor_to_host(t, h) != NG_OK) { ng__ctx_fail(ctx, NG_ERR_UNSUPPORTED); return NULL; }
    return h;
}
float ng_tensor_item(const ng_tensor *t) {
    float v = NAN;
    if (!t || t->numel < 1) return NAN;
    if (t->device != NG_CUDA) return t->data[0];
    ng__cuda_copy(&v, t->data, sizeof v, 2);   /* v stays NaN when the copy fails */
    return v;
}
ng_tensor *ng_tensor_randn(ng_ctx *ctx, ng_shape shape, ng_rng *r) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    float *h = ng_tensor_host_write(ctx, t);
    int64_t i;
    if (!h) return NULL;
    for (i = 0; i < t->numel; i++) h[i] = (float)ng_rng_normal(r);
    return ng_tensor_host_done(t, h) == NG_OK ? t : NULL;
}

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
    if (out->device == NG_CUDA) { /* add the (host) seed through a host copy of the gradient */
        float *h = (float *)ng__alloc(ctx, (size_t)out->numel * sizeof(float));
        if (!h) return ng_fail(NG_ERR_NOMEM, "backward: arena exhausted");
        ng__cuda_copy(h, g, (size_t)out->numel * sizeof(float), 2);
        for (j = 0; j < out->numel; j++) h[j] += seed ? seed[j] : 1.0f;
        ng__cuda_copy(g, h, (size_t)out->numel * sizeof(float), 1);
    } else {
        for (j = 0; j < out->numel; j++) g[j] += seed ? seed[j] : 1.0f;
    }
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

/* ---- input gradients that take over the output's buffer ----
   In a backward pass a node's output gradient is dead once the node's own backward has run
   (every consumer of the output sits later on the tape and has run already). An elementwise op
   can therefore hand that buffer to an input as the input's gradient instead of a fresh zeroed
   one, when the input is an activation (not a parameter) whose gradient does not exist yet,
   has the output's size and appears once among the node's inputs. The op then writes 0 + v in
   place of adding v to zeros: the same bits, and chains of elementwise ops (conv -> batch norm
   -> ReLU, the mixed edges) need one gradient buffer instead of one per op. *fresh tells the
   op which of the two it got; the buffer is NULL when input k needs no gradient. */
static float *ng__in_grad_take(ng_node *n, int k, int *fresh) {
    ng_tensor *t = n->in[k];
    int j;
    *fresh = 0;
    if (!ng__need(n, k)) return NULL;
    if (t->grad || t->owner || t == n->out || !n->out->grad || t->numel != n->out->numel) return ng__in_grad(n, k);
    for (j = 0; j < n->n_in; j++)
        if (j != k && n->in[j] == t) return ng__in_grad(n, k);
    t->grad = n->out->grad;
    *fresh = 1;
    return t->grad;
}

/* Gradient buffer of input k for an op that stores every element of it: when the input (an
   activation) has no gradient yet, a new buffer that is NOT zeroed, *fresh = 1 (the op then
   stores 0 + v where it would add v to zeros: the same bits, without the serial memset and the
   extra pass over memory); otherwise ng__in_grad's buffer, *fresh = 0. NULL when input k needs
   no gradient. */
static float *ng__in_grad_fresh(ng_node *n, int k, int *fresh) {
    ng_tensor *t = n->in[k];
    int j;
    *fresh = 0;
    if (!ng__need(n, k)) return NULL;
    if (t->grad || t->owner) return ng__in_grad(n, k);
    for (j = 0; j < n->n_in; j++)
        if (j != k && n->in[j] == t) return ng__in_grad(n, k);
    t->grad = ng__falloc(n->ctx, t->numel);
    *fresh = t->grad != NULL;
    return t->grad;
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
        NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) y[i] = kind == 0 ? a[i] + b[i] : kind == 1 ? a[i] - b[i] : a[i] * b[i];
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
    float *ga, *gb;
    ng__bcast p = ng__bcast_plan(n);
    int64_t i0, i1, i2, i3, o = 0;
    if (p.same) {
        /* one of the two may take over g (ng__in_grad_take): g[i] is read before either write */
        int64_t i, N = n->out->numel;
        int fa = 0, fb = 0;
        ga = ng__in_grad_take(n, 0, &fa);
        gb = fa ? ng__in_grad(n, 1) : ng__in_grad_take(n, 1, &fb);
        if (n->ctx->status != NG_OK) return;
        NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) {
            float gi = g[i];
            float va = kind == 2 ? gi * b[i] : gi, vb = kind == 2 ? gi * a[i] : kind == 1 ? -gi : gi;
            if (ga) ga[i] = (fa ? 0.0f : ga[i]) + va;
            if (gb) gb[i] = (fb ? 0.0f : gb[i]) + vb;
        }
        return;
    }
    ga = ng__in_grad(n, 0);
    gb = ng__in_grad(n, 1);
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
    NG__OMP_FOR(n->out->numel > 65536)
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->f[0] * n->in[0]->data[i];
}
static void ng__bw_scale(ng_node *n) {
    int64_t i;
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->f[0] * n->out->grad[i];
    }
}
static void ng__fw_add_scalar(ng_node *n) {
    int64_t i;
    NG__OMP_FOR(n->out->numel > 65536)
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->in[0]->data[i] + n->f[0];
}
static void ng__bw_add_scalar(ng_node *n) {
    int64_t i;
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->out->grad[i];
    }
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
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->out->grad[i];
    }
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
/* tanh on the CPU: (e - 1) / (e + 1) with e = exp(2|x|) in double, x (1 - x^2 / 3) below 2^-12
   (no cancellation; keeps the sign of 0). It agrees with (float)tanh((double)x) on every
   argument tests/test_ops_dense.c samples, where glibc's tanhf is off by an ulp on ~3%, and
   takes ~8 ns against tanhf's ~20. */
static inline float ng__tanhf(float x) {
    double d = x, a = fabs(d), e;
    if (a < 2.44140625e-4) return (float)(d * (1.0 - d * d / 3.0));
    if (!(a <= 20.0)) return a > 20.0 ? (x > 0.0f ? 1.0f : -1.0f) : x; /* +-1; NaN as is */
    e = exp(2.0 * a);
    return (float)((x > 0.0f ? 1.0 : -1.0) * ((e - 1.0) / (e + 1.0)));
}

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
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh); /* may be g itself (0 + v written in place) */
    if (!gx) return;
    if (fresh) {
NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) gx[i] = x[i] > 0.0f ? 0.0f + g[i] : 0.0f;
        return;
    }
NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] += x[i] > 0.0f ? g[i] : 0.0f;
}
static void ng__fw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__leakyf(n->in[0]->data[i], n->f[0]);
}
static void ng__bw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + (x[i] > 0.0f ? g[i] : n->f[0] * g[i]);
}
static void ng__fw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__tanhf(n->in[0]->data[i]);
}
static void ng__bw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + g[i] * (1.0f - y[i] * y[i]);
}
static void ng__fw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__sigmoidf(n->in[0]->data[i]);
}
static void ng__bw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + g[i] * y[i] * (1.0f - y[i]);
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

/* ---- dropout: i[0] = the mask's key (ng_dropout_bits), f[0] = p;
   saved = per-element multiplier (0 or 1/(1-p)) ---- */
ng_tensor *ng_dropout(ng_ctx *ctx, ng_tensor *x, float p) {
    ng_node *n;
    if (x) NG_ASSERT(p >= 0.0f && p < 1.0f);
    if (x && (!ctx->training || p == 0.0f)) return x;
    n = ng__begin(ctx, NG_OP_DROPOUT, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = p;
    n->i[0] = (int64_t)ng_rng_u64(&ctx->rng);
    n->saved = ng__falloc(ctx, x->numel);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
/* m[i] = dropout multiplier of element i for key and p, and y[i] = x[i] m[i] when x is not
   NULL, in one pass (seq_attention fills only m) */
static void ng__dropout_fill(float *m, const float *x, float *y, int64_t N, uint64_t key, float p) {
    int64_t i;
    uint32_t thr = ng_dropout_threshold(p);
    float keep = 1.0f / (1.0f - p);
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) {
        m[i] = ng_dropout_bits(key, (uint64_t)i) < thr ? 0.0f : keep;
        if (x) y[i] = x[i] * m[i];
    }
}
static void ng__fw_dropout(ng_node *n) {
    ng__dropout_fill((float *)n->saved, n->in[0]->data, n->out->data, n->out->numel, (uint64_t)n->i[0], n->f[0]);
}
static void ng__bw_dropout(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *m = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] += n->out->grad[i] * m[i];
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
    if (!target) {
        if (ctx->status == NG_OK) ng__bad(ctx, "bce_with_logits", "target is NULL");
        return NULL;
    }
    if (!ng__side_device_ok(ctx, NG_OP_BCE_LOGITS, x, target, "the target")) return NULL;
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
/* @@OPS convolution (NCHW)                                                                 */
/* ======================================================================================== */

/* How the convolutions are computed.
   A convolution is described by the geometry of a plain conv2d (ng__cv_geo): input (C, H, W),
   output (O, Ho, Wo), weight (O, C/G, kh, kw). A transposed convolution is the adjoint of such
   a conv2d (its input plays the conv's output and vice versa), so three per-image kernels
   serve both ops:
     fwd:   out_g  = W_g @ im2col(in_g)             (conv forward; conv_transpose d/dx)
     adj:   in_g  += col2im(W_g^T @ out_g)           (conv d/dx; conv_transpose forward)
     wgrad: dW_g  += out_g @ im2col(in_g)^T          (both ops' d/dW; accumulated transposed,
                                                      im2col(in_g) @ out_g^T, when O/G < 128:
                                                      both GEMM backends are faster that way)
   im2col works on tiles of output rows so that the column buffer stays a few MB; 1x1 stride-1
   unpadded convs skip it, and kernel-2 stride-2 rows are split/merged 8 pixels at a time.
   Faster paths:
   - direct stride-1 conv (AVX2 builds): conv2d's forward, and its d/dx written as a stride-1
     conv of dL/dy with the flipped kernel, run an implicit GEMM that reads the zero-padded
     input in place (no im2col), 6 output channels x 16 pixels per register tile;
   - depthwise conv2d (C/G == O/G == 1): direct kernels over zero-bordered planes.
   Threads (OpenMP): work is split over (image, group) pairs, or over channels for depthwise;
   ng_sgemm runs single-threaded inside the parallel region. Scratch (column buffers, padded
   planes, per-thread partial sums) is allocated once per op from the arena. Results are
   deterministic: every output element is computed by one task, and d/dW, d/db of the GEMM
   path are per-thread partial sums over a static split of the batch, added in thread order
   (the same for a given thread count); depthwise d/dW sums run over the batch in order (the
   same for any thread count). Build options: NG_CONV_NO_DIRECT (GEMM path only),
   NG_CONV_TILE_FLOATS (column buffer target), NG_CONV_DIRECT_KBLOCK (taps per L1 block). */

typedef struct ng__cv_geo {
    int64_t N, C, H, W;      /* conv input */
    int64_t O, Ho, Wo;       /* conv output */
    int64_t kh, kw, sh, sw, ph, pw, G;
    int64_t Cg, Og, K;       /* C/G, O/G, Cg*kh*kw */
    int64_t tr;              /* output rows per im2col tile */
    int pointwise;           /* 1x1, stride 1, no padding: im2col is the identity */
} ng__cv_geo;

#ifndef NG_CONV_TILE_FLOATS
#define NG_CONV_TILE_FLOATS (1 << 20) /* target size of one thread's column buffer */
#endif

static int ng__cv_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
static int ng__cv_nt(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* ---- small vector kernels (AVX2/FMA when compiled for it) ---- */
/* y[i] += x[i] */
static void ng__cv_vadd(int64_t n, const float *x, float *y) {
    int64_t i = 0;
#ifdef NG__HAVE_AVX2
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
    for (; i < n; i++) y[i] += x[i];
}
/* sum of x in a fixed order (8 interleaved partial sums, then pairwise) */
static float ng__cv_sum(int64_t n, const float *x) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    int k;
#ifdef NG__HAVE_AVX2
    __m256 v = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) v = _mm256_add_ps(v, _mm256_loadu_ps(x + i));
    _mm256_storeu_ps(s, v);
#else
    for (; i + 8 <= n; i += 8)
        for (k = 0; k < 8; k++) s[k] += x[i + k];
#endif
    for (k = 0; i < n; i++, k++) s[k & 7] += x[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}
/* copy plane x (h, w) into the interior of P (ldp wide, border already zero) at (top, left) */
static void ng__cv_pad(int64_t h, int64_t w, const float *x, int64_t top, int64_t left, int64_t ldp, float *P) {
    int64_t iy;
    for (iy = 0; iy < h; iy++) memcpy(P + (iy + top) * ldp + left, x + iy * w, (size_t)w * sizeof(float));
}
static void ng__cv_fill(int64_t n, float v, float *y) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] = v;
}

/* ---- im2col / col2im on a tile of output rows [oy0, oy1) of one group ---- */
/* range of output columns ox whose input column ox*sw - pw + kx lies inside [0, W) */
static void ng__cv_xrange(const ng__cv_geo *q, int64_t kx, int64_t *lo, int64_t *hi) {
    int64_t a = q->pw - kx, b = q->W - 1 + q->pw - kx, l, h;
    l = a <= 0 ? 0 : (a + q->sw - 1) / q->sw;
    h = b < 0 ? 0 : b / q->sw + 1;
    if (h > q->Wo) h = q->Wo;
    if (l > h) l = h;
    *lo = l; *hi = h;
}
/* Kernel width 2, horizontal stride 2, no horizontal padding (the alphaGAN deconv): the two
   taps of a row are its even and odd columns, split or merged 8 pixels at a time. m is the
   number of output columns whose two inputs both lie inside the row. */
#ifdef NG__HAVE_AVX2
static int ng__cv_k2s2(const ng__cv_geo *q, int64_t *hi0, int64_t *hi1, int64_t *m) {
    int64_t lo;
    if (q->sw != 2 || q->kw != 2 || q->pw != 0) return 0;
    ng__cv_xrange(q, 0, &lo, hi0);
    ng__cv_xrange(q, 1, &lo, hi1);
    *m = *hi1 < *hi0 ? *hi1 : *hi0;
    return 1;
}
static void ng__cv_im2col_k2s2(const ng__cv_geo *q, const float *x, int64_t oy0, int64_t oy1, float *col,
                               int64_t hi0, int64_t hi1, int64_t m) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, oy, ox;
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++) {
            float *d0 = col + (c * q->kh + ky) * 2 * T, *d1 = d0 + T;
            for (oy = oy0; oy < oy1; oy++, d0 += q->Wo, d1 += q->Wo) {
                int64_t iy = oy * q->sh - q->ph + ky;
                const float *row;
                if (iy < 0 || iy >= q->H) {
                    memset(d0, 0, (size_t)q->Wo * sizeof(float));
                    memset(d1, 0, (size_t)q->Wo * sizeof(float));
                    continue;
                }
                row = x + (c * q->H + iy) * q->W;
                for (ox = 0; ox + 8 <= m; ox += 8) {
                    __m256 v0 = _mm256_loadu_ps(row + 2 * ox), v1 = _mm256_loadu_ps(row + 2 * ox + 8);
                    __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
                    __m256 od = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
                    _mm256_storeu_ps(d0 + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0))));
                    _mm256_storeu_ps(d1 + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0))));
                }
                for (; ox < q->Wo; ox++) {
                    d0[ox] = ox < hi0 ? row[2 * ox] : 0.0f;
                    d1[ox] = ox < hi1 ? row[2 * ox + 1] : 0.0f;
                }
            }
        }
}
static void ng__cv_col2im_k2s2(const ng__cv_geo *q, const float *col, int64_t oy0, int64_t oy1, float *x,
                               int64_t hi0, int64_t hi1, int64_t m) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, oy, ox;
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++) {
            const float *d0 = col + (c * q->kh + ky) * 2 * T, *d1 = d0 + T;
            for (oy = oy0; oy < oy1; oy++, d0 += q->Wo, d1 += q->Wo) {
                int64_t iy = oy * q->sh - q->ph + ky;
                float *row;
                if (iy < 0 || iy >= q->H) continue;
                row = x + (c * q->H + iy) * q->W;
                for (ox = 0; ox + 8 <= m; ox += 8) {
                    __m256 a = _mm256_loadu_ps(d0 + ox), b = _mm256_loadu_ps(d1 + ox);
                    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
                    _mm256_storeu_ps(row + 2 * ox, _mm256_add_ps(_mm256_loadu_ps(row + 2 * ox), _mm256_permute2f128_ps(lo, hi, 0x20)));
                    _mm256_storeu_ps(row + 2 * ox + 8, _mm256_add_ps(_mm256_loadu_ps(row + 2 * ox + 8), _mm256_permute2f128_ps(lo, hi, 0x31)));
                }
                for (; ox < q->Wo; ox++) {
                    if (ox < hi0) row[2 * ox] += d0[ox];
                    if (ox < hi1) row[2 * ox + 1] += d1[ox];
                }
            }
        }
}
#endif

/* col (K, (oy1-oy0)*Wo) from x (Cg, H, W) */
static void ng__cv_im2col(const ng__cv_geo *q, const float *x, int64_t oy0, int64_t oy1, float *col) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi, hi0, hi1, m;
#ifdef NG__HAVE_AVX2
    if (ng__cv_k2s2(q, &hi0, &hi1, &m)) { ng__cv_im2col_k2s2(q, x, oy0, oy1, col, hi0, hi1, m); return; }
#else
    (void)hi0; (void)hi1; (void)m;
#endif
    for (kx = 0; kx < q->kw; kx++) {
        ng__cv_xrange(q, kx, &lo, &hi);
        for (c = 0; c < q->Cg; c++)
            for (ky = 0; ky < q->kh; ky++) {
                float *d = col + ((c * q->kh + ky) * q->kw + kx) * T;
                const float *src = x + c * q->H * q->W;
                for (oy = oy0; oy < oy1; oy++, d += q->Wo) {
                    int64_t iy = oy * q->sh - q->ph + ky;
                    const float *row;
                    if (iy < 0 || iy >= q->H) { memset(d, 0, (size_t)q->Wo * sizeof(float)); continue; }
                    row = src + iy * q->W; /* input column of ox: ox*sw - pw + kx */
                    for (ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    if (q->sw == 1) { if (hi > lo) memcpy(d + lo, row + (lo - q->pw + kx), (size_t)(hi - lo) * sizeof(float)); }
                    else for (ox = lo; ox < hi; ox++) d[ox] = row[ox * q->sw - q->pw + kx];
                    for (ox = hi; ox < q->Wo; ox++) d[ox] = 0.0f;
                }
            }
    }
}
/* x (Cg, H, W) += col2im(col) */
static void ng__cv_col2im(const ng__cv_geo *q, const float *col, int64_t oy0, int64_t oy1, float *x) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi, hi0, hi1, m;
#ifdef NG__HAVE_AVX2
    if (ng__cv_k2s2(q, &hi0, &hi1, &m)) { ng__cv_col2im_k2s2(q, col, oy0, oy1, x, hi0, hi1, m); return; }
#else
    (void)hi0; (void)hi1; (void)m;
#endif
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++)
            for (kx = 0; kx < q->kw; kx++) {
                const float *d = col + ((c * q->kh + ky) * q->kw + kx) * T;
                float *dst = x + c * q->H * q->W;
                ng__cv_xrange(q, kx, &lo, &hi);
                for (oy = oy0; oy < oy1; oy++, d += q->Wo) {
                    int64_t iy = oy * q->sh - q->ph + ky;
                    float *row;
                    if (iy < 0 || iy >= q->H) continue;
                    row = dst + iy * q->W; /* input column of ox: ox*sw - pw + kx */
                    if (q->sw == 1) { if (hi > lo) ng__cv_vadd(hi - lo, d + lo, row + (lo - q->pw + kx)); }
                    else for (ox = lo; ox < hi; ox++) row[ox * q->sw - q->pw + kx] += d[ox];
                }
            }
}

/* ---- the three per-(image, group) kernels; pointers are at the image, g selects the group ---- */
/* out_g = beta * out_g + W_g @ im2col(in_g) */
static void ng__cv_fwd(const ng__cv_geo *q, int be, int64_t g, const float *in, const float *w, float beta,
                       float *out, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *xg = in + g * q->Cg * q->H * q->W, *wg = w + g * q->Og * q->K;
    float *yg = out + g * q->Og * HWo;
    if (q->pointwise) { ng_sgemm(be, 0, 0, q->Og, HWo, q->Cg, 1.0f, wg, q->K, xg, HWo, beta, yg, HWo); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 0, q->Og, T, q->K, 1.0f, wg, q->K, col, T, beta, yg + oy0 * q->Wo, HWo);
    }
}
/* in_g += col2im(W_g^T @ out_g) */
static void ng__cv_adj(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *w, float *in, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *wg = w + g * q->Og * q->K;
    float *xg = in + g * q->Cg * q->H * q->W;
    if (q->pointwise) { ng_sgemm(be, 1, 0, q->Cg, HWo, q->Og, 1.0f, wg, q->K, yg, HWo, 1.0f, xg, HWo); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng_sgemm(be, 1, 0, q->K, T, q->Og, 1.0f, wg, q->K, yg + oy0 * q->Wo, HWo, 0.0f, col, T);
        ng__cv_col2im(q, col, oy0, oy1, xg);
    }
}
/* dw_g += out_g @ im2col(in_g)^T */
static void ng__cv_wgrad(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *in, float *dw, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *xg = in + g * q->Cg * q->H * q->W;
    float *dwg = dw + g * q->Og * q->K;
    if (q->pointwise) { ng_sgemm(be, 0, 1, q->Og, q->Cg, HWo, 1.0f, yg, HWo, xg, HWo, 1.0f, dwg, q->K); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 1, q->Og, q->K, T, 1.0f, yg + oy0 * q->Wo, HWo, col, T, 1.0f, dwg, q->K);
    }
}

/* the same, stored transposed: dwT_g (K, Og) += im2col(in_g) @ out_g^T */
static void ng__cv_wgrad_t(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *in, float *dw, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *xg = in + g * q->Cg * q->H * q->W;
    float *dwg = dw + g * q->Og * q->K;
    if (q->pointwise) { ng_sgemm(be, 0, 1, q->Cg, q->Og, HWo, 1.0f, xg, HWo, yg, HWo, 1.0f, dwg, q->Og); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 1, q->K, q->Og, T, 1.0f, col, T, yg + oy0 * q->Wo, HWo, 1.0f, dwg, q->Og);
    }
}

static void ng__cv_finish_geo(ng__cv_geo *q) {
    q->Cg = q->C / q->G;
    q->Og = q->O / q->G;
    q->K = q->Cg * q->kh * q->kw;
    q->pointwise = q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
    q->tr = NG_CONV_TILE_FLOATS / (q->K * q->Wo > 0 ? q->K * q->Wo : 1);
    if (q->tr < 1) q->tr = 1;
    if (q->tr > q->Ho) q->tr = q->Ho;
}
static int64_t ng__cv_col_floats(const ng__cv_geo *q) { return q->pointwise ? 1 : q->K * q->tr * q->Wo; }

/* Parallel over (image, group) pairs when there are enough of them; otherwise one thread walks
   them and ng_sgemm threads itself. */
static int ng__cv_par(const ng__cv_geo *q, int64_t tasks, int nth) {
    return nth > 1 && tasks >= nth && q->N * q->O * q->Ho * q->Wo * q->K >= ((int64_t)1 << 18);
}

/* ---- direct stride-1 convolution (AVX2) ----
   Implicit GEMM without im2col: each (image, group) is copied once into a zero-bordered
   buffer, and a 6 x 16 register tile (6 output channels, 16 pixels of one output row)
   accumulates over the taps k = (c, ky, kx), loading its 16 inputs straight from the padded
   buffer at a precomputed offset per tap and broadcasting the 6 weights from a packed panel.
   It serves conv2d's forward and, with the kernel flipped and in/out channels swapped, its
   d/dx (a stride-1 conv of dL/dy padded by k-1-p). */
#ifdef NG__HAVE_AVX2
#define NG__CV_MR 6
#ifndef NG_CONV_DIRECT_KBLOCK
#define NG_CONV_DIRECT_KBLOCK 384 /* taps per block (rounded down to whole input channels) */
#endif
/* y[r][j] = (accumulate ? y[r][j] : bias[r]) + acc[r*lda + j] for r < rows, j < cols <= 8 */
static void ng__cv_ukr_store(const float *acc, int64_t lda, float *y, int64_t ldy, int rows, int64_t cols,
                             const float *bias, int accumulate) {
    int r;
    int64_t j;
    for (r = 0; r < rows; r++, y += ldy, acc += lda) {
        if (cols == 8) {
            __m256 base = accumulate ? _mm256_loadu_ps(y) : _mm256_set1_ps(bias ? bias[r] : 0.0f);
            _mm256_storeu_ps(y, _mm256_add_ps(base, _mm256_loadu_ps(acc)));
        } else {
            for (j = 0; j < cols; j++) y[j] = (accumulate ? y[j] : (bias ? bias[r] : 0.0f)) + acc[j];
        }
    }
}
/* 6 x (8 + 8) tile over K taps: a is (K, 6); tap k reads 8 pixels at base + off[k] and 8 at
   base + off[k] + bd (bd = 8: 16 pixels of a row; bd = the padded width: 8 pixels of two
   rows); the two halves go to y and y + yd, cols0 and cols1 columns of each. */
static void ng__cv_ukr16(int64_t K, const float *a, const float *base, const int *off, int64_t bd, float *y,
                         int64_t yd, int64_t ldy, int rows, int64_t cols0, int64_t cols1, const float *bias,
                         int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    float acc[NG__CV_MR * 16];
    int64_t k;
    for (k = 0; k < K; k++, a += NG__CV_MR) {
        const float *b = base + off[k];
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + bd), wv;
        wv = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(wv, b0, c00); c01 = _mm256_fmadd_ps(wv, b1, c01);
        wv = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(wv, b0, c10); c11 = _mm256_fmadd_ps(wv, b1, c11);
        wv = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(wv, b0, c20); c21 = _mm256_fmadd_ps(wv, b1, c21);
        wv = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(wv, b0, c30); c31 = _mm256_fmadd_ps(wv, b1, c31);
        wv = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(wv, b0, c40); c41 = _mm256_fmadd_ps(wv, b1, c41);
        wv = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(wv, b0, c50); c51 = _mm256_fmadd_ps(wv, b1, c51);
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
    ng__cv_ukr_store(acc, 16, y, ldy, rows, cols0, bias, accumulate);
    ng__cv_ukr_store(acc + 8, 16, y + yd, ldy, rows, cols1, bias, accumulate);
}
/* 6 x 8 tile (cols <= 8) */
static void ng__cv_ukr8(int64_t K, const float *a, const float *base, const int *off, float *y, int64_t ldy,
                        int rows, int64_t cols, const float *bias, int accumulate) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    float acc[NG__CV_MR * 8];
    int64_t k;
    for (k = 0; k < K; k++, a += NG__CV_MR) {
        __m256 b0 = _mm256_loadu_ps(base + off[k]);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
    }
    _mm256_storeu_ps(acc + 0, c0); _mm256_storeu_ps(acc + 8, c1); _mm256_storeu_ps(acc + 16, c2);
    _mm256_storeu_ps(acc + 24, c3); _mm256_storeu_ps(acc + 32, c4); _mm256_storeu_ps(acc + 40, c5);
    ng__cv_ukr_store(acc, 8, y, ldy, rows, cols, bias, accumulate);
}
#endif

/* d/dx of a stride-1 conv with padding p <= k-1 is the stride-1 conv of dL/dy, padded by
   k-1-p, with the kernel rotated by 180 degrees and its in/out channels swapped. */
static ng__cv_geo ng__cv_flip_geo(const ng__cv_geo *q) {
    ng__cv_geo f = *q;
    f.C = q->O; f.H = q->Ho; f.W = q->Wo;
    f.O = q->C; f.Ho = q->H; f.Wo = q->W;
    f.ph = q->kh - 1 - q->ph; f.pw = q->kw - 1 - q->pw;
    ng__cv_finish_geo(&f);
    return f;
}

/* A stride-1 conv the direct kernel can run: q is its geometry (for d/dx: the flipped one).
   (1x1 convs stay with the GEMM, which needs no copy at all and is faster there; rows whose
   tiles would waste over 15% of their lanes, such as 12 = 8 + 4, too.) */
static int ng__cv_direct_ok(const ng__cv_geo *q) {
#if defined(NG__HAVE_AVX2) && !defined(NG_CONV_NO_DIRECT)
    /* lanes the tiles compute per row: whole 16s, then what is left rounded up to 8s */
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, lanes = q->Wo / 16 * 16 + (q->Wo % 16 + 7) / 8 * 8;
    return !q->pointwise && q->sh == 1 && q->sw == 1 && 100 * q->Wo >= 85 * lanes &&
           q->Cg * Hp * Wp + 64 < (int64_t)1 << 31;
#else
    (void)q;
    return 0;
#endif
}

#ifdef NG__HAVE_AVX2
/* Rows [oy0, oy1) of one (image, group): xp is the padded input (Cg, Hp, Wp), a the group's
   packed weights (nob, K, 6), y the group's output (Og, Ho, Wo). Rows go two at a time: full
   16-pixel tiles within each row, then the columns left over (fewer than 16) in 8-pixel
   chunks taken from both rows at once, so that every tile keeps 12 independent sums. The taps
   are split into blocks of whole input channels, outermost, so that a block's packed weights
   (all output channels) stay in L2 over all rows and its inputs in L1 over a row's tiles; the
   output rows are revisited once per block. */
static void ng__cv_direct_rows(const ng__cv_geo *q, const float *xp, const float *a, const int *off,
                               const float *bias, int accumulate, float *y, int64_t oy0, int64_t oy1) {
    int64_t Wp = q->W + 2 * q->pw, HWo = q->Ho * q->Wo, nob = (q->Og + NG__CV_MR - 1) / NG__CV_MR;
    int64_t kk = q->kh * q->kw, kc = (NG_CONV_DIRECT_KBLOCK / kk > 1 ? NG_CONV_DIRECT_KBLOCK / kk : 1) * kk;
    int64_t full = q->Wo / 16 * 16, oy, ox, ob, r, k0;
    for (k0 = 0; k0 < q->K; k0 += kc) {
        int64_t K = q->K - k0 < kc ? q->K - k0 : kc;
        int acc = accumulate || k0 > 0;
        for (oy = oy0; oy < oy1; oy += 2) {
            int nr = oy + 1 < oy1 ? 2 : 1;
            for (ob = 0; ob < nob; ob++) {
                int rows = (int)(q->Og - ob * NG__CV_MR < NG__CV_MR ? q->Og - ob * NG__CV_MR : NG__CV_MR);
                const float *ab = a + (ob * q->K + k0) * NG__CV_MR, *bb = bias ? bias + ob * NG__CV_MR : NULL;
                float *yb = y + ob * NG__CV_MR * HWo + oy * q->Wo;
                const float *base = xp + oy * Wp;
                for (r = 0; r < nr; r++)
                    for (ox = 0; ox < full; ox += 16)
                        ng__cv_ukr16(K, ab, base + r * Wp + ox, off + k0, 8, yb + r * q->Wo + ox, 8, HWo, rows, 8, 8, bb, acc);
                for (ox = full; ox < q->Wo; ox += 8) {
                    int64_t cols = q->Wo - ox < 8 ? q->Wo - ox : 8;
                    if (nr == 2) ng__cv_ukr16(K, ab, base + ox, off + k0, Wp, yb + ox, q->Wo, HWo, rows, cols, cols, bb, acc);
                    else ng__cv_ukr8(K, ab, base + ox, off + k0, yb + ox, HWo, rows, cols, bb, acc);
                }
            }
        }
    }
}
#endif

/* out (=|+=) [bias] + stride-1 conv(in) with geometry q. flip = 0: w is (O, Cg, kh, kw) as in
   conv2d. flip = 1: q is the flipped geometry of a conv2d with weight w (q->C, q->O/G, kh, kw)
   and the conv runs with that kernel rotated by 180 degrees and its channels swapped (d/dx). */
static void ng__cv_direct(ng_ctx *ctx, const ng__cv_geo *q, const float *in, const float *w, int flip,
                          const float *bias, int accumulate, float *out) {
#ifdef NG__HAVE_AVX2
    int nth = ng_num_threads();
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, kk = q->kh * q->kw;
    int64_t nob = (q->Og + NG__CV_MR - 1) / NG__CV_MR, psz = q->Cg * Hp * Wp + 64, tasks = q->N * q->G;
    int64_t in_sz = q->C * q->H * q->W, out_sz = q->O * q->Ho * q->Wo, k, g;
    int *off = (int *)ng__alloc(ctx, (size_t)q->K * sizeof(int));
    float *apack = ng__fzalloc(ctx, q->G * nob * q->K * NG__CV_MR);
    int par = ng__cv_par(q, tasks, nth);
    float *pads = ng__fzalloc(ctx, psz * (par ? nth : 1));
    if (!off || !apack || !pads) return;
    for (k = 0; k < q->K; k++) {
        int64_t c = k / kk, t = k % kk;
        off[k] = (int)(c * Hp * Wp + (t / q->kw) * Wp + t % q->kw);
    }
    for (g = 0; g < q->G; g++) {
        int64_t co, ci, t;
        /* read w in storage order: (co, ci, t) as conv2d, or (ci, co, t) when flipped */
        for (co = 0; co < q->Og && !flip; co++)
            for (ci = 0; ci < q->Cg; ci++)
                for (t = 0; t < kk; t++)
                    apack[((g * nob + co / NG__CV_MR) * q->K + ci * kk + t) * NG__CV_MR + co % NG__CV_MR] =
                        w[((g * q->Og + co) * q->Cg + ci) * kk + t];
        for (ci = 0; ci < q->Cg && flip; ci++)
            for (co = 0; co < q->Og; co++)
                for (t = 0; t < kk; t++)
                    apack[((g * nob + co / NG__CV_MR) * q->K + ci * kk + t) * NG__CV_MR + co % NG__CV_MR] =
                        w[((g * q->Cg + ci) * q->Og + co) * kk + (kk - 1 - t)];
    }
    if (par) {
        /* no sums across tasks here, so a dynamic schedule is still deterministic */
        NG__OMP(parallel num_threads(nth))
        {
            int64_t tk;
            float *xp = pads + psz * ng__cv_tid();
            NG__OMP(for schedule(dynamic, 1))
            for (tk = 0; tk < tasks; tk++) {
                int64_t img = tk / q->G, gg = tk % q->G, c;
                const float *src = in + img * in_sz + gg * q->Cg * q->H * q->W;
                for (c = 0; c < q->Cg; c++)
                    ng__cv_pad(q->H, q->W, src + c * q->H * q->W, q->ph, q->pw, Wp, xp + c * Hp * Wp);
                ng__cv_direct_rows(q, xp, apack + gg * nob * q->K * NG__CV_MR, off, bias ? bias + gg * q->Og : NULL,
                                   accumulate, out + img * out_sz + gg * q->Og * q->Ho * q->Wo, 0, q->Ho);
            }
        }
    } else {
        int64_t tk;
        for (tk = 0; tk < tasks; tk++) {
            int64_t img = tk / q->G, gg = tk % q->G, c;
            const float *src = in + img * in_sz + gg * q->Cg * q->H * q->W;
            for (c = 0; c < q->Cg; c++) ng__cv_pad(q->H, q->W, src + c * q->H * q->W, q->ph, q->pw, Wp, pads + c * Hp * Wp);
            /* one image: each thread takes a band of rows (even-sized, for the row pairs) */
            NG__OMP(parallel if (nth > 1 && q->Ho > 2 && q->O * q->Ho * q->Wo * q->K >= ((int64_t)1 << 18)) num_threads(nth))
            {
                int64_t pairs = (q->Ho + 1) / 2, tid = ng__cv_tid(), nt = ng__cv_nt();
                int64_t r0 = 2 * (pairs * tid / nt), r1 = 2 * (pairs * (tid + 1) / nt);
                if (r1 > q->Ho) r1 = q->Ho;
                if (r0 < r1)
                    ng__cv_direct_rows(q, pads, apack + gg * nob * q->K * NG__CV_MR, off, bias ? bias + gg * q->Og : NULL,
                                       accumulate, out + img * out_sz + gg * q->Og * q->Ho * q->Wo, r0, r1);
            }
        }
    }
#else
    (void)ctx; (void)q; (void)in; (void)w; (void)flip; (void)bias; (void)accumulate; (void)out;
#endif
}

/* ---- direct d/dW of a stride-1 conv2d (AVX2) ----
   dW^T[k][o] += sum_p xpad[off[k] + p'] * dy[o][p], with dy transposed per image to (p, o):
   a register tile of 6 taps x 16 output channels runs over all pixels of the image, loading 16
   channels of dy^T and broadcasting 6 inputs per pixel. Partial sums are per thread over a
   static split of the batch (added in thread order), kept transposed like the GEMM path's. */
#ifdef NG__HAVE_AVX2
static void ng__cv_wkr(const ng__cv_geo *q, int64_t Wp, const float *T, int64_t ldt, const float *const *xr,
                       float *dst, int64_t ldd, int rows, int64_t cols) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    float acc[NG__CV_MR * 16];
    int64_t oy, ox, j;
    int r;
    for (oy = 0; oy < q->Ho; oy++) {
        const float *t = T + oy * q->Wo * ldt;
        const float *x0 = xr[0] + oy * Wp, *x1 = xr[1] + oy * Wp, *x2 = xr[2] + oy * Wp;
        const float *x3 = xr[3] + oy * Wp, *x4 = xr[4] + oy * Wp, *x5 = xr[5] + oy * Wp;
        for (ox = 0; ox < q->Wo; ox++, t += ldt) {
            __m256 b0 = _mm256_loadu_ps(t), b1 = _mm256_loadu_ps(t + 8), wv;
            wv = _mm256_broadcast_ss(x0 + ox); c00 = _mm256_fmadd_ps(wv, b0, c00); c01 = _mm256_fmadd_ps(wv, b1, c01);
            wv = _mm256_broadcast_ss(x1 + ox); c10 = _mm256_fmadd_ps(wv, b0, c10); c11 = _mm256_fmadd_ps(wv, b1, c11);
            wv = _mm256_broadcast_ss(x2 + ox); c20 = _mm256_fmadd_ps(wv, b0, c20); c21 = _mm256_fmadd_ps(wv, b1, c21);
            wv = _mm256_broadcast_ss(x3 + ox); c30 = _mm256_fmadd_ps(wv, b0, c30); c31 = _mm256_fmadd_ps(wv, b1, c31);
            wv = _mm256_broadcast_ss(x4 + ox); c40 = _mm256_fmadd_ps(wv, b0, c40); c41 = _mm256_fmadd_ps(wv, b1, c41);
            wv = _mm256_broadcast_ss(x5 + ox); c50 = _mm256_fmadd_ps(wv, b0, c50); c51 = _mm256_fmadd_ps(wv, b1, c51);
        }
    }
    if (rows == NG__CV_MR && cols == 16) {
#define NG__CV_WACC(r, a, b) \
        _mm256_storeu_ps(dst + (r) * ldd, _mm256_add_ps(_mm256_loadu_ps(dst + (r) * ldd), a)); \
        _mm256_storeu_ps(dst + (r) * ldd + 8, _mm256_add_ps(_mm256_loadu_ps(dst + (r) * ldd + 8), b));
        NG__CV_WACC(0, c00, c01) NG__CV_WACC(1, c10, c11) NG__CV_WACC(2, c20, c21)
        NG__CV_WACC(3, c30, c31) NG__CV_WACC(4, c40, c41) NG__CV_WACC(5, c50, c51)
#undef NG__CV_WACC
        return;
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
    for (r = 0; r < rows; r++)
        for (j = 0; j < cols; j++) dst[r * ldd + j] += acc[r * 16 + j];
}
#endif

/* d/dW of a stride-1, non-pointwise conv2d when at least 3/4 of the 16-channel lanes are used */
static int ng__cv_wdirect_ok(const ng__cv_geo *q) {
#if defined(NG__HAVE_AVX2) && !defined(NG_CONV_NO_DIRECT)
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, Ogp = (q->Og + 15) / 16 * 16;
    return !q->pointwise && q->sh == 1 && q->sw == 1 && 4 * q->Og >= 3 * Ogp && q->Cg * Hp * Wp + 64 < (int64_t)1 << 31;
#else
    (void)q;
    return 0;
#endif
}

static void ng__cv_wgrad_direct(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *gy, float *gw, float *gb) {
#ifdef NG__HAVE_AVX2
    int nth = ng_num_threads(), t;
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, kk = q->kh * q->kw, HWo = q->Ho * q->Wo;
    int64_t Ogp = (q->Og + 15) / 16 * 16, psz = q->Cg * Hp * Wp + 64, tsz = HWo * Ogp + 16;
    int64_t wsz = q->O * q->K, tasks = q->N * q->G, bstride = wsz + q->O + 16, j;
    int par = ng__cv_par(q, tasks, nth);
    float *scr = ng__fzalloc(ctx, (psz + tsz) * nth), *parts = ng__fzalloc(ctx, bstride * nth);
    int64_t *off = (int64_t *)ng__alloc(ctx, (size_t)q->K * sizeof(int64_t));
    if (!scr || !parts || !off) return;
    for (j = 0; j < q->K; j++) off[j] = (j / kk) * Hp * Wp + (j % kk / q->kw) * Wp + j % q->kw;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t tk, t0 = tasks * tid / nt, t1 = tasks * (tid + 1) / nt;
        float *xp = scr + (psz + tsz) * tid, *T = xp + psz;
        float *pw_ = parts + bstride * tid, *pb = pw_ + wsz;
        for (tk = t0; tk < t1; tk++) {
            int64_t img = tk / q->G, g = tk % q->G, c, o, p, k0, ob;
            const float *xg = x + (img * q->C + g * q->Cg) * q->H * q->W;
            const float *yg = gy + (img * q->O + g * q->Og) * HWo;
            if (gb)
                for (o = 0; o < q->Og; o++) pb[g * q->Og + o] += ng__cv_sum(HWo, yg + o * HWo);
            if (!gw) continue;
            for (c = 0; c < q->Cg; c++) ng__cv_pad(q->H, q->W, xg + c * q->H * q->W, q->ph, q->pw, Wp, xp + c * Hp * Wp);
            /* dy^T as (Ogp/16, HWo, 16): each 16-channel block's pixels are contiguous;
               channels >= Og stay 0 */
            for (o = 0; o < q->Og; o++) {
                float *tb = T + (o / 16) * HWo * 16 + o % 16;
                const float *yr = yg + o * HWo;
                for (p = 0; p < HWo; p++) tb[p * 16] = yr[p];
            }
            for (k0 = 0; k0 < q->K; k0 += NG__CV_MR) {
                const float *xr[NG__CV_MR];
                int r, rows = (int)(q->K - k0 < NG__CV_MR ? q->K - k0 : NG__CV_MR);
                for (r = 0; r < NG__CV_MR; r++) xr[r] = xp + (r < rows ? off[k0 + r] : 0);
                for (ob = 0; ob < Ogp; ob += 16)
                    ng__cv_wkr(q, Wp, T + ob * HWo, 16, xr, pw_ + g * q->Og * q->K + k0 * q->Og + ob, q->Og, rows,
                               q->Og - ob < 16 ? q->Og - ob : 16);
            }
        }
    }
    /* deterministic reduction in thread order; partials are (G, K, Og) */
    for (t = 0; t < nth; t++) {
        const float *p = parts + bstride * t;
        if (gw) {
            int64_t g, o, k;
            for (g = 0; g < q->G; g++)
                for (o = 0; o < q->Og; o++)
                    for (k = 0; k < q->K; k++) gw[(g * q->Og + o) * q->K + k] += p[g * q->Og * q->K + k * q->Og + o];
        }
        if (gb) for (j = 0; j < q->O; j++) gb[j] += p[wsz + j];
    }
#else
    (void)ctx; (void)q; (void)x; (void)gy; (void)gw; (void)gb;
#endif
}

/* ---- generic conv / conv-transpose forward over the batch ----
   transposed 0: dst (O side) = [bias] + fwd(src)    (conv2d:           src = x, dst = y)
   transposed 1: dst (C side) = [bias] + adj(src)    (conv_transpose2d: src = x, dst = y) */
static void ng__cv_forward(ng_ctx *ctx, const ng__cv_geo *q, int transposed, const float *src, const float *w,
                           const float *bias, float *dst) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int64_t tasks = q->N * q->G, colsz = ng__cv_col_floats(q);
    int64_t in_sz = q->C * q->H * q->W, out_sz = q->O * q->Ho * q->Wo;
    float *cols = ng__falloc(ctx, colsz * nth);
    int par = ng__cv_par(q, tasks, nth);
    if (!cols) return;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int64_t t, ch;
        float *col = cols + colsz * ng__cv_tid();
        NG__OMP(for schedule(dynamic, 1))
        for (t = 0; t < tasks; t++) {
            int64_t img = t / q->G, g = t % q->G;
            if (!transposed) {
                float *yi = dst + img * out_sz;
                int64_t HW = q->Ho * q->Wo;
                if (bias)
                    for (ch = g * q->Og; ch < (g + 1) * q->Og; ch++) ng__cv_fill(HW, bias[ch], yi + ch * HW);
                ng__cv_fwd(q, be, g, src + img * in_sz, w, bias ? 1.0f : 0.0f, yi, col);
            } else {
                float *yi = dst + img * in_sz;
                int64_t HW = q->H * q->W;
                for (ch = g * q->Cg; ch < (g + 1) * q->Cg; ch++) ng__cv_fill(HW, bias ? bias[ch] : 0.0f, yi + ch * HW);
                ng__cv_adj(q, be, g, src + img * out_sz, w, yi, col);
            }
        }
    }
}

/* Backward of either op. For conv2d (transposed 0) the geometry's input side is x and its
   output side y: dx = adj(dy), dW += dy @ im2col(x)^T, bias on the output side. For
   conv_transpose2d (transposed 1) the geometry's output side is x and its input side y:
   dx = fwd(dy), dW += x @ im2col(dy)^T, bias on the input side. */
static void ng__cv_backward(ng_ctx *ctx, const ng__cv_geo *q, int transposed, const float *x, const float *w,
                            const float *gy, float *gx, int gx_fresh, float *gw, float *gb) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int wtr = q->Og < 128; /* measured: the long side first is faster when O/G is small */
    int64_t tasks = q->N * q->G, colsz = (gx || gw) ? ng__cv_col_floats(q) : 1;
    int64_t wsz = q->O * q->K, bsz = transposed ? q->C : q->O, j;
    int64_t bstride = wsz + bsz + 16; /* per-thread partial: dW then db */
    float *cols = ng__falloc(ctx, colsz * nth), *parts = NULL;
    int par = ng__cv_par(q, tasks, nth), t;
    if (gw || gb) parts = ng__fzalloc(ctx, bstride * nth);
    if (!cols || ((gw || gb) && !parts)) return;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t tk, t0 = tasks * tid / nt, t1 = tasks * (tid + 1) / nt, ch;
        float *col = cols + colsz * tid;
        float *pw_ = parts ? parts + bstride * tid : NULL, *pb = parts ? pw_ + wsz : NULL;
        for (tk = t0; tk < t1; tk++) {
            int64_t img = tk / q->G, g = tk % q->G;
            int64_t in_off = img * q->C * q->H * q->W, out_off = img * q->O * q->Ho * q->Wo;
            if (!transposed) {
                if (gx && gx_fresh) { /* not zeroed yet: the GEMM overwrites (1x1) or col2im adds to zeros */
                    if (q->pointwise) ng_sgemm(be, 1, 0, q->Cg, q->H * q->W, q->Og, 1.0f, w + g * q->Og * q->K, q->K,
                                               gy + out_off + g * q->Og * q->Ho * q->Wo, q->Ho * q->Wo, 0.0f,
                                               gx + in_off + g * q->Cg * q->H * q->W, q->H * q->W);
                    else {
                        memset(gx + in_off + g * q->Cg * q->H * q->W, 0, (size_t)(q->Cg * q->H * q->W) * sizeof(float));
                        ng__cv_adj(q, be, g, gy + out_off, w, gx + in_off, col);
                    }
                } else if (gx) ng__cv_adj(q, be, g, gy + out_off, w, gx + in_off, col);
                if (gw) {
                    if (wtr) ng__cv_wgrad_t(q, be, g, gy + out_off, x + in_off, pw_, col);
                    else ng__cv_wgrad(q, be, g, gy + out_off, x + in_off, pw_, col);
                }
                if (gb)
                    for (ch = g * q->Og; ch < (g + 1) * q->Og; ch++)
                        pb[ch] += ng__cv_sum(q->Ho * q->Wo, gy + out_off + ch * q->Ho * q->Wo);
            } else {
                if (gx) ng__cv_fwd(q, be, g, gy + in_off, w, gx_fresh ? 0.0f : 1.0f, gx + out_off, col);
                if (gw) {
                    if (wtr) ng__cv_wgrad_t(q, be, g, x + out_off, gy + in_off, pw_, col);
                    else ng__cv_wgrad(q, be, g, x + out_off, gy + in_off, pw_, col);
                }
                if (gb)
                    for (ch = g * q->Cg; ch < (g + 1) * q->Cg; ch++)
                        pb[ch] += ng__cv_sum(q->H * q->W, gy + in_off + ch * q->H * q->W);
            }
        }
    }
    /* deterministic reduction: thread partials added in thread order */
    for (t = 0; t < nth; t++) {
        const float *p = parts ? parts + bstride * t : NULL;
        if (gw && !wtr) for (j = 0; j < wsz; j++) gw[j] += p[j];
        if (gw && wtr) {
            int64_t g, o, k;
            for (g = 0; g < q->G; g++)
                for (o = 0; o < q->Og; o++)
                    for (k = 0; k < q->K; k++) gw[(g * q->Og + o) * q->K + k] += p[g * q->Og * q->K + k * q->Og + o];
        }
        if (gb) for (j = 0; j < bsz; j++) gb[j] += p[wsz + j];
    }
}

/* ---- depthwise conv2d (C/G == O/G == 1): direct kernels, split over channels ----
   Each plane is copied into a zero-bordered scratch plane once, so the stride-1 kernels run
   without bounds checks: forward and d/dx (a correlation of the padded dL/dy with the flipped
   kernel) keep a row of outputs in registers over all taps; d/dW keeps one sum per tap. */
/* y[x] = (accumulate ? y[x] : base) + sum_{ky, kx} w[ky*kw + kx] * P[ky*ldp + x + kx], x < n */
static void ng__cv_dw_row(int64_t n, const float *P, int64_t ldp, const float *w, int64_t kh, int64_t kw,
                          float base, int accumulate, float *y) {
    int64_t x = 0, ky, kx;
#ifdef NG__HAVE_AVX2
    for (; x + 32 <= n; x += 32) {
        __m256 a0, a1, a2, a3;
        if (accumulate) {
            a0 = _mm256_loadu_ps(y + x); a1 = _mm256_loadu_ps(y + x + 8);
            a2 = _mm256_loadu_ps(y + x + 16); a3 = _mm256_loadu_ps(y + x + 24);
        } else {
            a0 = a1 = a2 = a3 = _mm256_set1_ps(base);
        }
        for (ky = 0; ky < kh; ky++) {
            const float *pr = P + ky * ldp + x;
            for (kx = 0; kx < kw; kx++) {
                __m256 wv = _mm256_broadcast_ss(w + ky * kw + kx);
                a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx), a0);
                a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 8), a1);
                a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 16), a2);
                a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 24), a3);
            }
        }
        _mm256_storeu_ps(y + x, a0); _mm256_storeu_ps(y + x + 8, a1);
        _mm256_storeu_ps(y + x + 16, a2); _mm256_storeu_ps(y + x + 24, a3);
    }
    for (; x + 8 <= n; x += 8) {
        __m256 a0 = accumulate ? _mm256_loadu_ps(y + x) : _mm256_set1_ps(base);
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + ky * kw + kx), _mm256_loadu_ps(P + ky * ldp + x + kx), a0);
        _mm256_storeu_ps(y + x, a0);
    }
#endif
    for (; x < n; x++) {
        float a = accumulate ? y[x] : base;
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++) a += w[ky * kw + kx] * P[ky * ldp + x + kx];
        y[x] = a;
    }
}
/* The same for 5 <= kw <= 8 (AVX2): a row of taps at once, one register of sums per tap over
   8-pixel chunks, so each load of g feeds kw multiply-adds instead of one (measured 20% faster
   at 7x7; at 3x3 the per-tap loop below is as fast). Lanes are added in a fixed order. */
#ifdef NG__HAVE_AVX2
static float ng__cv_hsum8(__m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}
static void ng__cv_dw_taps_row(int64_t rows, int64_t n, const float *g, const float *P, int64_t ldp, int64_t kh,
                               int64_t kw, float *s) {
    int64_t ky, kx, r, x;
    for (ky = 0; ky < kh; ky++) {
        __m256 acc[8];
        float tail[8] = {0};
        for (kx = 0; kx < kw; kx++) acc[kx] = _mm256_setzero_ps();
        for (r = 0; r < rows; r++) {
            const float *gr = g + r * n, *pr = P + (r + ky) * ldp;
            for (x = 0; x + 8 <= n; x += 8) {
                __m256 g0 = _mm256_loadu_ps(gr + x);
                for (kx = 0; kx < kw; kx++) acc[kx] = _mm256_fmadd_ps(g0, _mm256_loadu_ps(pr + x + kx), acc[kx]);
            }
            for (; x < n; x++)
                for (kx = 0; kx < kw; kx++) tail[kx] += gr[x] * pr[x + kx];
        }
        for (kx = 0; kx < kw; kx++) s[ky * kw + kx] += ng__cv_hsum8(acc[kx]) + tail[kx];
    }
}
#endif
/* s[ky*kw + kx] += sum_{r < rows, x < n} g[r*n + x] * P[(r + ky)*ldp + x + kx] */
static void ng__cv_dw_taps(int64_t rows, int64_t n, const float *g, const float *P, int64_t ldp, int64_t kh,
                           int64_t kw, float *s) {
    int64_t ky, kx, r, x;
#ifdef NG__HAVE_AVX2
    if (kw >= 5 && kw <= 8 && n >= 8) { ng__cv_dw_taps_row(rows, n, g, P, ldp, kh, kw, s); return; }
#endif
    for (ky = 0; ky < kh; ky++)
        for (kx = 0; kx < kw; kx++) {
            float tail = 0.0f, tot;
#ifdef NG__HAVE_AVX2
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            float v[8];
            int k;
            for (r = 0; r < rows; r++) {
                const float *gr = g + r * n, *pr = P + (r + ky) * ldp + kx;
                for (x = 0; x + 32 <= n; x += 32) {
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 8), _mm256_loadu_ps(pr + x + 8), a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 16), _mm256_loadu_ps(pr + x + 16), a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 24), _mm256_loadu_ps(pr + x + 24), a3);
                }
                for (k = 0; x + 8 <= n; x += 8, k++) {
                    if (k & 1) a1 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a1);
                    else a0 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a0);
                }
                for (; x < n; x++) tail += gr[x] * pr[x];
            }
            _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            tot = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
#else
            tot = 0.0f;
            for (r = 0; r < rows; r++)
                for (x = 0; x < n; x++) tail += g[r * n + x] * P[(r + ky) * ldp + x + kx];
#endif
            s[ky * kw + kx] += tot + tail;
        }
}

typedef struct ng__cv_dw_plan {
    int64_t Hp, Wp;     /* padded input plane */
    int64_t qh, qw;     /* padding of dL/dy for the gather form of d/dx (-1: not usable) */
    int64_t Hq, Wq;
    int64_t scratch;    /* floats per thread */
} ng__cv_dw_plan;
static ng__cv_dw_plan ng__cv_dw_plan_of(const ng__cv_geo *q) {
    ng__cv_dw_plan d;
    d.Hp = q->H + 2 * q->ph; d.Wp = q->W + 2 * q->pw;
    if (q->sh == 1 && q->sw == 1 && q->ph <= q->kh - 1 && q->pw <= q->kw - 1) {
        d.qh = q->kh - 1 - q->ph; d.qw = q->kw - 1 - q->pw;
        d.Hq = q->Ho + 2 * d.qh; d.Wq = q->Wo + 2 * d.qw;
    } else {
        d.qh = d.qw = -1;
        d.Hq = d.Hp; d.Wq = d.Wp; /* scatter form: a padded gradient plane like P */
    }
    d.scratch = d.Hp * d.Wp + d.Hq * d.Wq + q->kh * q->kw + 32;
    return d;
}
static void ng__cv_dw_forward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *bias, float *y) {
    int nth = ng_num_threads();
    ng__cv_dw_plan d = ng__cv_dw_plan_of(q);
    float *scr = ng__fzalloc(ctx, d.scratch * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1 && q->N * q->C * q->Ho * q->Wo * q->kh * q->kw >= ((int64_t)1 << 18)) num_threads(nth))
    {
        int64_t c, img, oy, ky, kx, ox;
        float *P = scr + d.scratch * ng__cv_tid();
        NG__OMP(for schedule(dynamic, 1))
        for (c = 0; c < q->C; c++) {
            const float *wc = w + c * q->kh * q->kw;
            float b0 = bias ? bias[c] : 0.0f;
            for (img = 0; img < q->N; img++) {
                float *yp = y + (img * q->C + c) * q->Ho * q->Wo;
                ng__cv_pad(q->H, q->W, x + (img * q->C + c) * q->H * q->W, q->ph, q->pw, d.Wp, P);
                for (oy = 0; oy < q->Ho; oy++) {
                    float *yr = yp + oy * q->Wo;
                    if (q->sw == 1) {
                        ng__cv_dw_row(q->Wo, P + oy * q->sh * d.Wp, d.Wp, wc, q->kh, q->kw, b0, 0, yr);
                        continue;
                    }
                    ng__cv_fill(q->Wo, b0, yr);
                    for (ky = 0; ky < q->kh; ky++) {
                        const float *pr = P + (oy * q->sh + ky) * d.Wp;
                        for (kx = 0; kx < q->kw; kx++)
                            for (ox = 0; ox < q->Wo; ox++) yr[ox] += wc[ky * q->kw + kx] * pr[ox * q->sw + kx];
                    }
                }
            }
        }
    }
}
/* One pass over each (channel, image) plane: d/dW and d/db sums (over the images in order),
   then d/dx while the plane of dL/dy is still in cache. gx_fresh: gx is not zeroed yet, so each
   of its planes is stored (0 + v) rather than added to. */
static void ng__cv_dw_backward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *gy,
                               float *gx, int gx_fresh, float *gw, float *gb) {
    int nth = ng_num_threads();
    ng__cv_dw_plan d = ng__cv_dw_plan_of(q);
    int64_t kk = q->kh * q->kw, per = d.scratch + kk;
    float *scr = ng__fzalloc(ctx, per * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1 && q->N * q->C * q->Ho * q->Wo * q->kh * q->kw >= ((int64_t)1 << 18)) num_threads(nth))
    {
        int64_t c, img, oy, ky, kx, ox, iy, j;
        float *P = scr + per * ng__cv_tid(), *Q = P + d.Hp * d.Wp, *ws = Q + d.Hq * d.Wq, *wf = ws + kk;
        NG__OMP(for schedule(dynamic, 1))
        for (c = 0; c < q->C; c++) {
            const float *wc = w + c * kk;
            float bsum = 0.0f;
            for (j = 0; j < kk; j++) {
                ws[j] = 0.0f;            /* d/dW sums of this channel */
                wf[j] = wc[kk - 1 - j];  /* the flipped kernel, for d/dx */
            }
            for (img = 0; img < q->N; img++) {
                const float *gp = gy + (img * q->C + c) * q->Ho * q->Wo;
                float *gxp = gx ? gx + (img * q->C + c) * q->H * q->W : NULL;
                if (gb) bsum += ng__cv_sum(q->Ho * q->Wo, gp);
                if (gw) {
                    ng__cv_pad(q->H, q->W, x + (img * q->C + c) * q->H * q->W, q->ph, q->pw, d.Wp, P);
                    if (q->sh == 1 && q->sw == 1) ng__cv_dw_taps(q->Ho, q->Wo, gp, P, d.Wp, q->kh, q->kw, ws);
                    else
                        for (oy = 0; oy < q->Ho; oy++)
                            for (ky = 0; ky < q->kh; ky++)
                                for (kx = 0; kx < q->kw; kx++) {
                                    const float *pr = P + (oy * q->sh + ky) * d.Wp + kx, *gr = gp + oy * q->Wo;
                                    float a = 0.0f;
                                    for (ox = 0; ox < q->Wo; ox++) a += gr[ox] * pr[ox * q->sw];
                                    ws[ky * q->kw + kx] += a;
                                }
                }
                if (!gxp) continue;
                if (d.qh >= 0) { /* gather: correlation of the padded dL/dy with the flipped kernel */
                    ng__cv_pad(q->Ho, q->Wo, gp, d.qh, d.qw, d.Wq, Q);
                    for (iy = 0; iy < q->H; iy++)
                        ng__cv_dw_row(q->W, Q + iy * d.Wq, d.Wq, wf, q->kh, q->kw, 0.0f, !gx_fresh, gxp + iy * q->W);
                    continue;
                }
                /* scatter into a zeroed padded plane, then add its interior */
                memset(Q, 0, (size_t)(d.Hq * d.Wq) * sizeof(float));
                for (oy = 0; oy < q->Ho; oy++)
                    for (ky = 0; ky < q->kh; ky++) {
                        float *pr = Q + (oy * q->sh + ky) * d.Wq;
                        const float *gr = gp + oy * q->Wo;
                        for (kx = 0; kx < q->kw; kx++)
                            for (ox = 0; ox < q->Wo; ox++) pr[ox * q->sw + kx] += wc[ky * q->kw + kx] * gr[ox];
                    }
                for (iy = 0; iy < q->H; iy++) {
                    if (gx_fresh) {
                        const float *qr = Q + (iy + q->ph) * d.Wq + q->pw;
                        for (j = 0; j < q->W; j++) gxp[iy * q->W + j] = 0.0f + qr[j];
                    } else {
                        ng__cv_vadd(q->W, Q + (iy + q->ph) * d.Wq + q->pw, gxp + iy * q->W);
                    }
                }
            }
            if (gw)
                for (j = 0; j < kk; j++) gw[c * kk + j] += ws[j];
            if (gb) gb[c] += bsum;
        }
    }
}

/* ---- shape rules ---- */
static int ng__cv_check(ng_ctx *ctx, const char *op, int sh, int sw, int ph, int pw, int groups) {
    if (ctx->status != NG_OK) return 0;
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0 || groups < 1) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "%s: stride %dx%d must be >= 1, padding %dx%d >= 0, groups %d >= 1", op, sh, sw, ph, pw, groups);
        return 0;
    }
    return 1;
}

/* ---- conv2d ---- */
/* i: 0 stride_h, 1 stride_w, 2 pad_h, 3 pad_w, 4 groups */
ng_tensor *ng_conv2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                        int pad_h, int pad_w, int groups) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t Ho, Wo;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV2D);
    if (!ng__cv_check(ctx, "conv2d", stride_h, stride_w, pad_h, pad_w, groups)) return NULL;
    NG_ASSERT(x->shape.ndim == 4 && w->shape.ndim == 4);
    NG_ASSERT(x->shape.d[1] % groups == 0 && w->shape.d[0] % groups == 0);
    NG_ASSERT(w->shape.d[1] * groups == x->shape.d[1]);
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    Ho = x->shape.d[2] + 2 * pad_h - w->shape.d[2];
    Wo = x->shape.d[3] + 2 * pad_w - w->shape.d[3];
    if (Ho < 0 || Wo < 0) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv2d: kernel %lldx%lld is larger than the padded input %lldx%lld",
                (long long)w->shape.d[2], (long long)w->shape.d[3], (long long)(x->shape.d[2] + 2 * pad_h),
                (long long)(x->shape.d[3] + 2 * pad_w));
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_CONV2D, ins, b ? 3 : 2,
                  ng_shape4(x->shape.d[0], w->shape.d[0], Ho / stride_h + 1, Wo / stride_w + 1));
    if (!n) return NULL;
    n->i[0] = stride_h; n->i[1] = stride_w; n->i[2] = pad_h; n->i[3] = pad_w; n->i[4] = groups;
    return ng__finish(n);
}
ng_tensor *ng_conv2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride, int pad, int groups) {
    return ng_conv2d_ex(ctx, x, w, b, stride, stride, pad, pad, groups);
}
static ng__cv_geo ng__cv_geo_conv(const ng_node *n) {
    ng__cv_geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.C = xs->d[1]; q.H = xs->d[2]; q.W = xs->d[3];
    q.O = ys->d[1]; q.Ho = ys->d[2]; q.Wo = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    ng__cv_finish_geo(&q);
    return q;
}
static int ng__cv_depthwise(const ng__cv_geo *q) { return q->Cg == 1 && q->Og == 1; }
/* Forward and backward give their scratch (column buffers, padded planes, packed weights,
   partial sums) back to the arena when they return: it is allocated after the output and the
   input gradients, so the step's arena holds activations and gradients only. */
static void ng__fw_conv2d_run(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    const float *b = n->n_in == 3 ? n->in[2]->data : NULL;
    if (ng__cv_depthwise(&q)) ng__cv_dw_forward(n->ctx, &q, n->in[0]->data, n->in[1]->data, b, n->out->data);
    else if (ng__cv_direct_ok(&q)) ng__cv_direct(n->ctx, &q, n->in[0]->data, n->in[1]->data, 0, b, 0, n->out->data);
    else ng__cv_forward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, b, n->out->data);
}
static void ng__fw_conv2d(ng_node *n) {
    size_t mark = n->ctx->arena.used;
    ng__fw_conv2d_run(n);
    n->ctx->arena.used = mark;
}
static void ng__bw_conv2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    int fresh; /* gx not zeroed: the first pass stores instead of adding */
    float *gx = ng__in_grad_fresh(n, 0, &fresh), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    size_t mark = n->ctx->arena.used;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    if (ng__cv_depthwise(&q)) {
        ng__cv_dw_backward(n->ctx, &q, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
        n->ctx->arena.used = mark;
        return;
    }
    if (gx && q.sh == 1 && q.sw == 1 && q.ph <= q.kh - 1 && q.pw <= q.kw - 1) {
        ng__cv_geo f = ng__cv_flip_geo(&q);
        if (ng__cv_direct_ok(&f)) {
            ng__cv_direct(n->ctx, &f, n->out->grad, n->in[1]->data, 1, NULL, !fresh, gx);
            gx = NULL;
        }
    }
    if ((gw || gb) && ng__cv_wdirect_ok(&q)) {
        ng__cv_wgrad_direct(n->ctx, &q, n->in[0]->data, n->out->grad, gw, gb);
        gw = gb = NULL;
    }
    if (gx || gw || gb) ng__cv_backward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
    n->ctx->arena.used = mark;
}

/* ---- conv_transpose2d ---- */
/* i: 0 stride_h, 1 stride_w, 2 pad_h, 3 pad_w, 4 groups, 5 output_padding_h, 6 output_padding_w */
ng_tensor *ng_conv_transpose2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                                  int pad_h, int pad_w, int outpad_h, int outpad_w, int groups) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t Ho, Wo, O;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV_T2D);
    if (!ng__cv_check(ctx, "conv_transpose2d", stride_h, stride_w, pad_h, pad_w, groups)) return NULL;
    if (outpad_h < 0 || outpad_w < 0 || outpad_h >= stride_h || outpad_w >= stride_w) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv_transpose2d: output_padding %dx%d must be >= 0 and smaller than the stride %dx%d",
                outpad_h, outpad_w, stride_h, stride_w);
        return NULL;
    }
    NG_ASSERT(x->shape.ndim == 4 && w->shape.ndim == 4);
    NG_ASSERT(w->shape.d[0] == x->shape.d[1] && x->shape.d[1] % groups == 0);
    O = w->shape.d[1] * groups;
    NG_ASSERT(!b || b->numel == O);
    Ho = (x->shape.d[2] - 1) * stride_h - 2 * pad_h + w->shape.d[2] + outpad_h;
    Wo = (x->shape.d[3] - 1) * stride_w - 2 * pad_w + w->shape.d[3] + outpad_w;
    if (Ho < 1 || Wo < 1) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv_transpose2d: output size %lldx%lld is not positive", (long long)Ho, (long long)Wo);
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_CONV_T2D, ins, b ? 3 : 2, ng_shape4(x->shape.d[0], O, Ho, Wo));
    if (!n) return NULL;
    n->i[0] = stride_h; n->i[1] = stride_w; n->i[2] = pad_h; n->i[3] = pad_w; n->i[4] = groups;
    n->i[5] = outpad_h; n->i[6] = outpad_w;
    return ng__finish(n);
}
ng_tensor *ng_conv_transpose2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride, int pad,
                               int output_padding, int groups) {
    return ng_conv_transpose2d_ex(ctx, x, w, b, stride, stride, pad, pad, output_padding, output_padding, groups);
}
/* the conv2d whose adjoint this is: conv input = our output y, conv output = our input x */
static ng__cv_geo ng__cv_geo_convt(const ng_node *n) {
    ng__cv_geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.O = xs->d[1]; q.Ho = xs->d[2]; q.Wo = xs->d[3];
    q.C = ys->d[1]; q.H = ys->d[2]; q.W = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    ng__cv_finish_geo(&q);
    return q;
}
static void ng__fw_conv_transpose2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_convt(n);
    size_t mark = n->ctx->arena.used;
    ng__cv_forward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->n_in == 3 ? n->in[2]->data : NULL, n->out->data);
    n->ctx->arena.used = mark;
}
static void ng__bw_conv_transpose2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_convt(n);
    int fresh;
    float *gx = ng__in_grad_fresh(n, 0, &fresh), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    size_t mark = n->ctx->arena.used;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    ng__cv_backward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
    n->ctx->arena.used = mark;
}

/* ---- src/ops_resample.c ---- */
/* ======================================================================================== */
/* @@OPS resampling and pooling (NCHW)                                                      */
/* ======================================================================================== */
/* ---- upsampling x2: nearest (i[0] = 0) and bilinear, align_corners=False (i[0] = 1) ---- */
static ng_tensor *ng__upsample(ng_ctx *ctx, ng_tensor *x, int mode) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_UPSAMPLE);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_UPSAMPLE, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], 2 * x->shape.d[2], 2 * x->shape.d[3]));
    if (!n) return NULL;
    n->i[0] = mode;
    return ng__finish(n);
}
ng_tensor *ng_upsample_nearest2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 0); }
ng_tensor *ng_upsample_bilinear2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 1); }

/* PyTorch's source index and weights for output index d along an axis of `in` elements
   (scale 1/2, align_corners=False): src = max(0, (d + 0.5) / 2 - 0.5). */
static void ng__up_lin(int64_t d, int64_t in, int64_t *i0, int64_t *i1, float *l0, float *l1) {
    float src = 0.5f * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int64_t)src;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (float)*i0;
    *l0 = 1.0f - *l1;
}
typedef struct ng__up_tab { int64_t i0, i1; float l0, l1; } ng__up_tab;
static ng__up_tab *ng__up_table(ng_ctx *ctx, int64_t in) {
    ng__up_tab *t = (ng__up_tab *)ng__alloc(ctx, (size_t)(2 * in) * sizeof *t);
    int64_t d;
    if (t)
        for (d = 0; d < 2 * in; d++) ng__up_lin(d, in, &t[d].i0, &t[d].i1, &t[d].l0, &t[d].l1);
    return t;
}
static void ng__fw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    ng__up_tab *th = NULL, *tw = NULL;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * 4 * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                float *r = yp + 2 * i * 2 * W;
                for (j = 0; j < W; j++) r[2 * j] = r[2 * j + 1] = xp[i * W + j];
                memcpy(r + 2 * W, r, (size_t)(2 * W) * sizeof(float));
            }
        } else {
            for (i = 0; i < 2 * H; i++) {
                const float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W;
                float h0 = th[i].l0, h1 = th[i].l1, *r = yp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r[j] = (r0[c->i0] * c->l0 + r0[c->i1] * c->l1) * h0 + (r1[c->i0] * c->l0 + r1[c->i1] * c->l1) * h1;
                }
            }
        }
    }
}
static void ng__bw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *g = n->out->grad;
    int fresh; /* gx not zeroed: nearest stores each element once, bilinear zeroes its planes */
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    ng__up_tab *th = NULL, *tw = NULL;
    if (!gx) return;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *gp = g + p * 4 * H * W;
        float *xp = gx + p * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                const float *r0 = gp + 2 * i * 2 * W, *r1 = r0 + 2 * W;
                for (j = 0; j < W; j++)
                    xp[i * W + j] = (fresh ? 0.0f : xp[i * W + j]) + ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]));
            }
        } else {
            if (fresh) memset(xp, 0, (size_t)(H * W) * sizeof(float));
            for (i = 0; i < 2 * H; i++) {
                float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W, h0 = th[i].l0, h1 = th[i].l1;
                const float *r = gp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r0[c->i0] += h0 * c->l0 * r[j];
                    r0[c->i1] += h0 * c->l1 * r[j];
                    r1[c->i0] += h1 * c->l0 * r[j];
                    r1[c->i1] += h1 * c->l1 * r[j];
                }
            }
        }
    }
}

/* ---- avg_pool2d(x, 2): kernel 2, stride 2, floor ---- */
ng_tensor *ng_avg_pool2d(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_AVG_POOL2);
    NG_ASSERT(x->shape.ndim == 4);
    if (x->shape.d[2] < 2 || x->shape.d[3] < 2) {
        ng__bad(ctx, "avg_pool2d", "input is smaller than the 2x2 window");
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_AVG_POOL2, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], x->shape.d[2] / 2, x->shape.d[3] / 2));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        for (i = 0; i < Ho; i++) {
            const float *r0 = x + p * H * W + 2 * i * W, *r1 = r0 + W;
            float *r = y + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) r[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) / 4.0f;
        }
    }
}
static void ng__bw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *g = n->out->grad;
    int fresh; /* gx not zeroed: its planes are zeroed here, in parallel */
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    if (!gx) return;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        if (fresh) memset(gx + p * H * W, 0, (size_t)(H * W) * sizeof(float));
        for (i = 0; i < Ho; i++) {
            float *r0 = gx + p * H * W + 2 * i * W, *r1 = r0 + W;
            const float *r = g + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) {
                float v = r[j] * 0.25f;
                r0[2 * j] += v; r0[2 * j + 1] += v; r1[2 * j] += v; r1[2 * j + 1] += v;
            }
        }
    }
}

/* ---- sum over H and W: (N, C, H, W) -> (N, C) ---- */
ng_tensor *ng_sum_hw(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_SUM_HW);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_SUM_HW, &x, 1, ng_shape2(x->shape.d[0], x->shape.d[1]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = n->in[0]->data + p * HW;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < HW; j++) acc += xp[j];
        n->out->data[p] = (float)acc;
    }
}
static void ng__bw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    int fresh;
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    if (!gx) return;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        float v = n->out->grad[p], *xp = gx + p * HW;
        int64_t j;
        if (fresh) for (j = 0; j < HW; j++) xp[j] = 0.0f + v;
        else for (j = 0; j < HW; j++) xp[j] += v;
    }
}

/* ---- src/ops_norm.c ---- */
/* ======================================================================================== */
/* @@OPS batch norm and spectral norm                                                        */
/* ======================================================================================== */

/* ---- batch norm ----
   x viewed as (N, C, S) with S = product of dims 2..; statistics per channel over M = N*S
   values. Inputs: x, then gamma (if i[1]), then beta (if i[2]). i[0] = 1 when batch statistics
   are used (training, or no running statistics), i[3] = C, i[4] = S. f[0] = momentum, f[1] = eps.
   saved: (2C) floats, per-channel mean then inverse standard deviation actually used.
   aux: ng__bn_aux (running statistics, updated in place by the forward). */
typedef struct ng__bn_aux { ng_tensor *running_mean, *running_var; } ng__bn_aux;

/* Per-span sums in double with four accumulators (a fixed order, so deterministic; four
   chains keep the adds from being latency-bound). */
/* Per-channel sums: 16 float lanes over chunks of 1024 elements (vectorises without
   reassociation), each chunk's lanes then added in double, so accuracy stays close to a
   double sum at float speed. */
#define NG__BN_LANES 16
#define NG__BN_CHUNK 1024
static double ng__lanes_total(const float *acc) {
    double t = 0.0;
    int j;
    for (j = 0; j < NG__BN_LANES; j++) t += acc[j];
    return t;
}
static double ng__span_sum(const float *x, int64_t n) {
    double total = 0.0;
    int64_t i = 0, end;
    while (i < n) {
        float acc[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) acc[j] += x[i + j];
        for (; i < end; i++) acc[0] += x[i];
        total += ng__lanes_total(acc);
    }
    return total;
}
static double ng__span_sqdev(const float *x, int64_t n, double mean_d) {
    const float mean = (float)mean_d;
    double total = 0.0;
    int64_t i = 0, end;
    while (i < n) {
        float acc[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) { float d = x[i + j] - mean; acc[j] += d * d; }
        for (; i < end; i++) { float d = x[i] - mean; acc[0] += d * d; }
        total += ng__lanes_total(acc);
    }
    return total;
}
/* sg += sum(g), sgx += sum(g (x - mean)) */
static void ng__span_gsums(const float *g, const float *x, int64_t n, double mean_d, double *sg, double *sgx) {
    const float mean = (float)mean_d;
    int64_t i = 0, end;
    while (i < n) {
        float a[NG__BN_LANES] = {0}, bx[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) { a[j] += g[i + j]; bx[j] += g[i + j] * (x[i + j] - mean); }
        for (; i < end; i++) { a[0] += g[i]; bx[0] += g[i] * (x[i] - mean); }
        *sg += ng__lanes_total(a);
        *sgx += ng__lanes_total(bx);
    }
}

ng_tensor *ng_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma, ng_tensor *beta,
                         ng_tensor *running_mean, ng_tensor *running_var, float momentum, float eps) {
    ng_tensor *ins[3];
    ng_node *n;
    ng__bn_aux *aux;
    int n_in = 1, batch_stats, d;
    int64_t C, S = 1, M;
    if (!x) return ng__null_input(ctx, NG_OP_BATCH_NORM);
    NG_ASSERT(x->shape.ndim >= 2);
    NG_ASSERT((running_mean == NULL) == (running_var == NULL));
    if (!ng__side_device_ok(ctx, NG_OP_BATCH_NORM, x, running_mean, "running_mean") ||
        !ng__side_device_ok(ctx, NG_OP_BATCH_NORM, x, running_var, "running_var"))
        return NULL;
    C = x->shape.d[1];
    for (d = 2; d < x->shape.ndim; d++) S *= x->shape.d[d];
    M = x->shape.d[0] * S;
    NG_ASSERT(!gamma || gamma->numel == C);
    NG_ASSERT(!beta || beta->numel == C);
    NG_ASSERT(!running_mean || (running_mean->numel == C && running_var->numel == C));
    NG_ASSERT(eps >= 0.0f);
    batch_stats = ctx->training || !running_mean;
    if (batch_stats && M < 2) {
        /* as PyTorch: the batch variance of one value is meaningless (and the unbiased one is 0/0) */
        if (ctx->status == NG_OK) ng__bad(ctx, "batch_norm", "expected more than 1 value per channel when using batch statistics");
        return NULL;
    }
    ins[0] = x;
    if (gamma) ins[n_in++] = gamma;
    if (beta) ins[n_in++] = beta;
    n = ng__begin(ctx, NG_OP_BATCH_NORM, ins, n_in, x->shape);
    if (!n) return NULL;
    n->i[0] = batch_stats;
    n->i[1] = gamma != NULL;
    n->i[2] = beta != NULL;
    n->i[3] = C;
    n->i[4] = S;
    n->f[0] = momentum;
    n->f[1] = eps;
    n->saved = ng__falloc(ctx, 2 * (C ? C : 1));
    aux = (ng__bn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->running_mean = running_mean;
    aux->running_var = running_var;
    n->aux = aux;
    return ng__finish(n);
}
static void ng__fw_batch_norm(ng_node *n) {
    const ng__bn_aux *aux = (const ng__bn_aux *)n->aux;
    int64_t C = n->i[3], S = n->i[4], N = n->in[0]->shape.d[0], M = N * S, c;
    const float *x = n->in[0]->data;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *beta = n->i[2] ? n->in[1 + n->i[1]]->data : NULL;
    float *y = n->out->data, *mean_s = (float *)n->saved, *invstd_s = mean_s + C;
    float *rm = aux->running_mean ? aux->running_mean->data : NULL;
    float *rv = aux->running_var ? aux->running_var->data : NULL;
    int batch_stats = (int)n->i[0];
    float mom = n->f[0], eps = n->f[1];
NG__OMP_FOR(n->out->numel > 32768 && C > 1)
    for (c = 0; c < C; c++) {
        int64_t b, s;
        double mean, invstd;
        float scale, shift;
        if (batch_stats) {
            double sum = 0.0, sq = 0.0;
            for (b = 0; b < N; b++) sum += ng__span_sum(x + (b * C + c) * S, S);
            mean = sum / (double)M;   /* two passes: the deviations are summed exactly enough */
            for (b = 0; b < N; b++) sq += ng__span_sqdev(x + (b * C + c) * S, S, mean);
            invstd = 1.0 / sqrt(sq / (double)M + (double)eps);
            if (rm) { /* running stats: biased variance normalises, the unbiased one is tracked */
                rm[c] = (float)((1.0 - mom) * rm[c] + (double)mom * mean);
                rv[c] = (float)((1.0 - mom) * rv[c] + (double)mom * (sq / (double)(M - 1)));
            }
        } else {
            mean = rm[c];
            invstd = 1.0 / sqrt((double)rv[c] + (double)eps);
        }
        mean_s[c] = (float)mean;
        invstd_s[c] = (float)invstd;
        scale = (float)((gamma ? gamma[c] : 1.0) * invstd);
        shift = (float)((beta ? beta[c] : 0.0) - mean * (double)scale);
        for (b = 0; b < N; b++) {
            const float *xr = x + (b * C + c) * S;
            float *yr = y + (b * C + c) * S;
            for (s = 0; s < S; s++) yr[s] = xr[s] * scale + shift;
        }
    }
}
/* Batch statistics: dx = gamma invstd (g - mean(g) - xhat mean(g xhat)), with xhat the
   normalised input; running statistics: dx = gamma invstd g. dgamma = sum(g xhat), dbeta = sum(g). */
static void ng__bw_batch_norm(ng_node *n) {
    int64_t C = n->i[3], S = n->i[4], N = n->in[0]->shape.d[0], M = N * S, c;
    const float *x = n->in[0]->data, *g = n->out->grad;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *mean_s = (const float *)n->saved, *invstd_s = mean_s + C;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh); /* may be g itself: each element is read before it is written */
    float *ggamma = n->i[1] ? ng__in_grad(n, 1) : NULL;
    float *gbeta = n->i[2] ? ng__in_grad(n, (int)(1 + n->i[1])) : NULL;
    int batch_stats = (int)n->i[0];
    if (n->ctx->status != NG_OK) return;
NG__OMP_FOR(n->out->numel > 32768 && C > 1)
    for (c = 0; c < C; c++) {
        int64_t b, s;
        float mean = mean_s[c], invstd = invstd_s[c];
        double sg = 0.0, sgx = 0.0;
        if (ggamma || gbeta || (gx && batch_stats)) {
            for (b = 0; b < N; b++) ng__span_gsums(g + (b * C + c) * S, x + (b * C + c) * S, S, mean, &sg, &sgx);
            sgx *= invstd; /* sum(g xhat) */
            if (ggamma) ggamma[c] += (float)sgx;
            if (gbeta) gbeta[c] += (float)sg;
        }
        if (gx) {
            float k = (gamma ? gamma[c] : 1.0f) * invstd;
            if (batch_stats) {
                float mg = (float)(sg / (double)M), mgx = (float)(sgx / (double)M);
                for (b = 0; b < N; b++) {
                    const float *xr = x + (b * C + c) * S, *gr = g + (b * C + c) * S;
                    float *gxr = gx + (b * C + c) * S;
                    if (fresh) for (s = 0; s < S; s++) gxr[s] = 0.0f + k * (gr[s] - mg - (xr[s] - mean) * invstd * mgx);
                    else for (s = 0; s < S; s++) gxr[s] += k * (gr[s] - mg - (xr[s] - mean) * invstd * mgx);
                }
            } else {
                for (b = 0; b < N; b++) {
                    const float *gr = g + (b * C + c) * S;
                    float *gxr = gx + (b * C + c) * S;
                    if (fresh) for (s = 0; s < S; s++) gxr[s] = 0.0f + k * gr[s];
                    else for (s = 0; s < S; s++) gxr[s] += k * gr[s];
                }
            }
        }
    }
}

/* ---- spectral norm ----
   Input: w, viewed as (NO, NI) = (O, I). i[0] = NO, i[1] = NI, i[2] = 1 when u and v were
   updated (training).
   f[0] = eps, f[1] = sigma (float, as the output divides by it).
   saved: (NO + NI) floats, the u and v this forward used (later forwards may update the
   persistent ones before this node's backward runs, so the backward keeps its own copy).
   aux: the persistent (u, v) pair. */
typedef struct ng__sn_aux { ng_tensor *u, *v; } ng__sn_aux;

/* out = src / max(||src||, eps), src in double */
static void ng__normalize_into(float *out, const double *src, int64_t n, double eps) {
    double ss = 0.0, nrm;
    int64_t i;
    for (i = 0; i < n; i++) ss += src[i] * src[i];
    nrm = sqrt(ss);
    if (nrm < eps) nrm = eps;
    for (i = 0; i < n; i++) out[i] = (float)(src[i] / nrm);
}

void ng_spectral_norm_init(ng_tensor *u, ng_tensor *v, ng_rng *r, float eps) {
    ng_tensor *t[2];
    int k;
    t[0] = u; t[1] = v;
    for (k = 0; k < 2; k++) { /* float N(0, 1) draws, then x / max(||x||, eps) */
        int64_t i, n = t[k]->numel;
        double ss = 0.0, nrm;
        for (i = 0; i < n; i++) {
            t[k]->data[i] = (float)ng_rng_normal(r);
            ss += (double)t[k]->data[i] * t[k]->data[i];
        }
        nrm = sqrt(ss);
        if (nrm < (double)eps) nrm = eps;
        for (i = 0; i < n; i++) t[k]->data[i] = (float)(t[k]->data[i] / nrm);
    }
}

ng_tensor *ng_spectral_norm(ng_ctx *ctx, ng_tensor *w, ng_tensor *u, ng_tensor *v, float eps) {
    ng_node *n;
    ng__sn_aux *aux;
    int64_t NO, NI;
    if (!w || !u || !v) return ng__null_input(ctx, NG_OP_SPECTRAL_NORM);
    NG_ASSERT(w->shape.ndim >= 1 && w->numel > 0);
    if (!ng__side_device_ok(ctx, NG_OP_SPECTRAL_NORM, w, u, "u") || !ng__side_device_ok(ctx, NG_OP_SPECTRAL_NORM, w, v, "v")) return NULL;
    NO = w->shape.d[0];
    NI = w->numel / NO;
    NG_ASSERT(u->numel == NO && v->numel == NI);
    n = ng__begin(ctx, NG_OP_SPECTRAL_NORM, &w, 1, w->shape);
    if (!n) return NULL;
    n->i[0] = NO;
    n->i[1] = NI;
    n->i[2] = ctx->training;
    n->f[0] = eps;
    n->saved = ng__falloc(ctx, NO + NI);
    aux = (ng__sn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->u = u;
    aux->v = v;
    n->aux = aux;
    return ng__finish(n);
}
static void ng__fw_spectral_norm(ng_node *n) {
    ng__sn_aux *aux = (ng__sn_aux *)n->aux;
    int64_t NO = n->i[0], NI = n->i[1], o, i;
    const float *W = n->in[0]->data;
    float *u = aux->u->data, *v = aux->v->data, *y = n->out->data;
    float *u_s = (float *)n->saved, *v_s = u_s + NO, sigma_f;
    double eps = n->f[0], sigma = 0.0;
    double *wv = (double *)ng__alloc(n->ctx, (size_t)(NO + NI) * sizeof(double)), *wtu = wv + NO;
    if (!wv) return;
    if (n->i[2]) { /* one power iteration: v = normalize(W^T u), u = normalize(W v) */
        for (i = 0; i < NI; i++) wtu[i] = 0.0;
        for (o = 0; o < NO; o++) {
            const float *wr = W + o * NI;
            double uo = u[o];
            for (i = 0; i < NI; i++) wtu[i] += uo * wr[i];
        }
        ng__normalize_into(v, wtu, NI, eps);
    }
NG__OMP_FOR(NO * NI > 65536)
    for (o = 0; o < NO; o++) {
        const float *wr = W + o * NI;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < NI; j++) acc += (double)wr[j] * v[j];
        wv[o] = acc;
    }
    if (n->i[2]) ng__normalize_into(u, wv, NO, eps);
    for (o = 0; o < NO; o++) sigma += (double)u[o] * wv[o];
    memcpy(u_s, u, (size_t)NO * sizeof(float));
    memcpy(v_s, v, (size_t)NI * sizeof(float));
    sigma_f = (float)sigma;
    n->f[1] = sigma_f;
NG__OMP_FOR(NO * NI > 65536)
    for (i = 0; i < NO * NI; i++) y[i] = W[i] / sigma_f;
}
/* y = W / sigma with sigma = u^T W v (u, v constant): dW = g / sigma - (sum(g W) / sigma^2) u v^T */
static void ng__bw_spectral_norm(ng_node *n) {
    int64_t NO = n->i[0], NI = n->i[1], o;
    const float *W = n->in[0]->data, *g = n->out->grad;
    const float *u_s = (const float *)n->saved, *v_s = u_s + NO;
    float *gw = ng__in_grad(n, 0);
    double sigma = n->f[1], dot = 0.0;
    float inv_sigma, coef;
    if (!gw) return;
    for (o = 0; o < NO * NI; o++) dot += (double)g[o] * W[o];
    inv_sigma = (float)(1.0 / sigma);
    coef = (float)(dot / (sigma * sigma));
NG__OMP_FOR(NO * NI > 65536)
    for (o = 0; o < NO; o++) {
        const float *gr = g + o * NI;
        float *gwr = gw + o * NI, cu = coef * u_s[o];
        int64_t j;
        for (j = 0; j < NI; j++) gwr[j] += gr[j] * inv_sigma - cu * v_s[j];
    }
}

/* ---- src/ops_seq.c ---- */
/* ======================================================================================== */
/* @@OPS sequence ops                                                                       */
/* ======================================================================================== */

ng_tensor *ng_seq_mask_from_lengths(ng_ctx *ctx, const int32_t *lengths, int64_t N, int64_t L) {
    ng_tensor *m;
    int64_t b, t;
    float *h;
    NG_ASSERT(N >= 0 && L >= 0 && (N == 0 || lengths));
    m = ng_tensor_new(ctx, ng_shape2(N, L));
    if (!m) return NULL;
    /* built on the host; a device context gets a copy */
    h = ctx->device == NG_CUDA ? (float *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(float)) : m->data;
    if (!h) return NULL;
    for (b = 0; b < N; b++)
        for (t = 0; t < L; t++) h[b * L + t] = t < (int64_t)lengths[b] ? 1.0f : 0.0f;
    if (h != m->data) ng__cuda_copy(m->data, h, (size_t)(N * L) * sizeof(float), 1);
    return m;
}

/* ---- embedding: i[0] = N, i[1] = L, i[2] = padding_idx (-1: none); saved = ids (N*L int32) ---- */
ng_tensor *ng_embedding(ng_ctx *ctx, ng_tensor *table, const int32_t *ids, int64_t N, int64_t L, int64_t padding_idx) {
    ng_node *n;
    int32_t *keep;
    int64_t V, D, j;
    if (!table) return ng__null_input(ctx, NG_OP_EMBEDDING);
    NG_ASSERT(table->shape.ndim == 2 && N >= 0 && L >= 0 && (N == 0 || L == 0 || ids));
    V = table->shape.d[0];
    D = table->shape.d[1];
    for (j = 0; j < N * L; j++)
        if (ids[j] < 0 || (int64_t)ids[j] >= V) {
            if (ctx->status == NG_OK) {
                ng__ctx_fail(ctx, NG_ERR_ARG);
                ng_fail(NG_ERR_ARG, "embedding: id %ld at position %lld is outside [0, %lld)", (long)ids[j], (long long)j, (long long)V);
            }
            return NULL;
        }
    n = ng__begin(ctx, NG_OP_EMBEDDING, &table, 1, ng_shape3(N, L, D));
    if (!n) return NULL;
    keep = (int32_t *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(int32_t));
    if (!keep) return NULL;
    if (N > 0 && L > 0) memcpy(keep, ids, (size_t)(N * L) * sizeof(int32_t));
    n->saved = keep;
    n->i[0] = N; n->i[1] = L; n->i[2] = padding_idx < 0 ? -1 : padding_idx;
    return ng__finish(n);
}
static void ng__fw_embedding(ng_node *n) {
    int64_t P = n->i[0] * n->i[1], D = n->in[0]->shape.d[1], p;
    const int32_t *ids = (const int32_t *)n->saved;
    const float *tab = n->in[0]->data;
    float *y = n->out->data;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++) memcpy(y + p * D, tab + (int64_t)ids[p] * D, (size_t)D * sizeof(float));
}
/* Threads split the feature columns; each column adds positions in order, so the sums do
   not depend on the thread count. */
static void ng__bw_embedding(ng_node *n) {
    int64_t P = n->i[0] * n->i[1], D = n->in[0]->shape.d[1], pad = n->i[2], c0;
    const int32_t *ids = (const int32_t *)n->saved;
    const float *g = n->out->grad;
    float *gt = ng__in_grad(n, 0);
    if (!gt) return;
NG__OMP_FOR(P * D > 65536 && D >= 128)
    for (c0 = 0; c0 < D; c0 += 64) {
        int64_t c1 = c0 + 64 < D ? c0 + 64 : D, p, c;
        for (p = 0; p < P; p++) {
            float *row;
            const float *gr = g + p * D;
            if ((int64_t)ids[p] == pad) continue;
            row = gt + (int64_t)ids[p] * D;
            for (c = c0; c < c1; c++) row[c] += gr[c];
        }
    }
}

/* ---- mask select: inputs x (N, L, D), mask (N, L); the mask gets no gradient ---- */
static int ng__seq_check(ng_ctx *ctx, const ng_tensor *x, const ng_tensor *mask, const char *op) {
    if (x->shape.ndim != 3) { ng__bad(ctx, op, "x must be (N, L, D)"); return 0; }
    if (mask && (mask->shape.ndim != 2 || mask->shape.d[0] != x->shape.d[0] || mask->shape.d[1] != x->shape.d[1])) {
        ng__bad(ctx, op, "mask must be (N, L) with x's N and L");
        return 0;
    }
    return 1;
}
ng_tensor *ng_seq_mask(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = x; ins[1] = mask;
    if (!x || !mask) return ng__null_input(ctx, NG_OP_SEQ_MASK);
    if (!ng__seq_check(ctx, x, mask, "seq_mask")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_MASK, ins, 2, x->shape);
    if (!n) return NULL;
    n->need &= 1u; /* never differentiate the mask */
    return ng__finish(n);
}
static void ng__fw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], p;
    const float *x = n->in[0]->data, *m = n->in[1]->data;
    float *y = n->out->data;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++) {
        if (m[p] != 0.0f) memcpy(y + p * D, x + p * D, (size_t)D * sizeof(float));
        else memset(y + p * D, 0, (size_t)D * sizeof(float));
    }
}
static void ng__bw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], p;
    const float *m = n->in[1]->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++)
        if (m[p] != 0.0f) {
            int64_t c;
            for (c = 0; c < D; c++) gx[p * D + c] += g[p * D + c];
        }
}

/* ---- conv1d ("same", channel-last): out = col W^T + b with col (N*L, Cin*K),
   col[(n, t), c*K + k] = x[n, t + k - P, c] (0 outside), W viewed (Cout, Cin*K).
   i[0] = K. saved: col (when K > 1 and w needs a gradient; for K == 1 col is x itself). ---- */
ng_tensor *ng_conv1d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t K;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV1D);
    if (!ng__seq_check(ctx, x, NULL, "conv1d")) return NULL;
    NG_ASSERT(w->shape.ndim == 3 && w->shape.d[1] == x->shape.d[2]);
    K = w->shape.d[2];
    if (K < 1 || K % 2 == 0) { ng__bad(ctx, "conv1d", "kernel size must be odd (same padding)"); return NULL; }
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    n = ng__begin(ctx, NG_OP_CONV1D, ins, b ? 3 : 2, ng_shape3(x->shape.d[0], x->shape.d[1], w->shape.d[0]));
    if (!n) return NULL;
    n->i[0] = K;
    return ng__finish(n);
}
static void ng__conv1d_im2col(const float *x, float *col, int64_t N, int64_t L, int64_t C, int64_t K) {
    int64_t r, P = (K - 1) / 2;
NG__OMP_FOR(N * L * C * K > 65536)
    for (r = 0; r < N * L; r++) {
        int64_t b = r / L, t = r % L, c, k;
        float *cr = col + r * C * K;
        for (k = 0; k < K; k++) {
            int64_t s = t + k - P;
            if (s < 0 || s >= L)
                for (c = 0; c < C; c++) cr[c * K + k] = 0.0f;
            else {
                const float *xr = x + (b * L + s) * C;
                for (c = 0; c < C; c++) cr[c * K + k] = xr[c];
            }
        }
    }
}
static void ng__fw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0], r, o;
    const float *col = x->data;
    float *y = n->out->data;
    if (K > 1) {
        float *cb = ng__falloc(n->ctx, N * L * C * K);
        if (!cb) return;
        ng__conv1d_im2col(x->data, cb, N, L, C, K);
        col = cb;
        if (ng__need(n, 1)) n->saved = cb;
    }
    if (n->n_in == 3)
        for (r = 0; r < N * L; r++)
            for (o = 0; o < O; o++) y[r * O + o] = n->in[2]->data[o];
    ng_sgemm(n->ctx->gemm_backend, 0, 1, N * L, O, C * K, 1.0f, col, C * K, w->data, C * K,
             n->n_in == 3 ? 1.0f : 0.0f, y, O);
}
static void ng__bw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0], P = (K - 1) / 2, r, o;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (gb)
        for (r = 0; r < N * L; r++)
            for (o = 0; o < O; o++) gb[o] += g[r * O + o];
    if (gw) {
        const float *col = K == 1 ? x->data : (const float *)n->saved;
        ng_sgemm(n->ctx->gemm_backend, 1, 0, O, C * K, N * L, 1.0f, g, O, col, C * K, 1.0f, gw, C * K);
    }
    if (gx) {
        if (K == 1) {
            ng_sgemm(n->ctx->gemm_backend, 0, 0, N * L, C, O, 1.0f, g, O, w->data, C, 1.0f, gx, C);
        } else {
            float *gcol = ng__falloc(n->ctx, N * L * C * K);
            if (!gcol) return;
            ng_sgemm(n->ctx->gemm_backend, 0, 0, N * L, C * K, O, 1.0f, g, O, w->data, C * K, 0.0f, gcol, C * K);
            /* gather (no scatter races): gx[n, s, c] += sum_k gcol[(n, s - k + P), c*K + k] */
NG__OMP_FOR(N * L * C * K > 65536)
            for (r = 0; r < N * L; r++) {
                int64_t b = r / L, s = r % L, c, k;
                float *gr = gx + r * C;
                for (k = 0; k < K; k++) {
                    int64_t t = s - k + P;
                    const float *src;
                    if (t < 0 || t >= L) continue;
                    src = gcol + (b * L + t) * C * K + k;
                    for (c = 0; c < C; c++) gr[c] += src[c * K];
                }
            }
        }
    }
}

/* ---- pools, kernel 3 stride 1 padding 1 along L: i[0] = 1 for max, 0 for avg ---- */
static ng_tensor *ng__seq_pool3(ng_ctx *ctx, ng_tensor *x, int is_max) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_SEQ_POOL3);
    if (!ng__seq_check(ctx, x, NULL, is_max ? "seq_max_pool3" : "seq_avg_pool3")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_POOL3, &x, 1, x->shape);
    if (!n) return NULL;
    n->i[0] = is_max;
    return ng__finish(n);
}
ng_tensor *ng_seq_avg_pool3(ng_ctx *ctx, ng_tensor *x) { return ng__seq_pool3(ctx, x, 0); }
ng_tensor *ng_seq_max_pool3(ng_ctx *ctx, ng_tensor *x) { return ng__seq_pool3(ctx, x, 1); }
/* position (t - 1, t or t + 1) holding the window's maximum of feature c: first maximum,
   NaN wins (PyTorch's `val > max || isnan(val)` scan) */
static int64_t ng__pool3_argmax(const float *x, int64_t t, int64_t L, int64_t D, int64_t c) {
    int64_t s = t > 0 ? t - 1 : t, e = t + 1 < L ? t + 1 : t, best = s, u;
    float m = x[s * D + c];
    for (u = s + 1; u <= e; u++) {
        float v = x[u * D + c];
        if (v > m || isnan(v)) { m = v; best = u; }
        if (isnan(m)) break;
    }
    return best;
}
static void ng__fw_seq_pool3(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], r;
    int is_max = (int)n->i[0];
NG__OMP_FOR(N * L * D > 65536)
    for (r = 0; r < N * L; r++) {
        int64_t b = r / L, t = r % L, c;
        const float *xb = n->in[0]->data + b * L * D;
        float *y = n->out->data + r * D;
        if (is_max) {
            for (c = 0; c < D; c++) y[c] = xb[ng__pool3_argmax(xb, t, L, D, c) * D + c];
        } else {
            const float *xm = t > 0 ? xb + (t - 1) * D : NULL, *x0 = xb + t * D, *xp = t + 1 < L ? xb + (t + 1) * D : NULL;
            for (c = 0; c < D; c++) {
                float s = (xm ? xm[c] : 0.0f) + x0[c];
                s += xp ? xp[c] : 0.0f;
                y[c] = s / 3.0f;
            }
        }
    }
}
static void ng__bw_seq_pool3(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    int is_max = (int)n->i[0];
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *xb = n->in[0]->data + b * L * D, *gb = n->out->grad + b * L * D;
        float *gxb = gx + b * L * D;
        int64_t t, c;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) {
                if (is_max) gxb[ng__pool3_argmax(xb, t, L, D, c) * D + c] += gb[t * D + c];
                else {
                    float s = gb[t * D + c];
                    if (t > 0) s += gb[(t - 1) * D + c];
                    if (t + 1 < L) s += gb[(t + 1) * D + c];
                    gxb[t * D + c] += s / 3.0f;
                }
            }
    }
}

/* ---- batch norm over the last dimension of (N, L, D): R = N*L rows, statistics per column.
   Inputs: x, gamma (if i[1]), beta (if i[2]). i[0] = 1 when batch statistics are used.
   f[0] = momentum, f[1] = eps. saved: (2D) floats, mean then inverse std used. aux: running
   statistics (ng__bn_aux, from @@OPS batch norm). Sums in double, rows in order, threads over
   column blocks (deterministic). ---- */
ng_tensor *ng_seq_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma, ng_tensor *beta,
                             ng_tensor *running_mean, ng_tensor *running_var, float momentum, float eps) {
    ng_tensor *ins[3];
    ng_node *n;
    ng__bn_aux *aux;
    int n_in = 1, batch_stats;
    int64_t D;
    if (!x) return ng__null_input(ctx, NG_OP_SEQ_BATCH_NORM);
    if (!ng__seq_check(ctx, x, NULL, "seq_batch_norm")) return NULL;
    NG_ASSERT((running_mean == NULL) == (running_var == NULL));
    if (!ng__side_device_ok(ctx, NG_OP_SEQ_BATCH_NORM, x, running_mean, "running_mean") ||
        !ng__side_device_ok(ctx, NG_OP_SEQ_BATCH_NORM, x, running_var, "running_var"))
        return NULL;
    D = x->shape.d[2];
    NG_ASSERT(!gamma || gamma->numel == D);
    NG_ASSERT(!beta || beta->numel == D);
    NG_ASSERT(!running_mean || (running_mean->numel == D && running_var->numel == D));
    NG_ASSERT(eps >= 0.0f);
    batch_stats = ctx->training || !running_mean;
    if (batch_stats && x->shape.d[0] * x->shape.d[1] < 2) {
        if (ctx->status == NG_OK) ng__bad(ctx, "seq_batch_norm", "expected more than 1 value per channel when using batch statistics");
        return NULL;
    }
    ins[0] = x;
    if (gamma) ins[n_in++] = gamma;
    if (beta) ins[n_in++] = beta;
    n = ng__begin(ctx, NG_OP_SEQ_BATCH_NORM, ins, n_in, x->shape);
    if (!n) return NULL;
    n->i[0] = batch_stats; n->i[1] = gamma != NULL; n->i[2] = beta != NULL;
    n->f[0] = momentum; n->f[1] = eps;
    n->saved = ng__falloc(ctx, 2 * (D ? D : 1));
    aux = (ng__bn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->running_mean = running_mean;
    aux->running_var = running_var;
    n->aux = aux;
    return ng__finish(n);
}
#define NG__SEQ_BN_COLS 32
static void ng__fw_seq_batch_norm(ng_node *n) {
    const ng__bn_aux *aux = (const ng__bn_aux *)n->aux;
    int64_t R = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], c0;
    const float *x = n->in[0]->data;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *beta = n->i[2] ? n->in[1 + n->i[1]]->data : NULL;
    float *y = n->out->data, *mean_s = (float *)n->saved, *invstd_s = mean_s + D;
    float *rm = aux->running_mean ? aux->running_mean->data : NULL;
    float *rv = aux->running_var ? aux->running_var->data : NULL;
    int batch_stats = (int)n->i[0];
    float mom = n->f[0], eps = n->f[1];
NG__OMP_FOR(R * D > 32768 && D > NG__SEQ_BN_COLS)
    for (c0 = 0; c0 < D; c0 += NG__SEQ_BN_COLS) {
        int64_t c1 = c0 + NG__SEQ_BN_COLS < D ? c0 + NG__SEQ_BN_COLS : D, r, c;
        double sum[NG__SEQ_BN_COLS], sq[NG__SEQ_BN_COLS];
        float scale[NG__SEQ_BN_COLS], shift[NG__SEQ_BN_COLS];
        for (c = c0; c < c1; c++) { sum[c - c0] = 0.0; sq[c - c0] = 0.0; }
        if (batch_stats) {
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) sum[c - c0] += x[r * D + c];
            for (c = c0; c < c1; c++) sum[c - c0] /= (double)R; /* now the mean */
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) { double d = (double)x[r * D + c] - sum[c - c0]; sq[c - c0] += d * d; }
        }
        for (c = c0; c < c1; c++) {
            double mean, invstd;
            if (batch_stats) {
                mean = sum[c - c0];
                invstd = 1.0 / sqrt(sq[c - c0] / (double)R + (double)eps);
                if (rm) {
                    rm[c] = (float)((1.0 - mom) * rm[c] + (double)mom * mean);
                    rv[c] = (float)((1.0 - mom) * rv[c] + (double)mom * (sq[c - c0] / (double)(R - 1)));
                }
            } else {
                mean = rm[c];
                invstd = 1.0 / sqrt((double)rv[c] + (double)eps);
            }
            mean_s[c] = (float)mean;
            invstd_s[c] = (float)invstd;
            scale[c - c0] = (float)((gamma ? gamma[c] : 1.0) * invstd);
            shift[c - c0] = (float)((beta ? beta[c] : 0.0) - mean * (double)scale[c - c0]);
        }
        for (r = 0; r < R; r++)
            for (c = c0; c < c1; c++) y[r * D + c] = x[r * D + c] * scale[c - c0] + shift[c - c0];
    }
}
static void ng__bw_seq_batch_norm(ng_node *n) {
    int64_t R = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], c0;
    const float *x = n->in[0]->data, *g = n->out->grad;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *mean_s = (const float *)n->saved, *invstd_s = mean_s + D;
    float *gx = ng__in_grad(n, 0);
    float *ggamma = n->i[1] ? ng__in_grad(n, 1) : NULL;
    float *gbeta = n->i[2] ? ng__in_grad(n, (int)(1 + n->i[1])) : NULL;
    int batch_stats = (int)n->i[0];
NG__OMP_FOR(R * D > 32768 && D > NG__SEQ_BN_COLS)
    for (c0 = 0; c0 < D; c0 += NG__SEQ_BN_COLS) {
        int64_t c1 = c0 + NG__SEQ_BN_COLS < D ? c0 + NG__SEQ_BN_COLS : D, r, c;
        double sg[NG__SEQ_BN_COLS], sgx[NG__SEQ_BN_COLS];
        float k[NG__SEQ_BN_COLS], mg[NG__SEQ_BN_COLS], mgx[NG__SEQ_BN_COLS];
        for (c = c0; c < c1; c++) { sg[c - c0] = 0.0; sgx[c - c0] = 0.0; }
        if (ggamma || gbeta || (gx && batch_stats)) {
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) {
                    double gv = g[r * D + c];
                    sg[c - c0] += gv;
                    sgx[c - c0] += gv * ((double)x[r * D + c] - mean_s[c]);
                }
            for (c = c0; c < c1; c++) {
                sgx[c - c0] *= invstd_s[c]; /* sum(g xhat) */
                if (ggamma) ggamma[c] += (float)sgx[c - c0];
                if (gbeta) gbeta[c] += (float)sg[c - c0];
            }
        }
        if (!gx) continue;
        for (c = c0; c < c1; c++) {
            k[c - c0] = (gamma ? gamma[c] : 1.0f) * invstd_s[c];
            mg[c - c0] = batch_stats ? (float)(sg[c - c0] / (double)R) : 0.0f;
            mgx[c - c0] = batch_stats ? (float)(sgx[c - c0] / (double)R) : 0.0f;
        }
        for (r = 0; r < R; r++)
            for (c = c0; c < c1; c++)
                gx[r * D + c] += k[c - c0] * (g[r * D + c] - mg[c - c0] - (x[r * D + c] - mean_s[c]) * invstd_s[c] * mgx[c - c0]);
    }
}

/* ---- mean pool over L: inputs x, mask (no gradient); saved = 1 / cnt per sequence (N) ---- */
ng_tensor *ng_seq_mean_pool(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = x; ins[1] = mask;
    if (!x || !mask) return ng__null_input(ctx, NG_OP_SEQ_MEAN_POOL);
    if (!ng__seq_check(ctx, x, mask, "seq_mean_pool")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_MEAN_POOL, ins, 2, ng_shape2(x->shape.d[0], x->shape.d[2]));
    if (!n) return NULL;
    n->need &= 1u;
    n->saved = ng__falloc(ctx, x->shape.d[0] ? x->shape.d[0] : 1);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
static void ng__fw_seq_mean_pool(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    float *inv = (float *)n->saved;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *xb = n->in[0]->data + b * L * D, *m = n->in[1]->data + b * L;
        float *y = n->out->data + b * D;
        double cnt = 0.0;
        int64_t t, c;
        for (t = 0; t < L; t++) cnt += m[t];
        inv[b] = (float)(1.0 / (cnt != 0.0 ? cnt : 1e-12));
        for (c = 0; c < D; c++) y[c] = 0.0f;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) y[c] += xb[t * D + c];
        for (c = 0; c < D; c++) y[c] *= inv[b];
    }
}
static void ng__bw_seq_mean_pool(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    const float *inv = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *g = n->out->grad + b * D;
        int64_t t, c;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) gx[(b * L + t) * D + c] += g[c] * inv[b];
    }
}

/* ---- attention core: inputs q, k, v, mask. i[0] = heads. f[0] = dropout p (0 when off),
   i[1] = the dropout mask's key (ng_dropout_bits).
   saved: softmax probabilities before the query mask and dropout, (N, heads, L, L);
   aux: dropout multipliers (same shape; filled by the forward) or NULL. ---- */
ng_tensor *ng_seq_attention(ng_ctx *ctx, ng_tensor *q, ng_tensor *k, ng_tensor *v, ng_tensor *mask, int heads, float p) {
    ng_tensor *ins[4];
    ng_node *n;
    int64_t N, L, H, PL;
    ins[0] = q; ins[1] = k; ins[2] = v; ins[3] = mask;
    if (!q || !k || !v || !mask) return ng__null_input(ctx, NG_OP_SEQ_ATTENTION);
    if (!ng__seq_check(ctx, q, mask, "seq_attention")) return NULL;
    NG_ASSERT(ng_shape_eq(q->shape, k->shape) && ng_shape_eq(q->shape, v->shape));
    NG_ASSERT(p >= 0.0f && p < 1.0f);
    N = q->shape.d[0]; L = q->shape.d[1]; H = q->shape.d[2];
    if (heads < 1 || H % heads != 0) { ng__bad(ctx, "seq_attention", "heads must divide the feature size"); return NULL; }
    n = ng__begin(ctx, NG_OP_SEQ_ATTENTION, ins, 4, q->shape);
    if (!n) return NULL;
    n->need &= 7u;
    n->i[0] = heads;
    n->f[0] = ctx->training ? p : 0.0f;
    PL = N * heads * L * L;
    n->saved = ng__falloc(ctx, PL > 0 ? PL : 1);
    if (!n->saved) return NULL;
    if (n->f[0] > 0.0f) {   /* the multipliers, filled by the forward (ng__dropout_fill) */
        n->i[1] = (int64_t)ng_rng_u64(&ctx->rng);
        n->aux = ng__falloc(ctx, PL > 0 ? PL : 1);
        if (!n->aux) return NULL;
    }
    return ng__finish(n);
}
/* softmax of one score row in place, bit for bit ng__softmax_row of the row with the padded
   keys' scores replaced by -1e10, at one exp per real key: the padded keys share one exp
   (which underflows to 0, a slow path in libm), and the real keys' exps are kept in ex (L) */
static void ng__attn_softmax_row(float *row, const float *mb, int64_t L, double *ex) {
    float mx = -INFINITY;
    double sum = 0.0, padded = 0.0;
    int64_t j, any_padded = 0;
    for (j = 0; j < L; j++) {
        if (mb[j] == 0.0f) { row[j] = -1e10f; any_padded = 1; }
        if (row[j] > mx) mx = row[j];
    }
    if (any_padded) padded = exp((double)(-1e10f - mx));
    for (j = 0; j < L; j++) sum += ex[j] = mb[j] == 0.0f ? padded : exp((double)(row[j] - mx));
    for (j = 0; j < L; j++) row[j] = (float)(ex[j] / sum);
}
/* The applied weights Pw and the exp rows are scratch, given back to the arena on return. */
static void ng__fw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads, nh;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data;
    const float *dm = (const float *)n->aux;
    float *Ps = (float *)n->saved, *Y = n->out->data, scale = 1.0f / sqrtf((float)d);
    size_t mark = n->ctx->arena.used;
    float *Pw = ng__falloc(n->ctx, N * heads * L * L > 0 ? N * heads * L * L : 1); /* weights applied */
    double *ex = (double *)ng__alloc(n->ctx, (size_t)(N * heads * L + 1) * sizeof(double));
    if (!Pw || !ex) return;
    if (dm) ng__dropout_fill((float *)n->aux, NULL, NULL, N * heads * L * L, (uint64_t)n->i[1], n->f[0]);
NG__OMP_FOR(N * heads > 1 && N * L * L * H > 32768)
    for (nh = 0; nh < N * heads; nh++) {
        int64_t b = nh / heads, h = nh % heads, off = b * L * H + h * d, i, j;
        float *S = Ps + nh * L * L, *W = Pw + nh * L * L;
        const float *mb = m + b * L;
        ng_sgemm(n->ctx->gemm_backend, 0, 1, L, L, d, scale, Q + off, H, K + off, H, 0.0f, S, L);
        for (i = 0; i < L; i++) {
            float *row = S + i * L, *w = W + i * L;
            ng__attn_softmax_row(row, mb, L, ex + nh * L);
            for (j = 0; j < L; j++) {
                float pv = mb[i] != 0.0f ? row[j] : 0.0f;
                w[j] = dm ? pv * dm[nh * L * L + i * L + j] : pv;
            }
        }
        ng_sgemm(n->ctx->gemm_backend, 0, 0, L, d, L, 1.0f, W, L, V + off, H, 0.0f, Y + off, H);
    }
    n->ctx->arena.used = mark;
}
/* W = query-masked, dropped P (recomputed from the saved softmax); dO the output gradient:
   dV_h += W^T dO_h; dW = dO_h V_h^T; dP = dW * dropout * qmask; dS = P (dP - rowsum(dP P)),
   0 at padded keys (their scores were replaced by a constant); dQ_h += dS K_h / sqrt(d),
   dK_h += dS^T Q_h / sqrt(d). */
static void ng__bw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads, nh, PL;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data, *G = n->out->grad;
    const float *dm = (const float *)n->aux, *Ps = (const float *)n->saved;
    float *gq = ng__in_grad(n, 0), *gk = ng__in_grad(n, 1), *gv = ng__in_grad(n, 2), scale = 1.0f / sqrtf((float)d);
    float *scratch;
    int gemm = n->ctx->gemm_backend;
    PL = N * heads * L * L;
    scratch = ng__falloc(n->ctx, PL > 0 ? 2 * PL : 1);
    if (!scratch) return;
    /* heads of one sequence write disjoint channel blocks, sequences disjoint rows: no races */
NG__OMP_FOR(N * heads > 1 && N * L * L * H > 32768)
    for (nh = 0; nh < N * heads; nh++) {
        int64_t b = nh / heads, h = nh % heads, off = b * L * H + h * d, i, j;
        const float *P = Ps + nh * L * L, *mb = m + b * L, *dmh = dm ? dm + nh * L * L : NULL;
        float *W = scratch + nh * L * L, *dS = scratch + PL + nh * L * L;
        if (gv) {
            for (i = 0; i < L; i++)
                for (j = 0; j < L; j++) {
                    float pv = mb[i] != 0.0f ? P[i * L + j] : 0.0f;
                    W[i * L + j] = dmh ? pv * dmh[i * L + j] : pv;
                }
            ng_sgemm(gemm, 1, 0, L, d, L, 1.0f, W, L, G + off, H, 1.0f, gv + off, H);
        }
        if (!gq && !gk) continue;
        ng_sgemm(gemm, 0, 1, L, L, d, 1.0f, G + off, H, V + off, H, 0.0f, dS, L);
        for (i = 0; i < L; i++) {
            float *r = dS + i * L;
            const float *pr = P + i * L;
            double dot = 0.0;
            if (mb[i] == 0.0f) { for (j = 0; j < L; j++) r[j] = 0.0f; continue; }
            if (dmh) for (j = 0; j < L; j++) r[j] *= dmh[i * L + j];
            for (j = 0; j < L; j++) dot += (double)r[j] * pr[j];
            for (j = 0; j < L; j++) r[j] = mb[j] != 0.0f ? pr[j] * (r[j] - (float)dot) : 0.0f;
        }
        if (gq) ng_sgemm(gemm, 0, 0, L, d, L, scale, dS, L, K + off, H, 1.0f, gq + off, H);
        if (gk) ng_sgemm(gemm, 1, 0, L, d, L, scale, dS, L, Q + off, H, 1.0f, gk + off, H);
    }
}

/* ---- GRU, one direction: inputs x, mask, w_ih, w_hh, b_ih, b_hh. i[0] = reverse.
   saved: ng__gru_saved (lengths, the packed order, per position r, z, n and W_hn h + b_hn).

   The CPU runs in PyTorch's packed-sequence layout: step s holds the sequences longer than s,
   longest first, so they are a prefix of order[] and step s's rows are packed rows
   base[s] .. base[s+1]-1. Every product then covers real positions only (T = sum of the
   lengths rows), not the N L of the padded batch, and step s's previous hidden states are the
   first rows of step s-1's. ---- */
typedef struct ng__gru_saved {
    int64_t *len;     /* (N), host */
    float *gates;     /* r, z, n, hn on the context's device: (N, L, 4H) on CUDA, (T, 4H) in
                         packed order on the CPU */
    int64_t *len_dev; /* device copy of len, made by the CUDA forward (NULL on the CPU) */
    int64_t *order;   /* (N), host: sequences by length, longest first, ties in index order */
    int64_t *base;    /* (L + 1), host: first packed row of step s; base[L] = T */
} ng__gru_saved;
/* order by a stable counting sort on the lengths (descending), then the step offsets */
static int ng__gru_pack(ng_ctx *ctx, ng__gru_saved *sv, int64_t N, int64_t L) {
    int64_t *start = (int64_t *)ng__alloc(ctx, (size_t)(L + 1) * sizeof(int64_t)), b, s, len, active = N, next = 0;
    sv->order = (int64_t *)ng__alloc(ctx, (size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    sv->base = (int64_t *)ng__alloc(ctx, (size_t)(L + 1) * sizeof(int64_t));
    if (!start || !sv->order || !sv->base) return 0;
    memset(start, 0, (size_t)(L + 1) * sizeof(int64_t));
    for (b = 0; b < N; b++) start[sv->len[b]]++;
    for (len = L; len >= 0; len--) { int64_t count = start[len]; start[len] = next; next += count; }
    for (b = 0; b < N; b++) sv->order[start[sv->len[b]]++] = b;
    sv->base[0] = 0;
    for (s = 0; s < L; s++) {
        while (active > 0 && sv->len[sv->order[active - 1]] <= s) active--;
        sv->base[s + 1] = sv->base[s] + active;
    }
    return 1;
}
/* the lengths: given (checked against L), or read from the mask (on the host; a device mask
   comes back first) and checked to be 1s followed by 0s */
static int ng__gru_lengths(ng_ctx *ctx, ng_tensor *mask, const int32_t *lengths, int64_t N, int64_t L, int64_t *len) {
    const float *md = mask->data;
    int64_t b, t;
    if (lengths) {
        for (b = 0; b < N; b++) {
            if (lengths[b] < 0 || (int64_t)lengths[b] > L) { ng__bad(ctx, "seq_gru", "a length is outside [0, L]"); return 0; }
            len[b] = lengths[b];
        }
        return 1;
    }
    if (mask->device == NG_CUDA) {
        float *hm = (float *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(float));
        if (!hm) return 0;
        if (ng_tensor_to_host(mask, hm) != NG_OK) { ng__ctx_fail(ctx, NG_ERR_UNSUPPORTED); return 0; }
        md = hm;
    }
    for (b = 0; b < N; b++) {
        int64_t n = 0;
        for (t = 0; t < L; t++) n += md[b * L + t] != 0.0f;
        for (t = 0; t < L; t++)
            if ((md[b * L + t] != 0.0f) != (t < n)) { ng__bad(ctx, "seq_gru", "mask rows must be 1s followed by 0s"); return 0; }
        len[b] = n;
    }
    return 1;
}
static ng_tensor *ng__seq_gru(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths, ng_tensor *w_ih, ng_tensor *w_hh,
                              ng_tensor *b_ih, ng_tensor *b_hh, int reverse) {
    ng_tensor *ins[6];
    ng_node *n;
    ng__gru_saved *sv;
    int64_t N, L, H, t;
    ins[0] = x; ins[1] = mask; ins[2] = w_ih; ins[3] = w_hh; ins[4] = b_ih; ins[5] = b_hh;
    if (!x || !mask || !w_ih || !w_hh || !b_ih || !b_hh) return ng__null_input(ctx, NG_OP_SEQ_GRU);
    if (!ng__seq_check(ctx, x, mask, "seq_gru")) return NULL;
    N = x->shape.d[0]; L = x->shape.d[1];
    NG_ASSERT(w_hh->shape.ndim == 2 && w_hh->shape.d[0] == 3 * w_hh->shape.d[1]);
    H = w_hh->shape.d[1];
    NG_ASSERT(w_ih->shape.ndim == 2 && w_ih->shape.d[0] == 3 * H && w_ih->shape.d[1] == x->shape.d[2]);
    NG_ASSERT(b_ih->numel == 3 * H && b_hh->numel == 3 * H);
    n = ng__begin(ctx, NG_OP_SEQ_GRU, ins, 6, ng_shape3(N, L, H));
    if (!n) return NULL;
    n->need &= ~2u;
    n->i[0] = reverse != 0;
    sv = (ng__gru_saved *)ng__alloc(ctx, sizeof *sv);
    if (!sv) return NULL;
    sv->len = (int64_t *)ng__alloc(ctx, (size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    sv->len_dev = NULL;
    if (!sv->len || !ng__gru_lengths(ctx, mask, lengths, N, L, sv->len) || !ng__gru_pack(ctx, sv, N, L)) return NULL;
    t = ctx->device == NG_CUDA ? N * L : sv->base[L];   /* gate rows: the device kernels index (N, L) */
    sv->gates = ng__falloc(ctx, t * 4 * H > 0 ? t * 4 * H : 1);
    if (!sv->gates) return NULL;
    n->saved = sv;
    return ng__finish(n);
}
ng_tensor *ng_seq_gru(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, ng_tensor *w_ih, ng_tensor *w_hh, ng_tensor *b_ih, ng_tensor *b_hh,
                      int reverse) {
    return ng__seq_gru(ctx, x, mask, NULL, w_ih, w_hh, b_ih, b_hh, reverse);
}
ng_tensor *ng_seq_gru_lengths(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths, ng_tensor *w_ih, ng_tensor *w_hh,
                              ng_tensor *b_ih, ng_tensor *b_hh, int reverse) {
    if (x && x->shape.d[0] > 0 && !lengths) { ng__bad(ctx, "seq_gru", "lengths is NULL"); return NULL; }
    return ng__seq_gru(ctx, x, mask, lengths, w_ih, w_hh, b_ih, b_hh, reverse);
}
/* position of step s of sequence b (or -1 when the sequence has ended) */
static int64_t ng__gru_pos(int64_t s, int64_t len, int reverse) { return s >= len ? -1 : reverse ? len - 1 - s : s; }
/* between the padded (N, L, width) rows and the packed (T, width) ones: padded -> packed
   (copy), or packed added into padded (add) */
static void ng__gru_rows(const ng__gru_saved *sv, int64_t L, int rev, float *padded, float *packed, int64_t width, int add) {
    int64_t s, r, j;
    for (s = 0; s < L && sv->base[s + 1] > sv->base[s]; s++)
        for (r = 0; r < sv->base[s + 1] - sv->base[s]; r++) {
            int64_t b = sv->order[r];
            float *pad = padded + (b * L + ng__gru_pos(s, sv->len[b], rev)) * width, *pk = packed + (sv->base[s] + r) * width;
            if (add) for (j = 0; j < width; j++) pad[j] += pk[j];
            else memcpy(pk, pad, (size_t)width * sizeof(float));
        }
}
/* Scratch (packed inputs, pre-activations, hidden states) goes back to the arena on return. */
static void ng__fw_seq_gru(ng_node *n) {
    ng__gru_saved *sv = (ng__gru_saved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H, T = sv->base[L], s, p;
    const float *wih = n->in[2]->data, *whh = n->in[3]->data, *bih = n->in[4]->data, *bhh = n->in[5]->data;
    int rev = (int)n->i[0], gemm = n->ctx->gemm_backend;
    size_t mark = n->ctx->arena.used;
    float *Y = n->out->data, *xc, *xp, *hc, *hh, *zero;
    memset(Y, 0, (size_t)(N * L * H) * sizeof(float));
    if (T == 0) return;
    xc = ng__falloc(n->ctx, T * In + 1); xp = ng__falloc(n->ctx, T * G + 1); hc = ng__falloc(n->ctx, T * H + 1);
    hh = ng__falloc(n->ctx, N * G + 1); zero = ng__fzalloc(n->ctx, H + 1);
    if (!xc || !xp || !hc || !hh || !zero) return;
    ng__gru_rows(sv, L, rev, x->data, xc, In, 0);
    for (p = 0; p < T; p++) memcpy(xp + p * G, bih, (size_t)G * sizeof(float));
    ng_sgemm(gemm, 0, 1, T, G, In, 1.0f, xc, In, wih, In, 1.0f, xp, G);       /* x W_ih^T + b_ih */
    for (s = 0; s < L; s++) {
        int64_t ns = sv->base[s + 1] - sv->base[s], r;
        const float *hprev = s ? hc + sv->base[s - 1] * H : NULL;  /* step s-1's first ns rows */
        if (ns == 0) break;
        for (r = 0; r < ns; r++) memcpy(hh + r * G, bhh, (size_t)G * sizeof(float));
        if (hprev) ng_sgemm(gemm, 0, 1, ns, G, H, 1.0f, hprev, H, whh, H, 1.0f, hh, G);   /* h W_hh^T + b_hh */
NG__OMP_FOR(ns * H > 16384)
        for (r = 0; r < ns; r++) {
            int64_t q = sv->base[s] + r, b = sv->order[r], t = ng__gru_pos(s, sv->len[b], rev), j;
            const float *a = xp + q * G, *c = hh + r * G, *h0 = hprev ? hprev + r * H : zero;
            float *gt = sv->gates + q * 4 * H, *y = Y + (b * L + t) * H, *h = hc + q * H;
            for (j = 0; j < H; j++) {
                float rg = ng__sigmoidf(a[j] + c[j]), z = ng__sigmoidf(a[H + j] + c[H + j]);
                float nn = ng__tanhf(a[2 * H + j] + rg * c[2 * H + j]);
                gt[j] = rg; gt[H + j] = z; gt[2 * H + j] = nn; gt[3 * H + j] = c[2 * H + j];
                y[j] = h[j] = (1.0f - z) * nn + z * h0[j];
            }
        }
    }
    n->ctx->arena.used = mark;
}
/* out (H) += the column sums of the rows (rows, G) */
static void ng__gru_colsum_add(float *out, const float *m, int64_t rows, int64_t G) {
    int64_t p, j;
    for (p = 0; p < rows; p++)
        for (j = 0; j < G; j++) out[j] += m[p * G + j];
}
/* Backpropagation through time, last step first, in the packed layout. dxp and dhh (T, 3H)
   collect the gradients of the input and recurrent pre-activations; h_prev (T, H) the
   previous hidden states, so that the weight gradients are one GEMM each after the loop. */
static void ng__bw_seq_gru(ng_node *n) {
    ng__gru_saved *sv = (ng__gru_saved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H, T = sv->base[L];
    int64_t T1 = L > 0 ? sv->base[1] : 0, s;  /* packed rows from T1 on have a previous state */
    const float *whh = n->in[3]->data, *Y = n->out->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gwih = ng__in_grad(n, 2), *gwhh = ng__in_grad(n, 3);
    float *gbih = ng__in_grad(n, 4), *gbhh = ng__in_grad(n, 5);
    int rev = (int)n->i[0], gemm = n->ctx->gemm_backend;
    size_t mark = n->ctx->arena.used;
    float *dxp, *dhh, *dh, *buf;
    if (T == 0) return;
    dxp = ng__falloc(n->ctx, T * G + 1); dhh = ng__falloc(n->ctx, T * G + 1); dh = ng__fzalloc(n->ctx, N * H + 1);
    buf = ng__falloc(n->ctx, T * (H > In ? H : In) + 1);  /* h_prev, then packed x rows */
    if (!dxp || !dhh || !dh || !buf) return;
    for (s = L - 1; s >= 0; s--) {
        int64_t ns = sv->base[s + 1] - sv->base[s], r;
        if (ns == 0) continue;
NG__OMP_FOR(ns * H > 16384)
        for (r = 0; r < ns; r++) {
            int64_t q = sv->base[s] + r, b = sv->order[r], t = ng__gru_pos(s, sv->len[b], rev), tp = rev ? t + 1 : t - 1, k;
            const float *gt = sv->gates + q * 4 * H, *go = g + (b * L + t) * H, *h0 = s ? Y + (b * L + tp) * H : NULL;
            float *dr = dxp + q * G, *d = dhh + q * G, *dhb = dh + r * H;
            if (h0) memcpy(buf + q * H, h0, (size_t)H * sizeof(float));
            for (k = 0; k < H; k++) {
                float rg = gt[k], z = gt[H + k], nn = gt[2 * H + k], hn = gt[3 * H + k];
                float dht = dhb[k] + go[k];
                float dan = dht * (1.0f - z) * (1.0f - nn * nn);
                float daz = dht * ((h0 ? h0[k] : 0.0f) - nn) * z * (1.0f - z);
                float dar = dan * hn * rg * (1.0f - rg);
                dr[k] = dar; dr[H + k] = daz; dr[2 * H + k] = dan;
                d[k] = dar; d[H + k] = daz; d[2 * H + k] = dan * rg;
                dhb[k] = dht * z;                    /* + dHh W_hh below */
            }
        }
        if (s > 0) ng_sgemm(gemm, 0, 0, ns, H, G, 1.0f, dhh + sv->base[s] * G, G, whh, H, 1.0f, dh, H);   /* dh += dHh W_hh */
    }
    if (gwhh && T > T1) ng_sgemm(gemm, 1, 0, G, H, T - T1, 1.0f, dhh + T1 * G, G, buf + T1 * H, H, 1.0f, gwhh, H);  /* += dHh^T h_prev */
    if (gbhh) ng__gru_colsum_add(gbhh, dhh, T, G);
    if (gbih) ng__gru_colsum_add(gbih, dxp, T, G);
    if (gx && In > 0) {  /* dx at the packed positions, added into gx */
        ng_sgemm(gemm, 0, 0, T, In, G, 1.0f, dxp, G, n->in[2]->data, In, 0.0f, buf, In);
        ng__gru_rows(sv, L, rev, gx, buf, In, 1);
    }
    if (gwih && In > 0) {
        ng__gru_rows(sv, L, rev, x->data, buf, In, 0);
        ng_sgemm(gemm, 1, 0, G, In, T, 1.0f, dxp, G, buf, In, 1.0f, gwih, In);
    }
    n->ctx->arena.used = mark;
}

/* ---- src/nas.c ---- */
/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */

/* ---- mixed: y = sum_k softmax(alpha[row])_k xs[k] ----
   Inputs: alpha, then xs[0..K-1]. i[0] = row, i[1] = K. saved: (K) softmax weights (float, as
   used by the forward). The element loops run in blocks of NG__MIX_BLOCK so each candidate is
   read once and the block of y/g stays in cache; the alpha reductions keep one double partial
   per block, summed in block order, so results do not depend on the thread count. */
#define NG__MIX_BLOCK 4096

ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k) {
    ng_tensor *ins[32];
    ng_node *n;
    int j;
    NG_ASSERT(k >= 1 && k <= 31);
    if (!alpha || !xs) return ng__null_input(ctx, NG_OP_MIXED);
    for (j = 0; j < k; j++)
        if (!xs[j]) return ng__null_input(ctx, NG_OP_MIXED);
    NG_ASSERT(alpha->shape.ndim == 1 || alpha->shape.ndim == 2);
    NG_ASSERT(alpha->shape.d[alpha->shape.ndim - 1] == k);
    NG_ASSERT(row >= 0 && (alpha->shape.ndim == 1 ? row == 0 : row < alpha->shape.d[0]));
    for (j = 1; j < k; j++) NG_ASSERT(ng_shape_eq(xs[j]->shape, xs[0]->shape));
    ins[0] = alpha;
    for (j = 0; j < k; j++) ins[1 + j] = xs[j];
    n = ng__begin(ctx, NG_OP_MIXED, ins, 1 + k, xs[0]->shape);
    if (!n) return NULL;
    n->i[0] = row;
    n->i[1] = k;
    n->saved = ng__falloc(ctx, k);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
static void ng__fw_mixed(ng_node *n) {
    int K = (int)n->i[1], k;
    float *w = (float *)n->saved, *y = n->out->data;
    const float *xs[31];
    int64_t N = n->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    ng__softmax_row(n->in[0]->data + n->i[0] * K, w, K, 1, 0);
    for (k = 0; k < K; k++) xs[k] = n->in[1 + k]->data;
NG__OMP_FOR(nb > 4)
    for (b = 0; b < nb; b++) {
        int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
        int kk;
        for (i = lo; i < hi; i++) y[i] = w[0] * xs[0][i];
        for (kk = 1; kk < K; kk++) {
            const float *x = xs[kk];
            float wk = w[kk];
            for (i = lo; i < hi; i++) y[i] += wk * x[i];
        }
    }
}
/* dxs[k] = w_k g; d w_k = sum(g xs[k]); dalpha_j = w_j (dw_j - sum_k w_k dw_k). */
static void ng__bw_mixed(ng_node *n) {
    int K = (int)n->i[1], k;
    const float *w = (const float *)n->saved, *g = n->out->grad;
    const float *xs[31];
    float *gx[31], *ga = ng__in_grad(n, 0);
    int64_t N = n->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    double *part = NULL, dw[31], wdot = 0.0;
    int any_x = 0, fresh = 0, fr[31];
    for (k = 0; k < K; k++) {
        xs[k] = n->in[1 + k]->data;
        /* the last candidate may take over g (ng__in_grad_take): it is handled last in every
           block, after the others have read g there; the others' new buffers are stored, not
           zeroed and added to (ng__in_grad_fresh) */
        gx[k] = k == K - 1 ? ng__in_grad_take(n, 1 + k, &fresh) : ng__in_grad_fresh(n, 1 + k, &fr[k]);
        any_x |= gx[k] != NULL;
    }
    fr[K - 1] = 0;
    if (ga && K > 1) part = (double *)ng__alloc(n->ctx, (size_t)(nb ? nb : 1) * (size_t)K * sizeof(double));
    if (n->ctx->status != NG_OK) return;
    if (!part && !any_x) return;
NG__OMP_FOR(nb > 4)
    for (b = 0; b < nb; b++) {
        int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
        int kk;
        for (kk = 0; kk < K; kk++) {
            const float *x = xs[kk];
            float *gk = gx[kk], wk = w[kk];
            if (fresh && kk == K - 1) { /* gk is g */
                double acc = 0.0;
                if (part) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] = 0.0f + wk * g[i]; }
                else for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                if (part) part[b * K + kk] = acc;
            } else if (part) {
                double acc = 0.0;
                if (gk && fr[kk]) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] = 0.0f + wk * g[i]; }
                else if (gk) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] += wk * g[i]; }
                else for (i = lo; i < hi; i++) acc += (double)g[i] * x[i];
                part[b * K + kk] = acc;
            } else if (gk && fr[kk]) {
                for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
            } else if (gk) {
                for (i = lo; i < hi; i++) gk[i] += wk * g[i];
            }
        }
    }
    if (!part) return; /* K == 1: softmax of one value is constant, alpha's gradient is 0 */
    for (k = 0; k < K; k++) dw[k] = 0.0;
    for (b = 0; b < nb; b++)
        for (k = 0; k < K; k++) dw[k] += part[b * K + k];
    for (k = 0; k < K; k++) wdot += (double)w[k] * dw[k];
    for (k = 0; k < K; k++) ga[n->i[0] * K + k] += (float)((double)w[k] * (dw[k] - wdot));
}

/* ---- mixed_cols: y = sum_j w[cols[j]] pad(xs[j]) ----
   Inputs: alpha, then xs[0..n-1]. i[0] = row, i[1] = K, i[2] = n, i[3..3+n) = cols (-1: weight
   1). saved: (K) softmax weights. Same-shape inputs run in blocks as ng_mixed (each read once,
   double partial sums per block in block order); padded inputs (small kernels) run plainly. */
static int ng__mc_same(const ng_tensor *x, const ng_tensor *y) { return ng_shape_eq(x->shape, y->shape); }
/* (A, B, kh, kw) x into (A, B, KH, KW): plane stride, offsets */
static void ng__mc_geo(const ng_tensor *x, const ng_tensor *y, int64_t *planes, int64_t *oh, int64_t *ow) {
    *planes = x->shape.d[0] * x->shape.d[1];
    *oh = (y->shape.d[2] - x->shape.d[2]) / 2;
    *ow = (y->shape.d[3] - x->shape.d[3]) / 2;
}

ng_tensor *ng_mixed_cols(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, const int *cols, int n, ng_shape out) {
    ng_tensor *ins[8];
    ng_node *nd;
    int j, m, K;
    NG_ASSERT(n >= 1 && n <= 7);
    if (!alpha || !xs) return ng__null_input(ctx, NG_OP_MIXED_COLS);
    for (j = 0; j < n; j++)
        if (!xs[j]) return ng__null_input(ctx, NG_OP_MIXED_COLS);
    NG_ASSERT(alpha->shape.ndim == 1 || alpha->shape.ndim == 2);
    K = (int)alpha->shape.d[alpha->shape.ndim - 1];
    NG_ASSERT(K >= 1 && K <= 31);
    NG_ASSERT(row >= 0 && (alpha->shape.ndim == 1 ? row == 0 : row < alpha->shape.d[0]));
    for (j = 0; j < n; j++) {
        const ng_shape *s = &xs[j]->shape;
        NG_ASSERT(cols[j] < K);
        for (m = 0; m < j; m++) NG_ASSERT(cols[j] < 0 || cols[m] != cols[j]);
        if (!ng_shape_eq(*s, out)) {
            NG_ASSERT(s->ndim == 4 && out.ndim == 4 && s->d[0] == out.d[0] && s->d[1] == out.d[1]);
            NG_ASSERT(s->d[2] <= out.d[2] && s->d[3] <= out.d[3] && (out.d[2] - s->d[2]) % 2 == 0 &&
                      (out.d[3] - s->d[3]) % 2 == 0);
        }
    }
    ins[0] = alpha;
    for (j = 0; j < n; j++) ins[1 + j] = xs[j];
    nd = ng__begin(ctx, NG_OP_MIXED_COLS, ins, 1 + n, out);
    if (!nd) return NULL;
    nd->i[0] = row;
    nd->i[1] = K;
    nd->i[2] = n;
    for (j = 0; j < n; j++) nd->i[3 + j] = cols[j];
    nd->saved = ng__falloc(ctx, K);
    if (!nd->saved) return NULL;
    return ng__finish(nd);
}
static void ng__fw_mixed_cols(ng_node *nd) {
    int K = (int)nd->i[1], n = (int)nd->i[2], j, all_same = 1;
    float *w = (float *)nd->saved, *y = nd->out->data, wj[7];
    const float *xs[7];
    int64_t N = nd->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    ng__softmax_row(nd->in[0]->data + nd->i[0] * K, w, K, 1, 0);
    for (j = 0; j < n; j++) {
        xs[j] = nd->in[1 + j]->data;
        wj[j] = nd->i[3 + j] < 0 ? 1.0f : w[nd->i[3 + j]];
        all_same &= ng__mc_same(nd->in[1 + j], nd->out);
    }
    if (all_same) {
NG__OMP_FOR(nb > 4)
        for (b = 0; b < nb; b++) {
            int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
            int jj;
            for (i = lo; i < hi; i++) y[i] = wj[0] * xs[0][i];
            for (jj = 1; jj < n; jj++) {
                const float *x = xs[jj];
                float wk = wj[jj];
                for (i = lo; i < hi; i++) y[i] += wk * x[i];
            }
        }
        return;
    }
    memset(y, 0, (size_t)N * sizeof(float));
    for (j = 0; j < n; j++) {
        const ng_tensor *x = nd->in[1 + j];
        if (ng__mc_same(x, nd->out)) {
            int64_t i;
            for (i = 0; i < N; i++) y[i] += wj[j] * xs[j][i];
        } else {
            int64_t planes, oh, ow, p, r, c, kh = x->shape.d[2], kw = x->shape.d[3];
            int64_t KH = nd->out->shape.d[2], KW = nd->out->shape.d[3];
            ng__mc_geo(x, nd->out, &planes, &oh, &ow);
            for (p = 0; p < planes; p++)
                for (r = 0; r < kh; r++)
                    for (c = 0; c < kw; c++)
                        y[(p * KH + r + oh) * KW + c + ow] += wj[j] * xs[j][(p * kh + r) * kw + c];
        }
    }
}
/* dx_j = w_j crop(g); dW_c = sum(crop(g) x_j); dalpha_k = w_k (dW_k - sum_m w_m dW_m), with
   dW_m = 0 for the columns this node does not hold. */
static void ng__bw_mixed_cols(ng_node *nd) {
    int K = (int)nd->i[1], n = (int)nd->i[2], j, k;
    const float *w = (const float *)nd->saved, *g = nd->out->grad;
    float *ga = ng__in_grad(nd, 0), *gx[7], wj[7];
    double dw[31], wdot = 0.0, acc[7];
    int need_acc[7], any = 0, fresh = 0, fr[7];
    for (j = 0; j < n; j++) {
        /* the last input may take over g when it has the output's shape (ng__in_grad_take):
           the inputs are handled one after the other, so the others have read g by then; other
           same-shape inputs' new buffers are stored, not zeroed and added to */
        fr[j] = 0;
        gx[j] = !ng__mc_same(nd->in[1 + j], nd->out) ? ng__in_grad(nd, 1 + j)
                : j == n - 1 ? ng__in_grad_take(nd, 1 + j, &fresh) : ng__in_grad_fresh(nd, 1 + j, &fr[j]);
        wj[j] = nd->i[3 + j] < 0 ? 1.0f : w[nd->i[3 + j]];
        need_acc[j] = ga != NULL && nd->i[3 + j] >= 0 && K > 1;
        acc[j] = 0.0;
        any |= need_acc[j] || gx[j] != NULL;
    }
    if (nd->ctx->status != NG_OK || !any) return;
    for (j = 0; j < n; j++) {
        const ng_tensor *x = nd->in[1 + j];
        const float *xv = x->data;
        if (!need_acc[j] && !gx[j]) continue;
        if (ng__mc_same(x, nd->out)) {
            int64_t N = nd->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
            double *part = need_acc[j] ? (double *)ng__alloc(nd->ctx, (size_t)(nb ? nb : 1) * sizeof(double)) : NULL;
            float *gk = gx[j], wk = wj[j];
            if (nd->ctx->status != NG_OK) return;
NG__OMP_FOR(nb > 4)
            for (b = 0; b < nb; b++) {
                int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
                if (fresh && j == n - 1) { /* gk is g */
                    double a = 0.0;
                    if (part) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] = 0.0f + wk * g[i]; }
                    else for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                    if (part) part[b] = a;
                } else if (part) {
                    double a = 0.0;
                    if (gk && fr[j]) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] = 0.0f + wk * g[i]; }
                    else if (gk) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] += wk * g[i]; }
                    else for (i = lo; i < hi; i++) a += (double)g[i] * xv[i];
                    part[b] = a;
                } else if (fr[j]) {
                    for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                } else {
                    for (i = lo; i < hi; i++) gk[i] += wk * g[i];
                }
            }
            if (part)
                for (b = 0; b < nb; b++) acc[j] += part[b];
        } else {
            int64_t planes, oh, ow, p, r, c, kh = x->shape.d[2], kw = x->shape.d[3];
            int64_t KH = nd->out->shape.d[2], KW = nd->out->shape.d[3];
            double a = 0.0;
            ng__mc_geo(x, nd->out, &planes, &oh, &ow);
            for (p = 0; p < planes; p++)
                for (r = 0; r < kh; r++)
                    for (c = 0; c < kw; c++) {
                        float gv = g[(p * KH + r + oh) * KW + c + ow];
                        int64_t xi = (p * kh + r) * kw + c;
                        a += (double)gv * xv[xi];
                        if (gx[j]) gx[j][xi] += wj[j] * gv;
                    }
            acc[j] = a;
        }
    }
    if (!ga || K == 1) return;
    for (k = 0; k < K; k++) dw[k] = 0.0;
    for (j = 0; j < n; j++)
        if (need_acc[j]) dw[nd->i[3 + j]] = acc[j];
    for (k = 0; k < K; k++) wdot += (double)w[k] * dw[k];
    for (k = 0; k < K; k++) ga[nd->i[0] * K + k] += (float)((double)w[k] * (dw[k] - wdot));
}

/* ---- src/optim.c ---- */
/* ======================================================================================== */
/* @@OPTIM                                                                                  */
/* ======================================================================================== */
#define NG__OPT_PAR 65536 /* groups larger than this step with OpenMP */

/* Zeroed 64-byte aligned state block of n floats (at least one element). */
static float *ng__state_alloc(int64_t n, const char *what) {
    size_t bytes;
    float *p;
    if (n < 0 || ng_mul_size((size_t)(n ? n : 1), sizeof(float), &bytes)) {
        ng_fail(NG_ERR_NOMEM, "%s: state size overflows", what);
        return NULL;
    }
    p = (float *)ng_aligned_alloc(bytes);
    if (!p) { ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %zu bytes of state", what, bytes); return NULL; }
    memset(p, 0, bytes);
    return p;
}

/* State block on `device` (zeroed) and its release. */
static float *ng__state_alloc_on(int64_t n, int device, const char *what) {
    float *p;
    if (device != NG_CUDA) return ng__state_alloc(n, what);
    p = ng_cuda_alloc_zeros(n);
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate optimizer state on the GPU (%s)", what, ng_last_error());
    return p;
}
static void ng__state_free(float *p, int device) {
    if (device == NG_CUDA) ng_cuda_free(p);
    else ng_aligned_free(p);
}

/* Move up to two state blocks (NULL entries skipped) to `want`, the device their group is on
   now, keeping the values; *device records where they are. All or nothing. */
static ng_status ng__state_follow(float **a, float **b, int64_t n, int *device, int want, const char *what) {
    float **blocks[2], *moved[2] = {NULL, NULL};
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    int i;
    if (*device == want) return NG_OK;
    blocks[0] = a; blocks[1] = b;
    for (i = 0; i < 2; i++)
        if (blocks[i] && *blocks[i] && !(moved[i] = ng__state_alloc_on(n, want, what))) {
            if (moved[0]) ng__state_free(moved[0], want);
            return ng_fail(NG_ERR_NOMEM, "%s: cannot move the optimizer state to the %s", what, want == NG_CUDA ? "GPU" : "host");
        }
    for (i = 0; i < 2; i++)
        if (moved[i]) {
            ng__cuda_copy(moved[i], *blocks[i], bytes, want == NG_CUDA ? 1 : 2);
            ng__state_free(*blocks[i], *device);
            *blocks[i] = moved[i];
        }
    *device = want;
    return NG_OK;
}

/* *k: the CUDA backend's fused kernels for a group on the GPU, NULL for a host group. */
static ng_status ng__opt_kernels(const ng_params *g, const char *what, const ng_cuda_hooks **k) {
    *k = g->device == NG_CUDA ? ng_cuda_get_hooks() : NULL;
    if (g->device == NG_CUDA && !*k)
        return ng_fail(NG_ERR_UNSUPPORTED, "%s: group '%s' is on the GPU but the CUDA backend is not linked", what, g->name);
    return NG_OK;
}

static ng_status ng__check_group(const ng_params *g, const char *what, int need_grad) {
    if (!g) return ng_fail(NG_ERR_ARG, "%s: group is NULL", what);
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "%s: group '%s' is not allocated", what, g->name);
    if (need_grad && !g->grad) return ng_fail(NG_ERR_ARG, "%s: group '%s' has no gradients (not trainable)", what, g->name);
    return NG_OK;
}

/* The double a float hyper-parameter was most likely written as: the shortest decimal that
   rounds to it (0.999f -> 0.999). PyTorch forms its scalars (1 - beta2, lr / (1 - beta1^t))
   from Python doubles, so this reproduces them where (double)f would be off in the 7th digit. */
static double ng__typed(float f) {
    char buf[32];
    int prec;
    if (!isfinite(f) || f == 0.0f) return (double)f;
    for (prec = 1; prec <= 9; prec++) {
        double d;
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

/* ---- Adam ---- */
ng_status ng_adam_init(ng_adam *opt, ng_params *g, float lr, float beta1, float beta2, float eps, float weight_decay) {
    ng_status s;
    memset(opt, 0, sizeof *opt);
    if ((s = ng__check_group(g, "adam", 1)) != NG_OK) return s;
    if (!(lr >= 0.0f) || !(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) || !(eps >= 0.0f) || !(weight_decay >= 0.0f))
        return ng_fail(NG_ERR_ARG, "adam: invalid hyper-parameters (lr %g, betas %g %g, eps %g, wd %g)",
                       (double)lr, (double)beta1, (double)beta2, (double)eps, (double)weight_decay);
    opt->group = g;
    opt->lr = lr; opt->beta1 = beta1; opt->beta2 = beta2; opt->eps = eps; opt->weight_decay = weight_decay;
    opt->device = g->device;
    opt->m = ng__state_alloc_on(g->numel, g->device, "adam");
    opt->v = opt->m ? ng__state_alloc_on(g->numel, g->device, "adam") : NULL;
    if (!opt->v) { ng_adam_free(opt); return NG_ERR_NOMEM; }
    return NG_OK;
}

/* As torch.optim.Adam: the scalars are formed in double and each elementwise operation is done
   in float, in PyTorch's order. The gradient block is left unchanged. */
ng_status ng_adam_step(ng_adam *opt) {
    ng_params *gr = opt->group;
    int64_t i, n = gr->numel;
    float *p, *m, *v;
    const float *g;
    double bc1, bc2;
    float b1, b2, omb1, omb2, step_size, sqrt_bc2, eps = opt->eps, wd = opt->weight_decay;
    const ng_cuda_hooks *k;
    ng_status s = ng__opt_kernels(gr, "adam", &k);
    if (s == NG_OK) s = ng__state_follow(&opt->m, &opt->v, n, &opt->device, gr->device, "adam");
    if (s != NG_OK) return s;
    p = gr->data; m = opt->m; v = opt->v; g = gr->grad;
    opt->t++;
    bc1 = 1.0 - pow(ng__typed(opt->beta1), (double)opt->t);
    bc2 = 1.0 - pow(ng__typed(opt->beta2), (double)opt->t);
    b1 = opt->beta1; b2 = opt->beta2;
    omb1 = (float)(1.0 - ng__typed(opt->beta1));
    omb2 = (float)(1.0 - ng__typed(opt->beta2));
    step_size = (float)(ng__typed(opt->lr) / bc1);
    sqrt_bc2 = (float)sqrt(bc2);
    if (k) { k->adam(p, g, m, v, n, b1, b2, omb1, omb2, step_size, sqrt_bc2, eps, wd); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / denom);
    }
    return NG_OK;
}

void ng_adam_reset(ng_adam *opt) {
    size_t bytes = (size_t)(opt->group->numel ? opt->group->numel : 1) * sizeof(float);
    opt->t = 0;
    if (opt->m) ng__memset0(opt->device, opt->m, bytes);
    if (opt->v) ng__memset0(opt->device, opt->v, bytes);
}

void ng_adam_free(ng_adam *opt) {
    if (!opt) return;
    ng__state_free(opt->m, opt->device);
    ng__state_free(opt->v, opt->device);
    opt->m = opt->v = NULL;
}

/* ---- SGD ---- */
ng_status ng_sgd_init(ng_sgd *opt, ng_params *g, float lr, float momentum, float dampening, float weight_decay, int nesterov) {
    ng_status s;
    memset(opt, 0, sizeof *opt);
    if ((s = ng__check_group(g, "sgd", 1)) != NG_OK) return s;
    if (!(lr >= 0.0f) || !(momentum >= 0.0f) || !(weight_decay >= 0.0f))
        return ng_fail(NG_ERR_ARG, "sgd: invalid hyper-parameters (lr %g, momentum %g, wd %g)", (double)lr, (double)momentum, (double)weight_decay);
    if (nesterov && (momentum <= 0.0f || dampening != 0.0f))
        return ng_fail(NG_ERR_ARG, "sgd: nesterov momentum requires a momentum and zero dampening");
    opt->group = g;
    opt->lr = lr; opt->momentum = momentum; opt->dampening = dampening; opt->weight_decay = weight_decay;
    opt->nesterov = nesterov;
    opt->device = g->device;
    if (momentum != 0.0f) {
        opt->buf = ng__state_alloc_on(g->numel, g->device, "sgd");
        if (!opt->buf) return NG_ERR_NOMEM;
    }
    return NG_OK;
}

ng_status ng_sgd_step(ng_sgd *opt) {
    ng_params *gr = opt->group;
    int64_t i, n = gr->numel;
    float *p, *buf;
    const float *g;
    float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    float omd = (float)(1.0 - ng__typed(opt->dampening));
    int first = opt->t == 0, nesterov = opt->nesterov;
    const ng_cuda_hooks *k;
    ng_status s = ng__opt_kernels(gr, "sgd", &k);
    if (s == NG_OK) s = ng__state_follow(&opt->buf, NULL, n, &opt->device, gr->device, "sgd");
    if (s != NG_OK) return s;
    p = gr->data; buf = opt->buf; g = gr->grad;
    opt->t++;
    if (k) { k->sgd(p, g, buf, n, lr, mom, omd, wd, first, nesterov); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) {
        float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        if (buf) {
            float b = first ? d : mom * buf[i] + omd * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] -= lr * d;
    }
    return NG_OK;
}

void ng_sgd_free(ng_sgd *opt) {
    if (!opt) return;
    ng__state_free(opt->buf, opt->device);
    opt->buf = NULL;
}

/* ---- EMA ---- */
ng_status ng_ema_init(ng_ema *e, ng_params *g, float decay) {
    ng_status s;
    memset(e, 0, sizeof *e);
    if ((s = ng__check_group(g, "ema", 0)) != NG_OK) return s;
    if (!(decay >= 0.0f && decay <= 1.0f)) return ng_fail(NG_ERR_ARG, "ema: decay %g is outside [0, 1]", (double)decay);
    e->group = g;
    e->decay = decay;
    e->device = g->device;
    e->shadow = ng__state_alloc_on(g->numel, g->device, "ema");
    if (!e->shadow) return NG_ERR_NOMEM;
    if (g->device == NG_CUDA) ng__cuda_copy(e->shadow, g->data, (size_t)g->numel * sizeof(float), 3);
    else memcpy(e->shadow, g->data, (size_t)g->numel * sizeof(float));
    return NG_OK;
}

ng_status ng_ema_update(ng_ema *e) {
    int64_t i, n = e->group->numel;
    const float *p;
    float *s, d = e->decay, omd = (float)(1.0 - ng__typed(e->decay));
    const ng_cuda_hooks *k;
    ng_status st = ng__opt_kernels(e->group, "ema", &k);
    if (st == NG_OK) st = ng__state_follow(&e->shadow, NULL, n, &e->device, e->group->device, "ema");
    if (st != NG_OK) return st;
    p = e->group->data; s = e->shadow;
    if (k) { k->ema(s, p, n, d, omd); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) s[i] = d * s[i] + omd * p[i];
    return NG_OK;
}

/* On the GPU the two blocks exchange pointers: the group's tensors are re-pointed at the
   shadow block, which costs nothing and moves no data. */
ng_status ng_ema_swap(ng_ema *e) {
    ng_params *g = e->group;
    int64_t i, n = g->numel;
    float *p, *s;
    ng_status st = ng__state_follow(&e->shadow, NULL, n, &e->device, g->device, "ema");
    if (st != NG_OK) return st;
    p = g->data; s = e->shadow;
    if (g->device == NG_CUDA) {
        int k;
        g->data = s; e->shadow = p;
        for (k = 0; k < g->n; k++) g->tensors[k]->data = g->data + g->offsets[k];
        return NG_OK;
    }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) { float t = p[i]; p[i] = s[i]; s[i] = t; }
    return NG_OK;
}

void ng_ema_free(ng_ema *e) {
    if (!e) return;
    ng__state_free(e->shadow, e->device);
    e->shadow = NULL;
}

/* ---- learning-rate schedules ---- */
float ng_lr_at(ng_lr_kind kind, float base, float final_lr, int64_t step, int64_t total) {
    double t;
    if (kind == NG_LR_CONSTANT || total <= 0) return base;
    t = step <= 0 ? 0.0 : step >= total ? 1.0 : (double)step / (double)total;
    if (kind == NG_LR_COSINE)
        return (float)((double)final_lr + ((double)base - (double)final_lr) * (1.0 + cos(3.14159265358979323846 * t)) * 0.5);
    NG_ASSERT(kind == NG_LR_LINEAR);
    return (float)((double)base + ((double)final_lr - (double)base) * t);
}

/* ---- gradient clipping ---- */
/* Sum of squares in double over a fixed split into 64 chunks, each summed in 8 interleaved
   lanes (independent chains the compiler vectorizes; one chain was latency-bound), lanes and
   chunks added in a fixed order: deterministic for any number of threads. */
static double ng__sumsq(const float *x, int64_t n) {
    double part[64], s = 0.0;
    int64_t chunk = (n + 63) / 64, c;
NG__OMP_FOR(n > NG__OPT_PAR)
    for (c = 0; c < 64; c++) {
        int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n, i;
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}, acc = 0.0;
        int l;
        for (i = lo; i + 8 <= hi; i += 8)
            for (l = 0; l < 8; l++) lane[l] += (double)x[i + l] * x[i + l];
        for (; i < hi; i++) acc += (double)x[i] * x[i];
        for (l = 0; l < 8; l++) acc += lane[l];
        part[c] = acc;
    }
    for (c = 0; c < 64; c++) s += part[c];
    return s;
}

float ng_clip_grad_norm(ng_params *const *groups, int n, float max_norm) {
    double ss = 0.0, norm, coef;
    int k;
    for (k = 0; k < n; k++) {
        const ng_cuda_hooks *kern;
        if (!groups[k] || !groups[k]->grad) continue;
        if (ng__opt_kernels(groups[k], "clip_grad_norm", &kern) != NG_OK) return NAN;
        ss += kern ? kern->sumsq(groups[k]->grad, groups[k]->numel) : ng__sumsq(groups[k]->grad, groups[k]->numel);
    }
    norm = sqrt(ss);
    coef = (double)max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0) {
        float c = (float)coef;
        for (k = 0; k < n; k++) {
            float *g;
            int64_t i, m;
            if (!groups[k] || !groups[k]->grad) continue;
            g = groups[k]->grad;
            m = groups[k]->numel;
            if (groups[k]->device == NG_CUDA) { ng_cuda_get_hooks()->scale(g, m, c); continue; }
NG__OMP_FOR(m > NG__OPT_PAR)
            for (i = 0; i < m; i++) g[i] *= c;
        }
    }
    return (float)norm;
}

/* ---- initialisers ---- */
void ng_init_constant(ng_tensor *t, float v) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = v;
}
void ng_init_uniform(ng_tensor *t, float lo, float hi, ng_rng *r) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = ng_rng_uniformf(r, lo, hi);
}
void ng_init_normal(ng_tensor *t, float mean, float std, ng_rng *r) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = (float)((double)mean + (double)std * ng_rng_normal(r));
}
void ng_init_fans(const ng_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    int64_t rf = 1;
    int d;
    /* as torch.nn.init: fans need at least 2 dimensions */
    NG_ASSERT(t->shape.ndim >= 2);
    for (d = 2; d < t->shape.ndim; d++) rf *= t->shape.d[d];
    if (fan_in) *fan_in = t->shape.d[1] * rf;
    if (fan_out) *fan_out = t->shape.d[0] * rf;
}
void ng_init_xavier_uniform(ng_tensor *t, float gain, ng_rng *r) {
    int64_t fi, fo;
    float a;
    ng_init_fans(t, &fi, &fo);
    a = (float)((double)gain * sqrt(6.0 / (double)(fi + fo > 0 ? fi + fo : 1)));
    ng_init_uniform(t, -a, a, r);
}
void ng_init_kaiming_uniform_default(ng_tensor *w, ng_rng *r) {
    /* kaiming_uniform(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain sqrt(3 / fan_in) = 1 / sqrt(fan_in) */
    int64_t fi;
    float b;
    ng_init_fans(w, &fi, NULL);
    b = fi > 0 ? (float)(1.0 / sqrt((double)fi)) : 0.0f;
    ng_init_uniform(w, -b, b, r);
}
void ng_init_bias_default(ng_tensor *b, const ng_tensor *weight, ng_rng *r) {
    int64_t fi;
    float bound;
    ng_init_fans(weight, &fi, NULL);
    bound = fi > 0 ? (float)(1.0 / sqrt((double)fi)) : 0.0f;
    ng_init_uniform(b, -bound, bound, r);
}

/* ---- src/io.c ---- */
/* ======================================================================================== */
/* @@IO                                                                                     */
/* ======================================================================================== */

/* ---- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), one table lookup per byte ---- */
static const uint32_t ng__crc_table[256] = {
    0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu,
    0xE963A535u, 0x9E6495A3u, 0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u,
    0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u, 0x1DB71064u, 0x6AB020F2u,
    0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
    0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u,
    0xFA0F3D63u, 0x8D080DF5u, 0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u,
    0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu, 0x35B5A8FAu, 0x42B2986Cu,
    0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
    0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u,
    0xCFBA9599u, 0xB8BDA50Fu, 0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u,
    0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du, 0x76DC4190u, 0x01DB7106u,
    0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
    0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du,
    0x91646C97u, 0xE6635C01u, 0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu,
    0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u, 0x65B0D9C6u, 0x12B7E950u,
    0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
    0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u,
    0xA4D1C46Du, 0xD3D6F4FBu, 0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u,
    0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u, 0x5005713Cu, 0x270241AAu,
    0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
    0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u,
    0xB7BD5C3Bu, 0xC0BA6CADu, 0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au,
    0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u, 0xE3630B12u, 0x94643B84u,
    0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
    0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu,
    0x196C3671u, 0x6E6B06E7u, 0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu,
    0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u, 0xD6D6A3E8u, 0xA1D1937Eu,
    0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
    0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u,
    0x316E8EEFu, 0x4669BE79u, 0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u,
    0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu, 0xC5BA3BBEu, 0xB2BD0B28u,
    0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
    0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu,
    0x72076785u, 0x05005713u, 0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u,
    0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u, 0x86D3D2D4u, 0xF1D4E242u,
    0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
    0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u,
    0x616BFFD3u, 0x166CCF45u, 0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u,
    0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu, 0xAED16A4Au, 0xD9D65ADCu,
    0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
    0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u,
    0x54DE5729u, 0x23D967BFu, 0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u,
    0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du,
};

uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n) {
    const unsigned char *p = (const unsigned char *)buf;
    crc = ~crc;
    while (n--) crc = ng__crc_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

/* ---- whole-file read ---- */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n) {
    unsigned char *buf = NULL;
    size_t cap, len = 0;
#ifndef _WIN32
    int fd;
    struct stat st;
#else
    FILE *f;
#endif
    *data = NULL;
    *n = 0;
#ifndef _WIN32
    do fd = open(path, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return ng_fail(NG_ERR_IO, "cannot open '%s' for reading: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ng_fail(NG_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ng_fail(NG_ERR_IO, "cannot read '%s': it is a directory", path);
    }
    if (S_ISREG(st.st_mode)) {
        if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes) {
            close(fd);
            return ng_fail(NG_ERR_IO, "cannot read '%s': it is %lld bytes, more than the limit of %zu bytes",
                           path, (long long)st.st_size, max_bytes);
        }
        cap = (size_t)st.st_size + 1; /* one spare byte: a file that grew is noticed, not cut */
    } else {
        cap = 1 << 16;
    }
#else
    f = fopen(path, "rb");
    if (!f) return ng_fail(NG_ERR_IO, "cannot open '%s' for reading: %s", path, strerror(errno));
    cap = 1 << 16;
#endif
    if (max_bytes < SIZE_MAX && cap > max_bytes + 1) cap = max_bytes + 1;
    buf = (unsigned char *)malloc(cap);
    if (!buf) {
#ifndef _WIN32
        close(fd);
#else
        fclose(f);
#endif
        return ng_fail(NG_ERR_NOMEM, "cannot read '%s': out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        size_t want;
        if (len == cap) {
            size_t ncap;
            unsigned char *nb;
            if (len > max_bytes) break; /* reported below */
            ncap = cap <= SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
            if (max_bytes < SIZE_MAX && ncap > max_bytes + 1) ncap = max_bytes + 1;
            if (ncap <= cap) break;
            nb = (unsigned char *)realloc(buf, ncap);
            if (!nb) {
                free(buf);
#ifndef _WIN32
                close(fd);
#else
                fclose(f);
#endif
                return ng_fail(NG_ERR_NOMEM, "cannot read '%s': out of memory for %zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        want = cap - len;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
#ifndef _WIN32
        {
            ssize_t r = read(fd, buf + len, want);
            if (r < 0) {
                int e = errno;
                if (e == EINTR) continue;
                free(buf);
                close(fd);
                return ng_fail(NG_ERR_IO, "read error on '%s' at offset %zu: %s", path, len, strerror(e));
            }
            if (r == 0) break;
            len += (size_t)r;
        }
#else
        {
            size_t r = fread(buf + len, 1, want, f);
            len += r;
            if (r < want) {
                if (ferror(f)) {
                    free(buf);
                    fclose(f);
                    return ng_fail(NG_ERR_IO, "read error on '%s' at offset %zu", path, len);
                }
                break;
            }
        }
#endif
    }
#ifndef _WIN32
    close(fd);
#else
    fclose(f);
#endif
    if (len > max_bytes) {
        free(buf);
        return ng_fail(NG_ERR_IO, "cannot read '%s': it is more than the limit of %zu bytes", path, max_bytes);
    }
    *data = buf;
    *n = len;
    return NG_OK;
}

/* ---- atomic write ---- */
#ifndef _WIN32
static ng_status ng__fsync_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t dn;
    int fd, rc, e;
    if (!slash) { dir = (char *)malloc(2); if (dir) strcpy(dir, "."); }
    else {
        dn = slash == path ? 1 : (size_t)(slash - path);
        dir = (char *)malloc(dn + 1);
        if (dir) { memcpy(dir, path, dn); dir[dn] = 0; }
    }
    if (!dir) return ng_fail(NG_ERR_NOMEM, "'%s' was written, but syncing its directory ran out of memory", path);
    do fd = open(dir, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        ng_fail(NG_ERR_IO, "'%s' was written, but its directory '%s' could not be opened to sync it: %s",
                path, dir, strerror(e));
        free(dir);
        return NG_ERR_IO;
    }
    rc = fsync(fd);
    e = errno;
    close(fd);
    /* Some file systems cannot sync directories (EINVAL): the rename is then as durable as
       that file system makes it. */
    if (rc != 0 && e != EINVAL && e != EROFS) {
        ng_fail(NG_ERR_IO, "'%s' was written, but syncing its directory '%s' failed: %s", path, dir, strerror(e));
        free(dir);
        return NG_ERR_IO;
    }
    free(dir);
    return NG_OK;
}
#endif

ng_status ng_file_write_atomic(const char *path, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t plen = strlen(path), tlen = plen + 48, off = 0;
    char *tmp = (char *)malloc(tlen);
    ng_status st = NG_OK;
#ifndef _WIN32
    int fd = -1, k, e;
#else
    FILE *f;
#endif
    if (!tmp) return ng_fail(NG_ERR_NOMEM, "cannot write '%s': out of memory", path);
#ifndef _WIN32
    for (k = 0; k < 100; k++) {
        if (k == 0) snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(tmp, tlen, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        do fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666); while (fd < 0 && errno == EINTR);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) {
        e = errno;
        ng_fail(NG_ERR_IO, "cannot write '%s': cannot create temporary file '%s': %s", path, tmp, strerror(e));
        free(tmp);
        return NG_ERR_IO;
    }
    while (off < n) {
        size_t want = n - off;
        ssize_t r;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        r = write(fd, p + off, want);
        if (r < 0) {
            e = errno;
            if (e == EINTR) continue;
            st = ng_fail(NG_ERR_IO, "cannot write '%s': writing temporary file '%s' failed at offset %zu of %zu: %s",
                         path, tmp, off, n, strerror(e));
            break;
        }
        off += (size_t)r;
    }
    if (st == NG_OK && fsync(fd) != 0) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': fsync of temporary file '%s' failed: %s", path, tmp, strerror(e));
    }
    if (close(fd) != 0 && st == NG_OK) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': closing temporary file '%s' failed: %s", path, tmp, strerror(e));
    }
    if (st == NG_OK && rename(tmp, path) != 0) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': renaming '%s' over it failed: %s", path, tmp, strerror(e));
    }
    if (st != NG_OK) {
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return ng__fsync_dir_of(path);
#else
    /* Windows: no atomic replace through the C library; write fully, then swap names. */
    snprintf(tmp, tlen, "%s.tmp.w", path);
    f = fopen(tmp, "wb");
    if (!f) {
        ng_fail(NG_ERR_IO, "cannot write '%s': cannot create temporary file '%s': %s", path, tmp, strerror(errno));
        free(tmp);
        return NG_ERR_IO;
    }
    if (fwrite(p, 1, n, f) != n || fflush(f) != 0) st = ng_fail(NG_ERR_IO, "cannot write '%s': writing '%s' failed", path, tmp);
    if (fclose(f) != 0 && st == NG_OK) st = ng_fail(NG_ERR_IO, "cannot write '%s': closing '%s' failed", path, tmp);
    if (st == NG_OK) {
        remove(path);
        if (rename(tmp, path) != 0) st = ng_fail(NG_ERR_IO, "cannot write '%s': renaming '%s' failed", path, tmp);
    }
    if (st != NG_OK) remove(tmp);
    (void)off;
    free(tmp);
    return st;
#endif
}

/* ---- checkpoints ---- */
typedef struct ng__ckrec {
    char *key;                 /* NUL-terminated copy */
    uint32_t kind;             /* ng_ckpt_kind */
    const unsigned char *data; /* payload: into `own` (put) or into the checkpoint's buffer (parsed) */
    size_t n;
    unsigned char *own;
} ng__ckrec;

struct ng_ckpt {
    char *name;                /* file name for messages; NULL for a checkpoint being built */
    int n, cap;
    ng__ckrec *recs;
    unsigned char *buf;        /* contents of a parsed file; records point into it */
};

/* little-endian encoding, byte by byte */
static void ng__le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void ng__le64(unsigned char *p, uint64_t v) {
    ng__le32(p, (uint32_t)v);
    ng__le32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t ng__rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t ng__rd64(const unsigned char *p) { return (uint64_t)ng__rd32(p) | ((uint64_t)ng__rd32(p + 4) << 32); }
static uint32_t ng__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float ng__bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* writer cursor over a buffer sized exactly beforehand */
typedef struct ng__wr { unsigned char *p; size_t pos; } ng__wr;
static void ng__w32(ng__wr *w, uint32_t v) { ng__le32(w->p + w->pos, v); w->pos += 4; }
static void ng__w64(ng__wr *w, uint64_t v) { ng__le64(w->p + w->pos, v); w->pos += 8; }
static void ng__wbytes(ng__wr *w, const void *b, size_t n) { if (n) memcpy(w->p + w->pos, b, n); w->pos += n; }
static void ng__wstr(ng__wr *w, const char *s) { size_t n = strlen(s); ng__w32(w, (uint32_t)n); ng__wbytes(w, s, n); }
static void ng__wf32s(ng__wr *w, const float *x, size_t n) {
    unsigned char *p = w->p + w->pos;
    size_t i;
    for (i = 0; i < n; i++) ng__le32(p + 4 * i, ng__f32_bits(x[i]));
    w->pos += 4 * n;
}
/* ng__wf32s for a block on `device`: a GPU block is copied into the output, then put in
   little-endian order in place. */
static void ng__wf32s_on(ng__wr *w, const float *x, size_t n, int device) {
    unsigned char *p = w->p + w->pos;
    size_t i;
    if (device != NG_CUDA) { ng__wf32s(w, x, n); return; }
    ng__cuda_copy(p, x, 4 * n, 2);
    for (i = 0; i < n; i++) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        ng__le32(p + 4 * i, ng__f32_bits(f));
    }
    w->pos += 4 * n;
}

/* reader cursor: every read is bounded by what remains; returns 0 on success, -1 if short */
typedef struct ng__rd { const unsigned char *p; size_t n, pos; } ng__rd;
static size_t ng__rleft(const ng__rd *r) { return r->n - r->pos; }
static int ng__r32(ng__rd *r, uint32_t *v) {
    if (ng__rleft(r) < 4) return -1;
    *v = ng__rd32(r->p + r->pos); r->pos += 4; return 0;
}
static int ng__r64(ng__rd *r, uint64_t *v) {
    if (ng__rleft(r) < 8) return -1;
    *v = ng__rd64(r->p + r->pos); r->pos += 8; return 0;
}
static int ng__rbytes(ng__rd *r, size_t n, const unsigned char **b) {
    if (ng__rleft(r) < n) return -1;
    *b = r->p + r->pos; r->pos += n; return 0;
}
static void ng__rf32s(const unsigned char *p, float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = ng__bits_f32(ng__rd32(p + 4 * i));
}
/* ng__rf32s into a block on `device` (a GPU block is filled through a host copy). */
static ng_status ng__rf32s_on(const unsigned char *p, float *x, size_t n, int device, const char *what) {
    float *h;
    if (device != NG_CUDA) { ng__rf32s(p, x, n); return NG_OK; }
    h = (float *)malloc(n ? 4 * n : 4);
    if (!h) return ng_fail(NG_ERR_NOMEM, "checkpoint: %s: cannot allocate %zu bytes of host staging", what, 4 * n);
    ng__rf32s(p, h, n);
    ng__cuda_copy(x, h, 4 * n, 1);
    free(h);
    return NG_OK;
}

static int ng__add_size(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return -1;
    *out = a + b;
    return 0;
}

/* Copy the current error message (truncated to fit) before composing a new one from it. */
static void ng__copy_err(char *dst, size_t cap) {
    const char *e = ng_last_error();
    size_t l = strlen(e);
    if (l >= cap) l = cap - 1;
    memcpy(dst, e, l);
    dst[l] = 0;
}

static const char *ng__ck_name(const ng_ckpt *ck) { return ck->name ? ck->name : "(unsaved checkpoint)"; }
static const char *ng__ck_kind_name(uint32_t k) {
    switch (k) {
    case NG_CKPT_RAW: return "raw";
    case NG_CKPT_I64: return "i64";
    case NG_CKPT_PARAMS: return "params";
    case NG_CKPT_ADAM: return "adam";
    case NG_CKPT_SGD: return "sgd";
    case NG_CKPT_EMA: return "ema";
    case NG_CKPT_RNG: return "rng";
    }
    return "unknown";
}

ng_ckpt *ng_ckpt_new(void) {
    ng_ckpt *ck = (ng_ckpt *)calloc(1, sizeof *ck);
    if (!ck) ng_fail(NG_ERR_NOMEM, "checkpoint: out of memory");
    return ck;
}

void ng_ckpt_free(ng_ckpt *ck) {
    int i;
    if (!ck) return;
    for (i = 0; i < ck->n; i++) {
        free(ck->recs[i].key);
        free(ck->recs[i].own);
    }
    free(ck->recs);
    free(ck->buf);
    free(ck->name);
    free(ck);
}

static const ng__ckrec *ng__ck_find(const ng_ckpt *ck, const char *key) {
    int i;
    if (!ck || !key) return NULL;
    for (i = 0; i < ck->n; i++)
        if (strcmp(ck->recs[i].key, key) == 0) return &ck->recs[i];
    return NULL;
}

int ng_ckpt_count(const ng_ckpt *ck) { return ck ? ck->n : 0; }
const char *ng_ckpt_key_at(const ng_ckpt *ck, int i) {
    return ck && i >= 0 && i < ck->n ? ck->recs[i].key : NULL;
}
ng_ckpt_kind ng_ckpt_kind_of(const ng_ckpt *ck, const char *key) {
    const ng__ckrec *r = ng__ck_find(ck, key);
    return r ? (ng_ckpt_kind)r->kind : (ng_ckpt_kind)0;
}
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n) {
    const ng__ckrec *r = ng__ck_find(ck, key);
    if (n) *n = r ? r->n : 0;
    return r ? (const void *)r->data : NULL;
}

/* Append a record, taking ownership of `own` (freed on failure). */
static ng_status ng__ck_add(ng_ckpt *ck, const char *key, uint32_t kind, unsigned char *own, size_t n) {
    size_t klen;
    char *kc;
    if (!ck || !key) { free(own); return ng_fail(NG_ERR_ARG, "checkpoint put: NULL checkpoint or key"); }
    klen = strlen(key);
    if (klen == 0 || klen > NG_CKPT_MAX_KEY) {
        free(own);
        return ng_fail(NG_ERR_ARG, "checkpoint put: key length %zu is out of range (1..%u)", klen, NG_CKPT_MAX_KEY);
    }
    if (ng__ck_find(ck, key)) { free(own); return ng_fail(NG_ERR_ARG, "checkpoint put: duplicate key '%s'", key); }
    if (ck->n == ck->cap) {
        int cap = ck->cap ? 2 * ck->cap : 16;
        ng__ckrec *nr = (ng__ckrec *)realloc(ck->recs, (size_t)cap * sizeof *nr);
        if (!nr) { free(own); return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': out of memory", key); }
        ck->recs = nr;
        ck->cap = cap;
    }
    kc = (char *)malloc(klen + 1);
    if (!kc) { free(own); return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': out of memory", key); }
    memcpy(kc, key, klen + 1);
    ck->recs[ck->n].key = kc;
    ck->recs[ck->n].kind = kind;
    ck->recs[ck->n].own = own;
    ck->recs[ck->n].data = own;
    ck->recs[ck->n].n = n;
    ck->n++;
    return NG_OK;
}

static unsigned char *ng__ck_alloc(const char *key, size_t n) {
    unsigned char *p = (unsigned char *)malloc(n ? n : 1);
    if (!p) ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': cannot allocate %zu bytes", key ? key : "", n);
    return p;
}

ng_status ng_ckpt_put(ng_ckpt *ck, const char *key, const void *data, size_t n) {
    unsigned char *p;
    if (n && !data) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': NULL data", key ? key : "");
    p = ng__ck_alloc(key, n);
    if (!p) return NG_ERR_NOMEM;
    if (n) memcpy(p, data, n);
    return ng__ck_add(ck, key, NG_CKPT_RAW, p, n);
}

ng_status ng_ckpt_put_i64(ng_ckpt *ck, const char *key, int64_t v) {
    unsigned char *p = ng__ck_alloc(key, 8);
    if (!p) return NG_ERR_NOMEM;
    ng__le64(p, (uint64_t)v);
    return ng__ck_add(ck, key, NG_CKPT_I64, p, 8);
}

ng_status ng_ckpt_put_rng(ng_ckpt *ck, const char *key, const ng_rng *r) {
    unsigned char *p = ng__ck_alloc(key, 32);
    int i;
    if (!p) return NG_ERR_NOMEM;
    for (i = 0; i < 4; i++) ng__le64(p + 8 * i, r->s[i]);
    return ng__ck_add(ck, key, NG_CKPT_RNG, p, 32);
}

/* Bytes of `blocks` float blocks of `numel` elements, overflow-checked. */
static int ng__ck_f32_bytes(int64_t numel, size_t blocks, size_t *out) {
    size_t b;
    if (numel < 0 || (uint64_t)numel > (uint64_t)(SIZE_MAX / 4)) return -1;
    if (ng_mul_size((size_t)numel * 4, blocks, &b)) return -1;
    *out = b;
    return 0;
}

ng_status ng_ckpt_put_params(ng_ckpt *ck, const ng_params *g) {
    char key[8 + sizeof g->name];
    size_t size = 4 + 8, data_bytes, nl;
    unsigned char *p;
    ng__wr w;
    int i, d;
    if (!g || !g->allocated) return ng_fail(NG_ERR_ARG, "checkpoint put params: group '%s' is not allocated", g ? g->name : "(null)");
    snprintf(key, sizeof key, "params/%s", g->name);
    for (i = 0; i < g->n; i++) {
        nl = strlen(g->tensors[i]->name);
        if (nl == 0 || nl > NG_CKPT_MAX_KEY)
            return ng_fail(NG_ERR_ARG, "checkpoint put params '%s': tensor name '%s' is too long", g->name, g->tensors[i]->name);
        if (ng__add_size(size, 4 + nl + 4 + 8 * (size_t)g->tensors[i]->shape.ndim, &size))
            return ng_fail(NG_ERR_NOMEM, "checkpoint put params '%s': size overflow", g->name);
    }
    if (ng__ck_f32_bytes(g->numel, 1, &data_bytes) || ng__add_size(size, data_bytes, &size))
        return ng_fail(NG_ERR_NOMEM, "checkpoint put params '%s': size overflow", g->name);
    p = ng__ck_alloc(key, size);
    if (!p) return NG_ERR_NOMEM;
    w.p = p; w.pos = 0;
    ng__w32(&w, (uint32_t)g->n);
    for (i = 0; i < g->n; i++) {
        const ng_tensor *t = g->tensors[i];
        ng__wstr(&w, t->name);
        ng__w32(&w, (uint32_t)t->shape.ndim);
        for (d = 0; d < t->shape.ndim; d++) ng__w64(&w, (uint64_t)t->shape.d[d]);
    }
    ng__w64(&w, (uint64_t)g->numel);
    ng__wf32s_on(&w, g->data, (size_t)g->numel, g->device);
    NG_ASSERT(w.pos == size);
    return ng__ck_add(ck, key, NG_CKPT_PARAMS, p, size);
}

/* Shared encoder for the optimizer-like records: group name, hyperparameters (f32), an
   optional nesterov word, an optional step count, numel, an optional has_buf word, blocks. */
static ng_status ng__ck_put_state(ng_ckpt *ck, const char *key, uint32_t kind, const ng_params *g,
                                  const float *hp, int nhp, const int *nesterov, const int64_t *t,
                                  const float *const *blocks, int nblocks, int with_has_buf, int device) {
    size_t size, bytes, gl;
    unsigned char *p;
    ng__wr w;
    int i;
    const char *what = ng__ck_kind_name(kind);
    if (!g) return ng_fail(NG_ERR_ARG, "checkpoint put %s '%s': the state has no parameter group", what, key ? key : "");
    for (i = 0; i < nblocks; i++)
        if (g->numel > 0 && !blocks[i])
            return ng_fail(NG_ERR_ARG, "checkpoint put %s '%s': state block %d is not allocated", what, key ? key : "", i);
    gl = strlen(g->name);
    size = 4 + gl + 4 * (size_t)nhp + (nesterov ? 4 : 0) + (t ? 8 : 0) + 8 + (with_has_buf ? 4 : 0);
    if (ng__ck_f32_bytes(g->numel, (size_t)nblocks, &bytes) || ng__add_size(size, bytes, &size))
        return ng_fail(NG_ERR_NOMEM, "checkpoint put %s '%s': size overflow", what, key ? key : "");
    p = ng__ck_alloc(key, size);
    if (!p) return NG_ERR_NOMEM;
    w.p = p; w.pos = 0;
    ng__wstr(&w, g->name);
    for (i = 0; i < nhp; i++) ng__w32(&w, ng__f32_bits(hp[i]));
    if (nesterov) ng__w32(&w, *nesterov ? 1u : 0u);
    if (t) ng__w64(&w, (uint64_t)*t);
    ng__w64(&w, (uint64_t)g->numel);
    if (with_has_buf) ng__w32(&w, (uint32_t)nblocks);
    for (i = 0; i < nblocks; i++) ng__wf32s_on(&w, blocks[i], (size_t)g->numel, device);
    NG_ASSERT(w.pos == size);
    return ng__ck_add(ck, key, kind, p, size);
}

ng_status ng_ckpt_put_adam(ng_ckpt *ck, const char *key, const ng_adam *opt) {
    float hp[5];
    const float *blocks[2];
    hp[0] = opt->lr; hp[1] = opt->beta1; hp[2] = opt->beta2; hp[3] = opt->eps; hp[4] = opt->weight_decay;
    blocks[0] = opt->m; blocks[1] = opt->v;
    return ng__ck_put_state(ck, key, NG_CKPT_ADAM, opt->group, hp, 5, NULL, &opt->t, blocks, 2, 0, opt->device);
}

ng_status ng_ckpt_put_sgd(ng_ckpt *ck, const char *key, const ng_sgd *opt) {
    float hp[4];
    const float *blocks[1];
    hp[0] = opt->lr; hp[1] = opt->momentum; hp[2] = opt->dampening; hp[3] = opt->weight_decay;
    blocks[0] = opt->buf;
    return ng__ck_put_state(ck, key, NG_CKPT_SGD, opt->group, hp, 4, &opt->nesterov, &opt->t, blocks,
                            opt->buf ? 1 : 0, 1, opt->device);
}

ng_status ng_ckpt_put_ema(ng_ckpt *ck, const char *key, const ng_ema *e) {
    float hp[1];
    const float *blocks[1];
    hp[0] = e->decay;
    blocks[0] = e->shadow;
    return ng__ck_put_state(ck, key, NG_CKPT_EMA, e->group, hp, 1, NULL, NULL, blocks, 1, 0, e->device);
}

ng_status ng_ckpt_serialize(const ng_ckpt *ck, unsigned char **out, size_t *n) {
    size_t size = 12 + 4, i;
    unsigned char *p;
    ng__wr w;
    *out = NULL;
    *n = 0;
    if (!ck) return ng_fail(NG_ERR_ARG, "checkpoint serialize: NULL checkpoint");
    for (i = 0; i < (size_t)ck->n; i++) {
        size_t rs;
        if (ng__add_size(4 + strlen(ck->recs[i].key) + 4 + 8, ck->recs[i].n, &rs) || ng__add_size(size, rs, &size))
            return ng_fail(NG_ERR_NOMEM, "checkpoint serialize: size overflow");
    }
    p = (unsigned char *)malloc(size);
    if (!p) return ng_fail(NG_ERR_NOMEM, "checkpoint serialize: cannot allocate %zu bytes", size);
    w.p = p; w.pos = 0;
    ng__wbytes(&w, "NGCK", 4);
    ng__w32(&w, NG_CKPT_VERSION);
    ng__w32(&w, (uint32_t)ck->n);
    for (i = 0; i < (size_t)ck->n; i++) {
        const ng__ckrec *r = &ck->recs[i];
        ng__wstr(&w, r->key);
        ng__w32(&w, r->kind);
        ng__w64(&w, (uint64_t)r->n);
        ng__wbytes(&w, r->data, r->n);
    }
    ng__w32(&w, ng_crc32(0, p, w.pos));
    NG_ASSERT(w.pos == size);
    *out = p;
    *n = size;
    return NG_OK;
}

ng_status ng_ckpt_save(const ng_ckpt *ck, const char *path) {
    unsigned char *buf;
    size_t n;
    ng_status st = ng_ckpt_serialize(ck, &buf, &n);
    if (st != NG_OK) {
        char why[900];
        ng__copy_err(why, sizeof why); /* ng_fail writes the buffer it would read */
        return ng_fail(st, "cannot save checkpoint '%s': %s", path, why);
    }
    st = ng_file_write_atomic(path, buf, n);
    free(buf);
    return st;
}

/* ---- typed payload checks (parse time and getters) ---- */

/* Decoded header of an adam/sgd/ema payload. */
typedef struct ng__ckstate {
    const unsigned char *gname;
    uint32_t glen;
    float hp[5];
    uint32_t nesterov, has_buf;
    int64_t t;
    int64_t numel;
    const unsigned char *blocks;   /* nblocks x numel x f32 */
    int nblocks;
} ng__ckstate;

static ng_status ng__ck_bad(const ng_ckpt *ck, const ng__ckrec *rec, const char *what) {
    return ng_fail(NG_ERR_FORMAT, "checkpoint '%s': %s record '%s' (%zu bytes) is malformed: %s",
                   ng__ck_name(ck), ng__ck_kind_name(rec->kind), rec->key, rec->n, what);
}

/* Reads a u64 element count and checks it fits int64 (callers then check the exact payload
   size; an element count alone never sizes an allocation). */
static int ng__ck_numel(ng__rd *r, int64_t *numel) {
    uint64_t u;
    if (ng__r64(r, &u)) return -1;
    if (u > (uint64_t)INT64_MAX) return -1;
    *numel = (int64_t)u;
    return 0;
}

static ng_status ng__ck_state_check(const ng_ckpt *ck, const ng__ckrec *rec, ng__ckstate *s) {
    ng__rd r;
    int nhp, i;
    uint32_t u;
    uint64_t t;
    size_t need;
    r.p = rec->data; r.n = rec->n; r.pos = 0;
    memset(s, 0, sizeof *s);
    nhp = rec->kind == NG_CKPT_ADAM ? 5 : rec->kind == NG_CKPT_SGD ? 4 : 1;
    if (ng__r32(&r, &s->glen) || s->glen > NG_CKPT_MAX_KEY || ng__rbytes(&r, s->glen, &s->gname))
        return ng__ck_bad(ck, rec, "bad group name");
    if (memchr(s->gname, 0, s->glen)) return ng__ck_bad(ck, rec, "group name contains a NUL byte");
    for (i = 0; i < nhp; i++) {
        if (ng__r32(&r, &u)) return ng__ck_bad(ck, rec, "truncated hyperparameters");
        s->hp[i] = ng__bits_f32(u);
    }
    if (rec->kind == NG_CKPT_SGD) {
        if (ng__r32(&r, &s->nesterov) || s->nesterov > 1) return ng__ck_bad(ck, rec, "bad nesterov flag");
    }
    if (rec->kind != NG_CKPT_EMA) {
        if (ng__r64(&r, &t) || t > (uint64_t)INT64_MAX) return ng__ck_bad(ck, rec, "bad step count");
        s->t = (int64_t)t;
    }
    if (ng__ck_numel(&r, &s->numel)) return ng__ck_bad(ck, rec, "element count missing or out of range");
    if (rec->kind == NG_CKPT_SGD) {
        if (ng__r32(&r, &s->has_buf) || s->has_buf > 1) return ng__ck_bad(ck, rec, "bad momentum-buffer flag");
        s->nblocks = (int)s->has_buf;
    } else {
        s->nblocks = rec->kind == NG_CKPT_ADAM ? 2 : 1;
    }
    if (ng__ck_f32_bytes(s->numel, (size_t)s->nblocks, &need) || need != ng__rleft(&r))
        return ng__ck_bad(ck, rec, "state size does not match the element count");
    s->blocks = r.p + r.pos;
    return NG_OK;
}

/* Walks a params payload: tensor count, entries, numel; returns the float data position. */
static ng_status ng__ck_params_check(const ng_ckpt *ck, const ng__ckrec *rec, uint32_t *count,
                                     int64_t *numel, const unsigned char **values) {
    ng__rd r;
    uint32_t T, i, len, nd, d;
    uint64_t dim;
    int64_t sum = 0, tn;
    const unsigned char *name;
    size_t need;
    r.p = rec->data; r.n = rec->n; r.pos = 0;
    if (ng__r32(&r, &T)) return ng__ck_bad(ck, rec, "missing tensor count");
    if (T > ng__rleft(&r) / 8) return ng__ck_bad(ck, rec, "tensor count larger than the payload");
    for (i = 0; i < T; i++) {
        if (ng__r32(&r, &len) || len == 0 || len > NG_CKPT_MAX_KEY || ng__rbytes(&r, len, &name))
            return ng__ck_bad(ck, rec, "bad tensor name");
        if (memchr(name, 0, len)) return ng__ck_bad(ck, rec, "tensor name contains a NUL byte");
        if (ng__r32(&r, &nd) || nd > NG_MAX_DIMS) return ng__ck_bad(ck, rec, "bad number of dimensions");
        tn = 1;
        for (d = 0; d < nd; d++) {
            if (ng__r64(&r, &dim) || dim > (uint64_t)INT64_MAX || ng_mul_i64(tn, (int64_t)dim, &tn))
                return ng__ck_bad(ck, rec, "bad or overflowing dimension");
        }
        if (sum > INT64_MAX - tn) return ng__ck_bad(ck, rec, "element count overflows");
        sum += tn;
    }
    if (ng__ck_numel(&r, numel) || *numel != sum)
        return ng__ck_bad(ck, rec, "element count missing or different from the tensor shapes");
    if (ng__ck_f32_bytes(*numel, 1, &need) || need != ng__rleft(&r))
        return ng__ck_bad(ck, rec, "value bytes do not match the element count");
    *count = T;
    *values = r.p + r.pos;
    return NG_OK;
}

static ng_status ng__ck_check_record(const ng_ckpt *ck, const ng__ckrec *rec) {
    switch (rec->kind) {
    case NG_CKPT_RAW: return NG_OK;
    case NG_CKPT_I64: return rec->n == 8 ? NG_OK : ng__ck_bad(ck, rec, "payload must be 8 bytes");
    case NG_CKPT_RNG: return rec->n == 32 ? NG_OK : ng__ck_bad(ck, rec, "payload must be 32 bytes");
    case NG_CKPT_PARAMS: {
        uint32_t c;
        int64_t ne;
        const unsigned char *v;
        return ng__ck_params_check(ck, rec, &c, &ne, &v);
    }
    case NG_CKPT_ADAM: case NG_CKPT_SGD: case NG_CKPT_EMA: {
        ng__ckstate s;
        return ng__ck_state_check(ck, rec, &s);
    }
    }
    return ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record '%s' has unknown kind %u", ng__ck_name(ck), rec->key, rec->kind);
}

/* ---- parsing ---- */
static int ng__ck_keycmp(const void *a, const void *b) {
    const ng__ckrec *const *x = (const ng__ckrec *const *)a, *const *y = (const ng__ckrec *const *)b;
    return strcmp((*x)->key, (*y)->key);
}

/* Walks the record framing only (no allocation): 0 if it fits, else the index of the record
   that runs past `end` plus 1, with its offset. Used to tell truncation from corruption. */
static uint32_t ng__ck_probe(const unsigned char *buf, size_t end, size_t *at) {
    uint32_t count = ng__rd32(buf + 8), i;
    ng__rd r;
    r.p = buf; r.n = end; r.pos = 12;
    for (i = 0; i < count; i++) {
        uint32_t k, kind;
        uint64_t p;
        const unsigned char *b;
        *at = r.pos;
        if (ng__r32(&r, &k) || ng__rbytes(&r, k, &b) || ng__r32(&r, &kind) || ng__r64(&r, &p) ||
            p > ng__rleft(&r) || ng__rbytes(&r, (size_t)p, &b))
            return i + 1;
    }
    return 0;
}

/* Parse, taking ownership of `buf` (a malloc'd block of n >= 1 bytes). */
static ng_status ng__ck_parse_owned(unsigned char *buf, size_t n, const char *name, ng_ckpt **out) {
    static const unsigned char magic[4] = {'N', 'G', 'C', 'K'};
    uint32_t version, count, stored, computed, i;
    size_t end, at = 0;
    ng_ckpt *ck;
    ng__rd r;
    ng__ckrec **order = NULL;
    ng_status st = NG_OK;
    *out = NULL;
    if (n == 0) { free(buf); return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is empty", name); }
    if (memcmp(buf, magic, n < 4 ? n : 4) != 0) {
        ng_fail(NG_ERR_FORMAT, "'%s' is not a nasgan checkpoint: bad magic (expected \"NGCK\", found bytes %02x %02x %02x %02x)",
                name, buf[0], n > 1 ? buf[1] : 0, n > 2 ? buf[2] : 0, n > 3 ? buf[3] : 0);
        free(buf);
        return NG_ERR_FORMAT;
    }
    if (n < 8) {
        free(buf);
        return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: %zu bytes, the header alone needs 16", name, n);
    }
    version = ng__rd32(buf + 4);
    if (version != NG_CKPT_VERSION) {
        ng_fail(NG_ERR_FORMAT, "checkpoint '%s' has format version %u; this build reads version %u%s", name, version,
                NG_CKPT_VERSION, version > NG_CKPT_VERSION ? " (written by a newer nasgan?)" : "");
        free(buf);
        return NG_ERR_FORMAT;
    }
    if (n < 16) {
        free(buf);
        return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: %zu bytes, the header and checksum need 16", name, n);
    }
    end = n - 4;
    stored = ng__rd32(buf + end);
    computed = ng_crc32(0, buf, end);
    if (stored != computed) {
        uint32_t bad = ng__ck_probe(buf, end, &at);
        if (bad)
            ng_fail(NG_ERR_CHECKSUM, "checkpoint '%s' is truncated or corrupt: record %u of %u (offset %zu) runs past "
                    "the end of the %zu-byte file, and the CRC32 does not match (stored 0x%08x, computed 0x%08x)",
                    name, bad - 1, ng__rd32(buf + 8), at, n, stored, computed);
        else
            ng_fail(NG_ERR_CHECKSUM, "checkpoint '%s' is corrupt: CRC32 mismatch (stored 0x%08x, computed 0x%08x over %zu bytes)",
                    name, stored, computed, end);
        free(buf);
        return NG_ERR_CHECKSUM;
    }
    count = ng__rd32(buf + 8);
    /* each record takes at least 17 bytes (4 key length, 1 key byte, 4 kind, 8 payload length) */
    if (count > (end - 12) / 17 || count > (uint32_t)(INT32_MAX / 2)) {
        ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record count %u is impossible for a %zu-byte file", name, count, n);
        free(buf);
        return NG_ERR_FORMAT;
    }
    ck = (ng_ckpt *)calloc(1, sizeof *ck);
    if (ck) {
        size_t nl = strlen(name);
        ck->buf = buf;
        ck->name = (char *)malloc(nl + 1);
        if (ck->name) memcpy(ck->name, name, nl + 1);
        ck->recs = (ng__ckrec *)calloc(count ? count : 1, sizeof *ck->recs);
        ck->cap = (int)count;
    }
    if (!ck || !ck->name || !ck->recs) {
        if (!ck) free(buf);
        ng_ckpt_free(ck);
        return ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name);
    }
    r.p = buf; r.n = end; r.pos = 12;
    for (i = 0; i < count && st == NG_OK; i++) {
        uint32_t klen, kind;
        uint64_t plen;
        const unsigned char *kb, *pb;
        ng__ckrec *rec = &ck->recs[ck->n];
        at = r.pos;
        if (ng__r32(&r, &klen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u at offset %zu runs past the end", name, i, at);
            break;
        }
        if (klen == 0 || klen > NG_CKPT_MAX_KEY) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record %u at offset %zu: key length %u is out of range (1..%u)",
                         name, i, at, klen, NG_CKPT_MAX_KEY);
            break;
        }
        if (ng__rbytes(&r, klen, &kb) || ng__r32(&r, &kind) || ng__r64(&r, &plen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u header at offset %zu runs past the end", name, i, at);
            break;
        }
        if (memchr(kb, 0, klen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record %u at offset %zu: key contains a NUL byte", name, i, at);
            break;
        }
        if (plen > ng__rleft(&r)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u ('%.*s') at offset %zu claims %llu payload "
                         "bytes, only %zu remain", name, i, (int)klen, (const char *)kb, at, (unsigned long long)plen, ng__rleft(&r));
            break;
        }
        ng__rbytes(&r, (size_t)plen, &pb);
        rec->key = (char *)malloc(klen + 1);
        if (!rec->key) { st = ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name); break; }
        memcpy(rec->key, kb, klen);
        rec->key[klen] = 0;
        rec->kind = kind;
        rec->data = pb;
        rec->n = (size_t)plen;
        ck->n++;
        st = ng__ck_check_record(ck, rec);
    }
    if (st == NG_OK && r.pos != end)
        st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': %zu unexpected bytes after the last record (offset %zu)", name,
                     end - r.pos, r.pos);
    if (st == NG_OK && ck->n > 1) {
        int k;
        order = (ng__ckrec **)malloc((size_t)ck->n * sizeof *order);
        if (!order) st = ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name);
        else {
            for (k = 0; k < ck->n; k++) order[k] = &ck->recs[k];
            qsort(order, (size_t)ck->n, sizeof *order, ng__ck_keycmp);
            for (k = 1; k < ck->n; k++)
                if (strcmp(order[k - 1]->key, order[k]->key) == 0) {
                    st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': duplicate key '%s'", name, order[k]->key);
                    break;
                }
            free(order);
        }
    }
    if (st != NG_OK) {
        ng_ckpt_free(ck);
        return st;
    }
    *out = ck;
    return NG_OK;
}

ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out) {
    unsigned char *copy;
    *out = NULL;
    if (!name) name = "(memory)";
    if (!buf && n) return ng_fail(NG_ERR_ARG, "checkpoint '%s': NULL buffer", name);
    copy = (unsigned char *)malloc(n ? n : 1);
    if (!copy) return ng_fail(NG_ERR_NOMEM, "checkpoint '%s': cannot allocate %zu bytes", name, n);
    if (n) memcpy(copy, buf, n);
    return ng__ck_parse_owned(copy, n, name, out);
}

ng_status ng_ckpt_load(const char *path, ng_ckpt **out) {
    unsigned char *buf;
    size_t n;
    ng_status st;
    *out = NULL;
    st = ng_file_read_all(path, NG_CKPT_MAX_BYTES, &buf, &n);
    if (st != NG_OK) return st;
    return ng__ck_parse_owned(buf, n, path, out);
}

/* ---- typed getters ---- */
static const ng__ckrec *ng__ck_want(const ng_ckpt *ck, const char *key, uint32_t kind, ng_status *st) {
    const ng__ckrec *rec;
    if (!ck || !key) { *st = ng_fail(NG_ERR_ARG, "checkpoint get: NULL checkpoint or key"); return NULL; }
    rec = ng__ck_find(ck, key);
    if (!rec) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s' has no record '%s'", ng__ck_name(ck), key);
        return NULL;
    }
    if (rec->kind != kind) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': record '%s' is a %s record, not %s", ng__ck_name(ck), key,
                      ng__ck_kind_name(rec->kind), ng__ck_kind_name(kind));
        return NULL;
    }
    *st = NG_OK;
    return rec;
}

ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v) {
    ng_status st;
    const ng__ckrec *rec = ng__ck_want(ck, key, NG_CKPT_I64, &st);
    if (!rec) return st;
    if ((st = ng__ck_check_record(ck, rec)) != NG_OK) return st;
    *v = (int64_t)ng__rd64(rec->data);
    return NG_OK;
}

ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *rng) {
    ng_status st;
    int i;
    const ng__ckrec *rec = ng__ck_want(ck, key, NG_CKPT_RNG, &st);
    if (!rec) return st;
    if ((st = ng__ck_check_record(ck, rec)) != NG_OK) return st;
    for (i = 0; i < 4; i++) rng->s[i] = ng__rd64(rec->data + 8 * i);
    return NG_OK;
}

static void ng__fmt_dims(char *out, size_t cap, int nd, const uint64_t *d) {
    size_t pos = 0;
    int i;
    pos += (size_t)snprintf(out, cap, "(");
    for (i = 0; i < nd && pos < cap; i++)
        pos += (size_t)snprintf(out + pos, cap - pos, i ? ", %llu" : "%llu", (unsigned long long)d[i]);
    if (pos < cap) snprintf(out + pos, cap - pos, ")");
}

ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g) {
    char key[8 + sizeof g->name];
    ng_status st;
    const ng__ckrec *rec;
    const unsigned char *values;
    uint32_t count, i, len, nd, d;
    int64_t numel;
    ng__rd r;
    if (!g) return ng_fail(NG_ERR_ARG, "checkpoint get params: NULL group");
    snprintf(key, sizeof key, "params/%s", g->name);
    rec = ng__ck_want(ck, key, NG_CKPT_PARAMS, &st);
    if (!rec) {
        if (st == NG_ERR_MISMATCH) {
            char why[900];
            ng__copy_err(why, sizeof why);
            return ng_fail(st, "%s (parameters of group '%s')", why, g->name);
        }
        return st;
    }
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "checkpoint '%s': group '%s' must be allocated before restoring", ng__ck_name(ck), g->name);
    if ((st = ng__ck_params_check(ck, rec, &count, &numel, &values)) != NG_OK) return st;
    r.p = rec->data; r.n = rec->n; r.pos = 4;
    for (i = 0; i < count && (int64_t)i < (int64_t)g->n; i++) {
        const unsigned char *name = NULL;
        const ng_tensor *t = g->tensors[i];
        uint64_t dims[NG_MAX_DIMS] = {0, 0, 0, 0};
        int same;
        /* the payload was validated by ng__ck_params_check: these reads cannot fail */
        if (ng__r32(&r, &len) || ng__rbytes(&r, len, &name) || ng__r32(&r, &nd) || nd > NG_MAX_DIMS)
            return ng__ck_bad(ck, rec, "tensor table");
        for (d = 0; d < nd; d++)
            if (ng__r64(&r, &dims[d])) return ng__ck_bad(ck, rec, "tensor table");
        if (strlen(t->name) != len || memcmp(t->name, name, len) != 0)
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': tensor #%u is '%.*s' in the checkpoint but '%s' in the group",
                           ng__ck_name(ck), g->name, i, (int)len, (const char *)name, t->name);
        same = (int)nd == t->shape.ndim;
        for (d = 0; same && d < nd; d++) same = dims[d] == (uint64_t)t->shape.d[d];
        if (!same) {
            char a[128], b[128];
            uint64_t gd[NG_MAX_DIMS];
            int k;
            for (k = 0; k < t->shape.ndim; k++) gd[k] = (uint64_t)t->shape.d[k];
            ng__fmt_dims(a, sizeof a, (int)nd, dims);
            ng__fmt_dims(b, sizeof b, t->shape.ndim, gd);
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': tensor '%s' has shape %s in the checkpoint but %s in the group",
                           ng__ck_name(ck), g->name, t->name, a, b);
        }
    }
    if ((int64_t)count != (int64_t)g->n) {
        if ((int64_t)count > (int64_t)g->n) {
            const unsigned char *name = NULL;
            if (ng__r32(&r, &len) || ng__rbytes(&r, len, &name)) return ng__ck_bad(ck, rec, "tensor table");
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': the checkpoint has %u tensors, the group %d; first differing: '%.*s' (only in the checkpoint)",
                           ng__ck_name(ck), g->name, count, g->n, (int)len, (const char *)name);
        }
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': the checkpoint has %u tensors, the group %d; first differing: '%s' (only in the group)",
                       ng__ck_name(ck), g->name, count, g->n, g->tensors[count]->name);
    }
    if (numel != g->numel)
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': %lld values in the checkpoint, %lld in the group",
                       ng__ck_name(ck), g->name, (long long)numel, (long long)g->numel);
    return ng__rf32s_on(values, g->data, (size_t)numel, g->device, g->name);
}

/* Common checks of an optimizer-like record against its target group. */
static const ng__ckrec *ng__ck_state_for(const ng_ckpt *ck, const char *key, uint32_t kind, const ng_params *g,
                                         ng__ckstate *s, ng_status *st) {
    const ng__ckrec *rec = ng__ck_want(ck, key, kind, st);
    if (!rec) return NULL;
    if ((*st = ng__ck_state_check(ck, rec, s)) != NG_OK) return NULL;
    if (!g) {
        *st = ng_fail(NG_ERR_ARG, "checkpoint '%s': restoring %s '%s' into a state without a parameter group",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key);
        return NULL;
    }
    if (strlen(g->name) != s->glen || memcmp(g->name, s->gname, s->glen) != 0) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': %s record '%s' belongs to group '%.*s', the target steps group '%s'",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key, (int)s->glen, (const char *)s->gname, g->name);
        return NULL;
    }
    if (s->numel != g->numel) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': %s record '%s' holds state for %lld elements, group '%s' has %lld",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key, (long long)s->numel, g->name, (long long)g->numel);
        return NULL;
    }
    return rec;
}

ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt) {
    ng__ckstate s;
    ng_status st;
    size_t ne;
    if (!ng__ck_state_for(ck, key, NG_CKPT_ADAM, opt->group, &s, &st)) return st;
    ne = (size_t)s.numel;
    if (ne && (!opt->m || !opt->v))
        return ng_fail(NG_ERR_ARG, "checkpoint '%s': adam '%s': target state blocks are not allocated (ng_adam_init first)", ng__ck_name(ck), key);
    opt->lr = s.hp[0]; opt->beta1 = s.hp[1]; opt->beta2 = s.hp[2]; opt->eps = s.hp[3]; opt->weight_decay = s.hp[4];
    opt->t = s.t;
    st = ng__rf32s_on(s.blocks, opt->m, ne, opt->device, key);
    return st == NG_OK ? ng__rf32s_on(s.blocks + 4 * ne, opt->v, ne, opt->device, key) : st;
}

ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt) {
    ng__ckstate s;
    ng_status st;
    if (!ng__ck_state_for(ck, key, NG_CKPT_SGD, opt->group, &s, &st)) return st;
    if ((s.has_buf != 0) != (opt->buf != NULL))
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': sgd '%s': the checkpoint %s a momentum buffer but the target %s",
                       ng__ck_name(ck), key, s.has_buf ? "has" : "has no", opt->buf ? "has one" : "has none");
    opt->lr = s.hp[0]; opt->momentum = s.hp[1]; opt->dampening = s.hp[2]; opt->weight_decay = s.hp[3];
    opt->nesterov = (int)s.nesterov;
    opt->t = s.t;
    return s.has_buf ? ng__rf32s_on(s.blocks, opt->buf, (size_t)s.numel, opt->device, key) : NG_OK;
}

ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e) {
    ng__ckstate s;
    ng_status st;
    if (!ng__ck_state_for(ck, key, NG_CKPT_EMA, e->group, &s, &st)) return st;
    if (s.numel && !e->shadow)
        return ng_fail(NG_ERR_ARG, "checkpoint '%s': ema '%s': target shadow block is not allocated (ng_ema_init first)", ng__ck_name(ck), key);
    e->decay = s.hp[0];
    return ng__rf32s_on(s.blocks, e->shadow, (size_t)s.numel, e->device, key);
}

/* ---- src/json.c ---- */
/* ---- a small growable string (JSON, DOT and SVG writers) ---- */
typedef struct ng__sb { char *s; size_t n, cap; int oom; } ng__sb;
static void ng__sb_printf(ng__sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void ng__sb_printf(ng__sb *b, const char *fmt, ...) {
    va_list ap;
    int k;
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->s && (size_t)k < room) { b->n += (size_t)k; return; }
        {
            size_t cap = b->cap ? b->cap : 256;
            char *p;
            while (cap - b->n <= (size_t)k) cap *= 2;
            p = (char *)realloc(b->s, cap);
            if (!p) { b->oom = 1; return; }
            b->s = p;
            b->cap = cap;
        }
    }
}
static ng_status ng__sb_finish(ng__sb *b, const char *what, char **out, size_t *n) {
    if (b->oom || !b->s) {
        free(b->s);
        return ng_fail(NG_ERR_NOMEM, "%s: out of memory", what);
    }
    *out = b->s;
    if (n) *n = b->n;
    return NG_OK;
}

/* ---- SVG drawing for architecture pictures (no graphviz needed): rounded boxes and
   quadratic-curve arrows with labels, laid out by the caller ---- */
static void ng__svg_text(ng__sb *b, const char *s) {   /* XML-escaped, control bytes dropped */
    for (; *s; s++) {
        if (*s == '&') ng__sb_printf(b, "&amp;");
        else if (*s == '<') ng__sb_printf(b, "&lt;");
        else if (*s == '>') ng__sb_printf(b, "&gt;");
        else if (*s == '"') ng__sb_printf(b, "&quot;");
        else if ((unsigned char)*s >= 0x20) ng__sb_printf(b, "%c", *s);
    }
}
static void ng__svg_begin(ng__sb *b, double w, double h, const char *title) {
    ng__sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                     "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
                     "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
                     "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#444\"/>"
                     "</marker></defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  w, h, w, h);
    if (title) {
        ng__sb_printf(b, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", w / 2);
        ng__svg_text(b, title);
        ng__sb_printf(b, "</text>\n");
    }
}
/* a box of w x h centred at (cx, cy) */
static void ng__svg_node(ng__sb *b, double cx, double cy, double w, double h, const char *label, const char *fill) {
    ng__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" fill=\"%s\" stroke=\"#333\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                  cx - w / 2, cy - h / 2, w, h, fill, cx, cy + 4);
    ng__svg_text(b, label);
    ng__sb_printf(b, "</text>\n");
}
/* an arrow from (x1, y1) to (x2, y2), bent by `bend` pixels to the left of its direction (0:
   straight); the label sits on the curve's midpoint */
static void ng__svg_edge(ng__sb *b, double x1, double y1, double x2, double y2, double bend, const char *label, int dashed,
                         const char *color) {
    double dx = x2 - x1, dy = y2 - y1, len = sqrt(dx * dx + dy * dy);
    double cx = (x1 + x2) / 2 + (len > 0 ? dy / len * bend : 0), cy = (y1 + y2) / 2 - (len > 0 ? dx / len * bend : 0);
    ng__sb_printf(b, "<path d=\"M %.1f %.1f Q %.1f %.1f %.1f %.1f\" fill=\"none\" stroke=\"%s\"%s marker-end=\"url(#arrow)\"/>\n",
                  x1, y1, cx, cy, x2, y2, color, dashed ? " stroke-dasharray=\"5 4\"" : "");
    if (label && label[0]) {
        ng__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" fill=\"#222\" "
                         "stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">",
                      (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4 - 3);
        ng__svg_text(b, label);
        ng__sb_printf(b, "</text>\n");
    }
}
static void ng__svg_end(ng__sb *b) { ng__sb_printf(b, "</svg>\n"); }

/* ---- a strict JSON lexer for schema-directed readers (no recursion, no allocation) ----
   Readers walk their own schema with these; errors name the document kind, the file, the line
   and column. */
typedef struct ng__json {
    const unsigned char *s;
    size_t n, pos;
    const char *name;   /* file name, or "(memory)" */
    const char *kind;   /* what the document is, for messages: "genotype JSON" */
} ng__json;

#define NG__JSON_STR 64   /* longest string value accepted (bytes, incl. the NUL) */

static ng_status ng__json_err(const ng__json *p, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static ng_status ng__json_err(const ng__json *p, size_t at, const char *fmt, ...) {
    char msg[384];
    size_t i, line = 1, col = 1;
    va_list ap;
    if (at > p->n) at = p->n;
    for (i = 0; i < at; i++) {
        if (p->s[i] == '\n') { line++; col = 1; }
        else col++;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ng_fail(NG_ERR_FORMAT, "%s '%s': line %zu, column %zu (byte %zu): %s", p->kind, p->name, line, col, at, msg);
}
/* "expected <what>, found <the byte at `at`>" */
static ng_status ng__json_expected(const ng__json *p, size_t at, const char *what) {
    char found[32];
    if (at >= p->n) snprintf(found, sizeof found, "end of input");
    else if (p->s[at] >= 0x21 && p->s[at] <= 0x7e) snprintf(found, sizeof found, "'%c'", p->s[at]);
    else snprintf(found, sizeof found, "byte 0x%02x", p->s[at]);
    return ng__json_err(p, at, "expected %s, found %s", what, found);
}
static void ng__json_ws(ng__json *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}
/* skip whitespace; 1 if the next byte is c (not consumed) */
static int ng__json_peek(ng__json *p, unsigned char c) {
    ng__json_ws(p);
    return p->pos < p->n && p->s[p->pos] == c;
}
static ng_status ng__json_char(ng__json *p, unsigned char c, const char *what) {
    if (!ng__json_peek(p, c)) return ng__json_expected(p, p->pos, what);
    p->pos++;
    return NG_OK;
}
static int ng__json_hex(const ng__json *p, size_t at, unsigned *v) {
    size_t i;
    *v = 0;
    if (at + 4 > p->n) return 0;
    for (i = 0; i < 4; i++) {
        unsigned char c = p->s[at + i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}
/* Length of the valid UTF-8 sequence starting at `at` (2..4), 0 if invalid (overlong forms,
   surrogates, code points above U+10FFFF, truncation). */
static int ng__json_utf8_len(const ng__json *p, size_t at) {
    const unsigned char *s = p->s + at;
    size_t room = p->n - at;
    unsigned char c = s[0];
    int len, i;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (room < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}
/* A JSON string into out (NUL-terminated, < NG__JSON_STR bytes); *start = its opening quote. */
static ng_status ng__json_string(ng__json *p, char *out, size_t *start, const char *what) {
    size_t len = 0;
    ng__json_ws(p);
    *start = p->pos;
    if (p->pos >= p->n || p->s[p->pos] != '"') return ng__json_expected(p, p->pos, what);
    p->pos++;
    for (;;) {
        unsigned char c;
        unsigned char enc[4];
        int k = 0, i;
        if (p->pos >= p->n) return ng__json_err(p, p->pos, "unterminated string (opened at byte %zu)", *start);
        c = p->s[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) return ng__json_err(p, p->pos, "control byte 0x%02x inside a string (must be escaped)", c);
        if (c == '\\') {
            unsigned cp;
            if (p->pos + 1 >= p->n) return ng__json_err(p, p->pos, "unterminated escape in string");
            c = p->s[p->pos + 1];
            switch (c) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u': cp = 0; break;
            default: return ng__json_err(p, p->pos, "invalid escape '\\%c' in string", c >= 0x21 && c <= 0x7e ? c : '?');
            }
            if (c != 'u') {
                p->pos += 2;
            } else {
                if (!ng__json_hex(p, p->pos + 2, &cp)) return ng__json_err(p, p->pos, "expected 4 hex digits after '\\u'");
                p->pos += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return ng__json_err(p, p->pos - 6, "unpaired low surrogate \\u%04X", cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->pos + 1 >= p->n || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || !ng__json_hex(p, p->pos + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return ng__json_err(p, p->pos - 6, "high surrogate \\u%04X not followed by a low surrogate", cp);
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) return ng__json_err(p, p->pos - 6, "\\u0000 is not allowed in a string");
            }
            if (cp < 0x80) enc[k++] = (unsigned char)cp;
            else if (cp < 0x800) { enc[k++] = (unsigned char)(0xC0 | (cp >> 6)); enc[k++] = (unsigned char)(0x80 | (cp & 63)); }
            else if (cp < 0x10000) {
                enc[k++] = (unsigned char)(0xE0 | (cp >> 12)); enc[k++] = (unsigned char)(0x80 | ((cp >> 6) & 63));
                enc[k++] = (unsigned char)(0x80 | (cp & 63));
            } else {
                enc[k++] = (unsigned char)(0xF0 | (cp >> 18)); enc[k++] = (unsigned char)(0x80 | ((cp >> 12) & 63));
                enc[k++] = (unsigned char)(0x80 | ((cp >> 6) & 63)); enc[k++] = (unsigned char)(0x80 | (cp & 63));
            }
        } else if (c < 0x80) {
            enc[k++] = c;
            p->pos++;
        } else {
            int l = ng__json_utf8_len(p, p->pos);
            if (!l) return ng__json_err(p, p->pos, "invalid UTF-8 byte 0x%02x in string", c);
            for (i = 0; i < l; i++) enc[k++] = p->s[p->pos + (size_t)i];
            p->pos += (size_t)l;
        }
        if (len + (size_t)k >= NG__JSON_STR)
            return ng__json_err(p, *start, "string longer than %d bytes (no valid value is)", NG__JSON_STR - 1);
        for (i = 0; i < k; i++) out[len++] = (char)enc[i];
    }
    out[len] = 0;
    return NG_OK;
}
/* A JSON number that must be an integer of at most 9 digits. */
static ng_status ng__json_int(ng__json *p, long *v, const char *what) {
    size_t start, digits = 0;
    int neg = 0;
    long x = 0;
    ng__json_ws(p);
    start = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '-') { neg = 1; p->pos++; }
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return ng__json_expected(p, start, what);
    if (p->s[p->pos] == '0' && p->pos + 1 < p->n && p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '9')
        return ng__json_err(p, start, "number with a leading zero");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (++digits > 9) return ng__json_err(p, start, "integer too long");
        x = x * 10 + (p->s[p->pos] - '0');
        p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
        return ng__json_err(p, start, "expected an integer, found a fraction or exponent");
    *v = neg ? -x : x;
    return NG_OK;
}
/* Object members: call with *first = 1 after '{'. Returns 1 with the key in `key` (and its
   position) when a member follows (':' consumed), 0 at the closing '}' (consumed), -1 on error
   (*st set). */
static int ng__json_member(ng__json *p, int *first, char *key, size_t *at, ng_status *st) {
    if (*first) {
        *first = 0;
        if (ng__json_peek(p, '}')) { p->pos++; return 0; }
    } else {
        if (ng__json_peek(p, '}')) { p->pos++; return 0; }
        if ((*st = ng__json_char(p, ',', "',' or '}'")) != NG_OK) return -1;
    }
    if ((*st = ng__json_string(p, key, at, "a key (string)")) != NG_OK) return -1;
    if ((*st = ng__json_char(p, ':', "':'")) != NG_OK) return -1;
    return 1;
}


/* ---- src/data.c ---- */
/* ======================================================================================== */
/* @@DATA                                                                                   */
/* ======================================================================================== */

ng_status ng_gunzip(const unsigned char *buf, size_t n, const char *name, size_t max_out,
                    unsigned char **out, size_t *out_n) {
#ifdef NG_NO_ZLIB
    (void)buf; (void)n; (void)max_out;
    *out = NULL;
    *out_n = 0;
    return ng_fail(NG_ERR_UNSUPPORTED, "cannot decompress '%s': this build has no zlib (NG_NO_ZLIB); "
                   "gunzip the file first", name ? name : "(memory)");
#else
    z_stream zs;
    unsigned char *o = NULL;
    size_t cap, len = 0, in_off = 0, guess;
    ng_status st = NG_OK;
    int ret;
    *out = NULL;
    *out_n = 0;
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "gzip file '%s' is empty", name);
    if (n < 2 || buf[0] != 0x1f || buf[1] != 0x8b)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not gzip data: first bytes %02x %02x, expected 1f 8b", name, buf[0],
                       n > 1 ? buf[1] : 0);
    /* First guess at the output size: the trailer's ISIZE (size mod 2^32 of the last member),
       bounded by deflate's best ratio (~1032:1) and the cap, so hostile trailers cannot force
       a large allocation. The buffer grows if the guess was short. */
    guess = n >= 18 ? (size_t)ng__rd32(buf + n - 4) : 0;
    if (n <= SIZE_MAX / 1032 && guess > n * 1032) guess = n * 1032;
    if (guess > max_out) guess = max_out;
    cap = guess < 64 ? 64 : guess;
    if (cap < SIZE_MAX) cap++; /* room to see the stream end, and to notice output beyond the cap */
    o = (unsigned char *)malloc(cap);
    if (!o) return ng_fail(NG_ERR_NOMEM, "gunzip '%s': cannot allocate %zu bytes", name, cap);
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(o);
        return ng_fail(NG_ERR_NOMEM, "gunzip '%s': zlib initialisation failed", name);
    }
    for (;;) {
        uInt before;
        if (zs.avail_in == 0 && in_off < n) {
            size_t chunk = n - in_off;
            if (chunk > 0x40000000u) chunk = 0x40000000u;
            zs.next_in = (Bytef *)(uintptr_t)(buf + in_off); /* zlib does not write through next_in */
            zs.avail_in = (uInt)chunk;
            in_off += chunk;
        }
        if (len == cap) {
            size_t ncap = cap <= SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
            unsigned char *no;
            if (max_out < SIZE_MAX && ncap > max_out + 1) ncap = max_out + 1;
            if (ncap <= cap) { st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' decompresses to more than the limit of %zu bytes", name, max_out); break; }
            no = (unsigned char *)realloc(o, ncap);
            if (!no) { st = ng_fail(NG_ERR_NOMEM, "gunzip '%s': cannot allocate %zu bytes", name, ncap); break; }
            o = no;
            cap = ncap;
        }
        zs.next_out = o + len;
        zs.avail_out = (uInt)(cap - len > 0x40000000u ? 0x40000000u : cap - len);
        before = zs.avail_out;
        ret = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (len > max_out) {
            st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' decompresses to more than the limit of %zu bytes", name, max_out);
            break;
        }
        if (ret == Z_STREAM_END) {
            size_t rest = (n - in_off) + zs.avail_in, at = n - rest;
            if (rest == 0) break;
            if (rest >= 2 && buf[at] == 0x1f && buf[at + 1] == 0x8b) { /* another gzip member */
                if (inflateReset(&zs) != Z_OK) { st = ng_fail(NG_ERR_FORMAT, "gunzip '%s': zlib reset failed", name); break; }
                continue;
            }
            st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' has %zu unexpected bytes after the end of the compressed data (offset %zu)",
                         name, rest, at);
            break;
        }
        if (ret == Z_OK) continue;
        if (ret == Z_BUF_ERROR) {
            if (zs.avail_out == 0) continue;         /* needs more room: grow */
            if (zs.avail_in == 0 && in_off == n) {
                st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' is truncated: the %zu bytes end before the compressed data does",
                             name, n);
                break;
            }
        }
        if (ret == Z_MEM_ERROR) { st = ng_fail(NG_ERR_NOMEM, "gunzip '%s': zlib is out of memory", name); break; }
        st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' is corrupt near input offset %zu: %s", name,
                     (size_t)(n - ((n - in_off) + zs.avail_in)), zs.msg ? zs.msg : "invalid compressed data");
        break;
    }
    inflateEnd(&zs);
    if (st != NG_OK) { free(o); return st; }
    *out = o;
    *out_n = len;
    return NG_OK;
#endif
}

ng_status ng_idx_parse(const unsigned char *buf, size_t n, const char *name, ng_idx *out) {
    int nd, i;
    int64_t count = 1;
    size_t header, data_n;
    char dims[96];
    size_t pos = 0;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is empty", name);
    if (n < 4) return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: %zu bytes, the header needs at least 4", name, n);
    if (buf[0] != 0 || buf[1] != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not an IDX file: magic 0x%02x%02x%02x%02x does not start with two zero bytes "
                       "(expected 0x00000803 for images, 0x00000801 for labels)", name, buf[0], buf[1], buf[2], buf[3]);
    if (buf[2] != 0x08)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': data type 0x%02x is not supported (only 0x08, unsigned bytes)", name, buf[2]);
    nd = buf[3];
    if (nd < 1 || nd > 4)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': %d dimensions in the magic 0x%02x%02x%02x%02x (this reader takes 1..4)",
                       name, nd, buf[0], buf[1], buf[2], buf[3]);
    header = 4 + 4 * (size_t)nd;
    if (n < header)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: the header needs %zu bytes for %d dimensions, the file has %zu",
                       name, header, nd, n);
    dims[0] = 0;
    for (i = 0; i < nd; i++) {
        const unsigned char *p = buf + 4 + 4 * i;
        int64_t d = (int64_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
        out->dims[i] = d;
        pos += (size_t)snprintf(dims + pos, sizeof dims - pos, i ? " x %lld" : "%lld", (long long)d);
        if (count >= 0 && ng_mul_i64(count, d, &count)) count = -1;
    }
    if (count < 0 || (uint64_t)count > (uint64_t)(SIZE_MAX - header)) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': dimensions (%s) overflow", name, dims);
    }
    data_n = n - header;
    if (data_n < (size_t)count) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: dimensions (%s) need %lld data bytes, found %zu",
                       name, dims, (long long)count, data_n);
    }
    if (data_n > (size_t)count) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' has %zu bytes of trailing garbage after the %lld data bytes of dimensions (%s)",
                       name, data_n - (size_t)count, (long long)count, dims);
    }
    out->data = (unsigned char *)malloc(count ? (size_t)count : 1);
    if (!out->data) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_NOMEM, "IDX file '%s': cannot allocate %lld bytes", name, (long long)count);
    }
    if (count) memcpy(out->data, buf + header, (size_t)count);
    out->ndim = nd;
    out->count = count;
    for (i = nd; i < 4; i++) out->dims[i] = 1;
    return NG_OK;
}

ng_status ng_idx_load(const char *path, ng_idx *out) {
    unsigned char *raw, *z;
    size_t n, zn;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_file_read_all(path, NG_IDX_MAX_BYTES, &raw, &n);
    if (st != NG_OK) return st;
    if (n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        st = ng_gunzip(raw, n, path, NG_IDX_MAX_BYTES, &z, &zn);
        free(raw);
        if (st != NG_OK) return st;
        raw = z;
        n = zn;
    }
    st = ng_idx_parse(raw, n, path, out);
    free(raw);
    return st;
}

void ng_idx_free(ng_idx *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

ng_status ng_mnist_load(const char *images_path, const char *labels_path, int num_classes, ng_mnist *out) {
    ng_idx im, lb;
    ng_status st;
    int64_t i;
    memset(out, 0, sizeof *out);
    if (num_classes < 1 || num_classes > 256)
        return ng_fail(NG_ERR_ARG, "mnist load: num_classes %d is out of range (1..256)", num_classes);
    st = ng_idx_load(images_path, &im);
    if (st != NG_OK) return st;
    if (im.ndim != 3) {
        ng_fail(NG_ERR_FORMAT, "images file '%s' has %d dimensions; expected 3 (N, H, W)", images_path, im.ndim);
        ng_idx_free(&im);
        return NG_ERR_FORMAT;
    }
    st = ng_idx_load(labels_path, &lb);
    if (st != NG_OK) { ng_idx_free(&im); return st; }
    if (lb.ndim != 1) {
        st = ng_fail(NG_ERR_FORMAT, "labels file '%s' has %d dimensions; expected 1 (N)", labels_path, lb.ndim);
    } else if (lb.dims[0] != im.dims[0]) {
        st = ng_fail(NG_ERR_FORMAT, "image/label count mismatch: images file '%s' has %lld images but labels file '%s' has %lld labels",
                     images_path, (long long)im.dims[0], labels_path, (long long)lb.dims[0]);
    } else {
        for (i = 0; i < lb.count; i++)
            if (lb.data[i] >= num_classes) {
                st = ng_fail(NG_ERR_FORMAT, "labels file '%s': label %d at index %lld is not below num_classes %d",
                             labels_path, lb.data[i], (long long)i, num_classes);
                break;
            }
    }
    if (st != NG_OK) {
        ng_idx_free(&im);
        ng_idx_free(&lb);
        return st;
    }
    out->n = im.dims[0];
    out->h = im.dims[1];
    out->w = im.dims[2];
    out->images = im.data;
    out->labels = lb.data;
    return NG_OK;
}

void ng_mnist_free(ng_mnist *m) {
    if (!m) return;
    free(m->images);
    free(m->labels);
    memset(m, 0, sizeof *m);
}

/* ---- src/models.c ---- */
/* ======================================================================================== */
/* @@MODELS                                                                                 */
/* ======================================================================================== */
ng_fmnist_cnn *ng_fmnist_cnn_create(ng_rng *r) {
    ng_fmnist_cnn *net = (ng_fmnist_cnn *)calloc(1, sizeof *net);
    ng_params *w, *b;
    if (!net) { ng_fail(NG_ERR_NOMEM, "fmnist_cnn: out of memory"); return NULL; }
    net->weights = w = ng_params_create("fmnist_cnn", 1);
    net->buffers = b = ng_params_create("fmnist_cnn.buffers", 0);
    if (!w || !b) goto fail;
    net->dropout = 0.3f;
    net->conv1_w = ng_params_add(w, "conv1.weight", ng_shape4(32, 1, 3, 3));
    net->conv1_b = ng_params_add(w, "conv1.bias", ng_shape1(32));
    net->bn1_g = ng_params_add(w, "bn1.weight", ng_shape1(32));
    net->bn1_b = ng_params_add(w, "bn1.bias", ng_shape1(32));
    net->conv2_w = ng_params_add(w, "conv2.weight", ng_shape4(64, 32, 3, 3));
    net->conv2_b = ng_params_add(w, "conv2.bias", ng_shape1(64));
    net->bn2_g = ng_params_add(w, "bn2.weight", ng_shape1(64));
    net->bn2_b = ng_params_add(w, "bn2.bias", ng_shape1(64));
    net->fc1_w = ng_params_add(w, "fc1.weight", ng_shape2(NG_FMNIST_FEATURES, 64 * 7 * 7));
    net->fc1_b = ng_params_add(w, "fc1.bias", ng_shape1(NG_FMNIST_FEATURES));
    net->fc2_w = ng_params_add(w, "fc2.weight", ng_shape2(NG_FMNIST_CLASSES, NG_FMNIST_FEATURES));
    net->fc2_b = ng_params_add(w, "fc2.bias", ng_shape1(NG_FMNIST_CLASSES));
    net->bn1_mean = ng_params_add(b, "bn1.running_mean", ng_shape1(32));
    net->bn1_var = ng_params_add(b, "bn1.running_var", ng_shape1(32));
    net->bn2_mean = ng_params_add(b, "bn2.running_mean", ng_shape1(64));
    net->bn2_var = ng_params_add(b, "bn2.running_var", ng_shape1(64));
    if (!net->fc2_b || !net->bn2_var || ng_params_alloc(w) != NG_OK || ng_params_alloc(b) != NG_OK) goto fail;
    ng_init_kaiming_uniform_default(net->conv1_w, r);
    ng_init_bias_default(net->conv1_b, net->conv1_w, r);
    ng_init_kaiming_uniform_default(net->conv2_w, r);
    ng_init_bias_default(net->conv2_b, net->conv2_w, r);
    ng_init_kaiming_uniform_default(net->fc1_w, r);
    ng_init_bias_default(net->fc1_b, net->fc1_w, r);
    ng_init_kaiming_uniform_default(net->fc2_w, r);
    ng_init_bias_default(net->fc2_b, net->fc2_w, r);
    ng_init_constant(net->bn1_g, 1.0f);
    ng_init_constant(net->bn2_g, 1.0f);
    ng_init_constant(net->bn1_var, 1.0f);
    ng_init_constant(net->bn2_var, 1.0f);
    return net;
fail:
    ng_fmnist_cnn_free(net);
    return NULL;
}

void ng_fmnist_cnn_free(ng_fmnist_cnn *net) {
    if (!net) return;
    ng_params_free(net->weights);
    ng_params_free(net->buffers);
    free(net);
}

ng_tensor *ng_fmnist_cnn_forward(ng_ctx *ctx, ng_fmnist_cnn *net, ng_tensor *x, ng_tensor **features) {
    ng_tensor *h;
    int64_t n = x ? x->shape.d[0] : 0;
    h = ng_conv2d(ctx, x, net->conv1_w, net->conv1_b, 1, 1, 1);
    h = ng_batch_norm(ctx, h, net->bn1_g, net->bn1_b, net->bn1_mean, net->bn1_var, 0.1f, 1e-5f);
    h = ng_avg_pool2d(ctx, ng_relu(ctx, h));
    h = ng_conv2d(ctx, h, net->conv2_w, net->conv2_b, 1, 1, 1);
    h = ng_batch_norm(ctx, h, net->bn2_g, net->bn2_b, net->bn2_mean, net->bn2_var, 0.1f, 1e-5f);
    h = ng_avg_pool2d(ctx, ng_relu(ctx, h));
    h = ng_relu(ctx, ng_linear(ctx, ng_reshape(ctx, h, ng_shape2(n, 64 * 7 * 7)), net->fc1_w, net->fc1_b));
    if (features) *features = h;
    return ng_linear(ctx, ng_dropout(ctx, h, net->dropout), net->fc2_w, net->fc2_b);
}

ng_status ng_fmnist_cnn_save(const ng_fmnist_cnn *net, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status s;
    if (!ck) return NG_ERR_NOMEM;
    s = ng_ckpt_put_params(ck, net->weights);
    if (s == NG_OK) s = ng_ckpt_put_params(ck, net->buffers);
    if (s == NG_OK) s = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return s;
}

ng_status ng_fmnist_cnn_load(ng_fmnist_cnn *net, const char *path) {
    ng_ckpt *ck = NULL;
    ng_status s = ng_ckpt_load(path, &ck);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, net->weights);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, net->buffers);
    ng_ckpt_free(ck);
    return s;
}

ng_tensor *ng_images_u8_to_tensor(ng_ctx *ctx, const unsigned char *px, int64_t n, int64_t h, int64_t w) {
    ng_tensor *t = ng_tensor_new(ctx, ng_shape4(n, 1, h, w));
    float *host = ng_tensor_host_write(ctx, t);
    int64_t i;
    if (!host) return NULL;
    for (i = 0; i < t->numel; i++) host[i] = (float)px[i] * (2.0f / 255.0f) - 1.0f;
    return ng_tensor_host_done(t, host) == NG_OK ? t : NULL;
}

/* ---- src/gan_data.c ---- */
/* ======================================================================================== */
/* @@GAN_DATA                                                                               */
/* ======================================================================================== */
#ifdef NG_USE_STB
#include <stb_image_write.h>   /* declarations only: the functions come from -lstb */
#endif

void ng_image_set_free(ng_image_set *s) {
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---- CIFAR-10 ---- */

/* Checks a whole buffer of records and copies them to pixels/labels (room for n / 3073). */
static ng_status ng__cifar_decode(const unsigned char *buf, size_t n, const char *name, unsigned char *pixels,
                                  unsigned char *labels) {
    size_t r, nrec = n / NG_CIFAR10_RECORD_BYTES;
    for (r = 0; r < nrec; r++) {
        const unsigned char *rec = buf + r * NG_CIFAR10_RECORD_BYTES;
        if (rec[0] > 9)
            return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s': record %zu (byte offset %zu) has label %d; expected 0..9",
                           name, r, r * NG_CIFAR10_RECORD_BYTES, rec[0]);
        labels[r] = rec[0];
        memcpy(pixels + r * 3072, rec + 1, 3072);
    }
    return NG_OK;
}

static ng_status ng__cifar_check_size(size_t n, const char *name) {
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s' is empty", name);
    if (n % NG_CIFAR10_RECORD_BYTES != 0)
        return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s': size %zu bytes is not a multiple of the %d-byte record "
                       "(%zu whole records and %zu bytes left over; truncated or not a CIFAR-10 binary file)",
                       name, n, NG_CIFAR10_RECORD_BYTES, n / NG_CIFAR10_RECORD_BYTES, n % NG_CIFAR10_RECORD_BYTES);
    return NG_OK;
}

static ng_status ng__image_set_alloc(ng_image_set *s, int64_t n, int c, int h, int w, int with_labels, const char *name) {
    size_t per = (size_t)c * (size_t)h * (size_t)w, total;
    memset(s, 0, sizeof *s);
    if (n < 0 || (uint64_t)n > (uint64_t)SIZE_MAX || ng_mul_size((size_t)n, per, &total))
        return ng_fail(NG_ERR_NOMEM, "'%s': %lld images of %dx%dx%d bytes overflow the address space", name,
                       (long long)n, c, h, w);
    s->pixels = (unsigned char *)malloc(total ? total : 1);
    s->labels = with_labels ? (unsigned char *)malloc(n ? (size_t)n : 1) : NULL;
    if (!s->pixels || (with_labels && !s->labels)) {
        free(s->pixels);
        free(s->labels);
        memset(s, 0, sizeof *s);
        return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %zu bytes for %lld images", name, total, (long long)n);
    }
    s->n = n;
    s->c = c;
    s->h = h;
    s->w = w;
    return NG_OK;
}

ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out) {
    ng_status st;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    st = ng__cifar_check_size(n, name);
    if (st != NG_OK) return st;
    st = ng__image_set_alloc(out, (int64_t)(n / NG_CIFAR10_RECORD_BYTES), 3, 32, 32, 1, name);
    if (st != NG_OK) return st;
    st = ng__cifar_decode(buf, n, name, out->pixels, out->labels);
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

static int ng__gd_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* dir/file, or dir/sub/file when only that one exists (the archive's own folder). */
static ng_status ng__gd_path(char *out, size_t cap, const char *dir, const char *sub, const char *file) {
    int k = snprintf(out, cap, "%s/%s", dir, file);
    if (k < 0 || (size_t)k >= cap) return ng_fail(NG_ERR_ARG, "path '%s/%s' is too long", dir, file);
    if (!ng__gd_exists(out)) {
        char alt[1024];
        k = snprintf(alt, sizeof alt, "%s/%s/%s", dir, sub, file);
        if (k > 0 && (size_t)k < sizeof alt && (size_t)k < cap && ng__gd_exists(alt)) memcpy(out, alt, (size_t)k + 1);
    }
    return NG_OK;
}

ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out) {
    static const char *const train_files[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                               "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[1] = {"test_batch.bin"};
    const char *const *files = train ? train_files : test_files;
    int nf = train ? 5 : 1, i;
    const size_t want = (size_t)NG_CIFAR10_FILE_RECORDS * NG_CIFAR10_RECORD_BYTES;
    ng_status st;
    char path[1024];
    memset(out, 0, sizeof *out);
    if (!dir) return ng_fail(NG_ERR_ARG, "ng_cifar10_load_dir: dir is NULL");
    st = ng__image_set_alloc(out, (int64_t)nf * NG_CIFAR10_FILE_RECORDS, 3, 32, 32, 1, dir);
    if (st != NG_OK) return st;
    for (i = 0; i < nf; i++) {
        unsigned char *buf;
        size_t n;
        st = ng__gd_path(path, sizeof path, dir, "cifar-10-batches-bin", files[i]);
        if (st != NG_OK) break;
        /* a generous cap: a wrong size below it gets the precise message below */
        st = ng_file_read_all(path, 4 * want, &buf, &n);
        if (st != NG_OK) break;
        st = ng__cifar_check_size(n, path);
        if (st == NG_OK && n != want)
            st = ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s' holds %zu records (%zu bytes); every batch file holds "
                         "exactly %d records of %d bytes (%zu bytes)", path, n / NG_CIFAR10_RECORD_BYTES, n,
                         NG_CIFAR10_FILE_RECORDS, NG_CIFAR10_RECORD_BYTES, want);
        if (st == NG_OK)
            st = ng__cifar_decode(buf, n, path, out->pixels + (size_t)i * NG_CIFAR10_FILE_RECORDS * 3072,
                                  out->labels + (size_t)i * NG_CIFAR10_FILE_RECORDS);
        free(buf);
        if (st != NG_OK) break;
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

/* ---- PIL's bilinear resample (Pillow src/libImaging/Resample.c, 8-bit path) ---- */

#define NG__PIL_PRECISION_BITS (32 - 8 - 2)

typedef struct ng__pil_coeffs {
    int ksize;
    int *bounds;      /* (out, 2): first input index, number of inputs */
    int32_t *kk;      /* (out, ksize) fixed-point weights */
} ng__pil_coeffs;

static double ng__pil_bilinear(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static void ng__pil_coeffs_free(ng__pil_coeffs *c) {
    free(c->bounds);
    free(c->kk);
    memset(c, 0, sizeof *c);
}

/* precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size) and the bilinear filter. */
static int ng__pil_coeffs_make(int in_size, int out_size, ng__pil_coeffs *c) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale, *k;
    int ksize = (int)ceil(support) * 2 + 1, xx, x;
    memset(c, 0, sizeof *c);
    c->ksize = ksize;
    c->bounds = (int *)malloc((size_t)out_size * 2 * sizeof(int));
    c->kk = (int32_t *)malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    k = (double *)malloc((size_t)ksize * sizeof(double));
    if (!c->bounds || !c->kk || !k) {
        free(k);
        ng__pil_coeffs_free(c);
        return -1;
    }
    for (xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        int32_t *kq = c->kk + (size_t)xx * ksize;
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            double wgt = ng__pil_bilinear((x + xmin - center + 0.5) * ss);
            k[x] = wgt;
            ww += wgt;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++)
            kq[x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << NG__PIL_PRECISION_BITS))
                             : (int32_t)(0.5 + k[x] * (1 << NG__PIL_PRECISION_BITS));
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return 0;
}

static unsigned char ng__pil_clip8(int32_t in) {
    int32_t v;
    if (in <= 0) return 0;
    v = in >> NG__PIL_PRECISION_BITS;
    return (unsigned char)(v > 255 ? 255 : v);
}

/* A prepared resize of one (H, W) plane to (OH, OW), following ImagingResampleInner. */
typedef struct ng__pil_plan {
    int h, w, oh, ow, need_h, need_v, ybox_first, ybox_last;
    ng__pil_coeffs ch, cv;
    unsigned char *tmp;   /* (ybox_last - ybox_first, OW) after the horizontal pass */
} ng__pil_plan;

static void ng__pil_plan_free(ng__pil_plan *p) {
    ng__pil_coeffs_free(&p->ch);
    ng__pil_coeffs_free(&p->cv);
    free(p->tmp);
    memset(p, 0, sizeof *p);
}

static int ng__pil_plan_make(ng__pil_plan *p, int h, int w, int oh, int ow) {
    int i;
    memset(p, 0, sizeof *p);
    p->h = h; p->w = w; p->oh = oh; p->ow = ow;
    p->need_h = ow != w;
    p->need_v = oh != h;
    if (ng__pil_coeffs_make(w, ow, &p->ch) || ng__pil_coeffs_make(h, oh, &p->cv)) {
        ng__pil_plan_free(p);
        return -1;
    }
    p->ybox_first = p->cv.bounds[0];
    p->ybox_last = p->cv.bounds[2 * oh - 2] + p->cv.bounds[2 * oh - 1];
    if (p->need_h) {
        for (i = 0; i < oh; i++) p->cv.bounds[2 * i] -= p->ybox_first;
        p->tmp = (unsigned char *)malloc((size_t)(p->ybox_last - p->ybox_first) * (size_t)ow + 1);
        if (!p->tmp) {
            ng__pil_plan_free(p);
            return -1;
        }
    }
    return 0;
}

static void ng__pil_plan_run(const ng__pil_plan *p, const unsigned char *src, unsigned char *dst) {
    const unsigned char *vin = src;   /* input of the vertical pass, (rows, vw) */
    int vw = p->w, yy, xx, x;
    if (p->need_h) {
        int rows = p->ybox_last - p->ybox_first;
        unsigned char *out = p->need_v ? p->tmp : dst;
        for (yy = 0; yy < rows; yy++) {
            const unsigned char *row = src + (size_t)(yy + p->ybox_first) * p->w;
            for (xx = 0; xx < p->ow; xx++) {
                int xmin = p->ch.bounds[2 * xx], xmax = p->ch.bounds[2 * xx + 1];
                const int32_t *k = p->ch.kk + (size_t)xx * p->ch.ksize;
                int32_t ss = 1 << (NG__PIL_PRECISION_BITS - 1);
                for (x = 0; x < xmax; x++) ss += (int32_t)row[x + xmin] * k[x];
                out[(size_t)yy * p->ow + xx] = ng__pil_clip8(ss);
            }
        }
        if (!p->need_v) return;
        vin = p->tmp;
        vw = p->ow;
    }
    if (p->need_v) {
        for (yy = 0; yy < p->oh; yy++) {
            int ymin = p->cv.bounds[2 * yy], ymax = p->cv.bounds[2 * yy + 1];
            const int32_t *k = p->cv.kk + (size_t)yy * p->cv.ksize;
            for (xx = 0; xx < vw; xx++) {
                int32_t ss = 1 << (NG__PIL_PRECISION_BITS - 1);
                for (x = 0; x < ymax; x++) ss += (int32_t)vin[(size_t)(x + ymin) * vw + xx] * k[x];
                dst[(size_t)yy * vw + xx] = ng__pil_clip8(ss);
            }
        }
        return;
    }
    memcpy(dst, src, (size_t)p->h * p->w);   /* same size: PIL returns a copy */
}

ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh, int ow) {
    ng__pil_plan plan;
    int ch;
    if (!src || !dst || c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || h > (1 << 24) || w > (1 << 24) ||
        oh > (1 << 24) || ow > (1 << 24))
        return ng_fail(NG_ERR_ARG, "ng_image_resize_bilinear_pil: bad arguments (c %d, %dx%d -> %dx%d)", c, h, w, oh, ow);
    if (ng__pil_plan_make(&plan, h, w, oh, ow))
        return ng_fail(NG_ERR_NOMEM, "ng_image_resize_bilinear_pil: cannot allocate the coefficient tables for %dx%d -> %dx%d",
                       h, w, oh, ow);
    for (ch = 0; ch < c; ch++)
        ng__pil_plan_run(&plan, src + (size_t)ch * h * w, dst + (size_t)ch * oh * ow);
    ng__pil_plan_free(&plan);
    return NG_OK;
}

/* ---- STL-10 ---- */

/* One image: (3, 96, 96) column-major planes -> row-major (3, 96, 96). */
static void ng__stl_transpose(const unsigned char *src, unsigned char *dst) {
    int c, y, x;
    for (c = 0; c < 3; c++) {
        const unsigned char *s = src + (size_t)c * 9216;
        unsigned char *d = dst + (size_t)c * 9216;
        for (y = 0; y < 96; y++)
            for (x = 0; x < 96; x++) d[y * 96 + x] = s[x * 96 + y];
    }
}

static ng_status ng__stl_check_size(uint64_t n, const char *name) {
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "STL-10 images file '%s' is empty", name);
    if (n % NG_STL10_IMAGE_BYTES != 0)
        return ng_fail(NG_ERR_FORMAT, "STL-10 images file '%s': size %llu bytes is not a multiple of the %d bytes of "
                       "one 3x96x96 image (%llu whole images and %llu bytes left over; truncated or not an STL-10 X file)",
                       name, (unsigned long long)n, NG_STL10_IMAGE_BYTES, (unsigned long long)(n / NG_STL10_IMAGE_BYTES),
                       (unsigned long long)(n % NG_STL10_IMAGE_BYTES));
    return NG_OK;
}

ng_status ng_stl10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out) {
    ng_status st;
    size_t i, cnt;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    st = ng__stl_check_size((uint64_t)n, name);
    if (st != NG_OK) return st;
    cnt = n / NG_STL10_IMAGE_BYTES;
    st = ng__image_set_alloc(out, (int64_t)cnt, 3, 96, 96, 0, name);
    if (st != NG_OK) return st;
    for (i = 0; i < cnt; i++) ng__stl_transpose(buf + i * NG_STL10_IMAGE_BYTES, out->pixels + i * NG_STL10_IMAGE_BYTES);
    return NG_OK;
}

ng_status ng_stl10_parse_labels(const unsigned char *buf, size_t n, const char *name, ng_image_set *set) {
    unsigned char *lab;
    size_t i;
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s' is empty", name);
    if ((uint64_t)n != (uint64_t)set->n)
        return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s' has %zu labels (bytes) but there are %lld images",
                       name, n, (long long)set->n);
    for (i = 0; i < n; i++)
        if (buf[i] < 1 || buf[i] > 10)
            return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s': label %d at index %zu is outside 1..10", name, buf[i], i);
    lab = (unsigned char *)malloc(n);
    if (!lab) return ng_fail(NG_ERR_NOMEM, "STL-10 labels file '%s': cannot allocate %zu bytes", name, n);
    for (i = 0; i < n; i++) lab[i] = (unsigned char)(buf[i] - 1);
    free(set->labels);
    set->labels = lab;
    return NG_OK;
}

/* Open an X file and count its images (size checked). */
static ng_status ng__stl_open(const char *path, FILE **fp, int64_t *count) {
    FILE *f;
    uint64_t size;
    ng_status st;
    *fp = NULL;
    *count = 0;
    f = fopen(path, "rb");
    if (!f) return ng_fail(NG_ERR_IO, "cannot open STL-10 images file '%s': %s", path, strerror(errno));
#ifndef _WIN32
    {
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0) {
            fclose(f);
            return ng_fail(NG_ERR_IO, "cannot read STL-10 images file '%s': not a regular file", path);
        }
        size = (uint64_t)sb.st_size;
    }
#else
    {
        long e;
        if (fseek(f, 0, SEEK_END) != 0 || (e = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return ng_fail(NG_ERR_IO, "cannot find the size of STL-10 images file '%s'", path);
        }
        size = (uint64_t)e;
    }
#endif
    st = ng__stl_check_size(size, path);
    if (st != NG_OK) {
        fclose(f);
        return st;
    }
    *fp = f;
    *count = (int64_t)(size / NG_STL10_IMAGE_BYTES);
    return NG_OK;
}

/* Stream `count` images from f into dst (size x size), transposing and resizing each. */
static ng_status ng__stl_read(FILE *f, const char *path, int64_t count, int size, const ng__pil_plan *plan,
                              unsigned char *dst) {
    unsigned char *raw = (unsigned char *)malloc(2 * NG_STL10_IMAGE_BYTES);
    unsigned char *rm = raw ? raw + NG_STL10_IMAGE_BYTES : NULL;
    size_t out_per = (size_t)3 * size * size;
    int64_t i;
    int c;
    if (!raw) return ng_fail(NG_ERR_NOMEM, "STL-10 '%s': cannot allocate a read buffer", path);
    for (i = 0; i < count; i++) {
        size_t got = fread(raw, 1, NG_STL10_IMAGE_BYTES, f);
        if (got != NG_STL10_IMAGE_BYTES) {
            free(raw);
            return ng_fail(NG_ERR_IO, "STL-10 images file '%s': read failed at image %lld (byte offset %llu): %s", path,
                           (long long)i, (unsigned long long)i * NG_STL10_IMAGE_BYTES,
                           ferror(f) ? strerror(errno) : "the file ended early (it shrank while being read)");
        }
        if (size == 96) {
            ng__stl_transpose(raw, dst + (size_t)i * out_per);
        } else {
            ng__stl_transpose(raw, rm);
            for (c = 0; c < 3; c++) ng__pil_plan_run(plan, rm + (size_t)c * 9216, dst + (size_t)i * out_per + (size_t)c * size * size);
        }
    }
    free(raw);
    return NG_OK;
}

static ng_status ng__stl_labels_file(const char *path, ng_image_set *set) {
    unsigned char *buf;
    size_t n;
    ng_status st = ng_file_read_all(path, (size_t)set->n + 1, &buf, &n);
    if (st != NG_OK) return st;
    st = ng_stl10_parse_labels(buf, n, path, set);
    free(buf);
    return st;
}

ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out) {
    const char *xf[2] = {NULL, NULL}, *yf = NULL;
    char path[2][1024], ypath[1024];
    FILE *f[2] = {NULL, NULL};
    int64_t cnt[2] = {0, 0}, total = 0;
    int nf, i;
    ng__pil_plan plan;
    ng_status st = NG_OK;
    memset(out, 0, sizeof *out);
    memset(&plan, 0, sizeof plan);
    if (!dir || !split) return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: dir or split is NULL");
    if (size != 96 && size != 48)
        return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: size %d is not supported (96 or 48)", size);
    if (strcmp(split, "train") == 0) { xf[0] = "train_X.bin"; yf = "train_y.bin"; }
    else if (strcmp(split, "test") == 0) { xf[0] = "test_X.bin"; yf = "test_y.bin"; }
    else if (strcmp(split, "unlabeled") == 0) { xf[0] = "unlabeled_X.bin"; }
    else if (strcmp(split, "train+unlabeled") == 0) { xf[0] = "train_X.bin"; xf[1] = "unlabeled_X.bin"; }
    else return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: unknown split '%s' (train, test, unlabeled or train+unlabeled)", split);
    nf = xf[1] ? 2 : 1;
    for (i = 0; i < nf && st == NG_OK; i++) {
        st = ng__gd_path(path[i], sizeof path[i], dir, "stl10_binary", xf[i]);
        if (st == NG_OK) st = ng__stl_open(path[i], &f[i], &cnt[i]);
        total += cnt[i];
    }
    if (st == NG_OK && size != 96 && ng__pil_plan_make(&plan, 96, 96, size, size))
        st = ng_fail(NG_ERR_NOMEM, "ng_stl10_load_dir: cannot allocate the resize tables");
    if (st == NG_OK) st = ng__image_set_alloc(out, total, 3, size, size, 0, path[0]);
    for (i = 0; i < nf && st == NG_OK; i++)
        st = ng__stl_read(f[i], path[i], cnt[i], size, &plan,
                          out->pixels + (size_t)(i ? cnt[0] : 0) * 3 * (size_t)size * (size_t)size);
    for (i = 0; i < nf; i++)
        if (f[i]) fclose(f[i]);
    ng__pil_plan_free(&plan);
    if (st == NG_OK && yf) {
        st = ng__gd_path(ypath, sizeof ypath, dir, "stl10_binary", yf);
        if (st == NG_OK) st = ng__stl_labels_file(ypath, out);
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

/* ---- Fashion-MNIST for the GAN ---- */

ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out) {
    ng_idx im;
    ng_status st;
    int64_t i, h, w;
    int top, left, y;
    memset(out, 0, sizeof *out);
    if (!images_path) return ng_fail(NG_ERR_ARG, "ng_fmnist_gan_load: images_path is NULL");
    st = ng_idx_load(images_path, &im);
    if (st != NG_OK) return st;
    if (im.ndim != 3) {
        st = ng_fail(NG_ERR_FORMAT, "images file '%s' has %d dimensions; expected 3 (N, H, W)", images_path, im.ndim);
        ng_idx_free(&im);
        return st;
    }
    h = im.dims[1];
    w = im.dims[2];
    if (pad_to < h || pad_to < w || pad_to > 4096) {
        st = ng_fail(NG_ERR_ARG, "ng_fmnist_gan_load: pad_to %d is smaller than the %lldx%lld images of '%s' (or above 4096)",
                     pad_to, (long long)h, (long long)w, images_path);
        ng_idx_free(&im);
        return st;
    }
    st = ng__image_set_alloc(out, im.dims[0], 1, pad_to, pad_to, 0, images_path);
    if (st != NG_OK) {
        ng_idx_free(&im);
        return st;
    }
    top = (int)((pad_to - h) / 2);
    left = (int)((pad_to - w) / 2);
    memset(out->pixels, 0, (size_t)out->n * (size_t)pad_to * (size_t)pad_to);
    for (i = 0; i < out->n; i++)
        for (y = 0; y < (int)h; y++)
            memcpy(out->pixels + ((size_t)i * pad_to + (size_t)(y + top)) * pad_to + left,
                   im.data + ((size_t)i * h + (size_t)y) * w, (size_t)w);
    ng_idx_free(&im);
    return NG_OK;
}

/* ---- batches and splits ---- */

static ng_tensor *ng__gd_bad(ng_ctx *ctx, ng_status code, const char *msg, long long a, long long b) {
    if (ctx->status == NG_OK) {
        ctx->status = code;
        ng_fail(code, "ng_image_set_batch: %s (%lld, %lld)", msg, a, b);
    }
    return NULL;
}

ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm) {
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, stdv[3] = {0.2470f, 0.2435f, 0.2616f};
    ng_tensor *t;
    float *host;
    size_t plane, per;
    int i, ch;
    if (ctx->status != NG_OK) return NULL;
    if (!s || !s->pixels || !idx || n < 1) return ng__gd_bad(ctx, NG_ERR_ARG, "empty set, NULL indices or n < 1: n, set size", n, s ? (long long)s->n : 0);
    if (norm != NG_IMAGE_NORM_PM1 && norm != NG_IMAGE_NORM_CIFAR_MEANSTD)
        return ng__gd_bad(ctx, NG_ERR_ARG, "unknown norm (norm, channels)", (long long)norm, s->c);
    if (norm == NG_IMAGE_NORM_CIFAR_MEANSTD && s->c != 3)
        return ng__gd_bad(ctx, NG_ERR_ARG, "NG_IMAGE_NORM_CIFAR_MEANSTD needs 3 channels (norm, channels)", (long long)norm, s->c);
    for (i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= s->n) return ng__gd_bad(ctx, NG_ERR_ARG, "index outside the set (index, set size)", (long long)idx[i], (long long)s->n);
    t = ng_tensor_new(ctx, ng_shape4(n, s->c, s->h, s->w));
    host = ng_tensor_host_write(ctx, t);
    if (!host) return NULL;
    plane = (size_t)s->h * (size_t)s->w;
    per = plane * (size_t)s->c;
    for (i = 0; i < n; i++) {
        const unsigned char *px = s->pixels + (size_t)idx[i] * per;
        float *o = host + (size_t)i * per;
        size_t j;
        if (norm == NG_IMAGE_NORM_PM1) {
            for (j = 0; j < per; j++) o[j] = (float)px[j] / 127.5f - 1.0f;
        } else {
            /* ToTensor (x / 255) then Normalize ((x - mean) / std), in float32 as torchvision */
            for (ch = 0; ch < 3; ch++)
                for (j = 0; j < plane; j++) {
                    float v = (float)px[ch * plane + j] / 255.0f;
                    o[ch * plane + j] = (v - mean[ch]) / stdv[ch];
                }
        }
    }
    return ng_tensor_host_done(t, host) == NG_OK ? t : NULL;
}

void ng_image_set_split_half(int64_t n, int64_t *first_len) {
    *first_len = n > 0 ? n / 2 : 0;
}

void ng_sample_indices(ng_rng *r, int64_t begin, int64_t end, int n, int64_t *out) {
    int i;
    NG_ASSERT(end > begin && n >= 0);
    for (i = 0; i < n; i++) out[i] = begin + (int64_t)ng_rng_below(r, (uint64_t)(end - begin));
}

/* ---- PNG grids ---- */

#ifdef NG_USE_STB
typedef struct ng__png_buf {
    unsigned char *data;
    size_t n, cap;
    int failed;
} ng__png_buf;

static void ng__png_write(void *context, void *data, int size) {
    ng__png_buf *b = (ng__png_buf *)context;
    if (b->failed || size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;
        while (cap < b->n + (size_t)size) cap *= 2;
        p = (unsigned char *)realloc(b->data, cap);
        if (!p) { b->failed = 1; return; }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

/* torchvision save_image: (x + 1) / 2, then mul(255).add_(0.5).clamp_(0, 255), truncated */
static unsigned char ng__grid_u8(float x) {
    float v = (x + 1.0f) / 2.0f;
    v = v * 255.0f + 0.5f;
    if (!(v > 0.0f)) return 0;          /* also NaN */
    if (v >= 255.0f) return 255;
    return (unsigned char)v;
}
#endif


ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow, int padding) {
    int64_t ncol, nrows, gw, gh;
    if (!path || !images || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || nrow < 1 || padding < 0)
        return ng_fail(NG_ERR_ARG, "ng_save_image_grid('%s'): bad arguments (n %d, c %d (1 or 3), %dx%d, nrow %d, padding %d)",
                       path ? path : "(null)", n, c, h, w, nrow, padding);
    ncol = nrow < n ? nrow : n;
    nrows = (n + ncol - 1) / ncol;
    if (n == 1) padding = 0;   /* make_grid returns a single image as it is */
    gw = ncol * ((int64_t)w + padding) + padding;
    gh = nrows * ((int64_t)h + padding) + padding;
    if (gw > (1 << 24) || gh > (1 << 24) || gw * gh > ((int64_t)1 << 30))
        return ng_fail(NG_ERR_ARG, "ng_save_image_grid('%s'): a %lldx%lld grid is too large", path, (long long)gw, (long long)gh);
#ifndef NG_USE_STB
    return ng_fail(NG_ERR_UNSUPPORTED, "ng_save_image_grid('%s'): this build has no PNG writer; rebuild with -DNG_USE_STB "
                   "(Debian: apt-get install libstb-dev, then -DNG_USE_STB -I/usr/include/stb ... -lstb)", path);
#else
    {
        unsigned char *px = (unsigned char *)calloc((size_t)(gw * gh * c), 1);
        ng__png_buf b;
        ng_status st;
        int k, ch, y, x;
        if (!px) return ng_fail(NG_ERR_NOMEM, "ng_save_image_grid('%s'): cannot allocate %lldx%lld pixels", path, (long long)gw, (long long)gh);
        for (k = 0; k < n; k++) {
            int64_t oy = (k / ncol) * ((int64_t)h + padding) + padding, ox = (k % ncol) * ((int64_t)w + padding) + padding;
            const float *img = images + (size_t)k * c * h * w;
            for (ch = 0; ch < c; ch++)
                for (y = 0; y < h; y++)
                    for (x = 0; x < w; x++)
                        px[((size_t)(oy + y) * gw + (size_t)(ox + x)) * c + ch] = ng__grid_u8(img[((size_t)ch * h + y) * w + x]);
        }
        memset(&b, 0, sizeof b);
        if (!stbi_write_png_to_func(ng__png_write, &b, (int)gw, (int)gh, c, px, (int)(gw * c)) || b.failed || b.n == 0) {
            free(px);
            free(b.data);
            return ng_fail(NG_ERR_NOMEM, "ng_save_image_grid('%s'): PNG encoding of a %lldx%lld image failed", path,
                           (long long)gw, (long long)gh);
        }
        free(px);
        st = ng_file_write_atomic(path, b.data, b.n);
        free(b.data);
        return st;
    }
#endif
}

/* ---- src/text.c ---- */
/* ======================================================================================== */
/* @@TEXT                                                                                   */
/* ======================================================================================== */
#ifdef NG_USE_UTF8PROC
#include <utf8proc.h>
#endif

ng_text_opts ng_text_opts_default(void) {
    ng_text_opts o;
    o.casefold = 0;
    o.replace_invalid = 0;
    o.max_len = 64;
    return o;
}

ng_vocab_opts ng_vocab_opts_default(void) {
    ng_vocab_opts o;
    o.min_count = 1;
    o.max_size = 0;
    o.sorted = 0;
    return o;
}

void ng_tokens_free(ng_tokens *t) {
    free(t->tok);
    free(t->buf_);
    t->tok = NULL;
    t->buf_ = NULL;
    t->n = 0;
}

static const char *ng__tsrc(const char *s) { return s ? s : "(memory)"; }

#ifdef NG_USE_UTF8PROC
/* Length of the valid UTF-8 sequence at p (1..4), or 0 with *why and *used (bytes of the
   maximal invalid subpart, >= 1) set. */
static int ng__utf8_seq(const unsigned char *p, size_t left, const char **why, size_t *used) {
    unsigned c = p[0];
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    size_t k;
    *used = 1;
    if (c < 0x80) return 1;
    if (c < 0xC2) { *why = c < 0xC0 ? "unexpected continuation byte" : "overlong encoding"; return 0; }
    if (c < 0xE0) need = 1;
    else if (c < 0xF0) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c < 0xF5) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *why = "code point above U+10FFFF"; return 0; }
    for (k = 1; k <= (size_t)need; k++) {
        unsigned b;
        if (k >= left) { *why = "truncated sequence at end of text"; *used = k; return 0; }
        b = p[k];
        if (k == 1 && (b < lo || b > hi) && b >= 0x80 && b <= 0xBF) {
            *why = c == 0xE0 || c == 0xF0 ? "overlong encoding"
                 : c == 0xED ? "surrogate code point" : "code point above U+10FFFF";
            *used = 1;
            return 0;
        }
        if (b < 0x80 || b > 0xBF) { *why = "truncated sequence"; *used = k; return 0; }
    }
    return need + 1;
}
#endif

ng_status ng_tokenize_spaces(const char *text, size_t n, ng_tokens *out) {
    size_t i, cnt = 0, w = 0;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    for (i = 0; i < n; i++) if (text[i] != ' ' && (i == 0 || text[i - 1] == ' ')) cnt++;
    out->buf_ = (char *)malloc(n + 1);
    out->tok = (char **)malloc((cnt ? cnt : 1) * sizeof(char *));
    if (!out->buf_ || !out->tok) { ng_tokens_free(out); return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory"); }
    for (i = 0; i < n; i++) {
        if (text[i] == ' ') continue;
        if (i == 0 || text[i - 1] == ' ') out->tok[out->n++] = out->buf_ + w;
        out->buf_[w++] = text[i];
        if (i + 1 == n || text[i + 1] == ' ') out->buf_[w++] = 0;
    }
    return NG_OK;
}

#ifdef NG_USE_UTF8PROC
static int ng__is_cjk(int32_t c) {
    return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) ||
           (c >= 0x3038 && c <= 0x303B) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x20000 && c <= 0x3FFFF);
}
#endif

ng_status ng_tokenize(const char *text, size_t n, const ng_text_opts *o, const char *src_name,
                      int64_t line, ng_tokens *out) {
#ifndef NG_USE_UTF8PROC
    (void)text; (void)n; (void)o; (void)line;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    return ng_fail(NG_ERR_UNSUPPORTED, "cannot tokenize '%s': this build has no utf8proc "
                   "(install libutf8proc-dev and build with -DNG_USE_UTF8PROC -lutf8proc)", ng__tsrc(src_name));
#else
    ng_text_opts def = ng_text_opts_default();
    unsigned char *clean = NULL;
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t nl;
    size_t i = 0, w = 0, cap, ntok = 0, tcap = 16, *offs = NULL;
    int kind = 0, ri = 0, zwj = 0;   /* kind: 0 none, 1 word, 2 symbol, 3 single (punct/cjk) */
    int opts;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    if (!o) o = &def;
    if (n > ((size_t)1 << 30)) return ng_fail(NG_ERR_ARG, "'%s' line %lld: text of %zu bytes is too long",
                                             ng__tsrc(src_name), (long long)line, n);
    clean = (unsigned char *)malloc(n * 3 + 1);
    if (!clean) return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory");
    while (i < n) {
        const char *why = "";
        size_t used;
        int len = ng__utf8_seq((const unsigned char *)text + i, n - i, &why, &used);
        if (len > 0) { memcpy(clean + w, text + i, (size_t)len); w += (size_t)len; i += (size_t)len; continue; }
        if (!o->replace_invalid) {
            free(clean);
            return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: invalid UTF-8 at byte %zu of the text (%s)",
                           ng__tsrc(src_name), (long long)line, i, why);
        }
        clean[w++] = 0xEF; clean[w++] = 0xBF; clean[w++] = 0xBD;
        i += used;
    }
    opts = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE | (o->casefold ? UTF8PROC_CASEFOLD : 0);
    nl = w ? utf8proc_map(clean, (utf8proc_ssize_t)w, &norm, (utf8proc_option_t)opts) : 0;
    free(clean);
    if (nl < 0) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: normalisation failed: %s",
                               ng__tsrc(src_name), (long long)line, utf8proc_errmsg(nl));
    cap = 2 * (size_t)nl + 1;
    out->buf_ = (char *)malloc(cap);
    offs = (size_t *)malloc(tcap * sizeof(size_t));
    if (!out->buf_ || !offs) { free(norm); free(offs); ng_tokens_free(out); return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory"); }
    w = 0;
    i = 0;
#define NG__TOK_CLOSE() do { if (kind) { out->buf_[w++] = 0; kind = 0; ri = 0; zwj = 0; } } while (0)
#define NG__TOK_OPEN(k) do { NG__TOK_CLOSE(); if (ntok == tcap) { size_t *nn_ = (size_t *)realloc(offs, 2 * tcap * sizeof(size_t)); \
        if (!nn_) { goto nomem; } else { offs = nn_; tcap *= 2; } } offs[ntok++] = w; kind = (k); } while (0)
    while (i < (size_t)nl) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(norm + i, nl - (utf8proc_ssize_t)i, &c);
        utf8proc_category_t cat;
        if (len <= 0) { len = 1; c = 0xFFFD; }
        cat = utf8proc_category(c);
        switch (cat) {
        case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC:
            NG__TOK_CLOSE();
            i += (size_t)len;
            continue;
        case UTF8PROC_CATEGORY_CF:
            if (kind == 2 && (c == 0x200D || (c >= 0xE0020 && c <= 0xE007F))) {
                if (c == 0x200D) zwj = 1;
                break;   /* appended below */
            }
            i += (size_t)len;
            continue;    /* dropped */
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
            if (!kind) NG__TOK_OPEN(1);
            break;
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            if (ng__is_cjk(c)) NG__TOK_OPEN(3);
            else if (kind != 1) NG__TOK_OPEN(1);
            break;
        case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: {
            int is_ri = c >= 0x1F1E6 && c <= 0x1F1FF;
            if (kind == 2 && (zwj || (c >= 0x1F3FB && c <= 0x1F3FF) || (is_ri && ri == 1))) {
                zwj = 0;
                if (is_ri) ri = 2;
            } else {
                NG__TOK_OPEN(2);
                ri = is_ri;
            }
            break;
        }
        default:   /* punctuation, private use, unassigned: one token each */
            NG__TOK_OPEN(3);
            break;
        }
        memcpy(out->buf_ + w, norm + i, (size_t)len);
        w += (size_t)len;
        i += (size_t)len;   /* a single (kind 3) stays open only for marks that follow it */
    }
    NG__TOK_CLOSE();
#undef NG__TOK_OPEN
#undef NG__TOK_CLOSE
    free(norm);
    norm = NULL;
    out->tok = (char **)malloc((ntok ? ntok : 1) * sizeof(char *));
    if (!out->tok) goto nomem;
    for (i = 0; i < ntok; i++) out->tok[i] = out->buf_ + offs[i];
    out->n = (int64_t)ntok;
    free(offs);
    return NG_OK;
nomem:
    free(norm);
    free(offs);
    ng_tokens_free(out);
    return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory");
#endif
}

/* ---- vocabulary ---- */
uint64_t ng_fnv1a64(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = 14695981039346656037ull;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
    return h;
}

void ng_vocab_free(ng_vocab *v) {
    int64_t i;
    if (v->words) for (i = 0; i < v->size; i++) free(v->words[i]);
    free(v->words);
    free(v->slots_);
    memset(v, 0, sizeof *v);
}

static int64_t ng__vocab_slot(const ng_vocab *v, const char *word) {
    uint64_t h;
    int64_t m;
    if (!v->slots_) return -1;
    h = ng_fnv1a64(word, strlen(word));
    m = v->cap_ - 1;
    for (;; h++) {
        int64_t s = (int64_t)(h & (uint64_t)m), id = v->slots_[s];
        if (id == 0 || strcmp(v->words[id - 1], word) == 0) return s;
    }
}

int32_t ng_vocab_lookup(const ng_vocab *v, const char *word) {
    int64_t s = ng__vocab_slot(v, word);
    if (s < 0 || v->slots_[s] == 0) return NG_TEXT_UNK;
    return (int32_t)(v->slots_[s] - 1);
}

/* Append a word (copied) unless present; *id = its id. */
static ng_status ng__vocab_add(ng_vocab *v, const char *word, int64_t *id) {
    int64_t s;
    if (!v->slots_ || 2 * (v->size + 1) > v->cap_) {
        int64_t nc = v->cap_ ? 2 * v->cap_ : 64, k;
        int64_t *ns = (int64_t *)calloc((size_t)nc, sizeof(int64_t));
        char **nw = (char **)realloc(v->words, (size_t)(nc / 2 + 1) * sizeof(char *));
        if (!ns || !nw) { free(ns); if (nw) v->words = nw; return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); }
        v->words = nw;
        free(v->slots_);
        v->slots_ = ns;
        v->cap_ = nc;
        for (k = 0; k < v->size; k++) {
            s = ng__vocab_slot(v, v->words[k]);
            v->slots_[s] = k + 1;
        }
    }
    s = ng__vocab_slot(v, word);
    if (v->slots_[s]) { *id = v->slots_[s] - 1; return NG_OK; }
    {
        size_t L = strlen(word);
        char *c = (char *)malloc(L + 1);
        if (!c) return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
        memcpy(c, word, L + 1);
        v->words[v->size] = c;
    }
    v->slots_[s] = v->size + 1;
    *id = v->size++;
    return NG_OK;
}

static ng_status ng__vocab_specials(ng_vocab *v) {
    int64_t id;
    ng_status st;
    memset(v, 0, sizeof *v);
    if ((st = ng__vocab_add(v, "<pad>", &id)) != NG_OK) return st;
    return ng__vocab_add(v, "<unk>", &id);
}

void ng_text_encode(const ng_vocab *v, const char *const *tok, int64_t ntok, int max_len,
                    int32_t *ids, float *mask, int32_t *length) {
    int i;
    int64_t L = ntok < max_len ? ntok : max_len;
    for (i = 0; i < max_len; i++) {
        ids[i] = i < L ? ng_vocab_lookup(v, tok[i]) : NG_TEXT_PAD;
        if (mask) mask[i] = i < L ? 1.0f : 0.0f;
    }
    if (length) *length = (int32_t)L;
}

static ng_status ng__tok_any(const char *text, const ng_text_opts *o, const char *src, int64_t line, ng_tokens *t) {
    if (!o) return ng_tokenize_spaces(text, strlen(text), t);
    return ng_tokenize(text, strlen(text), o, src, line, t);
}

typedef struct { int64_t count, first; const char *w; } ng__vcount;
static int ng__vc_cmp_count(const void *a, const void *b) {
    const ng__vcount *x = (const ng__vcount *)a, *y = (const ng__vcount *)b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->w, y->w);
}
static int ng__vc_cmp_lex(const void *a, const void *b) {
    return strcmp(((const ng__vcount *)a)->w, ((const ng__vcount *)b)->w);
}

ng_status ng_vocab_build(const ng_text_examples *const *sets, int nsets, const ng_text_opts *o,
                         const ng_vocab_opts *vo, ng_vocab *out) {
    ng_vocab all;
    int64_t *counts = NULL, ccap = 0, i, k, keep = 0;
    ng__vcount *vc = NULL;
    ng_vocab_opts dv = ng_vocab_opts_default();
    ng_status st = NG_OK;
    int si;
    memset(out, 0, sizeof *out);
    memset(&all, 0, sizeof all);
    if (!vo) vo = &dv;
    for (si = 0; si < nsets && st == NG_OK; si++) {
        const ng_text_examples *e = sets[si];
        for (i = 0; i < e->n && st == NG_OK; i++) {
            ng_tokens t;
            char name[64];
            snprintf(name, sizeof name, "example set %d", si);
            st = ng__tok_any(e->texts[i], o, name, i + 1, &t);
            for (k = 0; k < t.n && st == NG_OK; k++) {
                int64_t id;
                st = ng__vocab_add(&all, t.tok[k], &id);
                if (st == NG_OK && id >= ccap) {
                    int64_t nc = ccap ? 2 * ccap : 1024;
                    int64_t *nn = (int64_t *)realloc(counts, (size_t)nc * sizeof(int64_t));
                    if (!nn) { st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); break; }
                    memset(nn + ccap, 0, (size_t)(nc - ccap) * sizeof(int64_t));
                    counts = nn;
                    ccap = nc;
                }
                if (st == NG_OK) counts[id]++;
            }
            ng_tokens_free(&t);
        }
    }
    if (st == NG_OK) {
        vc = (ng__vcount *)malloc((size_t)(all.size ? all.size : 1) * sizeof(ng__vcount));
        if (!vc) st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
    }
    if (st == NG_OK) {
        for (i = 0; i < all.size; i++) {
            if (counts[i] < vo->min_count || strcmp(all.words[i], "<pad>") == 0 || strcmp(all.words[i], "<unk>") == 0) continue;
            vc[keep].count = counts[i]; vc[keep].first = i; vc[keep].w = all.words[i];
            keep++;
        }
        qsort(vc, (size_t)keep, sizeof *vc, ng__vc_cmp_count);   /* most frequent first */
        if (vo->max_size > 0 && keep > vo->max_size - 2) keep = vo->max_size > 2 ? vo->max_size - 2 : 0;
        if (vo->sorted) qsort(vc, (size_t)keep, sizeof *vc, ng__vc_cmp_lex);
        st = ng__vocab_specials(out);
        for (i = 0; i < keep && st == NG_OK; i++) {
            int64_t id;
            st = ng__vocab_add(out, vc[i].w, &id);
        }
    }
    free(vc);
    free(counts);
    ng_vocab_free(&all);
    if (st != NG_OK) ng_vocab_free(out);
    return st;
}

ng_status ng_vocab_save(const ng_vocab *v, const char *path) {
    size_t total = 0, w = 0;
    int64_t i;
    char *buf;
    ng_status st;
    for (i = 0; i < v->size; i++) {
        const char *s = v->words[i];
        if (!s[0] || strchr(s, '\n') || strchr(s, '\r'))
            return ng_fail(NG_ERR_ARG, "cannot save vocabulary to '%s': token %lld is empty or holds a line break",
                           path, (long long)i);
        total += strlen(s) + 1;
    }
    buf = (char *)malloc(total ? total : 1);
    if (!buf) return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
    for (i = 0; i < v->size; i++) {
        size_t L = strlen(v->words[i]);
        memcpy(buf + w, v->words[i], L);
        w += L;
        buf[w++] = '\n';
    }
    st = ng_file_write_atomic(path, buf, w);
    free(buf);
    return st;
}

ng_status ng_vocab_parse(const char *buf, size_t n, const char *src_name, ng_vocab *v) {
    size_t p = 0;
    int64_t line = 0;
    char *tmp = NULL;
    ng_status st = NG_OK;
    memset(v, 0, sizeof *v);
    while (p < n && st == NG_OK) {
        const char *nl = (const char *)memchr(buf + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - buf) : n, L = e - p;
        int64_t id;
        line++;
        if (L > 0 && buf[e - 1] == '\r') L--;
        if (L == 0 || L > NG_TEXT_MAX_LINE || memchr(buf + p, 0, L)) {
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: %s", ng__tsrc(src_name), (long long)line,
                         L == 0 ? "empty token" : "token too long or holds a NUL byte");
            break;
        }
        tmp = (char *)malloc(L + 1);
        if (!tmp) { st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); break; }
        memcpy(tmp, buf + p, L);
        tmp[L] = 0;
        if ((line == 1 && strcmp(tmp, "<pad>") != 0) || (line == 2 && strcmp(tmp, "<unk>") != 0))
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: expected '%s'", ng__tsrc(src_name),
                         (long long)line, line == 1 ? "<pad>" : "<unk>");
        if (st == NG_OK) st = ng__vocab_add(v, tmp, &id);
        if (st == NG_OK && id != line - 1)
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: duplicate token '%s'", ng__tsrc(src_name),
                         (long long)line, tmp);
        free(tmp);
        p = e + 1;
    }
    if (st == NG_OK && v->size < 2)
        st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s': needs at least the lines <pad> and <unk>", ng__tsrc(src_name));
    if (st != NG_OK) ng_vocab_free(v);
    return st;
}

ng_status ng_vocab_load(const char *path, ng_vocab *v) {
    unsigned char *d;
    size_t n;
    ng_status st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
    memset(v, 0, sizeof *v);
    if (st != NG_OK) return st;
    st = ng_vocab_parse((const char *)d, n, path, v);
    free(d);
    return st;
}

/* ---- examples and datasets ---- */
void ng_text_examples_free(ng_text_examples *e) {
    int64_t i;
    int c;
    if (e->texts) for (i = 0; i < e->n; i++) free(e->texts[i]);
    if (e->class_names) for (c = 0; c < e->num_classes; c++) free(e->class_names[c]);
    free(e->texts);
    free(e->labels);
    free(e->class_names);
    memset(e, 0, sizeof *e);
}

ng_status ng_text_examples_add(ng_text_examples *e, int32_t label, const char *text, size_t len) {
    char *c;
    if (e->n == e->cap_) {
        int64_t nc = e->cap_ ? 2 * e->cap_ : 256;
        int32_t *nl = (int32_t *)realloc(e->labels, (size_t)nc * sizeof(int32_t));
        char **nt;
        if (!nl) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
        e->labels = nl;
        nt = (char **)realloc(e->texts, (size_t)nc * sizeof(char *));
        if (!nt) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
        e->texts = nt;
        e->cap_ = nc;
    }
    c = (char *)malloc(len + 1);
    if (!c) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    memcpy(c, text, len);
    c[len] = 0;
    e->labels[e->n] = label;
    e->texts[e->n++] = c;
    return NG_OK;
}

static ng_status ng__add_class(ng_text_examples *e, const char *name, size_t len) {
    char **nn;
    char *c;
    if (e->num_classes >= NG_TEXT_MAX_CLASSES) return ng_fail(NG_ERR_FORMAT, "more than %d classes", NG_TEXT_MAX_CLASSES);
    nn = (char **)realloc(e->class_names, (size_t)(e->num_classes + 1) * sizeof(char *));
    if (!nn) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    e->class_names = nn;
    c = (char *)malloc(len + 1);
    if (!c) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    memcpy(c, name, len);
    c[len] = 0;
    e->class_names[e->num_classes++] = c;
    return NG_OK;
}

ng_status ng_text_examples_set_classes(ng_text_examples *e, int num_classes, const char *const *names) {
    int c;
    ng_status st = NG_OK;
    for (c = 0; c < e->num_classes; c++) free(e->class_names[c]);
    free(e->class_names);
    e->class_names = NULL;
    e->num_classes = 0;
    for (c = 0; c < num_classes && st == NG_OK; c++) st = ng__add_class(e, names[c], strlen(names[c]));
    return st;
}

void ng_text_dataset_free(ng_text_dataset *d) {
    int c;
    if (d->class_names) for (c = 0; c < d->num_classes; c++) free(d->class_names[c]);
    free(d->class_names);
    free(d->ids);
    free(d->lengths);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

ng_status ng_text_dataset_make(const ng_text_examples *e, const ng_vocab *v, const ng_text_opts *o,
                               int max_len_if_null, ng_text_dataset *out) {
    int L = o ? o->max_len : max_len_if_null;
    int64_t i;
    int c;
    ng_status st = NG_OK;
    memset(out, 0, sizeof *out);
    if (L <= 0 || L > (1 << 20)) return ng_fail(NG_ERR_ARG, "text dataset: max_len %d out of range", L);
    out->n = e->n;
    out->max_len = L;
    out->ids = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * (size_t)L * sizeof(int32_t));
    out->lengths = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * sizeof(int32_t));
    out->labels = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * sizeof(int32_t));
    out->class_names = (char **)calloc((size_t)(e->num_classes ? e->num_classes : 1), sizeof(char *));
    if (!out->ids || !out->lengths || !out->labels || !out->class_names) {
        ng_text_dataset_free(out);
        return ng_fail(NG_ERR_NOMEM, "text dataset: out of memory");
    }
    out->num_classes = e->num_classes;
    for (c = 0; c < e->num_classes; c++) {
        size_t len = strlen(e->class_names[c]);
        out->class_names[c] = (char *)malloc(len + 1);
        if (!out->class_names[c]) { st = ng_fail(NG_ERR_NOMEM, "text dataset: out of memory"); break; }
        memcpy(out->class_names[c], e->class_names[c], len + 1);
    }
    for (i = 0; i < e->n && st == NG_OK; i++) {
        ng_tokens t;
        st = ng__tok_any(e->texts[i], o, "example", i + 1, &t);
        if (st != NG_OK) break;
        ng_text_encode(v, (const char *const *)t.tok, t.n, L, out->ids + (size_t)i * (size_t)L, NULL, out->lengths + i);
        out->labels[i] = e->labels[i];
        ng_tokens_free(&t);
    }
    if (st != NG_OK) ng_text_dataset_free(out);
    return st;
}

/* ---- readers ---- */
static ng_status ng__load_with(const char *path, ng_status (*fn)(const char *, size_t, const char *, const void *, ng_text_examples *),
                               const void *arg, ng_text_examples *out) {
    unsigned char *d;
    size_t n;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
    if (st != NG_OK) return st;
    st = fn((const char *)d, n, path, arg, out);
    free(d);
    return st;
}

/* next line [p, *e) without the \r of \r\n; returns 0 at end */
static int ng__next_line(const char *buf, size_t n, size_t *p, size_t *s, size_t *len) {
    const char *nl;
    size_t e;
    if (*p >= n) return 0;
    nl = (const char *)memchr(buf + *p, '\n', n - *p);
    e = nl ? (size_t)(nl - buf) : n;
    *s = *p;
    *len = e - *p;
    if (*len > 0 && buf[e - 1] == '\r') (*len)--;
    *p = e + 1;
    return 1;
}

ng_status ng_tsv_parse(const char *buf, size_t n, const char *src_name, int integer_labels, ng_text_examples *out) {
    size_t p = 0, s, len;
    int64_t line = 0;
    ng_status st = NG_OK;
    const char *src = ng__tsrc(src_name);
    memset(out, 0, sizeof *out);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        const char *tab;
        size_t ll;
        int32_t label = -1;
        int c;
        line++;
        if (len == 0) continue;
        if (len > NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", src, (long long)line, (unsigned)NG_TEXT_MAX_LINE); break; }
        tab = (const char *)memchr(buf + s, '\t', len);
        if (!tab) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: no TAB between label and text", src, (long long)line); break; }
        ll = (size_t)(tab - (buf + s));
        if (ll == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: empty label", src, (long long)line); break; }
        if (integer_labels) {
            size_t k;
            long v = 0;
            for (k = 0; k < ll; k++) {
                if (buf[s + k] < '0' || buf[s + k] > '9' || v >= NG_TEXT_MAX_CLASSES) { v = -1; break; }
                v = v * 10 + (buf[s + k] - '0');
            }
            if (v < 0 || v >= NG_TEXT_MAX_CLASSES) {
                st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: label '%.*s' is not an integer in 0..%d", src, (long long)line,
                             (int)(ll > 40 ? 40 : ll), buf + s, NG_TEXT_MAX_CLASSES - 1);
                break;
            }
            label = (int32_t)v;
            while (st == NG_OK && out->num_classes <= label) {
                char nm[16];
                snprintf(nm, sizeof nm, "%d", out->num_classes);
                st = ng__add_class(out, nm, strlen(nm));
            }
        } else {
            for (c = 0; c < out->num_classes; c++)
                if (strlen(out->class_names[c]) == ll && memcmp(out->class_names[c], buf + s, ll) == 0) { label = c; break; }
            if (label < 0) {
                if (memchr(buf + s, 0, ll)) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte in label", src, (long long)line); break; }
                st = ng__add_class(out, buf + s, ll);
                if (st != NG_OK) { st = ng_fail(st, "'%s' line %lld: %s", src, (long long)line, ng_last_error()); break; }
                label = out->num_classes - 1;
            }
        }
        if (st == NG_OK) st = ng_text_examples_add(out, label, tab + 1, len - ll - 1);
    }
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__tsv_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    return ng_tsv_parse(b, n, src, *(const int *)arg, out);
}
ng_status ng_tsv_load(const char *path, int integer_labels, ng_text_examples *out) {
    return ng__load_with(path, ng__tsv_fn, &integer_labels, out);
}

static const char *const ng__ag_names[4] = { "World", "Sports", "Business", "Sci/Tech" };

ng_status ng_agnews_parse(const char *buf, size_t n, const char *src_name, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    size_t p = 0;
    int64_t line = 1;
    char *field[3] = { NULL, NULL, NULL };
    size_t flen[3] = { 0, 0, 0 };
    char *rec = NULL;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_text_examples_set_classes(out, 4, ng__ag_names);
    for (int k = 0; k < 3 && st == NG_OK; k++) {
        field[k] = (char *)malloc(NG_TEXT_MAX_LINE + 1);
        if (!field[k]) st = ng_fail(NG_ERR_NOMEM, "AG News: out of memory");
    }
    if (st == NG_OK) { rec = (char *)malloc(2 * (size_t)NG_TEXT_MAX_LINE + 2); if (!rec) st = ng_fail(NG_ERR_NOMEM, "AG News: out of memory"); }
    while (st == NG_OK && p < n) {
        int64_t rline = line;
        int nf = 0, done = 0;
        size_t rl = 0, k;
        long cls;
        /* blank line between records */
        if (buf[p] == '\n' || (buf[p] == '\r' && p + 1 < n && buf[p + 1] == '\n')) { p += buf[p] == '\r' ? 2 : 1; line++; continue; }
        while (!done && st == NG_OK) {
            size_t fl = 0;
            if (nf == 3) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: more than 3 fields (expected \"class\",\"title\",\"body\")", src, (long long)rline); break; }
            if (p < n && buf[p] == '"') {
                p++;
                for (;;) {
                    if (p >= n) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: quoted field not closed before end of file", src, (long long)rline); break; }
                    if (buf[p] == '"') {
                        if (p + 1 < n && buf[p + 1] == '"') { if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                        field[nf][fl++] = '"'; p += 2; continue; }
                        p++;
                        break;
                    }
                    if (buf[p] == '\n') line++;
                    if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                    field[nf][fl++] = buf[p++];
                }
                if (st != NG_OK) break;
                if (p < n && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') {
                    st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unexpected character after a closing quote", src, (long long)line);
                    break;
                }
            } else {
                while (p < n && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') {
                    if (buf[p] == '"') { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: quote inside an unquoted field", src, (long long)line); break; }
                    if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                    field[nf][fl++] = buf[p++];
                }
                if (st != NG_OK) break;
            }
            flen[nf++] = fl;
            if (p < n && buf[p] == ',') { p++; continue; }
            if (p < n && buf[p] == '\r') p++;
            if (p < n && buf[p] == '\n') { p++; line++; }
            else if (p < n) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: bare carriage return", src, (long long)line); break; }
            done = 1;
        }
        if (st != NG_OK) break;
        if (nf != 3) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %d field(s), expected 3 (\"class\",\"title\",\"body\")", src, (long long)rline, nf); break; }
        if (flen[0] != 1 || field[0][0] < '1' || field[0][0] > '4') {
            st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: class '%.*s' is not 1..4", src, (long long)rline, (int)(flen[0] > 20 ? 20 : flen[0]), field[0]);
            break;
        }
        cls = field[0][0] - '1';
        for (int f = 1; f < 3; f++) {
            if (f == 2) rec[rl++] = ' ';
            for (k = 0; k < flen[f]; k++) {
                if (field[f][k] == '\\' && k + 1 < flen[f] && field[f][k + 1] == 'n') { rec[rl++] = ' '; k++; }
                else rec[rl++] = field[f][k];
            }
        }
        st = ng_text_examples_add(out, (int32_t)cls, rec, rl);
    }
    for (int k = 0; k < 3; k++) free(field[k]);
    free(rec);
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__ag_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    (void)arg;
    return ng_agnews_parse(b, n, src, out);
}
ng_status ng_agnews_load(const char *path, ng_text_examples *out) { return ng__load_with(path, ng__ag_fn, NULL, out); }

/* SST */
static const char *const ng__sst5_names[5] = { "very negative", "negative", "neutral", "positive", "very positive" };
static const char *const ng__sst2_names[2] = { "negative", "positive" };

typedef struct { int label; int64_t a, b; } ng__sst_node;   /* leaves [a, b) */

ng_status ng_sst_parse(const char *buf, size_t n, const char *src_name, const ng_sst_opts *o, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    ng_sst_opts dopt = { 0, 0 };
    size_t p = 0, s, len, cap = 0;
    int64_t line = 0;
    ng_status st;
    int64_t *lstart = NULL, *lend = NULL;     /* leaf spans into wbuf */
    char *wbuf = NULL, *phr = NULL;
    ng__sst_node *stack = NULL, *done = NULL;
    memset(out, 0, sizeof *out);
    if (!o) o = &dopt;
    st = o->binary ? ng_text_examples_set_classes(out, 2, ng__sst2_names) : ng_text_examples_set_classes(out, 5, ng__sst5_names);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        size_t i = 0, wl = 0;
        int64_t nleaf = 0, depth = 0, ndone = 0, k;
        int closed = 0;
        line++;
        while (len > 0 && (buf[s + len - 1] == ' ' || buf[s + len - 1] == '\t')) len--;
        if (len == 0) continue;
        if (len > NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", src, (long long)line, (unsigned)NG_TEXT_MAX_LINE); break; }
        if (len + 1 > cap) {
            free(lstart); free(lend); free(wbuf); free(phr); free(stack); free(done);
            cap = len + 1;
            lstart = (int64_t *)malloc(cap * sizeof(int64_t)); lend = (int64_t *)malloc(cap * sizeof(int64_t));
            wbuf = (char *)malloc(cap * 5 + 8); phr = (char *)malloc(cap * 6 + 8);
            stack = (ng__sst_node *)malloc(cap * sizeof(ng__sst_node)); done = (ng__sst_node *)malloc(cap * sizeof(ng__sst_node));
            if (!lstart || !lend || !wbuf || !phr || !stack || !done) { st = ng_fail(NG_ERR_NOMEM, "SST: out of memory"); break; }
        }
        while (i < len && st == NG_OK) {
            char ch = buf[s + i];
            if (ch == ' ' || ch == '\t') { i++; continue; }
            if (closed) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: text after the end of the tree at column %zu", src, (long long)line, i + 1); break; }
            if (ch == '(') {
                i++;
                if (i >= len || buf[s + i] < '0' || buf[s + i] > '4' || (i + 1 < len && buf[s + i + 1] != ' ' && buf[s + i + 1] != '(')) {
                    st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected a label 0..4 after '(' at column %zu", src, (long long)line, i);
                    break;
                }
                stack[depth].label = buf[s + i] - '0';
                stack[depth].a = nleaf;
                stack[depth].b = -1;
                depth++;
                i++;
                while (i < len && buf[s + i] == ' ') i++;
                if (i < len && buf[s + i] != '(' && buf[s + i] != ')') {   /* a leaf word */
                    size_t ws = i, we, last;
                    while (i < len && buf[s + i] != ')' && buf[s + i] != '(') i++;
                    if (i >= len || buf[s + i] == '(') { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: leaf at column %zu not closed by ')'", src, (long long)line, ws + 1); break; }
                    we = i;
                    while (we > ws && buf[s + we - 1] == ' ') we--;
                    last = ws;
                    for (k = (int64_t)ws; k < (int64_t)we; k++) if (buf[s + k] == ' ') last = (size_t)k + 1;
                    lstart[nleaf] = (int64_t)wl;
                    for (k = (int64_t)last; k < (int64_t)we; k++) {
                        char c = buf[s + k];
                        if (c == '{' || c == '}') { memcpy(wbuf + wl, c == '{' ? "-LCB-" : "-RCB-", 5); wl += 5; }
                        else if (c == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte in a word", src, (long long)line); break; }
                        else wbuf[wl++] = c;
                    }
                    lend[nleaf++] = (int64_t)wl;
                }
            } else if (ch == ')') {
                if (depth == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unbalanced ')' at column %zu", src, (long long)line, i + 1); break; }
                depth--;
                done[ndone] = stack[depth];
                done[ndone].b = nleaf;
                ndone++;
                if (depth == 0) closed = 1;
                i++;
            } else {
                st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unexpected '%c' at column %zu (a tree starts with '(')", src, (long long)line, ch, i + 1);
                break;
            }
        }
        if (st != NG_OK) break;
        if (!closed || depth != 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: tree not closed (%lld '(' open)", src, (long long)line, (long long)depth); break; }
        /* root sentence, then (phrases) every node in post-order */
        for (k = -1; k < (o->phrases ? ndone : 0) && st == NG_OK; k++) {
            ng__sst_node nd = k < 0 ? done[ndone - 1] : done[k];
            int64_t j;
            size_t pl = 0;
            int lab = nd.label;
            if (o->binary) { if (lab == 2) continue; lab = lab < 2 ? 0 : 1; }
            for (j = nd.a; j < nd.b; j++) {
                size_t L = (size_t)(lend[j] - lstart[j]);
                if (L == 0) continue;
                if (pl) phr[pl++] = ' ';
                memcpy(phr + pl, wbuf + lstart[j], L);
                pl += L;
            }
            if (pl == 0) continue;
            st = ng_text_examples_add(out, lab, phr, pl);
        }
    }
    free(lstart); free(lend); free(wbuf); free(phr); free(stack); free(done);
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__sst_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    return ng_sst_parse(b, n, src, (const ng_sst_opts *)arg, out);
}
ng_status ng_sst_load(const char *path, const ng_sst_opts *o, ng_text_examples *out) {
    return ng__load_with(path, ng__sst_fn, o, out);
}

/* WordNet */
const char *const ng_wordnet_lexnames[NG_WORDNET_CLASSES] = {
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl"
};

ng_status ng_wordnet_parse(const char *buf, size_t n, const char *src_name, const char *basename,
                           int split, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    size_t p = 0, s, len;
    int64_t line = 0;
    ng_status st = NG_OK;
    char key[128];
    if (out->num_classes == 0) st = ng_text_examples_set_classes(out, NG_WORDNET_CLASSES, ng_wordnet_lexnames);
    if (!basename) basename = "";
    if (strlen(basename) > 64) return ng_fail(NG_ERR_ARG, "WordNet: basename too long");
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        const char *l = buf + s, *bar;
        size_t off_len = 0, gs;
        int lex;
        line++;
        if (len == 0) continue;
        if (len >= 2 && l[0] == ' ' && l[1] == ' ') continue;
        while (off_len < len && l[off_len] >= '0' && l[off_len] <= '9') off_len++;
        if (off_len == 0 || off_len > 16 || off_len + 3 >= len || l[off_len] != ' ' ||
            l[off_len + 1] < '0' || l[off_len + 1] > '9' || l[off_len + 2] < '0' || l[off_len + 2] > '9' ||
            (off_len + 3 < len && l[off_len + 3] != ' ')) {
            st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected '<offset> <lex_filenum> ...'", src, (long long)line);
            break;
        }
        lex = (l[off_len + 1] - '0') * 10 + (l[off_len + 2] - '0');
        if (lex >= NG_WORDNET_CLASSES) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: lex_filenum %d is not 00..44", src, (long long)line, lex); break; }
        bar = NULL;
        for (gs = 0; gs + 1 < len; gs++) if (l[gs] == '|' && l[gs + 1] == ' ') { bar = l + gs; break; }
        if (!bar) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: no gloss ('| ')", src, (long long)line); break; }
        if (split >= 0) {
            int kl = snprintf(key, sizeof key, "%s:%.*s", basename, (int)off_len, l);
            uint64_t b = ng_fnv1a64(key, (size_t)kl) % 10u;
            int sp = b < 8 ? 0 : b == 8 ? 1 : 2;
            if (sp != split) continue;
        }
        {
            const char *g = bar + 2;
            size_t gl = len - (size_t)(g - l);
            while (gl > 0 && (g[gl - 1] == ' ' || g[gl - 1] == '\t')) gl--;
            st = ng_text_examples_add(out, lex, g, gl);
        }
    }
    return st;
}

ng_status ng_wordnet_load(const char *dir, int split, ng_text_examples *out) {
    static const char *const files[4] = { "data.noun", "data.verb", "data.adj", "data.adv" };
    ng_status st = NG_OK;
    int f;
    memset(out, 0, sizeof *out);
    if (!dir) dir = "/usr/share/wordnet";
    if (split < -1 || split > 2) return ng_fail(NG_ERR_ARG, "WordNet: split %d is not -1..2", split);
    for (f = 0; f < 4 && st == NG_OK; f++) {
        char path[4096];
        unsigned char *d;
        size_t n;
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
        if (st != NG_OK) break;
        st = ng_wordnet_parse((const char *)d, n, path, files[f], split, out);
        free(d);
    }
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

/* ---- word vectors ---- */
void ng_wordvec_free(ng_wordvec *w) {
    int64_t i;
    if (w->words) for (i = 0; i < w->n; i++) free(w->words[i]);
    free(w->words);
    free(w->vecs);
    ng_vocab_free(&w->index_);
    memset(w, 0, sizeof *w);
}

int64_t ng_wordvec_find(const ng_wordvec *w, const char *word) {
    int32_t id = ng_vocab_lookup(&w->index_, word);
    if (id < 2 || strcmp(w->index_.words[id], word) != 0) return -1;
    return (int64_t)id - 2;
}

typedef struct { ng_wordvec *w; const ng_vocab *keep; const char *src; int64_t line; int header_ok; float *tmp; } ng__wv_state;

static ng_status ng__wv_line(ng__wv_state *S, const char *l, size_t len) {
    ng_wordvec *w = S->w;
    size_t nf = 0, i = 0, tokend;
    int64_t line = ++S->line;
    while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\t' || l[len - 1] == '\r')) len--;
    if (len == 0) return NG_OK;
    if (len > NG_TEXT_MAX_LINE) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", S->src, (long long)line, (unsigned)NG_TEXT_MAX_LINE);
    if (memchr(l, 0, len)) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte", S->src, (long long)line);
    /* count fields */
    for (i = 0; i < len; i++) if (l[i] != ' ' && (i == 0 || l[i - 1] == ' ')) nf++;
    if (line == 1 && nf == 2) {   /* word2vec header "count dim"? */
        char tmp[64];
        long long cnt, dim;
        char *e1;
        if (len < sizeof tmp) {
            memcpy(tmp, l, len); tmp[len] = 0;
            cnt = strtoll(tmp, &e1, 10);
            if (e1 != tmp && *e1 == ' ') {
                char *e2;
                dim = strtoll(e1, &e2, 10);
                if (e2 != e1 && *e2 == 0) {
                    if (cnt < 0 || dim < 1 || dim > NG_WORDVEC_MAX_DIM)
                        return ng_fail(NG_ERR_FORMAT, "'%s' line 1: header dim %lld is not 1..%d", S->src, dim, NG_WORDVEC_MAX_DIM);
                    w->dim = (int)dim;
                    return NG_OK;
                }
            }
        }
    }
    if (nf < 2) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected a token and its vector", S->src, (long long)line);
    if (w->dim == 0) {
        if (nf - 1 > NG_WORDVEC_MAX_DIM) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %zu values, more than %d", S->src, (long long)line, nf - 1, NG_WORDVEC_MAX_DIM);
        w->dim = (int)(nf - 1);
    }
    if (!S->tmp) { S->tmp = (float *)malloc((size_t)w->dim * sizeof(float)); if (!S->tmp) return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
    if (nf < (size_t)w->dim + 1)
        return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %zu columns, expected a token and %d values", S->src, (long long)line, nf, w->dim);
    /* the token is everything before the last dim fields */
    {
        size_t f = 0, skip = nf - (size_t)w->dim, k;
        tokend = 0;
        for (i = 0; i < len; i++) {
            if (l[i] != ' ' && (i == 0 || l[i - 1] == ' ')) {
                if (f == skip) break;
                f++;
            }
        }
        tokend = i;
        while (tokend > 0 && l[tokend - 1] == ' ') tokend--;
        for (k = 0; k < (size_t)w->dim; k++) {
            char num[64];
            size_t s0 = i, L;
            char *e;
            float v;
            while (i < len && l[i] != ' ') i++;
            L = i - s0;
            if (L == 0 || L >= sizeof num)
                return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: value %zu is not a number", S->src, (long long)line, k + 1);
            memcpy(num, l + s0, L); num[L] = 0;
            v = strtof(num, &e);
            if (*e != 0 || !isfinite(v))
                return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: value %zu '%s' is not a finite number", S->src, (long long)line, k + 1, num);
            S->tmp[k] = v;
            while (i < len && l[i] == ' ') i++;
        }
    }
    {
        char *tok = (char *)malloc(tokend + 1);
        int64_t id;
        ng_status st;
        if (!tok) return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory");
        memcpy(tok, l, tokend); tok[tokend] = 0;
        if ((S->keep && (ng_vocab_lookup(S->keep, tok) < 2 || strcmp(S->keep->words[ng_vocab_lookup(S->keep, tok)], tok) != 0)) ||
            ng_wordvec_find(w, tok) >= 0) { free(tok); return NG_OK; }
        if (w->n == w->cap_) {
            int64_t nc = w->cap_ ? 2 * w->cap_ : 256;
            char **nw = (char **)realloc(w->words, (size_t)nc * sizeof(char *));
            float *nv;
            if (!nw) { free(tok); return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
            w->words = nw;
            nv = (float *)realloc(w->vecs, (size_t)nc * (size_t)w->dim * sizeof(float));
            if (!nv) { free(tok); return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
            w->vecs = nv;
            w->cap_ = nc;
        }
        st = ng__vocab_add(&w->index_, tok, &id);
        if (st != NG_OK) { free(tok); return st; }
        memcpy(w->vecs + (size_t)w->n * (size_t)w->dim, S->tmp, (size_t)w->dim * sizeof(float));
        w->words[w->n++] = tok;
    }
    return NG_OK;
}

static ng_status ng__wv_begin(ng__wv_state *S, ng_wordvec *out, const ng_vocab *keep, const char *src) {
    memset(out, 0, sizeof *out);
    memset(S, 0, sizeof *S);
    S->w = out; S->keep = keep; S->src = ng__tsrc(src);
    return ng__vocab_specials(&out->index_);   /* ids 0/1 reserved so row = id - 2 */
}

static ng_status ng__wv_end(ng__wv_state *S, ng_status st) {
    free(S->tmp);
    if (st == NG_OK && S->w->dim == 0) st = ng_fail(NG_ERR_FORMAT, "'%s': no vectors", S->src);
    if (st != NG_OK) ng_wordvec_free(S->w);
    return st;
}

ng_status ng_wordvec_parse(const char *buf, size_t n, const char *src_name, const ng_vocab *keep, ng_wordvec *out) {
    ng__wv_state S;
    size_t p = 0, s, len;
    ng_status st = ng__wv_begin(&S, out, keep, src_name);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) st = ng__wv_line(&S, buf + s, len);
    return ng__wv_end(&S, st);
}

ng_status ng_wordvec_load(const char *path, const ng_vocab *keep, ng_wordvec *out) {
    ng__wv_state S;
    FILE *f;
    char *line;
    ng_status st = ng__wv_begin(&S, out, keep, path);
    if (st != NG_OK) return ng__wv_end(&S, st);
    f = fopen(path, "rb");
    if (!f) return ng__wv_end(&S, ng_fail(NG_ERR_IO, "cannot open '%s': %s", path, strerror(errno)));
    line = (char *)malloc(NG_TEXT_MAX_LINE + 2);
    if (!line) { fclose(f); return ng__wv_end(&S, ng_fail(NG_ERR_NOMEM, "word vectors: out of memory")); }
    while (st == NG_OK && fgets(line, NG_TEXT_MAX_LINE + 2, f)) {
        size_t L = strlen(line);
        if (L > 0 && line[L - 1] == '\n') L--;
        else if (!feof(f)) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", path, (long long)S.line + 1, (unsigned)NG_TEXT_MAX_LINE); break; }
        st = ng__wv_line(&S, line, L);
    }
    if (st == NG_OK && ferror(f)) st = ng_fail(NG_ERR_IO, "reading '%s' failed", path);
    free(line);
    fclose(f);
    return ng__wv_end(&S, st);
}

void ng_wordvec_init_embedding(const ng_wordvec *w, const ng_vocab *v, ng_rng *r, float *table, int64_t *found) {
    int64_t V = v->size, i, k, hits = 0;
    int D = w->dim;
    for (i = 0; i < V * D; i++) table[i] = ng_rng_uniformf(r, -0.25f, 0.25f);
    if (V > 0) for (k = 0; k < D; k++) table[k] = 0.0f;
    if (V > 1) for (k = 0; k < D; k++) table[D + k] = ng_rng_uniformf(r, -0.25f, 0.25f);
    for (i = 2; i < V; i++) {
        int64_t row = ng_wordvec_find(w, v->words[i]);
        if (row >= 0) { memcpy(table + i * D, w->vecs + row * D, (size_t)D * sizeof(float)); hits++; }
        else for (k = 0; k < D; k++) table[i * D + k] = ng_rng_uniformf(r, -0.25f, 0.25f);
    }
    if (found) *found = hits;
}

/* ---- src/gan_space.c ---- */
/* ======================================================================================== */
/* @@GAN                                                                                    */
/* ======================================================================================== */

/* ---- op and edge tables ---- */
static const char *const ng__gan_normal_names[NG_GAN_N_NORMAL_OPS] = {
    "conv_1x1", "conv_3x3", "conv_5x5", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"};
static const char *const ng__gan_up_names[NG_GAN_N_UP_OPS] = {"deconv", "nearest", "bilinear"};
static const char *const ng__gan_edge_names[NG_GAN_EDGES] = {
    "cell1.normal0", "cell1.normal1", "cell1.normal2", "cell1.up0", "cell1.up1",
    "cell2.normal0", "cell2.normal1", "cell2.normal2", "cell2.up0", "cell2.up1",
    "cell3.normal0", "cell3.normal1", "cell3.normal2", "cell3.up0", "cell3.up1",
    "skip_2.0", "skip_3.0", "skip_3.1"};
/* kernel size of normal op k (conv or separable) */
static int ng__gan_ksize(int k) { static const int ks[6] = {1, 3, 5, 3, 5, 7}; return ks[k]; }

int ng_gan_edge_is_normal(int e) { return e >= 0 && e < 15 && e % 5 < 3; }
int ng_gan_edge_n_ops(int e) {
    if (e < 0 || e >= NG_GAN_EDGES) return 0;
    return ng_gan_edge_is_normal(e) ? NG_GAN_N_NORMAL_OPS : NG_GAN_N_UP_OPS;
}
const char *ng_gan_edge_name(int e) { return e >= 0 && e < NG_GAN_EDGES ? ng__gan_edge_names[e] : NULL; }
const char *ng_gan_normal_op_name(int k) { return k >= 0 && k < NG_GAN_N_NORMAL_OPS ? ng__gan_normal_names[k] : NULL; }
const char *ng_gan_up_op_name(int k) { return k >= 0 && k < NG_GAN_N_UP_OPS ? ng__gan_up_names[k] : NULL; }
const char *ng_gan_op_name(int e, int k) {
    if (e < 0 || e >= NG_GAN_EDGES) return NULL;
    return ng_gan_edge_is_normal(e) ? ng_gan_normal_op_name(k) : ng_gan_up_op_name(k);
}
int ng_gan_op_index(int e, const char *name) {
    int k, n = ng_gan_edge_n_ops(e);
    if (!name) return -1;
    for (k = 0; k < n; k++)
        if (strcmp(ng_gan_op_name(e, k), name) == 0) return k;
    return -1;
}

/* ---- configuration ---- */
ng_status ng_gan_config_preset(ng_gan_config *cfg, const char *dataset) {
    ng_gan_config c;
    c.gf_dim = 256; c.df_dim = 128; c.latent_dim = 128; c.bottom_width = 4; c.channels = 3;
    c.gumbel = 0; c.gumbel_temp = 0.5f;
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan config: dataset name is NULL");
    if (strcmp(dataset, "cifar10") == 0) {
    } else if (strcmp(dataset, "stl10") == 0) {
        c.bottom_width = 6;
    } else if (strcmp(dataset, "fashion_mnist") == 0) {
        c.channels = 1;
    } else {
        return ng_fail(NG_ERR_ARG, "gan config: unknown dataset '%s' (expected cifar10, stl10 or fashion_mnist)", dataset);
    }
    *cfg = c;
    return NG_OK;
}

ng_status ng_gan_config_check(const ng_gan_config *c) {
    if (c->gf_dim < 1 || c->gf_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: gf_dim %d out of [1, 65536]", c->gf_dim);
    if (c->df_dim < 1 || c->df_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: df_dim %d out of [1, 65536]", c->df_dim);
    if (c->latent_dim < 1 || c->latent_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: latent_dim %d out of [1, 65536]", c->latent_dim);
    if (c->bottom_width < 1 || c->bottom_width > 1024) return ng_fail(NG_ERR_ARG, "gan config: bottom_width %d out of [1, 1024]", c->bottom_width);
    if (c->channels < 1 || c->channels > 64) return ng_fail(NG_ERR_ARG, "gan config: channels %d out of [1, 64]", c->channels);
    if (!(c->gumbel_temp > 0.0f) || !(c->gumbel_temp < FLT_MAX))
        return ng_fail(NG_ERR_ARG, "gan config: gumbel_temp %g must be positive and finite", (double)c->gumbel_temp);
    return NG_OK;
}

/* ---- genotypes ---- */
static ng_gan_genotype ng__gan_geno_from(const int *ops) {
    ng_gan_genotype g;
    memcpy(g.op, ops, sizeof g.op);
    return g;
}
ng_gan_genotype ng_gan_genotype_alphagan_l(void) {
    /* cell1: conv5x5, conv5x5, sep5x5 | deconv, bilinear; cell2: conv5x5, conv1x1, conv3x3 |
       deconv, bilinear; cell3: conv1x1, conv5x5, sep3x3 | nearest, bilinear;
       skip_2: nearest; skip_3: bilinear, nearest */
    static const int ops[NG_GAN_EDGES] = {
        NG_GAN_CONV_5X5, NG_GAN_CONV_5X5, NG_GAN_SEP_CONV_5X5, NG_GAN_DECONV, NG_GAN_BILINEAR,
        NG_GAN_CONV_5X5, NG_GAN_CONV_1X1, NG_GAN_CONV_3X3, NG_GAN_DECONV, NG_GAN_BILINEAR,
        NG_GAN_CONV_1X1, NG_GAN_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_NEAREST, NG_GAN_BILINEAR,
        NG_GAN_NEAREST, NG_GAN_BILINEAR, NG_GAN_NEAREST};
    return ng__gan_geno_from(ops);
}
ng_gan_genotype ng_gan_genotype_alphagan_s(void) {
    /* cell1: conv1x1, sep3x3, conv1x1 | bilinear, deconv; cell2: sep5x5, sep3x3, sep3x3 |
       deconv, deconv; cell3: sep5x5, sep3x3, sep3x3 | deconv, nearest;
       skip_2: nearest; skip_3: deconv (applied twice), bilinear */
    static const int ops[NG_GAN_EDGES] = {
        NG_GAN_CONV_1X1, NG_GAN_SEP_CONV_3X3, NG_GAN_CONV_1X1, NG_GAN_BILINEAR, NG_GAN_DECONV,
        NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_3X3, NG_GAN_DECONV, NG_GAN_DECONV,
        NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_3X3, NG_GAN_DECONV, NG_GAN_NEAREST,
        NG_GAN_NEAREST, NG_GAN_DECONV, NG_GAN_BILINEAR};
    return ng__gan_geno_from(ops);
}
ng_status ng_gan_genotype_builtin(const char *name, ng_gan_genotype *out) {
    if (name && strcmp(name, "alphaGAN_l") == 0) { *out = ng_gan_genotype_alphagan_l(); return NG_OK; }
    if (name && strcmp(name, "alphaGAN_s") == 0) { *out = ng_gan_genotype_alphagan_s(); return NG_OK; }
    return ng_fail(NG_ERR_ARG, "gan genotype: unknown built-in '%s' (expected alphaGAN_l or alphaGAN_s)", name ? name : "(null)");
}
void ng_gan_genotype_random(ng_gan_genotype *g, ng_rng *r) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++) g->op[e] = (int)ng_rng_below(r, (uint64_t)ng_gan_edge_n_ops(e));
}
int ng_gan_genotype_valid(const ng_gan_genotype *g) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++)
        if (g->op[e] < 0 || g->op[e] >= ng_gan_edge_n_ops(e)) return 0;
    return 1;
}
int ng_gan_genotype_eq(const ng_gan_genotype *a, const ng_gan_genotype *b) {
    return memcmp(a->op, b->op, sizeof a->op) == 0;
}

#define NG__GAN_FORMAT "nasgan.gan_genotype"

ng_status ng_gan_genotype_to_json(const ng_gan_genotype *g, char **out, size_t *n) {
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": 1,\n  \"cells\": [\n", NG__GAN_FORMAT);
    for (c = 0; c < NG_GAN_CELLS; c++)
        ng__sb_printf(&b, "    {\"normal\": [\"%s\", \"%s\", \"%s\"], \"up\": [\"%s\", \"%s\"]}%s\n",
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]],
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]],
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]],
                          ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]], ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]],
                          c + 1 < NG_GAN_CELLS ? "," : "");
    ng__sb_printf(&b, "  ],\n  \"skip_2\": [\"%s\"],\n  \"skip_3\": [\"%s\", \"%s\"]\n}\n",
                      ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]], ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]],
                      ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    return ng__sb_finish(&b, "gan genotype JSON", out, n);
}

ng_status ng_gan_genotype_save(const ng_gan_genotype *g, const char *path) {
    char *text;
    size_t n;
    ng_status s = ng_gan_genotype_to_json(g, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

/* ["op", ...] with exactly `count` op names for edges e0, e0 + 1, ... */
static ng_status ng__json_ops(ng__json *p, int count, int e0, int *ops, const char *what) {
    char str[NG__JSON_STR];
    size_t at;
    int i;
    ng_status s;
    if ((s = ng__json_char(p, '[', "'[' (an array of op names)")) != NG_OK) return s;
    for (i = 0; i < count; i++) {
        int k;
        if (i > 0) {
            if (ng__json_peek(p, ']')) return ng__json_err(p, p->pos, "%s has %d op names, expected %d", what, i, count);
            if ((s = ng__json_char(p, ',', "',' or ']'")) != NG_OK) return s;
        } else if (ng__json_peek(p, ']')) {
            return ng__json_err(p, p->pos, "%s is empty, expected %d op names", what, count);
        }
        if ((s = ng__json_string(p, str, &at, "an op name (string)")) != NG_OK) return s;
        k = ng_gan_op_index(e0 + i, str);
        if (k < 0) {
            char list[128];
            int j, nk = ng_gan_edge_n_ops(e0 + i);
            size_t used = 0;
            list[0] = 0;
            for (j = 0; j < nk && used < sizeof list; j++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", ng_gan_op_name(e0 + i, j));
                if (w < 0) break;
                used += (size_t)w;
            }
            return ng__json_err(p, at, "unknown %s op \"%s\" in %s (expected one of %s)",
                              ng_gan_edge_is_normal(e0 + i) ? "normal" : "up", str, what, list);
        }
        ops[i] = k;
    }
    if (ng__json_peek(p, ',')) return ng__json_err(p, p->pos, "%s has more than %d op names", what, count);
    return ng__json_char(p, ']', "']'");
}

static ng_status ng__json_cell(ng__json *p, int c, ng_gan_genotype *g) {
    char key[NG__JSON_STR], what[40];
    size_t at, open;
    int first = 1, r, have_normal = 0, have_up = 0;
    ng_status s = NG_OK;
    ng__json_ws(p);
    open = p->pos;
    if ((s = ng__json_char(p, '{', "'{' (a cell object)")) != NG_OK) return s;
    while ((r = ng__json_member(p, &first, key, &at, &s)) == 1) {
        if (strcmp(key, "normal") == 0) {
            if (have_normal++) return ng__json_err(p, at, "duplicate key \"normal\" in cell %d", c + 1);
            snprintf(what, sizeof what, "cell %d \"normal\"", c + 1);
            if ((s = ng__json_ops(p, 3, NG_GAN_EDGE_NORMAL(c, 0), &g->op[NG_GAN_EDGE_NORMAL(c, 0)], what)) != NG_OK) return s;
        } else if (strcmp(key, "up") == 0) {
            if (have_up++) return ng__json_err(p, at, "duplicate key \"up\" in cell %d", c + 1);
            snprintf(what, sizeof what, "cell %d \"up\"", c + 1);
            if ((s = ng__json_ops(p, 2, NG_GAN_EDGE_UP(c, 0), &g->op[NG_GAN_EDGE_UP(c, 0)], what)) != NG_OK) return s;
        } else {
            return ng__json_err(p, at, "unknown key \"%s\" in cell %d (expected \"normal\" and \"up\")", key, c + 1);
        }
    }
    if (r < 0) return s;
    if (!have_normal || !have_up)
        return ng__json_err(p, open, "cell %d lacks the key \"%s\"", c + 1, have_normal ? "up" : "normal");
    return NG_OK;
}

ng_status ng_gan_genotype_parse(const char *text, size_t n, const char *name, ng_gan_genotype *out) {
    static const char *const keys[5] = {"format", "version", "cells", "skip_2", "skip_3"};
    ng__json p;
    ng_gan_genotype g;
    char key[NG__JSON_STR], str[NG__JSON_STR];
    size_t at;
    int first = 1, r, seen[5] = {0, 0, 0, 0, 0}, k, c;
    ng_status s = NG_OK;
    p.s = (const unsigned char *)text;
    p.n = text ? n : 0;
    p.pos = 0;
    p.name = name ? name : "(memory)";
    p.kind = "genotype JSON";
    for (k = 0; k < NG_GAN_EDGES; k++) g.op[k] = -1;
    if ((s = ng__json_char(&p, '{', "'{' (a genotype object)")) != NG_OK) return s;
    while ((r = ng__json_member(&p, &first, key, &at, &s)) == 1) {
        for (k = 0; k < 5; k++)
            if (strcmp(key, keys[k]) == 0) break;
        if (k == 5)
            return ng__json_err(&p, at, "unknown key \"%s\" (expected format, version, cells, skip_2, skip_3)", key);
        if (seen[k]++) return ng__json_err(&p, at, "duplicate key \"%s\"", key);
        if (k == 0) {
            size_t vat;
            if ((s = ng__json_string(&p, str, &vat, "a string for \"format\"")) != NG_OK) return s;
            if (strcmp(str, NG__GAN_FORMAT) != 0)
                return ng__json_err(&p, vat, "\"format\" is \"%s\", expected \"" NG__GAN_FORMAT "\"", str);
        } else if (k == 1) {
            long v = 0;
            size_t vat;
            ng__json_ws(&p);
            vat = p.pos;
            if ((s = ng__json_int(&p, &v, "an integer for \"version\"")) != NG_OK) return s;
            if (v != 1) return ng__json_err(&p, vat, "unsupported version %ld (this reader knows version 1)", v);
        } else if (k == 2) {
            if ((s = ng__json_char(&p, '[', "'[' (the array of 3 cells)")) != NG_OK) return s;
            for (c = 0; c < NG_GAN_CELLS; c++) {
                if (c > 0) {
                    if (ng__json_peek(&p, ']')) return ng__json_err(&p, p.pos, "\"cells\" has %d cells, expected 3", c);
                    if ((s = ng__json_char(&p, ',', "',' or ']'")) != NG_OK) return s;
                } else if (ng__json_peek(&p, ']')) {
                    return ng__json_err(&p, p.pos, "\"cells\" is empty, expected 3 cells");
                }
                if ((s = ng__json_cell(&p, c, &g)) != NG_OK) return s;
            }
            if (ng__json_peek(&p, ',')) return ng__json_err(&p, p.pos, "\"cells\" has more than 3 cells");
            if ((s = ng__json_char(&p, ']', "']'")) != NG_OK) return s;
        } else if (k == 3) {
            if ((s = ng__json_ops(&p, 1, NG_GAN_EDGE_SKIP2, &g.op[NG_GAN_EDGE_SKIP2], "\"skip_2\"")) != NG_OK) return s;
        } else {
            if ((s = ng__json_ops(&p, 2, NG_GAN_EDGE_SKIP3(0), &g.op[NG_GAN_EDGE_SKIP3(0)], "\"skip_3\"")) != NG_OK) return s;
        }
    }
    if (r < 0) return s;
    for (k = 0; k < 5; k++)
        if (!seen[k]) return ng__json_err(&p, p.pos ? p.pos - 1 : 0, "missing key \"%s\"", keys[k]);
    ng__json_ws(&p);
    if (p.pos != p.n) return ng__json_expected(&p, p.pos, "end of input after the genotype object");
    if (!ng_gan_genotype_valid(&g)) return ng__json_err(&p, 0, "internal: incomplete genotype");
    *out = g;
    return NG_OK;
}

ng_status ng_gan_genotype_load(const char *path, ng_gan_genotype *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status s = ng_file_read_all(path, (size_t)1 << 20, &buf, &n);
    if (s != NG_OK) return s;
    s = ng_gan_genotype_parse((const char *)buf, n, path, out);
    free(buf);
    return s;
}

/* ---- Graphviz DOT ---- */
static void ng__gan_dot_quote(ng__sb *b, const char *s) {
    ng__sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') ng__sb_printf(b, "\\%c", *s);
        else if (*s == '\n') ng__sb_printf(b, "\\n");
        else if ((unsigned char)*s >= 0x20) ng__sb_printf(b, "%c", *s);
    }
    ng__sb_printf(b, "\"");
}

ng_status ng_gan_genotype_to_dot(const ng_gan_genotype *g, const char *title, char **out, size_t *n) {
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__sb_printf(&b, "digraph alphagan_generator {\n  label=");
    ng__gan_dot_quote(&b, title ? title : "alphaGAN generator");
    ng__sb_printf(&b, ";\n  labelloc=t;\n  rankdir=LR;\n  node [shape=box, style=rounded];\n"
                          "  z [label=\"z\", shape=plaintext];\n  l1 [label=\"linear + reshape\"];\n"
                          "  to_rgb [label=\"to_rgb\\n(BN, ReLU, conv3x3, tanh)\"];\n  z -> l1;\n");
    for (c = 0; c < NG_GAN_CELLS; c++) {
        int k;
        ng__sb_printf(&b, "  subgraph cluster_cell%d {\n    label=\"cell %d\";\n", c + 1, c + 1);
        for (k = 0; k < 5; k++) ng__sb_printf(&b, "    c%d_n%d [label=\"node %d\"];\n", c + 1, k, k);
        ng__sb_printf(&b, "    c%d_n0 -> c%d_n1 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]]);
        ng__sb_printf(&b, "    c%d_n0 -> c%d_n3 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]]);
        ng__sb_printf(&b, "    c%d_n1 -> c%d_n2 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]]);
        ng__sb_printf(&b, "    c%d_n2 -> c%d_n4 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]]);
        ng__sb_printf(&b, "    c%d_n3 -> c%d_n4 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]]);
        ng__sb_printf(&b, "  }\n");
    }
    ng__sb_printf(&b, "  l1 -> c1_n0;\n  c1_n4 -> c2_n0;\n  c2_n4 -> c3_n0;\n  c3_n4 -> to_rgb;\n");
    ng__sb_printf(&b, "  c1_n1 -> c2_n4 [label=\"%s x2 (skip_2)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]]);
    ng__sb_printf(&b, "  c1_n1 -> c3_n4 [label=\"%s x4 (skip_3.0)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]]);
    ng__sb_printf(&b, "  c2_n1 -> c3_n4 [label=\"%s x2 (skip_3.1)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    ng__sb_printf(&b, "}\n");
    return ng__sb_finish(&b, "gan genotype DOT", out, n);
}

/* a picture of g written atomically by one of the writers below */
typedef ng_status (*ng__gan_picture_fn)(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
static ng_status ng__gan_save_picture(ng__gan_picture_fn draw, const ng_gan_genotype *g, const char *title, const char *path) {
    char *text;
    size_t n;
    ng_status s = draw(g, title, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

ng_status ng_gan_genotype_save_dot(const ng_gan_genotype *g, const char *title, const char *path) {
    return ng__gan_save_picture(ng_gan_genotype_to_dot, g, title, path);
}

/* The generator drawn left to right with a fixed layout (the topology never changes, only
   the ops on the edges): z, the linear stem, three cells of nodes 0-4 (up edges in blue,
   normal edges in black), to_rgb, and the three cross-cell skips as dashed arcs on top. */
#define NG__GAN_SVG_CELL_X(c) (250.0 + 430.0 * (c))
static void ng__gan_svg_cell(ng__sb *b, const ng_gan_genotype *g, int c) {
    static const double col[5] = {0, 110, 230, 110, 340}, row[5] = {190, 150, 150, 230, 190};
    static const char *const up = "#1f5fa8", *const normal = "#333333";
    const double X = NG__GAN_SVG_CELL_X(c), hw = 17;
    char label[16];
    int k;
    ng__svg_edge(b, X + col[0] + hw, row[0], X + col[1] - hw, row[1], 0, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]], 0, up);
    ng__svg_edge(b, X + col[0] + hw, row[0], X + col[3] - hw, row[3], 0, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]], 0, up);
    ng__svg_edge(b, X + col[1] + hw, row[1], X + col[2] - hw, row[2], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]], 0, normal);
    ng__svg_edge(b, X + col[2] + hw, row[2], X + col[4] - hw, row[4], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]], 0, normal);
    ng__svg_edge(b, X + col[3] + hw, row[3], X + col[4] - hw, row[4], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]], 0, normal);
    for (k = 0; k < 5; k++) {
        snprintf(label, sizeof label, "%d", k);
        ng__svg_node(b, X + col[k], row[k], 2 * hw, 24, label, "#dde8f5");
    }
    if (c + 1 < NG_GAN_CELLS) ng__svg_edge(b, X + col[4] + hw, row[4], NG__GAN_SVG_CELL_X(c + 1) - hw, 190, 0, NULL, 0, normal);
}

ng_status ng_gan_genotype_to_svg(const ng_gan_genotype *g, const char *title, char **out, size_t *n) {
    const double n1 = 110, n4 = 340, top = 150 - 12, mid = 190 - 12;   /* node 1 and 4 columns, box tops */
    char label[64];
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__svg_begin(&b, 1640, 290, title ? title : "alphaGAN generator");
    ng__svg_node(&b, 40, 190, 40, 26, "z", "#eeeeee");
    ng__svg_node(&b, 140, 190, 120, 26, "linear + reshape", "#eeeeee");
    for (c = 0; c < NG_GAN_CELLS; c++)   /* the frames first: edges into the cells cross them */
        ng__sb_printf(&b, "<rect x=\"%.1f\" y=\"118\" width=\"400\" height=\"138\" rx=\"10\" fill=\"#f4f7fb\" "
                          "stroke=\"#c8d3e0\"/><text x=\"%.1f\" y=\"134\" fill=\"#555\">cell %d</text>\n",
                      NG__GAN_SVG_CELL_X(c) - 30, NG__GAN_SVG_CELL_X(c) - 22, c + 1);
    ng__svg_edge(&b, 60, 190, 80, 190, 0, NULL, 0, "#333");
    ng__svg_edge(&b, 200, 190, NG__GAN_SVG_CELL_X(0) - 17, 190, 0, NULL, 0, "#333");
    for (c = 0; c < NG_GAN_CELLS; c++) ng__gan_svg_cell(&b, g, c);
    ng__svg_node(&b, 1560, 190, 100, 26, "to_rgb", "#eeeeee");
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(2) + n4 + 17, 190, 1510, 190, 0, NULL, 0, "#333");
    snprintf(label, sizeof label, "%s x2 (skip_2)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(0) + n1, top, NG__GAN_SVG_CELL_X(1) + n4, mid, 150, label, 1, "#777");
    snprintf(label, sizeof label, "%s x4 (skip_3.0)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(0) + n1, top, NG__GAN_SVG_CELL_X(2) + n4, mid, 230, label, 1, "#777");
    snprintf(label, sizeof label, "%s x2 (skip_3.1)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(1) + n1, top, NG__GAN_SVG_CELL_X(2) + n4, mid, 150, label, 1, "#777");
    ng__svg_end(&b);
    return ng__sb_finish(&b, "gan genotype SVG", out, n);
}
#undef NG__GAN_SVG_CELL_X

ng_status ng_gan_genotype_save_svg(const ng_gan_genotype *g, const char *title, const char *path) {
    return ng__gan_save_picture(ng_gan_genotype_to_svg, g, title, path);
}

/* ---- the reference code's Genotype_gen (models/genotypes.py), e.g.
   alphaGAN_l = Genotype_gen(normal={'1': [('conv_5x5', 0), ...], ...}, up={'1': [('deconv', 0),
   ('bilinear', 1)], ...}, skip_2=[('nearest', 0)], skip_3=[('bilinear', 0), ('nearest', 1)])
   normal lists the edges n1->2, n2->4, n3->4 and up the edges 0->1, 0->3 of each cell. ---- */
ng_status ng_gan_genotype_to_python(const ng_gan_genotype *g, const char *var, char **out, size_t *n) {
    ng__sb b;
    int c, k;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    if (var && var[0]) ng__sb_printf(&b, "%s = ", var);
    ng__sb_printf(&b, "Genotype_gen(normal={");
    for (c = 0; c < NG_GAN_CELLS; c++) {
        ng__sb_printf(&b, "%s'%d': [", c ? ", " : "", c + 1);
        for (k = 0; k < 3; k++) ng__sb_printf(&b, "%s('%s', %d)", k ? ", " : "", ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, k)]], k);
        ng__sb_printf(&b, "]");
    }
    ng__sb_printf(&b, "}, up={");
    for (c = 0; c < NG_GAN_CELLS; c++)
        ng__sb_printf(&b, "%s'%d': [('%s', 0), ('%s', 1)]", c ? ", " : "", c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]],
                      ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]]);
    ng__sb_printf(&b, "}, skip_2=[('%s', 0)], skip_3=[('%s', 0), ('%s', 1)])", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]],
                  ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]], ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    return ng__sb_finish(&b, "gan genotype (Python)", out, n);
}

/* A cursor over Python literal text: identifiers, 'strings', integers and punctuation. */
typedef struct ng__py { const char *p, *end, *name; } ng__py;
static int ng__py_ident_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }
static void ng__py_space(ng__py *t) {
    while (t->p < t->end) {
        if (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r' || *t->p == '\\') t->p++;
        else if (*t->p == '#') while (t->p < t->end && *t->p != '\n') t->p++;
        else break;
    }
}
static int ng__py_punct(ng__py *t, char c) {
    ng__py_space(t);
    if (t->p < t->end && *t->p == c) { t->p++; return 1; }
    return 0;
}
static int ng__py_word(ng__py *t, char *out, size_t cap) {   /* an identifier */
    size_t l = 0;
    ng__py_space(t);
    while (t->p < t->end && ng__py_ident_char(*t->p)) {
        if (l + 1 >= cap) return 0;
        out[l++] = *t->p++;
    }
    out[l] = '\0';
    return l > 0;
}
static int ng__py_string(ng__py *t, char *out, size_t cap) {
    char q;
    size_t l = 0;
    ng__py_space(t);
    if (t->p >= t->end || (*t->p != '\'' && *t->p != '"')) return 0;
    q = *t->p++;
    while (t->p < t->end && *t->p != q && *t->p != '\n') {
        if (l + 1 >= cap) return 0;
        out[l++] = *t->p++;
    }
    if (t->p >= t->end || *t->p != q) return 0;
    t->p++;
    out[l] = '\0';
    return 1;
}
static int ng__py_int(ng__py *t, int *v) {
    int digits = 0;
    ng__py_space(t);
    *v = 0;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9' && digits < 6) { *v = *v * 10 + (*t->p++ - '0'); digits++; }
    return digits > 0 && !(t->p < t->end && *t->p >= '0' && *t->p <= '9');
}
static ng_status ng__py_bad(const ng__py *t, const char *start, const char *what) {
    return ng_fail(NG_ERR_FORMAT, "%s: Genotype_gen: %s at offset %ld", t->name, what, (long)(t->p - start));
}
/* [('op', 0), ('op', 1), ...]: exactly `count` pairs with indices 0, 1, ... in order, each op
   one of `names` (n_names); their indices into ops */
static int ng__py_pairs(ng__py *t, const char *const *names, int n_names, int count, int *ops) {
    int i, k, idx;
    char op[32];
    if (!ng__py_punct(t, '[')) return 0;
    for (i = 0; i < count; i++) {
        if ((i && !ng__py_punct(t, ',')) || !ng__py_punct(t, '(') || !ng__py_string(t, op, sizeof op) || !ng__py_punct(t, ',') ||
            !ng__py_int(t, &idx) || idx != i || !ng__py_punct(t, ')'))
            return 0;
        for (k = 0; k < n_names && strcmp(op, names[k]); k++) {}
        if (k == n_names) return 0;
        ops[i] = k;
    }
    ng__py_punct(t, ',');
    return ng__py_punct(t, ']');
}
/* {'1': [...], '2': [...], '3': [...]}: 3 (normal) or 2 (up) pairs per cell, each cell once */
static int ng__py_cells(ng__py *t, ng_gan_genotype *g, int normal) {
    int seen = 0, c, k, ops[3];
    char key[8];
    if (!ng__py_punct(t, '{')) return 0;
    while (!ng__py_punct(t, '}')) {
        if (!ng__py_string(t, key, sizeof key) || strlen(key) != 1 || key[0] < '1' || key[0] > '3' || (seen >> (key[0] - '1')) & 1 ||
            !ng__py_punct(t, ':'))
            return 0;
        c = key[0] - '1';
        if (normal ? !ng__py_pairs(t, ng__gan_normal_names, NG_GAN_N_NORMAL_OPS, 3, ops) : !ng__py_pairs(t, ng__gan_up_names, NG_GAN_N_UP_OPS, 2, ops))
            return 0;
        for (k = 0; k < (normal ? 3 : 2); k++) g->op[normal ? NG_GAN_EDGE_NORMAL(c, k) : NG_GAN_EDGE_UP(c, k)] = ops[k];
        seen |= 1 << c;
        if (!ng__py_punct(t, ',')) return ng__py_punct(t, '}') && seen == 7;
    }
    return seen == 7;
}

ng_status ng_gan_genotype_parse_python(const char *text, size_t n, const char *name, const char *var, ng_gan_genotype *out) {
    ng__py t;
    ng_gan_genotype g;
    const char *at = NULL, *p;
    char word[64];
    int fields = 0, ops[2];
    if (!name) name = "(memory)";
    t.name = name;
    /* the Genotype_gen( call: the one assigned to `var`, or the only one */
    for (p = text; p + 13 <= text + n; p++) {
        const char *q;
        if (memcmp(p, "Genotype_gen(", 13) || (p > text && ng__py_ident_char(p[-1]))) continue;
        if (var && var[0]) {   /* "var = " right before it, at a line start */
            size_t vl = strlen(var);
            for (q = p; q > text && (q[-1] == ' ' || q[-1] == '\t'); q--) {}
            if (q == text || q[-1] != '=') continue;
            for (q--; q > text && (q[-1] == ' ' || q[-1] == '\t'); q--) {}
            if ((size_t)(q - text) < vl || memcmp(q - vl, var, vl) || (q - vl > text && *(q - vl - 1) != '\n')) continue;
        } else if (at) {
            return ng_fail(NG_ERR_FORMAT, "%s holds more than one Genotype_gen: name one (FILE.py:NAME)", name);
        }
        at = p;
        if (var && var[0]) break;
    }
    if (!at) return var && var[0] ? ng_fail(NG_ERR_FORMAT, "%s has no '%s = Genotype_gen(...)'", name, var)
                                  : ng_fail(NG_ERR_FORMAT, "%s has no Genotype_gen(...)", name);
    memset(&g, 0, sizeof g);
    t.p = at + 13;
    t.end = text + n;
    while (!ng__py_punct(&t, ')')) {
        int bit;
        if (!ng__py_word(&t, word, sizeof word) || !ng__py_punct(&t, '=')) return ng__py_bad(&t, text, "expected a field name and '='");
        bit = !strcmp(word, "normal") ? 1 : !strcmp(word, "up") ? 2 : !strcmp(word, "skip_2") ? 4 : !strcmp(word, "skip_3") ? 8 : 0;
        if (bit & fields) return ng__py_bad(&t, text, "repeated field");
        if (bit == 1 || bit == 2) {
            if (!ng__py_cells(&t, &g, bit == 1)) return ng__py_bad(&t, text, bit == 1 ? "bad 'normal' (3 cells of 3 (op, index) pairs)" : "bad 'up' (3 cells of 2 (op, index) pairs)");
        } else if (bit == 4) {
            if (!ng__py_pairs(&t, ng__gan_up_names, NG_GAN_N_UP_OPS, 1, ops)) return ng__py_bad(&t, text, "bad 'skip_2' (one (op, 0) pair)");
            g.op[NG_GAN_EDGE_SKIP2] = ops[0];
        } else if (bit == 8) {
            if (!ng__py_pairs(&t, ng__gan_up_names, NG_GAN_N_UP_OPS, 2, ops)) return ng__py_bad(&t, text, "bad 'skip_3' (two (op, index) pairs)");
            g.op[NG_GAN_EDGE_SKIP3(0)] = ops[0];
            g.op[NG_GAN_EDGE_SKIP3(1)] = ops[1];
        } else {   /* the logged form's *_concat=range(a, b): ignored */
            int lo, hi;
            size_t wl = strlen(word);
            if (wl < 7 || strcmp(word + wl - 7, "_concat") || !ng__py_word(&t, word, sizeof word) || strcmp(word, "range") ||
                !ng__py_punct(&t, '(') || !ng__py_int(&t, &lo) || !ng__py_punct(&t, ',') || !ng__py_int(&t, &hi) || !ng__py_punct(&t, ')'))
                return ng__py_bad(&t, text, "unknown field");
        }
        fields |= bit ? bit : 16;
        if (!ng__py_punct(&t, ',')) {
            if (!ng__py_punct(&t, ')')) return ng__py_bad(&t, text, "expected ',' or ')'");
            break;
        }
    }
    if ((fields & 15) != 15) return ng_fail(NG_ERR_FORMAT, "%s: Genotype_gen lacks %s", name, !(fields & 1) ? "normal" : !(fields & 2) ? "up" : !(fields & 4) ? "skip_2" : "skip_3");
    *out = g;
    return NG_OK;
}

/* ---- parameter declaration and initialisation helpers ---- */
typedef struct ng__gan_decl { ng_params *w, *b; int ok; } ng__gan_decl;
static ng_tensor *ng__gan_add(ng__gan_decl *d, int buffer, ng_shape shape, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static ng_tensor *ng__gan_add(ng__gan_decl *d, int buffer, ng_shape shape, const char *fmt, ...) {
    char name[192];
    va_list ap;
    ng_tensor *t;
    if (!d->ok) return NULL;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    t = ng_params_add(buffer ? d->b : d->w, name, shape);
    if (!t) d->ok = 0;
    return t;
}
/* weight `ws` and, when bias_n > 0, a bias of bias_n elements */
static void ng__gan_conv_decl(ng__gan_decl *d, ng_gan_conv *cv, ng_shape ws, int64_t bias_n, const char *pre) {
    cv->w = ng__gan_add(d, 0, ws, "%s.weight", pre);
    cv->b = bias_n > 0 ? ng__gan_add(d, 0, ng_shape1(bias_n), "%s.bias", pre) : NULL;
}
static void ng__gan_sep_decl(ng__gan_decl *d, ng_gan_sepconv *s, int64_t C, int k, int affine, const char *pre) {
    int st;
    memset(s, 0, sizeof *s);
    s->k = k;
    for (st = 1; st <= 2; st++) {
        ng_tensor **dw = st == 1 ? &s->dw1 : &s->dw2, **pw = st == 1 ? &s->pw1 : &s->pw2;
        ng_tensor **bw = st == 1 ? &s->bn1_w : &s->bn2_w, **bb = st == 1 ? &s->bn1_b : &s->bn2_b;
        ng_tensor **bm = st == 1 ? &s->bn1_mean : &s->bn2_mean, **bv = st == 1 ? &s->bn1_var : &s->bn2_var;
        *dw = ng__gan_add(d, 0, ng_shape4(C, 1, k, k), "%s.dw%d.weight", pre, st);
        *pw = ng__gan_add(d, 0, ng_shape4(C, C, 1, 1), "%s.pw%d.weight", pre, st);
        if (affine) {
            *bw = ng__gan_add(d, 0, ng_shape1(C), "%s.bn%d.weight", pre, st);
            *bb = ng__gan_add(d, 0, ng_shape1(C), "%s.bn%d.bias", pre, st);
        }
        *bm = ng__gan_add(d, 1, ng_shape1(C), "%s.bn%d.running_mean", pre, st);
        *bv = ng__gan_add(d, 1, ng_shape1(C), "%s.bn%d.running_var", pre, st);
    }
}
/* conv2d = 1 for Conv2d modules (xavier in retraining), 0 for ConvTranspose2d and Linear */
static void ng__gan_conv_init(const ng_gan_conv *cv, int conv2d, ng_gan_init init, ng_rng *r) {
    if (conv2d && init == NG_GAN_INIT_XAVIER) ng_init_xavier_uniform(cv->w, 1.0f, r);
    else ng_init_kaiming_uniform_default(cv->w, r);
    if (cv->b) ng_init_bias_default(cv->b, cv->w, r);
}
static void ng__gan_bn_init(ng_tensor *w, ng_tensor *b, ng_tensor *var, ng_gan_init init, ng_rng *r) {
    if (w) {
        if (init == NG_GAN_INIT_XAVIER) ng_init_normal(w, 1.0f, 0.02f, r);
        else ng_init_constant(w, 1.0f);
    }
    if (b) ng_init_constant(b, 0.0f);
    ng_init_constant(var, 1.0f);   /* running_mean stays 0 */
}
static void ng__gan_sep_init(const ng_gan_sepconv *s, ng_gan_init init, ng_rng *r) {
    ng_gan_conv cv;
    cv.b = NULL;
    cv.w = s->dw1; ng__gan_conv_init(&cv, 1, init, r);
    cv.w = s->pw1; ng__gan_conv_init(&cv, 1, init, r);
    ng__gan_bn_init(s->bn1_w, s->bn1_b, s->bn1_var, init, r);
    cv.w = s->dw2; ng__gan_conv_init(&cv, 1, init, r);
    cv.w = s->pw2; ng__gan_conv_init(&cv, 1, init, r);
    ng__gan_bn_init(s->bn2_w, s->bn2_b, s->bn2_var, init, r);
}
/* Parameter declaration order: as PyTorch's modules (per cell: skip-ins, up edges, normal edges). */
static const int ng__gan_decl_order[NG_GAN_EDGES] = {3, 4, 0, 1, 2, 15, 8, 9, 5, 6, 7, 16, 17, 13, 14, 10, 11, 12};
/* alpha rows: (tensor 0 normal / 1 up / 2 skip, row) of edge e */
static void ng__gan_alpha_row(int e, int *which, int *row) {
    if (ng_gan_edge_is_normal(e)) { *which = 0; *row = 3 * (e / 5) + e % 5; }
    else if (e < 15) { *which = 1; *row = 2 * (e / 5) + e % 5 - 3; }
    else { *which = 2; *row = e - 15; }
}
static int ng__gan_cell_of(int e) { return e < 15 ? e / 5 : (e == NG_GAN_EDGE_SKIP2 ? 1 : 2); }

/* ---- arena reuse where nothing is recorded ----
   When no node was kept on the tape since the mark (ctx->arena.used and ctx->n_nodes taken
   before a piece of the forward), no gradient flows through that piece (the D step's fakes, the
   gap's worst-case G), so every arena allocation it made is dead except its result y: y moves
   down to the mark and the rest is given back. A forward without tape then needs the arena of
   one candidate op instead of the whole supernet's. Values are untouched (a copy). */
typedef struct ng__gan_mark { size_t used; int nodes; } ng__gan_mark;
static ng__gan_mark ng__gan_mark_now(const ng_ctx *ctx) {
    ng__gan_mark m;
    m.used = ctx->arena.used;
    m.nodes = ctx->n_nodes;
    return m;
}
static ng_tensor *ng__gan_compact(ng_ctx *ctx, ng__gan_mark m, ng_tensor *y) {
    unsigned char *lo = ctx->arena.base + m.used, *hi = ctx->arena.base + ctx->arena.used;
    ng_tensor keep, *t;
    if (!y || ctx->status != NG_OK || ctx->n_nodes != m.nodes || y->requires_grad || y->owner || y->grad) return y;
    /* y (header, then data) must lie wholly above the mark: the copy then never overlaps its
       own new header, and memmove handles the overlap of the data */
    if ((unsigned char *)y < lo || (unsigned char *)y->data < (unsigned char *)(y + 1) ||
        (unsigned char *)(y->data + y->numel) > hi)
        return y;
    keep = *y;
    ctx->arena.used = m.used;
    t = ng_tensor_new(ctx, keep.shape);
    if (!t) return NULL; /* cannot happen: the space was just given back */
    memmove(t->data, keep.data, (size_t)keep.numel * sizeof(float));
    t->device = keep.device;
    t->name = keep.name;
    return t;
}

/* ---- forward building blocks ---- */
static ng_tensor *ng__gan_conv(ng_ctx *ctx, const ng_gan_conv *cv, ng_tensor *x) {
    return ng_conv2d(ctx, x, cv->w, cv->b, 1, (int)(cv->w->shape.d[2] / 2), 1);
}
/* the separable conv after its leading ReLU: r = relu(x) */
static ng_tensor *ng__gan_sep(ng_ctx *ctx, const ng_gan_sepconv *s, ng_tensor *r) {
    int C = (int)s->dw1->shape.d[0], p = s->k / 2;
    ng_tensor *h = ng_conv2d(ctx, r, s->dw1, NULL, 1, p, C);
    h = ng_conv2d(ctx, h, s->pw1, NULL, 1, 0, 1);
    h = ng_batch_norm(ctx, h, s->bn1_w, s->bn1_b, s->bn1_mean, s->bn1_var, 0.1f, 1e-5f);
    h = ng_relu(ctx, h);
    h = ng_conv2d(ctx, h, s->dw2, NULL, 1, p, C);
    h = ng_conv2d(ctx, h, s->pw2, NULL, 1, 0, 1);
    return ng_batch_norm(ctx, h, s->bn2_w, s->bn2_b, s->bn2_mean, s->bn2_var, 0.1f, 1e-5f);
}

ng_tensor *ng_gan_normal_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *conv, const ng_gan_sepconv *sep, ng_tensor *x) {
    ng_tensor *r;
    NG_ASSERT(k >= 0 && k < NG_GAN_N_NORMAL_OPS);
    r = ng_relu(ctx, x);
    return k < 3 ? ng__gan_conv(ctx, conv, r) : ng__gan_sep(ctx, sep, r);
}

ng_tensor *ng_gan_up_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *deconv, ng_tensor *x, int times) {
    int t;
    NG_ASSERT(k >= 0 && k < NG_GAN_N_UP_OPS && times >= 1);
    for (t = 0; t < times; t++) {
        if (k == NG_GAN_DECONV) x = ng_conv_transpose2d(ctx, x, deconv->w, deconv->b, 2, 0, 0, 1);
        else if (k == NG_GAN_NEAREST) x = ng_upsample_nearest2x(ctx, x);
        else x = ng_upsample_bilinear2x(ctx, x);
    }
    return x;
}

ng_tensor *ng_gan_mixed_up_forward(ng_ctx *ctx, const ng_gan_conv *deconv, ng_tensor *alpha, int row, ng_tensor *x, int times) {
    ng_tensor *xs[NG_GAN_N_UP_OPS];
    int k;
    for (k = 0; k < NG_GAN_N_UP_OPS; k++) xs[k] = ng_gan_up_op_forward(ctx, k, deconv, x, times);
    return ng_mixed(ctx, alpha, row, xs, NG_GAN_N_UP_OPS);
}

ng_tensor *ng_gan_mixed_normal_forward(ng_ctx *ctx, const ng_gan_mixed_normal *e, ng_tensor *alpha, int row,
                                       ng_tensor *x, int fuse) {
    ng_tensor *xs[NG_GAN_N_NORMAL_OPS + 1], *r = ng_relu(ctx, x);
    int k;
    if (!fuse) {
        for (k = 0; k < 3; k++) xs[k] = ng__gan_conv(ctx, &e->conv[k], r);
        for (k = 0; k < 3; k++) {
            ng__gan_mark m = ng__gan_mark_now(ctx);
            xs[3 + k] = ng__gan_compact(ctx, m, ng__gan_sep(ctx, &e->sep[k], r));
        }
        return ng_mixed(ctx, alpha, row, xs, NG_GAN_N_NORMAL_OPS);
    } else {
        /* sum_k w_k (K_k * r + b_k) = (sum_k w_k pad5(K_k)) * r + sum_k w_k b_k for k = 1x1, 3x3,
           5x5: one 5x5 convolution; then y = that + sum_k w_k sep_k(r) in one pass */
        static const int conv_cols[3] = {0, 1, 2}, sep_cols[4] = {-1, 3, 4, 5};
        ng_tensor *kw[3], *kb[3], *wc, *bc;
        int64_t C = e->conv[2].w->shape.d[0], Ci = e->conv[2].w->shape.d[1];
        for (k = 0; k < 3; k++) { kw[k] = e->conv[k].w; kb[k] = e->conv[k].b; }
        wc = ng_mixed_cols(ctx, alpha, row, kw, conv_cols, 3, ng_shape4(C, Ci, 5, 5));
        bc = ng_mixed_cols(ctx, alpha, row, kb, conv_cols, 3, ng_shape1(C));
        xs[0] = ng_conv2d(ctx, r, wc, bc, 1, 2, 1);
        for (k = 0; k < 3; k++) {
            ng__gan_mark m = ng__gan_mark_now(ctx);
            xs[1 + k] = ng__gan_compact(ctx, m, ng__gan_sep(ctx, &e->sep[k], r));
        }
        return xs[0] ? ng_mixed_cols(ctx, alpha, row, xs, sep_cols, 4, xs[0]->shape) : NULL;
    }
}

/* ---- the shared generator topology ---- */
/* Evaluate edge e on x (up/skip edges: `times` applications). */
typedef ng_tensor *(*ng__gan_edge_fn)(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times);

/* edge e on x, its arena compacted when nothing was recorded (ng__gan_compact) */
static ng_tensor *ng__gan_edge(ng_ctx *ctx, ng__gan_edge_fn f, const void *net, ng_tensor *const *alpha, int e,
                               ng_tensor *x, int times) {
    ng__gan_mark m = ng__gan_mark_now(ctx);
    return ng__gan_compact(ctx, m, f(ctx, net, alpha, e, x, times));
}

static ng_tensor *ng__gan_cell(ng_ctx *ctx, ng__gan_edge_fn f, const void *net, ng_tensor *const *alpha, int c,
                               ng_tensor *x, ng_tensor *const *skip_in, ng_tensor **node1) {
    ng_tensor *skip = NULL, *n1, *n2, *n3, *right, *left, *n4;
    NG_ASSERT(c >= 0 && c < NG_GAN_CELLS && (c == 0 || skip_in));
    if (c == 1) skip = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP2, skip_in[0], 1);
    if (c == 2) { /* skip_3[1] first: the order GCC gave the two calls as arguments of one ng_add */
        ng_tensor *s1 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP3(1), skip_in[1], 1);
        skip = ng_add(ctx, ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP3(0), skip_in[0], 2), s1);
    }
    n1 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_UP(c, 0), x, 1);
    n3 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_UP(c, 1), x, 1);
    n2 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 0), n1, 1);
    right = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 1), n2, 1);
    left = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 2), n3, 1);
    n4 = ng_add(ctx, left, right);
    if (c > 0) n4 = ng_add(ctx, n4, skip);
    if (node1) *node1 = n1;
    return n4;
}

/* z -> l1 -> cells -> to_rgb */
static ng_tensor *ng__gan_generate(ng_ctx *ctx, const ng_gan_config *cfg, ng__gan_edge_fn f, const void *net,
                                   ng_tensor *const *alpha, const ng_gan_conv *l1, ng_tensor *const *rgb_bn,
                                   const ng_gan_conv *to_rgb, ng_tensor *z) {
    ng_tensor *h, *s[2];
    ng__gan_mark m = ng__gan_mark_now(ctx);
    int64_t N;
    if (!z) return ng_linear(ctx, z, l1->w, l1->b);   /* propagates the failure */
    NG_ASSERT(z->shape.ndim == 2 && z->shape.d[1] == cfg->latent_dim);
    N = z->shape.d[0];
    h = ng_linear(ctx, z, l1->w, l1->b);
    h = ng_reshape(ctx, h, ng_shape4(N, cfg->gf_dim, cfg->bottom_width, cfg->bottom_width));
    h = ng__gan_cell(ctx, f, net, alpha, 0, h, NULL, &s[0]);
    h = ng__gan_cell(ctx, f, net, alpha, 1, h, s, &s[1]);
    h = ng__gan_cell(ctx, f, net, alpha, 2, h, s, NULL);
    h = ng_batch_norm(ctx, h, rgb_bn[0], rgb_bn[1], rgb_bn[2], rgb_bn[3], 0.1f, 1e-5f);
    h = ng_relu(ctx, h);
    h = ng_conv2d(ctx, h, to_rgb->w, to_rgb->b, 1, 1, 1);
    return ng__gan_compact(ctx, m, ng_tanh(ctx, h));
}

/* ---- the search supernet ---- */
static ng_tensor *ng__gan_search_edge(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times) {
    const ng_gan_gen_search *G = (const ng_gan_gen_search *)net;
    int which, row, c = ng__gan_cell_of(e);
    ng__gan_alpha_row(e, &which, &row);
    if (ng_gan_edge_is_normal(e)) return ng_gan_mixed_normal_forward(ctx, &G->normal[c][e % 5], alpha[0], row, x, G->fuse);
    if (e < 15) return ng_gan_mixed_up_forward(ctx, &G->up[c][e % 5 - 3], alpha[1], row, x, times);
    return ng_gan_mixed_up_forward(ctx, &G->skip[e - 15], alpha[2], row, x, times);
}

/* The alpha tensors an edge's softmax reads: G's own, or with Gumbel noise (alpha + g) / t
   (one draw per element per forward, from ctx->rng). */
static void ng__gan_alpha_view(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor **view) {
    ng_tensor *src[3];
    int i;
    src[0] = G->alpha_normal; src[1] = G->alpha_up; src[2] = G->alpha_skip;
    for (i = 0; i < 3; i++) {
        ng_tensor *g;
        float *h;
        int64_t j;
        view[i] = src[i];
        if (!G->cfg.gumbel) continue;
        g = ng_tensor_new(ctx, src[i]->shape);
        h = ng_tensor_host_write(ctx, g);   /* drawn on the host: the same noise on every device */
        if (h) {
            for (j = 0; j < g->numel; j++) {
                float u = (float)ng_rng_uniform(&ctx->rng);
                h[j] = -logf(-logf(u + 1e-20f));
            }
            if (ng_tensor_host_done(g, h) != NG_OK) g = NULL;
        }
        view[i] = ng_scale(ctx, ng_add(ctx, src[i], g), 1.0f / G->cfg.gumbel_temp);
    }
}

static ng_gan_gen_search *ng__gan_search_new(const ng_gan_config *cfg, const char *name, ng_rng *r) {
    ng_gan_gen_search *G;
    ng__gan_decl d;
    char gname[64], pre[96];
    int64_t C, bw;
    int i, k;
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    G = (ng_gan_gen_search *)calloc(1, sizeof *G);
    if (!G) { ng_fail(NG_ERR_NOMEM, "gan supernet: out of memory"); return NULL; }
    G->cfg = *cfg;
    G->fuse = 1;
    C = cfg->gf_dim;
    bw = cfg->bottom_width;
    if (!name) name = "G";
    snprintf(gname, sizeof gname, "%s", name);
    G->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    G->buffers = ng_params_create(gname, 0);
    snprintf(gname, sizeof gname, "%s.alpha", name);
    G->alpha = ng_params_create(gname, 1);
    d.w = G->weights; d.b = G->buffers; d.ok = G->weights && G->buffers && G->alpha;
    if (d.ok) {
        G->alpha_normal = ng_params_add(G->alpha, "alpha.normal", ng_shape2(9, NG_GAN_N_NORMAL_OPS));
        G->alpha_up = ng_params_add(G->alpha, "alpha.up", ng_shape2(6, NG_GAN_N_UP_OPS));
        G->alpha_skip = ng_params_add(G->alpha, "alpha.skip", ng_shape2(3, NG_GAN_N_UP_OPS));
        d.ok = G->alpha_skip != NULL;
    }
    ng__gan_conv_decl(&d, &G->l1, ng_shape2(bw * bw * C, cfg->latent_dim), bw * bw * C, "l1");
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i], c = ng__gan_cell_of(e);
        if (ng_gan_edge_is_normal(e)) {
            ng_gan_mixed_normal *m = &G->normal[c][e % 5];
            for (k = 0; k < 3; k++) {
                int ks = ng__gan_ksize(k);
                snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e], ng__gan_normal_names[k]);
                ng__gan_conv_decl(&d, &m->conv[k], ng_shape4(C, C, ks, ks), C, pre);
            }
            for (k = 3; k < 6; k++) {
                snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e], ng__gan_normal_names[k]);
                ng__gan_sep_decl(&d, &m->sep[k - 3], C, ng__gan_ksize(k), 0, pre);
            }
        } else {
            snprintf(pre, sizeof pre, "%s.deconv", ng__gan_edge_names[e]);
            ng__gan_conv_decl(&d, e < 15 ? &G->up[c][e % 5 - 3] : &G->skip[e - 15], ng_shape4(C, C, 2, 2), C, pre);
        }
    }
    G->rgb_bn_w = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.weight");
    G->rgb_bn_b = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.bias");
    G->rgb_bn_mean = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_mean");
    G->rgb_bn_var = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_var");
    ng__gan_conv_decl(&d, &G->to_rgb, ng_shape4(cfg->channels, C, 3, 3), cfg->channels, "to_rgb.conv");
    if (!d.ok || ng_params_alloc(G->weights) != NG_OK || ng_params_alloc(G->buffers) != NG_OK ||
        ng_params_alloc(G->alpha) != NG_OK) {
        ng_gan_gen_search_free(G);
        return NULL;
    }
    if (r) {
        int c, j;
        ng__gan_conv_init(&G->l1, 0, NG_GAN_INIT_PYTORCH, r);
        for (c = 0; c < NG_GAN_CELLS; c++) {
            for (j = 0; j < 2; j++) ng__gan_conv_init(&G->up[c][j], 0, NG_GAN_INIT_PYTORCH, r);
            for (j = 0; j < 3; j++) {
                for (k = 0; k < 3; k++) ng__gan_conv_init(&G->normal[c][j].conv[k], 1, NG_GAN_INIT_PYTORCH, r);
                for (k = 0; k < 3; k++) ng__gan_sep_init(&G->normal[c][j].sep[k], NG_GAN_INIT_PYTORCH, r);
            }
        }
        for (j = 0; j < 3; j++) ng__gan_conv_init(&G->skip[j], 0, NG_GAN_INIT_PYTORCH, r);
        ng__gan_bn_init(G->rgb_bn_w, G->rgb_bn_b, G->rgb_bn_var, NG_GAN_INIT_PYTORCH, r);
        ng__gan_conv_init(&G->to_rgb, 1, NG_GAN_INIT_PYTORCH, r);
        ng_init_normal(G->alpha_normal, 0.0f, 1e-3f, r);
        ng_init_normal(G->alpha_up, 0.0f, 1e-3f, r);
        ng_init_normal(G->alpha_skip, 0.0f, 1e-3f, r);
    }
    return G;
}

ng_gan_gen_search *ng_gan_gen_search_create(const ng_gan_config *cfg, const char *name, ng_rng *init_rng) {
    NG_ASSERT(cfg && init_rng);
    return ng__gan_search_new(cfg, name, init_rng);
}

void ng_gan_gen_search_free(ng_gan_gen_search *G) {
    if (!G) return;
    ng_params_free(G->weights);
    ng_params_free(G->buffers);
    ng_params_free(G->alpha);
    free(G);
}

ng_status ng_gan_gen_search_copy(ng_gan_gen_search *dst, const ng_gan_gen_search *src) {
    ng_status s;
    if (!ng_params_same_layout(dst->weights, src->weights) || !ng_params_same_layout(dst->buffers, src->buffers) ||
        !ng_params_same_layout(dst->alpha, src->alpha) || dst->cfg.bottom_width != src->cfg.bottom_width)
        return ng_fail(NG_ERR_MISMATCH, "gan supernet copy: '%s' and '%s' have different configurations", dst->weights->name,
                       src->weights->name);
    if ((s = ng_params_copy(dst->weights, src->weights)) != NG_OK) return s;
    if ((s = ng_params_copy(dst->buffers, src->buffers)) != NG_OK) return s;
    return ng_params_copy(dst->alpha, src->alpha);
}

ng_gan_gen_search *ng_gan_gen_search_clone(const ng_gan_gen_search *src, const char *name) {
    ng_gan_gen_search *G = ng__gan_search_new(&src->cfg, name, NULL);
    if (!G) return NULL;
    G->fuse = src->fuse;
    if (ng_gan_gen_search_copy(G, src) != NG_OK) { ng_gan_gen_search_free(G); return NULL; }
    return G;
}

ng_tensor *ng_gan_gen_search_forward(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor *z) {
    ng_tensor *alpha[3], *bn[4];
    ng__gan_alpha_view(ctx, G, alpha);
    bn[0] = G->rgb_bn_w; bn[1] = G->rgb_bn_b; bn[2] = G->rgb_bn_mean; bn[3] = G->rgb_bn_var;
    return ng__gan_generate(ctx, &G->cfg, ng__gan_search_edge, G, alpha, &G->l1, bn, &G->to_rgb, z);
}

ng_tensor *ng_gan_gen_search_cell(ng_ctx *ctx, const ng_gan_gen_search *G, int c, ng_tensor *x,
                                  ng_tensor *const *skip_in, ng_tensor **node1) {
    ng_tensor *alpha[3];
    ng__gan_alpha_view(ctx, G, alpha);
    return ng__gan_cell(ctx, ng__gan_search_edge, G, alpha, c, x, skip_in, node1);
}

ng_tensor *ng_gan_gen_search_alpha_of(const ng_gan_gen_search *G, int e, int *row) {
    int which, r;
    NG_ASSERT(e >= 0 && e < NG_GAN_EDGES);
    ng__gan_alpha_row(e, &which, &r);
    if (row) *row = r;
    return which == 0 ? G->alpha_normal : which == 1 ? G->alpha_up : G->alpha_skip;
}

ng_status ng_gan_gen_search_alpha_row(const ng_gan_gen_search *G, int e, float *logits) {
    int row, K = ng_gan_edge_n_ops(e);
    const ng_tensor *a = ng_gan_gen_search_alpha_of(G, e, &row);
    const float *src = a->data + (int64_t)row * K;
    if (a->device != NG_CUDA) { memcpy(logits, src, (size_t)K * sizeof(float)); return NG_OK; }
    ng__cuda_copy(logits, src, (size_t)K * sizeof(float), 2);
    return NG_OK;
}

ng_status ng_gan_gen_search_set_alpha_row(ng_gan_gen_search *G, int e, const float *logits) {
    int row, K = ng_gan_edge_n_ops(e);
    const ng_tensor *a = ng_gan_gen_search_alpha_of(G, e, &row);
    float *dst = a->data + (int64_t)row * K;
    if (a->device != NG_CUDA) { memcpy(dst, logits, (size_t)K * sizeof(float)); return NG_OK; }
    ng__cuda_copy(dst, logits, (size_t)K * sizeof(float), 1);
    return NG_OK;
}

void ng_gan_gen_search_derive(const ng_gan_gen_search *G, ng_gan_genotype *out) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++) {
        int K = ng_gan_edge_n_ops(e), k, best = 0;
        float w[NG_GAN_N_NORMAL_OPS], logits[NG_GAN_N_NORMAL_OPS];
        if (ng_gan_gen_search_alpha_row(G, e, logits) != NG_OK) memset(logits, 0, sizeof logits);
        /* softmax in float as F.softmax, then the first maximum (numpy argmax) */
        ng__softmax_row(logits, w, K, 1, 0);
        for (k = 1; k < K; k++)
            if (w[k] > w[best]) best = k;
        out->op[e] = best;
    }
}

/* ---- the fixed generator ---- */
static ng_tensor *ng__gan_fixed_edge_fn(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times) {
    const ng_gan_fixed_edge *fe = &((const ng_gan_gen_fixed *)net)->edge[e];
    (void)alpha;
    if (ng_gan_edge_is_normal(e)) return ng_gan_normal_op_forward(ctx, fe->op, &fe->conv, &fe->sep, x);
    return ng_gan_up_op_forward(ctx, fe->op, &fe->conv, x, times);
}

ng_gan_gen_fixed *ng_gan_gen_fixed_create(const ng_gan_config *cfg, const ng_gan_genotype *geno, const char *name,
                                          ng_gan_init init, ng_rng *r) {
    ng_gan_gen_fixed *G;
    ng__gan_decl d;
    char gname[64], pre[96];
    int64_t C, bw;
    int i;
    NG_ASSERT(cfg && geno && r);
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    if (!ng_gan_genotype_valid(geno)) { ng_fail(NG_ERR_ARG, "gan fixed generator: genotype has an op index out of range"); return NULL; }
    G = (ng_gan_gen_fixed *)calloc(1, sizeof *G);
    if (!G) { ng_fail(NG_ERR_NOMEM, "gan fixed generator: out of memory"); return NULL; }
    G->cfg = *cfg;
    G->geno = *geno;
    C = cfg->gf_dim;
    bw = cfg->bottom_width;
    if (!name) name = "G";
    snprintf(gname, sizeof gname, "%s", name);
    G->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    G->buffers = ng_params_create(gname, 0);
    d.w = G->weights; d.b = G->buffers; d.ok = G->weights && G->buffers;
    ng__gan_conv_decl(&d, &G->l1, ng_shape2(bw * bw * C, cfg->latent_dim), bw * bw * C, "l1");
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i], k = geno->op[e];
        ng_gan_fixed_edge *fe = &G->edge[e];
        fe->op = k;
        snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e],
                 ng_gan_edge_is_normal(e) ? ng__gan_normal_names[k] : ng__gan_up_names[k]);
        if (ng_gan_edge_is_normal(e)) {
            int ks = ng__gan_ksize(k);
            if (k < 3) ng__gan_conv_decl(&d, &fe->conv, ng_shape4(C, C, ks, ks), C, pre);
            else ng__gan_sep_decl(&d, &fe->sep, C, ks, 1, pre);
        } else if (k == NG_GAN_DECONV) {
            ng__gan_conv_decl(&d, &fe->conv, ng_shape4(C, C, 2, 2), C, pre);
        }
    }
    G->rgb_bn_w = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.weight");
    G->rgb_bn_b = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.bias");
    G->rgb_bn_mean = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_mean");
    G->rgb_bn_var = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_var");
    ng__gan_conv_decl(&d, &G->to_rgb, ng_shape4(cfg->channels, C, 3, 3), cfg->channels, "to_rgb.conv");
    if (!d.ok || ng_params_alloc(G->weights) != NG_OK || ng_params_alloc(G->buffers) != NG_OK) {
        ng_gan_gen_fixed_free(G);
        return NULL;
    }
    ng__gan_conv_init(&G->l1, 0, init, r);
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i];
        const ng_gan_fixed_edge *fe = &G->edge[e];
        if (ng_gan_edge_is_normal(e) && fe->op >= 3) ng__gan_sep_init(&fe->sep, init, r);
        else if (fe->conv.w) ng__gan_conv_init(&fe->conv, ng_gan_edge_is_normal(e), init, r);
    }
    ng__gan_bn_init(G->rgb_bn_w, G->rgb_bn_b, G->rgb_bn_var, init, r);
    ng__gan_conv_init(&G->to_rgb, 1, init, r);
    return G;
}

void ng_gan_gen_fixed_free(ng_gan_gen_fixed *G) {
    if (!G) return;
    ng_params_free(G->weights);
    ng_params_free(G->buffers);
    free(G);
}

ng_tensor *ng_gan_gen_fixed_forward(ng_ctx *ctx, const ng_gan_gen_fixed *G, ng_tensor *z) {
    ng_tensor *bn[4];
    bn[0] = G->rgb_bn_w; bn[1] = G->rgb_bn_b; bn[2] = G->rgb_bn_mean; bn[3] = G->rgb_bn_var;
    return ng__gan_generate(ctx, &G->cfg, ng__gan_fixed_edge_fn, G, NULL, &G->l1, bn, &G->to_rgb, z);
}

ng_tensor *ng_gan_gen_fixed_cell(ng_ctx *ctx, const ng_gan_gen_fixed *G, int c, ng_tensor *x,
                                 ng_tensor *const *skip_in, ng_tensor **node1) {
    return ng__gan_cell(ctx, ng__gan_fixed_edge_fn, G, NULL, c, x, skip_in, node1);
}

/* ---- the discriminator ---- */
/* k = 0: linear (O, C) without bias; else conv (O, C, k, k) with bias */
static void ng__gan_sn_decl(ng__gan_decl *d, ng_gan_snconv *s, int64_t O, int64_t C, int k, const char *pre) {
    s->w = ng__gan_add(d, 0, k ? ng_shape4(O, C, k, k) : ng_shape2(O, C), "%s.weight_orig", pre);
    s->b = k ? ng__gan_add(d, 0, ng_shape1(O), "%s.bias", pre) : NULL;
    s->u = ng__gan_add(d, 1, ng_shape1(O), "%s.weight_u", pre);
    s->v = ng__gan_add(d, 1, ng_shape1(C * (k ? k * k : 1)), "%s.weight_v", pre);
}
static void ng__gan_sn_init(const ng_gan_snconv *s, ng_gan_init init, ng_rng *r) {
    ng_gan_conv cv;
    cv.w = s->w; cv.b = s->b;
    ng__gan_conv_init(&cv, s->w->shape.ndim == 4, init, r);
    ng_spectral_norm_init(s->u, s->v, r, 1e-12f);
}
static ng_tensor *ng__gan_snc(ng_ctx *ctx, const ng_gan_snconv *s, ng_tensor *x) {
    ng_tensor *w = ng_spectral_norm(ctx, s->w, s->u, s->v, 1e-12f);
    return ng_conv2d(ctx, x, w, s->b, 1, (int)(s->w->shape.d[2] / 2), 1);
}

ng_gan_disc *ng_gan_disc_create(const ng_gan_config *cfg, const char *name, ng_gan_init init, ng_rng *r) {
    ng_gan_disc *D;
    ng__gan_decl d;
    char gname[64];
    int64_t C;
    ng_gan_snconv *all[11];
    int i;
    NG_ASSERT(cfg && r);
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    D = (ng_gan_disc *)calloc(1, sizeof *D);
    if (!D) { ng_fail(NG_ERR_NOMEM, "gan discriminator: out of memory"); return NULL; }
    D->cfg = *cfg;
    C = cfg->df_dim;
    if (!name) name = "D";
    snprintf(gname, sizeof gname, "%s", name);
    D->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    D->buffers = ng_params_create(gname, 0);
    d.w = D->weights; d.b = D->buffers; d.ok = D->weights && D->buffers;
    ng__gan_sn_decl(&d, &D->b1_c1, C, cfg->channels, 3, "block1.c1");
    ng__gan_sn_decl(&d, &D->b1_c2, C, C, 3, "block1.c2");
    ng__gan_sn_decl(&d, &D->b1_sc, C, cfg->channels, 1, "block1.c_sc");
    ng__gan_sn_decl(&d, &D->b2_c1, C, C, 3, "block2.c1");
    ng__gan_sn_decl(&d, &D->b2_c2, C, C, 3, "block2.c2");
    ng__gan_sn_decl(&d, &D->b2_sc, C, C, 1, "block2.c_sc");
    ng__gan_sn_decl(&d, &D->b3_c1, C, C, 3, "block3.c1");
    ng__gan_sn_decl(&d, &D->b3_c2, C, C, 3, "block3.c2");
    ng__gan_sn_decl(&d, &D->b4_c1, C, C, 3, "block4.c1");
    ng__gan_sn_decl(&d, &D->b4_c2, C, C, 3, "block4.c2");
    ng__gan_sn_decl(&d, &D->l5, 1, C, 0, "l5");
    if (!d.ok || ng_params_alloc(D->weights) != NG_OK || ng_params_alloc(D->buffers) != NG_OK) {
        ng_gan_disc_free(D);
        return NULL;
    }
    all[0] = &D->b1_c1; all[1] = &D->b1_c2; all[2] = &D->b1_sc; all[3] = &D->b2_c1; all[4] = &D->b2_c2;
    all[5] = &D->b2_sc; all[6] = &D->b3_c1; all[7] = &D->b3_c2; all[8] = &D->b4_c1; all[9] = &D->b4_c2;
    all[10] = &D->l5;
    for (i = 0; i < 11; i++) ng__gan_sn_init(all[i], init, r);
    return D;
}

void ng_gan_disc_free(ng_gan_disc *D) {
    if (!D) return;
    ng_params_free(D->weights);
    ng_params_free(D->buffers);
    free(D);
}

ng_status ng_gan_disc_copy(ng_gan_disc *dst, const ng_gan_disc *src) {
    ng_status s = ng_params_copy(dst->weights, src->weights);
    dst->pool_sum = src->pool_sum;
    return s == NG_OK ? ng_params_copy(dst->buffers, src->buffers) : s;
}

ng_tensor *ng_gan_disc_forward(ng_ctx *ctx, const ng_gan_disc *D, ng_tensor *x) {
    ng_tensor *h, *sc, *w5;
    if (x) NG_ASSERT(x->shape.ndim == 4 && x->shape.d[1] == D->cfg.channels);
    /* block1 (OptimizedDisBlock) */
    h = ng__gan_snc(ctx, &D->b1_c1, x);
    h = ng__gan_snc(ctx, &D->b1_c2, ng_relu(ctx, h));
    h = ng_avg_pool2d(ctx, h);
    sc = ng__gan_snc(ctx, &D->b1_sc, ng_avg_pool2d(ctx, x));
    x = ng_add(ctx, h, sc);
    /* block2 (downsample, learnable shortcut) */
    h = ng__gan_snc(ctx, &D->b2_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b2_c2, ng_relu(ctx, h));
    h = ng_avg_pool2d(ctx, h);
    sc = ng_avg_pool2d(ctx, ng__gan_snc(ctx, &D->b2_sc, x));
    x = ng_add(ctx, h, sc);
    /* blocks 3 and 4 (identity shortcut) */
    h = ng__gan_snc(ctx, &D->b3_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b3_c2, ng_relu(ctx, h));
    x = ng_add(ctx, h, x);
    h = ng__gan_snc(ctx, &D->b4_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b4_c2, ng_relu(ctx, h));
    x = ng_add(ctx, h, x);
    /* ReLU, global pool over H and W, linear without bias. The reference sums (its comment says
       "average"): mean by default, the sum with D->pool_sum = 1. */
    h = ng_sum_hw(ctx, ng_relu(ctx, x));
    if (!D->pool_sum && x) h = ng_scale(ctx, h, 1.0f / (float)(x->shape.d[2] * x->shape.d[3]));
    w5 = ng_spectral_norm(ctx, D->l5.w, D->l5.u, D->l5.v, 1e-12f);
    return ng_linear(ctx, h, w5, NULL);
}

/* ---- src/linalg.c ---- */
/* ======================================================================================== */
/* @@LINALG                                                                                 */
/* ======================================================================================== */

/* ---- double-precision kernels (also used by @@METRICS) ---- */

/* Dot product with eight independent partial sums (so the compiler can vectorise it without
   reassociating), combined in a fixed order: the result does not depend on threads. */
static double ng__ddot(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
        s4 += a[i + 4] * b[i + 4]; s5 += a[i + 5] * b[i + 5]; s6 += a[i + 6] * b[i + 6]; s7 += a[i + 7] * b[i + 7];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7));
}

static int ng__metric_threads(double work) {
#ifdef _OPENMP
    if (omp_in_parallel() || work < 4e6) return 1;
    return omp_get_max_threads();
#else
    (void)work;
    return 1;
#endif
}
static int ng__metric_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Micro-kernel of ng__dgemm: the NG__DG_MR x 8 tile acc = sum_k a[r][k] b[k][0..8), with row r
   of A at a + r lda and B packed k-major (8 doubles per k). AVX2+FMA: 6 x 8 in 12 registers;
   portable C: 4 x 8, left to the vectoriser. */
#if defined(NG__HAVE_AVX2)
#define NG__DG_MR 6
static void ng__dgemm_tile(int64_t kc, const double *a, int64_t lda, const double *bp, double *acc) {
    __m256d c0 = _mm256_setzero_pd(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256d c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    const double *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    int64_t k;
    for (k = 0; k < kc; k++) {
        __m256d b0 = _mm256_loadu_pd(bp + 8 * k), b1 = _mm256_loadu_pd(bp + 8 * k + 4), x;
        x = _mm256_broadcast_sd(a0 + k); c0 = _mm256_fmadd_pd(x, b0, c0); c1 = _mm256_fmadd_pd(x, b1, c1);
        x = _mm256_broadcast_sd(a1 + k); c2 = _mm256_fmadd_pd(x, b0, c2); c3 = _mm256_fmadd_pd(x, b1, c3);
        x = _mm256_broadcast_sd(a2 + k); c4 = _mm256_fmadd_pd(x, b0, c4); c5 = _mm256_fmadd_pd(x, b1, c5);
        x = _mm256_broadcast_sd(a3 + k); c6 = _mm256_fmadd_pd(x, b0, c6); c7 = _mm256_fmadd_pd(x, b1, c7);
        x = _mm256_broadcast_sd(a4 + k); c8 = _mm256_fmadd_pd(x, b0, c8); c9 = _mm256_fmadd_pd(x, b1, c9);
        x = _mm256_broadcast_sd(a5 + k); c10 = _mm256_fmadd_pd(x, b0, c10); c11 = _mm256_fmadd_pd(x, b1, c11);
    }
    _mm256_storeu_pd(acc, c0); _mm256_storeu_pd(acc + 4, c1); _mm256_storeu_pd(acc + 8, c2);
    _mm256_storeu_pd(acc + 12, c3); _mm256_storeu_pd(acc + 16, c4); _mm256_storeu_pd(acc + 20, c5);
    _mm256_storeu_pd(acc + 24, c6); _mm256_storeu_pd(acc + 28, c7); _mm256_storeu_pd(acc + 32, c8);
    _mm256_storeu_pd(acc + 36, c9); _mm256_storeu_pd(acc + 40, c10); _mm256_storeu_pd(acc + 44, c11);
}
#else
#define NG__DG_MR 4
static void ng__dgemm_tile(int64_t kc, const double *a, int64_t lda, const double *bp, double *acc) {
    const double *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    int64_t k;
    int q;
    for (q = 0; q < 32; q++) acc[q] = 0.0;
    for (k = 0; k < kc; k++) {
        const double *b = bp + k * 8;
        double x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
        for (q = 0; q < 8; q++) {
            acc[q] += x0 * b[q];
            acc[8 + q] += x1 * b[q];
            acc[16 + q] += x2 * b[q];
            acc[24 + q] += x3 * b[q];
        }
    }
}
#endif

/* C (M, N) += A (M, K) B (K, N), all row-major double. lower != 0: only C[i][j] with j <= i
   is wanted (tiles wholly above the diagonal are skipped; some entries above it are computed
   too). B is packed per (KC x NC) block into 8-column panels; a tile of NG__DG_MR rows x 8
   columns of C is summed in registers over the K block. Rows are split between threads (by
   area when lower), each with its own packing buffer, and every element is summed by one
   thread in a fixed order, so results do not depend on the number of threads. */
#define NG__DG_KC 256
#define NG__DG_NC 512
static ng_status ng__dgemm(int64_t M, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
                           int64_t ldb, double *C, int64_t ldc, int lower) {
    int nt = ng__metric_threads((double)M * (double)N * (double)K * (lower ? 0.5 : 1.0));
    int fail = 0;
    if (M <= 0 || N <= 0 || K <= 0) return NG_OK;
    if (nt > (M + NG__DG_MR - 1) / NG__DG_MR) nt = (int)((M + NG__DG_MR - 1) / NG__DG_MR);
    if (nt < 1) nt = 1;
    NG__OMP(parallel num_threads(nt) if (nt > 1))
    {
        int t = nt > 1 ? ng__metric_tid() : 0;
        /* rows [r0, r1), multiples of the tile height; by area for a lower triangle */
        double f0 = (double)t / nt, f1 = (double)(t + 1) / nt;
        int64_t r0, r1, jc, pc, i0;
        double *pack = (double *)malloc(sizeof(double) * NG__DG_KC * NG__DG_NC);
        if (lower) { f0 = sqrt(f0); f1 = sqrt(f1); }
        r0 = ((int64_t)(f0 * (double)M) + NG__DG_MR - 1) / NG__DG_MR * NG__DG_MR;
        r1 = t == nt - 1 ? M : ((int64_t)(f1 * (double)M) + NG__DG_MR - 1) / NG__DG_MR * NG__DG_MR;
        if (r1 > M) r1 = M;
        if (!pack) {
            NG__OMP(atomic write)
            fail = 1;
        } else {
            for (jc = 0; jc < N && r0 < r1; jc += NG__DG_NC) {
                int64_t nc = N - jc < NG__DG_NC ? N - jc : NG__DG_NC;
                int64_t np = (nc + 7) / 8, jp;
                if (lower && jc > r1 - 1) break;
                for (pc = 0; pc < K; pc += NG__DG_KC) {
                    int64_t kc = K - pc < NG__DG_KC ? K - pc : NG__DG_KC, k;
                    for (jp = 0; jp < np; jp++) {       /* pack B[pc.., jc + 8 jp ..] */
                        double *dst = pack + jp * kc * 8;
                        int64_t j0 = jc + jp * 8, w = nc - jp * 8 < 8 ? nc - jp * 8 : 8, q;
                        for (k = 0; k < kc; k++) {
                            const double *src = B + (pc + k) * ldb + j0;
                            for (q = 0; q < w; q++) dst[k * 8 + q] = src[q];
                            for (; q < 8; q++) dst[k * 8 + q] = 0.0;
                        }
                    }
                    for (i0 = r0; i0 < r1; i0 += NG__DG_MR) {
                        int64_t mr = r1 - i0 < NG__DG_MR ? r1 - i0 : NG__DG_MR;
                        const double *a = A + i0 * lda + pc;
                        for (jp = 0; jp < np; jp++) {
                            int64_t j0 = jc + jp * 8, w = nc - jp * 8 < 8 ? nc - jp * 8 : 8, q, r;
                            const double *bp = pack + jp * kc * 8;
                            double acc[NG__DG_MR * 8];
                            if (lower && j0 > i0 + mr - 1) break;
                            if (mr == NG__DG_MR) {
                                ng__dgemm_tile(kc, a, lda, bp, acc);
                                for (r = 0; r < mr; r++) {
                                    double *c = C + (i0 + r) * ldc + j0;
                                    for (q = 0; q < w; q++) c[q] += acc[r * 8 + q];
                                }
                            } else {                 /* the last rows: one at a time (lda 0) */
                                for (r = 0; r < mr; r++) {
                                    double *c = C + (i0 + r) * ldc + j0;
                                    ng__dgemm_tile(kc, a + r * lda, 0, bp, acc);
                                    for (q = 0; q < w; q++) c[q] += acc[q];
                                }
                            }
                        }
                    }
                }
            }
        }
        free(pack);
    }
    return fail ? ng_fail(NG_ERR_NOMEM, "matrix product: out of memory") : NG_OK;
}

/* ---- symmetric eigensolver ---- */

/* Householder reflector of step k of the tridiagonalisation from x (m): u (written over x)
   and h with H = I - u u^T / h, H x = (*beta, 0, ..., 0). h = 0: x is zero, no reflection. */
static double ng__eig_reflector(double *u, int64_t m, double *beta) {
    double scale = 0, s2, g, h;
    int64_t i;
    for (i = 0; i < m; i++) scale += fabs(u[i]);
    if (scale == 0.0) { *beta = 0.0; return 0.0; }
    for (i = 0; i < m; i++) u[i] /= scale;          /* scaled: no overflow or underflow in s2 */
    s2 = ng__ddot(u, u, m);
    g = u[0] >= 0 ? -sqrt(s2) : sqrt(s2);
    *beta = scale * g;
    h = s2 - u[0] * g;                               /* = |u|^2 / 2 after the next line, >= s2 */
    u[0] -= g;
    return h;
}

/* Reduce the symmetric matrix A (n, n; lower triangle used and overwritten) to the tridiagonal
   T = Q^T A Q with diagonal d and off-diagonal e (e[i] couples i and i+1; e[n-1] = 0), where
   Q = H_0 H_1 ... H_{n-3}. Step k's reflector u (indices k+1..n-1) is kept in the unused upper
   part of row k, A[k][k+1..], with its h in hh[k].

   Step k turns the trailing block B (indices k+1..n-1) into H B H = B - u w^T - w u^T, with
   p = B u / h and w = p - (u.p / 2h) u. Step k's update is applied lazily, in step k+1: first
   to column k+1 (which gives step k+1's reflector), then row by row to the rest of the lower
   triangle, and the same pass forms step k+1's p = B u from each updated row (a dot product
   for p_i and a scatter into p_j, j < i, for the upper half). So each step reads and writes
   the lower triangle of the trailing block once, with unit stride.

   One thread: the pass is bound by memory bandwidth, and n barriers cost far more than they
   save when other processes compete for the cores (n = 1000: 0.13 s on one thread, 1.3-2 s
   on two on a loaded 2-core machine). */
static void ng__eig_tridiag(int64_t n, double *A, double *d, double *e, double *hh, double *p, double *w) {
    const double *up = NULL;                        /* previous step's u (indices k..), or NULL */
    double *wp = NULL;                              /* previous step's w, indexed like p */
    int64_t k, i, j;
    for (k = 0; k < n; k++) e[k] = hh[k] = 0.0;
    for (k = 0; k + 2 < n; k++) {
        double *u = A + k * n + k + 1, h;           /* step k's reflector, indices k+1..n-1 */
        int64_t m = n - k - 1;
        if (up) {                                    /* previous update on column k, rows k.. */
            double uk = up[0], wk = wp[k];
            for (i = k; i < n; i++) A[i * n + k] -= up[i - k] * wk + wp[i] * uk;
        }
        d[k] = A[k * n + k];
        for (i = k + 1; i < n; i++) u[i - k - 1] = A[i * n + k];
        h = hh[k] = ng__eig_reflector(u, m, &e[k]);
        if (h != 0.0)
            for (i = k + 1; i < n; i++) p[i] = 0.0;
        for (i = k + 1; i < n; i++) {               /* one pass over rows k+1.., cols k+1..i */
            double *r = A + i * n + k + 1;
            int64_t len = i - k;                     /* r[0 .. len-1] = cols k+1 .. i */
            if (up) {
                double ui = up[i - k], wi = wp[i];
                const double *uj = up + 1, *wj = wp + k + 1;
                for (j = 0; j < len; j++) r[j] -= ui * wj[j] + wi * uj[j];
            }
            if (h != 0.0) {
                double ui = u[i - k - 1];
                double *pj = p + k + 1;
                p[i] += ng__ddot(r, u, len - 1) + r[len - 1] * ui;
                for (j = 0; j < len - 1; j++) pj[j] += ui * r[j];
            }
        }
        if (h != 0.0) {
            double K;
            for (i = k + 1; i < n; i++) p[i] /= h;
            K = ng__ddot(u, p + k + 1, m) / (2.0 * h);
            for (i = k + 1; i < n; i++) w[i] = p[i] - K * u[i - k - 1];
            up = u;                                  /* up[i - (k+1)] = u_i for the next step */
            wp = w;
        } else {
            up = NULL;
        }
    }
    if (n >= 3 && up) {                              /* last update on the final 2 x 2 block */
        double u0 = up[0], u1 = up[1], w0 = wp[n - 2], w1 = wp[n - 1];
        A[(n - 2) * n + n - 2] -= 2.0 * u0 * w0;
        A[(n - 1) * n + n - 2] -= u1 * w0 + w1 * u0;
        A[(n - 1) * n + n - 1] -= 2.0 * u1 * w1;
    }
    if (n >= 2) {
        d[n - 2] = A[(n - 2) * n + n - 2];
        e[n - 2] = A[(n - 1) * n + n - 2];
    }
    d[n - 1] = A[(n - 1) * n + n - 1];
    e[n - 1] = 0.0;
}

/* Q^T (rows = columns of Q), accumulated from the last reflector back: Q^T <- Q^T H_k, which
   changes only rows and columns k+1.. (the rest is still the identity). Rows are independent,
   so blocks of rows (kept in cache) go through all reflectors in turn, in parallel. */
#define NG__EIG_QROWS 16
static void ng__eig_form_qt(int64_t n, const double *A, const double *hh, double *Qt, int64_t ld) {
    int64_t i, rb;
    for (i = 0; i < n * ld; i++) Qt[i] = 0.0;
    for (i = 0; i < n; i++) Qt[i * ld + i] = 1.0;
    NG__OMP(parallel for schedule(dynamic, 1) if (n > 128))
    for (rb = 0; rb < (n + NG__EIG_QROWS - 1) / NG__EIG_QROWS; rb++) {
        int64_t r0 = rb * NG__EIG_QROWS, r1 = r0 + NG__EIG_QROWS < n ? r0 + NG__EIG_QROWS : n, k, r, j;
        for (k = r1 - 2 < n - 3 ? r1 - 2 : n - 3; k >= 0; k--) {   /* rows > k only */
            const double *u = A + k * n + k + 1;
            int64_t m = n - k - 1;
            if (hh[k] == 0.0) continue;
            for (r = r0 > k + 1 ? r0 : k + 1; r < r1; r++) {
                double *q = Qt + r * ld + k + 1, t = ng__ddot(q, u, m) / hh[k];
                for (j = 0; j < m; j++) q[j] -= t * u[j];
            }
        }
    }
}

/* Rotations of the QL sweeps are recorded and applied to Vt in batches: rotation j of the
   batch acts on rows row[j] and row[j] + 1 (in recorded order). Columns are independent, so
   each chunk of columns (n rows x 16 columns, kept in cache) goes through the whole batch;
   threads take chunks. Vt's row stride ld is a multiple of 16 (the padding stays zero). */
#ifndef NG__EIG_ROT_BATCH
#define NG__EIG_ROT_BATCH 131072   /* rotations per batch (3 MB of row, c, s) */
#endif
typedef struct ng__eig_rots {
    int64_t cnt, cap;
    int64_t *row;
    double *c, *s;
} ng__eig_rots;
static void ng__eig_rot_flush(int64_t n, double *Vt, int64_t ld, ng__eig_rots *R) {
    int64_t c0;
    (void)n;
    NG__OMP(parallel for schedule(static) if (R->cnt * ld > 65536))
    for (c0 = 0; c0 < ld; c0 += 16) {
        /* A sweep's rotations come in rows i, i - 1, i - 2, ...: the upper row of one is the
           lower row of the next, so it stays in registers ("carry") until it is finished. */
        double carry[16];
        int64_t crow = -1, j, q;
        for (q = 0; q < 16; q++) carry[q] = 0.0;
        for (j = 0; j < R->cnt; j++) {
            double c = R->c[j], s = R->s[j], lo[16], hi[16];
            int64_t r = R->row[j];
            double *plo = Vt + r * ld + c0, *phi = plo + ld;
            if (crow == r + 1) {
                for (q = 0; q < 16; q++) hi[q] = carry[q];
            } else {
                if (crow >= 0)
                    for (q = 0; q < 16; q++) Vt[crow * ld + c0 + q] = carry[q];
                for (q = 0; q < 16; q++) hi[q] = phi[q];
            }
            for (q = 0; q < 16; q++) lo[q] = plo[q];
            for (q = 0; q < 16; q++) {
                phi[q] = s * lo[q] + c * hi[q];
                carry[q] = c * lo[q] - s * hi[q];
            }
            crow = r;
        }
        if (crow >= 0)
            for (q = 0; q < 16; q++) Vt[crow * ld + c0 + q] = carry[q];
    }
    R->cnt = 0;
}

/* Implicit QL with Wilkinson shifts on the tridiagonal (d, e); eigenvalues in d (unsorted).
   With Vt (and R), the rotations are applied to its rows (through R's batches).
   An off-diagonal e[m] is negligible when it is below eps times its neighbours on the diagonal
   or below eps times the norm of T. The second (absolute) test is what a backward-stable
   solver can promise anyway, and without it a cluster of eigenvalues that are rounding noise
   around 0 (a singular covariance) never deflates: e ~ 1e-18 next to d ~ 1e-16 stays above
   the relative test iteration after iteration. */
static ng_status ng__eig_ql(int64_t n, double *d, double *e, double *Vt, int64_t ld, ng__eig_rots *R) {
    const double eps = DBL_EPSILON;
    double tnorm = 0.0;
    int64_t l;
    for (l = 0; l < n; l++) tnorm = fmax(tnorm, fabs(d[l]) + fabs(e[l]) + (l ? fabs(e[l - 1]) : 0.0));
    for (l = 0; l < n; l++) {
        int iter = 0;
        for (;;) {
            int64_t m, i;
            double g, r, s, c, p, f, b;
            for (m = l; m + 1 < n; m++) {
                double dd = fabs(d[m]) + fabs(d[m + 1]);
                if (fabs(e[m]) <= eps * dd || fabs(e[m]) <= eps * tnorm) break;
            }
            if (m == l) break;
            if (++iter > 30) return ng_fail(NG_ERR_FORMAT, "eigh: QL did not converge for eigenvalue %lld of %lld",
                                            (long long)l, (long long)n);
            if (Vt && R->cnt + (m - l) > R->cap) ng__eig_rot_flush(n, Vt, ld, R);
            /* shift: the eigenvalue of the leading 2x2 block closer to d[l] */
            g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            r = hypot(g, 1.0);
            g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
            s = c = 1.0;
            p = 0.0;
            for (i = m - 1; i >= l; i--) {
                f = s * e[i];
                b = c * e[i];
                r = hypot(f, g);
                e[i + 1] = r;
                if (r == 0.0) {           /* underflow: deflate here and restart */
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                if (Vt) { R->row[R->cnt] = i; R->c[R->cnt] = c; R->s[R->cnt] = s; R->cnt++; }
            }
            if (r == 0.0 && i >= l) continue;
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    if (Vt) ng__eig_rot_flush(n, Vt, ld, R);
    return NG_OK;
}

typedef struct ng__eig_pair { double w; int64_t i; } ng__eig_pair;
static int ng__eig_cmp(const void *a, const void *b) {
    const ng__eig_pair *x = (const ng__eig_pair *)a, *y = (const ng__eig_pair *)b;
    if (x->w < y->w) return -1;
    if (x->w > y->w) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

ng_status ng_linalg_eigh(int64_t n, const double *a, double *w, double *v) {
    double *A = NULL, *d = NULL, *e = NULL, *hh = NULL, *p = NULL, *p2 = NULL, *Vt = NULL;
    ng__eig_pair *order = NULL;
    ng__eig_rots R;
    double amax = 0.0;
    size_t nn;
    /* row stride of Vt: a multiple of 16, and not of 256 (a stride of a power of two times
       4 KB maps a column chunk's rows to few cache sets: 2.5x slower at n = 2048) */
    int64_t ld = (n + 15) / 16 * 16 + ((n + 15) / 16 * 16 % 256 == 0 ? 16 : 0);
    int64_t i, j;
    ng_status st = NG_OK;
    memset(&R, 0, sizeof R);
    if (n < 1 || !a || !w) return ng_fail(NG_ERR_ARG, "eigh: n = %lld or a NULL pointer", (long long)n);
    if (n > ((int64_t)1 << 30) || ng_mul_size((size_t)n, (size_t)n + 16, &nn) || nn > SIZE_MAX / (2 * sizeof(double)))
        return ng_fail(NG_ERR_ARG, "eigh: n = %lld is too large", (long long)n);
    for (i = 0; i < n; i++)
        for (j = 0; j <= i; j++) {
            double x = a[i * n + j];
            if (!isfinite(x)) return ng_fail(NG_ERR_ARG, "eigh: entry (%lld, %lld) is not finite", (long long)i, (long long)j);
            if (fabs(x) > amax) amax = fabs(x);
        }
    if (amax == 0.0) {                               /* the zero matrix: w = 0, v = I */
        for (i = 0; i < n; i++) w[i] = 0.0;
        if (v) {
            for (i = 0; i < n * n; i++) v[i] = 0.0;
            for (i = 0; i < n; i++) v[i * n + i] = 1.0;
        }
        return NG_OK;
    }
    A = (double *)malloc(nn * sizeof(double));
    d = (double *)malloc((size_t)n * sizeof(double));
    e = (double *)malloc((size_t)n * sizeof(double));
    hh = (double *)malloc((size_t)n * sizeof(double));
    p = (double *)malloc((size_t)n * sizeof(double));
    p2 = (double *)malloc((size_t)n * sizeof(double));
    order = (ng__eig_pair *)malloc((size_t)n * sizeof(ng__eig_pair));
    if (v) {
        Vt = (double *)malloc((size_t)n * (size_t)ld * sizeof(double));
        R.cap = NG__EIG_ROT_BATCH > n ? NG__EIG_ROT_BATCH : n;
        R.row = (int64_t *)malloc((size_t)R.cap * sizeof(int64_t));
        R.c = (double *)malloc((size_t)R.cap * sizeof(double));
        R.s = (double *)malloc((size_t)R.cap * sizeof(double));
    }
    if (!A || !d || !e || !hh || !p || !p2 || !order || (v && (!Vt || !R.row || !R.c || !R.s))) {
        st = ng_fail(NG_ERR_NOMEM, "eigh: out of memory (n = %lld)", (long long)n);
        goto done;
    }
    /* the lower triangle, scaled so that the largest entry is 1 */
    for (i = 0; i < n; i++)
        for (j = 0; j <= i; j++) A[i * n + j] = a[i * n + j] / amax;
    ng__eig_tridiag(n, A, d, e, hh, p, p2);
    if (Vt) ng__eig_form_qt(n, A, hh, Vt, ld);
    st = ng__eig_ql(n, d, e, Vt, ld, &R);
    if (st != NG_OK) goto done;
    for (i = 0; i < n; i++) { order[i].w = d[i]; order[i].i = i; }
    qsort(order, (size_t)n, sizeof *order, ng__eig_cmp);
    for (i = 0; i < n; i++) w[i] = order[i].w * amax;
    if (v)
        for (j = 0; j < n; j++) {
            const double *src = Vt + order[j].i * ld;
            for (i = 0; i < n; i++) v[i * n + j] = src[i];
        }
done:
    free(A); free(d); free(e); free(hh); free(p); free(p2); free(order); free(Vt); free(R.row); free(R.c); free(R.s);
    return st;
}

/* ---- src/metrics.c ---- */
/* ======================================================================================== */
/* @@METRICS                                                                                */
/* ======================================================================================== */

/* ---- feature statistics ---- */

static ng_status ng__check_finite_f32(const float *x, int64_t n, int64_t d, const char *what) {
    int64_t i;
    for (i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return ng_fail(NG_ERR_ARG, "%s: row %lld, column %lld is not finite", what, (long long)(i / d),
                           (long long)(i % d));
    return NG_OK;
}

static void ng__set_id(char *dst, const char *id) {
    size_t l = id ? strlen(id) : 0;
    if (l > NG_FEAT_ID_MAX - 1) l = NG_FEAT_ID_MAX - 1;
    if (l) memcpy(dst, id, l);
    dst[l] = '\0';
}

/* (d, d) doubles, or NULL with an error recorded */
static double *ng__alloc_dd(int64_t d, int64_t e, const char *what) {
    size_t n;
    double *p = NULL;
    if (d >= 0 && e >= 0 && !ng_mul_size((size_t)d, (size_t)e, &n) && n <= SIZE_MAX / sizeof(double))
        p = (double *)calloc(n ? n : 1, sizeof(double));
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %lld x %lld doubles", what, (long long)d, (long long)e);
    return p;
}

ng_status ng_feat_stats_init(ng_feat_stats *s, int64_t d, const char *net_id) {
    if (!s) return ng_fail(NG_ERR_ARG, "feat_stats_init: NULL statistics");
    memset(s, 0, sizeof *s);
    if (d < 1 || d > ((int64_t)1 << 24)) return ng_fail(NG_ERR_ARG, "feat_stats_init: D = %lld is out of range", (long long)d);
    s->d = d;
    ng__set_id(s->net_id, net_id);
    s->mean = ng__alloc_dd(d, 1, "feat_stats_init");
    s->cov = s->mean ? ng__alloc_dd(d, d, "feat_stats_init") : NULL;
    if (!s->cov) { ng_feat_stats_free(s); return NG_ERR_NOMEM; }
    return NG_OK;
}

void ng_feat_stats_free(ng_feat_stats *s) {
    if (!s) return;
    free(s->mean);
    free(s->cov);
    memset(s, 0, sizeof *s);
}

/* Rows are merged in chunks: each chunk's mean and its centred sum of squares Xc^T Xc (lower
   triangle, one matrix product), then Chan, Golub and LeVeque's pairwise update
     M2 += M2_chunk + delta delta^T n_a n_b / (n_a + n_b),  mean += delta n_b / (n_a + n_b),
   with delta = mean_chunk - mean. */
#define NG__STATS_CHUNK 256
ng_status ng_feat_stats_add(ng_feat_stats *s, const float *x, int64_t n) {
    int64_t d, r0, i, j;
    double *xc = NULL, *xt = NULL, *bm = NULL;
    ng_status st = NG_OK;
    if (!s || !s->mean) return ng_fail(NG_ERR_ARG, "feat_stats_add: statistics not initialised");
    if (s->finished) return ng_fail(NG_ERR_ARG, "feat_stats_add: statistics already finished");
    if (n < 0 || (n > 0 && !x)) return ng_fail(NG_ERR_ARG, "feat_stats_add: bad rows (n = %lld)", (long long)n);
    if (n == 0) return NG_OK;
    d = s->d;
    st = ng__check_finite_f32(x, n, d, "feat_stats_add");
    if (st != NG_OK) return st;
    xc = ng__alloc_dd(NG__STATS_CHUNK, d, "feat_stats_add");
    xt = xc ? ng__alloc_dd(d, NG__STATS_CHUNK, "feat_stats_add") : NULL;
    bm = xt ? ng__alloc_dd(d, 1, "feat_stats_add") : NULL;
    if (!bm) { st = NG_ERR_NOMEM; goto done; }
    for (r0 = 0; r0 < n; r0 += NG__STATS_CHUNK) {
        int64_t b = n - r0 < NG__STATS_CHUNK ? n - r0 : NG__STATS_CHUNK;
        double na = (double)s->n, nb = (double)b, ntot = na + nb, f = na * nb / ntot;
        const float *xb = x + r0 * d;
        for (j = 0; j < d; j++) bm[j] = 0.0;
        for (i = 0; i < b; i++)
            for (j = 0; j < d; j++) bm[j] += (double)xb[i * d + j];
        for (j = 0; j < d; j++) bm[j] /= nb;
        for (i = 0; i < b; i++)
            for (j = 0; j < d; j++) xc[i * d + j] = xt[j * b + i] = (double)xb[i * d + j] - bm[j];
        st = ng__dgemm(d, d, b, xt, b, xc, d, s->cov, d, 1);
        if (st != NG_OK) goto done;
        for (i = 0; i < d; i++) {                   /* delta = bm - mean, kept in bm */
            bm[i] -= s->mean[i];
            s->mean[i] += bm[i] * (nb / ntot);
        }
        if (s->n > 0)
            for (i = 0; i < d; i++) {
                double fi = f * bm[i], *row = s->cov + i * d;
                for (j = 0; j <= i; j++) row[j] += fi * bm[j];
            }
        s->n += b;
    }
done:
    free(xc);
    free(xt);
    free(bm);
    return st;
}

ng_status ng_feat_stats_finish(ng_feat_stats *s) {
    int64_t d, i, j;
    double inv;
    if (!s || !s->mean) return ng_fail(NG_ERR_ARG, "feat_stats_finish: statistics not initialised");
    if (s->finished) return NG_OK;
    if (s->n < 2) return ng_fail(NG_ERR_ARG, "feat_stats_finish: %lld rows, a covariance needs at least 2", (long long)s->n);
    d = s->d;
    inv = 1.0 / (double)(s->n - 1);
    for (i = 0; i < d; i++)
        for (j = 0; j <= i; j++) s->cov[i * d + j] = s->cov[j * d + i] = s->cov[i * d + j] * inv;
    s->finished = 1;
    return NG_OK;
}

ng_status ng_feat_stats_compute(ng_feat_stats *s, const float *x, int64_t n, int64_t d, const char *net_id) {
    ng_status st = ng_feat_stats_init(s, d, net_id);
    if (st == NG_OK) st = ng_feat_stats_add(s, x, n);
    if (st == NG_OK) st = ng_feat_stats_finish(s);
    if (st != NG_OK) ng_feat_stats_free(s);
    return st;
}

/* ---- statistics as a checkpoint record ---- */
#define NG__FS_VERSION 1u
static uint64_t ng__f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static double ng__bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

ng_status ng_ckpt_put_feat_stats(ng_ckpt *ck, const char *key, const ng_feat_stats *s) {
    size_t idl, nv, size;
    unsigned char *buf;
    ng__wr w;
    int64_t i, j;
    ng_status st;
    if (!s || !s->finished) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': statistics are not finished", key ? key : "");
    idl = strlen(s->net_id);
    nv = (size_t)s->d + (size_t)s->d * ((size_t)s->d + 1) / 2;
    if (nv > (SIZE_MAX - 64 - idl) / 8) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': D too large", key ? key : "");
    size = 4 + 4 + 4 + idl + 8 + 8 + 8 * nv;
    buf = (unsigned char *)malloc(size);
    if (!buf) return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': cannot allocate %zu bytes", key ? key : "", size);
    w.p = buf;
    w.pos = 0;
    ng__wbytes(&w, "NGFS", 4);
    ng__w32(&w, NG__FS_VERSION);
    ng__wstr(&w, s->net_id);
    ng__w64(&w, (uint64_t)s->n);
    ng__w64(&w, (uint64_t)s->d);
    for (i = 0; i < s->d; i++) ng__w64(&w, ng__f64_bits(s->mean[i]));
    for (i = 0; i < s->d; i++)
        for (j = 0; j <= i; j++) ng__w64(&w, ng__f64_bits(s->cov[i * s->d + j]));
    st = ng_ckpt_put(ck, key, buf, size);
    free(buf);
    return st;
}

ng_status ng_ckpt_get_feat_stats(const ng_ckpt *ck, const char *key, ng_feat_stats *s, const char *expect_net_id,
                                 int64_t expect_n) {
    const unsigned char *p, *idb, *magic;
    size_t len;
    ng__rd r;
    uint32_t ver = 0, idl = 0;
    uint64_t n = 0, d = 0, nv, q = 0;
    char id[NG_FEAT_ID_MAX];
    ng_feat_stats t;
    int64_t i, j;
    const char *name = ck && ng__ck_name(ck) ? ng__ck_name(ck) : "(checkpoint)";
    if (!s) return ng_fail(NG_ERR_ARG, "get feat_stats: NULL statistics");
    p = (const unsigned char *)ng_ckpt_get(ck, key, &len);
    if (!p) return ng_fail(NG_ERR_MISMATCH, "%s: no record '%s' (feature statistics)", name, key ? key : "");
    if (ng_ckpt_kind_of(ck, key) != NG_CKPT_RAW) return ng_fail(NG_ERR_MISMATCH, "%s: record '%s' is not raw feature statistics", name, key);
    r.p = p;
    r.n = len;
    r.pos = 0;
    if (ng__rbytes(&r, 4, &magic) || memcmp(magic, "NGFS", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': not feature statistics (magic)", name, key);
    if (ng__r32(&r, &ver) || ver != NG__FS_VERSION)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': feature statistics version %u, expected %u", name, key,
                       (unsigned)ver, NG__FS_VERSION);
    if (ng__r32(&r, &idl) || idl >= NG_FEAT_ID_MAX || ng__rbytes(&r, idl, &idb))
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': bad network identity length", name, key);
    memcpy(id, idb, idl);
    id[idl] = '\0';
    if (ng__r64(&r, &n) || ng__r64(&r, &d) || n < 2 || n > (uint64_t)INT64_MAX || d < 1 || d > ((uint64_t)1 << 24))
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': bad N or D", name, key);
    nv = d + d * (d + 1) / 2;
    if (ng__rleft(&r) / 8 != nv || ng__rleft(&r) % 8 != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': %zu payload bytes left, D = %llu needs %llu", name, key,
                       ng__rleft(&r), (unsigned long long)d, (unsigned long long)(8 * nv));
    if (expect_net_id && strcmp(expect_net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "%s: record '%s': statistics of feature network '%s', expected '%s'", name, key,
                       id, expect_net_id);
    if (expect_n > 0 && (uint64_t)expect_n != n)
        return ng_fail(NG_ERR_MISMATCH, "%s: record '%s': statistics of N = %llu samples, expected %lld", name, key,
                       (unsigned long long)n, (long long)expect_n);
    if (ng_feat_stats_init(&t, (int64_t)d, id) != NG_OK) return NG_ERR_NOMEM;
    for (i = 0; i < (int64_t)d; i++) { ng__r64(&r, &q); t.mean[i] = ng__bits_f64(q); }
    for (i = 0; i < (int64_t)d; i++)
        for (j = 0; j <= i; j++) {
            ng__r64(&r, &q);
            t.cov[i * (int64_t)d + j] = t.cov[j * (int64_t)d + i] = ng__bits_f64(q);
        }
    for (i = 0; i < (int64_t)d; i++)
        if (!isfinite(t.mean[i])) break;
    for (j = 0; i == (int64_t)d && j < (int64_t)(d * d); j++)
        if (!isfinite(t.cov[j])) break;
    if (i != (int64_t)d || j != (int64_t)(d * d)) {
        ng_feat_stats_free(&t);
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': non-finite statistics", name, key);
    }
    t.n = (int64_t)n;
    t.finished = 1;
    *s = t;
    return NG_OK;
}

ng_status ng_feat_stats_save(const ng_feat_stats *s, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st;
    if (!ck) return NG_ERR_NOMEM;
    st = ng_ckpt_put_feat_stats(ck, "feat_stats", s);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st;
}

ng_status ng_feat_stats_load(ng_feat_stats *s, const char *path, const char *expect_net_id, int64_t expect_n) {
    ng_ckpt *ck = NULL;
    ng_status st = ng_ckpt_load(path, &ck);
    if (st == NG_OK) st = ng_ckpt_get_feat_stats(ck, "feat_stats", s, expect_net_id, expect_n);
    ng_ckpt_free(ck);
    return st;
}

/* ---- FID ---- */

/* Tr((S1 S2)^1/2) = sum sqrt(eig(M)), M = S1^1/2 S2 S1^1/2. With S1 = V diag(l) V^T and
   L = V diag(sqrt(l)) restricted to the r columns with l > 0, M = V diag(sqrt l) V^T S2 V
   diag(sqrt l) V^T has the same nonzero eigenvalues as G = L^T S2 L (r x r), which is what is
   formed: T^T = L^T S2, then G = T^T L (lower triangle), then its eigenvalues.

   Eigenvalues of S1 and of G at or below D eps max(eigenvalue) are rounding noise around 0 and
   count as 0 (as negative ones do). Otherwise each exactly-zero eigenvalue of a singular
   covariance (N <= D) would add sqrt(noise) ~ 1e-8 sqrt(max eigenvalue) to the trace; with the
   cut, FID of singular covariances with a common eigenbasis matches the closed form to ~1e-13
   instead of ~1e-8 (numpy's eigh route without the cut differs from it by that much). */
ng_status ng_metric_fid_moments(int64_t d, const double *mu1, const double *cov1, const double *mu2,
                                const double *cov2, double *fid) {
    double *w = NULL, *V = NULL, *Lt = NULL, *L = NULL, *S2 = NULL, *Tt = NULL, *G = NULL, *ev = NULL;
    double dm = 0, tr1 = 0, tr2 = 0, trs = 0;
    int64_t i, j, r = 0, c;
    ng_status st = NG_OK;
    if (d < 1 || !mu1 || !cov1 || !mu2 || !cov2 || !fid) return ng_fail(NG_ERR_ARG, "fid: D = %lld or a NULL pointer", (long long)d);
    for (i = 0; i < d; i++) {
        double x = mu1[i] - mu2[i];
        if (!isfinite(x)) return ng_fail(NG_ERR_ARG, "fid: mean %lld is not finite", (long long)i);
        dm += x * x;
        tr1 += cov1[i * d + i];
        tr2 += cov2[i * d + i];
        for (j = 0; j <= i; j++)
            if (!isfinite(cov2[i * d + j])) return ng_fail(NG_ERR_ARG, "fid: covariance 2 (%lld, %lld) is not finite", (long long)i, (long long)j);
    }
    w = ng__alloc_dd(d, 1, "fid");
    V = w ? ng__alloc_dd(d, d, "fid") : NULL;
    if (!V) { st = NG_ERR_NOMEM; goto done; }
    st = ng_linalg_eigh(d, cov1, w, V);             /* checks cov1 */
    if (st != NG_OK) goto done;
    {
        double cut = (double)d * DBL_EPSILON * w[d - 1];
        while (r < d && w[d - 1 - r] > cut && w[d - 1 - r] > 0.0) r++;   /* ascending: large ones last */
    }
    if (r > 0) {
        Lt = ng__alloc_dd(r, d, "fid");
        L = Lt ? ng__alloc_dd(d, r, "fid") : NULL;
        S2 = L ? ng__alloc_dd(d, d, "fid") : NULL;
        Tt = S2 ? ng__alloc_dd(r, d, "fid") : NULL;
        G = Tt ? ng__alloc_dd(r, r, "fid") : NULL;
        ev = G ? ng__alloc_dd(r, 1, "fid") : NULL;
        if (!ev) { st = NG_ERR_NOMEM; goto done; }
        for (c = 0; c < r; c++) {
            int64_t col = d - r + c;
            double sc = sqrt(w[col]);
            for (i = 0; i < d; i++) Lt[c * d + i] = L[i * r + c] = V[i * d + col] * sc;
        }
        free(V);
        V = NULL;
        for (i = 0; i < d; i++)
            for (j = 0; j <= i; j++) S2[i * d + j] = S2[j * d + i] = cov2[i * d + j];
        st = ng__dgemm(r, d, d, Lt, d, S2, d, Tt, d, 0);
        if (st == NG_OK) st = ng__dgemm(r, r, d, Tt, d, L, r, G, r, 1);
        if (st == NG_OK) st = ng_linalg_eigh(r, G, ev, NULL);
        if (st != NG_OK) goto done;
        for (i = 0; i < r; i++)
            if (ev[i] > (double)r * DBL_EPSILON * ev[r - 1]) trs += sqrt(ev[i]);
    }
    *fid = dm + tr1 + tr2 - 2.0 * trs;
    if (*fid < 0.0) *fid = 0.0;                      /* a rounding error below the true value >= 0 */
done:
    free(w); free(V); free(Lt); free(L); free(S2); free(Tt); free(G); free(ev);
    return st;
}

ng_status ng_metric_fid(const ng_feat_stats *a, const ng_feat_stats *b, double *fid) {
    if (!a || !b || !a->finished || !b->finished) return ng_fail(NG_ERR_ARG, "fid: statistics missing or not finished");
    if (a->d != b->d) return ng_fail(NG_ERR_MISMATCH, "fid: feature sizes differ (%lld vs %lld)", (long long)a->d, (long long)b->d);
    if (strcmp(a->net_id, b->net_id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "fid: statistics from different feature networks ('%s' vs '%s')", a->net_id, b->net_id);
    return ng_metric_fid_moments(a->d, a->mean, a->cov, b->mean, b->cov, fid);
}

/* ---- KID ---- */

static double ng__kid_kernel(double g, double inv_d) {
    double t = g * inv_d + 1.0;
    return t * t * t;
}

/* One unbiased MMD^2 from double rows X, Y (m, d) and their transposes (d, m); K is (m, m)
   scratch. Each row's kernel values are summed, then the row sums in order. */
static ng_status ng__mmd2(const double *X, const double *Xt, const double *Y, const double *Yt, int64_t m, int64_t d,
                          double *K, double *out) {
    double inv_d = 1.0 / (double)d, sxx = 0, syy = 0, sxy = 0;
    int64_t i, j, t;
    ng_status st;
    for (t = 0; t < 3; t++) {
        const double *A = t == 1 ? Y : X, *B = t == 0 ? Xt : Yt;
        double tot = 0;
        memset(K, 0, (size_t)(m * m) * sizeof(double));
        st = ng__dgemm(m, m, d, A, d, B, m, K, m, t < 2);
        if (st != NG_OK) return st;
        for (i = 0; i < m; i++) {
            double rs = 0;
            const double *row = K + i * m;
            int64_t end = t < 2 ? i : m;              /* within a set: j < i (twice), no diagonal */
            for (j = 0; j < end; j++) rs += ng__kid_kernel(row[j], inv_d);
            tot += rs;
        }
        if (t == 0) sxx = 2.0 * tot; else if (t == 1) syy = 2.0 * tot; else sxy = tot;
    }
    *out = (sxx + syy) / ((double)m * (double)(m - 1)) - 2.0 * sxy / ((double)m * (double)m);
    return NG_OK;
}

/* Gather rows idx (m) of x (., d) into X (m, d) and Xt (d, m) as doubles. */
static void ng__gather(const float *x, int64_t d, const int64_t *idx, int64_t m, double *X, double *Xt) {
    int64_t i, j;
    for (i = 0; i < m; i++) {
        const float *src = x + (idx ? idx[i] : i) * d;
        for (j = 0; j < d; j++) X[i * d + j] = Xt[j * m + i] = (double)src[j];
    }
}

ng_status ng_metric_kid_indexed(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                                int64_t m, const int64_t *idx_x, const int64_t *idx_y, double *mean, double *std) {
    double *X = NULL, *Xt = NULL, *Y = NULL, *Yt = NULL, *K = NULL, *v = NULL, s = 0, ss = 0;
    int64_t i, k;
    ng_status st = NG_OK;
    if (!x || !y || !mean || !std || d < 1 || subsets < 1 || m < 2 || m > nx || m > ny || m > ((int64_t)1 << 26))
        return ng_fail(NG_ERR_ARG, "kid: bad arguments (D = %lld, subsets = %d, subset size %lld, N = %lld / %lld)",
                       (long long)d, subsets, (long long)m, (long long)nx, (long long)ny);
    for (k = 0; k < (int64_t)subsets * m; k++)
        if ((idx_x && (idx_x[k] < 0 || idx_x[k] >= nx)) || (idx_y && (idx_y[k] < 0 || idx_y[k] >= ny)))
            return ng_fail(NG_ERR_ARG, "kid: subset index %lld out of range", (long long)k);
    if ((st = ng__check_finite_f32(x, nx, d, "kid (x)")) != NG_OK) return st;
    if ((st = ng__check_finite_f32(y, ny, d, "kid (y)")) != NG_OK) return st;
    X = ng__alloc_dd(m, d, "kid");
    Xt = X ? ng__alloc_dd(m, d, "kid") : NULL;
    Y = Xt ? ng__alloc_dd(m, d, "kid") : NULL;
    Yt = Y ? ng__alloc_dd(m, d, "kid") : NULL;
    K = Yt ? ng__alloc_dd(m, m, "kid") : NULL;
    v = K ? ng__alloc_dd(subsets, 1, "kid") : NULL;
    if (!v) { st = NG_ERR_NOMEM; goto done; }
    for (k = 0; k < subsets; k++) {
        ng__gather(x, d, idx_x ? idx_x + k * m : NULL, m, X, Xt);
        ng__gather(y, d, idx_y ? idx_y + k * m : NULL, m, Y, Yt);
        st = ng__mmd2(X, Xt, Y, Yt, m, d, K, &v[k]);
        if (st != NG_OK) goto done;
        s += v[k];
    }
    *mean = s / subsets;
    for (i = 0; i < subsets; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(ss / subsets);
done:
    free(X); free(Xt); free(Y); free(Yt); free(K); free(v);
    return st;
}

ng_status ng_metric_mmd2_poly(const float *x, const float *y, int64_t m, int64_t d, double *mmd2) {
    double sd;
    return ng_metric_kid_indexed(x, m, y, m, d, 1, m, NULL, NULL, mmd2, &sd);
}

/* m distinct indices below n into out (a partial Fisher-Yates shuffle of perm, which holds a
   permutation of 0..n-1 and is left permuted). */
static void ng__draw_subset(int64_t *perm, int64_t n, int64_t m, ng_rng *rng, int64_t *out) {
    int64_t t;
    for (t = 0; t < m; t++) {
        int64_t j = t + (int64_t)ng_rng_below(rng, (uint64_t)(n - t)), tmp = perm[t];
        perm[t] = perm[j];
        perm[j] = tmp;
        out[t] = perm[t];
    }
}

ng_status ng_metric_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                        int subset_size, ng_rng *rng, double *mean, double *std) {
    int64_t m = subset_size > 0 ? subset_size : 1000, k, *px = NULL, *py = NULL, *ix = NULL, *iy = NULL;
    ng_status st;
    if (subsets <= 0) subsets = 100;
    if (m > nx) m = nx;
    if (m > ny) m = ny;
    if (!rng || nx < 2 || ny < 2 || nx > ((int64_t)1 << 40) || ny > ((int64_t)1 << 40))
        return ng_fail(NG_ERR_ARG, "kid: needs an RNG and at least 2 rows on each side (N = %lld / %lld)", (long long)nx, (long long)ny);
    px = (int64_t *)malloc((size_t)nx * sizeof(int64_t));
    py = (int64_t *)malloc((size_t)ny * sizeof(int64_t));
    ix = (int64_t *)malloc((size_t)subsets * (size_t)m * sizeof(int64_t));
    iy = (int64_t *)malloc((size_t)subsets * (size_t)m * sizeof(int64_t));
    if (!px || !py || !ix || !iy) {
        st = ng_fail(NG_ERR_NOMEM, "kid: out of memory");
    } else {
        for (k = 0; k < nx; k++) px[k] = k;
        for (k = 0; k < ny; k++) py[k] = k;
        for (k = 0; k < subsets; k++) {             /* as torch-fidelity: x's subset, then y's */
            ng__draw_subset(px, nx, m, rng, ix + k * m);
            ng__draw_subset(py, ny, m, rng, iy + k * m);
        }
        st = ng_metric_kid_indexed(x, nx, y, ny, d, subsets, m, ix, iy, mean, std);
    }
    free(px); free(py); free(ix); free(iy);
    return st;
}

/* ---- Inception-Score analogue ---- */

/* logp (n, k): log-probabilities in double; rows taken in the order perm (or 0..n-1). */
static ng_status ng__is_core(const double *logp, int64_t n, int64_t k, int splits, const int64_t *perm, double *mean,
                             double *std) {
    double *q = (double *)malloc((size_t)k * sizeof(double)), *sc = (double *)malloc((size_t)splits * sizeof(double));
    double s = 0, ss = 0;
    int64_t sp, i, j;
    if (!q || !sc) { free(q); free(sc); return ng_fail(NG_ERR_NOMEM, "inception score: out of memory"); }
    for (sp = 0; sp < splits; sp++) {
        int64_t a = sp * n / splits, b = (sp + 1) * n / splits;
        double kl = 0;
        for (j = 0; j < k; j++) q[j] = 0.0;
        for (i = a; i < b; i++) {
            const double *lp = logp + (perm ? perm[i] : i) * k;
            for (j = 0; j < k; j++) q[j] += exp(lp[j]);
        }
        for (j = 0; j < k; j++) q[j] = log(q[j] / (double)(b - a));
        for (i = a; i < b; i++) {
            const double *lp = logp + (perm ? perm[i] : i) * k;
            double row = 0;
            for (j = 0; j < k; j++) {
                double pj = exp(lp[j]);
                if (pj > 0.0) row += pj * (lp[j] - q[j]);   /* 0 log 0 = 0 */
            }
            kl += row;
        }
        sc[sp] = exp(kl / (double)(b - a));
        s += sc[sp];
    }
    *mean = s / splits;
    for (sp = 0; sp < splits; sp++) ss += (sc[sp] - *mean) * (sc[sp] - *mean);
    *std = sqrt(ss / splits);
    free(q);
    free(sc);
    return NG_OK;
}

static ng_status ng__is_run(const float *in, int is_logits, int64_t n, int64_t k, int splits, ng_rng *shuffle,
                            double *mean, double *std) {
    double *logp;
    int64_t *perm = NULL, i, j;
    ng_status st;
    if (splits <= 0) splits = 10;
    if (!in || !mean || !std || k < 1 || n < splits || n > ((int64_t)1 << 40) || k > ((int64_t)1 << 24))
        return ng_fail(NG_ERR_ARG, "inception score: bad arguments (N = %lld, K = %lld, splits = %d)", (long long)n,
                       (long long)k, splits);
    if ((st = ng__check_finite_f32(in, n, k, "inception score")) != NG_OK) return st;
    logp = ng__alloc_dd(n, k, "inception score");
    if (!logp) return NG_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        const float *r = in + i * k;
        double *lp = logp + i * k;
        if (is_logits) {                            /* log_softmax in double */
            double mx = r[0], se = 0;
            for (j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
            for (j = 0; j < k; j++) se += exp((double)r[j] - mx);
            se = log(se);
            for (j = 0; j < k; j++) lp[j] = (double)r[j] - mx - se;
        } else {
            for (j = 0; j < k; j++) {
                if (r[j] < 0.0f) { free(logp); return ng_fail(NG_ERR_ARG, "inception score: probability (%lld, %lld) < 0", (long long)i, (long long)j); }
                lp[j] = log((double)r[j]);           /* -inf for 0: exp gives 0 and the term is skipped */
            }
        }
    }
    if (shuffle) {
        perm = (int64_t *)malloc((size_t)n * sizeof(int64_t));
        if (!perm) { free(logp); return ng_fail(NG_ERR_NOMEM, "inception score: out of memory"); }
        for (i = 0; i < n; i++) perm[i] = i;
        for (i = n - 1; i > 0; i--) {
            int64_t t = (int64_t)ng_rng_below(shuffle, (uint64_t)(i + 1)), tmp = perm[i];
            perm[i] = perm[t];
            perm[t] = tmp;
        }
    }
    st = ng__is_core(logp, n, k, splits, perm, mean, std);
    free(perm);
    free(logp);
    return st;
}

ng_status ng_metric_is(const float *p, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean, double *std) {
    return ng__is_run(p, 0, n, k, splits, shuffle, mean, std);
}
ng_status ng_metric_is_logits(const float *logits, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean,
                              double *std) {
    return ng__is_run(logits, 1, n, k, splits, shuffle, mean, std);
}

/* ---- precision / recall ---- */

/* Rows per distance block: a block's products with a whole set are held as floats
   (NG__PRC_BLOCK x N: 20 MB for N = 10,000), never an N x N matrix. */
#define NG__PRC_BLOCK 512
/* Columns per task in the column passes, which walk a block's rows over a few columns each. */
#define NG__PRC_CHUNK 64

/* One side of the comparison: its rows centred on the common mean, and their squared norms. */
typedef struct ng__prc_set {
    float *x;               /* (n, d) */
    double *norm2;          /* (n) */
    int64_t n;
} ng__prc_set;

/* Rounding at the border (distance == radius). Distances are compared squared, as
   |a|^2 + |b|^2 - 2 a.b with the norms summed in double and a.b from SGEMM, clamped at 0 (a
   negative value is cancellation noise). Both sets are first centred on their common mean,
   which leaves distances alone but keeps the norms, and so the cancellation, at the scale of
   the data's spread rather than of its offset. A row's distance to itself is never computed:
   it is exactly 0, so the (k+1)-th smallest distance including it is the k-th smallest over
   the other rows; radius and query distances then carry the same kind of error, and the
   comparison is d2 <= r2 on those values as they are. */
static double ng__prc_d2(double norm2_a, double norm2_b, float dot) {
    double v = norm2_a + norm2_b - 2.0 * (double)dot;
    return v > 0.0 ? v : 0.0;
}

/* list: the k smallest values inserted so far, ascending (+inf where fewer were). The list
   does not depend on the order of insertion, so neither do the radii on the threads. */
static void ng__keep_smallest(double *list, int k, double v) {
    int i = k - 1;
    if (!(v < list[i])) return;
    for (; i > 0 && list[i - 1] > v; i--) list[i] = list[i - 1];
    list[i] = v;
}

static float *ng__alloc_ff(int64_t n, int64_t d, const char *what) {
    size_t m;
    float *p = NULL;
    if (n >= 0 && d >= 0 && !ng_mul_size((size_t)n, (size_t)d, &m) && m <= SIZE_MAX / sizeof(float))
        p = (float *)malloc((m ? m : 1) * sizeof(float));
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %lld x %lld floats", what, (long long)n, (long long)d);
    return p;
}

static void ng__prc_set_free(ng__prc_set *s) {
    free(s->x);
    free(s->norm2);
    memset(s, 0, sizeof *s);
}

/* s = rows of x minus centre, each value rounded once to float, with their squared norms. */
static ng_status ng__prc_set_init(ng__prc_set *s, const float *x, int64_t n, int64_t d, const double *centre) {
    int64_t i;
    s->n = n;
    s->x = ng__alloc_ff(n, d, "precision/recall");
    s->norm2 = s->x ? ng__alloc_dd(n, 1, "precision/recall") : NULL;
    if (!s->norm2) { ng__prc_set_free(s); return NG_ERR_NOMEM; }
    NG__OMP_FOR(n * d >= 65536)
    for (i = 0; i < n; i++) {
        const float *src = x + i * d;
        float *dst = s->x + i * d;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < d; j++) {
            dst[j] = (float)((double)src[j] - centre[j]);
            acc += (double)dst[j] * (double)dst[j];
        }
        s->norm2[i] = acc;
    }
    return NG_OK;
}

/* Both sets centred on the mean of all their rows. */
static ng_status ng__prc_centre(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d,
                                ng__prc_set *r, ng__prc_set *g) {
    double *centre = ng__alloc_dd(d, 1, "precision/recall");
    int64_t i, j;
    ng_status st;
    if (!centre) return NG_ERR_NOMEM;
    for (i = 0; i < n_real; i++)
        for (j = 0; j < d; j++) centre[j] += (double)real[i * d + j];
    for (i = 0; i < n_gen; i++)
        for (j = 0; j < d; j++) centre[j] += (double)gen[i * d + j];
    for (j = 0; j < d; j++) centre[j] /= (double)(n_real + n_gen);
    st = ng__prc_set_init(r, real, n_real, d, centre);
    if (st == NG_OK) st = ng__prc_set_init(g, gen, n_gen, d, centre);
    free(centre);
    return st;
}

/* r2[i] = squared radius of row i of s: the k-th smallest squared distance to its other rows.
   lists is (n, k) scratch, G (NG__PRC_BLOCK, n). Row block [i0, i0 + nb) is multiplied only
   with rows [0, i0 + nb) (the lower block triangle): the block's rows take their distances to
   all of those (row pass), and each earlier row j < i0 takes its distances to the block's
   rows (column pass). So every pair is computed once, or twice within a block. */
static void ng__prc_radii(const ng__prc_set *s, int64_t d, int k, float *G, double *lists, double *r2) {
    int64_t n = s->n, i0, i, c;
    for (i = 0; i < n * k; i++) lists[i] = INFINITY;
    for (i0 = 0; i0 < n; i0 += NG__PRC_BLOCK) {
        const int64_t nb = n - i0 < NG__PRC_BLOCK ? n - i0 : NG__PRC_BLOCK, ncol = i0 + nb;
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, nb, ncol, d, 1.0f, s->x + i0 * d, d, s->x, d, 0.0f, G, ncol);
        NG__OMP_FOR(nb * ncol >= 65536)
        for (i = 0; i < nb; i++) {
            const float *dot = G + i * ncol;
            const double ni = s->norm2[i0 + i];
            double *list = lists + (i0 + i) * k;
            int64_t j;
            for (j = 0; j < ncol; j++)
                if (j != i0 + i) ng__keep_smallest(list, k, ng__prc_d2(ni, s->norm2[j], dot[j]));
        }
        NG__OMP_FOR(nb * i0 >= 65536)
        for (c = 0; c < i0; c += NG__PRC_CHUNK) {
            const int64_t c1 = i0 - c < NG__PRC_CHUNK ? i0 : c + NG__PRC_CHUNK;
            int64_t b, j;
            for (b = 0; b < nb; b++) {
                const float *dot = G + b * ncol;
                const double nb2 = s->norm2[i0 + b];
                for (j = c; j < c1; j++) ng__keep_smallest(lists + j * k, k, ng__prc_d2(nb2, s->norm2[j], dot[j]));
            }
        }
    }
    for (i = 0; i < n; i++) r2[i] = lists[i * k + k - 1];
}

/* One pass over the products of g's rows with r's, block by block of g's rows: g's row i is in
   r's manifold when some row j of r has d2(i, j) <= r2_r[j] (row pass); r's row j is in g's
   manifold when some row i of g has d2(i, j) <= r2_g[i] (column pass). in_g (g->n) and
   in_r (r->n) get 1 for the rows inside. */
static void ng__prc_cross(const ng__prc_set *g, const ng__prc_set *r, int64_t d, const double *r2_g,
                          const double *r2_r, float *G, unsigned char *in_g, unsigned char *in_r) {
    const int64_t nr = r->n;
    int64_t i0, i, c;
    memset(in_g, 0, (size_t)g->n);
    memset(in_r, 0, (size_t)nr);
    for (i0 = 0; i0 < g->n; i0 += NG__PRC_BLOCK) {
        const int64_t nb = g->n - i0 < NG__PRC_BLOCK ? g->n - i0 : NG__PRC_BLOCK;
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, nb, nr, d, 1.0f, g->x + i0 * d, d, r->x, d, 0.0f, G, nr);
        NG__OMP_FOR(nb * nr >= 65536)
        for (i = 0; i < nb; i++) {
            const float *dot = G + i * nr;
            const double ni = g->norm2[i0 + i];
            int64_t j;
            for (j = 0; j < nr; j++)
                if (ng__prc_d2(ni, r->norm2[j], dot[j]) <= r2_r[j]) { in_g[i0 + i] = 1; break; }
        }
        NG__OMP_FOR(nb * nr >= 65536)
        for (c = 0; c < nr; c += NG__PRC_CHUNK) {
            const int64_t c1 = nr - c < NG__PRC_CHUNK ? nr : c + NG__PRC_CHUNK;
            int64_t b, j;
            for (b = 0; b < nb; b++) {
                const float *dot = G + b * nr;
                const double nb2 = g->norm2[i0 + b], rb2 = r2_g[i0 + b];
                for (j = c; j < c1; j++)
                    if (!in_r[j] && ng__prc_d2(nb2, r->norm2[j], dot[j]) <= rb2) in_r[j] = 1;
            }
        }
    }
}

static int64_t ng__count_set(const unsigned char *flag, int64_t n) {
    int64_t i, c = 0;
    for (i = 0; i < n; i++) c += flag[i];
    return c;
}

ng_status ng_metric_prc(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d, int k,
                        double *precision, double *recall) {
    ng__prc_set r, g;
    float *G = NULL;
    double *lists = NULL, *r2_real = NULL, *r2_gen = NULL;
    unsigned char *inside = NULL;
    int64_t nmax, rows;
    ng_status st;
    memset(&r, 0, sizeof r);
    memset(&g, 0, sizeof g);
    if (k <= 0) k = 3;
    if (!real || !gen || !precision || !recall) return ng_fail(NG_ERR_ARG, "precision/recall: NULL argument");
    if (d < 1 || d > ((int64_t)1 << 24)) return ng_fail(NG_ERR_ARG, "precision/recall: D = %lld is out of range", (long long)d);
    if (n_real <= k || n_gen <= k || n_real > ((int64_t)1 << 40) || n_gen > ((int64_t)1 << 40))
        return ng_fail(NG_ERR_ARG,
                       "precision/recall: k = %d needs more than k rows on each side (a radius is the distance to "
                       "the k-th nearest other row); got %lld real and %lld generated",
                       k, (long long)n_real, (long long)n_gen);
    if ((st = ng__check_finite_f32(real, n_real, d, "precision/recall: real features")) != NG_OK) return st;
    if ((st = ng__check_finite_f32(gen, n_gen, d, "precision/recall: generated features")) != NG_OK) return st;
    nmax = n_real > n_gen ? n_real : n_gen;
    rows = nmax < NG__PRC_BLOCK ? nmax : NG__PRC_BLOCK;
    G = ng__alloc_ff(rows, nmax, "precision/recall");
    lists = G ? ng__alloc_dd(nmax, k, "precision/recall") : NULL;
    r2_real = lists ? ng__alloc_dd(n_real, 1, "precision/recall") : NULL;
    r2_gen = r2_real ? ng__alloc_dd(n_gen, 1, "precision/recall") : NULL;
    inside = r2_gen ? (unsigned char *)malloc((size_t)(n_real + n_gen)) : NULL;
    if (r2_gen && !inside) ng_fail(NG_ERR_NOMEM, "precision/recall: out of memory");
    st = inside ? ng__prc_centre(real, n_real, gen, n_gen, d, &r, &g) : NG_ERR_NOMEM;
    if (st == NG_OK) {
        ng__prc_radii(&r, d, k, G, lists, r2_real);
        ng__prc_radii(&g, d, k, G, lists, r2_gen);
        ng__prc_cross(&g, &r, d, r2_gen, r2_real, G, inside + n_real, inside);
        *precision = (double)ng__count_set(inside + n_real, n_gen) / (double)n_gen;
        *recall = (double)ng__count_set(inside, n_real) / (double)n_real;
    }
    ng__prc_set_free(&r);
    ng__prc_set_free(&g);
    free(G); free(lists); free(r2_real); free(r2_gen); free(inside);
    return st;
}

/* Precision/recall inside the evaluation layers: off when prc_k < 0 or without real features;
   skipped (has_prc = 0) rather than failed when a side has no more than k rows. */
static ng_status ng__eval_prc(const float *gen_features, int64_t n_gen, const float *real_features, int64_t n_real,
                              int64_t d, int prc_k, ng_eval_result *out) {
    const int k = prc_k == 0 ? 3 : prc_k;
    ng_status st;
    if (prc_k < 0 || !real_features || n_gen <= k || n_real <= k) return NG_OK;
    st = ng_metric_prc(real_features, n_real, gen_features, n_gen, d, k, &out->precision, &out->recall);
    out->has_prc = st == NG_OK;
    return st;
}

/* ---- offline evaluation with the Fashion-MNIST CNN ---- */

static ng_status ng__u8_fill(const ng_image_source *src, int64_t first, int64_t count, float *out) {
    int64_t per = (int64_t)(src->channels > 1 ? src->channels : 1) * src->size * src->size;
    const unsigned char *px = (const unsigned char *)src->user + first * per;
    int64_t i, n = count * per;
    for (i = 0; i < n; i++) out[i] = (float)px[i] * (2.0f / 255.0f) - 1.0f;
    return NG_OK;
}

ng_image_source ng_image_source_u8_planes(const unsigned char *pixels, int64_t n, int channels, int size) {
    ng_image_source s;
    s.fill = ng__u8_fill;
    s.user = (void *)(uintptr_t)pixels;          /* read only: ng__u8_fill never writes */
    s.n = n;
    s.size = size;
    s.channels = channels;
    return s;
}

ng_image_source ng_image_source_u8(const unsigned char *pixels, int64_t n, int size) {
    return ng_image_source_u8_planes(pixels, n, 1, size);
}

static uint32_t ng__crc_f32s(uint32_t crc, const float *x, int64_t n) {
    unsigned char b[4 * 256];
    int64_t i0, i;
    for (i0 = 0; i0 < n; i0 += 256) {
        int64_t m = n - i0 < 256 ? n - i0 : 256;
        for (i = 0; i < m; i++) ng__le32(b + 4 * i, ng__f32_bits(x[i0 + i]));
        crc = ng_crc32(crc, b, (size_t)(4 * m));
    }
    return crc;
}

/* The CRC of a group's values; a GPU group's are read from its host mirror, refreshed first. */
static uint32_t ng__crc_params(uint32_t crc, ng_params *g) {
    if (g->device != NG_CUDA) return ng__crc_f32s(crc, g->data, g->numel);
    ng_params_sync_host(g);
    return ng__crc_f32s(crc, g->host_data, g->numel);
}

void ng_fmnist_cnn_identity(const ng_fmnist_cnn *net, char *buf, size_t cap) {
    uint32_t crc = 0;
    if (!buf || cap == 0) return;
    if (net) crc = ng__crc_params(ng__crc_params(crc, net->weights), net->buffers);
    snprintf(buf, cap, "fmnist_cnn/fc1_relu%d/crc32=%08x", NG_FMNIST_FEATURES, (unsigned)crc);
}

/* Per-image bytes of the no-tape forward in the step arena, with margin (measured: 0.61 MB
   per image at batch 1, 0.49 MB at batch 256, most of it the 32-channel 28x28 maps and the
   convolution's scratch). Untouched arena pages cost no memory. Should a change to the ops
   need more, the batch is retried with an arena twice as large (twice). */
#ifndef NG__EMBED_BYTES_PER_IMAGE
#define NG__EMBED_BYTES_PER_IMAGE ((size_t)1024 * 1024)
#endif

ng_status ng_fmnist_cnn_embed(ng_fmnist_cnn *net, const ng_image_source *src, int batch, float *features,
                              float *logits) {
    ng_ctx *ctx;
    float *raw = NULL;
    int64_t first, off;
    size_t arena;
    int size, retries = 0;
    ng_status st = NG_OK;
    if (!net || !src || !src->fill || src->n < 0) return ng_fail(NG_ERR_ARG, "fmnist embed: NULL network or source");
    if (src->channels > 1)
        return ng_fail(NG_ERR_ARG, "fmnist embed: the source has %d channels; the Fashion-MNIST CNN takes grayscale images",
                       src->channels);
    size = src->size;
    if (size < 28 || (size - 28) % 2 != 0 || size > 4096)
        return ng_fail(NG_ERR_ARG, "fmnist embed: images are %dx%d; 28x28 or a larger size with an even margin (32x32) expected",
                       size, size);
    if (batch <= 0) batch = 256;
    if (src->n == 0) return NG_OK;
    if (batch > src->n) batch = (int)src->n;
    off = (size - 28) / 2;
    arena = (size_t)batch * NG__EMBED_BYTES_PER_IMAGE + ((size_t)4 << 20);
    ctx = ng_ctx_create_on(arena, 0, (ng_device)net->weights->device);   /* where the CNN is */
    if (!ctx) return NG_ERR_NOMEM;
    ctx->training = 0;
    ctx->no_grad = 1;
    if (size != 28) {
        raw = (float *)malloc((size_t)batch * (size_t)size * (size_t)size * sizeof(float));
        if (!raw) { ng_ctx_free(ctx); return ng_fail(NG_ERR_NOMEM, "fmnist embed: out of memory"); }
    }
    for (first = 0; first < src->n && st == NG_OK;) {
        int64_t b = src->n - first < batch ? src->n - first : batch, i, y;
        ng_tensor *x, *feat = NULL, *lg = NULL;
        float *hx;
        const float *hf = NULL, *hl = NULL;
        ng_ctx_reset(ctx);
        x = ng_tensor_new(ctx, ng_shape4(b, 1, 28, 28));
        if ((hx = ng_tensor_host_write(ctx, x)) != NULL) {
            st = src->fill(src, first, b, raw ? raw : hx);
            if (st != NG_OK) break;
            if (raw)                                 /* centre crop */
                for (i = 0; i < b; i++)
                    for (y = 0; y < 28; y++)
                        memcpy(hx + (i * 28 + y) * 28, raw + (i * size + y + off) * size + off, 28 * sizeof(float));
            if ((st = ng__check_finite_f32(hx, b, 28 * 28, "fmnist embed: generated images")) != NG_OK) break;
            if (ng_tensor_host_done(x, hx) == NG_OK) lg = ng_fmnist_cnn_forward(ctx, net, x, &feat);
        }
        if (lg && feat && (!(hf = ng_tensor_host_read(ctx, feat)) || !(hl = ng_tensor_host_read(ctx, lg)))) lg = NULL;
        if (!lg || !feat) {
            ng_status cs = ng_ctx_status(ctx) != NG_OK ? ng_ctx_status(ctx) : NG_ERR_NOMEM;
            if (cs == NG_ERR_NOMEM && retries++ < 2) {   /* arena too small: grow and redo */
                ng_ctx_free(ctx);
                ng_clear_error();
                arena *= 2;
                ctx = ng_ctx_create_on(arena, 0, (ng_device)net->weights->device);
                if (!ctx) { free(raw); return NG_ERR_NOMEM; }
                ctx->training = 0;
                ctx->no_grad = 1;
                continue;
            }
            st = ng_fail(cs, "fmnist embed: forward failed at image %lld: %s", (long long)first, ng_status_str(cs));
            break;
        }
        if (features) memcpy(features + first * NG_FMNIST_FEATURES, hf, (size_t)(b * NG_FMNIST_FEATURES) * sizeof(float));
        if (logits) memcpy(logits + first * NG_FMNIST_CLASSES, hl, (size_t)(b * NG_FMNIST_CLASSES) * sizeof(float));
        first += b;
    }
    free(raw);
    ng_ctx_free(ctx);
    return st;
}

ng_status ng_fmnist_stats(ng_fmnist_cnn *net, const ng_image_source *src, int batch, ng_feat_stats *out) {
    char id[NG_FEAT_ID_MAX];
    float *f;
    ng_status st;
    if (!src || src->n < 2 || !out) return ng_fail(NG_ERR_ARG, "fmnist stats: needs at least 2 images");
    f = (float *)malloc((size_t)src->n * NG_FMNIST_FEATURES * sizeof(float));
    if (!f) return ng_fail(NG_ERR_NOMEM, "fmnist stats: out of memory");
    ng_fmnist_cnn_identity(net, id, sizeof id);
    st = ng_fmnist_cnn_embed(net, src, batch, f, NULL);
    if (st == NG_OK) st = ng_feat_stats_compute(out, f, src->n, NG_FMNIST_FEATURES, id);
    free(f);
    return st;
}

ng_status ng_fmnist_evaluate(ng_fmnist_cnn *net, const ng_image_source *gen, const ng_feat_stats *real,
                             const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                             ng_eval_result *out) {
    ng_eval_opts o;
    char id[NG_FEAT_ID_MAX];
    float *f = NULL, *lg = NULL;
    ng_feat_stats gs;
    ng_rng rng;
    ng_status st;
    memset(&gs, 0, sizeof gs);
    if (!net || !gen || !real || !out) return ng_fail(NG_ERR_ARG, "fmnist evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    if (opts) o = *opts; else memset(&o, 0, sizeof o);
    ng_fmnist_cnn_identity(net, id, sizeof id);
    if (!real->finished || real->d != NG_FMNIST_FEATURES)
        return ng_fail(NG_ERR_ARG, "fmnist evaluate: real statistics not finished or not %d-d", NG_FMNIST_FEATURES);
    if (strcmp(real->net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "fmnist evaluate: real statistics are from '%s', this network is '%s'", real->net_id, id);
    if (gen->n < 2) return ng_fail(NG_ERR_ARG, "fmnist evaluate: needs at least 2 generated images");
    f = (float *)malloc((size_t)gen->n * NG_FMNIST_FEATURES * sizeof(float));
    lg = (float *)malloc((size_t)gen->n * NG_FMNIST_CLASSES * sizeof(float));
    if (!f || !lg) { st = ng_fail(NG_ERR_NOMEM, "fmnist evaluate: out of memory"); goto done; }
    st = ng_fmnist_cnn_embed(net, gen, o.batch, f, lg);
    if (st == NG_OK) st = ng_feat_stats_compute(&gs, f, gen->n, NG_FMNIST_FEATURES, id);
    if (st == NG_OK) st = ng_metric_fid(&gs, real, &out->fid);
    ng_rng_seed(&rng, o.seed);
    if (st == NG_OK && real_features) {
        st = ng_metric_kid(f, gen->n, real_features, n_real_features, NG_FMNIST_FEATURES, o.kid_subsets,
                           o.kid_subset_size, &rng, &out->kid_mean, &out->kid_std);
        out->has_kid = st == NG_OK;
    }
    if (st == NG_OK) st = ng__eval_prc(f, gen->n, real_features, n_real_features, NG_FMNIST_FEATURES, o.prc_k, out);
    if (st == NG_OK)
        st = ng_metric_is_logits(lg, gen->n, NG_FMNIST_CLASSES, o.is_splits, o.is_shuffle ? &rng : NULL, &out->is_mean,
                                 &out->is_std);
    out->n = gen->n;
    out->n_real = real->n;
done:
    ng_feat_stats_free(&gs);
    free(f);
    free(lg);
    return st;
}

/* ---- src/npz.c ---- */
/* ======================================================================================== */
/* @@NPZ                                                                                    */
/* ======================================================================================== */

static uint32_t ng__rd16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static void ng__le16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

void ng_npy_free(ng_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- .npy header: a Python dict literal such as
   {'descr': '<f8', 'fortran_order': False, 'shape': (2048, 2048), }                      ---- */
typedef struct ng__npy_hdr {
    const char *p, *end;    /* cursor and end of the header text */
    char descr[16];
    int fortran, have_descr, have_order, have_shape, ndim;
    int64_t shape[NG_NPY_MAX_DIMS];
} ng__npy_hdr;

static void ng__npy_space(ng__npy_hdr *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}
static int ng__npy_take(ng__npy_hdr *h, char c) {
    ng__npy_space(h);
    if (h->p < h->end && *h->p == c) { h->p++; return 1; }
    return 0;
}
/* a quoted string into out (cap bytes); 0 if malformed or too long */
static int ng__npy_string(ng__npy_hdr *h, char *out, size_t cap) {
    char q;
    size_t l = 0;
    ng__npy_space(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    q = *h->p++;
    while (h->p < h->end && *h->p != q) {
        if (l + 1 >= cap) return 0;
        out[l++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    out[l] = '\0';
    return 1;
}
static int ng__npy_word(ng__npy_hdr *h, const char *w) {
    size_t l = strlen(w);
    ng__npy_space(h);
    if ((size_t)(h->end - h->p) < l || memcmp(h->p, w, l) != 0) return 0;
    h->p += l;
    return 1;
}
/* (a, b, ...) with an optional trailing comma; () is a 0-d array */
static int ng__npy_shape(ng__npy_hdr *h) {
    h->ndim = 0;
    if (!ng__npy_take(h, '(')) return 0;
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        if (ng__npy_take(h, ')')) return 1;
        if (h->ndim == NG_NPY_MAX_DIMS) return 0;
        ng__npy_space(h);
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return 0;
            v = v * 10 + (*h->p++ - '0');
            digits++;
        }
        if (h->p < h->end && *h->p == 'L') h->p++;   /* Python 2's long literals */
        if (!digits) return 0;
        h->shape[h->ndim++] = v;
        if (!ng__npy_take(h, ',')) return ng__npy_take(h, ')');
    }
}
static ng_status ng__npy_header(ng__npy_hdr *h, const char *name) {
    if (!ng__npy_take(h, '{')) return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header is not a dict", name);
    for (;;) {
        char key[32];
        if (ng__npy_take(h, '}')) break;
        if (!ng__npy_string(h, key, sizeof key) || !ng__npy_take(h, ':'))
            return ng_fail(NG_ERR_FORMAT, "'%s': malformed .npy header near offset %d", name, (int)(h->end - h->p));
        if (!strcmp(key, "descr") && !h->have_descr) {
            if (!ng__npy_string(h, h->descr, sizeof h->descr))
                return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'descr' is not a plain dtype string (structured arrays are not supported)", name);
            h->have_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !h->have_order) {
            if (ng__npy_word(h, "True")) h->fortran = 1;
            else if (ng__npy_word(h, "False")) h->fortran = 0;
            else return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'fortran_order' is neither True nor False", name);
            h->have_order = 1;
        } else if (!strcmp(key, "shape") && !h->have_shape) {
            if (!ng__npy_shape(h))
                return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'shape' is not a tuple of at most %d sizes", name, NG_NPY_MAX_DIMS);
            h->have_shape = 1;
        } else {
            return ng_fail(NG_ERR_FORMAT, "'%s': unexpected or repeated key '%s' in the .npy header", name, key);
        }
        if (!ng__npy_take(h, ',')) {
            if (!ng__npy_take(h, '}')) return ng_fail(NG_ERR_FORMAT, "'%s': malformed .npy header", name);
            break;
        }
    }
    if (!h->have_descr || !h->have_order || !h->have_shape)
        return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header lacks '%s'", name,
                       !h->have_descr ? "descr" : !h->have_order ? "fortran_order" : "shape");
    return NG_OK;
}

static double ng__npy_value(const unsigned char *p, int size, int big_endian) {
    unsigned char b[8];
    int i;
    for (i = 0; i < size; i++) b[i] = big_endian ? p[size - 1 - i] : p[i];
    if (size == 4) {
        float f;
        memcpy(&f, b, 4);
        return (double)f;
    } else {
        double d;
        memcpy(&d, b, 8);
        return d;
    }
}

ng_status ng_npy_parse(const unsigned char *buf, size_t n, const char *name, ng_npy *out) {
    ng__npy_hdr h;
    size_t hlen, off, count = 1, bytes;
    int major, size, big, i;
    int64_t k;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "npy_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (!buf || n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npy array: it does not start with \\x93NUMPY", name);
    major = buf[6];
    if (major < 1 || major > 3) return ng_fail(NG_ERR_FORMAT, "'%s': .npy format version %d.%d is not supported (1-3)", name, major, buf[7]);
    if (major == 1) { hlen = ng__rd16(buf + 8); off = 10; }
    else if (n < 12) return ng_fail(NG_ERR_FORMAT, "'%s': truncated .npy header", name);
    else { hlen = ng__rd32(buf + 8); off = 12; }
    if (hlen > n - off) return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header (%zu bytes) runs past the end of the %zu-byte array", name, hlen, n);
    memset(&h, 0, sizeof h);
    h.p = (const char *)buf + off;
    h.end = h.p + hlen;
    if ((st = ng__npy_header(&h, name)) != NG_OK) return st;
    if (strlen(h.descr) != 3 || (h.descr[0] != '<' && h.descr[0] != '>' && h.descr[0] != '=') || h.descr[1] != 'f' ||
        (h.descr[2] != '4' && h.descr[2] != '8'))
        return ng_fail(NG_ERR_FORMAT, "'%s': .npy dtype '%s' is not supported (float32 or float64: '<f4', '<f8', '>f4', '>f8')", name, h.descr);
    size = h.descr[2] - '0';
    big = h.descr[0] == '>';   /* '=' is native: numpy writes it only on little-endian machines */
    off += hlen;
    for (i = 0; i < h.ndim; i++)
        if ((uint64_t)h.shape[i] > (uint64_t)SIZE_MAX || ng_mul_size(count, (size_t)h.shape[i], &count))
            return ng_fail(NG_ERR_FORMAT, "'%s': .npy shape overflows", name);
    if (ng_mul_size(count, (size_t)size, &bytes))
        return ng_fail(NG_ERR_FORMAT, "'%s': .npy shape overflows", name);
    if (bytes != n - off)
        return ng_fail(NG_ERR_FORMAT, "'%s': the .npy data is %zu bytes, its shape and dtype '%s' need %zu", name, n - off, h.descr, bytes);
    out->data = (double *)malloc((count ? count : 1) * sizeof(double));
    if (!out->data) return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %zu doubles", name, count);
    out->ndim = h.ndim;
    for (i = 0; i < h.ndim; i++) out->shape[i] = h.shape[i];
    out->count = (int64_t)count;
    /* Fortran order: element (i0, .., id-1) sits at sum i_j * prod_{l<j} shape_l; walk the C
       order index and keep the Fortran offset alongside */
    for (k = 0; k < (int64_t)count; k++) {
        size_t src = (size_t)k;
        if (h.fortran && h.ndim > 1) {
            int64_t rest = k, stride = 1;
            int j;
            int64_t idx[NG_NPY_MAX_DIMS] = {0};
            for (j = h.ndim - 1; j >= 0; j--) { idx[j] = rest % h.shape[j]; rest /= h.shape[j]; }
            src = 0;
            for (j = 0; j < h.ndim; j++) { src += (size_t)(idx[j] * stride); stride *= h.shape[j]; }
        }
        out->data[k] = ng__npy_value(buf + off + src * (size_t)size, size, big);
    }
    return NG_OK;
}

/* ---- ZIP (PKWARE APPNOTE 6.3): the end record, the central directory, one member ---- */
typedef struct ng__zip_entry {
    const unsigned char *name;
    size_t name_len;
    uint32_t flags, method, crc;
    uint64_t csize, usize, local;   /* compressed and uncompressed sizes, local header offset */
} ng__zip_entry;

typedef struct ng__zip_dir {
    uint64_t count, offset, size;   /* central directory: entries, start, bytes */
} ng__zip_dir;

static ng_status ng__zip_find_dir(const unsigned char *b, size_t n, const char *name, ng__zip_dir *dir) {
    size_t at, lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
    int found = 0;
    if (n < 22) return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npz (ZIP) archive: %zu bytes", name, n);
    for (at = n - 22;; at--) {   /* the last end record whose comment ends the file */
        if (memcmp(b + at, "PK\5\6", 4) == 0 && at + 22 + ng__rd16(b + at + 20) == n) { found = 1; break; }
        if (at == lowest) break;
    }
    if (!found) return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npz (ZIP) archive: no end of central directory record", name);
    dir->count = ng__rd16(b + at + 10);
    dir->size = ng__rd32(b + at + 12);
    dir->offset = ng__rd32(b + at + 16);
    if (dir->count == 0xffff || dir->size == 0xffffffffu || dir->offset == 0xffffffffu) {   /* ZIP64 */
        uint64_t z;
        if (at < 20 || memcmp(b + at - 20, "PK\6\7", 4) != 0)
            return ng_fail(NG_ERR_FORMAT, "'%s': ZIP64 fields without a ZIP64 end of central directory locator", name);
        z = ng__rd64(b + at - 20 + 8);
        if (n < 56 || z > n - 56 || memcmp(b + z, "PK\6\6", 4) != 0)
            return ng_fail(NG_ERR_FORMAT, "'%s': the ZIP64 end of central directory record is missing", name);
        dir->count = ng__rd64(b + z + 32);
        dir->size = ng__rd64(b + z + 40);
        dir->offset = ng__rd64(b + z + 48);
    }
    if (dir->offset > n || dir->size > n - dir->offset)
        return ng_fail(NG_ERR_FORMAT, "'%s': the central directory (offset %llu, %llu bytes) lies outside the %zu-byte file", name,
                       (unsigned long long)dir->offset, (unsigned long long)dir->size, n);
    return NG_OK;
}

/* The central directory entry at *pos (advanced past it). ZIP64 extra fields replace the
   sizes and offset that are 0xffffffff, in that order. */
static ng_status ng__zip_entry_at(const unsigned char *b, size_t end, size_t *pos, const char *name, ng__zip_entry *e) {
    const unsigned char *p = b + *pos, *x, *xend;
    size_t elen, clen;
    if (end - *pos < 46 || memcmp(p, "PK\1\2", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': bad central directory entry at offset %zu", name, *pos);
    e->flags = ng__rd16(p + 8);
    e->method = ng__rd16(p + 10);
    e->crc = ng__rd32(p + 16);
    e->csize = ng__rd32(p + 20);
    e->usize = ng__rd32(p + 24);
    e->name_len = ng__rd16(p + 28);
    elen = ng__rd16(p + 30);
    clen = ng__rd16(p + 32);
    e->local = ng__rd32(p + 42);
    if (end - *pos - 46 < e->name_len + elen + clen)
        return ng_fail(NG_ERR_FORMAT, "'%s': central directory entry at offset %zu runs past the directory", name, *pos);
    e->name = p + 46;
    x = e->name + e->name_len;
    xend = x + elen;
    while (xend - x >= 4) {
        uint32_t id = ng__rd16(x), len = ng__rd16(x + 2);
        const unsigned char *v = x + 4;
        if ((size_t)(xend - v) < len) break;
        if (id == 1) {
            const unsigned char *vend = v + len;
            uint64_t *fields[3];
            int f;
            fields[0] = &e->usize; fields[1] = &e->csize; fields[2] = &e->local;
            for (f = 0; f < 3; f++) {
                if (*fields[f] != 0xffffffffu) continue;
                if (vend - v < 8) return ng_fail(NG_ERR_FORMAT, "'%s': short ZIP64 extra field at offset %zu", name, *pos);
                *fields[f] = ng__rd64(v);
                v += 8;
            }
        }
        x += 4 + len;
    }
    *pos += 46 + e->name_len + elen + clen;
    return NG_OK;
}

/* inflate a raw deflate stream of exactly `usize` bytes */
static ng_status ng__zip_inflate(const unsigned char *in, size_t csize, unsigned char *out, size_t usize, const char *name,
                                 const char *member) {
#ifdef NG_NO_ZLIB
    (void)in; (void)csize; (void)out; (void)usize;
    return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' is compressed and this build has no zlib (NG_NO_ZLIB); "
                   "save it with np.savez instead of np.savez_compressed", name, member);
#else
    z_stream zs;
    int ret;
    unsigned char spare;
    memset(&zs, 0, sizeof zs);
    if (csize > 0xffffffffu || usize > 0xffffffffu)
        return ng_fail(NG_ERR_UNSUPPORTED, "'%s': compressed member '%s' is larger than 4 GiB", name, member);
    if (inflateInit2(&zs, -15) != Z_OK) return ng_fail(NG_ERR_NOMEM, "'%s': zlib initialisation failed", name);
    zs.next_in = (Bytef *)(uintptr_t)in;   /* zlib does not write through next_in */
    zs.avail_in = (uInt)csize;
    zs.next_out = usize ? out : &spare;
    zs.avail_out = usize ? (uInt)usize : 1;
    ret = inflate(&zs, Z_FINISH);
    if (ret == Z_STREAM_END && zs.total_out == usize) {
        inflateEnd(&zs);
        return NG_OK;
    }
    inflateEnd(&zs);
    if (ret == Z_STREAM_END || ret == Z_BUF_ERROR)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' does not inflate to the %zu bytes its directory entry gives", name, member, usize);
    return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has corrupt compressed data: %s", name, member, zs.msg ? zs.msg : "invalid data");
#endif
}

/* the bytes of member `e` (malloc'd), its local header checked, inflated, CRC-checked */
static ng_status ng__zip_extract(const unsigned char *b, size_t n, const char *name, const ng__zip_entry *e, const char *member,
                                 unsigned char **out) {
    const unsigned char *lh, *data;
    size_t skip;
    ng_status st = NG_OK;
    *out = NULL;
    if (e->flags & 1) return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' is encrypted", name, member);
    if (e->method != 0 && e->method != 8)
        return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' uses ZIP compression method %u (only stored and deflate are read)", name,
                       member, (unsigned)e->method);
    if (e->local > n || n - e->local < 30 || memcmp(b + e->local, "PK\3\4", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has no local header at offset %llu", name, member, (unsigned long long)e->local);
    lh = b + e->local;
    skip = 30 + (size_t)ng__rd16(lh + 26) + ng__rd16(lh + 28);
    if (n - e->local < skip || e->csize > n - e->local - skip)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' (%llu bytes) runs past the end of the file", name, member,
                       (unsigned long long)e->csize);
    data = lh + skip;
    if (e->usize > NG_NPZ_MAX_BYTES || (e->method == 0 && e->usize != e->csize))
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has an impossible size (%llu bytes)", name, member, (unsigned long long)e->usize);
    if (e->method == 8 && e->csize < 2 && e->usize > 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has no compressed data", name, member);
    /* deflate expands by at most ~1032:1: a larger claim is corrupt, and would only waste memory */
    if (e->method == 8 && e->usize / 1032 > e->csize)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' claims %llu bytes from %llu compressed", name, member,
                       (unsigned long long)e->usize, (unsigned long long)e->csize);
    *out = (unsigned char *)malloc(e->usize ? (size_t)e->usize : 1);
    if (!*out) return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %llu bytes for member '%s'", name, (unsigned long long)e->usize, member);
    if (e->method == 0) memcpy(*out, data, (size_t)e->usize);
    else st = ng__zip_inflate(data, (size_t)e->csize, *out, (size_t)e->usize, name, member);
    if (st == NG_OK && ng_crc32(0, *out, (size_t)e->usize) != e->crc)
        st = ng_fail(NG_ERR_FORMAT, "'%s': member '%s' fails its CRC-32 check (corrupt file)", name, member);
    if (st != NG_OK) { free(*out); *out = NULL; }
    return st;
}

ng_status ng_npz_parse_member(const unsigned char *buf, size_t n, const char *name, const char *key, ng_npy *out) {
    ng__zip_dir dir = {0, 0, 0};
    ng__zip_entry e;
    char want[256], seen[512];
    size_t pos, end, klen, used = 0;
    uint64_t i;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "npz: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (!buf || !key || !key[0]) return ng_fail(NG_ERR_ARG, "npz '%s': NULL buffer or empty key", name);
    klen = strlen(key);
    if (klen + 5 > sizeof want) return ng_fail(NG_ERR_ARG, "npz '%s': key too long", name);
    memcpy(want, key, klen + 1);
    if (klen < 4 || strcmp(key + klen - 4, ".npy") != 0) memcpy(want + klen, ".npy", 5);
    if ((st = ng__zip_find_dir(buf, n, name, &dir)) != NG_OK) return st;
    seen[0] = '\0';
    memset(&e, 0, sizeof e);
    pos = (size_t)dir.offset;
    end = (size_t)(dir.offset + dir.size);
    for (i = 0; i < dir.count; i++) {
        if ((st = ng__zip_entry_at(buf, end, &pos, name, &e)) != NG_OK) return st;
        if (e.name_len == strlen(want) && memcmp(e.name, want, e.name_len) == 0) {
            unsigned char *member;
            if ((st = ng__zip_extract(buf, n, name, &e, want, &member)) != NG_OK) return st;
            {
                char label[4352];
                snprintf(label, sizeof label, "%s:%s", name, want);
                st = ng_npy_parse(member, (size_t)e.usize, label, out);
            }
            free(member);
            return st;
        }
        if (used + e.name_len + 5 < sizeof seen) {
            used += (size_t)snprintf(seen + used, sizeof seen - used, "%s'%.*s'", used ? ", " : "", (int)e.name_len, (const char *)e.name);
        }
    }
    return ng_fail(NG_ERR_FORMAT, "'%s' has no array '%s' (members: %s)", name, key, used ? seen : "none");
}

ng_status ng_npz_load_member(const char *path, const char *key, ng_npy *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!path) return ng_fail(NG_ERR_ARG, "npz: NULL path");
    if ((st = ng_file_read_all(path, NG_NPZ_MAX_BYTES, &buf, &n)) != NG_OK) return st;
    st = ng_npz_parse_member(buf, n, path, key, out);
    free(buf);
    return st;
}

/* ---- writer ---- */

/* the .npy header for a '<f8' C-order array, padded with spaces and ended by '\n' so that
   magic + version + length + header is a multiple of 64 (numpy's alignment); returns its
   total length including the 10 leading bytes, or 0 if it does not fit */
static size_t ng__npy_write_header(unsigned char *out, size_t cap, const ng_npy *a) {
    char dict[512];
    size_t l, total;
    int i;
    l = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (i = 0; i < a->ndim; i++) l += (size_t)snprintf(dict + l, sizeof dict - l, "%lld%s", (long long)a->shape[i], a->ndim == 1 ? "," : i + 1 < a->ndim ? ", " : "");
    l += (size_t)snprintf(dict + l, sizeof dict - l, "), }");
    total = (10 + l + 1 + 63) / 64 * 64;
    if (total > cap || total - 10 > 0xffff) return 0;
    memcpy(out, "\x93NUMPY\1\0", 8);
    ng__le16(out + 8, (uint32_t)(total - 10));
    memcpy(out + 10, dict, l);
    memset(out + 10 + l, ' ', total - 10 - l - 1);
    out[total - 1] = '\n';
    return total;
}

ng_status ng_npz_save(const char *path, int count, const char *const *keys, const ng_npy *arrays) {
    unsigned char *buf, *p;
    size_t total = 22, *offs, *sizes, i;
    uint32_t *crcs;
    ng_status st;
    if (!path || count < 1 || count > 0xffff || !keys || !arrays) return ng_fail(NG_ERR_ARG, "npz_save: bad arguments");
    for (i = 0; i < (size_t)count; i++) {
        size_t bytes;
        if (!keys[i] || !keys[i][0] || strlen(keys[i]) > 200 || arrays[i].ndim < 0 || arrays[i].ndim > NG_NPY_MAX_DIMS ||
            (!arrays[i].data && arrays[i].count > 0) || ng_mul_size((size_t)arrays[i].count, 8, &bytes) || bytes > 0xf0000000u)
            return ng_fail(NG_ERR_ARG, "npz_save '%s': bad array %zu", path, i);
        total += 2 * (30 + strlen(keys[i]) + 4) + 16 + 512 + bytes;   /* local + central headers, npy header */
        if (total > 0xf0000000u) return ng_fail(NG_ERR_ARG, "npz_save '%s': larger than 4 GiB (ZIP64 is not written)", path);
    }
    buf = (unsigned char *)malloc(total);
    offs = (size_t *)malloc((size_t)count * sizeof *offs);
    sizes = (size_t *)malloc((size_t)count * sizeof *sizes);
    crcs = (uint32_t *)malloc((size_t)count * sizeof *crcs);
    if (!buf || !offs || !sizes || !crcs) {
        free(buf); free(offs); free(sizes); free(crcs);
        return ng_fail(NG_ERR_NOMEM, "npz_save '%s': cannot allocate %zu bytes", path, total);
    }
    p = buf;
    for (i = 0; i < (size_t)count; i++) {   /* local header, then the .npy bytes */
        const ng_npy *a = &arrays[i];
        size_t nl = strlen(keys[i]) + 4, h;
        unsigned char *npy = p + 30 + nl;
        int64_t k;
        offs[i] = (size_t)(p - buf);
        h = ng__npy_write_header(npy, 512, a);
        if (h == 0) {   /* cannot happen within NG_NPY_MAX_DIMS sizes; kept as a guard */
            free(buf); free(offs); free(sizes); free(crcs);
            return ng_fail(NG_ERR_ARG, "npz_save '%s': array %zu's header does not fit", path, i);
        }
        for (k = 0; k < a->count; k++) { uint64_t u; memcpy(&u, &a->data[k], 8); ng__le64(npy + h + 8 * (size_t)k, u); }
        sizes[i] = h + 8 * (size_t)a->count;
        crcs[i] = ng_crc32(0, npy, sizes[i]);
        memcpy(p, "PK\3\4", 4);
        ng__le16(p + 4, 20);                   /* version needed: 2.0 */
        ng__le16(p + 6, 0);                    /* flags */
        ng__le16(p + 8, 0);                    /* stored */
        ng__le16(p + 10, 0);                   /* time 00:00:00 */
        ng__le16(p + 12, 0x21);                /* date 1980-01-01: fixed, so output is reproducible */
        ng__le32(p + 14, crcs[i]);
        ng__le32(p + 18, (uint32_t)sizes[i]);
        ng__le32(p + 22, (uint32_t)sizes[i]);
        ng__le16(p + 26, (uint32_t)nl);
        ng__le16(p + 28, 0);
        memcpy(p + 30, keys[i], nl - 4);
        memcpy(p + 30 + nl - 4, ".npy", 4);
        p = npy + sizes[i];
    }
    {
        unsigned char *cd = p;
        for (i = 0; i < (size_t)count; i++) {
            size_t nl = strlen(keys[i]) + 4;
            memcpy(p, "PK\1\2", 4);
            ng__le16(p + 4, 0x314);            /* made by: Unix, 2.0 (as Python's zipfile) */
            memcpy(p + 6, buf + offs[i] + 4, 26);   /* version needed .. name length, as the local header */
            ng__le16(p + 30, 0);               /* extra */
            ng__le16(p + 32, 0);               /* comment */
            ng__le16(p + 34, 0);               /* disk */
            ng__le16(p + 36, 0);               /* internal attributes */
            ng__le32(p + 38, 0600u << 16);      /* external: -rw------- */
            ng__le32(p + 42, (uint32_t)offs[i]);
            memcpy(p + 46, buf + offs[i] + 30, nl);
            p += 46 + nl;
        }
        memcpy(p, "PK\5\6", 4);
        ng__le16(p + 4, 0);
        ng__le16(p + 6, 0);
        ng__le16(p + 8, (uint32_t)count);
        ng__le16(p + 10, (uint32_t)count);
        ng__le32(p + 12, (uint32_t)(p - cd));
        ng__le32(p + 16, (uint32_t)(cd - buf));
        ng__le16(p + 20, 0);
        p += 22;
    }
    st = ng_file_write_atomic(path, buf, (size_t)(p - buf));
    free(buf); free(offs); free(sizes); free(crcs);
    return st;
}

/* ---- feature statistics ---- */

ng_status ng_feat_stats_save_npz(const ng_feat_stats *s, const char *path) {
    static const char *const keys[2] = {"mu", "sigma"};
    ng_npy a[2];
    if (!s || !s->finished || !s->mean || !s->cov) return ng_fail(NG_ERR_ARG, "feat_stats_save_npz '%s': statistics missing or not finished", path ? path : "");
    memset(a, 0, sizeof a);
    a[0].ndim = 1; a[0].shape[0] = s->d; a[0].count = s->d; a[0].data = s->mean;
    a[1].ndim = 2; a[1].shape[0] = s->d; a[1].shape[1] = s->d; a[1].count = s->d * s->d; a[1].data = s->cov;
    return ng_npz_save(path, 2, keys, a);
}

ng_status ng_feat_stats_load_npz(ng_feat_stats *s, const char *path, const char *net_id, int64_t expect_d) {
    ng_npy mu, sigma;
    ng_feat_stats t;
    int64_t d, i, j;
    ng_status st;
    if (!s || !path) return ng_fail(NG_ERR_ARG, "feat_stats_load_npz: NULL argument");
    if ((st = ng_npz_load_member(path, "mu", &mu)) != NG_OK) return st;
    if ((st = ng_npz_load_member(path, "sigma", &sigma)) != NG_OK) { ng_npy_free(&mu); return st; }
    d = mu.count;
    if (mu.ndim != 1 || sigma.ndim != 2 || sigma.shape[0] != d || sigma.shape[1] != d || d < 1)
        st = ng_fail(NG_ERR_FORMAT, "'%s': 'mu' must be (D) and 'sigma' (D, D); found %d-d mu of %lld values and %d-d sigma (%lld x %lld)", path,
                     mu.ndim, (long long)d, sigma.ndim, (long long)sigma.shape[0], (long long)(sigma.ndim > 1 ? sigma.shape[1] : 0));
    else if (expect_d > 0 && d != expect_d)
        st = ng_fail(NG_ERR_MISMATCH, "'%s': statistics of %lld features, expected %lld", path, (long long)d, (long long)expect_d);
    for (i = 0; st == NG_OK && i < d * d; i++)
        if (!isfinite(sigma.data[i]) || (i < d && !isfinite(mu.data[i])))
            st = ng_fail(NG_ERR_FORMAT, "'%s': non-finite statistics ('%s' element %lld)", path, isfinite(sigma.data[i]) ? "mu" : "sigma",
                         (long long)i);
    if (st == NG_OK) st = ng_feat_stats_init(&t, d, net_id);
    if (st == NG_OK) {
        memcpy(t.mean, mu.data, (size_t)d * sizeof(double));
        for (i = 0; i < d; i++)
            for (j = 0; j <= i; j++) t.cov[i * d + j] = t.cov[j * d + i] = sigma.data[i * d + j];
        t.n = 0;
        t.finished = 1;
        *s = t;
    }
    ng_npy_free(&mu);
    ng_npy_free(&sigma);
    return st;
}

/* ---- src/inception.c ---- */
/* ---- the FID Inception-v3 (see @@INCEPTION in the declarations) ---- */

/* ---- architecture table ----
   One row per BasicConv2d in torchvision's registration order, which is also the order in
   which the forward below consumes them (every block computes its branches in that order).
   Each row contributes five tensors: conv.weight, bn.weight, bn.bias, bn.running_mean,
   bn.running_var; fc.weight and fc.bias follow the last row. */
#define NG__INC_NCONV 94
#define NG__INC_NTENSOR (5 * NG__INC_NCONV + 2)
#define NG__INC_BN_EPS 1e-3

typedef struct ng__inc_layer {
    char name[40];          /* module path, e.g. "Mixed_5b.branch5x5_2" */
    int cin, cout, kh, kw, stride, ph, pw;
} ng__inc_layer;

typedef struct ng__inc_table {
    ng__inc_layer l[NG__INC_NCONV];
    int n;
} ng__inc_table;

static void ng__inc_add(ng__inc_table *t, const char *block, const char *branch, int cin, int cout, int kh, int kw,
                        int stride, int ph, int pw) {
    ng__inc_layer *l = &t->l[t->n++];
    NG_ASSERT(t->n <= NG__INC_NCONV);
    if (branch) snprintf(l->name, sizeof l->name, "%s.%s", block, branch);
    else snprintf(l->name, sizeof l->name, "%s", block);
    l->cin = cin; l->cout = cout; l->kh = kh; l->kw = kw; l->stride = stride; l->ph = ph; l->pw = pw;
}

static void ng__inc_block_a(ng__inc_table *t, const char *b, int cin, int pool) {
    ng__inc_add(t, b, "branch1x1", cin, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch5x5_1", cin, 48, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    ng__inc_add(t, b, "branch3x3dbl_1", cin, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch_pool", cin, pool, 1, 1, 1, 0, 0);
}

static void ng__inc_block_c(ng__inc_table *t, const char *b, int c7) {
    ng__inc_add(t, b, "branch1x1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7_1", 768, c7, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_1", 768, c7, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch_pool", 768, 192, 1, 1, 1, 0, 0);
}

static void ng__inc_block_e(ng__inc_table *t, const char *b, int cin) {
    ng__inc_add(t, b, "branch1x1", cin, 320, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3_1", cin, 384, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    ng__inc_add(t, b, "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    ng__inc_add(t, b, "branch3x3dbl_1", cin, 448, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    ng__inc_add(t, b, "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    ng__inc_add(t, b, "branch_pool", cin, 192, 1, 1, 1, 0, 0);
}

/* Built on every call (a few microseconds): no global state. */
static void ng__inc_build_table(ng__inc_table *t) {
    t->n = 0;
    ng__inc_add(t, "Conv2d_1a_3x3", NULL, 3, 32, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Conv2d_2a_3x3", NULL, 32, 32, 3, 3, 1, 0, 0);
    ng__inc_add(t, "Conv2d_2b_3x3", NULL, 32, 64, 3, 3, 1, 1, 1);
    ng__inc_add(t, "Conv2d_3b_1x1", NULL, 64, 80, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Conv2d_4a_3x3", NULL, 80, 192, 3, 3, 1, 0, 0);
    ng__inc_block_a(t, "Mixed_5b", 192, 32);
    ng__inc_block_a(t, "Mixed_5c", 256, 64);
    ng__inc_block_a(t, "Mixed_5d", 288, 64);
    ng__inc_add(t, "Mixed_6a", "branch3x3", 288, 384, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_1", 288, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
    ng__inc_block_c(t, "Mixed_6b", 128);
    ng__inc_block_c(t, "Mixed_6c", 160);
    ng__inc_block_c(t, "Mixed_6d", 160);
    ng__inc_block_c(t, "Mixed_6e", 192);
    ng__inc_add(t, "Mixed_7a", "branch3x3_1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
    ng__inc_block_e(t, "Mixed_7b", 1280);
    ng__inc_block_e(t, "Mixed_7c", 2048);
    NG_ASSERT(t->n == NG__INC_NCONV);
}

static const char *const ng__inc_suffix[5] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                              "bn.running_var"};

/* Name and shape of tensor i of the table (name written into buf). */
static void ng__inc_tensor(const ng__inc_table *t, int i, char *buf, size_t cap, ng_shape *shape) {
    if (i >= 5 * NG__INC_NCONV) {
        int fc = i - 5 * NG__INC_NCONV;
        snprintf(buf, cap, "%s", fc == 0 ? "fc.weight" : "fc.bias");
        *shape = fc == 0 ? ng_shape2(NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES) : ng_shape1(NG_INCEPTION_CLASSES);
    } else {
        const ng__inc_layer *l = &t->l[i / 5];
        snprintf(buf, cap, "%s.%s", l->name, ng__inc_suffix[i % 5]);
        *shape = i % 5 == 0 ? ng_shape4(l->cout, l->cin, l->kh, l->kw) : ng_shape1(l->cout);
    }
}

int ng_inception_tensor_count(void) { return NG__INC_NTENSOR; }

ng_status ng_inception_tensor_info(int i, char *name, size_t cap, ng_shape *shape) {
    ng__inc_table t;
    char buf[64];
    ng_shape s;
    if (i < 0 || i >= NG__INC_NTENSOR) return ng_fail(NG_ERR_ARG, "inception tensor %d: out of range", i);
    ng__inc_build_table(&t);
    ng__inc_tensor(&t, i, buf, sizeof buf, &s);
    if (name && cap) snprintf(name, cap, "%s", buf);
    if (shape) *shape = s;
    return NG_OK;
}

ng_status ng_inception_params_layout(ng_params *g) {
    ng__inc_table t;
    char name[64];
    ng_shape s;
    int i;
    if (!g || g->allocated || g->n != 0) return ng_fail(NG_ERR_ARG, "inception layout: needs an empty, unallocated group");
    ng__inc_build_table(&t);
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng__inc_tensor(&t, i, name, sizeof name, &s);
        if (!ng_params_add(g, name, s)) return NG_ERR_ARG;
    }
    return NG_OK;
}

/* ---- the loaded network ---- */
typedef struct ng__inc_conv {
    ng__inc_layer geo;
    float *w;               /* (cout, cin kh kw), batch norm folded in */
    float *b;               /* (cout) */
} ng__inc_conv;

struct ng_inception {
    ng__inc_conv conv[NG__INC_NCONV];
    float *fc_w;            /* (1008, 2048) */
    float *fc_b;            /* (1008) */
    float *block;           /* one allocation holding every array above */
    int64_t nfloats;        /* its size */
    float *dev_block;       /* a copy of block on the GPU (ng_inception_to_device), or NULL */
    int preprocess;         /* NG_INCEPTION_PYTORCH_FID or NG_INCEPTION_TF1 */
    char id[NG_FEAT_ID_MAX];
};

void ng_inception_free(ng_inception *net) {
    if (!net) return;
    ng__cuda_free(net->dev_block);
    free(net->block);
    free(net);
}

ng_status ng_inception_to_device(ng_inception *net, ng_device device) {
    const ng_cuda_hooks *h = ng_cuda_get_hooks();
    size_t bytes;
    if (!net) return ng_fail(NG_ERR_ARG, "inception: NULL network");
    if (device == NG_CPU) {
        ng__cuda_free(net->dev_block);
        net->dev_block = NULL;
        return NG_OK;
    }
    if (device != NG_CUDA) return ng_fail(NG_ERR_ARG, "inception: unknown device %d", (int)device);
    if (net->dev_block) return NG_OK;
    if (!ng_cuda_ready()) return ng_fail(NG_ERR_UNSUPPORTED, "inception: CUDA is not initialised (call ng_cuda_init first)");
    if (!h->inc_conv) return ng_fail(NG_ERR_UNSUPPORTED, "inception: this CUDA backend has no Inception kernels");
    bytes = (size_t)net->nfloats * sizeof(float);
    if (!(net->dev_block = (float *)h->dev_malloc(bytes)))
        return ng_fail(NG_ERR_NOMEM, "inception: cannot allocate %zu device bytes for the weights", bytes);
    if (h->memcpy_h2d(net->dev_block, net->block, bytes)) {
        ng__cuda_free(net->dev_block);
        net->dev_block = NULL;
        return ng_fail(NG_ERR_UNSUPPORTED, "inception: copying the weights to the GPU failed (see stderr)");
    }
    return NG_OK;
}

ng_device ng_inception_device(const ng_inception *net) { return net && net->dev_block ? NG_CUDA : NG_CPU; }

void ng_inception_identity(const ng_inception *net, char *buf, size_t cap) {
    const char *base = net ? net->id : "inception_fid/pool3_2048/crc32=none";
    const char *suffix = net && net->preprocess == NG_INCEPTION_TF1 ? "/tf1" : "";
    size_t lb = strlen(base), ls = strlen(suffix);
    if (!buf || cap == 0) return;
    if (lb > cap - 1) lb = cap - 1;
    if (ls > cap - 1 - lb) ls = cap - 1 - lb;
    memcpy(buf, base, lb);
    memcpy(buf + lb, suffix, ls);
    buf[lb + ls] = '\0';
}

ng_status ng_inception_set_preprocess(ng_inception *net, int mode) {
    if (!net || (mode != NG_INCEPTION_PYTORCH_FID && mode != NG_INCEPTION_TF1))
        return ng_fail(NG_ERR_ARG, "inception: preprocessing mode %d is not NG_INCEPTION_PYTORCH_FID or NG_INCEPTION_TF1", mode);
    net->preprocess = mode;
    return NG_OK;
}
int ng_inception_preprocess_mode(const ng_inception *net) { return net ? net->preprocess : NG_INCEPTION_PYTORCH_FID; }

/* ---- writing weight files ---- */
static ng_status ng__inc_ckpt(const ng_params *g, ng_ckpt **out) {
    unsigned char fmt[8] = {'N', 'G', 'I', 'N', 0, 0, 0, 0};
    ng_ckpt *ck;
    ng_status st;
    *out = NULL;
    if (!g || strcmp(g->name, NG_INCEPTION_GROUP) != 0)
        return ng_fail(NG_ERR_ARG, "inception save: the group must be named '%s'", NG_INCEPTION_GROUP);
    ng__le32(fmt + 4, NG_INCEPTION_FORMAT_VERSION);
    ck = ng_ckpt_new();
    if (!ck) return ng_fail(NG_ERR_NOMEM, "inception save: out of memory");
    st = ng_ckpt_put(ck, "inception/format", fmt, sizeof fmt);
    if (st == NG_OK) st = ng_ckpt_put_params(ck, g);
    if (st != NG_OK) { ng_ckpt_free(ck); return st; }
    *out = ck;
    return NG_OK;
}

ng_status ng_inception_serialize_params(const ng_params *g, unsigned char **out, size_t *n) {
    ng_ckpt *ck;
    ng_status st = ng__inc_ckpt(g, &ck);
    if (st != NG_OK) return st;
    st = ng_ckpt_serialize(ck, out, n);
    ng_ckpt_free(ck);
    return st;
}

ng_status ng_inception_save_params(const ng_params *g, const char *path) {
    ng_ckpt *ck;
    ng_status st = ng__inc_ckpt(g, &ck);
    if (st != NG_OK) return st;
    st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st;
}

/* ---- loading ---- */

/* Where each expected tensor's values start in the parameter record (NULL: not seen yet). */
typedef struct ng__inc_index {
    ng__inc_table t;
    const unsigned char *at[NG__INC_NTENSOR];
} ng__inc_index;

static int ng__inc_find(const ng__inc_table *t, const unsigned char *name, uint32_t len, ng_shape *shape) {
    char buf[64];
    int i;
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng__inc_tensor(t, i, buf, sizeof buf, shape);
        if (strlen(buf) == len && memcmp(buf, name, len) == 0) return i;
    }
    return -1;
}

static ng_status ng__inc_check_format(const ng_ckpt *ck, const char *name) {
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, "inception/format", &n);
    if (!p || ng_ckpt_kind_of(ck, "inception/format") != NG_CKPT_RAW)
        return ng_fail(NG_ERR_FORMAT, "'%s' is a nasgan checkpoint but not an Inception weight file (no 'inception/format' "
                       "record; convert the .pth with scripts/convert_inception.py)", name);
    if (n != 8 || memcmp(p, "NGIN", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': malformed 'inception/format' record (%zu bytes)", name, n);
    if (ng__rd32(p + 4) != NG_INCEPTION_FORMAT_VERSION)
        return ng_fail(NG_ERR_FORMAT, "'%s': Inception weight format version %u; this build reads version %u", name,
                       ng__rd32(p + 4), NG_INCEPTION_FORMAT_VERSION);
    return NG_OK;
}

/* Walk the tensor table of the (already validated) parameter record: every tensor must be
   expected, once, with the expected shape; then every expected tensor must have been seen. */
static ng_status ng__inc_index_record(const ng_ckpt *ck, const char *name, ng__inc_index *ix) {
    const char *key = "params/" NG_INCEPTION_GROUP;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, key, &n);
    const unsigned char *tname;
    const unsigned char *values;
    uint32_t count, i, len, nd, d;
    uint64_t dims[NG_MAX_DIMS], numel;
    int64_t off[NG__INC_NTENSOR];
    ng__rd r;
    memset(ix->at, 0, sizeof ix->at);
    ng__inc_build_table(&ix->t);
    if (!p || ng_ckpt_kind_of(ck, key) != NG_CKPT_PARAMS)
        return ng_fail(NG_ERR_FORMAT, "'%s': no parameter record '%s'", name, key);
    /* the checkpoint parser validated this record's framing: the reads below cannot fail */
    r.p = p; r.n = n; r.pos = 0;
    if (ng__r32(&r, &count)) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table", name);
    for (i = 0; i < count; i++) {
        ng_shape want;
        int idx, same, k;
        if (ng__r32(&r, &len) || ng__rbytes(&r, len, &tname) || ng__r32(&r, &nd) || nd > NG_MAX_DIMS)
            return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table at tensor #%u", name, i);
        for (d = 0; d < nd; d++)
            if (ng__r64(&r, &dims[d])) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table at tensor #%u", name, i);
        idx = ng__inc_find(&ix->t, tname, len, &want);
        if (idx < 0)
            return ng_fail(NG_ERR_MISMATCH, "'%s': unexpected tensor '%.*s' (not part of the FID Inception-v3)", name,
                           (int)(len > 200 ? 200 : len), (const char *)tname);
        if (ix->at[idx])
            return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%.*s' appears twice", name, (int)len, (const char *)tname);
        same = (int)nd == want.ndim;
        for (k = 0; same && k < want.ndim; k++) same = dims[k] == (uint64_t)want.d[k];
        if (!same) {
            char a[128], b[128];
            uint64_t wd[NG_MAX_DIMS];
            for (k = 0; k < want.ndim; k++) wd[k] = (uint64_t)want.d[k];
            ng__fmt_dims(a, sizeof a, (int)nd, dims);
            ng__fmt_dims(b, sizeof b, want.ndim, wd);
            return ng_fail(NG_ERR_MISMATCH, "'%s': tensor '%.*s' has shape %s, expected %s", name, (int)len,
                           (const char *)tname, a, b);
        }
        ix->at[idx] = p;     /* seen; the value offset is resolved below */
        off[idx] = (int64_t)i;   /* position in the file */
    }
    if (ng__r64(&r, &numel)) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table", name);
    values = p + r.pos;
    for (i = 0; i < (uint32_t)NG__INC_NTENSOR; i++) {
        if (!ix->at[i]) {
            char buf[64];
            ng_shape s;
            ng__inc_tensor(&ix->t, (int)i, buf, sizeof buf, &s);
            return ng_fail(NG_ERR_MISMATCH, "'%s': missing tensor '%s'", name, buf);
        }
    }
    /* every expected tensor is present exactly once and nothing else is: the file order is a
       permutation of the table; place each tensor's values by its file position */
    {
        int64_t start[NG__INC_NTENSOR], pos = 0;
        int order[NG__INC_NTENSOR], j;
        for (j = 0; j < NG__INC_NTENSOR; j++) order[off[j]] = j;
        for (j = 0; j < NG__INC_NTENSOR; j++) {
            ng_shape s;
            char buf[64];
            ng__inc_tensor(&ix->t, order[j], buf, sizeof buf, &s);
            start[order[j]] = pos;
            pos += ng_shape_numel(s);
        }
        for (j = 0; j < NG__INC_NTENSOR; j++) ix->at[j] = values + 4 * (size_t)start[j];
    }
    return NG_OK;
}

/* Finite values everywhere and a non-negative running variance: anything else would turn
   the features into NaN far from the cause. */
static ng_status ng__inc_check_values(const ng__inc_index *ix, const char *name) {
    char buf[64];
    int i;
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng_shape s;
        int64_t k, n;
        ng__inc_tensor(&ix->t, i, buf, sizeof buf, &s);
        n = ng_shape_numel(s);
        for (k = 0; k < n; k++) {
            float v = ng__bits_f32(ng__rd32(ix->at[i] + 4 * k));
            if (!isfinite(v)) return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%s' has a non-finite value at element %lld", name, buf, (long long)k);
            if (i < 5 * NG__INC_NCONV && i % 5 == 4 && v < 0)
                return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%s' has a negative variance (%g) at element %lld", name, buf, (double)v, (long long)k);
        }
    }
    return NG_OK;
}

static float ng__inc_val(const unsigned char *at, int64_t k) { return ng__bits_f32(ng__rd32(at + 4 * k)); }

/* Fold conv + batch norm (eps 1e-3, running statistics) into one convolution with a bias:
   w' = w g / sqrt(v + eps), b' = beta - m g / sqrt(v + eps), computed in double. */
static void ng__inc_fold(ng__inc_conv *c, const unsigned char *const at[5]) {
    int64_t k, kk = (int64_t)c->geo.cin * c->geo.kh * c->geo.kw;
    int o;
    for (o = 0; o < c->geo.cout; o++) {
        double s = (double)ng__inc_val(at[1], o) / sqrt((double)ng__inc_val(at[4], o) + NG__INC_BN_EPS);
        for (k = 0; k < kk; k++) c->w[o * kk + k] = (float)((double)ng__inc_val(at[0], o * kk + k) * s);
        c->b[o] = (float)((double)ng__inc_val(at[2], o) - (double)ng__inc_val(at[3], o) * s);
    }
}

static ng_status ng__inc_build(const ng__inc_index *ix, ng_inception **out) {
    ng_inception *net = (ng_inception *)calloc(1, sizeof *net);
    int64_t total = (int64_t)NG_INCEPTION_CLASSES * (NG_INCEPTION_FEATURES + 1), k, pos;
    uint32_t crc = 0;
    int i;
    if (!net) return ng_fail(NG_ERR_NOMEM, "inception load: out of memory");
    for (i = 0; i < NG__INC_NCONV; i++) {
        const ng__inc_layer *l = &ix->t.l[i];
        total += (int64_t)l->cout * (l->cin * l->kh * l->kw + 1);
    }
    net->nfloats = total;
    net->block = (float *)malloc((size_t)total * sizeof(float));
    if (!net->block) { free(net); return ng_fail(NG_ERR_NOMEM, "inception load: out of memory for %lld weights", (long long)total); }
    pos = 0;
    for (i = 0; i < NG__INC_NCONV; i++) {
        ng__inc_conv *c = &net->conv[i];
        c->geo = ix->t.l[i];
        c->w = net->block + pos;
        pos += (int64_t)c->geo.cout * c->geo.cin * c->geo.kh * c->geo.kw;
        c->b = net->block + pos;
        pos += c->geo.cout;
        ng__inc_fold(c, ix->at + 5 * i);
    }
    net->fc_w = net->block + pos;
    net->fc_b = net->fc_w + (int64_t)NG_INCEPTION_CLASSES * NG_INCEPTION_FEATURES;
    for (k = 0; k < (int64_t)NG_INCEPTION_CLASSES * NG_INCEPTION_FEATURES; k++) net->fc_w[k] = ng__inc_val(ix->at[5 * NG__INC_NCONV], k);
    for (k = 0; k < NG_INCEPTION_CLASSES; k++) net->fc_b[k] = ng__inc_val(ix->at[5 * NG__INC_NCONV + 1], k);
    for (i = 0; i < NG__INC_NTENSOR; i++) {      /* identity: raw file values, table order */
        char buf[64];
        ng_shape s;
        ng__inc_tensor(&ix->t, i, buf, sizeof buf, &s);
        crc = ng_crc32(crc, ix->at[i], 4 * (size_t)ng_shape_numel(s));
    }
    snprintf(net->id, sizeof net->id, "inception_fid/pool3_%d/crc32=%08x", NG_INCEPTION_FEATURES, (unsigned)crc);
    *out = net;
    return NG_OK;
}

static ng_status ng__inc_from_ckpt(const ng_ckpt *ck, const char *name, ng_inception **out) {
    ng__inc_index *ix = (ng__inc_index *)malloc(sizeof *ix);
    ng_status st;
    if (!ix) return ng_fail(NG_ERR_NOMEM, "inception load: out of memory");
    st = ng__inc_check_format(ck, name);
    if (st == NG_OK) st = ng__inc_index_record(ck, name, ix);
    if (st == NG_OK) st = ng__inc_check_values(ix, name);
    if (st == NG_OK) st = ng__inc_build(ix, out);
    free(ix);
    return st;
}

ng_status ng_inception_parse(const unsigned char *buf, size_t n, const char *name, ng_inception **out) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "inception parse: NULL output");
    *out = NULL;
    if (!name) name = "(memory)";
    if ((st = ng_ckpt_parse(buf, n, name, &ck)) != NG_OK) return st;
    st = ng__inc_from_ckpt(ck, name, out);
    ng_ckpt_free(ck);
    return st;
}

void ng_inception_random_params(ng_params *g, uint64_t seed) {
    ng_rng r;
    int t;
    ng_rng_seed(&r, seed);
    for (t = 0; t < g->n; t++) {
        ng_tensor *x = g->tensors[t];
        const char *name = x->name;
        double a = 0.2, base = 0.0;                                 /* bn.bias, bn.running_mean, fc.bias */
        int64_t k;
        if (x->shape.ndim == 4) a = sqrt(6.0 / (double)(x->numel / x->shape.d[0]));   /* conv: He-uniform */
        else if (strstr(name, ".bn.weight") || strstr(name, ".bn.running_var")) { a = 0.25; base = 1.0; }
        else if (!strcmp(name, "fc.weight")) a = sqrt(3.0 / NG_INCEPTION_FEATURES);
        for (k = 0; k < x->numel; k++) x->data[k] = (float)(base + (2 * ng_rng_uniform(&r) - 1) * a);
    }
}

ng_status ng_inception_random(uint64_t seed, ng_inception **out) {
    ng_params *g;
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "inception random: NULL output");
    *out = NULL;
    if (!(g = ng_params_create(NG_INCEPTION_GROUP, 0))) return ng_fail(NG_ERR_NOMEM, "inception random: out of memory");
    st = ng_inception_params_layout(g);
    if (st == NG_OK) st = ng_params_alloc(g);
    if (st == NG_OK) ng_inception_random_params(g, seed);
    if (st == NG_OK) st = ng_inception_serialize_params(g, &buf, &n);
    if (st == NG_OK) st = ng_inception_parse(buf, n, "random weights", out);
    free(buf);
    ng_params_free(g);
    return st;
}

ng_status ng_inception_load(const char *path, ng_inception **out) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (!out || !path) return ng_fail(NG_ERR_ARG, "inception load: NULL argument");
    *out = NULL;
    if ((st = ng_ckpt_load(path, &ck)) != NG_OK) return st;
    st = ng__inc_from_ckpt(ck, path, out);
    ng_ckpt_free(ck);
    return st;
}

/* ---- forward ----
   Activations are (C, B, H, W): channel-major across the batch, so a convolution over the
   whole batch is one product W (Cout, K) @ cols (K, B Ho Wo), a 1x1 convolution needs no
   im2col at all, and a block's concatenation is just each branch writing its channel range
   of the output. Errors are sticky in the run (like ng_ctx): after the first failure every
   step returns an empty activation, and the caller frees what was allocated.
   On the GPU (net->dev_block) the same steps run on device buffers: the activations and the
   im2col tile are device memory and every layer is one call into the backend's inc_* hooks;
   the architecture below is shared. */
#ifndef NG_INCEPTION_TILE_FLOATS
#define NG_INCEPTION_TILE_FLOATS ((int64_t)1 << 21)   /* im2col tile: 8 MB, fits in L3 on typical hosts */
#endif
#define NG__INC_DEVICE_TILE_FLOATS ((int64_t)1 << 25)   /* on the GPU: 128 MB, GEMMs large enough to fill it */

typedef struct ng__inc_act { float *d; int c, h, w; int64_t cap; } ng__inc_act;   /* (c, B, h, w); cap: floats owned */

/* Freed activations are kept for reuse: every batch allocates the same sizes in the same
   order. On the CPU a cached block serves any request it fits (the smallest such), and at most
   16 are kept: that bounds the memory (peak RSS 416 MB at batch 16), and what it does not
   catch costs only fresh pages (measured: about 5% of the forward). On the GPU, where
   cudaFree waits for the device and cudaMalloc is slow, a block serves only a request of
   exactly its size and up to 64 are kept: after the first batch every request finds its
   block and nothing is allocated or freed until the end of the call (best-fit reuse never
   settles: a smaller request takes the block a later, larger one needed). The price is
   memory: about 36 MB per image of the batch instead of 20. */
#define NG__INC_CACHE 64
#define NG__INC_CACHE_CPU 16
typedef struct ng__inc_run {
    const ng_inception *net;
    const ng_cuda_hooks *gpu;   /* NULL: run on the CPU */
    int B;
    float *col;             /* im2col tile */
    int64_t col_cap;        /* floats */
    float *cache[NG__INC_CACHE];
    int64_t cache_cap[NG__INC_CACHE];
    ng_status st;
} ng__inc_run;

static float *ng__inc_alloc(ng__inc_run *r, int64_t n) {
    float *p;
    int i, best = -1;
    if (r->st != NG_OK) return NULL;
    for (i = 0; i < NG__INC_CACHE; i++)     /* CPU: the smallest cached block that fits; GPU: the same size */
        if (r->cache[i] && (r->gpu ? r->cache_cap[i] == n : r->cache_cap[i] >= n) &&
            (best < 0 || r->cache_cap[i] < r->cache_cap[best]))
            best = i;
    if (best >= 0) {
        p = r->cache[best];
        r->cache[best] = NULL;
        return p;
    }
    p = r->gpu ? (float *)r->gpu->dev_malloc((size_t)n * sizeof(float)) : (float *)malloc((size_t)n * sizeof(float));
    if (!p)
        r->st = ng_fail(NG_ERR_NOMEM, "inception forward: out of %s memory (%lld floats; lower the batch)",
                        r->gpu ? "GPU" : "host", (long long)n);
    return p;
}

static void ng__inc_free(const ng__inc_run *r, float *p) {
    if (r->gpu) ng__cuda_free(p);
    else free(p);
}

/* Back to the cache (or freed when the cache is full); cap is the block's size in floats. */
static void ng__inc_release(ng__inc_run *r, float *p, int64_t cap) {
    int i;
    if (!p) return;
    for (i = 0; i < (r->gpu ? NG__INC_CACHE : NG__INC_CACHE_CPU); i++)
        if (!r->cache[i]) { r->cache[i] = p; r->cache_cap[i] = cap; return; }
    ng__inc_free(r, p);
}

static void ng__inc_cache_free(ng__inc_run *r) {
    int i;
    for (i = 0; i < NG__INC_CACHE; i++) { ng__inc_free(r, r->cache[i]); r->cache[i] = NULL; }
}

/* A weight array of the network where the run happens (its copy in dev_block on the GPU). */
static const float *ng__inc_weights(const ng__inc_run *r, const float *host) {
    return r->gpu ? r->net->dev_block + (host - r->net->block) : host;
}

/* Records a failed backend call (the backend printed the CUDA error). */
static void ng__inc_gpu_check(ng__inc_run *r, int failed, const char *what) {
    if (failed && r->st == NG_OK) r->st = ng_fail(NG_ERR_UNSUPPORTED, "inception forward (CUDA): %s failed (see stderr)", what);
}

static ng__inc_act ng__inc_new(ng__inc_run *r, int c, int h, int w) {
    ng__inc_act a;
    a.c = c; a.h = h; a.w = w;
    a.cap = (int64_t)c * r->B * h * w;
    a.d = ng__inc_alloc(r, a.cap);
    return a;
}

static void ng__inc_drop(ng__inc_run *r, ng__inc_act *a) {
    ng__inc_release(r, a->d, a->cap);
    a->d = NULL;
}

/* Channel c0 onwards of a (C, B, H, W) buffer (NULL stays NULL). */
static float *ng__inc_chan(const ng__inc_run *r, const ng__inc_act *a, int c0) {
    return a->d ? a->d + (int64_t)c0 * r->B * a->h * a->w : NULL;
}

/* Column rows [t0, t0 + nr) of the (K, B Ho Wo) im2col matrix, where a "row" is one (b, oy)
   output line of Wo columns; tile laid out (K, nr Wo). */
static void ng__inc_im2col(const ng__inc_run *r, const ng__inc_layer *l, const ng__inc_act *x, int ho, int wo,
                           int64_t t0, int64_t nr, float *col) {
    const int64_t taps = (int64_t)l->kh * l->kw, K = l->cin * taps, ld = nr * wo;
    const int H = x->h, W = x->w, s = l->stride;
    int64_t k;
    NG__OMP_FOR(K * ld >= 16384)
    for (k = 0; k < K; k++) {
        int ci = (int)(k / taps), dy = (int)(k % taps) / l->kw, dx = (int)(k % taps) % l->kw;
        int64_t rr;
        for (rr = 0; rr < nr; rr++) {
            int b = (int)((t0 + rr) / ho), oy = (int)((t0 + rr) % ho), iy = oy * s - l->ph + dy, ox;
            float *dst = col + k * ld + rr * wo;
            const float *src = x->d + (((int64_t)ci * r->B + b) * H + iy) * W;
            if (iy < 0 || iy >= H) { memset(dst, 0, (size_t)wo * sizeof(float)); continue; }
            if (s == 1) {           /* contiguous: zero the padded ends, copy the middle */
                int lo = l->pw - dx > 0 ? l->pw - dx : 0, hi = W + l->pw - dx < wo ? W + l->pw - dx : wo;
                if (hi < lo) hi = lo;
                for (ox = 0; ox < lo; ox++) dst[ox] = 0;
                if (hi > lo) memcpy(dst + lo, src + lo - l->pw + dx, (size_t)(hi - lo) * sizeof(float));
                for (ox = hi; ox < wo; ox++) dst[ox] = 0;
            } else {
                for (ox = 0; ox < wo; ox++) {
                    int ix = ox * s - l->pw + dx;
                    dst[ox] = ix >= 0 && ix < W ? src[ix] : 0.0f;
                }
            }
        }
    }
}

static void ng__inc_bias_relu(float *y, const float *b, int cout, int64_t n) {
    int o;
    NG__OMP_FOR(cout * n >= 65536)
    for (o = 0; o < cout; o++) {
        float *row = y + (int64_t)o * n, bo = b[o];
        int64_t j;
        for (j = 0; j < n; j++) {
            float v = row[j] + bo;
            row[j] = v > 0 ? v : 0;
        }
    }
}

/* relu(conv(x) + b) of conv ci, written to dst (cout, B, Ho, Wo). */
static ng__inc_act ng__inc_conv_to(ng__inc_run *r, int ci, const ng__inc_act *x, float *dst) {
    const ng__inc_conv *c = &r->net->conv[ci];
    const ng__inc_layer *l = &c->geo;
    ng__inc_act y;
    int64_t K = (int64_t)l->cin * l->kh * l->kw, N, rows, t0, per;
    int pointwise;
    y.c = l->cout;
    y.h = (x->h + 2 * l->ph - l->kh) / l->stride + 1;
    y.w = (x->w + 2 * l->pw - l->kw) / l->stride + 1;
    y.d = dst;              /* the caller owns dst whatever happens */
    y.cap = 0;
    if (r->st != NG_OK || !x->d || !dst) return y;
    NG_ASSERT(x->c == l->cin);
    N = (int64_t)r->B * y.h * y.w;
    rows = (int64_t)r->B * y.h;
    pointwise = l->kh == 1 && l->kw == 1 && l->stride == 1 && l->ph == 0 && l->pw == 0;
    per = (r->gpu ? NG__INC_DEVICE_TILE_FLOATS : NG_INCEPTION_TILE_FLOATS) / (K * y.w);
    if (per < 1) per = 1;
    if (per > rows) per = rows;
    if (!pointwise && r->col_cap < per * y.w * K) {     /* im2col tile: (K, per Wo) */
        ng__inc_free(r, r->col);
        r->col_cap = 0;
        r->col = ng__inc_alloc(r, per * y.w * K);
        if (!r->col) return y;
        r->col_cap = per * y.w * K;
    }
    if (r->gpu) {
        ng_cuda_inc_conv g;
        g.cin = l->cin; g.cout = l->cout; g.kh = l->kh; g.kw = l->kw; g.stride = l->stride; g.ph = l->ph; g.pw = l->pw;
        g.B = r->B; g.h = x->h; g.w = x->w; g.ho = y.h; g.wo = y.w; g.tile_rows = per;
        ng__inc_gpu_check(r, r->gpu->inc_conv(&g, ng__inc_weights(r, c->w), ng__inc_weights(r, c->b), x->d, dst, r->col),
                          l->name);
        return y;
    }
    if (pointwise) {
        ng_sgemm(NG_GEMM_BUILTIN, 0, 0, l->cout, N, K, 1.0f, c->w, K, x->d, N, 0.0f, dst, N);
    } else {
        for (t0 = 0; t0 < rows; t0 += per) {
            int64_t nr = rows - t0 < per ? rows - t0 : per;
            ng__inc_im2col(r, l, x, y.h, y.w, t0, nr, r->col);
            ng_sgemm(NG_GEMM_BUILTIN, 0, 0, l->cout, nr * y.w, K, 1.0f, c->w, K, r->col, nr * y.w, 0.0f,
                     dst + t0 * y.w, N);
        }
    }
    ng__inc_bias_relu(dst, c->b, l->cout, N);
    return y;
}

static ng__inc_act ng__inc_conv_new(ng__inc_run *r, int ci, const ng__inc_act *x) {
    const ng__inc_layer *l = &r->net->conv[ci].geo;
    ng__inc_act y = ng__inc_new(r, l->cout, (x->h + 2 * l->ph - l->kh) / l->stride + 1,
                                (x->w + 2 * l->pw - l->kw) / l->stride + 1);
    ng__inc_act out = ng__inc_conv_to(r, ci, x, y.d);
    out.cap = y.cap;
    return out;
}

/* 3x3 max-pool, stride 2, no padding (the stem, Mixed_6a and Mixed_7a), into dst. */
static void ng__inc_maxpool_s2_to(ng__inc_run *r, const ng__inc_act *x, float *dst) {
    const int ho = (x->h - 3) / 2 + 1, wo = (x->w - 3) / 2 + 1;
    int64_t p, planes = (int64_t)x->c * r->B;
    if (r->st != NG_OK || !x->d || !dst) return;
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_pool(NG_CUDA_INC_MAX3_S2, x->d, dst, planes, x->h, x->w), "max-pool");
        return;
    }
    NG__OMP_FOR(planes * ho * wo >= 16384)
    for (p = 0; p < planes; p++) {
        const float *in = x->d + p * x->h * x->w;
        float *out = dst + p * ho * wo;
        int oy, ox, i, j;
        for (oy = 0; oy < ho; oy++)
            for (ox = 0; ox < wo; ox++) {
                float m = in[(2 * oy) * x->w + 2 * ox];
                for (i = 0; i < 3; i++)
                    for (j = 0; j < 3; j++) {
                        float v = in[(2 * oy + i) * x->w + 2 * ox + j];
                        m = v > m ? v : m;
                    }
                out[oy * wo + ox] = m;
            }
    }
}

static ng__inc_act ng__inc_maxpool_s2(ng__inc_run *r, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1);
    ng__inc_maxpool_s2_to(r, x, y.d);
    return y;
}

/* 3x3 pool, stride 1, padding 1, over the window's pixels inside the image only: the mean
   (count_include_pad = False, the FID blocks A, C, E_1) or the maximum (E_2). Separable: a
   vertical pass over whole rows (vectorisable), then a horizontal pass in place; the mean
   divides by the number of valid pixels, (rows in the window) x (columns in the window). The
   maps are 35, 17 or 8 pixels wide (the input is always 299x299), so a row fits on the stack. */
#define NG__INC_POOL_MAXW 64
static void ng__inc_pool_plane(const float *in, float *out, int H, int W, int is_max) {
    float row[NG__INC_POOL_MAXW];
    int y, x;
    for (y = 0; y < H; y++) {               /* vertical: rows y-1, y, y+1 that exist */
        const float *a = in + (int64_t)(y > 0 ? y - 1 : y) * W, *b = in + (int64_t)y * W;
        const float *c = in + (int64_t)(y < H - 1 ? y + 1 : y) * W;
        float *o = out + (int64_t)y * W;
        int n = 1 + (y > 0) + (y < H - 1);
        if (is_max) {
            for (x = 0; x < W; x++) { float m = a[x] > b[x] ? a[x] : b[x]; o[x] = c[x] > m ? c[x] : m; }
        } else if (n == 3) {
            for (x = 0; x < W; x++) o[x] = a[x] + b[x] + c[x];
        } else if (n == 2) {                /* an edge row: only two rows exist */
            const float *d = y > 0 ? a : c;
            for (x = 0; x < W; x++) o[x] = b[x] + d[x];
        } else {
            memcpy(o, b, (size_t)W * sizeof(float));
        }
    }
    for (y = 0; y < H; y++) {               /* horizontal, in place from a copy of the row */
        float *o = out + (int64_t)y * W;
        float ny = (float)(1 + (y > 0) + (y < H - 1));
        memcpy(row, o, (size_t)W * sizeof(float));
        for (x = 0; x < W; x++) {
            float l = row[x > 0 ? x - 1 : x], m = row[x], r = row[x < W - 1 ? x + 1 : x];
            if (is_max) { float t = l > m ? l : m; o[x] = r > t ? r : t; }
            else {
                float nx = (float)(1 + (x > 0) + (x < W - 1));
                float sum = m + (x > 0 ? l : 0.0f) + (x < W - 1 ? r : 0.0f);
                o[x] = sum / (nx * ny);
            }
        }
    }
}

static ng__inc_act ng__inc_pool_same(ng__inc_run *r, const ng__inc_act *x, int is_max) {
    ng__inc_act y = ng__inc_new(r, x->c, x->h, x->w);
    int64_t p, planes = (int64_t)x->c * r->B, hw = (int64_t)x->h * x->w;
    if (!y.d || !x->d) { ng__inc_drop(r, &y); return y; }
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_pool(is_max ? NG_CUDA_INC_MAX3 : NG_CUDA_INC_AVG3, x->d, y.d, planes, x->h, x->w),
                          "3x3 pool");
        return y;
    }
    NG_ASSERT(x->w <= NG__INC_POOL_MAXW);
    NG__OMP_FOR(planes * hw >= 16384)
    for (p = 0; p < planes; p++) ng__inc_pool_plane(x->d + p * hw, y.d + p * hw, x->h, x->w, is_max);
    return y;
}

/* ---- blocks: each consumes its convolutions from index ci in the table's order ---- */
static ng__inc_act ng__inc_block_a_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    int pool = r->net->conv[ci + 6].geo.cout;
    ng__inc_act y = ng__inc_new(r, 224 + pool, x->h, x->w), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 64 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    ng__inc_conv_to(r, ci + 2, &t1, ng__inc_chan(r, &y, 64));        /* 5x5: 64 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 3, x);
    t2 = ng__inc_conv_new(r, ci + 4, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 5, &t2, ng__inc_chan(r, &y, 128));       /* 3x3 dbl: 96 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_pool_same(r, x, 0);
    ng__inc_conv_to(r, ci + 6, &t1, ng__inc_chan(r, &y, 224));       /* pool */
    ng__inc_drop(r, &t1);
    return y;
}

static ng__inc_act ng__inc_block_b_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 480 + x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 3x3 s2: 384 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    t2 = ng__inc_conv_new(r, ci + 2, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 3, &t2, ng__inc_chan(r, &y, 384));       /* 3x3 dbl s2: 96 */
    ng__inc_drop(r, &t2);
    ng__inc_maxpool_s2_to(r, x, ng__inc_chan(r, &y, 480));           /* pool: cin */
    return y;
}

static ng__inc_act ng__inc_block_c_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 768, x->h, x->w), t1, t2;
    int k;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 192 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    t2 = ng__inc_conv_new(r, ci + 2, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 3, &t2, ng__inc_chan(r, &y, 192));       /* 1x7, 7x1: 192 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_conv_new(r, ci + 4, x);
    for (k = 5; k <= 7; k++) {                                       /* 7x1, 1x7, 7x1 */
        t2 = ng__inc_conv_new(r, ci + k, &t1);
        ng__inc_drop(r, &t1);
        t1 = t2;
    }
    ng__inc_conv_to(r, ci + 8, &t1, ng__inc_chan(r, &y, 384));       /* 1x7: 192 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_pool_same(r, x, 0);
    ng__inc_conv_to(r, ci + 9, &t1, ng__inc_chan(r, &y, 576));       /* pool: 192 */
    ng__inc_drop(r, &t1);
    return y;
}

static ng__inc_act ng__inc_block_d_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 512 + x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1), t1, t2;
    int k;
    t1 = ng__inc_conv_new(r, ci, x);
    ng__inc_conv_to(r, ci + 1, &t1, y.d);                            /* 3x3 s2: 320 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 2, x);
    for (k = 3; k <= 4; k++) {                                       /* 1x7, 7x1 */
        t2 = ng__inc_conv_new(r, ci + k, &t1);
        ng__inc_drop(r, &t1);
        t1 = t2;
    }
    ng__inc_conv_to(r, ci + 5, &t1, ng__inc_chan(r, &y, 320));       /* 3x3 s2: 192 */
    ng__inc_drop(r, &t1);
    ng__inc_maxpool_s2_to(r, x, ng__inc_chan(r, &y, 512));           /* pool: cin */
    return y;
}

static ng__inc_act ng__inc_block_e_fwd(ng__inc_run *r, int ci, const ng__inc_act *x, int max_pool) {
    ng__inc_act y = ng__inc_new(r, 2048, x->h, x->w), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 320 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    ng__inc_conv_to(r, ci + 2, &t1, ng__inc_chan(r, &y, 320));       /* 1x3: 384 */
    ng__inc_conv_to(r, ci + 3, &t1, ng__inc_chan(r, &y, 704));       /* 3x1: 384 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 4, x);
    t2 = ng__inc_conv_new(r, ci + 5, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 6, &t2, ng__inc_chan(r, &y, 1088));      /* 1x3: 384 */
    ng__inc_conv_to(r, ci + 7, &t2, ng__inc_chan(r, &y, 1472));      /* 3x1: 384 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_pool_same(r, x, max_pool);
    ng__inc_conv_to(r, ci + 8, &t1, ng__inc_chan(r, &y, 1856));      /* pool: 192 */
    ng__inc_drop(r, &t1);
    return y;
}

/* Replace *cur by next (freeing the old activation). */
static void ng__inc_step(ng__inc_run *r, ng__inc_act *cur, ng__inc_act next) {
    ng__inc_drop(r, cur);
    *cur = next;
}

/* x rounded to float: a product passed through it is never fused with the following sum
   into one multiply-add, whatever the compiler's contraction settings (GCC contracts by
   default outside ISO mode), so the TF1 lerps round as TF's do */
static float ng__f32_round(float x) {
    volatile float v = x;
    return v;
}
/* a [-1, 1] value back on the [0, 255] scale; within 1e-3 of an integer it is that integer,
   the exact byte of a uint8 image (u * (2/255) - 1 does not map back exactly for 158 of the
   256 bytes) */
static float ng__inc_level(float x) {
    float u = ng__f32_round(127.5f * (x + 1.0f)), r = rintf(u);
    return fabsf(u - r) < 1e-3f ? r : u;
}

/* Bilinear resize of n images (n, channels, h, w) to (3, n, 299, 299); grayscale is
   replicated. NG_INCEPTION_PYTORCH_FID: align_corners = False, no antialiasing, F.interpolate's
   source-index rule. NG_INCEPTION_TF1: TF1's resize_bilinear (align_corners = False,
   half_pixel_centers = False) of the image back in [0, 255], then (r - 128) / 128, every step
   in float32 as TF (torch-fidelity's "slow" method reproduces TF bit for bit on the CPU). */
static void ng__inc_resize(int mode, const float *x, int n, int channels, int h, int w, float *out) {
    const int S = NG_INCEPTION_SIZE, tf1 = mode == NG_INCEPTION_TF1;
    const float tsx = (float)((double)w / S), tsy = (float)((double)h / S);
    int ix0[NG_INCEPTION_SIZE], ix1[NG_INCEPTION_SIZE], iy0[NG_INCEPTION_SIZE], iy1[NG_INCEPTION_SIZE];
    float lx[NG_INCEPTION_SIZE], ly[NG_INCEPTION_SIZE];
    int64_t p, plane = (int64_t)S * S;
    int i;
    for (i = 0; i < S; i++) {
        if (tf1) {
            float gx = (float)i * tsx, gy = (float)i * tsy;
            ix0[i] = (int)gx; ix1[i] = ix0[i] + 1 < w ? ix0[i] + 1 : w - 1; lx[i] = gx - (float)ix0[i];
            iy0[i] = (int)gy; iy1[i] = iy0[i] + 1 < h ? iy0[i] + 1 : h - 1; ly[i] = gy - (float)iy0[i];
        } else {
            double sx = ((double)i + 0.5) * ((double)w / S) - 0.5, sy = ((double)i + 0.5) * ((double)h / S) - 0.5;
            if (sx < 0) sx = 0;
            if (sy < 0) sy = 0;
            ix0[i] = (int)sx; ix1[i] = ix0[i] + (ix0[i] < w - 1); lx[i] = (float)(sx - ix0[i]);
            iy0[i] = (int)sy; iy1[i] = iy0[i] + (iy0[i] < h - 1); ly[i] = (float)(sy - iy0[i]);
        }
    }
    NG__OMP_FOR(n * 3 >= 2)
    for (p = 0; p < (int64_t)n * 3; p++) {
        int c = (int)(p / n), b = (int)(p % n), oy, ox;
        const float *in = x + ((int64_t)b * channels + (channels == 1 ? 0 : c)) * h * w;
        float *o = out + p * plane;
        for (oy = 0; oy < S; oy++) {
            const float *r0 = in + (int64_t)iy0[oy] * w, *r1 = in + (int64_t)iy1[oy] * w;
            if (tf1)
                for (ox = 0; ox < S; ox++) {
                    float a = ng__inc_level(r0[ix0[ox]]), bb = ng__inc_level(r0[ix1[ox]]);
                    float cc = ng__inc_level(r1[ix0[ox]]), d = ng__inc_level(r1[ix1[ox]]);
                    float top = a + ng__f32_round((bb - a) * lx[ox]), bot = cc + ng__f32_round((d - cc) * lx[ox]);
                    o[oy * S + ox] = (top + ng__f32_round((bot - top) * ly[oy]) - 128.0f) / 128.0f;
                }
            else
                for (ox = 0; ox < S; ox++) {
                    float top = (1 - lx[ox]) * r0[ix0[ox]] + lx[ox] * r0[ix1[ox]];
                    float bot = (1 - lx[ox]) * r1[ix0[ox]] + lx[ox] * r1[ix1[ox]];
                    o[oy * S + ox] = (1 - ly[oy]) * top + ly[oy] * bot;
                }
        }
    }
}

void ng_inception_preprocess(int mode, const float *x, int n, int channels, int h, int w, float *out) {
    ng__inc_resize(mode, x, n, channels, h, w, out);
}

/* Global average of the last activation (2048, B, 8, 8) into pool3 (B, 2048), then the fc
   layer into logits (B, 1008) when not NULL. */
static void ng__inc_head(ng__inc_run *r, const ng__inc_act *cur, float *pool3, float *logits) {
    const ng_inception *net = r->net;
    int64_t b, hw = (int64_t)cur->h * cur->w;
    int i, B = r->B;
    NG_ASSERT(cur->c == NG_INCEPTION_FEATURES);
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_head(cur->d, B, NG_INCEPTION_FEATURES, (int)hw, ng__inc_weights(r, net->fc_w),
                                              ng__inc_weights(r, net->fc_b), NG_INCEPTION_CLASSES, pool3, logits), "fc");
        return;
    }
    for (b = 0; b < B; b++)
        for (i = 0; i < NG_INCEPTION_FEATURES; i++) {
            const float *pl = cur->d + ((int64_t)i * B + b) * hw;
            double s = 0;
            int64_t k;
            for (k = 0; k < hw; k++) s += pl[k];
            pool3[b * NG_INCEPTION_FEATURES + i] = (float)(s / (double)hw);
        }
    if (logits) {
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, B, NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES, 1.0f, pool3, NG_INCEPTION_FEATURES,
                 net->fc_w, NG_INCEPTION_FEATURES, 0.0f, logits, NG_INCEPTION_CLASSES);
        for (b = 0; b < B; b++)
            for (i = 0; i < NG_INCEPTION_CLASSES; i++) logits[b * NG_INCEPTION_CLASSES + i] += net->fc_b[i];
    }
}

/* The whole network on one batch of B images (B, channels, h, w): pool3 (B, 2048) and, when
   logits is not NULL, logits (B, 1008). Every pointer is on the run's device. */
static ng_status ng__inc_batch(ng__inc_run *r, const float *x, int channels, int h, int w, float *pool3, float *logits) {
    ng__inc_act cur = ng__inc_new(r, 3, NG_INCEPTION_SIZE, NG_INCEPTION_SIZE);
    int ci = 0, i, B = r->B;
    if (cur.d && r->gpu)
        ng__inc_gpu_check(r, r->gpu->inc_resize(x, B, channels, h, w, cur.d, NG_INCEPTION_SIZE, r->net->preprocess), "resize");
    else if (cur.d) ng_inception_preprocess(r->net->preprocess, x, B, channels, h, w, cur.d);
    for (i = 0; i < 3; i++) ng__inc_step(r, &cur, ng__inc_conv_new(r, ci++, &cur));   /* 149, 147, 147 */
    ng__inc_step(r, &cur, ng__inc_maxpool_s2(r, &cur));                           /* 73 */
    for (i = 0; i < 2; i++) ng__inc_step(r, &cur, ng__inc_conv_new(r, ci++, &cur));   /* 73, 71 */
    ng__inc_step(r, &cur, ng__inc_maxpool_s2(r, &cur));                           /* 35 */
    for (i = 0; i < 3; i++, ci += 7) ng__inc_step(r, &cur, ng__inc_block_a_fwd(r, ci, &cur));
    ng__inc_step(r, &cur, ng__inc_block_b_fwd(r, ci, &cur)); ci += 4;             /* 17 */
    for (i = 0; i < 4; i++, ci += 10) ng__inc_step(r, &cur, ng__inc_block_c_fwd(r, ci, &cur));
    ng__inc_step(r, &cur, ng__inc_block_d_fwd(r, ci, &cur)); ci += 6;             /* 8 */
    ng__inc_step(r, &cur, ng__inc_block_e_fwd(r, ci, &cur, 0)); ci += 9;
    ng__inc_step(r, &cur, ng__inc_block_e_fwd(r, ci, &cur, 1)); ci += 9;
    NG_ASSERT(ci == NG__INC_NCONV);
    if (r->st == NG_OK && cur.d) ng__inc_head(r, &cur, pool3, logits);
    ng__inc_drop(r, &cur);
    return r->st;
}

/* ---- public entry points ---- */

/* Runs batches [first, first + count) through the network; fill() supplies the pixels of a
   batch, either from a float array or from an image source. */
typedef ng_status (*ng__inc_fill_fn)(const void *user, int64_t first, int64_t count, float *out);

/* Device buffers of a GPU run: the batch's pixels and its outputs before they are copied back. */
typedef struct ng__inc_io { float *x, *pool3, *logits; } ng__inc_io;

static ng_status ng__inc_run_all(const ng_inception *net, int64_t n, int channels, int h, int w, int batch,
                                 ng__inc_fill_fn fill, const void *user, float *pool3, float *logits) {
    ng__inc_run r;
    ng__inc_io dev = {NULL, NULL, NULL};
    float *xb = NULL, *fb = NULL;
    int64_t first, per = (int64_t)channels * h * w;
    ng_status st = NG_OK;
    if (!net) return ng_fail(NG_ERR_ARG, "inception: NULL network");
    if (channels != 1 && channels != 3)
        return ng_fail(NG_ERR_ARG, "inception: images have %d channels; 1 (grayscale, replicated) or 3 expected", channels);
    if (h < 1 || w < 1 || h > 4096 || w > 4096) return ng_fail(NG_ERR_ARG, "inception: image size %dx%d out of range", h, w);
    if (n < 0) return ng_fail(NG_ERR_ARG, "inception: negative image count");
    if (n == 0) return NG_OK;
    memset(&r, 0, sizeof r);
    r.net = net;
    r.gpu = net->dev_block ? ng_cuda_get_hooks() : NULL;
    if (batch <= 0) batch = r.gpu ? 100 : 16;
    if (batch > n) batch = (int)n;
    xb = (float *)malloc((size_t)batch * (size_t)per * sizeof(float));
    if (!pool3 && !r.gpu) fb = (float *)malloc((size_t)batch * NG_INCEPTION_FEATURES * sizeof(float));
    if (!xb || (!pool3 && !r.gpu && !fb)) { free(xb); free(fb); return ng_fail(NG_ERR_NOMEM, "inception: out of memory"); }
    if (r.gpu) {
        r.B = batch;
        dev.x = ng__inc_alloc(&r, (int64_t)batch * per);
        dev.pool3 = ng__inc_alloc(&r, (int64_t)batch * NG_INCEPTION_FEATURES);
        if (logits) dev.logits = ng__inc_alloc(&r, (int64_t)batch * NG_INCEPTION_CLASSES);
        st = r.st;
    }
    for (first = 0; first < n && st == NG_OK; first += r.B) {
        float *p3 = pool3 ? pool3 + first * NG_INCEPTION_FEATURES : fb, *lg = logits ? logits + first * NG_INCEPTION_CLASSES : NULL;
        r.B = (int)(n - first < batch ? n - first : batch);
        st = fill(user, first, r.B, xb);
        if (st == NG_OK) st = ng__check_finite_f32(xb, r.B, per, "inception: input images");
        if (st != NG_OK) break;
        if (!r.gpu) {
            st = ng__inc_batch(&r, xb, channels, h, w, p3, lg);
            continue;
        }
        ng__inc_gpu_check(&r, r.gpu->memcpy_h2d(dev.x, xb, (size_t)(r.B * per) * sizeof(float)), "copying the images");
        st = ng__inc_batch(&r, dev.x, channels, h, w, dev.pool3, dev.logits);
        if (st == NG_OK && p3)
            ng__inc_gpu_check(&r, r.gpu->memcpy_d2h(p3, dev.pool3, (size_t)r.B * NG_INCEPTION_FEATURES * sizeof(float)),
                              "copying the features back");
        if (st == NG_OK && lg)
            ng__inc_gpu_check(&r, r.gpu->memcpy_d2h(lg, dev.logits, (size_t)r.B * NG_INCEPTION_CLASSES * sizeof(float)),
                              "copying the logits back");
        st = r.st;
    }
    ng__inc_free(&r, r.col);
    ng__inc_free(&r, dev.x);
    ng__inc_free(&r, dev.pool3);
    ng__inc_free(&r, dev.logits);
    ng__inc_cache_free(&r);
    free(xb);
    free(fb);
    return st;
}

typedef struct ng__inc_arr { const float *x; int64_t per; } ng__inc_arr;

static ng_status ng__inc_fill_arr(const void *user, int64_t first, int64_t count, float *out) {
    const ng__inc_arr *a = (const ng__inc_arr *)user;
    memcpy(out, a->x + first * a->per, (size_t)(count * a->per) * sizeof(float));
    return NG_OK;
}

static ng_status ng__inc_fill_src(const void *user, int64_t first, int64_t count, float *out) {
    const ng_image_source *src = (const ng_image_source *)user;
    return src->fill(src, first, count, out);
}

ng_status ng_inception_forward(const ng_inception *net, const float *x, int64_t n, int channels, int h, int w,
                               int batch, float *pool3, float *logits) {
    ng__inc_arr a;
    if (!x && n > 0) return ng_fail(NG_ERR_ARG, "inception forward: NULL images");
    a.x = x;
    a.per = (int64_t)channels * h * w;
    return ng__inc_run_all(net, n, channels, h, w, batch, ng__inc_fill_arr, &a, pool3, logits);
}

ng_status ng_inception_embed(const ng_inception *net, const ng_image_source *src, int batch, float *pool3,
                             float *logits) {
    if (!src || !src->fill) return ng_fail(NG_ERR_ARG, "inception embed: NULL source");
    return ng__inc_run_all(net, src->n, src->channels > 0 ? src->channels : 1, src->size, src->size, batch,
                           ng__inc_fill_src, src, pool3, logits);
}

void ng_inception_logits_unbiased(const ng_inception *net, const float *pool3, int64_t n, float *out) {
    if (n > 0)
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, n, NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES, 1.0f, pool3, NG_INCEPTION_FEATURES,
                 net->fc_w, NG_INCEPTION_FEATURES, 0.0f, out, NG_INCEPTION_CLASSES);
}

ng_status ng_inception_stats(const ng_inception *net, const ng_image_source *src, int batch, ng_feat_stats *out) {
    char id[NG_FEAT_ID_MAX];
    float *f;
    ng_status st;
    if (!net || !src || src->n < 2 || !out) return ng_fail(NG_ERR_ARG, "inception stats: needs a network and at least 2 images");
    f = (float *)malloc((size_t)src->n * NG_INCEPTION_FEATURES * sizeof(float));
    if (!f) return ng_fail(NG_ERR_NOMEM, "inception stats: out of memory");
    st = ng_inception_embed(net, src, batch, f, NULL);
    ng_inception_identity(net, id, sizeof id);
    if (st == NG_OK) st = ng_feat_stats_compute(out, f, src->n, NG_INCEPTION_FEATURES, id);
    free(f);
    return st;
}

ng_status ng_inception_evaluate(const ng_inception *net, const ng_image_source *gen, const ng_feat_stats *real,
                                const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                                ng_eval_result *out) {
    ng_eval_opts o;
    float *f = NULL, *lg = NULL;
    ng_feat_stats gs;
    ng_rng rng;
    ng_status st;
    char id[NG_FEAT_ID_MAX];
    memset(&gs, 0, sizeof gs);
    if (!net || !gen || !real || !out) return ng_fail(NG_ERR_ARG, "inception evaluate: NULL argument");
    ng_inception_identity(net, id, sizeof id);
    memset(out, 0, sizeof *out);
    if (opts) o = *opts; else memset(&o, 0, sizeof o);
    if (!real->finished || real->d != NG_INCEPTION_FEATURES)
        return ng_fail(NG_ERR_ARG, "inception evaluate: real statistics not finished or not %d-d", NG_INCEPTION_FEATURES);
    if (strcmp(real->net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "inception evaluate: real statistics are from '%s', this network is '%s'",
                       real->net_id, id);
    if (gen->n < 2) return ng_fail(NG_ERR_ARG, "inception evaluate: needs at least 2 generated images");
    f = (float *)malloc((size_t)gen->n * NG_INCEPTION_FEATURES * sizeof(float));
    lg = (float *)malloc((size_t)gen->n * NG_INCEPTION_CLASSES * sizeof(float));
    if (!f || !lg) { st = ng_fail(NG_ERR_NOMEM, "inception evaluate: out of memory"); goto done; }
    st = ng_inception_embed(net, gen, o.batch, f, NULL);
    if (st == NG_OK) ng_inception_logits_unbiased(net, f, gen->n, lg);   /* the IS of the TF code */
    if (st == NG_OK) st = ng_feat_stats_compute(&gs, f, gen->n, NG_INCEPTION_FEATURES, id);
    if (st == NG_OK) st = ng_metric_fid(&gs, real, &out->fid);
    ng_rng_seed(&rng, o.seed);
    if (st == NG_OK && real_features) {
        st = ng_metric_kid(f, gen->n, real_features, n_real_features, NG_INCEPTION_FEATURES, o.kid_subsets,
                           o.kid_subset_size, &rng, &out->kid_mean, &out->kid_std);
        out->has_kid = st == NG_OK;
    }
    if (st == NG_OK) st = ng__eval_prc(f, gen->n, real_features, n_real_features, NG_INCEPTION_FEATURES, o.prc_k, out);
    if (st == NG_OK)
        st = ng_metric_is_logits(lg, gen->n, NG_INCEPTION_CLASSES, o.is_splits, o.is_shuffle ? &rng : NULL,
                                 &out->is_mean, &out->is_std);
    out->n = gen->n;
    out->n_real = real->n;
done:
    ng_feat_stats_free(&gs);
    free(f);
    free(lg);
    return st;
}

/* ---- src/bilevel.c ---- */
/* ======================================================================================== */
/* @@BILEVEL                                                                                */
/* ======================================================================================== */
int ng_bilevel_preset(const char *name, ng_bilevel_config *c) {
    memset(c, 0, sizeof *c);
    c->batch = 64; c->latent_dim = 128; c->n_critic = 5; c->arch_steps = 20; c->epochs = 99;
    c->lr_g = c->lr_d = 2e-4f; c->beta1 = 0.0f; c->beta2 = 0.9f;
    c->lr_worst_early = 2e-4f; c->lr_worst_late = 1e-4f; c->worst_lr_switch = 30;
    c->lr_alpha = 3e-4f; c->alpha_beta1 = 0.5f; c->alpha_beta2 = 0.999f; c->alpha_weight_decay = 1e-3f;
    if (!strcmp(name, "paper-s")) { c->inner_steps = 20; c->worst_steps = 20; return 0; }
    if (!strcmp(name, "paper-l")) { c->inner_steps = 390; c->worst_steps = 390; return 0; }
    if (!strcmp(name, "quick")) {
        c->batch = 32; c->inner_steps = 10; c->worst_steps = 10; c->arch_steps = 10; c->epochs = 10;
        c->lr_alpha = 5e-3f;   /* 100 alpha steps instead of 1,980: a larger step so alpha can move as far */
        return 0;
    }
    return -1;
}

static int64_t ng__bl_steps(const ng_bilevel *b, int configured) {
    int64_t n = (int64_t)configured + 2; /* the reference breaks once step > configured */
    return b->batches_per_pass > 0 && b->batches_per_pass < n ? b->batches_per_pass : n;
}

ng_status ng_bilevel_init(ng_bilevel *b, const ng_bilevel_config *cfg, ng_gan_net g, ng_gan_net d,
                          ng_gan_net g_worst, ng_gan_net d_worst, ng_ctx *ctx, uint64_t seed,
                          ng_real_batch_fn real_batch, void *data, int64_t batches_per_pass) {
    ng_status s;
    memset(b, 0, sizeof *b);
    if (!g.alpha || !g.weights || !d.weights || !g_worst.alpha || !d_worst.weights || !g.forward || !d.forward)
        return ng_fail(NG_ERR_ARG, "bilevel: G needs weights and alpha, D needs weights, both a forward");
    if (!ng_params_same_layout(g.weights, g_worst.weights) || !ng_params_same_layout(d.weights, d_worst.weights) ||
        !ng_params_same_layout(g.alpha, g_worst.alpha))
        return ng_fail(NG_ERR_ARG, "bilevel: the worst-case nets must have the layout of G and D");
    if (g.alpha == g_worst.alpha) return ng_fail(NG_ERR_ARG, "bilevel: G_worst needs its own copy of alpha");
    b->cfg = *cfg;
    b->g = g; b->d = d; b->g_worst = g_worst; b->d_worst = d_worst;
    b->ctx = ctx;
    b->real_batch = real_batch;
    b->data = data;
    b->batches_per_pass = batches_per_pass;
    ng_rng_seed(&b->rng, seed);
    s = ng_adam_init(&b->opt_g, g.weights, cfg->lr_g, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_d, d.weights, cfg->lr_d, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_alpha, g.alpha, cfg->lr_alpha, cfg->alpha_beta1, cfg->alpha_beta2, 1e-8f, cfg->alpha_weight_decay);
    if (s == NG_OK) s = ng_adam_init(&b->opt_g_worst, g_worst.weights, cfg->lr_worst_early, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_d_worst, d_worst.weights, cfg->lr_worst_early, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s != NG_OK) ng_bilevel_free(b);
    return s;
}

void ng_bilevel_free(ng_bilevel *b) {
    ng_adam_free(&b->opt_g); ng_adam_free(&b->opt_d); ng_adam_free(&b->opt_alpha);
    ng_adam_free(&b->opt_g_worst); ng_adam_free(&b->opt_d_worst);
}

static ng_tensor *ng__bl_latent(ng_bilevel *b) {
    return ng_tensor_randn(b->ctx, ng_shape2(b->cfg.batch, b->cfg.latent_dim), &b->rng);
}

/* Reset the arena and make `groups` the only ones receiving gradients. */
static void ng__bl_begin(ng_bilevel *b, ng_params *const *groups, int n) {
    ng_ctx_reset(b->ctx);
    ng_ctx_set_training(b->ctx, 1); /* the reference keeps every net in train mode */
    ng_ctx_grad_for(b->ctx, groups, n);
}

static ng_status ng__bl_fail(ng_bilevel *b, const char *what) {
    ng_status s = ng_ctx_status(b->ctx) != NG_OK ? ng_ctx_status(b->ctx) : NG_ERR_ARG;
    return ng_fail(s, "bilevel %s step (epoch %lld): %s", what, (long long)b->epoch + 1, ng_last_error());
}

/* Hinge D step of `dn` against fakes from `gn` (a forward without tape: G is not differentiated). */
static ng_status ng__bl_d_step(ng_bilevel *b, ng_gan_net *dn, ng_gan_net *gn, ng_adam *opt, int split, float *loss_out) {
    ng_tensor *real, *fake, *loss;
    ng__bl_begin(b, &dn->weights, 1);
    real = b->real_batch(b->ctx, b->data, split, b->cfg.batch);
    fake = gn->forward(b->ctx, gn->net, ng__bl_latent(b));
    loss = ng_hinge_loss_d(b->ctx, dn->forward(b->ctx, dn->net, real), dn->forward(b->ctx, dn->net, fake));
    if (!loss || ng_backward(b->ctx, loss) != NG_OK) return ng__bl_fail(b, "D");
    ng_adam_step(opt);
    ng_params_zero_grad(dn->weights);
    *loss_out = ng_tensor_item(loss);
    return NG_OK;
}

/* G step of `gn`'s weights on -mean D(G(z)) (D's weights get no gradient). */
static ng_status ng__bl_g_step(ng_bilevel *b, ng_gan_net *gn, ng_gan_net *dn, ng_adam *opt, float *loss_out) {
    ng_tensor *loss;
    ng__bl_begin(b, &gn->weights, 1);
    loss = ng_hinge_loss_g(b->ctx, dn->forward(b->ctx, dn->net, gn->forward(b->ctx, gn->net, ng__bl_latent(b))));
    if (!loss || ng_backward(b->ctx, loss) != NG_OK) return ng__bl_fail(b, "G");
    ng_adam_step(opt);
    ng_params_zero_grad(gn->weights);
    *loss_out = ng_tensor_item(loss);
    return NG_OK;
}

ng_status ng_bilevel_d_step(ng_bilevel *b) {
    ng_status s = ng__bl_d_step(b, &b->d, &b->g, &b->opt_d, 0, &b->last.d_loss);
    if (s == NG_OK) b->global_step++;
    return s;
}

ng_status ng_bilevel_g_step(ng_bilevel *b) {
    if (b->cfg.g_lr_rising_cosine) /* CosineAnnealingLR(T_max 100, eta_min 1e-3), stepped per epoch */
        b->opt_g.lr = ng_lr_at(NG_LR_COSINE, b->cfg.lr_g, 1e-3f, b->epoch, 100);
    return ng__bl_g_step(b, &b->g, &b->d, &b->opt_g, &b->last.g_loss);
}

static ng_status ng__bl_copy_net(ng_gan_net *dst, const ng_gan_net *src) {
    ng_status s = ng_params_copy(dst->weights, src->weights);
    if (s == NG_OK && src->buffers && dst->buffers) s = ng_params_copy(dst->buffers, src->buffers);
    if (s == NG_OK && src->alpha && dst->alpha) s = ng_params_copy(dst->alpha, src->alpha);
    return s;
}

static ng_status ng__bl_find_worst(ng_bilevel *b, ng_bilevel_progress progress, void *user) {
    int64_t i, n = ng__bl_steps(b, b->cfg.worst_steps);
    float lr = b->epoch + 1 <= b->cfg.worst_lr_switch ? b->cfg.lr_worst_early : b->cfg.lr_worst_late;
    ng_status s = ng__bl_copy_net(&b->g_worst, &b->g);
    if (s == NG_OK) s = ng__bl_copy_net(&b->d_worst, &b->d);
    if (s != NG_OK) return s;
    ng_adam_reset(&b->opt_g_worst);
    ng_adam_reset(&b->opt_d_worst);
    b->opt_g_worst.lr = b->opt_d_worst.lr = lr;
    for (i = 0; i < n && s == NG_OK; i++) { /* D_worst against fakes of the current G */
        s = ng__bl_d_step(b, &b->d_worst, &b->g, &b->opt_d_worst, 1, &b->last.d_worst_loss);
        if (progress && s == NG_OK) progress(b, "D_worst", i + 1, n, user);
    }
    for (i = 0; i < n && s == NG_OK; i++) { /* G_worst's weights (not its alpha) against the current D */
        s = ng__bl_g_step(b, &b->g_worst, &b->d, &b->opt_g_worst, &b->last.g_worst_loss);
        if (progress && s == NG_OK) progress(b, "G_worst", i + 1, n, user);
    }
    return s;
}

ng_status ng_bilevel_find_worst(ng_bilevel *b) { return ng__bl_find_worst(b, NULL, NULL); }

/* V(G, D) = -hinge_D loss; the gap is V(G, D_worst) - V(G_worst, D). Only G's alpha is
   differentiated: G_worst holds its own alpha copy, so the maxmin term adds nothing. */
ng_status ng_bilevel_gap_grad(ng_bilevel *b) {
    ng_ctx *c = b->ctx;
    ng_tensor *real, *minmax, *maxmin, *gap;
    ng__bl_begin(b, &b->g.alpha, 1);
    real = b->real_batch(c, b->data, 1, b->cfg.batch);
    minmax = ng_scale(c, ng_hinge_loss_d(c, b->d_worst.forward(c, b->d_worst.net, real),
                                         b->d_worst.forward(c, b->d_worst.net, b->g.forward(c, b->g.net, ng__bl_latent(b)))), -1.0f);
    maxmin = ng_scale(c, ng_hinge_loss_d(c, b->d.forward(c, b->d.net, real),
                                         b->d.forward(c, b->d.net, b->g_worst.forward(c, b->g_worst.net, ng__bl_latent(b)))), -1.0f);
    gap = ng_sub(c, minmax, maxmin);
    if (!gap || ng_backward(c, gap) != NG_OK) return ng__bl_fail(b, "architecture");
    b->last.minmax = ng_tensor_item(minmax);
    b->last.maxmin = ng_tensor_item(maxmin);
    b->last.gap = ng_tensor_item(gap);
    return NG_OK;
}

ng_status ng_bilevel_arch_step(ng_bilevel *b) {
    ng_status s = ng_bilevel_gap_grad(b);
    if (s != NG_OK) return s;
    ng_adam_step(&b->opt_alpha);
    ng_params_zero_grad(b->g.alpha);
    return NG_OK;
}

void ng_bilevel_epoch_plan(const ng_bilevel *b, int64_t *d_steps, int64_t *g_steps, int64_t *worst_steps,
                           int64_t *arch_steps) {
    int64_t n_d = ng__bl_steps(b, b->cfg.inner_steps), i, n_g = 0;
    for (i = 0; i < n_d; i++) n_g += (b->global_step + i) % b->cfg.n_critic == 0;
    if (d_steps) *d_steps = n_d;
    if (g_steps) *g_steps = n_g;
    if (worst_steps) *worst_steps = ng__bl_steps(b, b->cfg.worst_steps);
    if (arch_steps) *arch_steps = b->cfg.arch_steps;
}

ng_status ng_bilevel_epoch(ng_bilevel *b, ng_bilevel_progress progress, void *user) {
    int64_t i, n_d = ng__bl_steps(b, b->cfg.inner_steps);
    ng_status s = NG_OK;
    for (i = 0; i < n_d && s == NG_OK; i++) {
        int g_turn = b->global_step % b->cfg.n_critic == 0;
        s = ng_bilevel_d_step(b);
        if (progress && s == NG_OK) progress(b, "D", i + 1, n_d, user);
        if (g_turn && s == NG_OK) {
            s = ng_bilevel_g_step(b);
            if (progress && s == NG_OK) progress(b, "G", i + 1, n_d, user);
        }
    }
    if (s == NG_OK) s = ng__bl_find_worst(b, progress, user);
    for (i = 0; i < b->cfg.arch_steps && s == NG_OK; i++) {
        s = ng_bilevel_arch_step(b);
        if (progress && s == NG_OK) progress(b, "alpha", i + 1, b->cfg.arch_steps, user);
    }
    if (s == NG_OK) b->epoch++;
    return s;
}

static ng_status ng__bl_put_net(ng_ckpt *ck, const ng_gan_net *n) {
    ng_status s = ng_ckpt_put_params(ck, n->weights);
    if (s == NG_OK && n->buffers) s = ng_ckpt_put_params(ck, n->buffers);
    if (s == NG_OK && n->alpha) s = ng_ckpt_put_params(ck, n->alpha);
    return s;
}
static ng_status ng__bl_get_net(const ng_ckpt *ck, ng_gan_net *n) {
    ng_status s = ng_ckpt_get_params(ck, n->weights);
    if (s == NG_OK && n->buffers) s = ng_ckpt_get_params(ck, n->buffers);
    if (s == NG_OK && n->alpha) s = ng_ckpt_get_params(ck, n->alpha);
    return s;
}

ng_status ng_bilevel_put(ng_ckpt *ck, const ng_bilevel *b) {
    ng_status s = ng__bl_put_net(ck, &b->g);
    if (s == NG_OK) s = ng__bl_put_net(ck, &b->d);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.g", &b->opt_g);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.d", &b->opt_d);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.alpha", &b->opt_alpha);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "bilevel.rng.latent", &b->rng);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "bilevel.rng.ctx", &b->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "bilevel.epoch", b->epoch);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "bilevel.global_step", b->global_step);
    return s;
}

ng_status ng_bilevel_get(const ng_ckpt *ck, ng_bilevel *b) {
    ng_status s = ng__bl_get_net(ck, &b->g);
    if (s == NG_OK) s = ng__bl_get_net(ck, &b->d);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.g", &b->opt_g);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.d", &b->opt_d);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.alpha", &b->opt_alpha);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "bilevel.rng.latent", &b->rng);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "bilevel.rng.ctx", &b->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "bilevel.epoch", &b->epoch);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "bilevel.global_step", &b->global_step);
    return s;
}

/* ---- src/gan_train.c ---- */
/* ======================================================================================== */
/* @@GANTRAIN                                                                               */
/* ======================================================================================== */
static ng_tensor *ng__gt_search_fw(ng_ctx *c, void *net, ng_tensor *z) {
    return ng_gan_gen_search_forward(c, (const ng_gan_gen_search *)net, z);
}
static ng_tensor *ng__gt_fixed_fw(ng_ctx *c, void *net, ng_tensor *z) {
    return ng_gan_gen_fixed_forward(c, (const ng_gan_gen_fixed *)net, z);
}
static ng_tensor *ng__gt_disc_fw(ng_ctx *c, void *net, ng_tensor *x) {
    return ng_gan_disc_forward(c, (const ng_gan_disc *)net, x);
}

ng_gan_net ng_gan_net_search(ng_gan_gen_search *G) {
    ng_gan_net n;
    n.net = G; n.weights = G->weights; n.buffers = G->buffers; n.alpha = G->alpha; n.forward = ng__gt_search_fw;
    return n;
}
ng_gan_net ng_gan_net_fixed(ng_gan_gen_fixed *G) {
    ng_gan_net n;
    n.net = G; n.weights = G->weights; n.buffers = G->buffers; n.alpha = NULL; n.forward = ng__gt_fixed_fw;
    return n;
}
ng_gan_net ng_gan_net_disc(ng_gan_disc *D) {
    ng_gan_net n;
    n.net = D; n.weights = D->weights; n.buffers = D->buffers; n.alpha = NULL; n.forward = ng__gt_disc_fw;
    return n;
}

ng_status ng_gan_train_preset(const char *dataset, ng_gan_train_config *c) {
    memset(c, 0, sizeof *c);
    c->d_batch = 64; c->g_batch = 128; c->latent_dim = 128; c->n_critic = 5;
    c->lr_g = c->lr_d = 2e-4f; c->beta1 = 0.0f; c->beta2 = 0.9f; c->ema_decay = 0.999f;
    c->max_g_steps = 50000;
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan train preset: NULL dataset name");
    if (!strcmp(dataset, "cifar10") || !strcmp(dataset, "fashion_mnist")) return NG_OK;
    if (!strcmp(dataset, "stl10")) { c->beta1 = 0.5f; c->max_g_steps = 80000; return NG_OK; }
    return ng_fail(NG_ERR_ARG, "gan train preset: unknown dataset '%s' (cifar10, stl10, fashion_mnist)", dataset);
}

ng_status ng_gan_trainer_init(ng_gan_trainer *t, const ng_gan_train_config *cfg, ng_gan_net g, ng_gan_net d,
                              ng_ctx *ctx, uint64_t seed, ng_real_batch_fn real_batch, void *data) {
    ng_status s;
    memset(t, 0, sizeof *t);
    if (!g.weights || !d.weights || !g.forward || !d.forward || !ctx || !real_batch)
        return ng_fail(NG_ERR_ARG, "gan trainer: G and D need weights and a forward; a context and a data source are required");
    if (cfg->d_batch < 1 || cfg->g_batch < 1 || cfg->latent_dim < 1 || cfg->n_critic < 1 ||
        !(cfg->ema_decay >= 0.0f && cfg->ema_decay <= 1.0f))
        return ng_fail(NG_ERR_ARG, "gan trainer: batches, latent size and n_critic must be positive, EMA decay in [0, 1]");
    t->cfg = *cfg; t->g = g; t->d = d; t->ctx = ctx; t->real_batch = real_batch; t->data = data;
    ng_rng_seed(&t->rng, seed);
    s = ng_adam_init(&t->opt_g, g.weights, cfg->lr_g, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&t->opt_d, d.weights, cfg->lr_d, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_ema_init(&t->ema, g.weights, cfg->ema_decay);
    if (s != NG_OK) ng_gan_trainer_free(t);
    return s;
}

void ng_gan_trainer_free(ng_gan_trainer *t) {
    ng_adam_free(&t->opt_g);
    ng_adam_free(&t->opt_d);
    ng_ema_free(&t->ema);
}

static ng_tensor *ng__gt_latent(ng_ctx *ctx, ng_rng *r, int n, int dim) {
    return ng_tensor_randn(ctx, ng_shape2(n, dim), r);
}

static ng_status ng__gt_fail(ng_gan_trainer *t, const char *what) {
    ng_status s = ng_ctx_status(t->ctx) != NG_OK ? ng_ctx_status(t->ctx) : NG_ERR_ARG;
    return ng_fail(s, "gan trainer %s step %lld: %s", what, (long long)t->d_steps, ng_last_error());
}

ng_status ng_gan_trainer_step(ng_gan_trainer *t) {
    ng_ctx *c = t->ctx;
    ng_tensor *real, *fake, *loss;
    int g_turn = t->d_steps % t->cfg.n_critic == 0;
    /* D: hinge loss on real images and fakes (G runs without being differentiated) */
    ng_ctx_reset(c);
    ng_ctx_set_training(c, 1);
    ng_ctx_grad_for(c, &t->d.weights, 1);
    real = t->real_batch(c, t->data, 0, t->cfg.d_batch);
    fake = t->g.forward(c, t->g.net, ng__gt_latent(c, &t->rng, t->cfg.d_batch, t->cfg.latent_dim));
    loss = ng_hinge_loss_d(c, t->d.forward(c, t->d.net, real), t->d.forward(c, t->d.net, fake));
    if (!loss || ng_backward(c, loss) != NG_OK) return ng__gt_fail(t, "D");
    ng_adam_step(&t->opt_d);
    ng_params_zero_grad(t->d.weights);
    t->d_loss = ng_tensor_item(loss);
    t->d_steps++;
    if (!g_turn) return NG_OK;
    /* G: -mean D(G(z)) on g_batch latents, then the EMA of G's parameters */
    ng_ctx_reset(c);
    ng_ctx_grad_for(c, &t->g.weights, 1);
    loss = ng_hinge_loss_g(c, t->d.forward(c, t->d.net, t->g.forward(c, t->g.net,
                                           ng__gt_latent(c, &t->rng, t->cfg.g_batch, t->cfg.latent_dim))));
    if (!loss || ng_backward(c, loss) != NG_OK) return ng__gt_fail(t, "G");
    ng_adam_step(&t->opt_g);
    ng_params_zero_grad(t->g.weights);
    ng_ema_update(&t->ema);
    t->g_loss = ng_tensor_item(loss);
    t->g_steps++;
    return NG_OK;
}

ng_status ng_gan_trainer_put(ng_ckpt *ck, const ng_gan_trainer *t) {
    ng_status s = ng_ckpt_put_params(ck, t->g.weights);
    if (s == NG_OK && t->g.buffers) s = ng_ckpt_put_params(ck, t->g.buffers);
    if (s == NG_OK) s = ng_ckpt_put_params(ck, t->d.weights);
    if (s == NG_OK && t->d.buffers) s = ng_ckpt_put_params(ck, t->d.buffers);
    if (s == NG_OK) s = ng_ckpt_put_ema(ck, "train.ema.g", &t->ema);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "train.adam.g", &t->opt_g);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "train.adam.d", &t->opt_d);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "train.rng.latent", &t->rng);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "train.rng.ctx", &t->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "train.d_steps", t->d_steps);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "train.g_steps", t->g_steps);
    return s;
}

ng_status ng_gan_trainer_get(const ng_ckpt *ck, ng_gan_trainer *t) {
    ng_status s = ng_ckpt_get_params(ck, t->g.weights);
    if (s == NG_OK && t->g.buffers) s = ng_ckpt_get_params(ck, t->g.buffers);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, t->d.weights);
    if (s == NG_OK && t->d.buffers) s = ng_ckpt_get_params(ck, t->d.buffers);
    if (s == NG_OK) s = ng_ckpt_get_ema(ck, "train.ema.g", &t->ema);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "train.adam.g", &t->opt_g);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "train.adam.d", &t->opt_d);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "train.rng.latent", &t->rng);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "train.rng.ctx", &t->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "train.d_steps", &t->d_steps);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "train.g_steps", &t->g_steps);
    return s;
}

/* Generate n images in batches on the generator's device; emit(first, count, images, shape,
   user) receives each batch in host memory. The arena starts at 256 MiB and doubles (twice at
   most) when a batch does not fit. */
typedef ng_status (*ng__gt_emit_fn)(int64_t first, int64_t count, const float *x, ng_shape shape, void *user);
static ng_status ng__gt_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                                 ng__gt_emit_fn emit, void *user) {
    size_t arena = (size_t)256 << 20;
    ng_ctx *ctx;
    ng_rng r;
    int64_t first;
    int retries = 0;
    ng_status st = NG_OK;
    if (!g.forward || n < 0 || latent_dim < 1) return ng_fail(NG_ERR_ARG, "gan generate: bad generator or sizes");
    if (batch <= 0) batch = 100;
    ng_rng_seed(&r, seed);
    if (!(ctx = ng_ctx_create_on(arena, seed, (ng_device)g.weights->device))) return NG_ERR_NOMEM;
    for (first = 0; first < n && st == NG_OK;) {
        int64_t b = n - first < batch ? n - first : batch;
        ng_rng saved = r;
        ng_tensor *x;
        ng_ctx_reset(ctx);
        ctx->training = 0;
        ctx->no_grad = 1;
        x = g.forward(ctx, g.net, ng__gt_latent(ctx, &r, (int)b, latent_dim));
        if (!x) {
            ng_status cs = ng_ctx_status(ctx) != NG_OK ? ng_ctx_status(ctx) : NG_ERR_NOMEM;
            if (cs == NG_ERR_NOMEM && retries++ < 2) {   /* arena too small: grow and redo the batch */
                ng_ctx_free(ctx);
                ng_clear_error();
                arena *= 2;
                r = saved;
                if (!(ctx = ng_ctx_create_on(arena, seed, (ng_device)g.weights->device))) return NG_ERR_NOMEM;
                continue;
            }
            st = ng_fail(cs, "gan generate: forward failed at image %lld: %s", (long long)first, ng_last_error());
            break;
        }
        {
            const float *h = ng_tensor_host_read(ctx, x);
            st = h ? emit(first, b, h, x->shape, user) : ng_fail(NG_ERR_NOMEM, "gan generate: cannot copy images to the host");
        }
        first += b;
    }
    ng_ctx_free(ctx);
    return st;
}

typedef struct { unsigned char *buf; int c, h, w; } ng__gt_u8_sink;
static ng_status ng__gt_emit_u8(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_u8_sink *s = (ng__gt_u8_sink *)user;
    int64_t numel = ng_shape_numel(shape), per = numel / count, i;
    if (!s->buf) return NG_OK;   /* geometry probe */
    for (i = 0; i < numel; i++) {
        float v = 127.5f * x[i] + 127.5f;   /* clamp(127.5 x + 127.5).type(uint8): truncation */
        s->buf[first * per + i] = (unsigned char)(v != v ? 0.0f : v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
    return NG_OK;
}
static ng_status ng__gt_probe(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_u8_sink *s = (ng__gt_u8_sink *)user;
    (void)first; (void)count; (void)x;
    if (shape.ndim != 4) return ng_fail(NG_ERR_ARG, "gan generate: the generator's output is not (N, C, H, W)");
    s->c = (int)shape.d[1]; s->h = (int)shape.d[2]; s->w = (int)shape.d[3];
    return NG_OK;
}

ng_status ng_gan_generate_u8(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                             unsigned char **out, int *c, int *h, int *w) {
    ng__gt_u8_sink s;
    size_t bytes;
    ng_status st;
    memset(&s, 0, sizeof s);
    *out = NULL;
    if (n < 1) return ng_fail(NG_ERR_ARG, "gan generate: n must be positive");
    st = ng__gt_generate(g, latent_dim, 1, 1, seed, ng__gt_probe, &s);
    if (st != NG_OK) return st;
    bytes = (size_t)n * (size_t)s.c * (size_t)s.h * (size_t)s.w;
    if (!(s.buf = (unsigned char *)malloc(bytes ? bytes : 1)))
        return ng_fail(NG_ERR_NOMEM, "gan generate: cannot allocate %zu bytes", bytes);
    st = ng__gt_generate(g, latent_dim, n, batch, seed, ng__gt_emit_u8, &s);
    if (st != NG_OK) { free(s.buf); return st; }
    *out = s.buf; *c = s.c; *h = s.h; *w = s.w;
    return NG_OK;
}

typedef struct { float *buf; int64_t numel; } ng__gt_f32_sink;
static ng_status ng__gt_emit_f32(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_f32_sink *s = (ng__gt_f32_sink *)user;
    int64_t numel = ng_shape_numel(shape), per = numel / count;
    if ((first + count) * per > s->numel)
        return ng_fail(NG_ERR_ARG, "gan generate: %lld images of %lld values do not fit a buffer of %lld floats",
                       (long long)(first + count), (long long)per, (long long)s->numel);
    memcpy(s->buf + first * per, x, (size_t)numel * sizeof(float));
    return NG_OK;
}

ng_status ng_gan_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed, float *out,
                          int64_t out_numel) {
    ng__gt_f32_sink s;
    s.buf = out; s.numel = out_numel;
    return ng__gt_generate(g, latent_dim, n, batch, seed, ng__gt_emit_f32, &s);
}
static void ng__sampler_shuffle(ng_image_sampler *s, int k) {
    int64_t n = s->end[k] - s->begin[k], i;
    for (i = 0; i < n; i++) s->perm[k][i] = (int32_t)(s->begin[k] + i);
    for (i = n - 1; i > 0; i--) {   /* Fisher-Yates */
        int64_t j = (int64_t)ng_rng_below(&s->rng, (uint64_t)(i + 1));
        int32_t t = s->perm[k][i];
        s->perm[k][i] = s->perm[k][j];
        s->perm[k][j] = t;
    }
    s->cursor[k] = 0;
}

ng_status ng_image_sampler_init(ng_image_sampler *s, const ng_image_set *set, int64_t split_at, ng_image_norm norm,
                                uint64_t seed) {
    int k;
    memset(s, 0, sizeof *s);
    if (!set || set->n < 1 || split_at < 1 || split_at > set->n || set->n > INT32_MAX)
        return ng_fail(NG_ERR_ARG, "image sampler: split point %lld outside [1, %lld]", (long long)split_at,
                       (long long)(set ? set->n : 0));
    s->set = set; s->norm = norm;
    s->begin[0] = 0; s->end[0] = split_at;
    s->begin[1] = split_at; s->end[1] = set->n;
    ng_rng_seed(&s->rng, seed);
    for (k = 0; k < 2; k++) {
        int64_t n = s->end[k] - s->begin[k];
        s->perm[k] = (int32_t *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
        if (!s->perm[k]) { ng_image_sampler_free(s); return ng_fail(NG_ERR_NOMEM, "image sampler: out of memory"); }
        ng__sampler_shuffle(s, k);
    }
    return NG_OK;
}

void ng_image_sampler_free(ng_image_sampler *s) {
    free(s->perm[0]); free(s->perm[1]); free(s->idx);
    memset(s, 0, sizeof *s);
}

ng_tensor *ng_image_sampler_batch(ng_ctx *ctx, void *user, int split, int batch) {
    ng_image_sampler *s = (ng_image_sampler *)user;
    int k = split ? 1 : 0, i;
    int64_t n = s->end[k] - s->begin[k];
    if (n < 1 || batch < 1) {
        ng_fail(NG_ERR_ARG, "image sampler: split %d is empty", k);
        return NULL;
    }
    if (batch > s->idx_cap) {
        int64_t *p = (int64_t *)realloc(s->idx, (size_t)batch * sizeof(int64_t));
        if (!p) { ng_fail(NG_ERR_NOMEM, "image sampler: out of memory"); return NULL; }
        s->idx = p; s->idx_cap = batch;
    }
    for (i = 0; i < batch; i++) {
        if (s->cursor[k] >= n) ng__sampler_shuffle(s, k);
        s->idx[i] = s->perm[k][s->cursor[k]++];
    }
    return ng_image_set_batch(ctx, s->set, s->idx, batch, s->norm);
}

/* Record "KEY": u32 version 1, 2 x (i64 begin, i64 end, i64 cursor, (end - begin) x u32), then
   the RNG as its own record "KEY.rng". */
ng_status ng_image_sampler_put(ng_ckpt *ck, const char *key, const ng_image_sampler *s) {
    size_t bytes = 4, o = 0;
    unsigned char *buf;
    char rk[NG_CKPT_MAX_KEY];
    int k, b;
    int64_t i;
    ng_status st;
    for (k = 0; k < 2; k++) bytes += 24 + 4 * (size_t)(s->end[k] - s->begin[k]);
    if (!(buf = (unsigned char *)malloc(bytes))) return ng_fail(NG_ERR_NOMEM, "image sampler: out of memory");
    for (b = 0; b < 4; b++) buf[o++] = (unsigned char)(1u >> (8 * b));
    for (k = 0; k < 2; k++) {
        uint64_t v[3];
        v[0] = (uint64_t)s->begin[k]; v[1] = (uint64_t)s->end[k]; v[2] = (uint64_t)s->cursor[k];
        for (i = 0; i < 3; i++) for (b = 0; b < 8; b++) buf[o++] = (unsigned char)(v[i] >> (8 * b));
        for (i = 0; i < s->end[k] - s->begin[k]; i++)
            for (b = 0; b < 4; b++) buf[o++] = (unsigned char)((uint32_t)s->perm[k][i] >> (8 * b));
    }
    st = ng_ckpt_put(ck, key, buf, bytes);
    free(buf);
    snprintf(rk, sizeof rk, "%s.rng", key);
    return st == NG_OK ? ng_ckpt_put_rng(ck, rk, &s->rng) : st;
}

ng_status ng_image_sampler_get(const ng_ckpt *ck, const char *key, ng_image_sampler *s) {
    size_t n = 0, o = 4, need = 4;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, key, &n);
    char rk[NG_CKPT_MAX_KEY];
    int k, b;
    int64_t i;
    uint64_t v[2][3];
    ng_rng r;
    ng_status st;
    for (k = 0; k < 2; k++) need += 24 + 4 * (size_t)(s->end[k] - s->begin[k]);
    if (!p || n != need || p[0] != 1 || p[1] || p[2] || p[3])
        return ng_fail(NG_ERR_MISMATCH, "image sampler state '%s': absent or not for this data (%zu bytes, %zu expected)",
                       key, n, need);
    for (k = 0; k < 2; k++) {   /* check everything before changing anything */
        size_t at = o;
        for (i = 0; i < 3; i++) { v[k][i] = 0; for (b = 0; b < 8; b++) v[k][i] |= (uint64_t)p[at++] << (8 * b); }
        if ((int64_t)v[k][0] != s->begin[k] || (int64_t)v[k][1] != s->end[k] ||
            v[k][2] > (uint64_t)(s->end[k] - s->begin[k]))
            return ng_fail(NG_ERR_MISMATCH, "image sampler state '%s': split %d was [%lld, %lld), the data gives [%lld, %lld)",
                           key, k, (long long)v[k][0], (long long)v[k][1], (long long)s->begin[k], (long long)s->end[k]);
        for (i = 0; i < s->end[k] - s->begin[k]; i++, at += 4) {
            int64_t e = (int64_t)((uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 | (uint32_t)p[at + 3] << 24);
            if (e < s->begin[k] || e >= s->end[k])
                return ng_fail(NG_ERR_FORMAT, "image sampler state '%s': index %lld outside split %d", key, (long long)e, k);
        }
        o = at;
    }
    snprintf(rk, sizeof rk, "%s.rng", key);
    if ((st = ng_ckpt_get_rng(ck, rk, &r)) != NG_OK) return st;
    o = 4;
    for (k = 0; k < 2; k++) {
        o += 24;
        s->cursor[k] = (int64_t)v[k][2];
        for (i = 0; i < s->end[k] - s->begin[k]; i++, o += 4)
            s->perm[k][i] = (int32_t)((uint32_t)p[o] | (uint32_t)p[o + 1] << 8 | (uint32_t)p[o + 2] << 16 | (uint32_t)p[o + 3] << 24);
    }
    s->rng = r;
    return NG_OK;
}
ng_status ng_gan_dataset_load(const char *dataset, const char *dir, ng_image_set *out) {
    char path[4096];
    memset(out, 0, sizeof *out);
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan dataset: NULL name");
    if (!strcmp(dataset, "fashion_mnist")) {
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir ? dir : NG_FMNIST_DIR);
        return ng_fmnist_gan_load(path, 32, out);
    }
    if (!strcmp(dataset, "cifar10") || !strcmp(dataset, "stl10")) {
        if (!dir) return ng_fail(NG_ERR_ARG, "gan dataset %s: give the directory of its binary files", dataset);
        return !strcmp(dataset, "cifar10") ? ng_cifar10_load_dir(dir, 1, out)
                                           : ng_stl10_load_dir(dir, "train+unlabeled", 48, out);
    }
    return ng_fail(NG_ERR_ARG, "gan dataset: unknown name '%s' (fashion_mnist, cifar10, stl10)", dataset);
}

/* ---- src/textnas.c ---- */
/* ---- ops and architectures ---- */
static const char *const ng__tn_op_names[NG_TEXTNAS_N_OPS] = {"conv1", "conv3", "conv5", "conv7",
                                                              "avg_pool", "max_pool", "rnn", "attention"};
const char *ng_textnas_op_name(int op) { return op >= 0 && op < NG_TEXTNAS_N_OPS ? ng__tn_op_names[op] : "?"; }
int ng_textnas_op_index(const char *name) {
    int k;
    for (k = 0; name && k < NG_TEXTNAS_N_OPS; k++)
        if (strcmp(name, ng__tn_op_names[k]) == 0) return k;
    return -1;
}
int ng_textnas_input_first(int layer, int choose_from) { return layer - choose_from > 0 ? layer - choose_from : 0; }
static int ng__tn_conv_k(int op) { return op <= NG_TEXTNAS_CONV7 ? 2 * op + 1 : 0; } /* 1, 3, 5, 7 */

ng_status ng_textnas_arch_check(const ng_textnas_arch *a, int choose_from) {
    int i;
    if (choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas arch: choose_from %d (must be >= 1)", choose_from);
    if (a->n_layers < 1 || a->n_layers > NG_TEXTNAS_MAX_LAYERS - 1)
        return ng_fail(NG_ERR_ARG, "textnas arch: %d layers (must be 1..%d)", a->n_layers, NG_TEXTNAS_MAX_LAYERS - 1);
    for (i = 0; i < a->n_layers; i++) {
        uint32_t allowed = i ? (uint32_t)((1ull << i) - 1) : 0u;
        if (a->op[i] < 0 || a->op[i] >= NG_TEXTNAS_N_OPS)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: op %d (must be 0..7)", i, a->op[i]);
        if (i == 0 && a->input[0] != -1)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer 0: input %d (must be -1, the init conv)", a->input[0]);
        if (i > 0 && (a->input[i] < ng_textnas_input_first(i, choose_from) || a->input[i] > i - 1))
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: input %d (must be %d..%d)", i, a->input[i],
                           ng_textnas_input_first(i, choose_from), i - 1);
        if (a->skip[i] & ~allowed)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: skip mask 0x%x names a layer >= %d", i,
                           (unsigned)a->skip[i], i);
    }
    return NG_OK;
}

static void ng__tn_arch_clear(ng_textnas_arch *a, int n_layers) {
    memset(a, 0, sizeof *a);
    a->n_layers = n_layers;
    a->input[0] = -1;
}
void ng_textnas_arch_published(ng_textnas_arch *a) {
    /* textnas.md 5.3: input layer, op, skip layers per layer (-1 ends a skip list) */
    static const signed char spec[24][11] = {
        {-1, 5, -1}, {0, 7, -1}, {0, 3, -1}, {2, 6, 1, 2, -1}, {2, 1, 1, -1}, {4, 1, 2, 4, -1},
        {5, 0, 2, 3, 4, 5, -1}, {2, 6, 1, 2, -1}, {4, 5, 1, 3, 4, 6, 7, -1}, {6, 5, 5, 7, 8, -1},
        {5, 7, 0, 1, 4, 7, 8, -1}, {6, 4, 0, 3, 4, 5, 6, -1}, {10, 1, 0, 1, 3, 5, 8, -1},
        {11, 2, 0, 1, 6, 9, 10, 12, -1}, {12, 0, 2, 6, 7, 8, 10, 11, -1}, {14, 3, 0, 6, 10, 11, 14, -1},
        {14, 2, 9, 10, 12, 14, -1}, {16, 4, 1, 2, 3, 4, 7, 9, 14, -1}, {15, 3, 5, 13, 14, 15, 17, -1},
        {16, 3, 3, 10, 14, -1}, {16, 5, 0, 1, 10, 11, 14, 15, 16, 17, -1},
        {16, 7, 1, 2, 3, 7, 9, 10, 11, 12, 14}, {21, 7, 2, 3, 4, 5, 7, 9, 10, 15, 21}, {21, 3, 0, 3, 7, 12, 16, -1}};
    int i, k;
    ng__tn_arch_clear(a, 24);
    for (i = 0; i < 24; i++) {
        a->input[i] = spec[i][0];
        a->op[i] = spec[i][1];
        for (k = 2; k < 11 && spec[i][k] >= 0; k++) a->skip[i] |= 1u << spec[i][k];
    }
}
void ng_textnas_arch_random(ng_textnas_arch *a, int n_layers, int choose_from, double p_skip, ng_rng *r) {
    int i, j;
    ng__tn_arch_clear(a, n_layers);
    for (i = 0; i < n_layers; i++) {
        a->op[i] = (int)ng_rng_below(r, NG_TEXTNAS_N_OPS);
        if (i > 0) {
            int first = ng_textnas_input_first(i, choose_from);
            a->input[i] = first + (int)ng_rng_below(r, (uint64_t)(i - first));
        }
        for (j = 0; j < i; j++)
            if (ng_rng_uniform(r) < p_skip) a->skip[i] |= 1u << j;
    }
}
void ng_textnas_arch_baseline(ng_textnas_arch *a) {
    ng__tn_arch_clear(a, 2);
    a->op[0] = NG_TEXTNAS_CONV3;
    a->op[1] = NG_TEXTNAS_MAX_POOL;
    a->input[1] = 0;
}
int ng_textnas_arch_eq(const ng_textnas_arch *a, const ng_textnas_arch *b) {
    int i;
    if (a->n_layers != b->n_layers) return 0;
    for (i = 0; i < a->n_layers; i++)
        if (a->op[i] != b->op[i] || a->input[i] != b->input[i] || a->skip[i] != b->skip[i]) return 0;
    return 1;
}
int ng_textnas_arch_n_skips(const ng_textnas_arch *a) {
    int i, j, n = 0;
    for (i = 0; i < a->n_layers; i++)
        for (j = 0; j < i; j++) n += (int)((a->skip[i] >> j) & 1u);
    return n;
}

int ng_textnas_op_is_param_free(int op) { return op == NG_TEXTNAS_AVG_POOL || op == NG_TEXTNAS_MAX_POOL; }
int ng_textnas_arch_n_param_free(const ng_textnas_arch *a) {
    int i, n = 0;
    for (i = 0; i < a->n_layers; i++) n += ng_textnas_op_is_param_free(a->op[i]);
    return n;
}

/* ---- architecture JSON (NNI final_arc.json) ---- */
static void ng__tn_bools(ng__sb *b, int n, int on_index, uint32_t mask) {
    int j;
    ng__sb_printf(b, "[");
    for (j = 0; j < n; j++)
        ng__sb_printf(b, "%s%s", j ? ", " : "", (on_index >= 0 ? j == on_index : (int)((mask >> j) & 1u)) ? "true" : "false");
    ng__sb_printf(b, "]");
}
ng_status ng_textnas_arch_to_json(const ng_textnas_arch *a, char **out, size_t *n) {
    ng__sb b;
    int i, first;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_CHOOSE_FROM);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
    ng__sb_printf(&b, "{\n  \"LayerChoice1\": ");
    ng__tn_bools(&b, NG_TEXTNAS_N_OPS, a->op[0], 0);
    for (i = 1; i < a->n_layers; i++) {
        first = ng_textnas_input_first(i, NG_TEXTNAS_CHOOSE_FROM);
        ng__sb_printf(&b, ",\n  \"InputChoice%d\": ", 3 * i - 1);
        ng__tn_bools(&b, i - first, a->input[i] - first, 0);
        ng__sb_printf(&b, ",\n  \"LayerChoice%d\": ", 3 * i);
        ng__tn_bools(&b, NG_TEXTNAS_N_OPS, a->op[i], 0);
        ng__sb_printf(&b, ",\n  \"InputChoice%d\": ", 3 * i + 1);
        ng__tn_bools(&b, i, -1, a->skip[i]);
    }
    ng__sb_printf(&b, "\n}\n");
    return ng__sb_finish(&b, "textnas architecture JSON", out, n);
}
ng_status ng_textnas_arch_save(const ng_textnas_arch *a, const char *path) {
    char *text;
    size_t n;
    ng_status s = ng_textnas_arch_to_json(a, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

/* One parsed key: kind 0 = LayerChoice, 1 = InputChoice; its booleans as a mask. */
typedef struct ng__tn_key { int seen, kind, len; uint32_t mask; size_t at; } ng__tn_key;
#define NG__TN_MAX_KEYS (3 * (NG_TEXTNAS_MAX_LAYERS - 1) - 2)

static ng_status ng__tn_bool_array(ng__json *p, ng__tn_key *k) {
    ng_status s;
    if ((s = ng__json_char(p, '[', "'[' (an array of booleans)")) != NG_OK) return s;
    k->len = 0;
    k->mask = 0;
    if (ng__json_peek(p, ']')) { p->pos++; return NG_OK; }
    for (;;) {
        int v;
        ng__json_ws(p);
        if (p->pos + 4 <= p->n && memcmp(p->s + p->pos, "true", 4) == 0) { v = 1; p->pos += 4; }
        else if (p->pos + 5 <= p->n && memcmp(p->s + p->pos, "false", 5) == 0) { v = 0; p->pos += 5; }
        else return ng__json_expected(p, p->pos, "true or false");
        if (k->len >= NG_TEXTNAS_MAX_LAYERS - 1) return ng__json_err(p, p->pos, "array longer than %d", NG_TEXTNAS_MAX_LAYERS - 1);
        if (v) k->mask |= 1u << k->len;
        k->len++;
        if (ng__json_peek(p, ']')) { p->pos++; return NG_OK; }
        if ((s = ng__json_char(p, ',', "',' or ']'")) != NG_OK) return s;
    }
}
/* "LayerChoice<n>" / "InputChoice<n>" -> kind and n (1..NG__TN_MAX_KEYS); 0 if not such a key */
static int ng__tn_key_name(const char *key, int *kind, int *num) {
    const char *d;
    long v = 0;
    if (strncmp(key, "LayerChoice", 11) == 0) { *kind = 0; d = key + 11; }
    else if (strncmp(key, "InputChoice", 11) == 0) { *kind = 1; d = key + 11; }
    else return 0;
    if (*d < '1' || *d > '9') return 0;
    for (; *d >= '0' && *d <= '9'; d++) {
        v = v * 10 + (*d - '0');
        if (v > NG__TN_MAX_KEYS) return 0;
    }
    if (*d) return 0;
    *num = (int)v;
    return 1;
}
static int ng__tn_one_true(const ng__tn_key *k) { return k->mask && !(k->mask & (k->mask - 1)); }
static int ng__tn_bit(uint32_t m) { int j = 0; while (!((m >> j) & 1u)) j++; return j; }

/* keys[1..nk] parsed: map them onto layers */
static ng_status ng__tn_arch_from_keys(ng__json *p, const ng__tn_key *keys, int nk, int choose_from, ng_textnas_arch *out) {
    int L, i, num;
    ng_textnas_arch a;
    if (nk < 1 || (nk + 2) % 3 != 0) return ng__json_err(p, 0, "%d keys: an n-layer architecture has 3n - 2", nk);
    L = (nk + 2) / 3;
    ng__tn_arch_clear(&a, L);
    for (num = 1; num <= nk; num++) {
        const ng__tn_key *k = &keys[num];
        int want_kind = num == 1 ? 0 : (num % 3 == 0 ? 0 : 1);
        if (!k->seen) return ng__json_err(p, p->n, "missing key \"%sChoice%d\"", want_kind ? "Input" : "Layer", num);
        if (k->kind != want_kind)
            return ng__json_err(p, k->at, "key %d must be \"%sChoice%d\"", num, want_kind ? "Input" : "Layer", num);
    }
    for (i = 0; i < L; i++) {
        const ng__tn_key *op = &keys[i == 0 ? 1 : 3 * i];
        if (op->len != NG_TEXTNAS_N_OPS || !ng__tn_one_true(op))
            return ng__json_err(p, op->at, "layer %d's op choice must be 8 booleans with exactly one true", i);
        a.op[i] = ng__tn_bit(op->mask);
        if (i > 0) {
            const ng__tn_key *in = &keys[3 * i - 1], *sk = &keys[3 * i + 1];
            int first = ng_textnas_input_first(i, choose_from);
            if (in->len != i - first || !ng__tn_one_true(in))
                return ng__json_err(p, in->at, "layer %d's input choice must be %d booleans with exactly one true", i, i - first);
            a.input[i] = first + ng__tn_bit(in->mask);
            if (sk->len != i) return ng__json_err(p, sk->at, "layer %d's skip choice must be %d booleans", i, i);
            a.skip[i] = sk->mask;
        }
    }
    *out = a;
    return NG_OK;
}

ng_status ng_textnas_arch_parse(const char *text, size_t n, const char *name, int choose_from, ng_textnas_arch *out) {
    ng__json p;
    ng__tn_key keys[NG__TN_MAX_KEYS + 1];
    char key[NG__JSON_STR];
    size_t at;
    int first = 1, r, nk = 0;
    ng_status s = NG_OK;
    if (choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas arch: choose_from %d (must be >= 1)", choose_from);
    memset(keys, 0, sizeof keys);
    p.s = (const unsigned char *)text;
    p.n = text ? n : 0;
    p.pos = 0;
    p.name = name ? name : "(memory)";
    p.kind = "textnas architecture JSON";
    if ((s = ng__json_char(&p, '{', "'{' (an architecture object)")) != NG_OK) return s;
    while ((r = ng__json_member(&p, &first, key, &at, &s)) == 1) {
        int kind, num;
        if (!ng__tn_key_name(key, &kind, &num))
            return ng__json_err(&p, at, "unknown key \"%s\" (expected LayerChoice<n> / InputChoice<n>, n <= %d)", key,
                                NG__TN_MAX_KEYS);
        if (keys[num].seen) return ng__json_err(&p, at, "duplicate key number %d (\"%s\")", num, key);
        keys[num].seen = 1;
        keys[num].kind = kind;
        keys[num].at = at;
        if ((s = ng__tn_bool_array(&p, &keys[num])) != NG_OK) return s;
        if (num > nk) nk = num;
    }
    if (r < 0) return s;
    ng__json_ws(&p);
    if (p.pos != p.n) return ng__json_expected(&p, p.pos, "end of input after the architecture object");
    return ng__tn_arch_from_keys(&p, keys, nk, choose_from, out);
}
ng_status ng_textnas_arch_load(const char *path, int choose_from, ng_textnas_arch *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status s = ng_file_read_all(path, (size_t)1 << 20, &buf, &n);
    if (s != NG_OK) return s;
    s = ng_textnas_arch_parse((const char *)buf, n, path, choose_from, out);
    free(buf);
    return s;
}

static const char *const ng__tn_fill[NG_TEXTNAS_N_OPS] = {"#cfe2f3", "#9fc5e8", "#6fa8dc", "#3d85c6",
                                                          "#d9ead3", "#b6d7a8", "#fce5cd", "#f4cccc"};
ng_status ng_textnas_arch_to_dot(const ng_textnas_arch *a, const char *title, char **out, size_t *n) {
    const char *const *fill = ng__tn_fill;
    ng__sb b;
    int i, j;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_MAX_LAYERS);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
    ng__sb_printf(&b, "digraph textnas {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=Helvetica];\n");
    if (title) {
        ng__sb_printf(&b, "  label=\"");
        for (; *title; title++)
            if (*title != '"' && *title != '\\' && (unsigned char)*title >= 0x20) ng__sb_printf(&b, "%c", *title);
        ng__sb_printf(&b, "\";\n  labelloc=t;\n");
    }
    ng__sb_printf(&b, "  input [label=\"embedding + conv1\", fillcolor=\"#eeeeee\"];\n");
    ng__sb_printf(&b, "  output [label=\"linear combine + mean + linear\", fillcolor=\"#eeeeee\"];\n");
    for (i = 0; i < a->n_layers; i++) {
        ng__sb_printf(&b, "  L%d [label=\"%d: %s\", fillcolor=\"%s\"];\n", i, i, ng__tn_op_names[a->op[i]], fill[a->op[i]]);
        if (i == 0) ng__sb_printf(&b, "  input -> L0;\n");
        else ng__sb_printf(&b, "  L%d -> L%d;\n", a->input[i], i);
        for (j = 0; j < i; j++)
            if ((a->skip[i] >> j) & 1u) ng__sb_printf(&b, "  L%d -> L%d [style=dashed, color=gray50];\n", j, i);
        ng__sb_printf(&b, "  L%d -> output [color=gray80];\n", i);
    }
    ng__sb_printf(&b, "}\n");
    return ng__sb_finish(&b, "textnas architecture DOT", out, n);
}

/* Layers top to bottom: the input choice as a solid arrow (straight from the layer above,
   else an arc on the right), skips as dashed arcs on the left, farther connections bent more
   so that they nest. */
ng_status ng_textnas_arch_to_svg(const ng_textnas_arch *a, const char *title, char **out, size_t *n) {
    const double cx = 320, w = 150, h = 26, gap = 46, y0 = 110;
    char label[64];
    ng__sb b;
    int i, j;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_MAX_LAYERS);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
#define NG__TN_Y(i) (y0 + gap * (i))
    ng__svg_begin(&b, 620, NG__TN_Y(a->n_layers) + 60, title ? title : "TextNAS architecture");
    for (i = 0; i < a->n_layers; i++) {
        if (i == 0) ng__svg_edge(&b, cx, 60 + h / 2, cx, NG__TN_Y(0) - h / 2, 0, NULL, 0, "#333");
        else if (a->input[i] == i - 1) ng__svg_edge(&b, cx, NG__TN_Y(i - 1) + h / 2, cx, NG__TN_Y(i) - h / 2, 0, NULL, 0, "#333");
        else ng__svg_edge(&b, cx + w / 2, NG__TN_Y(a->input[i]), cx + w / 2, NG__TN_Y(i), 30.0 + 14.0 * (i - a->input[i]), NULL, 0, "#333");
        for (j = 0; j < i; j++)
            if ((a->skip[i] >> j) & 1u) ng__svg_edge(&b, cx - w / 2, NG__TN_Y(j), cx - w / 2, NG__TN_Y(i), -(24.0 + 11.0 * (i - j)), NULL, 1, "#888");
    }
    ng__svg_edge(&b, cx, NG__TN_Y(a->n_layers - 1) + h / 2, cx, NG__TN_Y(a->n_layers) - h / 2, 0, NULL, 0, "#999");
    ng__svg_node(&b, cx, 60, w + 40, h, "embedding + conv1", "#eeeeee");
    for (i = 0; i < a->n_layers; i++) {
        snprintf(label, sizeof label, "%d: %s", i, ng__tn_op_names[a->op[i]]);
        ng__svg_node(&b, cx, NG__TN_Y(i), w, h, label, ng__tn_fill[a->op[i]]);
    }
    snprintf(label, sizeof label, "all %d layers: linear combine + mean + linear", a->n_layers);
    ng__svg_node(&b, cx, NG__TN_Y(a->n_layers), w + 170, h, label, "#eeeeee");
    ng__sb_printf(&b, "<text x=\"12\" y=\"%.1f\" font-size=\"10\" fill=\"#666\">left, dashed: skip connections (summed in);"
                      " right: input from an earlier layer</text>\n", NG__TN_Y(a->n_layers) + 40);
#undef NG__TN_Y
    ng__svg_end(&b);
    return ng__sb_finish(&b, "textnas architecture SVG", out, n);
}

/* ---- the network ---- */
void ng_textnas_hp_default(ng_textnas_hp *hp, int64_t vocab, int n_classes) {
    memset(hp, 0, sizeof *hp);
    hp->n_layers = 24;
    hp->hidden = 256;
    hp->embed_dim = 300;
    hp->vocab = vocab;
    hp->n_classes = n_classes;
    hp->choose_from = NG_TEXTNAS_CHOOSE_FROM;
    hp->heads = 4;
    hp->p_embed = hp->p_cnn = hp->p_rnn = hp->p_att = 0.2f;
    hp->bn_always = 1;
    hp->bn_momentum = 0.1f;
    hp->bn_eps = 1e-5f;
    hp->xavier = 1;
}
ng_status ng_textnas_hp_check(const ng_textnas_hp *hp) {
    if (hp->n_layers < 1 || hp->n_layers > NG_TEXTNAS_MAX_LAYERS - 1)
        return ng_fail(NG_ERR_ARG, "textnas: n_layers %d (must be 1..%d)", hp->n_layers, NG_TEXTNAS_MAX_LAYERS - 1);
    if (hp->hidden < 1 || hp->heads < 1 || hp->hidden % hp->heads != 0)
        return ng_fail(NG_ERR_ARG, "textnas: hidden %d must be a positive multiple of heads %d", hp->hidden, hp->heads);
    if (hp->embed_dim < 1) return ng_fail(NG_ERR_ARG, "textnas: embed_dim %d", hp->embed_dim);
    if (hp->vocab < 2) return ng_fail(NG_ERR_ARG, "textnas: vocabulary of %lld (needs <pad> and <unk>)", (long long)hp->vocab);
    if (hp->n_classes < 2) return ng_fail(NG_ERR_ARG, "textnas: %d classes (must be >= 2)", hp->n_classes);
    if (hp->choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas: choose_from %d", hp->choose_from);
    if (!(hp->p_embed >= 0 && hp->p_embed < 1) || !(hp->p_cnn >= 0 && hp->p_cnn < 1) || !(hp->p_rnn >= 0 && hp->p_rnn < 1) ||
        !(hp->p_att >= 0 && hp->p_att < 1))
        return ng_fail(NG_ERR_ARG, "textnas: dropout probabilities must lie in [0, 1)");
    if (!(hp->bn_eps > 0) || !(hp->bn_momentum >= 0 && hp->bn_momentum <= 1))
        return ng_fail(NG_ERR_ARG, "textnas: batch norm eps %g / momentum %g", hp->bn_eps, hp->bn_momentum);
    return NG_OK;
}

/* Tensors are declared first (names "<prefix>.conv.weight" ...), initialised after the groups
   are allocated. */
static ng_status ng__tn_add(ng_params *g, ng_tensor **t, const char *prefix, const char *what, ng_shape s) {
    char name[96];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    *t = ng_params_add(g, name, s);
    return *t ? NG_OK : NG_ERR_ARG;
}
static ng_status ng__tn_add_bn(ng_textnas_net *net, const char *prefix, ng_tensor **g, ng_tensor **b, ng_tensor **m,
                               ng_tensor **v) {
    int64_t H = net->hp.hidden;
    if (ng__tn_add(net->weights, g, prefix, "bn.weight", ng_shape1(H)) || ng__tn_add(net->weights, b, prefix, "bn.bias", ng_shape1(H)) ||
        ng__tn_add(net->buffers, m, prefix, "bn.running_mean", ng_shape1(H)) ||
        ng__tn_add(net->buffers, v, prefix, "bn.running_var", ng_shape1(H)))
        return NG_ERR_ARG;
    return NG_OK;
}
static ng_status ng__tn_add_op(ng_textnas_net *net, ng_textnas_op_w *o, int op, int64_t cin, const char *prefix) {
    int64_t H = net->hp.hidden;
    ng_params *w = net->weights;
    int d;
    if (op <= NG_TEXTNAS_CONV7) {
        if (ng__tn_add(w, &o->w, prefix, "conv.weight", ng_shape3(H, cin, ng__tn_conv_k(op))) ||
            ng__tn_add(w, &o->b, prefix, "conv.bias", ng_shape1(H)))
            return NG_ERR_ARG;
        return ng__tn_add_bn(net, prefix, &o->bn_g, &o->bn_b, &o->bn_mean, &o->bn_var);
    }
    if (op == NG_TEXTNAS_RNN) {
        for (d = 0; d < 2; d++) {
            char what[40];
            const char *sfx = d ? "_reverse" : "";
            snprintf(what, sizeof what, "gru.weight_ih_l0%s", sfx);
            if (ng__tn_add(w, &o->w_ih[d], prefix, what, ng_shape2(3 * H, H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.weight_hh_l0%s", sfx);
            if (ng__tn_add(w, &o->w_hh[d], prefix, what, ng_shape2(3 * H, H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.bias_ih_l0%s", sfx);
            if (ng__tn_add(w, &o->b_ih[d], prefix, what, ng_shape1(3 * H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.bias_hh_l0%s", sfx);
            if (ng__tn_add(w, &o->b_hh[d], prefix, what, ng_shape1(3 * H))) return NG_ERR_ARG;
        }
        return NG_OK;
    }
    if (op == NG_TEXTNAS_ATTENTION) {
        if (ng__tn_add(w, &o->q_w, prefix, "q.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->q_b, prefix, "q.bias", ng_shape1(H)) ||
            ng__tn_add(w, &o->k_w, prefix, "k.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->k_b, prefix, "k.bias", ng_shape1(H)) ||
            ng__tn_add(w, &o->v_w, prefix, "v.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->v_b, prefix, "v.bias", ng_shape1(H)))
            return NG_ERR_ARG;
        return ng__tn_add_bn(net, prefix, &o->bn_g, &o->bn_b, &o->bn_mean, &o->bn_var);
    }
    return NG_OK; /* pools: no parameters */
}
/* Conv/Linear weight: Xavier (retraining) or PyTorch's default; bias: PyTorch's default. */
static void ng__tn_init_wb(const ng_textnas_hp *hp, ng_tensor *w, ng_tensor *b, ng_rng *r) {
    if (hp->xavier) ng_init_xavier_uniform(w, 1.0f, r);
    else ng_init_kaiming_uniform_default(w, r);
    if (b) ng_init_bias_default(b, w, r);
}
static void ng__tn_init_bn(ng_tensor *g, ng_tensor *b, ng_tensor *m, ng_tensor *v) {
    if (!g) return;
    ng_init_constant(g, 1.0f);
    ng_init_constant(b, 0.0f);
    ng_init_constant(m, 0.0f);
    ng_init_constant(v, 1.0f);
}
static void ng__tn_init_op(const ng_textnas_hp *hp, ng_textnas_op_w *o, ng_rng *r) {
    int d;
    float bound = 1.0f / sqrtf((float)hp->hidden);
    if (o->w) ng__tn_init_wb(hp, o->w, o->b, r);
    if (o->q_w) {
        ng__tn_init_wb(hp, o->q_w, o->q_b, r);
        ng__tn_init_wb(hp, o->k_w, o->k_b, r);
        ng__tn_init_wb(hp, o->v_w, o->v_b, r);
    }
    for (d = 0; d < 2; d++)
        if (o->w_ih[d]) { /* nn.GRU: every tensor U(+-1/sqrt(H)) */
            ng_init_uniform(o->w_ih[d], -bound, bound, r);
            ng_init_uniform(o->w_hh[d], -bound, bound, r);
            ng_init_uniform(o->b_ih[d], -bound, bound, r);
            ng_init_uniform(o->b_hh[d], -bound, bound, r);
        }
    ng__tn_init_bn(o->bn_g, o->bn_b, o->bn_mean, o->bn_var);
}
static int ng__tn_has_op(const ng_textnas_net *net, int layer, int op) { return !net->fixed || net->arch.op[layer] == op; }
static int ng__tn_has_bn(const ng_textnas_net *net, int layer) {
    return !net->fixed || net->hp.bn_always || net->arch.skip[layer] != 0;
}

static ng_status ng__tn_declare(ng_textnas_net *net) {
    const ng_textnas_hp *hp = &net->hp;
    char prefix[48];
    int i, k;
    net->emb = ng_params_add(net->embed, "embedding.weight", ng_shape2(hp->vocab, hp->embed_dim));
    if (!net->emb || ng__tn_add_op(net, &net->init, NG_TEXTNAS_CONV1, hp->embed_dim, "init_conv")) return NG_ERR_ARG;
    for (i = 0; i < hp->n_layers; i++) {
        ng_textnas_layer_w *l = &net->layer[i];
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) {
            if (!ng__tn_has_op(net, i, k)) continue;
            snprintf(prefix, sizeof prefix, "layers.%d.op.%d", i, k);
            if (ng__tn_add_op(net, &l->op[k], k, hp->hidden, prefix)) return NG_ERR_ARG;
        }
        snprintf(prefix, sizeof prefix, "layers.%d", i);
        if (ng__tn_has_bn(net, i) && ng__tn_add_bn(net, prefix, &l->bn_g, &l->bn_b, &l->bn_mean, &l->bn_var)) return NG_ERR_ARG;
    }
    if (!(net->combine = ng_params_add(net->weights, "linear_combine.weight", ng_shape1(hp->n_layers))) ||
        !(net->fc_w = ng_params_add(net->weights, "classifier.weight", ng_shape2(hp->n_classes, hp->hidden))) ||
        !(net->fc_b = ng_params_add(net->weights, "classifier.bias", ng_shape1(hp->n_classes))))
        return NG_ERR_ARG;
    return NG_OK;
}

ng_status ng_textnas_net_init(ng_textnas_net *net, const ng_textnas_hp *hp, const ng_textnas_arch *arch, uint64_t seed) {
    ng_rng r;
    ng_status s;
    int i, k;
    int64_t j;
    memset(net, 0, sizeof *net);
    if ((s = ng_textnas_hp_check(hp)) != NG_OK) return s;
    net->hp = *hp;
    if (arch) {
        if ((s = ng_textnas_arch_check(arch, hp->choose_from)) != NG_OK) return s;
        if (arch->n_layers != hp->n_layers)
            return ng_fail(NG_ERR_ARG, "textnas: architecture of %d layers for a %d-layer net", arch->n_layers, hp->n_layers);
        net->fixed = 1;
        net->arch = *arch;
    }
    net->embed = ng_params_create("textnas.embed", 1);
    net->weights = ng_params_create("textnas", 1);
    net->buffers = ng_params_create("textnas.stats", 0);
    if (!net->embed || !net->weights || !net->buffers) { ng_textnas_net_free(net); return ng_fail(NG_ERR_NOMEM, "textnas: out of memory"); }
    if ((s = ng__tn_declare(net)) != NG_OK || (s = ng_params_alloc(net->embed)) != NG_OK ||
        (s = ng_params_alloc(net->weights)) != NG_OK || (s = ng_params_alloc(net->buffers)) != NG_OK) {
        ng_textnas_net_free(net);
        return s;
    }
    /* initialisation order: embedding, init conv, layers in order, combine, classifier */
    ng_rng_seed(&r, seed);
    ng_init_uniform(net->emb, -0.25f, 0.25f, &r);
    for (j = 0; j < hp->embed_dim; j++) net->emb->data[j] = 0.0f; /* <pad> */
    ng__tn_init_op(hp, &net->init, &r);
    for (i = 0; i < hp->n_layers; i++) {
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) ng__tn_init_op(hp, &net->layer[i].op[k], &r);
        ng__tn_init_bn(net->layer[i].bn_g, net->layer[i].bn_b, net->layer[i].bn_mean, net->layer[i].bn_var);
    }
    ng_init_constant(net->combine, 1.0f / (float)hp->n_layers);
    ng__tn_init_wb(hp, net->fc_w, net->fc_b, &r);
    return NG_OK;
}
void ng_textnas_net_free(ng_textnas_net *net) {
    ng_params_free(net->embed);
    ng_params_free(net->weights);
    ng_params_free(net->buffers);
    memset(net, 0, sizeof *net);
}
int64_t ng_textnas_net_count(const ng_textnas_net *net) { return net->weights ? net->weights->numel : 0; }

/* ---- forward ---- */
typedef struct ng__tn_fw {
    ng_ctx *ctx;
    ng_textnas_net *net;
    ng_tensor *mask;        /* (N, L) */
    const int32_t *lengths; /* (N), host: the mask's lengths (the GRU reads them, not the mask) */
    int64_t N, L, H;
} ng__tn_fw;

static ng_tensor *ng__tn_bn(const ng__tn_fw *f, ng_tensor *x, ng_tensor *g, ng_tensor *b, ng_tensor *m, ng_tensor *v) {
    return ng_seq_batch_norm(f->ctx, x, g, b, m, v, f->net->hp.bn_momentum, f->net->hp.bn_eps);
}
/* conv -> mask -> BN -> mask -> ReLU -> dropout */
static ng_tensor *ng__tn_convbn(const ng__tn_fw *f, const ng_textnas_op_w *o, ng_tensor *x) {
    ng_tensor *y = ng_seq_mask(f->ctx, ng_conv1d(f->ctx, x, o->w, o->b), f->mask);
    y = ng_seq_mask(f->ctx, ng__tn_bn(f, y, o->bn_g, o->bn_b, o->bn_mean, o->bn_var), f->mask);
    return ng_dropout(f->ctx, ng_relu(f->ctx, y), f->net->hp.p_cnn);
}
static ng_tensor *ng__tn_proj(const ng__tn_fw *f, ng_tensor *x2d, ng_tensor *w, ng_tensor *b) {
    return ng_reshape(f->ctx, ng_relu(f->ctx, ng_linear(f->ctx, x2d, w, b)), ng_shape3(f->N, f->L, f->H));
}
static ng_tensor *ng__tn_op(const ng__tn_fw *f, const ng_textnas_op_w *o, int op, ng_tensor *x) {
    ng_ctx *ctx = f->ctx;
    const ng_textnas_hp *hp = &f->net->hp;
    if (op <= NG_TEXTNAS_CONV7) return ng__tn_convbn(f, o, x);
    if (op == NG_TEXTNAS_AVG_POOL) return ng_seq_mask(ctx, ng_seq_avg_pool3(ctx, x), f->mask);
    if (op == NG_TEXTNAS_MAX_POOL) return ng_seq_mask(ctx, ng_seq_max_pool3(ctx, x), f->mask);
    if (op == NG_TEXTNAS_RNN) {
        ng_tensor *fw = ng_seq_gru_lengths(ctx, x, f->mask, f->lengths, o->w_ih[0], o->w_hh[0], o->b_ih[0], o->b_hh[0], 0);
        ng_tensor *bw = ng_seq_gru_lengths(ctx, x, f->mask, f->lengths, o->w_ih[1], o->w_hh[1], o->b_ih[1], o->b_hh[1], 1);
        return ng_dropout(ctx, ng_add(ctx, fw, bw), hp->p_rnn);
    } else {
        ng_tensor *x2 = ng_reshape(ctx, x, ng_shape2(f->N * f->L, f->H)), *y;
        y = ng_seq_attention(ctx, ng__tn_proj(f, x2, o->q_w, o->q_b), ng__tn_proj(f, x2, o->k_w, o->k_b),
                             ng__tn_proj(f, x2, o->v_w, o->v_b), f->mask, hp->heads, ctx->training ? hp->p_att : 0.0f);
        y = ng_seq_mask(ctx, y, f->mask);
        return ng_seq_mask(ctx, ng__tn_bn(f, y, o->bn_g, o->bn_b, o->bn_mean, o->bn_var), f->mask);
    }
}
/* The layer's closing BN -> mask (when the layer has a BN). */
static ng_tensor *ng__tn_layer_out(const ng__tn_fw *f, const ng_textnas_layer_w *l, ng_tensor *sum, int use_bn) {
    if (!use_bn) return sum;
    return ng_seq_mask(f->ctx, ng__tn_bn(f, sum, l->bn_g, l->bn_b, l->bn_mean, l->bn_var), f->mask);
}

/* Embedding -> dropout -> init ConvBN; sets up f. NULL on a bad batch (ctx status set). */
static ng_tensor *ng__tn_stem(ng__tn_fw *f, ng_ctx *ctx, ng_textnas_net *net, const ng_text_batch *b) {
    int64_t i, t;
    f->ctx = ctx;
    f->net = net;
    f->N = b->n;
    f->L = b->len;
    f->H = net->hp.hidden;
    if (b->n < 1 || b->len < 1 || !b->ids || !b->lengths) {
        ng_fail(NG_ERR_ARG, "textnas forward: empty batch (n %lld, len %d)", (long long)b->n, b->len);
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    for (i = 0; i < b->n; i++) {
        if (b->lengths[i] < 0 || b->lengths[i] > b->len) {
            ng_fail(NG_ERR_ARG, "textnas forward: example %lld has length %d (must be 0..%d)", (long long)i, b->lengths[i], b->len);
            if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
            return NULL;
        }
        for (t = 0; t < b->len; t++) {
            int32_t id = b->ids[i * b->len + t];
            if (id < 0 || id >= net->hp.vocab) {
                ng_fail(NG_ERR_ARG, "textnas forward: example %lld, position %lld: token id %d outside the vocabulary of %lld",
                        (long long)i, (long long)t, id, (long long)net->hp.vocab);
                if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
                return NULL;
            }
        }
    }
    f->mask = ng_seq_mask_from_lengths(ctx, b->lengths, b->n, b->len);
    f->lengths = b->lengths;
    return ng__tn_convbn(f, &net->init, ng_dropout(ctx, ng_embedding(ctx, net->emb, b->ids, b->n, b->len, -1), net->hp.p_embed));
}
/* LinearCombine -> masked mean -> Linear */
static ng_tensor *ng__tn_head(const ng__tn_fw *f, ng_tensor *const *outs) {
    ng_tensor *z = ng_mixed(f->ctx, f->net->combine, 0, outs, f->net->hp.n_layers);
    return ng_linear(f->ctx, ng_seq_mean_pool(f->ctx, z, f->mask), f->net->fc_w, f->net->fc_b);
}

ng_tensor *ng_textnas_forward(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch, const ng_text_batch *b,
                              ng_tensor **layers) {
    ng__tn_fw f;
    ng_tensor *outs[NG_TEXTNAS_MAX_LAYERS], *x;
    int i, j;
    if (!arch) arch = &net->arch;
    if (!net->fixed && !arch->n_layers) {
        ng_fail(NG_ERR_ARG, "textnas forward: the supernet needs an architecture");
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    if ((net->fixed && !ng_textnas_arch_eq(arch, &net->arch)) || arch->n_layers != net->hp.n_layers ||
        ng_textnas_arch_check(arch, net->hp.choose_from) != NG_OK) {
        if (net->fixed && !ng_textnas_arch_eq(arch, &net->arch))
            ng_fail(NG_ERR_ARG, "textnas forward: a fixed net runs its own architecture only");
        else if (arch->n_layers != net->hp.n_layers)
            ng_fail(NG_ERR_ARG, "textnas forward: %d-layer architecture for a %d-layer net", arch->n_layers, net->hp.n_layers);
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    x = ng__tn_stem(&f, ctx, net, b);
    if (!x) return NULL;
    for (i = 0; i < arch->n_layers; i++) {
        const ng_textnas_layer_w *l = &net->layer[i];
        ng_tensor *y = ng__tn_op(&f, &l->op[arch->op[i]], arch->op[i], i ? outs[arch->input[i]] : x);
        for (j = 0; j < i; j++)
            if ((arch->skip[i] >> j) & 1u) y = ng_add(ctx, y, outs[j]);
        outs[i] = ng__tn_layer_out(&f, l, y, net->hp.bn_always || arch->skip[i] != 0);
        if (layers) layers[i] = outs[i];
    }
    return ng__tn_head(&f, outs);
}

/* ---- differentiable search ---- */
ng_status ng_textnas_alpha_init(ng_textnas_alpha *a, int n_layers, int choose_from) {
    ng_status s;
    int i;
    memset(a, 0, sizeof *a);
    if (n_layers < 1 || n_layers > NG_TEXTNAS_MAX_LAYERS - 1 || choose_from < 1)
        return ng_fail(NG_ERR_ARG, "textnas alpha: %d layers, choose_from %d", n_layers, choose_from);
    a->n_layers = n_layers;
    a->choose_from = choose_from;
    if (!(a->params = ng_params_create("textnas.alpha", 1))) return ng_fail(NG_ERR_NOMEM, "textnas alpha: out of memory");
    a->op = ng_params_add(a->params, "op", ng_shape2(n_layers, NG_TEXTNAS_N_OPS));
    a->skip = n_layers > 1 ? ng_params_add(a->params, "skip", ng_shape2((int64_t)n_layers * (n_layers - 1) / 2, 2)) : NULL;
    for (i = 1; i < n_layers; i++) {
        char name[16];
        snprintf(name, sizeof name, "in.%d", i);
        if (!(a->in[i] = ng_params_add(a->params, name, ng_shape1(i - ng_textnas_input_first(i, choose_from))))) break;
    }
    if (!a->op || (n_layers > 1 && !a->skip) || i < n_layers || (s = ng_params_alloc(a->params)) != NG_OK) {
        ng_textnas_alpha_free(a);
        return ng_fail(NG_ERR_NOMEM, "textnas alpha: out of memory");
    }
    return NG_OK;
}
void ng_textnas_alpha_free(ng_textnas_alpha *a) {
    ng_params_free(a->params);
    memset(a, 0, sizeof *a);
}
static int ng__tn_argmax(const float *v, int n) {
    int k, best = 0;
    for (k = 1; k < n; k++)
        if (v[k] > v[best]) best = k;
    return best;
}
/* alpha's op mask with 0 read as "all 8" */
static uint32_t ng__tn_op_mask(const ng_textnas_alpha *a) {
    uint32_t all = (1u << NG_TEXTNAS_N_OPS) - 1, m = a->op_mask & all;
    return m ? m : all;
}
/* the first op of the mask with the largest logit */
static int ng__tn_argmax_masked(const float *v, uint32_t mask) {
    int k, best = -1;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
        if (((mask >> k) & 1u) && (best < 0 || v[k] > v[best])) best = k;
    return best;
}
/* The alpha group's values in host memory: the group itself, or a copy in *copy (freed by the
   caller) when it lives on the GPU; NULL if that copy cannot be made. */
static const float *ng__tn_alpha_host(const ng_textnas_alpha *a, float **copy) {
    const ng_params *g = a->params;
    *copy = NULL;
    if (g->device != NG_CUDA) return g->data;
    if (!(*copy = (float *)malloc((size_t)(g->numel ? g->numel : 1) * sizeof(float)))) return NULL;
    ng__cuda_copy(*copy, g->data, (size_t)g->numel * sizeof(float), 2);
    return *copy;
}
#define NG__TN_HOST(t) (base + ((t)->data - a->params->data))

void ng_textnas_alpha_derive(const ng_textnas_alpha *a, ng_textnas_arch *out) {
    float *copy;
    const float *base = ng__tn_alpha_host(a, &copy);
    int i, j;
    ng__tn_arch_clear(out, a->n_layers);
    for (i = 0; i < a->n_layers && base; i++) {
        out->op[i] = ng__tn_argmax_masked(NG__TN_HOST(a->op) + i * NG_TEXTNAS_N_OPS, ng__tn_op_mask(a));
        if (i == 0) continue;
        out->input[i] = ng_textnas_input_first(i, a->choose_from) + ng__tn_argmax(NG__TN_HOST(a->in[i]), (int)a->in[i]->numel);
        for (j = 0; j < i; j++) {
            const float *pair = NG__TN_HOST(a->skip) + ((int64_t)i * (i - 1) / 2 + j) * 2;
            if (pair[1] > pair[0]) out->skip[i] |= 1u << j;
        }
    }
    free(copy);
}

double ng_textnas_alpha_op_entropy(const ng_textnas_alpha *a) {
    float *copy;
    const float *base = ng__tn_alpha_host(a, &copy);
    const uint32_t mask = ng__tn_op_mask(a);
    double sum = 0;
    int i, k, n_ops = 0;
    if (!base || a->n_layers < 1) { free(copy); return NAN; }
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++) n_ops += (int)((mask >> k) & 1u);
    for (i = 0; i < a->n_layers && n_ops > 1; i++) {
        const float *z = NG__TN_HOST(a->op) + i * NG_TEXTNAS_N_OPS;
        double mx = z[ng__tn_argmax_masked(z, mask)], tot = 0, h = 0;
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
            if ((mask >> k) & 1u) tot += exp(z[k] - mx);
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) {
            double p = (mask >> k) & 1u ? exp(z[k] - mx) / tot : 0;
            if (p > 0) h -= p * log(p);
        }
        sum += h / log((double)n_ops);
    }
    free(copy);
    return sum / a->n_layers;
}
#undef NG__TN_HOST

ng_tensor *ng_textnas_forward_mixed(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_alpha *alpha, const ng_text_batch *b) {
    static const int on_col = 1;
    ng__tn_fw f;
    ng_tensor *outs[NG_TEXTNAS_MAX_LAYERS], *x, *cand[NG_TEXTNAS_N_OPS], *op_logits = alpha->op;
    const uint32_t mask = ng__tn_op_mask(alpha), all = (1u << NG_TEXTNAS_N_OPS) - 1;
    int i, j, k, cols[NG_TEXTNAS_N_OPS], n_ops = 0;
    if (net->fixed || alpha->n_layers != net->hp.n_layers || alpha->choose_from != net->hp.choose_from) {
        ng_fail(NG_ERR_ARG, "textnas mixed forward: needs the supernet and alpha of its layer count and choose_from");
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    x = ng__tn_stem(&f, ctx, net, b);
    if (!x) return NULL;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
        if ((mask >> k) & 1u) cols[n_ops++] = k;
    if (mask != all) {   /* left-out ops: logit -1e30, so the softmax over the row is over the others */
        float *bias = (float *)malloc((size_t)alpha->n_layers * NG_TEXTNAS_N_OPS * sizeof(float));
        if (!bias) { ng_fail(NG_ERR_NOMEM, "textnas mixed forward: out of memory"); if (ctx->status == NG_OK) ctx->status = NG_ERR_NOMEM; return NULL; }
        for (i = 0; i < alpha->n_layers * NG_TEXTNAS_N_OPS; i++) bias[i] = (mask >> (i % NG_TEXTNAS_N_OPS)) & 1u ? 0.0f : -1e30f;
        op_logits = ng_add(ctx, alpha->op, ng_tensor_from(ctx, alpha->op->shape, bias));
        free(bias);
    }
    for (i = 0; i < net->hp.n_layers; i++) {
        const ng_textnas_layer_w *l = &net->layer[i];
        ng_tensor *in = x, *y;
        if (i > 0) {
            int first = ng_textnas_input_first(i, net->hp.choose_from);
            in = ng_mixed(ctx, alpha->in[i], 0, outs + first, i - first);
        }
        for (k = 0; k < n_ops; k++) {
            cand[k] = ng__tn_op(&f, &l->op[cols[k]], cols[k], in);
            if (ctx->training && alpha->pf_dropout > 0.0f && ng_textnas_op_is_param_free(cols[k]))
                cand[k] = ng_dropout(ctx, cand[k], alpha->pf_dropout);
        }
        y = mask == all ? ng_mixed(ctx, alpha->op, i, cand, NG_TEXTNAS_N_OPS)
                        : ng_mixed_cols(ctx, op_logits, i, cand, cols, n_ops, ng_shape3(f.N, f.L, f.H));
        for (j = 0; j < i; j++)
            y = ng_add(ctx, y, ng_mixed_cols(ctx, alpha->skip, i * (i - 1) / 2 + j, &outs[j], &on_col, 1, ng_shape3(f.N, f.L, f.H)));
        outs[i] = ng__tn_layer_out(&f, l, y, 1);
    }
    return ng__tn_head(&f, outs);
}

/* ---- src/textnas_ctrl.c ---- */
/* ======================================================================================== */
/* @@TEXTNAS_CTRL                                                                           */
/* ======================================================================================== */

void ng_textnas_ctrl_hp_default(ng_textnas_ctrl_hp *hp) {
    memset(hp, 0, sizeof *hp);
    hp->lstm_size = 64;
    hp->n_layers = 24;
    hp->choose_from = NG_TEXTNAS_CHOOSE_FROM;
    hp->skip_target = 0.4f;
    hp->skip_weight = 0.8f;
    hp->entropy_weight = 1e-4;
    hp->baseline_decay = 0.99;
    hp->lr = 2e-3f;
    hp->beta1 = 0.9f;
    hp->beta2 = 0.999f;
    hp->eps = 1e-8f;
    hp->weight_decay = 0.0f;
    hp->grad_clip = 5.0f;
    hp->tanh_constant = 0.0f;
    hp->temperature = 0.0f;
}

ng_status ng_textnas_ctrl_hp_check(const ng_textnas_ctrl_hp *hp) {
    if (!hp) return ng_fail(NG_ERR_ARG, "textnas controller: hyper-parameters are NULL");
    if (hp->lstm_size < 1 || hp->lstm_size > NG_TEXTNAS_CTRL_MAX_LSTM)
        return ng_fail(NG_ERR_ARG, "textnas controller: lstm_size %d out of [1, %d]", hp->lstm_size, NG_TEXTNAS_CTRL_MAX_LSTM);
    if (hp->n_layers < 1 || hp->n_layers > NG_TEXTNAS_MAX_LAYERS)
        return ng_fail(NG_ERR_ARG, "textnas controller: n_layers %d out of [1, %d]", hp->n_layers, NG_TEXTNAS_MAX_LAYERS);
    if (hp->choose_from < 1 || hp->choose_from > NG_TEXTNAS_MAX_LAYERS)
        return ng_fail(NG_ERR_ARG, "textnas controller: choose_from %d out of [1, %d]", hp->choose_from, NG_TEXTNAS_MAX_LAYERS);
    if (!(hp->skip_target > 0.0f && hp->skip_target < 1.0f))
        return ng_fail(NG_ERR_ARG, "textnas controller: skip_target %g is not in (0, 1)", (double)hp->skip_target);
    if (!(hp->skip_weight >= 0.0f && hp->skip_weight < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: skip_weight %g is not a finite value >= 0", (double)hp->skip_weight);
    if (!(hp->entropy_weight >= 0.0 && hp->entropy_weight < 1e30))
        return ng_fail(NG_ERR_ARG, "textnas controller: entropy_weight %g is not a finite value >= 0", hp->entropy_weight);
    if (!(hp->baseline_decay >= 0.0 && hp->baseline_decay <= 1.0))
        return ng_fail(NG_ERR_ARG, "textnas controller: baseline_decay %g is not in [0, 1]", hp->baseline_decay);
    if (!(hp->grad_clip < 1e30f) || hp->grad_clip != hp->grad_clip)
        return ng_fail(NG_ERR_ARG, "textnas controller: grad_clip %g is not finite", (double)hp->grad_clip);
    if (!(hp->tanh_constant >= 0.0f && hp->tanh_constant < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: tanh_constant %g is not a finite value >= 0 (0 = none)", (double)hp->tanh_constant);
    if (!(hp->temperature >= 0.0f && hp->temperature < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: temperature %g is not a finite value >= 0 (0 = none)", (double)hp->temperature);
    if (hp->op_mask >> NG_TEXTNAS_N_OPS)
        return ng_fail(NG_ERR_ARG, "textnas controller: op_mask 0x%x names ops beyond the %d", (unsigned)hp->op_mask, NG_TEXTNAS_N_OPS);
    return NG_OK;
}

size_t ng_textnas_ctrl_arena_bytes(const ng_textnas_ctrl_hp *hp) {
    /* measured peaks (sample with gradient + backward): 1.24 MB at 24 layers, lstm 64; 0.56 MB
       at 32 layers, lstm 1; 11.9 MB at 32 layers, lstm 512: this bound is 1.5-3x those */
    size_t S = (size_t)hp->lstm_size, L = (size_t)hp->n_layers;
    return (size_t)65536 + L * (24576 + 512 * L) + L * S * (128 + 8 * L) * sizeof(float);
}

void ng_textnas_ctrl_free(ng_textnas_ctrl *c) {
    if (!c) return;
    ng_adam_free(&c->adam);
    ng_params_free(c->params);
    ng_ctx_free(c->nograd);
    memset(c, 0, sizeof *c);
}

ng_status ng_textnas_ctrl_init(ng_textnas_ctrl *c, const ng_textnas_ctrl_hp *hp, uint64_t seed) {
    ng_status s;
    ng_rng r;
    int64_t S;
    float bound;
    memset(c, 0, sizeof *c);
    if (hp) c->hp = *hp;
    else ng_textnas_ctrl_hp_default(&c->hp);
    if ((s = ng_textnas_ctrl_hp_check(&c->hp)) != NG_OK) return s;
    S = c->hp.lstm_size;
    c->params = ng_params_create("ctrl", 1);
    if (!c->params) return NG_ERR_NOMEM;
    c->w_ih = ng_params_add(c->params, "lstm.weight_ih", ng_shape2(4 * S, S));
    c->w_hh = ng_params_add(c->params, "lstm.weight_hh", ng_shape2(4 * S, S));
    c->w_soft = ng_params_add(c->params, "soft.weight", ng_shape2(NG_TEXTNAS_N_OPS, S));
    c->w_anchor = ng_params_add(c->params, "attn_anchor.weight", ng_shape2(S, S));
    c->w_query = ng_params_add(c->params, "attn_query.weight", ng_shape2(S, S));
    c->v_attn = ng_params_add(c->params, "v_attn.weight", ng_shape2(1, S));
    c->g_emb = ng_params_add(c->params, "g_emb", ng_shape2(1, S));
    if (!c->g_emb || (s = ng_params_alloc(c->params)) != NG_OK) {
        s = c->g_emb ? s : NG_ERR_NOMEM;
        ng_textnas_ctrl_free(c);
        return s;
    }
    /* PyTorch defaults: LSTMCell U(+-1/sqrt(hidden)); Linear kaiming_uniform(a = sqrt(5)) =
       U(+-1/sqrt(fan_in)); g_emb = randn * 0.1. */
    ng_rng_seed(&r, seed);
    bound = (float)(1.0 / sqrt((double)S));
    ng_init_uniform(c->w_ih, -bound, bound, &r);
    ng_init_uniform(c->w_hh, -bound, bound, &r);
    ng_init_kaiming_uniform_default(c->w_soft, &r);
    ng_init_kaiming_uniform_default(c->w_anchor, &r);
    ng_init_kaiming_uniform_default(c->w_query, &r);
    ng_init_kaiming_uniform_default(c->v_attn, &r);
    ng_init_normal(c->g_emb, 0.0f, 0.1f, &r);
    if ((s = ng_adam_init(&c->adam, c->params, c->hp.lr, c->hp.beta1, c->hp.beta2, c->hp.eps, c->hp.weight_decay)) != NG_OK) {
        ng_textnas_ctrl_free(c);
        return s;
    }
    c->nograd = ng_ctx_create(ng_textnas_ctrl_arena_bytes(&c->hp) / 2, seed); /* forward only */
    if (!c->nograd) { ng_textnas_ctrl_free(c); return NG_ERR_NOMEM; }
    c->nograd->no_grad = 1;
    c->baseline = 0.0;
    c->steps = 0;
    return NG_OK;
}

/* ---- the sampler ---- */

static ng_shape ng__tc_scalar(void) {
    ng_shape s = ng_shape1(1);
    s.ndim = 0;
    return s;
}

/* Draw from softmax(logits) (computed in double): the first index whose cumulative
   probability exceeds u ~ U[0, 1). p[] receives the probabilities. */
static int ng__tc_draw(ng_rng *rng, const float *logits, int n, int stride, double *p) {
    double mx = -HUGE_VAL, z = 0.0, acc = 0.0, u;
    int k, last = 0;
    for (k = 0; k < n; k++)
        if ((double)logits[k * stride] > mx) mx = (double)logits[k * stride];
    for (k = 0; k < n; k++) z += (p[k] = exp((double)logits[k * stride] - mx));
    for (k = 0; k < n; k++) {
        p[k] /= z;
        if (p[k] > 0.0) last = k;
    }
    u = ng_rng_uniform(rng);
    for (k = 0; k < n; k++) {
        acc += p[k];
        if (u < acc && p[k] > 0.0) return k;
    }
    return last;
}

/* Probabilities only (teacher forcing). */
static void ng__tc_probs(const float *logits, int n, int stride, double *p) {
    double mx = -HUGE_VAL, z = 0.0;
    int k;
    for (k = 0; k < n; k++)
        if ((double)logits[k * stride] > mx) mx = (double)logits[k * stride];
    for (k = 0; k < n; k++) z += (p[k] = exp((double)logits[k * stride] - mx));
    for (k = 0; k < n; k++) p[k] /= z;
}

/* temperature, then tanh constant (NNI's order) */
static ng_tensor *ng__tc_shape_logits(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *x) {
    if (c->hp.temperature > 0.0f) x = ng_scale(ctx, x, (float)(1.0 / (double)c->hp.temperature));
    if (c->hp.tanh_constant > 0.0f) x = ng_scale(ctx, ng_tanh(ctx, x), c->hp.tanh_constant);
    return x;
}

/* The op logits (1, 8) with the ops outside hp.op_mask pushed to -1e30 (unchanged when every
   op is allowed, so the unrestricted controller stays NNI's bit for bit). */
static ng_tensor *ng__tc_mask_ops(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *logits) {
    float bias[NG_TEXTNAS_N_OPS];
    uint32_t all = (1u << NG_TEXTNAS_N_OPS) - 1, mask = c->hp.op_mask & all;
    int k;
    if (!logits || mask == 0 || mask == all) return logits;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++) bias[k] = (mask >> k) & 1u ? 0.0f : -1e30f;
    return ng_add(ctx, logits, ng_tensor_from(ctx, ng_shape2(1, NG_TEXTNAS_N_OPS), bias));
}

/* torch.nn.LSTMCell without bias, gate order i, f, g, o. */
static void ng__tc_lstm(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *x, ng_tensor **h, ng_tensor **cell) {
    int64_t S = c->hp.lstm_size;
    ng_tensor *gates = ng_add(ctx, ng_linear(ctx, x, c->w_ih, NULL), ng_linear(ctx, *h, c->w_hh, NULL));
    ng_tensor *ig = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, 0, S));
    ng_tensor *fg = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, S, S));
    ng_tensor *gg = ng_tanh(ctx, ng_slice(ctx, gates, 1, 2 * S, S));
    ng_tensor *og = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, 3 * S, S));
    ng_tensor *cn = ng_add(ctx, ng_mul(ctx, fg, *cell), ng_mul(ctx, ig, gg));
    *h = ng_mul(ctx, og, ng_tanh(ctx, cn));
    *cell = cn;
}

/* v . tanh(A_j + W_query h) for the anchors j0 .. j1 - 1: (n, 1) */
static ng_tensor *ng__tc_attn(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor **A, int j0, int j1, ng_tensor *hq) {
    ng_tensor *stack = j1 - j0 == 1 ? A[j0] : ng_concat(ctx, A + j0, j1 - j0, 0);
    ng_tensor *t = ng_tanh(ctx, ng_add(ctx, stack, hq));
    return ng__tc_shape_logits(ctx, c, ng_linear(ctx, t, c->v_attn, NULL));
}

/* sum over the (i, 2) logits of sigmoid(l) (log sigmoid(l) - log t_b); log sigmoid(l) is the
   second column of log_softmax([0, l]). */
static ng_tensor *ng__tc_skip_kl(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *logit, int n) {
    ng_tensor *l2 = ng_reshape(ctx, logit, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *z = ng_tensor_zeros(ctx, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *lt = ng_tensor_new(ctx, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *pair[2], *logsig, *sig;
    /* the targets as PyTorch's float32 tensor [1 - skip_target, skip_target] */
    float t0 = (float)(1.0 - (double)c->hp.skip_target), t1 = c->hp.skip_target;
    int j;
    if (!l2 || !z || !lt) return NULL;
    for (j = 0; j < n; j++) {
        lt->data[2 * j] = (float)log((double)t0);
        lt->data[2 * j + 1] = (float)log((double)t1);
    }
    pair[0] = z;
    pair[1] = l2;
    logsig = ng_slice(ctx, ng_log_softmax(ctx, ng_concat(ctx, pair, 2, 1), 1), 1, 1, 1);
    sig = ng_sigmoid(ctx, l2);
    return ng_sum(ctx, ng_mul(ctx, sig, ng_sub(ctx, logsig, lt)), NG_ALL_AXES, 0);
}

static ng_status ng__tc_check_arch(const ng_textnas_ctrl *c, const ng_textnas_arch *a) {
    int i, L = c->hp.n_layers;
    if (a->n_layers != L)
        return ng_fail(NG_ERR_ARG, "textnas controller: architecture has %d layers, the controller %d", a->n_layers, L);
    for (i = 0; i < L; i++) {
        int lo = i - c->hp.choose_from < 0 ? 0 : i - c->hp.choose_from;
        uint32_t allowed = i >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << i) - 1u);
        if (i == 0 ? a->input[0] != -1 : (a->input[i] < lo || a->input[i] > i - 1))
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: input %d is not %s", i, a->input[i],
                           i == 0 ? "-1" : "a candidate (one of the last choose_from layers)");
        if (a->op[i] < 0 || a->op[i] >= NG_TEXTNAS_N_OPS)
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: op %d is not in [0, %d)", i, a->op[i], NG_TEXTNAS_N_OPS);
        if (c->hp.op_mask && !((c->hp.op_mask >> a->op[i]) & 1u))
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: op %s is not among the controller's ops", i,
                           ng_textnas_op_name(a->op[i]));
        if (a->skip[i] & ~allowed)
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: skip mask 0x%x names a layer >= %d", i, (unsigned)a->skip[i], i);
    }
    return NG_OK;
}

/* The walk shared by sampling (forced == NULL) and teacher forcing. Gradient outputs are
   built only when asked for. */
static ng_status ng__tc_run(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, const ng_textnas_arch *forced,
                            ng_textnas_arch *out, ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    int L = c->hp.n_layers, S = c->hp.lstm_size, i, j;
    ng_tensor *A[NG_TEXTNAS_MAX_LAYERS], *anchor[NG_TEXTNAS_MAX_LAYERS];
    ng_tensor *h, *cell, *inp, *hq = NULL, *lp = NULL, *sp = NULL;
    double ent = 0.0, p[NG_TEXTNAS_MAX_LAYERS > NG_TEXTNAS_N_OPS ? NG_TEXTNAS_MAX_LAYERS : NG_TEXTNAS_N_OPS];
    int32_t labels[NG_TEXTNAS_MAX_LAYERS];
    ng_textnas_arch arch;
    ng_status s;
    if (log_prob) *log_prob = NULL;
    if (entropy) *entropy = NULL;
    if (skip_penalty) *skip_penalty = NULL;
    if (ctx->status != NG_OK) return ng_fail(ctx->status, "textnas controller: the context has failed before sampling (reset it)");
    if (forced && (s = ng__tc_check_arch(c, forced)) != NG_OK) return s;
    memset(&arch, 0, sizeof arch);
    arch.n_layers = L;
    h = ng_tensor_zeros(ctx, ng_shape2(1, S));
    cell = ng_tensor_zeros(ctx, ng_shape2(1, S));
    inp = ng_tensor_from(ctx, ng_shape2(1, S), c->g_emb->data); /* g_emb.data: no gradient */
    for (i = 0; i < L; i++) {
        ng_tensor *logits, *ce;
        /* ---- input choice (no LSTM step) ---- */
        if (i == 0) {
            arch.input[0] = -1;
        } else {
            int j0 = i - c->hp.choose_from < 0 ? 0 : i - c->hp.choose_from, n = i - j0, k;
            if (!hq) hq = ng_linear(ctx, h, c->w_query, NULL);
            logits = ng__tc_attn(ctx, c, A, j0, i, hq);
            if (!logits) break;
            if (forced) {
                k = forced->input[i] - j0;
                ng__tc_probs(logits->data, n, 1, p);
            } else {
                k = ng__tc_draw(rng, logits->data, n, 1, p);
            }
            arch.input[i] = j0 + k;
            if (log_prob) {
                labels[0] = k;
                ce = ng_cross_entropy(ctx, ng_reshape(ctx, logits, ng_shape2(1, n)), labels);
                lp = lp ? ng_add(ctx, lp, ce) : ce;
            }
            if (entropy && p[k] > 0.0) ent += -log(p[k]) * p[k];
            inp = anchor[j0 + k];
        }
        /* ---- operation: the layer's one LSTM step ---- */
        ng__tc_lstm(ctx, c, inp, &h, &cell);
        hq = NULL;
        logits = ng__tc_mask_ops(ctx, c, ng__tc_shape_logits(ctx, c, ng_linear(ctx, h, c->w_soft, NULL)));
        if (!logits) break;
        if (forced) {
            arch.op[i] = forced->op[i];
            ng__tc_probs(logits->data, NG_TEXTNAS_N_OPS, 1, p);
        } else {
            arch.op[i] = ng__tc_draw(rng, logits->data, NG_TEXTNAS_N_OPS, 1, p);
        }
        if (log_prob) {
            labels[0] = arch.op[i];
            ce = ng_cross_entropy(ctx, logits, labels);
            lp = lp ? ng_add(ctx, lp, ce) : ce;
        }
        if (entropy && p[arch.op[i]] > 0.0) ent += -log(p[arch.op[i]]) * p[arch.op[i]];
        /* ---- skip connections from every earlier layer (same h as the op step) ---- */
        arch.skip[i] = 0;
        if (i > 0) {
            ng_tensor *q, *pair[2], *logit;
            double e = 0.0, pp[2];
            hq = ng_linear(ctx, h, c->w_query, NULL);
            q = ng__tc_attn(ctx, c, A, 0, i, hq);
            pair[0] = ng_scale(ctx, q, -1.0f);
            pair[1] = q;
            logit = ng_concat(ctx, pair, 2, 1);            /* (i, 2): [-q, q] */
            if (!logit) break;
            for (j = 0; j < i; j++) {
                int sj;
                if (forced) {
                    sj = (int)((forced->skip[i] >> j) & 1u);
                    ng__tc_probs(logit->data + 2 * j, 2, 1, pp);
                } else {
                    sj = ng__tc_draw(rng, logit->data + 2 * j, 2, 1, pp);
                }
                labels[j] = sj;
                if (sj) arch.skip[i] |= 1u << j;
                if (pp[sj] > 0.0) e += -log(pp[sj]) * pp[sj];
            }
            if (entropy) ent += e / (double)i;
            if (log_prob) {
                ce = ng_cross_entropy(ctx, logit, labels);  /* mean over the i candidates */
                lp = lp ? ng_add(ctx, lp, ce) : ce;
            }
            if (skip_penalty) {
                ng_tensor *kl = ng__tc_skip_kl(ctx, c, logit, i);
                sp = sp ? ng_add(ctx, sp, kl) : kl;
            }
        }
        anchor[i] = h;
        if (i + 1 < L) A[i] = ng_linear(ctx, h, c->w_anchor, NULL);
    }
    if (ctx->status != NG_OK)
        return ng_fail(ctx->status, "textnas controller: sampling failed at layer %d of %d (step arena of %zu bytes: %s)",
                       i, L, ctx->arena.cap, ng_status_str(ctx->status));
    if (log_prob) *log_prob = lp;
    if (skip_penalty) {
        if (!sp) sp = ng_tensor_zeros(ctx, ng__tc_scalar());
        *skip_penalty = sp;
    }
    if (entropy) {
        float ev = (float)ent;
        *entropy = ng_tensor_from(ctx, ng__tc_scalar(), &ev);
    }
    if (ctx->status != NG_OK)
        return ng_fail(ctx->status, "textnas controller: step arena of %zu bytes is exhausted", ctx->arena.cap);
    if (out) *out = arch;
    return NG_OK;
}

ng_status ng_textnas_ctrl_sample(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out,
                                 ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    return ng__tc_run(ctx, c, rng, NULL, out, log_prob, entropy, skip_penalty);
}

ng_status ng_textnas_ctrl_score(ng_ctx *ctx, ng_textnas_ctrl *c, const ng_textnas_arch *arch,
                                ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    if (!arch) return ng_fail(NG_ERR_ARG, "textnas controller: score: architecture is NULL");
    return ng__tc_run(ctx, c, NULL, arch, NULL, log_prob, entropy, skip_penalty);
}

ng_status ng_textnas_ctrl_sample_arch(ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out) {
    ng_ctx_reset(c->nograd);
    return ng__tc_run(c->nograd, c, rng, NULL, out, NULL, NULL, NULL);
}

ng_status ng_textnas_ctrl_export(ng_textnas_ctrl *c, ng_rng *rng, int n, ng_textnas_arch *archs) {
    int k;
    ng_status s;
    if (n < 0 || (n > 0 && !archs)) return ng_fail(NG_ERR_ARG, "textnas controller: export of %d architectures into %p", n, (void *)archs);
    for (k = 0; k < n; k++)
        if ((s = ng_textnas_ctrl_sample_arch(c, rng, &archs[k])) != NG_OK) return s;
    return NG_OK;
}

/* ---- REINFORCE update ---- */

static ng_status ng__tc_update(ng_textnas_ctrl *c, ng_ctx *ctx, ng_tensor *lp, ng_tensor *ent, ng_tensor *sp, double reward) {
    double R, bl, norm;
    ng_tensor *loss;
    ng_params *g = c->params;
    ng_status s;
    if (!(reward == reward) || reward > 1e300 || reward < -1e300)
        return ng_fail(NG_ERR_ARG, "textnas controller: reward %g is not finite (step %lld skipped)", reward, (long long)c->steps);
    R = reward + c->hp.entropy_weight * (double)ent->data[0];
    bl = c->baseline * c->hp.baseline_decay + R * (1.0 - c->hp.baseline_decay);   /* before the loss */
    loss = ng_add(ctx, ng_scale(ctx, lp, (float)(R - bl)), ng_scale(ctx, sp, c->hp.skip_weight));
    if (!loss) return ng_fail(ctx->status ? ctx->status : NG_ERR_NOMEM, "textnas controller: loss: step arena of %zu bytes is exhausted", ctx->arena.cap);
    ng_params_zero_grad(g);
    if ((s = ng_backward(ctx, loss)) != NG_OK) { ng_params_zero_grad(g); return s; }
    norm = (double)ng_clip_grad_norm(&g, 1, c->hp.grad_clip > 0.0f ? c->hp.grad_clip : HUGE_VALF);
    if (!(norm == norm) || norm > 1e300) {
        ng_params_zero_grad(g);
        return ng_fail(NG_ERR_ARG, "textnas controller: gradient norm is %g at step %lld (step skipped)", norm, (long long)c->steps);
    }
    ng_adam_step(&c->adam);
    ng_params_zero_grad(g);
    c->baseline = bl;
    c->steps++;
    c->last.reward = reward;
    c->last.R = R;
    c->last.baseline = bl;
    c->last.log_prob = (double)lp->data[0];
    c->last.entropy = (double)ent->data[0];
    c->last.skip_penalty = (double)sp->data[0];
    c->last.loss = (double)loss->data[0];
    c->last.grad_norm = norm;
    return NG_OK;
}

static void ng__tc_prepare(ng_textnas_ctrl *c, ng_ctx *ctx) {
    ng_ctx_reset(ctx);
    ng_ctx_grad_for(ctx, &c->params, 1);
}

ng_status ng_textnas_ctrl_step(ng_textnas_ctrl *c, ng_ctx *ctx, ng_rng *rng, ng_textnas_reward_fn reward_fn,
                               void *user, ng_textnas_arch *arch_out) {
    ng_textnas_arch arch;
    ng_tensor *lp, *ent, *sp;
    ng_status s;
    if (!reward_fn) return ng_fail(NG_ERR_ARG, "textnas controller: step without a reward function");
    ng__tc_prepare(c, ctx);
    if ((s = ng__tc_run(ctx, c, rng, NULL, &arch, &lp, &ent, &sp)) != NG_OK) return s;
    if (arch_out) *arch_out = arch;
    return ng__tc_update(c, ctx, lp, ent, sp, reward_fn(&arch, user));
}

ng_status ng_textnas_ctrl_step_arch(ng_textnas_ctrl *c, ng_ctx *ctx, const ng_textnas_arch *arch, double reward) {
    ng_tensor *lp, *ent, *sp;
    ng_status s;
    if (!arch) return ng_fail(NG_ERR_ARG, "textnas controller: step_arch: architecture is NULL");
    ng__tc_prepare(c, ctx);
    if ((s = ng__tc_run(ctx, c, NULL, arch, NULL, &lp, &ent, &sp)) != NG_OK) return s;
    return ng__tc_update(c, ctx, lp, ent, sp, reward);
}

/* ---- checkpoints ---- */

static ng_status ng__tc_key(char *buf, size_t cap, const char *prefix, const char *field) {
    int n;
    if (!prefix) return ng_fail(NG_ERR_ARG, "textnas controller: checkpoint prefix is NULL");
    n = snprintf(buf, cap, "%s.%s", prefix, field);
    if (n < 0 || (size_t)n >= cap) return ng_fail(NG_ERR_ARG, "textnas controller: checkpoint prefix '%.40s...' is too long", prefix);
    return NG_OK;
}

ng_status ng_textnas_ctrl_put(ng_ckpt *ck, const char *prefix, const ng_textnas_ctrl *c) {
    char ka[320], kb[320], ks[320];
    int64_t bits;
    ng_status s;
    if ((s = ng__tc_key(ka, sizeof ka, prefix, "adam")) != NG_OK) return s;
    if ((s = ng__tc_key(kb, sizeof kb, prefix, "baseline")) != NG_OK) return s;
    if ((s = ng__tc_key(ks, sizeof ks, prefix, "steps")) != NG_OK) return s;
    memcpy(&bits, &c->baseline, sizeof bits);
    s = ng_ckpt_put_params(ck, c->params);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, ka, &c->adam);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, kb, bits);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, ks, c->steps);
    return s;
}

ng_status ng_textnas_ctrl_get(const ng_ckpt *ck, const char *prefix, ng_textnas_ctrl *c) {
    char ka[320], kb[320], ks[320];
    int64_t bits, steps;
    double bl;
    ng_adam tmp;
    ng_status s;
    if ((s = ng__tc_key(ka, sizeof ka, prefix, "adam")) != NG_OK) return s;
    if ((s = ng__tc_key(kb, sizeof kb, prefix, "baseline")) != NG_OK) return s;
    if ((s = ng__tc_key(ks, sizeof ks, prefix, "steps")) != NG_OK) return s;
    if ((s = ng_ckpt_get_i64(ck, kb, &bits)) != NG_OK) return s;
    if ((s = ng_ckpt_get_i64(ck, ks, &steps)) != NG_OK) return s;
    if (steps < 0) return ng_fail(NG_ERR_MISMATCH, "textnas controller: checkpoint record '%s' holds a negative step count %lld", ks, (long long)steps);
    memcpy(&bl, &bits, sizeof bl);
    /* the Adam state into a temporary first: nothing changes unless every record fits */
    if ((s = ng_adam_init(&tmp, c->params, c->adam.lr, c->adam.beta1, c->adam.beta2, c->adam.eps, c->adam.weight_decay)) != NG_OK) return s;
    if ((s = ng_ckpt_get_adam(ck, ka, &tmp)) != NG_OK) { ng_adam_free(&tmp); return s; }
    if ((s = ng_ckpt_get_params(ck, c->params)) != NG_OK) { ng_adam_free(&tmp); return s; }
    ng_adam_free(&c->adam);
    c->adam = tmp;
    c->baseline = bl;
    c->steps = steps;
    return NG_OK;
}

/* ---- src/textnas_train.c ---- */
/* ---- batches ---- */
static void ng__ts_new_pass(ng_text_sampler *s) {
    int64_t i, n = s->d->n;
    s->pass_rng = s->rng;
    for (i = 0; i < n; i++) s->perm[i] = (int32_t)i;
    for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)ng_rng_below(&s->rng, (uint64_t)(i + 1));
        int32_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->cursor = 0;
}
ng_status ng_text_sampler_init(ng_text_sampler *s, const ng_text_dataset *d, uint64_t seed) {
    memset(s, 0, sizeof *s);
    if (!d || d->n < 1 || d->n > INT32_MAX) return ng_fail(NG_ERR_ARG, "text sampler: empty or oversized dataset");
    s->d = d;
    if (!(s->perm = (int32_t *)malloc((size_t)d->n * sizeof(int32_t)))) return ng_fail(NG_ERR_NOMEM, "text sampler: out of memory");
    ng_rng_seed(&s->rng, seed);
    ng__ts_new_pass(s);
    return NG_OK;
}
void ng_text_sampler_free(ng_text_sampler *s) {
    free(s->perm);
    free(s->ids);
    free(s->lengths);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
ng_status ng_text_sampler_next(ng_text_sampler *s, int batch, ng_text_batch *out) {
    int L = s->d->max_len, k;
    if (batch < 1) return ng_fail(NG_ERR_ARG, "text sampler: batch %d", batch);
    if (batch > s->cap) {
        free(s->ids); free(s->lengths); free(s->labels);
        s->ids = (int32_t *)malloc((size_t)batch * (size_t)L * sizeof(int32_t));
        s->lengths = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
        s->labels = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
        s->cap = s->ids && s->lengths && s->labels ? batch : 0;
        if (!s->cap) return ng_fail(NG_ERR_NOMEM, "text sampler: out of memory");
    }
    for (k = 0; k < batch; k++) {
        int64_t e;
        if (s->cursor >= s->d->n) ng__ts_new_pass(s);
        e = s->perm[s->cursor++];
        memcpy(s->ids + (int64_t)k * L, s->d->ids + e * L, (size_t)L * sizeof(int32_t));
        s->lengths[k] = s->d->lengths[e];
        s->labels[k] = s->d->labels[e];
    }
    out->ids = s->ids;
    out->lengths = s->lengths;
    out->labels = s->labels;
    out->n = batch;
    out->len = L;
    return NG_OK;
}
ng_status ng_text_sampler_put(ng_ckpt *ck, const char *key, const ng_text_sampler *s) {
    char k[NG_CKPT_MAX_KEY];
    ng_status st;
    snprintf(k, sizeof k, "%s.n", key);
    if ((st = ng_ckpt_put_i64(ck, k, s->d->n)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.cursor", key);
    if ((st = ng_ckpt_put_i64(ck, k, s->cursor)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.pass_rng", key);
    if ((st = ng_ckpt_put_rng(ck, k, &s->pass_rng)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.rng", key);
    return ng_ckpt_put_rng(ck, k, &s->rng);
}
ng_status ng_text_sampler_get(const ng_ckpt *ck, const char *key, ng_text_sampler *s) {
    char k[NG_CKPT_MAX_KEY];
    int64_t n = 0, cursor = 0;
    ng_rng pass, now;
    ng_status st;
    snprintf(k, sizeof k, "%s.n", key);
    if ((st = ng_ckpt_get_i64(ck, k, &n)) != NG_OK) return st;
    if (n != s->d->n)
        return ng_fail(NG_ERR_MISMATCH, "text sampler '%s': saved for %lld examples, the data has %lld", key, (long long)n,
                       (long long)s->d->n);
    snprintf(k, sizeof k, "%s.cursor", key);
    if ((st = ng_ckpt_get_i64(ck, k, &cursor)) != NG_OK) return st;
    if (cursor < 0 || cursor > n) return ng_fail(NG_ERR_FORMAT, "text sampler '%s': cursor %lld", key, (long long)cursor);
    snprintf(k, sizeof k, "%s.pass_rng", key);
    if ((st = ng_ckpt_get_rng(ck, k, &pass)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.rng", key);
    if ((st = ng_ckpt_get_rng(ck, k, &now)) != NG_OK) return st;
    s->rng = pass;
    ng__ts_new_pass(s); /* the same permutation as when it was drawn */
    s->cursor = cursor;
    s->rng = now;
    return NG_OK;
}
ng_text_batch ng_text_dataset_slice(const ng_text_dataset *d, int64_t first, int64_t n) {
    ng_text_batch b;
    b.ids = d->ids + first * d->max_len;
    b.lengths = d->lengths + first;
    b.labels = d->labels + first;
    b.n = n;
    b.len = d->max_len;
    return b;
}

/* ---- child training ---- */
ng_status ng_textnas_child_init(ng_textnas_child *c, ng_textnas_net *net, float lr, float eps, float weight_decay,
                                float grad_clip) {
    ng_status s;
    memset(c, 0, sizeof *c);
    c->net = net;
    c->grad_clip = grad_clip;
    if ((s = ng_adam_init(&c->adam_w, net->weights, lr, 0.9f, 0.999f, eps, weight_decay)) != NG_OK) return s;
    if ((s = ng_adam_init(&c->adam_e, net->embed, lr, 0.9f, 0.999f, eps, weight_decay)) != NG_OK) {
        ng_adam_free(&c->adam_w);
        return s;
    }
    return NG_OK;
}
void ng_textnas_child_free(ng_textnas_child *c) {
    ng_adam_free(&c->adam_w);
    ng_adam_free(&c->adam_e);
    memset(c, 0, sizeof *c);
}
void ng_textnas_child_set_lr(ng_textnas_child *c, float lr) { c->adam_w.lr = c->adam_e.lr = lr; }

static ng_tensor *ng__tt_logits(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch, const ng_textnas_alpha *alpha,
                                const ng_text_batch *b) {
    return alpha ? ng_textnas_forward_mixed(ctx, net, alpha, b) : ng_textnas_forward(ctx, net, arch, b, NULL);
}
/* Correct predictions of a batch (-1 when the logits cannot be read back). */
static int64_t ng__tt_correct(ng_ctx *ctx, const ng_tensor *logits, const int32_t *labels, int64_t *conf, int C) {
    int64_t i, hits = 0;
    const float *host = ng_tensor_host_read(ctx, logits);
    if (!host) return -1;
    for (i = 0; i < logits->shape.d[0]; i++) {
        int k, best = 0;
        const float *row = host + i * C;
        for (k = 1; k < C; k++)
            if (row[k] > row[best]) best = k;
        hits += best == labels[i];
        if (conf) conf[(int64_t)labels[i] * C + best]++;
    }
    return hits;
}
static ng_status ng__tt_fail(ng_ctx *ctx, const char *what) {
    ng_status s = ctx->status != NG_OK ? ctx->status : NG_ERR_NOMEM;
    if (!ng_last_error()[0]) ng_fail(s, "%s failed", what);
    return s;
}

ng_status ng_textnas_child_step(ng_textnas_child *c, ng_ctx *ctx, const ng_textnas_arch *arch,
                                const ng_textnas_alpha *alpha, const ng_text_batch *b) {
    ng_params *groups[2];
    ng_tensor *logits, *loss;
    float norm, loss_v;
    int64_t hits;
    ng_status s;
    groups[0] = c->net->weights;
    groups[1] = c->net->embed;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 1);
    ng_ctx_grad_for(ctx, groups, 2);
    ng_params_zero_grad(groups[0]);
    ng_params_zero_grad(groups[1]);
    logits = ng__tt_logits(ctx, c->net, arch, alpha, b);
    loss = logits ? ng_cross_entropy(ctx, logits, b->labels) : NULL;
    if (!loss) return ng__tt_fail(ctx, "textnas child forward");
    if ((s = ng_backward(ctx, loss)) != NG_OK) return s;
    loss_v = ng_tensor_item(loss);
    if (!isfinite(loss_v)) return ng_fail(NG_ERR_ARG, "textnas child step %lld: loss is %g", (long long)c->steps, loss_v);
    norm = c->grad_clip > 0 ? ng_clip_grad_norm(groups, 2, c->grad_clip) : 0.0f;
    if (!isfinite(norm)) return ng_fail(NG_ERR_ARG, "textnas child step %lld: gradient norm is %g", (long long)c->steps, norm);
    c->loss = loss_v;
    if ((hits = ng__tt_correct(ctx, logits, b->labels, NULL, c->net->hp.n_classes)) < 0) return ng__tt_fail(ctx, "textnas child step");
    c->accuracy = (double)hits / (double)b->n;
    if ((s = ng_adam_step(&c->adam_w)) != NG_OK || (s = ng_adam_step(&c->adam_e)) != NG_OK) return s;
    c->steps++;
    return NG_OK;
}
ng_status ng_textnas_child_put(ng_ckpt *ck, const char *prefix, const ng_textnas_child *c) {
    char k[NG_CKPT_MAX_KEY];
    ng_status s;
    if ((s = ng_ckpt_put_params(ck, c->net->weights)) != NG_OK || (s = ng_ckpt_put_params(ck, c->net->embed)) != NG_OK ||
        (s = ng_ckpt_put_params(ck, c->net->buffers)) != NG_OK)
        return s;
    snprintf(k, sizeof k, "%s.adam_w", prefix);
    if ((s = ng_ckpt_put_adam(ck, k, &c->adam_w)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.adam_e", prefix);
    if ((s = ng_ckpt_put_adam(ck, k, &c->adam_e)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.steps", prefix);
    return ng_ckpt_put_i64(ck, k, c->steps);
}
ng_status ng_textnas_child_get(const ng_ckpt *ck, const char *prefix, ng_textnas_child *c) {
    char k[NG_CKPT_MAX_KEY];
    ng_status s;
    if ((s = ng_ckpt_get_params(ck, c->net->weights)) != NG_OK || (s = ng_ckpt_get_params(ck, c->net->embed)) != NG_OK ||
        (s = ng_ckpt_get_params(ck, c->net->buffers)) != NG_OK)
        return s;
    snprintf(k, sizeof k, "%s.adam_w", prefix);
    if ((s = ng_ckpt_get_adam(ck, k, &c->adam_w)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.adam_e", prefix);
    if ((s = ng_ckpt_get_adam(ck, k, &c->adam_e)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.steps", prefix);
    return ng_ckpt_get_i64(ck, k, &c->steps);
}

/* ---- evaluation ---- */
ng_status ng_textnas_evaluate(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_textnas_alpha *alpha, const ng_text_dataset *d, int batch, int64_t limit,
                              double *accuracy, double *loss, int64_t *conf) {
    int64_t n = limit > 0 && limit < d->n ? limit : d->n, first, hits = 0;
    double loss_sum = 0.0;
    int C = net->hp.n_classes;
    if (batch < 1 || n < 1) return ng_fail(NG_ERR_ARG, "textnas evaluate: batch %d, %lld examples", batch, (long long)n);
    if (d->num_classes > C) return ng_fail(NG_ERR_ARG, "textnas evaluate: data with %d classes for a %d-class net", d->num_classes, C);
    if (conf) memset(conf, 0, (size_t)C * (size_t)C * sizeof(int64_t));
    for (first = 0; first < n; first += batch) {
        int64_t m = n - first < batch ? n - first : batch;
        ng_text_batch b = ng_text_dataset_slice(d, first, m);
        ng_tensor *logits, *l;
        int64_t h;
        ng_ctx_reset(ctx);
        ng_ctx_set_training(ctx, 0);
        ng_ctx_grad_for(ctx, NULL, 0);
        logits = ng__tt_logits(ctx, net, arch, alpha, &b);
        l = logits ? ng_cross_entropy(ctx, logits, b.labels) : NULL;
        if (!l || (h = ng__tt_correct(ctx, logits, b.labels, conf, C)) < 0) return ng__tt_fail(ctx, "textnas evaluate");
        loss_sum += (double)ng_tensor_item(l) * (double)m;
        hits += h;
    }
    if (accuracy) *accuracy = (double)hits / (double)n;
    if (loss) *loss = loss_sum / (double)n;
    return NG_OK;
}
ng_status ng_textnas_batch_accuracy(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                                    const ng_text_batch *b, double *accuracy) {
    ng_tensor *logits;
    int64_t hits;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 0);
    ng_ctx_grad_for(ctx, NULL, 0);
    logits = ng_textnas_forward(ctx, net, arch, b, NULL);
    if (!logits || (hits = ng__tt_correct(ctx, logits, b->labels, NULL, net->hp.n_classes)) < 0) return ng__tt_fail(ctx, "textnas reward");
    *accuracy = (double)hits / (double)b->n;
    return NG_OK;
}
ng_status ng_textnas_alpha_step(ng_ctx *ctx, ng_textnas_net *net, ng_textnas_alpha *alpha, ng_adam *opt,
                                const ng_text_batch *b, double *loss) {
    ng_tensor *logits, *l;
    float lv;
    ng_status s;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 1);
    ng_ctx_grad_for(ctx, &alpha->params, 1);
    ng_params_zero_grad(alpha->params);
    logits = ng_textnas_forward_mixed(ctx, net, alpha, b);
    l = logits ? ng_cross_entropy(ctx, logits, b->labels) : NULL;
    if (!l) return ng__tt_fail(ctx, "textnas alpha step");
    if ((s = ng_backward(ctx, l)) != NG_OK) return s;
    lv = ng_tensor_item(l);
    if (!isfinite(lv)) return ng_fail(NG_ERR_ARG, "textnas alpha step: loss is %g", lv);
    if ((s = ng_adam_step(opt)) != NG_OK) return s;
    if (loss) *loss = lv;
    return NG_OK;
}

/* ---- src/cuda.c ---- */
/* ======================================================================================== */
/* @@CUDA  host-side glue: hook registry, device arenas, transfers, device parameter groups  */
/* ======================================================================================== */
static void ng__optable_set_cuda(int op, void (*fw)(ng_node *), void (*bw)(ng_node *)); /* @@OPTABLE */

/* The registered kernel table (code, not state: the backend context lives behind it). */
static const ng_cuda_hooks *ng__cuda_hooks_p = NULL;
static int ng__cuda_ready = 0;

void ng_cuda_register(const ng_cuda_hooks *h) {
    int op;
    ng__cuda_hooks_p = h;
    ng__cuda_ready = 0; /* a (re)registered backend needs ng_cuda_init */
    for (op = 0; op < NG_OP_COUNT; op++)
        ng__optable_set_cuda(op, h ? h->fw[op] : NULL, h ? h->bw[op] : NULL);
}
const ng_cuda_hooks *ng_cuda_get_hooks(void) { return ng__cuda_hooks_p; }

int ng_cuda_available(void) { return ng__cuda_hooks_p && ng__cuda_hooks_p->device_count() > 0; }

ng_status ng_cuda_init(int device) {
    ng_status s;
    if (!ng__cuda_hooks_p) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: built without the CUDA backend (build with `make cuda` and link build/nasgan_cuda.o)");
    if (ng__cuda_hooks_p->device_count() <= 0) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: no CUDA device is visible");
    s = ng__cuda_hooks_p->init(device);
    if (s == NG_OK) ng__cuda_ready = 1;
    return s;
}
int ng_cuda_ready(void) { return ng__cuda_ready; }
const char *ng_cuda_device_info(void) { return ng__cuda_ready ? ng__cuda_hooks_p->info() : ""; }
void ng_cuda_set_tf32(int on) { if (ng__cuda_ready) ng__cuda_hooks_p->set_tf32(on); }
ng_status ng_cuda_synchronize(void) {
    if (!ng__cuda_ready) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: not initialised (call ng_cuda_init)");
    return ng__cuda_hooks_p->synchronize() ? ng_fail(NG_ERR_UNSUPPORTED, "cuda: a kernel failed (see stderr)") : NG_OK;
}
size_t ng_cuda_peak_bytes(void) { return ng__cuda_ready ? ng__cuda_hooks_p->peak_bytes() : 0; }
size_t ng_cuda_mem_free(void) { return ng__cuda_ready && ng__cuda_hooks_p->mem_free ? ng__cuda_hooks_p->mem_free() : 0; }
int ng_cuda_op_supported(int op, int backward) { return ng__cuda_ready && ng__optable_has_cuda(op, backward); }

/* ---- internal helpers for the tape and tensor parts ---- */
void *ng__cuda_arena_alloc(ng_ctx *ctx, size_t bytes) { return ng_arena_alloc(&ctx->dev_arena, bytes); }
void ng__cuda_arena_free(ng_arena *a) {
    if (a->base && ng__cuda_hooks_p) ng__cuda_hooks_p->dev_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}
void ng__cuda_free(void *p) { if (p && ng__cuda_hooks_p) ng__cuda_hooks_p->dev_free(p); }
void ng__memset0(int device, void *p, size_t bytes) {
    if (device == NG_CUDA) { if (ng__cuda_hooks_p) ng__cuda_hooks_p->memset0(p, bytes); }
    else memset(p, 0, bytes);
}
void ng__cuda_copy(void *dst, const void *src, size_t bytes, int kind) {
    if (!ng__cuda_hooks_p || !bytes) return;
    if (kind == 1) ng__cuda_hooks_p->memcpy_h2d(dst, src, bytes);
    else if (kind == 2) ng__cuda_hooks_p->memcpy_d2h(dst, src, bytes);
    else ng__cuda_hooks_p->memcpy_d2d(dst, src, bytes);
}

float *ng__cuda_in_grad(ng_node *n, int k) { return ng__in_grad(n, k); }
float *ng__cuda_scratch(ng_node *n, int64_t nfloats) { return ng__falloc(n->ctx, nfloats > 0 ? nfloats : 1); }
void *ng__cuda_host_scratch(ng_node *n, size_t bytes) { return ng__alloc(n->ctx, bytes ? bytes : 1); }
void ng__cuda_op_fail(ng_node *n, const char *what) {
    if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
    ng_fail(NG_ERR_UNSUPPORTED, "%s (CUDA): %s", ng_op_name(n->op), what);
}

int ng__cuda_refuse(ng_ctx *ctx, int device, const char *what) {
    if (device != NG_CUDA) return 0;
    if (ctx && ctx->status == NG_OK) ctx->status = NG_ERR_UNSUPPORTED;
    ng_fail(NG_ERR_UNSUPPORTED, "%s: runs on the host only and its data is on the GPU (no CUDA path yet)", what);
    return 1;
}

/* ---- contexts, tensors and parameter groups on the device ---- */
ng_ctx *ng_ctx_create_on(size_t arena_bytes, uint64_t seed, ng_device device) {
    ng_ctx *ctx;
    if (device == NG_CPU) return ng_ctx_create(arena_bytes, seed);
    if (!ng__cuda_ready) { ng_fail(NG_ERR_UNSUPPORTED, "context: CUDA is not initialised (call ng_cuda_init first)"); return NULL; }
    /* host arena: tensor headers, tape inputs, small host scratch (dropout masks, labels):
       an eighth of the device arena, between 1 MiB and 1 GiB */
    {
        size_t host = arena_bytes / 8;
        if (host < ((size_t)1 << 20)) host = (size_t)1 << 20;
        if (host > ((size_t)1 << 30)) host = (size_t)1 << 30;
        ctx = ng_ctx_create(host, seed);
    }
    if (!ctx) return NULL;
    ctx->dev_arena.base = (unsigned char *)ng__cuda_hooks_p->dev_malloc(arena_bytes);
    if (!ctx->dev_arena.base) {
        ng_ctx_free(ctx);
        ng_fail(NG_ERR_NOMEM, "context: cannot allocate a %zu-byte device arena", arena_bytes);
        return NULL;
    }
    ctx->dev_arena.cap = arena_bytes;
    ctx->dev_arena.used = ctx->dev_arena.peak = 0;
    ctx->device = NG_CUDA;
    return ctx;
}

ng_status ng_params_to_device(ng_params *g, ng_device device) {
    size_t bytes = (size_t)(g->numel ? g->numel : 1) * sizeof(float);
    int i;
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "params %s: allocate the group before moving it", g->name);
    if ((int)device == g->device) return NG_OK;
    if (device == NG_CUDA) {
        float *d, *gd = NULL;
        if (!ng__cuda_ready) return ng_fail(NG_ERR_UNSUPPORTED, "params %s: CUDA is not initialised (call ng_cuda_init first)", g->name);
        d = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
        if (g->grad) gd = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
        if (!d || (g->grad && !gd)) {
            ng__cuda_free(d); ng__cuda_free(gd);
            return ng_fail(NG_ERR_NOMEM, "params %s: cannot allocate %zu device bytes", g->name, bytes);
        }
        ng__cuda_hooks_p->memcpy_h2d(d, g->data, bytes);
        if (gd) ng__cuda_hooks_p->memcpy_h2d(gd, g->grad, bytes);
        g->host_data = g->data; g->host_grad = g->grad;
        g->data = d; g->grad = gd;
    } else {
        ng_params_sync_host(g);
        ng__cuda_free(g->data); ng__cuda_free(g->grad);
        g->data = g->host_data; g->grad = g->host_grad;
        g->host_data = g->host_grad = NULL;
    }
    g->device = device;
    for (i = 0; i < g->n; i++) {
        ng_tensor *t = g->tensors[i];
        t->data = g->data + g->offsets[i];
        t->grad = g->grad ? g->grad + g->offsets[i] : NULL;
        t->device = device;
    }
    return NG_OK;
}

ng_status ng_params_sync_host(ng_params *g) {
    size_t bytes = (size_t)(g->numel ? g->numel : 1) * sizeof(float);
    if (g->device != NG_CUDA) return NG_OK;
    if (ng__cuda_hooks_p->memcpy_d2h(g->host_data, g->data, bytes) ||
        (g->grad && ng__cuda_hooks_p->memcpy_d2h(g->host_grad, g->grad, bytes)))
        return ng_fail(NG_ERR_UNSUPPORTED, "params %s: device-to-host copy failed", g->name);
    return NG_OK;
}

ng_status ng_tensor_to_host(const ng_tensor *t, float *dst) {
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (t->device != NG_CUDA) { memcpy(dst, t->data, bytes); return NG_OK; }
    if (!ng__cuda_hooks_p || ng__cuda_hooks_p->memcpy_d2h(dst, t->data, bytes))
        return ng_fail(NG_ERR_UNSUPPORTED, "tensor %s: device-to-host copy failed", t->name ? t->name : "(activation)");
    return NG_OK;
}
ng_status ng_tensor_to_device(ng_tensor *t, const float *src) {
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (t->device != NG_CUDA) { memcpy(t->data, src, bytes); return NG_OK; }
    if (!ng__cuda_hooks_p || ng__cuda_hooks_p->memcpy_h2d(t->data, src, bytes))
        return ng_fail(NG_ERR_UNSUPPORTED, "tensor %s: host-to-device copy failed", t->name ? t->name : "(activation)");
    return NG_OK;
}
ng_tensor *ng_tensor_copy_to(ng_ctx *ctx, const ng_tensor *t) {
    ng_tensor *c = ng_tensor_new(ctx, t->shape);
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (!c) return NULL;
    if (c->device == NG_CPU && t->device == NG_CPU) memcpy(c->data, t->data, bytes);
    else if (!ng__cuda_hooks_p) { ng_fail(NG_ERR_UNSUPPORTED, "tensor copy: CUDA backend not linked"); return NULL; }
    else ng__cuda_copy(c->data, t->data, bytes, c->device == NG_CUDA ? (t->device == NG_CUDA ? 3 : 1) : 2);
    return c;
}

float *ng_cuda_alloc_zeros(int64_t n) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    float *p;
    if (!ng__cuda_ready) { ng_fail(NG_ERR_UNSUPPORTED, "cuda: not initialised"); return NULL; }
    p = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
    if (p) ng__cuda_hooks_p->memset0(p, bytes);
    else ng_fail(NG_ERR_NOMEM, "cuda: cannot allocate %zu device bytes", bytes);
    return p;
}
void ng_cuda_free(void *p) { ng__cuda_free(p); }

/* ---- src/optable.c ---- */
/* ======================================================================================== */
/* @@OPTABLE  one row per op: name, CPU forward and backward (CUDA columns join with          */
/*            nasgan_cuda.cu)                                                               */
/* ======================================================================================== */
typedef struct ng__op_info {
    const char *name;
    void (*forward_cpu)(ng_node *n);
    void (*backward_cpu)(ng_node *n);
    void (*forward_cuda)(ng_node *n);   /* filled by ng_cuda_register (nasgan_cuda.cu); NULL: */
    void (*backward_cuda)(ng_node *n);  /* the op has no kernel and is refused on the device */
} ng__op_info;

static ng__op_info ng__op_table[] = {
#define NG__ROW(E, f) {#f, ng__fw_##f, ng__bw_##f, NULL, NULL},
    NG_OP_LIST(NG__ROW)
#undef NG__ROW
};
typedef char ng__op_table_size_check[(sizeof ng__op_table / sizeof ng__op_table[0] == NG_OP_COUNT) ? 1 : -1];

const char *ng_op_name(int op) { return op >= 0 && op < NG_OP_COUNT ? ng__op_table[op].name : "?"; }
static void ng__optable_set_cuda(int op, void (*fw)(ng_node *), void (*bw)(ng_node *)) {
    ng__op_table[op].forward_cuda = fw;
    ng__op_table[op].backward_cuda = bw;
}
int ng__optable_has_cuda(int op, int backward) {
    return op >= 0 && op < NG_OP_COUNT && (backward ? ng__op_table[op].backward_cuda : ng__op_table[op].forward_cuda) != NULL;
}
/* Device tensors run the CUDA column; mixed devices and missing kernels are refused. */
static int ng__dispatch_device_ok(ng_node *n, int backward) {
    int k;
    for (k = 0; k < n->n_in; k++)
        if (n->in[k]->device != n->out->device) {
            if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
            ng_fail(NG_ERR_UNSUPPORTED, "%s: input %d is on the %s but the output is on the %s (copy explicitly)",
                    ng__op_table[n->op].name, k, n->in[k]->device == NG_CUDA ? "GPU" : "CPU", n->out->device == NG_CUDA ? "GPU" : "CPU");
            return 0;
        }
    if (n->out->device == NG_CUDA && !(backward ? ng__op_table[n->op].backward_cuda : ng__op_table[n->op].forward_cuda)) {
        if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
        ng_fail(NG_ERR_UNSUPPORTED, "%s: no CUDA %s kernel (run this op on the CPU)", ng__op_table[n->op].name, backward ? "backward" : "forward");
        return 0;
    }
    return 1;
}
static void ng__dispatch_forward(ng_node *n) {
    if (!ng__dispatch_device_ok(n, 0)) return;
    if (n->out->device == NG_CUDA) ng__op_table[n->op].forward_cuda(n);
    else ng__op_table[n->op].forward_cpu(n);
}
static void ng__dispatch_backward(ng_node *n) {
    if (!ng__dispatch_device_ok(n, 1)) return;
    if (n->out->device == NG_CUDA) ng__op_table[n->op].backward_cuda(n);
    else ng__op_table[n->op].backward_cpu(n);
}

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
