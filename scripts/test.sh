#!/usr/bin/env bash
# Install everything and run the whole test suite: pytest (core, cases, notebooks, widget)
# and the browser tests in a real JupyterLab in headless Chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/setup.sh" test
cd "$root"

# The browser tests need Debian's Chromium (no test tool downloads a browser) and Node.js;
# the SVG export needs Graphviz.
missing=""
command -v chromium > /dev/null 2>&1 || missing="$missing chromium"
command -v npm > /dev/null 2>&1 || missing="$missing nodejs npm"
command -v dot > /dev/null 2>&1 || missing="$missing graphviz"  # the editor's SVG export
if [ -n "$missing" ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    # shellcheck disable=SC2086
    $sudo_cmd apt-get install -y -qq $missing > /dev/null
fi
(cd js && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

mkdir -p artifacts
"$VENV/bin/python" -m pytest "$@"   # tests/test_lab.py starts scripts/lab.sh in this venv
bash js/run-e2e.sh
