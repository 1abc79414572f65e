/* Metrics: the symmetric eigensolver, feature statistics, FID, KID, IS, precision/recall,
   the statistics' checkpoint record and the Fashion-MNIST evaluation layer. numpy references are in
   tests/fixtures/metrics.ngfx (tests/ref/make_metric_fixtures.py); doubles are stored there as
   float32 pairs [hi, lo] (value = hi + lo, about 48 bits). */
#include "test.h"
#include "fixture.h"

/* ---- helpers ---- */

static double hl(const fx_array *a, int64_t i) { return (double)a->f[2 * i] + (double)a->f[2 * i + 1]; }

static const fx_array *need(const fx_file *f, const char *name) {
    const fx_array *a = fx_find(f, name);
    CHECK_MSG(a != NULL, "fixture array %s missing", name);
    return a;
}

static void random_symmetric(double *a, int64_t n, ng_rng *r) {
    int64_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = ng_rng_normal(r);
}

/* Q = I - 2 u u^T / (u.u) for a random u: an exactly symmetric orthogonal matrix (to rounding). */
static void random_reflection(double *q, int64_t n, ng_rng *r) {
    double *u = (double *)malloc((size_t)n * sizeof(double)), uu = 0;
    int64_t i, j;
    for (i = 0; i < n; i++) { u[i] = ng_rng_normal(r); uu += u[i] * u[i]; }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) q[i * n + j] = (i == j) - 2.0 * u[i] * u[j] / uu;
    free(u);
}

/* a = Q diag(lam) Q^T */
static void build_from_spectrum(double *a, const double *q, const double *lam, int64_t n) {
    int64_t i, j, k;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double s = 0;
            for (k = 0; k < n; k++) s += q[i * n + k] * lam[k] * q[j * n + k];
            a[i * n + j] = s;
        }
}

/* max |A - V diag(w) V^T| / max |A| and max |V^T V - I|; also checks ascending order and that
   eigenvalues alone are bitwise those computed with vectors. */
static void check_eigh(const char *label, const double *a, int64_t n, double tol) {
    double *w = (double *)malloc((size_t)n * sizeof(double)), *w2 = (double *)malloc((size_t)n * sizeof(double));
    double *v = (double *)malloc((size_t)(n * n) * sizeof(double));
    double amax = 0, rec = 0, orth = 0;
    int64_t i, j, k;
    CHECK_OK(ng_linalg_eigh(n, a, w, v));
    CHECK_OK(ng_linalg_eigh(n, a, w2, NULL));
    for (i = 0; i < n * n; i++) amax = fmax(amax, fabs(a[i]));
    for (i = 0; i < n; i++) {
        CHECK_MSG(w[i] == w2[i], "%s: eigenvalue %lld differs without vectors", label, (long long)i);
        if (i) CHECK_MSG(w[i - 1] <= w[i], "%s: eigenvalues not ascending at %lld", label, (long long)i);
        for (j = 0; j < n; j++) {
            double s = 0, o = 0;
            for (k = 0; k < n; k++) {
                s += v[i * n + k] * w[k] * v[j * n + k];
                o += v[k * n + i] * v[k * n + j];
            }
            rec = fmax(rec, fabs(s - a[i * n + j]));
            orth = fmax(orth, fabs(o - (i == j)));
        }
    }
    if (amax > 0) rec /= amax;
    CHECK_MSG(rec <= tol && orth <= tol, "%s (n = %lld): reconstruction %.3g, orthogonality %.3g, tolerance %.3g",
              label, (long long)n, rec, orth, tol);
    free(w);
    free(w2);
    free(v);
}

/* ---- eigensolver ---- */

TEST(metrics_eigh_random) {
    static const int64_t sizes[] = {1, 2, 3, 4, 7, 16, 33, 97};
    size_t s;
    ng_rng r;
    ng_test_seed = 11;
    ng_rng_seed(&r, ng_test_seed);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        double *a = (double *)malloc((size_t)(n * n) * sizeof(double));
        random_symmetric(a, n, &r);
        check_eigh("random", a, n, 1e-13 * (double)(n + 10));
        free(a);
    }
}

TEST(metrics_eigh_known_spectra) {
    enum { N = 12 };
    double a[N * N], q[N * N], w[N], v[N * N];
    static const double lam[6] = {-3.0, 0.5, 1.0, 2.0, 10.0, 1e-3};
    static const double rep[6] = {1.0, 5.0, 1.0, -2.0, 1.0, 5.0};   /* repeated: 1 x3, 5 x2 */
    static const double want_rep[6] = {-2.0, 1.0, 1.0, 1.0, 5.0, 5.0};
    static const double want_lam[6] = {-3.0, 1e-3, 0.5, 1.0, 2.0, 10.0};
    ng_rng r;
    int64_t i, j, n;
    ng_test_seed = 12;
    ng_rng_seed(&r, ng_test_seed);
    /* the second-difference matrix: eigenvalues 2 - 2 cos(k pi / (n + 1)) */
    n = N;
    for (i = 0; i < n * n; i++) a[i] = 0;
    for (i = 0; i < n; i++) {
        a[i * n + i] = 2;
        if (i) a[i * n + i - 1] = a[(i - 1) * n + i] = -1;
    }
    CHECK_OK(ng_linalg_eigh(n, a, w, v));
    for (i = 0; i < n; i++) CHECK_CLOSE(w[i], 2 - 2 * cos((double)(i + 1) * 3.14159265358979323846 / (n + 1)), 1e-14, 1e-13);
    check_eigh("second difference", a, n, 1e-13);
    /* Q diag(lam) Q^T for a reflection Q, distinct and then repeated eigenvalues */
    n = 6;
    random_reflection(q, n, &r);
    build_from_spectrum(a, q, lam, n);
    CHECK_OK(ng_linalg_eigh(n, a, w, NULL));
    for (i = 0; i < n; i++) CHECK_CLOSE(w[i], want_lam[i], 1e-14, 1e-13);
    check_eigh("known spectrum", a, n, 1e-14);
    build_from_spectrum(a, q, rep, n);
    CHECK_OK(ng_linalg_eigh(n, a, w, NULL));
    for (i = 0; i < n; i++) CHECK_CLOSE(w[i], want_rep[i], 1e-14, 1e-13);
    check_eigh("repeated eigenvalues", a, n, 1e-14);
    /* diagonal, unsorted: sorted values, unit eigenvectors (up to sign) */
    for (i = 0; i < n * n; i++) a[i] = 0;
    a[0] = 4; a[1 * n + 1] = -1; a[2 * n + 2] = 0; a[3 * n + 3] = 7; a[4 * n + 4] = -1; a[5 * n + 5] = 2.5;
    CHECK_OK(ng_linalg_eigh(n, a, w, v));
    CHECK(w[0] == -1 && w[1] == -1 && w[2] == 0 && w[3] == 2.5 && w[4] == 4 && w[5] == 7);
    CHECK(fabs(v[3 * n + 5]) == 1.0 && fabs(v[0 * n + 4]) == 1.0 && fabs(v[5 * n + 3]) == 1.0 && fabs(v[2 * n + 2]) == 1.0);
    /* multiples of the identity and the zero matrix */
    for (i = 0; i < n * n; i++) a[i] = (i % (n + 1) == 0) ? 3.0 : 0.0;
    check_eigh("3 I", a, n, 1e-15);
    CHECK_OK(ng_linalg_eigh(n, a, w, NULL));
    for (i = 0; i < n; i++) CHECK(w[i] == 3.0);
    for (i = 0; i < n * n; i++) a[i] = 0;
    check_eigh("zero", a, n, 0);
    /* 1x1 and 2x2 */
    a[0] = -2.5;
    CHECK_OK(ng_linalg_eigh(1, a, w, v));
    CHECK(w[0] == -2.5 && v[0] == 1.0);
    a[0] = 2; a[1] = 1; a[2] = 1; a[3] = 2;       /* eigenvalues 1 and 3 */
    CHECK_OK(ng_linalg_eigh(2, a, w, v));
    CHECK_CLOSE(w[0], 1.0, 1e-15, 0);
    CHECK_CLOSE(w[1], 3.0, 1e-15, 0);
    CHECK_CLOSE(fabs(v[0]), sqrt(0.5), 1e-15, 0);
    /* scale invariance: tiny and huge matrices */
    for (j = 0; j < 2; j++) {
        double sc = j ? 1e200 : 1e-200;
        build_from_spectrum(a, q, lam, 6);
        for (i = 0; i < 36; i++) a[i] *= sc;
        CHECK_OK(ng_linalg_eigh(6, a, w, NULL));
        for (i = 0; i < 6; i++) CHECK_CLOSE(w[i] / sc, want_lam[i], 1e-14, 1e-13);
    }
}

