#!/usr/bin/env bash
# Wall time of `rightsize plan` (model read from headers only, hardware probe,
# every precision's fit and largest-context search, output): the stories260K
# GGUF, an HF config folder and a catalog name, N runs each, median and max.
# Target: under 50 ms each. hyperfine is not installed: a loop over
# `date +%s%N`.
# usage: bench/plan_latency.sh [BIN] [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/rightsize}
n=${2:-50}
data=${RIGHTSIZE_TESTDATA:-$root/../shared/testdata}
targets=(
    "$data/models/stories260K/stories260K.gguf"
    "$data/configs/Qwen--Qwen2.5-7B-Instruct"
    "$data/configs/deepseek-ai--DeepSeek-V3"
    "qwen2.5-7b-instruct"
)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs"
echo "binary:  $bin ($("$bin" --version))"
echo "runs:    $n each"
echo
printf "%-52s %10s %10s %8s\n" "model" "median ms" "max ms" "< 50 ms"
for t in "${targets[@]}"; do
    if [ ! -e "$t" ] && [[ "$t" == /* ]]; then echo "skip (missing): $t"; continue; fi
    "$bin" plan "$t" >/dev/null # warm the page cache
    times=()
    for ((i = 0; i < n; i++)); do
        s=$(date +%s%N)
        "$bin" plan "$t" >/dev/null
        e=$(date +%s%N)
        times+=($(((e - s) / 1000)))
    done
    sorted=$(printf "%s\n" "${times[@]}" | sort -n)
    med=$(echo "$sorted" | awk -v n="$n" 'NR == int((n + 1) / 2) { printf "%.2f", $1 / 1000 }')
    max=$(echo "$sorted" | tail -1 | awk '{ printf "%.2f", $1 / 1000 }')
    ok=$(awk -v m="$med" 'BEGIN { print (m < 50) ? "yes" : "NO" }')
    name=${t#"$data/"}
    printf "%-52s %10s %10s %8s\n" "$name" "$med" "$max" "$ok"
done
