"""Edits of a functional model: an edit and a model in, a new model and an ``EditReport`` out.

How every edit works: the edit's record (:mod:`keras_widget.edits`) writes a :class:`Plan` with its
verbs (replace, delete, reconfigure a layer; insert before or after a call site; reshape an input;
inline a nested model; set the outputs), which refuse contradictory requests. Then
:class:`Rebuilder` walks the source graph call by call, in topological order, and calls a copy of
each operation on the new tensors, reading the plan as it goes (it never changes it), as Keras's
own ``clone_model`` / ``_run_through_graph`` do. Shared layers are copied once, so they stay
shared; nested models are rebuilt as nested models. That walk runs with variables left
uninitialized (see :mod:`keras_widget.weights`): it checks every shape, and any failure becomes an
``EditError`` before a single weight is allocated. Then each variable is filled from the source by
layer path, name and shape. An untouched Keras layer whose inputs keep their shapes is not
traced again: its call is recorded with the source's output shapes. A dry run stops before the
filling, and copies only what the edit changes: untouched calls on inputs of unchanged shapes
are the source's own, and on new shapes one layer is copied per kind of call (see
:class:`Rebuilder`).

The source model is only read. Nothing here imports ipywidgets.
"""
from __future__ import annotations

import contextlib
import gc
import inspect
import json
from dataclasses import dataclass

import keras
import networkx as nx
from keras import tree

from . import graph as g
from . import keras_internals as ki
from .clone import copy_layer, copy_operation
from .errors import EditError, first_line
from .report import EditResult, make_report
from .weights import Assignment, DeferredVariables, finish, match


# ---------------------------------------------------------------------------------------------
# The plan: what the walk does where. Edits write it through its verbs; the walk only reads it.


@dataclass(frozen=True)
class Replace:
    layer: object  # what the person gave us; we use a copy of it
    policy: str = "auto"


@dataclass(frozen=True)
class Delete:
    pass


@dataclass(frozen=True)
class Reconfigure:
    overrides: dict
    policy: str = "auto"


