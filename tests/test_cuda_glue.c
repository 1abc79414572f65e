/* The CUDA glue in the CPU build (no nasgan_cuda.o linked): every entry point refuses with
   NG_ERR_UNSUPPORTED and a clear message, and the op dispatch refuses mixed devices before
   touching any data. The kernels themselves are tested by tests/test_cuda.c (make test-cuda). */
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

/* Tensors an op reads beside its inputs (BCE target, BN running statistics, spectral norm's
   u and v) are refused on another device too: the kernels would take a host pointer as a
   device one. */
TEST(cuda_glue_side_tensors_on_another_device_refused) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    float v[6] = {1, 2, 3, 4, 5, 6};
    ng_tensor *x, *t, *y;
    int k;
    for (k = 0; k < 4; k++) {
        ng_ctx_reset(c);
        x = ng_tensor_from(c, ng_shape2(2, 3), v);
        t = ng_tensor_from(c, k == 3 ? ng_shape1(2) : k == 0 ? ng_shape2(2, 3) : ng_shape1(3), v);
        t->device = NG_CUDA; /* pretend: refused before any data is read */
        if (k == 0) y = ng_bce_with_logits(c, x, t);
        else if (k == 1) y = ng_batch_norm(c, x, NULL, NULL, t, ng_tensor_from(c, ng_shape1(3), v), 0.1f, 1e-5f);
        else if (k == 2) y = ng_seq_batch_norm(c, ng_reshape(c, x, ng_shape3(1, 2, 3)), NULL, NULL, ng_tensor_from(c, ng_shape1(3), v), t, 0.1f, 1e-5f);
        else y = ng_spectral_norm(c, x, t, ng_tensor_from(c, ng_shape1(3), v), 1e-12f);
        CHECK(y == NULL);
        CHECK(ng_ctx_status(c) == NG_ERR_UNSUPPORTED);
        CHECK(strstr(ng_last_error(), "is on the GPU but the input is on the CPU") != NULL);
    }
    ng_ctx_free(c);
}

TEST(cuda_glue_device_groups_without_backend_refused) {
    ng_params *g = ng_params_create("p", 1);
    ng_adam opt;
    ng_ema e;
    ng_params *gs[1];
    CHECK(ng_params_add(g, "w", ng_shape1(3)) != NULL);
    CHECK_OK(ng_params_alloc(g));
    g->device = NG_CUDA; /* pretend: the optimizers must refuse before touching the blocks */
    CHECK(ng_adam_init(&opt, g, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f) == NG_ERR_NOMEM);
    CHECK(strstr(ng_last_error(), "GPU") != NULL);
    CHECK(ng_ema_init(&e, g, 0.9f) == NG_ERR_NOMEM);
    gs[0] = g;
    CHECK(isnan(ng_clip_grad_norm(gs, 1, 1.0f)));
    CHECK(strstr(ng_last_error(), "clip_grad_norm") != NULL && strstr(ng_last_error(), "not linked") != NULL);
    g->device = NG_CPU;
    ng_params_free(g);
}

/* A fake backend whose "device" memory is host memory: checks the glue (device arena, explicit
   transfers, moving parameter groups, refusing ops without kernels) without a GPU. */
static int fake_count(void) { return 1; }
static ng_status fake_init(int device) { (void)device; return NG_OK; }
static const char *fake_info(void) { return "fake device"; }
static int fake_live;
static void *fake_malloc(size_t b) { fake_live++; return malloc(b ? b : 1); }
static void fake_free(void *p) { if (p) fake_live--; free(p); }
static int fake_copy(void *d, const void *s, size_t b) { memcpy(d, s, b); return 0; }
static int fake_memset0(void *p, size_t b) { memset(p, 0, b); return 0; }
static int fake_sync(void) { return 0; }
static void fake_tf32(int on) { (void)on; }
static size_t fake_peak(void) { return 0; }
static void fake_scale_fw(ng_node *n) { int64_t i; for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->f[0] * n->in[0]->data[i]; }
static void fake_scale_bw(ng_node *n) {
    int64_t i;
    float *g = ng__cuda_in_grad(n, 0);
    if (g) for (i = 0; i < n->out->numel; i++) g[i] += n->f[0] * n->out->grad[i];
}

