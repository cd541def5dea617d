"""kw.to_networkx: one node per call of an operation, the attributes of the design, always a DAG."""
import keras
import networkx as nx
import pytest
from keras import layers

import keras_widget as kw


def mlp():
    inp = keras.Input((784,), name="pixels")
    x = layers.Dense(64, activation="relu", name="d1")(inp)
    x = layers.Dense(32, activation="relu", name="d2")(x)
    out = layers.Dense(10, name="head")(x)
    return keras.Model(inp, out, name="mlp")


def test_chain_nodes_attributes_and_edges():
    model = mlp()
    g = kw.to_networkx(model)
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert list(g) == ["pixels", "d1", "d2", "head"]
    d1 = g.nodes["d1"]
    assert {k: d1[k] for k in ("name", "path", "class_name", "kind", "output_shape", "params",
                               "trainable", "parent", "call_index")} == {
        "name": "d1", "path": "d1", "class_name": "Dense", "kind": "layer",
        "output_shape": (None, 64), "params": 784 * 64 + 64, "trainable": True, "parent": None,
        "call_index": 0}
    assert g.nodes["pixels"]["kind"] == "input"
    assert g.nodes["pixels"]["output_shape"] == (None, 784)
    assert [(a, b, d["shape"]) for a, b, d in g.edges(data=True)] == [
        ("pixels", "d1", (None, 784)), ("d1", "d2", (None, 64)), ("d2", "head", (None, 32))]


def test_shared_layer_and_layer_applied_to_its_own_output():
    x = keras.Input((4,), name="x")
    d = layers.Dense(4, name="d")
    y = d(d(x))
    z = keras.ops.add(y, x)
    out = keras.ops.mean(z, axis=-1)
    model = keras.Model(x, out, name="loop")
    g = kw.to_networkx(model)
    assert nx.is_directed_acyclic_graph(g)
    # keras.ops nodes are named by a global counter (add, add_1, ...): find them by class.
    ops = {d["class_name"]: n for n, d in g.nodes(data=True) if d["kind"] == "op"}
    add, mean = ops["Add"], ops["Mean"]
    assert set(g) == {"x", "d#0", "d#1", add, mean}
    assert g.nodes["d#0"]["call_index"] == 0 and g.nodes["d#1"]["call_index"] == 1
    assert g.nodes["d#1"]["path"] == "d" and g.nodes["d#1"]["params"] == 20
    assert g.has_edge("d#0", "d#1") and g.has_edge("x", add) and g.has_edge("d#1", add)
    assert g.nodes[mean]["output_shape"] == (None,)
    assert g.nodes[add]["params"] == 0


def test_nested_models_called_twice_multi_input_and_dict_outputs():
    enc_in = keras.Input((6,), name="enc_in")
    enc = keras.Model(enc_in, layers.Dense(3, name="proj")(layers.Dense(5, name="h")(enc_in)),
                      name="enc")
    seq = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="s1")], name="seq")
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    ea, eb = enc(a), enc(b)
    diff = layers.Subtract(name="diff")([ea, eb])
    out = {"score": seq(diff), "raw": diff}
    model = keras.Model([a, b], out, name="siamese")
    g = kw.to_networkx(model)
    assert nx.is_directed_acyclic_graph(g)
    assert g.nodes["enc#0"]["kind"] == "model" and g.nodes["enc#1"]["kind"] == "model"
    for k in (0, 1):
        assert g.nodes[f"enc/h#{k}"]["parent"] == "enc"
        assert g.nodes[f"enc/h#{k}"]["parent_node"] == f"enc#{k}"
        assert g.nodes[f"enc/h#{k}"]["call_index"] == k
    assert g.has_edge("a", "enc/enc_in#0") and g.has_edge("b", "enc/enc_in#1")
    assert g.has_edge("enc/proj#0", "diff") and g.has_edge("enc/proj#1", "diff")
    assert g.nodes["seq"]["kind"] == "model"
    (seq_input,) = [n for n, d in g.nodes(data=True) if d["parent"] == "seq" and d["kind"] == "input"]
    assert g.has_edge("diff", seq_input) and g.has_edge(seq_input, "seq/s1")
    assert g.nodes["seq/s1"]["output_shape"] == (None, 2)
    assert g.degree("enc#0") == 0  # the model node is a container; its members carry the edges


def test_layer_with_several_outputs_lists_its_shapes():
    x = keras.Input((5, 3), name="seq")
    out, h, c = layers.LSTM(4, return_state=True, name="lstm")(x)
    model = keras.Model(x, [out, h, c])
    g = kw.to_networkx(model)
    assert g.nodes["lstm"]["output_shape"] == [(None, 4), (None, 4), (None, 4)]


def test_fixed_batch_size_is_shown():
    x = keras.Input((3,), batch_size=2, name="x")
    model = keras.Model(x, layers.Dense(1, name="d")(x))
    assert kw.to_networkx(model).nodes["d"]["output_shape"] == (2, 1)


def test_models_without_a_graph_are_refused_with_a_sentence():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(kw.EditError, match="subclassed model"):
        kw.to_networkx(Sub())
    with pytest.raises(kw.EditError, match="not built"):
        kw.to_networkx(keras.Sequential([layers.Dense(2)], name="lazy"))
    with pytest.raises(kw.EditError, match="subclassed"):
        kw.replace_layer(Sub(), "d", layers.Dense(3))


def test_params_match_keras_count_for_every_layer():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=3)
    g = kw.to_networkx(model)
    assert g.number_of_nodes() == len(model.layers)
    for layer in model.layers:
        assert g.nodes[layer.name]["params"] == layer.count_params()
    assert sum(d["params"] for _, d in g.nodes(data=True)) == model.count_params()
    cats = {d["category"] for _, d in g.nodes(data=True)}
    assert {"input", "convolution", "normalization", "activation", "merge", "pooling",
            "dense"} <= cats


def test_static_export_with_graphviz():
    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(3, name="id_1")(inner_in), name="inner")
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, layers.Dense(1, name="post")(inner(inp)), name="outer")
    dot = kw.to_graphviz(model, marks={"post": {"added"}})
    src = dot.source
    assert "subgraph cluster_1" in src and 'label="inner (Functional)"' in src
    assert '"inner/id_1" [label="id_1\nDense\n(None, 3)"' in src
    assert '"inner/id_1" -> post [label="(None, 3)"]' in src
    assert 'post [label="post\nDense\n(None, 1)" color="#238b45"' in src
