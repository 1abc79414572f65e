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
#include <time.h>

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

/* Append '\n' to a malloc'd text of *n bytes (kept NUL-terminated); 0 if out of memory. */
static inline int cli_append_newline(char **text, size_t *n) {
    char *p = (char *)realloc(*text, *n + 2);
    if (!p) return 0;
    p[(*n)++] = '\n';
    p[*n] = '\0';
    *text = p;
    return 1;
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
/* --config FILE: the options in FILE take the place of these two arguments, so options after
   them override the file's. FILE holds options as on the command line, one or more per line:
   "--epochs 3" or "epochs 3" ("--" may be left out before the first word of a line; "key =
   value" and "key: value" work too), "# comments", "double quotes" around values with spaces.
   A file may not name another --config. Returns 0 with argc and argv replaced (the new array
   lives until exit), -1 after printing what was wrong. */
#define CLI_CONFIG_HELP "  --config FILE         read options from FILE (one per line, as on the command line, \"--\"\n" \
                        "                        optional; later options override it); DIR/run.txt of a run is one\n"
static inline int cli_config_words(const char *prog, const char *path, char *text, char ***words, int *n) {
    char *line = text, *next;
    int lineno = 0, cap = 0;
    *words = NULL;
    *n = 0;
    for (; line && *line; line = next) {
        char *p = line;
        int first = 1;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        for (;;) {
            char *w, *o;
            while (*p == ' ' || *p == '\t' || *p == '\r') p++;
            if (!*p || *p == '#') break;
            w = o = p;
            if (*p == '"') {   /* a quoted value: up to the closing quote; \" \\ \n \r \t escapes */
                w = o = ++p;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1]) {
                        char c = *++p;
                        *o++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
                        p++;
                    } else {
                        *o++ = *p++;
                    }
                }
                if (*p != '"') { fprintf(stderr, "%s: %s:%d: unterminated quote\n", prog, path, lineno); return -1; }
                p++;   /* past the quote; o lags behind p, so the terminator below overwrites nothing unread */
            } else {
                while (*p && *p != ' ' && *p != '\t' && *p != '\r') *o++ = *p++;
                if (*p) p++;   /* the separator, where o stands */
            }
            *o = '\0';
            if (first && o > w && (o[-1] == '=' || o[-1] == ':')) o[-1] = '\0';   /* "key=" / "key:" */
            if (!first && !strcmp(w, "=")) continue;
            if (*n + 2 > cap) {
                char **grown = (char **)realloc(*words, (size_t)(cap = 2 * cap + 16) * sizeof *grown);
                if (!grown) { fprintf(stderr, "%s: out of memory\n", prog); return -1; }
                *words = grown;
            }
            if (first && strncmp(w, "--", 2) != 0) {   /* "epochs 3" means "--epochs 3" */
                char *dashed = (char *)malloc(strlen(w) + 3);
                if (!dashed) { fprintf(stderr, "%s: out of memory\n", prog); return -1; }
                sprintf(dashed, "--%s", w);
                w = dashed;
            }
            if (!strcmp(w, "--config")) { fprintf(stderr, "%s: %s:%d: a config file cannot name another --config\n", prog, path, lineno); return -1; }
            (*words)[(*n)++] = w;
            first = 0;
        }
    }
    return 0;
}
static inline int cli_expand_config(const char *prog, int *argc, char ***argv) {
    int i;
    for (i = 1; i < *argc; i++) {
        FILE *f;
        long len;
        char *text, **words, **merged;
        int n, k;
        if (strcmp((*argv)[i], "--config")) continue;
        if (i + 1 >= *argc) { fprintf(stderr, "%s: --config needs a file (see --help)\n", prog); return -1; }
        f = fopen((*argv)[i + 1], "rb");
        if (!f) { fprintf(stderr, "%s: --config: cannot open %s: %s\n", prog, (*argv)[i + 1], strerror(errno)); return -1; }
        if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (1L << 20) || fseek(f, 0, SEEK_SET) != 0 ||
            !(text = (char *)malloc((size_t)len + 1)) || fread(text, 1, (size_t)len, f) != (size_t)len) {
            fprintf(stderr, "%s: --config: cannot read %s (or it is over 1 MB)\n", prog, (*argv)[i + 1]);
            fclose(f);
            return -1;
        }
        fclose(f);
        text[len] = '\0';
        if (cli_config_words(prog, (*argv)[i + 1], text, &words, &n)) return -1;
        merged = (char **)malloc((size_t)(*argc - 2 + n + 1) * sizeof *merged);
        if (!merged) { fprintf(stderr, "%s: out of memory\n", prog); return -1; }
        for (k = 0; k < i; k++) merged[k] = (*argv)[k];
        for (k = 0; k < n; k++) merged[i + k] = words[k];
        for (k = i + 2; k < *argc; k++) merged[n + k - 2] = (*argv)[k];
        *argc = *argc - 2 + n;
        merged[*argc] = NULL;
        free(words);
        *argv = merged;
        i += n - 1;
    }
    return 0;
}

