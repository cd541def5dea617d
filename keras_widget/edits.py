"""The edits a person can ask for, one typed record each: its arguments, how it checks them, how
it plans, how it is written as code.

Each kind of edit is one planner function below, registered with :func:`edit_kind`: its signature
after the model *is* the edit's arguments, its body checks them and writes a
:class:`keras_widget.surgery.Plan` (raising ``EditError`` for a request that cannot give a valid
model), and its docstring is the public function's. From that one :class:`EditKind` record come
the public function (``kw.replace_layer``), the :class:`Edit` the editor and its history keep, the
editor's method (:func:`editor_method`) and the edit's code (:meth:`EditKind.code_arguments`,
written out by :mod:`keras_widget.history`).

Each public function takes the source model first and returns an :class:`EditResult` with
``.model`` (a new ``keras.Model``) and ``.report`` (:class:`EditReport`); with ``dry_run=True``,
``.model`` is ``None`` and the report is the one the edit would give. Nothing here changes the
source model. Every refusal is a :class:`EditError` raised before anything is built.
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import tree

from . import graph as g
from . import keras_internals as ki
from .errors import EditError, first_line, surfaced
from .signature import valid_config_keys
from .surgery import Plan, rebuild
from .weights import check_policy

EDITS = {}  # public name -> EditKind, in the order of this file


@dataclass(frozen=True)
class EditKind:
    """One kind of edit. ``planner(model, **arguments)`` checks the arguments and returns the
    :class:`Plan`; its signature gives the arguments (the first one after the model is written
    positionally in code, the others as keywords when they differ from their default) and its
    docstring the public function's."""

    name: str
    planner: object

    @property
    def parameters(self):
        """The edit's arguments after the model: ``{name: inspect.Parameter}``."""
        params = list(inspect.signature(self.planner).parameters.values())[1:]
        return {p.name: p for p in params}

    def check_arguments(self, model, args):
        """Raise ``EditError`` when ``args`` do not fit the edit's signature."""
        try:
            inspect.signature(self.planner).bind(model, **args)
        except TypeError as exc:
            raise EditError(f"{self.name}: {exc}.", cause=exc) from None

    def plan(self, model, args):
        self.check_arguments(model, args)
        return self.planner(model, **args)

    def code_arguments(self, args):
        """``[(keyword or None, value)]``: how the arguments are written in a call, the first one
        positionally, the others by keyword, leaving out those at their default."""
        params = self.parameters
        first = next(iter(params), None)
        out = [(None, args[first])] if first in args else []
        for key, value in args.items():
            if key == first:
                continue
            p = params.get(key)
            default = p.default if p is not None else inspect.Parameter.empty
            if default is not inspect.Parameter.empty and isinstance(value, (str, type(None))) \
                    and value == default:
                continue
            out.append((key, value))
        return out

    def function(self):
        """The public function: ``fn(model, *arguments, dry_run=False)`` → ``EditResult``."""
        sig = inspect.signature(self.planner)
        params = list(sig.parameters.values())
        dry = inspect.Parameter("dry_run", inspect.Parameter.KEYWORD_ONLY, default=False)
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        public_sig = sig.replace(parameters=params[:at] + [dry] + params[at:])

        def edit(model, *args, dry_run=False, **kwargs):
            try:
                bound = sig.bind(model, *args, **kwargs)
            except TypeError as exc:
                raise surfaced(EditError(f"{self.name}: {exc}.", cause=exc))
            return Edit(self.name, _arguments(bound)).apply(model, dry_run=dry_run)

        edit.__name__ = edit.__qualname__ = self.name
        edit.__doc__ = self.planner.__doc__.rstrip() + _DRY_RUN_DOC
        edit.__signature__ = public_sig
        edit.__module__ = __name__
        return edit


_DRY_RUN_DOC = """

    ``dry_run=True``: nothing is built and no weight memory is allocated; the ``EditResult``'s
    ``.model`` is ``None`` and its ``.report`` is exactly what the edit would report (or the same
    ``EditError`` is raised).
    """


