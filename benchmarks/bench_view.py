"""The editor's speed in a real JupyterLab in headless Chromium, against Netron, in one run.

For each model: the time from running the cell ``kw.ModelEditor(model)`` to the graph drawn
(boxes on the canvas, laid out top to bottom), click -> panel filled, Apply (a rename) ->
refreshed view, the kernel-side rebuild alone, and the IOPub messages each step sends; and
Netron 9 (``pip install netron``) drawing the same model saved as ``.keras``, from its consent
click to the first drawn node, in the same browser.

    .venv/bin/python benchmarks/bench_view.py                  # every model (about 10 minutes)
    .venv/bin/python benchmarks/bench_view.py ResNet50 DenseNet201

Needs the project's .venv (scripts/test.sh makes it), js/node_modules (npm ci in js/) and
Debian's chromium. Writes benchmarks/view_results.md.
"""
from __future__ import annotations

import datetime
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

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# model name -> (code that builds `m`, a layer to click)
MODELS = {
    "ResNet50": ("keras.applications.ResNet50(weights=None)", "conv3_block2_2_conv"),
    "DenseNet201": ("keras.applications.DenseNet201(weights=None)", "conv3_block2_1_conv"),
    "EfficientNetB7": ("keras.applications.EfficientNetB7(weights=None)", "block3a_expand_conv"),
    "InceptionResNetV2": ("keras.applications.InceptionResNetV2(weights=None)", "conv2d_10"),
    "NASNetLarge": ("keras.applications.NASNetLarge(weights=None)", "normal_conv_1_1"),
    "BertBackbone": ("__import__('keras_hub').models.BertBackbone(vocabulary_size=1000, "
                     "num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=256)",
                     "transformer_layer_1"),
}
ENV = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, seconds=120):
    for _ in range(seconds * 4):
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} stopped") from None
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer")


def notebook(build, path):
    cells = [
        "import os, time\nos.environ.setdefault('KERAS_BACKEND', 'tensorflow')\n"
        f"import keras\nimport keras_widget as kw\nm = {build}\nm.summary(print_fn=lambda *a, **k: None)",
        "ed = kw.ModelEditor(m)\ned",
        "name = [l.name for l in ed.model.layers if l.name.endswith('_renamed')][0]\n"
        "t = time.perf_counter()\nkw.rename_layer(ed.model, name, name + '2')\n"
        "print(f'rebuild_s={time.perf_counter() - t:.3f}')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, path)


def save_keras(build, path):
    code = (f"import keras\nm = {build}\nm.save({str(path)!r})")
    subprocess.run([PYTHON, "-c", code], env=ENV, check=True, capture_output=True)


def main(names):
    (ROOT / "artifacts").mkdir(exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_view_", dir=ROOT / "artifacts"))
    shots = ROOT / "artifacts" / "bench"
    shots.mkdir(parents=True, exist_ok=True)
    procs, models = [], []
    try:
        token = secrets.token_hex(16)
        lab_port = free_port()
        lab = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "jupyter"), "lab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={lab_port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"],
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(lab)
        for name in names:
            build, click = MODELS[name]
            keras_file = work / f"{name}.keras"
            try:
                save_keras(build, keras_file)
            except subprocess.CalledProcessError as exc:
                print(f"{name}: skipped ({exc.stderr.decode().strip().splitlines()[-1]})")
                continue
            notebook(build, work / f"{name}.ipynb")
            port = free_port()
            netron = subprocess.Popen(
                [PYTHON, "-c", "import netron, sys, time; netron.start(sys.argv[1], "
                 "address=('127.0.0.1', int(sys.argv[2])), browse=False); time.sleep(10**6)",
                 str(keras_file), str(port)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            procs.append(netron)
            wait_http(f"http://127.0.0.1:{port}/", netron)
            models.append({"name": name, "click": click, "netron": f"http://127.0.0.1:{port}/",
                           "notebook": str((work / f"{name}.ipynb").relative_to(ROOT))})
        wait_http(f"http://127.0.0.1:{lab_port}/api/status?token={token}", lab)
        bench = {"lab": f"http://127.0.0.1:{lab_port}", "token": token, "models": models,
                 "shots": str(shots), "chromium": os.environ.get("CHROMIUM", "/usr/bin/chromium")}
        out = subprocess.run(["node", str(ROOT / "benchmarks" / "bench_view.js")],
                             env={**ENV, "BENCH": json.dumps(bench),
                                  "NODE_PATH": str(ROOT / "js" / "node_modules")},
                             capture_output=True, text=True, check=False)
        results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode:
            print(out.stdout, out.stderr, file=sys.stderr)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    write(results)


def write(results):
    lines = [f"Measured {datetime.date.today()} on {os.cpu_count()} cores, headless Chromium, "
             "JupyterLab with default settings. Times in seconds; messages are IOPub messages "
             "that reached the page.", "",
             "| model | boxes drawn | open → drawn | Netron → first node | open msgs | "
             "click → panel | click msgs | Apply → view | rebuild alone | Apply msgs | "
             "console errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = lambda ms: "—" if ms is None else f"{ms / 1000:.2f}"  # noqa: E731
        lines.append(f"| {r['model']} | {r['boxes']} | {s(r['open_ms'])} | {s(r['netron_ms'])} | "
                     f"{r['open_messages']} | {s(r['click_ms'])} | {r['click_messages']} | "
                     f"{s(r['apply_ms'])} | {r['rebuild_s']:.2f} | {r['apply_messages']} | "
                     f"{r['console_errors']} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "view_results.md").write_text(text)
    print(text)
    for r in results:
        if r["first_errors"]:
            print(r["model"], "console:", *r["first_errors"], sep="\n  ")


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
