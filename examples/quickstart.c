/* The smallest complete nasgan program: a two-layer MLP learns a 3-arm spiral.
   Shows parameter groups, the step arena, the tape, Adam and a checkpoint, on the CPU or
   (built by `make cuda`) the GPU: the same code, with the parameters and the arena on the
   device and host copies only where the host reads.

     make build/quickstart && ./build/quickstart
     make cuda && ./build/cuda/quickstart --device cuda */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <math.h>
#include <string.h>

#define POINTS 300
#define HIDDEN 64

int main(int argc, char **argv) {
    ng_device dev = argc == 3 && !strcmp(argv[1], "--device") && !strcmp(argv[2], "cuda") ? NG_CUDA : NG_CPU;
    ng_rng rng;
    ng_params *w = ng_params_create("mlp", 1);
    ng_tensor *w1 = ng_params_add(w, "fc1.weight", ng_shape2(HIDDEN, 2));
    ng_tensor *b1 = ng_params_add(w, "fc1.bias", ng_shape1(HIDDEN));
    ng_tensor *w2 = ng_params_add(w, "fc2.weight", ng_shape2(3, HIDDEN));
    ng_tensor *b2 = ng_params_add(w, "fc2.bias", ng_shape1(3));
    ng_ctx *ctx;
    ng_adam opt;
    float xy[POINTS * 2];
    int32_t label[POINTS];
    int i, step;

    if (argc > 1 && !(argc == 3 && !strcmp(argv[1], "--device") && (dev == NG_CUDA || !strcmp(argv[2], "cpu")))) {
        fprintf(stderr, "usage: quickstart [--device cpu|cuda]\n");
        return 2;
    }
    if (dev == NG_CUDA && ng_cuda_init(0) != NG_OK) { fprintf(stderr, "--device cuda: %s\n", ng_last_error()); return 1; }
    ctx = ng_ctx_create_on((size_t)16 << 20, 1, dev);
    if (!b2 || ng_params_alloc(w) != NG_OK || !ctx) { fprintf(stderr, "setup: %s\n", ng_last_error()); return 1; }
    ng_rng_seed(&rng, 7);
    ng_init_kaiming_uniform_default(w1, &rng); ng_init_bias_default(b1, w1, &rng);
    ng_init_kaiming_uniform_default(w2, &rng); ng_init_bias_default(b2, w2, &rng);
    for (i = 0; i < POINTS; i++) { /* spiral arms with a little noise */
        int arm = i % 3;
        float r = (float)(i / 3) / (POINTS / 3), t = 4.0f * r + 2.094f * (float)arm + 0.2f * (float)ng_rng_normal(&rng);
        xy[2 * i] = r * sinf(t);
        xy[2 * i + 1] = r * cosf(t);
        label[i] = arm;
    }
    if (ng_params_to_device(w, dev) != NG_OK) { fprintf(stderr, "to device: %s\n", ng_last_error()); return 1; }
    ng_adam_init(&opt, w, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);   /* its state lives with the group */
    for (step = 0; step <= 2000; step++) {
        ng_tensor *x, *logits, *loss;
        ng_ctx_reset(ctx);                 /* forget last step's activations and tape */
        ng_ctx_grad_for(ctx, &w, 1);       /* gradients flow into this group only */
        x = ng_tensor_from(ctx, ng_shape2(POINTS, 2), xy);
        logits = ng_linear(ctx, ng_relu(ctx, ng_linear(ctx, x, w1, b1)), w2, b2);
        loss = ng_cross_entropy(ctx, logits, label);
        if (!loss || ng_backward(ctx, loss) != NG_OK) { fprintf(stderr, "step: %s\n", ng_last_error()); return 1; }
        ng_adam_step(&opt);
        ng_params_zero_grad(w);
        if (step % 500 == 0) {
            const float *lg = ng_tensor_host_read(ctx, logits);   /* logits->data on the CPU */
            int correct = 0, k, best;
            for (i = 0; lg && i < POINTS; i++) {
                for (best = 0, k = 1; k < 3; k++) if (lg[3 * i + k] > lg[3 * i + best]) best = k;
                correct += best == label[i];
            }
            printf("step %4d  loss %.4f  accuracy %.1f%%\n", step, ng_tensor_item(loss), 100.0 * correct / POINTS);
        }
    }
    {   /* save the weights and the optimizer state: versioned, checksummed, atomic */
        ng_ckpt *ck = ng_ckpt_new();
        if (ng_ckpt_put_params(ck, w) || ng_ckpt_put_adam(ck, "adam", &opt) || ng_ckpt_save(ck, "quickstart.ckpt"))
            fprintf(stderr, "save: %s\n", ng_last_error());
        else printf("saved quickstart.ckpt\n");
        ng_ckpt_free(ck);
    }
    ng_adam_free(&opt);
    ng_params_free(w);
    ng_ctx_free(ctx);
    return 0;
}
