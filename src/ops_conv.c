/* ======================================================================================== */
/* @@OPS convolution (NCHW)                                                                 */
/* ======================================================================================== */

/* How the convolutions are computed.
   A convolution is described by the geometry of a plain conv2d (ng__cv_geo): input (C, H, W),
   output (O, Ho, Wo), weight (O, C/G, kh, kw). A transposed convolution is the adjoint of such
   a conv2d (its input plays the conv's output and vice versa), so three per-image kernels
   serve both ops:
     fwd:   out_g  = W_g @ im2col(in_g)             (conv forward; conv_transpose d/dx)
     adj:   in_g  += col2im(W_g^T @ out_g)           (conv d/dx; conv_transpose forward)
     wgrad: dW_g  += out_g @ im2col(in_g)^T          (both ops' d/dW; accumulated transposed,
                                                      im2col(in_g) @ out_g^T, when O/G < 128:
                                                      both GEMM backends are faster that way)
   im2col works on tiles of output rows so that the column buffer stays a few MB; 1x1 stride-1
   unpadded convs skip it, and kernel-2 stride-2 rows are split/merged 8 pixels at a time.
   Faster paths:
   - direct stride-1 conv (AVX2 builds): conv2d's forward, and its d/dx written as a stride-1
     conv of dL/dy with the flipped kernel, run an implicit GEMM that reads the zero-padded
     input in place (no im2col), 6 output channels x 16 pixels per register tile;
   - depthwise conv2d (C/G == O/G == 1): direct kernels over zero-bordered planes.
   Threads (OpenMP): work is split over (image, group) pairs, or over channels for depthwise;
   ng_sgemm runs single-threaded inside the parallel region. Scratch (column buffers, padded
   planes, per-thread partial sums) is allocated once per op from the arena. Results are
   deterministic: every output element is computed by one task, and d/dW, d/db of the GEMM
   path are per-thread partial sums over a static split of the batch, added in thread order
   (the same for a given thread count); depthwise d/dW sums run over the batch in order (the
   same for any thread count). Build options: NG_CONV_NO_DIRECT (GEMM path only),
   NG_CONV_TILE_FLOATS (column buffer target), NG_CONV_DIRECT_KBLOCK (taps per L1 block). */

typedef struct ng__cv_geo {
    int64_t N, C, H, W;      /* conv input */
    int64_t O, Ho, Wo;       /* conv output */
    int64_t kh, kw, sh, sw, ph, pw, G;
    int64_t Cg, Og, K;       /* C/G, O/G, Cg*kh*kw */
    int64_t tr;              /* output rows per im2col tile */
    int pointwise;           /* 1x1, stride 1, no padding: im2col is the identity */
} ng__cv_geo;

#ifndef NG_CONV_TILE_FLOATS
#define NG_CONV_TILE_FLOATS (1 << 20) /* target size of one thread's column buffer */
#endif

static int ng__cv_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
static int ng__cv_nt(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* ---- small vector kernels (AVX2/FMA when compiled for it) ---- */
/* y[i] += x[i] */
static void ng__cv_vadd(int64_t n, const float *x, float *y) {
    int64_t i = 0;
#ifdef NG__HAVE_AVX2
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
    for (; i < n; i++) y[i] += x[i];
}
/* sum of x in a fixed order (8 interleaved partial sums, then pairwise) */
static float ng__cv_sum(int64_t n, const float *x) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    int k;
#ifdef NG__HAVE_AVX2
    __m256 v = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) v = _mm256_add_ps(v, _mm256_loadu_ps(x + i));
    _mm256_storeu_ps(s, v);
#else
    for (; i + 8 <= n; i += 8)
        for (k = 0; k < 8; k++) s[k] += x[i + k];
#endif
    for (k = 0; i < n; i++, k++) s[k & 7] += x[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}
/* copy plane x (h, w) into the interior of P (ldp wide, border already zero) at (top, left) */
static void ng__cv_pad(int64_t h, int64_t w, const float *x, int64_t top, int64_t left, int64_t ldp, float *P) {
    int64_t iy;
    for (iy = 0; iy < h; iy++) memcpy(P + (iy + top) * ldp + left, x + iy * w, (size_t)w * sizeof(float));
}
static void ng__cv_fill(int64_t n, float v, float *y) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] = v;
}

/* ---- im2col / col2im on a tile of output rows [oy0, oy1) of one group ---- */
/* range of output columns ox whose input column ox*sw - pw + kx lies inside [0, W) */
static void ng__cv_xrange(const ng__cv_geo *q, int64_t kx, int64_t *lo, int64_t *hi) {
    int64_t a = q->pw - kx, b = q->W - 1 + q->pw - kx, l, h;
    l = a <= 0 ? 0 : (a + q->sw - 1) / q->sw;
    h = b < 0 ? 0 : b / q->sw + 1;
    if (h > q->Wo) h = q->Wo;
    if (l > h) l = h;
    *lo = l; *hi = h;
}
/* Kernel width 2, horizontal stride 2, no horizontal padding (the alphaGAN deconv): the two
   taps of a row are its even and odd columns, split or merged 8 pixels at a time. m is the
   number of output columns whose two inputs both lie inside the row. */
#ifdef NG__HAVE_AVX2
static int ng__cv_k2s2(const ng__cv_geo *q, int64_t *hi0, int64_t *hi1, int64_t *m) {
    int64_t lo;
    if (q->sw != 2 || q->kw != 2 || q->pw != 0) return 0;
    ng__cv_xrange(q, 0, &lo, hi0);
    ng__cv_xrange(q, 1, &lo, hi1);
    *m = *hi1 < *hi0 ? *hi1 : *hi0;
    return 1;
}
static void ng__cv_im2col_k2s2(const ng__cv_geo *q, const float *x, int64_t oy0, int64_t oy1, float *col,
                               int64_t hi0, int64_t hi1, int64_t m) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, oy, ox;
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++) {
            float *d0 = col + (c * q->kh + ky) * 2 * T, *d1 = d0 + T;
            for (oy = oy0; oy < oy1; oy++, d0 += q->Wo, d1 += q->Wo) {
                int64_t iy = oy * q->sh - q->ph + ky;
                const float *row;
                if (iy < 0 || iy >= q->H) {
                    memset(d0, 0, (size_t)q->Wo * sizeof(float));
                    memset(d1, 0, (size_t)q->Wo * sizeof(float));
                    continue;
                }
                row = x + (c * q->H + iy) * q->W;
                for (ox = 0; ox + 8 <= m; ox += 8) {
                    __m256 v0 = _mm256_loadu_ps(row + 2 * ox), v1 = _mm256_loadu_ps(row + 2 * ox + 8);
                    __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
                    __m256 od = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
                    _mm256_storeu_ps(d0 + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0))));
                    _mm256_storeu_ps(d1 + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0))));
                }
                for (; ox < q->Wo; ox++) {
                    d0[ox] = ox < hi0 ? row[2 * ox] : 0.0f;
                    d1[ox] = ox < hi1 ? row[2 * ox + 1] : 0.0f;
                }
            }
        }
}
static void ng__cv_col2im_k2s2(const ng__cv_geo *q, const float *col, int64_t oy0, int64_t oy1, float *x,
                               int64_t hi0, int64_t hi1, int64_t m) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, oy, ox;
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++) {
            const float *d0 = col + (c * q->kh + ky) * 2 * T, *d1 = d0 + T;
            for (oy = oy0; oy < oy1; oy++, d0 += q->Wo, d1 += q->Wo) {
                int64_t iy = oy * q->sh - q->ph + ky;
                float *row;
                if (iy < 0 || iy >= q->H) continue;
                row = x + (c * q->H + iy) * q->W;
                for (ox = 0; ox + 8 <= m; ox += 8) {
                    __m256 a = _mm256_loadu_ps(d0 + ox), b = _mm256_loadu_ps(d1 + ox);
                    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
                    _mm256_storeu_ps(row + 2 * ox, _mm256_add_ps(_mm256_loadu_ps(row + 2 * ox), _mm256_permute2f128_ps(lo, hi, 0x20)));
                    _mm256_storeu_ps(row + 2 * ox + 8, _mm256_add_ps(_mm256_loadu_ps(row + 2 * ox + 8), _mm256_permute2f128_ps(lo, hi, 0x31)));
                }
                for (; ox < q->Wo; ox++) {
                    if (ox < hi0) row[2 * ox] += d0[ox];
                    if (ox < hi1) row[2 * ox + 1] += d1[ox];
                }
            }
        }
}
#endif

