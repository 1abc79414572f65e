/* CUDA parity tests (`make test-cuda` builds build/test_cuda from this file and
   build/nasgan_cuda.o). A standalone program, deliberately NOT named tests/test_*.c: the CPU
   suite's wildcard would link it without the CUDA backend (its CPU-only side, the refusal
   paths, is covered by tests/test_cuda_glue.c in `make test`).

   For every op with a CUDA kernel: random inputs (odd shapes included), forward and backward
   (random upstream gradient) on the CPU and on the GPU, compared elementwise with
   |gpu - cpu| <= atol + rtol |cpu|. Tolerances (documented per case below):
     elementwise, copies, pooling, activations: atol 1e-6, rtol 1e-6 (same float formulas)
     reductions, softmax, losses:               atol 1e-5, rtol 1e-5 (different summation order)
     cuBLAS products (matmul, linear, conv2d,   atol 1e-4, rtol 1e-4 (FP32, TF32 off; blocking
       conv1d, seq_attention, seq_gru)          differs from the built-in SGEMM)
   Sequence ops take their masks from fixed lengths (pads, empty sequences) built inside the
   case; embedding ids and lengths are fixed arrays; the long GRU case scales its weights so
   the recurrence is not chaotic (rounding differences would otherwise grow over the steps).
   NaN or Inf anywhere is a failure. Sentinel tensors filled with a pattern sit in the device
   arena before the inputs, after the forward and after the backward; any change fails (note:
   the arena pads allocations to 64 bytes, so an overrun smaller than the padding is not seen).
   Then: mixed-device refusal, missing-kernel refusal, Adam/EMA parity, and a bit-for-bit
   determinism check: two identical 20-step training runs of a small conv net (conv2d,
   leaky_relu, avg_pool2, upsample, sum_hw, linear, hinge; Adam on device) must give identical
   parameters; the alphaGAN supernet (width 16, batch 4) D, G and arch steps on CPU and GPU
   (losses and gradient blocks within 1e-3 of the block's largest value); and 20 alphaGAN
   search steps (D, G, arch in turn, Adam on the device) run twice, bit for bit, parameters and
   BN running statistics; and the FID Inception-v3 forward (random weights) on both devices. `make test-cuda-emu` runs this file against an emulated device (see
   NG_PARITY_EMULATE below); `make test-cuda-host-emu` runs it against nasgan_cuda.cu's own
   kernels compiled for the host (tests/cuda_host_emu/). Without a device: prints "test_cuda: no CUDA device: skipped" and exits 0. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>
#include <math.h>

static int failures, checks;
static ng_ctx *cpu, *gpu;

#define MAXIN 6
typedef ng_tensor *(*build_fn)(ng_ctx *ctx, ng_tensor **x);
typedef struct {
    const char *name;
    int n_in;
    ng_shape in[MAXIN];
    build_fn build;
    double atol, rtol;
} op_case;

static float *host_floats(int64_t n) { return (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }
static void fill_random(ng_rng *r, float *p, int64_t n, float lo, float hi) {
    int64_t i;
    for (i = 0; i < n; i++) p[i] = ng_rng_uniformf(r, lo, hi);
}

/* compare; returns number of bad elements (reports the first few) */
static int compare(const char *what, const char *name, const float *gpu_v, const float *cpu_v, int64_t n, double atol, double rtol) {
    int64_t i;
    int bad = 0;
    checks++;
    for (i = 0; i < n; i++) {
        double a = gpu_v[i], b = cpu_v[i];
        if (!isfinite(a) || !isfinite(b) || fabs(a - b) > atol + rtol * fabs(b)) {
            if (bad < 3) fprintf(stderr, "  FAIL %s %s[%lld]: gpu %.9g cpu %.9g\n", name, what, (long long)i, a, b);
            bad++;
        }
    }
    return bad;
}

static ng_tensor *sentinel(ng_ctx *ctx, float *pattern, int64_t n) {
    ng_tensor *t = ng_tensor_new(ctx, ng_shape1(n));
    if (t) ng_tensor_to_device(t, pattern);
    return t;
}
static int sentinel_ok(const ng_tensor *t, const float *pattern, int64_t n) {
    float *h = host_floats(n);
    int ok = t && ng_tensor_to_host(t, h) == NG_OK && memcmp(h, pattern, (size_t)n * sizeof(float)) == 0;
    free(h);
    return ok;
}

static void run_case(const op_case *c, uint64_t seed) {
    ng_rng r;
    float *xin[MAXIN], *seedg = NULL, *h = NULL, pattern[64];
    ng_tensor *xc[MAXIN], *xg[MAXIN], *yc, *yg, *s1, *s2, *s3;
    int k, bad = 0;
    int64_t j;
    ng_rng_seed(&r, seed);
    for (j = 0; j < 64; j++) pattern[j] = (float)(1234.5 + (double)j);
    ng_ctx_reset(cpu);
    ng_ctx_reset(gpu);
    s1 = sentinel(gpu, pattern, 64);
    for (k = 0; k < c->n_in; k++) {
        int64_t n = ng_shape_numel(c->in[k]);
        xin[k] = host_floats(n);
        fill_random(&r, xin[k], n, -2.0f, 2.0f);
        xc[k] = ng_tensor_from(cpu, c->in[k], xin[k]);
        xg[k] = ng_tensor_from(gpu, c->in[k], xin[k]);
        ng_tensor_requires_grad(xc[k]);
        ng_tensor_requires_grad(xg[k]);
    }
    yc = c->build(cpu, xc);
    yg = c->build(gpu, xg);
    if (!yc || !yg) {
        fprintf(stderr, "  FAIL %s: forward returned NULL (cpu %p gpu %p): %s\n", c->name, (void *)yc, (void *)yg, ng_last_error());
        failures++;
        goto done;
    }
    s2 = sentinel(gpu, pattern, 64);
    h = host_floats(yg->numel);
    ng_tensor_to_host(yg, h);
    bad += compare("forward", c->name, h, yc->data, yc->numel, c->atol, c->rtol);
    seedg = host_floats(yc->numel);
    fill_random(&r, seedg, yc->numel, -1.0f, 1.0f);
    if (ng_backward_from(cpu, yc, seedg) != NG_OK || ng_backward_from(gpu, yg, seedg) != NG_OK) {
        fprintf(stderr, "  FAIL %s: backward: %s\n", c->name, ng_last_error());
        failures++;
        goto done;
    }
    s3 = sentinel(gpu, pattern, 64);
    if (ng_cuda_synchronize() != NG_OK) { fprintf(stderr, "  FAIL %s: %s\n", c->name, ng_last_error()); failures++; goto done; }
    for (k = 0; k < c->n_in; k++) {
        float *gh;
        char what[32];
        if (!xc[k]->grad || !xg[k]->grad) {
            if (!!xc[k]->grad != !!xg[k]->grad) { fprintf(stderr, "  FAIL %s: grad of input %d exists on one side only\n", c->name, k); bad++; }
            continue;
        }
        gh = host_floats(xg[k]->numel);
        if (ng_cuda_get_hooks()->memcpy_d2h(gh, xg[k]->grad, (size_t)xg[k]->numel * sizeof(float))) bad++;
        snprintf(what, sizeof what, "grad%d", k);
        bad += compare(what, c->name, gh, xc[k]->grad, xc[k]->numel, c->atol * 4, c->rtol * 4);
        free(gh);
    }
    if (!sentinel_ok(s1, pattern, 64) || !sentinel_ok(s2, pattern, 64) || !sentinel_ok(s3, pattern, 64)) {
        fprintf(stderr, "  FAIL %s: a sentinel in the device arena was overwritten\n", c->name);
        bad++;
    }
    if (bad) failures++;
    printf("%s %s\n", bad ? "FAIL" : "PASS", c->name);
done:
    for (k = 0; k < c->n_in; k++) free(xin[k]);
    free(seedg);
    free(h);
}

