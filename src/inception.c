/* ---- the FID Inception-v3 (see @@INCEPTION in the declarations) ---- */

/* ---- architecture table ----
   One row per BasicConv2d in torchvision's registration order, which is also the order in
   which the forward below consumes them (every block computes its branches in that order).
   Each row contributes five tensors: conv.weight, bn.weight, bn.bias, bn.running_mean,
   bn.running_var; fc.weight and fc.bias follow the last row. */
#define NG__INC_NCONV 94
#define NG__INC_NTENSOR (5 * NG__INC_NCONV + 2)
#define NG__INC_BN_EPS 1e-3

typedef struct ng__inc_layer {
    char name[40];          /* module path, e.g. "Mixed_5b.branch5x5_2" */
    int cin, cout, kh, kw, stride, ph, pw;
} ng__inc_layer;

typedef struct ng__inc_table {
    ng__inc_layer l[NG__INC_NCONV];
    int n;
} ng__inc_table;

static void ng__inc_add(ng__inc_table *t, const char *block, const char *branch, int cin, int cout, int kh, int kw,
                        int stride, int ph, int pw) {
    ng__inc_layer *l = &t->l[t->n++];
    NG_ASSERT(t->n <= NG__INC_NCONV);
    if (branch) snprintf(l->name, sizeof l->name, "%s.%s", block, branch);
    else snprintf(l->name, sizeof l->name, "%s", block);
    l->cin = cin; l->cout = cout; l->kh = kh; l->kw = kw; l->stride = stride; l->ph = ph; l->pw = pw;
}

static void ng__inc_block_a(ng__inc_table *t, const char *b, int cin, int pool) {
    ng__inc_add(t, b, "branch1x1", cin, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch5x5_1", cin, 48, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    ng__inc_add(t, b, "branch3x3dbl_1", cin, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch_pool", cin, pool, 1, 1, 1, 0, 0);
}

