#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR for SECONDS each, seeded from
# fuzz/corpus/<target>/ when present. Any finding fails the run.
set -euo pipefail
build=$(cd "$1" && pwd)  # absolute: each fuzzer runs in its own work dir
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work=$(mktemp -d)
    seeds=()
    [ -d "$root/fuzz/corpus/$name" ] && seeds+=("$root/fuzz/corpus/$name")
    echo "fuzz: $name for ${seconds}s"
    if ! (cd "$work" && "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
            -timeout=10 -print_final_stats=1 "$work" "${seeds[@]}" >"$work/log" 2>&1); then
        echo "fuzz: $name FOUND A PROBLEM"; tail -40 "$work/log"; status=1
    else
        grep -E 'stat::number_of_executed_units' "$work/log" || true
    fi
    rm -rf "$work"
done
exit $status
