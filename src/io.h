/* ======================================================================================== */
/* @@IO  CRC32, whole-file and atomic I/O, checkpoints                                      */
/* ======================================================================================== */
/* CHECKPOINT FILE FORMAT, version 1 (NG_CKPT_VERSION). Every integer is little-endian, written
   and read byte by byte (never a struct dump), so files move between machines unchanged.

     offset  size  field
     0       4     magic "NGCK" (4E 47 43 4B)
     4       4     u32 format version (1)
     8       4     u32 record count R
     12      ...   R records, each:
                     u32  key length K (1..NG_CKPT_MAX_KEY)
                     K    key bytes (no NUL byte; keys are unique within a file)
                     u32  kind (ng_ckpt_kind)
                     u64  payload length P
                     P    payload bytes (layout by kind, below)
     end-4   4     u32 CRC-32 (IEEE 802.3, as zlib/gzip) of every byte before it

   Payloads ("str" = u32 length then that many bytes; f32 = IEEE-754 binary32 bit pattern as
   a u32, so -0.0, denormals and NaN payloads survive bit for bit; i64 = two's complement):
     NG_CKPT_RAW    (1)  the bytes given to ng_ckpt_put
     NG_CKPT_I64    (2)  i64
     NG_CKPT_PARAMS (3)  u32 tensor count T; T x { str name, u32 ndim (0..4), ndim x u64 dim };
                         u64 numel (sum over tensors); numel x f32 values (group order)
                         key: "params/<group name>"
     NG_CKPT_ADAM   (4)  str group name; f32 lr, beta1, beta2, eps, weight_decay; i64 t;
                         u64 numel; numel x f32 m; numel x f32 v
     NG_CKPT_SGD    (5)  str group name; f32 lr, momentum, dampening, weight_decay;
                         u32 nesterov; i64 t; u64 numel; u32 has_buf (0/1);
                         has_buf ? numel x f32 buf
     NG_CKPT_EMA    (6)  str group name; f32 decay; u64 numel; numel x f32 shadow
     NG_CKPT_RNG    (7)  4 x u64 (xoshiro256** state)

   The reader checks magic, version and CRC, then every length against the bytes that remain
   (so hostile input never causes a large allocation), the exact payload length of each typed
   record, unknown kinds and duplicate keys; any problem is an error naming the file. Typed
   getters restore into existing objects only when the layout matches (names, shapes, order,
   element counts), and write nothing unless everything matches. */
#define NG_CKPT_VERSION 1u
#ifndef NG_CKPT_MAX_KEY
#define NG_CKPT_MAX_KEY 1024u
#endif
#ifndef NG_CKPT_MAX_BYTES
#define NG_CKPT_MAX_BYTES (((size_t)-1) >> 1)   /* largest checkpoint file ng_ckpt_load reads */
#endif
typedef enum ng_ckpt_kind {
    NG_CKPT_RAW = 1, NG_CKPT_I64 = 2, NG_CKPT_PARAMS = 3, NG_CKPT_ADAM = 4,
    NG_CKPT_SGD = 5, NG_CKPT_EMA = 6, NG_CKPT_RNG = 7
} ng_ckpt_kind;

uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n);   /* IEEE 802.3, start with 0 */
/* Read a whole file (refusing more than max_bytes). *data is malloc'd (non-NULL even for an
   empty file); caller frees. Errors name the path and the OS error. */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n);
/* Write via "<path>.tmp.<pid>", fsync, rename over path, fsync the directory: a crash never
   leaves a half-written file at `path` nor loses the previous one. On failure the temporary
   file is removed and `path` is untouched. (A symlink at `path` is replaced, not followed.) */
ng_status ng_file_write_atomic(const char *path, const void *data, size_t n);

/* A checkpoint is a versioned, checksummed set of named binary records. Writers put records
   (parameters with their layout, optimizer states, RNG, counters) and save atomically;
   readers load, verify and fetch records by name. Putting an existing key is NG_ERR_ARG. */
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
/* Serialise to a malloc'd buffer (what ng_ckpt_save writes); caller frees *out. */
ng_status ng_ckpt_serialize(const ng_ckpt *ck, unsigned char **out, size_t *n);
/* Parse a checkpoint held in memory (`name` is used in messages); the file loader wraps it.
   The buffer is copied; the caller keeps ownership of `buf`. */
ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out);
ng_status ng_ckpt_load(const char *path, ng_ckpt **out);
/* Records in file/insertion order: count, key and kind of record i (NULL / 0 out of range). */
int ng_ckpt_count(const ng_ckpt *ck);
const char *ng_ckpt_key_at(const ng_ckpt *ck, int i);
ng_ckpt_kind ng_ckpt_kind_of(const ng_ckpt *ck, const char *key);   /* 0 if absent */
/* Payload bytes of any record (for NG_CKPT_RAW: the bytes given to ng_ckpt_put; may be
   unaligned). NULL if absent. Valid until ng_ckpt_free. */
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n);
/* Typed getters: NG_ERR_MISMATCH (naming checkpoint, key and what differs) when the record is
   absent, of another kind, or does not fit the target; the target is then left unchanged. */
ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v);
/* Restore into an allocated group; NG_ERR_MISMATCH naming the tensor if names/shapes differ. */
ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g);
/* Optimizer/EMA getters restore hyperparameters, step count and state into an initialised
   object (state blocks allocated) whose group has the recorded name and element count. */
ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt);
ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt);
ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e);
ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *r);
