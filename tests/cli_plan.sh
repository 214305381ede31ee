#!/usr/bin/env bash
# End-to-end: `rightsize plan` on a catalog name, the stories260K GGUF, an HF
# config folder, what-if and detected (fake NVML) GPUs, --gpus all, --json,
# the does-not-fit message, and bad arguments (exit 2). grep and awk only.
set -euo pipefail
bin=${RIGHTSIZE_BIN:?}
data=${RIGHTSIZE_TESTDATA:?}
build=${RIGHTSIZE_BUILD:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache RIGHTSIZE_NVML_LIB=$tmp/none.so
fail() { echo "FAIL: $*" >&2; exit 1; }
narrow() { awk 'length > 80 { print "wide: " $0; exit 1 }' <<<"$1" || fail "a line is wider than 80 columns"; }

# A catalog name on what-if hardware: the model's own precision fits a 4090.
out=$("$bin" plan qwen2.5-7b-instruct --gpu "RTX 4090" --ram 64G)
echo "$out"
narrow "$out"
grep -q "^qwen2.5-7b-instruct (qwen2): 7.62B parameters, stored BF16, 28 layers" <<<"$out" || fail header
grep -q "GPU0 NVIDIA GeForce RTX 4090, 24.0 GiB free (what-if)" <<<"$out" || fail machine
grep -q "^> bf16 \*  *14.19" <<<"$out" || fail "stored row chosen"
grep -q "^  int4 .* GPU " <<<"$out" || fail "int4 row"
grep -q "rule of thumb (params x bytes x 1.2): bf16 \* 17.02 int8 8.51 int4 4.26" <<<"$out" || fail "seed rule"
grep -q "^  GPU0 \[W*K*C*O*\.*-*\]  15.1/24.0 GiB layers 0-27" <<<"$out" || fail "GPU bar"
grep -q "^Decision: BF16 (stored) on GPU0 (all 28 layers), 4096-token context: the" <<<"$out" || fail decision
grep -q "^Predicted: .* tok/s decode, .* tok/s prefill; GPU0 905 GB/s effective" <<<"$out" || fail predicted

# The same model on a 12 GB card: int8; with --prefer speed: int4.
out=$("$bin" plan qwen2.5-7b-instruct --gpu "RTX 3060" --ram 64G)
grep -q "^Decision: int8 on GPU0 (all 28 layers)" <<<"$out" || fail "3060 int8: $out"
out=$("$bin" plan qwen2.5-7b-instruct --gpu "RTX 3060" --ram 64G --prefer speed)
grep -q "^Decision: int4 on GPU0 .* fastest predicted" <<<"$out" || fail "prefer speed"

# A long context on a small card splits layers between GPU and CPU.
out=$("$bin" plan llama-3.1-8b --gpu "RTX 3060" --ram 64G --ctx 32768 --precision int8)
echo "$out" | tail -8
grep -q "^Decision: int8 split: [0-9]* layers on GPU, [0-9]* on CPU, 32768-token" <<<"$out" || fail split

# Nothing fits: the exact shortfall.
out=$("$bin" plan llama-3.1-70b --cpu-only --ram 16G)
grep -q "^Decision: does not fit: needs 38.7 GiB (int4, 4096-token context), this" <<<"$out" ||
    fail "does not fit: $out"
grep -q "has 14.4 GiB available after margins" <<<"$out" || fail "available"

# Forced precision and options.
out=$("$bin" plan qwen2.5-0.5b-instruct --cpu-only --ram 8G --precision int8 --ctx 8k --parallel 2 --kv-type q8_0)
grep -q "8192-token context x 2 sequences, KV Q8_0" <<<"$out" || fail options
grep -q "^Decision: int8 on the CPU, 8192-token context: --precision int8 as asked" <<<"$out" || fail forced

# Beyond the trained context: planned, with a note.
out=$("$bin" plan qwen2.5-0.5b-instruct --cpu-only --ctx 65536)
grep -q "^Note: 65536 tokens is beyond the model's trained context (32768)" <<<"$out" || fail "ctx note"

# The stories260K GGUF and an HF config folder, on this machine.
gguf=$data/models/stories260K/stories260K.gguf
if [ -f "$gguf" ]; then
    out=$("$bin" plan "$gguf")
    echo "$out" | head -12
    narrow "$out"
    grep -q "^Decision: " <<<"$out" || fail "gguf decision"
    grep -q "^> f32 \* " <<<"$out" || fail "gguf stored F32 chosen"
elif [ "${CI:-}" = true ]; then fail "testdata missing under CI: $gguf"; fi
cfg=$data/configs/Qwen--Qwen2.5-7B-Instruct
if [ -d "$cfg" ]; then
    out=$("$bin" plan "$cfg" --gpu "H100" --ctx 32768)
    grep -q "^Decision: BF16 (stored) on GPU0 (all 28 layers), 32768-token" <<<"$out" || fail "config: $out"
fi

# A vocabulary-only GGUF has nothing to plan: exit 2 with the reason.
vocab=$data/vocab-tests/ggml-vocab-llama-spm.gguf
if [ -f "$vocab" ]; then
    set +e
    err=$("$bin" plan "$vocab" 2>&1 >/dev/null); rc=$?
    set -e
    [ $rc = 2 ] || fail "vocab-only GGUF: exit $rc"
    grep -q "no weight tensors to plan" <<<"$err" || fail "vocab-only message: $err"
fi

# Detected GPUs (the fake NVML): free memory, not total, is what counts.
fake=$build/libfake_nvml.so
if [ -f "$fake" ]; then
    out=$(RIGHTSIZE_NVML_LIB=$fake FAKE_NVML_GPUS="NVIDIA GeForce RTX 4090:24564:10000:8.9:384:10501" \
        "$bin" plan qwen2.5-7b-instruct --ram 64G)
    echo "$out" | tail -8
    grep -q "GPU0 NVIDIA GeForce RTX 4090, 9.77 GiB free$" <<<"$out" || fail "detected GPU"
    grep -q "^Decision: int8 on GPU0" <<<"$out" || fail "detected GPU decision"
fi

# A measured CPU bandwidth (hw --measure, cached) replaces the estimate.
out=$("$bin" plan qwen2.5-0.5b-instruct --cpu-only)
grep -q "CPU [0-9]* GB/s effective" <<<"$out" || fail "unmeasured CPU bandwidth"
grep -q "(estimated x 0.8)" <<<"$(tr '\n' ' ' <<<"$out" | tr -s ' ')" || fail "estimated label"
"$bin" hw --measure >/dev/null 2>&1
gbs=$(grep -o '"cpu_bandwidth_gbs":[[:space:]]*[0-9.]*' "$XDG_CACHE_HOME/rightsize/measured.json" | grep -o '[0-9.]*$' || true)
if [ -n "$gbs" ]; then
    out=$("$bin" plan qwen2.5-0.5b-instruct --cpu-only)
    want=$(awk -v g="$gbs" 'BEGIN { printf "%.0f", g * 0.8 }')
    flat=$(tr '\n' ' ' <<<"$out" | tr -s ' ')
    grep -q "CPU $want GB/s effective (measured x 0.8)" <<<"$flat" || fail "measured CPU $gbs: $out"
fi

# Every GPU of the table.
out=$("$bin" plan qwen2.5-7b-instruct --gpus all)
narrow "$out"
grep -q "^NVIDIA GeForce RTX 4090 *24  yes  BF16 " <<<"$out" || fail "gpus all 4090: $out"
grep -q "cards run it" <<<"$out" || fail "gpus all summary"
json=$("$bin" plan qwen2.5-7b-instruct --gpus all --json)
grep -q '"runs":[[:space:]]*true' <<<"$json" || fail "gpus all json"

# Every catalog model fits the 80-column terminal (and wrapped lines end
# without a space): the plan on this machine, on a what-if card with a long
# context (splits), and --gpus all.
while read -r name _; do
    for args in "" "--gpu RTX3060 --ram 64G --ctx 32768" "--gpus all"; do
        # shellcheck disable=SC2086
        "$bin" plan "$name" $args >"$tmp/w" 2>&1 || fail "plan $name $args failed"
        awk -v w="plan $name $args" 'length > 80 { print w ": " length " columns: " $0; bad = 1 }
            / $/ { print w ": trailing space: " $0; bad = 1 }
            END { exit bad }' "$tmp/w" || fail "plan $name $args: wider than 80 columns"
    done
done < <("$bin" inspect --list)

# JSON.
json=$("$bin" plan qwen2.5-7b-instruct --gpu "RTX 4090" --json)
grep -q '"n_params":[[:space:]]*7615616512' <<<"$json" || fail "json n_params"
grep -q '"placement":[[:space:]]*"gpu"' <<<"$json" || fail "json placement"
grep -q '"reason":[[:space:]]*"BF16 (stored) on GPU0' <<<"$json" || fail "json reason"
grep -q '"device":[[:space:]]*"gpu0"' <<<"$json" || fail "json device"
if command -v python3 >/dev/null; then python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$json" || fail "json invalid"; fi

# --train goes to the training planner, not to plan's option parser.
set +e
err=$("$bin" plan qwen2.5-7b-instruct --train lora 2>&1 >/dev/null)
set -e
! grep -q "unknown option" <<<"$err" || fail "--train not dispatched: $err"

# Bad arguments: exit 2 and one line.
for args in "" "qwen2.5-7b-instruct --ctx abc" "qwen2.5-7b-instruct --ctx" \
    "qwen2.5-7b-instruct --kv-type q5_1" "qwen2.5-7b-instruct --precision int3" \
    "qwen2.5-7b-instruct --bogus" "qwen2.5-7b-instruct --gpu RTX4099" \
    "qwen2.5-7b-instruct --ram lots" "qwen2.5-7b-instruct --prefer cheap" \
    "qwen2.5-7b-instruct --gpus some" "no-such-model-anywhere" "a b" \
    "qwen2.5-7b-instruct --gpu H100 --cpu-only"; do
    set +e
    # shellcheck disable=SC2086
    err=$("$bin" plan $args 2>&1 >/dev/null); rc=$?
    set -e
    [ $rc = 2 ] || fail "plan $args: exit $rc"
    [ -n "$args" ] && { [ "$(echo "$err" | wc -l)" = 1 ] || fail "plan $args: not one line: $err"; }
done
echo ok
