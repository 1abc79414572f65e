/* ======================================================================================== */
/* @@GAN                                                                                    */
/* ======================================================================================== */

/* ---- op and edge tables ---- */
static const char *const ng__gan_normal_names[NG_GAN_N_NORMAL_OPS] = {
    "conv_1x1", "conv_3x3", "conv_5x5", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"};
static const char *const ng__gan_up_names[NG_GAN_N_UP_OPS] = {"deconv", "nearest", "bilinear"};
static const char *const ng__gan_edge_names[NG_GAN_EDGES] = {
    "cell1.normal0", "cell1.normal1", "cell1.normal2", "cell1.up0", "cell1.up1",
    "cell2.normal0", "cell2.normal1", "cell2.normal2", "cell2.up0", "cell2.up1",
    "cell3.normal0", "cell3.normal1", "cell3.normal2", "cell3.up0", "cell3.up1",
    "skip_2.0", "skip_3.0", "skip_3.1"};
/* kernel size of normal op k (conv or separable) */
static int ng__gan_ksize(int k) { static const int ks[6] = {1, 3, 5, 3, 5, 7}; return ks[k]; }

int ng_gan_edge_is_normal(int e) { return e >= 0 && e < 15 && e % 5 < 3; }
int ng_gan_edge_n_ops(int e) {
    if (e < 0 || e >= NG_GAN_EDGES) return 0;
    return ng_gan_edge_is_normal(e) ? NG_GAN_N_NORMAL_OPS : NG_GAN_N_UP_OPS;
}
const char *ng_gan_edge_name(int e) { return e >= 0 && e < NG_GAN_EDGES ? ng__gan_edge_names[e] : NULL; }
const char *ng_gan_normal_op_name(int k) { return k >= 0 && k < NG_GAN_N_NORMAL_OPS ? ng__gan_normal_names[k] : NULL; }
const char *ng_gan_up_op_name(int k) { return k >= 0 && k < NG_GAN_N_UP_OPS ? ng__gan_up_names[k] : NULL; }
const char *ng_gan_op_name(int e, int k) {
    if (e < 0 || e >= NG_GAN_EDGES) return NULL;
    return ng_gan_edge_is_normal(e) ? ng_gan_normal_op_name(k) : ng_gan_up_op_name(k);
}
int ng_gan_op_index(int e, const char *name) {
    int k, n = ng_gan_edge_n_ops(e);
    if (!name) return -1;
    for (k = 0; k < n; k++)
        if (strcmp(ng_gan_op_name(e, k), name) == 0) return k;
    return -1;
}

/* ---- configuration ---- */
ng_status ng_gan_config_preset(ng_gan_config *cfg, const char *dataset) {
    ng_gan_config c;
    c.gf_dim = 256; c.df_dim = 128; c.latent_dim = 128; c.bottom_width = 4; c.channels = 3;
    c.gumbel = 0; c.gumbel_temp = 0.5f;
    if (!dataset) return ng_fail(NG_ERR_ARG, "gan config: dataset name is NULL");
    if (strcmp(dataset, "cifar10") == 0) {
    } else if (strcmp(dataset, "stl10") == 0) {
        c.bottom_width = 6;
    } else if (strcmp(dataset, "fashion_mnist") == 0) {
        c.channels = 1;
    } else {
        return ng_fail(NG_ERR_ARG, "gan config: unknown dataset '%s' (expected cifar10, stl10 or fashion_mnist)", dataset);
    }
    *cfg = c;
    return NG_OK;
}

ng_status ng_gan_config_check(const ng_gan_config *c) {
    if (c->gf_dim < 1 || c->gf_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: gf_dim %d out of [1, 65536]", c->gf_dim);
    if (c->df_dim < 1 || c->df_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: df_dim %d out of [1, 65536]", c->df_dim);
    if (c->latent_dim < 1 || c->latent_dim > 65536) return ng_fail(NG_ERR_ARG, "gan config: latent_dim %d out of [1, 65536]", c->latent_dim);
    if (c->bottom_width < 1 || c->bottom_width > 1024) return ng_fail(NG_ERR_ARG, "gan config: bottom_width %d out of [1, 1024]", c->bottom_width);
    if (c->channels < 1 || c->channels > 64) return ng_fail(NG_ERR_ARG, "gan config: channels %d out of [1, 64]", c->channels);
    if (!(c->gumbel_temp > 0.0f) || !(c->gumbel_temp < FLT_MAX))
        return ng_fail(NG_ERR_ARG, "gan config: gumbel_temp %g must be positive and finite", (double)c->gumbel_temp);
    return NG_OK;
}

/* ---- genotypes ---- */
static ng_gan_genotype ng__gan_geno_from(const int *ops) {
    ng_gan_genotype g;
    memcpy(g.op, ops, sizeof g.op);
    return g;
}
ng_gan_genotype ng_gan_genotype_alphagan_l(void) {
    /* cell1: conv5x5, conv5x5, sep5x5 | deconv, bilinear; cell2: conv5x5, conv1x1, conv3x3 |
       deconv, bilinear; cell3: conv1x1, conv5x5, sep3x3 | nearest, bilinear;
       skip_2: nearest; skip_3: bilinear, nearest */
    static const int ops[NG_GAN_EDGES] = {
        NG_GAN_CONV_5X5, NG_GAN_CONV_5X5, NG_GAN_SEP_CONV_5X5, NG_GAN_DECONV, NG_GAN_BILINEAR,
        NG_GAN_CONV_5X5, NG_GAN_CONV_1X1, NG_GAN_CONV_3X3, NG_GAN_DECONV, NG_GAN_BILINEAR,
        NG_GAN_CONV_1X1, NG_GAN_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_NEAREST, NG_GAN_BILINEAR,
        NG_GAN_NEAREST, NG_GAN_BILINEAR, NG_GAN_NEAREST};
    return ng__gan_geno_from(ops);
}
ng_gan_genotype ng_gan_genotype_alphagan_s(void) {
    /* cell1: conv1x1, sep3x3, conv1x1 | bilinear, deconv; cell2: sep5x5, sep3x3, sep3x3 |
       deconv, deconv; cell3: sep5x5, sep3x3, sep3x3 | deconv, nearest;
       skip_2: nearest; skip_3: deconv (applied twice), bilinear */
    static const int ops[NG_GAN_EDGES] = {
        NG_GAN_CONV_1X1, NG_GAN_SEP_CONV_3X3, NG_GAN_CONV_1X1, NG_GAN_BILINEAR, NG_GAN_DECONV,
        NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_3X3, NG_GAN_DECONV, NG_GAN_DECONV,
        NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_3X3, NG_GAN_DECONV, NG_GAN_NEAREST,
        NG_GAN_NEAREST, NG_GAN_DECONV, NG_GAN_BILINEAR};
    return ng__gan_geno_from(ops);
}
ng_status ng_gan_genotype_builtin(const char *name, ng_gan_genotype *out) {
    if (name && strcmp(name, "alphaGAN_l") == 0) { *out = ng_gan_genotype_alphagan_l(); return NG_OK; }
    if (name && strcmp(name, "alphaGAN_s") == 0) { *out = ng_gan_genotype_alphagan_s(); return NG_OK; }
    return ng_fail(NG_ERR_ARG, "gan genotype: unknown built-in '%s' (expected alphaGAN_l or alphaGAN_s)", name ? name : "(null)");
}
void ng_gan_genotype_random(ng_gan_genotype *g, ng_rng *r) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++) g->op[e] = (int)ng_rng_below(r, (uint64_t)ng_gan_edge_n_ops(e));
}
int ng_gan_genotype_valid(const ng_gan_genotype *g) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++)
        if (g->op[e] < 0 || g->op[e] >= ng_gan_edge_n_ops(e)) return 0;
    return 1;
}
int ng_gan_genotype_eq(const ng_gan_genotype *a, const ng_gan_genotype *b) {
    return memcmp(a->op, b->op, sizeof a->op) == 0;
}

#define NG__GAN_FORMAT "nasgan.gan_genotype"

ng_status ng_gan_genotype_to_json(const ng_gan_genotype *g, char **out, size_t *n) {
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": 1,\n  \"cells\": [\n", NG__GAN_FORMAT);
    for (c = 0; c < NG_GAN_CELLS; c++)
        ng__sb_printf(&b, "    {\"normal\": [\"%s\", \"%s\", \"%s\"], \"up\": [\"%s\", \"%s\"]}%s\n",
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]],
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]],
                          ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]],
                          ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]], ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]],
                          c + 1 < NG_GAN_CELLS ? "," : "");
    ng__sb_printf(&b, "  ],\n  \"skip_2\": [\"%s\"],\n  \"skip_3\": [\"%s\", \"%s\"]\n}\n",
                      ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]], ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]],
                      ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    return ng__sb_finish(&b, "gan genotype JSON", out, n);
}

