/* ======================================================================================== */
/* @@TEXTNAS_CTRL                                                                           */
/* ======================================================================================== */

void ng_textnas_ctrl_hp_default(ng_textnas_ctrl_hp *hp) {
    memset(hp, 0, sizeof *hp);
    hp->lstm_size = 64;
    hp->n_layers = 24;
    hp->choose_from = NG_TEXTNAS_CHOOSE_FROM;
    hp->skip_target = 0.4f;
    hp->skip_weight = 0.8f;
    hp->entropy_weight = 1e-4;
    hp->baseline_decay = 0.99;
    hp->lr = 2e-3f;
    hp->beta1 = 0.9f;
    hp->beta2 = 0.999f;
    hp->eps = 1e-8f;
    hp->weight_decay = 0.0f;
    hp->grad_clip = 5.0f;
    hp->tanh_constant = 0.0f;
    hp->temperature = 0.0f;
}

ng_status ng_textnas_ctrl_hp_check(const ng_textnas_ctrl_hp *hp) {
    if (!hp) return ng_fail(NG_ERR_ARG, "textnas controller: hyper-parameters are NULL");
    if (hp->lstm_size < 1 || hp->lstm_size > NG_TEXTNAS_CTRL_MAX_LSTM)
        return ng_fail(NG_ERR_ARG, "textnas controller: lstm_size %d out of [1, %d]", hp->lstm_size, NG_TEXTNAS_CTRL_MAX_LSTM);
    if (hp->n_layers < 1 || hp->n_layers > NG_TEXTNAS_MAX_LAYERS)
        return ng_fail(NG_ERR_ARG, "textnas controller: n_layers %d out of [1, %d]", hp->n_layers, NG_TEXTNAS_MAX_LAYERS);
    if (hp->choose_from < 1 || hp->choose_from > NG_TEXTNAS_MAX_LAYERS)
        return ng_fail(NG_ERR_ARG, "textnas controller: choose_from %d out of [1, %d]", hp->choose_from, NG_TEXTNAS_MAX_LAYERS);
    if (!(hp->skip_target > 0.0f && hp->skip_target < 1.0f))
        return ng_fail(NG_ERR_ARG, "textnas controller: skip_target %g is not in (0, 1)", (double)hp->skip_target);
    if (!(hp->skip_weight >= 0.0f && hp->skip_weight < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: skip_weight %g is not a finite value >= 0", (double)hp->skip_weight);
    if (!(hp->entropy_weight >= 0.0 && hp->entropy_weight < 1e30))
        return ng_fail(NG_ERR_ARG, "textnas controller: entropy_weight %g is not a finite value >= 0", hp->entropy_weight);
    if (!(hp->baseline_decay >= 0.0 && hp->baseline_decay <= 1.0))
        return ng_fail(NG_ERR_ARG, "textnas controller: baseline_decay %g is not in [0, 1]", hp->baseline_decay);
    if (!(hp->grad_clip < 1e30f) || hp->grad_clip != hp->grad_clip)
        return ng_fail(NG_ERR_ARG, "textnas controller: grad_clip %g is not finite", (double)hp->grad_clip);
    if (!(hp->tanh_constant >= 0.0f && hp->tanh_constant < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: tanh_constant %g is not a finite value >= 0 (0 = none)", (double)hp->tanh_constant);
    if (!(hp->temperature >= 0.0f && hp->temperature < 1e30f))
        return ng_fail(NG_ERR_ARG, "textnas controller: temperature %g is not a finite value >= 0 (0 = none)", (double)hp->temperature);
    if (hp->op_mask >> NG_TEXTNAS_N_OPS)
        return ng_fail(NG_ERR_ARG, "textnas controller: op_mask 0x%x names ops beyond the %d", (unsigned)hp->op_mask, NG_TEXTNAS_N_OPS);
    return NG_OK;
}

size_t ng_textnas_ctrl_arena_bytes(const ng_textnas_ctrl_hp *hp) {
    /* measured peaks (sample with gradient + backward): 1.24 MB at 24 layers, lstm 64; 0.56 MB
       at 32 layers, lstm 1; 11.9 MB at 32 layers, lstm 512: this bound is 1.5-3x those */
    size_t S = (size_t)hp->lstm_size, L = (size_t)hp->n_layers;
    return (size_t)65536 + L * (24576 + 512 * L) + L * S * (128 + 8 * L) * sizeof(float);
}

void ng_textnas_ctrl_free(ng_textnas_ctrl *c) {
    if (!c) return;
    ng_adam_free(&c->adam);
    ng_params_free(c->params);
    ng_ctx_free(c->nograd);
    memset(c, 0, sizeof *c);
}

ng_status ng_textnas_ctrl_init(ng_textnas_ctrl *c, const ng_textnas_ctrl_hp *hp, uint64_t seed) {
    ng_status s;
    ng_rng r;
    int64_t S;
    float bound;
    memset(c, 0, sizeof *c);
    if (hp) c->hp = *hp;
    else ng_textnas_ctrl_hp_default(&c->hp);
    if ((s = ng_textnas_ctrl_hp_check(&c->hp)) != NG_OK) return s;
    S = c->hp.lstm_size;
    c->params = ng_params_create("ctrl", 1);
    if (!c->params) return NG_ERR_NOMEM;
    c->w_ih = ng_params_add(c->params, "lstm.weight_ih", ng_shape2(4 * S, S));
    c->w_hh = ng_params_add(c->params, "lstm.weight_hh", ng_shape2(4 * S, S));
    c->w_soft = ng_params_add(c->params, "soft.weight", ng_shape2(NG_TEXTNAS_N_OPS, S));
    c->w_anchor = ng_params_add(c->params, "attn_anchor.weight", ng_shape2(S, S));
    c->w_query = ng_params_add(c->params, "attn_query.weight", ng_shape2(S, S));
    c->v_attn = ng_params_add(c->params, "v_attn.weight", ng_shape2(1, S));
    c->g_emb = ng_params_add(c->params, "g_emb", ng_shape2(1, S));
    if (!c->g_emb || (s = ng_params_alloc(c->params)) != NG_OK) {
        s = c->g_emb ? s : NG_ERR_NOMEM;
        ng_textnas_ctrl_free(c);
        return s;
    }
    /* PyTorch defaults: LSTMCell U(+-1/sqrt(hidden)); Linear kaiming_uniform(a = sqrt(5)) =
       U(+-1/sqrt(fan_in)); g_emb = randn * 0.1. */
    ng_rng_seed(&r, seed);
    bound = (float)(1.0 / sqrt((double)S));
    ng_init_uniform(c->w_ih, -bound, bound, &r);
    ng_init_uniform(c->w_hh, -bound, bound, &r);
    ng_init_kaiming_uniform_default(c->w_soft, &r);
    ng_init_kaiming_uniform_default(c->w_anchor, &r);
    ng_init_kaiming_uniform_default(c->w_query, &r);
    ng_init_kaiming_uniform_default(c->v_attn, &r);
    ng_init_normal(c->g_emb, 0.0f, 0.1f, &r);
    if ((s = ng_adam_init(&c->adam, c->params, c->hp.lr, c->hp.beta1, c->hp.beta2, c->hp.eps, c->hp.weight_decay)) != NG_OK) {
        ng_textnas_ctrl_free(c);
        return s;
    }
    c->nograd = ng_ctx_create(ng_textnas_ctrl_arena_bytes(&c->hp) / 2, seed); /* forward only */
    if (!c->nograd) { ng_textnas_ctrl_free(c); return NG_ERR_NOMEM; }
    c->nograd->no_grad = 1;
    c->baseline = 0.0;
    c->steps = 0;
    return NG_OK;
}

/* ---- the sampler ---- */

static ng_shape ng__tc_scalar(void) {
    ng_shape s = ng_shape1(1);
    s.ndim = 0;
    return s;
}

/* Draw from softmax(logits) (computed in double): the first index whose cumulative
   probability exceeds u ~ U[0, 1). p[] receives the probabilities. */
static int ng__tc_draw(ng_rng *rng, const float *logits, int n, int stride, double *p) {
    double mx = -HUGE_VAL, z = 0.0, acc = 0.0, u;
    int k, last = 0;
    for (k = 0; k < n; k++)
        if ((double)logits[k * stride] > mx) mx = (double)logits[k * stride];
    for (k = 0; k < n; k++) z += (p[k] = exp((double)logits[k * stride] - mx));
    for (k = 0; k < n; k++) {
        p[k] /= z;
        if (p[k] > 0.0) last = k;
    }
    u = ng_rng_uniform(rng);
    for (k = 0; k < n; k++) {
        acc += p[k];
        if (u < acc && p[k] > 0.0) return k;
    }
    return last;
}

/* Probabilities only (teacher forcing). */
static void ng__tc_probs(const float *logits, int n, int stride, double *p) {
    double mx = -HUGE_VAL, z = 0.0;
    int k;
    for (k = 0; k < n; k++)
        if ((double)logits[k * stride] > mx) mx = (double)logits[k * stride];
    for (k = 0; k < n; k++) z += (p[k] = exp((double)logits[k * stride] - mx));
    for (k = 0; k < n; k++) p[k] /= z;
}

/* temperature, then tanh constant (NNI's order) */
static ng_tensor *ng__tc_shape_logits(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *x) {
    if (c->hp.temperature > 0.0f) x = ng_scale(ctx, x, (float)(1.0 / (double)c->hp.temperature));
    if (c->hp.tanh_constant > 0.0f) x = ng_scale(ctx, ng_tanh(ctx, x), c->hp.tanh_constant);
    return x;
}

/* The op logits (1, 8) with the ops outside hp.op_mask pushed to -1e30 (unchanged when every
   op is allowed, so the unrestricted controller stays NNI's bit for bit). */
static ng_tensor *ng__tc_mask_ops(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *logits) {
    float bias[NG_TEXTNAS_N_OPS];
    uint32_t all = (1u << NG_TEXTNAS_N_OPS) - 1, mask = c->hp.op_mask & all;
    int k;
    if (!logits || mask == 0 || mask == all) return logits;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++) bias[k] = (mask >> k) & 1u ? 0.0f : -1e30f;
    return ng_add(ctx, logits, ng_tensor_from(ctx, ng_shape2(1, NG_TEXTNAS_N_OPS), bias));
}

/* torch.nn.LSTMCell without bias, gate order i, f, g, o. */
static void ng__tc_lstm(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *x, ng_tensor **h, ng_tensor **cell) {
    int64_t S = c->hp.lstm_size;
    ng_tensor *gates = ng_add(ctx, ng_linear(ctx, x, c->w_ih, NULL), ng_linear(ctx, *h, c->w_hh, NULL));
    ng_tensor *ig = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, 0, S));
    ng_tensor *fg = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, S, S));
    ng_tensor *gg = ng_tanh(ctx, ng_slice(ctx, gates, 1, 2 * S, S));
    ng_tensor *og = ng_sigmoid(ctx, ng_slice(ctx, gates, 1, 3 * S, S));
    ng_tensor *cn = ng_add(ctx, ng_mul(ctx, fg, *cell), ng_mul(ctx, ig, gg));
    *h = ng_mul(ctx, og, ng_tanh(ctx, cn));
    *cell = cn;
}

