/* ======================================================================================== */
/* @@GAN_DATA  image sets for the GAN search (CIFAR-10, STL-10, Fashion-MNIST), PNG grids   */
/* ======================================================================================== */
/* Image sets are uint8 (N, C, H, W) planes held in memory; batches are turned into float
   tensors in the step arena on demand (ng_image_set_batch).

   FILE FORMATS (the publishers' binary layouts; docs: /work/shared/docs/data.md)
     CIFAR-10  data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin: 10,000 records of
               3,073 bytes each: 1 label byte (0..9), then 1,024 R, 1,024 G, 1,024 B bytes
               (row-major 32x32 planes).
     STL-10    train_X.bin, test_X.bin, unlabeled_X.bin: N x 3 x 96 x 96 bytes, each channel
               plane stored COLUMN-major (transposed; torchvision transposes it back), and
               train_y.bin, test_y.bin: one byte per image, labels 1..10 (stored here as 0..9).
   The directory loaders also look in the archives' own subdirectory (cifar-10-batches-bin/,
   stl10_binary/) when the files are not directly in `dir`.

   alphaGAN's use (docs: alphagan.md 3.2 and 4)
     search    CIFAR-10 train (50,000) split by index, NOT shuffled: [0, 25000) trains the
               weights, [25000, 50000) is the "valid" queue (worst-case estimate and the
               architecture steps); see ng_image_set_split_half. Batches of 64 drawn at random
               from each part (ng_sample_indices). Normalisation: the reference code's quirk,
               ToTensor + Normalize(CIFAR mean/std) (NG_IMAGE_NORM_CIFAR_MEANSTD).
     retrain   CIFAR-10 train at 32x32, or STL-10 'train+unlabeled' (105,000 images) resized
               96 -> 48 with PIL's bilinear filter; both scaled to [-1, 1] (NG_IMAGE_NORM_PM1).
     Fashion-MNIST: 28x28 zero-padded to 32x32 (pixel 0 = -1 after scaling), 1 channel.

   PNG GRIDS need stb_image_write: build with -DNG_USE_STB and link -lstb (Debian's libstb-dev:
   -I/usr/include/stb; its libstb.so carries the stb_image_write functions, so nasgan.h only
   includes the declarations and never defines STB_IMAGE_WRITE_IMPLEMENTATION). Without it
   ng_save_image_grid returns NG_ERR_UNSUPPORTED. */
#ifndef NG_FMNIST_DIR
#define NG_FMNIST_DIR "/usr/share/datasets/fashion-mnist"   /* Debian's dataset-fashion-mnist */
#endif
#define NG_CIFAR10_RECORD_BYTES 3073            /* 1 label byte + 3 x 32 x 32 pixels */
#define NG_CIFAR10_FILE_RECORDS 10000           /* records in every CIFAR-10 batch file */
#define NG_STL10_IMAGE_BYTES 27648              /* 3 x 96 x 96 */

typedef struct ng_image_set {
    int64_t n;
    int c, h, w;
    unsigned char *pixels;  /* (N, C, H, W) channel planes, row-major; malloc'd */
    unsigned char *labels;  /* (N) class indices 0..9, or NULL (unlabelled sets) */
} ng_image_set;
/* Frees both arrays and zeroes the struct (NULL and zeroed sets are fine). */
void ng_image_set_free(ng_image_set *s);

/* One CIFAR-10 batch file held in memory. Its size must be a positive multiple of 3,073 bytes
   (any number of records is accepted here) and every label must be 0..9; otherwise
   NG_ERR_FORMAT with a message naming `name` and the size or the record index. On failure *out
   is zeroed and nothing needs freeing. */
ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out);
/* train != 0: data_batch_1.bin .. data_batch_5.bin concatenated in that order (50,000
   images); train == 0: test_batch.bin (10,000). Every file must hold exactly 10,000 records;
   a missing file is an error naming it. (3, 32, 32) with labels. */
ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out);

/* One STL-10 X file held in memory (N x 3 x 96 x 96, column-major planes): transposed into
   row-major (N, 3, 96, 96), labels NULL. Size must be a positive multiple of 27,648 bytes. */
ng_status ng_stl10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out);
/* A y file for the images already in *set: exactly set->n bytes, each 1..10; stored in
   set->labels as 0..9 (replacing any labels there). On failure set is unchanged. */
