/* ======================================================================================== */
/* @@OPS sequence ops                                                                       */
/* ======================================================================================== */

ng_tensor *ng_seq_mask_from_lengths(ng_ctx *ctx, const int32_t *lengths, int64_t N, int64_t L) {
    ng_tensor *m;
    int64_t b, t;
    float *h;
    NG_ASSERT(N >= 0 && L >= 0 && (N == 0 || lengths));
    m = ng_tensor_new(ctx, ng_shape2(N, L));
    if (!m) return NULL;
    /* built on the host; a device context gets a copy */
    h = ctx->device == NG_CUDA ? (float *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(float)) : m->data;
    if (!h) return NULL;
    for (b = 0; b < N; b++)
        for (t = 0; t < L; t++) h[b * L + t] = t < (int64_t)lengths[b] ? 1.0f : 0.0f;
    if (h != m->data) ng__cuda_copy(m->data, h, (size_t)(N * L) * sizeof(float), 1);
    return m;
}

/* ---- embedding: i[0] = N, i[1] = L, i[2] = padding_idx (-1: none); saved = ids (N*L int32) ---- */
ng_tensor *ng_embedding(ng_ctx *ctx, ng_tensor *table, const int32_t *ids, int64_t N, int64_t L, int64_t padding_idx) {
    ng_node *n;
    int32_t *keep;
    int64_t V, D, j;
    if (!table) return ng__null_input(ctx, NG_OP_EMBEDDING);
    NG_ASSERT(table->shape.ndim == 2 && N >= 0 && L >= 0 && (N == 0 || L == 0 || ids));
    V = table->shape.d[0];
    D = table->shape.d[1];
    for (j = 0; j < N * L; j++)
        if (ids[j] < 0 || (int64_t)ids[j] >= V) {
            if (ctx->status == NG_OK) {
                ng__ctx_fail(ctx, NG_ERR_ARG);
                ng_fail(NG_ERR_ARG, "embedding: id %ld at position %lld is outside [0, %lld)", (long)ids[j], (long long)j, (long long)V);
            }
            return NULL;
        }
    n = ng__begin(ctx, NG_OP_EMBEDDING, &table, 1, ng_shape3(N, L, D));
    if (!n) return NULL;
    keep = (int32_t *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(int32_t));
    if (!keep) return NULL;
    if (N > 0 && L > 0) memcpy(keep, ids, (size_t)(N * L) * sizeof(int32_t));
    n->saved = keep;
    n->i[0] = N; n->i[1] = L; n->i[2] = padding_idx < 0 ? -1 : padding_idx;
    return ng__finish(n);
}
static void ng__fw_embedding(ng_node *n) {
    int64_t P = n->i[0] * n->i[1], D = n->in[0]->shape.d[1], p;
    const int32_t *ids = (const int32_t *)n->saved;
    const float *tab = n->in[0]->data;
    float *y = n->out->data;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++) memcpy(y + p * D, tab + (int64_t)ids[p] * D, (size_t)D * sizeof(float));
}
/* Threads split the feature columns; each column adds positions in order, so the sums do
   not depend on the thread count. */
static void ng__bw_embedding(ng_node *n) {
    int64_t P = n->i[0] * n->i[1], D = n->in[0]->shape.d[1], pad = n->i[2], c0;
    const int32_t *ids = (const int32_t *)n->saved;
    const float *g = n->out->grad;
    float *gt = ng__in_grad(n, 0);
    if (!gt) return;
NG__OMP_FOR(P * D > 65536 && D >= 128)
    for (c0 = 0; c0 < D; c0 += 64) {
        int64_t c1 = c0 + 64 < D ? c0 + 64 : D, p, c;
        for (p = 0; p < P; p++) {
            float *row;
            const float *gr = g + p * D;
            if ((int64_t)ids[p] == pad) continue;
            row = gt + (int64_t)ids[p] * D;
            for (c = c0; c < c1; c++) row[c] += gr[c];
        }
    }
}

/* ---- mask select: inputs x (N, L, D), mask (N, L); the mask gets no gradient ---- */
static int ng__seq_check(ng_ctx *ctx, const ng_tensor *x, const ng_tensor *mask, const char *op) {
    if (x->shape.ndim != 3) { ng__bad(ctx, op, "x must be (N, L, D)"); return 0; }
    if (mask && (mask->shape.ndim != 2 || mask->shape.d[0] != x->shape.d[0] || mask->shape.d[1] != x->shape.d[1])) {
        ng__bad(ctx, op, "mask must be (N, L) with x's N and L");
        return 0;
    }
    return 1;
}
ng_tensor *ng_seq_mask(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = x; ins[1] = mask;
    if (!x || !mask) return ng__null_input(ctx, NG_OP_SEQ_MASK);
    if (!ng__seq_check(ctx, x, mask, "seq_mask")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_MASK, ins, 2, x->shape);
    if (!n) return NULL;
    n->need &= 1u; /* never differentiate the mask */
    return ng__finish(n);
}
static void ng__fw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], p;
    const float *x = n->in[0]->data, *m = n->in[1]->data;
    float *y = n->out->data;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++) {
        if (m[p] != 0.0f) memcpy(y + p * D, x + p * D, (size_t)D * sizeof(float));
        else memset(y + p * D, 0, (size_t)D * sizeof(float));
    }
}
static void ng__bw_seq_mask(ng_node *n) {
    int64_t P = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], p;
    const float *m = n->in[1]->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(P * D > 65536)
    for (p = 0; p < P; p++)
        if (m[p] != 0.0f) {
            int64_t c;
            for (c = 0; c < D; c++) gx[p * D + c] += g[p * D + c];
        }
}

/* ---- conv1d ("same", channel-last): out = col W^T + b with col (N*L, Cin*K),
   col[(n, t), c*K + k] = x[n, t + k - P, c] (0 outside), W viewed (Cout, Cin*K).
   i[0] = K. saved: col (when K > 1 and w needs a gradient; for K == 1 col is x itself). ---- */
