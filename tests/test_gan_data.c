/* Image sets for the GAN search: CIFAR-10 and STL-10 binary files crafted in the test tmpdir
   (valid and broken), PIL's bilinear resize against tests/fixtures/pil_resize.ngfx, the
   Fashion-MNIST padding, batch normalisation and PNG sample grids. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include <unistd.h>
#include <sys/stat.h>
#ifdef NG_USE_STB
#include <stb_image.h>   /* stbi_load_from_memory, from -lstb (libstb-dev) */
#endif

static void gd_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", ng_test_tmpdir(), name); }

static void gd_put(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void gd_mkdir(const char *path) { CHECK_MSG(mkdir(path, 0700) == 0, "mkdir %s", path); }

#define GD_HAS(s) (strstr(ng_last_error(), (s)) != NULL)

/* ---- CIFAR-10 ---- */

static unsigned char cifar_px(int64_t r, int c, int y, int x, int salt) { return (unsigned char)(r * 31 + c * 101 + y * 7 + x * 3 + salt * 13); }
static unsigned char cifar_label(int64_t r, int salt) { return (unsigned char)((r * 7 + salt) % 10); }

/* nrec records of the CIFAR-10 binary format with the pattern above. */
static unsigned char *cifar_bytes(int64_t nrec, int salt) {
    unsigned char *b = (unsigned char *)malloc((size_t)nrec * 3073);
    int64_t r;
    int c, y, x;
    if (!b) return NULL;
    for (r = 0; r < nrec; r++) {
        unsigned char *rec = b + r * 3073;
        rec[0] = cifar_label(r, salt);
        for (c = 0; c < 3; c++)
            for (y = 0; y < 32; y++)
                for (x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = cifar_px(r, c, y, x, salt);
    }
    return b;
}

static int cifar_check(const ng_image_set *s, int64_t i, int64_t r, int salt) {
    int c, y, x;
    if (s->labels[i] != cifar_label(r, salt)) return 0;
    for (c = 0; c < 3; c++)
        for (y = 0; y < 32; y++)
            for (x = 0; x < 32; x++)
                if (s->pixels[((i * 3 + c) * 32 + y) * 32 + x] != cifar_px(r, c, y, x, salt)) return 0;
    return 1;
}

TEST(gan_data_cifar10_parse) {
    unsigned char *b = cifar_bytes(3, 0);
    ng_image_set s;
    int64_t r;
    if (!b) return;
    CHECK_OK(ng_cifar10_parse(b, 3 * 3073, "three.bin", &s));
    CHECK(s.n == 3 && s.c == 3 && s.h == 32 && s.w == 32 && s.labels != NULL);
    for (r = 0; r < 3 && s.pixels; r++) CHECK_MSG(cifar_check(&s, r, r, 0), "record %lld misplaced", (long long)r);
    /* spot values: R plane first, then G, then B, each row-major */
    CHECK(s.pixels[0] == b[1] && s.pixels[1024] == b[1025] && s.pixels[2048 + 33] == b[1 + 2048 + 33]);
    CHECK(s.pixels[3072] == b[3073 + 1]);
    ng_image_set_free(&s);
    CHECK(s.pixels == NULL && s.labels == NULL && s.n == 0);
    ng_image_set_free(&s); /* twice is fine */

    /* empty, truncated, one byte too many, wrong label */
    CHECK(ng_cifar10_parse(b, 0, "empty.bin", &s) == NG_ERR_FORMAT && GD_HAS("empty.bin") && GD_HAS("empty"));
    CHECK(s.pixels == NULL);
    CHECK(ng_cifar10_parse(b, 2 * 3073 - 5, "cut.bin", &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS("'cut.bin'") && GD_HAS("6141 bytes") && GD_HAS("3073"), "%s", ng_last_error());
    CHECK(ng_cifar10_parse(b, 3073 + 1, "long.bin", &s) == NG_ERR_FORMAT && GD_HAS("long.bin") && GD_HAS("3074 bytes"));
    b[2 * 3073] = 10;
    CHECK(ng_cifar10_parse(b, 3 * 3073, "lab.bin", &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS("'lab.bin'") && GD_HAS("record 2") && GD_HAS("label 10"), "%s", ng_last_error());
    CHECK(s.pixels == NULL && s.labels == NULL && s.n == 0);
    b[2 * 3073] = 255;
    CHECK(ng_cifar10_parse(b, 3 * 3073, "lab.bin", &s) == NG_ERR_FORMAT && GD_HAS("label 255"));
    free(b);
}

TEST(gan_data_cifar10_load_dir) {
    char dir[512], sub[600], p[700], name[64];
    const int64_t per = NG_CIFAR10_FILE_RECORDS;
    ng_image_set s;
    unsigned char *b;
    int k;
    gd_path(dir, sizeof dir, "cifar");
    gd_mkdir(dir);
    /* nothing there: the message names the first missing file */
    CHECK(ng_cifar10_load_dir(dir, 0, &s) == NG_ERR_IO);
    CHECK_MSG(GD_HAS(dir) && GD_HAS("test_batch.bin"), "%s", ng_last_error());
    CHECK(s.pixels == NULL && s.n == 0);
    /* a batch file with 2 records: parses, but is not a CIFAR-10 batch file */
    b = cifar_bytes(2, 0);
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    gd_put(p, b, 2 * 3073);
    free(b);
    CHECK(ng_cifar10_load_dir(dir, 0, &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS(p) && GD_HAS("holds 2 records") && GD_HAS("10000"), "%s", ng_last_error());
    /* truncated test file */
    b = cifar_bytes(per, 9);
    if (!b) return;
    gd_put(p, b, (size_t)per * 3073 - 1);
    CHECK(ng_cifar10_load_dir(dir, 0, &s) == NG_ERR_FORMAT && GD_HAS(p) && GD_HAS("not a multiple"));
    /* the real size */
    gd_put(p, b, (size_t)per * 3073);
    CHECK_OK(ng_cifar10_load_dir(dir, 0, &s));
    CHECK(s.n == per && s.c == 3 && s.h == 32 && s.w == 32);
    if (s.n == per) {
        CHECK(cifar_check(&s, 0, 0, 9) && cifar_check(&s, 4321, 4321, 9) && cifar_check(&s, per - 1, per - 1, 9));
    }
    ng_image_set_free(&s);
    free(b);
    remove(p);
    /* train: five files in the archive's subdirectory, concatenated in order 1..5; a wrong
       label deep in file 4 and a missing file 3 are reported with their names */
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    gd_mkdir(sub);
    for (k = 1; k <= 5; k++) {
        if (k == 3) continue;
        b = cifar_bytes(per, k);
        if (!b) return;
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        snprintf(p, sizeof p, "%s/%s", sub, name);
        if (k == 4) b[(size_t)777 * 3073] = 12;
        gd_put(p, b, (size_t)per * 3073);
        free(b);
    }
    CHECK(ng_cifar10_load_dir(dir, 1, &s) == NG_ERR_IO);
    CHECK_MSG(GD_HAS("data_batch_3.bin") && GD_HAS(dir), "%s", ng_last_error());
    b = cifar_bytes(per, 3);
    if (!b) return;
    snprintf(p, sizeof p, "%s/data_batch_3.bin", sub);
    gd_put(p, b, (size_t)per * 3073);
    free(b);
    CHECK(ng_cifar10_load_dir(dir, 1, &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS("data_batch_4.bin") && GD_HAS("record 777") && GD_HAS("label 12"), "%s", ng_last_error());
    b = cifar_bytes(per, 4);
    if (!b) return;
    snprintf(p, sizeof p, "%s/data_batch_4.bin", sub);
    gd_put(p, b, (size_t)per * 3073);
    free(b);
    CHECK_OK(ng_cifar10_load_dir(dir, 1, &s));
    CHECK(s.n == 5 * per && s.labels != NULL);
    if (s.n == 5 * per)
        for (k = 1; k <= 5; k++) {
            CHECK_MSG(cifar_check(&s, (k - 1) * per, 0, k) && cifar_check(&s, (k - 1) * per + 5000, 5000, k) &&
                      cifar_check(&s, k * per - 1, per - 1, k), "file %d misplaced", k);
        }
    ng_image_set_free(&s);
    for (k = 1; k <= 5; k++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", sub, k);
        remove(p);
    }
}

/* ---- STL-10 ---- */

static unsigned char stl_px(int64_t i, int c, int y, int x) { return (unsigned char)(i * 17 + c * 85 + y * 5 + x * 11 + (x * y) % 7); }

/* n images in the STL-10 X layout: plane c of image i at byte c*9216 + x*96 + y holds (y, x). */
static unsigned char *stl_bytes(int64_t n, int64_t first) {
    unsigned char *b = (unsigned char *)malloc((size_t)n * NG_STL10_IMAGE_BYTES);
    int64_t i;
    int c, y, x;
    if (!b) return NULL;
    for (i = 0; i < n; i++)
        for (c = 0; c < 3; c++)
            for (y = 0; y < 96; y++)
                for (x = 0; x < 96; x++) b[i * NG_STL10_IMAGE_BYTES + c * 9216 + x * 96 + y] = stl_px(first + i, c, y, x);
    return b;
}

static int stl_check96(const ng_image_set *s, int64_t i, int64_t img) {
    int c, y, x;
    for (c = 0; c < 3; c++)
        for (y = 0; y < 96; y++)
            for (x = 0; x < 96; x++)
                if (s->pixels[((i * 3 + c) * 96 + y) * 96 + x] != stl_px(img, c, y, x)) return 0;
    return 1;
}

TEST(gan_data_stl10_parse) {
    unsigned char *b = stl_bytes(2, 0), lab[3] = {1, 10, 5};
    ng_image_set s;
    if (!b) return;
    CHECK_OK(ng_stl10_parse(b, 2 * NG_STL10_IMAGE_BYTES, "x.bin", &s));
    CHECK(s.n == 2 && s.c == 3 && s.h == 96 && s.w == 96 && s.labels == NULL);
    if (s.pixels) {
        CHECK(stl_check96(&s, 0, 0) && stl_check96(&s, 1, 1));
        /* the transpose, spelled out: stored byte (col 5, row 2) is pixel row 2, col 5 */
        CHECK(s.pixels[2 * 96 + 5] == b[5 * 96 + 2] && s.pixels[9216 + 95 * 96] == b[9216 + 95]);
    }
    CHECK_OK(ng_stl10_parse_labels(lab, 2, "y.bin", &s));
    CHECK(s.labels && s.labels[0] == 0 && s.labels[1] == 9);
    CHECK(ng_stl10_parse_labels(lab, 3, "y3.bin", &s) == NG_ERR_FORMAT && GD_HAS("'y3.bin'") && GD_HAS("3 labels") && GD_HAS("2 images"));
    lab[1] = 0;
    CHECK(ng_stl10_parse_labels(lab, 2, "y0.bin", &s) == NG_ERR_FORMAT && GD_HAS("'y0.bin'") && GD_HAS("label 0 at index 1"));
    lab[1] = 11;
    CHECK(ng_stl10_parse_labels(lab, 2, "y11.bin", &s) == NG_ERR_FORMAT && GD_HAS("label 11 at index 1"));
    CHECK(ng_stl10_parse_labels(lab, 0, "yempty.bin", &s) == NG_ERR_FORMAT && GD_HAS("yempty.bin") && GD_HAS("empty"));
    CHECK(s.labels && s.labels[1] == 9); /* unchanged by the failures */
    ng_image_set_free(&s);
    CHECK(ng_stl10_parse(b, 0, "x0.bin", &s) == NG_ERR_FORMAT && GD_HAS("x0.bin") && GD_HAS("empty"));
    CHECK(ng_stl10_parse(b, NG_STL10_IMAGE_BYTES + 100, "xlong.bin", &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS("'xlong.bin'") && GD_HAS("27748 bytes") && GD_HAS("27648"), "%s", ng_last_error());
    CHECK(ng_stl10_parse(b, NG_STL10_IMAGE_BYTES - 1, "xcut.bin", &s) == NG_ERR_FORMAT && GD_HAS("xcut.bin"));
    CHECK(s.pixels == NULL && s.n == 0);
    free(b);
}

TEST(gan_data_stl10_load_dir) {
    char dir[512], sub[600], p[700];
    unsigned char *b, lab[3] = {3, 1, 10};
    unsigned char ref[3 * 48 * 48], *img96;
    ng_image_set s;
    int64_t i;
    gd_path(dir, sizeof dir, "stl");
    gd_mkdir(dir);
    snprintf(sub, sizeof sub, "%s/stl10_binary", dir);
    gd_mkdir(sub);
    CHECK(ng_stl10_load_dir(dir, "train", 96, &s) == NG_ERR_IO && GD_HAS(dir) && GD_HAS("train_X.bin"));
    /* train: 3 images + labels in the archive's folder; unlabeled: 2 images in dir itself */
    b = stl_bytes(3, 0);
    if (!b) return;
    snprintf(p, sizeof p, "%s/train_X.bin", sub);
    gd_put(p, b, 3 * NG_STL10_IMAGE_BYTES);
    free(b);
    CHECK(ng_stl10_load_dir(dir, "train", 96, &s) == NG_ERR_IO && GD_HAS("train_y.bin"));
    CHECK(s.pixels == NULL);
    snprintf(p, sizeof p, "%s/train_y.bin", sub);
    gd_put(p, lab, 2);
    CHECK(ng_stl10_load_dir(dir, "train", 96, &s) == NG_ERR_FORMAT && GD_HAS(p) && GD_HAS("2 labels"));
    gd_put(p, lab, 3);
    CHECK_OK(ng_stl10_load_dir(dir, "train", 96, &s));
    CHECK(s.n == 3 && s.labels && s.labels[0] == 2 && s.labels[2] == 9);
    if (s.n == 3) CHECK(stl_check96(&s, 0, 0) && stl_check96(&s, 2, 2));
    ng_image_set_free(&s);
    CHECK(ng_stl10_load_dir(dir, "train+unlabeled", 96, &s) == NG_ERR_IO && GD_HAS("unlabeled_X.bin"));
    b = stl_bytes(2, 3);
    if (!b) return;
    snprintf(p, sizeof p, "%s/unlabeled_X.bin", dir);
    gd_put(p, b, 2 * NG_STL10_IMAGE_BYTES - 1);
    CHECK(ng_stl10_load_dir(dir, "unlabeled", 96, &s) == NG_ERR_FORMAT);
    CHECK_MSG(GD_HAS(p) && GD_HAS("55295 bytes") && GD_HAS("not a multiple"), "%s", ng_last_error());
    gd_put(p, b, 2 * NG_STL10_IMAGE_BYTES);
    free(b);
    CHECK_OK(ng_stl10_load_dir(dir, "train+unlabeled", 96, &s));
    CHECK(s.n == 5 && s.labels == NULL);
    for (i = 0; i < 5 && s.n == 5; i++) CHECK_MSG(stl_check96(&s, i, i), "image %lld", (long long)i);
    /* 48: every image is PIL's bilinear resize of the (transposed) 96x96 image */
    img96 = s.n == 5 ? s.pixels + 4 * (size_t)NG_STL10_IMAGE_BYTES : NULL;
    if (img96) CHECK_OK(ng_image_resize_bilinear_pil(img96, 3, 96, 96, ref, 48, 48));
    {
        ng_image_set t;
        CHECK_OK(ng_stl10_load_dir(dir, "train+unlabeled", 48, &t));
        CHECK(t.n == 5 && t.c == 3 && t.h == 48 && t.w == 48 && t.labels == NULL);
        if (t.n == 5 && img96) CHECK(memcmp(t.pixels + 4 * sizeof ref, ref, sizeof ref) == 0);
        ng_image_set_free(&t);
    }
    ng_image_set_free(&s);
    CHECK_OK(ng_stl10_load_dir(dir, "unlabeled", 48, &s));
    CHECK(s.n == 2 && s.labels == NULL);
    if (s.n == 2 && img96) CHECK(memcmp(s.pixels + sizeof ref, ref, sizeof ref) == 0); /* image 4 above is image 1 here */
    ng_image_set_free(&s);
    CHECK(ng_stl10_load_dir(dir, "test", 96, &s) == NG_ERR_IO && GD_HAS("test_X.bin"));
    CHECK(ng_stl10_load_dir(dir, "valid", 96, &s) == NG_ERR_ARG && GD_HAS("valid"));
    CHECK(ng_stl10_load_dir(dir, "train", 64, &s) == NG_ERR_ARG && GD_HAS("64"));
    /* a label outside 1..10 in the y file */
    lab[1] = 0;
    snprintf(p, sizeof p, "%s/train_y.bin", sub);
    gd_put(p, lab, 3);
    CHECK(ng_stl10_load_dir(dir, "train", 48, &s) == NG_ERR_FORMAT && GD_HAS(p) && GD_HAS("label 0 at index 1"));
    CHECK(s.pixels == NULL && s.n == 0);
}

/* ---- PIL resize ---- */

static void pil_pattern(unsigned char *out, int c, int h, int w, int kind, uint32_t seed) {
    int ch, y, x;
    size_t i = 0;
    uint32_t s = seed;
    for (ch = 0; ch < c; ch++)
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++, i++) {
                if (kind == 0) {
                    s = s * 1664525u + 1013904223u;
                    out[i] = (unsigned char)(s >> 24);
                } else {
                    out[i] = (unsigned char)((3 * x + 2 * y + 50 * ch + 64 * ((x / 8 + y / 8) % 2) + (int)seed) % 256);
                }
            }
}

TEST(gan_data_resize_matches_pil) {
    static const char *cases[] = {"stl_random", "stl_smooth", "down3", "mixed", "up", "up_down", "same_w", "same_h", "tiny"};
    fx_file *f = fx_open("pil_resize");
    size_t k;
    CHECK_MSG(f != NULL, "%s", ng_last_error());
    if (!f) return;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char nm[128];
        const fx_array *cfg, *head, *y;
        unsigned char *in, *out;
        int c, h, w, oh, ow, j, maxd = 0, ndiff = 0;
        snprintf(nm, sizeof nm, "%s/cfg", cases[k]);
        cfg = fx_find(f, nm);
        snprintf(nm, sizeof nm, "%s/head", cases[k]);
        head = fx_find(f, nm);
        snprintf(nm, sizeof nm, "%s/y", cases[k]);
        y = fx_find(f, nm);
        CHECK_MSG(cfg && head && y && cfg->i && y->i && cfg->n == 7, "%s: missing arrays", cases[k]);
        if (!cfg || !head || !y || !cfg->i || !y->i || cfg->n != 7) continue;
        c = cfg->i[0]; h = cfg->i[1]; w = cfg->i[2]; oh = cfg->i[3]; ow = cfg->i[4];
        CHECK(y->n == (int64_t)c * oh * ow);
        in = (unsigned char *)malloc((size_t)c * h * w);
        out = (unsigned char *)malloc((size_t)c * oh * ow);
        if (!in || !out || y->n != (int64_t)c * oh * ow) { free(in); free(out); continue; }
        pil_pattern(in, c, h, w, cfg->i[5], (uint32_t)cfg->i[6]);
        for (j = 0; j < 16 && j < (int)head->n; j++) CHECK_MSG(in[j] == head->i[j], "%s: input generator differs at %d", cases[k], j);
        CHECK_OK(ng_image_resize_bilinear_pil(in, c, h, w, out, oh, ow));
        for (j = 0; j < (int)y->n; j++) {
            int d = abs((int)out[j] - y->i[j]);
            if (d) ndiff++;
            if (d > maxd) maxd = d;
        }
        /* Pillow's fixed-point algorithm is reproduced exactly: no pixel may differ */
        CHECK_MSG(ndiff == 0, "%s (%dx%dx%d -> %dx%d): %d pixels differ from PIL, max %d levels", cases[k], c, h, w, oh, ow,
                  ndiff, maxd);
        free(in);
        free(out);
    }
    fx_free(f);
    {
        unsigned char a[4] = {0, 0, 0, 0}, o[4];
        CHECK(ng_image_resize_bilinear_pil(a, 1, 2, 2, o, 0, 2) == NG_ERR_ARG);
        CHECK(ng_image_resize_bilinear_pil(NULL, 1, 2, 2, o, 2, 2) == NG_ERR_ARG);
        CHECK_OK(ng_image_resize_bilinear_pil(a, 1, 2, 2, o, 2, 2));
        a[0] = 200; a[3] = 7;
        CHECK_OK(ng_image_resize_bilinear_pil(a, 1, 2, 2, o, 2, 2));
        CHECK(o[0] == 200 && o[1] == 0 && o[3] == 7); /* same size: a copy */
        CHECK_OK(ng_image_resize_bilinear_pil(a, 1, 2, 2, o, 1, 1));
        CHECK(o[0] == 52); /* (200 + 7) / 4 = 51.75 -> 52 */
    }
}

/* ---- Fashion-MNIST ---- */

TEST(gan_data_fmnist_pad) {
    char p[512];
    unsigned char *f = (unsigned char *)malloc(16 + 2 * 28 * 28);
    ng_image_set s;
    int i, y, x, bad = 0;
    if (!f) return;
    f[0] = 0; f[1] = 0; f[2] = 8; f[3] = 3;
    f[4] = 0; f[5] = 0; f[6] = 0; f[7] = 2;
    f[8] = 0; f[9] = 0; f[10] = 0; f[11] = 28;
    f[12] = 0; f[13] = 0; f[14] = 0; f[15] = 28;
    for (i = 0; i < 2 * 28 * 28; i++) f[16 + i] = (unsigned char)(1 + i % 250);  /* never 0 */
    gd_path(p, sizeof p, "fmnist-idx3-ubyte");
    gd_put(p, f, 16 + 2 * 28 * 28);
    CHECK_OK(ng_fmnist_gan_load(p, 32, &s));
    CHECK(s.n == 2 && s.c == 1 && s.h == 32 && s.w == 32 && s.labels == NULL);
    for (i = 0; i < 2 && s.n == 2; i++)
        for (y = 0; y < 32; y++)
            for (x = 0; x < 32; x++) {
                unsigned char v = s.pixels[(i * 32 + y) * 32 + x];
                int inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                unsigned char want = inside ? f[16 + (i * 28 + y - 2) * 28 + x - 2] : 0;
                if (v != want) bad++;
            }
    CHECK_MSG(bad == 0, "%d pixels misplaced", bad);
    /* as a batch the border is exactly -1 */
    if (s.n == 2) {
        ng_ctx *ctx = ng_ctx_create(1 << 20, 1);
        int64_t idx[2] = {1, 0};
        ng_tensor *t = ng_image_set_batch(ctx, &s, idx, 2, NG_IMAGE_NORM_PM1);
        CHECK(t && t->shape.ndim == 4 && t->shape.d[0] == 2 && t->shape.d[1] == 1 && t->shape.d[2] == 32);
        if (t) {
            CHECK(t->data[0] == -1.0f && t->data[32 * 32 - 1] == -1.0f);
            CHECK_CLOSE(t->data[2 * 32 + 2], f[16 + 28 * 28] / 127.5 - 1.0, 1e-6, 0);
        }
        ng_ctx_free(ctx);
    }
    ng_image_set_free(&s);
    /* odd padding: the extra row/column goes to the bottom/right */
    CHECK_OK(ng_fmnist_gan_load(p, 31, &s));
    CHECK(s.h == 31 && s.pixels && s.pixels[31 + 1] == f[16] && s.pixels[30 * 31 + 30] == 0 && s.pixels[28 * 31 + 28] == f[16 + 27 * 28 + 27] && s.pixels[29 * 31 + 28] == 0);
    ng_image_set_free(&s);
    CHECK_OK(ng_fmnist_gan_load(p, 28, &s));
    CHECK(s.h == 28 && s.pixels && memcmp(s.pixels, f + 16, 2 * 28 * 28) == 0);
    ng_image_set_free(&s);
    CHECK(ng_fmnist_gan_load(p, 27, &s) == NG_ERR_ARG && GD_HAS(p) && GD_HAS("27"));
    f[3] = 1;  /* a 1-d file of 1576 bytes: not images */
    f[4] = 0; f[5] = 0; f[6] = (unsigned char)((2 * 28 * 28 + 8) >> 8); f[7] = (unsigned char)((2 * 28 * 28 + 8) & 255);
    gd_put(p, f, 16 + 2 * 28 * 28);
    CHECK(ng_fmnist_gan_load(p, 32, &s) == NG_ERR_FORMAT && GD_HAS(p) && GD_HAS("dimensions"));
    CHECK(s.pixels == NULL);
    free(f);
    CHECK(strcmp(NG_FMNIST_DIR, "/usr/share/datasets/fashion-mnist") == 0);
}

/* ---- batches, split, sampler ---- */

TEST(gan_data_batch_norms) {
    static const double mean[3] = {0.4914, 0.4822, 0.4465}, stdv[3] = {0.2470, 0.2435, 0.2616};
    unsigned char px[2 * 3 * 2 * 2];
    ng_image_set s;
    ng_ctx *ctx = ng_ctx_create(1 << 20, 1);
    int64_t idx[3] = {1, 0, 1}, badidx[1] = {2};
    ng_tensor *t;
    int i, j;
    for (i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(i * 11);
    px[0] = 0; px[1] = 255; px[2] = 128; px[3] = 127;
    memset(&s, 0, sizeof s);
    s.n = 2; s.c = 3; s.h = 2; s.w = 2; s.pixels = px;
    t = ng_image_set_batch(ctx, &s, idx, 3, NG_IMAGE_NORM_PM1);
    CHECK(t && t->shape.ndim == 4 && t->shape.d[0] == 3 && t->shape.d[1] == 3 && t->shape.d[2] == 2 && t->shape.d[3] == 2);
    if (t) {
        CHECK(t->data[12] == -1.0f && t->data[13] == 1.0f);           /* image 0 is second */
        CHECK_CLOSE(t->data[14], 128 / 127.5 - 1, 1e-7, 0);
        CHECK_CLOSE(t->data[15], 127 / 127.5 - 1, 1e-7, 0);
        for (j = 0; j < 12; j++) CHECK_CLOSE(t->data[j], px[12 + j] / 127.5 - 1, 1e-6, 0);
        CHECK(memcmp(t->data, t->data + 24, 12 * sizeof(float)) == 0);
    }
    t = ng_image_set_batch(ctx, &s, idx, 2, NG_IMAGE_NORM_CIFAR_MEANSTD);
    CHECK(t != NULL);
    if (t)
        for (i = 0; i < 2; i++)
            for (j = 0; j < 12; j++) {
                int ch = j / 4;
                double want = (px[idx[i] * 12 + j] / 255.0 - mean[ch]) / stdv[ch];
                CHECK_CLOSE(t->data[i * 12 + j], want, 2e-6, 1e-6);
            }
    if (t) CHECK_CLOSE(t->data[12], (0 - 0.4914) / 0.2470, 1e-6, 0);
    CHECK(ng_ctx_status(ctx) == NG_OK);
    /* refusals: index out of range, c != 3 for the CIFAR statistics */
    CHECK(ng_image_set_batch(ctx, &s, badidx, 1, NG_IMAGE_NORM_PM1) == NULL);
    CHECK(ng_ctx_status(ctx) == NG_ERR_ARG && GD_HAS("index"));
    ng_ctx_reset(ctx);
    s.c = 1; s.n = 6;
    CHECK(ng_image_set_batch(ctx, &s, idx, 3, NG_IMAGE_NORM_CIFAR_MEANSTD) == NULL);
    CHECK(ng_ctx_status(ctx) == NG_ERR_ARG && GD_HAS("3 channels"));
    ng_ctx_reset(ctx);
    CHECK(ng_image_set_batch(ctx, &s, idx, 3, NG_IMAGE_NORM_PM1) != NULL);
    CHECK(ng_image_set_batch(ctx, &s, idx, 0, NG_IMAGE_NORM_PM1) == NULL && ng_ctx_status(ctx) == NG_ERR_ARG);
    ng_ctx_free(ctx);
    /* a full arena: NULL with NG_ERR_NOMEM */
    ctx = ng_ctx_create(4096, 1);
    {
        unsigned char *big = (unsigned char *)calloc(3 * 32 * 32, 1);
        int64_t z[1] = {0};
        s.c = 3; s.h = 32; s.w = 32; s.n = 1; s.pixels = big;
        if (big) CHECK(ng_image_set_batch(ctx, &s, z, 1, NG_IMAGE_NORM_PM1) == NULL && ng_ctx_status(ctx) == NG_ERR_NOMEM);
        free(big);
    }
    ng_ctx_free(ctx);
}

TEST(gan_data_split_and_sample) {
    int64_t first, out[2000], lo = 25000, hi = 50000, again[2000];
    int i, seen_lo = 0, seen_hi = 0;
    ng_rng r;
    ng_image_set_split_half(50000, &first);
    CHECK(first == 25000);
    ng_image_set_split_half(5, &first);
    CHECK(first == 2);
    ng_image_set_split_half(0, &first);
    CHECK(first == 0);
    ng_rng_seed(&r, 7);
    ng_sample_indices(&r, lo, hi, 2000, out);
    for (i = 0; i < 2000; i++) {
        CHECK(out[i] >= lo && out[i] < hi);
        if (out[i] < lo + 2500) seen_lo++;
        if (out[i] >= hi - 2500) seen_hi++;
    }
    CHECK(seen_lo > 100 && seen_hi > 100); /* both ends of the range are drawn (expected 200 each) */
    ng_rng_seed(&r, 7);
    ng_sample_indices(&r, lo, hi, 2000, again);
    CHECK(memcmp(out, again, sizeof out) == 0);
    ng_sample_indices(&r, 3, 4, 5, out);
    CHECK(out[0] == 3 && out[4] == 3);
}

/* ---- PNG grids ---- */

#ifdef NG_USE_STB
static int png_u32(const unsigned char *p) { return (int)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]); }

/* torchvision's save_image in float32: (x + 1) / 2, * 255 + 0.5, clamp, truncate */
static int grid_q(float v) {
    float t = (v + 1.0f) / 2.0f;
    t = t * 255.0f + 0.5f;
    return t < 0.0f ? 0 : t > 255.0f ? 255 : (int)t;
}
#endif

TEST(gan_data_png_grid) {
    enum { N = 5, C = 3, H = 4, W = 6 };
    float img[N * C * H * W];
    char p[512];
    int i;
    for (i = 0; i < N * C * H * W; i++) img[i] = -1.0f + 2.0f * (float)((i * 37) % 101) / 100.0f;
    img[0] = -1.0f; img[1] = 1.0f; img[2] = 0.0f; img[3] = -0.5f; img[4] = 3.0f; img[5] = -7.0f;
    img[H * W] = 0.99f;  /* channel 1 of image 0: 0.995 * 255 + 0.5 = 254.225 -> 254 */
    gd_path(p, sizeof p, "grid.png");
    CHECK(ng_save_image_grid(p, img, N, 2, H, W, 2, 2) == NG_ERR_ARG && GD_HAS("c 2"));
    CHECK(ng_save_image_grid(p, img, 0, C, H, W, 2, 2) == NG_ERR_ARG);
    CHECK(ng_save_image_grid(p, img, N, C, H, W, 0, 2) == NG_ERR_ARG);
    CHECK(ng_save_image_grid(p, img, N, C, H, W, 2, -1) == NG_ERR_ARG);
#ifndef NG_USE_STB
    CHECK(ng_save_image_grid(p, img, N, C, H, W, 2, 2) == NG_ERR_UNSUPPORTED);
    CHECK_MSG(GD_HAS("-DNG_USE_STB") && GD_HAS(p), "%s", ng_last_error());
#else
    {
        /* 5 images, nrow 2, padding 2: 2 columns x 3 rows, 2*(6+2)+2 = 18 wide, 3*(4+2)+2 = 20 high */
        unsigned char *png, *dec;
        size_t n;
        int gw, gh, comp, k, ch, y, x, bad = 0;
        CHECK_OK(ng_save_image_grid(p, img, N, C, H, W, 2, 2));
        CHECK_OK(ng_file_read_all(p, 1 << 20, &png, &n));
        if (!png) return;
        CHECK(n > 33 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(png + 12, "IHDR", 4) == 0);
        CHECK(png_u32(png + 16) == 18 && png_u32(png + 20) == 20 && png[24] == 8 && png[25] == 2 /* RGB */);
        dec = stbi_load_from_memory(png, (int)n, &gw, &gh, &comp, 0);
        CHECK_MSG(dec != NULL, "stbi: %s", stbi_failure_reason());
        CHECK(gw == 18 && gh == 20 && comp == 3);
        if (dec && gw == 18 && gh == 20 && comp == 3) {
            for (y = 0; y < gh; y++)
                for (x = 0; x < gw; x++)
                    for (ch = 0; ch < 3; ch++) {
                        int cx = (x - 2) / 8, cy = (y - 2) / 6, ix = (x - 2) % 8, iy = (y - 2) % 6, want = 0;
                        k = cy * 2 + cx;
                        if (x >= 2 && y >= 2 && ix < W && iy < H && k < N) {
                            want = grid_q(img[((k * C + ch) * H + iy) * W + ix]);
                        }
                        if (dec[(y * gw + x) * 3 + ch] != want) bad++;
                    }
            CHECK_MSG(bad == 0, "%d grid bytes differ", bad);
            /* the quantisation, spelled out */
            CHECK(dec[(2 * gw + 2) * 3] == 0 && dec[(2 * gw + 3) * 3] == 255 && dec[(2 * gw + 4) * 3] == 128 &&
                  dec[(2 * gw + 5) * 3] == 64 && dec[(2 * gw + 6) * 3] == 255 && dec[(2 * gw + 7) * 3] == 0);
            CHECK(dec[(2 * gw + 2) * 3 + 1] == 254);
            CHECK(dec[(19 * gw + 17) * 3] == 0 && dec[(14 * gw + 12) * 3 + 2] == 0); /* border; empty 6th cell */
        }
        stbi_image_free(dec);
        free(png);
        /* grayscale, one row: nrow >= n gives ncol = n; padding 0 */
        CHECK_OK(ng_save_image_grid(p, img, 3, 1, H, W, 8, 0));
        CHECK_OK(ng_file_read_all(p, 1 << 20, &png, &n));
        if (!png) return;
        CHECK(png_u32(png + 16) == 18 && png_u32(png + 20) == 4 && png[25] == 0 /* gray */);
        dec = stbi_load_from_memory(png, (int)n, &gw, &gh, &comp, 0);
        CHECK(dec && gw == 18 && gh == 4 && comp == 1);
        if (dec && gw == 18 && gh == 4 && comp == 1) {
            /* image k of a 1-channel batch starts at img + k*H*W */
            CHECK(dec[0] == 0 && dec[1] == 255 && dec[6] == 254 && dec[6] == grid_q(img[H * W]));
            CHECK(dec[12] == grid_q(img[2 * H * W]) && dec[13] == grid_q(img[2 * H * W + 1]) && dec[3 * 18 + 17] == grid_q(img[3 * H * W - 1]));
        }
        stbi_image_free(dec);
        free(png);
        /* a single image is saved without padding, as make_grid does */
        CHECK_OK(ng_save_image_grid(p, img, 1, C, H, W, 8, 2));
        CHECK_OK(ng_file_read_all(p, 1 << 20, &png, &n));
        if (!png) return;
        CHECK(png_u32(png + 16) == W && png_u32(png + 20) == H);
        free(png);
        /* an unwritable path: an error naming it */
        CHECK(ng_save_image_grid("/nonexistent-dir/g.png", img, N, C, H, W, 2, 2) == NG_ERR_IO && GD_HAS("/nonexistent-dir/g.png"));
    }
#endif
}
