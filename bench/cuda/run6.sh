#!/usr/bin/env bash
# Run 6 (bench/results/cuda.md): one device call for
#   1. cuda_check (every kernel and the whole forward pass against forward.c)
#      and cuda_dot_check;
#   2. the auto-fit runs on a random-weight Qwen2.5-7B (transformers, bf16,
#      seed 0, built here): chat and run with --device cuda --gpu-mem 10G
#      (the plan's int8 on the GPU) and --gpu-mem 2G (int4, a few blocks on
#      the GPU, the rest on the CPU);
#   3. rightsize bench per device at both limits (GPU memory planned vs
#      measured), and hw --measure (CPU and GPU bandwidth).
#   bash bench/cuda/run6.sh CARRY OUT
# CARRY: rightsize, librightsize_cuda.so, cuda_check, cuda_dot_check, lib/
# (shared libraries the device lacks), config.json (Qwen2.5-7B-Instruct),
# tokenizer.json + tokenizer_config.json (the Qwen tokenizer of testdata).
set -u
C=$(cd "$1" && pwd)
OUT=$2
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
M=/tmp/q7
log() { echo "=== $* ($(date +%T))"; }
{
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.free --format=csv
    lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-200
    ldd "$B" "$C/librightsize_cuda.so" | grep "not found"
} 2>&1 | tee "$OUT/env.txt"
log cuda_check
timeout 90 "$C/cuda_check" 2>&1 | tee "$OUT/check.log"
timeout 60 "$C/cuda_check" --copy 2>&1 | tee -a "$OUT/check.log"
timeout 30 "$C/cuda_dot_check" 2>&1 | tail -3 | tee -a "$OUT/check.log"
log make 7B
mkdir -p "$M"
cp "$C/config.json" "$M/"
timeout 120 python3 - "$M" <<'PY' 2>&1 | grep -v Warning | tail -3
import sys, time, torch
from transformers import AutoConfig, AutoModelForCausalLM
t = time.time()
cfg = AutoConfig.from_pretrained(sys.argv[1])
torch.manual_seed(0)
with torch.device("cuda"):
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
m.save_pretrained(sys.argv[1], safe_serialization=True)
print("made", sum(p.numel() for p in m.parameters()), "params in", round(time.time() - t, 1), "s")
PY
cp "$C/tokenizer.json" "$C/tokenizer_config.json" "$M/"
{
    for g in 10G 2G; do
        log "plan --gpu-mem $g"
        timeout 30 "$B" plan "$M" --gpu-mem "$g" 2>&1 | grep -E "^  (bf16|int8|int4)|^Decision|^ +[a-z]|GPU0"
        log "chat --device cuda --gpu-mem $g"
        echo "Tell me a story." | timeout 90 "$B" chat "$M" --device cuda --gpu-mem "$g" -n 16 2>&1 | tail -8
        log "run --device cuda --gpu-mem $g"
        timeout 90 "$B" run "$M" --device cuda --gpu-mem "$g" --prompt-ids 9707,11,1879,0 -n 16 --temp 0 \
            --json 2>&1 | cut -c1-600
        log "bench --device cuda --gpu-mem $g"
        timeout 120 "$B" bench "$M" --device cuda --gpu-mem "$g" --prompt 128 --gen 32 --no-save 2>&1
    done
    log "run --device cuda (bf16, all blocks) same prompt"
    timeout 60 "$B" run "$M" --device cuda --prompt-ids 9707,11,1879,0 -n 16 --temp 0 --json 2>&1 | cut -c1-600
    log "hw --measure"
    timeout 60 "$B" hw --measure 2>&1 | tail -12
    log done
} 2>&1 | tee "$OUT/autofit.log"
