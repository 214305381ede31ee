#!/usr/bin/env python3
"""Writes tests/fixtures/arch/<name>.json: a tiny config of each architecture
and the tensor list (names and torch shapes) that transformers' own model
class builds for it, renamed to the names the HF checkpoints on the Hub use.
tests/test_arch.c checks that the architecture rules (src/model/arch.c)
synthesize exactly this list from the config.

Run with the shared venv (transformers >= 5):
    /work/venv/bin/python tools/make_arch_fixtures.py

The model is built on the meta device (no weights). transformers 5 fuses a
layer's routed experts into 3-D parameters (experts.gate_up_proj [E, 2F, H],
experts.down_proj [E, H, F]); checkpoints on the Hub store one tensor per
expert and projection, so those are split back here (Mixtral's Hub names,
block_sparse_moe.experts.N.w1/w3/w2, are the ones its real
model.safetensors.index.json lists). Gemma 3's multimodal class is renamed
from transformers 5's model.language_model.* / model.vision_tower.* to the
Hub's language_model.model.* / vision_tower.vision_model.* (SigLIP's inner
vision_model, which transformers 5 no longer nests).
"""
import json
import os
import re
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "arch")

BASE = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 96,
        "max_position_embeddings": 256, "torch_dtype": "bfloat16"}

FIXTURES = {
    "llama_bias": dict(BASE, model_type="llama", attention_bias=True, mlp_bias=True,
                       tie_word_embeddings=False),
    "llama_tied": dict(BASE, model_type="llama", head_dim=16, tie_word_embeddings=True),
    "mistral": dict(BASE, model_type="mistral", head_dim=16, sliding_window=64),
    "qwen2": dict(BASE, model_type="qwen2", tie_word_embeddings=False),
    "qwen3": dict(BASE, model_type="qwen3", head_dim=16, tie_word_embeddings=True),
    "qwen2_moe": dict(BASE, model_type="qwen2_moe", moe_intermediate_size=8,
                      shared_expert_intermediate_size=24, num_experts=4, num_experts_per_tok=2,
                      decoder_sparse_step=1, mlp_only_layers=[1]),
    "qwen3_moe": dict(BASE, model_type="qwen3_moe", head_dim=16, moe_intermediate_size=8,
                      num_experts=4, num_experts_per_tok=2, decoder_sparse_step=2,
                      mlp_only_layers=[]),
    "mixtral": dict(BASE, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2),
    "gemma2": dict(BASE, model_type="gemma2", head_dim=16, sliding_window=64),
    "gemma3_text": dict(BASE, model_type="gemma3_text", head_dim=16, sliding_window=64,
                        num_hidden_layers=7),
    "phi3": dict(BASE, model_type="phi3", pad_token_id=0, bos_token_id=1, eos_token_id=2),
    "deepseek_v3": dict(BASE, model_type="deepseek_v3", num_key_value_heads=4,
                        moe_intermediate_size=8, first_k_dense_replace=1, n_routed_experts=4,
                        n_shared_experts=2, num_experts_per_tok=2, n_group=2, topk_group=1,
                        q_lora_rank=12, kv_lora_rank=8, qk_nope_head_dim=4, qk_rope_head_dim=2,
                        v_head_dim=4, num_nextn_predict_layers=0),
    "gemma3": {"model_type": "gemma3", "torch_dtype": "bfloat16",
               "text_config": dict(BASE, model_type="gemma3_text", head_dim=16,
                                   sliding_window=64, num_hidden_layers=7),
               "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 24,
                                 "intermediate_size": 40, "num_hidden_layers": 2,
                                 "num_attention_heads": 2, "patch_size": 4, "image_size": 16,
                                 "vision_use_head": False},
               "mm_tokens_per_image": 4},
}


def hub_names(model_type, params):
    out = []
    for name, shape in params:
        m = re.match(r"(.*)\.experts\.(gate_up_proj|down_proj)$", name)
        if m:
            prefix, kind = m.groups()
            n_exp = shape[0]
            for e in range(n_exp):
                if model_type == "mixtral":
                    p = prefix.replace(".mlp", ".block_sparse_moe") + f".experts.{e}"
                    if kind == "gate_up_proj":
                        f = shape[1] // 2
                        out += [(p + ".w1.weight", [f, shape[2]]), (p + ".w3.weight", [f, shape[2]])]
                    else:
                        out.append((p + ".w2.weight", [shape[1], shape[2]]))
                else:
                    p = f"{prefix}.experts.{e}"
                    if kind == "gate_up_proj":
                        f = shape[1] // 2
                        out += [(p + ".gate_proj.weight", [f, shape[2]]),
                                (p + ".up_proj.weight", [f, shape[2]])]
                    else:
                        out.append((p + ".down_proj.weight", [shape[1], shape[2]]))
            continue
        if model_type == "mixtral" and ".mlp.gate." in name:
            name = name.replace(".mlp.gate.", ".block_sparse_moe.gate.")
        if model_type == "gemma3":
            name = re.sub(r"^model\.language_model\.", "language_model.model.", name)
            name = re.sub(r"^model\.vision_tower\.", "vision_tower.vision_model.", name)
            name = re.sub(r"^model\.multi_modal_projector\.", "multi_modal_projector.", name)
            name = re.sub(r"^lm_head\.", "language_model.lm_head.", name)
        out.append((name, shape))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, cfg in FIXTURES.items():
        kw = {k: v for k, v in cfg.items() if k != "model_type"}
        c = AutoConfig.for_model(cfg["model_type"], **kw)
        cls = AutoModelForImageTextToText if cfg["model_type"] == "gemma3" else AutoModelForCausalLM
        with torch.device("meta"):
            model = cls.from_config(c)
        params = [(n, list(p.shape)) for n, p in model.named_parameters()]
        # DeepSeek's router bias is a buffer that the checkpoints store.
        params += [(n, list(b.shape)) for n, b in model.named_buffers()
                   if n.endswith("e_score_correction_bias")]
        tensors = sorted(hub_names(cfg["model_type"], params))
        doc = {"made_by": f"tools/make_arch_fixtures.py, transformers {transformers.__version__}",
               "config": cfg, "tensors": [[n, s] for n, s in tensors]}
        with open(os.path.join(OUT, fname + ".json"), "w") as f:
            json.dump(doc, f, indent=0)
            f.write("\n")
        print(fname, len(tensors), "tensors")


if __name__ == "__main__":
    sys.exit(main())
