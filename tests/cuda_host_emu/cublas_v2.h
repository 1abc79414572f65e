/* Host emulation of the cuBLAS subset nasgan_cuda.cu uses: column-major SGEMM, naive loops
   with a double accumulator (tests/cuda_host_emu/run.sh). */
#pragma once
#include "cuda_runtime.h" /* emu_device_scope */
typedef int cublasStatus_t;
typedef void *cublasHandle_t;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
typedef enum { CUBLAS_OP_N, CUBLAS_OP_T } cublasOperation_t;
enum { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_ATOMICS_NOT_ALLOWED, CUBLAS_POINTER_MODE_HOST };
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, int) { return 0; }
inline cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = nullptr; return 0; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, void *) { return 0; }
/* the loops below need no workspace: give its (guarded, page-aligned) pages back, fewer
   resident pages for the guard's mprotect calls to walk (cuda_runtime.h) */
inline cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *p, size_t n) {
    emu_device_scope scope;
    if (emu_guard_on()) madvise(p, n, MADV_DONTNEED);
    return 0;
}
inline cublasStatus_t cublasSetAtomicsMode(cublasHandle_t, int) { return 0; }
inline cublasStatus_t cublasSetPointerMode(cublasHandle_t, int) { return 0; }
inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                                const float *alpha, const float *A, int lda, long long sA, const float *B, int ldb,
                                                long long sB, const float *beta, float *C, int ldc, long long sC, int batch) {
    /* the checks cuBLAS makes on leading dimensions */
    if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (lda < (ta == CUBLAS_OP_N ? (m > 1 ? m : 1) : (k > 1 ? k : 1))) return CUBLAS_STATUS_INVALID_VALUE;
    if (ldb < (tb == CUBLAS_OP_N ? (k > 1 ? k : 1) : (n > 1 ? n : 1))) return CUBLAS_STATUS_INVALID_VALUE;
    if (ldc < (m > 1 ? m : 1)) return CUBLAS_STATUS_INVALID_VALUE;
    emu_device_scope scope;
    for (int q = 0; q < batch; q++) {
        const float *a = A + q * sA, *b = B + q * sB;
        float *c = C + q * sC;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0.0;
                for (int l = 0; l < k; l++) {
                    float av = ta == CUBLAS_OP_N ? a[i + (long long)l * lda] : a[l + (long long)i * lda];
                    float bv = tb == CUBLAS_OP_N ? b[l + (long long)j * ldb] : b[j + (long long)l * ldb];
                    s += (double)av * bv;
                }
                float *cv = c + i + (long long)j * ldc;
                *cv = (float)(*alpha * s + (*beta != 0.0f ? (double)*beta * *cv : 0.0));
            }
    }
    return 0;
}
inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                                  const float *A, int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
