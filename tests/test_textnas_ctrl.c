/* The TextNAS controller (src/textnas_ctrl.h): validity of sampled architectures, the REINFORCE
   gradient against a double-precision hand computation (finite differences and closed forms),
   the sampling distribution, PyTorch's numbers (tests/fixtures/textnas_ctrl.ngfx, written by
   tests/ref/make_textnas_ctrl_fixture.py), learning, checkpoints and bad input. */
#include "test.h"
#include "fixture.h"

static int arch_valid(const ng_textnas_arch *a, int L, int cf) {
    int i;
    if (a->n_layers != L) return 0;
    for (i = 0; i < L; i++) {
        int lo = i - cf < 0 ? 0 : i - cf;
        uint32_t allowed = (uint32_t)((1ull << i) - 1u);
        if (i == 0 ? a->input[0] != -1 : (a->input[i] < lo || a->input[i] > i - 1)) return 0;
        if (a->op[i] < 0 || a->op[i] > 7) return 0;
        if (a->skip[i] & ~allowed) return 0;
    }
    return 1;
}

static int arch_eq(const ng_textnas_arch *a, const ng_textnas_arch *b) {
    int i;
    if (a->n_layers != b->n_layers) return 0;
    for (i = 0; i < a->n_layers; i++)
        if (a->input[i] != b->input[i] || a->op[i] != b->op[i] || a->skip[i] != b->skip[i]) return 0;
    return 1;
}

static ng_status mk_ctrl(ng_textnas_ctrl *c, int S, int L, int cf, uint64_t seed) {
    ng_textnas_ctrl_hp hp;
    ng_textnas_ctrl_hp_default(&hp);
    hp.lstm_size = S;
    hp.n_layers = L;
    hp.choose_from = cf;
    return ng_textnas_ctrl_init(c, &hp, seed);
}

static double reward_first_op(const ng_textnas_arch *a, void *user) {
    (void)user;
    return a->op[0] / 7.0;
}

TEST(textnas_ctrl_defaults) {
    ng_textnas_ctrl c;
    ng_textnas_ctrl_hp hp;
    ng_textnas_ctrl_hp_default(&hp);
    CHECK(hp.lstm_size == 64 && hp.n_layers == 24 && hp.choose_from == 5);
    CHECK(hp.skip_target == 0.4f && hp.skip_weight == 0.8f && hp.entropy_weight == 1e-4);
    CHECK(hp.baseline_decay == 0.99 && hp.lr == 2e-3f && hp.grad_clip == 5.0f);
    CHECK(hp.tanh_constant == 0.0f && hp.temperature == 0.0f);
    CHECK_OK(ng_textnas_ctrl_init(&c, NULL, 1));
    CHECK(strcmp(c.params->name, "ctrl") == 0);
    /* 2 x 256x64 LSTM + 8x64 + 2 x 64x64 + 64 + 64 */
    CHECK(c.params->numel == 2 * 256 * 64 + 8 * 64 + 2 * 64 * 64 + 64 + 64);
    CHECK(c.w_ih->shape.d[0] == 256 && c.w_ih->shape.d[1] == 64 && c.v_attn->shape.d[0] == 1);
    {   /* PyTorch default ranges: U(+-1/8) for everything but g_emb ~ N(0, 0.1) */
        int64_t k;
        double mx = 0.0, ss = 0.0;
        for (k = 0; k < c.params->numel - 64; k++) mx = fmax(mx, fabs((double)c.params->data[k]));
        CHECK(mx <= 0.125 && mx > 0.12);
        for (k = 0; k < 64; k++) ss += (double)c.g_emb->data[k] * c.g_emb->data[k];
        CHECK(sqrt(ss / 64) > 0.06 && sqrt(ss / 64) < 0.14);
    }
    CHECK(c.baseline == 0.0 && c.steps == 0);
    ng_textnas_ctrl_free(&c);
    {   /* the deepest controller's step fits in ng_textnas_ctrl_arena_bytes */
        ng_ctx *ctx;
        ng_rng r;
        int k;
        hp.n_layers = NG_TEXTNAS_MAX_LAYERS;
        ctx = ng_ctx_create(ng_textnas_ctrl_arena_bytes(&hp), 1);
        CHECK_OK(ng_textnas_ctrl_init(&c, &hp, 2));
        ng_rng_seed(&r, 3);
        for (k = 0; k < 3; k++) CHECK_OK(ng_textnas_ctrl_step(&c, ctx, &r, reward_first_op, NULL, NULL));
        CHECK(ctx->arena.peak < ctx->arena.cap);
        ng_textnas_ctrl_free(&c);
        ng_ctx_free(ctx);
    }
}

/* Every sample is valid, for every depth 1..24 (and 32), several seeds; the tape sampler and
   the no-gradient sampler draw the same architecture from the same rng state; at 24 layers
   every op, every input distance and both skip values occur. */