def _arguments(bound):
    """The bound arguments after the model as one dict (``**config`` flattened)."""
    out = {}
    for name, value in list(bound.arguments.items())[1:]:
        if bound.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


def edit_kind(planner):
    """Register ``planner`` (named ``_<public name>``) as an edit kind."""
    kind = EditKind(planner.__name__.lstrip("_"), planner)
    EDITS[kind.name] = kind
    return planner


@dataclass
class Edit:
    """One edit as data: ``kind`` is the public function's name, ``args`` its arguments after
    the model. ``apply(model)`` runs it; the editor keeps a list of these as its history."""

    kind: str
    args: dict
    # (model, Plan) of the last dry run: the real edit on the same model reuses that plan, so
    # what a preview showed is what Apply does (a replace_all factory is not asked twice).
    _planned: tuple = field(default=None, repr=False, compare=False)

    @property
    def record(self):
        """The :class:`EditKind` of this edit; ``EditError`` if there is none."""
        kind = EDITS.get(self.kind)
        if kind is None:
            raise EditError(f"There is no edit '{self.kind}'; edits: {', '.join(EDITS)}.")
        return kind

    def apply(self, model, dry_run=False, progress=None):
        """Run the edit on ``model``: an ``EditResult`` whose ``.edit`` is this edit. With
        ``dry_run=True`` its ``.model`` is ``None``: nothing is built for real, the report is
        the one the edit would give, and the same ``EditError`` is raised. ``progress(done,
        total)`` is called as the rebuild goes (:func:`keras_widget.surgery.rebuild`).

        Every exception from user or library code met on the way (a layer's ``get_config``, a
        factory, Keras itself) becomes an ``EditError`` naming the edit, with the original as
        ``.cause``."""
        try:
            kind = self.record
            if self._planned is not None and self._planned[0] is model:
                plan = self._planned[1]
            else:
                plan = kind.plan(model, self.args)
            self._planned = (model, plan) if dry_run else None
            result = rebuild(model, plan, dry_run=dry_run, progress=progress)
        except EditError as err:
            raise surfaced(err)
        except Exception as exc:  # noqa: BLE001 - nothing but EditError leaves an edit
            raise surfaced(EditError(
                f"{self._call()} failed: {first_line(exc)} ({type(exc).__name__}, raised by "
                f"{_raised_in(exc)}).", target=self._target(), cause=exc))
        result.edit = self
        return result

    def preview(self, model):
        """The :class:`EditReport` the edit would give on ``model`` (a dry run)."""
        return self.apply(model, dry_run=True).report

    def _target(self):
        for key in ("target", "nested", "after", "before", "output"):
            if self.args.get(key) is not None:
                return str(self.args[key])
        return None

    def _call(self):
        target = self._target()
        return f"{self.kind}({target!r})" if target else self.kind


