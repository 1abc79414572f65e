/* ======================================================================================== */
/* @@OPTIM                                                                                  */
/* ======================================================================================== */
#define NG__OPT_PAR 65536 /* groups larger than this step with OpenMP */

/* Zeroed 64-byte aligned state block of n floats (at least one element). */
static float *ng__state_alloc(int64_t n, const char *what) {
    size_t bytes;
    float *p;
    if (n < 0 || ng_mul_size((size_t)(n ? n : 1), sizeof(float), &bytes)) {
        ng_fail(NG_ERR_NOMEM, "%s: state size overflows", what);
        return NULL;
    }
    p = (float *)ng_aligned_alloc(bytes);
    if (!p) { ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %zu bytes of state", what, bytes); return NULL; }
    memset(p, 0, bytes);
    return p;
}

/* State block on `device` (zeroed) and its release. */
static float *ng__state_alloc_on(int64_t n, int device, const char *what) {
    float *p;
    if (device != NG_CUDA) return ng__state_alloc(n, what);
    p = ng_cuda_alloc_zeros(n);
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate optimizer state on the GPU (%s)", what, ng_last_error());
    return p;
}
static void ng__state_free(float *p, int device) {
    if (device == NG_CUDA) ng_cuda_free(p);
    else ng_aligned_free(p);
}

/* Move up to two state blocks (NULL entries skipped) to `want`, the device their group is on
   now, keeping the values; *device records where they are. All or nothing. */
static ng_status ng__state_follow(float **a, float **b, int64_t n, int *device, int want, const char *what) {
    float **blocks[2], *moved[2] = {NULL, NULL};
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    int i;
    if (*device == want) return NG_OK;
    blocks[0] = a; blocks[1] = b;
    for (i = 0; i < 2; i++)
        if (blocks[i] && *blocks[i] && !(moved[i] = ng__state_alloc_on(n, want, what))) {
            if (moved[0]) ng__state_free(moved[0], want);
            return ng_fail(NG_ERR_NOMEM, "%s: cannot move the optimizer state to the %s", what, want == NG_CUDA ? "GPU" : "host");
        }
    for (i = 0; i < 2; i++)
        if (moved[i]) {
            ng__cuda_copy(moved[i], *blocks[i], bytes, want == NG_CUDA ? 1 : 2);
            ng__state_free(*blocks[i], *device);
            *blocks[i] = moved[i];
        }
    *device = want;
    return NG_OK;
}

/* *k: the CUDA backend's fused kernels for a group on the GPU, NULL for a host group. */
static ng_status ng__opt_kernels(const ng_params *g, const char *what, const ng_cuda_hooks **k) {
    *k = g->device == NG_CUDA ? ng_cuda_get_hooks() : NULL;
    if (g->device == NG_CUDA && !*k)
        return ng_fail(NG_ERR_UNSUPPORTED, "%s: group '%s' is on the GPU but the CUDA backend is not linked", what, g->name);
    return NG_OK;
}

static ng_status ng__check_group(const ng_params *g, const char *what, int need_grad) {
    if (!g) return ng_fail(NG_ERR_ARG, "%s: group is NULL", what);
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "%s: group '%s' is not allocated", what, g->name);
    if (need_grad && !g->grad) return ng_fail(NG_ERR_ARG, "%s: group '%s' has no gradients (not trainable)", what, g->name);
    return NG_OK;
}

/* The double a float hyper-parameter was most likely written as: the shortest decimal that
   rounds to it (0.999f -> 0.999). PyTorch forms its scalars (1 - beta2, lr / (1 - beta1^t))
   from Python doubles, so this reproduces them where (double)f would be off in the 7th digit. */
