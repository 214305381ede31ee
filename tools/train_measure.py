#!/usr/bin/env python3
"""Measure the peak GPU memory of real PyTorch training steps.

Runs on the device machine (H100, PyTorch + transformers there). For each
row it builds a random-weight model from a real config.json with
transformers (attn_implementation="sdpa", use_cache=False), trains it for
three steps and records torch.cuda.max_memory_allocated(), plus the peak of
each phase of the last step (forward, backward, optimizer step), so the
planner's components can be checked one by one.

Setups, as users of transformers write them:
  full, bf16-mixed: fp32 parameters (master weights), torch.autocast(bfloat16)
        forward, torch.optim.AdamW (default foreach implementation),
        zero_grad(set_to_none).
  full, bf16-pure: bf16 parameters (what transformers 5's from_config and
        from_pretrained give by default, dtype "auto"), the same autocast and
        AdamW, whose states are then bf16 too.
  lora: base model in bf16, frozen; LoRA A/B in fp32 on the chosen targets,
        written with plain torch (PEFT's LoraLayer, r=16, alpha=32, dropout 0),
        forward under torch.autocast(bfloat16), AdamW on the adapters.
Gradient checkpointing: model.gradient_checkpointing_enable(use_reentrant=False).

Output: one JSON object per line on stdout (and to --out).
"""
import argparse
import gc
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

from transformers import AutoConfig, AutoModelForCausalLM


class LoRALinear(nn.Module):
    """y = base(x) + B(A(x)) * alpha / r, base frozen."""

    def __init__(self, base: nn.Linear, r: int, alpha: int):
        super().__init__()
        self.base = base
        dev = base.weight.device
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=dev, dtype=torch.float32))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=dev, dtype=torch.float32))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


TARGETS = {
    "q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
    "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
}


def add_lora(model, targets, r, alpha):
    for layer in model.model.layers:
        for t in targets:
            parent_name, child = TARGETS[t].split(".")
            parent = getattr(layer, parent_name)
            setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha))


def build(config_dir, method, ckpt, precision):
    cfg = AutoConfig.from_pretrained(config_dir)
    cfg.use_cache = False
    dtype = torch.float32 if (method == "full" and precision == "bf16-mixed") else torch.bfloat16
    torch.set_default_dtype(dtype)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", dtype=dtype)
    torch.set_default_dtype(torch.float32)
    model.train()
    if method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        add_lora(model, ["q", "k", "v", "o", "gate", "up", "down"], r=16, alpha=32)
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, cfg


def measure(config_dir, method, ckpt, seq, micro_batch, precision="bf16-pure", steps=3):
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model, cfg = build(config_dir, method, ckpt, precision)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in params)
    after_load = torch.cuda.memory_allocated()
    ids = torch.randint(0, cfg.vocab_size, (micro_batch, seq), device="cuda")
    phases = {}
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    for step in range(steps):
        last = step == steps - 1
        if last:
            torch.cuda.synchronize()
            phases["start"] = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            overall_before = overall
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        if last:
            phases["forward_peak"] = torch.cuda.max_memory_allocated()
            phases["after_forward"] = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        loss.backward()
        if last:
            phases["backward_peak"] = torch.cuda.max_memory_allocated()
            phases["after_backward"] = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if last:
            phases["step_peak"] = torch.cuda.max_memory_allocated()
        overall = torch.cuda.max_memory_allocated() if step == 0 else max(overall, torch.cuda.max_memory_allocated())
    torch.cuda.synchronize()
    peak = max(overall_before, phases["forward_peak"], phases["backward_peak"], phases["step_peak"])
    row = dict(config=os.path.basename(config_dir.rstrip("/")), method=method, precision=precision, ckpt=ckpt, seq=seq,
               micro_batch=micro_batch, n_params=n_params, n_trainable=n_train,
               after_load=after_load, peak=peak, phases=phases,
               loss=float(loss), seconds=round(time.time() - t0, 2),
               torch=torch.__version__, device=torch.cuda.get_device_name())
    del model, opt, params, loss
    gc.collect()
    torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True, help="JSON list of [config_dir, method, ckpt, seq, micro_batch, precision]")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    runs = json.load(open(a.runs))
    out = open(a.out, "w") if a.out else None
    for r in runs:
        try:
            row = measure(*r)
        except torch.cuda.OutOfMemoryError as e:
            row = dict(config=os.path.basename(r[0]), method=r[1], ckpt=r[2], seq=r[3], micro_batch=r[4],
                       error="OOM: " + str(e).splitlines()[0])
            gc.collect()
            torch.cuda.empty_cache()
        line = json.dumps(row)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()


if __name__ == "__main__":
    main()
