/* Gradient checks and exact-zero padding checks for the sequence ops (src/ops_seq.c). */
#include "test.h"

static gc_input sgin(ng_shape s, int grad) { gc_input g; memset(&g, 0, sizeof g); g.shape = s; g.needs_grad = grad; return g; }

/* lengths shorter than L, a length-1 and a full-length sequence; len 0 only where noted */
static const int32_t SEQ_LENS[4] = {5, 1, 3, 2};

/* ---- embedding ---- */
typedef struct { const int32_t *ids; int64_t N, L, pad; } emb_args;
static ng_tensor *f_embedding(ng_ctx *c, ng_tensor **in, void *u) {
    emb_args *a = (emb_args *)u;
    ng_tensor *y = ng_embedding(c, in[0], a->ids, a->N, a->L, a->pad), *m;
    int64_t j;
    if (a->pad < 0 || !y) return y;
    /* padding_idx drops the row's gradient on purpose; masking the padded positions makes
       that the true derivative, so the check stays exact */
    m = ng_tensor_new(c, ng_shape2(a->N, a->L));
    for (j = 0; j < a->N * a->L; j++) m->data[j] = a->ids[j] == a->pad ? 0.0f : 1.0f;
    return ng_seq_mask(c, y, m);
}
TEST(grad_embedding) {
    /* ids repeat (3 appears 3 times) and use the padding id 0 */
    static const int32_t ids[12] = {3, 1, 0, 0, 3, 6, 2, 0, 3, 5, 1, 4};
    int pad;
    for (pad = 0; pad < 2; pad++) {
        emb_args a;
        gc_input in[1];
        a.ids = ids; a.N = 3; a.L = 4; a.pad = pad ? 0 : -1;
        in[0] = sgin(ng_shape2(7, 5), 1);
        gradcheck(pad ? "embedding padding_idx" : "embedding", f_embedding, &a, in, 1, 9100 + pad, gc_default());
        a.N = 1; a.L = 1;
        in[0] = sgin(ng_shape2(7, 1), 1);
        gradcheck("embedding 1x1", f_embedding, &a, in, 1, 9110 + pad, gc_default());
    }
}
TEST(embedding_values_and_padding_row) {
    ng_ctx *c = ng_ctx_create(1 << 20, 1);
    static const int32_t ids[6] = {2, 0, 2, 1, 0, 0};
    float tab[3 * 2] = {1, 2, 3, 4, 5, 6}, g[6 * 2];
    ng_tensor *t = ng_tensor_from(c, ng_shape2(3, 2), tab), *y;
    int32_t bad = 3;
    int j;
    ng_tensor_requires_grad(t);
    y = ng_embedding(c, t, ids, 2, 3, 0);
    CHECK(y && y->shape.ndim == 3 && y->shape.d[0] == 2 && y->shape.d[1] == 3 && y->shape.d[2] == 2);
    if (!y) { ng_ctx_free(c); return; }
    for (j = 0; j < 6; j++) { CHECK(y->data[2 * j] == tab[2 * ids[j]]); CHECK(y->data[2 * j + 1] == tab[2 * ids[j] + 1]); }
    for (j = 0; j < 12; j++) g[j] = (float)(j + 1);
    CHECK_OK(ng_backward_from(c, y, g));
    CHECK(t->grad[0] == 0.0f && t->grad[1] == 0.0f);                 /* padding row: no gradient */
    CHECK(t->grad[2] == 7.0f && t->grad[3] == 8.0f);                 /* id 1 at position 3 */
    CHECK(t->grad[4] == 1.0f + 5.0f && t->grad[5] == 2.0f + 6.0f);   /* id 2 at positions 0 and 2 */
    /* an id outside [0, V): a clear error, no crash */
    ng_ctx_reset(c);
    t = ng_tensor_from(c, ng_shape2(3, 2), tab);
    ng_clear_error();
    CHECK(ng_embedding(c, t, &bad, 1, 1, -1) == NULL && ng_ctx_status(c) == NG_ERR_ARG);
    CHECK(strstr(ng_last_error(), "outside") != NULL);
    ng_ctx_free(c);
}

