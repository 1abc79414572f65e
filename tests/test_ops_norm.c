/* Batch norm, spectral norm and the NAS mixed op: gradient checks and hand-computed values. */
#include "test.h"

static gc_input gin_n(ng_shape s) { gc_input g; memset(&g, 0, sizeof g); g.shape = s; g.needs_grad = 1; return g; }

/* ---------------------------------------------------------------------------------------- */
/* batch norm                                                                               */
/* ---------------------------------------------------------------------------------------- */
typedef struct {
    int affine, running;  /* gamma/beta given; running statistics given */
    float eps;
    const float *rm, *rv; /* running statistics to start from, (C) */
} bn_args;

static ng_tensor *f_bn(ng_ctx *c, ng_tensor **in, void *u) {
    bn_args *a = (bn_args *)u;
    int64_t C = in[0]->shape.d[1];
    ng_tensor *rm = NULL, *rv = NULL;
    if (a->running) { /* fresh copies: the training forward updates them in place */
        rm = ng_tensor_from(c, ng_shape1(C), a->rm);
        rv = ng_tensor_from(c, ng_shape1(C), a->rv);
    }
    return ng_batch_norm(c, in[0], a->affine ? in[1] : NULL, a->affine ? in[2] : NULL, rm, rv, 0.1f, a->eps);
}

TEST(grad_batch_norm) {
    ng_shape shapes[4];
    int si, training, affine, running;
    float rm[7] = {0.3f, -0.2f, 0.1f, 0.0f, -0.5f, 0.25f, 0.6f};
    float rv[7] = {0.8f, 1.5f, 0.4f, 2.0f, 0.6f, 1.1f, 0.3f};
    shapes[0] = ng_shape2(5, 3);        /* BatchNorm1d */
    shapes[1] = ng_shape4(3, 5, 2, 3);  /* BatchNorm2d */
    shapes[2] = ng_shape4(2, 7, 1, 1);  /* N = 2, H = W = 1, C prime: M = 2 */
    shapes[3] = ng_shape4(1, 2, 3, 1);  /* N = 1 is fine when H*W > 1 */
    for (si = 0; si < 4; si++)
        for (training = 0; training < 2; training++)
            for (affine = 0; affine < 2; affine++)
                for (running = 0; running < 2; running++) {
                    bn_args a;
                    gc_input in[3];
                    gc_opts o = gc_default();
                    int64_t C = shapes[si].d[1];
                    a.affine = affine; a.running = running; a.rm = rm; a.rv = rv;
                    /* with M = 2 each normalised value is +-d/sqrt(d^2 + eps): its input gradient
                       is O(eps), so a large eps keeps the check from being vacuous */
                    a.eps = si == 2 ? 0.5f : 1e-5f;
                    o.training = training;
                    in[0] = gin_n(shapes[si]);
                    in[1] = gin_n(ng_shape1(C));
                    in[2] = gin_n(ng_shape1(C));
                    in[1].lo = 0.5f; in[1].hi = 1.5f;
                    gradcheck(training ? (running ? "batch_norm train+running" : "batch_norm train")
                                       : (running ? "batch_norm eval" : "batch_norm eval, batch stats"),
                              f_bn, &a, in, affine ? 3 : 1, 1000 + 16 * si + 4 * training + 2 * affine + running, o);
                }
}