/* ---- the cases ---- */
static int32_t ce_labels[64];
static float bce_target[3 * 5 * 7];
static ng_tensor *b_matmul(ng_ctx *c, ng_tensor **x) { return ng_matmul(c, x[0], x[1]); }
static ng_tensor *b_linear(ng_ctx *c, ng_tensor **x) { return ng_linear(c, x[0], x[1], x[2]); }
static ng_tensor *b_linear_nb(ng_ctx *c, ng_tensor **x) { return ng_linear(c, x[0], x[1], NULL); }
static ng_tensor *b_add(ng_ctx *c, ng_tensor **x) { return ng_add(c, x[0], x[1]); }
static ng_tensor *b_sub(ng_ctx *c, ng_tensor **x) { return ng_sub(c, x[0], x[1]); }
static ng_tensor *b_mul(ng_ctx *c, ng_tensor **x) { return ng_mul(c, x[0], x[1]); }
static ng_tensor *b_scale(ng_ctx *c, ng_tensor **x) { return ng_scale(c, x[0], -1.75f); }
static ng_tensor *b_add_scalar(ng_ctx *c, ng_tensor **x) { return ng_add_scalar(c, x[0], 0.3f); }
static ng_tensor *b_sum13(ng_ctx *c, ng_tensor **x) { return ng_sum(c, x[0], 0x5u, 0); }
static ng_tensor *b_mean2k(ng_ctx *c, ng_tensor **x) { return ng_mean(c, x[0], 0x4u, 1); }
static ng_tensor *b_mean_chw(ng_ctx *c, ng_tensor **x) { return ng_mean(c, x[0], 0xEu, 0); }
static ng_tensor *b_sum_all(ng_ctx *c, ng_tensor **x) { return ng_sum(c, x[0], 0xFu, 0); }
static ng_tensor *b_reshape(ng_ctx *c, ng_tensor **x) { return ng_reshape(c, x[0], ng_shape2(15, 63)); }
static ng_tensor *b_concat1(ng_ctx *c, ng_tensor **x) { return ng_concat(c, x, 3, 1); }
static ng_tensor *b_slice(ng_ctx *c, ng_tensor **x) { return ng_slice(c, x[0], 2, 2, 4); }
static ng_tensor *b_relu(ng_ctx *c, ng_tensor **x) { return ng_relu(c, x[0]); }
static ng_tensor *b_leaky(ng_ctx *c, ng_tensor **x) { return ng_leaky_relu(c, x[0], 0.2f); }
static ng_tensor *b_tanh(ng_ctx *c, ng_tensor **x) { return ng_tanh(c, x[0]); }
static ng_tensor *b_sigmoid(ng_ctx *c, ng_tensor **x) { return ng_sigmoid(c, x[0]); }
static ng_tensor *b_softmax1(ng_ctx *c, ng_tensor **x) { return ng_softmax(c, x[0], 1); }
static ng_tensor *b_logsoftmax3(ng_ctx *c, ng_tensor **x) { return ng_log_softmax(c, x[0], 3); }
static ng_tensor *b_dropout(ng_ctx *c, ng_tensor **x) { return ng_dropout(c, x[0], 0.3f); }
static ng_tensor *b_ce(ng_ctx *c, ng_tensor **x) { return ng_cross_entropy(c, x[0], ce_labels); }
static ng_tensor *b_hinge_d(ng_ctx *c, ng_tensor **x) { return ng_hinge_loss_d(c, x[0], x[1]); }
static ng_tensor *b_hinge_g(ng_ctx *c, ng_tensor **x) { return ng_hinge_loss_g(c, x[0]); }
static ng_tensor *b_bce(ng_ctx *c, ng_tensor **x) {
    ng_tensor *t = ng_tensor_from(c, x[0]->shape, bce_target);
    return ng_bce_with_logits(c, x[0], t);
}
static ng_tensor *b_conv3(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], x[2], 1, 1, 1); }
static ng_tensor *b_conv_s2(ng_ctx *c, ng_tensor **x) { return ng_conv2d_ex(c, x[0], x[1], NULL, 2, 1, 0, 2, 1); }
static ng_tensor *b_conv_grp(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], x[2], 1, 2, 2); }
static ng_tensor *b_conv_dw(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], NULL, 2, 1, 5); }
static ng_tensor *b_conv_pw(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], x[2], 1, 0, 1); }
static ng_tensor *b_conv_pw_grp(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], NULL, 1, 0, 2); }
static ng_tensor *b_conv_dw5(ng_ctx *c, ng_tensor **x) { return ng_conv2d(c, x[0], x[1], NULL, 1, 2, 2); }
static ng_tensor *b_convt_k2(ng_ctx *c, ng_tensor **x) { return ng_conv_transpose2d(c, x[0], x[1], x[2], 2, 0, 0, 1); }
static ng_tensor *b_convt_grp(ng_ctx *c, ng_tensor **x) { return ng_conv_transpose2d(c, x[0], x[1], NULL, 2, 1, 1, 2); }
static ng_tensor *b_bn_train(ng_ctx *c, ng_tensor **x) {
    float rm[5] = {0.1f, -0.2f, 0.3f, 0, 1}, rv[5] = {1, 2, 0.5f, 1.5f, 1};
    return ng_batch_norm(c, x[0], x[1], x[2], ng_tensor_from(c, ng_shape1(5), rm), ng_tensor_from(c, ng_shape1(5), rv), 0.1f, 1e-5f);
}
static ng_tensor *b_bn_plain(ng_ctx *c, ng_tensor **x) { return ng_batch_norm(c, x[0], NULL, NULL, NULL, NULL, 0.1f, 1e-5f); }
static ng_tensor *b_bn_eval(ng_ctx *c, ng_tensor **x) {
    float rm[5] = {0.1f, -0.2f, 0.3f, 0, 1}, rv[5] = {1, 2, 0.5f, 1.5f, 1};
    ng_tensor *y;
    ng_ctx_set_training(c, 0);
    y = ng_batch_norm(c, x[0], x[1], x[2], ng_tensor_from(c, ng_shape1(5), rm), ng_tensor_from(c, ng_shape1(5), rv), 0.1f, 1e-5f);
    ng_ctx_set_training(c, 1);
    return y;
}
static ng_tensor *b_sn(ng_ctx *c, ng_tensor **x) {
    float u[6], v[27];
    int k;
    for (k = 0; k < 6; k++) u[k] = (float)(k + 1) / 9.539392f;
    for (k = 0; k < 27; k++) v[k] = (k % 2 ? 1.0f : -1.0f) / 5.196152f;
    return ng_spectral_norm(c, x[0], ng_tensor_from(c, ng_shape1(6), u), ng_tensor_from(c, ng_shape1(27), v), 1e-12f);
}
static ng_tensor *b_sn_big(ng_ctx *c, ng_tensor **x) { /* NO 270, NI 300: both above one block's 256 threads */
    static float u[270], v[300];
    int k;
    for (k = 0; k < 270; k++) u[k] = (float)(k % 7 - 3) / 38.0f;
    for (k = 0; k < 300; k++) v[k] = (float)(k % 5 - 2) / 24.5f;
    return ng_spectral_norm(c, x[0], ng_tensor_from(c, ng_shape1(270), u), ng_tensor_from(c, ng_shape1(300), v), 1e-12f);
}
static ng_tensor *b_sn_eval(ng_ctx *c, ng_tensor **x) {
    ng_tensor *y;
    ng_ctx_set_training(c, 0);
    y = b_sn(c, x);
    ng_ctx_set_training(c, 1);
    return y;
}
static ng_tensor *b_mixed(ng_ctx *c, ng_tensor **x) { return ng_mixed(c, x[0], 1, x + 1, 4); }
static ng_tensor *b_mixed2(ng_ctx *c, ng_tensor **x) { return ng_mixed(c, x[0], 0, x + 1, 2); }
static ng_tensor *b_mixed1(ng_ctx *c, ng_tensor **x) { return ng_mixed(c, x[0], 0, x + 1, 1); }
static ng_tensor *b_mixed_cols(ng_ctx *c, ng_tensor **x) {
    int cols[3] = {2, 1, -1};
    return ng_mixed_cols(c, x[0], 0, x + 1, cols, 3, ng_shape4(2, 3, 5, 5));
}
static ng_tensor *b_up_n(ng_ctx *c, ng_tensor **x) { return ng_upsample_nearest2x(c, x[0]); }
static ng_tensor *b_up_b(ng_ctx *c, ng_tensor **x) { return ng_upsample_bilinear2x(c, x[0]); }
static ng_tensor *b_pool(ng_ctx *c, ng_tensor **x) { return ng_avg_pool2d(c, x[0]); }
static ng_tensor *b_sum_hw(ng_ctx *c, ng_tensor **x) { return ng_sum_hw(c, x[0]); }

