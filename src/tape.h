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