class Plan:
    """Everything one rebuild does, said with verbs (as torch.fx's graph surgery is):
    :meth:`replace`, :meth:`delete`, :meth:`reconfigure` a layer (every call of it),
    :meth:`insert_after` / :meth:`insert_before` a call site, :meth:`reshape_input`,
    :meth:`inline`, :meth:`set_outputs`. A verb that contradicts an earlier one for the same layer
    or call site (replace and delete the same layer, say) raises ``EditError``. The rebuild only
    reads the plan (:meth:`directive`, :meth:`inserted_after`, ...).

    ``description`` starts every error message, e.g. ``"replace_layer('d2')"``.
    Layers are keyed by identity, not path: a layer used both in a nested model and outside it is
    one layer with two paths. The objects are held, so their ids stay theirs.
    """

    def __init__(self, description, target=None, default_policy="auto"):
        self.description = description
        self.target = target
        self.default_policy = default_policy
        self.notes = []
        self._layers = {}  # id(source op) -> (op, Replace | Delete | Reconfigure)
        self._after = {}  # id(keras node) -> (node, [layer, ...])
        self._before = {}
        self._input_shapes = {}  # input layer name -> batch shape
        self._inline = {}  # id(nested model) -> nested model
        self._outputs = None

    # -- verbs -------------------------------------------------------------------------------

    def replace(self, op, layer, policy="auto"):
        """Every call of ``op`` calls (a copy of) ``layer`` instead."""
        self._set(op, Replace(layer, policy))

    def delete(self, op):
        """Every consumer of ``op``'s output reads ``op``'s input instead."""
        self._set(op, Delete())

    def reconfigure(self, op, overrides, policy="auto"):
        """``op`` is rebuilt from its config with ``overrides`` (``{"name": ...}`` renames)."""
        self._set(op, Reconfigure(dict(overrides), policy))

    def insert_after(self, node, layer):
        """``layer`` reads the output of the call ``node``; every consumer of it reads ``layer``."""
        self._insert(self._after, node, layer)

    def insert_before(self, node, layer):
        """``layer`` sits on the input of the call ``node``; only that call reads it."""
        self._insert(self._before, node, layer)

    def reshape_input(self, name, batch_shape):
        if name in self._input_shapes and self._input_shapes[name] != tuple(batch_shape):
            self._conflict(f"input '{name}' cannot get two shapes")
        self._input_shapes[name] = tuple(batch_shape)

    def inline(self, model):
        """The members of the nested ``model`` move into the graph that calls it."""
        if id(model) in self._layers:
            self._conflict(f"'{model.name}' cannot be inlined and changed in one edit")
        self._inline[id(model)] = model

    def set_outputs(self, struct):
        """The new model's outputs: a structure of *source* tensors."""
        if self._outputs is not None:
            self._conflict("the outputs are already set")
        self._outputs = struct

    def _set(self, op, directive):
        held = self._layers.get(id(op))
        if held is not None and held[1] != directive:
            self._conflict(f"'{op.name}' is already to be {type(held[1]).__name__.lower()}d")
        if id(op) in self._inline:
            self._conflict(f"'{op.name}' cannot be inlined and changed in one edit")
        self._layers[id(op)] = (op, directive)

    def _insert(self, table, node, layer):
        other = self._before if table is self._after else self._after
        if any(layer is x for _, xs in other.values() for x in xs):
            self._conflict(f"'{layer.name}' cannot be inserted both before and after a call")
        table.setdefault(id(node), (node, []))[1].append(layer)

    def _conflict(self, why):
        raise EditError(f"{self.description}: {why}.", target=self.target)

    # -- what the rebuild reads --------------------------------------------------------------

    def inserted_at_ops(self):
        """Ids of the operations at one of whose calls something is inserted."""
        return {id(node.operation) for node, _ in list(self._after.values()) +
                list(self._before.values())}

    def has(self, op):
        return id(op) in self._layers

    def directive(self, op):
        """``Replace``, ``Delete``, ``Reconfigure`` or ``None`` for the source operation ``op``."""
        held = self._layers.get(id(op))
        return held[1] if held else None

    def directives(self):
        """``[(source op, directive)]`` in the order they were given."""
        return list(self._layers.values())

    def inserted_after(self, node):
        held = self._after.get(id(node))
        return tuple(held[1]) if held else ()

    def inserted_before(self, node):
        held = self._before.get(id(node))
        return tuple(held[1]) if held else ()

    def input_shape(self, name):
        return self._input_shapes.get(name)

    def is_inlined(self, op):
        return id(op) in self._inline

    @property
    def outputs(self):
        return self._outputs

    def policy_for(self, op):
        return getattr(self.directive(op), "policy", self.default_policy)


# ---------------------------------------------------------------------------------------------
# The walk.


