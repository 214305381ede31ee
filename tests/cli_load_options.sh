#!/usr/bin/env bash
# The load options (--precision, --ctx, --kv-type, --threads, --device,
# --gpu-layers, --gpu-mem, --split) go through one parser in run, chat and
# bench: a bad or missing value gives exit 2 and the same single line in all
# three (past the "rightsize CMD: " prefix), naming the option; good values
# reach the engine in all three (the load line shows the precision, the
# context, the KV cache type and the threads).
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
export XDG_CACHE_HOME=$TMP/cache RIGHTSIZE_NVML_LIB=$TMP/none.so
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

# Each case: an option and a bad value ("" alone: the option is last, no value).
cases=(
    "--precision int3" "--precision" "--ctx 1" "--ctx 16777217" "--ctx many" "--ctx"
    "--kv-type q4_0" "--kv-type" "--threads 0" "--threads 1025" "--device tpu" "--device cuda:x"
    "--gpu-layers -1" "--gpu-layers some" "--gpu-mem lots" "--gpu-mem 0" "--split 0,2"
    "--split 2,,2" "--split 1,2,3,4,5,6,7,8,9" "--split"
)
for c in "${cases[@]}"; do
    read -r opt val <<<"$c"
    first=
    same=1
    for cmd in run chat bench; do
        # shellcheck disable=SC2086 # val is one word or none
        "$BIN" "$cmd" "$STORIES" $opt $val </dev/null >"$TMP/out" 2>"$TMP/err"
        rc=$?
        msg=$(sed "s/^rightsize $cmd: //" "$TMP/err")
        if [ $rc -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] || [ -s "$TMP/out" ] ||
            ! grep -q "^rightsize $cmd: $opt\b" "$TMP/err"; then
            bad "$cmd $c: rc=$rc, stderr: $(head -c 300 "$TMP/err")"
            same=0
        elif [ -z "$first" ]; then
            first=$msg
        elif [ "$msg" != "$first" ]; then
            bad "$cmd $c: \"$msg\" differs from run's \"$first\""
            same=0
        fi
    done
    [ $same -eq 1 ] && ok "$c: exit 2, one line, the same in run, chat and bench: $first"
done

# Good values reach the engine: int8 weights, 64-token context, an f32 KV
# cache (twice the f16 one's bytes), one thread.
good=(--ctx 64 --precision int8 --threads 1)
# "KV cache 80.0 KiB" -> 80.0Ki
kv_bytes() { grep -o "KV cache [0-9.]* [KMG]iB" "$1" | head -1 | awk '{sub(/B$/, "", $4); print $3 $4}'; }
"$BIN" run "$STORIES" --prompt-ids 1 -n 2 "${good[@]}" --kv-type f32 --verbose >/dev/null 2>"$TMP/run32"
rc=$?
"$BIN" run "$STORIES" --prompt-ids 1 -n 2 "${good[@]}" --kv-type f16 --verbose >/dev/null 2>"$TMP/run16"
line=$(grep "^loaded " "$TMP/run32")
if [ $rc -eq 0 ] && grep -q " at int8 in .*(Q8_0), KV cache .* (64 tokens)$" <<<"$line"; then
    ok "run: int8 at 64 tokens loaded"
else
    bad "run good values (rc=$rc): $line"
fi
"$BIN" chat "$STORIES" --chat-template chatml "${good[@]}" --kv-type f32 </dev/null >/dev/null 2>"$TMP/chat32"
rc=$?
"$BIN" chat "$STORIES" --chat-template chatml "${good[@]}" --kv-type f16 </dev/null >/dev/null 2>"$TMP/chat16"
if [ $rc -eq 0 ] && grep -q "^rightsize chat: int8 on the CPU, 64-token context: --precision int8 as asked" "$TMP/chat32" &&
    grep -q "^rightsize chat: loaded in .*(int8), KV cache .* for 64 tokens" "$TMP/chat32"; then
    ok "chat: int8 at 64 tokens loaded"
else
    bad "chat good values (rc=$rc): $(head -c 600 "$TMP/chat32")"
fi
"$BIN" bench "$STORIES" --prompt 16 --gen 4 --no-save "${good[@]}" --kv-type f32 >"$TMP/bench" 2>"$TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^loaded     int8 (Q8_0), 64-token context, KV F32, 1 threads" "$TMP/bench"; then
    ok "bench: int8 at 64 tokens, KV F32, 1 thread loaded"
else
    bad "bench good values (rc=$rc): $(head -c 600 "$TMP/bench") $(head -c 300 "$TMP/err")"
fi
# The KV cache bytes: f32 twice f16, in run and chat alike.
to_bytes() { numfmt --from=iec-i "$1" 2>/dev/null || echo 0; }
for cmd in run chat; do
    b32=$(to_bytes "$(kv_bytes "$TMP/${cmd}32")")
    b16=$(to_bytes "$(kv_bytes "$TMP/${cmd}16")")
    if [ "$b16" -gt 0 ] && [ "$b32" -eq $((2 * b16)) ]; then
        ok "$cmd: --kv-type f32 cache twice f16's ($b32 vs $b16 bytes)"
    else
        bad "$cmd --kv-type: f32 $b32 bytes, f16 $b16"
    fi
done

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all ok"
