#!/usr/bin/env bash
# Start JupyterLab on a loopback port, run the browser tests against it, stop it.
# Expects the project's .venv (scripts/test.sh makes it) and js/node_modules (npm ci).
set -euo pipefail
js="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$js")"
port="${E2E_PORT:-8899}"
token="$("$root/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
state="$(mktemp -d)"
mkdir -p "$root/artifacts/e2e" "$state/settings/@jupyterlab/apputils-extension"
# No news or update checks (there is no internet here) and no pop-up asking about them.
echo '{"fetchNews": "false", "checkForUpdates": false}' \
    > "$state/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
export JUPYTERLAB_SETTINGS_DIR="$state/settings" JUPYTERLAB_WORKSPACES_DIR="$state/workspaces"
export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3

# Fresh copies of the test notebooks: the tests run and change them.
rm -rf "$root/artifacts/e2e/notebooks"
cp -r "$js/notebooks" "$root/artifacts/e2e/notebooks"

"$root/.venv/bin/jupyter" lab --no-browser --ip=127.0.0.1 --port="$port" \
    --ServerApp.port_retries=0 --IdentityProvider.token="$token" --allow-root \
    --ServerApp.root_dir="$root" --LabApp.collaborative=False \
    > "$root/artifacts/e2e/jupyterlab.log" 2>&1 &
lab=$!
stop() { kill "$lab" 2>/dev/null || true; wait "$lab" 2>/dev/null || true; rm -rf "$state"; }
trap stop EXIT

up() {
    "$root/.venv/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1])" \
        "http://127.0.0.1:$port/api/status?token=$token" > /dev/null 2>&1
}
for _ in $(seq 120); do
    up && break
    if ! kill -0 "$lab" 2>/dev/null; then cat "$root/artifacts/e2e/jupyterlab.log"; exit 1; fi
    sleep 1
done
up || { echo "JupyterLab did not answer on port $port"; cat "$root/artifacts/e2e/jupyterlab.log"; exit 1; }

cd "$js"
JUPYTER_URL="http://127.0.0.1:$port" JUPYTER_TOKEN="$token" npx playwright test "$@"
