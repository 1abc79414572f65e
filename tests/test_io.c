/* CRC32, whole-file and atomic I/O, checkpoints: bit-exact round trips and clean refusals. */
#define _GNU_SOURCE
#include "test.h"
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void io_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", ng_test_tmpdir(), name); }

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* Number of entries in `dir` whose name contains ".tmp." (leftover temporary files). */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int has_text(const char *msg, const char *what) { return what == NULL || strstr(msg, what) != NULL; }

/* Status is `want` and the message names `name` and contains `what` (if given). */
#define CHECK_ERR(expr, want, name, what) do { \
    ng_status s2_ = (expr); const char *m_ = ng_last_error(); \
    CHECK_MSG(s2_ == (want), "%s -> %s (%s), expected %s", #expr, ng_status_str(s2_), m_, ng_status_str(want)); \
    CHECK_MSG(strstr(m_, (name)) != NULL, "%s: message does not name '%s': %s", #expr, (name), m_); \
    CHECK_MSG(has_text(m_, (what)), "%s: message lacks '%s': %s", #expr, (what) ? (what) : "", m_); \
} while (0)

TEST(io_crc32) {
    const char *s = "123456789";
    CHECK(ng_crc32(0, s, 9) == 0xCBF43926u);
    CHECK(ng_crc32(ng_crc32(0, s, 4), s + 4, 5) == 0xCBF43926u); /* incremental */
    CHECK(ng_crc32(0, NULL, 0) == 0);
    CHECK(ng_crc32(0, "a", 1) == 0xE8B7BE43u);
}

TEST(io_read_all_errors) {
    char p[512], d[512];
    unsigned char *buf;
    size_t n;
    io_path(p, sizeof p, "no-such-file");
    CHECK_ERR(ng_file_read_all(p, 100, &buf, &n), NG_ERR_IO, p, "No such file");
    CHECK(buf == NULL);
    io_path(p, sizeof p, "ten.bin");
    write_file(p, "0123456789", 10);
    CHECK_ERR(ng_file_read_all(p, 9, &buf, &n), NG_ERR_IO, p, "limit");
    CHECK_OK(ng_file_read_all(p, 10, &buf, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
    free(buf);
    io_path(p, sizeof p, "empty.bin");
    write_file(p, "", 0);
    CHECK_OK(ng_file_read_all(p, 10, &buf, &n));
    CHECK(n == 0 && buf != NULL);
    free(buf);
    io_path(d, sizeof d, "adir");
    CHECK(mkdir(d, 0700) == 0);
    CHECK_ERR(ng_file_read_all(d, 100, &buf, &n), NG_ERR_IO, d, "directory");
    rmdir(d);
}

TEST(io_atomic_write_replaces) {
    char p[512];
    unsigned char *buf;
    size_t n;
    io_path(p, sizeof p, "atomic.txt");
    write_file(p, "old content that is longer", 26);
    CHECK_OK(ng_file_write_atomic(p, "new", 3));
    CHECK_OK(ng_file_read_all(p, 1000, &buf, &n));
    CHECK(n == 3 && memcmp(buf, "new", 3) == 0);
    free(buf);
    CHECK_OK(ng_file_write_atomic(p, "", 0)); /* empty content is a valid file */
    CHECK_OK(ng_file_read_all(p, 1000, &buf, &n));
    CHECK(n == 0);
    free(buf);
    CHECK(count_tmp_files(ng_test_tmpdir()) == 0);
}

TEST(io_atomic_write_failures_keep_old) {
    char p[512], d[512], inner[600];
    unsigned char *buf, *big;
    size_t n, bign = 200000;
    struct rlimit old_lim, lim;
    void (*old_sig)(int);
    ng_status st;
    /* into a missing directory */
    io_path(p, sizeof p, "missing-dir/x.bin");
    CHECK_ERR(ng_file_write_atomic(p, "abc", 3), NG_ERR_IO, p, "No such file");
    /* over a (non-empty) directory: the rename fails, the directory stays, no temp is left */
    io_path(d, sizeof d, "target-dir");
    CHECK(mkdir(d, 0700) == 0);
    snprintf(inner, sizeof inner, "%s/keep", d);
    write_file(inner, "k", 1);
    CHECK_ERR(ng_file_write_atomic(d, "abc", 3), NG_ERR_IO, d, "renaming");
    CHECK_OK(ng_file_read_all(inner, 10, &buf, &n));
    CHECK(n == 1 && buf[0] == 'k');
    free(buf);
    CHECK(count_tmp_files(ng_test_tmpdir()) == 0);
    unlink(inner);
    rmdir(d);
    /* a write that fails midway (file-size limit): old content intact, temp removed */
    io_path(p, sizeof p, "precious.bin");
    write_file(p, "precious", 8);
    big = (unsigned char *)malloc(bign);
    memset(big, 0x5a, bign);
    CHECK(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
    lim = old_lim;
    lim.rlim_cur = 4096;
    old_sig = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    st = ng_file_write_atomic(p, big, bign);        /* no CHECKs (no output) while limited */
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, old_sig);
    CHECK_MSG(st == NG_ERR_IO, "write under a 4 KiB file-size limit: %s", ng_status_str(st));
    CHECK_MSG(strstr(ng_last_error(), p) != NULL, "message does not name the file: %s", ng_last_error());
    CHECK_OK(ng_file_read_all(p, 100, &buf, &n));
    CHECK(n == 8 && memcmp(buf, "precious", 8) == 0);
    free(buf);
    free(big);
    CHECK(count_tmp_files(ng_test_tmpdir()) == 0);
}

/* ---- checkpoint fixtures ---- */
static const uint32_t special_bits[] = {
    0x80000000u, /* -0.0 */
    0x00000001u, /* smallest denormal */
    0x807fffffu, /* largest negative denormal */
    0x7fc12345u, /* quiet NaN with payload */
    0xffa00001u, /* signalling NaN with payload, sign set */
    0x7f800000u, /* +inf */
    0xff800000u, /* -inf */
    0x7f7fffffu, /* FLT_MAX */
    0x3f800000u, /* 1.0 */
};
#define N_SPECIAL (sizeof special_bits / sizeof special_bits[0])

static void fill_bits(float *x, int64_t n, ng_rng *r) {
    int64_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = (uint32_t)ng_rng_u64(r);
        if (i < (int64_t)N_SPECIAL) u = special_bits[i];
        memcpy(&x[i], &u, 4);
    }
}

static ng_params *make_group(const char *name, int variant) {
    ng_params *g = ng_params_create(name, 1);
    ng_shape scalar;
    scalar.ndim = 0; scalar.d[0] = scalar.d[1] = scalar.d[2] = scalar.d[3] = 1;
    ng_params_add(g, "conv.weight", ng_shape4(2, 1, 3, 3));
    ng_params_add(g, variant == 1 ? "conv.b" : "conv.bias", ng_shape1(2));
    ng_params_add(g, "fc.weight", variant == 2 ? ng_shape2(5, 3) : ng_shape2(3, 5));
    if (variant != 3) ng_params_add(g, "scale", scalar);
    if (variant == 4) ng_params_add(g, "extra", ng_shape1(1));
    CHECK_OK(ng_params_alloc(g));
    return g;
}

static float *falloc(int64_t n) { return (float *)calloc((size_t)(n ? n : 1), sizeof(float)); }

/* Hand-built optimizer states (the optimizer functions live elsewhere). */
static void make_adam(ng_adam *a, ng_params *g, ng_rng *r) {
    memset(a, 0, sizeof *a);
    a->group = g;
    a->m = falloc(g->numel);
    a->v = falloc(g->numel);
    if (r) {
        a->lr = 2e-4f; a->beta1 = 0.5f; a->beta2 = 0.999f; a->eps = 1e-8f; a->weight_decay = 1e-3f; a->t = 12345;
        fill_bits(a->m, g->numel, r);
        fill_bits(a->v, g->numel, r);
    }
}
static void free_adam(ng_adam *a) { free(a->m); free(a->v); }

static void make_sgd(ng_sgd *s, ng_params *g, int with_buf, ng_rng *r) {
    memset(s, 0, sizeof *s);
    s->group = g;
    s->buf = with_buf ? falloc(g->numel) : NULL;
    if (r) {
        s->lr = 0.1f; s->momentum = with_buf ? 0.9f : 0.0f; s->dampening = 0.1f; s->weight_decay = 5e-4f;
        s->nesterov = with_buf; s->t = 77;
        if (with_buf) fill_bits(s->buf, g->numel, r);
    }
}

static void make_ema(ng_ema *e, ng_params *g, ng_rng *r) {
    memset(e, 0, sizeof *e);
    e->group = g;
    e->shadow = falloc(g->numel);
    if (r) { e->decay = 0.9999f; fill_bits(e->shadow, g->numel, r); }
}

static int same_bits(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

TEST(io_ckpt_roundtrip_bit_exact) {
    ng_rng r, rng_saved, rng_back;
    ng_params *g = make_group("gen", 0), *g2 = make_group("gen", 0);
    ng_adam a, a2;
    ng_sgd s, s2, s0, s02;
    ng_ema e, e2;
    ng_ckpt *ck = ng_ckpt_new(), *back = NULL, *again = NULL;
    char p[512];
    int64_t v;
    size_t n, n1, n2;
    const void *raw;
    unsigned char *b1, *b2;
    ng_rng_seed(&r, 20240501);
    ng_test_seed = 20240501;
    fill_bits(g->data, g->numel, &r);
    make_adam(&a, g, &r);
    make_sgd(&s, g, 1, &r);
    make_sgd(&s0, g, 0, &r);
    make_ema(&e, g, &r);
    ng_rng_seed(&rng_saved, 99);
    ng_rng_u64(&rng_saved);
    CHECK_OK(ng_ckpt_put_params(ck, g));
    CHECK_OK(ng_ckpt_put_adam(ck, "opt/gen", &a));
    CHECK_OK(ng_ckpt_put_sgd(ck, "sgd/gen", &s));
    CHECK_OK(ng_ckpt_put_sgd(ck, "sgd0/gen", &s0));
    CHECK_OK(ng_ckpt_put_ema(ck, "ema/gen", &e));
    CHECK_OK(ng_ckpt_put_rng(ck, "rng", &rng_saved));
    CHECK_OK(ng_ckpt_put_i64(ck, "step", -1234567890123LL));
    CHECK_OK(ng_ckpt_put_i64(ck, "min", INT64_MIN));
    CHECK_OK(ng_ckpt_put(ck, "note", "hello", 5));
    CHECK_OK(ng_ckpt_put(ck, "empty", NULL, 0));
    CHECK(ng_ckpt_put_i64(ck, "step", 1) == NG_ERR_ARG); /* duplicate key */
    io_path(p, sizeof p, "rt.ckpt");
    CHECK_OK(ng_ckpt_save(ck, p));
    CHECK(count_tmp_files(ng_test_tmpdir()) == 0);
    CHECK_OK(ng_ckpt_load(p, &back));
    if (!back) goto done;
    CHECK(ng_ckpt_count(back) == 10);
    CHECK(strcmp(ng_ckpt_key_at(back, 0), "params/gen") == 0 && ng_ckpt_key_at(back, 10) == NULL);
    CHECK(ng_ckpt_kind_of(back, "opt/gen") == NG_CKPT_ADAM && ng_ckpt_kind_of(back, "nope") == 0);
    /* params */
    CHECK_OK(ng_ckpt_get_params(back, g2));
    CHECK(same_bits(g->data, g2->data, (size_t)g->numel * 4));
    /* adam */
    make_adam(&a2, g2, NULL);
    CHECK_OK(ng_ckpt_get_adam(back, "opt/gen", &a2));
    CHECK(a2.group == g2 && a2.t == 12345);
    CHECK(same_bits(&a.lr, &a2.lr, 4) && same_bits(&a.beta1, &a2.beta1, 4) && same_bits(&a.beta2, &a2.beta2, 4) &&
          same_bits(&a.eps, &a2.eps, 4) && same_bits(&a.weight_decay, &a2.weight_decay, 4));
    CHECK(same_bits(a.m, a2.m, (size_t)g->numel * 4) && same_bits(a.v, a2.v, (size_t)g->numel * 4));
    /* sgd with and without a momentum buffer */
    make_sgd(&s2, g2, 1, NULL);
    CHECK_OK(ng_ckpt_get_sgd(back, "sgd/gen", &s2));
    CHECK(s2.t == 77 && s2.nesterov == 1 && s2.lr == s.lr && s2.momentum == s.momentum &&
          s2.dampening == s.dampening && s2.weight_decay == s.weight_decay);
    CHECK(same_bits(s.buf, s2.buf, (size_t)g->numel * 4));
    make_sgd(&s02, g2, 0, NULL);
    CHECK_OK(ng_ckpt_get_sgd(back, "sgd0/gen", &s02));
    CHECK(s02.t == 77 && s02.nesterov == 0 && s02.buf == NULL && s02.lr == s0.lr);
    /* ema */
    make_ema(&e2, g2, NULL);
    CHECK_OK(ng_ckpt_get_ema(back, "ema/gen", &e2));
    CHECK(e2.decay == e.decay && same_bits(e.shadow, e2.shadow, (size_t)g->numel * 4));
    /* rng continues the same stream */
    CHECK_OK(ng_ckpt_get_rng(back, "rng", &rng_back));
    CHECK(same_bits(&rng_saved, &rng_back, sizeof rng_saved));
    CHECK(ng_rng_u64(&rng_saved) == ng_rng_u64(&rng_back));
    /* scalars and raw */
    CHECK_OK(ng_ckpt_get_i64(back, "step", &v));
    CHECK(v == -1234567890123LL);
    CHECK_OK(ng_ckpt_get_i64(back, "min", &v));
    CHECK(v == INT64_MIN);
    raw = ng_ckpt_get(back, "note", &n);
    CHECK(raw && n == 5 && memcmp(raw, "hello", 5) == 0);
    raw = ng_ckpt_get(back, "empty", &n);
    CHECK(raw != NULL && n == 0);
    CHECK(ng_ckpt_get(back, "absent", &n) == NULL && n == 0);
    /* the format is deterministic: parse(serialize) serializes to the same bytes */
    CHECK_OK(ng_ckpt_serialize(ck, &b1, &n1));
    CHECK_OK(ng_ckpt_parse(b1, n1, "mem", &again));
    if (again) {
        CHECK_OK(ng_ckpt_serialize(again, &b2, &n2));
        CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
        free(b2);
    }
    /* layout spot check: magic, version, count, first key, CRC at the end */
    CHECK(memcmp(b1, "NGCK", 4) == 0 && b1[4] == 1 && b1[5] == 0 && b1[8] == 10 && b1[12] == 10 &&
          memcmp(b1 + 16, "params/gen", 10) == 0);
    CHECK(ng_crc32(0, b1, n1 - 4) == ((uint32_t)b1[n1 - 4] | (uint32_t)b1[n1 - 3] << 8 |
                                       (uint32_t)b1[n1 - 2] << 16 | (uint32_t)b1[n1 - 1] << 24));
    free(b1);
    free_adam(&a2);
    free(s2.buf);
    free(e2.shadow);
done:
    ng_ckpt_free(again);
    ng_ckpt_free(back);
    ng_ckpt_free(ck);
    free_adam(&a);
    free(s.buf);
    free(e.shadow);
    ng_params_free(g);
    ng_params_free(g2);
}

/* A small valid checkpoint in memory. */
static void small_ckpt(unsigned char **buf, size_t *n) {
    ng_params *g = ng_params_create("d", 1);
    ng_ckpt *ck = ng_ckpt_new();
    ng_adam a;
    ng_rng r;
    int i;
    ng_params_add(g, "w", ng_shape2(2, 2));
    ng_params_add(g, "b", ng_shape1(2));
    CHECK_OK(ng_params_alloc(g));
    for (i = 0; i < 6; i++) g->data[i] = (float)i - 2.5f;
    ng_rng_seed(&r, 3);
    make_adam(&a, g, &r);
    CHECK_OK(ng_ckpt_put_params(ck, g));
    CHECK_OK(ng_ckpt_put_adam(ck, "adam", &a));
    CHECK_OK(ng_ckpt_put_rng(ck, "rng", &r));
    CHECK_OK(ng_ckpt_put_i64(ck, "epoch", 3));
    CHECK_OK(ng_ckpt_serialize(ck, buf, n));
    free_adam(&a);
    ng_ckpt_free(ck);
    ng_params_free(g);
}

static void fix_crc(unsigned char *b, size_t n) {
    uint32_t c = ng_crc32(0, b, n - 4);
    b[n - 4] = (unsigned char)c; b[n - 3] = (unsigned char)(c >> 8);
    b[n - 2] = (unsigned char)(c >> 16); b[n - 1] = (unsigned char)(c >> 24);
}

TEST(io_ckpt_truncated_and_bitflips_refused) {
    unsigned char *buf, *copy;
    size_t n, len, bit;
    ng_ckpt *ck;
    ng_status st;
    int bad = 0;
    small_ckpt(&buf, &n);
    CHECK_OK(ng_ckpt_parse(buf, n, "small.ckpt", &ck));
    ng_ckpt_free(ck);
    for (len = 0; len < n; len++) {
        ck = NULL;
        st = ng_ckpt_parse(buf, len, "small.ckpt", &ck);
        if (st == NG_OK || ck != NULL || !strstr(ng_last_error(), "small.ckpt")) {
            if (bad++ < 5) ng_test_fail(__FILE__, __LINE__, "prefix of %zu/%zu bytes: %s: %s", len, n, ng_status_str(st), ng_last_error());
        }
        ng_ckpt_free(ck);
    }
    /* the message of a cut inside the records says so */
    ng_ckpt_parse(buf, n - 20, "small.ckpt", &ck);
    CHECK_MSG(strstr(ng_last_error(), "truncated") != NULL, "%s", ng_last_error());
    copy = (unsigned char *)malloc(n);
    for (bit = 0; bit < 8 * n; bit++) {
        memcpy(copy, buf, n);
        copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        ck = NULL;
        st = ng_ckpt_parse(copy, n, "flipped.ckpt", &ck);
        if (st == NG_OK || ck != NULL || !strstr(ng_last_error(), "flipped.ckpt")) {
            if (bad++ < 5) ng_test_fail(__FILE__, __LINE__, "bit %zu flipped: %s: %s", bit, ng_status_str(st), ng_last_error());
        }
        ng_ckpt_free(ck);
    }
    /* a flip in the payload (magic and version intact) is reported as corrupt */
    memcpy(copy, buf, n);
    copy[n - 10] ^= 0x10;
    CHECK_ERR(ng_ckpt_parse(copy, n, "flipped.ckpt", &ck), NG_ERR_CHECKSUM, "flipped.ckpt", "corrupt");
    free(copy);
    free(buf);
}

TEST(io_ckpt_bad_headers_and_records) {
    unsigned char *buf, *c;
    size_t n;
    ng_ckpt *ck = NULL, *w = ng_ckpt_new();
    /* two raw records "aa" and "ab" */
    CHECK_OK(ng_ckpt_put(w, "aa", "xyz", 3));
    CHECK_OK(ng_ckpt_put(w, "ab", "pq", 2));
    CHECK_OK(ng_ckpt_serialize(w, &buf, &n));
    ng_ckpt_free(w);
    CHECK(n == 12 + (4 + 2 + 4 + 8 + 3) + (4 + 2 + 4 + 8 + 2) + 4);
    c = (unsigned char *)malloc(n + 8);
    /* wrong magic */
    memcpy(c, buf, n); c[3] = 'X';
    CHECK_ERR(ng_ckpt_parse(c, n, "m.ckpt", &ck), NG_ERR_FORMAT, "m.ckpt", "magic");
    CHECK(ck == NULL);
    CHECK_ERR(ng_ckpt_parse((const unsigned char *)"PK\3\4 not a checkpoint", 22, "zip.ckpt", &ck), NG_ERR_FORMAT, "zip.ckpt", "magic");
    CHECK_ERR(ng_ckpt_parse(c, 0, "e.ckpt", &ck), NG_ERR_FORMAT, "e.ckpt", "empty");
    /* future version (CRC made valid, so only the version is wrong) */
    memcpy(c, buf, n); c[4] = 2; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "v.ckpt", &ck), NG_ERR_FORMAT, "v.ckpt", "version 2");
    /* duplicate key */
    memcpy(c, buf, n); c[12 + 4 + 2 + 4 + 8 + 3 + 4 + 1] = 'a'; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "dup.ckpt", &ck), NG_ERR_FORMAT, "dup.ckpt", "duplicate key 'aa'");
    /* absurd record count */
    memcpy(c, buf, n); c[8] = c[9] = c[10] = c[11] = 0xff; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "cnt.ckpt", &ck), NG_ERR_FORMAT, "cnt.ckpt", "record count");
    /* fewer records than present: trailing bytes */
    memcpy(c, buf, n); c[8] = 1; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "trail.ckpt", &ck), NG_ERR_FORMAT, "trail.ckpt", "unexpected bytes");
    /* absurd payload length (2^63) and key length */
    memcpy(c, buf, n); c[12 + 4 + 2 + 4 + 7] = 0x80; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "plen.ckpt", &ck), NG_ERR_FORMAT, "plen.ckpt", "truncated");
    memcpy(c, buf, n); c[12 + 3] = 0x7f; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "klen.ckpt", &ck), NG_ERR_FORMAT, "klen.ckpt", "key length");
    /* NUL inside a key */
    memcpy(c, buf, n); c[12 + 4 + 1] = 0; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "nul.ckpt", &ck), NG_ERR_FORMAT, "nul.ckpt", "NUL");
    /* unknown kind */
    memcpy(c, buf, n); c[12 + 4 + 2] = 99; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "kind.ckpt", &ck), NG_ERR_FORMAT, "kind.ckpt", "unknown kind 99");
    /* typed record with a payload of the wrong size (raw 3 bytes relabelled as i64) */
    memcpy(c, buf, n); c[12 + 4 + 2] = NG_CKPT_I64; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "i64.ckpt", &ck), NG_ERR_FORMAT, "i64.ckpt", "8 bytes");
    memcpy(c, buf, n); c[12 + 4 + 2] = NG_CKPT_PARAMS; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "par.ckpt", &ck), NG_ERR_FORMAT, "par.ckpt", "malformed");
    memcpy(c, buf, n); c[12 + 4 + 2] = NG_CKPT_ADAM; fix_crc(c, n);
    CHECK_ERR(ng_ckpt_parse(c, n, "adam.ckpt", &ck), NG_ERR_FORMAT, "adam.ckpt", "malformed");
    /* valid framing but bytes appended (CRC no longer at the end) */
    memcpy(c, buf, n); memset(c + n, 0, 8);
    CHECK_ERR(ng_ckpt_parse(c, n + 8, "app.ckpt", &ck), NG_ERR_CHECKSUM, "app.ckpt", "CRC");
    CHECK(ck == NULL);
    free(c);
    free(buf);
}