TEST(textnas_ctrl_valid_archs) {
    int L, seed, k, n_bad = 0, n_diff = 0;
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    for (L = 1; L <= 33; L++) {
        int LL = L == 33 ? NG_TEXTNAS_MAX_LAYERS : L;
        if (L > 24 && L < 33) continue;
        for (seed = 0; seed < 3; seed++) {
            ng_textnas_ctrl c;
            ng_rng r1, r2;
            int cf = seed == 2 ? 2 : 5;
            int op_seen[8] = {0}, dist_seen[6] = {0}, skip_on = 0, skip_off = 0;
            if (mk_ctrl(&c, seed == 1 ? 16 : 64, LL, cf, 100 + (uint64_t)seed) != NG_OK) { CHECK(0); continue; }
            ng_rng_seed(&r1, 7 + (uint64_t)seed * 1000 + (uint64_t)L);
            for (k = 0; k < 24; k++) {
                ng_textnas_arch a, b;
                ng_tensor *lp, *ent, *sp;
                int i, j;
                r2 = r1;
                CHECK_OK(ng_textnas_ctrl_sample_arch(&c, &r1, &a));
                ng_ctx_reset(ctx);
                ng_ctx_grad_for(ctx, &c.params, 1);
                CHECK_OK(ng_textnas_ctrl_sample(ctx, &c, &r2, &b, &lp, &ent, &sp));
                if (!arch_valid(&a, LL, cf)) n_bad++;
                if (!arch_eq(&a, &b) || memcmp(&r1, &r2, sizeof r1)) n_diff++;
                CHECK(lp && ent && sp && lp->data[0] >= 0.0f && ent->data[0] >= 0.0f && sp->data[0] >= -1e-6f);
                for (i = 0; i < LL; i++) {
                    op_seen[a.op[i]]++;
                    if (i > 0) dist_seen[i - a.input[i]]++;
                    for (j = 0; j < i; j++) {
                        if ((a.skip[i] >> j) & 1u) skip_on++;
                        else skip_off++;
                    }
                }
            }
            if (LL == 24 && cf == 5) {
                for (k = 0; k < 8; k++) CHECK_MSG(op_seen[k] > 0, "op %d never sampled", k);
                for (k = 1; k <= 5; k++) CHECK_MSG(dist_seen[k] > 0, "input distance %d never sampled", k);
                CHECK(skip_on > 0 && skip_off > 0);
            }
            ng_textnas_ctrl_free(&c);
        }
    }
    CHECK_MSG(n_bad == 0, "%d invalid architectures", n_bad);
    CHECK_MSG(n_diff == 0, "%d samples differ between the tape and the no-gradient sampler", n_diff);
    ng_ctx_free(ctx);
}

/* ---- double-precision hand computation of the controller (teacher-forced) ---- */
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }
static void mv(const double *W, int O, int I, const double *x, double *y) {
    int o, i;
    for (o = 0; o < O; o++) {
        double s = 0.0;
        for (i = 0; i < I; i++) s += W[o * I + i] * x[i];
        y[o] = s;
    }
}
static double shape_logit(const ng_textnas_ctrl_hp *hp, double x) {
    if (hp->temperature > 0.0f) x /= hp->temperature;
    if (hp->tanh_constant > 0.0f) x = hp->tanh_constant * tanh(x);
    return x;
}
/* -log softmax(l)[k] */
static double ce(const double *l, int n, int k) {
    double mx = l[0], z = 0.0;
    int j;
    for (j = 1; j < n; j++) mx = fmax(mx, l[j]);
    for (j = 0; j < n; j++) z += exp(l[j] - mx);
    return mx + log(z) - l[k];
}
#define RS 64
/* log_prob, skip_penalty, entropy of arch under the parameters th (laid out as c's group). */
static void ref_eval(const ng_textnas_ctrl *c, const double *th, const ng_textnas_arch *a, double *lp_o, double *sp_o, double *ent_o) {
    const ng_textnas_ctrl_hp *hp = &c->hp;
    int S = hp->lstm_size, L = hp->n_layers, i, j, k;
    const double *wih = th + c->params->offsets[0], *whh = th + c->params->offsets[1];
    const double *wsoft = th + c->params->offsets[2], *wanc = th + c->params->offsets[3];
    const double *wq = th + c->params->offsets[4], *v = th + c->params->offsets[5], *gemb = th + c->params->offsets[6];
    static double anchors[NG_TEXTNAS_MAX_LAYERS][RS], A[NG_TEXTNAS_MAX_LAYERS][RS];
    double h[RS] = {0}, cc[RS] = {0}, x[RS], hq[RS], g1[4 * RS], g2[4 * RS], l[NG_TEXTNAS_MAX_LAYERS], pair[2];
    double lp = 0.0, sp = 0.0, ent = 0.0, t[2];
    t[0] = 1.0 - hp->skip_target;
    t[1] = hp->skip_target;
    for (k = 0; k < S; k++) x[k] = gemb[k];
    for (i = 0; i < L; i++) {
        double e;
        if (i > 0) {
            int j0 = i - hp->choose_from < 0 ? 0 : i - hp->choose_from;
            mv(wq, S, S, h, hq);
            for (j = j0; j < i; j++) {
                double s = 0.0;
                for (k = 0; k < S; k++) s += v[k] * tanh(A[j][k] + hq[k]);
                l[j - j0] = shape_logit(hp, s);
            }
            e = ce(l, i - j0, a->input[i] - j0);
            lp += e;
            ent += e * exp(-e);
            for (k = 0; k < S; k++) x[k] = anchors[a->input[i]][k];
        }
        mv(wih, 4 * S, S, x, g1);
        mv(whh, 4 * S, S, h, g2);
        for (k = 0; k < S; k++) {
            double ig = sigm(g1[k] + g2[k]), fg = sigm(g1[S + k] + g2[S + k]);
            double gg = tanh(g1[2 * S + k] + g2[2 * S + k]), og = sigm(g1[3 * S + k] + g2[3 * S + k]);
            cc[k] = fg * cc[k] + ig * gg;
            h[k] = og * tanh(cc[k]);
        }
        mv(wsoft, 8, S, h, l);
        for (k = 0; k < 8; k++) l[k] = shape_logit(hp, l[k]);
        e = ce(l, 8, a->op[i]);
        lp += e;
        ent += e * exp(-e);
        if (i > 0) {
            double msum = 0.0, esum = 0.0;
            mv(wq, S, S, h, hq);
            for (j = 0; j < i; j++) {
                double s = 0.0;
                int b, sj = (int)((a->skip[i] >> j) & 1u);
                for (k = 0; k < S; k++) s += v[k] * tanh(A[j][k] + hq[k]);
                s = shape_logit(hp, s);
                pair[0] = -s;
                pair[1] = s;
                e = ce(pair, 2, sj);
                msum += e;
                esum += e * exp(-e);
                for (b = 0; b < 2; b++) sp += sigm(pair[b]) * log(sigm(pair[b]) / t[b]);
            }
            lp += msum / i;
            ent += esum / i;
        }
        for (k = 0; k < S; k++) anchors[i][k] = h[k];
        mv(wanc, S, S, h, A[i]);
    }
    *lp_o = lp;
    if (sp_o) *sp_o = sp;
    if (ent_o) *ent_o = ent;
}

