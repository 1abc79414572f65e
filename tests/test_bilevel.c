/* The alternating search on toy nets: what each step may touch, the gradient path of the
   duality gap, and bit-for-bit resume. */
#include "test.h"

/* Toy G: z (N,4) -> linear (N,6) -> mixed{relu, tanh, identity} (alpha (1,3)) -> linear (N,5).
   Toy D: x (N,5) -> linear (N,7) -> leaky relu -> linear (N,1). */
typedef struct toy { ng_params *w, *alpha; ng_tensor *w1, *b1, *w2, *a; int is_g; } toy;

static ng_tensor *toy_forward(ng_ctx *c, void *p, ng_tensor *x) {
    toy *t = (toy *)p;
    ng_tensor *h = ng_linear(c, x, t->w1, t->b1);
    if (t->is_g) {
        ng_tensor *cand[3];
        cand[0] = ng_relu(c, h); cand[1] = ng_tanh(c, h); cand[2] = h;
        h = ng_mixed(c, t->a, 0, cand, 3);
    } else {
        h = ng_leaky_relu(c, h, 0.2f);
    }
    return ng_linear(c, h, t->w2, NULL);
}

static void toy_make(toy *t, int is_g, ng_rng *r) {
    int64_t in = is_g ? 4 : 5, hid = is_g ? 6 : 7, out = is_g ? 5 : 1;
    memset(t, 0, sizeof *t);
    t->is_g = is_g;
    t->w = ng_params_create(is_g ? "toy_g" : "toy_d", 1);
    t->w1 = ng_params_add(t->w, "w1", ng_shape2(hid, in));
    t->b1 = ng_params_add(t->w, "b1", ng_shape1(hid));
    t->w2 = ng_params_add(t->w, "w2", ng_shape2(out, hid));
    CHECK_OK(ng_params_alloc(t->w));
    ng_init_kaiming_uniform_default(t->w1, r); ng_init_bias_default(t->b1, t->w1, r);
    ng_init_kaiming_uniform_default(t->w2, r);
    if (is_g) {
        t->alpha = ng_params_create("toy_alpha", 1);
        t->a = ng_params_add(t->alpha, "alpha", ng_shape2(1, 3));
        CHECK_OK(ng_params_alloc(t->alpha));
        ng_init_normal(t->a, 0.0f, 0.5f, r);
    }
}
static void toy_free(toy *t) { ng_params_free(t->w); ng_params_free(t->alpha); }
static ng_gan_net toy_net(toy *t) {
    ng_gan_net n;
    memset(&n, 0, sizeof n);
    n.net = t; n.weights = t->w; n.alpha = t->alpha; n.forward = toy_forward;
    return n;
}

/* real data: a fixed pattern plus noise from a counter-seeded RNG */
typedef struct toy_data { ng_rng r; } toy_data;
static ng_tensor *toy_real(ng_ctx *c, void *u, int split, int batch) {
    toy_data *d = (toy_data *)u;
    ng_tensor *x = ng_tensor_new(c, ng_shape2(batch, 5));
    int64_t i;
    if (x) for (i = 0; i < x->numel; i++) x->data[i] = 0.5f * (float)(i % 5) - 1.0f + (split ? 0.1f : 0.0f) + 0.2f * (float)ng_rng_normal(&d->r);
    return x;
}

typedef struct world { toy g, d, gw, dw; toy_data data; ng_ctx *ctx; ng_bilevel b; } world;

static void world_make(world *w, uint64_t seed) {
    ng_rng r;
    ng_bilevel_config cfg;
    ng_rng_seed(&r, seed);
    toy_make(&w->g, 1, &r); toy_make(&w->d, 0, &r); toy_make(&w->gw, 1, &r); toy_make(&w->dw, 0, &r);
    ng_rng_seed(&w->data.r, seed + 1);
    w->ctx = ng_ctx_create(4 << 20, seed);
    CHECK(ng_bilevel_preset("quick", &cfg) == 0);
    cfg.batch = 8; cfg.latent_dim = 4; cfg.inner_steps = 3; cfg.worst_steps = 2; cfg.arch_steps = 3;
    cfg.lr_alpha = 1e-2f;
    CHECK_OK(ng_bilevel_init(&w->b, &cfg, toy_net(&w->g), toy_net(&w->d), toy_net(&w->gw), toy_net(&w->dw), w->ctx, seed,
                             toy_real, &w->data, 100));
}
static void world_free(world *w) {
    ng_bilevel_free(&w->b);
    toy_free(&w->g); toy_free(&w->d); toy_free(&w->gw); toy_free(&w->dw);
    ng_ctx_free(w->ctx);
}

