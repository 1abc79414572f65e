/* ======================================================================================== */
/* @@GAN  alphaGAN generator search space, fixed generator, discriminator, genotypes        */
/* ======================================================================================== */
/* The alphaGAN generator space (docs: /work/shared/docs/alphagan.md sections 1, 2, 4, 7):

     z (N, latent) -> l1 linear -> reshape channel-major (N, gf, bw, bw)
       -> cell 1 -> cell 2 -> cell 3 (each doubles H and W) -> to_rgb -> (N, channels, 8bw, 8bw)
     to_rgb = BN(affine) -> ReLU -> conv3x3(gf -> channels, bias) -> tanh

   Every cell has 5 nodes; node 0 is the cell input (H x W), nodes 1-4 are 2H x 2W:
       node1 = up[0](node0)        node3 = up[1](node0)       node2 = normal[0](node1)
       node4 = normal[1](node2) + normal[2](node3) + (sum of the cell's skip-ins)
   A cell returns node4 (next cell's input) and node1 (source of the cross-cell skips):
       skip_2[0]: cell1.node1 -> cell2.node4 (x2)
       skip_3[0]: cell1.node1 -> cell3.node4 (x4: the up op applied twice, the SAME deconv)
       skip_3[1]: cell2.node1 -> cell3.node4 (x2)

   EDGE ORDER (the 18 searched edges; genotype index e = NG_GAN_EDGE_*):
       e = 5c + 0..2   cell c (0-based) normal[0..2]   6 normal ops (NG_GAN_N_NORMAL_OPS)
       e = 5c + 3..4   cell c up[0..1]                 3 up ops (NG_GAN_N_UP_OPS)
       e = 15          skip_2[0]                       3 up ops
       e = 16, 17      skip_3[0], skip_3[1]            3 up ops
   Normal ops: conv_1x1, conv_3x3, conv_5x5 (ReLU -> conv with bias), sep_conv_3x3/5x5/7x7
   (ReLU -> depthwise -> pointwise -> BN -> ReLU -> depthwise -> pointwise -> BN; affine-free BN
   in the supernet, affine in the fixed net). Up ops: deconv (ConvTranspose2d k2 s2, bias),
   nearest, bilinear (align_corners=False).

   ARCHITECTURE PARAMETERS: the supernet's "alpha" group holds 81 scalars as three tensors,
   alpha.normal (9, 6) with row 3c + j = cell c normal[j], alpha.up (6, 3) with row 2c + j =
   cell c up[j], alpha.skip (3, 3) with rows skip_2[0], skip_3[0], skip_3[1]. Every edge is
   sum_k softmax(alpha_row)_k op_k(x) (DARTS), or with cfg.gumbel softmax((alpha_row + g)/t),
   g = -log(-log(U + 1e-20)) drawn from ctx->rng once per forward for every alpha element.

   GENOTYPE JSON (version 1), written by ng_gan_genotype_to_json and read by the strict parser:
       {
         "format": "nasgan.gan_genotype",
         "version": 1,
         "cells": [
           {"normal": ["conv_5x5", "conv_5x5", "sep_conv_5x5"], "up": ["deconv", "bilinear"]},
           {"normal": [...3 normal op names...], "up": [...2 up op names...]},
           {"normal": [...], "up": [...]}
         ],
         "skip_2": ["nearest"],
         "skip_3": ["bilinear", "nearest"]
       }
   Every key is required exactly once, in any order; no other key is allowed. "normal" lists
   the ops of (node1->node2, node2->node4, node3->node4), "up" of (node0->node1, node0->node3),
   "skip_3" of (cell1 x4, cell2 x2). Strings must be valid UTF-8 (escapes allowed); whitespace is
   JSON's (space, tab, CR, LF); nothing may follow the object. Errors are NG_ERR_FORMAT with a
   message naming the file, the line, column and byte offset, and what was expected. */

#define NG_GAN_CELLS 3
#define NG_GAN_EDGES 18
#define NG_GAN_N_NORMAL_OPS 6
#define NG_GAN_N_UP_OPS 3
#define NG_GAN_EDGE_NORMAL(c, j) (5 * (c) + (j))      /* c 0..2, j 0..2 */
#define NG_GAN_EDGE_UP(c, j) (5 * (c) + 3 + (j))      /* c 0..2, j 0..1 */
#define NG_GAN_EDGE_SKIP2 15
#define NG_GAN_EDGE_SKIP3(j) (16 + (j))               /* j 0..1 */

