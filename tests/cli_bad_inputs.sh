#!/usr/bin/env bash
# Malformed model files through the CLI: `rightsize inspect` and `rightsize
# plan` must each print ONE line on stderr naming the file and the field at
# fault, exit with status 2, and not crash (under the ASan build too, where
# this test also runs). The files are made here: the stories260K GGUF cut
# short or with one field overwritten (positions found from the tensor names
# in the file, not hard-coded), and small safetensors files and config.json
# written by hand into copies of the tiny Qwen3 fixture folder.
# VERBOSE=1 prints every message; KEEP_GOING=1 reports every failure.
set -euo pipefail
bin=${RIGHTSIZE_BIN:?}
src=${RIGHTSIZE_SOURCE:?}
td=${RIGHTSIZE_TESTDATA:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache RIGHTSIZE_NVML_LIB=$tmp/none.so
fail() { echo "FAIL: $*" >&2; [ -n "${KEEP_GOING:-}" ] || exit 1; }
n_cases=0

# expect_bad WHAT PATH NAMED FIELD...: both commands on PATH exit 2 with one
# line on stderr that contains NAMED (the file) and every FIELD fragment.
expect_bad() {
    local what=$1 path=$2 named=$3
    shift 3
    local cmd rc
    for cmd in inspect plan; do
        set +e
        "$bin" "$cmd" "$path" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        set -e
        [ -z "${VERBOSE:-}" ] || echo "$cmd $what: $(head -c 300 "$tmp/err")"
        [ "$rc" -eq 2 ] || { cat "$tmp/err" >&2; fail "$cmd $what: exit $rc, want 2"; }
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err" >&2; fail "$cmd $what: stderr is not one line"; }
        grep -qF -- "$named" "$tmp/err" || fail "$cmd $what: message does not name $named: $(cat "$tmp/err")"
        local f
        for f in "$@"; do
            grep -qiF -- "$f" "$tmp/err" || fail "$cmd $what: message lacks \"$f\": $(cat "$tmp/err")"
        done
    done
    n_cases=$((n_cases + 1))
}

# put FILE POS HEX: overwrite bytes at POS with the hex string ("ff00...").
put() {
    printf "$(sed 's/../\\x&/g' <<<"$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# le64 V / le32 V: V as little-endian hex (V below 2^63).
le64() { printf '%016x' "$1" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "%s", $i }'; }
le32() { printf '%08x' "$1" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "%s", $i }'; }
# u32/u64 at POS of FILE, decimal.
u32_at() { od -A n -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
u64_at() { od -A n -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }

# ---- Hand-made safetensors in an HF folder (the tiny Qwen3 config) ---------

cfg=$src/tests/fixtures/tiny/qwen3/bf16/config.json
[ -f "$cfg" ] || fail "fixture missing: $cfg"
# st_folder NAME HEADER [DATA_BYTES]: a folder NAME holding the config and a
# model.safetensors whose header is HEADER, followed by DATA_BYTES zero bytes.
st_folder() {
    local d=$tmp/$1
    mkdir -p "$d"
    cp "$cfg" "$d/config.json"
    printf '%s' "$2" >"$d/h"
    local n
    n=$(wc -c <"$d/h")
    printf "$(le64 "$n" | sed 's/../\\x&/g')" >"$d/model.safetensors"
    cat "$d/h" >>"$d/model.safetensors"
    head -c "${3:-0}" /dev/zero >>"$d/model.safetensors"
    rm "$d/h"
    echo "$d"
}

d=$(st_folder st_short '')
head -c 5 "$d/model.safetensors" >"$d/x" && mv "$d/x" "$d/model.safetensors"
expect_bad "safetensors shorter than its length prefix" "$d" model.safetensors "header"

d=$(st_folder st_len_past_end '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 4)
put "$d/model.safetensors" 0 "$(le64 1000000)"
expect_bad "header length past the end" "$d" model.safetensors "header" "1000000"

d=$(st_folder st_len_absurd '{}')
put "$d/model.safetensors" 0 "ffffffffffffff7f"
expect_bad "absurd header length" "$d" model.safetensors "header"

d=$(st_folder st_bad_json '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]' 4)
expect_bad "header is not JSON" "$d" model.safetensors "JSON"

d=$(st_folder st_outside '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' 8)
expect_bad "data offsets past the end" "$d" model.safetensors 'tensor "a"' "offsets"

d=$(st_folder st_overlap '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12)
expect_bad "overlapping tensors" "$d" model.safetensors "overlaps"

d=$(st_folder st_shape_bytes '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}' 8)
expect_bad "shape disagrees with byte size" "$d" model.safetensors 'tensor "a"' "shape"

d=$(st_folder st_shape_overflow '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}' 8)
expect_bad "shape overflows" "$d" model.safetensors 'tensor "a"'

d=$(st_folder st_bad_dtype '{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}' 4)
expect_bad "unknown dtype" "$d" model.safetensors 'tensor "a"' "dtype"

d=$(st_folder st_non_utf8 "$(printf '{"a\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')" 4)
expect_bad "non-UTF-8 tensor name" "$d" model.safetensors "UTF-8"

# ---- config.json -----------------------------------------------------------

mk_config() {
    local d=$tmp/$1
    mkdir -p "$d"
    printf '%s' "$2" >"$d/config.json"
    echo "$d"
}
d=$(mk_config cfg_not_json '{"model_type": "llama", "hidden_size": 64,')
expect_bad "config.json is not JSON" "$d" config.json "JSON"
d=$(mk_config cfg_not_object '[1, 2, 3]')
expect_bad "config.json is not an object" "$d" config.json
d=$(mk_config cfg_layers_absurd '{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1000000000000, "num_attention_heads": 8, "intermediate_size": 128, "vocab_size": 100}')
expect_bad "absurd layer count" "$d" config.json "num_hidden_layers"
d=$(mk_config cfg_negative '{"model_type": "llama", "hidden_size": -64, "num_hidden_layers": 2, "num_attention_heads": 8, "intermediate_size": 128, "vocab_size": 100}')
expect_bad "negative hidden size" "$d" config.json "hidden_size"
d=$(mk_config cfg_heads_split '{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 3, "intermediate_size": 128, "vocab_size": 100}')
expect_bad "KV heads do not divide heads" "$d" config.json "num_key_value_heads"
d=$(mk_config cfg_non_utf8 "$(printf '{"model_type": "ll\xffama", "hidden_size": 64}')")
expect_bad "non-UTF-8 in config.json" "$d" config.json

# An architecture without rules and without a layer count: inspect describes
# what there is; plan has nothing to plan with and says which field lacks.
d=$(mk_config cfg_no_layers '{"model_type": "mamba", "hidden_size": 64}')
"$bin" inspect "$d" >/dev/null || fail "inspect of a config without rules failed"
set +e
"$bin" plan "$d" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "plan without layers: exit $rc: $(cat "$tmp/err")"
grep -q 'cfg_no_layers/config.json: field "num_hidden_layers" is missing' "$tmp/err" ||
    fail "plan without layers: $(cat "$tmp/err")"

# A sharded folder whose index is not JSON.
d=$(st_folder idx_bad '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 4)
mv "$d/model.safetensors" "$d/model-00001-of-00001.safetensors"
printf '{"weight_map": {"a": "model-00001-of-00001.safetensors"' >"$d/model.safetensors.index.json"
expect_bad "index is not JSON" "$d" model.safetensors.index.json "JSON"

if [ -z "$td" ] || [ ! -d "$td" ]; then
    [ "${CI:-}" = true ] && fail "testdata missing under CI"
    echo "SKIP: GGUF cases (testdata not found); $n_cases cases ok"
    exit 0
fi

# ---- The stories260K GGUF, cut short or with one field overwritten ---------

g=$td/models/stories260K/stories260K.gguf
size=$(wc -c <"$g")
# A GGUF tensor info: u64 name length, name, u32 n_dims, n_dims x u64, u32
# type, u64 offset. Its fields' positions, from where the name lies.
name_pos() { grep -obUaF "$2" "$1" | head -1 | cut -d: -f1; }
emb=$(name_pos "$g" token_embd.weight)
[ -n "$emb" ] || fail "token_embd.weight not found in $g"
emb_ndims=$((emb + 17))
nd=$(u32_at "$g" "$emb_ndims")
[ "$nd" -eq 2 ] || fail "token_embd.weight: n_dims $nd, want 2"
emb_dim0=$((emb_ndims + 4))
emb_type=$((emb_dim0 + 8 * nd))
emb_off=$((emb_type + 4))
q=$(name_pos "$g" blk.0.attn_q.weight)
q_off=$((q + 19 + 4 + 8 * $(u32_at "$g" $((q + 19))) + 4))
q_offset=$(u64_at "$g" "$q_off")
[ "$q_offset" -gt 0 ] || fail "blk.0.attn_q.weight offset $q_offset"

mutate() { # mutate NAME POS HEX: a copy of the GGUF with bytes overwritten
    cp "$g" "$tmp/$1.gguf"
    chmod u+w "$tmp/$1.gguf"
    put "$tmp/$1.gguf" "$2" "$3"
    echo "$tmp/$1.gguf"
}

# Truncated anywhere: in the magic, the counts, the key/value section, the
# tensor infos, and the tensor data.
for n in 3 10 20 30 1000 $((emb + 5)) $((emb_off + 2)) $((size - 1000)) $((size - 1)); do
    head -c "$n" "$g" >"$tmp/cut$n.gguf"
    expect_bad "GGUF cut to $n bytes" "$tmp/cut$n.gguf" "cut$n.gguf"
done

f=$(mutate version99 4 "$(le32 99)")
expect_bad "GGUF version 99" "$f" version99.gguf "version"
f=$(mutate n_tensors 8 "$(le64 4611686018427387904)")
expect_bad "absurd tensor count" "$f" n_tensors.gguf "tensor count"
f=$(mutate n_kv 16 "$(le64 4611686018427387904)")
expect_bad "absurd key/value count" "$f" n_kv.gguf "count"
f=$(mutate key_len 24 "$(le64 1000000000)")
expect_bad "key length past the end" "$f" key_len.gguf "key"
f=$(mutate name_len "$((emb - 8))" "$(le64 4611686018427387904)")
expect_bad "tensor name length past the end" "$f" name_len.gguf "name"
f=$(mutate name_utf8 "$((emb + 3))" "fffe")
expect_bad "non-UTF-8 tensor name" "$f" name_utf8.gguf "UTF-8"
f=$(mutate n_dims "$emb_ndims" "$(le32 1000)")
expect_bad "absurd n_dims" "$f" n_dims.gguf "token_embd.weight" "n_dims"
f=$(mutate dim_overflow "$emb_dim0" "$(le64 4611686018427387904)")
expect_bad "shape overflows" "$f" dim_overflow.gguf "token_embd.weight"
# Type Q4_K (12) on rows of 64: not whole 256-element blocks.
f=$(mutate type_blocks "$emb_type" "$(le32 12)")
expect_bad "shape disagrees with the type" "$f" type_blocks.gguf "token_embd.weight" "blocks"
f=$(mutate type_bad "$emb_type" "$(le32 1000)")
expect_bad "unknown tensor type" "$f" type_bad.gguf "token_embd.weight" "type"
f=$(mutate offset_outside "$emb_off" "$(le64 $((size * 4)))")
expect_bad "tensor offset outside the file" "$f" offset_outside.gguf "token_embd.weight" "offset"
f=$(mutate offset_unaligned "$emb_off" "$(le64 1)")
expect_bad "tensor offset not aligned" "$f" offset_unaligned.gguf "token_embd.weight"
# blk.0.attn_q.weight moved onto the embedding table's bytes.
f=$(mutate overlap "$q_off" "$(le64 0)")
expect_bad "overlapping tensors" "$f" overlap.gguf "overlaps"

# Every line of output above came from the CLI: nothing else ran.
echo "cli_bad_inputs: ok ($n_cases cases, inspect and plan each)"
