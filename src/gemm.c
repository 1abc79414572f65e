/* ======================================================================================== */
/* @@GEMM                                                                                   */
/* ======================================================================================== */
/* Reference triple loop (the fast blocked kernel replaces the body of ng_sgemm_builtin). */
void ng_sgemm_builtin(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    int64_t i, j, k;
    for (i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) for (j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f) for (j = 0; j < N; j++) c[j] *= beta;
        for (k = 0; k < K; k++) {
            float a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
            if (!trans_b) {
                const float *b = B + k * ldb;
                for (j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
            }
        }
    }
}

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
