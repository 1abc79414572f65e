/* Gradient checks and hand-computed / PyTorch values for convolution, conv-transpose,
   upsampling, average pooling and the sum over H and W. */
#include "test.h"

static gc_input cin(ng_shape s) { gc_input g; memset(&g, 0, sizeof g); g.shape = s; g.needs_grad = 1; return g; }

/* ---- conv2d ---- */
typedef struct {
    int64_t N, C, H, W, O, kh, kw;
    int sh, sw, ph, pw, groups, bias;
} conv_case;

static ng_tensor *f_conv(ng_ctx *c, ng_tensor **in, void *u) {
    const conv_case *k = (const conv_case *)u;
    if (k->sh == k->sw && k->ph == k->pw) return ng_conv2d(c, in[0], in[1], k->bias ? in[2] : NULL, k->sh, k->ph, k->groups);
    return ng_conv2d_ex(c, in[0], in[1], k->bias ? in[2] : NULL, k->sh, k->sw, k->ph, k->pw, k->groups);
}
TEST(grad_conv2d) {
    static const conv_case cases[] = {
        /* N  C  H  W  O kh kw sh sw ph pw  g  bias */
        {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1},   /* plain 3x3 "same" */
        {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 0},   /* no bias */
        {1, 4, 7, 6, 6, 3, 3, 2, 2, 1, 1, 2, 1},   /* stride 2, groups 2, one image (serial path) */
        {2, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1},   /* 1x1 on a 1x1 image (pointwise path) */
        {3, 5, 3, 7, 3, 1, 1, 1, 1, 0, 0, 1, 0},   /* pointwise, primes */
        {2, 3, 5, 3, 2, 1, 1, 2, 2, 1, 1, 1, 1},   /* 1x1 with stride and padding */
        {2, 4, 6, 6, 4, 5, 5, 1, 1, 2, 2, 4, 0},   /* depthwise 5x5 (sep conv) */
        {2, 3, 7, 5, 3, 3, 3, 2, 2, 1, 1, 3, 1},   /* depthwise 3x3 stride 2, bias */
        {1, 2, 5, 5, 2, 7, 7, 1, 1, 3, 3, 2, 1},   /* depthwise 7x7, kernel larger than the image */
        {2, 2, 6, 5, 3, 2, 2, 2, 2, 0, 0, 1, 1},   /* even kernel, stride 2, odd width */
        {2, 3, 5, 7, 2, 2, 3, 1, 1, 0, 0, 1, 1},   /* rectangular kernel */
        {1, 2, 11, 13, 3, 3, 3, 2, 2, 2, 2, 1, 0}, /* padding 2 with stride 2, prime sizes */
        {2, 2, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2, 1},   /* groups 2 with channel multiplier 2 */
        {2, 2, 5, 6, 3, 3, 2, 1, 2, 2, 0, 1, 1},   /* _ex: stride 1x2, padding 2x0 */
        {2, 4, 5, 5, 4, 5, 5, 1, 1, 2, 2, 1, 1},   /* 5x5 "same" */
        {1, 2, 3, 4, 2, 3, 3, 1, 1, 3, 3, 2, 1},   /* depthwise, padding larger than the kernel */
        {2, 3, 4, 3, 3, 3, 2, 1, 2, 1, 0, 3, 1},   /* depthwise _ex: stride 1x2 */
        /* rows of 8, 24 or 29: the direct stride-1 kernel (forward and flipped d/dx) */
        {2, 3, 3, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1},   /* two rows per tile, odd row count, 5 channels */
        {1, 4, 3, 24, 8, 3, 5, 1, 1, 0, 2, 2, 1},  /* 16 + 8 columns, groups 2, 3x5 kernel */
        {2, 2, 4, 28, 7, 2, 2, 1, 1, 1, 1, 1, 0},  /* 16 + 8 + 5 columns, 5 rows, padded even kernel, 6 + 1 channels */
        {1, 2, 3, 8, 2, 1, 3, 1, 1, 1, 1, 1, 1},   /* padding > kernel - 1: d/dx not flipped */
        /* 12 or more output channels per group: direct d/dW (6 taps x 16 channels per tile) */
        {2, 1, 4, 5, 12, 2, 2, 1, 1, 1, 1, 1, 1},  /* 4 taps, 12 channels */
        {2, 4, 3, 4, 24, 3, 3, 1, 1, 1, 1, 2, 1},  /* groups 2: 18 taps, 12 channels each */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        gc_input in[3];
        char name[64];
        in[0] = cin(ng_shape4(k->N, k->C, k->H, k->W));
        in[1] = cin(ng_shape4(k->O, k->C / k->groups, k->kh, k->kw));
        in[2] = cin(ng_shape1(k->O));
        snprintf(name, sizeof name, "conv2d case %d", (int)i);
        gradcheck(name, f_conv, (void *)k, in, k->bias ? 3 : 2, 1000 + i, gc_default());
    }
}

