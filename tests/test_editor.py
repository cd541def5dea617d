"""ModelEditor in the kernel: what a click, the form and Apply do, without a browser (the browser
tests in js/ do the same by clicking)."""
import keras
import numpy as np
import pytest
from keras import layers

import keras_widget as kw
from helpers import assert_identical, assert_unchanged, snapshot
from keras_widget.editor import _pre
from keras_widget.view import elements, stylesheet


def mlp():
    inp = keras.Input((784,), name="pixels")
    x = layers.Dense(64, activation="relu", name="d1")(inp)
    x = layers.Dense(64, activation="relu", name="d2")(x)
    out = layers.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="mlp")


def node_widgets(ed):
    return {i: el for i, el in ed.view.shown.items() if "source" not in el["data"]}


def edge_elements(ed):
    return [el for el in ed.view.shown.values() if "source" in el["data"]]


def test_view_draws_every_call_with_label_colour_and_arrows():
    ed = kw.ModelEditor(mlp())
    nodes = node_widgets(ed)
    assert list(nodes) == ["pixels", "d1", "d2", "head"]
    assert nodes["d2"]["data"]["label"] == "d2\nDense\n(None, 64)"
    assert "cat-dense" in nodes["d2"]["classes"] and "cat-input" in nodes["pixels"]["classes"]
    edges = [(e["data"]["source"], e["data"]["target"]) for e in edge_elements(ed)]
    assert edges == [("pixels", "d1"), ("d1", "d2"), ("d2", "head")]
    assert all("directed" in e["classes"] for e in edge_elements(ed))
    layout = ed.cytoscape.get_layout()
    assert layout["name"] == "dagre" and layout["rankDir"] == "TB"
    style = {s["selector"]: s["style"] for s in stylesheet()}
    assert style["edge"]["target-arrow-shape"] == "triangle"
    assert style["node.cat-dense"]["background-color"] != style["node.cat-convolution"][
        "background-color"]
    # The click handler is registered before anything is displayed.
    assert "click" in ed.cytoscape._interaction_handlers["node"]


def test_nested_models_are_compound_nodes():
    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(3, name="id_1")(inner_in), name="inner")
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, layers.Dense(1, name="post")(inner(inp)))
    els = elements(kw.to_networkx(model))
    by_id = {n["data"]["id"]: n for n in els["nodes"]}
    assert by_id["inner/id_1"]["data"]["parent"] == "inner"
    assert "model" in by_id["inner"]["classes"]


def test_click_fills_details_and_form_then_apply_rebuilds_and_redraws():
    model = mlp()
    snap = snapshot(model)
    ed = kw.ModelEditor(model)
    old_nodes = dict(node_widgets(ed))
    assert ed.summary_table.value == ""  # Keras's summary is made when the box is opened
    ed.summary.selected_index = 0
    old_summary = ed.summary_table.value
    assert "d2 (Dense)" in old_summary
    # Before a click: no form for no layer, and an Apply that cannot be pressed.
    assert ed.action_box.children == () and ed.apply_button.disabled
    assert "Click a layer" in ed.details.value
    ed.view._clicked({"data": {"id": "d2"}})  # what the browser sends on a click
    assert ed.selected == "d2"
    assert "d2" in ed.title.value and "(None, 64)" in ed.details.value
    assert ed.action_box.children == (ed.form.widget, ed.weights)
    assert "4,160" in ed.details.value  # parameters
    assert ed.form.picker.value == "Dense"
    assert ed.form.fields["units"][0].value == "64"
    assert ed.form.fields["activation"][0].value == "relu"
    assert "selected-layer" in node_widgets(ed)["d2"]["classes"]

    ed.form.set(units="128", activation="sigmoid")
    report = ed.apply()
    assert report is not None and set(report.reinitialized) == {"d2", "head"}
    assert ed.model.get_layer("d2").units == 128
    assert ed.model is not model and ed.original is model
    assert "(None, 128)" in ed.summary_table.value and ed.summary_table.value != old_summary
    # d2: 64*64+64 -> 64*128+128 parameters, head: 64*10+10 -> 128*10+10.
    total_before = sum(w.size for w in model.get_weights())
    total_after = total_before + (8320 - 4160) + (1290 - 650)
    assert f"total: {total_before:,} → <b>{total_after:,}</b> (+4,800)" in ed.parameters.value
    assert "non-trainable: 0<" in ed.parameters.value
    nodes = node_widgets(ed)
    assert nodes["d2"]["data"]["label"].endswith("(None, 128)")
    assert "reinitialized" in nodes["d2"]["classes"] and "reinitialized" in nodes["head"]["classes"]
    assert "reinitialized" not in nodes["d1"]["classes"]
    assert "head: kernel (128, 10) is new" in ed.status.value
    # Only what changed was redrawn: d2 and head (new shapes, marks).
    assert {i for i in nodes if nodes[i] != old_nodes.get(i)} == {"d2", "head"}
    assert_identical(model, ed.model, ["d1"])
    assert_unchanged(model, snap)
    assert [e.kind for e in ed.history] == ["edit_layer"]


