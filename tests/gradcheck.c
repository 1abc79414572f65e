/* Central-difference gradient check in double against the tape's backward, with a random
   upstream gradient so every output element matters. */
#include "test.h"

void fill_uniform(float *x, int64_t n, ng_rng *r, float lo, float hi) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = ng_rng_uniformf(r, lo, hi);
}

gc_opts gc_default(void) {
    gc_opts o;
    o.h = 1e-3; o.atol = 2e-3; o.rtol = 2e-2; o.floor = 1e-4; o.training = 1;
    return o;
}

/* sum(out * r) in double for the current input values; the RNG is reseeded so stochastic ops
   (dropout) draw the same mask every time. */
static double objective(ng_ctx *ctx, gc_forward f, void *user, float **vals, const gc_input *inp,
                        int n_in, const float *r, int64_t *out_n, uint64_t seed) {
    ng_tensor *in[16], *out;
    double s = 0.0;
    int64_t j;
    int k;
    ng_ctx_reset(ctx);
    ng_rng_seed(&ctx->rng, seed ^ 0xD1CEull);
    for (k = 0; k < n_in; k++) in[k] = ng_tensor_from(ctx, inp[k].shape, vals[k]);
    out = f(ctx, in, user);
    if (!out) return NAN;
    *out_n = out->numel;
    if (r) for (j = 0; j < out->numel; j++) s += (double)out->data[j] * r[j];
    return s;
}

int gradcheck(const char *name, gc_forward f, void *user, const gc_input *inp, int n_in, uint64_t seed, gc_opts o) {
    ng_ctx *ctx = ng_ctx_create(64u << 20, seed);
    ng_rng rng;
    float *vals[16], *grads[16], *r = NULL;
    ng_tensor *in[16], *out;
    int64_t out_n = 0, j;
    int k, bad = 0;
    NG_ASSERT(n_in <= 16 && ctx);
    ng_test_seed = seed;
    ng_ctx_set_training(ctx, o.training);
    ng_rng_seed(&rng, seed);
    for (k = 0; k < n_in; k++) {
        int64_t n = ng_shape_numel(inp[k].shape);
        float lo = inp[k].lo, hi = inp[k].hi;
        if (lo == 0.0f && hi == 0.0f) { lo = -1.0f; hi = 1.0f; }
        vals[k] = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
        grads[k] = (float *)calloc((size_t)(n ? n : 1), sizeof(float));
        fill_uniform(vals[k], n, &rng, lo, hi);
    }
    /* analytic: one forward with a random upstream gradient */
    ng_ctx_reset(ctx);
    ng_rng_seed(&ctx->rng, seed ^ 0xD1CEull);
    for (k = 0; k < n_in; k++) {
        in[k] = ng_tensor_from(ctx, inp[k].shape, vals[k]);
        if (inp[k].needs_grad) ng_tensor_requires_grad(in[k]);
    }
    out = f(ctx, in, user);
    if (!out) { ng_test_fail(__FILE__, __LINE__, "%s: forward failed: %s", name, ng_last_error()); bad = 1; goto done; }
    out_n = out->numel;
    r = (float *)malloc((size_t)(out_n ? out_n : 1) * sizeof(float));
    fill_uniform(r, out_n, &rng, -1.0f, 1.0f);
    for (j = 0; j < out_n; j++)
        if (!isfinite(out->data[j])) { ng_test_fail(__FILE__, __LINE__, "%s: non-finite output %g at %lld", name, out->data[j], (long long)j); bad++; goto done; }
    if (ng_backward_from(ctx, out, r) != NG_OK) { ng_test_fail(__FILE__, __LINE__, "%s: backward failed: %s", name, ng_last_error()); bad = 1; goto done; }
    for (k = 0; k < n_in; k++)
        if (inp[k].needs_grad) {
            if (!in[k]->grad) { ng_test_fail(__FILE__, __LINE__, "%s: input %d got no gradient", name, k); bad++; continue; }
            memcpy(grads[k], in[k]->grad, (size_t)in[k]->numel * sizeof(float));
        }
    /* numeric */
    for (k = 0; k < n_in; k++) {
        int64_t n = ng_shape_numel(inp[k].shape);
        double gmax = 0.0;
        if (!inp[k].needs_grad) continue;
        for (j = 0; j < n; j++) {
            float x0 = vals[k][j];
            double fp, fm, num, ana = grads[k][j];
            int64_t dummy;
            vals[k][j] = (float)(x0 + o.h);
            fp = objective(ctx, f, user, vals, inp, n_in, r, &dummy, seed);
            vals[k][j] = (float)(x0 - o.h);
            fm = objective(ctx, f, user, vals, inp, n_in, r, &dummy, seed);
            vals[k][j] = x0;
            num = (fp - fm) / (((double)(float)(x0 + o.h)) - ((double)(float)(x0 - o.h)));
            if (fabs(ana) > gmax) gmax = fabs(ana);
            if (!isfinite(ana) || !isfinite(num) || fabs(ana - num) > o.atol + o.rtol * fabs(num)) {
                if (bad < 5) ng_test_fail(__FILE__, __LINE__, "%s: input %d element %lld: analytic %.6g numeric %.6g", name, k, (long long)j, ana, num);
                bad++;
            }
        }
        if (n > 0 && gmax <= o.floor) {
            ng_test_fail(__FILE__, __LINE__, "%s: input %d gradient is ~0 (max %.3g): the check would be vacuous", name, k, gmax);
            bad++;
        }
    }
done:
    if (bad > 5) ng_test_fail(__FILE__, __LINE__, "%s: %d mismatches in total", name, bad);
    for (k = 0; k < n_in; k++) { free(vals[k]); free(grads[k]); }
    free(r);
    ng_ctx_free(ctx);
    return bad;
}
