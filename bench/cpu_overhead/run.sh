#!/usr/bin/env bash
# CPU-side runtime memory: the bare process and a loaded tokenizer.
# usage: bench/cpu_overhead/run.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
data=${RIGHTSIZE_TESTDATA:-$root/../shared/testdata}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/src" "$root/bench/cpu_overhead/measure_tok.c" \
    "$build/librightsize_core.a" $(pkg-config --libs libcjson libpcre2-8 libutf8proc libedit) \
    -lm -lpthread -ldl -o "$out/measure_tok"
"$out/measure_tok" "$data"/tokenizers/*/
echo "rightsize hw peak RSS: $(/usr/bin/time -f %M "$build/rightsize" hw 2>&1 >/dev/null | tail -1) KiB"
echo "rightsize run stories260K (32 tokens) peak RSS: $(/usr/bin/time -f %M "$build/rightsize" run \
    "$data/models/stories260K/stories260K.gguf" -p "Once upon a time" -n 32 --temp 0 2>&1 >/dev/null | tail -1) KiB"
