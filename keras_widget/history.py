"""The edits made in an editor: undo, redo, reset, replay on another model, preview (a dry run),
and the edits as Python code (each edit's record says how its call is written; this module writes
the values). Nothing here imports ipywidgets."""
from __future__ import annotations

import inspect

import keras
import numpy as np

from .graph import is_keras_class
from .report import EditReport, EditResult
from .signature import constructor_params


class History:
    """The list of :class:`keras_widget.edits.Edit` applied to ``original``, with their results.

    ``model`` is the current model (``original`` when nothing is applied). Undo and redo move
    along the list without rebuilding anything; applying an edit after an undo drops the undone
    ones. Iterating gives the applied edits, oldest first.
    """

    def __init__(self, original):
        self.original = original
        self._done = []  # [EditResult], each with its .edit
        self._undone = []

    @property
    def model(self):
        return self._done[-1].model if self._done else self.original

    @property
    def last(self):
        """The :class:`EditResult` of the last applied edit, or ``None``."""
        return self._done[-1] if self._done else None

    @property
    def edits(self):
        return [r.edit for r in self._done]

    @property
    def can_redo(self):
        return bool(self._undone)

    def __iter__(self):
        return iter(self.edits)

    def __len__(self):
        return len(self._done)

    def apply(self, edit, progress=None):
        """Apply ``edit`` to the current model; returns its ``EditResult``. On ``EditError``
        nothing is recorded and the current model stays. ``progress(done, total)`` is called as
        the rebuild goes."""
        result = edit.apply(self.model, progress=progress)
        self._done.append(result)
        self._undone.clear()
        return result

    def preview(self, edit):
        """The :class:`EditReport` ``edit`` would give on the current model (a dry run: nothing
        is built or recorded). Raises the ``EditError`` the edit would raise."""
        return edit.preview(self.model)

    def undo(self):
        """Step back one edit; ``False`` if there is none."""
        if not self._done:
            return False
        self._undone.append(self._done.pop())
        return True

    def redo(self):
        """Re-apply the last undone edit (its result is kept, nothing is rebuilt)."""
        if not self._undone:
            return False
        self._done.append(self._undone.pop())
        return True

    def reset(self):
        """Back to the original model, as a step of its own (:data:`RESET`): undo takes it
        back. ``False`` (and nothing recorded) when the current model is the original."""
        if self.model is self.original:
            return False
        self._done.append(EditResult(self.original, EditReport(notes=[
            "Back to the model the editor was opened on; Undo takes you back."]), RESET))
        self._undone.clear()
        return True

    def go_to(self, step):
        """Undo or redo until ``step`` edits are applied (0: the original model, as it was
        opened); ``step`` counts the applied edits and the undone ones after them, as
        :meth:`steps` lists them. Raises ``IndexError`` outside that range."""
        if not 0 <= step <= len(self._done) + len(self._undone):
            raise IndexError(f"There is no step {step}: the history has "
                             f"{len(self._done) + len(self._undone)}.")
        while len(self._done) > step:
            self.undo()
        while len(self._done) < step:
            self.redo()

    def steps(self):
        """``[(step, text)]``: 0 and the original model, then every applied edit, then the
        undone ones (which redo would apply again), each as its call (``edit_layer('d2',
        units=128)``)."""
        out = [(0, "original model")]
        for k, result in enumerate(self._done + self._undone[::-1], start=1):
            undone = " (undone)" if k > len(self._done) else ""
            out.append((k, describe(result.edit) + undone))
        return out

    def replay(self, model):
        """Apply the same edits, in order, to another model; returns the last ``EditResult``
        (or ``None`` for an empty history). A reset goes back to ``model``. Raises
        ``EditError`` where an edit does not fit."""
        start, result = model, None
        for edit in self.edits:
            if edit is RESET:
                model, result = start, EditResult(start, EditReport(), RESET)
                continue
            result = edit.apply(model)
            model = result.model
        return result

    def to_code(self, name="model"):
        """Python code that makes the same edits with the public API, starting from ``name``."""
        lines = ["import keras", "import keras_widget as kw", "",
                 f"# {name}: the model the editor was opened on"]
        if RESET in self.edits:
            lines.append(f"original = {name}")
        for edit in self.edits:
            lines.append(f"{name} = original  # Reset" if edit is RESET else edit_code(edit, name))
        return "\n".join(lines) + "\n"


class _Reset:
    """The step a reset records in the history: back to the original model."""

    kind = "reset"
    args = {}

    def __repr__(self):
        return "RESET"


RESET = _Reset()


