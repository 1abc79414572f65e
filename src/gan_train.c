/* ======================================================================================== */
/* @@GANTRAIN                                                                               */
/* ======================================================================================== */
static ng_tensor *ng__gt_search_fw(ng_ctx *c, void *net, ng_tensor *z) {
    return ng_gan_gen_search_forward(c, (const ng_gan_gen_search *)net, z);
}
static ng_tensor *ng__gt_fixed_fw(ng_ctx *c, void *net, ng_tensor *z) {
    return ng_gan_gen_fixed_forward(c, (const ng_gan_gen_fixed *)net, z);
}
static ng_tensor *ng__gt_disc_fw(ng_ctx *c, void *net, ng_tensor *x) {
    return ng_gan_disc_forward(c, (const ng_gan_disc *)net, x);
}

ng_gan_net ng_gan_net_search(ng_gan_gen_search *G) {
    ng_gan_net n;
    n.net = G; n.weights = G->weights; n.buffers = G->buffers; n.alpha = G->alpha; n.forward = ng__gt_search_fw;
    return n;
}
ng_gan_net ng_gan_net_fixed(ng_gan_gen_fixed *G) {
    ng_gan_net n;
    n.net = G; n.weights = G->weights; n.buffers = G->buffers; n.alpha = NULL; n.forward = ng__gt_fixed_fw;
    return n;
}
ng_gan_net ng_gan_net_disc(ng_gan_disc *D) {
    ng_gan_net n;
    n.net = D; n.weights = D->weights; n.buffers = D->buffers; n.alpha = NULL; n.forward = ng__gt_disc_fw;
    return n;
}

ng_status ng_gan_train_preset(const char *dataset, ng_gan_train_config *c) {
    memset(c, 0, sizeof *c);
    c->d_batch = 64; c->g_batch = 128; c->latent_dim = 128; c->n_critic = 5;
    c->lr_g = c->lr_d = 2e-4f; c->beta1 = 0.0f; c->beta2 = 0.9f; c->ema_decay = 0.999f;
    c->max_g_steps = 50000;
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan train preset: NULL dataset name");
    if (!strcmp(dataset, "cifar10") || !strcmp(dataset, "fashion_mnist")) return NG_OK;
    if (!strcmp(dataset, "stl10")) { c->beta1 = 0.5f; c->max_g_steps = 80000; return NG_OK; }
    return ng_fail(NG_ERR_ARG, "gan train preset: unknown dataset '%s' (cifar10, stl10, fashion_mnist)", dataset);
}

