"""The layers a person can pick, and the form for a layer's constructor arguments.

Typed values are parsed safely: a Python literal (``128``, ``(3, 3)``, ``True``, ``None``,
``'same'``) through ``ast.literal_eval``, or a bare word (``relu``) as a string. Nothing typed is
ever evaluated as code.
"""
from __future__ import annotations

import ast
import html
import inspect
import re
import sys
from typing import NamedTuple

import ipywidgets as widgets
import keras

from .arguments import REQUIRED, Argument, arguments
from .errors import EditError, first_line
from .graph import category_of_class
from .signature import constructor_params
from .view import made

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


def notebook_layers():
    """The ``keras.layers.Layer`` subclasses defined in the notebook (or script) itself, that
    is in ``__main__`` (models left out)."""
    main = sys.modules.get("__main__")
    return [obj for obj in vars(main).values() if isinstance(obj, type)
            and issubclass(obj, keras.layers.Layer) and not issubclass(obj, keras.Model)
            and obj.__module__ == "__main__"] if main else []


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


class Field(NamedTuple):
    """One argument's field: its ``widget``, what it showed when filled (``shown``), the value
    behind that (``value``), the constructor's ``default`` and the :class:`Argument`."""

    widget: object
    shown: object
    value: object
    default: object
    argument: Argument


