"""PyTorch twin of bench/seq_ops.c: one packed bidirectional nn.GRU layer (directions summed, as
TextNAS) and the 4-head masked self-attention of bench/ref/textnas_step.py, forward + backward
of sum(y^2) into the input and every weight. Run with Debian's python3 (torch 1.13),
OPENBLAS_NUM_THREADS=1:
  /usr/bin/python3 bench/ref/seq_ops.py --list | CASE"""
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
N, HEADS, ITERS, WARMUP = 128, 4, 10, 2
CASES = {  # name: (gru, L, H, short lengths)
    "bigru_h256": (True, 64, 256, False),
    "bigru_h256_short": (True, 64, 256, True),
    "attention_h256": (False, 64, 256, False),
    "attention_h64_l32": (False, 32, 64, True),
}


def attention(x, mk, p):   # x (N, L, H), mk (N, L) bool; q = k = v = x, no projections
    n, length, h = x.shape
    d = h // HEADS
    q = x.view(n, length, HEADS, d).transpose(1, 2)
    sc = torch.matmul(q, q.transpose(2, 3)) / d ** 0.5
    pr = torch.softmax(sc.masked_fill(~mk[:, None, None, :], -1e10), -1) * mk[:, None, :, None]
    return torch.matmul(F.dropout(pr, p, True), q).transpose(1, 2).reshape(n, length, h)


def run(name):
    gru, length, h, short = CASES[name]
    lens = torch.tensor([1 + (37 * i + 11) % 32 if short else 5 + (37 * i + 11) % 60 for i in range(N)])
    mk = torch.arange(length)[None, :] < lens[:, None]
    net = nn.GRU(h, h, batch_first=True, bidirectional=True) if gru else None
    best = float("inf")
    for it in range(ITERS + WARMUP):
        x = torch.randn(N, length, h, requires_grad=True)
        t0 = time.perf_counter()
        if gru:
            pk = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
            out, _ = nn.utils.rnn.pad_packed_sequence(net(pk)[0], batch_first=True, total_length=length)
            y = out[:, :, :h] + out[:, :, h:]
        else:
            y = attention(x, mk, 0.1)
        (y * y).sum().backward()
        dt = time.perf_counter() - t0
        if it >= WARMUP:
            best = min(best, dt)
    return best * 1e3


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        return
    if len(sys.argv) < 2 or sys.argv[1] not in CASES:
        sys.exit("usage: seq_ops.py --list | CASE")
    ms = run(sys.argv[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"BENCH key={sys.argv[1]} ms={ms:.3f} peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
