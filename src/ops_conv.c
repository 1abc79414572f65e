/* ======================================================================================== */
/* @@OPS convolution, resampling and pooling (NCHW)                                         */
/* ======================================================================================== */
/* Placeholder for op families still being written (ops_norm.c, nas.c use it). */
#define NG__TODO(f) static void ng__fw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); } \
                    static void ng__bw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); }

/* How the convolutions are computed.
   A convolution is described by the geometry of a plain conv2d (ng__cv_geo): input (C, H, W),
   output (O, Ho, Wo), weight (O, C/G, kh, kw). A transposed convolution is the adjoint of such
   a conv2d (its input plays the conv's output and vice versa), so three per-image kernels
   serve both ops:
     fwd:   out_g  = W_g @ im2col(in_g)             (conv forward; conv_transpose d/dx)
     adj:   in_g  += col2im(W_g^T @ out_g)           (conv d/dx; conv_transpose forward)
     wgrad: dW_g  += out_g @ im2col(in_g)^T          (both ops' d/dW; accumulated transposed,
                                                      im2col(in_g) @ out_g^T, when O/G < 128:
                                                      OpenBLAS is faster that way round)
   im2col works on tiles of output rows so that the column buffer stays a few MB. 1x1 stride-1
   unpadded convs skip im2col. Work is split over (image, group) pairs with OpenMP; ng_sgemm runs
   single-threaded inside the parallel region. Each thread owns one column buffer and, for d/dW
   and d/db, one partial sum, allocated once per op from the arena; the partials are added in
   thread order, so results are deterministic for a given thread count. Depthwise convs
   (C/G == O/G == 1) use direct kernels split over channels, whose sums run over the batch in a
   fixed order (deterministic for any thread count). */

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
/* y[i] += a * x[i] */
static void ng__cv_axpy(int64_t n, float a, const float *x, float *y) {
    int64_t i = 0;
#ifdef NG__HAVE_AVX2
    __m256 va = _mm256_set1_ps(a);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
    for (; i < n; i++) y[i] += a * x[i];
}
/* acc[i] += x[i] * z[i] */
static void ng__cv_vfma(int64_t n, const float *x, const float *z, float *acc) {
    int64_t i = 0;
#ifdef NG__HAVE_AVX2
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(z + i), _mm256_loadu_ps(acc + i)));
#endif
    for (; i < n; i++) acc[i] += x[i] * z[i];
}
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
/* col (K, (oy1-oy0)*Wo) from x (Cg, H, W) */
static void ng__cv_im2col(const ng__cv_geo *q, const float *x, int64_t oy0, int64_t oy1, float *col) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi;
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
                    row = src + iy * q->W - q->pw + kx;
                    for (ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    if (q->sw == 1) memcpy(d + lo, row + lo, (size_t)(hi - lo) * sizeof(float));
                    else for (ox = lo; ox < hi; ox++) d[ox] = row[ox * q->sw];
                    for (ox = hi; ox < q->Wo; ox++) d[ox] = 0.0f;
                }
            }
    }
}
/* x (Cg, H, W) += col2im(col) */
static void ng__cv_col2im(const ng__cv_geo *q, const float *col, int64_t oy0, int64_t oy1, float *x) {
    int64_t T = (oy1 - oy0) * q->Wo, c, ky, kx, oy, ox, lo, hi;
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
                    row = dst + iy * q->W - q->pw + kx;
                    if (q->sw == 1) ng__cv_vadd(hi - lo, d + lo, row + lo);
                    else for (ox = lo; ox < hi; ox++) row[ox * q->sw] += d[ox];
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
static int ng__cv_par(int64_t tasks, int nth) { return nth > 1 && tasks >= nth; }

/* ---- generic conv / conv-transpose forward over the batch ----
   transposed 0: dst (O side) = [bias] + fwd(src)    (conv2d:           src = x, dst = y)
   transposed 1: dst (C side) = [bias] + adj(src)    (conv_transpose2d: src = x, dst = y) */
static void ng__cv_forward(ng_ctx *ctx, const ng__cv_geo *q, int transposed, const float *src, const float *w,
                           const float *bias, float *dst) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int64_t tasks = q->N * q->G, colsz = ng__cv_col_floats(q);
    int64_t in_sz = q->C * q->H * q->W, out_sz = q->O * q->Ho * q->Wo;
    float *cols = ng__falloc(ctx, colsz * nth);
    int par = ng__cv_par(tasks, nth);
    if (!cols) return;
    (void)par;
    NG__OMP(parallel if (par) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t t, t0 = tasks * tid / nt, t1 = tasks * (tid + 1) / nt, ch;
        float *col = cols + colsz * tid;
        for (t = t0; t < t1; t++) {
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
                            const float *gy, float *gx, float *gw, float *gb) {
    int nth = ng_num_threads(), be = ctx->gemm_backend;
    int wtr = q->Og < 128; /* OpenBLAS is faster with the long side first when O/G is small */
    int64_t tasks = q->N * q->G, colsz = (gx || gw) ? ng__cv_col_floats(q) : 1;
    int64_t wsz = q->O * q->K, bsz = transposed ? q->C : q->O, j;
    int64_t bstride = wsz + bsz + 16; /* per-thread partial: dW then db */
    float *cols = ng__falloc(ctx, colsz * nth), *parts = NULL;
    int par = ng__cv_par(tasks, nth), t;
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
                if (gx) ng__cv_adj(q, be, g, gy + out_off, w, gx + in_off, col);
                if (gw) {
                    if (wtr) ng__cv_wgrad_t(q, be, g, gy + out_off, x + in_off, pw_, col);
                    else ng__cv_wgrad(q, be, g, gy + out_off, x + in_off, pw_, col);
                }
                if (gb)
                    for (ch = g * q->Og; ch < (g + 1) * q->Og; ch++)
                        pb[ch] += ng__cv_sum(q->Ho * q->Wo, gy + out_off + ch * q->Ho * q->Wo);
            } else {
                if (gx) ng__cv_fwd(q, be, g, gy + in_off, w, 1.0f, gx + out_off, col);
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

/* ---- depthwise conv2d (C/G == O/G == 1): direct kernels, split over channels ---- */
/* Per-thread scratch: padded input plane, padded gradient plane, d/dW accumulators. */
static int64_t ng__cv_dw_scratch(const ng__cv_geo *q) {
    int64_t Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw;
    return 2 * Hp * Wp + q->kh * q->kw * q->Wo + 32;
}
/* copy plane x (H, W) into the interior of P (Hp, Wp), whose border is already zero */
static void ng__cv_dw_pad(const ng__cv_geo *q, const float *x, float *P) {
    int64_t Wp = q->W + 2 * q->pw, iy;
    for (iy = 0; iy < q->H; iy++) memcpy(P + (iy + q->ph) * Wp + q->pw, x + iy * q->W, (size_t)q->W * sizeof(float));
}
static void ng__cv_dw_forward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *bias, float *y) {
    int nth = ng_num_threads();
    int64_t ss = ng__cv_dw_scratch(q), Wp = q->W + 2 * q->pw;
    float *scr = ng__fzalloc(ctx, ss * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t c, c0 = q->C * tid / nt, c1 = q->C * (tid + 1) / nt, img, oy, ky, kx, ox;
        float *P = scr + ss * tid;
        for (c = c0; c < c1; c++) {
            const float *wc = w + c * q->kh * q->kw;
            for (img = 0; img < q->N; img++) {
                float *yp = y + (img * q->C + c) * q->Ho * q->Wo;
                ng__cv_dw_pad(q, x + (img * q->C + c) * q->H * q->W, P);
                for (oy = 0; oy < q->Ho; oy++) {
                    float *yr = yp + oy * q->Wo;
                    ng__cv_fill(q->Wo, bias ? bias[c] : 0.0f, yr);
                    for (ky = 0; ky < q->kh; ky++) {
                        const float *pr = P + (oy * q->sh + ky) * Wp;
                        for (kx = 0; kx < q->kw; kx++) {
                            float wv = wc[ky * q->kw + kx];
                            if (q->sw == 1) ng__cv_axpy(q->Wo, wv, pr + kx, yr);
                            else for (ox = 0; ox < q->Wo; ox++) yr[ox] += wv * pr[ox * q->sw + kx];
                        }
                    }
                }
            }
        }
    }
}
static void ng__cv_dw_backward(ng_ctx *ctx, const ng__cv_geo *q, const float *x, const float *w, const float *gy,
                               float *gx, float *gw, float *gb) {
    int nth = ng_num_threads();
    int64_t ss = ng__cv_dw_scratch(q), Hp = q->H + 2 * q->ph, Wp = q->W + 2 * q->pw, kk = q->kh * q->kw;
    float *scr = ng__fzalloc(ctx, ss * nth);
    if (!scr) return;
    NG__OMP(parallel if (nth > 1 && q->C > 1) num_threads(nth))
    {
        int tid = ng__cv_tid(), nt = ng__cv_nt();
        int64_t c, c0 = q->C * tid / nt, c1 = q->C * (tid + 1) / nt, img, oy, ky, kx, ox, iy, j;
        float *P = scr + ss * tid, *GP = P + Hp * Wp, *acc = GP + Hp * Wp;
        for (c = c0; c < c1; c++) {
            const float *wc = w + c * kk;
            float bsum = 0.0f;
            if (gw) memset(acc, 0, (size_t)(kk * q->Wo) * sizeof(float));
            for (img = 0; img < q->N; img++) {
                const float *gp = gy + (img * q->C + c) * q->Ho * q->Wo;
                if (gb) bsum += ng__cv_sum(q->Ho * q->Wo, gp);
                if (gw) {
                    ng__cv_dw_pad(q, x + (img * q->C + c) * q->H * q->W, P);
                    for (oy = 0; oy < q->Ho; oy++)
                        for (ky = 0; ky < q->kh; ky++) {
                            const float *pr = P + (oy * q->sh + ky) * Wp, *gr = gp + oy * q->Wo;
                            for (kx = 0; kx < q->kw; kx++) {
                                float *a = acc + (ky * q->kw + kx) * q->Wo;
                                if (q->sw == 1) ng__cv_vfma(q->Wo, gr, pr + kx, a);
                                else for (ox = 0; ox < q->Wo; ox++) a[ox] += gr[ox] * pr[ox * q->sw + kx];
                            }
                        }
                }
                if (gx) {
                    float *gxp = gx + (img * q->C + c) * q->H * q->W;
                    memset(GP, 0, (size_t)(Hp * Wp) * sizeof(float));
                    for (oy = 0; oy < q->Ho; oy++)
                        for (ky = 0; ky < q->kh; ky++) {
                            float *pr = GP + (oy * q->sh + ky) * Wp;
                            const float *gr = gp + oy * q->Wo;
                            for (kx = 0; kx < q->kw; kx++) {
                                float wv = wc[ky * q->kw + kx];
                                if (q->sw == 1) ng__cv_axpy(q->Wo, wv, gr, pr + kx);
                                else for (ox = 0; ox < q->Wo; ox++) pr[ox * q->sw + kx] += wv * gr[ox];
                            }
                        }
                    for (iy = 0; iy < q->H; iy++) ng__cv_vadd(q->W, GP + (iy + q->ph) * Wp + q->pw, gxp + iy * q->W);
                }
            }
            if (gw)
                for (j = 0; j < kk; j++) gw[c * kk + j] += ng__cv_sum(q->Wo, acc + j * q->Wo);
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
static void ng__fw_conv2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    const float *b = n->n_in == 3 ? n->in[2]->data : NULL;
    if (ng__cv_depthwise(&q)) ng__cv_dw_forward(n->ctx, &q, n->in[0]->data, n->in[1]->data, b, n->out->data);
    else ng__cv_forward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, b, n->out->data);
}
static void ng__bw_conv2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_conv(n);
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    if (ng__cv_depthwise(&q)) ng__cv_dw_backward(n->ctx, &q, n->in[0]->data, n->in[1]->data, n->out->grad, gx, gw, gb);
    else ng__cv_backward(n->ctx, &q, 0, n->in[0]->data, n->in[1]->data, n->out->grad, gx, gw, gb);
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
    ng__cv_forward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->n_in == 3 ? n->in[2]->data : NULL, n->out->data);
}
static void ng__bw_conv_transpose2d(ng_node *n) {
    ng__cv_geo q = ng__cv_geo_convt(n);
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (!gx && !gw && !gb) return;
    if (n->ctx->status != NG_OK) return;
    ng__cv_backward(n->ctx, &q, 1, n->in[0]->data, n->in[1]->data, n->out->grad, gx, gw, gb);
}

/* ---- upsampling x2: nearest (i[0] = 0) and bilinear, align_corners=False (i[0] = 1) ---- */
static ng_tensor *ng__upsample(ng_ctx *ctx, ng_tensor *x, int mode) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_UPSAMPLE);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_UPSAMPLE, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], 2 * x->shape.d[2], 2 * x->shape.d[3]));
    if (!n) return NULL;
    n->i[0] = mode;
    return ng__finish(n);
}
ng_tensor *ng_upsample_nearest2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 0); }
ng_tensor *ng_upsample_bilinear2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 1); }

