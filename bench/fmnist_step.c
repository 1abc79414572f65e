/* One training step (forward, backward, Adam) of the Fashion-MNIST CNN at batch 128, the
   same network as bench/ref/fmnist_step.py. Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <string.h>

static double run_case(int64_t batch, int iters) {
    ng_rng r;
    ng_fmnist_cnn *net;
    ng_ctx *ctx = ng_ctx_create((size_t)512 << 20, 1);
    ng_adam opt;
    float *pixels = (float *)malloc((size_t)batch * 784 * sizeof(float));
    int32_t *labels = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
    double best = 1e30;
    int64_t i;
    int it;
    ng_rng_seed(&r, 1);
    net = ng_fmnist_cnn_create(&r);
    if (!net || !ctx || ng_adam_init(&opt, net->weights, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f) != NG_OK) {
        fprintf(stderr, "setup failed: %s\n", ng_last_error());
        exit(1);
    }
    for (i = 0; i < batch * 784; i++) pixels[i] = ng_rng_uniformf(&r, -1.0f, 1.0f);
    for (i = 0; i < batch; i++) labels[i] = (int32_t)ng_rng_below(&r, 10);
    for (it = 0; it < iters + 3; it++) {
        double t0 = ng_time_sec(), dt;
        ng_tensor *loss;
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &net->weights, 1);
        loss = ng_cross_entropy(ctx, ng_fmnist_cnn_forward(ctx, net, ng_tensor_from(ctx, ng_shape4(batch, 1, 28, 28), pixels), NULL), labels);
        if (!loss || ng_backward(ctx, loss) != NG_OK) { fprintf(stderr, "step failed: %s\n", ng_last_error()); exit(1); }
        ng_adam_step(&opt);
        ng_params_zero_grad(net->weights);
        dt = ng_time_sec() - t0;
        if (it >= 3 && dt < best) best = dt;
    }
    ng_adam_free(&opt);
    ng_fmnist_cnn_free(net);
    ng_ctx_free(ctx);
    free(pixels); free(labels);
    return best * 1e3;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--list")) { puts("fmnist_train_step_b128"); return 0; }
    if (argc < 2 || strcmp(argv[1], "fmnist_train_step_b128")) { fprintf(stderr, "usage: %s --list | CASE\n", argv[0]); return 2; }
    {
        double ms = run_case(128, 10);
        printf("BENCH key=%s ms=%.3f peak_mb=%.1f\n", argv[1], ms, (double)ng_peak_rss_bytes() / 1048576.0);
    }
    return 0;
}
