#!/usr/bin/python3
"""numpy (and, for precision/recall, torch) twin of bench/metrics.c: the same cases (same
sizes, numpy's own random data), the same output line, computed the way the reference
GAN-metric code does it.

Usage: /usr/bin/python3 bench/ref/metrics.py CASE | --list
Prints: BENCH key=CASE ms=<best of runs> peak_mb=<peak RSS, MiB>

  fid_*     torch-fidelity's FID from statistics: sum(sqrt(eigvals(S1 S2)).real) (numpy's
            non-symmetric eigensolver; scipy's sqrtm, used by pytorch-fid, is not installed)
  eigh_*    np.linalg.eigh (LAPACK syevd) with eigenvectors
  stats_*   mean and np.cov(rowvar=False) in float64 of float32 features
  kid_d128  torch-fidelity's KID loop: 100 subsets of 1000, float32 polynomial kernel matrices
  is_*      torch-fidelity's IS: softmax / log_softmax in float64, 10 splits
  prc_*     torch-fidelity's calculate_precision_recall_part (k = 3, batch_size 10000):
            torch.cdist in float32 (its matrix-product route), kthvalue(k + 1) for the radii,
            any(dist <= radius); prints aux=recall
Threads: numpy calls OpenBLAS; bench/run.sh sets OPENBLAS_NUM_THREADS=1 for the twins, so
these run on one thread (docs/design.md section 9). The prc cases run torch with
torch.set_num_threads(OMP_NUM_THREADS) (default 2), as bench/run.sh's other torch twins. Timing as bench/metrics.c: best run, until
20 runs or 2 s, at least one.
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

CASES = ["fid_d128", "fid_d2048", "eigh_d2048", "stats_n10000_d128", "stats_n4096_d2048", "kid_d128", "is_n10000",
         "prc_n10000_d128", "prc_n10000_d2048"]


def features(rng, n, d, mix, offset):
    z = rng.standard_normal((n, d))
    return (z + mix * (np.roll(z, -1, axis=1) - 0.5 * np.roll(z, -7, axis=1)) + offset).astype(np.float32)


def stats(x):
    x = x.astype(np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def fid(s1, s2):
    (mu1, c1), (mu2, c2) = s1, s2
    tr = np.sum(np.sqrt(np.linalg.eigvals(c1.dot(c2)).astype("complex128")).real)
    d = mu1 - mu2
    return float(d.dot(d) + np.trace(c1) + np.trace(c2) - 2 * tr)


def mmd2(x, y):
    d = x.shape[1]
    m = x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)


def kid(x, y):
    rs = np.random.RandomState(2020)
    v = np.zeros(100)
    for i in range(100):
        v[i] = mmd2(x[rs.choice(len(x), 1000, replace=False)], y[rs.choice(len(y), 1000, replace=False)])
    return float(v.mean())


def inception_score(logits, splits=10):
    lg = logits.astype(np.float64)
    lp = lg - lg.max(axis=1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    p = np.exp(lp)
    n = len(lg)
    sc = []
    for i in range(splits):
        a, b = i * n // splits, (i + 1) * n // splits
        q = p[a:b].mean(axis=0, keepdims=True)
        sc.append(np.exp((p[a:b] * (lp[a:b] - np.log(q))).sum(axis=1).mean()))
    return float(np.mean(sc))


def prc_torch(real, gen, k=3, batch_size=10000):
    """torch-fidelity's metric_prc.py: (precision, recall) of gen against real."""
    import torch

    def cdist_part(a, b):
        return torch.cat([torch.cdist(a, bb) for bb in b.split(batch_size)], dim=1)

    def radii(x):
        return torch.cat([cdist_part(xb, x).kthvalue(k + 1, dim=1).values for xb in x.split(batch_size)])

    def inside(q, p, rad):
        return torch.cat([(cdist_part(qb, p) <= rad.unsqueeze(0)).any(dim=1).float()
                          for qb in q.split(batch_size)]).mean().item()

    with torch.no_grad():
        r, g = torch.from_numpy(real), torch.from_numpy(gen)
        return inside(g, r, radii(r)), inside(r, g, radii(g))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: metrics.py CASE | --list")
    name = sys.argv[1]
    if name == "--list":
        print("\n".join(CASES))
        return
    if name not in CASES:
        sys.exit("metrics.py: unknown case '%s' (try --list)" % name)
    rng = np.random.Generator(np.random.PCG64(1))
    if name.startswith(("fid_", "eigh_")):
        d = 2048 if "2048" in name else 128
        s1 = stats(features(rng, 2 * d, d, 0.8, 0.0))
        s2 = stats(features(rng, 3 * d, d, 1.5, 0.2))
        fn = (lambda: fid(s1, s2)) if name.startswith("fid_") else (lambda: np.linalg.eigh(s1[1])[0][-1])
    elif name.startswith("stats_"):
        d = 2048 if "2048" in name else 128
        x = features(rng, 4096 if d == 2048 else 10000, d, 0.8, 3.0)
        fn = lambda: stats(x)[1][0, 0]  # noqa: E731
    elif name == "kid_d128":
        x = features(rng, 10000, 128, 0.8, 0.0)
        y = features(rng, 10000, 128, 0.9, 0.05)
        fn = lambda: kid(x, y)  # noqa: E731
    elif name.startswith("prc_"):
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        d = 2048 if "2048" in name else 128
        x = features(rng, 10000, d, 0.8, 0.0)
        y = features(rng, 10000, d, 0.9, 0.05)
        aux = {}

        def fn():
            p, aux["recall"] = prc_torch(x, y)
            return p
    else:
        logits = (3.0 * rng.standard_normal((10000, 10))).astype(np.float32)
        fn = lambda: inception_score(logits)  # noqa: E731
    best, runs, start, v = float("inf"), 0, time.perf_counter(), 0.0
    while True:
        t0 = time.perf_counter()
        v = fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
        if runs >= 20 or time.perf_counter() - start >= 2.0:
            break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    extra = " aux=%.10g" % aux["recall"] if name.startswith("prc_") else ""
    print("BENCH key=%s ms=%.3f peak_mb=%.1f value=%.10g runs=%d%s" % (name, best * 1e3, peak, v, runs, extra))


if __name__ == "__main__":
    main()