/* ---- conv_transpose2d ---- */
typedef struct {
    int64_t N, C, H, W, O, kh, kw;
    int sh, sw, ph, pw, oph, opw, groups, bias;
} convt_case;
static ng_tensor *f_convt(ng_ctx *c, ng_tensor **in, void *u) {
    const convt_case *k = (const convt_case *)u;
    if (k->sh == k->sw && k->ph == k->pw && k->oph == k->opw)
        return ng_conv_transpose2d(c, in[0], in[1], k->bias ? in[2] : NULL, k->sh, k->ph, k->oph, k->groups);
    return ng_conv_transpose2d_ex(c, in[0], in[1], k->bias ? in[2] : NULL, k->sh, k->sw, k->ph, k->pw, k->oph, k->opw, k->groups);
}
TEST(grad_conv_transpose2d) {
    static const convt_case cases[] = {
        /* N  C  H  W  O kh kw sh sw ph pw oph opw g bias */
        {2, 3, 4, 3, 5, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1},  /* alphaGAN deconv: k2 s2 */
        {2, 3, 4, 3, 5, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0},  /* ... without bias */
        {1, 2, 3, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},  /* output_padding, one image */
        {2, 4, 3, 3, 6, 3, 3, 1, 1, 1, 1, 0, 0, 2, 1},  /* groups 2 */
        {2, 2, 3, 2, 3, 4, 4, 3, 3, 1, 1, 2, 2, 1, 1},  /* kernel 4 stride 3 output_padding 2 */
        {2, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},  /* 1x1 (pointwise path), 1x1 image */
        {2, 2, 3, 4, 3, 3, 2, 2, 1, 0, 1, 1, 0, 1, 1},  /* _ex: rectangular kernel and strides */
        {2, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 3, 1},  /* depthwise */
        {1, 2, 2, 9, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1},  /* k2 s2 rows of 18: 8 columns at a time + 1 */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const convt_case *k = &cases[i];
        gc_input in[3];
        char name[64];
        in[0] = cin(ng_shape4(k->N, k->C, k->H, k->W));
        in[1] = cin(ng_shape4(k->C, k->O / k->groups, k->kh, k->kw));
        in[2] = cin(ng_shape1(k->O));
        snprintf(name, sizeof name, "conv_transpose2d case %d", (int)i);
        gradcheck(name, f_convt, (void *)k, in, k->bias ? 3 : 2, 1100 + i, gc_default());
    }
}

/* ---- upsampling, pooling, sum ---- */
static ng_tensor *f_resample(ng_ctx *c, ng_tensor **in, void *u) {
    switch ((int)(intptr_t)u) {
    case 0: return ng_upsample_nearest2x(c, in[0]);
    case 1: return ng_upsample_bilinear2x(c, in[0]);
    case 2: return ng_avg_pool2d(c, in[0]);
    case 3: return ng_sum_hw(c, in[0]);
    default: return ng_upsample_bilinear2x(c, ng_upsample_bilinear2x(c, in[0])); /* x4 skip edge */
    }
}
TEST(grad_resample_pool_sum) {
    static const int64_t shapes[][4] = {{2, 3, 5, 4}, {1, 1, 1, 1}, {1, 2, 1, 3}, {2, 1, 3, 2}, {1, 2, 7, 5}};
    int op;
    size_t i;
    for (op = 0; op < 5; op++)
        for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            gc_input in[1];
            if (op == 2 && (shapes[i][2] < 2 || shapes[i][3] < 2)) continue;
            in[0] = cin(ng_shape4(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]));
            gradcheck(op == 0 ? "upsample nearest" : op == 1 ? "upsample bilinear" : op == 2 ? "avg_pool2d" : op == 3 ? "sum_hw" : "bilinear x4",
                      f_resample, (void *)(intptr_t)op, in, 1, 1200 + 10 * op + i, gc_default());
        }
}

