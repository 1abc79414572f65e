/* ======================================================================================== */
/* @@OPS dense                                                                              */
/* ======================================================================================== */
static void ng__bad(ng_ctx *ctx, const char *op, const char *why) {
    ng__ctx_fail(ctx, NG_ERR_ARG);
    ng_fail(NG_ERR_ARG, "%s: %s", op, why);
}

/* ---- input gradients that take over the output's buffer ----
   In a backward pass a node's output gradient is dead once the node's own backward has run
   (every consumer of the output sits later on the tape and has run already). An elementwise op
   can therefore hand that buffer to an input as the input's gradient instead of a fresh zeroed
   one, when the input is an activation (not a parameter) whose gradient does not exist yet,
   has the output's size and appears once among the node's inputs. The op then writes 0 + v in
   place of adding v to zeros: the same bits, and chains of elementwise ops (conv -> batch norm
   -> ReLU, the mixed edges) need one gradient buffer instead of one per op. *fresh tells the
   op which of the two it got; the buffer is NULL when input k needs no gradient. */
static float *ng__in_grad_take(ng_node *n, int k, int *fresh) {
    ng_tensor *t = n->in[k];
    int j;
    *fresh = 0;
    if (!ng__need(n, k)) return NULL;
    if (t->grad || t->owner || t == n->out || !n->out->grad || t->numel != n->out->numel) return ng__in_grad(n, k);
    for (j = 0; j < n->n_in; j++)
        if (j != k && n->in[j] == t) return ng__in_grad(n, k);
    t->grad = n->out->grad;
    *fresh = 1;
    return t->grad;
}

/* Gradient buffer of input k for an op that stores every element of it: when the input (an
   activation) has no gradient yet, a new buffer that is NOT zeroed, *fresh = 1 (the op then
   stores 0 + v where it would add v to zeros: the same bits, without the serial memset and the
   extra pass over memory); otherwise ng__in_grad's buffer, *fresh = 0. NULL when input k needs
   no gradient. */
static float *ng__in_grad_fresh(ng_node *n, int k, int *fresh) {
    ng_tensor *t = n->in[k];
    int j;
    *fresh = 0;
    if (!ng__need(n, k)) return NULL;
    if (t->grad || t->owner) return ng__in_grad(n, k);
    for (j = 0; j < n->n_in; j++)
        if (j != k && n->in[j] == t) return ng__in_grad(n, k);
    t->grad = ng__falloc(n->ctx, t->numel);
    *fresh = t->grad != NULL;
    return t->grad;
}

