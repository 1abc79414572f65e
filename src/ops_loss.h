/* ======================================================================================== */
/* @@OPS losses (each returns a 0-d scalar, mean reduction as PyTorch's default)             */
/* ======================================================================================== */
/* F.cross_entropy(logits, labels): labels are class indices in [0, K). */
ng_tensor *ng_cross_entropy(ng_ctx *ctx, ng_tensor *logits /* (N, K) */, const int32_t *labels /* (N) */);
/* GAN hinge losses: D: mean(relu(1 - real)) + mean(relu(1 + fake)); G: -mean(fake). */
ng_tensor *ng_hinge_loss_d(ng_ctx *ctx, ng_tensor *d_real, ng_tensor *d_fake);
ng_tensor *ng_hinge_loss_g(ng_ctx *ctx, ng_tensor *d_fake);
/* The three hinge terms as one op: mode 0 mean(relu(1 - x)), 1 mean(relu(1 + x)), 2 -mean(x). */
ng_tensor *ng_hinge(ng_ctx *ctx, ng_tensor *x, int mode);
/* F.binary_cross_entropy_with_logits(x, target), mean; target gets no gradient. */
ng_tensor *ng_bce_with_logits(ng_ctx *ctx, ng_tensor *x, const ng_tensor *target);
