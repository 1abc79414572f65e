#!/usr/bin/python3
"""Generate the PyTorch reference fixtures in tests/fixtures/ (run only to regenerate them).

    /usr/bin/python3 tests/ref/make_fixtures.py      # or: make fixtures

Needs torch and numpy (Debian's python3-torch 1.13 was used). The output is deterministic:
every case draws its inputs from numpy's PCG64 generator with a fixed seed, and every
computation runs on the CPU in float64. `make test` only reads the committed files.

Precision: inputs are drawn as float32 values, then PyTorch computes forward outputs and
gradients in FLOAT64 from exactly those values, and the results are rounded once to float32
for storage. The stored references are therefore the true results to within half a float32
ulp, so the C tests' tolerances measure nasgan's own float32 error alone, not PyTorch's
float32 rounding on top of it. The 5-step Adam trajectory is also run in float32 here: the
script checks that the float32 run stays well inside the tolerance the C test uses
(TRAJ_ATOL/TRAJ_RTOL below must match tests/test_torch_ref.c), which shows that the
tolerance is wide enough for any correct float32 implementation.

Dropout is random, so it has no fixture: its PyTorch semantics (inverted dropout, identity
in eval) are checked statistically in tests/test_ops_dense.c.

File format (NGFX version 1, every integer and float little-endian):
    char[4]  magic "NGFX"
    u32      format version (1)
    u32      number of arrays
    then per array:
      u32      name length L (1..127), then L bytes of ASCII name (no NUL); names are
               "<case>/<field>", e.g. "s2p1_bias/gx"
      u32      dtype: 1 = float32, 2 = int32
      u32      ndim (0..4; 0 is a scalar holding one element)
      u32[nd]  dimensions
      data     product(dims) elements of 4 bytes each, C order
    u32      CRC-32 (the zlib/PNG polynomial) of every byte before it
The file ends right after the CRC.

Conventions inside a file: "<case>/cfg" is an int32 array of op parameters, "<case>/hyper"
a float32 one; "<case>/gy" is the fixed upstream gradient fed to backward (same shape as the
output "<case>/y"); "<case>/g<input>" is the gradient of that input.
"""
import os
import struct
import sys
import zlib
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures"))
# Must match the trajectory tolerance in tests/test_torch_ref.c.
TRAJ_ATOL, TRAJ_RTOL = 1e-4, 1e-3

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


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


def f32(rng, shape, lo=-1.0, hi=1.0):
    """float32 values (as a numpy array) uniform in [lo, hi)."""
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def leaf(a):
    """float64 leaf tensor holding exactly the float32 values of `a`, with a gradient."""
    return torch.from_numpy(np.asarray(a, np.float32).astype(np.float64)).requires_grad_(True)


def npy(t):
    return t.detach().cpu().numpy().astype(np.float64)


class Cases:
    """Collects the arrays of one fixture file."""

    def __init__(self):
        self.a = OrderedDict()

    def put(self, case, field, value, dtype=np.float32):
        if isinstance(value, torch.Tensor):
            value = npy(value)
        self.a["%s/%s" % (case, field)] = np.asarray(value, dtype=dtype)

    def inputs(self, case, **named):
        for k, v in named.items():
            self.put(case, k, v)

    def backward(self, case, y, rng, **named_leaves):
        """Store y, a fixed upstream gradient gy, and g<name> for every named leaf."""
        gy = f32(rng, tuple(y.shape))
        if y.dim() == 0:
            gy = np.asarray(np.float32(0.75))  # a non-unit seed shows the op scales by it
        self.put(case, "y", y)
        self.put(case, "gy", gy)
        leaves = list(named_leaves.items())
        grads = torch.autograd.grad(y, [t for _, t in leaves], torch.from_numpy(gy.astype(np.float64)),
                                    allow_unused=True)
        for (k, t), g in zip(leaves, grads):
            self.put(case, "g" + k, g if g is not None else torch.zeros_like(t))


# ---------------------------------------------------------------- dense family
def make_linear():
    c, rng = Cases(), np.random.default_rng(1001)
    for case, (n, i, o, bias) in [("bias", (4, 7, 5, 1)), ("nobias", (3, 6, 2, 0)), ("one", (1, 1, 1, 1))]:
        x, w = f32(rng, (n, i)), f32(rng, (o, i))
        c.inputs(case, x=x, w=w)
        X, W = leaf(x), leaf(w)
        if bias:
            b = f32(rng, (o,))
            c.put(case, "b", b)
            B = leaf(b)
            c.backward(case, F.linear(X, W, B), rng, x=X, w=W, b=B)
        else:
            c.backward(case, F.linear(X, W), rng, x=X, w=W)
    return c


def make_matmul():
    c, rng = Cases(), np.random.default_rng(1002)
    for case, (m, k, n) in [("m3k5n4", (3, 5, 4)), ("row_col", (1, 7, 1)), ("outer", (6, 1, 3))]:
        a, b = f32(rng, (m, k)), f32(rng, (k, n))
        c.inputs(case, a=a, b=b)
        A, B = leaf(a), leaf(b)
        c.backward(case, A @ B, rng, a=A, b=B)
    return c


def make_broadcast():
    c, rng = Cases(), np.random.default_rng(1003)
    pairs = [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (1, 3, 1, 1)),
             ((3, 1), (2, 1, 5)), ((1,), (3, 2)), ((4, 1, 3), (1, 5, 1))]
    for op, name in enumerate(["add", "sub", "mul"]):
        for j, (sa, sb) in enumerate(pairs):
            case = "%s%d" % (name, j)
            a, b = f32(rng, sa, -2, 2), f32(rng, sb, -2, 2)
            c.put(case, "cfg", [op], np.int32)
            c.inputs(case, a=a, b=b)
            A, B = leaf(a), leaf(b)
            y = A + B if op == 0 else A - B if op == 1 else A * B
            c.backward(case, y, rng, a=A, b=B)
    # scale and add_scalar: cfg [3], hyper [s, t]: y = s * a + t
    a = f32(rng, (2, 3, 5))
    c.put("affine", "cfg", [3], np.int32)
    c.put("affine", "hyper", [-2.5, 0.75])
    c.inputs("affine", a=a)
    A = leaf(a)
    c.backward("affine", A * -2.5 + 0.75, rng, a=A)
    return c