/* col (K, (oy1-oy0)*Wo) from x (Cg, H, W) */
static void ng__cv_im2col(const ng__cv_geo *q, const float *x, int64_t oy0, int64_t oy1, float *col) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi, hi0, hi1, m;
#ifdef NG__HAVE_AVX2
    if (ng__cv_k2s2(q, &hi0, &hi1, &m)) { ng__cv_im2col_k2s2(q, x, oy0, oy1, col, hi0, hi1, m); return; }
#else
    (void)hi0; (void)hi1; (void)m;
#endif
    for (kx = 0; kx < q->kw; kx++) {
        ng__cv_xrange(q, kx, &lo, &hi);
        for (c = 0; c < q->Cg; c++)
            for (ky = 0; ky < q->kh; ky++) {
                float *d = col + ((c * q->kh + ky) * q->kw + kx) * T;
                const float *src = x + c * q->H * q->W;
                for (oy = oy0; oy < oy1; oy++, d += q->Wo) {
                    int64_t iy = oy * q->sh - q->ph + ky;
                    const float *row;
                    if (iy < 0 || iy >= q->H) { memset(d, 0, (size_t)q->Wo * sizeof(float)); continue; }
                    row = src + iy * q->W; /* input column of ox: ox*sw - pw + kx */
                    for (ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    if (q->sw == 1) { if (hi > lo) memcpy(d + lo, row + (lo - q->pw + kx), (size_t)(hi - lo) * sizeof(float)); }
                    else for (ox = lo; ox < hi; ox++) d[ox] = row[ox * q->sw - q->pw + kx];
                    for (ox = hi; ox < q->Wo; ox++) d[ox] = 0.0f;
                }
            }
    }
}
/* x (Cg, H, W) += col2im(col) */
static void ng__cv_col2im(const ng__cv_geo *q, const float *col, int64_t oy0, int64_t oy1, float *x) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi, hi0, hi1, m;
#ifdef NG__HAVE_AVX2
    if (ng__cv_k2s2(q, &hi0, &hi1, &m)) { ng__cv_col2im_k2s2(q, col, oy0, oy1, x, hi0, hi1, m); return; }
#else
    (void)hi0; (void)hi1; (void)m;
#endif
    for (c = 0; c < q->Cg; c++)
        for (ky = 0; ky < q->kh; ky++)
            for (kx = 0; kx < q->kw; kx++) {
                const float *d = col + ((c * q->kh + ky) * q->kw + kx) * T;
                float *dst = x + c * q->H * q->W;
                ng__cv_xrange(q, kx, &lo, &hi);
                for (oy = oy0; oy < oy1; oy++, d += q->Wo) {
                    int64_t iy = oy * q->sh - q->ph + ky;
                    float *row;
                    if (iy < 0 || iy >= q->H) continue;
                    row = dst + iy * q->W; /* input column of ox: ox*sw - pw + kx */
                    if (q->sw == 1) { if (hi > lo) ng__cv_vadd(hi - lo, d + lo, row + (lo - q->pw + kx)); }
                    else for (ox = lo; ox < hi; ox++) row[ox * q->sw - q->pw + kx] += d[ox];
                }
            }
}

/* ---- the three per-(image, group) kernels; pointers are at the image, g selects the group ---- */
/* out_g = beta * out_g + W_g @ im2col(in_g) */
static void ng__cv_fwd(const ng__cv_geo *q, int be, int64_t g, const float *in, const float *w, float beta,
                       float *out, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *xg = in + g * q->Cg * q->H * q->W, *wg = w + g * q->Og * q->K;
    float *yg = out + g * q->Og * HWo;
    if (q->pointwise) { ng_sgemm(be, 0, 0, q->Og, HWo, q->Cg, 1.0f, wg, q->K, xg, HWo, beta, yg, HWo); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 0, q->Og, T, q->K, 1.0f, wg, q->K, col, T, beta, yg + oy0 * q->Wo, HWo);
    }
}
/* in_g += col2im(W_g^T @ out_g) */
static void ng__cv_adj(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *w, float *in, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *wg = w + g * q->Og * q->K;
    float *xg = in + g * q->Cg * q->H * q->W;
    if (q->pointwise) { ng_sgemm(be, 1, 0, q->Cg, HWo, q->Og, 1.0f, wg, q->K, yg, HWo, 1.0f, xg, HWo); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng_sgemm(be, 1, 0, q->K, T, q->Og, 1.0f, wg, q->K, yg + oy0 * q->Wo, HWo, 0.0f, col, T);
        ng__cv_col2im(q, col, oy0, oy1, xg);
    }
}
/* dw_g += out_g @ im2col(in_g)^T */
static void ng__cv_wgrad(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *in, float *dw, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *xg = in + g * q->Cg * q->H * q->W;
    float *dwg = dw + g * q->Og * q->K;
    if (q->pointwise) { ng_sgemm(be, 0, 1, q->Og, q->Cg, HWo, 1.0f, yg, HWo, xg, HWo, 1.0f, dwg, q->K); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 1, q->Og, q->K, T, 1.0f, yg + oy0 * q->Wo, HWo, col, T, 1.0f, dwg, q->K);
    }
}

/* the same, stored transposed: dwT_g (K, Og) += im2col(in_g) @ out_g^T */
static void ng__cv_wgrad_t(const ng__cv_geo *q, int be, int64_t g, const float *out, const float *in, float *dw, float *col) {
    int64_t HWo = q->Ho * q->Wo, oy0;
    const float *yg = out + g * q->Og * HWo, *xg = in + g * q->Cg * q->H * q->W;
    float *dwg = dw + g * q->Og * q->K;
    if (q->pointwise) { ng_sgemm(be, 0, 1, q->Cg, q->Og, HWo, 1.0f, xg, HWo, yg, HWo, 1.0f, dwg, q->Og); return; }
    for (oy0 = 0; oy0 < q->Ho; oy0 += q->tr) {
        int64_t oy1 = oy0 + q->tr < q->Ho ? oy0 + q->tr : q->Ho, T = (oy1 - oy0) * q->Wo;
        ng__cv_im2col(q, xg, oy0, oy1, col);
        ng_sgemm(be, 0, 1, q->K, q->Og, T, 1.0f, col, T, yg + oy0 * q->Wo, HWo, 1.0f, dwg, q->Og);
    }
}

static void ng__cv_finish_geo(ng__cv_geo *q) {
    q->Cg = q->C / q->G;
    q->Og = q->O / q->G;
    q->K = q->Cg * q->kh * q->kw;
    q->pointwise = q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
    q->tr = NG_CONV_TILE_FLOATS / (q->K * q->Wo > 0 ? q->K * q->Wo : 1);
    if (q->tr < 1) q->tr = 1;
    if (q->tr > q->Ho) q->tr = q->Ho;
}
static int64_t ng__cv_col_floats(const ng__cv_geo *q) { return q->pointwise ? 1 : q->K * q->tr * q->Wo; }

/* Parallel over (image, group) pairs when there are enough of them; otherwise one thread walks
   them and ng_sgemm threads itself. */
static int ng__cv_par(const ng__cv_geo *q, int64_t tasks, int nth) {
    return nth > 1 && tasks >= nth && q->N * q->O * q->Ho * q->Wo * q->K >= ((int64_t)1 << 18);
}

/* ---- direct stride-1 convolution (AVX2) ----
   Implicit GEMM without im2col: each (image, group) is copied once into a zero-bordered
   buffer, and a 6 x 16 register tile (6 output channels, 16 pixels of one output row)
   accumulates over the taps k = (c, ky, kx), loading its 16 inputs straight from the padded
   buffer at a precomputed offset per tap and broadcasting the 6 weights from a packed panel.
   It serves conv2d's forward and, with the kernel flipped and in/out channels swapped, its
   d/dx (a stride-1 conv of dL/dy padded by k-1-p). */
