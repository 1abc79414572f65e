"""PyTorch twin of bench/conv2d.c: the convolution kernels of the alphaGAN search at batch 64.
Run with Debian's python3 (torch 1.13), OPENBLAS_NUM_THREADS=1:
  /usr/bin/python3 bench/ref/conv2d.py --list | CASE"""
import resource, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(2)

# name: (transposed, backward, bias, N, C, H, W, O, k, stride, pad, groups, iters)
CASES = {
    "conv3x3_fwd":       (0, 0, 1, 64, 64, 32, 32, 64, 3, 1, 1, 1, 15),
    "conv3x3_fwd_bwd":   (0, 1, 1, 64, 64, 32, 32, 64, 3, 1, 1, 1, 10),
    "dwconv5x5_fwd_bwd": (0, 1, 0, 64, 64, 32, 32, 64, 5, 1, 2, 64, 15),
    "deconv2x2_fwd_bwd": (1, 1, 1, 64, 64, 16, 16, 64, 2, 2, 0, 1, 15),
    # alphaGAN cell width: 256 channels
    "conv3x3_c256_b16_fwd_bwd": (0, 1, 1, 16, 256, 16, 16, 256, 3, 1, 1, 1, 8),
    "conv1x1_c256_b16_fwd_bwd": (0, 1, 1, 16, 256, 32, 32, 256, 1, 1, 0, 1, 8),
}

def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES)); return
    case = sys.argv[1]
    tr, bwd, bias, N, C, H, W, O, k, s, p, g, iters = CASES[case]
    torch.manual_seed(1)
    wshape = (C, O // g, k, k) if tr else (O, C // g, k, k)
    w = (torch.rand(wshape) * 0.2 - 0.1).requires_grad_(bool(bwd))
    b = (torch.rand(O) * 0.2 - 0.1).requires_grad_(bool(bwd)) if bias else None
    x = (torch.rand(N, C, H, W) * 2 - 1).requires_grad_(bool(bwd))
    gy = None
    best = 1e30
    for it in range(iters + 3):
        for t in (x, w, b):
            if t is not None:
                t.grad = None
        t0 = time.perf_counter()
        if bwd:
            y = F.conv_transpose2d(x, w, b, s, p, 0, g) if tr else F.conv2d(x, w, b, s, p, 1, g)
            if gy is None:
                gy = torch.rand_like(y) * 2 - 1
            y.backward(gy)
        else:
            with torch.no_grad():
                y = F.conv_transpose2d(x, w, b, s, p, 0, g) if tr else F.conv2d(x, w, b, s, p, 1, g)
        dt = time.perf_counter() - t0
        if it >= 3:
            best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if tr:
        small = N * H * W * C * (O // g)
    else:
        small = N * O * ((H + 2 * p - k) // s + 1) * ((W + 2 * p - k) // s + 1) * (C // g)
    flop = 2.0 * small * k * k * (3.0 if bwd else 1.0)
    print(f"BENCH key={case} ms={best * 1e3:.3f} peak_mb={peak:.1f} gflops={flop / (best * 1e9):.1f}")

if __name__ == "__main__":
    main()