TEST(batch_norm_running_stats_and_eval) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    ng_params *buf = ng_params_create("bn.buffers", 0), *aff = ng_params_create("bn.affine", 1);
    ng_tensor *rm = ng_params_add(buf, "running_mean", ng_shape1(2));
    ng_tensor *rv = ng_params_add(buf, "running_var", ng_shape1(2));
    ng_tensor *gamma = ng_params_add(aff, "weight", ng_shape1(2));
    ng_tensor *beta = ng_params_add(aff, "bias", ng_shape1(2));
    /* x (N=2, C=2, H=1, W=2): channel 0 holds {1, 2, 3, 6}, channel 1 holds {-1, -1, 1, 5} */
    float xv[8] = {1, 2, -1, -1, 3, 6, 1, 5};
    ng_tensor *x, *y;
    double mean[2] = {3.0, 1.0}, bvar[2], uvar[2], eps = 1e-5;
    int ch, j;
    CHECK_OK(ng_params_alloc(buf));
    CHECK_OK(ng_params_alloc(aff));
    bvar[0] = (4.0 + 1.0 + 0.0 + 9.0) / 4.0; uvar[0] = 14.0 / 3.0;
    bvar[1] = (4.0 + 4.0 + 0.0 + 16.0) / 4.0; uvar[1] = 24.0 / 3.0;
    rm->data[0] = 0.5f; rm->data[1] = -1.0f;
    rv->data[0] = 1.0f; rv->data[1] = 2.0f;
    gamma->data[0] = 2.0f; gamma->data[1] = -0.5f;
    beta->data[0] = 0.25f; beta->data[1] = 1.0f;
    ng_ctx_grad_for(c, &aff, 1);

    x = ng_tensor_from(c, ng_shape4(2, 2, 1, 2), xv);
    y = ng_batch_norm(c, x, gamma, beta, rm, rv, 0.1f, 1e-5f);
    CHECK(y != NULL);
    /* running stats: momentum 0.1, unbiased variance */
    CHECK_CLOSE(rm->data[0], 0.9 * 0.5 + 0.1 * mean[0], 1e-6, 1e-6);
    CHECK_CLOSE(rm->data[1], 0.9 * -1.0 + 0.1 * mean[1], 1e-6, 1e-6);
    CHECK_CLOSE(rv->data[0], 0.9 * 1.0 + 0.1 * uvar[0], 1e-6, 1e-6);
    CHECK_CLOSE(rv->data[1], 0.9 * 2.0 + 0.1 * uvar[1], 1e-6, 1e-6);
    /* output: biased batch variance */
    for (j = 0; j < 8; j++) {
        ch = (j / 2) % 2;
        CHECK_CLOSE(y->data[j], gamma->data[ch] * (xv[j] - mean[ch]) / sqrt(bvar[ch] + eps) + beta->data[ch], 1e-5, 1e-5);
    }
    /* dL/dbeta = sum(g), dL/dgamma = sum(g xhat) with L = sum(y): 4 and 0 */
    CHECK_OK(ng_backward(c, ng_sum(c, y, NG_ALL_AXES, 0)));
    CHECK_CLOSE(beta->grad[0], 4.0, 1e-6, 0);
    CHECK_CLOSE(beta->grad[1], 4.0, 1e-6, 0);
    CHECK_CLOSE(gamma->grad[0], 0.0, 1e-5, 0);

    /* eval: the running statistics, untouched */
    {
        float rm0 = rm->data[0], rv1 = rv->data[1];
        ng_ctx_reset(c);
        ng_ctx_set_training(c, 0);
        x = ng_tensor_from(c, ng_shape4(2, 2, 1, 2), xv);
        y = ng_batch_norm(c, x, gamma, beta, rm, rv, 0.1f, 1e-5f);
        CHECK(y != NULL && rm->data[0] == rm0 && rv->data[1] == rv1);
        for (j = 0; j < 8; j++) {
            ch = (j / 2) % 2;
            CHECK_CLOSE(y->data[j], gamma->data[ch] * (xv[j] - rm->data[ch]) / sqrt((double)rv->data[ch] + eps) + beta->data[ch], 1e-5, 1e-5);
        }
    }
    /* 2-D input, affine=False, no running stats in eval: batch statistics */
    {
        float x2[6] = {1, 10, 2, 20, 6, 60}; /* (3, 2) */
        ng_ctx_reset(c);
        x = ng_tensor_from(c, ng_shape2(3, 2), x2);
        y = ng_batch_norm(c, x, NULL, NULL, NULL, NULL, 0.1f, 0.0f);
        CHECK(y != NULL);
        CHECK_CLOSE(y->data[0], (1.0 - 3.0) / sqrt(14.0 / 3.0), 1e-6, 1e-5);
        CHECK_CLOSE(y->data[5], (60.0 - 30.0) / sqrt(1400.0 / 3.0), 1e-6, 1e-5);
    }
    ng_params_free(buf);
    ng_params_free(aff);
    ng_ctx_free(c);
}

TEST(batch_norm_one_value_per_channel_fails) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    float rmv[3] = {0.5f, 0.5f, 0.5f}, rvv[3] = {2, 2, 2}, xv[3] = {1, 2, 3};
    ng_tensor *rm = ng_tensor_from(c, ng_shape1(3), rmv), *rv = ng_tensor_from(c, ng_shape1(3), rvv);
    ng_tensor *x = ng_tensor_from(c, ng_shape4(1, 3, 1, 1), xv);
    /* training: N*H*W == 1 is rejected (PyTorch raises), running stats untouched */
    CHECK(ng_batch_norm(c, x, NULL, NULL, rm, rv, 0.1f, 1e-5f) == NULL);
    CHECK(ng_ctx_status(c) == NG_ERR_ARG);
    CHECK(strstr(ng_last_error(), "more than 1 value") != NULL);
    CHECK(rm->data[0] == 0.5f && rv->data[2] == 2.0f);
    /* eval with running stats: fine */
    ng_ctx_reset(c);
    ng_ctx_set_training(c, 0);
    rm = ng_tensor_from(c, ng_shape1(3), rmv);
    rv = ng_tensor_from(c, ng_shape1(3), rvv);
    x = ng_tensor_from(c, ng_shape2(1, 3), xv);
    x = ng_batch_norm(c, x, NULL, NULL, rm, rv, 0.1f, 0.0f);
    CHECK(x != NULL && fabs(x->data[2] - 2.5 / sqrt(2.0)) < 1e-6);
    ng_ctx_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* spectral norm                                                                            */