def test_bad_input_shows_a_sentence_and_keeps_model_and_view():
    ed = kw.ModelEditor(mlp())
    ed.select("d2")
    before_model, before_nodes = ed.model, dict(ed.view.shown)
    ed.form.set(units="abc def")
    assert ed.apply() is None
    assert "units: &#x27;abc def&#x27; is not a value" in ed.status.value
    ed.form.set(units="__import__('os').system('echo pwned')")
    assert ed.apply() is None and "is not a value" in ed.status.value
    ed.form.set(units="-3")
    assert ed.apply() is None
    assert "Layer &#x27;d2&#x27; (Dense) does not accept units=-3: Received an invalid value " \
        "for `units`, expected a positive integer" in ed.status.value
    assert "Traceback" not in ed.status.value
    # A replacement whose shapes cannot fit downstream.
    ed.form.set(units="64")
    ed.form.pick("Reshape")
    ed.form.set(target_shape="(7, 7)")
    assert ed.apply() is None
    assert "cannot take input of shape (None, 64)" in ed.status.value
    assert ed.model is before_model and dict(ed.view.shown) == before_nodes
    assert len(ed.history) == 0


def test_a_rename_to_its_own_name_is_nothing_to_change_not_a_refusal():
    ed = kw.ModelEditor(mlp())
    ed.action.value = "rename"
    ed.select("d2")
    ed.new_name.value = "hidden"
    assert "Apply would give:" in ed.preview.value
    assert ed.apply().added == ["hidden"]
    # After the rename the field holds the new name: no preview, no refusal.
    assert ed.new_name.value == "hidden" and ed.preview.value == ""
    assert ed.apply() is None and "Nothing to change" in ed.status.value


def test_a_value_sent_by_pressing_apply_is_applied_without_a_dry_run_first(monkeypatch):
    ed = kw.ModelEditor(mlp())
    ed.action.value = "rename"
    ed.select("d2")
    browser = ed.view.viewport._handle  # what the browser sends
    dry_runs = []
    preview = ed.history.preview
    monkeypatch.setattr(ed.history, "preview", lambda edit: dry_runs.append(edit) or
                        preview(edit))
    # The mouse goes down on Apply: the field it leaves sends its value, then the click.
    browser(None, {"apply_press": True}, [])
    ed.new_name.value = "hidden"
    assert dry_runs == [] and ed.preview.value == ""
    assert ed.apply().added == ["hidden"] and dry_runs == []
    # A press that ends off the button: the preview skipped meanwhile is made then.
    ed.select("d1")
    browser(None, {"apply_press": True}, [])
    ed.new_name.value = "first"
    assert dry_runs == []
    browser(None, {"apply_press": False}, [])
    assert len(dry_runs) == 1 and "Apply would give:" in ed.preview.value
    assert [l.name for l in ed.model.layers][1:3] == ["d1", "hidden"]


