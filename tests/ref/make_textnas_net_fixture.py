#!/usr/bin/python3
"""PyTorch reference for a whole TextNAS child network (src/textnas.c): tests/fixtures/textnas_net.ngfx.

    /usr/bin/python3 tests/ref/make_textnas_net_fixture.py

The network is written here from /work/shared/docs/textnas.md sections 1.3-1.5 (the NNI variant)
as nn.Modules in PyTorch's channel-first (N, C, L) layout, the way NNI's model.py / ops.py are
built: nn.Embedding -> ConvBN(k=1) -> layers (one op on one earlier layer's output, plus skips,
then BN -> mask) -> LinearCombine (softmax) -> masked mean -> Linear, cross-entropy (mean).
  ConvBN(k)  = nn.Conv1d(bias) -> mask -> nn.BatchNorm1d -> mask -> ReLU (-> dropout, p = 0 here)
  pools      = F.avg_pool1d(3, 1, 1, count_include_pad) / F.max_pool1d(3, 1, 1) -> mask
  rnn        = nn.GRU(bidirectional) on pack_padded_sequence, padded back, directions summed
  attention  = relu(Linear) Q, K, V; heads of contiguous channels; key mask -1e10; softmax;
               query mask; P V; mask -> BN -> mask (no output projection)
Module attribute names are chosen so that state_dict keys ARE nasgan's parameter names
("init_conv.conv.weight", "layers.3.op.6.gru.weight_ih_l0_reverse", "linear_combine.weight", ...),
and every layout is PyTorch's (conv (Cout, Cin, K), GRU (3H, H) in r, z, n order).

Each case (one architecture of 8 layers that uses all 8 ops, inputs from further back, skips,
a skip onto the layer that is also the input, a layer without skips) stores:
    <case>/cfg     int32 [n_layers, H, E, V, C, heads, bn_always]
    <case>/input, <case>/op, <case>/skip   int32 (n_layers); skip[i] = bit mask of layers summed in
    <case>/ids     int32 (N, L), 0 at pads;  <case>/lens int32 (N);  <case>/labels int32 (N)
    <case>/p/<name>   every trainable tensor (random, so BN gammas etc. are not at their init)
    <case>/b0/<name>  BN running statistics before the step (random, not 0/1)
    <case>/logits (N, C);  <case>/loss 0-d (mean cross-entropy)
    <case>/g/<name>   d loss / d parameter, every trainable tensor
    <case>/b/<name>   BN running statistics after the training-mode forward (momentum 0.1)
Training mode, dropout 0 (BN with batch statistics over all N*L positions, pads included).
Computed in float64 from float32 values (see make_fixtures.py). The script also runs the same
network in float32 and prints its error as a fraction of the C test's tolerance (NET_ATOL,
NET_RTOL must match tests/test_textnas_net_torch.c), to show the tolerance fits a float32 run."""
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import Cases, write_fixture  # noqa: E402  (sets float64 default, 1 thread)

NET_ATOL, NET_RTOL = 1e-5, 1e-4


class MaskedBN(nn.BatchNorm1d):
    """NNI ops.BatchNorm: optional mask -> BatchNorm1d over channels -> optional mask."""

    def __init__(self, H, pre_mask, post_mask):
        super().__init__(H, eps=1e-5, momentum=0.1)
        self.pre_mask, self.post_mask = pre_mask, post_mask

    def forward(self, x, mask):
        if self.pre_mask:
            x = x.masked_fill(~mask, 0.0)
        x = super().forward(x)
        return x.masked_fill(~mask, 0.0) if self.post_mask else x


