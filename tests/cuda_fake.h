/* A fake CUDA device for machines without a GPU: include this file AFTER nasgan.h in the
   translation unit that defines NASGAN_IMPLEMENTATION, then call ng_fake_cuda_register()
   (or build with -DNG_FAKE_CUDA_AUTO to register from a constructor).

   "Device" memory is host memory obtained with mmap and kept PROT_NONE except while a hook
   (an op kernel, a copy, an optimizer step) runs. So host code that reads or writes device
   memory directly, which would crash or read garbage on a real GPU, stops here with SIGSEGV
   instead of silently working. Fresh device blocks up to 16 MiB are filled with NaN
   (cudaMalloc does not zero); larger ones (step arenas) read as zeros. Every op "kernel" is the CPU kernel and the fused optimizer hooks repeat the CPU
   arithmetic, so a program run with `--device cuda` on this fake must give bit-identical
   results to `--device cpu`: that is what `make test-cuda-emu` and
   scripts/check_examples_cuda.sh check. It says nothing about the real kernels
   (`make test-cuda-host-emu` covers those). Linux/POSIX; compile with -D_GNU_SOURCE. */
#ifndef NG_CUDA_FAKE_H
#define NG_CUDA_FAKE_H
#include <sys/mman.h>
#include <unistd.h>
#ifndef MAP_ANONYMOUS
#error "tests/cuda_fake.h needs MAP_ANONYMOUS: compile with -D_GNU_SOURCE"
#endif

#define NG_FAKE__NAN_FILL_MAX ((size_t)16 << 20)
#define NG_FAKE__POOL ((size_t)64 << 30)   /* address space reserved for "device" memory */

/* All device blocks come from one reserved range, so opening and closing is one mprotect of
   the range in use (many separate mappings made every op cost dozens of system calls). */
typedef struct { size_t off, len; int used; } ng_fake__block;
static struct {
    unsigned char *base;
    size_t top;                 /* end of the highest block ever handed out */
    ng_fake__block *b;          /* in address order, covering [0, top) */
    int n, cap, open_depth;
    size_t in_use, peak;
} ng_fake__mem;

static void ng_fake__protect_all(int prot) {
    if (ng_fake__mem.top && mprotect(ng_fake__mem.base, ng_fake__mem.top, prot) != 0) {
        perror("cuda_fake: mprotect");
        abort();
    }
}
/* Device memory is readable only between open and close (nested calls allowed). */
static void ng_fake__open(void) { if (ng_fake__mem.open_depth++ == 0) ng_fake__protect_all(PROT_READ | PROT_WRITE); }
static void ng_fake__close(void) { if (--ng_fake__mem.open_depth == 0) ng_fake__protect_all(PROT_NONE); }

static int ng_fake__count(void) { return 1; }
static ng_status ng_fake__init(int device) { (void)device; return NG_OK; }
static const char *ng_fake__info(void) { return "fake device (guarded host memory, CPU kernels)"; }

static int ng_fake__insert(int at, ng_fake__block blk) {
    if (ng_fake__mem.n == ng_fake__mem.cap) {
        int cap = ng_fake__mem.cap ? 2 * ng_fake__mem.cap : 64;
        ng_fake__block *b = (ng_fake__block *)realloc(ng_fake__mem.b, (size_t)cap * sizeof *b);
        if (!b) return -1;
        ng_fake__mem.b = b;
        ng_fake__mem.cap = cap;
    }
    memmove(ng_fake__mem.b + at + 1, ng_fake__mem.b + at, (size_t)(ng_fake__mem.n - at) * sizeof *ng_fake__mem.b);
    ng_fake__mem.b[at] = blk;
    ng_fake__mem.n++;
    return 0;
}

