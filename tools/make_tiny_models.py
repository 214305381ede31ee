#!/usr/bin/env python3
"""Tiny random-weight models of every architecture the engine runs, with
reference logits from transformers, for tests/test_engine_parity.c.

    /work/venv/bin/python tools/make_tiny_models.py [OUT=tests/fixtures/tiny]

For each model OUT/<name>/ gets:
  f32/    config.json + model.safetensors (fp32; llama3 sharded in two files)
  bf16/   config.json + model.safetensors (the same weights rounded to bf16)
  <name>-<TYPE>.gguf   the same model as GGUF (the gguf package's writer;
                       llama/mistral with q/k permuted as llama.cpp's
                       convert_hf_to_gguf.py does, so the engine's
                       interleaved-rope path runs)
  logits_f32.bin       (n_prompt, n_vocab) float32 little-endian: transformers'
                       logits of the fp32 model for the prompt
  logits_<TYPE>.bin    transformers' logits with every weight replaced by its
                       GGUF round trip (dequantized), for exact parity
  reference.json       prompt ids, shapes, file list
The weights are random (seeded), scaled up from transformers' default init so
that attention is far from uniform and a wrong rope or mask shows in the
logits. Deterministic: rerunning gives the same files.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
import gguf
from gguf.quants import quantize, dequantize
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

PROMPT = [1, 17, 42, 99, 3, 250, 128, 7, 64, 200, 31, 5]
VOCAB = 256

MODELS = {
    # Llama 3.x: llama3 rope scaling with a short original context, so all
    # three frequency bands (kept, smoothed, divided) occur at head_dim 16.
    "llama3": dict(
        cls=(LlamaConfig, LlamaForCausalLM), gguf_arch="llama", gguf_types=["F16", "Q8_0", "Q4_K", "Q5_K", "Q6_K"],
        permute=True, shards=2,
        cfg=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=500000.0,
                 rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 64},
                 tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)),
    "mistral": dict(
        cls=(MistralConfig, MistralForCausalLM), gguf_arch="llama", gguf_types=["Q4_0"],
        permute=True,
        cfg=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=1, head_dim=16, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=1000000.0,
                 sliding_window=None, tie_word_embeddings=False, bos_token_id=1,
                 eos_token_id=2)),
    "qwen2": dict(
        cls=(Qwen2Config, Qwen2ForCausalLM), gguf_arch="qwen2", gguf_types=["Q4_1"],
        permute=False,
        cfg=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1000000.0,
                 tie_word_embeddings=True, use_sliding_window=False, bos_token_id=1,
                 eos_token_id=2)),
    "qwen3": dict(
        cls=(Qwen3Config, Qwen3ForCausalLM), gguf_arch="qwen3", gguf_types=["Q5_0"],
        permute=False,
        cfg=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=32, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1000000.0,
                 tie_word_embeddings=False, attention_bias=False, use_sliding_window=False,
                 bos_token_id=1, eos_token_id=2)),
    # SmolLM2's shape: Llama with tied embeddings and 3 query heads per KV head.
    "smollm2": dict(
        cls=(LlamaConfig, LlamaForCausalLM), gguf_arch="llama", gguf_types=["F16"],
        permute=True,
        cfg=dict(hidden_size=96, intermediate_size=96, num_hidden_layers=2,
                 num_attention_heads=3, num_key_value_heads=1, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=100000.0,
                 tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)),
    # Mistral v0.1's sliding-window attention with a window shorter than the
    # prompt, so that the mask matters (fp32 folder only).
    "mistral_swa": dict(
        cls=(MistralConfig, MistralForCausalLM), gguf_arch="llama", gguf_types=[],
        permute=True, formats=["f32"],
        cfg=dict(hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                 sliding_window=5, tie_word_embeddings=False, bos_token_id=1,
                 eos_token_id=2)),
    # Qwen2.5's long-context setting: YaRN rope scaling (factor 4 over an
    # original context of 64, so every band of the ramp occurs), fp32 only.
    "qwen2_yarn": dict(
        cls=(Qwen2Config, Qwen2ForCausalLM), gguf_arch="qwen2", gguf_types=[],
        permute=False, formats=["f32"],
        cfg=dict(hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                 max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=10000.0,
                 rope_scaling={"type": "yarn", "factor": 4.0,
                               "original_max_position_embeddings": 64},
                 tie_word_embeddings=True, use_sliding_window=False, bos_token_id=1,
                 eos_token_id=2)),
}


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: halves -> adjacent pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.12 * torch.randn(p.shape, generator=g))


def logits_of(model):
    with torch.no_grad():
        out = model(torch.tensor([PROMPT]), use_cache=False)
    return out.logits[0].to(torch.float32).numpy()


GGUF_NAMES = [
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
]
LAYER_NAMES = [
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.q_norm.weight", "attn_q_norm.weight"),
    ("self_attn.k_norm.weight", "attn_k_norm.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
]


def gguf_name(hf):
    for a, b in GGUF_NAMES:
        if hf == a:
            return b
    if hf.startswith("model.layers."):
        rest = hf[len("model.layers."):]
        idx, sub = rest.split(".", 1)
        for a, b in LAYER_NAMES:
            if sub == a:
                return f"blk.{idx}.{b}"
    raise KeyError(hf)


K_TYPES = ("Q4_K", "Q5_K", "Q6_K")


def tensor_type(name, arr, want):
    """llama.cpp's rule: 1-D tensors stay F32; a matrix whose rows do not
    divide into the type's blocks stays F16 (Q8_0 in the K-quant files, to
    keep them small)."""
    if arr.ndim == 1:
        return gguf.GGMLQuantizationType.F32
    qt = gguf.GGMLQuantizationType[want]
    block = gguf.GGML_QUANT_SIZES[qt][0]
    if arr.shape[-1] % block != 0:
        if want in K_TYPES and arr.shape[-1] % 32 == 0:
            return gguf.GGMLQuantizationType.Q8_0
        return gguf.GGMLQuantizationType.F16
    return qt


def random_kquant_blocks(shape, qt, rng):
    """The gguf package cannot quantize to K-quants, so the K-quant files
    hold random valid blocks (uniform quants and scales, f16 super-block
    scales chosen for weights of about +-0.25); the reference then runs
    transformers on their dequantization by the gguf package."""
    n_out, n_in = shape
    bs, ts = gguf.GGML_QUANT_SIZES[qt]
    nb = n_in // bs
    raw = rng.integers(0, 256, size=(n_out, nb, ts), dtype=np.uint8)

    def f16(v):
        return np.frombuffer(np.float16(v).tobytes(), dtype=np.uint8)

    if qt == gguf.GGMLQuantizationType.Q4_K:  # d, dmin, scales[12], qs[128]
        raw[:, :, 0:2] = f16(0.001)
        raw[:, :, 2:4] = f16(0.0075)
    elif qt == gguf.GGMLQuantizationType.Q5_K:  # d, dmin, scales[12], qh[32], qs[128]
        raw[:, :, 0:2] = f16(0.0005)
        raw[:, :, 2:4] = f16(0.0078)
    else:  # Q6_K: ql[128], qh[64], scales[16] (int8), d
        raw[:, :, 208:210] = f16(0.00006)
    return raw.reshape(n_out, nb * ts)


def llama3_rope_factors(raw):
    """convert_hf_to_gguf.py LlamaModel: llama3 scaling as rope_freqs.weight."""
    rs = raw["rope_scaling"]
    base = raw["rope_theta"]
    dim = raw["hidden_size"] // raw["num_attention_heads"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * np.pi / f
        if wl < hi_wl:
            out.append(1)
        elif wl > lo_wl:
            out.append(factor)
        else:
            smooth = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_gguf(path, spec, cfg, state, want):
    """Writes the model as GGUF at type `want`; returns the dequantized
    state dict (HF names, HF layout) that the file holds."""
    arch = spec["gguf_arch"]
    w = gguf.GGUFWriter(path, arch)
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    w.add_name(f"tiny-{os.path.basename(os.path.dirname(path))}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    raw = spec["cfg"]
    w.add_rope_freq_base(raw["rope_theta"])
    w.add_rope_dimension_count(head_dim)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if want == "F32" else gguf.LlamaFileType.MOSTLY_F16)
    # A byte vocabulary so that tools reading the file find a tokenizer.
    w.add_tokenizer_model("llama")
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(cfg.vocab_size - 3)]
    w.add_token_list(toks)
    w.add_token_scores([0.0] * len(toks))
    w.add_token_types([2, 3, 3] + [6] * (len(toks) - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    back = {}
    if arch == "llama" and raw.get("rope_scaling", {}).get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(raw))
    for name, t in state.items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        arr = t.to(torch.float32).numpy()
        stored = arr
        if spec["permute"] and name.endswith("q_proj.weight"):
            stored = permute(arr, n_head, n_head)
        elif spec["permute"] and name.endswith("k_proj.weight"):
            stored = permute(arr, n_head, n_kv)
        qt = tensor_type(name, stored, want)
        if qt == gguf.GGMLQuantizationType.F32:
            data, rt = stored.astype(np.float32), None
            deq = data
        elif qt == gguf.GGMLQuantizationType.F16:
            data, rt = stored.astype(np.float16), None
            deq = data.astype(np.float32)
        elif qt.name in K_TYPES:
            data = random_kquant_blocks(stored.shape, qt, np.random.default_rng(len(back)))
            rt = qt
            deq = dequantize(data, qt).reshape(stored.shape)
        else:
            data = quantize(stored, qt)
            rt = qt
            deq = dequantize(data, qt).reshape(stored.shape)
        w.add_tensor(gguf_name(name), data, raw_dtype=rt)
        # Undo the permutation to give the HF-layout weights the file holds.
        if spec["permute"] and name.endswith("q_proj.weight"):
            deq = undo_permute(deq, n_head, n_head)
        elif spec["permute"] and name.endswith("k_proj.weight"):
            deq = undo_permute(deq, n_head, n_kv)
        back[name] = torch.from_numpy(np.ascontiguousarray(deq, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return back


def undo_permute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def save_folder(model, spec, folder, dtype, shards=1):
    """Writes config.json as checkpoints on the hub spell it (rope_theta and
    rope_scaling at the top level, as transformers 4.x wrote them), then the
    weights."""
    os.makedirs(folder, exist_ok=True)
    cfg = dict(spec["cfg"])
    cfg = {k: v for k, v in cfg.items() if v is not None}
    cfg["architectures"] = [spec["cls"][1].__name__]
    cfg["model_type"] = model.config.model_type
    cfg["hidden_act"] = "silu"
    cfg["torch_dtype"] = "bfloat16" if dtype == torch.bfloat16 else "float32"
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    names = sorted(state)
    if shards == 1:
        save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        return
    per = (len(names) + shards - 1) // shards
    index = {"metadata": {"total_size": sum(v.numel() * v.element_size() for v in state.values())},
             "weight_map": {}}
    for s in range(shards):
        fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: state[k] for k in names[s * per:(s + 1) * per]}
        save_file(part, os.path.join(folder, fn), metadata={"format": "pt"})
        for k in part:
            index["weight_map"][k] = fn
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tiny"
    torch.manual_seed(0)
    summary = {}
    for i, (name, spec) in enumerate(MODELS.items()):
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cfg_cls, model_cls = spec["cls"]
        cfg = cfg_cls(**spec["cfg"])
        cfg._attn_implementation = "eager"
        model = model_cls(cfg).to(torch.float32).eval()
        randomize(model, 1000 + i)
        if cfg.tie_word_embeddings:
            model.tie_weights()
        ref = logits_of(model)
        ref.astype("<f4").tofile(os.path.join(d, "logits_f32.bin"))
        save_folder(model, spec, os.path.join(d, "f32"), torch.float32, spec.get("shards", 1))
        files = {"f32": "f32"}
        if "bf16" in spec.get("formats", ["f32", "bf16"]):
            save_folder(model, spec, os.path.join(d, "bf16"), torch.bfloat16)
            files["bf16"] = "bf16"
        # bf16 reference: the same model with weights rounded to bf16, run in fp32.
        sd = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in model.state_dict().items()}
        m2 = model_cls(cfg).eval()
        m2.load_state_dict(sd)
        logits_of(m2).astype("<f4").tofile(os.path.join(d, "logits_bf16.bin"))
        state = model.state_dict()
        for want in spec["gguf_types"]:
            fn = f"{name}-{want}.gguf"
            back = write_gguf(os.path.join(d, fn), spec, cfg, state, want)
            m3 = model_cls(cfg).eval()
            full = dict(state)
            full.update(back)
            if cfg.tie_word_embeddings:
                full["lm_head.weight"] = full["model.embed_tokens.weight"]
            m3.load_state_dict(full)
            logits_of(m3).astype("<f4").tofile(os.path.join(d, f"logits_{want}.bin"))
            files[want] = fn
        meta = {"prompt": PROMPT, "n_vocab": VOCAB, "n_prompt": len(PROMPT),
                "arch": spec["gguf_arch"], "model_class": model_cls.__name__, "files": files,
                "max_abs_logit": float(np.abs(ref).max())}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(meta, f, indent=1)
        summary[name] = meta["max_abs_logit"]
        print(f"{name}: max |logit| {meta['max_abs_logit']:.3f}, files {sorted(files.values())}")
    print("transformers", __import__("transformers").__version__, "torch", torch.__version__,
          "gguf", gguf.__version__ if hasattr(gguf, "__version__") else "?")


if __name__ == "__main__":
    main()
