/* The FID Inception-v3 (src/inception.c) against PyTorch, and its weight-file loader.

   The reference is tests/fixtures/inception.ngfx (tests/ref/make_inception_fixture.py): a
   torch float64 run of the same architecture with random weights given by a formula that
   formula_fill() below evaluates bit for bit, so the 95 MB weight file never needs to be
   committed. The fixture also holds the CRC-32 and length of the file that
   scripts/convert_inception.py wrote from the torch state_dict: our writer must produce the
   same bytes, which ties the converter, the C writer and the C loader together.

   Tolerance: the float32 forward differs from the float64 reference by at most 5.7e-6 with
   features up to 34 (1.7e-7 of the largest value; measured, 2 threads, AVX2). The check allows
   2e-5 of the largest value plus 1e-5 relative: a hundredfold margin for summation order and
   other SIMD paths, yet far below what a wrong padding, pool or resize rule changes. */
#include "test.h"
#include "fixture.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- the shared weight formula (see the fixture script) ---- */
static uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void formula_fill(ng_params *g) {
    int t;
    for (t = 0; t < g->n; t++) {
        const ng_tensor *x = g->tensors[t];
        /* value = (2u - 1) * scale, or 0.5 + u when scale == 0 */
        double scale = 0;
        int64_t k;
        if (ends_with(x->name, "conv.weight")) scale = sqrt(6.0 / (double)(x->shape.d[1] * x->shape.d[2] * x->shape.d[3]));
        else if (ends_with(x->name, "bn.bias") || ends_with(x->name, "bn.running_mean")) scale = 0.2;
        else if (strcmp(x->name, "fc.weight") == 0) scale = sqrt(3.0 / 2048);
        else if (strcmp(x->name, "fc.bias") == 0) scale = 0.1;
        for (k = 0; k < x->numel; k++) {
            double u = (double)(splitmix64(((uint64_t)t << 32) + (uint64_t)k) >> 40) * (1.0 / 16777216.0);
            x->data[k] = (float)(scale != 0 ? (2 * u - 1) * scale : 0.5 + u);
        }
    }
}

/* A group of the file's layout, optionally with tensor `skip` left out, tensor `reshape` given
   one more output channel, and an extra tensor `extra`; filled by the formula. */
static ng_params *make_group(int skip, int reshape, const char *extra) {
    ng_params *g = ng_params_create(NG_INCEPTION_GROUP, 0);
    char name[64];
    int i;
    for (i = 0; i < ng_inception_tensor_count(); i++) {
        ng_shape s;
        if (ng_inception_tensor_info(i, name, sizeof name, &s) != NG_OK) break;
        if (i == skip) continue;
        if (i == reshape) s.d[0] += 1;
        ng_params_add(g, name, s);
    }
    if (extra) ng_params_add(g, extra, ng_shape1(3));
    if (ng_params_alloc(g) != NG_OK) { ng_params_free(g); return NULL; }
    formula_fill(g);
    return g;
}

static int serialize(ng_params *g, unsigned char **buf, size_t *n) {
    ng_status st = g ? ng_inception_serialize_params(g, buf, n) : NG_ERR_NOMEM;
    ng_params_free(g);
    CHECK_MSG(st == NG_OK, "serialize: %s", ng_last_error());
    return st == NG_OK;
}

/* max |a - ref| <= atol_frac max|ref| + rtol |ref| elementwise */
static void check_close_arr(const char *what, const float *a, const float *ref, int64_t n) {
    double mx = 0, worst = 0;
    int64_t i, bad = 0;
    for (i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
    for (i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= 2e-5 * mx + 1e-5 * fabs(ref[i]))) bad++;
        if (e > worst || e != e) worst = e;
    }
    printf("    %s: max |error| %.3g (max |ref| %.3g)\n", what, worst, mx);
    CHECK_MSG(bad == 0, "%s: %lld of %lld values off (max error %.3g, max |ref| %.3g)", what, (long long)bad, (long long)n,
              worst, mx);
}

static const fx_array *need(const fx_file *f, const char *name) {
    const fx_array *a = fx_find(f, name);
    CHECK_MSG(a != NULL, "fixture array %s missing", name);
    return a;
}

/* ---- an image source over a float array, for the embed path ---- */
typedef struct { const float *x; int64_t per; } arr_src;
static ng_status arr_fill(const ng_image_source *src, int64_t first, int64_t count, float *out) {
    const arr_src *a = (const arr_src *)src->user;
    memcpy(out, a->x + first * a->per, (size_t)(count * a->per) * sizeof(float));
    return NG_OK;
}

