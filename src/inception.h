/* ======================================================================================== */
/* @@INCEPTION  the FID Inception-v3 feature network (inference only, weights from a file)  */
/* ======================================================================================== */
/* The Inception-v3 variant that FID, KID and IS on CIFAR-10/STL-10 are conventionally computed
   with (the TF-FID "2015-12-05" graph as ported by pytorch-fid): a forward-only network with
   no tape, so that users who bring those weights get numbers comparable to papers.

   Architecture (torchvision's Inception-v3 layout and tensor names, with the FID changes):
     input     (N, 3, H, W) in [-1, 1] (grayscale inputs are replicated to 3 channels),
               resized to 299x299 with bilinear interpolation, align_corners = False (no
               antialiasing), as F.interpolate does
     stem      Conv2d_1a_3x3 (s2), Conv2d_2a_3x3, Conv2d_2b_3x3 (p1), max-pool 3/2,
               Conv2d_3b_1x1, Conv2d_4a_3x3, max-pool 3/2
     blocks    Mixed_5b/5c/5d (A), Mixed_6a (B), Mixed_6b..6e (C), Mixed_7a (D),
               Mixed_7b (E_1), Mixed_7c (E_2)
     pool3     global average pool of Mixed_7c: 2048 features
     logits    fc: 2048 -> 1008 (the TF graph's 1008 classes; IS uses all of them)
   Every convolution is "BasicConv2d": conv (no bias) + batch norm (eps 1e-3, running
   statistics) + ReLU; the batch norm is folded into the convolution at load time. The pool
   branches of A, C and E_1 average 3x3 windows (stride 1, padding 1) over the valid pixels
   only (count_include_pad = False); E_2's pool branch is a 3x3 max-pool (stride 1, pad 1).

   WEIGHT FILE: a nasgan checkpoint (format in @@IO) with two records:
     "inception/format"      NG_CKPT_RAW, 8 bytes: "NGIN", u32 version (1)
     "params/inception_fid"  NG_CKPT_PARAMS: every tensor of the network by its PyTorch name
                             (Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.weight, .bn.bias,
                             .bn.running_mean, .bn.running_var, ..., fc.weight, fc.bias), in
                             any order (scripts/convert_inception.py writes the order of
                             ng_inception_tensor_info)
   so the checkpoint layer checks magic, version, CRC-32 and framing. The loader then refuses,
   naming the file and the tensor: a missing, duplicated, unknown or misshaped tensor, a
   non-finite value and a negative running variance. scripts/convert_inception.py converts
   pytorch-fid's pt_inception-2015-12-05-6726825d.pth (see docs/metrics.md).

   Cost: about 5.7 GFLOP per image, nearly all of it in SGEMM (im2col + @@GEMM, activations
   kept channel-major across the batch so 1x1 convolutions need no im2col). Weights take
   95 MB; the forward about 20 MB per image of the batch plus an 8 MB im2col tile (peak RSS
   416 MB at batch 16, weights included; loading peaks at twice the weights). */

#define NG_INCEPTION_FEATURES 2048      /* pool3 */
#define NG_INCEPTION_CLASSES 1008       /* logits */
#define NG_INCEPTION_SIZE 299           /* network input size */
#define NG_INCEPTION_FORMAT_VERSION 1u
#define NG_INCEPTION_GROUP "inception_fid"   /* parameter record: "params/inception_fid" */

typedef struct ng_inception ng_inception;

/* Load a weight file / parse one held in memory (`name` is used in messages). The loaded
   network holds only the folded weights. */
ng_status ng_inception_load(const char *path, ng_inception **out);
ng_status ng_inception_parse(const unsigned char *buf, size_t n, const char *name, ng_inception **out);
void ng_inception_free(ng_inception *net);
/* A network with random weights from `seed` (He-uniform convolutions, batch norms near the
   identity, a small fc layer), built in memory: for speed tests and device parity checks,
   where only the shapes matter. Its features mean nothing. ng_inception_random_params fills
   a group laid out by ng_inception_params_layout and allocated with the same values (to
   write such a weight file with ng_inception_save_params). */
ng_status ng_inception_random(uint64_t seed, ng_inception **out);
void ng_inception_random_params(ng_params *g, uint64_t seed);

/* "inception_fid/pool3_2048/crc32=XXXXXXXX": a CRC-32 of every tensor of the file in the order
   of ng_inception_tensor_info (independent of the file's order), so that statistics computed
   with other weights are refused; "/tf1" is appended under NG_INCEPTION_TF1 (below), so that
   they are not mixed across preprocessings either. cap >= 64. */
void ng_inception_identity(const ng_inception *net, char *buf, size_t cap);

