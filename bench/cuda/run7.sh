#!/usr/bin/env bash
# Run 7 (bench/results/cuda.md): the fused decode kernel, in one device call:
#   bash bench/cuda/run7.sh CARRY OUT [MODELS]
# 1. cuda_check with the fused decode step and with the separate kernels in
#    a CUDA graph, cuda_dot_check and the copy bandwidth;
# 2. per model (NAME:PRECISIONS, configs/NAME/config.json in CARRY):
#    tools/cuda_compare.py in quick mode with both decode paths timed
#    (RS_AB_FUSED) and the greedy test (RS_GREEDY).
# (Run 7 itself had the fused step as the default; the flags below give the
# same two paths now that it is opt-in.)
# CARRY: rightsize, librightsize_cuda.so, cuda_check, cuda_bench,
# cuda_dot_check, cuda_compare.py, lib/ (shared libraries the device lacks).
set -u
C=$(cd "$1" && pwd)
OUT=$2
MODELS=${3:-"qwen2.5-0.5b:bf16,int8,int4 qwen2.5-7b:bf16,int8,int4"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
W=/tmp/rs-cuda
mkdir -p "$W"
{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    nvcc --version 2>/dev/null | tail -1
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
    ldd "$C/librightsize_cuda.so" "$C/cuda_bench" | grep "not found"
    nproc
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
RIGHTSIZE_CUDA_FUSED=1 timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1
echo "cuda_check (fused) rc=$?"
tail -22 "$OUT/check.log"
RIGHTSIZE_CUDA_FUSED=0 timeout 120 "$C/cuda_check" >"$OUT/check_graph.log" 2>&1
echo "cuda_check (graph) rc=$?"
tail -2 "$OUT/check_graph.log"
timeout 30 "$C/cuda_dot_check" 2>&1 | tail -1
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee -a "$OUT/check.log"
for spec in $MODELS; do
    name=${spec%%:*}
    precs=${spec#*:}
    RS_QUICK=1 RS_AB_FUSED=1 RS_GREEDY=1 RS_BENCH_TIMEOUT=150 timeout 420 python3 "$C/cuda_compare.py" \
        "$C/configs/$name/config.json" "$name" "$C/cuda_bench" "$W" "$precs" 0 2>"$OUT/$name.stderr" |
        tee -a "$OUT/results.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keep = {k: r[k] for k in ("step", "name", "kernels", "precision", "weight_type", "prefill_tps", "decode_tps",
            "decode_gbs", "rel_err", "greedy_agree_first", "vs_transformers_bf16", "engine", "rc", "timeout",
            "gpu_mem_error_pct") if k in r}
    print(json.dumps(keep), flush=True)'
    rm -rf "${W:?}/$name"*
done