static float *snap(const ng_params *p) {
    float *s = (float *)malloc((size_t)p->numel * sizeof(float));
    memcpy(s, p->data, (size_t)p->numel * sizeof(float));
    return s;
}
static int same(const ng_params *p, const float *s) { return memcmp(p->data, s, (size_t)p->numel * sizeof(float)) == 0; }

TEST(bilevel_steps_touch_only_their_group) {
    world w;
    float *g0, *d0, *a0, *gw0, *dw0;
    world_make(&w, 11);
    CHECK_OK(ng_bilevel_find_worst(&w.b));
    g0 = snap(w.g.w); d0 = snap(w.d.w); a0 = snap(w.g.alpha); gw0 = snap(w.gw.w); dw0 = snap(w.dw.w);
    CHECK_OK(ng_bilevel_arch_step(&w.b));
    CHECK(same(w.g.w, g0) && same(w.d.w, d0) && same(w.gw.w, gw0) && same(w.dw.w, dw0));
    CHECK(!same(w.g.alpha, a0));
    free(a0); a0 = snap(w.g.alpha);
    CHECK_OK(ng_bilevel_d_step(&w.b));
    CHECK(same(w.g.alpha, a0) && same(w.g.w, g0) && !same(w.d.w, d0));
    free(d0); d0 = snap(w.d.w);
    CHECK_OK(ng_bilevel_g_step(&w.b));
    CHECK(same(w.g.alpha, a0) && same(w.d.w, d0) && !same(w.g.w, g0));
    free(g0); free(d0); free(a0); free(gw0); free(dw0);
    world_free(&w);
}

TEST(bilevel_gap_gradient_flows_only_through_minmax) {
    world w;
    ng_rng lat, dat;
    float ga[3], num[3];
    int k;
    world_make(&w, 12);
    CHECK_OK(ng_bilevel_find_worst(&w.b));
    CHECK(w.gw.alpha->data != w.g.alpha->data); /* G_worst holds its own alpha */
    lat = w.b.rng; dat = w.data.r;
    CHECK_OK(ng_bilevel_gap_grad(&w.b));
    for (k = 0; k < 3; k++) ga[k] = w.g.alpha->grad[k];
    CHECK(w.gw.alpha->grad[0] == 0 && w.gw.alpha->grad[1] == 0 && w.gw.alpha->grad[2] == 0);
    /* numeric derivative of the minmax term alone, replaying the same batch and latents */
    for (k = 0; k < 3; k++) {
        double f[2];
        int sgn;
        for (sgn = 0; sgn < 2; sgn++) {
            float a0 = w.g.alpha->data[k];
            ng_tensor *real, *z;
            int64_t i;
            w.g.alpha->data[k] = a0 + (sgn ? -1e-3f : 1e-3f);
            w.b.rng = lat; w.data.r = dat;
            ng_ctx_reset(w.ctx);
            ng_ctx_grad_for(w.ctx, NULL, 0);
            real = toy_real(w.ctx, &w.data, 1, 8);
            z = ng_tensor_new(w.ctx, ng_shape2(8, 4));
            for (i = 0; i < z->numel; i++) z->data[i] = (float)ng_rng_normal(&w.b.rng);
            f[sgn] = -ng_hinge_loss_d(w.ctx, toy_forward(w.ctx, &w.dw, real),
                                      toy_forward(w.ctx, &w.dw, toy_forward(w.ctx, &w.g, z)))->data[0];
            w.g.alpha->data[k] = a0;
        }
        num[k] = (float)((f[0] - f[1]) / 2e-3);
        CHECK_CLOSE(ga[k], num[k], 2e-3, 2e-2);
    }
    CHECK(fabsf(ga[0]) + fabsf(ga[1]) + fabsf(ga[2]) > 1e-5f);
    CHECK(isfinite(w.b.last.gap) && w.b.last.gap == w.b.last.minmax - w.b.last.maxmin);
    world_free(&w);
}