ng_status ng_gan_trainer_init(ng_gan_trainer *t, const ng_gan_train_config *cfg, ng_gan_net g, ng_gan_net d,
                              ng_ctx *ctx, uint64_t seed, ng_real_batch_fn real_batch, void *data) {
    ng_status s;
    memset(t, 0, sizeof *t);
    if (!g.weights || !d.weights || !g.forward || !d.forward || !ctx || !real_batch)
        return ng_fail(NG_ERR_ARG, "gan trainer: G and D need weights and a forward; a context and a data source are required");
    if (cfg->d_batch < 1 || cfg->g_batch < 1 || cfg->latent_dim < 1 || cfg->n_critic < 1 ||
        !(cfg->ema_decay >= 0.0f && cfg->ema_decay <= 1.0f))
        return ng_fail(NG_ERR_ARG, "gan trainer: batches, latent size and n_critic must be positive, EMA decay in [0, 1]");
    t->cfg = *cfg; t->g = g; t->d = d; t->ctx = ctx; t->real_batch = real_batch; t->data = data;
    ng_rng_seed(&t->rng, seed);
    s = ng_adam_init(&t->opt_g, g.weights, cfg->lr_g, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_adam_init(&t->opt_d, d.weights, cfg->lr_d, cfg->beta1, cfg->beta2, 1e-8f, 0.0f);
    if (s == NG_OK) s = ng_ema_init(&t->ema, g.weights, cfg->ema_decay);
    if (s != NG_OK) ng_gan_trainer_free(t);
    return s;
}

void ng_gan_trainer_free(ng_gan_trainer *t) {
    ng_adam_free(&t->opt_g);
    ng_adam_free(&t->opt_d);
    ng_ema_free(&t->ema);
}

static ng_tensor *ng__gt_latent(ng_ctx *ctx, ng_rng *r, int n, int dim) {
    return ng_tensor_randn(ctx, ng_shape2(n, dim), r);
}

static ng_status ng__gt_fail(ng_gan_trainer *t, const char *what) {
    ng_status s = ng_ctx_status(t->ctx) != NG_OK ? ng_ctx_status(t->ctx) : NG_ERR_ARG;
    return ng_fail(s, "gan trainer %s step %lld: %s", what, (long long)t->d_steps, ng_last_error());
}

ng_status ng_gan_trainer_step(ng_gan_trainer *t) {
    ng_ctx *c = t->ctx;
    ng_tensor *real, *fake, *loss;
    int g_turn = t->d_steps % t->cfg.n_critic == 0;
    /* D: hinge loss on real images and fakes (G runs without being differentiated) */
    ng_ctx_reset(c);
    ng_ctx_set_training(c, 1);
    ng_ctx_grad_for(c, &t->d.weights, 1);
    real = t->real_batch(c, t->data, 0, t->cfg.d_batch);
    fake = t->g.forward(c, t->g.net, ng__gt_latent(c, &t->rng, t->cfg.d_batch, t->cfg.latent_dim));
    loss = ng_hinge_loss_d(c, t->d.forward(c, t->d.net, real), t->d.forward(c, t->d.net, fake));
    if (!loss || ng_backward(c, loss) != NG_OK) return ng__gt_fail(t, "D");
    ng_adam_step(&t->opt_d);
    ng_params_zero_grad(t->d.weights);
    t->d_loss = ng_tensor_item(loss);
    t->d_steps++;
    if (!g_turn) return NG_OK;
    /* G: -mean D(G(z)) on g_batch latents, then the EMA of G's parameters */
    ng_ctx_reset(c);
    ng_ctx_grad_for(c, &t->g.weights, 1);
    loss = ng_hinge_loss_g(c, t->d.forward(c, t->d.net, t->g.forward(c, t->g.net,
                                           ng__gt_latent(c, &t->rng, t->cfg.g_batch, t->cfg.latent_dim))));
    if (!loss || ng_backward(c, loss) != NG_OK) return ng__gt_fail(t, "G");
    ng_adam_step(&t->opt_g);
    ng_params_zero_grad(t->g.weights);
    ng_ema_update(&t->ema);
    t->g_loss = ng_tensor_item(loss);
    t->g_steps++;
    return NG_OK;
}

ng_status ng_gan_trainer_put(ng_ckpt *ck, const ng_gan_trainer *t) {
    ng_status s = ng_ckpt_put_params(ck, t->g.weights);
    if (s == NG_OK && t->g.buffers) s = ng_ckpt_put_params(ck, t->g.buffers);
    if (s == NG_OK) s = ng_ckpt_put_params(ck, t->d.weights);
    if (s == NG_OK && t->d.buffers) s = ng_ckpt_put_params(ck, t->d.buffers);
    if (s == NG_OK) s = ng_ckpt_put_ema(ck, "train.ema.g", &t->ema);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "train.adam.g", &t->opt_g);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, "train.adam.d", &t->opt_d);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "train.rng.latent", &t->rng);
    if (s == NG_OK) s = ng_ckpt_put_rng(ck, "train.rng.ctx", &t->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "train.d_steps", t->d_steps);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, "train.g_steps", t->g_steps);
    return s;
}

ng_status ng_gan_trainer_get(const ng_ckpt *ck, ng_gan_trainer *t) {
    ng_status s = ng_ckpt_get_params(ck, t->g.weights);
    if (s == NG_OK && t->g.buffers) s = ng_ckpt_get_params(ck, t->g.buffers);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, t->d.weights);
    if (s == NG_OK && t->d.buffers) s = ng_ckpt_get_params(ck, t->d.buffers);
    if (s == NG_OK) s = ng_ckpt_get_ema(ck, "train.ema.g", &t->ema);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "train.adam.g", &t->opt_g);
    if (s == NG_OK) s = ng_ckpt_get_adam(ck, "train.adam.d", &t->opt_d);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "train.rng.latent", &t->rng);
    if (s == NG_OK) s = ng_ckpt_get_rng(ck, "train.rng.ctx", &t->ctx->rng);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "train.d_steps", &t->d_steps);
    if (s == NG_OK) s = ng_ckpt_get_i64(ck, "train.g_steps", &t->g_steps);
    return s;
}

/* Generate n images in batches on the generator's device; emit(first, count, images, shape,
   user) receives each batch in host memory. The arena starts at 256 MiB and doubles (twice at
   most) when a batch does not fit. */