TEST(metrics_eigh_reads_lower_only_and_rejects_bad_input) {
    double a[9] = {4, NAN, NAN, 1, 3, NAN, 0, 1, 2}, b[9] = {4, 1, 0, 1, 3, 1, 0, 1, 2}, w[3], w2[3], v[9];
    int i;
    CHECK_OK(ng_linalg_eigh(3, a, w, v));
    CHECK_OK(ng_linalg_eigh(3, b, w2, NULL));
    for (i = 0; i < 3; i++) CHECK(w[i] == w2[i]);
    a[3] = INFINITY;
    CHECK(ng_linalg_eigh(3, a, w, v) == NG_ERR_ARG && strstr(ng_last_error(), "not finite"));
    CHECK(ng_linalg_eigh(0, b, w, v) == NG_ERR_ARG);
    CHECK(ng_linalg_eigh(3, NULL, w, v) == NG_ERR_ARG);
}

/* ---- statistics and FID against numpy ---- */

static void check_stats(const ng_feat_stats *s, const fx_array *mean, const fx_array *cov, const char *label) {
    int64_t i, d = s->d;
    double err = 0, scale = 0;
    for (i = 0; i < d; i++) CHECK_CLOSE(s->mean[i], hl(mean, i), 1e-12, 1e-13);
    for (i = 0; i < d * d; i++) {
        err = fmax(err, fabs(s->cov[i] - hl(cov, i)));
        scale = fmax(scale, fabs(hl(cov, i)));
    }
    CHECK_MSG(err <= 1e-12 * scale, "%s: covariance differs from numpy by %.3g (scale %.3g)", label, err, scale);
}

TEST(metrics_stats_and_fid_match_numpy) {
    fx_file *f = fx_open("metrics");
    const fx_array *x, *y, *xm, *xc;
    ng_feat_stats sx, sy, sb;
    double fid, ref;
    int64_t n, d, r0, step;
    CHECK_MSG(f != NULL, "%s", ng_last_error());
    if (!f) return;
    ng_test_seed = 0;
    x = need(f, "fid/x"); y = need(f, "fid/y"); xm = need(f, "fid/x_mean"); xc = need(f, "fid/x_cov");
    if (!x || !y || !xm || !xc) { fx_free(f); return; }
    n = x->dims[0];
    d = x->dims[1];
    /* one batch, and uneven batches (1, 2, 3, ...): the same statistics to rounding */
    CHECK_OK(ng_feat_stats_compute(&sx, x->f, n, d, "test"));
    check_stats(&sx, xm, xc, "one batch");
    CHECK_OK(ng_feat_stats_init(&sb, d, "test"));
    for (r0 = 0, step = 1; r0 < n; r0 += step, step++) CHECK_OK(ng_feat_stats_add(&sb, x->f + r0 * d, r0 + step <= n ? step : n - r0));
    CHECK_OK(ng_feat_stats_finish(&sb));
    CHECK(sb.n == n);
    check_stats(&sb, xm, xc, "uneven batches");
    CHECK(ng_feat_stats_add(&sb, x->f, 1) == NG_ERR_ARG);   /* finished */
    CHECK_OK(ng_feat_stats_compute(&sy, y->f, y->dims[0], d, "test"));
    /* FID: numpy 20.08; agreement to 1e-10 relative (measured 1e-15) */
    ref = hl(need(f, "fid/fid"), 0);
    CHECK_OK(ng_metric_fid(&sx, &sy, &fid));
    CHECK_CLOSE(fid, ref, 0, 1e-10);
    CHECK_OK(ng_metric_fid(&sy, &sx, &fid));
    CHECK_CLOSE(fid, ref, 0, 1e-10);
    CHECK_OK(ng_metric_fid(&sx, &sb, &fid));       /* identical up to rounding: 0 */
    CHECK(fid >= 0 && fid <= 1e-9);
    CHECK_OK(ng_metric_fid(&sx, &sx, &fid));
    CHECK(fid >= 0 && fid <= 1e-9);
    ng_feat_stats_free(&sx);
    ng_feat_stats_free(&sy);
    ng_feat_stats_free(&sb);
    /* singular covariances (N = 8 and 11 < D = 20): finite, >= 0, numpy's value to 1e-7 relative
       (measured 8e-9: numpy's eigh route adds the square roots of the rounding noise on the ~10
       zero eigenvalues, ~1e-8 of the trace, which nasgan cuts; see ng_metric_fid_moments) */
    x = need(f, "fid_singular/x");
    y = need(f, "fid_singular/y");
    if (x && y) {
        CHECK_OK(ng_feat_stats_compute(&sx, x->f, x->dims[0], x->dims[1], "test"));
        CHECK_OK(ng_feat_stats_compute(&sy, y->f, y->dims[0], y->dims[1], "test"));
        CHECK_OK(ng_metric_fid(&sx, &sy, &fid));
        CHECK_CLOSE(fid, hl(need(f, "fid_singular/fid"), 0), 0, 1e-7);
        CHECK_OK(ng_metric_fid(&sx, &sx, &fid));
        CHECK_MSG(isfinite(fid) && fid >= 0 && fid <= 1e-9, "singular self-FID %.3g", fid);
        ng_feat_stats_free(&sx);
        ng_feat_stats_free(&sy);
    }
    fx_free(f);
}

