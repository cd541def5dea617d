"""What a layer class's constructor takes, read from its signature (no widgets here: the form,
the edits and the history's code all ask this module)."""
from __future__ import annotations

import functools
import inspect


@functools.lru_cache(maxsize=None)
def init_parameters(cls):
    """``cls.__init__``'s parameters (``inspect.Signature.parameters``, ``self`` included), read
    once per class: a model repeats a few classes hundreds of times, and reading a signature
    costs about a millisecond."""
    return inspect.signature(cls.__init__).parameters


def constructor_params(cls):
    """``[(name, default)]`` of ``cls.__init__`` (``inspect.Parameter.empty`` when required),
    without ``self`` and ``*args``/``**kwargs``."""
    params = init_parameters(cls)
    return [(k, p.default) for k, p in params.items()
            if k != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def valid_config_keys(layer):
    """The keys ``edit_layer`` accepts for ``layer``: its config's and its constructor's. A
    ``get_config`` that fails (not implemented, or broken) leaves the constructor's."""
    keys = set()
    try:
        keys |= set(layer.get_config())
    except Exception:  # noqa: BLE001 - NotImplementedError, or a get_config that fails
        pass
    return keys | {k for k, _ in constructor_params(type(layer))}