TEST(inception_matches_torch) {
    fx_file *fx = fx_open("inception");
    const fx_array *crc, *len, *x, *pool3, *logits, *xr, *pr, *xg, *pg;
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_inception *net = NULL;
    float *f, *lg, *f2, *rgb;
    char id[NG_FEAT_ID_MAX];
    int i;
    CHECK_MSG(fx != NULL, "%s", ng_last_error());
    if (!fx) return;
    crc = need(fx, "file_crc"); len = need(fx, "file_len"); x = need(fx, "x"); pool3 = need(fx, "pool3");
    logits = need(fx, "logits"); xr = need(fx, "xr"); pr = need(fx, "pool3_r"); xg = need(fx, "xg"); pg = need(fx, "pool3_g");
    if (!crc || !len || !x || !pool3 || !logits || !xr || !pr || !xg || !pg) { fx_free(fx); return; }
    if (!serialize(make_group(-1, -1, NULL), &buf, &n)) { fx_free(fx); return; }
    /* the converter (Python) and ng_inception_serialize_params write the same bytes */
    CHECK_MSG(n == (size_t)len->i[0] + ((size_t)len->i[1] << 16), "file length %zu, converter wrote %d", n,
              len->i[0] + (len->i[1] << 16));
    CHECK_MSG(ng_crc32(0, buf, n) == ((uint32_t)crc->i[0] | ((uint32_t)crc->i[1] << 16)),
              "file CRC %08x differs from the converter's %08x", ng_crc32(0, buf, n),
              (uint32_t)crc->i[0] | ((uint32_t)crc->i[1] << 16));
    CHECK_OK(ng_inception_parse(buf, n, "formula weights", &net));
    free(buf);
    if (!net) { fx_free(fx); return; }
    ng_inception_identity(net, id, sizeof id);
    CHECK(strncmp(id, "inception_fid/pool3_2048/crc32=", 31) == 0);

    f = (float *)malloc(2 * NG_INCEPTION_FEATURES * sizeof(float));
    f2 = (float *)malloc(2 * NG_INCEPTION_FEATURES * sizeof(float));
    lg = (float *)malloc(2 * NG_INCEPTION_CLASSES * sizeof(float));
    rgb = (float *)malloc(3 * 28 * 28 * sizeof(float));
    /* RGB 32x32, batch of 2 */
    CHECK_OK(ng_inception_forward(net, x->f, 2, 3, 32, 32, 0, f, lg));
    check_close_arr("pool3 (2x3x32x32)", f, pool3->f, 2 * NG_INCEPTION_FEATURES);
    check_close_arr("logits", lg, logits->f, 2 * NG_INCEPTION_CLASSES);
#ifdef _OPENMP
    {   /* bitwise the same on one thread (no sum crosses threads) */
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK_OK(ng_inception_forward(net, x->f, 2, 3, 32, 32, 0, f2, NULL));
        omp_set_num_threads(nt);
        CHECK_MSG(memcmp(f, f2, 2 * NG_INCEPTION_FEATURES * sizeof(float)) == 0, "features differ between 1 and %d threads", nt);
    }
#endif
    /* batches of 1 (SGEMM may take another path for a smaller N: compared to the reference) */
    CHECK_OK(ng_inception_forward(net, x->f, 2, 3, 32, 32, 1, f2, NULL));
    check_close_arr("pool3 in batches of 1", f2, pool3->f, 2 * NG_INCEPTION_FEATURES);
    /* through an image source */
    {
        arr_src a = {x->f, 3 * 32 * 32};
        ng_image_source src = {arr_fill, &a, 2, 32, 3};
        CHECK_OK(ng_inception_embed(net, &src, 2, f2, NULL));
        CHECK(memcmp(f, f2, 2 * NG_INCEPTION_FEATURES * sizeof(float)) == 0);
    }
    /* non-square odd size */
    CHECK_OK(ng_inception_forward(net, xr->f, 1, 3, 37, 20, 0, f, NULL));
    check_close_arr("pool3 (1x3x37x20)", f, pr->f, NG_INCEPTION_FEATURES);
    /* grayscale: replicated channels, the same as an RGB image with three equal planes */
    CHECK_OK(ng_inception_forward(net, xg->f, 1, 1, 28, 28, 0, f, NULL));
    check_close_arr("pool3 (grayscale 28x28)", f, pg->f, NG_INCEPTION_FEATURES);
    for (i = 0; i < 3; i++) memcpy(rgb + i * 28 * 28, xg->f, 28 * 28 * sizeof(float));
    CHECK_OK(ng_inception_forward(net, rgb, 1, 3, 28, 28, 0, f2, NULL));
    CHECK(memcmp(f, f2, NG_INCEPTION_FEATURES * sizeof(float)) == 0);
    /* argument errors */
    CHECK(ng_inception_forward(net, x->f, 1, 2, 32, 32, 0, f, NULL) == NG_ERR_ARG);
    rgb[5] = NAN;
    CHECK(ng_inception_forward(net, rgb, 1, 3, 28, 28, 0, f, NULL) == NG_ERR_ARG);
    free(f); free(f2); free(lg); free(rgb);
    ng_inception_free(net);
    fx_free(fx);
}