static void *ng_fake__malloc(size_t bytes) {
    size_t len = ((bytes ? bytes : 1) + 255) / 256 * 256, i;
    unsigned char *p = NULL;
    int k;
    if (!ng_fake__mem.base) {
        void *m = mmap(NULL, NG_FAKE__POOL, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return NULL;
        ng_fake__mem.base = (unsigned char *)m;
    }
    for (k = 0; k < ng_fake__mem.n && !p; k++) {   /* first fit among freed blocks */
        ng_fake__block *b = &ng_fake__mem.b[k];
        if (b->used || b->len < len) continue;
        if (b->len > len) {
            ng_fake__block rest;
            rest.off = b->off + len; rest.len = b->len - len; rest.used = 0;
            b->len = len;
            if (ng_fake__insert(k + 1, rest)) return NULL;
            b = &ng_fake__mem.b[k];
        }
        b->used = 1;
        p = ng_fake__mem.base + b->off;
    }
    if (!p) {
        ng_fake__block nb;
        if (ng_fake__mem.top + len > NG_FAKE__POOL) return NULL;
        nb.off = ng_fake__mem.top; nb.len = len; nb.used = 1;
        if (ng_fake__insert(ng_fake__mem.n, nb)) return NULL;
        p = ng_fake__mem.base + nb.off;
        ng_fake__mem.top += len;
    }
    if (bytes <= NG_FAKE__NAN_FILL_MAX) {   /* big blocks (step arenas) are not filled: every
                                              touched page makes each later mprotect slower */
        ng_fake__open();
        for (i = 0; i + sizeof(float) <= bytes; i += sizeof(float)) { float nan = NAN; memcpy(p + i, &nan, sizeof nan); }
        ng_fake__close();
    }
    ng_fake__mem.in_use += len;
    if (ng_fake__mem.in_use > ng_fake__mem.peak) ng_fake__mem.peak = ng_fake__mem.in_use;
    return p;
}
static void ng_fake__free(void *p) {
    int k;
    if (!p) return;
    for (k = 0; k < ng_fake__mem.n; k++) {
        ng_fake__block *b = &ng_fake__mem.b[k];
        if (!b->used || ng_fake__mem.base + b->off != (unsigned char *)p) continue;
        b->used = 0;
        ng_fake__mem.in_use -= b->len;
        madvise(ng_fake__mem.base + b->off, b->len & ~(size_t)4095, MADV_DONTNEED);   /* pages return */
        if (k + 1 < ng_fake__mem.n && !ng_fake__mem.b[k + 1].used) {   /* merge with the next */
            b->len += ng_fake__mem.b[k + 1].len;
            memmove(b + 1, b + 2, (size_t)(ng_fake__mem.n - k - 2) * sizeof *b);
            ng_fake__mem.n--;
        }
        if (k > 0 && !ng_fake__mem.b[k - 1].used) {   /* and with the previous */
            ng_fake__mem.b[k - 1].len += b->len;
            memmove(b, b + 1, (size_t)(ng_fake__mem.n - k - 1) * sizeof *b);
            ng_fake__mem.n--;
        }
        return;
    }
    fprintf(stderr, "cuda_fake: free of %p, which is not device memory\n", p);
    abort();
}
static int ng_fake__copy(void *d, const void *s, size_t b) { ng_fake__open(); memmove(d, s, b); ng_fake__close(); return 0; }
static int ng_fake__memset0(void *p, size_t b) { ng_fake__open(); memset(p, 0, b); ng_fake__close(); return 0; }
static int ng_fake__sync(void) { return 0; }
static void ng_fake__tf32(int on) { (void)on; }
static size_t ng_fake__peak(void) { return ng_fake__mem.peak; }
/* A small device: programs that size their arena from the free memory take 60% of 2 GiB. */
static size_t ng_fake__mem_free(void) { size_t cap = (size_t)2 << 30; return ng_fake__mem.in_use < cap ? cap - ng_fake__mem.in_use : 0; }
static void ng_fake__fw(ng_node *n) { ng_fake__open(); ng__op_table[n->op].forward_cpu(n); ng_fake__close(); }
static void ng_fake__bw(ng_node *n) { ng_fake__open(); ng__op_table[n->op].backward_cpu(n); ng_fake__close(); }
static void ng_fake__adam(float *p, const float *g, float *m, float *v, int64_t n, float b1, float b2, float omb1,
                          float omb2, float step_size, float sqrt_bc2, float eps, float wd) {
    int64_t i;
    ng_fake__open();
    for (i = 0; i < n; i++) { /* ng_adam_step's arithmetic */
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float mi = b1 * m[i] + omb1 * gi, vi = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        m[i] = mi; v[i] = vi;
        p[i] -= step_size * (mi / denom);
    }
    ng_fake__close();
}
static void ng_fake__ema(float *s, const float *p, int64_t n, float d, float omd) {
    int64_t i;
    ng_fake__open();
    for (i = 0; i < n; i++) s[i] = d * s[i] + omd * p[i];
    ng_fake__close();
}
static void ng_fake__sgd(float *p, const float *g, float *buf, int64_t n, float lr, float mom, float omd, float wd,
                         int first, int nesterov) {
    int64_t i;
    ng_fake__open();
    for (i = 0; i < n; i++) { /* ng_sgd_step's arithmetic */
        float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        if (buf) {
            float b = first ? d : mom * buf[i] + omd * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] -= lr * d;
    }
    ng_fake__close();
}
static double ng_fake__sumsq(const float *x, int64_t n) {
    double s;
    ng_fake__open();
    s = ng__sumsq(x, n);
    ng_fake__close();
    return s;
}
static void ng_fake__scale(float *x, int64_t n, float c) {
    int64_t i;
    ng_fake__open();
    for (i = 0; i < n; i++) x[i] *= c;
    ng_fake__close();
}

static void ng_fake_cuda_register(void) {
    static ng_cuda_hooks h;
    int op;
    h.device_count = ng_fake__count; h.init = ng_fake__init; h.info = ng_fake__info;
    h.dev_malloc = ng_fake__malloc; h.dev_free = ng_fake__free;
    h.memcpy_h2d = ng_fake__copy; h.memcpy_d2h = ng_fake__copy; h.memcpy_d2d = ng_fake__copy;
    h.memset0 = ng_fake__memset0; h.synchronize = ng_fake__sync; h.set_tf32 = ng_fake__tf32;
    h.peak_bytes = ng_fake__peak; h.mem_free = ng_fake__mem_free;
    h.adam = ng_fake__adam; h.ema = ng_fake__ema; h.sgd = ng_fake__sgd;
    h.sumsq = ng_fake__sumsq; h.scale = ng_fake__scale;
    for (op = 0; op < NG_OP_COUNT; op++) { h.fw[op] = ng_fake__fw; h.bw[op] = ng_fake__bw; }
    ng_cuda_register(&h);
}
#ifdef NG_FAKE_CUDA_AUTO
__attribute__((constructor)) static void ng_fake__auto(void) { ng_fake_cuda_register(); }
#endif
#endif
