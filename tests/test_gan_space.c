/* alphaGAN search space: parameter counts, gradient checks of mixed edges and cells, group-
   restricted backward, derivation, genotype JSON (round trip, hostile input), DOT, shapes. */
#include "test.h"

static gc_input gan_gin(ng_shape s, int needs_grad) {
    gc_input g;
    memset(&g, 0, sizeof g);
    g.shape = s;
    g.needs_grad = needs_grad;
    return g;
}

static ng_gan_config gan_tiny_cfg(int gf, int bw, int channels) {
    ng_gan_config c;
    CHECK_OK(ng_gan_config_preset(&c, "cifar10"));
    c.gf_dim = gf; c.df_dim = gf; c.latent_dim = 5; c.bottom_width = bw; c.channels = channels;
    return c;
}

static int all_zero(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* parameter counts                                                                         */
/* ---------------------------------------------------------------------------------------- */
TEST(gan_param_counts) {
    ng_gan_config cifar, stl;
    ng_gan_genotype gl = ng_gan_genotype_alphagan_l(), gs = ng_gan_genotype_alphagan_s();
    ng_rng r;
    ng_gan_gen_fixed *f;
    ng_gan_gen_search *S;
    ng_gan_disc *D;
    ng_rng_seed(&r, 7);
    CHECK_OK(ng_gan_config_preset(&cifar, "cifar10"));
    CHECK_OK(ng_gan_config_preset(&stl, "stl10"));
    CHECK(stl.bottom_width == 6 && cifar.bottom_width == 4 && cifar.gf_dim == 256 && cifar.df_dim == 128);
    /* thop counts trainable parameters only: BN running stats and SN u, v are buffers */
    f = ng_gan_gen_fixed_create(&cifar, &gl, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(f && f->weights->numel == 8618499);
    ng_gan_gen_fixed_free(f);
    f = ng_gan_gen_fixed_create(&cifar, &gs, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(f && f->weights->numel == 2952707);
    ng_gan_gen_fixed_free(f);
    f = ng_gan_gen_fixed_create(&stl, &gl, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(f && f->weights->numel == 9278979);
    ng_gan_gen_fixed_free(f);
    f = ng_gan_gen_fixed_create(&stl, &gs, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(f && f->weights->numel == 3613187);
    ng_gan_gen_fixed_free(f);
    D = ng_gan_disc_create(&cifar, NULL, NG_GAN_INIT_PYTORCH, &r);
    CHECK(D && D->weights->numel == 1053824);
    ng_gan_disc_free(D);
    D = ng_gan_disc_create(&stl, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(D && D->weights->numel == 1053824);
    ng_gan_disc_free(D);
    /* supernet: 9 normal edges x 2,730,240 (affine-free SepConv BNs) + 9 deconvs x 262,400
       + l1 528,384 + to_rgb 7,427 = 27,469,571 (alphagan.md 1.7: "about 27.47 M") */
    S = ng_gan_gen_search_create(&cifar, NULL, &r);
    CHECK(S && S->weights->numel == 27469571);
    CHECK(S && S->alpha->numel == 81);
    /* buffers: 2 BN x (mean, var) x 256 per SepConv, 27 SepConvs, + to_rgb BN */
    CHECK(S && S->buffers->numel == 27 * 4 * 256 + 2 * 256);
    ng_gan_gen_search_free(S);
}

TEST(gan_init_rules) {
    ng_gan_config c = gan_tiny_cfg(16, 2, 3);
    ng_gan_genotype g = ng_gan_genotype_alphagan_s();
    ng_rng r;
    ng_gan_gen_fixed *f;
    ng_gan_gen_search *S;
    int64_t i;
    double mean = 0.0;
    float bound;
    ng_rng_seed(&r, 11);
    f = ng_gan_gen_fixed_create(&c, &g, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK(f != NULL);
    if (!f) return;
    /* depthwise (16, 1, 3, 3): xavier bound sqrt(6 / (9 + 144)) */
    bound = (float)sqrt(6.0 / (9.0 + 144.0));
    for (i = 0; i < f->edge[NG_GAN_EDGE_NORMAL(1, 1)].sep.dw1->numel; i++)
        CHECK(fabsf(f->edge[NG_GAN_EDGE_NORMAL(1, 1)].sep.dw1->data[i]) <= bound);
    /* deconv keeps PyTorch's default: U(+-1/sqrt(O * 4)) */
    bound = (float)(1.0 / sqrt(16.0 * 4.0));
    for (i = 0; i < f->edge[NG_GAN_EDGE_UP(1, 0)].conv.w->numel; i++)
        CHECK(fabsf(f->edge[NG_GAN_EDGE_UP(1, 0)].conv.w->data[i]) <= bound);
    /* BN gamma ~ N(1, 0.02), beta 0; running var 1 */
    for (i = 0; i < 16; i++) {
        mean += f->edge[NG_GAN_EDGE_NORMAL(2, 0)].sep.bn2_w->data[i];
        CHECK(fabsf(f->edge[NG_GAN_EDGE_NORMAL(2, 0)].sep.bn2_w->data[i] - 1.0f) < 0.1f);
        CHECK(f->edge[NG_GAN_EDGE_NORMAL(2, 0)].sep.bn2_w->data[i] != 1.0f);
        CHECK(f->edge[NG_GAN_EDGE_NORMAL(2, 0)].sep.bn2_b->data[i] == 0.0f);
        CHECK(f->edge[NG_GAN_EDGE_NORMAL(2, 0)].sep.bn2_var->data[i] == 1.0f);
    }
    CHECK(fabs(mean / 16.0 - 1.0) < 0.02);
    /* a deconv skip_3[0] has one ConvTranspose2d; nearest/bilinear edges have none */
    CHECK(f->edge[NG_GAN_EDGE_SKIP3(0)].conv.w != NULL && f->edge[NG_GAN_EDGE_SKIP3(1)].conv.w == NULL);
    ng_gan_gen_fixed_free(f);
    /* supernet: alpha = 1e-3 N(0, 1), affine-free SepConv BN, to_rgb BN gamma 1 */
    S = ng_gan_gen_search_create(&c, NULL, &r);
    CHECK(S != NULL);
    if (!S) return;
    for (i = 0; i < S->alpha->numel; i++) CHECK(fabsf(S->alpha->data[i]) < 6e-3f && S->alpha->data[i] != 0.0f);
    CHECK(S->fuse == 1); /* the fused normal edges are the default */
    CHECK(S->normal[0][0].sep[0].bn1_w == NULL && S->normal[0][0].sep[0].bn1_var->data[0] == 1.0f);
    CHECK(S->rgb_bn_w->data[0] == 1.0f && S->rgb_bn_b->data[0] == 0.0f);
    CHECK(ng_params_find(S->alpha, "alpha.normal") == S->alpha_normal && S->alpha_normal->shape.d[0] == 9 &&
          S->alpha_normal->shape.d[1] == 6 && S->alpha_up->shape.d[0] == 6 && S->alpha_skip->shape.d[0] == 3);
    ng_gan_gen_search_free(S);
}

/* ---------------------------------------------------------------------------------------- */
/* gradient checks at tiny width                                                            */
/* ---------------------------------------------------------------------------------------- */
typedef struct { const ng_gan_gen_search *G; int fuse; int times; } gan_edge_args;

/* in: x, alpha (1, 6), conv_3x3 w, conv_1x1 b, sep_conv_5x5 dw1, sep_conv_7x7 pw2, conv_5x5 w */
static ng_tensor *f_gan_normal_edge(ng_ctx *c, ng_tensor **in, void *u) {
    gan_edge_args *a = (gan_edge_args *)u;
    ng_gan_mixed_normal e = a->G->normal[1][0];
    e.conv[1].w = in[2];
    e.conv[0].b = in[3];
    e.sep[1].dw1 = in[4];
    e.sep[2].pw2 = in[5];
    e.conv[2].w = in[6];
    return ng_gan_mixed_normal_forward(c, &e, in[1], 0, in[0], a->fuse);
}

TEST(gan_grad_mixed_normal_edge) {
    ng_gan_config cfg = gan_tiny_cfg(3, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G;
    gc_input in[7];
    gc_opts o = gc_default();
    gan_edge_args a;
    ng_rng_seed(&r, 21);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(G != NULL);
    if (!G) return;
    in[0] = gan_gin(ng_shape4(2, 3, 2, 2), 1);
    in[1] = gan_gin(ng_shape2(1, 6), 1);
    in[2] = gan_gin(ng_shape4(3, 3, 3, 3), 1);
    in[3] = gan_gin(ng_shape1(3), 1);
    in[4] = gan_gin(ng_shape4(3, 1, 5, 5), 1);
    in[5] = gan_gin(ng_shape4(3, 3, 1, 1), 1);
    in[6] = gan_gin(ng_shape4(3, 3, 5, 5), 1);
    a.G = G;
    a.times = 1;
    for (a.fuse = 0; a.fuse < 2; a.fuse++)
        gradcheck(a.fuse ? "mixed normal edge (fused)" : "mixed normal edge", f_gan_normal_edge, &a, in, 7, 300 + (uint64_t)a.fuse, o);
    ng_gan_gen_search_free(G);
}

/* in: x, alpha (2, 3) (row 1 used), deconv w, deconv b */
static ng_tensor *f_gan_up_edge(ng_ctx *c, ng_tensor **in, void *u) {
    gan_edge_args *a = (gan_edge_args *)u;
    ng_gan_conv dc;
    dc.w = in[2];
    dc.b = in[3];
    return ng_gan_mixed_up_forward(c, &dc, in[1], 1, in[0], a->times);
}

TEST(gan_grad_mixed_up_edge) {
    gc_input in[4];
    gc_opts o = gc_default();
    gan_edge_args a;
    in[0] = gan_gin(ng_shape4(2, 3, 2, 3), 1);
    in[1] = gan_gin(ng_shape2(2, 3), 1);
    in[2] = gan_gin(ng_shape4(3, 3, 2, 2), 1);
    in[3] = gan_gin(ng_shape1(3), 1);
    a.G = NULL;
    a.fuse = 0;
    for (a.times = 1; a.times <= 2; a.times++)
        gradcheck(a.times == 1 ? "mixed up edge x2" : "mixed up edge x4 (shared deconv)", f_gan_up_edge, &a, in, 4, 310 + (uint64_t)a.times, o);
}

/* Cell 3 (both skip-ins, the x4 skip): in: x, skip from cell1 (1/2 size), skip from cell2,
   alpha.normal, alpha.up, alpha.skip, cell3.normal1 conv_5x5 w, cell3.up0 deconv w,
   skip_3.0 deconv w, cell3.normal2 sep_conv_3x3 pw1, to a copy of G's pointers. */
typedef struct { const ng_gan_gen_search *G; int gumbel; } gan_cell_args;
static ng_tensor *f_gan_cell(ng_ctx *c, ng_tensor **in, void *u) {
    gan_cell_args *a = (gan_cell_args *)u;
    ng_gan_gen_search G = *a->G;
    ng_tensor *skips[2];
    G.cfg.gumbel = a->gumbel;
    G.alpha_normal = in[3];
    G.alpha_up = in[4];
    G.alpha_skip = in[5];
    G.normal[2][1].conv[2].w = in[6];
    G.up[2][0].w = in[7];
    G.skip[1].w = in[8];
    G.normal[2][2].sep[0].pw1 = in[9];
    skips[0] = in[1];
    skips[1] = in[2];
    return ng_gan_gen_search_cell(c, &G, 2, in[0], skips, NULL);
}

TEST(gan_grad_search_cell) {
    ng_gan_config cfg = gan_tiny_cfg(3, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G;
    gc_input in[10];
    gc_opts o = gc_default();
    gan_cell_args a;
    ng_rng_seed(&r, 22);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(G != NULL);
    if (!G) return;
    in[0] = gan_gin(ng_shape4(2, 3, 2, 2), 1);
    in[1] = gan_gin(ng_shape4(2, 3, 1, 1), 1);
    in[2] = gan_gin(ng_shape4(2, 3, 2, 2), 1);
    in[3] = gan_gin(ng_shape2(9, 6), 1);
    in[4] = gan_gin(ng_shape2(6, 3), 1);
    in[5] = gan_gin(ng_shape2(3, 3), 1);
    in[6] = gan_gin(ng_shape4(3, 3, 5, 5), 1);
    in[7] = gan_gin(ng_shape4(3, 3, 2, 2), 1);
    in[8] = gan_gin(ng_shape4(3, 3, 2, 2), 1);
    in[9] = gan_gin(ng_shape4(3, 3, 1, 1), 1);
    a.G = G;
    for (a.gumbel = 0; a.gumbel < 2; a.gumbel++) {
        G->fuse = a.gumbel; /* also runs the fused normal edges inside a whole cell */
        gradcheck(a.gumbel ? "search cell 3 (gumbel, fused)" : "search cell 3", f_gan_cell, &a, in, 10, 320 + (uint64_t)a.gumbel, o);
    }
    ng_gan_gen_search_free(G);
}

/* D in eval mode (stored u, v: a pure function of the input), after power iterations have
   converged u and v for D's own weights so every layer has spectral norm ~1 (with the initial
   random u, v the scale is arbitrary). in: x, block3.c1 bias. The SN op's weight gradient has
   its own check in test_ops_norm.c. */
static ng_tensor *f_gan_disc(ng_ctx *c, ng_tensor **in, void *u) {
    ng_gan_disc D = *(const ng_gan_disc *)u;
    D.b3_c1.b = in[1];
    return ng_gan_disc_forward(c, &D, in[0]);
}

TEST(gan_grad_disc) {
    ng_gan_config cfg = gan_tiny_cfg(3, 1, 2);
    ng_rng r;
    ng_gan_disc *D;
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    gc_input in[2];
    gc_opts o = gc_default();
    int it;
    ng_rng_seed(&r, 23);
    D = ng_gan_disc_create(&cfg, NULL, NG_GAN_INIT_PYTORCH, &r);
    CHECK(D != NULL && ctx != NULL);
    if (!D || !ctx) return;
    for (it = 0; it < 50; it++) {
        ng_tensor *x;
        ng_ctx_reset(ctx);
        x = ng_tensor_new(ctx, ng_shape4(2, 2, 8, 8));
        fill_uniform(x->data, x->numel, &r, -1.0f, 1.0f);
        CHECK(ng_gan_disc_forward(ctx, D, x) != NULL);
    }
    o.training = 0;
    in[0] = gan_gin(ng_shape4(2, 2, 8, 8), 1);
    in[1] = gan_gin(ng_shape1(3), 1);
    gradcheck("discriminator (eval)", f_gan_disc, D, in, 2, 330, o);
    ng_ctx_free(ctx);
    ng_gan_disc_free(D);
}

/* ---------------------------------------------------------------------------------------- */
/* group-restricted backward, forward shapes, derivation, copies                            */
/* ---------------------------------------------------------------------------------------- */
TEST(gan_backward_restricted_to_groups) {
    ng_gan_config cfg = gan_tiny_cfg(4, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 5);
    ng_tensor *z, *y, *loss;
    int fuse;
    ng_rng_seed(&r, 31);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(G != NULL && ctx != NULL);
    if (!G || !ctx) return;
    for (fuse = 0; fuse < 2; fuse++) {
        G->fuse = fuse;
        /* alpha only: no weight gradient at all */
        ng_params_zero_grad(G->weights);
        ng_params_zero_grad(G->alpha);
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &G->alpha, 1);
        z = ng_tensor_new(ctx, ng_shape2(3, cfg.latent_dim));
        fill_uniform(z->data, z->numel, &r, -1.0f, 1.0f);
        y = ng_gan_gen_search_forward(ctx, G, z);
        CHECK(y && y->shape.d[0] == 3 && y->shape.d[1] == 3 && y->shape.d[2] == 8 && y->shape.d[3] == 8);
        loss = ng_mean(ctx, ng_mul(ctx, y, y), NG_ALL_AXES, 0);
        CHECK_OK(ng_backward(ctx, loss));
        CHECK(all_zero(G->weights->grad, G->weights->numel));
        CHECK(!all_zero(G->alpha->grad, G->alpha_normal->numel));
        CHECK(!all_zero(G->alpha_up->grad, G->alpha_up->numel));
        CHECK(!all_zero(G->alpha_skip->grad, G->alpha_skip->numel));
        /* weights only: alpha's gradient stays zero */
        ng_params_zero_grad(G->alpha);
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &G->weights, 1);
        z = ng_tensor_new(ctx, ng_shape2(3, cfg.latent_dim));
        fill_uniform(z->data, z->numel, &r, -1.0f, 1.0f);
        loss = ng_mean(ctx, ng_mul(ctx, ng_gan_gen_search_forward(ctx, G, z), ng_gan_gen_search_forward(ctx, G, z)), NG_ALL_AXES, 0);
        CHECK_OK(ng_backward(ctx, loss));
        CHECK(all_zero(G->alpha->grad, G->alpha->numel));
        CHECK(!all_zero(G->weights->grad, G->weights->numel));
        CHECK(!all_zero(G->normal[2][2].sep[2].dw2->grad, G->normal[2][2].sep[2].dw2->numel));
        CHECK(!all_zero(G->skip[1].w->grad, G->skip[1].w->numel));
    }
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(G);
}

static void gan_check_shapes(const char *dataset, int gf, int64_t size, int64_t ch) {
    ng_gan_config cfg;
    ng_rng r;
    ng_gan_gen_search *S;
    ng_gan_gen_fixed *F;
    ng_gan_disc *D;
    ng_gan_genotype g;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 9);
    ng_tensor *z, *y, *d;
    int net;
    CHECK_OK(ng_gan_config_preset(&cfg, dataset));
    cfg.gf_dim = gf; cfg.df_dim = gf; cfg.latent_dim = 8;
    ng_rng_seed(&r, 41);
    ng_gan_genotype_random(&g, &r);
    S = ng_gan_gen_search_create(&cfg, NULL, &r);
    F = ng_gan_gen_fixed_create(&cfg, &g, NULL, NG_GAN_INIT_XAVIER, &r);
    D = ng_gan_disc_create(&cfg, NULL, NG_GAN_INIT_PYTORCH, &r);
    CHECK(S && F && D && ctx);
    if (S && F && D && ctx)
        for (net = 0; net < 2; net++) {
            int64_t j;
            ng_ctx_reset(ctx);
            z = ng_tensor_new(ctx, ng_shape2(2, 8));
            fill_uniform(z->data, z->numel, &r, -1.0f, 1.0f);
            y = net ? ng_gan_gen_fixed_forward(ctx, F, z) : ng_gan_gen_search_forward(ctx, S, z);
            CHECK_MSG(y && y->shape.ndim == 4 && y->shape.d[0] == 2 && y->shape.d[1] == ch && y->shape.d[2] == size &&
                          y->shape.d[3] == size, "%s %s: bad generator output", dataset, net ? "fixed" : "supernet");
            if (!y) continue;
            for (j = 0; j < y->numel; j++) CHECK(y->data[j] >= -1.0f && y->data[j] <= 1.0f);
            d = ng_gan_disc_forward(ctx, D, y);
            CHECK_MSG(d && d->shape.ndim == 2 && d->shape.d[0] == 2 && d->shape.d[1] == 1, "%s: bad D output", dataset);
            if (d) CHECK(isfinite(d->data[0]) && isfinite(d->data[1]));
        }
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(S);
    ng_gan_gen_fixed_free(F);
    ng_gan_disc_free(D);
}

TEST(gan_forward_shapes) {
    gan_check_shapes("cifar10", 4, 32, 3);
    gan_check_shapes("stl10", 4, 48, 3);
    gan_check_shapes("fashion_mnist", 4, 32, 1);
}

/* A supernet whose alpha is a huge one-hot per edge computes exactly the fixed net of that
   genotype (with the fixed net's BN affine at gamma 1, beta 0 and the same weights). */
TEST(gan_supernet_one_hot_matches_fixed) {
    ng_gan_config cfg = gan_tiny_cfg(4, 1, 3);
    ng_rng r;
    ng_gan_genotype g;
    ng_gan_gen_search *S;
    ng_gan_gen_fixed *F;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 3);
    int e, i, trial;
    ng_rng_seed(&r, 51);
    S = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(S && ctx);
    if (!S || !ctx) return;
    for (trial = 0; trial < 4; trial++) {
        ng_tensor *z, *ys, *yf;
        float zv[2 * 5];
        if (trial == 0) g = ng_gan_genotype_alphagan_l();
        else if (trial == 1) g = ng_gan_genotype_alphagan_s();
        else ng_gan_genotype_random(&g, &r);
        F = ng_gan_gen_fixed_create(&cfg, &g, NULL, NG_GAN_INIT_XAVIER, &r);
        CHECK(F != NULL);
        if (!F) break;
        for (i = 0; i < F->weights->n; i++) {
            ng_tensor *t = F->weights->tensors[i], *src = ng_params_find(S->weights, t->name);
            if (src) {
                CHECK(ng_shape_eq(src->shape, t->shape));
                memcpy(t->data, src->data, (size_t)t->numel * sizeof(float));
            } else {
                CHECK_MSG(strstr(t->name, ".bn") != NULL, "fixed-net tensor %s has no supernet twin", t->name);
                ng_init_constant(t, strstr(t->name, ".weight") ? 1.0f : 0.0f);
            }
        }
        memset(S->alpha->data, 0, (size_t)S->alpha->numel * sizeof(float));
        for (e = 0; e < NG_GAN_EDGES; e++) {
            int row;
            ng_tensor *a = ng_gan_gen_search_alpha_of(S, e, &row);
            a->data[row * ng_gan_edge_n_ops(e) + g.op[e]] = 1e4f;
        }
        fill_uniform(zv, 10, &r, -1.0f, 1.0f);
        for (S->fuse = 0; S->fuse < 2; S->fuse++) {
            int64_t j;
            double maxd = 0.0;
            ng_ctx_reset(ctx);
            z = ng_tensor_from(ctx, ng_shape2(2, 5), zv);
            ys = ng_gan_gen_search_forward(ctx, S, z);
            yf = ng_gan_gen_fixed_forward(ctx, F, z);
            CHECK(ys && yf);
            if (!ys || !yf) break;
            for (j = 0; j < ys->numel; j++)
                if (fabs((double)ys->data[j] - yf->data[j]) > maxd) maxd = fabs((double)ys->data[j] - yf->data[j]);
            CHECK_MSG(maxd < 1e-5, "trial %d fuse %d: supernet vs fixed differ by %g", trial, S->fuse, maxd);
        }
        S->fuse = 0;
        {
            ng_gan_genotype d;
            ng_gan_gen_search_derive(S, &d);
            CHECK(ng_gan_genotype_eq(&d, &g));
        }
        ng_gan_gen_fixed_free(F);
    }
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(S);
}

TEST(gan_derive_argmax) {
    ng_gan_config cfg = gan_tiny_cfg(2, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G;
    ng_gan_genotype d;
    int e;
    ng_rng_seed(&r, 61);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(G != NULL);
    if (!G) return;
    /* hand-set rows: the maximum at a known place, small margins */
    for (e = 0; e < NG_GAN_EDGES; e++) {
        int row, k, K = ng_gan_edge_n_ops(e);
        ng_tensor *a = ng_gan_gen_search_alpha_of(G, e, &row);
        for (k = 0; k < K; k++) a->data[row * K + k] = 0.01f * (float)((k * 7 + e) % K);
        a->data[row * K + (e * 5) % K] = 0.05f + 0.001f * (float)e;
    }
    ng_gan_gen_search_derive(G, &d);
    for (e = 0; e < NG_GAN_EDGES; e++) CHECK_MSG(d.op[e] == (e * 5) % ng_gan_edge_n_ops(e), "edge %d: derived %d", e, d.op[e]);
    /* ties pick the first index; negative values work */
    {
        int row;
        ng_tensor *a = ng_gan_gen_search_alpha_of(G, NG_GAN_EDGE_SKIP3(1), &row);
        CHECK(a == G->alpha_skip && row == 2);
        a->data[6] = -2.0f; a->data[7] = -1.0f; a->data[8] = -1.0f;
        a = ng_gan_gen_search_alpha_of(G, NG_GAN_EDGE_NORMAL(2, 1), &row);
        CHECK(a == G->alpha_normal && row == 7);
        a = ng_gan_gen_search_alpha_of(G, NG_GAN_EDGE_UP(1, 1), &row);
        CHECK(a == G->alpha_up && row == 3);
    }
    ng_gan_gen_search_derive(G, &d);
    CHECK(d.op[NG_GAN_EDGE_SKIP3(1)] == 1);
    ng_gan_gen_search_free(G);
}

TEST(gan_worst_copy_owns_alpha) {
    ng_gan_config cfg = gan_tiny_cfg(3, 1, 3), other = gan_tiny_cfg(4, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G, *W, *O;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 3);
    float zv[10];
    int64_t j;
    ng_rng_seed(&r, 71);
    G = ng_gan_gen_search_create(&cfg, "G", &r);
    W = G ? ng_gan_gen_search_clone(G, "G_worst") : NULL;
    O = ng_gan_gen_search_create(&other, "O", &r);
    CHECK(G && W && O && ctx);
    if (!G || !W || !O || !ctx) return;
    CHECK(strcmp(W->alpha->name, "G_worst.alpha") == 0 && strcmp(G->alpha->name, "G.alpha") == 0);
    CHECK(W->alpha->data != G->alpha->data && W->alpha_normal->data != G->alpha_normal->data);
    CHECK(memcmp(W->alpha->data, G->alpha->data, (size_t)G->alpha->numel * sizeof(float)) == 0);
    CHECK(memcmp(W->weights->data, G->weights->data, (size_t)G->weights->numel * sizeof(float)) == 0);
    /* same outputs, then changing G's alpha leaves W's alone */
    fill_uniform(zv, 10, &r, -1.0f, 1.0f);
    {
        ng_tensor *yg, *yw;
        yg = ng_gan_gen_search_forward(ctx, G, ng_tensor_from(ctx, ng_shape2(2, 5), zv));
        yw = ng_gan_gen_search_forward(ctx, W, ng_tensor_from(ctx, ng_shape2(2, 5), zv));
        CHECK(yg && yw && memcmp(yg->data, yw->data, (size_t)yg->numel * sizeof(float)) == 0);
    }
    G->alpha_up->data[4] += 1.0f;
    CHECK(W->alpha_up->data[4] != G->alpha_up->data[4]);
    /* an alpha-only backward through W writes W's alpha gradient, never G's */
    ng_ctx_reset(ctx);
    ng_ctx_grad_for(ctx, &W->alpha, 1);
    CHECK_OK(ng_backward(ctx, ng_mean(ctx, ng_gan_gen_search_forward(ctx, W, ng_tensor_from(ctx, ng_shape2(2, 5), zv)), NG_ALL_AXES, 0)));
    CHECK(all_zero(G->alpha->grad, G->alpha->numel) && !all_zero(W->alpha->grad, W->alpha->numel));
    /* copy back into an existing net; mismatched configurations are refused */
    CHECK_OK(ng_gan_gen_search_copy(W, G));
    for (j = 0; j < G->alpha->numel; j++) CHECK(W->alpha->data[j] == G->alpha->data[j]);
    CHECK(ng_gan_gen_search_copy(O, G) == NG_ERR_MISMATCH);
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(G);
    ng_gan_gen_search_free(W);
    ng_gan_gen_search_free(O);
}

TEST(gan_disc_spectral_norm_state) {
    ng_gan_config cfg = gan_tiny_cfg(4, 1, 3);
    ng_rng r;
    ng_gan_disc *D, *D2;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 3);
    ng_tensor *x, *y1, *y2;
    float u0;
    ng_rng_seed(&r, 81);
    D = ng_gan_disc_create(&cfg, NULL, NG_GAN_INIT_XAVIER, &r);
    D2 = ng_gan_disc_create(&cfg, "D_worst", NG_GAN_INIT_PYTORCH, &r);
    CHECK(D && D2 && ctx);
    if (!D || !D2 || !ctx) return;
    CHECK(D->buffers->numel == 4 + 27 + 4 + 36 + 4 + 3 + 4 + 36 + 4 + 36 + 4 + 4 + 4 + 36 + 4 + 36 + 4 + 36 + 4 + 36 + 1 + 4);
    CHECK_OK(ng_gan_disc_copy(D2, D));
    x = ng_tensor_new(ctx, ng_shape4(2, 3, 8, 8));
    fill_uniform(x->data, x->numel, &r, -1.0f, 1.0f);
    ng_ctx_set_training(ctx, 0);
    u0 = D->b3_c2.u->data[0];
    y1 = ng_gan_disc_forward(ctx, D, x);
    CHECK(D->b3_c2.u->data[0] == u0);                      /* eval: u, v untouched */
    ng_ctx_set_training(ctx, 1);
    y1 = ng_gan_disc_forward(ctx, D, x);
    CHECK(D->b3_c2.u->data[0] != u0);                      /* train: one power iteration */
    y2 = ng_gan_disc_forward(ctx, D2, x);
    CHECK(y1 && y2 && y1->data[0] == y2->data[0] && y1->data[1] == y2->data[1]);
    ng_ctx_free(ctx);
    ng_gan_disc_free(D);
    ng_gan_disc_free(D2);
}

/* ---------------------------------------------------------------------------------------- */
/* genotypes: tables, JSON, DOT                                                             */
/* ---------------------------------------------------------------------------------------- */
TEST(gan_genotype_tables) {
    ng_gan_genotype g;
    int e, k, n_normal = 0;
    for (e = 0; e < NG_GAN_EDGES; e++) {
        n_normal += ng_gan_edge_is_normal(e);
        for (k = 0; k < ng_gan_edge_n_ops(e); k++) CHECK(ng_gan_op_index(e, ng_gan_op_name(e, k)) == k);
        CHECK(ng_gan_op_name(e, ng_gan_edge_n_ops(e)) == NULL);
    }
    CHECK(n_normal == 9);
    CHECK(strcmp(ng_gan_normal_op_name(3), "sep_conv_3x3") == 0 && strcmp(ng_gan_up_op_name(2), "bilinear") == 0);
    CHECK(ng_gan_op_index(NG_GAN_EDGE_NORMAL(0, 0), "deconv") == -1 && ng_gan_op_index(NG_GAN_EDGE_SKIP2, "conv_1x1") == -1);
    CHECK(strcmp(ng_gan_edge_name(NG_GAN_EDGE_SKIP3(0)), "skip_3.0") == 0 && strcmp(ng_gan_edge_name(NG_GAN_EDGE_UP(1, 1)), "cell2.up1") == 0);
    CHECK_OK(ng_gan_genotype_builtin("alphaGAN_s", &g));
    CHECK(g.op[NG_GAN_EDGE_SKIP3(0)] == NG_GAN_DECONV && g.op[NG_GAN_EDGE_UP(0, 0)] == NG_GAN_BILINEAR &&
          g.op[NG_GAN_EDGE_NORMAL(0, 1)] == NG_GAN_SEP_CONV_3X3);
    CHECK_OK(ng_gan_genotype_builtin("alphaGAN_l", &g));
    CHECK(g.op[NG_GAN_EDGE_NORMAL(2, 2)] == NG_GAN_SEP_CONV_3X3 && g.op[NG_GAN_EDGE_UP(2, 0)] == NG_GAN_NEAREST &&
          g.op[NG_GAN_EDGE_SKIP3(0)] == NG_GAN_BILINEAR);
    CHECK(ng_gan_genotype_builtin("alphaGAN_m", &g) == NG_ERR_ARG);
}

TEST(gan_genotype_json_round_trip) {
    ng_gan_genotype g, back;
    ng_rng r;
    char *text, path[512];
    size_t n;
    int i;
    ng_rng_seed(&r, 91);
    for (i = 0; i < 60; i++) {
        if (i == 0) g = ng_gan_genotype_alphagan_l();
        else if (i == 1) g = ng_gan_genotype_alphagan_s();
        else ng_gan_genotype_random(&g, &r);
        CHECK_OK(ng_gan_genotype_to_json(&g, &text, &n));
        CHECK(strlen(text) == n);
        memset(&back, 0, sizeof back);
        CHECK_OK(ng_gan_genotype_parse(text, n, "round.json", &back));
        CHECK(ng_gan_genotype_eq(&g, &back));
        free(text);
    }
    g = ng_gan_genotype_alphagan_l();
    CHECK_OK(ng_gan_genotype_to_json(&g, &text, &n));
    CHECK(strstr(text, "{\"normal\": [\"conv_5x5\", \"conv_5x5\", \"sep_conv_5x5\"], \"up\": [\"deconv\", \"bilinear\"]}") != NULL);
    free(text);
    snprintf(path, sizeof path, "%s/alphaGAN_s.json", ng_test_tmpdir());
    g = ng_gan_genotype_alphagan_s();
    CHECK_OK(ng_gan_genotype_save(&g, path));
    CHECK_OK(ng_gan_genotype_load(path, &back));
    CHECK(ng_gan_genotype_eq(&g, &back));
    /* another key order, escapes, extra whitespace */
    {
        const char *alt = "\r\n{ \"skip_3\" : [ \"bilinear\" , \"nea\\u0072est\" ] , \"version\":1,\"skip_2\":[\"nearest\"],\t"
                          "\"cells\":[{\"up\":[\"deconv\",\"bilinear\"],\"normal\":[\"conv_5x5\",\"conv_5x5\",\"sep_conv_5x5\"]},"
                          "{\"normal\":[\"conv_5x5\",\"conv_1x1\",\"conv_3x3\"],\"up\":[\"deconv\",\"bilinear\"]},"
                          "{\"normal\":[\"conv_1x1\",\"conv_5x5\",\"sep_conv_3x3\"],\"up\":[\"nearest\",\"bilinear\"]}],"
                          "\"format\":\"nasgan.gan_genotype\"}\n";
        ng_gan_genotype l = ng_gan_genotype_alphagan_l();
        CHECK_OK(ng_gan_genotype_parse(alt, strlen(alt), "alt.json", &back));
        CHECK(ng_gan_genotype_eq(&l, &back));
    }
}

/* replace the first occurrence of `from` in `src` by `to` */
static char *gan_subst(const char *src, const char *from, const char *to) {
    const char *p = strstr(src, from);
    size_t a, nt = strlen(to), nf = strlen(from), ns = strlen(src);
    char *out = (char *)malloc(ns + nt + 1);
    if (!p) { memcpy(out, src, ns + 1); return out; }
    a = (size_t)(p - src);
    memcpy(out, src, a);
    memcpy(out + a, to, nt);
    memcpy(out + a + nt, p + nf, ns - a - nf + 1);
    return out;
}

static void gan_expect_bad(const char *text, size_t n, const char *why, const char *must_say) {
    ng_gan_genotype g = ng_gan_genotype_alphagan_s(), keep = g;
    ng_status s = ng_gan_genotype_parse(text, n, "bad.json", &g);
    CHECK_MSG(s == NG_ERR_FORMAT, "%s: accepted or wrong code %d", why, (int)s);
    CHECK_MSG(strstr(ng_last_error(), "bad.json") != NULL, "%s: message does not name the file: %s", why, ng_last_error());
    CHECK_MSG(strstr(ng_last_error(), "line ") != NULL, "%s: message has no line: %s", why, ng_last_error());
    if (must_say) CHECK_MSG(strstr(ng_last_error(), must_say) != NULL, "%s: message lacks '%s': %s", why, must_say, ng_last_error());
    CHECK_MSG(ng_gan_genotype_eq(&g, &keep), "%s: output modified on failure", why);
}

TEST(gan_genotype_json_rejects_malformed) {
    ng_gan_genotype l = ng_gan_genotype_alphagan_l();
    char *good, *bad, *deep;
    size_t n, i;
    const int depth = 100000;
    CHECK_OK(ng_gan_genotype_to_json(&l, &good, &n));
    /* every strict prefix is truncated (whitespace-only tail aside) */
    for (i = 0; i + 2 < n; i++) gan_expect_bad(good, i, "truncated", NULL);
    gan_expect_bad("", 0, "empty", "end of input");
#define BAD_SUBST(from, to, why, say)                                   \
    do {                                                                \
        bad = gan_subst(good, from, to);                                \
        gan_expect_bad(bad, strlen(bad), why, say);                     \
        free(bad);                                                      \
    } while (0)
    BAD_SUBST("\"sep_conv_5x5\"", "\"sep_conv_9x9\"", "unknown op", "sep_conv_9x9");
    BAD_SUBST("\"conv_5x5\"", "\"deconv\"", "up op on a normal edge", "unknown normal op");
    BAD_SUBST("\"skip_2\": [\"nearest\"]", "\"skip_2\": [\"conv_1x1\"]", "normal op on a skip edge", "unknown up op");
    BAD_SUBST("\"conv_5x5\", \"conv_5x5\", ", "\"conv_5x5\", ", "missing edge", "expected 3");
    BAD_SUBST("[\"nearest\"]", "[\"nearest\", \"nearest\"]", "extra edge", "more than 1");
    BAD_SUBST("[\"nearest\"]", "[]", "empty edge list", "empty");
    BAD_SUBST(",\n  \"skip_3\": [\"bilinear\", \"nearest\"]", "", "missing key", "skip_3");
    BAD_SUBST("\"version\": 1,", "\"version\": 1, \"version\": 1,", "duplicate key", "duplicate");
    BAD_SUBST("\"version\": 1,", "\"version\": 1, \"comment\": \"x\",", "unknown key", "comment");
    BAD_SUBST("\"version\": 1", "\"version\": \"1\"", "version as a string", "integer");
    BAD_SUBST("\"version\": 1", "\"version\": 1.0", "version as a fraction", "integer");
    BAD_SUBST("\"version\": 1", "\"version\": 2", "unknown version", "version 2");
    BAD_SUBST("\"version\": 1", "\"version\": 01", "leading zero", "leading zero");
    BAD_SUBST("\"version\": 1", "\"version\": 12345678901234567890", "huge integer", "too long");
    BAD_SUBST("nasgan.gan_genotype", "nasgan.other", "wrong format", "format");
    BAD_SUBST("[\"nearest\"]", "\"nearest\"", "op list as a string", "'['");
    BAD_SUBST("\"cells\": [", "\"cells\": {", "cells as an object", "'['");
    BAD_SUBST("\"up\": [\"nearest\", \"bilinear\"]}", "\"up\": [\"nearest\", \"bilinear\"]},{}", "four cells", "more than 3");
    BAD_SUBST("{\"normal\": [\"conv_1x1\"", "{\"up\": [\"nearest\", \"nearest\"], \"normal\": [\"conv_1x1\"", "duplicate cell key", "duplicate");
    BAD_SUBST(", \"up\": [\"nearest\", \"bilinear\"]", "", "cell without up", "lacks the key \"up\"");
    BAD_SUBST("\"conv_1x1\"", "17", "number for an op", "string");
    BAD_SUBST("\"conv_1x1\"", "null", "null for an op", "string");
    BAD_SUBST("\"version\"", "version", "unquoted key", "string");
    BAD_SUBST("\"version\": 1,", "\"version\": 1,,", "double comma", "string");
    BAD_SUBST("\"bilinear\", \"nearest\"]", "\"bilinear\", \"nearest\",]", "trailing comma", "more than 2");
    BAD_SUBST("\"conv_1x1\"", "\"conv_1x1", "unterminated string in the middle", NULL);
    BAD_SUBST("\"conv_1x1\"", "\"conv\\q1x1\"", "bad escape", "escape");
    BAD_SUBST("\"conv_1x1\"", "\"conv\\u00\"", "short \\u escape", "hex");
    BAD_SUBST("\"conv_1x1\"", "\"conv\\ud800x\"", "lone surrogate", "surrogate");
    BAD_SUBST("\"conv_1x1\"", "\"conv\\u0000\"", "escaped NUL", "u0000");
    BAD_SUBST("\"conv_1x1\"", "\"conv\t1x1\"", "raw tab in a string", "control byte");
    BAD_SUBST("\"conv_1x1\"", "\"conv_1x1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "long string", "longer");
    /* invalid UTF-8: a stray continuation byte, 0xff, an overlong '/', a UTF-16 surrogate, a
       truncated sequence, and a non-ASCII byte outside any string */
    BAD_SUBST("\"conv_1x1\"", "\"conv_\x80\"", "stray continuation byte", "UTF-8");
    BAD_SUBST("\"conv_1x1\"", "\"conv_\xff\"", "0xff", "UTF-8");
    BAD_SUBST("\"conv_1x1\"", "\"conv_\xc0\xaf\"", "overlong", "UTF-8");
    BAD_SUBST("\"conv_1x1\"", "\"conv_\xed\xa0\x80\"", "encoded surrogate", "UTF-8");
    BAD_SUBST("\"conv_1x1\"", "\"conv_\xe2\x82\"", "truncated sequence", "UTF-8");
    BAD_SUBST("\"version\": 1", "\"version\": \xc3\xa9", "non-ASCII outside strings", "byte 0xc3");
    /* valid UTF-8 that names no op */
    BAD_SUBST("\"conv_1x1\"", "\"conv_\xc3\xa9\"", "accented op name", "unknown normal op");
    /* trailing garbage, a second object, a NUL byte */
    bad = (char *)malloc(n + 8);
    memcpy(bad, good, n);
    memcpy(bad + n, "x", 2);
    gan_expect_bad(bad, n + 1, "trailing garbage", "end of input");
    memcpy(bad + n, "{}", 3);
    gan_expect_bad(bad, n + 2, "second object", "end of input");
    bad[n] = 0;
    gan_expect_bad(bad, n + 1, "trailing NUL", "byte 0x00");
    memcpy(bad, good, n);
    bad[10] = 0;
    gan_expect_bad(bad, n, "NUL inside", NULL);
    free(bad);
    /* deeply nested input: at the top, and in place of a cell */
    deep = (char *)malloc((size_t)depth * 2 + 64);
    for (i = 0; i < (size_t)depth; i++) deep[i] = '[';
    for (i = 0; i < (size_t)depth; i++) deep[depth + i] = ']';
    gan_expect_bad(deep, (size_t)depth * 2, "deeply nested arrays", "'{'");
    memcpy(deep, "{\"cells\": ", 10);
    for (i = 10; i < (size_t)depth; i++) deep[i] = i % 2 ? '{' : '[';
    gan_expect_bad(deep, (size_t)depth, "deeply nested mix", "string");
    free(deep);
    /* line and column of the error */
    {
        const char *t = "{\n  \"format\": \"nasgan.gan_genotype\",\n  \"version\": x\n}";
        gan_expect_bad(t, strlen(t), "line/column", "line 3, column 14");
    }
    /* files: a missing file is an I/O error naming it; a bad file names its path */
    {
        char path[512];
        ng_gan_genotype g;
        snprintf(path, sizeof path, "%s/missing.json", ng_test_tmpdir());
        CHECK(ng_gan_genotype_load(path, &g) == NG_ERR_IO);
        CHECK(strstr(ng_last_error(), "missing.json") != NULL);
        snprintf(path, sizeof path, "%s/bad_genotype.json", ng_test_tmpdir());
        CHECK_OK(ng_file_write_atomic(path, good, n / 2));
        CHECK(ng_gan_genotype_load(path, &g) == NG_ERR_FORMAT);
        CHECK(strstr(ng_last_error(), "bad_genotype.json") != NULL);
    }
#undef BAD_SUBST
    free(good);
}

TEST(gan_genotype_dot) {
    ng_gan_genotype g;
    ng_rng r;
    char *dot, line[160], path[512];
    size_t n;
    int trial, c;
    unsigned char *file;
    size_t fn;
    ng_rng_seed(&r, 101);
    for (trial = 0; trial < 4; trial++) {
        if (trial == 0) g = ng_gan_genotype_alphagan_l();
        else if (trial == 1) g = ng_gan_genotype_alphagan_s();
        else ng_gan_genotype_random(&g, &r);
        CHECK_OK(ng_gan_genotype_to_dot(&g, trial ? "title with \"quotes\"" : NULL, &dot, &n));
        CHECK(strncmp(dot, "digraph", 7) == 0 && dot[n - 2] == '}');
        for (c = 0; c < NG_GAN_CELLS; c++) {
            snprintf(line, sizeof line, "c%d_n0 -> c%d_n1 [label=\"%s\"]", c + 1, c + 1, ng_gan_up_op_name(g.op[NG_GAN_EDGE_UP(c, 0)]));
            CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
            snprintf(line, sizeof line, "c%d_n0 -> c%d_n3 [label=\"%s\"]", c + 1, c + 1, ng_gan_up_op_name(g.op[NG_GAN_EDGE_UP(c, 1)]));
            CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
            snprintf(line, sizeof line, "c%d_n1 -> c%d_n2 [label=\"%s\"]", c + 1, c + 1, ng_gan_normal_op_name(g.op[NG_GAN_EDGE_NORMAL(c, 0)]));
            CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
            snprintf(line, sizeof line, "c%d_n2 -> c%d_n4 [label=\"%s\"]", c + 1, c + 1, ng_gan_normal_op_name(g.op[NG_GAN_EDGE_NORMAL(c, 1)]));
            CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
            snprintf(line, sizeof line, "c%d_n3 -> c%d_n4 [label=\"%s\"]", c + 1, c + 1, ng_gan_normal_op_name(g.op[NG_GAN_EDGE_NORMAL(c, 2)]));
            CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
        }
        snprintf(line, sizeof line, "c1_n1 -> c2_n4 [label=\"%s x2 (skip_2)\"", ng_gan_up_op_name(g.op[NG_GAN_EDGE_SKIP2]));
        CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
        snprintf(line, sizeof line, "c1_n1 -> c3_n4 [label=\"%s x4 (skip_3.0)\"", ng_gan_up_op_name(g.op[NG_GAN_EDGE_SKIP3(0)]));
        CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
        snprintf(line, sizeof line, "c2_n1 -> c3_n4 [label=\"%s x2 (skip_3.1)\"", ng_gan_up_op_name(g.op[NG_GAN_EDGE_SKIP3(1)]));
        CHECK_MSG(strstr(dot, line) != NULL, "missing %s", line);
        if (trial) CHECK(strstr(dot, "label=\"title with \\\"quotes\\\"\"") != NULL);
        free(dot);
    }
    snprintf(path, sizeof path, "%s/alphaGAN_l.dot", ng_test_tmpdir());
    g = ng_gan_genotype_alphagan_l();
    CHECK_OK(ng_gan_genotype_save_dot(&g, "alphaGAN_l", path));
    CHECK_OK(ng_file_read_all(path, 1 << 20, &file, &fn));
    CHECK(fn > 100 && file[0] == 'd' && file[fn - 2] == '}');
    free(file);
}

TEST(gan_config_presets) {
    ng_gan_config c;
    CHECK_OK(ng_gan_config_preset(&c, "fashion_mnist"));
    CHECK(c.channels == 1 && c.bottom_width == 4 && c.gumbel == 0 && c.gumbel_temp == 0.5f && c.latent_dim == 128);
    CHECK_OK(ng_gan_config_check(&c));
    CHECK(ng_gan_config_preset(&c, "imagenet") == NG_ERR_ARG);
    c.gf_dim = 0;
    CHECK(ng_gan_config_check(&c) == NG_ERR_ARG);
    c.gf_dim = 8;
    c.gumbel_temp = 0.0f;
    CHECK(ng_gan_config_check(&c) == NG_ERR_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* the fused normal edge and its op                                                         */
/* ---------------------------------------------------------------------------------------- */
/* in: alpha (2, 5), k1 (3, 2, 1, 1), k3 (3, 2, 3, 3), a (3, 2, 5, 5) added with weight 1 */
static ng_tensor *f_gan_mixed_cols(ng_ctx *c, ng_tensor **in, void *u) {
    static const int cols[3] = {4, 1, -1};
    ng_tensor *xs[3];
    (void)u;
    xs[0] = in[1]; xs[1] = in[2]; xs[2] = in[3];
    return ng_mixed_cols(c, in[0], 1, xs, cols, 3, ng_shape4(3, 2, 5, 5));
}

TEST(gan_mixed_cols_op) {
    gc_input in[4];
    gc_opts o = gc_default();
    ng_ctx *ctx = ng_ctx_create(1u << 20, 1);
    ng_rng r;
    float av[6] = {0.3f, -0.2f, 0.5f, 0.1f, 0.0f, -0.4f}, xv[3][24];
    ng_tensor *alpha, *xs[3], *y_all, *y_a, *y_b;
    int cols_a[2] = {0, 2}, cols_b[1] = {1}, j;
    int64_t i;
    in[0] = gan_gin(ng_shape2(2, 5), 1);
    in[1] = gan_gin(ng_shape4(3, 2, 1, 1), 1);
    in[2] = gan_gin(ng_shape4(3, 2, 3, 3), 1);
    in[3] = gan_gin(ng_shape4(3, 2, 5, 5), 1);
    gradcheck("mixed_cols (padded kernels + weight-1 term)", f_gan_mixed_cols, NULL, in, 4, 340, o);
    /* disjoint column subsets of one row add up to ng_mixed, values and alpha gradients */
    ng_rng_seed(&r, 341);
    for (j = 0; j < 3; j++) fill_uniform(xv[j], 24, &r, -1.0f, 1.0f);
    alpha = ng_tensor_from(ctx, ng_shape2(2, 3), av);
    ng_tensor_requires_grad(alpha);
    for (j = 0; j < 3; j++) xs[j] = ng_tensor_from(ctx, ng_shape2(4, 6), xv[j]);
    y_all = ng_mixed(ctx, alpha, 1, xs, 3);
    CHECK_OK(ng_backward_from(ctx, y_all, xv[0]));
    {
        float g_all[6], part[6];
        ng_tensor *pa[2];
        memcpy(g_all, alpha->grad, sizeof g_all);
        ng_ctx_reset(ctx);
        alpha = ng_tensor_from(ctx, ng_shape2(2, 3), av);
        ng_tensor_requires_grad(alpha);
        for (j = 0; j < 3; j++) xs[j] = ng_tensor_from(ctx, ng_shape2(4, 6), xv[j]);
        pa[0] = xs[0]; pa[1] = xs[2];
        y_a = ng_mixed_cols(ctx, alpha, 1, pa, cols_a, 2, ng_shape2(4, 6));
        y_b = ng_mixed_cols(ctx, alpha, 1, &xs[1], cols_b, 1, ng_shape2(4, 6));
        y_b = ng_add(ctx, y_a, y_b);
        CHECK_OK(ng_backward_from(ctx, y_b, xv[0]));
        for (i = 0; i < 6; i++) part[i] = alpha->grad[i];
        for (i = 0; i < 6; i++) CHECK_CLOSE(part[i], g_all[i], 1e-6, 1e-5);
        CHECK(g_all[4] != 0.0f);
    }
    ng_ctx_free(ctx);
}

/* The fused normal edge (one 5x5 convolution with the softmax-weighted kernel) and the plain
   one agree in value and in every gradient: input, alpha, each candidate's weights. */
TEST(gan_fused_edge_agrees) {
    ng_gan_config cfg = gan_tiny_cfg(8, 1, 3);
    ng_rng r;
    ng_gan_gen_search *G;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 2);
    ng_params *groups[2];
    float xv[2 * 8 * 6 * 7], *y0 = NULL, *gx0 = NULL, *gw0 = NULL, ga0[54];
    int fuse;
    int64_t i;
    ng_rng_seed(&r, 351);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    CHECK(G && ctx);
    if (!G || !ctx) return;
    fill_uniform(xv, 2 * 8 * 6 * 7, &r, -1.0f, 1.0f);
    fill_uniform(G->alpha_normal->data, 54, &r, -1.0f, 1.0f);
    groups[0] = G->weights;
    groups[1] = G->alpha;
    for (fuse = 0; fuse < 2; fuse++) {
        ng_tensor *x, *y;
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, groups, 2);
        ng_params_zero_grad(G->weights);
        ng_params_zero_grad(G->alpha);
        x = ng_tensor_from(ctx, ng_shape4(2, 8, 6, 7), xv);
        ng_tensor_requires_grad(x);
        y = ng_gan_mixed_normal_forward(ctx, &G->normal[1][2], G->alpha_normal, 5, x, fuse);
        CHECK(y != NULL);
        if (!y) break;
        CHECK_OK(ng_backward_from(ctx, y, xv));
        if (!fuse) {
            y0 = (float *)malloc((size_t)y->numel * sizeof(float));
            gx0 = (float *)malloc((size_t)x->numel * sizeof(float));
            gw0 = (float *)malloc((size_t)G->weights->numel * sizeof(float));
            memcpy(y0, y->data, (size_t)y->numel * sizeof(float));
            memcpy(gx0, x->grad, (size_t)x->numel * sizeof(float));
            memcpy(gw0, G->weights->grad, (size_t)G->weights->numel * sizeof(float));
            memcpy(ga0, G->alpha->grad, sizeof ga0);
            CHECK(!all_zero(G->normal[1][2].conv[0].b->grad, 8) && !all_zero(ga0 + 30, 6));
        } else {
            for (i = 0; i < y->numel; i++) CHECK_CLOSE(y->data[i], y0[i], 1e-5, 1e-4);
            for (i = 0; i < x->numel; i++) CHECK_CLOSE(x->grad[i], gx0[i], 1e-4, 1e-4);
            for (i = 0; i < G->weights->numel; i++) CHECK_CLOSE(G->weights->grad[i], gw0[i], 1e-4, 1e-4);
            for (i = 0; i < 54; i++) CHECK_CLOSE(G->alpha->grad[i], ga0[i], 1e-4, 1e-4);
        }
    }
    free(y0);
    free(gx0);
    free(gw0);
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(G);
}

/* A small XML well-formedness check for the SVG pictures: every tag closed in order, quotes
   balanced inside tags, no raw '&' outside entities, one root element. Returns NULL or why not. */
static const char *xml_problem(const char *s) {
    const char *stack[64];
    size_t lens[64];
    int depth = 0, roots = 0;
    if (strncmp(s, "<?xml", 5) == 0) s = strstr(s, "?>") ? strstr(s, "?>") + 2 : s + strlen(s);
    for (; *s; s++) {
        if (*s == '&') {
            if (strncmp(s, "&amp;", 5) && strncmp(s, "&lt;", 4) && strncmp(s, "&gt;", 4) && strncmp(s, "&quot;", 6)) return "raw &";
        } else if (*s == '>') {
            return "stray >";
        } else if (*s == '<') {
            const char *name = s + 1 + (s[1] == '/');
            size_t len = strcspn(name, " \t\n/>");
            int closing = s[1] == '/', quote = 0;
            for (s = name + len; *s && (quote || *s != '>'); s++)
                if (*s == '"') quote = !quote;
            if (!*s) return "unterminated tag";
            if (closing) {
                if (depth == 0 || lens[depth - 1] != len || strncmp(stack[depth - 1], name, len)) return "mismatched close";
                depth--;
            } else if (s[-1] != '/') {
                if (depth == 0) roots++;
                if (depth == 64) return "too deep";
                stack[depth] = name; lens[depth] = len; depth++;
            } else if (depth == 0) {
                roots++;
            }
        }
    }
    return depth ? "unclosed element" : roots != 1 ? "not one root" : NULL;
}

TEST(svg_pictures_are_well_formed_and_name_every_op) {
    ng_gan_genotype g;
    ng_textnas_arch a;
    ng_rng r;
    char *svg = NULL, label[64];
    size_t n = 0;
    const char *why;
    int e, i, trial;
    ng_rng_seed(&r, 11);
    for (trial = 0; trial < 5; trial++) {
        ng_gan_genotype_random(&g, &r);
        CHECK_OK(ng_gan_genotype_to_svg(&g, "a <title> & \"quotes\"", &svg, &n));
        if (!svg) continue;
        why = xml_problem(svg);
        CHECK_MSG(!why, "genotype SVG: %s", why);
        CHECK(strlen(svg) == n && strstr(svg, "a &lt;title&gt; &amp; &quot;quotes&quot;"));
        for (e = 0; e < NG_GAN_EDGES; e++) CHECK_MSG(strstr(svg, ng_gan_op_name(e, g.op[e])), "edge %d's op is not drawn", e);
        free(svg);
        svg = NULL;
        ng_textnas_arch_random(&a, 24, NG_TEXTNAS_CHOOSE_FROM, 0.4, &r);
        CHECK_OK(ng_textnas_arch_to_svg(&a, trial ? NULL : "TextNAS", &svg, &n));
        if (!svg) continue;
        why = xml_problem(svg);
        CHECK_MSG(!why, "TextNAS SVG: %s", why);
        for (i = 0; i < a.n_layers; i++) {
            snprintf(label, sizeof label, ">%d: %s<", i, ng_textnas_op_name(a.op[i]));
            CHECK_MSG(strstr(svg, label), "layer %d is not drawn as '%s'", i, label);
        }
        free(svg);
        svg = NULL;
    }
    g.op[0] = 99;
    CHECK(ng_gan_genotype_to_svg(&g, NULL, &svg, &n) == NG_ERR_ARG && !svg);
    /* the checker itself notices broken XML */
    CHECK(xml_problem("<svg><text>a</svg>") && xml_problem("<svg>a & b</svg>") && xml_problem("<svg></svg><svg/>") &&
          !xml_problem("<?xml version=\"1.0\"?>\n<svg a=\"x>y\"><g/><text>&amp;</text></svg>\n"));
}

/* The two published genotypes as the reference repository's models/genotypes.py spells them
   (yuesongtian/AlphaGAN), and one as its search logs it (with the *_concat fields). */
static const char *const ref_genotypes_py =
    "from collections import namedtuple\n"
    "Genotype_gen = namedtuple('Genotype_gen', 'normal up skip_2 skip_3')\n"
    "alphaGAN_l = Genotype_gen(normal={'1': [('conv_5x5', 0), ('conv_5x5', 1), ('sep_conv_5x5', 2)], '2': [('conv_5x5', 0), "
    "('conv_1x1', 1), ('conv_3x3', 2)], '3': [('conv_1x1', 0), ('conv_5x5', 1), ('sep_conv_3x3', 2)]}, up={'1': [('deconv', 0), "
    "('bilinear', 1)], '2': [('deconv', 0), ('bilinear', 1)], '3': [('nearest', 0), ('bilinear', 1)]}, skip_2=[('nearest', 0)], "
    "skip_3=[('bilinear', 0), ('nearest', 1)])\n"
    "\n"
    "alphaGAN_s = Genotype_gen(normal={'1': [('conv_1x1', 0), ('sep_conv_3x3', 1), ('conv_1x1', 2)], '2': [('sep_conv_5x5', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], '3': [('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)]}, "
    "up={'1': [('bilinear', 0), ('deconv', 1)], '2': [('deconv', 0), ('deconv', 1)], '3': [('deconv', 0), ('nearest', 1)]}, "
    "skip_2=[('nearest', 0)], skip_3=[('deconv', 0), ('bilinear', 1)])\n";
static const char *const ref_logged =
    "# gen_dg_loss_g256_d128 = Genotype_gen(normal={'1': [('conv_5x5', 0), ('conv_5x5', 1), ('sep_conv_5x5', 2)], '2': "
    "[('conv_5x5', 0), ('conv_1x1', 1), ('conv_3x3', 2)], '3': [('conv_1x1', 0), ('conv_5x5', 1), ('sep_conv_3x3', 2)]}, "
    "normal_concat=range(2, 6), up={'1': [('deconv', 0), ('bilinear', 1)], '2': [('deconv', 0), ('bilinear', 1)], '3': "
    "[('nearest', 0), ('bilinear', 1)]}, up_concat=range(2, 6), skip_2=[('nearest', 0)], skip_2_concat=range(2, 6), "
    "skip_3=[('bilinear', 0), ('nearest', 1)], skip_3_concat=range(2, 6))\n";

TEST(gan_genotype_python_form_matches_the_reference) {
    static const char *const names[2] = {"alphaGAN_l", "alphaGAN_s"};
    ng_gan_genotype want, got, r;
    ng_rng rng;
    char *text = NULL;
    size_t n = 0;
    int k;
    for (k = 0; k < 2; k++) {
        const char *line = strstr(ref_genotypes_py, names[k]), *end = line ? strchr(line, '\n') : NULL;
        CHECK_OK(ng_gan_genotype_builtin(names[k], &want));
        CHECK_OK(ng_gan_genotype_to_python(&want, names[k], &text, &n));
        /* byte for byte the reference's line */
        CHECK_MSG(text && end && n == (size_t)(end - line) && memcmp(text, line, n) == 0, "%s: '%s'", names[k], text ? text : "");
        free(text);
        text = NULL;
        memset(&got, 0, sizeof got);
        CHECK_OK(ng_gan_genotype_parse_python(ref_genotypes_py, strlen(ref_genotypes_py), "genotypes.py", names[k], &got));
        CHECK(ng_gan_genotype_eq(&got, &want));
    }
    CHECK_OK(ng_gan_genotype_parse_python(ref_logged, strlen(ref_logged), "search.log", NULL, &got));
    CHECK_OK(ng_gan_genotype_builtin("alphaGAN_l", &want));
    CHECK(ng_gan_genotype_eq(&got, &want));
    /* round trip of random genotypes, also with double quotes and odd spacing */
    ng_rng_seed(&rng, 5);
    for (k = 0; k < 20; k++) {
        size_t i;
        ng_gan_genotype_random(&r, &rng);
        CHECK_OK(ng_gan_genotype_to_python(&r, NULL, &text, &n));
        if (!text) continue;
        for (i = 0; k % 2 && i < n; i++)
            if (text[i] == '\'') text[i] = '"';
        CHECK_OK(ng_gan_genotype_parse_python(text, n, "random", NULL, &got));
        CHECK(ng_gan_genotype_eq(&got, &r));
        free(text);
        text = NULL;
    }
}

TEST(gan_genotype_python_form_refusals) {
    static const struct { const char *from, *to, *what; } edits[] = {
        {"('conv_5x5', 1)", "('conv_5x5', 2)", "bad 'normal'"},          /* indices out of order */
        {"('deconv', 0), ('bilinear', 1)]", "('deconv', 0)]", "bad 'up'"},  /* a missing pair */
        {"('nearest', 0)]", "('conv_3x3', 0)]", "bad 'skip_2'"},         /* a normal op on an up edge */
        {"skip_3=", "skip_4=", "unknown field"},
        {", skip_2=[('nearest', 0)]", "", "lacks skip_2"},
        {"'2': [('conv_5x5', 0)", "'1': [('conv_5x5', 0)", "bad 'normal'"},   /* a cell twice */
    };
    const char *line = strstr(ref_genotypes_py, "alphaGAN_l = ");
    size_t len = (size_t)(strchr(line, '\n') - line), e, cut;
    ng_gan_genotype g, before;
    char buf[2048];
    CHECK_OK(ng_gan_genotype_builtin("alphaGAN_s", &before));
    for (e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        const char *at;
        size_t pre;
        memcpy(buf, line, len);
        buf[len] = '\0';
        at = strstr(buf, edits[e].from);
        if (!at) { CHECK_MSG(0, "edit %zu does not apply", e); continue; }
        pre = (size_t)(at - buf);
        memmove(buf + pre + strlen(edits[e].to), at + strlen(edits[e].from), len - pre - strlen(edits[e].from) + 1);
        memcpy(buf + pre, edits[e].to, strlen(edits[e].to));
        g = before;
        CHECK_MSG(ng_gan_genotype_parse_python(buf, strlen(buf), "edited.py", NULL, &g) == NG_ERR_FORMAT, "edit %zu accepted", e);
        CHECK_MSG(strstr(ng_last_error(), "edited.py") && strstr(ng_last_error(), edits[e].what), "edit %zu: '%s'", e, ng_last_error());
        CHECK(ng_gan_genotype_eq(&g, &before));   /* unchanged on failure */
    }
    for (cut = 0; cut < len; cut++)   /* every truncation is refused */
        CHECK_MSG(ng_gan_genotype_parse_python(line, cut, "cut.py", NULL, &g) == NG_ERR_FORMAT, "cut at %zu accepted", cut);
    CHECK(ng_gan_genotype_parse_python(ref_genotypes_py, strlen(ref_genotypes_py), "genotypes.py", NULL, &g) == NG_ERR_FORMAT &&
          strstr(ng_last_error(), "more than one"));
    CHECK(ng_gan_genotype_parse_python(ref_genotypes_py, strlen(ref_genotypes_py), "genotypes.py", "alphaGAN_m", &g) == NG_ERR_FORMAT &&
          strstr(ng_last_error(), "no 'alphaGAN_m = Genotype_gen"));
}