TEST(io_ckpt_file_errors) {
    char p[512];
    ng_ckpt *ck = NULL;
    unsigned char *buf;
    size_t n;
    io_path(p, sizeof p, "absent.ckpt");
    CHECK_ERR(ng_ckpt_load(p, &ck), NG_ERR_IO, p, "No such file");
    io_path(p, sizeof p, "empty.ckpt");
    write_file(p, "", 0);
    CHECK_ERR(ng_ckpt_load(p, &ck), NG_ERR_FORMAT, p, "empty");
    io_path(p, sizeof p, "cut.ckpt");
    small_ckpt(&buf, &n);
    write_file(p, buf, n / 2);
    CHECK_ERR(ng_ckpt_load(p, &ck), NG_ERR_CHECKSUM, p, "truncated");
    free(buf);
    io_path(p, sizeof p, "no-dir/x.ckpt");
    ck = ng_ckpt_new();
    CHECK_ERR(ng_ckpt_save(ck, p), NG_ERR_IO, p, NULL);
    ng_ckpt_free(ck);
}

TEST(io_ckpt_params_mismatch_refused) {
    ng_params *g = make_group("net", 0), *t;
    ng_ckpt *ck = ng_ckpt_new();
    ng_rng r;
    int variant;
    static const char *const expect[] = {NULL, "conv.b", "fc.weight", "scale", "extra"};
    ng_rng_seed(&r, 5);
    fill_bits(g->data, g->numel, &r);
    CHECK_OK(ng_ckpt_put_params(ck, g));
    for (variant = 1; variant <= 4; variant++) {
        int64_t i;
        int untouched = 1;
        t = make_group("net", variant);
        for (i = 0; i < t->numel; i++) t->data[i] = 42.0f;
        CHECK_ERR(ng_ckpt_get_params(ck, t), NG_ERR_MISMATCH, "net", expect[variant]);
        CHECK_MSG(strstr(ng_last_error(), "unsaved checkpoint") != NULL, "%s", ng_last_error());
        for (i = 0; i < t->numel; i++) untouched &= t->data[i] == 42.0f;
        CHECK_MSG(untouched, "variant %d: a refused restore changed the group", variant);
        ng_params_free(t);
    }
    /* shapes are reported */
    t = make_group("net", 2);
    ng_ckpt_get_params(ck, t);
    CHECK_MSG(strstr(ng_last_error(), "(3, 5)") && strstr(ng_last_error(), "(5, 3)"), "%s", ng_last_error());
    ng_params_free(t);
    /* another group name: no such record */
    t = make_group("other", 0);
    CHECK_ERR(ng_ckpt_get_params(ck, t), NG_ERR_MISMATCH, "params/other", "no record");
    ng_params_free(t);
    /* from a loaded file, the message names the file */
    {
        char p[512];
        ng_ckpt *back = NULL;
        io_path(p, sizeof p, "mm.ckpt");
        CHECK_OK(ng_ckpt_save(ck, p));
        CHECK_OK(ng_ckpt_load(p, &back));
        t = make_group("net", 1);
        CHECK_ERR(ng_ckpt_get_params(back, t), NG_ERR_MISMATCH, p, "conv.bias");
        ng_params_free(t);
        ng_ckpt_free(back);
    }
    ng_ckpt_free(ck);
    ng_params_free(g);
}

