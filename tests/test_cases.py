"""Every real case of tests/cases (copied from ../shared/cases), one test each, against the public
API. Each assertion is one bullet of the case's **Expected**."""
import tempfile

import keras
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import (assert_identical, assert_no_shared_variables, assert_unchanged, assert_write_isolated, check_invariants, roundtrip,
                     snapshot, weights_by_path)

from cases import (c01_widen_middle_dense as c01, c02_bias_free_conv_and_new_bn as c02,
                   c03_resnet50_gray_input as c03, c05_vgg16_insert_lambda as c05,
                   c06_inception_input_adapter as c06, c08_delete_head_residual_cnn as c08,
                   c10_mobilenet_input_resolution as c10, c11_activation_swap_after_predict as c11,
                   c13_dropout_rate_change as c13, c15_kernel_regularizers as c15,
                   c16_stateful_streaming_lstm as c16, c18_wrap_convs_in_wrapper as c18,
                   c19_shrink_filters_before_add as c19, c21_remove_norm_layers as c21,
                   c22_shared_embedding_branch_insert as c22, c24_nested_inner_layer as c24,
                   c26_keep_one_head as c26, c27_sequential_source_roundtrip as c27,
                   c29_lambda_slices_in_loop as c29, c32_unregistered_custom_layer as c32)


def _pending_variables():
    from keras.src.backend.common import global_state

    return len(global_state.get_global_attribute("uninitialized_variables", []) or [])


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b)


# -- c01 ------------------------------------------------------------------------------------------

def test_c01_widen_middle_dense():
    model = c01.build()
    snap = snapshot(model)
    r = kw.replace_layer(model, "d2", layers.Dense(64, activation="relu", name="d2"))
    new = r.model
    assert new.input_shape == (None, 784)
    assert [new.get_layer(n).output.shape for n in ("d1", "d2", "head")] == [
        (None, 64), (None, 64), (None, 10)]
    assert_identical(model, new, ["d1"])
    assert tuple(new.get_layer("head").kernel.shape) == (64, 10)
    assert "head" in r.report.reinitialized and "kernel" in r.report.reinitialized["head"]
    assert "(32, 10)" in r.report.reinitialized["head"]
    assert _same(new.get_layer("head").bias.numpy(), model.get_layer("head").bias.numpy())
    check_invariants(model, snap, r)

    with pytest.raises(kw.EditError) as err:
        kw.replace_layer(model, "d2", layers.Dense(64, activation="relu", name="d2"),
                         weights="keep")
    assert "d2" in str(err.value) and "(64, 32) against (64, 64)" in str(err.value)
    assert err.value.__cause__ is None
    assert_unchanged(model, snap)

    r2 = kw.replace_layer(model, "d2", layers.Dense(32, activation="tanh", name="d2"))
    assert r2.report.reinitialized == {}
    assert_identical(model, r2.model, ["d1", "d2", "head"])
    x = np.random.default_rng(0).random((2, 784)).astype("float32")
    np.testing.assert_allclose(np.asarray(r2.model(x)), c01.reference_forward(model, x, np.tanh),
                               atol=1e-5)
    assert_write_isolated(r2.model, model)
    assert_unchanged(model, snap)


# -- c02 ------------------------------------------------------------------------------------------

