#!/usr/bin/env bash
# Create the virtual environment with Python 3.11 (once) and install keras-widget into it with
# the given extra, only when pyproject.toml changed since the last install (a stamp in the venv).
# Usage: source scripts/setup.sh lab|test     (VENV=/some/dir to use another venv than .venv)
set -euo pipefail
extra="${1:-lab}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3.11}"
VENV="${VENV:-$root/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV with $python"
    "$python" -m venv "$VENV"
fi
# One line per installed extra: "<sha256 of pyproject.toml> <project root> <extra>". The test
# extra holds everything the lab extra does.
stamp="$VENV/.keras-widget-installed"
hash="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
installed=no
if [ -f "$stamp" ]; then
    for have in "$extra" $([ "$extra" = lab ] && echo test); do
        grep -qxF "$hash $root $have" "$stamp" && installed=yes
    done
fi
if [ "$installed" = no ]; then
    log="$VENV/install.log"
    echo "Installing keras-widget[$extra] into $VENV (a few minutes the first time; log: $log)"
    # pip and setuptools talk a lot (build warnings of the editable install): the log keeps it.
    if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
           "$VENV/bin/python" -m pip install -e "$root[$extra]"; } > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "Installing failed; the whole output is in $log" >&2
        exit 1
    fi
    echo "$hash $root $extra" >> "$stamp"
fi
export VENV
export KERAS_BACKEND=tensorflow
export TF_CPP_MIN_LOG_LEVEL=3
