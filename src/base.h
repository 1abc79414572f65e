/* ======================================================================================== */
/* @@BASE  status codes, errors, RNG, arena, build info                                    */
/* ======================================================================================== */

typedef enum ng_status {
    NG_OK = 0,
    NG_ERR_IO = -1,          /* open/read/write/rename failed */
    NG_ERR_FORMAT = -2,      /* file content is malformed (magic, sizes, truncation) */
    NG_ERR_NOMEM = -3,       /* malloc failed or an arena is exhausted */
    NG_ERR_ARG = -4,         /* an argument is out of range */
    NG_ERR_UNSUPPORTED = -5, /* feature not compiled in (zlib, OpenBLAS, CUDA) */
    NG_ERR_CHECKSUM = -6,    /* checksum mismatch: corrupt file */
    NG_ERR_MISMATCH = -7     /* file is valid but does not fit the object (names, shapes) */
} ng_status;

const char *ng_status_str(ng_status s);
/* Message of the most recent failure on this thread ("" if none). */
const char *ng_last_error(void);
/* Record a failure (printf-style message) and return the code, for use in `return ng_fail(...)`. */
ng_status ng_fail(ng_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ng_clear_error(void);

/* Programmer-error check. The hook runs before abort() (e.g. to flush logs or longjmp in tests). */
typedef void (*ng_abort_handler)(const char *file, int line, const char *expr);
void ng_set_abort_handler(ng_abort_handler h);
void ng__assert_fail(const char *file, int line, const char *expr);
#ifndef NG_ASSERT
#define NG_ASSERT(x) ((x) ? (void)0 : ng__assert_fail(__FILE__, __LINE__, #x))
#endif

/* Explicit RNG state (xoshiro256**): no hidden globals, a run is reproducible from its seed. */
typedef struct ng_rng { uint64_t s[4]; } ng_rng;
void ng_rng_seed(ng_rng *r, uint64_t seed);
uint64_t ng_rng_u64(ng_rng *r);
double ng_rng_uniform(ng_rng *r);               /* [0, 1) with 53 random bits */
float ng_rng_uniformf(ng_rng *r, float lo, float hi);
double ng_rng_normal(ng_rng *r);                /* standard normal (Box-Muller, no cached pair) */
uint64_t ng_rng_below(ng_rng *r, uint64_t n);   /* uniform integer in [0, n), unbiased */

/* Dropout masks are counter-based: element i of one dropout call is dropped when
   ng_dropout_bits(key, i) < ng_dropout_threshold(p), with one key per call drawn from the
   context RNG (ng_rng_u64). Each decision is a pure function of (key, i), so CPU threads in
   any order and the GPU kernels (nasgan_cuda.cu) draw the same mask, and the GPU needs no
   per-element host work. The bits are the high half of the i-th output of a SplitMix64
   stream started at key. */
#if defined(__CUDACC__)
#define NG_HOST_DEVICE __host__ __device__
#else
#define NG_HOST_DEVICE
#endif
static inline NG_HOST_DEVICE uint32_t ng_dropout_bits(uint64_t key, uint64_t i) {
    uint64_t z = key + (i + 1u) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}
/* p in [0, 1): a drop probability of threshold / 2^32 (within 2.4e-10 of p) */
static inline NG_HOST_DEVICE uint32_t ng_dropout_threshold(float p) { return (uint32_t)((double)p * 4294967296.0); }

/* Bump arena for per-step activations and tape nodes: reset after every step, never freed
   piece by piece. Exhaustion returns NULL with NG_ERR_NOMEM recorded, in every build type. */
typedef struct ng_arena {
    unsigned char *base;
    size_t cap, used, peak;
} ng_arena;
ng_status ng_arena_init(ng_arena *a, size_t cap_bytes);
void ng_arena_free(ng_arena *a);
void *ng_arena_alloc(ng_arena *a, size_t bytes);   /* 64-byte aligned, uninitialised */
void *ng_arena_calloc(ng_arena *a, size_t bytes);  /* zero-filled */
void ng_arena_reset(ng_arena *a);

/* Overflow-checked size arithmetic: return 0 and set *out on success, -1 on overflow. */
int ng_mul_size(size_t a, size_t b, size_t *out);
int ng_mul_i64(int64_t a, int64_t b, int64_t *out);

/* 64-byte aligned heap blocks for persistent storage. */
void *ng_aligned_alloc(size_t bytes);
void ng_aligned_free(void *p);

/* One line saying which optional parts are compiled in (OpenMP, OpenBLAS, zlib, CUDA, SIMD). */
const char *ng_build_info(void);
int ng_num_threads(void);
void ng_set_num_threads(int n);
double ng_time_sec(void);  /* monotonic wall clock */
/* Peak resident set size of this process in bytes (0 where unknown). */
size_t ng_peak_rss_bytes(void);
