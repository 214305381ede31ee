#!/usr/bin/env bash
# `rightsize bench --device cuda` around a GPU run, without a GPU: a fake
# NVML shows an H100 and a fake CUDA backend (tests/fake/fake_cuda.c) takes
# a fixed time per forward pass and returns zeros. The engine gives the
# host copy of the uploaded weights back (the host weights row is 0), bench
# warms up, sets the resident memory after the run against the plan's CPU
# side, stores its GPU calibration per card and weight family, and the next
# bench predicts what the first measured. The fake NVML lists the process
# with 700 MiB (FAKE_NVML_PROC_MIB), which bench sets against the plan's
# total for the GPU.
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
BUILD=${RIGHTSIZE_BUILD:-build}
STORIES=$TD/models/stories260K/stories260K.gguf
if [ ! -f "$STORIES" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $STORIES" >&2; exit 1; fi
    echo "SKIP: testdata not found: $STORIES"; exit 0
fi
[ -f "$BUILD/libfake_nvml.so" ] && [ -f "$BUILD/libfake_cuda.so" ] || { echo "SKIP: no fakes"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 0; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_CACHE_HOME=$TMP/cache RIGHTSIZE_NVML_LIB=$BUILD/libfake_nvml.so \
    FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:81559:81000:9.0:5120:2619" \
    RIGHTSIZE_CUDA_LIB=$BUILD/libfake_cuda.so FAKE_NVML_PROC_MIB=700
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; echo "--- stdout:"; head -c 3000 "$TMP/out"; echo "--- stderr:"; head -c 3000 "$TMP/err"; fails=$((fails + 1)); }

"$BIN" bench "$STORIES" --prompt 64 --gen 32 --device cuda >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "loading stored with every block on the GPU" "$TMP/err" &&
    grep -Eq "^  weights +0 B +0 B$" "$TMP/out" &&
    grep -Eq "^resident +[0-9.]+ [KMG]?i?B +[0-9.]+ [KMG]?i?B +[-+][0-9.]+%" "$TMP/out" &&
    grep -q "^timed      after one warm-up pass" "$TMP/out" &&
    grep -Eq "^  NVML process +700 MiB +[0-9.]+ [KMG]?i?B +[-+][0-9.]+%" "$TMP/out" &&
    grep -q "stored for NVIDIA H100 80GB HBM3, float weights: decode x" "$TMP/out"; then
    ok "text: host weights given back, resident row, calibration stored"; else bad "text (rc=$rc)"; fi
cp "$TMP/cache/rightsize/measured.json" "$TMP/first.json" 2>/dev/null
if grep -q '"decode_calib_float"' "$TMP/first.json" && grep -q '"prefill_calib_float"' "$TMP/first.json"; then
    ok "cache holds decode and prefill calibration"; else bad "cache: $(cat "$TMP/first.json")"; fi

if "$BIN" hw --json 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin)["gpus"][0]["speed_calibration"]["float"]
assert c["decode"] > 0 and c["prefill"] > 0, c'; then ok "hw --json shows the calibration"; else bad "hw --json calibration"; fi

# A second bench stores its own; the third, stored nothing, predicts the
# second's measurement (the model's time x the stored factor).
"$BIN" bench "$STORIES" --prompt 64 --gen 32 --device cuda --json >"$TMP/b1" 2>"$TMP/err"
"$BIN" bench "$STORIES" --prompt 64 --gen 32 --device cuda --json --no-save >"$TMP/b2" 2>>"$TMP/err"
if python3 - "$TMP/b1" "$TMP/b2" <<'PY'; then ok "next bench predicts the calibrated speed"; else bad "calibrated prediction"; fi
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert a["warmed_up"] and a["gpu_calibration_saved"]["weights"] == "float", a
assert a["measured"]["weights_bytes"] == 0, a["measured"]
for k in ("decode_tok_s", "prefill_tok_s"):
    m, p = a["measured"][k], b["planned"][k]
    assert abs(p - m) <= 0.01 * m, (k, m, p)
assert "gpu_calibration_saved" not in b and b["bandwidth_saved"] is False, b
assert b["planned"]["load_peak_bytes"] >= b["planned"]["total_bytes"] > 0, b["planned"]
assert isinstance(b["error_pct"]["resident"], (int, float)), b["error_pct"]
g = b["gpus"][0]
assert g["measured"]["nvml_process_bytes"] == 700 << 20, g
p = g["planned"]
assert p["total_bytes"] == p["weights_bytes"] + p["kv_bytes"] + p["compute_bytes"] + p["overhead_bytes"], p
assert abs(g["error_pct"]["nvml_process"] - 100 * ((700 << 20) / p["total_bytes"] - 1)) < 1e-6, g
PY
# Blocks on the CPU too: nothing is stored (the ratio would mix devices).
rm -f "$TMP/cache/rightsize/measured.json"
# And NVML not listing the process (another PID namespace): unknown, and why.
FAKE_NVML_PROC_MIB= "$BIN" bench "$STORIES" --prompt 32 --gen 8 --device cuda --gpu-layers 2 >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 0 ] && grep -q "not stored: blocks ran on the CPU too" "$TMP/out" &&
    grep -q "^  NVML process  unknown: NVML lists no process [0-9]* on GPU 0" "$TMP/out" &&
    [ ! -f "$TMP/cache/rightsize/measured.json" ]; then ok "split: not stored, NVML process unknown"; else bad "split"; fi
exit $((fails > 0))
