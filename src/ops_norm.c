/* ======================================================================================== */
/* @@OPS batch norm and spectral norm                                                        */
/* ======================================================================================== */

/* ---- batch norm ----
   x viewed as (N, C, S) with S = product of dims 2..; statistics per channel over M = N*S
   values. Inputs: x, then gamma (if i[1]), then beta (if i[2]). i[0] = 1 when batch statistics
   are used (training, or no running statistics), i[3] = C, i[4] = S. f[0] = momentum, f[1] = eps.
   saved: (2C) floats, per-channel mean then inverse standard deviation actually used.
   aux: ng__bn_aux (running statistics, updated in place by the forward). */
typedef struct ng__bn_aux { ng_tensor *running_mean, *running_var; } ng__bn_aux;

/* Per-span sums in double with four accumulators (a fixed order, so deterministic; four
   chains keep the adds from being latency-bound). */
/* Per-channel sums: 16 float lanes over chunks of 1024 elements (vectorises without
   reassociation), each chunk's lanes then added in double, so accuracy stays close to a
   double sum at float speed. */
#define NG__BN_LANES 16
#define NG__BN_CHUNK 1024
static double ng__lanes_total(const float *acc) {
    double t = 0.0;
    int j;
    for (j = 0; j < NG__BN_LANES; j++) t += acc[j];
    return t;
}
static double ng__span_sum(const float *x, int64_t n) {
    double total = 0.0;
    int64_t i = 0, end;
    while (i < n) {
        float acc[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) acc[j] += x[i + j];
        for (; i < end; i++) acc[0] += x[i];
        total += ng__lanes_total(acc);
    }
    return total;
}
static double ng__span_sqdev(const float *x, int64_t n, double mean_d) {
    const float mean = (float)mean_d;
    double total = 0.0;
    int64_t i = 0, end;
    while (i < n) {
        float acc[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) { float d = x[i + j] - mean; acc[j] += d * d; }
        for (; i < end; i++) { float d = x[i] - mean; acc[0] += d * d; }
        total += ng__lanes_total(acc);
    }
    return total;
}
/* sg += sum(g), sgx += sum(g (x - mean)) */
static void ng__span_gsums(const float *g, const float *x, int64_t n, double mean_d, double *sg, double *sgx) {
    const float mean = (float)mean_d;
    int64_t i = 0, end;
    while (i < n) {
        float a[NG__BN_LANES] = {0}, bx[NG__BN_LANES] = {0};
        int j;
        end = n - i > NG__BN_CHUNK ? i + NG__BN_CHUNK : n;
        for (; i + NG__BN_LANES <= end; i += NG__BN_LANES)
            for (j = 0; j < NG__BN_LANES; j++) { a[j] += g[i + j]; bx[j] += g[i + j] * (x[i + j] - mean); }
        for (; i < end; i++) { a[0] += g[i]; bx[0] += g[i] * (x[i] - mean); }
        *sg += ng__lanes_total(a);
        *sgx += ng__lanes_total(bx);
    }
}