class ConvBN(nn.Module):
    def __init__(self, k, cin, H):
        super().__init__()
        self.conv = nn.Conv1d(cin, H, k, padding=(k - 1) // 2, bias=True)
        self.bn = MaskedBN(H, False, True)

    def forward(self, x, mask):
        return torch.relu(self.bn(self.conv(x).masked_fill(~mask, 0.0), mask))  # dropout p = 0


class Pool(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x, mask):
        y = F.avg_pool1d(x, 3, 1, 1, count_include_pad=True) if self.kind == "avg" else F.max_pool1d(x, 3, 1, 1)
        return y.masked_fill(~mask, 0.0)


class RNN(nn.Module):
    def __init__(self, H):
        super().__init__()
        self.gru = nn.GRU(H, H, batch_first=True, bidirectional=True)

    def forward(self, x, mask):
        lens = mask[:, 0, :].sum(1)
        L, H = x.shape[2], x.shape[1]
        packed = nn.utils.rnn.pack_padded_sequence(x.transpose(1, 2), lens, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=L)
        return (out[:, :, :H] + out[:, :, H:]).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, H, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.bn = MaskedBN(H, True, True)

    def forward(self, x, mask):
        xt = x.transpose(1, 2)                        # (N, L, H)
        Q, K, V = torch.relu(self.q(xt)), torch.relu(self.k(xt)), torch.relu(self.v(xt))
        N, L, H = xt.shape
        d = H // self.heads
        split = lambda t: t.reshape(N, L, self.heads, d).transpose(1, 2)  # noqa: E731  (N, h, L, d)
        sc = torch.matmul(split(Q), split(K).transpose(2, 3)) / np.sqrt(d)
        m = mask[:, 0, :]                             # (N, L)
        sc = sc.masked_fill(~m[:, None, None, :], -1e10)
        pr = torch.softmax(sc, dim=-1) * m[:, None, :, None].to(sc.dtype)
        out = torch.matmul(pr, split(V)).transpose(1, 2).reshape(N, L, H)
        return self.bn(out.transpose(1, 2), mask)


def make_op(op, H, heads):
    if op <= 3:
        return ConvBN(2 * op + 1, H, H)
    if op == 4:
        return Pool("avg")
    if op == 5:
        return Pool("max")
    return RNN(H) if op == 6 else Attention(H, heads)


class Layer(nn.Module):
    def __init__(self, op, H, heads, has_bn):
        super().__init__()
        self.op = nn.ModuleDict({str(op): make_op(op, H, heads)})   # -> "layers.i.op.<k>...."
        self.bn = MaskedBN(H, False, True) if has_bn else None


class LinearCombine(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), 1.0 / n))

    def forward(self, outs):
        a = torch.softmax(self.weight, 0)
        return sum(a[i] * o for i, o in enumerate(outs))


class Net(nn.Module):
    def __init__(self, arch, V, E, H, C, heads, bn_always):
        super().__init__()
        self.arch = arch
        self.embedding = nn.Embedding(V, E)
        self.init_conv = ConvBN(1, E, H)
        inp, op, skip = arch
        self.layers = nn.ModuleList(Layer(op[i], H, heads, bn_always or skip[i] != 0) for i in range(len(op)))
        self.linear_combine = LinearCombine(len(op))
        self.classifier = nn.Linear(H, C)

    def forward(self, ids, lens):
        L = ids.shape[1]
        mask = (torch.arange(L)[None, :] < lens[:, None])[:, None, :]      # (N, 1, L)
        x = self.init_conv(self.embedding(ids).transpose(1, 2), mask)      # embedding dropout p = 0
        inp, op, skip = self.arch
        outs = []
        for i, layer in enumerate(self.layers):
            y = layer.op[str(op[i])](x if i == 0 else outs[inp[i]], mask)
            for j in range(i):
                if (skip[i] >> j) & 1:
                    y = y + outs[j]
            outs.append(layer.bn(y, mask) if layer.bn is not None else y)
        z = self.linear_combine(outs)
        cnt = mask.sum(2).to(z.dtype)
        pooled = z.sum(2) / torch.where(cnt == 0, torch.full_like(cnt, 1e-12), cnt)
        return self.classifier(pooled)


def run(net, P, B0, ids, lens, labels, dtype):
    """Load P (params) and B0 (running stats) into net (in dtype); training-mode step."""
    net = net.to(dtype)
    sd = net.state_dict()
    with torch.no_grad():
        for k, v in list(P.items()) + list(B0.items()):
            sd[k].copy_(torch.from_numpy(v.astype(np.float64)))
    net.train()
    net.zero_grad()
    logits = net(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lens.astype(np.int64)))
    loss = F.cross_entropy(logits, torch.from_numpy(labels.astype(np.int64)))
    loss.backward()
    grads = OrderedDict((k, p.grad.detach().double().numpy()) for k, p in net.named_parameters())
    stats = OrderedDict((k, v.detach().double().numpy()) for k, v in net.state_dict().items() if k in B0)
    return logits.detach().double().numpy(), float(loss), grads, stats


