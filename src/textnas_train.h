/* ======================================================================================== */
/* @@TEXTNAS_TRAIN  TextNAS child training, evaluation, the two searches' steps, batching   */
/* ======================================================================================== */
/* Batches of an encoded text dataset in shuffled passes (a new permutation per pass; the
   last short batch of a pass is topped up from the next one). Checkpointed as the RNG state
   at the start of the current pass, the cursor and the current RNG, so a resumed run draws
   the same batches. */
typedef struct ng_text_sampler {
    const ng_text_dataset *d;
    int32_t *perm;          /* (d->n) the current pass */
    int64_t cursor;
    ng_rng rng, pass_rng;   /* now / at the start of the current pass */
    int cap;                /* batch buffers below hold cap examples */
    int32_t *ids, *lengths, *labels;
} ng_text_sampler;
ng_status ng_text_sampler_init(ng_text_sampler *s, const ng_text_dataset *d, uint64_t seed);
void ng_text_sampler_free(ng_text_sampler *s);
/* The next `batch` examples; out points into the sampler's buffers (valid until the next call). */
ng_status ng_text_sampler_next(ng_text_sampler *s, int batch, ng_text_batch *out);
ng_status ng_text_sampler_put(ng_ckpt *ck, const char *key, const ng_text_sampler *s);
ng_status ng_text_sampler_get(const ng_ckpt *ck, const char *key, ng_text_sampler *s);
/* Examples [first, first + n) of d in order (evaluation). */
ng_text_batch ng_text_dataset_slice(const ng_text_dataset *d, int64_t first, int64_t n);

/* The child (shared or fixed) network's optimiser: Adam with coupled L2 on the embedding and
   on every other weight (two groups, the same settings: the same as one Adam over all), global
   gradient-norm clipping over both (grad_clip <= 0: none). */
typedef struct ng_textnas_child {
    ng_textnas_net *net;
    ng_adam adam_w, adam_e;
    float grad_clip;
    int64_t steps;
    double loss, accuracy;  /* of the last step's batch */
} ng_textnas_child;
ng_status ng_textnas_child_init(ng_textnas_child *c, ng_textnas_net *net, float lr, float eps, float weight_decay,
                                float grad_clip);
void ng_textnas_child_free(ng_textnas_child *c);
void ng_textnas_child_set_lr(ng_textnas_child *c, float lr);
/* One training step (training mode) of architecture `arch` (alpha NULL) or of the relaxed
   supernet (alpha given; its parameters get no update here). Resets ctx. A non-finite loss or
   gradient norm is NG_ERR_ARG and leaves the weights and Adam unchanged. */
ng_status ng_textnas_child_step(ng_textnas_child *c, ng_ctx *ctx, const ng_textnas_arch *arch,
                                const ng_textnas_alpha *alpha, const ng_text_batch *b);
ng_status ng_textnas_child_put(ng_ckpt *ck, const char *prefix, const ng_textnas_child *c);
ng_status ng_textnas_child_get(const ng_ckpt *ck, const char *prefix, ng_textnas_child *c);

/* Accuracy (and mean loss, and the confusion matrix conf[true * C + predicted] when not NULL)
   of architecture `arch` / the relaxed supernet (alpha) on examples [0, limit) of d (limit <= 0:
   all), in eval mode (running statistics, no dropout), batch by batch. Resets ctx. */
ng_status ng_textnas_evaluate(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                              const ng_textnas_alpha *alpha, const ng_text_dataset *d, int batch, int64_t limit,
                              double *accuracy, double *loss, int64_t *conf);
/* Accuracy of one batch in eval mode (the controller's reward). Resets ctx. */
ng_status ng_textnas_batch_accuracy(ng_ctx *ctx, ng_textnas_net *net, const ng_textnas_arch *arch,
                                    const ng_text_batch *b, double *accuracy);
/* One architecture step of the differentiable search (first order, DARTS-style): the
   cross-entropy of the relaxed supernet on a validation batch, in training mode, differentiated
   in alpha only, then opt's Adam step on alpha. *loss (may be NULL) receives the loss. */
ng_status ng_textnas_alpha_step(ng_ctx *ctx, ng_textnas_net *net, ng_textnas_alpha *alpha, ng_adam *opt,
                                const ng_text_batch *b, double *loss);