/* ---- values against PyTorch (printed by torch 1.13) and by hand ---- */
static void check_values(const char *what, const ng_tensor *t, const float *want, int64_t n) {
    int64_t i;
    CHECK_MSG(t && t->numel == n, "%s: wrong size", what);
    if (!t || t->numel != n) return;
    for (i = 0; i < n; i++)
        CHECK_MSG(fabsf(t->data[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])), "%s[%d]: %g, want %g", what, (int)i, t->data[i], want[i]);
}
TEST(conv_resample_values) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    static const float x22[4] = {1, 2, 3, 4};
    static const float bil22[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    static const float near22[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    static const float x33[9] = {1, -2, 5, 0.5f, 4, 3, 2, -1, 0};
    static const float bil33[36] = {1.0f, 0.25f, -1.25f, -0.25f, 3.25f, 5.0f, 0.875f, 0.53125f, -0.15625f, 0.75f, 3.25f, 4.5f,
                                    0.625f, 1.09375f, 2.03125f, 2.75f, 3.25f, 3.5f, 0.875f, 1.34375f, 2.28125f, 2.625f, 2.375f, 2.25f,
                                    1.625f, 1.28125f, 0.59375f, 0.375f, 0.625f, 0.75f, 2.0f, 1.25f, -0.25f, -0.75f, -0.25f, 0.0f};
    static const float w33[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const float convt[16] = {5, 14, 10, 12, 14, 36, 24, 30, 15, 34, 20, 24, 24, 55, 32, 36};
    static const float wrect[6] = {1, 0, -1, 2, 1, 0.5f};
    static const float conv_rect[9] = {2, 9, 13, 10, 42, 52, -17, -2, 19};
    static const float pool_in[15] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; /* 3x5 */
    static const float pool[2] = {(1 + 2 + 6 + 7) / 4.0f, (3 + 4 + 8 + 9) / 4.0f};
    float x20[20], ones[9], sums[2];
    ng_tensor *x, *y;
    int i;
    for (i = 0; i < 20; i++) x20[i] = (float)(i + 1);
    for (i = 0; i < 9; i++) ones[i] = 1.0f;
    x = ng_tensor_from(c, ng_shape4(1, 1, 2, 2), x22);
    check_values("bilinear 2x2", ng_upsample_bilinear2x(c, x), bil22, 16);
    check_values("nearest 2x2", ng_upsample_nearest2x(c, x), near22, 16);
    check_values("bilinear 3x3", ng_upsample_bilinear2x(c, ng_tensor_from(c, ng_shape4(1, 1, 3, 3), x33)), bil33, 36);
    /* F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1) */
    y = ng_conv_transpose2d(c, x, ng_tensor_from(c, ng_shape4(1, 1, 3, 3), w33), NULL, 2, 1, 1, 1);
    CHECK(y && y->shape.d[2] == 4 && y->shape.d[3] == 4);
    check_values("conv_transpose2d", y, convt, 16);
    /* F.conv2d(arange(1, 21).view(1, 1, 4, 5), w (2x3), stride=2, padding=1) */
    y = ng_conv2d(c, ng_tensor_from(c, ng_shape4(1, 1, 4, 5), x20), ng_tensor_from(c, ng_shape4(1, 1, 2, 3), wrect), NULL, 2, 1, 1);
    CHECK(y && y->shape.d[2] == 3 && y->shape.d[3] == 3);
    check_values("conv2d rect", y, conv_rect, 9);
    /* 3x3 box filter with padding 1 on 1..9: corner 1+2+4+5, centre 45; bias 0.5 */
    {
        float b = 0.5f;
        y = ng_conv2d(c, ng_tensor_from(c, ng_shape4(1, 1, 3, 3), w33), ng_tensor_from(c, ng_shape4(1, 1, 3, 3), ones),
                      ng_tensor_from(c, ng_shape1(1), &b), 1, 1, 1);
        CHECK(y && y->data[0] == 12.5f && y->data[4] == 45.5f && y->data[8] == 28.5f);
    }
    check_values("avg_pool2d 3x5", ng_avg_pool2d(c, ng_tensor_from(c, ng_shape4(1, 1, 3, 5), pool_in)), pool, 2);
    y = ng_sum_hw(c, ng_tensor_from(c, ng_shape4(1, 2, 2, 5), x20));
    sums[0] = 55; sums[1] = 155; /* planes 1..10 and 11..20 */
    CHECK(y && y->shape.ndim == 2 && y->shape.d[0] == 1 && y->shape.d[1] == 2);
    check_values("sum_hw", y, sums, 2);
    /* deconv k2 s2: out[o, 2i+a, 2j+b] = b[o] + sum_c x[c, i, j] W[c, o, a, b] */
    {
        float xv[8] = {1, 2, 3, 4, -1, 0.5f, 2, -3}, wv[16], bv[2] = {0.25f, -1};
        int o, a, bb, ii, jj, cc;
        for (i = 0; i < 16; i++) wv[i] = (float)(i % 5) - 1.5f;
        y = ng_conv_transpose2d(c, ng_tensor_from(c, ng_shape4(1, 2, 2, 2), xv), ng_tensor_from(c, ng_shape4(2, 2, 2, 2), wv),
                                ng_tensor_from(c, ng_shape1(2), bv), 2, 0, 0, 1);
        CHECK(y && y->shape.d[1] == 2 && y->shape.d[2] == 4 && y->shape.d[3] == 4);
        if (y)
            for (o = 0; o < 2; o++)
                for (ii = 0; ii < 2; ii++)
                    for (jj = 0; jj < 2; jj++)
                        for (a = 0; a < 2; a++)
                            for (bb = 0; bb < 2; bb++) {
                                float want = bv[o];
                                for (cc = 0; cc < 2; cc++) want += xv[cc * 4 + ii * 2 + jj] * wv[((cc * 2 + o) * 2 + a) * 2 + bb];
                                CHECK_CLOSE(y->data[o * 16 + (2 * ii + a) * 4 + 2 * jj + bb], want, 1e-6, 1e-6);
                            }
    }
    ng_ctx_free(c);
}

/* ---- larger shapes against a naive double-precision reference (tiled im2col, threads) ---- */
static void naive_conv(const conv_case *k, int64_t Ho, int64_t Wo, const float *x, const float *w, const float *b,
                       const float *gy, double *y, double *gx, double *gw) {
    int64_t Cg = k->C / k->groups, Og = k->O / k->groups, n, o, c, oy, ox, ky, kx;
    for (n = 0; n < k->N; n++)
        for (o = 0; o < k->O; o++)
            for (oy = 0; oy < Ho; oy++)
                for (ox = 0; ox < Wo; ox++) {
                    int64_t yi = ((n * k->O + o) * Ho + oy) * Wo + ox, g = o / Og;
                    double s = b ? b[o] : 0.0;
                    for (c = 0; c < Cg; c++)
                        for (ky = 0; ky < k->kh; ky++)
                            for (kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy * k->sh - k->ph + ky, ix = ox * k->sw - k->pw + kx, xi, wi;
                                if (iy < 0 || iy >= k->H || ix < 0 || ix >= k->W) continue;
                                xi = ((n * k->C + g * Cg + c) * k->H + iy) * k->W + ix;
                                wi = ((o * Cg + c) * k->kh + ky) * k->kw + kx;
                                s += (double)x[xi] * w[wi];
                                gx[xi] += (double)gy[yi] * w[wi];
                                gw[wi] += (double)gy[yi] * x[xi];
                            }
                    y[yi] = s;
                }
}
static double max_rel_err(const float *a, const double *b, int64_t n) {
    double worst = 0.0, scale = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) if (fabs(b[i]) > scale) scale = fabs(b[i]);
    for (i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / (scale + 1e-30);
        if (!isfinite(a[i])) return 1e30;
        if (e > worst) worst = e;
    }
    return worst;
}
TEST(conv2d_large_vs_naive) {
    static const conv_case cases[] = {
        /* K * Wo above the column-buffer target: one output row per im2col tile */
        {2, 256, 3, 170, 2, 5, 5, 1, 1, 2, 2, 1, 1},
        {3, 16, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1},
        {1, 32, 12, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1},  /* one image: threads split its rows */
        {4, 8, 10, 10, 8, 3, 3, 2, 2, 1, 1, 2, 0},
        {5, 16, 8, 8, 16, 5, 5, 1, 1, 2, 2, 16, 1},
        {3, 8, 6, 6, 12, 1, 1, 1, 1, 0, 0, 1, 1},
        {2, 8, 5, 29, 13, 3, 3, 1, 1, 1, 1, 1, 1},   /* direct kernel, 16 + 8 + 5 columns */
        {2, 8, 6, 35, 4, 2, 2, 2, 2, 0, 0, 1, 1},     /* k2 s2 on an odd width: even/odd column split */
        /* depthwise rows of 45 and 16 (vector blocks of 32 and 8, scalar tail) */
        {2, 3, 5, 45, 3, 3, 3, 1, 1, 1, 1, 3, 1},
        {2, 4, 6, 16, 4, 7, 7, 1, 1, 3, 3, 4, 0},
    };
    size_t ci;
    for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const conv_case *k = &cases[ci];
        ng_ctx *c = ng_ctx_create((size_t)64 << 20, 1);
        ng_rng r;
        int64_t Ho = (k->H + 2 * k->ph - k->kh) / k->sh + 1, Wo = (k->W + 2 * k->pw - k->kw) / k->sw + 1;
        int64_t nx = k->N * k->C * k->H * k->W, nw = k->O * (k->C / k->groups) * k->kh * k->kw, ny = k->N * k->O * Ho * Wo;
        ng_tensor *x = ng_tensor_new(c, ng_shape4(k->N, k->C, k->H, k->W));
        ng_tensor *w = ng_tensor_new(c, ng_shape4(k->O, k->C / k->groups, k->kh, k->kw));
        ng_tensor *b = ng_tensor_new(c, ng_shape1(k->O)), *y;
        float *gy = (float *)malloc((size_t)ny * sizeof(float));
        double *ry = (double *)calloc((size_t)ny, sizeof(double)), *rgx = (double *)calloc((size_t)nx, sizeof(double));
        double *rgw = (double *)calloc((size_t)nw, sizeof(double));
        ng_test_seed = 1300 + ci;
        ng_rng_seed(&r, 1300 + ci);
        fill_uniform(x->data, nx, &r, -1, 1);
        fill_uniform(w->data, nw, &r, -1, 1);
        fill_uniform(b->data, k->O, &r, -1, 1);
        fill_uniform(gy, ny, &r, -1, 1);
        ng_tensor_requires_grad(x); ng_tensor_requires_grad(w); ng_tensor_requires_grad(b);
        y = ng_conv2d(c, x, w, k->bias ? b : NULL, k->sh, k->ph, k->groups);
        CHECK(y && y->numel == ny);
        if (y) {
            naive_conv(k, Ho, Wo, x->data, w->data, k->bias ? b->data : NULL, gy, ry, rgx, rgw);
            CHECK_OK(ng_backward_from(c, y, gy));
            CHECK_MSG(max_rel_err(y->data, ry, ny) < 1e-5, "case %d: forward error %g", (int)ci, max_rel_err(y->data, ry, ny));
            CHECK_MSG(x->grad && max_rel_err(x->grad, rgx, nx) < 1e-5, "case %d: dx error", (int)ci);
            CHECK_MSG(w->grad && max_rel_err(w->grad, rgw, nw) < 1e-5, "case %d: dw error", (int)ci);
        }
        free(gy); free(ry); free(rgx); free(rgw);
        ng_ctx_free(c);
    }
}