/* Gaussians with covariances Q diag(a) Q^T and Q diag(b) Q^T (the same eigenvectors):
   FID = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2. Q = I (diagonal) and a reflection. */
TEST(metrics_fid_closed_form) {
    enum { D = 40 };
    double *mu1 = (double *)malloc(D * sizeof(double)), *mu2 = (double *)malloc(D * sizeof(double));
    double *c1 = (double *)malloc(D * D * sizeof(double)), *c2 = (double *)malloc(D * D * sizeof(double));
    double *q = (double *)malloc(D * D * sizeof(double)), a[D], b[D], want = 0, fid;
    ng_rng r;
    int rot, i;
    ng_test_seed = 21;
    ng_rng_seed(&r, ng_test_seed);
    for (i = 0; i < D; i++) {
        mu1[i] = ng_rng_normal(&r);
        mu2[i] = mu1[i] + 0.3 * ng_rng_normal(&r);
        a[i] = i % 7 == 0 ? 0.0 : 0.1 + 4 * ng_rng_uniform(&r);   /* some exact zeros: singular */
        b[i] = 0.1 + 4 * ng_rng_uniform(&r);
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(a[i]) - sqrt(b[i])) * (sqrt(a[i]) - sqrt(b[i]));
    }
    for (rot = 0; rot < 2; rot++) {
        if (rot) random_reflection(q, D, &r);
        else for (i = 0; i < D * D; i++) q[i] = (i % (D + 1) == 0);
        build_from_spectrum(c1, q, a, D);
        build_from_spectrum(c2, q, b, D);
        CHECK_OK(ng_metric_fid_moments(D, mu1, c1, mu2, c2, &fid));
        CHECK_CLOSE(fid, want, 0, 1e-12);   /* measured 1.6e-15 */
        CHECK_OK(ng_metric_fid_moments(D, mu2, c2, mu1, c1, &fid));
        CHECK_CLOSE(fid, want, 0, 1e-12);   /* measured 1.6e-15 */
        CHECK_OK(ng_metric_fid_moments(D, mu1, c1, mu1, c1, &fid));
        CHECK(fid >= 0 && fid <= 1e-9);
    }
    /* zero covariance on one side: FID = |dmu|^2 + Tr S2 */
    for (i = 0; i < D * D; i++) c1[i] = 0;
    CHECK_OK(ng_metric_fid_moments(D, mu1, c1, mu1, c2, &fid));
    {
        double tr = 0;
        for (i = 0; i < D; i++) tr += b[i];
        CHECK_CLOSE(fid, tr, 1e-12, 1e-9);
    }
    c2[3] = NAN;
    c2[3 * D] = NAN;
    CHECK(ng_metric_fid_moments(D, mu1, c1, mu1, c2, &fid) == NG_ERR_ARG);
    free(mu1); free(mu2); free(c1); free(c2); free(q);
}

TEST(metrics_fid_singular_sampled) {
    enum { D = 30, N = 5 };
    float x[N * D], y[(N + 2) * D];
    ng_feat_stats sx, sy;
    double fid;
    ng_rng r;
    ng_test_seed = 22;
    ng_rng_seed(&r, ng_test_seed);
    fill_uniform(x, N * D, &r, -1, 1);
    fill_uniform(y, (N + 2) * D, &r, -1, 2);
    CHECK_OK(ng_feat_stats_compute(&sx, x, N, D, "t"));
    CHECK_OK(ng_feat_stats_compute(&sy, y, N + 2, D, "t"));
    CHECK_OK(ng_metric_fid(&sx, &sy, &fid));
    CHECK_MSG(isfinite(fid) && fid > 1.0, "fid %.6g", fid);
    CHECK_OK(ng_metric_fid(&sy, &sy, &fid));
    CHECK_MSG(isfinite(fid) && fid >= 0 && fid < 1e-9, "self fid %.3g", fid);
    ng_feat_stats_free(&sx);
    CHECK(ng_feat_stats_compute(&sx, x, 1, D, "t") == NG_ERR_ARG);   /* one row: no covariance */
    x[7] = NAN;
    CHECK(ng_feat_stats_compute(&sx, x, N, D, "t") == NG_ERR_ARG && strstr(ng_last_error(), "row 0, column 7"));
    ng_feat_stats_free(&sy);
}

/* ---- KID ---- */

