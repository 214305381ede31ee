#!/usr/bin/env bash
# Run 6, second part (bench/results/cuda.md): --split across two GPUs.
# A random-weight Qwen2.5-3B (transformers, bf16, seed 0, built here); the
# greedy ids of 32 tokens with every block on GPU 0, split 18,18 over GPUs
# 0 and 1, and split 12,12 with 12 blocks on the CPU; bench of the 18,18
# split (memory per device).
#   bash bench/cuda/run6_split.sh CARRY OUT    (CARRY as for run6.sh, config3b.json)
set -u
C=$(cd "$1" && pwd)
OUT=$2
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
M=/tmp/q3
log() { echo "=== $* ($(date +%T))"; }
{
    nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.free --format=csv
    nvidia-smi topo -m 2>&1 | head -4
    log make 3B
    mkdir -p "$M"
    cp "$C/config3b.json" "$M/config.json"
    timeout 90 python3 - "$M" <<'PY' 2>&1 | grep -v -i "warn\|Writing" | tail -2
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
    P="--prompt-ids 9707,11,1879,0,3555,374,279,6722 -n 32 --temp 0 --json"
    for s in one 18,18 12,12; do
        log "run $s"
        if [ $s = one ]; then timeout 60 "$B" run "$M" --device cuda $P >"$OUT/run_$s.json" 2>"$OUT/run_$s.err"
        else timeout 60 "$B" run "$M" --device cuda --split $s $P >"$OUT/run_$s.json" 2>"$OUT/run_$s.err"; fi
        echo "rc=$?"; tail -2 "$OUT/run_$s.err"; cut -c1-700 "$OUT/run_$s.json"
    done
    ids() { grep -o '"ids":\[[0-9,]*\]' "$1"; }
    for s in 18,18 12,12; do
        if [ "$(ids "$OUT/run_one.json")" = "$(ids "$OUT/run_$s.json")" ] && [ -n "$(ids "$OUT/run_one.json")" ]; then
            echo "split $s: ids EQUAL to the single-GPU run"
        else
            echo "split $s: ids DIFFER"
        fi
    done
    log "bench --split 18,18"
    timeout 60 "$B" bench "$M" --device cuda --split 18,18 --prompt 128 --gen 32 --no-save 2>&1
    log done
} 2>&1 | tee "$OUT/split.log"