static double ng__typed(float f) {
    char buf[32];
    int prec;
    if (!isfinite(f) || f == 0.0f) return (double)f;
    for (prec = 1; prec <= 9; prec++) {
        double d;
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

/* ---- Adam ---- */
ng_status ng_adam_init(ng_adam *opt, ng_params *g, float lr, float beta1, float beta2, float eps, float weight_decay) {
    ng_status s;
    memset(opt, 0, sizeof *opt);
    if ((s = ng__check_group(g, "adam", 1)) != NG_OK) return s;
    if (!(lr >= 0.0f) || !(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) || !(eps >= 0.0f) || !(weight_decay >= 0.0f))
        return ng_fail(NG_ERR_ARG, "adam: invalid hyper-parameters (lr %g, betas %g %g, eps %g, wd %g)",
                       (double)lr, (double)beta1, (double)beta2, (double)eps, (double)weight_decay);
    opt->group = g;
    opt->lr = lr; opt->beta1 = beta1; opt->beta2 = beta2; opt->eps = eps; opt->weight_decay = weight_decay;
    opt->device = g->device;
    opt->m = ng__state_alloc_on(g->numel, g->device, "adam");
    opt->v = opt->m ? ng__state_alloc_on(g->numel, g->device, "adam") : NULL;
    if (!opt->v) { ng_adam_free(opt); return NG_ERR_NOMEM; }
    return NG_OK;
}

/* As torch.optim.Adam: the scalars are formed in double and each elementwise operation is done
   in float, in PyTorch's order. The gradient block is left unchanged. */
ng_status ng_adam_step(ng_adam *opt) {
    ng_params *gr = opt->group;
    int64_t i, n = gr->numel;
    float *p, *m, *v;
    const float *g;
    double bc1, bc2;
    float b1, b2, omb1, omb2, step_size, sqrt_bc2, eps = opt->eps, wd = opt->weight_decay;
    const ng_cuda_hooks *k;
    ng_status s = ng__opt_kernels(gr, "adam", &k);
    if (s == NG_OK) s = ng__state_follow(&opt->m, &opt->v, n, &opt->device, gr->device, "adam");
    if (s != NG_OK) return s;
    p = gr->data; m = opt->m; v = opt->v; g = gr->grad;
    opt->t++;
    bc1 = 1.0 - pow(ng__typed(opt->beta1), (double)opt->t);
    bc2 = 1.0 - pow(ng__typed(opt->beta2), (double)opt->t);
    b1 = opt->beta1; b2 = opt->beta2;
    omb1 = (float)(1.0 - ng__typed(opt->beta1));
    omb2 = (float)(1.0 - ng__typed(opt->beta2));
    step_size = (float)(ng__typed(opt->lr) / bc1);
    sqrt_bc2 = (float)sqrt(bc2);
    if (k) { k->adam(p, g, m, v, n, b1, b2, omb1, omb2, step_size, sqrt_bc2, eps, wd); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / denom);
    }
    return NG_OK;
}

void ng_adam_reset(ng_adam *opt) {
    size_t bytes = (size_t)(opt->group->numel ? opt->group->numel : 1) * sizeof(float);
    opt->t = 0;
    if (opt->m) ng__memset0(opt->device, opt->m, bytes);
    if (opt->v) ng__memset0(opt->device, opt->v, bytes);
}

void ng_adam_free(ng_adam *opt) {
    if (!opt) return;
    ng__state_free(opt->m, opt->device);
    ng__state_free(opt->v, opt->device);
    opt->m = opt->v = NULL;
}

/* ---- SGD ---- */
ng_status ng_sgd_init(ng_sgd *opt, ng_params *g, float lr, float momentum, float dampening, float weight_decay, int nesterov) {
    ng_status s;
    memset(opt, 0, sizeof *opt);
    if ((s = ng__check_group(g, "sgd", 1)) != NG_OK) return s;
    if (!(lr >= 0.0f) || !(momentum >= 0.0f) || !(weight_decay >= 0.0f))
        return ng_fail(NG_ERR_ARG, "sgd: invalid hyper-parameters (lr %g, momentum %g, wd %g)", (double)lr, (double)momentum, (double)weight_decay);
    if (nesterov && (momentum <= 0.0f || dampening != 0.0f))
        return ng_fail(NG_ERR_ARG, "sgd: nesterov momentum requires a momentum and zero dampening");
    opt->group = g;
    opt->lr = lr; opt->momentum = momentum; opt->dampening = dampening; opt->weight_decay = weight_decay;
    opt->nesterov = nesterov;
    opt->device = g->device;
    if (momentum != 0.0f) {
        opt->buf = ng__state_alloc_on(g->numel, g->device, "sgd");
        if (!opt->buf) return NG_ERR_NOMEM;
    }
    return NG_OK;
}

ng_status ng_sgd_step(ng_sgd *opt) {
    ng_params *gr = opt->group;
    int64_t i, n = gr->numel;
    float *p, *buf;
    const float *g;
    float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    float omd = (float)(1.0 - ng__typed(opt->dampening));
    int first = opt->t == 0, nesterov = opt->nesterov;
    const ng_cuda_hooks *k;
    ng_status s = ng__opt_kernels(gr, "sgd", &k);
    if (s == NG_OK) s = ng__state_follow(&opt->buf, NULL, n, &opt->device, gr->device, "sgd");
    if (s != NG_OK) return s;
    p = gr->data; buf = opt->buf; g = gr->grad;
    opt->t++;
    if (k) { k->sgd(p, g, buf, n, lr, mom, omd, wd, first, nesterov); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) {
        float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        if (buf) {
            float b = first ? d : mom * buf[i] + omd * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] -= lr * d;
    }
    return NG_OK;
}

void ng_sgd_free(ng_sgd *opt) {
    if (!opt) return;
    ng__state_free(opt->buf, opt->device);
    opt->buf = NULL;
}

/* ---- EMA ---- */
ng_status ng_ema_init(ng_ema *e, ng_params *g, float decay) {
    ng_status s;
    memset(e, 0, sizeof *e);
    if ((s = ng__check_group(g, "ema", 0)) != NG_OK) return s;
    if (!(decay >= 0.0f && decay <= 1.0f)) return ng_fail(NG_ERR_ARG, "ema: decay %g is outside [0, 1]", (double)decay);
    e->group = g;
    e->decay = decay;
    e->device = g->device;
    e->shadow = ng__state_alloc_on(g->numel, g->device, "ema");
    if (!e->shadow) return NG_ERR_NOMEM;
    if (g->device == NG_CUDA) ng__cuda_copy(e->shadow, g->data, (size_t)g->numel * sizeof(float), 3);
    else memcpy(e->shadow, g->data, (size_t)g->numel * sizeof(float));
    return NG_OK;
}

ng_status ng_ema_update(ng_ema *e) {
    int64_t i, n = e->group->numel;
    const float *p;
    float *s, d = e->decay, omd = (float)(1.0 - ng__typed(e->decay));
    const ng_cuda_hooks *k;
    ng_status st = ng__opt_kernels(e->group, "ema", &k);
    if (st == NG_OK) st = ng__state_follow(&e->shadow, NULL, n, &e->device, e->group->device, "ema");
    if (st != NG_OK) return st;
    p = e->group->data; s = e->shadow;
    if (k) { k->ema(s, p, n, d, omd); return NG_OK; }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) s[i] = d * s[i] + omd * p[i];
    return NG_OK;
}