def test_c02_bias_free_conv_and_new_bn():
    model = c02.build()
    snap = snapshot(model)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")

    a = kw.edit_layer(model, "conv1", use_bias=False)
    conv1 = a.model.get_layer("conv1")
    assert [v.name for v in conv1.weights] == ["kernel"]
    assert tuple(conv1.kernel.shape) == (3, 3, 1, 4)
    assert _same(conv1.kernel.numpy(), model.get_layer("conv1").kernel.numpy())
    np.testing.assert_allclose(np.asarray(a.model(x)),
                               np.asarray(c02.reference_model(model, with_bn=False)(x)), atol=1e-5)
    assert_identical(model, a.model, ["conv2", "conv3", "logits"])
    check_invariants(model, snap, a)

    b = kw.insert_layer(a.model, layers.BatchNormalization(name="bn_new"), after="conv1")
    b_before = kw.insert_layer(a.model, layers.BatchNormalization(name="bn_new"), before="act1")
    for res in (b, b_before):
        g = kw.to_networkx(res.model)
        assert list(g.successors("conv1")) == ["bn_new"]
        assert list(g.predecessors("act1")) == ["bn_new"]
        bn = res.model.get_layer("bn_new")
        for var, value in (("gamma", 1.0), ("beta", 0.0), ("moving_mean", 0.0),
                           ("moving_variance", 1.0)):
            assert np.all(getattr(bn, var).numpy() == value)
        assert res.report.added == ["bn_new"]
        assert res.report.reinitialized == {}
        assert_identical(model, res.model, ["conv2", "conv3", "logits"])
        assert [l.name for l in res.model.layers] == (
            [l.name for l in model.layers[:2]] + ["bn_new"] + [l.name for l in model.layers[2:]])
        assert_no_shared_variables(model, res.model)
    np.testing.assert_allclose(np.asarray(b.model(x, training=False)),
                               np.asarray(c02.reference_model(model, with_bn=True)(x)), atol=1e-5)
    assert_write_isolated(b.model, model)
    assert_unchanged(model, snap)


