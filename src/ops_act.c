/* ======================================================================================== */
/* @@OPS activations                                                                        */
/* ======================================================================================== */
NG__HD static inline float ng__sigmoidf(float x) {
    /* split by sign so exp never overflows */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    { float e = expf(x); return e / (1.0f + e); }
}
NG__HD static inline float ng__leakyf(float x, float slope) { return x > 0.0f ? x : slope * x; }
/* tanh on the CPU: (e - 1) / (e + 1) with e = exp(2|x|) in double, x (1 - x^2 / 3) below 2^-12
   (no cancellation; keeps the sign of 0). It agrees with (float)tanh((double)x) on every
   argument tests/test_ops_dense.c samples, where glibc's tanhf is off by an ulp on ~3%, and
   takes ~8 ns against tanhf's ~20. */
static inline float ng__tanhf(float x) {
    double d = x, a = fabs(d), e;
    if (a < 2.44140625e-4) return (float)(d * (1.0 - d * d / 3.0));
    if (!(a <= 20.0)) return a > 20.0 ? (x > 0.0f ? 1.0f : -1.0f) : x; /* +-1; NaN as is */
    e = exp(2.0 * a);
    return (float)((x > 0.0f ? 1.0 : -1.0) * ((e - 1.0) / (e + 1.0)));
}

static ng_tensor *ng__act(ng_ctx *ctx, int op, ng_tensor *x, float param) {
    ng_node *n = ng__begin(ctx, op, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = param;
    return ng__finish(n);
}
ng_tensor *ng_relu(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_RELU, x, 0.0f); }
ng_tensor *ng_leaky_relu(ng_ctx *ctx, ng_tensor *x, float slope) { return ng__act(ctx, NG_OP_LEAKY_RELU, x, slope); }
ng_tensor *ng_tanh(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_TANH, x, 0.0f); }
ng_tensor *ng_sigmoid(ng_ctx *ctx, ng_tensor *x) { return ng__act(ctx, NG_OP_SIGMOID, x, 0.0f); }

/* ReLU and LeakyReLU: gradient uses the sign of the input (PyTorch: 0 at x == 0 for ReLU). */
static void ng__fw_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void ng__bw_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh); /* may be g itself (0 + v written in place) */
    if (!gx) return;
    if (fresh) {
NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) gx[i] = x[i] > 0.0f ? 0.0f + g[i] : 0.0f;
        return;
    }
NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] += x[i] > 0.0f ? g[i] : 0.0f;
}
static void ng__fw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__leakyf(n->in[0]->data[i], n->f[0]);
}
static void ng__bw_leaky_relu(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *x = n->in[0]->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + (x[i] > 0.0f ? g[i] : n->f[0] * g[i]);
}
static void ng__fw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__tanhf(n->in[0]->data[i]);
}
static void ng__bw_tanh(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + g[i] * (1.0f - y[i] * y[i]);
}
static void ng__fw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) n->out->data[i] = ng__sigmoidf(n->in[0]->data[i]);
}
static void ng__bw_sigmoid(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *y = n->out->data, *g = n->out->grad;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] = (fresh ? 0.0f : gx[i]) + g[i] * y[i] * (1.0f - y[i]);
}

