"""PyTorch twin of bench/textnas_step.c: one retraining step (forward + backward + Adam) of the
published TextNAS architecture, written from /work/shared/docs/textnas.md 1.3-1.5 and 4 the way
NNI's model.py / ops.py build it (channel-first, BN after every layer, dropout 0.2 after the
embedding, each ConvBN, the GRU sum and on the attention probabilities; Adam lr 2e-3, eps 1e-3,
weight decay 1e-6 over every parameter incl. the embedding; no clipping). The batch is the C
program's (same formulas). Run with Debian's python3 (torch 1.13), OPENBLAS_NUM_THREADS=1:
  /usr/bin/python3 bench/ref/textnas_step.py --list | CASE
Net and make_batch take the sizes and run on any device: bench/ref/gpu_steps.py uses them."""
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = {"textnas_step_pub": (1, 3)}          # warm-up steps, timed steps (best of)
V, C, N, LEN, E, H, HEADS, P = 20000, 5, 128, 64, 300, 256, 4, 0.2
# textnas.md 5.3: (input, op, skips); ops 0-3 conv k=1/3/5/7, 4 avg, 5 max, 6 rnn, 7 attention
PUBLISHED = [(-1, 5, []), (0, 7, []), (0, 3, []), (2, 6, [1, 2]), (2, 1, [1]), (4, 1, [2, 4]),
             (5, 0, [2, 3, 4, 5]), (2, 6, [1, 2]), (4, 5, [1, 3, 4, 6, 7]), (6, 5, [5, 7, 8]),
             (5, 7, [0, 1, 4, 7, 8]), (6, 4, [0, 3, 4, 5, 6]), (10, 1, [0, 1, 3, 5, 8]),
             (11, 2, [0, 1, 6, 9, 10, 12]), (12, 0, [2, 6, 7, 8, 10, 11]), (14, 3, [0, 6, 10, 11, 14]),
             (14, 2, [9, 10, 12, 14]), (16, 4, [1, 2, 3, 4, 7, 9, 14]), (15, 3, [5, 13, 14, 15, 17]),
             (16, 3, [3, 10, 14]), (16, 5, [0, 1, 10, 11, 14, 15, 16, 17]),
             (16, 7, [1, 2, 3, 7, 9, 10, 11, 12, 14]), (21, 7, [2, 3, 4, 5, 7, 9, 10, 15, 21]),
             (21, 3, [0, 3, 7, 12, 16])]


def bn(x, m, mod, pre=False):
    if pre:
        x = x.masked_fill(~m, 0.0)
    return mod(x).masked_fill(~m, 0.0)


class Op(nn.Module):
    def __init__(self, op, cin, h):
        super().__init__()
        self.kind = op
        if op <= 3:
            self.conv = nn.Conv1d(cin, h, 2 * op + 1, padding=op)
        elif op == 6:
            self.gru = nn.GRU(h, h, batch_first=True, bidirectional=True)
        elif op == 7:
            self.q, self.k, self.v = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        if op <= 3 or op == 7:
            self.bn = nn.BatchNorm1d(h)

    def forward(self, x, m, lens):   # x (N, C, L); lens on the CPU (pack_padded_sequence's rule)
        n, h, length = x.shape
        if self.kind <= 3:   # ConvBN
            return F.dropout(torch.relu(bn(self.conv(x).masked_fill(~m, 0.0), m, self.bn)), P, self.training)
        if self.kind == 4:
            return F.avg_pool1d(x, 3, 1, 1).masked_fill(~m, 0.0)
        if self.kind == 5:
            return F.max_pool1d(x, 3, 1, 1).masked_fill(~m, 0.0)
        if self.kind == 6:   # packed BiGRU, directions summed
            pk = nn.utils.rnn.pack_padded_sequence(x.transpose(1, 2), lens, batch_first=True, enforce_sorted=False)
            out, _ = nn.utils.rnn.pad_packed_sequence(self.gru(pk)[0], batch_first=True, total_length=length)
            return F.dropout((out[:, :, :h] + out[:, :, h:]).transpose(1, 2), P, self.training)
        xt = x.transpose(1, 2)
        split = lambda t: torch.relu(t).view(n, length, HEADS, h // HEADS).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(xt)), split(self.k(xt)), split(self.v(xt))
        mk = m[:, 0, :]
        sc = torch.matmul(q, k.transpose(2, 3)) / (h // HEADS) ** 0.5
        pr = torch.softmax(sc.masked_fill(~mk[:, None, None, :], -1e10), -1) * mk[:, None, :, None]
        out = torch.matmul(F.dropout(pr, P, self.training), v).transpose(1, 2).reshape(n, length, h)
        return bn(out.transpose(1, 2), m, self.bn, pre=True)


class Net(nn.Module):
    def __init__(self, vocab=V, embed=E, hidden=H, classes=C):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.init_conv = Op(0, embed, hidden)
        self.ops = nn.ModuleList(Op(op, hidden, hidden) for _, op, _ in PUBLISHED)
        self.bns = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in PUBLISHED)
        self.combine = nn.Parameter(torch.full((len(PUBLISHED),), 1.0 / len(PUBLISHED)))
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, ids, lens):
        m = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lens[:, None])[:, None, :]
        lens_cpu = lens.cpu()
        x = self.init_conv(F.dropout(self.embedding(ids), P, self.training).transpose(1, 2), m, lens_cpu)
        outs = []
        for i, (inp, _, skips) in enumerate(PUBLISHED):
            y = self.ops[i](x if i == 0 else outs[inp], m, lens_cpu)
            for j in skips:
                y = y + outs[j]
            outs.append(bn(y, m, self.bns[i]))
        a = torch.softmax(self.combine, 0)
        z = sum(a[i] * o for i, o in enumerate(outs))
        return self.classifier(z.sum(2) / m.sum(2))


def make_batch(n=N, length=LEN, vocab=V, device='cpu'):
    """The C programs' batch: lengths spread over 5..length (length 64: 5 + (37 i + 11) mod 60)."""
    lens = [5 + (37 * i + 11) % (length - 4) for i in range(n)]
    ids = [[2 + (131 * i + 17 * t + 7) % (vocab - 2) if t < lens[i] else 0 for t in range(length)] for i in range(n)]
    labels = [i % C for i in range(n)]
    return (torch.tensor(ids, device=device), torch.tensor(lens, device=device), torch.tensor(labels, device=device))


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES)); return
    case = sys.argv[1]
    warm, iters = CASES[case]
    torch.set_num_threads(2)
    torch.manual_seed(1)
    ids, lens, labels = make_batch()
    net = Net().train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, eps=1e-3, weight_decay=1e-6)
    best = 1e30
    for it in range(warm + iters):
        t0 = time.perf_counter()
        loss = F.cross_entropy(net(ids, lens), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        print(f"step {it}: {dt * 1e3:.1f} ms, loss {loss.item():.4f}", file=sys.stderr)
        if it >= warm:
            best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"BENCH key={case} ms={best * 1e3:.3f} peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
