#!/usr/bin/env bash
# End-to-end test of `rightsize tokenize`: HF folders, tokenizer.json paths,
# GGUF files, stdin, output modes, special-token flags, and clear failures.
# Expected ids come from HF tokenizers / llama.cpp's vectors (see tests/fixtures/tok).
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
if [ ! -d "$TD/tokenizers/qwen3" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $TD" >&2; exit 1; fi
    echo "SKIP: testdata not found: $TD"; exit 0
fi
fails=0
check() { # NAME WANT GOT
    if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want [$2] got [$3]"; fails=$((fails + 1)); fi
}

Q=$TD/tokenizers/qwen3
check "qwen3 folder ids" "9707 1879 11 220 108386 6313 220 151645" \
    "$("$BIN" tokenize "$Q" 'Hello world, 你好！ <|im_end|>' --ids)"
check "qwen3 tokenizer.json path" "9707 1879" "$("$BIN" tokenize "$Q/tokenizer.json" 'Hello world' --ids)"
check "qwen3 stdin" "9707 1879" "$(printf 'Hello world' | "$BIN" tokenize "$Q" - --ids)"
check "qwen3 no-parse-special" "27 91 318 6213 91 29" \
    "$("$BIN" tokenize "$Q" '<|im_end|>' --ids --no-parse-special)"
check "qwen3 json" '{"ids": [9707, 1879], "pieces": ["Hello", " world"]}' \
    "$("$BIN" tokenize "$Q" 'Hello world' --json)"
check "qwen3 default output" "$(printf '9707\tHello\n1879\t world')" "$("$BIN" tokenize "$Q" 'Hello world')"
check "qwen3 pieces newline escaped" 'a
\n' "$("$BIN" tokenize "$Q" 'a
' --pieces)"
# Qwen3 adds no BOS; Mistral adds <s> (1) with --add-special only.
check "qwen3 add-special" "9707" "$("$BIN" tokenize "$Q" 'Hello' --ids --add-special)"
M=$TD/tokenizers/mistral-7b-v0.1
check "mistral plain" "22557" "$("$BIN" tokenize "$M" 'Hello' --ids)"
check "mistral add-special" "1 22557" "$("$BIN" tokenize "$M" 'Hello' --ids --add-special)"
# GGUF: llama.cpp's Llama 2 (SPM) and GPT-2 vocabularies (their vectors for "Hello world").
check "llama-spm gguf" "15043 3186" "$("$BIN" tokenize "$TD/vocab-tests/ggml-vocab-llama-spm.gguf" 'Hello world' --ids)"
check "gpt-2 gguf" "15496 995" "$("$BIN" tokenize "$TD/vocab-tests/ggml-vocab-gpt-2.gguf" 'Hello world' --ids)"
check "stories260K gguf add-special" "1 $("$BIN" tokenize "$TD/models/stories260K/stories260K.gguf" 'Once upon a time' --ids)" \
    "$("$BIN" tokenize "$TD/models/stories260K/stories260K.gguf" 'Once upon a time' --ids --add-special)"

# Failures: exit 2 and a message naming the path.
out=$("$BIN" tokenize /nonexistent/model 'x' 2>&1); rc=$?
check "missing model exit" "2" "$rc"
case $out in *"/nonexistent/model"*) echo "ok   missing model message" ;; *) echo "FAIL message: $out"; fails=$((fails + 1)) ;; esac
"$BIN" tokenize "$Q" 2>/dev/null; check "missing text exit" "2" "$?"
"$BIN" tokenize "$Q" x --frobnicate 2>/dev/null; check "bad option exit" "2" "$?"
"$BIN" tokenize "$TD/vocab-tests/ggml-vocab-gpt-2.gguf.inp" x 2>/dev/null; check "not a gguf exit" "2" "$?"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
