#!/usr/bin/env python3
"""rightsize's CUDA engine beside transformers on the same GPU (issue 6).

    python3 tools/cuda_compare.py CONFIG_JSON NAME BENCH_BIN WORKDIR [PRECISIONS] [PARTIAL]

Builds a random-weight model with the real shape of CONFIG_JSON on the GPU
(transformers, bf16, seed 0), saves it with save_pretrained into
WORKDIR/NAME, and, holding it on the GPU, runs BENCH_BIN (bench/cuda/
cuda_bench.c) on the saved folder for each precision (comma list, default
bf16): prompt 512 random ids, 128 greedy tokens, 5 reps. For every
precision it compares rightsize's last prompt logits and its 64-token
greedy continuation with transformers' on the same prompt, then times
transformers' own decode (generate, 128 tokens after the 512-token prompt,
median of 3). PARTIAL = N also runs bf16 with the first N blocks on the GPU
and the rest on the CPU (shorter: prompt 64, 32 tokens). One JSON object
per line on stdout.

Environment: RS_QUICK=1 trims the run to the decode figures (3 reps, no
CPU reference, no fp32 reference, transformers' decode timed twice after a
warm-up). The default decode is the separate kernels in a CUDA graph;
RS_AB_FUSED=1 also times each precision with the fused persistent kernel
(RIGHTSIZE_CUDA_FUSED=1), RS_AB_OLD=1 with the first decode kernels
(RIGHTSIZE_CUDA_MV=old), RS_AB_NOPDL=1 without programmatic dependent launch
(RIGHTSIZE_CUDA_PDL=0; the default since run 14, when RS_AB_PDL=1 timed it
beside the default of then), in the same process tree on the same card.
(Runs 7-9 named the fused kernel the default and timed the graph with
RS_AB_GRAPH; their "fused"/"graph" labels mean the same two paths.)
RS_GREEDY=1 adds the greedy test: three 16-token prompts, each fed one
token at a time through rightsize's decode path, 64 greedy tokens, against
transformers' greedy continuation of the same prompt with the same bf16
weights computed in fp32 (model.float()) and in bf16; where they part,
margin_std is the fp32 model's logit of its own choice minus that of the
other engine's choice, over the std of its logits (near 0: a near-tie).
"""
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def log(obj):
    print(json.dumps(obj), flush=True)


