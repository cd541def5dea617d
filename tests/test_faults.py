"""Regression tests for the kinds of fault found on real backbones (issue 7), each on a model of
our own making, through the public API."""
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import assert_identical, assert_unchanged, check_invariants, roundtrip, snapshot


def mlp():
    x = keras.Input((4,), name="x")
    h = layers.Dense(8, activation="relu", name="d1")(x)
    h = layers.Dense(8, activation="relu", name="d2")(h)
    return keras.Model(x, layers.Dense(3, name="head")(h), name="mlp")


# -- 1. a replacement that arrives built -----------------------------------------------------------

@keras.saving.register_keras_serializable(package="kw_faults")
class SelfBuilt(layers.Layer):
    """Builds itself in its constructor, as keras-hub's blocks do: from_config returns it built."""

    def __init__(self, units, input_dim, **kwargs):
        super().__init__(**kwargs)
        self.units, self.input_dim = units, input_dim
        self.proj = layers.Dense(units, name="proj")
        self.gate = layers.Dense(units, name="gate")
        self.build((None, input_dim))

    def build(self, shape):
        self.proj.build(shape)
        self.gate.build(shape)
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, x):
        return self.proj(x) * keras.ops.sigmoid(self.gate(x)) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim}


def test_a_built_replacement_inherits_every_fitting_variable_of_the_target():
    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(SelfBuilt(8, 4, name="block")(x)))
    for v in model.get_layer("block").weights:
        v.assign(np.random.default_rng(1).normal(size=v.shape).astype("float32"))
    snap = snapshot(model)
    r = kw.replace_layer(model, "block", SelfBuilt(8, 4, name="block"))
    assert len(r.model.get_layer("block").weights) == 5
    assert_identical(model, r.model, ["block", "head"])  # all 5 of the target's variables
    assert "block" in r.report.kept
    check_invariants(model, snap, r)
    xs = np.random.default_rng(0).random((3, 4)).astype("float32")
    np.testing.assert_allclose(r.model(xs), model(xs), atol=1e-6)

    # A built plain Dense: the target's kernel and bias, not its own fresh ones.
    base = mlp()
    mine = layers.Dense(8, activation="relu", name="d2")
    mine.build((None, 8))
    r = kw.replace_layer(base, "d2", mine)
    assert_identical(base, r.model, ["d1", "d2", "head"])
    assert r.report.kept == ["x", "d1", "d2", "head"]


def test_a_value_the_replacement_came_with_is_never_reported_kept():
    base = mlp()
    mine = layers.Dense(8, use_bias=True, name="d2")
    mine.build((None, 8))
    mine.bias.assign(np.full((8,), 3.0, "float32"))
    # The target has no bias: the replacement's own bias stays, and the report says so.
    x = keras.Input((4,), name="x")
    h = layers.Dense(8, use_bias=False, name="d2")(layers.Dense(8, name="d1")(x))
    model = keras.Model(x, layers.Dense(3, name="head")(h))
    r = kw.replace_layer(model, "d2", mine)
    np.testing.assert_array_equal(r.model.get_layer("d2").bias.numpy(), np.full((8,), 3.0))
    np.testing.assert_array_equal(r.model.get_layer("d2").kernel.numpy(),
                                  model.get_layer("d2").kernel.numpy())
    assert r.report.reinitialized == {
        "d2": "bias (8,) holds the value the new layer came built with (the source layer has no "
              "variable 'bias')"}
    del base


# -- 2. a live copy of a layer that creates sub-layers in build() ----------------------------------

