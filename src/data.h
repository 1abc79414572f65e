/* ======================================================================================== */
/* @@DATA  dataset readers                                                                  */
/* ======================================================================================== */
#ifndef NG_IDX_MAX_BYTES
#define NG_IDX_MAX_BYTES ((size_t)0x7fffffff)   /* largest IDX file (compressed or not) read */
#endif
/* Decompress a gzip stream held in memory (concatenated members allowed), refusing output
   beyond max_out bytes. Corrupt, truncated or trailing data -> NG_ERR_FORMAT naming `name`;
   built with NG_NO_ZLIB -> NG_ERR_UNSUPPORTED. *out is malloc'd; caller frees. */
ng_status ng_gunzip(const unsigned char *buf, size_t n, const char *name, size_t max_out,
                    unsigned char **out, size_t *out_n);

/* IDX (MNIST family): big-endian magic 0x000008DD (type 0x08 = uint8, DD = #dims), dims as
   big-endian uint32, then the bytes. Raw or gzip (detected by its magic). */
typedef struct ng_idx {
    int ndim;
    int64_t dims[4];
    int64_t count;          /* product of dims */
    unsigned char *data;    /* (count) */
} ng_idx;
/* The byte count must equal the product of the dims exactly (missing or trailing bytes are
   errors). On failure *out is zeroed and nothing needs freeing. */
ng_status ng_idx_parse(const unsigned char *buf, size_t n, const char *name, ng_idx *out);
ng_status ng_idx_load(const char *path, ng_idx *out);
void ng_idx_free(ng_idx *idx);

/* An images file (N, H, W) and its labels file (N) with labels < num_classes. */
typedef struct ng_mnist {
    int64_t n, h, w;
    unsigned char *images;  /* (N, H, W) */
    unsigned char *labels;  /* (N) */
} ng_mnist;
ng_status ng_mnist_load(const char *images_path, const char *labels_path, int num_classes, ng_mnist *out);
void ng_mnist_free(ng_mnist *m);
