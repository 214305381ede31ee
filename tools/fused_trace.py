#!/usr/bin/env python3
"""Summarizes a RIGHTSIZE_CUDA_FUSED_TRACE file (fused decode step, fused.cuh).

    python3 tools/fused_trace.py TRACE [SKIP]

Each token's line holds its position, then the nanoseconds between the
moments block 0 passed consecutive grid barriers: the input phase, then per
transformer block A (q|k|v), B (attention), C (o), D (gate|up), E (down),
then the head (to block 0's end). Prints the mean over tokens (the first
SKIP, default 2, left out) of each phase summed over the blocks, in us.
"""
import sys


def main():
    rows, layers = [], None
    for line in open(sys.argv[1]):
        if line.startswith("#"):
            layers = int(line.split("layers")[1])
            continue
        v = [int(x) for x in line.split()]
        rows.append(v[1:])
    skip = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rows = rows[skip:] or rows
    n = len(rows)
    names = ["qkv", "attn", "o", "gate_up", "down"]
    tot = {k: 0.0 for k in ["input"] + names + ["head"]}
    for r in rows:
        tot["input"] += r[0]
        for l in range(layers):
            for k, name in enumerate(names):
                if 1 + 5 * l + k < len(r):
                    tot[name] += r[1 + 5 * l + k]
        tot["head"] += r[1 + 5 * layers] if 1 + 5 * layers < len(r) else 0
    step = sum(tot.values()) / n / 1e3
    print(f"tokens {n}, layers {layers}, step {step:.1f} us (= {1e6 / step:.0f} tok/s at block 0's end)")
    print("  ".join(f"{k} {v / n / 1e3:.1f}" for k, v in tot.items()) + "  (us per token)")
    print("per block: " + "  ".join(f"{k} {tot[k] / n / 1e3 / layers:.2f}" for k in names) + "  (us)")


if __name__ == "__main__":
    main()