/* v . tanh(A_j + W_query h) for the anchors j0 .. j1 - 1: (n, 1) */
static ng_tensor *ng__tc_attn(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor **A, int j0, int j1, ng_tensor *hq) {
    ng_tensor *stack = j1 - j0 == 1 ? A[j0] : ng_concat(ctx, A + j0, j1 - j0, 0);
    ng_tensor *t = ng_tanh(ctx, ng_add(ctx, stack, hq));
    return ng__tc_shape_logits(ctx, c, ng_linear(ctx, t, c->v_attn, NULL));
}

/* sum over the (i, 2) logits of sigmoid(l) (log sigmoid(l) - log t_b); log sigmoid(l) is the
   second column of log_softmax([0, l]). */
static ng_tensor *ng__tc_skip_kl(ng_ctx *ctx, const ng_textnas_ctrl *c, ng_tensor *logit, int n) {
    ng_tensor *l2 = ng_reshape(ctx, logit, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *z = ng_tensor_zeros(ctx, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *lt = ng_tensor_new(ctx, ng_shape2(2 * (int64_t)n, 1));
    ng_tensor *pair[2], *logsig, *sig;
    /* the targets as PyTorch's float32 tensor [1 - skip_target, skip_target] */
    float t0 = (float)(1.0 - (double)c->hp.skip_target), t1 = c->hp.skip_target;
    int j;
    if (!l2 || !z || !lt) return NULL;
    for (j = 0; j < n; j++) {
        lt->data[2 * j] = (float)log((double)t0);
        lt->data[2 * j + 1] = (float)log((double)t1);
    }
    pair[0] = z;
    pair[1] = l2;
    logsig = ng_slice(ctx, ng_log_softmax(ctx, ng_concat(ctx, pair, 2, 1), 1), 1, 1, 1);
    sig = ng_sigmoid(ctx, l2);
    return ng_sum(ctx, ng_mul(ctx, sig, ng_sub(ctx, logsig, lt)), NG_ALL_AXES, 0);
}

static ng_status ng__tc_check_arch(const ng_textnas_ctrl *c, const ng_textnas_arch *a) {
    int i, L = c->hp.n_layers;
    if (a->n_layers != L)
        return ng_fail(NG_ERR_ARG, "textnas controller: architecture has %d layers, the controller %d", a->n_layers, L);
    for (i = 0; i < L; i++) {
        int lo = i - c->hp.choose_from < 0 ? 0 : i - c->hp.choose_from;
        uint32_t allowed = i >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << i) - 1u);
        if (i == 0 ? a->input[0] != -1 : (a->input[i] < lo || a->input[i] > i - 1))
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: input %d is not %s", i, a->input[i],
                           i == 0 ? "-1" : "a candidate (one of the last choose_from layers)");
        if (a->op[i] < 0 || a->op[i] >= NG_TEXTNAS_N_OPS)
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: op %d is not in [0, %d)", i, a->op[i], NG_TEXTNAS_N_OPS);
        if (c->hp.op_mask && !((c->hp.op_mask >> a->op[i]) & 1u))
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: op %s is not among the controller's ops", i,
                           ng_textnas_op_name(a->op[i]));
        if (a->skip[i] & ~allowed)
            return ng_fail(NG_ERR_ARG, "textnas controller: layer %d: skip mask 0x%x names a layer >= %d", i, (unsigned)a->skip[i], i);
    }
    return NG_OK;
}

