/* ======================================================================================== */
/* @@BILEVEL                                                                                */
/* ======================================================================================== */
int ng_bilevel_preset(const char *name, ng_bilevel_config *c) {
    memset(c, 0, sizeof *c);
    c->batch = 64; c->latent_dim = 128; c->n_critic = 5; c->arch_steps = 20; c->epochs = 99;
    c->lr_g = c->lr_d = 2e-4f; c->beta1 = 0.0f; c->beta2 = 0.9f;
    c->lr_worst_early = 2e-4f; c->lr_worst_late = 1e-4f; c->worst_lr_switch = 30;
    c->lr_alpha = 3e-4f; c->alpha_beta1 = 0.5f; c->alpha_beta2 = 0.999f; c->alpha_weight_decay = 1e-3f;
    if (!strcmp(name, "paper-s")) { c->inner_steps = 20; c->worst_steps = 20; return 0; }
    if (!strcmp(name, "paper-l")) { c->inner_steps = 390; c->worst_steps = 390; return 0; }
    if (!strcmp(name, "quick")) {
        c->batch = 32; c->inner_steps = 10; c->worst_steps = 10; c->arch_steps = 10; c->epochs = 10;
        c->lr_alpha = 5e-3f;   /* 100 alpha steps instead of 1,980: a larger step so alpha can move as far */
        return 0;
    }
    return -1;
}

static int64_t ng__bl_steps(const ng_bilevel *b, int configured) {
    int64_t n = (int64_t)configured + 2; /* the reference breaks once step > configured */
    return b->batches_per_pass > 0 && b->batches_per_pass < n ? b->batches_per_pass : n;
}

ng_status ng_bilevel_init(ng_bilevel *b, const ng_bilevel_config *cfg, ng_gan_net g, ng_gan_net d,
                          ng_gan_net g_worst, ng_gan_net d_worst, ng_ctx *ctx, uint64_t seed,
                          ng_real_batch_fn real_batch, void *data, int64_t batches_per_pass) {
    ng_status s;
    memset(b, 0, sizeof *b);
    if (!g.alpha || !g.weights || !d.weights || !g_worst.alpha || !d_worst.weights || !g.forward || !d.forward)
        return ng_fail(NG_ERR_ARG, "bilevel: G needs weights and alpha, D needs weights, both a forward");
    if (!ng_params_same_layout(g.weights, g_worst.weights) || !ng_params_same_layout(d.weights, d_worst.weights) ||
        !ng_params_same_layout(g.alpha, g_worst.alpha))
        return ng_fail(NG_ERR_ARG, "bilevel: the worst-case nets must have the layout of G and D");
    if (g.alpha == g_worst.alpha) return ng_fail(NG_ERR_ARG, "bilevel: G_worst needs its own copy of alpha");
    b->cfg = *cfg;
    b->g = g; b->d = d; b->g_worst = g_worst; b->d_worst = d_worst;
    b->ctx = ctx;
    b->real_batch = real_batch;
    b->data = data;
    b->batches_per_pass = batches_per_pass;
    ng_rng_seed(&b->rng, seed);
    s = ng_adam_init(&b->opt_g, g.weights, cfg->lr_g, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_d, d.weights, cfg->lr_d, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_alpha, g.alpha, cfg->lr_alpha, cfg->alpha_beta1, cfg->alpha_beta2, 1e-8f, cfg->alpha_weight_decay);
    if (s == NG_OK) s = ng_adam_init(&b->opt_g_worst, g_worst.weights, cfg->lr_worst_early, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&b->opt_d_worst, d_worst.weights, cfg->lr_worst_early, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s != NG_OK) ng_bilevel_free(b);
    return s;
}

void ng_bilevel_free(ng_bilevel *b) {
    ng_adam_free(&b->opt_g); ng_adam_free(&b->opt_d); ng_adam_free(&b->opt_alpha);
    ng_adam_free(&b->opt_g_worst); ng_adam_free(&b->opt_d_worst);
}

static ng_tensor *ng__bl_latent(ng_bilevel *b) {
    return ng_tensor_randn(b->ctx, ng_shape2(b->cfg.batch, b->cfg.latent_dim), &b->rng);
}

/* Reset the arena and make `groups` the only ones receiving gradients. */
static void ng__bl_begin(ng_bilevel *b, ng_params *const *groups, int n) {
    ng_ctx_reset(b->ctx);
    ng_ctx_set_training(b->ctx, 1); /* the reference keeps every net in train mode */
    ng_ctx_grad_for(b->ctx, groups, n);
}

static ng_status ng__bl_fail(ng_bilevel *b, const char *what) {
    ng_status s = ng_ctx_status(b->ctx) != NG_OK ? ng_ctx_status(b->ctx) : NG_ERR_ARG;
    return ng_fail(s, "bilevel %s step (epoch %lld): %s", what, (long long)b->epoch + 1, ng_last_error());
}