static void ng__inc_block_c(ng__inc_table *t, const char *b, int c7) {
    ng__inc_add(t, b, "branch1x1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7_1", 768, c7, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_1", 768, c7, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    ng__inc_add(t, b, "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    ng__inc_add(t, b, "branch_pool", 768, 192, 1, 1, 1, 0, 0);
}

static void ng__inc_block_e(ng__inc_table *t, const char *b, int cin) {
    ng__inc_add(t, b, "branch1x1", cin, 320, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3_1", cin, 384, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    ng__inc_add(t, b, "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    ng__inc_add(t, b, "branch3x3dbl_1", cin, 448, 1, 1, 1, 0, 0);
    ng__inc_add(t, b, "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    ng__inc_add(t, b, "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    ng__inc_add(t, b, "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    ng__inc_add(t, b, "branch_pool", cin, 192, 1, 1, 1, 0, 0);
}

/* Built on every call (a few microseconds): no global state. */
static void ng__inc_build_table(ng__inc_table *t) {
    t->n = 0;
    ng__inc_add(t, "Conv2d_1a_3x3", NULL, 3, 32, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Conv2d_2a_3x3", NULL, 32, 32, 3, 3, 1, 0, 0);
    ng__inc_add(t, "Conv2d_2b_3x3", NULL, 32, 64, 3, 3, 1, 1, 1);
    ng__inc_add(t, "Conv2d_3b_1x1", NULL, 64, 80, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Conv2d_4a_3x3", NULL, 80, 192, 3, 3, 1, 0, 0);
    ng__inc_block_a(t, "Mixed_5b", 192, 32);
    ng__inc_block_a(t, "Mixed_5c", 256, 64);
    ng__inc_block_a(t, "Mixed_5d", 288, 64);
    ng__inc_add(t, "Mixed_6a", "branch3x3", 288, 384, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_1", 288, 64, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    ng__inc_add(t, "Mixed_6a", "branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
    ng__inc_block_c(t, "Mixed_6b", 128);
    ng__inc_block_c(t, "Mixed_6c", 160);
    ng__inc_block_c(t, "Mixed_6d", 160);
    ng__inc_block_c(t, "Mixed_6e", 192);
    ng__inc_add(t, "Mixed_7a", "branch3x3_1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_1", 768, 192, 1, 1, 1, 0, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
    ng__inc_add(t, "Mixed_7a", "branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
    ng__inc_block_e(t, "Mixed_7b", 1280);
    ng__inc_block_e(t, "Mixed_7c", 2048);
    NG_ASSERT(t->n == NG__INC_NCONV);
}

static const char *const ng__inc_suffix[5] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                              "bn.running_var"};

/* Name and shape of tensor i of the table (name written into buf). */
static void ng__inc_tensor(const ng__inc_table *t, int i, char *buf, size_t cap, ng_shape *shape) {
    if (i >= 5 * NG__INC_NCONV) {
        int fc = i - 5 * NG__INC_NCONV;
        snprintf(buf, cap, "%s", fc == 0 ? "fc.weight" : "fc.bias");
        *shape = fc == 0 ? ng_shape2(NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES) : ng_shape1(NG_INCEPTION_CLASSES);
    } else {
        const ng__inc_layer *l = &t->l[i / 5];
        snprintf(buf, cap, "%s.%s", l->name, ng__inc_suffix[i % 5]);
        *shape = i % 5 == 0 ? ng_shape4(l->cout, l->cin, l->kh, l->kw) : ng_shape1(l->cout);
    }
}

int ng_inception_tensor_count(void) { return NG__INC_NTENSOR; }

ng_status ng_inception_tensor_info(int i, char *name, size_t cap, ng_shape *shape) {
    ng__inc_table t;
    char buf[64];
    ng_shape s;
    if (i < 0 || i >= NG__INC_NTENSOR) return ng_fail(NG_ERR_ARG, "inception tensor %d: out of range", i);
    ng__inc_build_table(&t);
    ng__inc_tensor(&t, i, buf, sizeof buf, &s);
    if (name && cap) snprintf(name, cap, "%s", buf);
    if (shape) *shape = s;
    return NG_OK;
}

ng_status ng_inception_params_layout(ng_params *g) {
    ng__inc_table t;
    char name[64];
    ng_shape s;
    int i;
    if (!g || g->allocated || g->n != 0) return ng_fail(NG_ERR_ARG, "inception layout: needs an empty, unallocated group");
    ng__inc_build_table(&t);
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng__inc_tensor(&t, i, name, sizeof name, &s);
        if (!ng_params_add(g, name, s)) return NG_ERR_ARG;
    }
    return NG_OK;
}

/* ---- the loaded network ---- */
typedef struct ng__inc_conv {
    ng__inc_layer geo;
    float *w;               /* (cout, cin kh kw), batch norm folded in */
    float *b;               /* (cout) */
} ng__inc_conv;

struct ng_inception {
    ng__inc_conv conv[NG__INC_NCONV];
    float *fc_w;            /* (1008, 2048) */
    float *fc_b;            /* (1008) */
    float *block;           /* one allocation holding every array above */
    int64_t nfloats;        /* its size */
    float *dev_block;       /* a copy of block on the GPU (ng_inception_to_device), or NULL */
    int preprocess;         /* NG_INCEPTION_PYTORCH_FID or NG_INCEPTION_TF1 */
    char id[NG_FEAT_ID_MAX];
};

void ng_inception_free(ng_inception *net) {
    if (!net) return;
    ng__cuda_free(net->dev_block);
    free(net->block);
    free(net);
}

ng_status ng_inception_to_device(ng_inception *net, ng_device device) {
    const ng_cuda_hooks *h = ng_cuda_get_hooks();
    size_t bytes;
    if (!net) return ng_fail(NG_ERR_ARG, "inception: NULL network");
    if (device == NG_CPU) {
        ng__cuda_free(net->dev_block);
        net->dev_block = NULL;
        return NG_OK;
    }
    if (device != NG_CUDA) return ng_fail(NG_ERR_ARG, "inception: unknown device %d", (int)device);
    if (net->dev_block) return NG_OK;
    if (!ng_cuda_ready()) return ng_fail(NG_ERR_UNSUPPORTED, "inception: CUDA is not initialised (call ng_cuda_init first)");
    if (!h->inc_conv) return ng_fail(NG_ERR_UNSUPPORTED, "inception: this CUDA backend has no Inception kernels");
    bytes = (size_t)net->nfloats * sizeof(float);
    if (!(net->dev_block = (float *)h->dev_malloc(bytes)))
        return ng_fail(NG_ERR_NOMEM, "inception: cannot allocate %zu device bytes for the weights", bytes);
    if (h->memcpy_h2d(net->dev_block, net->block, bytes)) {
        ng__cuda_free(net->dev_block);
        net->dev_block = NULL;
        return ng_fail(NG_ERR_UNSUPPORTED, "inception: copying the weights to the GPU failed (see stderr)");
    }
    return NG_OK;
}

ng_device ng_inception_device(const ng_inception *net) { return net && net->dev_block ? NG_CUDA : NG_CPU; }

void ng_inception_identity(const ng_inception *net, char *buf, size_t cap) {
    const char *base = net ? net->id : "inception_fid/pool3_2048/crc32=none";
    const char *suffix = net && net->preprocess == NG_INCEPTION_TF1 ? "/tf1" : "";
    size_t lb = strlen(base), ls = strlen(suffix);
    if (!buf || cap == 0) return;
    if (lb > cap - 1) lb = cap - 1;
    if (ls > cap - 1 - lb) ls = cap - 1 - lb;
    memcpy(buf, base, lb);
    memcpy(buf + lb, suffix, ls);
    buf[lb + ls] = '\0';
}

ng_status ng_inception_set_preprocess(ng_inception *net, int mode) {
    if (!net || (mode != NG_INCEPTION_PYTORCH_FID && mode != NG_INCEPTION_TF1))
        return ng_fail(NG_ERR_ARG, "inception: preprocessing mode %d is not NG_INCEPTION_PYTORCH_FID or NG_INCEPTION_TF1", mode);
    net->preprocess = mode;
    return NG_OK;
}
int ng_inception_preprocess_mode(const ng_inception *net) { return net ? net->preprocess : NG_INCEPTION_PYTORCH_FID; }

/* ---- writing weight files ---- */
static ng_status ng__inc_ckpt(const ng_params *g, ng_ckpt **out) {
    unsigned char fmt[8] = {'N', 'G', 'I', 'N', 0, 0, 0, 0};
    ng_ckpt *ck;
    ng_status st;
    *out = NULL;
    if (!g || strcmp(g->name, NG_INCEPTION_GROUP) != 0)
        return ng_fail(NG_ERR_ARG, "inception save: the group must be named '%s'", NG_INCEPTION_GROUP);
    ng__le32(fmt + 4, NG_INCEPTION_FORMAT_VERSION);
    ck = ng_ckpt_new();
    if (!ck) return ng_fail(NG_ERR_NOMEM, "inception save: out of memory");
    st = ng_ckpt_put(ck, "inception/format", fmt, sizeof fmt);
    if (st == NG_OK) st = ng_ckpt_put_params(ck, g);
    if (st != NG_OK) { ng_ckpt_free(ck); return st; }
    *out = ck;
    return NG_OK;
}

ng_status ng_inception_serialize_params(const ng_params *g, unsigned char **out, size_t *n) {
    ng_ckpt *ck;
    ng_status st = ng__inc_ckpt(g, &ck);
    if (st != NG_OK) return st;
    st = ng_ckpt_serialize(ck, out, n);
    ng_ckpt_free(ck);
    return st;
}

ng_status ng_inception_save_params(const ng_params *g, const char *path) {
    ng_ckpt *ck;
    ng_status st = ng__inc_ckpt(g, &ck);
    if (st != NG_OK) return st;
    st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st;
}

/* ---- loading ---- */

/* Where each expected tensor's values start in the parameter record (NULL: not seen yet). */
typedef struct ng__inc_index {
    ng__inc_table t;
    const unsigned char *at[NG__INC_NTENSOR];
} ng__inc_index;

static int ng__inc_find(const ng__inc_table *t, const unsigned char *name, uint32_t len, ng_shape *shape) {
    char buf[64];
    int i;
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng__inc_tensor(t, i, buf, sizeof buf, shape);
        if (strlen(buf) == len && memcmp(buf, name, len) == 0) return i;
    }
    return -1;
}

static ng_status ng__inc_check_format(const ng_ckpt *ck, const char *name) {
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, "inception/format", &n);
    if (!p || ng_ckpt_kind_of(ck, "inception/format") != NG_CKPT_RAW)
        return ng_fail(NG_ERR_FORMAT, "'%s' is a nasgan checkpoint but not an Inception weight file (no 'inception/format' "
                       "record; convert the .pth with scripts/convert_inception.py)", name);
    if (n != 8 || memcmp(p, "NGIN", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': malformed 'inception/format' record (%zu bytes)", name, n);
    if (ng__rd32(p + 4) != NG_INCEPTION_FORMAT_VERSION)
        return ng_fail(NG_ERR_FORMAT, "'%s': Inception weight format version %u; this build reads version %u", name,
                       ng__rd32(p + 4), NG_INCEPTION_FORMAT_VERSION);
    return NG_OK;
}

/* Walk the tensor table of the (already validated) parameter record: every tensor must be
   expected, once, with the expected shape; then every expected tensor must have been seen. */
static ng_status ng__inc_index_record(const ng_ckpt *ck, const char *name, ng__inc_index *ix) {
    const char *key = "params/" NG_INCEPTION_GROUP;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, key, &n);
    const unsigned char *tname;
    const unsigned char *values;
    uint32_t count, i, len, nd, d;
    uint64_t dims[NG_MAX_DIMS], numel;
    int64_t off[NG__INC_NTENSOR];
    ng__rd r;
    memset(ix->at, 0, sizeof ix->at);
    ng__inc_build_table(&ix->t);
    if (!p || ng_ckpt_kind_of(ck, key) != NG_CKPT_PARAMS)
        return ng_fail(NG_ERR_FORMAT, "'%s': no parameter record '%s'", name, key);
    /* the checkpoint parser validated this record's framing: the reads below cannot fail */
    r.p = p; r.n = n; r.pos = 0;
    if (ng__r32(&r, &count)) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table", name);
    for (i = 0; i < count; i++) {
        ng_shape want;
        int idx, same, k;
        if (ng__r32(&r, &len) || ng__rbytes(&r, len, &tname) || ng__r32(&r, &nd) || nd > NG_MAX_DIMS)
            return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table at tensor #%u", name, i);
        for (d = 0; d < nd; d++)
            if (ng__r64(&r, &dims[d])) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table at tensor #%u", name, i);
        idx = ng__inc_find(&ix->t, tname, len, &want);
        if (idx < 0)
            return ng_fail(NG_ERR_MISMATCH, "'%s': unexpected tensor '%.*s' (not part of the FID Inception-v3)", name,
                           (int)(len > 200 ? 200 : len), (const char *)tname);
        if (ix->at[idx])
            return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%.*s' appears twice", name, (int)len, (const char *)tname);
        same = (int)nd == want.ndim;
        for (k = 0; same && k < want.ndim; k++) same = dims[k] == (uint64_t)want.d[k];
        if (!same) {
            char a[128], b[128];
            uint64_t wd[NG_MAX_DIMS];
            for (k = 0; k < want.ndim; k++) wd[k] = (uint64_t)want.d[k];
            ng__fmt_dims(a, sizeof a, (int)nd, dims);
            ng__fmt_dims(b, sizeof b, want.ndim, wd);
            return ng_fail(NG_ERR_MISMATCH, "'%s': tensor '%.*s' has shape %s, expected %s", name, (int)len,
                           (const char *)tname, a, b);
        }
        ix->at[idx] = p;     /* seen; the value offset is resolved below */
        off[idx] = (int64_t)i;   /* position in the file */
    }
    if (ng__r64(&r, &numel)) return ng_fail(NG_ERR_FORMAT, "'%s': bad tensor table", name);
    values = p + r.pos;
    for (i = 0; i < (uint32_t)NG__INC_NTENSOR; i++) {
        if (!ix->at[i]) {
            char buf[64];
            ng_shape s;
            ng__inc_tensor(&ix->t, (int)i, buf, sizeof buf, &s);
            return ng_fail(NG_ERR_MISMATCH, "'%s': missing tensor '%s'", name, buf);
        }
    }
    /* every expected tensor is present exactly once and nothing else is: the file order is a
       permutation of the table; place each tensor's values by its file position */
    {
        int64_t start[NG__INC_NTENSOR], pos = 0;
        int order[NG__INC_NTENSOR], j;
        for (j = 0; j < NG__INC_NTENSOR; j++) order[off[j]] = j;
        for (j = 0; j < NG__INC_NTENSOR; j++) {
            ng_shape s;
            char buf[64];
            ng__inc_tensor(&ix->t, order[j], buf, sizeof buf, &s);
            start[order[j]] = pos;
            pos += ng_shape_numel(s);
        }
        for (j = 0; j < NG__INC_NTENSOR; j++) ix->at[j] = values + 4 * (size_t)start[j];
    }
    return NG_OK;
}

/* Finite values everywhere and a non-negative running variance: anything else would turn
   the features into NaN far from the cause. */
static ng_status ng__inc_check_values(const ng__inc_index *ix, const char *name) {
    char buf[64];
    int i;
    for (i = 0; i < NG__INC_NTENSOR; i++) {
        ng_shape s;
        int64_t k, n;
        ng__inc_tensor(&ix->t, i, buf, sizeof buf, &s);
        n = ng_shape_numel(s);
        for (k = 0; k < n; k++) {
            float v = ng__bits_f32(ng__rd32(ix->at[i] + 4 * k));
            if (!isfinite(v)) return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%s' has a non-finite value at element %lld", name, buf, (long long)k);
            if (i < 5 * NG__INC_NCONV && i % 5 == 4 && v < 0)
                return ng_fail(NG_ERR_FORMAT, "'%s': tensor '%s' has a negative variance (%g) at element %lld", name, buf, (double)v, (long long)k);
        }
    }
    return NG_OK;
}

static float ng__inc_val(const unsigned char *at, int64_t k) { return ng__bits_f32(ng__rd32(at + 4 * k)); }

/* Fold conv + batch norm (eps 1e-3, running statistics) into one convolution with a bias:
   w' = w g / sqrt(v + eps), b' = beta - m g / sqrt(v + eps), computed in double. */
static void ng__inc_fold(ng__inc_conv *c, const unsigned char *const at[5]) {
    int64_t k, kk = (int64_t)c->geo.cin * c->geo.kh * c->geo.kw;
    int o;
    for (o = 0; o < c->geo.cout; o++) {
        double s = (double)ng__inc_val(at[1], o) / sqrt((double)ng__inc_val(at[4], o) + NG__INC_BN_EPS);
        for (k = 0; k < kk; k++) c->w[o * kk + k] = (float)((double)ng__inc_val(at[0], o * kk + k) * s);
        c->b[o] = (float)((double)ng__inc_val(at[2], o) - (double)ng__inc_val(at[3], o) * s);
    }
}

static ng_status ng__inc_build(const ng__inc_index *ix, ng_inception **out) {
    ng_inception *net = (ng_inception *)calloc(1, sizeof *net);
    int64_t total = (int64_t)NG_INCEPTION_CLASSES * (NG_INCEPTION_FEATURES + 1), k, pos;
    uint32_t crc = 0;
    int i;
    if (!net) return ng_fail(NG_ERR_NOMEM, "inception load: out of memory");
    for (i = 0; i < NG__INC_NCONV; i++) {
        const ng__inc_layer *l = &ix->t.l[i];
        total += (int64_t)l->cout * (l->cin * l->kh * l->kw + 1);
    }
    net->nfloats = total;
    net->block = (float *)malloc((size_t)total * sizeof(float));
    if (!net->block) { free(net); return ng_fail(NG_ERR_NOMEM, "inception load: out of memory for %lld weights", (long long)total); }
    pos = 0;
    for (i = 0; i < NG__INC_NCONV; i++) {
        ng__inc_conv *c = &net->conv[i];
        c->geo = ix->t.l[i];
        c->w = net->block + pos;
        pos += (int64_t)c->geo.cout * c->geo.cin * c->geo.kh * c->geo.kw;
        c->b = net->block + pos;
        pos += c->geo.cout;
        ng__inc_fold(c, ix->at + 5 * i);
    }
    net->fc_w = net->block + pos;
    net->fc_b = net->fc_w + (int64_t)NG_INCEPTION_CLASSES * NG_INCEPTION_FEATURES;
    for (k = 0; k < (int64_t)NG_INCEPTION_CLASSES * NG_INCEPTION_FEATURES; k++) net->fc_w[k] = ng__inc_val(ix->at[5 * NG__INC_NCONV], k);
    for (k = 0; k < NG_INCEPTION_CLASSES; k++) net->fc_b[k] = ng__inc_val(ix->at[5 * NG__INC_NCONV + 1], k);
    for (i = 0; i < NG__INC_NTENSOR; i++) {      /* identity: raw file values, table order */
        char buf[64];
        ng_shape s;
        ng__inc_tensor(&ix->t, i, buf, sizeof buf, &s);
        crc = ng_crc32(crc, ix->at[i], 4 * (size_t)ng_shape_numel(s));
    }
    snprintf(net->id, sizeof net->id, "inception_fid/pool3_%d/crc32=%08x", NG_INCEPTION_FEATURES, (unsigned)crc);
    *out = net;
    return NG_OK;
}

static ng_status ng__inc_from_ckpt(const ng_ckpt *ck, const char *name, ng_inception **out) {
    ng__inc_index *ix = (ng__inc_index *)malloc(sizeof *ix);
    ng_status st;
    if (!ix) return ng_fail(NG_ERR_NOMEM, "inception load: out of memory");
    st = ng__inc_check_format(ck, name);
    if (st == NG_OK) st = ng__inc_index_record(ck, name, ix);
    if (st == NG_OK) st = ng__inc_check_values(ix, name);
    if (st == NG_OK) st = ng__inc_build(ix, out);
    free(ix);
    return st;
}

ng_status ng_inception_parse(const unsigned char *buf, size_t n, const char *name, ng_inception **out) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "inception parse: NULL output");
    *out = NULL;
    if (!name) name = "(memory)";
    if ((st = ng_ckpt_parse(buf, n, name, &ck)) != NG_OK) return st;
    st = ng__inc_from_ckpt(ck, name, out);
    ng_ckpt_free(ck);
    return st;
}

void ng_inception_random_params(ng_params *g, uint64_t seed) {
    ng_rng r;
    int t;
    ng_rng_seed(&r, seed);
    for (t = 0; t < g->n; t++) {
        ng_tensor *x = g->tensors[t];
        const char *name = x->name;
        double a = 0.2, base = 0.0;                                 /* bn.bias, bn.running_mean, fc.bias */
        int64_t k;
        if (x->shape.ndim == 4) a = sqrt(6.0 / (double)(x->numel / x->shape.d[0]));   /* conv: He-uniform */
        else if (strstr(name, ".bn.weight") || strstr(name, ".bn.running_var")) { a = 0.25; base = 1.0; }
        else if (!strcmp(name, "fc.weight")) a = sqrt(3.0 / NG_INCEPTION_FEATURES);
        for (k = 0; k < x->numel; k++) x->data[k] = (float)(base + (2 * ng_rng_uniform(&r) - 1) * a);
    }
}

ng_status ng_inception_random(uint64_t seed, ng_inception **out) {
    ng_params *g;
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "inception random: NULL output");
    *out = NULL;
    if (!(g = ng_params_create(NG_INCEPTION_GROUP, 0))) return ng_fail(NG_ERR_NOMEM, "inception random: out of memory");
    st = ng_inception_params_layout(g);
    if (st == NG_OK) st = ng_params_alloc(g);
    if (st == NG_OK) ng_inception_random_params(g, seed);
    if (st == NG_OK) st = ng_inception_serialize_params(g, &buf, &n);
    if (st == NG_OK) st = ng_inception_parse(buf, n, "random weights", out);
    free(buf);
    ng_params_free(g);
    return st;
}

ng_status ng_inception_load(const char *path, ng_inception **out) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (!out || !path) return ng_fail(NG_ERR_ARG, "inception load: NULL argument");
    *out = NULL;
    if ((st = ng_ckpt_load(path, &ck)) != NG_OK) return st;
    st = ng__inc_from_ckpt(ck, path, out);
    ng_ckpt_free(ck);
    return st;
}

/* ---- forward ----
   Activations are (C, B, H, W): channel-major across the batch, so a convolution over the
   whole batch is one product W (Cout, K) @ cols (K, B Ho Wo), a 1x1 convolution needs no
   im2col at all, and a block's concatenation is just each branch writing its channel range
   of the output. Errors are sticky in the run (like ng_ctx): after the first failure every
   step returns an empty activation, and the caller frees what was allocated.
   On the GPU (net->dev_block) the same steps run on device buffers: the activations and the
   im2col tile are device memory and every layer is one call into the backend's inc_* hooks;
   the architecture below is shared. */
#ifndef NG_INCEPTION_TILE_FLOATS
#define NG_INCEPTION_TILE_FLOATS ((int64_t)1 << 21)   /* im2col tile: 8 MB, fits in L3 on typical hosts */
#endif
#define NG__INC_DEVICE_TILE_FLOATS ((int64_t)1 << 25)   /* on the GPU: 128 MB, GEMMs large enough to fill it */

typedef struct ng__inc_act { float *d; int c, h, w; int64_t cap; } ng__inc_act;   /* (c, B, h, w); cap: floats owned */

/* Freed activations are kept for reuse: every batch allocates the same sizes in the same
   order. On the CPU a cached block serves any request it fits (the smallest such), and at most
   16 are kept: that bounds the memory (peak RSS 416 MB at batch 16), and what it does not
   catch costs only fresh pages (measured: about 5% of the forward). On the GPU, where
   cudaFree waits for the device and cudaMalloc is slow, a block serves only a request of
   exactly its size and up to 64 are kept: after the first batch every request finds its
   block and nothing is allocated or freed until the end of the call (best-fit reuse never
   settles: a smaller request takes the block a later, larger one needed). The price is
   memory: about 36 MB per image of the batch instead of 20. */
#define NG__INC_CACHE 64
#define NG__INC_CACHE_CPU 16
typedef struct ng__inc_run {
    const ng_inception *net;
    const ng_cuda_hooks *gpu;   /* NULL: run on the CPU */
    int B;
    float *col;             /* im2col tile */
    int64_t col_cap;        /* floats */
    float *cache[NG__INC_CACHE];
    int64_t cache_cap[NG__INC_CACHE];
    ng_status st;
} ng__inc_run;

static float *ng__inc_alloc(ng__inc_run *r, int64_t n) {
    float *p;
    int i, best = -1;
    if (r->st != NG_OK) return NULL;
    for (i = 0; i < NG__INC_CACHE; i++)     /* CPU: the smallest cached block that fits; GPU: the same size */
        if (r->cache[i] && (r->gpu ? r->cache_cap[i] == n : r->cache_cap[i] >= n) &&
            (best < 0 || r->cache_cap[i] < r->cache_cap[best]))
            best = i;
    if (best >= 0) {
        p = r->cache[best];
        r->cache[best] = NULL;
        return p;
    }
    p = r->gpu ? (float *)r->gpu->dev_malloc((size_t)n * sizeof(float)) : (float *)malloc((size_t)n * sizeof(float));
    if (!p)
        r->st = ng_fail(NG_ERR_NOMEM, "inception forward: out of %s memory (%lld floats; lower the batch)",
                        r->gpu ? "GPU" : "host", (long long)n);
    return p;
}

static void ng__inc_free(const ng__inc_run *r, float *p) {
    if (r->gpu) ng__cuda_free(p);
    else free(p);
}

/* Back to the cache (or freed when the cache is full); cap is the block's size in floats. */
static void ng__inc_release(ng__inc_run *r, float *p, int64_t cap) {
    int i;
    if (!p) return;
    for (i = 0; i < (r->gpu ? NG__INC_CACHE : NG__INC_CACHE_CPU); i++)
        if (!r->cache[i]) { r->cache[i] = p; r->cache_cap[i] = cap; return; }
    ng__inc_free(r, p);
}

static void ng__inc_cache_free(ng__inc_run *r) {
    int i;
    for (i = 0; i < NG__INC_CACHE; i++) { ng__inc_free(r, r->cache[i]); r->cache[i] = NULL; }
}

/* A weight array of the network where the run happens (its copy in dev_block on the GPU). */
static const float *ng__inc_weights(const ng__inc_run *r, const float *host) {
    return r->gpu ? r->net->dev_block + (host - r->net->block) : host;
}

/* Records a failed backend call (the backend printed the CUDA error). */
static void ng__inc_gpu_check(ng__inc_run *r, int failed, const char *what) {
    if (failed && r->st == NG_OK) r->st = ng_fail(NG_ERR_UNSUPPORTED, "inception forward (CUDA): %s failed (see stderr)", what);
}

static ng__inc_act ng__inc_new(ng__inc_run *r, int c, int h, int w) {
    ng__inc_act a;
    a.c = c; a.h = h; a.w = w;
    a.cap = (int64_t)c * r->B * h * w;
    a.d = ng__inc_alloc(r, a.cap);
    return a;
}

static void ng__inc_drop(ng__inc_run *r, ng__inc_act *a) {
    ng__inc_release(r, a->d, a->cap);
    a->d = NULL;
}

/* Channel c0 onwards of a (C, B, H, W) buffer (NULL stays NULL). */
static float *ng__inc_chan(const ng__inc_run *r, const ng__inc_act *a, int c0) {
    return a->d ? a->d + (int64_t)c0 * r->B * a->h * a->w : NULL;
}

/* Column rows [t0, t0 + nr) of the (K, B Ho Wo) im2col matrix, where a "row" is one (b, oy)
   output line of Wo columns; tile laid out (K, nr Wo). */
static void ng__inc_im2col(const ng__inc_run *r, const ng__inc_layer *l, const ng__inc_act *x, int ho, int wo,
                           int64_t t0, int64_t nr, float *col) {
    const int64_t taps = (int64_t)l->kh * l->kw, K = l->cin * taps, ld = nr * wo;
    const int H = x->h, W = x->w, s = l->stride;
    int64_t k;
    NG__OMP_FOR(K * ld >= 16384)
    for (k = 0; k < K; k++) {
        int ci = (int)(k / taps), dy = (int)(k % taps) / l->kw, dx = (int)(k % taps) % l->kw;
        int64_t rr;
        for (rr = 0; rr < nr; rr++) {
            int b = (int)((t0 + rr) / ho), oy = (int)((t0 + rr) % ho), iy = oy * s - l->ph + dy, ox;
            float *dst = col + k * ld + rr * wo;
            const float *src = x->d + (((int64_t)ci * r->B + b) * H + iy) * W;
            if (iy < 0 || iy >= H) { memset(dst, 0, (size_t)wo * sizeof(float)); continue; }
            if (s == 1) {           /* contiguous: zero the padded ends, copy the middle */
                int lo = l->pw - dx > 0 ? l->pw - dx : 0, hi = W + l->pw - dx < wo ? W + l->pw - dx : wo;
                if (hi < lo) hi = lo;
                for (ox = 0; ox < lo; ox++) dst[ox] = 0;
                if (hi > lo) memcpy(dst + lo, src + lo - l->pw + dx, (size_t)(hi - lo) * sizeof(float));
                for (ox = hi; ox < wo; ox++) dst[ox] = 0;
            } else {
                for (ox = 0; ox < wo; ox++) {
                    int ix = ox * s - l->pw + dx;
                    dst[ox] = ix >= 0 && ix < W ? src[ix] : 0.0f;
                }
            }
        }
    }
}

static void ng__inc_bias_relu(float *y, const float *b, int cout, int64_t n) {
    int o;
    NG__OMP_FOR(cout * n >= 65536)
    for (o = 0; o < cout; o++) {
        float *row = y + (int64_t)o * n, bo = b[o];
        int64_t j;
        for (j = 0; j < n; j++) {
            float v = row[j] + bo;
            row[j] = v > 0 ? v : 0;
        }
    }
}

/* relu(conv(x) + b) of conv ci, written to dst (cout, B, Ho, Wo). */
static ng__inc_act ng__inc_conv_to(ng__inc_run *r, int ci, const ng__inc_act *x, float *dst) {
    const ng__inc_conv *c = &r->net->conv[ci];
    const ng__inc_layer *l = &c->geo;
    ng__inc_act y;
    int64_t K = (int64_t)l->cin * l->kh * l->kw, N, rows, t0, per;
    int pointwise;
    y.c = l->cout;
    y.h = (x->h + 2 * l->ph - l->kh) / l->stride + 1;
    y.w = (x->w + 2 * l->pw - l->kw) / l->stride + 1;
    y.d = dst;              /* the caller owns dst whatever happens */
    y.cap = 0;
    if (r->st != NG_OK || !x->d || !dst) return y;
    NG_ASSERT(x->c == l->cin);
    N = (int64_t)r->B * y.h * y.w;
    rows = (int64_t)r->B * y.h;
    pointwise = l->kh == 1 && l->kw == 1 && l->stride == 1 && l->ph == 0 && l->pw == 0;
    per = (r->gpu ? NG__INC_DEVICE_TILE_FLOATS : NG_INCEPTION_TILE_FLOATS) / (K * y.w);
    if (per < 1) per = 1;
    if (per > rows) per = rows;
    if (!pointwise && r->col_cap < per * y.w * K) {     /* im2col tile: (K, per Wo) */
        ng__inc_free(r, r->col);
        r->col_cap = 0;
        r->col = ng__inc_alloc(r, per * y.w * K);
        if (!r->col) return y;
        r->col_cap = per * y.w * K;
    }
    if (r->gpu) {
        ng_cuda_inc_conv g;
        g.cin = l->cin; g.cout = l->cout; g.kh = l->kh; g.kw = l->kw; g.stride = l->stride; g.ph = l->ph; g.pw = l->pw;
        g.B = r->B; g.h = x->h; g.w = x->w; g.ho = y.h; g.wo = y.w; g.tile_rows = per;
        ng__inc_gpu_check(r, r->gpu->inc_conv(&g, ng__inc_weights(r, c->w), ng__inc_weights(r, c->b), x->d, dst, r->col),
                          l->name);
        return y;
    }
    if (pointwise) {
        ng_sgemm(NG_GEMM_BUILTIN, 0, 0, l->cout, N, K, 1.0f, c->w, K, x->d, N, 0.0f, dst, N);
    } else {
        for (t0 = 0; t0 < rows; t0 += per) {
            int64_t nr = rows - t0 < per ? rows - t0 : per;
            ng__inc_im2col(r, l, x, y.h, y.w, t0, nr, r->col);
            ng_sgemm(NG_GEMM_BUILTIN, 0, 0, l->cout, nr * y.w, K, 1.0f, c->w, K, r->col, nr * y.w, 0.0f,
                     dst + t0 * y.w, N);
        }
    }
    ng__inc_bias_relu(dst, c->b, l->cout, N);
    return y;
}

static ng__inc_act ng__inc_conv_new(ng__inc_run *r, int ci, const ng__inc_act *x) {
    const ng__inc_layer *l = &r->net->conv[ci].geo;
    ng__inc_act y = ng__inc_new(r, l->cout, (x->h + 2 * l->ph - l->kh) / l->stride + 1,
                                (x->w + 2 * l->pw - l->kw) / l->stride + 1);
    ng__inc_act out = ng__inc_conv_to(r, ci, x, y.d);
    out.cap = y.cap;
    return out;
}

/* 3x3 max-pool, stride 2, no padding (the stem, Mixed_6a and Mixed_7a), into dst. */
static void ng__inc_maxpool_s2_to(ng__inc_run *r, const ng__inc_act *x, float *dst) {
    const int ho = (x->h - 3) / 2 + 1, wo = (x->w - 3) / 2 + 1;
    int64_t p, planes = (int64_t)x->c * r->B;
    if (r->st != NG_OK || !x->d || !dst) return;
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_pool(NG_CUDA_INC_MAX3_S2, x->d, dst, planes, x->h, x->w), "max-pool");
        return;
    }
    NG__OMP_FOR(planes * ho * wo >= 16384)
    for (p = 0; p < planes; p++) {
        const float *in = x->d + p * x->h * x->w;
        float *out = dst + p * ho * wo;
        int oy, ox, i, j;
        for (oy = 0; oy < ho; oy++)
            for (ox = 0; ox < wo; ox++) {
                float m = in[(2 * oy) * x->w + 2 * ox];
                for (i = 0; i < 3; i++)
                    for (j = 0; j < 3; j++) {
                        float v = in[(2 * oy + i) * x->w + 2 * ox + j];
                        m = v > m ? v : m;
                    }
                out[oy * wo + ox] = m;
            }
    }
}

