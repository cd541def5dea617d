#!/usr/bin/env bash
# Install everything, then open JupyterLab on the quickstart notebook.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/setup.sh" lab
cd "$root"
exec .venv/bin/jupyter lab notebooks/quickstart.ipynb "$@"