/* ---------------------------------------------------------------------------------------- */
typedef struct {
    ng_tensor *u, *v;    /* persistent buffers the op reads and (training) updates */
    float *u0, *v0;      /* values restored before every forward */
    int warmup;          /* extra training iterations (no tape) before the checked forward */
} sn_args;

static ng_tensor *f_sn(ng_ctx *c, ng_tensor **in, void *user) {
    sn_args *a = (sn_args *)user;
    int k;
    memcpy(a->u->data, a->u0, (size_t)a->u->numel * sizeof(float));
    memcpy(a->v->data, a->v0, (size_t)a->v->numel * sizeof(float));
    if (a->warmup) {
        c->no_grad = 1;
        for (k = 0; k < a->warmup; k++) ng_spectral_norm(c, in[0], a->u, a->v, 1e-12f);
        c->no_grad = 0;
    }
    return ng_spectral_norm(c, in[0], a->u, a->v, 1e-12f);
}

static void sn_setup(sn_args *a, ng_params **buf, ng_shape ws, uint64_t seed) {
    ng_rng r;
    int64_t O = ws.d[0], I = ng_shape_numel(ws) / O;
    *buf = ng_params_create("sn", 0);
    a->u = ng_params_add(*buf, "u", ng_shape1(O));
    a->v = ng_params_add(*buf, "v", ng_shape1(I));
    CHECK_OK(ng_params_alloc(*buf));
    ng_rng_seed(&r, seed);
    ng_spectral_norm_init(a->u, a->v, &r, 1e-12f);
    a->u0 = (float *)malloc((size_t)O * sizeof(float));
    a->v0 = (float *)malloc((size_t)I * sizeof(float));
    memcpy(a->u0, a->u->data, (size_t)O * sizeof(float));
    memcpy(a->v0, a->v->data, (size_t)I * sizeof(float));
    a->warmup = 0;
}
static void sn_teardown(sn_args *a, ng_params *buf) {
    free(a->u0);
    free(a->v0);
    ng_params_free(buf);
}

TEST(grad_spectral_norm) {
    ng_shape shapes[4];
    int si, training;
    shapes[0] = ng_shape2(4, 6);
    shapes[1] = ng_shape4(3, 2, 2, 2);  /* conv weight, viewed as (3, 8) */
    shapes[2] = ng_shape2(1, 5);
    shapes[3] = ng_shape2(5, 1);
    for (si = 0; si < 4; si++)
        for (training = 0; training < 2; training++) {
            sn_args a;
            ng_params *buf;
            gc_input in[1];
            gc_opts o = gc_default();
            sn_setup(&a, &buf, shapes[si], 40 + si);
            /* eval: the exact u-v-constant gradient with arbitrary u, v. Training: the backward
               holds the updated u, v constant; that is the true derivative of the whole forward
               once the power iteration has converged (sigma = top singular value), so the
               callback restores u, v and iterates to convergence before the checked forward. */
            a.warmup = training ? 200 : 0;
            o.training = training;
            in[0] = gin_n(shapes[si]);
            gradcheck(training ? "spectral_norm train" : "spectral_norm eval", f_sn, &a, in, 1, 1100 + 2 * si + training, o);
            sn_teardown(&a, buf);
        }
}

/* One training step from arbitrary u, v: the backward equals the eval backward at the updated
   u, v (u and v held constant, as PyTorch), and the forward's power iteration matches a
   hand computation in double. */
