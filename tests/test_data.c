/* IDX (MNIST family) and gzip readers: crafted files, valid and broken, in the test tmpdir. */
#include "test.h"
#include <zlib.h>

static void data_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", ng_test_tmpdir(), name); }

static void put_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* IDX bytes: magic 00 00 type nd, big-endian dims, then `data` (data_n bytes). */
static size_t make_idx(unsigned char *out, int type, int nd, const uint32_t *dims, const unsigned char *data, size_t data_n) {
    size_t pos = 4;
    int i;
    out[0] = 0; out[1] = 0; out[2] = (unsigned char)type; out[3] = (unsigned char)nd;
    for (i = 0; i < nd; i++) {
        out[pos++] = (unsigned char)(dims[i] >> 24); out[pos++] = (unsigned char)(dims[i] >> 16);
        out[pos++] = (unsigned char)(dims[i] >> 8); out[pos++] = (unsigned char)dims[i];
    }
    if (data_n) memcpy(out + pos, data, data_n);
    return pos + data_n;
}

/* gzip-compress with zlib (windowBits 15+16 writes a gzip header and trailer). */
static size_t gzip_bytes(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    z_stream zs;
    size_t len;
    memset(&zs, 0, sizeof zs);
    CHECK(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

static int msg_has(const char *what) { return what == NULL || strstr(ng_last_error(), what) != NULL; }

/* Load `bytes` as file `name` and expect a refusal naming the file and mentioning `what`. */
static void expect_idx_error(const char *name, const unsigned char *bytes, size_t n, ng_status want, const char *what) {
    char p[512];
    ng_idx idx;
    ng_status st;
    data_path(p, sizeof p, name);
    put_file(p, bytes, n);
    idx.data = (unsigned char *)1; /* must be cleared */
    st = ng_idx_load(p, &idx);
    CHECK_MSG(st == want, "%s: %s (%s), expected %s", name, ng_status_str(st), ng_last_error(), ng_status_str(want));
    CHECK_MSG(strstr(ng_last_error(), p) != NULL, "%s: message does not name the file: %s", name, ng_last_error());
    CHECK_MSG(msg_has(what), "%s: message lacks '%s': %s", name, what, ng_last_error());
    CHECK(idx.data == NULL && idx.ndim == 0);
}

static void pattern(unsigned char *x, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 5)) & 0xff);
}

TEST(data_idx_raw_and_gzip_roundtrip) {
    static unsigned char img[7 * 5 * 3], file[4096], gz[4096];
    unsigned char lab[7];
    uint32_t idims[3] = {7, 5, 3}, ldims[1] = {7};
    char pi[512], pl[512], pig[512], plg[512];
    size_t n, gn;
    ng_idx idx;
    ng_mnist m;
    int i;
    pattern(img, sizeof img, 1);
    for (i = 0; i < 7; i++) lab[i] = (unsigned char)(i % 10);
    data_path(pi, sizeof pi, "img-idx3-ubyte");
    data_path(pig, sizeof pig, "img-idx3-ubyte.gz");
    data_path(pl, sizeof pl, "lab-idx1-ubyte");
    data_path(plg, sizeof plg, "lab-idx1-ubyte.gz");
    n = make_idx(file, 8, 3, idims, img, sizeof img);
    put_file(pi, file, n);
    gn = gzip_bytes(file, n, gz, sizeof gz);
    put_file(pig, gz, gn);
    CHECK(file[3] == 3 && file[2] == 8 && gz[0] == 0x1f && gz[1] == 0x8b);
    n = make_idx(file, 8, 1, ldims, lab, 7);
    put_file(pl, file, n);
    put_file(plg, gz, gzip_bytes(file, n, gz, sizeof gz));
    CHECK_OK(ng_idx_load(pi, &idx));
    CHECK(idx.ndim == 3 && idx.dims[0] == 7 && idx.dims[1] == 5 && idx.dims[2] == 3 && idx.dims[3] == 1 && idx.count == 105);
    CHECK(idx.data && memcmp(idx.data, img, sizeof img) == 0);
    ng_idx_free(&idx);
    CHECK(idx.data == NULL);
    CHECK_OK(ng_idx_load(pig, &idx));
    CHECK(idx.ndim == 3 && idx.count == 105 && memcmp(idx.data, img, sizeof img) == 0);
    ng_idx_free(&idx);
    /* raw images with gzip labels, and the other way round */
    CHECK_OK(ng_mnist_load(pi, plg, 10, &m));
    CHECK(m.n == 7 && m.h == 5 && m.w == 3 && memcmp(m.images, img, sizeof img) == 0 && memcmp(m.labels, lab, 7) == 0);
    ng_mnist_free(&m);
    CHECK(m.images == NULL && m.labels == NULL);
    CHECK_OK(ng_mnist_load(pig, pl, 7, &m));
    CHECK(m.n == 7 && memcmp(m.labels, lab, 7) == 0);
    ng_mnist_free(&m);
}