/* sequence ops: masks built inside the case from fixed lengths (pads included) */
static const int32_t emb_ids[3 * 5] = {3, 0, 7, 3, 10, 0, 0, 1, 3, 9, 10, 2, 3, 0, 5};
static ng_tensor *b_emb_pad(ng_ctx *c, ng_tensor **x) { return ng_embedding(c, x[0], emb_ids, 3, 5, 0); }
static ng_tensor *b_emb(ng_ctx *c, ng_tensor **x) { return ng_embedding(c, x[0], emb_ids, 3, 5, -1); }
static ng_tensor *seq_lengths_mask(ng_ctx *c, const int32_t *len, int64_t N, int64_t L) { return ng_seq_mask_from_lengths(c, len, N, L); }
static const int32_t len_6_2_0[3] = {6, 2, 0}, len_6_3_1[3] = {6, 3, 1}, len_6_4_1[3] = {6, 4, 1}, len_5_6_0_2[4] = {5, 6, 0, 2};
static const int32_t len_5_3[2] = {5, 3}, len_5_2_0[3] = {5, 2, 0};
static ng_tensor *b_seq_mask(ng_ctx *c, ng_tensor **x) { return ng_seq_mask(c, x[0], seq_lengths_mask(c, len_6_2_0, 3, 6)); }
static ng_tensor *b_conv1d(ng_ctx *c, ng_tensor **x) { return ng_conv1d(c, x[0], x[1], x[2]); }
static ng_tensor *b_conv1d_nb(ng_ctx *c, ng_tensor **x) { return ng_conv1d(c, x[0], x[1], NULL); }
static ng_tensor *b_avg3(ng_ctx *c, ng_tensor **x) { return ng_seq_avg_pool3(c, x[0]); }
static ng_tensor *b_max3(ng_ctx *c, ng_tensor **x) { return ng_seq_max_pool3(c, x[0]); }
static ng_tensor *b_max3_ties(ng_ctx *c, ng_tensor **x) { return ng_seq_max_pool3(c, ng_relu(c, x[0])); }
static ng_tensor *b_seq_bn_train(ng_ctx *c, ng_tensor **x) {
    float rm[4] = {0.1f, -0.2f, 0.3f, 0}, rv[4] = {1, 2, 0.5f, 1.5f};
    return ng_seq_batch_norm(c, x[0], x[1], x[2], ng_tensor_from(c, ng_shape1(4), rm), ng_tensor_from(c, ng_shape1(4), rv), 0.1f, 1e-5f);
}
static ng_tensor *b_seq_bn_affine(ng_ctx *c, ng_tensor **x) { return ng_seq_batch_norm(c, x[0], x[1], x[2], NULL, NULL, 0.1f, 1e-5f); }
static ng_tensor *b_seq_bn_masked(ng_ctx *c, ng_tensor **x) { /* TextNAS: zeros at pads take part in the statistics */
    return ng_seq_batch_norm(c, ng_seq_mask(c, x[0], seq_lengths_mask(c, len_6_2_0, 3, 6)), NULL, NULL, NULL, NULL, 0.1f, 1e-5f);
}
static ng_tensor *b_seq_bn_eval(ng_ctx *c, ng_tensor **x) {
    float rm[4] = {0.1f, -0.2f, 0.3f, 0}, rv[4] = {1, 2, 0.5f, 1.5f};
    ng_tensor *y;
    ng_ctx_set_training(c, 0);
    y = ng_seq_batch_norm(c, x[0], x[1], x[2], ng_tensor_from(c, ng_shape1(4), rm), ng_tensor_from(c, ng_shape1(4), rv), 0.1f, 1e-5f);
    ng_ctx_set_training(c, 1);
    return y;
}
static ng_tensor *b_mean_pool(ng_ctx *c, ng_tensor **x) { return ng_seq_mean_pool(c, x[0], seq_lengths_mask(c, len_6_3_1, 3, 6)); }
static ng_tensor *b_mean_pool0(ng_ctx *c, ng_tensor **x) { /* an empty sequence: count 1e-12 */
    return ng_seq_mean_pool(c, ng_seq_mask(c, x[0], seq_lengths_mask(c, len_6_2_0, 3, 6)), seq_lengths_mask(c, len_6_2_0, 3, 6));
}
static ng_tensor *b_attn2(ng_ctx *c, ng_tensor **x) { return ng_seq_attention(c, x[0], x[1], x[2], seq_lengths_mask(c, len_6_4_1, 3, 6), 2, 0.0f); }
static ng_tensor *b_attn3_drop(ng_ctx *c, ng_tensor **x) { return ng_seq_attention(c, x[0], x[1], x[2], seq_lengths_mask(c, len_6_4_1, 3, 6), 3, 0.25f); }
static const int32_t len_200[1] = {200};
static ng_tensor *b_attn_long(ng_ctx *c, ng_tensor **x) { return ng_seq_attention(c, x[0], x[1], x[2], seq_lengths_mask(c, len_200, 1, 260), 1, 0.0f); }
static ng_tensor *b_attn1(ng_ctx *c, ng_tensor **x) { return ng_seq_attention(c, x[0], x[1], x[2], seq_lengths_mask(c, len_5_3, 2, 5), 1, 0.0f); }
static ng_tensor *b_gru_fw(ng_ctx *c, ng_tensor **x) { return ng_seq_gru(c, x[0], seq_lengths_mask(c, len_6_3_1, 3, 6), x[1], x[2], x[3], x[4], 0); }
static ng_tensor *b_gru_rev(ng_ctx *c, ng_tensor **x) { return ng_seq_gru(c, x[0], seq_lengths_mask(c, len_5_6_0_2, 4, 6), x[1], x[2], x[3], x[4], 1); }
static ng_tensor *b_bigru(ng_ctx *c, ng_tensor **x) { /* TextNAS BiGRU: the two directions summed (shared weights here) */
    ng_tensor *m = seq_lengths_mask(c, len_5_6_0_2, 4, 6);
    return ng_add(c, ng_seq_gru(c, x[0], m, x[1], x[2], x[3], x[4], 0), ng_seq_gru(c, x[0], m, x[1], x[2], x[3], x[4], 1));
}
static ng_tensor *b_text_chain(ng_ctx *c, ng_tensor **x) { /* embedding -> conv1d -> BN -> relu -> mask -> pool -> attention -> mean pool */
    ng_tensor *m = seq_lengths_mask(c, len_5_2_0, 3, 5), *h;
    static const int32_t ids[15] = {1, 4, 4, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0};
    h = ng_embedding(c, x[0], ids, 3, 5, 0);
    h = ng_relu(c, ng_seq_batch_norm(c, ng_conv1d(c, h, x[1], x[2]), NULL, NULL, NULL, NULL, 0.1f, 1e-5f));
    h = ng_seq_max_pool3(c, ng_seq_mask(c, h, m));
    h = ng_seq_attention(c, h, h, h, m, 2, 0.0f);
    return ng_seq_mean_pool(c, h, m);
}
/* larger cases: several blocks per launch, many positions per vocabulary row */
static int32_t big_ids[9 * 37], big_len[9], wide_len[37];
static void big_init(void) {
    int j;
    for (j = 0; j < 9; j++) big_len[j] = (int32_t)(37 - 4 * j);       /* 37, 33, ..., 5 */
    for (j = 0; j < 37; j++) wide_len[j] = (int32_t)((j * 7) % 10);
    for (j = 0; j < 9 * 37; j++) big_ids[j] = (j % 37) >= big_len[j / 37] ? 0 : (int32_t)(1 + (j * 131) % 299);
}
static ng_tensor *b_emb_big(ng_ctx *c, ng_tensor **x) { return ng_embedding(c, x[0], big_ids, 9, 37, 0); }
static ng_tensor *b_attn_big(ng_ctx *c, ng_tensor **x) { return ng_seq_attention(c, x[0], x[1], x[2], seq_lengths_mask(c, big_len, 9, 37), 4, 0.1f); }
/* weights scaled to 0.15 x [-2, 2]: with [-2, 2] itself a 33-unit GRU is chaotic over 37
   steps and float rounding differences between any two summation orders grow past 1e-4 */
static ng_tensor *b_gru_big(ng_ctx *c, ng_tensor **x) {
    return ng_seq_gru(c, x[0], seq_lengths_mask(c, big_len, 9, 37), ng_scale(c, x[1], 0.15f), ng_scale(c, x[2], 0.15f), x[3], x[4], 1);
}
/* the fused GRU's tiles: 37 sequences (3 row tiles of 16), 70 units (3 column tiles of 32),
   lengths 0..9 with ties and empty sequences */
static ng_tensor *b_gru_wide(ng_ctx *c, ng_tensor **x) {
    return ng_seq_gru(c, x[0], seq_lengths_mask(c, wide_len, 37, 9), ng_scale(c, x[1], 0.15f), ng_scale(c, x[2], 0.15f), x[3], x[4], 0);
}
static ng_tensor *b_conv1d_big(ng_ctx *c, ng_tensor **x) { return ng_conv1d(c, ng_seq_mask(c, x[0], seq_lengths_mask(c, big_len, 9, 37)), x[1], x[2]); }

