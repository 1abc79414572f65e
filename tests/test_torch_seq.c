/* Agreement with PyTorch for the sequence ops (src/ops_seq.c) against the committed fixtures
   tests/fixtures/seq_*.ngfx (written by tests/ref/make_fixtures.py from torch's own modules:
   nn.Embedding, nn.Conv1d, F.avg_pool1d / F.max_pool1d, nn.BatchNorm1d, nn.GRU on packed
   sequences, plus the TextNAS masking, global average pool and attention in tensor ops).
   nasgan's sequences are channel-last (N, L, D); the fixtures store them so and run PyTorch
   on the (N, D, L) transpose.

   References are float64 results rounded once to float32; every element must satisfy
   |got - ref| <= atol + rtol |ref| (NaN/Inf fail). Tolerances, as in tests/test_torch_ref.c:
   - SX_EXACT (0, 0): the embedding forward and the max-pool forward only copy values.
   - SX_OP (1e-5, 1e-4): conv1d (sums of up to Cin*K*N*L = 120 O(1) terms), avg pool (a sum of
     three, divided by 3), embedding gradients (sums of at most 3 rows), the mean pool, the
     attention chain (linear + ReLU + a softmax over at most 6 keys + two products), the BiGRU
     (6 recurrent steps of O(1) gates; gradients through all of them).
   - SX_NORM (3e-5, 3e-4): batch norm over (N, L), whose input gradient is a cancelling
     difference of sums scaled by 1/std, and the small TextNAS network (seq_chain) whose six
     batch norms dominate its error.
   With NG_SEQ_TOL_REPORT set, each test prints the worst error as a fraction of its
   tolerance (measured values are in the report of the seqops branch). */
#include "test.h"
#include "fixture.h"

typedef struct { double atol, rtol; } sx_tol;
static const sx_tol SX_EXACT = {0.0, 0.0};
static const sx_tol SX_OP = {1e-5, 1e-4};
static const sx_tol SX_NORM = {3e-5, 3e-4};

typedef struct sxcase {
    fx_file *f;
    const char *file;
    char cs[96];
    ng_ctx *ctx;
    int next, n_cases;
    double worst;          /* largest |err| / tolerance (|err| when the tolerance is 0) */
} sxcase;