static ng__inc_act ng__inc_maxpool_s2(ng__inc_run *r, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1);
    ng__inc_maxpool_s2_to(r, x, y.d);
    return y;
}

/* 3x3 pool, stride 1, padding 1, over the window's pixels inside the image only: the mean
   (count_include_pad = False, the FID blocks A, C, E_1) or the maximum (E_2). Separable: a
   vertical pass over whole rows (vectorisable), then a horizontal pass in place; the mean
   divides by the number of valid pixels, (rows in the window) x (columns in the window). The
   maps are 35, 17 or 8 pixels wide (the input is always 299x299), so a row fits on the stack. */
#define NG__INC_POOL_MAXW 64
static void ng__inc_pool_plane(const float *in, float *out, int H, int W, int is_max) {
    float row[NG__INC_POOL_MAXW];
    int y, x;
    for (y = 0; y < H; y++) {               /* vertical: rows y-1, y, y+1 that exist */
        const float *a = in + (int64_t)(y > 0 ? y - 1 : y) * W, *b = in + (int64_t)y * W;
        const float *c = in + (int64_t)(y < H - 1 ? y + 1 : y) * W;
        float *o = out + (int64_t)y * W;
        int n = 1 + (y > 0) + (y < H - 1);
        if (is_max) {
            for (x = 0; x < W; x++) { float m = a[x] > b[x] ? a[x] : b[x]; o[x] = c[x] > m ? c[x] : m; }
        } else if (n == 3) {
            for (x = 0; x < W; x++) o[x] = a[x] + b[x] + c[x];
        } else if (n == 2) {                /* an edge row: only two rows exist */
            const float *d = y > 0 ? a : c;
            for (x = 0; x < W; x++) o[x] = b[x] + d[x];
        } else {
            memcpy(o, b, (size_t)W * sizeof(float));
        }
    }
    for (y = 0; y < H; y++) {               /* horizontal, in place from a copy of the row */
        float *o = out + (int64_t)y * W;
        float ny = (float)(1 + (y > 0) + (y < H - 1));
        memcpy(row, o, (size_t)W * sizeof(float));
        for (x = 0; x < W; x++) {
            float l = row[x > 0 ? x - 1 : x], m = row[x], r = row[x < W - 1 ? x + 1 : x];
            if (is_max) { float t = l > m ? l : m; o[x] = r > t ? r : t; }
            else {
                float nx = (float)(1 + (x > 0) + (x < W - 1));
                float sum = m + (x > 0 ? l : 0.0f) + (x < W - 1 ? r : 0.0f);
                o[x] = sum / (nx * ny);
            }
        }
    }
}