/* Sample on the tape with gradients; loss = log_prob * adv + w_sp * skip_penalty; backward.
   Returns the tape's values and leaves the gradient in c->params->grad. */
static void tape_loss_grad(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *r, ng_textnas_arch *a, float adv, float w_sp,
                           double *lp_v, double *sp_v, double *ent_v) {
    ng_tensor *lp, *ent, *sp, *loss;
    ng_ctx_reset(ctx);
    ng_ctx_grad_for(ctx, &c->params, 1);
    ng_params_zero_grad(c->params);
    CHECK_OK(ng_textnas_ctrl_sample(ctx, c, r, a, &lp, &ent, &sp));
    loss = ng_add(ctx, ng_scale(ctx, lp, adv), ng_scale(ctx, sp, w_sp));
    CHECK(loss != NULL);
    if (!loss) return;
    CHECK_OK(ng_backward(ctx, loss));
    *lp_v = lp->data[0];
    *sp_v = sp->data[0];
    *ent_v = ent->data[0];
}

/* Central differences of adv * lp + w_sp * sp in double; compares with the tape gradient. */
static double fd_compare(ng_textnas_ctrl *c, const ng_textnas_arch *a, double adv, double w_sp, const char *what) {
    int64_t n = c->params->numel, k;
    double *th = (double *)malloc((size_t)n * sizeof(double)), worst = 0.0, gmax = 0.0;
    const double hstep = 1e-6;
    int bad = 0;
    for (k = 0; k < n; k++) th[k] = (double)c->params->data[k];
    for (k = 0; k < n; k++) {
        double lp1, sp1, lp2, sp2, fd, got, tol;
        double keep = th[k];
        th[k] = keep + hstep;
        ref_eval(c, th, a, &lp1, &sp1, NULL);
        th[k] = keep - hstep;
        ref_eval(c, th, a, &lp2, &sp2, NULL);
        th[k] = keep;
        fd = (adv * (lp1 - lp2) + w_sp * (sp1 - sp2)) / (2 * hstep);
        if (k >= c->params->offsets[6]) fd = 0.0;   /* g_emb enters as g_emb.data: no gradient */
        got = (double)c->params->grad[k];
        tol = 2e-5 + 2e-3 * fabs(fd);
        gmax = fmax(gmax, fabs(fd));
        worst = fmax(worst, fabs(got - fd) / tol);
        if (fabs(got - fd) > tol && bad++ < 5) ng_test_fail(__FILE__, __LINE__, "%s: grad[%lld] %.8g vs finite difference %.8g", what, (long long)k, got, fd);
    }
    CHECK_MSG(gmax > 1e-3, "%s: gradient vanishes (max %g)", what, gmax);
    free(th);
    return worst;
}

