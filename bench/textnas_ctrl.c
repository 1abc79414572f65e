/* The TextNAS controller (src/textnas_ctrl.h) at the spec's settings, against
   bench/ref/textnas_ctrl.py. Usage: bench_textnas_ctrl --list | CASE. Runs one case: 5 warm-up
   iterations, then the best of N; prints "BENCH key=CASE ms=... peak_mb=...". Cases:
     ctrl_step_24l    one controller step: sample 24 layers with gradient, dummy reward,
                      baseline, loss, backward, clip 5, Adam (lstm 64)
     ctrl_sample_24l  one no-gradient sample (the child-training path)
   Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>

static double dummy_reward(const ng_textnas_arch *a, void *user) {
    int i, n = 0;
    (void)user;
    for (i = 0; i < a->n_layers; i++) n += a->op[i] == 3;
    return (double)n / a->n_layers;
}

static double run_case(int step, int iters) {
    ng_textnas_ctrl c;
    ng_ctx *ctx = ng_ctx_create((size_t)8 << 20, 1);
    ng_rng r;
    ng_textnas_arch a;
    double best = 1e30;
    int it;
    if (!ctx || ng_textnas_ctrl_init(&c, NULL, 1) != NG_OK) { fprintf(stderr, "setup failed: %s\n", ng_last_error()); exit(1); }
    ng_rng_seed(&r, 2);
    for (it = 0; it < iters + 5; it++) {
        double t0 = ng_time_sec(), dt;
        ng_status s = step ? ng_textnas_ctrl_step(&c, ctx, &r, dummy_reward, NULL, &a) : ng_textnas_ctrl_sample_arch(&c, &r, &a);
        dt = ng_time_sec() - t0;
        if (s != NG_OK) { fprintf(stderr, "step failed: %s\n", ng_last_error()); exit(1); }
        if (it >= 5 && dt < best) best = dt;
    }
    if (step) fprintf(stderr, "arena peak %.2f MB, mean reward of the last step %.3f\n", (double)ctx->arena.peak / 1048576.0, c.last.reward);
    ng_textnas_ctrl_free(&c);
    ng_ctx_free(ctx);
    return best * 1e3;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        puts("ctrl_step_24l");
        puts("ctrl_sample_24l");
        return 0;
    }
    if (argc > 1 && (!strcmp(argv[1], "ctrl_step_24l") || !strcmp(argv[1], "ctrl_sample_24l"))) {
        int step = !strcmp(argv[1], "ctrl_step_24l");
        double ms = run_case(step, step ? 100 : 200);
        printf("BENCH key=%s ms=%.3f peak_mb=%.1f\n", argv[1], ms, (double)ng_peak_rss_bytes() / 1048576.0);
        return 0;
    }
    fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
    return 2;
}
