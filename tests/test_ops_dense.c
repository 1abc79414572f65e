/* Gradient checks and hand-computed values for the dense, activation and loss ops. */
#include "test.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static gc_input gin(ng_shape s) { gc_input g; memset(&g, 0, sizeof g); g.shape = s; g.needs_grad = 1; return g; }

static ng_tensor *f_matmul(ng_ctx *c, ng_tensor **in, void *u) { (void)u; return ng_matmul(c, in[0], in[1]); }
TEST(grad_matmul) {
    int64_t dims[][3] = {{1, 1, 1}, {3, 5, 7}, {7, 1, 2}, {2, 13, 1}};
    size_t i;
    for (i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        gc_input in[2];
        in[0] = gin(ng_shape2(dims[i][0], dims[i][1]));
        in[1] = gin(ng_shape2(dims[i][1], dims[i][2]));
        gradcheck("matmul", f_matmul, NULL, in, 2, 100 + i, gc_default());
    }
}

static ng_tensor *f_linear(ng_ctx *c, ng_tensor **in, void *u) { return ng_linear(c, in[0], in[1], u ? in[2] : NULL); }
TEST(grad_linear) {
    int bias;
    for (bias = 0; bias < 2; bias++) {
        gc_input in[3];
        in[0] = gin(ng_shape2(5, 3)); in[1] = gin(ng_shape2(7, 3)); in[2] = gin(ng_shape1(7));
        gradcheck("linear", f_linear, bias ? (void *)1 : NULL, in, 2 + bias, 200 + bias, gc_default());
        in[0] = gin(ng_shape2(1, 1)); in[1] = gin(ng_shape2(1, 1)); in[2] = gin(ng_shape1(1));
        gradcheck("linear 1x1", f_linear, bias ? (void *)1 : NULL, in, 2 + bias, 210 + bias, gc_default());
    }
}

static ng_tensor *f_binary(ng_ctx *c, ng_tensor **in, void *u) {
    int kind = (int)(intptr_t)u;
    return kind == 0 ? ng_add(c, in[0], in[1]) : kind == 1 ? ng_sub(c, in[0], in[1]) : ng_mul(c, in[0], in[1]);
}
TEST(grad_elementwise_broadcast) {
    ng_shape pairs[][2] = {
        {{4, {2, 3, 5, 7}}, {4, {2, 3, 5, 7}}},
        {{4, {2, 3, 5, 7}}, {1, {7, 1, 1, 1}}},
        {{4, {2, 3, 5, 7}}, {4, {1, 3, 1, 1}}},
        {{2, {3, 1, 1, 1}}, {3, {2, 1, 5, 1}}},
        {{1, {1, 1, 1, 1}}, {2, {3, 2, 1, 1}}},
    };
    int kind;
    size_t i;
    for (kind = 0; kind < 3; kind++)
        for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            gc_input in[2];
            in[0] = gin(pairs[i][0]); in[1] = gin(pairs[i][1]);
            gradcheck(kind == 0 ? "add" : kind == 1 ? "sub" : "mul", f_binary, (void *)(intptr_t)kind, in, 2, 300 + 10 * kind + i, gc_default());
        }
}

static ng_tensor *f_scale(ng_ctx *c, ng_tensor **in, void *u) { (void)u; return ng_add_scalar(c, ng_scale(c, in[0], -2.5f), 0.75f); }
TEST(grad_scale_add_scalar) {
    gc_input in[1];
    in[0] = gin(ng_shape3(2, 3, 5));
    gradcheck("scale", f_scale, NULL, in, 1, 400, gc_default());
}

