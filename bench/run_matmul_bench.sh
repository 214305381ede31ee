#!/usr/bin/env bash
# Builds bench/matmul_bench.c against the library of a CMake build and runs
# it; arguments go to the benchmark. Usage: bench/run_matmul_bench.sh [args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
[ -f "$build/librightsize_core.a" ] || { echo "run 'make build' first" >&2; exit 2; }
cc -O2 -std=c11 -Wall -Wextra -Werror -I"$root/src" "$root/bench/matmul_bench.c" \
    "$build/librightsize_core.a" -lpthread -lm -o "$build/matmul_bench"
exec "$build/matmul_bench" "$@"