def test_insert_delete_rename_from_the_panel():
    ed = kw.ModelEditor(mlp())
    ed.action.value = "insert after"
    ed.select("d1")
    ed.form.pick("Dropout")
    assert ed.form.fields["name"][0].value == "dropout"  # a fresh name, not the target's
    ed.form.set(rate="0.25")
    report = ed.apply()
    assert report.added == ["dropout"]
    assert list(kw.to_networkx(ed.model).successors("d1")) == ["dropout"]
    ed.action.value = "insert before"
    ed.select("head")
    ed.form.pick("LayerNormalization")
    assert ed.apply().added == ["layer_normalization"]
    assert list(kw.to_networkx(ed.model).predecessors("head")) == ["layer_normalization"]
    ed.action.value = "delete"
    ed.select("dropout")
    assert ed.apply().removed == ["dropout"]
    ed.action.value = "rename"
    ed.select("d2")
    ed.new_name.value = "hidden"
    assert ed.apply().added == ["hidden"]
    assert ed.selected == "hidden"
    ed.new_name.value = "d1"
    assert ed.apply() is None and "already exists" in ed.status.value
    assert [e.kind for e in ed.history] == ["insert_layer", "insert_layer", "delete_layer",
                                            "rename_layer"]


def test_replace_with_another_class_selects_the_new_layer():
    ed = kw.ModelEditor(mlp())
    ed.select("d2")
    ed.form.pick("Activation")
    ed.form.set(activation="tanh")
    report = ed.apply()
    assert report.added == ["activation"] and report.removed == ["d2"]
    assert ed.selected == "activation"


def test_undo_redo_reset_and_code_that_replays_the_edits():
    model = mlp()
    ed = kw.ModelEditor(model)
    ed.replace_layer("d2", layers.Dense(128, activation="sigmoid", name="d2"))
    ed.insert_layer(layers.Dropout(0.5, name="drop"), after="d1")
    code = ed.history.to_code()
    assert "kw.replace_layer(model, 'd2'" in code and "keras.layers.Dropout(rate=0.5" in code
    scope = {"model": model}
    exec(code, scope)  # the exported code rebuilds the same model from the source
    assert [l.name for l in scope["model"].layers] == [l.name for l in ed.model.layers]
    assert_identical(ed.model, scope["model"], ["d1"])  # head: fresh kernel in each

    assert ed.undo() and "drop" not in [l.name for l in ed.model.layers]
    assert ed.model.get_layer("d2").units == 128
    assert ed.redo() and "drop" in [l.name for l in ed.model.layers]
    assert not ed.redo()
    assert ed.reset()  # a step of its own: Undo takes it back
    assert ed.model is model and len(ed.history) == 3
    assert ed.reset_button.disabled and not ed.undo_button.disabled
    assert "Undo takes you back" in ed.status.value
    assert list(node_widgets(ed)) == ["pixels", "d1", "d2", "head"]
    assert not ed.reset()
    assert ed.undo() and "drop" in [l.name for l in ed.model.layers]
    assert ed.redo() and ed.model is model
    code = ed.history.to_code()
    assert "original = model" in code and "model = original  # Reset" in code
    scope = {"model": model}
    exec(code, scope)
    assert scope["model"] is model


def test_the_history_list_goes_back_to_any_step():
    model = mlp()
    ed = kw.ModelEditor(model)
    assert ed.history_list.disabled
    ed.edit_layer("d2", units=32)
    ed.rename_layer("d1", "first")
    ed.delete_layer("d2")
    labels = [label for label, _ in ed.history_list.options]
    assert labels == ["0 · original model", "1 · edit_layer('d2', units=32)",
                      "2 · rename_layer('d1', new_name='first')", "3 · delete_layer('d2')"]
    assert ed.history_list.value == 3
    ed.history_list.value = 1  # a pick in the list
    assert ed.model.get_layer("d2").units == 32 and "d1" in [l.name for l in ed.model.layers]
    labels = [label for label, _ in ed.history_list.options]
    assert labels[2:] == ["2 · rename_layer('d1', new_name='first') (undone)",
                          "3 · delete_layer('d2') (undone)"]
    ed.go_to(3)
    assert "d2" not in [l.name for l in ed.model.layers]
    ed.go_to(0)
    assert ed.model is model
    with pytest.raises(kw.EditError, match="There is no step 4"):
        ed.go_to(4)