/* On the GPU the two blocks exchange pointers: the group's tensors are re-pointed at the
   shadow block, which costs nothing and moves no data. */
ng_status ng_ema_swap(ng_ema *e) {
    ng_params *g = e->group;
    int64_t i, n = g->numel;
    float *p, *s;
    ng_status st = ng__state_follow(&e->shadow, NULL, n, &e->device, g->device, "ema");
    if (st != NG_OK) return st;
    p = g->data; s = e->shadow;
    if (g->device == NG_CUDA) {
        int k;
        g->data = s; e->shadow = p;
        for (k = 0; k < g->n; k++) g->tensors[k]->data = g->data + g->offsets[k];
        return NG_OK;
    }
NG__OMP_FOR(n > NG__OPT_PAR)
    for (i = 0; i < n; i++) { float t = p[i]; p[i] = s[i]; s[i] = t; }
    return NG_OK;
}

void ng_ema_free(ng_ema *e) {
    if (!e) return;
    ng__state_free(e->shadow, e->device);
    e->shadow = NULL;
}

/* ---- learning-rate schedules ---- */
float ng_lr_at(ng_lr_kind kind, float base, float final_lr, int64_t step, int64_t total) {
    double t;
    if (kind == NG_LR_CONSTANT || total <= 0) return base;
    t = step <= 0 ? 0.0 : step >= total ? 1.0 : (double)step / (double)total;
    if (kind == NG_LR_COSINE)
        return (float)((double)final_lr + ((double)base - (double)final_lr) * (1.0 + cos(3.14159265358979323846 * t)) * 0.5);
    NG_ASSERT(kind == NG_LR_LINEAR);
    return (float)((double)base + ((double)final_lr - (double)base) * t);
}

