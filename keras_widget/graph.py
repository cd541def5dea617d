"""Read a Keras functional model into a ``networkx.DiGraph``: one node per call of an operation.

Read-only: nothing here changes a model, and nothing here imports ipywidgets.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import keras
import networkx as nx

from . import keras_internals as ki
from .errors import EditError, first_line, surfaced


@dataclass(frozen=True)
class CallSite:
    """One call of an operation inside one functional graph (one level: nested models not opened).

    ``node`` is the Keras ``Node`` of that call, ``call_index`` counts the calls of ``op`` in this
    graph from 0, in call order.
    """

    op: object
    node: object
    call_index: int
    calls: int  # how many times ``op`` is called in this graph


def functional_of(model):
    """The functional graph behind ``model``: the model itself, or a built Sequential's inner one.

    Returns ``None`` for a model whose graph cannot be read (a subclassed model, an unbuilt
    Sequential).
    """
    if isinstance(model, keras.Sequential):
        return ki.sequential_graph(model)
    if isinstance(model, ki.Functional):
        return model
    return None


def require_functional(model):
    """Like :func:`functional_of`, but raises ``EditError`` for a model it cannot read."""
    fm = functional_of(model)
    if fm is not None:
        return fm
    name = getattr(model, "name", type(model).__name__)
    if isinstance(model, keras.Sequential):
        raise EditError(
            f"Model '{name}' is a Sequential model that is not built yet, so it has no graph: "
            "give it an input shape (keras.Input as its first layer) or call it on data first.")
    raise EditError(
        f"Model '{name}' ({type(model).__name__}) is a subclassed model: its graph is Python code "
        "in call(), not a graph of layers, so it cannot be read or edited. keras-widget edits "
        "functional and Sequential models.")


def is_nested_model(op):
    """True for a model called as a layer whose own graph can be opened (functional/Sequential)."""
    return isinstance(op, keras.Model) and functional_of(op) is not None


def kind_of(op):
    """``"input"``, ``"model"``, ``"layer"`` or ``"op"`` (a ``keras.ops`` operation)."""
    if isinstance(op, keras.layers.InputLayer):
        return "input"
    if is_nested_model(op):
        return "model"
    if isinstance(op, keras.layers.Layer):
        return "layer"
    return "op"


# Categories of layers, for colours in the view and groups in the layer picker. A class belongs
# to the category of the Keras package its first Keras base class lives in, so a custom
# subclass of Conv2D is a convolution too.
CATEGORIES = {
    "convolutional": "convolution",
    "core.dense": "dense",
    "core.einsum_dense": "dense",
    "core.embedding": "dense",
    "normalization": "normalization",
    "activations": "activation",
    "pooling": "pooling",
    "merging": "merge",
    "reshaping": "reshape",
    "rnn": "recurrent",
    "attention": "attention",
    "preprocessing": "preprocessing",
    "regularization": "regularization",
}


def is_keras_class(cls):
    """True for a class Keras itself ships (``keras.layers.Dense``), not one of the person's."""
    return cls.__module__.startswith("keras.")


def category_of_class(cls):
    """The category of a layer class: ``"convolution"``, ``"dense"``, ``"normalization"``,
    ``"activation"``, ``"pooling"``, ``"merge"``, ``"reshape"``, ``"recurrent"``,
    ``"attention"``, ``"preprocessing"``, ``"regularization"`` or ``"other"``."""
    for klass in cls.__mro__:
        module = klass.__module__
        if not module.startswith(ki.KERAS_LAYERS_MODULE):
            continue
        rest = module[len(ki.KERAS_LAYERS_MODULE):]
        for prefix, name in CATEGORIES.items():
            if rest == prefix or rest.startswith(prefix + "."):
                return name
    return "other"


def category_of(op):
    """Like :func:`category_of_class`, plus ``"input"``, ``"model"`` and ``"op"``."""
    kind = kind_of(op)
    if kind != "layer":
        return kind
    return category_of_class(type(op))


