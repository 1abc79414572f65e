/* ======================================================================================== */
/* @@OPS losses                                                                             */
/* ======================================================================================== */
static ng_shape ng__scalar_shape(void) {
    ng_shape s = ng_shape1(1);
    s.ndim = 0;
    return s;
}

/* ---- cross-entropy: saved = softmax probabilities, aux = labels copy ---- */
ng_tensor *ng_cross_entropy(ng_ctx *ctx, ng_tensor *logits, const int32_t *labels) {
    ng_node *n;
    int64_t r, N, K;
    int32_t *lab;
    if (logits) NG_ASSERT(logits->shape.ndim == 2);
    n = ng__begin(ctx, NG_OP_CROSS_ENTROPY, &logits, 1, ng__scalar_shape());
    if (!n) return NULL;
    N = logits->shape.d[0]; K = logits->shape.d[1];
    lab = (int32_t *)ng__alloc(ctx, (size_t)(N ? N : 1) * sizeof(int32_t));
    n->saved = ng__falloc(ctx, logits->numel);
    if (!lab || !n->saved) return NULL;
    for (r = 0; r < N; r++) {
        if (labels[r] < 0 || labels[r] >= K) {
            ng__bad(ctx, "cross_entropy", "label out of range");
            ng_fail(NG_ERR_ARG, "cross_entropy: label %d at row %lld is outside [0, %lld)", (int)labels[r], (long long)r, (long long)K);
            return NULL;
        }
        lab[r] = labels[r];
    }
    n->aux = lab;
    return ng__finish(n);
}
static void ng__fw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1], r;
    const int32_t *lab = (const int32_t *)n->aux;
    float *p = (float *)n->saved;
    double loss = 0.0;
    for (r = 0; r < N; r++) {
        ng__softmax_row(x->data + r * K, p + r * K, K, 1, 1); /* log-probabilities */
        loss -= p[r * K + lab[r]];
    }
    for (r = 0; r < N * K; r++) p[r] = expf(p[r]);
    n->out->data[0] = N ? (float)(loss / (double)N) : NAN; /* PyTorch: mean of nothing is NaN */
}
static void ng__bw_cross_entropy(ng_node *n) {
    const ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], K = x->shape.d[1], r, k;
    const int32_t *lab = (const int32_t *)n->aux;
    const float *p = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0), s;
    if (!gx || N == 0) return;
    s = n->out->grad[0] / (float)N;
    for (r = 0; r < N; r++)
        for (k = 0; k < K; k++) gx[r * K + k] += s * (p[r * K + k] - (k == lab[r] ? 1.0f : 0.0f));
}

/* ---- hinge terms ---- */
ng_tensor *ng_hinge(ng_ctx *ctx, ng_tensor *x, int mode) {
    ng_node *n;
    NG_ASSERT(mode >= 0 && mode <= 2);
    n = ng__begin(ctx, NG_OP_HINGE, &x, 1, ng__scalar_shape());
    if (!n) return NULL;
    n->i[0] = mode;
    return ng__finish(n);
}
ng_tensor *ng_hinge_loss_d(ng_ctx *ctx, ng_tensor *d_real, ng_tensor *d_fake) {
    return ng_add(ctx, ng_hinge(ctx, d_real, 0), ng_hinge(ctx, d_fake, 1));
}
ng_tensor *ng_hinge_loss_g(ng_ctx *ctx, ng_tensor *d_fake) { return ng_hinge(ctx, d_fake, 2); }

static void ng__fw_hinge(ng_node *n) {
    const float *x = n->in[0]->data;
    int64_t i, N = n->in[0]->numel;
    int mode = (int)n->i[0];
    double s = 0.0;
    for (i = 0; i < N; i++) {
        float v = mode == 0 ? 1.0f - x[i] : mode == 1 ? 1.0f + x[i] : -x[i];
        s += mode == 2 ? v : (v > 0.0f ? v : 0.0f);
    }
    n->out->data[0] = (float)(s / (double)N);
}
static void ng__bw_hinge(ng_node *n) {
    const float *x = n->in[0]->data;
    int64_t i, N = n->in[0]->numel;
    int mode = (int)n->i[0];
    float *gx = ng__in_grad(n, 0), s = n->out->grad[0] / (float)N;
    if (!gx) return;
    for (i = 0; i < N; i++) {
        if (mode == 0) gx[i] += 1.0f - x[i] > 0.0f ? -s : 0.0f;
        else if (mode == 1) gx[i] += 1.0f + x[i] > 0.0f ? s : 0.0f;
        else gx[i] -= s;
    }
}

/* ---- BCE with logits: loss = max(x,0) - x t + log(1 + exp(-|x|)) ---- */
ng_tensor *ng_bce_with_logits(ng_ctx *ctx, ng_tensor *x, const ng_tensor *target) {
    ng_node *n;
    if (x && target) NG_ASSERT(x->numel == target->numel);
    if (!target) {
        if (ctx->status == NG_OK) ng__bad(ctx, "bce_with_logits", "target is NULL");
        return NULL;
    }
    if (!ng__side_device_ok(ctx, NG_OP_BCE_LOGITS, x, target, "the target")) return NULL;
    n = ng__begin(ctx, NG_OP_BCE_LOGITS, &x, 1, ng__scalar_shape());
    if (!n) return NULL;
    n->aux = (void *)target->data;
    return ng__finish(n);
}
static void ng__fw_bce_logits(ng_node *n) {
    const float *x = n->in[0]->data, *t = (const float *)n->aux;
    int64_t i, N = n->in[0]->numel;
    double s = 0.0;
    for (i = 0; i < N; i++) s += (x[i] > 0.0f ? x[i] : 0.0f) - x[i] * t[i] + log1pf(expf(-fabsf(x[i])));
    n->out->data[0] = (float)(s / (double)N);
}
static void ng__bw_bce_logits(ng_node *n) {
    const float *x = n->in[0]->data, *t = (const float *)n->aux;
    int64_t i, N = n->in[0]->numel;
    float *gx = ng__in_grad(n, 0), s = n->out->grad[0] / (float)N;
    if (gx) for (i = 0; i < N; i++) gx[i] += s * (ng__sigmoidf(x[i]) - t[i]);
}
