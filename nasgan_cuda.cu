/* nasgan_cuda.cu: the CUDA backend of nasgan (kernels + cuBLAS), `make cuda`.

   Compiled by nvcc as C++; includes nasgan.h WITHOUT the implementation and registers its
   kernels with ng_cuda_register (src/cuda.h) from a static initialiser, so linking
   build/nasgan_cuda.o into a program that also compiles the implementation is enough.

   Ops with CUDA kernels (forward and backward):
     matmul, linear (cuBLAS), add, sub, mul (broadcasting; gradient reduction by gather),
     scale, add_scalar, reduce (sum/mean over any axes), reshape, concat, slice,
     relu, leaky_relu, tanh, sigmoid, softmax, log_softmax, dropout (counter-based mask drawn
     on the device from a key the context RNG gives: identical to the CPU's), cross_entropy,
     hinge, bce_logits,
     conv2d (im2col + cuBLAS strided-batched GEMM, any stride/padding/groups; col2im by gather;
     1x1 stride-1 unpadded convolutions on the input itself; weight gradient as one GEMM per
     chunk of images; depthwise convolutions by direct kernels), conv_transpose2d (the same
     three products, roles swapped), batch_norm (batch and running statistics from
     per-channel partial sums over image or row splits), spectral_norm (one power iteration;
     the backward recomputes sigma from the saved u and v, so nothing comes back to the
     host), upsample (nearest, bilinear), avg_pool2, sum_hw, mixed and mixed_cols
     (softmax-weighted sums; alpha gradient from per-4096-element block partials added by a
     fixed tree),
     the sequence ops (channel-last (N, L, D), same node layout as src/ops_seq.c):
     embedding (positions grouped by vocabulary row on the host in the forward; the backward
     gathers each used row's positions in order, pad row skipped), seq_mask (select),
     conv1d (im2col + cuBLAS GEMM; col2im by gather), seq_pool3 (avg and max; max gradient by
     gather over the three windows that can pick a position), seq_batch_norm (batch norm's
     kernels in the channel-last layout, N*L rows, pads included), seq_mean_pool,
     seq_attention (QK^T and PV as strided-batched GEMMs per head, softmax rows by thread
     groups; dropout multipliers drawn on the device as for dropout), seq_gru
     (input projections of all positions in one GEMM, recurrent projection per step, two
     launches a step; true lengths, read on the host by the wrapper).
   Every op of NG_OP_LIST has a kernel.
   Fused: Adam, SGD, EMA, and the sum of squares and scaling of gradient clipping (reached
   through ng_adam_step, ng_sgd_step, ng_ema_update, ng_clip_grad_norm on device groups).

   Determinism: no atomics anywhere; every reduction is a fixed loop per output element, a
   fixed-shape tree in one block, or per-split partials (split sizes from the shapes only)
   added in split order; cuBLAS runs with atomics disallowed, a fixed workspace and
   CUBLAS_DEFAULT_MATH (no TF32) unless ng_cuda_set_tf32(1). No warp shuffles (the host
   emulation in tests/cuda_host_emu runs each thread as a fiber, switching only at
   __syncthreads).

   Performance rules kept throughout: elementwise kernels over planes or positions use row
   launches (row_grid: index arithmetic once per row, not 64-bit divisions per element);
   reductions are coalesced and spread over enough blocks (chan_parts); no host round trip
   inside an op (uploads go through a pinned staging ring, nothing is read back); transient
   buffers come from one backend workspace, not from cudaMalloc per step.

   State: one backend context (device, cuBLAS handle, stream, workspace, allocation counters)
   created by ng_cuda_init and reached only through the registered hooks table. */
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include "nasgan.h"

namespace {

struct CudaContext {
    int device;
    cublasHandle_t blas;
    cudaStream_t stream;
    void *workspace;
    size_t workspace_bytes;
    size_t peak_bytes;
    void *work;            /* transient device buffer (im2col columns, partial sums), grown on demand */
    size_t work_bytes;
    char *stage;           /* pinned host-to-device staging buffer: NG_CU_STAGE_SEGS segments */
    cudaEvent_t stage_ev[4];  /* per segment: recorded behind the last copy that read it */
    int stage_seg;         /* segment being filled */
    size_t stage_used;     /* bytes used in it */
    int stage_failed;      /* no pinned memory: plain synchronous copies */
    double *sumsq_parts;   /* per-block partial sums of h_sumsq, made on first use */
    int tf32;              /* ng_cuda_set_tf32's setting (the Inception forward overrides it) */
    char info[320];
};

CudaContext *g_ctx_holder(); /* the context behind the hooks table (created by init) */
CudaContext *cu() { return g_ctx_holder(); }

#define NG_CU_CHECK(call) ng_cu_check((call), #call, __FILE__, __LINE__)
int ng_cu_check(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return 0;
    fprintf(stderr, "nasgan cuda: %s failed at %s:%d: %s\n", what, file, line, cudaGetErrorString(e));
    return 1;
}
#define NG_BLAS_CHECK(call) ng_blas_check((call), #call, __FILE__, __LINE__)
int ng_blas_check(cublasStatus_t s, const char *what, const char *file, int line) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    fprintf(stderr, "nasgan cuda: %s failed at %s:%d: cuBLAS status %d\n", what, file, line, (int)s);
    return 1;
}

/* the CPU's scalar formulas (src/ops_act.c), for the kernels */
__device__ inline float ng__sigmoidf(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
__device__ inline float ng__leakyf(float x, float slope) { return x > 0.0f ? x : slope * x; }

inline unsigned blocks_for(int64_t n, int threads = 256) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65535LL * 32) b = 65535LL * 32;
    return (unsigned)b;
}
#define GRID_LOOP(i, n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

void launch_check(ng_node *n) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) ng__cuda_op_fail(n, cudaGetErrorString(e));
}

/* 2-D launches over a (rows x cols) index space: a block is T x (256 / T) threads,
   threadIdx.y picks a row and threadIdx.x strides along it. T is the smallest power of two in
   32..256 covering a row, so short rows (4x4 planes, few channels) leave few threads idle, and
   the index arithmetic of a row (image, channel, plane) is done once per row, not per element
   (64-bit divisions are tens of instructions on a GPU). */
struct RowGrid { dim3 grid, block; };
RowGrid row_grid(int64_t rows, int64_t cols) {
    unsigned t = 32;
    while (t < 256 && (int64_t)t < cols) t <<= 1;
    RowGrid r;
    r.block = dim3(t, 256 / t);
    r.grid = dim3(blocks_for(rows, (int)(256 / t)));
    return r;
}
#define ROW_LOOP(r, rows) for (int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; r < (rows); r += (int64_t)gridDim.x * blockDim.y)
#define COL_LOOP(j, cols) for (int64_t j = threadIdx.x; j < (cols); j += blockDim.x)

void note_peak();
/* every row of y (rows x cols) = b */
__global__ void k_fill_rows(float *y, const float *b, int64_t rows, int64_t cols) {
    ROW_LOOP(r, rows) COL_LOOP(j, cols) y[r * cols + j] = b[j];
}
void fill_rows(float *y, const float *b, int64_t rows, int64_t cols) {
    if (rows * cols == 0) return;
    RowGrid rg = row_grid(rows, cols);
    k_fill_rows<<<rg.grid, rg.block, 0, cu()->stream>>>(y, b, rows, cols);
}
/* The backend's transient device buffer (im2col columns, reduction partials). One stream, so
   an op's kernels using it are done before the next op's start. Growing (rare: the first
   steps) waits for the stream, then frees the old buffer: kernels already queued may still
   read it, but a pointer obtained before the call must not be used after it. */
void *workspace(ng_node *n, size_t bytes) {
    CudaContext *x = cu();
    if (bytes > x->work_bytes) {
        NG_CU_CHECK(cudaStreamSynchronize(x->stream));
        cudaFree(x->work);
        x->work = NULL;
        x->work_bytes = 0;
        if (NG_CU_CHECK(cudaMalloc(&x->work, bytes))) { ng__cuda_op_fail(n, "cannot allocate the backend workspace"); return NULL; }
        x->work_bytes = bytes;
        note_peak();
    }
    return x->work;
}

/* ---------------------------------------------------------------------------------------- */
/* hooks: memory                                                                            */
/* ---------------------------------------------------------------------------------------- */
int h_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}
/* peak device memory in use (whole device, as cudaMemGetInfo sees it after each allocation) */
void note_peak() {
    size_t fr = 0, tot = 0;
    if (cu() && cudaMemGetInfo(&fr, &tot) == cudaSuccess && tot - fr > cu()->peak_bytes) cu()->peak_bytes = tot - fr;
}
void *h_malloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) { cudaGetLastError(); return NULL; }
    note_peak();
    return p;
}
void h_free(void *p) {
    if (p) cudaFree(p);
}
/* Host-to-device copies go through a pinned staging buffer and do not wait for the stream.
   (A copy from pageable memory followed by a stream synchronisation made the host wait for
   every queued kernel in the middle of a step: embedding ids, lengths, labels, inputs; the
   GPU then idled while the host prepared the next ops.) The bytes are copied into the
   staging buffer before the call returns, so the caller may reuse its buffer at once, as
   with the synchronous copy. The buffer is a ring of segments; a segment
   is refilled only after the event recorded behind its last copy has completed, so the host
   waits only when the GPU is a whole ring of copies behind. */
#define NG_CU_STAGE_SEGS 4
#define NG_CU_STAGE_SEG_BYTES ((size_t)16 << 20)
int stage_ready(CudaContext *c) {
    if (c->stage) return 1;
    if (c->stage_failed) return 0;
    int ok = cudaHostAlloc((void **)&c->stage, NG_CU_STAGE_SEGS * NG_CU_STAGE_SEG_BYTES, cudaHostAllocDefault) == cudaSuccess;
    for (int i = 0; ok && i < NG_CU_STAGE_SEGS; i++) ok = cudaEventCreateWithFlags(&c->stage_ev[i], cudaEventDisableTiming) == cudaSuccess;
    if (!ok) {   /* keep working without it */
        cudaGetLastError();
        if (c->stage) cudaFreeHost(c->stage);
        c->stage = NULL;
        c->stage_failed = 1;
        return 0;
    }
    c->stage_seg = 0;
    c->stage_used = 0;
    return 1;
}
/* b (at most a segment) bytes of staging space, waiting for the next segment's last copy when
   the current one is full; NULL when there is no staging buffer or on error */
char *stage_reserve(size_t b) {
    CudaContext *c = cu();
    if (b > NG_CU_STAGE_SEG_BYTES || !stage_ready(c)) return NULL;
    if (c->stage_used + b > NG_CU_STAGE_SEG_BYTES) {
        c->stage_seg = (c->stage_seg + 1) % NG_CU_STAGE_SEGS;
        c->stage_used = 0;
        if (NG_CU_CHECK(cudaEventSynchronize(c->stage_ev[c->stage_seg]))) return NULL;
    }
    return c->stage + (size_t)c->stage_seg * NG_CU_STAGE_SEG_BYTES + c->stage_used;
}
/* copy b bytes, just written at p = stage_reserve(b), to d (stream order) */
int stage_commit(void *d, const char *p, size_t b) {
    CudaContext *c = cu();
    c->stage_used += (b + 255) & ~(size_t)255;
    return NG_CU_CHECK(cudaMemcpyAsync(d, p, b, cudaMemcpyHostToDevice, c->stream)) ||
           NG_CU_CHECK(cudaEventRecord(c->stage_ev[c->stage_seg], c->stream));
}
int h_h2d(void *d, const void *s, size_t b) {
    const char *src = (const char *)s;
    char *dst = (char *)d;
    while (b > 0) {
        size_t piece = b < NG_CU_STAGE_SEG_BYTES ? b : NG_CU_STAGE_SEG_BYTES;
        char *p = stage_reserve(piece);
        if (!p)   /* no staging buffer: pageable copy, then wait for it */
            return NG_CU_CHECK(cudaMemcpyAsync(dst, src, b, cudaMemcpyHostToDevice, cu()->stream)) || NG_CU_CHECK(cudaStreamSynchronize(cu()->stream));
        memcpy(p, src, piece);
        if (stage_commit(dst, p, piece)) return 1;
        src += piece; dst += piece; b -= piece;
    }
    return 0;
}
int h_d2h(void *d, const void *s, size_t b) { return NG_CU_CHECK(cudaMemcpyAsync(d, s, b, cudaMemcpyDeviceToHost, cu()->stream)) || NG_CU_CHECK(cudaStreamSynchronize(cu()->stream)); }
int h_d2d(void *d, const void *s, size_t b) { return NG_CU_CHECK(cudaMemcpyAsync(d, s, b, cudaMemcpyDeviceToDevice, cu()->stream)); }
int h_memset0(void *p, size_t b) { return NG_CU_CHECK(cudaMemsetAsync(p, 0, b, cu()->stream)); }
int h_sync() { return NG_CU_CHECK(cudaStreamSynchronize(cu()->stream)) || NG_CU_CHECK(cudaGetLastError()); }
int set_math(int tf32) { return NG_BLAS_CHECK(cublasSetMathMode(cu()->blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)); }
void h_set_tf32(int on) { if (!set_math(on)) cu()->tf32 = on; }
size_t h_peak() { return cu() ? cu()->peak_bytes : 0; }
size_t h_mem_free() {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) { cudaGetLastError(); return 0; }
    return fr;
}
const char *h_info() { return cu() ? cu()->info : ""; }

CudaContext *g_holder = NULL;
CudaContext *g_ctx_holder() { return g_holder; }

ng_status h_init(int device) {
    if (g_holder) return g_holder->device == device ? NG_OK : ng_fail(NG_ERR_ARG, "cuda: already initialised on device %d", g_holder->device);
    cudaDeviceProp prop;
    if (NG_CU_CHECK(cudaSetDevice(device)) || NG_CU_CHECK(cudaGetDeviceProperties(&prop, device)))
        return ng_fail(NG_ERR_UNSUPPORTED, "cuda: cannot use device %d", device);
    CudaContext *c = (CudaContext *)calloc(1, sizeof(CudaContext));
    if (!c) return ng_fail(NG_ERR_NOMEM, "cuda: out of host memory");
    c->device = device;
    if (NG_CU_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) || NG_BLAS_CHECK(cublasCreate(&c->blas))) {
        free(c);
        return ng_fail(NG_ERR_UNSUPPORTED, "cuda: cannot create the stream or the cuBLAS handle");
    }
    c->workspace_bytes = (size_t)32 << 20;
    if (cudaMalloc(&c->workspace, c->workspace_bytes) != cudaSuccess) {   /* cuBLAS then uses its own */
        cudaGetLastError();   /* so that the first op's launch check does not report it */
        c->workspace = NULL;
    }
    /* every setting matters: GEMMs on another stream than the kernels would race with them,
       and atomics or TF32 would break the determinism promise */
    if (NG_BLAS_CHECK(cublasSetStream(c->blas, c->stream)) ||
        (c->workspace && NG_BLAS_CHECK(cublasSetWorkspace(c->blas, c->workspace, c->workspace_bytes))) ||
        NG_BLAS_CHECK(cublasSetAtomicsMode(c->blas, CUBLAS_ATOMICS_NOT_ALLOWED)) ||
        NG_BLAS_CHECK(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH)) ||
        NG_BLAS_CHECK(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST))) {
        cublasDestroy(c->blas);
        cudaStreamDestroy(c->stream);
        if (c->workspace) cudaFree(c->workspace);
        free(c);
        return ng_fail(NG_ERR_UNSUPPORTED, "cuda: cannot configure cuBLAS (stream, workspace, atomics, math or pointer mode)");
    }
    snprintf(c->info, sizeof c->info, "%.256s, %.1f GiB, sm_%d%d, %d SMs", prop.name,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major, prop.minor, prop.multiProcessorCount);
    g_holder = c;
    return NG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* cuBLAS on row-major matrices: C = alpha op(A) op(B) + beta C (ng_sgemm's convention)      */
/* ---------------------------------------------------------------------------------------- */
int sgemm_rm_raw(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {   /* 0 on success */
    if (M == 0 || N == 0) return 0;
    return NG_BLAS_CHECK(cublasSgemm(cu()->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M,
                                     (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc));
}
void sgemm_rm(ng_node *n, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (sgemm_rm_raw(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) ng__cuda_op_fail(n, "cublasSgemm failed");
}
void sgemm_rm_batched(ng_node *n, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, int64_t sA,
                      const float *B, int64_t ldb, int64_t sB, float beta, float *C, int64_t ldc, int64_t sC, int64_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    if (NG_BLAS_CHECK(cublasSgemmStridedBatched(cu()->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K,
                                                &alpha, B, (int)ldb, sB, A, (int)lda, sA, &beta, C, (int)ldc, sC, (int)batch)))
        ng__cuda_op_fail(n, "cublasSgemmStridedBatched failed");
}

/* ---------------------------------------------------------------------------------------- */
/* small generic kernels                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* sum of v over the 256 threads of a block, fixed tree (every thread gets it) */
__device__ double block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* max / sum of v over the T = blockDim.x threads of each block row (threadIdx.y) of a row
   launch, fixed tree; every thread of the block must call them */
__device__ float rows_max(float v, float *sh) {
    int T = blockDim.x, x = threadIdx.x, base = threadIdx.y * T;
    sh[base + x] = v;
    __syncthreads();
    for (int w = T / 2; w > 0; w >>= 1) {
        if (x < w) sh[base + x] = fmaxf(sh[base + x], sh[base + x + w]);
        __syncthreads();
    }
    float r = sh[base];
    __syncthreads();
    return r;
}
__device__ double rows_sum(double v, double *sh) {
    int T = blockDim.x, x = threadIdx.x, base = threadIdx.y * T;
    sh[base + x] = v;
    __syncthreads();
    for (int w = T / 2; w > 0; w >>= 1) {
        if (x < w) sh[base + x] += sh[base + x + w];
        __syncthreads();
    }
    double r = sh[base];
    __syncthreads();
    return r;
}
/* ---- per-channel sums without atomics ----
   Two layouts: planes (N, C, S) with S > 1 (NCHW activations) and columns (R, C) (channel
   last: sequences, 2-D batch norm, bias gradients). A first kernel writes partial sums in
   double per (channel, split), each a fixed-order sum over a fixed share of the data (whole
   images for planes, runs of rows for columns), so there are enough blocks to fill the GPU
   and every load is coalesced; a second one adds the splits in order. A term functor
   accumulates one element (flat index i, channel c) into two sums a, b.
   part layout: part[(c * splits + split) * 2 + {0, 1}]. */
struct Split { int64_t per, n; };          /* per: images (planes) or rows (columns) per split */
Split plane_split(int64_t N, int64_t S) {   /* about 8192 values per block */
    Split p;
    p.per = (8192 + S - 1) / S;
    if (p.per < 1) p.per = 1;
    if ((N + p.per - 1) / p.per > 65535) p.per = (N + 65534) / 65535;
    p.n = N > 0 ? (N + p.per - 1) / p.per : 1;
    return p;
}
Split col_split(int64_t R) {                /* 256 rows per block (32 per thread) */
    Split p;
    p.per = 256;
    if ((R + p.per - 1) / p.per > 65535) p.per = (R + 65534) / 65535;
    p.n = R > 0 ? (R + p.per - 1) / p.per : 1;
    return p;
}
/* planes: grid (C, splits), 256 threads; a thread walks its share in steps of 256 elements,
   keeping (image, position) without a division per element */
template <typename T>
__global__ void k_plane_parts(T term, int64_t N, int64_t C, int64_t S, int64_t per, double *part) {
    __shared__ double sh[256];
    int64_t c = blockIdx.x, sp = blockIdx.y, n1 = (sp + 1) * per < N ? (sp + 1) * per : N;
    int64_t n = sp * per + threadIdx.x / S, s = threadIdx.x % S, dn = 256 / S, ds = 256 % S;
    double a = 0.0, b = 0.0;
    while (n < n1) {
        term((n * C + c) * S + s, c, a, b);
        s += ds;
        n += dn;
        if (s >= S) { s -= S; n++; }
    }
    a = block_sum(a, sh);
    b = block_sum(b, sh);
    if (threadIdx.x == 0) { part[(c * gridDim.y + sp) * 2] = a; part[(c * gridDim.y + sp) * 2 + 1] = b; }
}
/* columns: grid (ceil(C / 32), splits), 32 x 8 threads: a warp reads 32 adjacent channels of
   one row; the 8 row lanes are added by a fixed tree */
template <typename T>
__global__ void k_col_parts(T term, int64_t R, int64_t C, int64_t per, double *part) {
    __shared__ double sa[8][32], sb[8][32];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t c = (int64_t)blockIdx.x * 32 + tx, sp = blockIdx.y, r1 = (sp + 1) * per < R ? (sp + 1) * per : R;
    double a = 0.0, b = 0.0;
    if (c < C)
        for (int64_t r = sp * per + ty; r < r1; r += 8) term(r * C + c, c, a, b);
    sa[ty][tx] = a;
    sb[ty][tx] = b;
    __syncthreads();
    for (int w = 4; w > 0; w >>= 1) {
        if (ty < w) { sa[ty][tx] += sa[ty + w][tx]; sb[ty][tx] += sb[ty + w][tx]; }
        __syncthreads();
    }
    if (ty == 0 && c < C) { part[(c * gridDim.y + sp) * 2] = sa[0][tx]; part[(c * gridDim.y + sp) * 2 + 1] = sb[0][tx]; }
}
int64_t chan_splits(int64_t N, int64_t S) { return S == 1 ? col_split(N).n : plane_split(N, S).n; }
struct TermSum {
    const float *x;
    __device__ void operator()(int64_t i, int64_t, double &a, double &) const { a += x[i]; }
};
/* launch the partial sums of term over x viewed as (N, C, S), chan_splits(N, S) per channel;
   returns the split count */
template <typename T>
int64_t chan_parts(T term, int64_t N, int64_t C, int64_t S, double *part) {
    if (N * S == 0) {   /* no values: zero sums */
        NG_CU_CHECK(cudaMemsetAsync(part, 0, (size_t)(C * 2) * sizeof(double), cu()->stream));
        return 1;
    }
    if (S == 1) {
        Split sp = col_split(N);
        k_col_parts<<<dim3((unsigned)((C + 31) / 32), (unsigned)sp.n), dim3(32, 8), 0, cu()->stream>>>(term, N, C, sp.per, part);
        return sp.n;
    }
    Split sp = plane_split(N, S);
    k_plane_parts<<<dim3((unsigned)C, (unsigned)sp.n), 256, 0, cu()->stream>>>(term, N, C, S, sp.per, part);
    return sp.n;
}
/* total of slot k of channel c's partials, splits in order */
__device__ inline double parts_total(const double *part, int64_t c, int64_t splits, int k) {
    double s = 0.0;
    for (int64_t i = 0; i < splits; i++) s += part[(c * splits + i) * 2 + k];
    return s;
}
__global__ void k_colsum_finish(float *gb, const double *part, int64_t splits, int64_t cols) {
    GRID_LOOP(c, cols) gb[c] += (float)parts_total(part, c, splits, 0);
}
/* gb += the column sums of g (rows x cols); part: cols * col_split(rows).n * 2 doubles */
void colsum_add_part(float *gb, const float *g, int64_t rows, int64_t cols, double *part) {
    if (cols <= 0 || rows <= 0) return;
    TermSum t; t.x = g;
    int64_t splits = chan_parts(t, rows, cols, 1, part);
    k_colsum_finish<<<blocks_for(cols), 256, 0, cu()->stream>>>(gb, part, splits, cols);
}
void colsum_add(ng_node *n, float *gb, const float *g, int64_t rows, int64_t cols) {
    if (cols <= 0 || rows <= 0) return;
    double *part = (double *)workspace(n, (size_t)(cols * col_split(rows).n * 2) * sizeof(double));
    if (part) colsum_add_part(gb, g, rows, cols, part);
}
__global__ void k_add_inplace(float *y, const float *x, int64_t n) { GRID_LOOP(i, n) y[i] += x[i]; }

/* Mean over n values of term(x[i]) in double, one block of 256 threads, fixed tree. */
template <typename F>
__global__ void k_mean_terms(const float *x, const float *t, int64_t n, F term, float *out) {
    __shared__ double sh[256];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += 256) s += term(x[i], t ? t[i] : 0.0f);
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = (float)(sh[0] / (double)n);
}

/* ---------------------------------------------------------------------------------------- */
/* matmul, linear                                                                           */
/* ---------------------------------------------------------------------------------------- */
void fw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    sgemm_rm(n, 0, 0, M, N, K, 1.0f, a->data, K, b->data, N, 0.0f, n->out->data, N);
}
void bw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    float *ga = ng__cuda_in_grad(n, 0), *gb = ng__cuda_in_grad(n, 1), *g = n->out->grad;
    if (ga) sgemm_rm(n, 0, 1, M, K, N, 1.0f, g, N, b->data, N, 1.0f, ga, K);
    if (gb) sgemm_rm(n, 1, 0, K, N, M, 1.0f, a->data, K, g, N, 1.0f, gb, N);
}
void fw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0];
    float *y = n->out->data;
    if (n->n_in == 3) fill_rows(y, n->in[2]->data, N, O);
    sgemm_rm(n, 0, 1, N, O, Din, 1.0f, x->data, Din, w->data, Din, n->n_in == 3 ? 1.0f : 0.0f, y, O);
    launch_check(n);
}
void bw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0];
    const float *g = n->out->grad;
    float *gx = ng__cuda_in_grad(n, 0), *gw = ng__cuda_in_grad(n, 1), *gb = n->n_in == 3 ? ng__cuda_in_grad(n, 2) : NULL;
    if (gx) sgemm_rm(n, 0, 0, N, Din, O, 1.0f, g, O, w->data, Din, 1.0f, gx, Din);
    if (gw) sgemm_rm(n, 1, 0, O, Din, N, 1.0f, g, O, x->data, Din, 1.0f, gw, Din);
    if (gb) colsum_add(n, gb, g, N, O);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* broadcasting add / sub / mul                                                             */
