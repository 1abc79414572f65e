/* ======================================================================================== */
/* @@OPS resampling and pooling (NCHW)                                                      */
/* ======================================================================================== */
/* ---- upsampling x2: nearest (i[0] = 0) and bilinear, align_corners=False (i[0] = 1) ---- */
static ng_tensor *ng__upsample(ng_ctx *ctx, ng_tensor *x, int mode) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_UPSAMPLE);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_UPSAMPLE, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], 2 * x->shape.d[2], 2 * x->shape.d[3]));
    if (!n) return NULL;
    n->i[0] = mode;
    return ng__finish(n);
}
ng_tensor *ng_upsample_nearest2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 0); }
ng_tensor *ng_upsample_bilinear2x(ng_ctx *ctx, ng_tensor *x) { return ng__upsample(ctx, x, 1); }

/* PyTorch's source index and weights for output index d along an axis of `in` elements
   (scale 1/2, align_corners=False): src = max(0, (d + 0.5) / 2 - 0.5). */
static void ng__up_lin(int64_t d, int64_t in, int64_t *i0, int64_t *i1, float *l0, float *l1) {
    float src = 0.5f * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int64_t)src;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (float)*i0;
    *l0 = 1.0f - *l1;
}
typedef struct ng__up_tab { int64_t i0, i1; float l0, l1; } ng__up_tab;
static ng__up_tab *ng__up_table(ng_ctx *ctx, int64_t in) {
    ng__up_tab *t = (ng__up_tab *)ng__alloc(ctx, (size_t)(2 * in) * sizeof *t);
    int64_t d;
    if (t)
        for (d = 0; d < 2 * in; d++) ng__up_lin(d, in, &t[d].i0, &t[d].i1, &t[d].l0, &t[d].l1);
    return t;
}
static void ng__fw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    ng__up_tab *th = NULL, *tw = NULL;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * 4 * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                float *r = yp + 2 * i * 2 * W;
                for (j = 0; j < W; j++) r[2 * j] = r[2 * j + 1] = xp[i * W + j];
                memcpy(r + 2 * W, r, (size_t)(2 * W) * sizeof(float));
            }
        } else {
            for (i = 0; i < 2 * H; i++) {
                const float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W;
                float h0 = th[i].l0, h1 = th[i].l1, *r = yp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r[j] = (r0[c->i0] * c->l0 + r0[c->i1] * c->l1) * h0 + (r1[c->i0] * c->l0 + r1[c->i1] * c->l1) * h1;
                }
            }
        }
    }
}
static void ng__bw_upsample(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], p;
    const float *g = n->out->grad;
    int fresh; /* gx not zeroed: nearest stores each element once, bilinear zeroes its planes */
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    ng__up_tab *th = NULL, *tw = NULL;
    if (!gx) return;
    if (n->i[0] == 1) {
        th = ng__up_table(n->ctx, H);
        tw = ng__up_table(n->ctx, W);
        if (!th || !tw) return;
    }
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        const float *gp = g + p * 4 * H * W;
        float *xp = gx + p * H * W;
        int64_t i, j;
        if (!th) {
            for (i = 0; i < H; i++) {
                const float *r0 = gp + 2 * i * 2 * W, *r1 = r0 + 2 * W;
                for (j = 0; j < W; j++)
                    xp[i * W + j] = (fresh ? 0.0f : xp[i * W + j]) + ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]));
            }
        } else {
            if (fresh) memset(xp, 0, (size_t)(H * W) * sizeof(float));
            for (i = 0; i < 2 * H; i++) {
                float *r0 = xp + th[i].i0 * W, *r1 = xp + th[i].i1 * W, h0 = th[i].l0, h1 = th[i].l1;
                const float *r = gp + i * 2 * W;
                for (j = 0; j < 2 * W; j++) {
                    const ng__up_tab *c = &tw[j];
                    r0[c->i0] += h0 * c->l0 * r[j];
                    r0[c->i1] += h0 * c->l1 * r[j];
                    r1[c->i0] += h1 * c->l0 * r[j];
                    r1[c->i1] += h1 * c->l1 * r[j];
                }
            }
        }
    }
}

/* ---- avg_pool2d(x, 2): kernel 2, stride 2, floor ---- */
ng_tensor *ng_avg_pool2d(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_AVG_POOL2);
    NG_ASSERT(x->shape.ndim == 4);
    if (x->shape.d[2] < 2 || x->shape.d[3] < 2) {
        ng__bad(ctx, "avg_pool2d", "input is smaller than the 2x2 window");
        return NULL;
    }
    n = ng__begin(ctx, NG_OP_AVG_POOL2, &x, 1, ng_shape4(x->shape.d[0], x->shape.d[1], x->shape.d[2] / 2, x->shape.d[3] / 2));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        for (i = 0; i < Ho; i++) {
            const float *r0 = x + p * H * W + 2 * i * W, *r1 = r0 + W;
            float *r = y + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) r[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) / 4.0f;
        }
    }
}
static void ng__bw_avg_pool2(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], H = s->d[2], W = s->d[3], Ho = H / 2, Wo = W / 2, p;
    const float *g = n->out->grad;
    int fresh; /* gx not zeroed: its planes are zeroed here, in parallel */
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    if (!gx) return;
    NG__OMP(parallel for if (planes * H * W > 32768))
    for (p = 0; p < planes; p++) {
        int64_t i, j;
        if (fresh) memset(gx + p * H * W, 0, (size_t)(H * W) * sizeof(float));
        for (i = 0; i < Ho; i++) {
            float *r0 = gx + p * H * W + 2 * i * W, *r1 = r0 + W;
            const float *r = g + p * Ho * Wo + i * Wo;
            for (j = 0; j < Wo; j++) {
                float v = r[j] * 0.25f;
                r0[2 * j] += v; r0[2 * j + 1] += v; r1[2 * j] += v; r1[2 * j + 1] += v;
            }
        }
    }
}

/* ---- sum over H and W: (N, C, H, W) -> (N, C) ---- */
ng_tensor *ng_sum_hw(ng_ctx *ctx, ng_tensor *x) {
    ng_node *n;
    if (!x) return ng__null_input(ctx, NG_OP_SUM_HW);
    NG_ASSERT(x->shape.ndim == 4);
    n = ng__begin(ctx, NG_OP_SUM_HW, &x, 1, ng_shape2(x->shape.d[0], x->shape.d[1]));
    return n ? ng__finish(n) : NULL;
}
static void ng__fw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        const float *xp = n->in[0]->data + p * HW;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < HW; j++) acc += xp[j];
        n->out->data[p] = (float)acc;
    }
}
static void ng__bw_sum_hw(ng_node *n) {
    const ng_shape *s = &n->in[0]->shape;
    int64_t planes = s->d[0] * s->d[1], HW = s->d[2] * s->d[3], p;
    int fresh;
    float *gx = ng__in_grad_fresh(n, 0, &fresh);
    if (!gx) return;
    NG__OMP(parallel for if (planes * HW > 32768))
    for (p = 0; p < planes; p++) {
        float v = n->out->grad[p], *xp = gx + p * HW;
        int64_t j;
        if (fresh) for (j = 0; j < HW; j++) xp[j] = 0.0f + v;
        else for (j = 0; j < HW; j++) xp[j] += v;
    }
}
