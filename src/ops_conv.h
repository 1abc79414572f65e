/* ======================================================================================== */
/* @@OPS convolution (NCHW)                                                                 */
/* ======================================================================================== */
/* F.conv2d: w (O, C/groups, kh, kw), b (O) or NULL; square stride and zero padding.
   groups == C == O is depthwise. Output (N, O, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1). */
ng_tensor *ng_conv2d(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */, ng_tensor *w, ng_tensor *b,
                     int stride, int pad, int groups);
/* The same with separate vertical/horizontal stride and padding. */
ng_tensor *ng_conv2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h, int stride_w,
                        int pad_h, int pad_w, int groups);
/* F.conv_transpose2d: w (C, O/groups, kh, kw), b (O) or NULL.
   Output (N, O, (H - 1)s - 2p + kh + output_padding, ...). */
ng_tensor *ng_conv_transpose2d(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride,
                               int pad, int output_padding, int groups);
/* The same with separate vertical/horizontal stride, padding and output padding. */
ng_tensor *ng_conv_transpose2d_ex(ng_ctx *ctx, ng_tensor *x, ng_tensor *w, ng_tensor *b, int stride_h,
                                  int stride_w, int pad_h, int pad_w, int outpad_h, int outpad_w, int groups);