static int sx_begin(sxcase *c, const char *file) {
    memset(c, 0, sizeof *c);
    c->file = file;
    c->f = fx_open(file);
    if (!c->f) { ng_test_fail(__FILE__, __LINE__, "%s", ng_last_error()); return 0; }
    c->ctx = ng_ctx_create(16u << 20, 1);
    return c->ctx != NULL;
}
static void sx_end(sxcase *c) {
    if (c->f && c->n_cases == 0) ng_test_fail(__FILE__, __LINE__, "%s: no cases found", c->file);
    if (getenv("NG_SEQ_TOL_REPORT")) printf("  %s: worst error / tolerance = %.3g over %d cases\n", c->file, c->worst, c->n_cases);
    fx_free(c->f);
    ng_ctx_free(c->ctx);
}
static int sx_next(sxcase *c) {
    while (c->f && c->next < c->f->n) {
        const char *nm = c->f->a[c->next++].name;
        size_t L = strlen(nm);
        if (L > 2 && strcmp(nm + L - 2, "/y") == 0 && L - 2 < sizeof c->cs) {
            memcpy(c->cs, nm, L - 2);
            c->cs[L - 2] = '\0';
            ng_ctx_reset(c->ctx);
            ng_ctx_set_training(c->ctx, 1);
            c->n_cases++;
            return 1;
        }
    }
    return 0;
}
static const fx_array *sx_arr(const sxcase *c, const char *field) {
    char nm[160];
    const fx_array *a;
    snprintf(nm, sizeof nm, "%s/%s", c->cs, field);
    a = fx_find(c->f, nm);
    if (!a) ng_test_fail(__FILE__, __LINE__, "%s: no array %s", c->file, nm);
    return a;
}
static int sx_cfg(const sxcase *c, int k) {
    const fx_array *a = sx_arr(c, "cfg");
    return a && a->dtype == FX_I32 && k < a->n ? a->i[k] : 0;
}
static ng_tensor *sx_in(sxcase *c, const char *field, int grad) {
    const fx_array *a = sx_arr(c, field);
    ng_tensor *t;
    if (!a || a->dtype != FX_F32) return NULL;
    t = ng_tensor_from(c->ctx, fx_shape(a), a->f);
    if (t && grad) ng_tensor_requires_grad(t);
    return t;
}
/* the (N, L) mask from "<case>/lens" and x's length */
static ng_tensor *sx_mask(sxcase *c, const ng_tensor *x) {
    const fx_array *a = sx_arr(c, "lens");
    if (!a || a->dtype != FX_I32 || !x) return NULL;
    return ng_seq_mask_from_lengths(c->ctx, a->i, a->n, x->shape.d[1]);
}
static int sx_cmp(sxcase *c, const char *what, const float *got, ng_shape s, const fx_array *ref, sx_tol t) {
    int64_t j, bad = 0, worst = 0;
    int d;
    if (!ref) return 1;
    if (ref->dtype != FX_F32 || s.ndim != ref->ndim || ng_shape_numel(s) != ref->n) {
        ng_test_fail(__FILE__, __LINE__, "%s/%s %s: shape or type differs from PyTorch", c->file, c->cs, what);
        return 1;
    }
    for (d = 0; d < ref->ndim; d++)
        if (s.d[d] != ref->dims[d]) { ng_test_fail(__FILE__, __LINE__, "%s/%s %s: dim %d differs", c->file, c->cs, what, d); return 1; }
    for (j = 0; j < ref->n; j++) {
        double g = got[j], r = ref->f[j], lim = t.atol + t.rtol * fabs(r), err = fabs(g - r);
        double ratio = lim > 0 ? err / lim : err;
        if (!isfinite(g) || !isfinite(r)) ratio = INFINITY;
        if (ratio > c->worst) c->worst = ratio;
        if (!isfinite(ratio) || err > lim) { if (!bad) worst = j; bad++; }
    }
    if (bad)
        ng_test_fail(__FILE__, __LINE__, "%s/%s %s: %lld of %lld differ from PyTorch; first at %lld: %.9g vs %.9g (tol %g + %g*|ref|)",
                     c->file, c->cs, what, (long long)bad, (long long)ref->n, (long long)worst, got[worst], ref->f[worst], t.atol, t.rtol);
    return bad ? 1 : 0;
}
static int sx_out(sxcase *c, const char *field, const ng_tensor *y, sx_tol t) {
    if (!y) { ng_test_fail(__FILE__, __LINE__, "%s/%s: op returned NULL: %s", c->file, c->cs, ng_last_error()); return 1; }
    return sx_cmp(c, field, y->data, y->shape, sx_arr(c, field), t);
}
static int sx_backward(sxcase *c, ng_tensor *y) {
    const fx_array *gy = sx_arr(c, "gy");
    if (!y || !gy || gy->n != y->numel) { ng_test_fail(__FILE__, __LINE__, "%s/%s: bad gy", c->file, c->cs); return 1; }
    if (ng_backward_from(c->ctx, y, gy->f) != NG_OK) { ng_test_fail(__FILE__, __LINE__, "%s/%s: backward: %s", c->file, c->cs, ng_last_error()); return 1; }
    return 0;
}
static int sx_grad(sxcase *c, const char *field, const ng_tensor *t, sx_tol tl) {
    char g[64];
    snprintf(g, sizeof g, "g%s", field);
    if (!t || !t->grad) { ng_test_fail(__FILE__, __LINE__, "%s/%s: input %s got no gradient", c->file, c->cs, field); return 1; }
    return sx_cmp(c, g, t->grad, t->shape, sx_arr(c, g), tl);
}

/* cfg [padding_idx]; ids int32 (N, L) */
TEST(torch_seq_embedding) {
    sxcase c;
    if (sx_begin(&c, "seq_embedding"))
        while (sx_next(&c)) {
            const fx_array *ids = sx_arr(&c, "ids");
            ng_tensor *tab = sx_in(&c, "table", 1), *y;
            if (!ids || ids->dtype != FX_I32 || ids->ndim != 2) continue;
            y = ng_embedding(c.ctx, tab, ids->i, ids->dims[0], ids->dims[1], sx_cfg(&c, 0));
            if (sx_out(&c, "y", y, SX_EXACT) || sx_backward(&c, y)) continue;
            sx_grad(&c, "table", tab, SX_OP);
        }
    sx_end(&c);
}