def main():
    cfg_path, name, bench, work = sys.argv[1:5]
    precisions = (sys.argv[5] if len(sys.argv) > 5 else "bf16").split(",")
    partial = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    out_dir = os.path.join(work, name)
    cfg = AutoConfig.from_pretrained(os.path.dirname(cfg_path) if cfg_path.endswith(".json") else cfg_path)
    torch.manual_seed(0)
    t0 = time.time()
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    log({"step": "make", "name": name, "params": sum(p.numel() for p in model.parameters()),
         "seconds": round(time.time() - t0, 1)})

    quick = os.environ.get("RS_QUICK") == "1"

    def run_bench(prec, gpu_layers, n_prompt, n_decode, reps, kernels="default", stepwise=False):
        prefix = os.path.join(work, f"{name}-{prec}-{gpu_layers}-{kernels}{'-step' if stepwise else ''}")
        cmd = [bench, out_dir, prec, "cuda", str(gpu_layers), str(n_prompt), str(n_decode), str(reps), prefix]
        env = dict(os.environ)
        for k in ("RIGHTSIZE_CUDA_MV", "RIGHTSIZE_CUDA_PDL", "RIGHTSIZE_CUDA_FUSED", "CUDA_BENCH_STEPWISE"):
            env.pop(k, None)
        if kernels == "old":
            env["RIGHTSIZE_CUDA_MV"] = "old"
            env["RIGHTSIZE_CUDA_FUSED"] = "0"
        elif kernels == "fused":
            env["RIGHTSIZE_CUDA_FUSED"] = "1"
        elif kernels == "pdl":
            env["RIGHTSIZE_CUDA_PDL"] = "1"
        elif kernels == "nopdl":
            env["RIGHTSIZE_CUDA_PDL"] = "0"
        if stepwise:
            env["CUDA_BENCH_STEPWISE"] = "1"
        t = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                               timeout=int(os.environ.get("RS_BENCH_TIMEOUT", "400")))
        except subprocess.TimeoutExpired:
            log({"step": "bench", "name": name, "kernels": kernels, "precision": prec, "timeout": True})
            return None
        res = {"step": "bench", "name": name, "kernels": kernels, "rc": p.returncode,
               "wall_s": round(time.time() - t, 1), "stderr": p.stderr[-600:]}
        if p.returncode == 0:
            res.update(json.loads(p.stdout.strip().splitlines()[-1]))
        log(res)
        return prefix if p.returncode == 0 else None

    import numpy as np

    def agree_len(x, y):
        n = min(len(x), len(y), 64)
        k = 0
        while k < n and x[k] == y[k]:
            k += 1
        return k

    def stats(ours, ref):
        return {"rel_err": round(float(np.linalg.norm(ours - ref) / np.linalg.norm(ref)), 5),
                "argmax_equal": bool(ours.argmax() == ref.argmax()),
                "top5_overlap": len(set(np.argsort(-ours)[:5].tolist()) & set(np.argsort(-ref)[:5].tolist()))}

    def hf_outputs(prompt, n_decode):
        ids = torch.tensor(prompt[None, :].astype(np.int64), device="cuda")
        with torch.no_grad():
            ref = model(ids).logits[0, -1].float().cpu().numpy()
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_decode,
                                 do_sample=False, pad_token_id=0)[0, ids.shape[1]:].cpu().numpy()
        return ref, gen

    ours_all = {}
    hf_bf16 = {}

    def compare(prefix, prec, n_decode):
        prompt = np.fromfile(prefix + ".prompt", dtype=np.int32)
        ours = np.fromfile(prefix + ".logits", dtype=np.float32)
        toks = np.fromfile(prefix + ".tokens", dtype=np.int32)
        key = len(prompt)
        if key not in hf_bf16:
            hf_bf16[key] = (prompt,) + hf_outputs(prompt, n_decode)
        _, ref, gen = hf_bf16[key]
        ours_all[prec] = (key, ours, toks)
        log({"step": "compare", "name": name, "precision": prec, "against": "transformers bf16",
             **stats(ours, ref), "greedy_agree_first": agree_len(gen, toks), "greedy_compared": min(len(gen), len(toks), 64)})

    cpu_ref = os.environ.get("RS_CPU_REF") == name and not quick

    for prec in precisions:
        prefix = run_bench(prec, -1, 512, 128, 3 if quick else 5)
        if prefix:
            compare(prefix, prec, 64)
        for other in ("fused", "old", "pdl", "nopdl"):
            if os.environ.get("RS_AB_" + other.upper()) != "1":
                continue
            alt = run_bench(prec, -1, 512, 128, 3 if quick else 5, other)
            if alt and prefix:
                a = np.fromfile(prefix + ".logits", dtype=np.float32)
                b = np.fromfile(alt + ".logits", dtype=np.float32)
                log({"step": "default_vs_" + other, "name": name, "precision": prec, **stats(a, b),
                     "greedy_agree_first": agree_len(np.fromfile(alt + ".tokens", dtype=np.int32),
                                                     np.fromfile(prefix + ".tokens", dtype=np.int32))})
        if cpu_ref and prefix:
            # The CPU engine at the same precision: the kernels' own reference.
            cpre = os.path.join(work, f"{name}-{prec}-cpu")
            p = subprocess.run([bench, out_dir, prec, "cpu", "0", "512", "8", "1", cpre],
                               capture_output=True, text=True, timeout=300)
            if p.returncode == 0:
                a = np.fromfile(prefix + ".logits", dtype=np.float32)
                c = np.fromfile(cpre + ".logits", dtype=np.float32)
                t_gpu = np.fromfile(prefix + ".tokens", dtype=np.int32)[:8]
                t_cpu = np.fromfile(cpre + ".tokens", dtype=np.int32)
                log({"step": "gpu_vs_cpu", "name": name, "precision": prec, **stats(a, c),
                     "greedy_agree_first": agree_len(t_cpu, t_gpu), "greedy_compared": 8})
            else:
                log({"step": "gpu_vs_cpu", "name": name, "precision": prec, "rc": p.returncode,
                     "stderr": p.stderr[-400:]})
    if partial:
        prefix = run_bench("bf16", partial, 64, 32, 2)
        if prefix:
            compare(prefix, "bf16-partial", 32)

    # transformers' own decode: 128 greedy tokens after a 512-token prompt.
    ids = torch.randint(0, 32000, (1, 512), device="cuda")
    am = torch.ones_like(ids)
    rates = []
    with torch.no_grad():
        for r in range(3 if quick else 4):
            torch.cuda.synchronize()
            a = time.time()
            model(ids)
            torch.cuda.synchronize()
            b = time.time()
            model.generate(ids, attention_mask=am, max_new_tokens=128, min_new_tokens=128,
                           do_sample=False, pad_token_id=0)
            torch.cuda.synchronize()
            c = time.time()
            if r:
                rates.append(127 / ((c - b) - (b - a)))
    log({"step": "hf_decode", "name": name, "decode_tps": round(statistics.median(rates), 2),
         "runs": [round(x, 1) for x in rates], "prefill_tps": round(512 / (b - a), 1)})

    greedy = {}
    if os.environ.get("RS_GREEDY") == "1":
        # Three prompts of 16 random ids; rightsize feeds each one token at a
        # time through its decode path and continues greedily for 64 tokens.
        seeds = [12345, 1, 2]
        for prec in precisions:
            for seed in seeds:
                os.environ["CUDA_BENCH_SEED"] = str(seed)
                gp = run_bench(prec, -1, 16, 64, 1, kernels=f"seed{seed}", stepwise=True)
                if gp:
                    greedy[(prec, seed)] = (np.fromfile(gp + ".prompt", dtype=np.int32),
                                            np.fromfile(gp + ".tokens", dtype=np.int32))
        os.environ.pop("CUDA_BENCH_SEED", None)
        prompts = {seed: greedy[k][0] for k in greedy for seed in [k[1]]}
        gen_bf16 = {seed: hf_outputs(p, 64)[1] for seed, p in prompts.items()}
        model.float()
        gen_fp32 = {seed: hf_outputs(p, 64)[1] for seed, p in prompts.items()}

        def margin(prompt, ref, ours, k):
            # Where the two continuations part: the fp32 model's logit of its
            # own choice over the other engine's, in units of the logits' std.
            ids = np.concatenate([prompt, ref[:k]]).astype(np.int64)
            with torch.no_grad():
                lg = model(torch.tensor(ids[None, :], device="cuda")).logits[0, -1].float()
            return round(float((lg[int(ref[k])] - lg[int(ours[k])]) / lg.std()), 5)

        for seed, p in prompts.items():
            a = agree_len(gen_fp32[seed], gen_bf16[seed])
            log({"step": "greedy", "name": name, "seed": seed, "engine": "transformers bf16",
                 "against": "transformers fp32", "greedy_agree_first": a, "greedy_compared": 64,
                 "margin_std": margin(p, gen_fp32[seed], gen_bf16[seed], a) if a < 64 else None})
        for (prec, seed), (p, toks) in greedy.items():
            a = agree_len(gen_fp32[seed], toks)
            log({"step": "greedy", "name": name, "seed": seed, "engine": "rightsize " + prec,
                 "against": "transformers fp32", "greedy_agree_first": a, "greedy_compared": 64,
                 "vs_transformers_bf16": agree_len(gen_bf16[seed], toks),
                 "margin_std": margin(p, gen_fp32[seed], toks, a) if a < 64 else None})
        model.to(torch.bfloat16)

    if quick:
        return
    # The fp32 model as the reference both bf16 engines are measured against:
    # "within bf16 tolerance" means rightsize is no further from it than
    # transformers' own bf16 run.
    model.float()
    for key, (prompt, ref_bf16, gen_bf16) in hf_bf16.items():
        ref32, gen32 = hf_outputs(prompt, 64 if key == 512 else 32)
        log({"step": "fp32_ref", "name": name, "n_prompt": key, "engine": "transformers bf16",
             **stats(ref_bf16, ref32), "greedy_agree_first": agree_len(gen32, gen_bf16)})
        for prec, (k, ours, toks) in ours_all.items():
            if k == key:
                log({"step": "fp32_ref", "name": name, "n_prompt": key, "engine": "rightsize " + prec,
                     **stats(ours, ref32), "greedy_agree_first": agree_len(gen32, toks)})


if __name__ == "__main__":
    main()