/* The walk shared by sampling (forced == NULL) and teacher forcing. Gradient outputs are
   built only when asked for. */
static ng_status ng__tc_run(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, const ng_textnas_arch *forced,
                            ng_textnas_arch *out, ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    int L = c->hp.n_layers, S = c->hp.lstm_size, i, j;
    ng_tensor *A[NG_TEXTNAS_MAX_LAYERS], *anchor[NG_TEXTNAS_MAX_LAYERS];
    ng_tensor *h, *cell, *inp, *hq = NULL, *lp = NULL, *sp = NULL;
    double ent = 0.0, p[NG_TEXTNAS_MAX_LAYERS > NG_TEXTNAS_N_OPS ? NG_TEXTNAS_MAX_LAYERS : NG_TEXTNAS_N_OPS];
    int32_t labels[NG_TEXTNAS_MAX_LAYERS];
    ng_textnas_arch arch;
    ng_status s;
    if (log_prob) *log_prob = NULL;
    if (entropy) *entropy = NULL;
    if (skip_penalty) *skip_penalty = NULL;
    if (ctx->status != NG_OK) return ng_fail(ctx->status, "textnas controller: the context has failed before sampling (reset it)");
    if (forced && (s = ng__tc_check_arch(c, forced)) != NG_OK) return s;
    memset(&arch, 0, sizeof arch);
    arch.n_layers = L;
    h = ng_tensor_zeros(ctx, ng_shape2(1, S));
    cell = ng_tensor_zeros(ctx, ng_shape2(1, S));
    inp = ng_tensor_from(ctx, ng_shape2(1, S), c->g_emb->data); /* g_emb.data: no gradient */
    for (i = 0; i < L; i++) {
        ng_tensor *logits, *ce;
        /* ---- input choice (no LSTM step) ---- */
        if (i == 0) {
            arch.input[0] = -1;
        } else {
            int j0 = i - c->hp.choose_from < 0 ? 0 : i - c->hp.choose_from, n = i - j0, k;
            if (!hq) hq = ng_linear(ctx, h, c->w_query, NULL);
            logits = ng__tc_attn(ctx, c, A, j0, i, hq);
            if (!logits) break;
            if (forced) {
                k = forced->input[i] - j0;
                ng__tc_probs(logits->data, n, 1, p);
            } else {
                k = ng__tc_draw(rng, logits->data, n, 1, p);
            }
            arch.input[i] = j0 + k;
            if (log_prob) {
                labels[0] = k;
                ce = ng_cross_entropy(ctx, ng_reshape(ctx, logits, ng_shape2(1, n)), labels);
                lp = lp ? ng_add(ctx, lp, ce) : ce;
            }
            if (entropy && p[k] > 0.0) ent += -log(p[k]) * p[k];
            inp = anchor[j0 + k];
        }
        /* ---- operation: the layer's one LSTM step ---- */
        ng__tc_lstm(ctx, c, inp, &h, &cell);
        hq = NULL;
        logits = ng__tc_mask_ops(ctx, c, ng__tc_shape_logits(ctx, c, ng_linear(ctx, h, c->w_soft, NULL)));
        if (!logits) break;
        if (forced) {
            arch.op[i] = forced->op[i];
            ng__tc_probs(logits->data, NG_TEXTNAS_N_OPS, 1, p);
        } else {
            arch.op[i] = ng__tc_draw(rng, logits->data, NG_TEXTNAS_N_OPS, 1, p);
        }
        if (log_prob) {
            labels[0] = arch.op[i];
            ce = ng_cross_entropy(ctx, logits, labels);
            lp = lp ? ng_add(ctx, lp, ce) : ce;
        }
        if (entropy && p[arch.op[i]] > 0.0) ent += -log(p[arch.op[i]]) * p[arch.op[i]];
        /* ---- skip connections from every earlier layer (same h as the op step) ---- */
        arch.skip[i] = 0;
        if (i > 0) {
            ng_tensor *q, *pair[2], *logit;
            double e = 0.0, pp[2];
            hq = ng_linear(ctx, h, c->w_query, NULL);
            q = ng__tc_attn(ctx, c, A, 0, i, hq);
            pair[0] = ng_scale(ctx, q, -1.0f);
            pair[1] = q;
            logit = ng_concat(ctx, pair, 2, 1);            /* (i, 2): [-q, q] */
            if (!logit) break;
            for (j = 0; j < i; j++) {
                int sj;
                if (forced) {
                    sj = (int)((forced->skip[i] >> j) & 1u);
                    ng__tc_probs(logit->data + 2 * j, 2, 1, pp);
                } else {
                    sj = ng__tc_draw(rng, logit->data + 2 * j, 2, 1, pp);
                }
                labels[j] = sj;
                if (sj) arch.skip[i] |= 1u << j;
                if (pp[sj] > 0.0) e += -log(pp[sj]) * pp[sj];
            }
            if (entropy) ent += e / (double)i;
            if (log_prob) {
                ce = ng_cross_entropy(ctx, logit, labels);  /* mean over the i candidates */
                lp = lp ? ng_add(ctx, lp, ce) : ce;
            }
            if (skip_penalty) {
                ng_tensor *kl = ng__tc_skip_kl(ctx, c, logit, i);
                sp = sp ? ng_add(ctx, sp, kl) : kl;
            }
        }
        anchor[i] = h;
        if (i + 1 < L) A[i] = ng_linear(ctx, h, c->w_anchor, NULL);
    }
    if (ctx->status != NG_OK)
        return ng_fail(ctx->status, "textnas controller: sampling failed at layer %d of %d (step arena of %zu bytes: %s)",
                       i, L, ctx->arena.cap, ng_status_str(ctx->status));
    if (log_prob) *log_prob = lp;
    if (skip_penalty) {
        if (!sp) sp = ng_tensor_zeros(ctx, ng__tc_scalar());
        *skip_penalty = sp;
    }
    if (entropy) {
        float ev = (float)ent;
        *entropy = ng_tensor_from(ctx, ng__tc_scalar(), &ev);
    }
    if (ctx->status != NG_OK)
        return ng_fail(ctx->status, "textnas controller: step arena of %zu bytes is exhausted", ctx->arena.cap);
    if (out) *out = arch;
    return NG_OK;
}

