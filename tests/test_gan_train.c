/* Retraining of a fixed generator (ng_gan_trainer_*) and sampling (ng_gan_generate*). */
#include "test.h"

typedef struct {
    ng_gan_config cfg;
    ng_gan_gen_fixed *G;
    ng_gan_disc *D;
    ng_ctx *ctx;
    ng_gan_trainer t;
} tiny_gan;

/* Real images: a fixed smooth pattern, the same every call (keeps the data out of the state). */
static ng_tensor *pattern_batch(ng_ctx *c, void *user, int split, int batch) {
    const ng_gan_config *cfg = (const ng_gan_config *)user;
    int s = 8 * cfg->bottom_width;
    ng_tensor *x = ng_tensor_new(c, ng_shape4(batch, cfg->channels, s, s));
    int64_t i;
    (void)split;
    if (x) for (i = 0; i < x->numel; i++) x->data[i] = (float)sin(0.37 * (double)i);
    return x;
}

static void tiny_gan_make(tiny_gan *g, uint64_t seed) {
    ng_gan_train_config tc;
    ng_gan_genotype geno = ng_gan_genotype_alphagan_s();
    ng_rng r;
    memset(g, 0, sizeof *g);
    ng_gan_config_preset(&g->cfg, "fashion_mnist");
    g->cfg.gf_dim = 8; g->cfg.df_dim = 8; g->cfg.latent_dim = 6; g->cfg.bottom_width = 1;
    ng_rng_seed(&r, seed);
    g->G = ng_gan_gen_fixed_create(&g->cfg, &geno, NULL, NG_GAN_INIT_XAVIER, &r);
    g->D = ng_gan_disc_create(&g->cfg, NULL, NG_GAN_INIT_XAVIER, &r);
    g->ctx = ng_ctx_create(32u << 20, seed);
    ng_gan_train_preset("fashion_mnist", &tc);
    tc.d_batch = 3; tc.g_batch = 4; tc.latent_dim = g->cfg.latent_dim;
    CHECK(g->G && g->D && g->ctx);
    CHECK_OK(ng_gan_trainer_init(&g->t, &tc, ng_gan_net_fixed(g->G), ng_gan_net_disc(g->D), g->ctx, seed + 1,
                                 pattern_batch, &g->cfg));
}

static void tiny_gan_free(tiny_gan *g) {
    ng_gan_trainer_free(&g->t);
    ng_gan_gen_fixed_free(g->G);
    ng_gan_disc_free(g->D);
    ng_ctx_free(g->ctx);
}

static int params_equal(const ng_params *a, const ng_params *b) {
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0;
}

TEST(gan_train_presets) {
    ng_gan_train_config c;
    CHECK_OK(ng_gan_train_preset("cifar10", &c));
    CHECK(c.d_batch == 64 && c.g_batch == 128 && c.n_critic == 5 && c.beta1 == 0.0f && c.beta2 == 0.9f);
    CHECK(c.lr_g == 2e-4f && c.lr_d == 2e-4f && c.ema_decay == 0.999f && c.max_g_steps == 50000);
    CHECK_OK(ng_gan_train_preset("stl10", &c));
    CHECK(c.beta1 == 0.5f && c.beta2 == 0.9f && c.max_g_steps == 80000);
    CHECK(ng_gan_train_preset("mnist", &c) == NG_ERR_ARG && strstr(ng_last_error(), "mnist"));
}

