#!/usr/bin/env python3
"""Writes the small handmade seed inputs of the fuzz targets into
fuzz/corpus/fuzz_gguf/ and fuzz/corpus/fuzz_safetensors/. Plain Python (no
dependencies); run from the repository root: python3 tools/make_fuzz_seeds.py"""
import json
import os
import struct


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, payload):
    return gstr(key) + struct.pack("<I", typ) + payload


def gguf(version, kvs, tensors, data, align=32):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs)
    for name, dims, typ, off in tensors:
        out += gstr(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)
    out += b"\0" * (-len(out) % align)
    return out + data


U32, I32, F32, BOOL, STR, ARR, U64, I8, F64 = 4, 5, 6, 7, 8, 9, 10, 1, 12
common = [
    kv("general.architecture", STR, gstr("llama")),
    kv("llama.block_count", U32, struct.pack("<I", 2)),
    kv("general.alignment", U32, struct.pack("<I", 32)),
    kv("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 3) + gstr("<unk>") + gstr("a") + gstr("\u00e9")),
    kv("tokenizer.ggml.scores", ARR, struct.pack("<IQ", F32, 2) + struct.pack("<ff", -1.0, 2.5)),
    kv("tokenizer.ggml.token_type", ARR, struct.pack("<IQ", I32, 2) + struct.pack("<ii", 1, 3)),
    kv("test.flag", BOOL, b"\x01"),
    kv("test.i8", I8, b"\xf9"),
    kv("test.f64", F64, struct.pack("<d", 0.5)),
    kv("test.u64", U64, struct.pack("<Q", 1 << 40)),
]
seeds = {
    "v3_two_tensors.gguf": gguf(3, common, [("a", [4, 2], 0, 0), ("b", [32], 8, 32)], bytes(range(66))),
    "v2_q4k.gguf": gguf(2, common[:3], [("blk.0.w", [256, 1], 12, 0)], bytes(144)),
    "vocab_only.gguf": gguf(3, common, [], b""),
    "v1.gguf": b"GGUF" + struct.pack("<III", 1, 0, 0),
}
os.makedirs("fuzz/corpus/fuzz_gguf", exist_ok=True)
for name, data in seeds.items():
    open(os.path.join("fuzz/corpus/fuzz_gguf", name), "wb").write(data)


def st(header, data_len, pad=0):
    h = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + bytes(data_len)


st_seeds = {
    "two.safetensors": st({"__metadata__": {"format": "pt"},
                           "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}, 20, 4),
    "kinds.safetensors": st({"s": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
                             "e": {"dtype": "F16", "shape": [0, 4], "data_offsets": [8, 8]},
                             "m": {"dtype": "BOOL", "shape": [3], "data_offsets": [8, 11]},
                             "f": {"dtype": "F8_E5M2", "shape": [1, 1, 1], "data_offsets": [11, 12]}}, 12),
    "empty.safetensors": st({}, 0),
}
os.makedirs("fuzz/corpus/fuzz_safetensors", exist_ok=True)
for name, data in st_seeds.items():
    open(os.path.join("fuzz/corpus/fuzz_safetensors", name), "wb").write(data)
