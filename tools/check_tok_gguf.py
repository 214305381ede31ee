#!/usr/bin/env python3
"""Checks rightsize's GGUF tokenizer path for Llama 3 and Qwen2 (whose
llama.cpp vocab GGUFs are too big to stage): writes vocab-only GGUFs from
testdata/tokenizers/{llama3,qwen3}/tokenizer.json the way llama.cpp's
convert_hf_to_gguf.py does for BPE models (tokens, token types, "a b"
merges, tokenizer.ggml.pre), then runs `rightsize tokenize --ids` on every
llama.cpp vector of llama-bpe / qwen2 and compares with the .out lines.

Usage: /work/venv/bin/python tools/check_tok_gguf.py BUILD/rightsize TESTDATA OUTDIR
Prints one line per vocabulary: NAME PASS/TOTAL. Exit 1 on any mismatch.
"""
import json
import os
import subprocess
import sys

import gguf


def write_gguf(tok_dir, pre, path):
    tj = json.load(open(os.path.join(tok_dir, "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    added = {a["id"]: a for a in tj["added_tokens"]}
    n = max(max(vocab.values()), max(added) if added else 0) + 1
    tokens = ["[PAD%d]" % i for i in range(n)]
    types = [gguf.TokenType.UNUSED] * n
    for t, i in vocab.items():
        tokens[i] = t
        types[i] = gguf.TokenType.NORMAL
    for i, a in added.items():
        tokens[i] = a["content"]
        types[i] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    binary, td, out = sys.argv[1:4]
    bad = 0
    for tok, pre, vec in [("llama3", "llama-bpe", "llama-bpe"), ("qwen3", "qwen2", "qwen2")]:
        path = os.path.join(out, "%s-vocab.gguf" % tok)
        write_gguf(os.path.join(td, "tokenizers", tok), pre, path)
        inp = open(os.path.join(td, "vocab-tests", "ggml-vocab-%s.gguf.inp" % vec), "rb").read()
        outl = open(os.path.join(td, "vocab-tests", "ggml-vocab-%s.gguf.out" % vec)).read().split("\n")
        texts = inp.split(b"\n__ggml_vocab_test__\n")[:-1]
        ok = 0
        for i, t in enumerate(texts):
            r = subprocess.run([binary, "tokenize", path, "-", "--ids"], input=t, capture_output=True)
            got = r.stdout.decode().strip()
            if got == outl[i].strip():
                ok += 1
            else:
                print("  %s vector %d: want %s got %s %s" % (vec, i + 1, outl[i].strip(), got, r.stderr.decode()))
        print("%s (GGUF from tokenizer.json, pre=%s) %d/%d" % (vec, pre, ok, len(texts)))
        bad += len(texts) - ok
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