typedef ng_status (*ng__gt_emit_fn)(int64_t first, int64_t count, const float *x, ng_shape shape, void *user);
static ng_status ng__gt_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                                 ng__gt_emit_fn emit, void *user) {
    size_t arena = (size_t)256 << 20;
    ng_ctx *ctx;
    ng_rng r;
    int64_t first;
    int retries = 0;
    ng_status st = NG_OK;
    if (!g.forward || n < 0 || latent_dim < 1) return ng_fail(NG_ERR_ARG, "gan generate: bad generator or sizes");
    if (batch <= 0) batch = 100;
    ng_rng_seed(&r, seed);
    if (!(ctx = ng_ctx_create_on(arena, seed, (ng_device)g.weights->device))) return NG_ERR_NOMEM;
    for (first = 0; first < n && st == NG_OK;) {
        int64_t b = n - first < batch ? n - first : batch;
        ng_rng saved = r;
        ng_tensor *x;
        ng_ctx_reset(ctx);
        ctx->training = 0;
        ctx->no_grad = 1;
        x = g.forward(ctx, g.net, ng__gt_latent(ctx, &r, (int)b, latent_dim));
        if (!x) {
            ng_status cs = ng_ctx_status(ctx) != NG_OK ? ng_ctx_status(ctx) : NG_ERR_NOMEM;
            if (cs == NG_ERR_NOMEM && retries++ < 2) {   /* arena too small: grow and redo the batch */
                ng_ctx_free(ctx);
                ng_clear_error();
                arena *= 2;
                r = saved;
                if (!(ctx = ng_ctx_create_on(arena, seed, (ng_device)g.weights->device))) return NG_ERR_NOMEM;
                continue;
            }
            st = ng_fail(cs, "gan generate: forward failed at image %lld: %s", (long long)first, ng_last_error());
            break;
        }
        {
            const float *h = ng_tensor_host_read(ctx, x);
            st = h ? emit(first, b, h, x->shape, user) : ng_fail(NG_ERR_NOMEM, "gan generate: cannot copy images to the host");
        }
        first += b;
    }
    ng_ctx_free(ctx);
    return st;
}