class LayerForm:
    """A searchable layer-class picker and one typed field per constructor argument.

    The picker offers ``keras.layers``, ``extra_classes`` and the Layer subclasses defined in
    the notebook itself (``__main__``), under "custom". :meth:`set_target` prefills the form for a clicked layer; in ``"replace"`` mode the picker
    shows the layer's class and the fields its config (to replace or edit it), in ``"insert"``
    mode the fields show the picked class's defaults and a fresh name (merge layers, which need
    several inputs, are not offered there). :meth:`values` returns ``(class, {argument: value})``
    for what is typed, raising ``EditError`` for a value that cannot be parsed or a required
    argument left empty.
    """

    def __init__(self, extra_classes=(), name_for=None):
        self.groups = catalog(list(extra_classes) + notebook_layers())
        # name_for(cls) -> a fresh layer name for a new layer of that class
        self.name_for = name_for or (lambda cls: None)
        self.mode = "replace"
        self.target = None
        self.classes = {cls.__name__: cls for group in self.groups.values() for cls in group}
        fixed = {"flex": "0 0 auto"}  # each part keeps its height in the editor's panel
        self.search = made(widgets.Text, "kw-search", {"width": "96%", **fixed},
                           placeholder="search layer classes, e.g. conv, pool, norm")
        self.picker = made(widgets.Select, "kw-picker", {"width": "96%", **fixed},
                           options=self._options(""), value=None, rows=7)
        self.fields_box = made(widgets.VBox, "kw-fields",
                               {"max_height": "260px", "overflow": "auto", **fixed})
        heading = widgets.Layout(**fixed)  # one layout for both headings
        self._picker_part = [widgets.HTML("<b>Layer class</b>", layout=heading), self.search,
                             self.picker]
        self._fields_part = [widgets.HTML("<b>Arguments</b>", layout=heading), self.fields_box]
        self.widget = widgets.VBox(self._picker_part + self._fields_part)
        self.fields = {}  # argument -> Field
        self._rows = []
        # Field widgets are reused from click to click (a new widget per argument per click would
        # leave hundreds of widgets open in the kernel and the browser); the hint and the
        # message about a bad value are one widget each.
        self._pool = {}  # widget class -> [widget, ...]
        self._field_styles = {}  # widget class -> (its style, its layout), shared by the pool
        self._hint = widgets.HTML()
        self._field_error = widgets.HTML()
        self._quiet = False  # while the list's options are being replaced
        self._filling = False  # while fields are being filled (not a person typing)
        self.on_change = None  # called with no argument when a field or the pick changes
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
            self._changed(None)

    def _changed(self, _change):
        if not self._filling and self.on_change is not None:
            self.on_change()

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
            self._hint.value = f"<i>{hint}</i>"
            self._rows = []
            self.fields_box.children = [self._hint]
        else:
            self.show_fields(self.classes[name])

    def set_target(self, layer, mode="replace"):
        """Prefill for ``layer`` (or ``None``) in ``mode`` (``"replace"`` or ``"insert"``). In
        ``"replace"`` mode the picker shows the layer's class; in ``"insert"`` mode it picks
        nothing for a new target, so that no class picked for an earlier one is left in it."""
        new_target = layer is not self.target
        self.target = layer
        self.mode = mode
        self._refresh_options()
        name = type(layer).__name__ if layer is not None else None
        if mode == "replace":
            self._choose(name if name in self.classes else None)
        else:
            self._choose(None if new_target else self.picker.value)

    def set_mode(self, mode):
        """Switch between ``"replace"`` and ``"insert"``, keeping the class picked for this
        target; with none picked, ``"replace"`` picks the target's own class."""
        if mode != self.mode:
            self.mode = mode
            self._refresh_options()
            if mode == "replace" and self.picker.value is None and self.target is not None:
                name = type(self.target).__name__
                self._choose(name if name in self.classes else None)
            else:
                self._show(self.picker.value)

    def lock_class(self, locked):
        """With ``locked``, only the fields show (the class is the target's own: editing its
        config); otherwise the class picker shows above them."""
        if locked and self.mode == "replace" and self.target is not None:
            name = type(self.target).__name__
            if self.picker.value != name and name in self.classes:
                self._choose(name)
        children = self._fields_part if locked else self._picker_part + self._fields_part
        if tuple(children) != tuple(self.widget.children):
            self.widget.children = children

    def pick(self, class_name):
        """Choose a class by name, as a click in the list does."""
        if class_name not in self.classes or class_name not in [
                v for _, v in self._options("")]:
            raise EditError(f"Unknown layer class '{class_name}'"
                            f"{' here' if class_name in self.classes else ''}. Pick one of the "
                            f"list, e.g. {', '.join(sorted(self.classes)[:5])}.")
        self._choose(class_name)

    def show_fields(self, cls):
        """One field per constructor argument of ``cls``, typed by what it takes
        (:mod:`keras_widget.arguments`): a checkbox for a boolean, a list for a known set of
        values (activations, padding, initializers...), text for numbers, tuples and the rest;
        the argument's line of the class docstring is the field's tooltip."""
        config = {}
        if self.mode == "replace" and self.target is not None and type(self.target) is cls:
            try:
                config = self.target.get_config()
            except Exception:  # noqa: BLE001 - no config: the class defaults then
                config = {}
        self._filling = True
        try:
            self._fill(cls, config)
        finally:
            self._filling = False

    def _fill(self, cls, config):
        args = arguments(cls)
        if "name" not in [a.name for a in args]:
            args.append(Argument("name", None, "text"))
        rows, fields, used = [], {}, {}
        for arg in args:
            if arg.name in config:
                value = config[arg.name]
            elif arg.name == "name":
                value = self.target.name if config else self.name_for(cls)
            else:
                value = arg.default
            required = value is REQUIRED
            kind = arg.kind if required or arg.fits(value) else "text"
            kinds = {"bool": widgets.Checkbox, "choice": widgets.Dropdown}
            box = self._field(kinds.get(kind, widgets.Text), used)
            with box.hold_sync():  # one message per field, only for what differs
                if kind == "bool":
                    shown = bool(value)
                    box.value = shown
                elif kind == "choice":
                    shown = value_text(arg.choice_for(value) if isinstance(value, dict)
                                       else value)
                    options = [value_text(c) for c in arg.choices]
                    options = [t for t in dict.fromkeys([shown, value_text(arg.default)])
                               if t not in options] + options
                    box.options = options
                    box.value = shown
                else:
                    shown = "" if required else value_text(value)
                    box.value = shown
                    box.placeholder = "required" if required else ""
                box.description = arg.name
                box.tooltip = arg.doc or None
                box._dom_classes = (f"kw-field-{arg.name}",)
            fields[arg.name] = Field(box, shown, None if required else value, arg.default, arg)
            rows.append(box)
        self.fields = fields
        self._rows = rows
        self._field_error.value = ""
        if tuple(rows) != tuple(self.fields_box.children):
            self.fields_box.children = rows

    def prepare(self):
        """Make the field widgets a click only fills: enough for any keras.layers class
        (ConvLSTM1D has 14 choices, GRU 7 booleans, MelSpectrogram 12 other arguments). The
        editor calls it once its graph is drawn (off the path of opening it); a form used
        before makes what it needs as it goes."""
        for kind, n in ((widgets.Text, 16), (widgets.Dropdown, 14), (widgets.Checkbox, 7)):
            self._grow(kind, n)

    def _field(self, kind, used):
        """A field widget of class ``kind``, made once and reused from click to click (a new
        widget per argument per click would stay open in the kernel and the browser)."""
        k = used[kind] = used.get(kind, -1) + 1
        return self._grow(kind, k + 1)[k]

    def _grow(self, kind, n):
        """The pool of ``kind`` fields, made at least ``n`` long."""
        pool = self._pool.setdefault(kind, [])
        while len(pool) < n:
            # One layout and one style per kind of field: a widget each would triple the
            # messages of the first click.
            if kind not in self._field_styles:
                self._field_styles[kind] = (
                    kind.style.klass(description_width="150px"), widgets.Layout(width="98%"))
            style, layout = self._field_styles[kind]
            extra = ({"indent": False} if kind is widgets.Checkbox else
                     {"continuous_update": False} if kind is widgets.Text else {})
            box = kind(style=style, layout=layout, **extra)
            box.observe(self._changed, names="value")
            pool.append(box)
        return pool

    def set(self, **values):
        """Type into fields, as a person would: ``form.set(units="128", use_bias=False,
        activation="gelu")``. An empty text means the class default."""
        for arg, text in values.items():
            if arg not in self.fields:
                raise EditError(f"{self.picker.value} has no argument '{arg}'; arguments: "
                                f"{', '.join(self.fields)}.")
            field = self.fields[arg]
            box = field.widget
            if isinstance(box, widgets.Text):
                box.value = str(text)
                continue
            value = field.default if str(text).strip() == "" else (
                text if not isinstance(text, str) else parse_value(arg, text))
            if isinstance(box, widgets.Checkbox):
                if not isinstance(value, bool):
                    raise EditError(f"{arg} takes True or False, not {text!r}.")
                box.value = value
            elif value_text(value) in box.options:
                box.value = value_text(value)
            else:
                raise EditError(f"{arg} takes one of {', '.join(box.options)}; not {text!r}.")

    def _value(self, arg, field):
        box = field.widget
        if isinstance(box, widgets.Checkbox):
            return box.value
        if isinstance(box, widgets.Dropdown):
            return field.value if box.value == field.shown else parse_value(arg, box.value)
        text = box.value
        if text.strip() == "":
            if field.default is REQUIRED:
                raise EditError(f"{self.picker.value}: the argument '{arg}' is required.")
            return field.default
        if text == field.shown:
            return field.value
        value = parse_value(arg, text)
        problem = field.argument.check(value)
        if problem:
            raise EditError(problem)
        return value

    def complete(self):
        """Whether a class is picked and every required field has a value."""
        return self.picker.value is not None and all(
            f.widget.value != "" for f in self.fields.values() if f.default is REQUIRED)

    def values(self):
        """``(class, kwargs)`` from the form. A field left as it was prefilled gives the exact
        value behind it; an emptied optional field gives the class default (an emptied name: a
        name Keras makes up). A value that does not parse or is of the wrong kind (text for an
        integer) raises ``EditError``, and the sentence shows under its field."""
        name = self.picker.value
        if not name:
            raise EditError("Pick a layer class first.")
        kwargs = {}
        for arg, field in self.fields.items():
            try:
                value = self._value(arg, field)
            except EditError as err:
                self._show_field_error(arg, str(err))
                raise
            if not (arg == "name" and value is None):  # no name: one Keras makes up
                kwargs[arg] = value
        self._show_field_error(None, "")
        return self.classes[name], kwargs

    def _show_field_error(self, arg, message):
        """The sentence about a bad value, right under its field (one widget, moved about)."""
        self._field_error.value = (f"<div class='kw-field-error' style='color:#a50f15;"
                                   f"font-size:12px'>{html.escape(message)}</div>"
                                   if message else "")
        rows = list(self._rows)
        if arg in self.fields:
            rows.insert(rows.index(self.fields[arg].widget) + 1, self._field_error)
        if tuple(rows) != tuple(self.fields_box.children):
            self.fields_box.children = rows

    def changed(self):
        """``{argument: value}`` of the fields changed since they were filled."""
        cls, kwargs = self.values()
        return {arg: kwargs.get(arg) for arg, field in self.fields.items()
                if field.widget.value != field.shown and (arg in kwargs or arg == "name")}

    def build(self):
        """A new layer from the form. Raises ``EditError`` with the class's own complaint,
        shown under the field it is about (the one argument the class refuses on its own)."""
        cls, kwargs = self.values()
        try:
            return cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the class's refusal becomes a sentence
            shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()
                              if k != "name" and v != self.fields[k].default)
            message = f"{cls.__name__}({shown}) cannot be made: {first_line(exc)}"
            self._show_field_error(self._culprit(cls, kwargs), message)
            raise EditError(message, cause=exc) from None

    def _culprit(self, cls, kwargs):
        """The argument that the class refuses by itself (with the others at their defaults
        and the required ones as typed), or ``None``."""
        required = {k: v for k, v in kwargs.items() if self.fields[k].default is REQUIRED}
        try:
            cls(**required)
        except Exception:  # noqa: BLE001 - a required argument is refused already
            return next(iter(required), None)
        for arg, value in kwargs.items():
            if arg in required or value == self.fields[arg].default:
                continue
            try:
                cls(**required, **{arg: value})
            except Exception:  # noqa: BLE001 - this one alone is refused
                return arg
        return None
