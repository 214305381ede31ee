#!/usr/bin/env python3
"""Writes data/catalog.json, the model catalog compiled into rightsize.

Edit the facts here, then run:  python3 tools/make_catalog.py
(RIGHTSIZE_TESTDATA defaults to ../shared/testdata next to the repository.)

Entries whose config is in testdata/configs copy that real config.json;
the others are HF config.json facts (the fields the architecture rules read)
written out below. published_params is the exact total of the repository's
safetensors (model page count, or index total_size / bytes per parameter);
it is left out where not known exactly (Qwen3-0.6B/1.7B: the Hub pages
suggest the files hold lm_head despite tie_word_embeddings; DeepSeek-V3/R1:
the published 671B/685B are rounded). tests/test_catalog.c asserts
computed == published for every entry that has one.
"""
import copy
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TD = os.path.join(os.environ.get("RIGHTSIZE_TESTDATA") or os.path.join(ROOT, "..", "shared", "testdata"),
                  "configs")
def real(d):
    return json.load(open(f"{TD}/{d}/config.json"))
HF = "https://huggingface.co/"
models = []
def add(name, repo, cfg, published=None, aliases=()):
    e = {"name": name}
    if aliases: e["aliases"] = list(aliases)
    e["source"] = HF + repo
    if published: e["published_params"] = published
    e["config"] = cfg
    models.append(e)
def llama(h, ff, L, nh, nkv, V=128256, ctx=131072, theta=500000.0, tie=False, eos=128001, bos=128000,
          rope=None, head_dim=None, rms=1e-5):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
         "intermediate_size": ff, "num_hidden_layers": L, "num_attention_heads": nh,
         "num_key_value_heads": nkv, "vocab_size": V, "max_position_embeddings": ctx,
         "rope_theta": theta, "rms_norm_eps": rms, "tie_word_embeddings": tie,
         "attention_bias": False, "mlp_bias": False, "bos_token_id": bos, "eos_token_id": eos,
         "torch_dtype": "bfloat16"}
    if head_dim: c["head_dim"] = head_dim
    if rope: c["rope_scaling"] = rope
    return c
