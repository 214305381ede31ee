#!/usr/bin/env bash
# Run 20 (bench/results/cuda.md): the table of record on one H100 after runs
# 15-19, in one device call:
#   bash bench/cuda/run20.sh CARRY OUT
# 1. cuda_check (default kernels, and without programmatic dependent launch);
# 2. tools/cuda_compare.py (quick, with the greedy test: three 16-token
#    prompts, 64 tokens, against transformers fp32) per model and precision:
#    decode (cuda_bench's greedy loop and the rate inside engine_decode),
#    prefill, logits against transformers and transformers' own decode and
#    prefill in the same run;
# 3. the CLI on the 7B: bench per device (planned vs measured memory and
#    speed) at bf16/int8/int4 and with 14 of 28 blocks on the CPU, the
#    auto-fit (chat and run with --gpu-mem 10G and 2G), hw --measure.
# SPECS="NAME:PRECS ..." picks the models; NO_CHECK=1 skips step 1; step 3
# runs when the 7B is among them.
# CARRY: rightsize, cuda_bench, cuda_check, librightsize_cuda.so, lib/,
# cuda_compare.py, configs/NAME/config.json, tokenizer.json, tokenizer_config.json.
set -u
C=$(cd "$1" && pwd)
OUT=$2
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
W=/tmp/rs-cuda
mkdir -p "$W"
log() { echo "=== $* ($(date +%T))"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
[ -n "${NO_CHECK:-}" ] || {
timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1
echo "cuda_check rc=$? $(tail -1 "$OUT/check.log")"
RIGHTSIZE_CUDA_PDL=0 timeout 120 "$C/cuda_check" >"$OUT/check_nopdl.log" 2>&1
echo "cuda_check (no pdl) rc=$? $(tail -1 "$OUT/check_nopdl.log")"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee -a "$OUT/check.log"
}
for spec in ${SPECS:-qwen2.5-0.5b:bf16,int8 llama-3.1-8b:bf16 qwen2.5-7b:bf16,int8,int4}; do
    name=${spec%%:*}
    precs=${spec#*:}
    RS_QUICK=1 RS_GREEDY=1 RS_BENCH_TIMEOUT=150 timeout 400 python3 "$C/cuda_compare.py" \
        "$C/configs/$name/config.json" "$name" "$C/cuda_bench" "$W" "$precs" 0 2>"$OUT/$name.stderr" |
        tee -a "$OUT/results.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keep = {k: r[k] for k in ("step", "name", "kernels", "precision", "weight_type", "prefill_tps", "decode_tps",
            "decode_engine_tps", "decode_gbs", "rel_err", "greedy_agree_first", "vs_transformers_bf16",
            "margin_std", "rc", "timeout") if k in r}
    print(json.dumps(keep), flush=True)'
    [ "$name" = qwen2.5-7b ] || rm -rf "${W:?}/$name"*
done
[ -d "$W/qwen2.5-7b" ] || exit 0
M=$W/qwen2.5-7b
cp "$C/tokenizer.json" "$C/tokenizer_config.json" "$M/"
rows() { grep -E "^(prefill|decode|peak memory|resident|planned|GPU|  (weights|KV cache|compute|in use|context|total|NVML))"; }
{
    log "hw --measure"
    timeout 60 "$B" hw --measure 2>&1 | grep -E "GB/s"
    for p in bf16 int8 int4; do
        log "bench 7b $p"
        timeout 150 "$B" bench "$M" --device cuda --precision $p --prompt 512 --gen 128 --no-save 2>&1 | rows
    done
    log "bench 7b bf16, 14 of 28 blocks on the GPU"
    timeout 200 "$B" bench "$M" --device cuda --precision bf16 --gpu-layers 14 --prompt 128 --gen 32 --no-save 2>&1 | rows
    for g in 10G 2G; do
        log "plan --gpu-mem $g"
        timeout 30 "$B" plan "$M" --gpu-mem "$g" 2>&1 | grep -E "^Decision|GPU0" | head -4
        log "chat --device cuda --gpu-mem $g"
        echo "Tell me a story." | timeout 120 "$B" chat "$M" --device cuda --gpu-mem "$g" -n 16 2>&1 | tail -4
        log "bench --device cuda --gpu-mem $g"
        timeout 150 "$B" bench "$M" --device cuda --gpu-mem "$g" --prompt 128 --gen 32 --no-save 2>&1 | rows
    done
    log done
} 2>&1 | tee "$OUT/cli.log"