ng_status ng_textnas_ctrl_sample(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out,
                                 ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    return ng__tc_run(ctx, c, rng, NULL, out, log_prob, entropy, skip_penalty);
}

ng_status ng_textnas_ctrl_score(ng_ctx *ctx, ng_textnas_ctrl *c, const ng_textnas_arch *arch,
                                ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty) {
    if (!arch) return ng_fail(NG_ERR_ARG, "textnas controller: score: architecture is NULL");
    return ng__tc_run(ctx, c, NULL, arch, NULL, log_prob, entropy, skip_penalty);
}

ng_status ng_textnas_ctrl_sample_arch(ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out) {
    ng_ctx_reset(c->nograd);
    return ng__tc_run(c->nograd, c, rng, NULL, out, NULL, NULL, NULL);
}

ng_status ng_textnas_ctrl_export(ng_textnas_ctrl *c, ng_rng *rng, int n, ng_textnas_arch *archs) {
    int k;
    ng_status s;
    if (n < 0 || (n > 0 && !archs)) return ng_fail(NG_ERR_ARG, "textnas controller: export of %d architectures into %p", n, (void *)archs);
    for (k = 0; k < n; k++)
        if ((s = ng_textnas_ctrl_sample_arch(c, rng, &archs[k])) != NG_OK) return s;
    return NG_OK;
}

