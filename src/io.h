/* ======================================================================================== */
/* @@IO  CRC32, whole-file and atomic I/O, checkpoints                                      */
/* ======================================================================================== */
uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n);   /* IEEE 802.3, start with 0 */
/* Read a whole file (refusing more than max_bytes). *data is malloc'd; caller frees. */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n);
/* Write via "<path>.tmp.<pid>", fsync, rename over path, fsync the directory: a crash never
   leaves a half-written file at `path` nor loses the previous one. */
ng_status ng_file_write_atomic(const char *path, const void *data, size_t n);

/* A checkpoint is a versioned, checksummed set of named binary records. Writers put records
   (parameters with their layout, optimizer states, RNG, counters) and save atomically;
   readers load, verify and fetch records by name. */
typedef struct ng_ckpt ng_ckpt;
ng_ckpt *ng_ckpt_new(void);
void ng_ckpt_free(ng_ckpt *ck);
ng_status ng_ckpt_put(ng_ckpt *ck, const char *key, const void *data, size_t n);
ng_status ng_ckpt_put_i64(ng_ckpt *ck, const char *key, int64_t v);
ng_status ng_ckpt_put_params(ng_ckpt *ck, const ng_params *g);             /* "params/<name>" */
ng_status ng_ckpt_put_adam(ng_ckpt *ck, const char *key, const ng_adam *opt);
ng_status ng_ckpt_put_sgd(ng_ckpt *ck, const char *key, const ng_sgd *opt);
ng_status ng_ckpt_put_ema(ng_ckpt *ck, const char *key, const ng_ema *e);
ng_status ng_ckpt_put_rng(ng_ckpt *ck, const char *key, const ng_rng *r);
ng_status ng_ckpt_save(const ng_ckpt *ck, const char *path);
/* Parse a checkpoint held in memory (`name` is used in messages); the file loader wraps it. */
ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out);
ng_status ng_ckpt_load(const char *path, ng_ckpt **out);
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n);   /* NULL if absent */
ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v);
/* Restore into an allocated group; NG_ERR_MISMATCH naming the tensor if names/shapes differ. */
ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g);
ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt);
ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt);
ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e);
ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *r);
