/* ======================================================================================== */
/* @@NAS  mixed (softmax-weighted) candidate ops                                            */
/* ======================================================================================== */
/* The DARTS mixed op: sum_k softmax(alpha[row, :])_k * xs[k]. alpha is (R, K) (or (K) with
   row 0); every xs[k] has the same shape. Gradients flow to alpha's row and to each xs[k]. */
ng_tensor *ng_mixed(ng_ctx *ctx, ng_tensor *alpha, int row, ng_tensor *const *xs, int k);
