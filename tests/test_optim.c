/* Optimizers, EMA, schedules, clipping and initialisers on hand-computable settings. */
#include "test.h"

static ng_params *small_group(const char *name, int n, const float *vals) {
    ng_params *g = ng_params_create(name, 1);
    ng_tensor *t = ng_params_add(g, "p", ng_shape1(n));
    (void)t;
    CHECK_OK(ng_params_alloc(g));
    memcpy(g->data, vals, (size_t)n * sizeof(float));
    return g;
}

/* Adam by hand in double: two steps, weight decay, alphaGAN's alpha settings and the GAN's
   (0, 0.9) betas. */
static void adam_case(double lr, double b1, double b2, double wd, double tol) {
    enum { P = 4 };
    float p0[P] = {0.5f, -1.25f, 0.0f, 2.0f};
    float g1[P] = {0.1f, -0.3f, 0.002f, 0.0f}, g2[P] = {-0.2f, 0.05f, 0.0f, 1.5f};
    double p[P], m[P] = {0}, v[P] = {0};
    ng_params *grp = small_group("adam", P, p0);
    ng_adam opt;
    int i, t;
    for (i = 0; i < P; i++) p[i] = p0[i];
    CHECK_OK(ng_adam_init(&opt, grp, (float)lr, (float)b1, (float)b2, 1e-8f, (float)wd));
    for (t = 1; t <= 2; t++) {
        const float *g = t == 1 ? g1 : g2;
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        memcpy(grp->grad, g, sizeof g1);
        ng_adam_step(&opt);
        for (i = 0; i < P; i++) {
            double gi = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + 1e-8);
            CHECK_CLOSE(grp->data[i], p[i], tol, 0);
            CHECK_CLOSE(opt.m[i], m[i], 1e-7, 1e-5);
            CHECK_CLOSE(opt.v[i], v[i], 1e-9, 1e-5);
            CHECK(grp->grad[i] == g[i]); /* weight decay does not touch the gradient block */
            /* the first step moves by ~lr * sign(g) whatever |g| is */
            if (t == 1 && wd == 0 && g[i] != 0) CHECK_CLOSE(fabs(p0[i] - grp->data[i]), lr, 3e-7, 1e-4); /* ulps of p */
        }
    }
    CHECK(opt.t == 2);
    ng_adam_reset(&opt);
    CHECK(opt.t == 0 && opt.m[1] == 0.0f && opt.v[3] == 0.0f);
    ng_adam_free(&opt);
    ng_params_free(grp);
}
TEST(adam_two_steps_by_hand) {
    ng_test_seed = 0;
    adam_case(3e-4, 0.5, 0.999, 1e-3, 1e-7);   /* alphaGAN's alpha optimiser */
    adam_case(2e-4, 0.0, 0.9, 0.0, 1e-7);      /* alphaGAN's G and D */
    adam_case(0.1, 0.9, 0.999, 0.05, 2e-6);    /* large steps, visible weight decay */
}

TEST(adam_rejects_bad_groups) {
    ng_params *buf = ng_params_create("buffers", 0), *unalloc = ng_params_create("later", 1);
    ng_adam opt;
    ng_sgd sgd;
    ng_params_add(buf, "x", ng_shape1(3));
    CHECK_OK(ng_params_alloc(buf));
    CHECK(ng_adam_init(&opt, buf, 1e-3f, 0.9f, 0.999f, 1e-8f, 0) == NG_ERR_ARG);
    CHECK(ng_adam_init(&opt, unalloc, 1e-3f, 0.9f, 0.999f, 1e-8f, 0) == NG_ERR_ARG);
    CHECK(ng_sgd_init(&sgd, buf, 0.1f, 0.9f, 0, 0, 0) == NG_ERR_ARG);
    ng_params_free(buf);
    ng_params_free(unalloc);
}

