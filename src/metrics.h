/* ======================================================================================== */
/* @@METRICS  feature statistics, FID, KID, IS, offline evaluation                          */
/* ======================================================================================== */
/* GAN sample-quality metrics computed on plain feature matrices, so that any feature network
   can feed them, plus a convenience layer that uses the Fashion-MNIST CNN of @@MODELS.

   !! The FMNIST numbers live in the feature space of nasgan's own Fashion-MNIST classifier
   !! (128-d penultimate layer, 10 classes). They are NOT comparable to the Inception-v3 FID,
   !! KID or Inception Score of papers, nor across differently trained classifiers: always
   !! report them with the network identity (ng_fmnist_cnn_identity) and N, e.g.
   !! "FD_fmnistcnn = 3.2 (N=10000 vs train stats)".

   Definitions (as in bioinf-jku/TTUR and toshas/torch-fidelity; docs/ecosystem.md 4(b)):
     statistics  mu = mean of the rows, S = unbiased (N-1) covariance, both in double.
     FID         |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr((S1 S2)^1/2), where
                 Tr((S1 S2)^1/2) = sum_i sqrt(max(lambda_i(M), 0)), M = S1^1/2 S2 S1^1/2, and
                 S1^1/2 = V diag(sqrt(max(lambda, 0))) V^T from the symmetric eigensolver.
                 Real arithmetic throughout: no complex parts, no NaN, also for singular
                 covariances (N <= D). Results a rounding error below 0 are returned as 0.
     KID         unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3 (torch-fidelity's "unbiased"
                 estimator: the within-set sums drop the diagonal, the cross sum keeps it),
                     (sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)) / (m (m-1))
                       - 2 sum_{i,j} k(x_i, y_j) / m^2,
                 averaged over `subsets` random subsets of m rows drawn without replacement
                 from each side; mean and population std (numpy's np.std) over the subsets.
                 Can be slightly negative when the distributions are close.
     IS          exp(mean_x KL(p(y|x) || p(y))) on each of `splits` consecutive chunks
                 [i N / splits, (i+1) N / splits) (p(y) = mean of p(y|x) over the chunk);
                 mean and population std over the chunks (Salimans et al.; torch-fidelity).
                 From logits, log p is taken as log_softmax in double as torch-fidelity does;
                 from probabilities, 0 log 0 = 0.
     P/R         improved precision and recall (Kynkaanniemi et al. 2019; torch-fidelity's
                 calculate_precision_recall_part, k = 3): each row a of a set A gets the radius
                 r(a) = distance to its k-th nearest other row of A (cdist(A, A).kthvalue(k + 1),
                 self included at distance 0; duplicate rows count as neighbours). b lies in A's
                 manifold when |b - a| <= r(a) for some a in A. precision = fraction of generated
                 rows in the real manifold, recall = fraction of real rows in the generated one.

   Cost (measured figures in docs/metrics.md): FID is O(D^3) (one eigendecomposition with
   vectors, two matrix products, one without vectors); KID is O(subsets m^2 D); statistics
   are O(N D^2); precision/recall is O(N^2 D) (2 N^2 D multiply-adds, no N x N matrix held). */

/* ---- feature statistics ---- */
#define NG_FEAT_ID_MAX 128
typedef struct ng_feat_stats {
    int64_t n;              /* samples accumulated */
    int64_t d;              /* feature size D */
    double *mean;           /* (D) */
    double *cov;            /* (D, D) full symmetric unbiased covariance once finished; while
                               accumulating it holds the lower triangle of the sum of squared
                               deviations */
    int finished;           /* 1 after ng_feat_stats_finish (or load): no more rows */
    char net_id[NG_FEAT_ID_MAX];  /* identity of the feature network (free text, "" = unknown) */
} ng_feat_stats;

/* Streaming accumulation: init, add rows in any number of batches, finish (needs N >= 2).
   Each batch is centred on its own mean (two passes) and merged with Chan et al.'s update,
   all in double, so the result does not depend on the feature's offset and barely on the
   batching. net_id is truncated to NG_FEAT_ID_MAX - 1 bytes. */