ng_status ng_gan_genotype_save(const ng_gan_genotype *g, const char *path) {
    char *text;
    size_t n;
    ng_status s = ng_gan_genotype_to_json(g, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

/* ["op", ...] with exactly `count` op names for edges e0, e0 + 1, ... */
static ng_status ng__json_ops(ng__json *p, int count, int e0, int *ops, const char *what) {
    char str[NG__JSON_STR];
    size_t at;
    int i;
    ng_status s;
    if ((s = ng__json_char(p, '[', "'[' (an array of op names)")) != NG_OK) return s;
    for (i = 0; i < count; i++) {
        int k;
        if (i > 0) {
            if (ng__json_peek(p, ']')) return ng__json_err(p, p->pos, "%s has %d op names, expected %d", what, i, count);
            if ((s = ng__json_char(p, ',', "',' or ']'")) != NG_OK) return s;
        } else if (ng__json_peek(p, ']')) {
            return ng__json_err(p, p->pos, "%s is empty, expected %d op names", what, count);
        }
        if ((s = ng__json_string(p, str, &at, "an op name (string)")) != NG_OK) return s;
        k = ng_gan_op_index(e0 + i, str);
        if (k < 0) {
            char list[128];
            int j, nk = ng_gan_edge_n_ops(e0 + i);
            size_t used = 0;
            list[0] = 0;
            for (j = 0; j < nk && used < sizeof list; j++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", ng_gan_op_name(e0 + i, j));
                if (w < 0) break;
                used += (size_t)w;
            }
            return ng__json_err(p, at, "unknown %s op \"%s\" in %s (expected one of %s)",
                              ng_gan_edge_is_normal(e0 + i) ? "normal" : "up", str, what, list);
        }
        ops[i] = k;
    }
    if (ng__json_peek(p, ',')) return ng__json_err(p, p->pos, "%s has more than %d op names", what, count);
    return ng__json_char(p, ']', "']'");
}

static ng_status ng__json_cell(ng__json *p, int c, ng_gan_genotype *g) {
    char key[NG__JSON_STR], what[40];
    size_t at, open;
    int first = 1, r, have_normal = 0, have_up = 0;
    ng_status s = NG_OK;
    ng__json_ws(p);
    open = p->pos;
    if ((s = ng__json_char(p, '{', "'{' (a cell object)")) != NG_OK) return s;
    while ((r = ng__json_member(p, &first, key, &at, &s)) == 1) {
        if (strcmp(key, "normal") == 0) {
            if (have_normal++) return ng__json_err(p, at, "duplicate key \"normal\" in cell %d", c + 1);
            snprintf(what, sizeof what, "cell %d \"normal\"", c + 1);
            if ((s = ng__json_ops(p, 3, NG_GAN_EDGE_NORMAL(c, 0), &g->op[NG_GAN_EDGE_NORMAL(c, 0)], what)) != NG_OK) return s;
        } else if (strcmp(key, "up") == 0) {
            if (have_up++) return ng__json_err(p, at, "duplicate key \"up\" in cell %d", c + 1);
            snprintf(what, sizeof what, "cell %d \"up\"", c + 1);
            if ((s = ng__json_ops(p, 2, NG_GAN_EDGE_UP(c, 0), &g->op[NG_GAN_EDGE_UP(c, 0)], what)) != NG_OK) return s;
        } else {
            return ng__json_err(p, at, "unknown key \"%s\" in cell %d (expected \"normal\" and \"up\")", key, c + 1);
        }
    }
    if (r < 0) return s;
    if (!have_normal || !have_up)
        return ng__json_err(p, open, "cell %d lacks the key \"%s\"", c + 1, have_normal ? "up" : "normal");
    return NG_OK;
}

ng_status ng_gan_genotype_parse(const char *text, size_t n, const char *name, ng_gan_genotype *out) {
    static const char *const keys[5] = {"format", "version", "cells", "skip_2", "skip_3"};
    ng__json p;
    ng_gan_genotype g;
    char key[NG__JSON_STR], str[NG__JSON_STR];
    size_t at;
    int first = 1, r, seen[5] = {0, 0, 0, 0, 0}, k, c;
    ng_status s = NG_OK;
    p.s = (const unsigned char *)text;
    p.n = text ? n : 0;
    p.pos = 0;
    p.name = name ? name : "(memory)";
    p.kind = "genotype JSON";
    for (k = 0; k < NG_GAN_EDGES; k++) g.op[k] = -1;
    if ((s = ng__json_char(&p, '{', "'{' (a genotype object)")) != NG_OK) return s;
    while ((r = ng__json_member(&p, &first, key, &at, &s)) == 1) {
        for (k = 0; k < 5; k++)
            if (strcmp(key, keys[k]) == 0) break;
        if (k == 5)
            return ng__json_err(&p, at, "unknown key \"%s\" (expected format, version, cells, skip_2, skip_3)", key);
        if (seen[k]++) return ng__json_err(&p, at, "duplicate key \"%s\"", key);
        if (k == 0) {
            size_t vat;
            if ((s = ng__json_string(&p, str, &vat, "a string for \"format\"")) != NG_OK) return s;
            if (strcmp(str, NG__GAN_FORMAT) != 0)
                return ng__json_err(&p, vat, "\"format\" is \"%s\", expected \"" NG__GAN_FORMAT "\"", str);
        } else if (k == 1) {
            long v = 0;
            size_t vat;
            ng__json_ws(&p);
            vat = p.pos;
            if ((s = ng__json_int(&p, &v, "an integer for \"version\"")) != NG_OK) return s;
            if (v != 1) return ng__json_err(&p, vat, "unsupported version %ld (this reader knows version 1)", v);
        } else if (k == 2) {
            if ((s = ng__json_char(&p, '[', "'[' (the array of 3 cells)")) != NG_OK) return s;
            for (c = 0; c < NG_GAN_CELLS; c++) {
                if (c > 0) {
                    if (ng__json_peek(&p, ']')) return ng__json_err(&p, p.pos, "\"cells\" has %d cells, expected 3", c);
                    if ((s = ng__json_char(&p, ',', "',' or ']'")) != NG_OK) return s;
                } else if (ng__json_peek(&p, ']')) {
                    return ng__json_err(&p, p.pos, "\"cells\" is empty, expected 3 cells");
                }
                if ((s = ng__json_cell(&p, c, &g)) != NG_OK) return s;
            }
            if (ng__json_peek(&p, ',')) return ng__json_err(&p, p.pos, "\"cells\" has more than 3 cells");
            if ((s = ng__json_char(&p, ']', "']'")) != NG_OK) return s;
        } else if (k == 3) {
            if ((s = ng__json_ops(&p, 1, NG_GAN_EDGE_SKIP2, &g.op[NG_GAN_EDGE_SKIP2], "\"skip_2\"")) != NG_OK) return s;
        } else {
            if ((s = ng__json_ops(&p, 2, NG_GAN_EDGE_SKIP3(0), &g.op[NG_GAN_EDGE_SKIP3(0)], "\"skip_3\"")) != NG_OK) return s;
        }
    }
    if (r < 0) return s;
    for (k = 0; k < 5; k++)
        if (!seen[k]) return ng__json_err(&p, p.pos ? p.pos - 1 : 0, "missing key \"%s\"", keys[k]);
    ng__json_ws(&p);
    if (p.pos != p.n) return ng__json_expected(&p, p.pos, "end of input after the genotype object");
    if (!ng_gan_genotype_valid(&g)) return ng__json_err(&p, 0, "internal: incomplete genotype");
    *out = g;
    return NG_OK;
}

ng_status ng_gan_genotype_load(const char *path, ng_gan_genotype *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status s = ng_file_read_all(path, (size_t)1 << 20, &buf, &n);
    if (s != NG_OK) return s;
    s = ng_gan_genotype_parse((const char *)buf, n, path, out);
    free(buf);
    return s;
}

/* ---- Graphviz DOT ---- */
static void ng__gan_dot_quote(ng__sb *b, const char *s) {
    ng__sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') ng__sb_printf(b, "\\%c", *s);
        else if (*s == '\n') ng__sb_printf(b, "\\n");
        else if ((unsigned char)*s >= 0x20) ng__sb_printf(b, "%c", *s);
    }
    ng__sb_printf(b, "\"");
}

ng_status ng_gan_genotype_to_dot(const ng_gan_genotype *g, const char *title, char **out, size_t *n) {
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__sb_printf(&b, "digraph alphagan_generator {\n  label=");
    ng__gan_dot_quote(&b, title ? title : "alphaGAN generator");
    ng__sb_printf(&b, ";\n  labelloc=t;\n  rankdir=LR;\n  node [shape=box, style=rounded];\n"
                          "  z [label=\"z\", shape=plaintext];\n  l1 [label=\"linear + reshape\"];\n"
                          "  to_rgb [label=\"to_rgb\\n(BN, ReLU, conv3x3, tanh)\"];\n  z -> l1;\n");
    for (c = 0; c < NG_GAN_CELLS; c++) {
        int k;
        ng__sb_printf(&b, "  subgraph cluster_cell%d {\n    label=\"cell %d\";\n", c + 1, c + 1);
        for (k = 0; k < 5; k++) ng__sb_printf(&b, "    c%d_n%d [label=\"node %d\"];\n", c + 1, k, k);
        ng__sb_printf(&b, "    c%d_n0 -> c%d_n1 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]]);
        ng__sb_printf(&b, "    c%d_n0 -> c%d_n3 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]]);
        ng__sb_printf(&b, "    c%d_n1 -> c%d_n2 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]]);
        ng__sb_printf(&b, "    c%d_n2 -> c%d_n4 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]]);
        ng__sb_printf(&b, "    c%d_n3 -> c%d_n4 [label=\"%s\"];\n", c + 1, c + 1, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]]);
        ng__sb_printf(&b, "  }\n");
    }
    ng__sb_printf(&b, "  l1 -> c1_n0;\n  c1_n4 -> c2_n0;\n  c2_n4 -> c3_n0;\n  c3_n4 -> to_rgb;\n");
    ng__sb_printf(&b, "  c1_n1 -> c2_n4 [label=\"%s x2 (skip_2)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]]);
    ng__sb_printf(&b, "  c1_n1 -> c3_n4 [label=\"%s x4 (skip_3.0)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]]);
    ng__sb_printf(&b, "  c2_n1 -> c3_n4 [label=\"%s x2 (skip_3.1)\", style=dashed];\n", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    ng__sb_printf(&b, "}\n");
    return ng__sb_finish(&b, "gan genotype DOT", out, n);
}

/* a picture of g written atomically by one of the writers below */
typedef ng_status (*ng__gan_picture_fn)(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
static ng_status ng__gan_save_picture(ng__gan_picture_fn draw, const ng_gan_genotype *g, const char *title, const char *path) {
    char *text;
    size_t n;
    ng_status s = draw(g, title, &text, &n);
    if (s != NG_OK) return s;
    s = ng_file_write_atomic(path, text, n);
    free(text);
    return s;
}

ng_status ng_gan_genotype_save_dot(const ng_gan_genotype *g, const char *title, const char *path) {
    return ng__gan_save_picture(ng_gan_genotype_to_dot, g, title, path);
}

/* The generator drawn left to right with a fixed layout (the topology never changes, only
   the ops on the edges): z, the linear stem, three cells of nodes 0-4 (up edges in blue,
   normal edges in black), to_rgb, and the three cross-cell skips as dashed arcs on top. */
#define NG__GAN_SVG_CELL_X(c) (250.0 + 430.0 * (c))
static void ng__gan_svg_cell(ng__sb *b, const ng_gan_genotype *g, int c) {
    static const double col[5] = {0, 110, 230, 110, 340}, row[5] = {190, 150, 150, 230, 190};
    static const char *const up = "#1f5fa8", *const normal = "#333333";
    const double X = NG__GAN_SVG_CELL_X(c), hw = 17;
    char label[16];
    int k;
    ng__svg_edge(b, X + col[0] + hw, row[0], X + col[1] - hw, row[1], 0, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]], 0, up);
    ng__svg_edge(b, X + col[0] + hw, row[0], X + col[3] - hw, row[3], 0, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]], 0, up);
    ng__svg_edge(b, X + col[1] + hw, row[1], X + col[2] - hw, row[2], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 0)]], 0, normal);
    ng__svg_edge(b, X + col[2] + hw, row[2], X + col[4] - hw, row[4], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 1)]], 0, normal);
    ng__svg_edge(b, X + col[3] + hw, row[3], X + col[4] - hw, row[4], 0, ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, 2)]], 0, normal);
    for (k = 0; k < 5; k++) {
        snprintf(label, sizeof label, "%d", k);
        ng__svg_node(b, X + col[k], row[k], 2 * hw, 24, label, "#dde8f5");
    }
    if (c + 1 < NG_GAN_CELLS) ng__svg_edge(b, X + col[4] + hw, row[4], NG__GAN_SVG_CELL_X(c + 1) - hw, 190, 0, NULL, 0, normal);
}

