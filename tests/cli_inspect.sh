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

# Every vocabulary-only GGUF: token count, tokenizer model and architecture
# as the files state them (counted with the gguf Python package: len of
# tokenizer.ggml.tokens), no tensors, and a KV figure that agrees with the
# printed shapes (layers x KV heads x head dim x K and V x 2 bytes).
while read -r f n tm arch; do
    p=$td/vocab-tests/$f
    [ -f "$p" ] || fail "missing $p"
    "$bin" inspect "$p" >"$tmp/out" || fail "inspect $f"
    check_width "$f" "$tmp/out"
    grep -q "vocab $n\$" "$tmp/out" || fail "$f: vocab $n"
    grep -q "GGUF metadata ($tm, $n tokens)" "$tmp/out" || fail "$f: tokenizer $tm"
    grep -q "^architecture   $arch\b" "$tmp/out" || fail "$f: architecture $arch"
    grep -q "^parameters     0 (0)$" "$tmp/out" || fail "$f: parameters"
    grep -q "vocabulary-only GGUF: no tensors" "$tmp/out" || fail "$f: note"
    awk '/^layers/ { l = $2 } /^attention/ { kv = $4; for (i = 1; i < NF; i++) if ($i == "dim") hd = $(i + 1) + 0 }
         /^KV cache/ { gsub(/,/, "", $3); got = $3 }
         END { want = l * kv * hd * 4; if (got != want) { print "KV " got " != " want; exit 1 } }' \
        "$tmp/out" || fail "$f: KV bytes per token"
done <<'EOF'
ggml-vocab-baichuan.gguf 64000 llama baichuan
ggml-vocab-bert-bge.gguf 30522 bert bert
ggml-vocab-deepseek-coder.gguf 32256 gpt2 llama
ggml-vocab-deepseek-llm.gguf 102400 gpt2 llama
ggml-vocab-falcon.gguf 65024 gpt2 falcon
ggml-vocab-gpt-2.gguf 50257 gpt2 gpt2
ggml-vocab-gpt-neox.gguf 50432 gpt2 gptneox
ggml-vocab-llama-spm.gguf 32000 llama llama
ggml-vocab-mpt.gguf 50432 gpt2 mpt
ggml-vocab-phi-3.gguf 32064 llama phi3
ggml-vocab-refact.gguf 49216 gpt2 refact
ggml-vocab-starcoder.gguf 49152 gpt2 starcoder2
EOF
[ "$(ls "$td"/vocab-tests/*.gguf | wc -l)" -eq 12 ] || fail "vocab-tests: a GGUF not in the table above"

expect_bad "GGUF v1" "$td/models/legacy-gguf-v1/tinyllamas-stories-260k-f32.gguf"
grep -q "version 1" "$tmp/e" || fail "GGUF v1 message"

# Every config folder: the printed parameter count, active parameters and
# KV bytes per token equal the hand-worked figures of tests/test_arch.c
# (embedding, attention, norms, MLP or experts, head; layers x KV heads x
# head dim x 2 x 2 bytes; DeepSeek's MLA latent 576 x 2 bytes x 61 layers).
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
n=0
while read -r dir params active kv; do
    d=$td/configs/$dir
    "$bin" inspect "$d" >"$tmp/out" || fail "inspect $d"
    check_width "$d" "$tmp/out"
    "$bin" inspect --json "$d" >/dev/null || fail "inspect --json $d"
    grep -q "^parameters     $(commas "$params") " "$tmp/out" || fail "$dir: parameters $params"
    if [ "$active" != "$params" ]; then
        grep -q "active per token $(commas "$active") " "$tmp/out" || fail "$dir: active $active"
    fi
    grep -q "^KV cache       $(commas "$kv") bytes per token (f16)" "$tmp/out" || fail "$dir: KV $kv"
    n=$((n + 1))
done <<'EOF'
Qwen--Qwen2.5-14B 14770033664 14770033664 196608
Qwen--Qwen2.5-32B 32763876352 32763876352 262144
Qwen--Qwen2.5-32B-Instruct 32763876352 32763876352 262144
Qwen--Qwen2.5-3B 3085938688 3085938688 36864
Qwen--Qwen2.5-7B 7615616512 7615616512 57344
Qwen--Qwen2.5-7B-Instruct 7615616512 7615616512 57344
Qwen--Qwen3-14B 14768307200 14768307200 163840
Qwen--Qwen3-30B-A3B 30532122624 3353032704 98304
Qwen--Qwen3-32B 32762123264 32762123264 262144
Qwen--Qwen3-4B 4022468096 4022468096 147456
Qwen--Qwen3-8B 8190735360 8190735360 147456
meta-llama--Llama-3.1-70B-Instruct 70553706496 70553706496 327680
meta-llama--Llama-3.1-8B 8030261248 8030261248 131072
meta-llama--Llama-3.1-8B-Instruct 8030261248 8030261248 131072
meta-llama--Llama-3.2-1B-Instruct 1235814400 1235814400 32768
meta-llama--Llama-3.2-3B 3212749824 3212749824 114688
meta-llama--Llama-3.2-3B-Instruct 3212749824 3212749824 114688
mistralai--Mistral-7B-Instruct-v0.3 7248023552 7248023552 131072
mistralai--Mixtral-8x7B-v0.1 46702792704 12879925248 131072
tt-metal--qwen3-0.6b-base-think-sft 596049920 596049920 114688
deepseek-ai--DeepSeek-V3 684489845504 37552297472 70272
EOF
[ "$n" -eq "$(ls -d "$td"/configs/*/ | wc -l)" ] || fail "a config folder is not in the table above"
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
