#!/usr/bin/env python3
"""HF `tokenizers` side of bench/run_tok_bench.sh: encodes TEXT_FILE (written
by bench/tok_bench --write-text) with each tokenizer.json, one thread
(run with RAYON_NUM_THREADS=1), and prints MB/s like tok_bench.

Usage: RAYON_NUM_THREADS=1 python tools/tok_bench_hf.py TEXT_FILE TOKENIZER_DIR...
"""
import os
import sys
import time

from tokenizers import Tokenizer


def main():
    raw = open(sys.argv[1], "rb").read()
    text = raw.decode("utf-8", "replace")
    reps = 3
    for path in sys.argv[2:]:
        if path.endswith(".gguf"):
            print("hf        %-40s (GGUF: no HF tokenizer.json)" % path)
            continue
        tj = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(tj)
        t1 = time.perf_counter()
        times = []
        n = 0
        for _ in range(reps):
            s = time.perf_counter()
            n = len(tok.encode(text, add_special_tokens=False).ids)
            times.append(time.perf_counter() - s)
        mb = len(raw) / 1e6
        print("hf        %-40s load %.2f s  %d tokens  first pass %.2f MB/s  best of %d %.2f MB/s"
              % (path, t1 - t0, n, mb / times[0], reps, mb / min(times)))
        # Line by line, through encode_batch (one rayon thread with
        # RAYON_NUM_THREADS=1), the same pieces tok_bench encodes.
        lines = text.splitlines(keepends=True)
        times = []
        for _ in range(reps):
            s = time.perf_counter()
            n = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))
            times.append(time.perf_counter() - s)
        print("hf        %-40s line by line: %d tokens  best of %d %.2f MB/s" % (path, n, reps, mb / min(times)))


if __name__ == "__main__":
    main()
