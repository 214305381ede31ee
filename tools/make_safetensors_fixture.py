#!/usr/bin/env python3
"""Writes tests/fixtures/tiny.safetensors with the reference `safetensors`
library (torch backend), so that the C reader is checked against the real
writer's layout. Run from the repository root with the shared venv:
    /work/venv/bin/python tools/make_safetensors_fixture.py
The values are deterministic (arange), the file is ~1 KB."""
import torch
from safetensors.torch import save_file

tensors = {
    "model.embed_tokens.weight": torch.arange(12, dtype=torch.bfloat16).reshape(4, 3),
    "model.norm.weight": torch.ones(3, dtype=torch.float32),
    "lm_head.bias": torch.arange(4, dtype=torch.float16),
    "step": torch.tensor(7, dtype=torch.int64),  # a scalar: shape []
    "mask": torch.tensor([True, False]),
    "fp8": torch.zeros(2, 2, dtype=torch.float8_e4m3fn),
    "bytes": torch.arange(5, dtype=torch.uint8),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
    "w.f64": torch.arange(2, dtype=torch.float64),
    "w.i32": torch.arange(3, dtype=torch.int32),
}
save_file(tensors, "tests/fixtures/tiny.safetensors", metadata={"format": "pt", "note": "rightsize test fixture"})
