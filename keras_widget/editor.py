"""``ModelEditor``: the graph, a panel that a click fills, a toolbar and the summary.

It only wires the other parts together: :mod:`graph` reads the model, :mod:`view` draws it,
:mod:`forms` builds the new layer, :mod:`edits` does the edit, :mod:`history` remembers it.
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import keras

from .clone import first_line
from .edits import Edit, editor_method
from .errors import EditError
from .forms import LayerForm, value_text
from .graph import is_keras_class, iter_layers, to_networkx
from .history import History
from .view import GraphView, shape_text

ACTIONS = ["replace", "insert after", "insert before", "delete", "rename"]


def summary_text(model):
    """``model.summary()`` as text (Keras's own table)."""
    lines = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    return "\n".join(lines)


def _pre(text, color=None):
    # Wrap at spaces, not inside words (a notebook's own styles may break anywhere).
    style = ("margin:0;white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;"
             "font-size:12px;line-height:1.3;")
    if color:
        style += f"color:{color};"
    return f"<pre style='{style}'>{html.escape(text)}</pre>"


class ModelEditor(widgets.VBox):
    """A widget that shows a Keras functional model as a graph and edits it by clicking.

    Click a layer (or call :meth:`select`), choose an action and a layer class in the panel, fill
    the fields, press Apply: the model is rebuilt (:mod:`keras_widget.edits`), the graph and the
    summary are redrawn, and what changed is highlighted and reported. A refused edit shows its
    error in the panel; model and view stay as they were.

    The same edits are methods (``replace_layer``, ``insert_layer``, ``delete_layer``,
    ``edit_layer``, ``rename_layer``, ``set_input_shape``, ``replace_all``, ``add_output``,
    ``remove_output``, ``inline_model``): the arguments of the functions without the model; each
    returns the ``EditReport`` and raises ``EditError`` when refused.

    ``model``: the current model. ``original``: the model it was opened on (never modified).
    ``history``: the applied edits (:class:`keras_widget.history.History`). ``graph``: the
    current ``networkx`` graph. ``cytoscape``: the ipycytoscape widget drawn into.
    ``extra_layers``: your own layer classes, offered in the picker under "custom".
    """

    def __init__(self, model, extra_layers=(), height="640px"):
        self.history = History(model)
        self._graph = to_networkx(model)  # raises EditError for a model it cannot read
        customs = list(extra_layers) + [type(layer) for _, layer in iter_layers(model)
                                        if not is_keras_class(type(layer))
                                        and not isinstance(layer, keras.Model)]
        self.form = LayerForm(list(dict.fromkeys(customs)), name_for=self._fresh_name)
        self.view = GraphView(on_click=self._clicked, height=height)
        self.selected = None  # node id

        self.title = widgets.HTML()
        self.details = widgets.HTML("<i>Click a layer in the graph.</i>")
        self.action = widgets.ToggleButtons(options=ACTIONS, value="replace",
                                            style={"button_width": "auto"})
        self.new_name = widgets.Text(description="new name", style={"description_width": "80px"})
        self.weights = widgets.Dropdown(options=["auto", "reinit", "keep"], value="auto",
                                        description="weights", style={"description_width": "80px"},
                                        layout=widgets.Layout(width="220px"))
        self.apply_button = widgets.Button(description="Apply", button_style="primary",
                                           icon="check", disabled=True)
        self.status = widgets.HTML()
        small = widgets.Layout(width="auto")
        self.undo_button = widgets.Button(description="Undo", icon="undo", disabled=True,
                                          layout=small)
        self.redo_button = widgets.Button(description="Redo", icon="repeat", disabled=True,
                                          layout=small)
        self.reset_button = widgets.Button(description="Reset", icon="refresh", disabled=True,
                                           layout=small, tooltip="Back to the original model")
        self.code_button = widgets.Button(description="Code", icon="code", layout=small,
                                          tooltip="Show the edits as Python code")
        self.fit_button = widgets.Button(description="Fit", icon="expand", layout=small,
                                         tooltip="Zoom out to the whole graph")
        self.actual_button = widgets.Button(description="1:1", icon="search", layout=small,
                                            tooltip="Readable size, from the top")
        self.find = widgets.Combobox(placeholder="go to layer…", ensure_option=False,
                                     continuous_update=False,
                                     layout=widgets.Layout(width="220px"))
        self.summary = widgets.HTML()

        self.action.observe(lambda _: self._show_action(), names="value")
        # An error is about what was asked; once the question changes, it goes.
        for w in (self.action, self.form.picker):
            w.observe(lambda _: self._clear_error(), names="value")
        self.apply_button.on_click(lambda _: self.apply())
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.reset_button.on_click(lambda _: self.reset())
        self.code_button.on_click(lambda _: self._show_code())
        self.fit_button.on_click(lambda _: self.view.fit())
        self.actual_button.on_click(lambda _: self.view.actual_size())
        self.find.observe(self._found, names="value")

        self.action_box = widgets.VBox()
        panel_items = [self.title, self.details, widgets.HTML("<hr style='margin:4px 0'>"),
                       self.action, self.action_box, widgets.HBox([self.apply_button]),
                       self.status]
        for w in panel_items + list(self.form.widget.children):
            w.layout.flex = "0 0 auto"  # never squeeze a part of the panel to nothing
        # The panel grows with what it shows (the page scrolls), so that the report or the
        # error under Apply is never hidden inside a scrolled box. Graph and panel share the
        # width 3:2 and the panel goes under the graph when there is no room for both.
        panel = widgets.VBox(panel_items, layout=widgets.Layout(
            flex="2 1 340px", min_width="320px", padding="0 0 0 8px"))
        self.view.widget.layout.width = "auto"
        self.view.widget.layout.flex = "3 1 440px"
        self.view.widget.layout.min_width = "320px"
        buttons = [self.undo_button, self.redo_button, self.reset_button, self.code_button,
                   self.fit_button, self.actual_button, self.find]
        for b in buttons:
            b.layout.flex = "0 0 auto"
        toolbar = widgets.HBox(buttons, layout=widgets.Layout(flex_flow="row wrap"))
        main = widgets.HBox([self.view.widget, panel],
                            layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        super().__init__([toolbar, main, self.view.viewport, widgets.HTML("<b>Summary</b>"),
                          self.summary])
        self.add_class("keras-widget-editor")
        # CSS classes: stable handles for the browser tests (and for people's own styling).
        for w, name in [(self.title, "kw-title"), (self.details, "kw-details"),
                        (self.action, "kw-action"), (self.new_name, "kw-new-name"),
                        (self.weights, "kw-weights"), (self.apply_button, "kw-apply"),
                        (self.status, "kw-status"), (self.summary, "kw-summary"),
                        (self.undo_button, "kw-undo"), (self.redo_button, "kw-redo"),
                        (self.reset_button, "kw-reset"), (self.code_button, "kw-code"),
                        (self.fit_button, "kw-fit"), (self.actual_button, "kw-actual"),
                        (self.find, "kw-find"), (self.view.widget, "kw-graph")]:
            w.add_class(name)
        self._show_action()
        self._refresh()

    # -- properties -------------------------------------------------------------------------

    @property
    def model(self):
        """The current model (the result of the last applied edit)."""
        return self.history.model

    @property
    def original(self):
        """The model the editor was opened on; it is never modified."""
        return self.history.original

    @property
    def graph(self):
        """The current model as a ``networkx.DiGraph`` (see :func:`keras_widget.to_networkx`)."""
        return self._graph

    @property
    def cytoscape(self):
        """The ipycytoscape widget the graph is drawn into."""
        return self.view.widget

    # -- selection ---------------------------------------------------------------------------

    def select(self, target, center=True):
        """Select a layer by node id (``"d2"``, ``"shared#1"``) or path, as a click does: the
        panel shows its details and prefills the form, and (``center``) the canvas moves to it.
        Raises ``EditError`` for an unknown target (and shows it in the panel)."""
        node_id = self._node_id(target)
        if node_id is None:
            self._error(f"There is no layer '{target}' in the graph.")
            raise EditError(f"There is no layer or call site '{target}' in model "
                            f"'{self.model.name}'.", target=target)
        self.selected = node_id
        data = self._graph.nodes[node_id]
        self.view.mark([node_id], "selected-layer")
        self.view.mark([], "error")
        self.title.value = (f"<b>{html.escape(data['path'])}</b> "
                            f"<span style='color:#666'>{html.escape(data['class_name'])}</span>")
        self.details.value = self._details_html(node_id)
        self.form.set_target(data["layer"], mode=self._form_mode())
        self.new_name.value = data["name"]
        self.status.value = ""
        self._show_action()
        if center:
            self.view.center(node_id)

    def _form_mode(self):
        return "replace" if self.action.value == "replace" else "insert"

    def _clicked(self, node_id):
        """A click on the canvas: like :meth:`select`, but a refusal only shows in the panel
        (a click can land on a node that a redraw has just taken away)."""
        try:
            self.select(node_id, center=False)  # the canvas stays under the mouse
        except EditError:
            pass

    def _found(self, change):
        """The go-to-layer box: a node id or path, or a part of one that names a single node."""
        text = change["new"].strip()
        if not text:
            return
        if self._node_id(text) is None:
            matches = [n for n in self._graph if text in n]
            if len(matches) != 1:
                self._note(f"No layer is called '{text}'." if not matches else
                           f"'{text}' matches {len(matches)} layers: "
                           f"{', '.join(matches[:8])}{', …' if len(matches) > 8 else ''}.")
                return
            text = matches[0]
        self.select(text)

    def _node_id(self, target):
        if target in self._graph:
            return target
        ids = [n for n, d in self._graph.nodes(data=True) if d["path"] == target]
        return ids[0] if ids else None

    def _fresh_name(self, cls):
        taken = {p.rsplit("/", 1)[-1] for p, _ in iter_layers(self.model)}
        return _unique(keras.src.utils.naming.to_snake_case(cls.__name__), taken)

    def _details_html(self, node_id):
        d = self._graph.nodes[node_id]
        layer = d["layer"]
        ins = [shape_text(self._graph.edges[p, node_id]["shape"])
               for p in self._graph.predecessors(node_id)]
        rows = [("kind", f"{d['kind']} · {d['category']}"),
                ("shapes", f"{', '.join(ins) or '—'} → {shape_text(d['output_shape'])}"),
                ("parameters", f"{d['params']:,}" + ("" if d["trainable"] else " (frozen)"))]
        calls = [n for n, e in self._graph.nodes(data=True) if e["path"] == d["path"]]
        if len(calls) > 1:
            rows.append(("call sites", ", ".join(calls)))
        try:
            config = layer.get_config()
        except Exception:  # noqa: BLE001 - some operations have no config
            config = {}
        skip = {"name", "trainable", "dtype", "layers", "input_layers", "output_layers"}
        row = ("<tr><td style='color:#666;padding:0 8px 0 0;vertical-align:top'>{}</td>"
               "<td style='padding:0'><code>{}</code></td></tr>")
        cells = "".join(row.format(html.escape(k), html.escape(v)) for k, v in rows)
        conf = "".join(row.format(html.escape(str(k)), html.escape(value_text(v)[:120]))
                       for k, v in config.items() if k not in skip)
        table = "<table style='font-size:12px;line-height:1.25;border-spacing:0'>{}</table>"
        return (table.format(cells) + (f"<details><summary>config</summary>{table.format(conf)}"
                                       f"</details>" if conf else ""))

    # -- the panel ---------------------------------------------------------------------------

    def _show_action(self):
        action = self.action.value
        self.form.set_mode(self._form_mode())
        if action in ("replace", "insert after", "insert before"):
            children = [self.form.widget]
            if action == "replace":
                children.append(self.weights)
        elif action == "rename":
            children = [self.new_name]
        else:
            children = [widgets.HTML("<i>The layer's consumers will read its input.</i>")]
        self.action_box.children = children
        kind = self._graph.nodes[self.selected]["kind"] if self.selected else None
        # An input can only be renamed or have a layer inserted after it.
        self.apply_button.disabled = self.selected is None or (
            kind == "input" and action in ("replace", "delete", "insert before"))

    def apply(self):
        """Do what the panel says to the selected layer (what the Apply button does).

        Returns the ``EditReport``, or ``None`` when the edit was refused; the error is then
        shown in the panel and the model and view stay as they were.
        """
        if self.selected is None:
            self._error("Click a layer in the graph first.")
            return None
        data = self._graph.nodes[self.selected]
        path, action = data["path"], self.action.value
        try:
            if action == "delete":
                edit = Edit("delete_layer", dict(target=path))
            elif action == "rename":
                edit = Edit("rename_layer", dict(target=path, new_name=self.new_name.value.strip()))
            elif action == "replace":
                edit = self._replace_edit(data)
                if edit is None:
                    self._note("Nothing to change: the fields are as the layer already is.")
                    return None
            else:
                where = "after" if action == "insert after" else "before"
                edit = Edit("insert_layer", {"layer": self.form.build(), where: self.selected})
            return self._apply(edit)
        except EditError as exc:
            self._error(str(exc), exc.layer)
        except Exception as exc:  # noqa: BLE001 - the panel never shows a raw traceback
            self._error(f"{type(exc).__name__}: {first_line(exc)}")
        return None

    def _replace_edit(self, data):
        layer = data["layer"]
        cls, _ = self.form.values()
        if type(layer) is cls:
            changed = self.form.changed()
            if not changed or _same_config(layer, changed):
                return None
            return Edit("edit_layer", dict(target=data["path"], weights=self.weights.value,
                                           **changed))
        return Edit("replace_layer", dict(target=data["path"], new_layer=self.form.build(),
                                          weights=self.weights.value))

    # -- edits as methods --------------------------------------------------------------------

    def _apply(self, edit):
        try:
            result = self.history.apply(edit)
        except EditError as err:
            self._error(str(err), err.layer)  # the panel says it too; the model stays as it was
            raise
        self._refresh(result.report)
        return result.report

    # One method per edit kind, derived from its record: the public function's arguments without
    # the model, plus dry_run=True (the report the edit would give, nothing applied).
    replace_layer = editor_method("replace_layer")
    insert_layer = editor_method("insert_layer")
    delete_layer = editor_method("delete_layer")
    edit_layer = editor_method("edit_layer")
    rename_layer = editor_method("rename_layer")
    set_input_shape = editor_method("set_input_shape")
    replace_all = editor_method("replace_all")
    add_output = editor_method("add_output")
    remove_output = editor_method("remove_output")
    inline_model = editor_method("inline_model")

    # -- history -----------------------------------------------------------------------------

    def undo(self):
        """Back to the model before the last edit. Returns ``False`` if there was none."""
        done = self.history.undo()
        self._refresh()
        return done

    def redo(self):
        """Re-apply the last undone edit. Returns ``False`` if there was none."""
        done = self.history.redo()
        self._refresh(self.history.last.report if done else None)
        return done

    def reset(self):
        """Back to the original model; the history is cleared."""
        self.history.reset()
        self.weights.value = "auto"
        self._refresh()

    def to_code(self, name="model"):
        """The edits made so far as Python code using the public API."""
        return self.history.to_code(name)

    def _show_code(self):
        self.status.value = _pre(self.to_code())

    # -- drawing -----------------------------------------------------------------------------

    def _refresh(self, report=None):
        """Redraw graph and summary for the current model; mark what ``report`` changed."""
        self._graph = to_networkx(self.model)
        marks = {}
        if report is not None:
            added, reinit = set(report.added), set(report.reinitialized)
            for node_id, d in self._graph.nodes(data=True):
                if d["path"] in added:
                    marks.setdefault(node_id, set()).add("added")
                elif d["path"] in reinit and d["kind"] != "model":
                    marks.setdefault(node_id, set()).add("reinitialized")
        self.view.draw(self._graph, marks)
        self.find.options = list(self._graph)
        self.summary.value = _pre(summary_text(self.model))
        target = None
        if report is not None and len(report.added) == 1:
            target = report.added[0]  # what the edit made: inserted, replacing or renamed
        elif self.selected is not None:
            target = self.selected if self.selected in self._graph else self.selected.split("#")[0]
        if target is not None:
            if self._node_id(target) is not None:
                self.select(target)
            else:
                self.selected = None
                self.title.value = ""
                self.details.value = "<i>Click a layer in the graph.</i>"
        if report is not None:
            self.status.value = _pre(str(report), "#00441b")
        else:
            self.status.value = ""
        self.undo_button.disabled = len(self.history) == 0
        self.redo_button.disabled = not self.history.can_redo
        self.reset_button.disabled = len(self.history) == 0
        self._show_action()

    def _error(self, message, layer=None):
        """Show a refusal; ``layer`` (a path), where the edit fails, is outlined in red."""
        failing = [n for n, d in self._graph.nodes(data=True) if layer and d["path"] == layer]
        self.view.mark(failing, "error")
        self.status.value = (f"<div class='kw-error' style='border-left:4px solid #cb181d;"
                             f"padding-left:6px'>{_pre(message, '#a50f15')}</div>")

    def _clear_error(self):
        if "kw-error" in self.status.value:
            self.status.value = ""

    def _note(self, message):
        self.status.value = _pre(message, "#525252")


def _same_config(layer, changed):
    """Whether ``changed`` leaves the layer as it is once Keras has normalized the values
    (``3`` and ``(3, 3)`` for a kernel size, ``" 32"`` and ``32``)."""
    try:
        config = layer.get_config()
        return type(layer).from_config({**config, **changed}).get_config() == config
    except Exception:  # noqa: BLE001 - the edit itself will say what is wrong
        return False


def _unique(base, taken):
    name, k = base, 1
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    return name