ng_status ng_gan_genotype_to_svg(const ng_gan_genotype *g, const char *title, char **out, size_t *n) {
    const double n1 = 110, n4 = 340, top = 150 - 12, mid = 190 - 12;   /* node 1 and 4 columns, box tops */
    char label[64];
    ng__sb b;
    int c;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    ng__svg_begin(&b, 1640, 290, title ? title : "alphaGAN generator");
    ng__svg_node(&b, 40, 190, 40, 26, "z", "#eeeeee");
    ng__svg_node(&b, 140, 190, 120, 26, "linear + reshape", "#eeeeee");
    for (c = 0; c < NG_GAN_CELLS; c++)   /* the frames first: edges into the cells cross them */
        ng__sb_printf(&b, "<rect x=\"%.1f\" y=\"118\" width=\"400\" height=\"138\" rx=\"10\" fill=\"#f4f7fb\" "
                          "stroke=\"#c8d3e0\"/><text x=\"%.1f\" y=\"134\" fill=\"#555\">cell %d</text>\n",
                      NG__GAN_SVG_CELL_X(c) - 30, NG__GAN_SVG_CELL_X(c) - 22, c + 1);
    ng__svg_edge(&b, 60, 190, 80, 190, 0, NULL, 0, "#333");
    ng__svg_edge(&b, 200, 190, NG__GAN_SVG_CELL_X(0) - 17, 190, 0, NULL, 0, "#333");
    for (c = 0; c < NG_GAN_CELLS; c++) ng__gan_svg_cell(&b, g, c);
    ng__svg_node(&b, 1560, 190, 100, 26, "to_rgb", "#eeeeee");
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(2) + n4 + 17, 190, 1510, 190, 0, NULL, 0, "#333");
    snprintf(label, sizeof label, "%s x2 (skip_2)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(0) + n1, top, NG__GAN_SVG_CELL_X(1) + n4, mid, 150, label, 1, "#777");
    snprintf(label, sizeof label, "%s x4 (skip_3.0)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(0) + n1, top, NG__GAN_SVG_CELL_X(2) + n4, mid, 230, label, 1, "#777");
    snprintf(label, sizeof label, "%s x2 (skip_3.1)", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    ng__svg_edge(&b, NG__GAN_SVG_CELL_X(1) + n1, top, NG__GAN_SVG_CELL_X(2) + n4, mid, 150, label, 1, "#777");
    ng__svg_end(&b);
    return ng__sb_finish(&b, "gan genotype SVG", out, n);
}
#undef NG__GAN_SVG_CELL_X

ng_status ng_gan_genotype_save_svg(const ng_gan_genotype *g, const char *title, const char *path) {
    return ng__gan_save_picture(ng_gan_genotype_to_svg, g, title, path);
}

/* ---- the reference code's Genotype_gen (models/genotypes.py), e.g.
   alphaGAN_l = Genotype_gen(normal={'1': [('conv_5x5', 0), ...], ...}, up={'1': [('deconv', 0),
   ('bilinear', 1)], ...}, skip_2=[('nearest', 0)], skip_3=[('bilinear', 0), ('nearest', 1)])
   normal lists the edges n1->2, n2->4, n3->4 and up the edges 0->1, 0->3 of each cell. ---- */
ng_status ng_gan_genotype_to_python(const ng_gan_genotype *g, const char *var, char **out, size_t *n) {
    ng__sb b;
    int c, k;
    memset(&b, 0, sizeof b);
    if (!ng_gan_genotype_valid(g)) return ng_fail(NG_ERR_ARG, "gan genotype: an op index is out of range");
    if (var && var[0]) ng__sb_printf(&b, "%s = ", var);
    ng__sb_printf(&b, "Genotype_gen(normal={");
    for (c = 0; c < NG_GAN_CELLS; c++) {
        ng__sb_printf(&b, "%s'%d': [", c ? ", " : "", c + 1);
        for (k = 0; k < 3; k++) ng__sb_printf(&b, "%s('%s', %d)", k ? ", " : "", ng__gan_normal_names[g->op[NG_GAN_EDGE_NORMAL(c, k)]], k);
        ng__sb_printf(&b, "]");
    }
    ng__sb_printf(&b, "}, up={");
    for (c = 0; c < NG_GAN_CELLS; c++)
        ng__sb_printf(&b, "%s'%d': [('%s', 0), ('%s', 1)]", c ? ", " : "", c + 1, ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 0)]],
                      ng__gan_up_names[g->op[NG_GAN_EDGE_UP(c, 1)]]);
    ng__sb_printf(&b, "}, skip_2=[('%s', 0)], skip_3=[('%s', 0), ('%s', 1)])", ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP2]],
                  ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(0)]], ng__gan_up_names[g->op[NG_GAN_EDGE_SKIP3(1)]]);
    return ng__sb_finish(&b, "gan genotype (Python)", out, n);
}