/* ---------------------------------------------------------------------------------------- */
struct Dims4 { int64_t d[4]; };
void dims_strides(const ng_shape *s, int64_t dims[4], int64_t st[4]) {
    int off = 4 - s->ndim;
    int64_t acc = 1;
    for (int i = 0; i < 4; i++) dims[i] = i < off ? 1 : s->d[i - off];
    for (int i = 3; i >= 0; i--) { st[i] = dims[i] == 1 ? 0 : acc; acc *= dims[i]; }
}
struct BPlan { Dims4 d, sa, sb, da, db; };
BPlan bplan(const ng_node *n) {
    BPlan p;
    int64_t tmp[4];
    dims_strides(&n->out->shape, p.d.d, tmp);
    dims_strides(&n->in[0]->shape, p.da.d, p.sa.d);
    dims_strides(&n->in[1]->shape, p.db.d, p.sb.d);
    return p;
}
__global__ void k_binary(const float *a, const float *b, float *y, BPlan p, int kind, int64_t N) {
    GRID_LOOP(o, N) {
        int64_t r = o, i3 = r % p.d.d[3]; r /= p.d.d[3];
        int64_t i2 = r % p.d.d[2]; r /= p.d.d[2];
        int64_t i1 = r % p.d.d[1], i0 = r / p.d.d[1];
        float x = a[i0 * p.sa.d[0] + i1 * p.sa.d[1] + i2 * p.sa.d[2] + i3 * p.sa.d[3]];
        float z = b[i0 * p.sb.d[0] + i1 * p.sb.d[1] + i2 * p.sb.d[2] + i3 * p.sb.d[3]];
        y[o] = kind == 0 ? x + z : kind == 1 ? x - z : x * z;
    }
}
/* Gradient of one operand (dims dx, the other operand's strides so_) by gather: each element
   of the operand sums, in a fixed order, the output positions that read it. sign: +1/-1;
   mul: multiply by the other operand. */
__global__ void k_binary_grad(float *gx, const float *g, const float *other, BPlan p, int first, float sign, int mul, int64_t nx) {
    const int64_t *dx = first ? p.da.d : p.db.d;
    const int64_t *so = first ? p.sb.d : p.sa.d;
    GRID_LOOP(ix, nx) {
        int64_t r = ix, c[4];
        for (int k = 3; k >= 0; k--) { c[k] = r % dx[k]; r /= dx[k]; }
        int64_t e[4];
        for (int k = 0; k < 4; k++) e[k] = dx[k] == p.d.d[k] ? 1 : p.d.d[k];
        float s = 0.0f;
        for (int64_t j0 = 0; j0 < e[0]; j0++)
            for (int64_t j1 = 0; j1 < e[1]; j1++)
                for (int64_t j2 = 0; j2 < e[2]; j2++)
                    for (int64_t j3 = 0; j3 < e[3]; j3++) {
                        int64_t o0 = e[0] == 1 ? c[0] : j0, o1 = e[1] == 1 ? c[1] : j1, o2 = e[2] == 1 ? c[2] : j2, o3 = e[3] == 1 ? c[3] : j3;
                        int64_t o = ((o0 * p.d.d[1] + o1) * p.d.d[2] + o2) * p.d.d[3] + o3;
                        float v = g[o];
                        if (mul) v *= other[o0 * so[0] + o1 * so[1] + o2 * so[2] + o3 * so[3]];
                        s += v;
                    }
        gx[ix] += sign * s;
    }
}
/* same shapes (the residual and skip adds): no index arithmetic */
__global__ void k_binary_same(const float *a, const float *b, float *y, int kind, int64_t N) {
    GRID_LOOP(i, N) y[i] = kind == 0 ? a[i] + b[i] : kind == 1 ? a[i] - b[i] : a[i] * b[i];
}
__global__ void k_binary_grad_same(float *gx, const float *g, const float *other, float sign, int mul, int64_t N) {
    GRID_LOOP(i, N) gx[i] += sign * (mul ? g[i] * other[i] : g[i]);
}
bool binary_same(const ng_node *n) { return ng_shape_eq(n->in[0]->shape, n->out->shape) && ng_shape_eq(n->in[1]->shape, n->out->shape); }
void binary_fw(ng_node *n, int kind) {
    if (binary_same(n)) {
        k_binary_same<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(n->in[0]->data, n->in[1]->data, n->out->data, kind, n->out->numel);
        launch_check(n);
        return;
    }
    BPlan p = bplan(n);
    k_binary<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(n->in[0]->data, n->in[1]->data, n->out->data, p, kind, n->out->numel);
    launch_check(n);
}
void binary_bw(ng_node *n, int kind) {
    BPlan p = bplan(n);
    float *ga = ng__cuda_in_grad(n, 0), *gb = ng__cuda_in_grad(n, 1);
    if (binary_same(n)) {
        int64_t N = n->out->numel;
        if (ga) k_binary_grad_same<<<blocks_for(N), 256, 0, cu()->stream>>>(ga, n->out->grad, n->in[1]->data, 1.0f, kind == 2, N);
        if (gb) k_binary_grad_same<<<blocks_for(N), 256, 0, cu()->stream>>>(gb, n->out->grad, n->in[0]->data, kind == 1 ? -1.0f : 1.0f, kind == 2, N);
        launch_check(n);
        return;
    }
    if (ga) k_binary_grad<<<blocks_for(n->in[0]->numel), 256, 0, cu()->stream>>>(ga, n->out->grad, n->in[1]->data, p, 1, 1.0f, kind == 2, n->in[0]->numel);
    if (gb) k_binary_grad<<<blocks_for(n->in[1]->numel), 256, 0, cu()->stream>>>(gb, n->out->grad, n->in[0]->data, p, 0, kind == 1 ? -1.0f : 1.0f, kind == 2, n->in[1]->numel);
    launch_check(n);
}
void fw_add(ng_node *n) { binary_fw(n, 0); }
void bw_add(ng_node *n) { binary_bw(n, 0); }
void fw_sub(ng_node *n) { binary_fw(n, 1); }
void bw_sub(ng_node *n) { binary_bw(n, 1); }
void fw_mul(ng_node *n) { binary_fw(n, 2); }
void bw_mul(ng_node *n) { binary_bw(n, 2); }

/* ---------------------------------------------------------------------------------------- */
/* unary: scale, add_scalar, activations                                                    */
/* ---------------------------------------------------------------------------------------- */
enum { U_SCALE, U_ADDS, U_RELU, U_LEAKY, U_TANH, U_SIGMOID };
__global__ void k_unary_fw(const float *x, float *y, int64_t N, int kind, float f) {
    GRID_LOOP(i, N) {
        float v = x[i];
        switch (kind) {
        case U_SCALE: y[i] = f * v; break;
        case U_ADDS: y[i] = v + f; break;
        case U_RELU: y[i] = v > 0.0f ? v : 0.0f; break;
        case U_LEAKY: y[i] = ng__leakyf(v, f); break;
        case U_TANH: y[i] = tanhf(v); break;
        default: y[i] = ng__sigmoidf(v); break;
        }
    }
}
__global__ void k_unary_bw(const float *x, const float *y, const float *g, float *gx, int64_t N, int kind, float f) {
    GRID_LOOP(i, N) {
        float d;
        switch (kind) {
        case U_SCALE: d = f * g[i]; break;
        case U_ADDS: d = g[i]; break;
        case U_RELU: d = x[i] > 0.0f ? g[i] : 0.0f; break;
        case U_LEAKY: d = x[i] > 0.0f ? g[i] : f * g[i]; break;
        case U_TANH: d = g[i] * (1.0f - y[i] * y[i]); break;
        default: d = g[i] * y[i] * (1.0f - y[i]); break;
        }
        gx[i] += d;
    }
}
void unary_fw(ng_node *n, int kind) {
    k_unary_fw<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(n->in[0]->data, n->out->data, n->out->numel, kind, n->f[0]);
    launch_check(n);
}
void unary_bw(ng_node *n, int kind) {
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    k_unary_bw<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(n->in[0]->data, n->out->data, n->out->grad, gx, n->out->numel, kind, n->f[0]);
    launch_check(n);
}
void fw_scale(ng_node *n) { unary_fw(n, U_SCALE); }
void bw_scale(ng_node *n) { unary_bw(n, U_SCALE); }
void fw_add_scalar(ng_node *n) { unary_fw(n, U_ADDS); }
void bw_add_scalar(ng_node *n) { unary_bw(n, U_ADDS); }
void fw_relu(ng_node *n) { unary_fw(n, U_RELU); }
void bw_relu(ng_node *n) { unary_bw(n, U_RELU); }
void fw_leaky_relu(ng_node *n) { unary_fw(n, U_LEAKY); }
void bw_leaky_relu(ng_node *n) { unary_bw(n, U_LEAKY); }
void fw_tanh(ng_node *n) { unary_fw(n, U_TANH); }
void bw_tanh(ng_node *n) { unary_bw(n, U_TANH); }
void fw_sigmoid(ng_node *n) { unary_fw(n, U_SIGMOID); }
void bw_sigmoid(ng_node *n) { unary_bw(n, U_SIGMOID); }

/* ---------------------------------------------------------------------------------------- */
/* reduce, reshape, concat, slice                                                           */
/* ---------------------------------------------------------------------------------------- */
struct RPlan { int64_t d[4]; int red[4]; };
RPlan rplan(const ng_node *n) {
    RPlan p;
    const ng_shape *s = &n->in[0]->shape;
    unsigned axes = (unsigned)n->i[0];
    int off = 4 - s->ndim;
    for (int i = 0; i < 4; i++) {
        p.d[i] = i < off ? 1 : s->d[i - off];
        p.red[i] = i >= off && ((axes >> (i - off)) & 1u);
    }
    return p;
}
/* one thread per output element: its kept coordinates, loop over the reduced ones in input order */
__global__ void k_reduce_fw(const float *a, float *y, RPlan p, float scale, int64_t nout) {
    GRID_LOOP(o, nout) {
        int64_t c[4], r = o;
        for (int k = 3; k >= 0; k--) if (!p.red[k]) { c[k] = r % p.d[k]; r /= p.d[k]; }
        int64_t e[4];
        for (int k = 0; k < 4; k++) e[k] = p.red[k] ? p.d[k] : 1;
        double acc = 0.0;
        for (int64_t j0 = 0; j0 < e[0]; j0++)
            for (int64_t j1 = 0; j1 < e[1]; j1++)
                for (int64_t j2 = 0; j2 < e[2]; j2++)
                    for (int64_t j3 = 0; j3 < e[3]; j3++) {
                        int64_t i0 = p.red[0] ? j0 : c[0], i1 = p.red[1] ? j1 : c[1], i2 = p.red[2] ? j2 : c[2], i3 = p.red[3] ? j3 : c[3];
                        acc += a[((i0 * p.d[1] + i1) * p.d[2] + i2) * p.d[3] + i3];
                    }
        y[o] = (float)(acc * scale);
    }
}
__global__ void k_reduce_bw(float *ga, const float *g, RPlan p, float scale, int64_t nin) {
    GRID_LOOP(i, nin) {
        int64_t r = i, c[4];
        for (int k = 3; k >= 0; k--) { c[k] = r % p.d[k]; r /= p.d[k]; }
        int64_t o = 0;
        for (int k = 0; k < 4; k++) if (!p.red[k]) o = o * p.d[k] + c[k];
        ga[i] += scale * g[o];
    }
}
/* few outputs, long reductions (a loss summed over a whole tensor): one block per output,
   threads striding over the reduced elements (in input order), fixed tree */
__global__ void k_reduce_block(const float *a, float *y, RPlan p, float scale, int64_t nout, int64_t nred) {
    __shared__ double sh[256];
    for (int64_t o = blockIdx.x; o < nout; o += gridDim.x) {
        int64_t c[4], r = o;
        for (int k = 3; k >= 0; k--) if (!p.red[k]) { c[k] = r % p.d[k]; r /= p.d[k]; }
        double acc = 0.0;
        for (int64_t j = threadIdx.x; j < nred; j += 256) {
            int64_t t = j, i[4];
            for (int k = 3; k >= 0; k--) if (p.red[k]) { i[k] = t % p.d[k]; t /= p.d[k]; } else i[k] = c[k];
            acc += a[((i[0] * p.d[1] + i[1]) * p.d[2] + i[2]) * p.d[3] + i[3]];
        }
        acc = block_sum(acc, sh);
        if (threadIdx.x == 0) y[o] = (float)(acc * scale);
    }
}
void fw_reduce(ng_node *n) {
    int64_t nout = n->out->numel, nred = nout > 0 ? n->in[0]->numel / nout : 0;
    if (nout == 0) return;
    if (nred >= 1024 && nout < 4096)
        k_reduce_block<<<(unsigned)nout, 256, 0, cu()->stream>>>(n->in[0]->data, n->out->data, rplan(n), n->f[0], nout, nred);
    else
        k_reduce_fw<<<blocks_for(nout), 256, 0, cu()->stream>>>(n->in[0]->data, n->out->data, rplan(n), n->f[0], nout);
    launch_check(n);
}
void bw_reduce(ng_node *n) {
    float *ga = ng__cuda_in_grad(n, 0);
    if (!ga) return;
    k_reduce_bw<<<blocks_for(n->in[0]->numel), 256, 0, cu()->stream>>>(ga, n->out->grad, rplan(n), n->f[0], n->in[0]->numel);
    launch_check(n);
}
void fw_reshape(ng_node *n) {
    if (NG_CU_CHECK(cudaMemcpyAsync(n->out->data, n->in[0]->data, (size_t)n->out->numel * sizeof(float), cudaMemcpyDeviceToDevice, cu()->stream)))
        ng__cuda_op_fail(n, "copy failed");
}
void bw_reshape(ng_node *n) {
    float *ga = ng__cuda_in_grad(n, 0);
    if (!ga) return;
    k_add_inplace<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(ga, n->out->grad, n->out->numel);
    launch_check(n);
}
void outer_inner(const ng_shape *s, int axis, int64_t *outer, int64_t *inner) {
    *outer = 1; *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= s->d[i];
    for (int i = axis + 1; i < s->ndim; i++) *inner *= s->d[i];
}
/* copy an (outer x len) block between a strided big tensor (row stride big_ld, offset off)
   and a packed small one; to_big: 0 gathers (slice fw / concat bw), 1 scatters (concat fw /
   slice bw); accumulate: += instead of = */
