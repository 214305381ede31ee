#!/usr/bin/env bash
# Installs the Debian packages rightsize builds against, only those missing.
# Runs as root (CI, containers) or through sudo where that exists.
set -euo pipefail

packages=(
    cmake make gcc pkg-config
    libcjson-dev      # config.json, tokenizer.json, safetensors headers
    libpcre2-dev      # tokenizer pre-tokenizer regexes
    libutf8proc-dev   # Unicode normalization and categories
    libedit-dev       # line editing in `rightsize chat`
    libcmocka-dev     # unit tests
    clang libclang-rt-14-dev  # libFuzzer targets and sanitizers
    python3-venv      # reference tools in tools/ (never the C tests)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
    { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
