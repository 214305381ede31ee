#!/usr/bin/env bash
# The main job: plan a catalog model on this machine's detected hardware.
set -euo pipefail
bin=$1
model=${2:-qwen2.5-7b-instruct}
echo "\$ rightsize hw"
"$bin" hw
echo
echo "\$ rightsize plan $model"
"$bin" plan "$model"