ng_tensor *ng_conv1d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b) {
    ng_tensor *ins[3];
    ng_node *n;
    int64_t K;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_CONV1D);
    if (!ng__seq_check(ctx, x, NULL, "conv1d")) return NULL;
    NG_ASSERT(w->shape.ndim == 3 && w->shape.d[1] == x->shape.d[2]);
    K = w->shape.d[2];
    if (K < 1 || K % 2 == 0) { ng__bad(ctx, "conv1d", "kernel size must be odd (same padding)"); return NULL; }
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    n = ng__begin(ctx, NG_OP_CONV1D, ins, b ? 3 : 2, ng_shape3(x->shape.d[0], x->shape.d[1], w->shape.d[0]));
    if (!n) return NULL;
    n->i[0] = K;
    return ng__finish(n);
}
static void ng__conv1d_im2col(const float *x, float *col, int64_t N, int64_t L, int64_t C, int64_t K) {
    int64_t r, P = (K - 1) / 2;
NG__OMP_FOR(N * L * C * K > 65536)
    for (r = 0; r < N * L; r++) {
        int64_t b = r / L, t = r % L, c, k;
        float *cr = col + r * C * K;
        for (k = 0; k < K; k++) {
            int64_t s = t + k - P;
            if (s < 0 || s >= L)
                for (c = 0; c < C; c++) cr[c * K + k] = 0.0f;
            else {
                const float *xr = x + (b * L + s) * C;
                for (c = 0; c < C; c++) cr[c * K + k] = xr[c];
            }
        }
    }
}
static void ng__fw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0], r, o;
    const float *col = x->data;
    float *y = n->out->data;
    if (K > 1) {
        float *cb = ng__falloc(n->ctx, N * L * C * K);
        if (!cb) return;
        ng__conv1d_im2col(x->data, cb, N, L, C, K);
        col = cb;
        if (ng__need(n, 1)) n->saved = cb;
    }
    if (n->n_in == 3)
        for (r = 0; r < N * L; r++)
            for (o = 0; o < O; o++) y[r * O + o] = n->in[2]->data[o];
    ng_sgemm(n->ctx->gemm_backend, 0, 1, N * L, O, C * K, 1.0f, col, C * K, w->data, C * K,
             n->n_in == 3 ? 1.0f : 0.0f, y, O);
}
static void ng__bw_conv1d(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], L = x->shape.d[1], C = x->shape.d[2], O = w->shape.d[0], K = n->i[0], P = (K - 1) / 2, r, o;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (gb)
        for (r = 0; r < N * L; r++)
            for (o = 0; o < O; o++) gb[o] += g[r * O + o];
    if (gw) {
        const float *col = K == 1 ? x->data : (const float *)n->saved;
        ng_sgemm(n->ctx->gemm_backend, 1, 0, O, C * K, N * L, 1.0f, g, O, col, C * K, 1.0f, gw, C * K);
    }
    if (gx) {
        if (K == 1) {
            ng_sgemm(n->ctx->gemm_backend, 0, 0, N * L, C, O, 1.0f, g, O, w->data, C, 1.0f, gx, C);
        } else {
            float *gcol = ng__falloc(n->ctx, N * L * C * K);
            if (!gcol) return;
            ng_sgemm(n->ctx->gemm_backend, 0, 0, N * L, C * K, O, 1.0f, g, O, w->data, C * K, 0.0f, gcol, C * K);
            /* gather (no scatter races): gx[n, s, c] += sum_k gcol[(n, s - k + P), c*K + k] */
NG__OMP_FOR(N * L * C * K > 65536)
            for (r = 0; r < N * L; r++) {
                int64_t b = r / L, s = r % L, c, k;
                float *gr = gx + r * C;
                for (k = 0; k < K; k++) {
                    int64_t t = s - k + P;
                    const float *src;
                    if (t < 0 || t >= L) continue;
                    src = gcol + (b * L + t) * C * K + k;
                    for (c = 0; c < C; c++) gr[c] += src[c * K];
                }
            }
        }
    }
}

/* ---- pools, kernel 3 stride 1 padding 1 along L: i[0] = 1 for max, 0 for avg ---- */
static ng_tensor *ng__seq_pool3(ng_ctx *ctx, ng_tensor *x, int is_max) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_SEQ_POOL3);
    if (!ng__seq_check(ctx, x, NULL, is_max ? "seq_max_pool3" : "seq_avg_pool3")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_POOL3, &x, 1, x->shape);
    if (!n) return NULL;
    n->i[0] = is_max;
    return ng__finish(n);
}
ng_tensor *ng_seq_avg_pool3(ng_ctx *ctx, ng_tensor *x) { return ng__seq_pool3(ctx, x, 0); }
ng_tensor *ng_seq_max_pool3(ng_ctx *ctx, ng_tensor *x) { return ng__seq_pool3(ctx, x, 1); }
/* position (t - 1, t or t + 1) holding the window's maximum of feature c: first maximum,
   NaN wins (PyTorch's `val > max || isnan(val)` scan) */
static int64_t ng__pool3_argmax(const float *x, int64_t t, int64_t L, int64_t D, int64_t c) {
    int64_t s = t > 0 ? t - 1 : t, e = t + 1 < L ? t + 1 : t, best = s, u;
    float m = x[s * D + c];
    for (u = s + 1; u <= e; u++) {
        float v = x[u * D + c];
        if (v > m || isnan(v)) { m = v; best = u; }
        if (isnan(m)) break;
    }
    return best;
}
static void ng__fw_seq_pool3(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], r;
    int is_max = (int)n->i[0];