TEST(cuda_glue_fake_backend) {
    static ng_cuda_hooks h;
    ng_ctx *c;
    ng_params *g = ng_params_create("p", 1), *g2 = ng_params_create("q", 1);
    ng_tensor *w, *x, *y;
    float v[4] = {1, 2, 3, 4}, out[4];
    memset(&h, 0, sizeof h);
    h.device_count = fake_count; h.init = fake_init; h.info = fake_info; h.dev_malloc = fake_malloc; h.dev_free = fake_free;
    h.memcpy_h2d = fake_copy; h.memcpy_d2h = fake_copy; h.memcpy_d2d = fake_copy; h.memset0 = fake_memset0;
    h.synchronize = fake_sync; h.set_tf32 = fake_tf32; h.peak_bytes = fake_peak;
    h.fw[NG_OP_SCALE] = fake_scale_fw; h.bw[NG_OP_SCALE] = fake_scale_bw;
    ng_cuda_register(&h);
    CHECK(ng_cuda_available());
    CHECK(ng_ctx_create_on(1 << 20, 1, NG_CUDA) == NULL); /* not initialised yet */
    CHECK_OK(ng_cuda_init(0));
    CHECK(strcmp(ng_cuda_device_info(), "fake device") == 0);
    CHECK(ng_cuda_op_supported(NG_OP_SCALE, 1) && !ng_cuda_op_supported(NG_OP_MATMUL, 0));
    c = ng_ctx_create_on(1 << 20, 1, NG_CUDA);
    CHECK(c != NULL && c->device == NG_CUDA && fake_live == 1);
    w = ng_params_add(g, "w", ng_shape1(4));
    CHECK(ng_params_add(g2, "w", ng_shape1(4)) != NULL);
    CHECK_OK(ng_params_alloc(g));
    CHECK_OK(ng_params_alloc(g2));
    memcpy(g->data, v, sizeof v);
    CHECK_OK(ng_params_to_device(g, NG_CUDA));
    CHECK(g->device == NG_CUDA && w->device == NG_CUDA && w->data == g->data && g->host_data != NULL && fake_live == 3);
    ng_ctx_grad_for(c, &g, 1);
    y = ng_scale(c, w, 2.0f);
    CHECK(y != NULL && y->device == NG_CUDA);
    CHECK_OK(ng_backward(c, ng_sum(c, y, NG_ALL_AXES, 0)) == NG_ERR_UNSUPPORTED ? NG_OK : NG_ERR_ARG); /* sum has no kernel */
    CHECK(ng_ctx_status(c) == NG_ERR_UNSUPPORTED && strstr(ng_last_error(), "reduce") != NULL);
    ng_ctx_reset(c);
    y = ng_scale(c, w, 2.0f);
    CHECK_OK(ng_backward_from(c, y, v)); /* host seed added through a host copy */
    CHECK_OK(ng_tensor_to_host(y, out));
    CHECK(out[3] == 8.0f);
    CHECK_OK(ng_params_sync_host(g));
    CHECK(g->host_grad[2] == 6.0f);
    ng_params_zero_grad(g);
    CHECK_OK(ng_params_copy(g2, g)); /* device -> host */
    CHECK(g2->data[1] == 2.0f);
    x = ng_tensor_from(c, ng_shape1(4), v);
    CHECK(x && x->device == NG_CUDA);
    y = ng_scale(c, ng_tensor_copy_to(c, x), -1.0f);
    CHECK_OK(ng_tensor_to_host(y, out));
    CHECK(out[0] == -1.0f);
    CHECK_OK(ng_params_to_device(g, NG_CPU));
    CHECK(g->device == NG_CPU && w->data == g->data && g->grad[2] == 0.0f && g->data[3] == 4.0f && fake_live == 1);
    ng_ctx_free(c);
    CHECK(fake_live == 0);
    ng_params_free(g);
    ng_params_free(g2);
    ng_cuda_register(NULL);
    CHECK(!ng_cuda_available() && strcmp(ng_cuda_device_info(), "") == 0);
}
