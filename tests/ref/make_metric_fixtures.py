#!/usr/bin/python3
"""Generate tests/fixtures/metrics.ngfx, the numpy reference for nasgan's FID, KID and IS
(src/metrics.c; read by tests/test_metrics.c). Run only to regenerate it:

    /usr/bin/python3 tests/ref/make_metric_fixtures.py

Needs numpy only (no scipy, no torch). Deterministic (numpy PCG64, fixed seed), so rerunning
reproduces the file byte for byte on one machine; across machines the values computed through
BLAS (covariance, FID) can differ in their last bits (~1e-14 relative, far below the C
tolerances). When the P/R arrays were added, the older arrays were kept byte for byte from the
committed file rather than rewritten with another machine's last bits. The NGFX format is the one of tests/ref/make_fixtures.py
(documented there and in tests/ref/README.md); write_fixture below is a copy of its writer, so
that this script does not need torch.

Inputs (features, logits, probabilities) are drawn and stored as float32; every reference value
is computed in float64 from exactly those float32 values. A double d is stored as two float32
values "<name>" = [hi, lo] with hi = float32(d), lo = float32(d - hi), so the C side gets
d = hi + lo to about 2^-48 relative, far below the tolerances.

References follow the definitions in docs/ecosystem.md 4(b):
  FID  mu, np.cov (N-1); ||mu1-mu2||^2 + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2), where
       Tr sqrt(S1 S2) = sum sqrt(max(eigvalsh(S1^1/2 S2 S1^1/2), 0)) with S1^1/2 from eigh.
       The script also computes torch-fidelity's route, sum(sqrt(eigvals(S1 S2)).real), and
       checks that both agree (1e-9 relative; 1e-6 for the singular case, where the
       non-symmetric eigenvalues of S1 S2 near 0 pick up imaginary parts).
  KID  torch-fidelity's unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3: the within-set sums drop
       the diagonal, the cross sum keeps it; mean and np.std over subsets. The subsets are drawn
       here with np.random.RandomState(seed).choice(n, m, replace=False) (torch-fidelity's way)
       and stored as int32 indices, so C and numpy use the same rows.
  IS   torch-fidelity's formula: p = softmax(logits), log p = log_softmax(logits) in float64,
       chunks [i N // splits, (i+1) N // splits), exp(mean_x sum_y p (log p - log mean p)),
       mean and np.std over chunks; no shuffling. For probabilities given directly (stored as
       float32), the same with log p = log(p) (Salimans et al.'s code).
  P/R  torch-fidelity's calculate_precision_recall_part: radius of a row = its (k+1)-th
       smallest distance to the rows of its own set, itself included (cdist.kthvalue(k + 1));
       a row is inside the other set's manifold when its distance to some row of that set is
       <= that row's radius. Distances exactly, as squared differences in float64. Stored: the
       count of generated rows inside the real manifold and of real rows inside the generated
       one, per k. The data are drawn from a Generator of their own (so that the arrays above
       keep their draws) and redrawn until no comparison lies within a margin of its border
       (prc_margin_ok), so float32 arithmetic in C must reproduce the counts exactly.
"""
import os
import struct
import zlib
from collections import OrderedDict

import numpy as np

VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures"))


def write_fixture(name, arrays):
    buf = bytearray(b"NGFX")
    buf += struct.pack("<II", VERSION, len(arrays))
    for key, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)):
                raise ValueError("%s/%s: non-finite values" % (name, key))
            a, dtype = a.astype("<f4"), 1
        elif a.dtype.kind in "iu":
            if a.size and (a.min() < -2**31 or a.max() >= 2**31):
                raise ValueError("%s/%s: int32 overflow" % (name, key))
            a, dtype = a.astype("<i4"), 2
        else:
            raise TypeError("%s/%s: dtype %s" % (name, key, a.dtype))
        if a.ndim > 4:
            raise ValueError("%s/%s: more than 4 dimensions" % (name, key))
        nb = key.encode("ascii")
        if not 1 <= len(nb) <= 127:
            raise ValueError("bad name " + key)
        buf += struct.pack("<I", len(nb)) + nb
        buf += struct.pack("<II", dtype, a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape)
        buf += np.ascontiguousarray(a).tobytes()
    buf += struct.pack("<I", zlib.crc32(bytes(buf)) & 0xFFFFFFFF)
    path = os.path.join(OUT, name + ".ngfx")
    with open(path, "wb") as f:
        f.write(bytes(buf))
    return path, len(buf)


