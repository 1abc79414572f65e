/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */
/* The DARTS mixed op: sum_k softmax(alpha[row, :])_k * xs[k]. alpha is (R, K) (or (K) with
   row 0); every xs[k] has the same shape; 1 <= k <= 31. Gradients flow to alpha's row and to
   each xs[k] (alpha's gradient is 0 when k == 1). One blocked pass reads each candidate once;
   the alpha reduction is summed in double in a fixed block order (thread-count independent). */
ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k);
/* Part of a mixed op: y = sum_j w_j pad(xs[j]) with w_j = softmax(alpha[row, :])[cols[j]]
   (the softmax over the WHOLE row of K), or w_j = 1 where cols[j] < 0 (a term added as it is,
   no alpha gradient). Each xs[j] has y's shape `out`, or (for 4-d tensors) the same first two
   dimensions and a smaller spatial size that is zero-padded around the centre (kernels
   (O, C, k, k) into (O, C, kmax, kmax); kmax - k even). Distinct columns, 1 <= n <= 7. Calls
   over disjoint column sets of one row add up to ng_mixed of the full row, and their alpha
   gradients add up to its gradient. The algebra of a search space in one op: a softmax-
   weighted sum of convolutions reading the same input is one convolution with the
   softmax-weighted (padded) kernel. */
ng_tensor *ng_mixed_cols(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, const int *cols, int n, ng_shape out);