TEST(spectral_norm_training_step_by_hand) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    sn_args a;
    ng_params *buf;
    float wv[6] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}; /* (2, 3) */
    float seed_g[6] = {0.3f, -0.2f, 0.7f, 0.1f, -0.9f, 0.4f};
    float g_train[6], u1[2], v1[3];
    double t[3], nt = 0, s[2], ns = 0, sigma = 0;
    ng_tensor *w, *y;
    int i, o;
    ng_test_seed = 77;
    sn_setup(&a, &buf, ng_shape2(2, 3), 77);
    /* by hand: v = normalize(W^T u0), u = normalize(W v), sigma = u . W v */
    for (i = 0; i < 3; i++) { t[i] = a.u0[0] * (double)wv[i] + a.u0[1] * (double)wv[3 + i]; nt += t[i] * t[i]; }
    for (i = 0; i < 3; i++) t[i] /= sqrt(nt);
    for (o = 0; o < 2; o++) { s[o] = 0; for (i = 0; i < 3; i++) s[o] += wv[3 * o + i] * t[i]; ns += s[o] * s[o]; }
    for (o = 0; o < 2; o++) sigma += s[o] / sqrt(ns) * s[o];

    w = ng_tensor_from(c, ng_shape2(2, 3), wv);
    ng_tensor_requires_grad(w);
    y = ng_spectral_norm(c, w, a.u, a.v, 1e-12f);
    CHECK_OK(ng_backward_from(c, y, seed_g));
    for (i = 0; i < 3; i++) CHECK_CLOSE(a.v->data[i], t[i], 1e-6, 1e-5);
    for (o = 0; o < 2; o++) CHECK_CLOSE(a.u->data[o], s[o] / sqrt(ns), 1e-6, 1e-5);
    for (i = 0; i < 6; i++) CHECK_CLOSE(y->data[i], wv[i] / sigma, 1e-6, 1e-5);
    memcpy(g_train, w->grad, sizeof g_train);
    memcpy(u1, a.u->data, sizeof u1);
    memcpy(v1, a.v->data, sizeof v1);

    ng_ctx_reset(c);
    ng_ctx_set_training(c, 0);
    w = ng_tensor_from(c, ng_shape2(2, 3), wv);
    ng_tensor_requires_grad(w);
    y = ng_spectral_norm(c, w, a.u, a.v, 1e-12f);
    CHECK_OK(ng_backward_from(c, y, seed_g));
    for (i = 0; i < 6; i++) CHECK(w->grad[i] == g_train[i]);
    CHECK(memcmp(u1, a.u->data, sizeof u1) == 0 && memcmp(v1, a.v->data, sizeof v1) == 0);
    /* dW = g / sigma - (sum(g W) / sigma^2) u v^T, by hand */
    {
        double gw = 0;
        for (i = 0; i < 6; i++) gw += (double)seed_g[i] * wv[i];
        for (o = 0; o < 2; o++)
            for (i = 0; i < 3; i++)
                CHECK_CLOSE(g_train[3 * o + i], seed_g[3 * o + i] / sigma - gw / (sigma * sigma) * u1[o] * v1[i], 1e-6, 1e-5);
    }
    sn_teardown(&a, buf);
    ng_ctx_free(c);
}

TEST(spectral_norm_diagonal_sigma_and_eval_state) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    sn_args a;
    ng_params *buf;
    /* (3, 4) "diagonal": singular values 1, 3, 2 */
    float wv[12] = {1, 0, 0, 0,
                    0, -3, 0, 0,
                    0, 0, 2, 0};
    float ub[3], vb[4];
    ng_tensor *w = NULL, *y = NULL;
    int k;
    ng_test_seed = 5;
    sn_setup(&a, &buf, ng_shape2(3, 4), 5);
    for (k = 0; k < 40; k++) {
        ng_ctx_reset(c);
        w = ng_tensor_from(c, ng_shape2(3, 4), wv);
        y = ng_spectral_norm(c, w, a.u, a.v, 1e-12f);
    }
    CHECK(y != NULL);
    CHECK_CLOSE(w->data[5] / y->data[5], 3.0, 1e-5, 1e-5); /* sigma = largest |entry| */
    CHECK_CLOSE(y->data[0], 1.0 / 3.0, 1e-6, 1e-5);
    CHECK_CLOSE(fabs(a.u->data[1]), 1.0, 1e-5, 0);
    CHECK_CLOSE(fabs(a.v->data[1]), 1.0, 1e-5, 0);
    /* eval: u and v are read, never written */
    memcpy(ub, a.u->data, sizeof ub);
    memcpy(vb, a.v->data, sizeof vb);
    ng_ctx_set_training(c, 0);
    ng_ctx_reset(c);
    w = ng_tensor_from(c, ng_shape2(3, 4), wv);
    y = ng_spectral_norm(c, w, a.u, a.v, 1e-12f);
    CHECK(memcmp(ub, a.u->data, sizeof ub) == 0 && memcmp(vb, a.v->data, sizeof vb) == 0);
    CHECK_CLOSE(y->data[10], 2.0 / 3.0, 1e-6, 1e-5);
    /* eval with arbitrary stored u, v: sigma = u^T W v exactly as stored */
    a.u->data[0] = 0.6f; a.u->data[1] = 0.8f; a.u->data[2] = 0.0f;
    a.v->data[0] = 0.0f; a.v->data[1] = 1.0f; a.v->data[2] = 0.0f; a.v->data[3] = 0.0f;
    ng_ctx_reset(c);
    w = ng_tensor_from(c, ng_shape2(3, 4), wv);
    y = ng_spectral_norm(c, w, a.u, a.v, 1e-12f);
    CHECK_CLOSE(y->data[0], 1.0 / (0.8 * -3.0), 1e-6, 1e-5);
    CHECK(a.u->data[0] == 0.6f && a.v->data[1] == 1.0f);
    sn_teardown(&a, buf);
    ng_ctx_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* mixed op                                                                                 */