TEST(metrics_kid_matches_numpy) {
    fx_file *f = fx_open("metrics");
    const fx_array *x, *y, *ix, *iy, *vals;
    int64_t *jx, *jy, k, s, m;
    double mean, std, v;
    CHECK_MSG(f != NULL, "%s", ng_last_error());
    if (!f) return;
    ng_test_seed = 0;
    x = need(f, "kid/x"); y = need(f, "kid/y"); ix = need(f, "kid/idx_x"); iy = need(f, "kid/idx_y"); vals = need(f, "kid/values");
    if (!x || !y || !ix || !iy || !vals) { fx_free(f); return; }
    s = ix->dims[0];
    m = ix->dims[1];
    jx = (int64_t *)malloc((size_t)(s * m) * sizeof(int64_t));
    jy = (int64_t *)malloc((size_t)(s * m) * sizeof(int64_t));
    for (k = 0; k < s * m; k++) { jx[k] = ix->i[k]; jy[k] = iy->i[k]; }
    /* each subset alone, then all: values ~1e-2, agreement to 1e-12 absolute */
    for (k = 0; k < s; k++) {
        CHECK_OK(ng_metric_kid_indexed(x->f, x->dims[0], y->f, y->dims[0], x->dims[1], 1, m, jx + k * m, jy + k * m, &mean, &std));
        CHECK_CLOSE(mean, hl(vals, k), 1e-12, 1e-10);
        CHECK(std == 0);
    }
    CHECK_OK(ng_metric_kid_indexed(x->f, x->dims[0], y->f, y->dims[0], x->dims[1], (int)s, m, jx, jy, &mean, &std));
    CHECK_CLOSE(mean, hl(need(f, "kid/mean"), 0), 1e-12, 1e-10);
    CHECK_CLOSE(std, hl(need(f, "kid/std"), 0), 1e-12, 1e-9);
    /* the whole sets: the first 100 rows of x against all 100 of y */
    CHECK_OK(ng_metric_mmd2_poly(x->f, y->f, 100, x->dims[1], &v));
    CHECK_CLOSE(v, hl(need(f, "kid/full"), 0), 1e-12, 1e-10);
    /* random subsets of the whole set (size clipped to N = 100): every subset is a permutation
       of the same rows, so each value (and the mean) is the full value and the std is ~0 */
    {
        ng_rng r;
        ng_rng_seed(&r, 5);
        CHECK_OK(ng_metric_kid(x->f, 100, y->f, 100, x->dims[1], 3, 0, &r, &mean, &std));
        CHECK_CLOSE(mean, v, 1e-12, 1e-10);
        CHECK(std < 1e-12);
    }
    jx[3] = 120;                                   /* out of range */
    CHECK(ng_metric_kid_indexed(x->f, x->dims[0], y->f, y->dims[0], x->dims[1], 1, m, jx, jy, &mean, &std) == NG_ERR_ARG);
    CHECK(ng_metric_mmd2_poly(x->f, y->f, 1, x->dims[1], &v) == NG_ERR_ARG);
    free(jx);
    free(jy);
    fx_free(f);
}

/* Two samples of one distribution: values scatter around 0 with both signs; a shifted
   distribution gives a clearly positive KID. Subsets are reproducible from the seed. */
TEST(metrics_kid_unbiased_and_reproducible) {
    enum { N = 300, D = 8, PAIRS = 16 };
    float *x = (float *)malloc(N * D * sizeof(float)), *y = (float *)malloc(N * D * sizeof(float));
    double vals[PAIRS], mean = 0, sd = 0, m1, s1, m2, s2, shifted;
    int neg = 0, pos = 0, p, i;
    ng_rng r, a, b;
    ng_test_seed = 31;
    ng_rng_seed(&r, ng_test_seed);
    for (p = 0; p < PAIRS; p++) {
        for (i = 0; i < N * D; i++) { x[i] = (float)ng_rng_normal(&r); y[i] = (float)ng_rng_normal(&r); }
        CHECK_OK(ng_metric_mmd2_poly(x, y, 60, D, &vals[p]));
        mean += vals[p] / PAIRS;
        neg += vals[p] < 0;
        pos += vals[p] > 0;
    }
    for (p = 0; p < PAIRS; p++) sd += (vals[p] - mean) * (vals[p] - mean) / (PAIRS - 1);
    sd = sqrt(sd);
    CHECK_MSG(neg > 0 && pos > 0, "same distribution: %d negative, %d positive values", neg, pos);
    CHECK_MSG(fabs(mean) < 4 * sd / sqrt((double)PAIRS), "mean %.3g vs std %.3g", mean, sd);
    for (i = 0; i < N * D; i++) y[i] += 0.5f;
    CHECK_OK(ng_metric_mmd2_poly(x, y, 60, D, &shifted));
    CHECK_MSG(shifted > 10 * sd, "shifted %.3g vs noise %.3g", shifted, sd);
    /* ng_metric_kid: same seed, same numbers; another seed, other subsets */
    ng_rng_seed(&a, 77);
    ng_rng_seed(&b, 77);
    CHECK_OK(ng_metric_kid(x, N, y, N - 17, D, 5, 50, &a, &m1, &s1));
    CHECK_OK(ng_metric_kid(x, N, y, N - 17, D, 5, 50, &b, &m2, &s2));
    CHECK(m1 == m2 && s1 == s2 && s1 > 0);
    CHECK_OK(ng_metric_kid(x, N, y, N - 17, D, 5, 50, &b, &m2, &s2));
    CHECK(m1 != m2);
    CHECK_MSG(fabs(m1 - shifted) < 5 * s1 + 0.1 * shifted, "kid %.4g +- %.3g vs %.4g", m1, s1, shifted);
    free(x);
    free(y);
}

/* ---- Inception-Score analogue ---- */

TEST(metrics_is_matches_numpy) {
    static const int splits[3] = {10, 3, 1};
    fx_file *f = fx_open("metrics");
    const fx_array *lg, *pr, *ref;
    char name[64];
    double mean, std;
    int i;
    ng_rng r;
    CHECK_MSG(f != NULL, "%s", ng_last_error());
    if (!f) return;
    ng_test_seed = 0;
    lg = need(f, "is/logits");
    pr = need(f, "is/probs");
    if (!lg || !pr) { fx_free(f); return; }
    for (i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "is/logits_s%d", splits[i]);
        ref = need(f, name);
        if (!ref) continue;
        CHECK_OK(ng_metric_is_logits(lg->f, lg->dims[0], lg->dims[1], splits[i], NULL, &mean, &std));
        CHECK_CLOSE(mean, hl(ref, 0), 1e-13, 1e-12);
        CHECK_CLOSE(std, hl(ref, 1), 1e-13, 1e-10);
    }
    ref = need(f, "is/probs_s10");
    if (ref) {
        CHECK_OK(ng_metric_is(pr->f, pr->dims[0], pr->dims[1], 0, NULL, &mean, &std));   /* default 10 */
        CHECK_CLOSE(mean, hl(ref, 0), 1e-13, 1e-12);
        CHECK_CLOSE(std, hl(ref, 1), 1e-13, 1e-10);
    }
    /* one split: shuffling changes only the summation order */
    ref = need(f, "is/logits_s1");
    ng_rng_seed(&r, 3);
    CHECK_OK(ng_metric_is_logits(lg->f, lg->dims[0], lg->dims[1], 1, &r, &mean, &std));
    if (ref) CHECK_CLOSE(mean, hl(ref, 0), 1e-13, 1e-12);
    CHECK(ng_metric_is_logits(lg->f, 5, lg->dims[1], 10, NULL, &mean, &std) == NG_ERR_ARG);   /* N < splits */
    fx_free(f);
}