#ifdef NG__HAVE_AVX2
#define NG__CV_MR 6
#ifndef NG_CONV_DIRECT_KBLOCK
#define NG_CONV_DIRECT_KBLOCK 384 /* taps per block (rounded down to whole input channels) */
#endif
/* y[r][j] = (accumulate ? y[r][j] : bias[r]) + acc[r*lda + j] for r < rows, j < cols <= 8 */
static void ng__cv_ukr_store(const float *acc, int64_t lda, float *y, int64_t ldy, int rows, int64_t cols,
                             const float *bias, int accumulate) {
    int r;
    int64_t j;
    for (r = 0; r < rows; r++, y += ldy, acc += lda) {
        if (cols == 8) {
            __m256 base = accumulate ? _mm256_loadu_ps(y) : _mm256_set1_ps(bias ? bias[r] : 0.0f);
            _mm256_storeu_ps(y, _mm256_add_ps(base, _mm256_loadu_ps(acc)));
        } else {
            for (j = 0; j < cols; j++) y[j] = (accumulate ? y[j] : (bias ? bias[r] : 0.0f)) + acc[j];
        }
    }
}
/* 6 x (8 + 8) tile over K taps: a is (K, 6); tap k reads 8 pixels at base + off[k] and 8 at
   base + off[k] + bd (bd = 8: 16 pixels of a row; bd = the padded width: 8 pixels of two
   rows); the two halves go to y and y + yd, cols0 and cols1 columns of each. */
static void ng__cv_ukr16(int64_t K, const float *a, const float *base, const int *off, int64_t bd, float *y,
                         int64_t yd, int64_t ldy, int rows, int64_t cols0, int64_t cols1, const float *bias,
                         int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    float acc[NG__CV_MR * 16];
    int64_t k;
    for (k = 0; k < K; k++, a += NG__CV_MR) {
        const float *b = base + off[k];
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + bd), wv;
        wv = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(wv, b0, c00); c01 = _mm256_fmadd_ps(wv, b1, c01);
        wv = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(wv, b0, c10); c11 = _mm256_fmadd_ps(wv, b1, c11);
        wv = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(wv, b0, c20); c21 = _mm256_fmadd_ps(wv, b1, c21);
        wv = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(wv, b0, c30); c31 = _mm256_fmadd_ps(wv, b1, c31);
        wv = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(wv, b0, c40); c41 = _mm256_fmadd_ps(wv, b1, c41);
        wv = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(wv, b0, c50); c51 = _mm256_fmadd_ps(wv, b1, c51);
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
    ng__cv_ukr_store(acc, 16, y, ldy, rows, cols0, bias, accumulate);
    ng__cv_ukr_store(acc + 8, 16, y + yd, ldy, rows, cols1, bias, accumulate);
}
/* 6 x 8 tile (cols <= 8) */
static void ng__cv_ukr8(int64_t K, const float *a, const float *base, const int *off, float *y, int64_t ldy,
                        int rows, int64_t cols, const float *bias, int accumulate) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    float acc[NG__CV_MR * 8];
    int64_t k;
    for (k = 0; k < K; k++, a += NG__CV_MR) {
        __m256 b0 = _mm256_loadu_ps(base + off[k]);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
    }
    _mm256_storeu_ps(acc + 0, c0); _mm256_storeu_ps(acc + 8, c1); _mm256_storeu_ps(acc + 16, c2);
    _mm256_storeu_ps(acc + 24, c3); _mm256_storeu_ps(acc + 32, c4); _mm256_storeu_ps(acc + 40, c5);
    ng__cv_ukr_store(acc, 8, y, ldy, rows, cols, bias, accumulate);
}
#endif

/* d/dx of a stride-1 conv with padding p <= k-1 is the stride-1 conv of dL/dy, padded by
   k-1-p, with the kernel rotated by 180 degrees and its in/out channels swapped. */
static ng__cv_geo ng__cv_flip_geo(const ng__cv_geo *q) {
    ng__cv_geo f = *q;
    f.C = q->O; f.H = q->Ho; f.W = q->Wo;
    f.O = q->C; f.Ho = q->H; f.Wo = q->W;
    f.ph = q->kh - 1 - q->ph; f.pw = q->kw - 1 - q->pw;
    ng__cv_finish_geo(&f);
    return f;
}

/* A stride-1 conv the direct kernel can run: q is its geometry (for d/dx: the flipped one).
   (1x1 convs stay with the GEMM, which needs no copy at all and is faster there; rows whose
   tiles would waste over 15% of their lanes, such as 12 = 8 + 4, too.) */
static int ng__cv_direct_ok(const ng__cv_geo *q) {
#if defined(NG__HAVE_AVX2) && !defined(NG_CONV_NO_DIRECT)
    /* lanes the tiles compute per row: whole 16s, then what is left rounded up to 8s */
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, lanes = q->Wo / 16 * 16 + (q->Wo % 16 + 7) / 8 * 8;
    return !q->pointwise && q->sh == 1 && q->sw == 1 && 100 * q->Wo >= 85 * lanes &&
           q->Cg * Hp * Wp + 64 < (int64_t)1 << 31;
#else
    (void)q;
    return 0;
#endif
}

#ifdef NG__HAVE_AVX2
/* Rows [oy0, oy1) of one (image, group): xp is the padded input (Cg, Hp, Wp), a the group's
   packed weights (nob, K, 6), y the group's output (Og, Ho, Wo). Rows go two at a time: full
   16-pixel tiles within each row, then the columns left over (fewer than 16) in 8-pixel
   chunks taken from both rows at once, so that every tile keeps 12 independent sums. The taps
   are split into blocks of whole input channels, outermost, so that a block's packed weights
   (all output channels) stay in L2 over all rows and its inputs in L1 over a row's tiles; the
   output rows are revisited once per block. */
static void ng__cv_direct_rows(const ng__cv_geo *q, const float *xp, const float *a, const int *off,
                               const float *bias, int accumulate, float *y, int64_t oy0, int64_t oy1) {
    int64_t Wp = q->W + 2 * q->pw, HWo = q->Ho * q->Wo, nob = (q->Og + NG__CV_MR - 1) / NG__CV_MR;
    int64_t kk = q->kh * q->kw, kc = (NG_CONV_DIRECT_KBLOCK / kk > 1 ? NG_CONV_DIRECT_KBLOCK / kk : 1) * kk;
    int64_t full = q->Wo / 16 * 16, oy, ox, ob, r, k0;
    for (k0 = 0; k0 < q->K; k0 += kc) {
        int64_t K = q->K - k0 < kc ? q->K - k0 : kc;
        int acc = accumulate || k0 > 0;
        for (oy = oy0; oy < oy1; oy += 2) {
            int nr = oy + 1 < oy1 ? 2 : 1;
            for (ob = 0; ob < nob; ob++) {
                int rows = (int)(q->Og - ob * NG__CV_MR < NG__CV_MR ? q->Og - ob * NG__CV_MR : NG__CV_MR);
                const float *ab = a + (ob * q->K + k0) * NG__CV_MR, *bb = bias ? bias + ob * NG__CV_MR : NULL;
                float *yb = y + ob * NG__CV_MR * HWo + oy * q->Wo;
                const float *base = xp + oy * Wp;
                for (r = 0; r < nr; r++)
                    for (ox = 0; ox < full; ox += 16)
                        ng__cv_ukr16(K, ab, base + r * Wp + ox, off + k0, 8, yb + r * q->Wo + ox, 8, HWo, rows, 8, 8, bb, acc);
                for (ox = full; ox < q->Wo; ox += 8) {
                    int64_t cols = q->Wo - ox < 8 ? q->Wo - ox : 8;
                    if (nr == 2) ng__cv_ukr16(K, ab, base + ox, off + k0, Wp, yb + ox, q->Wo, HWo, rows, cols, cols, bb, acc);
                    else ng__cv_ukr8(K, ab, base + ox, off + k0, yb + ox, HWo, rows, cols, bb, acc);
                }
            }
        }
    }
}
#endif

