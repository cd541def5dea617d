"""The rest of the public API on every graph shape: insert, delete, edit, rename, set_input_shape,
replace_all, add_output, remove_output, inline_model; shared layers, nested models, keras.ops."""
import keras
import networkx as nx
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import (assert_identical, assert_unchanged, check_invariants, outputs, roundtrip,
                     snapshot)


def branches():
    """Two inputs, a shared Dense, a keras.ops op, a Concatenate, two outputs (a list)."""
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    s = keras.ops.multiply(ha, hb)
    cat = layers.Concatenate(name="cat")([ha, hb, s])
    out1 = layers.Dense(2, name="out1")(cat)
    out2 = layers.Dense(1, name="out2")(layers.Dense(3, name="mid")(hb))
    model = keras.Model([a, b], [out1, out2], name="branches")
    rng = np.random.default_rng(5)
    for v in model.weights:
        if v.name == "bias":
            v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    return model


def nested():
    """An outer model calling a functional model twice and a Sequential once."""
    enc_in = keras.Input((5,), name="enc_in")
    enc = keras.Model(enc_in, layers.Dense(3, activation="tanh", name="code")(
        layers.Dense(4, activation="relu", name="hidden")(enc_in)), name="enc")
    seq = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="s1"),
                            layers.Dense(2, name="s2")], name="seq")
    x = keras.Input((5,), name="x")
    y = keras.Input((5,), name="y")
    d = layers.Subtract(name="diff")([enc(x), enc(y)])
    model = keras.Model([x, y], layers.Dense(1, name="score")(seq(d)), name="outer")
    rng = np.random.default_rng(7)
    for v in model.weights:
        if v.name == "bias":
            v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    return model


def op_node(graph):
    """The one keras.ops node (ops are named by a global counter: multiply, multiply_1, ...)."""
    (node,) = [n for n, d in graph.nodes(data=True) if d["kind"] == "op"]
    return node


def names(model):
    return [l.name for l in model.layers if not isinstance(l, layers.InputLayer)]