/* torch.optim.SGD by hand: first step buf = g; then buf = mu buf + (1 - damp) g. */
static void sgd_case(double lr, double mu, double damp, double wd, int nesterov) {
    enum { P = 3 };
    float p0[P] = {1.0f, -0.5f, 0.25f};
    float gs[3][P] = {{0.2f, -0.1f, 0.0f}, {0.4f, 0.3f, -1.0f}, {-0.3f, 0.0f, 0.5f}};
    double p[P], buf[P] = {0};
    ng_params *grp = small_group("sgd", P, p0);
    ng_sgd opt;
    int i, t;
    for (i = 0; i < P; i++) p[i] = p0[i];
    CHECK_OK(ng_sgd_init(&opt, grp, (float)lr, (float)mu, (float)damp, (float)wd, nesterov));
    CHECK((opt.buf != NULL) == (mu != 0));
    for (t = 0; t < 3; t++) {
        memcpy(grp->grad, gs[t], sizeof gs[t]);
        ng_sgd_step(&opt);
        for (i = 0; i < P; i++) {
            double d = gs[t][i] + wd * p[i];
            if (mu != 0) {
                buf[i] = t == 0 ? d : mu * buf[i] + (1 - damp) * d;
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d;
            CHECK_CLOSE(grp->data[i], p[i], 1e-6, 1e-6);
        }
    }
    ng_sgd_free(&opt);
    ng_params_free(grp);
}
TEST(sgd_momentum_nesterov_by_hand) {
    ng_sgd opt;
    ng_params *grp;
    float one = 1.0f;
    ng_test_seed = 0;
    sgd_case(0.1, 0.0, 0.0, 0.0, 0);
    sgd_case(0.1, 0.9, 0.0, 0.01, 0);
    sgd_case(0.05, 0.9, 0.5, 0.0, 0);
    sgd_case(0.1, 0.9, 0.0, 0.01, 1);
    grp = small_group("sgd", 1, &one);
    CHECK(ng_sgd_init(&opt, grp, 0.1f, 0.9f, 0.5f, 0, 1) == NG_ERR_ARG); /* nesterov needs dampening 0 */
    CHECK(ng_sgd_init(&opt, grp, 0.1f, 0.0f, 0.0f, 0, 1) == NG_ERR_ARG); /* ... and a momentum */
    ng_params_free(grp);
}

TEST(ema_update_and_swap) {
    float p0[3] = {1.0f, 2.0f, -4.0f};
    ng_params *grp = small_group("g", 3, p0);
    ng_ema e;
    double s[3];
    int i;
    CHECK_OK(ng_ema_init(&e, grp, 0.9f));
    CHECK(memcmp(e.shadow, p0, sizeof p0) == 0);
    for (i = 0; i < 3; i++) s[i] = p0[i];
    /* two updates with new live values */
    for (i = 0; i < 3; i++) grp->data[i] = p0[i] + 1.0f;
    ng_ema_update(&e);
    for (i = 0; i < 3; i++) s[i] = 0.9 * s[i] + 0.1 * (p0[i] + 1.0);
    for (i = 0; i < 3; i++) grp->data[i] = 10.0f;
    ng_ema_update(&e);
    for (i = 0; i < 3; i++) { s[i] = 0.9 * s[i] + 0.1 * 10.0; CHECK_CLOSE(e.shadow[i], s[i], 1e-6, 1e-6); }
    ng_ema_swap(&e);
    for (i = 0; i < 3; i++) { CHECK_CLOSE(grp->data[i], s[i], 1e-6, 1e-6); CHECK(e.shadow[i] == 10.0f); }
    ng_ema_swap(&e);
    for (i = 0; i < 3; i++) CHECK(grp->data[i] == 10.0f);
    ng_ema_free(&e);
    CHECK(ng_ema_init(&e, grp, 1.5f) == NG_ERR_ARG);
    ng_params_free(grp);
}

TEST(lr_schedules) {
    CHECK(ng_lr_at(NG_LR_CONSTANT, 0.1f, 0.0f, 57, 100) == 0.1f);
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 0.1f, 0.001f, 0, 100), 0.1, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 0.1f, 0.001f, 50, 100), 0.0505, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 0.1f, 0.001f, 100, 100), 0.001, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 0.1f, 0.0f, 25, 100), 0.1 * (1 + cos(3.141592653589793 / 4)) / 2, 1e-9, 1e-6);
    /* alphaGAN's G schedule: eta_min 1e-3 above the base 2e-4, so the rate rises */
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 2e-4f, 1e-3f, 50, 100), 6e-4, 1e-10, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_LINEAR, 0.1f, 0.0f, 0, 10), 0.1, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_LINEAR, 0.1f, 0.0f, 5, 10), 0.05, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_LINEAR, 0.1f, 0.0f, 10, 10), 0.0, 1e-9, 1e-6);
    /* clamped outside [0, total] */
    CHECK_CLOSE(ng_lr_at(NG_LR_LINEAR, 0.1f, 0.0f, 20, 10), 0.0, 1e-9, 1e-6);
    CHECK_CLOSE(ng_lr_at(NG_LR_COSINE, 0.1f, 0.0f, -3, 10), 0.1, 1e-9, 1e-6);
    CHECK(ng_lr_at(NG_LR_COSINE, 0.1f, 0.0f, 5, 0) == 0.1f);
}

