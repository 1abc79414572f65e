/* alphaGAN's search steps on the supernet (CIFAR-10 shapes: batch 64, 32x32x3, latent 128),
   timed through nasgan's real step functions, against bench/ref/gan_steps.py:
     d_step_gfW     ng_bilevel_d_step: hinge D loss on 64 real images (a fixed random tensor)
                    and 64 fakes G(z) (G without tape), backward into D, Adam(2e-4, 0, 0.9) on D
     g_step_gfW     ng_bilevel_g_step: -mean D(G(z)) backward into G's weights, Adam on G
     arch_step_gfW  ng_bilevel_arch_step: the duality gap V(G, D_worst) - V(G_worst, D) (two z
                    draws, one real batch; G_worst has its own alpha copy), backward into G's
                    alpha only, Adam(3e-4, 0.5, 0.999, wd 1e-3) on alpha
   W = the generator width gf_dim (32 or 64); the discriminator has the spec's width df 128.
   G_worst / D_worst are clones of G / D (the arch step only reads them).
   Usage: bench_gan_steps --list | CASE | --params CASE.
   A case: 2 warm-up steps, then the best of N; prints
     BENCH key=CASE ms=<best> peak_mb=<peak RSS MiB> arena_mb=<peak step arena MiB>
   --params prints the parameter counts (G weights, G alpha, D weights), which the PyTorch twin
   prints too, so both sides are checked to build the same networks.
   NG_BENCH_ITERS overrides N. Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>

typedef struct { const char *key; int step, gf, iters; } bench_case; /* step: 0 D, 1 G, 2 arch */
static const bench_case cases[] = {
    {"d_step_gf32", 0, 32, 5},    {"g_step_gf32", 1, 32, 4}, {"arch_step_gf32", 2, 32, 4},
    {"d_step_gf64", 0, 64, 4},    {"g_step_gf64", 1, 64, 3}, {"arch_step_gf64", 2, 64, 3},
};

#define BATCH 64

static ng_tensor *g_fwd(ng_ctx *ctx, void *net, ng_tensor *z) {
    return ng_gan_gen_search_forward(ctx, (const ng_gan_gen_search *)net, z);
}
static ng_tensor *d_fwd(ng_ctx *ctx, void *net, ng_tensor *x) {
    return ng_gan_disc_forward(ctx, (const ng_gan_disc *)net, x);
}
static ng_gan_net g_net(ng_gan_gen_search *G) {
    ng_gan_net n;
    memset(&n, 0, sizeof n);
    n.net = G; n.weights = G->weights; n.buffers = G->buffers; n.alpha = G->alpha; n.forward = g_fwd;
    return n;
}
static ng_gan_net d_net(ng_gan_disc *D) {
    ng_gan_net n;
    memset(&n, 0, sizeof n);
    n.net = D; n.weights = D->weights; n.buffers = D->buffers; n.forward = d_fwd;
    return n;
}

/* the "real" batch: one fixed random tensor (both splits) copied into the step arena */
static float *real_data;
static ng_tensor *real_batch(ng_ctx *ctx, void *user, int split, int batch) {
    ng_gan_config *cfg = (ng_gan_config *)user;
    int64_t hw = (int64_t)cfg->bottom_width * 8;
    (void)split;
    return ng_tensor_from(ctx, ng_shape4(batch, cfg->channels, hw, hw), real_data);
}

static const bench_case *find(const char *key) {
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(key, cases[i].key)) return &cases[i];
    return NULL;
}

static void die(const char *what) {
    fprintf(stderr, "bench_gan_steps: %s: %s\n", what, ng_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    const bench_case *bc;
    ng_gan_config cfg;
    ng_bilevel_config bcfg;
    ng_gan_gen_search *G, *Gw;
    ng_gan_disc *D, *Dw;
    ng_bilevel bl;
    ng_ctx *ctx;
    ng_rng r;
    size_t arena_peak = 0;
    double best = 1e30;
    int64_t i, n_img;
    int it, iters, params_only = 0;
    const char *env;
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (i = 0; i < (int64_t)(sizeof cases / sizeof cases[0]); i++) puts(cases[i].key);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "--params")) { params_only = 1; argv++; argc--; }
    if (argc < 2 || !(bc = find(argv[1]))) {
        fprintf(stderr, "usage: %s --list | CASE | --params CASE\n", argv[0]);
        return 2;
    }
    ng_gan_config_preset(&cfg, "cifar10");
    cfg.gf_dim = bc->gf;
    cfg.df_dim = 128;
    ng_rng_seed(&r, 1);
    G = ng_gan_gen_search_create(&cfg, "G", &r);
    D = ng_gan_disc_create(&cfg, "D", NG_GAN_INIT_PYTORCH, &r);
    if (!G || !D) die("setup");
    if (params_only) {
        printf("PARAMS key=%s g_weights=%lld g_alpha=%lld g_buffers=%lld d_weights=%lld\n", bc->key,
               (long long)G->weights->numel, (long long)G->alpha->numel, (long long)G->buffers->numel,
               (long long)D->weights->numel);
        return 0;
    }
    Gw = ng_gan_gen_search_clone(G, "G_worst");
    Dw = ng_gan_disc_create(&cfg, "D_worst", NG_GAN_INIT_PYTORCH, &r);
    if (!Gw || !Dw || ng_gan_disc_copy(Dw, D) != NG_OK) die("setup of the worst-case nets");
    n_img = (int64_t)BATCH * cfg.channels * 64 * cfg.bottom_width * cfg.bottom_width;
    real_data = (float *)malloc((size_t)n_img * sizeof(float));
    if (!real_data) die("real batch");
    for (i = 0; i < n_img; i++) real_data[i] = ng_rng_uniformf(&r, -1.0f, 1.0f);
    ctx = ng_ctx_create((size_t)12 << 30, 1);
    if (!ctx) die("context");
    if (ng_bilevel_preset("paper-s", &bcfg) != 0) die("preset");
    bcfg.batch = BATCH;
    if (ng_bilevel_init(&bl, &bcfg, g_net(G), d_net(D), g_net(Gw), d_net(Dw), ctx, 2, real_batch, &cfg, 391) != NG_OK)
        die("bilevel init");
    iters = bc->iters;
    if ((env = getenv("NG_BENCH_ITERS")) && atoi(env) > 0) iters = atoi(env);
    for (it = 0; it < iters + 2; it++) {
        double t0 = ng_time_sec(), dt;
        ng_status s = bc->step == 0 ? ng_bilevel_d_step(&bl) : bc->step == 1 ? ng_bilevel_g_step(&bl) : ng_bilevel_arch_step(&bl);
        dt = ng_time_sec() - t0;
        if (s != NG_OK) die(bc->key);
        if (ctx->arena.peak > arena_peak) arena_peak = ctx->arena.peak;
        fprintf(stderr, "%s: step %d %.3f s (losses d %.4f g %.4f gap %.4f)\n", bc->key, it, dt, bl.last.d_loss,
                bl.last.g_loss, bl.last.gap);
        if (it >= 2 && dt < best) best = dt;
    }
    printf("BENCH key=%s ms=%.1f peak_mb=%.1f arena_mb=%.1f\n", bc->key, best * 1e3,
           (double)ng_peak_rss_bytes() / 1048576.0, (double)arena_peak / 1048576.0);
    ng_bilevel_free(&bl);
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(G); ng_gan_gen_search_free(Gw);
    ng_gan_disc_free(D); ng_gan_disc_free(Dw);
    free(real_data);
    return 0;
}
