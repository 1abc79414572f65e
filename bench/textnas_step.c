/* One TextNAS retraining step of the published 24-layer architecture (textnas.md 5.3) at the
   retraining settings (section 4: H 256, E 300, max length 64, batch 128, dropout 0.2, Adam eps
   1e-3, weight decay 1e-6, no clipping), against bench/ref/textnas_step.py.
   Usage: bench_textnas_step --list | CASE. Prints "BENCH key=CASE ms=<best step> peak_mb=<peak RSS>".
     textnas_step_pub   forward + backward + Adam (embedding included), training mode
   The batch is synthetic and the same on both sides: vocabulary 20,000, 5 classes, lengths
   5 + (37 i + 11) mod 60 (spread over 5..64), ids and labels from fixed formulas. 1 warm-up
   step (first-touch of the arena and the Adam state), then the best of 3 (the step is seconds
   long; the machine is shared). Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>

enum { V = 20000, C = 5, N = 128, LEN = 64, WARMUP = 1, ITERS = 3 };

/* Shared with textnas_step.py: the batch is a pure function of the example and position. */
static void make_batch(int32_t *ids, int32_t *lens, int32_t *labels) {
    int i, t;
    for (i = 0; i < N; i++) {
        lens[i] = 5 + (37 * i + 11) % 60;
        labels[i] = i % C;
        for (t = 0; t < LEN; t++) ids[i * LEN + t] = t < lens[i] ? 2 + (131 * i + 17 * t + 7) % (V - 2) : 0;
    }
}

int main(int argc, char **argv) {
    static int32_t ids[N * LEN], lens[N], labels[N];
    ng_textnas_hp hp;
    ng_textnas_arch arch;
    ng_textnas_net net;
    ng_textnas_child child;
    ng_text_batch b;
    ng_ctx *ctx;
    double best = 1e30;
    int it;
    if (argc > 1 && !strcmp(argv[1], "--list")) { puts("textnas_step_pub"); return 0; }
    if (argc < 2 || strcmp(argv[1], "textnas_step_pub")) { fprintf(stderr, "usage: %s --list | CASE\n", argv[0]); return 2; }
    make_batch(ids, lens, labels);
    b.ids = ids;
    b.lengths = lens;
    b.labels = labels;
    b.n = N;
    b.len = LEN;
    ng_textnas_arch_published(&arch);
    ng_textnas_hp_default(&hp, V, C);  /* H 256, E 300, dropout 0.2, BN after every layer */
    /* the arena is reserved, not touched: RSS counts only what the step uses */
    ctx = ng_ctx_create((size_t)8 << 30, 3);
    if (!ctx || ng_textnas_net_init(&net, &hp, &arch, 1) != NG_OK ||
        ng_textnas_child_init(&child, &net, 2e-3f, 1e-3f, 1e-6f, 0.0f) != NG_OK) {
        fprintf(stderr, "setup failed: %s\n", ng_last_error());
        return 1;
    }
    for (it = 0; it < WARMUP + ITERS; it++) {
        double t0 = ng_time_sec(), dt;
        if (ng_textnas_child_step(&child, ctx, NULL, NULL, &b) != NG_OK) { fprintf(stderr, "step failed: %s\n", ng_last_error()); return 1; }
        dt = ng_time_sec() - t0;
        fprintf(stderr, "step %d: %.1f ms, loss %.4f\n", it, dt * 1e3, child.loss);
        if (it >= WARMUP && dt < best) best = dt;
    }
    fprintf(stderr, "arena peak %.1f MB, %lld weights + %lld embedding\n", (double)ctx->arena.peak / 1048576.0,
            (long long)net.weights->numel, (long long)net.embed->numel);
    printf("BENCH key=%s ms=%.3f peak_mb=%.1f\n", argv[1], best * 1e3, (double)ng_peak_rss_bytes() / 1048576.0);
    ng_textnas_child_free(&child);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
    return 0;
}