/* A cursor over Python literal text: identifiers, 'strings', integers and punctuation. */
typedef struct ng__py { const char *p, *end, *name; } ng__py;
static int ng__py_ident_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }
static void ng__py_space(ng__py *t) {
    while (t->p < t->end) {
        if (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r' || *t->p == '\\') t->p++;
        else if (*t->p == '#') while (t->p < t->end && *t->p != '\n') t->p++;
        else break;
    }
}
static int ng__py_punct(ng__py *t, char c) {
    ng__py_space(t);
    if (t->p < t->end && *t->p == c) { t->p++; return 1; }
    return 0;
}
static int ng__py_word(ng__py *t, char *out, size_t cap) {   /* an identifier */
    size_t l = 0;
    ng__py_space(t);
    while (t->p < t->end && ng__py_ident_char(*t->p)) {
        if (l + 1 >= cap) return 0;
        out[l++] = *t->p++;
    }
    out[l] = '\0';
    return l > 0;
}
static int ng__py_string(ng__py *t, char *out, size_t cap) {
    char q;
    size_t l = 0;
    ng__py_space(t);
    if (t->p >= t->end || (*t->p != '\'' && *t->p != '"')) return 0;
    q = *t->p++;
    while (t->p < t->end && *t->p != q && *t->p != '\n') {
        if (l + 1 >= cap) return 0;
        out[l++] = *t->p++;
    }
    if (t->p >= t->end || *t->p != q) return 0;
    t->p++;
    out[l] = '\0';
    return 1;
}
static int ng__py_int(ng__py *t, int *v) {
    int digits = 0;
    ng__py_space(t);
    *v = 0;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9' && digits < 6) { *v = *v * 10 + (*t->p++ - '0'); digits++; }
    return digits > 0 && !(t->p < t->end && *t->p >= '0' && *t->p <= '9');
}
static ng_status ng__py_bad(const ng__py *t, const char *start, const char *what) {
    return ng_fail(NG_ERR_FORMAT, "%s: Genotype_gen: %s at offset %ld", t->name, what, (long)(t->p - start));
}
/* [('op', 0), ('op', 1), ...]: exactly `count` pairs with indices 0, 1, ... in order, each op
   one of `names` (n_names); their indices into ops */
static int ng__py_pairs(ng__py *t, const char *const *names, int n_names, int count, int *ops) {
    int i, k, idx;
    char op[32];
    if (!ng__py_punct(t, '[')) return 0;
    for (i = 0; i < count; i++) {
        if ((i && !ng__py_punct(t, ',')) || !ng__py_punct(t, '(') || !ng__py_string(t, op, sizeof op) || !ng__py_punct(t, ',') ||
            !ng__py_int(t, &idx) || idx != i || !ng__py_punct(t, ')'))
            return 0;
        for (k = 0; k < n_names && strcmp(op, names[k]); k++) {}
        if (k == n_names) return 0;
        ops[i] = k;
    }
    ng__py_punct(t, ',');
    return ng__py_punct(t, ']');
}
/* {'1': [...], '2': [...], '3': [...]}: 3 (normal) or 2 (up) pairs per cell, each cell once */
static int ng__py_cells(ng__py *t, ng_gan_genotype *g, int normal) {
    int seen = 0, c, k, ops[3];
    char key[8];
    if (!ng__py_punct(t, '{')) return 0;
    while (!ng__py_punct(t, '}')) {
        if (!ng__py_string(t, key, sizeof key) || strlen(key) != 1 || key[0] < '1' || key[0] > '3' || (seen >> (key[0] - '1')) & 1 ||
            !ng__py_punct(t, ':'))
            return 0;
        c = key[0] - '1';
        if (normal ? !ng__py_pairs(t, ng__gan_normal_names, NG_GAN_N_NORMAL_OPS, 3, ops) : !ng__py_pairs(t, ng__gan_up_names, NG_GAN_N_UP_OPS, 2, ops))
            return 0;
        for (k = 0; k < (normal ? 3 : 2); k++) g->op[normal ? NG_GAN_EDGE_NORMAL(c, k) : NG_GAN_EDGE_UP(c, k)] = ops[k];
        seen |= 1 << c;
        if (!ng__py_punct(t, ',')) return ng__py_punct(t, '}') && seen == 7;
    }
    return seen == 7;
}

ng_status ng_gan_genotype_parse_python(const char *text, size_t n, const char *name, const char *var, ng_gan_genotype *out) {
    ng__py t;
    ng_gan_genotype g;
    const char *at = NULL, *p;
    char word[64];
    int fields = 0, ops[2];
    if (!name) name = "(memory)";
    t.name = name;
    /* the Genotype_gen( call: the one assigned to `var`, or the only one */
    for (p = text; p + 13 <= text + n; p++) {
        const char *q;
        if (memcmp(p, "Genotype_gen(", 13) || (p > text && ng__py_ident_char(p[-1]))) continue;
        if (var && var[0]) {   /* "var = " right before it, at a line start */
            size_t vl = strlen(var);
            for (q = p; q > text && (q[-1] == ' ' || q[-1] == '\t'); q--) {}
            if (q == text || q[-1] != '=') continue;
            for (q--; q > text && (q[-1] == ' ' || q[-1] == '\t'); q--) {}
            if ((size_t)(q - text) < vl || memcmp(q - vl, var, vl) || (q - vl > text && *(q - vl - 1) != '\n')) continue;
        } else if (at) {
            return ng_fail(NG_ERR_FORMAT, "%s holds more than one Genotype_gen: name one (FILE.py:NAME)", name);
        }
        at = p;
        if (var && var[0]) break;
    }
    if (!at) return var && var[0] ? ng_fail(NG_ERR_FORMAT, "%s has no '%s = Genotype_gen(...)'", name, var)
                                  : ng_fail(NG_ERR_FORMAT, "%s has no Genotype_gen(...)", name);
    memset(&g, 0, sizeof g);
    t.p = at + 13;
    t.end = text + n;
    while (!ng__py_punct(&t, ')')) {
        int bit;
        if (!ng__py_word(&t, word, sizeof word) || !ng__py_punct(&t, '=')) return ng__py_bad(&t, text, "expected a field name and '='");
        bit = !strcmp(word, "normal") ? 1 : !strcmp(word, "up") ? 2 : !strcmp(word, "skip_2") ? 4 : !strcmp(word, "skip_3") ? 8 : 0;
        if (bit & fields) return ng__py_bad(&t, text, "repeated field");
        if (bit == 1 || bit == 2) {
            if (!ng__py_cells(&t, &g, bit == 1)) return ng__py_bad(&t, text, bit == 1 ? "bad 'normal' (3 cells of 3 (op, index) pairs)" : "bad 'up' (3 cells of 2 (op, index) pairs)");
        } else if (bit == 4) {
            if (!ng__py_pairs(&t, ng__gan_up_names, NG_GAN_N_UP_OPS, 1, ops)) return ng__py_bad(&t, text, "bad 'skip_2' (one (op, 0) pair)");
            g.op[NG_GAN_EDGE_SKIP2] = ops[0];
        } else if (bit == 8) {
            if (!ng__py_pairs(&t, ng__gan_up_names, NG_GAN_N_UP_OPS, 2, ops)) return ng__py_bad(&t, text, "bad 'skip_3' (two (op, index) pairs)");
            g.op[NG_GAN_EDGE_SKIP3(0)] = ops[0];
            g.op[NG_GAN_EDGE_SKIP3(1)] = ops[1];
        } else {   /* the logged form's *_concat=range(a, b): ignored */
            int lo, hi;
            size_t wl = strlen(word);
            if (wl < 7 || strcmp(word + wl - 7, "_concat") || !ng__py_word(&t, word, sizeof word) || strcmp(word, "range") ||
                !ng__py_punct(&t, '(') || !ng__py_int(&t, &lo) || !ng__py_punct(&t, ',') || !ng__py_int(&t, &hi) || !ng__py_punct(&t, ')'))
                return ng__py_bad(&t, text, "unknown field");
        }
        fields |= bit ? bit : 16;
        if (!ng__py_punct(&t, ',')) {
            if (!ng__py_punct(&t, ')')) return ng__py_bad(&t, text, "expected ',' or ')'");
            break;
        }
    }
    if ((fields & 15) != 15) return ng_fail(NG_ERR_FORMAT, "%s: Genotype_gen lacks %s", name, !(fields & 1) ? "normal" : !(fields & 2) ? "up" : !(fields & 4) ? "skip_2" : "skip_3");
    *out = g;
    return NG_OK;
}

/* ---- parameter declaration and initialisation helpers ---- */
typedef struct ng__gan_decl { ng_params *w, *b; int ok; } ng__gan_decl;
static ng_tensor *ng__gan_add(ng__gan_decl *d, int buffer, ng_shape shape, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static ng_tensor *ng__gan_add(ng__gan_decl *d, int buffer, ng_shape shape, const char *fmt, ...) {
    char name[192];
    va_list ap;
    ng_tensor *t;
    if (!d->ok) return NULL;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    t = ng_params_add(buffer ? d->b : d->w, name, shape);
    if (!t) d->ok = 0;
    return t;
}
/* weight `ws` and, when bias_n > 0, a bias of bias_n elements */
static void ng__gan_conv_decl(ng__gan_decl *d, ng_gan_conv *cv, ng_shape ws, int64_t bias_n, const char *pre) {
    cv->w = ng__gan_add(d, 0, ws, "%s.weight", pre);
    cv->b = bias_n > 0 ? ng__gan_add(d, 0, ng_shape1(bias_n), "%s.bias", pre) : NULL;
}
static void ng__gan_sep_decl(ng__gan_decl *d, ng_gan_sepconv *s, int64_t C, int k, int affine, const char *pre) {
    int st;
    memset(s, 0, sizeof *s);
    s->k = k;
    for (st = 1; st <= 2; st++) {
        ng_tensor **dw = st == 1 ? &s->dw1 : &s->dw2, **pw = st == 1 ? &s->pw1 : &s->pw2;
        ng_tensor **bw = st == 1 ? &s->bn1_w : &s->bn2_w, **bb = st == 1 ? &s->bn1_b : &s->bn2_b;
        ng_tensor **bm = st == 1 ? &s->bn1_mean : &s->bn2_mean, **bv = st == 1 ? &s->bn1_var : &s->bn2_var;
        *dw = ng__gan_add(d, 0, ng_shape4(C, 1, k, k), "%s.dw%d.weight", pre, st);
        *pw = ng__gan_add(d, 0, ng_shape4(C, C, 1, 1), "%s.pw%d.weight", pre, st);
        if (affine) {
            *bw = ng__gan_add(d, 0, ng_shape1(C), "%s.bn%d.weight", pre, st);
            *bb = ng__gan_add(d, 0, ng_shape1(C), "%s.bn%d.bias", pre, st);
        }
        *bm = ng__gan_add(d, 1, ng_shape1(C), "%s.bn%d.running_mean", pre, st);
        *bv = ng__gan_add(d, 1, ng_shape1(C), "%s.bn%d.running_var", pre, st);
    }
}
/* conv2d = 1 for Conv2d modules (xavier in retraining), 0 for ConvTranspose2d and Linear */
static void ng__gan_conv_init(const ng_gan_conv *cv, int conv2d, ng_gan_init init, ng_rng *r) {
    if (conv2d && init == NG_GAN_INIT_XAVIER) ng_init_xavier_uniform(cv->w, 1.0f, r);
    else ng_init_kaiming_uniform_default(cv->w, r);
    if (cv->b) ng_init_bias_default(cv->b, cv->w, r);
}
static void ng__gan_bn_init(ng_tensor *w, ng_tensor *b, ng_tensor *var, ng_gan_init init, ng_rng *r) {
    if (w) {
        if (init == NG_GAN_INIT_XAVIER) ng_init_normal(w, 1.0f, 0.02f, r);
        else ng_init_constant(w, 1.0f);
    }
    if (b) ng_init_constant(b, 0.0f);
    ng_init_constant(var, 1.0f);   /* running_mean stays 0 */
}
static void ng__gan_sep_init(const ng_gan_sepconv *s, ng_gan_init init, ng_rng *r) {
    ng_gan_conv cv;
    cv.b = NULL;
    cv.w = s->dw1; ng__gan_conv_init(&cv, 1, init, r);
    cv.w = s->pw1; ng__gan_conv_init(&cv, 1, init, r);
    ng__gan_bn_init(s->bn1_w, s->bn1_b, s->bn1_var, init, r);
    cv.w = s->dw2; ng__gan_conv_init(&cv, 1, init, r);
    cv.w = s->pw2; ng__gan_conv_init(&cv, 1, init, r);
    ng__gan_bn_init(s->bn2_w, s->bn2_b, s->bn2_var, init, r);
}
/* Parameter declaration order: as PyTorch's modules (per cell: skip-ins, up edges, normal edges). */
static const int ng__gan_decl_order[NG_GAN_EDGES] = {3, 4, 0, 1, 2, 15, 8, 9, 5, 6, 7, 16, 17, 13, 14, 10, 11, 12};
/* alpha rows: (tensor 0 normal / 1 up / 2 skip, row) of edge e */
static void ng__gan_alpha_row(int e, int *which, int *row) {
    if (ng_gan_edge_is_normal(e)) { *which = 0; *row = 3 * (e / 5) + e % 5; }
    else if (e < 15) { *which = 1; *row = 2 * (e / 5) + e % 5 - 3; }
    else { *which = 2; *row = e - 15; }
}
static int ng__gan_cell_of(int e) { return e < 15 ? e / 5 : (e == NG_GAN_EDGE_SKIP2 ? 1 : 2); }

/* ---- arena reuse where nothing is recorded ----
   When no node was kept on the tape since the mark (ctx->arena.used and ctx->n_nodes taken
   before a piece of the forward), no gradient flows through that piece (the D step's fakes, the
   gap's worst-case G), so every arena allocation it made is dead except its result y: y moves
   down to the mark and the rest is given back. A forward without tape then needs the arena of
   one candidate op instead of the whole supernet's. Values are untouched (a copy). */
typedef struct ng__gan_mark { size_t used; int nodes; } ng__gan_mark;
static ng__gan_mark ng__gan_mark_now(const ng_ctx *ctx) {
    ng__gan_mark m;
    m.used = ctx->arena.used;
    m.nodes = ctx->n_nodes;
    return m;
}
static ng_tensor *ng__gan_compact(ng_ctx *ctx, ng__gan_mark m, ng_tensor *y) {
    unsigned char *lo = ctx->arena.base + m.used, *hi = ctx->arena.base + ctx->arena.used;
    ng_tensor keep, *t;
    if (!y || ctx->status != NG_OK || ctx->n_nodes != m.nodes || y->requires_grad || y->owner || y->grad) return y;
    /* y (header, then data) must lie wholly above the mark: the copy then never overlaps its
       own new header, and memmove handles the overlap of the data */
    if ((unsigned char *)y < lo || (unsigned char *)y->data < (unsigned char *)(y + 1) ||
        (unsigned char *)(y->data + y->numel) > hi)
        return y;
    keep = *y;
    ctx->arena.used = m.used;
    t = ng_tensor_new(ctx, keep.shape);
    if (!t) return NULL; /* cannot happen: the space was just given back */
    memmove(t->data, keep.data, (size_t)keep.numel * sizeof(float));
    t->device = keep.device;
    t->name = keep.name;
    return t;
}

/* ---- forward building blocks ---- */
static ng_tensor *ng__gan_conv(ng_ctx *ctx, const ng_gan_conv *cv, ng_tensor *x) {
    return ng_conv2d(ctx, x, cv->w, cv->b, 1, (int)(cv->w->shape.d[2] / 2), 1);
}
/* the separable conv after its leading ReLU: r = relu(x) */
static ng_tensor *ng__gan_sep(ng_ctx *ctx, const ng_gan_sepconv *s, ng_tensor *r) {
    int C = (int)s->dw1->shape.d[0], p = s->k / 2;
    ng_tensor *h = ng_conv2d(ctx, r, s->dw1, NULL, 1, p, C);
    h = ng_conv2d(ctx, h, s->pw1, NULL, 1, 0, 1);
    h = ng_batch_norm(ctx, h, s->bn1_w, s->bn1_b, s->bn1_mean, s->bn1_var, 0.1f, 1e-5f);
    h = ng_relu(ctx, h);
    h = ng_conv2d(ctx, h, s->dw2, NULL, 1, p, C);
    h = ng_conv2d(ctx, h, s->pw2, NULL, 1, 0, 1);
    return ng_batch_norm(ctx, h, s->bn2_w, s->bn2_b, s->bn2_mean, s->bn2_var, 0.1f, 1e-5f);
}

ng_tensor *ng_gan_normal_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *conv, const ng_gan_sepconv *sep, ng_tensor *x) {
    ng_tensor *r;
    NG_ASSERT(k >= 0 && k < NG_GAN_N_NORMAL_OPS);
    r = ng_relu(ctx, x);
    return k < 3 ? ng__gan_conv(ctx, conv, r) : ng__gan_sep(ctx, sep, r);
}

ng_tensor *ng_gan_up_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *deconv, ng_tensor *x, int times) {
    int t;
    NG_ASSERT(k >= 0 && k < NG_GAN_N_UP_OPS && times >= 1);
    for (t = 0; t < times; t++) {
        if (k == NG_GAN_DECONV) x = ng_conv_transpose2d(ctx, x, deconv->w, deconv->b, 2, 0, 0, 1);
        else if (k == NG_GAN_NEAREST) x = ng_upsample_nearest2x(ctx, x);
        else x = ng_upsample_bilinear2x(ctx, x);
    }
    return x;
}

