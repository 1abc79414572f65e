/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */

/* ---- mixed: y = sum_k softmax(alpha[row])_k xs[k] ----
   Inputs: alpha, then xs[0..K-1]. i[0] = row, i[1] = K. saved: (K) softmax weights (float, as
   used by the forward). The element loops run in blocks of NG__MIX_BLOCK so each candidate is
   read once and the block of y/g stays in cache; the alpha reductions keep one double partial
   per block, summed in block order, so results do not depend on the thread count. */
#define NG__MIX_BLOCK 4096

ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k) {
    ng_tensor *ins[32];
    ng_node *n;
    int j;
    NG_ASSERT(k >= 1 && k <= 31);
    if (!alpha || !xs) return ng__null_input(ctx, NG_OP_MIXED);
    for (j = 0; j < k; j++)
        if (!xs[j]) return ng__null_input(ctx, NG_OP_MIXED);
    NG_ASSERT(alpha->shape.ndim == 1 || alpha->shape.ndim == 2);
    NG_ASSERT(alpha->shape.d[alpha->shape.ndim - 1] == k);
    NG_ASSERT(row >= 0 && (alpha->shape.ndim == 1 ? row == 0 : row < alpha->shape.d[0]));
    for (j = 1; j < k; j++) NG_ASSERT(ng_shape_eq(xs[j]->shape, xs[0]->shape));
    ins[0] = alpha;
    for (j = 0; j < k; j++) ins[1 + j] = xs[j];
    n = ng__begin(ctx, NG_OP_MIXED, ins, 1 + k, xs[0]->shape);
    if (!n) return NULL;
    n->i[0] = row;
    n->i[1] = k;
    n->saved = ng__falloc(ctx, k);
    if (!n->saved) return NULL;
    return ng__finish(n);
}
static void ng__fw_mixed(ng_node *n) {
    int K = (int)n->i[1], k;
    float *w = (float *)n->saved, *y = n->out->data;
    const float *xs[31];
    int64_t N = n->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    ng__softmax_row(n->in[0]->data + n->i[0] * K, w, K, 1, 0);
    for (k = 0; k < K; k++) xs[k] = n->in[1 + k]->data;
NG__OMP_FOR(nb > 4)
    for (b = 0; b < nb; b++) {
        int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
        int kk;
        for (i = lo; i < hi; i++) y[i] = w[0] * xs[0][i];
        for (kk = 1; kk < K; kk++) {
            const float *x = xs[kk];
            float wk = w[kk];
            for (i = lo; i < hi; i++) y[i] += wk * x[i];
        }
    }
}
/* dxs[k] = w_k g; d w_k = sum(g xs[k]); dalpha_j = w_j (dw_j - sum_k w_k dw_k). */
static void ng__bw_mixed(ng_node *n) {
    int K = (int)n->i[1], k;
    const float *w = (const float *)n->saved, *g = n->out->grad;
    const float *xs[31];
    float *gx[31], *ga = ng__in_grad(n, 0);
    int64_t N = n->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    double *part = NULL, dw[31], wdot = 0.0;
    int any_x = 0, fresh = 0, fr[31];
    for (k = 0; k < K; k++) {
        xs[k] = n->in[1 + k]->data;
        /* the last candidate may take over g (ng__in_grad_take): it is handled last in every
           block, after the others have read g there; the others' new buffers are stored, not
           zeroed and added to (ng__in_grad_fresh) */
        gx[k] = k == K - 1 ? ng__in_grad_take(n, 1 + k, &fresh) : ng__in_grad_fresh(n, 1 + k, &fr[k]);
        any_x |= gx[k] != NULL;
    }
    fr[K - 1] = 0;
    if (ga && K > 1) part = (double *)ng__alloc(n->ctx, (size_t)(nb ? nb : 1) * (size_t)K * sizeof(double));
    if (n->ctx->status != NG_OK) return;
    if (!part && !any_x) return;
NG__OMP_FOR(nb > 4)
    for (b = 0; b < nb; b++) {
        int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
        int kk;
        for (kk = 0; kk < K; kk++) {
            const float *x = xs[kk];
            float *gk = gx[kk], wk = w[kk];
            if (fresh && kk == K - 1) { /* gk is g */
                double acc = 0.0;
                if (part) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] = 0.0f + wk * g[i]; }
                else for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                if (part) part[b * K + kk] = acc;
            } else if (part) {
                double acc = 0.0;
                if (gk && fr[kk]) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] = 0.0f + wk * g[i]; }
                else if (gk) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] += wk * g[i]; }
                else for (i = lo; i < hi; i++) acc += (double)g[i] * x[i];
                part[b * K + kk] = acc;
            } else if (gk && fr[kk]) {
                for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
            } else if (gk) {
                for (i = lo; i < hi; i++) gk[i] += wk * g[i];
            }
        }
    }
    if (!part) return; /* K == 1: softmax of one value is constant, alpha's gradient is 0 */
    for (k = 0; k < K; k++) dw[k] = 0.0;
    for (b = 0; b < nb; b++)
        for (k = 0; k < K; k++) dw[k] += part[b * K + k];
    for (k = 0; k < K; k++) wdot += (double)w[k] * dw[k];
    for (k = 0; k < K; k++) ga[n->i[0] * K + k] += (float)((double)w[k] * (dw[k] - wdot));
}

