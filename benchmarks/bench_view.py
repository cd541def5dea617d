"""The editor in a real JupyterLab, against Netron, in the same headless Chromium.

For each model (``keras.applications``, ``weights=None``): from running the cell
``kw.ModelEditor(model)`` (model already built) to the graph drawn; click → panel filled;
Apply (a rename from the panel) → the renamed box drawn; the kernel-side rebuild alone
(``kw.rename_layer``); and Netron 9 drawing the saved ``.keras`` file, from its consent click to
the first drawn node. IOPub message counts per step are in ``tests/test_budget.py``.

Run from the project root (needs js/node_modules and Chromium, as the browser tests)::

    .venv/bin/python benchmarks/bench_view.py [ResNet50 DenseNet201 ...]

Writes ``benchmarks/results_view.md``.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ["ResNet50", "DenseNet201", "EfficientNetB7", "InceptionResNetV2", "NASNetLarge"]
# A layer at the top level of the default view (not inside a block), to click and rename.
CLICK = {"ResNet50": "conv1_conv", "DenseNet201": "conv1_conv", "EfficientNetB7": "stem_conv",
         "InceptionResNetV2": "conv2d", "NASNetLarge": "stem_conv1"}


def notebook(name):
    cells = [
        "import os\nos.environ.setdefault('KERAS_BACKEND', 'tensorflow')\nimport keras\n"
        f"import keras_widget as kw\nmodel = keras.applications.{name}(weights=None)",
        "ed = kw.ModelEditor(model)\ned",
    ]
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                       "metadata": {}, "outputs": [], "source": src}
                      for i, src in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                        "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def rebuild_seconds(name, work):
    """The kernel-side rebuild alone (a rename from the panel), and the saved .keras file."""
    import keras

    import keras_widget as kw

    model = getattr(keras.applications, name)(weights=None)
    path = work / f"{name}.keras"
    model.save(path)
    t0 = time.perf_counter()
    kw.rename_layer(model, CLICK[name], CLICK[name] + "_x")
    return time.perf_counter() - t0, path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(models):
    import netron

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_view_"))
    out_dir = ROOT / "artifacts" / "bench_view"
    nb_dir = out_dir / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    rebuild, files = {}, {}
    for name in models:
        rebuild[name], files[name] = rebuild_seconds(name, work)
        (nb_dir / f"{name}.ipynb").write_text(json.dumps(notebook(name)))
    port = int(os.environ.get("E2E_PORT", "8860"))
    token = secrets.token_hex(16)
    state = work / "lab"
    (state / "settings" / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (state / "settings" / "@jupyterlab" / "apputils-extension" /
     "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
           "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT)}
    lab = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--allow-root", f"--ServerApp.root_dir={ROOT}", "--LabApp.collaborative=False"],
        env=env, stdout=open(out_dir / "jupyterlab.log", "w"), stderr=subprocess.STDOUT)
    netron_urls = {}
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                time.sleep(1)
        for name in models:
            # A free loopback port each (the ports next to E2E_PORT may be another run's).
            address = netron.start(str(files[name]), address=("127.0.0.1", free_port()),
                                   browse=False)
            netron_urls[name] = f"http://{address[0]}:{address[1]}/"
        cfg = {"lab": f"http://127.0.0.1:{port}", "token": token, "shots": str(out_dir),
               "notebooks": {n: f"artifacts/bench_view/notebooks/{n}.ipynb" for n in models},
               "netron": netron_urls, "click": CLICK}
        run = subprocess.run(["node", str(ROOT / "benchmarks" / "bench_view.mjs"),
                              json.dumps(cfg)], capture_output=True, text=True, cwd=ROOT / "js")
        if run.returncode:
            sys.exit(run.stderr)
        results = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        for url in netron_urls.values():
            netron.stop(("127.0.0.1", int(url.rstrip("/").rsplit(":", 1)[1])))
        lab.terminate()
        lab.wait()
        shutil.rmtree(work, ignore_errors=True)
    rows = ["| model | cell → graph drawn | Netron: consent → drawn | click → panel | "
            "Apply → view | rebuild alone |", "|---|---:|---:|---:|---:|---:|"]
    for name in models:
        r = results.get(name, {})

        def fmt(key, unit="s", r=r):
            return f"{r[key]:.2f} {unit}" if key in r else r.get("error", "—")[:40]
        rows.append(f"| {name} | {fmt('open_s')} | "
                    f"{fmt('netron_s') if 'netron_s' in r else r.get('netron_error', '—')[:40]}"
                    f" | {fmt('click_ms', 'ms')} | {fmt('apply_s')} | {rebuild[name]:.2f} s |")
    table = "\n".join(rows)
    print(table)
    (ROOT / "benchmarks" / "results_view.md").write_text(table + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or MODELS)