typedef struct { unsigned axes; int keepdim, mean; } red_args;
static ng_tensor *f_reduce(ng_ctx *c, ng_tensor **in, void *u) {
    red_args *a = (red_args *)u;
    return a->mean ? ng_mean(c, in[0], a->axes, a->keepdim) : ng_sum(c, in[0], a->axes, a->keepdim);
}
TEST(grad_reduce) {
    unsigned axes;
    int keep, mean;
    for (axes = 1; axes < 16; axes += 3)
        for (keep = 0; keep < 2; keep++)
            for (mean = 0; mean < 2; mean++) {
                red_args a;
                gc_input in[1];
                a.axes = axes; a.keepdim = keep; a.mean = mean;
                in[0] = gin(ng_shape4(2, 3, 1, 5));
                gradcheck("reduce", f_reduce, &a, in, 1, 500 + axes * 4 + keep * 2 + mean, gc_default());
            }
}
TEST(reduce_values_and_shapes) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    float v[6] = {1, 2, 3, 4, 5, 6};
    ng_tensor *x = ng_tensor_from(c, ng_shape2(2, 3), v);
    ng_tensor *s0 = ng_sum(c, x, 1u, 0), *m1 = ng_mean(c, x, 2u, 1), *all = ng_sum(c, x, NG_ALL_AXES, 0);
    CHECK(s0->shape.ndim == 1 && s0->shape.d[0] == 3);
    CHECK(s0->data[0] == 5 && s0->data[1] == 7 && s0->data[2] == 9);
    CHECK(m1->shape.ndim == 2 && m1->shape.d[0] == 2 && m1->shape.d[1] == 1);
    CHECK(m1->data[0] == 2 && m1->data[1] == 5);
    CHECK(all->shape.ndim == 0 && all->numel == 1 && all->data[0] == 21);
    ng_ctx_free(c);
}

static ng_tensor *f_shape_ops(ng_ctx *c, ng_tensor **in, void *u) {
    int axis = (int)(intptr_t)u;
    ng_tensor *cat = ng_concat(c, in, 3, axis);
    ng_tensor *sl = ng_slice(c, cat, axis, 0, cat->shape.d[axis] - 1);
    return ng_reshape(c, sl, ng_shape1(sl->numel));
}
TEST(grad_concat_slice_reshape) {
    int axis;
    for (axis = 0; axis < 3; axis++) {
        gc_input in[3];
        int k;
        for (k = 0; k < 3; k++) {
            ng_shape s = ng_shape3(2, 3, 2);
            s.d[axis] = k + 1;
            in[k] = gin(s);
        }
        gradcheck("concat/slice/reshape", f_shape_ops, (void *)(intptr_t)axis, in, 3, 600 + axis, gc_default());
    }
}

typedef struct { int which; float p; } act_args;
static ng_tensor *f_act(ng_ctx *c, ng_tensor **in, void *u) {
    act_args *a = (act_args *)u;
    switch (a->which) {
    case 0: return ng_relu(c, in[0]);
    case 1: return ng_leaky_relu(c, in[0], a->p);
    case 2: return ng_tanh(c, in[0]);
    case 3: return ng_sigmoid(c, in[0]);
    case 4: return ng_softmax(c, in[0], (int)a->p);
    case 5: return ng_log_softmax(c, in[0], (int)a->p);
    default: return ng_dropout(c, in[0], a->p);
    }
}
TEST(grad_activations) {
    int w, axis;
    for (w = 0; w < 4; w++) {
        act_args a;
        gc_input in[1];
        a.which = w; a.p = 0.2f;
        in[0] = gin(ng_shape3(3, 5, 7));
        in[0].lo = -3; in[0].hi = 3;
        gradcheck("activation", f_act, &a, in, 1, 700 + w, gc_default());
    }
    for (w = 4; w < 6; w++)
        for (axis = 0; axis < 3; axis++) {
            act_args a;
            gc_input in[1];
            a.which = w; a.p = (float)axis;
            in[0] = gin(ng_shape3(2, 5, 3));
            in[0].lo = -4; in[0].hi = 4;
            gradcheck("softmax", f_act, &a, in, 1, 720 + w * 3 + axis, gc_default());
        }
}
/* ng_tanh's forward is (float)tanh((double)x), i.e. correctly rounded up to the rare double
   rounding of the reference: every 4099th positive float bit pattern and its negation, plus
   the special values (glibc's tanhf fails this on ~3% of the sample) */
