/* ======================================================================================== */
/* @@BASE                                                                                   */
/* ======================================================================================== */
#if defined(__cplusplus)
#define NG__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NG__TLS _Thread_local
#else
#define NG__TLS __thread
#endif

static NG__TLS char ng__errbuf[1024];
static ng_abort_handler ng__abort_hook = NULL;

const char *ng_status_str(ng_status s) {
    switch (s) {
    case NG_OK: return "ok";
    case NG_ERR_IO: return "I/O error";
    case NG_ERR_FORMAT: return "malformed input";
    case NG_ERR_NOMEM: return "out of memory";
    case NG_ERR_ARG: return "invalid argument";
    case NG_ERR_UNSUPPORTED: return "unsupported in this build";
    case NG_ERR_CHECKSUM: return "checksum mismatch";
    case NG_ERR_MISMATCH: return "content does not match";
    }
    return "unknown status";
}

const char *ng_last_error(void) { return ng__errbuf; }
void ng_clear_error(void) { ng__errbuf[0] = 0; }

ng_status ng_fail(ng_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ng__errbuf, sizeof ng__errbuf, fmt, ap);
    va_end(ap);
    return code;
}

void ng_set_abort_handler(ng_abort_handler h) { ng__abort_hook = h; }

void ng__assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "nasgan: %s:%d: check failed: %s\n", file, line, expr);
    fflush(stderr);
    if (ng__abort_hook) ng__abort_hook(file, line, expr);
    abort();
}

/* ---- RNG: xoshiro256** seeded through splitmix64 ---- */
static uint64_t ng__splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
void ng_rng_seed(ng_rng *r, uint64_t seed) {
    int i;
    for (i = 0; i < 4; i++) r->s[i] = ng__splitmix(&seed);
}
static uint64_t ng__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t ng_rng_u64(ng_rng *r) {
    uint64_t *s = r->s, result = ng__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = ng__rotl(s[3], 45);
    return result;
}
double ng_rng_uniform(ng_rng *r) { return (double)(ng_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
float ng_rng_uniformf(ng_rng *r, float lo, float hi) {
    float x = lo + (hi - lo) * (float)ng_rng_uniform(r);
    return x < hi ? x : lo; /* rounding can reach hi; keep the interval half-open */
}
double ng_rng_normal(ng_rng *r) {
    double u1 = 1.0 - ng_rng_uniform(r), u2 = ng_rng_uniform(r); /* u1 in (0,1] */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
uint64_t ng_rng_below(ng_rng *r, uint64_t n) {
    uint64_t lim, x;
    if (n <= 1) return 0;
    lim = UINT64_MAX - UINT64_MAX % n;
    do x = ng_rng_u64(r); while (x >= lim);
    return x % n;
}

/* ---- sizes ---- */
int ng_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
int ng_mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > INT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* ---- aligned heap ---- */
void *ng_aligned_alloc(size_t bytes) {
    void *raw, **p;
    if (bytes > SIZE_MAX - 64 - sizeof(void *)) return NULL;
    raw = malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    p = (void **)(((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63);
    p[-1] = raw;
    return p;
}
void ng_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}

/* ---- arena ---- */
ng_status ng_arena_init(ng_arena *a, size_t cap) {
    a->base = (unsigned char *)ng_aligned_alloc(cap);
    a->cap = a->base ? cap : 0;
    a->used = a->peak = 0;
    if (!a->base) return ng_fail(NG_ERR_NOMEM, "arena: cannot allocate %zu bytes", cap);
    return NG_OK;
}
void ng_arena_free(ng_arena *a) {
    ng_aligned_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}
void *ng_arena_alloc(ng_arena *a, size_t bytes) {
    size_t off = (a->used + 63) & ~(size_t)63;
    void *p;
    if (off > a->cap || bytes > a->cap - off) {
        ng_fail(NG_ERR_NOMEM, "arena exhausted: need %zu more bytes, %zu of %zu used (raise the arena size)",
                bytes, a->used, a->cap);
        return NULL;
    }
    p = a->base + off;
    a->used = off + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}
void *ng_arena_calloc(ng_arena *a, size_t bytes) {
    void *p = ng_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}
void ng_arena_reset(ng_arena *a) { a->used = 0; }

/* ---- build info, threads, clocks ---- */
const char *ng_build_info(void) {
    return "nasgan 0.1:"
#ifdef _OPENMP
           " openmp=on"
#else
           " openmp=off"
#endif
#ifdef NG_USE_OPENBLAS
           " openblas=on"
#else
           " openblas=off"
#endif
#ifdef NG_USE_UTF8PROC
           " utf8proc=on"
#else
           " utf8proc=off"
#endif
#ifndef NG_NO_ZLIB
           " zlib=on"
#else
           " zlib=off"
#endif
#ifdef NG_USE_STB
           " stb=on"
#else
           " stb=off"
#endif
#ifdef NG_USE_CUDA
           " cuda=on"
#else
           " cuda=off"
#endif
#ifdef NG__HAVE_AVX2
           " simd=avx2+fma"
#else
           " simd=generic"
#endif
#if defined(NG__HAVE_AVX2) && defined(__AVX512F__) && defined(NG_GEMM_AVX512)
           " gemm=avx512"
#endif
        ;
}
int ng_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
void ng_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}
double ng_time_sec(void) {
#ifndef _WIN32
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return 0.0;
#endif
}
size_t ng_peak_rss_bytes(void) {
#ifndef _WIN32
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (size_t)ru.ru_maxrss * 1024u;
#endif
    return 0;
}
