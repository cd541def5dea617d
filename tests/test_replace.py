"""kw.replace_layer: the three classic replacements, skip connections, two outputs, and every
invariant of the design asserted with real values."""
import keras
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import (assert_identical, assert_unchanged, assert_write_isolated, check_invariants,
                     roundtrip, snapshot)


def mlp(width=64):
    inp = keras.Input((784,), name="pixels")
    x = layers.Dense(64, activation="relu", name="d1")(inp)
    x = layers.Dense(width, activation="relu", name="d2")(x)
    out = layers.Dense(10, activation="softmax", name="head")(x)
    model = keras.Model(inp, out, name="mlp")
    rng = np.random.default_rng(3)
    for layer in model.layers[1:]:
        layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype("float32"))
    return model


def cnn():
    inp = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(10, name="dense")(x)
    return keras.Model(inp, out, name="cnn")


class Standardize(layers.Layer):
    """Subtract the mean, divide by the standard deviation, over the last axis."""

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, x):
        mean = keras.ops.mean(x, axis=-1, keepdims=True)
        return (x - mean) / keras.ops.sqrt(keras.ops.var(x, axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def softmax(z):
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def dense_np(model, name, x, act=lambda t: t):
    kernel, bias = model.get_layer(name).get_weights()
    return act(x @ kernel + bias)


def relu(t):
    return np.maximum(t, 0)


def test_mlp_dense64_relu_to_dense128_sigmoid():
    model = mlp()
    snap = snapshot(model)
    r = kw.replace_layer(model, "d2", layers.Dense(128, activation="sigmoid", name="d2"))
    new = r.model
    assert new.get_layer("d2").units == 128
    assert new.get_layer("d2").get_config()["activation"] == "sigmoid"
    assert new.output_shape == (None, 10)
    assert_identical(model, new, ["d1"])
    assert r.report.kept == ["pixels", "d1"]
    assert set(r.report.reinitialized) == {"d2", "head"}
    assert "kernel (128, 10) is new: the source kernel (64, 10) does not fit" in \
        r.report.reinitialized["head"]
    np.testing.assert_array_equal(new.get_layer("head").bias.numpy(),
                                  model.get_layer("head").bias.numpy())
    # The new model computes what it says, with its own d2 and head.
    x = np.random.default_rng(0).random((3, 784)).astype("float32")
    h = dense_np(model, "d1", x, relu)
    h = dense_np(new, "d2", h, lambda t: 1 / (1 + np.exp(-t)))
    np.testing.assert_allclose(np.asarray(new(x)), softmax(dense_np(new, "head", h)), atol=1e-5)
    check_invariants(model, snap, r)
    assert_write_isolated(new, model)
    assert_unchanged(model, snap)


def test_cnn_conv_before_maxpool_to_average_pooling():
    model = cnn()
    snap = snapshot(model)
    r = kw.replace_layer(model, "conv2", layers.AveragePooling2D(2, name="avg"))
    new = r.model
    assert r.report.added == ["avg"] and r.report.removed == ["conv2"]
    assert list(r.report.reinitialized) == ["dense"]
    assert "kernel (72, 10) is new: the source kernel (784, 10) does not fit" in \
        r.report.reinitialized["dense"]
    assert tuple(new.get_layer("dense").kernel.shape) == (72, 10)
    np.testing.assert_array_equal(new.get_layer("dense").bias.numpy(),
                                  model.get_layer("dense").bias.numpy())
    assert_identical(model, new, ["conv1"])
    g = kw.to_networkx(new)
    assert list(g.predecessors("avg")) == ["pool1"] and list(g.successors("avg")) == ["pool2"]
    assert g.nodes["avg"]["output_shape"] == (None, 7, 7, 8)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    feats = keras.Model(model.input, model.get_layer("pool1").output)(x)
    ref = keras.ops.average_pool(feats, 2, 2)
    ref = keras.ops.max_pool(ref, 2, 2)
    ref = np.asarray(ref).reshape(2, -1) @ new.get_layer("dense").kernel.numpy() + \
        new.get_layer("dense").bias.numpy()
    np.testing.assert_allclose(np.asarray(new(x)), ref, atol=1e-5)
    check_invariants(model, snap, r)


def test_custom_normalization_replaces_a_dense():
    model = mlp()
    snap = snapshot(model)
    r = kw.replace_layer(model, "d2", Standardize(name="standardize"))
    assert r.report.added == ["standardize"] and r.report.removed == ["d2"]
    assert r.report.reinitialized == {}
    assert_identical(model, r.model, ["d1", "head"])
    x = np.random.default_rng(1).random((4, 784)).astype("float32")
    h = dense_np(model, "d1", x, relu)
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(np.asarray(r.model(x)), softmax(dense_np(model, "head", h)),
                               atol=1e-5)
    check_invariants(model, snap, r)


def residual():
    inp = keras.Input((8, 8, 4), name="x")
    stem = layers.Conv2D(6, 3, padding="same", name="stem")(inp)
    y = layers.Conv2D(6, 3, padding="same", activation="relu", name="a")(stem)
    y = layers.Conv2D(6, 3, padding="same", name="b")(y)
    s = layers.Add(name="add")([stem, y])
    out = layers.Dense(2, name="out")(layers.GlobalAveragePooling2D(name="gap")(s))
    return keras.Model(inp, out, name="res")


def test_skip_connection_survives_and_a_misfit_is_refused_naming_the_merge():
    model = residual()
    snap = snapshot(model)
    r = kw.replace_layer(model, "a", layers.Conv2D(6, 5, padding="same", activation="tanh",
                                                   name="a"))
    g = kw.to_networkx(r.model)
    assert set(g.predecessors("add")) == {"stem", "b"}
    assert list(r.report.reinitialized) == ["a"]
    assert "kernel (5, 5, 6, 6) is new" in r.report.reinitialized["a"]
    assert_identical(model, r.model, ["stem", "b", "out"])
    x = np.random.default_rng(0).random((2, 8, 8, 4)).astype("float32")
    stem = keras.Model(model.input, model.get_layer("stem").output)(x)
    y = r.model.get_layer("b")(r.model.get_layer("a")(stem))
    ref = model.get_layer("out")(keras.ops.mean(stem + y, axis=(1, 2)))
    np.testing.assert_allclose(np.asarray(r.model(x)), np.asarray(ref), atol=1e-5)
    check_invariants(model, snap, r)

    with pytest.raises(kw.EditError) as err:
        kw.replace_layer(model, "b", layers.Conv2D(5, 3, padding="same", name="b"))
    msg = str(err.value)
    assert "replace_layer('b')" in msg and "'add'" in msg
    assert "(None, 8, 8, 6)" in msg and "(None, 8, 8, 5)" in msg
    assert_unchanged(model, snap)


def test_two_output_model_keeps_the_other_head():
    inp = keras.Input((12,), name="x")
    trunk = layers.Dense(16, activation="relu", name="trunk")(inp)
    cls = layers.Dense(3, activation="softmax", name="cls")(layers.Dense(8, name="c")(trunk))
    reg = layers.Dense(1, name="reg")(layers.Dense(8, name="r")(trunk))
    model = keras.Model(inp, [cls, reg], name="two")
    snap = snapshot(model)
    r = kw.replace_layer(model, "c", layers.Dense(20, activation="gelu", name="c"))
    new = r.model
    assert [tuple(o.shape) for o in new.outputs] == [(None, 3), (None, 1)]
    x = np.random.default_rng(0).random((5, 12)).astype("float32")
    a, b = model(x), new(x)
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    assert not np.allclose(np.asarray(a[0]), np.asarray(b[0]))
    assert_identical(model, new, ["trunk", "r", "reg"])
    assert set(r.report.reinitialized) == {"c", "cls"}
    check_invariants(model, snap, r)


def test_weights_policies():
    model = mlp()
    same = kw.replace_layer(model, "d2", layers.Dense(64, activation="tanh", name="d2"),
                            weights="keep")
    assert_identical(model, same.model, ["d1", "d2", "head"])
    fresh = kw.replace_layer(model, "d2", layers.Dense(64, activation="relu", name="d2"),
                             weights="reinit")
    assert set(fresh.report.reinitialized) == {"d2"}
    assert "weights='reinit'" in fresh.report.reinitialized["d2"]
    assert not np.array_equal(fresh.model.get_layer("d2").kernel.numpy(),
                              model.get_layer("d2").kernel.numpy())
    assert_identical(model, fresh.model, ["d1", "head"])
    with pytest.raises(kw.EditError, match="weights= must be one of"):
        kw.replace_layer(model, "d2", layers.Dense(64, name="d2"), weights="maybe")


def test_a_built_replacement_inherits_the_target_and_keeps_its_own_only_where_nothing_fits():
    # DESIGN "Weights": under "auto" a replacement inherits every variable of the target whose
    # name and shape fit, built or not; its own values are used only where none fits (or under
    # "reinit"), and the report never calls them kept.
    model = mlp()
    mine = layers.Dense(64, name="d2")
    mine.build((None, 64))
    mine.kernel.assign(np.full((64, 64), 0.5, "float32"))
    r1 = kw.replace_layer(model, "d2", mine)
    r2 = kw.replace_layer(model, "d2", mine)  # the same object again: it is copied, not used
    for r in (r1, r2):
        assert_identical(model, r.model, ["d1", "d2", "head"])
        assert r.model.get_layer("d2").kernel is not mine.kernel
        assert "d2" in r.report.kept and not r.report.reinitialized
    assert mine._inbound_nodes == []
    own = kw.replace_layer(model, "d2", mine, weights="reinit")
    assert np.all(own.model.get_layer("d2").kernel.numpy() == 0.5)
    assert set(own.report.reinitialized) == {"d2"}
    assert own.report.reinitialized["d2"].startswith(
        "kernel (64, 64) holds the value the new layer came built with (weights='reinit')")
    assert_identical(model, own.model, ["d1", "head"])


def test_refusals_name_the_problem():
    model = mlp()
    snap = snapshot(model)
    with pytest.raises(kw.EditError, match="no layer 'd3'.*Did you mean .*'d2'"):
        kw.replace_layer(model, "d3", layers.Dense(3))
    with pytest.raises(kw.EditError, match="input layer"):
        kw.replace_layer(model, "pixels", layers.Dense(3))
    with pytest.raises(kw.EditError, match="'d1' already exists"):
        kw.replace_layer(model, "d2", layers.Dense(3, name="d1"))
    with pytest.raises(kw.EditError, match="expected a keras layer"):
        kw.replace_layer(model, "d2", "Dense(3)")
    with pytest.raises(kw.EditError) as err:
        kw.replace_layer(model, "d2", layers.Reshape((28, 28), name="d2"))
    assert "layer 'd2' (Reshape) cannot take input of shape (None, 64)" in str(err.value)
    assert "total size of the tensor must be unchanged" in str(err.value)
    assert "\x1b" not in str(err.value) and "Exception encountered" not in str(err.value)

    assert_unchanged(model, snap)


def test_saves_and_loads_back_with_equal_outputs():
    model = cnn()
    r = kw.replace_layer(model, "conv2", layers.AveragePooling2D(2, name="avg"))
    again = roundtrip(r.model)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(r.model(x)), atol=1e-6)
    assert [l.name for l in again.layers] == [l.name for l in r.model.layers]


def test_trainable_flags_and_frozen_nested_models_are_kept():
    base_in = keras.Input((4,), name="base_in")
    base = keras.Model(base_in, layers.Dense(4, name="bd")(base_in), name="base")
    base.trainable = False
    inp = keras.Input((4,), name="x")
    out = layers.Dense(2, name="head")(base(inp, training=False))
    model = keras.Model(inp, out)
    r = kw.replace_layer(model, "head", layers.Dense(3, name="head"))
    assert r.model.get_layer("base").trainable is False
    assert [v.name for v in r.model.trainable_weights] == ["kernel", "bias"]
    node = r.model.get_layer("base")._inbound_nodes[0]
    assert node.arguments.kwargs.get("training") is False


def test_training_either_model_never_moves_the_other():
    # New variables start from the source's values; TensorFlow may share the buffers until one
    # side writes. Training must copy on write, in both directions.
    model = mlp()
    r = kw.replace_layer(model, "head", layers.Dense(10, activation="softmax", name="head"))
    new = r.model
    x = np.random.default_rng(0).random((16, 784)).astype("float32")
    y = keras.utils.to_categorical(np.arange(16) % 10, 10)
    src_before = [np.array(w) for w in model.get_weights()]
    new_before = [np.array(w) for w in new.get_weights()]
    new.compile(optimizer=keras.optimizers.Adam(0.1), loss="categorical_crossentropy")
    new.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), src_before))
    assert not np.array_equal(new.get_layer("d1").kernel.numpy(), src_before[0])
    new_after = [np.array(w) for w in new.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(new.get_weights(), new_after))
    assert not np.array_equal(model.get_layer("d1").kernel.numpy(), src_before[0])
    assert len(new_before) == len(new_after)


def test_a_replacement_of_another_class_does_not_get_the_old_call_keywords():
    # Keras records the mask and training it fills in for BatchNormalization; a Dense in its
    # place takes neither.
    inp = keras.Input((5,), name="x")
    h = layers.BatchNormalization(name="bn")(inp, training=False)
    model = keras.Model(inp, layers.Dense(2, name="out")(h))
    r = kw.replace_layer(model, "bn", layers.Dense(5, name="proj"))
    assert [l.name for l in r.model.layers] == ["x", "proj", "out"]
    assert_identical(model, r.model, ["out"])
