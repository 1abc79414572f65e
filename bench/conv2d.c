/* Convolution kernels of the alphaGAN search at batch 64, against bench/ref/conv2d.py.
   Usage: bench_conv2d --list | CASE. Runs one case: 3 warm-up runs, then the best of N;
   prints "BENCH key=CASE ms=... peak_mb=... gflops=..." (gflops: 2 x multiply-adds of the
   convolution, x3 with backward, over the best time). Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int transposed, backward, bias;
    int64_t N, C, H, W, O, k;
    int stride, pad, groups, iters;
} bench_case;

static const bench_case cases[] = {
    {"conv3x3_fwd", 0, 0, 1, 64, 64, 32, 32, 64, 3, 1, 1, 1, 15},
    {"conv3x3_fwd_bwd", 0, 1, 1, 64, 64, 32, 32, 64, 3, 1, 1, 1, 10},
    {"dwconv5x5_fwd_bwd", 0, 1, 0, 64, 64, 32, 32, 64, 5, 1, 2, 64, 15},
    {"deconv2x2_fwd_bwd", 1, 1, 1, 64, 64, 16, 16, 64, 2, 2, 0, 1, 15},
    /* alphaGAN cell width: 256 channels */
    {"conv3x3_c256_b16_fwd_bwd", 0, 1, 1, 16, 256, 16, 16, 256, 3, 1, 1, 1, 8},
    {"conv1x1_c256_b16_fwd_bwd", 0, 1, 1, 16, 256, 32, 32, 256, 1, 1, 0, 1, 8},
};

static double run_case(const bench_case *bc) {
    ng_params *p = ng_params_create("w", 1);
    ng_tensor *w = bc->transposed ? ng_params_add(p, "w", ng_shape4(bc->C, bc->O / bc->groups, bc->k, bc->k))
                                  : ng_params_add(p, "w", ng_shape4(bc->O, bc->C / bc->groups, bc->k, bc->k));
    ng_tensor *b = bc->bias ? ng_params_add(p, "b", ng_shape1(bc->O)) : NULL;
    ng_ctx *ctx = ng_ctx_create((size_t)1 << 30, 1);
    float *xv = (float *)malloc((size_t)(bc->N * bc->C * bc->H * bc->W) * sizeof(float)), *gv = NULL;
    double best = 1e30;
    int64_t i, ny = 0;
    int it;
    ng_rng r;
    if (!p || !w || !ctx || !xv || ng_params_alloc(p) != NG_OK) { fprintf(stderr, "setup failed: %s\n", ng_last_error()); exit(1); }
    ng_rng_seed(&r, 1);
    for (i = 0; i < p->numel; i++) p->data[i] = ng_rng_uniformf(&r, -0.1f, 0.1f);
    for (i = 0; i < bc->N * bc->C * bc->H * bc->W; i++) xv[i] = ng_rng_uniformf(&r, -1.0f, 1.0f);
    for (it = 0; it < bc->iters + 3; it++) {
        double t0, dt;
        ng_tensor *x, *y;
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &p, 1);
        ng_params_zero_grad(p);
        x = ng_tensor_from(ctx, ng_shape4(bc->N, bc->C, bc->H, bc->W), xv);
        if (bc->backward) ng_tensor_requires_grad(x);
        if (bc->backward && !gv) {
            /* upstream gradient of the output's size, made once */
            ny = bc->transposed ? bc->N * bc->O * ((bc->H - 1) * bc->stride - 2 * bc->pad + bc->k) * ((bc->W - 1) * bc->stride - 2 * bc->pad + bc->k)
                                : bc->N * bc->O * ((bc->H + 2 * bc->pad - bc->k) / bc->stride + 1) * ((bc->W + 2 * bc->pad - bc->k) / bc->stride + 1);
            gv = (float *)malloc((size_t)ny * sizeof(float));
            for (i = 0; i < ny; i++) gv[i] = ng_rng_uniformf(&r, -1.0f, 1.0f);
        }
        t0 = ng_time_sec();
        y = bc->transposed ? ng_conv_transpose2d(ctx, x, w, b, bc->stride, bc->pad, 0, bc->groups)
                           : ng_conv2d(ctx, x, w, b, bc->stride, bc->pad, bc->groups);
        if (!y || (bc->backward && (y->numel != ny || ng_backward_from(ctx, y, gv) != NG_OK))) {
            fprintf(stderr, "step failed: %s\n", ng_last_error());
            exit(1);
        }
        dt = ng_time_sec() - t0;
        if (it >= 3 && dt < best) best = dt;
    }
    free(xv); free(gv);
    ng_ctx_free(ctx);
    ng_params_free(p);
    return best * 1e3;
}

int main(int argc, char **argv) {
    size_t i;
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) puts(cases[i].name);
        return 0;
    }
    for (i = 0; argc > 1 && i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(argv[1], cases[i].name)) {
            const bench_case *c = &cases[i];
            double ms = run_case(c);
            /* multiply-adds of one pass: each input pixel of the smaller side meets (C/g) k^2 weights per output channel */
            double small = c->transposed ? (double)c->N * c->H * c->W * c->C * (c->O / c->groups)
                                         : (double)c->N * c->O * ((c->H + 2 * c->pad - c->k) / c->stride + 1) *
                                               ((c->W + 2 * c->pad - c->k) / c->stride + 1) * (c->C / c->groups);
            double flop = 2.0 * small * c->k * c->k * (c->backward ? 3.0 : 1.0);
            printf("BENCH key=%s ms=%.3f peak_mb=%.1f gflops=%.1f\n", argv[1], ms, (double)ng_peak_rss_bytes() / 1048576.0,
                   flop / (ms * 1e6));
            return 0;
        }
    fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
    return 2;
}
