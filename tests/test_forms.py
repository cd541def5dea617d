"""The layer catalog and the safe parsing of typed values."""
import keras
import pytest

import keras_widget as kw
from keras_widget.forms import LayerForm, catalog, parse_value, value_text


@pytest.mark.parametrize("text, value", [
    ("128", 128), ("(3, 3)", (3, 3)), ("relu", "relu"), ("'same'", "same"), ("None", None),
    ("True", True), ("1e-4", 1e-4), ("[1, 2]", [1, 2]), ("{'a': 1}", {"a": 1}),
    ("glorot_uniform", "glorot_uniform"), ("channels_last", "channels_last"),
])
def test_values_are_python_literals_or_bare_words(text, value):
    assert parse_value("x", text) == value


@pytest.mark.parametrize("text", [
    "__import__('os').system('echo pwned')", "open('/etc/passwd')", "lambda: 1", "1 +",
    "keras.layers.Dense(3)", "2 ** 1000000000",
])
def test_code_is_never_evaluated(text):
    with pytest.raises(kw.EditError, match="is not a value"):
        parse_value("units", text)


def test_value_text_round_trips_through_parse():
    for value in [128, (3, 3), "relu", "same", None, True, 0.5, "a b", "None"]:
        assert parse_value("x", value_text(value)) == value


def test_catalog_groups_by_kind_and_leaves_out_what_a_form_cannot_build():
    groups = catalog()
    names = {c.__name__: cat for cat, group in groups.items() for c in group}
    assert names["Conv2D"] == "convolution" and names["Dense"] == "dense"
    assert names["BatchNormalization"] == "normalization" and names["ReLU"] == "activation"
    assert names["MaxPooling2D"] == "pooling" and names["Add"] == "merge"
    assert names["Flatten"] == "reshape" and names["LSTM"] == "recurrent"
    assert names["MultiHeadAttention"] == "attention"
    for absent in ("Bidirectional", "TimeDistributed", "RNN", "Lambda", "InputLayer", "Layer",
                   "LSTMCell", "MaxPool2D", "AvgPool2D"):
        assert absent not in names
    assert list(groups)[0] == "convolution"


def test_form_prefills_from_the_target_and_reports_what_changed():
    dense = keras.layers.Dense(16, activation="tanh", name="fc")
    form = LayerForm(name_for=lambda cls: "fresh")
    form.set_target(dense)
    assert form.picker.value == "Dense"
    assert form.fields["units"][0].value == "16" and form.fields["name"][0].value == "fc"
    assert form.changed() == {}
    form.set(units="32")
    assert form.changed() == {"units": 32}
    cls, kwargs = form.values()
    assert cls is keras.layers.Dense and kwargs["activation"] == "tanh"
    form.set_target(dense, mode="insert")
    assert form.fields["units"][0].value == "" and form.fields["name"][0].value == "fresh"
    with pytest.raises(kw.EditError, match="'units' is required"):
        form.values()
    form.pick("Conv2D")
    form.set(filters="8", kernel_size="3")
    layer = form.build()
    assert isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (3, 3)
    with pytest.raises(kw.EditError, match="no argument 'units'"):
        form.set(units="3")
    with pytest.raises(kw.EditError, match="Unknown layer class 'Nope'"):
        form.pick("Nope")


def test_search_filters_the_list():
    form = LayerForm()
    form.search.value = "pool"
    labels = [label for label, _ in form.picker.options]
    assert labels and all("pool" in label.lower() for label in labels)
    assert "MaxPooling2D · pooling" in labels


def test_an_emptied_field_means_the_class_default():
    dense = keras.layers.Dense(16, activation="tanh", use_bias=False, name="fc")
    form = LayerForm()
    form.set_target(dense)
    form.set(activation="", use_bias="  ")
    assert form.changed() == {"activation": None, "use_bias": True}
    form.set(name="")
    cls, kwargs = form.values()
    assert "name" not in kwargs
    form.set(units="")
    with pytest.raises(kw.EditError, match="'units' is required"):
        form.values()
