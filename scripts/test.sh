#!/usr/bin/env bash
# Install everything and run the whole test suite: pytest (core, cases, notebooks, widget)
# and the browser tests in a real JupyterLab in headless Chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/setup.sh" test
cd "$root"

# Debian's Chromium for the browser tests (nothing is downloaded by a test tool).
if ! command -v chromium > /dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq chromium > /dev/null
fi
(cd js && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

mkdir -p artifacts
.venv/bin/python -m pytest "$@"
bash js/run-e2e.sh