def data(model, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((n,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]


# -- insert ---------------------------------------------------------------------------------------

def test_insert_after_a_layer_feeding_an_op_a_merge_and_an_output():
    model = branches()
    snap = snapshot(model)
    r = kw.insert_layer(model, layers.Activation("linear", name="ident"), after="shared#1")
    g = kw.to_networkx(r.model)
    assert list(g.successors("shared#1")) == ["ident"]
    assert set(g.successors("ident")) == {op_node(g), "cat", "mid"}
    x = data(model)
    for got, want in zip(outputs(r.model, x), outputs(model, x)):
        np.testing.assert_allclose(got, want, atol=1e-6)  # identity inserted: same outputs
    assert_identical(model, r.model, ["shared", "out1", "out2", "mid"])
    check_invariants(model, snap, r)


def test_insert_after_an_output_layer_makes_it_the_output():
    model = branches()
    r = kw.insert_layer(model, layers.Dense(5, name="more"), after="out2")
    assert [tuple(o.shape) for o in r.model.outputs] == [(None, 2), (None, 5)]
    assert list(kw.to_networkx(r.model).predecessors("more")) == ["out2"]


def test_insert_refusals():
    model = branches()
    with pytest.raises(kw.EditError, match="takes 3 input tensors; insert after one of its "
                                           "inputs instead"):
        kw.insert_layer(model, layers.Dropout(0.1), before="cat")
    with pytest.raises(kw.EditError, match="exactly one of after= or before="):
        kw.insert_layer(model, layers.Dropout(0.1))
    with pytest.raises(kw.EditError, match="no call site 'shared#5'.*shared#0, shared#1"):
        kw.insert_layer(model, layers.Dropout(0.1), after="shared#5")
    with pytest.raises(kw.EditError, match="input layer; nothing comes before it"):
        kw.insert_layer(model, layers.Dropout(0.1), before="a")
    with pytest.raises(kw.EditError, match="'mid' already exists"):
        kw.insert_layer(model, layers.Dropout(0.1, name="mid"), after="cat")
    x = keras.Input((3, 2))
    out, h, c = layers.LSTM(2, return_state=True, name="lstm")(x)
    multi = keras.Model(x, [out, h])
    with pytest.raises(kw.EditError, match="has 3 outputs"):
        kw.insert_layer(multi, layers.Dropout(0.1), after="lstm")


def test_insert_inside_a_nested_model_keeps_the_nesting():
    model = nested()
    snap = snapshot(model)
    r = kw.insert_layer(model, layers.Dense(4, name="extra"), after="enc/hidden")
    enc = r.model.get_layer("enc")
    assert isinstance(enc, keras.Model)
    assert [l.name for l in enc.layers] == ["enc_in", "hidden", "extra", "code"]
    assert r.report.added == ["enc/extra"]
    assert set(r.report.reinitialized) == {"enc", "enc/code"} or set(
        r.report.reinitialized) == {"enc"}
    assert_identical(model, r.model, ["enc/hidden", "seq/s1", "seq/s2", "score"])
    check_invariants(model, snap, r)


# -- delete ---------------------------------------------------------------------------------------

def test_delete_a_shared_layer_deletes_every_call():
    a = keras.Input((4,), name="a")
    t = layers.Dense(4, name="t")
    z = layers.Add(name="add")([t(a), t(t(a))])
    model = keras.Model(a, layers.Dense(1, name="o")(z))
    r = kw.delete_layer(model, "t")
    g = kw.to_networkx(r.model)
    assert set(g.predecessors("add")) == {"a"}
    x = data(model)[0]
    np.testing.assert_allclose(np.asarray(r.model(x)),
                               np.asarray(model.get_layer("o")(x + x)), atol=1e-6)


def test_delete_refusals():
    model = branches()
    snap = snapshot(model)
    with pytest.raises(kw.EditError, match="input layer and cannot be deleted"):
        kw.delete_layer(model, "a")
    with pytest.raises(kw.EditError, match="takes 3 input tensors"):
        kw.delete_layer(model, "cat")
    with pytest.raises(kw.EditError, match="by its name, not one call site"):
        kw.delete_layer(model, "shared#0")
    assert_unchanged(model, snap)
    r = kw.delete_layer(model, "mid")  # out2 now reads 4 features instead of 3
    assert list(r.report.reinitialized) == ["out2"]
    assert "kernel (4, 1) is new: the source kernel (3, 1) does not fit" in \
        r.report.reinitialized["out2"]


# -- edit and rename ------------------------------------------------------------------------------

def test_edit_layer_checks_keys_and_keeps_fitting_weights():
    model = branches()
    with pytest.raises(kw.EditError, match="Dense has no config key 'unitz'. Valid keys: .*units"):
        kw.edit_layer(model, "mid", unitz=3)
    with pytest.raises(kw.EditError, match="at least one config value"):
        kw.edit_layer(model, "mid")
    with pytest.raises(kw.EditError, match="does not accept activation='nope'"):
        kw.edit_layer(model, "mid", activation="nope")
    r = kw.edit_layer(model, "mid", activation="tanh", use_bias=False)
    assert r.report.reinitialized == {}
    assert [v.name for v in r.model.get_layer("mid").weights] == ["kernel"]
    np.testing.assert_array_equal(r.model.get_layer("mid").kernel.numpy(),
                                  model.get_layer("mid").kernel.numpy())
    r2 = kw.edit_layer(model, "shared", units=5)  # a shared layer: every call site, still shared
    assert sum(1 for l in r2.model.layers if l.name == "shared") == 1
    assert len(r2.model.get_layer("shared")._inbound_nodes) == 2
    assert set(r2.report.reinitialized) == {"shared", "out1", "mid"}


def test_rename_layers_and_nested_models():
    model = nested()
    snap = snapshot(model)
    r = kw.rename_layer(model, "enc", "encoder")
    assert "encoder/hidden" in kw.to_networkx(r.model) or "encoder/hidden#0" in kw.to_networkx(
        r.model)
    assert set(r.report.added) == {"encoder", "encoder/enc_in", "encoder/hidden", "encoder/code"}
    assert set(r.report.removed) == {"enc", "enc/enc_in", "enc/hidden", "enc/code"}
    assert_identical(model, r.model, ["enc/hidden", "enc/code"],
                     ["encoder/hidden", "encoder/code"])
    x = data(model)
    np.testing.assert_allclose(outputs(r.model, x), outputs(model, x), atol=1e-6)
    r2 = kw.rename_layer(model, "seq/s1", "first")
    assert names(r2.model.get_layer("seq")) == ["first", "s2"]
    with pytest.raises(kw.EditError, match="'s2' already exists in nested model 'seq'"):
        kw.rename_layer(model, "seq/s1", "s2")
    with pytest.raises(kw.EditError, match="without '/'"):
        kw.rename_layer(model, "score", "a/b")
    check_invariants(model, snap, r)


# -- set_input_shape ------------------------------------------------------------------------------

def test_set_input_shape_through_nested_models_and_batch_size():
    inner_in = keras.Input((None, 3), name="inner_in")
    inner = keras.Model(inner_in, layers.Conv1D(4, 3, padding="same", name="c")(inner_in),
                        name="inner")
    x = keras.Input((10, 3), name="x")
    seq = keras.Sequential([keras.Input((10, 4)), layers.Conv1D(2, 1, name="p")], name="seq")
    model = keras.Model(x, layers.GlobalAveragePooling1D(name="gap")(seq(inner(x))))
    snap = snapshot(model)
    r = kw.set_input_shape(model, (20, 3), batch_size=4)
    assert tuple(r.model.inputs[0].shape) == (4, 20, 3)
    assert tuple(r.model.get_layer("inner").inputs[0].shape) == (4, None, 3)  # free axis stays
    assert tuple(r.model.get_layer("seq").inputs[0].shape) == (4, 20, 4)
    assert r.report.reinitialized == {}
    assert_identical(model, r.model, ["inner/c", "seq/p"])
    check_invariants(model, snap, r)
    with pytest.raises(kw.EditError, match="positive int"):
        kw.set_input_shape(model, (0, 3))
    with pytest.raises(kw.EditError, match="tuple of positive ints"):
        kw.set_input_shape(model, "big")
    with pytest.raises(kw.EditError, match="has 2 inputs \\(a, b\\); say which"):
        kw.set_input_shape(branches(), (7,))
    # The shared Dense is called on both inputs: it cannot take 6 and 7 features at once.
    with pytest.raises(kw.EditError, match="layer 'shared' \\(Dense\\) cannot take input of "
                                           "shape \\(None, 7\\)"):
        kw.set_input_shape(branches(), (7,), input="b")


def test_set_input_shape_refuses_shapes_the_graph_cannot_take():
    model = branches()
    with pytest.raises(kw.EditError, match="layer 'cat'.*Concatenate"):
        kw.set_input_shape(model, (2, 6), input="a")


# -- replace_all ----------------------------------------------------------------------------------

def test_replace_all_with_classes_predicates_nested_members_and_deletes():
    model = nested()
    snap = snapshot(model)
    r = kw.replace_all(model, layers.Dense,
                       lambda l: layers.Dense.from_config({**l.get_config(), "use_bias": False}))
    dense_paths = [p for p, l in kw.graph.iter_layers(r.model) if isinstance(l, layers.Dense)]
    assert dense_paths == ["enc/hidden", "enc/code", "seq/s1", "seq/s2", "score"]
    assert all(len(l.weights) == 1 for p, l in kw.graph.iter_layers(r.model)
               if isinstance(l, layers.Dense))
    assert r.report.reinitialized == {}
    check_invariants(model, snap, r)
    r2 = kw.replace_all(model, lambda l: l.name == "s2", lambda l: None)
    assert names(r2.model.get_layer("seq")) == ["s1"]
    assert r2.report.removed == ["seq/s2"]
    r3 = kw.replace_all(model, (layers.Subtract,), lambda l: layers.Add(name="sum"))
    assert "sum" in [l.name for l in r3.model.layers]
    none = kw.replace_all(model, layers.Conv2D, lambda l: None)
    assert any("No layer matched" in n for n in none.report.notes)
    with pytest.raises(kw.EditError, match="expected a keras layer"):
        kw.replace_all(model, layers.Dense, lambda l: 3)
    with pytest.raises(kw.EditError, match="match must be"):
        kw.replace_all(model, 3, lambda l: None)


# -- outputs --------------------------------------------------------------------------------------

def test_add_and_remove_outputs():
    model = branches()
    snap = snapshot(model)
    r = kw.add_output(model, "cat")
    assert [tuple(o.shape) for o in r.model.outputs] == [(None, 2), (None, 1), (None, 12)]
    x = data(model)
    cat = keras.Model(model.inputs, model.get_layer("cat").output)(x)
    np.testing.assert_allclose(outputs(r.model, x)[2], np.asarray(cat), atol=1e-6)
    with pytest.raises(kw.EditError, match="called 2 times; name one call: shared#0, shared#1"):
        kw.add_output(model, "shared")
    r2 = kw.add_output(model, "shared#1")
    assert len(r2.model.outputs) == 3
    with pytest.raises(kw.EditError, match="already a model output"):
        kw.add_output(model, "out1")
    with pytest.raises(kw.EditError, match="inline_model\\('enc'\\) first"):
        kw.add_output(nested(), "enc/hidden")

    one = kw.remove_output(model, 0)
    assert tuple(one.model.output.shape) == (None, 1)  # a single output, not a list of one
    assert set(one.report.removed) == {"out1", "cat"}  # and the keras.ops multiply
    assert_identical(model, one.model, ["shared", "mid", "out2"])
    by_name = kw.remove_output(model, "out2")
    assert set(by_name.report.removed) == {"mid", "out2"}
    with pytest.raises(kw.EditError, match="only one output"):
        kw.remove_output(one.model, 0)
    with pytest.raises(kw.EditError, match="no such output; outputs: 0 \\(out1\\), 1 \\(out2\\)"):
        kw.remove_output(model, "nope")
    check_invariants(model, snap, one)


def test_remove_output_drops_a_dead_keras_op_too():
    x = keras.Input((3,), name="x")
    h = layers.Dense(3, name="h")(x)
    aux = keras.ops.square(h)
    model = keras.Model(x, {"main": layers.Dense(1, name="main")(h), "aux": aux})
    r = kw.remove_output(model, "aux")
    assert "square" not in kw.to_networkx(r.model)
    assert list(r.model(np.ones((1, 3), "float32"))) == ["main"]


# -- inline_model ---------------------------------------------------------------------------------

def test_inline_a_nested_model_called_twice():
    model = nested()
    snap = snapshot(model)
    r = kw.inline_model(model, "enc")
    names = [l.name for l in r.model.layers]
    assert "enc" not in names and {"hidden", "code"} <= set(names)
    assert len(r.model.get_layer("hidden")._inbound_nodes) == 2  # shared by both calls
    assert_identical(model, r.model, ["enc/hidden", "enc/code"], ["hidden", "code"])
    x = data(model)
    np.testing.assert_allclose(outputs(r.model, x), outputs(model, x), atol=1e-6)
    assert any("moved" in n for n in r.report.notes)
    r2 = kw.add_output(r.model, "hidden#1")
    assert len(r2.model.outputs) == 2
    inner_seq = kw.inline_model(model, "seq")
    assert {"s1", "s2"} <= {l.name for l in inner_seq.model.layers}
    with pytest.raises(kw.EditError, match="not a nested model"):
        kw.inline_model(model, "score")
    check_invariants(model, snap, r)


def test_inline_refuses_name_clashes():
    inner_in = keras.Input((2,), name="i")
    inner = keras.Model(inner_in, layers.Dense(2, name="d")(inner_in), name="inner")
    x = keras.Input((2,), name="x")
    model = keras.Model(x, layers.Dense(2, name="d")(inner(x)))
    with pytest.raises(kw.EditError, match="already has layers named 'd'"):
        kw.inline_model(model, "inner")


# -- keras.ops, saving, reports ---------------------------------------------------------------------

def test_keras_ops_survive_every_edit_and_the_result_saves():
    model = branches()
    r = kw.edit_layer(model, "out1", activation="softmax")
    g = kw.to_networkx(r.model)
    assert g.nodes[op_node(g)]["class_name"] == "Multiply"
    assert set(g.predecessors(op_node(g))) == {"shared#0", "shared#1"}
    again = roundtrip(r.model)
    x = data(model)
    for got, want in zip(outputs(again, x), outputs(r.model, x)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_report_reads_well():
    r = kw.edit_layer(branches(), "shared", units=5)
    text = str(r.report)
    assert text.startswith("EditReport: ")
    assert "reinitialized:\n    shared: kernel (6, 5) is new" in text
    assert nx.is_directed_acyclic_graph(kw.to_networkx(r.model))
    model, report = r  # an EditResult unpacks
    assert model is r.model and report is r.report


def small_cnn():
    x = keras.Input((8, 8, 3), name="img")
    c = layers.Conv2D(4, 3, name="conv")(x)
    return keras.Model(x, layers.Dense(2, name="head")(layers.Flatten(name="flat")(c)))


def test_report_says_the_output_shape_where_the_edit_acts():
    model = small_cnn()
    r = kw.edit_layer(model, "conv", filters=8)  # the conv's filters: its output changes
    assert r.report.output_shapes == {"conv": ((None, 6, 6, 4), (None, 6, 6, 8))}
    assert str(r.report).splitlines()[1:3] == [  # after the config and shape changes
        "  config of conv: filters 4 -> 8", "  conv: output (None, 6, 6, 4) -> (None, 6, 6, 8)"]
    # An insert: the inserted layer's output, and what its consumers read there before.
    r = kw.insert_layer(model, layers.Conv2D(5, 1, name="pw"), after="conv")
    assert r.report.output_shapes == {"pw": ((None, 6, 6, 4), (None, 6, 6, 5))}
    assert str(r.report).splitlines()[1] == ("  pw (inserted): output (None, 6, 6, 4) -> "
                                             "(None, 6, 6, 5)")
    r = kw.insert_layer(model, layers.BatchNormalization(name="bn"), before="conv")
    assert r.report.output_shapes == {"bn": ((None, 8, 8, 3), (None, 8, 8, 3))}
    # Delete the Flatten: its consumer (a Dense) now reads the conv's 4-D output.
    r = kw.delete_layer(model, "flat")
    assert r.report.output_shapes == {"flat": ((None, 144), (None, 6, 6, 4))}
    assert str(r.report).splitlines()[1:3] == [
        "  shape of head: (None, 2) -> (None, 6, 6, 2)",
        "  flat (deleted): output (None, 144) -> (None, 6, 6, 4)"]
    assert r.model.get_layer("head").output.shape == (None, 6, 6, 2)
    # A rename: the output is unchanged (an input's too); a replacement by another class.
    r = kw.rename_layer(model, "conv", "first")
    assert r.report.output_shapes == {"conv": ((None, 6, 6, 4), (None, 6, 6, 4))}
    assert str(r.report).splitlines()[2] == "  conv: output (None, 6, 6, 4), unchanged"
    r = kw.rename_layer(model, "img", "pixels")
    assert r.report.output_shapes == {"img": ((None, 8, 8, 3), (None, 8, 8, 3))}
    assert r.report.config_changes == {"img": {"name": ("img", "pixels")}}
    r = kw.replace_layer(model, "flat", layers.GlobalAveragePooling2D(name="gap"))
    assert r.report.output_shapes == {"flat": ((None, 144), (None, 4))}
    # A shared layer: one entry per call; edits that act on no layer have none.
    shared = kw.edit_layer(branches(), "shared", units=5).report.output_shapes
    assert shared == {"shared#0": ((None, 4), (None, 5)), "shared#1": ((None, 4), (None, 5))}
    assert kw.add_output(model, "conv").report.output_shapes == {}
    assert kw.set_input_shape(model, (10, 10, 3)).report.output_shapes == {}


class Trained(keras.Model):
    """A functional model with a class of its own (here: a marker method), as people write
    to get a custom train_step."""

    def marker(self):
        return "still mine"


def test_a_functional_model_of_a_class_of_its_own_keeps_its_class():
    x = keras.Input((3,), name="x")
    inner_in = keras.Input((3,), name="inner_in")
    inner = Trained(inner_in, layers.Dense(3, name="id")(inner_in), name="inner")
    model = Trained(x, layers.Dense(2, name="out")(inner(x)), name="mine")
    r = kw.edit_layer(model, "out", units=4)
    assert type(r.model) is Trained and r.model.marker() == "still mine"
    assert type(r.model.get_layer("inner")) is Trained
    assert r.model.output_shape == (None, 4)


def test_adapted_preprocessing_layers_keep_their_vocabulary_and_statistics():
    lookup = layers.StringLookup(name="lookup")
    lookup.adapt(np.array(["a", "b", "c", "a"]))
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=4, name="tv")
    vectorize.adapt(np.array(["the cat sat", "the dog ran far away"]))
    norm = layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).random((20, 3)).astype("float32"))
    s = keras.Input((1,), dtype="string", name="s")
    t = keras.Input((1,), dtype="string", name="t")
    v = keras.Input((3,), name="v")
    feats = layers.Concatenate(name="cat")([
        keras.ops.cast(lookup(s), "float32"),
        layers.GlobalAveragePooling1D(name="gap")(layers.Embedding(20, 2, name="emb")(
            vectorize(t))),
        norm(v)])
    model = keras.Model([s, t, v], layers.Dense(1, name="out")(feats))
    r = kw.insert_layer(model, layers.Dropout(0.2, name="drop"), after="cat")
    x = [np.array([["b"], ["zz"]]), np.array([["the cat ran"], ["a dog"]]),
         np.random.default_rng(1).random((2, 3)).astype("float32")]
    np.testing.assert_allclose(np.asarray(r.model(x)), np.asarray(model(x)), atol=1e-6)
    assert r.model.get_layer("lookup").get_vocabulary() == lookup.get_vocabulary()
    assert r.model.get_layer("tv").get_vocabulary() == vectorize.get_vocabulary()
    assert r.report.reinitialized == {}


