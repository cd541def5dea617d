"""dry_run=True on every edit: the same report (or the same EditError) as the real edit, no model,
no weight memory. Checked on every edit the other test files make: each of their tests runs again
with every edit preceded by its dry run, whose report must equal the real one."""
import importlib
import inspect
import os

import keras
import numpy as np
import psutil
import pytest
from keras import layers

import keras_widget as kw
from keras_widget import keras_internals as ki
from keras_widget import surgery
from helpers import each_edit_dry_run_first, report_fields
from keras_widget.edits import EDITS, Edit

MODULES = ["test_edits", "test_replace", "test_traps", "test_cases", "test_faults",
           "test_editor"]
# 36 edits in a row on MobileNet (two minutes again in CI); its kinds of edit on keras.applications
# models are dry-run by c03, c06 and c10.
LEFT_OUT = {"test_c15_kernel_regularizers"}


def _cases():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not inspect.isfunction(fn) or name in LEFT_OUT:
                continue
            source = inspect.getsource(fn)
            if not any(k in source for k in list(EDITS) + ["Edit("]):
                continue  # a test that makes no edit
            marks = getattr(fn, "pytestmark", [])
            slow = [pytest.mark.slow] if any(m.name == "slow" for m in marks) else []
            params = [m for m in marks if m.name == "parametrize"]
            if not params:
                yield pytest.param(fn, {}, id=f"{module_name}.{name}", marks=slow)
                continue
            (mark,) = params
            names = [n.strip() for n in mark.args[0].split(",")] if isinstance(
                mark.args[0], str) else list(mark.args[0])
            for i, values in enumerate(mark.args[1]):
                values = values if len(names) > 1 else (values,)
                yield pytest.param(fn, dict(zip(names, values)), id=f"{module_name}.{name}[{i}]",
                                   marks=slow)


@pytest.fixture
def every_edit_dry_run_first():
    """Each real edit is preceded by its dry run; their reports (or errors) must be equal."""
    with each_edit_dry_run_first() as checked:
        yield checked


@pytest.mark.parametrize("test, params", list(_cases()))
def test_a_dry_run_reports_what_the_edit_does(test, params, every_edit_dry_run_first, request):
    fixtures = {name: request.getfixturevalue(name) for name in inspect.signature(test).parameters
                if name not in params}
    test(**params, **fixtures)
    assert every_edit_dry_run_first, "the test made no edit"


def test_every_edit_kind_is_checked():
    kinds = set()
    for param in _cases():
        kinds |= {k for k in EDITS if k in inspect.getsource(param.values[0])}
    assert kinds == set(EDITS)


def test_a_dry_run_builds_nothing_and_allocates_no_weight_memory():
    x = keras.Input((4096,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(layers.Dense(8, name="d")(x)))
    pending = len(ki.pending_variables())
    process = psutil.Process(os.getpid())
    rss = process.memory_info().rss
    # 4096 x 65536 float32 = 1 GiB if it were allocated, twice.
    big = layers.Dense(65536, name="d")
    r = kw.replace_layer(model, "d", big, dry_run=True)
    r2 = kw.insert_layer(model, layers.Dense(65536, name="wide"), after="x", dry_run=True)
    assert process.memory_info().rss - rss < 200 * 2**20
    assert r.model is None and r2.model is None
    assert r.report.reinitialized == {
        "d": "kernel (4096, 65536) is new: the source kernel (4096, 8) does not fit; "
             "bias (65536,) is new: the source bias (8,) does not fit",
        "head": "kernel (65536, 2) is new: the source kernel (8, 2) does not fit"}
    assert r.report.config_changes == {"d": {"units": (8, 65536)}}
    assert len(ki.pending_variables()) == pending  # nothing left waiting for a value
    assert not big.built and big.weights == []


def test_a_dry_run_raises_what_the_edit_raises_and_the_editor_previews():
    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(layers.Dense(8, name="d")(x)))
    with pytest.raises(kw.EditError, match=r"^replace_layer\('d'\) cannot be built: layer 'd' "
                                           r"\(Reshape\) cannot take input of shape \(None, 4\)"):
        kw.replace_layer(model, "d", layers.Reshape((3, 3), name="d"), dry_run=True)
    with pytest.raises(kw.EditError,
                       match="^delete_layer: got an unexpected keyword argument .wat.\\.$"):
        kw.delete_layer(model, "d", dry_run=True, wat=1)
    ed = kw.ModelEditor(model)
    report = ed.edit_layer("d", units=5, dry_run=True)
    assert report.config_changes == {"d": {"units": (8, 5)}}
    assert ed.model is model and len(ed.history) == 0  # nothing applied
    preview = ed.history.preview(Edit("rename_layer", dict(target="d", new_name="e")))
    assert preview.added == ["e"] and preview.removed == ["d"] and len(ed.history) == 0
    assert ed.rename_layer("d", "e").added == ["e"] and len(ed.history) == 1


def _calls(model):
    """How many calls each layer of ``model`` has recorded (a dry run must leave them so)."""
    return {p: [len(c) for c in ki.call_history_attributes(op)]
            for p, op in kw.graph.iter_layers(model)}


