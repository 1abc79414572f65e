/* ======================================================================================== */
/* @@TAPE                                                                                   */
/* ======================================================================================== */
#define NG__PROTO(E, f) static void ng__fw_##f(ng_node *n); static void ng__bw_##f(ng_node *n);
NG_OP_LIST(NG__PROTO)
#undef NG__PROTO
static void ng__dispatch_forward(ng_node *n);   /* defined with the op table (@@OPTABLE) */
static void ng__dispatch_backward(ng_node *n);

ng_ctx *ng_ctx_create(size_t arena_bytes, uint64_t seed) {
    ng_ctx *ctx = (ng_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) { ng_fail(NG_ERR_NOMEM, "context: out of memory"); return NULL; }
    if (ng_arena_init(&ctx->arena, arena_bytes) != NG_OK) { free(ctx); return NULL; }
    ng_rng_seed(&ctx->rng, seed);
    ctx->training = 1;
    /* The built-in SGEMM matches OpenBLAS here and shares OpenMP's threads; OpenBLAS's own
       pthreads would oversubscribe the cores. Set ctx->gemm_backend to opt in. */
    ctx->gemm_backend = NG_GEMM_BUILTIN;
    return ctx;
}

void ng_ctx_free(ng_ctx *ctx) {
    if (!ctx) return;
    ng_arena_free(&ctx->arena);
    ng__cuda_arena_free(&ctx->dev_arena);
    free(ctx->nodes);
    free(ctx);
}

void ng_ctx_reset(ng_ctx *ctx) {
    ng_arena_reset(&ctx->arena);
    ng_arena_reset(&ctx->dev_arena);
    ctx->n_nodes = 0;
    ctx->status = NG_OK;
}

void ng_ctx_set_training(ng_ctx *ctx, int training) { ctx->training = training; }
ng_status ng_ctx_status(const ng_ctx *ctx) { return ctx->status; }

void ng_ctx_grad_for(ng_ctx *ctx, ng_params *const *groups, int n) {
    int i;
    NG_ASSERT(n >= 0 && n <= NG_MAX_GRAD_GROUPS);
    for (i = 0; i < n; i++) ctx->grad_groups[i] = groups[i];
    ctx->n_grad_groups = n;
}

/* Record the first failure; later ops see ctx->status and return NULL. */
static void ng__ctx_fail(ng_ctx *ctx, ng_status s) {
    if (ctx->status == NG_OK) ctx->status = s;
}

/* An op was handed a NULL input: keep the first failure, or record this one. */
static ng_tensor *ng__null_input(ng_ctx *ctx, int op) {
    if (ctx->status == NG_OK) {
        ctx->status = NG_ERR_ARG;
        ng_fail(NG_ERR_ARG, "%s: an input is NULL", ng_op_name(op));
    }
    return NULL;
}

/* A tensor an op reads beside its inputs (a target, running statistics, power-iteration
   vectors) must be on the device of its input x: the kernels take its pointer as it is. */
static int ng__side_device_ok(ng_ctx *ctx, int op, const ng_tensor *x, const ng_tensor *side, const char *what) {
    if (!x || !side || side->device == x->device) return 1;
    if (ctx->status == NG_OK) {
        ctx->status = NG_ERR_UNSUPPORTED;
        ng_fail(NG_ERR_UNSUPPORTED, "%s: %s is on the %s but the input is on the %s (copy explicitly)", ng_op_name(op), what,
                side->device == NG_CUDA ? "GPU" : "CPU", x->device == NG_CUDA ? "GPU" : "CPU");
    }
    return 0;
}

static void *ng__alloc(ng_ctx *ctx, size_t bytes) {
    void *p = ng_arena_alloc(&ctx->arena, bytes);
    if (!p) ng__ctx_fail(ctx, NG_ERR_NOMEM);
    return p;
}
/* Float buffers (outputs, gradients, saved values) live on the context's device. */
static float *ng__falloc(ng_ctx *ctx, int64_t n) {
    if (ctx->device == NG_CUDA) {
        void *p = ng__cuda_arena_alloc(ctx, (size_t)n * sizeof(float));
        if (!p) ng__ctx_fail(ctx, NG_ERR_NOMEM);
        return (float *)p;
    }
    return (float *)ng__alloc(ctx, (size_t)n * sizeof(float));
}
static float *ng__fzalloc(ng_ctx *ctx, int64_t n) {
    float *p = ng__falloc(ctx, n);
    if (p) ng__memset0(ctx->device, p, (size_t)n * sizeof(float));
    return p;
}

