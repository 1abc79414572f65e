/* GPU step benchmarks for bench/gpu_check.sh (built by `make cuda` as build/bench_gpu_steps;
   kept out of the bench directory top level so the CPU `make bench` never needs CUDA).

     build/bench_gpu_steps [--device cuda|cpu] [--width GF (256)] [--iters N] [--arena-gb G (64)] [CASE...]     (--list: the cases)

   Cases (alphaGAN supernet at width 256, batch 64, 32x32 CIFAR-10 shapes, hinge loss):
     alphagan_D   discriminator step: D(real) and D(G(z)) forward, backward into D's weights
     alphagan_G   generator step: D(G(z)) forward, backward into G's weights
     alphagan_arch architecture step: backward into alpha only
     textnas      TextNAS step (H 256, L 64, batch 128): the TextNAS supernet is not in the
                  library yet (src/textnas.h holds the architecture type only): reported as n/a
   Each prints one line
     BENCH key=CASE device=D ms=<best step> peak_gpu_mb=<peak device memory in use> status=ok
   or, when the step cannot run on the device (an op without a CUDA kernel, no device),
     BENCH key=CASE device=D status=unsupported reason="<the library's message>"
   Timing: best of --iters steps after one warm-up, with a device synchronisation at the end
   of each step. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <string.h>

static const char *cases[] = {"alphagan_D", "alphagan_G", "alphagan_arch", "textnas"};

static void report_fail(const char *key, const char *dev, const char *why) {
    char buf[1100];
    size_t i;
    snprintf(buf, sizeof buf, "%.1024s", why);
    for (i = 0; buf[i]; i++) if (buf[i] == '"') buf[i] = '\'';
    printf("BENCH key=%s device=%s status=unsupported reason=\"%s\"\n", key, dev, buf);
    fflush(stdout);
}

static int move_all(ng_params **gs, int n, ng_device dev) {
    int i;
    for (i = 0; i < n; i++)
        if (gs[i] && ng_params_to_device(gs[i], dev) != NG_OK) return -1;
    return 0;
}

static int g_width = 256; /* --width: the generator's width (gf_dim) */
static size_t arena_gb = 64; /* the supernet at batch 64 keeps every activation and gradient of the step */

