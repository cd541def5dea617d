"""Every notebook runs top to bottom in a real kernel (nbclient)."""
import glob
import os
import re

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


def stderr_of(nb):
    """What the notebook shows in red: TensorFlow's start-up lines, warnings."""
    return [o["text"] for cell in nb.cells for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def clicked_editors(nb):
    """Names of editors a code cell displays (its last line) that a later cell edits with a
    method (``name.replace_layer(...)``): the reader clicking there would find it edited."""
    shown, edited = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines = cell.source.strip().splitlines()
        if lines and lines[-1].isidentifier():
            shown.append((i, lines[-1]))
    for i, name in shown:
        for later in nb.cells[i + 1:]:
            if later.cell_type == "code" and re.search(
                    rf"\b{name}\.(replace_layer|insert_layer|delete_layer|edit_layer|"
                    rf"rename_layer|set_input_shape|replace_all|add_output|remove_output|"
                    rf"inline_model|apply|undo|redo|reset)\(", later.source):
                edited.append(name)
    return edited


LESSONS = {
    "01_functional_api.ipynb": ["outputs: {'price': (2, 1), 'category': (2, 4)}",
                                "calls of the shared layer: 2",
                                'encoder = keras.Model(inputs=enc_in, outputs=code, '
                                'name="encoder")', "all checks passed"],
    "02_replace_layers.ipynb": ["head kernel: (64, 10) -> (128, 10)", "same code as by hand: True",
                                "dense: kernel (72, 10) is new", "all checks passed"],
    "03_backbone_surgery.ipynb": ["Conv1': 'kernel (3, 3, 1, 16) is new",
                                  "['input_layer', 'to_unit_range', 'Conv1', 'bn_Conv1']",
                                  "trainable weights: ['predictions/kernel', 'predictions/bias']",
                                  "all checks passed"],
    "04_exercises.ipynb": ["Not yet: layer 2 is Dense {'units': 32, 'activation': 'relu'}, the "
                           "target has Dropout {'rate': 0.3}.",
                           "Well done: the model matches the target.", "all checks passed"],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.relpath(p, ROOT) for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = run(path)
    text = text_of(nb)
    widgets = [o for c in nb.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "the notebook shows an editor"
    assert stderr_of(nb) == []
    if os.path.dirname(path) == os.path.join(ROOT, "notebooks"):  # the reader's notebooks
        assert clicked_editors(nb) == []
    name = os.path.basename(path)
    for line in LESSONS.get(name, []):
        assert line in text, line
    if path.endswith("quickstart.ipynb"):
        assert "d1 weights bit-identical: True" in text
        assert "the source model is unchanged: 64 units, relu" in text
        assert "dense: kernel (72, 10) is new" in text
        assert "after undo: ['pixels', 'd1', 'd2', 'head']" in text
        assert "after redo: ['pixels', 'd1', 'drop', 'd2', 'head']" in text
        assert "kw.insert_layer(model, keras.layers.Dropout(rate=0.2, name='drop')" in text
        assert 'x = layers.Dropout(0.2, name="drop")(x)' in text  # the functional-API source
        diff = float(text.split("max difference to numpy:")[1].split()[0])
        assert diff < 1e-5
        assert len(widgets) == 4


def test_notebooks_are_found():
    names = {os.path.basename(p) for p in NOTEBOOKS}
    assert {"quickstart.ipynb", *LESSONS} <= names


def test_an_editor_edited_after_it_is_shown_is_found():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("ed = kw.ModelEditor(m)\ned"),
                                         nbformat.v4.new_code_cell("ed.replace_layer('d', x)")])
    assert clicked_editors(nb) == ["ed"]