ng_status ng_feat_stats_init(ng_feat_stats *s, int64_t d, const char *net_id);
ng_status ng_feat_stats_add(ng_feat_stats *s, const float *x /* (N, D) */, int64_t n);
ng_status ng_feat_stats_finish(ng_feat_stats *s);
/* init + add + finish. */
ng_status ng_feat_stats_compute(ng_feat_stats *s, const float *x /* (N, D) */, int64_t n, int64_t d,
                                const char *net_id);
void ng_feat_stats_free(ng_feat_stats *s);   /* frees the arrays and zeroes the struct */

/* Finished statistics as one checkpoint record (kind NG_CKPT_RAW) under `key`. Payload,
   little-endian: "NGFS", u32 version 1, u32 id length, id bytes, i64 N, u64 D, D f64 mean,
   D (D + 1) / 2 f64 covariance lower triangle row by row (f64 = IEEE binary64 bits as u64). */
ng_status ng_ckpt_put_feat_stats(ng_ckpt *ck, const char *key, const ng_feat_stats *s);
/* Refuses (NG_ERR_MISMATCH, naming both) statistics whose network identity differs from
   expect_net_id (unless NULL) or whose N differs from expect_n (unless 0); NG_ERR_FORMAT for
   a malformed record. *s must be zeroed or freed; it is filled only on success. */
ng_status ng_ckpt_get_feat_stats(const ng_ckpt *ck, const char *key, ng_feat_stats *s,
                                 const char *expect_net_id, int64_t expect_n);
/* A checkpoint file holding one record "feat_stats" (atomic write), and its loader. */
ng_status ng_feat_stats_save(const ng_feat_stats *s, const char *path);
ng_status ng_feat_stats_load(ng_feat_stats *s, const char *path, const char *expect_net_id, int64_t expect_n);

/* ---- FID ---- */
/* From means (D) and full symmetric covariances (D, D) (only lower triangles are read). */
ng_status ng_metric_fid_moments(int64_t d, const double *mu1, const double *cov1, const double *mu2,
                                const double *cov2, double *fid);
/* From finished statistics; NG_ERR_MISMATCH when D or the network identities differ. */
ng_status ng_metric_fid(const ng_feat_stats *a, const ng_feat_stats *b, double *fid);

/* ---- KID ---- */
/* Unbiased MMD^2 between x (M, D) and y (M, D) with the cubic kernel (M >= 2). */
ng_status ng_metric_mmd2_poly(const float *x, const float *y, int64_t m, int64_t d, double *mmd2);
/* KID over `subsets` (<= 0: 100) subsets of `subset_size` (<= 0: 1000; clipped to min(nx, ny))
   rows of x (nx, D) and of y (ny, D), drawn without replacement with `rng`. NG_ERR_ARG if
   fewer than 2 rows on a side. */
ng_status ng_metric_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                        int subset_size, ng_rng *rng, double *mean, double *std);
/* The same with given subsets: row indices idx_x (subsets, m) into x and idx_y into y. */
ng_status ng_metric_kid_indexed(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d,
                                int subsets, int64_t m, const int64_t *idx_x, const int64_t *idx_y,
                                double *mean, double *std);

/* ---- Inception-Score analogue ---- */
/* Class probabilities p (N, K) (rows sum to 1) or logits (N, K); splits <= 0: 10 (needs
   splits <= N). shuffle: NULL keeps the row order (the original code); an RNG permutes the
   rows first (torch-fidelity shuffles with its seed). */
ng_status ng_metric_is(const float *p, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean,
                       double *std);
ng_status ng_metric_is_logits(const float *logits, int64_t n, int64_t k, int splits, ng_rng *shuffle,
                              double *mean, double *std);

/* ---- precision / recall ---- */
/* Precision of gen (n_gen, D) against real (n_real, D) and recall, with k nearest neighbours
   (k <= 0: 3). Refuses (NG_ERR_ARG) NULL pointers, D < 1, k >= n on either side (a radius
   needs k other rows) and non-finite features. Squared distances come from SGEMM in blocks of
   rows (|x|^2 + |y|^2 - 2 x.y after centring both sets on their common mean; extra memory
   about 4 (n_real + n_gen) D bytes + 2 MB per 1000 rows of the larger set). A squared
   distance is off by about sqrt(D) 2^-24 times the rows' squared norms about that mean; below
   that, rows are not told apart. The results are counts / n, the same for any thread count. */
