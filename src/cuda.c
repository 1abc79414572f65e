/* ======================================================================================== */
/* @@CUDA  host-side glue: hook registry, device arenas, transfers, device parameter groups  */
/* ======================================================================================== */
static void ng__optable_set_cuda(int op, void (*fw)(ng_node *), void (*bw)(ng_node *)); /* @@OPTABLE */

/* The registered kernel table (code, not state: the backend context lives behind it). */
static const ng_cuda_hooks *ng__cuda_hooks_p = NULL;
static int ng__cuda_ready = 0;

void ng_cuda_register(const ng_cuda_hooks *h) {
    int op;
    ng__cuda_hooks_p = h;
    ng__cuda_ready = 0; /* a (re)registered backend needs ng_cuda_init */
    for (op = 0; op < NG_OP_COUNT; op++)
        ng__optable_set_cuda(op, h ? h->fw[op] : NULL, h ? h->bw[op] : NULL);
}
const ng_cuda_hooks *ng_cuda_get_hooks(void) { return ng__cuda_hooks_p; }

int ng_cuda_available(void) { return ng__cuda_hooks_p && ng__cuda_hooks_p->device_count() > 0; }

ng_status ng_cuda_init(int device) {
    ng_status s;
    if (!ng__cuda_hooks_p) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: built without the CUDA backend (build with `make cuda` and link build/nasgan_cuda.o)");
    if (ng__cuda_hooks_p->device_count() <= 0) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: no CUDA device is visible");
    s = ng__cuda_hooks_p->init(device);
    if (s == NG_OK) ng__cuda_ready = 1;
    return s;
}
int ng_cuda_ready(void) { return ng__cuda_ready; }
const char *ng_cuda_device_info(void) { return ng__cuda_ready ? ng__cuda_hooks_p->info() : ""; }
void ng_cuda_set_tf32(int on) { if (ng__cuda_ready) ng__cuda_hooks_p->set_tf32(on); }
ng_status ng_cuda_synchronize(void) {
    if (!ng__cuda_ready) return ng_fail(NG_ERR_UNSUPPORTED, "cuda: not initialised (call ng_cuda_init)");
    return ng__cuda_hooks_p->synchronize() ? ng_fail(NG_ERR_UNSUPPORTED, "cuda: a kernel failed (see stderr)") : NG_OK;
}
size_t ng_cuda_peak_bytes(void) { return ng__cuda_ready ? ng__cuda_hooks_p->peak_bytes() : 0; }
size_t ng_cuda_mem_free(void) { return ng__cuda_ready && ng__cuda_hooks_p->mem_free ? ng__cuda_hooks_p->mem_free() : 0; }
int ng_cuda_op_supported(int op, int backward) { return ng__cuda_ready && ng__optable_has_cuda(op, backward); }

/* ---- internal helpers for the tape and tensor parts ---- */
void *ng__cuda_arena_alloc(ng_ctx *ctx, size_t bytes) { return ng_arena_alloc(&ctx->dev_arena, bytes); }
void ng__cuda_arena_free(ng_arena *a) {
    if (a->base && ng__cuda_hooks_p) ng__cuda_hooks_p->dev_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}
void ng__cuda_free(void *p) { if (p && ng__cuda_hooks_p) ng__cuda_hooks_p->dev_free(p); }
void ng__memset0(int device, void *p, size_t bytes) {
    if (device == NG_CUDA) { if (ng__cuda_hooks_p) ng__cuda_hooks_p->memset0(p, bytes); }
    else memset(p, 0, bytes);
}
void ng__cuda_copy(void *dst, const void *src, size_t bytes, int kind) {
    if (!ng__cuda_hooks_p || !bytes) return;
    if (kind == 1) ng__cuda_hooks_p->memcpy_h2d(dst, src, bytes);
    else if (kind == 2) ng__cuda_hooks_p->memcpy_d2h(dst, src, bytes);
    else ng__cuda_hooks_p->memcpy_d2d(dst, src, bytes);
}

float *ng__cuda_in_grad(ng_node *n, int k) { return ng__in_grad(n, k); }
float *ng__cuda_scratch(ng_node *n, int64_t nfloats) { return ng__falloc(n->ctx, nfloats > 0 ? nfloats : 1); }
void *ng__cuda_host_scratch(ng_node *n, size_t bytes) { return ng__alloc(n->ctx, bytes ? bytes : 1); }
void ng__cuda_op_fail(ng_node *n, const char *what) {
    if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
    ng_fail(NG_ERR_UNSUPPORTED, "%s (CUDA): %s", ng_op_name(n->op), what);
}

int ng__cuda_refuse(ng_ctx *ctx, int device, const char *what) {
    if (device != NG_CUDA) return 0;
    if (ctx && ctx->status == NG_OK) ctx->status = NG_ERR_UNSUPPORTED;
    ng_fail(NG_ERR_UNSUPPORTED, "%s: runs on the host only and its data is on the GPU (no CUDA path yet)", what);
    return 1;
}

