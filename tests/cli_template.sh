#!/usr/bin/env bash
# End-to-end test of `rightsize template`: exact prompts (no newline added)
# from the tokenizer folders in the shared test data, and clear failures.
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
TOK=$TD/tokenizers
if [ ! -d "$TOK/qwen3" ]; then
    if [ "${CI:-}" = true ]; then echo "testdata missing under CI: $TOK" >&2; exit 1; fi
    echo "SKIP: testdata not found: $TOK"; exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# expect_out NAME EXPECTED_BYTES CMD...: stdout must equal the bytes exactly.
expect_out() {
    local name=$1 want=$2; shift 2
    printf '%s' "$want" >"$TMP/want"
    "$@" >"$TMP/got" 2>"$TMP/err"
    local rc=$?
    if [ $rc -ne 0 ] || ! cmp -s "$TMP/got" "$TMP/want"; then
        echo "FAIL $name (rc=$rc)"; echo "--- got:"; od -c "$TMP/got" | head -20
        echo "--- want:"; od -c "$TMP/want" | head -20; cat "$TMP/err"
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

# expect_fail NAME RC PATTERN CMD...: exit status RC and PATTERN on stderr.
expect_fail() {
    local name=$1 want_rc=$2 pat=$3; shift 3
    "$@" >"$TMP/got" 2>"$TMP/err"
    local rc=$?
    if [ $rc -ne "$want_rc" ] || ! grep -q -- "$pat" "$TMP/err"; then
        echo "FAIL $name: rc=$rc (want $want_rc), stderr:"; cat "$TMP/err"
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

NL=$'\n'
expect_out "qwen3 user" \
    "<|im_start|>user${NL}Hello, how are you?<|im_end|>${NL}<|im_start|>assistant${NL}" \
    "$BIN" template "$TOK/qwen3" --user "Hello, how are you?"

expect_out "qwen3 system, history with reasoning, thinking off" \
    "<|im_start|>system${NL}Be brief.<|im_end|>${NL}<|im_start|>user${NL}Hi<|im_end|>${NL}<|im_start|>assistant${NL}Hello!<|im_end|>${NL}<|im_start|>user${NL}Again<|im_end|>${NL}<|im_start|>assistant${NL}<think>${NL}${NL}</think>${NL}${NL}" \
    "$BIN" template "$TOK/qwen3" --system "Be brief." --user Hi --assistant "<think>hmm</think>Hello!" \
    --user Again --think off

expect_out "qwen3 no generation prompt" \
    "<|im_start|>user${NL}Hi<|im_end|>${NL}<|im_start|>assistant${NL}<think>${NL}${NL}</think>${NL}${NL}Hello!<|im_end|>${NL}" \
    "$BIN" template "$TOK/qwen3" --user Hi --assistant "Hello!" --no-generation-prompt

# Llama 3: bos from tokenizer_config.json, content trimmed.
expect_out "llama3 system user" \
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>${NL}${NL}You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>${NL}${NL}Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>${NL}${NL}" \
    "$BIN" template "$TOK/llama3" --system "You are a helpful assistant." --user "  Hello, how are you? "

# A .jinja file given directly: Qwen2.5 inserts its default system prompt.
Q25=$TD/chat-templates/llama.cpp-models-templates/Qwen-Qwen2.5-7B-Instruct.jinja
expect_out "qwen2.5 jinja default system" \
    "<|im_start|>system${NL}You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>${NL}<|im_start|>user${NL}Hi<|im_end|>${NL}<|im_start|>assistant${NL}" \
    "$BIN" template "$Q25" --user Hi

# Mistral v0.1's folder has no template: a clear message and exit 2, unless
# --chat-template names one (bos comes from the folder).
expect_fail "mistral without template" 2 "has no chat template; pass --chat-template" \
    "$BIN" template "$TOK/mistral-7b-v0.1" --user Hi
expect_out "mistral with --chat-template" "<s>[INST] Hi [/INST]" \
    "$BIN" template "$TOK/mistral-7b-v0.1" --user Hi --chat-template mistral-v0
expect_out "--chat-template FILE" \
    "<|im_start|>system${NL}You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>${NL}<|im_start|>user${NL}Hi<|im_end|>${NL}<|im_start|>assistant${NL}" \
    "$BIN" template "$TOK/mistral-7b-v0.1" --user Hi --chat-template "$Q25"

# ollama's rendering for users migrating from ollama: --chat-template
# llama2-ollama (alias: ollama's name llama2-chat) prints ollama's expected
# prompt byte for byte, after the bos the folder names (ollama's tokenizer
# adds BOS; its expected prompts omit it).
OLL=$TD/chat-templates/ollama-template-testdata/llama2-chat.gotmpl/system-user-assistant-user
if [ -f "$OLL" ]; then
    for name in llama2-ollama llama2-chat; do
        expect_out "--chat-template $name = ollama's prompt" "<s>$(cat "$OLL")" \
            "$BIN" template "$TOK/mistral-7b-v0.1" --chat-template "$name" \
            --system "You are a helpful assistant." --user "Hello, how are you?" \
            --assistant "I'm doing great. How can I help you today?" \
            --user "I'd like to show off how chat templating works!"
    done
fi

# Unknown templates are refused with a warning, never rendered as a guess.
printf '%s' '{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}' >"$TMP/odd.jinja"
expect_fail "unknown template" 2 "warning: the chat template" "$BIN" template "$TMP/odd.jinja" --user Hi
expect_out "unknown template overridden" "USER: Hi${NL}ASSISTANT:" \
    "$BIN" template "$TMP/odd.jinja" --user Hi --chat-template vicuna
expect_fail "unknown family name" 2 "neither a known family" \
    "$BIN" template "$TOK/qwen3" --user Hi --chat-template no-such-family
expect_fail "no messages" 2 "at least one message" "$BIN" template "$TOK/qwen3"
expect_fail "bad --think" 2 "on or off" "$BIN" template "$TOK/qwen3" --user Hi --think maybe
expect_fail "missing model" 2 "no such file" "$BIN" template "$TMP/nothing" --user Hi
expect_fail "roles must alternate" 2 "alternate" \
    "$BIN" template "$TOK/mistral-7b-v0.1" --user A --user B --chat-template llama2
GGUF=$TD/models/stories260K/stories260K.gguf
if [ -f "$GGUF" ]; then
    expect_fail "gguf without template" 2 "has no chat template" "$BIN" template "$GGUF" --user Hi
fi

# llama.cpp's Phi-3 vocabulary GGUF carries Phi-3 mini's template, which
# drops system messages: rendered as the template does, with a warning.
PHI3=$TD/vocab-tests/ggml-vocab-phi-3.gguf
if [ -f "$PHI3" ]; then
    expect_out "gguf template (phi3-mini)" "<s><|user|>${NL}Hi<|end|>${NL}<|assistant|>${NL}" \
        "$BIN" template "$PHI3" --system "Be brief." --user Hi
    if grep -q "drops system messages" "$TMP/err"; then echo "ok   phi3-mini system warning"; else
        echo "FAIL phi3-mini system warning"; cat "$TMP/err"; fails=$((fails + 1)); fi
fi

# --json carries the prompt and where it came from.
"$BIN" template "$TOK/qwen3" --user Hi --think on --json >"$TMP/json" 2>&1
if grep -q '"family":[[:space:]]*"qwen3"' "$TMP/json" && grep -q '"enable_thinking":[[:space:]]*true' "$TMP/json" &&
    grep -q '"prompt":[[:space:]]*"<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n"' "$TMP/json"; then
    echo "ok   json"
else
    echo "FAIL json"; cat "$TMP/json"; fails=$((fails + 1))
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all template CLI checks passed"