ng_tensor *ng_gan_mixed_up_forward(ng_ctx *ctx, const ng_gan_conv *deconv, ng_tensor *alpha, int row, ng_tensor *x, int times) {
    ng_tensor *xs[NG_GAN_N_UP_OPS];
    int k;
    for (k = 0; k < NG_GAN_N_UP_OPS; k++) xs[k] = ng_gan_up_op_forward(ctx, k, deconv, x, times);
    return ng_mixed(ctx, alpha, row, xs, NG_GAN_N_UP_OPS);
}

ng_tensor *ng_gan_mixed_normal_forward(ng_ctx *ctx, const ng_gan_mixed_normal *e, ng_tensor *alpha, int row,
                                       ng_tensor *x, int fuse) {
    ng_tensor *xs[NG_GAN_N_NORMAL_OPS + 1], *r = ng_relu(ctx, x);
    int k;
    if (!fuse) {
        for (k = 0; k < 3; k++) xs[k] = ng__gan_conv(ctx, &e->conv[k], r);
        for (k = 0; k < 3; k++) {
            ng__gan_mark m = ng__gan_mark_now(ctx);
            xs[3 + k] = ng__gan_compact(ctx, m, ng__gan_sep(ctx, &e->sep[k], r));
        }
        return ng_mixed(ctx, alpha, row, xs, NG_GAN_N_NORMAL_OPS);
    } else {
        /* sum_k w_k (K_k * r + b_k) = (sum_k w_k pad5(K_k)) * r + sum_k w_k b_k for k = 1x1, 3x3,
           5x5: one 5x5 convolution; then y = that + sum_k w_k sep_k(r) in one pass */
        static const int conv_cols[3] = {0, 1, 2}, sep_cols[4] = {-1, 3, 4, 5};
        ng_tensor *kw[3], *kb[3], *wc, *bc;
        int64_t C = e->conv[2].w->shape.d[0], Ci = e->conv[2].w->shape.d[1];
        for (k = 0; k < 3; k++) { kw[k] = e->conv[k].w; kb[k] = e->conv[k].b; }
        wc = ng_mixed_cols(ctx, alpha, row, kw, conv_cols, 3, ng_shape4(C, Ci, 5, 5));
        bc = ng_mixed_cols(ctx, alpha, row, kb, conv_cols, 3, ng_shape1(C));
        xs[0] = ng_conv2d(ctx, r, wc, bc, 1, 2, 1);
        for (k = 0; k < 3; k++) {
            ng__gan_mark m = ng__gan_mark_now(ctx);
            xs[1 + k] = ng__gan_compact(ctx, m, ng__gan_sep(ctx, &e->sep[k], r));
        }
        return xs[0] ? ng_mixed_cols(ctx, alpha, row, xs, sep_cols, 4, xs[0]->shape) : NULL;
    }
}