def test_edit_methods_raise_and_the_model_stays():
    ed = kw.ModelEditor(mlp())
    with pytest.raises(kw.EditError, match="already exists"):
        ed.rename_layer("d2", "d1")
    with pytest.raises(kw.EditError):
        ed.select("nope")
    assert "There is no layer" in ed.status.value
    assert ed.model is ed.original


def test_operations_can_be_replaced_and_inputs_only_renamed_or_followed():
    x = keras.Input((4,), name="x")
    y = keras.ops.add(layers.Dense(4, name="d")(x), x)
    model = keras.Model(x, y)
    ed = kw.ModelEditor(model)
    (op,) = [n for n, d in ed.graph.nodes(data=True) if d["kind"] == "op"]
    ed.select(op)
    assert not ed.apply_button.disabled
    assert ed.form.picker.value == "Add"  # the layer of the same name as the operation
    report = ed.apply()
    assert report.added == ["add"] and isinstance(ed.model.get_layer("add"), layers.Add)
    xs = np.ones((2, 4), "float32")
    np.testing.assert_allclose(np.asarray(ed.model(xs)), np.asarray(model(xs)), atol=1e-6)
    ed.select("x")
    # An input offers what applies to it, and says in one line what it does not.
    assert list(ed.action.options) == ["set input shape", "insert after", "rename"]
    assert "An input layer is not replaced or deleted" in ed.why_not.value
    assert not ed.apply_button.disabled
    ed.action.value = "rename"
    ed.new_name.value = "features"
    assert ed.apply().added == ["features"]


def test_custom_layers_of_the_model_and_extra_layers_are_offered():
    class Twice(layers.Layer):
        def call(self, x):
            return 2 * x

    class Half(layers.Layer):
        def call(self, x):
            return x / 2

    inp = keras.Input((3,))
    model = keras.Model(inp, Twice(name="twice")(inp))
    ed = kw.ModelEditor(model, extra_layers=[Half])
    assert {c.__name__ for c in ed.form.groups["custom"]} == {"Twice", "Half"}
    ed.select("twice")
    ed.form.pick("Half")
    ed.apply()
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(np.asarray(ed.model(x)), x / 2)


def test_subclassed_models_are_refused_with_a_sentence():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(kw.EditError, match="subclassed"):
        kw.ModelEditor(Sub())


def test_toolbar_fit_actual_size_and_go_to_layer():
    ed = kw.ModelEditor(mlp())
    sent = []
    ed.view.viewport.send = sent.append
    assert ed.view.viewport.graph_layout["fit"] is False
    ed.fit_button.click()
    assert ed.view.viewport.graph_layout["fit"] is True and sent == [{"fit": True}]
    ed.actual_button.click()
    assert ed.view.viewport.graph_layout["fit"] is False and sent[-1] == {"top": True}
    ed.zoom_in_button.click()
    ed.zoom_out_button.click()
    assert sent[-2:] == [{"zoom": 1.25}, {"zoom": 0.8}]
    assert ed.find.options == ("pixels", "d1", "d2", "head")
    ed.find.value = "head"
    assert ed.selected == "head" and "head" in ed.title.value
    ed.find.value = "no such layer"
    assert ed.selected == "head"


def test_the_layer_where_an_edit_fails_is_outlined():
    inp = keras.Input((8, 8, 3), name="x")
    stem = layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    y = layers.Conv2D(4, 3, padding="same", name="branch")(stem)
    model = keras.Model(inp, layers.Add(name="add")([stem, y]))
    ed = kw.ModelEditor(model)
    ed.select("stem")
    ed.form.set(filters="5")
    assert ed.apply() is None
    assert "layer &#x27;add&#x27; (Add)" in ed.status.value
    assert "error" in node_widgets(ed)["add"]["classes"]
    assert "error" not in node_widgets(ed)["stem"]["classes"]
    ed.select("branch")
    assert "error" not in node_widgets(ed)["add"]["classes"]
    assert ed.model is model


