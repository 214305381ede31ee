#!/usr/bin/env bash
# Runs 16-19 and 21 (bench/results/cuda.md): decode and prefill rates of
# library variants on models built once, with cuda_check of each, in one
# device call:
#   bash bench/cuda/run16.sh CARRY OUT "VARIANTS" ["MODEL PREC;..."]
# VARIANTS: names of v/NAME/librightsize_cuda.so in CARRY ("base" = CARRY's
# own library); each setting of ENV_NAME=VALUE after a colon is exported for
# it (e.g. base:RIGHTSIZE_CUDA_PDL=0). cuda_bench: prompt 512, 128 tokens,
# REPS reps (default 3; the median of all but the first).
# CARRY: cuda_check, cuda_bench, librightsize_cuda.so, lib/, configs/,
# ncu_kernels.py, make_model.py (bench/cuda; runs 16-34 ran the same lines
# inline), v/NAME/librightsize_cuda.so.
set -u
C=$(cd "$1" && pwd)
OUT=$2
VARIANTS=${3:-base}
MODELS=${4:-"qwen2.5-7b bf16;qwen2.5-0.5b bf16;qwen2.5-7b int4;qwen2.5-7b int8"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
lib_of() { [ "${1%%:*}" = base ] && echo "$C/librightsize_cuda.so" || echo "$C/v/${1%%:*}/librightsize_cuda.so"; }
env_of() { case $1 in *:*) echo "${1#*:}" | tr ',' ' ';; esac; }
for v in $VARIANTS; do
    env RIGHTSIZE_CUDA_LIB="$(lib_of "$v")" $(env_of "$v") timeout 120 "$C/cuda_check" >"$OUT/check-${v%%:*}.log" 2>&1
    echo "cuda_check $v rc=$? $(tail -1 "$OUT/check-${v%%:*}.log")"
done
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee "$OUT/copy.txt"
for name in $(echo "$MODELS" | tr ';' '\n' | awk '{print $1}' | sort -u); do
    mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
    timeout 150 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
done
echo "$MODELS" | tr ';' '\n' | while read -r name prec; do
    [ -n "$name" ] || continue
    for v in $VARIANTS; do
        r=$(env RIGHTSIZE_CUDA_LIB="$(lib_of "$v")" $(env_of "$v") timeout 120 "$C/cuda_bench" "/tmp/$name" "$prec" cuda -1 512 128 "${REPS:-3}" 2>&1 | tail -1)
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], r["weight_type"], "decode", r["decode_tps"], r["decode_runs"], "engine", r.get("decode_engine_tps"), "GB/s", r["decode_gbs"], "prefill", r.get("prefill_tps"))' "$r" "$v" "$name" 2>/dev/null || echo "$v $name $prec FAILED: ${r:0:200}"
    done
done 2>&1 | tee "$OUT/variants.txt"
