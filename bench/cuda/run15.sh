#!/usr/bin/env bash
# Run 15 (bench/results/cuda.md): L2 prefetch of later weights by the
# decode kernels (RIGHTSIZE_CUDA_PF, a knob of that run's model.cu, removed
# after it since no setting helped) and the decode attention's
# cached keys and values loaded before its dependent-launch wait, in one
# device call:
#   bash bench/cuda/run15.sh CARRY OUT ["NAME=PF ..."]
# 1. cuda_check with prefetch off and on;
# 2. the 7B and 0.5B built once (transformers, random bf16 weights);
# 3. decode rate per prefetch setting per model (cuda_bench), beside the
#    library of main before this change (v/main, when carried);
# 4. one int8 prefill of the 7B kernel by kernel (ncu), for the quantized
#    prefill's time.
# CARRY: rightsize, cuda_check, cuda_bench, librightsize_cuda.so, lib/,
# configs/, ncu_kernels.py, v/NAME/librightsize_cuda.so.
# Also make_model.py (bench/cuda), which builds the model as the run's own
# inline lines did.
set -u
C=$(cd "$1" && pwd)
OUT=$2
SETTINGS=${3:-"off= a=a=64"}
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so
timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1; echo "cuda_check rc=$? $(tail -1 "$OUT/check.log")"
RIGHTSIZE_CUDA_PF="a=64,q=8,o=16,g=16,d=16,p=64" timeout 120 "$C/cuda_check" >"$OUT/check_pf.log" 2>&1
echo "cuda_check (all prefetch on) rc=$? $(tail -1 "$OUT/check_pf.log")"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee -a "$OUT/check.log"
for name in qwen2.5-0.5b qwen2.5-7b; do
    mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
    timeout 150 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
done
bench() { # lib pf model prec -> one line
    local r
    r=$(RIGHTSIZE_CUDA_LIB=$1 RIGHTSIZE_CUDA_PF=$2 timeout 120 "$C/cuda_bench" "/tmp/$3" "$4" cuda -1 512 128 3 2>&1 | tail -1)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], r["weight_type"], "decode", r["decode_tps"], r["decode_runs"], "GB/s", r["decode_gbs"], "prefill", r.get("prefill_tps"))' "$r" "$5" "$3" 2>/dev/null || echo "$5 $3 $4 FAILED: ${r:0:200}"
}
for m in "qwen2.5-7b bf16" "qwen2.5-0.5b bf16" "qwen2.5-7b int4" "qwen2.5-7b int8"; do
    set -- $m
    [ -f "$C/v/main/librightsize_cuda.so" ] && bench "$C/v/main/librightsize_cuda.so" "" "$1" "$2" main
    for s in $SETTINGS; do
        bench "$C/librightsize_cuda.so" "${s#*=}" "$1" "$2" "${s%%=*}"
    done
done 2>&1 | tee "$OUT/variants.txt"
if [ -n "$NCU" ] && [ -n "${RUN15_NCU:-}" ]; then
    timeout 150 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" /tmp/qwen2.5-7b int8 cuda -1 512 0 1 >/tmp/p.csv 2>/dev/null
    python3 "$C/ncu_kernels.py" /tmp/p.csv 2>&1 | tee "$OUT/ncu_prefill_int8.txt" | head -30
fi
