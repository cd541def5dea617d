"""Grouping a graph into collapsible blocks (keras_widget.blocks) and drawing it (view)."""
import keras
import pytest
from keras import layers

import keras_widget as kw
import keras_widget.view
from keras_widget.blocks import Hierarchy, block_name, stage_name
from keras_widget.view import GraphView, elements


@pytest.fixture(autouse=True)
def closed_blocks(monkeypatch):
    """These small models open with their blocks closed, as a large model does."""
    monkeypatch.setattr(keras_widget.view, "SMALL", 0)


def residual_model(blocks=3):
    x = inp = keras.Input((8, 8, 4), name="x")
    x = layers.Conv2D(4, 1, name="stem")(x)
    for b in range(1, blocks + 1):
        y = layers.Conv2D(4, 3, padding="same", name=f"conv2_block{b}_1_conv")(x)
        y = layers.ReLU(name=f"conv2_block{b}_1_relu")(y)
        x = layers.Add(name=f"conv2_block{b}_add")([x, y])
        x = layers.ReLU(name=f"conv2_block{b}_out")(x)
    return keras.Model(inp, layers.GlobalAveragePooling2D(name="pool")(x))


def nested_model():
    i = keras.Input((8,), name="inner_in")
    inner = keras.Model(i, layers.Dense(8, name="fc")(layers.Dense(8, name="fc0")(i)),
                        name="inner")
    x = keras.Input((8,), name="x")
    return keras.Model(x, layers.Dense(2, name="head")(inner(x)), name="outer")


def check_partition(h):
    """Every node in exactly one item at each level; a block's leaves are its items' leaves."""
    graph_nodes = set(h.graph)
    top = [n for item in h.top for n in h.leaves(item)]
    assert sorted(top) == sorted(graph_nodes)
    for bid, block in h.blocks.items():
        inner = [n for item in block.items for n in h.leaves(item)]
        own = [bid] if block.model else []
        assert sorted(own + inner) == sorted(h.leaves(bid)), bid
        assert len(set(inner)) == len(inner)


def test_block_names_of_keras_applications():
    assert block_name("conv2_block1_1_conv") == "conv2_block1"
    assert block_name("block1a_dwconv") == "block1a"
    assert block_name("block_3_expand") == "block_3"
    assert block_name("block35_1_conv") == "block35_1"
    assert block_name("normal_left1_5") == "cell_5"
    assert block_name("separable_conv_1_bn_reduction_left1_reduce_4") == "cell_reduce_4"
    assert block_name("batch_normalization_5") is None
    assert block_name("mixed0") == "mixed0" and block_name("mixed9_0") is None
    assert block_name("transformer_layer_3") == "transformer_layer_3"
    assert stage_name("conv3_block2") == "conv3" and stage_name("block4b") == "block4"
    assert stage_name("block17_3") == "block17" and stage_name("mixed0") is None


def test_residual_blocks_are_regions_named_by_their_layers():
    h = Hierarchy(kw.to_networkx(residual_model()))
    check_partition(h)
    names = [h.blocks[i].name if i in h.blocks else i for i in h.top]
    assert names == ["x", "stem", "conv2_block1", "conv2_block2", "conv2_block3", "pool"]
    b2 = "blk:conv2_block2"
    assert h.blocks[b2].items == ["conv2_block2_1_conv", "conv2_block2_1_relu",
                                  "conv2_block2_add", "conv2_block2_out"]
    s = h.summary(b2)
    assert s == {"layers": 4, "params": 3 * 3 * 4 * 4 + 4, "inputs": [(None, 8, 8, 4)],
                 "outputs": [(None, 8, 8, 4)]}


