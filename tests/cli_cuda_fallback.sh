#!/usr/bin/env bash
# One binary for machines with and without a GPU: `run --device cuda` where
# no CUDA library or driver is usable (CI, this workplace's build machine)
# prints one note on stderr and gives the CPU's tokens. Bad device names
# exit 2. On a machine with a GPU the note is absent and the test only
# checks that both runs agree.
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
STORIES=$TD/models/stories260K/stories260K.gguf
if [ ! -f "$STORIES" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $STORIES" >&2; exit 1; fi
    echo "SKIP: testdata not found: $STORIES"; exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; echo "--- stderr:"; head -c 2000 "$TMP/err"; fails=$((fails + 1)); }

"$BIN" run "$STORIES" --prompt-ids 1 -n 12 --json >"$TMP/cpu" 2>/dev/null
"$BIN" run "$STORIES" --prompt-ids 1 -n 12 --json --device cuda >"$TMP/gpu" 2>"$TMP/err"
rc=$?
ids() { grep -o '"ids":\[[0-9,]*\]' "$1"; }
if [ $rc -eq 0 ] && [ -n "$(ids "$TMP/cpu")" ] && [ "$(ids "$TMP/cpu")" = "$(ids "$TMP/gpu")" ]; then
    ok "--device cuda gives the CPU's tokens"
else
    bad "--device cuda (rc=$rc)"
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "skip note check: a GPU is present"
elif [ "$(grep -c "running on the CPU" "$TMP/err")" -eq 1 ]; then
    ok "one-line note without a GPU"
else
    bad "note without a GPU"
fi

"$BIN" run "$STORIES" --prompt-ids 1 -n 2 --device tpu >/dev/null 2>"$TMP/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'device "tpu"' "$TMP/err"; then ok "bad device name"; else bad "bad device name (rc=$rc)"; fi

"$BIN" run "$STORIES" --prompt-ids 1 -n 2 --device cuda --gpu-layers 0 >/dev/null 2>"$TMP/err"
if [ $? -eq 0 ] && ! grep -q "running on the CPU" "$TMP/err"; then ok "--gpu-layers 0 is the CPU"; else bad "--gpu-layers 0"; fi
exit $((fails > 0))