NG__OMP_FOR(N * L * D > 65536)
    for (r = 0; r < N * L; r++) {
        int64_t b = r / L, t = r % L, c;
        const float *xb = n->in[0]->data + b * L * D;
        float *y = n->out->data + r * D;
        if (is_max) {
            for (c = 0; c < D; c++) y[c] = xb[ng__pool3_argmax(xb, t, L, D, c) * D + c];
        } else {
            const float *xm = t > 0 ? xb + (t - 1) * D : NULL, *x0 = xb + t * D, *xp = t + 1 < L ? xb + (t + 1) * D : NULL;
            for (c = 0; c < D; c++) {
                float s = (xm ? xm[c] : 0.0f) + x0[c];
                s += xp ? xp[c] : 0.0f;
                y[c] = s / 3.0f;
            }
        }
    }
}
static void ng__bw_seq_pool3(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    int is_max = (int)n->i[0];
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *xb = n->in[0]->data + b * L * D, *gb = n->out->grad + b * L * D;
        float *gxb = gx + b * L * D;
        int64_t t, c;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) {
                if (is_max) gxb[ng__pool3_argmax(xb, t, L, D, c) * D + c] += gb[t * D + c];
                else {
                    float s = gb[t * D + c];
                    if (t > 0) s += gb[(t - 1) * D + c];
                    if (t + 1 < L) s += gb[(t + 1) * D + c];
                    gxb[t * D + c] += s / 3.0f;
                }
            }
    }
}

/* ---- batch norm over the last dimension of (N, L, D): R = N*L rows, statistics per column.
   Inputs: x, gamma (if i[1]), beta (if i[2]). i[0] = 1 when batch statistics are used.
   f[0] = momentum, f[1] = eps. saved: (2D) floats, mean then inverse std used. aux: running
   statistics (ng__bn_aux, from @@OPS batch norm). Sums in double, rows in order, threads over
   column blocks (deterministic). ---- */
ng_tensor *ng_seq_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma, ng_tensor *beta,
                             ng_tensor *running_mean, ng_tensor *running_var, float momentum, float eps) {
    ng_tensor *ins[3];
    ng_node *n;
    ng__bn_aux *aux;
    int n_in = 1, batch_stats;
    int64_t D;
    if (!x) return ng__null_input(ctx, NG_OP_SEQ_BATCH_NORM);
    if (!ng__seq_check(ctx, x, NULL, "seq_batch_norm")) return NULL;
    NG_ASSERT((running_mean == NULL) == (running_var == NULL));
    if (!ng__side_device_ok(ctx, NG_OP_SEQ_BATCH_NORM, x, running_mean, "running_mean") ||
        !ng__side_device_ok(ctx, NG_OP_SEQ_BATCH_NORM, x, running_var, "running_var"))
        return NULL;
    D = x->shape.d[2];
    NG_ASSERT(!gamma || gamma->numel == D);
    NG_ASSERT(!beta || beta->numel == D);
    NG_ASSERT(!running_mean || (running_mean->numel == D && running_var->numel == D));
    NG_ASSERT(eps >= 0.0f);
    batch_stats = ctx->training || !running_mean;
    if (batch_stats && x->shape.d[0] * x->shape.d[1] < 2) {
        if (ctx->status == NG_OK) ng__bad(ctx, "seq_batch_norm", "expected more than 1 value per channel when using batch statistics");
        return NULL;
    }
    ins[0] = x;
    if (gamma) ins[n_in++] = gamma;
    if (beta) ins[n_in++] = beta;
    n = ng__begin(ctx, NG_OP_SEQ_BATCH_NORM, ins, n_in, x->shape);
    if (!n) return NULL;
    n->i[0] = batch_stats; n->i[1] = gamma != NULL; n->i[2] = beta != NULL;
    n->f[0] = momentum; n->f[1] = eps;
    n->saved = ng__falloc(ctx, 2 * (D ? D : 1));
    aux = (ng__bn_aux *)ng__alloc(ctx, sizeof *aux);
    if (!n->saved || !aux) return NULL;
    aux->running_mean = running_mean;
    aux->running_var = running_var;
    n->aux = aux;
    return ng__finish(n);
}
#define NG__SEQ_BN_COLS 32
static void ng__fw_seq_batch_norm(ng_node *n) {
    const ng__bn_aux *aux = (const ng__bn_aux *)n->aux;
    int64_t R = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], c0;
    const float *x = n->in[0]->data;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *beta = n->i[2] ? n->in[1 + n->i[1]]->data : NULL;
    float *y = n->out->data, *mean_s = (float *)n->saved, *invstd_s = mean_s + D;
    float *rm = aux->running_mean ? aux->running_mean->data : NULL;
    float *rv = aux->running_var ? aux->running_var->data : NULL;
    int batch_stats = (int)n->i[0];
    float mom = n->f[0], eps = n->f[1];
