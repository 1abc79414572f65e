/* ======================================================================================== */
/* @@OPS convolution (placeholder: being written)                                           */
/* ======================================================================================== */
#define NG__TODO(f) static void ng__fw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); } \
                    static void ng__bw_##f(ng_node *n) { (void)n; NG_ASSERT(!"not implemented: " #f); }
NG__TODO(conv2d) NG__TODO(conv_transpose2d) NG__TODO(upsample) NG__TODO(avg_pool2)  NG__TODO(sum_hw)