ng_status ng_metric_prc(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d, int k,
                        double *precision, double *recall);

/* ---- offline evaluation with the Fashion-MNIST CNN (see the warning at the top) ---- */
/* Images to evaluate, produced on demand: fill() writes images [first, first + count) as
   (count, C, size, size) floats in [-1, 1], C = channels (0 means 1). For the Fashion-MNIST
   CNN, C is 1 and size is 28 or larger with size - 28 even (a 32x32 generator's output is
   centre-cropped to 28x28); the Inception network (@@INCEPTION) takes C = 1 or 3, any size.
   `channels` was added last so that brace initialisers {fill, user, n, size} written before
   it still mean grayscale; code that sets the fields one by one must set it too. */
typedef struct ng_image_source ng_image_source;
struct ng_image_source {
    ng_status (*fill)(const ng_image_source *src, int64_t first, int64_t count, float *out);
    void *user;
    int64_t n;              /* number of images */
    int size;               /* H = W */
    int channels;           /* 0 or 1: grayscale; 3: RGB planes */
};
/* A source over uint8 images (N, size, size), mapped to [-1, 1] as ng_images_u8_to_tensor. */
ng_image_source ng_image_source_u8(const unsigned char *pixels, int64_t n, int size);
/* The same over (N, channels, size, size) channel planes (ng_image_set's layout). */
ng_image_source ng_image_source_u8_planes(const unsigned char *pixels, int64_t n, int channels, int size);

/* "fmnist_cnn/fc1_relu128/crc32=XXXXXXXX": the layer and a CRC-32 of every weight and
   running statistic, so statistics from another training run are refused. cap >= 64. */
void ng_fmnist_cnn_identity(const ng_fmnist_cnn *net, char *buf, size_t cap);
/* Features (N, 128) and/or logits (N, 10) (either may be NULL) of every image of src, in
   batches of `batch` (<= 0: 256), in eval mode with no tape (BN running statistics, no
   dropout), in a context of its own. */
ng_status ng_fmnist_cnn_embed(ng_fmnist_cnn *net, const ng_image_source *src, int batch, float *features,
                              float *logits);
/* Statistics of src's features, tagged with the network's identity (e.g. of the real data,
   computed once and saved with ng_feat_stats_save). */
ng_status ng_fmnist_stats(ng_fmnist_cnn *net, const ng_image_source *src, int batch, ng_feat_stats *out);

typedef struct ng_eval_opts {
    int batch;              /* CNN batch (<= 0: 256) */
    int kid_subsets;        /* <= 0: 100 */
    int kid_subset_size;    /* <= 0: 1000, clipped to the smaller sample */
    int is_splits;          /* <= 0: 10 */
    int is_shuffle;         /* 1: permute before splitting (torch-fidelity), 0: in order */
    uint64_t seed;          /* RNG of the KID subsets and the IS permutation */
    int prc_k;              /* precision/recall neighbours: 0 = 3, < 0 = off */
} ng_eval_opts;
typedef struct ng_eval_result {
    int64_t n;              /* generated images evaluated */
    int64_t n_real;         /* N of the real statistics */
    double fid;
    int has_kid;            /* 1 when real features were given */
    double kid_mean, kid_std;
    double is_mean, is_std;
    int has_prc;            /* 1 when precision/recall were computed */
    double precision, recall;
} ng_eval_result;
/* FID of gen against `real` (statistics of real images from this network; refused with
   NG_ERR_MISMATCH if their identity differs), KID and precision/recall against real_features
   (n_real, 128) when not NULL, and the IS analogue of gen's class probabilities. opts NULL:
   defaults. Precision/recall is skipped (has_prc = 0) when opts->prc_k < 0 or either side has
   no more than k rows. */
ng_status ng_fmnist_evaluate(ng_fmnist_cnn *net, const ng_image_source *gen, const ng_feat_stats *real,
                             const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                             ng_eval_result *out);