ng_status ng_stl10_parse_labels(const unsigned char *buf, size_t n, const char *name, ng_image_set *set);
/* split "train" (train_X + train_y, 5,000), "test" (test_X + test_y, 8,000), "unlabeled"
   (unlabeled_X, 100,000, labels NULL) or "train+unlabeled" (train then unlabeled, in that
   order as torchvision's STL10, 105,000, labels NULL). size 96 keeps the images, 48 resizes
   each one with ng_image_resize_bilinear_pil (torchvision Resize(48) on the PIL image). The X
   files are streamed one image at a time, so the peak memory is the output set only (the
   unlabeled split at 48x48 is 691 MB; at 96x96, 2.8 GB). */
ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out);

/* PIL's Image.resize((ow, oh), Image.BILINEAR) on uint8 planes (Pillow's ImagingResample,
   bit-exact): a separable triangle filter whose support grows with the downscale factor
   (support = max(1, in/out), so a 2x reduction averages a 4-pixel window: antialiasing),
   coefficients normalised per output pixel then rounded to fixed point with 22 fraction bits
   (PRECISION_BITS = 32 - 8 - 2), horizontal pass first, rounded and clamped to uint8 after
   each pass. src (C, H, W) -> dst (C, OH, OW), each channel independently. Any sizes >= 1,
   up or down. NG_ERR_ARG for sizes < 1 or NULL buffers, NG_ERR_NOMEM if the small
   coefficient tables cannot be allocated. */
ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh, int ow);

/* Fashion-MNIST images for the GAN: an IDX images file (raw or .gz, read by ng_idx_load;
   e.g. NG_FMNIST_DIR "/train-images-idx3-ubyte.gz") of (N, H, W) bytes, zero-padded to
   pad_to x pad_to and centred (left/top padding (pad_to - W) / 2, the rest right/bottom),
   c = 1, labels NULL. pad_to = 32 for the alphaGAN space (bottom width 4); pad_to must be at
   least H and W (pad_to == H == W keeps the images as they are). */
ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out);

typedef enum ng_image_norm {
    NG_IMAGE_NORM_PM1 = 0,           /* x / 127.5 - 1: [-1, 1], what tanh generators produce (default) */
    NG_IMAGE_NORM_CIFAR_MEANSTD = 1  /* (x / 255 - mean[c]) / std[c], mean (0.4914, 0.4822, 0.4465),
                                        std (0.2470, 0.2435, 0.2616): alphaGAN's search-time quirk; C = 3 only */
} ng_image_norm;
/* Images idx[0..n) of s as an (n, C, H, W) float tensor in ctx's step arena (no gradient).
   NULL with ctx's status set (NG_ERR_ARG, message in ng_last_error) for an index outside
   [0, s->n), n < 1, an unknown norm or NG_IMAGE_NORM_CIFAR_MEANSTD with C != 3; NULL with
   NG_ERR_NOMEM when the arena is full. */
ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm);

/* alphaGAN's search split (search.py: split = floor(0.5 * num_train)): *first_len = n / 2.
   Images [0, first_len) train the weights, [first_len, n) form the validation queue; by
   index, never shuffled (50,000 -> 25,000 + 25,000). */
void ng_image_set_split_half(int64_t n, int64_t *first_len);
/* n indices drawn uniformly WITH replacement from [begin, end) (end > begin). alphaGAN draws
   from a SubsetRandomSampler (a permutation per pass, i.e. without replacement within an
   epoch); with 25,000 images and batches of 64 the two differ negligibly. Callers who want
   epochs can shuffle an index array with ng_rng_below instead. */
void ng_sample_indices(ng_rng *r, int64_t begin, int64_t end, int n, int64_t *out);

/* Save n images (N, C, H, W) with values in [-1, 1] as one PNG, torchvision's
   save_image(make_grid(x, nrow, padding), normalize=True, value_range=(-1, 1)):
   ncol = min(nrow, n) images per row, nrows = ceil(n / ncol) rows, `padding` pixels of value 0
   between and around the images, so the PNG is ncol * (W + padding) + padding wide and
   nrows * (H + padding) + padding high; as in make_grid a single image (n == 1) is saved
   without any padding. Quantisation as torchvision: u8 = clamp((x + 1) / 2 * 255 + 0.5, 0, 255)
   truncated (NaN -> 0). C = 1 gives a grayscale PNG (torchvision repeats it into RGB; the
   pixel values are the same), C = 3 an RGB PNG. Written with ng_file_write_atomic.
   NG_ERR_ARG for bad sizes (C not 1 or 3, n, H, W, nrow < 1, padding < 0, a grid over 2^30
   pixels); NG_ERR_UNSUPPORTED when built without NG_USE_STB. */
ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow, int padding);