/* ---- mixed_cols: y = sum_j w[cols[j]] pad(xs[j]) ----
   Inputs: alpha, then xs[0..n-1]. i[0] = row, i[1] = K, i[2] = n, i[3..3+n) = cols (-1: weight
   1). saved: (K) softmax weights. Same-shape inputs run in blocks as ng_mixed (each read once,
   double partial sums per block in block order); padded inputs (small kernels) run plainly. */
static int ng__mc_same(const ng_tensor *x, const ng_tensor *y) { return ng_shape_eq(x->shape, y->shape); }
/* (A, B, kh, kw) x into (A, B, KH, KW): plane stride, offsets */
static void ng__mc_geo(const ng_tensor *x, const ng_tensor *y, int64_t *planes, int64_t *oh, int64_t *ow) {
    *planes = x->shape.d[0] * x->shape.d[1];
    *oh = (y->shape.d[2] - x->shape.d[2]) / 2;
    *ow = (y->shape.d[3] - x->shape.d[3]) / 2;
}

ng_tensor *ng_mixed_cols(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, const int *cols, int n, ng_shape out) {
    ng_tensor *ins[8];
    ng_node *nd;
    int j, m, K;
    NG_ASSERT(n >= 1 && n <= 7);
    if (!alpha || !xs) return ng__null_input(ctx, NG_OP_MIXED_COLS);
    for (j = 0; j < n; j++)
        if (!xs[j]) return ng__null_input(ctx, NG_OP_MIXED_COLS);
    NG_ASSERT(alpha->shape.ndim == 1 || alpha->shape.ndim == 2);
    K = (int)alpha->shape.d[alpha->shape.ndim - 1];
    NG_ASSERT(K >= 1 && K <= 31);
    NG_ASSERT(row >= 0 && (alpha->shape.ndim == 1 ? row == 0 : row < alpha->shape.d[0]));
    for (j = 0; j < n; j++) {
        const ng_shape *s = &xs[j]->shape;
        NG_ASSERT(cols[j] < K);
        for (m = 0; m < j; m++) NG_ASSERT(cols[j] < 0 || cols[m] != cols[j]);
        if (!ng_shape_eq(*s, out)) {
            NG_ASSERT(s->ndim == 4 && out.ndim == 4 && s->d[0] == out.d[0] && s->d[1] == out.d[1]);
            NG_ASSERT(s->d[2] <= out.d[2] && s->d[3] <= out.d[3] && (out.d[2] - s->d[2]) % 2 == 0 &&
                      (out.d[3] - s->d[3]) % 2 == 0);
        }
    }
    ins[0] = alpha;
    for (j = 0; j < n; j++) ins[1 + j] = xs[j];
    nd = ng__begin(ctx, NG_OP_MIXED_COLS, ins, 1 + n, out);
    if (!nd) return NULL;
    nd->i[0] = row;
    nd->i[1] = K;
    nd->i[2] = n;
    for (j = 0; j < n; j++) nd->i[3 + j] = cols[j];
    nd->saved = ng__falloc(ctx, K);
    if (!nd->saved) return NULL;
    return ng__finish(nd);
}
static void ng__fw_mixed_cols(ng_node *nd) {
    int K = (int)nd->i[1], n = (int)nd->i[2], j, all_same = 1;
    float *w = (float *)nd->saved, *y = nd->out->data, wj[7];
    const float *xs[7];
    int64_t N = nd->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
    ng__softmax_row(nd->in[0]->data + nd->i[0] * K, w, K, 1, 0);
    for (j = 0; j < n; j++) {
        xs[j] = nd->in[1 + j]->data;
        wj[j] = nd->i[3 + j] < 0 ? 1.0f : w[nd->i[3 + j]];
        all_same &= ng__mc_same(nd->in[1 + j], nd->out);
    }
    if (all_same) {
NG__OMP_FOR(nb > 4)
        for (b = 0; b < nb; b++) {
            int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
            int jj;
            for (i = lo; i < hi; i++) y[i] = wj[0] * xs[0][i];
            for (jj = 1; jj < n; jj++) {
                const float *x = xs[jj];
                float wk = wj[jj];
                for (i = lo; i < hi; i++) y[i] += wk * x[i];
            }
        }
        return;
    }
    memset(y, 0, (size_t)N * sizeof(float));
    for (j = 0; j < n; j++) {
        const ng_tensor *x = nd->in[1 + j];
        if (ng__mc_same(x, nd->out)) {
            int64_t i;
            for (i = 0; i < N; i++) y[i] += wj[j] * xs[j][i];
        } else {
            int64_t planes, oh, ow, p, r, c, kh = x->shape.d[2], kw = x->shape.d[3];
            int64_t KH = nd->out->shape.d[2], KW = nd->out->shape.d[3];
            ng__mc_geo(x, nd->out, &planes, &oh, &ow);
            for (p = 0; p < planes; p++)
                for (r = 0; r < kh; r++)
                    for (c = 0; c < kw; c++)
                        y[(p * KH + r + oh) * KW + c + ow] += wj[j] * xs[j][(p * kh + r) * kw + c];
        }
    }
}
/* dx_j = w_j crop(g); dW_c = sum(crop(g) x_j); dalpha_k = w_k (dW_k - sum_m w_m dW_m), with
   dW_m = 0 for the columns this node does not hold. */