/* Loads buf and expects `code` with every string of `want` (NULL-terminated) in the message. */
static void expect_refused(const char *label, const unsigned char *buf, size_t n, ng_status code, const char *const *want) {
    ng_inception *net = (ng_inception *)1;
    ng_status st = ng_inception_parse(buf, n, "w.ngck", &net);
    const char *msg = ng_last_error();
    CHECK_MSG(st == code, "%s: expected %s, got %s (%s)", label, ng_status_str(code), ng_status_str(st), msg);
    CHECK_MSG(net == NULL, "%s: output not cleared", label);
    for (; *want; want++) CHECK_MSG(strstr(msg, *want) != NULL, "%s: message '%s' lacks '%s'", label, msg, *want);
    if (st == NG_OK) ng_inception_free(net);
}

TEST(inception_loader_refuses_bad_files) {
    unsigned char *buf = NULL, *bad;
    size_t n = 0;
    char path[512], name[64];
    ng_inception *net = NULL;
    int var_idx = 4;   /* Conv2d_1a_3x3.bn.running_var */
    if (!serialize(make_group(-1, -1, NULL), &buf, &n)) return;
    bad = (unsigned char *)malloc(n);
    {   /* truncated */
        const char *w[] = {"w.ngck", "truncated", NULL};
        expect_refused("truncated", buf, n - 1000, NG_ERR_CHECKSUM, w);
    }
    {   /* one flipped bit in a weight */
        const char *w[] = {"w.ngck", "CRC32", NULL};
        memcpy(bad, buf, n);
        bad[n / 2] ^= 0x10;
        expect_refused("corrupt", bad, n, NG_ERR_CHECKSUM, w);
    }
    {   /* wrong magic */
        const char *w[] = {"w.ngck", "magic", NULL};
        memcpy(bad, buf, n);
        bad[0] = 'P';
        expect_refused("magic", bad, n, NG_ERR_FORMAT, w);
    }
    {   /* a valid checkpoint without the format record */
        ng_ckpt *ck = ng_ckpt_new();
        ng_params *g = make_group(-1, -1, NULL);
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        const char *w[] = {"w.ngck", "not an Inception weight file", NULL};
        CHECK_OK(ng_ckpt_put_params(ck, g));
        CHECK_OK(ng_ckpt_serialize(ck, &b2, &n2));
        expect_refused("no format record", b2, n2, NG_ERR_FORMAT, w);
        free(b2);
        ng_ckpt_free(ck);
        ng_params_free(g);
    }
    free(bad);
    /* missing tensor */
    CHECK_OK(ng_inception_tensor_info(200, name, sizeof name, NULL));
    {
        const char *w[] = {"w.ngck", "missing tensor", name, NULL};
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        if (serialize(make_group(200, -1, NULL), &b2, &n2)) expect_refused("missing", b2, n2, NG_ERR_MISMATCH, w);
        free(b2);
    }
    /* misshaped tensor */
    {
        const char *w[] = {"w.ngck", "Mixed_6b.branch7x7_2.conv.weight", "shape (129, 128, 1, 7)", "expected (128, 128, 1, 7)", NULL};
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        int idx = -1, i;
        for (i = 0; i < ng_inception_tensor_count(); i++) {
            ng_inception_tensor_info(i, name, sizeof name, NULL);
            if (strcmp(name, "Mixed_6b.branch7x7_2.conv.weight") == 0) idx = i;
        }
        CHECK(idx > 0);
        if (serialize(make_group(-1, idx, NULL), &b2, &n2)) expect_refused("misshaped", b2, n2, NG_ERR_MISMATCH, w);
        free(b2);
    }
    /* unknown extra tensor */
    {
        const char *w[] = {"w.ngck", "unexpected tensor", "AuxLogits.fc.bias", NULL};
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        if (serialize(make_group(-1, -1, "AuxLogits.fc.bias"), &b2, &n2)) expect_refused("extra", b2, n2, NG_ERR_MISMATCH, w);
        free(b2);
    }
    /* negative running variance and NaN weight (valid CRC: written by the writer) */
    {
        const char *w1[] = {"w.ngck", "Conv2d_1a_3x3.bn.running_var", "negative variance", NULL};
        const char *w2[] = {"w.ngck", "fc.bias", "non-finite", NULL};
        ng_params *g = make_group(-1, -1, NULL);
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        if (g) {
            g->tensors[var_idx]->data[3] = -0.5f;
            CHECK_OK(ng_inception_serialize_params(g, &b2, &n2));
            expect_refused("negative variance", b2, n2, NG_ERR_FORMAT, w1);
            free(b2); b2 = NULL;
            g->tensors[var_idx]->data[3] = 0.5f;
            g->tensors[g->n - 1]->data[7] = NAN;
            CHECK_OK(ng_inception_serialize_params(g, &b2, &n2));
            expect_refused("NaN", b2, n2, NG_ERR_FORMAT, w2);
            free(b2);
            ng_params_free(g);
        }
    }
    /* tensors in another order (reversed): the loader places them by name */
    {
        ng_params *g = make_group(-1, -1, NULL), *rev = ng_params_create(NG_INCEPTION_GROUP, 0);
        unsigned char *b2 = NULL;
        size_t n2 = 0;
        ng_inception *a = NULL, *b = NULL;
        char ia[NG_FEAT_ID_MAX] = "", ib[NG_FEAT_ID_MAX] = "";
        int i;
        if (g) {
            for (i = g->n - 1; i >= 0; i--) ng_params_add(rev, g->tensors[i]->name, g->tensors[i]->shape);
            CHECK_OK(ng_params_alloc(rev));
            for (i = 0; i < g->n; i++)
                memcpy(ng_params_find(rev, g->tensors[i]->name)->data, g->tensors[i]->data,
                       (size_t)g->tensors[i]->numel * sizeof(float));
            CHECK_OK(ng_inception_serialize_params(rev, &b2, &n2));
            CHECK_OK(ng_inception_parse(b2, n2, "reversed", &b));
            CHECK_OK(ng_inception_parse(buf, n, "in order", &a));
            ng_inception_identity(a, ia, sizeof ia);
            ng_inception_identity(b, ib, sizeof ib);
            CHECK_MSG(a && b && strcmp(ia, ib) == 0, "reversed file: identity %s, in order %s", ib, ia);
            ng_inception_free(a);
            ng_inception_free(b);
            free(b2);
        }
        ng_params_free(g);
        ng_params_free(rev);
    }
    /* from a file: round trip, and the path in the message */
    snprintf(path, sizeof path, "%s/inception_w.ngck", ng_test_tmpdir());
    {
        ng_params *g = make_group(-1, -1, NULL);
        char id1[NG_FEAT_ID_MAX], id2[NG_FEAT_ID_MAX];
        ng_inception *net2 = NULL;
        CHECK(g != NULL);
        if (g) {
            CHECK_OK(ng_inception_save_params(g, path));
            ng_params_free(g);
        }
        CHECK_OK(ng_inception_load(path, &net));
        CHECK_OK(ng_inception_parse(buf, n, "mem", &net2));
        ng_inception_identity(net, id1, sizeof id1);
        ng_inception_identity(net2, id2, sizeof id2);
        CHECK_MSG(strcmp(id1, id2) == 0, "%s vs %s", id1, id2);
        ng_inception_free(net2);
        ng_inception_free(net);
        {   /* truncated file on disk */
            FILE *fp = fopen(path, "wb");
            if (fp) { fwrite(buf, 1, n / 3, fp); fclose(fp); }
            net = NULL;
            CHECK(ng_inception_load(path, &net) == NG_ERR_CHECKSUM && net == NULL);
            CHECK_MSG(strstr(ng_last_error(), path) != NULL, "message '%s' lacks the path", ng_last_error());
        }
        remove(path);
        CHECK(ng_inception_load(path, &net) == NG_ERR_IO);
    }
    free(buf);
}

