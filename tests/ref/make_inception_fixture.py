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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "scripts")))
sys.path.insert(0, HERE)
import convert_inception as conv  # noqa: E402
from make_metric_fixtures import write_fixture  # noqa: E402
from fid_inception import FIDInception  # noqa: E402

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
