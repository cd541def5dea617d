"""The README's first command, `bash scripts/lab.sh`: it starts JupyterLab at the project root
and prints one URL that opens the quickstart; the URL answers; the command stops on SIGTERM."""
import hashlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stamped(venv):
    """Whether scripts/setup.sh would skip installing into ``venv`` (same check as the script)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(os.path.join(venv, ".keras-widget-installed")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return False
    return any(line in lines for line in (f"{digest} {ROOT} lab", f"{digest} {ROOT} test"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_until_url(proc, seconds):
    """stdout of ``proc`` until a line with a URL (or ``seconds`` pass, or it exits)."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    out, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            out += lines.get(timeout=1)
        except queue.Empty:
            continue
        if "http://" in out:
            break
    return out


def test_lab_command_prints_one_url_that_opens_the_quickstart():
    # scripts/test.sh sources scripts/setup.sh, which exports VENV and stamps the install; run
    # alone (pytest in a shared venv) the script would install into that venv: skip then.
    venv = os.environ.get("VENV")
    if venv is None:
        venv = os.path.join(ROOT, ".venv")
        if not stamped(venv):
            pytest.skip("scripts/lab.sh would install into .venv; run through scripts/test.sh")
    assert stamped(venv), f"scripts/setup.sh left no current stamp in {venv}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["VENV"] = venv
    proc = subprocess.Popen(
        ["bash", os.path.join(ROOT, "scripts", "lab.sh"), f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0"],
        cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        out = read_until_url(proc, 120)
        urls = re.findall(r"https?://\S+", out)
        assert len(urls) == 1, out
        assert "Installing" not in out, out  # installed once, not again on every start
        url = urls[0]
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/quickstart.ipynb"
                              "?token="), url
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200
            page = r.read().decode()
        # JupyterLab's page config names the file the page opens, relative to the server root.
        assert re.search(r'"treePath":\s*"notebooks/quickstart.ipynb"', page), page[:500]
        token = url.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api/contents/notebooks/quickstart.ipynb?token={token}"
        with urllib.request.urlopen(api, timeout=30) as r:
            assert json.load(r)["type"] == "notebook"  # the server root is the project root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    with socket.socket() as s:  # the server is gone, its port free
        assert s.connect_ex(("127.0.0.1", port)) != 0
