#!/usr/bin/env bash
# Several GPUs (issue 6): `plan` keeps a model that fits one card on it and
# spreads one that does not over all cards (consecutive ranges, proportional
# to memory); `run --device cuda` loads the plan's layout (one card, or
# --split over several) from two fake NVML GPUs. Without a CUDA driver the
# engine then runs on the CPU with its note, so the tokens are the CPU's.
# grep and awk only.
set -u
BIN=${RIGHTSIZE_BIN:?}
BUILD=${RIGHTSIZE_BUILD:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
STORIES=$TD/models/stories260K/stories260K.gguf
fails=0
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
ok() { echo "ok   $1"; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unset RIGHTSIZE_NVML_LIB FAKE_NVML_GPUS

# 70B bf16: two H100s hold it, 40 blocks each; one H100 takes int8.
out=$("$BIN" plan Llama-3.1-70B --gpu H100x2 --ram 64G)
grep -q "^Decision: BF16 (stored) on 2 GPUs (40+40 of 80 layers)" <<<"$out" &&
    grep -q "^  GPU0 \[.*\]  67.2/80.0 GiB layers 0-39$" <<<"$out" &&
    grep -q "^  GPU1 \[.*\]  67.2/80.0 GiB layers 40-79$" <<<"$out" &&
    grep -q "^> bf16 \* .* GPUx2 " <<<"$out" && grep -q "1 hop between devices" <<<"$out" &&
    ok "70B bf16 over two H100s" || fail "70B on H100x2: $out"
out=$("$BIN" plan Llama-3.1-70B --gpu H100 --ram 64G)
grep -q "^Decision: int8 on GPU0 (all 80 layers)" <<<"$out" && ok "70B on one H100: int8" ||
    fail "70B on H100: $(grep -A1 Decision <<<"$out")"
# A 7B fits one card: the other idles.
out=$("$BIN" plan qwen2.5-7b-instruct --gpu H100x2 --ram 64G)
grep -q "^Decision: BF16 (stored) on GPU0 (all 28 layers)" <<<"$out" && grep -q "^  idle: GPU1$" <<<"$out" &&
    ok "7B stays on one of two cards" || fail "7B on H100x2: $out"
out=$("$BIN" plan qwen2.5-7b-instruct --gpu "RTX 3090,H100" --ram 64G)
grep -q "on GPU1 (all 28 layers)" <<<"$out" && ok "7B on the bigger card" || fail "7B on 3090,H100: $out"
# Unequal cards: the 3090 first takes the smaller share.
json=$("$BIN" plan Llama-3.1-70B --gpu "RTX 3090,H100" --ram 64G --ctx 32k --precision int8 --json)
split=$(tr -d ' \t\n' <<<"$json" | grep -o '"gpu_split":\[[0-9,]*\]' | grep -o '[0-9,]*\]' | tr -d ']')
a=${split%,*} b=${split#*,}
[ -n "$split" ] && [ "$a" != "$split" ] && [ $((a + b)) -eq 80 ] && [ "$a" -lt 25 ] &&
    ok "3090 + H100: $a + $b blocks" || fail "3090,H100 split: '$split'"
tr -d ' \t\n' <<<"$json" | grep -q '"gpus":\[0,1\]' || fail "decision.gpus"
# GPUs and the CPU: the GPUs' blocks first.
out=$("$BIN" plan Llama-3.1-70B --gpu "RTX 4090x2" --ram 64G --ctx 32k)
grep -q "^Decision: int4 split: [0-9]*+[0-9]* layers on 2 GPUs, [0-9]* on CPU" <<<"$out" &&
    grep -q "^  GPU0 .* layers 0-" <<<"$out" && grep -q "^  RAM .* layers [0-9]*-79$" <<<"$out" &&
    ok "70B int4 over two 4090s and the CPU" || fail "4090x2 split: $out"

# Every catalog model fits 80 columns on several (mixed) cards.
while read -r name _; do
    for gpus in "H100x2" "RTX 4090,RTX 3060,RTX 3090"; do
        "$BIN" plan "$name" --gpu "$gpus" --ram 64G --ctx 65536 >"$TMP/w" 2>&1 ||
            fail "plan $name --gpu $gpus failed"
        awk -v w="plan $name --gpu $gpus" 'length > 80 { print w ": " length " columns: " $0; bad = 1 }
            / $/ { print w ": trailing space: " $0; bad = 1 }
            END { exit bad }' "$TMP/w" || fail "plan $name --gpu $gpus: wider than 80 columns"
    done
done < <("$BIN" inspect --list)

fake=$BUILD/libfake_nvml.so
[ -f "$fake" ] || { echo "SKIP: no fake NVML"; exit $((fails > 0)); }
if [ ! -f "$STORIES" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $STORIES" >&2; exit 1; fi
    echo "SKIP: testdata not found: $STORIES"; exit $((fails > 0))
fi
H100="NVIDIA H100 80GB HBM3:81559:81000:9.0:5120:2619"
export RIGHTSIZE_NVML_LIB=$fake FAKE_NVML_GPUS="$H100;$H100"
ids() { grep -o '"ids":\[[0-9,]*\]' "$1"; }
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json >"$TMP/cpu" 2>/dev/null
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json --device cuda >"$TMP/one" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && grep -q "loading stored with every block on the GPU (cuda:0)" "$TMP/err" &&
    [ -n "$(ids "$TMP/cpu")" ] && [ "$(ids "$TMP/cpu")" = "$(ids "$TMP/one")" ] &&
    ok "run --device cuda: planned on one of two GPUs" || fail "run one GPU (rc=$rc): $(cat "$TMP/err")"
# Cap each card just under what the whole model needs on one (9-token
# context: prompt + 8): the plan spreads it over both.
gpu_total() { awk '/"device":.*"gpu0"/ { f = 1 } f && /"total"/ { gsub(/[^0-9]/, ""); print; exit }'; }
one=$("$BIN" plan "$STORIES" --ctx 9 --json | gpu_total)
cap=$((one + 268435456 - 100000)) # the 256 MiB margin floor on top
"$BIN" run "$STORIES" --prompt-ids 1 -n 8 --json --device cuda --gpu-mem "$cap" >"$TMP/two" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && grep -q "on 2 GPUs (3+2 of 5 layers)" "$TMP/err" &&
    grep -q "loading stored with 3+2 blocks on GPUs 0-1 (as --split 3,2)" "$TMP/err" &&
    [ "$(ids "$TMP/cpu")" = "$(ids "$TMP/two")" ] &&
    ok "run --device cuda --gpu-mem: spread over two GPUs" || fail "run two GPUs (rc=$rc): $(cat "$TMP/err")"
# --device cuda:1 plans from GPU 1 on: one card left.
"$BIN" run "$STORIES" --prompt-ids 1 -n 2 --device cuda:1 --gpu-mem "$cap" >/dev/null 2>"$TMP/err"
grep -q "on GPU1 (all 5 layers)" "$TMP/err" && grep -q "every block on the GPU (cuda:1)" "$TMP/err" &&
    ok "--device cuda:1: GPU 1 alone" || fail "cuda:1: $(cat "$TMP/err")"
# An explicit --split or --gpu-layers is the user's: no plan placement.
"$BIN" run "$STORIES" --prompt-ids 1 -n 2 --device cuda --split 2,2 >/dev/null 2>"$TMP/err"
[ $? -eq 0 ] && ! grep -q "loading" "$TMP/err" && ok "--split overrides" || fail "--split: $(cat "$TMP/err")"
# chat and bench take the same decision.
one=$("$BIN" plan "$STORIES" --ctx 20 --json | gpu_total) # bench: prompt 16 + 4
cap=$((one + 268435456 - 100000))
XDG_CACHE_HOME=$TMP "$BIN" bench "$STORIES" --prompt 16 --gen 4 --device cuda --gpu-mem "$cap" \
    --json >"$TMP/b" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && grep -q "loading stored with 3+2 blocks on GPUs 0-1" "$TMP/err" &&
    ok "bench --device cuda --gpu-mem: spread" || fail "bench (rc=$rc): $(head -c 800 "$TMP/err")"
exit $((fails > 0))
