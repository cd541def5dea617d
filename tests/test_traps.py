"""Traps found by trying to break the surgery: each test is one kind of model or call that
used to lose weights, untie them, ignore an edit or let a raw exception out."""
import keras
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import assert_identical, assert_no_shared_variables, assert_write_isolated


class Gain(layers.Layer):
    """A weight made by add_weight() without a name: Keras names it from a global counter."""

    def build(self, shape):
        self.g = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.g


def test_variables_without_a_name_are_kept():
    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="d")(Gain(name="gain")(x)))
    model.get_layer("gain").g.assign([1.0, 2.0, 3.0, 4.0])
    r = kw.rename_layer(model, "d", "head")
    assert "gain" in r.report.kept
    np.testing.assert_array_equal(r.model.get_layer("gain").g.numpy(), [1, 2, 3, 4])
    xs = np.random.default_rng(0).random((3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(r.model(xs)), np.asarray(model(xs)), atol=1e-6)


class Holder(layers.Layer):
    """A registered-looking layer whose config hands back its own sub-layer object."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return self.inner(x)

    def get_config(self):
        return {**super().get_config(), "inner": self.inner}


def test_a_config_holding_a_sub_layer_does_not_share_it():
    x = keras.Input((3,), name="x")
    model = keras.Model(x, layers.Dense(1, name="out")(Holder(layers.Dense(3), name="h")(x)))
    r = kw.rename_layer(model, "out", "o")
    assert_no_shared_variables(model, r.model)
    assert_write_isolated(r.model, model)
    assert_identical(model, r.model, ["h"])


class Tied(layers.Layer):
    """An output layer that reuses the model's Embedding matrix (tied weights)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, x):
        return keras.ops.matmul(x, keras.ops.transpose(self.embedding.embeddings))


def test_tied_weights_stay_tied():
    tok = keras.Input((4,), dtype="int32", name="tok")
    emb = layers.Embedding(10, 6, name="emb")
    model = keras.Model(tok, Tied(emb, name="tied")(layers.Dense(6, name="mid")(emb(tok))))
    r = kw.rename_layer(model, "mid", "mid2")
    new = r.model
    assert new.get_layer("tied").embedding is new.get_layer("emb")
    assert len(new.weights) == len(model.weights) == 3
    new.get_layer("emb").embeddings.assign(np.zeros((10, 6), "float32"))
    assert np.abs(np.asarray(new(np.ones((1, 4), "int32")))).max() == 0.0
    assert np.abs(np.asarray(model(np.ones((1, 4), "int32")))).max() > 0.0


def test_a_layer_used_inside_and_outside_a_nested_model_is_edited_everywhere():
    shared = layers.Dense(6, name="shd")
    ii = keras.Input((6,), name="ii")
    inner = keras.Model(ii, shared(ii), name="inner")
    x = keras.Input((6,), name="x")
    model = keras.Model(x, layers.Dense(2, name="out")(shared(inner(x))))
    for target in ("shd", "inner/shd"):
        new = kw.edit_layer(model, target, activation="relu").model
        outer = new.get_layer("shd")
        assert outer is new.get_layer("inner").get_layer("shd")  # still one layer
        assert outer.get_config()["activation"] == "relu"


def test_keras_ops_nodes_can_be_replaced_renamed_and_deleted_but_not_edited():
    x = keras.Input((4,), name="x")
    h = keras.ops.relu(layers.Dense(4, name="d1")(x))
    model = keras.Model(x, layers.Dense(2, name="d2")(h))
    (op,) = [n for n, d in kw.to_networkx(model).nodes(data=True) if d["kind"] == "op"]
    xs = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    r = kw.replace_layer(model, op, layers.ReLU(name="relu_layer"))
    assert r.report.added == ["relu_layer"]
    np.testing.assert_allclose(np.asarray(r.model(xs)), np.asarray(model(xs)), atol=1e-6)
    renamed = kw.rename_layer(model, op, "positive")
    assert "positive" in kw.to_networkx(renamed.model)
    gone = kw.delete_layer(model, op)
    assert any("keras.ops operation" in n for n in gone.report.notes)
    with pytest.raises(kw.EditError, match="keras.ops operation"):
        kw.edit_layer(model, op, name="z")
    renamed_input = kw.rename_layer(model, "x", "pixels")
    assert renamed_input.model.inputs[0].name == "pixels"
    assert "pixels" in kw.to_networkx(renamed_input.model)


@pytest.mark.parametrize("shape, batch", [(10, None), ((10.7,), None), ((10,), True),
                                          (("a",), None)])
def test_bad_shapes_are_sentences(shape, batch):
    x = keras.Input((5,), name="x")
    model = keras.Model(x, layers.Dense(2, name="d")(x))
    with pytest.raises(kw.EditError, match="positive int"):
        kw.set_input_shape(model, shape, batch_size=batch)


class Broken(layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        raise TypeError("cannot serialize")


class Forgetful(Broken):
    def get_config(self):  # forgets `factor`, which has a default in from_config's eyes
        return {"name": self.name}

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(factor, **kwargs)


@pytest.mark.parametrize("cls", [Broken, Forgetful])
def test_custom_layers_whose_config_cannot_rebuild_them_are_copied_live(cls):
    x = keras.Input((3,), name="x")
    model = keras.Model(x, layers.Dense(1, name="d")(cls(5.0, name="c")(x)))
    r = kw.rename_layer(model, "d", "head")
    assert r.model.get_layer("c").factor == 5.0
    xs = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(r.model(xs)), np.asarray(model(xs)), atol=1e-6)


def test_the_mask_keras_adds_is_not_an_input():
    tok = keras.Input((5,), dtype="int32", name="tok")
    e = layers.Embedding(20, 8, mask_zero=True, name="emb")(tok)
    h = layers.LSTM(6, return_sequences=True, name="l1")(e)
    model = keras.Model(tok, layers.Dense(2, name="out")(layers.LSTM(4, name="l2")(h)))
    r = kw.insert_layer(model, layers.Dense(8, name="ins"), before="l1")
    g = kw.to_networkx(r.model)
    assert list(g.predecessors("ins")) == ["emb"] and "ins" in set(g.predecessors("l1"))
    d = kw.delete_layer(model, "l1")
    assert "l1" not in [l.name for l in d.model.layers]
    x = keras.Input((6, 8), name="seq")
    mha = keras.Model(x, layers.MultiHeadAttention(2, 4, name="mha")(x, x))
    r = kw.insert_layer(mha, layers.LayerNormalization(name="ln"), before="mha")
    assert list(kw.to_networkx(r.model).predecessors("mha")) == ["ln"]


def test_a_call_argument_the_replacement_does_not_take_is_refused():
    enc_in = keras.Input((5, 3), name="enc_in")
    dec_in = keras.Input((4, 3), name="dec_in")
    _, h, c = layers.LSTM(6, return_state=True, name="enc")(enc_in)
    dec = layers.LSTM(6, return_sequences=True, name="dec")(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], layers.Dense(2, name="out")(dec))
    with pytest.raises(kw.EditError, match="does not take the argument 'initial_state'"):
        kw.replace_layer(model, "dec", layers.Dense(6, name="dec"))


