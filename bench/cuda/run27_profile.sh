#!/usr/bin/env bash
# Run 27 (bench/results/cuda.md): where a 7B Q4_K decode step goes now.
#   bash bench/cuda/run27_profile.sh CARRY OUT
# 1. RIGHTSIZE_CUDA_SKIP leaves one kind of launch out at a time (engine
#    tok/s each, REPS reps): the difference to the whole step is that kind's
#    share inside the launch chain.
# 2. ncu, sections of memory, warp state and occupancy, on the kernels of
#    one decode block (prep, q|k|v, attention, o, prep, gate|up, prep, down)
#    and the head's, at position 512.
# CARRY: cuda_check, cuda_bench, librightsize_cuda.so, lib/, configs/,
# make_model.py (bench/cuda; run 27 ran the same lines inline).
set -u
C=$(cd "$1" && pwd)
OUT=$2
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so PYTHONUNBUFFERED=1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/env.txt"
timeout 120 "$C/cuda_check" >"$OUT/check.log" 2>&1; echo "cuda_check rc=$? $(tail -1 "$OUT/check.log")"
timeout 60 "$C/cuda_check" --copy 2>&1 | tail -1 | tee "$OUT/copy.txt"
name=qwen2.5-7b
mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
timeout 150 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
for prec in ${PRECS:-int4}; do
  for skip in none attn o qkv gate_up down head; do
    s=$skip; [ "$s" = none ] && s=
    r=$(RIGHTSIZE_CUDA_SKIP=$s timeout 120 "$C/cuda_bench" "/tmp/$name" "$prec" cuda -1 512 128 "${REPS:-3}" 2>&1 | tail -1)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); e=r.get("decode_engine_tps"); print(sys.argv[2], "skip", sys.argv[3], "engine", e, "us/token %.1f" % (1e6/e))' "$r" "$prec" "$skip" 2>/dev/null || echo "$prec skip $skip FAILED: ${r:0:200}"
  done
done 2>&1 | tee "$OUT/skip.txt"
[ -n "$NCU" ] || { echo "no ncu"; exit 0; }
# Per decode step 8 matched launches a block (prep, qkv, attention, o,
# prep, gate|up, prep, down) and 2 for the head; prefill adds 2 (the last
# row's head). Skip to the third decode step.
K='regex:mv_q8_kernel|mv_prep_kernel|attn_decode_kernel'
SEC="--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats --section ComputeWorkloadAnalysis"
for prec in ${NCU_PRECS:-int4}; do
  timeout 240 "$NCU" -k "$K" --launch-skip 454 --launch-count 8 $SEC "$C/cuda_bench" "/tmp/$name" $prec cuda -1 512 4 1 >"$OUT/ncu_block_$prec.txt" 2>&1
  echo "ncu block $prec rc=$?"
  timeout 200 "$NCU" -k "$K" --launch-skip 678 --launch-count 2 $SEC "$C/cuda_bench" "/tmp/$name" $prec cuda -1 512 4 1 >"$OUT/ncu_head_$prec.txt" 2>&1
  echo "ncu head $prec rc=$?"
  grep -E "mv_q8_kernel|mv_prep|attn_decode|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Issue Slots Busy|No Eligible|L1/TEX Hit|Mem Busy|Max Bandwidth" "$OUT/ncu_block_$prec.txt" "$OUT/ncu_head_$prec.txt" | cut -c1-160
done
