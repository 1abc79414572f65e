/* ======================================================================================== */
/* @@DATA  dataset readers                                                                  */
/* ======================================================================================== */
/* Decompress a gzip stream held in memory, refusing output beyond max_out bytes. */
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