class Block(layers.Layer):
    """Sub-layers made in build(), and a get_config that fails: only a live copy can copy it."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, shape):
        self.inner = layers.Dense(self.units, name="inner")
        self.inner.build(shape)

    def call(self, x):
        return self.inner(x) * 2.0

    def get_config(self):
        raise AttributeError("'Block' object has no attribute 'config_of_a_dependency'")


def test_a_live_copy_builds_itself_not_the_layer_it_was_copied_from():
    model = mlp()
    given = Block(8, name="blk")
    r = kw.replace_layer(model, "d2", given)
    assert not given.built and given.weights == []  # the person's object is untouched
    new = r.model.get_layer("blk")
    assert new.built and [v.shape for v in new.weights] == [(8, 8), (8,)]
    xs = np.random.default_rng(0).random((2, 4)).astype("float32")
    d1 = model.get_layer("d1")
    h = np.maximum(xs @ d1.kernel.numpy() + d1.bias.numpy(), 0)
    h = (h @ new.inner.kernel.numpy() + new.inner.bias.numpy()) * 2.0
    want = h @ model.get_layer("head").kernel.numpy() + model.get_layer("head").bias.numpy()
    np.testing.assert_allclose(r.model(xs), want, atol=1e-5)

    # A built one inside a model, copied live by an unrelated edit: its own variables, same values.
    again = kw.rename_layer(r.model, "head", "out")
    copy = again.model.get_layer("blk")
    assert copy.inner is not new.inner and copy.inner.kernel is not new.inner.kernel
    assert_identical(r.model, again.model, ["blk"])
    copy.inner.kernel.assign(np.zeros((8, 8), "float32"))
    assert np.any(new.inner.kernel.numpy() != 0)


# -- 3. every exception inside an edit is an EditError ---------------------------------------------

def test_exceptions_from_layer_code_become_edit_errors_with_their_cause():
    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(Block(8, name="blk")(x)))
    with pytest.raises(kw.EditError, match=r"Layer 'blk' \(Block\) cannot be rebuilt with new "
                                           r"arguments: its get_config\(\) fails") as err:
        kw.edit_layer(model, "blk", units=4)
    assert isinstance(err.value.cause, AttributeError)

    def factory(layer):
        raise KeyError("no such block")

    with pytest.raises(kw.EditError, match=r"replace_all failed: 'no such block' \(KeyError, "
                                           r"raised by factory in test_faults.py\)") as err:
        kw.replace_all(model, layers.Dense, factory)
    assert isinstance(err.value.cause, KeyError)
    assert err.value.__cause__ is None  # the sentence only, unless debugging
    before = kw.debug(True)
    try:
        with pytest.raises(kw.EditError) as err:
            kw.replace_all(model, layers.Dense, factory)
        assert isinstance(err.value.__cause__, KeyError)  # the full chain
    finally:
        kw.debug(before)


# -- 4. what load_model finds is what the report says ----------------------------------------------

def _saving_notes(result):
    return [n for n in result.report.notes if n.startswith("Saving:")]


def test_the_report_says_a_model_cannot_be_loaded_exactly_when_keras_cannot(tmp_path, monkeypatch):
    class Unregistered(layers.Layer):
        def call(self, x):
            return x * 2.0

    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(Unregistered(name="u")(x)))
    r = kw.rename_layer(model, "head", "out")
    assert _saving_notes(r) == [
        "Saving: Unregistered ('u') is not serializable: register it with "
        "@keras.saving.register_keras_serializable() before saving, or the model cannot be "
        "loaded again."]
    with pytest.raises(TypeError):
        roundtrip(r.model)

    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(SelfBuilt(4, 4, name="sb")(x)))
    r = kw.rename_layer(model, "head", "out")
    assert _saving_notes(r) == []  # registered
    roundtrip(r.model)

    # A class Keras finds by its module path, as it finds keras_hub's, unregistered.
    if "keras_nlp" in sys.modules or _importable("keras_nlp"):
        pytest.skip("a real keras_nlp is installed; the stand-in package would shadow it")
    pkg = tmp_path / "keras_nlp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(textwrap.dedent("""
        import keras

        class Doubler(keras.layers.Layer):
            def call(self, x):
                return x * 2.0
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from keras_nlp.blocks import Doubler

    try:
        x = keras.Input((4,), name="x")
        model = keras.Model(x, layers.Dense(2, name="head")(Doubler(name="dbl")(x)))
        r = kw.rename_layer(model, "head", "out")
        assert _saving_notes(r) == []
        again = roundtrip(r.model)
        assert type(again.get_layer("dbl")) is Doubler
    finally:
        for name in [m for m in sys.modules if m == "keras_nlp" or m.startswith("keras_nlp.")]:
            del sys.modules[name]


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


# -- 5. reading the graph of a model whose layer became a small functional block -------------------

def test_a_block_from_a_replace_all_factory_reads_as_a_graph():
    model = mlp()

    def block(layer):
        i = keras.Input(tuple(layer.input.shape[1:]), name="i")
        y = layers.Lambda(lambda t: t * 2.0, name="twice")(layers.Dense(layer.units, name="fc")(i))
        return keras.Model(i, y, name="blk_" + layer.name)

    r = kw.replace_all(model, lambda layer: layer.name == "d2", block)
    g = kw.to_networkx(r.model)
    assert list(g.successors("d1")) == ["blk_d2/i"]
    assert list(g.successors("blk_d2/fc")) == ["blk_d2/twice"]
    assert list(g.successors("blk_d2/twice")) == ["head"]
    assert r.report.added == ["blk_d2", "blk_d2/i", "blk_d2/fc", "blk_d2/twice"]
    assert r.report.removed == ["d2"]
    again = kw.to_networkx(kw.rename_layer(r.model, "head", "out").model)
    assert "blk_d2/twice" in again
    with pytest.raises(kw.EditError, match="subclassed model"):
        kw.to_networkx(keras.Model())


# -- 6. reports say what changed in configs and shapes ---------------------------------------------