/* ---------------------------------------------------------------------------------------- */
typedef struct { int k, row; } mix_args;
static ng_tensor *f_mixed(ng_ctx *c, ng_tensor **in, void *u) {
    mix_args *a = (mix_args *)u;
    return ng_mixed(c, in[0], a->row, in + 1, a->k);
}

TEST(grad_mixed) {
    int ks[3] = {1, 3, 6}, ki, twod;
    for (ki = 0; ki < 3; ki++)
        for (twod = 0; twod < 2; twod++) {
            mix_args a;
            gc_input in[7];
            int j;
            a.k = ks[ki];
            a.row = twod ? 2 : 0;
            in[0] = gin_n(twod ? ng_shape2(3, a.k) : ng_shape1(a.k));
            in[0].lo = -2; in[0].hi = 2;
            in[0].needs_grad = a.k > 1; /* softmax of one value is constant */
            for (j = 0; j < a.k; j++) in[1 + j] = gin_n(ng_shape3(2, 3, 5));
            gradcheck("mixed", f_mixed, &a, in, 1 + a.k, 1200 + 2 * ki + twod, gc_default());
        }
}

/* Many blocks (the threaded path): forward and backward against a plain double computation;
   rows other than `row` get no gradient. */
TEST(mixed_large_against_reference) {
    enum { K = 4, R = 2, NEL = 3 * 4096 * 5 + 17 };
    ng_ctx *c = ng_ctx_create(16u << 20, 3);
    ng_params *arch = ng_params_create("alpha", 1);
    ng_tensor *alpha = ng_params_add(arch, "alpha", ng_shape2(R, K)), *xs[K], *y;
    ng_rng r;
    float *g = (float *)malloc(NEL * sizeof(float));
    double w[K], z = 0, dw[K], wd = 0, maxerr = 0;
    int k;
    int64_t i;
    ng_test_seed = 3;
    CHECK_OK(ng_params_alloc(arch));
    ng_rng_seed(&r, 3);
    for (k = 0; k < R * K; k++) alpha->data[k] = ng_rng_uniformf(&r, -1, 1);
    for (k = 0; k < K; k++) {
        xs[k] = ng_tensor_new(c, ng_shape2(NEL / 1, 1));
        fill_uniform(xs[k]->data, NEL, &r, -1, 1);
        ng_tensor_requires_grad(xs[k]);
    }
    fill_uniform(g, NEL, &r, -1, 1);
    ng_ctx_grad_for(c, &arch, 1);
    y = ng_mixed(c, alpha, 1, xs, K);
    CHECK_OK(ng_backward_from(c, y, g));
    for (k = 0; k < K; k++) z += exp((double)alpha->data[K + k]);
    for (k = 0; k < K; k++) { w[k] = exp((double)alpha->data[K + k]) / z; dw[k] = 0; }
    for (i = 0; i < NEL; i++) {
        double ref = 0;
        for (k = 0; k < K; k++) {
            ref += w[k] * xs[k]->data[i];
            dw[k] += (double)g[i] * xs[k]->data[i];
            if (fabs(xs[k]->grad[i] - w[k] * g[i]) > maxerr) maxerr = fabs(xs[k]->grad[i] - w[k] * g[i]);
        }
        if (fabs(y->data[i] - ref) > maxerr) maxerr = fabs(y->data[i] - ref);
    }
    CHECK(maxerr < 1e-6);
    for (k = 0; k < K; k++) wd += w[k] * dw[k];
    for (k = 0; k < K; k++) {
        CHECK(alpha->grad[k] == 0.0f);
        CHECK_CLOSE(alpha->grad[K + k], w[k] * (dw[k] - wd), 1e-3, 1e-5);
    }
    free(g);
    ng_params_free(arch);
    ng_ctx_free(c);
}