/* G steps at D steps 0, 5, 10 (n_critic 5, step 0 included); EMA = d avg + (1 - d) w after each. */
TEST(gan_train_schedule_and_ema) {
    tiny_gan g;
    float *before, *shadow;
    int64_t i, n;
    tiny_gan_make(&g, 3);
    n = g.G->weights->numel;
    before = (float *)malloc((size_t)n * sizeof(float));
    shadow = (float *)malloc((size_t)n * sizeof(float));
    memcpy(before, g.G->weights->data, (size_t)n * sizeof(float));
    CHECK(memcmp(g.t.ema.shadow, before, (size_t)n * sizeof(float)) == 0);   /* EMA starts as a copy */
    CHECK_OK(ng_gan_trainer_step(&g.t));
    CHECK(g.t.d_steps == 1 && g.t.g_steps == 1);
    CHECK(memcmp(before, g.G->weights->data, (size_t)n * sizeof(float)) != 0);   /* G stepped */
    for (i = 0; i < n; i++) {    /* one update from the initial copy: 0.999 w0 + 0.001 w1, in float */
        float expect = 0.999f * before[i] + (1.0f - 0.999f) * g.G->weights->data[i];
        CHECK_CLOSE(g.t.ema.shadow[i], expect, 1e-7, 1e-6);
    }
    memcpy(shadow, g.t.ema.shadow, (size_t)n * sizeof(float));
    for (i = 1; i < 5; i++) CHECK_OK(ng_gan_trainer_step(&g.t));   /* D steps 1..4: no G step */
    CHECK(g.t.d_steps == 5 && g.t.g_steps == 1);
    CHECK(memcmp(shadow, g.t.ema.shadow, (size_t)n * sizeof(float)) == 0);
    for (i = 5; i < 11; i++) CHECK_OK(ng_gan_trainer_step(&g.t));
    CHECK(g.t.d_steps == 11 && g.t.g_steps == 3);
    CHECK(isfinite(g.t.d_loss) && isfinite(g.t.g_loss));
    free(before); free(shadow);
    tiny_gan_free(&g);
}

/* Save after 4 steps, continue 6 more; a fresh trainer restored from the file ends identical. */
TEST(gan_train_resume_bit_identical) {
    tiny_gan a, b;
    ng_ckpt *ck = ng_ckpt_new(), *back = NULL;
    char path[1024];
    int i;
    snprintf(path, sizeof path, "%s/gan_train_resume.ckpt", ng_test_tmpdir());
    tiny_gan_make(&a, 7);
    for (i = 0; i < 4; i++) CHECK_OK(ng_gan_trainer_step(&a.t));
    CHECK_OK(ng_gan_trainer_put(ck, &a.t));
    CHECK_OK(ng_ckpt_save(ck, path));
    for (i = 0; i < 6; i++) CHECK_OK(ng_gan_trainer_step(&a.t));
    tiny_gan_make(&b, 99);   /* different initial weights and RNGs: everything must come from the file */
    CHECK_OK(ng_ckpt_load(path, &back));
    CHECK_OK(ng_gan_trainer_get(back, &b.t));
    CHECK(b.t.d_steps == 4);
    for (i = 0; i < 6; i++) CHECK_OK(ng_gan_trainer_step(&b.t));
    CHECK(params_equal(a.G->weights, b.G->weights) && params_equal(a.D->weights, b.D->weights));
    CHECK(params_equal(a.G->buffers, b.G->buffers) && params_equal(a.D->buffers, b.D->buffers));
    CHECK(memcmp(a.t.ema.shadow, b.t.ema.shadow, (size_t)a.G->weights->numel * sizeof(float)) == 0);
    CHECK(a.t.d_steps == b.t.d_steps && a.t.g_steps == b.t.g_steps && a.t.d_loss == b.t.d_loss);
    ng_ckpt_free(ck); ng_ckpt_free(back);
    tiny_gan_free(&a); tiny_gan_free(&b);
}

/* A state of another architecture is refused and the target left usable. */
TEST(gan_train_resume_refuses_other_net) {
    tiny_gan a, b;
    ng_ckpt *ck = ng_ckpt_new();
    ng_gan_genotype l = ng_gan_genotype_alphagan_l();
    ng_rng r;
    tiny_gan_make(&a, 1);
    CHECK_OK(ng_gan_trainer_put(ck, &a.t));
    tiny_gan_make(&b, 2);
    ng_gan_trainer_free(&b.t);
    ng_gan_gen_fixed_free(b.G);
    ng_rng_seed(&r, 4);
    b.G = ng_gan_gen_fixed_create(&b.cfg, &l, NULL, NG_GAN_INIT_XAVIER, &r);
    CHECK_OK(ng_gan_trainer_init(&b.t, &a.t.cfg, ng_gan_net_fixed(b.G), ng_gan_net_disc(b.D), b.ctx, 5, pattern_batch, &b.cfg));
    CHECK(ng_gan_trainer_get(ck, &b.t) == NG_ERR_MISMATCH);
    CHECK(strlen(ng_last_error()) > 0);
    ng_ckpt_free(ck);
    tiny_gan_free(&a); tiny_gan_free(&b);
}

