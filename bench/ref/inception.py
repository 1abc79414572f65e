#!/usr/bin/python3
"""PyTorch twin of bench/inception.c: the FID Inception-v3 forward (tests/ref/fid_inception.py,
pytorch-fid's architecture) on the same cases.

Usage: /usr/bin/python3 bench/ref/inception.py CASE | --list
Prints: BENCH key=CASE ms=<best of runs, per batch> peak_mb=<peak RSS, MiB> gflops=<x> img_s=<images/s>
Threads: torch.set_num_threads(OMP_NUM_THREADS, default 2), which bench/run.sh sets.
Timing as bench/inception.c: best of 5 runs after one warm-up, float32, eval mode, no_grad.
"""
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "tests", "ref")))
from fid_inception import FIDInception  # noqa: E402

CASES = {"fwd_b16_32px": 16, "fwd_b1_32px": 1}
GFLOP_PER_IMAGE = 11.43


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: inception.py CASE | --list")
    if sys.argv[1] == "--list":
        print("\n".join(CASES))
        return
    b = CASES[sys.argv[1]]
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    net = FIDInception().eval()
    x = torch.rand(b, 3, 32, 32) * 2 - 1
    best = 1e30
    with torch.no_grad():
        for run in range(6):
            t0 = time.perf_counter()
            net(x)
            dt = time.perf_counter() - t0
            if run > 0:
                best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("BENCH key=%s ms=%.1f peak_mb=%.0f gflops=%.1f img_s=%.2f" % (sys.argv[1], best * 1e3, peak,
                                                                      GFLOP_PER_IMAGE * b / best, b / best))


if __name__ == "__main__":
    main()