def test_code_view_shows_the_source_and_highlights_what_the_last_edit_changed():
    model = mlp()
    ed = kw.ModelEditor(model)
    assert ed.code_view in ed.children
    # Written once the browser has drawn the graph (an open sends the graph first).
    assert ed.code_view.code == ""
    ed.view.viewport._handle(None, {"want": "all"}, [])
    assert ed.code_view.code == ""
    ed.view.viewport._handle(None, {"drawn": True}, [])
    assert ed.code_view.code == kw.to_code(model) == ed.to_code()
    assert ed.code_view.changed == []
    report = ed.replace_layer("d2", layers.Dense(128, activation="sigmoid", name="d2"))
    assert ed.status.value == _pre(str(report), "#00441b")  # the report stays beside the code
    lines = ed.code_view.code.splitlines()
    assert [lines[i] for i in ed.code_view.changed] == [
        'x = layers.Dense(128, activation="sigmoid", name="d2")(x)']
    ed.insert_layer(layers.Dropout(0.5, name="drop"), after="d1")
    lines = ed.code_view.code.splitlines()
    assert [lines[i] for i in ed.code_view.changed] == [
        'x = layers.Dropout(0.5, name="drop")(x)']
    ed.undo()
    assert ed.code_view.code == kw.to_code(ed.model) and ed.code_view.changed == []
    scope = {}
    exec(ed.to_code("net"), scope)
    assert scope["net"].get_layer("d2").units == 128


def test_panel_state_cannot_lie():
    """No class of an earlier selection is left in the picker, a second click on the same layer
    keeps what was typed, the weights choice goes back to auto, the title names the target."""
    x = keras.Input((8, 8, 3), name="img")
    y = keras.layers.Conv2D(4, 3, name="conv")(x)
    y = keras.layers.MaxPooling2D(name="pool")(y)
    y = keras.layers.Flatten(name="flat")(y)
    ed = kw.ModelEditor(keras.Model(x, keras.layers.Dense(2, name="out")(y)))
    ed.select("conv")  # replace mode: the picker shows Conv2D
    assert ed.form.picker.value == "Conv2D"
    ed.action.value = "delete"
    ed.select("pool")
    ed.action.value = "replace"
    assert ed.form.picker.value == "MaxPooling2D"  # not the Conv2D of the earlier selection
    assert "pool" in ed.title.value and "MaxPooling2D" in ed.title.value
    ed.form.set(pool_size="(3, 3)")
    ed.weights.value = "reinit"
    ed.select("pool")  # clicked again: what was typed stays
    assert ed.form.fields["pool_size"].widget.value == "(3, 3)"
    assert ed.weights.value == "reinit"
    ed.select("out")
    assert ed.weights.value == "auto" and ed.form.picker.value == "Dense"
    ed.action.value = "insert after"
    ed.select("conv")
    assert ed.form.picker.value is None  # nothing picked for this target yet
    ed.form.pick("BatchNormalization")
    ed.action.value = "replace"
    assert ed.form.picker.value == "BatchNormalization"  # picked for this very target
    ed.action.value = "insert before"
    ed.select("flat")
    assert ed.form.picker.value is None
    ed.action.value = "replace"
    assert ed.form.picker.value == "Flatten"
    report = ed.apply()
    assert report is None and "Nothing to change" in ed.status.value


def _two_heads():
    x = keras.Input((8, 8, 3), name="img")
    y = layers.Conv2D(4, 3, activation="relu", name="c1")(x)
    y = layers.ReLU(name="r1")(y)
    y = layers.Conv2D(4, 3, name="c2")(y)
    y = layers.ReLU(name="r2")(y)
    f = layers.Flatten(name="flat")(y)
    inner_in = keras.Input((f.shape[-1],), name="inner_in")
    block = keras.Model(inner_in, layers.Dense(6, name="inner_d")(inner_in), name="block")
    h = block(f)
    a = layers.Dense(3, name="cls")(h)
    b = layers.Dense(2, name="box")(h)
    return keras.Model(x, [a, b], name="two_heads")


