#!/usr/bin/env bash
# Measured against planned with `rightsize bench`, on the Qwen2.5-0.5B-shaped
# model of bench/engine_bench.sh (random bf16 weights, real shapes) with the
# Qwen tokenizer beside it (as `chat` would hold it): peak resident memory,
# prefill and decode tokens/s beside the plan's figures, for each precision;
# then the calibration loop: the stored-precision run feeds its bandwidth to
# a fresh measurement cache, and the runs after it are predicted from it.
#
#   bench/bench_vs_plan.sh [THREADS=2]
# Env: BENCH_DIR (default /tmp/engine-bench; the model is made there once by
# tools/make_bench_model.py with /work/venv or $PYTHON), BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
BENCH_DIR=${BENCH_DIR:-/tmp/engine-bench}
PYTHON=${PYTHON:-/work/venv/bin/python}
BUILD=${BUILD:-build}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
SRC_MODEL="$BENCH_DIR/qwen05b-bf16"
MODEL="$BENCH_DIR/qwen05b-bf16-tok"
mkdir -p "$BENCH_DIR"
[ -f "$SRC_MODEL/model.safetensors" ] || "$PYTHON" tools/make_bench_model.py "$SRC_MODEL" bf16 >&2
mkdir -p "$MODEL"
ln -sf "$SRC_MODEL/config.json" "$SRC_MODEL/model.safetensors" "$MODEL/"
cp -f "$TD/tokenizers/qwen3/tokenizer.json" "$TD/tokenizers/qwen3/tokenizer_config.json" "$MODEL/"
export XDG_CACHE_HOME
XDG_CACHE_HOME=$(mktemp -d)
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT

FMT=$XDG_CACHE_HOME/fmt.py
cat >"$FMT" <<'PY'
import json, sys
j = json.loads(sys.stdin.read()); m = j["measured"]; p = j["planned"]; e = j["error_pct"]
MiB = 2**20
print(f"| {j['precision']} | {j['weight_type']} | {m['peak_rss_bytes']/MiB:.0f} MiB | "
      f"{p['total_bytes']/MiB:.0f} MiB | {e['memory']:+.1f}% "
      f"| {m['prefill_tok_s']:.1f} | {p['prefill_tok_s']:.1f} | {e['prefill']:+.0f}% "
      f"| {m['decode_tok_s']:.1f} | {p['decode_tok_s']:.1f} | {e['decode']:+.0f}% | {j['load_s']:.1f} s |")
PY
row() { # precision, --no-save or nothing
    "$BUILD/rightsize" bench "$MODEL" --precision "$1" --threads "$THREADS" --json $2 2>/dev/null |
        python3 "$FMT"
}
echo "Uncalibrated (no measured bandwidth in the cache: the planner's per-core estimate):"
echo
echo "| precision | weights | peak RSS | planned | error | pp512 tok/s | planned | error | tg128 tok/s | planned | error | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for P in stored f16 int8 int4; do row $P --no-save; done
echo
echo "Calibrated: the stored run stores its bandwidth (saved), the runs after it are predicted from it:"
echo
echo "| precision | weights | peak RSS | planned | error | pp512 tok/s | planned | error | tg128 tok/s | planned | error | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
row stored ""
for P in stored f16 int8 int4; do row $P --no-save; done
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads; load average $(cut -d' ' -f1-3 /proc/loadavg)."
