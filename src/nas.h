/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */
/* The DARTS mixed op: sum_k softmax(alpha[row, :])_k * xs[k]. alpha is (R, K) (or (K) with
   row 0); every xs[k] has the same shape; 1 <= k <= 31. Gradients flow to alpha's row and to
   each xs[k] (alpha's gradient is 0 when k == 1). One blocked pass reads each candidate once;
   the alpha reduction is summed in double in a fixed block order (thread-count independent). */
ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k);
