"""The layers a person can pick, and the form for a layer's constructor arguments.

Typed values are parsed safely: a Python literal (``128``, ``(3, 3)``, ``True``, ``None``,
``'same'``) through ``ast.literal_eval``, or a bare word (``relu``) as a string. Nothing typed is
ever evaluated as code.
"""
from __future__ import annotations

import ast
import inspect
import re

import ipywidgets as widgets
import keras

from .errors import EditError, first_line
from .graph import category_of_class
from .signature import constructor_params

# Required arguments that take objects (a layer, a cell, a function), which a text field cannot.
_OBJECT_ARGS = {"layer", "cell", "cells", "module", "call_fn", "function", "filepath", "layers"}
_EXCLUDED = {"InputLayer", "Layer", "Wrapper"}
_CATEGORY_ORDER = ["convolution", "dense", "normalization", "activation", "pooling", "merge",
                   "reshape", "recurrent", "attention", "regularization", "preprocessing", "other",
                   "custom"]
_BAREWORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _formable(cls):
    required = {k for k, d in constructor_params(cls) if d is inspect.Parameter.empty}
    return not (required & _OBJECT_ARGS)


def catalog(extra=()):
    """``{category: [layer class, ...]}`` of the ``keras.layers`` classes a form can build, plus
    ``extra`` classes under ``"custom"``. Aliases (``AvgPool2D``) appear once, under the class's
    own name; layers that need an object argument (``Bidirectional``, ``RNN``, ``Lambda``) and
    RNN cells are left out."""
    groups = {}
    seen = set()
    for name in sorted(dir(keras.layers)):
        cls = getattr(keras.layers, name)
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            continue
        if name != cls.__name__ or name in _EXCLUDED or cls in seen or "Cell" in name:
            continue
        if not _formable(cls):
            continue
        seen.add(cls)
        groups.setdefault(category_of_class(cls), []).append(cls)
    for cls in extra:
        if cls not in seen:
            seen.add(cls)
            groups.setdefault("custom", []).append(cls)
    return {c: groups[c] for c in _CATEGORY_ORDER if c in groups}


def value_text(value):
    """How a value is shown in a field: bare words for plain strings, Python literals otherwise.
    Serialized Keras objects are shown without their ``module``/``registered_name`` noise."""
    if isinstance(value, str):
        if _BAREWORD.match(value) and value not in ("True", "False", "None"):
            return value
        return repr(value)
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        value = {"class_name": value["class_name"], "config": value["config"]}
    return repr(value)


