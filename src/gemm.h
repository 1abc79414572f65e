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
