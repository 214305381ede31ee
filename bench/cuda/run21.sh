#!/usr/bin/env bash
# Run 21 (bench/results/cuda.md): the tensor-core prefill attention:
# cuda_check, speed beside the fp32 kernel (RIGHTSIZE_CUDA_PREFILL_ATTN_FP32),
# and the 7B's logits against transformers:
#   bash bench/cuda/run21.sh CARRY OUT
# CARRY as for run16.sh, plus cuda_compare.py.
C=$(cd "$1" && pwd); OUT=$2
REPS=3 bash "$C/run16.sh" "$C" "$OUT" "base base:RIGHTSIZE_CUDA_PREFILL_ATTN_FP32=1" "qwen2.5-7b bf16;qwen2.5-7b int8;qwen2.5-0.5b bf16;llama-3.1-8b bf16"
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
mkdir -p /tmp/rs-cuda
RS_QUICK=1 RS_BENCH_TIMEOUT=150 timeout 200 python3 "$C/cuda_compare.py" "$C/configs/qwen2.5-7b/config.json" qwen2.5-7b "$C/cuda_bench" /tmp/rs-cuda bf16 0 2>"$OUT/cmp.stderr" | tee "$OUT/compare.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print({k: r[k] for k in ("step", "precision", "prefill_tps", "decode_tps", "decode_engine_tps", "rel_err", "greedy_agree_first") if k in r})'