/* How images become the network's 299x299 input:
     NG_INCEPTION_PYTORCH_FID (default)  pytorch-fid's: bilinear resize with align_corners =
         False (source x = (i + 0.5) in / 299 - 0.5, F.interpolate) of the [-1, 1] image.
     NG_INCEPTION_TF1  the TF1 graph's, as TTUR's FID and AlphaGAN/AutoGAN's evaluation code
         compute it and torch-fidelity reproduces it: the [-1, 1] image back in [0, 255]
         (u = 127.5 (x + 1), taken as the integer when within 1e-3 of one, so a uint8 image's
         bytes come back exactly), tf.image.resize_bilinear with align_corners = False and no
         half pixel (source x = i * (in / 299) in float32, each lerp rounded in float32 as TF,
         never fused into a multiply-add), then (r - 128) / 128. For FIDs comparable with TF-evaluated papers; the two differ by
         small amounts (the resize shifts CIFAR images by about half an input pixel).
   The mode is part of the identity; set it before computing statistics. */
enum { NG_INCEPTION_PYTORCH_FID = 0, NG_INCEPTION_TF1 = 1 };
ng_status ng_inception_set_preprocess(ng_inception *net, int mode);
int ng_inception_preprocess_mode(const ng_inception *net);
/* The network input of n images (n, channels, h, w) in [-1, 1]: (3, n, 299, 299), channel-
   major across the batch as the network keeps its activations (grayscale replicated), on
   the CPU, in the given mode. */
void ng_inception_preprocess(int mode, const float *x, int n, int channels, int h, int w, float *out);

/* The file's tensors: count, and the name (truncated to cap - 1 bytes; 64 always suffice)
   and shape of tensor i (NG_ERR_ARG out of range). */
int ng_inception_tensor_count(void);
ng_status ng_inception_tensor_info(int i, char *name, size_t cap, ng_shape *shape);
/* Writing weight files from C (tests, or weights trained elsewhere): add every tensor, in
   ng_inception_tensor_info's order, to an empty group created with
   ng_params_create(NG_INCEPTION_GROUP, 0); allocate and fill it; then serialise or save it
   with the format record. */
ng_status ng_inception_params_layout(ng_params *g);
ng_status ng_inception_serialize_params(const ng_params *g, unsigned char **out, size_t *n);
ng_status ng_inception_save_params(const ng_params *g, const char *path);

/* Where the forwards below run: NG_CUDA uploads the folded weights once (ng_cuda_init first;
   95 MB of device memory) and runs every layer on the GPU, with activations in device memory
   taken in each call's first batch and given back at its end, about 36 MB per image of the
   batch plus a 128 MB im2col tile. It uses exact FP32 products whatever ng_cuda_set_tf32 says, so FID does
   not depend on it. NG_CPU (the default) frees the device copy. Inputs and outputs stay host
   arrays either way. */
ng_status ng_inception_to_device(ng_inception *net, ng_device device);
ng_device ng_inception_device(const ng_inception *net);

/* pool3 features (n, 2048) and/or logits (n, 1008) (either may be NULL) of n images x
   (n, channels, h, w) in [-1, 1], channels 1 or 3, 1 <= h, w <= 4096, in batches of `batch`
   (<= 0: 16 on the CPU, 100 on the GPU). Threads with OpenMP (inside SGEMM and the
   im2col/pool loops). NG_ERR_ARG for non-finite pixels. */
ng_status ng_inception_forward(const ng_inception *net, const float *x, int64_t n, int channels, int h, int w,
                               int batch, float *pool3, float *logits);
/* The same for an image source of 1 or 3 channels (ng_image_source.channels) of any size. */
ng_status ng_inception_embed(const ng_inception *net, const ng_image_source *src, int batch, float *pool3,
                             float *logits);
/* torch-fidelity's "logits_unbiased", pool3 W^T without fc's bias (n, 1008) (host arrays):
   what the TF reference code's Inception Score uses (logits = matmul(pool3, w)), and what
   ng_inception_evaluate's IS is computed from. */
void ng_inception_logits_unbiased(const ng_inception *net, const float *pool3, int64_t n, float *out);
/* Statistics of src's pool3 features tagged with ng_inception_identity (N >= 2). */
ng_status ng_inception_stats(const ng_inception *net, const ng_image_source *src, int batch, ng_feat_stats *out);
/* FID of gen against `real` (refused with NG_ERR_MISMATCH unless computed with this network),
   KID and precision/recall against real_features (n_real_features, 2048) when not NULL, and
   IS from the 1008 unbiased logits (ng_inception_logits_unbiased); options and result as
   ng_fmnist_evaluate (opts->batch <= 0: as above). */
ng_status ng_inception_evaluate(const ng_inception *net, const ng_image_source *gen, const ng_feat_stats *real,
                                const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                                ng_eval_result *out);