def test_reports_say_what_changed_in_configs_and_in_input_and_output_shapes():
    model = mlp()
    r = kw.edit_layer(model, "d2", activation="gelu")
    assert r.report.config_changes == {"d2": {"activation": ("relu", "gelu")}}
    assert r.report.shape_changes == {}
    assert str(r.report).splitlines()[:2] == [
        "EditReport: 4 kept, 0 reinitialized, 0 added, 0 removed",
        "  config of d2: activation 'relu' -> 'gelu'"]

    x = keras.Input((7, 7, 3), name="img")
    h = layers.Conv2D(10, 7, name="conv")(x)
    model = keras.Model(x, layers.Flatten(name="flat")(h))
    r = kw.delete_layer(model, "flat")
    assert r.report.shape_changes == {"flat": ((None, 10), (None, 1, 1, 10))}
    assert str(r.report).splitlines()[1] == "  shape of flat: (None, 10) -> (None, 1, 1, 10)"

    r = kw.set_input_shape(model, (14, 14, 3))
    assert r.report.shape_changes == {"img": ((None, 7, 7, 3), (None, 14, 14, 3)),
                                      "flat": ((None, 10), (None, 640))}

    r = kw.replace_layer(mlp(), "d2", layers.Dense(5, name="d2"))
    assert r.report.config_changes["d2"]["units"] == (8, 5)
    assert r.report.config_changes["d2"]["activation"] == ("relu", "linear")
    r = kw.replace_layer(mlp(), "d2", layers.Dropout(0.5, name="drop"))
    assert r.report.config_changes["d2"]["class"] == ("Dense", "Dropout")
    r = kw.rename_layer(mlp(), "d1", "first")
    assert r.report.config_changes == {"d1": {"name": ("d1", "first")}}


# -- the engine's seams ----------------------------------------------------------------------------

def test_the_engine_never_imports_widgets_and_no_module_but_one_names_keras_internals():
    import pathlib
    import subprocess

    code = ("import sys, keras_widget as kw, keras_widget.history, keras_widget.edits; "
            "kw.to_networkx; print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    package = pathlib.Path(kw.__file__).parent
    private = ("keras.src", "_keras_history", "_inbound_nodes", "_outbound_nodes",
               "_outputs_struct", "_inputs_struct", "_nodes_by_depth", "_flatten_layers")
    engine = ["edits", "surgery", "clone", "weights", "report", "history", "graph", "errors",
              "signature"]
    for name in engine:
        text = (package / f"{name}.py").read_text()
        assert not [p for p in private if p in text], name


def test_a_plan_refuses_contradictory_requests():
    from keras_widget.surgery import Plan

    model = mlp()
    d2 = model.get_layer("d2")
    plan = Plan("test")
    plan.replace(d2, layers.Dense(8, name="d2"))
    plan.replace(d2, plan.directive(d2).layer)  # the same request again is no conflict
    with pytest.raises(kw.EditError, match=r"^test: 'd2' is already to be replaced\.$"):
        plan.delete(d2)
    with pytest.raises(kw.EditError, match=r"^test: 'd2' cannot be inlined and changed"):
        plan.inline(d2)
    node = d2._inbound_nodes[0]
    probe = layers.Activation("linear", name="probe")
    plan.insert_after(node, probe)
    with pytest.raises(kw.EditError, match="'probe' cannot be inserted both before and after"):
        plan.insert_before(node, probe)
    plan.set_outputs([model.outputs[0]])
    with pytest.raises(kw.EditError, match="the outputs are already set"):
        plan.set_outputs([model.outputs[0]])
    plan.reshape_input("x", (None, 4))
    with pytest.raises(kw.EditError, match="input 'x' cannot get two shapes"):
        plan.reshape_input("x", (None, 5))


# -- found by the property test --------------------------------------------------------------------

def test_a_replacement_that_gives_other_outputs_than_the_call_it_replaces_is_refused():
    """Keras's symbolic call of an Activation given two tensors answers with two: the model would
    be built, then fail when called. The edit says why instead."""
    a, b = keras.Input((3,), name="a"), keras.Input((5,), name="b")
    cat = layers.Concatenate(name="cat")([a, b])
    model = keras.Model([a, b], layers.Dense(2, name="head")(cat))
    snap = snapshot(model)
    with pytest.raises(kw.EditError) as err:
        kw.replace_layer(model, "cat", layers.Activation("relu", name="act"))
    assert str(err.value) == (
        "replace_layer('cat') cannot be built: layer 'act' (Activation) gives 2 outputs for input "
        "of shapes (None, 3) and (None, 5), where 'cat' (Concatenate) gave 1; the layers after it "
        "read 1.")
    assert err.value.layer == "cat"
    assert_unchanged(model, snap)


def test_a_shared_layer_whose_first_call_changes_shape_refuses_its_other_calls():
    """The copy of a shared layer is built at its first call; a later call on the source's
    shapes must still be checked against that copy (it is not the source's layer any more)."""
    x = keras.Input((3,), name="x")
    shared = layers.Dense(3, name="shared")
    y = shared(shared(x))
    model = keras.Model(x, y)
    with pytest.raises(kw.EditError, match=r"layer 'shared' \(Dense\) cannot take input of shape "
                                           r"\(None, 3\)"):
        kw.insert_layer(model, layers.Dense(4, name="wide"), after="x")
