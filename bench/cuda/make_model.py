#!/usr/bin/env python3
"""Builds a random-weight model on the GPU from the config.json in DIR and
saves it there (bf16 safetensors, seed 0), as every bench/cuda script does:

    python3 make_model.py DIR
"""
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM

cfg = AutoConfig.from_pretrained(sys.argv[1])
torch.manual_seed(0)
with torch.device("cuda"):
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
m.save_pretrained(sys.argv[1], safe_serialization=True)
print("made", sys.argv[1])
