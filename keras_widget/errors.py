"""The one exception the public API raises, and how a foreign exception becomes its sentence.

``EditError`` carries a sentence for the person (naming the target, the layer and the shapes) and
always the original exception as ``.cause`` when there is one. By default the traceback the person
sees stops at the public function (no raw Keras traceback). The debugging switch shows the whole
chain instead: set the environment variable ``KERAS_WIDGET_DEBUG=1`` or call
``keras_widget.debug(True)``; then every ``EditError`` is raised ``from`` its cause, with the
frames inside this package kept.
"""
from __future__ import annotations

import os
import re

_DEBUG = [None]  # None: follow the environment variable


class EditError(ValueError):
    """An edit that cannot give a valid model.

    Raised before anything is built for real: the source model is untouched and no new model is
    returned. The message names the target, the layer where the edit fails and the shapes
    involved. The exception behind it, if any (a Keras error, one raised by a layer's own code),
    is kept in ``.cause``; it is chained (shown) only in debug mode (:func:`debug`).
    """

    def __init__(self, message, *, target=None, layer=None, cause=None):
        super().__init__(message)
        self.target = target
        self.layer = layer
        self.cause = cause

    def reworded(self, message, **changes):
        """The same error with another sentence (e.g. prefixed by the edit); the cause stays."""
        fields = dict(target=self.target, layer=self.layer, cause=self.cause)
        fields.update({k: v for k, v in changes.items() if v is not None})
        return EditError(message, **fields)


def debug(on=True):
    """Show the full exception chain of every ``EditError`` (``True``), or only its sentence
    (``False``, the default unless ``KERAS_WIDGET_DEBUG=1`` is set). Returns the previous state."""
    before = debugging()
    _DEBUG[0] = bool(on)
    return before


def debugging():
    """Whether the full exception chain is shown (see :func:`debug`)."""
    if _DEBUG[0] is not None:
        return _DEBUG[0]
    return os.environ.get("KERAS_WIDGET_DEBUG", "") not in ("", "0", "false", "False")


def surfaced(err):
    """``err`` ready to leave the public API: chained to its cause in debug mode, else stripped of
    this package's frames (the sentence is the message). Raise it without ``from``:
    ``raise surfaced(err)``."""
    if debugging():
        err.__cause__ = err.cause
        return err
    err.__cause__ = None
    err.__suppress_context__ = True
    return err.with_traceback(None)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc):
    """The first meaningful line of an exception message, without Keras's wrapping ("Exception
    encountered when calling ...", "Arguments received by ...") or terminal colour codes."""
    text = _ANSI.sub("", str(exc)).strip() or type(exc).__name__
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("Traceback", "Exception encountered when calling",
                                        "Error when deserializing class")):
            continue
        if line.startswith("Arguments received by"):
            break
        return line.removeprefix("Exception encountered: ")
    return text.splitlines()[0]
