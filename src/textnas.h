/* ======================================================================================== */
/* @@TEXTNAS  the TextNAS text-representation search space                                  */
/* ======================================================================================== */
/* docs: /work/shared/docs/textnas.md section 1. One architecture = per layer i (0-based):
     input[i]  the layer whose output layer i reads: -1 for layer 0 (init_conv's output),
               else one of [max(0, i - 5), i - 1]
     op[i]     0..7 in the spec's index order (NG_TEXTNAS_CONV1 ... NG_TEXTNAS_ATTENTION)
     skip[i]   bit j set (j < i): layer j's output is summed in (any subset of 0..i-1) */
#define NG_TEXTNAS_MAX_LAYERS 32
#define NG_TEXTNAS_N_OPS 8
#define NG_TEXTNAS_CHOOSE_FROM 5
enum { NG_TEXTNAS_CONV1 = 0, NG_TEXTNAS_CONV3, NG_TEXTNAS_CONV5, NG_TEXTNAS_CONV7,
       NG_TEXTNAS_AVG_POOL, NG_TEXTNAS_MAX_POOL, NG_TEXTNAS_RNN, NG_TEXTNAS_ATTENTION };

typedef struct ng_textnas_arch {
    int n_layers;                            /* 24 in TextNAS; 1..NG_TEXTNAS_MAX_LAYERS */
    int input[NG_TEXTNAS_MAX_LAYERS];
    int op[NG_TEXTNAS_MAX_LAYERS];
    uint32_t skip[NG_TEXTNAS_MAX_LAYERS];
} ng_textnas_arch;

const char *ng_textnas_op_name(int op);      /* "conv1" ... "attention"; "?" out of range */
int ng_textnas_op_index(const char *name);   /* -1 if unknown */
/* Candidates of layer i's input choice: [ng_textnas_input_first(i, k), i - 1] (k = choose_from). */
int ng_textnas_input_first(int layer, int choose_from);
/* NG_ERR_ARG naming the layer and field when `a` is not an architecture of the space with
   input choice among the last `choose_from` layers. */
ng_status ng_textnas_arch_check(const ng_textnas_arch *a, int choose_from);
/* The paper's discovered architecture (textnas.md 5.3, NNI arc/final_arc.json): 24 layers. */
void ng_textnas_arch_published(ng_textnas_arch *a);
/* A uniformly random architecture: op and input uniform, each skip with probability p_skip
   (0.4 = the controller's skip target). */
void ng_textnas_arch_random(ng_textnas_arch *a, int n_layers, int choose_from, double p_skip, ng_rng *r);
/* The simple baseline of the results table, in the space's own terms: 2 layers, conv k=3 then
   max pool k=3 on it, no skips. */
void ng_textnas_arch_baseline(ng_textnas_arch *a);
int ng_textnas_arch_eq(const ng_textnas_arch *a, const ng_textnas_arch *b);
int ng_textnas_arch_n_skips(const ng_textnas_arch *a);
/* Layers whose op has no weights (the two pools): many of them in a searched architecture is
   the collapse that differentiable searches are known for (docs/ecosystem.md 4(a)). */
int ng_textnas_arch_n_param_free(const ng_textnas_arch *a);
/* 1 for the parameter-free ops (avg and max pool) */
int ng_textnas_op_is_param_free(int op);

/* ARCHITECTURE JSON: NNI's final_arc.json layout, so published architectures load as they
   are. Keys come from NNI's global mutable counter in creation order: layer 0 is
   "LayerChoice1" (the op); layer i >= 1 has "InputChoice<3i-1>" (its input, one true among the
   min(i, 5) candidates oldest first), "LayerChoice<3i>" (its op, 8 booleans in the op order
   above) and "InputChoice<3i+1>" (its skips, i booleans for layers 0..i-1). An n-layer
   architecture has 3n - 2 keys. The reader is strict (exact key set, array lengths, one true
   in every single choice, no duplicates, nothing after the object) and names the file, line
   and column of what is wrong. choose_from: the input-choice width the file was written for (5). */