def test_every_edit_from_the_panel():
    model = _two_heads()
    ed = kw.ModelEditor(model)
    ed.select("c2")
    assert list(ed.action.options) == ["replace", "edit config", "insert after",
                                       "insert before", "delete", "rename", "replace all",
                                       "add output"]
    # edit config: the class is fixed, only the fields show.
    ed.action.value = "edit config"
    assert ed.form.picker not in ed.form.widget.children
    ed.form.set(filters="6")
    report = ed.apply()
    assert report is not None and ed.model.get_layer("c2").filters == 6
    assert [e.kind for e in ed.history][-1] == "edit_layer"

    # replace all: every ReLU becomes a LeakyReLU with the fields' config, names kept.
    ed.select("r1")
    ed.action.value = "replace all"
    ed.form.pick("LeakyReLU")
    ed.form.set(negative_slope="0.2")
    report = ed.apply()
    assert report is not None
    for name in ("r1", "r2"):
        layer = ed.model.get_layer(name)
        assert isinstance(layer, layers.LeakyReLU) and layer.negative_slope == 0.2

    # add output / remove output.
    ed.select("flat")
    ed.action.value = "add output"
    assert "becomes an extra output" in ed.action_box.children[0].value
    ed.apply()
    assert len(ed.model.outputs) == 3 and tuple(ed.model.outputs[2].shape) == (None, 96)  # 4*4*6
    ed.select("box")
    assert "remove output" in ed.action.options and "add output" not in ed.action.options
    ed.action.value = "remove output"
    report = ed.apply()
    assert "box" in report.removed and len(ed.model.outputs) == 2

    # inline a nested model.
    ed.select("block")
    assert ed.action.options[0] == "inline"
    ed.action.value = "inline"
    ed.apply()
    assert "inner_d" in [layer.name for layer in ed.model.layers]

    # set the input shape (and batch size).
    ed.select("img")
    assert ed.input_shape.value == "(8, 8, 3)" and ed.batch_size.value == ""
    ed.action.value = "set input shape"
    ed.input_shape.value = "(10, 10, 3)"
    ed.batch_size.value = "4"
    report = ed.apply()
    assert report is not None and tuple(ed.model.inputs[0].shape) == (4, 10, 10, 3)
    assert model.get_layer("c2").filters == 4  # the source is never touched


def test_what_does_not_apply_is_not_offered_and_said():
    x = keras.Input((4,), name="x")
    a = layers.Dense(4, name="a")(x)
    b = layers.Dense(4, name="b")(x)
    s = layers.Add(name="sum")([a, b])
    ed = kw.ModelEditor(keras.Model(x, s))
    ed.select("sum")
    assert "delete" not in ed.action.options and "insert before" not in ed.action.options
    assert "remove output" not in ed.action.options
    assert "several inputs" in ed.why_not.value and "only output" in ed.why_not.value
    ed.select("a")
    assert ed.why_not.value == "" and "add output" in ed.action.options


def test_save_and_svg_from_the_editor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ed = kw.ModelEditor(mlp())
    ed.edit_layer("d2", units=32)
    ed.save_button.click()
    assert (tmp_path / "mlp.keras").exists()
    assert "Saved to mlp.keras" in ed.status.value and "differ by at most 0" in ed.status.value
    assert not ed.save_button.disabled and not ed.undo_button.disabled  # re-enabled after
    ed.export_svg()
    svg = (tmp_path / "mlp.svg").read_text()
    assert svg.startswith("<?xml") and ">d2</text>" in svg and "(None, 32)" in svg
    # Without Graphviz's dot: a sentence saying how to get it, no file.
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(kw.EditError, match="apt-get install graphviz"):
        ed.export_svg(str(tmp_path / "second.svg"))
    assert not (tmp_path / "second.svg").exists()
    assert "apt-get install graphviz" in ed.status.value


def test_a_model_that_cannot_be_saved_says_why_in_the_panel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = keras.Input((3,), name="x")
    ed = kw.ModelEditor(keras.Model(x, layers.Lambda(lambda t: t * 2.0, name="twice")(x)))
    ed.save_button.click()  # a click never raises
    assert "kw-error" in ed.status.value and "safe_mode=False" in ed.status.value