/* Same seed, same images (any batch size); uint8 = truncation of clamp(127.5 x + 127.5). */
TEST(gan_generate_deterministic_and_quantised) {
    tiny_gan g;
    unsigned char *u8 = NULL, *u8b = NULL;
    float *f1, *f2;
    int c, h, w, c2, h2, w2;
    int64_t i, n = 7, per;
    tiny_gan_make(&g, 11);
    CHECK_OK(ng_gan_generate_u8(ng_gan_net_fixed(g.G), g.cfg.latent_dim, n, 3, 42, &u8, &c, &h, &w));
    CHECK(c == 1 && h == 8 && w == 8);
    CHECK_OK(ng_gan_generate_u8(ng_gan_net_fixed(g.G), g.cfg.latent_dim, n, 5, 42, &u8b, &c2, &h2, &w2));
    per = (int64_t)c * h * w;
    CHECK(u8 && u8b && memcmp(u8, u8b, (size_t)(n * per)) == 0);
    f1 = (float *)malloc((size_t)(n * per) * sizeof(float));
    f2 = (float *)malloc((size_t)(n * per) * sizeof(float));
    CHECK_OK(ng_gan_generate(ng_gan_net_fixed(g.G), g.cfg.latent_dim, n, 2, 42, f1, n * per));
    CHECK_OK(ng_gan_generate(ng_gan_net_fixed(g.G), g.cfg.latent_dim, n, 7, 43, f2, n * per));
    CHECK(memcmp(f1, f2, (size_t)(n * per) * sizeof(float)) != 0);   /* another seed, other images */
    for (i = 0; i < n * per; i++) {
        float v = 127.5f * f1[i] + 127.5f;
        CHECK(f1[i] >= -1.0f && f1[i] <= 1.0f);
        CHECK(u8[i] == (unsigned char)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v));
    }
    CHECK(ng_gan_generate(ng_gan_net_fixed(g.G), g.cfg.latent_dim, n, 2, 42, f1, n * per - 1) == NG_ERR_ARG);
    free(u8); free(u8b); free(f1); free(f2);
    tiny_gan_free(&g);
}

/* D pools by the mean over H x W by default, by the sum (the reference code) with pool_sum:
   l5 is linear without bias, so the scores differ by exactly the factor H W (eval mode). */
TEST(gan_disc_pool_mean_or_sum) {
    tiny_gan g;
    ng_tensor *x, *mean_score, *sum_score;
    int i;
    tiny_gan_make(&g, 5);
    ng_ctx_reset(g.ctx);
    ng_ctx_set_training(g.ctx, 0);
    x = pattern_batch(g.ctx, &g.cfg, 0, 3);
    mean_score = ng_gan_disc_forward(g.ctx, g.D, x);
    g.D->pool_sum = 1;
    sum_score = ng_gan_disc_forward(g.ctx, g.D, x);
    CHECK(mean_score && sum_score);
    for (i = 0; i < 3; i++) CHECK_CLOSE(sum_score->data[i], 4.0 * mean_score->data[i], 1e-6, 1e-5);  /* 2 x 2 */
    tiny_gan_free(&g);
}

/* ---- the image sampler ---- */
static void make_set(ng_image_set *s, int64_t n) {
    int64_t i;
    memset(s, 0, sizeof *s);
    s->n = n; s->c = 1; s->h = 2; s->w = 2;
    s->pixels = (unsigned char *)malloc((size_t)n * 4);
    for (i = 0; i < n * 4; i++) s->pixels[i] = (unsigned char)(i / 4);   /* image i is filled with i */
}
/* image index of each row of a batch (pixels hold the index, x = i / 127.5 - 1) */
static int64_t row_index(const ng_tensor *x, int r) { return (int64_t)floor((x->data[r * 4] + 1.0f) * 127.5f + 0.5f); }

