/* ======================================================================================== */
/* @@TEXTNAS  the TextNAS text-representation search space                                  */
/* ======================================================================================== */
/* docs: /work/shared/docs/textnas.md section 1. One architecture = per layer i (0-based):
     input[i]  the layer whose output layer i reads: -1 for layer 0 (init_conv's output),
               else one of [max(0, i - 5), i - 1]
     op[i]     0..7 in the spec's index order (NG_TEXTNAS_CONV1 ... NG_TEXTNAS_ATTENTION)
     skip[i]   bit j set (j < i): layer j's output is summed in (any subset of 0..i-1) */
#define NG_TEXTNAS_MAX_LAYERS 32
#define NG_TEXTNAS_N_OPS 8
#define NG_TEXTNAS_CHOOSE_FROM 5
enum { NG_TEXTNAS_CONV1 = 0, NG_TEXTNAS_CONV3, NG_TEXTNAS_CONV5, NG_TEXTNAS_CONV7,
       NG_TEXTNAS_AVG_POOL, NG_TEXTNAS_MAX_POOL, NG_TEXTNAS_RNN, NG_TEXTNAS_ATTENTION };

typedef struct ng_textnas_arch {
    int n_layers;                            /* 24 in TextNAS; 1..NG_TEXTNAS_MAX_LAYERS */
    int input[NG_TEXTNAS_MAX_LAYERS];
    int op[NG_TEXTNAS_MAX_LAYERS];
    uint32_t skip[NG_TEXTNAS_MAX_LAYERS];
} ng_textnas_arch;
