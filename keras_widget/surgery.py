"""Edits of a functional model: an edit and a model in, a new model and an ``EditReport`` out.

How every edit works: the edit becomes a :class:`Plan` (what happens at which layer path or call
site), then :class:`Rebuilder` walks the source graph call by call, in topological order, and calls
a copy of each operation on the new tensors, applying the plan as it goes. Shared layers are copied
once, so they stay shared; nested models are rebuilt as nested models. That walk runs with
variables left uninitialized (see :mod:`keras_widget.weights`): it is the dry run in which every
shape is checked, and any failure becomes an ``EditError`` before a single weight is allocated.
Then each variable is filled from the source by layer path, name and shape.

The source model is only read. Nothing here imports ipywidgets.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import keras
import networkx as nx
from keras import tree
from keras.src.models.functional import Functional, functional_like_constructor

from . import graph as g
from .clone import copy_layer, copy_operation, first_line
from .errors import EditError
from .report import EditReport, EditResult, saving_notes
from .weights import Assignment, DeferredVariables, finish, match


# ---------------------------------------------------------------------------------------------
# The plan: what the walk does where.


@dataclass
class Replace:
    layer: object  # what the person gave us; we use a copy of it
    policy: str = "auto"


@dataclass
class Delete:
    pass


@dataclass
class Reconfigure:
    overrides: dict
    policy: str = "auto"


@dataclass
class Plan:
    """Everything one rebuild does, keyed by source layer path or by Keras node (call site).

    ``description`` starts every error message, e.g. ``"replace_layer('d2')"``.
    """

    description: str
    target: str | None = None
    # id(source layer or op) -> Replace | Delete | Reconfigure. By identity, not path: a layer
    # used both in a nested model and outside it is one layer with two paths.
    layers: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)  # id(keras node) -> [layer, ...]
    before: dict = field(default_factory=dict)  # id(keras node) -> [layer, ...]
    input_shapes: dict = field(default_factory=dict)  # input layer name -> batch shape
    inline: set = field(default_factory=set)  # id() of nested models whose members move up
    outputs: object = None  # new output structure of *source* tensors, or None for unchanged
    default_policy: str = "auto"
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The walk.


class Rebuilder:
    """Builds the new model for a :class:`Plan`. Use :func:`rebuild`."""

    def __init__(self, source, plan):
        self.plan = plan
        # Every layer of the source by id, with its path: a layer may refer to another one of
        # the model (tied weights), whose copy it must then use.
        self.source_layers = {id(layer): path for path, layer in g.iter_layers(source)}
        self.copying = set()  # ids of layers whose copy is being made (layers referring back)
        self.new_ops = {}  # id(source op) -> its copy: a shared layer is copied once
        self.inserted = {}  # id(layer the person gave) -> its copy
        self.assignments = []

    # -- levels (the top model, each nested model) -------------------------------------------

    def level(self, model, src_prefix, new_prefix, inputs=None, needed=None):
        """Rebuild one functional graph; returns ``(new inputs struct, new outputs struct)``.

        ``inputs``: new tensors standing in for the model's inputs (an inlined nested model), or
        ``None`` to make new ``Input``s. ``needed``: the Keras nodes to keep (others are dropped).
        """
        fm = g.require_functional(model)
        tmap = {}
        if inputs is None:
            new_inputs = [self.new_input(t, src_prefix) for t in fm.inputs]
        else:
            new_inputs = list(inputs)
        for t, n in zip(fm.inputs, new_inputs):
            tmap[id(t)] = n
        for site in g.call_sites(model):
            if needed is not None and id(site.node) not in needed:
                continue
            if site.node.is_input:
                self.input_inserts(site, new_prefix, tmap)
            else:
                self.node(site, src_prefix, new_prefix, tmap)
        if self.plan.outputs is not None and src_prefix == "" and inputs is None:
            outputs_struct = self.plan.outputs
        else:
            outputs_struct = fm._outputs_struct
        outputs = tree.map_structure(lambda t: tmap[id(t)], outputs_struct)
        return tree.pack_sequence_as(fm._inputs_struct, new_inputs), outputs

    def input_inserts(self, site, new_prefix, tmap):
        """Layers inserted after an input: its consumers read them, the input stays the input."""
        afters = self.plan.after.get(id(site.node))
        if afters:
            (t,) = site.node.outputs
            tmap[id(t)] = self.insert_chain(afters, tmap[id(t)], new_prefix)

    def new_input(self, tensor, src_prefix, shape=None):
        """A new ``Input`` for a source input tensor; ``shape`` (with batch axis) overrides."""
        op = tensor._keras_history.operation
        if isinstance(op, keras.layers.InputLayer):
            config = op.get_config()
        else:
            config = {"batch_shape": tuple(tensor.shape), "dtype": tensor.dtype,
                      "name": getattr(tensor, "name", None)}
        if src_prefix == "" and config.get("name") in self.plan.input_shapes:
            shape = self.plan.input_shapes[config["name"]]
        directive = self.plan.layers.get(id(op))
        if isinstance(directive, Reconfigure) and "name" in directive.overrides:
            config["name"] = directive.overrides["name"]
        if shape is not None:
            config["batch_shape"] = tuple(shape)
            config.pop("shape", None)
            config.pop("batch_size", None)
        return keras.layers.InputLayer.from_config(config).output

    def node(self, site, src_prefix, new_prefix, tmap):
        op, knode = site.op, site.node
        path = src_prefix + op.name
        args, kwargs = knode.arguments.fill_in(tmap)
        befores = self.plan.before.get(id(knode))
        if befores:
            (x,) = [tmap[id(t)] for t in g.primary_inputs(knode)]
            y = self.insert_chain(befores, x, new_prefix)
            args, kwargs = tree.map_structure(lambda a: y if a is x else a, (args, kwargs))
        directive = self.plan.layers.get(id(op))
        if isinstance(directive, Delete):
            (x,) = g.primary_inputs(knode)
            outputs = [y if befores else tmap[id(x)]]
        elif id(op) in self.plan.inline:
            flat_in = [t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
            _, outs = self.level(op, path + "/", new_prefix, inputs=flat_in)
            outputs = tree.flatten(outs)
        else:
            new_op = self.op_for(op, path, new_prefix, args, kwargs, knode)
            in_place_of = path if new_op.name != op.name else None
            outputs = tree.flatten(self.call(new_op, new_prefix + new_op.name, args, kwargs,
                                             in_place_of))
        afters = self.plan.after.get(id(knode))
        if afters:
            outputs = [self.insert_chain(afters, outputs[0], new_prefix)]
        for t, n in zip(knode.outputs, outputs):
            tmap[id(t)] = n

    def insert_chain(self, layers, x, new_prefix):
        for layer in layers:
            new = self.inserted.get(id(layer))
            if new is None:
                new, _ = copy_layer(layer)
                self.inserted[id(layer)] = new
                donors = [layer] if getattr(layer, "built", False) and layer.weights else []
                self.assignments.append(Assignment(new_prefix + new.name, new, donors))
            x = self.call(new, new_prefix + new.name, (x,), {})
        return x

    def op_for(self, op, path, new_prefix, args, kwargs, knode):
        """The copy of ``op`` for the new graph (made at its first call, reused after)."""
        new = self.new_ops.get(id(op))
        if new is not None:
            return new
        self.copying.add(id(op))
        try:
            new = self._copy_op(op, path, new_prefix, args, kwargs, knode)
        finally:
            self.copying.discard(id(op))
        self.new_ops[id(op)] = new
        return new

    def _copy_op(self, op, path, new_prefix, args, kwargs, knode):
        directive = self.plan.layers.get(id(op))
        policy = getattr(directive, "policy", self.plan.default_policy)
        overrides = directive.overrides if isinstance(directive, Reconfigure) else None
        if isinstance(directive, Replace):
            given = directive.layer
            new, _ = copy_layer(given, known=self.known_copies(given))
            # A replacement that arrives built brings its own weights; then the target's.
            donors = [given] if given.built and given.weights else []
            if policy != "reinit" and isinstance(op, keras.layers.Layer):
                donors.append(op)
        elif not isinstance(op, keras.layers.Layer):
            new = copy_operation(op, (overrides or {}).get("name"))
            donors = None
        elif g.is_nested_model(op):
            new = self.nested(op, path, new_prefix, args, kwargs)
            donors = None
        else:
            new, live = copy_layer(op, overrides, known=self.known_copies(op))
            donors = [op] if policy != "reinit" else []
            if live and op.weights and knode is not None:
                self.check_live_shapes(op, path, args, kwargs, knode)
        if donors is not None:
            self.assignments.append(Assignment(new_prefix + new.name, new, donors, policy,
                                               target=self.plan.target))
        return new

    def known_copies(self, layer):
        """``{id(source object): its copy}`` for the other layers of the model that ``layer``
        refers to (a tied output layer holding the Embedding), made now if they are not yet, so
        that a live copy of ``layer`` uses them instead of copies of its own."""
        known = {}
        for sub in layer._flatten_layers(include_self=False, recursive=True):
            path = self.source_layers.get(id(sub))
            if path is None or id(sub) in self.copying or g.is_nested_model(sub):
                continue
            prefix = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            known[id(sub)] = self.op_for(sub, path, prefix, None, None, None)
        return known

    def nested(self, model, path, new_prefix, args, kwargs):
        """Rebuild a nested model for the tensors it is first called on (shapes may be new)."""
        fm = g.functional_of(model)
        directive = self.plan.layers.get(id(model))
        name = model.name
        if isinstance(directive, Reconfigure) and "name" in directive.overrides:
            name = directive.overrides["name"]
        outer = [t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
        inputs = []
        for t, arg in zip(fm.inputs, outer):
            inputs.append(self.new_input(t, path + "/", _follow_shape(t.shape, arg.shape)))
        inputs_struct = tree.pack_sequence_as(fm._inputs_struct, inputs)
        _, outputs = self.level(model, path + "/", new_prefix + name + "/", inputs=inputs)
        try:
            return self.new_model(model, inputs_struct, outputs, name)
        except EditError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EditError(f"{self.plan.description}: nested model '{path}' cannot be rebuilt: "
                            f"{first_line(exc)}", target=self.plan.target, layer=path) from None

    def new_model(self, source, inputs, outputs, name):
        """A model of the source's own class where that class is built like a functional model
        (a ``keras.Model`` subclass with its own ``train_step``, say); else a functional
        ``keras.Model``. A Sequential becomes functional: its graph may no longer be a chain."""
        cls = type(source)
        new = None
        if (not isinstance(source, keras.Sequential) and cls is not Functional
                and functional_like_constructor(cls)):
            try:
                new = cls(inputs, outputs, name=name)
            except Exception as exc:  # noqa: BLE001
                self.plan.notes.append(
                    f"'{name}' was a {cls.__name__}; it could not be rebuilt as one "
                    f"({first_line(exc)}), so it is a functional keras.Model now.")
        if new is None:
            new = keras.Model(inputs, outputs, name=name)
        if not source.trainable:
            new.trainable = False
        return new

    def check_live_shapes(self, op, path, args, kwargs, knode):
        new_shapes = [tuple(t.shape) for t in tree.flatten((args, kwargs))
                      if isinstance(t, keras.KerasTensor)]
        old_shapes = [tuple(t.shape) for t in knode.input_tensors]
        if new_shapes != old_shapes:
            raise EditError(
                f"{self.plan.description}: layer '{path}' ({type(op).__name__}) cannot be rebuilt "
                f"from its config, and its input shape would change from {_shapes(old_shapes)} to "
                f"{_shapes(new_shapes)}, which its weights do not fit. Give "
                f"{type(op).__name__} a get_config() so that it can be rebuilt.",
                target=self.plan.target, layer=path)

    def call(self, new_op, path, args, kwargs, in_place_of=None):
        try:
            args = _packed(new_op, args)
            kwargs = _accepted(new_op, kwargs, path)
        except EditError as err:
            raise EditError(f"{self.plan.description} cannot be built: {err}",
                            target=self.plan.target, layer=path) from None
        try:
            return new_op(*args, **kwargs)
        except EditError:
            raise
        except Exception as exc:  # noqa: BLE001 - every shape failure becomes a sentence
            if "stateless scope" in str(exc):
                raise _NeedsInitializedVariables() from None
            shapes = [tuple(t.shape) for t in tree.flatten((args, kwargs))
                      if isinstance(t, keras.KerasTensor)]
            reason = first_line(exc)
            if "batch size" in reason and "static" in reason:
                reason += (". Fix the batch size first: kw.set_input_shape(model, shape, "
                           "batch_size=N)")
            what = type(new_op).__name__ + (f", in place of '{in_place_of}'" if in_place_of else "")
            raise EditError(
                f"{self.plan.description} cannot be built: layer '{path}' ({what}) cannot take "
                f"input {_shapes(shapes)}: {reason}",
                target=self.plan.target, layer=path, cause=exc) from None


def _accepted(layer, kwargs, path):
    """The recorded call keywords that ``layer.call`` takes. Keras records the ``mask`` and
    ``training`` it filled in itself; a replacement of another class may not take them (it gets
    its mask from its input anyway). Any other keyword it does not take is refused, not dropped:
    dropping ``initial_state`` would silently cut a branch off."""
    if not kwargs or not isinstance(layer, keras.layers.Layer):
        return kwargs
    params = inspect.signature(layer.call).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    dropped = [k for k in kwargs if k not in params]
    lost = [k for k in dropped if k != "training" and k != "mask" and not k.endswith("_mask")]
    if lost:
        raise EditError(f"layer '{path}' ({type(layer).__name__}) does not take the argument"
                        f"{'s' if len(lost) > 1 else ''} {', '.join(map(repr, lost))} that the "
                        f"layer it stands in for was called with.", layer=path)
    return {k: v for k, v in kwargs.items() if k in params}


def _packed(layer, args):
    """The positional inputs of a call, as a layer of another kind takes them: an ``Add`` layer
    standing in for ``keras.ops.add(a, b)`` takes ``[a, b]``."""
    if len(args) < 2 or not isinstance(layer, keras.layers.Layer):
        return args
    params = inspect.signature(layer.call).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return args
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == 1 and all(isinstance(a, keras.KerasTensor) for a in args):
        return (list(args),)
    return args


class _NeedsInitializedVariables(Exception):
    """A layer made a variable from a value during its call: rebuild without deferral."""


def _shapes(shapes):
    if len(shapes) == 1:
        return f"of shape {shapes[0]}"
    return "of shapes " + " and ".join(str(s) for s in shapes)


def _follow_shape(declared, actual):
    """A nested model's input shape for the tensor it now receives: keep its free (``None``)
    axes, take the received size elsewhere, and a fixed batch size always."""
    declared, actual = tuple(declared), tuple(actual)
    if len(declared) != len(actual):
        return actual
    return tuple(a if (i == 0 or d is not None) else None
                 for i, (d, a) in enumerate(zip(declared, actual)))


def needed_nodes(model, output_tensors):
    """The Keras nodes of ``model``'s own graph that ``output_tensors`` depend on (inputs too)."""
    sites = g.call_sites(model)
    dag = nx.DiGraph()
    producer = {}
    for s in sites:
        dag.add_node(id(s.node))
        for t in s.node.outputs:
            producer[id(t)] = id(s.node)
        for t in s.node.input_tensors:
            if id(t) in producer:
                dag.add_edge(producer[id(t)], id(s.node))
    keep = {id(s.node) for s in sites if s.node.is_input}
    for t in output_tensors:
        n = producer[id(t)]
        keep |= {n} | nx.ancestors(dag, n)
    return keep