NG__OMP_FOR(R * D > 32768 && D > NG__SEQ_BN_COLS)
    for (c0 = 0; c0 < D; c0 += NG__SEQ_BN_COLS) {
        int64_t c1 = c0 + NG__SEQ_BN_COLS < D ? c0 + NG__SEQ_BN_COLS : D, r, c;
        double sum[NG__SEQ_BN_COLS], sq[NG__SEQ_BN_COLS];
        float scale[NG__SEQ_BN_COLS], shift[NG__SEQ_BN_COLS];
        for (c = c0; c < c1; c++) { sum[c - c0] = 0.0; sq[c - c0] = 0.0; }
        if (batch_stats) {
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) sum[c - c0] += x[r * D + c];
            for (c = c0; c < c1; c++) sum[c - c0] /= (double)R; /* now the mean */
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) { double d = (double)x[r * D + c] - sum[c - c0]; sq[c - c0] += d * d; }
        }
        for (c = c0; c < c1; c++) {
            double mean, invstd;
            if (batch_stats) {
                mean = sum[c - c0];
                invstd = 1.0 / sqrt(sq[c - c0] / (double)R + (double)eps);
                if (rm) {
                    rm[c] = (float)((1.0 - mom) * rm[c] + (double)mom * mean);
                    rv[c] = (float)((1.0 - mom) * rv[c] + (double)mom * (sq[c - c0] / (double)(R - 1)));
                }
            } else {
                mean = rm[c];
                invstd = 1.0 / sqrt((double)rv[c] + (double)eps);
            }
            mean_s[c] = (float)mean;
            invstd_s[c] = (float)invstd;
            scale[c - c0] = (float)((gamma ? gamma[c] : 1.0) * invstd);
            shift[c - c0] = (float)((beta ? beta[c] : 0.0) - mean * (double)scale[c - c0]);
        }
        for (r = 0; r < R; r++)
            for (c = c0; c < c1; c++) y[r * D + c] = x[r * D + c] * scale[c - c0] + shift[c - c0];
    }
}
static void ng__bw_seq_batch_norm(ng_node *n) {
    int64_t R = n->in[0]->shape.d[0] * n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], c0;
    const float *x = n->in[0]->data, *g = n->out->grad;
    const float *gamma = n->i[1] ? n->in[1]->data : NULL;
    const float *mean_s = (const float *)n->saved, *invstd_s = mean_s + D;
    float *gx = ng__in_grad(n, 0);
    float *ggamma = n->i[1] ? ng__in_grad(n, 1) : NULL;
    float *gbeta = n->i[2] ? ng__in_grad(n, (int)(1 + n->i[1])) : NULL;
    int batch_stats = (int)n->i[0];
NG__OMP_FOR(R * D > 32768 && D > NG__SEQ_BN_COLS)
    for (c0 = 0; c0 < D; c0 += NG__SEQ_BN_COLS) {
        int64_t c1 = c0 + NG__SEQ_BN_COLS < D ? c0 + NG__SEQ_BN_COLS : D, r, c;
        double sg[NG__SEQ_BN_COLS], sgx[NG__SEQ_BN_COLS];
        float k[NG__SEQ_BN_COLS], mg[NG__SEQ_BN_COLS], mgx[NG__SEQ_BN_COLS];
        for (c = c0; c < c1; c++) { sg[c - c0] = 0.0; sgx[c - c0] = 0.0; }
        if (ggamma || gbeta || (gx && batch_stats)) {
            for (r = 0; r < R; r++)
                for (c = c0; c < c1; c++) {
                    double gv = g[r * D + c];
                    sg[c - c0] += gv;
                    sgx[c - c0] += gv * ((double)x[r * D + c] - mean_s[c]);
                }
            for (c = c0; c < c1; c++) {
                sgx[c - c0] *= invstd_s[c]; /* sum(g xhat) */
                if (ggamma) ggamma[c] += (float)sgx[c - c0];
                if (gbeta) gbeta[c] += (float)sg[c - c0];
            }
        }
        if (!gx) continue;
        for (c = c0; c < c1; c++) {
            k[c - c0] = (gamma ? gamma[c] : 1.0f) * invstd_s[c];
            mg[c - c0] = batch_stats ? (float)(sg[c - c0] / (double)R) : 0.0f;
            mgx[c - c0] = batch_stats ? (float)(sgx[c - c0] / (double)R) : 0.0f;
        }
        for (r = 0; r < R; r++)
            for (c = c0; c < c1; c++)
                gx[r * D + c] += k[c - c0] * (g[r * D + c] - mg[c - c0] - (x[r * D + c] - mean_s[c]) * invstd_s[c] * mgx[c - c0]);
    }
}

/* ---- mean pool over L: inputs x, mask (no gradient); saved = 1 / cnt per sequence (N) ---- */
ng_tensor *ng_seq_mean_pool(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = x; ins[1] = mask;
    if (!x || !mask) return ng__null_input(ctx, NG_OP_SEQ_MEAN_POOL);
    if (!ng__seq_check(ctx, x, mask, "seq_mean_pool")) return NULL;
    n = ng__begin(ctx, NG_OP_SEQ_MEAN_POOL, ins, 2, ng_shape2(x->shape.d[0], x->shape.d[2]));
    if (!n) return NULL;
    n->need &= 1u;
    n->saved = ng__falloc(ctx, x->shape.d[0] ? x->shape.d[0] : 1);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
static void ng__fw_seq_mean_pool(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    float *inv = (float *)n->saved;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *xb = n->in[0]->data + b * L * D, *m = n->in[1]->data + b * L;
        float *y = n->out->data + b * D;
        double cnt = 0.0;
        int64_t t, c;
        for (t = 0; t < L; t++) cnt += m[t];
        inv[b] = (float)(1.0 / (cnt != 0.0 ? cnt : 1e-12));
        for (c = 0; c < D; c++) y[c] = 0.0f;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) y[c] += xb[t * D + c];
        for (c = 0; c < D; c++) y[c] *= inv[b];
    }
}
static void ng__bw_seq_mean_pool(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], D = n->in[0]->shape.d[2], b;
    const float *inv = (const float *)n->saved;
    float *gx = ng__in_grad(n, 0);
    if (!gx) return;
NG__OMP_FOR(N * L * D > 65536 && N > 1)
    for (b = 0; b < N; b++) {
        const float *g = n->out->grad + b * D;
        int64_t t, c;
        for (t = 0; t < L; t++)
            for (c = 0; c < D; c++) gx[(b * L + t) * D + c] += g[c] * inv[b];
    }
}

/* ---- attention core: inputs q, k, v, mask. i[0] = heads. f[0] = dropout p (0 when off),
   i[1] = the dropout mask's key (ng_dropout_bits).
   saved: softmax probabilities before the query mask and dropout, (N, heads, L, L);
   aux: dropout multipliers (same shape; filled by the forward) or NULL. ---- */