TEST(clip_grad_norm) {
    float a0[2] = {0, 0}, b0[3] = {0, 0, 0};
    ng_params *a = small_group("a", 2, a0), *b = small_group("b", 3, b0);
    ng_params *buf = ng_params_create("buffers", 0);
    ng_params *gs[3];
    float norm;
    ng_params_add(buf, "x", ng_shape1(2));
    CHECK_OK(ng_params_alloc(buf));
    gs[0] = a; gs[1] = buf; gs[2] = b;
    /* gradients (3, 0) and (0, 4, 12): norm 13 */
    a->grad[0] = 3; b->grad[1] = 4; b->grad[2] = 12;
    norm = ng_clip_grad_norm(gs, 3, 20.0f);
    CHECK_CLOSE(norm, 13.0, 1e-6, 0);
    CHECK(a->grad[0] == 3.0f && b->grad[2] == 12.0f); /* below the threshold: untouched */
    norm = ng_clip_grad_norm(gs, 3, 6.5f);
    CHECK_CLOSE(norm, 13.0, 1e-6, 0);
    CHECK_CLOSE(a->grad[0], 3.0 * 6.5 / (13.0 + 1e-6), 1e-7, 1e-6);
    CHECK_CLOSE(b->grad[2], 12.0 * 6.5 / (13.0 + 1e-6), 1e-7, 1e-6);
    CHECK_CLOSE(ng_clip_grad_norm(gs, 3, 100.0f), 6.5, 1e-5, 0);
    /* a NaN norm is reported and nothing is scaled */
    a->grad[1] = NAN;
    norm = ng_clip_grad_norm(gs, 3, 1.0f);
    CHECK(isnan(norm));
    CHECK_CLOSE(b->grad[2], 12.0 * 6.5 / (13.0 + 1e-6), 1e-7, 1e-6);
    ng_params_free(a);
    ng_params_free(b);
    ng_params_free(buf);
}

TEST(clip_grad_norm_large_group) {
    enum { NEL = 300001 };
    ng_params *g = ng_params_create("big", 1);
    ng_params *gs[1];
    double ss = 0;
    float norm;
    int64_t i;
    ng_params_add(g, "w", ng_shape1(NEL));
    CHECK_OK(ng_params_alloc(g));
    for (i = 0; i < NEL; i++) { g->grad[i] = (float)((i % 7) - 3) * 0.01f; ss += (double)g->grad[i] * g->grad[i]; }
    gs[0] = g;
    norm = ng_clip_grad_norm(gs, 1, 1.0f);
    CHECK_CLOSE(norm, sqrt(ss), 0, 1e-6);
    ss = 0;
    for (i = 0; i < NEL; i++) ss += (double)g->grad[i] * g->grad[i];
    CHECK_CLOSE(sqrt(ss), 1.0, 0, 1e-5);
    ng_params_free(g);
}