/* ---- the shared generator topology ---- */
/* Evaluate edge e on x (up/skip edges: `times` applications). */
typedef ng_tensor *(*ng__gan_edge_fn)(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times);

/* edge e on x, its arena compacted when nothing was recorded (ng__gan_compact) */
static ng_tensor *ng__gan_edge(ng_ctx *ctx, ng__gan_edge_fn f, const void *net, ng_tensor *const *alpha, int e,
                               ng_tensor *x, int times) {
    ng__gan_mark m = ng__gan_mark_now(ctx);
    return ng__gan_compact(ctx, m, f(ctx, net, alpha, e, x, times));
}

static ng_tensor *ng__gan_cell(ng_ctx *ctx, ng__gan_edge_fn f, const void *net, ng_tensor *const *alpha, int c,
                               ng_tensor *x, ng_tensor *const *skip_in, ng_tensor **node1) {
    ng_tensor *skip = NULL, *n1, *n2, *n3, *right, *left, *n4;
    NG_ASSERT(c >= 0 && c < NG_GAN_CELLS && (c == 0 || skip_in));
    if (c == 1) skip = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP2, skip_in[0], 1);
    if (c == 2) { /* skip_3[1] first: the order GCC gave the two calls as arguments of one ng_add */
        ng_tensor *s1 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP3(1), skip_in[1], 1);
        skip = ng_add(ctx, ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_SKIP3(0), skip_in[0], 2), s1);
    }
    n1 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_UP(c, 0), x, 1);
    n3 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_UP(c, 1), x, 1);
    n2 = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 0), n1, 1);
    right = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 1), n2, 1);
    left = ng__gan_edge(ctx, f, net, alpha, NG_GAN_EDGE_NORMAL(c, 2), n3, 1);
    n4 = ng_add(ctx, left, right);
    if (c > 0) n4 = ng_add(ctx, n4, skip);
    if (node1) *node1 = n1;
    return n4;
}

/* z -> l1 -> cells -> to_rgb */
static ng_tensor *ng__gan_generate(ng_ctx *ctx, const ng_gan_config *cfg, ng__gan_edge_fn f, const void *net,
                                   ng_tensor *const *alpha, const ng_gan_conv *l1, ng_tensor *const *rgb_bn,
                                   const ng_gan_conv *to_rgb, ng_tensor *z) {
    ng_tensor *h, *s[2];
    ng__gan_mark m = ng__gan_mark_now(ctx);
    int64_t N;
    if (!z) return ng_linear(ctx, z, l1->w, l1->b);   /* propagates the failure */
    NG_ASSERT(z->shape.ndim == 2 && z->shape.d[1] == cfg->latent_dim);
    N = z->shape.d[0];
    h = ng_linear(ctx, z, l1->w, l1->b);
    h = ng_reshape(ctx, h, ng_shape4(N, cfg->gf_dim, cfg->bottom_width, cfg->bottom_width));
    h = ng__gan_cell(ctx, f, net, alpha, 0, h, NULL, &s[0]);
    h = ng__gan_cell(ctx, f, net, alpha, 1, h, s, &s[1]);
    h = ng__gan_cell(ctx, f, net, alpha, 2, h, s, NULL);
    h = ng_batch_norm(ctx, h, rgb_bn[0], rgb_bn[1], rgb_bn[2], rgb_bn[3], 0.1f, 1e-5f);
    h = ng_relu(ctx, h);
    h = ng_conv2d(ctx, h, to_rgb->w, to_rgb->b, 1, 1, 1);
    return ng__gan_compact(ctx, m, ng_tanh(ctx, h));
}

/* ---- the search supernet ---- */
static ng_tensor *ng__gan_search_edge(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times) {
    const ng_gan_gen_search *G = (const ng_gan_gen_search *)net;
    int which, row, c = ng__gan_cell_of(e);
    ng__gan_alpha_row(e, &which, &row);
    if (ng_gan_edge_is_normal(e)) return ng_gan_mixed_normal_forward(ctx, &G->normal[c][e % 5], alpha[0], row, x, G->fuse);
    if (e < 15) return ng_gan_mixed_up_forward(ctx, &G->up[c][e % 5 - 3], alpha[1], row, x, times);
    return ng_gan_mixed_up_forward(ctx, &G->skip[e - 15], alpha[2], row, x, times);
}

/* The alpha tensors an edge's softmax reads: G's own, or with Gumbel noise (alpha + g) / t
   (one draw per element per forward, from ctx->rng). */
static void ng__gan_alpha_view(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor **view) {
    ng_tensor *src[3];
    int i;
    src[0] = G->alpha_normal; src[1] = G->alpha_up; src[2] = G->alpha_skip;
    for (i = 0; i < 3; i++) {
        ng_tensor *g;
        float *h;
        int64_t j;
        view[i] = src[i];
        if (!G->cfg.gumbel) continue;
        g = ng_tensor_new(ctx, src[i]->shape);
        h = ng_tensor_host_write(ctx, g);   /* drawn on the host: the same noise on every device */
        if (h) {
            for (j = 0; j < g->numel; j++) {
                float u = (float)ng_rng_uniform(&ctx->rng);
                h[j] = -logf(-logf(u + 1e-20f));
            }
            if (ng_tensor_host_done(g, h) != NG_OK) g = NULL;
        }
        view[i] = ng_scale(ctx, ng_add(ctx, src[i], g), 1.0f / G->cfg.gumbel_temp);
    }
}

static ng_gan_gen_search *ng__gan_search_new(const ng_gan_config *cfg, const char *name, ng_rng *r) {
    ng_gan_gen_search *G;
    ng__gan_decl d;
    char gname[64], pre[96];
    int64_t C, bw;
    int i, k;
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    G = (ng_gan_gen_search *)calloc(1, sizeof *G);
    if (!G) { ng_fail(NG_ERR_NOMEM, "gan supernet: out of memory"); return NULL; }
    G->cfg = *cfg;
    G->fuse = 1;
    C = cfg->gf_dim;
    bw = cfg->bottom_width;
    if (!name) name = "G";
    snprintf(gname, sizeof gname, "%s", name);
    G->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    G->buffers = ng_params_create(gname, 0);
    snprintf(gname, sizeof gname, "%s.alpha", name);
    G->alpha = ng_params_create(gname, 1);
    d.w = G->weights; d.b = G->buffers; d.ok = G->weights && G->buffers && G->alpha;
    if (d.ok) {
        G->alpha_normal = ng_params_add(G->alpha, "alpha.normal", ng_shape2(9, NG_GAN_N_NORMAL_OPS));
        G->alpha_up = ng_params_add(G->alpha, "alpha.up", ng_shape2(6, NG_GAN_N_UP_OPS));
        G->alpha_skip = ng_params_add(G->alpha, "alpha.skip", ng_shape2(3, NG_GAN_N_UP_OPS));
        d.ok = G->alpha_skip != NULL;
    }
    ng__gan_conv_decl(&d, &G->l1, ng_shape2(bw * bw * C, cfg->latent_dim), bw * bw * C, "l1");
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i], c = ng__gan_cell_of(e);
        if (ng_gan_edge_is_normal(e)) {
            ng_gan_mixed_normal *m = &G->normal[c][e % 5];
            for (k = 0; k < 3; k++) {
                int ks = ng__gan_ksize(k);
                snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e], ng__gan_normal_names[k]);
                ng__gan_conv_decl(&d, &m->conv[k], ng_shape4(C, C, ks, ks), C, pre);
            }
            for (k = 3; k < 6; k++) {
                snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e], ng__gan_normal_names[k]);
                ng__gan_sep_decl(&d, &m->sep[k - 3], C, ng__gan_ksize(k), 0, pre);
            }
        } else {
            snprintf(pre, sizeof pre, "%s.deconv", ng__gan_edge_names[e]);
            ng__gan_conv_decl(&d, e < 15 ? &G->up[c][e % 5 - 3] : &G->skip[e - 15], ng_shape4(C, C, 2, 2), C, pre);
        }
    }
    G->rgb_bn_w = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.weight");
    G->rgb_bn_b = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.bias");
    G->rgb_bn_mean = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_mean");
    G->rgb_bn_var = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_var");
    ng__gan_conv_decl(&d, &G->to_rgb, ng_shape4(cfg->channels, C, 3, 3), cfg->channels, "to_rgb.conv");
    if (!d.ok || ng_params_alloc(G->weights) != NG_OK || ng_params_alloc(G->buffers) != NG_OK ||
        ng_params_alloc(G->alpha) != NG_OK) {
        ng_gan_gen_search_free(G);
        return NULL;
    }
    if (r) {
        int c, j;
        ng__gan_conv_init(&G->l1, 0, NG_GAN_INIT_PYTORCH, r);
        for (c = 0; c < NG_GAN_CELLS; c++) {
            for (j = 0; j < 2; j++) ng__gan_conv_init(&G->up[c][j], 0, NG_GAN_INIT_PYTORCH, r);
            for (j = 0; j < 3; j++) {
                for (k = 0; k < 3; k++) ng__gan_conv_init(&G->normal[c][j].conv[k], 1, NG_GAN_INIT_PYTORCH, r);
                for (k = 0; k < 3; k++) ng__gan_sep_init(&G->normal[c][j].sep[k], NG_GAN_INIT_PYTORCH, r);
            }
        }
        for (j = 0; j < 3; j++) ng__gan_conv_init(&G->skip[j], 0, NG_GAN_INIT_PYTORCH, r);
        ng__gan_bn_init(G->rgb_bn_w, G->rgb_bn_b, G->rgb_bn_var, NG_GAN_INIT_PYTORCH, r);
        ng__gan_conv_init(&G->to_rgb, 1, NG_GAN_INIT_PYTORCH, r);
        ng_init_normal(G->alpha_normal, 0.0f, 1e-3f, r);
        ng_init_normal(G->alpha_up, 0.0f, 1e-3f, r);
        ng_init_normal(G->alpha_skip, 0.0f, 1e-3f, r);
    }
    return G;
}