__global__ void k_block_copy(float *small_, float *big, int64_t outer, int64_t len, int64_t big_ld, int64_t off, int to_big, int accumulate) {
    ROW_LOOP(o, outer) {
        float *br = big + o * big_ld + off, *sr = small_ + o * len;
        COL_LOOP(j, len) {
            float *b = br + j, *s = sr + j;
            if (to_big) { if (accumulate) *b += *s; else *b = *s; }
            else { if (accumulate) *s += *b; else *s = *b; }
        }
    }
}
void block_copy(float *small_, float *big, int64_t outer, int64_t len, int64_t big_ld, int64_t off, int to_big, int accumulate) {
    if (outer * len == 0) return;
    RowGrid rg = row_grid(outer, len);
    k_block_copy<<<rg.grid, rg.block, 0, cu()->stream>>>(small_, big, outer, len, big_ld, off, to_big, accumulate);
}
void concat_run(ng_node *n, int backward) {
    int axis = (int)n->i[0];
    int64_t outer, inner, off = 0, total = n->out->shape.d[axis];
    outer_inner(&n->out->shape, axis, &outer, &inner);
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = n->in[k]->shape.d[axis] * inner;
        if (!backward)
            block_copy(n->in[k]->data, n->out->data, outer, len, total * inner, off, 1, 0);
        else {
            float *gk = ng__cuda_in_grad(n, k);
            if (gk) block_copy(gk, n->out->grad, outer, len, total * inner, off, 0, 1);
        }
        off += len;
    }
    launch_check(n);
}
void fw_concat(ng_node *n) { concat_run(n, 0); }
void bw_concat(ng_node *n) { concat_run(n, 1); }
void slice_run(ng_node *n, int backward) {
    int axis = (int)n->i[0];
    int64_t outer, inner, full = n->in[0]->shape.d[axis], start = n->i[1];
    outer_inner(&n->out->shape, axis, &outer, &inner);
    int64_t len = n->out->shape.d[axis] * inner;
    if (!backward) {
        block_copy(n->out->data, n->in[0]->data, outer, len, full * inner, start * inner, 0, 0);
    } else {
        float *ga = ng__cuda_in_grad(n, 0);
        if (!ga) return;
        block_copy(n->out->grad, ga, outer, len, full * inner, start * inner, 1, 1);
    }
    launch_check(n);
}
void fw_slice(ng_node *n) { slice_run(n, 0); }
void bw_slice(ng_node *n) { slice_run(n, 1); }

/* ---------------------------------------------------------------------------------------- */
/* softmax, log_softmax, dropout                                                            */
/* ---------------------------------------------------------------------------------------- */
/* one thread per (outer, inner) row of K values strided by inner; CPU's arithmetic */
__device__ void softmax_row(const float *x, float *y, int64_t K, int64_t st, int log_out) {
    float mx = -INFINITY;
    double sum = 0.0;
    for (int64_t k = 0; k < K; k++) if (x[k * st] > mx) mx = x[k * st];
    for (int64_t k = 0; k < K; k++) sum += exp((double)(x[k * st] - mx));
    if (log_out) {
        float lse = (float)log(sum);
        for (int64_t k = 0; k < K; k++) y[k * st] = x[k * st] - mx - lse;
    } else {
        for (int64_t k = 0; k < K; k++) y[k * st] = (float)(exp((double)(x[k * st] - mx)) / sum);
    }
}
__global__ void k_softmax_fw(const float *x, float *y, int64_t outer, int64_t K, int64_t inner, int log_out) {
    GRID_LOOP(r, outer * inner) {
        int64_t o = r / inner, j = r % inner, base = o * K * inner + j;
        softmax_row(x + base, y + base, K, inner, log_out);
    }
}
__global__ void k_softmax_bw(const float *y_, const float *g_, float *gx, int64_t outer, int64_t K, int64_t inner, int log_out) {
    GRID_LOOP(r, outer * inner) {
        int64_t o = r / inner, j = r % inner, base = o * K * inner + j;
        const float *y = y_ + base, *g = g_ + base;
        float *gr = gx + base;
        double dot = 0.0;
        if (log_out) {
            for (int64_t k = 0; k < K; k++) dot += g[k * inner];
            for (int64_t k = 0; k < K; k++) gr[k * inner] += g[k * inner] - expf(y[k * inner]) * (float)dot;
        } else {
            for (int64_t k = 0; k < K; k++) dot += (double)g[k * inner] * y[k * inner];
            for (int64_t k = 0; k < K; k++) gr[k * inner] += y[k * inner] * (g[k * inner] - (float)dot);
        }
    }
}
void softmax_fw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis];
    outer_inner(&n->out->shape, axis, &outer, &inner);
    k_softmax_fw<<<blocks_for(outer * inner, 128), 128, 0, cu()->stream>>>(n->in[0]->data, n->out->data, outer, K, inner, log_out);
    launch_check(n);
}
void softmax_bw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis];
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    outer_inner(&n->out->shape, axis, &outer, &inner);
    k_softmax_bw<<<blocks_for(outer * inner, 128), 128, 0, cu()->stream>>>(n->out->data, n->out->grad, gx, outer, K, inner, log_out);
    launch_check(n);
}
void fw_softmax(ng_node *n) { softmax_fw(n, 0); }
void bw_softmax(ng_node *n) { softmax_bw(n, 0); }
void fw_log_softmax(ng_node *n) { softmax_fw(n, 1); }
void bw_log_softmax(ng_node *n) { softmax_bw(n, 1); }

__global__ void k_mul_add(const float *a, const float *b, float *y, int64_t n) { GRID_LOOP(i, n) y[i] += a[i] * b[i]; }
/* Dropout multipliers from the node's key (ng_dropout_bits, counter-based): the CPU's masks,
   drawn on the device. m[i] = 0 or keep; y = x m when x is not NULL. */
__global__ void k_dropout(const float *x, float *m, float *y, int64_t N, uint64_t key, uint32_t thr, float keep) {
    GRID_LOOP(i, N) {
        float v = ng_dropout_bits(key, (uint64_t)i) < thr ? 0.0f : keep;
        m[i] = v;
        if (x) y[i] = x[i] * v;
    }
}
void dropout_fill(float *m, const float *x, float *y, int64_t N, int64_t key, float p) {
    k_dropout<<<blocks_for(N), 256, 0, cu()->stream>>>(x, m, y, N, (uint64_t)key, ng_dropout_threshold(p), 1.0f / (1.0f - p));
}
void fw_dropout(ng_node *n) {
    dropout_fill((float *)n->saved, n->in[0]->data, n->out->data, n->out->numel, n->i[0], n->f[0]);
    launch_check(n);
}
void bw_dropout(ng_node *n) {
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    k_mul_add<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(n->out->grad, (const float *)n->saved, gx, n->out->numel);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* losses                                                                                   */
/* ---------------------------------------------------------------------------------------- */
/* per row: log-softmax into p, row loss -p[label]; then p = exp(p) */
__global__ void k_ce_rows(const float *x, float *p, const int32_t *lab, float *rowloss, int64_t N, int64_t K) {
    GRID_LOOP(r, N) {
        softmax_row(x + r * K, p + r * K, K, 1, 1);
        rowloss[r] = -p[r * K + lab[r]];
        for (int64_t k = 0; k < K; k++) p[r * K + k] = expf(p[r * K + k]);
    }
}
struct TermIdentity { __device__ double operator()(float x, float) const { return (double)x; } };
void fw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1];
    if (N == 0) { float v = NAN; h_h2d(n->out->data, &v, sizeof v); return; }
    /* labels: host copy made by the wrapper -> device scratch (kept in aux for backward) */
    int32_t *dl = (int32_t *)ng__cuda_scratch(n, N);
    float *rowloss = ng__cuda_scratch(n, N);
    if (!dl || !rowloss) return;
    if (h_h2d(dl, n->aux, (size_t)N * sizeof(int32_t))) { ng__cuda_op_fail(n, "label copy failed"); return; }
    n->aux = dl;
    k_ce_rows<<<blocks_for(N, 128), 128, 0, cu()->stream>>>(x->data, (float *)n->saved, dl, rowloss, N, K);
    k_mean_terms<<<1, 256, 0, cu()->stream>>>(rowloss, (const float *)NULL, N, TermIdentity(), n->out->data);
    launch_check(n);
}
__global__ void k_ce_bw(float *gx, const float *p, const int32_t *lab, const float *gout, int64_t N, int64_t K) {
    float s = gout[0] / (float)N;
    GRID_LOOP(i, N * K) {
        int64_t r = i / K, k = i % K;
        gx[i] += s * (p[i] - (k == lab[r] ? 1.0f : 0.0f));
    }
}
void bw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1];
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || N == 0) return;
    k_ce_bw<<<blocks_for(N * K), 256, 0, cu()->stream>>>(gx, (const float *)n->saved, (const int32_t *)n->aux, n->out->grad, N, K);
    launch_check(n);
}

struct TermHinge {
    int mode;
    __device__ double operator()(float x, float) const {
        float v = mode == 0 ? 1.0f - x : mode == 1 ? 1.0f + x : -x;
        return mode == 2 ? (double)v : (double)(v > 0.0f ? v : 0.0f);
    }
};
void fw_hinge(ng_node *n) {
    TermHinge t; t.mode = (int)n->i[0];
    k_mean_terms<<<1, 256, 0, cu()->stream>>>(n->in[0]->data, (const float *)NULL, n->in[0]->numel, t, n->out->data);
    launch_check(n);
}
__global__ void k_hinge_bw(float *gx, const float *x, const float *gout, int64_t N, int mode) {
    float s = gout[0] / (float)N;
    GRID_LOOP(i, N) {
        if (mode == 0) gx[i] += 1.0f - x[i] > 0.0f ? -s : 0.0f;
        else if (mode == 1) gx[i] += 1.0f + x[i] > 0.0f ? s : 0.0f;
        else gx[i] -= s;
    }
}
void bw_hinge(ng_node *n) {
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    k_hinge_bw<<<blocks_for(n->in[0]->numel), 256, 0, cu()->stream>>>(gx, n->in[0]->data, n->out->grad, n->in[0]->numel, (int)n->i[0]);
    launch_check(n);
}
struct TermBce {
    __device__ double operator()(float x, float t) const { return (double)((x > 0.0f ? x : 0.0f) - x * t + log1pf(expf(-fabsf(x)))); }
};
/* the target (n->aux) must be a device tensor's data in a device context */
void fw_bce_logits(ng_node *n) {
    k_mean_terms<<<1, 256, 0, cu()->stream>>>(n->in[0]->data, (const float *)n->aux, n->in[0]->numel, TermBce(), n->out->data);
    launch_check(n);
}
__global__ void k_bce_bw(float *gx, const float *x, const float *t, const float *gout, int64_t N) {
    float s = gout[0] / (float)N;
    GRID_LOOP(i, N) gx[i] += s * (ng__sigmoidf(x[i]) - t[i]);
}
void bw_bce_logits(ng_node *n) {
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    k_bce_bw<<<blocks_for(n->in[0]->numel), 256, 0, cu()->stream>>>(gx, n->in[0]->data, (const float *)n->aux, n->out->grad, n->in[0]->numel);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* conv2d: im2col + cuBLAS, col2im by gather (no atomics). Pointwise convolutions (1x1,      */
/* stride 1, no padding) use the input itself as the column matrix; depthwise ones have     */
/* direct kernels.                                                                          */
/* ---------------------------------------------------------------------------------------- */
struct Geo { int64_t N, C, H, W, O, Ho, Wo, kh, kw, sh, sw, ph, pw, G, Cg, Og, K, P; };
Geo geo_conv(const ng_node *n) {
    Geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.C = xs->d[1]; q.H = xs->d[2]; q.W = xs->d[3];
    q.O = ys->d[1]; q.Ho = ys->d[2]; q.Wo = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    q.Cg = q.C / q.G; q.Og = q.O / q.G; q.K = q.Cg * q.kh * q.kw; q.P = q.Ho * q.Wo;
    return q;
}
bool is_dw(const Geo &q) { return q.Cg == 1 && q.Og == 1; }
bool is_pw(const Geo &q) { return q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0; }
/* columns of group g for images [0, nimg) of x: element (image n, row k, position p) at
   col[n sn + k sk + p]. Forward and data gradient use (sn, sk) = (K P, P): a K x P matrix
   per image for batched GEMMs; the weight gradient uses (P, nimg P): one K x nimg P matrix,
   so that one GEMM sums over the images. One row (n, k) per threadIdx.y. */
__global__ void k_im2col(const float *x, float *col, Geo q, int64_t g, int64_t nimg, int64_t sn, int64_t sk) {
    int64_t khw = q.kh * q.kw;
    int Wo = (int)q.Wo;
    ROW_LOOP(r, nimg * q.K) {
        int64_t n = r / q.K, k = r % q.K, c = k / khw, ki = (k % khw) / q.kw, kj = k % q.kw;
        const float *xp = x + (n * q.C + g * q.Cg + c) * q.H * q.W;
        float *cp = col + n * sn + k * sk;
        COL_LOOP(p, q.P) {
            int oh = (int)p / Wo, ow = (int)p - oh * Wo;
            int64_t ih = oh * q.sh - q.ph + ki, iw = ow * q.sw - q.pw + kj;
            cp[p] = ih >= 0 && ih < q.H && iw >= 0 && iw < q.W ? xp[ih * q.W + iw] : 0.0f;
        }
    }
}
/* dst (B x A planes of P) = src (A x B planes, plane (a, b) at a sa + b P): channel-major copy
   of a group's planes for the weight-gradient GEMM */
__global__ void k_planes_t(const float *src, float *dst, int64_t A, int64_t B, int64_t P, int64_t sa) {
    ROW_LOOP(r, A * B) {
        const float *sp = src + (r % A) * sa + (r / A) * P;
        float *dp = dst + r * P;
        COL_LOOP(p, P) dp[p] = sp[p];
    }
}
/* input pixel (ih, iw) -> output position reading it through kernel tap (ki, kj), or -1 */
__device__ inline int tap_src(int i, int pad, int k, int stride, int out) {
    int t = i + pad - k;
    if (t < 0) return -1;
    if (stride > 1) { if (t % stride) return -1; t /= stride; }
    return t < out ? t : -1;
}
/* sum over the kernel taps (ki, kj), in that fixed order, of at(ki kw + kj, oh Wo + ow) for the
   output positions (oh, ow) that read input pixel (ih, iw) through the tap */
template <typename F>
__device__ float sum_taps(const Geo &q, int ih, int iw, F at) {
    int kh = (int)q.kh, kw = (int)q.kw, Wo = (int)q.Wo;
    float s = 0.0f;
    for (int ki = 0; ki < kh; ki++) {
        int oh = tap_src(ih, (int)q.ph, ki, (int)q.sh, (int)q.Ho);
        if (oh < 0) continue;
        for (int kj = 0; kj < kw; kj++) {
            int ow = tap_src(iw, (int)q.pw, kj, (int)q.sw, Wo);
            if (ow >= 0) s += at(ki * kw + kj, oh * Wo + ow);
        }
    }
    return s;
}
/* gx (group g, images [0, nimg)) += the col entries (layout K P per image) that read each
   input pixel, in fixed (ki, kj) order; one plane (n, c) per row */
__global__ void k_col2im(const float *col, float *gx, Geo q, int64_t g, int64_t nimg) {
    int W = (int)q.W, kh = (int)q.kh, kw = (int)q.kw;
    ROW_LOOP(r, nimg * q.Cg) {
        int64_t n = r / q.Cg, c = r % q.Cg;
        const float *cp = col + (n * q.K + c * kh * kw) * q.P;
        float *gp = gx + (n * q.C + g * q.Cg + c) * q.H * q.W;
        COL_LOOP(j, q.H * q.W) {
            int ih = (int)j / W;
            gp[j] += sum_taps(q, ih, (int)j - ih * W, [&](int k, int o) { return cp[(int64_t)k * q.P + o]; });
        }
    }
}
/* y (N, O, P) += b per channel; one plane per row */
__global__ void k_bias_nchw(float *y, const float *b, int64_t N, int64_t O, int64_t P) {
    ROW_LOOP(r, N * O) {
        float bv = b[r % O], *yp = y + r * P;
        COL_LOOP(p, P) yp[p] += bv;
    }
}
/* gb[c] += sum over n, s of g (N, C, S): per-channel partial sums, then the splits in order */
void chansum_add(ng_node *n, float *gb, const float *g, int64_t N, int64_t C, int64_t S) {
    if (C <= 0) return;
    if (N <= 0 || S <= 0) return;
    int64_t nsplit = chan_splits(N, S);
    double *part = (double *)workspace(n, (size_t)(C * nsplit * 2) * sizeof(double));
    if (!part) return;
    TermSum t; t.x = g;
    int64_t splits = chan_parts(t, N, C, S, part);
    k_colsum_finish<<<blocks_for(C), 256, 0, cu()->stream>>>(gb, part, splits, C);
}

/* depthwise (one input and one output channel per group, so plane n C + c of x, y and their
   gradients line up): direct kernels, one plane per row */
__global__ void k_dw_fwd(const float *x, const float *w, float *y, Geo q, float beta) {
    int H = (int)q.H, W = (int)q.W, kh = (int)q.kh, kw = (int)q.kw, Wo = (int)q.Wo;
    ROW_LOOP(r, q.N * q.O) {
        const float *xp = x + r * q.H * q.W, *wp = w + (r % q.O) * kh * kw;
        float *yp = y + r * q.P;
        COL_LOOP(p, q.P) {
            int oh = (int)p / Wo, ow = (int)p - oh * Wo;
            float s = 0.0f;
            for (int ki = 0; ki < kh; ki++) {
                int ih = oh * (int)q.sh - (int)q.ph + ki;
                if (ih < 0 || ih >= H) continue;
                for (int kj = 0; kj < kw; kj++) {
                    int iw = ow * (int)q.sw - (int)q.pw + kj;
                    if (iw >= 0 && iw < W) s += wp[ki * kw + kj] * xp[ih * W + iw];
                }
            }
            yp[p] = beta != 0.0f ? yp[p] + s : s;
        }
    }
}
__global__ void k_dw_dgrad(const float *w, const float *gy, float *gx, Geo q) {
    int W = (int)q.W, kh = (int)q.kh, kw = (int)q.kw;
    ROW_LOOP(r, q.N * q.C) {
        const float *gp = gy + r * q.P, *wp = w + (r % q.C) * kh * kw;
        float *xp = gx + r * q.H * q.W;
        COL_LOOP(j, q.H * q.W) {
            int ih = (int)j / W;
            xp[j] += sum_taps(q, ih, (int)j - ih * W, [&](int k, int o) { return wp[k] * gp[o]; });
        }
    }
}
/* Depthwise weight gradient. Block (c, split) takes a few whole images of channel c (their
   x and gy planes, about 64 KB, stay in L1) and, tap by tap, sums gy x over them with a
   fixed-tree block reduction: part[(c kk + tap) splits + split]. k_dw_wgrad_finish adds the
   splits in order. (Before: one block per tap reading every image of the channel, with four
   64-bit divisions per element.) A thread steps through (image, oh, ow) 256 positions at a
   time without dividing. */
struct PlaneWalk {
    int64_t n;
    int oh, ow, dn, doh, dow, Ho, Wo;
    __device__ PlaneWalk(int64_t n0, int start, int Ho_, int Wo_) : Ho(Ho_), Wo(Wo_) {
        int P = Ho * Wo;
        n = n0 + start / P;
        oh = (start % P) / Wo; ow = start % Wo;
        dn = 256 / P; doh = (256 % P) / Wo; dow = 256 % Wo;
    }
    __device__ void next() {
        ow += dow; oh += doh; n += dn;
        if (ow >= Wo) { ow -= Wo; oh++; }
        if (oh >= Ho) { oh -= Ho; n++; }
    }
};
__global__ void k_dw_wgrad_parts(const float *x, const float *gy, Geo q, int64_t per, double *part) {
    __shared__ double sh[256];
    int64_t c = blockIdx.x, sp = blockIdx.y, n1 = (sp + 1) * per < q.N ? (sp + 1) * per : q.N;
    int H = (int)q.H, W = (int)q.W, kw = (int)q.kw, kk = (int)(q.kh * q.kw);
    for (int e = 0; e < kk; e++) {
        int ki = e / kw, kj = e % kw;
        double a = 0.0;
        for (PlaneWalk it(sp * per, (int)threadIdx.x, (int)q.Ho, (int)q.Wo); it.n < n1; it.next()) {
            int ih = it.oh * (int)q.sh - (int)q.ph + ki, iw = it.ow * (int)q.sw - (int)q.pw + kj;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                a += (double)(gy[(it.n * q.O + c) * q.P + it.oh * q.Wo + it.ow] * x[((it.n * q.C + c) * H + ih) * W + iw]);
        }
        a = block_sum(a, sh);
        if (threadIdx.x == 0) part[(c * kk + e) * gridDim.y + sp] = a;
    }
}
__global__ void k_dw_wgrad_finish(float *gw, const double *part, int64_t splits, int64_t nw) {
    GRID_LOOP(e, nw) {
        double s = 0.0;
        for (int64_t i = 0; i < splits; i++) s += part[e * splits + i];
        gw[e] += (float)s;
    }
}
void dw_wgrad(ng_node *n, const Geo &q, const float *x, const float *gy, float *gw) {
    int64_t nw = q.C * q.kh * q.kw;
    if (nw == 0 || q.N * q.P == 0) return;
    int64_t per = 16384 / (q.P + q.H * q.W);
    if (per < 1) per = 1;
    if ((q.N + per - 1) / per > 65535) per = (q.N + 65534) / 65535;
    int64_t splits = (q.N + per - 1) / per;
    double *part = (double *)workspace(n, (size_t)(nw * splits) * sizeof(double));
    if (!part) return;
    k_dw_wgrad_parts<<<dim3((unsigned)q.C, (unsigned)splits), 256, 0, cu()->stream>>>(x, gy, q, per, part);
    k_dw_wgrad_finish<<<blocks_for(nw), 256, 0, cu()->stream>>>(gw, part, splits, nw);
}

/* the three products of a convolution with geometry q (x: conv input, y: conv output) */
/* im2col buffer: the backend workspace, images processed in chunks of at most
   NG_CU_COL_FLOATS floats, each image taking (K + extra) P of them */
#define NG_CU_COL_FLOATS ((int64_t)64 << 20)
float *col_workspace(ng_node *n, const Geo &q, int64_t extra, int64_t *chunk) {
    int64_t per = (q.K + extra) * q.P > 0 ? (q.K + extra) * q.P : 1, c = NG_CU_COL_FLOATS / per;
    if (c < 1) c = 1;
    if (c > q.N) c = q.N > 0 ? q.N : 1;
    *chunk = c;
    if (c * per > 0x7fffffffLL) { ng__cuda_op_fail(n, "one image's im2col matrix exceeds 2^31 floats"); return NULL; }
    return (float *)workspace(n, (size_t)(c * per) * sizeof(float));
}
/* y = conv(x) (beta 0) or y += conv(x) (beta 1), no bias */
void conv_fwd_core(ng_node *n, const Geo &q, const float *x, const float *w, float *y, float beta) {
    if (is_dw(q)) {
        RowGrid rg = row_grid(q.N * q.O, q.P);
        k_dw_fwd<<<rg.grid, rg.block, 0, cu()->stream>>>(x, w, y, q, beta);
        return;
    }
    if (is_pw(q)) {   /* y_n[g] (Og x P) = W_g (Og x Cg) x_n[g] (Cg x P) */
        for (int64_t g = 0; g < q.G; g++)
            sgemm_rm_batched(n, 0, 0, q.Og, q.P, q.K, 1.0f, w + g * q.Og * q.K, q.K, 0, x + g * q.Cg * q.P, q.P, q.C * q.P, beta,
                             y + g * q.Og * q.P, q.P, q.O * q.P, q.N);
        return;
    }
    int64_t chunk;
    float *col = col_workspace(n, q, 0, &chunk);
    if (!col) return;
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t cn = q.N - n0 < chunk ? q.N - n0 : chunk;
        const float *xc = x + n0 * q.C * q.H * q.W;
        float *yc = y + n0 * q.O * q.P;
        RowGrid rg = row_grid(cn * q.K, q.P);
        for (int64_t g = 0; g < q.G; g++) {
            k_im2col<<<rg.grid, rg.block, 0, cu()->stream>>>(xc, col, q, g, cn, q.K * q.P, q.P);
            /* y[n][g*Og..][P] = W_g (Og x K) * col_n (K x P) */
            sgemm_rm_batched(n, 0, 0, q.Og, q.P, q.K, 1.0f, w + g * q.Og * q.K, q.K, 0, col, q.P, q.K * q.P, beta,
                             yc + g * q.Og * q.P, q.P, q.O * q.P, cn);
        }
    }
}
/* gx += d conv / d x applied to gy */
void conv_dgrad(ng_node *n, const Geo &q, const float *w, const float *gy, float *gx) {
    if (is_dw(q)) {
        RowGrid rg = row_grid(q.N * q.C, q.H * q.W);
        k_dw_dgrad<<<rg.grid, rg.block, 0, cu()->stream>>>(w, gy, gx, q);
        return;
    }
    if (is_pw(q)) {   /* gx_n[g] (Cg x P) += W_g^T gy_n[g], accumulated by the GEMM itself */
        for (int64_t g = 0; g < q.G; g++)
            sgemm_rm_batched(n, 1, 0, q.K, q.P, q.Og, 1.0f, w + g * q.Og * q.K, q.K, 0, gy + g * q.Og * q.P, q.P, q.O * q.P, 1.0f,
                             gx + g * q.Cg * q.P, q.P, q.C * q.P, q.N);
        return;
    }
    int64_t chunk;
    float *col = col_workspace(n, q, 0, &chunk);
    if (!col) return;
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t cn = q.N - n0 < chunk ? q.N - n0 : chunk;
        const float *gyc = gy + n0 * q.O * q.P;
        float *gxc = gx + n0 * q.C * q.H * q.W;
        RowGrid rg = row_grid(cn * q.Cg, q.H * q.W);
        for (int64_t g = 0; g < q.G; g++) {
            /* dcol_n (K x P) = W_g^T (K x Og) gy_n (Og x P) */
            sgemm_rm_batched(n, 1, 0, q.K, q.P, q.Og, 1.0f, w + g * q.Og * q.K, q.K, 0, gyc + g * q.Og * q.P, q.P, q.O * q.P, 0.0f,
                             col, q.P, q.K * q.P, cn);
            k_col2im<<<rg.grid, rg.block, 0, cu()->stream>>>(col, gxc, q, g, cn);
        }
    }
}
/* gw += sum over images of gy_n col_n^T: per chunk of images, gy's group planes and the
   columns laid out channel-major (Og x cn P and K x cn P) so that ONE GEMM with inner size
   cn P does the sum (before: one GEMM per image, N launches accumulating into gw). */