def hilo(x):
    """float64 scalar or array -> float32 pair(s) [hi, lo] (last axis)."""
    x = np.asarray(x, np.float64)
    hi = x.astype(np.float32)
    lo = (x - hi.astype(np.float64)).astype(np.float32)
    return np.stack([hi, lo], axis=-1)


def stats(x32):
    x = x32.astype(np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def fid_eigh(mu1, s1, mu2, s2):
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
    m = root @ s2 @ root
    m = (m + m.T) / 2
    tr = np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh(m), 0.0)))
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * tr)


def fid_torch_fidelity(mu1, s1, mu2, s2):
    tr = np.sum(np.sqrt(np.linalg.eigvals(s1.dot(s2)).astype("complex128")).real)
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * tr)


def mmd2_unbiased(x, y):
    d = x.shape[1]
    m = x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return (sxx + syy) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)


def inception_score(log_p, splits):
    n = log_p.shape[0]
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        a, b = i * n // splits, (i + 1) * n // splits
        q = p[a:b].mean(axis=0, keepdims=True)
        kl = (p[a:b] * (log_p[a:b] - np.log(q))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def gaussian(rng, n, d, shift, mix_scale):
    mix = rng.standard_normal((d, d)) * mix_scale / np.sqrt(d)
    return (rng.standard_normal((n, d)) @ (np.eye(d) + mix) + shift).astype(np.float32)


def sq_dists(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)


def prc_counts(real32, gen32, k):
    """(generated rows inside the real manifold, real rows inside the generated one, margin ok)."""
    r, g = real32.astype(np.float64), gen32.astype(np.float64)
    rad_r = np.sort(sq_dists(r, r), axis=1)[:, k]   # (k+1)-th smallest, self (0) included
    rad_g = np.sort(sq_dists(g, g), axis=1)[:, k]
    d_gr = sq_dists(g, r)
    inside_g = (d_gr <= rad_r[None, :]).any(axis=1)
    inside_r = (d_gr.T <= rad_g[None, :]).any(axis=1)
    return int(inside_g.sum()), int(inside_r.sum()), prc_margin_ok(r, g, d_gr, rad_r, rad_g)


def prc_margin_ok(r, g, d_gr, rad_r, rad_g):
    """Every row's verdict survives moving each squared distance and radius by a margin: a row
    is clearly inside (some distance below its radius by more than the margin) or clearly
    outside (every distance above by more). Margin: 1e-4 relative, plus a floor for float32
    dot products of 64 D 2^-24 times the largest squared norm about the common mean (the C
    code centres on it and forms |a|^2 + |b|^2 - 2 a.b)."""
    c = np.concatenate([r, g]).mean(axis=0)
    s = max(((r - c) ** 2).sum(axis=1).max(), ((g - c) ** 2).sum(axis=1).max())
    floor = 64 * r.shape[1] * 2.0 ** -24 * s

    def clear(dd, rad):
        margin = 1e-4 * np.maximum(dd, rad[None, :]) + floor
        clearly_in = (dd < rad[None, :] - margin).any(axis=1)
        clearly_out = (dd > rad[None, :] + margin).all(axis=1)
        return np.all(clearly_in | clearly_out)
    return clear(d_gr, rad_r) and clear(d_gr.T, rad_g)


def prc_case(c, rng, name, ks, draw):
    """Draw (real, gen) with draw(rng) until every k's comparisons are clear of the border."""
    for attempt in range(100):
        real, gen = draw(rng)
        counts = [prc_counts(real, gen, k) for k in ks]
        if all(ok for _, _, ok in counts):
            break
    else:
        raise RuntimeError("prc/%s: no draw clear of the border" % name)
    c["prc/%s/real" % name], c["prc/%s/gen" % name] = real, gen
    c["prc/%s/ks" % name] = np.array(ks, np.int32)
    c["prc/%s/counts" % name] = np.array([[p, q] for p, q, _ in counts], np.int32)
    print("prc/%s: real %s, gen %s, attempt %d, counts %s" % (name, real.shape, gen.shape, attempt,
                                                             [(k, p, q) for k, (p, q, _) in zip(ks, counts)]))


def prc_cases(c):
    rng = np.random.Generator(np.random.PCG64(20260302))

    def unequal(rng):   # D = 64, shifted and wider generated distribution
        real = rng.standard_normal((70, 64)).astype(np.float32)
        gen = (rng.standard_normal((53, 64)) * 1.15 + 0.25).astype(np.float32)
        return real, gen

    def d1(rng):
        real = rng.standard_normal((40, 1)).astype(np.float32)
        gen = (rng.standard_normal((57, 1)) * 0.7 + 0.8).astype(np.float32)
        return real, gen

    def dups(rng):      # duplicated rows within each set and rows shared between the sets
        real = rng.standard_normal((36, 8)).astype(np.float32)
        gen = (rng.standard_normal((31, 8)) * 0.9 + 0.2).astype(np.float32)
        real[7] = real[3]
        real[11] = real[12] = real[10]
        gen[0] = real[5]
        gen[1] = real[20]
        gen[9] = gen[4]
        return real, gen

    def offset(rng):    # features around 1000: only centring keeps |a|^2 + |b|^2 - 2 a.b exact enough
        real = (rng.standard_normal((50, 16)) + 1000.0).astype(np.float32)
        gen = (rng.standard_normal((45, 16)) * 1.2 + 1000.3).astype(np.float32)
        return real, gen

    prc_case(c, rng, "unequal", [1, 3, 5], unequal)
    prc_case(c, rng, "d1", [1, 3], d1)
    prc_case(c, rng, "dups", [1, 3], dups)
    prc_case(c, rng, "offset", [3], offset)


def main():
    rng = np.random.Generator(np.random.PCG64(20260301))
    c = OrderedDict()

    # FID, N > D: correlated Gaussians with different means and covariances (and an offset of
    # 100 on every feature of x, to exercise the careful accumulation of the covariance).
    x = gaussian(rng, 300, 12, 100.0, 0.8)
    y = gaussian(rng, 200, 12, 100.5, 1.5)
    mx, sx = stats(x)
    my, sy = stats(y)
    f_eigh, f_tf = fid_eigh(mx, sx, my, sy), fid_torch_fidelity(mx, sx, my, sy)
    assert abs(f_eigh - f_tf) <= 1e-9 * abs(f_eigh), (f_eigh, f_tf)
    c["fid/x"], c["fid/y"] = x, y
    c["fid/x_mean"], c["fid/x_cov"] = hilo(mx), hilo(sx)
    c["fid/fid"] = hilo(f_eigh)
    c["fid/fid_self"] = hilo(fid_eigh(mx, sx, mx, sx))

    # FID with singular covariances: N < D on both sides.
    x = gaussian(rng, 8, 20, 0.0, 1.0)
    y = gaussian(rng, 11, 20, 0.3, 1.0)
    mx, sx = stats(x)
    my, sy = stats(y)
    f_eigh, f_tf = fid_eigh(mx, sx, my, sy), fid_torch_fidelity(mx, sx, my, sy)
    assert abs(f_eigh - f_tf) <= 1e-6 * abs(f_eigh), (f_eigh, f_tf)
    c["fid_singular/x"], c["fid_singular/y"] = x, y
    c["fid_singular/fid"] = hilo(f_eigh)

    # KID with stored subsets (torch-fidelity draws x's subset, then y's, per subset).
    x = (rng.standard_normal((120, 16)) * 0.7).astype(np.float32)
    y = (rng.standard_normal((100, 16)) * 0.8 + 0.1).astype(np.float32)
    subsets, m = 4, 50
    rs = np.random.RandomState(2020)
    ix, iy = [], []
    for _ in range(subsets):
        ix.append(rs.choice(len(x), m, replace=False))
        iy.append(rs.choice(len(y), m, replace=False))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    vals = np.array([mmd2_unbiased(x64[a], y64[b]) for a, b in zip(ix, iy)])
    c["kid/x"], c["kid/y"] = x, y
    c["kid/idx_x"], c["kid/idx_y"] = np.array(ix, np.int32), np.array(iy, np.int32)
    c["kid/values"] = hilo(vals)
    c["kid/mean"], c["kid/std"] = hilo(vals.mean()), hilo(vals.std())
    # the whole sets as one subset (every row of y, the first 100 rows of x)
    c["kid/full"] = hilo(mmd2_unbiased(x64[:100], y64))

    # IS from logits (uneven chunks: 103 rows) and from probabilities.
    n, k = 103, 10
    logits = (rng.standard_normal((n, k)) * rng.uniform(0.1, 6.0, (n, 1))).astype(np.float32)
    lg = logits.astype(np.float64)
    log_p = lg - lg.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    c["is/logits"] = logits
    for splits in (10, 3, 1):
        mean, std = inception_score(log_p, splits)
        c["is/logits_s%d" % splits] = hilo([mean, std])
    probs = np.exp(log_p).astype(np.float32)
    c["is/probs"] = probs
    mean, std = inception_score(np.log(probs.astype(np.float64)), 10)
    c["is/probs_s10"] = hilo([mean, std])

    prc_cases(c)

    path, size = write_fixture("metrics", c)
    print("wrote %s (%d bytes)" % (path, size))


if __name__ == "__main__":
    main()