/* ---- mask ---- */
typedef struct { const int32_t *lens; int64_t N, L; } mask_args;
static ng_tensor *mask_of(ng_ctx *c, const mask_args *a) { return ng_seq_mask_from_lengths(c, a->lens, a->N, a->L); }
static ng_tensor *f_seq_mask(ng_ctx *c, ng_tensor **in, void *u) { return ng_seq_mask(c, in[0], mask_of(c, (mask_args *)u)); }
TEST(grad_seq_mask_and_zero_pads) {
    static const int32_t lens[4] = {5, 1, 0, 3};
    mask_args a;
    gc_input in[1];
    ng_ctx *c = ng_ctx_create(1 << 20, 2);
    ng_tensor *x, *y;
    float g[4 * 5 * 3];
    int64_t b, t, d;
    a.lens = lens; a.N = 4; a.L = 5;
    in[0] = sgin(ng_shape3(4, 5, 3), 1);
    gradcheck("seq_mask", f_seq_mask, &a, in, 1, 9200, gc_default());
    /* pads exactly 0 even for NaN inputs; zero gradient at pads */
    x = ng_tensor_new(c, ng_shape3(4, 5, 3));
    for (b = 0; b < 60; b++) { x->data[b] = (b % 7 == 0) ? NAN : (float)b; g[b] = 1.0f + (float)b; }
    ng_tensor_requires_grad(x);
    y = ng_seq_mask(c, x, mask_of(c, &a));
    CHECK_OK(ng_backward_from(c, y, g));
    for (b = 0; b < 4; b++)
        for (t = 0; t < 5; t++)
            for (d = 0; d < 3; d++) {
                int64_t j = (b * 5 + t) * 3 + d;
                if (t >= lens[b]) { CHECK(y->data[j] == 0.0f && !signbit(y->data[j])); CHECK(x->grad[j] == 0.0f); }
                else { CHECK(memcmp(&y->data[j], &x->data[j], sizeof(float)) == 0); CHECK(x->grad[j] == g[j]); }
            }
    ng_ctx_free(c);
}

/* ---- conv1d ---- */
static ng_tensor *f_conv1d(ng_ctx *c, ng_tensor **in, void *u) { return ng_conv1d(c, in[0], in[1], u ? in[2] : NULL); }
TEST(grad_conv1d) {
    int64_t Ks[4] = {1, 3, 5, 7}, Ls[3] = {1, 2, 6};
    int ki, li, bias;
    for (ki = 0; ki < 4; ki++)
        for (li = 0; li < 3; li++)
            for (bias = 0; bias < 2; bias++) {
                gc_input in[3];
                in[0] = sgin(ng_shape3(2, Ls[li], 3), 1);
                in[1] = sgin(ng_shape3(5, 3, Ks[ki]), 1);
                in[2] = sgin(ng_shape1(5), 1);
                gradcheck("conv1d", f_conv1d, bias ? (void *)1 : NULL, in, 2 + bias, 9300 + 10 * ki + 2 * li + bias, gc_default());
            }
}
TEST(conv1d_matches_direct_sum) {
    ng_ctx *c = ng_ctx_create(4 << 20, 3);
    ng_rng r;
    int64_t N = 3, L = 7, C = 4, O = 6, K = 5, P = 2, b, t, o, ci, k;
    ng_tensor *x = ng_tensor_new(c, ng_shape3(N, L, C)), *w = ng_tensor_new(c, ng_shape3(O, C, K));
    ng_tensor *bi = ng_tensor_new(c, ng_shape1(O)), *y;
    ng_rng_seed(&r, 3);
    fill_uniform(x->data, x->numel, &r, -1, 1);
    fill_uniform(w->data, w->numel, &r, -1, 1);
    fill_uniform(bi->data, bi->numel, &r, -1, 1);
    y = ng_conv1d(c, x, w, bi);
    CHECK(y != NULL);
    if (y)
        for (b = 0; b < N; b++)
            for (t = 0; t < L; t++)
                for (o = 0; o < O; o++) {
                    double s = bi->data[o];
                    for (ci = 0; ci < C; ci++)
                        for (k = 0; k < K; k++)
                            if (t + k - P >= 0 && t + k - P < L) s += (double)w->data[(o * C + ci) * K + k] * x->data[(b * L + t + k - P) * C + ci];
                    CHECK_CLOSE(y->data[(b * L + t) * O + o], s, 1e-5, 1e-5);
                }
    /* even kernels are refused with an error */
    w = ng_tensor_new(c, ng_shape3(O, C, 2));
    CHECK(ng_conv1d(c, x, w, NULL) == NULL && ng_ctx_status(c) == NG_ERR_ARG);
    ng_ctx_free(c);
}

