#!/usr/bin/env bash
# Tokenizer throughput, rightsize vs HF tokenizers, one thread each, on the
# same deterministic ~10 MB text. Usage: bench/run_tok_bench.sh [TOKENIZER...]
# (defaults: the tokenizers in ../shared/testdata/tokenizers). Needs
# `make build`; the HF side needs the venv (VENV, default /work/venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
venv=${VENV:-/work/venv}
[ -f "$build/librightsize_core.a" ] || { echo "run 'make build' first" >&2; exit 2; }
pc() { pkg-config --libs "$@"; }
cc -O2 -std=c11 -Wall -Wextra -Werror -I"$root/src" "$root/bench/tok_bench.c" \
    "$build/librightsize_core.a" $(pc libcjson libpcre2-8 libutf8proc) -lpthread -lm \
    -o "$build/tok_bench"
if [ $# -eq 0 ]; then
    td=${RIGHTSIZE_TESTDATA:-$root/../shared/testdata}
    set -- "$td"/tokenizers/*
fi
text=$(mktemp /tmp/tok_bench_text.XXXXXX)
trap 'rm -f "$text"' EXIT
"$build/tok_bench" --write-text "$text" "$@"
if [ -x "$venv/bin/python" ]; then
    RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$venv/bin/python" "$root/tools/tok_bench_hf.py" "$text" "$@"
else
    echo "no venv at $venv: HF side skipped" >&2
fi
