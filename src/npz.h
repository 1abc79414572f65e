/* ======================================================================================== */
/* @@NPZ  numpy .npy / .npz arrays; pytorch-fid / TTUR feature statistics                   */
/* ======================================================================================== */
/* Reads and writes numpy's array files, so that FID statistics move between nasgan and the
   Python tools: pytorch-fid's `--save-stats` and TTUR's precomputed `fid_stats_*.npz` hold the
   keys `mu` (D) and `sigma` (D, D).

   .npy: "\x93NUMPY", format version 1.0, 2.0 or 3.0, a Python dict literal header with exactly
   the keys 'descr', 'fortran_order' and 'shape', then the data. Read: float32 and float64 in
   either byte order ('<f4' '>f4' '<f8' '>f8'), C or Fortran order, up to NG_NPY_MAX_DIMS dims;
   values are returned as doubles in C order. The data must be exactly as long as the shape
   says.
   .npz: a ZIP archive of .npy members (np.savez: stored; np.savez_compressed: deflate), ZIP64
   records included (numpy writes them). Members are found through the central directory; each
   one's CRC-32 is checked. Encrypted or otherwise compressed members are refused.
   Written: format 1.0, '<f8', C order, header padded to 64 bytes as numpy does; stored members
   with fixed timestamps (the same arrays give the same bytes), written atomically. */

#define NG_NPY_MAX_DIMS 8
#ifndef NG_NPZ_MAX_BYTES
#define NG_NPZ_MAX_BYTES ((size_t)0x7fffffff)   /* largest .npz file, and member, read */
#endif

typedef struct ng_npy {
    int ndim;
    int64_t shape[NG_NPY_MAX_DIMS];
    int64_t count;          /* product of the shape (1 for a 0-d array) */
    double *data;           /* (count), C order */
} ng_npy;

/* One .npy file held in memory. `name` only labels errors. On failure *out is zeroed. */
ng_status ng_npy_parse(const unsigned char *buf, size_t n, const char *name, ng_npy *out);
/* The member `key` ("mu" or "mu.npy") of a .npz archive held in memory / in a file. A missing
   key is NG_ERR_FORMAT naming the keys present. */
ng_status ng_npz_parse_member(const unsigned char *buf, size_t n, const char *name, const char *key, ng_npy *out);
ng_status ng_npz_load_member(const char *path, const char *key, ng_npy *out);
void ng_npy_free(ng_npy *a);

/* An .npz archive of `count` float64 arrays named keys[i] (".npy" is appended), atomically. */
ng_status ng_npz_save(const char *path, int count, const char *const *keys, const ng_npy *arrays);

/* Statistics as pytorch-fid / TTUR store them: `mu` (D) and `sigma` (D, D) (np.cov's N-1
   covariance). Saving writes float64. Loading accepts float32 or float64, needs D = expect_d
   unless expect_d is 0, finite values, and uses sigma's lower triangle (mirrored, as the FID
   reads only that). Such files carry neither N nor the feature network: the statistics get
   n = 0 ("unknown") and the identity `net_id` that the caller vouches for, so
   ng_metric_fid accepts them against features of that network. */
ng_status ng_feat_stats_save_npz(const ng_feat_stats *s, const char *path);
ng_status ng_feat_stats_load_npz(ng_feat_stats *s, const char *path, const char *net_id, int64_t expect_d);
