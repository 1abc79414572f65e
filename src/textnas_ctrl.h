/* ======================================================================================== */
/* @@TEXTNAS_CTRL  the TextNAS search controller (ENAS LSTM + REINFORCE, NNI's release)      */
/* ======================================================================================== */
/* docs: /work/shared/docs/textnas.md section 3.1 ("Variant A").

   WHICH CONTROLLER. The spec documents two controllers. This part implements Variant A, the
   one in the published NNI release of TextNAS (examples/nas/legacy/textnas/search.py driving
   NNI's EnasMutator / EnasTrainer): it is the public, maintained search code, and it takes
   ONE LSTM step per layer. Variant B (the authors' standalone microsoft/TextNAS, section 3.2)
   differs in: three LSTM steps per layer (input, op, skip); a fixed classifier w_layer over
   "distance back" for the input choice instead of attention; op/layer embeddings that are
   really fed back; tanh_constant 1.5; skip penalty averaged (not summed) over layers; all
   parameters U(-0.1, 0.1); Adam lr 1e-3, eps 1e-3, weight decay 1e-3; 20 controller steps
   per epoch with the whole test set as reward. tanh_constant, temperature, Adam's eps and
   weight decay are settings here, the rest of Variant B is not provided.

   SAMPLING (exactly NNI's order; h = c = 0 and inp = g_emb at the start):
     layer 0 : (h, c) = LSTMCell(inp, (h, c)); logits = W_soft h; op_0 ~ softmax; anchor_0 = h
     layer i : prec: e_j = v . tanh(W_anchor anchor_j + W_query h) for the candidates
                     j = max(0, i - choose_from) .. i - 1 (oldest first); input_i ~ softmax(e);
                     inp = anchor_{input_i}                      (no LSTM step)
               op  : (h, c) = LSTMCell(inp, (h, c)); logits = W_soft h; op_i ~ softmax
               skip: q_j = v . tanh(W_anchor anchor_j + W_query h), j = 0 .. i - 1 (same h);
                     s_j ~ softmax([-q_j, +q_j]) (s_j = 1: layer j is summed in);
                     KL_j = sum_b sigmoid(l_b) log(sigmoid(l_b) / t_b) over the pair
                     l = (-q_j, q_j), t = (1 - skip_target, skip_target)
               anchor_i = h
   With a temperature T (> 0) logits become logits / T, with a tanh constant C (> 0) then
   C tanh(logits) (both "none" in NNI's TextNAS; e and q are transformed the same way).
   The op embedding and the skip average that NNI feeds back are overwritten by the next input
   choice before any LSTM step reads them, so they are not computed (NNI's 9x64 op embedding
   gets no gradient and is omitted). g_emb enters as NNI's `g_emb.data`: it gets NO gradient
   and so never moves under Adam; it is kept in the group only to be checkpointed. This is the
   FIXED NNI code (after issue #2839): the LSTM's hidden state h, not the cell state, is read.

   LOG-PROB, ENTROPY, SKIP PENALTY (entropy_reduction "mean", as TextNAS's search.py):
     log_prob     = sum over decisions of -log p(chosen); the skip decision of layer i adds
                    the MEAN over its i candidates of -log p(s_j);
     entropy      = sum over decisions of p(chosen) * (-log p(chosen)) (not the full entropy;
                    no gradient), skip decisions averaged over candidates likewise;
     skip_penalty = sum over layers of sum_j KL_j.
   Layer 0 has no input and no skip decision; layer 1's input choice has one candidate
   (log p = 0).

   CONTROLLER STEP (NNI EnasTrainer, ctrl_steps_aggregate 1):
     sample with gradient; reward = reward_fn(arch) (the child's accuracy);
     R = reward + entropy_weight * entropy;
     baseline = decay * baseline + (1 - decay) * R      (BEFORE the loss; starts at 0)
     loss = log_prob * (R - baseline) + skip_weight * skip_penalty;
     zero grads, backward, clip the global gradient norm to grad_clip, Adam step.
   R and the baseline are doubles (Python floats in NNI); R - baseline is rounded to float when
   it scales the float log-prob, as PyTorch does. Parameters that get no gradient in a step
   (g_emb always; the attention weights when n_layers = 1) see a zero gradient here, where
   PyTorch's Adam skips them (grad None): identical while weight_decay = 0 (Variant A), but with
   weight decay they would decay here and not in PyTorch.

   RANDOMNESS: every decision draws one ng_rng_uniform u from the caller's rng and takes the
   first index whose cumulative probability (double, from the float logits) exceeds u. */