# -- c03 ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_c03_resnet50_gray_input():
    model = c03.build()
    snap = snapshot(model)
    r = kw.set_input_shape(model, (64, 64, 1))
    new = r.model
    assert new.input_shape == (None, 64, 64, 1)
    assert new.output_shape == (None, 2, 2, 2048)
    conv1 = new.get_layer("conv1_conv")
    assert tuple(conv1.kernel.shape) == (7, 7, 1, 64)
    assert list(r.report.reinitialized) == ["conv1_conv"]
    assert _same(conv1.bias.numpy(), model.get_layer("conv1_conv").bias.numpy())

    src_g, new_g = kw.to_networkx(model), kw.to_networkx(new)
    adds = [n for n, d in src_g.nodes(data=True) if d["class_name"] == "Add"]
    assert len(adds) == 16
    for n in adds:
        assert set(new_g.predecessors(n)) == set(src_g.predecessors(n))
        assert len(set(src_g.predecessors(n))) == 2

    src_w, new_w = weights_by_path(model), weights_by_path(new)
    identical = sum(_same(a, b) for p in src_w for (_, a), (_, b) in zip(src_w[p], new_w[p]))
    assert identical == 317 and len(new.weights) == 318
    assert_identical(model, new, ["conv5_block3_3_conv", "conv5_block3_3_bn"])

    x = np.random.default_rng(1).random((2, 64, 64, 1)).astype("float32")
    ref = c03.reference_model(model, conv1.kernel.numpy())
    np.testing.assert_allclose(np.asarray(new(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-4)
    check_invariants(model, snap, r)
    assert model.input_shape == (None, 64, 64, 3)

    # Replacing the first convolution, then changing the input, gives the same structure.
    r2 = kw.replace_layer(model, "conv1_conv", layers.Conv2D(64, 7, strides=2, name="conv1_conv"))
    assert r2.report.reinitialized == {}
    r3 = kw.set_input_shape(r2.model, (64, 64, 1))
    assert [(l.name, l.output.shape) for l in r3.model.layers] == [
        (l.name, l.output.shape) for l in new.layers]


# -- c05 ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_c05_vgg16_insert_lambda():
    model = c05.build()
    snap = snapshot(model)
    r = kw.insert_layer(model, c05.preprocessing_layer(), before="block1_conv1")
    new = r.model
    assert len(new.layers) == 20
    assert [l.name for l in new.layers[:3]] == [model.layers[0].name, "vgg_pre", "block1_conv1"]
    g = kw.to_networkx(new)
    assert list(g.predecessors("block1_conv1")) == ["vgg_pre"]
    assert g.nodes["vgg_pre"]["class_name"] == "Lambda"
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32") * 255
    np.testing.assert_allclose(np.asarray(new(x)), c05.reference_output(model, x),
                               rtol=1e-5, atol=1e-4)
    convs = [l.name for l in model.layers if isinstance(l, layers.Conv2D)]
    assert len(convs) == 13
    assert_identical(model, new, convs)
    # Safe mode is still on: rebuilding a Python-lambda model from its config is still refused.
    with pytest.raises(Exception, match="(?i)lambda|unsafe|safe_mode"):
        keras.Model.from_config(new.get_config())
    assert r.report.added == ["vgg_pre"]
    assert any("safe_mode=False" in n for n in r.report.notes)
    check_invariants(model, snap, r)
    assert len(model.layers) == 19


# -- c06 ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_c06_inception_input_adapter():
    model = c06.build()
    snap = snapshot(model)
    first = c06.first_conv_name(model)
    a = kw.insert_layer(model, layers.Conv2D(3, 1, name="adapter"), before=first)
    assert a.report.added == ["adapter"]
    b = kw.set_input_shape(a.model, (75, 75, 4))
    new = b.model
    assert new.input_shape == (None, 75, 75, 4)
    assert new.output_shape == (None, 1, 1, 2048)
    adapter = new.get_layer("adapter")
    assert tuple(adapter.kernel.shape) == (1, 1, 4, 3) and tuple(adapter.bias.shape) == (3,)
    assert list(b.report.reinitialized) == ["adapter"]
    assert "kernel" in b.report.reinitialized["adapter"]
    assert len(new.weights) == 378
    # Each source array is found in the layer of the same name (a positional copy would be off
    # by the adapter's two arrays).
    names = [l.name for l in model.layers if l.weights]
    assert len(sum((model.get_layer(n).weights for n in names), [])) == 376
    assert_identical(model, new, names)
    assert tuple(new.get_layer(first).kernel.shape) == (3, 3, 3, 32)
    assert list(kw.to_networkx(new).predecessors(first)) == ["adapter"]
    check_invariants(model, snap, a)
    check_invariants(model, snap, b)


# -- c08 ------------------------------------------------------------------------------------------

def test_c08_delete_head_residual_cnn():
    model = c08.build()
    snap = snapshot(model)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    a = kw.delete_layer(model, "old_head")
    assert a.model.output_shape == (None, 16)
    assert "old_head" not in [l.name for l in a.model.layers]
    assert "old_head" not in kw.to_networkx(a.model)
    assert a.report.removed == ["old_head"]
    np.testing.assert_allclose(np.asarray(a.model(x)),
                               np.asarray(c08.reference_features(model)(x)), atol=1e-6)
    b = kw.insert_layer(a.model, layers.Dense(47, activation="softmax", name="new_head"),
                        after="flatten")
    assert b.model.output_shape == (None, 47)
    assert b.report.added == ["new_head"]
    assert "old_head" not in [l.name for l in b.model.layers]
    blocks = [f"{blk}_{p}" for blk in ("b1", "b2") for p in ("c1", "bn", "c2", "proj")]
    for res in (a, b):
        assert_identical(model, res.model, blocks)
        g = kw.to_networkx(res.model)
        assert set(g.predecessors("b1_add")) == {"b1_proj", "b1_c2"}
        assert set(g.predecessors("b2_add")) == {"b2_proj", "b2_c2"}
        check_invariants(model, snap, res)
    assert model.layers[-1].name == "old_head" and model.output_shape == (None, 10)


# -- c10 ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_c10_mobilenet_input_resolution():
    model = c10.build()
    snap = snapshot(model)
    names = [l.name for l in model.layers if l.weights]
    r = kw.set_input_shape(model, (130, 130, 3))
    assert r.model.input_shape == (None, 130, 130, 3)
    assert r.model.output_shape == (None, 4, 4, 1024)
    assert len(r.model.weights) == 135 and r.report.reinitialized == {}
    assert_identical(model, r.model, names)
    x = np.random.default_rng(0).random((2, 130, 130, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(r.model(x)),
                               np.asarray(c10.reference_model(model, (130, 130, 3))(x)),
                               rtol=1e-5, atol=1e-5)
    check_invariants(model, snap, r)

    r2 = kw.set_input_shape(model, (96, 160, 3))
    assert r2.model.output_shape == (None, 3, 5, 1024) and r2.report.reinitialized == {}
    assert_identical(model, r2.model, names)

    top = c10.build_with_dense_top()
    top_snap = snapshot(top)
    assert tuple(top.get_layer("fc").kernel.shape) == (16384, 5)
    k130 = kw.set_input_shape(top, (130, 130, 3))
    assert k130.report.reinitialized == {}
    assert_identical(top, k130.model, names + ["fc"])
    k160 = kw.set_input_shape(top, (160, 160, 3))
    assert tuple(k160.model.get_layer("fc").kernel.shape) == (25600, 5)
    assert list(k160.report.reinitialized) == ["fc"]
    assert _same(k160.model.get_layer("fc").bias.numpy(), top.get_layer("fc").bias.numpy())
    assert_identical(top, k160.model, names)
    check_invariants(top, top_snap, k160)
    with pytest.raises(kw.EditError, match="fc"):
        kw.set_input_shape(top, (160, 160, 3), weights="keep")


# -- c11 ------------------------------------------------------------------------------------------

def test_c11_activation_swap_after_predict():
    model = c11.build()
    x = np.random.default_rng(0).normal(size=(8, 20)).astype("float32")
    sigmoid_before = model.predict(x, verbose=0)  # leaves a traced predict function behind
    snap = snapshot(model)
    r = kw.edit_layer(model, "bottleneck", activation="linear")
    new = r.model
    logits = c11.reference_logits(model, x)
    np.testing.assert_allclose(new.predict(x, verbose=0), logits, atol=1e-5)
    np.testing.assert_allclose(np.asarray(new(x)), logits, atol=1e-5)
    assert new.get_layer("bottleneck").get_config()["activation"] == "linear"
    assert model.get_layer("bottleneck").get_config()["activation"] == "sigmoid"
    assert r.report.reinitialized == {}
    assert_identical(model, new, ["h", "bottleneck"])
    np.testing.assert_array_equal(model.predict(x, verbose=0), sigmoid_before)
    check_invariants(model, snap, r)


# -- c13 ------------------------------------------------------------------------------------------

def _fit_zero_fraction(model, x):
    """Zero fraction of the training-mode outputs inside a compiled train step (fit)."""
    def zero_fraction(y_true, y_pred):
        return keras.ops.mean(keras.ops.cast(keras.ops.equal(y_pred, 0.0), "float32"))

    model.compile(optimizer="sgd", loss="mse", metrics=[zero_fraction])
    history = model.fit(x, np.ones((x.shape[0], 1000), "float32"), epochs=1, batch_size=4,
                        verbose=0)
    return float(history.history["zero_fraction"][-1])


def test_c13_dropout_rate_change():
    model = c13.build()
    x = c13.sample_input()
    assert abs(c13.zero_fraction(model, x, traced=True) - 0.5) < 0.05
    snap = snapshot(model)
    r0 = kw.edit_layer(model, "drop", rate=0.0)
    assert c13.zero_fraction(r0.model, x, traced=False) == 0.0
    assert c13.zero_fraction(r0.model, x, traced=True) == 0.0
    assert r0.model.get_layer("drop").get_config()["rate"] == 0.0
    assert_identical(model, r0.model, ["d"])
    np.testing.assert_array_equal(np.asarray(r0.model(x, training=False)),
                                  np.asarray(model(x, training=False)))
    check_invariants(model, snap, r0)
    assert _fit_zero_fraction(r0.model, x) == 0.0

    r25 = kw.edit_layer(model, "drop", rate=0.25)
    assert abs(c13.zero_fraction(r25.model, x, traced=False) - 0.25) <= 0.03
    assert abs(c13.zero_fraction(r25.model, x, traced=True) - 0.25) <= 0.03
    assert r25.model.get_layer("drop").get_config()["rate"] == 0.25
    assert model.get_layer("drop").get_config()["rate"] == 0.5
    assert abs(c13.zero_fraction(model, x, traced=False) - 0.5) < 0.05
    assert_unchanged(model, snap)


# -- c15 ------------------------------------------------------------------------------------------

def _with_l2(layer):
    return layers.Conv2D.from_config(
        {**layer.get_config(), "kernel_regularizer": keras.regularizers.L2(1e-4)})


@pytest.mark.slow
def test_c15_kernel_regularizers():
    model = c15.build()
    snap = snapshot(model)
    convs = [l.name for l in model.layers if isinstance(l, layers.Conv2D)]
    depthwise = [l.name for l in model.layers if isinstance(l, layers.DepthwiseConv2D)]
    assert len(convs) == 35 and len(depthwise) == 17
    r = kw.replace_all(model, layers.Conv2D, _with_l2)
    new = r.model
    new(np.zeros((1, 32, 32, 3), "float32"))
    assert len(new.losses) == 35
    np.testing.assert_allclose(sorted(float(l) for l in new.losses),
                               c15.expected_l2_losses(new, 1e-4), rtol=1e-5)
    for name in depthwise:
        assert new.get_layer(name).depthwise_regularizer is None
        assert new.get_layer(name).get_config()["depthwise_regularizer"] is None
    assert len(new.weights) == 260 and r.report.reinitialized == {}
    assert_identical(model, new, [l.name for l in model.layers if l.weights])
    assert len(model.losses) == 0
    check_invariants(model, snap, r)

    # The same model, one edit_layer per convolution.
    edited = model
    for name in convs:
        edited = kw.edit_layer(edited, name,
                               kernel_regularizer=keras.regularizers.L2(1e-4)).model
    edited(np.zeros((1, 32, 32, 3), "float32"))
    assert len(edited.losses) == 35
    np.testing.assert_allclose(sorted(float(l) for l in edited.losses),
                               sorted(float(l) for l in new.losses), rtol=1e-6)
    assert [l.name for l in edited.layers] == [l.name for l in new.layers]


# -- c16 ------------------------------------------------------------------------------------------

def test_c16_stateful_streaming_lstm():
    model = c16.build()
    snap = snapshot(model)
    with pytest.raises(kw.EditError) as err:
        kw.edit_layer(model, "lstm", stateful=True)
    assert "lstm" in str(err.value) and "batch size" in str(err.value)
    assert "set_input_shape" in str(err.value)
    assert_unchanged(model, snap)

    fixed = kw.set_input_shape(model, (1, 3), batch_size=1)
    assert fixed.report.reinitialized == {}
    r = kw.edit_layer(fixed.model, "lstm", stateful=True)
    new = r.model
    assert new.get_layer("lstm").stateful is True
    assert tuple(new.inputs[0].shape) == (1, 1, 3)
    assert r.report.reinitialized == {}
    shapes = [tuple(v.shape) for v in new.weights]
    assert shapes == [(3, 32), (8, 32), (32,), (8, 1), (1,)]
    assert_identical(model, new, ["lstm", "td"])
    x = c16.sample_input()
    np.testing.assert_allclose(c16.streaming_outputs(new, x), c16.reference_full_sequence(model, x),
                               atol=1e-5)
    assert model.get_layer("lstm").stateful is False
    assert tuple(model.inputs[0].shape) == (None, 10, 3)
    check_invariants(model, snap, r)


# -- c18 ------------------------------------------------------------------------------------------

def test_c18_wrap_convs_in_wrapper():
    model = c18.build()
    snap = snapshot(model)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    r = kw.replace_all(model, layers.Conv2D, lambda layer: c18.Scaled(layer))
    new = r.model
    scaled = [l for l in new.layers if isinstance(l, c18.Scaled)]
    assert len(scaled) == 2
    assert not any(type(l) is layers.Conv2D for l in new.layers)
    g = kw.to_networkx(new)
    assert sorted(d["class_name"] for _, d in g.nodes(data=True)
                  if d["class_name"] in ("Scaled", "Conv2D")) == ["Scaled", "Scaled"]
    for wrapper, name in zip(scaled, ("conv_a", "conv_b")):
        src = model.get_layer(name)
        assert isinstance(wrapper.layer, layers.Conv2D)
        assert _same(wrapper.layer.kernel.numpy(), src.kernel.numpy())
        assert _same(wrapper.layer.bias.numpy(), src.bias.numpy())
        assert wrapper.layer.kernel is not src.kernel
    assert_write_isolated(new, model)
    np.testing.assert_allclose(np.asarray(new(x)), np.asarray(model(x)), atol=1e-6)
    r2 = kw.replace_all(model, layers.Conv2D, lambda layer: c18.Scaled(layer, scale=2.0))
    np.testing.assert_allclose(np.asarray(r2.model(x)),
                               np.asarray(c18.reference_model(model, 2.0)(x)), atol=1e-5)
    assert_identical(model, new, ["head"])
    again = roundtrip(new)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(new(x)), atol=1e-6)
    check_invariants(model, snap, r)


# -- c19 ------------------------------------------------------------------------------------------

def test_c19_shrink_filters_before_add():
    model = c19.build()
    snap = snapshot(model)
    pending = _pending_variables()
    for target in ("stem", "res_b"):
        with pytest.raises(kw.EditError) as err:
            kw.edit_layer(model, target, filters=61)
        msg = str(err.value)
        assert target in msg and "'add'" in msg and "61" in msg and "64" in msg
        assert "(None, 32, 32, 61)" in msg and "(None, 32, 32, 64)" in msg
        assert err.value.__cause__ is None and err.value.__suppress_context__
        assert err.value.layer == "add"
        assert_unchanged(model, snap)
    assert _pending_variables() == pending  # nothing was left half-built

    r = kw.edit_layer(model, "res_a", filters=61)
    new = r.model
    assert tuple(new.get_layer("res_a").kernel.shape) == (3, 3, 64, 61)
    assert tuple(new.get_layer("res_b").kernel.shape) == (3, 3, 61, 64)
    assert set(r.report.reinitialized) == {"res_a", "res_b"}
    assert "bias" not in r.report.reinitialized["res_b"]
    assert _same(new.get_layer("res_b").bias.numpy(), model.get_layer("res_b").bias.numpy())
    assert_identical(model, new, ["stem", "head"])
    assert new.output_shape == (None, 10)
    check_invariants(model, snap, r)


# -- c21 ------------------------------------------------------------------------------------------

def test_c21_remove_norm_layers():
    model = c21.build()
    snap = snapshot(model)
    a = kw.replace_all(model, layers.BatchNormalization, lambda layer: None)
    b = kw.replace_all(a.model, layers.LayerNormalization, lambda layer: None)
    deletes = model
    for name in ("bn0", "bn1", "bn2", "ln"):
        deletes = kw.delete_layer(deletes, name).model
    expected = ["image", "c0", "r0", "c1", "r1", "c2", "add", "gap", "head"]
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    ref = np.asarray(c21.reference_without_norms(model)(x))
    for new in (b.model, deletes):
        assert [l.name for l in new.layers] == expected
        g = kw.to_networkx(new)
        assert set(g.predecessors("add")) == {"r0", "c2"}
        assert list(g.predecessors("gap")) == ["add"]
        assert_identical(model, new, ["c0", "c1", "c2", "head"])
        np.testing.assert_allclose(np.asarray(new(x)), ref, atol=1e-5)
        assert_no_shared_variables(model, new)
    assert a.report.removed == ["bn0", "bn1", "bn2"] and b.report.removed == ["ln"]
    check_invariants(model, snap, a)
    assert_unchanged(model, snap)


# -- c22 ------------------------------------------------------------------------------------------

def test_c22_shared_embedding_branch_insert():
    model = c22.build()
    snap = snapshot(model)
    r = kw.insert_layer(model, layers.Dropout(0.1, name="drop_b"), before="pool_b")
    new = r.model
    g = kw.to_networkx(new)
    (emb_b,) = g.predecessors("drop_b")
    assert g.nodes[emb_b]["name"] == "shared_emb" and list(g.predecessors(emb_b)) == ["b"]
    (emb_a,) = g.predecessors("pool_a")
    assert g.nodes[emb_a]["name"] == "shared_emb" and list(g.predecessors(emb_a)) == ["a"]
    assert (emb_a, emb_b) == ("shared_emb#0", "shared_emb#1")  # call order kept
    assert sum(isinstance(l, layers.Embedding) for l in new.layers) == 1
    assert len(new.weights) == 3
    emb = new.get_layer("shared_emb").embeddings
    assert tuple(emb.shape) == (100, 8)
    assert_identical(model, new, ["shared_emb", "score"])
    xa, xb = c22.sample_inputs()
    assert not np.allclose(np.asarray(new([xa, xb])), np.asarray(new([xa, xa])))
    np.testing.assert_allclose(np.asarray(new([xa, xb], training=False)),
                               np.asarray(model([xa, xb])), atol=1e-6)
    check_invariants(model, snap, r)

    every = kw.insert_layer(model, layers.Dropout(0.1, name="drop_all"), after="shared_emb")
    g = kw.to_networkx(every.model)
    assert set(g.successors("shared_emb#0")) == {"drop_all#0"}
    assert set(g.successors("shared_emb#1")) == {"drop_all#1"}
    assert any("every call" in n and "shared_emb" in n for n in every.report.notes)
    one = kw.insert_layer(model, layers.Dropout(0.1, name="drop_one"), after="shared_emb#1")
    g = kw.to_networkx(one.model)
    assert list(g.successors("shared_emb#1")) == ["drop_one"]
    assert list(g.successors("shared_emb#0")) == ["pool_a"]
    assert_unchanged(model, snap)


# -- c24 ------------------------------------------------------------------------------------------

def test_c24_nested_inner_layer():
    model = c24.build()
    snap = snapshot(model)
    g = kw.to_networkx(model)
    node = g.nodes["inner_model/id_1"]
    assert node["parent"] == "inner_model" and node["class_name"] == "Dense"
    assert node["output_shape"] == (None, 6)
    assert g.nodes["inner_model"]["kind"] == "model"

    r = kw.replace_layer(model, "inner_model/id_1",
                         layers.Dense(6, activation="tanh", name="id_1"))
    new = r.model
    inner = new.get_layer("inner_model")
    assert isinstance(inner, keras.Model)
    assert inner.get_layer("id_1").get_config()["activation"] == "tanh"
    assert r.report.reinitialized == {}
    assert_identical(model, new, ["pre", "post", "inner_model/id_2", "inner_model/id_1"])
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(new(x)), c24.reference_forward(model, x, np.tanh),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(model(x)),
                               c24.reference_forward(model, x, lambda t: np.maximum(t, 0)),
                               atol=1e-5)
    assert "inner_model/id_1" in kw.to_networkx(new)
    check_invariants(model, snap, r)
    assert model.get_layer("inner_model").get_layer("id_1").get_config()["activation"] == "relu"


# -- c26 ------------------------------------------------------------------------------------------

def test_c26_keep_one_head():
    model = c26.build()
    snap = snapshot(model)
    r = kw.remove_output(model, "cls")
    new = r.model
    assert [l.name for l in new.layers] == ["x", "A", "B", "E", "reg"]
    assert not {"C", "cls"} & set(kw.to_networkx(new))
    assert set(r.report.removed) == {"C", "cls"}
    assert_identical(model, new, ["A", "B", "E", "reg"])
    x = np.random.default_rng(0).random((4, 10)).astype("float32")
    out = new(x)
    assert isinstance(out, dict) and list(out) == ["reg"]
    np.testing.assert_allclose(np.asarray(out["reg"]), np.asarray(model(x)["reg"]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["reg"]), np.asarray(c26.reference_reg(model)(x)),
                               atol=1e-6)
    check_invariants(model, snap, r)
    # delete_layer on an output layer means what it means in c08: C's output becomes "cls".
    d = kw.delete_layer(model, "cls")
    shapes = {k: v.shape for k, v in d.model(x).items()}
    assert shapes == {"cls": (4, 8), "reg": (4, 1)}
    assert len(model.outputs) == 2


# -- c27 ------------------------------------------------------------------------------------------

def test_c27_sequential_source_roundtrip():
    model = c27.build()
    snap = snapshot(model)
    x = np.random.default_rng(0).random((2, 3)).astype("float32")
    g = kw.to_networkx(model)
    kinds = [d["kind"] for _, d in g.nodes(data=True)]
    assert kinds[0] == "input" and {"dense", "softmax"} <= set(g)

    r = kw.rename_layer(model, "dense", "fc")
    assert isinstance(r.model, keras.Model) and not isinstance(r.model, keras.Sequential)
    names = [l.name for l in r.model.layers if not isinstance(l, layers.InputLayer)]
    assert names == ["fc", "softmax"]
    np.testing.assert_allclose(np.asarray(r.model(x)), np.asarray(model(x)), atol=1e-6)

    w = kw.edit_layer(model, "dense", units=7)
    assert w.model.output_shape == (None, 7)
    assert tuple(w.model.get_layer("dense").kernel.shape) == (3, 7)
    assert "dense" in w.report.reinitialized and "kernel (3, 7)" in w.report.reinitialized["dense"]

    with tempfile.TemporaryDirectory() as d:
        for res in (r, w):
            again = c27.save_and_reload(res.model, d)
            assert [l.name for l in again.layers] == [l.name for l in res.model.layers]
            np.testing.assert_allclose(np.asarray(again(x)), np.asarray(res.model(x)), atol=1e-6)
    check_invariants(model, snap, r)
    check_invariants(model, snap, w)
    assert isinstance(model, keras.Sequential)


# -- c29 ------------------------------------------------------------------------------------------

def test_c29_lambda_slices_in_loop():
    model = c29.build()
    snap = snapshot(model)
    x = c29.sample_input()
    r = kw.rename_layer(model, "slice0", "first")
    assert c29.first_values(r.model(x)) == [1.0, 2.0]
    assert r.model.get_layer("first").arguments == {"i": 0}
    assert r.model.get_layer("slice1").arguments == {"i": 1}
    with pytest.raises(Exception, match="(?i)lambda|unsafe|safe_mode"):
        keras.Model.from_config(r.model.get_config())

    p = kw.insert_layer(model, layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros",
                                            name="proj"), after="steps")
    g = kw.to_networkx(p.model)
    assert list(g.predecessors("slice0")) == ["proj"] and list(g.predecessors("slice1")) == ["proj"]
    assert c29.first_values(p.model(x)) == [1.0, 2.0]

    late = c29.build(late_bound=True)
    assert c29.first_values(late(x)) == [2.0, 2.0]
    late_r = kw.rename_layer(late, "slice0", "first")
    assert c29.first_values(late_r.model(x)) == [2.0, 2.0]

    for res in (r, p):
        assert any("safe_mode=False" in n for n in res.report.notes)
        path = tempfile.mkdtemp() + "/m.keras"
        res.model.save(path)
        with pytest.raises(Exception, match="(?i)lambda|safe_mode"):
            keras.models.load_model(path)
        check_invariants(model, snap, res)