/* ---- pools ---- */
static ng_tensor *f_pool3(ng_ctx *c, ng_tensor **in, void *u) { return u ? ng_seq_max_pool3(c, in[0]) : ng_seq_avg_pool3(c, in[0]); }
TEST(grad_seq_pools) {
    int64_t Ls[4] = {1, 2, 3, 7};
    int li, mx;
    for (mx = 0; mx < 2; mx++)
        for (li = 0; li < 4; li++) {
            gc_input in[1];
            in[0] = sgin(ng_shape3(2, Ls[li], 3), 1);
            gradcheck(mx ? "seq_max_pool3" : "seq_avg_pool3", f_pool3, mx ? (void *)1 : NULL, in, 1, 9400 + 10 * mx + li, gc_default());
        }
}
TEST(seq_pool_edges) {
    /* one sequence, one feature: x = [1, -2, 3, -4]; avg divides by 3 at the edges; max never
       picks the -inf border, and a pad 0 inside [0, L) does take part */
    ng_ctx *c = ng_ctx_create(1 << 20, 4);
    float v[4] = {1, -2, 3, -4}, neg[3] = {-1, -2, -3};
    ng_tensor *x = ng_tensor_from(c, ng_shape3(1, 4, 1), v), *a = ng_seq_avg_pool3(c, x), *m = ng_seq_max_pool3(c, x);
    ng_tensor *xn = ng_tensor_from(c, ng_shape3(1, 3, 1), neg), *mn = ng_seq_max_pool3(c, xn);
    CHECK_CLOSE(a->data[0], -1.0 / 3.0, 1e-7, 0); CHECK_CLOSE(a->data[1], 2.0 / 3.0, 1e-7, 0);
    CHECK_CLOSE(a->data[2], -1.0, 1e-7, 0);       CHECK_CLOSE(a->data[3], -1.0 / 3.0, 1e-7, 0);
    CHECK(m->data[0] == 1 && m->data[1] == 3 && m->data[2] == 3 && m->data[3] == 3);
    CHECK(mn->data[0] == -1 && mn->data[1] == -1 && mn->data[2] == -2);
    ng_ctx_free(c);
}