ng_gan_gen_search *ng_gan_gen_search_create(const ng_gan_config *cfg, const char *name, ng_rng *init_rng) {
    NG_ASSERT(cfg && init_rng);
    return ng__gan_search_new(cfg, name, init_rng);
}

void ng_gan_gen_search_free(ng_gan_gen_search *G) {
    if (!G) return;
    ng_params_free(G->weights);
    ng_params_free(G->buffers);
    ng_params_free(G->alpha);
    free(G);
}

ng_status ng_gan_gen_search_copy(ng_gan_gen_search *dst, const ng_gan_gen_search *src) {
    ng_status s;
    if (!ng_params_same_layout(dst->weights, src->weights) || !ng_params_same_layout(dst->buffers, src->buffers) ||
        !ng_params_same_layout(dst->alpha, src->alpha) || dst->cfg.bottom_width != src->cfg.bottom_width)
        return ng_fail(NG_ERR_MISMATCH, "gan supernet copy: '%s' and '%s' have different configurations", dst->weights->name,
                       src->weights->name);
    if ((s = ng_params_copy(dst->weights, src->weights)) != NG_OK) return s;
    if ((s = ng_params_copy(dst->buffers, src->buffers)) != NG_OK) return s;
    return ng_params_copy(dst->alpha, src->alpha);
}

ng_gan_gen_search *ng_gan_gen_search_clone(const ng_gan_gen_search *src, const char *name) {
    ng_gan_gen_search *G = ng__gan_search_new(&src->cfg, name, NULL);
    if (!G) return NULL;
    G->fuse = src->fuse;
    if (ng_gan_gen_search_copy(G, src) != NG_OK) { ng_gan_gen_search_free(G); return NULL; }
    return G;
}

ng_tensor *ng_gan_gen_search_forward(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor *z) {
    ng_tensor *alpha[3], *bn[4];
    ng__gan_alpha_view(ctx, G, alpha);
    bn[0] = G->rgb_bn_w; bn[1] = G->rgb_bn_b; bn[2] = G->rgb_bn_mean; bn[3] = G->rgb_bn_var;
    return ng__gan_generate(ctx, &G->cfg, ng__gan_search_edge, G, alpha, &G->l1, bn, &G->to_rgb, z);
}

ng_tensor *ng_gan_gen_search_cell(ng_ctx *ctx, const ng_gan_gen_search *G, int c, ng_tensor *x,
                                  ng_tensor *const *skip_in, ng_tensor **node1) {
    ng_tensor *alpha[3];
    ng__gan_alpha_view(ctx, G, alpha);
    return ng__gan_cell(ctx, ng__gan_search_edge, G, alpha, c, x, skip_in, node1);
}

ng_tensor *ng_gan_gen_search_alpha_of(const ng_gan_gen_search *G, int e, int *row) {
    int which, r;
    NG_ASSERT(e >= 0 && e < NG_GAN_EDGES);
    ng__gan_alpha_row(e, &which, &r);
    if (row) *row = r;
    return which == 0 ? G->alpha_normal : which == 1 ? G->alpha_up : G->alpha_skip;
}

ng_status ng_gan_gen_search_alpha_row(const ng_gan_gen_search *G, int e, float *logits) {
    int row, K = ng_gan_edge_n_ops(e);
    const ng_tensor *a = ng_gan_gen_search_alpha_of(G, e, &row);
    const float *src = a->data + (int64_t)row * K;
    if (a->device != NG_CUDA) { memcpy(logits, src, (size_t)K * sizeof(float)); return NG_OK; }
    ng__cuda_copy(logits, src, (size_t)K * sizeof(float), 2);
    return NG_OK;
}

ng_status ng_gan_gen_search_set_alpha_row(ng_gan_gen_search *G, int e, const float *logits) {
    int row, K = ng_gan_edge_n_ops(e);
    const ng_tensor *a = ng_gan_gen_search_alpha_of(G, e, &row);
    float *dst = a->data + (int64_t)row * K;
    if (a->device != NG_CUDA) { memcpy(dst, logits, (size_t)K * sizeof(float)); return NG_OK; }
    ng__cuda_copy(dst, logits, (size_t)K * sizeof(float), 1);
    return NG_OK;
}

void ng_gan_gen_search_derive(const ng_gan_gen_search *G, ng_gan_genotype *out) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++) {
        int K = ng_gan_edge_n_ops(e), k, best = 0;
        float w[NG_GAN_N_NORMAL_OPS], logits[NG_GAN_N_NORMAL_OPS];
        if (ng_gan_gen_search_alpha_row(G, e, logits) != NG_OK) memset(logits, 0, sizeof logits);
        /* softmax in float as F.softmax, then the first maximum (numpy argmax) */
        ng__softmax_row(logits, w, K, 1, 0);
        for (k = 1; k < K; k++)
            if (w[k] > w[best]) best = k;
        out->op[e] = best;
    }
}

/* ---- the fixed generator ---- */
static ng_tensor *ng__gan_fixed_edge_fn(ng_ctx *ctx, const void *net, ng_tensor *const *alpha, int e, ng_tensor *x, int times) {
    const ng_gan_fixed_edge *fe = &((const ng_gan_gen_fixed *)net)->edge[e];
    (void)alpha;
    if (ng_gan_edge_is_normal(e)) return ng_gan_normal_op_forward(ctx, fe->op, &fe->conv, &fe->sep, x);
    return ng_gan_up_op_forward(ctx, fe->op, &fe->conv, x, times);
}

ng_gan_gen_fixed *ng_gan_gen_fixed_create(const ng_gan_config *cfg, const ng_gan_genotype *geno, const char *name,
                                          ng_gan_init init, ng_rng *r) {
    ng_gan_gen_fixed *G;
    ng__gan_decl d;
    char gname[64], pre[96];
    int64_t C, bw;
    int i;
    NG_ASSERT(cfg && geno && r);
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    if (!ng_gan_genotype_valid(geno)) { ng_fail(NG_ERR_ARG, "gan fixed generator: genotype has an op index out of range"); return NULL; }
    G = (ng_gan_gen_fixed *)calloc(1, sizeof *G);
    if (!G) { ng_fail(NG_ERR_NOMEM, "gan fixed generator: out of memory"); return NULL; }
    G->cfg = *cfg;
    G->geno = *geno;
    C = cfg->gf_dim;
    bw = cfg->bottom_width;
    if (!name) name = "G";
    snprintf(gname, sizeof gname, "%s", name);
    G->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    G->buffers = ng_params_create(gname, 0);
    d.w = G->weights; d.b = G->buffers; d.ok = G->weights && G->buffers;
    ng__gan_conv_decl(&d, &G->l1, ng_shape2(bw * bw * C, cfg->latent_dim), bw * bw * C, "l1");
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i], k = geno->op[e];
        ng_gan_fixed_edge *fe = &G->edge[e];
        fe->op = k;
        snprintf(pre, sizeof pre, "%s.%s", ng__gan_edge_names[e],
                 ng_gan_edge_is_normal(e) ? ng__gan_normal_names[k] : ng__gan_up_names[k]);
        if (ng_gan_edge_is_normal(e)) {
            int ks = ng__gan_ksize(k);
            if (k < 3) ng__gan_conv_decl(&d, &fe->conv, ng_shape4(C, C, ks, ks), C, pre);
            else ng__gan_sep_decl(&d, &fe->sep, C, ks, 1, pre);
        } else if (k == NG_GAN_DECONV) {
            ng__gan_conv_decl(&d, &fe->conv, ng_shape4(C, C, 2, 2), C, pre);
        }
    }
    G->rgb_bn_w = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.weight");
    G->rgb_bn_b = ng__gan_add(&d, 0, ng_shape1(C), "to_rgb.bn.bias");
    G->rgb_bn_mean = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_mean");
    G->rgb_bn_var = ng__gan_add(&d, 1, ng_shape1(C), "to_rgb.bn.running_var");
    ng__gan_conv_decl(&d, &G->to_rgb, ng_shape4(cfg->channels, C, 3, 3), cfg->channels, "to_rgb.conv");
    if (!d.ok || ng_params_alloc(G->weights) != NG_OK || ng_params_alloc(G->buffers) != NG_OK) {
        ng_gan_gen_fixed_free(G);
        return NULL;
    }
    ng__gan_conv_init(&G->l1, 0, init, r);
    for (i = 0; i < NG_GAN_EDGES; i++) {
        int e = ng__gan_decl_order[i];
        const ng_gan_fixed_edge *fe = &G->edge[e];
        if (ng_gan_edge_is_normal(e) && fe->op >= 3) ng__gan_sep_init(&fe->sep, init, r);
        else if (fe->conv.w) ng__gan_conv_init(&fe->conv, ng_gan_edge_is_normal(e), init, r);
    }
    ng__gan_bn_init(G->rgb_bn_w, G->rgb_bn_b, G->rgb_bn_var, init, r);
    ng__gan_conv_init(&G->to_rgb, 1, init, r);
    return G;
}

