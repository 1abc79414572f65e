/* ======================================================================================== */
/* @@OPS batch norm and spectral norm                                                        */
/* ======================================================================================== */
/* nn.BatchNorm2d / BatchNorm1d semantics over every dimension but 1 (x is (N, C) or
   (N, C, H, W)). Training (ctx->training): normalise with the biased batch variance and, when
   running_mean/running_var are given, update them in place with `momentum` using the UNBIASED
   variance. Eval: normalise with the running statistics; with none given (PyTorch's
   track_running_stats=False) batch statistics are used in eval too. gamma/beta NULL means
   affine=False. PyTorch defaults: momentum 0.1, eps 1e-5. Whenever batch statistics are used,
   N * H * W must be at least 2: otherwise (as PyTorch's "Expected more than 1 value per
   channel") the op fails with NG_ERR_ARG, returns NULL and leaves the running stats untouched.
   Gradients: x, gamma and beta, through the batch statistics in training (running statistics
   are constants in eval). */
ng_tensor *ng_batch_norm(ng_ctx *ctx, ng_tensor *x, ng_tensor *gamma /* (C) */, ng_tensor *beta /* (C) */,
                         ng_tensor *running_mean /* (C) */, ng_tensor *running_var /* (C) */,
                         float momentum, float eps);
/* torch.nn.utils.spectral_norm with n_power_iterations=1: w viewed as (O, I) with O = w's first
   dimension. Training: v <- normalize(W^T u), u <- normalize(W v) updated in place (no gradient),
   then sigma = u^T W v; eval: sigma from the stored u and v. Returns w / sigma, differentiable
   in w with u and v held constant (as PyTorch). eps 1e-12 guards the normalisations. */
ng_tensor *ng_spectral_norm(ng_ctx *ctx, ng_tensor *w, ng_tensor *u /* (O) */, ng_tensor *v /* (I) */, float eps);
/* PyTorch's initial u and v: N(0, 1) draws, each normalised (x / max(||x||, eps)). */
void ng_spectral_norm_init(ng_tensor *u /* (O) */, ng_tensor *v /* (I) */, ng_rng *r, float eps);
