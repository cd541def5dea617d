"""Save round trip: what the editor's Save button does (keras_widget.saving)."""
import keras
import numpy as np
import pytest

import keras_widget as kw
from keras_widget.saving import random_inputs, save_and_check


def _two_inputs():
    a = keras.Input((4,), name="a")
    ids = keras.Input((5,), dtype="int32", name="ids")
    emb = keras.layers.Flatten()(keras.layers.Embedding(3, 2, name="emb")(ids))
    x = keras.layers.Concatenate()([keras.layers.Dense(3, name="d")(a), emb])
    return keras.Model({"a": a, "ids": ids}, {"y": keras.layers.Dense(2, name="y")(x)})


def test_round_trip_of_an_edited_model(tmp_path):
    model = _two_inputs()
    edited = kw.edit_layer(model, "d", units=6).model
    check = save_and_check(edited, tmp_path / "edited.keras")
    assert check.path == str(tmp_path / "edited.keras")
    assert check.size == (tmp_path / "edited.keras").stat().st_size > 0
    assert check.max_difference == 0.0
    assert "loaded back" in str(check)
    loaded = keras.models.load_model(check.path)
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in edited.get_weights()]


def test_random_inputs_follow_the_model_structure():
    batch = random_inputs(_two_inputs(), batch=3)
    assert set(batch) == {"a", "ids"}
    assert batch["a"].shape == (3, 4) and batch["a"].dtype == np.float32
    assert batch["ids"].shape == (3, 5) and batch["ids"].dtype == np.int32
    assert set(np.unique(batch["ids"])) <= {0, 1}


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


def test_unregistered_class_is_a_sentence_with_the_fix(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, Unregistered(name="twice")(keras.layers.Dense(2, name="d")(x)))
    with pytest.raises(kw.EditError) as info:
        save_and_check(model, tmp_path / "m.keras")
    message = str(info.value)
    assert "cannot load it back" in message
    assert "register_keras_serializable" in message and "'twice'" in message
    assert info.value.cause is not None


def test_python_lambda_needs_unsafe_mode_and_we_never_switch_it(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Lambda(lambda t: t + 1.0, name="plus")(x))
    with pytest.raises(kw.EditError) as info:
        save_and_check(model, tmp_path / "m.keras")
    assert "safe_mode=False" in str(info.value) and "'plus'" in str(info.value)


def test_wrong_suffix_is_refused_before_writing(tmp_path):
    with pytest.raises(kw.EditError, match=r"does not end with '\.keras'"):
        save_and_check(_two_inputs(), tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()
