/* ======================================================================================== */
/* @@GANTRAIN  alphaGAN nets as ng_gan_net, retraining a derived generator, sampling        */
/* ======================================================================================== */
/* The search supernet, a fixed generator and the discriminator seen as ng_gan_net (the view
   ng_bilevel_* and ng_gan_trainer_* work on). The structs stay owned by the caller. */
ng_gan_net ng_gan_net_search(ng_gan_gen_search *G);
ng_gan_net ng_gan_net_fixed(ng_gan_gen_fixed *G);
ng_gan_net ng_gan_net_disc(ng_gan_disc *D);

/* Retraining of a derived genotype, alphagan.md section 4 (train_geno_gan.py):
     each step: one hinge D step on d_batch real images and d_batch fakes; when the global D
     step counter % n_critic == 0 (step 0 included) one G step on g_batch latents
     (L = -mean D(G(z))) followed by the EMA update avg = d avg + (1 - d) w over G's
     trainable parameters (running statistics are not averaged).
   Adam for both nets with lr 2e-4 and betas (0.0, 0.9) on CIFAR-10, (0.5, 0.9) on STL-10;
   the learning rate is constant (the reference never passes --lr_decay); Xavier init comes
   from ng_gan_gen_fixed_create / ng_gan_disc_create with NG_GAN_INIT_XAVIER. */
typedef struct ng_gan_train_config {
    int d_batch;            /* 64: real and fake images per D step (also the loader batch) */
    int g_batch;            /* 128: latents per G step */
    int latent_dim;         /* 128 */
    int n_critic;           /* 5 */
    float lr_g, lr_d;       /* 2e-4 */
    float beta1, beta2;     /* (0.0, 0.9) CIFAR-10 and Fashion-MNIST; (0.5, 0.9) STL-10 */
    float ema_decay;        /* 0.999 */
    int64_t max_g_steps;    /* 50,000 (CIFAR-10), 80,000 (STL-10): the reference's max_iter */
} ng_gan_train_config;
/* "cifar10", "stl10", "fashion_mnist" (CIFAR-10's settings). NG_ERR_ARG for other names. */
ng_status ng_gan_train_preset(const char *dataset, ng_gan_train_config *cfg);

typedef struct ng_gan_trainer {
    ng_gan_train_config cfg;
    ng_gan_net g, d;
    ng_adam opt_g, opt_d;
    ng_ema ema;                 /* shadow of g.weights */
    ng_ctx *ctx;                /* step arena; its rng is saved with the state */
    ng_rng rng;                 /* latent vectors */
    ng_real_batch_fn real_batch;/* called with split 0 */
    void *data;
    int64_t d_steps, g_steps;   /* steps taken */
    float d_loss, g_loss;       /* last losses */
} ng_gan_trainer;

ng_status ng_gan_trainer_init(ng_gan_trainer *t, const ng_gan_train_config *cfg, ng_gan_net g, ng_gan_net d,
                              ng_ctx *ctx, uint64_t seed, ng_real_batch_fn real_batch, void *data);
void ng_gan_trainer_free(ng_gan_trainer *t);
/* One D step, plus the G step and EMA update on G's turn. */
ng_status ng_gan_trainer_step(ng_gan_trainer *t);
/* The whole state (weights, buffers, EMA shadow, both Adams, both RNGs, counters). */
ng_status ng_gan_trainer_put(ng_ckpt *ck, const ng_gan_trainer *t);
ng_status ng_gan_trainer_get(const ng_ckpt *ck, ng_gan_trainer *t);

/* n images of generator g as uint8 (n, C, H, W), quantised as the reference evaluates them:
   uint8(clamp(127.5 x + 127.5, 0, 255)) (truncation). Latents are drawn from an RNG seeded
   with `seed`, in batches of `batch`, in eval mode (BN running statistics) without a tape, in
   a context of its own. The image geometry is read from the first batch; *out is malloc'd
   (caller frees). */
ng_status ng_gan_generate_u8(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed,
                             unsigned char **out, int *c, int *h, int *w);
/* The same as floats in [-1, 1] (n, C, H, W), into a caller buffer of n C H W floats whose
   geometry the caller knows (e.g. for sample grids). */
ng_status ng_gan_generate(ng_gan_net g, int latent_dim, int64_t n, int batch, uint64_t seed, float *out,
                          int64_t out_numel);
/* Real-image batches for ng_bilevel_* and ng_gan_trainer_* (an ng_real_batch_fn): shuffled
   passes over two index ranges of an image set, split 0 = [0, split_at) and split 1 =
   [split_at, n) (alphaGAN's search: the first half trains the weights, the second half is the
   validation split of the worst-case and architecture steps; by index, not shuffled, as the
   reference). Each split draws batches from a random permutation of its range and reshuffles
   when it is exhausted (SubsetRandomSampler); a pass's last short batch is topped up from the
   next pass. The permutations, cursors and RNG are saved with the state. */
typedef struct ng_image_sampler {
    const ng_image_set *set;
    ng_image_norm norm;
    int64_t begin[2], end[2];   /* split ranges (split 1 empty when split_at == n) */
    int32_t *perm[2];           /* current permutation of each range */
    int64_t cursor[2];          /* next position in perm */
    int64_t *idx;               /* scratch (capacity idx_cap) */
    int idx_cap;
    ng_rng rng;
} ng_image_sampler;
ng_status ng_image_sampler_init(ng_image_sampler *s, const ng_image_set *set, int64_t split_at, ng_image_norm norm,
                                uint64_t seed);
void ng_image_sampler_free(ng_image_sampler *s);
/* ng_real_batch_fn: `user` is the sampler. NULL (ctx status set) for an empty split. */
ng_tensor *ng_image_sampler_batch(ng_ctx *ctx, void *user, int split, int batch);
ng_status ng_image_sampler_put(ng_ckpt *ck, const char *key, const ng_image_sampler *s);
ng_status ng_image_sampler_get(const ng_ckpt *ck, const char *key, ng_image_sampler *s);
/* The image sets of alphaGAN's datasets, pixels (N, C, H, W) uint8:
     "fashion_mnist"  the 60,000 training images padded 28 -> 32 (1 channel); dir NULL: the
                      Debian package's NG_FMNIST_DIR (train-images-idx3-ubyte.gz)
     "cifar10"        the 50,000 training images (data_batch_1..5.bin in dir)
     "stl10"          train + unlabeled (105,000) resized 96 -> 48 with PIL's bilinear filter
   Errors name the file and what was wrong. */
ng_status ng_gan_dataset_load(const char *dataset, const char *dir, ng_image_set *out);