enum { NG_GAN_CONV_1X1 = 0, NG_GAN_CONV_3X3, NG_GAN_CONV_5X5,
       NG_GAN_SEP_CONV_3X3, NG_GAN_SEP_CONV_5X5, NG_GAN_SEP_CONV_7X7 };   /* normal ops */
enum { NG_GAN_DECONV = 0, NG_GAN_NEAREST, NG_GAN_BILINEAR };              /* up ops */

/* ---- configuration ---- */
typedef struct ng_gan_config {
    int gf_dim;          /* G width (CIFAR-10/STL-10: 256) */
    int df_dim;          /* D width (128) */
    int latent_dim;      /* z size (128) */
    int bottom_width;    /* bw: 4 (32x32 images) or 6 (48x48); image size 8 bw */
    int channels;        /* image channels: 3, or 1 for Fashion-MNIST */
    int gumbel;          /* supernet edges use Gumbel-softmax weights (search default 0) */
    float gumbel_temp;   /* its temperature t (0.5) */
} ng_gan_config;
/* "cifar10" (bw 4, 3 channels), "stl10" (bw 6, 3 channels), "fashion_mnist" (bw 4, 1
   channel); gf 256, df 128, latent 128, no Gumbel, t 0.5. NG_ERR_ARG for other names. */
ng_status ng_gan_config_preset(ng_gan_config *cfg, const char *dataset);
/* NG_ERR_ARG (with a message) unless every size is positive and small enough, t > 0. */
ng_status ng_gan_config_check(const ng_gan_config *cfg);

/* ---- genotypes ---- */
typedef struct ng_gan_genotype {
    int op[NG_GAN_EDGES];   /* op index per edge, in EDGE ORDER */
} ng_gan_genotype;
int ng_gan_edge_is_normal(int e);                  /* 1 for normal edges, 0 for up/skip */
int ng_gan_edge_n_ops(int e);                      /* 6 or 3 */
const char *ng_gan_edge_name(int e);               /* "cell1.normal0", ..., "skip_3.1" */
const char *ng_gan_normal_op_name(int k);          /* NULL out of range */
const char *ng_gan_up_op_name(int k);
const char *ng_gan_op_name(int e, int k);          /* by the edge's kind; NULL out of range */
int ng_gan_op_index(int e, const char *name);      /* -1 if not an op of edge e's kind */
/* The published genotypes (alphagan.md 1.9): "alphaGAN_l", "alphaGAN_s". */
ng_gan_genotype ng_gan_genotype_alphagan_l(void);
ng_gan_genotype ng_gan_genotype_alphagan_s(void);
ng_status ng_gan_genotype_builtin(const char *name, ng_gan_genotype *out);   /* NG_ERR_ARG if unknown */
void ng_gan_genotype_random(ng_gan_genotype *g, ng_rng *r);   /* each edge uniform over its ops */
int ng_gan_genotype_valid(const ng_gan_genotype *g);
int ng_gan_genotype_eq(const ng_gan_genotype *a, const ng_gan_genotype *b);
/* JSON (layout above). to_json: malloc'd NUL-terminated text, *n its length; caller frees. */
ng_status ng_gan_genotype_to_json(const ng_gan_genotype *g, char **out, size_t *n);
ng_status ng_gan_genotype_save(const ng_gan_genotype *g, const char *path);       /* atomic */
/* Parse n bytes (not NUL-terminated) from memory; `name` names the source in messages. On
   failure *out is left unchanged. */
ng_status ng_gan_genotype_parse(const char *text, size_t n, const char *name, ng_gan_genotype *out);
ng_status ng_gan_genotype_load(const char *path, ng_gan_genotype *out);           /* <= 1 MiB */
/* The reference code's form (yuesongtian/AlphaGAN models/genotypes.py), to paste there:
   "VAR = Genotype_gen(normal={'1': [('conv_5x5', 0), ...]}, up={...}, skip_2=[...], skip_3=[...])"
   (no "VAR = " when var is NULL or ""). */