def make_case(c, case, seed, arch, bn_always, N=4, L=7, V=23, E=6, H=8, C=3, heads=2, lens=(7, 3, 1, 5)):
    rng = np.random.default_rng(seed)
    inp, op, skip = arch
    net = Net(arch, V, E, H, C, heads, bn_always)
    lens = np.asarray(lens, np.int32)
    ids = rng.integers(1, V, size=(N, L)).astype(np.int32)   # 1 = <unk> may occur; 0 = <pad>
    for b, n in enumerate(lens):
        ids[b, n:] = 0
    labels = rng.integers(0, C, size=N).astype(np.int32)
    P, B0 = OrderedDict(), OrderedDict()
    for k, p in net.named_parameters():
        lo, hi = (0.5, 1.5) if k.endswith("bn.weight") else (-0.6, 0.6)
        P[k] = rng.uniform(lo, hi, size=tuple(p.shape)).astype(np.float32)
    for k, b in net.named_buffers():
        if k.endswith("running_mean"):
            B0[k] = rng.uniform(-0.5, 0.5, size=tuple(b.shape)).astype(np.float32)
        elif k.endswith("running_var"):
            B0[k] = rng.uniform(0.5, 2.0, size=tuple(b.shape)).astype(np.float32)
    logits, loss, grads, stats = run(net, P, B0, ids, lens, labels, torch.float64)
    # the same in float32: its distance to the float64 reference, in units of the C tolerance
    l32, loss32, g32, s32 = run(net, P, B0, ids, lens, labels, torch.float32)
    worst = 0.0
    for ref, got in [(logits, l32), (np.float64(loss), loss32)] + [(grads[k], g32[k]) for k in grads] + \
            [(stats[k], s32[k]) for k in stats]:
        worst = max(worst, float(np.max(np.abs(np.asarray(got) - ref) / (NET_ATOL + NET_RTOL * np.abs(ref)))))
    print("%s: loss %.6f, float32 run / C tolerance = %.3f (must stay below 0.5)" % (case, loss, worst))
    if worst >= 0.5:
        raise SystemExit("%s: the float32 PyTorch run leaves the C test's tolerance" % case)
    c.put(case, "cfg", [len(op), H, E, V, C, heads, bn_always], np.int32)
    c.put(case, "input", inp, np.int32)
    c.put(case, "op", op, np.int32)
    c.put(case, "skip", skip, np.int32)
    c.put(case, "ids", ids, np.int32)
    c.put(case, "lens", lens, np.int32)
    c.put(case, "labels", labels, np.int32)
    for k, v in P.items():
        c.put(case, "p/" + k, v)
    for k, v in B0.items():
        c.put(case, "b0/" + k, v)
    c.put(case, "logits", logits)
    c.put(case, "loss", np.float64(loss))
    for k, v in grads.items():
        c.put(case, "g/" + k, v)
    for k, v in stats.items():
        c.put(case, "b/" + k, v)


def main():
    # layer: input, op (0-3 conv1/3/5/7, 4 avg, 5 max, 6 rnn, 7 attention), skips
    spec = [(-1, 1, []), (0, 6, []), (0, 7, [1]), (1, 5, [0, 2]), (2, 3, []),
            (0, 4, [1, 3, 4]), (2, 0, [2, 5]), (3, 2, [0, 6])]
    arch = ([s[0] for s in spec], [s[1] for s in spec], [sum(1 << j for j in s[2]) for s in spec])
    assert sorted(arch[1]) == list(range(8))
    c = Cases()
    make_case(c, "nni", 6001, arch, 1)   # NNI: BN after every layer
    make_case(c, "ms", 6002, arch, 0)    # authors' release: BN only on layers with skips
    path, size = write_fixture("textnas_net", c.a)
    print("%s %d bytes (torch %s)" % (os.path.relpath(path), size, torch.__version__))


if __name__ == "__main__":
    main()