/* ---- gradient clipping ---- */
/* Sum of squares in double over a fixed split into 64 chunks, each summed in 8 interleaved
   lanes (independent chains the compiler vectorizes; one chain was latency-bound), lanes and
   chunks added in a fixed order: deterministic for any number of threads. */
static double ng__sumsq(const float *x, int64_t n) {
    double part[64], s = 0.0;
    int64_t chunk = (n + 63) / 64, c;
NG__OMP_FOR(n > NG__OPT_PAR)
    for (c = 0; c < 64; c++) {
        int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n, i;
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}, acc = 0.0;
        int l;
        for (i = lo; i + 8 <= hi; i += 8)
            for (l = 0; l < 8; l++) lane[l] += (double)x[i + l] * x[i + l];
        for (; i < hi; i++) acc += (double)x[i] * x[i];
        for (l = 0; l < 8; l++) acc += lane[l];
        part[c] = acc;
    }
    for (c = 0; c < 64; c++) s += part[c];
    return s;
}

float ng_clip_grad_norm(ng_params *const *groups, int n, float max_norm) {
    double ss = 0.0, norm, coef;
    int k;
    for (k = 0; k < n; k++) {
        const ng_cuda_hooks *kern;
        if (!groups[k] || !groups[k]->grad) continue;
        if (ng__opt_kernels(groups[k], "clip_grad_norm", &kern) != NG_OK) return NAN;
        ss += kern ? kern->sumsq(groups[k]->grad, groups[k]->numel) : ng__sumsq(groups[k]->grad, groups[k]->numel);
    }
    norm = sqrt(ss);
    coef = (double)max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0) {
        float c = (float)coef;
        for (k = 0; k < n; k++) {
            float *g;
            int64_t i, m;
            if (!groups[k] || !groups[k]->grad) continue;
            g = groups[k]->grad;
            m = groups[k]->numel;
            if (groups[k]->device == NG_CUDA) { ng_cuda_get_hooks()->scale(g, m, c); continue; }
NG__OMP_FOR(m > NG__OPT_PAR)
            for (i = 0; i < m; i++) g[i] *= c;
        }
    }
    return (float)norm;
}

/* ---- initialisers ---- */
void ng_init_constant(ng_tensor *t, float v) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = v;
}
void ng_init_uniform(ng_tensor *t, float lo, float hi, ng_rng *r) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = ng_rng_uniformf(r, lo, hi);
}
void ng_init_normal(ng_tensor *t, float mean, float std, ng_rng *r) {
    int64_t i;
    for (i = 0; i < t->numel; i++) t->data[i] = (float)((double)mean + (double)std * ng_rng_normal(r));
}
void ng_init_fans(const ng_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    int64_t rf = 1;
    int d;
    /* as torch.nn.init: fans need at least 2 dimensions */
    NG_ASSERT(t->shape.ndim >= 2);
    for (d = 2; d < t->shape.ndim; d++) rf *= t->shape.d[d];
    if (fan_in) *fan_in = t->shape.d[1] * rf;
    if (fan_out) *fan_out = t->shape.d[0] * rf;
}
void ng_init_xavier_uniform(ng_tensor *t, float gain, ng_rng *r) {
    int64_t fi, fo;
    float a;
    ng_init_fans(t, &fi, &fo);
    a = (float)((double)gain * sqrt(6.0 / (double)(fi + fo > 0 ? fi + fo : 1)));
    ng_init_uniform(t, -a, a, r);
}
void ng_init_kaiming_uniform_default(ng_tensor *w, ng_rng *r) {
    /* kaiming_uniform(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain sqrt(3 / fan_in) = 1 / sqrt(fan_in) */
    int64_t fi;
    float b;
    ng_init_fans(w, &fi, NULL);
    b = fi > 0 ? (float)(1.0 / sqrt((double)fi)) : 0.0f;
    ng_init_uniform(w, -b, b, r);
}
void ng_init_bias_default(ng_tensor *b, const ng_tensor *weight, ng_rng *r) {
    int64_t fi;
    float bound;
    ng_init_fans(weight, &fi, NULL);
    bound = fi > 0 ? (float)(1.0 / sqrt((double)fi)) : 0.0f;
    ng_init_uniform(b, -bound, bound, r);
}
