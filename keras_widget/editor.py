"""``ModelEditor``: the graph, a panel that a click fills, a toolbar and the summary.

It only wires the other parts together: :mod:`graph` reads the model, :mod:`view` draws it,
:mod:`forms` builds the new layer, :mod:`edits` does the edit, :mod:`history` remembers it.
"""
from __future__ import annotations

import contextlib
import html
import math
import time

import ipywidgets as widgets
import keras
import numpy as np

from . import keras_internals as ki
from .codegen import to_code
from .codeview import CodeView
from .edits import Edit, editor_method
from .errors import EditError, first_line
from .forms import LayerForm, parse_value, value_text
from .graph import is_keras_class, iter_layers, to_networkx
from .history import History
from .saving import save_and_check
from .surgery import collector_paused
from .view import GraphView, made, shape_text
from .view import to_graphviz as to_graphviz_dot

# What a click on each kind of node offers, in this order (what does not apply is not offered).
OFFERS = {
    "layer": ["replace", "edit config", "insert after", "insert before", "delete", "rename",
              "replace all", "add output", "remove output"],
    "op": ["replace", "insert after", "insert before", "delete", "rename", "add output",
           "remove output"],
    "model": ["inline", "insert after", "insert before", "delete", "rename", "add output",
              "remove output"],
    "input": ["set input shape", "insert after", "rename"],
}
ACTIONS = list(dict.fromkeys(a for actions in OFFERS.values() for a in actions))
# One line on what a kind of node does not offer, and why.
NOT_OFFERED = {
    "op": "A keras.ops operation has no config to edit (its arguments are code): replace it "
          "by a layer to change what it does.",
    "model": "A nested model is not replaced or edited as a whole: click a layer inside it, or "
             "inline it into this model.",
    "input": "An input layer is not replaced or deleted: change its shape, rename it or insert "
             "a layer after it.",
}


def summary_text(model):
    """``model.summary()`` as text (Keras's own table)."""
    lines = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    return "\n".join(lines)


