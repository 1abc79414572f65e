/* ======================================================================================== */
/* @@MODELS  the Fashion-MNIST CNN (classifier and feature network for FID/KID/IS)           */
/* ======================================================================================== */
/* conv3x3(1->32) BN ReLU avgpool2 | conv3x3(32->64) BN ReLU avgpool2 | linear(3136->128) ReLU
   [= the 128-d feature layer] dropout | linear(128->10). Input (N, 1, 28, 28) scaled to
   [-1, 1] (the range GAN generators produce). PyTorch-default initialisation. */
#define NG_FMNIST_FEATURES 128
#define NG_FMNIST_CLASSES 10

typedef struct ng_fmnist_cnn {
    ng_params *weights;     /* trainable */
    ng_params *buffers;     /* BN running statistics */
    ng_tensor *conv1_w, *conv1_b, *bn1_g, *bn1_b, *bn1_mean, *bn1_var;
    ng_tensor *conv2_w, *conv2_b, *bn2_g, *bn2_b, *bn2_mean, *bn2_var;
    ng_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float dropout;          /* 0.3 */
} ng_fmnist_cnn;

ng_fmnist_cnn *ng_fmnist_cnn_create(ng_rng *init_rng);
void ng_fmnist_cnn_free(ng_fmnist_cnn *net);
/* Logits (N, 10); *features (if non-NULL) receives the (N, 128) penultimate activations. */
ng_tensor *ng_fmnist_cnn_forward(ng_ctx *ctx, ng_fmnist_cnn *net, ng_tensor *x /* (N,1,28,28) */,
                                 ng_tensor **features);
/* Weights + running statistics, as a checkpoint file (atomic write). */
ng_status ng_fmnist_cnn_save(const ng_fmnist_cnn *net, const char *path);
ng_status ng_fmnist_cnn_load(ng_fmnist_cnn *net, const char *path);
/* uint8 images (N, 28, 28) -> (N, 1, 28, 28) floats in [-1, 1] in the step arena. */
ng_tensor *ng_images_u8_to_tensor(ng_ctx *ctx, const unsigned char *pixels, int64_t n, int64_t h, int64_t w);
