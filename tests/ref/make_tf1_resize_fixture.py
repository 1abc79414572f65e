#!/usr/bin/python3
"""Generate tests/fixtures/tf1_resize.ngfx, the reference for the FID Inception's TF1
preprocessing (src/inception.c, NG_INCEPTION_TF1; read by tests/test_inception.c). Run only
to regenerate it:

    /usr/bin/python3 tests/ref/make_tf1_resize_fixture.py

Needs numpy only. The reference is torch-fidelity's "slow" interpolate_bilinear_2d_like_
tensorflow1x (bit-exact with TF 1.x's resize_bilinear on the CPU, align_corners=False) written
out in float32 numpy, followed by its normalisation (x - 128) / 128, on uint8 images:
    scale = float32(in / 299); g = float32(i) * scale; lo = trunc(g); hi = min(lo + 1, in - 1);
    d = g - lo; top = x[lo] + (x[hi] - x[lo]) d (columns, then rows), all in float32.
The C side receives the images in [-1, 1] as its image sources make them, float32(p) *
float32(2 / 255) - 1, so the inputs are stored that way. Stored outputs: rows ROWS of every
(channel, image) plane of the (3, n, 299, 299) network input.
"""
import os

import numpy as np

from make_metric_fixtures import write_fixture

S = 299
ROWS = [0, 1, 150, 297, 298]


def tf1_resize(img):   # (h, w) float32 in [0, 255] -> (S, S) float32
    h, w = img.shape

    def grid(n):
        g = np.arange(S, dtype=np.float32) * np.float32(n / S)
        lo = g.astype(np.int64)
        return lo, np.minimum(lo + 1, n - 1), (g - lo.astype(np.float32)).astype(np.float32)

    ylo, yhi, dy = grid(h)
    xlo, xhi, dx = grid(w)
    a, b = img[ylo][:, xlo], img[ylo][:, xhi]
    c, d = img[yhi][:, xlo], img[yhi][:, xhi]
    top = a + (b - a) * dx[None, :]
    bot = c + (d - c) * dx[None, :]
    out = top + (bot - top) * dy[:, None]
    return ((out - np.float32(128)) / np.float32(128)).astype(np.float32)


def case(rng, n, channels, h, w):
    px = rng.integers(0, 256, size=(n, channels, h, w)).astype(np.uint8)
    x = (px.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)).astype(np.float32)
    planes = np.stack([np.stack([tf1_resize(px[b, 0 if channels == 1 else c].astype(np.float32)) for b in range(n)])
                       for c in range(3)])   # (3, n, S, S)
    return x, planes[:, :, ROWS, :]


def main():
    rng = np.random.default_rng(20261129)
    arrays = {"rows": np.array(ROWS, dtype=np.int32)}
    for name, shape in (("rgb32", (2, 3, 32, 32)), ("gray28", (1, 1, 28, 28)), ("rgb37x20", (1, 3, 37, 20))):
        x, y = case(rng, *shape)
        arrays[name + "_x"] = x.reshape(shape[0], shape[1], shape[2] * shape[3])
        arrays[name + "_y"] = y
    path, size = write_fixture("tf1_resize", arrays)
    print("wrote", path, size, "bytes")


if __name__ == "__main__":
    main()
