#!/usr/bin/env bash
# The plan's own multi-GPU placement (issue 6, "the plan's automatic choice
# through the same options"), on two GPUs (kind nvidia-h100-x2): with no
# --split or --gpu-layers, `run`/`bench --device cuda` load the plan's
# layout. A random-weight Qwen2.5-3B as in run6_split.sh (built here):
#  - no cap: the 3B fits one card, the plan keeps it on one (the other idles);
#  - --gpu-mem just under what one card needs: the plan spreads it over both
#    (--split as planned), greedy ids equal to the one-card run;
#  - --gpu-mem of about a third of that: GPU blocks on both cards, the rest on
#    the CPU, ids equal.
# bench of the spread: per device planned vs measured memory, and the
# decode the plan predicted (with its hop between cards) vs measured.
#   bash bench/cuda/run7_autosplit.sh CARRY OUT    (CARRY as for run6.sh, config3b.json)
set -u
C=$(cd "$1" && pwd)
OUT=$2
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so XDG_CACHE_HOME=/tmp/rs-cache PYTHONUNBUFFERED=1
B=$C/rightsize
M=/tmp/q3
log() { echo "=== $* ($(date +%T))"; }
# Bytes the plan puts on GPU 0 when the whole model is on one card.
gpu_total() { awk '/"device":.*"gpu0"/ { f = 1 } f && /"total"/ { gsub(/[^0-9]/, ""); print; exit }'; }
ids() { grep -o '"ids":\[[0-9,]*\]' "$1"; }
{
    nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.free --format=csv
    if [ ! -f "$M/model.safetensors" ] && [ ! -f "$M/model.safetensors.index.json" ]; then
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
    fi
    P="--prompt-ids 9707,11,1879,0,3555,374,279,6722 -n 32 --temp 0 --json"
    # run's context: 8 + 32 tokens; bench's: 128 + 32.
    one=$("$B" plan "$M" --ctx 40 --json | gpu_total)
    spread=$((one + 268435456 - 64 * 1048576)) # the 256 MiB margin floor, 64 MiB short
    third=$((one / 3 + 268435456))
    echo "one card needs $one bytes; --gpu-mem $spread (spread), $third (GPUs + CPU)"
    for c in none "$spread" "$third"; do
        log "run --device cuda, cap $c"
        cap=""; [ "$c" = none ] || cap="--gpu-mem $c"
        # shellcheck disable=SC2086
        timeout 90 "$B" run "$M" --device cuda $cap $P >"$OUT/run_$c.json" 2>"$OUT/run_$c.err"
        echo "rc=$?"; grep "rightsize run" "$OUT/run_$c.err"; tail -1 "$OUT/run_$c.err"
        cut -c1-400 "$OUT/run_$c.json"; echo
    done
    for c in "$spread" "$third"; do
        if [ -n "$(ids "$OUT/run_none.json")" ] && [ "$(ids "$OUT/run_none.json")" = "$(ids "$OUT/run_$c.json")" ]; then
            echo "cap $c: ids EQUAL to the one-card run"
        else
            echo "cap $c: ids DIFFER"
        fi
    done
    bone=$("$B" plan "$M" --ctx 160 --json | gpu_total)
    bcap=$((bone + 268435456 - 64 * 1048576))
    log "plan for bench, --gpu-mem $bcap"
    "$B" plan "$M" --ctx 160 --gpu-mem "$bcap" 2>&1 | sed -n '/^Memory/,$p'
    log "bench --device cuda --gpu-mem $bcap"
    timeout 90 "$B" bench "$M" --device cuda --gpu-mem "$bcap" --prompt 128 --gen 32 --no-save 2>&1
    log done
} 2>&1 | tee "$OUT/autosplit.log"