ng_tensor *ng_seq_attention(ng_ctx *ctx, ng_tensor *q, ng_tensor *k, ng_tensor *v, ng_tensor *mask, int heads, float p) {
    ng_tensor *ins[4];
    ng_node *n;
    int64_t N, L, H, PL;
    ins[0] = q; ins[1] = k; ins[2] = v; ins[3] = mask;
    if (!q || !k || !v || !mask) return ng__null_input(ctx, NG_OP_SEQ_ATTENTION);
    if (!ng__seq_check(ctx, q, mask, "seq_attention")) return NULL;
    NG_ASSERT(ng_shape_eq(q->shape, k->shape) && ng_shape_eq(q->shape, v->shape));
    NG_ASSERT(p >= 0.0f && p < 1.0f);
    N = q->shape.d[0]; L = q->shape.d[1]; H = q->shape.d[2];
    if (heads < 1 || H % heads != 0) { ng__bad(ctx, "seq_attention", "heads must divide the feature size"); return NULL; }
    n = ng__begin(ctx, NG_OP_SEQ_ATTENTION, ins, 4, q->shape);
    if (!n) return NULL;
    n->need &= 7u;
    n->i[0] = heads;
    n->f[0] = ctx->training ? p : 0.0f;
    PL = N * heads * L * L;
    n->saved = ng__falloc(ctx, PL > 0 ? PL : 1);
    if (!n->saved) return NULL;
    if (n->f[0] > 0.0f) {   /* the multipliers, filled by the forward (ng__dropout_fill) */
        n->i[1] = (int64_t)ng_rng_u64(&ctx->rng);
        n->aux = ng__falloc(ctx, PL > 0 ? PL : 1);
        if (!n->aux) return NULL;
    }
    return ng__finish(n);
}
/* softmax of one score row in place, bit for bit ng__softmax_row of the row with the padded
   keys' scores replaced by -1e10, at one exp per real key: the padded keys share one exp
   (which underflows to 0, a slow path in libm), and the real keys' exps are kept in ex (L) */
static void ng__attn_softmax_row(float *row, const float *mb, int64_t L, double *ex) {
    float mx = -INFINITY;
    double sum = 0.0, padded = 0.0;
    int64_t j, any_padded = 0;
    for (j = 0; j < L; j++) {
        if (mb[j] == 0.0f) { row[j] = -1e10f; any_padded = 1; }
        if (row[j] > mx) mx = row[j];
    }
    if (any_padded) padded = exp((double)(-1e10f - mx));
    for (j = 0; j < L; j++) sum += ex[j] = mb[j] == 0.0f ? padded : exp((double)(row[j] - mx));
    for (j = 0; j < L; j++) row[j] = (float)(ex[j] / sum);
}
/* The applied weights Pw and the exp rows are scratch, given back to the arena on return. */
static void ng__fw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads, nh;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data;
    const float *dm = (const float *)n->aux;
    float *Ps = (float *)n->saved, *Y = n->out->data, scale = 1.0f / sqrtf((float)d);
    size_t mark = n->ctx->arena.used;
    float *Pw = ng__falloc(n->ctx, N * heads * L * L > 0 ? N * heads * L * L : 1); /* weights applied */
    double *ex = (double *)ng__alloc(n->ctx, (size_t)(N * heads * L + 1) * sizeof(double));
    if (!Pw || !ex) return;
    if (dm) ng__dropout_fill((float *)n->aux, NULL, NULL, N * heads * L * L, (uint64_t)n->i[1], n->f[0]);
NG__OMP_FOR(N * heads > 1 && N * L * L * H > 32768)
    for (nh = 0; nh < N * heads; nh++) {
        int64_t b = nh / heads, h = nh % heads, off = b * L * H + h * d, i, j;
        float *S = Ps + nh * L * L, *W = Pw + nh * L * L;
        const float *mb = m + b * L;
        ng_sgemm(n->ctx->gemm_backend, 0, 1, L, L, d, scale, Q + off, H, K + off, H, 0.0f, S, L);
        for (i = 0; i < L; i++) {
            float *row = S + i * L, *w = W + i * L;
            ng__attn_softmax_row(row, mb, L, ex + nh * L);
            for (j = 0; j < L; j++) {
                float pv = mb[i] != 0.0f ? row[j] : 0.0f;
                w[j] = dm ? pv * dm[nh * L * L + i * L + j] : pv;
            }
        }
        ng_sgemm(n->ctx->gemm_backend, 0, 0, L, d, L, 1.0f, W, L, V + off, H, 0.0f, Y + off, H);
    }
    n->ctx->arena.used = mark;
}
/* W = query-masked, dropped P (recomputed from the saved softmax); dO the output gradient:
   dV_h += W^T dO_h; dW = dO_h V_h^T; dP = dW * dropout * qmask; dS = P (dP - rowsum(dP P)),
   0 at padded keys (their scores were replaced by a constant); dQ_h += dS K_h / sqrt(d),
   dK_h += dS^T Q_h / sqrt(d). */