/* cfg [K, bias] */
TEST(torch_seq_conv1d) {
    sxcase c;
    if (sx_begin(&c, "seq_conv1d"))
        while (sx_next(&c)) {
            int bias = sx_cfg(&c, 1);
            ng_tensor *x = sx_in(&c, "x", 1), *w = sx_in(&c, "w", 1), *b = bias ? sx_in(&c, "b", 1) : NULL, *y;
            y = ng_conv1d(c.ctx, x, w, b);
            if (sx_out(&c, "y", y, SX_OP) || sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_OP);
            sx_grad(&c, "w", w, SX_OP);
            if (bias) sx_grad(&c, "b", b, SX_OP);
        }
    sx_end(&c);
}

/* cfg [max, masked]: y = pool(x), then ng_seq_mask when masked */
TEST(torch_seq_pool) {
    sxcase c;
    if (sx_begin(&c, "seq_pool"))
        while (sx_next(&c)) {
            int mx = sx_cfg(&c, 0), msk = sx_cfg(&c, 1);
            ng_tensor *x = sx_in(&c, "x", 1), *y;
            y = mx ? ng_seq_max_pool3(c.ctx, x) : ng_seq_avg_pool3(c.ctx, x);
            if (msk) y = ng_seq_mask(c.ctx, y, sx_mask(&c, x));
            if (sx_out(&c, "y", y, mx ? SX_EXACT : SX_OP) || sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_OP); /* max: a position that wins several windows sums their gradients */
        }
    sx_end(&c);
}

/* cfg [training, affine]: mask -> ng_seq_batch_norm (momentum 0.1, eps 1e-5) -> mask */
TEST(torch_seq_batch_norm) {
    sxcase c;
    if (sx_begin(&c, "seq_batch_norm"))
        while (sx_next(&c)) {
            int train = sx_cfg(&c, 0), affine = sx_cfg(&c, 1);
            ng_tensor *x = sx_in(&c, "x", 1), *m = sx_mask(&c, x);
            ng_tensor *gamma = affine ? sx_in(&c, "gamma", 1) : NULL, *beta = affine ? sx_in(&c, "beta", 1) : NULL;
            ng_tensor *rm = sx_in(&c, "rm", 0), *rv = sx_in(&c, "rv", 0), *y;
            ng_ctx_set_training(c.ctx, train);
            y = ng_seq_mask(c.ctx, ng_seq_batch_norm(c.ctx, ng_seq_mask(c.ctx, x, m), gamma, beta, rm, rv, 0.1f, 1e-5f), m);
            if (sx_out(&c, "y", y, SX_NORM)) continue;
            sx_out(&c, "rm_after", rm, SX_NORM);
            sx_out(&c, "rv_after", rv, SX_NORM);
            if (sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_NORM);
            if (affine) { sx_grad(&c, "gamma", gamma, SX_NORM); sx_grad(&c, "beta", beta, SX_NORM); }
        }
    sx_end(&c);
}

TEST(torch_seq_mean_pool) {
    sxcase c;
    if (sx_begin(&c, "seq_mean_pool"))
        while (sx_next(&c)) {
            ng_tensor *x = sx_in(&c, "x", 1), *y = ng_seq_mean_pool(c.ctx, x, sx_mask(&c, x));
            if (sx_out(&c, "y", y, SX_OP) || sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_OP);
        }
    sx_end(&c);
}

/* cfg [heads]: Q, K, V = relu(linear(x)) on the (N*L, H) view, then ng_seq_attention (p = 0) */
TEST(torch_seq_attention) {
    sxcase c;
    if (sx_begin(&c, "seq_attention"))
        while (sx_next(&c)) {
            ng_tensor *x = sx_in(&c, "x", 1), *m = sx_mask(&c, x), *w[3], *b[3], *p[3], *x2, *y;
            const char *nm[3] = {"q", "k", "v"};
            char f[8];
            int k;
            if (!x) continue;
            x2 = ng_reshape(c.ctx, x, ng_shape2(x->shape.d[0] * x->shape.d[1], x->shape.d[2]));
            for (k = 0; k < 3; k++) {
                snprintf(f, sizeof f, "w%s", nm[k]); w[k] = sx_in(&c, f, 1);
                snprintf(f, sizeof f, "b%s", nm[k]); b[k] = sx_in(&c, f, 1);
                p[k] = ng_reshape(c.ctx, ng_relu(c.ctx, ng_linear(c.ctx, x2, w[k], b[k])), x->shape);
            }
            y = ng_seq_attention(c.ctx, p[0], p[1], p[2], m, sx_cfg(&c, 0), 0.0f);
            if (sx_out(&c, "y", y, SX_OP) || sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_OP);
            for (k = 0; k < 3; k++) {
                snprintf(f, sizeof f, "w%s", nm[k]); sx_grad(&c, f, w[k], SX_OP);
                snprintf(f, sizeof f, "b%s", nm[k]); sx_grad(&c, f, b[k], SX_OP);
            }
        }
    sx_end(&c);
}