ng_status ng_gan_genotype_to_python(const ng_gan_genotype *g, const char *var, char **out, size_t *n);
/* Reads that form back from n bytes of text (a genotypes.py file, a log line): the
   Genotype_gen(...) assigned to `var`, or when var is NULL or "" the only one in the text.
   Also accepts the logged form's *_concat=range(a, b) fields, either quote style, comments and
   line continuations. NG_ERR_FORMAT naming `name` and the offset; *out unchanged on failure. */
ng_status ng_gan_genotype_parse_python(const char *text, size_t n, const char *name, const char *var, ng_gan_genotype *out);
/* Graphviz DOT: z, l1, the 3 cells (clusters of nodes 0-4, every edge labelled with its op),
   the cross-cell skips (dashed, labelled with op and factor) and to_rgb. */
ng_status ng_gan_genotype_to_dot(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
ng_status ng_gan_genotype_save_dot(const ng_gan_genotype *g, const char *title, const char *path);
/* The same picture as a standalone SVG with a fixed layout (no graphviz needed). */
ng_status ng_gan_genotype_to_svg(const ng_gan_genotype *g, const char *title, char **out, size_t *n);
ng_status ng_gan_genotype_save_svg(const ng_gan_genotype *g, const char *title, const char *path);

/* ---- building blocks (tensor pointers only; shared by the supernet and the fixed net) ---- */
typedef struct ng_gan_conv {
    ng_tensor *w;   /* conv (O, C, k, k); deconv (C, O, 2, 2); linear (O, I) */
    ng_tensor *b;   /* (O) */
} ng_gan_conv;
typedef struct ng_gan_sepconv {
    int k;                              /* 3, 5 or 7 (padding k/2) */
    ng_tensor *dw1, *pw1, *dw2, *pw2;   /* depthwise (C, 1, k, k), pointwise (C, C, 1, 1), no bias */
    ng_tensor *bn1_w, *bn1_b, *bn2_w, *bn2_b;          /* (C), NULL when affine-free */
    ng_tensor *bn1_mean, *bn1_var, *bn2_mean, *bn2_var; /* (C) running statistics (buffers) */
} ng_gan_sepconv;
/* One supernet normal edge: its 6 candidates. */
typedef struct ng_gan_mixed_normal {
    ng_gan_conv conv[3];       /* conv_1x1, conv_3x3, conv_5x5 */
    ng_gan_sepconv sep[3];     /* sep_conv_3x3, 5x5, 7x7 */
} ng_gan_mixed_normal;

/* Supernet normal edge: sum_k softmax(alpha[row])_k op_k(x). All six candidates share one
   ReLU(x). fuse = 1 computes the three plain convolutions as ONE 5x5 convolution whose kernel
   and bias are the softmax-weighted sums of the (centre zero-padded) candidates' (exactly the
   same function; gradients of the kernels and of alpha follow from the combined kernel's). */
ng_tensor *ng_gan_mixed_normal_forward(ng_ctx *ctx, const ng_gan_mixed_normal *e, ng_tensor *alpha, int row,
                                       ng_tensor *x /* (N, C, H, W) */, int fuse);
/* Supernet up edge: sum_k softmax(alpha[row])_k up_k^times(x), up = [deconv, nearest,
   bilinear]; times 1 (x2) or 2 (x4, the same deconv applied twice). */
ng_tensor *ng_gan_mixed_up_forward(ng_ctx *ctx, const ng_gan_conv *deconv, ng_tensor *alpha, int row,
                                   ng_tensor *x /* (N, C, H, W) */, int times);
/* One chosen op (fixed net): normal op k reads x (ReLU inside); up op k applied `times`. */
ng_tensor *ng_gan_normal_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *conv, const ng_gan_sepconv *sep, ng_tensor *x);
ng_tensor *ng_gan_up_op_forward(ng_ctx *ctx, int k, const ng_gan_conv *deconv, ng_tensor *x, int times);

