/* ======================================================================================== */
/* @@OPS resampling and pooling (NCHW)                                                      */
/* ======================================================================================== */
/* F.interpolate(scale_factor=2, mode='nearest') and mode='bilinear', align_corners=False. */
ng_tensor *ng_upsample_nearest2x(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
ng_tensor *ng_upsample_bilinear2x(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
/* F.avg_pool2d(x, 2): kernel 2, stride 2, odd trailing row/column dropped. */
ng_tensor *ng_avg_pool2d(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
/* x.sum(dim=(2, 3)) -> (N, C) */
ng_tensor *ng_sum_hw(ng_ctx *ctx, ng_tensor *x /* (N, C, H, W) */);