/* out (=|+=) [bias] + stride-1 conv(in) with geometry q. flip = 0: w is (O, Cg, kh, kw) as in
   conv2d. flip = 1: q is the flipped geometry of a conv2d with weight w (q->C, q->O/G, kh, kw)
   and the conv runs with that kernel rotated by 180 degrees and its channels swapped (d/dx). */
static void ng__cv_direct(ng_ctx *ctx, const ng__cv_geo *q, const float *in, const float *w, int flip,
                          const float *bias, int accumulate, float *out) {
#ifdef NG__HAVE_AVX2
    int nth = ng_num_threads();
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, kk = q->kh * q->kw;
    int64_t nob = (q->Og + NG__CV_MR - 1) / NG__CV_MR, psz = q->Cg * Hp * Wp + 64, tasks = q->N * q->G;
    int64_t in_sz = q->C * q->H * q->W, out_sz = q->O * q->Ho * q->Wo, k, g;
    int *off = (int *)ng__alloc(ctx, (size_t)q->K * sizeof(int));
    float *apack = ng__fzalloc(ctx, q->G * nob * q->K * NG__CV_MR);
    int par = ng__cv_par(q, tasks, nth);
    float *pads = ng__fzalloc(ctx, psz * (par ? nth : 1));
    if (!off || !apack || !pads) return;
    for (k = 0; k < q->K; k++) {
        int64_t c = k / kk, t = k % kk;
        off[k] = (int)(c * Hp * Wp + (t / q->kw) * Wp + t % q->kw);
    }
    for (g = 0; g < q->G; g++) {
        int64_t co, ci, t;
        /* read w in storage order: (co, ci, t) as conv2d, or (ci, co, t) when flipped */
        for (co = 0; co < q->Og && !flip; co++)
            for (ci = 0; ci < q->Cg; ci++)
                for (t = 0; t < kk; t++)
                    apack[((g * nob + co / NG__CV_MR) * q->K + ci * kk + t) * NG__CV_MR + co % NG__CV_MR] =
                        w[((g * q->Og + co) * q->Cg + ci) * kk + t];
        for (ci = 0; ci < q->Cg && flip; ci++)
            for (co = 0; co < q->Og; co++)
                for (t = 0; t < kk; t++)
                    apack[((g * nob + co / NG__CV_MR) * q->K + ci * kk + t) * NG__CV_MR + co % NG__CV_MR] =
                        w[((g * q->Cg + ci) * q->Og + co) * kk + (kk - 1 - t)];
    }
    if (par) {
        /* no sums across tasks here, so a dynamic schedule is still deterministic */
        NG__OMP(parallel num_threads(nth))
        {
            int64_t tk;
            float *xp = pads + psz * ng__cv_tid();
            NG__OMP(for schedule(dynamic, 1))
            for (tk = 0; tk < tasks; tk++) {
                int64_t img = tk / q->G, gg = tk % q->G, c;
                const float *src = in + img * in_sz + gg * q->Cg * q->H * q->W;
                for (c = 0; c < q->Cg; c++)
                    ng__cv_pad(q->H, q->W, src + c * q->H * q->W, q->ph, q->pw, Wp, xp + c * Hp * Wp);
                ng__cv_direct_rows(q, xp, apack + gg * nob * q->K * NG__CV_MR, off, bias ? bias + gg * q->Og : NULL,
                                   accumulate, out + img * out_sz + gg * q->Og * q->Ho * q->Wo, 0, q->Ho);
            }
        }
    } else {
        int64_t tk;
        for (tk = 0; tk < tasks; tk++) {
            int64_t img = tk / q->G, gg = tk % q->G, c;
            const float *src = in + img * in_sz + gg * q->Cg * q->H * q->W;
            for (c = 0; c < q->Cg; c++) ng__cv_pad(q->H, q->W, src + c * q->H * q->W, q->ph, q->pw, Wp, pads + c * Hp * Wp);
            /* one image: each thread takes a band of rows (even-sized, for the row pairs) */
            NG__OMP(parallel if (nth > 1 && q->Ho > 2 && q->O * q->Ho * q->Wo * q->K >= ((int64_t)1 << 18)) num_threads(nth))
            {
                int64_t pairs = (q->Ho + 1) / 2, tid = ng__cv_tid(), nt = ng__cv_nt();
                int64_t r0 = 2 * (pairs * tid / nt), r1 = 2 * (pairs * (tid + 1) / nt);
                if (r1 > q->Ho) r1 = q->Ho;
                if (r0 < r1)
                    ng__cv_direct_rows(q, pads, apack + gg * nob * q->K * NG__CV_MR, off, bias ? bias + gg * q->Og : NULL,
                                       accumulate, out + img * out_sz + gg * q->Og * q->Ho * q->Wo, r0, r1);
            }
        }
    }
#else
    (void)ctx; (void)q; (void)in; (void)w; (void)flip; (void)bias; (void)accumulate; (void)out;
#endif
}

/* ---- direct d/dW of a stride-1 conv2d (AVX2) ----
   dW^T[k][o] += sum_p xpad[off[k] + p'] * dy[o][p], with dy transposed per image to (p, o):
   a register tile of 6 taps x 16 output channels runs over all pixels of the image, loading 16
   channels of dy^T and broadcasting 6 inputs per pixel. Partial sums are per thread over a
   static split of the batch (added in thread order), kept transposed like the GEMM path's. */
#ifdef NG__HAVE_AVX2
static void ng__cv_wkr(const ng__cv_geo *q, int64_t Wp, const float *T, int64_t ldt, const float *const *xr,
                       float *dst, int64_t ldd, int rows, int64_t cols) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    float acc[NG__CV_MR * 16];
    int64_t oy, ox, j;
    int r;
    for (oy = 0; oy < q->Ho; oy++) {
        const float *t = T + oy * q->Wo * ldt;
        const float *x0 = xr[0] + oy * Wp, *x1 = xr[1] + oy * Wp, *x2 = xr[2] + oy * Wp;
        const float *x3 = xr[3] + oy * Wp, *x4 = xr[4] + oy * Wp, *x5 = xr[5] + oy * Wp;
        for (ox = 0; ox < q->Wo; ox++, t += ldt) {
            __m256 b0 = _mm256_loadu_ps(t), b1 = _mm256_loadu_ps(t + 8), wv;
            wv = _mm256_broadcast_ss(x0 + ox); c00 = _mm256_fmadd_ps(wv, b0, c00); c01 = _mm256_fmadd_ps(wv, b1, c01);
            wv = _mm256_broadcast_ss(x1 + ox); c10 = _mm256_fmadd_ps(wv, b0, c10); c11 = _mm256_fmadd_ps(wv, b1, c11);
            wv = _mm256_broadcast_ss(x2 + ox); c20 = _mm256_fmadd_ps(wv, b0, c20); c21 = _mm256_fmadd_ps(wv, b1, c21);
            wv = _mm256_broadcast_ss(x3 + ox); c30 = _mm256_fmadd_ps(wv, b0, c30); c31 = _mm256_fmadd_ps(wv, b1, c31);
            wv = _mm256_broadcast_ss(x4 + ox); c40 = _mm256_fmadd_ps(wv, b0, c40); c41 = _mm256_fmadd_ps(wv, b1, c41);
            wv = _mm256_broadcast_ss(x5 + ox); c50 = _mm256_fmadd_ps(wv, b0, c50); c51 = _mm256_fmadd_ps(wv, b1, c51);
        }
    }
    if (rows == NG__CV_MR && cols == 16) {
#define NG__CV_WACC(r, a, b) \
        _mm256_storeu_ps(dst + (r) * ldd, _mm256_add_ps(_mm256_loadu_ps(dst + (r) * ldd), a)); \
        _mm256_storeu_ps(dst + (r) * ldd + 8, _mm256_add_ps(_mm256_loadu_ps(dst + (r) * ldd + 8), b));
        NG__CV_WACC(0, c00, c01) NG__CV_WACC(1, c10, c11) NG__CV_WACC(2, c20, c21)
        NG__CV_WACC(3, c30, c31) NG__CV_WACC(4, c40, c41) NG__CV_WACC(5, c50, c51)
#undef NG__CV_WACC
        return;
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
    for (r = 0; r < rows; r++)
        for (j = 0; j < cols; j++) dst[r * ldd + j] += acc[r * 16 + j];
}
#endif