/* ---- REINFORCE update ---- */

static ng_status ng__tc_update(ng_textnas_ctrl *c, ng_ctx *ctx, ng_tensor *lp, ng_tensor *ent, ng_tensor *sp, double reward) {
    double R, bl, norm;
    ng_tensor *loss;
    ng_params *g = c->params;
    ng_status s;
    if (!(reward == reward) || reward > 1e300 || reward < -1e300)
        return ng_fail(NG_ERR_ARG, "textnas controller: reward %g is not finite (step %lld skipped)", reward, (long long)c->steps);
    R = reward + c->hp.entropy_weight * (double)ent->data[0];
    bl = c->baseline * c->hp.baseline_decay + R * (1.0 - c->hp.baseline_decay);   /* before the loss */
    loss = ng_add(ctx, ng_scale(ctx, lp, (float)(R - bl)), ng_scale(ctx, sp, c->hp.skip_weight));
    if (!loss) return ng_fail(ctx->status ? ctx->status : NG_ERR_NOMEM, "textnas controller: loss: step arena of %zu bytes is exhausted", ctx->arena.cap);
    ng_params_zero_grad(g);
    if ((s = ng_backward(ctx, loss)) != NG_OK) { ng_params_zero_grad(g); return s; }
    norm = (double)ng_clip_grad_norm(&g, 1, c->hp.grad_clip > 0.0f ? c->hp.grad_clip : HUGE_VALF);
    if (!(norm == norm) || norm > 1e300) {
        ng_params_zero_grad(g);
        return ng_fail(NG_ERR_ARG, "textnas controller: gradient norm is %g at step %lld (step skipped)", norm, (long long)c->steps);
    }
    ng_adam_step(&c->adam);
    ng_params_zero_grad(g);
    c->baseline = bl;
    c->steps++;
    c->last.reward = reward;
    c->last.R = R;
    c->last.baseline = bl;
    c->last.log_prob = (double)lp->data[0];
    c->last.entropy = (double)ent->data[0];
    c->last.skip_penalty = (double)sp->data[0];
    c->last.loss = (double)loss->data[0];
    c->last.grad_norm = norm;
    return NG_OK;
}