#define E1 1e-6, 1e-6
#define E2 1e-5, 1e-5
#define E3 1e-4, 1e-4
static const op_case cases[] = {
    {"matmul 7x13 * 13x5", 2, {{2, {7, 13, 1, 1}}, {2, {13, 5, 1, 1}}}, b_matmul, E3},
    {"matmul 64x256 * 256x130", 2, {{2, {64, 256, 1, 1}}, {2, {256, 130, 1, 1}}}, b_matmul, E3},
    {"linear 9x17 -> 11 (bias)", 3, {{2, {9, 17, 1, 1}}, {2, {11, 17, 1, 1}}, {1, {11, 1, 1, 1}}}, b_linear, E3},
    {"linear 1x3 -> 1 (no bias)", 2, {{2, {1, 3, 1, 1}}, {2, {1, 3, 1, 1}}}, b_linear_nb, E3},
    {"add same 3x5x7x9", 2, {{4, {3, 5, 7, 9}}, {4, {3, 5, 7, 9}}}, b_add, E1},
    {"add bcast 3x5x7x9 + 5x1x1", 2, {{4, {3, 5, 7, 9}}, {3, {5, 1, 1, 1}}}, b_add, E2},
    {"sub bcast 3x1x7 - 1x5x1", 2, {{3, {3, 1, 7, 1}}, {3, {1, 5, 1, 1}}}, b_sub, E2},
    {"mul bcast 3x5x7x9 * 9", 2, {{4, {3, 5, 7, 9}}, {1, {9, 1, 1, 1}}}, b_mul, E2},
    {"scale", 1, {{4, {3, 5, 7, 9}}}, b_scale, E1},
    {"add_scalar", 1, {{3, {2, 1, 13, 1}}}, b_add_scalar, E1},
    {"sum axes 0,2 of 3x5x7x9", 1, {{4, {3, 5, 7, 9}}}, b_sum13, E2},
    {"mean axis 2 keepdim", 1, {{4, {3, 5, 7, 9}}}, b_mean2k, E2},
    {"sum all", 1, {{4, {3, 5, 7, 9}}}, b_sum_all, E2},
    /* 2 outputs of 4800 values each: one block per output */
    {"mean axes 1,2,3 of 2x3x40x40 (block per output)", 1, {{4, {2, 3, 40, 40}}}, b_mean_chw, E2},
    {"reshape", 1, {{4, {3, 5, 7, 9}}}, b_reshape, E1},
    {"concat axis 1", 3, {{4, {3, 2, 7, 9}}, {4, {3, 1, 7, 9}}, {4, {3, 5, 7, 9}}}, b_concat1, E1},
    {"slice axis 2", 1, {{4, {3, 5, 7, 9}}}, b_slice, E1},
    {"relu", 1, {{4, {3, 5, 7, 9}}}, b_relu, E1},
    {"leaky_relu", 1, {{4, {3, 5, 7, 9}}}, b_leaky, E1},
    {"tanh", 1, {{4, {3, 5, 7, 9}}}, b_tanh, E1},
    {"sigmoid", 1, {{4, {3, 5, 7, 9}}}, b_sigmoid, E1},
    {"softmax axis 1", 1, {{4, {3, 5, 7, 9}}}, b_softmax1, E2},
    {"log_softmax axis 3", 1, {{4, {3, 5, 7, 9}}}, b_logsoftmax3, E2},
    {"dropout 0.3", 1, {{4, {3, 5, 7, 9}}}, b_dropout, E1},
    {"cross_entropy 13x10", 1, {{2, {13, 10, 1, 1}}}, b_ce, E2},
    {"hinge D", 2, {{2, {64, 1, 1, 1}}, {2, {63, 1, 1, 1}}}, b_hinge_d, E2},
    {"hinge G", 1, {{2, {17, 3, 1, 1}}}, b_hinge_g, E2},
    {"bce_with_logits", 1, {{3, {3, 5, 7, 1}}}, b_bce, E2},
    {"conv2d 3x3 p1 bias 3x5x7x9 -> 4", 3, {{4, {3, 5, 7, 9}}, {4, {4, 5, 3, 3}}, {1, {4, 1, 1, 1}}}, b_conv3, E3},
    {"conv2d stride (2,1) pad (0,2) 1x3 kernel", 2, {{4, {2, 3, 9, 8}}, {4, {6, 3, 1, 3}}}, b_conv_s2, E3},
    {"conv2d groups 2 pad 2 dilated-free 5x5", 3, {{4, {2, 4, 11, 6}}, {4, {6, 2, 5, 5}}, {1, {6, 1, 1, 1}}}, b_conv_grp, E3},
    {"conv2d depthwise stride 2", 2, {{4, {3, 5, 7, 9}}, {4, {5, 1, 3, 3}}}, b_conv_dw, E3},
    {"conv2d pointwise 1x1 bias 3x6x5x7 -> 4 (no im2col)", 3, {{4, {3, 6, 5, 7}}, {4, {4, 6, 1, 1}}, {1, {4, 1, 1, 1}}}, b_conv_pw, E3},
    {"conv2d pointwise 1x1 groups 2 2x4x3x5 -> 6", 2, {{4, {2, 4, 3, 5}}, {4, {6, 2, 1, 1}}}, b_conv_pw_grp, E3},
    /* 9 images of 30x31: the depthwise weight gradient takes two image splits per channel */
    {"conv2d depthwise 5x5 pad 2, 9x2x30x31 (two splits)", 2, {{4, {9, 2, 30, 31}}, {4, {2, 1, 5, 5}}}, b_conv_dw5, E3},
    {"conv_transpose2d k2 s2 bias (alphaGAN deconv)", 3, {{4, {2, 4, 3, 5}}, {4, {4, 3, 2, 2}}, {1, {3, 1, 1, 1}}}, b_convt_k2, E3},
    {"conv_transpose2d k3 s2 p1 outpad1 groups 2", 2, {{4, {2, 4, 5, 4}}, {4, {4, 3, 3, 3}}}, b_convt_grp, E3},
    {"batch_norm train affine 3x5x7x9", 3, {{4, {3, 5, 7, 9}}, {1, {5, 1, 1, 1}}, {1, {5, 1, 1, 1}}}, b_bn_train, E2},
    {"batch_norm 2-D no affine 13x5", 1, {{2, {13, 5, 1, 1}}}, b_bn_plain, E2},
    /* 40 images of 16x16: two image splits per channel; 600 rows of 37 channels: three row
       splits and two 32-channel tiles (the last one partial) */
    {"batch_norm no affine 40x3x16x16 (two splits)", 1, {{4, {40, 3, 16, 16}}}, b_bn_plain, E2},
    {"batch_norm 2-D 600x37 (row splits, channel tiles)", 1, {{2, {600, 37, 1, 1}}}, b_bn_plain, E2},
    {"batch_norm eval running stats", 3, {{4, {3, 5, 2, 3}}, {1, {5, 1, 1, 1}}, {1, {5, 1, 1, 1}}}, b_bn_eval, E2},
    {"spectral_norm train 6x3x3x3", 1, {{4, {6, 3, 3, 3}}}, b_sn, E2},
    {"spectral_norm train 270x3x10x10", 1, {{4, {270, 3, 10, 10}}}, b_sn_big, E2},
    {"spectral_norm eval", 1, {{4, {6, 3, 3, 3}}}, b_sn_eval, E2},
    {"mixed K=4 row 1 3x5x7x9", 5, {{2, {2, 4, 1, 1}}, {4, {3, 5, 7, 9}}, {4, {3, 5, 7, 9}}, {4, {3, 5, 7, 9}}, {4, {3, 5, 7, 9}}}, b_mixed, E2},
    {"mixed K=2 2x3x40x40 (3 alpha-gradient partials)", 3, {{2, {1, 2, 1, 1}}, {4, {2, 3, 40, 40}}, {4, {2, 3, 40, 40}}}, b_mixed2, E2},
    {"mixed K=1", 2, {{1, {1, 1, 1, 1}}, {3, {2, 3, 5, 1}}}, b_mixed1, E2},
    {"mixed_cols padded 5x5/3x3/1x1", 4, {{2, {1, 6, 1, 1}}, {4, {2, 3, 5, 5}}, {4, {2, 3, 3, 3}}, {4, {2, 3, 1, 1}}}, b_mixed_cols, E2},
    {"upsample nearest", 1, {{4, {3, 5, 7, 9}}}, b_up_n, E1},
    {"upsample bilinear", 1, {{4, {3, 5, 7, 9}}}, b_up_b, E2},
    {"upsample bilinear 1x1", 1, {{4, {2, 3, 1, 1}}}, b_up_b, E2},
    {"avg_pool2 odd", 1, {{4, {3, 5, 7, 9}}}, b_pool, E1},
    {"sum_hw", 1, {{4, {3, 5, 7, 9}}}, b_sum_hw, E2},
    {"embedding 11x7, padding_idx 0, repeated ids", 1, {{2, {11, 7, 1, 1}}}, b_emb_pad, E1},
    {"embedding no padding_idx", 1, {{2, {11, 7, 1, 1}}}, b_emb, E1},
    {"seq_mask lengths 6,2,0", 1, {{3, {3, 6, 5, 1}}}, b_seq_mask, E1},
    {"conv1d K3 bias 3x7x5 -> 4", 3, {{3, {3, 7, 5, 1}}, {3, {4, 5, 3, 1}}, {1, {4, 1, 1, 1}}}, b_conv1d, E3},
    {"conv1d K5 no bias 2x4x3 -> 5 (kernel longer than L)", 2, {{3, {2, 4, 3, 1}}, {3, {5, 3, 5, 1}}}, b_conv1d_nb, E3},
    {"conv1d K1 bias 2x5x4 -> 3", 3, {{3, {2, 5, 4, 1}}, {3, {3, 4, 1, 1}}, {1, {3, 1, 1, 1}}}, b_conv1d, E3},
    {"seq_avg_pool3 3x7x5", 1, {{3, {3, 7, 5, 1}}}, b_avg3, E1},
    {"seq_avg_pool3 L=1", 1, {{3, {2, 1, 3, 1}}}, b_avg3, E1},
    {"seq_max_pool3 3x7x5", 1, {{3, {3, 7, 5, 1}}}, b_max3, E1},
    {"seq_max_pool3 L=2", 1, {{3, {2, 2, 3, 1}}}, b_max3, E1},
    {"seq_max_pool3 after relu (ties at 0)", 1, {{3, {3, 7, 5, 1}}}, b_max3_ties, E1},
    {"seq_batch_norm train affine 3x5x4", 3, {{3, {3, 5, 4, 1}}, {1, {4, 1, 1, 1}}, {1, {4, 1, 1, 1}}}, b_seq_bn_train, E2},
    {"seq_batch_norm masked (pads in the statistics)", 1, {{3, {3, 6, 5, 1}}}, b_seq_bn_masked, E2},
    {"seq_batch_norm affine 5x130x40 (row splits, channel tiles)", 3, {{3, {5, 130, 40, 1}}, {1, {40, 1, 1, 1}}, {1, {40, 1, 1, 1}}}, b_seq_bn_affine, E2},
    {"seq_batch_norm eval running stats", 3, {{3, {2, 3, 4, 1}}, {1, {4, 1, 1, 1}}, {1, {4, 1, 1, 1}}}, b_seq_bn_eval, E2},
    {"seq_mean_pool lengths 6,3,1", 1, {{3, {3, 6, 5, 1}}}, b_mean_pool, E2},
    {"seq_mean_pool empty sequence", 1, {{3, {3, 6, 5, 1}}}, b_mean_pool0, E2},
    {"seq_attention heads 2 3x6x8 lengths 6,4,1", 3, {{3, {3, 6, 8, 1}}, {3, {3, 6, 8, 1}}, {3, {3, 6, 8, 1}}}, b_attn2, E3},
    {"seq_attention heads 3 dropout 0.25 3x6x9", 3, {{3, {3, 6, 9, 1}}, {3, {3, 6, 9, 1}}, {3, {3, 6, 9, 1}}}, b_attn3_drop, E3},
    /* score rows longer than a block (256 threads): each thread takes two keys */
    {"seq_attention long L=260 heads 1 1x260x3 length 200", 3, {{3, {1, 260, 3, 1}}, {3, {1, 260, 3, 1}}, {3, {1, 260, 3, 1}}}, b_attn_long, E3},
    {"seq_attention heads 1 2x5x3", 3, {{3, {2, 5, 3, 1}}, {3, {2, 5, 3, 1}}, {3, {2, 5, 3, 1}}}, b_attn1, E3},
    {"seq_gru forward 3x6x4 H5 lengths 6,3,1", 5, {{3, {3, 6, 4, 1}}, {2, {15, 4, 1, 1}}, {2, {15, 5, 1, 1}}, {1, {15, 1, 1, 1}}, {1, {15, 1, 1, 1}}}, b_gru_fw, E3},
    {"seq_gru reverse 4x6x3 H4 lengths 5,6,0,2", 5, {{3, {4, 6, 3, 1}}, {2, {12, 3, 1, 1}}, {2, {12, 4, 1, 1}}, {1, {12, 1, 1, 1}}, {1, {12, 1, 1, 1}}}, b_gru_rev, E3},
    {"seq_gru both directions summed", 5, {{3, {4, 6, 3, 1}}, {2, {12, 3, 1, 1}}, {2, {12, 4, 1, 1}}, {1, {12, 1, 1, 1}}, {1, {12, 1, 1, 1}}}, b_bigru, E3},
    {"embedding 300x40, 9x37 ids, padding_idx 0", 1, {{2, {300, 40, 1, 1}}}, b_emb_big, E1},
    {"conv1d K7 9x37x30 -> 50 masked", 3, {{3, {9, 37, 30, 1}}, {3, {50, 30, 7, 1}}, {1, {50, 1, 1, 1}}}, b_conv1d_big, E3},
    {"seq_attention big heads 4 dropout 0.1 9x37x64", 3, {{3, {9, 37, 64, 1}}, {3, {9, 37, 64, 1}}, {3, {9, 37, 64, 1}}}, b_attn_big, E3},
    {"seq_gru big reverse 9x37x20 H33", 5, {{3, {9, 37, 20, 1}}, {2, {99, 20, 1, 1}}, {2, {99, 33, 1, 1}}, {1, {99, 1, 1, 1}}, {1, {99, 1, 1, 1}}}, b_gru_big, E3},
    {"seq_gru wide forward 37x9x6 H70 lengths 0..9", 5, {{3, {37, 9, 6, 1}}, {2, {210, 6, 1, 1}}, {2, {210, 70, 1, 1}}, {1, {210, 1, 1, 1}}, {1, {210, 1, 1, 1}}}, b_gru_wide, E3},
    {"text chain: embedding, conv1d, seq BN, mask, pool, attention, mean pool", 3, {{2, {5, 6, 1, 1}}, {3, {4, 6, 3, 1}}, {1, {4, 1, 1, 1}}}, b_text_chain, E3},
};