#ifdef NASGAN_H
/* DIR/run.txt says how a run directory was made: one block per start (a resume adds a block,
   a fresh start replaces the file): the time, the options in --config form (so `--config
   DIR/run.txt` repeats the run), the build and the resolved settings. Written atomically; a
   failure is a note, not an error. */
static inline void cli_run_record(const char *prog, const char *dir, int argc, char **argv, const char *settings, int resumed) {
    cli_text t = {NULL, 0, 0};
    char path[4200], when[64];
    time_t now = time(NULL);
    struct tm tmv;
    int i;
    snprintf(path, sizeof path, "%s/run.txt", dir);
    if (resumed) {   /* keep the earlier blocks */
        FILE *f = fopen(path, "rb");
        char buf[4096];
        size_t got;
        while (f && (got = fread(buf, 1, sizeof buf, f)) > 0) cli_printf(&t, "%.*s", (int)got, buf);
        if (f) fclose(f);
    }
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    cli_printf(&t, "# %s %s %s\n# %s\n# settings: ", prog, resumed ? "resumed" : "started", when, ng_build_info());
    for (; *settings; settings++)   /* a comment line for every line of the settings (JSON in them spans lines) */
        cli_printf(&t, *settings == '\n' ? "\n# " : "%c", *settings);
    cli_printf(&t, "\n");
    for (i = 1; i < argc; i++) {   /* one option per line, with its values; quoted and escaped where needed */
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && i > 1) cli_printf(&t, "\n");
        else if (i > 1) cli_printf(&t, " ");
        if (!strcmp(a, "--resume")) { cli_printf(&t, "# --resume"); continue; }
        if (a[0] && !strpbrk(a, " \t#\"\\\n\r")) { cli_printf(&t, "%s", a); continue; }
        cli_printf(&t, "\"");
        for (; *a; a++) {
            if (*a == '"' || *a == '\\') cli_printf(&t, "\\%c", *a);
            else if (*a == '\n') cli_printf(&t, "\\n");
            else if (*a == '\r') cli_printf(&t, "\\r");
            else if (*a == '\t') cli_printf(&t, "\\t");
            else cli_printf(&t, "%c", *a);
        }
        cli_printf(&t, "\"");
    }
    cli_printf(&t, "\n\n");
    if (!t.s || ng_file_write_atomic(path, t.s, t.len) != NG_OK) fprintf(stderr, "%s: note: no %s: %s\n", prog, path, ng_last_error());
    free(t.s);
}

/* "memory: step arena peak 812 MB, process peak 1024 MB" (with --device cuda: the device step
   arena's peak and the peak of device memory in use): what a run needs, for sizing the next. */
static inline const char *cli_memory(const ng_ctx *ctx, char *buf, size_t cap) {
    const double mb = 1048576.0;
    if (ctx->device == NG_CUDA)
        snprintf(buf, cap, "memory: GPU step arena peak %.0f MB, GPU peak %.0f MB, process peak %.0f MB", ctx->dev_arena.peak / mb,
                 ng_cuda_peak_bytes() / mb, ng_peak_rss_bytes() / mb);
    else
        snprintf(buf, cap, "memory: step arena peak %.0f MB, process peak %.0f MB", ctx->arena.peak / mb, ng_peak_rss_bytes() / mb);
    return buf;
}

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
