/* ======================================================================================== */
/* @@OPTABLE  one row per op: name, CPU forward and backward (CUDA columns join with          */
/*            nasgan_cuda.cu)                                                               */
/* ======================================================================================== */
typedef struct ng__op_info {
    const char *name;
    void (*forward_cpu)(ng_node *n);
    void (*backward_cpu)(ng_node *n);
    void (*forward_cuda)(ng_node *n);   /* filled by ng_cuda_register (nasgan_cuda.cu); NULL: */
    void (*backward_cuda)(ng_node *n);  /* the op has no kernel and is refused on the device */
} ng__op_info;

static ng__op_info ng__op_table[] = {
#define NG__ROW(E, f) {#f, ng__fw_##f, ng__bw_##f, NULL, NULL},
    NG_OP_LIST(NG__ROW)
#undef NG__ROW
};
typedef char ng__op_table_size_check[(sizeof ng__op_table / sizeof ng__op_table[0] == NG_OP_COUNT) ? 1 : -1];

const char *ng_op_name(int op) { return op >= 0 && op < NG_OP_COUNT ? ng__op_table[op].name : "?"; }
static void ng__optable_set_cuda(int op, void (*fw)(ng_node *), void (*bw)(ng_node *)) {
    ng__op_table[op].forward_cuda = fw;
    ng__op_table[op].backward_cuda = bw;
}
int ng__optable_has_cuda(int op, int backward) {
    return op >= 0 && op < NG_OP_COUNT && (backward ? ng__op_table[op].backward_cuda : ng__op_table[op].forward_cuda) != NULL;
}
/* Device tensors run the CUDA column; mixed devices and missing kernels are refused. */
static int ng__dispatch_device_ok(ng_node *n, int backward) {
    int k;
    for (k = 0; k < n->n_in; k++)
        if (n->in[k]->device != n->out->device) {
            if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
            ng_fail(NG_ERR_UNSUPPORTED, "%s: input %d is on the %s but the output is on the %s (copy explicitly)",
                    ng__op_table[n->op].name, k, n->in[k]->device == NG_CUDA ? "GPU" : "CPU", n->out->device == NG_CUDA ? "GPU" : "CPU");
            return 0;
        }
    if (n->out->device == NG_CUDA && !(backward ? ng__op_table[n->op].backward_cuda : ng__op_table[n->op].forward_cuda)) {
        if (n->ctx->status == NG_OK) n->ctx->status = NG_ERR_UNSUPPORTED;
        ng_fail(NG_ERR_UNSUPPORTED, "%s: no CUDA %s kernel (run this op on the CPU)", ng__op_table[n->op].name, backward ? "backward" : "forward");
        return 0;
    }
    return 1;
}
static void ng__dispatch_forward(ng_node *n) {
    if (!ng__dispatch_device_ok(n, 0)) return;
    if (n->out->device == NG_CUDA) ng__op_table[n->op].forward_cuda(n);
    else ng__op_table[n->op].forward_cpu(n);
}
static void ng__dispatch_backward(ng_node *n) {
    if (!ng__dispatch_device_ok(n, 1)) return;
    if (n->out->device == NG_CUDA) ng__op_table[n->op].backward_cuda(n);
    else ng__op_table[n->op].backward_cpu(n);
}