static void ng__bw_seq_attention(ng_node *n) {
    int64_t N = n->in[0]->shape.d[0], L = n->in[0]->shape.d[1], H = n->in[0]->shape.d[2], heads = n->i[0], d = H / heads, nh, PL;
    const float *Q = n->in[0]->data, *K = n->in[1]->data, *V = n->in[2]->data, *m = n->in[3]->data, *G = n->out->grad;
    const float *dm = (const float *)n->aux, *Ps = (const float *)n->saved;
    float *gq = ng__in_grad(n, 0), *gk = ng__in_grad(n, 1), *gv = ng__in_grad(n, 2), scale = 1.0f / sqrtf((float)d);
    float *scratch;
    int gemm = n->ctx->gemm_backend;
    PL = N * heads * L * L;
    scratch = ng__falloc(n->ctx, PL > 0 ? 2 * PL : 1);
    if (!scratch) return;
    /* heads of one sequence write disjoint channel blocks, sequences disjoint rows: no races */
NG__OMP_FOR(N * heads > 1 && N * L * L * H > 32768)
    for (nh = 0; nh < N * heads; nh++) {
        int64_t b = nh / heads, h = nh % heads, off = b * L * H + h * d, i, j;
        const float *P = Ps + nh * L * L, *mb = m + b * L, *dmh = dm ? dm + nh * L * L : NULL;
        float *W = scratch + nh * L * L, *dS = scratch + PL + nh * L * L;
        if (gv) {
            for (i = 0; i < L; i++)
                for (j = 0; j < L; j++) {
                    float pv = mb[i] != 0.0f ? P[i * L + j] : 0.0f;
                    W[i * L + j] = dmh ? pv * dmh[i * L + j] : pv;
                }
            ng_sgemm(gemm, 1, 0, L, d, L, 1.0f, W, L, G + off, H, 1.0f, gv + off, H);
        }
        if (!gq && !gk) continue;
        ng_sgemm(gemm, 0, 1, L, L, d, 1.0f, G + off, H, V + off, H, 0.0f, dS, L);
        for (i = 0; i < L; i++) {
            float *r = dS + i * L;
            const float *pr = P + i * L;
            double dot = 0.0;
            if (mb[i] == 0.0f) { for (j = 0; j < L; j++) r[j] = 0.0f; continue; }
            if (dmh) for (j = 0; j < L; j++) r[j] *= dmh[i * L + j];
            for (j = 0; j < L; j++) dot += (double)r[j] * pr[j];
            for (j = 0; j < L; j++) r[j] = mb[j] != 0.0f ? pr[j] * (r[j] - (float)dot) : 0.0f;
        }
        if (gq) ng_sgemm(gemm, 0, 0, L, d, L, scale, dS, L, K + off, H, 1.0f, gq + off, H);
        if (gk) ng_sgemm(gemm, 1, 0, L, d, L, scale, dS, L, Q + off, H, 1.0f, gk + off, H);
    }
}

/* ---- GRU, one direction: inputs x, mask, w_ih, w_hh, b_ih, b_hh. i[0] = reverse.
   saved: ng__gru_saved (lengths, the packed order, per position r, z, n and W_hn h + b_hn).

   The CPU runs in PyTorch's packed-sequence layout: step s holds the sequences longer than s,
   longest first, so they are a prefix of order[] and step s's rows are packed rows
   base[s] .. base[s+1]-1. Every product then covers real positions only (T = sum of the
   lengths rows), not the N L of the padded batch, and step s's previous hidden states are the
   first rows of step s-1's. ---- */