static ng__inc_act ng__inc_pool_same(ng__inc_run *r, const ng__inc_act *x, int is_max) {
    ng__inc_act y = ng__inc_new(r, x->c, x->h, x->w);
    int64_t p, planes = (int64_t)x->c * r->B, hw = (int64_t)x->h * x->w;
    if (!y.d || !x->d) { ng__inc_drop(r, &y); return y; }
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_pool(is_max ? NG_CUDA_INC_MAX3 : NG_CUDA_INC_AVG3, x->d, y.d, planes, x->h, x->w),
                          "3x3 pool");
        return y;
    }
    NG_ASSERT(x->w <= NG__INC_POOL_MAXW);
    NG__OMP_FOR(planes * hw >= 16384)
    for (p = 0; p < planes; p++) ng__inc_pool_plane(x->d + p * hw, y.d + p * hw, x->h, x->w, is_max);
    return y;
}

/* ---- blocks: each consumes its convolutions from index ci in the table's order ---- */
static ng__inc_act ng__inc_block_a_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    int pool = r->net->conv[ci + 6].geo.cout;
    ng__inc_act y = ng__inc_new(r, 224 + pool, x->h, x->w), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 64 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    ng__inc_conv_to(r, ci + 2, &t1, ng__inc_chan(r, &y, 64));        /* 5x5: 64 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 3, x);
    t2 = ng__inc_conv_new(r, ci + 4, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 5, &t2, ng__inc_chan(r, &y, 128));       /* 3x3 dbl: 96 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_pool_same(r, x, 0);
    ng__inc_conv_to(r, ci + 6, &t1, ng__inc_chan(r, &y, 224));       /* pool */
    ng__inc_drop(r, &t1);
    return y;
}

