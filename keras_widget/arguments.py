"""What each constructor argument of a layer class takes: the type of its form field.

A layer class in, one :class:`Argument` per constructor argument out: its default, the kind of
value it takes (``"bool"``, ``"int"``, ``"float"``, ``"choice"``, ``"text"``), the choices
where there is a known set (activations, padding, initializers, regularizers, constraints, data
formats, or the quoted options its docstring lists) and its line of the class docstring. No
ipywidgets here: :mod:`keras_widget.forms` turns these into fields.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import keras

from .signature import constructor_params

REQUIRED = inspect.Parameter.empty

# Names Keras's own getters accept (``keras.activations.get("gelu")``...); a test checks each.
ACTIVATIONS = ["celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
               "hard_silu", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
               "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax",
               "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
               "squareplus", "tanh", "tanh_shrink"]
INITIALIZERS = ["glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                "identity", "lecun_normal", "lecun_uniform", "ones", "orthogonal",
                "random_normal", "random_uniform", "truncated_normal", "variance_scaling",
                "zeros"]
REGULARIZERS = ["l1", "l2", "l1l2", "orthogonal_regularizer"]
CONSTRAINTS = ["max_norm", "min_max_norm", "non_neg", "unit_norm"]
DATA_FORMATS = ["channels_last", "channels_first"]

_GETTERS = {"_initializer": keras.initializers.get, "_regularizer": keras.regularizers.get,
            "_constraint": keras.constraints.get}
_QUOTED = re.compile(r'`"([A-Za-z0-9_]+)"`|"([A-Za-z0-9_]+)"')
_ARG_LINE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")


@dataclass
class Argument:
    """One constructor argument: ``name``, ``default`` (:data:`REQUIRED` when it has none),
    ``kind`` (``"bool"``, ``"int"``, ``"float"``, ``"choice"`` or ``"text"``: a Python literal),
    ``choices`` (for ``"choice"``: the values offered, ``None`` included where it is allowed) and
    ``doc`` (the argument's text in the class docstring, ``""`` when it has none)."""

    name: str
    default: object
    kind: str
    choices: list = field(default_factory=list)
    doc: str = ""

    @property
    def required(self):
        return self.default is REQUIRED

    def fits(self, value):
        """Whether a field of this kind can show ``value`` (a config value may be of a type
        the default is not: ``strides=(2, 2)`` where the default is ``1``)."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.kind == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "choice":
            return value is None or isinstance(value, str) or self.choice_for(value) is not None
        return True

    def choice_for(self, value):
        """The choice that ``value`` stands for, or ``None``: a config holds an initializer,
        regularizer or constraint serialized (``{"class_name": "GlorotUniform", "config":
        {...}}``), which is the choice ``"glorot_uniform"`` when its config is that one's."""
        if self.kind != "choice":
            return None
        if value is None or isinstance(value, str):
            return value if value in self.choices else None
        if not (isinstance(value, dict) and "class_name" in value):
            return None
        getter = next((g for suffix, g in _GETTERS.items() if self.name.endswith(suffix)), None)
        for choice in self.choices:
            if choice is None or getter is None:
                continue
            obj = getter(choice)
            if type(obj).__name__ == value["class_name"] and \
                    obj.get_config() == value.get("config"):
                return choice
        return None

    def check(self, value):
        """``None`` when ``value`` is of the right kind, else a sentence naming the argument."""
        if self.kind == "int" and not self.fits(value):
            return f"{self.name} takes an integer, not {value!r}."
        if self.kind == "float" and not self.fits(value):
            return f"{self.name} takes a number, not {value!r}."
        if self.kind == "bool" and not self.fits(value):
            return f"{self.name} takes True or False, not {value!r}."
        return None


def docstring_args(cls):
    """``{argument: text}`` from the ``Args:`` section of ``cls``'s docstring (Google style, as
    Keras writes it), each text on one line."""
    doc = inspect.getdoc(cls) or ""
    out, current, indent, inside = {}, None, None, False
    for line in doc.splitlines():
        if not inside:
            inside = line.strip() in ("Args:", "Arguments:")
            continue
        if line.strip() and not line.startswith(" "):
            break  # the next section ("Input shape:", "Example:")
        match = _ARG_LINE.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            current = match.group(2)
            out[current] = match.group(3).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def _choices(name, default, doc):
    """The known values of an argument, or ``None`` where there is no closed set."""
    if name.endswith("activation"):
        return [None] + ACTIVATIONS
    if name.endswith("_initializer"):
        return INITIALIZERS
    if name.endswith("_regularizer"):
        return [None] + REGULARIZERS
    if name.endswith("_constraint"):
        return [None] + CONSTRAINTS
    if name == "data_format":
        return [None] + DATA_FORMATS
    if isinstance(default, str):
        # "padding: string, either `"valid"` or `"same"`": the quoted words the doc offers,
        # trusted only when the default is one of them.
        quoted = list(dict.fromkeys(a or b for a, b in _QUOTED.findall(doc)))
        if default in quoted and len(quoted) > 1:
            return quoted
    return None


def _kind(default, doc):
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int) and not re.search(r"tuple|list", doc):
        return "int"
    if isinstance(default, float):
        return "float"
    if default is REQUIRED and re.match(r"(positive )?int(eger)?\b", doc, re.I) \
            and not re.search(r"tuple|list", doc):
        return "int"
    if default is REQUIRED and re.match(r"float\b", doc, re.I):
        return "float"
    return "text"


def arguments(cls):
    """The :class:`Argument` of each constructor argument of ``cls`` (``self``, ``*args`` and
    ``**kwargs`` left out), in signature order."""
    docs = docstring_args(cls)
    out = []
    for name, default in constructor_params(cls):
        doc = docs.get(name, "")
        choices = _choices(name, default, doc)
        kind = "choice" if choices else _kind(default, doc)
        out.append(Argument(name, default, kind, choices or [], doc))
    return out
