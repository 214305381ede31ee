#!/usr/bin/env python3
"""Writes tests/data/quant_fixtures.bin: reference data for tests/test_quant.c.

The reference is the `gguf` Python package (gguf.quants), which mirrors
ggml's reference C code bit for bit. The fixture holds
  * for every weight type rightsize reads: random blocks and the floats
    gguf.quants.dequantize makes of them (the C test demands bit-exact
    equality);
  * for every type both rightsize and gguf.quants can quantize to (F16, BF16,
    Q8_0, Q4_0): random float rows and the bytes gguf.quants.quantize makes
    of them (the C test demands byte equality).

Format: a text header of lines starting with '#', ended by the line "---",
then records until the end of the file, all little-endian:
    u32 kind (0 = dequantize, 1 = quantize), u32 ggml type id,
    u32 n_elems, u32 n_bytes,
    kind 0: n_bytes of blocks, then n_elems f32 (expected output)
    kind 1: n_elems f32 (input), then n_bytes of blocks (expected output)

Usage: python3 tools/make_quant_fixtures.py [out]   (needs gguf and numpy)
"""
import importlib.metadata
import struct
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20261125
rng = np.random.default_rng(SEED)

# Offsets of the fp16 scale fields inside each block, which random bytes would
# often turn into NaN or inf: they are overwritten with finite values.
FP16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
DEQUANT_TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_K, T.Q4_K, T.Q6_K]
QUANT_TYPES = [T.F16, T.BF16, T.Q8_0, T.Q4_0]
N_ELEMS = 1024  # per record: 32 blocks of 32 or 4 super-blocks of 256


def random_blocks(t):
    block_elems, block_bytes = GGML_QUANT_SIZES[t]
    nb = N_ELEMS // block_elems
    raw = rng.integers(0, 256, size=(nb, block_bytes), dtype=np.uint8)
    if t in (T.F16, T.BF16, T.F32):
        # Any bit pattern but NaN (whose payload conversions may change):
        # zeros, subnormals, infinities and normals all occur.
        if t == T.F32:
            v = raw.reshape(-1).view(np.uint32)
            nan = (v & 0x7FFFFFFF) > 0x7F800000
            v[nan] &= 0xFF7FFFFF
        else:
            v = raw.reshape(-1).view(np.uint16)
            if t == T.F16:
                nan = ((v & 0x7C00) == 0x7C00) & ((v & 0x3FF) != 0)
                v[nan] &= 0xFBFF
            else:
                nan = ((v & 0x7F80) == 0x7F80) & ((v & 0x7F) != 0)
                v[nan] &= 0xFF7F
            # A few exact subnormals and infinities, so they surely occur.
            v[:4] = [0x0001, 0x8003, 0x7C00 if t == T.F16 else 0x7F80, 0x0000]
        return raw.reshape(-1)
    for off in FP16_FIELDS[t]:
        scale = rng.standard_normal(nb).astype(np.float32) * np.float32(0.02)
        raw[:, off:off + 2] = scale.astype(np.float16).view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def random_floats():
    x = rng.standard_normal(N_ELEMS).astype(np.float32)
    x[:32] = 0.0                                  # an all-zero block
    x[32:64] *= np.float32(1e-6)                  # tiny values (fp16 subnormals)
    x[64:96] = np.float32(2.0) ** rng.uniform(-30, 17, 32).astype(np.float32)  # wide range
    x[96] = np.float32(70000.0)                   # fp16 overflow
    x[100:132] *= np.float32(100.0)               # a large block
    x[140] = np.float32(50.0)                     # an outlier in a normal block
    return x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/quant_fixtures.bin"
    header = (
        "# rightsize quantization fixture, made by tools/make_quant_fixtures.py\n"
        f"# reference: gguf {importlib.metadata.version('gguf')} (gguf.quants), numpy {np.__version__}, seed {SEED}\n"
        "# kind 0: random blocks -> gguf.quants.dequantize floats (bit-exact)\n"
        "# kind 1: random floats -> gguf.quants.quantize blocks (byte-exact)\n"
        "# record: u32 kind, u32 type, u32 n_elems, u32 n_bytes, payload (see the script)\n"
        "---\n"
    )
    with open(out, "wb") as f:
        f.write(header.encode())
        for t in DEQUANT_TYPES:
            blocks = random_blocks(t)
            y = gguf.quants.dequantize(blocks, t).astype(np.float32).reshape(-1)
            assert y.size == N_ELEMS
            f.write(struct.pack("<IIII", 0, int(t), N_ELEMS, blocks.size))
            f.write(blocks.tobytes())
            f.write(y.tobytes())
        for t in QUANT_TYPES:
            x = random_floats()
            with np.errstate(over="ignore"):  # 70000 overflows fp16 on purpose
                q = gguf.quants.quantize(x, t)
            q = np.ascontiguousarray(q).view(np.uint8).reshape(-1)
            f.write(struct.pack("<IIII", 1, int(t), N_ELEMS, q.size))
            f.write(x.tobytes())
            f.write(q.tobytes())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