ng_status ng_textnas_arch_to_json(const ng_textnas_arch *a, char **out, size_t *n);
ng_status ng_textnas_arch_save(const ng_textnas_arch *a, const char *path);   /* atomic */
ng_status ng_textnas_arch_parse(const char *text, size_t n, const char *name, int choose_from, ng_textnas_arch *out);
ng_status ng_textnas_arch_load(const char *path, int choose_from, ng_textnas_arch *out);
/* Graphviz DOT of the architecture (layers as boxes labelled with their op, solid input edges,
   dashed skip edges, all layers into the output). *out malloc'd. */
ng_status ng_textnas_arch_to_dot(const ng_textnas_arch *a, const char *title, char **out, size_t *n);
/* The same picture as a standalone SVG, layers top to bottom (no graphviz needed). */
ng_status ng_textnas_arch_to_svg(const ng_textnas_arch *a, const char *title, char **out, size_t *n);

/* ---- the network: one struct for the weight-sharing supernet and for a fixed child ----
   Tensors are channel-last (N, L, H) (ops_seq). Per layer (textnas.md 1.3-1.5, NNI):
     conv k  : conv1d(k, bias) -> mask -> BN -> mask -> ReLU -> dropout(p_cnn)
     avg/max : pool k=3 stride 1 (count_include_pad; -inf border) -> mask
     rnn     : GRU forward + GRU backward over true lengths (summed) -> dropout(p_rnn)
     attention: Q, K, V = ReLU(Linear(x)) -> 4-head masked attention (dropout p_att on the
                probabilities) -> mask -> BN -> mask
     layer   : op(input) + sum of skip layers -> BN -> mask (bn_always = 0: BN only when the
               layer has skips, as the authors' release)
   Input: embedding (V, E) -> dropout(p_embed) -> ConvBN(k=1, E -> H) as above. Output:
   LinearCombine (softmax of n_layers scalars, init 1/n) over all layer outputs -> masked mean
   over tokens -> Linear(H -> classes). */
typedef struct ng_textnas_hp {
    int n_layers;           /* 24 (1..31) */
    int hidden;             /* H: 256 (retraining and NNI search; the authors' search: 32) */
    int embed_dim;          /* E: 300 (GloVe) */
    int64_t vocab;          /* V, including <pad> and <unk> */
    int n_classes;
    int choose_from;        /* 5 */
    int heads;              /* 4 */
    float p_embed, p_cnn, p_rnn, p_att;  /* dropout: 0.2 retraining, 0.5 NNI search */
    int bn_always;          /* 1 (NNI) */
    float bn_momentum, bn_eps;           /* 0.1, 1e-5 */
    int xavier;             /* 1: Xavier-uniform conv/linear weights (retraining); 0: PyTorch
                               default kaiming-uniform (NNI search) */
} ng_textnas_hp;
/* Retraining defaults (textnas.md section 4) for a vocabulary and class count. */
void ng_textnas_hp_default(ng_textnas_hp *hp, int64_t vocab, int n_classes);
ng_status ng_textnas_hp_check(const ng_textnas_hp *hp);

typedef struct ng_textnas_op_w {
    ng_tensor *w, *b;                       /* conv1d (H, Cin, k), (H) */
    ng_tensor *bn_g, *bn_b, *bn_mean, *bn_var; /* conv and attention BN */
    ng_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* attention (H, H), (H) */
    ng_tensor *w_ih[2], *w_hh[2], *b_ih[2], *b_hh[2]; /* GRU forward [0] and backward [1] */
} ng_textnas_op_w;
typedef struct ng_textnas_layer_w {
    ng_textnas_op_w op[NG_TEXTNAS_N_OPS];   /* tensors NULL for ops a fixed net does not have */
    ng_tensor *bn_g, *bn_b, *bn_mean, *bn_var;  /* the layer's BN (NULL when not built) */
} ng_textnas_layer_w;

typedef struct ng_textnas_net {
    ng_textnas_hp hp;
    int fixed;              /* 1: built for `arch` only; 0: the supernet (every op of every layer) */
    ng_textnas_arch arch;
    ng_params *embed;       /* "textnas.embed": the (V, E) table, trainable */
    ng_params *weights;     /* "textnas": every other trainable tensor */
    ng_params *buffers;     /* "textnas.stats": BN running statistics */
    ng_tensor *emb;
    ng_textnas_op_w init;   /* init_conv: a ConvBN with kernel 1 */
    ng_textnas_layer_w layer[NG_TEXTNAS_MAX_LAYERS];
    ng_tensor *combine;     /* (n_layers) LinearCombine scalars */
    ng_tensor *fc_w, *fc_b; /* (C, H), (C) */
} ng_textnas_net;