/* ---- softmax / log-softmax along i[0]; rows are (outer, inner) pairs strided by inner ---- */
static ng_tensor *ng__softmax_any(ng_ctx *ctx, int op, ng_tensor *x, int axis) {
    ng_node *n;
    if (x) NG_ASSERT(axis >= 0 && axis < x->shape.ndim);
    n = ng__begin(ctx, op, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->i[0] = axis;
    return ng__finish(n);
}
ng_tensor *ng_softmax(ng_ctx *ctx, ng_tensor *x, int axis) { return ng__softmax_any(ctx, NG_OP_SOFTMAX, x, axis); }
ng_tensor *ng_log_softmax(ng_ctx *ctx, ng_tensor *x, int axis) { return ng__softmax_any(ctx, NG_OP_LOG_SOFTMAX, x, axis); }

/* y = softmax or log_softmax of K values strided by `st` */
static void ng__softmax_row(const float *x, float *y, int64_t K, int64_t st, int log_out) {
    int64_t k;
    float mx = -INFINITY;
    double sum = 0.0;
    for (k = 0; k < K; k++) if (x[k * st] > mx) mx = x[k * st];
    for (k = 0; k < K; k++) sum += exp((double)(x[k * st] - mx));
    if (log_out) {
        float lse = (float)log(sum);
        for (k = 0; k < K; k++) y[k * st] = x[k * st] - mx - lse;
    } else {
        for (k = 0; k < K; k++) y[k * st] = (float)(exp((double)(x[k * st] - mx)) / sum);
    }
}
static void ng__softmax_fw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis], o, j;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (o = 0; o < outer; o++)
        for (j = 0; j < inner; j++)
            ng__softmax_row(n->in[0]->data + o * K * inner + j, n->out->data + o * K * inner + j, K, inner, log_out);
}
static void ng__softmax_bw(ng_node *n, int log_out) {
    int axis = (int)n->i[0];
    int64_t outer, inner, K = n->out->shape.d[axis], o, j, k;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (o = 0; o < outer; o++)
        for (j = 0; j < inner; j++) {
            int64_t base = o * K * inner + j;
            const float *y = n->out->data + base, *g = n->out->grad + base;
            float *gr = gx + base;
            double dot = 0.0;
            if (log_out) { /* dx = g - softmax * sum(g) */
                for (k = 0; k < K; k++) dot += g[k * inner];
                for (k = 0; k < K; k++) gr[k * inner] += g[k * inner] - expf(y[k * inner]) * (float)dot;
            } else {       /* dx = y * (g - sum(g * y)) */
                for (k = 0; k < K; k++) dot += (double)g[k * inner] * y[k * inner];
                for (k = 0; k < K; k++) gr[k * inner] += y[k * inner] * (g[k * inner] - (float)dot);
            }
        }
}
static void ng__fw_softmax(ng_node *n) { ng__softmax_fw(n, 0); }
static void ng__bw_softmax(ng_node *n) { ng__softmax_bw(n, 0); }
static void ng__fw_log_softmax(ng_node *n) { ng__softmax_fw(n, 1); }
static void ng__bw_log_softmax(ng_node *n) { ng__softmax_bw(n, 1); }

/* ---- dropout: i[0] = the mask's key (ng_dropout_bits), f[0] = p;
   saved = per-element multiplier (0 or 1/(1-p)) ---- */
ng_tensor *ng_dropout(ng_ctx *ctx, ng_tensor *x, float p) {
    ng_node *n;
    if (x) NG_ASSERT(p >= 0.0f && p < 1.0f);
    if (x && (!ctx->training || p == 0.0f)) return x;
    n = ng__begin(ctx, NG_OP_DROPOUT, &x, 1, x ? x->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = p;
    n->i[0] = (int64_t)ng_rng_u64(&ctx->rng);
    n->saved = ng__falloc(ctx, x->numel);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
/* m[i] = dropout multiplier of element i for key and p, and y[i] = x[i] m[i] when x is not
   NULL, in one pass (seq_attention fills only m) */
static void ng__dropout_fill(float *m, const float *x, float *y, int64_t N, uint64_t key, float p) {
    int64_t i;
    uint32_t thr = ng_dropout_threshold(p);
    float keep = 1.0f / (1.0f - p);
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) {
        m[i] = ng_dropout_bits(key, (uint64_t)i) < thr ? 0.0f : keep;
        if (x) y[i] = x[i] * m[i];
    }
}
static void ng__fw_dropout(ng_node *n) {
    ng__dropout_fill((float *)n->saved, n->in[0]->data, n->out->data, n->out->numel, (uint64_t)n->i[0], n->f[0]);
}
static void ng__bw_dropout(ng_node *n) {
    int64_t i, N = n->out->numel;
    const float *m = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
    NG__OMP_FOR(N > 65536)
    for (i = 0; i < N; i++) gx[i] += n->out->grad[i] * m[i];
}