def test_an_input_fed_to_every_layer_does_not_make_one_block_of_them():
    # keras-hub's backbones: the padding mask enters every transformer layer.
    ids = keras.Input((4,), name="token_ids")
    mask = keras.Input((4, 8), name="padding_mask")
    x = layers.Embedding(10, 8, name="embeddings_token")(ids)
    x = layers.LayerNormalization(name="embeddings_layer_norm")(x)
    for k in range(3):
        y = layers.Dense(8, name=f"transformer_layer_{k}")(x)
        x = layers.Multiply(name=f"transformer_layer_{k}_mask")([y, mask])
    h = Hierarchy(kw.to_networkx(keras.Model([ids, mask], x)))
    check_partition(h)
    assert h.top == ["token_ids", "padding_mask", "blk:embeddings", "blk:transformer_layer_0",
                     "blk:transformer_layer_1", "blk:transformer_layer_2"]
    assert h.blocks["blk:transformer_layer_1"].items == [
        "transformer_layer_1", "transformer_layer_1_mask"]
    assert ("padding_mask", "blk:transformer_layer_2") in h.visible_edges()


def test_block_edges_are_the_union_of_member_edges():
    g = kw.to_networkx(residual_model())
    h = Hierarchy(g)
    for expanded in [set(), {"blk:conv2_block2"}, set(h.blocks)]:
        edges = h.visible_edges(expanded)
        expect = {}
        for u, v, d in g.edges(data=True):
            ru, rv = h.representative(u, expanded), h.representative(v, expanded)
            if ru != rv:
                expect.setdefault((ru, rv), set()).add(d["shape"])
        assert {k: set(v) for k, v in edges.items()} == expect
    closed = h.visible_edges()
    assert closed[("blk:conv2_block1", "blk:conv2_block2")] == [(None, 8, 8, 4)]
    assert ("stem", "blk:conv2_block1") in closed
    # Every element an edge names is drawn.
    els = elements(g, hierarchy=h)
    ids = {n["data"]["id"] for n in els["nodes"]}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in els["edges"])
    assert len(els["nodes"]) == 6 and len(els["edges"]) == 5


def test_nested_model_is_one_box_that_opens_in_place():
    g = kw.to_networkx(nested_model())
    h = Hierarchy(g)
    check_partition(h)
    assert h.top == ["x", "inner", "head"] and h.blocks["inner"].model
    els = {n["data"]["id"]: n for n in elements(g, hierarchy=h)["nodes"]}
    assert "closed" in els["inner"]["classes"] and "model" in els["inner"]["classes"]
    assert els["inner"]["data"]["label"] == ("inner (Functional)  ▸\n3 layers · 144 params\n"
                                             "(None, 8) → (None, 8)")
    opened = {n["data"]["id"]: n for n in elements(g, hierarchy=h, expanded={"inner"})["nodes"]}
    assert opened["inner/fc"]["data"]["parent"] == "inner"
    assert "open" in opened["inner"]["classes"]


def test_collapse_then_expand_gives_the_same_elements_and_sends_only_differences():
    view = GraphView()
    sent = []
    view.viewport.send = sent.append
    view.draw(kw.to_networkx(residual_model()))
    first = dict(view.shown)
    # Before a view has asked, the drawing is kept whole in the widget's state, not sent.
    assert sent == [] and len(view.viewport.initial) == len(first) == 11
    view.viewport._handle(None, {"want": "all", "have": view.viewport.initial_version}, [])
    assert sent == []  # the view drew the current drawing: nothing to send
    view.expand(["blk:conv2_block2"])
    opened = dict(view.shown)
    diff = sent[-1]["diff"]
    # The block's box is updated in place; its 4 layers and their 3 edges are added, and
    # the 2 block-to-block edges become the 3 edges to and from its members (in: to the
    # convolution and, the skip connection, to the add).
    assert [e["data"]["id"] for e in diff["update"]] == ["blk:conv2_block2"]
    assert sorted(diff["remove"]) == ["blk:conv2_block1->blk:conv2_block2",
                                      "blk:conv2_block2->blk:conv2_block3"]
    assert len(diff["add"]) == 4 + 3 + 3
    view.collapse(["blk:conv2_block2"])
    assert view.shown == first
    view.expand(["blk:conv2_block2"])
    assert view.shown == opened
    n = len(sent)
    view.expand(["blk:conv2_block2"])  # nothing changes: nothing is sent
    view.mark(["conv2_block2_add"], "selected-layer")
    assert len(sent) == n + 1 and len(sent[-1]["diff"]["update"]) == 1
    view.collapse_all()
    marked = view.shown["blk:conv2_block2"]["classes"]
    assert "selected-layer" in marked  # a closed block shows what is marked inside it


