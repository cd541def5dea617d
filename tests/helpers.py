"""Checks of the design's invariants, used by every test file."""
import contextlib
import os
import tempfile

import keras
import numpy as np

import keras_widget as kw
from keras_widget.edits import Edit
from keras_widget.graph import iter_layers


def weights_by_path(model):
    """{layer path: [(variable name, array), ...]} for every layer, nested models opened."""
    out = {}
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.Model):
            continue
        out[path] = [(v.name, np.array(v.numpy())) for v in layer.weights]
    return out


def snapshot(model):
    """What must not change in a source model: config, weights, layer names."""
    return {
        "config": model.get_config() if _has_config(model) else None,
        "weights": [np.array(w) for w in model.get_weights()],
        "names": [p for p, _ in iter_layers(model)],
        "outputs": len(model.outputs),
    }


def _has_config(model):
    try:
        model.get_config()
        return True
    except Exception:
        return False


def assert_unchanged(model, snap):
    """Invariant 1: the source model is unchanged (config, every weight, graph)."""
    after = snapshot(model)
    assert after["names"] == snap["names"]
    assert after["outputs"] == snap["outputs"]
    if snap["config"] is not None:
        assert after["config"] == snap["config"]
    assert len(after["weights"]) == len(snap["weights"])
    for a, b in zip(after["weights"], snap["weights"]):
        assert a.shape == b.shape and np.array_equal(a, b)


def assert_no_shared_variables(a, b):
    """Invariant 2: the two models share no variable; writing one leaves the other as it was."""
    ids_a = {id(v) for v in a.variables}
    assert not ids_a & {id(v) for v in b.variables}
    backing_a = {id(getattr(v, "_value", None)) for v in a.variables}
    assert not backing_a & {id(getattr(v, "_value", None)) for v in b.variables}


def assert_write_isolated(new, source):
    """Writing into every variable of `new` leaves `source`'s weights as they were."""
    before = [np.array(w) for w in source.get_weights()]
    saved = [np.array(v.numpy()) for v in new.weights]
    for v in new.weights:
        v.assign(np.full(v.shape, 7.0, v.dtype))
    for v in new.weights:
        v.assign_add(np.ones(v.shape, v.dtype))
    for w, b in zip(source.get_weights(), before):
        assert np.array_equal(w, b)
    for v, s in zip(new.weights, saved):
        v.assign(s)


def assert_identical(source, new, paths, new_paths=None):
    """Every variable of the layers at `paths` is bit-identical in `new` (optionally at other
    paths there, `new_paths`)."""
    src, dst = weights_by_path(source), weights_by_path(new)
    for path, new_path in zip(paths, new_paths or paths):
        assert path in src and new_path in dst, (path, new_path)
        a, b = src[path], dst[new_path]
        assert [n for n, _ in a] == [n for n, _ in b], (path, a, b)
        for (name, x), (_, y) in zip(a, b):
            assert x.shape == y.shape and np.array_equal(x, y), f"{path}/{name} differs"


def assert_report_partition(report, model):
    """Every layer of `model` is in exactly one of kept / reinitialized / added."""
    paths = [p for p, _ in iter_layers(model)]
    buckets = [set(report.kept), set(report.reinitialized), set(report.added)]
    for p in paths:
        assert sum(p in b for b in buckets) == 1, (p, report)
    assert set().union(*buckets) == set(paths)


def roundtrip(model, **load_kwargs):
    """Save to .keras and load back (invariant 7)."""
    path = os.path.join(tempfile.mkdtemp(prefix="kw_"), "m.keras")
    model.save(path)
    return keras.models.load_model(path, **load_kwargs)


def check_invariants(source, snap, result):
    """The invariants every edit keeps, on one result."""
    assert_unchanged(source, snap)
    assert_no_shared_variables(source, result.model)
    assert_report_partition(result.report, result.model)
    removed = set(result.report.removed)
    new_paths = {p for p, _ in iter_layers(result.model)}
    assert removed.isdisjoint(new_paths)
    assert removed <= {p for p, _ in iter_layers(source)}


def outputs(model, x):
    y = model(x)
    if isinstance(y, dict):
        return {k: np.asarray(v) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return np.asarray(y)


__all__ = ["kw"]


def report_fields(report):
    return (report.kept, report.reinitialized, report.added, report.removed, report.notes,
            report.config_changes, report.shape_changes, report.output_shapes)


@contextlib.contextmanager
def each_edit_dry_run_first():
    """Within it, each real edit is preceded by its dry run, whose report (or ``EditError``
    text) must equal the edit's. Yields the list of the edit kinds so checked."""
    real = Edit.apply
    checked = []

    def apply(self, model, dry_run=False, progress=None):
        if dry_run:
            return real(self, model, dry_run=True, progress=progress)
        dry = dry_error = None
        try:
            dry = real(self, model, dry_run=True)
        except kw.EditError as err:
            dry_error = err
        try:
            result = real(self, model, progress=progress)
        except kw.EditError as err:
            assert dry_error is not None, f"the dry run of {self} passed, the edit raised {err}"
            assert str(dry_error) == str(err)
            checked.append(self.kind)
            raise
        assert dry_error is None, f"the dry run of {self} raised {dry_error}, the edit passed"
        assert dry.model is None and dry.edit is self
        assert report_fields(dry.report) == report_fields(result.report), (
            self, dry.report, result.report)
        checked.append(self.kind)
        return result

    Edit.apply = apply
    try:
        yield checked
    finally:
        Edit.apply = real