void conv_wgrad(ng_node *n, const Geo &q, const float *x, const float *gy, float *gw) {
    if (is_dw(q)) { dw_wgrad(n, q, x, gy, gw); return; }
    int64_t chunk;
    float *buf = col_workspace(n, q, q.Og, &chunk);
    if (!buf) return;
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t cn = q.N - n0 < chunk ? q.N - n0 : chunk, NP = cn * q.P;
        float *colT = buf, *gyT = buf + q.K * NP;
        const float *xc = x + n0 * q.C * q.H * q.W, *gyc = gy + n0 * q.O * q.P;
        RowGrid rt = row_grid(cn * q.Og, q.P), rc = row_grid(cn * q.K, q.P);
        for (int64_t g = 0; g < q.G; g++) {
            k_planes_t<<<rt.grid, rt.block, 0, cu()->stream>>>(gyc + g * q.Og * q.P, gyT, cn, q.Og, q.P, q.O * q.P);
            if (is_pw(q)) k_planes_t<<<rc.grid, rc.block, 0, cu()->stream>>>(xc + g * q.Cg * q.P, colT, cn, q.Cg, q.P, q.C * q.P);
            else k_im2col<<<rc.grid, rc.block, 0, cu()->stream>>>(xc, colT, q, g, cn, q.P, NP);
            /* gw_g (Og x K) += gyT (Og x cn P) colT^T (cn P x K) */
            sgemm_rm(n, 0, 1, q.Og, q.K, NP, 1.0f, gyT, NP, colT, NP, 1.0f, gw + g * q.Og * q.K, q.K);
        }
    }
}
void fw_conv2d(ng_node *n) {
    Geo q = geo_conv(n);
    conv_fwd_core(n, q, n->in[0]->data, n->in[1]->data, n->out->data, 0.0f);
    if (n->n_in == 3 && q.N * q.O > 0) {
        RowGrid rg = row_grid(q.N * q.O, q.P);
        k_bias_nchw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->data, n->in[2]->data, q.N, q.O, q.P);
    }
    launch_check(n);
}
void bw_conv2d(ng_node *n) {
    Geo q = geo_conv(n);
    const float *gy = n->out->grad;
    float *gx = ng__cuda_in_grad(n, 0), *gw = ng__cuda_in_grad(n, 1), *gb = n->n_in == 3 ? ng__cuda_in_grad(n, 2) : NULL;
    if (gb) chansum_add(n, gb, gy, q.N, q.O, q.P);
    if (gw) conv_wgrad(n, q, n->in[0]->data, gy, gw);
    if (gx) conv_dgrad(n, q, n->in[1]->data, gy, gx);
    launch_check(n);
}

/* conv_transpose2d is the adjoint of the conv2d whose input is our output y and whose output
   is our input x (w (Cx, O/G, kh, kw) is that conv's weight layout). */
Geo geo_convt(const ng_node *n) {
    Geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.O = xs->d[1]; q.Ho = xs->d[2]; q.Wo = xs->d[3];
    q.C = ys->d[1]; q.H = ys->d[2]; q.W = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    q.Cg = q.C / q.G; q.Og = q.O / q.G; q.K = q.Cg * q.kh * q.kw; q.P = q.Ho * q.Wo;
    return q;
}
void fw_conv_transpose2d(ng_node *n) {
    Geo q = geo_convt(n);
    float *y = n->out->data;
    if (h_memset0(y, (size_t)n->out->numel * sizeof(float))) { ng__cuda_op_fail(n, "memset failed"); return; }
    conv_dgrad(n, q, n->in[1]->data, n->in[0]->data, y);
    if (n->n_in == 3 && q.N * q.C > 0) {
        RowGrid rg = row_grid(q.N * q.C, q.H * q.W);
        k_bias_nchw<<<rg.grid, rg.block, 0, cu()->stream>>>(y, n->in[2]->data, q.N, q.C, q.H * q.W);
    }
    launch_check(n);
}
void bw_conv_transpose2d(ng_node *n) {
    Geo q = geo_convt(n);
    const float *gy = n->out->grad;
    float *gx = ng__cuda_in_grad(n, 0), *gw = ng__cuda_in_grad(n, 1), *gb = n->n_in == 3 ? ng__cuda_in_grad(n, 2) : NULL;
    if (gb) chansum_add(n, gb, gy, q.N, q.C, q.H * q.W);
    if (gx) conv_fwd_core(n, q, gy, n->in[1]->data, gx, 1.0f);   /* gx += conv(gy) */
    if (gw) conv_wgrad(n, q, gy, n->in[0]->data, gw);             /* conv input gy, conv output grad x */
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* batch norm over x viewed as (N, C, S): per-channel statistics from chan_parts partial     */
/* sums (double, coalesced in both layouts, splits added in order), then elementwise maps   */
/* with per-channel coefficients computed once. Shared by batch_norm and seq_batch_norm     */
/* (channel last: N = N*L rows, S = 1).                                                     */
/* ---------------------------------------------------------------------------------------- */
struct BnArgs {
    const float *x, *gamma, *beta;
    float *mean_s, *invstd_s, *rm, *rv;     /* saved (mean, invstd); running stats or NULL */
    int64_t N, C, S;
    int batch_stats;
    float mom, eps;
};
struct TermSqDev {
    const float *x, *mean;
    __device__ void operator()(int64_t i, int64_t c, double &a, double &) const { float d = x[i] - mean[c]; a += (double)(d * d); }
};
struct TermBnGrad {
    const float *g, *x, *mean;
    __device__ void operator()(int64_t i, int64_t c, double &a, double &b) const { a += g[i]; b += (double)(g[i] * (x[i] - mean[c])); }
};
__global__ void k_bn_mean(const double *p0, int64_t splits, int64_t C, int64_t M, float *mean_s) {
    GRID_LOOP(c, C) mean_s[c] = (float)(parts_total(p0, c, splits, 0) / (double)M);
}
/* saved mean and invstd, running statistics, and y = x scale + shift per channel */
__global__ void k_bn_finish(BnArgs a, const double *p0, const double *p1, int64_t splits, float *scale, float *shift) {
    int64_t M = a.N * a.S;
    GRID_LOOP(c, a.C) {
        double mean, invstd;
        if (a.batch_stats) {
            mean = parts_total(p0, c, splits, 0) / (double)M;
            double q = parts_total(p1, c, splits, 0);
            invstd = 1.0 / sqrt(q / (double)M + (double)a.eps);
            if (a.rm) {
                a.rm[c] = (float)((1.0 - a.mom) * a.rm[c] + (double)a.mom * mean);
                a.rv[c] = (float)((1.0 - a.mom) * a.rv[c] + (double)a.mom * (q / (double)(M - 1)));
            }
        } else {
            mean = a.rm[c];
            invstd = 1.0 / sqrt((double)a.rv[c] + (double)a.eps);
        }
        a.mean_s[c] = (float)mean;
        a.invstd_s[c] = (float)invstd;
        float sc = (float)((a.gamma ? a.gamma[c] : 1.0) * (double)a.invstd_s[c]);
        scale[c] = sc;
        shift[c] = (float)((a.beta ? a.beta[c] : 0.0) - (double)a.mean_s[c] * (double)sc);
    }
}
/* rows x cols elementwise maps: planes (rows N C, cols S, channel row % C) or, for S == 1,
   rows N and cols C (channel = column) */
struct ChanRows { int64_t rows, cols, C; int chan_col; };
ChanRows chan_rows(int64_t N, int64_t C, int64_t S) {
    ChanRows r;
    r.chan_col = S == 1;
    r.rows = S == 1 ? N : N * C;
    r.cols = S == 1 ? C : S;
    r.C = C;
    return r;
}
__global__ void k_chan_affine(const float *x, float *y, const float *scale, const float *shift, ChanRows q) {
    ROW_LOOP(r, q.rows) {
        int64_t c0 = q.chan_col ? 0 : r % q.C, base = r * q.cols;
        COL_LOOP(j, q.cols) {
            int64_t c = q.chan_col ? j : c0;
            y[base + j] = x[base + j] * scale[c] + shift[c];
        }
    }
}
void bn_forward(ng_node *n, const BnArgs &a, float *y) {
    int64_t C = a.C, M = a.N * a.S;
    if (C == 0) return;
    int64_t ns = chan_splits(a.N, a.S);
    char *w = (char *)workspace(n, (size_t)(4 * C * ns) * sizeof(double) + (size_t)(2 * C) * sizeof(float));
    if (!w) return;
    double *p0 = (double *)w, *p1 = p0 + 2 * C * ns;
    float *scale = (float *)(p1 + 2 * C * ns), *shift = scale + C;
    if (a.batch_stats) {
        TermSum t0; t0.x = a.x;
        chan_parts(t0, a.N, C, a.S, p0);
        k_bn_mean<<<blocks_for(C), 256, 0, cu()->stream>>>(p0, ns, C, M, a.mean_s);
        TermSqDev t1; t1.x = a.x; t1.mean = a.mean_s;
        chan_parts(t1, a.N, C, a.S, p1);
    }
    k_bn_finish<<<blocks_for(C), 256, 0, cu()->stream>>>(a, p0, p1, ns, scale, shift);
    ChanRows q = chan_rows(a.N, C, a.S);
    if (q.rows * q.cols > 0) {
        RowGrid rg = row_grid(q.rows, q.cols);
        k_chan_affine<<<rg.grid, rg.block, 0, cu()->stream>>>(a.x, y, scale, shift, q);
    }
}
/* per channel: ggamma += sum(g (x - mean)) invstd, gbeta += sum(g); coef = (k, mean g,
   mean g (x - mean) invstd) for the input gradient */
__global__ void k_bn_bw_finish(const double *p, int64_t splits, int64_t C, int64_t M, const float *invstd_s, const float *gamma,
                               float *ggamma, float *gbeta, float *coef, int have_parts) {
    GRID_LOOP(c, C) {
        coef[c] = (gamma ? gamma[c] : 1.0f) * invstd_s[c];
        if (!have_parts) continue;
        double sa = parts_total(p, c, splits, 0), sb = parts_total(p, c, splits, 1) * invstd_s[c];
        if (ggamma) ggamma[c] += (float)sb;
        if (gbeta) gbeta[c] += (float)sa;
        coef[C + c] = (float)(sa / (double)M);
        coef[2 * C + c] = (float)(sb / (double)M);
    }
}
__global__ void k_bn_dx(const float *g, const float *x, const float *mean_s, const float *invstd_s, const float *coef, float *gx, ChanRows q,
                        int batch_stats) {
    ROW_LOOP(r, q.rows) {
        int64_t c0 = q.chan_col ? 0 : r % q.C, base = r * q.cols;
        COL_LOOP(j, q.cols) {
            int64_t c = q.chan_col ? j : c0, i = base + j;
            float k = coef[c];
            if (batch_stats) gx[i] += k * (g[i] - coef[q.C + c] - (x[i] - mean_s[c]) * invstd_s[c] * coef[2 * q.C + c]);
            else gx[i] += k * g[i];
        }
    }
}
void bn_backward(ng_node *n, const BnArgs &a, const float *g, float *gx, float *ggamma, float *gbeta) {
    int64_t C = a.C;
    if (C == 0 || n->ctx->status != NG_OK) return;
    int have_parts = ggamma || gbeta || (gx && a.batch_stats);
    int64_t ns = chan_splits(a.N, a.S);
    char *w = (char *)workspace(n, (size_t)(2 * C * ns) * sizeof(double) + (size_t)(3 * C) * sizeof(float));
    if (!w) return;
    double *p = (double *)w;
    float *coef = (float *)(p + 2 * C * ns);
    if (have_parts) {
        TermBnGrad t; t.g = g; t.x = a.x; t.mean = a.mean_s;
        chan_parts(t, a.N, C, a.S, p);
    }
    k_bn_bw_finish<<<blocks_for(C), 256, 0, cu()->stream>>>(p, ns, C, a.N * a.S, a.invstd_s, a.gamma, ggamma, gbeta, coef, have_parts);
    ChanRows q = chan_rows(a.N, C, a.S);
    if (gx && q.rows * q.cols > 0) {
        RowGrid rg = row_grid(q.rows, q.cols);
        k_bn_dx<<<rg.grid, rg.block, 0, cu()->stream>>>(g, a.x, a.mean_s, a.invstd_s, coef, gx, q, a.batch_stats);
    }
}
struct BnAux { ng_tensor *running_mean, *running_var; }; /* = ng__bn_aux in src/ops_norm.c */
/* the node's batch-norm arguments (x viewed as (N, C, S)); 0 when the running statistics
   are not on the device */
int bn_args(ng_node *n, int64_t N, int64_t C, int64_t S, BnArgs *a) {
    const BnAux *aux = (const BnAux *)n->aux;
    a->x = n->in[0]->data;
    a->gamma = n->i[1] ? n->in[1]->data : NULL;
    a->beta = n->i[2] ? n->in[1 + n->i[1]]->data : NULL;
    a->mean_s = (float *)n->saved;
    a->invstd_s = a->mean_s + C;
    a->rm = aux && aux->running_mean ? aux->running_mean->data : NULL;
    a->rv = aux && aux->running_var ? aux->running_var->data : NULL;
    a->N = N; a->C = C; a->S = S;
    a->batch_stats = (int)n->i[0];
    a->mom = n->f[0];
    a->eps = n->f[1];
    if (aux && ((aux->running_mean && aux->running_mean->device != NG_CUDA) || (aux->running_var && aux->running_var->device != NG_CUDA))) {
        ng__cuda_op_fail(n, "running statistics are on the host (move their group with ng_params_to_device)");
        return 0;
    }
    return 1;
}
void bn_backward_node(ng_node *n, int64_t N, int64_t C, int64_t S) {
    BnArgs a;
    if (!bn_args(n, N, C, S, &a)) return;
    float *gx = ng__cuda_in_grad(n, 0);
    float *ggamma = n->i[1] ? ng__cuda_in_grad(n, 1) : NULL;
    float *gbeta = n->i[2] ? ng__cuda_in_grad(n, (int)(1 + n->i[1])) : NULL;
    bn_backward(n, a, n->out->grad, gx, ggamma, gbeta);
    launch_check(n);
}
void fw_batch_norm(ng_node *n) {
    BnArgs a;
    if (!bn_args(n, n->in[0]->shape.d[0], n->i[3], n->i[4], &a)) return;
    bn_forward(n, a, n->out->data);
    launch_check(n);
}
void bw_batch_norm(ng_node *n) { bn_backward_node(n, n->in[0]->shape.d[0], n->i[3], n->i[4]); }

/* ---------------------------------------------------------------------------------------- */
/* spectral norm: the two products W^T u and W v by many blocks (column threads, and one     */
/* block per row with a fixed tree), norms and sigma in one block; no host round trip       */
/* ---------------------------------------------------------------------------------------- */
struct SnAux { ng_tensor *u, *v; }; /* = ng__sn_aux in src/ops_norm.c */
/* wtu[i] = sum over o (in order) of u[o] W[o, i]: one thread per column, coalesced rows */
__global__ void k_sn_wtu(const float *W, const float *u, double *wtu, int64_t NO, int64_t NI) {
    GRID_LOOP(i, NI) {
        double a = 0.0;
        for (int64_t o = 0; o < NO; o++) a += (double)u[o] * W[o * NI + i];
        wtu[i] = a;
    }
}
/* wv[o] = sum over j of W[o, j] v[j]: one block per row, fixed tree */
__global__ void k_sn_wv(const float *W, const float *v, double *wv, int64_t NO, int64_t NI) {
    __shared__ double sh[256];
    for (int64_t o = blockIdx.x; o < NO; o += gridDim.x) {
        double a = 0.0;
        for (int64_t j = threadIdx.x; j < NI; j += 256) a += (double)W[o * NI + j] * v[j];
        a = block_sum(a, sh);
        if (threadIdx.x == 0) wv[o] = a;
    }
}
/* out = src / max(||src||, eps) (one block) */
__device__ void sn_normalize(float *out, const double *src, int64_t n, double eps, double *sh) {
    double ss = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += 256) ss += src[i] * src[i];
    double nrm = sqrt(block_sum(ss, sh));
    if (nrm < eps) nrm = eps;
    for (int64_t i = threadIdx.x; i < n; i += 256) out[i] = (float)(src[i] / nrm);
    __syncthreads();
}
/* sigma = u^T (W v), rounded to float as the CPU keeps it; forward and backward share it, so
   the backward recomputes exactly the forward's value */
