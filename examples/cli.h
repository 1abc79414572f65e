/* Small helpers shared by the example programs (argument parsing, directories, durations, a
   growable text buffer for logs that are rewritten atomically). Header-only, static. */
#ifndef NG_EXAMPLES_CLI_H
#define NG_EXAMPLES_CLI_H
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Integer option value in [lo, hi]; prints "<prog>: <name> wants ..." and returns -1 otherwise. */
static inline int cli_int(const char *prog, const char *name, const char *v, long lo, long hi, long *out) {
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "%s: %s wants an integer in [%ld, %ld], got '%s'\n", prog, name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Positive finite float option value. */
static inline int cli_float(const char *prog, const char *name, const char *v, double lo, double hi, double *out) {
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || *end || end == v || !(x >= lo && x <= hi)) {
        fprintf(stderr, "%s: %s wants a number in [%g, %g], got '%s'\n", prog, name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* mkdir -p */
static inline int cli_make_dirs(const char *prog, const char *path) {
    char buf[4096];
    size_t i, n = strlen(path);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "%s: cannot create directory %s: %s\n", prog, buf, strerror(errno));
                return -1;
            }
            buf[i] = c;
        }
    }
    return 0;
}

static inline void cli_duration(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

/* A growable text buffer (e.g. a CSV log rewritten atomically after every epoch). */
typedef struct cli_text { char *s; size_t len, cap; } cli_text;
static inline int cli_printf(cli_text *t, const char *fmt, ...) {
    va_list ap;
    int n;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (t->s && (size_t)n < room) { t->len += (size_t)n; return 0; }
        {
            size_t cap = (t->cap + (size_t)n + 1) * 2;
            char *p = (char *)realloc(t->s, cap);
            if (!p) return -1;
            t->s = p; t->cap = cap;
        }
    }
}

/* Reload a CSV log written by the same program: keep its header and the rows whose first
   field (a step or epoch counter) is <= last (later rows belong to work that runs again after
   a resume). Returns 0 if the file was read, -1 if not (t is left empty). */
static inline int cli_csv_reload(cli_text *t, const char *path, long long last) {
    FILE *f = fopen(path, "rb");
    char line[65536];
    int first = 1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (first || atoll(line) <= last) cli_printf(t, "%s%s", line, strchr(line, '\n') ? "" : "\n");
        first = 0;
    }
    fclose(f);
    return 0;
}
#ifdef NASGAN_H
/* Open the checkpoint to resume from and check its settings record (`key`) against this run's
   `settings`. 0 with *out set (free it with ng_ckpt_free); 1 after printing why not: the file's
   own error (missing, corrupt, named), or both settings when they differ. */
static inline int cli_resume_open(const char *prog, const char *path, const char *key, const char *settings,
                                  ng_ckpt **out) {
    ng_ckpt *ck = NULL;
    size_t n = 0;
    const char *set;
    *out = NULL;
    if (ng_ckpt_load(path, &ck) != NG_OK) {
        fprintf(stderr, "\n%s: --resume: %s\n", prog, ng_last_error());
        return 1;
    }
    set = (const char *)ng_ckpt_get(ck, key, &n);
    if (!set || n != strlen(settings) || memcmp(set, settings, n)) {
        fprintf(stderr, "%s: %s was written with other settings; refusing to resume.\n  checkpoint: %.*s\n  now:        %s\n",
                prog, path, set ? (int)n : 7, set ? set : "missing", settings);
        ng_ckpt_free(ck);
        return 1;
    }
    *out = ck;
    return 0;
}

/* --device cpu|cuda, --tf32 and --gpu-mem, shared by the programs. */
typedef struct cli_device {
    ng_device dev;
    int tf32;
    double gpu_mem_gb;   /* step arena on the GPU; 0: 60% of the free memory at start */
} cli_device;
#define CLI_DEVICE_HELP \
    "Device:\n" \
    "  --device cpu|cuda     where to run (default cpu); cuda needs the programs linked with the\n" \
    "                        CUDA backend: `make cuda` builds them as build/cuda/<program>\n" \
    "  --tf32                allow TF32 tensor-core matrix products on the GPU (default: exact FP32)\n" \
    "  --gpu-mem GB          size of the GPU step arena (default: 60%% of the free GPU memory)\n"
/* 1: consumed argv[*i] (and its value), 0: not a device option, -1: bad value (printed). */
static inline int cli_device_arg(const char *prog, int argc, char **argv, int *i, cli_device *d) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(a, "--tf32")) { d->tf32 = 1; return 1; }
    if (strcmp(a, "--device") && strcmp(a, "--gpu-mem")) return 0;
    if (!v) { fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a); return -1; }
    ++*i;
    if (!strcmp(a, "--gpu-mem")) return cli_float(prog, a, v, 0.01, 100000.0, &d->gpu_mem_gb) ? -1 : 1;
    if (!strcmp(v, "cpu")) d->dev = NG_CPU;
    else if (!strcmp(v, "cuda")) d->dev = NG_CUDA;
    else { fprintf(stderr, "%s: --device wants cpu or cuda, got '%s'\n", prog, v); return -1; }
    return 1;
}
/* Initialise the chosen device (prints the GPU); 0 on success, 1 after printing why not. */
static inline int cli_device_start(const char *prog, cli_device *d) {
    if (d->dev != NG_CUDA) {
        if (d->tf32) fprintf(stderr, "%s: note: --tf32 applies to --device cuda only\n", prog);
        return 0;
    }
    if (ng_cuda_init(0) != NG_OK) {
        fprintf(stderr, "%s: --device cuda: %s\n", prog, ng_last_error());
        return 1;
    }
    ng_cuda_set_tf32(d->tf32);
    printf("device: %s%s\n", ng_cuda_device_info(), d->tf32 ? " (TF32 allowed)" : "");
    return 0;
}
/* Step-arena size: `host_bytes` on the CPU; on the GPU --gpu-mem, else 60% of what is free. */
static inline size_t cli_arena_bytes(const cli_device *d, size_t host_bytes) {
    size_t fr;
    if (d->dev != NG_CUDA) return host_bytes;
    if (d->gpu_mem_gb > 0) return (size_t)(d->gpu_mem_gb * 1073741824.0);
    fr = ng_cuda_mem_free();
    return fr ? fr / 10 * 6 : host_bytes;
}
/* Move parameter groups (NULL entries skipped) to the chosen device; 1 after printing why not. */
static inline int cli_to_device(const char *prog, const cli_device *d, ng_params *const *groups, int n) {
    int k;
    for (k = 0; k < n; k++)
        if (groups[k] && ng_params_to_device(groups[k], d->dev) != NG_OK) {
            fprintf(stderr, "%s: moving %s to the device: %s\n", prog, groups[k]->name, ng_last_error());
            return 1;
        }
    return 0;
}
#endif

#endif
