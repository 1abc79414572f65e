/* numpy .npy / .npz files (src/npz.c) against files numpy wrote (tests/fixtures/npz/, from
   tests/ref/make_npz_fixtures.py, whose formulas are repeated here), the writer against
   numpy's layout, and refusals of damaged files. */
#include "test.h"

#define NPZ_D 5

static double npz_mu(int i) { return 0.5 * i - 1.25 + 1.0 / (3 + i); }
static double npz_sigma(int i, int j) { return 1.0 / (1 + i + j) + (i == j); }

/* the fixture's path (tests run from build/ or the repository root) */
static const char *npz_fixture(const char *file) {
    static char path[512];
    const char *dirs[2] = {"../tests/fixtures/npz", "tests/fixtures/npz"};
    int k;
    for (k = 0; k < 2; k++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/%s", dirs[k], file);
        if ((f = fopen(path, "rb")) != NULL) { fclose(f); return path; }
    }
    return path;
}

/* mu and sigma of a fixture against the formulas; *_f32: the file holds float32 values */
static void check_mu_sigma(const char *file, int mu_f32, int sigma_f32) {
    ng_npy mu, sigma;
    int i, j;
    CHECK_OK(ng_npz_load_member(npz_fixture(file), "mu", &mu));
    CHECK_OK(ng_npz_load_member(npz_fixture(file), "sigma.npy", &sigma));
    CHECK_MSG(mu.ndim == 1 && mu.shape[0] == NPZ_D && mu.count == NPZ_D, "%s: mu shape", file);
    CHECK_MSG(sigma.ndim == 2 && sigma.shape[0] == NPZ_D && sigma.shape[1] == NPZ_D, "%s: sigma shape", file);
    for (i = 0; mu.data && i < NPZ_D; i++)
        CHECK_CLOSE(mu.data[i], mu_f32 ? (double)(float)npz_mu(i) : npz_mu(i), 0, 1e-15);
    for (i = 0; sigma.data && i < NPZ_D; i++)
        for (j = 0; j < NPZ_D; j++)
            CHECK_CLOSE(sigma.data[i * NPZ_D + j], sigma_f32 ? (double)(float)npz_sigma(i, j) : npz_sigma(i, j), 0, 1e-15);
    ng_npy_free(&mu);
    ng_npy_free(&sigma);
}

TEST(npz_reads_numpy_savez_variants) {
    check_mu_sigma("savez_f8.npz", 0, 0);             /* stored, ZIP64 extras in the local headers */
    check_mu_sigma("savez_compressed_f4.npz", 1, 1);  /* deflate, float32 (pytorch-fid --save-stats) */
    check_mu_sigma("zip64_dir.npz", 0, 0);            /* ZIP64 central directory and end record */
}

TEST(npz_reads_fortran_order_and_big_endian) {
    ng_npy cube;
    int i, j, k;
    check_mu_sigma("fortran_be.npz", 1, 0);           /* mu '>f4', sigma '>f8' in Fortran order */
    CHECK_OK(ng_npz_load_member(npz_fixture("fortran_be.npz"), "cube", &cube));
    CHECK(cube.ndim == 3 && cube.shape[0] == 2 && cube.shape[1] == 3 && cube.shape[2] == 4 && cube.count == 24);
    for (i = 0; cube.data && i < 2; i++)
        for (j = 0; j < 3; j++)
            for (k = 0; k < 4; k++) CHECK(cube.data[(i * 3 + j) * 4 + k] == 100 * i + 10 * j + k + 0.125);
    ng_npy_free(&cube);
}

TEST(npy_reads_single_arrays) {
    unsigned char *buf;
    size_t n;
    ng_npy a;
    int i;
    CHECK_OK(ng_file_read_all(npz_fixture("cube_v2.npy"), 1 << 20, &buf, &n));
    CHECK_OK(ng_npy_parse(buf, n, "cube_v2.npy", &a));   /* format version 2.0 */
    CHECK(a.ndim == 3 && a.count == 24);
    for (i = 0; a.data && i < 24; i++) CHECK(a.data[i] == 100 * (i / 12) + 10 * (i / 4 % 3) + i % 4 + 0.125);
    ng_npy_free(&a);
    free(buf);
    CHECK_OK(ng_file_read_all(npz_fixture("scalar.npy"), 1 << 20, &buf, &n));
    CHECK_OK(ng_npy_parse(buf, n, "scalar.npy", &a));
    CHECK(a.ndim == 0 && a.count == 1 && a.data && a.data[0] == 2.5);
    ng_npy_free(&a);
    free(buf);
}