def test_progress_counts_every_call_site_and_every_variable_filled():
    # A rebuild reports its progress through the walk and through the weights (about a third
    # of its time), one step at a time, and ends at the total.
    inp = keras.Input((4,), name="x")
    h = layers.Dense(3, name="a")(inp)
    out = layers.Dense(2, name="b")(h)
    model = keras.Model(inp, out)
    calls = []
    kw.Edit("rename_layer", dict(target="a", new_name="c")).apply(
        model, progress=lambda done, total: calls.append((done, total)))
    total = 3 + 4 + 1  # three operations (the input is one), four variables, the end
    assert calls == [(i, total) for i in range(1, total)] + [(total, total)]
    calls.clear()  # a dry run fills nothing: the walk, then the end
    kw.Edit("rename_layer", dict(target="a", new_name="c")).apply(
        model, dry_run=True, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, total), (2, total), (3, total), (total, total)]


def test_the_garbage_collector_is_paused_during_a_rebuild_only():
    import gc

    model = branches()
    seen = []
    edit = kw.Edit("rename_layer", {"target": "out1", "new_name": "head"})
    result = edit.apply(model, progress=lambda done, total: seen.append(
        (done < total, gc.isenabled())))
    assert "head" in names(result.model) and "out1" not in names(result.model)
    during = [enabled for running, enabled in seen if running]
    assert during and not any(during) and gc.isenabled()  # paused while it ran, running after
    gc.disable()
    try:  # a collector the caller paused stays paused
        kw.rename_layer(model, "out1", "head")
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(kw.EditError):  # and comes back after a refusal too
        kw.rename_layer(model, "out1", "out2")
    assert gc.isenabled()
