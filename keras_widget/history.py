"""The edits made in an editor: undo, redo, reset, replay on another model, and as Python code."""
from __future__ import annotations

import inspect

import keras

from .forms import constructor_params


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

    def apply(self, edit):
        """Apply ``edit`` to the current model; returns its ``EditResult``. On ``EditError``
        nothing is recorded and the current model stays."""
        result = edit.apply(self.model)
        self._done.append(result)
        self._undone.clear()
        return result

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
        """Back to the original model; the log is cleared."""
        self._done.clear()
        self._undone.clear()

    def replay(self, model):
        """Apply the same edits, in order, to another model; returns the last ``EditResult``
        (or ``None`` for an empty history). Raises ``EditError`` where an edit does not fit."""
        result = None
        for edit in self.edits:
            result = edit.apply(model)
            model = result.model
        return result

    def to_code(self, name="model"):
        """Python code that makes the same edits with the public API, starting from ``name``."""
        lines = ["import keras", "import keras_widget as kw", "",
                 f"# {name}: the model the editor was opened on"]
        for edit in self.edits:
            lines.append(edit_code(edit, name))
        return "\n".join(lines) + "\n"


def edit_code(edit, name="model"):
    """One line of code for one edit: ``model = kw.<kind>(model, ...).model``."""
    args = dict(edit.args)
    parts = []
    first = {"replace_layer": "target", "delete_layer": "target", "edit_layer": "target",
             "rename_layer": "target", "add_output": "target", "remove_output": "output",
             "inline_model": "nested", "set_input_shape": "shape",
             "insert_layer": "layer", "replace_all": "match"}.get(edit.kind)
    if first in args:
        parts.append(value_code(args.pop(first)))
    defaults = {"weights": "auto", "input": None, "batch_size": None, "after": None,
                "before": None}
    for key, value in args.items():
        if key in defaults and value == defaults[key]:
            continue
        parts.append(f"{key}={value_code(value)}")
    comment = ""
    if edit.kind == "replace_all":
        comment = "  # match and factory are your Python objects"
    return f"{name} = kw.{edit.kind}({name}, {', '.join(parts)}).model{comment}"


def value_code(value):
    if isinstance(value, keras.layers.Layer):
        return layer_code(value)
    if isinstance(value, type):
        return f"keras.layers.{value.__name__}" if _is_keras_layer(value) else value.__name__
    if callable(value):
        return getattr(value, "__name__", "factory")
    return repr(value)


def _is_keras_layer(cls):
    return cls.__module__.startswith("keras.") and getattr(keras.layers, cls.__name__, None) is cls


def layer_code(layer):
    """``keras.layers.Dense(units=128, activation='sigmoid', name='d2')``: the constructor call
    with the arguments that differ from the class defaults. A layer that cannot be written as a
    call (a ``Lambda``, a layer without config) is named in a comment instead."""
    cls = type(layer)
    prefix = "keras.layers." if _is_keras_layer(cls) else ""
    if isinstance(layer, keras.layers.Lambda):
        return f"{layer.name}_lambda  # the Lambda layer '{layer.name}' (a Python function)"
    try:
        config = layer.get_config()
    except NotImplementedError:
        return f"{layer.name}_layer  # '{layer.name}' ({cls.__name__}) has no config"
    params = dict(constructor_params(cls))
    required = [k for k, d in params.items() if d is inspect.Parameter.empty]
    try:
        defaults = cls(**{k: config[k] for k in required if k in config},
                       name="probe").get_config()
    except Exception:  # noqa: BLE001 - then every config entry is written out
        defaults = {}
    shown = [f"{key}={value!r}" for key, value in config.items()
             if key != "name" and (key in required or defaults.get(key, object()) != value)
             and not (key == "dtype" and key not in defaults)]
    shown.append(f"name={layer.name!r}")
    return f"{prefix}{cls.__name__}({', '.join(shown)})"
