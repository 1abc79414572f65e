/* ng_sgemm_builtin against a double-precision triple loop, over shapes that hit every path of
   the blocked kernel: tiny products (plain loops), partial micro-tiles, sizes just below/above
   the register and cache blocks, primes, all four transpose combinations, alpha/beta values,
   padded leading dimensions; plus the BLAS corner cases (beta == 0 ignores NaN in C, K == 0,
   alpha == 0), calls from inside an OpenMP parallel region, thread-count independence and
   agreement with OpenBLAS when it is compiled in.

   Tolerance, per element: |C - ref| <= 4 eps sqrt(K + 1) (|alpha| sum_k |a_ik b_kj| + |beta c_ij|)
   with eps = FLT_EPSILON. Rounding errors of a float sum of K terms behave like a random walk,
   about eps sqrt(K) times the sum of magnitudes (the worst case K eps is never approached with
   random data); the factor 4 covers the alpha and beta roundings and blocked reassociation. The
   reference is exact to double precision, so the bound is entirely the float kernel's. */
#include "test.h"
#include <float.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct gemm_case {
    int ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    int nan_c; /* pre-fill C with NaN (only with beta == 0) */
} gemm_case;

/* Storage of op(X) (rows x cols) given transposition: stored rows x ld. */
static int64_t stored_rows(int t, int64_t rows, int64_t cols) { return t ? cols : rows; }

/* Random A, B, C for a case; C's padding (columns n..ldc) holds a sentinel. */
static void gemm_alloc(const gemm_case *g, ng_rng *r, float **A, float **B, float **C) {
    int64_t ar = stored_rows(g->ta, g->m, g->k), br = stored_rows(g->tb, g->k, g->n), i, j;
    *A = (float *)malloc((size_t)(ar * g->lda) * sizeof(float));
    *B = (float *)malloc((size_t)(br * g->ldb) * sizeof(float));
    *C = (float *)malloc((size_t)(g->m * g->ldc + 1) * sizeof(float));
    fill_uniform(*A, ar * g->lda, r, -1.0f, 1.0f);
    fill_uniform(*B, br * g->ldb, r, -1.0f, 1.0f);
    for (i = 0; i < g->m; i++)
        for (j = 0; j < g->ldc; j++)
            (*C)[i * g->ldc + j] = j < g->n ? (g->nan_c ? NAN : ng_rng_uniformf(r, -1.0f, 1.0f)) : 12345.0f;
    (*C)[g->m * g->ldc] = 12345.0f;
}

