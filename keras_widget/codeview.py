"""The editor's Code view: the current model as functional-API source (:func:`to_code`), with
the lines the last edit changed highlighted and a Copy button (in the browser)."""
from __future__ import annotations

import difflib
import pathlib

import anywidget
import traitlets

from .codegen import to_code


def changed_lines(before, after):
    """Indices (from 0) of the lines of ``after`` that are new or different from ``before``."""
    a, b = before.splitlines(), after.splitlines()
    out = []
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            out.extend(range(j1, j2))
    return out


class CodeView(anywidget.AnyWidget):
    """``code``: the source of the model last shown; ``changed``: the lines of it that differ
    from the source shown before (none at first)."""

    _esm = pathlib.Path(__file__).parent / "static" / "codeview.js"
    code = traitlets.Unicode("").tag(sync=True)
    changed = traitlets.List(traitlets.Int()).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._later = None  # (model, name) that show(later=True) left for fill()

    def show(self, model, name="model", later=False):
        """Show ``model``'s source, highlighting what differs from the source shown before.
        ``later``: only remember the model, :meth:`fill` writes its source (an editor that
        opens sends its graph first: writing the source takes up to a second)."""
        self.fill()  # a source left for later is what this one is compared with
        if later:
            self._later = (model, name)
            return
        try:
            code = to_code(model, name)
        except Exception as e:  # noqa: BLE001 - the view says so; the editor goes on
            code = f"# The source of this model cannot be written: {type(e).__name__}: {e}\n"
        self.changed = changed_lines(self.code, code) if self.code else []
        self.code = code

    def fill(self):
        """Write the source that :meth:`show` left for later (nothing when none waits)."""
        if self._later is not None:
            model, name = self._later
            self._later = None
            self.show(model, name)
