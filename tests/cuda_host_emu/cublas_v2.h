/* Host emulation of the cuBLAS subset nasgan_cuda.cu uses: column-major SGEMM, plain dot
   products with a double accumulator, columns spread over OpenMP threads
   (tests/cuda_host_emu/run.sh). */
#pragma once
#include "cuda_runtime.h" /* emu_device_scope */
#include <vector>
typedef int cublasStatus_t;
typedef void *cublasHandle_t;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
typedef enum { CUBLAS_OP_N, CUBLAS_OP_T } cublasOperation_t;
enum { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_ATOMICS_NOT_ALLOWED, CUBLAS_POINTER_MODE_HOST };
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, int) { return 0; }
inline cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = nullptr; return 0; }
inline cublasStatus_t cublasDestroy(cublasHandle_t) { return 0; }
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
    if (m && n && batch) {   /* each operand's last element inside its allocation */
        long long ra = ta == CUBLAS_OP_N ? m : k, ca = ta == CUBLAS_OP_N ? k : m;
        long long rb = tb == CUBLAS_OP_N ? k : n, cb = tb == CUBLAS_OP_N ? n : k;
        if (k) emu_check_extent(A, 4 * (size_t)((batch - 1) * sA + (ca - 1) * lda + ra), "SGEMM operand A");
        if (k) emu_check_extent(B, 4 * (size_t)((batch - 1) * sB + (cb - 1) * ldb + rb), "SGEMM operand B");
        emu_check_extent(C, 4 * (size_t)((batch - 1) * sC + (long long)(n - 1) * ldc + m), "SGEMM result C");
    }
    if (emu_dry()) return CUBLAS_STATUS_SUCCESS;
    emu_device_scope scope;
    /* op(A) packed row by row and each column of op(B) packed, so the dot products run over
       contiguous memory (the summation order, l = 0..k-1 in double, is unchanged) */
    std::vector<float> pa((size_t)m * k);
    for (int q = 0; q < batch; q++) {
        const float *a = A + q * sA, *b = B + q * sB;
        float *c = C + q * sC;
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++) pa[(size_t)i * k + l] = ta == CUBLAS_OP_N ? a[i + (long long)l * lda] : a[l + (long long)i * lda];
#pragma omp parallel
        {
        std::vector<float> pb((size_t)k);           /* one column buffer per thread */
#pragma omp for schedule(static)
        for (int j = 0; j < n; j++) {
            for (int l = 0; l < k; l++) pb[l] = tb == CUBLAS_OP_N ? b[l + (long long)j * ldb] : b[j + (long long)l * ldb];
            for (int i0 = 0; i0 < m; i0 += 4) {      /* four rows at a time, each summed in order */
                int nr = m - i0 < 4 ? m - i0 : 4;
                double s[4] = {0.0, 0.0, 0.0, 0.0};
                const float *ai = pa.data() + (size_t)i0 * k;
                if (nr == 4)
                    for (int l = 0; l < k; l++) {
                        double bv = pb[l];
                        s[0] += (double)ai[l] * bv; s[1] += (double)ai[k + l] * bv;
                        s[2] += (double)ai[2 * k + l] * bv; s[3] += (double)ai[3 * k + l] * bv;
                    }
                else
                    for (int r = 0; r < nr; r++)
                        for (int l = 0; l < k; l++) s[r] += (double)ai[(size_t)r * k + l] * pb[l];
                for (int r = 0; r < nr; r++) {
                    float *cv = c + i0 + r + (long long)j * ldc;
                    *cv = (float)(*alpha * s[r] + (*beta != 0.0f ? (double)*beta * *cv : 0.0));
                }
            }
        }
        }
    }
    return 0;
}
inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                                  const float *A, int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
