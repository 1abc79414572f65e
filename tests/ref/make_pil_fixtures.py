"""PIL references for ng_image_resize_bilinear_pil (tests/test_gan_data.c).

Writes tests/fixtures/pil_resize.ngfx (same NGFX format as make_fixtures.py). Needs Pillow and
numpy (Debian: python3-pil, python3-numpy); generated with Pillow 9.4.0. Run:

    /usr/bin/python3 tests/ref/make_pil_fixtures.py

The input images are not stored: both sides generate them from the case's cfg,
  cfg = [c, h, w, oh, ow, pattern, seed]
  pattern 0: bytes of a 32-bit LCG, s = s * 1664525 + 1013904223 (mod 2^32), byte = s >> 24,
             in (C, H, W) order, starting from s = seed
  pattern 1: (3x + 2y + 50c + 64 * ((x // 8 + y // 8) % 2) + seed) % 256 (smooth ramps + checker)
"<case>/head" holds the first 16 input bytes (a check that the generators agree) and
"<case>/y" PIL's Image.resize((ow, oh), Image.BILINEAR) output as (C, OH, OW).
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures"))


def write_fixture(name, arrays):
    buf = bytearray(b"NGFX")
    buf += struct.pack("<II", VERSION, len(arrays))
    for key, a in arrays.items():
        a = np.asarray(a).astype("<i4")
        nb = key.encode("ascii")
        buf += struct.pack("<I", len(nb)) + nb
        buf += struct.pack("<II", 2, a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape)
        buf += np.ascontiguousarray(a).tobytes()
    buf += struct.pack("<I", zlib.crc32(bytes(buf)) & 0xFFFFFFFF)
    path = os.path.join(OUT, name + ".ngfx")
    with open(path, "wb") as f:
        f.write(bytes(buf))
    return path, len(buf)


def pattern(c, h, w, kind, seed):
    if kind == 0:
        n = c * h * w
        out = np.empty(n, dtype=np.uint8)
        s = seed & 0xFFFFFFFF
        for i in range(n):
            s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
            out[i] = s >> 24
        return out.reshape(c, h, w)
    ch, y, x = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    return ((3 * x + 2 * y + 50 * ch + 64 * ((x // 8 + y // 8) % 2) + seed) % 256).astype(np.uint8)


def pil_resize(img, oh, ow):
    c = img.shape[0]
    if c == 3:
        im = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)), "RGB")
        return np.asarray(im.resize((ow, oh), Image.BILINEAR)).transpose(2, 0, 1)
    planes = []
    for k in range(c):
        im = Image.fromarray(np.ascontiguousarray(img[k]), "L")
        planes.append(np.asarray(im.resize((ow, oh), Image.BILINEAR)))
    return np.stack(planes)


CASES = [
    # name, c, h, w, oh, ow, pattern, seed
    ("stl_random", 3, 96, 96, 48, 48, 0, 12345),     # the STL-10 96 -> 48 case, noise
    ("stl_smooth", 3, 96, 96, 48, 48, 1, 7),         # ramps and a checkerboard
    ("down3", 3, 96, 96, 32, 32, 0, 99),             # factor 3 (support 3)
    ("mixed", 1, 23, 37, 17, 29, 0, 5),              # odd non-integer factors, down both ways
    ("up", 1, 7, 10, 16, 25, 1, 3),                  # upsampling (support 1)
    ("up_down", 2, 9, 40, 30, 11, 0, 77),            # up vertically, down horizontally
    ("same_w", 1, 12, 8, 5, 8, 0, 11),               # horizontal pass skipped
    ("same_h", 1, 8, 12, 8, 5, 1, 13),               # vertical pass skipped
    ("tiny", 1, 1, 5, 3, 2, 0, 17),                  # one-pixel-high input
]


def main():
    arrays = {}
    for name, c, h, w, oh, ow, kind, seed in CASES:
        img = pattern(c, h, w, kind, seed)
        y = pil_resize(img, oh, ow)
        assert y.shape == (c, oh, ow)
        arrays[name + "/cfg"] = np.array([c, h, w, oh, ow, kind, seed])
        arrays[name + "/head"] = img.reshape(-1)[:16]
        arrays[name + "/y"] = y
    path, n = write_fixture("pil_resize", arrays)
    print("wrote %s (%d bytes)" % (path, n))


if __name__ == "__main__":
    main()
