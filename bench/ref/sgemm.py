#!/usr/bin/python3
"""PyTorch twin of bench/sgemm.c: the same cases, the same output line.

Usage: /usr/bin/python3 bench/ref/sgemm.py CASE | --list
Prints: BENCH key=CASE ms=<best of runs> peak_mb=<peak RSS, MiB> gflops=<2 M N K / best time>

Both cases are torch.mm into a preallocated output (PyTorch is the reference for the built-in
kernel and for OpenBLAS alike). Threads: torch.set_num_threads(OMP_NUM_THREADS, default 2);
OPENBLAS_NUM_THREADS defaults to 1 here, because Debian's torch calls OpenBLAS, which would
otherwise start threads of its own on top of torch's (see docs/design.md, section 9).
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch loads OpenBLAS
import resource  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

CASES = {
    "sgemm1024_builtin": (1024, 1024, 1024),
    "sgemm1024_openblas": (1024, 1024, 1024),
}


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: sgemm.py CASE | --list")
    if sys.argv[1] == "--list":
        print("\n".join(CASES))
        return
    if sys.argv[1] not in CASES:
        sys.exit("sgemm.py: unknown case '%s' (try --list)" % sys.argv[1])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    m, n, k = CASES[sys.argv[1]]
    g = torch.Generator().manual_seed(1)
    a = torch.rand(m, k, generator=g) * 2 - 1
    b = torch.rand(k, n, generator=g) * 2 - 1
    c = torch.empty(m, n)
    with torch.no_grad():
        torch.mm(a, b, out=c)  # warm-up
        best, runs, start = float("inf"), 0, time.perf_counter()
        while runs < 20 or time.perf_counter() - start < 2.0:
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
            runs += 1
            if runs >= 1000:
                break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("BENCH key=%s ms=%.3f peak_mb=%.1f gflops=%.1f"
          % (sys.argv[1], best * 1e3, peak, 2.0 * m * n * k / best * 1e-9))


if __name__ == "__main__":
    main()
