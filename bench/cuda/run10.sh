#!/usr/bin/env bash
# Run 10 (bench/results/cuda.md): where a decode step's time goes, kernel by
# kernel (Nsight Compute), and the gpuplan measurements through the CLI:
#   bash bench/cuda/run10.sh CARRY OUT
# 1. Random-weight Qwen2.5-0.5B and 7B (transformers, bf16, seed 0) with the
#    Qwen tokenizer of testdata;
# 2. ncu, one row per kernel launch: prefill of 512 alone, then the same
#    prefill and 8 decode steps; tools/ncu_kernels.py takes the difference
#    per decode step; beside it cuda_bench's own decode rate (no profiler);
# 3. bench/cuda/run8_gpuplan.sh's measurements (host memory after the
#    upload, the GPU speed model before and after bench calibrates it).
# CARRY: rightsize, cuda_bench, librightsize_cuda.so, lib/, ncu_kernels.py,
# configs/NAME/config.json, tokenizer.json, tokenizer_config.json.
# Also make_model.py (bench/cuda), which builds the model as the run's own
# inline lines did.
set -u
C=$(cd "$1" && pwd)
OUT=$2
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
log() { echo "=== $* ($(date +%T))"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
for m in qwen2.5-0.5b qwen2.5-7b; do
    mkdir -p /tmp/$m && cp "$C/configs/$m/config.json" "$C/tokenizer.json" "$C/tokenizer_config.json" /tmp/$m/
    timeout 120 python3 "$C/make_model.py" /tmp/$m 2>&1 | grep -v Warn | tail -1
done
for mp in "qwen2.5-7b bf16" "qwen2.5-7b int4" "qwen2.5-0.5b bf16"; do
    set -- $mp
    log "ncu $1 $2"
    timeout 60 "$C/cuda_bench" /tmp/$1 $2 cuda -1 512 129 3 | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("no profiler: decode", r["decode_tps"], "tok/s =", round(1e6/r["decode_tps"],1), "us/token; prefill", r["prefill_tps"])'
    timeout 150 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" /tmp/$1 $2 cuda -1 512 1 1 >/tmp/a.csv 2>/dev/null
    timeout 200 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" /tmp/$1 $2 cuda -1 512 9 1 >/tmp/b.csv 2>/dev/null
    echo "prefill of 512 (ncu):"; python3 "$C/ncu_kernels.py" /tmp/a.csv | tail -12
    echo "one decode step (ncu, mean of 8):"; python3 "$C/ncu_kernels.py" /tmp/a.csv /tmp/b.csv --per 8
    cp /tmp/b.csv "$OUT/ncu-$1-$2.csv"
done 2>&1 | tee "$OUT/ncu.txt"
rows() { grep -E "^(prefill|decode|peak memory|resident|  weights|planned|timed|           (stored|not)|GPU|  (KV|compute|context|total))"; }
{
    log "hw --measure"
    timeout 60 "$B" hw --measure 2>&1 | grep -E "measured|GB/s"
    for m in qwen2.5-7b qwen2.5-0.5b; do
        for p in bf16 int8 int4; do
            log "bench $m $p (uncalibrated)"
            timeout 150 "$B" bench /tmp/$m --device cuda --precision $p --prompt 512 --gen 128 --no-save 2>&1 | rows
        done
    done
    log "bench 7b int8: store the calibration"
    timeout 150 "$B" bench /tmp/qwen2.5-7b --device cuda --precision int8 --prompt 512 --gen 128 2>&1 | rows
    for m in qwen2.5-7b qwen2.5-0.5b; do
        log "bench $m int8 (calibrated by the 7B)"
        timeout 150 "$B" bench /tmp/$m --device cuda --precision int8 --prompt 512 --gen 128 --no-save 2>&1 | rows
    done
    log "bench 7b bf16, 14 blocks on the GPU, 14 on the CPU"
    timeout 200 "$B" bench /tmp/qwen2.5-7b --device cuda --precision bf16 --gpu-layers 14 --prompt 128 --gen 32 --no-save 2>&1 | rows
    log done
} 2>&1 | tee "$OUT/gpuplan.log"
