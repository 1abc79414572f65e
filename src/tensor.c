/* ======================================================================================== */
/* @@TENSOR                                                                                 */
/* ======================================================================================== */
static ng_shape ng__shape(int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    ng_shape s;
    s.ndim = nd; s.d[0] = a; s.d[1] = b; s.d[2] = c; s.d[3] = d;
    return s;
}
ng_shape ng_shape1(int64_t a) { return ng__shape(1, a, 1, 1, 1); }
ng_shape ng_shape2(int64_t a, int64_t b) { return ng__shape(2, a, b, 1, 1); }
ng_shape ng_shape3(int64_t a, int64_t b, int64_t c) { return ng__shape(3, a, b, c, 1); }
ng_shape ng_shape4(int64_t a, int64_t b, int64_t c, int64_t d) { return ng__shape(4, a, b, c, d); }

int64_t ng_shape_numel(ng_shape s) {
    int64_t n = 1;
    int i;
    if (s.ndim < 0 || s.ndim > NG_MAX_DIMS) return -1;
    for (i = 0; i < s.ndim; i++)
        if (ng_mul_i64(n, s.d[i], &n)) return -1;
    return n;
}
int ng_shape_eq(ng_shape a, ng_shape b) {
    int i;
    if (a.ndim != b.ndim) return 0;
    for (i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i]) return 0;
    return 1;
}

static char *ng__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

ng_params *ng_params_create(const char *name, int trainable) {
    ng_params *g = (ng_params *)calloc(1, sizeof *g);
    if (!g) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", name); return NULL; }
    snprintf(g->name, sizeof g->name, "%s", name);
    g->trainable = trainable;
    return g;
}

void ng_params_free(ng_params *g) {
    int i;
    if (!g) return;
    for (i = 0; i < g->n; i++) {
        free((void *)g->tensors[i]->name);
        free(g->tensors[i]);
    }
    free(g->tensors);
    free(g->offsets);
    if (g->device == NG_CUDA) {
        ng__cuda_free(g->data);
        ng__cuda_free(g->grad);
        g->data = g->host_data;
        g->grad = g->host_grad;
    }
    ng_aligned_free(g->data);
    ng_aligned_free(g->grad);
    free(g);
}

ng_tensor *ng_params_find(const ng_params *g, const char *name) {
    int i;
    for (i = 0; i < g->n; i++)
        if (strcmp(g->tensors[i]->name, name) == 0) return g->tensors[i];
    return NULL;
}

ng_tensor *ng_params_add(ng_params *g, const char *name, ng_shape shape) {
    int64_t numel = ng_shape_numel(shape);
    ng_tensor *t;
    if (g->allocated) { ng_fail(NG_ERR_ARG, "params '%s': add '%s' after alloc", g->name, name); return NULL; }
    if (numel < 0 || g->numel > INT64_MAX - numel) {
        ng_fail(NG_ERR_ARG, "params '%s': bad or overflowing shape for '%s'", g->name, name);
        return NULL;
    }
    if (ng_params_find(g, name)) { ng_fail(NG_ERR_ARG, "params '%s': duplicate name '%s'", g->name, name); return NULL; }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        ng_tensor **nt = (ng_tensor **)realloc(g->tensors, (size_t)cap * sizeof *nt);
        int64_t *no;
        if (!nt) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
        g->tensors = nt;
        no = (int64_t *)realloc(g->offsets, (size_t)cap * sizeof *no);
        if (!no) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
        g->offsets = no;
        g->cap = cap;
    }
    t = (ng_tensor *)calloc(1, sizeof *t);
    if (!t) { ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
    t->name = ng__strdup(name);
    if (!t->name) { free(t); ng_fail(NG_ERR_NOMEM, "params '%s': out of memory", g->name); return NULL; }
    t->shape = shape;
    t->numel = numel;
    t->owner = g;
    g->tensors[g->n] = t;
    g->offsets[g->n] = g->numel;
    g->n++;
    g->numel += numel;
    return t;
}

ng_status ng_params_alloc(ng_params *g) {
    size_t bytes;
    int i;
    if (g->allocated) return ng_fail(NG_ERR_ARG, "params '%s': allocated twice", g->name);
    if (ng_mul_size((size_t)(g->numel ? g->numel : 1), sizeof(float), &bytes))
        return ng_fail(NG_ERR_NOMEM, "params '%s': size overflow", g->name);
    g->data = (float *)ng_aligned_alloc(bytes);
    g->grad = g->trainable ? (float *)ng_aligned_alloc(bytes) : NULL;
    if (!g->data || (g->trainable && !g->grad))
        return ng_fail(NG_ERR_NOMEM, "params '%s': cannot allocate %zu bytes", g->name, bytes);
    memset(g->data, 0, bytes);
    if (g->grad) memset(g->grad, 0, bytes);
    for (i = 0; i < g->n; i++) {
        g->tensors[i]->data = g->data + g->offsets[i];
        g->tensors[i]->grad = g->grad ? g->grad + g->offsets[i] : NULL;
    }
    g->allocated = 1;
    return NG_OK;
}

void ng_params_zero_grad(ng_params *g) {
    if (g->grad) ng__memset0(g->device, g->grad, (size_t)g->numel * sizeof(float));
}

int ng_params_same_layout(const ng_params *a, const ng_params *b) {
    int i;
    if (a->n != b->n || a->numel != b->numel) return 0;
    for (i = 0; i < a->n; i++)
        if (strcmp(a->tensors[i]->name, b->tensors[i]->name) ||
            !ng_shape_eq(a->tensors[i]->shape, b->tensors[i]->shape))
            return 0;
    return 1;
}

ng_status ng_params_copy(ng_params *dst, const ng_params *src) {
    if (!ng_params_same_layout(dst, src) || !dst->allocated || !src->allocated)
        return ng_fail(NG_ERR_MISMATCH, "params copy: '%s' and '%s' differ in layout", dst->name, src->name);
    if (dst->device == NG_CPU && src->device == NG_CPU) memcpy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    else ng__cuda_copy(dst->data, src->data, (size_t)src->numel * sizeof(float),
                       dst->device == NG_CUDA ? (src->device == NG_CUDA ? 3 : 1) : 2);
    return NG_OK;
}