__device__ float sn_sigma(const float *u, const double *wv, int64_t NO, double *sh) {
    double s = 0.0;
    for (int64_t o = threadIdx.x; o < NO; o += 256) s += (double)u[o] * wv[o];
    return (float)block_sum(s, sh);
}
__global__ void k_sn_normalize(float *out, const double *src, int64_t n, double eps) {
    __shared__ double sh[256];
    sn_normalize(out, src, n, eps, sh);
}
/* one block: u = normalize(W v) when updating, sigma, copies of the u and v used */
__global__ void k_sn_finish(float *u, const float *v, const double *wv, float *u_s, float *v_s, float *sigma_out, int64_t NO, int64_t NI,
                            int update, double eps) {
    __shared__ double sh[256];
    if (update) sn_normalize(u, wv, NO, eps, sh);
    float s = sn_sigma(u, wv, NO, sh);
    for (int64_t o = threadIdx.x; o < NO; o += 256) u_s[o] = u[o];
    for (int64_t i = threadIdx.x; i < NI; i += 256) v_s[i] = v[i];
    if (threadIdx.x == 0) sigma_out[0] = s;
}
__global__ void k_div_dev(const float *W, float *y, const float *sigma, int64_t n) { GRID_LOOP(i, n) y[i] = W[i] / sigma[0]; }
unsigned sn_row_blocks(int64_t NO) { return (unsigned)(NO < 65535 ? (NO > 0 ? NO : 1) : 65535); }
/* The backward needs sigma: it recomputes it from the saved u and v (same kernels, same
   value) instead of copying it to the host after every forward (a stream synchronisation
   per spectral-norm layer). n->f[1] is therefore not set on the device. */
void fw_spectral_norm(ng_node *n) {
    SnAux *aux = (SnAux *)n->aux;
    int64_t NO = n->i[0], NI = n->i[1];
    int update = (int)n->i[2];
    if (aux->u->device != NG_CUDA || aux->v->device != NG_CUDA) { ng__cuda_op_fail(n, "u and v are on the host (move their group with ng_params_to_device)"); return; }
    float *u_s = (float *)n->saved, *v_s = u_s + NO;
    double *tmp = (double *)ng__cuda_scratch(n, 2 * (NO + NI) + 2);
    if (!tmp) return;
    double *wv = tmp, *wtu = tmp + NO;
    float *sig = (float *)(tmp + NO + NI);
    if (update) {   /* v = normalize(W^T u) */
        k_sn_wtu<<<blocks_for(NI), 256, 0, cu()->stream>>>(n->in[0]->data, aux->u->data, wtu, NO, NI);
        k_sn_normalize<<<1, 256, 0, cu()->stream>>>(aux->v->data, wtu, NI, (double)n->f[0]);
    }
    k_sn_wv<<<sn_row_blocks(NO), 256, 0, cu()->stream>>>(n->in[0]->data, aux->v->data, wv, NO, NI);
    k_sn_finish<<<1, 256, 0, cu()->stream>>>(aux->u->data, aux->v->data, wv, u_s, v_s, sig, NO, NI, update, (double)n->f[0]);
    k_div_dev<<<blocks_for(NO * NI), 256, 0, cu()->stream>>>(n->in[0]->data, n->out->data, sig, NO * NI);
    launch_check(n);
}
/* one block: out[0] = sum(g W), out[1] = sigma (from the saved u and W v_s) */
__global__ void k_sn_bw_scalars(const float *g, const float *W, const float *u_s, const double *wv, int64_t NO, int64_t n, double *out) {
    __shared__ double sh[256];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += 256) s += (double)g[i] * W[i];
    s = block_sum(s, sh);
    float sigma = sn_sigma(u_s, wv, NO, sh);
    if (threadIdx.x == 0) { out[0] = s; out[1] = sigma; }
}
__global__ void k_sn_bw(const float *g, const float *u_s, const float *v_s, const double *sc, float *gw, int64_t NO, int64_t NI) {
    double sigma = sc[1];
    float inv_sigma = (float)(1.0 / sigma), coef = (float)(sc[0] / (sigma * sigma));
    GRID_LOOP(i, NO * NI) {
        int64_t o = i / NI, j = i % NI;
        gw[i] += g[i] * inv_sigma - coef * u_s[o] * v_s[j];
    }
}
void bw_spectral_norm(ng_node *n) {
    int64_t NO = n->i[0], NI = n->i[1];
    float *gw = ng__cuda_in_grad(n, 0);
    const float *u_s = (const float *)n->saved, *v_s = u_s + NO, *W = n->in[0]->data;
    if (!gw) return;
    double *tmp = (double *)ng__cuda_scratch(n, 2 * (NO + 2));
    if (!tmp) return;
    double *wv = tmp, *sc = tmp + NO;
    k_sn_wv<<<sn_row_blocks(NO), 256, 0, cu()->stream>>>(W, v_s, wv, NO, NI);
    k_sn_bw_scalars<<<1, 256, 0, cu()->stream>>>(n->out->grad, W, u_s, wv, NO, NO * NI, sc);
    k_sn_bw<<<blocks_for(NO * NI), 256, 0, cu()->stream>>>(n->out->grad, u_s, v_s, sc, gw, NO, NI);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* upsample x2 (nearest, bilinear align_corners=False), avg_pool2, sum_hw                    */
/* ---------------------------------------------------------------------------------------- */
__device__ void up_lin(int64_t d, int64_t in, int64_t *i0, int64_t *i1, float *l0, float *l1) {
    float src = 0.5f * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int64_t)src;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (float)*i0;
    *l0 = 1.0f - *l1;
}
/* one output row per block row: the row's source rows and weights once per row */
__global__ void k_up_fw(const float *x, float *y, int64_t planes, int64_t H, int64_t W, int mode) {
    ROW_LOOP(row, planes * 2 * H) {
        int64_t r = row % (2 * H);
        const float *xp = x + (row / (2 * H)) * H * W;
        float *yr = y + row * 2 * W;
        if (mode == 0) {
            const float *xr = xp + (r / 2) * W;
            COL_LOOP(j, 2 * W) yr[j] = xr[j / 2];
            continue;
        }
        int64_t a0, a1;
        float h0, h1;
        up_lin(r, H, &a0, &a1, &h0, &h1);
        const float *r0 = xp + a0 * W, *r1 = xp + a1 * W;
        COL_LOOP(j, 2 * W) {
            int64_t b0, b1;
            float w0, w1;
            up_lin(j, W, &b0, &b1, &w0, &w1);
            yr[j] = (r0[b0] * w0 + r0[b1] * w1) * h0 + (r1[b0] * w0 + r1[b1] * w1) * h1;
        }
    }
}
/* weight with which output index d (0..2 in - 1) reads input index i (0 if it does not) */
__device__ inline float up_weight(int64_t d, int64_t in, int64_t i) {
    if (d < 0 || d > 2 * in - 1) return 0.0f;
    int64_t i0, i1;
    float l0, l1;
    up_lin(d, in, &i0, &i1, &l0, &l1);
    return (i0 == i ? l0 : 0.0f) + (i1 == i ? l1 : 0.0f);
}
/* gather per input pixel over the output rows 2 ih - 2 .. 2 ih + 3 and columns likewise (in
   that order, zero weights skipped); the row weights once per row, the column weights once
   per pixel (before: both recomputed for each of the 36 pairs) */
__global__ void k_up_bw(const float *g, float *gx, int64_t planes, int64_t H, int64_t W, int mode) {
    ROW_LOOP(row, planes * H) {
        int64_t ih = row % H;
        const float *gp = g + (row / H) * 4 * H * W;
        float *xr = gx + row * W;
        if (mode == 0) {
            const float *r0 = gp + 2 * ih * 2 * W, *r1 = r0 + 2 * W;
            COL_LOOP(iw, W) xr[iw] += (r0[2 * iw] + r0[2 * iw + 1]) + (r1[2 * iw] + r1[2 * iw + 1]);
            continue;
        }
        float hw[6];
#pragma unroll
        for (int a = 0; a < 6; a++) hw[a] = up_weight(2 * ih - 2 + a, H, ih);
        COL_LOOP(iw, W) {
            float ww[6];
#pragma unroll
            for (int a = 0; a < 6; a++) ww[a] = up_weight(2 * iw - 2 + a, W, iw);
            float s = 0.0f;
#pragma unroll
            for (int a = 0; a < 6; a++) {
                if (hw[a] == 0.0f) continue;
                int64_t base = (2 * ih - 2 + a) * 2 * W + 2 * iw - 2;
#pragma unroll
                for (int c = 0; c < 6; c++)
                    if (ww[c] != 0.0f) s += hw[a] * ww[c] * gp[base + c];
            }
            xr[iw] += s;
        }
    }
}
void fw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3];
    if (planes * H * W == 0) return;
    RowGrid rg = row_grid(planes * 2 * H, 2 * W);
    k_up_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->out->data, planes, H, W, (int)n->i[0]);
    launch_check(n);
}
void bw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3];
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx) return;
    if (planes * H * W == 0) return;
    RowGrid rg = row_grid(planes * H, W);
    k_up_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->grad, gx, planes, H, W, (int)n->i[0]);
    launch_check(n);
}
__global__ void k_pool_fw(const float *x, float *y, int64_t planes, int64_t H, int64_t W) {
    int64_t Ho = H / 2, Wo = W / 2;
    ROW_LOOP(row, planes * Ho) {
        const float *r0 = x + (row / Ho) * H * W + 2 * (row % Ho) * W, *r1 = r0 + W;
        float *yr = y + row * Wo;
        COL_LOOP(j, Wo) yr[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) / 4.0f;
    }
}
__global__ void k_pool_bw(const float *g, float *gx, int64_t planes, int64_t H, int64_t W) {
    int64_t Ho = H / 2, Wo = W / 2;
    ROW_LOOP(row, planes * H) {
        int64_t ih = row % H;
        if (ih / 2 >= Ho) continue;
        const float *gr = g + ((row / H) * Ho + ih / 2) * Wo;
        float *xr = gx + row * W;
        COL_LOOP(iw, W) if (iw / 2 < Wo) xr[iw] += gr[iw / 2] * 0.25f;
    }
}
void fw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1];
    if (n->out->numel == 0) return;
    RowGrid rg = row_grid(planes * (s->d[2] / 2), s->d[3] / 2);
    k_pool_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->out->data, planes, s->d[2], s->d[3]);
    launch_check(n);
}
void bw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || n->in[0]->numel == 0) return;
    RowGrid rg = row_grid(s->d[0] * s->d[1] * s->d[2], s->d[3]);
    k_pool_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->grad, gx, s->d[0] * s->d[1], s->d[2], s->d[3]);
    launch_check(n);
}
/* one plane per block row, fixed-tree double sum (before: one thread per plane, serial) */
__global__ void k_sum_hw(const float *x, float *y, int64_t planes, int64_t HW) {
    __shared__ double sh[256];
    for (int64_t r0 = (int64_t)blockIdx.x * blockDim.y; r0 < planes; r0 += (int64_t)gridDim.x * blockDim.y) {
        int64_t p = r0 + threadIdx.y;
        double acc = 0.0;
        if (p < planes)
            for (int64_t j = threadIdx.x; j < HW; j += blockDim.x) acc += x[p * HW + j];
        acc = rows_sum(acc, sh);
        if (p < planes && threadIdx.x == 0) y[p] = (float)acc;
    }
}
__global__ void k_sum_hw_bw(const float *g, float *gx, int64_t planes, int64_t HW) {
    ROW_LOOP(p, planes) {
        float gv = g[p], *xr = gx + p * HW;
        COL_LOOP(j, HW) xr[j] += gv;
    }
}
void fw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1];
    if (planes == 0) return;
    RowGrid rg = row_grid(planes, s->d[2] * s->d[3]);
    k_sum_hw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->out->data, planes, s->d[2] * s->d[3]);
    launch_check(n);
}
void bw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || n->in[0]->numel == 0) return;
    RowGrid rg = row_grid(s->d[0] * s->d[1], s->d[2] * s->d[3]);
    k_sum_hw_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->grad, gx, s->d[0] * s->d[1], s->d[2] * s->d[3]);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* mixed, mixed_cols: softmax-weighted sums; alpha gradient by per-block partial sums (4096  */
/* elements a block, fixed tree) added in block order                                       */
/* ---------------------------------------------------------------------------------------- */
#define NG_CU_MIX_BLOCK 4096
struct Ptrs { const float *p[31]; float w1[31]; int col[31]; };
__global__ void k_softmax_weights(const float *alpha_row, float *w, int K) {
    if (threadIdx.x == 0 && blockIdx.x == 0) softmax_row(alpha_row, w, K, 1, 0);
}
/* y = sum_j wt_j x_j over same-shape inputs, wt_j = w[col_j] (col -1: 1) */
__global__ void k_mix_fw(Ptrs xs, const float *w, int n, float *y, int64_t N, int accumulate) {
    GRID_LOOP(i, N) {
        float acc = accumulate ? y[i] : 0.0f;
        for (int j = 0; j < n; j++) {
            float wj = xs.col[j] < 0 ? 1.0f : w[xs.col[j]];
            acc = (j == 0 && !accumulate) ? wj * xs.p[0][i] : acc + wj * xs.p[j][i];
        }
        y[i] = acc;
    }
}
/* geometry of a (planes, kh, kw) input centred in a (planes, KH, KW) output; same: identity */
struct PadGeo { int64_t kh, kw, KH, KW, oh, ow; int same; };
__device__ inline int64_t pad_index(const PadGeo &q, int64_t xi) {
    if (q.same) return xi;
    int64_t c = xi % q.kw, r = (xi / q.kw) % q.kh, p = xi / (q.kw * q.kh);
    return (p * q.KH + r + q.oh) * q.KW + c + q.ow;
}
__global__ void k_pad_add(const float *x, const float *w, int col, float *y, PadGeo q, int64_t nx) {
    GRID_LOOP(i, nx) y[pad_index(q, i)] += (col < 0 ? 1.0f : w[col]) * x[i];
}
/* block b: part[b] = sum over its chunk of g[map(i)] x[i]; gx[i] += wt g[map(i)] */
__global__ void k_mix_parts(const float *g, const float *x, float *gx, const float *w, int col, PadGeo q, int64_t nx, double *part) {
    __shared__ double sh[256];
    int64_t lo = (int64_t)blockIdx.x * NG_CU_MIX_BLOCK, hi = lo + NG_CU_MIX_BLOCK < nx ? lo + NG_CU_MIX_BLOCK : nx;
    float wt = col < 0 ? 1.0f : w[col];
    double a = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += 256) {
        float gv = g[pad_index(q, i)];
        if (part) a += (double)gv * x[i];
        if (gx) gx[i] += wt * gv;
    }
    if (!part) return;
    a = block_sum(a, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = a;
}
/* *out = the sum of the nb block partials: one block, fixed tree (before: one thread adding
   up to thousands of partials serially, once per input of every mixed op) */
__global__ void k_sum_parts(const double *part, int64_t nb, double *out) {
    __shared__ double sh[256];
    double s = 0.0;
    for (int64_t b = threadIdx.x; b < nb; b += 256) s += part[b];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) *out = s;
}
/* ga[row K + k] += w_k (dw_k - sum_m w_m dw_m), dw over the K columns (0 where not held) */
__global__ void k_alpha_grad(const float *w, const double *dw, float *ga, int K) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        double wdot = 0.0;
        for (int k = 0; k < K; k++) wdot += (double)w[k] * dw[k];
        for (int k = 0; k < K; k++) ga[k] += (float)((double)w[k] * (dw[k] - wdot));
    }
}
PadGeo pad_geo(const ng_tensor *x, const ng_tensor *y) {
    PadGeo q;
    q.same = ng_shape_eq(x->shape, y->shape);
    q.kh = q.same ? 1 : x->shape.d[2]; q.kw = q.same ? 1 : x->shape.d[3];
    q.KH = q.same ? 1 : y->shape.d[2]; q.KW = q.same ? 1 : y->shape.d[3];
    q.oh = (q.KH - q.kh) / 2; q.ow = (q.KW - q.kw) / 2;
    return q;
}
/* shared by mixed (cols = 0..K-1) and mixed_cols; first input is alpha */
void mix_forward(ng_node *n, int K, int nx, const int *cols) {
    float *w = (float *)n->saved, *y = n->out->data;
    Ptrs xs;
    int all_same = 1;
    k_softmax_weights<<<1, 1, 0, cu()->stream>>>(n->in[0]->data + n->i[0] * K, w, K);
    for (int j = 0; j < nx; j++) {
        xs.p[j] = n->in[1 + j]->data;
        xs.col[j] = cols[j];
        all_same &= ng_shape_eq(n->in[1 + j]->shape, n->out->shape);
    }
    if (all_same) {
        k_mix_fw<<<blocks_for(n->out->numel), 256, 0, cu()->stream>>>(xs, w, nx, y, n->out->numel, 0);
    } else {
        if (h_memset0(y, (size_t)n->out->numel * sizeof(float))) { ng__cuda_op_fail(n, "memset failed"); return; }
        for (int j = 0; j < nx; j++)
            k_pad_add<<<blocks_for(n->in[1 + j]->numel), 256, 0, cu()->stream>>>(xs.p[j], w, cols[j], y, pad_geo(n->in[1 + j], n->out), n->in[1 + j]->numel);
    }
    launch_check(n);
}
void mix_backward(ng_node *n, int K, int nx, const int *cols) {
    const float *w = (const float *)n->saved, *g = n->out->grad;
    float *ga = ng__cuda_in_grad(n, 0);
    double *dw = NULL;
    if (ga && K > 1) {
        dw = (double *)ng__cuda_scratch(n, 2 * K);
        if (!dw || h_memset0(dw, (size_t)K * sizeof(double))) return;
    }
    for (int j = 0; j < nx; j++) {
        const ng_tensor *x = n->in[1 + j];
        float *gx = ng__cuda_in_grad(n, 1 + j);
        int need = dw != NULL && cols[j] >= 0;
        if (!gx && !need) continue;
        int64_t nb = (x->numel + NG_CU_MIX_BLOCK - 1) / NG_CU_MIX_BLOCK;
        double *part = NULL;
        if (need) { part = (double *)ng__cuda_scratch(n, 2 * (nb ? nb : 1)); if (!part) return; }
        if (nb) k_mix_parts<<<(unsigned)nb, 256, 0, cu()->stream>>>(g, x->data, gx, w, cols[j], pad_geo(x, n->out), x->numel, part);
        if (need) k_sum_parts<<<1, 256, 0, cu()->stream>>>(part, nb, dw + cols[j]);
    }
    if (dw) k_alpha_grad<<<1, 1, 0, cu()->stream>>>(w, dw, ga + n->i[0] * K, K);
    launch_check(n);
}
void fw_mixed(ng_node *n) {
    int K = (int)n->i[1], cols[31];
    for (int k = 0; k < K; k++) cols[k] = k;
    mix_forward(n, K, K, cols);
}
void bw_mixed(ng_node *n) {
    int K = (int)n->i[1], cols[31];
    for (int k = 0; k < K; k++) cols[k] = k;
    mix_backward(n, K, K, cols);
}
void fw_mixed_cols(ng_node *n) {
    int cols[7], nx = (int)n->i[2];
    for (int j = 0; j < nx; j++) cols[j] = (int)n->i[3 + j];
    mix_forward(n, (int)n->i[1], nx, cols);
}
void bw_mixed_cols(ng_node *n) {
    int cols[7], nx = (int)n->i[2];
    for (int j = 0; j < nx; j++) cols[j] = (int)n->i[3 + j];
    mix_backward(n, (int)n->i[1], nx, cols);
}

