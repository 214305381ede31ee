#!/usr/bin/env python3
"""Best-of table from several matmul_bench outputs (a shared machine's
timings are noisy; the least disturbed run of each cell is the closest to
what the kernels can do). Usage: bench/best_of.py run1.txt run2.txt ..."""
import sys

best = {}  # (format, threads) -> [decode_ms, prefill_s, row]
order = []
for path in sys.argv[1:]:
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 11 or cells[0] in ("format", "---") or cells[0].startswith("-"):
            continue
        key = (cells[0], cells[1])
        dec = float(cells[4])
        pre = float(cells[9]) if cells[9] != "-" else float("inf")
        if key not in best:
            best[key] = [dec, cells, pre, cells]
            order.append(key)
        if dec < best[key][0]:
            best[key][0:2] = [dec, cells]
        if pre < best[key][2]:
            best[key][2:4] = [pre, cells]

print("| format | threads | weights MB | bits/w | decode ms | decode tok/s | decode GB/s | prefill s (512) | prefill tok/s |")
print("|---|---|---|---|---|---|---|---|---|")
for key in order:
    d, p = best[key][1], best[key][3]
    print(f"| {d[0]} | {d[1]} | {d[2]} | {d[3]} | {d[4]} | {d[5]} | {d[6]} | {p[9]} | {p[10]} |")
