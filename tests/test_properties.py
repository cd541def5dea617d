"""Property-based test: random functional models (branches, merges, shared layers, nested models,
keras.ops) and random sequences of edits; every invariant of the design is checked after each edit,
and each edit's dry run must report (or refuse) exactly what the edit does.

Profiles: HYPOTHESIS_PROFILE=ci (default, about a minute) or =deep (many more examples).
The number of models and edits that ran is printed at the end of the test session.
"""
import os

import keras
import networkx as nx
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from keras import layers

import keras_widget as kw
from helpers import (assert_no_shared_variables, assert_report_partition, assert_unchanged,
                     each_edit_dry_run_first, roundtrip, snapshot, weights_by_path)
from keras_widget.graph import iter_layers

settings.register_profile("ci", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=600, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("noshrink", max_examples=200, deadline=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate],
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

RUNS = {"models": 0, "edits": 0, "refused": 0}
WIDTHS = (3, 4, 5)


def build_model(data):
    """Draw a random functional model. Tensors are (None, width)."""
    draw = data.draw
    names = iter(f"l{i}" for i in range(1000))
    n_inputs = draw(st.integers(1, 2), label="inputs")
    inputs = [keras.Input((draw(st.sampled_from(WIDTHS)),), name=f"in{i}")
              for i in range(n_inputs)]
    tensors = list(inputs)
    dense_layers = []
    for step in range(draw(st.integers(2, 7), label="steps")):
        kind = "dense" if step == 0 else draw(st.sampled_from(
            ["dense", "dense", "act", "norm", "drop", "merge", "shared", "op", "nested"]),
            label="kind")
        x = draw(st.sampled_from(tensors), label="from")
        width = x.shape[-1]
        if kind == "dense":
            layer = layers.Dense(draw(st.sampled_from(WIDTHS)), activation=draw(
                st.sampled_from([None, "relu", "tanh"])), name=next(names))
            dense_layers.append(layer)
            y = layer(x)
        elif kind == "act":
            y = layers.Activation(draw(st.sampled_from(["relu", "tanh", "sigmoid"])),
                                  name=next(names))(x)
        elif kind == "norm":
            y = draw(st.sampled_from([layers.BatchNormalization, layers.LayerNormalization]))(
                name=next(names))(x)
        elif kind == "drop":
            y = layers.Dropout(0.3, name=next(names))(x)
        elif kind == "merge":
            same = [t for t in tensors if t.shape[-1] == width and t is not x]
            if not same:
                continue
            other = draw(st.sampled_from(same), label="other")
            merge = draw(st.sampled_from([layers.Add, layers.Subtract, layers.Multiply,
                                          layers.Concatenate]))
            y = merge(name=next(names))([x, other])
        elif kind == "shared":
            fits = [l for l in dense_layers if l.built and l.kernel.shape[0] == width]
            if not fits:
                continue
            y = draw(st.sampled_from(fits), label="shared layer")(x)
        elif kind == "op":
            y = draw(st.sampled_from([keras.ops.tanh, lambda t: keras.ops.multiply(t, t),
                                      lambda t: keras.ops.add(t, 1.0)]), label="op")(x)
        else:
            inner_in = keras.Input((width,), name=next(names))
            h = layers.Dense(draw(st.sampled_from(WIDTHS)), activation="relu",
                             name=next(names))(inner_in)
            inner = keras.Model(inner_in, layers.Dense(width, name=next(names))(h),
                                name=next(names))
            y = inner(x)
            if draw(st.booleans(), label="call nested twice"):
                y = inner(y)
        tensors.append(y)
    n_out = draw(st.integers(1, 2), label="outputs")
    outs = [tensors[-1]]
    if n_out == 2 and len(tensors) > 1:
        outs.append(draw(st.sampled_from(tensors[:-1])))
    outs = [o for i, o in enumerate(outs) if all(o is not p for p in outs[:i])]
    if draw(st.booleans(), label="dict outputs"):
        outs = {f"o{i}": o for i, o in enumerate(outs)}
    elif len(outs) == 1:
        outs = outs[0]
    model = keras.Model(inputs if n_inputs > 1 else inputs[0], outs, name="random")
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    for v in model.weights:  # non-default values, so that a re-created weight shows
        v.assign(rng.normal(0, 0.3, tuple(v.shape)).astype("float32") +
                 (1.0 if v.name in ("gamma", "moving_variance") else 0.0))
    return model


def sample_inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.random((2,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]
    return xs if len(xs) > 1 else xs[0]


def flat(y):
    if isinstance(y, dict):
        return [np.asarray(y[k]) for k in sorted(y)]
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


# Edits that must not change what the model computes.
SAME_OUTPUT = {"rename_layer", "insert_identity", "inline_model", "same_shape"}


def draw_edit(data, model):
    """A random edit: (label, function taking the model)."""
    draw = data.draw
    graph = kw.to_networkx(model)
    nodes = [n for n, d in graph.nodes(data=True) if d["kind"] in ("layer", "op", "model")]
    layer_paths = [p for p, l in iter_layers(model) if not isinstance(l, layers.InputLayer)]
    fresh = f"e{draw(st.integers(0, 10**6), label='name')}"
    kind = draw(st.sampled_from(["replace_layer", "insert_identity", "insert_dense",
                                 "delete_layer", "edit_layer", "rename_layer", "same_shape",
                                 "new_shape", "replace_all", "add_output", "remove_output",
                                 "inline_model"]), label="edit")
    if kind == "replace_layer" and layer_paths:
        path = draw(st.sampled_from(layer_paths))
        new = draw(st.sampled_from([layers.Dense(draw(st.sampled_from(WIDTHS)), name=fresh),
                                    layers.Activation("relu", name=fresh)]))
        return kind, lambda m: kw.replace_layer(m, path, new)
    if kind in ("insert_identity", "insert_dense"):
        where = draw(st.sampled_from(list(graph)), label="where")
        new = (layers.Activation("linear", name=fresh) if kind == "insert_identity"
               else layers.Dense(draw(st.sampled_from(WIDTHS)), name=fresh))
        return kind, lambda m: kw.insert_layer(m, new, after=where)
    if kind == "delete_layer" and layer_paths:
        return kind, lambda m: kw.delete_layer(m, draw(st.sampled_from(layer_paths)))
    if kind == "edit_layer":
        dense = [p for p, l in iter_layers(model) if isinstance(l, layers.Dense)]
        if dense:
            path = draw(st.sampled_from(dense))
            change = draw(st.sampled_from([{"units": 6}, {"activation": "gelu"},
                                           {"use_bias": False}]))
            return kind, lambda m: kw.edit_layer(m, path, **change)
    if kind == "rename_layer" and layer_paths:
        path = draw(st.sampled_from(layer_paths))
        return kind, lambda m: kw.rename_layer(m, path, fresh)
    if kind in ("same_shape", "new_shape"):
        index = draw(st.integers(0, len(model.inputs) - 1))
        width = (model.inputs[index].shape[-1] if kind == "same_shape"
                 else draw(st.sampled_from(WIDTHS)))
        return kind, lambda m: kw.set_input_shape(m, (width,), input=index)
    if kind == "replace_all":
        return kind, lambda m: kw.replace_all(
            m, (layers.Activation, layers.Dropout), lambda l: None)
    if kind == "add_output" and nodes:
        return kind, lambda m: kw.add_output(m, draw(st.sampled_from(nodes)))
    if kind == "remove_output":
        return kind, lambda m: kw.remove_output(m, 0)
    if kind == "inline_model":
        nested = [p for p, l in iter_layers(model) if isinstance(l, keras.Model)]
        if nested:
            return kind, lambda m: kw.inline_model(m, draw(st.sampled_from(nested)))
    if layer_paths:
        return "rename_layer", lambda m: kw.rename_layer(m, layer_paths[0], fresh)
    first = next(iter(graph))
    return "insert_identity", lambda m: kw.insert_layer(
        m, layers.Activation("linear", name=fresh), after=first)


def check(source, snap, result, label, x):
    """Every invariant of the design, on one edit's result."""
    new, report = result.model, result.report
    assert_unchanged(source, snap)                                 # 1. source unchanged
    assert_no_shared_variables(source, new)                        # 2. no shared variable
    assert_report_partition(report, new)
    src_w, new_w = weights_by_path(source), weights_by_path(new)
    for path in report.kept:                                       # 3. kept = bit-identical
        if path in new_w:  # every variable it has is its source's (use_bias=False drops one)
            source_vars = dict(src_w[path])
            for name, b in new_w[path]:
                a = source_vars[name]
                assert a.shape == b.shape and np.array_equal(a, b), (path, name)
    src_g, new_g = kw.to_networkx(source), kw.to_networkx(new)
    assert nx.is_directed_acyclic_graph(new_g)
    for path, _ in iter_layers(new):                               # 4. shared stays shared
        calls = sum(1 for _, d in new_g.nodes(data=True) if d["path"] == path)
        src_calls = sum(1 for _, d in src_g.nodes(data=True) if d["path"] == path)
        if src_calls > 1 and path in report.kept and label not in ("remove_output",):
            assert calls >= src_calls, path
    ops = lambda g: sum(d["kind"] == "op" for _, d in g.nodes(data=True))  # noqa: E731
    if label not in ("remove_output", "delete_layer"):
        assert ops(new_g) >= ops(src_g)                            # 5. keras.ops survive
    y_new = new(sample_inputs(new))
    if label in SAME_OUTPUT:
        for a, b in zip(flat(y_new), flat(source(x))):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    again = roundtrip(new)                                         # 7. .keras round trip
    for a, b in zip(flat(again(sample_inputs(new))), flat(y_new)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@given(st.data())
def test_random_models_and_edits_keep_every_invariant(data):
    keras.backend.clear_session()
    model = build_model(data)
    RUNS["models"] += 1
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        snap = snapshot(model)
        x = sample_inputs(model)
        label, edit = draw_edit(data, model)
        try:
            with each_edit_dry_run_first():  # its report (or refusal) must be the edit's
                result = edit(model)
        except kw.EditError as err:
            RUNS["refused"] += 1
            if os.environ.get("KW_SHOW_REFUSED"):
                print(f"\nrefused {label}: {err}")
            assert err.__cause__ is None and str(err)
            assert_unchanged(model, snap)
            continue
        RUNS["edits"] += 1
        check(model, snap, result, label, x)
        model = result.model
