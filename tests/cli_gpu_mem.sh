#!/usr/bin/env bash
# --gpu-mem SIZE (issue 6, auto-fit): the plan for the GPU of --device cuda
# as if it had at most SIZE free, and the load as planned. The GPU comes
# from the fake NVML (build/libfake_nvml.so); without a CUDA driver here the
# engine then runs on the CPU with its one-line note, which is the point
# where a real GPU takes over (bench/results/cuda.md, run 6).
set -u
BIN=${RIGHTSIZE_BIN:?}
BUILD=${RIGHTSIZE_BUILD:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
STORIES=$TD/models/stories260K/stories260K.gguf
fake=$BUILD/libfake_nvml.so
fails=0
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
ok() { echo "ok   $1"; }
[ -f "$fake" ] || { echo "SKIP: no fake NVML"; exit 0; }
export RIGHTSIZE_NVML_LIB=$fake FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:81559:81000:9.0:5120:2619"

# plan: the 7B on a card capped at 10 GiB takes int8 on the GPU; at 2 GiB
# int4 with CPU blocks (the split leaving the CPU the fewest blocks).
out=$("$BIN" plan qwen2.5-7b-instruct --ram 64G --gpu-mem 10G)
grep -q "10.0 GiB free" <<<"$out" || fail "plan --gpu-mem 10G: capped free memory"
grep -q "^Decision: int8 on GPU0 (all 28 layers)" <<<"$out" && ok "plan --gpu-mem 10G: int8 on the GPU" ||
    fail "plan --gpu-mem 10G: $(grep -A2 Decision <<<"$out")"
out=$("$BIN" plan qwen2.5-7b-instruct --ram 64G --gpu-mem 2G)
grep -q "^Decision: int4 split: [0-9]* layers on GPU" <<<"$out" && ok "plan --gpu-mem 2G: int4 split" ||
    fail "plan --gpu-mem 2G: $(grep -A2 Decision <<<"$out")"
"$BIN" plan qwen2.5-7b-instruct --gpu-mem 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok "plan --gpu-mem 0 refused" || fail "plan --gpu-mem 0 accepted"

if [ ! -f "$STORIES" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $STORIES" >&2; exit 1; fi
    echo "SKIP: testdata not found: $STORIES"; exit $((fails > 0))
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# run/bench: the planned load on "the GPU", and the same tokens as the CPU.
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json >"$TMP/cpu" 2>/dev/null
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json --device cuda --gpu-mem 1G >"$TMP/gpu" 2>"$TMP/err"
rc=$?
ids() { grep -o '"ids":\[[0-9,]*\]' "$1"; }
if [ $rc -eq 0 ] && grep -q "rightsize run: loading .* with every block on the GPU" "$TMP/err" &&
    [ -n "$(ids "$TMP/cpu")" ] && [ "$(ids "$TMP/cpu")" = "$(ids "$TMP/gpu")" ]; then
    ok "run --device cuda --gpu-mem 1G: planned for the GPU, CPU's tokens"
else
    fail "run --gpu-mem (rc=$rc): $(head -c 600 "$TMP/err")"
fi
"$BIN" run "$STORIES" --prompt-ids 1 -n 2 --gpu-mem 1G >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && grep -q "needs --device cuda" "$TMP/err" && ok "--gpu-mem without --device cuda" ||
    fail "--gpu-mem without --device (rc=$rc): $(cat "$TMP/err")"
XDG_CACHE_HOME=$TMP "$BIN" bench "$STORIES" --prompt 16 --gen 4 --device cuda --gpu-mem 1G \
    --json >"$TMP/b" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && grep -q '"decode_tok_s"' "$TMP/b" && grep -q "loading .* with every block on the GPU" "$TMP/err" &&
    ok "bench --device cuda --gpu-mem 1G" || fail "bench --gpu-mem (rc=$rc): $(head -c 600 "$TMP/err")"
# --split A,B (blocks per GPU): bad lists exit 2; without a GPU the CPU runs.
for bad in 0,2 a 2,,2 1,2,3,4,5,6,7,8,9; do
    "$BIN" run "$STORIES" --prompt-ids 1 -n 2 --split "$bad" >/dev/null 2>&1
    [ $? -eq 2 ] || fail "--split $bad accepted"
done
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json --split 2,2 >"$TMP/split" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && [ "$(ids "$TMP/cpu")" = "$(ids "$TMP/split")" ] && ok "--split 2,2: the CPU's tokens" ||
    fail "--split 2,2 (rc=$rc): $(head -c 600 "$TMP/err")"
exit $((fails > 0))
