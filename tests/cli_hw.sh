#!/usr/bin/env bash
# End-to-end: `rightsize hw` text and --json, on this machine and under the
# fake NVML (RIGHTSIZE_FAKE_NVML, built by CMake), --list-gpus, what-ifs,
# --measure with its cache. No jq/python: grep and awk only.
set -euo pipefail
bin=${RIGHTSIZE_BIN:?}
fake=${RIGHTSIZE_FAKE_NVML:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache
unset CUDA_VISIBLE_DEVICES
fail() { echo "FAIL: $*" >&2; exit 1; }

# This machine, no driver: CPU threads = what the affinity mask allows.
threads=$(nproc)
out=$(RIGHTSIZE_NVML_LIB=$tmp/none.so "$bin" hw)
echo "$out"
grep -q "^CPU " <<<"$out" || fail "no CPU line"
n=$(echo "$out" | sed -n 's/.*cores, \([0-9]*\) threads available.*/\1/p')
[ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le "$threads" ] || fail "threads $n not in 1..nproc ($threads)"
# Without a cgroup CPU quota (an empty fake cgroup tree): exactly the affinity mask.
out2=$(RIGHTSIZE_CGROUP_ROOT=$tmp RIGHTSIZE_NVML_LIB=$tmp/none.so "$bin" hw)
grep -q "cores, $threads threads available" <<<"$out2" || fail "threads != nproc ($threads)"
# Physical cores: distinct (package, core) pairs among the allowed CPUs, as
# sysfs lists them (this 2-CPU VM: 2 cores).
cores=$(sed -n 's/.*\([0-9][0-9]*\) cores, .*/\1/p' <<<"$out2")
allowed=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)
want=$(for r in ${allowed//,/ }; do
    lo=${r%-*} hi=${r#*-}
    for ((c = lo; c <= hi; c++)); do
        t=/sys/devices/system/cpu/cpu$c/topology
        [ -r "$t/core_id" ] && echo "$(cat "$t/physical_package_id") $(cat "$t/core_id")"
    done
done | sort -u | wc -l)
if [ "$want" -gt 0 ]; then
    [ "$cores" = "$want" ] || fail "cores $cores, sysfs says $want"
fi
grep -q "^RAM .* total, .* available" <<<"$out" || fail "no RAM line"
# RAM as a cgroup v2 limit caps it (fake /proc and cgroup trees): 4 GiB
# limit, 1 GiB in use, so 3 GiB available; plan sizes against that.
mkdir -p "$tmp/fk/proc/self" "$tmp/fk/cg/job7"
printf 'MemTotal: 16000000 kB\nMemAvailable: 12000000 kB\n' >"$tmp/fk/proc/meminfo"
echo "0::/process_api/job7" >"$tmp/fk/proc/self/cgroup"
echo memory >"$tmp/fk/cg/cgroup.controllers"
echo 4294967296 >"$tmp/fk/cg/job7/memory.max"
echo 1073741824 >"$tmp/fk/cg/job7/memory.current"
export_fk="RIGHTSIZE_PROC_ROOT=$tmp/fk/proc RIGHTSIZE_CGROUP_ROOT=$tmp/fk/cg RIGHTSIZE_NVML_LIB=$tmp/none.so"
out3=$(env $export_fk "$bin" hw)
grep -q "^RAM      15.3 GiB total, 3.00 GiB available$" <<<"$out3" || fail "cgroup RAM: $out3"
grep -q "cgroup limit 4.00 GiB" <<<"$out3" || fail "cgroup limit line: $out3"
json3=$(env $export_fk "$bin" hw --json)
grep -q '"cgroup_limit_bytes":[[:space:]]*4294967296' <<<"$json3" || fail "json cgroup limit"
grep -q '"available_bytes":[[:space:]]*3221225472' <<<"$json3" || fail "json cgroup available"
out3=$(env $export_fk "$bin" plan qwen2.5-0.5b-instruct --cpu-only)
grep -q "; RAM 3.00 GiB available$" <<<"$out3" || fail "plan under the cgroup limit: $out3"
grep -q "GPUs     none: no NVIDIA driver ($tmp/none.so not found)" <<<"$out" || fail "no-driver note"
awk 'length > 80 { exit 1 }' <<<"$out" || fail "a line is wider than 80 columns"

json=$(RIGHTSIZE_CGROUP_ROOT=$tmp RIGHTSIZE_NVML_LIB=$tmp/none.so "$bin" hw --json)
grep -q "\"threads\":[[:space:]]*$threads," <<<"$json" || fail "json threads"
grep -q '"gpus":[[:space:]]*\[\]' <<<"$json" || fail "json gpus not empty"
grep -q '"note":[[:space:]]*"no NVIDIA driver' <<<"$json" || fail "json note"
total=$(echo "$json" | awk -F: '/"total_bytes"/ { gsub(/[ \t,]/, "", $2); print $2 }')
memtotal=$(awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
[ "$total" = "$memtotal" ] || fail "json total_bytes $total != MemTotal $memtotal"

# Under the fake NVML: exactly the GPUs it describes.
export RIGHTSIZE_NVML_LIB=$fake FAKE_NVML_DRIVER=550.54.15
export FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:81559:80000:9.0:5120:2619;NVIDIA GeForce RTX 4090:24564:20000:8.9:384:10501"
out=$("$bin" hw)
echo "$out"
grep -q "^GPU 0    NVIDIA H100 80GB HBM3$" <<<"$out" || fail "GPU 0 name"
grep -q "79.6 GiB total, 78.1 GiB free, 1.52 GiB used, compute 9.0" <<<"$out" || fail "GPU 0 memory"
grep -q "3352 GB/s peak, 989.0 TFLOPS bf16" <<<"$out" || fail "GPU 0 bandwidth"
grep -q "^GPU 1    NVIDIA GeForce RTX 4090$" <<<"$out" || fail "GPU 1 name"
grep -q "compute 8.9" <<<"$out" || fail "GPU 1 cc"
grep -q "^NVIDIA   driver 550.54.15$" <<<"$out" || fail "driver"
awk 'length > 80 { exit 1 }' <<<"$out" || fail "a line is wider than 80 columns"
json=$("$bin" hw --json)
[ "$(echo "$json" | grep -c '"name":')" = 2 ] || fail "json: not 2 GPUs"
grep -q '"mem_total_bytes":[[:space:]]*85520809984,' <<<"$json" || fail "json mem_total"
grep -q '"compute_capability":[[:space:]]*"8.9"' <<<"$json" || fail "json cc"
grep -q '"bandwidth_gbs":[[:space:]]*3352.32' <<<"$json" || fail "json bandwidth"
grep -q '"driver_version":[[:space:]]*"550.54.15"' <<<"$json" || fail "json driver"

out=$(FAKE_NVML_INIT_FAIL=1 "$bin" hw)
grep -q "none: NVML failed to start: Driver Not Loaded" <<<"$out" || fail "init failure note"

out=$(CUDA_VISIBLE_DEVICES=1 "$bin" hw)
grep -q "^GPU 0    NVIDIA GeForce RTX 4090$" <<<"$out" || fail "CUDA_VISIBLE_DEVICES=1: GPU 0 is the 4090"
grep -q "^note     CUDA_VISIBLE_DEVICES=\"1\": 1 of 2 GPUs visible" <<<"$out" || fail "visible note"
! grep -q "H100" <<<"$out" || fail "hidden H100 shown"

# What-ifs.
"$bin" hw --gpu "RTX 4090x2" --ram 64G | tee "$tmp/whatif"
[ "$(grep -c 'NVIDIA GeForce RTX 4090 (hypothetical)' "$tmp/whatif")" = 2 ] || fail "--gpu x2"
grep -q "^RAM      64.0 GiB total, 64.0 GiB available (hypothetical)" "$tmp/whatif" || fail "--ram"
out=$("$bin" hw --cpu-only)
grep -q "GPUs     none: --cpu-only" <<<"$out" || fail "--cpu-only"
set +e
err=$("$bin" hw --gpu "RTX 4099" 2>&1); rc=$?
set -e
[ $rc = 2 ] || fail "bad --gpu exit $rc"
grep -q 'unknown GPU "RTX 4099"; close matches: .*"NVIDIA GeForce RTX 4090"' <<<"$err" || fail "close matches: $err"
[ "$(echo "$err" | wc -l)" = 1 ] || fail "error is not one line"
set +e; "$bin" hw --bogus >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || fail "unknown option exit $rc"

# The table.
"$bin" hw --list-gpus > "$tmp/list"
rows=$(awk 'NR > 1 && NF >= 4 && $1 ~ /^[a-z0-9]+$/' "$tmp/list" | wc -l)
[ "$rows" -ge 50 ] || fail "--list-gpus has $rows rows"
"$bin" hw --list-gpus --json > "$tmp/list.json"
grep -q '"source":[[:space:]]*"https://' "$tmp/list.json" || fail "--list-gpus --json"

# --measure: measured once, cached, read back by later probes.
"$bin" hw --measure > "$tmp/m" 2>&1
grep -q "memory bandwidth [0-9.]* GB/s (measured)" "$tmp/m" || fail "--measure output"
[ -s "$XDG_CACHE_HOME/rightsize/measured.json" ] || fail "no cache file"
out=$("$bin" hw)
grep -q "memory bandwidth [0-9.]* GB/s (measured)" <<<"$out" || fail "cache not read back"
out=$("$bin" hw --json)
grep -q '"bandwidth_gbs":[[:space:]]*[0-9]' <<<"$out" || fail "json cached bandwidth"
echo "cli_hw: ok"