/* ---- refusals ---- */
static void check_refusals(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    ng_tensor *a, *b, *y;
    ng_ctx_reset(cpu);
    ng_ctx_reset(gpu);
    a = ng_tensor_from(cpu, ng_shape2(2, 3), v);
    b = ng_tensor_from(gpu, ng_shape2(2, 3), v);
    y = ng_add(cpu, a, b);
    checks++;
    if (y || ng_ctx_status(cpu) != NG_ERR_UNSUPPORTED || !strstr(ng_last_error(), "add")) {
        fprintf(stderr, "  FAIL mixed devices not refused (status %d, '%s')\n", (int)ng_ctx_status(cpu), ng_last_error());
        failures++;
    } else printf("PASS mixed-device add refused: %s\n", ng_last_error());
    {   /* a tensor read beside the inputs (here BCE's target) on the host, the logits on the GPU */
        ng_tensor *x, *t;
        ng_ctx_reset(cpu);
        x = ng_tensor_from(gpu, ng_shape1(6), v);
        t = ng_tensor_from(cpu, ng_shape1(6), v);
        y = ng_bce_with_logits(gpu, x, t);
        checks++;
        if (y || ng_ctx_status(gpu) != NG_ERR_UNSUPPORTED || !strstr(ng_last_error(), "target")) {
            fprintf(stderr, "  FAIL host target with GPU logits not refused (status %d, '%s')\n", (int)ng_ctx_status(gpu), ng_last_error());
            failures++;
        } else printf("PASS host BCE target with GPU logits refused: %s\n", ng_last_error());
        ng_ctx_reset(gpu);
    }
    {   /* every op has a kernel now: register a copy of the table without seq_mean_pool's
           forward, check the refusal, then put the real table back */
        static ng_cuda_hooks without;
        const ng_cuda_hooks *real = ng_cuda_get_hooks();
        ng_tensor *x = ng_tensor_from(gpu, ng_shape3(1, 2, 3), v), *m = ng_tensor_from(gpu, ng_shape2(1, 2), v);
        without = *real;
        without.fw[NG_OP_SEQ_MEAN_POOL] = NULL;
        ng_cuda_register(&without);
        if (ng_cuda_init(0) != NG_OK) { fprintf(stderr, "  FAIL re-init: %s\n", ng_last_error()); failures++; }
        y = ng_seq_mean_pool(gpu, x, m);
        checks++;
        if (y || ng_ctx_status(gpu) != NG_ERR_UNSUPPORTED || !strstr(ng_last_error(), "seq_mean_pool")) {
            fprintf(stderr, "  FAIL missing kernel not refused ('%s')\n", ng_last_error());
            failures++;
        } else printf("PASS op without a kernel refused: %s\n", ng_last_error());
        ng_cuda_register(real);
        if (ng_cuda_init(0) != NG_OK) { fprintf(stderr, "  FAIL re-init: %s\n", ng_last_error()); failures++; }
        ng_ctx_reset(gpu);
        checks++;
        if (!ng_cuda_op_supported(NG_OP_SEQ_MEAN_POOL, 0) || !ng_cuda_op_supported(NG_OP_SEQ_GRU, 1)) {
            fprintf(stderr, "  FAIL the real table did not come back\n");
            failures++;
        }
    }
}

/* ---- Adam, SGD, EMA and clipping: the same group stepped on the CPU and on the GPU. The
   GPU optimizers are made before the group moves, so their state must follow it. ---- */
