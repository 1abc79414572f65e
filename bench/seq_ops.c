/* TextNAS's two recurrent-width ops alone, forward + backward, against bench/ref/seq_ops.py.
   Usage: bench_seq_ops --list | CASE. Runs one case: 2 warm-up iterations, then the best of
   10; prints "BENCH key=CASE ms=... peak_mb=...". Loss = sum(y^2), the gradient reaching the
   input and every weight. Cases (batch 128; lengths 5 + (37 i + 11) mod 60 in a 64-wide batch,
   as bench/textnas_step.c, or 1 + (37 i + 11) mod 32 for the "short" ones):
     bigru_h256         one BiGRU layer (two ng_seq_gru directions, summed), H 256, L 64
     bigru_h256_short   the same with lengths 1..32 in the 64-wide batch (short texts)
     attention_h256     4-head masked self-attention (q = k = v = x), H 256, L 64, dropout 0.1
     attention_h64_l32  the same at H 64, L 32 (the quick search's shape; lengths 1..32)
   Protocol: see bench/run.sh. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>

typedef struct seq_case { const char *name; int gru, L, H, short_lengths; } seq_case;
static const seq_case CASES[] = {
    {"bigru_h256", 1, 64, 256, 0},
    {"bigru_h256_short", 1, 64, 256, 1},
    {"attention_h256", 0, 64, 256, 0},
    {"attention_h64_l32", 0, 32, 64, 1},
};
enum { N = 128, ITERS = 10, WARMUP = 2 };

static double run_case(const seq_case *k) {
    ng_ctx *ctx = ng_ctx_create((size_t)2 << 30, 1);
    ng_params *w = ng_params_create("seq", 1);
    ng_tensor *wt[8];
    int32_t lens[N];
    ng_rng r;
    double best = 1e30;
    int64_t H = k->H, i, d;
    int it;
    static const char *names[8] = {"w_ih_f", "w_hh_f", "b_ih_f", "b_hh_f", "w_ih_b", "w_hh_b", "b_ih_b", "b_hh_b"};
    for (i = 0; i < N; i++) lens[i] = k->short_lengths ? 1 + (int32_t)((37 * i + 11) % 32) : 5 + (int32_t)((37 * i + 11) % 60);
    for (d = 0; k->gru && d < 2; d++) {   /* nn.GRU's shapes */
        wt[4 * d] = ng_params_add(w, names[4 * d], ng_shape2(3 * H, H));
        wt[4 * d + 1] = ng_params_add(w, names[4 * d + 1], ng_shape2(3 * H, H));
        wt[4 * d + 2] = ng_params_add(w, names[4 * d + 2], ng_shape1(3 * H));
        wt[4 * d + 3] = ng_params_add(w, names[4 * d + 3], ng_shape1(3 * H));
    }
    if (!ctx || (k->gru && ng_params_alloc(w) != NG_OK)) { fprintf(stderr, "setup failed: %s\n", ng_last_error()); exit(1); }
    ng_rng_seed(&r, 3);
    for (i = 0; k->gru && i < 8; i++) ng_init_uniform(wt[i], -1.0f / sqrtf((float)H), 1.0f / sqrtf((float)H), &r);
    for (it = 0; it < ITERS + WARMUP; it++) {
        ng_tensor *x, *m, *y;
        double t0, dt;
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, k->gru ? &w : NULL, k->gru ? 1 : 0);
        x = ng_tensor_new(ctx, ng_shape3(N, k->L, H));
        m = ng_seq_mask_from_lengths(ctx, lens, N, k->L);
        if (!x || !m) { fprintf(stderr, "setup failed: %s\n", ng_last_error()); exit(1); }
        for (i = 0; i < x->numel; i++) x->data[i] = (float)ng_rng_normal(&r);
        ng_tensor_requires_grad(x);
        t0 = ng_time_sec();
        y = k->gru ? ng_add(ctx, ng_seq_gru(ctx, x, m, wt[0], wt[1], wt[2], wt[3], 0), ng_seq_gru(ctx, x, m, wt[4], wt[5], wt[6], wt[7], 1))
                   : ng_seq_attention(ctx, x, x, x, m, 4, 0.1f);
        if (ng_backward(ctx, ng_sum(ctx, ng_mul(ctx, y, y), NG_ALL_AXES, 0)) != NG_OK) { fprintf(stderr, "step failed: %s\n", ng_last_error()); exit(1); }
        dt = ng_time_sec() - t0;
        if (!x->grad) { fprintf(stderr, "no gradient reached the input\n"); exit(1); }
        if (it >= WARMUP && dt < best) best = dt;
    }
    fprintf(stderr, "%s: arena peak %.1f MB\n", k->name, (double)ctx->arena.peak / 1048576.0);
    ng_params_free(w);
    ng_ctx_free(ctx);
    return best * 1e3;
}

int main(int argc, char **argv) {
    size_t c;
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (c = 0; c < sizeof CASES / sizeof CASES[0]; c++) puts(CASES[c].name);
        return 0;
    }
    for (c = 0; argc > 1 && c < sizeof CASES / sizeof CASES[0]; c++)
        if (!strcmp(argv[1], CASES[c].name)) {
            double ms = run_case(&CASES[c]);
            printf("BENCH key=%s ms=%.3f peak_mb=%.1f\n", CASES[c].name, ms, (double)ng_peak_rss_bytes() / 1048576.0);
            return 0;
        }
    fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
    return 2;
}