def test_apply_is_disabled_and_the_panel_says_so_while_an_edit_runs():
    ed = kw.ModelEditor(mlp())
    ed.select("d1")
    seen = []

    def factory(layer):  # runs inside the edit
        seen.append((ed.apply_button.disabled, ed.undo_button.disabled, ed.status.value))
        return layers.Dense(layer.units, name=layer.name)

    ed.replace_all(layers.Dense, factory)
    assert seen and all(apply and undo for apply, undo, _ in seen)
    assert "Rebuilding &#x27;mlp&#x27; (4 nodes)…" in seen[0][2]
    assert not ed.apply_button.disabled and "Rebuilding" not in ed.status.value


def test_details_show_each_weight_with_its_statistics_and_the_nested_path():
    x = keras.Input((4,), name="x")
    inner_in = keras.Input((4,), name="inner_in")
    bn = layers.BatchNormalization(name="bn")
    inner = keras.Model(inner_in, bn(inner_in), name="inner")
    model = keras.Model(x, inner(x))
    bn.moving_variance.assign(np.full((4,), 4.0, "float32"))
    ed = kw.ModelEditor(model)
    ed.select("inner/bn")
    details = ed.details.value
    assert "<td style='color:#666;padding:0 8px 0 0;vertical-align:top'>inside</td>" in details
    assert "<summary>weights (4)</summary>" in details
    assert "gamma</td><td style='padding:0'><code>(4,)  mean 1  std 0</code>" in details
    assert "moving_variance ❄</td><td style='padding:0'><code>(4,)  mean 4  std 0</code>" in details


def _pre_text(value):
    """The text of the first <pre> in a panel part."""
    import html
    import re

    return html.unescape(re.search(r"<pre[^>]*>(.*?)</pre>", value, re.S).group(1))


def test_the_preview_is_what_apply_then_reports():
    ed = kw.ModelEditor(mlp())
    ed.select("d2")
    assert ed.preview.value == ""  # nothing typed, nothing to preview
    ed.form.set(units="128")
    assert "Apply would give:" in ed.preview.value
    preview = _pre_text(ed.preview.value)
    assert "config of d2: units 64 -> 128" in preview
    assert "head: kernel (128, 10) is new" in preview
    report = ed.apply()
    assert preview == str(report) == _pre_text(ed.status.value)
    # A refusal shows before Apply, and Apply then refuses with the same sentence.
    ed.action.value = "insert after"
    ed.select("d1")
    assert ed.preview.value == ""  # no class picked yet
    ed.form.pick("Reshape")
    ed.form.set(target_shape="(7, 7)")
    assert "Apply would be refused:" in ed.preview.value
    refused = _pre_text(ed.preview.value)
    assert "(7, 7)" in refused
    assert ed.apply() is None
    assert _pre_text(ed.status.value) == refused
    assert len(ed.history) == 1


def test_keys_undo_redo_and_delete_after_a_confirmation():
    ed = kw.ModelEditor(mlp())
    key = ed.view.viewport._handle  # what the browser sends for a key in the editor
    ed.select("d2")
    key(None, {"key": "delete"}, [])
    assert ed.action.value == "delete" and "Press Delete again" in ed.status.value
    assert "d2" in [l.name for l in ed.model.layers]  # asked, not done
    assert "Apply would give:" in ed.preview.value and "removed: d2" in ed.preview.value
    key(None, {"key": "delete"}, [])
    assert "d2" not in [l.name for l in ed.model.layers]
    key(None, {"key": "undo"}, [])
    assert "d2" in [l.name for l in ed.model.layers]
    key(None, {"key": "redo"}, [])
    assert "d2" not in [l.name for l in ed.model.layers]
    ed.select("pixels")  # an input is not deleted: the panel says why
    key(None, {"key": "delete"}, [])
    assert "cannot be deleted" in ed.status.value and "An input layer" in ed.status.value
    ed.select("d1")  # a first Delete on another layer asks again
    key(None, {"key": "delete"}, [])
    ed.select("head")
    key(None, {"key": "delete"}, [])
    assert "d1" in [l.name for l in ed.model.layers] and "Press Delete again" in ed.status.value