static void check_optim(void) {
    ng_params *pc = ng_params_create("c", 1), *pg = ng_params_create("g", 1);
    ng_adam oc, og;
    ng_sgd sc, sg;
    ng_ema ec, eg;
    ng_rng r;
    float *grad, *hp, *hs, norm_c = 0, norm_g = 0;
    int64_t n = 1000 + 37;
    int step, bad = 0;
    ng_params_add(pc, "w", ng_shape1(n));
    ng_params_add(pg, "w", ng_shape1(n));
    ng_params_alloc(pc);
    ng_params_alloc(pg);
    ng_rng_seed(&r, 7);
    fill_random(&r, pc->data, n, -1, 1);
    memcpy(pg->data, pc->data, (size_t)n * sizeof(float));
    ng_adam_init(&oc, pc, 1e-2f, 0.5f, 0.999f, 1e-8f, 1e-4f);
    ng_adam_init(&og, pg, 1e-2f, 0.5f, 0.999f, 1e-8f, 1e-4f);
    ng_sgd_init(&sc, pc, 1e-2f, 0.9f, 0.1f, 1e-4f, 0);
    ng_sgd_init(&sg, pg, 1e-2f, 0.9f, 0.1f, 1e-4f, 0);
    ng_ema_init(&ec, pc, 0.999f);
    ng_ema_init(&eg, pg, 0.999f);
    ng_params_to_device(pg, NG_CUDA);
    grad = host_floats(n);
    for (step = 0; step < 5; step++) {
        fill_random(&r, grad, n, -1, 1);
        memcpy(pc->grad, grad, (size_t)n * sizeof(float));
        ng_cuda_get_hooks()->memcpy_h2d(pg->grad, grad, (size_t)n * sizeof(float));
        norm_c = ng_clip_grad_norm(&pc, 1, 5.0f); /* the norm is ~18: clipping scales */
        norm_g = ng_clip_grad_norm(&pg, 1, 5.0f);
        if (ng_adam_step(&oc) != NG_OK || ng_adam_step(&og) != NG_OK || ng_sgd_step(&sc) != NG_OK ||
            ng_sgd_step(&sg) != NG_OK || ng_ema_update(&ec) != NG_OK || ng_ema_update(&eg) != NG_OK) bad++;
    }
    bad += og.device != NG_CUDA || sg.device != NG_CUDA || eg.device != NG_CUDA;
    {   /* the device state through a checkpoint: saved, wiped, restored, then one more step */
        ng_ckpt *ck = ng_ckpt_new(), *back = NULL;
        unsigned char *buf = NULL;
        size_t nb = 0;
        int ok = ck && ng_ckpt_put_params(ck, pg) == NG_OK && ng_ckpt_put_adam(ck, "adam", &og) == NG_OK &&
                 ng_ckpt_put_sgd(ck, "sgd", &sg) == NG_OK && ng_ckpt_put_ema(ck, "ema", &eg) == NG_OK &&
                 ng_ckpt_serialize(ck, &buf, &nb) == NG_OK && ng_ckpt_parse(buf, nb, "device state", &back) == NG_OK;
        ng_adam_reset(&og);
        ng_params_zero_grad(pg);
        ok = ok && ng_ckpt_get_params(back, pg) == NG_OK && ng_ckpt_get_adam(back, "adam", &og) == NG_OK &&
             ng_ckpt_get_sgd(back, "sgd", &sg) == NG_OK && ng_ckpt_get_ema(back, "ema", &eg) == NG_OK;
        if (!ok) { fprintf(stderr, "  FAIL optimizer checkpoint on the device: %s\n", ng_last_error()); bad++; }
        memcpy(pc->grad, grad, (size_t)n * sizeof(float));
        ng_cuda_get_hooks()->memcpy_h2d(pg->grad, grad, (size_t)n * sizeof(float));
        if (ng_adam_step(&oc) != NG_OK || ng_adam_step(&og) != NG_OK || ng_ema_update(&ec) != NG_OK || ng_ema_update(&eg) != NG_OK) bad++;
        free(buf);
        ng_ckpt_free(ck);
        ng_ckpt_free(back);
    }
    bad += compare("clip norm", "clip", &norm_g, &norm_c, 1, 1e-5, 1e-5);
    ng_params_sync_host(pg);
    hp = pg->host_data;
    hs = host_floats(n);
    bad += compare("adam + sgd params", "optim", hp, pc->data, n, 1e-6, 1e-5);
    bad += compare("clipped gradient", "clip", pg->host_grad, pc->grad, n, 1e-6, 1e-5);
    ng_cuda_get_hooks()->memcpy_d2h(hs, eg.shadow, (size_t)n * sizeof(float));
    bad += compare("ema shadow", "ema", hs, ec.shadow, n, 1e-6, 1e-5);
    if (bad) failures++;
    printf("%s adam + sgd + ema + clip parity (5 steps, a checkpoint round trip of the device state, 1 more step, %lld params)\n", bad ? "FAIL" : "PASS", (long long)n);
    free(grad); free(hs);
    ng_adam_free(&oc); ng_adam_free(&og); ng_sgd_free(&sc); ng_sgd_free(&sg); ng_ema_free(&ec); ng_ema_free(&eg);
    ng_params_free(pc);
    ng_params_free(pg);
}

/* ---- determinism: 20 training steps twice, parameters bit for bit ---- */
static void det_run(float *out, int64_t *count) {
    ng_params *p = ng_params_create("net", 1);
    ng_tensor *w1 = ng_params_add(p, "w1", ng_shape4(8, 3, 3, 3)), *b1 = ng_params_add(p, "b1", ng_shape1(8));
    ng_tensor *w2 = ng_params_add(p, "w2", ng_shape4(8, 8, 3, 3)), *wl = ng_params_add(p, "wl", ng_shape2(1, 8));
    ng_adam opt;
    ng_rng r;
    float x[16 * 3 * 16 * 16];
    int step;
    ng_params_alloc(p);
    ng_rng_seed(&r, 99);
    fill_random(&r, p->data, p->numel, -0.3f, 0.3f);
    ng_adam_init(&opt, p, 2e-3f, 0.0f, 0.9f, 1e-8f, 0.0f);
    ng_params_to_device(p, NG_CUDA);
    ng_ctx_grad_for(gpu, &p, 1);
    for (step = 0; step < 20; step++) {
        ng_tensor *xt, *h, *loss;
        ng_ctx_reset(gpu);
        fill_random(&r, x, 16 * 3 * 16 * 16, -1, 1);
        xt = ng_tensor_from(gpu, ng_shape4(16, 3, 16, 16), x);
        h = ng_leaky_relu(gpu, ng_conv2d(gpu, xt, w1, b1, 1, 1, 1), 0.2f);
        h = ng_avg_pool2d(gpu, h);
        h = ng_upsample_bilinear2x(gpu, ng_conv2d(gpu, h, w2, NULL, 2, 1, 1));
        h = ng_linear(gpu, ng_sum_hw(gpu, ng_relu(gpu, h)), wl, NULL);
        loss = ng_hinge_loss_g(gpu, h);
        ng_params_zero_grad(p);
        if (!loss || ng_backward(gpu, loss) != NG_OK) { fprintf(stderr, "  determinism run failed: %s\n", ng_last_error()); break; }
        ng_adam_step(&opt);
    }
    ng_ctx_grad_for(gpu, NULL, 0);
    ng_params_sync_host(p);
    memcpy(out, p->host_data, (size_t)p->numel * sizeof(float));
    *count = p->numel;
    ng_adam_free(&opt);
    ng_params_free(p);
}
static void check_determinism(void) {
    static float a[4096], b[4096];
    int64_t na = 0, nb = 0, i;
    int finite = 1;
    det_run(a, &na);
    det_run(b, &nb);
    for (i = 0; i < na; i++) if (!isfinite(a[i])) finite = 0;
    checks++;
    if (na != nb || na == 0 || !finite || memcmp(a, b, (size_t)na * sizeof(float))) {
        fprintf(stderr, "  FAIL determinism: two identical 20-step runs differ (or NaN)\n");
        failures++;
    } else printf("PASS determinism: 20 steps twice, %lld parameters bit for bit\n", (long long)na);
}