TEST(bilevel_resume_is_bit_identical) {
    world a, b;
    ng_ckpt *ck = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/bilevel.ckpt", ng_test_tmpdir());
    world_make(&a, 13);
    world_make(&b, 99); /* different init: everything must come from the checkpoint */
    CHECK_OK(ng_bilevel_epoch(&a.b, NULL, NULL));
    ck = ng_ckpt_new();
    CHECK_OK(ng_bilevel_put(ck, &a.b));
    CHECK_OK(ng_ckpt_save(ck, path));
    ng_ckpt_free(ck);
    ck = NULL;
    CHECK_OK(ng_ckpt_load(path, &ck));
    CHECK_OK(ng_bilevel_get(ck, &b.b));
    ng_ckpt_free(ck);
    b.data.r = a.data.r; /* the data source's state belongs to the caller's checkpoint */
    CHECK_OK(ng_bilevel_epoch(&a.b, NULL, NULL));
    CHECK_OK(ng_bilevel_epoch(&b.b, NULL, NULL));
    CHECK(a.b.epoch == 2 && b.b.epoch == 2 && a.b.global_step == b.b.global_step);
    CHECK(memcmp(a.g.w->data, b.g.w->data, (size_t)a.g.w->numel * 4) == 0);
    CHECK(memcmp(a.d.w->data, b.d.w->data, (size_t)a.d.w->numel * 4) == 0);
    CHECK(memcmp(a.g.alpha->data, b.g.alpha->data, (size_t)a.g.alpha->numel * 4) == 0);
    CHECK(a.b.last.gap == b.b.last.gap);
    world_free(&a);
    world_free(&b);
}

TEST(bilevel_presets_match_the_paper) {
    ng_bilevel_config s, l, q;
    CHECK(ng_bilevel_preset("paper-s", &s) == 0 && ng_bilevel_preset("paper-l", &l) == 0 && ng_bilevel_preset("quick", &q) == 0);
    CHECK(s.inner_steps == 20 && s.worst_steps == 20 && l.inner_steps == 390 && l.worst_steps == 390);
    CHECK(s.arch_steps == 20 && s.epochs == 99 && s.batch == 64 && s.n_critic == 5);
    CHECK(s.lr_alpha == 3e-4f && s.alpha_beta1 == 0.5f && s.alpha_beta2 == 0.999f && s.alpha_weight_decay == 1e-3f);
    CHECK(s.beta1 == 0.0f && s.beta2 == 0.9f && !s.g_lr_rising_cosine);
    CHECK(q.batch == 32 && q.inner_steps == 10 && q.arch_steps == 10 && q.epochs == 10 && q.lr_alpha == 5e-3f);
    CHECK(ng_bilevel_preset("nope", &q) == -1);
}

/* The progress callback sees every step of every phase, and ng_bilevel_epoch_plan predicts them. */
typedef struct phase_counts { int64_t d, g, dw, gw, alpha, other; } phase_counts;
static void count_phase(const ng_bilevel *b, const char *phase, int64_t step, int64_t total, void *user) {
    phase_counts *c = (phase_counts *)user;
    (void)b; (void)step; (void)total;
    if (!strcmp(phase, "D")) c->d++;
    else if (!strcmp(phase, "G")) c->g++;
    else if (!strcmp(phase, "D_worst")) c->dw++;
    else if (!strcmp(phase, "G_worst")) c->gw++;
    else if (!strcmp(phase, "alpha")) c->alpha++;
    else c->other++;
}
TEST(bilevel_progress_matches_plan) {
    world w;
    int epoch;
    world_make(&w, 21);
    for (epoch = 0; epoch < 3; epoch++) {   /* 5 D steps per epoch (global 0-4, 5-9, 10-14): one G step each */
        phase_counts c;
        int64_t d, g, wst, a;
        memset(&c, 0, sizeof c);
        ng_bilevel_epoch_plan(&w.b, &d, &g, &wst, &a);
        CHECK(d == 5 && wst == 4 && a == 3);
        CHECK_OK(ng_bilevel_epoch(&w.b, count_phase, &c));
        CHECK(c.d == d && c.g == g && c.dw == wst && c.gw == wst && c.alpha == a && c.other == 0);
        CHECK(g == 1);
    }
    world_free(&w);
}