/* The REINFORCE gradient of sampled decisions against a hand computation. */
TEST(textnas_ctrl_hand_gradient) {
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    const float adv = 0.37f;
    int trial;
    /* (a) one layer: closed form through the LSTM cell (h0 = c0 = 0, x = g_emb). */
    for (trial = 0; trial < 3; trial++) {
        ng_textnas_ctrl c;
        ng_textnas_arch a;
        ng_rng r;
        double lp, sp, ent, lpr, entr, x[8], gates[32], hh[8], l[8], p[8], dh[8], ig[8], gg[8], og[8], cc[8];
        int S = 8, k, j, op;
        double worst = 0.0;
        CHECK_OK(mk_ctrl(&c, S, 1, 5, 40 + (uint64_t)trial));
        for (k = 0; k < c.w_soft->numel; k++) c.w_soft->data[k] *= 6.0f;   /* uneven probabilities */
        for (k = 0; k < S; k++) c.g_emb->data[k] *= 8.0f;
        ng_rng_seed(&r, 5 + (uint64_t)trial);
        tape_loss_grad(ctx, &c, &r, &a, adv, 0.8f, &lp, &sp, &ent);
        op = a.op[0];
        /* by hand */
        for (k = 0; k < S; k++) x[k] = c.g_emb->data[k];
        for (j = 0; j < 4 * S; j++) {
            gates[j] = 0.0;
            for (k = 0; k < S; k++) gates[j] += (double)c.w_ih->data[j * S + k] * x[k];
        }
        for (k = 0; k < S; k++) {
            ig[k] = sigm(gates[k]);
            gg[k] = tanh(gates[2 * S + k]);
            og[k] = sigm(gates[3 * S + k]);
            cc[k] = ig[k] * gg[k];
            hh[k] = og[k] * tanh(cc[k]);
        }
        for (j = 0; j < 8; j++) {
            l[j] = 0.0;
            for (k = 0; k < S; k++) l[j] += (double)c.w_soft->data[j * S + k] * hh[k];
        }
        lpr = ce(l, 8, op);
        for (j = 0; j < 8; j++) p[j] = exp(-ce(l, 8, j));
        entr = p[op] * lpr;
        CHECK_CLOSE(lp, lpr, 1e-6, 1e-5);
        CHECK_CLOSE(ent, entr, 1e-6, 1e-5);
        CHECK(sp == 0.0);
        /* d lp / d logits = p - e_op */
        for (k = 0; k < S; k++) dh[k] = 0.0;
        for (j = 0; j < 8; j++) {
            double dl = p[j] - (j == op);
            for (k = 0; k < S; k++) {
                double want = adv * dl * hh[k], got = c.w_soft->grad[j * S + k];
                worst = fmax(worst, fabs(got - want) / (1e-6 + 1e-4 * fabs(want)));
                dh[k] += dl * c.w_soft->data[j * S + k];
            }
        }
        for (j = 0; j < 4 * S; j++) {
            int kk = j % S, gate = j / S;
            double tc = tanh(cc[kk]), dc = dh[kk] * og[kk] * (1.0 - tc * tc), dpre;
            if (gate == 0) dpre = dc * gg[kk] * ig[kk] * (1.0 - ig[kk]);
            else if (gate == 1) dpre = 0.0;                          /* f multiplies c0 = 0 */
            else if (gate == 2) dpre = dc * ig[kk] * (1.0 - gg[kk] * gg[kk]);
            else dpre = dh[kk] * tc * og[kk] * (1.0 - og[kk]);
            for (k = 0; k < S; k++) {
                double want = adv * dpre * x[k], got = c.w_ih->grad[j * S + k];
                worst = fmax(worst, fabs(got - want) / (1e-6 + 1e-4 * fabs(want)));
            }
        }
        for (k = c.params->offsets[1]; k < c.params->numel; k++)
            if (k < c.params->offsets[2] || k >= c.params->offsets[3]) CHECK(c.params->grad[k] == 0.0f);
        CHECK_MSG(worst <= 1.0, "1 layer: closed-form gradient off by %.3g tolerances", worst);
        worst = fd_compare(&c, &a, adv, 0.8, "1 layer");
        ng_textnas_ctrl_free(&c);
    }
    /* (b) two layers: v's gradient in closed form; (c) 2, 3 and 7 layers against finite
       differences of adv * log_prob + 0.8 * skip_penalty, with and without tanh/temperature. */
    for (trial = 0; trial < 6; trial++) {
        ng_textnas_ctrl c;
        ng_textnas_ctrl_hp hp;
        ng_textnas_arch a;
        ng_rng r;
        double lp, sp, ent, lpr, spr, entr, *th;
        int S = 8, L = trial < 2 ? 2 : trial < 4 ? 3 : 7, k;
        char what[64];
        ng_textnas_ctrl_hp_default(&hp);
        hp.lstm_size = S;
        hp.n_layers = L;
        hp.choose_from = trial == 5 ? 2 : 5;
        if (trial == 5) { hp.tanh_constant = 1.5f; hp.temperature = 2.0f; hp.skip_target = 0.3f; }
        CHECK_OK(ng_textnas_ctrl_init(&c, &hp, 70 + (uint64_t)trial));
        for (k = 0; k < c.params->numel; k++) c.params->data[k] *= 4.0f;
        ng_rng_seed(&r, 9 + (uint64_t)trial);
        tape_loss_grad(ctx, &c, &r, &a, adv, 0.8f, &lp, &sp, &ent);
        th = (double *)malloc((size_t)c.params->numel * sizeof(double));
        for (k = 0; k < c.params->numel; k++) th[k] = c.params->data[k];
        ref_eval(&c, th, &a, &lpr, &spr, &entr);
        CHECK_CLOSE(lp, lpr, 1e-5, 1e-5);
        CHECK_CLOSE(sp, spr, 1e-5, 1e-5);
        CHECK_CLOSE(ent, entr, 1e-6, 1e-5);
        if (L == 2) {
            /* lp's only dependence on v: layer 1's skip decision (the 1-candidate input choice
               has log p = 0). q = v . t, t = tanh(W_anchor h0 + W_query h1); d CE / d q =
               -(p0 - e0) + (p1 - e1) for the pair (-q, q); KL_j = sum_b s(l_b) log(s(l_b)/t_b)
               with dKL/dl = s(1-s)(log(s/t) + 1). */
            double h0[RS], h1[RS], A0[RS], hq[RS], tv[RS], q = 0.0, pr[2], dq, dkl, s0, s1, worst = 0.0;
            double g1[4 * RS], cc[RS], x[RS];
            int sj = (int)(a.skip[1] & 1u), j;
            /* h0 and h1 by hand */
            for (k = 0; k < S; k++) { x[k] = th[c.params->offsets[6] + k]; cc[k] = 0.0; }
            mv(th + c.params->offsets[0], 4 * S, S, x, g1);
            for (k = 0; k < S; k++) {
                cc[k] = sigm(g1[k]) * tanh(g1[2 * S + k]);
                h0[k] = sigm(g1[3 * S + k]) * tanh(cc[k]);
            }
            {
                double g2[4 * RS];
                mv(th + c.params->offsets[0], 4 * S, S, h0, g1);
                mv(th + c.params->offsets[1], 4 * S, S, h0, g2);
                for (k = 0; k < S; k++) {
                    double ig = sigm(g1[k] + g2[k]), fg = sigm(g1[S + k] + g2[S + k]);
                    double gg = tanh(g1[2 * S + k] + g2[2 * S + k]), og = sigm(g1[3 * S + k] + g2[3 * S + k]);
                    double cn = fg * cc[k] + ig * gg;
                    h1[k] = og * tanh(cn);
                }
            }
            mv(th + c.params->offsets[3], S, S, h0, A0);
            mv(th + c.params->offsets[4], S, S, h1, hq);
            for (k = 0; k < S; k++) {
                tv[k] = tanh(A0[k] + hq[k]);
                q += th[c.params->offsets[5] + k] * tv[k];
            }
            pr[0] = sigm(-2.0 * q);
            pr[1] = 1.0 - pr[0];
            dq = -(pr[0] - (sj == 0)) + (pr[1] - (sj == 1));
            s0 = sigm(-q);
            s1 = sigm(q);
            dkl = -s0 * (1.0 - s0) * (log(s0 / 0.6) + 1.0) + s1 * (1.0 - s1) * (log(s1 / 0.4) + 1.0);
            for (j = 0; j < S; j++) {
                double want = (adv * dq + 0.8 * dkl) * tv[j], got = c.v_attn->grad[j];
                worst = fmax(worst, fabs(got - want) / (1e-6 + 1e-4 * fabs(want)));
            }
            CHECK_MSG(worst <= 1.0, "2 layers: closed-form gradient of v off by %.3g tolerances", worst);
        }
        snprintf(what, sizeof what, "%d layers (trial %d)", L, trial);
        fd_compare(&c, &a, adv, 0.8, what);
        free(th);
        ng_textnas_ctrl_free(&c);
    }
    ng_ctx_free(ctx);
}

/* Frequencies of a 1-layer controller's op against softmax(W_soft h) (the probabilities the
   scorer gives for each op), and of a 2-layer controller's skip bit against sigmoid(2q).
   Pearson chi-square with 7 degrees of freedom must stay below 24.32 (the 0.1% tail) and the
   skip frequency within 4 standard errors: a correct sampler fails with probability ~1e-3 per
   seed; the seeds are fixed, so the test is deterministic. */
