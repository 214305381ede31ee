#!/usr/bin/env bash
# End-to-end test of `rightsize run`: stories260K continues its story
# greedily, stdout holds only the generated text (or one JSON object), the
# prompt comes from -p or stdin, and bad input exits 2 with a clear line.
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
SRC=${RIGHTSIZE_SOURCE:-.}
STORIES=$TD/models/stories260K/stories260K.gguf
if [ ! -f "$STORIES" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $STORIES" >&2; exit 1; fi
    echo "SKIP: testdata not found: $STORIES"; exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; echo "--- stdout:"; head -c 2000 "$TMP/out"; echo "--- stderr:"; head -c 2000 "$TMP/err"; fails=$((fails + 1)); }

# Greedy from a text prompt: the known story, and nothing else on stdout.
"$BIN" run "$STORIES" -p "Once upon a time" -n 24 --temp 0 >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^, there was a little girl named Lily" "$TMP/out" &&
    ! grep -q "tok/s" "$TMP/out" && grep -q "tok/s" "$TMP/err"; then ok "greedy text"; else bad "greedy text (rc=$rc)"; fi

# The same prompt from stdin (echo's newline is dropped) gives the same text.
echo "Once upon a time" | "$BIN" run "$STORIES" -n 24 >"$TMP/out2" 2>"$TMP/err"
if cmp -s "$TMP/out" "$TMP/out2"; then ok "prompt from stdin"; else cp "$TMP/out2" "$TMP/out"; bad "prompt from stdin"; fi

# Token ids in, JSON out: greedy from BOS gives llama.cpp's ids.
"$BIN" run "$STORIES" --prompt-ids 1 -n 12 --json >"$TMP/out" 2>"$TMP/err"
if grep -q '"ids":\[403,407,261,378,432,383,286,261,376,298,315,421\]' "$TMP/out" &&
    [ "$(wc -l <"$TMP/out")" -eq 1 ]; then ok "json ids"; else bad "json ids"; fi

# A stop string ends the text before it (held back while it might start).
"$BIN" run "$STORIES" -p "Once upon a time" -n 40 --stop "Lily" >"$TMP/out" 2>"$TMP/err"
if [ "$(cat "$TMP/out")" = ", there was a little girl named " ] && grep -q "(stop)" "$TMP/err"; then
    ok "stop string"; else bad "stop string"; fi

# Sampling with a seed is repeatable; another seed may differ but runs.
"$BIN" run "$STORIES" -p "Once upon a time" -n 16 --temp 0.9 --top-k 40 --top-p 0.95 --min-p 0.05 \
    --repeat-penalty 1.1 --seed 7 >"$TMP/a" 2>/dev/null
"$BIN" run "$STORIES" -p "Once upon a time" -n 16 --temp 0.9 --top-k 40 --top-p 0.95 --min-p 0.05 \
    --repeat-penalty 1.1 --seed 7 >"$TMP/b" 2>/dev/null
if [ -s "$TMP/a" ] && cmp -s "$TMP/a" "$TMP/b"; then ok "seeded sampling"; else cp "$TMP/a" "$TMP/out"; bad "seeded sampling"; fi

# Quantized on load, q8_0 cache: still runs (the model has head_dim 8, so a
# q8_0 cache is refused with a reason).
"$BIN" run "$STORIES" -p "Once upon a time" -n 8 --precision int8 >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 0 ] && [ -s "$TMP/out" ]; then ok "int8 on load"; else bad "int8 on load"; fi
"$BIN" run "$STORIES" -p "Once" -n 4 --kv-type q8_0 >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 2 ] && grep -q "head_dim" "$TMP/err"; then ok "q8_0 cache refused for head_dim 8"; else bad "q8_0 cache refused"; fi

# A tiny HF model without a tokenizer runs from ids, and fails clearly from text.
TINY=$SRC/tests/fixtures/tiny/qwen3/f32
"$BIN" run "$TINY" --prompt-ids 1,17,42 -n 4 --kv-type q8_0 >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 0 ] && grep -Eq '^[0-9]+( [0-9]+){3}$' "$TMP/out"; then ok "ids without tokenizer"; else bad "ids without tokenizer"; fi
"$BIN" run "$TINY" -p "hello" -n 4 >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 2 ] && grep -q "tokenizer" "$TMP/err"; then ok "text without tokenizer"; else bad "text without tokenizer"; fi

# Bad input: exit 2 and one line naming the problem.
expect2() {
    local name=$1 pat=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$pat" "$TMP/err" && [ ! -s "$TMP/out" ]; then ok "$name"; else bad "$name (rc=$rc)"; fi
}
expect2 "missing model" "no such" "$BIN" run "$TMP/nope.gguf" -p hi
expect2 "unknown option" "unknown option" "$BIN" run "$STORIES" --frobnicate
expect2 "bad -n" "bad or missing value" "$BIN" run "$STORIES" -n many
expect2 "bad precision" "precision" "$BIN" run "$STORIES" -p hi --precision int3
expect2 "no template" "no chat template" "$BIN" run "$STORIES" -p hi --chat
expect2 "id out of range" "outside the vocabulary" "$BIN" run "$STORIES" --prompt-ids 1,99999 -n 2
head -c 3000 "$STORIES" >"$TMP/cut.gguf"
expect2 "truncated file" "cut.gguf" "$BIN" run "$TMP/cut.gguf" --prompt-ids 1 -n 2

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all ok"