/* ---- matmul: C = A B ---- */
ng_tensor *ng_matmul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) {
    ng_tensor *ins[2];
    ng_node *n;
    ins[0] = a; ins[1] = b;
    if (!a || !b) return ng__null_input(ctx, NG_OP_MATMUL);
    NG_ASSERT(a->shape.ndim == 2 && b->shape.ndim == 2 && a->shape.d[1] == b->shape.d[0]);
    n = ng__begin(ctx, NG_OP_MATMUL, ins, 2, ng_shape2(a->shape.d[0], b->shape.d[1]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    ng_sgemm(n->ctx->gemm_backend, 0, 0, M, N, K, 1.0f, a->data, K, b->data, N, 0.0f, n->out->data, N);
}
static void ng__bw_matmul(ng_node *n) {
    ng_tensor *a = n->in[0], *b = n->in[1];
    int64_t M = a->shape.d[0], K = a->shape.d[1], N = b->shape.d[1];
    float *ga = ng__in_grad(n, 0), *gb = ng__in_grad(n, 1), *g = n->out->grad;
    if (ga) ng_sgemm(n->ctx->gemm_backend, 0, 1, M, K, N, 1.0f, g, N, b->data, N, 1.0f, ga, K);
    if (gb) ng_sgemm(n->ctx->gemm_backend, 1, 0, K, N, M, 1.0f, a->data, K, g, N, 1.0f, gb, N);
}

/* ---- linear: y = x W^T + b ---- */
ng_tensor *ng_linear(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b) {
    ng_tensor *ins[3];
    ng_node *n;
    ins[0] = x; ins[1] = w; ins[2] = b;
    if (!x || !w) return ng__null_input(ctx, NG_OP_LINEAR);
    NG_ASSERT(x->shape.ndim == 2 && w->shape.ndim == 2 && x->shape.d[1] == w->shape.d[1]);
    NG_ASSERT(!b || b->numel == w->shape.d[0]);
    n = ng__begin(ctx, NG_OP_LINEAR, ins, b ? 3 : 2, ng_shape2(x->shape.d[0], w->shape.d[0]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0], r, o;
    float *y = n->out->data;
    if (n->n_in == 3) {
        const float *b = n->in[2]->data;
        for (r = 0; r < N; r++)
            for (o = 0; o < O; o++) y[r * O + o] = b[o];
    }
    ng_sgemm(n->ctx->gemm_backend, 0, 1, N, O, Din, 1.0f, x->data, Din, w->data, Din, n->n_in == 3 ? 1.0f : 0.0f, y, O);
}
static void ng__bw_linear(ng_node *n) {
    ng_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = x->shape.d[0], Din = x->shape.d[1], O = w->shape.d[0], r, o;
    const float *g = n->out->grad;
    float *gx = ng__in_grad(n, 0), *gw = ng__in_grad(n, 1), *gb = n->n_in == 3 ? ng__in_grad(n, 2) : NULL;
    if (gx) ng_sgemm(n->ctx->gemm_backend, 0, 0, N, Din, O, 1.0f, g, O, w->data, Din, 1.0f, gx, Din);
    if (gw) ng_sgemm(n->ctx->gemm_backend, 1, 0, O, Din, N, 1.0f, g, O, x->data, Din, 1.0f, gw, Din);
    if (gb)
        for (r = 0; r < N; r++)
            for (o = 0; o < O; o++) gb[o] += g[r * O + o];
}

/* ---- broadcasting elementwise add / sub / mul ---- */
/* Both operands viewed as 4-D, right-aligned; stride 0 along broadcast dimensions. */
typedef struct ng__bcast {
    int64_t d[4], sa[4], sb[4];
    int same; /* identical shapes: flat loops */
} ng__bcast;

static void ng__strides4(const ng_shape *s, int64_t dims[4], int64_t st[4]) {
    int i, off = 4 - s->ndim;
    int64_t acc = 1;
    for (i = 0; i < 4; i++) dims[i] = i < off ? 1 : s->d[i - off];
    for (i = 3; i >= 0; i--) { st[i] = dims[i] == 1 ? 0 : acc; acc *= dims[i]; }
}

static int ng__bcast_shape(const ng_shape *a, const ng_shape *b, ng_shape *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim, i;
    out->ndim = nd;
    for (i = 0; i < NG_MAX_DIMS; i++) out->d[i] = 1;
    for (i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return -1;
        out->d[i] = da == 1 ? db : da;
    }
    return 0;
}

static ng__bcast ng__bcast_plan(const ng_node *n) {
    ng__bcast p;
    int64_t tmp[4];
    ng__strides4(&n->out->shape, p.d, tmp);
    ng__strides4(&n->in[0]->shape, tmp, p.sa);
    ng__strides4(&n->in[1]->shape, tmp, p.sb);
    p.same = n->in[0]->numel == n->out->numel && n->in[1]->numel == n->out->numel;
    return p;
}

static ng_tensor *ng__binary(ng_ctx *ctx, int op, ng_tensor *a, ng_tensor *b) {
    ng_tensor *ins[2];
    ng_shape s;
    ng_node *n;
    ins[0] = a; ins[1] = b;
    if (!a || !b) return ng__null_input(ctx, op);
    if (ng__bcast_shape(&a->shape, &b->shape, &s)) { ng__bad(ctx, ng_op_name(op), "shapes do not broadcast"); return NULL; }
    n = ng__begin(ctx, op, ins, 2, s);
    return n ? ng__finish(n) : NULL;
}
ng_tensor *ng_add(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_ADD, a, b); }
ng_tensor *ng_sub(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_SUB, a, b); }
ng_tensor *ng_mul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b) { return ng__binary(ctx, NG_OP_MUL, a, b); }

