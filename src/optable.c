/* ======================================================================================== */
/* @@OPTABLE  one row per op: name, CPU forward and backward (CUDA columns join with          */
/*            nasgan_cuda.cu)                                                               */
/* ======================================================================================== */
typedef struct ng__op_info {
    const char *name;
    void (*forward_cpu)(ng_node *n);
    void (*backward_cpu)(ng_node *n);
} ng__op_info;

static const ng__op_info ng__op_table[] = {
#define NG__ROW(E, f) {#f, ng__fw_##f, ng__bw_##f},
    NG_OP_LIST(NG__ROW)
#undef NG__ROW
};
typedef char ng__op_table_size_check[(sizeof ng__op_table / sizeof ng__op_table[0] == NG_OP_COUNT) ? 1 : -1];

const char *ng_op_name(int op) { return op >= 0 && op < NG_OP_COUNT ? ng__op_table[op].name : "?"; }
static void ng__dispatch_forward(ng_node *n) { ng__op_table[n->op].forward_cpu(n); }
static void ng__dispatch_backward(ng_node *n) { ng__op_table[n->op].backward_cpu(n); }