# -- c32 ------------------------------------------------------------------------------------------

def test_c32_unregistered_custom_layer():
    model = c32.build()
    snap = snapshot(model)
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    r = kw.replace_layer(model, "d2", layers.Dense(2, name="d2"))
    new = r.model
    assert new.output_shape == (None, 2)
    assert tuple(new.get_layer("d2").kernel.shape) == (4, 2) and "d2" in r.report.reinitialized
    scale = new.get_layer("scale")
    assert type(scale).__name__ == "Scale" and scale.factor == 3.0
    assert_identical(model, new, ["scale", "d1"])
    for m in (model, new):
        probe = keras.Model(m.input, m.get_layer("scale").output)
        np.testing.assert_allclose(np.asarray(probe(x)), c32.reference_scale_output(model, x),
                                   atol=1e-6)
    assert any("Scale" in n and "register" in n for n in r.report.notes)

    e = kw.insert_layer(model, layers.Dense(4, name="extra"), after="scale")
    assert list(kw.to_networkx(e.model).successors("scale")) == ["extra"]
    assert_identical(model, e.model, ["scale", "d1"])
    with pytest.raises(Exception, match="Scale"):
        keras.Model.from_config(model.get_config())
    check_invariants(model, snap, r)
    check_invariants(model, snap, e)