/* kind: 0 add, 1 sub, 2 mul */
static void ng__binary_fw(ng_node *n, int kind) {
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out->data;
    ng__bcast p = ng__bcast_plan(n);
    int64_t i0, i1, i2, i3, o = 0;
    if (p.same) {
        int64_t i, N = n->out->numel;
        NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) y[i] = kind == 0 ? a[i] + b[i] : kind == 1 ? a[i] - b[i] : a[i] * b[i];
        return;
    }
    for (i0 = 0; i0 < p.d[0]; i0++)
        for (i1 = 0; i1 < p.d[1]; i1++)
            for (i2 = 0; i2 < p.d[2]; i2++)
                for (i3 = 0; i3 < p.d[3]; i3++, o++) {
                    float x = a[i0 * p.sa[0] + i1 * p.sa[1] + i2 * p.sa[2] + i3 * p.sa[3]];
                    float z = b[i0 * p.sb[0] + i1 * p.sb[1] + i2 * p.sb[2] + i3 * p.sb[3]];
                    y[o] = kind == 0 ? x + z : kind == 1 ? x - z : x * z;
                }
}
static void ng__binary_bw(ng_node *n, int kind) {
    const float *a = n->in[0]->data, *b = n->in[1]->data, *g = n->out->grad;
    float *ga, *gb;
    ng__bcast p = ng__bcast_plan(n);
    int64_t i0, i1, i2, i3, o = 0;
    if (p.same) {
        /* one of the two may take over g (ng__in_grad_take): g[i] is read before either write */
        int64_t i, N = n->out->numel;
        int fa = 0, fb = 0;
        ga = ng__in_grad_take(n, 0, &fa);
        gb = fa ? ng__in_grad(n, 1) : ng__in_grad_take(n, 1, &fb);
        if (n->ctx->status != NG_OK) return;
        NG__OMP_FOR(N > 65536)
        for (i = 0; i < N; i++) {
            float gi = g[i];
            float va = kind == 2 ? gi * b[i] : gi, vb = kind == 2 ? gi * a[i] : kind == 1 ? -gi : gi;
            if (ga) ga[i] = (fa ? 0.0f : ga[i]) + va;
            if (gb) gb[i] = (fb ? 0.0f : gb[i]) + vb;
        }
        return;
    }
    ga = ng__in_grad(n, 0);
    gb = ng__in_grad(n, 1);
    for (i0 = 0; i0 < p.d[0]; i0++)
        for (i1 = 0; i1 < p.d[1]; i1++)
            for (i2 = 0; i2 < p.d[2]; i2++)
                for (i3 = 0; i3 < p.d[3]; i3++, o++) {
                    int64_t ia = i0 * p.sa[0] + i1 * p.sa[1] + i2 * p.sa[2] + i3 * p.sa[3];
                    int64_t ib = i0 * p.sb[0] + i1 * p.sb[1] + i2 * p.sb[2] + i3 * p.sb[3];
                    if (ga) ga[ia] += kind == 2 ? g[o] * b[ib] : g[o];
                    if (gb) gb[ib] += kind == 2 ? g[o] * a[ia] : kind == 1 ? -g[o] : g[o];
                }
}
static void ng__fw_add(ng_node *n) { ng__binary_fw(n, 0); }
static void ng__bw_add(ng_node *n) { ng__binary_bw(n, 0); }
static void ng__fw_sub(ng_node *n) { ng__binary_fw(n, 1); }
static void ng__bw_sub(ng_node *n) { ng__binary_bw(n, 1); }
static void ng__fw_mul(ng_node *n) { ng__binary_fw(n, 2); }
static void ng__bw_mul(ng_node *n) { ng__binary_bw(n, 2); }

/* ---- scale and add_scalar ---- */
static ng_tensor *ng__unary_f(ng_ctx *ctx, int op, ng_tensor *a, float s) {
    ng_node *n = ng__begin(ctx, op, &a, 1, a ? a->shape : ng_shape1(1));
    if (!n) return NULL;
    n->f[0] = s;
    return ng__finish(n);
}
ng_tensor *ng_scale(ng_ctx *ctx, ng_tensor *a, float s) { return ng__unary_f(ctx, NG_OP_SCALE, a, s); }
ng_tensor *ng_add_scalar(ng_ctx *ctx, ng_tensor *a, float s) { return ng__unary_f(ctx, NG_OP_ADD_SCALAR, a, s); }
static void ng__fw_scale(ng_node *n) {
    int64_t i;
    NG__OMP_FOR(n->out->numel > 65536)
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->f[0] * n->in[0]->data[i];
}
static void ng__bw_scale(ng_node *n) {
    int64_t i;
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->f[0] * n->out->grad[i];
    }
}
static void ng__fw_add_scalar(ng_node *n) {
    int64_t i;
    NG__OMP_FOR(n->out->numel > 65536)
    for (i = 0; i < n->out->numel; i++) n->out->data[i] = n->in[0]->data[i] + n->f[0];
}
static void ng__bw_add_scalar(ng_node *n) {
    int64_t i;
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->out->grad[i];
    }
}

