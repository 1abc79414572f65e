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