#define NG_TEXTNAS_CTRL_MAX_LSTM 1024

typedef struct ng_textnas_ctrl_hp {
    int lstm_size;          /* 64 */
    int n_layers;           /* 24 (1..NG_TEXTNAS_MAX_LAYERS) */
    int choose_from;        /* 5: input candidates = the last choose_from layers */
    float skip_target;      /* 0.4: target probability of a skip (KL target (0.6, 0.4)) */
    float skip_weight;      /* 0.8 */
    double entropy_weight;  /* 1e-4 */
    double baseline_decay;  /* 0.99 */
    float lr;               /* 2e-3 (Adam) */
    float beta1, beta2;     /* 0.9, 0.999 (torch defaults) */
    float eps;              /* 1e-8 (torch default; Variant B: 1e-3) */
    float weight_decay;     /* 0 (Variant B: 1e-3) */
    float grad_clip;        /* 5.0: global L2 norm; <= 0 disables clipping */
    float tanh_constant;    /* 0 = none (NNI TextNAS); Variant B: 1.5 */
    float temperature;      /* 0 = none */
    uint32_t op_mask;       /* ops the controller may choose (bit k: op k); 0 = all 8. The others
                               get logit -1e30 (probability 0, no gradient). Beyond the paper:
                               a guard against searches that settle on parameter-free pools. */
} ng_textnas_ctrl_hp;

/* The spec's Variant A defaults (above). */
void ng_textnas_ctrl_hp_default(ng_textnas_ctrl_hp *hp);
/* NG_ERR_ARG naming the bad field. */
ng_status ng_textnas_ctrl_hp_check(const ng_textnas_ctrl_hp *hp);

/* Statistics of the last controller step. */
typedef struct ng_textnas_ctrl_stats {
    double reward;          /* reward_fn's value */
    double R;               /* reward + entropy_weight * entropy */
    double baseline;        /* after the update */
    double log_prob, entropy, skip_penalty, loss;
    double grad_norm;       /* before clipping */
} ng_textnas_ctrl_stats;

typedef struct ng_textnas_ctrl {
    ng_textnas_ctrl_hp hp;
    ng_params *params;      /* group "ctrl", in this order: */
    ng_tensor *w_ih;        /* lstm.weight_ih (4S, S), gate rows i, f, g, o; U(+-1/sqrt(S)) */
    ng_tensor *w_hh;        /* lstm.weight_hh (4S, S); U(+-1/sqrt(S)) */
    ng_tensor *w_soft;      /* soft.weight (8, S); U(+-1/sqrt(S)) */
    ng_tensor *w_anchor;    /* attn_anchor.weight (S, S) */
    ng_tensor *w_query;     /* attn_query.weight (S, S) */
    ng_tensor *v_attn;      /* v_attn.weight (1, S) */
    ng_tensor *g_emb;       /* g_emb (1, S) ~ N(0, 1) * 0.1; never receives a gradient */
    ng_adam adam;
    double baseline;        /* REINFORCE baseline, starts at 0 */
    int64_t steps;          /* controller steps taken */
    ng_textnas_ctrl_stats last;
    ng_ctx *nograd;         /* private context of the no-gradient sampler */
} ng_textnas_ctrl;