TEST(textnas_ctrl_distribution) {
    ng_ctx *ctx = ng_ctx_create(1u << 20, 1);
    ng_textnas_ctrl c;
    ng_textnas_arch *archs, a;
    ng_rng r;
    const int N = 20000;
    double p[8], chi2 = 0.0;
    int counts[8] = {0}, k, n1 = 0;
    archs = (ng_textnas_arch *)malloc((size_t)N * sizeof *archs);
    CHECK_OK(mk_ctrl(&c, 16, 1, 5, 3));
    for (k = 0; k < c.w_soft->numel; k++) c.w_soft->data[k] *= 5.0f;
    for (k = 0; k < 16; k++) c.g_emb->data[k] *= 10.0f;
    memset(&a, 0, sizeof a);
    a.n_layers = 1;
    a.input[0] = -1;
    for (k = 0; k < 8; k++) {
        ng_tensor *lp;
        a.op[0] = k;
        ng_ctx_reset(ctx);
        CHECK_OK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL));
        p[k] = exp(-(double)lp->data[0]);
    }
    ng_rng_seed(&r, 2024);
    CHECK_OK(ng_textnas_ctrl_export(&c, &r, N, archs));
    for (k = 0; k < N; k++) counts[archs[k].op[0]]++;
    {
        double pmin = 1.0, psum = 0.0;
        for (k = 0; k < 8; k++) {
            chi2 += (counts[k] - N * p[k]) * (counts[k] - N * p[k]) / (N * p[k]);
            pmin = fmin(pmin, p[k]);
            psum += p[k];
        }
        CHECK_CLOSE(psum, 1.0, 1e-5, 0);
        CHECK_MSG(N * pmin >= 5.0, "expected count %g too small for the chi-square test", N * pmin);
        CHECK_MSG(chi2 < 24.32, "op frequencies: chi-square %.2f (7 dof) >= 24.32", chi2);
    }
    ng_textnas_ctrl_free(&c);
    /* skip of layer 1 (h1 does not depend on op0 in Variant A, so p(skip) is one number) */
    CHECK_OK(mk_ctrl(&c, 16, 2, 5, 4));
    for (k = 0; k < c.params->numel; k++) c.params->data[k] *= 3.0f;
    {
        ng_tensor *lp0, *lp1;
        double ps, z;
        ng_textnas_arch b;
        memset(&b, 0, sizeof b);
        b.n_layers = 2;
        b.input[0] = -1;
        b.input[1] = 0;
        ng_ctx_reset(ctx);
        CHECK_OK(ng_textnas_ctrl_score(ctx, &c, &b, &lp0, NULL, NULL));
        b.skip[1] = 1;
        CHECK_OK(ng_textnas_ctrl_score(ctx, &c, &b, &lp1, NULL, NULL));
        /* the two scores differ only in the skip term: p1 / p0 = exp(lp0 - lp1) */
        ps = 1.0 / (1.0 + exp((double)lp1->data[0] - (double)lp0->data[0]));
        CHECK(ps > 0.05 && ps < 0.95);
        ng_rng_seed(&r, 77);
        CHECK_OK(ng_textnas_ctrl_export(&c, &r, N, archs));
        for (k = 0; k < N; k++) n1 += (int)(archs[k].skip[1] & 1u);
        z = (n1 - N * ps) / sqrt(N * ps * (1.0 - ps));
        CHECK_MSG(fabs(z) < 4.0, "skip frequency %d / %d vs p %.4f: z = %.2f", n1, N, ps, z);
    }
    ng_textnas_ctrl_free(&c);
    free(archs);
    ng_ctx_free(ctx);
}

/* ---- PyTorch fixture ---- */
/* Fixture tolerances (float32 engine against float64 PyTorch): values atol 2e-5 + rtol 2e-5,
   gradients atol 2e-5 + rtol 1e-3, trajectory weight changes atol 1e-6 + rtol 1e-3 (must match
   TRAJ_ATOL/TRAJ_RTOL in the generator, which checks PyTorch's own float32 run against it). */
#define FXV_ATOL 2e-5
#define FXV_RTOL 2e-5
#define FXG_ATOL 2e-5
#define FXG_RTOL 1e-3
#define TRAJ_ATOL 1e-6
#define TRAJ_RTOL 1e-3

static const fx_array *fxa(const fx_file *f, const char *cs, const char *field) {
    char key[256];
    const fx_array *a;
    snprintf(key, sizeof key, "%s/%s", cs, field);
    a = fx_find(f, key);
    if (!a) ng_test_fail(__FILE__, __LINE__, "fixture: %s missing", key);
    return a;
}

static void fx_arch(const fx_array *in, const fx_array *op, const fx_array *sk, int idx, int L, ng_textnas_arch *a) {
    int i, j;
    memset(a, 0, sizeof *a);
    a->n_layers = L;
    for (i = 0; i < L; i++) {
        a->input[i] = in->i[idx * L + i];
        a->op[i] = op->i[idx * L + i];
        for (j = 0; j < L; j++)
            if (sk->i[(size_t)idx * L * L + (size_t)i * L + j]) a->skip[i] |= 1u << j;
    }
}

static int fx_load_params(const fx_file *f, const char *cs, const char *prefix, ng_params *g) {
    int t;
    for (t = 0; t < g->n; t++) {
        char field[200];
        const fx_array *a;
        snprintf(field, sizeof field, "%s/%s", prefix, g->tensors[t]->name);
        a = fxa(f, cs, field);
        if (!a || a->n != g->tensors[t]->numel) return 0;
        memcpy(g->tensors[t]->data, a->f, (size_t)a->n * sizeof(float));
    }
    return 1;
}