TEST(metrics_is_uniform_and_confident) {
    enum { K = 10, N = 200 };
    float *p = (float *)malloc(N * K * sizeof(float)), *lg = (float *)malloc(N * K * sizeof(float));
    double mean, std;
    int i, j;
    ng_rng r;
    ng_test_seed = 41;
    ng_rng_seed(&r, ng_test_seed);
    for (i = 0; i < N * K; i++) { p[i] = 1.0f / K; lg[i] = 3.25f; }
    CHECK_OK(ng_metric_is(p, N, K, 10, NULL, &mean, &std));
    CHECK_CLOSE(mean, 1.0, 1e-12, 0);
    CHECK(std < 1e-12);
    CHECK_OK(ng_metric_is_logits(lg, N, K, 10, NULL, &mean, &std));
    CHECK_CLOSE(mean, 1.0, 1e-12, 0);
    /* one-hot rows cycling through the classes: every split of 20 is balanced -> K exactly */
    for (i = 0; i < N; i++)
        for (j = 0; j < K; j++) {
            p[i * K + j] = (i % K == j) ? 1.0f : 0.0f;
            lg[i * K + j] = (i % K == j) ? 60.0f : 0.0f;
        }
    CHECK_OK(ng_metric_is(p, N, K, 10, NULL, &mean, &std));
    CHECK_CLOSE(mean, (double)K, 0, 1e-12);
    CHECK(std < 1e-11);
    CHECK_OK(ng_metric_is_logits(lg, N, K, 10, NULL, &mean, &std));
    CHECK_CLOSE(mean, (double)K, 0, 1e-12);
    /* shuffled: splits are no longer exactly balanced, so the score drops below K */
    CHECK_OK(ng_metric_is(p, N, K, 10, &r, &mean, &std));
    CHECK(mean < K && mean > K / 2 && std > 0);
    p[5] = -0.1f;
    CHECK(ng_metric_is(p, N, K, 10, NULL, &mean, &std) == NG_ERR_ARG);
    lg[3] = NAN;
    CHECK(ng_metric_is_logits(lg, N, K, 10, NULL, &mean, &std) == NG_ERR_ARG);
    free(p);
    free(lg);
}

/* ---- precision / recall ---- */

/* Counts from the numpy float64 reference (the fixture script keeps every row's verdict clear
   of the border), so precision and recall must match exactly. */
TEST(metrics_prc_matches_numpy) {
    static const char *cases[] = {"unequal", "d1", "dups", "offset"};
    fx_file *f = fx_open("metrics");
    char name[64];
    size_t c;
    CHECK_MSG(f != NULL, "%s", ng_last_error());
    if (!f) return;
    ng_test_seed = 0;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const fx_array *real, *gen, *ks, *counts;
        int64_t t;
        snprintf(name, sizeof name, "prc/%s/real", cases[c]);
        real = need(f, name);
        snprintf(name, sizeof name, "prc/%s/gen", cases[c]);
        gen = need(f, name);
        snprintf(name, sizeof name, "prc/%s/ks", cases[c]);
        ks = need(f, name);
        snprintf(name, sizeof name, "prc/%s/counts", cases[c]);
        counts = need(f, name);
        if (!real || !gen || !ks || !counts) continue;
        for (t = 0; t < ks->n; t++) {
            const int64_t nr = real->dims[0], ng = gen->dims[0];
            double p = -1, r = -1;
            CHECK_OK(ng_metric_prc(real->f, nr, gen->f, ng, real->dims[1], ks->i[t], &p, &r));
            CHECK_MSG(p == (double)counts->i[2 * t] / (double)ng && r == (double)counts->i[2 * t + 1] / (double)nr,
                      "prc/%s k = %d: precision %.6f recall %.6f, numpy %d/%lld %d/%lld", cases[c], ks->i[t], p, r,
                      counts->i[2 * t], (long long)ng, counts->i[2 * t + 1], (long long)nr);
        }
    }
    fx_free(f);
}

/* Identical sets: 1 / 1. Far-apart clusters: 0 / 0. The real rows plus far outliers as the
   generated set: every real row has its copy (recall 1), only the copies are real-like. */
TEST(metrics_prc_identical_disjoint_outliers) {
    enum { N = 200, D = 10, OUT = 13 };
    float *x = (float *)malloc((N + OUT) * D * sizeof(float)), *y = (float *)malloc((N + OUT) * D * sizeof(float));
    double p, r;
    int i;
    ng_rng g;
    ng_test_seed = 81;
    ng_rng_seed(&g, ng_test_seed);
    fill_uniform(x, N * D, &g, -1, 1);
    CHECK_OK(ng_metric_prc(x, N, x, N, D, 3, &p, &r));
    CHECK(p == 1.0 && r == 1.0);
    CHECK_OK(ng_metric_prc(x, N, x, N, D, 1, &p, &r));
    CHECK(p == 1.0 && r == 1.0);
    for (i = 0; i < N * D; i++) y[i] = x[i] + 50.0f;
    CHECK_OK(ng_metric_prc(x, N, y, N, D, 0, &p, &r));
    CHECK(p == 0.0 && r == 0.0);
    memcpy(y, x, N * D * sizeof(float));
    for (i = 0; i < OUT * D; i++) y[N * D + i] = (float)(40.0 * ng_rng_normal(&g));
    CHECK_OK(ng_metric_prc(x, N, y, N + OUT, D, 3, &p, &r));
    CHECK_MSG(p == (double)N / (N + OUT) && r == 1.0, "precision %.6f recall %.6f", p, r);
    /* swapping the roles swaps the numbers */
    CHECK_OK(ng_metric_prc(y, N + OUT, x, N, D, 3, &p, &r));
    CHECK_MSG(p == 1.0 && r == (double)N / (N + OUT), "precision %.6f recall %.6f", p, r);
    free(x);
    free(y);
}

/* Brute force in double: squared distances by differences, radii by sorting. */
static int cmp_double(const void *a, const void *b) {
    double u = *(const double *)a, v = *(const double *)b;
    return u < v ? -1 : u > v;
}
static double sqdist(const float *a, const float *b, int64_t d) {
    double s = 0;
    int64_t j;
    for (j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}
static void radii_brute(const float *x, int64_t n, int64_t d, int k, double *r2) {
    double *row = (double *)malloc((size_t)n * sizeof(double));
    int64_t i, j;
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) row[j] = sqdist(x + i * d, x + j * d, d);
        qsort(row, (size_t)n, sizeof(double), cmp_double);
        r2[i] = row[k];                          /* (k+1)-th smallest, self included */
    }
    free(row);
}
/* rows of q inside the manifold of (p, r2p); *near counts verdicts within 1e-6 of the border */
static int64_t inside_brute(const float *q, int64_t nq, const float *p, int64_t np, const double *r2p, int64_t d, int *near) {
    int64_t i, j, c = 0;
    for (i = 0; i < nq; i++) {
        int in = 0, close = 0;
        for (j = 0; j < np; j++) {
            double v = sqdist(q + i * d, p + j * d, d);
            if (v <= r2p[j]) in = 1;
            if (fabs(v - r2p[j]) <= 1e-6 * (v + r2p[j])) close = 1;
        }
        c += in;
        *near += close && !in;
    }
    return c;
}