/* ---------------------------------------------------------------------------------------- */
/* sequence ops (channel-last (N, L, D)): embedding, seq_mask, conv1d, seq_pool3,           */
/* seq_batch_norm, seq_mean_pool, seq_attention, seq_gru. Same node layout as src/ops_seq.c. */
/* ---------------------------------------------------------------------------------------- */
/* embedding. The ids arrive in n->saved as a host copy (the wrapper's). The forward groups
   the positions by vocabulary row on the host (a stable counting sort: positions of one row in
   increasing order) and copies ids, order and segments to the device; n->saved becomes a host
   EmbSaved pointing at them. Backward: one thread per (used row, column) adds its positions'
   gradients in position order, as the CPU does (no atomics). */
struct EmbSaved { const int32_t *ids, *order, *seg_start, *seg_row; int64_t n_rows; };
__global__ void k_emb_fw(const float *tab, const int32_t *ids, float *y, int64_t P, int64_t D) {
    ROW_LOOP(p, P) {
        const float *row = tab + (int64_t)ids[p] * D;
        COL_LOOP(j, D) y[p * D + j] = row[j];
    }
}
__global__ void k_emb_bw(const float *g, float *gt, EmbSaved e, int64_t D, int64_t pad) {
    GRID_LOOP(i, e.n_rows * D) {
        int64_t u = i / D, c = i % D, row = e.seg_row[u];
        if (row == pad) continue;
        float acc = gt[row * D + c];
        for (int32_t j = e.seg_start[u]; j < e.seg_start[u + 1]; j++) acc += g[(int64_t)e.order[j] * D + c];
        gt[row * D + c] = acc;
    }
}
void fw_embedding(ng_node *n) {
    int64_t P = n->i[0] * n->i[1], V = n->in[0]->shape.d[0], D = n->in[0]->shape.d[1];
    const int32_t *ids = (const int32_t *)n->saved;
    if (P > 0x7fffffffLL) { ng__cuda_op_fail(n, "more than 2^31 positions"); return; }
    /* host: count per row, prefix sums, stable placement */
    int32_t *cnt = (int32_t *)ng__cuda_host_scratch(n, (size_t)(V + 1) * sizeof(int32_t));
    EmbSaved *e = (EmbSaved *)ng__cuda_host_scratch(n, sizeof(EmbSaved));
    if (!cnt || !e) { ng__cuda_op_fail(n, "host arena exhausted"); return; }
    memset(cnt, 0, (size_t)(V + 1) * sizeof(int32_t));
    for (int64_t p = 0; p < P; p++) cnt[ids[p] + 1]++;
    int64_t U = 0;
    for (int64_t v = 0; v < V; v++) U += cnt[v + 1] > 0;
    /* one buffer, laid out as on the device: ids (P), order (P), seg_start (U + 1), seg_row (U);
       built in the staging buffer when it fits, and sent with one asynchronous copy */
    size_t bytes = (size_t)(2 * P + 2 * U + 1) * sizeof(int32_t);
    char *st = stage_reserve(bytes);
    int32_t *hbuf = st ? (int32_t *)st : (int32_t *)ng__cuda_host_scratch(n, bytes);
    if (!hbuf) { ng__cuda_op_fail(n, "host arena exhausted"); return; }
    int32_t *hids = hbuf, *order = hbuf + P, *seg_start = hbuf + 2 * P, *seg_row = hbuf + 2 * P + U + 1;
    memcpy(hids, ids, (size_t)P * sizeof(int32_t));
    U = 0;
    for (int64_t v = 0; v < V; v++) {
        if (cnt[v + 1] > 0) { seg_start[U] = cnt[v]; seg_row[U] = (int32_t)v; U++; }
        cnt[v + 1] += cnt[v];                  /* cnt[v]: first slot of row v */
    }
    seg_start[U] = (int32_t)P;
    for (int64_t p = 0; p < P; p++) order[cnt[ids[p]]++] = (int32_t)p;
    int32_t *d = (int32_t *)ng__cuda_scratch(n, 2 * P + 2 * U + 1);
    if (!d) return;
    if (st ? stage_commit(d, st, bytes) : h_h2d(d, hbuf, bytes)) { ng__cuda_op_fail(n, "id copy failed"); return; }
    e->ids = d; e->order = d + P; e->seg_start = d + 2 * P; e->seg_row = d + 2 * P + U + 1; e->n_rows = U;
    n->saved = e;
    if (P * D > 0) {
        RowGrid rg = row_grid(P, D);
        k_emb_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, e->ids, n->out->data, P, D);
    }
    launch_check(n);
}
void bw_embedding(ng_node *n) {
    int64_t D = n->in[0]->shape.d[1];
    const EmbSaved *e = (const EmbSaved *)n->saved;
    float *gt = ng__cuda_in_grad(n, 0);
    if (!gt || e->n_rows * D == 0) return;
    k_emb_bw<<<blocks_for(e->n_rows * D), 256, 0, cu()->stream>>>(n->out->grad, gt, *e, D, n->i[2]);
    launch_check(n);
}

/* seq_mask: select, not multiply; one position (row of D) per block row */
__global__ void k_seq_mask_fw(const float *x, const float *m, float *y, int64_t P, int64_t D) {
    ROW_LOOP(r, P) {
        bool keep = m[r] != 0.0f;
        COL_LOOP(j, D) y[r * D + j] = keep ? x[r * D + j] : 0.0f;
    }
}
__global__ void k_seq_mask_bw(const float *g, const float *m, float *gx, int64_t P, int64_t D) {
    ROW_LOOP(r, P) {
        if (m[r] == 0.0f) continue;
        COL_LOOP(j, D) gx[r * D + j] += g[r * D + j];
    }
}
void fw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2];
    if (P * D == 0) return;
    RowGrid rg = row_grid(P, D);
    k_seq_mask_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->in[1]->data, n->out->data, P, D);
    launch_check(n);
}
void bw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2];
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || P * D == 0) return;
    RowGrid rg = row_grid(P, D);
    k_seq_mask_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->grad, n->in[1]->data, gx, P, D);
    launch_check(n);
}

/* conv1d: col (N*L, C*K), col[(b, t), c*K + k] = x[b, t + k - (K-1)/2, c] (0 outside);
   y = col W^T (+ b). saved: col (device, when K > 1 and w needs a gradient). */
/* one (b, t) row of the columns per block row; each thread takes channel c's K taps */
__global__ void k_conv1d_im2col(const float *x, float *col, int64_t N, int64_t L, int64_t C, int64_t K) {
    int64_t CK = C * K, P = (K - 1) / 2;
    ROW_LOOP(r, N * L) {
        int64_t b = r / L, t = r % L;
        float *cr = col + r * CK;
        COL_LOOP(c, C)
            for (int64_t k = 0; k < K; k++) {
                int64_t s = t + k - P;
                cr[c * K + k] = s >= 0 && s < L ? x[(b * L + s) * C + c] : 0.0f;
            }
    }
}
/* gx[b, s, c] += sum over k (in order) of gcol[(b, s - k + P), c*K + k] */
__global__ void k_conv1d_col2im(const float *gcol, float *gx, int64_t N, int64_t L, int64_t C, int64_t K) {
    int64_t CK = C * K, P = (K - 1) / 2;
    ROW_LOOP(r, N * L) COL_LOOP(c, C) {
        int64_t b = r / L, s = r % L, i = r * C + c;
        float acc = gx[i];
        for (int64_t k = 0; k < K; k++) {
            int64_t t = s - k + P;
            if (t >= 0 && t < L) acc += gcol[(b * L + t) * CK + c * K + k];
        }
        gx[i] = acc;
    }
}
void fw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0];
    const float *col = x->data;
    float *y = n->out->data;
    if (K > 1) {
        float *cb = ng__cuda_scratch(n, N * L * C * K);
        if (!cb) return;
        if (N * L * C > 0) {
            RowGrid rg = row_grid(N * L, C);
            k_conv1d_im2col<<<rg.grid, rg.block, 0, cu()->stream>>>(x->data, cb, N, L, C, K);
        }
        col = cb;
        if ((n->need >> 1) & 1u) n->saved = cb;
    }
    if (n->n_in == 3) fill_rows(y, n->in[2]->data, N * L, O);
    sgemm_rm(n, 0, 1, N * L, O, C * K, 1.0f, col, C * K, w->data, C * K, n->n_in == 3 ? 1.0f : 0.0f, y, O);
    launch_check(n);
}
void bw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0];
    const float *g = n->out->grad;
    float *gx = ng__cuda_in_grad(n, 0), *gw = ng__cuda_in_grad(n, 1), *gb = n->n_in == 3 ? ng__cuda_in_grad(n, 2) : NULL;
    if (gb) colsum_add(n, gb, g, N * L, O);
    if (gw) {
        const float *col = K == 1 ? x->data : (const float *)n->saved;
        sgemm_rm(n, 1, 0, O, C * K, N * L, 1.0f, g, O, col, C * K, 1.0f, gw, C * K);
    }
    if (gx) {
        if (K == 1) {
            sgemm_rm(n, 0, 0, N * L, C, O, 1.0f, g, O, w->data, C, 1.0f, gx, C);
        } else {
            float *gcol = ng__cuda_scratch(n, N * L * C * K);
            if (!gcol) return;
            sgemm_rm(n, 0, 0, N * L, C * K, O, 1.0f, g, O, w->data, C * K, 0.0f, gcol, C * K);
            if (N * L * C > 0) {
                RowGrid rg = row_grid(N * L, C);
                k_conv1d_col2im<<<rg.grid, rg.block, 0, cu()->stream>>>(gcol, gx, N, L, C, K);
            }
        }
    }
    launch_check(n);
}

/* seq_pool3 (kernel 3, stride 1, padding 1 along L); i[0] = 1: max, 0: avg */
__device__ int64_t pool3_argmax(const float *xb, int64_t t, int64_t L, int64_t D, int64_t c) {
    int64_t s = t > 0 ? t - 1 : t, e = t + 1 < L ? t + 1 : t, best = s;
    float m = xb[s * D + c];
    for (int64_t u = s + 1; u <= e; u++) {
        float v = xb[u * D + c];
        if (v > m || isnan(v)) { m = v; best = u; }
        if (isnan(m)) break;
    }
    return best;
}
/* one position (b, t) per block row, channels along it */
__global__ void k_pool3_fw(const float *x, float *y, int64_t N, int64_t L, int64_t D, int is_max) {
    ROW_LOOP(r, N * L) COL_LOOP(c, D) {
        int64_t t = r % L, b = r / L, i = r * D + c;
        const float *xb = x + b * L * D;
        if (is_max) {
            y[i] = xb[pool3_argmax(xb, t, L, D, c) * D + c];
        } else {
            float s = (t > 0 ? xb[(t - 1) * D + c] : 0.0f) + xb[t * D + c];
            s += t + 1 < L ? xb[(t + 1) * D + c] : 0.0f;
            y[i] = s / 3.0f;
        }
    }
}
/* gather per input position u: max adds g[t] for t = u-1, u, u+1 (in order) whose window
   maximum sits at u; avg as the CPU's sum */
__global__ void k_pool3_bw(const float *x, const float *g, float *gx, int64_t N, int64_t L, int64_t D, int is_max) {
    ROW_LOOP(r, N * L) COL_LOOP(c, D) {
        int64_t u = r % L, b = r / L, i = r * D + c;
        const float *xb = x + b * L * D, *gb = g + b * L * D;
        if (is_max) {
            float acc = gx[i];
            for (int64_t t = u - 1; t <= u + 1; t++)
                if (t >= 0 && t < L && pool3_argmax(xb, t, L, D, c) == u) acc += gb[t * D + c];
            gx[i] = acc;
        } else {
            float s = gb[u * D + c];
            if (u > 0) s += gb[(u - 1) * D + c];
            if (u + 1 < L) s += gb[(u + 1) * D + c];
            gx[i] += s / 3.0f;
        }
    }
}
void fw_seq_pool3(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    if (n->out->numel == 0) return;
    RowGrid rg = row_grid(s->d[0] * s->d[1], s->d[2]);
    k_pool3_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->out->data, s->d[0], s->d[1], s->d[2], (int)n->i[0]);
    launch_check(n);
}
void bw_seq_pool3(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || n->out->numel == 0) return;
    RowGrid rg = row_grid(s->d[0] * s->d[1], s->d[2]);
    k_pool3_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->in[0]->data, n->out->grad, gx, s->d[0], s->d[1], s->d[2], (int)n->i[0]);
    launch_check(n);
}

/* seq_batch_norm: batch norm with R = N*L rows as the batch, D channels, S = 1 (padded
   positions included, as on the CPU): the column-layout kernels, a warp reading 32 adjacent
   channels of a row (before: one block per channel reading a stride-D column). Same saved
   layout (mean, invstd) and aux. */
void fw_seq_batch_norm(ng_node *n) {
    BnArgs a;
    if (!bn_args(n, n->in[0]->shape.d[0] * n->in[0]->shape.d[1], n->in[0]->shape.d[2], 1, &a)) return;
    bn_forward(n, a, n->out->data);
    launch_check(n);
}
void bw_seq_batch_norm(ng_node *n) { bn_backward_node(n, n->in[0]->shape.d[0] * n->in[0]->shape.d[1], n->in[0]->shape.d[2], 1); }

/* seq_mean_pool: y[b, c] = (sum_t x[b, t, c]) * inv[b], inv[b] = 1 / max-guarded mask count;
   saved: inv (N, device) */
__global__ void k_mean_pool_fw(const float *x, const float *m, float *y, float *inv, int64_t N, int64_t L, int64_t D) {
    GRID_LOOP(i, N * D) {
        int64_t b = i / D, c = i % D;
        double cnt = 0.0;
        for (int64_t t = 0; t < L; t++) cnt += m[b * L + t];
        float iv = (float)(1.0 / (cnt != 0.0 ? cnt : 1e-12));
        if (c == 0) inv[b] = iv;
        float s = 0.0f;
        for (int64_t t = 0; t < L; t++) s += x[(b * L + t) * D + c];
        y[i] = s * iv;
    }
}
__global__ void k_mean_pool_bw(const float *g, const float *inv, float *gx, int64_t N, int64_t L, int64_t D) {
    ROW_LOOP(r, N * L) {
        int64_t b = r / L;
        float iv = inv[b];
        COL_LOOP(c, D) gx[r * D + c] += g[b * D + c] * iv;
    }
}
void fw_seq_mean_pool(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    if (s->d[0] * s->d[2] == 0) return;
    k_mean_pool_fw<<<blocks_for(s->d[0] * s->d[2]), 256, 0, cu()->stream>>>(n->in[0]->data, n->in[1]->data, n->out->data, (float *)n->saved,
                                                                            s->d[0], s->d[1], s->d[2]);
    launch_check(n);
}
void bw_seq_mean_pool(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    float *gx = ng__cuda_in_grad(n, 0);
    if (!gx || n->in[0]->numel == 0) return;
    RowGrid rg = row_grid(s->d[0] * s->d[1], s->d[2]);
    k_mean_pool_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(n->out->grad, (const float *)n->saved, gx, s->d[0], s->d[1], s->d[2]);
    launch_check(n);
}

/* seq_attention. Scores S (N, heads, L, L) into n->saved by strided-batched GEMMs (one call
   per head, batched over sequences: head h of sequence b reads columns h*d.. of rows b*L..);
   a row kernel replaces padded keys' scores, takes the softmax in place (saved) and writes the
   applied weights W = qmask * P * dropout; out_h = W V_h by strided-batched GEMMs. */
/* Row kernels: the T = blockDim.x threads of a block row (threadIdx.y) share one score row
   of L (coalesced; before: one thread per row, a stride-L walk), with fixed-tree max and
   sums (rows_max, rows_sum). Every thread of the block takes part in every reduction, so
   rows are visited in block-uniform groups and `on` marks the threads past the last row. */
/* scores of padded keys -> -1e10, softmax in place (saved; the CPU's arithmetic: float max,
   double exp sum), W = qmask * P * dropout */
__global__ void k_attn_rows_fw(float *Ps, float *W, const float *m, const float *dm, int64_t NH, int64_t heads, int64_t L) {
    __shared__ float shf[256];
    __shared__ double shd[256];
    for (int64_t r0 = (int64_t)blockIdx.x * blockDim.y; r0 < NH * L; r0 += (int64_t)gridDim.x * blockDim.y) {
        int64_t r = r0 + threadIdx.y;
        bool on = r < NH * L;
        int64_t i = on ? r % L : 0, b = on ? (r / L) / heads : 0;
        const float *mb = m + b * L;
        float *row = Ps + (on ? r : 0) * L, *w = W + (on ? r : 0) * L;
        float mx = -INFINITY;
        if (on)
            for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
                float v = mb[j] == 0.0f ? -1e10f : row[j];
                row[j] = v;
                mx = fmaxf(mx, v);
            }
        mx = rows_max(mx, shf);
        double sum = 0.0;
        if (on) for (int64_t j = threadIdx.x; j < L; j += blockDim.x) sum += exp((double)(row[j] - mx));
        sum = rows_sum(sum, shd);
        if (on)
            for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
                float p = (float)(exp((double)(row[j] - mx)) / sum);
                float pv = mb[i] != 0.0f ? p : 0.0f;
                row[j] = p;
                w[j] = dm ? pv * dm[r * L + j] : pv;
            }
    }
}
/* W from the saved softmax (backward) */
__global__ void k_attn_weights(const float *Ps, float *W, const float *m, const float *dm, int64_t NH, int64_t heads, int64_t L) {
    ROW_LOOP(r, NH * L) {
        bool q = m[((r / L) / heads) * L + r % L] != 0.0f;
        COL_LOOP(j, L) {
            int64_t e = r * L + j;
            float pv = q ? Ps[e] : 0.0f;
            W[e] = dm ? pv * dm[e] : pv;
        }
    }
}
/* dS row: 0 for padded queries; dP *= dropout; dS = P (dP - sum(dP P)), 0 at padded keys */
__global__ void k_attn_rows_bw(float *dS, const float *Ps, const float *m, const float *dm, int64_t NH, int64_t heads, int64_t L) {
    __shared__ double shd[256];
    for (int64_t r0 = (int64_t)blockIdx.x * blockDim.y; r0 < NH * L; r0 += (int64_t)gridDim.x * blockDim.y) {
        int64_t r = r0 + threadIdx.y;
        bool on = r < NH * L;
        int64_t i = on ? r % L : 0, b = on ? (r / L) / heads : 0;
        const float *mb = m + b * L, *pr = Ps + (on ? r : 0) * L;
        float *row = dS + (on ? r : 0) * L;
        bool live = on && mb[i] != 0.0f;
        double dot = 0.0;
        if (live)
            for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
                if (dm) row[j] *= dm[r * L + j];
                dot += (double)row[j] * pr[j];
            }
        dot = rows_sum(dot, shd);
        if (on)
            for (int64_t j = threadIdx.x; j < L; j += blockDim.x) row[j] = live && mb[j] != 0.0f ? pr[j] * (row[j] - (float)dot) : 0.0f;
    }
}
void fw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads;
    int64_t LL = L * L, LH = L * H, hLL = heads * L * L, NH = N * heads;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data, *dm = (const float *)n->aux;
    float *Ps = (float *)n->saved, *Y = n->out->data, scale = 1.0f / sqrtf((float)d);
    if (NH * L == 0) return;
    float *W = ng__cuda_scratch(n, NH * LL);
    if (!W) return;
    if (dm) dropout_fill((float *)n->aux, NULL, NULL, NH * LL, n->i[1], n->f[0]);
    for (int64_t h = 0; h < heads; h++)   /* S_bh = scale Q_bh K_bh^T */
        sgemm_rm_batched(n, 0, 1, L, L, d, scale, Q + h * d, H, LH, K + h * d, H, LH, 0.0f, Ps + h * LL, L, hLL, N);
    RowGrid rg = row_grid(NH * L, L);
    k_attn_rows_fw<<<rg.grid, rg.block, 0, cu()->stream>>>(Ps, W, m, dm, NH, heads, L);
    for (int64_t h = 0; h < heads; h++)   /* Y_bh = W_bh V_bh */
        sgemm_rm_batched(n, 0, 0, L, d, L, 1.0f, W + h * LL, L, hLL, V + h * d, H, LH, 0.0f, Y + h * d, H, LH, N);
    launch_check(n);
}
void bw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads;
    int64_t LL = L * L, LH = L * H, hLL = heads * L * L, NH = N * heads;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data, *G = n->out->grad;
    const float *dm = (const float *)n->aux, *Ps = (const float *)n->saved;
    float *gq = ng__cuda_in_grad(n, 0), *gk = ng__cuda_in_grad(n, 1), *gv = ng__cuda_in_grad(n, 2), scale = 1.0f / sqrtf((float)d);
    if (NH * L == 0) return;
    float *scratch = ng__cuda_scratch(n, 2 * NH * LL);
    if (!scratch) return;
    float *W = scratch, *dS = scratch + NH * LL;
    if (gv) {
        RowGrid rg = row_grid(NH * L, L);
        k_attn_weights<<<rg.grid, rg.block, 0, cu()->stream>>>(Ps, W, m, dm, NH, heads, L);
        for (int64_t h = 0; h < heads; h++)   /* dV_bh += W_bh^T dO_bh */
            sgemm_rm_batched(n, 1, 0, L, d, L, 1.0f, W + h * LL, L, hLL, G + h * d, H, LH, 1.0f, gv + h * d, H, LH, N);
    }
    if (gq || gk) {
        for (int64_t h = 0; h < heads; h++)   /* dW_bh = dO_bh V_bh^T */
            sgemm_rm_batched(n, 0, 1, L, L, d, 1.0f, G + h * d, H, LH, V + h * d, H, LH, 0.0f, dS + h * LL, L, hLL, N);
        RowGrid rg = row_grid(NH * L, L);
        k_attn_rows_bw<<<rg.grid, rg.block, 0, cu()->stream>>>(dS, Ps, m, dm, NH, heads, L);
        for (int64_t h = 0; h < heads; h++) {
            if (gq) sgemm_rm_batched(n, 0, 0, L, d, L, scale, dS + h * LL, L, hLL, K + h * d, H, LH, 1.0f, gq + h * d, H, LH, N);
            if (gk) sgemm_rm_batched(n, 1, 0, L, d, L, scale, dS + h * LL, L, hLL, Q + h * d, H, LH, 1.0f, gk + h * d, H, LH, N);
        }
    }
    launch_check(n);
}