/* ---- batch norm over (N, L) ---- */
typedef struct { int affine, track, train; mask_args m; } sbn_args;
/* the TextNAS wrapper: mask -> BN -> mask, statistics over every N*L position */
static ng_tensor *f_seq_bn(ng_ctx *c, ng_tensor **in, void *u) {
    sbn_args *a = (sbn_args *)u;
    ng_tensor *m = mask_of(c, &a->m), *rm = NULL, *rv = NULL, *y;
    int k = 1;
    if (a->track) {
        float rmv[4] = {0.3f, -0.2f, 0.1f, 0.5f}, rvv[4] = {1.5f, 0.7f, 2.0f, 0.9f};
        rm = ng_tensor_from(c, ng_shape1(4), rmv);
        rv = ng_tensor_from(c, ng_shape1(4), rvv);
    }
    ng_ctx_set_training(c, a->train);
    y = ng_seq_batch_norm(c, ng_seq_mask(c, in[0], m), a->affine ? in[k] : NULL, a->affine ? in[k + 1] : NULL, rm, rv, 0.1f, 1e-5f);
    return ng_seq_mask(c, y, m);
}
TEST(grad_seq_batch_norm) {
    int affine, track, train;
    for (train = 0; train < 2; train++)
        for (track = 0; track < 2; track++)
            for (affine = 0; affine < 2; affine++) {
                sbn_args a;
                gc_input in[3];
                gc_opts o = gc_default();
                if (!train && !track) continue; /* eval without running stats = training */
                a.affine = affine; a.track = track; a.train = train;
                a.m.lens = SEQ_LENS; a.m.N = 4; a.m.L = 5;
                in[0] = sgin(ng_shape3(4, 5, 4), 1);
                in[1] = sgin(ng_shape1(4), 1); in[1].lo = 0.5f; in[1].hi = 1.5f;
                in[2] = sgin(ng_shape1(4), 1);
                o.training = train;
                gradcheck("seq_batch_norm", f_seq_bn, &a, in, affine ? 3 : 1, 9500 + 4 * train + 2 * track + affine, o);
            }
}
TEST(seq_batch_norm_matches_channel_first) {
    /* (N, L, D) channel-last = ng_batch_norm on the (N, D, L) transpose, running stats included */
    ng_ctx *c = ng_ctx_create(1 << 20, 5);
    ng_rng r;
    int64_t N = 3, L = 5, D = 4, b, t, d;
    ng_tensor *x = ng_tensor_new(c, ng_shape3(N, L, D)), *xt = ng_tensor_new(c, ng_shape3(N, D, L));
    ng_tensor *rm1 = ng_tensor_zeros(c, ng_shape1(D)), *rv1 = ng_tensor_zeros(c, ng_shape1(D));
    ng_tensor *rm2 = ng_tensor_zeros(c, ng_shape1(D)), *rv2 = ng_tensor_zeros(c, ng_shape1(D)), *y1, *y2;
    ng_rng_seed(&r, 5);
    fill_uniform(x->data, x->numel, &r, -2, 3);
    for (b = 0; b < N; b++) for (t = 0; t < L; t++) for (d = 0; d < D; d++) xt->data[(b * D + d) * L + t] = x->data[(b * L + t) * D + d];
    for (d = 0; d < D; d++) { rv1->data[d] = rv2->data[d] = 1.0f; }
    y1 = ng_seq_batch_norm(c, x, NULL, NULL, rm1, rv1, 0.1f, 1e-5f);
    y2 = ng_batch_norm(c, xt, NULL, NULL, rm2, rv2, 0.1f, 1e-5f);
    for (b = 0; b < N; b++) for (t = 0; t < L; t++) for (d = 0; d < D; d++)
        CHECK_CLOSE(y1->data[(b * L + t) * D + d], y2->data[(b * D + d) * L + t], 1e-5, 1e-5);
    for (d = 0; d < D; d++) { CHECK_CLOSE(rm1->data[d], rm2->data[d], 1e-6, 1e-6); CHECK_CLOSE(rv1->data[d], rv2->data[d], 1e-6, 1e-6); }
    /* one position per feature: refused as PyTorch does */
    CHECK(ng_seq_batch_norm(c, ng_tensor_zeros(c, ng_shape3(1, 1, 2)), NULL, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL);
    ng_ctx_free(c);
}

/* ---- mean pool ---- */
static ng_tensor *f_mean_pool(ng_ctx *c, ng_tensor **in, void *u) { return ng_seq_mean_pool(c, in[0], mask_of(c, (mask_args *)u)); }
TEST(grad_seq_mean_pool) {
    mask_args a;
    gc_input in[1];
    ng_ctx *c = ng_ctx_create(1 << 20, 6);
    static const int32_t zero_len[1] = {0};
    ng_tensor *y;
    a.lens = SEQ_LENS; a.N = 4; a.L = 5;
    in[0] = sgin(ng_shape3(4, 5, 3), 1);
    gradcheck("seq_mean_pool", f_mean_pool, &a, in, 1, 9600, gc_default());
    a.N = 1; a.L = 1;
    in[0] = sgin(ng_shape3(1, 1, 2), 1);
    gradcheck("seq_mean_pool 1x1", f_mean_pool, &a, in, 1, 9601, gc_default());
    /* an empty sequence of zeros gives 0 (divisor 1e-12), not NaN */
    a.lens = zero_len; a.N = 1; a.L = 3;
    y = ng_seq_mean_pool(c, ng_tensor_zeros(c, ng_shape3(1, 3, 2)), mask_of(c, &a));
    CHECK(y && y->data[0] == 0.0f && y->data[1] == 0.0f);
    ng_ctx_free(c);
}

/* ---- attention core ---- */
typedef struct { mask_args m; int heads; float p; } att_args;
static ng_tensor *f_attention(ng_ctx *c, ng_tensor **in, void *u) {
    att_args *a = (att_args *)u;
    return ng_seq_attention(c, in[0], in[1], in[2], mask_of(c, &a->m), a->heads, a->p);
}
TEST(grad_seq_attention) {
    static const int32_t lens[4] = {5, 1, 3, 0};
    static const int32_t one[2] = {1, 1};
    int heads_opt[3] = {1, 2, 3}, hi, drop;
    for (drop = 0; drop < 2; drop++)
        for (hi = 0; hi < 3; hi++) {
            att_args a;
            gc_input in[3];
            int k;
            a.m.lens = lens; a.m.N = 4; a.m.L = 5; a.heads = heads_opt[hi]; a.p = drop ? 0.3f : 0.0f;
            for (k = 0; k < 3; k++) { in[k] = sgin(ng_shape3(4, 5, 6), 1); in[k].lo = 0.0f; in[k].hi = 1.5f; }
            gradcheck(drop ? "seq_attention dropout" : "seq_attention", f_attention, &a, in, 3, 9700 + 10 * drop + hi, gc_default());
            a.m.lens = one; a.m.N = 2; a.m.L = 1;
            for (k = 0; k < 3; k++) in[k].shape = ng_shape3(2, 1, 6);
            in[0].needs_grad = in[1].needs_grad = 0; /* one key: softmax is constant, d/dq = d/dk = 0 */
            gradcheck("seq_attention L=1", f_attention, &a, in, 3, 9750 + 10 * drop + hi, gc_default());
        }
}
TEST(seq_attention_padding) {
    /* pad queries give exact zeros; pad positions get zero gradient in q, k and v */
    static const int32_t lens[3] = {4, 2, 0};
    ng_ctx *c = ng_ctx_create(1 << 20, 7);
    ng_rng r;
    mask_args ma;
    ng_tensor *t[3], *y;
    float g[3 * 4 * 8];
    int k;
    int64_t b, s, ch;
    ng_rng_seed(&r, 7);
    ma.lens = lens; ma.N = 3; ma.L = 4;
    for (k = 0; k < 3; k++) {
        t[k] = ng_tensor_new(c, ng_shape3(3, 4, 8));
        fill_uniform(t[k]->data, t[k]->numel, &r, 0, 2);
        ng_tensor_requires_grad(t[k]);
    }
    fill_uniform(g, 96, &r, -1, 1);
    y = ng_seq_attention(c, t[0], t[1], t[2], mask_of(c, &ma), 4, 0.0f);
    CHECK_OK(ng_backward_from(c, y, g));
    for (b = 0; b < 3; b++)
        for (s = 0; s < 4; s++)
            for (ch = 0; ch < 8; ch++) {
                int64_t j = (b * 4 + s) * 8 + ch;
                if (s < lens[b]) continue;
                CHECK(y->data[j] == 0.0f);
                for (k = 0; k < 3; k++) CHECK(t[k]->grad[j] == 0.0f);
            }
    ng_ctx_free(c);
}

/* ---- GRU ---- */
typedef struct { mask_args m; int reverse; } gru_args;
static ng_tensor *f_gru(ng_ctx *c, ng_tensor **in, void *u) {
    gru_args *a = (gru_args *)u;
    return ng_seq_gru(c, in[0], mask_of(c, &a->m), in[1], in[2], in[3], in[4], a->reverse);
}
/* TextNAS BiGRU: forward + backward directions, each with its own weights, summed */
static ng_tensor *f_bigru(ng_ctx *c, ng_tensor **in, void *u) {
    ng_tensor *m = mask_of(c, &((gru_args *)u)->m);
    return ng_add(c, ng_seq_gru(c, in[0], m, in[1], in[2], in[3], in[4], 0), ng_seq_gru(c, in[0], m, in[5], in[6], in[7], in[8], 1));
}
static void gru_inputs(gc_input *in, int64_t N, int64_t L, int64_t In, int64_t H, int dirs) {
    int d, k;
    in[0] = sgin(ng_shape3(N, L, In), 1);
    for (d = 0; d < dirs; d++) {
        in[1 + 4 * d] = sgin(ng_shape2(3 * H, In), 1);
        in[2 + 4 * d] = sgin(ng_shape2(3 * H, H), 1);
        in[3 + 4 * d] = sgin(ng_shape1(3 * H), 1);
        in[4 + 4 * d] = sgin(ng_shape1(3 * H), 1);
        for (k = 1; k <= 4; k++) { in[k + 4 * d].lo = -0.8f; in[k + 4 * d].hi = 0.8f; }
    }
}
TEST(grad_seq_gru) {
    static const int32_t lens[4] = {5, 1, 3, 0};
    static const int32_t one[2] = {1, 1};
    int rev;
    gc_input in[9];
    gru_args a;
    for (rev = 0; rev < 2; rev++) {
        a.m.lens = lens; a.m.N = 4; a.m.L = 5; a.reverse = rev;
        gru_inputs(in, 4, 5, 3, 4, 1);
        gradcheck(rev ? "seq_gru reverse" : "seq_gru", f_gru, &a, in, 5, 9800 + rev, gc_default());
        a.m.lens = one; a.m.N = 2; a.m.L = 1;
        gru_inputs(in, 2, 1, 2, 3, 1);
        in[2].needs_grad = 0; /* one step from h = 0: W_hh's gradient is exactly 0 */
        gradcheck("seq_gru L=1", f_gru, &a, in, 5, 9810 + rev, gc_default());
    }
    a.m.lens = lens; a.m.N = 4; a.m.L = 5;
    gru_inputs(in, 4, 5, 3, 2, 2);
    gradcheck("bigru", f_bigru, &a, in, 9, 9820, gc_default());
}
TEST(seq_gru_padding_and_mask_rule) {
    /* pads give exact zeros and zero input gradient; the reverse direction starts at each
       sequence's own last token (so padding does not change the real outputs) */
    static const int32_t lens[2] = {2, 4};
    ng_ctx *c = ng_ctx_create(1 << 20, 8);
    ng_rng r;
    ng_tensor *x, *w[4], *y, *yf;
    mask_args ma;
    float g[2 * 4 * 3], bad_mask[2] = {0, 1};
    int k;
    int64_t j;
    ng_rng_seed(&r, 8);
    ma.lens = lens; ma.N = 2; ma.L = 4;
    x = ng_tensor_new(c, ng_shape3(2, 4, 2));
    fill_uniform(x->data, x->numel, &r, -1, 1);
    ng_tensor_requires_grad(x);
    w[0] = ng_tensor_new(c, ng_shape2(9, 2)); w[1] = ng_tensor_new(c, ng_shape2(9, 3));
    w[2] = ng_tensor_new(c, ng_shape1(9)); w[3] = ng_tensor_new(c, ng_shape1(9));
    for (k = 0; k < 4; k++) fill_uniform(w[k]->data, w[k]->numel, &r, -0.5f, 0.5f);
    y = ng_seq_gru(c, x, mask_of(c, &ma), w[0], w[1], w[2], w[3], 1);
    fill_uniform(g, 24, &r, -1, 1);
    CHECK_OK(ng_backward_from(c, y, g));
    for (j = 2 * 3; j < 4 * 3; j++) CHECK(y->data[j] == 0.0f);               /* sequence 0, t = 2, 3 */
    for (j = 2 * 2; j < 4 * 2; j++) CHECK(x->grad[j] == 0.0f);
    /* sequence 0 truncated to its length equals running on the first 2 tokens alone */
    {
        ng_tensor *x2 = ng_tensor_new(c, ng_shape3(1, 2, 2));
        static const int32_t two[1] = {2};
        mask_args m2;
        memcpy(x2->data, x->data, 4 * sizeof(float));
        m2.lens = two; m2.N = 1; m2.L = 2;
        yf = ng_seq_gru(c, x2, mask_of(c, &m2), w[0], w[1], w[2], w[3], 1);
        for (j = 0; j < 6; j++) CHECK_CLOSE(yf->data[j], y->data[j], 1e-6, 1e-6);
    }
    /* a mask with a hole is refused */
    CHECK(ng_seq_gru(c, ng_tensor_zeros(c, ng_shape3(1, 2, 2)), ng_tensor_from(c, ng_shape2(1, 2), bad_mask), w[0], w[1], w[2], w[3], 0) == NULL);
    ng_ctx_free(c);
}

/* ng_seq_gru_lengths (lengths from the host, the mask's values unread) gives the same bits as
   ng_seq_gru, and refuses lengths outside [0, L] */
TEST(seq_gru_lengths_same_as_mask) {
    static const int32_t lens[3] = {4, 0, 2}, too_long[3] = {4, 5, 2};
    ng_ctx *c = ng_ctx_create(1 << 20, 9);
    ng_rng r;
    ng_tensor *x, *w[4], *m, *ya, *yb;
    int k, rev;
    ng_rng_seed(&r, 9);
    x = ng_tensor_new(c, ng_shape3(3, 4, 2));
    fill_uniform(x->data, x->numel, &r, -1, 1);
    w[0] = ng_tensor_new(c, ng_shape2(9, 2)); w[1] = ng_tensor_new(c, ng_shape2(9, 3));
    w[2] = ng_tensor_new(c, ng_shape1(9)); w[3] = ng_tensor_new(c, ng_shape1(9));
    for (k = 0; k < 4; k++) fill_uniform(w[k]->data, w[k]->numel, &r, -0.5f, 0.5f);
    m = ng_seq_mask_from_lengths(c, lens, 3, 4);
    for (rev = 0; rev < 2; rev++) {
        ya = ng_seq_gru(c, x, m, w[0], w[1], w[2], w[3], rev);
        yb = ng_seq_gru_lengths(c, x, m, lens, w[0], w[1], w[2], w[3], rev);
        CHECK(ya && yb && memcmp(ya->data, yb->data, (size_t)ya->numel * sizeof(float)) == 0);
    }
    CHECK(ng_seq_gru_lengths(c, x, m, too_long, w[0], w[1], w[2], w[3], 0) == NULL);
    CHECK(ng_ctx_status(c) == NG_ERR_ARG && strstr(ng_last_error(), "outside [0, L]") != NULL);
    ng_ctx_free(c);
}

/* ---- the threaded paths give the same bits for 1 and 2 threads ---- */
static void seq_run_all(int threads, float *out, int64_t *n_out) {
    ng_ctx *c = ng_ctx_create(64u << 20, 11);
    ng_rng r;
    int64_t N = 4, L = 40, D = 320, V = 50, j, k = 0;
    int32_t ids[4 * 40], lens[4] = {40, 17, 1, 33};
    ng_tensor *tab, *x, *m, *q, *y1, *y2, *y3, *gm, *rm, *rv;
    ng_set_num_threads(threads);
    ng_rng_seed(&r, 11);
    for (j = 0; j < N * L; j++) ids[j] = (int32_t)ng_rng_below(&r, (uint64_t)V);
    tab = ng_tensor_new(c, ng_shape2(V, D));
    fill_uniform(tab->data, tab->numel, &r, -1, 1);
    ng_tensor_requires_grad(tab);
    m = ng_seq_mask_from_lengths(c, lens, N, L);
    x = ng_seq_mask(c, ng_embedding(c, tab, ids, N, L, 0), m);
    rm = ng_tensor_zeros(c, ng_shape1(D)); rv = ng_tensor_zeros(c, ng_shape1(D));
    y1 = ng_seq_batch_norm(c, x, NULL, NULL, rm, rv, 0.1f, 1e-5f);
    q = ng_relu(c, y1);
    y2 = ng_seq_attention(c, q, q, q, m, 4, 0.0f);
    y3 = ng_seq_max_pool3(c, ng_seq_avg_pool3(c, y2));
    gm = ng_sum(c, ng_seq_mean_pool(c, y3, m), NG_ALL_AXES, 0);
    CHECK_OK(ng_backward(c, gm));
    for (j = 0; j < y3->numel; j++) out[k++] = y3->data[j];
    for (j = 0; j < tab->numel; j++) out[k++] = tab->grad[j];
    for (j = 0; j < D; j++) out[k++] = rv->data[j];
    *n_out = k;
    ng_ctx_free(c);
}
/* the GRU in the packed layout, big enough that its cell loops run threaded: outputs and every
   gradient, for unsorted lengths with a 0 */
static void gru_run(int threads, int reverse, float *out, int64_t *n_out) {
    ng_ctx *c = ng_ctx_create(64u << 20, 12);
    ng_rng r;
    int64_t N = 64, L = 12, In = 20, H = 512, j, k = 0, b;  /* ns H > 16384 while ns > 32 */
    int32_t lens[64];
    ng_tensor *x, *w[4], *y;
    ng_set_num_threads(threads);
    ng_rng_seed(&r, 12);
    for (b = 0; b < N; b++) lens[b] = (int32_t)((b * 7 + 3) % (L + 1));
    x = ng_tensor_new(c, ng_shape3(N, L, In));
    w[0] = ng_tensor_new(c, ng_shape2(3 * H, In)); w[1] = ng_tensor_new(c, ng_shape2(3 * H, H));
    w[2] = ng_tensor_new(c, ng_shape1(3 * H)); w[3] = ng_tensor_new(c, ng_shape1(3 * H));
    fill_uniform(x->data, x->numel, &r, -1, 1);
    ng_tensor_requires_grad(x);
    for (j = 0; j < 4; j++) { fill_uniform(w[j]->data, w[j]->numel, &r, -0.1f, 0.1f); ng_tensor_requires_grad(w[j]); }
    y = ng_seq_gru(c, x, ng_seq_mask_from_lengths(c, lens, N, L), w[0], w[1], w[2], w[3], reverse);
    CHECK_OK(ng_backward(c, ng_sum(c, ng_mul(c, y, y), NG_ALL_AXES, 0)));
    for (j = 0; j < y->numel; j++) out[k++] = y->data[j];
    for (j = 0; j < x->numel; j++) out[k++] = x->grad[j];
    for (b = 0; b < 4; b++)
        for (j = 0; j < w[b]->numel; j++) out[k++] = w[b]->grad[j];
    *n_out = k;
    ng_ctx_free(c);
}
TEST(seq_gru_thread_count_independent) {
    int64_t cap = 64 * 12 * 512 + 64 * 12 * 20 + 1536 * (20 + 512 + 2), n1 = 0, n2 = 0, j, diff = 0;
    int saved = ng_num_threads(), rev;
    float *a = (float *)malloc(sizeof(float) * (size_t)cap), *b = (float *)malloc(sizeof(float) * (size_t)cap);
    for (rev = 0; rev < 2; rev++) {
        gru_run(1, rev, a, &n1);
        gru_run(2, rev, b, &n2);
        CHECK(n1 == n2 && n1 == cap);
        for (j = 0; j < n1 && j < n2; j++) diff += memcmp(&a[j], &b[j], sizeof(float)) != 0;
    }
    ng_set_num_threads(saved);
    CHECK_MSG(diff == 0, "%lld values differ between 1 and 2 threads", (long long)diff);
    free(a); free(b);
}
TEST(seq_ops_thread_count_independent) {
    int64_t n1 = 0, n2 = 0, j, diff = 0;
    int saved = ng_num_threads();
    float *a = (float *)malloc(sizeof(float) * (4 * 40 * 320 + 50 * 320 + 320));
    float *b = (float *)malloc(sizeof(float) * (4 * 40 * 320 + 50 * 320 + 320));
    seq_run_all(1, a, &n1);
    seq_run_all(2, b, &n2);
    ng_set_num_threads(saved);
    CHECK(n1 == n2 && n1 > 0);
    for (j = 0; j < n1 && j < n2; j++) diff += memcmp(&a[j], &b[j], sizeof(float)) != 0;
    CHECK_MSG(diff == 0, "%lld values differ between 1 and 2 threads", (long long)diff);
    free(a); free(b);
}
