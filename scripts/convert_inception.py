#!/usr/bin/python3
"""Convert pytorch-fid's FID Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth, a
state_dict) into nasgan's Inception weight file (src/inception.h, @@INCEPTION):

    /usr/bin/python3 scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth fid_inception.ngck

Needs torch only to read the .pth (torch.load); the writer itself needs numpy. The output is a
nasgan checkpoint (format at the top of src/io.h) with two records:
    "inception/format"      raw, "NGIN" + u32 version 1
    "params/inception_fid"  every tensor by its PyTorch name, float32, in the order of
                            expected_tensors() below (the C loader accepts any order)
Keys "num_batches_tracked", "AuxLogits.*" and a leading "module." are ignored; any missing or
misshaped tensor is an error naming it. The C loader prints the network identity
(inception_fid/pool3_2048/crc32=...) that tags feature statistics computed with the file.

expected_tensors() mirrors ng__inc_build_table in src/inception.c; tests/ref/
make_inception_fixture.py checks that this script and the C writer produce the same bytes.
"""
import struct
import sys
import zlib
from collections import OrderedDict

import numpy as np

FORMAT_VERSION = 1
GROUP = "inception_fid"
BN_SUFFIXES = ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")


def conv_layers():
    """(module path, cin, cout, kh, kw, stride, ph, pw) of every BasicConv2d, torchvision order."""
    L = []

    def add(name, cin, cout, kh, kw, s=1, ph=0, pw=0):
        L.append((name, cin, cout, kh, kw, s, ph, pw))

    def block_a(b, cin, pool):
        add(b + ".branch1x1", cin, 64, 1, 1)
        add(b + ".branch5x5_1", cin, 48, 1, 1)
        add(b + ".branch5x5_2", 48, 64, 5, 5, 1, 2, 2)
        add(b + ".branch3x3dbl_1", cin, 64, 1, 1)
        add(b + ".branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1)
        add(b + ".branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1)
        add(b + ".branch_pool", cin, pool, 1, 1)

    def block_c(b, c7):
        add(b + ".branch1x1", 768, 192, 1, 1)
        add(b + ".branch7x7_1", 768, c7, 1, 1)
        add(b + ".branch7x7_2", c7, c7, 1, 7, 1, 0, 3)
        add(b + ".branch7x7_3", c7, 192, 7, 1, 1, 3, 0)
        add(b + ".branch7x7dbl_1", 768, c7, 1, 1)
        add(b + ".branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0)
        add(b + ".branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3)
        add(b + ".branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0)
        add(b + ".branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3)
        add(b + ".branch_pool", 768, 192, 1, 1)

    def block_e(b, cin):
        add(b + ".branch1x1", cin, 320, 1, 1)
        add(b + ".branch3x3_1", cin, 384, 1, 1)
        add(b + ".branch3x3_2a", 384, 384, 1, 3, 1, 0, 1)
        add(b + ".branch3x3_2b", 384, 384, 3, 1, 1, 1, 0)
        add(b + ".branch3x3dbl_1", cin, 448, 1, 1)
        add(b + ".branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1)
        add(b + ".branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1)
        add(b + ".branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0)
        add(b + ".branch_pool", cin, 192, 1, 1)

    add("Conv2d_1a_3x3", 3, 32, 3, 3, 2)
    add("Conv2d_2a_3x3", 32, 32, 3, 3)
    add("Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1)
    add("Conv2d_3b_1x1", 64, 80, 1, 1)
    add("Conv2d_4a_3x3", 80, 192, 3, 3)
    block_a("Mixed_5b", 192, 32)
    block_a("Mixed_5c", 256, 64)
    block_a("Mixed_5d", 288, 64)
    add("Mixed_6a.branch3x3", 288, 384, 3, 3, 2)
    add("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1)
    add("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1)
    add("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3, 2)
    for b, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        block_c(b, c7)
    add("Mixed_7a.branch3x3_1", 768, 192, 1, 1)
    add("Mixed_7a.branch3x3_2", 192, 320, 3, 3, 2)
    add("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1)
    add("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3)
    add("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0)
    add("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3, 2)
    block_e("Mixed_7b", 1280)
    block_e("Mixed_7c", 2048)
    assert len(L) == 94
    return L


def expected_tensors():
    """OrderedDict name -> shape, in the file order (that of ng_inception_tensor_info)."""
    out = OrderedDict()
    for name, cin, cout, kh, kw, _, _, _ in conv_layers():
        for suf in BN_SUFFIXES:
            out[name + "." + suf] = (cout, cin, kh, kw) if suf == "conv.weight" else (cout,)
    out["fc.weight"] = (1008, 2048)
    out["fc.bias"] = (1008,)
    return out


def _record(key, kind, payload):
    kb = key.encode("ascii")
    return struct.pack("<I", len(kb)) + kb + struct.pack("<IQ", kind, len(payload)) + payload


def serialize(tensors):
    """tensors: dict name -> array-like (float32 after conversion) with exactly the expected
    names and shapes. Returns the file bytes (what ng_inception_serialize_params writes)."""
    spec = expected_tensors()
    missing = [k for k in spec if k not in tensors]
    if missing:
        raise ValueError("missing tensor '%s' (%d missing in all)" % (missing[0], len(missing)))
    table = [struct.pack("<I", len(spec))]
    values = []
    numel = 0
    for name, shape in spec.items():
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        if tuple(a.shape) != tuple(shape):
            raise ValueError("tensor '%s' has shape %s, expected %s" % (name, tuple(a.shape), shape))
        if not np.all(np.isfinite(a)):
            raise ValueError("tensor '%s' has non-finite values" % name)
        nb = name.encode("ascii")
        table.append(struct.pack("<I", len(nb)) + nb + struct.pack("<I", a.ndim) + struct.pack("<%dQ" % a.ndim, *a.shape))
        values.append(a.tobytes())
        numel += a.size
    params = b"".join(table) + struct.pack("<Q", numel) + b"".join(values)
    body = b"NGCK" + struct.pack("<II", 1, 2)
    body += _record("inception/format", 1, b"NGIN" + struct.pack("<I", FORMAT_VERSION))
    body += _record("params/" + GROUP, 3, params)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def from_state_dict(sd):
    """Keep the network's tensors of a pytorch-fid / torchvision state_dict (numpy float32)."""
    spec = expected_tensors()
    out, ignored = {}, []
    for key, val in sd.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in spec:
            out[name] = val.detach().cpu().numpy() if hasattr(val, "detach") else np.asarray(val)
        elif not (name.endswith("num_batches_tracked") or name.startswith("AuxLogits.")):
            ignored.append(name)
    return out, ignored


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s pt_inception-2015-12-05-6726825d.pth OUT.ngck\n" % argv[0])
        return 2
    import torch
    sd = torch.load(argv[1], map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    tensors, ignored = from_state_dict(sd)
    for name in ignored:
        sys.stderr.write("warning: %s: ignoring tensor '%s' (not part of the FID Inception-v3)\n" % (argv[1], name))
    try:
        data = serialize(tensors)
    except ValueError as e:
        sys.stderr.write("error: %s: %s\n" % (argv[1], e))
        return 1
    tmp = argv[2] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    import os
    os.replace(tmp, argv[2])
    print("wrote %s: %d tensors, %d bytes, file CRC32 %08x" % (argv[2], len(tensors), len(data), zlib.crc32(data) & 0xFFFFFFFF))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