static void ng__tc_prepare(ng_textnas_ctrl *c, ng_ctx *ctx) {
    ng_ctx_reset(ctx);
    ng_ctx_grad_for(ctx, &c->params, 1);
}

ng_status ng_textnas_ctrl_step(ng_textnas_ctrl *c, ng_ctx *ctx, ng_rng *rng, ng_textnas_reward_fn reward_fn,
                               void *user, ng_textnas_arch *arch_out) {
    ng_textnas_arch arch;
    ng_tensor *lp, *ent, *sp;
    ng_status s;
    if (!reward_fn) return ng_fail(NG_ERR_ARG, "textnas controller: step without a reward function");
    ng__tc_prepare(c, ctx);
    if ((s = ng__tc_run(ctx, c, rng, NULL, &arch, &lp, &ent, &sp)) != NG_OK) return s;
    if (arch_out) *arch_out = arch;
    return ng__tc_update(c, ctx, lp, ent, sp, reward_fn(&arch, user));
}

ng_status ng_textnas_ctrl_step_arch(ng_textnas_ctrl *c, ng_ctx *ctx, const ng_textnas_arch *arch, double reward) {
    ng_tensor *lp, *ent, *sp;
    ng_status s;
    if (!arch) return ng_fail(NG_ERR_ARG, "textnas controller: step_arch: architecture is NULL");
    ng__tc_prepare(c, ctx);
    if ((s = ng__tc_run(ctx, c, NULL, arch, NULL, &lp, &ent, &sp)) != NG_OK) return s;
    return ng__tc_update(c, ctx, lp, ent, sp, reward);
}