static ng__inc_act ng__inc_block_b_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 480 + x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 3x3 s2: 384 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    t2 = ng__inc_conv_new(r, ci + 2, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 3, &t2, ng__inc_chan(r, &y, 384));       /* 3x3 dbl s2: 96 */
    ng__inc_drop(r, &t2);
    ng__inc_maxpool_s2_to(r, x, ng__inc_chan(r, &y, 480));           /* pool: cin */
    return y;
}

static ng__inc_act ng__inc_block_c_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 768, x->h, x->w), t1, t2;
    int k;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 192 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    t2 = ng__inc_conv_new(r, ci + 2, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 3, &t2, ng__inc_chan(r, &y, 192));       /* 1x7, 7x1: 192 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_conv_new(r, ci + 4, x);
    for (k = 5; k <= 7; k++) {                                       /* 7x1, 1x7, 7x1 */
        t2 = ng__inc_conv_new(r, ci + k, &t1);
        ng__inc_drop(r, &t1);
        t1 = t2;
    }
    ng__inc_conv_to(r, ci + 8, &t1, ng__inc_chan(r, &y, 384));       /* 1x7: 192 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_pool_same(r, x, 0);
    ng__inc_conv_to(r, ci + 9, &t1, ng__inc_chan(r, &y, 576));       /* pool: 192 */
    ng__inc_drop(r, &t1);
    return y;
}

