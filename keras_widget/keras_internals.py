"""Every private Keras name this package uses, in one place.

Keras's public API does not say which call site of a layer a node is, which tensors a functional
model was built from, or how to create a variable without a value; the rebuild needs all three.
Each use of a private name is a small function here, so that a Keras upgrade is one file to read.
Nothing outside this module writes ``keras.src``, ``_inbound_nodes``, ``_keras_history`` & co.

Checked against Keras 3.15.1 (TensorFlow backend), the version pinned in ``pyproject.toml``;
the private names below are the same in Keras 3.8 to 3.15.
"""
from __future__ import annotations

import contextlib

import keras
from keras.src.backend.common import global_state
from keras.src.backend.common.masking import get_keras_mask
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.variables import Variable as _Variable
from keras.src.models.functional import Functional, functional_like_constructor
from keras.src.ops.node import Node
from keras.src.saving import serialization_lib as _serialization
from keras.src.utils.tracking import DotNotTrackScope

CHECKED_WITH = ("3.15.1",)
KERAS_LAYERS_MODULE = "keras.src.layers."  # where Keras's own layer classes live

__all__ = ["CHECKED_WITH", "DotNotTrackScope", "Functional", "KERAS_LAYERS_MODULE",
           "functional_like_constructor"]


# -- the graph of a functional model ----------------------------------------------------------

def producer(tensor):
    """The operation whose call made ``tensor`` (a KerasTensor)."""
    return tensor._keras_history.operation


def inbound_nodes(op):
    """The calls (Keras ``Node``) of ``op``, in call order, across every graph it is used in."""
    return op._inbound_nodes


def call_history_attributes(op):
    """The list objects holding ``op``'s calls (a copy of ``op`` must start with empty ones)."""
    return [op._inbound_nodes, op._outbound_nodes]


def nodes_by_depth(functional):
    """``{depth: [Node]}`` of a functional model (Keras's own topological levels)."""
    return functional._nodes_by_depth


def inputs_struct(functional):
    """The structure (list, dict, single tensor) the model's inputs were given in."""
    return functional._inputs_struct


def outputs_struct(functional):
    """The structure (list, dict, single tensor) the model's outputs were given in."""
    return functional._outputs_struct


def same_specs(tensors, like):
    """Whether the KerasTensors ``tensors`` have the shapes and dtypes of ``like``, one for one,
    and no mask is attached to any of them."""
    return len(tensors) == len(like) and all(
        tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype and a.sparse == b.sparse
        and not a.ragged and not b.ragged and get_keras_mask(a) is None
        and get_keras_mask(b) is None for a, b in zip(tensors, like))


def repeat_call(new, source, node, args, kwargs):
    """Record a call of ``new``, a fresh copy of the layer ``source`` of the same class, on
    ``args`` / ``kwargs`` (the call site ``node``'s arguments with new tensors), and return its
    output tensors (flat, as ``node.outputs``) -- what ``new(*args, **kwargs)`` gives, without
    tracing the layer's computation again (the largest part of a symbolic call's time).
    The copy is built as loading a saved model builds it (``build_from_config`` with the
    source's build config) and the outputs have the source's own specs. That holds when the new
    tensors have the specs the source's call read (:func:`same_specs`), the source was built
    with Keras's default build bookkeeping and the copy was not called yet (a copy its
    constructor built, an ``Activation``, is recorded as it is). Returns ``None`` otherwise (a
    model, a ``keras.ops`` operation, a new shape, a shared layer's later call): call the layer
    then.
    """
    cls = type(source)
    if (not isinstance(source, keras.layers.Layer) or isinstance(source, keras.Model)
            or type(new) is not cls
            or cls.get_build_config is not keras.layers.Layer.get_build_config
            or cls.build_from_config is not keras.layers.Layer.build_from_config
            or not source.built
            or not plain(node.outputs)):
        return None
    if not same_specs([t for t in keras.tree.flatten((args, kwargs))
                       if isinstance(t, keras.KerasTensor)], node.input_tensors):
        return None
    if new._inbound_nodes:
        return None
    if not new.built:  # (some layers are built by their constructor: an Activation)
        config = source.get_build_config()
        if not config:
            return None
        new.build_from_config(config)
    outputs = _record(new, args, kwargs, node.outputs)
    new._called = True
    return outputs


def borrow_call(source, node, args, kwargs, like=None):
    """For a dry run: record a call of the *source's own* operation ``source`` on new tensors,
    with outputs of the specs of ``like`` (KerasTensors, flat; by default those of its call
    ``node``), without copying or running it; returns the outputs. This adds a call to
    ``source``: :func:`restore_calls` takes it back, and must run before the dry run returns."""
    return _record(source, args, kwargs, node.outputs if like is None else like)