/* Several row blocks (more than 512 rows on a side), against the brute force, and bitwise the
   same on 1 and 2 threads. */
TEST(metrics_prc_blocks_brute_force_and_threads) {
    enum { NR = 1100, NG = 700, D = 12, K = 3 };
    float *x = (float *)malloc(NR * D * sizeof(float)), *y = (float *)malloc(NG * D * sizeof(float));
    double *rx = (double *)malloc(NR * sizeof(double)), *ry = (double *)malloc(NG * sizeof(double));
    double p1, r1, p2, r2;
    int64_t cp, cr;
    int i, near = 0, nt = ng_num_threads();
    ng_rng g;
    ng_test_seed = 91;
    ng_rng_seed(&g, ng_test_seed);
    for (i = 0; i < NR * D; i++) x[i] = (float)ng_rng_normal(&g);
    for (i = 0; i < NG * D; i++) y[i] = (float)(1.2 * ng_rng_normal(&g) + 0.3);
    radii_brute(x, NR, D, K, rx);
    radii_brute(y, NG, D, K, ry);
    cp = inside_brute(y, NG, x, NR, rx, D, &near);
    cr = inside_brute(x, NR, y, NG, ry, D, &near);
    CHECK_MSG(near == 0, "%d verdicts near the border: pick another seed", near);
    ng_set_num_threads(1);
    CHECK_OK(ng_metric_prc(x, NR, y, NG, D, K, &p1, &r1));
    ng_set_num_threads(2);
    CHECK_OK(ng_metric_prc(x, NR, y, NG, D, K, &p2, &r2));
    ng_set_num_threads(nt);
    CHECK_MSG(p1 == (double)cp / NG && r1 == (double)cr / NR, "precision %.6f recall %.6f, brute force %lld/%d %lld/%d",
              p1, r1, (long long)cp, NG, (long long)cr, NR);
    CHECK(p1 > 0.1 && p1 < 0.95 && r1 > 0.1 && r1 < 0.95);
    CHECK(p1 == p2 && r1 == r2);
    free(x); free(y); free(rx); free(ry);
}

TEST(metrics_prc_refusals) {
    enum { N = 20, D = 4 };
    float x[N * D], y[N * D];
    double p = 7, r = 7;
    ng_rng g;
    ng_test_seed = 101;
    ng_rng_seed(&g, ng_test_seed);
    fill_uniform(x, N * D, &g, -1, 1);
    fill_uniform(y, N * D, &g, -1, 1);
    /* a radius needs k other rows: k >= n refused on either side; k <= 0 means 3 */
    CHECK(ng_metric_prc(x, 3, y, N, D, 3, &p, &r) == NG_ERR_ARG && strstr(ng_last_error(), "k = 3"));
    CHECK(ng_metric_prc(x, N, y, 3, D, 0, &p, &r) == NG_ERR_ARG && strstr(ng_last_error(), "3 generated"));
    CHECK(ng_metric_prc(x, N, y, N, D, N, &p, &r) == NG_ERR_ARG);
    CHECK_OK(ng_metric_prc(x, 4, y, 4, D, 3, &p, &r));
    CHECK(ng_metric_prc(NULL, N, y, N, D, 3, &p, &r) == NG_ERR_ARG);
    CHECK(ng_metric_prc(x, N, y, N, D, 3, NULL, &r) == NG_ERR_ARG);
    CHECK(ng_metric_prc(x, N, y, N, 0, 3, &p, &r) == NG_ERR_ARG && strstr(ng_last_error(), "D = 0"));
    y[2 * D + 1] = NAN;
    CHECK(ng_metric_prc(x, N, y, N, D, 3, &p, &r) == NG_ERR_ARG && strstr(ng_last_error(), "generated") &&
          strstr(ng_last_error(), "row 2"));
    x[5] = INFINITY;
    CHECK(ng_metric_prc(x, N, y, N, D, 3, &p, &r) == NG_ERR_ARG && strstr(ng_last_error(), "real"));
}

/* ---- statistics as checkpoint records ---- */