static double cmp_grads(const fx_file *f, const char *cs, const char *prefix, const ng_params *g, double atol, double rtol) {
    int t;
    double worst = 0.0;
    for (t = 0; t < g->n; t++) {
        char field[200];
        const fx_array *a;
        int64_t k;
        int bad = 0;
        snprintf(field, sizeof field, "%s/%s", prefix, g->tensors[t]->name);
        a = fxa(f, cs, field);
        if (!a || a->n != g->tensors[t]->numel) { CHECK(0); continue; }
        for (k = 0; k < a->n; k++) {
            double got = g->tensors[t]->grad[k], want = a->f[k], tol = atol + rtol * fabs(want);
            worst = fmax(worst, fabs(got - want) / tol);
            if (fabs(got - want) > tol && bad++ < 3)
                ng_test_fail(__FILE__, __LINE__, "%s %s[%lld]: %.8g vs torch %.8g", cs, field, (long long)k, got, want);
        }
    }
    return worst;
}

TEST(textnas_ctrl_torch_fixture) {
    static const char *cases[] = {"L1", "L2", "L7", "L24", "L9_cf2_tanh_temp"};
    fx_file *f = fx_open("textnas_ctrl");
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    double worst_v = 0.0, worst_g = 0.0, worst_t = 0.0;
    size_t ci;
    if (!f) { ng_test_fail(__FILE__, __LINE__, "%s", ng_last_error()); ng_ctx_free(ctx); return; }
    for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const char *cs = cases[ci];
        const fx_array *cfg = fxa(f, cs, "cfg"), *hy = fxa(f, cs, "hyper");
        const fx_array *vl = fxa(f, cs, "log_prob"), *ve = fxa(f, cs, "entropy"), *vs = fxa(f, cs, "skip_penalty");
        ng_textnas_ctrl_hp hp;
        ng_textnas_ctrl c;
        ng_textnas_arch a;
        ng_tensor *lp, *ent, *sp;
        if (!cfg || !hy || !vl || !ve || !vs) continue;
        ng_textnas_ctrl_hp_default(&hp);
        hp.lstm_size = cfg->i[0];
        hp.n_layers = cfg->i[1];
        hp.choose_from = cfg->i[2];
        hp.skip_target = hy->f[0];
        hp.tanh_constant = hy->f[1];
        hp.temperature = hy->f[2];
        CHECK_OK(ng_textnas_ctrl_init(&c, &hp, 1));
        if (!fx_load_params(f, cs, "p", c.params)) { ng_textnas_ctrl_free(&c); continue; }
        fx_arch(fxa(f, cs, "input"), fxa(f, cs, "op"), fxa(f, cs, "skip"), 0, hp.n_layers, &a);
        /* log_prob and its gradient */
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &c.params, 1);
        ng_params_zero_grad(c.params);
        CHECK_OK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, &ent, &sp));
        if (!lp) { ng_textnas_ctrl_free(&c); continue; }
        CHECK_CLOSE(lp->data[0], vl->f[0], FXV_ATOL, FXV_RTOL);
        CHECK_CLOSE(ent->data[0], ve->f[0], FXV_ATOL, FXV_RTOL);
        CHECK_CLOSE(sp->data[0], vs->f[0], FXV_ATOL, FXV_RTOL);
        worst_v = fmax(worst_v, fabs(lp->data[0] - vl->f[0]) / (FXV_ATOL + FXV_RTOL * fabs(vl->f[0])));
        worst_v = fmax(worst_v, fabs(ent->data[0] - ve->f[0]) / (FXV_ATOL + FXV_RTOL * fabs(ve->f[0])));
        worst_v = fmax(worst_v, fabs(sp->data[0] - vs->f[0]) / (FXV_ATOL + FXV_RTOL * fabs(vs->f[0])));
        CHECK_OK(ng_backward(ctx, lp));
        worst_g = fmax(worst_g, cmp_grads(f, cs, "glp", c.params, FXG_ATOL, FXG_RTOL));
        /* skip_penalty's gradient */
        ng_params_zero_grad(c.params);
        if (sp->requires_grad || ctx->n_nodes > 0) {
            ng_ctx_reset(ctx);
            ng_ctx_grad_for(ctx, &c.params, 1);
            CHECK_OK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, &ent, &sp));
            if (hp.n_layers > 1) CHECK_OK(ng_backward(ctx, sp));
        }
        worst_g = fmax(worst_g, cmp_grads(f, cs, "gsp", c.params, FXG_ATOL, FXG_RTOL));
        ng_textnas_ctrl_free(&c);
    }
    {   /* 3 REINFORCE steps: baseline before the loss, clip 5, Adam 2e-3 */
        const fx_array *cfg = fxa(f, "traj", "cfg"), *rw = fxa(f, "traj", "reward"), *bl = fxa(f, "traj", "baseline");
        ng_textnas_ctrl_hp hp;
        ng_textnas_ctrl c;
        int s, t;
        if (cfg && rw && bl) {
            ng_textnas_ctrl_hp_default(&hp);
            hp.lstm_size = cfg->i[0];
            hp.n_layers = cfg->i[1];
            hp.choose_from = cfg->i[2];
            CHECK_OK(ng_textnas_ctrl_init(&c, &hp, 1));
            if (fx_load_params(f, "traj", "p", c.params)) {
                ng_params *before = ng_params_create("before", 0);
                for (t = 0; t < c.params->n; t++) ng_params_add(before, c.params->tensors[t]->name, c.params->tensors[t]->shape);
                CHECK_OK(ng_params_alloc(before));
                CHECK_OK(ng_params_copy(before, c.params));
                for (s = 0; s < 3; s++) {
                    ng_textnas_arch a;
                    fx_arch(fxa(f, "traj", "input"), fxa(f, "traj", "op"), fxa(f, "traj", "skip"), s, hp.n_layers, &a);
                    CHECK_OK(ng_textnas_ctrl_step_arch(&c, ctx, &a, (double)rw->f[s]));
                    CHECK_CLOSE(c.baseline, bl->f[s], 1e-7, 1e-6);
                }
                CHECK(c.steps == 3 && c.adam.t == 3);
                for (t = 0; t < c.params->n; t++) {
                    char field[200];
                    const fx_array *a;
                    int64_t k;
                    int bad = 0;
                    snprintf(field, sizeof field, "after/%s", c.params->tensors[t]->name);
                    a = fxa(f, "traj", field);
                    if (!a) continue;
                    for (k = 0; k < a->n; k++) {
                        double d0 = before->tensors[t]->data[k];
                        double got = c.params->tensors[t]->data[k] - d0, want = (double)a->f[k] - d0;
                        double tol = TRAJ_ATOL + TRAJ_RTOL * fabs(want);
                        worst_t = fmax(worst_t, fabs(got - want) / tol);
                        if (fabs(got - want) > tol && bad++ < 3)
                            ng_test_fail(__FILE__, __LINE__, "traj %s[%lld]: change %.8g vs torch %.8g", field, (long long)k, got, want);
                    }
                }
                ng_params_free(before);
            }
            ng_textnas_ctrl_free(&c);
        }
    }
    if (getenv("NG_SEQ_TOL_REPORT"))
        printf("  textnas_ctrl: worst error / tolerance: values %.3g, gradients %.3g, trajectory %.3g\n", worst_v, worst_g, worst_t);
    fx_free(f);
    ng_ctx_free(ctx);
}