/* Arena bytes that one controller step (sample with gradient + backward) fits in, with room to
   spare (the step itself peaks at about 1.2 MB for 24 layers, lstm_size 64). */
size_t ng_textnas_ctrl_arena_bytes(const ng_textnas_ctrl_hp *hp);
/* hp NULL: defaults. seed drives the parameter initialisation only. */
ng_status ng_textnas_ctrl_init(ng_textnas_ctrl *c, const ng_textnas_ctrl_hp *hp, uint64_t seed);
void ng_textnas_ctrl_free(ng_textnas_ctrl *c);

/* Sample one architecture on ctx's tape. *log_prob, *entropy, *skip_penalty (any may be NULL)
   receive 0-d tensors in ctx's arena; log_prob and skip_penalty carry the graph to
   c->params when ctx differentiates that group (the caller sets ng_ctx_grad_for; this function
   leaves the context's settings alone), entropy never has a gradient. The arena must hold the
   step: see ng_textnas_ctrl_arena_bytes. */
ng_status ng_textnas_ctrl_sample(ng_ctx *ctx, ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out,
                                 ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty);
/* The same three quantities for a GIVEN architecture (teacher forcing: the decisions are
   read from arch instead of drawn). arch->n_layers must equal hp.n_layers; NG_ERR_ARG naming
   the layer and field when arch is not valid for this controller. */
ng_status ng_textnas_ctrl_score(ng_ctx *ctx, ng_textnas_ctrl *c, const ng_textnas_arch *arch,
                                ng_tensor **log_prob, ng_tensor **entropy, ng_tensor **skip_penalty);
/* No-gradient sampling (the child-training path): the same draws as ng_textnas_ctrl_sample
   for the same rng state, computed on the controller's private context. */
ng_status ng_textnas_ctrl_sample_arch(ng_textnas_ctrl *c, ng_rng *rng, ng_textnas_arch *out);
/* n independent no-gradient samples (NNI exports 20). */
ng_status ng_textnas_ctrl_export(ng_textnas_ctrl *c, ng_rng *rng, int n, ng_textnas_arch *archs);

/* Reward of an architecture (the child's accuracy on a held-out batch). Must not use the
   controller step's ctx: the sample's tape lives there until the update. */
typedef double (*ng_textnas_reward_fn)(const ng_textnas_arch *arch, void *user);

/* One controller step (see the top): resets ctx, sets ng_ctx_grad_for(ctx, {c->params}),
   samples, calls reward_fn, updates the baseline and takes an Adam step; statistics in
   c->last. *arch_out (may be NULL) receives the sampled architecture. A non-finite reward or
   gradient norm is NG_ERR_ARG and leaves parameters, Adam state, baseline and step count
   unchanged (the rng has advanced). */
ng_status ng_textnas_ctrl_step(ng_textnas_ctrl *c, ng_ctx *ctx, ng_rng *rng, ng_textnas_reward_fn reward_fn,
                               void *user, ng_textnas_arch *arch_out);
/* The update part of a step for a given architecture and reward (teacher-forced: used by the
   PyTorch fixture and by callers that sample and evaluate themselves). */
ng_status ng_textnas_ctrl_step_arch(ng_textnas_ctrl *c, ng_ctx *ctx, const ng_textnas_arch *arch, double reward);

/* Checkpoint records: "params/ctrl", "<prefix>.adam", "<prefix>.baseline" (the double's bit
   pattern as i64, so resuming is bit-exact), "<prefix>.steps". The sampling rng belongs to the
   caller: put it with ng_ckpt_put_rng next to these. get restores into an initialised
   controller of the same lstm_size; nothing is changed when a record is missing or differs. */
ng_status ng_textnas_ctrl_put(ng_ckpt *ck, const char *prefix, const ng_textnas_ctrl *c);
ng_status ng_textnas_ctrl_get(const ng_ckpt *ck, const char *prefix, ng_textnas_ctrl *c);
