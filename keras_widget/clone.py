"""Copy one layer or operation so that the copy shares nothing with the source.

Two ways, tried in this order:

- **from config**: ``type(layer).from_config(layer.get_config())``, the way Keras's own
  ``clone_model`` does it. The copy is unbuilt; its weights are created when it is called in the
  new graph and then filled by :mod:`keras_widget.weights`.
- **live copy**: where a layer cannot be rebuilt from its config (a ``Lambda``, whose Python
  function would need unsafe deserialization; a custom layer whose constructor takes objects Keras
  cannot serialize), the Python object is copied with its attributes. Functions are not copied
  (the copy calls the same function), variables and sub-layers are; a function stored on the
  object that closes over it (Keras wraps ``build`` per instance) is made again around the copy.
  Safe mode is never touched.
"""
from __future__ import annotations

import contextlib
import copy
import types

import keras

from . import keras_internals as ki
from .errors import EditError, first_line  # noqa: F401 - first_line: editor.py imports it here
from .graph import is_keras_class


def needs_live_copy(layer):
    """True for layers we never rebuild from config (a ``Lambda`` holds a live Python function)."""
    return isinstance(layer, keras.layers.Lambda)


def config_copy(layer, overrides=None):
    """An unbuilt copy of ``layer`` from its config, with ``overrides`` applied; or ``None``.

    ``None`` means the layer cannot be rebuilt faithfully from its config: no ``get_config``, a
    ``Lambda``, a config that holds the layer's own sub-layers (the copy would share them), or a
    custom class whose copy comes out different (a ``get_config`` that forgets an argument).
    With ``overrides``, a config the class refuses raises ``EditError`` naming the layer and the
    values.
    """
    if needs_live_copy(layer):
        return None
    try:
        config = layer.get_config()
    except Exception as exc:  # noqa: BLE001 - NotImplementedError, or a get_config that fails
        if overrides and set(overrides) - {"name"}:
            raise EditError(
                f"Layer '{layer.name}' ({type(layer).__name__}) cannot be rebuilt with new "
                f"arguments: its get_config() fails ({first_line(exc)}). Replace it with a "
                f"new layer instead.", target=layer.name, layer=layer.name,
                cause=exc) from None
        return None
    overrides = overrides or {}
    try:
        new = type(layer).from_config({**config, **overrides})
    except Exception as exc:  # noqa: BLE001 - any refusal becomes a sentence for the person
        if set(overrides) - {"name"}:
            shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            raise EditError(
                f"Layer '{layer.name}' ({type(layer).__name__}) does not accept {shown}: "
                f"{first_line(exc)}", target=layer.name, layer=layer.name, cause=exc) from None
        return None
    # An automatic config (a custom class without get_config) may leave the name out.
    new.name = overrides.get("name", layer.name)
    if _shares_state(new, layer):
        return None
    if not is_keras_class(type(layer)) and not overrides and _differs(new, layer, config):
        return None
    return new


def _shares_state(new, layer):
    subs = {id(x) for x in ki.sublayers(layer, include_self=True)}
    if any(id(x) in subs for x in ki.sublayers(new, include_self=True)):
        return True
    old = {id(v) for v in layer.variables}
    return any(id(v) in old for v in new.variables)


_PLAIN = (int, float, str, bool, type(None), tuple)


def _differs(new, layer, config):
    """Whether a custom class's copy from config came out different from the layer: another
    config, or another value of a plain public attribute both have (``self.factor = factor``)."""
    try:
        if new.get_config() != config:
            return True
        for key, value in vars(layer).items():
            if key.startswith("_") or not isinstance(value, _PLAIN) or key not in vars(new):
                continue
            if vars(new)[key] != value and key != "built":
                return True
        return False
    except Exception:  # noqa: BLE001 - a comparison that fails: do not trust the copy
        return True


def live_copy(layer, known=None):
    """A copy of the Python object ``layer``: same class and attributes, its own variables.

    Sub-layers and variables are copied too (variables with their current values); the copy has
    no call history (no inbound or outbound nodes). Functions, classes and modules it refers to
    are shared. ``known`` maps ``id()`` of objects to what the copy must use instead of copying
    them: another layer of the same model that this one refers to (tied weights) is the new
    model's copy of it. Raises ``EditError`` if the object cannot be copied.
    """
    copied = []
    memo = dict(known or {})
    try:
        with ki.DotNotTrackScope(), _modules_copied_as_is():
            new = _copy_layer(layer, memo, copied)
    except EditError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise EditError(
            f"Layer '{layer.name}' ({type(layer).__name__}) cannot be copied: it cannot be "
            f"rebuilt from its config and copying the object failed ({first_line(exc)}). "
            f"Give {type(layer).__name__} a get_config() that returns its constructor arguments.",
            target=layer.name, layer=layer.name, cause=exc) from None
    for item in copied:
        # The copied tracker remembers the ids of the source's objects: point it at ours.
        ki.retarget_tracker(item)
    return new


