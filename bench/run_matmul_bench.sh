#!/usr/bin/env bash
# Builds bench/matmul_bench.c with the kernel sources it measures (no other
# dependency, so it also builds on a bare machine) and runs it; arguments go
# to the benchmark. Usage: bench/run_matmul_bench.sh [args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_BIN:-/tmp/rightsize_matmul_bench}
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/src" "$root/bench/matmul_bench.c" \
    "$root/src/engine/"quant*.c "$root/src/engine/cpu/"*.c "$root/src/util/dtype.c" \
    -lpthread -lm -o "$out"
exec "$out" "$@"
