/* ======================================================================================== */
/* @@GANDATA  image datasets for the GAN search (CIFAR-10, STL-10, Fashion-MNIST), PNG grids */
/* ======================================================================================== */
/* An image set in memory: uint8 pixels (N, C, H, W), channel planes row-major (as a tensor). */
typedef struct ng_image_set {
    int64_t n;
    int c, h, w;
    unsigned char *pixels;      /* (N, C, H, W) */
    unsigned char *labels;      /* (N), class 0..9, or NULL */
} ng_image_set;
void ng_image_set_free(ng_image_set *s);   /* frees and zeroes */

/* CIFAR-10 binary version: records of 3,073 bytes (label 0..9, then 1,024 R, 1,024 G, 1,024 B
   bytes, row-major 32x32). The size must be a positive multiple of 3,073; a label above 9 is an
   error naming the record. `name` names the source in messages. */
ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out);
/* train != 0: data_batch_1.bin .. data_batch_5.bin (50,000 images); else test_batch.bin.
   Every file must hold exactly 10,000 records. */
ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out);

/* STL-10 binary: an X file is N x 3 x 96 x 96 uint8 where each channel plane is stored
   COLUMN-major (transposed); parse returns row-major planes. A y file holds one label 1..10
   per image (returned as 0..9); its count must equal the X file's. */
ng_status ng_stl10_parse(const unsigned char *x, size_t nx, const unsigned char *y, size_t ny, const char *name,
                         ng_image_set *out);
/* split: "train" (5,000), "test" (8,000), "unlabeled" (100,000) or "train+unlabeled"
   (105,000, alphaGAN's retraining set); size 96 (as stored) or 48 (PIL bilinear, see below). */
ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out);

/* PIL's Image.resize(..., Image.BILINEAR) for 8-bit planes, bit for bit (Pillow's
   ImagingResample: a triangle filter whose support grows with the downscale factor, so
   downscaling averages; coefficients normalised, then in fixed point with 22 fractional bits;
   horizontal pass, rounding to uint8, then vertical pass). torchvision's Resize on PIL images
   calls it. Planes (C, H, W) -> (C, OH, OW). */
ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh,
                                       int ow);

/* Fashion-MNIST images (IDX, raw or .gz) for the GAN: zero-padded around the centre from 28x28
   to pad_to x pad_to (32 lets the alphaGAN space apply unchanged: pixel 0 is -1 after
   scaling, the background colour), 1 channel, labels NULL. */
ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out);

/* Images idx[0..n) of s as a float tensor (n, C, H, W) in ctx's step arena:
   NG_IMAGE_NORM_PM1: x / 127.5 - 1, the [-1, 1] range of the generator's tanh (default);
   NG_IMAGE_NORM_CIFAR_MEANSTD: (x / 255 - mean_c) / std_c with CIFAR-10's mean (0.4914,
   0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616): the reference search code's quirk (3
   channels only). NULL (ctx status and message set) for an index outside the set. */
typedef enum ng_image_norm { NG_IMAGE_NORM_PM1 = 0, NG_IMAGE_NORM_CIFAR_MEANSTD = 1 } ng_image_norm;
ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm);

/* n images (N, C, H, W) in [-1, 1] as one PNG grid (torchvision's make_grid + save_image):
   nrow images per row, `padding` pixels of black between and around them, 1 channel -> gray,
   3 -> RGB; values quantised as uint8(clamp((x + 1) / 2 * 255 + 0.5, 0, 255)). Encoded with
   stb_image_write (build with NG_USE_STB; otherwise NG_ERR_UNSUPPORTED) and written
   atomically. */
ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow,
                             int padding);
/* The same grid as PNG bytes in memory (*out malloc'd; caller frees). */
ng_status ng_image_grid_png(const float *images, int n, int c, int h, int w, int nrow, int padding,
                            unsigned char **out, size_t *out_n);
