#!/usr/bin/env bash
# Run 8 (bench/results/cuda.md): variants of the fused decode kernel against
# the separate kernels, on models built once, and where the fused step's
# time goes (RIGHTSIZE_CUDA_FUSED_TRACE):
#   bash bench/cuda/run8.sh CARRY OUT "VARIANTS"
# CARRY as for run7.sh, plus v/NAME/librightsize_cuda.so per variant
# ("base" = CARRY's own library) and fused_trace.py.
# Also make_model.py (bench/cuda), which builds the model as the run's own
# inline lines did.
set -u
C=$(cd "$1" && pwd)
OUT=$2
VARIANTS=${3:-base}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
RIGHTSIZE_CUDA_FUSED=1 timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1
echo "cuda_check rc=$? $(tail -1 "$OUT/check.log")"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1
for name in qwen2.5-0.5b qwen2.5-7b; do
    mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
    timeout 120 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
done
bench() { # LIB FUSED MODEL PREC -> one summary line
    local r
    r=$(RIGHTSIZE_CUDA_LIB=$1 RIGHTSIZE_CUDA_FUSED=$2 timeout 120 "$C/cuda_bench" "/tmp/$3" "$4" cuda -1 512 128 3 2>&1 | tail -1)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], r["weight_type"], "decode", r["decode_tps"], r["decode_runs"], "GB/s", r["decode_gbs"], "prefill", r["prefill_tps"])' "$r" "$5" "$3" 2>/dev/null || echo "$5 $3 $4 FAILED: ${r:0:300}"
}
{
    for m in "qwen2.5-7b bf16" "qwen2.5-7b int8" "qwen2.5-7b int4" "qwen2.5-0.5b bf16"; do
        set -- $m
        bench "$C/librightsize_cuda.so" 0 "$1" "$2" graph
        for v in $VARIANTS; do
            lib=$C/v/$v/librightsize_cuda.so
            [ "$v" = base ] && lib=$C/librightsize_cuda.so
            bench "$lib" 1 "$1" "$2" "fused-$v"
        done
    done
} 2>&1 | tee "$OUT/variants.txt"
for m in "qwen2.5-7b bf16" "qwen2.5-7b int4" "qwen2.5-0.5b bf16"; do
    set -- $m
    rm -f /tmp/trace.txt
    RIGHTSIZE_CUDA_FUSED=1 RIGHTSIZE_CUDA_FUSED_TRACE=/tmp/trace.txt timeout 120 "$C/cuda_bench" "/tmp/$1" "$2" cuda -1 512 32 1 >/dev/null 2>&1
    echo "trace $1 $2:"
    python3 "$C/fused_trace.py" /tmp/trace.txt 2 | tee -a "$OUT/trace.txt"
    cp /tmp/trace.txt "$OUT/trace-$1-$2.txt"
done