/* d/dW of a stride-1, non-pointwise conv2d when at least 3/4 of the 16-channel lanes are used */
static int ng__cv_wdirect_ok(const ng__cv_geo *q) {
#if defined(NG__HAVE_AVX2) && !defined(NG_CONV_NO_DIRECT)
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, Ogp = (q->Og + 15) / 16 * 16;
    return !q->pointwise && q->sh == 1 && q->sw == 1 && 4 * q->Og >= 3 * Ogp && q->Cg * Hp * Wp + 64 < (int64_t)1 << 31;
#else
    (void)q;
    return 0;
#endif
}

static void ng__cv_wgrad_direct(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *gy, float *gw, float *gb) {
#ifdef NG__HAVE_AVX2
    int nth = ng_num_threads(), t;
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, kk = q->kh * q->kw, HWo = q->Ho * q->Wo;
    int64_t Ogp = (q->Og + 15) / 16 * 16, psz = q->Cg * Hp * Wp + 64, tsz = HWo * Ogp + 16;
    int64_t wsz = q->O * q->K, tasks = q->N * q->G, bstride = wsz + q->O + 16, j;
    int par = ng__cv_par(q, tasks, nth);
    float *scr = ng__fzalloc(ctx, (psz + tsz) * nth), *parts = ng__fzalloc(ctx, bstride * nth);
    int64_t *off = (int64_t *)ng__alloc(ctx, (size_t)q->K * sizeof(int64_t));
    if (!scr || !parts || !off) return;
    for (j = 0; j < q->K; j++) off[j] = (j / kk) * Hp * Wp + (j % kk / q->kw) * Wp + j % q->kw;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t tk, t0 = tasks * tid / nt, t1 = tasks * (tid + 1) / nt;
        float *xp = scr + (psz + tsz) * tid, *T = xp + psz;
        float *pw_ = parts + bstride * tid, *pb = pw_ + wsz;
        for (tk = t0; tk < t1; tk++) {
            int64_t img = tk / q->G, g = tk % q->G, c, o, p, k0, ob;
            const float *xg = x + (img * q->C + g * q->Cg) * q->H * q->W;
            const float *yg = gy + (img * q->O + g * q->Og) * HWo;
            if (gb)
                for (o = 0; o < q->Og; o++) pb[g * q->Og + o] += ng__cv_sum(HWo, yg + o * HWo);
            if (!gw) continue;
            for (c = 0; c < q->Cg; c++) ng__cv_pad(q->H, q->W, xg + c * q->H * q->W, q->ph, q->pw, Wp, xp + c * Hp * Wp);
            /* dy^T as (Ogp/16, HWo, 16): each 16-channel block's pixels are contiguous;
               channels >= Og stay 0 */
            for (o = 0; o < q->Og; o++) {
                float *tb = T + (o / 16) * HWo * 16 + o % 16;
                const float *yr = yg + o * HWo;
                for (p = 0; p < HWo; p++) tb[p * 16] = yr[p];
            }
            for (k0 = 0; k0 < q->K; k0 += NG__CV_MR) {
                const float *xr[NG__CV_MR];
                int r, rows = (int)(q->K - k0 < NG__CV_MR ? q->K - k0 : NG__CV_MR);
                for (r = 0; r < NG__CV_MR; r++) xr[r] = xp + (r < rows ? off[k0 + r] : 0);
                for (ob = 0; ob < Ogp; ob += 16)
                    ng__cv_wkr(q, Wp, T + ob * HWo, 16, xr, pw_ + g * q->Og * q->K + k0 * q->Og + ob, q->Og, rows,
                               q->Og - ob < 16 ? q->Og - ob : 16);
            }
        }
    }
    /* deterministic reduction in thread order; partials are (G, K, Og) */
    for (t = 0; t < nth; t++) {
        const float *p = parts + bstride * t;
        if (gw) {
            int64_t g, o, k;
            for (g = 0; g < q->G; g++)
                for (o = 0; o < q->Og; o++)
                    for (k = 0; k < q->K; k++) gw[(g * q->Og + o) * q->K + k] += p[g * q->Og * q->K + k * q->Og + o];
        }
        if (gb) for (j = 0; j < q->O; j++) gb[j] += p[wsz + j];
    }
#else
    (void)ctx; (void)q; (void)x; (void)gy; (void)gw; (void)gb;
#endif
}

/* ---- generic conv / conv-transpose forward over the batch ----
   transposed 0: dst (O side) = [bias] + fwd(src)    (conv2d:           src = x, dst = y)
   transposed 1: dst (C side) = [bias] + adj(src)    (conv_transpose2d: src = x, dst = y) */
static void ng__cv_forward(ng_ctx *ctx, const ng__cv_geo *q, int transposed, const float *src, const float *w,
                           const float *bias, float *dst) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int64_t tasks = q->N * q->G, colsz = ng__cv_col_floats(q);
    int64_t in_sz = q->C * q->H * q->W, out_sz = q->O * q->Ho * q->Wo;
    float *cols = ng__falloc(ctx, colsz * nth);
    int par = ng__cv_par(q, tasks, nth);
    if (!cols) return;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int64_t t, ch;
        float *col = cols + colsz * ng__cv_tid();
        NG__OMP(for schedule(dynamic, 1))
        for (t = 0; t < tasks; t++) {
            int64_t img = t / q->G, g = t % q->G;
            if (!transposed) {
                float *yi = dst + img * out_sz;
                int64_t HW = q->Ho * q->Wo;
                if (bias)
                    for (ch = g * q->Og; ch < (g + 1) * q->Og; ch++) ng__cv_fill(HW, bias[ch], yi + ch * HW);
                ng__cv_fwd(q, be, g, src + img * in_sz, w, bias ? 1.0f : 0.0f, yi, col);
            } else {
                float *yi = dst + img * in_sz;
                int64_t HW = q->H * q->W;
                for (ch = g * q->Cg; ch < (g + 1) * q->Cg; ch++) ng__cv_fill(HW, bias ? bias[ch] : 0.0f, yi + ch * HW);
                ng__cv_adj(q, be, g, src + img * out_sz, w, yi, col);
            }
        }
    }
}

/* Backward of either op. For conv2d (transposed 0) the geometry's input side is x and its
   output side y: dx = adj(dy), dW += dy @ im2col(x)^T, bias on the output side. For
   conv_transpose2d (transposed 1) the geometry's output side is x and its input side y:
   dx = fwd(dy), dW += x @ im2col(dy)^T, bias on the input side. */
