/* ======================================================================================== */
/* @@OPS dense: products, elementwise arithmetic, reductions, shape ops                      */
/* ======================================================================================== */
/* All ops record themselves on the context's tape when an input needs a gradient, and return
   NULL if an input is NULL or the context has failed (see ERRORS at the top). */

ng_tensor *ng_matmul(ng_ctx *ctx, ng_tensor *a /* (M, K) */, ng_tensor *b /* (K, N) */);
/* y = x W^T + b, as torch.nn.functional.linear. b may be NULL. */
ng_tensor *ng_linear(ng_ctx *ctx, ng_tensor *x /* (N, I) */, ng_tensor *w /* (O, I) */, ng_tensor *b /* (O) */);
/* Elementwise with NumPy/PyTorch broadcasting (shapes aligned at the trailing dimension). */
ng_tensor *ng_add(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_sub(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_mul(ng_ctx *ctx, ng_tensor *a, ng_tensor *b);
ng_tensor *ng_scale(ng_ctx *ctx, ng_tensor *a, float s);        /* s * a */
ng_tensor *ng_add_scalar(ng_ctx *ctx, ng_tensor *a, float s);   /* a + s */
/* Reduce over the dimensions whose bit is set in axes (bit i = dimension i). keepdim keeps
   them as size 1; otherwise they are removed (reducing everything gives a 0-d scalar). */
ng_tensor *ng_sum(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim);
ng_tensor *ng_mean(ng_ctx *ctx, ng_tensor *a, unsigned axes, int keepdim);
#define NG_ALL_AXES 0xFu
/* Same elements, new shape (numel must match). Shares no memory with the input. */
ng_tensor *ng_reshape(ng_ctx *ctx, ng_tensor *a, ng_shape shape);
ng_tensor *ng_concat(ng_ctx *ctx, ng_tensor *const *xs, int n, int axis);
ng_tensor *ng_slice(ng_ctx *ctx, ng_tensor *a, int axis, int64_t start, int64_t len);