static ng__inc_act ng__inc_block_d_fwd(ng__inc_run *r, int ci, const ng__inc_act *x) {
    ng__inc_act y = ng__inc_new(r, 512 + x->c, (x->h - 3) / 2 + 1, (x->w - 3) / 2 + 1), t1, t2;
    int k;
    t1 = ng__inc_conv_new(r, ci, x);
    ng__inc_conv_to(r, ci + 1, &t1, y.d);                            /* 3x3 s2: 320 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 2, x);
    for (k = 3; k <= 4; k++) {                                       /* 1x7, 7x1 */
        t2 = ng__inc_conv_new(r, ci + k, &t1);
        ng__inc_drop(r, &t1);
        t1 = t2;
    }
    ng__inc_conv_to(r, ci + 5, &t1, ng__inc_chan(r, &y, 320));       /* 3x3 s2: 192 */
    ng__inc_drop(r, &t1);
    ng__inc_maxpool_s2_to(r, x, ng__inc_chan(r, &y, 512));           /* pool: cin */
    return y;
}

static ng__inc_act ng__inc_block_e_fwd(ng__inc_run *r, int ci, const ng__inc_act *x, int max_pool) {
    ng__inc_act y = ng__inc_new(r, 2048, x->h, x->w), t1, t2;
    ng__inc_conv_to(r, ci, x, y.d);                                  /* 1x1: 320 */
    t1 = ng__inc_conv_new(r, ci + 1, x);
    ng__inc_conv_to(r, ci + 2, &t1, ng__inc_chan(r, &y, 320));       /* 1x3: 384 */
    ng__inc_conv_to(r, ci + 3, &t1, ng__inc_chan(r, &y, 704));       /* 3x1: 384 */
    ng__inc_drop(r, &t1);
    t1 = ng__inc_conv_new(r, ci + 4, x);
    t2 = ng__inc_conv_new(r, ci + 5, &t1);
    ng__inc_drop(r, &t1);
    ng__inc_conv_to(r, ci + 6, &t2, ng__inc_chan(r, &y, 1088));      /* 1x3: 384 */
    ng__inc_conv_to(r, ci + 7, &t2, ng__inc_chan(r, &y, 1472));      /* 3x1: 384 */
    ng__inc_drop(r, &t2);
    t1 = ng__inc_pool_same(r, x, max_pool);
    ng__inc_conv_to(r, ci + 8, &t1, ng__inc_chan(r, &y, 1856));      /* pool: 192 */
    ng__inc_drop(r, &t1);
    return y;
}

/* Replace *cur by next (freeing the old activation). */
static void ng__inc_step(ng__inc_run *r, ng__inc_act *cur, ng__inc_act next) {
    ng__inc_drop(r, cur);
    *cur = next;
}

/* x rounded to float: a product passed through it is never fused with the following sum
   into one multiply-add, whatever the compiler's contraction settings (GCC contracts by
   default outside ISO mode), so the TF1 lerps round as TF's do */
static float ng__f32_round(float x) {
    volatile float v = x;
    return v;
}
/* a [-1, 1] value back on the [0, 255] scale; within 1e-3 of an integer it is that integer,
   the exact byte of a uint8 image (u * (2/255) - 1 does not map back exactly for 158 of the
   256 bytes) */
static float ng__inc_level(float x) {
    float u = ng__f32_round(127.5f * (x + 1.0f)), r = rintf(u);
    return fabsf(u - r) < 1e-3f ? r : u;
}

/* Bilinear resize of n images (n, channels, h, w) to (3, n, 299, 299); grayscale is
   replicated. NG_INCEPTION_PYTORCH_FID: align_corners = False, no antialiasing, F.interpolate's
   source-index rule. NG_INCEPTION_TF1: TF1's resize_bilinear (align_corners = False,
   half_pixel_centers = False) of the image back in [0, 255], then (r - 128) / 128, every step
   in float32 as TF (torch-fidelity's "slow" method reproduces TF bit for bit on the CPU). */