def _raised_in(exc):
    """Where an exception came from: the innermost frame's function and file name."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "unknown code"
    code = tb.tb_frame.f_code
    return f"{code.co_name} in {code.co_filename.rsplit('/', 1)[-1]}"


def editor_method(kind_name):
    """An editor method for the edit ``kind_name``, derived from its record: the public
    function's arguments without the model, plus ``dry_run``; it calls ``self._apply(edit)``
    (or returns ``self.history.preview(edit)`` in a dry run) and returns the ``EditReport``."""
    kind = EDITS[kind_name]
    public = kind.function()
    sig = inspect.signature(public)
    params = [p for p in sig.parameters.values()]
    params[0] = params[0].replace(name="self")

    def method(self, *args, dry_run=False, **kwargs):
        try:
            bound = inspect.signature(kind.planner).bind(None, *args, **kwargs)
        except TypeError as exc:
            raise surfaced(EditError(f"{kind.name}: {exc}.", cause=exc))
        edit = Edit(kind.name, _arguments(bound))
        if dry_run:
            return self.history.preview(edit)
        return self._apply(edit)

    method.__name__ = method.__qualname__ = kind.name
    method.__doc__ = (f":func:`keras_widget.{kind.name}` on the current model; returns the "
                      f"report. ``dry_run=True``: the report it would give, nothing applied.")
    method.__signature__ = sig.replace(parameters=params)
    return method


def _site_nodes(model, target, what):
    """Resolve ``target`` (a path, or a node id ``"path#k"``) to ``(path, op, [keras nodes])``.

    Only call sites in the graph that holds the layer count: a layer of a nested model is called
    in the nested model's own graph.
    """
    if isinstance(target, str) and "#" in target:
        graph = g.to_networkx(model)
        if target not in graph:
            path = target.split("#", 1)[0]
            ids = [n for n, d in graph.nodes(data=True) if d["path"] == path]
            hint = f" Call sites of '{path}': {', '.join(ids)}." if ids else ""
            raise EditError(f"{what}: there is no call site '{target}'.{hint}", target=target)
        data = graph.nodes[target]
        return data["path"], data["layer"], [data["keras_node"]]
    container, op = g.find_layer(model, target)
    nodes = [s.node for s in g.call_sites(container) if s.op is op]
    return target, op, nodes


def _names_in(container):
    return {o.name for o in g.require_functional(container).operations}


def _check_new_name(model, path, name, what, replacing=None):
    container = g.find_layer(model, path)[0] if "/" in path else model
    taken = _names_in(container) - ({replacing} if replacing else set())
    if name in taken:
        where = f"nested model '{container.name}'" if container is not model else "the model"
        raise EditError(f"{what}: a layer named '{name}' already exists in {where}; give the new "
                        f"layer another name (name=...).", target=path)


def _check_name(name, what):
    # '/' separates nested models in a path, '#' a call site in a node id.
    if not isinstance(name, str) or not name or "/" in name or "#" in name:
        raise EditError(f"{what}: a layer name is a non-empty string without '/' or '#'; "
                        f"got {name!r}.")


def _check_layer(obj, what):
    if not isinstance(obj, keras.layers.Layer):
        raise EditError(f"{what}: expected a keras layer, got {type(obj).__name__} ({obj!r}).")
    if isinstance(obj, keras.layers.InputLayer):
        raise EditError(f"{what}: an InputLayer cannot be placed inside a model; use "
                        f"set_input_shape to change an input.")
    _check_name(obj.name, what)


def _one_tensor(node, which):
    return len(g.primary_inputs(node) if which == "input" else node.outputs) == 1


@edit_kind
def _replace_layer(model, target, new_layer, weights="auto"):
    """Replace the layer at ``target`` by ``new_layer``, at every call site if it is shared.

    ``target``: a layer path (``"d2"``, ``"outer/inner"``). ``new_layer``: a keras layer; a copy
    of it goes into the new model (the object you pass is not used, so it can be reused).
    ``weights``: ``"auto"`` copies each of the target's variables whose name and shape fit the
    new layer, ``"reinit"`` copies none, ``"keep"`` raises ``EditError`` unless all fit; built
    or not, the new layer inherits the same. If ``new_layer`` came built, its own values fill
    only the variables that inherit nothing (reported in ``report.reinitialized``: they are not
    the source's). Layers downstream whose input shape changed keep what still fits and are
    reported in ``report.reinitialized``. ``report.config_changes["<target>"]`` says what differs
    from the target's config (``"class"`` for another class).

    Returns an ``EditResult`` (``.model``, ``.report``). Raises ``EditError`` (nothing built) if
    the target does not exist, is an input layer, the new name is taken, or the new layer's output
    does not fit its consumers (the message names the layer where it fails and the shapes).
    """
    what = f"replace_layer({target!r})"
    check_policy(weights)
    _check_layer(new_layer, what)
    _, op = g.find_layer(model, target)
    if isinstance(op, keras.layers.InputLayer):
        raise EditError(f"{what}: '{target}' is an input layer; use set_input_shape to change it.",
                        target=target)
    if new_layer.name != op.name:
        _check_new_name(model, target, new_layer.name, what, replacing=op.name)
    plan = Plan(what, target=target)
    plan.replace(op, new_layer, weights)
    return plan


@edit_kind
def _insert_layer(model, layer, after=None, before=None):
    """Insert ``layer`` after or before a layer or one call site.

    ``after=x``: every consumer of x's output (model outputs included) now reads ``layer``'s
    output. ``x`` may be a layer path, or the node id ``"name#k"`` of one call of a shared layer;
    a shared layer's name means after every call (the inserted layer is then shared by them).
    ``before=x``: ``layer`` sits on x's input, only x reads it; refused when x takes several input
    tensors (insert after one of them instead). The inserted layer is fresh (or keeps its own
    weights if it was built) and is listed in ``report.added``. Inside a nested model that is
    called several times, an insert applies to every call (the nested model has one graph).

    Raises ``EditError`` (nothing built) for a missing target, a taken name, or shapes that do not
    fit.
    """
    if (after is None) == (before is None):
        raise EditError("insert_layer: give exactly one of after= or before=.")
    where = after if after is not None else before
    what = f"insert_layer({'after' if after is not None else 'before'}={where!r})"
    _check_layer(layer, what)
    path, op, nodes = _site_nodes(model, where, what)
    _check_new_name(model, path, layer.name, what)
    plan = Plan(what, target=where)
    side = "after" if after is not None else "before"
    if side == "after":
        for node in nodes:
            if not _one_tensor(node, "output"):
                raise EditError(f"{what}: '{where}' has {len(node.outputs)} outputs; a layer can "
                                f"only be inserted after a single output.", target=where)
    else:
        if isinstance(op, keras.layers.InputLayer):
            raise EditError(f"{what}: '{where}' is an input layer; nothing comes before it. "
                            f"Insert after it instead.", target=where)
        for node in nodes:
            if not _one_tensor(node, "input"):
                parents = ", ".join(ki.producer(t).name for t in g.primary_inputs(node))
                raise EditError(f"{what}: '{where}' takes {len(g.primary_inputs(node))} input tensors; "
                                f"insert after one of its inputs instead ({parents}).",
                                target=where)
    if len(nodes) > 1:
        plan.notes.append(f"'{path}' is called {len(nodes)} times: '{layer.name}' was inserted "
                          f"{side} every call and is shared by them.")
    for node in nodes:
        (plan.insert_after if side == "after" else plan.insert_before)(node, layer)
    return plan


@edit_kind
def _delete_layer(model, target):
    """Delete the layer at ``target``: its consumers read its input instead.

    If the layer is an output, its input becomes that output. A shared layer is deleted at every
    call. Refused with ``EditError`` for input layers, layers with several input tensors or
    several outputs, and when the consumers cannot take the input's shape.
    """
    what = f"delete_layer({target!r})"
    _, op, nodes = _site_nodes(model, target, what)
    if "#" in target:
        raise EditError(f"{what}: delete a layer by its name, not one call site; a shared layer is "
                        f"deleted at every call.", target=target)
    if isinstance(op, keras.layers.InputLayer):
        raise EditError(f"{what}: '{target}' is an input layer and cannot be deleted.",
                        target=target)
    for node in nodes:
        if not _one_tensor(node, "input"):
            raise EditError(f"{what}: '{target}' takes {len(g.primary_inputs(node))} input tensors, so "
                            f"there is no single input for its consumers to read instead.",
                            target=target)
        if not _one_tensor(node, "output"):
            raise EditError(f"{what}: '{target}' has {len(node.outputs)} outputs; only a layer with "
                            f"one output can be deleted.", target=target)
    plan = Plan(what, target=target)
    plan.delete(op)
    if not isinstance(op, keras.layers.Layer):
        plan.notes.append(f"The keras.ops operation '{target}' was removed.")
    return plan


@edit_kind
def _edit_layer(model, target, weights="auto", **config):
    """Rebuild the layer at ``target`` with some of its config changed, e.g. ``units=128``.

    Unlike setting attributes on a built layer, this really takes effect (a new activation,
    dropout rate or regularizer is used by ``predict`` and ``fit``). Keys are the layer's config
    keys and constructor arguments; an unknown key raises ``EditError`` listing the valid ones.
    ``weights`` as in :func:`replace_layer`.
    """
    what = f"edit_layer({target!r})"
    check_policy(weights)
    _, op = g.find_layer(model, target)
    if not config:
        raise EditError(f"{what}: give at least one config value to change, e.g. units=128.",
                        target=target)
    if isinstance(op, keras.layers.InputLayer):
        raise EditError(f"{what}: '{target}' is an input layer; use set_input_shape.",
                        target=target)
    if not isinstance(op, keras.layers.Layer):
        raise EditError(f"{what}: '{target}' is a keras.ops operation; its arguments are part "
                        f"of the code that built the model. Replace it with a layer instead.",
                        target=target)
    if g.is_nested_model(op) and set(config) - {"name"}:
        raise EditError(f"{what}: '{target}' is a nested model; edit its layers by path "
                        f"('{target}/<layer>') instead.", target=target)
    valid = valid_config_keys(op)
    unknown = sorted(set(config) - valid)
    if unknown:
        raise EditError(f"{what}: {type(op).__name__} has no config key "
                        f"{', '.join(map(repr, unknown))}. Valid keys: {', '.join(sorted(valid))}.",
                        target=target)
    if "name" in config and config["name"] != op.name:
        _check_name(config["name"], what)
        _check_new_name(model, target, config["name"], what)
    plan = Plan(what, target=target)
    # numpy scalars (np.int64(4) from a computation) are what Keras's own checks refuse.
    config = {k: v.item() if isinstance(v, np.generic) else v for k, v in config.items()}
    plan.reconfigure(op, config, weights)
    return plan


@edit_kind
def _rename_layer(model, target, new_name):
    """Rename the layer at ``target`` (weights copied). The new path is reported as added and
    the old one as removed. Raises ``EditError`` if ``new_name`` is taken in the same model."""
    what = f"rename_layer({target!r}, {new_name!r})"
    _check_name(new_name, what)
    _, op = g.find_layer(model, target)
    if new_name == op.name:
        raise EditError(f"{what}: the layer is already called '{new_name}'.", target=target)
    _check_new_name(model, target, new_name, what)
    plan = Plan(what, target=target)
    plan.reconfigure(op, {"name": new_name})
    prefix = target.rsplit("/", 1)[0] + "/" if "/" in target else ""
    plan.notes.append(f"'{target}' is now '{prefix}{new_name}' (weights copied).")
    return plan


@edit_kind
def _set_input_shape(model, shape, input=None, batch_size=None, weights="auto"):
    """Give an input a new shape; every layer is rebuilt for it, nested models included.

    ``shape``: the shape **without** the batch axis, e.g. ``(128, 128, 1)``; ``None`` for a free
    axis. ``input``: which input (name or index) when there are several. ``batch_size``: fixes
    the batch axis (a stateful RNN needs it); ``None`` leaves it free. ``weights``: ``"auto"``
    keeps every variable whose shape still fits (convolutions usually do, a ``Dense`` after a
    ``Flatten`` usually does not); ``"keep"`` raises ``EditError`` unless every one fits;
    ``"reinit"`` copies none.
    """
    def axis(d):
        return d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0)

    if not isinstance(shape, (tuple, list)) or not all(axis(d) for d in shape):
        raise EditError(f"set_input_shape({shape!r}): a shape is a tuple of positive ints or None, "
                        f"without the batch axis, e.g. (128, 128, 1).")
    dims = tuple(None if d is None else int(d) for d in shape)
    what = f"set_input_shape({dims})"
    check_policy(weights)
    if batch_size is not None and not (axis(batch_size)):
        raise EditError(f"{what}: batch_size must be a positive int or None; got {batch_size!r}.")
    fm = g.require_functional(model)
    names = [ki.producer(t).name for t in fm.inputs]
    if input is None:
        if len(names) != 1:
            raise EditError(f"{what}: the model has {len(names)} inputs ({', '.join(names)}); "
                            f"say which with input=<name or index>.")
        index = 0
    elif isinstance(input, int) and not isinstance(input, bool):
        if not -len(names) <= input < len(names):
            raise EditError(f"{what}: input index {input} is out of range; the model has "
                            f"{len(names)} inputs.")
        index = input
    elif input in names:
        index = names.index(input)
    else:
        raise EditError(f"{what}: there is no input {input!r}; inputs: {', '.join(names)}.")
    plan = Plan(what, target=names[index], default_policy=weights)
    plan.reshape_input(names[index], (None if batch_size is None else int(batch_size),) + dims)
    return plan


def _matcher(match):
    if isinstance(match, type) or (isinstance(match, tuple) and
                                   all(isinstance(m, type) for m in match)):
        return lambda layer: isinstance(layer, match)
    if callable(match):
        return match
    raise EditError("replace_all: match must be a layer class, a tuple of classes or a "
                    f"predicate taking a layer; got {match!r}.")


@edit_kind
def _replace_all(model, match, factory, weights="auto"):
    """Replace every layer that ``match``es by ``factory(layer)``, in one rebuild.

    ``match``: a layer class, a tuple of classes, or a predicate ``layer -> bool``; nested models'
    layers are visited too. ``factory(layer)`` receives the source layer (do not change it) and
    returns the new layer, or ``None`` to delete the match. What it returns is copied, so the
    result shares no variable with the source even when it wraps the source layer.
    ``weights`` as in :func:`replace_layer`, for every match.
    """
    what = "replace_all"
    check_policy(weights)
    test = _matcher(match)
    if not callable(factory):
        raise EditError(f"replace_all: factory must be a function taking the matched layer and "
                        f"returning the new layer (or None); got {factory!r}.")
    plan = Plan(what)
    skip_under, matched = [], []
    for path, layer in g.iter_layers(model):
        if isinstance(layer, keras.layers.InputLayer) or plan.has(layer):
            continue
        if any(path.startswith(p + "/") for p in skip_under):
            continue
        if not test(layer):
            continue
        new = factory(layer)
        if new is None:
            container = g.find_layer(model, path)[0]
            for site in g.call_sites(container):
                if site.op is layer and not (_one_tensor(site.node, "input") and
                                             _one_tensor(site.node, "output")):
                    raise EditError(f"replace_all: the factory returned None for '{path}', but "
                                    f"it has several input or output tensors, so it cannot be "
                                    f"deleted.", target=path)
            plan.delete(layer)
        else:
            _check_layer(new, f"replace_all: the factory's result for '{path}'")
            if new.name != layer.name:
                _check_new_name(model, path, new.name, f"replace_all ('{path}')",
                                replacing=layer.name)
            plan.replace(layer, new, weights)
        matched.append(path)
        if g.is_nested_model(layer):
            skip_under.append(path)
    if not matched:
        plan.notes.append("No layer matched: the new model is a copy of the source.")
    else:
        plan.target = ", ".join(matched)
    return plan


def _output_entries(model):
    """``[(key, tensor)]`` for the model's outputs: dict keys, or indices for a list/single."""
    fm = g.require_functional(model)
    struct = ki.outputs_struct(fm)
    if isinstance(struct, dict):
        return list(struct.items())
    return list(enumerate(tree.flatten(struct)))


@edit_kind
def _add_output(model, target):
    """Make the output of the layer (or call site ``"name#k"``) at ``target`` an extra output.

    Dict outputs get the layer name as key; a single output becomes a list. A layer inside a
    nested model must be inlined first (:func:`inline_model`).
    """
    what = f"add_output({target!r})"
    path, op, nodes = _site_nodes(model, target, what)
    if "/" in path:
        raise EditError(f"{what}: '{target}' is inside a nested model, whose tensors the outer "
                        f"model cannot read; inline_model('{path.split('/')[0]}') first.",
                        target=target)
    if len(nodes) != 1:
        ids = ", ".join(f"{path}#{k}" for k in range(len(nodes)))
        raise EditError(f"{what}: '{path}' is called {len(nodes)} times; name one call: {ids}.",
                        target=target)
    (node,) = nodes
    fm = g.require_functional(model)
    struct = ki.outputs_struct(fm)
    existing = {id(t) for t in fm.outputs}
    new_tensors = [t for t in node.outputs if id(t) not in existing]
    if not new_tensors:
        raise EditError(f"{what}: the output of '{target}' is already a model output.",
                        target=target)
    if isinstance(struct, dict):
        if path in struct:
            raise EditError(f"{what}: the outputs already have a key '{path}'.", target=target)
        new_struct = dict(struct)
        if len(new_tensors) == 1:
            new_struct[path] = new_tensors[0]
        else:
            new_struct.update({f"{path}_{i}": t for i, t in enumerate(new_tensors)})
    else:
        new_struct = list(tree.flatten(struct)) + new_tensors
    plan = Plan(what, target=target)
    plan.set_outputs(new_struct)
    return plan


@edit_kind
def _remove_output(model, output):
    """Remove an output, by its dict key, its index or the name of the layer that produces it.

    Layers that then feed no output are removed (listed in ``report.removed``). Dict keys of the
    remaining outputs are kept; a list output with one entry left becomes a single output.
    """
    what = f"remove_output({output!r})"
    fm = g.require_functional(model)
    struct = ki.outputs_struct(fm)
    entries = _output_entries(model)
    if len(entries) < 2:
        raise EditError(f"{what}: the model has only one output; there would be nothing left.")
    key = None
    if isinstance(output, int) and not isinstance(output, bool):
        if not -len(entries) <= output < len(entries):
            raise EditError(f"{what}: output index {output} is out of range; the model has "
                            f"{len(entries)} outputs.")
        key = entries[output][0]
    elif isinstance(struct, dict) and output in struct:
        key = output
    else:
        for k, t in entries:
            if ki.producer(t).name == output:
                key = k
                break
    if key is None:
        names = [f"{k!r}" if isinstance(struct, dict) else
                 f"{i} ({ki.producer(t).name})" for i, (k, t) in enumerate(entries)]
        raise EditError(f"{what}: no such output; outputs: {', '.join(names)}.")
    if isinstance(struct, dict):
        new_struct = {k: t for k, t in struct.items() if k != key}
    else:
        rest = [t for k, t in entries if k != key]
        new_struct = rest[0] if len(rest) == 1 else rest
    plan = Plan(what, target=str(output))
    plan.set_outputs(new_struct)
    return plan


@edit_kind
def _inline_model(model, nested):
    """Move the layers of the nested model at ``nested`` into the graph that calls it.

    Weights are kept; the layers' paths lose the ``"nested/"`` prefix (reported as added, the old
    paths as removed), so they can be tapped, edited and used as outputs. Raises ``EditError``
    when a name would clash with a layer of the enclosing model.
    """
    what = f"inline_model({nested!r})"
    container, op = g.find_layer(model, nested)
    if not g.is_nested_model(op):
        raise EditError(f"{what}: '{nested}' is a {type(op).__name__}, not a nested model.",
                        target=nested)
    outer_names = _names_in(container) - {op.name}
    inner_ops = [o for o in g.require_functional(op).operations
                 if not isinstance(o, keras.layers.InputLayer)]
    clash = sorted(o.name for o in inner_ops if o.name in outer_names)
    if clash:
        raise EditError(f"{what}: the enclosing model already has layers named "
                        f"{', '.join(map(repr, clash))}; rename them first.", target=nested)
    plan = Plan(what, target=nested)
    plan.inline(op)
    prefix = nested.rsplit("/", 1)[0] + "/" if "/" in nested else ""
    plan.notes.append(f"The layers of '{nested}' moved to "
                      f"{('nested model ' + repr(prefix[:-1])) if prefix else 'the outer model'} "
                      f"with their weights (paths '{nested}/<layer>' are now '{prefix}<layer>').")
    return plan


# ---------------------------------------------------------------------------------------------
# The public API: one function per record.

replace_layer = EDITS["replace_layer"].function()
insert_layer = EDITS["insert_layer"].function()
delete_layer = EDITS["delete_layer"].function()
edit_layer = EDITS["edit_layer"].function()
rename_layer = EDITS["rename_layer"].function()
set_input_shape = EDITS["set_input_shape"].function()
replace_all = EDITS["replace_all"].function()
add_output = EDITS["add_output"].function()
remove_output = EDITS["remove_output"].function()
inline_model = EDITS["inline_model"].function()
