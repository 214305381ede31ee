#!/usr/bin/env bash
# Run 9 (bench/results/cuda.md): the tiled prefill attention and the second
# fused decode step, in one device call:
#   bash bench/cuda/run9.sh CARRY OUT [MODELS]
# 1. cuda_check with the fused decode step and with the separate kernels;
# 2. per model tools/cuda_compare.py (quick: both decode paths, the greedy
#    test, transformers' prefill and decode in the same run), then where the
#    fused step's time goes (RIGHTSIZE_CUDA_FUSED_TRACE, tools/fused_trace.py).
# CARRY as for run7.sh, plus fused_trace.py.
set -u
C=$(cd "$1" && pwd)
OUT=$2
MODELS=${3:-"qwen2.5-0.5b:bf16,int8,int4 qwen2.5-7b:bf16,int8,int4"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
W=/tmp/rs-cuda
mkdir -p "$W"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
RIGHTSIZE_CUDA_FUSED=1 timeout 120 "$C/cuda_check" >"$OUT/check_fused.log" 2>&1
echo "cuda_check (fused) rc=$?"; tail -13 "$OUT/check_fused.log"
RIGHTSIZE_CUDA_FUSED=0 timeout 120 "$C/cuda_check" >"$OUT/check_graph.log" 2>&1
echo "cuda_check (graph) rc=$?"; tail -1 "$OUT/check_graph.log"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee -a "$OUT/check_graph.log"
for spec in $MODELS; do
    name=${spec%%:*}
    precs=${spec#*:}
    RS_QUICK=1 RS_AB_FUSED=1 RS_GREEDY=1 RS_BENCH_TIMEOUT=150 timeout 420 python3 "$C/cuda_compare.py" \
        "$C/configs/$name/config.json" "$name" "$C/cuda_bench" "$W" "$precs" 0 2>"$OUT/$name.stderr" |
        tee -a "$OUT/results.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keep = {k: r[k] for k in ("step", "kernels", "precision", "weight_type", "prefill_tps", "decode_tps",
            "decode_gbs", "rel_err", "greedy_agree_first", "vs_transformers_bf16", "engine", "rc", "timeout")
            if k in r}
    print(json.dumps(keep), flush=True)'
    for prec in bf16 int8; do
        rm -f /tmp/trace.txt
        RIGHTSIZE_CUDA_FUSED=1 RIGHTSIZE_CUDA_FUSED_TRACE=/tmp/trace.txt timeout 120 "$C/cuda_bench" "$W/$name" "$prec" cuda -1 512 32 1 >/dev/null 2>&1
        echo "trace $name $prec:"
        python3 "$C/fused_trace.py" /tmp/trace.txt 2 | tee -a "$OUT/trace.txt"
    done
    rm -rf "${W:?}/$name"*
done
