"""What the form's fields take: keras_widget.arguments reads constructors and docstrings."""
import keras
import numpy as np
import pytest

from keras_widget.arguments import (ACTIVATIONS, CONSTRAINTS, INITIALIZERS, REGULARIZERS,
                                    REQUIRED, arguments, docstring_args)


def _by_name(cls):
    return {a.name: a for a in arguments(cls)}


def test_conv2d_fields_are_typed_like_keras_takes_them():
    args = _by_name(keras.layers.Conv2D)
    assert args["filters"].required and args["filters"].kind == "int"
    assert args["kernel_size"].kind == "text"  # an int or a tuple
    assert args["strides"].default == (1, 1) and args["strides"].kind == "text"
    assert args["use_bias"].kind == "bool" and args["use_bias"].default is True
    assert args["padding"].kind == "choice" and args["padding"].choices == ["valid", "same"]
    assert args["data_format"].choices == [None, "channels_last", "channels_first"]
    assert args["activation"].choices[0] is None and "gelu" in args["activation"].choices
    assert args["kernel_initializer"].default == "glorot_uniform"
    assert "he_normal" in args["kernel_initializer"].choices
    assert args["kernel_regularizer"].choices == [None] + REGULARIZERS
    assert args["filters"].doc.startswith("int, the dimension of the output space")
    assert "name" not in args and "kwargs" not in args


def test_docstring_options_only_when_the_default_is_one_of_them():
    assert _by_name(keras.layers.Conv1D)["padding"].choices == ["valid", "same", "causal"]
    assert "bilinear" in _by_name(keras.layers.UpSampling2D)["interpolation"].choices
    assert _by_name(keras.layers.LSTM)["use_cudnn"].kind == "text"  # one quoted word: no set


def test_floats_and_their_checks():
    rate = _by_name(keras.layers.Dropout)["rate"]
    assert rate.required and rate.kind == "float"
    assert rate.check(0.5) is None and rate.check(1) is None
    assert rate.check("half") == "rate takes a number, not 'half'."
    units = _by_name(keras.layers.Dense)["units"]
    assert units.check(3.5) == "units takes an integer, not 3.5."
    assert units.check(True) == "units takes an integer, not True."
    assert _by_name(keras.layers.Dense)["use_bias"].check("maybe") == \
        "use_bias takes True or False, not 'maybe'."


def test_a_config_value_of_another_type_falls_back_to_text():
    pool = _by_name(keras.layers.MaxPooling2D)
    assert pool["padding"].fits("same") and not pool["padding"].fits({"class_name": "x"})
    init = _by_name(keras.layers.Dense)["kernel_initializer"]
    assert not init.fits({"class_name": "VarianceScaling", "config": {"scale": 2.0}})


def test_docstring_args_joins_continuation_lines():
    docs = docstring_args(keras.layers.Dense)
    assert docs["units"] == "Positive integer, dimensionality of the output space."
    assert docs["activation"].startswith("Activation function to use. If you don't specify")


@pytest.mark.parametrize("option", ["activation", "kernel_initializer", "kernel_regularizer",
                                    "kernel_constraint"])
def test_every_offered_choice_builds_and_runs(option):
    x = np.ones((2, 4), "float32")
    values = {"activation": ACTIVATIONS, "kernel_initializer": INITIALIZERS,
              "kernel_regularizer": REGULARIZERS, "kernel_constraint": CONSTRAINTS}[option]
    for value in values:
        y = keras.layers.Dense(4, **{option: value})(x)  # glu halves an even axis
        assert y.shape[0] == 2 and np.all(np.isfinite(y)), value


def test_required_marker_is_inspects():
    assert all(a.default is not REQUIRED for a in arguments(keras.layers.Flatten))