/* Initialisation. PYTORCH: every conv / deconv / linear kaiming_uniform(a=sqrt 5) with bias
   U(+-1/sqrt(fan_in)), BN gamma 1, beta 0 (the search). XAVIER: alphaGAN's retraining
   (alphagan.md 4): PyTorch defaults first, then xavier_uniform(gain 1) on every Conv2d weight
   (incl. depthwise; not ConvTranspose2d, not Linear), BN gamma ~ N(1, 0.02), beta 0. */
typedef enum ng_gan_init { NG_GAN_INIT_PYTORCH = 0, NG_GAN_INIT_XAVIER = 1 } ng_gan_init;

/* ---- the search supernet ---- */
typedef struct ng_gan_gen_search {
    ng_gan_config cfg;
    int fuse;                   /* 1 (default): fused conv_1x1/3x3/5x5 on normal edges (see
                                   ng_gan_mixed_normal_forward; measured 17% faster forward +
                                   backward at gf 256); 0: the plain sum of six candidates */
    ng_params *weights;         /* "<name>", trainable */
    ng_params *buffers;         /* "<name>.buffers": BN running statistics */
    ng_params *alpha;           /* "<name>.alpha": the 81 architecture parameters */
    ng_tensor *alpha_normal;    /* (9, 6) */
    ng_tensor *alpha_up;        /* (6, 3) */
    ng_tensor *alpha_skip;      /* (3, 3) */
    ng_gan_conv l1;             /* (bw^2 gf, latent), (bw^2 gf) */
    ng_gan_mixed_normal normal[NG_GAN_CELLS][3];
    ng_gan_conv up[NG_GAN_CELLS][2];   /* the deconv candidate of each up edge */
    ng_gan_conv skip[3];               /* the deconv candidate of skip_2[0], skip_3[0], skip_3[1] */
    ng_tensor *rgb_bn_w, *rgb_bn_b, *rgb_bn_mean, *rgb_bn_var;   /* (gf) */
    ng_gan_conv to_rgb;         /* (channels, gf, 3, 3), (channels) */
} ng_gan_gen_search;

/* PyTorch-default weights, alpha = 1e-3 N(0, 1), BN running stats (0, 1). name NULL: "G".
   NULL (with ng_last_error) on a bad config or no memory. */
ng_gan_gen_search *ng_gan_gen_search_create(const ng_gan_config *cfg, const char *name, ng_rng *init_rng);
void ng_gan_gen_search_free(ng_gan_gen_search *G);
/* Copy weights, buffers and alpha VALUES into dst (its own storage: changing one net's alpha
   never changes the other's). NG_ERR_MISMATCH if the configurations differ. */
ng_status ng_gan_gen_search_copy(ng_gan_gen_search *dst, const ng_gan_gen_search *src);
/* A new supernet (groups named `name`, e.g. "G_worst") holding a copy of src. */
ng_gan_gen_search *ng_gan_gen_search_clone(const ng_gan_gen_search *src, const char *name);
/* (N, latent) -> (N, channels, 8 bw, 8 bw) in [-1, 1]. */
ng_tensor *ng_gan_gen_search_forward(ng_ctx *ctx, const ng_gan_gen_search *G, ng_tensor *z);
/* One cell (c = 0..2) of the supernet: x (N, gf, H, W) -> node4 (N, gf, 2H, 2W); skip_in holds
   c sources (cell1.node1 for c = 1; cell1.node1 and cell2.node1 for c = 2); *node1 (if not
   NULL) receives node1. */
ng_tensor *ng_gan_gen_search_cell(ng_ctx *ctx, const ng_gan_gen_search *G, int c, ng_tensor *x,
                                  ng_tensor *const *skip_in, ng_tensor **node1);
/* Argmax of softmax(alpha_row) on every edge (first index on ties), alphagan.md 1.8. */
void ng_gan_gen_search_derive(const ng_gan_gen_search *G, ng_gan_genotype *out);
/* The alpha tensor and row that edge e reads. */
ng_tensor *ng_gan_gen_search_alpha_of(const ng_gan_gen_search *G, int e, int *row);
/* Edge e's ng_gan_edge_n_ops(e) architecture logits, copied to host memory (either device). */
ng_status ng_gan_gen_search_alpha_row(const ng_gan_gen_search *G, int e, float *logits);
/* ... and written from host memory (either device). */
ng_status ng_gan_gen_search_set_alpha_row(ng_gan_gen_search *G, int e, const float *logits);

