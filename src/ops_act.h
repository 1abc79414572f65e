/* ======================================================================================== */
/* @@OPS activations, softmax, dropout                                                      */
/* ======================================================================================== */
ng_tensor *ng_relu(ng_ctx *ctx, ng_tensor *x);
ng_tensor *ng_leaky_relu(ng_ctx *ctx, ng_tensor *x, float slope);  /* PyTorch default 0.01 */
ng_tensor *ng_tanh(ng_ctx *ctx, ng_tensor *x);
ng_tensor *ng_sigmoid(ng_ctx *ctx, ng_tensor *x);
/* Softmax / log-softmax along one axis (use x->shape.ndim - 1 for the last). */
ng_tensor *ng_softmax(ng_ctx *ctx, ng_tensor *x, int axis);
ng_tensor *ng_log_softmax(ng_ctx *ctx, ng_tensor *x, int axis);
/* Inverted dropout: in training zero each element with probability p and scale the rest by
   1/(1-p) (mask from ctx->rng); identity when not training or p == 0. */
ng_tensor *ng_dropout(ng_ctx *ctx, ng_tensor *x, float p);