static void ng__cv_backward(ng_ctx *ctx, const ng__cv_geo *q, int transposed, const float *x, const float *w,
                            const float *gy, float *gx, int gx_fresh, float *gw, float *gb) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int wtr = q->Og < 128; /* measured: the long side first is faster when O/G is small */
    int64_t tasks = q->N * q->G, colsz = (gx || gw) ? ng__cv_col_floats(q) : 1;
    int64_t wsz = q->O * q->K, bsz = transposed ? q->C : q->O, j;
    int64_t bstride = wsz + bsz + 16; /* per-thread partial: dW then db */
    float *cols = ng__falloc(ctx, colsz * nth), *parts = NULL;
    int par = ng__cv_par(q, tasks, nth), t;
    if (gw || gb) parts = ng__fzalloc(ctx, bstride * nth);
    if (!cols || ((gw || gb) && !parts)) return;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t tk, t0 = tasks * tid / nt, t1 = tasks * (tid + 1) / nt, ch;
        float *col = cols + colsz * tid;
        float *pw_ = parts ? parts + bstride * tid : NULL, *pb = parts ? pw_ + wsz : NULL;
        for (tk = t0; tk < t1; tk++) {
            int64_t img = tk / q->G, g = tk % q->G;
            int64_t in_off = img * q->C * q->H * q->W, out_off = img * q->O * q->Ho * q->Wo;
            if (!transposed) {
                if (gx && gx_fresh) { /* not zeroed yet: the GEMM overwrites (1x1) or col2im adds to zeros */
                    if (q->pointwise) ng_sgemm(be, 1, 0, q->Cg, q->H * q->W, q->Og, 1.0f, w + g * q->Og * q->K, q->K,
                                               gy + out_off + g * q->Og * q->Ho * q->Wo, q->Ho * q->Wo, 0.0f,
                                               gx + in_off + g * q->Cg * q->H * q->W, q->H * q->W);
                    else {
                        memset(gx + in_off + g * q->Cg * q->H * q->W, 0, (size_t)(q->Cg * q->H * q->W) * sizeof(float));
                        ng__cv_adj(q, be, g, gy + out_off, w, gx + in_off, col);
                    }
                } else if (gx) ng__cv_adj(q, be, g, gy + out_off, w, gx + in_off, col);
                if (gw) {
                    if (wtr) ng__cv_wgrad_t(q, be, g, gy + out_off, x + in_off, pw_, col);
                    else ng__cv_wgrad(q, be, g, gy + out_off, x + in_off, pw_, col);
                }
                if (gb)
                    for (ch = g * q->Og; ch < (g + 1) * q->Og; ch++)
                        pb[ch] += ng__cv_sum(q->Ho * q->Wo, gy + out_off + ch * q->Ho * q->Wo);
            } else {
                if (gx) ng__cv_fwd(q, be, g, gy + in_off, w, gx_fresh ? 0.0f : 1.0f, gx + out_off, col);
                if (gw) {
                    if (wtr) ng__cv_wgrad_t(q, be, g, x + out_off, gy + in_off, pw_, col);
                    else ng__cv_wgrad(q, be, g, x + out_off, gy + in_off, pw_, col);
                }
                if (gb)
                    for (ch = g * q->Cg; ch < (g + 1) * q->Cg; ch++)
                        pb[ch] += ng__cv_sum(q->H * q->W, gy + in_off + ch * q->H * q->W);
            }
        }
    }
    /* deterministic reduction: thread partials added in thread order */
    for (t = 0; t < nth; t++) {
        const float *p = parts ? parts + bstride * t : NULL;
        if (gw && !wtr) for (j = 0; j < wsz; j++) gw[j] += p[j];
        if (gw && wtr) {
            int64_t g, o, k;
            for (g = 0; g < q->G; g++)
                for (o = 0; o < q->Og; o++)
                    for (k = 0; k < q->K; k++) gw[(g * q->Og + o) * q->K + k] += p[g * q->Og * q->K + k * q->Og + o];
        }
        if (gb) for (j = 0; j < bsz; j++) gb[j] += p[wsz + j];
    }
}

/* ---- depthwise conv2d (C/G == O/G == 1): direct kernels, split over channels ----
   Each plane is copied into a zero-bordered scratch plane once, so the stride-1 kernels run
   without bounds checks: forward and d/dx (a correlation of the padded dL/dy with the flipped
   kernel) keep a row of outputs in registers over all taps; d/dW keeps one sum per tap. */
/* y[x] = (accumulate ? y[x] : base) + sum_{ky, kx} w[ky*kw + kx] * P[ky*ldp + x + kx], x < n */
static void ng__cv_dw_row(int64_t n, const float *P, int64_t ldp, const float *w, int64_t kh, int64_t kw,
                          float base, int accumulate, float *y) {
    int64_t x = 0, ky, kx;
#ifdef NG__HAVE_AVX2
    for (; x + 32 <= n; x += 32) {
        __m256 a0, a1, a2, a3;
        if (accumulate) {
            a0 = _mm256_loadu_ps(y + x); a1 = _mm256_loadu_ps(y + x + 8);
            a2 = _mm256_loadu_ps(y + x + 16); a3 = _mm256_loadu_ps(y + x + 24);
        } else {
            a0 = a1 = a2 = a3 = _mm256_set1_ps(base);
        }
        for (ky = 0; ky < kh; ky++) {
            const float *pr = P + ky * ldp + x;
            for (kx = 0; kx < kw; kx++) {
                __m256 wv = _mm256_broadcast_ss(w + ky * kw + kx);
                a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx), a0);
                a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 8), a1);
                a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 16), a2);
                a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(pr + kx + 24), a3);
            }
        }
        _mm256_storeu_ps(y + x, a0); _mm256_storeu_ps(y + x + 8, a1);
        _mm256_storeu_ps(y + x + 16, a2); _mm256_storeu_ps(y + x + 24, a3);
    }
    for (; x + 8 <= n; x += 8) {
        __m256 a0 = accumulate ? _mm256_loadu_ps(y + x) : _mm256_set1_ps(base);
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + ky * kw + kx), _mm256_loadu_ps(P + ky * ldp + x + kx), a0);
        _mm256_storeu_ps(y + x, a0);
    }
#endif
    for (; x < n; x++) {
        float a = accumulate ? y[x] : base;
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++) a += w[ky * kw + kx] * P[ky * ldp + x + kx];
        y[x] = a;
    }
}
/* The same for 5 <= kw <= 8 (AVX2): a row of taps at once, one register of sums per tap over
   8-pixel chunks, so each load of g feeds kw multiply-adds instead of one (measured 20% faster
   at 7x7; at 3x3 the per-tap loop below is as fast). Lanes are added in a fixed order. */
#ifdef NG__HAVE_AVX2
static float ng__cv_hsum8(__m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}
static void ng__cv_dw_taps_row(int64_t rows, int64_t n, const float *g, const float *P, int64_t ldp, int64_t kh,
                               int64_t kw, float *s) {
    int64_t ky, kx, r, x;
    for (ky = 0; ky < kh; ky++) {
        __m256 acc[8];
        float tail[8] = {0};
        for (kx = 0; kx < kw; kx++) acc[kx] = _mm256_setzero_ps();
        for (r = 0; r < rows; r++) {
            const float *gr = g + r * n, *pr = P + (r + ky) * ldp;
            for (x = 0; x + 8 <= n; x += 8) {
                __m256 g0 = _mm256_loadu_ps(gr + x);
                for (kx = 0; kx < kw; kx++) acc[kx] = _mm256_fmadd_ps(g0, _mm256_loadu_ps(pr + x + kx), acc[kx]);
            }
            for (; x < n; x++)
                for (kx = 0; kx < kw; kx++) tail[kx] += gr[x] * pr[x + kx];
        }
        for (kx = 0; kx < kw; kx++) s[ky * kw + kx] += ng__cv_hsum8(acc[kx]) + tail[kx];
    }
}
#endif
/* s[ky*kw + kx] += sum_{r < rows, x < n} g[r*n + x] * P[(r + ky)*ldp + x + kx] */
static void ng__cv_dw_taps(int64_t rows, int64_t n, const float *g, const float *P, int64_t ldp, int64_t kh,
                           int64_t kw, float *s) {
    int64_t ky, kx, r, x;
#ifdef NG__HAVE_AVX2
    if (kw >= 5 && kw <= 8 && n >= 8) { ng__cv_dw_taps_row(rows, n, g, P, ldp, kh, kw, s); return; }
#endif
    for (ky = 0; ky < kh; ky++)
        for (kx = 0; kx < kw; kx++) {
            float tail = 0.0f, tot;
#ifdef NG__HAVE_AVX2
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            float v[8];
            int k;
            for (r = 0; r < rows; r++) {
                const float *gr = g + r * n, *pr = P + (r + ky) * ldp + kx;
                for (x = 0; x + 32 <= n; x += 32) {
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 8), _mm256_loadu_ps(pr + x + 8), a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 16), _mm256_loadu_ps(pr + x + 16), a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x + 24), _mm256_loadu_ps(pr + x + 24), a3);
                }
                for (k = 0; x + 8 <= n; x += 8, k++) {
                    if (k & 1) a1 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a1);
                    else a0 = _mm256_fmadd_ps(_mm256_loadu_ps(gr + x), _mm256_loadu_ps(pr + x), a0);
                }
                for (; x < n; x++) tail += gr[x] * pr[x];
            }
            _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            tot = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
