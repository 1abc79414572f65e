/* ---- ops and architectures ---- */
static const char *const ng__tn_op_names[NG_TEXTNAS_N_OPS] = {"conv1", "conv3", "conv5", "conv7",
                                                              "avg_pool", "max_pool", "rnn", "attention"};
const char *ng_textnas_op_name(int op) { return op >= 0 && op < NG_TEXTNAS_N_OPS ? ng__tn_op_names[op] : "?"; }
int ng_textnas_op_index(const char *name) {
    int k;
    for (k = 0; name && k < NG_TEXTNAS_N_OPS; k++)
        if (strcmp(name, ng__tn_op_names[k]) == 0) return k;
    return -1;
}
int ng_textnas_input_first(int layer, int choose_from) { return layer - choose_from > 0 ? layer - choose_from : 0; }
static int ng__tn_conv_k(int op) { return op <= NG_TEXTNAS_CONV7 ? 2 * op + 1 : 0; } /* 1, 3, 5, 7 */

ng_status ng_textnas_arch_check(const ng_textnas_arch *a, int choose_from) {
    int i;
    if (choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas arch: choose_from %d (must be >= 1)", choose_from);
    if (a->n_layers < 1 || a->n_layers > NG_TEXTNAS_MAX_LAYERS - 1)
        return ng_fail(NG_ERR_ARG, "textnas arch: %d layers (must be 1..%d)", a->n_layers, NG_TEXTNAS_MAX_LAYERS - 1);
    for (i = 0; i < a->n_layers; i++) {
        uint32_t allowed = i ? (uint32_t)((1ull << i) - 1) : 0u;
        if (a->op[i] < 0 || a->op[i] >= NG_TEXTNAS_N_OPS)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: op %d (must be 0..7)", i, a->op[i]);
        if (i == 0 && a->input[0] != -1)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer 0: input %d (must be -1, the init conv)", a->input[0]);
        if (i > 0 && (a->input[i] < ng_textnas_input_first(i, choose_from) || a->input[i] > i - 1))
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: input %d (must be %d..%d)", i, a->input[i],
                           ng_textnas_input_first(i, choose_from), i - 1);
        if (a->skip[i] & ~allowed)
            return ng_fail(NG_ERR_ARG, "textnas arch: layer %d: skip mask 0x%x names a layer >= %d", i,
                           (unsigned)a->skip[i], i);
    }
    return NG_OK;
}

static void ng__tn_arch_clear(ng_textnas_arch *a, int n_layers) {
    memset(a, 0, sizeof *a);
    a->n_layers = n_layers;
    a->input[0] = -1;
}
void ng_textnas_arch_published(ng_textnas_arch *a) {
    /* textnas.md 5.3: input layer, op, skip layers per layer (-1 ends a skip list) */
    static const signed char spec[24][11] = {
        {-1, 5, -1}, {0, 7, -1}, {0, 3, -1}, {2, 6, 1, 2, -1}, {2, 1, 1, -1}, {4, 1, 2, 4, -1},
        {5, 0, 2, 3, 4, 5, -1}, {2, 6, 1, 2, -1}, {4, 5, 1, 3, 4, 6, 7, -1}, {6, 5, 5, 7, 8, -1},
        {5, 7, 0, 1, 4, 7, 8, -1}, {6, 4, 0, 3, 4, 5, 6, -1}, {10, 1, 0, 1, 3, 5, 8, -1},
        {11, 2, 0, 1, 6, 9, 10, 12, -1}, {12, 0, 2, 6, 7, 8, 10, 11, -1}, {14, 3, 0, 6, 10, 11, 14, -1},
        {14, 2, 9, 10, 12, 14, -1}, {16, 4, 1, 2, 3, 4, 7, 9, 14, -1}, {15, 3, 5, 13, 14, 15, 17, -1},
        {16, 3, 3, 10, 14, -1}, {16, 5, 0, 1, 10, 11, 14, 15, 16, 17, -1},
        {16, 7, 1, 2, 3, 7, 9, 10, 11, 12, 14}, {21, 7, 2, 3, 4, 5, 7, 9, 10, 15, 21}, {21, 3, 0, 3, 7, 12, 16, -1}};
    int i, k;
    ng__tn_arch_clear(a, 24);
    for (i = 0; i < 24; i++) {
        a->input[i] = spec[i][0];
        a->op[i] = spec[i][1];
        for (k = 2; k < 11 && spec[i][k] >= 0; k++) a->skip[i] |= 1u << spec[i][k];
    }
}
void ng_textnas_arch_random(ng_textnas_arch *a, int n_layers, int choose_from, double p_skip, ng_rng *r) {
    int i, j;
    ng__tn_arch_clear(a, n_layers);
    for (i = 0; i < n_layers; i++) {
        a->op[i] = (int)ng_rng_below(r, NG_TEXTNAS_N_OPS);
        if (i > 0) {
            int first = ng_textnas_input_first(i, choose_from);
            a->input[i] = first + (int)ng_rng_below(r, (uint64_t)(i - first));
        }
        for (j = 0; j < i; j++)
            if (ng_rng_uniform(r) < p_skip) a->skip[i] |= 1u << j;
    }
}
void ng_textnas_arch_baseline(ng_textnas_arch *a) {
    ng__tn_arch_clear(a, 2);
    a->op[0] = NG_TEXTNAS_CONV3;
    a->op[1] = NG_TEXTNAS_MAX_POOL;
    a->input[1] = 0;
}
int ng_textnas_arch_eq(const ng_textnas_arch *a, const ng_textnas_arch *b) {
    int i;
    if (a->n_layers != b->n_layers) return 0;
    for (i = 0; i < a->n_layers; i++)
        if (a->op[i] != b->op[i] || a->input[i] != b->input[i] || a->skip[i] != b->skip[i]) return 0;
    return 1;
}
int ng_textnas_arch_n_skips(const ng_textnas_arch *a) {
    int i, j, n = 0;
    for (i = 0; i < a->n_layers; i++)
        for (j = 0; j < i; j++) n += (int)((a->skip[i] >> j) & 1u);
    return n;
}