/* ---- sum / mean over axes ---- */
/* i[0] = axes bitmask (over the input's dims), f[0] = 1 (sum) or 1/count (mean) */
static ng_tensor *ng__reduce(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim, int mean) {
    ng_shape s;
    ng_node *n;
    int i;
    int64_t count = 1;
    if (!a) return ng__null_input(ctx, NG_OP_REDUCE);
    axes &= (1u << a->shape.ndim) - 1u;
    s.ndim = 0;
    for (i = 0; i < NG_MAX_DIMS; i++) s.d[i] = 1;
    for (i = 0; i < a->shape.ndim; i++) {
        if (axes >> i & 1u) {
            count *= a->shape.d[i];
            if (keepdim) s.d[s.ndim++] = 1;
        } else {
            s.d[s.ndim++] = a->shape.d[i];
        }
    }
    n = ng__begin(ctx, NG_OP_REDUCE, &a, 1, s);
    if (!n) return NULL;
    n->i[0] = axes;
    n->f[0] = mean ? 1.0f / (float)(count ? count : 1) : 1.0f;
    return ng__finish(n);
}
ng_tensor *ng_sum(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim) { return ng__reduce(ctx, a, axes, keepdim, 0); }
ng_tensor *ng_mean(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim) { return ng__reduce(ctx, a, axes, keepdim, 1); }

/* input dims (4-D, left-padded) and the output stride of each (0 along reduced axes) */
static void ng__reduce_plan(const ng_node *n, int64_t d[4], int64_t so[4]) {
    const ng_shape *s = &n->in[0]->shape;
    unsigned axes = (unsigned)n->i[0];
    int i, off = 4 - s->ndim;
    int64_t acc = 1;
    for (i = 0; i < 4; i++) d[i] = i < off ? 1 : s->d[i - off];
    for (i = 3; i >= 0; i--) {
        int reduced = i >= off && (axes >> (i - off) & 1u);
        so[i] = reduced ? 0 : acc;
        if (!reduced) acc *= d[i];
    }
}
static void ng__fw_reduce(ng_node *n) {
    int64_t d[4], so[4], i0, i1, i2, i3, ii = 0, j;
    const float *a = n->in[0]->data;
    double *acc = (double *)ng__alloc(n->ctx, (size_t)n->out->numel * sizeof(double));
    if (!acc) return;
    for (j = 0; j < n->out->numel; j++) acc[j] = 0.0;
    ng__reduce_plan(n, d, so);
    for (i0 = 0; i0 < d[0]; i0++)
        for (i1 = 0; i1 < d[1]; i1++)
            for (i2 = 0; i2 < d[2]; i2++)
                for (i3 = 0; i3 < d[3]; i3++)
                    acc[i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3]] += a[ii++];
    for (j = 0; j < n->out->numel; j++) n->out->data[j] = (float)(acc[j] * n->f[0]);
}
static void ng__bw_reduce(ng_node *n) {
    int64_t d[4], so[4], i0, i1, i2, i3, ii = 0;
    float *ga = ng__in_grad(n, 0);
    const float *g = n->out->grad;
    if (!ga) return;
    ng__reduce_plan(n, d, so);
    for (i0 = 0; i0 < d[0]; i0++)
        for (i1 = 0; i1 < d[1]; i1++)
            for (i2 = 0; i2 < d[2]; i2++)
                for (i3 = 0; i3 < d[3]; i3++)
                    ga[ii++] += n->f[0] * g[i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3]];
}

/* ---- reshape ---- */
ng_tensor *ng_reshape(ng_ctx *ctx, ng_tensor *a, ng_shape shape) {
    if (a && ng_shape_numel(shape) != a->numel) { ng__bad(ctx, "reshape", "element count differs"); return NULL; }
    {
        ng_node *n = ng__begin(ctx, NG_OP_RESHAPE, &a, 1, shape);
        return n ? ng__finish(n) : NULL;
    }
}
static void ng__fw_reshape(ng_node *n) { memcpy(n->out->data, n->in[0]->data, (size_t)n->out->numel * sizeof(float)); }
static void ng__bw_reshape(ng_node *n) {
    int64_t i;
    int fresh;
    float *ga = ng__in_grad_take(n, 0, &fresh);
    if (ga) {
        NG__OMP_FOR(n->out->numel > 65536)
        for (i = 0; i < n->out->numel; i++) ga[i] = (fresh ? 0.0f : ga[i]) + n->out->grad[i];
    }
}