/* PyTorch's source index and weights for output index d along an axis of `in` elements
   (scale 1/2, align_corners=False): src = max(0, (d + 0.5) / 2 - 0.5). */
static void ng__up_lin(int64_t d, int64_t in, int64_t *i0, int64_t *i1, float *l0, float *l1) {
    float src = 0.5f * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int64_t)src;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (float)*i0;
    *l0 = 1.0f - *l1;
}
typedef struct ng__up_tab { int64_t i0, i1; float l0, l1; } ng__up_tab;
static ng__up_tab *ng__up_table(ng_ctx *ctx, int64_t in) {
    ng__up_tab *t = (ng__up_tab *)ng__alloc(ctx, (size_t)(2 * in) * sizeof *t);
    int64_t d;
    if (t)
        for (d = 0; d < 2 * in; d++) ng__up_lin(d, in, &t[d].i0, &t[d].i1, &t[d].l0, &t[d].l1);
    return t;
}
static void ng__fw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    ng__up_tab *th = NULL, *tw = NULL;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * 4 * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                float *r = yp + 2 * i * 2 * W;
                for (j = 0; j < W; j++) r[2 * j] = r[2 * j + 1] = xp[i * W + j];
                memcpy(r + 2 * W, r, (size_t)(2 * W) * sizeof(float));
            }
        } else {
            for (i = 0; i < 2 * H; i++) {
                const float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W;
                float h0 = th[i].l0, h1 = th[i].l1, *r = yp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r[j] = (r0[c->i0] * c->l0 + r0[c->i1] * c->l1) * h0 + (r1[c->i0] * c->l0 + r1[c->i1] * c->l1) * h1;
                }
            }
        }
    }
}
static void ng__bw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    ng__up_tab *th = NULL, *tw = NULL;
    if (!gx) return;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *gp = g + p * 4 * H * W;
        float *xp = gx + p * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                const float *r0 = gp + 2 * i * 2 * W, *r1 = r0 + 2 * W;
                for (j = 0; j < W; j++) xp[i * W + j] += (r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]);
            }
        } else {
            for (i = 0; i < 2 * H; i++) {
                float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W, h0 = th[i].l0, h1 = th[i].l1;
                const float *r = gp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r0[c->i0] += h0 * c->l0 * r[j];
                    r0[c->i1] += h0 * c->l1 * r[j];
                    r1[c->i0] += h1 * c->l0 * r[j];
                    r1[c->i1] += h1 * c->l1 * r[j];
                }
            }
        }
    }
}