/* Compare C (after the product) with the double reference computed from C0 (before). */
static int gemm_check(const gemm_case *g, const float *A, const float *B, const float *C0,
                      const float *C, const char *what) {
    int64_t i, j, k, bad = 0;
    for (i = 0; i < g->m; i++) {
        for (j = 0; j < g->ldc; j++) {
            double s = 0.0, mag = 0.0, ref, tol, got = C[i * g->ldc + j];
            if (j >= g->n) { /* padding must be untouched */
                if (C[i * g->ldc + j] != 12345.0f && bad++ < 3)
                    ng_test_fail(__FILE__, __LINE__, "%s: padding C[%lld][%lld] overwritten", what, (long long)i, (long long)j);
                continue;
            }
            for (k = 0; k < g->k; k++) {
                double a = g->ta ? A[k * g->lda + i] : A[i * g->lda + k];
                double b = g->tb ? B[j * g->ldb + k] : B[k * g->ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            ref = (double)g->alpha * s;
            mag = fabs((double)g->alpha) * mag;
            if (g->beta != 0.0f) {
                ref += (double)g->beta * C0[i * g->ldc + j];
                mag += fabs((double)g->beta * C0[i * g->ldc + j]);
            }
            tol = 4.0 * FLT_EPSILON * sqrt((double)g->k + 1.0) * mag + 1e-30;
            if (!isfinite(got) || fabs(got - ref) > tol) {
                if (bad++ < 3)
                    ng_test_fail(__FILE__, __LINE__,
                                 "%s ta=%d tb=%d M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld alpha=%g beta=%g: "
                                 "C[%lld][%lld] = %.9g, want %.9g (tol %.3g)",
                                 what, g->ta, g->tb, (long long)g->m, (long long)g->n, (long long)g->k,
                                 (long long)g->lda, (long long)g->ldb, (long long)g->ldc, g->alpha, g->beta,
                                 (long long)i, (long long)j, got, ref, tol);
            }
        }
    }
    if (C[g->m * g->ldc] != 12345.0f && bad++ < 3) ng_test_fail(__FILE__, __LINE__, "%s: wrote past C", what);
    return (int)bad;
}

static int run_case(const gemm_case *g, uint64_t seed) {
    ng_rng r;
    float *A, *B, *C, *C0;
    int bad;
    ng_rng_seed(&r, seed);
    ng_test_seed = seed;
    gemm_alloc(g, &r, &A, &B, &C);
    C0 = (float *)malloc((size_t)(g->m * g->ldc + 1) * sizeof(float));
    memcpy(C0, C, (size_t)(g->m * g->ldc + 1) * sizeof(float));
    ng_sgemm_builtin(g->ta, g->tb, g->m, g->n, g->k, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
    bad = gemm_check(g, A, B, C0, C, "builtin");
    free(A); free(B); free(C); free(C0);
    return bad;
}

static gemm_case mk(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha, float beta) {
    gemm_case g;
    memset(&g, 0, sizeof g);
    g.ta = ta; g.tb = tb; g.m = m; g.n = n; g.k = k;
    g.lda = (ta ? m : k) + pad;
    g.ldb = (tb ? k : n) + pad;
    g.ldc = n + pad;
    g.alpha = alpha; g.beta = beta;
    return g;
}

/* Two paths: products with K <= 256 and M N K <= 128^3 take the direct path (no packing), the
   rest the packed one. Every shape runs as given and with K + 257 (always packed).
   Shapes: ones, primes, micro-tile edges (MR in {4, 6, 12}, NR in {16, 32}), cache-block edges
   (KC 256, MC 144), shapes large enough to be threaded. */
static const int64_t shapes[][3] = {
    {1, 1, 1}, {1, 1, 7}, {1, 17, 1}, {17, 1, 1}, {1, 1, 300}, {2, 3, 5}, {7, 13, 11},
    {5, 31, 29}, {11, 33, 17}, {6, 16, 64}, {12, 32, 64}, {13, 33, 65}, {23, 47, 31},
    {3, 200, 19}, {200, 3, 19}, {31, 15, 255}, {29, 17, 256}, {25, 37, 257}, {143, 37, 17},
    {144, 33, 9}, {145, 31, 13}, {61, 97, 129}, {101, 67, 43}, {1, 513, 300}, {257, 1, 129},
    {130, 129, 127}, {19, 1000, 7},
};

TEST(gemm_shapes_transposes) {
    size_t s;
    int t, packed;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (packed = 0; packed < 2; packed++)
            for (t = 0; t < 4; t++) {
                const int64_t *d = shapes[s];
                /* vary alpha, beta and padding with the case so every combination shows up */
                static const float alphas[] = {1.0f, -0.5f, 2.0f, 0.75f};
                static const float betas[] = {0.0f, 1.0f, -1.5f, 0.25f};
                gemm_case g = mk(t & 1, t >> 1, d[0], d[1], d[2] + 257 * packed, (int64_t)((s + t + packed) % 3) * 3,
                                 alphas[(s + t) % 4], betas[(s + 2 * t + packed) % 4]);
                run_case(&g, 1000 + s * 8 + (size_t)packed * 4 + t);
            }
}

TEST(gemm_alpha_beta_grid) {
    static const float alphas[] = {1.0f, -1.0f, 0.3f};
    static const float betas[] = {0.0f, 1.0f, -2.0f, 0.5f};
    int a, b, t, packed;
    for (a = 0; a < 3; a++)
        for (b = 0; b < 4; b++)
            for (t = 0; t < 4; t++)
                for (packed = 0; packed < 2; packed++) {
                    gemm_case g = mk(t & 1, t >> 1, 37, 41, 53 + 257 * packed, 1, alphas[a], betas[b]);
                    run_case(&g, 2000 + a * 32 + b * 8 + t * 2 + packed);
                }
}

TEST(gemm_large) {
    int t;
    for (t = 0; t < 4; t++) {
        gemm_case g = mk(t & 1, t >> 1, 300, 257, 513, t == 3 ? 5 : 0, t == 1 ? -1.25f : 1.0f, t == 2 ? 0.5f : 0.0f);
        run_case(&g, 3000 + t);
    }
}

/* beta == 0 must overwrite C even when it holds NaN (BLAS semantics), on every path. */
TEST(gemm_beta_zero_ignores_nan) {
    static const int64_t d[][3] = {{3, 4, 5}, {13, 33, 65}, {150, 70, 300}, {97, 60, 200}};
    int s, t;
    for (s = 0; s < 4; s++)
        for (t = 0; t < 4; t++) {
            gemm_case g = mk(t & 1, t >> 1, d[s][0], d[s][1], d[s][2], 2, 1.5f, 0.0f);
            g.nan_c = 1;
            run_case(&g, 4000 + s * 4 + t);
        }
}

/* K == 0 and alpha == 0: C = beta C, A and B never read (NULL is fine). */
TEST(gemm_k0_alpha0) {
    float C[6] = {1, 2, 3, 4, 5, 6}, Cn[6];
    int i;
    ng_sgemm_builtin(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3);
    for (i = 0; i < 6; i++) CHECK(C[i] == 2.0f * (float)(i + 1));
    for (i = 0; i < 6; i++) Cn[i] = NAN;
    ng_sgemm_builtin(1, 1, 2, 3, 0, 1.0f, NULL, 2, NULL, 1, 0.0f, Cn, 3);
    for (i = 0; i < 6; i++) CHECK(Cn[i] == 0.0f);
    ng_sgemm_builtin(0, 1, 2, 3, 4, 0.0f, NULL, 4, NULL, 4, 0.5f, C, 3);
    for (i = 0; i < 6; i++) CHECK(C[i] == (float)(i + 1));
    /* M or N == 0: nothing happens */
    ng_sgemm_builtin(0, 0, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 3);
    ng_sgemm_builtin(0, 0, 2, 0, 4, 1.0f, NULL, 4, NULL, 1, 0.0f, NULL, 1);
}

/* Leading dimensions shorter than a row are programmer errors (NG_ASSERT). */
static void bad_ldc(void *u) { float c[4] = {0}; (void)u; ng_sgemm_builtin(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.0f, c, 1); }
static void bad_lda(void *u) { float a[6] = {0}, b[6] = {0}, c[4] = {0}; (void)u; ng_sgemm_builtin(1, 0, 2, 2, 3, 1.0f, a, 1, b, 2, 0.0f, c, 2); }
static void bad_ldb(void *u) { float a[6] = {0}, b[6] = {0}, c[4] = {0}; (void)u; ng_sgemm_builtin(0, 1, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2); }
TEST(gemm_bad_leading_dims_assert) {
    CHECK(ng_test_expect_assert(bad_ldc, NULL));
    CHECK(ng_test_expect_assert(bad_lda, NULL));
    CHECK(ng_test_expect_assert(bad_ldb, NULL));
}

/* The same product from a threaded call, from inside a parallel region (single-threaded there)
   and with one thread is bitwise identical: the tile grid and K blocking do not depend on the
   split, and nothing is accumulated across threads. Both paths (direct: K <= 256, packed),
   with several K blocks and beta != 0 (a tile's K-block updates must land in order). */
TEST(gemm_threads_and_parallel_region) {
    static const int64_t d[][3] = {{211, 190, 300}, {127, 120, 100}, {40, 700, 90}, {200, 150, 800}, {20, 900, 600}};
    int s, rep;
    for (s = 0; s < 5; s++)
        for (rep = 0; rep < 2; rep++) {
            const int64_t m = d[s][0], n = d[s][1], k = d[s][2];
            const float beta = rep ? 0.5f : 0.0f;
            float *A = (float *)malloc((size_t)(m * k) * sizeof(float));
            float *B = (float *)malloc((size_t)(n * k) * sizeof(float));
            float *C0 = (float *)malloc((size_t)(m * n) * sizeof(float));
            float *C1 = (float *)malloc((size_t)(m * n) * sizeof(float));
            float *C2 = (float *)malloc((size_t)(m * n) * sizeof(float));
            float *Cp = (float *)malloc((size_t)(4 * m * n) * sizeof(float));
            const size_t bytes = (size_t)(m * n) * sizeof(float);
            ng_rng r;
            int t, t_before = ng_num_threads();
            ng_test_seed = 5000 + (uint64_t)(2 * s + rep);
            ng_rng_seed(&r, ng_test_seed);
            fill_uniform(A, m * k, &r, -1, 1);
            fill_uniform(B, n * k, &r, -1, 1);
            fill_uniform(C0, m * n, &r, -1, 1);
            memcpy(C1, C0, bytes);
            ng_sgemm_builtin(0, 1, m, n, k, 0.5f, A, k, B, k, beta, C1, n);
            memcpy(C2, C0, bytes);
            ng_set_num_threads(1);
            ng_sgemm_builtin(0, 1, m, n, k, 0.5f, A, k, B, k, beta, C2, n);
            ng_set_num_threads(t_before);
            CHECK(memcmp(C1, C2, bytes) == 0);
            for (t = 0; t < 4; t++) memcpy(Cp + t * m * n, C0, bytes);
#ifdef _OPENMP
#pragma omp parallel for num_threads(2)
#endif
            for (t = 0; t < 4; t++)
                ng_sgemm_builtin(0, 1, m, n, k, 0.5f, A, k, B, k, beta, Cp + t * m * n, n);
            for (t = 0; t < 4; t++) CHECK(memcmp(C1, Cp + t * m * n, bytes) == 0);
            memcpy(C2, C0, bytes);
            ng_sgemm_builtin(0, 1, m, n, k, 0.5f, A, k, B, k, beta, C2, n); /* repeatable */
            CHECK(memcmp(C1, C2, bytes) == 0);
            free(A); free(B); free(C0); free(C1); free(C2); free(Cp);
        }
}

#ifdef NG_USE_OPENBLAS
/* Built-in vs OpenBLAS: the difference is bounded by the sum of both kernels' errors. */
TEST(gemm_matches_openblas) {
    static const int64_t d[][3] = {{1, 1, 1}, {7, 13, 11}, {13, 33, 65}, {100, 90, 200}, {145, 97, 257}, {250, 130, 400}};
    int s, t;
    for (s = 0; s < 6; s++)
        for (t = 0; t < 4; t++) {
            gemm_case g = mk(t & 1, t >> 1, d[s][0], d[s][1], d[s][2], t, 0.75f, t == 2 ? 0.0f : -0.5f);
            ng_rng r;
            float *A, *B, *C, *Cb;
            int64_t i, j, k;
            ng_test_seed = 6000 + (uint64_t)(s * 4 + t);
            ng_rng_seed(&r, ng_test_seed);
            gemm_alloc(&g, &r, &A, &B, &C);
            Cb = (float *)malloc((size_t)(g.m * g.ldc + 1) * sizeof(float));
            memcpy(Cb, C, (size_t)(g.m * g.ldc + 1) * sizeof(float));
            ng_sgemm_builtin(g.ta, g.tb, g.m, g.n, g.k, g.alpha, A, g.lda, B, g.ldb, g.beta, C, g.ldc);
            CHECK_OK(ng_sgemm_openblas(g.ta, g.tb, g.m, g.n, g.k, g.alpha, A, g.lda, B, g.ldb, g.beta, Cb, g.ldc));
            for (i = 0; i < g.m; i++)
                for (j = 0; j < g.n; j++) {
                    double mag = 0.0;
                    for (k = 0; k < g.k; k++)
                        mag += fabs((double)(g.ta ? A[k * g.lda + i] : A[i * g.lda + k]) *
                                    (g.tb ? B[j * g.ldb + k] : B[k * g.ldb + j]));
                    mag = fabs(g.alpha) * mag + 1.0; /* |beta C0| <= 0.5 */
                    CHECK_CLOSE(C[i * g.ldc + j], Cb[i * g.ldc + j], 8.0 * FLT_EPSILON * sqrt((double)g.k + 1.0) * mag, 0.0);
                }
            free(A); free(B); free(C); free(Cb);
        }
}
#endif
