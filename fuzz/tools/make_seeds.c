/* Writes the small valid seed inputs for the fuzz targets (`make fuzz-seeds`):
   fuzz/seeds/idx/ (raw and gzip IDX files), fuzz/seeds/ckpt/ (checkpoints whose group,
   optimizer and RNG records match what fuzz/ckpt.c restores into) and
   fuzz/seeds/genotype_json/ (alphaGAN genotypes as JSON), fuzz/seeds/cifar10/ (CIFAR-10
   batch files of 1 and 2 records) and fuzz/seeds/stl10/ (a one-image STL-10 X file, a y file,
   a short input for the resize path), and small text files for
   fuzz/seeds/{tokenizer,tsv,agnews_csv,sst,wordvec}/. Each file is < 4 KB except the 27 KB
   STL-10 image. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <zlib.h>

static int save(const char *dir, const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ng_file_write_atomic(path, data, n) != NG_OK) {
        fprintf(stderr, "make_seeds: %s\n", ng_last_error());
        return 1;
    }
    return 0;
}

static int save_text(const char *root, const char *sub, const char *name, const char *text) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    return save(dir, name, text, strlen(text));
}

static int text_seeds(const char *root) {
    int rc = 0;
    rc |= save_text(root, "tokenizer", "latin.txt", "Hello, World! Stra\xC3\x9F" "e caf\xC3\xA9 mp3 3.14 \xEF\xAC\x81ne");
    rc |= save_text(root, "tokenizer", "scripts.txt", "\xD0\x9F\xD1\x80\xD0\xB8 \xCE\xA3\xCE\x9F\xCE\xA6 \xE4\xB8\xAD\xE6\x96\x87\xE3\x81\x8B \xD9\x85\xD8\xB1\tx\n");
    rc |= save_text(root, "tokenizer", "emoji.txt", "ok\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE2\x9D\xA4\xEF\xB8\x8F \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7");
    rc |= save_text(root, "tokenizer", "invalid.txt", "ab\xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82");
    rc |= save_text(root, "tsv", "strings.tsv", "pos\tgood film\r\n\nneg\tbad\tfilm\npos\t\n");
    rc |= save_text(root, "tsv", "ints.tsv", "3\tx y\n0\ty\n1\t\xC3\xA9t\xC3\xA9\n");
    rc |= save_text(root, "agnews_csv", "ag.csv", "\"3\",\"Wall St. Bears\",\"Reuters - Short-sellers, \"\"ultra-cynics\"\"\\nare back.\"\r\n"
                                                  "\"1\",\"Multi\nline\",\"a,b\"\n2,plain,field\n");
    rc |= save_text(root, "sst", "trees.txt", "(3 (2 It) (4 (4 works) (2 .)))\n(1 (2 8 1\\/2) (0 {bad}))\n"
                                           "(4 (3 (2 A) (3 (3 good) (2 film))) (2 -RRB-))\n");
    rc |= save_text(root, "wordvec", "w2v.txt", "3 3\nthe 0.1 0.2 0.3\n. . . 1 2 3\ncat -1e-2 2 3.5\n");
    rc |= save_text(root, "wordvec", "glove.txt", "a 1 2\nb 3 4\n\xC3\xA9 -0.5 0.25\n");
    return rc;
}

static size_t idx_bytes(unsigned char *out, int nd, const uint32_t *dims) {
    size_t pos = 4, count = 1, i;
    int d;
    out[0] = 0; out[1] = 0; out[2] = 8; out[3] = (unsigned char)nd;
    for (d = 0; d < nd; d++) {
        out[pos++] = (unsigned char)(dims[d] >> 24); out[pos++] = (unsigned char)(dims[d] >> 16);
        out[pos++] = (unsigned char)(dims[d] >> 8); out[pos++] = (unsigned char)dims[d];
        count *= dims[d];
    }
    for (i = 0; i < count; i++) out[pos + i] = (unsigned char)((i * 37u) % 10u);
    return pos + count;
}

static size_t gz(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    z_stream zs;
    size_t len;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    zs.next_in = (Bytef *)(uintptr_t)in; zs.avail_in = (uInt)n;
    zs.next_out = out; zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) { deflateEnd(&zs); return 0; }
    len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

static int save_ckpt(const char *dir, const char *name, const ng_ckpt *ck) {
    unsigned char *buf;
    size_t n;
    int rc;
    if (ng_ckpt_serialize(ck, &buf, &n) != NG_OK) return 1;
    rc = save(dir, name, buf, n);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "fuzz/seeds";
    char idir[400], cdir[400], gdir[400];
    unsigned char raw[1024], z[1024];
    uint32_t labels[1] = {10}, images[3] = {3, 4, 4}, two[2] = {2, 5}, four[4] = {1, 2, 2, 2};
    size_t n;
    int rc = 0, i;
    ng_params *g;
    ng_ckpt *ck;
    ng_adam a;
    ng_sgd s;
    ng_ema e;
    ng_rng r;
    float st[4][9];
    snprintf(idir, sizeof idir, "%s/idx", root);
    snprintf(cdir, sizeof cdir, "%s/ckpt", root);
    snprintf(gdir, sizeof gdir, "%s/genotype_json", root);
    /* IDX */
    n = idx_bytes(raw, 1, labels);
    rc |= save(idir, "labels-idx1-ubyte", raw, n);
    rc |= save(idir, "labels-idx1-ubyte.gz", z, gz(raw, n, z, sizeof z));
    n = idx_bytes(raw, 3, images);
    rc |= save(idir, "images-idx3-ubyte", raw, n);
    rc |= save(idir, "images-idx3-ubyte.gz", z, gz(raw, n, z, sizeof z));
    n = idx_bytes(raw, 2, two);
    rc |= save(idir, "matrix-idx2-ubyte", raw, n);
    n = idx_bytes(raw, 4, four);
    rc |= save(idir, "tensor-idx4-ubyte.gz", z, gz(raw, n, z, sizeof z));
    /* checkpoints: group "g" = w (2, 3) + b (3), as fuzz/ckpt.c expects */
    g = ng_params_create("g", 1);
    ng_params_add(g, "w", ng_shape2(2, 3));
    ng_params_add(g, "b", ng_shape1(3));
    if (ng_params_alloc(g) != NG_OK) return 1;
    for (i = 0; i < 9; i++) {
        g->data[i] = 0.25f * (float)(i - 4);
        st[0][i] = 0.01f * (float)i; st[1][i] = 0.001f * (float)i;
        st[2][i] = -0.5f * (float)i; st[3][i] = 1.0f + (float)i;
    }
    memset(&a, 0, sizeof a); a.group = g; a.lr = 2e-4f; a.beta1 = 0.5f; a.beta2 = 0.999f; a.eps = 1e-8f; a.t = 3; a.m = st[0]; a.v = st[1];
    memset(&s, 0, sizeof s); s.group = g; s.lr = 0.1f; s.momentum = 0.9f; s.nesterov = 1; s.t = 3; s.buf = st[2];
    memset(&e, 0, sizeof e); e.group = g; e.decay = 0.999f; e.shadow = st[3];
    ng_rng_seed(&r, 1);
    ck = ng_ckpt_new();
    rc |= save_ckpt(cdir, "empty.ckpt", ck);
    rc |= ng_ckpt_put_params(ck, g) != NG_OK;
    rc |= save_ckpt(cdir, "params.ckpt", ck);
    rc |= ng_ckpt_put_adam(ck, "adam", &a) != NG_OK;
    rc |= ng_ckpt_put_sgd(ck, "sgd", &s) != NG_OK;
    rc |= ng_ckpt_put_ema(ck, "ema", &e) != NG_OK;
    rc |= ng_ckpt_put_rng(ck, "rng", &r) != NG_OK;
    rc |= ng_ckpt_put_i64(ck, "step", 42) != NG_OK;
    rc |= ng_ckpt_put(ck, "note", "seed", 4) != NG_OK;
    rc |= save_ckpt(cdir, "full.ckpt", ck);
    ng_ckpt_free(ck);
    ng_params_free(g);
    /* genotype JSON: the two published genotypes, a random one, and a compact variant with
       another key order and an escape */
    {
        ng_gan_genotype geno;
        char *text;
        const char *compact =
            "{\"skip_3\":[\"deconv\",\"bilinear\"],\"skip_2\":[\"ne\\u0061rest\"],\"version\":1,"
            "\"cells\":[{\"up\":[\"bilinear\",\"deconv\"],\"normal\":[\"conv_1x1\",\"sep_conv_3x3\",\"conv_1x1\"]},"
            "{\"normal\":[\"sep_conv_5x5\",\"sep_conv_3x3\",\"sep_conv_3x3\"],\"up\":[\"deconv\",\"deconv\"]},"
            "{\"normal\":[\"sep_conv_7x7\",\"conv_3x3\",\"sep_conv_3x3\"],\"up\":[\"deconv\",\"nearest\"]}],"
            "\"format\":\"nasgan.gan_genotype\"}";
        geno = ng_gan_genotype_alphagan_l();
        rc |= ng_gan_genotype_to_json(&geno, &text, &n) != NG_OK || save(gdir, "alphaGAN_l.json", text, n);
        free(text);
        geno = ng_gan_genotype_alphagan_s();
        rc |= ng_gan_genotype_to_json(&geno, &text, &n) != NG_OK || save(gdir, "alphaGAN_s.json", text, n);
        free(text);
        ng_rng_seed(&r, 5);
        ng_gan_genotype_random(&geno, &r);
        rc |= ng_gan_genotype_to_json(&geno, &text, &n) != NG_OK || save(gdir, "random.json", text, n);
        free(text);
        rc |= save(gdir, "compact.json", compact, strlen(compact));
    }
    /* CIFAR-10 and STL-10 binary files */
    {
        char cdir10[400], sdir[400];
        unsigned char *img = (unsigned char *)malloc(NG_STL10_IMAGE_BYTES);
        unsigned char y[10];
        size_t k;
        snprintf(cdir10, sizeof cdir10, "%s/cifar10", root);
        snprintf(sdir, sizeof sdir, "%s/stl10", root);
        if (!img) return 1;
        for (k = 0; k < 2 * 3073; k++) img[k] = (unsigned char)((k * 7u + k / 97u) & 255u);
        img[0] = 3;
        img[3073] = 9;
        rc |= save(cdir10, "one_record.bin", img, 3073);
        rc |= save(cdir10, "two_records.bin", img, 2 * 3073);
        for (k = 0; k < NG_STL10_IMAGE_BYTES; k++) img[k] = (unsigned char)((k % 96u) * 2u + (k / 9216u) * 40u);
        rc |= save(sdir, "one_image_X.bin", img, NG_STL10_IMAGE_BYTES);
        for (k = 0; k < sizeof y; k++) y[k] = (unsigned char)(1 + k);
        rc |= save(sdir, "labels_y.bin", y, sizeof y);
        for (k = 0; k < 64; k++) img[k] = (unsigned char)(k * 4);
        img[0] = 11; img[1] = 7; img[2] = 5; img[3] = 23;
        rc |= save(sdir, "resize_small.bin", img, 64);
        free(img);
    }
    /* TextNAS architecture JSON: the baseline and a random 6-layer one (the published 24-layer
       file is tests/fixtures/nni_final_arc.json, copied as published.json) */
    {
        ng_textnas_arch a;
        ng_rng r;
        char *text = NULL, tdir[400];
        size_t n = 0;
        snprintf(tdir, sizeof tdir, "%s/textnas_arch_json", root);
        ng_rng_seed(&r, 3);
        ng_textnas_arch_random(&a, 6, 5, 0.4, &r);
        rc |= ng_textnas_arch_to_json(&a, &text, &n) != NG_OK || save(tdir, "random6.json", text, n);
        free(text);
        ng_textnas_arch_baseline(&a);
        text = NULL;
        rc |= ng_textnas_arch_to_json(&a, &text, &n) != NG_OK || save(tdir, "baseline.json", text, n);
        free(text);
    }
    /* Inception weight files: a real one is 95 MB, so the seeds are small files that reach
       the loader's checks (format record, tensor table): the first tensors only, one of them
       misshaped, and an unknown tensor */
    {
        char wdir[400], name[64];
        int variant;
        snprintf(wdir, sizeof wdir, "%s/inception", root);
        for (variant = 0; variant < 3; variant++) {
            ng_params *w = ng_params_create(NG_INCEPTION_GROUP, 0);
            unsigned char *buf = NULL;
            for (i = 0; i < 5; i++) {
                ng_shape sh;
                ng_inception_tensor_info(i, name, sizeof name, &sh);
                if (variant == 1 && i == 0) sh = ng_shape4(2, 3, 3, 3);   /* should be (32, 3, 3, 3) */
                ng_params_add(w, name, sh);
            }
            if (variant == 2) ng_params_add(w, "AuxLogits.fc.bias", ng_shape1(2));
            rc |= ng_params_alloc(w) != NG_OK;
            for (i = 0; i < (int)w->numel; i++) w->data[i] = 0.5f;
            rc |= ng_inception_serialize_params(w, &buf, &n) != NG_OK;
            rc |= save(wdir, variant == 0 ? "first_tensors.ngck" : variant == 1 ? "misshaped.ngck" : "unknown.ngck", buf, n);
            free(buf);
            ng_params_free(w);
        }
    }
    rc |= text_seeds(root);
    if (rc) fprintf(stderr, "make_seeds: failed\n");
    else printf("make_seeds: wrote seeds under %s\n", root);
    return rc;
}
