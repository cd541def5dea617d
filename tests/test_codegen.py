"""kw.to_code: the functional-API source of a model. Executed, it builds a model with the same
config (apart from the model's name); it writes no argument equal to its default."""
import ast
import json
import re
import time

import keras
import pytest
from keras import layers
from keras.src.backend.common import global_state

import keras_widget as kw
from cases import (c01_widen_middle_dense as c01, c02_bias_free_conv_and_new_bn as c02,
                   c08_delete_head_residual_cnn as c08, c11_activation_swap_after_predict as c11,
                   c13_dropout_rate_change as c13, c16_stateful_streaming_lstm as c16,
                   c18_wrap_convs_in_wrapper as c18, c19_shrink_filters_before_add as c19,
                   c21_remove_norm_layers as c21, c22_shared_embedding_branch_insert as c22,
                   c24_nested_inner_layer as c24, c26_keep_one_head as c26,
                   c27_sequential_source_roundtrip as c27, c29_lambda_slices_in_loop as c29,
                   c32_unregistered_custom_layer as c32)
from test_edits import branches, nested
from test_editor import mlp


def comparable(model):
    """``model.get_config()`` as JSON (a loaded model has lists where a built one has tuples),
    without the model's name, ``keras.ops`` calls named by position (they take no name: Keras
    numbers them, add, add_1, in the order of the whole session) and without the bytecode of
    Lambda functions (it holds the file and line it was compiled from)."""
    config = json.loads(json.dumps(model.get_config()))
    config.pop("name", None)
    names = {}
    for i, entry in enumerate(config.get("layers", [])):
        if entry.get("module", "").startswith("keras.src.ops"):
            names[entry["name"]] = f"op{i}"
        if entry.get("class_name") == "Lambda":
            entry["config"].pop("function")
    text = json.dumps(config)
    for old, new in names.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def differences(a, b, path=""):
    """The paths where two configs differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in {**a, **b} for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def run(code, name="model"):
    namespace = {}
    exec(compile(code, "<to_code>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace[name]


TEST_MODELS = {
    "c01": c01.build, "c02": c02.build, "c08": c08.build, "c11": c11.build, "c13": c13.build,
    "c16": c16.build, "c18": c18.build, "c19": c19.build, "c21": c21.build, "c22": c22.build,
    "c24": c24.build, "c26": c26.build, "c27": c27.build, "c29": c29.build,
    "c29_late_bound": lambda: c29.build(late_bound=True), "c32": c32.build,
    "branches": branches, "nested": nested, "mlp": mlp,
}


@pytest.mark.parametrize("which", list(TEST_MODELS))
def test_roundtrip_of_every_test_model(which):
    model = TEST_MODELS[which]()
    code = kw.to_code(model)
    assert differences(comparable(run(code)), comparable(model)) == [], code


def test_code_a_person_would_write():
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(3, name="id_1")(inner_in), name="inner")
    s = keras.ops.sum(keras.ops.multiply(ha, hb), axis=1, keepdims=True)
    conv_in = keras.Input((8, 8, 3), name="img")
    c = layers.Conv2D(16, 3, strides=2, kernel_initializer=keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out"), kernel_regularizer=keras.regularizers.L2(1e-4),
        name="conv")(conv_in)
    f = layers.Flatten(name="flat")(c)
    out = layers.Concatenate(name="cat")([inner(ha), hb, s, f])
    model = keras.Model({"a": a, "b": b, "img": conv_in},
                        [layers.Dense(2, name="head")(out), ha[:, 1:3]], name="demo")
    code = kw.to_code(model, name="net")
    lines = code.splitlines()
    assert lines[:2] == ["import keras", "from keras import layers"]
    assert 'a = keras.Input(shape=(6,), name="a")' in lines
    assert 'img = keras.Input(shape=(8, 8, 3), name="img")' in lines
    # made once, called twice
    assert lines.count('shared = layers.Dense(4, activation="relu", name="shared")') == 1
    assert "shared_0 = shared(a)" in lines and "shared_1 = shared(b)" in lines
    # the nested model is defined before the outer graph uses it
    assert lines.index('inner = keras.Model(inputs=inner_in, outputs=id_1, name="inner")') < \
        lines.index("inner_2 = inner(shared_0)")
    assert "multiply = keras.ops.multiply(shared_0, shared_1)" in lines
    assert "sum_ = keras.ops.sum(multiply, axis=1, keepdims=True)" in lines
    assert ('conv = layers.Conv2D(16, 3, strides=2, kernel_initializer=keras.initializers.'
            'VarianceScaling(scale=2.0, mode="fan_out"), kernel_regularizer=keras.regularizers.'
            'L2(l2=0.0001), name="conv")(img)') in lines
    assert "get_item = shared_0[:, 1:3]" in lines
    assert lines[-1] == ('net = keras.Model(inputs={"a": a, "b": b, "img": img}, '
                         'outputs=[head, get_item], name="demo")')
    assert comparable(run(code, "net")) == comparable(model)


def test_lambda_source_custom_import_and_sequential():
    code = kw.to_code(c29.build())
    assert ('slice0 = layers.Lambda(lambda t, i: t[:, i], arguments={"i": 0}, name="slice0")'
            '(steps)') in code
    # late-bound: both lambdas read the loop variable's last value, and so does the code
    code = kw.to_code(c29.build(late_bound=True))
    assert "j = 1  # read by the Lambda 'slice1'" in code
    assert 'slice0 = layers.Lambda(lambda t: t[:, j], name="slice0")(steps)' in code
    code = kw.to_code(c32.build())
    assert "from cases.c32_unregistered_custom_layer import Scale" in code
    assert 'x = Scale(3.0, name="scale")(x)' in code
    code = re.sub(r"input_layer_\d+", "input_layer", kw.to_code(c27.build()))
    assert code.endswith('model = keras.Sequential([\n    keras.Input(shape=(3,), name="input_'
                         'layer"),\n    layers.Dense(5, name="dense"),\n    layers.Softmax('
                         'name="softmax"),\n], name="seq")\n'), code


def test_a_lambda_without_readable_source_is_said_in_a_comment():
    fn = eval("lambda t: t * 2")  # noqa: S307 - a function whose source Python cannot read
    inp = keras.Input((3,), name="inp")
    model = keras.Model(inp, layers.Lambda(fn, name="double")(inp))
    code = kw.to_code(model)
    assert ("# double_fn: the function of the Lambda layer 'double'. Python cannot read its "
            "source here; define it before this line.") in code
    assert 'double = layers.Lambda(double_fn, name="double")(inp)' in code
    # with the function defined, the code runs and builds the same model
    assert comparable(run(code.replace("# double_fn:", "double_fn = lambda t: t * 2  #"))) == \
        comparable(model)


def test_subclassed_models_and_bad_names_are_refused():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(kw.EditError, match="subclassed model"):
        kw.to_code(Sub())
    with pytest.raises(kw.EditError, match=r"to_code: name='my model' is not a Python variable"):
        kw.to_code(mlp(), name="my model")


@keras.saving.register_keras_serializable(package="kw_test")
def scaled_tanh(x):
    return 2 * keras.ops.tanh(x)


class TinyBackbone(keras.Model):
    """Built from its own arguments, as keras-hub's backbones are (BERT: gelu_approximate)."""

    def __init__(self, units, **kwargs):
        inp = keras.Input((3,), name="features")
        super().__init__(inp, layers.Dense(units, activation=scaled_tanh, name="proj")(inp),
                         **kwargs)