TEST(tanh_matches_rounded_double_tanh) {
    enum { STRIDE = 4099 };
    int64_t n = 0x7f800000 / STRIDE + 1, i, bad = 0;
    ng_ctx *c = ng_ctx_create((size_t)64 << 20, 1);
    ng_tensor *x = ng_tensor_new(c, ng_shape1(2 * n + 6)), *y;
    float special[6] = {0.0f, -0.0f, INFINITY, -INFINITY, 20.0f, -9.01f};
    for (i = 0; i < n; i++) {
        uint32_t u = (uint32_t)(i * STRIDE);
        memcpy(&x->data[2 * i], &u, 4);
        x->data[2 * i + 1] = -x->data[2 * i];
    }
    memcpy(x->data + 2 * n, special, sizeof special);
    y = ng_tanh(c, x);
    for (i = 0; i < x->numel; i++) {
        float want = (float)tanh((double)x->data[i]);
        bad += memcmp(&y->data[i], &want, 4) != 0;   /* bit for bit: the sign of 0 too */
    }
    CHECK_MSG(bad == 0, "%lld of %lld values differ from (float)tanh((double)x)", (long long)bad, (long long)x->numel);
    CHECK(isnan(ng_tanh(c, ng_tensor_from(c, ng_shape1(1), (float[]){NAN}))->data[0]));
    ng_ctx_free(c);
}
TEST(grad_dropout_both_modes) {
    int training;
    for (training = 0; training < 2; training++) {
        act_args a;
        gc_input in[1];
        gc_opts o = gc_default();
        o.training = training;
        a.which = 6; a.p = 0.3f;
        in[0] = gin(ng_shape2(17, 11));
        gradcheck("dropout", f_act, &a, in, 1, 800 + training, o);
    }
}
TEST(dropout_statistics) {
    ng_ctx *c = ng_ctx_create(8 << 20, 7);
    ng_tensor *x = ng_tensor_new(c, ng_shape1(100000)), *y;
    int64_t i, zeros = 0;
    double s = 0;
    for (i = 0; i < x->numel; i++) x->data[i] = 1.0f;
    y = ng_dropout(c, x, 0.25f);
    for (i = 0; i < y->numel; i++) { zeros += y->data[i] == 0.0f; s += y->data[i]; }
    CHECK(fabs((double)zeros / 100000.0 - 0.25) < 0.01);
    CHECK(fabs(s / 100000.0 - 1.0) < 0.02);
    ng_ctx_set_training(c, 0);
    CHECK(ng_dropout(c, x, 0.25f) == x);
    ng_ctx_free(c);
}
/* Dropout masks are counter-based (ng_dropout_bits of a per-call key): the mask follows the
   formula the GPU kernels also use, is the same on 1 and 2 threads, changes from call to
   call, and neighbouring elements are independent (a weak hash of the counter shows there). */
TEST(dropout_counter_based_masks) {
    enum { N = 200000 };
    ng_ctx *c = ng_ctx_create(16 << 20, 11);
    ng_tensor *x = ng_tensor_new(c, ng_shape1(N)), *y1, *y2;
    ng_rng r0 = c->rng;
    uint64_t key = ng_rng_u64(&r0);   /* the call's key: the context RNG's next draw */
    uint32_t thr = ng_dropout_threshold(0.25f);
    int64_t i, formula_ok = 0, same = 0, both = 0;
    for (i = 0; i < N; i++) x->data[i] = 1.0f;
    y1 = ng_dropout(c, x, 0.25f);
    y2 = ng_dropout(c, x, 0.25f);
    CHECK(y1 && y2);
    for (i = 0; i < N; i++) {
        formula_ok += (y1->data[i] == 0.0f) == (ng_dropout_bits(key, (uint64_t)i) < thr);
        same += (y1->data[i] == 0.0f) == (y2->data[i] == 0.0f);
        if (i + 1 < N) both += y1->data[i] == 0.0f && y1->data[i + 1] == 0.0f;
    }
    CHECK(formula_ok == N);
    /* independent masks agree on 0.25^2 + 0.75^2 = 62.5% of the elements */
    CHECK_MSG(fabs((double)same / N - 0.625) < 0.01, "two calls' masks agree on %.4f", (double)same / N);
    CHECK_MSG(fabs((double)both / (N - 1) - 0.0625) < 0.005, "neighbours both dropped: %.4f", (double)both / (N - 1));
#ifdef _OPENMP
    {
        int nt = omp_get_max_threads();
        ng_rng r = c->rng;
        ng_tensor *a, *b;
        omp_set_num_threads(1);
        a = ng_dropout(c, x, 0.4f);
        omp_set_num_threads(nt > 1 ? nt : 2);
        c->rng = r;   /* the same key */
        b = ng_dropout(c, x, 0.4f);
        omp_set_num_threads(nt);
        CHECK(a && b && memcmp(a->data, b->data, N * sizeof(float)) == 0);
    }
#endif
    ng_ctx_free(c);
}