/* Hinge D step of `dn` against fakes from `gn` (a forward without tape: G is not differentiated). */
static ng_status ng__bl_d_step(ng_bilevel *b, ng_gan_net *dn, ng_gan_net *gn, ng_adam *opt, int split, float *loss_out) {
    ng_tensor *real, *fake, *loss;
    ng__bl_begin(b, &dn->weights, 1);
    real = b->real_batch(b->ctx, b->data, split, b->cfg.batch);
    fake = gn->forward(b->ctx, gn->net, ng__bl_latent(b));
    loss = ng_hinge_loss_d(b->ctx, dn->forward(b->ctx, dn->net, real), dn->forward(b->ctx, dn->net, fake));
    if (!loss || ng_backward(b->ctx, loss) != NG_OK) return ng__bl_fail(b, "D");
    ng_adam_step(opt);
    ng_params_zero_grad(dn->weights);
    *loss_out = ng_tensor_item(loss);
    return NG_OK;
}

/* G step of `gn`'s weights on -mean D(G(z)) (D's weights get no gradient). */
static ng_status ng__bl_g_step(ng_bilevel *b, ng_gan_net *gn, ng_gan_net *dn, ng_adam *opt, float *loss_out) {
    ng_tensor *loss;
    ng__bl_begin(b, &gn->weights, 1);
    loss = ng_hinge_loss_g(b->ctx, dn->forward(b->ctx, dn->net, gn->forward(b->ctx, gn->net, ng__bl_latent(b))));
    if (!loss || ng_backward(b->ctx, loss) != NG_OK) return ng__bl_fail(b, "G");
    ng_adam_step(opt);
    ng_params_zero_grad(gn->weights);
    *loss_out = ng_tensor_item(loss);
    return NG_OK;
}

ng_status ng_bilevel_d_step(ng_bilevel *b) {
    ng_status s = ng__bl_d_step(b, &b->d, &b->g, &b->opt_d, 0, &b->last.d_loss);
    if (s == NG_OK) b->global_step++;
    return s;
}

ng_status ng_bilevel_g_step(ng_bilevel *b) {
    if (b->cfg.g_lr_rising_cosine) /* CosineAnnealingLR(T_max 100, eta_min 1e-3), stepped per epoch */
        b->opt_g.lr = ng_lr_at(NG_LR_COSINE, b->cfg.lr_g, 1e-3f, b->epoch, 100);
    return ng__bl_g_step(b, &b->g, &b->d, &b->opt_g, &b->last.g_loss);
}

static ng_status ng__bl_copy_net(ng_gan_net *dst, const ng_gan_net *src) {
    ng_status s = ng_params_copy(dst->weights, src->weights);
    if (s == NG_OK && src->buffers && dst->buffers) s = ng_params_copy(dst->buffers, src->buffers);
    if (s == NG_OK && src->alpha && dst->alpha) s = ng_params_copy(dst->alpha, src->alpha);
    return s;
}

static ng_status ng__bl_find_worst(ng_bilevel *b, ng_bilevel_progress progress, void *user) {
    int64_t i, n = ng__bl_steps(b, b->cfg.worst_steps);
    float lr = b->epoch + 1 <= b->cfg.worst_lr_switch ? b->cfg.lr_worst_early : b->cfg.lr_worst_late;
    ng_status s = ng__bl_copy_net(&b->g_worst, &b->g);
    if (s == NG_OK) s = ng__bl_copy_net(&b->d_worst, &b->d);
    if (s != NG_OK) return s;
    ng_adam_reset(&b->opt_g_worst);
    ng_adam_reset(&b->opt_d_worst);
    b->opt_g_worst.lr = b->opt_d_worst.lr = lr;
    for (i = 0; i < n && s == NG_OK; i++) { /* D_worst against fakes of the current G */
        s = ng__bl_d_step(b, &b->d_worst, &b->g, &b->opt_d_worst, 1, &b->last.d_worst_loss);
        if (progress && s == NG_OK) progress(b, "D_worst", i + 1, n, user);
    }
    for (i = 0; i < n && s == NG_OK; i++) { /* G_worst's weights (not its alpha) against the current D */
        s = ng__bl_g_step(b, &b->g_worst, &b->d, &b->opt_g_worst, &b->last.g_worst_loss);
        if (progress && s == NG_OK) progress(b, "G_worst", i + 1, n, user);
    }
    return s;
}

ng_status ng_bilevel_find_worst(ng_bilevel *b) { return ng__bl_find_worst(b, NULL, NULL); }

/* V(G, D) = -hinge_D loss; the gap is V(G, D_worst) - V(G_worst, D). Only G's alpha is
   differentiated: G_worst holds its own alpha copy, so the maxmin term adds nothing. */
