"""A model as the functional-API source a person would write by hand (architecture, no weights).

Each layer becomes its constructor call with the arguments that differ from the class defaults
(checked by constructing the class and comparing configs), values written as Python
(``keras.initializers.VarianceScaling(scale=2.0, mode="fan_out")``, not a serialized dict).
Read-only, and nothing here imports ipywidgets.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import json
import keyword
import re
import textwrap

import keras

from .errors import EditError
from .graph import call_sites, functional_of, is_keras_class, is_nested_model, require_functional
from .signature import init_parameters

_MISSING = object()
_BUILT = {}  # (class, JSON of constructor arguments) -> the config it makes, without the name


def to_code(model, name="model"):
    """Python source that builds ``model``'s architecture with the functional API.

    In: a functional or Sequential ``keras.Model`` (nested models, shared layers, ``keras.ops``
    calls, ``Lambda`` and custom layers allowed); ``name``, the variable the code assigns.
    Out: a string of code: ``import keras`` / ``from keras import layers`` (and the imports of
    custom classes), then ``keras.Input(shape=...)`` (shape without the batch axis), one line per
    layer call with only its non-default arguments, nested models defined before they are used,
    a shared layer made once and called at each call site, ``keras.ops`` calls as such, and last
    ``name = keras.Model(inputs, outputs, name=...)`` (``keras.Sequential([...])`` for a
    Sequential model). Executed, it defines ``name`` with the same ``get_config()`` as ``model``
    except the names of ``keras.ops`` calls (they take no name: Keras numbers them) and the
    bytecode of ``Lambda`` functions. Weights are not in the code.

    A ``Lambda``'s function is written from its source where Python can read it; otherwise a
    comment says so and the code refers to a function you define. Raises ``EditError`` for a
    model without a graph (subclassed, unbuilt Sequential).
    """
    require_functional(model)
    if not str(name).isidentifier() or keyword.iskeyword(name):
        raise EditError(f"to_code: name={name!r} is not a Python variable name.")
    return _Writer(name).write(model)


class _Writer:
    def __init__(self, name):
        self.name = name
        self.imports = {"import keras", "from keras import layers"}
        self.lines = []
        self.used = {"keras", "layers", "x", name}  # x: the tensor a chain of calls passes on
        self.objects = {}    # id(layer or model) -> variable holding it
        self.calls = {}      # id(layer) -> number of call sites over every graph written
        self.keep = []       # the objects whose ids are keys above (ids stay unique)

    # -- names -----------------------------------------------------------------------------------
    def fresh(self, base):
        base = re.sub(r"\W", "_", str(base)).strip("_") or "t"
        if base[0].isdigit():
            base = "_" + base
        if keyword.iskeyword(base) or hasattr(builtins, base):
            base += "_"
        out, k = base, 1
        while out in self.used:
            k += 1
            out = f"{base}_{k}"
        self.used.add(out)
        return out

    # -- the whole model -------------------------------------------------------------------------
    def write(self, model):
        self._count_calls(model)
        var = self._model(model, top=True)
        head = sorted(i for i in self.imports if i.startswith("import ")) + \
            sorted(i for i in self.imports if not i.startswith("import "))
        body = self.lines + ([f"{self.name} = {var}"] if var != self.name else [])
        while body and not body[-1]:
            body.pop()
        return "\n".join(head + [""] + body) + "\n"

    def _count_calls(self, model):
        nodes = _node_ids(model)
        for layer in _members(model):
            self.keep.append(layer)
            here = _calls_in(model, layer, nodes)
            self.calls[id(layer)] = self.calls.get(id(layer), 0) + here
            if is_nested_model(layer) and self.calls[id(layer)] == here:
                self._count_calls(layer)

    def _model(self, model, top=False):
        """Write ``model``'s definition; returns the variable that holds it."""
        if id(model) in self.objects:
            return self.objects[id(model)]
        for layer in _members(model):  # nested models first
            if is_nested_model(layer):
                self._model(layer)
        var = self.name if top else self.fresh(model.name)
        self.used.add(var)
        if isinstance(model, keras.Sequential):
            self._sequential(model, var)
        else:
            self._functional(model, var)
        if not model.trainable:
            self.lines.append(f"{var}.trainable = False")
        self.lines.append("")
        self.objects[id(model)] = var
        return var

    def _sequential(self, model, var):
        items = []
        for layer in model._layers:
            if isinstance(layer, keras.layers.InputLayer):
                items.append(self._input(layer))
            elif id(layer) in self.objects:
                items.append(self.objects[id(layer)])
            else:
                items.append(self._layer_expr(layer))
        body = "".join(f"\n    {item}," for item in items)
        self.lines.append(f"{var} = {self._class_expr(model, keras.Sequential)}([{body}\n], "
                          f"name={_str(model.name)})")

    def _functional(self, model, var):
        fm = functional_of(model)
        sites = call_sites(fm)
        tensors = {}  # tensor key -> variable
        uses = {}     # tensor key -> ids of the nodes that read it
        for site in sites:
            for t in _tensors((site.node.arguments.args, site.node.arguments.kwargs)):
                uses.setdefault(_key(t), set()).add(id(site.node))
        outputs = {_key(t) for t in keras.tree.flatten(fm.outputs)}
        for i, site in enumerate(sites):
            op, node = site.op, site.node
            if isinstance(op, keras.layers.InputLayer):
                tensors[_key(node.outputs[0])] = v = self.fresh(op.name)
                self.lines.append(f"{v} = {self._input(op)}")
                continue
            nxt = sites[i + 1].node if i + 1 < len(sites) else None
            single = len(node.outputs) == 1 and _key(node.outputs[0]) not in outputs and \
                uses.get(_key(node.outputs[0]), set()) == {id(nxt)}
            if single:
                out = "x"
            elif not isinstance(op, keras.layers.Layer):  # ops are numbered by Keras: add_3
                out = self.fresh(_ops_function(op) or _snake(type(op).__name__))
            else:
                base = op.name if site.calls == 1 else f"{op.name}_{site.call_index}"
                out = self.fresh(base)
            self._call(op, node, tensors, out)
            for k, t in enumerate(node.outputs):
                tensors[_key(t)] = out if len(node.outputs) == 1 else f"{out}[{k}]"
        ins = _structure(fm._inputs_struct, tensors)
        outs = _structure(fm._outputs_struct, tensors)
        self.lines.append(f"{var} = {self._class_expr(model, keras.Model)}(inputs={ins}, "
                          f"outputs={outs}, name={_str(model.name)})")

    def _class_expr(self, model, default):
        cls = type(model)
        # A subclass built from arguments of its own (keras-hub's backbones), not from tensors,
        # is written as the Keras class it is.
        own_arguments = [k for k, p in init_parameters(cls).items()
                         if k not in ("self", "inputs", "outputs", "layers")
                         and p.default is p.empty
                         and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if is_keras_class(cls) or own_arguments:
            return "keras.Sequential" if default is keras.Sequential else "keras.Model"
        return self._import(cls)

    # -- one call --------------------------------------------------------------------------------
    def _call(self, op, node, tensors, out):
        args = [_arg(a, tensors) for a in node.arguments.args]
        # Keras fills in mask= and training=False itself; a person writes neither.
        kwargs = [f"{k}={_arg(v, tensors)}" for k, v in node.arguments.kwargs.items()
                  if not _auto_mask(k, v, tensors) and not (k == "training" and not v)]
        if isinstance(op, keras.layers.Layer):
            if id(op) in self.objects:
                fn = self.objects[id(op)]
            elif self.calls.get(id(op), 1) > 1:  # a shared layer: made once, called at each site
                fn = self.objects[id(op)] = self.fresh(op.name)
                self.lines.append(f"{fn} = {self._layer_expr(op)}")
            else:
                fn = self._layer_expr(op)
            self.lines.append(f"{out} = {fn}({', '.join(args + kwargs)})")
            return
        # A keras.ops call (its Operation's config holds the function's other arguments).
        if type(op).__name__ == "GetItem" and len(node.arguments.args) == 2:
            self.lines.append(f"{out} = {args[0]}[{_index(node.arguments.args[1], tensors)}]")
            return
        fn = _ops_function(op)
        config = dict(op.get_config())
        config.pop("name", None)
        params = inspect.signature(getattr(keras.ops, fn)).parameters if fn else {}
        for k, v in config.items():
            default = params[k].default if k in params else _MISSING
            if default is _MISSING or default != v:
                kwargs.append(f"{k}={self._value(v)}")
        if fn is None:
            fn = _snake(type(op).__name__)
            self.lines.append(f"# {type(op).__name__}: no keras.ops function of that name")
        self.lines.append(f"{out} = keras.ops.{fn}({', '.join(args + kwargs)})")

    # -- layers and values -----------------------------------------------------------------------
    def _input(self, layer):
        config = layer.get_config()
        shape = tuple(config["batch_shape"])
        parts = [f"shape={_tuple(shape[1:])}"] if shape[0] is None else \
            [f"batch_shape={_tuple(shape)}"]
        if config.get("dtype") not in (None, keras.config.floatx()):
            parts.append(f"dtype={self._value(config['dtype'])}")
        for flag in ("sparse", "ragged", "optional"):
            if config.get(flag):
                parts.append(f"{flag}=True")
        parts.append(f"name={_str(layer.name)}")
        return f"keras.Input({', '.join(parts)})"

    def _layer_expr(self, layer):
        if is_nested_model(layer):
            return self._model(layer)
        if isinstance(layer, keras.layers.Lambda):
            return self._lambda(layer)
        cls = type(layer)
        try:
            config = layer.get_config()
        except Exception:  # noqa: BLE001 - a custom layer without get_config
            config = {"name": layer.name}
            self.lines.append(f"# {cls.__name__} '{layer.name}' has no get_config(): its "
                              f"arguments are not known; write them here.")
        return self._construct(cls, config, self._layer_class(cls), name=layer.name)

    def _layer_class(self, cls):
        if is_keras_class(cls) and getattr(keras.layers, cls.__name__, None) is cls:
            return f"layers.{cls.__name__}"
        return self._import(cls)

    def _construct(self, cls, config, expr, name=None):
        """``expr(positional..., key=value..., name=...)`` with the fewest arguments that give
        ``config`` again, or ``expr.from_config({...})`` where the constructor cannot."""
        kwargs = _minimal_kwargs(cls, config)
        if kwargs is None:
            return f"{expr}.from_config({self._value(config)})"
        sig = init_parameters(cls)
        positional = []
        for k in [k for k in sig if k != "self"]:  # leading required arguments: positional
            p = sig[k]
            if p.default is not p.empty or p.kind != p.POSITIONAL_OR_KEYWORD or k not in kwargs:
                break
            positional.append(k)
        parts = [self._value(kwargs[k]) for k in positional]
        parts += [f"{k}={self._value(v)}" for k, v in kwargs.items()
                  if k not in positional and k != "name"]
        if name is not None:
            parts.append(f"name={_str(name)}")
        return f"{expr}({', '.join(parts)})"

    def _value(self, v):
        if _is_serialized(v):
            return self._object(v)
        if isinstance(v, str):
            return _str(v)
        if isinstance(v, tuple):
            return "(" + ", ".join(self._value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if isinstance(v, list):
            return "[" + ", ".join(self._value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{self._value(k)}: {self._value(x)}"
                                   for k, x in v.items()) + "}"
        if hasattr(v, "item") and not hasattr(v, "__len__"):  # a numpy scalar
            v = v.item()
        return repr(v)

    def _object(self, config):
        """A serialized Keras object (initializer, regularizer, constraint, layer, dtype policy)
        as its constructor call."""
        try:
            obj = keras.saving.deserialize_keras_object(config)
        except Exception:  # noqa: BLE001 - not rebuildable here: leave Keras's own form
            return f"keras.saving.deserialize_keras_object({self._plain_dict(config)})"
        cls = type(obj)
        if isinstance(obj, keras.layers.Layer):
            return self._layer_expr(obj)
        if inspect.isfunction(obj):  # a function (keras-hub's gelu_approximate activation)
            return self._import(obj)
        module = config.get("module") or ""
        if is_keras_class(cls) and module.startswith("keras") and not module.startswith(
                "keras.src") and _public(module, config["class_name"]) is cls:
            expr = f"{module}.{config['class_name']}"
        else:
            expr = self._import(cls)
        return self._construct(cls, obj.get_config(), expr)

    def _plain_dict(self, d):
        return "{" + ", ".join(f"{_str(k)}: " + (self._plain_dict(x) if isinstance(x, dict)
                                                  else self._value(x))
                               for k, x in d.items()) + "}"

    def _import(self, cls):
        module = cls.__module__
        if module == "__main__" or module.startswith("__"):
            self.lines.append(f"# {cls.__name__} is defined in your notebook or script: run "
                              f"its definition before this code.")
            return cls.__qualname__
        top = cls.__qualname__.split(".")[0]
        self.imports.add(f"from {module} import {top}")
        self.used.add(top)
        return cls.__qualname__

    def _lambda(self, layer):
        fn = layer.function
        extra = []
        if layer.arguments:
            extra.append(f"arguments={self._value(layer.arguments)}")
        config = layer.get_config()
        if config.get("output_shape") is not None and not callable(layer._output_shape):
            extra.append(f"output_shape={self._value(config['output_shape'])}")
        extra.append(f"name={_str(layer.name)}")
        source = _function_source(fn)
        if source is None:
            var = self.fresh(f"{layer.name}_fn")
            self.lines.append(f"# {var}: the function of the Lambda layer '{layer.name}'. Python "
                              f"cannot read its source here; define it before this line.")
            return f"layers.Lambda({var}, {', '.join(extra)})"
        if source.startswith("def ") or source.startswith("@"):
            self.lines.extend(source.rstrip("\n").split("\n"))
            expr = fn.__name__
        else:
            expr = source
        for var, value in _free_values(fn):
            if var not in self.used and _is_literal(value):
                # A late-bound loop variable reads its last value: the one written here.
                self.lines.append(f"{var} = {value!r}  # read by the Lambda '{layer.name}'")
                self.used.add(var)
            elif var not in self.used:
                self.lines.append(f"# The Lambda '{layer.name}' reads {var}: define it as where "
                                  f"the model was made.")
        return f"layers.Lambda({expr}, {', '.join(extra)})"


# -- helpers -------------------------------------------------------------------------------------

def _members(model):
    fm = functional_of(model)
    if isinstance(model, keras.Sequential):
        return [layer for layer in model._layers if not isinstance(layer, keras.layers.InputLayer)]
    return [op for op in fm.operations if not isinstance(op, keras.layers.InputLayer)]


def _node_ids(model):
    """The ids of the Keras nodes (calls) of ``model``'s graph (made once per model: a set per
    layer made this quadratic, seconds on NASNetLarge)."""
    if isinstance(model, keras.Sequential):
        return set()
    fm = functional_of(model)
    return {id(n) for depth in fm._nodes_by_depth.values() for n in depth}


def _calls_in(model, layer, nodes):
    if isinstance(model, keras.Sequential):
        return 1
    return sum(id(n) in nodes for n in layer._inbound_nodes)


def _key(t):
    h = t._keras_history
    return (id(h.operation), h.node_index, h.tensor_index)


def _tensors(value):
    return [t for t in keras.tree.flatten(value) if isinstance(t, keras.KerasTensor)]


def _auto_mask(key, value, tensors):
    """A mask Keras passed itself (the one a previous layer computes, or None), not one of the
    graph."""
    if key != "mask" and not key.endswith("_mask"):
        return False
    if value is None:
        return True
    ts = _tensors(value)
    return bool(ts) and any(_key(t) not in tensors for t in ts)


def _arg(v, tensors):
    if isinstance(v, keras.KerasTensor):
        return tensors[_key(v)]
    if isinstance(v, list):
        return "[" + ", ".join(_arg(x, tensors) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(_arg(x, tensors) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_arg(k, tensors)}: {_arg(x, tensors)}"
                               for k, x in v.items()) + "}"
    if isinstance(v, slice):
        return f"slice({v.start!r}, {v.stop!r}, {v.step!r})"
    if isinstance(v, str):
        return _str(v)
    if hasattr(v, "item") and not hasattr(v, "__len__"):
        v = v.item()
    return repr(v)


def _index(key, tensors):
    """``x[key]`` written the way one types it: ``:, 1:3``."""
    def one(k):
        if isinstance(k, slice):
            s = ("" if k.start is None else repr(k.start)) + ":" + \
                ("" if k.stop is None else repr(k.stop))
            return s + (f":{k.step!r}" if k.step is not None else "")
        if k is Ellipsis:
            return "..."
        return _arg(k, tensors)
    if isinstance(key, tuple):
        return ", ".join(one(k) for k in key) if key else "()"
    return one(key)


def _structure(struct, tensors):
    if isinstance(struct, keras.KerasTensor):
        return tensors[_key(struct)]
    return _arg(struct, tensors)


def _str(s):
    out = repr(s)
    if out.startswith("'") and '"' not in s:
        out = '"' + out[1:-1].replace("\\'", "'") + '"'
    return out


def _tuple(t):
    return "(" + ", ".join(repr(x) for x in t) + ("," if len(t) == 1 else "") + ")"


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_OPS = None


def _ops_function(op):
    """The ``keras.ops`` function that makes ``op`` (``Sum`` → ``"sum"``), or ``None``."""
    global _OPS
    if _OPS is None:
        _OPS = {n.replace("_", "").lower(): n for n in dir(keras.ops)
                if not n.startswith("_") and callable(getattr(keras.ops, n))}
    return _OPS.get(type(op).__name__.lower())


def _public(module, name):
    obj = keras
    for part in module.split(".")[1:] + [name]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _is_serialized(v):
    return isinstance(v, dict) and "class_name" in v and "config" in v and "module" in v


def _live(v):
    """Config values as the constructor takes them: serialized Keras objects deserialized."""
    if _is_serialized(v):
        return keras.saving.deserialize_keras_object(v)
    if isinstance(v, list):
        return [_live(x) for x in v]
    return v


def _minimal_kwargs(cls, config):
    """The fewest config entries (required ones always) that make ``cls(**entries)`` give
    ``config`` again, or ``None`` when the constructor cannot (it takes other arguments)."""
    try:
        sig = init_parameters(cls)
    except (TypeError, ValueError):
        return None
    required = [k for k, p in sig.items() if k != "self" and p.default is p.empty and
                p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if any(k not in config for k in required):
        return None
    name = {"name": config["name"]} if "name" in config and "name" in _accepted(sig) else {}
    config = {k: v for k, v in config.items() if k != "name"}

    def build(entries):
        # A model repeats a few configs hundreds of times: construct each one once.
        try:
            key = (cls, json.dumps(entries, sort_keys=True))
        except (TypeError, ValueError):
            key = None
        if key not in _BUILT or key is None:
            made = cls(**{k: _live(v) for k, v in entries.items()}, **name).get_config()
            made.pop("name", None)
            if key is None:
                return made
            _BUILT[key] = made
        return _BUILT[key]

    try:
        defaults = build({k: config[k] for k in required})
    except Exception:  # noqa: BLE001 - the constructor does not take its own config's values
        return None
    kwargs = {k: v for k, v in config.items()
              if k in required or defaults.get(k, _MISSING) != v}
    for _ in range(3):  # an entry whose default follows another one: add it, check again
        try:
            again = build(kwargs)
        except Exception:  # noqa: BLE001
            return None
        differ = {k for k in config if again.get(k, _MISSING) != config[k]}
        if not differ:
            return _short(kwargs, build, again)
        kwargs.update({k: config[k] for k in differ})
    return None


def _short(kwargs, build, config):
    """``kernel_size=7`` for ``(7, 7)`` where the constructor makes the same config of it."""
    for k, v in list(kwargs.items()):
        if isinstance(v, (tuple, list)) and len(v) > 1 and all(
                type(x) is int and x == v[0] for x in v):
            try:
                if build({**kwargs, k: v[0]}) == config:
                    kwargs[k] = v[0]
            except Exception:  # noqa: BLE001 - it takes no single number there
                pass
    return kwargs


def _accepted(sig):
    if any(p.kind == p.VAR_KEYWORD for p in sig.values()):
        return {"name"} | set(sig)
    return set(sig)


def _function_source(fn):
    """The source of ``fn``: the ``lambda ...`` expression, or a ``def`` block; ``None`` where
    Python cannot read it."""
    try:
        lines, _ = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    text = textwrap.dedent("".join(lines))
    if fn.__name__ != "<lambda>":
        return text if text.lstrip().startswith(("def ", "@")) else None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        try:  # a lambda on a continuation line: parse it inside parentheses
            tree = ast.parse("(\n" + text + "\n)")
            text = "(\n" + text + "\n)"
        except SyntaxError:
            return None
    want = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and
             [a.arg for a in n.args.args] == want]
    if len(found) != 1:  # several lambdas alike on these lines: which one is unknown
        return None
    return ast.get_source_segment(text, found[0])


def _free_values(fn):
    """``[(name, value)]`` the function reads from its closure or its module (not modules, not
    builtins)."""
    import types

    code = fn.__code__
    out = [(n, c.cell_contents) for n, c in zip(code.co_freevars, fn.__closure__ or ())]
    out += [(n, fn.__globals__[n]) for n in code.co_names if n in fn.__globals__ and
            not hasattr(builtins, n) and not isinstance(fn.__globals__[n], types.ModuleType)]
    return out


def _is_literal(value):
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
        return False
