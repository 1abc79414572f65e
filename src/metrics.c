/* ======================================================================================== */
/* @@METRICS                                                                                */
/* ======================================================================================== */

/* ---- feature statistics ---- */

static ng_status ng__check_finite_f32(const float *x, int64_t n, int64_t d, const char *what) {
    int64_t i;
    for (i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return ng_fail(NG_ERR_ARG, "%s: row %lld, column %lld is not finite", what, (long long)(i / d),
                           (long long)(i % d));
    return NG_OK;
}

static void ng__set_id(char *dst, const char *id) {
    size_t l = id ? strlen(id) : 0;
    if (l > NG_FEAT_ID_MAX - 1) l = NG_FEAT_ID_MAX - 1;
    if (l) memcpy(dst, id, l);
    dst[l] = '\0';
}

/* (d, d) doubles, or NULL with an error recorded */
static double *ng__alloc_dd(int64_t d, int64_t e, const char *what) {
    size_t n;
    double *p = NULL;
    if (d >= 0 && e >= 0 && !ng_mul_size((size_t)d, (size_t)e, &n) && n <= SIZE_MAX / sizeof(double))
        p = (double *)calloc(n ? n : 1, sizeof(double));
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %lld x %lld doubles", what, (long long)d, (long long)e);
    return p;
}

ng_status ng_feat_stats_init(ng_feat_stats *s, int64_t d, const char *net_id) {
    if (!s) return ng_fail(NG_ERR_ARG, "feat_stats_init: NULL statistics");
    memset(s, 0, sizeof *s);
    if (d < 1 || d > ((int64_t)1 << 24)) return ng_fail(NG_ERR_ARG, "feat_stats_init: D = %lld is out of range", (long long)d);
    s->d = d;
    ng__set_id(s->net_id, net_id);
    s->mean = ng__alloc_dd(d, 1, "feat_stats_init");
    s->cov = s->mean ? ng__alloc_dd(d, d, "feat_stats_init") : NULL;
    if (!s->cov) { ng_feat_stats_free(s); return NG_ERR_NOMEM; }
    return NG_OK;
}

void ng_feat_stats_free(ng_feat_stats *s) {
    if (!s) return;
    free(s->mean);
    free(s->cov);
    memset(s, 0, sizeof *s);
}

/* Rows are merged in chunks: each chunk's mean and its centred sum of squares Xc^T Xc (lower
   triangle, one matrix product), then Chan, Golub and LeVeque's pairwise update
     M2 += M2_chunk + delta delta^T n_a n_b / (n_a + n_b),  mean += delta n_b / (n_a + n_b),
   with delta = mean_chunk - mean. */
#define NG__STATS_CHUNK 256
ng_status ng_feat_stats_add(ng_feat_stats *s, const float *x, int64_t n) {
    int64_t d, r0, i, j;
    double *xc = NULL, *xt = NULL, *bm = NULL;
    ng_status st = NG_OK;
    if (!s || !s->mean) return ng_fail(NG_ERR_ARG, "feat_stats_add: statistics not initialised");
    if (s->finished) return ng_fail(NG_ERR_ARG, "feat_stats_add: statistics already finished");
    if (n < 0 || (n > 0 && !x)) return ng_fail(NG_ERR_ARG, "feat_stats_add: bad rows (n = %lld)", (long long)n);
    if (n == 0) return NG_OK;
    d = s->d;
    st = ng__check_finite_f32(x, n, d, "feat_stats_add");
    if (st != NG_OK) return st;
    xc = ng__alloc_dd(NG__STATS_CHUNK, d, "feat_stats_add");
    xt = xc ? ng__alloc_dd(d, NG__STATS_CHUNK, "feat_stats_add") : NULL;
    bm = xt ? ng__alloc_dd(d, 1, "feat_stats_add") : NULL;
    if (!bm) { st = NG_ERR_NOMEM; goto done; }
    for (r0 = 0; r0 < n; r0 += NG__STATS_CHUNK) {
        int64_t b = n - r0 < NG__STATS_CHUNK ? n - r0 : NG__STATS_CHUNK;
        double na = (double)s->n, nb = (double)b, ntot = na + nb, f = na * nb / ntot;
        const float *xb = x + r0 * d;
        for (j = 0; j < d; j++) bm[j] = 0.0;
        for (i = 0; i < b; i++)
            for (j = 0; j < d; j++) bm[j] += (double)xb[i * d + j];
        for (j = 0; j < d; j++) bm[j] /= nb;
        for (i = 0; i < b; i++)
            for (j = 0; j < d; j++) xc[i * d + j] = xt[j * b + i] = (double)xb[i * d + j] - bm[j];
        st = ng__dgemm(d, d, b, xt, b, xc, d, s->cov, d, 1);
        if (st != NG_OK) goto done;
        for (i = 0; i < d; i++) {                   /* delta = bm - mean, kept in bm */
            bm[i] -= s->mean[i];
            s->mean[i] += bm[i] * (nb / ntot);
        }
        if (s->n > 0)
            for (i = 0; i < d; i++) {
                double fi = f * bm[i], *row = s->cov + i * d;
                for (j = 0; j <= i; j++) row[j] += fi * bm[j];
            }
        s->n += b;
    }
done:
    free(xc);
    free(xt);
    free(bm);
    return st;
}

ng_status ng_feat_stats_finish(ng_feat_stats *s) {
    int64_t d, i, j;
    double inv;
    if (!s || !s->mean) return ng_fail(NG_ERR_ARG, "feat_stats_finish: statistics not initialised");
    if (s->finished) return NG_OK;
    if (s->n < 2) return ng_fail(NG_ERR_ARG, "feat_stats_finish: %lld rows, a covariance needs at least 2", (long long)s->n);
    d = s->d;
    inv = 1.0 / (double)(s->n - 1);
    for (i = 0; i < d; i++)
        for (j = 0; j <= i; j++) s->cov[i * d + j] = s->cov[j * d + i] = s->cov[i * d + j] * inv;
    s->finished = 1;
    return NG_OK;
}

ng_status ng_feat_stats_compute(ng_feat_stats *s, const float *x, int64_t n, int64_t d, const char *net_id) {
    ng_status st = ng_feat_stats_init(s, d, net_id);
    if (st == NG_OK) st = ng_feat_stats_add(s, x, n);
    if (st == NG_OK) st = ng_feat_stats_finish(s);
    if (st != NG_OK) ng_feat_stats_free(s);
    return st;
}

/* ---- statistics as a checkpoint record ---- */
#define NG__FS_VERSION 1u
static uint64_t ng__f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static double ng__bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

ng_status ng_ckpt_put_feat_stats(ng_ckpt *ck, const char *key, const ng_feat_stats *s) {
    size_t idl, nv, size;
    unsigned char *buf;
    ng__wr w;
    int64_t i, j;
    ng_status st;
    if (!s || !s->finished) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': statistics are not finished", key ? key : "");
    idl = strlen(s->net_id);
    nv = (size_t)s->d + (size_t)s->d * ((size_t)s->d + 1) / 2;
    if (nv > (SIZE_MAX - 64 - idl) / 8) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': D too large", key ? key : "");
    size = 4 + 4 + 4 + idl + 8 + 8 + 8 * nv;
    buf = (unsigned char *)malloc(size);
    if (!buf) return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': cannot allocate %zu bytes", key ? key : "", size);
    w.p = buf;
    w.pos = 0;
    ng__wbytes(&w, "NGFS", 4);
    ng__w32(&w, NG__FS_VERSION);
    ng__wstr(&w, s->net_id);
    ng__w64(&w, (uint64_t)s->n);
    ng__w64(&w, (uint64_t)s->d);
    for (i = 0; i < s->d; i++) ng__w64(&w, ng__f64_bits(s->mean[i]));
    for (i = 0; i < s->d; i++)
        for (j = 0; j <= i; j++) ng__w64(&w, ng__f64_bits(s->cov[i * s->d + j]));
    st = ng_ckpt_put(ck, key, buf, size);
    free(buf);
    return st;
}

ng_status ng_ckpt_get_feat_stats(const ng_ckpt *ck, const char *key, ng_feat_stats *s, const char *expect_net_id,
                                 int64_t expect_n) {
    const unsigned char *p, *idb, *magic;
    size_t len;
    ng__rd r;
    uint32_t ver = 0, idl = 0;
    uint64_t n = 0, d = 0, nv, q = 0;
    char id[NG_FEAT_ID_MAX];
    ng_feat_stats t;
    int64_t i, j;
    const char *name = ck && ng__ck_name(ck) ? ng__ck_name(ck) : "(checkpoint)";
    if (!s) return ng_fail(NG_ERR_ARG, "get feat_stats: NULL statistics");
    p = (const unsigned char *)ng_ckpt_get(ck, key, &len);
    if (!p) return ng_fail(NG_ERR_MISMATCH, "%s: no record '%s' (feature statistics)", name, key ? key : "");
    if (ng_ckpt_kind_of(ck, key) != NG_CKPT_RAW) return ng_fail(NG_ERR_MISMATCH, "%s: record '%s' is not raw feature statistics", name, key);
    r.p = p;
    r.n = len;
    r.pos = 0;
    if (ng__rbytes(&r, 4, &magic) || memcmp(magic, "NGFS", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': not feature statistics (magic)", name, key);
    if (ng__r32(&r, &ver) || ver != NG__FS_VERSION)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': feature statistics version %u, expected %u", name, key,
                       (unsigned)ver, NG__FS_VERSION);
    if (ng__r32(&r, &idl) || idl >= NG_FEAT_ID_MAX || ng__rbytes(&r, idl, &idb))
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': bad network identity length", name, key);
    memcpy(id, idb, idl);
    id[idl] = '\0';
    if (ng__r64(&r, &n) || ng__r64(&r, &d) || n < 2 || n > (uint64_t)INT64_MAX || d < 1 || d > ((uint64_t)1 << 24))
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': bad N or D", name, key);
    nv = d + d * (d + 1) / 2;
    if (ng__rleft(&r) / 8 != nv || ng__rleft(&r) % 8 != 0)
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': %zu payload bytes left, D = %llu needs %llu", name, key,
                       ng__rleft(&r), (unsigned long long)d, (unsigned long long)(8 * nv));
    if (expect_net_id && strcmp(expect_net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "%s: record '%s': statistics of feature network '%s', expected '%s'", name, key,
                       id, expect_net_id);
    if (expect_n > 0 && (uint64_t)expect_n != n)
        return ng_fail(NG_ERR_MISMATCH, "%s: record '%s': statistics of N = %llu samples, expected %lld", name, key,
                       (unsigned long long)n, (long long)expect_n);
    if (ng_feat_stats_init(&t, (int64_t)d, id) != NG_OK) return NG_ERR_NOMEM;
    for (i = 0; i < (int64_t)d; i++) { ng__r64(&r, &q); t.mean[i] = ng__bits_f64(q); }
    for (i = 0; i < (int64_t)d; i++)
        for (j = 0; j <= i; j++) {
            ng__r64(&r, &q);
            t.cov[i * (int64_t)d + j] = t.cov[j * (int64_t)d + i] = ng__bits_f64(q);
        }
    for (i = 0; i < (int64_t)d; i++)
        if (!isfinite(t.mean[i])) break;
    for (j = 0; i == (int64_t)d && j < (int64_t)(d * d); j++)
        if (!isfinite(t.cov[j])) break;
    if (i != (int64_t)d || j != (int64_t)(d * d)) {
        ng_feat_stats_free(&t);
        return ng_fail(NG_ERR_FORMAT, "%s: record '%s': non-finite statistics", name, key);
    }
    t.n = (int64_t)n;
    t.finished = 1;
    *s = t;
    return NG_OK;
}

ng_status ng_feat_stats_save(const ng_feat_stats *s, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st;
    if (!ck) return NG_ERR_NOMEM;
    st = ng_ckpt_put_feat_stats(ck, "feat_stats", s);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st;
}

ng_status ng_feat_stats_load(ng_feat_stats *s, const char *path, const char *expect_net_id, int64_t expect_n) {
    ng_ckpt *ck = NULL;
    ng_status st = ng_ckpt_load(path, &ck);
    if (st == NG_OK) st = ng_ckpt_get_feat_stats(ck, "feat_stats", s, expect_net_id, expect_n);
    ng_ckpt_free(ck);
    return st;
}

/* ---- FID ---- */

/* Tr((S1 S2)^1/2) = sum sqrt(eig(M)), M = S1^1/2 S2 S1^1/2. With S1 = V diag(l) V^T and
   L = V diag(sqrt(l)) restricted to the r columns with l > 0, M = V diag(sqrt l) V^T S2 V
   diag(sqrt l) V^T has the same nonzero eigenvalues as G = L^T S2 L (r x r), which is what is
   formed: T^T = L^T S2, then G = T^T L (lower triangle), then its eigenvalues.

   Eigenvalues of S1 and of G at or below D eps max(eigenvalue) are rounding noise around 0 and
   count as 0 (as negative ones do). Otherwise each exactly-zero eigenvalue of a singular
   covariance (N <= D) would add sqrt(noise) ~ 1e-8 sqrt(max eigenvalue) to the trace; with the
   cut, FID of singular covariances with a common eigenbasis matches the closed form to ~1e-13
   instead of ~1e-8 (numpy's eigh route without the cut differs from it by that much). */
ng_status ng_metric_fid_moments(int64_t d, const double *mu1, const double *cov1, const double *mu2,
                                const double *cov2, double *fid) {
    double *w = NULL, *V = NULL, *Lt = NULL, *L = NULL, *S2 = NULL, *Tt = NULL, *G = NULL, *ev = NULL;
    double dm = 0, tr1 = 0, tr2 = 0, trs = 0;
    int64_t i, j, r = 0, c;
    ng_status st = NG_OK;
    if (d < 1 || !mu1 || !cov1 || !mu2 || !cov2 || !fid) return ng_fail(NG_ERR_ARG, "fid: D = %lld or a NULL pointer", (long long)d);
    for (i = 0; i < d; i++) {
        double x = mu1[i] - mu2[i];
        if (!isfinite(x)) return ng_fail(NG_ERR_ARG, "fid: mean %lld is not finite", (long long)i);
        dm += x * x;
        tr1 += cov1[i * d + i];
        tr2 += cov2[i * d + i];
        for (j = 0; j <= i; j++)
            if (!isfinite(cov2[i * d + j])) return ng_fail(NG_ERR_ARG, "fid: covariance 2 (%lld, %lld) is not finite", (long long)i, (long long)j);
    }
    w = ng__alloc_dd(d, 1, "fid");
    V = w ? ng__alloc_dd(d, d, "fid") : NULL;
    if (!V) { st = NG_ERR_NOMEM; goto done; }
    st = ng_linalg_eigh(d, cov1, w, V);             /* checks cov1 */
    if (st != NG_OK) goto done;
    {
        double cut = (double)d * DBL_EPSILON * w[d - 1];
        while (r < d && w[d - 1 - r] > cut && w[d - 1 - r] > 0.0) r++;   /* ascending: large ones last */
    }
    if (r > 0) {
        Lt = ng__alloc_dd(r, d, "fid");
        L = Lt ? ng__alloc_dd(d, r, "fid") : NULL;
        S2 = L ? ng__alloc_dd(d, d, "fid") : NULL;
        Tt = S2 ? ng__alloc_dd(r, d, "fid") : NULL;
        G = Tt ? ng__alloc_dd(r, r, "fid") : NULL;
        ev = G ? ng__alloc_dd(r, 1, "fid") : NULL;
        if (!ev) { st = NG_ERR_NOMEM; goto done; }
        for (c = 0; c < r; c++) {
            int64_t col = d - r + c;
            double sc = sqrt(w[col]);
            for (i = 0; i < d; i++) Lt[c * d + i] = L[i * r + c] = V[i * d + col] * sc;
        }
        free(V);
        V = NULL;
        for (i = 0; i < d; i++)
            for (j = 0; j <= i; j++) S2[i * d + j] = S2[j * d + i] = cov2[i * d + j];
        st = ng__dgemm(r, d, d, Lt, d, S2, d, Tt, d, 0);
        if (st == NG_OK) st = ng__dgemm(r, r, d, Tt, d, L, r, G, r, 1);
        if (st == NG_OK) st = ng_linalg_eigh(r, G, ev, NULL);
        if (st != NG_OK) goto done;
        for (i = 0; i < r; i++)
            if (ev[i] > (double)r * DBL_EPSILON * ev[r - 1]) trs += sqrt(ev[i]);
    }
    *fid = dm + tr1 + tr2 - 2.0 * trs;
    if (*fid < 0.0) *fid = 0.0;                      /* a rounding error below the true value >= 0 */
done:
    free(w); free(V); free(Lt); free(L); free(S2); free(Tt); free(G); free(ev);
    return st;
}

ng_status ng_metric_fid(const ng_feat_stats *a, const ng_feat_stats *b, double *fid) {
    if (!a || !b || !a->finished || !b->finished) return ng_fail(NG_ERR_ARG, "fid: statistics missing or not finished");
    if (a->d != b->d) return ng_fail(NG_ERR_MISMATCH, "fid: feature sizes differ (%lld vs %lld)", (long long)a->d, (long long)b->d);
    if (strcmp(a->net_id, b->net_id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "fid: statistics from different feature networks ('%s' vs '%s')", a->net_id, b->net_id);
    return ng_metric_fid_moments(a->d, a->mean, a->cov, b->mean, b->cov, fid);
}

/* ---- KID ---- */

static double ng__kid_kernel(double g, double inv_d) {
    double t = g * inv_d + 1.0;
    return t * t * t;
}

/* One unbiased MMD^2 from double rows X, Y (m, d) and their transposes (d, m); K is (m, m)
   scratch. Each row's kernel values are summed, then the row sums in order. */
static ng_status ng__mmd2(const double *X, const double *Xt, const double *Y, const double *Yt, int64_t m, int64_t d,
                          double *K, double *out) {
    double inv_d = 1.0 / (double)d, sxx = 0, syy = 0, sxy = 0;
    int64_t i, j, t;
    ng_status st;
    for (t = 0; t < 3; t++) {
        const double *A = t == 1 ? Y : X, *B = t == 0 ? Xt : Yt;
        double tot = 0;
        memset(K, 0, (size_t)(m * m) * sizeof(double));
        st = ng__dgemm(m, m, d, A, d, B, m, K, m, t < 2);
        if (st != NG_OK) return st;
        for (i = 0; i < m; i++) {
            double rs = 0;
            const double *row = K + i * m;
            int64_t end = t < 2 ? i : m;              /* within a set: j < i (twice), no diagonal */
            for (j = 0; j < end; j++) rs += ng__kid_kernel(row[j], inv_d);
            tot += rs;
        }
        if (t == 0) sxx = 2.0 * tot; else if (t == 1) syy = 2.0 * tot; else sxy = tot;
    }
    *out = (sxx + syy) / ((double)m * (double)(m - 1)) - 2.0 * sxy / ((double)m * (double)m);
    return NG_OK;
}

/* Gather rows idx (m) of x (., d) into X (m, d) and Xt (d, m) as doubles. */
static void ng__gather(const float *x, int64_t d, const int64_t *idx, int64_t m, double *X, double *Xt) {
    int64_t i, j;
    for (i = 0; i < m; i++) {
        const float *src = x + (idx ? idx[i] : i) * d;
        for (j = 0; j < d; j++) X[i * d + j] = Xt[j * m + i] = (double)src[j];
    }
}

ng_status ng_metric_kid_indexed(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                                int64_t m, const int64_t *idx_x, const int64_t *idx_y, double *mean, double *std) {
    double *X = NULL, *Xt = NULL, *Y = NULL, *Yt = NULL, *K = NULL, *v = NULL, s = 0, ss = 0;
    int64_t i, k;
    ng_status st = NG_OK;
    if (!x || !y || !mean || !std || d < 1 || subsets < 1 || m < 2 || m > nx || m > ny || m > ((int64_t)1 << 26))
        return ng_fail(NG_ERR_ARG, "kid: bad arguments (D = %lld, subsets = %d, subset size %lld, N = %lld / %lld)",
                       (long long)d, subsets, (long long)m, (long long)nx, (long long)ny);
    for (k = 0; k < (int64_t)subsets * m; k++)
        if ((idx_x && (idx_x[k] < 0 || idx_x[k] >= nx)) || (idx_y && (idx_y[k] < 0 || idx_y[k] >= ny)))
            return ng_fail(NG_ERR_ARG, "kid: subset index %lld out of range", (long long)k);
    if ((st = ng__check_finite_f32(x, nx, d, "kid (x)")) != NG_OK) return st;
    if ((st = ng__check_finite_f32(y, ny, d, "kid (y)")) != NG_OK) return st;
    X = ng__alloc_dd(m, d, "kid");
    Xt = X ? ng__alloc_dd(m, d, "kid") : NULL;
    Y = Xt ? ng__alloc_dd(m, d, "kid") : NULL;
    Yt = Y ? ng__alloc_dd(m, d, "kid") : NULL;
    K = Yt ? ng__alloc_dd(m, m, "kid") : NULL;
    v = K ? ng__alloc_dd(subsets, 1, "kid") : NULL;
    if (!v) { st = NG_ERR_NOMEM; goto done; }
    for (k = 0; k < subsets; k++) {
        ng__gather(x, d, idx_x ? idx_x + k * m : NULL, m, X, Xt);
        ng__gather(y, d, idx_y ? idx_y + k * m : NULL, m, Y, Yt);
        st = ng__mmd2(X, Xt, Y, Yt, m, d, K, &v[k]);
        if (st != NG_OK) goto done;
        s += v[k];
    }
    *mean = s / subsets;
    for (i = 0; i < subsets; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(ss / subsets);
done:
    free(X); free(Xt); free(Y); free(Yt); free(K); free(v);
    return st;
}

ng_status ng_metric_mmd2_poly(const float *x, const float *y, int64_t m, int64_t d, double *mmd2) {
    double sd;
    return ng_metric_kid_indexed(x, m, y, m, d, 1, m, NULL, NULL, mmd2, &sd);
}

/* m distinct indices below n into out (a partial Fisher-Yates shuffle of perm, which holds a
   permutation of 0..n-1 and is left permuted). */
static void ng__draw_subset(int64_t *perm, int64_t n, int64_t m, ng_rng *rng, int64_t *out) {
    int64_t t;
    for (t = 0; t < m; t++) {
        int64_t j = t + (int64_t)ng_rng_below(rng, (uint64_t)(n - t)), tmp = perm[t];
        perm[t] = perm[j];
        perm[j] = tmp;
        out[t] = perm[t];
    }
}

ng_status ng_metric_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d, int subsets,
                        int subset_size, ng_rng *rng, double *mean, double *std) {
    int64_t m = subset_size > 0 ? subset_size : 1000, k, *px = NULL, *py = NULL, *ix = NULL, *iy = NULL;
    ng_status st;
    if (subsets <= 0) subsets = 100;
    if (m > nx) m = nx;
    if (m > ny) m = ny;
    if (!rng || nx < 2 || ny < 2 || nx > ((int64_t)1 << 40) || ny > ((int64_t)1 << 40))
        return ng_fail(NG_ERR_ARG, "kid: needs an RNG and at least 2 rows on each side (N = %lld / %lld)", (long long)nx, (long long)ny);
    px = (int64_t *)malloc((size_t)nx * sizeof(int64_t));
    py = (int64_t *)malloc((size_t)ny * sizeof(int64_t));
    ix = (int64_t *)malloc((size_t)subsets * (size_t)m * sizeof(int64_t));
    iy = (int64_t *)malloc((size_t)subsets * (size_t)m * sizeof(int64_t));
    if (!px || !py || !ix || !iy) {
        st = ng_fail(NG_ERR_NOMEM, "kid: out of memory");
    } else {
        for (k = 0; k < nx; k++) px[k] = k;
        for (k = 0; k < ny; k++) py[k] = k;
        for (k = 0; k < subsets; k++) {             /* as torch-fidelity: x's subset, then y's */
            ng__draw_subset(px, nx, m, rng, ix + k * m);
            ng__draw_subset(py, ny, m, rng, iy + k * m);
        }
        st = ng_metric_kid_indexed(x, nx, y, ny, d, subsets, m, ix, iy, mean, std);
    }
    free(px); free(py); free(ix); free(iy);
    return st;
}

/* ---- Inception-Score analogue ---- */

/* logp (n, k): log-probabilities in double; rows taken in the order perm (or 0..n-1). */
static ng_status ng__is_core(const double *logp, int64_t n, int64_t k, int splits, const int64_t *perm, double *mean,
                             double *std) {
    double *q = (double *)malloc((size_t)k * sizeof(double)), *sc = (double *)malloc((size_t)splits * sizeof(double));
    double s = 0, ss = 0;
    int64_t sp, i, j;
    if (!q || !sc) { free(q); free(sc); return ng_fail(NG_ERR_NOMEM, "inception score: out of memory"); }
    for (sp = 0; sp < splits; sp++) {
        int64_t a = sp * n / splits, b = (sp + 1) * n / splits;
        double kl = 0;
        for (j = 0; j < k; j++) q[j] = 0.0;
        for (i = a; i < b; i++) {
            const double *lp = logp + (perm ? perm[i] : i) * k;
            for (j = 0; j < k; j++) q[j] += exp(lp[j]);
        }
        for (j = 0; j < k; j++) q[j] = log(q[j] / (double)(b - a));
        for (i = a; i < b; i++) {
            const double *lp = logp + (perm ? perm[i] : i) * k;
            double row = 0;
            for (j = 0; j < k; j++) {
                double pj = exp(lp[j]);
                if (pj > 0.0) row += pj * (lp[j] - q[j]);   /* 0 log 0 = 0 */
            }
            kl += row;
        }
        sc[sp] = exp(kl / (double)(b - a));
        s += sc[sp];
    }
    *mean = s / splits;
    for (sp = 0; sp < splits; sp++) ss += (sc[sp] - *mean) * (sc[sp] - *mean);
    *std = sqrt(ss / splits);
    free(q);
    free(sc);
    return NG_OK;
}

static ng_status ng__is_run(const float *in, int is_logits, int64_t n, int64_t k, int splits, ng_rng *shuffle,
                            double *mean, double *std) {
    double *logp;
    int64_t *perm = NULL, i, j;
    ng_status st;
    if (splits <= 0) splits = 10;
    if (!in || !mean || !std || k < 1 || n < splits || n > ((int64_t)1 << 40) || k > ((int64_t)1 << 24))
        return ng_fail(NG_ERR_ARG, "inception score: bad arguments (N = %lld, K = %lld, splits = %d)", (long long)n,
                       (long long)k, splits);
    if ((st = ng__check_finite_f32(in, n, k, "inception score")) != NG_OK) return st;
    logp = ng__alloc_dd(n, k, "inception score");
    if (!logp) return NG_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        const float *r = in + i * k;
        double *lp = logp + i * k;
        if (is_logits) {                            /* log_softmax in double */
            double mx = r[0], se = 0;
            for (j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
            for (j = 0; j < k; j++) se += exp((double)r[j] - mx);
            se = log(se);
            for (j = 0; j < k; j++) lp[j] = (double)r[j] - mx - se;
        } else {
            for (j = 0; j < k; j++) {
                if (r[j] < 0.0f) { free(logp); return ng_fail(NG_ERR_ARG, "inception score: probability (%lld, %lld) < 0", (long long)i, (long long)j); }
                lp[j] = log((double)r[j]);           /* -inf for 0: exp gives 0 and the term is skipped */
            }
        }
    }
    if (shuffle) {
        perm = (int64_t *)malloc((size_t)n * sizeof(int64_t));
        if (!perm) { free(logp); return ng_fail(NG_ERR_NOMEM, "inception score: out of memory"); }
        for (i = 0; i < n; i++) perm[i] = i;
        for (i = n - 1; i > 0; i--) {
            int64_t t = (int64_t)ng_rng_below(shuffle, (uint64_t)(i + 1)), tmp = perm[i];
            perm[i] = perm[t];
            perm[t] = tmp;
        }
    }
    st = ng__is_core(logp, n, k, splits, perm, mean, std);
    free(perm);
    free(logp);
    return st;
}

ng_status ng_metric_is(const float *p, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean, double *std) {
    return ng__is_run(p, 0, n, k, splits, shuffle, mean, std);
}
ng_status ng_metric_is_logits(const float *logits, int64_t n, int64_t k, int splits, ng_rng *shuffle, double *mean,
                              double *std) {
    return ng__is_run(logits, 1, n, k, splits, shuffle, mean, std);
}

/* ---- precision / recall ---- */

/* Rows per distance block: a block's products with a whole set are held as floats
   (NG__PRC_BLOCK x N: 20 MB for N = 10,000), never an N x N matrix. */
#define NG__PRC_BLOCK 512
/* Columns per task in the column passes, which walk a block's rows over a few columns each. */
#define NG__PRC_CHUNK 64

/* One side of the comparison: its rows centred on the common mean, and their squared norms. */
typedef struct ng__prc_set {
    float *x;               /* (n, d) */
    double *norm2;          /* (n) */
    int64_t n;
} ng__prc_set;

/* Rounding at the border (distance == radius). Distances are compared squared, as
   |a|^2 + |b|^2 - 2 a.b with the norms summed in double and a.b from SGEMM, clamped at 0 (a
   negative value is cancellation noise). Both sets are first centred on their common mean,
   which leaves distances alone but keeps the norms, and so the cancellation, at the scale of
   the data's spread rather than of its offset. A row's distance to itself is never computed:
   it is exactly 0, so the (k+1)-th smallest distance including it is the k-th smallest over
   the other rows; radius and query distances then carry the same kind of error, and the
   comparison is d2 <= r2 on those values as they are. */
static double ng__prc_d2(double norm2_a, double norm2_b, float dot) {
    double v = norm2_a + norm2_b - 2.0 * (double)dot;
    return v > 0.0 ? v : 0.0;
}

/* list: the k smallest values inserted so far, ascending (+inf where fewer were). The list
   does not depend on the order of insertion, so neither do the radii on the threads. */
static void ng__keep_smallest(double *list, int k, double v) {
    int i = k - 1;
    if (!(v < list[i])) return;
    for (; i > 0 && list[i - 1] > v; i--) list[i] = list[i - 1];
    list[i] = v;
}

static float *ng__alloc_ff(int64_t n, int64_t d, const char *what) {
    size_t m;
    float *p = NULL;
    if (n >= 0 && d >= 0 && !ng_mul_size((size_t)n, (size_t)d, &m) && m <= SIZE_MAX / sizeof(float))
        p = (float *)malloc((m ? m : 1) * sizeof(float));
    if (!p) ng_fail(NG_ERR_NOMEM, "%s: cannot allocate %lld x %lld floats", what, (long long)n, (long long)d);
    return p;
}

static void ng__prc_set_free(ng__prc_set *s) {
    free(s->x);
    free(s->norm2);
    memset(s, 0, sizeof *s);
}

/* s = rows of x minus centre, each value rounded once to float, with their squared norms. */
static ng_status ng__prc_set_init(ng__prc_set *s, const float *x, int64_t n, int64_t d, const double *centre) {
    int64_t i;
    s->n = n;
    s->x = ng__alloc_ff(n, d, "precision/recall");
    s->norm2 = s->x ? ng__alloc_dd(n, 1, "precision/recall") : NULL;
    if (!s->norm2) { ng__prc_set_free(s); return NG_ERR_NOMEM; }
    NG__OMP_FOR(n * d >= 65536)
    for (i = 0; i < n; i++) {
        const float *src = x + i * d;
        float *dst = s->x + i * d;
        double acc = 0.0;
        int64_t j;
        for (j = 0; j < d; j++) {
            dst[j] = (float)((double)src[j] - centre[j]);
            acc += (double)dst[j] * (double)dst[j];
        }
        s->norm2[i] = acc;
    }
    return NG_OK;
}

/* Both sets centred on the mean of all their rows. */
static ng_status ng__prc_centre(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d,
                                ng__prc_set *r, ng__prc_set *g) {
    double *centre = ng__alloc_dd(d, 1, "precision/recall");
    int64_t i, j;
    ng_status st;
    if (!centre) return NG_ERR_NOMEM;
    for (i = 0; i < n_real; i++)
        for (j = 0; j < d; j++) centre[j] += (double)real[i * d + j];
    for (i = 0; i < n_gen; i++)
        for (j = 0; j < d; j++) centre[j] += (double)gen[i * d + j];
    for (j = 0; j < d; j++) centre[j] /= (double)(n_real + n_gen);
    st = ng__prc_set_init(r, real, n_real, d, centre);
    if (st == NG_OK) st = ng__prc_set_init(g, gen, n_gen, d, centre);
    free(centre);
    return st;
}

/* r2[i] = squared radius of row i of s: the k-th smallest squared distance to its other rows.
   lists is (n, k) scratch, G (NG__PRC_BLOCK, n). Row block [i0, i0 + nb) is multiplied only
   with rows [0, i0 + nb) (the lower block triangle): the block's rows take their distances to
   all of those (row pass), and each earlier row j < i0 takes its distances to the block's
   rows (column pass). So every pair is computed once, or twice within a block. */
static void ng__prc_radii(const ng__prc_set *s, int64_t d, int k, float *G, double *lists, double *r2) {
    int64_t n = s->n, i0, i, c;
    for (i = 0; i < n * k; i++) lists[i] = INFINITY;
    for (i0 = 0; i0 < n; i0 += NG__PRC_BLOCK) {
        const int64_t nb = n - i0 < NG__PRC_BLOCK ? n - i0 : NG__PRC_BLOCK, ncol = i0 + nb;
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, nb, ncol, d, 1.0f, s->x + i0 * d, d, s->x, d, 0.0f, G, ncol);
        NG__OMP_FOR(nb * ncol >= 65536)
        for (i = 0; i < nb; i++) {
            const float *dot = G + i * ncol;
            const double ni = s->norm2[i0 + i];
            double *list = lists + (i0 + i) * k;
            int64_t j;
            for (j = 0; j < ncol; j++)
                if (j != i0 + i) ng__keep_smallest(list, k, ng__prc_d2(ni, s->norm2[j], dot[j]));
        }
        NG__OMP_FOR(nb * i0 >= 65536)
        for (c = 0; c < i0; c += NG__PRC_CHUNK) {
            const int64_t c1 = i0 - c < NG__PRC_CHUNK ? i0 : c + NG__PRC_CHUNK;
            int64_t b, j;
            for (b = 0; b < nb; b++) {
                const float *dot = G + b * ncol;
                const double nb2 = s->norm2[i0 + b];
                for (j = c; j < c1; j++) ng__keep_smallest(lists + j * k, k, ng__prc_d2(nb2, s->norm2[j], dot[j]));
            }
        }
    }
    for (i = 0; i < n; i++) r2[i] = lists[i * k + k - 1];
}

/* One pass over the products of g's rows with r's, block by block of g's rows: g's row i is in
   r's manifold when some row j of r has d2(i, j) <= r2_r[j] (row pass); r's row j is in g's
   manifold when some row i of g has d2(i, j) <= r2_g[i] (column pass). in_g (g->n) and
   in_r (r->n) get 1 for the rows inside. */
static void ng__prc_cross(const ng__prc_set *g, const ng__prc_set *r, int64_t d, const double *r2_g,
                          const double *r2_r, float *G, unsigned char *in_g, unsigned char *in_r) {
    const int64_t nr = r->n;
    int64_t i0, i, c;
    memset(in_g, 0, (size_t)g->n);
    memset(in_r, 0, (size_t)nr);
    for (i0 = 0; i0 < g->n; i0 += NG__PRC_BLOCK) {
        const int64_t nb = g->n - i0 < NG__PRC_BLOCK ? g->n - i0 : NG__PRC_BLOCK;
        ng_sgemm(NG_GEMM_BUILTIN, 0, 1, nb, nr, d, 1.0f, g->x + i0 * d, d, r->x, d, 0.0f, G, nr);
        NG__OMP_FOR(nb * nr >= 65536)
        for (i = 0; i < nb; i++) {
            const float *dot = G + i * nr;
            const double ni = g->norm2[i0 + i];
            int64_t j;
            for (j = 0; j < nr; j++)
                if (ng__prc_d2(ni, r->norm2[j], dot[j]) <= r2_r[j]) { in_g[i0 + i] = 1; break; }
        }
        NG__OMP_FOR(nb * nr >= 65536)
        for (c = 0; c < nr; c += NG__PRC_CHUNK) {
            const int64_t c1 = nr - c < NG__PRC_CHUNK ? nr : c + NG__PRC_CHUNK;
            int64_t b, j;
            for (b = 0; b < nb; b++) {
                const float *dot = G + b * nr;
                const double nb2 = g->norm2[i0 + b], rb2 = r2_g[i0 + b];
                for (j = c; j < c1; j++)
                    if (!in_r[j] && ng__prc_d2(nb2, r->norm2[j], dot[j]) <= rb2) in_r[j] = 1;
            }
        }
    }
}

static int64_t ng__count_set(const unsigned char *flag, int64_t n) {
    int64_t i, c = 0;
    for (i = 0; i < n; i++) c += flag[i];
    return c;
}

ng_status ng_metric_prc(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int64_t d, int k,
                        double *precision, double *recall) {
    ng__prc_set r, g;
    float *G = NULL;
    double *lists = NULL, *r2_real = NULL, *r2_gen = NULL;
    unsigned char *inside = NULL;
    int64_t nmax, rows;
    ng_status st;
    memset(&r, 0, sizeof r);
    memset(&g, 0, sizeof g);
    if (k <= 0) k = 3;
    if (!real || !gen || !precision || !recall) return ng_fail(NG_ERR_ARG, "precision/recall: NULL argument");
    if (d < 1 || d > ((int64_t)1 << 24)) return ng_fail(NG_ERR_ARG, "precision/recall: D = %lld is out of range", (long long)d);
    if (n_real <= k || n_gen <= k || n_real > ((int64_t)1 << 40) || n_gen > ((int64_t)1 << 40))
        return ng_fail(NG_ERR_ARG,
                       "precision/recall: k = %d needs more than k rows on each side (a radius is the distance to "
                       "the k-th nearest other row); got %lld real and %lld generated",
                       k, (long long)n_real, (long long)n_gen);
    if ((st = ng__check_finite_f32(real, n_real, d, "precision/recall: real features")) != NG_OK) return st;
    if ((st = ng__check_finite_f32(gen, n_gen, d, "precision/recall: generated features")) != NG_OK) return st;
    nmax = n_real > n_gen ? n_real : n_gen;
    rows = nmax < NG__PRC_BLOCK ? nmax : NG__PRC_BLOCK;
    G = ng__alloc_ff(rows, nmax, "precision/recall");
    lists = G ? ng__alloc_dd(nmax, k, "precision/recall") : NULL;
    r2_real = lists ? ng__alloc_dd(n_real, 1, "precision/recall") : NULL;
    r2_gen = r2_real ? ng__alloc_dd(n_gen, 1, "precision/recall") : NULL;
    inside = r2_gen ? (unsigned char *)malloc((size_t)(n_real + n_gen)) : NULL;
    if (r2_gen && !inside) ng_fail(NG_ERR_NOMEM, "precision/recall: out of memory");
    st = inside ? ng__prc_centre(real, n_real, gen, n_gen, d, &r, &g) : NG_ERR_NOMEM;
    if (st == NG_OK) {
        ng__prc_radii(&r, d, k, G, lists, r2_real);
        ng__prc_radii(&g, d, k, G, lists, r2_gen);
        ng__prc_cross(&g, &r, d, r2_gen, r2_real, G, inside + n_real, inside);
        *precision = (double)ng__count_set(inside + n_real, n_gen) / (double)n_gen;
        *recall = (double)ng__count_set(inside, n_real) / (double)n_real;
    }
    ng__prc_set_free(&r);
    ng__prc_set_free(&g);
    free(G); free(lists); free(r2_real); free(r2_gen); free(inside);
    return st;
}

/* Precision/recall inside the evaluation layers: off when prc_k < 0 or without real features;
   skipped (has_prc = 0) rather than failed when a side has no more than k rows. */
static ng_status ng__eval_prc(const float *gen_features, int64_t n_gen, const float *real_features, int64_t n_real,
                              int64_t d, int prc_k, ng_eval_result *out) {
    const int k = prc_k == 0 ? 3 : prc_k;
    ng_status st;
    if (prc_k < 0 || !real_features || n_gen <= k || n_real <= k) return NG_OK;
    st = ng_metric_prc(real_features, n_real, gen_features, n_gen, d, k, &out->precision, &out->recall);
    out->has_prc = st == NG_OK;
    return st;
}

/* ---- offline evaluation with the Fashion-MNIST CNN ---- */

static ng_status ng__u8_fill(const ng_image_source *src, int64_t first, int64_t count, float *out) {
    int64_t per = (int64_t)(src->channels > 1 ? src->channels : 1) * src->size * src->size;
    const unsigned char *px = (const unsigned char *)src->user + first * per;
    int64_t i, n = count * per;
    for (i = 0; i < n; i++) out[i] = (float)px[i] * (2.0f / 255.0f) - 1.0f;
    return NG_OK;
}

ng_image_source ng_image_source_u8_planes(const unsigned char *pixels, int64_t n, int channels, int size) {
    ng_image_source s;
    s.fill = ng__u8_fill;
    s.user = (void *)(uintptr_t)pixels;          /* read only: ng__u8_fill never writes */
    s.n = n;
    s.size = size;
    s.channels = channels;
    return s;
}

ng_image_source ng_image_source_u8(const unsigned char *pixels, int64_t n, int size) {
    return ng_image_source_u8_planes(pixels, n, 1, size);
}

static uint32_t ng__crc_f32s(uint32_t crc, const float *x, int64_t n) {
    unsigned char b[4 * 256];
    int64_t i0, i;
    for (i0 = 0; i0 < n; i0 += 256) {
        int64_t m = n - i0 < 256 ? n - i0 : 256;
        for (i = 0; i < m; i++) ng__le32(b + 4 * i, ng__f32_bits(x[i0 + i]));
        crc = ng_crc32(crc, b, (size_t)(4 * m));
    }
    return crc;
}

/* The CRC of a group's values; a GPU group's are read from its host mirror, refreshed first. */
static uint32_t ng__crc_params(uint32_t crc, ng_params *g) {
    if (g->device != NG_CUDA) return ng__crc_f32s(crc, g->data, g->numel);
    ng_params_sync_host(g);
    return ng__crc_f32s(crc, g->host_data, g->numel);
}

void ng_fmnist_cnn_identity(const ng_fmnist_cnn *net, char *buf, size_t cap) {
    uint32_t crc = 0;
    if (!buf || cap == 0) return;
    if (net) crc = ng__crc_params(ng__crc_params(crc, net->weights), net->buffers);
    snprintf(buf, cap, "fmnist_cnn/fc1_relu%d/crc32=%08x", NG_FMNIST_FEATURES, (unsigned)crc);
}

/* Per-image bytes of the no-tape forward in the step arena, with margin (measured: 0.61 MB
   per image at batch 1, 0.49 MB at batch 256, most of it the 32-channel 28x28 maps and the
   convolution's scratch). Untouched arena pages cost no memory. Should a change to the ops
   need more, the batch is retried with an arena twice as large (twice). */
#ifndef NG__EMBED_BYTES_PER_IMAGE
#define NG__EMBED_BYTES_PER_IMAGE ((size_t)1024 * 1024)
#endif

ng_status ng_fmnist_cnn_embed(ng_fmnist_cnn *net, const ng_image_source *src, int batch, float *features,
                              float *logits) {
    ng_ctx *ctx;
    float *raw = NULL;
    int64_t first, off;
    size_t arena;
    int size, retries = 0;
    ng_status st = NG_OK;
    if (!net || !src || !src->fill || src->n < 0) return ng_fail(NG_ERR_ARG, "fmnist embed: NULL network or source");
    if (src->channels > 1)
        return ng_fail(NG_ERR_ARG, "fmnist embed: the source has %d channels; the Fashion-MNIST CNN takes grayscale images",
                       src->channels);
    size = src->size;
    if (size < 28 || (size - 28) % 2 != 0 || size > 4096)
        return ng_fail(NG_ERR_ARG, "fmnist embed: images are %dx%d; 28x28 or a larger size with an even margin (32x32) expected",
                       size, size);
    if (batch <= 0) batch = 256;
    if (src->n == 0) return NG_OK;
    if (batch > src->n) batch = (int)src->n;
    off = (size - 28) / 2;
    arena = (size_t)batch * NG__EMBED_BYTES_PER_IMAGE + ((size_t)4 << 20);
    ctx = ng_ctx_create_on(arena, 0, (ng_device)net->weights->device);   /* where the CNN is */
    if (!ctx) return NG_ERR_NOMEM;
    ctx->training = 0;
    ctx->no_grad = 1;
    if (size != 28) {
        raw = (float *)malloc((size_t)batch * (size_t)size * (size_t)size * sizeof(float));
        if (!raw) { ng_ctx_free(ctx); return ng_fail(NG_ERR_NOMEM, "fmnist embed: out of memory"); }
    }
    for (first = 0; first < src->n && st == NG_OK;) {
        int64_t b = src->n - first < batch ? src->n - first : batch, i, y;
        ng_tensor *x, *feat = NULL, *lg = NULL;
        float *hx;
        const float *hf = NULL, *hl = NULL;
        ng_ctx_reset(ctx);
        x = ng_tensor_new(ctx, ng_shape4(b, 1, 28, 28));
        if ((hx = ng_tensor_host_write(ctx, x)) != NULL) {
            st = src->fill(src, first, b, raw ? raw : hx);
            if (st != NG_OK) break;
            if (raw)                                 /* centre crop */
                for (i = 0; i < b; i++)
                    for (y = 0; y < 28; y++)
                        memcpy(hx + (i * 28 + y) * 28, raw + (i * size + y + off) * size + off, 28 * sizeof(float));
            if ((st = ng__check_finite_f32(hx, b, 28 * 28, "fmnist embed: generated images")) != NG_OK) break;
            if (ng_tensor_host_done(x, hx) == NG_OK) lg = ng_fmnist_cnn_forward(ctx, net, x, &feat);
        }
        if (lg && feat && (!(hf = ng_tensor_host_read(ctx, feat)) || !(hl = ng_tensor_host_read(ctx, lg)))) lg = NULL;
        if (!lg || !feat) {
            ng_status cs = ng_ctx_status(ctx) != NG_OK ? ng_ctx_status(ctx) : NG_ERR_NOMEM;
            if (cs == NG_ERR_NOMEM && retries++ < 2) {   /* arena too small: grow and redo */
                ng_ctx_free(ctx);
                ng_clear_error();
                arena *= 2;
                ctx = ng_ctx_create_on(arena, 0, (ng_device)net->weights->device);
                if (!ctx) { free(raw); return NG_ERR_NOMEM; }
                ctx->training = 0;
                ctx->no_grad = 1;
                continue;
            }
            st = ng_fail(cs, "fmnist embed: forward failed at image %lld: %s", (long long)first, ng_status_str(cs));
            break;
        }
        if (features) memcpy(features + first * NG_FMNIST_FEATURES, hf, (size_t)(b * NG_FMNIST_FEATURES) * sizeof(float));
        if (logits) memcpy(logits + first * NG_FMNIST_CLASSES, hl, (size_t)(b * NG_FMNIST_CLASSES) * sizeof(float));
        first += b;
    }
    free(raw);
    ng_ctx_free(ctx);
    return st;
}

ng_status ng_fmnist_stats(ng_fmnist_cnn *net, const ng_image_source *src, int batch, ng_feat_stats *out) {
    char id[NG_FEAT_ID_MAX];
    float *f;
    ng_status st;
    if (!src || src->n < 2 || !out) return ng_fail(NG_ERR_ARG, "fmnist stats: needs at least 2 images");
    f = (float *)malloc((size_t)src->n * NG_FMNIST_FEATURES * sizeof(float));
    if (!f) return ng_fail(NG_ERR_NOMEM, "fmnist stats: out of memory");
    ng_fmnist_cnn_identity(net, id, sizeof id);
    st = ng_fmnist_cnn_embed(net, src, batch, f, NULL);
    if (st == NG_OK) st = ng_feat_stats_compute(out, f, src->n, NG_FMNIST_FEATURES, id);
    free(f);
    return st;
}

ng_status ng_fmnist_evaluate(ng_fmnist_cnn *net, const ng_image_source *gen, const ng_feat_stats *real,
                             const float *real_features, int64_t n_real_features, const ng_eval_opts *opts,
                             ng_eval_result *out) {
    ng_eval_opts o;
    char id[NG_FEAT_ID_MAX];
    float *f = NULL, *lg = NULL;
    ng_feat_stats gs;
    ng_rng rng;
    ng_status st;
    memset(&gs, 0, sizeof gs);
    if (!net || !gen || !real || !out) return ng_fail(NG_ERR_ARG, "fmnist evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    if (opts) o = *opts; else memset(&o, 0, sizeof o);
    ng_fmnist_cnn_identity(net, id, sizeof id);
    if (!real->finished || real->d != NG_FMNIST_FEATURES)
        return ng_fail(NG_ERR_ARG, "fmnist evaluate: real statistics not finished or not %d-d", NG_FMNIST_FEATURES);
    if (strcmp(real->net_id, id) != 0)
        return ng_fail(NG_ERR_MISMATCH, "fmnist evaluate: real statistics are from '%s', this network is '%s'", real->net_id, id);
    if (gen->n < 2) return ng_fail(NG_ERR_ARG, "fmnist evaluate: needs at least 2 generated images");
    f = (float *)malloc((size_t)gen->n * NG_FMNIST_FEATURES * sizeof(float));
    lg = (float *)malloc((size_t)gen->n * NG_FMNIST_CLASSES * sizeof(float));
    if (!f || !lg) { st = ng_fail(NG_ERR_NOMEM, "fmnist evaluate: out of memory"); goto done; }
    st = ng_fmnist_cnn_embed(net, gen, o.batch, f, lg);
    if (st == NG_OK) st = ng_feat_stats_compute(&gs, f, gen->n, NG_FMNIST_FEATURES, id);
    if (st == NG_OK) st = ng_metric_fid(&gs, real, &out->fid);
    ng_rng_seed(&rng, o.seed);
    if (st == NG_OK && real_features) {
        st = ng_metric_kid(f, gen->n, real_features, n_real_features, NG_FMNIST_FEATURES, o.kid_subsets,
                           o.kid_subset_size, &rng, &out->kid_mean, &out->kid_std);
        out->has_kid = st == NG_OK;
    }
    if (st == NG_OK) st = ng__eval_prc(f, gen->n, real_features, n_real_features, NG_FMNIST_FEATURES, o.prc_k, out);
    if (st == NG_OK)
        st = ng_metric_is_logits(lg, gen->n, NG_FMNIST_CLASSES, o.is_splits, o.is_shuffle ? &rng : NULL, &out->is_mean,
                                 &out->is_std);
    out->n = gen->n;
    out->n_real = real->n;
done:
    ng_feat_stats_free(&gs);
    free(f);
    free(lg);
    return st;
}
