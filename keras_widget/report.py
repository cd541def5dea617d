"""What an edit did to the layers and their weights, and the result an edit returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import keras


@dataclass
class EditReport:
    """What happened to every layer, keyed by layer path (``"name"`` or ``"outer/inner"``).

    Every layer of the new model (nested models and their members included; ``keras.ops``
    operations are not layers) is in exactly one of:

    - ``kept``: every variable copied bit for bit (an untouched layer without weights counts too);
    - ``reinitialized``: ``{path: reason}``, at least one variable is fresh; the reason names which
      and why (a shape that no longer fits, ``weights="reinit"``);
    - ``added``: a path that did not exist in the source (an inserted layer, a replacement with a
      new name, a renamed layer).

    ``removed`` lists the source layers that are gone. ``notes`` are sentences worth reading (a
    rename, an insert after every call of a shared layer, a save that needs ``safe_mode=False``).
    """

    kept: list = field(default_factory=list)
    reinitialized: dict = field(default_factory=dict)
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def changed(self):
        """Paths that an editor should highlight: added or reinitialized."""
        return list(self.added) + list(self.reinitialized)

    def __str__(self):
        lines = [f"EditReport: {len(self.kept)} kept, {len(self.reinitialized)} reinitialized, "
                 f"{len(self.added)} added, {len(self.removed)} removed"]
        if self.added:
            lines.append("  added: " + ", ".join(self.added))
        if self.removed:
            lines.append("  removed: " + ", ".join(self.removed))
        if self.reinitialized:
            lines.append("  reinitialized:")
            lines.extend(f"    {path}: {why}" for path, why in self.reinitialized.items())
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython shows str(), not the dataclass repr
        p.text(str(self))


@dataclass
class EditResult:
    """An edit's outcome: ``model`` (a new ``keras.Model``) and ``report`` (:class:`EditReport`).

    ``edit`` is the :class:`keras_widget.surgery.Edit` that made it (for history and code export).
    """

    model: object
    report: EditReport
    edit: object = None

    def __iter__(self):  # ``model, report = kw.replace_layer(...)``
        yield self.model
        yield self.report


def saving_notes(model):
    """Sentences about what ``model.save`` / ``keras.models.load_model`` will need.

    A ``Lambda`` around a Python function loads back only with ``safe_mode=False``; a custom layer
    class that is not registered (``@keras.saving.register_keras_serializable``) cannot be loaded
    at all until it is. The edit itself never needed either: layers are copied as live objects.
    """
    from .graph import is_keras_class, iter_layers

    lambdas, functions, unsavable, unregistered = [], [], [], {}
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.layers.Lambda):
            fn = layer.function
            try:
                layer.get_config()
            except Exception:  # noqa: BLE001 - Keras cannot write this function down at all
                unsavable.append(path)
                continue
            if getattr(fn, "__name__", "<lambda>") == "<lambda>":
                lambdas.append(path)
            elif keras.saving.get_registered_object(keras.saving.get_registered_name(fn)) is not fn:
                functions.append((path, fn.__name__))
        cls = type(layer)
        if is_keras_class(cls) or isinstance(layer, keras.Model):
            continue
        name = keras.saving.get_registered_name(cls)
        if keras.saving.get_registered_object(name) is not cls:
            unregistered.setdefault(cls.__name__, []).append(path)
    notes = []
    if unsavable:
        notes.append(f"Saving: {', '.join(repr(p) for p in unsavable)} "
                     f"{'is a Lambda' if len(unsavable) == 1 else 'are Lambdas'} whose function "
                     f"Keras cannot serialize (a functools.partial, say): model.save will fail.")
    if lambdas:
        notes.append(f"Saving: {', '.join(repr(p) for p in lambdas)} "
                     f"{'is a Lambda' if len(lambdas) == 1 else 'are Lambdas'} around Python code; "
                     "model.save works, but keras.models.load_model needs safe_mode=False to load "
                     "it back (only do that for files you trust).")
    for path, fn_name in functions:
        notes.append(f"Saving: the Lambda {path!r} calls {fn_name}(); keras.models.load_model finds "
                     f"it only if it is registered or passed in custom_objects.")
    for cls_name, paths in unregistered.items():
        notes.append(f"Saving: {cls_name} ({', '.join(repr(p) for p in paths)}) is not "
                     f"serializable: register it with @keras.saving.register_keras_serializable() "
                     f"before saving, or the model cannot be loaded again.")
    return notes