/* BiGRU: ng_seq_gru forward + ng_seq_gru reverse (own weights), summed */
TEST(torch_seq_gru) {
    sxcase c;
    if (sx_begin(&c, "seq_gru"))
        while (sx_next(&c)) {
            static const char *const nm[8] = {"w_ih_f", "w_hh_f", "b_ih_f", "b_hh_f", "w_ih_b", "w_hh_b", "b_ih_b", "b_hh_b"};
            ng_tensor *x = sx_in(&c, "x", 1), *m = sx_mask(&c, x), *p[8], *y;
            int k;
            for (k = 0; k < 8; k++) p[k] = sx_in(&c, nm[k], 1);
            y = ng_add(c.ctx, ng_seq_gru(c.ctx, x, m, p[0], p[1], p[2], p[3], 0), ng_seq_gru(c.ctx, x, m, p[4], p[5], p[6], p[7], 1));
            if (sx_out(&c, "y", y, SX_OP) || sx_backward(&c, y)) continue;
            sx_grad(&c, "x", x, SX_OP);
            for (k = 0; k < 8; k++) sx_grad(&c, nm[k], p[k], SX_OP);
        }
    sx_end(&c);
}

/* A small TextNAS network (see make_seq_chain): channel-last nasgan ops against the
   channel-first reference; logits and every parameter's gradient. */
static ng_tensor *sx_bn(sxcase *c, ng_tensor *x, ng_tensor *const *T, int k) {
    return ng_seq_batch_norm(c->ctx, x, T[3 + 2 * k], T[4 + 2 * k], NULL, NULL, 0.1f, 1e-5f);
}
static ng_tensor *sx_convbn(sxcase *c, ng_tensor *x, ng_tensor *w, ng_tensor *b, ng_tensor *m, ng_tensor *const *T, int k) {
    ng_ctx *ctx = c->ctx;
    return ng_relu(ctx, ng_seq_mask(ctx, sx_bn(c, ng_seq_mask(ctx, ng_conv1d(ctx, x, w, b), m), T, k), m));
}
TEST(torch_seq_chain) {
    static const char *const names[17] = {"emb", "w0", "b0", "g0", "be0", "g1", "be1", "g2", "be2", "g3", "be3",
                                          "g4", "be4", "w1", "b1", "alpha", "wc"};
    sxcase c;
    if (sx_begin(&c, "seq_chain"))
        while (sx_next(&c)) {
            ng_tensor *T[18], *m, *x0, *l[3], *z, *logits;
            ng_ctx *ctx = c.ctx;
            const fx_array *ids = sx_arr(&c, "ids");
            int k;
            /* T: emb, w0, b0, then (gamma, beta) of BN 0..4 at 3..12, w1, b1, alpha, wc, bc */
            for (k = 0; k < 17; k++) T[k] = sx_in(&c, names[k], 1);
            T[17] = sx_in(&c, "bc", 1);
            if (!ids || ids->dtype != FX_I32) continue;
            x0 = ng_embedding(ctx, T[0], ids->i, ids->dims[0], ids->dims[1], -1);
            m = sx_mask(&c, x0);
            x0 = sx_convbn(&c, x0, T[1], T[2], m, T, 0);
            l[0] = ng_seq_mask(ctx, sx_bn(&c, sx_convbn(&c, x0, T[13], T[14], m, T, 1), T, 2), m);
            l[1] = ng_seq_mask(ctx, sx_bn(&c, ng_add(ctx, ng_seq_mask(ctx, ng_seq_max_pool3(ctx, l[0]), m), l[0]), T, 3), m);
            l[2] = ng_seq_mask(ctx, sx_bn(&c, ng_add(ctx, ng_seq_mask(ctx, ng_seq_avg_pool3(ctx, l[1]), m), l[0]), T, 4), m);
            z = ng_mixed(ctx, T[15], 0, l, 3);
            logits = ng_linear(ctx, ng_seq_mean_pool(ctx, z, m), T[16], T[17]);
            if (sx_out(&c, "y", logits, SX_NORM) || sx_backward(&c, logits)) continue;
            for (k = 0; k < 17; k++) sx_grad(&c, names[k], T[k], SX_NORM);
            sx_grad(&c, "bc", T[17], SX_NORM);
        }
    sx_end(&c);
}