def _copy_layer(layer, memo, copied):
    new = object.__new__(type(layer))
    memo[id(layer)] = new
    copied.append(new)
    # The copy starts without call history: the source's nodes belong to the source's graph.
    for history in ki.call_history_attributes(layer):
        memo[id(history)] = []
    for sub in ki.sublayers(layer, recursive=False):
        if id(sub) not in memo:
            _copy_layer(sub, memo, copied)
    for variable in layer.variables:
        if id(variable) not in memo:
            memo[id(variable)] = copy.deepcopy(variable)
    new.__dict__.update(copy.deepcopy(layer.__dict__, memo))
    _rebind_closures(new, memo)
    return new


def _rebind_closures(new, memo):
    """Functions stored on the instance that close over the source object are made again closing
    over its copy. Keras stores such closures on every layer (``build`` and ``quantize`` are
    wrapped per instance); a copy that kept them would build the *source* when it is called."""
    for key, fn in list(vars(new).items()):
        fresh = _rebound(fn, memo)
        if fresh is not None:
            vars(new)[key] = fresh


def _rebound(fn, memo):
    if not isinstance(fn, types.FunctionType) or not fn.__closure__:
        return None
    cells, changed = [], False
    for cell in fn.__closure__:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            cells.append(cell)
            continue
        if id(value) in memo and memo[id(value)] is not value:
            value, changed = memo[id(value)], True
        elif isinstance(value, types.MethodType) and id(value.__self__) in memo:
            value, changed = types.MethodType(value.__func__, memo[id(value.__self__)]), True
        cells.append(types.CellType(value))
    if not changed:
        return None
    fresh = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                               tuple(cells))
    fresh.__kwdefaults__ = fn.__kwdefaults__
    fresh.__dict__.update(fn.__dict__)  # functools.wraps: __wrapped__ and the like
    wrapped = fresh.__dict__.get("__wrapped__")
    if isinstance(wrapped, types.MethodType) and id(wrapped.__self__) in memo:
        fresh.__wrapped__ = types.MethodType(wrapped.__func__, memo[id(wrapped.__self__)])
    fresh.__qualname__, fresh.__doc__ = fn.__qualname__, fn.__doc__
    return fresh


@contextlib.contextmanager
def _modules_copied_as_is():
    """Let ``copy.deepcopy`` pass modules through (a layer may hold e.g. ``backend``)."""
    dispatch = copy._deepcopy_dispatch
    had = types.ModuleType in dispatch
    old = dispatch.get(types.ModuleType)
    dispatch[types.ModuleType] = copy._deepcopy_atomic
    try:
        yield
    finally:
        if had:
            dispatch[types.ModuleType] = old
        else:
            del dispatch[types.ModuleType]


def copy_layer(layer, overrides=None, known=None):
    """A copy of ``layer`` for a new graph: from config where possible, else a live copy.

    ``overrides`` are config entries to change (``edit_layer``; ``{"name": ...}`` renames);
    ``known`` as in :func:`live_copy`. Returns ``(copy, live)``, ``live`` telling whether it is
    a live copy (already built, with the source's variable values) rather than an unbuilt one
    from config.
    Raises ``EditError`` when overrides other than a new name are asked of a layer that can only
    be live-copied, or when the class refuses them.
    """
    # A layer that refers to other layers of the model is copied live, so that it goes on
    # referring to their copies (a config would make it new ones: untied weights).
    new = None if known else config_copy(layer, overrides)
    if new is not None:
        return new, False
    overrides = overrides or {}
    if set(overrides) - {"name"}:
        raise EditError(
            f"Layer '{layer.name}' ({type(layer).__name__}) cannot be rebuilt from a config, so its "
            f"arguments cannot be edited; replace it with a new layer instead.",
            target=layer.name, layer=layer.name)
    new = live_copy(layer, known)
    if "name" in overrides:
        new.name = overrides["name"]
    return new, True


def copy_operation(op, name=None):
    """A copy of a ``keras.ops`` operation (not a layer: no weights) for a new graph."""
    try:
        config = op.get_config()
        if name is not None:
            config["name"] = name
        return type(op).from_config(config)
    except Exception:  # noqa: BLE001 - fall back to copying the object
        pass
    try:
        with ki.DotNotTrackScope(), _modules_copied_as_is():
            memo = {id(h): [] for h in ki.call_history_attributes(op)}
            new = object.__new__(type(op))
            memo[id(op)] = new
            new.__dict__.update(copy.deepcopy(op.__dict__, memo))
            _rebind_closures(new, memo)
    except Exception as exc:  # noqa: BLE001
        raise EditError(f"Operation '{op.name}' ({type(op).__name__}) cannot be copied: "
                        f"{first_line(exc)}", target=op.name, cause=exc) from None
    if name is not None:
        new.name = name
    return new
