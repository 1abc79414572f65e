/* ======================================================================================== */
/* @@GANDATA                                                                                */
/* ======================================================================================== */
#ifdef NG_USE_STB
#include <stb_image_write.h>
#endif

void ng_image_set_free(ng_image_set *s) {
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

static ng_status ng__imgset_alloc(ng_image_set *s, int64_t n, int c, int h, int w, int labels, const char *name) {
    size_t bytes;
    memset(s, 0, sizeof *s);
    if (n < 0 || ng_mul_size((size_t)n, (size_t)c * (size_t)h * (size_t)w, &bytes) != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: %lld images of %dx%dx%d do not fit in memory", name, (long long)n, c, h, w);
    s->pixels = (unsigned char *)malloc(bytes ? bytes : 1);
    s->labels = labels ? (unsigned char *)malloc((size_t)(n ? n : 1)) : NULL;
    if (!s->pixels || (labels && !s->labels)) {
        ng_image_set_free(s);
        return ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %zu bytes for %lld images", name, bytes, (long long)n);
    }
    s->n = n; s->c = c; s->h = h; s->w = w;
    return NG_OK;
}

/* ---- CIFAR-10 ---- */
#define NG__CIFAR_REC 3073
ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out) {
    int64_t i, count;
    ng_status st;
    memset(out, 0, sizeof *out);
    if (n == 0 || n % NG__CIFAR_REC != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: %zu bytes is not a whole number of CIFAR-10 records (3073 bytes each: "
                       "1 label + 3 x 1024 pixels)", name, n);
    count = (int64_t)(n / NG__CIFAR_REC);
    for (i = 0; i < count; i++)
        if (buf[(size_t)i * NG__CIFAR_REC] > 9)
            return ng_fail(NG_ERR_FORMAT, "%s: record %lld (byte offset %zu) has label %d; CIFAR-10 labels are 0..9",
                           name, (long long)i, (size_t)i * NG__CIFAR_REC, buf[(size_t)i * NG__CIFAR_REC]);
    if ((st = ng__imgset_alloc(out, count, 3, 32, 32, 1, name)) != NG_OK) return st;
    for (i = 0; i < count; i++) {
        const unsigned char *r = buf + (size_t)i * NG__CIFAR_REC;
        out->labels[i] = r[0];
        memcpy(out->pixels + (size_t)i * 3072, r + 1, 3072);   /* already R, G, B planes, row-major */
    }
    return NG_OK;
}

/* Append b's images to a (same geometry, both with or without labels). b is freed. */
static ng_status ng__imgset_append(ng_image_set *a, ng_image_set *b, const char *name) {
    size_t per = (size_t)b->c * (size_t)b->h * (size_t)b->w, total;
    unsigned char *p, *l = NULL;
    if (!a->pixels) { *a = *b; memset(b, 0, sizeof *b); return NG_OK; }
    if (a->c != b->c || a->h != b->h || a->w != b->w || !a->labels != !b->labels) {
        ng_image_set_free(b);
        return ng_fail(NG_ERR_FORMAT, "%s: images of another size than the files before it", name);
    }
    total = (size_t)(a->n + b->n);
    p = (unsigned char *)realloc(a->pixels, total * per);
    if (p) a->pixels = p;
    if (p && a->labels) {
        l = (unsigned char *)realloc(a->labels, total);
        if (l) a->labels = l;
    }
    if (!p || (a->labels && !l)) { ng_image_set_free(b); return ng_fail(NG_ERR_NOMEM, "%s: out of memory", name); }
    memcpy(a->pixels + (size_t)a->n * per, b->pixels, (size_t)b->n * per);
    if (a->labels) memcpy(a->labels + a->n, b->labels, (size_t)b->n);
    a->n += b->n;
    ng_image_set_free(b);
    return NG_OK;
}

ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out) {
    static const char *const files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    int first = train ? 0 : 5, last = train ? 4 : 5, f;
    ng_status st = NG_OK;
    memset(out, 0, sizeof *out);
    for (f = first; f <= last && st == NG_OK; f++) {
        char path[4096];
        unsigned char *buf = NULL;
        size_t n = 0;
        ng_image_set part;
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        st = ng_file_read_all(path, (size_t)NG__CIFAR_REC * 10000, &buf, &n);
        if (st == NG_OK && n != (size_t)NG__CIFAR_REC * 10000)
            st = ng_fail(NG_ERR_FORMAT, "%s: %zu bytes; a CIFAR-10 batch file holds 10000 records of 3073 bytes "
                         "(30730000 bytes)", path, n);
        if (st == NG_OK) st = ng_cifar10_parse(buf, n, path, &part);
        free(buf);
        if (st == NG_OK) st = ng__imgset_append(out, &part, path);
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

/* ---- STL-10 ---- */
#define NG__STL_IMG (3 * 96 * 96)
ng_status ng_stl10_parse(const unsigned char *x, size_t nx, const unsigned char *y, size_t ny, const char *name,
                         ng_image_set *out) {
    int64_t i, count;
    int c, r, k;
    ng_status st;
    memset(out, 0, sizeof *out);
    if (nx == 0 || nx % NG__STL_IMG != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: %zu bytes is not a whole number of STL-10 images (3 x 96 x 96 = 27648 bytes each)",
                       name, nx);
    count = (int64_t)(nx / NG__STL_IMG);
    if (y) {
        if (ny != (size_t)count)
            return ng_fail(NG_ERR_FORMAT, "%s: the labels file has %zu labels for %lld images", name, ny, (long long)count);
        for (i = 0; i < count; i++)
            if (y[i] < 1 || y[i] > 10)
                return ng_fail(NG_ERR_FORMAT, "%s: label %lld is %d; STL-10 labels are 1..10", name, (long long)i, y[i]);
    }
    if ((st = ng__imgset_alloc(out, count, 3, 96, 96, y != NULL, name)) != NG_OK) return st;
    for (i = 0; i < count; i++) {
        const unsigned char *src = x + (size_t)i * NG__STL_IMG;
        unsigned char *dst = out->pixels + (size_t)i * NG__STL_IMG;
        for (c = 0; c < 3; c++)             /* each plane is column-major: transpose */
            for (r = 0; r < 96; r++)
                for (k = 0; k < 96; k++) dst[(c * 96 + r) * 96 + k] = src[(c * 96 + k) * 96 + r];
        if (y) out->labels[i] = (unsigned char)(y[i] - 1);
    }
    return NG_OK;
}

static ng_status ng__stl_load_one(const char *dir, const char *split, int size, ng_image_set *out) {
    char px[4096], py[4096];
    unsigned char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int labelled = strcmp(split, "unlabeled") != 0;
    ng_status st;
    snprintf(px, sizeof px, "%s/%s_X.bin", dir, split);
    snprintf(py, sizeof py, "%s/%s_y.bin", dir, split);
    st = ng_file_read_all(px, (size_t)NG__STL_IMG * 200000, &x, &nx);
    if (st == NG_OK && labelled) st = ng_file_read_all(py, 200000, &y, &ny);
    if (st == NG_OK) st = ng_stl10_parse(x, nx, y, ny, px, out);
    free(x);
    free(y);
    if (st == NG_OK && size != 96) {
        ng_image_set small;
        int64_t i;
        st = ng__imgset_alloc(&small, out->n, 3, size, size, 0, px);
        for (i = 0; i < out->n && st == NG_OK; i++)
            st = ng_image_resize_bilinear_pil(out->pixels + (size_t)i * NG__STL_IMG, 3, 96, 96,
                                              small.pixels + (size_t)i * 3 * size * size, size, size);
        if (st == NG_OK) {
            small.labels = out->labels;
            out->labels = NULL;
            ng_image_set_free(out);
            *out = small;
        } else {
            ng_image_set_free(&small);
        }
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out) {
    ng_status st;
    memset(out, 0, sizeof *out);
    if (size != 96 && size != 48 && !(size > 0 && size < 96))
        return ng_fail(NG_ERR_ARG, "stl10: image size %d (96 as stored, or smaller, e.g. 48)", size);
    if (!strcmp(split, "train+unlabeled")) {
        ng_image_set un;
        st = ng__stl_load_one(dir, "train", size, out);
        if (st == NG_OK) st = ng__stl_load_one(dir, "unlabeled", size, &un);
        if (st == NG_OK) {   /* the unlabeled part has no labels: drop the train labels too */
            free(out->labels);
            out->labels = NULL;
            st = ng__imgset_append(out, &un, dir);
        }
        if (st != NG_OK) ng_image_set_free(out);
        return st;
    }
    if (strcmp(split, "train") && strcmp(split, "test") && strcmp(split, "unlabeled"))
        return ng_fail(NG_ERR_ARG, "stl10: unknown split '%s' (train, test, unlabeled, train+unlabeled)", split);
    return ng__stl_load_one(dir, split, size, out);
}

/* ---- PIL's bilinear resampling (Pillow src/libImaging/Resample.c), 8-bit path ---- */
#define NG__PIL_PRECISION_BITS (32 - 8 - 2)
static double ng__pil_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
/* Fixed-point coefficients of every output position: bounds (xmin, count) and ksize weights. */
static int ng__pil_coeffs(int in_size, int out_size, int *bounds, int **kk_out) {
    double scale = (double)in_size / (double)out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale, *pre;
    int ksize = (int)ceil(support) * 2 + 1, xx, x;
    int *kk = (int *)malloc((size_t)out_size * (size_t)ksize * sizeof(int));
    pre = (double *)malloc((size_t)ksize * sizeof(double));
    if (!kk || !pre) { free(kk); free(pre); return -1; }
    for (xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            double w = ng__pil_bilinear((x + xmin - center + 0.5) * ss);
            pre[x] = w;
            ww += w;
        }
        for (x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? pre[x] / ww : pre[x]) : 0.0;
            kk[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << NG__PIL_PRECISION_BITS))
                                       : (int)(0.5 + v * (1 << NG__PIL_PRECISION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(pre);
    *kk_out = kk;
    return ksize;
}
static unsigned char ng__pil_clip8(int64_t v) {
    v >>= NG__PIL_PRECISION_BITS;
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh,
                                       int ow) {
    int *bx = NULL, *by = NULL, *kx = NULL, *ky = NULL, ksx, ksy, ch, y, x, k;
    unsigned char *tmp;
    if (c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || h > 65536 || w > 65536 || oh > 65536 || ow > 65536)
        return ng_fail(NG_ERR_ARG, "resize: bad sizes %dx%dx%d -> %dx%d", c, h, w, oh, ow);
    bx = (int *)malloc((size_t)ow * 2 * sizeof(int));
    by = (int *)malloc((size_t)oh * 2 * sizeof(int));
    tmp = (unsigned char *)malloc((size_t)h * (size_t)ow);
    if (!bx || !by || !tmp || (ksx = ng__pil_coeffs(w, ow, bx, &kx)) < 0 || (ksy = ng__pil_coeffs(h, oh, by, &ky)) < 0) {
        free(bx); free(by); free(tmp); free(kx);
        return ng_fail(NG_ERR_NOMEM, "resize: out of memory");
    }
    for (ch = 0; ch < c; ch++) {
        const unsigned char *in = src + (size_t)ch * h * w;
        unsigned char *out = dst + (size_t)ch * oh * ow;
        for (y = 0; y < h; y++)            /* horizontal pass, rounded to 8 bits */
            for (x = 0; x < ow; x++) {
                int64_t ss = (int64_t)1 << (NG__PIL_PRECISION_BITS - 1);
                const int *kw = kx + x * ksx;
                for (k = 0; k < bx[2 * x + 1]; k++) ss += (int64_t)in[y * w + bx[2 * x] + k] * kw[k];
                tmp[y * ow + x] = ng__pil_clip8(ss);
            }
        for (y = 0; y < oh; y++)           /* vertical pass */
            for (x = 0; x < ow; x++) {
                int64_t ss = (int64_t)1 << (NG__PIL_PRECISION_BITS - 1);
                const int *kw = ky + y * ksy;
                for (k = 0; k < by[2 * y + 1]; k++) ss += (int64_t)tmp[(by[2 * y] + k) * ow + x] * kw[k];
                out[y * ow + x] = ng__pil_clip8(ss);
            }
    }
    free(bx); free(by); free(kx); free(ky); free(tmp);
    return NG_OK;
}

/* ---- Fashion-MNIST for the GAN ---- */
ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out) {
    ng_idx idx;
    int64_t i, y;
    int off;
    ng_status st;
    memset(out, 0, sizeof *out);
    if ((st = ng_idx_load(images_path, &idx)) != NG_OK) return st;
    if (idx.ndim != 3 || idx.dims[1] != 28 || idx.dims[2] != 28) {
        ng_idx_free(&idx);
        return ng_fail(NG_ERR_FORMAT, "%s: not a 28x28 images file (%d dimensions)", images_path, idx.ndim);
    }
    if (pad_to < 28 || (pad_to - 28) % 2 != 0 || pad_to > 1024) {
        ng_idx_free(&idx);
        return ng_fail(NG_ERR_ARG, "%s: pad 28x28 to %d: 28 or more, with an even margin, expected", images_path, pad_to);
    }
    off = (pad_to - 28) / 2;
    st = ng__imgset_alloc(out, idx.dims[0], 1, pad_to, pad_to, 0, images_path);
    if (st == NG_OK) {
        memset(out->pixels, 0, (size_t)out->n * (size_t)pad_to * (size_t)pad_to);
        for (i = 0; i < out->n; i++)
            for (y = 0; y < 28; y++)
                memcpy(out->pixels + ((size_t)i * pad_to + (size_t)(y + off)) * pad_to + off, idx.data + (i * 28 + y) * 28, 28);
    }
    ng_idx_free(&idx);
    return st;
}

/* ---- batches ---- */
ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm) {
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, stdv[3] = {0.2470f, 0.2435f, 0.2616f};
    size_t plane = (size_t)s->h * (size_t)s->w, per = plane * (size_t)s->c;
    ng_tensor *x;
    int i, ch;
    if (norm == NG_IMAGE_NORM_CIFAR_MEANSTD && s->c != 3) {
        ng_fail(NG_ERR_ARG, "image batch: CIFAR-10 mean/std normalisation needs 3 channels, the images have %d", s->c);
        return NULL;
    }
    for (i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= s->n) {
            ng_fail(NG_ERR_ARG, "image batch: index %lld outside the set of %lld images", (long long)idx[i], (long long)s->n);
            return NULL;
        }
    x = ng_tensor_new(ctx, ng_shape4(n, s->c, s->h, s->w));
    if (!x) return NULL;
    for (i = 0; i < n; i++) {
        const unsigned char *p = s->pixels + (size_t)idx[i] * per;
        float *o = x->data + (size_t)i * per;
        for (ch = 0; ch < s->c; ch++) {
            size_t k;
            if (norm == NG_IMAGE_NORM_CIFAR_MEANSTD)
                for (k = 0; k < plane; k++) o[ch * plane + k] = ((float)p[ch * plane + k] / 255.0f - mean[ch]) / stdv[ch];
            else
                for (k = 0; k < plane; k++) o[ch * plane + k] = (float)p[ch * plane + k] / 127.5f - 1.0f;
        }
    }
    return x;
}

/* ---- PNG grids ---- */
#ifdef NG_USE_STB
typedef struct { unsigned char *buf; size_t n, cap; int failed; } ng__png_sink;
static void ng__png_write(void *ctx, void *data, int size) {
    ng__png_sink *s = (ng__png_sink *)ctx;
    if (s->failed || size <= 0) return;
    if (s->n + (size_t)size > s->cap) {
        size_t cap = (s->n + (size_t)size) * 2;
        unsigned char *p = (unsigned char *)realloc(s->buf, cap);
        if (!p) { s->failed = 1; return; }
        s->buf = p; s->cap = cap;
    }
    memcpy(s->buf + s->n, data, (size_t)size);
    s->n += (size_t)size;
}
#endif

ng_status ng_image_grid_png(const float *images, int n, int c, int h, int w, int nrow, int padding,
                            unsigned char **out, size_t *out_n) {
    int cols, rows, gw, gh, i, y, x, ch;
    unsigned char *grid;
    *out = NULL; *out_n = 0;
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || nrow < 1 || padding < 0 || h > 4096 || w > 4096 || n > 65536)
        return ng_fail(NG_ERR_ARG, "image grid: bad sizes (n %d, c %d, %dx%d, nrow %d, padding %d); 1 or 3 channels", n, c,
                       h, w, nrow, padding);
    cols = n < nrow ? n : nrow;
    rows = (n + cols - 1) / cols;
    gw = cols * (w + padding) + padding;
    gh = rows * (h + padding) + padding;
    if ((int64_t)gw * gh > ((int64_t)1 << 28)) return ng_fail(NG_ERR_ARG, "image grid: %dx%d pixels is too large", gw, gh);
    grid = (unsigned char *)calloc((size_t)gw * (size_t)gh * (size_t)c, 1);
    if (!grid) return ng_fail(NG_ERR_NOMEM, "image grid: out of memory");
    for (i = 0; i < n; i++) {
        int gx = padding + (i % cols) * (w + padding), gy = padding + (i / cols) * (h + padding);
        for (ch = 0; ch < c; ch++)
            for (y = 0; y < h; y++)
                for (x = 0; x < w; x++) {
                    float v = images[(((size_t)i * c + ch) * h + y) * w + x];
                    float q = (v + 1.0f) * 0.5f * 255.0f + 0.5f;   /* save_image: mul(255).add_(0.5).clamp_(0, 255) */
                    grid[((size_t)(gy + y) * gw + (size_t)(gx + x)) * c + ch] =
                        (unsigned char)(q != q ? 0.0f : q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q);
                }
    }
#ifdef NG_USE_STB
    {
        ng__png_sink sink;
        int ok;
        memset(&sink, 0, sizeof sink);
        ok = stbi_write_png_to_func(ng__png_write, &sink, gw, gh, c, grid, gw * c);
        free(grid);
        if (!ok || sink.failed) { free(sink.buf); return ng_fail(NG_ERR_NOMEM, "image grid: PNG encoding failed"); }
        *out = sink.buf;
        *out_n = sink.n;
        return NG_OK;
    }
#else
    free(grid);
    return ng_fail(NG_ERR_UNSUPPORTED, "image grid: PNG output needs stb_image_write (install libstb-dev and build "
                   "with -DNG_USE_STB -I/usr/include/stb, linking -lstb)");
#endif
}

ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow, int padding) {
    unsigned char *png = NULL;
    size_t len = 0;
    ng_status st = ng_image_grid_png(images, n, c, h, w, nrow, padding, &png, &len);
    if (st == NG_OK) st = ng_file_write_atomic(path, png, len);
    free(png);
    if (st != NG_OK) return ng_fail(st, "%s: %s", path, ng_last_error());
    return NG_OK;
}
