#!/usr/bin/env python3
"""Write docs/training-accuracy.md: measured training peaks against rightsize.

Reads bench/results/train_measured_h200.jsonl (from tools/train_measure.py on
the device) and asks the built `rightsize plan DIR --train ... --json` for
each row; the seed's rule and accelerate's rule come from the same JSON.
Usage: tools/train_table.py [build/rightsize]
"""
import json
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "rightsize")
testdata = os.environ.get("RIGHTSIZE_TESTDATA", os.path.join(root, "..", "shared", "testdata"))


def config_dir(name):
    local = os.path.join(root, "tools", "train_configs", name)
    return local if os.path.isdir(local) else os.path.join(testdata, "configs", name)


def gib(b):
    return f"{b / 2**30:.2f}"


rows = [json.loads(l) for l in open(os.path.join(root, "bench/results/train_measured_h200.jsonl"))]
out = []
worst = 0.0
for r in rows:
    args = [binary, "plan", config_dir(r["config"]), "--train", r["method"], "--seq", str(r["seq"]),
            "--micro-batch", str(r["micro_batch"]), "--precision", r["precision"], "--json"]
    if r["ckpt"]:
        args.append("--grad-checkpointing")
    plan = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    pred = plan["memory"]["peak_allocated"]
    meas = r["peak"]
    seed = plan["seed_rule_bytes"]
    acc = plan["accelerate_rule_bytes"]
    err = 100 * (pred - meas) / meas
    worst = max(worst, abs(err))
    out.append(f"| {r['config'].split('--')[1]} | {r['method']} | {r['precision']} | "
               f"{'on' if r['ckpt'] else 'off'} | {r['seq']}x{r['micro_batch']} | {gib(meas)} | "
               f"{gib(pred)} | {err:+.1f}% | {plan['memory']['peak_phase']} | "
               f"{gib(seed)} ({100 * (seed - meas) / meas:+.0f}%) | {gib(acc)} ({100 * (acc - meas) / meas:+.0f}%) |")

dev = rows[0]
doc = f"""# Training memory: predicted against measured

Each row is a real PyTorch run on the device machine ({dev['device']}, torch
{dev['torch']}, transformers 5.17): a random-weight model built from the real
config.json, three training steps, and `torch.cuda.max_memory_allocated()`
(which excludes the CUDA context; the plan's total adds 500 MiB for it).
Setups and script: `tools/train_measure.py`; raw results:
`bench/results/train_measured_h200.jsonl`; this table: `tools/train_table.py`
running `rightsize plan DIR --train ... --json`. The model behind the
prediction: [training-memory.md](training-memory.md). `tests/test_train_accuracy.c`
re-checks every row in CI (within 10%).

- bf16-mixed: fp32 parameters, autocast bf16, AdamW (fp32 states).
- bf16-pure: bf16 parameters (transformers 5's default dtype "auto"), the same
  autocast, AdamW with bf16 states.
- lora: frozen bf16 base, fp32 LoRA r=16 on q,k,v,o,gate,up,down, AdamW.
- seed rule: the seed post's params x 2 bytes x 3; accelerate: the
  "Training using Adam" column of `accelerate estimate-memory` (the largest of
  model, gradients, optimizer and step: 8 x params bytes for bf16/fp16,
  16 x for fp32). Both ignore the sequence length, the logits and, for
  LoRA, that most parameters are frozen.

Worst rightsize error over {len(rows)} rows: {worst:.1f}%. QLoRA is planned
but not measured (bitsandbytes is not on the device machine); ZeRO and
offload need several GPUs and were not measured.

| model | method | precision | ckpt | seq x batch | measured GiB | rightsize GiB | error | peak phase | seed rule GiB (err) | accelerate GiB (err) |
|---|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(out) + "\n"
open(os.path.join(root, "docs", "training-accuracy.md"), "w").write(doc)
print(f"{len(rows)} rows, worst error {worst:.1f}%")
