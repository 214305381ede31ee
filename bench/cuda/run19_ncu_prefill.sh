#!/usr/bin/env bash
# Run 19 (bench/results/cuda.md): one prefill of 512 tokens of the 7B at
# int8 and at bf16, kernel by kernel (ncu, tools/ncu_kernels.py):
#   bash bench/cuda/run19_ncu_prefill.sh CARRY OUT
# CARRY: cuda_bench, librightsize_cuda.so, lib/, configs/, ncu_kernels.py.
# Also make_model.py (bench/cuda), which builds the model as the run's own
# inline lines did.
set -u
C=$(cd "$1" && pwd)
OUT=$2
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$C/lib:/usr/local/cuda/lib64:$SP/nvidia/cublas/lib:$SP/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
export RIGHTSIZE_CUDA_LIB=$C/librightsize_cuda.so
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
name=qwen2.5-7b
mkdir -p "/tmp/$name" && cp "$C/configs/$name/config.json" "/tmp/$name/"
timeout 150 python3 "$C/make_model.py" "/tmp/$name" 2>&1 | grep -v Warn | tail -1
for p in int8 bf16; do
  timeout 200 "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$C/cuda_bench" /tmp/$name $p cuda -1 512 0 1 >/tmp/p-$p.csv 2>/tmp/p-$p.err
  echo "== $p rc=$?"; tail -2 /tmp/p-$p.err
  python3 "$C/ncu_kernels.py" /tmp/p-$p.csv 2>&1 | tee "$OUT/ncu_prefill_$p.txt" | head -25
done