int ng_textnas_op_is_param_free(int op) { return op == NG_TEXTNAS_AVG_POOL || op == NG_TEXTNAS_MAX_POOL; }
int ng_textnas_arch_n_param_free(const ng_textnas_arch *a) {
    int i, n = 0;
    for (i = 0; i < a->n_layers; i++) n += ng_textnas_op_is_param_free(a->op[i]);
    return n;
}

/* ---- architecture JSON (NNI final_arc.json) ---- */
static void ng__tn_bools(ng__sb *b, int n, int on_index, uint32_t mask) {
    int j;
    ng__sb_printf(b, "[");
    for (j = 0; j < n; j++)
        ng__sb_printf(b, "%s%s", j ? ", " : "", (on_index >= 0 ? j == on_index : (int)((mask >> j) & 1u)) ? "true" : "false");
    ng__sb_printf(b, "]");
}
ng_status ng_textnas_arch_to_json(const ng_textnas_arch *a, char **out, size_t *n) {
    ng__sb b;
    int i, first;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_CHOOSE_FROM);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
    ng__sb_printf(&b, "{\n  \"LayerChoice1\": ");
    ng__tn_bools(&b, NG_TEXTNAS_N_OPS, a->op[0], 0);
    for (i = 1; i < a->n_layers; i++) {
        first = ng_textnas_input_first(i, NG_TEXTNAS_CHOOSE_FROM);
        ng__sb_printf(&b, ",\n  \"InputChoice%d\": ", 3 * i - 1);
        ng__tn_bools(&b, i - first, a->input[i] - first, 0);
        ng__sb_printf(&b, ",\n  \"LayerChoice%d\": ", 3 * i);
        ng__tn_bools(&b, NG_TEXTNAS_N_OPS, a->op[i], 0);
        ng__sb_printf(&b, ",\n  \"InputChoice%d\": ", 3 * i + 1);
        ng__tn_bools(&b, i, -1, a->skip[i]);
    }
    ng__sb_printf(&b, "\n}\n");
    return ng__sb_finish(&b, "textnas architecture JSON", out, n);
}
ng_status ng_textnas_arch_save(const ng_textnas_arch *a, const char *path) {
    char *text;
    size_t n;
    ng_status s = ng_textnas_arch_to_json(a, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

/* One parsed key: kind 0 = LayerChoice, 1 = InputChoice; its booleans as a mask. */
typedef struct ng__tn_key { int seen, kind, len; uint32_t mask; size_t at; } ng__tn_key;
#define NG__TN_MAX_KEYS (3 * (NG_TEXTNAS_MAX_LAYERS - 1) - 2)

static ng_status ng__tn_bool_array(ng__json *p, ng__tn_key *k) {
    ng_status s;
    if ((s = ng__json_char(p, '[', "'[' (an array of booleans)")) != NG_OK) return s;
    k->len = 0;
    k->mask = 0;
    if (ng__json_peek(p, ']')) { p->pos++; return NG_OK; }
    for (;;) {
        int v;
        ng__json_ws(p);
        if (p->pos + 4 <= p->n && memcmp(p->s + p->pos, "true", 4) == 0) { v = 1; p->pos += 4; }
        else if (p->pos + 5 <= p->n && memcmp(p->s + p->pos, "false", 5) == 0) { v = 0; p->pos += 5; }
        else return ng__json_expected(p, p->pos, "true or false");
        if (k->len >= NG_TEXTNAS_MAX_LAYERS - 1) return ng__json_err(p, p->pos, "array longer than %d", NG_TEXTNAS_MAX_LAYERS - 1);
        if (v) k->mask |= 1u << k->len;
        k->len++;
        if (ng__json_peek(p, ']')) { p->pos++; return NG_OK; }
        if ((s = ng__json_char(p, ',', "',' or ']'")) != NG_OK) return s;
    }
}
/* "LayerChoice<n>" / "InputChoice<n>" -> kind and n (1..NG__TN_MAX_KEYS); 0 if not such a key */
static int ng__tn_key_name(const char *key, int *kind, int *num) {
    const char *d;
    long v = 0;
    if (strncmp(key, "LayerChoice", 11) == 0) { *kind = 0; d = key + 11; }
    else if (strncmp(key, "InputChoice", 11) == 0) { *kind = 1; d = key + 11; }
    else return 0;
    if (*d < '1' || *d > '9') return 0;
    for (; *d >= '0' && *d <= '9'; d++) {
        v = v * 10 + (*d - '0');
        if (v > NG__TN_MAX_KEYS) return 0;
    }
    if (*d) return 0;
    *num = (int)v;
    return 1;
}
static int ng__tn_one_true(const ng__tn_key *k) { return k->mask && !(k->mask & (k->mask - 1)); }
static int ng__tn_bit(uint32_t m) { int j = 0; while (!((m >> j) & 1u)) j++; return j; }

/* keys[1..nk] parsed: map them onto layers */
static ng_status ng__tn_arch_from_keys(ng__json *p, const ng__tn_key *keys, int nk, int choose_from, ng_textnas_arch *out) {
    int L, i, num;
    ng_textnas_arch a;
    if (nk < 1 || (nk + 2) % 3 != 0) return ng__json_err(p, 0, "%d keys: an n-layer architecture has 3n - 2", nk);
    L = (nk + 2) / 3;
    ng__tn_arch_clear(&a, L);
    for (num = 1; num <= nk; num++) {
        const ng__tn_key *k = &keys[num];
        int want_kind = num == 1 ? 0 : (num % 3 == 0 ? 0 : 1);
        if (!k->seen) return ng__json_err(p, p->n, "missing key \"%sChoice%d\"", want_kind ? "Input" : "Layer", num);
        if (k->kind != want_kind)
            return ng__json_err(p, k->at, "key %d must be \"%sChoice%d\"", num, want_kind ? "Input" : "Layer", num);
    }
    for (i = 0; i < L; i++) {
        const ng__tn_key *op = &keys[i == 0 ? 1 : 3 * i];
        if (op->len != NG_TEXTNAS_N_OPS || !ng__tn_one_true(op))
            return ng__json_err(p, op->at, "layer %d's op choice must be 8 booleans with exactly one true", i);
        a.op[i] = ng__tn_bit(op->mask);
        if (i > 0) {
            const ng__tn_key *in = &keys[3 * i - 1], *sk = &keys[3 * i + 1];
            int first = ng_textnas_input_first(i, choose_from);
            if (in->len != i - first || !ng__tn_one_true(in))
                return ng__json_err(p, in->at, "layer %d's input choice must be %d booleans with exactly one true", i, i - first);
            a.input[i] = first + ng__tn_bit(in->mask);
            if (sk->len != i) return ng__json_err(p, sk->at, "layer %d's skip choice must be %d booleans", i, i);
            a.skip[i] = sk->mask;
        }
    }
    *out = a;
    return NG_OK;
}

ng_status ng_textnas_arch_parse(const char *text, size_t n, const char *name, int choose_from, ng_textnas_arch *out) {
    ng__json p;
    ng__tn_key keys[NG__TN_MAX_KEYS + 1];
    char key[NG__JSON_STR];
    size_t at;
    int first = 1, r, nk = 0;
    ng_status s = NG_OK;
    if (choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas arch: choose_from %d (must be >= 1)", choose_from);
    memset(keys, 0, sizeof keys);
    p.s = (const unsigned char *)text;
    p.n = text ? n : 0;
    p.pos = 0;
    p.name = name ? name : "(memory)";
    p.kind = "textnas architecture JSON";
    if ((s = ng__json_char(&p, '{', "'{' (an architecture object)")) != NG_OK) return s;
    while ((r = ng__json_member(&p, &first, key, &at, &s)) == 1) {
        int kind, num;
        if (!ng__tn_key_name(key, &kind, &num))
            return ng__json_err(&p, at, "unknown key \"%s\" (expected LayerChoice<n> / InputChoice<n>, n <= %d)", key,
                                NG__TN_MAX_KEYS);
        if (keys[num].seen) return ng__json_err(&p, at, "duplicate key number %d (\"%s\")", num, key);
        keys[num].seen = 1;
        keys[num].kind = kind;
        keys[num].at = at;
        if ((s = ng__tn_bool_array(&p, &keys[num])) != NG_OK) return s;
        if (num > nk) nk = num;
    }
    if (r < 0) return s;
    ng__json_ws(&p);
    if (p.pos != p.n) return ng__json_expected(&p, p.pos, "end of input after the architecture object");
    return ng__tn_arch_from_keys(&p, keys, nk, choose_from, out);
}
ng_status ng_textnas_arch_load(const char *path, int choose_from, ng_textnas_arch *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status s = ng_file_read_all(path, (size_t)1 << 20, &buf, &n);
    if (s != NG_OK) return s;
    s = ng_textnas_arch_parse((const char *)buf, n, path, choose_from, out);
    free(buf);
    return s;
}

static const char *const ng__tn_fill[NG_TEXTNAS_N_OPS] = {"#cfe2f3", "#9fc5e8", "#6fa8dc", "#3d85c6",
                                                          "#d9ead3", "#b6d7a8", "#fce5cd", "#f4cccc"};
ng_status ng_textnas_arch_to_dot(const ng_textnas_arch *a, const char *title, char **out, size_t *n) {
    const char *const *fill = ng__tn_fill;
    ng__sb b;
    int i, j;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_MAX_LAYERS);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
    ng__sb_printf(&b, "digraph textnas {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=Helvetica];\n");
    if (title) {
        ng__sb_printf(&b, "  label=\"");
        for (; *title; title++)
            if (*title != '"' && *title != '\\' && (unsigned char)*title >= 0x20) ng__sb_printf(&b, "%c", *title);
        ng__sb_printf(&b, "\";\n  labelloc=t;\n");
    }
    ng__sb_printf(&b, "  input [label=\"embedding + conv1\", fillcolor=\"#eeeeee\"];\n");
    ng__sb_printf(&b, "  output [label=\"linear combine + mean + linear\", fillcolor=\"#eeeeee\"];\n");
    for (i = 0; i < a->n_layers; i++) {
        ng__sb_printf(&b, "  L%d [label=\"%d: %s\", fillcolor=\"%s\"];\n", i, i, ng__tn_op_names[a->op[i]], fill[a->op[i]]);
        if (i == 0) ng__sb_printf(&b, "  input -> L0;\n");
        else ng__sb_printf(&b, "  L%d -> L%d;\n", a->input[i], i);
        for (j = 0; j < i; j++)
            if ((a->skip[i] >> j) & 1u) ng__sb_printf(&b, "  L%d -> L%d [style=dashed, color=gray50];\n", j, i);
        ng__sb_printf(&b, "  L%d -> output [color=gray80];\n", i);
    }
    ng__sb_printf(&b, "}\n");
    return ng__sb_finish(&b, "textnas architecture DOT", out, n);
}

/* Layers top to bottom: the input choice as a solid arrow (straight from the layer above,
   else an arc on the right), skips as dashed arcs on the left, farther connections bent more
   so that they nest. */
ng_status ng_textnas_arch_to_svg(const ng_textnas_arch *a, const char *title, char **out, size_t *n) {
    const double cx = 320, w = 150, h = 26, gap = 46, y0 = 110;
    char label[64];
    ng__sb b;
    int i, j;
    ng_status s = ng_textnas_arch_check(a, NG_TEXTNAS_MAX_LAYERS);
    if (s != NG_OK) return s;
    memset(&b, 0, sizeof b);
#define NG__TN_Y(i) (y0 + gap * (i))
    ng__svg_begin(&b, 620, NG__TN_Y(a->n_layers) + 60, title ? title : "TextNAS architecture");
    for (i = 0; i < a->n_layers; i++) {
        if (i == 0) ng__svg_edge(&b, cx, 60 + h / 2, cx, NG__TN_Y(0) - h / 2, 0, NULL, 0, "#333");
        else if (a->input[i] == i - 1) ng__svg_edge(&b, cx, NG__TN_Y(i - 1) + h / 2, cx, NG__TN_Y(i) - h / 2, 0, NULL, 0, "#333");
        else ng__svg_edge(&b, cx + w / 2, NG__TN_Y(a->input[i]), cx + w / 2, NG__TN_Y(i), 30.0 + 14.0 * (i - a->input[i]), NULL, 0, "#333");
        for (j = 0; j < i; j++)
            if ((a->skip[i] >> j) & 1u) ng__svg_edge(&b, cx - w / 2, NG__TN_Y(j), cx - w / 2, NG__TN_Y(i), -(24.0 + 11.0 * (i - j)), NULL, 1, "#888");
    }
    ng__svg_edge(&b, cx, NG__TN_Y(a->n_layers - 1) + h / 2, cx, NG__TN_Y(a->n_layers) - h / 2, 0, NULL, 0, "#999");
    ng__svg_node(&b, cx, 60, w + 40, h, "embedding + conv1", "#eeeeee");
    for (i = 0; i < a->n_layers; i++) {
        snprintf(label, sizeof label, "%d: %s", i, ng__tn_op_names[a->op[i]]);
        ng__svg_node(&b, cx, NG__TN_Y(i), w, h, label, ng__tn_fill[a->op[i]]);
    }
    snprintf(label, sizeof label, "all %d layers: linear combine + mean + linear", a->n_layers);
    ng__svg_node(&b, cx, NG__TN_Y(a->n_layers), w + 170, h, label, "#eeeeee");
    ng__sb_printf(&b, "<text x=\"12\" y=\"%.1f\" font-size=\"10\" fill=\"#666\">left, dashed: skip connections (summed in);"
                      " right: input from an earlier layer</text>\n", NG__TN_Y(a->n_layers) + 40);
#undef NG__TN_Y
    ng__svg_end(&b);
    return ng__sb_finish(&b, "textnas architecture SVG", out, n);
}

/* ---- the network ---- */
void ng_textnas_hp_default(ng_textnas_hp *hp, int64_t vocab, int n_classes) {
    memset(hp, 0, sizeof *hp);
    hp->n_layers = 24;
    hp->hidden = 256;
    hp->embed_dim = 300;
    hp->vocab = vocab;
    hp->n_classes = n_classes;
    hp->choose_from = NG_TEXTNAS_CHOOSE_FROM;
    hp->heads = 4;
    hp->p_embed = hp->p_cnn = hp->p_rnn = hp->p_att = 0.2f;
    hp->bn_always = 1;
    hp->bn_momentum = 0.1f;
    hp->bn_eps = 1e-5f;
    hp->xavier = 1;
}
ng_status ng_textnas_hp_check(const ng_textnas_hp *hp) {
    if (hp->n_layers < 1 || hp->n_layers > NG_TEXTNAS_MAX_LAYERS - 1)
        return ng_fail(NG_ERR_ARG, "textnas: n_layers %d (must be 1..%d)", hp->n_layers, NG_TEXTNAS_MAX_LAYERS - 1);
    if (hp->hidden < 1 || hp->heads < 1 || hp->hidden % hp->heads != 0)
        return ng_fail(NG_ERR_ARG, "textnas: hidden %d must be a positive multiple of heads %d", hp->hidden, hp->heads);
    if (hp->embed_dim < 1) return ng_fail(NG_ERR_ARG, "textnas: embed_dim %d", hp->embed_dim);
    if (hp->vocab < 2) return ng_fail(NG_ERR_ARG, "textnas: vocabulary of %lld (needs <pad> and <unk>)", (long long)hp->vocab);
    if (hp->n_classes < 2) return ng_fail(NG_ERR_ARG, "textnas: %d classes (must be >= 2)", hp->n_classes);
    if (hp->choose_from < 1) return ng_fail(NG_ERR_ARG, "textnas: choose_from %d", hp->choose_from);
    if (!(hp->p_embed >= 0 && hp->p_embed < 1) || !(hp->p_cnn >= 0 && hp->p_cnn < 1) || !(hp->p_rnn >= 0 && hp->p_rnn < 1) ||
        !(hp->p_att >= 0 && hp->p_att < 1))
        return ng_fail(NG_ERR_ARG, "textnas: dropout probabilities must lie in [0, 1)");
    if (!(hp->bn_eps > 0) || !(hp->bn_momentum >= 0 && hp->bn_momentum <= 1))
        return ng_fail(NG_ERR_ARG, "textnas: batch norm eps %g / momentum %g", hp->bn_eps, hp->bn_momentum);
    return NG_OK;
}

/* Tensors are declared first (names "<prefix>.conv.weight" ...), initialised after the groups
   are allocated. */
static ng_status ng__tn_add(ng_params *g, ng_tensor **t, const char *prefix, const char *what, ng_shape s) {
    char name[96];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    *t = ng_params_add(g, name, s);
    return *t ? NG_OK : NG_ERR_ARG;
}
static ng_status ng__tn_add_bn(ng_textnas_net *net, const char *prefix, ng_tensor **g, ng_tensor **b, ng_tensor **m,
                               ng_tensor **v) {
    int64_t H = net->hp.hidden;
    if (ng__tn_add(net->weights, g, prefix, "bn.weight", ng_shape1(H)) || ng__tn_add(net->weights, b, prefix, "bn.bias", ng_shape1(H)) ||
        ng__tn_add(net->buffers, m, prefix, "bn.running_mean", ng_shape1(H)) ||
        ng__tn_add(net->buffers, v, prefix, "bn.running_var", ng_shape1(H)))
        return NG_ERR_ARG;
    return NG_OK;
}
static ng_status ng__tn_add_op(ng_textnas_net *net, ng_textnas_op_w *o, int op, int64_t cin, const char *prefix) {
    int64_t H = net->hp.hidden;
    ng_params *w = net->weights;
    int d;
    if (op <= NG_TEXTNAS_CONV7) {
        if (ng__tn_add(w, &o->w, prefix, "conv.weight", ng_shape3(H, cin, ng__tn_conv_k(op))) ||
            ng__tn_add(w, &o->b, prefix, "conv.bias", ng_shape1(H)))
            return NG_ERR_ARG;
        return ng__tn_add_bn(net, prefix, &o->bn_g, &o->bn_b, &o->bn_mean, &o->bn_var);
    }
    if (op == NG_TEXTNAS_RNN) {
        for (d = 0; d < 2; d++) {
            char what[40];
            const char *sfx = d ? "_reverse" : "";
            snprintf(what, sizeof what, "gru.weight_ih_l0%s", sfx);
            if (ng__tn_add(w, &o->w_ih[d], prefix, what, ng_shape2(3 * H, H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.weight_hh_l0%s", sfx);
            if (ng__tn_add(w, &o->w_hh[d], prefix, what, ng_shape2(3 * H, H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.bias_ih_l0%s", sfx);
            if (ng__tn_add(w, &o->b_ih[d], prefix, what, ng_shape1(3 * H))) return NG_ERR_ARG;
            snprintf(what, sizeof what, "gru.bias_hh_l0%s", sfx);
            if (ng__tn_add(w, &o->b_hh[d], prefix, what, ng_shape1(3 * H))) return NG_ERR_ARG;
        }
        return NG_OK;
    }
    if (op == NG_TEXTNAS_ATTENTION) {
        if (ng__tn_add(w, &o->q_w, prefix, "q.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->q_b, prefix, "q.bias", ng_shape1(H)) ||
            ng__tn_add(w, &o->k_w, prefix, "k.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->k_b, prefix, "k.bias", ng_shape1(H)) ||
            ng__tn_add(w, &o->v_w, prefix, "v.weight", ng_shape2(H, H)) || ng__tn_add(w, &o->v_b, prefix, "v.bias", ng_shape1(H)))
            return NG_ERR_ARG;
        return ng__tn_add_bn(net, prefix, &o->bn_g, &o->bn_b, &o->bn_mean, &o->bn_var);
    }
    return NG_OK; /* pools: no parameters */
}
/* Conv/Linear weight: Xavier (retraining) or PyTorch's default; bias: PyTorch's default. */
static void ng__tn_init_wb(const ng_textnas_hp *hp, ng_tensor *w, ng_tensor *b, ng_rng *r) {
    if (hp->xavier) ng_init_xavier_uniform(w, 1.0f, r);
    else ng_init_kaiming_uniform_default(w, r);
    if (b) ng_init_bias_default(b, w, r);
}
static void ng__tn_init_bn(ng_tensor *g, ng_tensor *b, ng_tensor *m, ng_tensor *v) {
    if (!g) return;
    ng_init_constant(g, 1.0f);
    ng_init_constant(b, 0.0f);
    ng_init_constant(m, 0.0f);
    ng_init_constant(v, 1.0f);
}
static void ng__tn_init_op(const ng_textnas_hp *hp, ng_textnas_op_w *o, ng_rng *r) {
    int d;
    float bound = 1.0f / sqrtf((float)hp->hidden);
    if (o->w) ng__tn_init_wb(hp, o->w, o->b, r);
    if (o->q_w) {
        ng__tn_init_wb(hp, o->q_w, o->q_b, r);
        ng__tn_init_wb(hp, o->k_w, o->k_b, r);
        ng__tn_init_wb(hp, o->v_w, o->v_b, r);
    }
    for (d = 0; d < 2; d++)
        if (o->w_ih[d]) { /* nn.GRU: every tensor U(+-1/sqrt(H)) */
            ng_init_uniform(o->w_ih[d], -bound, bound, r);
            ng_init_uniform(o->w_hh[d], -bound, bound, r);
            ng_init_uniform(o->b_ih[d], -bound, bound, r);
            ng_init_uniform(o->b_hh[d], -bound, bound, r);
        }
    ng__tn_init_bn(o->bn_g, o->bn_b, o->bn_mean, o->bn_var);
}
static int ng__tn_has_op(const ng_textnas_net *net, int layer, int op) { return !net->fixed || net->arch.op[layer] == op; }
static int ng__tn_has_bn(const ng_textnas_net *net, int layer) {
    return !net->fixed || net->hp.bn_always || net->arch.skip[layer] != 0;
}

static ng_status ng__tn_declare(ng_textnas_net *net) {
    const ng_textnas_hp *hp = &net->hp;
    char prefix[48];
    int i, k;
    net->emb = ng_params_add(net->embed, "embedding.weight", ng_shape2(hp->vocab, hp->embed_dim));
    if (!net->emb || ng__tn_add_op(net, &net->init, NG_TEXTNAS_CONV1, hp->embed_dim, "init_conv")) return NG_ERR_ARG;
    for (i = 0; i < hp->n_layers; i++) {
        ng_textnas_layer_w *l = &net->layer[i];
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) {
            if (!ng__tn_has_op(net, i, k)) continue;
            snprintf(prefix, sizeof prefix, "layers.%d.op.%d", i, k);
            if (ng__tn_add_op(net, &l->op[k], k, hp->hidden, prefix)) return NG_ERR_ARG;
        }
        snprintf(prefix, sizeof prefix, "layers.%d", i);
        if (ng__tn_has_bn(net, i) && ng__tn_add_bn(net, prefix, &l->bn_g, &l->bn_b, &l->bn_mean, &l->bn_var)) return NG_ERR_ARG;
    }
    if (!(net->combine = ng_params_add(net->weights, "linear_combine.weight", ng_shape1(hp->n_layers))) ||
        !(net->fc_w = ng_params_add(net->weights, "classifier.weight", ng_shape2(hp->n_classes, hp->hidden))) ||
        !(net->fc_b = ng_params_add(net->weights, "classifier.bias", ng_shape1(hp->n_classes))))
        return NG_ERR_ARG;
    return NG_OK;
}

ng_status ng_textnas_net_init(ng_textnas_net *net, const ng_textnas_hp *hp, const ng_textnas_arch *arch, uint64_t seed) {
    ng_rng r;
    ng_status s;
    int i, k;
    int64_t j;
    memset(net, 0, sizeof *net);
    if ((s = ng_textnas_hp_check(hp)) != NG_OK) return s;
    net->hp = *hp;
    if (arch) {
        if ((s = ng_textnas_arch_check(arch, hp->choose_from)) != NG_OK) return s;
        if (arch->n_layers != hp->n_layers)
            return ng_fail(NG_ERR_ARG, "textnas: architecture of %d layers for a %d-layer net", arch->n_layers, hp->n_layers);
        net->fixed = 1;
        net->arch = *arch;
    }
    net->embed = ng_params_create("textnas.embed", 1);
    net->weights = ng_params_create("textnas", 1);
    net->buffers = ng_params_create("textnas.stats", 0);
    if (!net->embed || !net->weights || !net->buffers) { ng_textnas_net_free(net); return ng_fail(NG_ERR_NOMEM, "textnas: out of memory"); }
    if ((s = ng__tn_declare(net)) != NG_OK || (s = ng_params_alloc(net->embed)) != NG_OK ||
        (s = ng_params_alloc(net->weights)) != NG_OK || (s = ng_params_alloc(net->buffers)) != NG_OK) {
        ng_textnas_net_free(net);
        return s;
    }
    /* initialisation order: embedding, init conv, layers in order, combine, classifier */
    ng_rng_seed(&r, seed);
    ng_init_uniform(net->emb, -0.25f, 0.25f, &r);
    for (j = 0; j < hp->embed_dim; j++) net->emb->data[j] = 0.0f; /* <pad> */
    ng__tn_init_op(hp, &net->init, &r);
    for (i = 0; i < hp->n_layers; i++) {
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) ng__tn_init_op(hp, &net->layer[i].op[k], &r);
        ng__tn_init_bn(net->layer[i].bn_g, net->layer[i].bn_b, net->layer[i].bn_mean, net->layer[i].bn_var);
    }
    ng_init_constant(net->combine, 1.0f / (float)hp->n_layers);
    ng__tn_init_wb(hp, net->fc_w, net->fc_b, &r);
    return NG_OK;
}
void ng_textnas_net_free(ng_textnas_net *net) {
    ng_params_free(net->embed);
    ng_params_free(net->weights);
    ng_params_free(net->buffers);
    memset(net, 0, sizeof *net);
}
int64_t ng_textnas_net_count(const ng_textnas_net *net) { return net->weights ? net->weights->numel : 0; }

/* ---- forward ---- */
typedef struct ng__tn_fw {
    ng_ctx *ctx;
    ng_textnas_net *net;
    ng_tensor *mask;        /* (N, L) */
    const int32_t *lengths; /* (N), host: the mask's lengths (the GRU reads them, not the mask) */
    int64_t N, L, H;
} ng__tn_fw;

static ng_tensor *ng__tn_bn(const ng__tn_fw *f, ng_tensor *x, ng_tensor *g, ng_tensor *b, ng_tensor *m, ng_tensor *v) {
    return ng_seq_batch_norm(f->ctx, x, g, b, m, v, f->net->hp.bn_momentum, f->net->hp.bn_eps);
}
/* conv -> mask -> BN -> mask -> ReLU -> dropout */
static ng_tensor *ng__tn_convbn(const ng__tn_fw *f, const ng_textnas_op_w *o, ng_tensor *x) {
    ng_tensor *y = ng_seq_mask(f->ctx, ng_conv1d(f->ctx, x, o->w, o->b), f->mask);
    y = ng_seq_mask(f->ctx, ng__tn_bn(f, y, o->bn_g, o->bn_b, o->bn_mean, o->bn_var), f->mask);
    return ng_dropout(f->ctx, ng_relu(f->ctx, y), f->net->hp.p_cnn);
}
static ng_tensor *ng__tn_proj(const ng__tn_fw *f, ng_tensor *x2d, ng_tensor *w, ng_tensor *b) {
    return ng_reshape(f->ctx, ng_relu(f->ctx, ng_linear(f->ctx, x2d, w, b)), ng_shape3(f->N, f->L, f->H));
}
static ng_tensor *ng__tn_op(const ng__tn_fw *f, const ng_textnas_op_w *o, int op, ng_tensor *x) {
    ng_ctx *ctx = f->ctx;
    const ng_textnas_hp *hp = &f->net->hp;
    if (op <= NG_TEXTNAS_CONV7) return ng__tn_convbn(f, o, x);
    if (op == NG_TEXTNAS_AVG_POOL) return ng_seq_mask(ctx, ng_seq_avg_pool3(ctx, x), f->mask);
    if (op == NG_TEXTNAS_MAX_POOL) return ng_seq_mask(ctx, ng_seq_max_pool3(ctx, x), f->mask);
    if (op == NG_TEXTNAS_RNN) {
        ng_tensor *fw = ng_seq_gru_lengths(ctx, x, f->mask, f->lengths, o->w_ih[0], o->w_hh[0], o->b_ih[0], o->b_hh[0], 0);
        ng_tensor *bw = ng_seq_gru_lengths(ctx, x, f->mask, f->lengths, o->w_ih[1], o->w_hh[1], o->b_ih[1], o->b_hh[1], 1);
        return ng_dropout(ctx, ng_add(ctx, fw, bw), hp->p_rnn);
    } else {
        ng_tensor *x2 = ng_reshape(ctx, x, ng_shape2(f->N * f->L, f->H)), *y;
        y = ng_seq_attention(ctx, ng__tn_proj(f, x2, o->q_w, o->q_b), ng__tn_proj(f, x2, o->k_w, o->k_b),
                             ng__tn_proj(f, x2, o->v_w, o->v_b), f->mask, hp->heads, ctx->training ? hp->p_att : 0.0f);
        y = ng_seq_mask(ctx, y, f->mask);
        return ng_seq_mask(ctx, ng__tn_bn(f, y, o->bn_g, o->bn_b, o->bn_mean, o->bn_var), f->mask);
    }
}
/* The layer's closing BN -> mask (when the layer has a BN). */
static ng_tensor *ng__tn_layer_out(const ng__tn_fw *f, const ng_textnas_layer_w *l, ng_tensor *sum, int use_bn) {
    if (!use_bn) return sum;
    return ng_seq_mask(f->ctx, ng__tn_bn(f, sum, l->bn_g, l->bn_b, l->bn_mean, l->bn_var), f->mask);
}

/* Embedding -> dropout -> init ConvBN; sets up f. NULL on a bad batch (ctx status set). */
static ng_tensor *ng__tn_stem(ng__tn_fw *f, ng_ctx *ctx, ng_textnas_net *net, const ng_text_batch *b) {
    int64_t i, t;
    f->ctx = ctx;
    f->net = net;
    f->N = b->n;
    f->L = b->len;
    f->H = net->hp.hidden;
    if (b->n < 1 || b->len < 1 || !b->ids || !b->lengths) {
        ng_fail(NG_ERR_ARG, "textnas forward: empty batch (n %lld, len %d)", (long long)b->n, b->len);
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    for (i = 0; i < b->n; i++) {
        if (b->lengths[i] < 0 || b->lengths[i] > b->len) {
            ng_fail(NG_ERR_ARG, "textnas forward: example %lld has length %d (must be 0..%d)", (long long)i, b->lengths[i], b->len);
            if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
            return NULL;
        }
        for (t = 0; t < b->len; t++) {
            int32_t id = b->ids[i * b->len + t];
            if (id < 0 || id >= net->hp.vocab) {
                ng_fail(NG_ERR_ARG, "textnas forward: example %lld, position %lld: token id %d outside the vocabulary of %lld",
                        (long long)i, (long long)t, id, (long long)net->hp.vocab);
                if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
                return NULL;
            }
        }
    }
    f->mask = ng_seq_mask_from_lengths(ctx, b->lengths, b->n, b->len);
    f->lengths = b->lengths;
    return ng__tn_convbn(f, &net->init, ng_dropout(ctx, ng_embedding(ctx, net->emb, b->ids, b->n, b->len, -1), net->hp.p_embed));
}
/* LinearCombine -> masked mean -> Linear */
static ng_tensor *ng__tn_head(const ng__tn_fw *f, ng_tensor *const *outs) {
    ng_tensor *z = ng_mixed(f->ctx, f->net->combine, 0, outs, f->net->hp.n_layers);
    return ng_linear(f->ctx, ng_seq_mean_pool(f->ctx, z, f->mask), f->net->fc_w, f->net->fc_b);
}

ng_tensor *ng_textnas_forward(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch, const ng_text_batch *b,
                              ng_tensor **layers) {
    ng__tn_fw f;
    ng_tensor *outs[NG_TEXTNAS_MAX_LAYERS], *x;
    int i, j;
    if (!arch) arch = &net->arch;
    if (!net->fixed && !arch->n_layers) {
        ng_fail(NG_ERR_ARG, "textnas forward: the supernet needs an architecture");
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    if ((net->fixed && !ng_textnas_arch_eq(arch, &net->arch)) || arch->n_layers != net->hp.n_layers ||
        ng_textnas_arch_check(arch, net->hp.choose_from) != NG_OK) {
        if (net->fixed && !ng_textnas_arch_eq(arch, &net->arch))
            ng_fail(NG_ERR_ARG, "textnas forward: a fixed net runs its own architecture only");
        else if (arch->n_layers != net->hp.n_layers)
            ng_fail(NG_ERR_ARG, "textnas forward: %d-layer architecture for a %d-layer net", arch->n_layers, net->hp.n_layers);
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    x = ng__tn_stem(&f, ctx, net, b);
    if (!x) return NULL;
    for (i = 0; i < arch->n_layers; i++) {
        const ng_textnas_layer_w *l = &net->layer[i];
        ng_tensor *y = ng__tn_op(&f, &l->op[arch->op[i]], arch->op[i], i ? outs[arch->input[i]] : x);
        for (j = 0; j < i; j++)
            if ((arch->skip[i] >> j) & 1u) y = ng_add(ctx, y, outs[j]);
        outs[i] = ng__tn_layer_out(&f, l, y, net->hp.bn_always || arch->skip[i] != 0);
        if (layers) layers[i] = outs[i];
    }
    return ng__tn_head(&f, outs);
}

/* ---- differentiable search ---- */
ng_status ng_textnas_alpha_init(ng_textnas_alpha *a, int n_layers, int choose_from) {
    ng_status s;
    int i;
    memset(a, 0, sizeof *a);
    if (n_layers < 1 || n_layers > NG_TEXTNAS_MAX_LAYERS - 1 || choose_from < 1)
        return ng_fail(NG_ERR_ARG, "textnas alpha: %d layers, choose_from %d", n_layers, choose_from);
    a->n_layers = n_layers;
    a->choose_from = choose_from;
    if (!(a->params = ng_params_create("textnas.alpha", 1))) return ng_fail(NG_ERR_NOMEM, "textnas alpha: out of memory");
    a->op = ng_params_add(a->params, "op", ng_shape2(n_layers, NG_TEXTNAS_N_OPS));
    a->skip = n_layers > 1 ? ng_params_add(a->params, "skip", ng_shape2((int64_t)n_layers * (n_layers - 1) / 2, 2)) : NULL;
    for (i = 1; i < n_layers; i++) {
        char name[16];
        snprintf(name, sizeof name, "in.%d", i);
        if (!(a->in[i] = ng_params_add(a->params, name, ng_shape1(i - ng_textnas_input_first(i, choose_from))))) break;
    }
    if (!a->op || (n_layers > 1 && !a->skip) || i < n_layers || (s = ng_params_alloc(a->params)) != NG_OK) {
        ng_textnas_alpha_free(a);
        return ng_fail(NG_ERR_NOMEM, "textnas alpha: out of memory");
    }
    return NG_OK;
}
void ng_textnas_alpha_free(ng_textnas_alpha *a) {
    ng_params_free(a->params);
    memset(a, 0, sizeof *a);
}
static int ng__tn_argmax(const float *v, int n) {
    int k, best = 0;
    for (k = 1; k < n; k++)
        if (v[k] > v[best]) best = k;
    return best;
}
/* alpha's op mask with 0 read as "all 8" */
static uint32_t ng__tn_op_mask(const ng_textnas_alpha *a) {
    uint32_t all = (1u << NG_TEXTNAS_N_OPS) - 1, m = a->op_mask & all;
    return m ? m : all;
}
/* the first op of the mask with the largest logit */
static int ng__tn_argmax_masked(const float *v, uint32_t mask) {
    int k, best = -1;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
        if (((mask >> k) & 1u) && (best < 0 || v[k] > v[best])) best = k;
    return best;
}
/* The alpha group's values in host memory: the group itself, or a copy in *copy (freed by the
   caller) when it lives on the GPU; NULL if that copy cannot be made. */
static const float *ng__tn_alpha_host(const ng_textnas_alpha *a, float **copy) {
    const ng_params *g = a->params;
    *copy = NULL;
    if (g->device != NG_CUDA) return g->data;
    if (!(*copy = (float *)malloc((size_t)(g->numel ? g->numel : 1) * sizeof(float)))) return NULL;
    ng__cuda_copy(*copy, g->data, (size_t)g->numel * sizeof(float), 2);
    return *copy;
}
#define NG__TN_HOST(t) (base + ((t)->data - a->params->data))

void ng_textnas_alpha_derive(const ng_textnas_alpha *a, ng_textnas_arch *out) {
    float *copy;
    const float *base = ng__tn_alpha_host(a, &copy);
    int i, j;
    ng__tn_arch_clear(out, a->n_layers);
    for (i = 0; i < a->n_layers && base; i++) {
        out->op[i] = ng__tn_argmax_masked(NG__TN_HOST(a->op) + i * NG_TEXTNAS_N_OPS, ng__tn_op_mask(a));
        if (i == 0) continue;
        out->input[i] = ng_textnas_input_first(i, a->choose_from) + ng__tn_argmax(NG__TN_HOST(a->in[i]), (int)a->in[i]->numel);
        for (j = 0; j < i; j++) {
            const float *pair = NG__TN_HOST(a->skip) + ((int64_t)i * (i - 1) / 2 + j) * 2;
            if (pair[1] > pair[0]) out->skip[i] |= 1u << j;
        }
    }
    free(copy);
}

double ng_textnas_alpha_op_entropy(const ng_textnas_alpha *a) {
    float *copy;
    const float *base = ng__tn_alpha_host(a, &copy);
    const uint32_t mask = ng__tn_op_mask(a);
    double sum = 0;
    int i, k, n_ops = 0;
    if (!base || a->n_layers < 1) { free(copy); return NAN; }
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++) n_ops += (int)((mask >> k) & 1u);
    for (i = 0; i < a->n_layers && n_ops > 1; i++) {
        const float *z = NG__TN_HOST(a->op) + i * NG_TEXTNAS_N_OPS;
        double mx = z[ng__tn_argmax_masked(z, mask)], tot = 0, h = 0;
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
            if ((mask >> k) & 1u) tot += exp(z[k] - mx);
        for (k = 0; k < NG_TEXTNAS_N_OPS; k++) {
            double p = (mask >> k) & 1u ? exp(z[k] - mx) / tot : 0;
            if (p > 0) h -= p * log(p);
        }
        sum += h / log((double)n_ops);
    }
    free(copy);
    return sum / a->n_layers;
}
#undef NG__TN_HOST

ng_tensor *ng_textnas_forward_mixed(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_alpha *alpha, const ng_text_batch *b) {
    static const int on_col = 1;
    ng__tn_fw f;
    ng_tensor *outs[NG_TEXTNAS_MAX_LAYERS], *x, *cand[NG_TEXTNAS_N_OPS], *op_logits = alpha->op;
    const uint32_t mask = ng__tn_op_mask(alpha), all = (1u << NG_TEXTNAS_N_OPS) - 1;
    int i, j, k, cols[NG_TEXTNAS_N_OPS], n_ops = 0;
    if (net->fixed || alpha->n_layers != net->hp.n_layers || alpha->choose_from != net->hp.choose_from) {
        ng_fail(NG_ERR_ARG, "textnas mixed forward: needs the supernet and alpha of its layer count and choose_from");
        if (ctx->status == NG_OK) ctx->status = NG_ERR_ARG;
        return NULL;
    }
    x = ng__tn_stem(&f, ctx, net, b);
    if (!x) return NULL;
    for (k = 0; k < NG_TEXTNAS_N_OPS; k++)
        if ((mask >> k) & 1u) cols[n_ops++] = k;
    if (mask != all) {   /* left-out ops: logit -1e30, so the softmax over the row is over the others */
        float *bias = (float *)malloc((size_t)alpha->n_layers * NG_TEXTNAS_N_OPS * sizeof(float));
        if (!bias) { ng_fail(NG_ERR_NOMEM, "textnas mixed forward: out of memory"); if (ctx->status == NG_OK) ctx->status = NG_ERR_NOMEM; return NULL; }
        for (i = 0; i < alpha->n_layers * NG_TEXTNAS_N_OPS; i++) bias[i] = (mask >> (i % NG_TEXTNAS_N_OPS)) & 1u ? 0.0f : -1e30f;
        op_logits = ng_add(ctx, alpha->op, ng_tensor_from(ctx, alpha->op->shape, bias));
        free(bias);
    }
    for (i = 0; i < net->hp.n_layers; i++) {
        const ng_textnas_layer_w *l = &net->layer[i];
        ng_tensor *in = x, *y;
        if (i > 0) {
            int first = ng_textnas_input_first(i, net->hp.choose_from);
            in = ng_mixed(ctx, alpha->in[i], 0, outs + first, i - first);
        }
        for (k = 0; k < n_ops; k++) {
            cand[k] = ng__tn_op(&f, &l->op[cols[k]], cols[k], in);
            if (ctx->training && alpha->pf_dropout > 0.0f && ng_textnas_op_is_param_free(cols[k]))
                cand[k] = ng_dropout(ctx, cand[k], alpha->pf_dropout);
        }
        y = mask == all ? ng_mixed(ctx, alpha->op, i, cand, NG_TEXTNAS_N_OPS)
                        : ng_mixed_cols(ctx, op_logits, i, cand, cols, n_ops, ng_shape3(f.N, f.L, f.H));
        for (j = 0; j < i; j++)
            y = ng_add(ctx, y, ng_mixed_cols(ctx, alpha->skip, i * (i - 1) / 2 + j, &outs[j], &on_col, 1, ng_shape3(f.N, f.L, f.H)));
        outs[i] = ng__tn_layer_out(&f, l, y, 1);
    }
    return ng__tn_head(&f, outs);
}
