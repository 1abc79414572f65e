/* Memory savings of the alphaGAN steps change no value: a supernet forward without tape
   (arena compacted edge by edge) equals the recorded one bit for bit and keeps little arena. */
#include "test.h"

static ng_gan_config mem_cfg(void) {
    ng_gan_config c;
    CHECK_OK(ng_gan_config_preset(&c, "cifar10"));
    c.gf_dim = 8; c.df_dim = 8; c.latent_dim = 6; c.bottom_width = 2; c.channels = 3;
    return c;
}

TEST(gan_steps_mem_untaped_forward_is_compact_and_equal) {
    ng_gan_config cfg = mem_cfg();
    ng_rng r;
    ng_gan_gen_search *G;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 3);
    ng_tensor *z, *y;
    float *y_free = NULL, zv[4 * 6];
    size_t used_free, used_taped;
    int fuse, i;
    ng_rng_seed(&r, 5);
    G = ng_gan_gen_search_create(&cfg, "G", &r);
    CHECK(G && ctx);
    if (!G || !ctx) return;
    for (i = 0; i < 24; i++) zv[i] = (float)ng_rng_normal(&r);
    for (fuse = 0; fuse < 2; fuse++) {
        G->fuse = fuse;
        /* no group receives gradients: nothing is recorded, the arena is compacted */
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, NULL, 0);
        z = ng_tensor_from(ctx, ng_shape2(4, 6), zv);
        y = ng_gan_gen_search_forward(ctx, G, z);
        CHECK(y && ctx->n_nodes == 0);
        if (!y) break;
        used_free = ctx->arena.used;
        y_free = (float *)malloc((size_t)y->numel * sizeof(float));
        memcpy(y_free, y->data, (size_t)y->numel * sizeof(float));
        /* the same forward recorded for the weights' gradients */
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &G->weights, 1);
        z = ng_tensor_from(ctx, ng_shape2(4, 6), zv);
        y = ng_gan_gen_search_forward(ctx, G, z);
        CHECK(y && ctx->n_nodes > 0);
        if (y) {
            used_taped = ctx->arena.used;
            CHECK(memcmp(y->data, y_free, (size_t)y->numel * sizeof(float)) == 0);
            /* what stays is z and the image (plus alignment), far below the taped forward */
            CHECK_MSG(used_free < 2 * (size_t)(z->numel + y->numel) * sizeof(float) + 4096 && 20 * used_free < used_taped,
                      "fuse %d: arena %zu bytes without tape, %zu with", fuse, used_free, used_taped);
        }
        free(y_free);
    }
    ng_ctx_free(ctx);
    ng_gan_gen_search_free(G);
}

/* Gradient buffers handed from an op's output to its input (elementwise ops) and gradients
   stored without zeroing (conv d/dx): chains where one activation feeds several consumers, so
   a buffer taken over early later receives more contributions. Checked numerically. */
static ng_tensor *mem_chain(ng_ctx *c, ng_tensor **in, void *user) {
    ng_tensor *x = in[0], *w = in[1], *dw = in[2], *alpha = in[3], *cand[3], *h, *r, *d;
    (void)user;
    r = ng_relu(c, x);
    h = ng_conv2d(c, r, w, NULL, 1, 1, 1);                         /* 3x3: direct d/dx */
    h = ng_batch_norm(c, h, NULL, NULL, NULL, NULL, 0.1f, 1e-5f);
    d = ng_conv2d(c, ng_leaky_relu(c, ng_sigmoid(c, h), 0.1f), dw, NULL, 1, 2, 3); /* depthwise 5x5 */
    cand[0] = ng_tanh(c, d);
    cand[1] = ng_scale(c, x, 0.5f);                                /* x again */
    cand[2] = ng_add(c, d, ng_conv2d(c, x, w, NULL, 1, 1, 1));      /* x a third time */
    h = ng_mixed(c, alpha, 0, cand, 3);
    return ng_mul(c, ng_add(c, h, r), ng_sigmoid(c, h));
}

TEST(gan_steps_mem_gradients_through_shared_activations) {
    gc_input in[4];
    memset(in, 0, sizeof in);
    in[0].shape = ng_shape4(2, 3, 5, 6); in[0].needs_grad = 1; in[0].lo = 0.1f; in[0].hi = 1.0f; /* off the ReLU kink */
    in[1].shape = ng_shape4(3, 3, 3, 3); in[1].needs_grad = 1;
    in[2].shape = ng_shape4(3, 1, 5, 5); in[2].needs_grad = 1;
    in[3].shape = ng_shape2(1, 3); in[3].needs_grad = 1;
    CHECK(gradcheck("gan_steps_mem_chain", mem_chain, NULL, in, 4, 17, gc_default()) == 0);
}