def parse_value(name, text):
    """Parse one field. Raises ``EditError`` naming the field when the text is not a literal."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if _BAREWORD.match(text):
        return text
    raise EditError(f"{name}: {text!r} is not a value. Write a number (128), a word (relu), a "
                    f"quoted string ('same'), a tuple ((3, 3)), True/False or None.")


class LayerForm:
    """A searchable layer-class picker and one text field per constructor argument.

    :meth:`set_target` prefills the form for a clicked layer; in ``"replace"`` mode the picker
    shows the layer's class and the fields its config (to replace or edit it), in ``"insert"``
    mode the fields show the picked class's defaults and a fresh name (merge layers, which need
    several inputs, are not offered there). :meth:`values` returns ``(class, {argument: value})``
    for what is typed, raising ``EditError`` for a value that cannot be parsed or a required
    argument left empty.
    """

    def __init__(self, extra_classes=(), name_for=None):
        self.groups = catalog(extra_classes)
        # name_for(cls) -> a fresh layer name for a new layer of that class
        self.name_for = name_for or (lambda cls: None)
        self.mode = "replace"
        self.target = None
        self.classes = {cls.__name__: cls for group in self.groups.values() for cls in group}
        self.search = widgets.Text(placeholder="search layer classes, e.g. conv, pool, norm",
                                   layout=widgets.Layout(width="96%"))
        self.picker = widgets.Select(options=self._options(""), value=None, rows=7,
                                     layout=widgets.Layout(width="96%"))
        self.fields_box = widgets.VBox(layout=widgets.Layout(max_height="260px",
                                                             overflow="auto"))
        self.widget = widgets.VBox([widgets.HTML("<b>Layer class</b>"), self.search, self.picker,
                                    widgets.HTML("<b>Arguments</b>"), self.fields_box])
        # CSS classes: stable handles for the browser tests (and for people's own styling).
        self.search.add_class("kw-search")
        self.picker.add_class("kw-picker")
        self.fields_box.add_class("kw-fields")
        # argument -> (Text widget, text shown at first, value behind it, constructor default)
        self.fields = {}
        self._quiet = False  # while the list's options are being replaced
        self.search.observe(lambda change: self._refresh_options(), names="value")
        self.picker.observe(self._picked, names="value")
        self._show(None)

    def _options(self, query):
        query = query.strip().lower()
        out = []
        for cat, group in self.groups.items():
            if cat == "merge" and self.mode == "insert":
                continue
            for cls in group:
                label = f"{cls.__name__} · {cat}"
                if not query or query in label.lower():
                    out.append((label, cls.__name__))
        return out

    def _refresh_options(self):
        """New options for the search text and mode; the pick stays if it is still listed."""
        current = self.picker.value
        options = self._options(self.search.value)
        self._quiet = True
        try:
            self.picker.options = options
            self.picker.value = current if current in [v for _, v in options] else None
        finally:
            self._quiet = False
        if self.picker.value != current:
            self._show(self.picker.value)

    def _picked(self, change):
        if not self._quiet:
            self._show(change["new"])

    def _choose(self, name):
        if name is not None and name not in [v for _, v in self.picker.options]:
            self.search.value = ""  # the class must be in the list to be shown as picked
        if self.picker.value == name:
            self._show(name)
        else:
            self.picker.value = name

    def _show(self, name):
        if name is None:
            self.fields = {}
            hint = "Pick a layer class in the list."
            if self.mode == "replace" and self.target is not None and \
                    type(self.target).__name__ not in self.classes:
                hint = (f"{type(self.target).__name__} is not in the list: pick a class to "
                        f"replace it with.")
            self.fields_box.children = [widgets.HTML(f"<i>{hint}</i>")]
        else:
            self.show_fields(self.classes[name])

    def set_target(self, layer, mode="replace"):
        """Prefill for ``layer`` (or ``None``) in ``mode`` (``"replace"`` or ``"insert"``)."""
        self.target = layer
        self.mode = mode
        self._refresh_options()
        name = type(layer).__name__ if layer is not None else None
        if mode == "replace":
            self._choose(name if name in self.classes else None)
        else:
            self._show(self.picker.value)

    def set_mode(self, mode):
        """Switch between ``"replace"`` and ``"insert"``, keeping the picked class."""
        if mode != self.mode:
            self.mode = mode
            self._refresh_options()
            self._show(self.picker.value)

    def pick(self, class_name):
        """Choose a class by name, as a click in the list does."""
        if class_name not in self.classes or class_name not in [
                v for _, v in self._options("")]:
            raise EditError(f"Unknown layer class '{class_name}'"
                            f"{' here' if class_name in self.classes else ''}. Pick one of the "
                            f"list, e.g. {', '.join(sorted(self.classes)[:5])}.")
        self._choose(class_name)

    def show_fields(self, cls):
        config = {}
        if self.mode == "replace" and self.target is not None and type(self.target) is cls:
            try:
                config = self.target.get_config()
            except Exception:  # noqa: BLE001 - no config: the class defaults then
                config = {}
        rows, fields = [], {}
        params = constructor_params(cls)
        if "name" not in [k for k, _ in params]:
            params.append(("name", None))
        for arg, default in params:
            if arg in config:
                value = config[arg]
            elif arg == "name":
                value = self.target.name if config else self.name_for(cls)
            else:
                value = default
            required = value is inspect.Parameter.empty
            text = "" if required else value_text(value)
            box = widgets.Text(value=text, description=arg,
                               placeholder="required" if required else "",
                               style={"description_width": "150px"},
                               layout=widgets.Layout(width="98%"))
            box.add_class(f"kw-field-{arg}")
            fields[arg] = (box, text, None if required else value, default)
            rows.append(box)
        self.fields = fields
        self.fields_box.children = rows

    def set(self, **values):
        """Type into fields, as a person would: ``form.set(units="128")``."""
        for arg, text in values.items():
            if arg not in self.fields:
                raise EditError(f"{self.picker.value} has no argument '{arg}'; arguments: "
                                f"{', '.join(self.fields)}.")
            self.fields[arg][0].value = str(text)

    def values(self):
        """``(class, kwargs)`` from the form. A field left as it was prefilled gives the exact
        value behind it; an emptied optional field gives the class default (an emptied name: a
        name Keras makes up)."""
        name = self.picker.value
        if not name:
            raise EditError("Pick a layer class first.")
        cls = self.classes[name]
        kwargs = {}
        for arg, (box, shown, value, default) in self.fields.items():
            text = box.value
            if text.strip() == "":
                if default is inspect.Parameter.empty:
                    raise EditError(f"{name}: the argument '{arg}' is required.")
                if arg != "name":  # an emptied field means the class default
                    kwargs[arg] = default
            elif text == shown:
                kwargs[arg] = value
            else:
                kwargs[arg] = parse_value(arg, text)
        return cls, kwargs

    def changed(self):
        """``{argument: value}`` of the fields whose text was changed since they were filled."""
        cls, kwargs = self.values()
        return {arg: kwargs[arg] for arg, (box, shown, _, _) in self.fields.items()
                if box.value != shown and arg in kwargs}

    def build(self):
        """A new layer from the form. Raises ``EditError`` with the class's own complaint."""
        cls, kwargs = self.values()
        try:
            return cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the class's refusal becomes a sentence
            shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "name")
            raise EditError(f"{cls.__name__}({shown}) cannot be made: {first_line(exc)}") from None