static int32_t ce_labels[7] = {0, 4, 2, 2, 1, 3, 4};
static ng_tensor *f_ce(ng_ctx *c, ng_tensor **in, void *u) { (void)u; return ng_cross_entropy(c, in[0], ce_labels); }
static ng_tensor *f_hinge(ng_ctx *c, ng_tensor **in, void *u) {
    int m = (int)(intptr_t)u;
    return m < 3 ? ng_hinge(c, in[0], m) : m == 3 ? ng_hinge_loss_d(c, in[0], in[1]) : ng_hinge_loss_g(c, in[0]);
}
static ng_tensor *f_bce(ng_ctx *c, ng_tensor **in, void *u) {
    float *t = (float *)u;
    ng_tensor *tt = ng_tensor_from(c, in[0]->shape, t);
    return ng_bce_with_logits(c, in[0], tt);
}
TEST(grad_losses) {
    gc_input in[2];
    int m;
    float t[12] = {0, 1, 1, 0, 0.5f, 0.25f, 1, 0, 1, 1, 0, 0.9f};
    in[0] = gin(ng_shape2(7, 5));
    in[0].lo = -3; in[0].hi = 3;
    gradcheck("cross_entropy", f_ce, NULL, in, 1, 900, gc_default());
    for (m = 0; m < 5; m++) {
        in[0] = gin(ng_shape2(13, 1)); in[0].lo = -2.5f; in[0].hi = 2.5f;
        in[1] = gin(ng_shape2(11, 1)); in[1].lo = -2.5f; in[1].hi = 2.5f;
        gradcheck("hinge", f_hinge, (void *)(intptr_t)m, in, m == 3 ? 2 : 1, 910 + m, gc_default());
    }
    in[0] = gin(ng_shape2(3, 4)); in[0].lo = -4; in[0].hi = 4;
    gradcheck("bce_with_logits", f_bce, t, in, 1, 920, gc_default());
}
TEST(loss_values) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    float logits[4] = {0, 0, 1000, -1000}, big[2] = {100, -100}, tg[2] = {1, 0};
    int32_t lab[2] = {1, 0};
    ng_tensor *x = ng_tensor_from(c, ng_shape2(2, 2), logits);
    ng_tensor *ce = ng_cross_entropy(c, x, lab);
    ng_tensor *b = ng_bce_with_logits(c, ng_tensor_from(c, ng_shape1(2), big), ng_tensor_from(c, ng_shape1(2), tg));
    CHECK_CLOSE(ce->data[0], 0.5 * log(2.0), 1e-6, 1e-6); /* row 2 is exactly right: loss 0 */
    CHECK_CLOSE(b->data[0], 0.0, 1e-6, 0);
    lab[0] = 2; /* out of range: recoverable error, NULL result, context failed */
    CHECK(ng_cross_entropy(c, x, lab) == NULL);
    CHECK(ng_ctx_status(c) == NG_ERR_ARG && strstr(ng_last_error(), "outside"));
    CHECK(ng_relu(c, x) == NULL); /* later ops propagate the failure */
    ng_ctx_free(c);
}
