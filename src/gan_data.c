/* ======================================================================================== */
/* @@GAN_DATA                                                                               */
/* ======================================================================================== */
#ifdef NG_USE_STB
#include <stb_image_write.h>   /* declarations only: the functions come from -lstb */
#endif

void ng_image_set_free(ng_image_set *s) {
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---- CIFAR-10 ---- */

/* Checks a whole buffer of records and copies them to pixels/labels (room for n / 3073). */
static ng_status ng__cifar_decode(const unsigned char *buf, size_t n, const char *name, unsigned char *pixels,
                                  unsigned char *labels) {
    size_t r, nrec = n / NG_CIFAR10_RECORD_BYTES;
    for (r = 0; r < nrec; r++) {
        const unsigned char *rec = buf + r * NG_CIFAR10_RECORD_BYTES;
        if (rec[0] > 9)
            return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s': record %zu (byte offset %zu) has label %d; expected 0..9",
                           name, r, r * NG_CIFAR10_RECORD_BYTES, rec[0]);
        labels[r] = rec[0];
        memcpy(pixels + r * 3072, rec + 1, 3072);
    }
    return NG_OK;
}

static ng_status ng__cifar_check_size(size_t n, const char *name) {
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s' is empty", name);
    if (n % NG_CIFAR10_RECORD_BYTES != 0)
        return ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s': size %zu bytes is not a multiple of the %d-byte record "
                       "(%zu whole records and %zu bytes left over; truncated or not a CIFAR-10 binary file)",
                       name, n, NG_CIFAR10_RECORD_BYTES, n / NG_CIFAR10_RECORD_BYTES, n % NG_CIFAR10_RECORD_BYTES);
    return NG_OK;
}

static ng_status ng__image_set_alloc(ng_image_set *s, int64_t n, int c, int h, int w, int with_labels, const char *name) {
    size_t per = (size_t)c * (size_t)h * (size_t)w, total;
    memset(s, 0, sizeof *s);
    if (n < 0 || (uint64_t)n > (uint64_t)SIZE_MAX || ng_mul_size((size_t)n, per, &total))
        return ng_fail(NG_ERR_NOMEM, "'%s': %lld images of %dx%dx%d bytes overflow the address space", name,
                       (long long)n, c, h, w);
    s->pixels = (unsigned char *)malloc(total ? total : 1);
    s->labels = with_labels ? (unsigned char *)malloc(n ? (size_t)n : 1) : NULL;
    if (!s->pixels || (with_labels && !s->labels)) {
        free(s->pixels);
        free(s->labels);
        memset(s, 0, sizeof *s);
        return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %zu bytes for %lld images", name, total, (long long)n);
    }
    s->n = n;
    s->c = c;
    s->h = h;
    s->w = w;
    return NG_OK;
}