TEST(metrics_stats_save_load_and_refuse) {
    enum { N = 50, D = 6 };
    float x[N * D];
    ng_feat_stats s, t, u;
    char path[512];
    ng_ckpt *ck;
    const unsigned char *raw;
    size_t len;
    double fid;
    ng_rng r;
    int64_t i;
    ng_test_seed = 51;
    ng_rng_seed(&r, ng_test_seed);
    memset(&t, 0, sizeof t);
    fill_uniform(x, N * D, &r, -2, 2);
    CHECK_OK(ng_feat_stats_compute(&s, x, N, D, "netA"));
    snprintf(path, sizeof path, "%s/metrics_stats.ckpt", ng_test_tmpdir());
    CHECK_OK(ng_feat_stats_save(&s, path));
    CHECK_OK(ng_feat_stats_load(&t, path, "netA", N));
    CHECK(t.n == N && t.d == D && t.finished && strcmp(t.net_id, "netA") == 0);
    CHECK(memcmp(t.mean, s.mean, D * sizeof(double)) == 0 && memcmp(t.cov, s.cov, D * D * sizeof(double)) == 0);
    CHECK_OK(ng_metric_fid(&s, &t, &fid));
    CHECK(fid == 0.0 || fid < 1e-12);
    ng_feat_stats_free(&t);
    CHECK_OK(ng_feat_stats_load(&t, path, NULL, 0));  /* no expectations */
    ng_feat_stats_free(&t);
    /* refused: another network, another N; nothing is filled in */
    CHECK(ng_feat_stats_load(&t, path, "netB", 0) == NG_ERR_MISMATCH && strstr(ng_last_error(), "netA") && strstr(ng_last_error(), "netB"));
    CHECK(ng_feat_stats_load(&t, path, "netA", N + 1) == NG_ERR_MISMATCH && strstr(ng_last_error(), "N = 50"));
    CHECK(t.mean == NULL);
    /* FID between statistics of different networks or sizes is refused */
    CHECK_OK(ng_feat_stats_compute(&u, x, N, D, "netB"));
    CHECK(ng_metric_fid(&s, &u, &fid) == NG_ERR_MISMATCH);
    ng_feat_stats_free(&u);
    CHECK_OK(ng_feat_stats_compute(&u, x, N, D - 1, "netA"));
    CHECK(ng_metric_fid(&s, &u, &fid) == NG_ERR_MISMATCH);
    ng_feat_stats_free(&u);
    /* malformed records: truncated, wrong magic; unfinished statistics cannot be saved */
    ck = ng_ckpt_new();
    CHECK_OK(ng_ckpt_put_feat_stats(ck, "a", &s));
    raw = (const unsigned char *)ng_ckpt_get(ck, "a", &len);
    CHECK(raw && len == 4 + 4 + 4 + 4 + 8 + 8 + 8 * (D + D * (D + 1) / 2));
    CHECK_OK(ng_ckpt_put(ck, "short", raw, len - 8));
    CHECK_OK(ng_ckpt_put(ck, "magic", "NGFX", 4));
    CHECK_OK(ng_ckpt_put_i64(ck, "int", 3));
    CHECK(ng_ckpt_get_feat_stats(ck, "short", &t, NULL, 0) == NG_ERR_FORMAT);
    CHECK(ng_ckpt_get_feat_stats(ck, "magic", &t, NULL, 0) == NG_ERR_FORMAT);
    CHECK(ng_ckpt_get_feat_stats(ck, "int", &t, NULL, 0) == NG_ERR_MISMATCH);
    CHECK(ng_ckpt_get_feat_stats(ck, "absent", &t, NULL, 0) == NG_ERR_MISMATCH);
    CHECK_OK(ng_ckpt_get_feat_stats(ck, "a", &t, "netA", N));
    ng_feat_stats_free(&t);
    CHECK_OK(ng_feat_stats_init(&u, D, "netA"));
    CHECK(ng_ckpt_put_feat_stats(ck, "b", &u) == NG_ERR_ARG);
    for (i = 0; i < N; i++) CHECK_OK(ng_feat_stats_add(&u, x + i * D, 1));
    CHECK_OK(ng_feat_stats_finish(&u));
    CHECK_OK(ng_metric_fid(&s, &u, &fid));        /* row by row: the same statistics */
    CHECK(fid < 1e-12);
    ng_feat_stats_free(&u);
    ng_ckpt_free(ck);
    ng_feat_stats_free(&s);
}

/* ---- Fashion-MNIST evaluation layer ---- */

typedef struct gen_state { int size; } gen_state;
/* deterministic "generated" images in [-1, 1]; the 28x28 version is the centre of the 32x32 */
static ng_status gen_fill(const ng_image_source *src, int64_t first, int64_t count, float *out) {
    const gen_state *g = (const gen_state *)src->user;
    int off = (32 - g->size) / 2;
    int64_t i, y, x;
    for (i = 0; i < count; i++)
        for (y = 0; y < g->size; y++)
            for (x = 0; x < g->size; x++) {
                int64_t k = first + i, yy = y + off, xx = x + off;
                out[(i * g->size + y) * g->size + x] = (float)tanh(sin(0.37 * (double)(yy * (k % 5 + 1)) + 0.11 * (double)k) +
                                                                   cos(0.23 * (double)(xx * (k % 3 + 1))) - 0.4);
            }
    return NG_OK;
}

TEST(metrics_fmnist_evaluate) {
    enum { NR = 48, NG = 40 };
    ng_rng r;
    ng_fmnist_cnn *net, *other;
    unsigned char *px = (unsigned char *)malloc(NR * 28 * 28);
    float *rf = (float *)malloc(NR * NG_FMNIST_FEATURES * sizeof(float));
    float *f32 = (float *)malloc(NG * NG_FMNIST_FEATURES * sizeof(float)), *f28 = (float *)malloc(NG * NG_FMNIST_FEATURES * sizeof(float));
    float *l32 = (float *)malloc(NG * NG_FMNIST_CLASSES * sizeof(float));
    gen_state g32, g28;
    ng_image_source real, gen, gen28;
    ng_feat_stats rs, gs;
    ng_eval_opts o;
    ng_eval_result res;
    char id1[NG_FEAT_ID_MAX], id2[NG_FEAT_ID_MAX];
    double fid, km, ks, im, is;
    int i;
    ng_test_seed = 61;
    ng_rng_seed(&r, ng_test_seed);
    net = ng_fmnist_cnn_create(&r);
    other = ng_fmnist_cnn_create(&r);
    CHECK(net && other);
    if (!net || !other) return;
    for (i = 0; i < NR * 28 * 28; i++) px[i] = (unsigned char)(ng_rng_u64(&r) >> 56);
    real = ng_image_source_u8(px, NR, 28);
    g32.size = 32; g28.size = 28;
    gen.fill = gen_fill; gen.user = &g32; gen.n = NG; gen.size = 32; gen.channels = 1;
    gen28 = gen; gen28.user = &g28; gen28.size = 28;
    /* identity: stable, and changes with any weight */
    ng_fmnist_cnn_identity(net, id1, sizeof id1);
    ng_fmnist_cnn_identity(other, id2, sizeof id2);
    CHECK(strncmp(id1, "fmnist_cnn/fc1_relu128/crc32=", 29) == 0 && strcmp(id1, id2) != 0);
    /* 32x32 output is centre-cropped: the same features as the 28x28 crop, in any batching */
    CHECK_OK(ng_fmnist_cnn_embed(net, &gen, 16, f32, l32));
    CHECK_OK(ng_fmnist_cnn_embed(net, &gen28, 0, f28, NULL));
    CHECK(memcmp(f32, f28, NG * NG_FMNIST_FEATURES * sizeof(float)) == 0);
    /* real statistics and features, then the whole evaluation against the pieces */
    CHECK_OK(ng_fmnist_stats(net, &real, 20, &rs));
    CHECK(rs.n == NR && strcmp(rs.net_id, id1) == 0);
    CHECK_OK(ng_fmnist_cnn_embed(net, &real, 7, rf, NULL));
    memset(&o, 0, sizeof o);
    o.kid_subsets = 4;
    o.kid_subset_size = 30;
    o.is_splits = 4;
    o.seed = 9;
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, rf, NR, &o, &res));
    CHECK_OK(ng_feat_stats_compute(&gs, f32, NG, NG_FMNIST_FEATURES, id1));
    CHECK_OK(ng_metric_fid(&gs, &rs, &fid));
    ng_rng_seed(&r, 9);
    CHECK_OK(ng_metric_kid(f32, NG, rf, NR, NG_FMNIST_FEATURES, 4, 30, &r, &km, &ks));
    CHECK_OK(ng_metric_is_logits(l32, NG, NG_FMNIST_CLASSES, 4, NULL, &im, &is));
    CHECK(res.n == NG && res.n_real == NR && res.has_kid);
    CHECK_CLOSE(res.fid, fid, 0, 1e-12);
    CHECK(res.fid > 0);
    CHECK(res.kid_mean == km && res.kid_std == ks);
    CHECK(res.is_mean == im && res.is_std == is && im >= 1.0 && im <= NG_FMNIST_CLASSES);
    /* without real features: no KID */
    CHECK_OK(ng_fmnist_evaluate(net, &gen28, &rs, NULL, 0, NULL, &res));
    CHECK(!res.has_kid && res.fid > 0);
    /* statistics of another network are refused */
    CHECK(ng_fmnist_evaluate(other, &gen, &rs, rf, NR, &o, &res) == NG_ERR_MISMATCH && strstr(ng_last_error(), id1));
    /* bad image sizes */
    gen.size = 29;
    CHECK(ng_fmnist_cnn_embed(net, &gen, 16, f32, NULL) == NG_ERR_ARG);
    ng_feat_stats_free(&rs);
    ng_feat_stats_free(&gs);
    ng_fmnist_cnn_free(net);
    ng_fmnist_cnn_free(other);
    free(px); free(rf); free(f32); free(f28); free(l32);
}