void ng_gan_gen_fixed_free(ng_gan_gen_fixed *G) {
    if (!G) return;
    ng_params_free(G->weights);
    ng_params_free(G->buffers);
    free(G);
}

ng_tensor *ng_gan_gen_fixed_forward(ng_ctx *ctx, const ng_gan_gen_fixed *G, ng_tensor *z) {
    ng_tensor *bn[4];
    bn[0] = G->rgb_bn_w; bn[1] = G->rgb_bn_b; bn[2] = G->rgb_bn_mean; bn[3] = G->rgb_bn_var;
    return ng__gan_generate(ctx, &G->cfg, ng__gan_fixed_edge_fn, G, NULL, &G->l1, bn, &G->to_rgb, z);
}

ng_tensor *ng_gan_gen_fixed_cell(ng_ctx *ctx, const ng_gan_gen_fixed *G, int c, ng_tensor *x,
                                 ng_tensor *const *skip_in, ng_tensor **node1) {
    return ng__gan_cell(ctx, ng__gan_fixed_edge_fn, G, NULL, c, x, skip_in, node1);
}

/* ---- the discriminator ---- */
/* k = 0: linear (O, C) without bias; else conv (O, C, k, k) with bias */
static void ng__gan_sn_decl(ng__gan_decl *d, ng_gan_snconv *s, int64_t O, int64_t C, int k, const char *pre) {
    s->w = ng__gan_add(d, 0, k ? ng_shape4(O, C, k, k) : ng_shape2(O, C), "%s.weight_orig", pre);
    s->b = k ? ng__gan_add(d, 0, ng_shape1(O), "%s.bias", pre) : NULL;
    s->u = ng__gan_add(d, 1, ng_shape1(O), "%s.weight_u", pre);
    s->v = ng__gan_add(d, 1, ng_shape1(C * (k ? k * k : 1)), "%s.weight_v", pre);
}
static void ng__gan_sn_init(const ng_gan_snconv *s, ng_gan_init init, ng_rng *r) {
    ng_gan_conv cv;
    cv.w = s->w; cv.b = s->b;
    ng__gan_conv_init(&cv, s->w->shape.ndim == 4, init, r);
    ng_spectral_norm_init(s->u, s->v, r, 1e-12f);
}
static ng_tensor *ng__gan_snc(ng_ctx *ctx, const ng_gan_snconv *s, ng_tensor *x) {
    ng_tensor *w = ng_spectral_norm(ctx, s->w, s->u, s->v, 1e-12f);
    return ng_conv2d(ctx, x, w, s->b, 1, (int)(s->w->shape.d[2] / 2), 1);
}

ng_gan_disc *ng_gan_disc_create(const ng_gan_config *cfg, const char *name, ng_gan_init init, ng_rng *r) {
    ng_gan_disc *D;
    ng__gan_decl d;
    char gname[64];
    int64_t C;
    ng_gan_snconv *all[11];
    int i;
    NG_ASSERT(cfg && r);
    if (ng_gan_config_check(cfg) != NG_OK) return NULL;
    D = (ng_gan_disc *)calloc(1, sizeof *D);
    if (!D) { ng_fail(NG_ERR_NOMEM, "gan discriminator: out of memory"); return NULL; }
    D->cfg = *cfg;
    C = cfg->df_dim;
    if (!name) name = "D";
    snprintf(gname, sizeof gname, "%s", name);
    D->weights = ng_params_create(gname, 1);
    snprintf(gname, sizeof gname, "%s.buffers", name);
    D->buffers = ng_params_create(gname, 0);
    d.w = D->weights; d.b = D->buffers; d.ok = D->weights && D->buffers;
    ng__gan_sn_decl(&d, &D->b1_c1, C, cfg->channels, 3, "block1.c1");
    ng__gan_sn_decl(&d, &D->b1_c2, C, C, 3, "block1.c2");
    ng__gan_sn_decl(&d, &D->b1_sc, C, cfg->channels, 1, "block1.c_sc");
    ng__gan_sn_decl(&d, &D->b2_c1, C, C, 3, "block2.c1");
    ng__gan_sn_decl(&d, &D->b2_c2, C, C, 3, "block2.c2");
    ng__gan_sn_decl(&d, &D->b2_sc, C, C, 1, "block2.c_sc");
    ng__gan_sn_decl(&d, &D->b3_c1, C, C, 3, "block3.c1");
    ng__gan_sn_decl(&d, &D->b3_c2, C, C, 3, "block3.c2");
    ng__gan_sn_decl(&d, &D->b4_c1, C, C, 3, "block4.c1");
    ng__gan_sn_decl(&d, &D->b4_c2, C, C, 3, "block4.c2");
    ng__gan_sn_decl(&d, &D->l5, 1, C, 0, "l5");
    if (!d.ok || ng_params_alloc(D->weights) != NG_OK || ng_params_alloc(D->buffers) != NG_OK) {
        ng_gan_disc_free(D);
        return NULL;
    }
    all[0] = &D->b1_c1; all[1] = &D->b1_c2; all[2] = &D->b1_sc; all[3] = &D->b2_c1; all[4] = &D->b2_c2;
    all[5] = &D->b2_sc; all[6] = &D->b3_c1; all[7] = &D->b3_c2; all[8] = &D->b4_c1; all[9] = &D->b4_c2;
    all[10] = &D->l5;
    for (i = 0; i < 11; i++) ng__gan_sn_init(all[i], init, r);
    return D;
}

void ng_gan_disc_free(ng_gan_disc *D) {
    if (!D) return;
    ng_params_free(D->weights);
    ng_params_free(D->buffers);
    free(D);
}

ng_status ng_gan_disc_copy(ng_gan_disc *dst, const ng_gan_disc *src) {
    ng_status s = ng_params_copy(dst->weights, src->weights);
    dst->pool_sum = src->pool_sum;
    return s == NG_OK ? ng_params_copy(dst->buffers, src->buffers) : s;
}

ng_tensor *ng_gan_disc_forward(ng_ctx *ctx, const ng_gan_disc *D, ng_tensor *x) {
    ng_tensor *h, *sc, *w5;
    if (x) NG_ASSERT(x->shape.ndim == 4 && x->shape.d[1] == D->cfg.channels);
    /* block1 (OptimizedDisBlock) */
    h = ng__gan_snc(ctx, &D->b1_c1, x);
    h = ng__gan_snc(ctx, &D->b1_c2, ng_relu(ctx, h));
    h = ng_avg_pool2d(ctx, h);
    sc = ng__gan_snc(ctx, &D->b1_sc, ng_avg_pool2d(ctx, x));
    x = ng_add(ctx, h, sc);
    /* block2 (downsample, learnable shortcut) */
    h = ng__gan_snc(ctx, &D->b2_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b2_c2, ng_relu(ctx, h));
    h = ng_avg_pool2d(ctx, h);
    sc = ng_avg_pool2d(ctx, ng__gan_snc(ctx, &D->b2_sc, x));
    x = ng_add(ctx, h, sc);
    /* blocks 3 and 4 (identity shortcut) */
    h = ng__gan_snc(ctx, &D->b3_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b3_c2, ng_relu(ctx, h));
    x = ng_add(ctx, h, x);
    h = ng__gan_snc(ctx, &D->b4_c1, ng_relu(ctx, x));
    h = ng__gan_snc(ctx, &D->b4_c2, ng_relu(ctx, h));
    x = ng_add(ctx, h, x);
    /* ReLU, global pool over H and W, linear without bias. The reference sums (its comment says
       "average"): mean by default, the sum with D->pool_sum = 1. */
    h = ng_sum_hw(ctx, ng_relu(ctx, x));
    if (!D->pool_sum && x) h = ng_scale(ctx, h, 1.0f / (float)(x->shape.d[2] * x->shape.d[3]));
    w5 = ng_spectral_norm(ctx, D->l5.w, D->l5.u, D->l5.v, 1e-12f);
    return ng_linear(ctx, h, w5, NULL);
}