ng_tensor *ng_tensor_new(ng_ctx *ctx, ng_shape shape) {
    int64_t numel = ng_shape_numel(shape);
    ng_tensor *t;
    size_t bytes;
    if (ctx->status != NG_OK) return NULL;
    if (numel < 0 || ng_mul_size((size_t)numel, sizeof(float), &bytes)) {
        ng_fail(NG_ERR_ARG, "tensor: invalid or overflowing shape");
        ng__ctx_fail(ctx, NG_ERR_ARG);
        return NULL;
    }
    t = (ng_tensor *)ng__alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->shape = shape;
    t->numel = numel;
    t->device = ctx->device;
    t->data = ng__falloc(ctx, numel ? numel : 1);
    return t->data ? t : NULL;
}
ng_tensor *ng_tensor_zeros(ng_ctx *ctx, ng_shape shape) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) ng__memset0(t->device, t->data, (size_t)t->numel * sizeof(float));
    return t;
}
/* `data` is host memory (copied to the device for a device context). */
ng_tensor *ng_tensor_from(ng_ctx *ctx, ng_shape shape, const float *data) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    if (t) {
        if (t->device == NG_CUDA) ng__cuda_copy(t->data, data, (size_t)t->numel * sizeof(float), 1);
        else memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    }
    return t;
}
void ng_tensor_requires_grad(ng_tensor *t) { t->requires_grad = 1; }