def l3rope(f): return {"factor": f, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"}
L3I = [128001, 128008, 128009]

# Llama 3.x
add("llama-3.1-8b", "meta-llama/Llama-3.1-8B", real("meta-llama--Llama-3.1-8B"), 8030261248, ["meta-llama-3.1-8b"])
add("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", real("meta-llama--Llama-3.1-8B-Instruct"), 8030261248, ["meta-llama-3.1-8b-instruct"])
c = real("meta-llama--Llama-3.1-70B-Instruct"); c["eos_token_id"] = 128001
add("llama-3.1-70b", "meta-llama/Llama-3.1-70B", c, 70553706496, ["meta-llama-3.1-70b"])
add("llama-3.1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", real("meta-llama--Llama-3.1-70B-Instruct"), 70553706496)
add("llama-3.1-405b", "meta-llama/Llama-3.1-405B", llama(16384, 53248, 126, 128, 8, rope=l3rope(8.0)), 405853388800)
add("llama-3.1-405b-instruct", "meta-llama/Llama-3.1-405B-Instruct", llama(16384, 53248, 126, 128, 8, rope=l3rope(8.0), eos=L3I), 405853388800)
c = real("meta-llama--Llama-3.2-1B-Instruct"); c["eos_token_id"] = 128001
add("llama-3.2-1b", "meta-llama/Llama-3.2-1B", c, 1235814400)
add("llama-3.2-1b-instruct", "meta-llama/Llama-3.2-1B-Instruct", real("meta-llama--Llama-3.2-1B-Instruct"), 1235814400)
add("llama-3.2-3b", "meta-llama/Llama-3.2-3B", real("meta-llama--Llama-3.2-3B"), 3212749824)
add("llama-3.2-3b-instruct", "meta-llama/Llama-3.2-3B-Instruct", real("meta-llama--Llama-3.2-3B-Instruct"), 3212749824)
add("llama-3.3-70b-instruct", "meta-llama/Llama-3.3-70B-Instruct", llama(8192, 28672, 80, 64, 8, rope=l3rope(8.0), eos=L3I), 70553706496, ["llama-3.3-70b"])

# Qwen2.5
def qwen2(h, ff, L, nh, nkv, V, ctx, tie, eos=151643, rms=1e-6, theta=1000000.0, window=None, bos=151643):
    return {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": h,
            "intermediate_size": ff, "num_hidden_layers": L, "num_attention_heads": nh,
            "num_key_value_heads": nkv, "vocab_size": V, "max_position_embeddings": ctx,
            "rope_theta": theta, "rms_norm_eps": rms, "tie_word_embeddings": tie,
            "sliding_window": window or ctx, "max_window_layers": L, "use_sliding_window": False,
            "bos_token_id": bos, "eos_token_id": eos, "torch_dtype": "bfloat16"}
add("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B", qwen2(896, 4864, 24, 14, 2, 151936, 32768, True), 494032768)
add("qwen2.5-0.5b-instruct", "Qwen/Qwen2.5-0.5B-Instruct", qwen2(896, 4864, 24, 14, 2, 151936, 32768, True, eos=151645), 494032768)
add("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B", qwen2(1536, 8960, 28, 12, 2, 151936, 131072, True), 1543714304)
add("qwen2.5-1.5b-instruct", "Qwen/Qwen2.5-1.5B-Instruct", qwen2(1536, 8960, 28, 12, 2, 151936, 32768, True, eos=151645), 1543714304)
add("qwen2.5-3b", "Qwen/Qwen2.5-3B", real("Qwen--Qwen2.5-3B"), 3085938688)
add("qwen2.5-3b-instruct", "Qwen/Qwen2.5-3B-Instruct", qwen2(2048, 11008, 36, 16, 2, 151936, 32768, True, eos=151645), 3085938688)
add("qwen2.5-7b", "Qwen/Qwen2.5-7B", real("Qwen--Qwen2.5-7B"), 7615616512)
add("qwen2.5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", real("Qwen--Qwen2.5-7B-Instruct"), 7615616512)
add("qwen2.5-14b", "Qwen/Qwen2.5-14B", real("Qwen--Qwen2.5-14B"), 14770033664)
add("qwen2.5-14b-instruct", "Qwen/Qwen2.5-14B-Instruct", qwen2(5120, 13824, 48, 40, 8, 152064, 32768, False, eos=151645, window=131072), 14770033664)
add("qwen2.5-32b", "Qwen/Qwen2.5-32B", real("Qwen--Qwen2.5-32B"), 32763876352)
add("qwen2.5-32b-instruct", "Qwen/Qwen2.5-32B-Instruct", real("Qwen--Qwen2.5-32B-Instruct"), 32763876352)
add("qwen2.5-72b", "Qwen/Qwen2.5-72B", qwen2(8192, 29568, 80, 64, 8, 152064, 131072, False, rms=1e-5), 72706203648)
add("qwen2.5-72b-instruct", "Qwen/Qwen2.5-72B-Instruct", qwen2(8192, 29568, 80, 64, 8, 152064, 32768, False, eos=151645, window=131072), 72706203648)

# Qwen3
def qwen3(h, ff, L, nh, nkv, tie):
    return {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": h,
            "intermediate_size": ff, "num_hidden_layers": L, "num_attention_heads": nh,
            "num_key_value_heads": nkv, "head_dim": 128, "vocab_size": 151936,
            "max_position_embeddings": 40960, "rope_theta": 1000000, "rope_scaling": None,
            "rms_norm_eps": 1e-6, "tie_word_embeddings": tie, "attention_bias": False,
            "sliding_window": None, "use_sliding_window": False, "max_window_layers": L,
            "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"}
add("qwen3-0.6b", "Qwen/Qwen3-0.6B", qwen3(1024, 3072, 28, 16, 8, True))
add("qwen3-1.7b", "Qwen/Qwen3-1.7B", qwen3(2048, 6144, 28, 16, 8, True))
add("qwen3-4b", "Qwen/Qwen3-4B", real("Qwen--Qwen3-4B"), 4022468096)
add("qwen3-8b", "Qwen/Qwen3-8B", real("Qwen--Qwen3-8B"), 8190735360)
add("qwen3-14b", "Qwen/Qwen3-14B", real("Qwen--Qwen3-14B"), 14768307200)
add("qwen3-32b", "Qwen/Qwen3-32B", real("Qwen--Qwen3-32B"), 32762123264)
add("qwen3-30b-a3b", "Qwen/Qwen3-30B-A3B", real("Qwen--Qwen3-30B-A3B"), 30532122624)
c = copy.deepcopy(real("Qwen--Qwen3-30B-A3B"))
c.update({"hidden_size": 4096, "intermediate_size": 12288, "moe_intermediate_size": 1536,
          "num_hidden_layers": 94, "num_attention_heads": 64, "num_key_value_heads": 4,
          "max_window_layers": 94})
add("qwen3-235b-a22b", "Qwen/Qwen3-235B-A22B", c, 235093634560)
add("qwen1.5-moe-a2.7b", "Qwen/Qwen1.5-MoE-A2.7B",
    {"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": 2048,
     "intermediate_size": 5632, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
     "num_experts": 60, "num_experts_per_tok": 4, "decoder_sparse_step": 1, "num_hidden_layers": 24,
     "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 151936,
     "max_position_embeddings": 8192, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
     "tie_word_embeddings": False, "use_sliding_window": False, "sliding_window": 32768,
     "max_window_layers": 21, "bos_token_id": 151643, "eos_token_id": 151643, "torch_dtype": "bfloat16"},
    14315784192)

# Mistral / Mixtral
add("mistral-7b-instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3", real("mistralai--Mistral-7B-Instruct-v0.3"), 7248023552, ["mistral-7b-v0.3"])
add("mistral-nemo-12b", "mistralai/Mistral-Nemo-Base-2407",
    {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 5120,
     "intermediate_size": 14336, "num_hidden_layers": 40, "num_attention_heads": 32,
     "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 131072,
     "max_position_embeddings": 1024000, "rope_theta": 1000000.0, "rms_norm_eps": 1e-5,
     "sliding_window": None, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
     "torch_dtype": "bfloat16"}, 12247782400, ["mistral-nemo-base-2407", "mistral-nemo-instruct-2407"])
add("mixtral-8x7b", "mistralai/Mixtral-8x7B-v0.1", real("mistralai--Mixtral-8x7B-v0.1"), 46702792704, ["mixtral-8x7b-v0.1", "mixtral-8x7b-instruct-v0.1"])
add("mixtral-8x22b", "mistralai/Mixtral-8x22B-v0.1",
    {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 6144,
     "intermediate_size": 16384, "num_hidden_layers": 56, "num_attention_heads": 48,
     "num_key_value_heads": 8, "num_local_experts": 8, "num_experts_per_tok": 2,
     "vocab_size": 32000, "max_position_embeddings": 65536, "rope_theta": 1000000.0,
     "rms_norm_eps": 1e-5, "sliding_window": None, "tie_word_embeddings": False,
     "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}, 140620634112, ["mixtral-8x22b-v0.1"])

# Gemma 2 / 3
def gemma2(h, ff, L, nh, nkv, hd, qpas, dt="bfloat16"):
    return {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": h,
            "intermediate_size": ff, "num_hidden_layers": L, "num_attention_heads": nh,
            "num_key_value_heads": nkv, "head_dim": hd, "vocab_size": 256000,
            "max_position_embeddings": 8192, "sliding_window": 4096, "rope_theta": 10000.0,
            "rms_norm_eps": 1e-6, "query_pre_attn_scalar": qpas, "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0, "hidden_activation": "gelu_pytorch_tanh",
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": dt}
add("gemma-2-2b", "google/gemma-2-2b", gemma2(2304, 9216, 26, 8, 4, 256, 256, "float32"), 2614341888, ["gemma-2-2b-it"])
add("gemma-2-9b", "google/gemma-2-9b", gemma2(3584, 14336, 42, 16, 8, 256, 256), 9241705984, ["gemma-2-9b-it"])
add("gemma-2-27b", "google/gemma-2-27b", gemma2(4608, 36864, 46, 32, 16, 128, 144), 27227128320, ["gemma-2-27b-it"])
add("gemma-3-1b-it", "google/gemma-3-1b-it",
    {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 1152,
     "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4,
     "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 262144,
     "max_position_embeddings": 32768, "sliding_window": 512, "sliding_window_pattern": 6,
     "rope_theta": 1000000, "rope_local_base_freq": 10000, "rope_scaling": None,
     "rms_norm_eps": 1e-6, "query_pre_attn_scalar": 256, "bos_token_id": 2, "eos_token_id": [1, 106],
     "pad_token_id": 0, "torch_dtype": "bfloat16"}, 999885952, ["gemma-3-1b", "gemma-3-1b-pt"])
def gemma3(h, ff, L, nh, nkv, hd, qpas):
    return {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
            "text_config": {"model_type": "gemma3_text", "hidden_size": h, "intermediate_size": ff,
                            "num_hidden_layers": L, "num_attention_heads": nh,
                            "num_key_value_heads": nkv, "head_dim": hd, "vocab_size": 262208,
                            "max_position_embeddings": 131072, "sliding_window": 1024,
                            "sliding_window_pattern": 6, "rope_theta": 1000000.0,
                            "rope_local_base_freq": 10000.0,
                            "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                            "rms_norm_eps": 1e-6, "query_pre_attn_scalar": qpas},
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152,
                              "intermediate_size": 4304, "num_hidden_layers": 27,
                              "num_attention_heads": 16, "patch_size": 14, "image_size": 896,
                              "vision_use_head": False},
            "mm_tokens_per_image": 256, "boi_token_index": 255999, "eoi_token_index": 256000,
            "image_token_index": 262144, "bos_token_id": 2, "eos_token_id": [1, 106],
            "torch_dtype": "bfloat16"}
add("gemma-3-4b-it", "google/gemma-3-4b-it", gemma3(2560, 10240, 34, 8, 4, 256, 256), 4300079472, ["gemma-3-4b", "gemma-3-4b-pt"])
add("gemma-3-12b-it", "google/gemma-3-12b-it", gemma3(3840, 15360, 48, 16, 8, 256, 256), 12187325040, ["gemma-3-12b", "gemma-3-12b-pt"])
add("gemma-3-27b-it", "google/gemma-3-27b-it", gemma3(5376, 21504, 62, 32, 16, 128, 168), 27432406640, ["gemma-3-27b", "gemma-3-27b-pt"])

# Phi
def phi3(h, ff, L, nh, nkv, V, ctx, theta=10000.0, window=None, rope=None, bos=1, eos=32000, pad=32000):
    c = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": h,
         "intermediate_size": ff, "num_hidden_layers": L, "num_attention_heads": nh,
         "num_key_value_heads": nkv, "vocab_size": V, "max_position_embeddings": ctx,
         "original_max_position_embeddings": 4096, "rope_theta": theta, "rope_scaling": rope,
         "rms_norm_eps": 1e-5, "sliding_window": window, "tie_word_embeddings": False,
         "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad, "torch_dtype": "bfloat16"}
    return c
add("phi-3-mini-4k-instruct", "microsoft/Phi-3-mini-4k-instruct", phi3(3072, 8192, 32, 32, 32, 32064, 4096, window=2047), 3821079552, ["phi-3-mini"])
add("phi-3-medium-4k-instruct", "microsoft/Phi-3-medium-4k-instruct", phi3(5120, 17920, 40, 40, 10, 32064, 4096, window=2047), 13960238080, ["phi-3-medium"])
add("phi-3.5-mini-instruct", "microsoft/Phi-3.5-mini-instruct", phi3(3072, 8192, 32, 32, 32, 32064, 131072, window=262144, rope={"type": "longrope"}), 3821079552, ["phi-3.5-mini"])
add("phi-4", "microsoft/phi-4", phi3(5120, 17920, 40, 40, 10, 100352, 16384, theta=250000.0, bos=100257, eos=100265, pad=100349), 14659507200)

# DeepSeek
add("deepseek-v3", "deepseek-ai/DeepSeek-V3", real("deepseek-ai--DeepSeek-V3"), None, ["deepseek-v3-base"])
add("deepseek-r1", "deepseek-ai/DeepSeek-R1", real("deepseek-ai--DeepSeek-V3"))
d = qwen2(1536, 8960, 28, 12, 2, 151936, 131072, False, theta=10000.0, window=4096, bos=151646); d["max_window_layers"] = 21
add("deepseek-r1-distill-qwen-1.5b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", d, 1777088000)
d = qwen2(3584, 18944, 28, 28, 4, 152064, 131072, False, theta=10000.0, window=4096, bos=151646)
add("deepseek-r1-distill-qwen-7b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", d, 7615616512)
d = qwen2(5120, 13824, 48, 40, 8, 152064, 131072, False, rms=1e-5, window=131072, bos=151646)
add("deepseek-r1-distill-qwen-14b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", d, 14770033664)
d = qwen2(5120, 27648, 64, 40, 8, 152064, 131072, False, rms=1e-5, window=131072, bos=151646)
add("deepseek-r1-distill-qwen-32b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", d, 32763876352)
add("deepseek-r1-distill-llama-8b", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", llama(4096, 14336, 32, 32, 8, rope=l3rope(8.0), eos=128001), 8030261248)
add("deepseek-r1-distill-llama-70b", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B", llama(8192, 28672, 80, 64, 8, rope=l3rope(8.0), eos=128001), 70553706496)

# SmolLM2
add("smollm2-135m", "HuggingFaceTB/SmolLM2-135M", llama(576, 1536, 30, 9, 3, V=49152, ctx=8192, theta=100000, tie=True, bos=0, eos=0, head_dim=64), 134515008, ["smollm2-135m-instruct"])
add("smollm2-360m", "HuggingFaceTB/SmolLM2-360M", llama(960, 2560, 32, 15, 5, V=49152, ctx=8192, theta=100000, tie=True, bos=0, eos=0, head_dim=64), 361821120, ["smollm2-360m-instruct"])
add("smollm2-1.7b", "HuggingFaceTB/SmolLM2-1.7B", dict(llama(2048, 8192, 24, 32, 32, V=49152, ctx=8192, theta=130000, tie=True, bos=1, eos=2, head_dim=64), pad_token_id=2), 1711376384, ["smollm2-1.7b-instruct"])

# tt-metal fine-tune of Qwen3-0.6B (testdata config, float32)
add("qwen3-0.6b-base-think-sft", "tt-metal/qwen3-0.6b-base-think-sft", real("tt-metal--qwen3-0.6b-base-think-sft"))

names = [m["name"] for m in models]
assert len(names) == len(set(names))
doc = {"_about": ("rightsize model catalog: HF config.json facts (the fields the architecture rules "
                  "read) of popular open models, with the source repository and, where recorded, "
                  "published_params: the exact parameter total of the repository's safetensors "
                  "(model page count, or index total_size / bytes per parameter). Entries whose "
                  "config is in testdata/configs copy that real config.json."),
       "models": models}
out = json.dumps(doc, indent=1)
open(os.path.join(ROOT, "data", "catalog.json"), "w").write(out + "\n")
print(len(models), "models")