static void run_alphagan(const char *key, ng_device dev, int iters) {
    const char *dname = dev == NG_CUDA ? "cuda" : "cpu";
    const int B = 64;
    ng_gan_config cfg;
    ng_rng r;
    ng_gan_gen_search *G;
    ng_gan_disc *D;
    ng_ctx *ctx;
    ng_params *groups[5];
    float *z, *x;
    double best = 1e30;
    int it, i, mode = strcmp(key, "alphagan_D") == 0 ? 0 : strcmp(key, "alphagan_G") == 0 ? 1 : 2;
    ng_gan_config_preset(&cfg, "cifar10");
    cfg.gf_dim = g_width;
    /* D keeps the preset's width (alphaGAN's search uses df_dim 128 with gf_dim 256) */
    ng_rng_seed(&r, 1);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    D = ng_gan_disc_create(&cfg, "D", NG_GAN_INIT_XAVIER, &r);
    ctx = ng_ctx_create_on(arena_gb << 30, 1, dev);
    z = (float *)malloc((size_t)B * cfg.latent_dim * sizeof(float));
    x = (float *)malloc((size_t)B * 3 * 32 * 32 * sizeof(float));
    if (!G || !D || !ctx || !z || !x) { report_fail(key, dname, ng_last_error()); goto out; }
    for (i = 0; i < B * cfg.latent_dim; i++) z[i] = (float)ng_rng_normal(&r);
    for (i = 0; i < B * 3 * 32 * 32; i++) x[i] = ng_rng_uniformf(&r, -1, 1);
    groups[0] = G->weights; groups[1] = G->buffers; groups[2] = G->alpha; groups[3] = D->weights; groups[4] = D->buffers;
    if (move_all(groups, 5, dev)) { report_fail(key, dname, ng_last_error()); goto out; }
    for (it = 0; it < iters + 1; it++) {
        ng_params *train[1];
        ng_tensor *fake, *loss;
        double t0 = ng_time_sec(), dt;
        ng_ctx_reset(ctx);
        train[0] = mode == 0 ? D->weights : mode == 1 ? G->weights : G->alpha;
        ng_ctx_grad_for(ctx, train, 1);
        fake = ng_gan_gen_search_forward(ctx, G, ng_tensor_from(ctx, ng_shape2(B, cfg.latent_dim), z));
        if (mode == 0)
            loss = ng_hinge_loss_d(ctx, ng_gan_disc_forward(ctx, D, ng_tensor_from(ctx, ng_shape4(B, 3, 32, 32), x)),
                                   ng_gan_disc_forward(ctx, D, fake));
        else
            loss = ng_hinge_loss_g(ctx, ng_gan_disc_forward(ctx, D, fake));
        if (!loss || ng_backward(ctx, loss) != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        ng_params_zero_grad(train[0]);
        if (dev == NG_CUDA && ng_cuda_synchronize() != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        dt = ng_time_sec() - t0;
        if (it >= 1 && dt < best) best = dt;
    }
    printf("BENCH key=%s device=%s ms=%.2f peak_gpu_mb=%.0f status=ok\n", key, dname, best * 1e3,
           (double)ng_cuda_peak_bytes() / 1048576.0);
out:
    fflush(stdout);
    if (G) ng_gan_gen_search_free(G);
    if (D) ng_gan_disc_free(D);
    ng_ctx_free(ctx);
    free(z);
    free(x);
}

int main(int argc, char **argv) {
    ng_device dev = NG_CUDA;
    int iters = 5, a, ran = 0, n_sel = 0;
    const char *sel[16];
    size_t i;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            for (i = 0; i < sizeof cases / sizeof cases[0]; i++) printf("%s\n", cases[i]);
            return 0;
        } else if (strcmp(argv[a], "--device") == 0 && a + 1 < argc) {
            dev = strcmp(argv[++a], "cpu") == 0 ? NG_CPU : NG_CUDA;
        } else if (strcmp(argv[a], "--width") == 0 && a + 1 < argc) {
            g_width = atoi(argv[++a]);
            if (g_width < 1 || g_width > 4096) { fprintf(stderr, "bench_gpu_steps: --width 1..4096\n"); return 2; }
        } else if (strcmp(argv[a], "--iters") == 0 && a + 1 < argc) {
            iters = atoi(argv[++a]);
            if (iters < 1 || iters > 1000) { fprintf(stderr, "bench_gpu_steps: --iters must be 1..1000\n"); return 2; }
        } else if (strcmp(argv[a], "--arena-gb") == 0 && a + 1 < argc) {
            int g = atoi(argv[++a]);
            if (g < 1 || g > 120) { fprintf(stderr, "bench_gpu_steps: --arena-gb must be 1..120\n"); return 2; }
            arena_gb = (size_t)g;
        } else if (argv[a][0] == '-') {
            fprintf(stderr, "bench_gpu_steps: unknown option %s\n", argv[a]);
            return 2;
        } else if (n_sel < 16) {
            sel[n_sel++] = argv[a];
        }
    }
    if (dev == NG_CUDA && ng_cuda_init(0) != NG_OK) {
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) report_fail(cases[i], "cuda", ng_last_error());
        return 0;
    }
    if (dev == NG_CUDA) fprintf(stderr, "bench_gpu_steps: %s\n", ng_cuda_device_info());
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int want = n_sel == 0;
        for (a = 0; a < n_sel; a++) if (strcmp(sel[a], cases[i]) == 0) want = 1;
        if (!want) continue;
        ran++;
        if (strcmp(cases[i], "textnas") == 0)
            report_fail(cases[i], dev == NG_CUDA ? "cuda" : "cpu", "the TextNAS supernet step is not in the library yet (src/textnas.h: architecture type only)");
        else
            run_alphagan(cases[i], dev, iters);
    }
    return ran ? 0 : 2;
}
