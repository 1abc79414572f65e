#!/usr/bin/python3
"""Generate tests/fixtures/npz/*, numpy-written .npy / .npz files for the reader in src/npz.c
(read by tests/test_npz.c). Run only to regenerate them:

    /usr/bin/python3 tests/ref/make_npz_fixtures.py

Needs numpy only. The values come from formulas that tests/test_npz.c evaluates too, so the
files hold no data the test could not check:
    mu[i]       = 0.5 i - 1.25 + 1 / (3 + i)                  (D = 5)
    sigma[i, j] = 1 / (1 + i + j) + (i == j)                  (symmetric, D x D)
    cube[i,j,k] = 100 i + 10 j + k + 0.125                    (2 x 3 x 4)
float32 files hold float32(value); the C side compares against (float)value.

Files (each the way a user's tool writes it):
    savez_f8.npz            np.savez (stored members; numpy >= 1.15 writes ZIP64 extra fields)
    savez_compressed_f4.npz np.savez_compressed of float32 arrays (deflate), as pytorch-fid's
                            --save-stats does
    fortran_be.npz          sigma in Fortran order and big-endian '>f8', mu '>f4', and the cube
                            in Fortran order (np.asfortranarray), to check the index transposition
    zip64_dir.npz           mu and sigma (float64) in an archive whose central directory and end
                            record use ZIP64 fields throughout (what zipfile writes past 4 GiB),
                            written by write_zip64 below and checked with Python's zipfile
    cube_v2.npy             a single .npy, format version 2.0
    scalar.npy              a 0-d array
"""
import io
import os
import struct
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "npz")
D = 5


def mu():
    return np.array([0.5 * i - 1.25 + 1.0 / (3 + i) for i in range(D)], dtype=np.float64)


def sigma():
    return np.array([[1.0 / (1 + i + j) + (i == j) for j in range(D)] for i in range(D)], dtype=np.float64)


def cube():
    return np.array([[[100 * i + 10 * j + k + 0.125 for k in range(4)] for j in range(3)] for i in range(2)])


def npy_bytes(a):
    f = io.BytesIO()
    npformat.write_array(f, a)
    return f.getvalue()


def write_zip64(path, members):
    """Stored members; every size and offset in the ZIP64 extra fields, 0xffffffff in the
    classic ones; a ZIP64 end of central directory record and locator."""
    out, central = bytearray(), bytearray()
    for name, data in members:
        name = name.encode()
        crc, size, at = zlib.crc32(data), len(data), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
        out += name + struct.pack("<HHQQ", 1, 16, size, size) + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x032D, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(name), 28, 0, 0, 0, 0o600 << 16, 0xFFFFFFFF)
        central += name + struct.pack("<HHQQQ", 1, 24, size, size, at)
    cd_at = len(out)
    out += central
    z64_at = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members), len(central), cd_at)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "savez_f8.npz"), mu=mu(), sigma=sigma())
    np.savez_compressed(os.path.join(OUT, "savez_compressed_f4.npz"), mu=mu().astype(np.float32),
                        sigma=sigma().astype(np.float32))
    np.savez(os.path.join(OUT, "fortran_be.npz"), mu=mu().astype(">f4"),
             sigma=np.asfortranarray(sigma().astype(">f8")), cube=np.asfortranarray(cube()))
    write_zip64(os.path.join(OUT, "zip64_dir.npz"), [("mu.npy", npy_bytes(mu())), ("sigma.npy", npy_bytes(sigma()))])
    with zipfile.ZipFile(os.path.join(OUT, "zip64_dir.npz")) as z:
        assert z.testzip() is None
    z = np.load(os.path.join(OUT, "zip64_dir.npz"))
    assert np.array_equal(z["mu"], mu()) and np.array_equal(z["sigma"], sigma())
    with open(os.path.join(OUT, "cube_v2.npy"), "wb") as f:
        npformat.write_array(f, cube(), version=(2, 0))
    np.save(os.path.join(OUT, "scalar.npy"), np.float64(2.5))
    # the readers' own view, so a wrong file is noticed here
    z = np.load(os.path.join(OUT, "fortran_be.npz"))
    assert z["sigma"].flags.f_contiguous and z["sigma"].dtype == np.dtype(">f8")
    assert np.array_equal(z["cube"], cube())
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