def _exported(ed, source):
    scope = {"model": source}
    exec(ed.history.to_code(), scope)
    return scope["model"]


def test_exported_code_rebuilds_what_the_editor_built():
    inp = keras.Input((16, 16, 3), name="img")
    x = layers.Conv2D(4, 3, padding="same", name="c")(inp)
    x = layers.MaxPooling2D(2, name="pool")(x)
    seq_in = keras.Input((5, 4), name="seq")
    model = keras.Model([inp, seq_in], [layers.Dense(2, name="d")(layers.Flatten(name="f")(x)),
                                        layers.Dense(3, name="r")(seq_in)])
    ed = kw.ModelEditor(model)
    ed.replace_layer("pool", layers.MaxPooling2D(3, strides=2, padding="same", name="pool"))
    ed.edit_layer("c", kernel_regularizer=keras.regularizers.L2(0.01),
                  activation=keras.activations.gelu)
    ed.replace_layer("r", layers.Bidirectional(layers.LSTM(3), name="r"))
    ed.edit_layer("d", units=np.int64(4))
    ed.insert_layer(layers.Dropout(np.float64(0.3), name="drop"), after="f")
    rebuilt = _exported(ed, model)
    for a, b in zip(ed.model.layers, rebuilt.layers):
        assert (a.name, type(a)) == (b.name, type(b))
        assert a.get_config() == b.get_config() or a.name == "drop"
        assert tuple(a.output.shape) == tuple(b.output.shape)
    assert_identical(ed.model, rebuilt, ["c"])