def call_sites(model):
    """The calls of one functional graph in topological order, keeping each op's call order.

    Keras orders nodes by depth; we add an edge between consecutive calls of the same operation so
    that a shared layer's calls keep their order (call 0 stays first), then sort topologically,
    ties broken by Keras's own order.
    """
    fm = require_functional(model)
    keras_order = []
    by_depth = ki.nodes_by_depth(fm)
    for depth in sorted(by_depth, reverse=True):
        keras_order.extend(by_depth[depth])
    # Inputs first, in the model's input order (Keras's depth order may list them otherwise).
    input_pos = {id(ki.producer(t)): i for i, t in enumerate(fm.inputs)}
    keras_order.sort(key=lambda n: (0, input_pos[id(n.operation)]) if n.is_input and
                     id(n.operation) in input_pos else (1, 0))
    rank = {id(n): i for i, n in enumerate(keras_order)}
    by_op = {}
    for n in keras_order:
        by_op.setdefault(id(n.operation), []).append(n)
    for nodes in by_op.values():
        order = _call_order(nodes[0].operation)
        nodes.sort(key=lambda n: (order.get(id(n), len(order)), rank[id(n)]))

    dag = nx.DiGraph()
    dag.add_nodes_from(rank.values())
    for n in keras_order:
        for parent in n.parent_nodes:
            if id(parent) in rank:
                dag.add_edge(rank[id(parent)], rank[id(n)])
    for nodes in by_op.values():
        for a, b in zip(nodes, nodes[1:]):
            dag.add_edge(rank[id(a)], rank[id(b)])
    sites = []
    for i in nx.lexicographical_topological_sort(dag):
        n = keras_order[i]
        same = by_op[id(n.operation)]
        sites.append(CallSite(n.operation, n, same.index(n), len(same)))
    return sites


def primary_inputs(node):
    """The distinct tensors a call reads as its inputs: positional and keyword tensor arguments,
    without the ``mask`` Keras fills in itself (``MultiHeadAttention()(x, x)`` reads one tensor)."""
    out, seen = [], set()
    args = [node.arguments.args] + [v for k, v in node.arguments.kwargs.items()
                                    if k != "mask" and not k.endswith("_mask")]
    for t in keras.tree.flatten(args):
        if isinstance(t, keras.KerasTensor) and id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _call_order(op):
    """``{id(node): position}`` of ``op``'s calls. A node of this graph that the operation does
    not list (an object copied with its graph but not its call history) sorts after the listed
    ones, in Keras's depth order: reading a graph never fails on it."""
    return {id(n): i for i, n in enumerate(ki.inbound_nodes(op))}


def _shape(shape):
    return tuple(shape)


