#!/usr/bin/env bash
# Create .venv with Python 3.11 (once) and install keras-widget into it with the given extra.
# Usage: source scripts/setup.sh lab|test
set -euo pipefail
extra="${1:-lab}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3.11}"
if [ ! -x "$root/.venv/bin/python" ]; then
    "$python" -m venv "$root/.venv"
fi
"$root/.venv/bin/python" -m pip install --quiet --upgrade pip
"$root/.venv/bin/python" -m pip install --quiet -e "$root[$extra]"
export KERAS_BACKEND=tensorflow
export TF_CPP_MIN_LOG_LEVEL=3
