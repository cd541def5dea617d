"""Save a model to a ``.keras`` file and prove it loads back: what the editor's Save does.

Keras does the saving and the loading (``model.save``, ``keras.models.load_model`` in safe mode);
this module only feeds both models the same random input and says, in a sentence, what stops a
model from being saved or loaded and how to fix it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import keras
import numpy as np

from .errors import EditError, first_line
from .report import saving_notes


@dataclass
class SaveCheck:
    """A save that loaded back: ``path`` of the ``.keras`` file, ``size`` in bytes, and the
    largest absolute difference between the outputs of the model and of the loaded copy on the
    same random input (``max_difference``, over every output)."""

    path: str
    size: int
    max_difference: float

    def __str__(self):
        return (f"Saved to {self.path} ({self.size / 2**20:.1f} MB); loaded back with "
                f"keras.models.load_model: outputs on a random batch differ by at most "
                f"{self.max_difference:.3g}.")


def random_inputs(model, batch=2, seed=0):
    """One random batch for ``model``'s inputs, in the structure ``model`` takes them.

    Float inputs get standard normal values; integer inputs (token ids) get zeros and ones, which
    every embedding accepts; string inputs get ``"a"``. A ``None`` axis other than the batch axis
    gets 8. Returns a single array, or a list or dict of arrays like ``model.inputs``.
    """
    rng = np.random.default_rng(seed)

    def one(tensor):
        shape = [batch] + [8 if d is None else d for d in tensor.shape[1:]]
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype == "string":
            return np.full(shape, "a", dtype=object)
        if "int" in dtype or dtype == "bool":
            return rng.integers(0, 2, size=shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)

    return keras.tree.map_structure(one, model.input)  # a functional model's input structure


def save_and_check(model, path=None, atol=1e-5):
    """Save ``model`` to ``path`` (a ``.keras`` file; a temporary one when ``None``), load it back
    with ``keras.models.load_model`` in safe mode and compare both models' outputs on one random
    batch (:func:`random_inputs`).

    Returns a :class:`SaveCheck`. Raises :class:`EditError`, with what stops it and how to fix it,
    when Keras cannot save the model, cannot load it back (an unregistered custom class, a Python
    ``lambda`` that safe mode refuses), or when the outputs differ by more than ``atol``. The model
    itself is never changed, and safe mode is never switched off.
    """
    if path is None:
        path = os.path.join(tempfile.mkdtemp(prefix="keras_widget_"), f"{model.name}.keras")
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise EditError(f"Save writes a .keras file; {path!r} does not end with '.keras'.")
    hints = " ".join(n.removeprefix("Saving: ") for n in saving_notes(model))
    try:
        model.save(path)
    except Exception as exc:  # noqa: BLE001 - Keras's reason, said as a sentence
        raise EditError(f"Keras cannot save model '{model.name}': {first_line(exc)}"
                        + (f" {hints}" if hints else ""), cause=exc) from None
    try:
        loaded = keras.models.load_model(path)
    except Exception as exc:  # noqa: BLE001
        raise EditError(f"Model '{model.name}' was saved to {path}, but keras.models.load_model "
                        f"cannot load it back: {first_line(exc)}" + (f" {hints}" if hints else ""),
                        cause=exc) from None
    batch = random_inputs(model)
    try:
        expected = keras.tree.flatten(model(batch, training=False))
        got = keras.tree.flatten(loaded(batch, training=False))
    except Exception as exc:  # noqa: BLE001
        raise EditError(f"Model '{model.name}' was saved to {path} and loaded back, but calling "
                        f"it on a random batch failed: {first_line(exc)}", cause=exc) from None
    diffs = [float(np.max(np.abs(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"))))
             if np.size(a) else 0.0 for a, b in zip(expected, got)]
    worst = max(diffs, default=0.0)
    if worst > atol:
        which = diffs.index(worst)
        raise EditError(f"Model '{model.name}' was saved to {path} and loaded back, but output "
                        f"{which} differs by {worst:.3g} (more than {atol:g}) on the same random "
                        f"batch: a layer does not save all of its state.")
    return SaveCheck(path=path, size=os.path.getsize(path), max_difference=worst)