/* Identities differ with the weights, and FID against statistics of another network is refused. */
TEST(inception_identity_and_stats) {
    unsigned char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    ng_inception *a = NULL, *b = NULL;
    ng_params *g = make_group(-1, -1, NULL);
    char ia[NG_FEAT_ID_MAX], ib[NG_FEAT_ID_MAX];
    unsigned char px[4 * 3 * 8 * 8];
    ng_image_source src;
    ng_feat_stats sa, sb;
    ng_eval_result res;
    float *rf;
    double fid = -1;
    int i;
    ng_rng r;
    memset(&sa, 0, sizeof sa); memset(&sb, 0, sizeof sb);
    if (!g) { CHECK(g != NULL); return; }
    CHECK_OK(ng_inception_serialize_params(g, &b1, &n1));
    g->tensors[g->n - 1]->data[0] += 1.0f;   /* another fc bias: another network */
    CHECK_OK(ng_inception_serialize_params(g, &b2, &n2));
    ng_params_free(g);
    CHECK_OK(ng_inception_parse(b1, n1, "a", &a));
    CHECK_OK(ng_inception_parse(b2, n2, "b", &b));
    free(b1); free(b2);
    if (!a || !b) { ng_inception_free(a); ng_inception_free(b); return; }
    ng_inception_identity(a, ia, sizeof ia);
    ng_inception_identity(b, ib, sizeof ib);
    CHECK(strcmp(ia, ib) != 0);
    ng_rng_seed(&r, 5);
    for (i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(ng_rng_u64(&r) >> 56);
    src = ng_image_source_u8_planes(px, 4, 3, 8);
    CHECK_OK(ng_inception_stats(a, &src, 3, &sa));
    CHECK(strcmp(sa.net_id, ia) == 0 && sa.n == 4 && sa.d == NG_INCEPTION_FEATURES);
    /* same images against themselves: FID ~ 0; IS of 4 images runs */
    rf = (float *)malloc(4 * NG_INCEPTION_FEATURES * sizeof(float));
    CHECK_OK(ng_inception_embed(a, &src, 0, rf, NULL));
    {
        ng_eval_opts o;
        memset(&o, 0, sizeof o);
        o.is_splits = 2;
        o.kid_subset_size = 4;
        o.kid_subsets = 3;
        CHECK_OK(ng_inception_evaluate(a, &src, &sa, rf, 4, &o, &res));
        CHECK_MSG(fabs(res.fid) < 1e-6 * (1 + sa.mean[0] * sa.mean[0]), "FID of a set with itself %g", res.fid);
        CHECK(res.has_kid && res.is_mean >= 1.0);
        {   /* IS from pool3 W^T without fc's bias, as the TF reference and torch-fidelity */
            float lg[4 * NG_INCEPTION_CLASSES], lu[4 * NG_INCEPTION_CLASSES];
            double is_mean, is_std, spread = 0;
            int k;
            CHECK_OK(ng_inception_embed(a, &src, 0, rf, lg));
            ng_inception_logits_unbiased(a, rf, 4, lu);
            for (k = 0; k < NG_INCEPTION_CLASSES; k++) {   /* logits - unbiased = the bias, the same in every row */
                double bias = lg[k] - lu[k];
                for (i = 1; i < 4; i++) spread = fmax(spread, fabs(lg[i * NG_INCEPTION_CLASSES + k] - lu[i * NG_INCEPTION_CLASSES + k] - bias));
            }
            CHECK_MSG(spread < 1e-4, "logits - unbiased logits vary by %g across rows", spread);
            CHECK(memcmp(lg, lu, sizeof lg) != 0);
            CHECK_OK(ng_metric_is_logits(lu, 4, NG_INCEPTION_CLASSES, 2, NULL, &is_mean, &is_std));
            CHECK(res.is_mean == is_mean && res.is_std == is_std);
        }
        CHECK(res.has_prc && res.precision == 1.0 && res.recall == 1.0);   /* 4 rows > k = 3 */
        /* statistics of network a are refused by network b */
        CHECK(ng_inception_evaluate(b, &src, &sa, NULL, 0, &o, &res) == NG_ERR_MISMATCH);
        CHECK(strstr(ng_last_error(), ia) != NULL);
    }
    CHECK_OK(ng_inception_stats(b, &src, 0, &sb));
    CHECK(ng_metric_fid(&sa, &sb, &fid) == NG_ERR_MISMATCH);
    /* the Fashion-MNIST CNN refuses 3-channel sources */
    {
        ng_fmnist_cnn *cnn = ng_fmnist_cnn_create(&r);
        CHECK(ng_fmnist_cnn_embed(cnn, &src, 0, rf, NULL) == NG_ERR_ARG);
        CHECK(strstr(ng_last_error(), "3 channels") != NULL);
        ng_fmnist_cnn_free(cnn);
    }
    free(rf);
    ng_feat_stats_free(&sa);
    ng_feat_stats_free(&sb);
    ng_inception_free(a);
    ng_inception_free(b);
}

/* NG_INCEPTION_TF1: the network input against torch-fidelity's TF1 resize + (x - 128) / 128,
   written in float32 numpy (tests/ref/make_tf1_resize_fixture.py), on sampled rows of every
   plane; the identity carries the mode, so statistics of the other one are refused. */
TEST(inception_tf1_preprocessing) {
    static const char *const cases[3] = {"rgb32", "gray28", "rgb37x20"};
    static const int shapes[3][4] = {{2, 3, 32, 32}, {1, 1, 28, 28}, {1, 3, 37, 20}};
    fx_file *fx = fx_open("tf1_resize");
    const fx_array *rows = fx ? fx_find(fx, "rows") : NULL;
    ng_inception *net = NULL;
    char id_pt[NG_FEAT_ID_MAX], id_tf[NG_FEAT_ID_MAX], key[64];
    int k;
    CHECK_MSG(fx && rows, "fixture tf1_resize: %s", ng_last_error());
    for (k = 0; fx && rows && k < 3; k++) {
        const int n = shapes[k][0], c = shapes[k][1], h = shapes[k][2], w = shapes[k][3], S = NG_INCEPTION_SIZE;
        const fx_array *x, *y;
        float *out = (float *)malloc((size_t)3 * n * S * S * sizeof(float));
        double worst = 0;
        int p, r, col;
        snprintf(key, sizeof key, "%s_x", cases[k]);
        x = fx_find(fx, key);
        snprintf(key, sizeof key, "%s_y", cases[k]);
        y = fx_find(fx, key);
        if (!x || !y || !out || y->n != (int64_t)3 * n * rows->n * S) { CHECK_MSG(0, "fixture case %s", cases[k]); free(out); continue; }
        ng_inception_preprocess(NG_INCEPTION_TF1, x->f, n, c, h, w, out);
        for (p = 0; p < 3 * n; p++)
            for (r = 0; r < rows->n; r++)
                for (col = 0; col < S; col++) {
                    double got = out[((int64_t)p * S + rows->i[r]) * S + col], want = y->f[((int64_t)p * rows->n + r) * S + col];
                    if (fabs(got - want) > worst) worst = fabs(got - want);
                }
        /* the bytes come back exactly and every step rounds as float32 numpy's: bit for bit */
        CHECK_MSG(worst == 0.0, "%s: largest difference %.3g", cases[k], worst);
        /* and it is not the default preprocessing */
        ng_inception_preprocess(NG_INCEPTION_PYTORCH_FID, x->f, n, c, h, w, out);
        CHECK(fabs(out[1] - y->f[1]) > 1e-3 || fabs(out[S + 7] - y->f[S + 7]) > 1e-3);
        free(out);
    }
    fx_free(fx);
    CHECK_OK(ng_inception_random(5, &net));
    if (!net) return;
    ng_inception_identity(net, id_pt, sizeof id_pt);
    CHECK(ng_inception_set_preprocess(net, 7) == NG_ERR_ARG);
    CHECK_OK(ng_inception_set_preprocess(net, NG_INCEPTION_TF1));
    ng_inception_identity(net, id_tf, sizeof id_tf);
    CHECK(ng_inception_preprocess_mode(net) == NG_INCEPTION_TF1);
    CHECK(strlen(id_tf) == strlen(id_pt) + 4 && !strncmp(id_tf, id_pt, strlen(id_pt)) && !strcmp(id_tf + strlen(id_pt), "/tf1"));
    {   /* statistics of the default preprocessing are refused under TF1 before any forward */
        ng_feat_stats real;
        ng_eval_result res;
        unsigned char px[2 * 8 * 8] = {0};
        ng_image_source gen = ng_image_source_u8(px, 2, 8);
        CHECK_OK(ng_feat_stats_init(&real, NG_INCEPTION_FEATURES, id_pt));
        real.finished = 1;
        real.n = 10;
        CHECK(ng_inception_evaluate(net, &gen, &real, NULL, 0, NULL, &res) == NG_ERR_MISMATCH && strstr(ng_last_error(), "/tf1"));
        ng_feat_stats_free(&real);
    }
    ng_inception_free(net);
}
