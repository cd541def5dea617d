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


def test_fields_are_typed_like_the_constructor():
    import ipywidgets as widgets

    form = LayerForm()
    form.set_target(keras.layers.Dense(16, activation="tanh", name="fc"))
    fields = form.fields
    assert isinstance(fields["use_bias"].widget, widgets.Checkbox)
    assert fields["use_bias"].widget.value is True
    assert isinstance(fields["activation"].widget, widgets.Dropdown)
    assert fields["activation"].widget.value == "tanh"
    assert "gelu" in fields["activation"].widget.options and "None" in \
        fields["activation"].widget.options
    assert fields["kernel_initializer"].widget.value == "glorot_uniform"
    assert isinstance(fields["units"].widget, widgets.Text)
    assert fields["units"].widget.tooltip == \
        "Positive integer, dimensionality of the output space."
    form.set(use_bias=False, activation="gelu")
    assert form.changed() == {"use_bias": False, "activation": "gelu"}
    with pytest.raises(kw.EditError, match="use_bias takes True or False, not 'maybe'"):
        form.set(use_bias="maybe")
    with pytest.raises(kw.EditError, match="activation takes one of None, celu, elu, "):
        form.set(activation="wobbly")


def test_a_value_of_the_wrong_kind_is_said_under_its_field():
    form = LayerForm()
    form.set_target(keras.layers.Dense(16, name="fc"))
    form.set(units="3.5")
    with pytest.raises(kw.EditError, match=r"^units takes an integer, not 3\.5\.$"):
        form.values()
    children = list(form.fields_box.children)
    error = children[children.index(form.fields["units"].widget) + 1]
    assert "units takes an integer, not 3.5." in error.value
    form.set(units="32")
    form.values()
    assert error not in form.fields_box.children and error.value == ""


def test_the_class_refusal_goes_under_the_argument_it_is_about():
    form = LayerForm()
    form.set_target(keras.layers.Dropout(0.5, name="drop"))
    form.set(rate="1.5")
    with pytest.raises(kw.EditError, match=r"Dropout\(rate=1\.5\) cannot be made") as info:
        form.build()
    assert info.value.cause is not None
    children = list(form.fields_box.children)
    assert "cannot be made" in children[children.index(form.fields["rate"].widget) + 1].value


def test_a_config_value_a_list_cannot_show_gets_a_text_field():
    import ipywidgets as widgets

    init = keras.initializers.VarianceScaling(scale=2.0, mode="fan_out")
    form = LayerForm()
    form.set_target(keras.layers.Dense(4, kernel_initializer=init, name="fc"))
    box = form.fields["kernel_initializer"].widget
    assert isinstance(box, widgets.Text) and "VarianceScaling" in box.value
    cls, kwargs = form.values()
    assert kwargs["kernel_initializer"]["config"]["scale"] == 2.0


def test_field_widgets_are_reused_across_targets():
    from ipywidgets.widgets.widget import _instances  # every live widget of the kernel

    form = LayerForm()
    layers = [keras.layers.Dense(4, name="a"), keras.layers.Conv2D(3, 3, name="b"),
              keras.layers.Dropout(0.1, name="c")]
    form.set_target(layers[0])
    for layer in layers * 3:
        form.set_target(layer)
    before = len(_instances)
    for layer in layers * 3:
        form.set_target(layer)
    assert len(_instances) == before


class NotebookScale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


def test_layer_classes_defined_in_the_notebook_are_offered(monkeypatch):
    import sys
    import types

    main = types.ModuleType("__main__")
    NotebookScale.__module__ = "__main__"
    main.NotebookScale = NotebookScale
    main.NotAModel = keras.Model
    monkeypatch.setitem(sys.modules, "__main__", main)
    form = LayerForm()
    assert ("NotebookScale · custom", "NotebookScale") in form.picker.options
    form.pick("NotebookScale")
    assert form.fields["factor"].widget.value == "2.0"
    form.set(factor="3")
    assert form.build().factor == 3


def test_an_optional_argument_the_class_refuses_is_named():
    form = LayerForm()
    form.pick("Conv2D")
    form.set(filters="8", kernel_size="3", groups="0")
    with pytest.raises(kw.EditError, match=r"Conv2D\(filters=8, kernel_size=3, groups=0\) "
                                           r"cannot be made"):
        form.build()
    children = list(form.fields_box.children)
    assert "cannot be made" in children[children.index(form.fields["groups"].widget) + 1].value