/* seq_gru, one direction over true lengths. The input projections of all positions are one
   GEMM (x W_ih^T + b_ih); then one launch per time step. Two implementations of the steps:

   fused (default): k_gru_step computes the recurrent product h_prev W_hh^T for a tile of
     (sequence, hidden unit) pairs in shared memory and applies the cell to it in the same
     launch; sequences are taken longest first (the host's packed order, as on the CPU), so
     step s touches only the sequences still running and its grid shrinks as they end. The
     backward (k_gru_step_bw) likewise adds the previous step's dHh W_hh to the carried state
     gradient and runs the cell backward in one launch.
   cuBLAS (NASGAN_CUDA_GRU=cublas in the environment, read at each call; for comparisons, see
     bench/gpu_check.sh): per step one cublasSgemm for the recurrent product over every row
     and one cell kernel (k_gru_cell), two launches.

   Both sum in a fixed order (deterministic). saved: GruSaved (= ng__gru_saved in
   src/ops_seq.c); len_dev (lengths, then the packed order) set by the forward. */
struct GruSaved { int64_t *len; float *gates; int64_t *len_dev; int64_t *order, *base; };
__device__ inline int64_t gru_pos(int64_t s, int64_t len, int rev) { return s >= len ? -1 : rev ? len - 1 - s : s; }

/* the cell at (b, j), position t: gate pre-activations a (x part, b_ih included) and c (h part,
   b_hh not included); writes the saved gates and returns the new state */
__device__ inline float gru_cell(const float *a, float cr, float cz, float cn, const float *bhh, float hprev, float *gt,
                                 int64_t j, int64_t H) {
    cr += bhh[j]; cz += bhh[H + j]; cn += bhh[2 * H + j];
    float r = ng__sigmoidf(a[j] + cr), z = ng__sigmoidf(a[H + j] + cz);
    float nn = tanhf(a[2 * H + j] + r * cn);
    gt[j] = r; gt[H + j] = z; gt[2 * H + j] = nn; gt[3 * H + j] = cn;
    return (1.0f - z) * nn + z * hprev;
}
/* the cell backward at (b, k) with state gradient dht: writes the pre-activation gradients to
   dx (the (b, t) row of dxp) and d (the dHh row), returns dht z (the carried part) */
__device__ inline float gru_cell_bw(const float *gt, float dht, float h0, float *dx, float *d, int64_t k, int64_t H) {
    float r = gt[k], z = gt[H + k], nn = gt[2 * H + k], hn = gt[3 * H + k];
    float dan = dht * (1.0f - z) * (1.0f - nn * nn);
    float daz = dht * (h0 - nn) * z * (1.0f - z);
    float dar = dan * hn * r * (1.0f - r);
    dx[k] = dar; dx[H + k] = daz; dx[2 * H + k] = dan;
    d[k] = dar; d[H + k] = daz; d[2 * H + k] = dan * r;
    return dht * z;
}

/* ---- fused steps. A block is GRU_TJ x GRU_TY threads over GRU_TR packed rows (GRU_TR /
   GRU_TY = 4 per thread, the tile's row values broadcast from shared memory) and GRU_TJ
   hidden units (one per threadIdx.x); the contraction runs in chunks of GRU_KC. ---- */
#define GRU_TJ 32
#define GRU_TY 4
#define GRU_TR 16
#define GRU_RPT (GRU_TR / GRU_TY)
#define GRU_KC 32
/* step s: rows r < active of the packed order (order[r] = sequence), hin = the previous
   states (read only when s > 0), hout = the new ones (a separate buffer: other blocks still
   read hin) */
__global__ void __launch_bounds__(GRU_TJ * GRU_TY) k_gru_step(const float *xp, const float *whh, const float *bhh, const float *hin,
                                                            float *hout, const int64_t *len, const int64_t *order, float *gates,
                                                            float *Y, int64_t active, int64_t L, int64_t H, int64_t s, int rev) {
    __shared__ float hs[GRU_KC][GRU_TR];
    __shared__ float ws[3][GRU_TJ][GRU_KC + 1];   /* + 1: threads of a warp read 32 rows at one k */
    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * GRU_TJ + tx, nt = GRU_TJ * GRU_TY;
    const int64_t j = (int64_t)blockIdx.x * GRU_TJ + tx, rb = (int64_t)blockIdx.y * GRU_TR;
    float acc[3][GRU_RPT];
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < GRU_RPT; i++) acc[g][i] = 0.0f;
    if (s > 0)
        for (int64_t k0 = 0; k0 < H; k0 += GRU_KC) {
            for (int e = tid; e < GRU_TR * GRU_KC; e += nt) {
                int rr = e / GRU_KC, kk = e % GRU_KC;
                int64_t r = rb + rr, k = k0 + kk;
                hs[kk][rr] = r < active && k < H ? hin[order[r] * H + k] : 0.0f;
            }
            for (int e = tid; e < 3 * GRU_TJ * GRU_KC; e += nt) {
                int g = e / (GRU_TJ * GRU_KC), jj = e / GRU_KC % GRU_TJ, kk = e % GRU_KC;
                int64_t jr = (int64_t)blockIdx.x * GRU_TJ + jj, k = k0 + kk;
                ws[g][jj][kk] = jr < H && k < H ? whh[(g * H + jr) * H + k] : 0.0f;
            }
            __syncthreads();
            for (int kk = 0; kk < GRU_KC; kk++) {
                float w0 = ws[0][tx][kk], w1 = ws[1][tx][kk], w2 = ws[2][tx][kk];
                for (int i = 0; i < GRU_RPT; i++) {
                    float h = hs[kk][ty * GRU_RPT + i];
                    acc[0][i] += h * w0; acc[1][i] += h * w1; acc[2][i] += h * w2;
                }
            }
            __syncthreads();
        }
    if (j >= H) return;
    for (int i = 0; i < GRU_RPT; i++) {
        int64_t r = rb + ty * GRU_RPT + i;
        if (r >= active) break;
        int64_t b = order[r], t = gru_pos(s, len[b], rev);   /* t >= 0: row r is running */
        float h = gru_cell(xp + (b * L + t) * 3 * H, acc[0][i], acc[1][i], acc[2][i], bhh, s > 0 ? hin[b * H + j] : 0.0f,
                           gates + (b * L + t) * 4 * H, j, H);
        Y[(b * L + t) * H + j] = h;
        hout[b * H + j] = h;
    }
}
/* backward step s (the steps run last to first): dh_k = carry + (dHh_{s+1} W_hh)_k (dnext =
   dHh_{s+1}, NULL at the last step), then the cell backward; dhh and hp are step s's slices
   (N x 3H dHh, N x H previous states for the W_hh gradient), zero for rows not running */
__global__ void __launch_bounds__(GRU_TJ * GRU_TY) k_gru_step_bw(const float *gates, const float *Y, const float *g, const float *whh,
                                                               const float *dnext, const int64_t *len, const int64_t *order, float *dxp,
                                                               float *dhh, float *carry, float *hp, int64_t active, int64_t L, int64_t H,
                                                               int64_t s, int rev) {
    __shared__ float ds[GRU_KC][GRU_TR];
    __shared__ float ws[GRU_KC][GRU_TJ];
    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * GRU_TJ + tx, nt = GRU_TJ * GRU_TY;
    const int64_t k = (int64_t)blockIdx.x * GRU_TJ + tx, rb = (int64_t)blockIdx.y * GRU_TR, G = 3 * H;
    float acc[GRU_RPT];
    for (int i = 0; i < GRU_RPT; i++) acc[i] = 0.0f;
    if (dnext)
        for (int64_t c0 = 0; c0 < G; c0 += GRU_KC) {
            for (int e = tid; e < GRU_TR * GRU_KC; e += nt) {
                int rr = e / GRU_KC, cc = e % GRU_KC;
                int64_t r = rb + rr, c = c0 + cc;
                ds[cc][rr] = r < active && c < G ? dnext[order[r] * G + c] : 0.0f;
            }
            for (int e = tid; e < GRU_KC * GRU_TJ; e += nt) {
                int cc = e / GRU_TJ, kk = e % GRU_TJ;
                int64_t c = c0 + cc, kc = (int64_t)blockIdx.x * GRU_TJ + kk;
                ws[cc][kk] = c < G && kc < H ? whh[c * H + kc] : 0.0f;
            }
            __syncthreads();
            for (int cc = 0; cc < GRU_KC; cc++) {
                float w = ws[cc][tx];
                for (int i = 0; i < GRU_RPT; i++) acc[i] += ds[cc][ty * GRU_RPT + i] * w;
            }
            __syncthreads();
        }
    if (k >= H) return;
    for (int i = 0; i < GRU_RPT; i++) {
        int64_t r = rb + ty * GRU_RPT + i;
        if (r >= active) break;
        int64_t b = order[r], t = gru_pos(s, len[b], rev), tp = rev ? t + 1 : t - 1;
        float h0 = s == 0 ? 0.0f : Y[(b * L + tp) * H + k];
        hp[b * H + k] = h0;
        float dht = carry[b * H + k] + acc[i] + g[(b * L + t) * H + k];
        carry[b * H + k] = gru_cell_bw(gates + (b * L + t) * 4 * H, dht, h0, dxp + (b * L + t) * G, dhh + b * G, k, H);
    }
}
dim3 gru_grid(int64_t active, int64_t H) {
    return dim3((unsigned)((H + GRU_TJ - 1) / GRU_TJ), (unsigned)((active + GRU_TR - 1) / GRU_TR));
}

/* ---- cuBLAS steps: every row every step; rows of ended sequences are skipped by the cell
   (their hp rows keep their last state and only feed hh rows nobody reads) ---- */
__global__ void k_gru_cell(const float *xp, const float *hh, const float *bhh, float *hp, const int64_t *len, float *gates, float *Y,
                           int64_t N, int64_t L, int64_t H, int64_t s, int rev) {
    int64_t G = 3 * H;
    GRID_LOOP(i, N * H) {
        int64_t b = i / H, j = i % H, t = gru_pos(s, len[b], rev);
        if (t < 0) continue;
        const float *c = hh + b * G;
        float h = gru_cell(xp + (b * L + t) * G, s == 0 ? 0.0f : c[j], s == 0 ? 0.0f : c[H + j], s == 0 ? 0.0f : c[2 * H + j], bhh,
                           hp[i], gates + (b * L + t) * 4 * H, j, H);
        Y[(b * L + t) * H + j] = h;
        hp[i] = h;
    }
}
/* one step of backpropagation through time; dh carries the state gradient, dxp (0 at pads)
   and dhh (this step's slice, 0 for ended sequences) collect the pre-activation gradients,
   hp (this step's slice) gets the previous state for the W_hh gradient */
__global__ void k_gru_cell_bw(const float *gates, const float *Y, const float *g, const int64_t *len, float *dxp, float *dhh, float *dh,
                              float *hp, int64_t N, int64_t L, int64_t H, int64_t s, int rev) {
    int64_t G = 3 * H;
    GRID_LOOP(i, N * H) {
        int64_t b = i / H, k = i % H, t = gru_pos(s, len[b], rev), tp = rev ? t + 1 : t - 1;
        float *d = dhh + b * G;
        if (t < 0) { d[k] = 0.0f; d[H + k] = 0.0f; d[2 * H + k] = 0.0f; hp[i] = 0.0f; continue; }
        float h0 = s == 0 ? 0.0f : Y[(b * L + tp) * H + k];
        hp[i] = h0;
        dh[i] = gru_cell_bw(gates + (b * L + t) * 4 * H, dh[i] + g[(b * L + t) * H + k], h0, dxp + (b * L + t) * G, d, k, H);
    }
}

/* the per-step cuBLAS path: when asked for, or for batches beyond the fused grid's y limit */
int gru_cublas(int64_t N) {
    const char *e = getenv("NASGAN_CUDA_GRU");
    return (e && !strcmp(e, "cublas")) || N > 65535LL * GRU_TR;
}
/* steps = the longest length (order: sequences by length, longest first); N > 0 */
int64_t gru_steps(const GruSaved *sv) { return sv->len[sv->order[0]]; }
int64_t gru_active(const GruSaved *sv, int64_t s) { return sv->base[s + 1] - sv->base[s]; }
void fw_seq_gru(ng_node *n) {
    GruSaved *sv = (GruSaved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H;
    int rev = (int)n->i[0];
    float *Y = n->out->data;
    if (N * L * H > 0 && h_memset0(Y, (size_t)(N * L * H) * sizeof(float))) { ng__cuda_op_fail(n, "memset failed"); return; }
    sv->len_dev = (int64_t *)ng__cuda_scratch(n, 4 * (N > 0 ? N : 1));   /* lengths, then the packed order */
    if (!sv->len_dev) return;
    if (N > 0 && (h_h2d(sv->len_dev, sv->len, (size_t)N * sizeof(int64_t)) || h_h2d(sv->len_dev + N, sv->order, (size_t)N * sizeof(int64_t)))) {
        ng__cuda_op_fail(n, "length copy failed");
        return;
    }
    const int64_t *len = sv->len_dev, *order = sv->len_dev + N;
    int64_t S = N > 0 ? gru_steps(sv) : 0;
    if (S == 0 || H == 0 || In == 0) {
        if (S > 0 && H > 0) ng__cuda_op_fail(n, "input size 0");
        return;
    }
    const float *whh = n->in[3]->data, *bhh = n->in[5]->data;
    float *xp = ng__cuda_scratch(n, N * L * G), *hp = ng__cuda_scratch(n, 2 * N * H);
    if (!xp || !hp) return;
    fill_rows(xp, n->in[4]->data, N * L, G);
    sgemm_rm(n, 0, 1, N * L, G, In, 1.0f, x->data, In, n->in[2]->data, In, 1.0f, xp, G);     /* x W_ih^T + b_ih */
    if (!gru_cublas(N)) {   /* states alternate between the two halves of hp */
        for (int64_t s = 0; s < S; s++)
            k_gru_step<<<gru_grid(gru_active(sv, s), H), dim3(GRU_TJ, GRU_TY), 0, cu()->stream>>>(
                xp, whh, bhh, hp + (s & 1) * N * H, hp + ((s + 1) & 1) * N * H, len, order, sv->gates, Y, gru_active(sv, s), L, H, s, rev);
        launch_check(n);
        return;
    }
    float *hh = ng__cuda_scratch(n, N * G);
    if (!hh) return;
    if (h_memset0(hp, (size_t)(N * H) * sizeof(float))) { ng__cuda_op_fail(n, "memset failed"); return; }
    for (int64_t s = 0; s < S; s++) {
        if (s > 0) sgemm_rm(n, 0, 1, N, G, H, 1.0f, hp, H, whh, H, 0.0f, hh, G);   /* h W_hh^T */
        k_gru_cell<<<blocks_for(N * H), 256, 0, cu()->stream>>>(xp, hh, bhh, hp, len, sv->gates, Y, N, L, H, s, rev);
    }
    launch_check(n);
}
/* Backward: the steps last to first. Each step's dHh and h_prev go to their own slice of the
   backend workspace, so the W_hh and b_hh gradients are one GEMM and one column sum over all
   steps after the loop. */
void bw_seq_gru(ng_node *n) {
    const GruSaved *sv = (const GruSaved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H;
    const float *whh = n->in[3]->data, *Y = n->out->data, *g = n->out->grad;
    float *gx = ng__cuda_in_grad(n, 0), *gwih = ng__cuda_in_grad(n, 2), *gwhh = ng__cuda_in_grad(n, 3);
    float *gbih = ng__cuda_in_grad(n, 4), *gbhh = ng__cuda_in_grad(n, 5);
    int rev = (int)n->i[0];
    int64_t S = N > 0 ? gru_steps(sv) : 0;
    if (S == 0 || H == 0 || !sv->len_dev) return;
    const int64_t *len = sv->len_dev, *order = sv->len_dev + N;
    float *dxp = ng__cuda_scratch(n, N * L * G), *dh = ng__cuda_scratch(n, N * H);
    if (!dxp || !dh) return;
    if (h_memset0(dxp, (size_t)(N * L * G) * sizeof(float)) || h_memset0(dh, (size_t)(N * H) * sizeof(float))) {
        ng__cuda_op_fail(n, "memset failed");
        return;
    }
    /* workspace: dHh (S N x G), h_prev (S N x H), then the b_hh column-sum partials */
    int64_t SN = S * N;
    size_t fl = (size_t)(SN * (G + H)), parts = (size_t)(G * col_split(SN).n * 2);
    float *dhh = (float *)workspace(n, ((fl + 1) / 2) * sizeof(double) + parts * sizeof(double));
    if (!dhh) return;
    float *hp = dhh + SN * G;
    double *part = (double *)dhh + (fl + 1) / 2;
    if (!gru_cublas(N)) {   /* rows not running at a step keep the zeros set here */
        if (h_memset0(dhh, fl * sizeof(float))) { ng__cuda_op_fail(n, "memset failed"); return; }
        for (int64_t s = S - 1; s >= 0; s--)
            k_gru_step_bw<<<gru_grid(gru_active(sv, s), H), dim3(GRU_TJ, GRU_TY), 0, cu()->stream>>>(
                sv->gates, Y, g, whh, s + 1 < S ? dhh + (s + 1) * N * G : NULL, len, order, dxp, dhh + s * N * G, dh, hp + s * N * H,
                gru_active(sv, s), L, H, s, rev);
    } else {
        for (int64_t s = S - 1; s >= 0; s--) {
            k_gru_cell_bw<<<blocks_for(N * H), 256, 0, cu()->stream>>>(sv->gates, Y, g, len, dxp, dhh + s * N * G, dh, hp + s * N * H, N,
                                                                       L, H, s, rev);
            if (s > 0) sgemm_rm(n, 0, 0, N, H, G, 1.0f, dhh + s * N * G, G, whh, H, 1.0f, dh, H);   /* dh += dHh W_hh */
        }
    }
    if (gwhh) sgemm_rm(n, 1, 0, G, H, SN, 1.0f, dhh, G, hp, H, 1.0f, gwhh, H);                 /* += dHh^T h_prev, all steps */
    if (gbhh) colsum_add_part(gbhh, dhh, SN, G, part);
    if (gx && In > 0) sgemm_rm(n, 0, 0, N * L, In, G, 1.0f, dxp, G, n->in[2]->data, In, 1.0f, gx, In);
    if (gwih && In > 0) sgemm_rm(n, 1, 0, G, In, N * L, 1.0f, dxp, G, x->data, In, 1.0f, gwih, In);
    if (gbih) colsum_add(n, gbih, dxp, N * L, G);
    launch_check(n);
}

/* ---------------------------------------------------------------------------------------- */
/* fused optimizers                                                                         */
/* ---------------------------------------------------------------------------------------- */
__global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n, float b1, float b2, float omb1, float omb2,
                       float step_size, float sqrt_bc2, float eps, float wd) {
    GRID_LOOP(i, n) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / denom);
    }
}
void h_adam(float *p, const float *g, float *m, float *v, int64_t n, float b1, float b2, float omb1, float omb2, float step_size,
            float sqrt_bc2, float eps, float wd) {
    k_adam<<<blocks_for(n), 256, 0, cu()->stream>>>(p, g, m, v, n, b1, b2, omb1, omb2, step_size, sqrt_bc2, eps, wd);
    NG_CU_CHECK(cudaGetLastError());
}
__global__ void k_ema(float *s, const float *p, int64_t n, float d, float omd) { GRID_LOOP(i, n) s[i] = d * s[i] + omd * p[i]; }
void h_ema(float *s, const float *p, int64_t n, float d, float omd) {
    k_ema<<<blocks_for(n), 256, 0, cu()->stream>>>(s, p, n, d, omd);
    NG_CU_CHECK(cudaGetLastError());
}
/* torch.optim.SGD, ng_sgd_step's arithmetic; buf NULL: no momentum */
__global__ void k_sgd(float *p, const float *g, float *buf, int64_t n, float lr, float mom, float omd, float wd,
                      int first, int nesterov) {
    GRID_LOOP(i, n) {
        float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        if (buf) {
            float b = first ? d : mom * buf[i] + omd * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] -= lr * d;
    }
}
void h_sgd(float *p, const float *g, float *buf, int64_t n, float lr, float mom, float omd, float wd, int first, int nesterov) {
    k_sgd<<<blocks_for(n), 256, 0, cu()->stream>>>(p, g, buf, n, lr, mom, omd, wd, first, nesterov);
    NG_CU_CHECK(cudaGetLastError());
}
/* Sum of squares for gradient clipping: SUMSQ_PARTS blocks each reduce a fixed contiguous
   chunk with a fixed tree (double), the host adds the parts in order: deterministic. */