def test_export_menu_sends_png_requests_and_writes_svg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ed = kw.ModelEditor(mlp())
    sent = []
    monkeypatch.setattr(ed.view.viewport, "send", lambda msg, *a, **k: sent.append(msg))
    ed.export.value = "png-full"
    assert sent == [{"png": {"name": "mlp-graph.png", "full": True}}]
    assert ed.export.value == ""
    ed.export.value = "png"
    assert sent[-1] == {"png": {"name": "mlp.png", "full": False}}
    ed.view.viewport._handle(None, {"png_done": {"name": "mlp.png", "bytes": 20480}}, [])
    assert "downloaded mlp.png (20 kB)" in ed.status.value
    ed.export.value = "svg"
    assert (tmp_path / "mlp.svg").read_text().startswith("<?xml")


def test_a_long_rebuild_moves_the_progress_bar_then_hides_it(monkeypatch):
    import itertools
    import types

    from keras_widget import editor as editor_module

    inp = x = keras.Input((8,), name="x")
    for i in range(80):
        x = layers.Dense(8, name=f"d{i}")(x)
    ed = kw.ModelEditor(keras.Model(inp, x, name="chain"))
    bar = ed.progress

    def boxes(w):
        for child in getattr(w, "children", ()):
            yield child
            yield from boxes(child)

    # One bar, beside Apply, hidden until a rebuild runs long.
    assert [tuple(w.children) for w in boxes(ed) if bar in getattr(w, "children", ())] == [
        (ed.apply_button, bar)]
    assert bar.layout.display == "none"
    sent, seen = [], []
    for w in (bar, bar.layout):  # what goes to the browser
        monkeypatch.setattr(w, "_send", lambda msg, buffers=None, w=w: sent.append((w, msg)))
    bar.observe(lambda c: seen.append((c["new"], bar.layout.display, ed.apply_button.disabled)),
                names="value")
    # A quick rebuild (the clock stands still): the bar is never shown, nothing is sent.
    monkeypatch.setattr(editor_module, "time", types.SimpleNamespace(monotonic=lambda: 0.0))
    ed.rename_layer("d5", "e5")
    assert sent == [] and seen == []
    # A long one: every reading of the clock is 20 ms later.
    clock = itertools.count(0, 0.02)
    monkeypatch.setattr(editor_module, "time", types.SimpleNamespace(
        monotonic=lambda: next(clock)))
    ed.edit_layer("d40", units=16)
    values = [v for v, _, _ in seen]
    assert len(values) >= 10 and values[-1] >= 90, values  # it moved, nearly to the end
    assert all(b - a >= 2 for a, b in zip(values, values[1:])), values  # steps of 2 % or more
    assert all(disabled for _, _, disabled in seen)  # Apply stays disabled while it moves
    assert seen[0][1] == "none" and all(d is None for _, d, _ in seen[1:])  # shown from the 1st
    assert bar.layout.display == "none" and not ed.apply_button.disabled  # hidden after
    # One message per move, one to show and one to hide: at most 50 + 2 however long it runs.
    assert len(sent) == len(values) + 2 <= 52
    assert [m["state"] for w, m in sent if w is bar.layout] == [{"display": None},
                                                                {"display": "none"}]


def test_an_apply_draws_its_result_before_the_garbage_collector_walks_the_new_model():
    import gc

    ed = kw.ModelEditor(mlp())
    viewport = ed.view.viewport
    viewport._handle(None, {"want": "all", "have": viewport.initial_version}, [])
    collecting = []
    viewport.send = lambda msg, *a, **k: collecting.append(("diff" in msg, gc.isenabled()))
    ed.select("d2")
    ed.action.value = "rename"
    ed.new_name.value = "d2_b"
    collecting.clear()
    assert ed.apply() is not None
    assert (True, False) in collecting  # the diff went while the collector was paused
    assert gc.isenabled() and "d2_b" in ed.view.shown