ng_status ng_cifar10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out) {
    ng_status st;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    st = ng__cifar_check_size(n, name);
    if (st != NG_OK) return st;
    st = ng__image_set_alloc(out, (int64_t)(n / NG_CIFAR10_RECORD_BYTES), 3, 32, 32, 1, name);
    if (st != NG_OK) return st;
    st = ng__cifar_decode(buf, n, name, out->pixels, out->labels);
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

static int ng__gd_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* dir/file, or dir/sub/file when only that one exists (the archive's own folder). */
static ng_status ng__gd_path(char *out, size_t cap, const char *dir, const char *sub, const char *file) {
    int k = snprintf(out, cap, "%s/%s", dir, file);
    if (k < 0 || (size_t)k >= cap) return ng_fail(NG_ERR_ARG, "path '%s/%s' is too long", dir, file);
    if (!ng__gd_exists(out)) {
        char alt[1024];
        k = snprintf(alt, sizeof alt, "%s/%s/%s", dir, sub, file);
        if (k > 0 && (size_t)k < sizeof alt && (size_t)k < cap && ng__gd_exists(alt)) memcpy(out, alt, (size_t)k + 1);
    }
    return NG_OK;
}

ng_status ng_cifar10_load_dir(const char *dir, int train, ng_image_set *out) {
    static const char *const train_files[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                               "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[1] = {"test_batch.bin"};
    const char *const *files = train ? train_files : test_files;
    int nf = train ? 5 : 1, i;
    const size_t want = (size_t)NG_CIFAR10_FILE_RECORDS * NG_CIFAR10_RECORD_BYTES;
    ng_status st;
    char path[1024];
    memset(out, 0, sizeof *out);
    if (!dir) return ng_fail(NG_ERR_ARG, "ng_cifar10_load_dir: dir is NULL");
    st = ng__image_set_alloc(out, (int64_t)nf * NG_CIFAR10_FILE_RECORDS, 3, 32, 32, 1, dir);
    if (st != NG_OK) return st;
    for (i = 0; i < nf; i++) {
        unsigned char *buf;
        size_t n;
        st = ng__gd_path(path, sizeof path, dir, "cifar-10-batches-bin", files[i]);
        if (st != NG_OK) break;
        /* a generous cap: a wrong size below it gets the precise message below */
        st = ng_file_read_all(path, 4 * want, &buf, &n);
        if (st != NG_OK) break;
        st = ng__cifar_check_size(n, path);
        if (st == NG_OK && n != want)
            st = ng_fail(NG_ERR_FORMAT, "CIFAR-10 file '%s' holds %zu records (%zu bytes); every batch file holds "
                         "exactly %d records of %d bytes (%zu bytes)", path, n / NG_CIFAR10_RECORD_BYTES, n,
                         NG_CIFAR10_FILE_RECORDS, NG_CIFAR10_RECORD_BYTES, want);
        if (st == NG_OK)
            st = ng__cifar_decode(buf, n, path, out->pixels + (size_t)i * NG_CIFAR10_FILE_RECORDS * 3072,
                                  out->labels + (size_t)i * NG_CIFAR10_FILE_RECORDS);
        free(buf);
        if (st != NG_OK) break;
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

/* ---- PIL's bilinear resample (Pillow src/libImaging/Resample.c, 8-bit path) ---- */

#define NG__PIL_PRECISION_BITS (32 - 8 - 2)

typedef struct ng__pil_coeffs {
    int ksize;
    int *bounds;      /* (out, 2): first input index, number of inputs */
    int32_t *kk;      /* (out, ksize) fixed-point weights */
} ng__pil_coeffs;

static double ng__pil_bilinear(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static void ng__pil_coeffs_free(ng__pil_coeffs *c) {
    free(c->bounds);
    free(c->kk);
    memset(c, 0, sizeof *c);
}

/* precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size) and the bilinear filter. */
static int ng__pil_coeffs_make(int in_size, int out_size, ng__pil_coeffs *c) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale, *k;
    int ksize = (int)ceil(support) * 2 + 1, xx, x;
    memset(c, 0, sizeof *c);
    c->ksize = ksize;
    c->bounds = (int *)malloc((size_t)out_size * 2 * sizeof(int));
    c->kk = (int32_t *)malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    k = (double *)malloc((size_t)ksize * sizeof(double));
    if (!c->bounds || !c->kk || !k) {
        free(k);
        ng__pil_coeffs_free(c);
        return -1;
    }
    for (xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        int32_t *kq = c->kk + (size_t)xx * ksize;
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            double wgt = ng__pil_bilinear((x + xmin - center + 0.5) * ss);
            k[x] = wgt;
            ww += wgt;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++)
            kq[x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << NG__PIL_PRECISION_BITS))
                             : (int32_t)(0.5 + k[x] * (1 << NG__PIL_PRECISION_BITS));
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return 0;
}

static unsigned char ng__pil_clip8(int32_t in) {
    int32_t v;
    if (in <= 0) return 0;
    v = in >> NG__PIL_PRECISION_BITS;
    return (unsigned char)(v > 255 ? 255 : v);
}

/* A prepared resize of one (H, W) plane to (OH, OW), following ImagingResampleInner. */
typedef struct ng__pil_plan {
    int h, w, oh, ow, need_h, need_v, ybox_first, ybox_last;
    ng__pil_coeffs ch, cv;
    unsigned char *tmp;   /* (ybox_last - ybox_first, OW) after the horizontal pass */
} ng__pil_plan;

static void ng__pil_plan_free(ng__pil_plan *p) {
    ng__pil_coeffs_free(&p->ch);
    ng__pil_coeffs_free(&p->cv);
    free(p->tmp);
    memset(p, 0, sizeof *p);
}

static int ng__pil_plan_make(ng__pil_plan *p, int h, int w, int oh, int ow) {
    int i;
    memset(p, 0, sizeof *p);
    p->h = h; p->w = w; p->oh = oh; p->ow = ow;
    p->need_h = ow != w;
    p->need_v = oh != h;
    if (ng__pil_coeffs_make(w, ow, &p->ch) || ng__pil_coeffs_make(h, oh, &p->cv)) {
        ng__pil_plan_free(p);
        return -1;
    }
    p->ybox_first = p->cv.bounds[0];
    p->ybox_last = p->cv.bounds[2 * oh - 2] + p->cv.bounds[2 * oh - 1];
    if (p->need_h) {
        for (i = 0; i < oh; i++) p->cv.bounds[2 * i] -= p->ybox_first;
        p->tmp = (unsigned char *)malloc((size_t)(p->ybox_last - p->ybox_first) * (size_t)ow + 1);
        if (!p->tmp) {
            ng__pil_plan_free(p);
            return -1;
        }
    }
    return 0;
}

static void ng__pil_plan_run(const ng__pil_plan *p, const unsigned char *src, unsigned char *dst) {
    const unsigned char *vin = src;   /* input of the vertical pass, (rows, vw) */
    int vw = p->w, yy, xx, x;
    if (p->need_h) {
        int rows = p->ybox_last - p->ybox_first;
        unsigned char *out = p->need_v ? p->tmp : dst;
        for (yy = 0; yy < rows; yy++) {
            const unsigned char *row = src + (size_t)(yy + p->ybox_first) * p->w;
            for (xx = 0; xx < p->ow; xx++) {
                int xmin = p->ch.bounds[2 * xx], xmax = p->ch.bounds[2 * xx + 1];
                const int32_t *k = p->ch.kk + (size_t)xx * p->ch.ksize;
                int32_t ss = 1 << (NG__PIL_PRECISION_BITS - 1);
                for (x = 0; x < xmax; x++) ss += (int32_t)row[x + xmin] * k[x];
                out[(size_t)yy * p->ow + xx] = ng__pil_clip8(ss);
            }
        }
        if (!p->need_v) return;
        vin = p->tmp;
        vw = p->ow;
    }
    if (p->need_v) {
        for (yy = 0; yy < p->oh; yy++) {
            int ymin = p->cv.bounds[2 * yy], ymax = p->cv.bounds[2 * yy + 1];
            const int32_t *k = p->cv.kk + (size_t)yy * p->cv.ksize;
            for (xx = 0; xx < vw; xx++) {
                int32_t ss = 1 << (NG__PIL_PRECISION_BITS - 1);
                for (x = 0; x < ymax; x++) ss += (int32_t)vin[(size_t)(x + ymin) * vw + xx] * k[x];
                dst[(size_t)yy * vw + xx] = ng__pil_clip8(ss);
            }
        }
        return;
    }
    memcpy(dst, src, (size_t)p->h * p->w);   /* same size: PIL returns a copy */
}

ng_status ng_image_resize_bilinear_pil(const unsigned char *src, int c, int h, int w, unsigned char *dst, int oh, int ow) {
    ng__pil_plan plan;
    int ch;
    if (!src || !dst || c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || h > (1 << 24) || w > (1 << 24) ||
        oh > (1 << 24) || ow > (1 << 24))
        return ng_fail(NG_ERR_ARG, "ng_image_resize_bilinear_pil: bad arguments (c %d, %dx%d -> %dx%d)", c, h, w, oh, ow);
    if (ng__pil_plan_make(&plan, h, w, oh, ow))
        return ng_fail(NG_ERR_NOMEM, "ng_image_resize_bilinear_pil: cannot allocate the coefficient tables for %dx%d -> %dx%d",
                       h, w, oh, ow);
    for (ch = 0; ch < c; ch++)
        ng__pil_plan_run(&plan, src + (size_t)ch * h * w, dst + (size_t)ch * oh * ow);
    ng__pil_plan_free(&plan);
    return NG_OK;
}

/* ---- STL-10 ---- */

/* One image: (3, 96, 96) column-major planes -> row-major (3, 96, 96). */
static void ng__stl_transpose(const unsigned char *src, unsigned char *dst) {
    int c, y, x;
    for (c = 0; c < 3; c++) {
        const unsigned char *s = src + (size_t)c * 9216;
        unsigned char *d = dst + (size_t)c * 9216;
        for (y = 0; y < 96; y++)
            for (x = 0; x < 96; x++) d[y * 96 + x] = s[x * 96 + y];
    }
}

static ng_status ng__stl_check_size(uint64_t n, const char *name) {
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "STL-10 images file '%s' is empty", name);
    if (n % NG_STL10_IMAGE_BYTES != 0)
        return ng_fail(NG_ERR_FORMAT, "STL-10 images file '%s': size %llu bytes is not a multiple of the %d bytes of "
                       "one 3x96x96 image (%llu whole images and %llu bytes left over; truncated or not an STL-10 X file)",
                       name, (unsigned long long)n, NG_STL10_IMAGE_BYTES, (unsigned long long)(n / NG_STL10_IMAGE_BYTES),
                       (unsigned long long)(n % NG_STL10_IMAGE_BYTES));
    return NG_OK;
}

ng_status ng_stl10_parse(const unsigned char *buf, size_t n, const char *name, ng_image_set *out) {
    ng_status st;
    size_t i, cnt;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    st = ng__stl_check_size((uint64_t)n, name);
    if (st != NG_OK) return st;
    cnt = n / NG_STL10_IMAGE_BYTES;
    st = ng__image_set_alloc(out, (int64_t)cnt, 3, 96, 96, 0, name);
    if (st != NG_OK) return st;
    for (i = 0; i < cnt; i++) ng__stl_transpose(buf + i * NG_STL10_IMAGE_BYTES, out->pixels + i * NG_STL10_IMAGE_BYTES);
    return NG_OK;
}

ng_status ng_stl10_parse_labels(const unsigned char *buf, size_t n, const char *name, ng_image_set *set) {
    unsigned char *lab;
    size_t i;
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s' is empty", name);
    if ((uint64_t)n != (uint64_t)set->n)
        return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s' has %zu labels (bytes) but there are %lld images",
                       name, n, (long long)set->n);
    for (i = 0; i < n; i++)
        if (buf[i] < 1 || buf[i] > 10)
            return ng_fail(NG_ERR_FORMAT, "STL-10 labels file '%s': label %d at index %zu is outside 1..10", name, buf[i], i);
    lab = (unsigned char *)malloc(n);
    if (!lab) return ng_fail(NG_ERR_NOMEM, "STL-10 labels file '%s': cannot allocate %zu bytes", name, n);
    for (i = 0; i < n; i++) lab[i] = (unsigned char)(buf[i] - 1);
    free(set->labels);
    set->labels = lab;
    return NG_OK;
}

/* Open an X file and count its images (size checked). */
static ng_status ng__stl_open(const char *path, FILE **fp, int64_t *count) {
    FILE *f;
    uint64_t size;
    ng_status st;
    *fp = NULL;
    *count = 0;
    f = fopen(path, "rb");
    if (!f) return ng_fail(NG_ERR_IO, "cannot open STL-10 images file '%s': %s", path, strerror(errno));
#ifndef _WIN32
    {
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0) {
            fclose(f);
            return ng_fail(NG_ERR_IO, "cannot read STL-10 images file '%s': not a regular file", path);
        }
        size = (uint64_t)sb.st_size;
    }
#else
    {
        long e;
        if (fseek(f, 0, SEEK_END) != 0 || (e = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return ng_fail(NG_ERR_IO, "cannot find the size of STL-10 images file '%s'", path);
        }
        size = (uint64_t)e;
    }
#endif
    st = ng__stl_check_size(size, path);
    if (st != NG_OK) {
        fclose(f);
        return st;
    }
    *fp = f;
    *count = (int64_t)(size / NG_STL10_IMAGE_BYTES);
    return NG_OK;
}

/* Stream `count` images from f into dst (size x size), transposing and resizing each. */
static ng_status ng__stl_read(FILE *f, const char *path, int64_t count, int size, const ng__pil_plan *plan,
                              unsigned char *dst) {
    unsigned char *raw = (unsigned char *)malloc(2 * NG_STL10_IMAGE_BYTES);
    unsigned char *rm = raw ? raw + NG_STL10_IMAGE_BYTES : NULL;
    size_t out_per = (size_t)3 * size * size;
    int64_t i;
    int c;
    if (!raw) return ng_fail(NG_ERR_NOMEM, "STL-10 '%s': cannot allocate a read buffer", path);
    for (i = 0; i < count; i++) {
        size_t got = fread(raw, 1, NG_STL10_IMAGE_BYTES, f);
        if (got != NG_STL10_IMAGE_BYTES) {
            free(raw);
            return ng_fail(NG_ERR_IO, "STL-10 images file '%s': read failed at image %lld (byte offset %llu): %s", path,
                           (long long)i, (unsigned long long)i * NG_STL10_IMAGE_BYTES,
                           ferror(f) ? strerror(errno) : "the file ended early (it shrank while being read)");
        }
        if (size == 96) {
            ng__stl_transpose(raw, dst + (size_t)i * out_per);
        } else {
            ng__stl_transpose(raw, rm);
            for (c = 0; c < 3; c++) ng__pil_plan_run(plan, rm + (size_t)c * 9216, dst + (size_t)i * out_per + (size_t)c * size * size);
        }
    }
    free(raw);
    return NG_OK;
}

static ng_status ng__stl_labels_file(const char *path, ng_image_set *set) {
    unsigned char *buf;
    size_t n;
    ng_status st = ng_file_read_all(path, (size_t)set->n + 1, &buf, &n);
    if (st != NG_OK) return st;
    st = ng_stl10_parse_labels(buf, n, path, set);
    free(buf);
    return st;
}

ng_status ng_stl10_load_dir(const char *dir, const char *split, int size, ng_image_set *out) {
    const char *xf[2] = {NULL, NULL}, *yf = NULL;
    char path[2][1024], ypath[1024];
    FILE *f[2] = {NULL, NULL};
    int64_t cnt[2] = {0, 0}, total = 0;
    int nf, i;
    ng__pil_plan plan;
    ng_status st = NG_OK;
    memset(out, 0, sizeof *out);
    memset(&plan, 0, sizeof plan);
    if (!dir || !split) return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: dir or split is NULL");
    if (size != 96 && size != 48)
        return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: size %d is not supported (96 or 48)", size);
    if (strcmp(split, "train") == 0) { xf[0] = "train_X.bin"; yf = "train_y.bin"; }
    else if (strcmp(split, "test") == 0) { xf[0] = "test_X.bin"; yf = "test_y.bin"; }
    else if (strcmp(split, "unlabeled") == 0) { xf[0] = "unlabeled_X.bin"; }
    else if (strcmp(split, "train+unlabeled") == 0) { xf[0] = "train_X.bin"; xf[1] = "unlabeled_X.bin"; }
    else return ng_fail(NG_ERR_ARG, "ng_stl10_load_dir: unknown split '%s' (train, test, unlabeled or train+unlabeled)", split);
    nf = xf[1] ? 2 : 1;
    for (i = 0; i < nf && st == NG_OK; i++) {
        st = ng__gd_path(path[i], sizeof path[i], dir, "stl10_binary", xf[i]);
        if (st == NG_OK) st = ng__stl_open(path[i], &f[i], &cnt[i]);
        total += cnt[i];
    }
    if (st == NG_OK && size != 96 && ng__pil_plan_make(&plan, 96, 96, size, size))
        st = ng_fail(NG_ERR_NOMEM, "ng_stl10_load_dir: cannot allocate the resize tables");
    if (st == NG_OK) st = ng__image_set_alloc(out, total, 3, size, size, 0, path[0]);
    for (i = 0; i < nf && st == NG_OK; i++)
        st = ng__stl_read(f[i], path[i], cnt[i], size, &plan,
                          out->pixels + (size_t)(i ? cnt[0] : 0) * 3 * (size_t)size * (size_t)size);
    for (i = 0; i < nf; i++)
        if (f[i]) fclose(f[i]);
    ng__pil_plan_free(&plan);
    if (st == NG_OK && yf) {
        st = ng__gd_path(ypath, sizeof ypath, dir, "stl10_binary", yf);
        if (st == NG_OK) st = ng__stl_labels_file(ypath, out);
    }
    if (st != NG_OK) ng_image_set_free(out);
    return st;
}

/* ---- Fashion-MNIST for the GAN ---- */

ng_status ng_fmnist_gan_load(const char *images_path, int pad_to, ng_image_set *out) {
    ng_idx im;
    ng_status st;
    int64_t i, h, w;
    int top, left, y;
    memset(out, 0, sizeof *out);
    if (!images_path) return ng_fail(NG_ERR_ARG, "ng_fmnist_gan_load: images_path is NULL");
    st = ng_idx_load(images_path, &im);
    if (st != NG_OK) return st;
    if (im.ndim != 3) {
        st = ng_fail(NG_ERR_FORMAT, "images file '%s' has %d dimensions; expected 3 (N, H, W)", images_path, im.ndim);
        ng_idx_free(&im);
        return st;
    }
    h = im.dims[1];
    w = im.dims[2];
    if (pad_to < h || pad_to < w || pad_to > 4096) {
        st = ng_fail(NG_ERR_ARG, "ng_fmnist_gan_load: pad_to %d is smaller than the %lldx%lld images of '%s' (or above 4096)",
                     pad_to, (long long)h, (long long)w, images_path);
        ng_idx_free(&im);
        return st;
    }
    st = ng__image_set_alloc(out, im.dims[0], 1, pad_to, pad_to, 0, images_path);
    if (st != NG_OK) {
        ng_idx_free(&im);
        return st;
    }
    top = (int)((pad_to - h) / 2);
    left = (int)((pad_to - w) / 2);
    memset(out->pixels, 0, (size_t)out->n * (size_t)pad_to * (size_t)pad_to);
    for (i = 0; i < out->n; i++)
        for (y = 0; y < (int)h; y++)
            memcpy(out->pixels + ((size_t)i * pad_to + (size_t)(y + top)) * pad_to + left,
                   im.data + ((size_t)i * h + (size_t)y) * w, (size_t)w);
    ng_idx_free(&im);
    return NG_OK;
}

/* ---- batches and splits ---- */

static ng_tensor *ng__gd_bad(ng_ctx *ctx, ng_status code, const char *msg, long long a, long long b) {
    if (ctx->status == NG_OK) {
        ctx->status = code;
        ng_fail(code, "ng_image_set_batch: %s (%lld, %lld)", msg, a, b);
    }
    return NULL;
}

ng_tensor *ng_image_set_batch(ng_ctx *ctx, const ng_image_set *s, const int64_t *idx, int n, ng_image_norm norm) {
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, stdv[3] = {0.2470f, 0.2435f, 0.2616f};
    ng_tensor *t;
    float *host;
    size_t plane, per;
    int i, ch;
    if (ctx->status != NG_OK) return NULL;
    if (!s || !s->pixels || !idx || n < 1) return ng__gd_bad(ctx, NG_ERR_ARG, "empty set, NULL indices or n < 1: n, set size", n, s ? (long long)s->n : 0);
    if (norm != NG_IMAGE_NORM_PM1 && norm != NG_IMAGE_NORM_CIFAR_MEANSTD)
        return ng__gd_bad(ctx, NG_ERR_ARG, "unknown norm (norm, channels)", (long long)norm, s->c);
    if (norm == NG_IMAGE_NORM_CIFAR_MEANSTD && s->c != 3)
        return ng__gd_bad(ctx, NG_ERR_ARG, "NG_IMAGE_NORM_CIFAR_MEANSTD needs 3 channels (norm, channels)", (long long)norm, s->c);
    for (i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= s->n) return ng__gd_bad(ctx, NG_ERR_ARG, "index outside the set (index, set size)", (long long)idx[i], (long long)s->n);
    t = ng_tensor_new(ctx, ng_shape4(n, s->c, s->h, s->w));
    host = ng_tensor_host_write(ctx, t);
    if (!host) return NULL;
    plane = (size_t)s->h * (size_t)s->w;
    per = plane * (size_t)s->c;
    for (i = 0; i < n; i++) {
        const unsigned char *px = s->pixels + (size_t)idx[i] * per;
        float *o = host + (size_t)i * per;
        size_t j;
        if (norm == NG_IMAGE_NORM_PM1) {
            for (j = 0; j < per; j++) o[j] = (float)px[j] / 127.5f - 1.0f;
        } else {
            /* ToTensor (x / 255) then Normalize ((x - mean) / std), in float32 as torchvision */
            for (ch = 0; ch < 3; ch++)
                for (j = 0; j < plane; j++) {
                    float v = (float)px[ch * plane + j] / 255.0f;
                    o[ch * plane + j] = (v - mean[ch]) / stdv[ch];
                }
        }
    }
    return ng_tensor_host_done(t, host) == NG_OK ? t : NULL;
}

void ng_image_set_split_half(int64_t n, int64_t *first_len) {
    *first_len = n > 0 ? n / 2 : 0;
}

void ng_sample_indices(ng_rng *r, int64_t begin, int64_t end, int n, int64_t *out) {
    int i;
    NG_ASSERT(end > begin && n >= 0);
    for (i = 0; i < n; i++) out[i] = begin + (int64_t)ng_rng_below(r, (uint64_t)(end - begin));
}

/* ---- PNG grids ---- */

#ifdef NG_USE_STB
typedef struct ng__png_buf {
    unsigned char *data;
    size_t n, cap;
    int failed;
} ng__png_buf;

static void ng__png_write(void *context, void *data, int size) {
    ng__png_buf *b = (ng__png_buf *)context;
    if (b->failed || size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;
        while (cap < b->n + (size_t)size) cap *= 2;
        p = (unsigned char *)realloc(b->data, cap);
        if (!p) { b->failed = 1; return; }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

/* torchvision save_image: (x + 1) / 2, then mul(255).add_(0.5).clamp_(0, 255), truncated */
static unsigned char ng__grid_u8(float x) {
    float v = (x + 1.0f) / 2.0f;
    v = v * 255.0f + 0.5f;
    if (!(v > 0.0f)) return 0;          /* also NaN */
    if (v >= 255.0f) return 255;
    return (unsigned char)v;
}
#endif


ng_status ng_save_image_grid(const char *path, const float *images, int n, int c, int h, int w, int nrow, int padding) {
    int64_t ncol, nrows, gw, gh;
    if (!path || !images || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || nrow < 1 || padding < 0)
        return ng_fail(NG_ERR_ARG, "ng_save_image_grid('%s'): bad arguments (n %d, c %d (1 or 3), %dx%d, nrow %d, padding %d)",
                       path ? path : "(null)", n, c, h, w, nrow, padding);
    ncol = nrow < n ? nrow : n;
    nrows = (n + ncol - 1) / ncol;
    if (n == 1) padding = 0;   /* make_grid returns a single image as it is */
    gw = ncol * ((int64_t)w + padding) + padding;
    gh = nrows * ((int64_t)h + padding) + padding;
    if (gw > (1 << 24) || gh > (1 << 24) || gw * gh > ((int64_t)1 << 30))
        return ng_fail(NG_ERR_ARG, "ng_save_image_grid('%s'): a %lldx%lld grid is too large", path, (long long)gw, (long long)gh);
#ifndef NG_USE_STB
    return ng_fail(NG_ERR_UNSUPPORTED, "ng_save_image_grid('%s'): this build has no PNG writer; rebuild with -DNG_USE_STB "
                   "(Debian: apt-get install libstb-dev, then -DNG_USE_STB -I/usr/include/stb ... -lstb)", path);
#else
    {
        unsigned char *px = (unsigned char *)calloc((size_t)(gw * gh * c), 1);
        ng__png_buf b;
        ng_status st;
        int k, ch, y, x;
        if (!px) return ng_fail(NG_ERR_NOMEM, "ng_save_image_grid('%s'): cannot allocate %lldx%lld pixels", path, (long long)gw, (long long)gh);
        for (k = 0; k < n; k++) {
            int64_t oy = (k / ncol) * ((int64_t)h + padding) + padding, ox = (k % ncol) * ((int64_t)w + padding) + padding;
            const float *img = images + (size_t)k * c * h * w;
            for (ch = 0; ch < c; ch++)
                for (y = 0; y < h; y++)
                    for (x = 0; x < w; x++)
                        px[((size_t)(oy + y) * gw + (size_t)(ox + x)) * c + ch] = ng__grid_u8(img[((size_t)ch * h + y) * w + x]);
        }
        memset(&b, 0, sizeof b);
        if (!stbi_write_png_to_func(ng__png_write, &b, (int)gw, (int)gh, c, px, (int)(gw * c)) || b.failed || b.n == 0) {
            free(px);
            free(b.data);
            return ng_fail(NG_ERR_NOMEM, "ng_save_image_grid('%s'): PNG encoding of a %lldx%lld image failed", path,
                           (long long)gw, (long long)gh);
        }
        free(px);
        st = ng_file_write_atomic(path, b.data, b.n);
        free(b.data);
        return st;
    }
#endif
}