TEST(io_ckpt_optimizer_mismatch_refused) {
    ng_params *g = make_group("net", 0), *bigger = make_group("net", 4), *other = make_group("disc", 0);
    ng_ckpt *ck = ng_ckpt_new();
    ng_adam a, a2;
    ng_sgd s, s2;
    ng_ema e, e2;
    ng_rng r, rr;
    int64_t v;
    ng_rng_seed(&r, 8);
    make_adam(&a, g, &r);
    make_sgd(&s, g, 1, &r);
    make_ema(&e, g, &r);
    CHECK_OK(ng_ckpt_put_adam(ck, "adam", &a));
    CHECK_OK(ng_ckpt_put_sgd(ck, "sgd", &s));
    CHECK_OK(ng_ckpt_put_ema(ck, "ema", &e));
    CHECK_OK(ng_ckpt_put_rng(ck, "rng", &r));
    /* group of a different size */
    make_adam(&a2, bigger, NULL);
    a2.t = 5;
    CHECK_ERR(ng_ckpt_get_adam(ck, "adam", &a2), NG_ERR_MISMATCH, "adam", "elements");
    CHECK(a2.t == 5 && a2.lr == 0.0f);
    free_adam(&a2);
    make_ema(&e2, bigger, NULL);
    CHECK_ERR(ng_ckpt_get_ema(ck, "ema", &e2), NG_ERR_MISMATCH, "ema", "elements");
    free(e2.shadow);
    /* group with another name */
    make_adam(&a2, other, NULL);
    CHECK_ERR(ng_ckpt_get_adam(ck, "adam", &a2), NG_ERR_MISMATCH, "disc", "net");
    free_adam(&a2);
    /* momentum buffer presence differs */
    make_sgd(&s2, g, 0, NULL);
    CHECK_ERR(ng_ckpt_get_sgd(ck, "sgd", &s2), NG_ERR_MISMATCH, "sgd", "momentum buffer");
    /* wrong kind, absent key */
    make_adam(&a2, g, NULL);
    CHECK_ERR(ng_ckpt_get_adam(ck, "rng", &a2), NG_ERR_MISMATCH, "rng", "not adam");
    CHECK_ERR(ng_ckpt_get_adam(ck, "nothing", &a2), NG_ERR_MISMATCH, "nothing", "no record");
    CHECK_ERR(ng_ckpt_get_i64(ck, "ema", &v), NG_ERR_MISMATCH, "ema", "not i64");
    CHECK_ERR(ng_ckpt_get_rng(ck, "adam", &rr), NG_ERR_MISMATCH, "adam", "not rng");
    CHECK_OK(ng_ckpt_get_adam(ck, "adam", &a2));
    free_adam(&a2);
    free_adam(&a);
    free(s.buf);
    free(e.shadow);
    ng_ckpt_free(ck);
    ng_params_free(g);
    ng_params_free(bigger);
    ng_params_free(other);
}