def _copies_counted(monkeypatch):
    """The names of the layers the rebuild copies from now on (a list it fills)."""
    copied = []
    real_copy = surgery.copy_layer
    monkeypatch.setattr(surgery, "copy_layer",
                        lambda layer, *a, **k: copied.append(layer.name) or real_copy(layer, *a, **k))
    return copied


def test_a_dry_run_copies_only_what_the_edit_changes_and_leaves_the_source_s_calls_alone(
        monkeypatch):
    """Narrowing the first convolution changes shapes up to the projection that restores them;
    every call after it reads tensors of its source shapes, and the dry run calls the source's
    own layers there (for its time only), so it copies 3 layers of 12 and leaves every source
    layer with the calls it had."""
    x = keras.Input((8, 8, 3), name="x")
    h = layers.Conv2D(16, 3, padding="same", name="c1")(x)
    h = layers.BatchNormalization(name="bn1")(h)
    h = layers.Conv2D(32, 1, name="proj")(h)  # back to the source's shapes from here on
    for i in range(6):
        h = layers.Conv2D(32, 3, padding="same", activation="relu", name=f"c{i + 2}")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    h = layers.Dense(10, name="d1")(h)
    model = keras.Model(x, layers.Dense(3, name="head")(h))
    calls = _calls(model)
    copied = _copies_counted(monkeypatch)
    dry = kw.edit_layer(model, "c1", filters=8, dry_run=True)
    assert copied == ["c1", "bn1", "proj"]
    assert _calls(model) == calls
    copied.clear()
    real = kw.edit_layer(model, "c1", filters=8)
    assert len(copied) == 12  # the real edit copies every layer
    assert report_fields(dry.report) == report_fields(real.report)
    assert dry.report.reinitialized.keys() == {"c1", "bn1", "proj"}
    assert len(dry.report.kept) == 10  # the input and the 9 layers after proj


def test_a_dry_run_of_a_new_input_shape_copies_one_layer_per_kind_of_call(monkeypatch):
    """After a new input shape every call reads new shapes. The dry run copies a layer only for
    a call unlike any before it (class, config but the name, input specs); where an earlier
    copy of such a call got the variables a layer has, that layer would keep them all, and its
    own call stands in. d1 and d2 read (None, 64) now, but had 256 and 576 inputs: both are
    copied, and both reinitialized, as the real edit says."""
    x = keras.Input((8, 8, 1), name="x")
    h = layers.Conv2D(4, 3, padding="same", name="a")(x)
    h = layers.Conv2D(4, 3, padding="same", name="b")(h)
    h = layers.Conv2D(4, 3, padding="same", name="c")(h)  # a call like b's: not copied
    h = layers.Activation("relu", name="r")(h)  # builds nothing: not copied
    d1 = layers.Dense(3, name="d1")(layers.Flatten(name="f1")(h))  # 256 inputs, 64 now
    w = layers.Conv2D(16, 3, name="w")(x)
    d2 = layers.Dense(3, name="d2")(layers.Flatten(name="f2")(w))  # 576 inputs, 64 now
    model = keras.Model(x, layers.Add(name="sum")([d1, d2]))
    calls = _calls(model)
    copied = _copies_counted(monkeypatch)
    dry = kw.set_input_shape(model, (4, 4, 1), dry_run=True)
    assert sorted(copied) == ["a", "b", "d1", "d2", "w"]
    assert _calls(model) == calls
    real = kw.set_input_shape(model, (4, 4, 1))
    assert report_fields(dry.report) == report_fields(real.report)
    assert dry.report.reinitialized.keys() == {"d1", "d2"}
    assert dry.report.shape_changes == {"x": ((None, 8, 8, 1), (None, 4, 4, 1))}
    assert real.model.get_layer("c").kernel.shape == (3, 3, 4, 4)
    np.testing.assert_array_equal(real.model.get_layer("c").kernel.numpy(),
                                  model.get_layer("c").kernel.numpy())


def test_a_dry_run_of_a_new_input_shape_refuses_what_the_edit_refuses():
    """A max pooling ("same") and a strided convolution agree on even sizes only: at 7 the
    Concatenate cannot join 4 and 3 rows. Its build says so, not its output shape, so the dry
    run must build it as the edit does; both give the same sentence."""
    x = keras.Input((8, 8, 1), name="x")
    p = layers.MaxPooling2D(2, padding="same", name="pool")(x)
    s = layers.Conv2D(1, 2, strides=2, name="stride")(x)
    model = keras.Model(x, layers.Concatenate(name="cat")([p, s]))
    with pytest.raises(kw.EditError) as dry:
        kw.set_input_shape(model, (7, 7, 1), dry_run=True)
    with pytest.raises(kw.EditError) as real:
        kw.set_input_shape(model, (7, 7, 1))
    assert str(dry.value) == str(real.value)
    assert "'cat'" in str(real.value) and "(None, 4, 4, 1)" in str(real.value)
    assert kw.set_input_shape(model, (6, 6, 1), dry_run=True).report.shape_changes["cat"] == (
        (None, 4, 4, 2), (None, 3, 3, 2))
