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
