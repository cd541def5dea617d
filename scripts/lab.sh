#!/usr/bin/env bash
# Install (when needed), then start JupyterLab at the project root and print the one URL that
# opens notebooks/quickstart.ipynb. Extra arguments go to JupyterLab (e.g. --port=8899).
# Stop it with Control-C (twice to skip Jupyter's question).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/setup.sh" lab
cd "$root"

page="lab/tree/notebooks/quickstart.ipynb"
args=(--ServerApp.root_dir="$root" --ServerApp.default_url="/$page")
# Jupyter refuses to start as root without this (containers, CI machines).
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
# Without a display there is no browser to open.
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" != Darwin ]; then
    args+=(--no-browser)
fi

# Jupyter prints several URLs among its log lines; its log goes to a file and the one URL is
# read from the server's info file (jpserver-<pid>.json, the pid is ours after exec).
log="$(mktemp "${TMPDIR:-/tmp}/keras-widget-lab.XXXXXX")"
info="$("$VENV/bin/jupyter" --runtime-dir)/jpserver-$$.json"
rm -f "$info"
(
    while [ ! -s "$info" ]; do
        if ! kill -0 $$ 2> /dev/null; then
            tail -n 20 "$log" >&2
            echo "JupyterLab did not start; its log is in $log" >&2
            exit 1
        fi
        sleep 0.2
    done
    sleep 0.2  # the file is written in one go, but let the writer close it
    url="$("$VENV/bin/python" -c 'import json, sys; i = json.load(open(sys.argv[1]))
print(i["url"] + sys.argv[2] + "?token=" + i["token"])' "$info" "$page")"
    echo
    echo "JupyterLab is running (log: $log). Open the quickstart:"
    echo
    echo "    $url"
    echo
) &
exec "$VENV/bin/jupyter" lab "${args[@]}" "$@" 2> "$log"