/* ---- learning ---- */
static double reward_op3(const ng_textnas_arch *a, void *user) {
    int i, n = 0;
    (void)user;
    for (i = 0; i < a->n_layers; i++) n += a->op[i] == 3;
    return (double)n / a->n_layers;
}

/* reward = fraction of layers whose op is 3 (conv k=7): 300 default-setting steps (fixed seeds)
   raise the mean reward from ~1/8 clearly. */
TEST(textnas_ctrl_learns) {
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    ng_textnas_ctrl c;
    ng_rng r;
    double first = 0.0, last = 0.0;
    int s;
    const int steps = 300, win = 40;
    CHECK_OK(ng_textnas_ctrl_init(&c, NULL, 11));
    ng_rng_seed(&r, 12);
    for (s = 0; s < steps; s++) {
        CHECK_OK(ng_textnas_ctrl_step(&c, ctx, &r, reward_op3, NULL, NULL));
        if (s < win) first += c.last.reward / win;
        if (s >= steps - win) last += c.last.reward / win;
    }
    if (getenv("NG_SEQ_TOL_REPORT")) printf("  textnas_ctrl learns: mean reward first %d steps %.3f, last %d steps %.3f, baseline %.3f\n", win, first, win, last, c.baseline);
    CHECK_MSG(first < 0.25, "initial mean reward %.3f", first);
    CHECK_MSG(last > first + 0.3, "mean reward rose only from %.3f to %.3f", first, last);
    CHECK(c.steps == steps && c.baseline > 0.2);
    ng_textnas_ctrl_free(&c);
    ng_ctx_free(ctx);
}

/* ---- checkpoints ---- */
static double reward_mix(const ng_textnas_arch *a, void *user) {
    int i, n = 0;
    (void)user;
    for (i = 0; i < a->n_layers; i++) n += (a->op[i] == 1) + (int)(a->skip[i] != 0);
    return (double)n / (2 * a->n_layers);
}

TEST(textnas_ctrl_checkpoint_resume) {
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    ng_textnas_ctrl a, b;
    ng_textnas_arch x[10], y[10];
    ng_rng r, rb;
    ng_ckpt *ck = ng_ckpt_new(), *in = NULL;
    char path[512];
    int s;
    snprintf(path, sizeof path, "%s/textnas_ctrl.ckpt", ng_test_tmpdir());
    CHECK_OK(mk_ctrl(&a, 32, 12, 5, 21));
    ng_rng_seed(&r, 22);
    for (s = 0; s < 10; s++) CHECK_OK(ng_textnas_ctrl_step(&a, ctx, &r, reward_mix, NULL, NULL));
    CHECK_OK(ng_textnas_ctrl_put(ck, "ctrl", &a));
    CHECK_OK(ng_ckpt_put_rng(ck, "ctrl.rng", &r));
    CHECK_OK(ng_ckpt_save(ck, path));
    for (s = 0; s < 10; s++) CHECK_OK(ng_textnas_ctrl_step(&a, ctx, &r, reward_mix, NULL, &x[s]));
    /* resume into a controller initialised from another seed */
    CHECK_OK(mk_ctrl(&b, 32, 12, 5, 999));
    CHECK_OK(ng_ckpt_load(path, &in));
    if (in) {
        CHECK_OK(ng_textnas_ctrl_get(in, "ctrl", &b));
        CHECK_OK(ng_ckpt_get_rng(in, "ctrl.rng", &rb));
        CHECK(b.steps == 10 && b.adam.t == 10);
        for (s = 0; s < 10; s++) CHECK_OK(ng_textnas_ctrl_step(&b, ctx, &rb, reward_mix, NULL, &y[s]));
        for (s = 0; s < 10; s++) CHECK_MSG(arch_eq(&x[s], &y[s]), "step %d: different architecture after resume", s);
        CHECK(memcmp(a.params->data, b.params->data, (size_t)a.params->numel * sizeof(float)) == 0);
        CHECK(memcmp(a.adam.m, b.adam.m, (size_t)a.params->numel * sizeof(float)) == 0);
        CHECK(memcmp(a.adam.v, b.adam.v, (size_t)a.params->numel * sizeof(float)) == 0);
        CHECK(memcmp(&a.baseline, &b.baseline, sizeof a.baseline) == 0);
        CHECK(a.steps == b.steps && memcmp(&r, &rb, sizeof r) == 0);
        /* a missing record changes nothing */
        {
            ng_textnas_ctrl d;
            float keep;
            CHECK_OK(mk_ctrl(&d, 32, 12, 5, 5));
            keep = d.params->data[0];
            CHECK(ng_textnas_ctrl_get(in, "other", &d) != NG_OK);
            CHECK(strstr(ng_last_error(), "other") != NULL);
            CHECK(d.params->data[0] == keep && d.steps == 0 && d.baseline == 0.0);
            ng_textnas_ctrl_free(&d);
            /* a different lstm size is refused, unchanged */
            CHECK_OK(mk_ctrl(&d, 16, 12, 5, 5));
            keep = d.params->data[0];
            CHECK(ng_textnas_ctrl_get(in, "ctrl", &d) == NG_ERR_MISMATCH);
            CHECK(d.params->data[0] == keep && d.steps == 0 && d.adam.t == 0);
            ng_textnas_ctrl_free(&d);
        }
    }
    ng_ckpt_free(in);
    ng_ckpt_free(ck);
    ng_textnas_ctrl_free(&a);
    ng_textnas_ctrl_free(&b);
    ng_ctx_free(ctx);
}