def make_reduce():
    c, rng = Cases(), np.random.default_rng(1004)
    # (mean, axes bitmask (bit i = dim i), keepdim)
    cfgs = [(0, 0b0010, 0), (1, 0b0101, 1), (0, 0b1000, 1), (1, 0b1111, 0), (0, 0b1111, 1), (1, 0b1010, 0),
            (0, 0b0001, 0)]
    for j, (mean, axes, keep) in enumerate(cfgs):
        case = "r%d" % j
        x = f32(rng, (2, 3, 4, 5))
        c.put(case, "cfg", [mean, axes, keep], np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        dims = tuple(d for d in range(4) if axes >> d & 1)
        y = X.mean(dim=dims, keepdim=bool(keep)) if mean else X.sum(dim=dims, keepdim=bool(keep))
        c.backward(case, y, rng, x=X)
    return c


def make_concat_slice():
    c, rng = Cases(), np.random.default_rng(1005)
    base = (2, 3, 4, 2)
    for axis in range(4):
        case = "cat%d" % axis
        xs = []
        for k in range(3):
            s = list(base)
            s[axis] = k + 1
            xs.append(f32(rng, tuple(s)))
        c.put(case, "cfg", [axis, 3], np.int32)
        for k, x in enumerate(xs):
            c.put(case, "x%d" % k, x)
        L = [leaf(x) for x in xs]
        c.backward(case, torch.cat(L, dim=axis), rng, **{"x%d" % k: t for k, t in enumerate(L)})
    for j, (shape, axis, start, length) in enumerate([((3, 5, 4), 1, 1, 3), ((3, 5, 4), 0, 2, 1),
                                                       ((3, 5, 4), 2, 0, 4), ((2, 3, 4, 6), 3, 3, 2)]):
        case = "slice%d" % j
        x = f32(rng, shape)
        c.put(case, "cfg", [axis, start, length], np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        c.backward(case, X.narrow(axis, start, length), rng, x=X)
    return c


# ---------------------------------------------------------------- convolution family
def make_conv2d():
    c, rng = Cases(), np.random.default_rng(2001)
    # name: x shape, (O, kh, kw), stride, pad, groups, bias
    cases = [("s2p1_bias", (2, 4, 7, 6), (6, 3, 3), 2, 1, 1, 1),
             ("s1p0_nobias", (2, 3, 5, 5), (4, 3, 3), 1, 0, 1, 0),
             ("groups2", (2, 4, 6, 6), (6, 3, 3), 1, 1, 2, 1),
             ("depthwise", (2, 4, 7, 7), (4, 5, 5), 1, 2, 4, 1),
             ("depthwise_s2_nobias", (1, 3, 8, 8), (3, 3, 3), 2, 1, 3, 0),
             ("pointwise", (2, 5, 4, 4), (3, 1, 1), 1, 0, 1, 1),
             ("s2p0_k4", (1, 2, 9, 9), (3, 4, 4), 2, 0, 1, 1)]
    for case, xs, (o, kh, kw), s, p, g, bias in cases:
        x, w = f32(rng, xs), f32(rng, (o, xs[1] // g, kh, kw))
        c.put(case, "cfg", [s, p, g], np.int32)
        c.inputs(case, x=x, w=w)
        X, W = leaf(x), leaf(w)
        if bias:
            b = f32(rng, (o,))
            c.put(case, "b", b)
            B = leaf(b)
            c.backward(case, F.conv2d(X, W, B, stride=s, padding=p, groups=g), rng, x=X, w=W, b=B)
        else:
            c.backward(case, F.conv2d(X, W, None, stride=s, padding=p, groups=g), rng, x=X, w=W)
    return c


def make_conv_transpose2d():
    c, rng = Cases(), np.random.default_rng(2002)
    # name: x shape, (O/groups, k), stride, pad, output_padding, groups, bias
    cases = [("k2s2", (2, 4, 3, 3), (3, 2), 2, 0, 0, 1, 1),
             ("k3s2p1op1", (2, 4, 3, 4), (5, 3), 2, 1, 1, 1, 1),
             ("k3s2p1op1_groups2_nobias", (1, 4, 3, 3), (1, 3), 2, 1, 1, 2, 0),
             ("k3s1p1", (1, 3, 4, 4), (2, 3), 1, 1, 0, 1, 1),
             ("k4s2p1_nobias", (2, 2, 2, 3), (3, 4), 2, 1, 0, 1, 0)]
    for case, xs, (og, k), s, p, op, g, bias in cases:
        x, w = f32(rng, xs), f32(rng, (xs[1], og, k, k))
        c.put(case, "cfg", [s, p, op, g], np.int32)
        c.inputs(case, x=x, w=w)
        X, W = leaf(x), leaf(w)
        if bias:
            b = f32(rng, (og * g,))
            c.put(case, "b", b)
            B = leaf(b)
            y = F.conv_transpose2d(X, W, B, stride=s, padding=p, output_padding=op, groups=g)
            c.backward(case, y, rng, x=X, w=W, b=B)
        else:
            y = F.conv_transpose2d(X, W, None, stride=s, padding=p, output_padding=op, groups=g)
            c.backward(case, y, rng, x=X, w=W)
    return c


def make_resample():
    """upsample nearest/bilinear x2 (cfg [0]/[1]), avg_pool2d 2 (cfg [2]), sum over H, W (cfg [3])."""
    c, rng = Cases(), np.random.default_rng(2003)
    cases = [("nearest", 0, (2, 3, 4, 5)), ("nearest_1x1", 0, (1, 1, 1, 1)),
             ("bilinear", 1, (2, 3, 4, 5)), ("bilinear_thin", 1, (1, 2, 1, 3)), ("bilinear_2x2", 1, (1, 1, 2, 2)),
             ("avgpool", 2, (2, 3, 6, 6)), ("avgpool_odd", 2, (1, 2, 5, 7)),
             ("sum_hw", 3, (2, 3, 4, 5)), ("sum_hw_1x1", 3, (3, 2, 1, 1))]
    for case, kind, xs in cases:
        x = f32(rng, xs)
        c.put(case, "cfg", [kind], np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        if kind == 0:
            y = F.interpolate(X, scale_factor=2, mode="nearest")
        elif kind == 1:
            y = F.interpolate(X, scale_factor=2, mode="bilinear", align_corners=False)
        elif kind == 2:
            y = F.avg_pool2d(X, 2)
        else:
            y = X.sum(dim=(2, 3))
        c.backward(case, y, rng, x=X)
    return c


# ---------------------------------------------------------------- normalisation family
def make_batch_norm():
    c, rng = Cases(), np.random.default_rng(3001)
    # name: x shape, training, affine, track running stats, momentum, eps
    cases = [("train_affine", (4, 3, 5, 5), 1, 1, 1, 0.1, 1e-5),
             ("train_noaffine", (4, 3, 5, 5), 1, 0, 1, 0.1, 1e-5),
             ("train_affine_nostats", (2, 3, 4, 3), 1, 1, 0, 0.1, 1e-5),
             ("train_m03_eps1e-3", (3, 2, 3, 3), 1, 1, 1, 0.3, 1e-3),
             ("eval_affine", (4, 3, 5, 5), 0, 1, 1, 0.1, 1e-5),
             ("eval_noaffine", (2, 3, 4, 4), 0, 0, 1, 0.1, 1e-5),
             ("train_1d_affine", (6, 4), 1, 1, 1, 0.1, 1e-5),
             ("train_1d_noaffine", (5, 3), 1, 0, 1, 0.1, 1e-5),
             ("eval_1d_affine", (6, 4), 0, 1, 1, 0.1, 1e-5)]
    for case, xs, train, affine, track, mom, eps in cases:
        C = xs[1]
        # per-channel offsets and scales so that wrong statistics cannot pass by accident
        bshape = (1, C) + (1,) * (len(xs) - 2)
        x = (f32(rng, xs) * f32(rng, bshape, 0.5, 2.0) + f32(rng, bshape, -2.0, 2.0)).astype(np.float32)
        c.put(case, "cfg", [train, affine, track], np.int32)
        c.put(case, "hyper", [mom, eps])
        c.put(case, "x", x)
        X = leaf(x)
        named = {"x": X}
        gamma = beta = rm = rv = None
        if affine:
            ga, be = f32(rng, (C,), 0.5, 1.5), f32(rng, (C,), -0.5, 0.5)
            c.inputs(case, gamma=ga, beta=be)
            gamma, beta = leaf(ga), leaf(be)
            named.update(gamma=gamma, beta=beta)
        if track:
            rm0, rv0 = f32(rng, (C,), -1.0, 1.0), f32(rng, (C,), 0.5, 2.0)
            c.inputs(case, rm=rm0, rv=rv0)
            rm = torch.from_numpy(rm0.astype(np.float64))
            rv = torch.from_numpy(rv0.astype(np.float64))
        y = F.batch_norm(X, rm, rv, gamma, beta, training=bool(train), momentum=mom, eps=eps)
        if track:  # updated in place in training, untouched in eval
            c.inputs(case, rm_after=rm, rv_after=rv)
        c.backward(case, y, rng, **named)
    return c


def make_activations():
    c, rng = Cases(), np.random.default_rng(4001)

    def sample(shape, lo, hi):
        x = f32(rng, shape, lo, hi)
        x.reshape(-1)[[0, 7, 13]] = 0.0  # exact zeros: PyTorch's derivative convention at the kink
        return x

    # kind: 0 relu, 1 leaky_relu(hyper[0]), 2 tanh, 3 sigmoid, 4 softmax(axis), 5 log_softmax(axis)
    cases = [("relu", 0, None, (3, 4, 5), -3, 3), ("leaky_relu_0.2", 1, 0.2, (3, 4, 5), -3, 3),
             ("leaky_relu_0.01", 1, 0.01, (2, 7), -3, 3), ("tanh", 2, None, (3, 4, 5), -4, 4),
             ("sigmoid", 3, None, (3, 4, 5), -4, 4), ("sigmoid_wide", 3, None, (2, 9), -30, 30),
             ("softmax_last", 4, 2, (3, 4, 5), -3, 3), ("softmax_mid", 4, 1, (3, 4, 5), -3, 3),
             ("softmax_first", 4, 0, (3, 4, 5), -3, 3), ("softmax_2d", 4, 1, (4, 6), -3, 3),
             ("softmax_big", 4, 1, (2, 4), 95, 105),
             ("log_softmax_last", 5, 2, (3, 4, 5), -3, 3), ("log_softmax_mid", 5, 1, (3, 4, 5), -3, 3),
             ("log_softmax_2d", 5, 1, (4, 6), -3, 3), ("log_softmax_big", 5, 1, (2, 4), -105, -95),
             ("log_softmax_spread", 5, 1, (3, 5), -40, 40)]
    for case, kind, param, shape, lo, hi in cases:
        x = sample(shape, lo, hi) if kind <= 1 else f32(rng, shape, lo, hi)
        c.put(case, "cfg", [kind, param if kind >= 4 else 0], np.int32)
        c.put(case, "hyper", [param if kind == 1 else 0.0])
        c.inputs(case, x=x)
        X = leaf(x)
        if kind == 0:
            y = F.relu(X)
        elif kind == 1:
            y = F.leaky_relu(X, float(np.float32(param)))
        elif kind == 2:
            y = torch.tanh(X)
        elif kind == 3:
            y = torch.sigmoid(X)
        elif kind == 4:
            y = F.softmax(X, dim=param)
        else:
            y = F.log_softmax(X, dim=param)
        c.backward(case, y, rng, x=X)
    return c


def make_losses():
    c, rng = Cases(), np.random.default_rng(5001)
    # kind: 0 cross_entropy(x, labels), 1 hinge D (real, fake), 2 hinge G (fake), 3 BCE-with-logits(x, target)
    for case, shape, lo, hi in [("ce", (6, 5), -3, 3), ("ce_big", (3, 4), 40, 60), ("ce_one", (1, 1), -1, 1)]:
        x = f32(rng, shape, lo, hi)
        lab = rng.integers(0, shape[1], size=shape[0]).astype(np.int32)
        c.put(case, "cfg", [0], np.int32)
        c.put(case, "x", x)
        c.put(case, "labels", lab, np.int32)
        X = leaf(x)
        c.backward(case, F.cross_entropy(X, torch.from_numpy(lab.astype(np.int64))), rng, x=X)
    real, fake = f32(rng, (7, 1), -2, 2), f32(rng, (5, 1), -2, 2)
    real[2, 0], fake[3, 0] = 1.0, -1.0  # exactly at the hinges: relu'(0) = 0 in PyTorch
    c.put("hinge_d", "cfg", [1], np.int32)
    c.inputs("hinge_d", real=real, fake=fake)
    R, Fk = leaf(real), leaf(fake)
    c.backward("hinge_d", F.relu(1.0 - R).mean() + F.relu(1.0 + Fk).mean(), rng, real=R, fake=Fk)
    fake = f32(rng, (6, 1), -2, 2)
    c.put("hinge_g", "cfg", [2], np.int32)
    c.inputs("hinge_g", fake=fake)
    Fk = leaf(fake)
    c.backward("hinge_g", -Fk.mean(), rng, fake=Fk)
    x, t = f32(rng, (3, 4), -4, 4), f32(rng, (3, 4), 0, 1)
    x[0, 1], x[2, 3], x[1, 0] = 30.0, -30.0, 0.0
    t[0, 0], t[1, 1] = 0.0, 1.0
    c.put("bce", "cfg", [3], np.int32)
    c.inputs("bce", x=x, target=t)
    X = leaf(x)
    c.backward("bce", F.binary_cross_entropy_with_logits(X, torch.from_numpy(t.astype(np.float64))), rng, x=X)
    return c


def unit(rng, n):
    a = rng.standard_normal(n)
    return (a / np.linalg.norm(a)).astype(np.float32)


def make_spectral_norm():
    """torch.nn.utils.spectral_norm (n_power_iterations=1, eps=1e-12) on a conv and a linear
    weight. Stored: w (= weight_orig), u, v before; y (= w / sigma), sigma, u_after, v_after;
    gy and gw (gradient with respect to weight_orig)."""
    c, rng = Cases(), np.random.default_rng(6001)
    for case, mod, train in [("train_conv", torch.nn.Conv2d(4, 6, 3, bias=False), 1),
                             ("eval_conv", torch.nn.Conv2d(4, 6, 3, bias=False), 0),
                             ("train_linear", torch.nn.Linear(7, 5, bias=False), 1)]:
        mod = mod.double()
        shape = tuple(mod.weight.shape)
        w = f32(rng, shape)
        mod = torch.nn.utils.spectral_norm(mod, name="weight", n_power_iterations=1, eps=1e-12)
        u0 = unit(rng, shape[0])
        v0 = unit(rng, int(np.prod(shape[1:])))
        with torch.no_grad():
            mod.weight_orig.copy_(torch.from_numpy(w.astype(np.float64)))
            mod.weight_u.copy_(torch.from_numpy(u0.astype(np.float64)))
            mod.weight_v.copy_(torch.from_numpy(v0.astype(np.float64)))
        mod.train(bool(train))
        c.put(case, "cfg", [train], np.int32)
        c.put(case, "hyper", [1e-12])
        c.inputs(case, w=w, u=u0, v=v0)
        mod(torch.zeros((1,) + shape[1:]))  # one forward: the pre-hook sets mod.weight (and iterates in training)
        y = mod.weight
        wm = mod.weight_orig.detach().reshape(shape[0], -1)
        c.put(case, "sigma", torch.dot(mod.weight_u, wm @ mod.weight_v))
        c.inputs(case, u_after=mod.weight_u, v_after=mod.weight_v)
        c.backward(case, y, rng, w=mod.weight_orig)
    return c


def make_mixed():
    c, rng = Cases(), np.random.default_rng(7001)
    for case, ashape, row, k, xshape in [("row1", (3, 4), 1, 4, (2, 3, 3, 3)), ("vec", (3,), 0, 3, (4, 5)),
                                         ("single", (2, 1), 1, 1, (3,))]:
        alpha = f32(rng, ashape, -2, 2)
        xs = [f32(rng, xshape) for _ in range(k)]
        c.put(case, "cfg", [row, k], np.int32)
        c.put(case, "alpha", alpha)
        for j, x in enumerate(xs):
            c.put(case, "x%d" % j, x)
        A = leaf(alpha)
        L = [leaf(x) for x in xs]
        wts = F.softmax(A[row] if A.dim() == 2 else A, dim=0)
        y = sum(wts[j] * L[j] for j in range(k))
        named = {"alpha": A}
        named.update({"x%d" % j: t for j, t in enumerate(L)})
        c.backward(case, y, rng, **named)
    return c


# ---------------------------------------------------------------- 5-step Adam trajectory
TRAJ = dict(N=6, C=3, H=6, W=6, F=8, K=5, steps=5, lr=1e-2, b1=0.5, b2=0.999, eps=1e-8, wd=1e-2,
            bn_momentum=0.1, bn_eps=1e-5, sn_eps=1e-12)


class TinyNet(torch.nn.Module):
    """conv3x3 (spectral norm, no bias) -> BN2d -> ReLU -> avg_pool2d 2 -> sum over H, W -> linear."""

    def __init__(self, p):
        super().__init__()
        self.conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(p["C"], p["F"], 3, 1, 1, bias=False),
                                                 n_power_iterations=1, eps=p["sn_eps"])
        self.bn = torch.nn.BatchNorm2d(p["F"], eps=p["bn_eps"], momentum=p["bn_momentum"])
        self.fc = torch.nn.Linear(p["F"], p["K"])

    def forward(self, x):
        h = F.relu(self.bn(self.conv(x)))
        return self.fc(F.avg_pool2d(h, 2).sum(dim=(2, 3)))


def traj_state(net):
    return OrderedDict([("conv_w", net.conv.weight_orig), ("bn_gamma", net.bn.weight), ("bn_beta", net.bn.bias),
                        ("fc_w", net.fc.weight), ("fc_b", net.fc.bias), ("bn_rm", net.bn.running_mean),
                        ("bn_rv", net.bn.running_var), ("sn_u", net.conv.weight_u), ("sn_v", net.conv.weight_v)])


def run_trajectory(init, data, dtype, wd=None, adamw=False, sn_train=True, bn_train=True, smallest=None):
    """The reference run; the keyword arguments make deliberately wrong variants (see below).
    `smallest` (a list) receives, per step, min |g + wd p| / max |g + wd p| over the parameters."""
    p = TRAJ
    net = TinyNet(p).to(dtype)
    with torch.no_grad():
        for k, t in traj_state(net).items():
            t.copy_(torch.from_numpy(init[k].astype(np.float64)).to(dtype))
    net.train()
    net.conv.train(sn_train)
    net.bn.train(bn_train)
    opt = (torch.optim.AdamW if adamw else torch.optim.Adam)(
        net.parameters(), lr=p["lr"], betas=(p["b1"], p["b2"]), eps=p["eps"],
        weight_decay=p["wd"] if wd is None else wd)
    out = []
    for x, lab in data:
        opt.zero_grad()
        loss = F.cross_entropy(net(torch.from_numpy(x.astype(np.float64)).to(dtype)),
                               torch.from_numpy(lab.astype(np.int64)))
        loss.backward()
        if smallest is not None:
            with torch.no_grad():
                ge = torch.cat([(q.grad + opt.defaults["weight_decay"] * q).abs().reshape(-1) for q in net.parameters()])
                smallest.append(float(ge.min() / ge.max()))
        opt.step()
        rec = OrderedDict(loss=npy(loss))
        rec.update((k, npy(t)) for k, t in traj_state(net).items())
        out.append(rec)
    return out


def traj_distance(a, b):
    """Largest |a - b| / (TRAJ_ATOL + TRAJ_RTOL |a|) over every step and array: < 1 passes."""
    return max(float(np.max(np.abs(rb[k] - ra[k]) / (TRAJ_ATOL + TRAJ_RTOL * np.abs(ra[k]))))
               for ra, rb in zip(a, b) for k in ra)


def make_adam_trajectory():
    p, c, rng = TRAJ, Cases(), np.random.default_rng(8001)
    fan_conv = p["C"] * 9
    init = OrderedDict(
        conv_w=f32(rng, (p["F"], p["C"], 3, 3), -1 / np.sqrt(fan_conv), 1 / np.sqrt(fan_conv)),
        bn_gamma=f32(rng, (p["F"],), 0.8, 1.2), bn_beta=f32(rng, (p["F"],), -0.1, 0.1),
        fc_w=f32(rng, (p["K"], p["F"]), -0.35, 0.35), fc_b=f32(rng, (p["K"],), -0.35, 0.35),
        bn_rm=np.zeros(p["F"], np.float32), bn_rv=np.ones(p["F"], np.float32),
        sn_u=unit(rng, p["F"]), sn_v=unit(rng, p["C"] * 9))
    data = [(f32(rng, (p["N"], p["C"], p["H"], p["W"]), -1, 1),
             rng.integers(0, p["K"], size=p["N"]).astype(np.int32)) for _ in range(p["steps"])]
    c.put("cfg", "shape", [p["N"], p["C"], p["H"], p["W"], p["F"], p["K"], p["steps"]], np.int32)
    c.put("cfg", "adam", [p["lr"], p["b1"], p["b2"], p["eps"], p["wd"]])
    c.put("cfg", "norm", [p["bn_momentum"], p["bn_eps"], p["sn_eps"]])
    for k, v in init.items():
        c.put("init", k, v)
    for s, (x, lab) in enumerate(data, 1):
        c.put("step%d" % s, "x", x)
        c.put("step%d" % s, "labels", lab, np.int32)
    smallest = []
    ref = run_trajectory(init, data, torch.float64, smallest=smallest)
    for s, rec in enumerate(ref, 1):
        for k, v in rec.items():
            c.put("step%d" % s, k, v)
    # The tolerance must pass any correct float32 implementation: the same run in float32 has to
    # sit far inside it. And it must fail plausible mistakes: each wrong variant has to land far
    # outside it (weight decay ignored or decoupled as AdamW, spectral norm without the power
    # iteration, batch norm with running instead of batch statistics).
    worst = traj_distance(ref, run_trajectory(init, data, torch.float32))
    print("  adam trajectory: float32 PyTorch uses %.2g of the C tolerance (must be < 0.1)" % worst)
    if worst >= 0.1:
        sys.exit("float32 trajectory too far from float64: tolerance too tight or the net is ill-conditioned")
    # Adam's first steps are nearly sign(g): an effective gradient element at rounding-noise level
    # (~1e-7 of the largest) could flip a step by 2 lr. Every element here is far above that.
    print("  adam trajectory: smallest |g + wd p| relative to the largest, per step: "
          + " ".join("%.2g" % r for r in smallest) + " (must be > 1e-4)")
    if min(smallest) <= 1e-4:
        sys.exit("an effective gradient is too close to 0: the trajectory would depend on rounding")
    for label, kw in [("no weight decay", dict(wd=0.0)), ("AdamW", dict(adamw=True)),
                      ("SN not iterated", dict(sn_train=False)), ("BN running stats", dict(bn_train=False))]:
        d = traj_distance(ref, run_trajectory(init, data, torch.float64, **kw))
        print("  adam trajectory: wrong variant '%s' is %.3g tolerances away (must be > 10)" % (label, d))
        if d <= 10:
            sys.exit("the trajectory tolerance cannot tell '%s' from the reference" % label)
    print("  adam trajectory losses: " + " ".join("%.5f" % r["loss"] for r in ref))
    return c

# ---------------------------------------------------------------- sequence family (TextNAS)
# nasgan's sequence ops are channel-last: x, y and their gradients are stored (N, L, D); the
# PyTorch modules run on the (N, D, L) transpose. "lens" (int32, N) are true lengths; the mask
# is lens[n] > t. Padded positions of x hold zeros where the network would (after a mask).
def seq_mask(lens, L):
    return torch.arange(L)[None, :] < torch.as_tensor(np.asarray(lens, np.int64))[:, None]


def masked(x, lens):
    """x (N, L, D) with padded positions set to 0 (a select, as the TextNAS Mask)."""
    return x.masked_fill(~seq_mask(lens, x.shape[1])[:, :, None], 0.0)


def make_seq_embedding():
    c, rng = Cases(), np.random.default_rng(5001)
    # name: V, D, ids (N, L), padding_idx (-1: none); cfg [padding_idx]
    cases = [("nopad", 9, 5, [[3, 1, 4, 1], [5, 8, 2, 6], [0, 3, 3, 7]], -1),
             ("pad0", 9, 5, [[3, 1, 0, 0], [5, 8, 2, 6], [3, 0, 0, 0]], 0),
             ("pad4_1x1", 6, 3, [[4]], 4)]
    for case, V, D, ids, pad in cases:
        ids = np.asarray(ids, np.int32)
        tab = f32(rng, (V, D))
        c.put(case, "cfg", [pad], np.int32)
        c.put(case, "ids", ids, np.int32)
        c.inputs(case, table=tab)
        emb = torch.nn.Embedding(V, D, padding_idx=None if pad < 0 else pad)
        with torch.no_grad():
            emb.weight.copy_(torch.from_numpy(tab.astype(np.float64)))
        c.backward(case, emb(torch.from_numpy(ids.astype(np.int64))), rng, table=emb.weight)
    return c


def make_seq_conv1d():
    c, rng = Cases(), np.random.default_rng(5002)
    # name: (N, L, Cin), Cout, K, bias; nn.Conv1d(Cin, Cout, K, padding=(K-1)//2); cfg [K, bias]
    cases = [("k1_bias", (2, 6, 5), 4, 1, 1), ("k3_bias", (2, 6, 5), 4, 3, 1),
             ("k5_nobias", (3, 5, 3), 6, 5, 0), ("k7_bias", (2, 9, 4), 3, 7, 1),
             ("k7_len2", (2, 2, 3), 2, 7, 1), ("k3_len1", (3, 1, 2), 2, 3, 0)]
    for case, (N, L, C), O, K, bias in cases:
        x, w = f32(rng, (N, L, C)), f32(rng, (O, C, K))
        c.put(case, "cfg", [K, bias], np.int32)
        c.inputs(case, x=x, w=w)
        conv = torch.nn.Conv1d(C, O, K, padding=(K - 1) // 2, bias=bool(bias))
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.astype(np.float64)))
            if bias:
                b = f32(rng, (O,))
                c.put(case, "b", b)
                conv.bias.copy_(torch.from_numpy(b.astype(np.float64)))
        X = leaf(x)
        y = conv(X.transpose(1, 2)).transpose(1, 2)
        named = dict(x=X, w=conv.weight)
        if bias:
            named["b"] = conv.bias
        c.backward(case, y, rng, **named)
    return c


def make_seq_pool():
    c, rng = Cases(), np.random.default_rng(5003)
    # name: (N, L, D), lens or None, max; y = pool(x) (then the TextNAS post-mask when lens are
    # given, x holding zeros at pads); cfg [max, masked]
    cases = [("avg", (2, 6, 3), None, 0), ("max", (2, 6, 3), None, 1),
             ("avg_len1", (2, 1, 3), None, 0), ("max_len2", (3, 2, 2), None, 1),
             ("avg_masked", (4, 6, 3), [6, 4, 1, 2], 0), ("max_masked", (4, 6, 3), [6, 4, 1, 2], 1),
             ("max_masked_neg", (3, 5, 2), [5, 2, 3], 1)]
    for case, xs, lens, mx in cases:
        lo, hi = (-3.0, -0.5) if case.endswith("neg") else (-1.0, 1.0)
        x = f32(rng, xs, lo, hi)
        if lens is not None:
            x = npy(masked(torch.from_numpy(x.astype(np.float64)), lens)).astype(np.float32)
            c.put(case, "lens", lens, np.int32)
        c.put(case, "cfg", [mx, lens is not None], np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        xt = X.transpose(1, 2)
        yt = F.max_pool1d(xt, 3, 1, 1) if mx else F.avg_pool1d(xt, 3, 1, 1, count_include_pad=True)
        y = yt.transpose(1, 2)
        if lens is not None:
            y = masked(y, lens)
        c.backward(case, y, rng, x=X)
    return c


def make_seq_batch_norm():
    c, rng = Cases(), np.random.default_rng(5004)
    # The TextNAS BN wrapper on (N, L, D): mask -> BatchNorm1d(D) on the (N, D, L) transpose
    # (statistics over every N*L position, pads included as zeros) -> mask.
    # name: (N, L, D), lens, training, affine; momentum 0.1, eps 1e-5, running stats tracked;
    # cfg [training, affine]
    cases = [("train_affine", (4, 6, 3), [6, 3, 1, 4], 1, 1), ("train_noaffine", (3, 5, 4), [5, 5, 2], 1, 0),
             ("train_len1", (5, 1, 2), [1, 1, 1, 1, 1], 1, 1), ("eval_affine", (4, 6, 3), [6, 3, 1, 4], 0, 1)]
    for case, (N, L, D), lens, train, affine in cases:
        x = (f32(rng, (N, L, D)) * f32(rng, (1, 1, D), 0.5, 2.0) + f32(rng, (1, 1, D), -2.0, 2.0)).astype(np.float32)
        rm0, rv0 = f32(rng, (D,), -1.0, 1.0), f32(rng, (D,), 0.5, 2.0)
        c.put(case, "cfg", [train, affine], np.int32)
        c.put(case, "lens", lens, np.int32)
        c.inputs(case, x=x, rm=rm0, rv=rv0)
        bn = torch.nn.BatchNorm1d(D, eps=1e-5, momentum=0.1, affine=bool(affine))
        with torch.no_grad():
            bn.running_mean.copy_(torch.from_numpy(rm0.astype(np.float64)))
            bn.running_var.copy_(torch.from_numpy(rv0.astype(np.float64)))
            if affine:
                ga, be = f32(rng, (D,), 0.5, 1.5), f32(rng, (D,), -0.5, 0.5)
                c.inputs(case, gamma=ga, beta=be)
                bn.weight.copy_(torch.from_numpy(ga.astype(np.float64)))
                bn.bias.copy_(torch.from_numpy(be.astype(np.float64)))
        bn.train(bool(train))
        X = leaf(x)
        y = masked(bn(masked(X, lens).transpose(1, 2)).transpose(1, 2), lens)
        c.inputs(case, rm_after=bn.running_mean, rv_after=bn.running_var)
        named = dict(x=X)
        if affine:
            named.update(gamma=bn.weight, beta=bn.bias)
        c.backward(case, y, rng, **named)
    return c


def make_seq_mean_pool():
    c, rng = Cases(), np.random.default_rng(5005)
    # TextNAS GlobalAvgPool: sum over L / count of real tokens (1e-12 when 0); x zero at pads
    cases = [("mixed", (4, 6, 3), [6, 3, 1, 4]), ("len1", (2, 1, 5), [1, 1]), ("empty", (2, 3, 2), [0, 3])]
    for case, xs, lens in cases:
        x = npy(masked(torch.from_numpy(f32(rng, xs).astype(np.float64)), lens)).astype(np.float32)
        c.put(case, "lens", lens, np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        cnt = seq_mask(lens, xs[1]).sum(1, keepdim=True).double()
        y = X.sum(1) / torch.where(cnt == 0, torch.full_like(cnt, 1e-12), cnt)
        c.backward(case, y, rng, x=X)
    return c


def make_seq_attention():
    c, rng = Cases(), np.random.default_rng(5006)
    # The TextNAS attention written in torch tensor ops (not nn.MultiheadAttention): x (N, L, H)
    # -> Q, K, V = relu(Linear(x)) -> per head of d = H/heads contiguous channels:
    # scores = Q_h K_h^T / sqrt(d), masked_fill(-1e10) at padded keys, softmax over keys,
    # times the query mask, no dropout, P V_h, heads concatenated. No output projection.
    # The C test runs ng_linear + ng_relu + ng_seq_attention. cfg [heads]
    cases = [("h4", (3, 6, 8), [6, 2, 4], 4), ("h2_empty", (3, 5, 6), [5, 0, 1], 2), ("h1_len1", (2, 1, 4), [1, 1], 1)]
    for case, (N, L, H), lens, heads in cases:
        x = f32(rng, (N, L, H))
        c.put(case, "cfg", [heads], np.int32)
        c.put(case, "lens", lens, np.int32)
        c.inputs(case, x=x)
        X = leaf(x)
        named = dict(x=X)
        proj = []
        for nm in ("q", "k", "v"):
            w, b = f32(rng, (H, H), -0.6, 0.6), f32(rng, (H,), -0.2, 0.4)
            c.put(case, "w" + nm, w)
            c.put(case, "b" + nm, b)
            W, B = leaf(w), leaf(b)
            named.update({"w" + nm: W, "b" + nm: B})
            proj.append(torch.relu(F.linear(X, W, B)))
        Q, K, V = proj
        d = H // heads
        m = seq_mask(lens, L)
        outs = []
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            sc = torch.matmul(Q[:, :, sl], K[:, :, sl].transpose(1, 2)) / np.sqrt(d)
            sc = sc.masked_fill(~m[:, None, :], -1e10)
            pr = torch.softmax(sc, dim=-1) * m[:, :, None].double()
            outs.append(torch.matmul(pr, V[:, :, sl]))
        c.backward(case, torch.cat(outs, dim=2), rng, **named)
    return c


def make_seq_gru():
    c, rng = Cases(), np.random.default_rng(5007)
    # TextNAS RNN: nn.GRU(I, H, batch_first=True, bidirectional=True) on a packed sequence
    # (enforce_sorted=False), padded back to L with zeros; y = forward half + backward half.
    # Parameters stored per direction: w_ih_f, w_hh_f, b_ih_f, b_hh_f and the *_b ones
    # (PyTorch's weight_ih_l0 and weight_ih_l0_reverse, ...). No cfg.
    cases = [("mixed", (4, 6, 3), 5, [6, 3, 1, 4]), ("full", (2, 4, 2), 3, [4, 4]), ("len1", (3, 1, 4), 2, [1, 1, 1])]
    for case, (N, L, I), H, lens in cases:
        x = f32(rng, (N, L, I))
        c.put(case, "lens", lens, np.int32)
        c.inputs(case, x=x)
        gru = torch.nn.GRU(I, H, batch_first=True, bidirectional=True)
        named = {}
        with torch.no_grad():
            for d, sfx in (("f", ""), ("b", "_reverse")):
                for nm in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    prm = getattr(gru, nm + "_l0" + sfx)
                    v = f32(rng, tuple(prm.shape), -0.6, 0.6)
                    key = nm.replace("weight", "w").replace("bias", "b") + "_" + d
                    c.put(case, key, v)
                    prm.copy_(torch.from_numpy(v.astype(np.float64)))
        for d, sfx in (("f", ""), ("b", "_reverse")):
            for nm in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                named[nm.replace("weight", "w").replace("bias", "b") + "_" + d] = getattr(gru, nm + "_l0" + sfx)
        X = leaf(x)
        packed = torch.nn.utils.rnn.pack_padded_sequence(X, torch.as_tensor(lens), batch_first=True, enforce_sorted=False)
        out, _ = gru(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=L)
        y = out[:, :, :H] + out[:, :, H:]
        named["x"] = X
        c.backward(case, y, rng, **named)
    return c


def make_seq_chain():
    c, rng = Cases(), np.random.default_rng(5008)
    # A small TextNAS network written CHANNEL-FIRST as the reference code is (N, C, L), to
    # check that nasgan's channel-last ops compose to the same numbers:
    #   e = Embedding(ids); x0 = ConvBN(k=1, E->H)(e^T)
    #   l0 = BN(ConvBN(k=3)(x0)); l1 = BN(MaxPool(l0) + l0); l2 = BN(AvgPool(l1) + l0)
    #   z = sum_l softmax(alpha)_l l_l; logits = Linear(masked mean over L of z)
    # ConvBN(k) = conv(bias) -> mask -> BN -> mask -> ReLU; Pool = pool -> mask;
    # BN(layer) = BN -> mask. All BNs train with batch statistics (pads included), affine.
    N, L, V, E, H, C = 3, 7, 11, 5, 4, 3
    lens = [7, 3, 1]
    ids = rng.integers(1, V, size=(N, L)).astype(np.int32)
    for b, n in enumerate(lens):
        ids[b, n:] = 0
    case = "net"
    c.put(case, "lens", lens, np.int32)
    c.put(case, "ids", ids, np.int32)
    m = seq_mask(lens, L)[:, None, :]            # (N, 1, L)
    P = OrderedDict()
    P["emb"] = f32(rng, (V, E))
    P["w0"], P["b0"] = f32(rng, (H, E, 1), -0.5, 0.5), f32(rng, (H,), -0.2, 0.2)
    P["w1"], P["b1"] = f32(rng, (H, H, 3), -0.5, 0.5), f32(rng, (H,), -0.2, 0.2)
    for k in range(5):   # BN gammas/betas: init conv, conv1, layers 0..2
        P["g%d" % k], P["be%d" % k] = f32(rng, (H,), 0.5, 1.5), f32(rng, (H,), -0.3, 0.3)
    P["alpha"] = f32(rng, (3,), -0.5, 0.5)
    P["wc"], P["bc"] = f32(rng, (C, H), -0.5, 0.5), f32(rng, (C,), -0.1, 0.1)
    T = OrderedDict((k, leaf(v)) for k, v in P.items())
    for k, v in P.items():
        c.put(case, k, v)

    def mask(x):
        return x.masked_fill(~m, 0.0)

    def bn(x, k):
        return F.batch_norm(x, None, None, T["g%d" % k], T["be%d" % k], training=True, momentum=0.1, eps=1e-5)

    def convbn(x, w, b, k):
        return torch.relu(mask(bn(mask(F.conv1d(x, w, b, padding=(w.shape[2] - 1) // 2)), k)))

    e = F.embedding(torch.from_numpy(ids.astype(np.int64)), T["emb"]).transpose(1, 2)
    x0 = convbn(e, T["w0"], T["b0"], 0)
    l0 = mask(bn(convbn(x0, T["w1"], T["b1"], 1), 2))
    l1 = mask(bn(mask(F.max_pool1d(l0, 3, 1, 1)) + l0, 3))
    l2 = mask(bn(mask(F.avg_pool1d(l1, 3, 1, 1, count_include_pad=True)) + l0, 4))
    a = torch.softmax(T["alpha"], 0)
    z = a[0] * l0 + a[1] * l1 + a[2] * l2
    pooled = z.sum(2) / m.double().sum(2)
    logits = F.linear(pooled, T["wc"], T["bc"])
    c.backward(case, logits, rng, **T)
    return c


FIXTURES = [("linear", make_linear), ("matmul", make_matmul), ("broadcast", make_broadcast),
            ("reduce", make_reduce), ("concat_slice", make_concat_slice), ("conv2d", make_conv2d),
            ("conv_transpose2d", make_conv_transpose2d), ("resample", make_resample),
            ("batch_norm", make_batch_norm), ("activations", make_activations), ("losses", make_losses),
            ("spectral_norm", make_spectral_norm), ("mixed", make_mixed), ("adam_trajectory", make_adam_trajectory),
            ("seq_embedding", make_seq_embedding), ("seq_conv1d", make_seq_conv1d), ("seq_pool", make_seq_pool),
            ("seq_batch_norm", make_seq_batch_norm), ("seq_mean_pool", make_seq_mean_pool),
            ("seq_attention", make_seq_attention), ("seq_gru", make_seq_gru),
            ("seq_chain", make_seq_chain)]


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, fn in FIXTURES:
        path, size = write_fixture(name, fn().a)
        total += size
        print("%-40s %7d bytes" % (os.path.relpath(path), size))
    print("total %d bytes (torch %s, numpy %s)" % (total, torch.__version__, np.__version__))


if __name__ == "__main__":
    main()