ng_tensor *ng_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma, ng_tensor *beta,
                         ng_tensor *running_mean, ng_tensor *running_var, float momentum, float eps) {
    ng_tensor *ins[3];
    ng_node *n;
    ng__bn_aux *aux;
    int n_in = 1, batch_stats, d;
    int64_t C, S = 1, M;
    if (!x) return ng__null_input(ctx, NG_OP_BATCH_NORM);
    NG_ASSERT(x->shape.ndim >= 2);
    NG_ASSERT((running_mean == NULL) == (running_var == NULL));
    if (!ng__side_device_ok(ctx, NG_OP_BATCH_NORM, x, running_mean, "running_mean") ||
        !ng__side_device_ok(ctx, NG_OP_BATCH_NORM, x, running_var, "running_var"))
        return NULL;
    C = x->shape.d[1];
    for (d = 2; d < x->shape.ndim; d++) S *= x->shape.d[d];
    M = x->shape.d[0] * S;
    NG_ASSERT(!gamma || gamma->numel == C);
    NG_ASSERT(!beta || beta->numel == C);
    NG_ASSERT(!running_mean || (running_mean->numel == C && running_var->numel == C));
    NG_ASSERT(eps >= 0.0f);
    batch_stats = ctx->training || !running_mean;
    if (batch_stats && M < 2) {
        /* as PyTorch: the batch variance of one value is meaningless (and the unbiased one is 0/0) */
        if (ctx->status == NG_OK) ng__bad(ctx, "batch_norm", "expected more than 1 value per channel when using batch statistics");
        return NULL;
    }
    ins[0] = x;
    if (gamma) ins[n_in++] = gamma;
    if (beta) ins[n_in++] = beta;
    n = ng__begin(ctx, NG_OP_BATCH_NORM, ins, n_in, x->shape);
    if (!n) return NULL;
    n->i[0] = batch_stats;
    n->i[1] = gamma != NULL;
    n->i[2] = beta != NULL;
    n->i[3] = C;
    n->i[4] = S;
    n->f[0] = momentum;
    n->f[1] = eps;
    n->saved = ng__falloc(ctx, 2 * (C ? C : 1));
    aux = (ng__bn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->running_mean = running_mean;
    aux->running_var = running_var;
    n->aux = aux;
    return ng__finish(n);
}
static void ng__fw_batch_norm(ng_node *n) {
    const ng__bn_aux *aux = (const ng__bn_aux *)n->aux;
    int64_t C = n->i[3], S = n->i[4], N = n->in[0]->shape.d[0], M = N * S, c;
    const float *x = n->in[0]->data;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *beta = n->i[2] ? n->in[1 + n->i[1]]->data : NULL;
    float *y = n->out->data, *mean_s = (float *)n->saved, *invstd_s = mean_s + C;
    float *rm = aux->running_mean ? aux->running_mean->data : NULL;
    float *rv = aux->running_var ? aux->running_var->data : NULL;
    int batch_stats = (int)n->i[0];
    float mom = n->f[0], eps = n->f[1];
NG__OMP_FOR(n->out->numel > 32768 && C > 1)
    for (c = 0; c < C; c++) {
        int64_t b, s;
        double mean, invstd;
        float scale, shift;
        if (batch_stats) {
            double sum = 0.0, sq = 0.0;
            for (b = 0; b < N; b++) sum += ng__span_sum(x + (b * C + c) * S, S);
            mean = sum / (double)M;   /* two passes: the deviations are summed exactly enough */
            for (b = 0; b < N; b++) sq += ng__span_sqdev(x + (b * C + c) * S, S, mean);
            invstd = 1.0 / sqrt(sq / (double)M + (double)eps);
            if (rm) { /* running stats: biased variance normalises, the unbiased one is tracked */
                rm[c] = (float)((1.0 - mom) * rm[c] + (double)mom * mean);
                rv[c] = (float)((1.0 - mom) * rv[c] + (double)mom * (sq / (double)(M - 1)));
            }
        } else {
            mean = rm[c];
            invstd = 1.0 / sqrt((double)rv[c] + (double)eps);
        }
        mean_s[c] = (float)mean;
        invstd_s[c] = (float)invstd;
        scale = (float)((gamma ? gamma[c] : 1.0) * invstd);
        shift = (float)((beta ? beta[c] : 0.0) - mean * (double)scale);
        for (b = 0; b < N; b++) {
            const float *xr = x + (b * C + c) * S;
            float *yr = y + (b * C + c) * S;
            for (s = 0; s < S; s++) yr[s] = xr[s] * scale + shift;
        }
    }
}
/* Batch statistics: dx = gamma invstd (g - mean(g) - xhat mean(g xhat)), with xhat the
   normalised input; running statistics: dx = gamma invstd g. dgamma = sum(g xhat), dbeta = sum(g). */
static void ng__bw_batch_norm(ng_node *n) {
    int64_t C = n->i[3], S = n->i[4], N = n->in[0]->shape.d[0], M = N * S, c;
    const float *x = n->in[0]->data, *g = n->out->grad;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *mean_s = (const float *)n->saved, *invstd_s = mean_s + C;
    int fresh;
    float *gx = ng__in_grad_take(n, 0, &fresh); /* may be g itself: each element is read before it is written */
    float *ggamma = n->i[1] ? ng__in_grad(n, 1) : NULL;
    float *gbeta = n->i[2] ? ng__in_grad(n, (int)(1 + n->i[1])) : NULL;
    int batch_stats = (int)n->i[0];
    if (n->ctx->status != NG_OK) return;
NG__OMP_FOR(n->out->numel > 32768 && C > 1)
    for (c = 0; c < C; c++) {
        int64_t b, s;
        float mean = mean_s[c], invstd = invstd_s[c];
        double sg = 0.0, sgx = 0.0;
        if (ggamma || gbeta || (gx && batch_stats)) {
            for (b = 0; b < N; b++) ng__span_gsums(g + (b * C + c) * S, x + (b * C + c) * S, S, mean, &sg, &sgx);
            sgx *= invstd; /* sum(g xhat) */
            if (ggamma) ggamma[c] += (float)sgx;
            if (gbeta) gbeta[c] += (float)sg;
        }
        if (gx) {
            float k = (gamma ? gamma[c] : 1.0f) * invstd;
            if (batch_stats) {
                float mg = (float)(sg / (double)M), mgx = (float)(sgx / (double)M);
                for (b = 0; b < N; b++) {
                    const float *xr = x + (b * C + c) * S, *gr = g + (b * C + c) * S;
                    float *gxr = gx + (b * C + c) * S;
                    if (fresh) for (s = 0; s < S; s++) gxr[s] = 0.0f + k * (gr[s] - mg - (xr[s] - mean) * invstd * mgx);
                    else for (s = 0; s < S; s++) gxr[s] += k * (gr[s] - mg - (xr[s] - mean) * invstd * mgx);
                }
            } else {
                for (b = 0; b < N; b++) {
                    const float *gr = g + (b * C + c) * S;
                    float *gxr = gx + (b * C + c) * S;
                    if (fresh) for (s = 0; s < S; s++) gxr[s] = 0.0f + k * gr[s];
                    else for (s = 0; s < S; s++) gxr[s] += k * gr[s];
                }
            }
        }
    }
}

/* ---- spectral norm ----
   Input: w, viewed as (NO, NI) = (O, I). i[0] = NO, i[1] = NI, i[2] = 1 when u and v were
   updated (training).
   f[0] = eps, f[1] = sigma (float, as the output divides by it).
   saved: (NO + NI) floats, the u and v this forward used (later forwards may update the
   persistent ones before this node's backward runs, so the backward keeps its own copy).
   aux: the persistent (u, v) pair. */
typedef struct ng__sn_aux { ng_tensor *u, *v; } ng__sn_aux;

/* out = src / max(||src||, eps), src in double */
static void ng__normalize_into(float *out, const double *src, int64_t n, double eps) {
    double ss = 0.0, nrm;
    int64_t i;
    for (i = 0; i < n; i++) ss += src[i] * src[i];
    nrm = sqrt(ss);
    if (nrm < eps) nrm = eps;
    for (i = 0; i < n; i++) out[i] = (float)(src[i] / nrm);
}

void ng_spectral_norm_init(ng_tensor *u, ng_tensor *v, ng_rng *r, float eps) {
    ng_tensor *t[2];
    int k;
    t[0] = u; t[1] = v;
    for (k = 0; k < 2; k++) { /* float N(0, 1) draws, then x / max(||x||, eps) */
        int64_t i, n = t[k]->numel;
        double ss = 0.0, nrm;
        for (i = 0; i < n; i++) {
            t[k]->data[i] = (float)ng_rng_normal(r);
            ss += (double)t[k]->data[i] * t[k]->data[i];
        }
        nrm = sqrt(ss);
        if (nrm < (double)eps) nrm = eps;
        for (i = 0; i < n; i++) t[k]->data[i] = (float)(t[k]->data[i] / nrm);
    }
}

ng_tensor *ng_spectral_norm(ng_ctx *ctx, ng_tensor *w, ng_tensor *u, ng_tensor *v, float eps) {
    ng_node *n;
    ng__sn_aux *aux;
    int64_t NO, NI;
    if (!w || !u || !v) return ng__null_input(ctx, NG_OP_SPECTRAL_NORM);
    NG_ASSERT(w->shape.ndim >= 1 && w->numel > 0);
    if (!ng__side_device_ok(ctx, NG_OP_SPECTRAL_NORM, w, u, "u") || !ng__side_device_ok(ctx, NG_OP_SPECTRAL_NORM, w, v, "v")) return NULL;
    NO = w->shape.d[0];
    NI = w->numel / NO;
    NG_ASSERT(u->numel == NO && v->numel == NI);
    n = ng__begin(ctx, NG_OP_SPECTRAL_NORM, &w, 1, w->shape);
    if (!n) return NULL;
    n->i[0] = NO;
    n->i[1] = NI;
    n->i[2] = ctx->training;
    n->f[0] = eps;
    n->saved = ng__falloc(ctx, NO + NI);
    aux = (ng__sn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->u = u;
    aux->v = v;
    n->aux = aux;
    return ng__finish(n);
}
static void ng__fw_spectral_norm(ng_node *n) {
    ng__sn_aux *aux = (ng__sn_aux *)n->aux;
    int64_t NO = n->i[0], NI = n->i[1], o, i;
    const float *W = n->in[0]->data;
    float *u = aux->u->data, *v = aux->v->data, *y = n->out->data;
    float *u_s = (float *)n->saved, *v_s = u_s + NO, sigma_f;
    double eps = n->f[0], sigma = 0.0;
    double *wv = (double *)ng__alloc(n->ctx, (size_t)(NO + NI) * sizeof(double)), *wtu = wv + NO;
    if (!wv) return;
    if (n->i[2]) { /* one power iteration: v = normalize(W^T u), u = normalize(W v) */
        for (i = 0; i < NI; i++) wtu[i] = 0.0;
        for (o = 0; o < NO; o++) {
            const float *wr = W + o * NI;
            double uo = u[o];
            for (i = 0; i < NI; i++) wtu[i] += uo * wr[i];
        }
        ng__normalize_into(v, wtu, NI, eps);
    }
NG__OMP_FOR(NO * NI > 65536)
    for (o = 0; o < NO; o++) {
        const float *wr = W + o * NI;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < NI; j++) acc += (double)wr[j] * v[j];
        wv[o] = acc;
    }
    if (n->i[2]) ng__normalize_into(u, wv, NO, eps);
    for (o = 0; o < NO; o++) sigma += (double)u[o] * wv[o];
    memcpy(u_s, u, (size_t)NO * sizeof(float));
    memcpy(v_s, v, (size_t)NI * sizeof(float));
    sigma_f = (float)sigma;
    n->f[1] = sigma_f;
NG__OMP_FOR(NO * NI > 65536)
    for (i = 0; i < NO * NI; i++) y[i] = W[i] / sigma_f;
}
/* y = W / sigma with sigma = u^T W v (u, v constant): dW = g / sigma - (sum(g W) / sigma^2) u v^T */
static void ng__bw_spectral_norm(ng_node *n) {
    int64_t NO = n->i[0], NI = n->i[1], o;
    const float *W = n->in[0]->data, *g = n->out->grad;
    const float *u_s = (const float *)n->saved, *v_s = u_s + NO;
    float *gw = ng__in_grad(n, 0);
    double sigma = n->f[1], dot = 0.0;
    float inv_sigma, coef;
    if (!gw) return;
    for (o = 0; o < NO * NI; o++) dot += (double)g[o] * W[o];
    inv_sigma = (float)(1.0 / sigma);
    coef = (float)(dot / (sigma * sigma));
NG__OMP_FOR(NO * NI > 65536)
    for (o = 0; o < NO; o++) {
        const float *gr = g + o * NI;
        float *gwr = gw + o * NI, cu = coef * u_s[o];
        int64_t j;
        for (j = 0; j < NI; j++) gwr[j] += gr[j] * inv_sigma - cu * v_s[j];
    }
}