typedef struct ng__gru_saved {
    int64_t *len;     /* (N), host */
    float *gates;     /* r, z, n, hn on the context's device: (N, L, 4H) on CUDA, (T, 4H) in
                         packed order on the CPU */
    int64_t *len_dev; /* device copy of len, made by the CUDA forward (NULL on the CPU) */
    int64_t *order;   /* (N), host: sequences by length, longest first, ties in index order */
    int64_t *base;    /* (L + 1), host: first packed row of step s; base[L] = T */
} ng__gru_saved;
/* order by a stable counting sort on the lengths (descending), then the step offsets */
static int ng__gru_pack(ng_ctx *ctx, ng__gru_saved *sv, int64_t N, int64_t L) {
    int64_t *start = (int64_t *)ng__alloc(ctx, (size_t)(L + 1) * sizeof(int64_t)), b, s, len, active = N, next = 0;
    sv->order = (int64_t *)ng__alloc(ctx, (size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    sv->base = (int64_t *)ng__alloc(ctx, (size_t)(L + 1) * sizeof(int64_t));
    if (!start || !sv->order || !sv->base) return 0;
    memset(start, 0, (size_t)(L + 1) * sizeof(int64_t));
    for (b = 0; b < N; b++) start[sv->len[b]]++;
    for (len = L; len >= 0; len--) { int64_t count = start[len]; start[len] = next; next += count; }
    for (b = 0; b < N; b++) sv->order[start[sv->len[b]]++] = b;
    sv->base[0] = 0;
    for (s = 0; s < L; s++) {
        while (active > 0 && sv->len[sv->order[active - 1]] <= s) active--;
        sv->base[s + 1] = sv->base[s] + active;
    }
    return 1;
}
/* the lengths: given (checked against L), or read from the mask (on the host; a device mask
   comes back first) and checked to be 1s followed by 0s */
static int ng__gru_lengths(ng_ctx *ctx, ng_tensor *mask, const int32_t *lengths, int64_t N, int64_t L, int64_t *len) {
    const float *md = mask->data;
    int64_t b, t;
    if (lengths) {
        for (b = 0; b < N; b++) {
            if (lengths[b] < 0 || (int64_t)lengths[b] > L) { ng__bad(ctx, "seq_gru", "a length is outside [0, L]"); return 0; }
            len[b] = lengths[b];
        }
        return 1;
    }
    if (mask->device == NG_CUDA) {
        float *hm = (float *)ng__alloc(ctx, (size_t)(N * L > 0 ? N * L : 1) * sizeof(float));
        if (!hm) return 0;
        if (ng_tensor_to_host(mask, hm) != NG_OK) { ng__ctx_fail(ctx, NG_ERR_UNSUPPORTED); return 0; }
        md = hm;
    }
    for (b = 0; b < N; b++) {
        int64_t n = 0;
        for (t = 0; t < L; t++) n += md[b * L + t] != 0.0f;
        for (t = 0; t < L; t++)
            if ((md[b * L + t] != 0.0f) != (t < n)) { ng__bad(ctx, "seq_gru", "mask rows must be 1s followed by 0s"); return 0; }
        len[b] = n;
    }
    return 1;
}
static ng_tensor *ng__seq_gru(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths, ng_tensor *w_ih, ng_tensor *w_hh,
                              ng_tensor *b_ih, ng_tensor *b_hh, int reverse) {
    ng_tensor *ins[6];
    ng_node *n;
    ng__gru_saved *sv;
    int64_t N, L, H, t;
    ins[0] = x; ins[1] = mask; ins[2] = w_ih; ins[3] = w_hh; ins[4] = b_ih; ins[5] = b_hh;
    if (!x || !mask || !w_ih || !w_hh || !b_ih || !b_hh) return ng__null_input(ctx, NG_OP_SEQ_GRU);
    if (!ng__seq_check(ctx, x, mask, "seq_gru")) return NULL;
    N = x->shape.d[0]; L = x->shape.d[1];
    NG_ASSERT(w_hh->shape.ndim == 2 && w_hh->shape.d[0] == 3 * w_hh->shape.d[1]);
    H = w_hh->shape.d[1];
    NG_ASSERT(w_ih->shape.ndim == 2 && w_ih->shape.d[0] == 3 * H && w_ih->shape.d[1] == x->shape.d[2]);
    NG_ASSERT(b_ih->numel == 3 * H && b_hh->numel == 3 * H);
    n = ng__begin(ctx, NG_OP_SEQ_GRU, ins, 6, ng_shape3(N, L, H));
    if (!n) return NULL;
    n->need &= ~2u;
    n->i[0] = reverse != 0;
    sv = (ng__gru_saved *)ng__alloc(ctx, sizeof *sv);
    if (!sv) return NULL;
    sv->len = (int64_t *)ng__alloc(ctx, (size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    sv->len_dev = NULL;
    if (!sv->len || !ng__gru_lengths(ctx, mask, lengths, N, L, sv->len) || !ng__gru_pack(ctx, sv, N, L)) return NULL;
    t = ctx->device == NG_CUDA ? N * L : sv->base[L];   /* gate rows: the device kernels index (N, L) */
    sv->gates = ng__falloc(ctx, t * 4 * H > 0 ? t * 4 * H : 1);
    if (!sv->gates) return NULL;
    n->saved = sv;
    return ng__finish(n);
}
ng_tensor *ng_seq_gru(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, ng_tensor *w_ih, ng_tensor *w_hh, ng_tensor *b_ih, ng_tensor *b_hh,
                      int reverse) {
    return ng__seq_gru(ctx, x, mask, NULL, w_ih, w_hh, b_ih, b_hh, reverse);
}
ng_tensor *ng_seq_gru_lengths(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths, ng_tensor *w_ih, ng_tensor *w_hh,
                              ng_tensor *b_ih, ng_tensor *b_hh, int reverse) {
    if (x && x->shape.d[0] > 0 && !lengths) { ng__bad(ctx, "seq_gru", "lengths is NULL"); return NULL; }
    return ng__seq_gru(ctx, x, mask, lengths, w_ih, w_hh, b_ih, b_hh, reverse);
}
/* position of step s of sequence b (or -1 when the sequence has ended) */
static int64_t ng__gru_pos(int64_t s, int64_t len, int reverse) { return s >= len ? -1 : reverse ? len - 1 - s : s; }
/* between the padded (N, L, width) rows and the packed (T, width) ones: padded -> packed
   (copy), or packed added into padded (add) */
static void ng__gru_rows(const ng__gru_saved *sv, int64_t L, int rev, float *padded, float *packed, int64_t width, int add) {
    int64_t s, r, j;
    for (s = 0; s < L && sv->base[s + 1] > sv->base[s]; s++)
        for (r = 0; r < sv->base[s + 1] - sv->base[s]; r++) {
            int64_t b = sv->order[r];
            float *pad = padded + (b * L + ng__gru_pos(s, sv->len[b], rev)) * width, *pk = packed + (sv->base[s] + r) * width;
            if (add) for (j = 0; j < width; j++) pad[j] += pk[j];
            else memcpy(pk, pad, (size_t)width * sizeof(float));
        }
}
/* Scratch (packed inputs, pre-activations, hidden states) goes back to the arena on return. */
static void ng__fw_seq_gru(ng_node *n) {
    ng__gru_saved *sv = (ng__gru_saved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H, T = sv->base[L], s, p;
    const float *wih = n->in[2]->data, *whh = n->in[3]->data, *bih = n->in[4]->data, *bhh = n->in[5]->data;
    int rev = (int)n->i[0], gemm = n->ctx->gemm_backend;
    size_t mark = n->ctx->arena.used;
    float *Y = n->out->data, *xc, *xp, *hc, *hh, *zero;
    memset(Y, 0, (size_t)(N * L * H) * sizeof(float));
    if (T == 0) return;
    xc = ng__falloc(n->ctx, T * In + 1); xp = ng__falloc(n->ctx, T * G + 1); hc = ng__falloc(n->ctx, T * H + 1);
    hh = ng__falloc(n->ctx, N * G + 1); zero = ng__fzalloc(n->ctx, H + 1);
    if (!xc || !xp || !hc || !hh || !zero) return;
    ng__gru_rows(sv, L, rev, x->data, xc, In, 0);
    for (p = 0; p < T; p++) memcpy(xp + p * G, bih, (size_t)G * sizeof(float));
    ng_sgemm(gemm, 0, 1, T, G, In, 1.0f, xc, In, wih, In, 1.0f, xp, G);       /* x W_ih^T + b_ih */
    for (s = 0; s < L; s++) {
        int64_t ns = sv->base[s + 1] - sv->base[s], r;
        const float *hprev = s ? hc + sv->base[s - 1] * H : NULL;  /* step s-1's first ns rows */
        if (ns == 0) break;
        for (r = 0; r < ns; r++) memcpy(hh + r * G, bhh, (size_t)G * sizeof(float));
        if (hprev) ng_sgemm(gemm, 0, 1, ns, G, H, 1.0f, hprev, H, whh, H, 1.0f, hh, G);   /* h W_hh^T + b_hh */
NG__OMP_FOR(ns * H > 16384)
        for (r = 0; r < ns; r++) {
            int64_t q = sv->base[s] + r, b = sv->order[r], t = ng__gru_pos(s, sv->len[b], rev), j;
            const float *a = xp + q * G, *c = hh + r * G, *h0 = hprev ? hprev + r * H : zero;
            float *gt = sv->gates + q * 4 * H, *y = Y + (b * L + t) * H, *h = hc + q * H;
            for (j = 0; j < H; j++) {
                float rg = ng__sigmoidf(a[j] + c[j]), z = ng__sigmoidf(a[H + j] + c[H + j]);
                float nn = ng__tanhf(a[2 * H + j] + rg * c[2 * H + j]);
                gt[j] = rg; gt[H + j] = z; gt[2 * H + j] = nn; gt[3 * H + j] = c[2 * H + j];
                y[j] = h[j] = (1.0f - z) * nn + z * h0[j];
            }
        }
    }
    n->ctx->arena.used = mark;
}
/* out (H) += the column sums of the rows (rows, G) */
static void ng__gru_colsum_add(float *out, const float *m, int64_t rows, int64_t G) {
    int64_t p, j;
    for (p = 0; p < rows; p++)
        for (j = 0; j < G; j++) out[j] += m[p * G + j];
}
/* Backpropagation through time, last step first, in the packed layout. dxp and dhh (T, 3H)
   collect the gradients of the input and recurrent pre-activations; h_prev (T, H) the
   previous hidden states, so that the weight gradients are one GEMM each after the loop. */
static void ng__bw_seq_gru(ng_node *n) {
    ng__gru_saved *sv = (ng__gru_saved *)n->saved;
    ng_tensor *x = n->in[0];
    int64_t N = x->shape.d[0], L = x->shape.d[1], In = x->shape.d[2], H = n->in[3]->shape.d[1], G = 3 * H, T = sv->base[L];
    int64_t T1 = L > 0 ? sv->base[1] : 0, s;  /* packed rows from T1 on have a previous state */
    const float *whh = n->in[3]->data, *Y = n->out->data, *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gwih = ng__in_grad(n, 2), *gwhh = ng__in_grad(n, 3);
    float *gbih = ng__in_grad(n, 4), *gbhh = ng__in_grad(n, 5);
    int rev = (int)n->i[0], gemm = n->ctx->gemm_backend;
    size_t mark = n->ctx->arena.used;
    float *dxp, *dhh, *dh, *buf;
    if (T == 0) return;
    dxp = ng__falloc(n->ctx, T * G + 1); dhh = ng__falloc(n->ctx, T * G + 1); dh = ng__fzalloc(n->ctx, N * H + 1);
    buf = ng__falloc(n->ctx, T * (H > In ? H : In) + 1);  /* h_prev, then packed x rows */
    if (!dxp || !dhh || !dh || !buf) return;
    for (s = L - 1; s >= 0; s--) {
        int64_t ns = sv->base[s + 1] - sv->base[s], r;
        if (ns == 0) continue;
NG__OMP_FOR(ns * H > 16384)
        for (r = 0; r < ns; r++) {
            int64_t q = sv->base[s] + r, b = sv->order[r], t = ng__gru_pos(s, sv->len[b], rev), tp = rev ? t + 1 : t - 1, k;
            const float *gt = sv->gates + q * 4 * H, *go = g + (b * L + t) * H, *h0 = s ? Y + (b * L + tp) * H : NULL;
            float *dr = dxp + q * G, *d = dhh + q * G, *dhb = dh + r * H;
            if (h0) memcpy(buf + q * H, h0, (size_t)H * sizeof(float));
            for (k = 0; k < H; k++) {
                float rg = gt[k], z = gt[H + k], nn = gt[2 * H + k], hn = gt[3 * H + k];
                float dht = dhb[k] + go[k];
                float dan = dht * (1.0f - z) * (1.0f - nn * nn);
                float daz = dht * ((h0 ? h0[k] : 0.0f) - nn) * z * (1.0f - z);
                float dar = dan * hn * rg * (1.0f - rg);
                dr[k] = dar; dr[H + k] = daz; dr[2 * H + k] = dan;
                d[k] = dar; d[H + k] = daz; d[2 * H + k] = dan * rg;
                dhb[k] = dht * z;                    /* + dHh W_hh below */
            }
        }
        if (s > 0) ng_sgemm(gemm, 0, 0, ns, H, G, 1.0f, dhh + sv->base[s] * G, G, whh, H, 1.0f, dh, H);   /* dh += dHh W_hh */
    }
    if (gwhh && T > T1) ng_sgemm(gemm, 1, 0, G, H, T - T1, 1.0f, dhh + T1 * G, G, buf + T1 * H, H, 1.0f, gwhh, H);  /* += dHh^T h_prev */
    if (gbhh) ng__gru_colsum_add(gbhh, dhh, T, G);
    if (gbih) ng__gru_colsum_add(gbih, dxp, T, G);
    if (gx && In > 0) {  /* dx at the packed positions, added into gx */
        ng_sgemm(gemm, 0, 0, T, In, G, 1.0f, dxp, G, n->in[2]->data, In, 0.0f, buf, In);
        ng__gru_rows(sv, L, rev, gx, buf, In, 1);
    }
    if (gwih && In > 0) {
        ng__gru_rows(sv, L, rev, x->data, buf, In, 0);
        ng_sgemm(gemm, 1, 0, G, In, T, 1.0f, dxp, G, buf, In, 1.0f, gwih, In);
    }
    n->ctx->arena.used = mark;
}