def _record(op, args, kwargs, like):
    """Record a call of ``op`` on ``args`` / ``kwargs`` whose outputs have the specs of the
    KerasTensors ``like``, without running it; returns the outputs (flat)."""
    outputs = [keras.KerasTensor(t.shape, dtype=t.dtype, sparse=t.sparse) for t in like]
    return Node(op, call_args=args, call_kwargs=kwargs, outputs=outputs).outputs


def plain(tensors):
    """Whether no KerasTensor of ``tensors`` is ragged or carries a mask: its spec is then all
    of what a layer's build and output shapes can depend on."""
    return all(not t.ragged and get_keras_mask(t) is None for t in tensors)


def call_counts(ops):
    """What :func:`restore_calls` needs to take back the calls later recorded on ``ops``."""
    return [(op, len(op._inbound_nodes), len(op._outbound_nodes)) for op in ops]


def restore_calls(counts):
    """Forget every call recorded on the operations since :func:`call_counts` (Keras only ever
    appends them): a dry run's borrowed calls, and its copies' calls on source tensors."""
    for op, inbound, outbound in counts:
        del op._inbound_nodes[inbound:]
        del op._outbound_nodes[outbound:]


def sequential_graph(model):
    """The functional graph inside a built ``Sequential`` (``None`` when it is not built)."""
    return getattr(model, "_functional", None)


def sublayers(layer, include_self=False, recursive=True):
    """The layers ``layer`` holds (attributes, lists, dicts), as Keras tracks them."""
    return layer._flatten_layers(include_self=include_self, recursive=recursive)


def retarget_tracker(obj):
    """After a copy: point ``obj``'s attribute tracker at the copied objects' ids."""
    tracker = getattr(obj, "_tracker", None)
    if tracker is not None:
        tracker.stored_ids = {name: {id(x) for x in store}
                              for name, (_, store) in tracker.config.items()}


def snake_case(class_name):
    """The name Keras gives a layer of that class (``"Conv2D"`` -> ``"conv2d"``)."""
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(class_name)


# -- variables without values (the dry run) ----------------------------------------------------

def deferred_supported():
    """Whether this Keras can create a variable now and give it its value later."""
    return all(hasattr(_Variable, a) for a in ("_deferred_initialize", "_initialize"))


def pending_variables():
    """Variables made in a ``StatelessScope(initialize_variables=False)``, still without value."""
    return global_state.get_global_attribute("uninitialized_variables", []) or []


def forget_pending(ids):
    """Drop the variables with these ids from Keras's list of variables awaiting a value."""
    global_state.set_global_attribute(
        "uninitialized_variables", [v for v in pending_variables() if id(v) not in ids])


def initialize_from_initializer(variable):
    variable._deferred_initialize()


def initialize_with(variable, value):
    """Give a deferred variable ``value`` (its initializer never runs)."""
    variable._initialize(value)
    variable._initializer = None


@contextlib.contextmanager
def unfiltered_tracebacks():
    """Keras's tracebacks with every frame (public switch, restored afterwards), so that
    :func:`refused_in_stateless_scope` can see where an exception was raised."""
    was = keras.config.is_traceback_filtering_enabled()
    keras.config.disable_traceback_filtering()
    try:
        yield
    finally:
        if was:
            keras.config.enable_traceback_filtering()


_VARIABLE_CODE = {f.__code__ for f in vars(_Variable).values() if callable(f)
                  and hasattr(f, "__code__")}


def refused_in_stateless_scope(exc):
    """Whether ``exc`` is Keras refusing to make a variable from a value (not an initializer)
    while variables are deferred; a stateful RNN's states do that. Decided by where it was raised
    (Keras's ``Variable`` itself), not by its wording; needs :func:`unfiltered_tracebacks`."""
    if not in_stateless_scope():
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code in _VARIABLE_CODE


# -- saving --------------------------------------------------------------------------------------

def found_on_load(cls):
    """Whether ``keras.models.load_model`` (safe mode, no ``custom_objects``) finds ``cls`` again
    from what ``model.save`` writes for it: asked of Keras's own lookup (the registry, then its
    public API, then the importable module for keras / keras_hub / keras_cv / keras_nlp)."""
    public = _serialization.serialize_with_public_class(cls, {})
    if public is not None:
        module, name, registered = public["module"], public["class_name"], public["registered_name"]
    else:
        module, name = cls.__module__, cls.__name__
        registered = keras.saving.get_registered_name(cls)
    if module == "__main__":
        module = None  # what Keras writes for a class defined in a script or notebook
    config = {"module": module, "class_name": name, "config": {}, "registered_name": registered}
    try:
        found = _serialization._retrieve_class_or_fn(name, registered, module, obj_type="class",
                                                    full_config=config, custom_objects={})
    except (TypeError, ValueError, ImportError, AttributeError):
        return False  # Keras's own "could not locate": the answer, not a failure
    return found is cls