float *ng_tensor_host_write(ng_ctx *ctx, ng_tensor *t) {
    if (!t) return NULL;
    if (t->device != NG_CUDA) return t->data;
    return (float *)ng__alloc(ctx, (size_t)(t->numel ? t->numel : 1) * sizeof(float));
}
ng_status ng_tensor_host_done(ng_tensor *t, float *buf) {
    if (!t || !buf) return ng_fail(NG_ERR_ARG, "tensor host write: no tensor or buffer");
    if (t->device == NG_CUDA) return ng_tensor_to_device(t, buf);
    if (buf != t->data) memcpy(t->data, buf, (size_t)t->numel * sizeof(float));
    return NG_OK;
}
const float *ng_tensor_host_read(ng_ctx *ctx, const ng_tensor *t) {
    float *h;
    if (!t) return NULL;
    if (t->device != NG_CUDA) return t->data;
    h = (float *)ng__alloc(ctx, (size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (h && ng_tensor_to_host(t, h) != NG_OK) { ng__ctx_fail(ctx, NG_ERR_UNSUPPORTED); return NULL; }
    return h;
}
float ng_tensor_item(const ng_tensor *t) {
    float v = NAN;
    if (!t || t->numel < 1) return NAN;
    if (t->device != NG_CUDA) return t->data[0];
    ng__cuda_copy(&v, t->data, sizeof v, 2);   /* v stays NaN when the copy fails */
    return v;
}
ng_tensor *ng_tensor_randn(ng_ctx *ctx, ng_shape shape, ng_rng *r) {
    ng_tensor *t = ng_tensor_new(ctx, shape);
    float *h = ng_tensor_host_write(ctx, t);
    int64_t i;
    if (!h) return NULL;
    for (i = 0; i < t->numel; i++) h[i] = (float)ng_rng_normal(r);
    return ng_tensor_host_done(t, h) == NG_OK ? t : NULL;
}

static int ng__needs_grad(const ng_ctx *ctx, const ng_tensor *t) {
    int i;
    if (ctx->no_grad) return 0;
    if (!t->owner) return t->requires_grad;
    if (!t->owner->grad) return 0;
    for (i = 0; i < ctx->n_grad_groups; i++)
        if (ctx->grad_groups[i] == t->owner) return 1;
    return 0;
}

/* Start an op: check inputs, allocate the output, and fill a node at the tape's tail (kept
   only by ng__finish when some input needs a gradient). NULL if any input is NULL or the
   context already failed. */
static ng_node *ng__begin(ng_ctx *ctx, int op, ng_tensor *const *ins, int n_in, ng_shape out_shape) {
    ng_node *n;
    int k;
    if (ctx->status != NG_OK) return NULL;
    NG_ASSERT(n_in >= 0 && n_in <= 32);
    for (k = 0; k < n_in; k++)
        if (!ins[k]) { ng__ctx_fail(ctx, NG_ERR_ARG); ng_fail(NG_ERR_ARG, "%s: input %d is NULL", ng_op_name(op), k); return NULL; }
    if (ctx->n_nodes == ctx->cap_nodes) {
        int cap = ctx->cap_nodes ? 2 * ctx->cap_nodes : 1024;
        ng_node *nn = (ng_node *)realloc(ctx->nodes, (size_t)cap * sizeof *nn);
        if (!nn) { ng__ctx_fail(ctx, NG_ERR_NOMEM); ng_fail(NG_ERR_NOMEM, "tape: out of memory"); return NULL; }
        ctx->nodes = nn;
        ctx->cap_nodes = cap;
    }
    n = &ctx->nodes[ctx->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->ctx = ctx;
    n->n_in = n_in;
    n->in = (ng_tensor **)ng__alloc(ctx, (size_t)(n_in ? n_in : 1) * sizeof(ng_tensor *));
    if (!n->in) return NULL;
    for (k = 0; k < n_in; k++) {
        n->in[k] = ins[k];
        if (ng__needs_grad(ctx, ins[k])) n->need |= 1u << k;
    }
    n->out = ng_tensor_new(ctx, out_shape);
    return n->out ? n : NULL;
}

/* Run the forward and keep the node on the tape if a gradient must flow through it. */
static ng_tensor *ng__finish(ng_node *n) {
    ng_ctx *ctx = n->ctx;
    ng__dispatch_forward(n);
    if (ctx->status != NG_OK) return NULL;
    if (n->need) {
        n->out->requires_grad = 1;
        ctx->n_nodes++;
    }
    return n->out;
}

static int ng__need(const ng_node *n, int k) { return (n->need >> k) & 1u; }

/* Gradient buffer of a tensor, allocated zeroed in the arena on first use. */
static float *ng__grad_of(ng_ctx *ctx, ng_tensor *t) {
    if (!t->grad) t->grad = ng__fzalloc(ctx, t->numel);
    return t->grad;
}
/* Gradient buffer of input k, or NULL when input k needs no gradient. */
static float *ng__in_grad(ng_node *n, int k) {
    return ng__need(n, k) ? ng__grad_of(n->ctx, n->in[k]) : NULL;
}

ng_status ng_backward_from(ng_ctx *ctx, ng_tensor *out, const float *seed) {
    int i;
    int64_t j;
    float *g;
    if (ctx->status != NG_OK) return ctx->status;
    if (!out) return ng_fail(NG_ERR_ARG, "backward: output is NULL (an earlier op failed)");
    /* activation gradients start from zero on every pass; parameter gradients accumulate */
    for (i = 0; i < ctx->n_nodes; i++) ctx->nodes[i].out->grad = NULL;
    if (!out->requires_grad && !(out->owner && ng__needs_grad(ctx, out))) return NG_OK;
    g = ng__grad_of(ctx, out);
    if (!g) return ng_fail(NG_ERR_NOMEM, "backward: arena exhausted");
    if (out->device == NG_CUDA) { /* add the (host) seed through a host copy of the gradient */
        float *h = (float *)ng__alloc(ctx, (size_t)out->numel * sizeof(float));
        if (!h) return ng_fail(NG_ERR_NOMEM, "backward: arena exhausted");
        ng__cuda_copy(h, g, (size_t)out->numel * sizeof(float), 2);
        for (j = 0; j < out->numel; j++) h[j] += seed ? seed[j] : 1.0f;
        ng__cuda_copy(g, h, (size_t)out->numel * sizeof(float), 1);
    } else {
        for (j = 0; j < out->numel; j++) g[j] += seed ? seed[j] : 1.0f;
    }
    for (i = ctx->n_nodes - 1; i >= 0; i--) {
        ng_node *n = &ctx->nodes[i];
        if (!n->out->grad) continue; /* nothing flowed here: not an ancestor of `out` */
        ng__dispatch_backward(n);
        if (ctx->status != NG_OK) return ng_fail(ctx->status, "backward: %s failed (%s)", ng_op_name(n->op), ng_status_str(ctx->status));
    }
    return NG_OK;
}

ng_status ng_backward(ng_ctx *ctx, ng_tensor *loss) {
    if (loss && loss->numel != 1) return ng_fail(NG_ERR_ARG, "backward: loss must be a scalar, has %lld elements", (long long)loss->numel);
    return ng_backward_from(ctx, loss, NULL);
}