/* ---- contexts, tensors and parameter groups on the device ---- */
ng_ctx *ng_ctx_create_on(size_t arena_bytes, uint64_t seed, ng_device device) {
    ng_ctx *ctx;
    if (device == NG_CPU) return ng_ctx_create(arena_bytes, seed);
    if (!ng__cuda_ready) { ng_fail(NG_ERR_UNSUPPORTED, "context: CUDA is not initialised (call ng_cuda_init first)"); return NULL; }
    /* host arena: tensor headers, tape inputs, small host scratch (dropout masks, labels):
       an eighth of the device arena, between 1 MiB and 1 GiB */
    {
        size_t host = arena_bytes / 8;
        if (host < ((size_t)1 << 20)) host = (size_t)1 << 20;
        if (host > ((size_t)1 << 30)) host = (size_t)1 << 30;
        ctx = ng_ctx_create(host, seed);
    }
    if (!ctx) return NULL;
    ctx->dev_arena.base = (unsigned char *)ng__cuda_hooks_p->dev_malloc(arena_bytes);
    if (!ctx->dev_arena.base) {
        ng_ctx_free(ctx);
        ng_fail(NG_ERR_NOMEM, "context: cannot allocate a %zu-byte device arena", arena_bytes);
        return NULL;
    }
    ctx->dev_arena.cap = arena_bytes;
    ctx->dev_arena.used = ctx->dev_arena.peak = 0;
    ctx->device = NG_CUDA;
    return ctx;
}

ng_status ng_params_to_device(ng_params *g, ng_device device) {
    size_t bytes = (size_t)(g->numel ? g->numel : 1) * sizeof(float);
    int i;
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "params %s: allocate the group before moving it", g->name);
    if ((int)device == g->device) return NG_OK;
    if (device == NG_CUDA) {
        float *d, *gd = NULL;
        if (!ng__cuda_ready) return ng_fail(NG_ERR_UNSUPPORTED, "params %s: CUDA is not initialised (call ng_cuda_init first)", g->name);
        d = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
        if (g->grad) gd = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
        if (!d || (g->grad && !gd)) {
            ng__cuda_free(d); ng__cuda_free(gd);
            return ng_fail(NG_ERR_NOMEM, "params %s: cannot allocate %zu device bytes", g->name, bytes);
        }
        ng__cuda_hooks_p->memcpy_h2d(d, g->data, bytes);
        if (gd) ng__cuda_hooks_p->memcpy_h2d(gd, g->grad, bytes);
        g->host_data = g->data; g->host_grad = g->grad;
        g->data = d; g->grad = gd;
    } else {
        ng_params_sync_host(g);
        ng__cuda_free(g->data); ng__cuda_free(g->grad);
        g->data = g->host_data; g->grad = g->host_grad;
        g->host_data = g->host_grad = NULL;
    }
    g->device = device;
    for (i = 0; i < g->n; i++) {
        ng_tensor *t = g->tensors[i];
        t->data = g->data + g->offsets[i];
        t->grad = g->grad ? g->grad + g->offsets[i] : NULL;
        t->device = device;
    }
    return NG_OK;
}

ng_status ng_params_sync_host(ng_params *g) {
    size_t bytes = (size_t)(g->numel ? g->numel : 1) * sizeof(float);
    if (g->device != NG_CUDA) return NG_OK;
    if (ng__cuda_hooks_p->memcpy_d2h(g->host_data, g->data, bytes) ||
        (g->grad && ng__cuda_hooks_p->memcpy_d2h(g->host_grad, g->grad, bytes)))
        return ng_fail(NG_ERR_UNSUPPORTED, "params %s: device-to-host copy failed", g->name);
    return NG_OK;
}

ng_status ng_tensor_to_host(const ng_tensor *t, float *dst) {
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (t->device != NG_CUDA) { memcpy(dst, t->data, bytes); return NG_OK; }
    if (!ng__cuda_hooks_p || ng__cuda_hooks_p->memcpy_d2h(dst, t->data, bytes))
        return ng_fail(NG_ERR_UNSUPPORTED, "tensor %s: device-to-host copy failed", t->name ? t->name : "(activation)");
    return NG_OK;
}
ng_status ng_tensor_to_device(ng_tensor *t, const float *src) {
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (t->device != NG_CUDA) { memcpy(t->data, src, bytes); return NG_OK; }
    if (!ng__cuda_hooks_p || ng__cuda_hooks_p->memcpy_h2d(t->data, src, bytes))
        return ng_fail(NG_ERR_UNSUPPORTED, "tensor %s: host-to-device copy failed", t->name ? t->name : "(activation)");
    return NG_OK;
}
ng_tensor *ng_tensor_copy_to(ng_ctx *ctx, const ng_tensor *t) {
    ng_tensor *c = ng_tensor_new(ctx, t->shape);
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (!c) return NULL;
    if (c->device == NG_CPU && t->device == NG_CPU) memcpy(c->data, t->data, bytes);
    else if (!ng__cuda_hooks_p) { ng_fail(NG_ERR_UNSUPPORTED, "tensor copy: CUDA backend not linked"); return NULL; }
    else ng__cuda_copy(c->data, t->data, bytes, c->device == NG_CUDA ? (t->device == NG_CUDA ? 3 : 1) : 2);
    return c;
}

float *ng_cuda_alloc_zeros(int64_t n) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    float *p;
    if (!ng__cuda_ready) { ng_fail(NG_ERR_UNSUPPORTED, "cuda: not initialised"); return NULL; }
    p = (float *)ng__cuda_hooks_p->dev_malloc(bytes);
    if (p) ng__cuda_hooks_p->memset0(p, bytes);
    else ng_fail(NG_ERR_NOMEM, "cuda: cannot allocate %zu device bytes", bytes);
    return p;
}
void ng_cuda_free(void *p) { ng__cuda_free(p); }