static void ng__inc_resize(int mode, const float *x, int n, int channels, int h, int w, float *out) {
    const int S = NG_INCEPTION_SIZE, tf1 = mode == NG_INCEPTION_TF1;
    const float tsx = (float)((double)w / S), tsy = (float)((double)h / S);
    int ix0[NG_INCEPTION_SIZE], ix1[NG_INCEPTION_SIZE], iy0[NG_INCEPTION_SIZE], iy1[NG_INCEPTION_SIZE];
    float lx[NG_INCEPTION_SIZE], ly[NG_INCEPTION_SIZE];
    int64_t p, plane = (int64_t)S * S;
    int i;
    for (i = 0; i < S; i++) {
        if (tf1) {
            float gx = (float)i * tsx, gy = (float)i * tsy;
            ix0[i] = (int)gx; ix1[i] = ix0[i] + 1 < w ? ix0[i] + 1 : w - 1; lx[i] = gx - (float)ix0[i];
            iy0[i] = (int)gy; iy1[i] = iy0[i] + 1 < h ? iy0[i] + 1 : h - 1; ly[i] = gy - (float)iy0[i];
        } else {
            double sx = ((double)i + 0.5) * ((double)w / S) - 0.5, sy = ((double)i + 0.5) * ((double)h / S) - 0.5;
            if (sx < 0) sx = 0;
            if (sy < 0) sy = 0;
            ix0[i] = (int)sx; ix1[i] = ix0[i] + (ix0[i] < w - 1); lx[i] = (float)(sx - ix0[i]);
            iy0[i] = (int)sy; iy1[i] = iy0[i] + (iy0[i] < h - 1); ly[i] = (float)(sy - iy0[i]);
        }
    }
    NG__OMP_FOR(n * 3 >= 2)
    for (p = 0; p < (int64_t)n * 3; p++) {
        int c = (int)(p / n), b = (int)(p % n), oy, ox;
        const float *in = x + ((int64_t)b * channels + (channels == 1 ? 0 : c)) * h * w;
        float *o = out + p * plane;
        for (oy = 0; oy < S; oy++) {
            const float *r0 = in + (int64_t)iy0[oy] * w, *r1 = in + (int64_t)iy1[oy] * w;
            if (tf1)
                for (ox = 0; ox < S; ox++) {
                    float a = ng__inc_level(r0[ix0[ox]]), bb = ng__inc_level(r0[ix1[ox]]);
                    float cc = ng__inc_level(r1[ix0[ox]]), d = ng__inc_level(r1[ix1[ox]]);
                    float top = a + ng__f32_round((bb - a) * lx[ox]), bot = cc + ng__f32_round((d - cc) * lx[ox]);
                    o[oy * S + ox] = (top + ng__f32_round((bot - top) * ly[oy]) - 128.0f) / 128.0f;
                }
            else
                for (ox = 0; ox < S; ox++) {
                    float top = (1 - lx[ox]) * r0[ix0[ox]] + lx[ox] * r0[ix1[ox]];
                    float bot = (1 - lx[ox]) * r1[ix0[ox]] + lx[ox] * r1[ix1[ox]];
                    o[oy * S + ox] = (1 - ly[oy]) * top + ly[oy] * bot;
                }
        }
    }
}

void ng_inception_preprocess(int mode, const float *x, int n, int channels, int h, int w, float *out) {
    ng__inc_resize(mode, x, n, channels, h, w, out);
}

/* Global average of the last activation (2048, B, 8, 8) into pool3 (B, 2048), then the fc
   layer into logits (B, 1008) when not NULL. */
static void ng__inc_head(ng__inc_run *r, const ng__inc_act *cur, float *pool3, float *logits) {
    const ng_inception *net = r->net;
    int64_t b, hw = (int64_t)cur->h * cur->w;
    int i, B = r->B;
    NG_ASSERT(cur->c == NG_INCEPTION_FEATURES);
    if (r->gpu) {
        ng__inc_gpu_check(r, r->gpu->inc_head(cur->d, B, NG_INCEPTION_FEATURES, (int)hw, ng__inc_weights(r, net->fc_w),
                                              ng__inc_weights(r, net->fc_b), NG_INCEPTION_CLASSES, pool3, logits), "fc");
        return;
    }
    for (b = 0; b < B; b++)
        for (i = 0; i < NG_INCEPTION_FEATURES; i++) {
            const float *pl = cur->d + ((int64_t)i * B + b) * hw;
            double s = 0;
            int64_t k;
            for (k = 0; k < hw; k++) s += pl[k];
            pool3[b * NG_INCEPTION_FEATURES + i] = (float)(s / (double)hw);
        }
    if (logits) {
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, B, NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES, 1.0f, pool3, NG_INCEPTION_FEATURES,
                 net->fc_w, NG_INCEPTION_FEATURES, 0.0f, logits, NG_INCEPTION_CLASSES);
        for (b = 0; b < B; b++)
            for (i = 0; i < NG_INCEPTION_CLASSES; i++) logits[b * NG_INCEPTION_CLASSES + i] += net->fc_b[i];
    }
}

/* The whole network on one batch of B images (B, channels, h, w): pool3 (B, 2048) and, when
   logits is not NULL, logits (B, 1008). Every pointer is on the run's device. */
static ng_status ng__inc_batch(ng__inc_run *r, const float *x, int channels, int h, int w, float *pool3, float *logits) {
    ng__inc_act cur = ng__inc_new(r, 3, NG_INCEPTION_SIZE, NG_INCEPTION_SIZE);
    int ci = 0, i, B = r->B;
    if (cur.d && r->gpu)
        ng__inc_gpu_check(r, r->gpu->inc_resize(x, B, channels, h, w, cur.d, NG_INCEPTION_SIZE, r->net->preprocess), "resize");
    else if (cur.d) ng_inception_preprocess(r->net->preprocess, x, B, channels, h, w, cur.d);
    for (i = 0; i < 3; i++) ng__inc_step(r, &cur, ng__inc_conv_new(r, ci++, &cur));   /* 149, 147, 147 */
    ng__inc_step(r, &cur, ng__inc_maxpool_s2(r, &cur));                           /* 73 */
    for (i = 0; i < 2; i++) ng__inc_step(r, &cur, ng__inc_conv_new(r, ci++, &cur));   /* 73, 71 */
    ng__inc_step(r, &cur, ng__inc_maxpool_s2(r, &cur));                           /* 35 */
    for (i = 0; i < 3; i++, ci += 7) ng__inc_step(r, &cur, ng__inc_block_a_fwd(r, ci, &cur));
    ng__inc_step(r, &cur, ng__inc_block_b_fwd(r, ci, &cur)); ci += 4;             /* 17 */
    for (i = 0; i < 4; i++, ci += 10) ng__inc_step(r, &cur, ng__inc_block_c_fwd(r, ci, &cur));
    ng__inc_step(r, &cur, ng__inc_block_d_fwd(r, ci, &cur)); ci += 6;             /* 8 */
    ng__inc_step(r, &cur, ng__inc_block_e_fwd(r, ci, &cur, 0)); ci += 9;
    ng__inc_step(r, &cur, ng__inc_block_e_fwd(r, ci, &cur, 1)); ci += 9;
    NG_ASSERT(ci == NG__INC_NCONV);
    if (r->st == NG_OK && cur.d) ng__inc_head(r, &cur, pool3, logits);
    ng__inc_drop(r, &cur);
    return r->st;
}

/* ---- public entry points ---- */

/* Runs batches [first, first + count) through the network; fill() supplies the pixels of a
   batch, either from a float array or from an image source. */
typedef ng_status (*ng__inc_fill_fn)(const void *user, int64_t first, int64_t count, float *out);

/* Device buffers of a GPU run: the batch's pixels and its outputs before they are copied back. */
typedef struct ng__inc_io { float *x, *pool3, *logits; } ng__inc_io;

