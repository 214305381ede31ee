#!/usr/bin/env bash
# rightsize plan --train: the readable table, --json, the fit answer and
# suggestions, and bad options (exit 2, one line).
set -u
bin=${RIGHTSIZE_BIN:?}
fail=0
check() { # description, command status, pattern, output
    if [ "$2" -ne 0 ] || ! grep -q -- "$3" <<<"$4"; then
        echo "FAIL: $1 (status $2, wanted /$3/)"; echo "$4" | head -20; fail=1
    else
        echo "ok: $1"
    fi
}

out=$("$bin" plan llama-3.1-8b --train lora --gpu "RTX 4090" 2>&1); st=$?
check "LoRA 8B on a 4090 does not fit at seq 2048" $st "does not fit" "$out"
check "checkpointing is suggested and makes it fit" $st "grad-checkpointing .*(fits)" "$out"
check "activations are a named component" $st "activations (saved for backward)" "$out"

out=$("$bin" plan llama-3.1-8b --train lora --gpu "RTX 4090" --grad-checkpointing 2>&1); st=$?
check "with checkpointing it fits" $st "-> fits" "$out"

out=$("$bin" plan qwen2.5-0.5b --train full --seq 1024 --micro-batch 4 --gpu H100 --json 2>&1); st=$?
check "--json has the memory object" $st '"peak_allocated"' "$out"
check "--json says it fits" $st "\"fits\":[[:space:]]*true" "$out"
check "--json has the largest micro-batch" $st '"max_micro_batch"' "$out"

out=$("$bin" plan qwen2.5-7b --train full --gpu "H100x8" --zero 3 2>&1); st=$?
check "ZeRO-3 over 8 H100s" $st "ZeRO stage 3 over 8 GPU" "$out"

out=$("$bin" plan qwen2.5-7b --train dpo 2>&1); st=$?
if [ $st -ne 2 ] || [ "$(wc -l <<<"$out")" -ne 1 ]; then echo "FAIL: --train dpo should exit 2 with one line: $out"; fail=1; else echo "ok: bad method"; fi
out=$("$bin" plan qwen2.5-7b --train lora --lora-targets q,x 2>&1); st=$?
if [ $st -ne 2 ]; then echo "FAIL: bad --lora-targets should exit 2: $out"; fail=1; else echo "ok: bad targets"; fi
out=$("$bin" plan qwen2.5-7b --train lora --seq 0 2>&1); st=$?
if [ $st -ne 2 ]; then echo "FAIL: --seq 0 should exit 2: $out"; fail=1; else echo "ok: bad seq"; fi
# Every readable output fits an 80-column terminal.
for args in "llama-3.1-8b --train lora --gpu RTX4090" "qwen2.5-7b --train full" \
    "llama-3.1-70b --train qlora --gpu H100x8 --zero 3" \
    "deepseek-v3 --train full --gpu H100x8 --zero 3 --offload-optimizer"; do
    # shellcheck disable=SC2086
    wide=$("$bin" plan $args 2>&1 | awk 'length > 80')
    if [ -n "$wide" ]; then echo "FAIL: plan $args: lines over 80 columns:"; echo "$wide"; fail=1; fi
done
exit $fail