#else
            tot = 0.0f;
            for (r = 0; r < rows; r++)
                for (x = 0; x < n; x++) tail += g[r * n + x] * P[(r + ky) * ldp + x + kx];
#endif
            s[ky * kw + kx] += tot + tail;
        }
}

typedef struct ng__cv_dw_plan {
    int64_t Hp, Wp;     /* padded input plane */
    int64_t qh, qw;     /* padding of dL/dy for the gather form of d/dx (-1: not usable) */
    int64_t Hq, Wq;
    int64_t scratch;    /* floats per thread */
} ng__cv_dw_plan;
static ng__cv_dw_plan ng__cv_dw_plan_of(const ng__cv_geo *q) {
    ng__cv_dw_plan d;
    d.Hp = q->H + 2 * q->ph; d.Wp = q->W + 2 * q->pw;
    if (q->sh == 1 && q->sw == 1 && q->ph <= q->kh - 1 && q->pw <= q->kw - 1) {
        d.qh = q->kh - 1 - q->ph; d.qw = q->kw - 1 - q->pw;
        d.Hq = q->Ho + 2 * d.qh; d.Wq = q->Wo + 2 * d.qw;
    } else {
        d.qh = d.qw = -1;
        d.Hq = d.Hp; d.Wq = d.Wp; /* scatter form: a padded gradient plane like P */
    }
    d.scratch = d.Hp * d.Wp + d.Hq * d.Wq + q->kh * q->kw + 32;
    return d;
}
static void ng__cv_dw_forward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *bias, float *y) {
    int nth = ng_num_threads();
    ng__cv_dw_plan d = ng__cv_dw_plan_of(q);
    float *scr = ng__fzalloc(ctx, d.scratch * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1 && q->N * q->C * q->Ho * q->Wo * q->kh * q->kw >= ((int64_t)1 << 18)) num_threads(nth))
    {
        int64_t c, img, oy, ky, kx, ox;
        float *P = scr + d.scratch * ng__cv_tid();
        NG__OMP(for schedule(dynamic, 1))
        for (c = 0; c < q->C; c++) {
            const float *wc = w + c * q->kh * q->kw;
            float b0 = bias ? bias[c] : 0.0f;
            for (img = 0; img < q->N; img++) {
                float *yp = y + (img * q->C + c) * q->Ho * q->Wo;
                ng__cv_pad(q->H, q->W, x + (img * q->C + c) * q->H * q->W, q->ph, q->pw, d.Wp, P);
                for (oy = 0; oy < q->Ho; oy++) {
                    float *yr = yp + oy * q->Wo;
                    if (q->sw == 1) {
                        ng__cv_dw_row(q->Wo, P + oy * q->sh * d.Wp, d.Wp, wc, q->kh, q->kw, b0, 0, yr);
                        continue;
                    }
                    ng__cv_fill(q->Wo, b0, yr);
                    for (ky = 0; ky < q->kh; ky++) {
                        const float *pr = P + (oy * q->sh + ky) * d.Wp;
                        for (kx = 0; kx < q->kw; kx++)
                            for (ox = 0; ox < q->Wo; ox++) yr[ox] += wc[ky * q->kw + kx] * pr[ox * q->sw + kx];
                    }
                }
            }
        }
    }
}
/* One pass over each (channel, image) plane: d/dW and d/db sums (over the images in order),
   then d/dx while the plane of dL/dy is still in cache. gx_fresh: gx is not zeroed yet, so each
   of its planes is stored (0 + v) rather than added to. */
static void ng__cv_dw_backward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *gy,
                               float *gx, int gx_fresh, float *gw, float *gb) {
    int nth = ng_num_threads();
    ng__cv_dw_plan d = ng__cv_dw_plan_of(q);
    int64_t kk = q->kh * q->kw, per = d.scratch + kk;
    float *scr = ng__fzalloc(ctx, per * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1 && q->N * q->C * q->Ho * q->Wo * q->kh * q->kw >= ((int64_t)1 << 18)) num_threads(nth))
    {
        int64_t c, img, oy, ky, kx, ox, iy, j;
        float *P = scr + per * ng__cv_tid(), *Q = P + d.Hp * d.Wp, *ws = Q + d.Hq * d.Wq, *wf = ws + kk;
        NG__OMP(for schedule(dynamic, 1))
        for (c = 0; c < q->C; c++) {
            const float *wc = w + c * kk;
            float bsum = 0.0f;
            for (j = 0; j < kk; j++) {
                ws[j] = 0.0f;            /* d/dW sums of this channel */
                wf[j] = wc[kk - 1 - j];  /* the flipped kernel, for d/dx */
            }
            for (img = 0; img < q->N; img++) {
                const float *gp = gy + (img * q->C + c) * q->Ho * q->Wo;
                float *gxp = gx ? gx + (img * q->C + c) * q->H * q->W : NULL;
                if (gb) bsum += ng__cv_sum(q->Ho * q->Wo, gp);
                if (gw) {
                    ng__cv_pad(q->H, q->W, x + (img * q->C + c) * q->H * q->W, q->ph, q->pw, d.Wp, P);
                    if (q->sh == 1 && q->sw == 1) ng__cv_dw_taps(q->Ho, q->Wo, gp, P, d.Wp, q->kh, q->kw, ws);
                    else
                        for (oy = 0; oy < q->Ho; oy++)
                            for (ky = 0; ky < q->kh; ky++)
                                for (kx = 0; kx < q->kw; kx++) {
                                    const float *pr = P + (oy * q->sh + ky) * d.Wp + kx, *gr = gp + oy * q->Wo;
                                    float a = 0.0f;
                                    for (ox = 0; ox < q->Wo; ox++) a += gr[ox] * pr[ox * q->sw];
                                    ws[ky * q->kw + kx] += a;
                                }
                }
                if (!gxp) continue;
                if (d.qh >= 0) { /* gather: correlation of the padded dL/dy with the flipped kernel */
                    ng__cv_pad(q->Ho, q->Wo, gp, d.qh, d.qw, d.Wq, Q);
                    for (iy = 0; iy < q->H; iy++)
                        ng__cv_dw_row(q->W, Q + iy * d.Wq, d.Wq, wf, q->kh, q->kw, 0.0f, !gx_fresh, gxp + iy * q->W);
                    continue;
                }
                /* scatter into a zeroed padded plane, then add its interior */
                memset(Q, 0, (size_t)(d.Hq * d.Wq) * sizeof(float));
                for (oy = 0; oy < q->Ho; oy++)
                    for (ky = 0; ky < q->kh; ky++) {
                        float *pr = Q + (oy * q->sh + ky) * d.Wq;
                        const float *gr = gp + oy * q->Wo;
                        for (kx = 0; kx < q->kw; kx++)
                            for (ox = 0; ox < q->Wo; ox++) pr[ox * q->sw + kx] += wc[ky * q->kw + kx] * gr[ox];
                    }
                for (iy = 0; iy < q->H; iy++) {
                    if (gx_fresh) {
                        const float *qr = Q + (iy + q->ph) * d.Wq + q->pw;
                        for (j = 0; j < q->W; j++) gxp[iy * q->W + j] = 0.0f + qr[j];
                    } else {
                        ng__cv_vadd(q->W, Q + (iy + q->ph) * d.Wq + q->pw, gxp + iy * q->W);
                    }
                }
            }
            if (gw)
                for (j = 0; j < kk; j++) gw[c * kk + j] += ws[j];
            if (gb) gb[c] += bsum;
        }
    }
}

