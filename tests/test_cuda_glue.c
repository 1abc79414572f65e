/* The CUDA glue in the CPU build (no nasgan_cuda.o linked): every entry point refuses with
   NG_ERR_UNSUPPORTED and a clear message, and the op dispatch refuses mixed devices before
   touching any data. The kernels themselves are tested by tests/cuda_parity.c (make test-cuda). */
#include "test.h"

TEST(cuda_glue_absent_backend_refuses) {
    ng_params *g = ng_params_create("p", 1);
    ng_ctx *c;
    CHECK(ng_cuda_get_hooks() == NULL);
    CHECK(!ng_cuda_available());
    CHECK(ng_cuda_init(0) == NG_ERR_UNSUPPORTED);
    CHECK(strstr(ng_last_error(), "make cuda") != NULL);
    CHECK(ng_ctx_create_on(1 << 20, 1, NG_CUDA) == NULL);
    CHECK(strstr(ng_last_error(), "ng_cuda_init") != NULL);
    c = ng_ctx_create_on(1 << 20, 1, NG_CPU);
    CHECK(c != NULL && c->device == NG_CPU);
    ng_ctx_free(c);
    CHECK(ng_params_add(g, "w", ng_shape1(3)) != NULL);
    CHECK_OK(ng_params_alloc(g));
    CHECK(ng_params_to_device(g, NG_CUDA) == NG_ERR_UNSUPPORTED);
    CHECK(g->device == NG_CPU && g->tensors[0]->device == NG_CPU);
    CHECK_OK(ng_params_to_device(g, NG_CPU)); /* already there */
    CHECK(!ng_cuda_op_supported(NG_OP_MATMUL, 0));
    CHECK(ng_cuda_synchronize() == NG_ERR_UNSUPPORTED);
    CHECK(ng_cuda_alloc_zeros(4) == NULL);
    CHECK(strcmp(ng_cuda_device_info(), "") == 0);
    ng_params_free(g);
}

TEST(cuda_glue_mixed_devices_refused) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    float v[6] = {1, 2, 3, 4, 5, 6}, h[6];
    ng_tensor *a = ng_tensor_from(c, ng_shape2(2, 3), v), *b = ng_tensor_from(c, ng_shape2(2, 3), v), *y;
    b->device = NG_CUDA; /* pretend: the dispatch must refuse before reading it */
    y = ng_add(c, a, b);
    CHECK(y == NULL);
    CHECK(ng_ctx_status(c) == NG_ERR_UNSUPPORTED);
    CHECK(strstr(ng_last_error(), "add") != NULL && strstr(ng_last_error(), "copy explicitly") != NULL);
    ng_ctx_reset(c);
    a = ng_tensor_from(c, ng_shape2(2, 3), v);
    b = ng_tensor_from(c, ng_shape2(2, 3), v);
    y = ng_add(c, a, b);
    CHECK(y != NULL && y->device == NG_CPU);
    CHECK_OK(ng_tensor_to_host(y, h));
    CHECK(h[5] == 12.0f);
    CHECK_OK(ng_tensor_to_device(y, v)); /* a host tensor: plain copy */
    CHECK(y->data[5] == 6.0f);
    CHECK(ng_tensor_copy_to(c, y) != NULL);
    ng_ctx_free(c);
}

TEST(cuda_glue_host_only_code_refuses_device_groups) {
    ng_params *g = ng_params_create("p", 1);
    ng_adam opt;
    ng_ema e;
    ng_params *gs[1];
    CHECK(ng_params_add(g, "w", ng_shape1(3)) != NULL);
    CHECK_OK(ng_params_alloc(g));
    g->device = NG_CUDA; /* pretend: host-only code must refuse before touching the blocks */
    CHECK(ng_adam_init(&opt, g, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f) == NG_ERR_UNSUPPORTED);
    CHECK(ng_ema_init(&e, g, 0.9f) == NG_ERR_UNSUPPORTED);
    gs[0] = g;
    CHECK(isnan(ng_clip_grad_norm(gs, 1, 1.0f)));
    CHECK(strstr(ng_last_error(), "clip_grad_norm") != NULL);
    g->device = NG_CPU;
    ng_params_free(g);
}
