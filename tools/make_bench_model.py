#!/usr/bin/env python3
"""A Qwen2.5-0.5B-shaped model with random weights, for bench/engine_bench.sh.

    /work/venv/bin/python tools/make_bench_model.py OUT_DIR [bf16|f16]

Writes OUT_DIR/config.json (Qwen2.5-0.5B's real configuration) and
OUT_DIR/model.safetensors (every tensor of the real checkpoint, same names,
shapes and dtype, random values), about 1 GB. No tokenizer: the bench drives
the engine with token ids. Not committed; made at bench time.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 21,
    "hidden_act": "silu",
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "torch_dtype": "bfloat16",
}


def main():
    out = sys.argv[1]
    dt = {"bf16": torch.bfloat16, "f16": torch.float16}[sys.argv[2] if len(sys.argv) > 2 else "bf16"]
    os.makedirs(out, exist_ok=True)
    c = dict(CONFIG)
    c["torch_dtype"] = "bfloat16" if dt == torch.bfloat16 else "float16"
    D, F, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    H, KV, V = c["num_attention_heads"], c["num_key_value_heads"], c["vocab_size"]
    hd = D // H
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).to(dt)

    t = {"model.embed_tokens.weight": rnd(V, D), "model.norm.weight": torch.ones(D, dtype=dt)}
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = torch.ones(D, dtype=dt)
        t[p + "post_attention_layernorm.weight"] = torch.ones(D, dtype=dt)
        t[p + "self_attn.q_proj.weight"] = rnd(H * hd, D)
        t[p + "self_attn.q_proj.bias"] = rnd(H * hd)
        t[p + "self_attn.k_proj.weight"] = rnd(KV * hd, D)
        t[p + "self_attn.k_proj.bias"] = rnd(KV * hd)
        t[p + "self_attn.v_proj.weight"] = rnd(KV * hd, D)
        t[p + "self_attn.v_proj.bias"] = rnd(KV * hd)
        t[p + "self_attn.o_proj.weight"] = rnd(D, H * hd)
        t[p + "mlp.gate_proj.weight"] = rnd(F, D)
        t[p + "mlp.up_proj.weight"] = rnd(F, D)
        t[p + "mlp.down_proj.weight"] = rnd(D, F)
    save_file(t, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    n = sum(v.numel() for v in t.values())
    print(f"{out}: {n / 1e6:.1f}M parameters, {c['torch_dtype']}")


if __name__ == "__main__":
    main()
