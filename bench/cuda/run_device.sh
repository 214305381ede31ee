#!/usr/bin/env bash
# Everything issue 6 measures on a GPU, in one go (the device tool's run):
#   bash bench/cuda/run_device.sh CARRY_DIR OUT_DIR [MODELS]
# CARRY_DIR holds the binaries built on the build machine (rightsize,
# cuda_bench, cuda_check, librightsize_cuda.so), the shared libraries they
# need (lib/), the model configs (configs/NAME/config.json) and
# tools/cuda_compare.py. Writes env.txt, check.log, results.jsonl to OUT_DIR.
set -u
C=$1
OUT=$2
MODELS=${3:-"qwen2.5-0.5b:bf16,int8,int4:0 qwen2.5-7b:bf16,int8,int4:14"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so
W=/tmp/rs-cuda
mkdir -p "$W"
{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    nvcc --version 2>/dev/null | tail -1
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
    ldd "$C/librightsize_cuda.so" | grep -E "cublas|not found"
    ldd "$C/cuda_bench" | grep "not found"
    nproc
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
timeout 90 "$C/cuda_check" 2>&1 | tee "$OUT/check.log"
timeout 60 "$C/cuda_check" --copy 2>&1 | tee -a "$OUT/check.log"
for spec in $MODELS; do
    name=${spec%%:*}
    rest=${spec#*:}
    precs=${rest%%:*}
    partial=${rest#*:}
    RS_CPU_REF=qwen2.5-0.5b timeout 300 python3 "$C/cuda_compare.py" "$C/configs/$name/config.json" "$name" "$C/cuda_bench" "$W" \
        "$precs" "$partial" 2>"$OUT/$name.stderr" | tee -a "$OUT/results.jsonl"
    rm -rf "${W:?}/$name"
done