def parameter_counts(model):
    """``(total, trainable, non-trainable)`` parameter counts of ``model``, as ``summary()``
    counts them (the sizes of its variables)."""
    def size(variables):
        return sum(math.prod(v.shape) for v in variables)

    trainable, frozen = size(model.trainable_weights), size(model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def parameters_html(model, before=None):
    """Parameter counts (total, trainable, non-trainable), as ``before`` → now where a model
    ``before`` is given and its counts differ."""
    now = parameter_counts(model)
    old = parameter_counts(before) if before is not None else now
    cells = []
    for label, a, b in zip(("total", "trainable", "non-trainable"), old, now):
        text = f"{b:,}" if a == b else f"{a:,} → <b>{b:,}</b> ({b - a:+,})"
        cells.append(f"<span style='margin-right:14px'>{label}: {text}</span>")
    return f"<div style='font-size:12px'><b>Parameters</b> {''.join(cells)}</div>"


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
        self._graph_of = model  # the model self._graph was read from (read once per model)
        customs = list(extra_layers) + [type(layer) for _, layer in iter_layers(model)
                                        if not is_keras_class(type(layer))
                                        and not isinstance(layer, keras.Model)]
        self.form = LayerForm(list(dict.fromkeys(customs)), name_for=self._fresh_name)
        self.form.on_change = lambda: self._update_preview()
        self.view = GraphView(on_click=self._clicked, height=height, css="kw-graph",
                              width="auto", flex="3 1 440px", min_width="320px")
        self.selected = None  # node id

        fixed = {"flex": "0 0 auto"}  # never squeezed to nothing in its row or column
        part = widgets.Layout(**fixed)  # one layout for the parts of the panel
        # One style for all the texts, one for all the buttons: one widget each, not one per
        # widget (each is a message to the browser when the editor opens).
        text, button = widgets.HTML.style.klass(), widgets.ButtonStyle()
        self.title = made(widgets.HTML, "kw-title", part, style=text)
        self.details = made(widgets.HTML, "kw-details", part, style=text,
                            value="<i>Click a layer in the graph.</i>")
        self.action = made(widgets.ToggleButtons, "kw-action",
                           {**fixed, "display": "none"},  # shown once a layer is selected
                           options=ACTIONS, value="replace", style={"button_width": "auto"})
        # Shared by the three texts.
        field = widgets.Text.style.klass(description_width="80px")
        self.new_name = made(widgets.Text, "kw-new-name", description="new name",
                             continuous_update=False, style=field)
        self.input_shape = made(widgets.Text, "kw-input-shape", description="shape",
                                placeholder="(224, 224, 3)", continuous_update=False,
                                tooltip="The input's shape without the batch axis", style=field)
        self.batch_size = made(widgets.Text, "kw-batch-size", description="batch size",
                               placeholder="free", continuous_update=False,
                               tooltip="Empty: any batch size; a number fixes it "
                                       "(a stateful RNN needs it)", style=field)
        # One line: what this node does not offer, and why.
        self.why_not = made(widgets.HTML, "kw-why-not", part, style=text)
        self._action_note = widgets.HTML(style=text)
        self.weights = made(widgets.Dropdown, "kw-weights", {"width": "220px"},
                            options=["auto", "reinit", "keep"], value="auto",
                            description="weights", style={"description_width": "80px"})
        self.apply_button = made(widgets.Button, "kw-apply", style=button, description="Apply",
                                 button_style="primary", icon="check", disabled=True)
        self.status = made(widgets.HTML, "kw-status", part, style=text)
        # What Apply would do (a dry run's report).
        self.preview = made(widgets.HTML, "kw-preview-area", part, style=text)
        # How far a long rebuild is (shown only while one runs; made once, not per Apply).
        self.progress = made(widgets.IntProgress, "kw-progress", {
            "display": "none", "width": "200px", "margin": "auto 0 auto 8px"}, min=0, max=100)
        small = widgets.Layout(width="auto", **fixed)  # one for every button of the toolbar

        def tool(css, **kwargs):  # a toolbar button
            return made(widgets.Button, css, small, style=button, **kwargs)

        self.undo_button = tool("kw-undo", description="Undo", icon="undo", disabled=True)
        self.redo_button = tool("kw-redo", description="Redo", icon="repeat", disabled=True)
        self.reset_button = tool("kw-reset", description="Reset", icon="refresh", disabled=True,
                                 tooltip="Back to the original model")
        self.code_button = tool("kw-code", description="Code", icon="code",
                                tooltip="Show the edits as Python code")
        self.save_button = tool("kw-save", description="Save", icon="save",
                                tooltip="Save the model to <name>.keras, load it back and "
                                        "compare outputs")
        self.export = made(
            widgets.Dropdown, "kw-export", {"width": "170px", **fixed},
            options=[("Export…", ""), ("PNG: the canvas", "png"),
                     ("PNG: the whole graph", "png-full"), ("SVG (Graphviz)", "svg")],
            value="", tooltip="Download the view as a picture")
        self.fit_button = tool("kw-fit", description="Fit", icon="expand",
                               tooltip="Zoom out to the whole graph")
        self.actual_button = tool("kw-actual", description="1:1", icon="search",
                                  tooltip="Readable size, from the top")
        self.expand_button = tool("kw-expand-all", description="Expand all",
                                  icon="plus-square-o", tooltip="Open every block")
        self.collapse_button = tool("kw-collapse-all", description="Collapse all",
                                    icon="minus-square-o", tooltip="Close every block")
        self.zoom_in_button = tool("kw-zoom-in", icon="search-plus",
                                   tooltip="Zoom in (or Ctrl/Cmd + wheel)")
        self.zoom_out_button = tool("kw-zoom-out", icon="search-minus",
                                    tooltip="Zoom out (or Ctrl/Cmd + wheel)")
        self.history_list = made(widgets.Dropdown, "kw-history", {"width": "230px", **fixed},
                                 options=[("0 · original model", 0)], value=0,
                                 tooltip="Every edit; pick one to go back to it")
        self._quiet_history = False
        self.history_list.observe(self._history_picked, names="value")
        self.find = made(widgets.Combobox, "kw-find", {"width": "220px", **fixed},
                         placeholder="go to layer…", ensure_option=False,
                         continuous_update=False)
        # Parameters before → after, then Keras's own summary() table, made when the person
        # opens it (it takes seconds on a 700-layer model: no open or Apply pays for it
        # unseen), in a box of bounded height.
        self.parameters = made(widgets.HTML, "kw-parameters", style=text)
        self.summary_table = widgets.HTML(style=text)
        self.summary = made(widgets.Accordion, "kw-summary", children=[self.summary_table],
                            selected_index=None)
        self._summary_of = None  # the model the table shows
        self.summary.observe(lambda _: self._fill_summary(), names="selected_index")
        self.code_view = CodeView()  # the current model's source

        self._quiet_action = False  # while the offered actions are being replaced
        self.action.observe(lambda _: self._quiet_action or self._show_action(), names="value")
        for w in (self.new_name, self.input_shape, self.batch_size, self.weights):
            w.observe(lambda _: self._update_preview(), names="value")
        # An error is about what was asked; once the question changes, it goes.
        for w in (self.action, self.form.picker):
            w.observe(lambda _: self._clear_error(), names="value")
        self.apply_button.on_click(lambda _: self.apply())
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.reset_button.on_click(lambda _: self.reset())
        self.code_button.on_click(lambda _: self._show_code())
        self.save_button.on_click(lambda _: self._quietly(self.save))
        self.export.observe(self._export_picked, names="value")
        self.fit_button.on_click(lambda _: self.view.fit())
        self.actual_button.on_click(lambda _: self.view.actual_size())
        self.expand_button.on_click(lambda _: self.view.expand_all())
        self.collapse_button.on_click(lambda _: self.view.collapse_all())
        self.zoom_in_button.on_click(lambda _: self.view.zoom(1.25))
        self.zoom_out_button.on_click(lambda _: self.view.zoom(0.8))
        self.find.observe(self._found, names="value")
        # What the browser tells: a key pressed in the editor, a PNG it wrote.
        self.view.viewport.on_key = self._key
        self.view.viewport.on_png = lambda name, size: self._note(
            f"The browser downloaded {name} ({(size or 0) / 1024:,.0f} kB).")
        self._pending_delete = None  # the node a first Delete key asked about
        # The browser says when the mouse goes down on Apply: the value of the field it leaves
        # arrives just before the click, and is then applied, not previewed first.
        self._apply_pressed = None  # time.monotonic() of that press
        self._preview_skipped = False
        self.view.viewport.on_apply_press = self._apply_press
        # The source of the Code view and the form's fields are made once the graph went to
        # the browser (an open draws the graph first), or when first needed.
        self.view.viewport.on_drawn = self._drawn

        self.action_box = widgets.VBox(layout=part)
        # Apply, the preview and the result sit above the fields, so that on a small screen
        # (1280x720) they are in view with the top of the editor; the fields come below.
        panel_items = [self.title, self.details,
                       widgets.HTML("<hr style='margin:4px 0'>", layout=part,
                                    style=text),
                       self.action, self.why_not,
                       widgets.HBox([self.apply_button, self.progress], layout=part),
                       self.preview, self.status, self.action_box]
        # The panel grows with what it shows (the page scrolls), so that the report or the
        # error under Apply is never hidden inside a scrolled box. Graph and panel share the
        # width 3:2 and the panel goes under the graph when there is no room for both.
        panel = widgets.VBox(panel_items, layout=widgets.Layout(
            flex="2 1 340px", min_width="320px", padding="0 0 0 8px"))
        buttons = [self.undo_button, self.redo_button, self.reset_button, self.history_list,
                   self.code_button, self.save_button, self.export, self.fit_button,
                   self.actual_button,
                   self.zoom_in_button, self.zoom_out_button, self.expand_button,
                   self.collapse_button, self.find]
        toolbar = widgets.HBox(buttons, layout=widgets.Layout(flex_flow="row wrap"))
        main = widgets.HBox([self.view.widget, panel],
                            layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        super().__init__([toolbar, main, self.view.viewport, self.code_view, self.parameters,
                          self.summary], _dom_classes=("keras-widget-editor",))
        self._show_action()
        self._refresh(code_later=True)

    def _drawn(self):
        self.code_view.fill()
        self.form.prepare()

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
        blocks that hold it open, the panel shows its details and prefills the form, and
        (``center``) the canvas moves to it.
        Raises ``EditError`` for an unknown target (and shows it in the panel)."""
        node_id = self._node_id(target)
        if node_id is None:
            self._error(f"There is no layer '{target}' in the graph.")
            raise EditError(f"There is no layer or call site '{target}' in model "
                            f"'{self.model.name}'.", target=target)
        data = self._graph.nodes[node_id]
        # The same layer clicked again keeps what was typed; another one starts afresh.
        again = node_id == self.selected and data["layer"] is self.form.target
        self.selected = node_id
        # The panel names the layer first; the canvas's change follows as one diff (the blocks
        # that hold it opened, its mark).
        with self.view.batch():
            self.view.reveal([node_id])
            self.view.mark([node_id], "selected-layer")
            self.view.mark([], "error")
            if not again:
                self.title.value = (f"<b>{html.escape(data['path'])}</b> "
                                    f"<span style='color:#666'>"
                                    f"{html.escape(data['class_name'])}</span>")
                self.details.value = self._details_html(node_id)
        if not again:
            self._pending_delete = None
            self.form.set_target(data["layer"], mode=self._form_mode())
            self.new_name.value = data["name"]
            if data["kind"] == "input":
                shape = data["output_shape"]
                self.input_shape.value = repr(tuple(shape[1:]))
                self.batch_size.value = "" if shape[0] is None else str(shape[0])
            self.weights.value = "auto"
            self.status.value = ""
        self._show_action()
        if center:
            self.view.center(node_id)

    def _form_mode(self):
        return ("replace" if self.action.value in ("replace", "edit config", "replace all")
                else "insert")

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
        return _unique(ki.snake_case(cls.__name__), taken)

    def _details_html(self, node_id):
        d = self._graph.nodes[node_id]
        layer = d["layer"]
        ins = [shape_text(self._graph.edges[p, node_id]["shape"])
               for p in self._graph.predecessors(node_id)]
        rows = [("kind", f"{d['kind']} · {d['category']}"),
                ("shapes", f"{', '.join(ins) or '—'} → {shape_text(d['output_shape'])}"),
                ("parameters", f"{d['params']:,}" + ("" if d["trainable"] else " (frozen)"))]
        if d["parent"] is not None:
            rows.append(("inside", d["parent"]))
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
        out = table.format(cells)
        if conf:
            out += f"<details><summary>config</summary>{table.format(conf)}</details>"
        variables = [] if d["kind"] == "model" else getattr(layer, "weights", [])
        if variables:
            weights = "".join(row.format(html.escape(f"{v.name}{'' if v.trainable else ' ❄'}"),
                                         html.escape(_variable_text(v)))
                              for v in variables)
            out += (f"<details><summary>weights ({len(variables)})</summary>"
                    f"{table.format(weights)}</details>")
        return out

    # -- the panel ---------------------------------------------------------------------------

    def _outputs(self):
        """``{node id: output key}`` for the model's outputs (dict keys, or list indices)."""
        out = self.model.output
        entries = out.items() if isinstance(out, dict) else enumerate(keras.tree.flatten(out))
        keys = {}
        for key, tensor in entries:
            for node_id, d in self._graph.nodes(data=True):
                if d["parent"] is None and any(t is tensor for t in d["keras_node"].outputs):
                    keys.setdefault(node_id, key)
        return keys

    def offered(self, node_id):
        """``(actions, why_not)``: the actions the panel offers for ``node_id`` and one line
        on what it does not offer and why (``""`` when everything applies)."""
        d = self._graph.nodes[node_id]
        actions, why = list(OFFERS[d["kind"]]), [NOT_OFFERED.get(d["kind"], "")]
        outputs = self._outputs()
        several_inputs = self._graph.in_degree(node_id) > 1
        if several_inputs and d["kind"] != "model":
            actions = [a for a in actions if a not in ("delete", "insert before")]
            why.append("It takes several inputs, so it cannot be deleted or have a layer "
                       "inserted before it: insert after one of its inputs instead.")
        if d["parent"] is not None:
            actions = [a for a in actions if a not in ("add output", "set input shape")]
            why.append("It sits inside a nested model: inline that model to make this an output "
                       "or to reshape its inputs.")
        if node_id in outputs:
            actions.remove("add output") if "add output" in actions else None
            if len(outputs) < 2 and "remove output" in actions:
                actions.remove("remove output")
                why.append("It is the model's only output, so it cannot be removed.")
        elif "remove output" in actions:
            actions.remove("remove output")
        return actions, " ".join(w for w in why if w)

    def _show_action(self):
        if self.selected is not None and self.selected in self._graph:
            actions, why = self.offered(self.selected)
        else:
            actions, why = ACTIONS, ""
        if list(self.action.options) != actions:
            current = self.action.value
            self._quiet_action = True
            try:
                self.action.options = actions
                self.action.value = current if current in actions else actions[0]
            finally:
                self._quiet_action = False
        # Nothing selected: no actions to offer (the title says to click a layer).
        self.action.layout.display = "none" if self.selected is None else None
        self.why_not.value = (f"<div style='color:#525252;font-size:12px;line-height:1.3'>"
                              f"{html.escape(why)}</div>" if why else "")
        action = self.action.value
        self.form.set_mode(self._form_mode())
        self.form.lock_class(action in ("edit config",))
        weights = [self.weights]
        if self.selected is None:
            children = []  # no form for no layer: the details say to click one
        elif action in ("replace", "edit config", "replace all"):
            children = [self.form.widget] + weights
        elif action in ("insert after", "insert before"):
            children = [self.form.widget]
        elif action == "rename":
            children = [self.new_name]
        elif action == "set input shape":
            children = [self.input_shape, self.batch_size] + weights
        else:
            self._action_note.value = f"<i>{html.escape(self._action_text(action))}</i>"
            children = [self._action_note]
        if tuple(children) != tuple(self.action_box.children):
            self.action_box.children = children
        self.apply_button.disabled = self.selected is None
        self._update_preview()

    def _update_preview(self):
        """Show what Apply would do, from the engine's dry run (nothing is built): the config
        and model shape changes, what would be added, removed or re-created and why; or the
        refusal, before Apply. A field that does not parse says so under itself."""
        if self._apply_pressed is not None and time.monotonic() - self._apply_pressed < 1.0:
            self._preview_skipped = True  # Apply is being pressed: it reports, not a dry run
            return
        self._preview_skipped = False
        text, refused = "", False
        if self.selected is not None and self.selected in self._graph:
            data = self._graph.nodes[self.selected]
            try:
                edit = self._panel_edit(data, self.action.value, quiet=True)
                report = self.history.preview(edit) if edit is not None else None
                if report is not None and (report.changed or report.removed or report.notes
                                           or report.config_changes or report.shape_changes):
                    text = str(report)  # an edit that changes nothing is not previewed
            except EditError as err:
                text, refused = str(err), True
            except Exception as exc:  # noqa: BLE001 - a preview never raises
                text, refused = f"{type(exc).__name__}: {first_line(exc)}", True
        if not text:
            value = ""
        elif refused:
            value = (f"<div class='kw-preview kw-preview-refused' style='border-left:4px solid "
                     f"#fc9272;padding-left:6px'><b style='font-size:12px'>Apply would be "
                     f"refused:</b>{_pre(text, '#a50f15')}</div>")
        else:
            value = (f"<div class='kw-preview' style='border-left:4px solid #9ecae1;"
                     f"padding-left:6px'><b style='font-size:12px'>Apply would give:</b>"
                     f"{_pre(text, '#08306b')}</div>")
        if self.preview.value != value:
            self.preview.value = value

    def _apply_press(self, pressed):
        """The mouse went down on Apply (``True``), or the press ended off it (``False``: the
        preview skipped meanwhile is made now)."""
        self._apply_pressed = time.monotonic() if pressed else None
        if not pressed and self._preview_skipped:
            self._update_preview()

    def _action_text(self, action):
        """What Apply will do, for the actions that take no fields."""
        d = self._graph.nodes[self.selected] if self.selected else {"path": "", "name": ""}
        return {
            "delete": f"'{d['path']}' goes; its consumers will read its input.",
            "add output": f"The output of '{d['path']}' becomes an extra output of the model.",
            "remove output": f"The output of '{d['path']}' is no longer a model output; the "
                             f"layers that fed only it go too.",
            "inline": f"The layers of '{d['path']}' move into this model; its weights stay.",
        }.get(action, "")

    def apply(self):
        """Do what the panel says to the selected layer (what the Apply button does).

        Returns the ``EditReport``, or ``None`` when the edit was refused; the error is then
        shown in the panel and the model and view stay as they were.
        """
        self._apply_pressed = None
        if self.selected is None:
            self._error("Click a layer in the graph first.")
            return None
        data = self._graph.nodes[self.selected]
        try:
            edit = self._panel_edit(data, self.action.value)
            if edit is None:
                self._note("Nothing to change: the fields are as the layer already is.")
                return None
            return self._apply(edit)
        except EditError as exc:
            self._error(str(exc), exc.layer)
        except Exception as exc:  # noqa: BLE001 - the panel never shows a raw traceback
            self._error(f"{type(exc).__name__}: {first_line(exc)}")
        return None

    def _panel_edit(self, data, action, quiet=False):
        """The :class:`Edit` the panel describes for the selected node, or ``None`` when it
        would change nothing (or, ``quiet``, when a form has nothing picked or a required field
        empty yet). Raises ``EditError`` for a field that does not parse."""
        path, weights = data["path"], self.weights.value
        if quiet and action in ("replace", "edit config", "replace all", "insert after",
                                "insert before") and not self.form.complete():
            return None
        if action == "delete":
            return Edit("delete_layer", dict(target=path))
        if action == "rename":
            new_name = self.new_name.value.strip()
            if new_name == data["name"]:
                return None  # the name it already has: nothing to change, nothing to refuse
            return Edit("rename_layer", dict(target=path, new_name=new_name))
        if action in ("replace", "edit config"):
            return self._replace_edit(data)
        if action in ("insert after", "insert before"):
            where = "after" if action == "insert after" else "before"
            return Edit("insert_layer", {"layer": self.form.build(), where: self.selected})
        if action == "set input shape":
            shape = parse_value("shape", self.input_shape.value)
            if isinstance(shape, int):
                shape = (shape,)
            batch = self.batch_size.value.strip()
            return Edit("set_input_shape", dict(
                shape=shape, input=path, weights=weights,
                batch_size=parse_value("batch size", batch) if batch else None))
        if action == "replace all":
            cls, kwargs = self.form.values()
            kwargs.pop("name", None)  # each new layer keeps the name of the one it replaces
            return Edit("replace_all", dict(match=type(data["layer"]),
                                            factory=Rebuild(cls, kwargs), weights=weights))
        if action == "add output":
            return Edit("add_output", dict(target=self.selected))
        if action == "remove output":
            return Edit("remove_output", dict(output=self._outputs()[self.selected]))
        if action == "inline":
            return Edit("inline_model", dict(nested=path))
        raise EditError(f"Unknown action '{action}'.")

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
        # The garbage collector's first pass over the new model's objects comes after the
        # view and the panel show the result, not between the rebuild and the drawing.
        with collector_paused():
            try:
                with self._busy(f"Rebuilding '{self.model.name}' ({len(self._graph)} nodes)…"):
                    result = self.history.apply(edit, progress=ProgressBar(self.progress))
            except EditError as err:
                self._error(str(err), err.layer)  # the panel says it; the model stays as it was
                raise
            self._refresh(result.report)
        return result.report

    @contextlib.contextmanager
    def _busy(self, text):
        """While a long step runs: Apply and the history buttons are disabled (a second press
        would queue a second edit) and the panel says what is running; both reach the browser
        at once, before the step starts. After it, the progress bar is hidden."""
        buttons = (self.apply_button, self.undo_button, self.redo_button, self.reset_button,
                   self.save_button)
        states = [b.disabled for b in buttons]
        for b in buttons:
            b.disabled = True
        self.status.value = (f"<div class='kw-busy' style='color:#525252;font-size:12px'>"
                             f"<span class='kw-spinner'>⏳</span> {html.escape(text)}</div>")
        try:
            yield
        finally:
            if self.progress.layout.display != "none":  # gone before Apply comes back
                self.progress.layout.display = "none"
            for b, state in zip(buttons, states):
                b.disabled = state
            if "kw-busy" in self.status.value:
                self.status.value = ""

    def save(self, path=None):
        """Save the current model to a ``.keras`` file (``<model name>.keras`` in the working
        directory when ``path`` is ``None``), load it back and compare outputs on a random
        batch (:func:`keras_widget.saving.save_and_check`). Returns the ``SaveCheck``; raises
        ``EditError`` saying what stops the model from being saved and how to fix it. What the
        Save button does; the panel shows the result either way."""
        path = path or f"{self.model.name}.keras"
        try:
            with self._busy(f"Saving '{self.model.name}' to {path} and loading it back…"):
                check = save_and_check(self.model, path)
        except EditError as err:
            self._error(str(err))
            raise
        self._note(str(check))
        return check

    def export_svg(self, path=None):
        """Write the whole graph as SVG through Graphviz (``<model name>.svg`` when ``path`` is
        ``None``) and return the path. Raises ``EditError`` when Graphviz's ``dot`` program is
        missing (``apt-get install graphviz``, ``conda install graphviz``)."""
        path = path or f"{self.model.name}.svg"
        try:
            svg = to_graphviz_dot(self._graph).pipe(format="svg")
        except Exception as exc:  # noqa: BLE001 - graphviz.ExecutableNotFound, mostly
            err = EditError(f"The SVG could not be drawn: {first_line(exc)} (SVG export needs "
                            f"Graphviz's 'dot' program: apt-get install graphviz, or conda "
                            f"install graphviz).", cause=exc)
            self._error(str(err))
            raise err from None
        with open(path, "wb") as f:
            f.write(svg)
        self._note(f"The graph of '{self.model.name}' ({len(self._graph)} nodes) was written "
                   f"to {path}.")
        return path

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
        """Back to the original model, as a step in the history: :meth:`undo` takes it back.
        Returns ``False`` when the model already is the original."""
        done = self.history.reset()
        self.weights.value = "auto"
        self._refresh()
        if done:
            self._note("Back to the original model. Undo takes you back to where you were.")
        return done

    def go_to(self, step):
        """Back (or forward) to a step of the history list: 0 is the original model, ``k`` the
        model after the k-th edit (:meth:`History.steps`). What a pick in the history list
        does. Raises ``EditError`` for a step that does not exist."""
        try:
            self.history.go_to(step)
        except IndexError as exc:
            raise EditError(str(exc)) from None
        self._refresh(self.history.last.report if self.history.last else None)

    def to_code(self, name="model"):
        """The current model as functional-API source (:func:`keras_widget.to_code`); the edits
        as calls of this library are ``history.to_code()``."""
        return to_code(self.model, name)

    def _show_code(self):
        self.status.value = _pre(self.history.to_code())

    # -- drawing -----------------------------------------------------------------------------

    def _refresh(self, report=None, code_later=False):
        """Redraw graph and summary for the current model; mark what ``report`` changed
        (``code_later``: the Code view's source when the browser has drawn the graph)."""
        if self._graph_of is not self.model:
            self._graph, self._graph_of = to_networkx(self.model), self.model
        marks = {}
        if report is not None:
            added, reinit = set(report.added), set(report.reinitialized)
            for node_id, d in self._graph.nodes(data=True):
                if d["path"] in added:
                    marks.setdefault(node_id, set()).add("added")
                elif d["path"] in reinit and d["kind"] != "model":
                    marks.setdefault(node_id, set()).add("reinitialized")
        with self.view.batch():  # one diff
            self.view.draw(self._graph, marks)
            added = [n for n, m in marks.items() if "added" in m]
            if len(added) <= 20:  # what an edit made is shown (a replace_all may make hundreds)
                self.view.reveal(added)
        # The panel next (the layer Apply now acts on, the edit's report), then the rest.
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
        if report is not None:  # (after select, which clears the status of another layer)
            self.status.value = _pre(str(report), "#00441b")
        else:
            self.status.value = ""
        self.find.options = list(self._graph)
        self.parameters.value = parameters_html(self.model, getattr(self, "_drawn_model", None))
        self._drawn_model = self.model  # what the next refresh compares its counts with
        self.summary.set_title(0, f"model.summary(): {len(self.model.layers)} layers")
        self._fill_summary()
        self.code_view.show(self.model, later=code_later)
        self.undo_button.disabled = len(self.history) == 0
        self.redo_button.disabled = not self.history.can_redo
        self.reset_button.disabled = self.model is self.original
        steps = self.history.steps()
        options = [(f"{k} · {text}", k) for k, text in steps]
        with self.history_list.hold_sync():
            self._quiet_history = True
            try:
                if list(self.history_list.options) != options:
                    self.history_list.options = options
                self.history_list.value = len(self.history)
            finally:
                self._quiet_history = False
        self.history_list.disabled = len(steps) == 1
        self._show_action()

    def _fill_summary(self):
        """Keras's summary() table of the current model, where the summary box is open."""
        if self.summary.selected_index is None or self._summary_of is self.model:
            return
        self.summary_table.value = (f"<div style='max-height:360px;overflow:auto'>"
                                    f"{_pre(summary_text(self.model))}</div>")
        self._summary_of = self.model

    def _error(self, message, layer=None):
        """Show a refusal; ``layer`` (a path), where the edit fails, is outlined in red."""
        failing = [n for n, d in self._graph.nodes(data=True) if layer and d["path"] == layer]
        with self.view.batch():
            self.view.reveal(failing)
            self.view.mark(failing, "error")
        if failing:
            self.view.center(failing[0])
        self.status.value = (f"<div class='kw-error' style='border-left:4px solid #cb181d;"
                             f"padding-left:6px'>{_pre(message, '#a50f15')}</div>")

    def _clear_error(self):
        if "kw-error" in self.status.value:
            self.status.value = ""

    def export_png(self, full=False, name=None):
        """Have the browser download the canvas as a PNG (``<model name>.png``), or with
        ``full`` the whole graph at a readable size (zoom 1). The panel says when it is
        written. Nothing happens where the editor is not displayed."""
        name = name or f"{self.model.name}{'-graph' if full else ''}.png"
        self.view.png(name, full=full)

    def _export_picked(self, change):
        what = change["new"]
        if not what:
            return
        if what == "svg":
            self._quietly(self.export_svg)
        else:
            self.export_png(full=what == "png-full")
        self.export.value = ""  # a menu: back to its title

    def _key(self, key):
        """A key pressed in the editor: undo, redo, or delete the selected layer, asked
        first (a second Delete, or Apply, confirms)."""
        if key == "undo":
            self.undo()
        elif key == "redo":
            self.redo()
        elif key == "delete" and self.selected is not None:
            if "delete" not in self.action.options:
                self._note(f"'{self.selected}' cannot be deleted. "
                           f"{self.offered(self.selected)[1]}")
            elif self._pending_delete == self.selected:
                self._pending_delete = None
                self.apply()
            else:
                self.action.value = "delete"
                self._pending_delete = self.selected
                self._note(f"Delete '{self.selected}'? Press Delete again, or Apply, to confirm.")

    def _history_picked(self, change):
        if not self._quiet_history and change["new"] is not None \
                and change["new"] != len(self.history):
            self.go_to(change["new"])

    @staticmethod
    def _quietly(step):
        """A button's step: a refusal is already in the panel, a click never raises."""
        try:
            step()
        except EditError:
            pass

    def _note(self, message):
        self.status.value = _pre(message, "#525252")


class ProgressBar:
    """A rebuild's ``progress(done, total)`` shown on an ``IntProgress`` (0 to 100), at a
    bounded cost in messages: nothing until the rebuild has run ``delay`` seconds (a quick
    edit sends none), then at most one update per ``interval`` seconds, and only for a step of
    at least ``step`` percent (so at most 100 / ``step`` updates however long it runs). The bar
    is shown at its first update; hiding it is the caller's."""

    def __init__(self, bar, delay=0.5, interval=0.1, step=2):
        self.bar, self.delay, self.interval, self.step = bar, delay, interval, step
        self.start = time.monotonic()
        self.last = None  # when the bar last moved

    def __call__(self, done, total):
        now = time.monotonic()
        if now - self.start < self.delay or (self.last is not None
                                             and now - self.last < self.interval):
            return
        value = 100 * done // max(total, 1)
        if self.last is not None and value - self.bar.value < self.step:
            return
        self.bar.value = value
        if self.bar.layout.display == "none":
            self.bar.layout.display = None
        self.last = now


def _variable_text(variable):
    """``"(3, 3, 64, 64)  mean 0.0012  std 0.059"`` for one variable."""
    shape = tuple(variable.shape)
    try:
        value = np.asarray(variable.numpy(), dtype="float64")
        stats = f"  mean {value.mean():.4g}  std {value.std():.4g}" if value.size else ""
    except (TypeError, ValueError):  # a string or an uninitialized variable: no statistics
        stats = ""
    return f"{shape}{stats}"


class Rebuild:
    """The factory of a "replace all" made in the panel: ``Rebuild(cls, kwargs)(layer)`` is
    ``cls(**kwargs, name=layer.name)``, so each new layer keeps the name (and so the weights,
    where they fit) of the layer it replaces."""

    def __init__(self, cls, kwargs):
        self.cls, self.kwargs = cls, dict(kwargs)

    def __call__(self, layer):
        return self.cls(**self.kwargs, name=layer.name)

    def __repr__(self):
        args = "".join(f"{k}={v!r}, " for k, v in self.kwargs.items())
        return f"lambda layer: {self.cls.__name__}({args}name=layer.name)"


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