TEST(data_idx_refused) {
    static unsigned char data[64], file[256], gz[512], c[512];
    uint32_t d3[3] = {2, 3, 4}, d1[1] = {24};
    size_t n, gn;
    pattern(data, sizeof data, 2);
    expect_idx_error("empty.idx", file, 0, NG_ERR_FORMAT, "empty");
    n = make_idx(file, 8, 3, d3, data, 24);
    expect_idx_error("short-header.idx", file, 2, NG_ERR_FORMAT, "truncated");
    expect_idx_error("cut-dims.idx", file, 10, NG_ERR_FORMAT, "truncated: the header needs 16 bytes");
    expect_idx_error("cut-data.idx", file, n - 1, NG_ERR_FORMAT, "need 24 data bytes, found 23");
    expect_idx_error("no-data.idx", file, 16, NG_ERR_FORMAT, "truncated");
    memcpy(c, file, n); c[n] = 0; c[n + 1] = 0;
    expect_idx_error("trailing.idx", c, n + 2, NG_ERR_FORMAT, "2 bytes of trailing garbage");
    memcpy(c, file, n); c[0] = 1;
    expect_idx_error("magic.idx", c, n, NG_ERR_FORMAT, "magic");
    memcpy(c, file, n); c[1] = 8;
    expect_idx_error("magic2.idx", c, n, NG_ERR_FORMAT, "magic");
    memcpy(c, file, n); c[2] = 0x0D; /* float32 IDX */
    expect_idx_error("type.idx", c, n, NG_ERR_FORMAT, "data type 0x0d");
    memcpy(c, file, n); c[3] = 0;
    expect_idx_error("zero-dims.idx", c, n, NG_ERR_FORMAT, "0 dimensions");
    memcpy(c, file, n); c[3] = 5;
    expect_idx_error("five-dims.idx", c, n, NG_ERR_FORMAT, "5 dimensions");
    {
        uint32_t big[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
        uint32_t huge[3] = {0x10000u, 0x10000u, 0x10000u}; /* 2^48 bytes claimed: no allocation */
        n = make_idx(c, 8, 4, big, data, 8);
        expect_idx_error("overflow.idx", c, n, NG_ERR_FORMAT, "overflow");
        n = make_idx(c, 8, 3, huge, data, 8);
        expect_idx_error("huge.idx", c, n, NG_ERR_FORMAT, "truncated");
    }
    /* gzip: corrupt, truncated, trailing bytes */
    n = make_idx(file, 8, 1, d1, data, 24);
    gn = gzip_bytes(file, n, gz, sizeof gz);
    memcpy(c, gz, gn); c[gn / 2] ^= 0xff;
    expect_idx_error("corrupt.gz", c, gn, NG_ERR_FORMAT, "corrupt");
    memcpy(c, gz, gn); c[gn - 6] ^= 0x01; /* CRC32 in the trailer */
    expect_idx_error("badcrc.gz", c, gn, NG_ERR_FORMAT, "corrupt");
    expect_idx_error("cut.gz", gz, gn - 5, NG_ERR_FORMAT, "truncated");
    expect_idx_error("cut-early.gz", gz, 12, NG_ERR_FORMAT, "truncated");
    expect_idx_error("magic-only.gz", gz, 2, NG_ERR_FORMAT, "truncated");
    memcpy(c, gz, gn); memcpy(c + gn, "junk", 4);
    expect_idx_error("trailing.gz", c, gn + 4, NG_ERR_FORMAT, "unexpected bytes");
    /* two gzip members concatenated: one valid stream (as gzip(1) reads it) */
    {
        ng_idx idx;
        char p[512];
        size_t half = 10, g1 = gzip_bytes(file, half, c, sizeof c);
        size_t g2 = gzip_bytes(file + half, n - half, c + g1, sizeof c - g1);
        data_path(p, sizeof p, "members.gz");
        put_file(p, c, g1 + g2);
        CHECK_OK(ng_idx_load(p, &idx));
        CHECK(idx.count == 24 && memcmp(idx.data, data, 24) == 0);
        ng_idx_free(&idx);
    }
    /* a gzip file whose IDX content is bad reports the IDX problem under the file's name */
    memcpy(c, file, n); c[n] = 7;
    gn = gzip_bytes(c, n + 1, gz, sizeof gz);
    expect_idx_error("trailing-inside.gz", gz, gn, NG_ERR_FORMAT, "trailing garbage");
    /* missing file */
    {
        ng_idx idx;
        char p[512];
        data_path(p, sizeof p, "does-not-exist.idx");
        CHECK(ng_idx_load(p, &idx) == NG_ERR_IO && strstr(ng_last_error(), p) && strstr(ng_last_error(), "No such file"));
    }
}

TEST(data_gunzip_limits) {
    static unsigned char zeros[100000], gz[4096];
    unsigned char *out = NULL;
    size_t gn = gzip_bytes(zeros, sizeof zeros, gz, sizeof gz), on = 7;
    CHECK(gn < 1000);
    CHECK(ng_gunzip(gz, gn, "bomb.gz", 50000, &out, &on) == NG_ERR_FORMAT);
    CHECK_MSG(strstr(ng_last_error(), "bomb.gz") && strstr(ng_last_error(), "limit of 50000"), "%s", ng_last_error());
    CHECK(out == NULL && on == 0);
    CHECK_OK(ng_gunzip(gz, gn, "ok.gz", sizeof zeros, &out, &on));
    CHECK(on == sizeof zeros && out && memcmp(out, zeros, on) == 0);
    free(out);
    /* a lying ISIZE trailer (4 GiB - 1) neither breaks decoding nor sizes the buffer */
    gz[gn - 1] = gz[gn - 2] = gz[gn - 3] = gz[gn - 4] = 0xff;
    CHECK(ng_gunzip(gz, gn, "liar.gz", sizeof zeros, &out, &on) == NG_ERR_FORMAT); /* zlib checks ISIZE */
    CHECK_MSG(strstr(ng_last_error(), "liar.gz") && strstr(ng_last_error(), "corrupt"), "%s", ng_last_error());
    CHECK(ng_gunzip((const unsigned char *)"plain", 5, "plain.txt", 100, &out, &on) == NG_ERR_FORMAT);
    CHECK(strstr(ng_last_error(), "not gzip") != NULL);
}

TEST(data_mnist_refused) {
    static unsigned char img[4 * 2 * 2], file[256];
    unsigned char lab[4] = {0, 9, 3, 10};
    uint32_t idims[3] = {4, 2, 2}, ldims[1] = {4}, l3[1] = {3}, flat[1] = {16};
    char pi[512], pl[512], pl3[512], pflat[512];
    ng_mnist m;
    ng_status st;
    pattern(img, sizeof img, 3);
    data_path(pi, sizeof pi, "m-images");
    data_path(pl, sizeof pl, "m-labels");
    data_path(pl3, sizeof pl3, "m-labels3");
    data_path(pflat, sizeof pflat, "m-flat");
    put_file(pi, file, make_idx(file, 8, 3, idims, img, sizeof img));
    put_file(pl, file, make_idx(file, 8, 1, ldims, lab, 4));
    put_file(pl3, file, make_idx(file, 8, 1, l3, lab, 3));
    put_file(pflat, file, make_idx(file, 8, 1, flat, img, 16));
    /* label 10 with 10 classes */
    st = ng_mnist_load(pi, pl, 10, &m);
    CHECK(st == NG_ERR_FORMAT && m.images == NULL && m.labels == NULL);
    CHECK_MSG(strstr(ng_last_error(), pl) && strstr(ng_last_error(), "label 10 at index 3"), "%s", ng_last_error());
    CHECK_OK(ng_mnist_load(pi, pl, 11, &m));
    ng_mnist_free(&m);
    /* counts disagree: both files named */
    st = ng_mnist_load(pi, pl3, 11, &m);
    CHECK(st == NG_ERR_FORMAT && m.images == NULL);
    CHECK_MSG(strstr(ng_last_error(), pi) && strstr(ng_last_error(), pl3) && strstr(ng_last_error(), "4 images") &&
              strstr(ng_last_error(), "3 labels"), "%s", ng_last_error());
    /* wrong ranks */
    CHECK(ng_mnist_load(pflat, pl, 11, &m) == NG_ERR_FORMAT);
    CHECK_MSG(strstr(ng_last_error(), pflat) && strstr(ng_last_error(), "expected 3"), "%s", ng_last_error());
    CHECK(ng_mnist_load(pi, pi, 11, &m) == NG_ERR_FORMAT);
    CHECK_MSG(strstr(ng_last_error(), "labels file") && strstr(ng_last_error(), "expected 1"), "%s", ng_last_error());
    CHECK(ng_mnist_load(pi, pl, 0, &m) == NG_ERR_ARG);
}

/* The real Fashion-MNIST test split, when the Debian package is installed (skipped otherwise). */
TEST(data_fashion_mnist_t10k_if_installed) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char pi[512], pl[512];
    FILE *f;
    ng_mnist m;
    int64_t i;
    int ok = 1, counts[10] = {0};
    snprintf(pi, sizeof pi, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(pl, sizeof pl, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (!(f = fopen(pi, "rb"))) return;
    fclose(f);
    if (!(f = fopen(pl, "rb"))) return;
    fclose(f);
    CHECK_OK(ng_mnist_load(pi, pl, 10, &m));
    if (!m.images) return;
    CHECK(m.n == 10000 && m.h == 28 && m.w == 28);
    for (i = 0; i < m.n; i++) {
        ok &= m.labels[i] < 10;
        if (m.labels[i] < 10) counts[m.labels[i]]++;
    }
    CHECK(ok);
    for (i = 0; i < 10; i++) CHECK(counts[i] == 1000); /* the test split is balanced */
    ng_mnist_free(&m);
}
