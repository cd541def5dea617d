"""Fill the new model's variables from the source by layer path, variable name and shape.

The new graph is built inside a ``keras.StatelessScope`` that leaves variables uninitialized (no
memory, no initializer run): that build is the dry run. Only when it succeeds is each variable
given its value: the matched source value (a copy), or its initializer's value when nothing fits.
So weights that are copied are never randomly initialized first, and a failed edit allocates
nothing.

Matching never uses positions in ``get_weights()``: a variable is found in its donor layer by its
name and its rank among the donor's variables of that name (``kernel`` #0, ``bias`` #0, ...), and
is copied only if the shapes are equal.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field

import keras

from . import keras_internals as ki
from .errors import EditError, first_line

POLICIES = ("auto", "reinit", "keep")


def check_policy(weights):
    if weights not in POLICIES:
        raise EditError(f"weights= must be one of {', '.join(map(repr, POLICIES))}; "
                        f"got {weights!r}.")
    return weights


DEFERRED = ki.deferred_supported()


class DeferredVariables:
    """Context in which new variables are created without values, filled in later by :meth:`fill`.

    With ``enabled=False`` (or where this Keras lacks the hooks) variables are ordinary, already
    initialized ones, and :meth:`fill` assigns instead. That is needed when a layer creates a
    variable from a value while it is called (a stateful RNN's states).
    """

    def __init__(self, enabled=True):
        self.enabled = enabled and DEFERRED
        self.created = []
        self._scope = None
        self._before = set()

    def __enter__(self):
        if self.enabled:
            self._before = {id(v) for v in _pending()}
            self._scope = keras.StatelessScope(initialize_variables=False)
            self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        if self._scope is not None:
            self._scope.__exit__(*exc)
            self.created = [v for v in _pending() if id(v) not in self._before]
        return False

    def discard(self):
        """Forget the variables made here (a failed edit): they will never be initialized."""
        ki.forget_pending({id(v) for v in self.created})
        self.created = []

    def fill(self, values, wanted, progress=None):
        """Give each created variable in ``wanted`` (a set of ids) its value, forget the rest;
        ``progress()`` (no argument) is called after each one.

        ``values`` maps ``id(new variable)`` to ``(new variable, source variable)`` (what
        :func:`match` returns); variables not in it get their initializer's value. Without
        deferred variables, the copies are assigned instead.
        """
        if not self.enabled:
            for target, source in values.values():
                target.assign(_value_for(target, source))
            return
        created_ids = set()
        for v in self.created:
            created_ids.add(id(v))
            if id(v) not in wanted:
                continue
            entry = values.get(id(v))
            try:
                if entry is None:
                    ki.initialize_from_initializer(v)
                else:
                    ki.initialize_with(v, _value_for(v, entry[1]))
            except Exception as exc:  # noqa: BLE001 - too big to make, out of memory
                self.discard()
                raise EditError(f"The variable {v.path} of shape {tuple(v.shape)} cannot be "
                                f"created: {first_line(exc)}", cause=exc) from None
            if progress is not None:
                progress()
        for target, source in values.values():
            # Variables that exist already (live copies) hold the source values; assign anyway so
            # that a donor other than the copied object wins.
            if id(target) not in created_ids:
                target.assign(_value_for(target, source))
        self.discard()


def _pending():
    return ki.pending_variables()


def _value_for(target, source):
    value = keras.ops.convert_to_tensor(source)
    if keras.backend.standardize_dtype(value.dtype) != target.dtype:
        value = keras.ops.cast(value, target.dtype)
    return value


_AUTO_NAME = re.compile(r"variable(_\d+)?")


def _keyed(variables):
    """``{(name, rank): variable}``, rank counting earlier variables of the same name.

    A variable made without a name gets one from a global counter (``variable_12``), which a
    copy cannot have: such names count as ``variable``."""
    seen, out = {}, {}
    for v in variables:
        name = "variable" if _AUTO_NAME.fullmatch(v.name) else v.name
        rank = seen.get(name, 0)
        seen[name] = rank + 1
        out[(name, rank)] = v
    return out


@dataclass
class Assignment:
    """Where one layer of the new model takes its weights from.

    ``donors``: layers of the *source* model whose variables may be copied (the layer itself, or
    the layer a replacement or edit stands in for); only their values are ever reported kept.
    ``own``: the layer the person gave, when it came built: its values fill what no donor fits
    (reported, since they are not the source's). ``policy``: ``"auto"``, ``"reinit"`` or
    ``"keep"``. ``target``: the edit's target, for the message of a refused ``"keep"``.
    """

    path: str
    layer: object
    donors: list
    policy: str = "auto"
    target: str | None = None
    own: object = None
    reasons: list = field(default_factory=list)


def match(assignment):
    """``{id(new variable): (new variable, source variable)}`` for every variable that fits.

    Records, in ``assignment.reasons``, one sentence per variable that stays fresh. Under
    ``policy="keep"``, raises ``EditError`` when a variable of the layer being replaced (the last
    donor) does not fit its counterpart or has none in the new layer.
    """
    out = {}
    new_vars = assignment.layer.weights
    donor_maps = [_keyed(d.weights) for d in assignment.donors]
    own = _keyed(assignment.own.weights) if assignment.own is not None else {}
    for key, v in _keyed(new_vars).items():
        found = None
        mismatch = None
        for dm in donor_maps:
            src = dm.get(key)
            if src is None:
                continue
            if tuple(src.shape) == tuple(v.shape):
                found = src
                break
            mismatch = mismatch or src
        if found is not None:
            out[id(v)] = (v, found)
            continue
        mine = own.get(key)
        if mine is not None and tuple(mine.shape) == tuple(v.shape) and \
                not (assignment.policy == "keep" and mismatch is not None):
            out[id(v)] = (v, mine)
            why = ("the source's does not fit" if mismatch is not None else
                   "weights='reinit'" if assignment.policy == "reinit" else
                   f"the source layer has no variable '{v.name}'" if assignment.donors else
                   "it is a new layer")
            assignment.reasons.append(f"{v.name} {tuple(v.shape)} holds the value the new layer "
                                      f"came built with ({why})")
            continue
        if mismatch is not None:
            why = (f"{v.name} {tuple(v.shape)} is new: the source {mismatch.name} "
                   f"{tuple(mismatch.shape)} does not fit")
        elif assignment.policy == "reinit":
            why = f"{v.name} {tuple(v.shape)} is new: weights='reinit'"
        elif assignment.donors:
            why = f"{v.name} {tuple(v.shape)} is new: the source layer has no variable '{v.name}'"
        else:
            why = f"{v.name} {tuple(v.shape)} is new"
        if assignment.policy == "keep" and mismatch is not None:
            raise EditError(
                f"weights='keep' cannot be met for '{assignment.target or assignment.path}': "
                f"layer '{assignment.path}' {v.name} does not fit: {tuple(mismatch.shape)} "
                f"against {tuple(v.shape)}.", target=assignment.target, layer=assignment.path)
        assignment.reasons.append(why)
    if assignment.policy == "keep" and assignment.donors:
        # Keep means: every variable of the layer being replaced or edited lives on.
        used = {id(src) for _, src in out.values()}
        lost = [v for v in assignment.donors[-1].weights if id(v) not in used]
        if lost:
            shown = ", ".join(f"{v.name} {tuple(v.shape)}" for v in lost)
            raise EditError(
                f"weights='keep' cannot be met for '{assignment.target or assignment.path}': "
                f"the new layer '{assignment.path}' has no place for {shown}.",
                target=assignment.target, layer=assignment.path)
    return out


def finish(assignment):
    """What a layer needs once its variables hold their values: the state it derives from them
    (``finalize_state``: a ``Normalization`` layer's mean and variance tensors), and what it keeps
    outside its variables (the vocabulary of an adapted ``StringLookup``, ``IntegerLookup`` or
    ``TextVectorization``), copied from its donor of the same class through Keras's own
    ``save_assets`` / ``load_assets``. A vocabulary that cannot be copied is recorded as a reason,
    like a variable that did not fit."""
    new = assignment.layer
    donor = next((d for d in reversed(assignment.donors) if type(d) is type(new)), None)
    if donor is not None and hasattr(donor, "save_assets"):
        try:
            with tempfile.TemporaryDirectory(prefix="keras_widget_assets_") as path:
                donor.save_assets(path)
                new.load_assets(path)
        except Exception as exc:  # noqa: BLE001 - said in the report instead
            assignment.reasons.append(f"its vocabulary could not be copied ({exc})")
    for layer in ki.sublayers(new, include_self=True):
        # Keras's hook for state derived from variables, run after adapt() and after loading.
        if callable(getattr(layer, "finalize_state", None)):
            layer.finalize_state()
