#!/usr/bin/env bash
# rightsize inspect end to end: a GGUF model, a vocabulary-only GGUF, every
# testdata config folder, a catalog name, --json, and bad inputs (exit 2,
# one line on stderr).
set -euo pipefail
bin=${RIGHTSIZE_BIN:?}
td=${RIGHTSIZE_TESTDATA:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Every line fits an 80-column terminal.
check_width() {
    awk -v f="$1" 'length($0) > 80 { print f ": line " NR " is " length($0) " columns"; bad = 1 } END { exit bad }' "$2" ||
        fail "$1: wider than 80 columns"
}

# A catalog name: exact counts, the source.
"$bin" inspect llama-3.1-8b >"$tmp/out"
grep -q "parameters     8,030,261,248" "$tmp/out" || fail "llama-3.1-8b params"
grep -q "131,072 bytes per token (f16)" "$tmp/out" || fail "llama-3.1-8b KV"
grep -q "huggingface.co/meta-llama/Llama-3.1-8B" "$tmp/out" || fail "llama-3.1-8b source"
check_width llama-3.1-8b "$tmp/out"
"$bin" inspect qwen3-30b-a3b --json >"$tmp/j"
python3 - "$tmp/j" <<'PY' 2>/dev/null || grep -q '"params_active":[[:space:]]*3353032704' "$tmp/j" || fail "qwen3-30b-a3b json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["params"] == 30532122624 and d["params_active"] == 3353032704, d
assert d["moe"]["experts"] == 128 and d["kv_bytes_per_token"]["f16"] == 98304
PY
# A file inside an HF folder (config.json, a shard) names the folder.
src=${RIGHTSIZE_SOURCE:-.}
"$bin" inspect "$src/tests/fixtures/tiny/qwen3/bf16" >"$tmp/a"
"$bin" inspect "$src/tests/fixtures/tiny/qwen3/bf16/config.json" >"$tmp/b"
"$bin" inspect "$src/tests/fixtures/tiny/qwen3/bf16/model.safetensors" >"$tmp/c"
cmp -s "$tmp/a" "$tmp/b" && cmp -s "$tmp/a" "$tmp/c" || fail "config.json / shard path differ from the folder"
grep -q "files          1," "$tmp/a" || fail "tiny qwen3 folder: files"
"$bin" inspect "$src/tests/fixtures/tiny/qwen3/bf16" --tensors >"$tmp/t"
grep -Eq '^BF16 +64 x 128 .* model.layers.0.self_attn.q_proj.weight$' "$tmp/t" || fail "--tensors q_proj line"
"$bin" inspect --list >"$tmp/list"
[ "$(wc -l <"$tmp/list")" -ge 40 ] || fail "--list has fewer than 40 models"

# Bad inputs: exit 2, exactly one line on stderr.
expect_bad() {
    local what=$1; shift
    set +e
    "$bin" inspect "$@" >"$tmp/o" 2>"$tmp/e"
    local rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
    [ "$(wc -l <"$tmp/e")" -eq 1 ] || { cat "$tmp/e"; fail "$what: stderr is not one line"; }
}
printf 'hello, not a model' >"$tmp/bad.gguf"
expect_bad "junk file" "$tmp/bad.gguf"
grep -q "bad.gguf" "$tmp/e" || fail "junk file: message does not name the file"
expect_bad "missing file" "$tmp/nope.gguf"
expect_bad "unknown name" qwen2.5-7b-instrct
grep -q "did you mean: qwen2.5-7b-instruct" "$tmp/e" || fail "no suggestion"
mkdir "$tmp/folder"
printf '{"model_type": "llama", "hidden_size": "big"}' >"$tmp/folder/config.json"
expect_bad "bad config" "$tmp/folder"
grep -q 'config.json: field "hidden_size"' "$tmp/e" || fail "bad config: message"
expect_bad "no model" 
expect_bad "bad option" llama-3.1-8b --frobnicate

if [ -z "$td" ] || [ ! -d "$td" ]; then
    [ "${CI:-}" = true ] && fail "testdata missing under CI"
    echo "SKIP: testdata not found"; exit 0
fi

"$bin" inspect "$td/models/stories260K/stories260K.gguf" >"$tmp/out"
grep -q "layers         5    hidden 64    FFN 172    vocab 512" "$tmp/out" || fail "stories260K shapes"
grep -q "8 heads, 4 KV heads, head dim 8" "$tmp/out" || fail "stories260K heads"
grep -q "640 bytes per token" "$tmp/out" || fail "stories260K KV"
check_width stories260K "$tmp/out"
"$bin" inspect --json "$td/models/stories260K/stories260K.gguf" >"$tmp/j"
grep -q '"tensors":[[:space:]]*48' "$tmp/j" || fail "stories260K tensors"

"$bin" inspect "$td/vocab-tests/ggml-vocab-llama-spm.gguf" >"$tmp/out"
grep -q "vocab 32000" "$tmp/out" || fail "vocab gguf"
grep -q "vocabulary-only" "$tmp/out" || fail "vocab gguf note"

expect_bad "GGUF v1" "$td/models/legacy-gguf-v1/tinyllamas-stories-260k-f32.gguf"
grep -q "version 1" "$tmp/e" || fail "GGUF v1 message"

n=0
for d in "$td"/configs/*/; do
    "$bin" inspect "$d" >"$tmp/out" || fail "inspect $d"
    check_width "$d" "$tmp/out"
    "$bin" inspect --json "$d" >/dev/null || fail "inspect --json $d"
    n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n config folders"
"$bin" inspect "$td/configs/mistralai--Mixtral-8x7B-v0.1" >"$tmp/out"
grep -q "46,702,792,704" "$tmp/out" || fail "mixtral params"
grep -q "active per token 12,879,925,248" "$tmp/out" || fail "mixtral active"
"$bin" inspect "$td/configs/deepseek-ai--DeepSeek-V3" >"$tmp/out"
grep -q "70,272 bytes per token" "$tmp/out" || fail "deepseek MLA KV"
# A folder with a real tokenizer and chat template: the template's family.
mkdir "$tmp/qwen3"
cp "$td/configs/Qwen--Qwen3-8B/config.json" "$td"/tokenizers/qwen3/* "$tmp/qwen3/"
"$bin" inspect "$tmp/qwen3" >"$tmp/out"
grep -q "tokenizer.json yes, tokenizer_config.json yes; chat template qwen3" "$tmp/out" ||
    fail "qwen3 chat template kind"
echo "cli_inspect: ok ($n config folders)"