def shape_of(tensors):
    """The shape of one tensor (a tuple, ``None`` for a free axis), or a list of shapes for
    several: how graphs and reports write an output shape."""
    shapes = [_shape(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else shapes


def _output_shape(node):
    return shape_of(node.outputs)


def _params(op):
    if isinstance(op, keras.layers.Layer) and op.built:
        return int(op.count_params())
    return 0


def to_networkx(model):
    """The model as a ``networkx.DiGraph`` with one node per call of an operation.

    Node ids: a layer's path (``"name"``, ``"outer/inner"`` inside a nested model), or
    ``"path#k"`` (k from 0, in call order) for a layer called several times. Node attributes:
    ``name``, ``path``, ``class_name``, ``kind`` (``"input"``, ``"layer"``, ``"model"``, ``"op"``),
    ``output_shape`` (a tuple with ``None`` for a free batch axis; a list of tuples for several
    outputs), ``params``, ``trainable``, ``parent`` (the enclosing nested model's path or
    ``None``), ``call_index``; and, for this package's own use, ``category`` (see
    :func:`category_of`), ``parent_node`` (the id of the enclosing model node), ``layer`` (the
    operation object) and ``keras_node``. A nested model is a node of kind ``"model"`` with no edges: its members
    carry the edges, from the outer producer into its input node and from its output producer to
    the outer consumer. Edge attribute ``shape``: the shape of the tensor that flows.

    Raises ``EditError`` for a model whose graph cannot be read (a subclassed model), and for
    nothing else: any other failure while reading is an ``EditError`` naming the model.
    """
    try:
        return _to_networkx(model)
    except EditError:
        raise
    except Exception as exc:  # noqa: BLE001 - reading a graph only ever raises EditError
        name = getattr(model, "name", type(model).__name__)
        raise surfaced(EditError(f"The graph of model '{name}' cannot be read: "
                                 f"{first_line(exc)} ({type(exc).__name__}).", cause=exc))


def _to_networkx(model):
    records = []  # (path, site, parent path, kind, record index of the enclosing model node)
    edges = []

    def walk(level_model, prefix, parent, inputs_from, parent_idx=None):
        """Flatten one level; ``inputs_from[i]`` is the record index feeding model input i."""
        fm = require_functional(level_model)
        produced = {}  # id(KerasTensor of this level) -> record index of its producer
        input_ids = {id(t): i for i, t in enumerate(fm.inputs)}
        for site in call_sites(level_model):
            op, node = site.op, site.node
            path = prefix + op.name
            if node.is_input:
                idx = len(records)
                records.append((path, site, parent, "input", parent_idx))
                for t in node.outputs:
                    produced[id(t)] = idx
                    pos = input_ids.get(id(t))
                    if pos is not None and inputs_from is not None and inputs_from[pos] is not None:
                        src, shape = inputs_from[pos]
                        edges.append((src, idx, shape))
                continue
            feeds = [(produced[id(t)], _shape(t.shape)) for t in node.input_tensors
                     if id(t) in produced]
            kind = kind_of(op)
            if kind == "model":
                idx = len(records)
                records.append((path, site, parent, "model", parent_idx))
                inner = functional_of(op)
                flat_args = [produced.get(id(t)) for t in node.input_tensors]
                inner_from = [(flat_args[i], _shape(node.input_tensors[i].shape))
                              if i < len(flat_args) and flat_args[i] is not None else None
                              for i in range(len(inner.inputs))]
                out_idx = walk(op, path + "/", path, inner_from, idx)
                for t, src in zip(node.outputs, out_idx):
                    produced[id(t)] = src
                continue
            idx = len(records)
            records.append((path, site, parent, kind, parent_idx))
            for src, shape in feeds:
                edges.append((src, idx, shape))
            for t in node.outputs:
                produced[id(t)] = idx
        return [produced[id(t)] for t in fm.outputs]

    walk(model, "", None, None)

    counts = {}
    for path, *_ in records:
        counts[path] = counts.get(path, 0) + 1
    seen = {}
    ids, call_index = [], []
    for path, *_ in records:
        k = seen.get(path, 0)
        seen[path] = k + 1
        ids.append(path if counts[path] == 1 else f"{path}#{k}")
        call_index.append(k)
    taken = set()
    for i, node_id in enumerate(ids):
        while node_id in taken:  # a layer whose own name looks like a call site ("a#1")
            node_id += "'"
        taken.add(node_id)
        ids[i] = node_id

    g = nx.DiGraph(name=model.name)
    for node_id, k, (path, site, parent, kind, parent_idx) in zip(ids, call_index, records):
        op = site.op
        g.add_node(
            node_id,
            name=op.name,
            path=path,
            class_name=type(op).__name__,
            kind=kind,
            output_shape=_output_shape(site.node),
            params=_params(op),
            trainable=bool(getattr(op, "trainable", False)),
            parent=parent,
            call_index=k,
            category=category_of(op),
            parent_node=None if parent_idx is None else ids[parent_idx],
            layer=op,
            keras_node=site.node,
        )
    for src, dst, shape in edges:
        g.add_edge(ids[src], ids[dst], shape=shape)
    assert nx.is_directed_acyclic_graph(g)
    return g


def iter_layers(model, prefix=""):
    """Yield ``(path, layer)`` for every layer of ``model``, nested models opened, in graph order.

    Nested models are yielded before their members. ``keras.ops`` operations are not layers and
    are not yielded.
    """
    fm = require_functional(model)
    for op in fm.operations:
        if not isinstance(op, keras.layers.Layer):
            continue
        path = prefix + op.name
        yield path, op
        if is_nested_model(op):
            yield from iter_layers(op, path + "/")


def find_layer(model, path):
    """The layer (or operation) at ``path`` (``"name"`` or ``"outer/inner"``).

    Returns ``(container, op)`` where ``container`` is the (nested) model whose graph holds it.
    Raises ``EditError`` naming the path, with close matches, when there is none.
    """
    if not isinstance(path, str) or not path:
        raise EditError(f"A target must be a layer name such as 'dense' or 'outer/inner'; "
                        f"got {path!r}.")
    container = model
    parts = path.split("/")
    for i, part in enumerate(parts):
        fm = require_functional(container)
        op = next((o for o in fm.operations if o.name == part), None)
        if op is None:
            where = f"model '{container.name}'" if i == 0 else f"nested model '{'/'.join(parts[:i])}'"
            raise EditError(f"There is no layer '{path}' in {where}.{_suggest(model, path)}",
                            target=path)
        if i == len(parts) - 1:
            return container, op
        if not is_nested_model(op):
            raise EditError(f"'{'/'.join(parts[:i + 1])}' is a {type(op).__name__}, not a nested "
                            f"model, so '{path}' does not name a layer.", target=path)
        container = op
    raise AssertionError("unreachable")


def _suggest(model, path):
    names = [p for p, _ in iter_layers(model)]
    leaf = path.rsplit("/", 1)[-1]
    exact = [p for p in names if p.rsplit("/", 1)[-1] == leaf and p != path]
    close = exact or difflib.get_close_matches(path, names, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