def test_edits_made_with_python_functions_become_comments_that_say_so():
    x = keras.Input((4,), name="x")
    model = keras.Model(x, layers.Dense(2, name="out")(layers.ReLU(name="act")(x)))
    ed = kw.ModelEditor(model)
    ed.insert_layer(layers.Lambda(lambda t: t * 2, name="twice"), after="x")
    ed.replace_all(lambda l: isinstance(l, layers.ReLU), lambda l: layers.ELU(name=l.name))
    ed.rename_layer("out", "head")
    code = ed.history.to_code()
    assert code.count("# Here you made a") == 2 and "the Lambda layer 'twice'" in code
    rebuilt = _exported(ed, model)  # it runs; the rename is made, the others are yours to make
    assert [l.name for l in rebuilt.layers] == ["x", "act", "head"]


def test_keep_means_every_weight_of_the_target_lives_on():
    x = keras.Input((8,), name="x")
    h = layers.BatchNormalization(name="bn")(layers.Dense(16, name="d2")(x))
    model = keras.Model(x, h)
    for edit in (lambda: kw.edit_layer(model, "d2", use_bias=False, weights="keep"),
                 lambda: kw.replace_layer(model, "d2", layers.ReLU(name="d2"), weights="keep"),
                 lambda: kw.replace_layer(model, "bn", layers.LayerNormalization(name="bn"),
                                          weights="keep")):
        with pytest.raises(kw.EditError, match="weights='keep' cannot be met.*has no place for"):
            edit()
    no_bias = keras.Model(x, layers.Dense(4, use_bias=False, name="nb")(x))
    r = kw.replace_layer(no_bias, "nb", layers.Dense(4, name="nb"), weights="keep")
    np.testing.assert_array_equal(r.model.get_layer("nb").kernel.numpy(),
                                  no_bias.get_layer("nb").kernel.numpy())


def test_names_that_would_break_paths_or_call_sites_are_refused():
    x = keras.Input((3,), name="x")
    shared = layers.Dense(3, name="a")
    model = keras.Model(x, layers.Dense(1, name="b")(shared(shared(x))))
    for bad in (None, "", 5, "a#1", "p/q"):
        with pytest.raises(kw.EditError, match="a layer name is a non-empty string"):
            kw.edit_layer(model, "b", name=bad)
    with pytest.raises(kw.EditError, match="a layer name"):
        kw.replace_layer(model, "b", layers.Dense(1, name="b#0"))
    odd = keras.Model(x, layers.Dense(1, name="a#1")(shared(shared(x))))
    g = kw.to_networkx(odd)  # a layer named like a call site still gets a node of its own
    assert {"a#0", "a#1", "a#1'"} <= set(g)
    assert g.nodes["a#1'"]["name"] == "a#1" and g.nodes["a#1"]["call_index"] == 1


def test_malformed_edits_are_sentences():
    x = keras.Input((3,), name="x")
    model = keras.Model(x, layers.Dense(1, name="d")(x))
    with pytest.raises(kw.EditError, match="There is no edit 'explode'"):
        kw.Edit("explode", {}).apply(model)
    with pytest.raises(kw.EditError, match="delete_layer: missing a required argument: 'target'"):
        kw.Edit("delete_layer", {"layer": "d"}).apply(model)
    with pytest.raises(kw.EditError, match="factory must be a function"):
        kw.replace_all(model, layers.Dense, "x")


def test_a_lambda_keras_cannot_serialize_is_said_to_be_unsavable():
    import functools

    def plus(t, k):
        return t + k

    x = keras.Input((3,), name="x")
    model = keras.Model(x, layers.Dense(1, name="d")(x))
    r = kw.insert_layer(model, layers.Lambda(functools.partial(plus, k=2.0), name="plam"),
                        after="x")
    assert any("cannot serialize" in n and "model.save will fail" in n for n in r.report.notes)