/* mu (5) and sigma (5, 5) as the fixtures hold them */
static void fill_fixture_arrays(double *mu, double *sigma, ng_npy a[2]) {
    int i, j;
    for (i = 0; i < NPZ_D; i++) {
        mu[i] = npz_mu(i);
        for (j = 0; j < NPZ_D; j++) sigma[i * NPZ_D + j] = npz_sigma(i, j);
    }
    memset(a, 0, 2 * sizeof *a);
    a[0].ndim = 1; a[0].shape[0] = NPZ_D; a[0].count = NPZ_D; a[0].data = mu;
    a[1].ndim = 2; a[1].shape[0] = NPZ_D; a[1].shape[1] = NPZ_D; a[1].count = NPZ_D * NPZ_D; a[1].data = sigma;
}

static int contains(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m) {
    size_t i;
    for (i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

/* The writer's .npy members are byte for byte what numpy writes for the same arrays: both
   archives store their members uncompressed, so numpy's member bytes appear in ours. */
TEST(npz_writer_matches_numpy_member_bytes) {
    static const char *const keys[2] = {"mu", "sigma"};
    double mu[NPZ_D], sigma[NPZ_D * NPZ_D];
    ng_npy a[2], back;
    unsigned char *ours, *theirs;
    size_t n_ours, n_theirs;
    char path[512];
    fill_fixture_arrays(mu, sigma, a);
    snprintf(path, sizeof path, "%s/written.npz", ng_test_tmpdir());
    CHECK_OK(ng_npz_save(path, 2, keys, a));
    CHECK_OK(ng_file_read_all(path, 1 << 20, &ours, &n_ours));
    CHECK_OK(ng_file_read_all(npz_fixture("savez_f8.npz"), 1 << 20, &theirs, &n_theirs));
    /* numpy's mu.npy: 128-byte header + 40 data bytes, right after its local header */
    if (ours && theirs && n_theirs > 30) {
        size_t at = 30 + (size_t)(theirs[26] | theirs[27] << 8) + (size_t)(theirs[28] | theirs[29] << 8);
        CHECK(at + 168 <= n_theirs && contains(ours, n_ours, theirs + at, 168));
    }
    CHECK_OK(ng_npz_parse_member(ours, n_ours, path, "sigma", &back));
    CHECK(back.count == NPZ_D * NPZ_D && back.data && memcmp(back.data, sigma, sizeof sigma) == 0);
    ng_npy_free(&back);
    free(ours);
    free(theirs);
}

/* a fresh copy of a fixture's bytes, for damaging */
static unsigned char *fixture_bytes(const char *file, size_t *n) {
    unsigned char *b = NULL;
    CHECK_OK(ng_file_read_all(npz_fixture(file), 1 << 20, &b, n));
    return b;
}

/* refused with NG_ERR_FORMAT and an error naming the file and containing `what` */
static void check_refused(const unsigned char *b, size_t n, const char *key, const char *what, const char *label) {
    ng_npy a;
    ng_status st = ng_npz_parse_member(b, n, "damaged.npz", key, &a);
    CHECK_MSG(st != NG_OK && a.data == NULL, "%s: accepted", label);
    CHECK_MSG(strstr(ng_last_error(), "damaged.npz") && strstr(ng_last_error(), what), "%s: error '%s' lacks '%s'", label,
              ng_last_error(), what);
    ng_npy_free(&a);
}

TEST(npz_refuses_damaged_files) {
    size_t n, cut;
    unsigned char *b = fixture_bytes("savez_f8.npz", &n), *z;
    ng_npy a;
    if (!b) return;
    check_refused(b, n, "cov", "no array 'cov' (members: 'mu.npy', 'sigma.npy')", "missing key");
    /* every truncation is refused cleanly (most lose the end record) */
    for (cut = 0; cut < n; cut++) {
        CHECK_MSG(ng_npz_parse_member(b, cut, "damaged.npz", "sigma", &a) != NG_OK && a.data == NULL, "truncated to %zu: accepted", cut);
        ng_npy_free(&a);
    }
    b[500] ^= 0x40;   /* inside sigma.npy's data (from byte 411): only the CRC can tell */
    check_refused(b, n, "sigma", "CRC-32", "flipped data byte");
    b[500] ^= 0x40;
    free(b);
    /* a corrupt deflate stream */
    z = fixture_bytes("savez_compressed_f4.npz", &n);
    if (!z) return;
    z[60] ^= 0xff;
    {
        ng_npy m;
        CHECK(ng_npz_parse_member(z, n, "damaged.npz", "mu", &m) != NG_OK && m.data == NULL);
        CHECK_MSG(strstr(ng_last_error(), "damaged.npz"), "error '%s'", ng_last_error());
        ng_npy_free(&m);
    }
    free(z);
    {   /* not a zip at all */
        const unsigned char junk[40] = "this is not an archive at all, no PK";
        check_refused(junk, sizeof junk, "mu", "no end of central directory", "junk");
    }
}

TEST(npy_refuses_bad_headers) {
    static const struct { const char *header; const char *what; } cases[] = {
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", "dtype '<i8' is not supported"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", "structured"},
        {"{'descr': '<f8', 'fortran_order': False, }", "lacks 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "need 16"},
        {"{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", "neither True nor False"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", "unexpected or repeated key 'extra'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "'shape' is not a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296,), }", "overflows"},
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char buf[256];
        size_t hl = strlen(cases[c].header);
        ng_npy a;
        memcpy(buf, "\x93NUMPY\1\0", 8);
        buf[8] = (unsigned char)hl;
        buf[9] = 0;
        memcpy(buf + 10, cases[c].header, hl);
        memset(buf + 10 + hl, 0, 8);   /* one float64 of data */
        CHECK_MSG(ng_npy_parse(buf, 10 + hl + 8, "bad.npy", &a) != NG_OK && a.data == NULL, "case %zu accepted", c);
        CHECK_MSG(strstr(ng_last_error(), "bad.npy") && strstr(ng_last_error(), cases[c].what), "case %zu: error '%s' lacks '%s'", c,
                  ng_last_error(), cases[c].what);
        ng_npy_free(&a);
    }
}

/* Statistics through .npz: FID against the original is 0, N becomes unknown, the identity is
   the one the caller gives; wrong shapes, D and non-finite values are refused. */
TEST(feat_stats_npz_round_trip) {
    enum { N = 40, D = 6 };
    float x[N * D];
    ng_feat_stats s, t;
    ng_rng r;
    double fid = -1;
    char path[512], bad[512];
    static const char *const keys[2] = {"mu", "sigma"};
    double mu[NPZ_D], sigma[NPZ_D * NPZ_D];
    ng_npy a[2];
    int i;
    ng_rng_seed(&r, 7);
    fill_uniform(x, N * D, &r, -1, 1);
    CHECK_OK(ng_feat_stats_compute(&s, x, N, D, "net/A"));
    snprintf(path, sizeof path, "%s/stats.npz", ng_test_tmpdir());
    CHECK_OK(ng_feat_stats_save_npz(&s, path));
    CHECK_OK(ng_feat_stats_load_npz(&t, path, "net/A", D));
    CHECK(t.n == 0 && t.d == D && t.finished && !strcmp(t.net_id, "net/A"));
    CHECK(t.mean && memcmp(t.mean, s.mean, D * sizeof(double)) == 0 && memcmp(t.cov, s.cov, D * D * sizeof(double)) == 0);
    CHECK_OK(ng_metric_fid(&s, &t, &fid));
    CHECK(fid == 0.0);
    ng_feat_stats_free(&t);
    CHECK(ng_feat_stats_load_npz(&t, path, "net/A", 2048) == NG_ERR_MISMATCH && strstr(ng_last_error(), "expected 2048"));
    /* sigma not (D, D) */
    fill_fixture_arrays(mu, sigma, a);
    a[1].shape[1] = 1; a[1].shape[0] = NPZ_D * NPZ_D;
    snprintf(bad, sizeof bad, "%s/bad_shape.npz", ng_test_tmpdir());
    CHECK_OK(ng_npz_save(bad, 2, keys, a));
    CHECK(ng_feat_stats_load_npz(&t, bad, "x", 0) == NG_ERR_FORMAT && strstr(ng_last_error(), "'sigma' (D, D)"));
    /* a NaN in sigma */
    fill_fixture_arrays(mu, sigma, a);
    sigma[7] = NAN;
    CHECK_OK(ng_npz_save(bad, 2, keys, a));
    CHECK(ng_feat_stats_load_npz(&t, bad, "x", 0) == NG_ERR_FORMAT && strstr(ng_last_error(), "non-finite"));
    /* the lower triangle is what counts: an asymmetric sigma is read mirrored */
    fill_fixture_arrays(mu, sigma, a);
    sigma[1] = 100.0;   /* (0, 1): upper triangle */
    CHECK_OK(ng_npz_save(bad, 2, keys, a));
    CHECK_OK(ng_feat_stats_load_npz(&t, bad, "x", NPZ_D));
    for (i = 0; t.cov && i < NPZ_D; i++) CHECK(t.cov[i] == t.cov[i * NPZ_D] && t.cov[i * NPZ_D] == npz_sigma(i, 0));
    ng_feat_stats_free(&t);
    ng_feat_stats_free(&s);
}
