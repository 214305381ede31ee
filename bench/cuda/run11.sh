#!/usr/bin/env bash
# Run 11 (bench/results/cuda.md): the one-launch decode attention, in one
# device call:
#   bash bench/cuda/run11.sh CARRY OUT [MODELS]
# 1. cuda_check with the default kernels, with the previous decode attention
#    (RIGHTSIZE_CUDA_ATTN_OLD=1) and with the fused step;
# 2. per model tools/cuda_compare.py (quick, the greedy test on three prompts,
#    transformers' prefill and decode in the same run);
# 3. one decode step of the 7B kernel by kernel (ncu, tools/ncu_kernels.py).
# CARRY as for run10.sh, plus cuda_check and cuda_compare.py.
set -u
C=$(cd "$1" && pwd)
OUT=$2
MODELS=${3:-"qwen2.5-0.5b:bf16,int8,int4 qwen2.5-7b:bf16,int8,int4 llama-3.1-8b:bf16"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
W=/tmp/rs-cuda
mkdir -p "$W"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1
echo "cuda_check rc=$?"; tail -13 "$OUT/check.log"
RIGHTSIZE_CUDA_ATTN_OLD=1 timeout 120 "$C/cuda_check" >"$OUT/check_attn_old.log" 2>&1
echo "cuda_check (old attention) rc=$? $(tail -1 "$OUT/check_attn_old.log")"
RIGHTSIZE_CUDA_FUSED=1 timeout 120 "$C/cuda_check" >"$OUT/check_fused.log" 2>&1
echo "cuda_check (fused) rc=$? $(tail -1 "$OUT/check_fused.log")"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee -a "$OUT/check.log"
for spec in $MODELS; do
    name=${spec%%:*}
    precs=${spec#*:}
    RS_QUICK=1 RS_GREEDY=1 RS_BENCH_TIMEOUT=150 timeout 400 python3 "$C/cuda_compare.py" \
        "$C/configs/$name/config.json" "$name" "$C/cuda_bench" "$W" "$precs" 0 2>"$OUT/$name.stderr" |
        tee -a "$OUT/results.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keep = {k: r[k] for k in ("step", "kernels", "precision", "weight_type", "prefill_tps", "decode_tps",
            "decode_gbs", "rel_err", "seed", "greedy_agree_first", "vs_transformers_bf16", "margin_std",
            "engine", "rc", "timeout") if k in r}
    print(json.dumps(keep), flush=True)'
    if [ "$name" = qwen2.5-7b ]; then
        timeout 100 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" "$W/$name" bf16 cuda -1 512 1 1 >/tmp/a.csv 2>/dev/null
        timeout 150 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" "$W/$name" bf16 cuda -1 512 9 1 >/tmp/b.csv 2>/dev/null
        echo "one decode step of the 7B bf16 (ncu, mean of 8):" | tee "$OUT/ncu.txt"
        python3 "$C/ncu_kernels.py" /tmp/a.csv /tmp/b.csv --per 8 | tee -a "$OUT/ncu.txt"
    fi
    rm -rf "${W:?}/$name"*
done