/* ---- bad input ---- */
static double reward_nan(const ng_textnas_arch *a, void *user) {
    (void)a; (void)user;
    return NAN;
}

TEST(textnas_ctrl_errors) {
    ng_textnas_ctrl_hp hp;
    ng_textnas_ctrl c;
    ng_textnas_arch a;
    ng_ctx *ctx = ng_ctx_create(1u << 20, 1), *tiny = ng_ctx_create(4096, 1);
    ng_tensor *lp;
    ng_rng r;
    float keep;
    ng_textnas_ctrl_hp_default(&hp);
    hp.n_layers = 0;
    CHECK(ng_textnas_ctrl_init(&c, &hp, 1) == NG_ERR_ARG && strstr(ng_last_error(), "n_layers"));
    ng_textnas_ctrl_hp_default(&hp);
    hp.n_layers = NG_TEXTNAS_MAX_LAYERS + 1;
    CHECK(ng_textnas_ctrl_hp_check(&hp) == NG_ERR_ARG);
    ng_textnas_ctrl_hp_default(&hp);
    hp.skip_target = 1.0f;
    CHECK(ng_textnas_ctrl_hp_check(&hp) == NG_ERR_ARG && strstr(ng_last_error(), "skip_target"));
    ng_textnas_ctrl_hp_default(&hp);
    hp.lstm_size = -3;
    CHECK(ng_textnas_ctrl_hp_check(&hp) == NG_ERR_ARG && strstr(ng_last_error(), "lstm_size"));
    ng_textnas_ctrl_hp_default(&hp);
    hp.temperature = NAN;
    CHECK(ng_textnas_ctrl_hp_check(&hp) == NG_ERR_ARG);

    CHECK_OK(mk_ctrl(&c, 16, 6, 5, 1));
    ng_rng_seed(&r, 3);
    CHECK_OK(ng_textnas_ctrl_sample_arch(&c, &r, &a));
    a.n_layers = 5;
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "layers"));
    a.n_layers = 6;
    a.input[3] = 3;
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "layer 3"));
    a.input[3] = 2;
    a.op[4] = 8;
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "op 8"));
    a.op[4] = 0;
    a.skip[2] = 1u << 2;
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "skip"));
    a.skip[2] = 0;
    a.input[0] = 0;
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG);
    CHECK(ng_textnas_ctrl_export(&c, &r, -1, &a) == NG_ERR_ARG);
    CHECK_OK(ng_textnas_ctrl_export(&c, &r, 0, NULL));
    /* a non-finite reward: nothing changes */
    keep = c.params->data[5];
    CHECK(ng_textnas_ctrl_step(&c, ctx, &r, reward_nan, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "reward"));
    CHECK(c.params->data[5] == keep && c.steps == 0 && c.baseline == 0.0 && c.adam.t == 0);
    CHECK(ng_textnas_ctrl_step(&c, ctx, &r, NULL, NULL, NULL) == NG_ERR_ARG);
    /* an arena too small: an error naming the arena, no crash */
    ng_ctx_reset(tiny);
    CHECK(ng_textnas_ctrl_step(&c, tiny, &r, reward_op3, NULL, NULL) == NG_ERR_NOMEM && strstr(ng_last_error(), "arena"));
    CHECK(c.steps == 0);
    /* bad checkpoint prefix */
    {
        ng_ckpt *ck = ng_ckpt_new();
        char longp[400];
        memset(longp, 'x', sizeof longp - 1);
        longp[sizeof longp - 1] = '\0';
        CHECK(ng_textnas_ctrl_put(ck, longp, &c) == NG_ERR_ARG);
        CHECK(ng_textnas_ctrl_put(ck, NULL, &c) == NG_ERR_ARG);
        ng_ckpt_free(ck);
    }
    ng_textnas_ctrl_free(&c);
    ng_ctx_free(ctx);
    ng_ctx_free(tiny);
}

/* An op mask: the controller samples only those ops (log-probabilities stay finite), and
   teacher forcing an architecture with another op is refused. */
TEST(textnas_ctrl_op_mask) {
    ng_textnas_ctrl_hp hp;
    ng_textnas_ctrl c;
    ng_ctx *ctx = ng_ctx_create(4u << 20, 1);
    ng_rng r;
    ng_textnas_arch a;
    ng_tensor *lp = NULL, *ent = NULL, *sp = NULL;
    int k, i, seen[8] = {0};
    ng_textnas_ctrl_hp_default(&hp);
    hp.lstm_size = 16;
    hp.n_layers = 12;
    hp.op_mask = (1u << NG_TEXTNAS_CONV3) | (1u << NG_TEXTNAS_ATTENTION);
    CHECK_OK(ng_textnas_ctrl_init(&c, &hp, 3));
    ng_rng_seed(&r, 4);
    for (k = 0; k < 20; k++) {
        ng_ctx_reset(ctx);
        ng_ctx_grad_for(ctx, &c.params, 1);
        CHECK_OK(ng_textnas_ctrl_sample(ctx, &c, &r, &a, &lp, &ent, &sp));
        CHECK(lp && isfinite(lp->data[0]) && ent && isfinite(ent->data[0]));
        for (i = 0; i < a.n_layers; i++) seen[a.op[i]]++;
    }
    for (k = 0; k < 8; k++) CHECK_MSG((seen[k] > 0) == (k == NG_TEXTNAS_CONV3 || k == NG_TEXTNAS_ATTENTION), "op %d seen %d times", k, seen[k]);
    a.op[5] = NG_TEXTNAS_MAX_POOL;
    ng_ctx_reset(ctx);
    CHECK(ng_textnas_ctrl_score(ctx, &c, &a, &lp, NULL, NULL) == NG_ERR_ARG && strstr(ng_last_error(), "max_pool"));
    ng_textnas_ctrl_free(&c);
    ng_ctx_free(ctx);
}