def test_a_backbone_built_from_its_arguments_with_a_function_activation():
    model = TinyBackbone(4, name="tiny")
    code = kw.to_code(model)
    assert "from test_codegen import scaled_tanh" in code
    assert 'layers.Dense(4, activation=scaled_tanh, name="proj")(features)' in code
    # keras.Model: TinyBackbone(inputs=..., outputs=...) would miss its own arguments.
    assert 'model = keras.Model(inputs=features, outputs=proj, name="tiny")' in code
    rebuilt = run(code)
    assert [layer.get_config() for layer in rebuilt.layers] == \
        [layer.get_config() for layer in model.layers]


def defaults_written(code):
    """The keyword arguments of constructor calls in ``code`` whose removal leaves the object's
    config the same (a default written out); ``[]`` when there are none."""
    namespace = {"keras": keras, "layers": layers}
    found = []
    for call in ast.walk(ast.parse(code)):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and
                ast.unparse(call.func).startswith(("layers.", "keras.initializers.",
                                                   "keras.regularizers.", "keras.constraints."))):
            continue
        full = eval(ast.unparse(call), namespace)  # noqa: S307 - our own generated code
        for k in call.keywords:
            if k.arg == "name":
                continue
            short = ast.Call(call.func, call.args, [x for x in call.keywords if x is not k])
            try:
                without = eval(ast.unparse(short), namespace)  # noqa: S307
            except Exception:  # noqa: BLE001 - required there: not a default
                continue
            if {**without.get_config(), "name": ""} == {**full.get_config(), "name": ""}:
                found.append(f"{ast.unparse(call.func)}: {k.arg}")
    return found


def test_no_argument_equal_to_its_default_is_written():
    assert defaults_written("layers.Dense(4, use_bias=True)") == ["layers.Dense: use_bias"]
    codes = [kw.to_code(build()) for build in TEST_MODELS.values()]
    with keras.StatelessScope(initialize_variables=False):
        codes.append(kw.to_code(keras.applications.MobileNetV3Small(weights=None)))
    global_state.set_global_attribute("uninitialized_variables", [])
    for code in codes:
        assert defaults_written(code) == []


APPLICATIONS = sorted(n for n in dir(keras.applications) if n[0].isupper() and
                      callable(getattr(keras.applications, n)))


@pytest.mark.slow
def test_roundtrip_of_every_keras_application():
    # Both models are built inside a StatelessScope that leaves variables uninitialized: configs
    # need no weights, and the biggest (ConvNeXtXLarge, 350 M parameters) allocate nothing.
    assert len(APPLICATIONS) >= 40
    seconds, failed = {}, []
    for app in APPLICATIONS:
        start = time.monotonic()
        with keras.StatelessScope(initialize_variables=False):
            model = getattr(keras.applications, app)(weights=None)
            code = kw.to_code(model)
            again = run(code)
        if comparable(again) != comparable(model):
            failed.append(app)
        global_state.set_global_attribute("uninitialized_variables", [])
        seconds[app] = round(time.monotonic() - start, 1)
    print(seconds)
    assert failed == []
