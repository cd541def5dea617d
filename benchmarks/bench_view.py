"""The editor in a real JupyterLab, against Netron, in the same headless Chromium.

For each model (``keras.applications``, ``weights=None``, and a keras-hub BERT backbone built from
a small config: 12 transformer layers, hidden size 128, no preset): from running the cell
``kw.ModelEditor(model)`` (model already built) to the graph drawn; click → panel filled (the
title and details of the layer; timed in the page, from the mouse press) and → the panel's last
change (the preview of the prefilled action, a dry run); Apply (a rename from the panel) → the
renamed box drawn (timed in the page too); the kernel-side rebuild alone (``kw.rename_layer``,
each time after a garbage collection); and Netron 9 drawing the saved ``.keras`` file, from its
consent click to the first drawn node. IOPub message counts per step are in ``tests/test_budget.py``.

Run from the project root (needs js/node_modules and Chromium, as the browser tests)::

    .venv/bin/python benchmarks/bench_view.py [ResNet50 DenseNet201 ...]

Each measure is the median of ``BENCH_ROUNDS`` rounds (3 unless set); each round opens every
notebook in a new kernel. Writes ``benchmarks/results_view.md``.
"""
from __future__ import annotations

import gc
import json
import os
import pathlib
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # each measure: the median of the rounds
MODELS = ["ResNet50", "DenseNet201", "EfficientNetB7", "InceptionResNetV2", "NASNetLarge",
          "BertBackbone"]
# keras-hub backbones: built from a config (there is no preset download here).
HUB = {"BertBackbone": "keras_hub.models.BertBackbone(vocabulary_size=1000, num_layers=12, "
                       "num_heads=2, hidden_dim=128, intermediate_dim=256, "
                       "max_sequence_length=128)"}
# A layer drawn near the top of the default view (not in a closed block), to click and rename.
CLICK = {"ResNet50": "conv1_conv", "DenseNet201": "conv1_conv", "EfficientNetB7": "stem_conv",
         "InceptionResNetV2": "conv2d", "NASNetLarge": "stem_conv1",
         "BertBackbone": "token_embedding"}


def build_source(name):
    """The code that builds ``model``: the benchmark's notebook runs it, and so does the rebuild
    timing."""
    if name in HUB:
        return f"import keras_hub\nmodel = {HUB[name]}"
    return f"model = keras.applications.{name}(weights=None)"


def notebook(name):
    cells = [
        "import os\nos.environ.setdefault('KERAS_BACKEND', 'tensorflow')\nimport keras\n"
        f"import keras_widget as kw\n{build_source(name)}",
        "ed = kw.ModelEditor(model)\ned",
    ]
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                       "metadata": {}, "outputs": [], "source": src}
                      for i, src in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                        "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def rebuild_seconds(name, work):
    """The kernel-side rebuild alone (a rename from the panel; the median of the rounds), and
    the saved .keras file."""
    import keras

    import keras_widget as kw

    scope = {"keras": keras}
    exec(build_source(name), scope)
    model = scope["model"]
    path = work / f"{name}.keras"
    if name in HUB:
        # A keras-hub backbone saves its constructor arguments, not its layers: Netron draws
        # one node. The same graph as a plain functional model is what Netron can read.
        keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    else:
        model.save(path)
    times = []
    for _ in range(ROUNDS):
        gc.collect()  # the garbage of the round before is not this round's
        t0 = time.perf_counter()
        kw.rename_layer(model, CLICK[name], CLICK[name] + "_x")
        times.append(time.perf_counter() - t0)
    return statistics.median(times), path


def _end_sessions(port, token):
    """Shut down the kernels JupyterLab holds (one per notebook opened in an earlier round)."""
    base = f"http://127.0.0.1:{port}/api/sessions"
    with urllib.request.urlopen(f"{base}?token={token}") as answer:
        sessions = json.load(answer)
    for session in sessions:
        urllib.request.urlopen(urllib.request.Request(
            f"{base}/{session['id']}?token={token}", method="DELETE"))


def _medians(rounds):
    """``{model: {measure: median over the rounds}}``; an error is kept when a round had one."""
    out = {}
    for name in {n for r in rounds for n in r}:
        got = [r.get(name, {}) for r in rounds]
        out[name] = {k: statistics.median(g[k] for g in got if k in g)
                     for k in {k for g in got for k, v in g.items() if not isinstance(v, str)}}
        out[name].update({k: v for g in got for k, v in g.items() if isinstance(v, str)})
    return out


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
    netron_urls, netron_addresses = {}, []
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                time.sleep(1)
        for name in models:  # port 0: a free port (other servers run on this machine)
            address = netron.start(str(files[name]), address=("127.0.0.1", 0), browse=False)
            netron_urls[name] = f"http://{address[0]}:{address[1]}/"
            netron_addresses.append(address)
        cfg = {"lab": f"http://127.0.0.1:{port}", "token": token, "shots": str(out_dir),
               "notebooks": {n: f"artifacts/bench_view/notebooks/{n}.ipynb" for n in models},
               "netron": netron_urls, "click": CLICK}
        rounds = []
        for _ in range(ROUNDS):
            _end_sessions(port, token)  # each round opens each notebook in a new kernel
            run = subprocess.run(["node", str(ROOT / "benchmarks" / "bench_view.mjs"),
                                  json.dumps(cfg)], capture_output=True, text=True,
                                  cwd=ROOT / "js")
            if run.returncode:
                sys.exit(run.stderr)
            rounds.append(json.loads(run.stdout.strip().splitlines()[-1]))
        results = _medians(rounds)
    finally:
        for address in netron_addresses:
            netron.stop(address)
        lab.terminate()
        lab.wait()
        shutil.rmtree(work, ignore_errors=True)
    rows = ["| model | cell → graph drawn | Netron: consent → drawn | click → panel | "
            "click → preview | Apply → view | rebuild alone |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name in models:
        r = results.get(name, {})

        def fmt(key, unit="s", r=r):
            if key not in r:
                return r.get("error", "—")[:40]
            return f"{r[key]:.2f} s" if unit == "s" else f"{r[key]:.0f} ms"
        rows.append(f"| {name} | {fmt('open_s')} | "
                    f"{fmt('netron_s') if 'netron_s' in r else r.get('netron_error', '—')[:40]}"
                    f" | {fmt('click_ms', 'ms')} | {fmt('settle_ms', 'ms')} | {fmt('apply_s')}"
                    f" | {rebuild[name]:.2f} s |")
    table = "\n".join(rows)
    print(table)
    (ROOT / "benchmarks" / "results_view.md").write_text(table + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or MODELS)
