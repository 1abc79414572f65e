/* ======================================================================================== */
/* @@BILEVEL  alphaGAN's alternating minimax search (weights / worst case / architecture)    */
/* ======================================================================================== */
/* One network of the search, seen through its parameter groups and its forward.
   G maps a latent batch (N, latent) to images; D maps images to scores (N, 1). */
typedef struct ng_gan_net {
    void *net;
    ng_params *weights;   /* trainable weights */
    ng_params *buffers;   /* BN running statistics, SN u/v (may be NULL) */
    ng_params *alpha;     /* architecture parameters (NULL for D) */
    ng_tensor *(*forward)(ng_ctx *ctx, void *net, ng_tensor *in);
} ng_gan_net;

/* Step counts and optimiser settings of alphaGAN's search (spec sections 3.3-3.5). */
typedef struct ng_bilevel_config {
    int batch;                 /* 64: real and latent batch of every step */
    int latent_dim;            /* 128 */
    int n_critic;              /* 5: one G step when the global D-step counter % n_critic == 0 */
    int inner_steps;           /* D steps per epoch = min(inner_steps + 2, batches per pass) */
    int worst_steps;           /* D_worst and G_worst steps = min(worst_steps + 2, batches per pass) */
    int arch_steps;            /* 20 alpha steps per epoch */
    int epochs;                /* epochs 1..epochs (the reference runs 99) */
    float lr_g, lr_d;          /* 2e-4, Adam betas (beta1, beta2) = (0.0, 0.9) */
    float beta1, beta2;
    float lr_worst_early, lr_worst_late; /* 2e-4 up to epoch worst_lr_switch, then 1e-4 */
    int worst_lr_switch;       /* 30 */
    float lr_alpha, alpha_beta1, alpha_beta2, alpha_weight_decay; /* 3e-4, 0.5, 0.999, 1e-3 */
    /* Reference quirk (off by default): the supernet G's lr follows CosineAnnealingLR with
       eta_min 1e-3 > base 2e-4 over 100 epochs, so it RISES to ~1e-3. */
    int g_lr_rising_cosine;
} ng_bilevel_config;

/* "paper-s" (alphaGAN(s): inner/worst 20), "paper-l" (alphaGAN(l): 390, a full split),
   "quick" (a CPU-sized run: batch 32, inner/worst 10, 10 arch steps, 10 epochs, and alpha's lr
   5e-3 instead of 3e-4 so that 100 alpha steps can move alpha about as far as alphaGAN(s)'s
   1,980 do).
   Returns 0 on success, -1 for an unknown name. */
int ng_bilevel_preset(const char *name, ng_bilevel_config *cfg);

/* Source of real images: a (batch, C, H, W) tensor in the step arena from split 0 (train:
   weight steps) or 1 (validation: worst-case and architecture steps). */
typedef ng_tensor *(*ng_real_batch_fn)(ng_ctx *ctx, void *user, int split, int batch);

typedef struct ng_bilevel_losses {
    float d_loss, g_loss;            /* last weight-step hinge losses */
    float d_worst_loss, g_worst_loss;
    float minmax, maxmin, gap;       /* last architecture step: gap = minmax - maxmin */
} ng_bilevel_losses;

typedef struct ng_bilevel {
    ng_bilevel_config cfg;
    ng_gan_net g, d, g_worst, d_worst;  /* the *_worst nets are rebuilt from g, d every epoch */
    ng_adam opt_g, opt_d, opt_alpha;    /* persistent */
    ng_adam opt_g_worst, opt_d_worst;   /* fresh every epoch */
    ng_ctx *ctx;                        /* step arena; ctx->rng drives Gumbel noise / dropout */
    ng_rng rng;                         /* latent vectors */
    ng_real_batch_fn real_batch;
    void *data;
    int64_t batches_per_pass;           /* of each split, for the step counts */
    int64_t epoch;                      /* epochs completed */
    int64_t global_step;                /* D steps taken */
    ng_bilevel_losses last;
} ng_bilevel;

ng_status ng_bilevel_init(ng_bilevel *b, const ng_bilevel_config *cfg, ng_gan_net g, ng_gan_net d,
                          ng_gan_net g_worst, ng_gan_net d_worst, ng_ctx *ctx, uint64_t seed,
                          ng_real_batch_fn real_batch, void *data, int64_t batches_per_pass);
void ng_bilevel_free(ng_bilevel *b);

/* The pieces of an epoch, exposed for tests and custom loops. Each resets the step arena. */
ng_status ng_bilevel_d_step(ng_bilevel *b);          /* hinge D step on a train batch */
ng_status ng_bilevel_g_step(ng_bilevel *b);          /* -mean D(G(z)) step of G's weights */
ng_status ng_bilevel_find_worst(ng_bilevel *b);      /* copy G, D; fresh Adam; worst-case steps */
/* Duality gap on a validation batch; leaves d gap / d alpha in g.alpha->grad (accumulated). */
ng_status ng_bilevel_gap_grad(ng_bilevel *b);
ng_status ng_bilevel_arch_step(ng_bilevel *b);       /* gap_grad, Adam on alpha, zero grads */

/* The steps epoch b->epoch + 1 will take: D steps, the G steps among them (every D step whose
   global index % n_critic == 0 is followed by one), D_worst steps (as many G_worst steps) and
   architecture steps. For progress bars and ETAs. */
void ng_bilevel_epoch_plan(const ng_bilevel *b, int64_t *d_steps, int64_t *g_steps, int64_t *worst_steps,
                           int64_t *arch_steps);

/* Called after every step: phase is "D", "G", "D_worst", "G_worst" or "alpha". */
typedef void (*ng_bilevel_progress)(const ng_bilevel *b, const char *phase, int64_t step, int64_t total, void *user);
/* One epoch (number b->epoch + 1): weight steps, worst case, architecture steps. */
ng_status ng_bilevel_epoch(ng_bilevel *b, ng_bilevel_progress progress, void *user);

/* Whole search state (weights, buffers, alpha, the three persistent Adams, both RNGs, epoch and
   step counters) into / out of a checkpoint, at epoch boundaries. */
ng_status ng_bilevel_put(ng_ckpt *ck, const ng_bilevel *b);
ng_status ng_bilevel_get(const ng_ckpt *ck, ng_bilevel *b);