/* ---- the alphaGAN supernet (small width) end to end: CPU vs GPU, then 20 search steps twice ---- */
typedef struct { ng_gan_gen_search *G; ng_gan_disc *D; } gan_pair;
static gan_pair gan_make(void) {
    ng_gan_config cfg;
    ng_rng r;
    gan_pair p;
    ng_gan_config_preset(&cfg, "cifar10");
    cfg.gf_dim = 16;
    cfg.df_dim = 16;
    ng_rng_seed(&r, 3);
    p.G = ng_gan_gen_search_create(&cfg, NULL, &r);
    p.D = ng_gan_disc_create(&cfg, "D", NG_GAN_INIT_XAVIER, &r);
    return p;
}
static void gan_free(gan_pair *p) { ng_gan_gen_search_free(p->G); ng_gan_disc_free(p->D); }
static int gan_to_gpu(gan_pair *p) {
    return ng_params_to_device(p->G->weights, NG_CUDA) || ng_params_to_device(p->G->buffers, NG_CUDA) ||
           ng_params_to_device(p->G->alpha, NG_CUDA) || ng_params_to_device(p->D->weights, NG_CUDA) ||
           ng_params_to_device(p->D->buffers, NG_CUDA);
}
/* one step: mode 0 D (hinge D loss), 1 G (hinge G loss), 2 arch (G loss into alpha) */
static ng_tensor *gan_step(ng_ctx *c, gan_pair *p, int mode, const float *z, const float *x, int B) {
    ng_params *tr = mode == 0 ? p->D->weights : mode == 1 ? p->G->weights : p->G->alpha;
    ng_tensor *fake, *loss;
    ng_ctx_reset(c);
    ng_ctx_grad_for(c, &tr, 1);
    fake = ng_gan_gen_search_forward(c, p->G, ng_tensor_from(c, ng_shape2(B, 128), z));
    if (mode == 0)
        loss = ng_hinge_loss_d(c, ng_gan_disc_forward(c, p->D, ng_tensor_from(c, ng_shape4(B, 3, 32, 32), x)), ng_gan_disc_forward(c, p->D, fake));
    else
        loss = ng_hinge_loss_g(c, ng_gan_disc_forward(c, p->D, fake));
    if (!loss || ng_backward(c, loss) != NG_OK) return NULL;
    return loss;
}
static int close_blocks(const char *what, const float *gpu_v, const float *cpu_v, int64_t n) {
    double norm2 = 0.0, err2 = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        if (!isfinite(gpu_v[i]) || !isfinite(cpu_v[i])) { fprintf(stderr, "  FAIL %s: non-finite at %lld\n", what, (long long)i); return 1; }
        norm2 += (double)cpu_v[i] * cpu_v[i];
        err2 += ((double)gpu_v[i] - cpu_v[i]) * ((double)gpu_v[i] - cpu_v[i]);
    }
    /* The supernet chains ~300 ops with ReLUs: a pre-activation within rounding of 0 can be
       positive on one device and not on the other, and the flipped mask element then moves
       every gradient behind it by a full term (seen in the host emulation: one flip put the
       alpha gradients 1.2e-3 apart in norm, with forward values within 1e-6 everywhere).
       So the whole block is compared in norm, 1e-2 of the CPU's: a wrong kernel is off by
       O(1). */
    if (err2 > 1e-4 * norm2 || norm2 == 0.0) {
        fprintf(stderr, "  FAIL %s: error norm %.3g, CPU norm %.3g\n", what, sqrt(err2), sqrt(norm2));
        return 1;
    }
    return 0;
}
static void check_supernet(void) {
    enum { B = 4 };
    static float z[B * 128], x[B * 3 * 32 * 32];
    gan_pair pc = gan_make(), pg = gan_make();
    ng_ctx *cc = ng_ctx_create((size_t)512 << 20, 1);
    ng_rng r;
    int mode, bad = 0;
    ng_rng_seed(&r, 11);
    fill_random(&r, z, B * 128, -1, 1);
    fill_random(&r, x, B * 3 * 32 * 32, -1, 1);
    checks++;
    if (!pc.G || !pg.G || !pc.D || !pg.D || !cc || gan_to_gpu(&pg)) { fprintf(stderr, "  FAIL supernet setup: %s\n", ng_last_error()); failures++; return; }
    for (mode = 0; mode < 3 && !bad; mode++) {
        ng_params *gc = mode == 0 ? pc.D->weights : mode == 1 ? pc.G->weights : pc.G->alpha;
        ng_params *gg = mode == 0 ? pg.D->weights : mode == 1 ? pg.G->weights : pg.G->alpha;
        ng_tensor *lc = gan_step(cc, &pc, mode, z, x, B), *lg = gan_step(gpu, &pg, mode, z, x, B);
        float lgh = 0.0f;
        if (!lc || !lg) { fprintf(stderr, "  FAIL supernet step %d: %s\n", mode, ng_last_error()); bad = 1; break; }
        ng_tensor_to_host(lg, &lgh);
        bad |= close_blocks("supernet loss", &lgh, lc->data, 1);
        ng_params_sync_host(gg);
        bad |= close_blocks(mode == 0 ? "D weight gradients" : mode == 1 ? "G weight gradients" : "alpha gradients", gg->host_grad, gc->grad, gc->numel);
        ng_params_zero_grad(gc);
        ng_params_zero_grad(gg);
    }
    if (bad) failures++;
    printf("%s alphaGAN supernet (width 16, batch 4): D, G and arch step losses and gradients, CPU vs GPU\n", bad ? "FAIL" : "PASS");
    ng_ctx_grad_for(gpu, NULL, 0);
    ng_ctx_free(cc);
    gan_free(&pc);
    gan_free(&pg);
}
/* 20 search steps (D, G, arch in turn, Adam on the device); returns all parameters */
static int64_t search_run(float *out, int64_t cap) {
    enum { B = 4 };
    static float z[B * 128], x[B * 3 * 32 * 32];
    gan_pair p = gan_make();
    ng_params *gs[3];
    ng_adam opt[3];
    ng_rng r;
    int64_t total = 0;
    int k, step;
    gs[0] = p.D->weights; gs[1] = p.G->weights; gs[2] = p.G->alpha;
    for (k = 0; k < 3; k++) ng_adam_init(&opt[k], gs[k], 2e-4f, 0.0f, 0.9f, 1e-8f, 0.0f);
    if (gan_to_gpu(&p)) return -1;
    ng_rng_seed(&r, 21);
    for (step = 0; step < 20; step++) {
        int mode = step % 3;
        fill_random(&r, z, B * 128, -1, 1);
        fill_random(&r, x, B * 3 * 32 * 32, -1, 1);
        ng_params_zero_grad(gs[mode]);
        if (!gan_step(gpu, &p, mode, z, x, B)) { fprintf(stderr, "  search step %d failed: %s\n", step, ng_last_error()); total = -1; break; }
        ng_adam_step(&opt[mode]);
    }
    ng_ctx_grad_for(gpu, NULL, 0);
    for (k = 0; k < 3 && total >= 0; k++) {
        ng_params_sync_host(gs[k]);
        if (total + gs[k]->numel > cap) { total = -1; break; }
        memcpy(out + total, gs[k]->host_data, (size_t)gs[k]->numel * sizeof(float));
        total += gs[k]->numel;
    }
    if (total >= 0 && total + p.G->buffers->numel <= cap) { /* BN running statistics too */
        ng_params_sync_host(p.G->buffers);
        memcpy(out + total, p.G->buffers->host_data, (size_t)p.G->buffers->numel * sizeof(float));
        total += p.G->buffers->numel;
    }
    for (k = 0; k < 3; k++) ng_adam_free(&opt[k]);
    gan_free(&p);
    return total;
}
static void check_search_determinism(void) {
    int64_t cap = (int64_t)4 << 20, na, nb, i;
    float *a = host_floats(cap), *b = host_floats(cap);
    int finite = 1;
    na = search_run(a, cap);
    nb = search_run(b, cap);
    for (i = 0; i < na; i++) if (!isfinite(a[i])) finite = 0;
    checks++;
    if (na <= 0 || na != nb || !finite || memcmp(a, b, (size_t)na * sizeof(float))) {
        fprintf(stderr, "  FAIL search determinism: two identical 20-step searches differ (or failed / NaN)\n");
        failures++;
    } else printf("PASS search determinism: 20 alphaGAN search steps twice, %lld values bit for bit\n", (long long)na);
    free(a);
    free(b);
}

/* ---- the FID Inception-v3 forward (random weights): GPU vs CPU ----
   A forward-only network of 94 convolutions: values are continuous in the inputs (a ReLU
   input at 0 gives 0 either way), so the CPU/GPU differences are the products' rounding,
   compared elementwise with atol 1e-4, rtol 1e-3. Three RGB images of an odd size, one per
   batch, features and logits: the GPU run must make all its device allocations in its first
   batch (as many as a one-batch call makes; counted through a wrapped hooks table). One
   grayscale image, features and logits; its features again with TF32 on: the
   Inception forward must ignore it (bit for bit the same). */