/* Precision/recall in the evaluation: the same as ng_metric_prc on the same features; prc_k
   < 0 turns it off; too few rows for k skips it without failing. */
TEST(metrics_fmnist_evaluate_prc) {
    enum { NR = 30, NG = 24 };
    ng_rng r;
    ng_fmnist_cnn *net;
    unsigned char *px = (unsigned char *)malloc(NR * 28 * 28);
    float *rf = (float *)malloc(NR * NG_FMNIST_FEATURES * sizeof(float));
    float *gf = (float *)malloc(NG * NG_FMNIST_FEATURES * sizeof(float));
    gen_state g28;
    ng_image_source real, gen;
    ng_feat_stats rs;
    ng_eval_opts o;
    ng_eval_result res;
    double p, rc;
    int i;
    ng_test_seed = 62;
    ng_rng_seed(&r, ng_test_seed);
    net = ng_fmnist_cnn_create(&r);
    CHECK(net != NULL);
    if (!net) return;
    for (i = 0; i < NR * 28 * 28; i++) px[i] = (unsigned char)(ng_rng_u64(&r) >> 56);
    real = ng_image_source_u8(px, NR, 28);
    g28.size = 28;
    gen.fill = gen_fill; gen.user = &g28; gen.n = NG; gen.size = 28; gen.channels = 1;
    CHECK_OK(ng_fmnist_stats(net, &real, 0, &rs));
    CHECK_OK(ng_fmnist_cnn_embed(net, &real, 0, rf, NULL));
    CHECK_OK(ng_fmnist_cnn_embed(net, &gen, 0, gf, NULL));
    memset(&o, 0, sizeof o);                       /* prc_k 0: k = 3 */
    o.kid_subsets = 2;
    o.kid_subset_size = 10;
    o.is_splits = 2;
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, rf, NR, &o, &res));
    CHECK_OK(ng_metric_prc(rf, NR, gf, NG, NG_FMNIST_FEATURES, 3, &p, &rc));
    CHECK(res.has_prc && res.precision == p && res.recall == rc);
    o.prc_k = 1;
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, rf, NR, &o, &res));
    CHECK_OK(ng_metric_prc(rf, NR, gf, NG, NG_FMNIST_FEATURES, 1, &p, &rc));
    CHECK(res.has_prc && res.precision == p && res.recall == rc);
    o.prc_k = -1;                                  /* off */
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, rf, NR, &o, &res));
    CHECK(!res.has_prc && res.precision == 0 && res.recall == 0 && res.has_kid);
    o.prc_k = NG;                                  /* too few generated rows: skipped */
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, rf, NR, &o, &res));
    CHECK(!res.has_prc && res.has_kid);
    o.prc_k = 0;                                   /* no real features: no KID, no P/R */
    CHECK_OK(ng_fmnist_evaluate(net, &gen, &rs, NULL, 0, &o, &res));
    CHECK(!res.has_prc && !res.has_kid);
    ng_feat_stats_free(&rs);
    ng_fmnist_cnn_free(net);
    free(px); free(rf); free(gf);
}

/* Matrix products large enough to be split between threads give bitwise the same statistics,
   KID and FID on 1 and 2 threads (each element is summed by one thread in a fixed order). */
TEST(metrics_threads_bitwise) {
    enum { N = 600, D = 200 };
    float *x = (float *)malloc(N * D * sizeof(float)), *y = (float *)malloc(N * D * sizeof(float));
    ng_feat_stats a1, b1, a2, b2;
    double f1, f2, k1, k2, s1, s2;
    int nt = ng_num_threads();
    ng_rng r;
    ng_test_seed = 71;
    ng_rng_seed(&r, ng_test_seed);
    fill_uniform(x, N * D, &r, -1, 1);
    fill_uniform(y, N * D, &r, -1, 1.5);
    ng_set_num_threads(1);
    CHECK_OK(ng_feat_stats_compute(&a1, x, N, D, "t"));
    CHECK_OK(ng_feat_stats_compute(&b1, y, N, D, "t"));
    CHECK_OK(ng_metric_fid(&a1, &b1, &f1));
    ng_rng_seed(&r, 1);
    CHECK_OK(ng_metric_kid(x, N, y, N, D, 2, 300, &r, &k1, &s1));
    ng_set_num_threads(2);
    CHECK_OK(ng_feat_stats_compute(&a2, x, N, D, "t"));
    CHECK_OK(ng_feat_stats_compute(&b2, y, N, D, "t"));
    CHECK_OK(ng_metric_fid(&a2, &b2, &f2));
    ng_rng_seed(&r, 1);
    CHECK_OK(ng_metric_kid(x, N, y, N, D, 2, 300, &r, &k2, &s2));
    ng_set_num_threads(nt);
    CHECK(memcmp(a1.cov, a2.cov, (size_t)D * D * sizeof(double)) == 0);
    CHECK(f1 == f2 && f1 > 0);
    CHECK(k1 == k2 && s1 == s2);
    ng_feat_stats_free(&a1); ng_feat_stats_free(&b1); ng_feat_stats_free(&a2); ng_feat_stats_free(&b2);
    free(x);
    free(y);
}
