#!/usr/bin/env bash
# Engine speed on a Qwen2.5-0.5B-shaped model (random weights, real shapes):
# prefill (pp512) and decode (tg128) tokens/s at bf16 (as stored), f16,
# int8 (Q8_0) and int4 (Q4_K / Q4_0 where rows are 896 long, Q6_K head),
# beside the memory roofline (weight bytes per token / measured read
# bandwidth) and llama.cpp's figures for a 2-thread AMD EPYC.
#
#   bench/engine_bench.sh [THREADS=2] [REPS=2]
# Env: BENCH_DIR (default /tmp/engine-bench) holds the generated model (1 GB,
# made once with tools/make_bench_model.py and /work/venv or $PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
REPS=${2:-2}
BENCH_DIR=${BENCH_DIR:-/tmp/engine-bench}
PYTHON=${PYTHON:-/work/venv/bin/python}
BUILD=${BUILD:-build}
mkdir -p "$BENCH_DIR"
MODEL="$BENCH_DIR/qwen05b-bf16"
[ -f "$MODEL/model.safetensors" ] || "$PYTHON" tools/make_bench_model.py "$MODEL" bf16 >&2

[ -f "$BUILD/librightsize_core.a" ] || make build >&2
LIBS="$(pkg-config --libs libcjson libpcre2-8 libutf8proc libedit) -lpthread -ldl -lm"
gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/engine_bench.c "$BUILD/librightsize_core.a" $LIBS \
    -o "$BENCH_DIR/engine_bench"
gcc -O2 -march=native -pthread bench/membw.c -o "$BENCH_DIR/membw"

BW=$("$BENCH_DIR/membw" "$THREADS" 1024)
echo "read bandwidth, $THREADS threads: $BW GB/s" >&2
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "| precision | weights | weight GB/token | pp512 tok/s | tg128 tok/s | roofline tg tok/s | tg / roofline | llama.cpp tg128 / pp512 | load s | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for P in stored f16 int8 int4; do
    case $P in
        stored) REF="F16: 35.3 / 178";;
        f16) REF="F16: 35.3 / 178";;
        int8) REF="Q8_0: 41.2 / 217";;
        int4) REF="Q4_K_M: 44.6 / 185";;
    esac
    J=$("$BENCH_DIR/engine_bench" "$MODEL" "$P" "$THREADS" 512 128 "$REPS")
    echo "$J" >&2
    python3 - "$J" "$BW" "$REF" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); bw = float(sys.argv[2]); ref = sys.argv[3]
gb = j["weight_bytes"] / 1e9
roof = bw / gb
print(f"| {j['precision']} | {j['weight_type']} | {gb:.3f} | {j['pp_tok_s']:.1f} | {j['tg_tok_s']:.1f} | "
      f"{roof:.1f} | {j['tg_tok_s'] / roof:.0%} | {ref} | {j['load_s']:.1f} | {j['peak_rss_kb'] / 1024:.0f} MiB |")
PY
done
echo
echo "CPU: $CPU, $THREADS threads; read bandwidth $BW GB/s (bench/membw.c, best of 5 over 1 GiB)."
