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