ng_status ng_bilevel_gap_grad(ng_bilevel *b) {
    ng_ctx *c = b->ctx;
    ng_tensor *real, *minmax, *maxmin, *gap;
    ng__bl_begin(b, &b->g.alpha, 1);
    real = b->real_batch(c, b->data, 1, b->cfg.batch);
    minmax = ng_scale(c, ng_hinge_loss_d(c, b->d_worst.forward(c, b->d_worst.net, real),
                                         b->d_worst.forward(c, b->d_worst.net, b->g.forward(c, b->g.net, ng__bl_latent(b)))), -1.0f);
    maxmin = ng_scale(c, ng_hinge_loss_d(c, b->d.forward(c, b->d.net, real),
                                         b->d.forward(c, b->d.net, b->g_worst.forward(c, b->g_worst.net, ng__bl_latent(b)))), -1.0f);
    gap = ng_sub(c, minmax, maxmin);
    if (!gap || ng_backward(c, gap) != NG_OK) return ng__bl_fail(b, "architecture");
    b->last.minmax = ng_tensor_item(minmax);
    b->last.maxmin = ng_tensor_item(maxmin);
    b->last.gap = ng_tensor_item(gap);
    return NG_OK;
}

ng_status ng_bilevel_arch_step(ng_bilevel *b) {
    ng_status s = ng_bilevel_gap_grad(b);
    if (s != NG_OK) return s;
    ng_adam_step(&b->opt_alpha);
    ng_params_zero_grad(b->g.alpha);
    return NG_OK;
}

void ng_bilevel_epoch_plan(const ng_bilevel *b, int64_t *d_steps, int64_t *g_steps, int64_t *worst_steps,
                           int64_t *arch_steps) {
    int64_t n_d = ng__bl_steps(b, b->cfg.inner_steps), i, n_g = 0;
    for (i = 0; i < n_d; i++) n_g += (b->global_step + i) % b->cfg.n_critic == 0;
    if (d_steps) *d_steps = n_d;
    if (g_steps) *g_steps = n_g;
    if (worst_steps) *worst_steps = ng__bl_steps(b, b->cfg.worst_steps);
    if (arch_steps) *arch_steps = b->cfg.arch_steps;
}

ng_status ng_bilevel_epoch(ng_bilevel *b, ng_bilevel_progress progress, void *user) {
    int64_t i, n_d = ng__bl_steps(b, b->cfg.inner_steps);
    ng_status s = NG_OK;
    for (i = 0; i < n_d && s == NG_OK; i++) {
        int g_turn = b->global_step % b->cfg.n_critic == 0;
        s = ng_bilevel_d_step(b);
        if (progress && s == NG_OK) progress(b, "D", i + 1, n_d, user);
        if (g_turn && s == NG_OK) {
            s = ng_bilevel_g_step(b);
            if (progress && s == NG_OK) progress(b, "G", i + 1, n_d, user);
        }
    }
    if (s == NG_OK) s = ng__bl_find_worst(b, progress, user);
    for (i = 0; i < b->cfg.arch_steps && s == NG_OK; i++) {
        s = ng_bilevel_arch_step(b);
        if (progress && s == NG_OK) progress(b, "alpha", i + 1, b->cfg.arch_steps, user);
    }
    if (s == NG_OK) b->epoch++;
    return s;
}

static ng_status ng__bl_put_net(ng_ckpt *ck, const ng_gan_net *n) {
    ng_status s = ng_ckpt_put_params(ck, n->weights);
    if (s == NG_OK && n->buffers) s = ng_ckpt_put_params(ck, n->buffers);
    if (s == NG_OK && n->alpha) s = ng_ckpt_put_params(ck, n->alpha);
    return s;
}
static ng_status ng__bl_get_net(const ng_ckpt *ck, ng_gan_net *n) {
    ng_status s = ng_ckpt_get_params(ck, n->weights);
    if (s == NG_OK && n->buffers) s = ng_ckpt_get_params(ck, n->buffers);
    if (s == NG_OK && n->alpha) s = ng_ckpt_get_params(ck, n->alpha);
    return s;
}

ng_status ng_bilevel_put(ng_ckpt *ck, const ng_bilevel *b) {
    ng_status s = ng__bl_put_net(ck, &b->g);
    if (s == NG_OK) s = ng__bl_put_net(ck, &b->d);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.g", &b->opt_g);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.d", &b->opt_d);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "bilevel.adam.alpha", &b->opt_alpha);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "bilevel.rng.latent", &b->rng);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "bilevel.rng.ctx", &b->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "bilevel.epoch", b->epoch);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "bilevel.global_step", b->global_step);
    return s;
}

ng_status ng_bilevel_get(const ng_ckpt *ck, ng_bilevel *b) {
    ng_status s = ng__bl_get_net(ck, &b->g);
    if (s == NG_OK) s = ng__bl_get_net(ck, &b->d);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.g", &b->opt_g);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.d", &b->opt_d);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "bilevel.adam.alpha", &b->opt_alpha);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "bilevel.rng.latent", &b->rng);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "bilevel.rng.ctx", &b->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "bilevel.epoch", &b->epoch);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "bilevel.global_step", &b->global_step);
    return s;
}
