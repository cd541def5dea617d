"""What an edit did: the report (:class:`EditReport`, and :func:`make_report` that builds it from
a rebuild) and the result an edit returns (:class:`EditResult`)."""
from __future__ import annotations

import collections

from dataclasses import dataclass, field

import keras
from keras import tree

from . import graph as g
from . import keras_internals as ki


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

    A variable counts as kept only if its value was copied from the source: a replacement that
    came built and keeps some of its own values is ``reinitialized`` (the reason says which).

    ``config_changes``: ``{path: {key: (old, new)}}`` for every replaced, edited or renamed layer
    (a replacement of another class has the key ``"class"``). ``shape_changes``: ``{name: (old
    shape, new shape)}`` for every model input or output whose shape changed (shapes with the
    batch axis; ``None`` for an output that was added or removed). ``str()`` leads with both.

    ``output_shapes``: ``{path: (shape before, shape now)}`` of the tensor where the edit acts,
    what the layers after it read: a replaced, edited or renamed layer's output; an inserted
    layer's output, and what was read there before it; for a deleted layer, its output and what
    its consumers read now (its input). A layer called several times has one entry per call,
    ``"path#k"``. Shapes with the batch axis; a list of shapes for several outputs. ``str()``
    shows them next, one line each.
    """

    kept: list = field(default_factory=list)
    reinitialized: dict = field(default_factory=dict)
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    config_changes: dict = field(default_factory=dict)
    shape_changes: dict = field(default_factory=dict)
    output_shapes: dict = field(default_factory=dict)

    @property
    def changed(self):
        """Paths that an editor should highlight: added or reinitialized."""
        return list(self.added) + list(self.reinitialized)

    def __str__(self):
        lines = [f"EditReport: {len(self.kept)} kept, {len(self.reinitialized)} reinitialized, "
                 f"{len(self.added)} added, {len(self.removed)} removed"]
        for path, changes in self.config_changes.items():
            shown = "; ".join(f"{k} {_short(a)} -> {_short(b)}" for k, (a, b) in changes.items())
            lines.append(f"  config of {path}: {shown}")
        for name, (a, b) in self.shape_changes.items():
            lines.append(f"  shape of {name}: {a} -> {b}" if a is not None and b is not None else
                         f"  output {name}: {b} added" if a is None else
                         f"  output {name}: {a} removed")
        for path, (a, b) in self.output_shapes.items():
            how = (" (inserted)" if path.split("#")[0] in self.added and
                   path.split("#")[0] not in self.config_changes else
                   " (deleted)" if path in self.removed and path not in self.config_changes
                   else "")
            lines.append(f"  {path}{how}: output {a} -> {b}" if a != b else
                         f"  {path}{how}: output {a}, unchanged")
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
    class that Keras's own deserialization does not find (not registered with
    ``@keras.saving.register_keras_serializable``, nor found by its module as Keras finds
    keras_hub's classes) cannot be loaded at all until it is. The edit itself never needed either: layers are copied as live objects.
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
        # What load_model will do, asked of Keras itself: it also finds classes by module path
        # (keras_hub, keras_cv, keras_nlp), not only in the registry.
        if not ki.found_on_load(cls):
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


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def make_report(source, new, assignments, notes=(), edited=(), outputs_at=()):
    """Sort every layer of ``new`` into kept / reinitialized / added; list ``removed``; say what
    changed in the config of each ``(path, source op, its copy)`` in ``edited`` and in the shapes
    of the model's inputs and outputs; ``outputs_at``: ``(path, shape before, shape now)`` where
    the edit acts, in call order. ``assignments``: the rebuild's
    :class:`keras_widget.weights.Assignment` list, after matching."""
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
    for path, old, copy in edited:
        changes = config_changes(old, copy)
        if changes:
            report.config_changes.setdefault(path, {}).update(changes)
    report.shape_changes = shape_changes(source, new)
    calls = collections.Counter(path for path, _, _ in outputs_at)
    seen = {}
    for path, before, now in outputs_at:
        k = seen[path] = seen.get(path, -1) + 1
        report.output_shapes[path if calls[path] == 1 else f"{path}#{k}"] = (before, now)
    return report


def config_changes(old, new):
    """``{key: (old value, new value)}`` between two layers' configs; ``{"class": (A, B)}`` too
    when the class differs. Nested models compare by class and name only; a config that cannot be
    read compares as empty."""
    out = {}
    if type(old) is not type(new):
        out["class"] = (type(old).__name__, type(new).__name__)
    if g.is_nested_model(old) or g.is_nested_model(new):
        a, b = {"name": old.name}, {"name": new.name}
    else:
        a, b = _config(old), _config(new)
    for key in list(a) + [k for k in b if k not in a]:
        if key in a and key in b and a[key] != b[key]:
            out[key] = (a[key], b[key])
        elif type(old) is type(new) and (key in a) != (key in b):
            out[key] = (a.get(key), b.get(key))
    return out


def _config(layer):
    try:
        return dict(layer.get_config())
    except Exception:  # noqa: BLE001 - a layer without a readable config: its name at least
        return {"name": getattr(layer, "name", None)}


def _io(model):
    """``([(input name, shape)], [(output name, shape)], outputs are a dict)`` of a model."""
    fm = g.require_functional(model)
    ins = [(ki.producer(t).name, tuple(t.shape)) for t in fm.inputs]
    struct = ki.outputs_struct(fm)
    if isinstance(struct, dict):
        outs = [(str(k), tuple(t.shape)) for k, t in struct.items()]
    else:
        outs = [(ki.producer(t).name, tuple(t.shape)) for t in tree.flatten(struct)]
    return ins, outs, isinstance(struct, dict)


def shape_changes(source, new):
    """``{name: (old shape, new shape)}`` for the inputs and outputs whose shape changed. Inputs
    are matched by name (by position if renamed); outputs by dict key, by position (named after
    the source's output layer) when there are as many as before, else by output layer name; an
    output added or removed has ``None`` on one side."""
    (src_in, src_out, _), (new_in, new_out, is_dict) = _io(source), _io(new)
    out = {}
    new_by_name = dict(new_in)
    for i, (name, shape) in enumerate(src_in):
        other = new_by_name.get(name, new_in[i][1] if i < len(new_in) else None)
        if other != shape:
            out[name] = (shape, other)
    if is_dict:
        old, now = dict(src_out), dict(new_out)
        for key in list(old) + [k for k in now if k not in old]:
            if old.get(key) != now.get(key):
                out[key] = (old.get(key), now.get(key))
        return out
    if len(src_out) != len(new_out):  # an output added or removed: match by layer name
        old, now = dict(src_out), dict(new_out)
        for key in list(old) + [k for k in now if k not in old]:
            if old.get(key) != now.get(key):
                out[key] = (old.get(key), now.get(key))
        return out
    for i in range(len(src_out)):
        (name, a), (_, b) = src_out[i], new_out[i]
        if a != b:
            out[name] = (a, b)
    return out