def describe(edit):
    """One line for an edit in the history list: its call without the model,
    ``edit_layer('d2', units=128)``."""
    if edit is RESET:
        return "reset to the original model"
    code = edit_code(edit, "model")
    if code.startswith("#"):  # made with Python objects that code cannot restate
        return f"{edit.kind}(…)"
    return code.split("\n")[0].removeprefix("model = kw.").removesuffix(".model").replace(
        "(model, ", "(", 1)


class Unwritable(Exception):
    """A value that Python code cannot restate: a Python function, a ``Lambda`` layer."""


def edit_code(edit, name="model"):
    """Code for one edit: ``model = kw.<kind>(model, ...).model``. An edit made with Python
    functions or ``Lambda`` layers cannot be restated: it becomes a comment that says so."""
    try:
        parts = [value_code(value) if key is None else f"{key}={value_code(value)}"
                 for key, value in edit.record.code_arguments(edit.args)]
    except Unwritable as why:
        return (f"# Here you made a {edit.kind} edit with Python objects that code cannot "
                f"restate ({why}).\n# Make it again yourself at this point; the lines below "
                f"assume it.")
    lines = [f"{name} = kw.{edit.kind}({name}, {', '.join(parts)}).model"]
    for value in edit.args.values():
        if isinstance(value, keras.layers.Layer) and value.built and value.weights:
            lines.append(f"# '{value.name}' came with weights of its own; this line makes it "
                         f"without them.")
    return "\n".join(lines)


def value_code(value):
    """Python source for an edit argument. Raises :class:`Unwritable` when there is none."""
    if isinstance(value, keras.layers.Layer):
        return layer_code(value)
    if isinstance(value, type):
        return f"keras.layers.{value.__name__}" if _is_keras_layer(value) else value.__name__
    if isinstance(value, tuple) and value and all(isinstance(v, type) for v in value):
        return "(" + ", ".join(value_code(v) for v in value) + ",)"
    try:
        return repr(_plain(value))
    except Unwritable:
        pass
    if callable(value) and not getattr(value, "__module__", "").startswith("keras"):
        raise Unwritable(getattr(value, "__name__", type(value).__name__))
    try:  # a Keras object (regularizer, initializer, activation): its serialized form
        return repr(_plain(keras.saving.serialize_keras_object(value)))
    except Exception:  # noqa: BLE001
        raise Unwritable(type(value).__name__) from None


def _plain(value):
    """``value`` as Python literals only (numpy scalars become Python numbers)."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float too
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    raise Unwritable(type(value).__name__)


def _is_keras_layer(cls):
    return is_keras_class(cls) and getattr(keras.layers, cls.__name__, None) is cls


def layer_code(layer):
    """``keras.layers.Dense(units=128, activation='sigmoid', name='d2')``: the constructor call
    with the arguments that differ from the class defaults, checked by building it and comparing
    configs (a pooling layer's strides default to its pool size). Where no such call rebuilds the
    layer, Keras's own serialized form: ``keras.layers.deserialize({...})``.
    Raises :class:`Unwritable` for a ``Lambda`` or a layer without a config."""
    cls = type(layer)
    if isinstance(layer, keras.layers.Lambda):
        raise Unwritable(f"the Lambda layer '{layer.name}'")
    try:
        config = layer.get_config()
    except Exception:  # noqa: BLE001
        raise Unwritable(f"'{layer.name}', a {cls.__name__} without a config") from None
    kwargs = _call_kwargs(cls, config)
    if kwargs is not None:
        prefix = "keras.layers." if _is_keras_layer(cls) else ""
        shown = [f"{k}={v!r}" for k, v in _plain(kwargs).items() if k != "name"]
        return f"{prefix}{cls.__name__}({', '.join(shown + [f'name={layer.name!r}'])})"
    if not is_keras_class(cls):
        raise Unwritable(f"'{layer.name}', a {cls.__name__} its constructor cannot rebuild")
    return f"keras.layers.deserialize({_plain(keras.saving.serialize_keras_object(layer))!r})"


def _call_kwargs(cls, config):
    """The fewest config entries that make ``cls(**entries)`` give ``config`` again, or None."""
    params = dict(constructor_params(cls))
    required = [k for k, d in params.items() if d is inspect.Parameter.empty]
    name = {"name": config["name"]} if "name" in config else {}
    try:
        _plain(config)
        defaults = cls(**{k: config[k] for k in required if k in config}, **name).get_config()
    except Exception:  # noqa: BLE001 - not constructible from plain values
        return None
    kwargs = {k: v for k, v in config.items()
              if k in required or (k != "name" and defaults.get(k, object()) != v)}
    for _ in range(2):  # an entry whose default follows another one: add it, check again
        try:
            again = cls(**kwargs, **name).get_config()
        except Exception:  # noqa: BLE001
            return None
        differ = {k for k in config if again.get(k, object()) != config[k]}
        if not differ:
            return kwargs
        kwargs.update({k: config[k] for k in differ})
    return None