static ng_status ng__inc_run_all(const ng_inception *net, int64_t n, int channels, int h, int w, int batch,
                                 ng__inc_fill_fn fill, const void *user, float *pool3, float *logits) {
    ng__inc_run r;
    ng__inc_io dev = {NULL, NULL, NULL};
    float *xb = NULL, *fb = NULL;
    int64_t first, per = (int64_t)channels * h * w;
    ng_status st = NG_OK;
    if (!net) return ng_fail(NG_ERR_ARG, "inception: NULL network");
    if (channels != 1 && channels != 3)
        return ng_fail(NG_ERR_ARG, "inception: images have %d channels; 1 (grayscale, replicated) or 3 expected", channels);
    if (h < 1 || w < 1 || h > 4096 || w > 4096) return ng_fail(NG_ERR_ARG, "inception: image size %dx%d out of range", h, w);
    if (n < 0) return ng_fail(NG_ERR_ARG, "inception: negative image count");
    if (n == 0) return NG_OK;
    memset(&r, 0, sizeof r);
    r.net = net;
    r.gpu = net->dev_block ? ng_cuda_get_hooks() : NULL;
    if (batch <= 0) batch = r.gpu ? 100 : 16;
    if (batch > n) batch = (int)n;
    xb = (float *)malloc((size_t)batch * (size_t)per * sizeof(float));
    if (!pool3 && !r.gpu) fb = (float *)malloc((size_t)batch * NG_INCEPTION_FEATURES * sizeof(float));
    if (!xb || (!pool3 && !r.gpu && !fb)) { free(xb); free(fb); return ng_fail(NG_ERR_NOMEM, "inception: out of memory"); }
    if (r.gpu) {
        r.B = batch;
        dev.x = ng__inc_alloc(&r, (int64_t)batch * per);
        dev.pool3 = ng__inc_alloc(&r, (int64_t)batch * NG_INCEPTION_FEATURES);
        if (logits) dev.logits = ng__inc_alloc(&r, (int64_t)batch * NG_INCEPTION_CLASSES);
        st = r.st;
    }
    for (first = 0; first < n && st == NG_OK; first += r.B) {
        float *p3 = pool3 ? pool3 + first * NG_INCEPTION_FEATURES : fb, *lg = logits ? logits + first * NG_INCEPTION_CLASSES : NULL;
        r.B = (int)(n - first < batch ? n - first : batch);
        st = fill(user, first, r.B, xb);
        if (st == NG_OK) st = ng__check_finite_f32(xb, r.B, per, "inception: input images");
        if (st != NG_OK) break;
        if (!r.gpu) {
            st = ng__inc_batch(&r, xb, channels, h, w, p3, lg);
            continue;
        }
        ng__inc_gpu_check(&r, r.gpu->memcpy_h2d(dev.x, xb, (size_t)(r.B * per) * sizeof(float)), "copying the images");
        st = ng__inc_batch(&r, dev.x, channels, h, w, dev.pool3, dev.logits);
        if (st == NG_OK && p3)
            ng__inc_gpu_check(&r, r.gpu->memcpy_d2h(p3, dev.pool3, (size_t)r.B * NG_INCEPTION_FEATURES * sizeof(float)),
                              "copying the features back");
        if (st == NG_OK && lg)
            ng__inc_gpu_check(&r, r.gpu->memcpy_d2h(lg, dev.logits, (size_t)r.B * NG_INCEPTION_CLASSES * sizeof(float)),
                              "copying the logits back");
        st = r.st;
    }
    ng__inc_free(&r, r.col);
    ng__inc_free(&r, dev.x);
    ng__inc_free(&r, dev.pool3);
    ng__inc_free(&r, dev.logits);
    ng__inc_cache_free(&r);
    free(xb);
    free(fb);
    return st;
}

typedef struct ng__inc_arr { const float *x; int64_t per; } ng__inc_arr;

static ng_status ng__inc_fill_arr(const void *user, int64_t first, int64_t count, float *out) {
    const ng__inc_arr *a = (const ng__inc_arr *)user;
    memcpy(out, a->x + first * a->per, (size_t)(count * a->per) * sizeof(float));
    return NG_OK;
}

static ng_status ng__inc_fill_src(const void *user, int64_t first, int64_t count, float *out) {
    const ng_image_source *src = (const ng_image_source *)user;
    return src->fill(src, first, count, out);
}

ng_status ng_inception_forward(const ng_inception *net, const float *x, int64_t n, int channels, int h, int w,
                               int batch, float *pool3, float *logits) {
    ng__inc_arr a;
    if (!x && n > 0) return ng_fail(NG_ERR_ARG, "inception forward: NULL images");
    a.x = x;
    a.per = (int64_t)channels * h * w;
    return ng__inc_run_all(net, n, channels, h, w, batch, ng__inc_fill_arr, &a, pool3, logits);
}

ng_status ng_inception_embed(const ng_inception *net, const ng_image_source *src, int batch, float *pool3,
                             float *logits) {
    if (!src || !src->fill) return ng_fail(NG_ERR_ARG, "inception embed: NULL source");
    return ng__inc_run_all(net, src->n, src->channels > 0 ? src->channels : 1, src->size, src->size, batch,
                           ng__inc_fill_src, src, pool3, logits);
}

void ng_inception_logits_unbiased(const ng_inception *net, const float *pool3, int64_t n, float *out) {
    if (n > 0)
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, n, NG_INCEPTION_CLASSES, NG_INCEPTION_FEATURES, 1.0f, pool3, NG_INCEPTION_FEATURES,
                 net->fc_w, NG_INCEPTION_FEATURES, 0.0f, out, NG_INCEPTION_CLASSES);
}

ng_status ng_inception_stats(const ng_inception *net, const ng_image_source *src, int batch, ng_feat_stats *out) {
    char id[NG_FEAT_ID_MAX];
    float *f;
    ng_status st;
    if (!net || !src || src->n < 2 || !out) return ng_fail(NG_ERR_ARG, "inception stats: needs a network and at least 2 images");
    f = (float *)malloc((size_t)src->n * NG_INCEPTION_FEATURES * sizeof(float));
    if (!f) return ng_fail(NG_ERR_NOMEM, "inception stats: out of memory");
    st = ng_inception_embed(net, src, batch, f, NULL);
    ng_inception_identity(net, id, sizeof id);
    if (st == NG_OK) st = ng_feat_stats_compute(out, f, src->n, NG_INCEPTION_FEATURES, id);
    free(f);
    return st;
}

ng_status ng_inception_evaluate(const ng_inception *net, const ng_image_source *gen, const ng_feat_stats *real,
                                const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                                ng_eval_result *out) {
    ng_eval_opts o;
    float *f = NULL, *lg = NULL;
    ng_feat_stats gs;
    ng_rng rng;
    ng_status st;
    char id[NG_FEAT_ID_MAX];
    memset(&gs, 0, sizeof gs);
    if (!net || !gen || !real || !out) return ng_fail(NG_ERR_ARG, "inception evaluate: NULL argument");
    ng_inception_identity(net, id, sizeof id);
    memset(out, 0, sizeof *out);
    if (opts) o = *opts; else memset(&o, 0, sizeof o);
    if (!real->finished || real->d != NG_INCEPTION_FEATURES)
        return ng_fail(NG_ERR_ARG, "inception evaluate: real statistics not finished or not %d-d", NG_INCEPTION_FEATURES);
    if (strcmp(real->net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "inception evaluate: real statistics are from '%s', this network is '%s'",
                       real->net_id, id);
    if (gen->n < 2) return ng_fail(NG_ERR_ARG, "inception evaluate: needs at least 2 generated images");
    f = (float *)malloc((size_t)gen->n * NG_INCEPTION_FEATURES * sizeof(float));
    lg = (float *)malloc((size_t)gen->n * NG_INCEPTION_CLASSES * sizeof(float));
    if (!f || !lg) { st = ng_fail(NG_ERR_NOMEM, "inception evaluate: out of memory"); goto done; }
    st = ng_inception_embed(net, gen, o.batch, f, NULL);
    if (st == NG_OK) ng_inception_logits_unbiased(net, f, gen->n, lg);   /* the IS of the TF code */
    if (st == NG_OK) st = ng_feat_stats_compute(&gs, f, gen->n, NG_INCEPTION_FEATURES, id);
    if (st == NG_OK) st = ng_metric_fid(&gs, real, &out->fid);
    ng_rng_seed(&rng, o.seed);
    if (st == NG_OK && real_features) {
        st = ng_metric_kid(f, gen->n, real_features, n_real_features, NG_INCEPTION_FEATURES, o.kid_subsets,
                           o.kid_subset_size, &rng, &out->kid_mean, &out->kid_std);
        out->has_kid = st == NG_OK;
    }
    if (st == NG_OK) st = ng__eval_prc(f, gen->n, real_features, n_real_features, NG_INCEPTION_FEATURES, o.prc_k, out);
    if (st == NG_OK)
        st = ng_metric_is_logits(lg, gen->n, NG_INCEPTION_CLASSES, o.is_splits, o.is_shuffle ? &rng : NULL,
                                 &out->is_mean, &out->is_std);
    out->n = gen->n;
    out->n_real = real->n;
done:
    ng_feat_stats_free(&gs);
    free(f);
    free(lg);
    return st;
}
