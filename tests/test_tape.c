/* Tape behaviour: gradients accumulate, zeroing is explicit, backward restricted to groups. */
#include "test.h"

TEST(tape_accumulate_and_restrict) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    ng_params *g1 = ng_params_create("a", 1), *g2 = ng_params_create("b", 1);
    ng_tensor *w1 = ng_params_add(g1, "w", ng_shape1(3)), *w2 = ng_params_add(g2, "w", ng_shape1(3)), *loss;
    int i;
    CHECK_OK(ng_params_alloc(g1));
    CHECK_OK(ng_params_alloc(g2));
    for (i = 0; i < 3; i++) { w1->data[i] = (float)(i + 1); w2->data[i] = (float)(10 * (i + 1)); }
    /* loss = sum(w1 * w2): d/dw1 = w2, d/dw2 = w1 */
    ng_ctx_grad_for(c, &g1, 1);
    loss = ng_sum(c, ng_mul(c, w1, w2), NG_ALL_AXES, 0);
    CHECK(c->n_nodes == 2);
    CHECK_OK(ng_backward(c, loss));
    CHECK(w1->grad[0] == 10 && w1->grad[2] == 30);
    CHECK(w2->grad[0] == 0 && w2->grad[2] == 0); /* not in the active groups: untouched */
    CHECK_OK(ng_backward(c, loss));              /* second pass accumulates */
    CHECK(w1->grad[1] == 40);
    ng_params_zero_grad(g1);
    CHECK(w1->grad[1] == 0);
    ng_ctx_reset(c);
    ng_ctx_grad_for(c, NULL, 0); /* nothing active: no tape at all */
    loss = ng_sum(c, ng_mul(c, w1, w2), NG_ALL_AXES, 0);
    CHECK(c->n_nodes == 0 && loss->data[0] == 10 + 40 + 90);
    ng_params_free(g1);
    ng_params_free(g2);
    ng_ctx_free(c);
}

TEST(arena_exhaustion_is_an_error) {
    ng_ctx *c = ng_ctx_create(4096, 1);
    ng_tensor *x = ng_tensor_zeros(c, ng_shape1(16)), *y;
    CHECK(x != NULL);
    y = ng_tensor_new(c, ng_shape2(1000, 1000));
    CHECK(y == NULL);
    CHECK(ng_ctx_status(c) == NG_ERR_NOMEM);
    CHECK(strstr(ng_last_error(), "arena exhausted") != NULL);
    CHECK(ng_relu(c, x) == NULL);
    CHECK(ng_backward(c, NULL) == NG_ERR_NOMEM);
    ng_ctx_reset(c);
    CHECK(ng_relu(c, ng_tensor_zeros(c, ng_shape1(16))) != NULL);
    ng_ctx_free(c);
}

static void bad_matmul(void *arg) {
    ng_ctx *c = (ng_ctx *)arg;
    ng_matmul(c, ng_tensor_zeros(c, ng_shape2(2, 3)), ng_tensor_zeros(c, ng_shape2(4, 2)));
}
TEST(shape_mismatch_asserts) {
    ng_ctx *c = ng_ctx_create(1 << 16, 1);
    CHECK(ng_test_expect_assert(bad_matmul, c));
    ng_ctx_free(c);
}

TEST(params_layout_and_errors) {
    ng_params *g = ng_params_create("net", 1);
    ng_tensor *a = ng_params_add(g, "a", ng_shape2(2, 3)), *b = ng_params_add(g, "b", ng_shape1(5));
    CHECK(a && b && g->numel == 11);
    CHECK(ng_params_add(g, "a", ng_shape1(1)) == NULL && strstr(ng_last_error(), "duplicate"));
    CHECK_OK(ng_params_alloc(g));
    CHECK(b->data == g->data + 6 && b->grad == g->grad + 6);
    CHECK(ng_params_add(g, "c", ng_shape1(1)) == NULL);
    CHECK(ng_params_find(g, "b") == b);
    ng_params_free(g);
}

TEST(rng_reproducible_and_uniform) {
    ng_rng a, b;
    int i, hist[10] = {0};
    double s = 0, s2 = 0;
    ng_rng_seed(&a, 42); ng_rng_seed(&b, 42);
    for (i = 0; i < 1000; i++) CHECK(ng_rng_u64(&a) == ng_rng_u64(&b));
    for (i = 0; i < 100000; i++) {
        double u = ng_rng_uniform(&a), z = ng_rng_normal(&a);
        hist[(int)(u * 10)]++;
        s += z; s2 += z * z;
    }
    for (i = 0; i < 10; i++) CHECK(abs(hist[i] - 10000) < 500);
    CHECK(fabs(s / 100000) < 0.02 && fabs(s2 / 100000 - 1) < 0.03);
}
