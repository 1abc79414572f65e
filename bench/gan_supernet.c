/* The alphaGAN generator supernet (CIFAR-10 shapes, 32x32x3): one forward + backward into the
   weights and alpha, with the plain normal edges (6 candidates, 3 separate convolutions) and
   with the fused ones (conv 1x1/3x3/5x5 as one 5x5 convolution with the softmax-weighted
   kernel); and the architecture step's backward into alpha only. Prints
     BENCH key=CASE ms=<best> peak_mb=<peak RSS> gflops=<forward+backward GFLOP/s> arena_mb=<peak arena>
   Run: build/bench_gan_supernet --list | build/bench_gan_supernet CASE.
   There is no PyTorch twin yet, so bench/run.sh skips it (run it directly).
   GFLOP counts 2 per multiply-add; forward + backward = 3x the forward's convolution work (the
   backward of a weight-and-input gradient costs two forwards), the same count for both paths
   (the PLAIN supernet's work), so a faster fused run shows as more GFLOP/s. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <string.h>

typedef struct { const char *key; int gf, batch, fuse, alpha_only, iters; } bench_case;
static const bench_case cases[] = {
    {"gan_search_fb_gf64_b8_plain", 64, 8, 0, 0, 5},
    {"gan_search_fb_gf64_b8_fused", 64, 8, 1, 0, 5},
    {"gan_search_fb_gf256_b2_plain", 256, 2, 0, 0, 2},
    {"gan_search_fb_gf256_b2_fused", 256, 2, 1, 0, 2},
    {"gan_search_alpha_gf256_b2_plain", 256, 2, 0, 1, 2},
    {"gan_search_alpha_gf256_b2_fused", 256, 2, 1, 1, 2},
};

/* multiply-adds of one plain supernet forward per sample (alphagan.md 1.7: 11.4 G at 256) */
static double forward_macs(const ng_gan_config *c) {
    double C = c->gf_dim, macs = (double)c->latent_dim * c->bottom_width * c->bottom_width * C, per_px;
    int cell;
    per_px = C * C * (1 + 9 + 25) + 2.0 * (C * (9 + 25 + 49) + 3 * C * C);   /* one normal edge, per output pixel */
    for (cell = 0; cell < 3; cell++) {
        double hin = c->bottom_width << cell, pin = hin * hin;
        macs += 3 * per_px * 4 * pin;          /* 3 normal edges at 2H x 2W */
        macs += 2 * C * C * 4 * pin;           /* 2 up deconvs */
        /* skips: cell1.node1 has cell 2's input size, cell2.node1 cell 3's */
        if (cell == 1) macs += C * C * 4 * pin;                              /* skip_2 (x2) */
        if (cell == 2) macs += C * C * 4 * (pin / 4 + pin) + C * C * 4 * pin; /* skip_3: x4 (twice), x2 */
    }
    macs += C * c->channels * 9 * 64.0 * c->bottom_width * c->bottom_width;
    return macs;
}

static void run(const bench_case *bc) {
    ng_gan_config cfg;
    ng_rng r;
    ng_gan_gen_search *G;
    ng_ctx *ctx = ng_ctx_create((size_t)6 << 30, 1);
    float *z = (float *)malloc((size_t)bc->batch * 128 * sizeof(float));
    double best = 1e30, flops;
    size_t arena_peak = 0;
    int it;
    ng_gan_config_preset(&cfg, "cifar10");
    cfg.gf_dim = bc->gf;
    ng_rng_seed(&r, 1);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    if (!G || !ctx || !z) { fprintf(stderr, "setup failed: %s\n", ng_last_error()); exit(1); }
    G->fuse = bc->fuse;
    for (it = 0; it < 128 * bc->batch; it++) z[it] = (float)ng_rng_normal(&r);
    for (it = 0; it < bc->iters + 1; it++) {
        ng_params *groups[2];
        ng_tensor *y, *loss;
        double t0 = ng_time_sec(), dt;
        groups[0] = G->alpha;
        groups[1] = G->weights;
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, groups, bc->alpha_only ? 1 : 2);
        y = ng_gan_gen_search_forward(ctx, G, ng_tensor_from(ctx, ng_shape2(bc->batch, 128), z));
        loss = ng_mean(ctx, ng_mul(ctx, y, y), NG_ALL_AXES, 0);
        if (!loss || ng_backward(ctx, loss) != NG_OK) { fprintf(stderr, "step failed: %s\n", ng_last_error()); exit(1); }
        ng_params_zero_grad(G->weights);
        ng_params_zero_grad(G->alpha);
        dt = ng_time_sec() - t0;
        if (ctx->arena.peak > arena_peak) arena_peak = ctx->arena.peak;
        if (it >= 1 && dt < best) best = dt;
        fprintf(stderr, "%s: iteration %d %.3f s\n", bc->key, it, dt);
    }
    flops = 2.0 * 3.0 * forward_macs(&cfg) * bc->batch;
    printf("BENCH key=%s ms=%.1f peak_mb=%.1f gflops=%.1f arena_mb=%.1f fwd_gmac_per_sample=%.2f\n", bc->key, best * 1e3,
           (double)ng_peak_rss_bytes() / 1048576.0, flops / best * 1e-9, (double)arena_peak / 1048576.0,
           forward_macs(&cfg) * 1e-9);
    ng_gan_gen_search_free(G);
    ng_ctx_free(ctx);
    free(z);
}

int main(int argc, char **argv) {
    size_t i;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) printf("%s\n", cases[i].key);
        return 0;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (argc < 2 || strcmp(argv[1], cases[i].key) == 0) run(&cases[i]);
    return 0;
}