static void fans_1d(void *arg) { int64_t fi, fo; ng_init_fans((const ng_tensor *)arg, &fi, &fo); }
TEST(init_fans) {
    ng_params *g = ng_params_create("net", 1);
    ng_tensor *lin = ng_params_add(g, "linear", ng_shape2(10, 784));
    ng_tensor *conv = ng_params_add(g, "conv", ng_shape4(16, 3, 5, 5));
    ng_tensor *convt = ng_params_add(g, "convt", ng_shape4(256, 128, 4, 4)); /* (C_in, C_out, k, k) */
    ng_tensor *dw = ng_params_add(g, "depthwise", ng_shape4(32, 1, 3, 3));
    ng_tensor *bias = ng_params_add(g, "bias", ng_shape1(10));
    int64_t fi, fo;
    CHECK_OK(ng_params_alloc(g));
    ng_init_fans(lin, &fi, &fo);   CHECK(fi == 784 && fo == 10);
    ng_init_fans(conv, &fi, &fo);  CHECK(fi == 75 && fo == 400);
    /* PyTorch reads fan_in from dim 1: C_out k k for a transposed convolution */
    ng_init_fans(convt, &fi, &fo); CHECK(fi == 128 * 16 && fo == 256 * 16);
    ng_init_fans(dw, &fi, &fo);    CHECK(fi == 9 && fo == 32 * 9);
    CHECK(ng_test_expect_assert(fans_1d, bias)); /* as torch: fewer than 2 dimensions */
    ng_params_free(g);
}

/* all values in [lo, hi], mean and variance near the given ones */
static void check_stats(const ng_tensor *t, double lo, double hi, double mean, double var) {
    double s = 0, s2 = 0, m, vv;
    int64_t i, n = t->numel;
    int out = 0;
    for (i = 0; i < n; i++) {
        double x = t->data[i];
        if (!(x >= lo && x <= hi)) out++;
        s += x; s2 += x * x;
    }
    m = s / (double)n;
    vv = s2 / (double)n - m * m;
    CHECK_MSG(out == 0, "%d values outside [%g, %g]", out, lo, hi);
    CHECK_MSG(fabs(m - mean) < 4 * sqrt(var / (double)n) + 1e-12, "mean %g, expected %g", m, mean);
    CHECK_MSG(fabs(vv - var) < 0.02 * var, "variance %g, expected %g", vv, var);
}

TEST(init_bounds_and_moments) {
    ng_params *g = ng_params_create("net", 1);
    ng_tensor *lin = ng_params_add(g, "linear", ng_shape2(300, 500));
    ng_tensor *bias = ng_params_add(g, "bias", ng_shape1(300));
    ng_tensor *convt = ng_params_add(g, "convt", ng_shape4(64, 32, 4, 4));
    ng_tensor *big = ng_params_add(g, "big", ng_shape2(400, 500));
    ng_rng r;
    double b;
    int64_t i;
    CHECK_OK(ng_params_alloc(g));
    ng_rng_seed(&r, 11);
    ng_test_seed = 11;

    ng_init_kaiming_uniform_default(lin, &r);      /* U(+-1/sqrt(500)) */
    b = 1.0 / sqrt(500.0);
    check_stats(lin, -b, b, 0.0, b * b / 3.0);
    ng_init_bias_default(bias, lin, &r);
    for (i = 0; i < bias->numel; i++) CHECK(fabs(bias->data[i]) <= b);

    ng_init_kaiming_uniform_default(convt, &r);    /* fan_in = 32 * 16 */
    b = 1.0 / sqrt(512.0);
    check_stats(convt, -b, b, 0.0, b * b / 3.0);

    ng_init_xavier_uniform(big, 1.0f, &r);         /* sqrt(6 / (500 + 400)) */
    b = sqrt(6.0 / 900.0);
    check_stats(big, -b, b, 0.0, b * b / 3.0);
    ng_init_xavier_uniform(big, 2.0f, &r);
    check_stats(big, -2 * b, 2 * b, 0.0, 4 * b * b / 3.0);

    ng_init_normal(big, 0.5f, 2.0f, &r);
    check_stats(big, -20, 20, 0.5, 4.0);
    ng_init_uniform(big, -3.0f, 1.0f, &r);
    check_stats(big, -3.0, 1.0, -1.0, 16.0 / 12.0);
    for (i = 0; i < big->numel; i++) CHECK(big->data[i] < 1.0f);
    ng_init_constant(bias, 0.25f);
    for (i = 0; i < bias->numel; i++) CHECK(bias->data[i] == 0.25f);
    ng_params_free(g);
}