class Rebuilder:
    """Builds the new model for a :class:`Plan`. Use :func:`rebuild`.

    ``reuse=True`` (a dry run): a call that the plan does not touch and whose inputs are all the
    source's own tensors is not copied; the source's operation and output tensors stand in for
    it (as in a feature extractor ``keras.Model(model.input, some_layer.output)``, which does not
    change the source). Its weights would all be copied, so it is reported kept, as the real
    edit reports it. Downstream of a change, an untouched call on new tensors of the shapes the
    source's call read is recorded as a call of the source's own operation (its weights fit
    as they are), and taken back when the dry run ends (:func:`keras_internals.restore_calls`):
    only the calls whose input shapes the edit changes are copied and traced. Of those (every
    call after a new input shape), an untouched layer is copied only if no layer of its class
    and config (but the name) was copied yet for inputs of the same specs, or if that copy got
    other variables than this layer has (they would not all be kept); otherwise the source's
    operation stands in, with that copy's output specs. A layer without weights whose class
    keeps Keras's own ``build`` (an activation, a pooling) is the same built or not: its source
    operation is called.

    ``progress``: called with no argument as each call site is walked (see :func:`rebuild`).
    """

    def __init__(self, source, plan, reuse=False, progress=None):
        self.plan = plan
        self.progress = progress
        # Every layer of the source by id, with its path: a layer may refer to another one of
        # the model (tied weights), whose copy it must then use.
        paths = list(g.iter_layers(source))
        self.source_layers = {id(layer): path for path, layer in paths}
        self.fixed = _not_reusable(source, plan, paths) if reuse else None
        self.alike = _CallsMade()  # a dry run's copies of untouched layers on new shapes
        self.copying = set()  # ids of layers whose copy is being made (layers referring back)
        self.new_ops = {}  # id(source op) -> its copy: a shared layer is copied once
        self.inserted = {}  # id(layer the person gave) -> its copy
        self.assignments = []
        self.edited = []  # (source path, source op, its copy): for the report's config changes
        # (path, shape there before, shape now) where the plan acts: the report's output shapes
        self.outputs_at = []
        self.notes = []  # what the walk found worth saying (the plan's own notes stay the plan's)

    # -- levels (the top model, each nested model) -------------------------------------------

    def level(self, model, src_prefix, new_prefix, inputs=None, needed=None):
        """Rebuild one functional graph; returns ``(new inputs struct, new outputs struct)``.

        ``inputs``: new tensors standing in for the model's inputs (an inlined nested model), or
        ``None`` to make new ``Input``s. ``needed``: the Keras nodes to keep (others are dropped).
        """
        fm = g.require_functional(model)
        tmap = {}
        if inputs is None:
            new_inputs = [t if self.fixed is not None and id(ki.producer(t)) not in self.fixed
                          else self.new_input(t, src_prefix) for t in fm.inputs]
        else:
            new_inputs = list(inputs)
        for t, n in zip(fm.inputs, new_inputs):
            tmap[id(t)] = n
            op = ki.producer(t)
            if n is not t and self.plan.directive(op) is not None:  # a renamed input
                self.edited.append((src_prefix + op.name, op, ki.producer(n)))
                self.outputs_at.append((src_prefix + op.name, g.shape_of([t]), g.shape_of([n])))
        for site in g.call_sites(model):
            if self.progress is not None:
                self.progress()
            if needed is not None and id(site.node) not in needed:
                continue
            if site.node.is_input:
                self.input_inserts(site, new_prefix, tmap)
            else:
                self.node(site, src_prefix, new_prefix, tmap)
        if self.plan.outputs is not None and src_prefix == "" and inputs is None:
            outputs_struct = self.plan.outputs
        else:
            outputs_struct = ki.outputs_struct(fm)
        outputs = tree.map_structure(lambda t: tmap[id(t)], outputs_struct)
        return tree.pack_sequence_as(ki.inputs_struct(fm), new_inputs), outputs

    def input_inserts(self, site, new_prefix, tmap):
        """Layers inserted after an input: its consumers read them, the input stays the input."""
        afters = self.plan.inserted_after(site.node)
        if afters:
            (t,) = site.node.outputs
            tmap[id(t)] = self.insert_chain(afters, tmap[id(t)], new_prefix, t)

    def new_input(self, tensor, src_prefix, shape=None):
        """A new ``Input`` for a source input tensor; ``shape`` (with batch axis) overrides."""
        op = ki.producer(tensor)
        if isinstance(op, keras.layers.InputLayer):
            config = op.get_config()
        else:
            config = {"batch_shape": tuple(tensor.shape), "dtype": tensor.dtype,
                      "name": getattr(tensor, "name", None)}
        if src_prefix == "" and self.plan.input_shape(config.get("name")) is not None:
            shape = self.plan.input_shape(config["name"])
        directive = self.plan.directive(op)
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
        key = None
        if self.fixed is not None and id(op) not in self.fixed and site.calls == 1:
            news = [tmap.get(id(t)) for t in knode.input_tensors]
            if all(n is t for n, t in zip(news, knode.input_tensors)):
                for t in knode.outputs:  # the source's own call stands in for its copy
                    tmap[id(t)] = t
                return
            args, kwargs = knode.arguments.fill_in(tmap)
            outputs = None
            if all(n is not None for n in news) and ki.same_specs(news, knode.input_tensors):
                # New tensors of the same shapes: the source's operation is called on them
                # for the time of the dry run (taken back in rebuild), so that the walk
                # stops copying where an edit's shapes have joined the source's again.
                outputs = ki.borrow_call(op, knode, args, kwargs)
            else:
                # New shapes (every call after a reshaped input).
                key = _call_key(op, args, kwargs)
                if key is not None and _builds_nothing(op):
                    # Built or not, such a layer computes the same: the source's is called
                    # (where it refuses, its copy's call below says so with the copy's name).
                    try:
                        outputs = tree.flatten(self.call(op, path, args, kwargs))
                    except EditError:
                        outputs = None
                    if outputs is not None and len(outputs) != len(knode.outputs):
                        outputs = None
                elif key is not None:
                    # Where a copy of a layer of this class and config was already called on
                    # inputs of these specs and got the variables this layer has, this layer's
                    # copy would do the same and keep all its weights: the source's stands in.
                    like = self.alike.find(op, key)
                    if like is not None:
                        outputs = ki.borrow_call(op, knode, args, kwargs, like=like)
            if outputs is not None:
                for t, n in zip(knode.outputs, outputs):
                    tmap[id(t)] = n
                return
        args, kwargs = knode.arguments.fill_in(tmap)
        befores = self.plan.inserted_before(knode)
        if befores:
            (src,) = g.primary_inputs(knode)
            x = tmap[id(src)]
            y = self.insert_chain(befores, x, new_prefix, src)
            args, kwargs = tree.map_structure(lambda a: y if a is x else a, (args, kwargs))
        directive = self.plan.directive(op)
        if isinstance(directive, Delete):
            (x,) = g.primary_inputs(knode)
            outputs = [y if befores else tmap[id(x)]]
        elif self.plan.is_inlined(op):
            flat_in = [t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
            _, outs = self.level(op, path + "/", new_prefix, inputs=flat_in)
            outputs = tree.flatten(outs)
        else:
            new_op = self.op_for(op, path, new_prefix, args, kwargs, knode)
            outputs = None
            if directive is None and not befores and g.is_keras_class(type(op)):
                # An untouched Keras layer on inputs of its source shapes: record the call
                # without tracing it again (most of a rebuild's time on a big model).
                outputs = ki.repeat_call(new_op, op, knode, args, kwargs)
            if outputs is None:
                in_place_of = path if new_op.name != op.name else None
                outputs = tree.flatten(self.call(new_op, new_prefix + new_op.name, args, kwargs,
                                                 in_place_of))
                if key is not None and directive is None and not befores:
                    self.alike.add(op, key, new_op, outputs)
            if len(outputs) != len(knode.outputs):
                # Keras's symbolic call of a layer given a list it cannot take (an Activation
                # in place of a Concatenate) answers with one tensor per input.
                shapes = [tuple(t.shape) for t in tree.flatten((args, kwargs))
                          if isinstance(t, keras.KerasTensor)]
                raise EditError(
                    f"{self.plan.description} cannot be built: layer '{new_prefix + new_op.name}'"
                    f" ({type(new_op).__name__}) gives {len(outputs)} outputs for input "
                    f"{_shapes(shapes)}, where '{path}' ({type(op).__name__}) gave "
                    f"{len(knode.outputs)}; the layers after it read {len(knode.outputs)}.",
                    target=self.plan.target, layer=path)
        if directive is not None:  # what its consumers now read (a deleted layer's input)
            self.outputs_at.append((path, g.shape_of(knode.outputs), g.shape_of(outputs)))
        afters = self.plan.inserted_after(knode)
        if afters:
            outputs = [self.insert_chain(afters, outputs[0], new_prefix, knode.outputs[0])]
        for t, n in zip(knode.outputs, outputs):
            tmap[id(t)] = n

    def insert_chain(self, layers, x, new_prefix, source_tensor):
        """Call the inserted ``layers`` one after the other on ``x``, which stands in for the
        source's ``source_tensor``; returns the last output."""
        for layer in layers:
            new = self.inserted.get(id(layer))
            if new is None:
                new = self.given_copy(layer, layer.name, new_prefix, (x,), {})
                self.inserted[id(layer)] = new
                if not g.is_nested_model(layer):
                    self.assignments.append(Assignment(new_prefix + new.name, new, [],
                                                       own=_built(layer)))
            x = self.call(new, new_prefix + new.name, (x,), {})
            self.outputs_at.append((new_prefix + new.name, g.shape_of([source_tensor]),
                                    g.shape_of([x])))
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
        directive = self.plan.directive(op)
        policy = self.plan.policy_for(op)
        overrides = directive.overrides if isinstance(directive, Reconfigure) else None
        own = None
        if isinstance(directive, Replace):
            given = directive.layer
            new = self.given_copy(given, path, new_prefix, args, kwargs)
            self.edited.append((path, op, new))
            if g.is_nested_model(given):
                return new  # its members are assigned their own weights by the walk
            # The target's variables first, whether the replacement came built or not; what it
            # came built with only fills the rest (and is reported: it is not the source's).
            donors = [op] if policy != "reinit" and isinstance(op, keras.layers.Layer) else []
            own = _built(given)
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
        if directive is not None and not isinstance(directive, Replace):
            self.edited.append((path, op, new))
        if donors is not None:
            self.assignments.append(Assignment(new_prefix + new.name, new, donors, policy,
                                               target=self.plan.target, own=own))
        return new

    def given_copy(self, given, path, new_prefix, args, kwargs):
        """The copy of a layer the person gave (a replacement, an inserted layer). A functional
        model is rebuilt through the walk like any nested model (a copy of the object would keep
        a graph whose layers no longer list their calls)."""
        if g.is_nested_model(given):
            return self.nested(given, path, new_prefix, args, kwargs)
        new, _ = copy_layer(given, known=self.known_copies(given))
        return new

    def known_copies(self, layer):
        """``{id(source object): its copy}`` for the other layers of the model that ``layer``
        refers to (a tied output layer holding the Embedding), made now if they are not yet, so
        that a live copy of ``layer`` uses them instead of copies of its own."""
        known = {}
        for sub in ki.sublayers(layer):
            path = self.source_layers.get(id(sub))
            if path is None or id(sub) in self.copying or g.is_nested_model(sub):
                continue
            prefix = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            known[id(sub)] = self.op_for(sub, path, prefix, None, None, None)
        return known

    def nested(self, model, path, new_prefix, args, kwargs):
        """Rebuild a nested model for the tensors it is first called on (shapes may be new)."""
        fm = g.functional_of(model)
        directive = self.plan.directive(model)
        name = model.name
        if isinstance(directive, Reconfigure) and "name" in directive.overrides:
            name = directive.overrides["name"]
        outer = [t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
        inputs = []
        for t, arg in zip(fm.inputs, outer):
            inputs.append(self.new_input(t, path + "/", _follow_shape(t.shape, arg.shape)))
        inputs_struct = tree.pack_sequence_as(ki.inputs_struct(fm), inputs)
        _, outputs = self.level(model, path + "/", new_prefix + name + "/", inputs=inputs)
        try:
            return self.new_model(model, inputs_struct, outputs, name)
        except EditError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EditError(f"{self.plan.description}: nested model '{path}' cannot be rebuilt: "
                            f"{first_line(exc)}", target=self.plan.target, layer=path,
                            cause=exc) from None

    def new_model(self, source, inputs, outputs, name):
        """A model of the source's own class where that class is built like a functional model
        (a ``keras.Model`` subclass with its own ``train_step``, say); else a functional
        ``keras.Model``. A Sequential becomes functional: its graph may no longer be a chain."""
        cls = type(source)
        new = None
        if (not isinstance(source, keras.Sequential) and cls is not ki.Functional
                and ki.functional_like_constructor(cls)):
            try:
                new = cls(inputs, outputs, name=name)
            except Exception as exc:  # noqa: BLE001
                self.notes.append(
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
            raise err.reworded(f"{self.plan.description} cannot be built: {err}",
                               target=self.plan.target, layer=path) from None
        try:
            return new_op(*args, **kwargs)
        except EditError:
            raise
        except Exception as exc:  # noqa: BLE001 - every shape failure becomes a sentence
            if ki.refused_in_stateless_scope(exc):
                raise _NeedsInitializedVariables() from None
            shapes = [tuple(t.shape) for t in tree.flatten((args, kwargs))
                      if isinstance(t, keras.KerasTensor)]
            reason = first_line(exc)
            if getattr(new_op, "stateful", False) and shapes and shapes[0][0] is None:
                reason += (". A stateful layer needs a fixed batch size: "
                           "kw.set_input_shape(model, shape, batch_size=N)")
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


def _call_key(op, args, kwargs):
    """Besides its config, what a new copy of the layer ``op`` called on ``args`` / ``kwargs``
    depends on: its class and the call's arguments, each KerasTensor's spec in its place.
    ``None`` when that cannot be said exactly (not a layer, a model, a mask or a ragged tensor,
    an argument that is not plain data)."""
    if not isinstance(op, keras.layers.Layer) or isinstance(op, keras.Model):
        return None
    if not ki.plain([t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]):
        return None
    try:
        call = tree.map_structure(
            lambda a: ["KerasTensor", list(a.shape), a.dtype, a.sparse]
            if isinstance(a, keras.KerasTensor) else a, (args, kwargs))
        return type(op), json.dumps(call, sort_keys=True)
    except Exception:  # noqa: BLE001 - not plain data (a function, an array): no key
        return None


class _CallsMade:
    """A dry run's copies of untouched layers called on new shapes, by :func:`_call_key`: where
    a layer's call has the key of a copy's, its config (but the name) is the copy's source's,
    and the copy got the variables the layer has, a copy of it would do the same and keep all
    its weights. Configs are read only for calls of the same key (reading one costs about as
    much as a tenth of a copy)."""

    def __init__(self):
        self._made = {}  # call key -> [(source layer, its copy's variables, its copy's outputs)]
        self._configs = {}  # id(source layer) -> its config but the name, as JSON (or None)

    def add(self, op, key, copy, outputs):
        self._made.setdefault(key, []).append((op, _variables_of(copy), outputs))

    def find(self, op, key):
        """The outputs of a copy that ``op``'s call would repeat, or ``None``."""
        made = self._made.get(key, ())
        if not made:
            return None
        variables = _variables_of(op)
        for other, other_variables, outputs in made:
            if other_variables == variables and self._config(op) is not None and (
                    self._config(op) == self._config(other)):
                return outputs
        return None

    def _config(self, op):
        if id(op) not in self._configs:
            try:
                config = dict(op.get_config())
                config.pop("name", None)
                self._configs[id(op)] = json.dumps(config, sort_keys=True)
            except Exception:  # noqa: BLE001 - unreadable, or not plain data: never alike
                self._configs[id(op)] = None
        return self._configs[id(op)]


def _builds_nothing(layer):
    """Whether ``layer`` is of a Keras class that keeps Keras's own ``build`` (which makes
    nothing), and has no weights and holds no layers: a new copy of it is then the same, built
    or not. (A class of the person's might keep state from its first call outside ``build``.)"""
    return (g.is_keras_class(type(layer)) and type(layer).build is keras.layers.Layer.build
            and not layer.weights and not ki.sublayers(layer))


def _variables_of(layer):  # what decides whether a copy's weights are all kept
    return [(v.name, tuple(v.shape), v.dtype, v.trainable) for v in layer.weights]


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


def _not_reusable(source, plan, paths):
    """Ids of the source operations a dry run must copy: those the plan touches (or at whose call
    it inserts), input layers it reshapes or renames, nested models holding any of those, layers
    at several paths (inside and outside a nested model) and layers held by another layer."""
    touched = {id(op) for op, _ in plan.directives()} | plan.inserted_at_ops()
    touched |= {id(op) for _, op in paths if plan.is_inlined(op)}
    touched |= {id(ki.producer(t)) for t in g.require_functional(source).inputs
                if plan.input_shape(ki.producer(t).name) is not None}
    fixed = set(touched)
    seen = {}
    for path, layer in paths:
        seen[id(layer)] = seen.get(id(layer), 0) + 1
        for sub in ki.sublayers(layer):
            fixed.add(id(sub))
    fixed |= {i for i, n in seen.items() if n > 1}

    def inner_ops(model):
        for op in g.require_functional(model).operations:
            yield op
            if g.is_nested_model(op):
                yield from inner_ops(op)

    for _, layer in paths:
        if g.is_nested_model(layer) and any(id(op) in touched for op in inner_ops(layer)):
            fixed.add(id(layer))
    return fixed


def _built(layer):
    """``layer`` when it came built with weights of its own, else ``None``."""
    return layer if getattr(layer, "built", False) and layer.weights else None


def rebuild(source, plan, dry_run=False, progress=None):
    """Build the new model for ``plan``; returns an :class:`EditResult` (without ``edit``).

    Raises ``EditError`` before any variable is allocated when the edit cannot give a valid model.
    ``dry_run=True``: the same walk, checks and report, but no variable is ever given a value and
    ``.model`` is ``None``. ``progress(done, total)``, if given, is called as each call site is
    walked and as each variable is filled (``done`` < ``total``, steps of one; the weights are
    about a third of a rebuild's time), and with ``done == total`` at the end; it may be called
    often, so it should be cheap.
    """
    if progress is not None:
        total = _operation_count(source) + len(source.weights) + 1
        done = 0

        def step():
            nonlocal done
            done = min(done + 1, total - 1)  # a shared layer has a call site per call
            progress(done, total)
    else:
        step = None
    with collector_paused():
        try:
            result = _rebuild(source, plan, deferred=True, dry_run=dry_run, progress=step)
        except _NeedsInitializedVariables:
            # A layer makes a variable from a value while it is called (a stateful RNN's
            # states): such a graph can only be walked with real variables, in a dry run too.
            done = 0
            result = _rebuild(source, plan, deferred=False, dry_run=dry_run, progress=step)
    if progress is not None:
        progress(total, total)
    return result


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused for a rebuild: while thousands of layers are
    made it walks the new objects again and again, for nothing (they are all alive), about a
    third of a rebuild of NASNetLarge. What little cyclic garbage a rebuild leaves is collected
    as usual afterwards (the new objects' first collection then comes at once: the editor holds
    the pause until it has drawn the result); a collector the caller had paused stays paused."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _operation_count(model):
    """How many operations ``model`` holds, those of its nested models included."""
    ops = g.require_functional(model).operations
    return len(ops) + sum(_operation_count(op) for op in ops if g.is_nested_model(op))


def _rebuild(source, plan, deferred, dry_run, progress=None):
    rb = Rebuilder(source, plan, reuse=dry_run, progress=progress)
    # A dry run calls source operations, and copies on source tensors: Keras records those
    # calls on the source's operations, which are to have their own calls only afterwards.
    counts = ki.call_counts(_all_operations(source)) if dry_run else []
    try:
        return _walk_and_report(source, plan, rb, deferred, dry_run, progress)
    finally:
        ki.restore_calls(counts)


def _all_operations(model):
    """Every operation of ``model``'s graph and of its nested models' (each once)."""
    seen = {}
    for op in g.require_functional(model).operations:
        seen[id(op)] = op
        if g.is_nested_model(op):
            for inner in _all_operations(op):
                seen[id(inner)] = inner
    return list(seen.values())


def _walk_and_report(source, plan, rb, deferred, dry_run, progress):
    needed = None
    if plan.outputs is not None:
        needed = needed_nodes(source, tree.flatten(plan.outputs))
    dv = DeferredVariables(enabled=deferred)
    try:
        with ki.unfiltered_tracebacks(), dv:
            inputs, outputs = rb.level(source, "", "", needed=needed)
        try:
            new = rb.new_model(source, inputs, outputs, source.name)
        except Exception as exc:  # noqa: BLE001
            raise EditError(f"{plan.description} cannot give a model: {first_line(exc)}",
                            target=plan.target, cause=exc) from None
        values = {}
        for a in rb.assignments:
            values.update(match(a))
        in_model = {id(layer) for _, layer in g.iter_layers(new)}
        if dry_run:
            dv.discard()
        else:
            try:
                dv.fill(values, {id(v) for v in new.variables}, progress)
            except EditError as err:
                raise err.reworded(f"{plan.description}: {err}", target=plan.target) from None
            for a in rb.assignments:
                if id(a.layer) in in_model:
                    finish(a)
    except BaseException:
        dv.discard()
        raise
    notes = list(plan.notes) + rb.notes
    for layer in rb.inserted.values():
        if id(layer) not in in_model:
            notes.append(f"'{layer.name}' was inserted where nothing reads it (an input that "
                         f"feeds no output): it is not part of the new model.")
    if getattr(source, "compiled", False):
        notes.append("The source model was compiled; the new one is not (as with clone_model): "
                     "call compile() before fit().")
    report = make_report(source, new, rb.assignments, notes, rb.edited, rb.outputs_at)
    return EditResult(None if dry_run else new, report)