typedef struct { unsigned char *buf; int c, h, w; } ng__gt_u8_sink;
static ng_status ng__gt_emit_u8(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_u8_sink *s = (ng__gt_u8_sink *)user;
    int64_t numel = ng_shape_numel(shape), per = numel / count, i;
    if (!s->buf) return NG_OK;   /* geometry probe */
    for (i = 0; i < numel; i++) {
        float v = 127.5f * x[i] + 127.5f;   /* clamp(127.5 x + 127.5).type(uint8): truncation */
        s->buf[first * per + i] = (unsigned char)(v != v ? 0.0f : v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
    return NG_OK;
}
static ng_status ng__gt_probe(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_u8_sink *s = (ng__gt_u8_sink *)user;
    (void)first; (void)count; (void)x;
    if (shape.ndim != 4) return ng_fail(NG_ERR_ARG, "gan generate: the generator's output is not (N, C, H, W)");
    s->c = (int)shape.d[1]; s->h = (int)shape.d[2]; s->w = (int)shape.d[3];
    return NG_OK;
}

ng_status ng_gan_generate_u8(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                             unsigned char **out, int *c, int *h, int *w) {
    ng__gt_u8_sink s;
    size_t bytes;
    ng_status st;
    memset(&s, 0, sizeof s);
    *out = NULL;
    if (n < 1) return ng_fail(NG_ERR_ARG, "gan generate: n must be positive");
    st = ng__gt_generate(g, latent_dim, 1, 1, seed, ng__gt_probe, &s);
    if (st != NG_OK) return st;
    bytes = (size_t)n * (size_t)s.c * (size_t)s.h * (size_t)s.w;
    if (!(s.buf = (unsigned char *)malloc(bytes ? bytes : 1)))
        return ng_fail(NG_ERR_NOMEM, "gan generate: cannot allocate %zu bytes", bytes);
    st = ng__gt_generate(g, latent_dim, n, batch, seed, ng__gt_emit_u8, &s);
    if (st != NG_OK) { free(s.buf); return st; }
    *out = s.buf; *c = s.c; *h = s.h; *w = s.w;
    return NG_OK;
}

typedef struct { float *buf; int64_t numel; } ng__gt_f32_sink;
static ng_status ng__gt_emit_f32(int64_t first, int64_t count, const float *x, ng_shape shape, void *user) {
    ng__gt_f32_sink *s = (ng__gt_f32_sink *)user;
    int64_t numel = ng_shape_numel(shape), per = numel / count;
    if ((first + count) * per > s->numel)
        return ng_fail(NG_ERR_ARG, "gan generate: %lld images of %lld values do not fit a buffer of %lld floats",
                       (long long)(first + count), (long long)per, (long long)s->numel);
    memcpy(s->buf + first * per, x, (size_t)numel * sizeof(float));
    return NG_OK;
}

ng_status ng_gan_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed, float *out,
                          int64_t out_numel) {
    ng__gt_f32_sink s;
    s.buf = out; s.numel = out_numel;
    return ng__gt_generate(g, latent_dim, n, batch, seed, ng__gt_emit_f32, &s);
}
static void ng__sampler_shuffle(ng_image_sampler *s, int k) {
    int64_t n = s->end[k] - s->begin[k], i;
    for (i = 0; i < n; i++) s->perm[k][i] = (int32_t)(s->begin[k] + i);
    for (i = n - 1; i > 0; i--) {   /* Fisher-Yates */
        int64_t j = (int64_t)ng_rng_below(&s->rng, (uint64_t)(i + 1));
        int32_t t = s->perm[k][i];
        s->perm[k][i] = s->perm[k][j];
        s->perm[k][j] = t;
    }
    s->cursor[k] = 0;
}

ng_status ng_image_sampler_init(ng_image_sampler *s, const ng_image_set *set, int64_t split_at, ng_image_norm norm,
                                uint64_t seed) {
    int k;
    memset(s, 0, sizeof *s);
    if (!set || set->n < 1 || split_at < 1 || split_at > set->n || set->n > INT32_MAX)
        return ng_fail(NG_ERR_ARG, "image sampler: split point %lld outside [1, %lld]", (long long)split_at,
                       (long long)(set ? set->n : 0));
    s->set = set; s->norm = norm;
    s->begin[0] = 0; s->end[0] = split_at;
    s->begin[1] = split_at; s->end[1] = set->n;
    ng_rng_seed(&s->rng, seed);
    for (k = 0; k < 2; k++) {
        int64_t n = s->end[k] - s->begin[k];
        s->perm[k] = (int32_t *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
        if (!s->perm[k]) { ng_image_sampler_free(s); return ng_fail(NG_ERR_NOMEM, "image sampler: out of memory"); }
        ng__sampler_shuffle(s, k);
    }
    return NG_OK;
}

void ng_image_sampler_free(ng_image_sampler *s) {
    free(s->perm[0]); free(s->perm[1]); free(s->idx);
    memset(s, 0, sizeof *s);
}

ng_tensor *ng_image_sampler_batch(ng_ctx *ctx, void *user, int split, int batch) {
    ng_image_sampler *s = (ng_image_sampler *)user;
    int k = split ? 1 : 0, i;
    int64_t n = s->end[k] - s->begin[k];
    if (n < 1 || batch < 1) {
        ng_fail(NG_ERR_ARG, "image sampler: split %d is empty", k);
        return NULL;
    }
    if (batch > s->idx_cap) {
        int64_t *p = (int64_t *)realloc(s->idx, (size_t)batch * sizeof(int64_t));
        if (!p) { ng_fail(NG_ERR_NOMEM, "image sampler: out of memory"); return NULL; }
        s->idx = p; s->idx_cap = batch;
    }
    for (i = 0; i < batch; i++) {
        if (s->cursor[k] >= n) ng__sampler_shuffle(s, k);
        s->idx[i] = s->perm[k][s->cursor[k]++];
    }
    return ng_image_set_batch(ctx, s->set, s->idx, batch, s->norm);
}

/* Record "KEY": u32 version 1, 2 x (i64 begin, i64 end, i64 cursor, (end - begin) x u32), then
   the RNG as its own record "KEY.rng". */
ng_status ng_image_sampler_put(ng_ckpt *ck, const char *key, const ng_image_sampler *s) {
    size_t bytes = 4, o = 0;
    unsigned char *buf;
    char rk[NG_CKPT_MAX_KEY];
    int k, b;
    int64_t i;
    ng_status st;
    for (k = 0; k < 2; k++) bytes += 24 + 4 * (size_t)(s->end[k] - s->begin[k]);
    if (!(buf = (unsigned char *)malloc(bytes))) return ng_fail(NG_ERR_NOMEM, "image sampler: out of memory");
    for (b = 0; b < 4; b++) buf[o++] = (unsigned char)(1u >> (8 * b));
    for (k = 0; k < 2; k++) {
        uint64_t v[3];
        v[0] = (uint64_t)s->begin[k]; v[1] = (uint64_t)s->end[k]; v[2] = (uint64_t)s->cursor[k];
        for (i = 0; i < 3; i++) for (b = 0; b < 8; b++) buf[o++] = (unsigned char)(v[i] >> (8 * b));
        for (i = 0; i < s->end[k] - s->begin[k]; i++)
            for (b = 0; b < 4; b++) buf[o++] = (unsigned char)((uint32_t)s->perm[k][i] >> (8 * b));
    }
    st = ng_ckpt_put(ck, key, buf, bytes);
    free(buf);
    snprintf(rk, sizeof rk, "%s.rng", key);
    return st == NG_OK ? ng_ckpt_put_rng(ck, rk, &s->rng) : st;
}

ng_status ng_image_sampler_get(const ng_ckpt *ck, const char *key, ng_image_sampler *s) {
    size_t n = 0, o = 4, need = 4;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, key, &n);
    char rk[NG_CKPT_MAX_KEY];
    int k, b;
    int64_t i;
    uint64_t v[2][3];
    ng_rng r;
    ng_status st;
    for (k = 0; k < 2; k++) need += 24 + 4 * (size_t)(s->end[k] - s->begin[k]);
    if (!p || n != need || p[0] != 1 || p[1] || p[2] || p[3])
        return ng_fail(NG_ERR_MISMATCH, "image sampler state '%s': absent or not for this data (%zu bytes, %zu expected)",
                       key, n, need);
    for (k = 0; k < 2; k++) {   /* check everything before changing anything */
        size_t at = o;
        for (i = 0; i < 3; i++) { v[k][i] = 0; for (b = 0; b < 8; b++) v[k][i] |= (uint64_t)p[at++] << (8 * b); }
        if ((int64_t)v[k][0] != s->begin[k] || (int64_t)v[k][1] != s->end[k] ||
            v[k][2] > (uint64_t)(s->end[k] - s->begin[k]))
            return ng_fail(NG_ERR_MISMATCH, "image sampler state '%s': split %d was [%lld, %lld), the data gives [%lld, %lld)",
                           key, k, (long long)v[k][0], (long long)v[k][1], (long long)s->begin[k], (long long)s->end[k]);
        for (i = 0; i < s->end[k] - s->begin[k]; i++, at += 4) {
            int64_t e = (int64_t)((uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 | (uint32_t)p[at + 3] << 24);
            if (e < s->begin[k] || e >= s->end[k])
                return ng_fail(NG_ERR_FORMAT, "image sampler state '%s': index %lld outside split %d", key, (long long)e, k);
        }
        o = at;
    }
    snprintf(rk, sizeof rk, "%s.rng", key);
    if ((st = ng_ckpt_get_rng(ck, rk, &r)) != NG_OK) return st;
    o = 4;
    for (k = 0; k < 2; k++) {
        o += 24;
        s->cursor[k] = (int64_t)v[k][2];
        for (i = 0; i < s->end[k] - s->begin[k]; i++, o += 4)
            s->perm[k][i] = (int32_t)((uint32_t)p[o] | (uint32_t)p[o + 1] << 8 | (uint32_t)p[o + 2] << 16 | (uint32_t)p[o + 3] << 24);
    }
    s->rng = r;
    return NG_OK;
}
ng_status ng_gan_dataset_load(const char *dataset, const char *dir, ng_image_set *out) {
    char path[4096];
    memset(out, 0, sizeof *out);
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan dataset: NULL name");
    if (!strcmp(dataset, "fashion_mnist")) {
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir ? dir : NG_FMNIST_DIR);
        return ng_fmnist_gan_load(path, 32, out);
    }
    if (!strcmp(dataset, "cifar10") || !strcmp(dataset, "stl10")) {
        if (!dir) return ng_fail(NG_ERR_ARG, "gan dataset %s: give the directory of its binary files", dataset);
        return !strcmp(dataset, "cifar10") ? ng_cifar10_load_dir(dir, 1, out)
                                           : ng_stl10_load_dir(dir, "train+unlabeled", 48, out);
    }
    return ng_fail(NG_ERR_ARG, "gan dataset: unknown name '%s' (fashion_mnist, cifar10, stl10)", dataset);
}