/* ---- shape rules ---- */
static int ng__cv_check(ng_ctx *ctx, const char *op, int sh, int sw, int ph, int pw, int groups) {
    if (ctx->status != NG_OK) return 0;
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0 || groups < 1) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "%s: stride %dx%d must be >= 1, padding %dx%d >= 0, groups %d >= 1", op, sh, sw, ph, pw, groups);
        return 0;
    }
    return 1;
}

/* ---- conv2d ---- */
/* i: 0 stride_h, 1 stride_w, 2 pad_h, 3 pad_w, 4 groups */
ng_tensor *ng_conv2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                        int pad_h, int pad_w, int groups) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t Ho, Wo;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV2D);
    if (!ng__cv_check(ctx, "conv2d", stride_h, stride_w, pad_h, pad_w, groups)) return NULL;
    NG_ASSERT(x->shape.ndim == 4 && w->shape.ndim == 4);
    NG_ASSERT(x->shape.d[1] % groups == 0 && w->shape.d[0] % groups == 0);
    NG_ASSERT(w->shape.d[1] * groups == x->shape.d[1]);
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    Ho = x->shape.d[2] + 2 * pad_h - w->shape.d[2];
    Wo = x->shape.d[3] + 2 * pad_w - w->shape.d[3];
    if (Ho < 0 || Wo < 0) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv2d: kernel %lldx%lld is larger than the padded input %lldx%lld",
                (long long)w->shape.d[2], (long long)w->shape.d[3], (long long)(x->shape.d[2] + 2 * pad_h),
                (long long)(x->shape.d[3] + 2 * pad_w));
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_CONV2D, ins, b ? 3 : 2,
                  ng_shape4(x->shape.d[0], w->shape.d[0], Ho / stride_h + 1, Wo / stride_w + 1));
    if (!n) return NULL;
    n->i[0] = stride_h; n->i[1] = stride_w; n->i[2] = pad_h; n->i[3] = pad_w; n->i[4] = groups;
    return ng__finish(n);
}
ng_tensor *ng_conv2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride, int pad, int groups) {
    return ng_conv2d_ex(ctx, x, w, b, stride, stride, pad, pad, groups);
}
static ng__cv_geo ng__cv_geo_conv(const ng_node *n) {
    ng__cv_geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.C = xs->d[1]; q.H = xs->d[2]; q.W = xs->d[3];
    q.O = ys->d[1]; q.Ho = ys->d[2]; q.Wo = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    ng__cv_finish_geo(&q);
    return q;
}
static int ng__cv_depthwise(const ng__cv_geo *q) { return q->Cg == 1 && q->Og == 1; }
/* Forward and backward give their scratch (column buffers, padded planes, packed weights,
   partial sums) back to the arena when they return: it is allocated after the output and the
   input gradients, so the step's arena holds activations and gradients only. */
static void ng__fw_conv2d_run(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    const float *b = n->n_in == 3 ? n->in[2]->data : NULL;
    if (ng__cv_depthwise(&q)) ng__cv_dw_forward(n->ctx, &q, n->in[0]->data, n->in[1]->data, b, n->out->data);
    else if (ng__cv_direct_ok(&q)) ng__cv_direct(n->ctx, &q, n->in[0]->data, n->in[1]->data, 0, b, 0, n->out->data);
    else ng__cv_forward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, b, n->out->data);
}
static void ng__fw_conv2d(ng_node *n) {
    size_t mark = n->ctx->arena.used;
    ng__fw_conv2d_run(n);
    n->ctx->arena.used = mark;
}
static void ng__bw_conv2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    int fresh; /* gx not zeroed: the first pass stores instead of adding */
    float *gx = ng__in_grad_fresh(n, 0, &fresh), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    size_t mark = n->ctx->arena.used;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    if (ng__cv_depthwise(&q)) {
        ng__cv_dw_backward(n->ctx, &q, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
        n->ctx->arena.used = mark;
        return;
    }
    if (gx && q.sh == 1 && q.sw == 1 && q.ph <= q.kh - 1 && q.pw <= q.kw - 1) {
        ng__cv_geo f = ng__cv_flip_geo(&q);
        if (ng__cv_direct_ok(&f)) {
            ng__cv_direct(n->ctx, &f, n->out->grad, n->in[1]->data, 1, NULL, !fresh, gx);
            gx = NULL;
        }
    }
    if ((gw || gb) && ng__cv_wdirect_ok(&q)) {
        ng__cv_wgrad_direct(n->ctx, &q, n->in[0]->data, n->out->grad, gw, gb);
        gw = gb = NULL;
    }
    if (gx || gw || gb) ng__cv_backward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
    n->ctx->arena.used = mark;
}

/* ---- conv_transpose2d ---- */
/* i: 0 stride_h, 1 stride_w, 2 pad_h, 3 pad_w, 4 groups, 5 output_padding_h, 6 output_padding_w */
ng_tensor *ng_conv_transpose2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                                  int pad_h, int pad_w, int outpad_h, int outpad_w, int groups) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t Ho, Wo, O;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV_T2D);
    if (!ng__cv_check(ctx, "conv_transpose2d", stride_h, stride_w, pad_h, pad_w, groups)) return NULL;
    if (outpad_h < 0 || outpad_w < 0 || outpad_h >= stride_h || outpad_w >= stride_w) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv_transpose2d: output_padding %dx%d must be >= 0 and smaller than the stride %dx%d",
                outpad_h, outpad_w, stride_h, stride_w);
        return NULL;
    }
    NG_ASSERT(x->shape.ndim == 4 && w->shape.ndim == 4);
    NG_ASSERT(w->shape.d[0] == x->shape.d[1] && x->shape.d[1] % groups == 0);
    O = w->shape.d[1] * groups;
    NG_ASSERT(!b || b->numel == O);
    Ho = (x->shape.d[2] - 1) * stride_h - 2 * pad_h + w->shape.d[2] + outpad_h;
    Wo = (x->shape.d[3] - 1) * stride_w - 2 * pad_w + w->shape.d[3] + outpad_w;
    if (Ho < 1 || Wo < 1) {
        ng__ctx_fail(ctx, NG_ERR_ARG);
        ng_fail(NG_ERR_ARG, "conv_transpose2d: output size %lldx%lld is not positive", (long long)Ho, (long long)Wo);
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_CONV_T2D, ins, b ? 3 : 2, ng_shape4(x->shape.d[0], O, Ho, Wo));
    if (!n) return NULL;
    n->i[0] = stride_h; n->i[1] = stride_w; n->i[2] = pad_h; n->i[3] = pad_w; n->i[4] = groups;
    n->i[5] = outpad_h; n->i[6] = outpad_w;
    return ng__finish(n);
}
ng_tensor *ng_conv_transpose2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride, int pad,
                               int output_padding, int groups) {
    return ng_conv_transpose2d_ex(ctx, x, w, b, stride, stride, pad, pad, output_padding, output_padding, groups);
}
/* the conv2d whose adjoint this is: conv input = our output y, conv output = our input x */
static ng__cv_geo ng__cv_geo_convt(const ng_node *n) {
    ng__cv_geo q;
    const ng_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape, *ys = &n->out->shape;
    q.N = xs->d[0]; q.O = xs->d[1]; q.Ho = xs->d[2]; q.Wo = xs->d[3];
    q.C = ys->d[1]; q.H = ys->d[2]; q.W = ys->d[3];
    q.kh = ws->d[2]; q.kw = ws->d[3];
    q.sh = n->i[0]; q.sw = n->i[1]; q.ph = n->i[2]; q.pw = n->i[3]; q.G = n->i[4];
    ng__cv_finish_geo(&q);
    return q;
}
static void ng__fw_conv_transpose2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_convt(n);
    size_t mark = n->ctx->arena.used;
    ng__cv_forward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->n_in == 3 ? n->in[2]->data : NULL, n->out->data);
    n->ctx->arena.used = mark;
}
static void ng__bw_conv_transpose2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_convt(n);
    int fresh;
    float *gx = ng__in_grad_fresh(n, 0, &fresh), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    size_t mark = n->ctx->arena.used;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    ng__cv_backward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->out->grad, gx, fresh, gw, gb);
    n->ctx->arena.used = mark;
}