def test_click_opens_a_block_and_selects_a_layer_inside():
    ed = kw.ModelEditor(residual_model())
    assert "conv2_block2_add" not in ed.view.shown
    ed.view._clicked({"data": {"id": "blk:conv2_block2"}})
    assert "conv2_block2_add" in ed.view.shown and ed.selected is None
    ed.view._clicked({"data": {"id": "conv2_block2_add"}})
    assert ed.selected == "conv2_block2_add"
    ed.view.collapse_all()
    ed.select("conv2_block3_1_conv")  # selecting opens the blocks that hold it
    assert "conv2_block3_1_conv" in ed.view.shown
    assert ed.view.expanded == {"blk:conv2_block3"}
    ed.view.expand(["blk:conv2_block1"])
    ed.rename_layer("conv2_block3_1_conv", "conv2_block3_1_conv_b")
    # The expansion state survives the edit; the renamed layer is shown in its block.
    assert ed.view.expanded == {"blk:conv2_block3", "blk:conv2_block1"}
    assert ed.view.shown["conv2_block3_1_conv_b"]["data"]["parent"] == "blk:conv2_block3"


def test_a_small_model_opens_with_its_blocks_open(monkeypatch):
    monkeypatch.setattr(keras_widget.view, "SMALL", 40)
    ed = kw.ModelEditor(residual_model())
    assert ed.view.expanded == {"blk:conv2_block1", "blk:conv2_block2", "blk:conv2_block3"}
    assert "conv2_block2_add" in ed.view.shown


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "DenseNet121"])
def test_applications_open_in_at_most_150_boxes(name):
    model = getattr(keras.applications, name)(weights=None)
    g = kw.to_networkx(model)
    h = Hierarchy(g)
    check_partition(h)
    els = elements(g, hierarchy=h)
    assert 20 <= len(els["nodes"]) <= 150
    names = {h.blocks[b].name for b in h.blocks}
    assert {"conv2_block1", "conv4_block6"} <= names


def test_a_refusal_opens_the_block_of_the_layer_it_names():
    ed = kw.ModelEditor(residual_model())
    sent = []
    ed.view.viewport.send = sent.append
    with pytest.raises(kw.EditError, match="conv2_block1_add"):
        ed.edit_layer("stem", filters=5)  # the add of block 1 cannot take 5 and 4 channels
    assert ed.view.expanded == {"blk:conv2_block1"}
    assert "error" in ed.view.shown["conv2_block1_add"]["classes"]
    assert sent[-1] == {"center": "conv2_block1_add"}


def test_a_view_draws_the_initial_drawing_at_once_and_is_reset_only_when_it_is_stale():
    view = GraphView()
    sent = []
    view.viewport.send = sent.append
    view.draw(kw.to_networkx(residual_model()))
    version = view.viewport.initial_version
    assert [el["data"]["id"] for el in view.viewport.initial] == list(view.shown)
    view.expand(["blk:conv2_block2"])  # no view yet: the initial drawing follows
    assert view.viewport.initial_version == version + 1 and sent == []
    # A view that drew an older initial drawing (or none, or a saved one) gets everything.
    view.viewport._handle(None, {"want": "all", "have": version}, [])
    assert sent == [{"reset": view.viewport.initial}]
    view.viewport._handle(None, {"want": "all", "have": None}, [])
    assert len(sent) == 2 and "reset" in sent[-1]
    # Once a view has asked, changes go as differences; a view that then draws the initial
    # drawing (a second display, a page reload) is reset, as differences were sent since.
    view.collapse(["blk:conv2_block2"])
    assert "diff" in sent[-1] and view.viewport.initial_version == version + 1
    view.viewport._handle(None, {"want": "all", "have": version + 1}, [])
    assert "reset" in sent[-1] and len(sent[-1]["reset"]) == 11