/* ---- avg_pool2d(x, 2): kernel 2, stride 2, floor ---- */
ng_tensor *ng_avg_pool2d(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_AVG_POOL2);
    NG_ASSERT(x->shape.ndim == 4);
    if (x->shape.d[2] < 2 || x->shape.d[3] < 2) {
        ng__bad(ctx, "avg_pool2d", "input is smaller than the 2x2 window");
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_AVG_POOL2, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], x->shape.d[2] / 2, x->shape.d[3] / 2));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        for (i = 0; i < Ho; i++) {
            const float *r0 = x + p * H * W + 2 * i * W, *r1 = r0 + W;
            float *r = y + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) r[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) / 4.0f;
        }
    }
}
static void ng__bw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        for (i = 0; i < Ho; i++) {
            float *r0 = gx + p * H * W + 2 * i * W, *r1 = r0 + W;
            const float *r = g + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) {
                float v = r[j] * 0.25f;
                r0[2 * j] += v; r0[2 * j + 1] += v; r1[2 * j] += v; r1[2 * j + 1] += v;
            }
        }
    }
}

/* ---- sum over H and W: (N, C, H, W) -> (N, C) ---- */
ng_tensor *ng_sum_hw(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_SUM_HW);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_SUM_HW, &x, 1, ng_shape2(x->shape.d[0], x->shape.d[1]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = n->in[0]->data + p * HW;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < HW; j++) acc += xp[j];
        n->out->data[p] = (float)acc;
    }
}
static void ng__bw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        float v = n->out->grad[p], *xp = gx + p * HW;
        int64_t j;
        for (j = 0; j < HW; j++) xp[j] += v;
    }
}
