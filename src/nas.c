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
    int any_x = 0;
    for (k = 0; k < K; k++) {
        xs[k] = n->in[1 + k]->data;
        gx[k] = ng__in_grad(n, 1 + k);
        any_x |= gx[k] != NULL;
    }
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
            if (part) {
                double acc = 0.0;
                if (gk) for (i = lo; i < hi; i++) { acc += (double)g[i] * x[i]; gk[i] += wk * g[i]; }
                else for (i = lo; i < hi; i++) acc += (double)g[i] * x[i];
                part[b * K + kk] = acc;
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
