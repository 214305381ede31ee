#!/usr/bin/env bash
# Run 12 (bench/results/cuda.md): variants of the decode matrix-vector
# kernels (kernels.cu's MV2_* constants, each library built with -D...), on
# models built once, decode rate per variant:
#   bash bench/cuda/run12.sh CARRY OUT "VARIANTS"
# CARRY as for run10.sh, plus v/NAME/librightsize_cuda.so per variant
# ("base" = CARRY's own library).
# Also make_model.py (bench/cuda), which builds the model as the run's own
# inline lines did.
set -u
C=$(cd "$1" && pwd)
OUT=$2
VARIANTS=${3:-base}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
for name in qwen2.5-0.5b qwen2.5-7b; do
    mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
    timeout 120 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
done
for v in $VARIANTS; do
    lib=$C/v/$v/librightsize_cuda.so
    [ "$v" = base ] && lib=$C/librightsize_cuda.so
    RIGHTSIZE_CUDA_LIB=$lib timeout 60 "$C/cuda_check" 2>&1 | tail -1 | sed "s/^/$v: /"
done
for m in "qwen2.5-7b bf16" "qwen2.5-7b int8" "qwen2.5-7b int4" "qwen2.5-0.5b bf16" "qwen2.5-0.5b int8"; do
    set -- $m
    for v in $VARIANTS; do
        lib=$C/v/$v/librightsize_cuda.so
        [ "$v" = base ] && lib=$C/librightsize_cuda.so
        r=$(RIGHTSIZE_CUDA_LIB=$lib timeout 120 "$C/cuda_bench" "/tmp/$1" "$2" cuda -1 512 128 3 2>&1 | tail -1)
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], r["weight_type"], "decode", r["decode_tps"], r["decode_runs"], "GB/s", r["decode_gbs"])' "$r" "$v" "$1" 2>/dev/null || echo "$v $1 $2 FAILED: ${r:0:200}"
    done
done 2>&1 | tee "$OUT/variants.txt"
