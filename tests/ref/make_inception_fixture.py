#!/usr/bin/python3
"""Generate tests/fixtures/inception.ngfx, the PyTorch reference for nasgan's FID Inception-v3
(src/inception.c; read by tests/test_inception.c). Run only to regenerate it (also run by
`make fixtures`):

    /usr/bin/python3 tests/ref/make_inception_fixture.py

Needs torch and numpy (torchvision is NOT used: the network is written out below from the
architecture description in src/inception.h, with torchvision's module names so that its
state_dict has pytorch-fid's keys).

The real weights (95 MB) cannot be committed, so the weights are RANDOM but given by a formula
that tests/test_inception.c evaluates identically in C (bit for bit):
    tensor t (its index in the file order), element k (row-major):
      z = splitmix64((t << 32) + k), u = (z >> 40) * 2^-24            in [0, 1)
      conv.weight        (2u - 1) sqrt(6 / fan_in)   (He-uniform, fan_in = cin kh kw)
      bn.weight          0.5 + u
      bn.bias            (2u - 1) 0.2
      bn.running_mean    (2u - 1) 0.2
      bn.running_var     0.5 + u
      fc.weight          (2u - 1) sqrt(3 / 2048)
      fc.bias            (2u - 1) 0.1
    computed in float64 and rounded once to float32.
The weights go through the converter's code path (scripts/convert_inception.py:
from_state_dict + serialize on the torch model's state_dict); the fixture stores the CRC-32 and
length of the resulting file so the C test can check that its own writer produces the same
bytes. The network then runs in float64 (eval mode, BN eps 1e-3) on float32 inputs in [-1, 1]:
  x    (2, 3, 32, 32)  -> pool3 (2, 2048), logits (2, 1008)
  xr   (1, 3, 37, 20)  -> pool3_r (1, 2048)       (non-square, odd-sized input)
  xg   (1, 1, 28, 28)  -> pool3_g (1, 2048)       (grayscale, replicated to 3 channels)
The file is deterministic (numpy PCG64 with a fixed seed for the inputs).

    /usr/bin/python3 tests/ref/make_inception_fixture.py --write-weights PATH
also writes the formula weight file (95 MB, random weights: for end-to-end checks of programs,
e.g. gan_train --fid-inception PATH; its numbers mean nothing).
"""
import os
import sys
import zlib
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "scripts")))
sys.path.insert(0, HERE)
import convert_inception as conv  # noqa: E402
from make_metric_fixtures import write_fixture  # noqa: E402

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def formula(t, name, shape):
    n = int(np.prod(shape))
    x = (np.uint64(t) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
    u = (splitmix64(x) >> np.uint64(40)).astype(np.float64) * 2.0 ** -24
    if name.endswith("conv.weight"):
        v = (2 * u - 1) * np.sqrt(6.0 / (shape[1] * shape[2] * shape[3]))
    elif name.endswith("bn.weight") or name.endswith("bn.running_var"):
        v = 0.5 + u
    elif name.endswith("bn.bias") or name.endswith("bn.running_mean"):
        v = (2 * u - 1) * 0.2
    elif name == "fc.weight":
        v = (2 * u - 1) * np.sqrt(3.0 / 2048)
    elif name == "fc.bias":
        v = (2 * u - 1) * 0.1
    else:
        raise KeyError(name)
    return v.astype(np.float32).reshape(shape)


# ---- the FID Inception-v3 in torch (module names as torchvision's) ----
class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(avg3(x))
        return torch.cat([a, b, c, d], 1)


class BlockB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    def __init__(self, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(768, 192, 1)
        self.branch7x7_1 = BasicConv2d(768, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(768, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(768, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = m(c)
        return torch.cat([a, b, c, self.branch_pool(avg3(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    def __init__(self, cin, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        p = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else avg3(x)
        return torch.cat([a, b, c, self.branch_pool(p)], 1)


class FIDInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(128)
        self.Mixed_6c = BlockC(160)
        self.Mixed_6d = BlockC(160)
        self.Mixed_6e = BlockC(192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, False)
        self.Mixed_7c = BlockE(2048, True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = m(x)
        pool3 = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pool3, self.fc(pool3)


def main():
    net = FIDInception()
    spec = conv.expected_tensors()
    sd = net.state_dict()
    # the torch model's own order must be the file order (minus num_batches_tracked)
    names = [k for k in sd if not k.endswith("num_batches_tracked")]
    assert names == list(spec.keys()), "torch module order differs from convert_inception.expected_tensors()"
    with torch.no_grad():
        for t, (name, shape) in enumerate(spec.items()):
            assert tuple(sd[name].shape) == tuple(shape), name
            sd[name].copy_(torch.from_numpy(formula(t, name, shape)))
    net.eval()

    # the converter's code path on the model's state_dict (as torch.load would return it)
    tensors, ignored = conv.from_state_dict(net.state_dict())
    assert not ignored, ignored
    data = conv.serialize(tensors)
    crc = zlib.crc32(data) & 0xFFFFFFFF
    print("weight file: %d bytes, CRC32 %08x" % (len(data), crc))
    if len(sys.argv) == 3 and sys.argv[1] == "--write-weights":
        with open(sys.argv[2], "wb") as f:
            f.write(data)
        print("wrote the formula weights to %s" % sys.argv[2])
        return

    net = net.double()
    rng = np.random.Generator(np.random.PCG64(20261129))
    x = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    xr = rng.uniform(-1, 1, (1, 3, 37, 20)).astype(np.float32)
    xg = rng.uniform(-1, 1, (1, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        pool3, logits = net(torch.from_numpy(x).double())
        pool3_r, _ = net(torch.from_numpy(xr).double())
        pool3_g, _ = net(torch.from_numpy(xg).double())
    print("pool3 range %.4g..%.4g mean %.4g; logits range %.4g..%.4g" %
          (pool3.min(), pool3.max(), pool3.mean(), logits.min(), logits.max()))
    arrays = OrderedDict()
    arrays["file_crc"] = np.array([crc & 0xFFFF, crc >> 16], np.int32)     # 16-bit halves
    arrays["file_len"] = np.array([len(data) & 0xFFFF, len(data) >> 16], np.int32)
    arrays["x"] = x
    arrays["pool3"] = pool3.numpy()
    arrays["logits"] = logits.numpy()
    arrays["xr"] = xr
    arrays["pool3_r"] = pool3_r.numpy()
    arrays["xg"] = xg
    arrays["pool3_g"] = pool3_g.numpy()
    path, n = write_fixture("inception", arrays)
    print("wrote %s (%d bytes)" % (path, n))


if __name__ == "__main__":
    main()