/* ---- gradients only where needed; deterministic weight gradients ---- */
TEST(conv2d_need_and_determinism) {
    ng_params *p = ng_params_create("g", 1);
    ng_tensor *w = ng_params_add(p, "w", ng_shape4(16, 4, 3, 3)), *b = ng_params_add(p, "b", ng_shape1(16));
    ng_ctx *c = ng_ctx_create((size_t)16 << 20, 3);
    float *gw1 = (float *)malloc(16 * 4 * 9 * sizeof(float));
    ng_rng r;
    int64_t j;
    int pass;
    CHECK_OK(ng_params_alloc(p));
    ng_rng_seed(&r, 5);
    fill_uniform(p->data, p->numel, &r, -1, 1);
    for (pass = 0; pass < 3; pass++) {
        ng_tensor *x, *y;
        ng_ctx_reset(c);
        ng_params_zero_grad(p);
        if (pass == 0) ng_ctx_grad_for(c, NULL, 0); /* architecture-only step: no weight gradients */
        else ng_ctx_grad_for(c, &p, 1);
        x = ng_tensor_new(c, ng_shape4(6, 4, 9, 7));
        ng_rng_seed(&r, 6);
        fill_uniform(x->data, x->numel, &r, -1, 1);
        ng_tensor_requires_grad(x);
        y = ng_sum(c, ng_conv2d(c, x, w, b, 1, 1, 1), NG_ALL_AXES, 0);
        CHECK_OK(ng_backward(c, y));
        CHECK(x->grad != NULL);
        if (pass == 0) {
            for (j = 0; j < p->numel; j++) CHECK(p->grad[j] == 0.0f);
        } else if (pass == 1) {
            memcpy(gw1, w->grad, (size_t)w->numel * sizeof(float));
            CHECK(b->grad[0] == 6 * 9 * 7);
        } else {
            CHECK(memcmp(gw1, w->grad, (size_t)w->numel * sizeof(float)) == 0);
        }
    }
    free(gw1);
    ng_ctx_free(c);
    ng_params_free(p);
}

