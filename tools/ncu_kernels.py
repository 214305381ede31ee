#!/usr/bin/env python3
"""Per-kernel GPU time from ncu's CSV (one row per launch):

    ncu --csv --clock-control none --metrics gpu__time_duration.sum PROG ... > A.csv
    python3 tools/ncu_kernels.py A.csv [B.csv] [--per N]

With one file: each kernel's launches and total time. With two (A a prefix
of B's work, e.g. prefill alone, B = the same prefill then decode steps):
B - A per kernel name, divided by N (--per, e.g. the decode steps), so the
rows are one decode step's kernels. Times under ncu are each kernel alone
(serialized, caches flushed), without the gaps between launches.
"""
import csv
import sys
from collections import defaultdict


def load(path):
    agg = defaultdict(lambda: [0, 0.0])
    rows = [l for l in open(path) if l.startswith('"')]
    for r in csv.DictReader(rows):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = r["Kernel Name"].split("(")[0].split("<")[0].strip()
        v = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "ns")
        v *= {"ns": 1e-3, "us": 1.0, "usecond": 1.0, "nsecond": 1e-3, "ms": 1e3, "msecond": 1e3}.get(unit, 1.0)
        agg[name][0] += 1
        agg[name][1] += v
    return agg


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    per = 1
    if "--per" in sys.argv:
        per = int(sys.argv[sys.argv.index("--per") + 1])
        args = [a for a in args if a != str(per)]
    a = load(args[0])
    if len(args) > 1:
        b = load(args[1])
        a = {k: [b[k][0] - a.get(k, [0, 0])[0], b[k][1] - a.get(k, [0, 0])[1]] for k in b}
    rows = sorted(((v[1] / per, v[0] / per, k) for k, v in a.items() if v[0] > 0), reverse=True)
    total = sum(r[0] for r in rows)
    print(f"{'kernel':40s} {'launches':>9s} {'us':>10s} {'share':>6s}")
    for us, n, k in rows:
        print(f"{k[:40]:40s} {n:9.1f} {us:10.1f} {100 * us / total:5.1f}%")
    print(f"{'total':40s} {sum(r[1] for r in rows):9.1f} {total:10.1f}")


if __name__ == "__main__":
    main()
