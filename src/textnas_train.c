/* ---- batches ---- */
static void ng__ts_new_pass(ng_text_sampler *s) {
    int64_t i, n = s->d->n;
    s->pass_rng = s->rng;
    for (i = 0; i < n; i++) s->perm[i] = (int32_t)i;
    for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)ng_rng_below(&s->rng, (uint64_t)(i + 1));
        int32_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->cursor = 0;
}
ng_status ng_text_sampler_init(ng_text_sampler *s, const ng_text_dataset *d, uint64_t seed) {
    memset(s, 0, sizeof *s);
    if (!d || d->n < 1 || d->n > INT32_MAX) return ng_fail(NG_ERR_ARG, "text sampler: empty or oversized dataset");
    s->d = d;
    if (!(s->perm = (int32_t *)malloc((size_t)d->n * sizeof(int32_t)))) return ng_fail(NG_ERR_NOMEM, "text sampler: out of memory");
    ng_rng_seed(&s->rng, seed);
    ng__ts_new_pass(s);
    return NG_OK;
}
void ng_text_sampler_free(ng_text_sampler *s) {
    free(s->perm);
    free(s->ids);
    free(s->lengths);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
ng_status ng_text_sampler_next(ng_text_sampler *s, int batch, ng_text_batch *out) {
    int L = s->d->max_len, k;
    if (batch < 1) return ng_fail(NG_ERR_ARG, "text sampler: batch %d", batch);
    if (batch > s->cap) {
        free(s->ids); free(s->lengths); free(s->labels);
        s->ids = (int32_t *)malloc((size_t)batch * (size_t)L * sizeof(int32_t));
        s->lengths = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
        s->labels = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
        s->cap = s->ids && s->lengths && s->labels ? batch : 0;
        if (!s->cap) return ng_fail(NG_ERR_NOMEM, "text sampler: out of memory");
    }
    for (k = 0; k < batch; k++) {
        int64_t e;
        if (s->cursor >= s->d->n) ng__ts_new_pass(s);
        e = s->perm[s->cursor++];
        memcpy(s->ids + (int64_t)k * L, s->d->ids + e * L, (size_t)L * sizeof(int32_t));
        s->lengths[k] = s->d->lengths[e];
        s->labels[k] = s->d->labels[e];
    }
    out->ids = s->ids;
    out->lengths = s->lengths;
    out->labels = s->labels;
    out->n = batch;
    out->len = L;
    return NG_OK;
}
ng_status ng_text_sampler_put(ng_ckpt *ck, const char *key, const ng_text_sampler *s) {
    char k[NG_CKPT_MAX_KEY];
    ng_status st;
    snprintf(k, sizeof k, "%s.n", key);
    if ((st = ng_ckpt_put_i64(ck, k, s->d->n)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.cursor", key);
    if ((st = ng_ckpt_put_i64(ck, k, s->cursor)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.pass_rng", key);
    if ((st = ng_ckpt_put_rng(ck, k, &s->pass_rng)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.rng", key);
    return ng_ckpt_put_rng(ck, k, &s->rng);
}
ng_status ng_text_sampler_get(const ng_ckpt *ck, const char *key, ng_text_sampler *s) {
    char k[NG_CKPT_MAX_KEY];
    int64_t n = 0, cursor = 0;
    ng_rng pass, now;
    ng_status st;
    snprintf(k, sizeof k, "%s.n", key);
    if ((st = ng_ckpt_get_i64(ck, k, &n)) != NG_OK) return st;
    if (n != s->d->n)
        return ng_fail(NG_ERR_MISMATCH, "text sampler '%s': saved for %lld examples, the data has %lld", key, (long long)n,
                       (long long)s->d->n);
    snprintf(k, sizeof k, "%s.cursor", key);
    if ((st = ng_ckpt_get_i64(ck, k, &cursor)) != NG_OK) return st;
    if (cursor < 0 || cursor > n) return ng_fail(NG_ERR_FORMAT, "text sampler '%s': cursor %lld", key, (long long)cursor);
    snprintf(k, sizeof k, "%s.pass_rng", key);
    if ((st = ng_ckpt_get_rng(ck, k, &pass)) != NG_OK) return st;
    snprintf(k, sizeof k, "%s.rng", key);
    if ((st = ng_ckpt_get_rng(ck, k, &now)) != NG_OK) return st;
    s->rng = pass;
    ng__ts_new_pass(s); /* the same permutation as when it was drawn */
    s->cursor = cursor;
    s->rng = now;
    return NG_OK;
}
ng_text_batch ng_text_dataset_slice(const ng_text_dataset *d, int64_t first, int64_t n) {
    ng_text_batch b;
    b.ids = d->ids + first * d->max_len;
    b.lengths = d->lengths + first;
    b.labels = d->labels + first;
    b.n = n;
    b.len = d->max_len;
    return b;
}

/* ---- child training ---- */
ng_status ng_textnas_child_init(ng_textnas_child *c, ng_textnas_net *net, float lr, float eps, float weight_decay,
                                float grad_clip) {
    ng_status s;
    memset(c, 0, sizeof *c);
    c->net = net;
    c->grad_clip = grad_clip;
    if ((s = ng_adam_init(&c->adam_w, net->weights, lr, 0.9f, 0.999f, eps, weight_decay)) != NG_OK) return s;
    if ((s = ng_adam_init(&c->adam_e, net->embed, lr, 0.9f, 0.999f, eps, weight_decay)) != NG_OK) {
        ng_adam_free(&c->adam_w);
        return s;
    }
    return NG_OK;
}
void ng_textnas_child_free(ng_textnas_child *c) {
    ng_adam_free(&c->adam_w);
    ng_adam_free(&c->adam_e);
    memset(c, 0, sizeof *c);
}
void ng_textnas_child_set_lr(ng_textnas_child *c, float lr) { c->adam_w.lr = c->adam_e.lr = lr; }

static ng_tensor *ng__tt_logits(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch, const ng_textnas_alpha *alpha,
                                const ng_text_batch *b) {
    return alpha ? ng_textnas_forward_mixed(ctx, net, alpha, b) : ng_textnas_forward(ctx, net, arch, b, NULL);
}
/* Correct predictions of a batch (-1 when the logits cannot be read back). */
static int64_t ng__tt_correct(ng_ctx *ctx, const ng_tensor *logits, const int32_t *labels, int64_t *conf, int C) {
    int64_t i, hits = 0;
    const float *host = ng_tensor_host_read(ctx, logits);
    if (!host) return -1;
    for (i = 0; i < logits->shape.d[0]; i++) {
        int k, best = 0;
        const float *row = host + i * C;
        for (k = 1; k < C; k++)
            if (row[k] > row[best]) best = k;
        hits += best == labels[i];
        if (conf) conf[(int64_t)labels[i] * C + best]++;
    }
    return hits;
}
static ng_status ng__tt_fail(ng_ctx *ctx, const char *what) {
    ng_status s = ctx->status != NG_OK ? ctx->status : NG_ERR_NOMEM;
    if (!ng_last_error()[0]) ng_fail(s, "%s failed", what);
    return s;
}

ng_status ng_textnas_child_step(ng_textnas_child *c, ng_ctx *ctx, const ng_textnas_arch *arch,
                                const ng_textnas_alpha *alpha, const ng_text_batch *b) {
    ng_params *groups[2];
    ng_tensor *logits, *loss;
    float norm, loss_v;
    int64_t hits;
    ng_status s;
    groups[0] = c->net->weights;
    groups[1] = c->net->embed;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 1);
    ng_ctx_grad_for(ctx, groups, 2);
    ng_params_zero_grad(groups[0]);
    ng_params_zero_grad(groups[1]);
    logits = ng__tt_logits(ctx, c->net, arch, alpha, b);
    loss = logits ? ng_cross_entropy(ctx, logits, b->labels) : NULL;
    if (!loss) return ng__tt_fail(ctx, "textnas child forward");
    if ((s = ng_backward(ctx, loss)) != NG_OK) return s;
    loss_v = ng_tensor_item(loss);
    if (!isfinite(loss_v)) return ng_fail(NG_ERR_ARG, "textnas child step %lld: loss is %g", (long long)c->steps, loss_v);
    norm = c->grad_clip > 0 ? ng_clip_grad_norm(groups, 2, c->grad_clip) : 0.0f;
    if (!isfinite(norm)) return ng_fail(NG_ERR_ARG, "textnas child step %lld: gradient norm is %g", (long long)c->steps, norm);
    c->loss = loss_v;
    if ((hits = ng__tt_correct(ctx, logits, b->labels, NULL, c->net->hp.n_classes)) < 0) return ng__tt_fail(ctx, "textnas child step");
    c->accuracy = (double)hits / (double)b->n;
    if ((s = ng_adam_step(&c->adam_w)) != NG_OK || (s = ng_adam_step(&c->adam_e)) != NG_OK) return s;
    c->steps++;
    return NG_OK;
}
ng_status ng_textnas_child_put(ng_ckpt *ck, const char *prefix, const ng_textnas_child *c) {
    char k[NG_CKPT_MAX_KEY];
    ng_status s;
    if ((s = ng_ckpt_put_params(ck, c->net->weights)) != NG_OK || (s = ng_ckpt_put_params(ck, c->net->embed)) != NG_OK ||
        (s = ng_ckpt_put_params(ck, c->net->buffers)) != NG_OK)
        return s;
    snprintf(k, sizeof k, "%s.adam_w", prefix);
    if ((s = ng_ckpt_put_adam(ck, k, &c->adam_w)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.adam_e", prefix);
    if ((s = ng_ckpt_put_adam(ck, k, &c->adam_e)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.steps", prefix);
    return ng_ckpt_put_i64(ck, k, c->steps);
}
ng_status ng_textnas_child_get(const ng_ckpt *ck, const char *prefix, ng_textnas_child *c) {
    char k[NG_CKPT_MAX_KEY];
    ng_status s;
    if ((s = ng_ckpt_get_params(ck, c->net->weights)) != NG_OK || (s = ng_ckpt_get_params(ck, c->net->embed)) != NG_OK ||
        (s = ng_ckpt_get_params(ck, c->net->buffers)) != NG_OK)
        return s;
    snprintf(k, sizeof k, "%s.adam_w", prefix);
    if ((s = ng_ckpt_get_adam(ck, k, &c->adam_w)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.adam_e", prefix);
    if ((s = ng_ckpt_get_adam(ck, k, &c->adam_e)) != NG_OK) return s;
    snprintf(k, sizeof k, "%s.steps", prefix);
    return ng_ckpt_get_i64(ck, k, &c->steps);
}

/* ---- evaluation ---- */
ng_status ng_textnas_evaluate(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_textnas_alpha *alpha, const ng_text_dataset *d, int batch, int64_t limit,
                              double *accuracy, double *loss, int64_t *conf) {
    int64_t n = limit > 0 && limit < d->n ? limit : d->n, first, hits = 0;
    double loss_sum = 0.0;
    int C = net->hp.n_classes;
    if (batch < 1 || n < 1) return ng_fail(NG_ERR_ARG, "textnas evaluate: batch %d, %lld examples", batch, (long long)n);
    if (d->num_classes > C) return ng_fail(NG_ERR_ARG, "textnas evaluate: data with %d classes for a %d-class net", d->num_classes, C);
    if (conf) memset(conf, 0, (size_t)C * (size_t)C * sizeof(int64_t));
    for (first = 0; first < n; first += batch) {
        int64_t m = n - first < batch ? n - first : batch;
        ng_text_batch b = ng_text_dataset_slice(d, first, m);
        ng_tensor *logits, *l;
        int64_t h;
        ng_ctx_reset(ctx);
        ng_ctx_set_training(ctx, 0);
        ng_ctx_grad_for(ctx, NULL, 0);
        logits = ng__tt_logits(ctx, net, arch, alpha, &b);
        l = logits ? ng_cross_entropy(ctx, logits, b.labels) : NULL;
        if (!l || (h = ng__tt_correct(ctx, logits, b.labels, conf, C)) < 0) return ng__tt_fail(ctx, "textnas evaluate");
        loss_sum += (double)ng_tensor_item(l) * (double)m;
        hits += h;
    }
    if (accuracy) *accuracy = (double)hits / (double)n;
    if (loss) *loss = loss_sum / (double)n;
    return NG_OK;
}
ng_status ng_textnas_batch_accuracy(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                                    const ng_text_batch *b, double *accuracy) {
    ng_tensor *logits;
    int64_t hits;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 0);
    ng_ctx_grad_for(ctx, NULL, 0);
    logits = ng_textnas_forward(ctx, net, arch, b, NULL);
    if (!logits || (hits = ng__tt_correct(ctx, logits, b->labels, NULL, net->hp.n_classes)) < 0) return ng__tt_fail(ctx, "textnas reward");
    *accuracy = (double)hits / (double)b->n;
    return NG_OK;
}
ng_status ng_textnas_alpha_step(ng_ctx *ctx, ng_textnas_net *net, ng_textnas_alpha *alpha, ng_adam *opt,
                                const ng_text_batch *b, double *loss) {
    ng_tensor *logits, *l;
    float lv;
    ng_status s;
    ng_ctx_reset(ctx);
    ng_ctx_set_training(ctx, 1);
    ng_ctx_grad_for(ctx, &alpha->params, 1);
    ng_params_zero_grad(alpha->params);
    logits = ng_textnas_forward_mixed(ctx, net, alpha, b);
    l = logits ? ng_cross_entropy(ctx, logits, b->labels) : NULL;
    if (!l) return ng__tt_fail(ctx, "textnas alpha step");
    if ((s = ng_backward(ctx, l)) != NG_OK) return s;
    lv = ng_tensor_item(l);
    if (!isfinite(lv)) return ng_fail(NG_ERR_ARG, "textnas alpha step: loss is %g", lv);
    if ((s = ng_adam_step(opt)) != NG_OK) return s;
    if (loss) *loss = lv;
    return NG_OK;
}