static void ng__bw_mixed_cols(ng_node *nd) {
    int K = (int)nd->i[1], n = (int)nd->i[2], j, k;
    const float *w = (const float *)nd->saved, *g = nd->out->grad;
    float *ga = ng__in_grad(nd, 0), *gx[7], wj[7];
    double dw[31], wdot = 0.0, acc[7];
    int need_acc[7], any = 0, fresh = 0, fr[7];
    for (j = 0; j < n; j++) {
        /* the last input may take over g when it has the output's shape (ng__in_grad_take):
           the inputs are handled one after the other, so the others have read g by then; other
           same-shape inputs' new buffers are stored, not zeroed and added to */
        fr[j] = 0;
        gx[j] = !ng__mc_same(nd->in[1 + j], nd->out) ? ng__in_grad(nd, 1 + j)
                : j == n - 1 ? ng__in_grad_take(nd, 1 + j, &fresh) : ng__in_grad_fresh(nd, 1 + j, &fr[j]);
        wj[j] = nd->i[3 + j] < 0 ? 1.0f : w[nd->i[3 + j]];
        need_acc[j] = ga != NULL && nd->i[3 + j] >= 0 && K > 1;
        acc[j] = 0.0;
        any |= need_acc[j] || gx[j] != NULL;
    }
    if (nd->ctx->status != NG_OK || !any) return;
    for (j = 0; j < n; j++) {
        const ng_tensor *x = nd->in[1 + j];
        const float *xv = x->data;
        if (!need_acc[j] && !gx[j]) continue;
        if (ng__mc_same(x, nd->out)) {
            int64_t N = nd->out->numel, nb = (N + NG__MIX_BLOCK - 1) / NG__MIX_BLOCK, b;
            double *part = need_acc[j] ? (double *)ng__alloc(nd->ctx, (size_t)(nb ? nb : 1) * sizeof(double)) : NULL;
            float *gk = gx[j], wk = wj[j];
            if (nd->ctx->status != NG_OK) return;
NG__OMP_FOR(nb > 4)
            for (b = 0; b < nb; b++) {
                int64_t lo = b * NG__MIX_BLOCK, hi = lo + NG__MIX_BLOCK < N ? lo + NG__MIX_BLOCK : N, i;
                if (fresh && j == n - 1) { /* gk is g */
                    double a = 0.0;
                    if (part) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] = 0.0f + wk * g[i]; }
                    else for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                    if (part) part[b] = a;
                } else if (part) {
                    double a = 0.0;
                    if (gk && fr[j]) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] = 0.0f + wk * g[i]; }
                    else if (gk) for (i = lo; i < hi; i++) { a += (double)g[i] * xv[i]; gk[i] += wk * g[i]; }
                    else for (i = lo; i < hi; i++) a += (double)g[i] * xv[i];
                    part[b] = a;
                } else if (fr[j]) {
                    for (i = lo; i < hi; i++) gk[i] = 0.0f + wk * g[i];
                } else {
                    for (i = lo; i < hi; i++) gk[i] += wk * g[i];
                }
            }
            if (part)
                for (b = 0; b < nb; b++) acc[j] += part[b];
        } else {
            int64_t planes, oh, ow, p, r, c, kh = x->shape.d[2], kw = x->shape.d[3];
            int64_t KH = nd->out->shape.d[2], KW = nd->out->shape.d[3];
            double a = 0.0;
            ng__mc_geo(x, nd->out, &planes, &oh, &ow);
            for (p = 0; p < planes; p++)
                for (r = 0; r < kh; r++)
                    for (c = 0; c < kw; c++) {
                        float gv = g[(p * KH + r + oh) * KW + c + ow];
                        int64_t xi = (p * kh + r) * kw + c;
                        a += (double)gv * xv[xi];
                        if (gx[j]) gx[j][xi] += wj[j] * gv;
                    }
            acc[j] = a;
        }
    }
    if (!ga || K == 1) return;
    for (k = 0; k < K; k++) dw[k] = 0.0;
    for (j = 0; j < n; j++)
        if (need_acc[j]) dw[nd->i[3 + j]] = acc[j];
    for (k = 0; k < K; k++) wdot += (double)w[k] * dw[k];
    for (k = 0; k < K; k++) ga[nd->i[0] * K + k] += (float)((double)w[k] * (dw[k] - wdot));
}
