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