/* ---- the fixed (retrain) generator of one genotype ---- */
typedef struct ng_gan_fixed_edge {
    int op;                     /* the chosen op index */
    ng_gan_conv conv;           /* conv_kxk (normal edges) or deconv (up/skip edges), else NULL */
    ng_gan_sepconv sep;         /* sep_conv_kxk (normal edges, affine BN), else zeroed */
} ng_gan_fixed_edge;
typedef struct ng_gan_gen_fixed {
    ng_gan_config cfg;
    ng_gan_genotype geno;
    ng_params *weights, *buffers;      /* "<name>", "<name>.buffers" */
    ng_gan_conv l1;
    ng_gan_fixed_edge edge[NG_GAN_EDGES];
    ng_tensor *rgb_bn_w, *rgb_bn_b, *rgb_bn_mean, *rgb_bn_var;
    ng_gan_conv to_rgb;
} ng_gan_gen_fixed;
/* Only the chosen op per edge; deconv skips apply their one ConvTranspose2d `times` times.
   name NULL: "G". init: NG_GAN_INIT_XAVIER is alphaGAN's retraining. */
ng_gan_gen_fixed *ng_gan_gen_fixed_create(const ng_gan_config *cfg, const ng_gan_genotype *geno, const char *name,
                                          ng_gan_init init, ng_rng *init_rng);
void ng_gan_gen_fixed_free(ng_gan_gen_fixed *G);
ng_tensor *ng_gan_gen_fixed_forward(ng_ctx *ctx, const ng_gan_gen_fixed *G, ng_tensor *z);
ng_tensor *ng_gan_gen_fixed_cell(ng_ctx *ctx, const ng_gan_gen_fixed *G, int c, ng_tensor *x,
                                 ng_tensor *const *skip_in, ng_tensor **node1);

/* ---- the discriminator (AutoGAN's D, alphagan.md 2) ---- */
typedef struct ng_gan_snconv {
    ng_tensor *w, *b;           /* conv (O, C, k, k) and (O), or linear (O, I) and b NULL */
    ng_tensor *u, *v;           /* spectral-norm vectors (O), (C k k) in the buffers group */
} ng_gan_snconv;
typedef struct ng_gan_disc {
    ng_gan_config cfg;
    ng_params *weights, *buffers;      /* "<name>", "<name>.buffers" (SN u and v) */
    ng_gan_snconv b1_c1, b1_c2, b1_sc; /* OptimizedDisBlock: channels -> df */
    ng_gan_snconv b2_c1, b2_c2, b2_sc; /* DisBlock, downsample */
    ng_gan_snconv b3_c1, b3_c2, b4_c1, b4_c2;   /* DisBlocks, identity shortcut */
    ng_gan_snconv l5;                  /* linear df -> 1, no bias */
    int pool_sum;                      /* 0 (default): mean over H and W before l5, the reference
                                          code's stated intent; 1: its actual sum (a quirk) */
} ng_gan_disc;
/* block1: (conv3x3 -> ReLU -> conv3x3 -> avgpool2) + conv1x1(avgpool2(x)); block2: (ReLU conv3x3
   ReLU conv3x3 avgpool2) + avgpool2(conv1x1(x)); blocks 3, 4: (ReLU conv ReLU conv) + x; then
   ReLU, mean over H and W (sum with pool_sum = 1), linear(df -> 1). Spectral norm (1 power iteration per training
   forward, u and v persistent, PyTorch's initial draws) on every conv and the linear. Any input
   size, cfg.channels channels. name NULL: "D". */
ng_gan_disc *ng_gan_disc_create(const ng_gan_config *cfg, const char *name, ng_gan_init init, ng_rng *init_rng);
void ng_gan_disc_free(ng_gan_disc *D);
ng_status ng_gan_disc_copy(ng_gan_disc *dst, const ng_gan_disc *src);   /* weights and u, v */
ng_tensor *ng_gan_disc_forward(ng_ctx *ctx, const ng_gan_disc *D, ng_tensor *x /* (N, channels, H, W) */); /* (N, 1) */