def rebuild(source, plan):
    """Build the new model for ``plan``; returns an :class:`EditResult` (without ``edit``).

    Raises ``EditError`` before any variable is allocated when the edit cannot give a valid model.
    """
    try:
        return _rebuild(source, plan, deferred=True)
    except _NeedsInitializedVariables:
        return _rebuild(source, plan, deferred=False)


def _rebuild(source, plan, deferred):
    rb = Rebuilder(source, plan)
    needed = None
    if plan.outputs is not None:
        needed = needed_nodes(source, tree.flatten(plan.outputs))
    dv = DeferredVariables(enabled=deferred)
    try:
        with dv:
            inputs, outputs = rb.level(source, "", "", needed=needed)
        try:
            new = rb.new_model(source, inputs, outputs, source.name)
        except Exception as exc:  # noqa: BLE001
            raise EditError(f"{plan.description} cannot give a model: {first_line(exc)}",
                            target=plan.target, cause=exc) from None
        values = {}
        for a in rb.assignments:
            values.update(match(a))
        try:
            dv.fill(values, {id(v) for v in new.variables})
        except EditError as err:
            raise EditError(f"{plan.description}: {err}", target=plan.target) from None
        in_model = {id(layer) for _, layer in g.iter_layers(new)}
        for a in rb.assignments:
            if id(a.layer) in in_model:
                finish(a)
    except BaseException:
        dv.discard()
        raise
    notes = list(plan.notes)
    for layer in rb.inserted.values():
        if id(layer) not in in_model:
            notes.append(f"'{layer.name}' was inserted where nothing reads it (an input that "
                         f"feeds no output): it is not part of the new model.")
    if getattr(source, "compiled", False):
        notes.append("The source model was compiled; the new one is not (as with clone_model): "
                     "call compile() before fit().")
    return EditResult(new, make_report(source, new, rb.assignments, notes))


def make_report(source, new, assignments, notes=()):
    """Sort every layer of ``new`` into kept / reinitialized / added; list ``removed``."""
    src_paths = [p for p, _ in g.iter_layers(source)]
    src_set = set(src_paths)
    reasons = {a.path: a.reasons for a in assignments if a.reasons}
    report = EditReport(notes=list(dict.fromkeys(list(notes) + saving_notes(new))))
    new_paths = []
    for path, layer in g.iter_layers(new):
        new_paths.append(path)
        if path not in src_set:
            report.added.append(path)
        elif g.is_nested_model(layer):
            inner = [p for p in reasons if p.startswith(path + "/")]
            if inner:
                report.reinitialized[path] = "new weights in " + ", ".join(inner)
            else:
                report.kept.append(path)
        elif path in reasons:
            report.reinitialized[path] = "; ".join(reasons[path])
        else:
            report.kept.append(path)
    new_set = set(new_paths)
    report.removed = [p for p in src_paths if p not in new_set]
    return report