/* ---- concat and slice along one axis: outer blocks x (axis extent * inner) ---- */
static void ng__outer_inner(const ng_shape *s, int axis, int64_t *outer, int64_t *inner) {
    int i;
    *outer = 1; *inner = 1;
    for (i = 0; i < axis; i++) *outer *= s->d[i];
    for (i = axis + 1; i < s->ndim; i++) *inner *= s->d[i];
}

ng_tensor *ng_concat(ng_ctx *ctx, ng_tensor *const *xs, int count, int axis) {
    ng_shape s;
    ng_node *n;
    int k, i;
    if (count < 1 || count > 32) { ng__bad(ctx, "concat", "needs 1..32 inputs"); return NULL; }
    for (k = 0; k < count; k++)
        if (!xs[k]) return ng__null_input(ctx, NG_OP_CONCAT);
    s = xs[0]->shape;
    NG_ASSERT(axis >= 0 && axis < s.ndim);
    for (k = 1; k < count; k++) {
        NG_ASSERT(xs[k]->shape.ndim == s.ndim);
        for (i = 0; i < s.ndim; i++) NG_ASSERT(i == axis || xs[k]->shape.d[i] == s.d[i]);
        s.d[axis] += xs[k]->shape.d[axis];
    }
    n = ng__begin(ctx, NG_OP_CONCAT, xs, count, s);
    if (!n) return NULL;
    n->i[0] = axis;
    return ng__finish(n);
}
static void ng__concat_copy(ng_node *n, int backward) {
    int axis = (int)n->i[0], k;
    int64_t outer, inner, o, off = 0, total = n->out->shape.d[axis];
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    for (k = 0; k < n->n_in; k++) {
        int64_t len = n->in[k]->shape.d[axis] * inner, i;
        float *gk = backward ? ng__in_grad(n, k) : NULL;
        for (o = 0; o < outer; o++) {
            float *y = n->out->data + o * total * inner + off;
            if (!backward) memcpy(y, n->in[k]->data + o * len, (size_t)len * sizeof(float));
            else if (gk) {
                const float *g = n->out->grad + o * total * inner + off;
                for (i = 0; i < len; i++) gk[o * len + i] += g[i];
            }
        }
        off += len;
    }
}
static void ng__fw_concat(ng_node *n) { ng__concat_copy(n, 0); }
static void ng__bw_concat(ng_node *n) { ng__concat_copy(n, 1); }

ng_tensor *ng_slice(ng_ctx *ctx, ng_tensor *a, int axis, int64_t start, int64_t len) {
    ng_shape s;
    ng_node *n;
    if (!a) return ng__null_input(ctx, NG_OP_SLICE);
    NG_ASSERT(axis >= 0 && axis < a->shape.ndim);
    NG_ASSERT(start >= 0 && len >= 0 && start + len <= a->shape.d[axis]);
    s = a->shape;
    s.d[axis] = len;
    n = ng__begin(ctx, NG_OP_SLICE, &a, 1, s);
    if (!n) return NULL;
    n->i[0] = axis; n->i[1] = start;
    return ng__finish(n);
}
static void ng__slice_copy(ng_node *n, int backward) {
    int axis = (int)n->i[0];
    int64_t outer, inner, o, i, full = n->in[0]->shape.d[axis];
    int64_t len, start = n->i[1];
    float *ga = backward ? ng__in_grad(n, 0) : NULL;
    ng__outer_inner(&n->out->shape, axis, &outer, &inner);
    len = n->out->shape.d[axis] * inner;
    if (backward && !ga) return;
    for (o = 0; o < outer; o++) {
        int64_t src = o * full * inner + start * inner;
        if (!backward) memcpy(n->out->data + o * len, n->in[0]->data + src, (size_t)len * sizeof(float));
        else for (i = 0; i < len; i++) ga[src + i] += n->out->grad[o * len + i];
    }
}
static void ng__fw_slice(ng_node *n) { ng__slice_copy(n, 0); }
static void ng__bw_slice(ng_node *n) { ng__slice_copy(n, 1); }