static ng_cuda_hooks counting_hooks;
static const ng_cuda_hooks *real_hooks;
static int dev_mallocs;
static void *counting_malloc(size_t bytes) { dev_mallocs++; return real_hooks->dev_malloc(bytes); }
static void count_device_mallocs(int on) {
    if (on) {
        real_hooks = ng_cuda_get_hooks();
        counting_hooks = *real_hooks;
        counting_hooks.dev_malloc = counting_malloc;
    }
    ng_cuda_register(on ? &counting_hooks : real_hooks);
    ng_cuda_init(0);   /* registering asks for it again; the backend keeps its context */
}
static double max_diff(const float *a, const float *b, int64_t n, double *largest) {
    double d = 0.0;
    int64_t i;
    *largest = 0.0;
    for (i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        *largest = fmax(*largest, fabs((double)b[i]));
    }
    return d;
}
static void check_inception(void) {
    enum { N = 3, H = 37, W = 20 };
    static float x[N * 3 * H * W], gray[28 * 28];
    static float f_cpu[N * 2048], f_gpu[N * 2048], l_cpu[N * 1008], l_gpu[N * 1008], g_cpu[2048], g_gpu[2048], g_tf32[2048];
    static float gl_cpu[1008], gl_gpu[1008], t_cpu[N * 2048], t_gpu[N * 2048];
    ng_inception *net = NULL;
    ng_rng r;
    double big = 0.0, diff;
    int bad = 0, mallocs_3, mallocs_1;
    if (!ng_cuda_get_hooks()->inc_conv) { printf("SKIP inception: this backend has no Inception kernels\n"); ng_inception_free(net); return; }
    checks++;
    ng_inception_random(31, &net);
    ng_rng_seed(&r, 32);
    fill_random(&r, x, N * 3 * H * W, -1, 1);
    fill_random(&r, gray, 28 * 28, -1, 1);
    if (!net || ng_inception_forward(net, x, N, 3, H, W, 0, f_cpu, l_cpu) != NG_OK ||
        ng_inception_forward(net, gray, 1, 1, 28, 28, 0, g_cpu, gl_cpu) != NG_OK || ng_inception_to_device(net, NG_CUDA) != NG_OK ||
        ng_inception_device(net) != NG_CUDA) {
        fprintf(stderr, "  FAIL inception setup: %s\n", ng_last_error());
        failures++;
        ng_inception_free(net);
        return;
    }
    count_device_mallocs(1);
    dev_mallocs = 0;
    if (ng_inception_forward(net, x, N, 3, H, W, 1, f_gpu, l_gpu) != NG_OK) bad = 1;
    mallocs_3 = dev_mallocs;
    dev_mallocs = 0;
    if (ng_inception_forward(net, gray, 1, 1, 28, 28, 0, g_gpu, gl_gpu) != NG_OK) bad = 1;
    mallocs_1 = dev_mallocs;
    count_device_mallocs(0);
    if (bad) {
        fprintf(stderr, "  FAIL inception forward on the GPU: %s\n", ng_last_error());
        failures++;
        ng_inception_free(net);
        return;
    }
    if (mallocs_3 != mallocs_1) {
        fprintf(stderr, "  FAIL inception: %d device allocations for 3 batches, %d for one: it allocates after the first batch\n",
                mallocs_3, mallocs_1);
        bad = 1;
    }
    ng_cuda_set_tf32(1);
    if (ng_inception_forward(net, gray, 1, 1, 28, 28, 0, g_tf32, NULL) != NG_OK) bad = 1;
    ng_cuda_set_tf32(0);
    bad |= compare("pool3 (RGB, 3 batches)", "inception", f_gpu, f_cpu, N * 2048, 1e-4, 1e-3);
    bad |= compare("logits", "inception", l_gpu, l_cpu, N * 1008, 1e-4, 1e-3);
    bad |= compare("pool3 (grayscale)", "inception", g_gpu, g_cpu, 2048, 1e-4, 1e-3);
    bad |= compare("logits (grayscale)", "inception", gl_gpu, gl_cpu, 1008, 1e-4, 1e-3);
    if (memcmp(g_gpu, g_tf32, sizeof g_gpu)) { fprintf(stderr, "  FAIL inception: TF32 on changed the features\n"); bad = 1; }
    /* the TF1 preprocessing (its own resize kernel): GPU against CPU, and not the default's */
    if (ng_inception_set_preprocess(net, NG_INCEPTION_TF1) != NG_OK ||
        ng_inception_forward(net, x, N, 3, H, W, 2, t_gpu, NULL) != NG_OK) bad = 1;
    if (ng_inception_to_device(net, NG_CPU) != NG_OK || ng_inception_device(net) != NG_CPU) bad = 1;
    if (ng_inception_forward(net, x, N, 3, H, W, 0, t_cpu, NULL) != NG_OK) bad = 1;
    bad |= compare("pool3 (RGB, TF1 preprocessing)", "inception", t_gpu, t_cpu, N * 2048, 1e-4, 1e-3);
    if (!memcmp(t_cpu, f_cpu, sizeof t_cpu)) { fprintf(stderr, "  FAIL inception: TF1 preprocessing changed nothing\n"); bad = 1; }
    if (bad) failures++;
    diff = max_diff(f_gpu, f_cpu, N * 2048, &big);
    printf("%s inception: FID Inception-v3 forward (random weights), features and logits, CPU vs GPU (features: largest "
           "difference %.2g, largest value %.2g), also with the TF1 preprocessing; %d device allocations for one batch, none after; "
           "TF32 ignored\n",
           bad ? "FAIL" : "PASS", diff, big, mallocs_1);
    ng_inception_free(net);
}

#ifdef NG_PARITY_EMULATE
/* Harness self-check without a GPU: cc -DNG_PARITY_EMULATE ... tests/test_cuda.c (no
   nasgan_cuda.o). The fake device of tests/cuda_fake.h runs every op's "CUDA" column with the
   CPU kernel on guarded host memory, so all comparisons must pass exactly; this exercises the
   harness, the device arena, transfers, device parameter groups and the optimizers' device
   path, not the kernels. */
#include "tests/cuda_fake.h"
#endif

int main(int argc, char **argv) {
    size_t i;
    const char *filter = argc > 1 ? argv[1] : NULL;
#ifdef NG_PARITY_EMULATE
    ng_fake_cuda_register();
#endif
    if (!ng_cuda_get_hooks()) { printf("test_cuda: built without the CUDA backend: skipped\n"); return 0; }
    if (!ng_cuda_available()) { printf("test_cuda: no CUDA device: skipped\n"); return 0; }
    if (ng_cuda_init(0) != NG_OK) { printf("test_cuda: ng_cuda_init failed: %s\n", ng_last_error()); return 1; }
    printf("test_cuda: %s\n", ng_cuda_device_info());
    cpu = ng_ctx_create((size_t)256 << 20, 1);
    gpu = ng_ctx_create_on((size_t)256 << 20, 1, NG_CUDA);
    if (!cpu || !gpu) { printf("test_cuda: cannot create contexts: %s\n", ng_last_error()); return 1; }
    for (i = 0; i < 64; i++) ce_labels[i] = (int32_t)((i * 7) % 10);
    big_init();
    {
        ng_rng r;
        ng_rng_seed(&r, 5);
        for (i = 0; i < sizeof bce_target / sizeof bce_target[0]; i++) bce_target[i] = ng_rng_uniformf(&r, 0, 1);
    }
    /* argument: run only the op cases whose name contains it; "+NAME" runs only the
       whole-program checks whose name contains NAME (refusals, optim, determinism, supernet,
       search, inception), e.g. "+search" */
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!filter || (filter[0] != '+' && strstr(cases[i].name, filter))) {
            ng_rng_seed(&cpu->rng, 1000 + i); /* dropout: both contexts draw the same mask */
            ng_rng_seed(&gpu->rng, 1000 + i);
            run_case(&cases[i], 1000 + i);
        }
    /* the GRU's other CUDA implementation (per-step cuBLAS, NASGAN_CUDA_GRU=cublas) */
    if (!filter || filter[0] != '+') {
        setenv("NASGAN_CUDA_GRU", "cublas", 1);
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (!strncmp(cases[i].name, "seq_gru", 7) && (!filter || strstr(cases[i].name, filter))) {
                printf("  (NASGAN_CUDA_GRU=cublas)\n");
                ng_rng_seed(&cpu->rng, 1000 + i);
                ng_rng_seed(&gpu->rng, 1000 + i);
                run_case(&cases[i], 1000 + i);
            }
        unsetenv("NASGAN_CUDA_GRU");
    }
    {
        const char *only = filter && filter[0] == '+' ? filter + 1 : NULL;
#define NG_PARITY_CHECK(name, fn) if (!filter || (only && strstr(name, only))) fn()
        NG_PARITY_CHECK("refusals", check_refusals);
        NG_PARITY_CHECK("optim", check_optim);
        NG_PARITY_CHECK("determinism", check_determinism);
        NG_PARITY_CHECK("supernet", check_supernet);
        NG_PARITY_CHECK("search", check_search_determinism);
        NG_PARITY_CHECK("inception", check_inception);
#undef NG_PARITY_CHECK
    }
    printf("test_cuda: %d checks, %d failed\n", checks, failures);
    ng_ctx_free(cpu);
    ng_ctx_free(gpu);
    return failures ? 1 : 0;
}