enum { SUMSQ_PARTS = 256 };
__global__ void k_sumsq_parts(const float *x, int64_t n, int64_t chunk, double *parts) {
    __shared__ double sh[256];
    int64_t lo = (int64_t)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += 256) s += (double)x[i] * x[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) parts[blockIdx.x] = sh[0];
}
double h_sumsq(const float *x, int64_t n) {
    double host[SUMSQ_PARTS], s = 0.0;
    int64_t chunk = (n + SUMSQ_PARTS - 1) / SUMSQ_PARTS;
    if (n <= 0) return 0.0;
    if (!cu()->sumsq_parts && !(cu()->sumsq_parts = (double *)h_malloc(sizeof host))) return NAN;
    k_sumsq_parts<<<SUMSQ_PARTS, 256, 0, cu()->stream>>>(x, n, chunk, cu()->sumsq_parts);
    if (NG_CU_CHECK(cudaGetLastError()) || h_d2h(host, cu()->sumsq_parts, sizeof host)) return NAN;
    for (int i = 0; i < SUMSQ_PARTS; i++) s += host[i];
    return s;
}
__global__ void k_scale(float *x, int64_t n, float c) { GRID_LOOP(i, n) x[i] *= c; }
void h_scale(float *x, int64_t n, float c) {
    k_scale<<<blocks_for(n), 256, 0, cu()->stream>>>(x, n, c);
    NG_CU_CHECK(cudaGetLastError());
}

/* ---------------------------------------------------------------------------------------- */
/* FID Inception-v3 inference (src/inception.c's device path): activations (C, B, H, W),    */
/* channel-major across the batch, so a convolution is one GEMM over the whole batch and a   */
/* block's concatenation is each branch writing its channel range. Exact FP32 always.        */
/* ---------------------------------------------------------------------------------------- */
/* Runs f with cuBLAS in exact FP32 (TF32 off for the duration when it was on); 0 on success. */
template <typename F>
int exact_fp32(F f) {
    int on = cu()->tf32, fail = on && set_math(0);
    if (!fail) fail = f();
    if (on && set_math(1)) fail = 1;
    return fail || NG_CU_CHECK(cudaGetLastError());
}
/* im2col rows [t0, t0 + nr) of the (K, B ho wo) column matrix, a row being one (b, oy) output
   line; tile (K, nr wo); one (k, line) per threadIdx.y */
__global__ void k_inc_im2col(const float *x, float *col, ng_cuda_inc_conv g, int64_t t0, int64_t nr) {
    int taps = g.kh * g.kw;
    ROW_LOOP(r, (int64_t)g.cin * taps * nr) {
        int64_t k = r / nr, rr = r % nr, line = t0 + rr;
        int ci = (int)(k / taps), dy = (int)(k % taps) / g.kw, dx = (int)(k % taps) % g.kw;
        int b = (int)(line / g.ho), iy = (int)(line % g.ho) * g.stride - g.ph + dy;
        float *dst = col + r * g.wo;
        if (iy < 0 || iy >= g.h) { COL_LOOP(ox, g.wo) dst[ox] = 0.0f; continue; }
        const float *src = x + (((int64_t)ci * g.B + b) * g.h + iy) * g.w;
        COL_LOOP(ox, g.wo) {
            int ix = (int)ox * g.stride - g.pw + dx;
            dst[ox] = ix >= 0 && ix < g.w ? src[ix] : 0.0f;
        }
    }
}
/* y (C, B, P) = relu(y + b[c]); one plane per row */
__global__ void k_inc_bias_relu(float *y, const float *b, int64_t C, int64_t B, int64_t P) {
    ROW_LOOP(r, C * B) {
        float bv = b[r / B], *yp = y + r * P;
        COL_LOOP(p, P) yp[p] = fmaxf(yp[p] + bv, 0.0f);
    }
}
int h_inc_conv(const ng_cuda_inc_conv *g, const float *w, const float *b, const float *x, float *y, float *col) {
    int64_t K = (int64_t)g->cin * g->kh * g->kw, N = (int64_t)g->B * g->ho * g->wo, lines = (int64_t)g->B * g->ho;
    bool pointwise = g->kh == 1 && g->kw == 1 && g->stride == 1 && g->ph == 0 && g->pw == 0;
    return exact_fp32([&]() {
        if (pointwise) {
            if (sgemm_rm_raw(0, 0, g->cout, N, K, 1.0f, w, K, x, N, 0.0f, y, N)) return 1;
        } else {
            for (int64_t t0 = 0; t0 < lines; t0 += g->tile_rows) {
                int64_t nr = lines - t0 < g->tile_rows ? lines - t0 : g->tile_rows;
                RowGrid rg = row_grid(K * nr, g->wo);
                k_inc_im2col<<<rg.grid, rg.block, 0, cu()->stream>>>(x, col, *g, t0, nr);
                if (sgemm_rm_raw(0, 0, g->cout, nr * g->wo, K, 1.0f, w, K, col, nr * g->wo, 0.0f, y + t0 * g->wo, N)) return 1;
            }
        }
        RowGrid rg = row_grid((int64_t)g->cout * g->B, (int64_t)g->ho * g->wo);
        k_inc_bias_relu<<<rg.grid, rg.block, 0, cu()->stream>>>(y, b, g->cout, g->B, (int64_t)g->ho * g->wo);
        return 0;
    });
}
/* 3x3 pools, one output line (plane, oy) per row. The mean adds the window's rows in the CPU's
   order (centre row first at an edge), then the columns likewise, and divides by the number
   of valid pixels. */
__device__ inline float inc_pool_column(int kind, const float *in, int w, int y0, int oy, int y1, int ny, int xx) {
    float a = in[y0 * w + xx], c = in[oy * w + xx], d = in[y1 * w + xx];
    if (kind == NG_CUDA_INC_MAX3) return fmaxf(fmaxf(a, c), d);
    if (ny == 3) return a + c + d;
    if (ny == 2) return c + (oy > 0 ? a : d);
    return c;
}
__global__ void k_inc_pool(int kind, const float *x, float *y, int64_t planes, int h, int w, int ho, int wo) {
    ROW_LOOP(r, planes * ho) {
        int oy = (int)(r % ho);
        const float *in = x + (r / ho) * h * w;
        float *out = y + r * wo;
        if (kind == NG_CUDA_INC_MAX3_S2) {
            COL_LOOP(ox, wo) {
                const float *p = in + (2 * oy) * w + 2 * ox;
                float m = p[0];
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) m = fmaxf(m, p[i * w + j]);
                out[ox] = m;
            }
            continue;
        }
        int y0 = oy > 0 ? oy - 1 : oy, y1 = oy < h - 1 ? oy + 1 : oy, ny = 1 + (oy > 0) + (oy < h - 1);
        COL_LOOP(ox, wo) {
            int xm = (int)ox, xl = xm > 0 ? xm - 1 : xm, xr = xm < w - 1 ? xm + 1 : xm;
            float l = inc_pool_column(kind, in, w, y0, oy, y1, ny, xl), m = inc_pool_column(kind, in, w, y0, oy, y1, ny, xm);
            float rt = inc_pool_column(kind, in, w, y0, oy, y1, ny, xr);
            if (kind == NG_CUDA_INC_MAX3) out[ox] = fmaxf(fmaxf(l, m), rt);
            else out[ox] = (m + (xm > 0 ? l : 0.0f) + (xm < w - 1 ? rt : 0.0f)) / ((float)(1 + (xm > 0) + (xm < w - 1)) * (float)ny);
        }
    }
}
int h_inc_pool(int kind, const float *x, float *y, int64_t planes, int h, int w) {
    int ho = kind == NG_CUDA_INC_MAX3_S2 ? (h - 3) / 2 + 1 : h, wo = kind == NG_CUDA_INC_MAX3_S2 ? (w - 3) / 2 + 1 : w;
    RowGrid rg = row_grid(planes * ho, wo);
    k_inc_pool<<<rg.grid, rg.block, 0, cu()->stream>>>(kind, x, y, planes, h, w, ho, wo);
    return NG_CU_CHECK(cudaGetLastError());
}
/* bilinear, align_corners = False: source coordinate (i + 0.5) in/out - 0.5 clamped at 0, in
   double as on the CPU; one output line (plane, oy) per row, planes (c, b) of (3, n) */
__device__ inline void inc_src(int i, int in, int out, int *i0, int *i1, float *l) {
    double s = ((double)i + 0.5) * ((double)in / out) - 0.5;
    if (s < 0) s = 0;
    *i0 = (int)s;
    *i1 = *i0 + (*i0 < in - 1);
    *l = (float)(s - *i0);
}
__global__ void k_inc_resize(const float *x, int n, int channels, int h, int w, float *out, int S) {
    ROW_LOOP(r, (int64_t)3 * n * S) {
        int64_t p = r / S;
        int c = (int)(p / n), b = (int)(p % n), y0, y1, x0, x1;
        float ly, lx;
        inc_src((int)(r % S), h, S, &y0, &y1, &ly);
        const float *in = x + ((int64_t)b * channels + (channels == 1 ? 0 : c)) * h * w;
        const float *r0 = in + (int64_t)y0 * w, *r1 = in + (int64_t)y1 * w;
        float *o = out + r * S;
        COL_LOOP(ox, S) {
            inc_src((int)ox, w, S, &x0, &x1, &lx);
            float top = (1 - lx) * r0[x0] + lx * r0[x1], bot = (1 - lx) * r1[x0] + lx * r1[x1];
            o[ox] = (1 - ly) * top + ly * bot;
        }
    }
}
/* TF1's resize_bilinear (no half pixel) of the image back in [0, 255], then (r - 128) / 128,
   in float32 step by step as src/inception.c's ng__inc_resize_tf1 (NG_INCEPTION_TF1) */
__device__ inline void inc_src_tf1(int i, int in, float scale, int *i0, int *i1, float *d) {
    float g = __fmul_rn((float)i, scale);   /* no contraction into an FMA: the CPU's product */
    *i0 = (int)g;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *d = __fsub_rn(g, (float)*i0);
}
__device__ inline float inc_lerp(float a, float b, float t) { return __fadd_rn(a, __fmul_rn(__fsub_rn(b, a), t)); }
/* the [0, 255] level, snapped to the byte within 1e-3 (src/inception.c's ng__inc_level) */
__device__ inline float inc_u8(float x) {
    float u = __fmul_rn(127.5f, __fadd_rn(x, 1.0f)), r = rintf(u);
    return fabsf(__fsub_rn(u, r)) < 1e-3f ? r : u;
}
__global__ void k_inc_resize_tf1(const float *x, int n, int channels, int h, int w, float *out, int S, float sy, float sx) {
    ROW_LOOP(r, (int64_t)3 * n * S) {
        int64_t p = r / S;
        int c = (int)(p / n), b = (int)(p % n), y0, y1, x0, x1;
        float dy, dx;
        inc_src_tf1((int)(r % S), h, sy, &y0, &y1, &dy);
        const float *in = x + ((int64_t)b * channels + (channels == 1 ? 0 : c)) * h * w;
        const float *r0 = in + (int64_t)y0 * w, *r1 = in + (int64_t)y1 * w;
        float *o = out + r * S;
        COL_LOOP(ox, S) {
            inc_src_tf1((int)ox, w, sx, &x0, &x1, &dx);
            float top = inc_lerp(inc_u8(r0[x0]), inc_u8(r0[x1]), dx), bot = inc_lerp(inc_u8(r1[x0]), inc_u8(r1[x1]), dx);
            o[ox] = __fdiv_rn(__fsub_rn(inc_lerp(top, bot, dy), 128.0f), 128.0f);
        }
    }
}
int h_inc_resize(const float *x, int n, int channels, int h, int w, float *out, int size, int mode) {
    RowGrid rg = row_grid((int64_t)3 * n * size, size);
    if (mode == NG_INCEPTION_TF1)
        k_inc_resize_tf1<<<rg.grid, rg.block, 0, cu()->stream>>>(x, n, channels, h, w, out, size, (float)((double)h / size),
                                                                   (float)((double)w / size));
    else
        k_inc_resize<<<rg.grid, rg.block, 0, cu()->stream>>>(x, n, channels, h, w, out, size);
    return NG_CU_CHECK(cudaGetLastError());
}
/* pool3[b F + f] = mean of plane (f, b), summed in double in order */
__global__ void k_inc_gap(const float *x, float *pool3, int64_t B, int64_t F, int64_t hw) {
    GRID_LOOP(o, B * F) {
        const float *pl = x + ((o % F) * B + o / F) * hw;
        double s = 0;
        for (int64_t k = 0; k < hw; k++) s += pl[k];
        pool3[o] = (float)(s / (double)hw);
    }
}
__global__ void k_add_rows(float *y, const float *b, int64_t rows, int64_t cols) {
    ROW_LOOP(r, rows) COL_LOOP(j, cols) y[r * cols + j] += b[j];
}
int h_inc_head(const float *x, int B, int F, int hw, const float *fc_w, const float *fc_b, int L, float *pool3, float *logits) {
    return exact_fp32([&]() {
        k_inc_gap<<<blocks_for((int64_t)B * F), 256, 0, cu()->stream>>>(x, pool3, B, F, hw);
        if (!logits) return 0;
        if (sgemm_rm_raw(0, 1, B, L, F, 1.0f, pool3, F, fc_w, F, 0.0f, logits, L)) return 1;
        RowGrid rg = row_grid(B, L);
        k_add_rows<<<rg.grid, rg.block, 0, cu()->stream>>>(logits, fc_b, B, L);
        return 0;
    });
}

/* ---------------------------------------------------------------------------------------- */
/* registration                                                                             */
/* ---------------------------------------------------------------------------------------- */
ng_cuda_hooks g_hooks;

struct Registrar {
    Registrar() {
        memset(&g_hooks, 0, sizeof g_hooks);
        g_hooks.device_count = h_device_count;
        g_hooks.init = h_init;
        g_hooks.info = h_info;
        g_hooks.dev_malloc = h_malloc;
        g_hooks.dev_free = h_free;
        g_hooks.memcpy_h2d = h_h2d;
        g_hooks.memcpy_d2h = h_d2h;
        g_hooks.memcpy_d2d = h_d2d;
        g_hooks.memset0 = h_memset0;
        g_hooks.synchronize = h_sync;
        g_hooks.set_tf32 = h_set_tf32;
        g_hooks.peak_bytes = h_peak;
        g_hooks.mem_free = h_mem_free;
        g_hooks.adam = h_adam;
        g_hooks.ema = h_ema;
        g_hooks.sgd = h_sgd;
        g_hooks.sumsq = h_sumsq;
        g_hooks.scale = h_scale;
        g_hooks.inc_conv = h_inc_conv;
        g_hooks.inc_pool = h_inc_pool;
        g_hooks.inc_resize = h_inc_resize;
        g_hooks.inc_head = h_inc_head;
#define NG_CU_REG(E, f) g_hooks.fw[NG_OP_##E] = fw_##f; g_hooks.bw[NG_OP_##E] = bw_##f;
        NG_CU_REG(MATMUL, matmul) NG_CU_REG(LINEAR, linear) NG_CU_REG(ADD, add) NG_CU_REG(SUB, sub) NG_CU_REG(MUL, mul)
        NG_CU_REG(SCALE, scale) NG_CU_REG(ADD_SCALAR, add_scalar) NG_CU_REG(REDUCE, reduce) NG_CU_REG(RESHAPE, reshape)
        NG_CU_REG(CONCAT, concat) NG_CU_REG(SLICE, slice)
        NG_CU_REG(RELU, relu) NG_CU_REG(LEAKY_RELU, leaky_relu) NG_CU_REG(TANH, tanh) NG_CU_REG(SIGMOID, sigmoid)
        NG_CU_REG(SOFTMAX, softmax) NG_CU_REG(LOG_SOFTMAX, log_softmax) NG_CU_REG(DROPOUT, dropout)
        NG_CU_REG(CROSS_ENTROPY, cross_entropy) NG_CU_REG(HINGE, hinge) NG_CU_REG(BCE_LOGITS, bce_logits)
        NG_CU_REG(CONV2D, conv2d) NG_CU_REG(CONV_T2D, conv_transpose2d) NG_CU_REG(BATCH_NORM, batch_norm) NG_CU_REG(SPECTRAL_NORM, spectral_norm) NG_CU_REG(MIXED, mixed) NG_CU_REG(MIXED_COLS, mixed_cols) NG_CU_REG(UPSAMPLE, upsample) NG_CU_REG(AVG_POOL2, avg_pool2) NG_CU_REG(SUM_HW, sum_hw)
        NG_CU_REG(EMBEDDING, embedding) NG_CU_REG(SEQ_MASK, seq_mask) NG_CU_REG(CONV1D, conv1d) NG_CU_REG(SEQ_POOL3, seq_pool3)
        NG_CU_REG(SEQ_BATCH_NORM, seq_batch_norm) NG_CU_REG(SEQ_MEAN_POOL, seq_mean_pool) NG_CU_REG(SEQ_ATTENTION, seq_attention)
        NG_CU_REG(SEQ_GRU, seq_gru)
#undef NG_CU_REG
        ng_cuda_register(&g_hooks);
    }
};
Registrar g_registrar;

} /* namespace */