/* ---- argument errors ---- */
static void bad_channels(void *u) {
    ng_ctx *c = (ng_ctx *)u;
    ng_conv2d(c, ng_tensor_zeros(c, ng_shape4(1, 3, 4, 4)), ng_tensor_zeros(c, ng_shape4(2, 2, 3, 3)), NULL, 1, 1, 1);
}
TEST(conv_argument_errors) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    ng_tensor *x = ng_tensor_zeros(c, ng_shape4(1, 2, 4, 4)), *w = ng_tensor_zeros(c, ng_shape4(2, 2, 3, 3));
    CHECK(ng_conv2d(c, x, w, NULL, 0, 1, 1) == NULL && ng_ctx_status(c) == NG_ERR_ARG);
    ng_ctx_reset(c);
    x = ng_tensor_zeros(c, ng_shape4(1, 2, 4, 4)); w = ng_tensor_zeros(c, ng_shape4(2, 2, 7, 7));
    CHECK(ng_conv2d(c, x, w, NULL, 1, 1, 1) == NULL && strstr(ng_last_error(), "larger"));
    ng_ctx_reset(c);
    x = ng_tensor_zeros(c, ng_shape4(1, 2, 4, 4)); w = ng_tensor_zeros(c, ng_shape4(2, 2, 3, 3));
    CHECK(ng_conv_transpose2d(c, x, w, NULL, 2, 0, 2, 1) == NULL && strstr(ng_last_error(), "output_padding"));
    ng_ctx_reset(c);
    x = ng_tensor_zeros(c, ng_shape4(1, 2, 1, 1));
    CHECK(ng_avg_pool2d(c, x) == NULL && ng_ctx_status(c) == NG_ERR_ARG);
    ng_ctx_reset(c);
    CHECK(ng_test_expect_assert(bad_channels, c));
    ng_ctx_free(c);
}