/* ---- checkpoints ---- */

static ng_status ng__tc_key(char *buf, size_t cap, const char *prefix, const char *field) {
    int n;
    if (!prefix) return ng_fail(NG_ERR_ARG, "textnas controller: checkpoint prefix is NULL");
    n = snprintf(buf, cap, "%s.%s", prefix, field);
    if (n < 0 || (size_t)n >= cap) return ng_fail(NG_ERR_ARG, "textnas controller: checkpoint prefix '%.40s...' is too long", prefix);
    return NG_OK;
}

ng_status ng_textnas_ctrl_put(ng_ckpt *ck, const char *prefix, const ng_textnas_ctrl *c) {
    char ka[320], kb[320], ks[320];
    int64_t bits;
    ng_status s;
    if ((s = ng__tc_key(ka, sizeof ka, prefix, "adam")) != NG_OK) return s;
    if ((s = ng__tc_key(kb, sizeof kb, prefix, "baseline")) != NG_OK) return s;
    if ((s = ng__tc_key(ks, sizeof ks, prefix, "steps")) != NG_OK) return s;
    memcpy(&bits, &c->baseline, sizeof bits);
    s = ng_ckpt_put_params(ck, c->params);
    if (s == NG_OK) s = ng_ckpt_put_adam(ck, ka, &c->adam);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, kb, bits);
    if (s == NG_OK) s = ng_ckpt_put_i64(ck, ks, c->steps);
    return s;
}

ng_status ng_textnas_ctrl_get(const ng_ckpt *ck, const char *prefix, ng_textnas_ctrl *c) {
    char ka[320], kb[320], ks[320];
    int64_t bits, steps;
    double bl;
    ng_adam tmp;
    ng_status s;
    if ((s = ng__tc_key(ka, sizeof ka, prefix, "adam")) != NG_OK) return s;
    if ((s = ng__tc_key(kb, sizeof kb, prefix, "baseline")) != NG_OK) return s;
    if ((s = ng__tc_key(ks, sizeof ks, prefix, "steps")) != NG_OK) return s;
    if ((s = ng_ckpt_get_i64(ck, kb, &bits)) != NG_OK) return s;
    if ((s = ng_ckpt_get_i64(ck, ks, &steps)) != NG_OK) return s;
    if (steps < 0) return ng_fail(NG_ERR_MISMATCH, "textnas controller: checkpoint record '%s' holds a negative step count %lld", ks, (long long)steps);
    memcpy(&bl, &bits, sizeof bl);
    /* the Adam state into a temporary first: nothing changes unless every record fits */
    if ((s = ng_adam_init(&tmp, c->params, c->adam.lr, c->adam.beta1, c->adam.beta2, c->adam.eps, c->adam.weight_decay)) != NG_OK) return s;
    if ((s = ng_ckpt_get_adam(ck, ka, &tmp)) != NG_OK) { ng_adam_free(&tmp); return s; }
    if ((s = ng_ckpt_get_params(ck, c->params)) != NG_OK) { ng_adam_free(&tmp); return s; }
    ng_adam_free(&c->adam);
    c->adam = tmp;
    c->baseline = bl;
    c->steps = steps;
    return NG_OK;
}