/* Split 0 draws from [0, split_at), split 1 from [split_at, n); each pass is a permutation. */
TEST(image_sampler_splits_and_passes) {
    ng_image_set set;
    ng_image_sampler s;
    ng_ctx *ctx = ng_ctx_create(1u << 20, 1);
    int seen0[10], seen1[10], b, r;
    make_set(&set, 17);
    CHECK_OK(ng_image_sampler_init(&s, &set, 10, NG_IMAGE_NORM_PM1, 3));
    memset(seen0, 0, sizeof seen0);
    memset(seen1, 0, sizeof seen1);
    for (b = 0; b < 2; b++) {   /* 2 batches of 5 = one pass over split 0 */
        ng_tensor *x = ng_image_sampler_batch(ctx, &s, 0, 5);
        CHECK(x && x->shape.d[0] == 5 && x->shape.d[1] == 1 && x->shape.d[2] == 2);
        for (r = 0; r < 5; r++) {
            int64_t i = row_index(x, r);
            CHECK(i >= 0 && i < 10);
            if (i >= 0 && i < 10) seen0[i]++;
        }
    }
    for (r = 0; r < 10; r++) CHECK(seen0[r] == 1);
    {   /* split 1: 7 images; a batch of 7 is one full pass */
        ng_tensor *x = ng_image_sampler_batch(ctx, &s, 1, 7);
        CHECK(x != NULL);
        for (r = 0; x && r < 7; r++) {
            int64_t i = row_index(x, r);
            CHECK(i >= 10 && i < 17);
            if (i >= 10 && i < 17) seen1[i - 10]++;
        }
        for (r = 0; r < 7; r++) CHECK(seen1[r] == 1);
    }
    ng_image_sampler_free(&s);
    CHECK(ng_image_sampler_init(&s, &set, 18, NG_IMAGE_NORM_PM1, 3) == NG_ERR_ARG);   /* refused, s zeroed */
    CHECK(s.perm[0] == NULL);
    ng_image_set_free(&set);
    ng_ctx_free(ctx);
}

/* The saved state continues the same batch sequence; another data size is refused. */
TEST(image_sampler_state_round_trip) {
    ng_image_set set, other;
    ng_image_sampler a, b, c;
    ng_ctx *ctx = ng_ctx_create(1u << 20, 1);
    ng_ckpt *ck = ng_ckpt_new();
    int k;
    make_set(&set, 23);
    make_set(&other, 24);
    CHECK_OK(ng_image_sampler_init(&a, &set, 11, NG_IMAGE_NORM_PM1, 5));
    CHECK_OK(ng_image_sampler_init(&b, &set, 11, NG_IMAGE_NORM_PM1, 99));
    CHECK_OK(ng_image_sampler_init(&c, &other, 12, NG_IMAGE_NORM_PM1, 5));
    for (k = 0; k < 3; k++) CHECK(ng_image_sampler_batch(ctx, &a, k % 2, 4) != NULL);
    CHECK_OK(ng_image_sampler_put(ck, "data", &a));
    CHECK_OK(ng_image_sampler_get(ck, "data", &b));
    for (k = 0; k < 9; k++) {   /* crosses reshuffles of both splits */
        ng_tensor *x, *y;
        int r;
        ng_ctx_reset(ctx);
        x = ng_image_sampler_batch(ctx, &a, k % 2, 5);
        y = ng_image_sampler_batch(ctx, &b, k % 2, 5);
        CHECK(x && y);
        for (r = 0; x && y && r < 5; r++) CHECK(row_index(x, r) == row_index(y, r));
    }
    CHECK(ng_image_sampler_get(ck, "data", &c) == NG_ERR_MISMATCH);
    CHECK(ng_image_sampler_get(ck, "absent", &b) == NG_ERR_MISMATCH);
    ng_image_sampler_free(&a); ng_image_sampler_free(&b); ng_image_sampler_free(&c);
    ng_image_set_free(&set); ng_image_set_free(&other);
    ng_ckpt_free(ck);
    ng_ctx_free(ctx);
}

TEST(gan_dataset_load_errors) {
    ng_image_set s;
    CHECK(ng_gan_dataset_load("imagenet", NULL, &s) == NG_ERR_ARG && strstr(ng_last_error(), "imagenet"));
    CHECK(ng_gan_dataset_load("cifar10", NULL, &s) == NG_ERR_ARG && strstr(ng_last_error(), "directory"));
    CHECK(ng_gan_dataset_load("cifar10", "/nonexistent/dir", &s) != NG_OK && strstr(ng_last_error(), "/nonexistent/dir"));
    CHECK(ng_gan_dataset_load("fashion_mnist", "/nonexistent/fm", &s) != NG_OK && strstr(ng_last_error(), "/nonexistent/fm"));
    CHECK(s.pixels == NULL && s.n == 0);
}