/* arch NULL: the supernet; otherwise a fixed net with only that architecture's ops. The
   embedding is U[-0.25, 0.25) with row 0 (<pad>) = 0; load pretrained rows into net->emb. */
ng_status ng_textnas_net_init(ng_textnas_net *net, const ng_textnas_hp *hp, const ng_textnas_arch *arch,
                              uint64_t seed);
void ng_textnas_net_free(ng_textnas_net *net);
/* Trainable parameters outside the embedding (textnas.md 1.8: 6,140,186 for the published
   architecture, 2 classes, H = 256). */
int64_t ng_textnas_net_count(const ng_textnas_net *net);

/* One batch of encoded texts: ids (n, len), true lengths (n) in [0, len], labels (n) or NULL. */
typedef struct ng_text_batch {
    const int32_t *ids, *lengths, *labels;
    int64_t n;
    int len;
} ng_text_batch;
/* Logits (N, C) of architecture `arch` (a fixed net: NULL or its own arch). Training mode,
   dropout and BN statistics follow ng_ctx_set_training. *layers (may be NULL) receives the
   n_layers layer outputs (N, L, H) (for tests and inspection). */
ng_tensor *ng_textnas_forward(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_text_batch *b, ng_tensor **layers);

/* ---- differentiable search on the same space (beyond the paper) ----
   Architecture parameters, one group "textnas.alpha":
     "op"     (n_layers, 8): per layer, the op mixture softmax(op[i, :]) over all 8 ops;
     "in.<i>" (min(i, choose_from)) for i >= 1: the input mixture over the candidates;
     "skip"   (n_layers (n_layers - 1) / 2, 2): pair (i, j) at row i (i - 1) / 2 + j holds
              [off, on] logits; layer j is added with weight softmax(pair)[on] = sigmoid(on - off)
              (the controller's [-q, +q] pair, relaxed).
   All zero at init: uniform mixtures and skip weights 0.5. */
typedef struct ng_textnas_alpha {
    int n_layers, choose_from;
    ng_params *params;
    ng_tensor *op, *skip;
    ng_tensor *in[NG_TEXTNAS_MAX_LAYERS];   /* in[0] NULL */
    uint32_t op_mask;   /* ops in the mixtures (bit k: op k); 0 (init) = all 8. The others are
                           left out of the forward, their logits count as -1e30 (weight 0, no
                           gradient) and derive never picks them. Beyond the paper: a guard
                           against searches that settle on parameter-free pools. */
    float pf_dropout;   /* dropout on the pools' outputs inside the mixtures, in training mode (weight
                           and architecture steps); 0 (init) = none. Beyond the paper: P-DARTS's
                           op-level dropout on parameter-free ops, so that ops which help before any
                           weight is trained do not take the mixtures early. */
} ng_textnas_alpha;
ng_status ng_textnas_alpha_init(ng_textnas_alpha *a, int n_layers, int choose_from);
void ng_textnas_alpha_free(ng_textnas_alpha *a);
/* argmax op (among op_mask), argmax input (first on ties), skips with weight > 0.5. */
void ng_textnas_alpha_derive(const ng_textnas_alpha *a, ng_textnas_arch *out);
/* Mean over layers of the op mixture's entropy divided by ln(number of ops in op_mask): 1
   while the mixtures are uniform, towards 0 as each layer settles on one op (0 with a single
   op; NaN if alpha cannot be read). */
double ng_textnas_alpha_op_entropy(const ng_textnas_alpha *a);
/* Logits of the supernet with every choice relaxed: layer i = BN(mask(sum_k w_k op_k(x_i)) +
   sum_j s_ij layer_j), x_i = sum_c u_c layer_c over the input candidates. */
ng_tensor *ng_textnas_forward_mixed(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_alpha *alpha,
                                    const ng_text_batch *b);
