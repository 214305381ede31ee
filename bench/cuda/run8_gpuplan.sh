#!/usr/bin/env bash
# For the lead, one device call: what the gpuplan branch changed, measured.
#   1. The host copy of GPU weights given back: `bench --device cuda` prints
#      the peak RSS against plan_host_load_peak and the RSS after the run
#      against the plan's CPU side (was 8.41 GiB resident for 45 MiB planned,
#      7B int8, run 6).
#   2. The GPU speed model (src/plan/speed.c, fitted to runs 2/4/6): the
#      uncalibrated prediction against each measurement (prompt 512, 128
#      tokens, as run 4), then one bench stores its calibration and the next
#      predicts from it, on the same model and on the other size.
#   3. A split with 14 blocks on the CPU after hw --measure (the CPU part at
#      the measured bandwidth).
#   bash bench/cuda/run8_gpuplan.sh CARRY OUT
# CARRY: rightsize, librightsize_cuda.so, lib/ (shared libraries the device
# lacks), q7/config.json and q05/config.json (Qwen2.5-7B- and
# 0.5B-Instruct), tokenizer.json + tokenizer_config.json (Qwen).
set -u
C=$(cd "$1" && pwd)
OUT=$2
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
log() { echo "=== $* ($(date +%T))"; }
rows() { grep -E "^(prefill|decode|peak memory|resident|  weights|planned|timed|           (stored|not))"; }
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    for m in q7 q05; do
        log "make $m"
        mkdir -p /tmp/$m && cp "$C/$m/config.json" "$C/tokenizer.json" "$C/tokenizer_config.json" /tmp/$m/
        timeout 120 python3 - /tmp/$m <<'PY' 2>&1 | grep -v Warning | tail -1
import sys, torch
from transformers import AutoConfig, AutoModelForCausalLM
cfg = AutoConfig.from_pretrained(sys.argv[1])
torch.manual_seed(0)
with torch.device("cuda"):
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
m.save_pretrained(sys.argv[1], safe_serialization=True)
print("made", sum(p.numel() for p in m.parameters()), "params")
PY
    done
    log "hw --measure"
    timeout 60 "$B" hw --measure 2>&1 | grep -E "measured|GB/s"
    for m in q7 q05; do
        for p in bf16 int8 int4; do
            log "bench $m $p (uncalibrated)"
            timeout 150 "$B" bench /tmp/$m --device cuda --precision $p --prompt 512 --gen 128 --no-save 2>&1 | rows
        done
    done
    log "bench q7 int8: store the calibration"
    timeout 150 "$B" bench /tmp/q7 --device cuda --precision int8 --prompt 512 --gen 128 2>&1 | rows
    for m in q7 q05; do
        log "bench $m int8 (calibrated by the 7B)"
        timeout 150 "$B" bench /tmp/$m --device cuda --precision int8 --prompt 512 --gen 128 --no-save 2>&1 | rows
    done
    log "bench q7 int8, 14 blocks on the GPU, 14 on the CPU"
    timeout 200 "$B" bench /tmp/q7 --device cuda --precision int8 --gpu-layers 14 --prompt 128 --gen 32 --no-save 2>&1 | rows
    log "plan q7 (the cache's GPU calibration)"
    timeout 30 "$B" plan /tmp/q7 --ctx 640 2>&1 | grep -E "^(Decision|Predicted)" -A1
    log done
} 2>&1 | tee "$OUT/gpuplan.log"
