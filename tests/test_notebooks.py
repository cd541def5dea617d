"""Every notebook runs top to bottom in a real kernel (nbclient)."""
import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")) +
                   glob.glob(os.path.join(ROOT, "js", "notebooks", "*.ipynb")))


def run(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return nb


def text_of(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                out.append(o["text"])
            elif o.get("output_type") == "error":
                raise AssertionError(f"{o['ename']}: {o['evalue']}")
    return "".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.relpath(p, ROOT) for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = run(path)
    text = text_of(nb)
    widgets = [o for c in nb.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "the notebook shows an editor"
    if path.endswith("quickstart.ipynb"):
        assert "d1 weights bit-identical: True" in text
        assert "the source model is unchanged: 64 units, relu" in text
        assert "dense: kernel (72, 10) is new" in text
        assert "after undo: ['pixels', 'd1', 'd2', 'head']" in text
        assert "after redo: ['pixels', 'd1', 'drop', 'd2', 'head']" in text
        assert "kw.insert_layer(model, keras.layers.Dropout(rate=0.2, name='drop')" in text
        diff = float(text.split("max difference to numpy:")[1].split()[0])
        assert diff < 1e-5
        assert len(widgets) == 4


def test_notebooks_are_found():
    assert any(p.endswith("quickstart.ipynb") for p in NOTEBOOKS)
