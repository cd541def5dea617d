"""Draw the graph: ``networkx.DiGraph`` in, cytoscape.js elements and a stylesheet out.

:class:`GraphView` owns the ipycytoscape widget: dagre layout top to bottom, one box per call of
an operation (name, class, output shape), colours by kind of layer, nested models as compound
boxes, arrows along the data flow.
"""
from __future__ import annotations

import pathlib

import anywidget
import graphviz
import ipywidgets as widgets
import traitlets
from ipycytoscape import CytoscapeWidget

# One colour per category of :func:`keras_widget.graph.category_of`.
COLORS = {
    "input": "#9ecae1",
    "convolution": "#fdae6b",
    "dense": "#a1d99b",
    "normalization": "#dadaeb",
    "activation": "#fdd0a2",
    "pooling": "#c7e9c0",
    "merge": "#fcbba1",
    "reshape": "#d9d9d9",
    "recurrent": "#bcbddc",
    "attention": "#f768a1",
    "op": "#ffffb2",
    "model": "#f7fbff",
    "preprocessing": "#c6dbef",
    "regularization": "#f0f0f0",
    "other": "#e5f5e0",
}

# dagre, top to bottom. fit=False: boxes stay readable at zoom 1 (a fitted 150-layer model is
# unreadably small), and the view does not depend on the canvas size at the moment it is first
# drawn, which widget layout can still change right after.
LAYOUT = {"name": "dagre", "rankDir": "TB", "nodeSep": 24, "rankSep": 36, "padding": 12,
          "animate": False, "fit": False}

# Marks the editor puts on nodes (cytoscape classes).
MARKS = ("selected-layer", "added", "reinitialized", "error")


def shape_text(shape):
    """``(None, 28, 28, 1)`` -> ``"(None, 28, 28, 1)"``; several outputs joined by ``" | "``."""
    if isinstance(shape, list):
        return " | ".join(shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def node_label(data, node_id=None):
    """Three lines: layer name (with ``#k`` for one call of a shared layer), class, output shape."""
    name = data["name"]
    if node_id is not None and "#" in node_id:
        name += " #" + node_id.rsplit("#", 1)[1]
    return f"{name}\n{data['class_name']}\n{shape_text(data['output_shape'])}"


def elements(graph, marks=None):
    """Cytoscape elements (``{"nodes": [...], "edges": [...]}``) for a graph of
    :func:`keras_widget.to_networkx`. ``marks`` maps node ids to extra classes (``MARKS``)."""
    marks = marks or {}
    nodes = []
    for node_id, d in graph.nodes(data=True):
        data = {
            "id": node_id,
            "label": (node_label(d, node_id) if d["kind"] != "model"
                      else f"{d['name']} ({d['class_name']})"),
            "path": d["path"],
            "kind": d["kind"],
            "category": d["category"],
        }
        if d.get("parent_node"):
            data["parent"] = d["parent_node"]
        classes = [d["kind"], "cat-" + d["category"]] + list(marks.get(node_id, ()))
        nodes.append({"data": data, "classes": " ".join(classes)})
    edges = []
    for src, dst, d in graph.edges(data=True):
        edges.append({"data": {"id": f"{src}->{dst}", "source": src, "target": dst,
                               "label": shape_text(d["shape"])}, "classes": "directed"})
    return {"nodes": nodes, "edges": edges}


def stylesheet():
    """The cytoscape.js stylesheet: boxes with three-line labels, colours by category, arrows."""
    style = [
        {"selector": "node", "style": {
            "shape": "round-rectangle", "width": 190, "height": 50,
            "label": "data(label)", "text-wrap": "wrap", "text-max-width": 184,
            "text-overflow-wrap": "anywhere",  # a long name wraps inside its box
            "text-valign": "center", "text-halign": "center", "font-size": 10,
            "line-height": 1.3,  # room under each line, or underscores are clipped
            "font-family": "monospace", "background-color": COLORS["other"],
            "border-width": 1, "border-color": "#636363"}},
        {"selector": "node.model", "style": {
            "text-valign": "top", "text-halign": "center", "font-weight": "bold",
            "background-color": COLORS["model"], "background-opacity": 0.6,
            "border-style": "dashed", "padding": 14,
            # The edge into the nested model crosses its title: keep the title readable.
            "text-background-color": "#ffffff", "text-background-opacity": 0.9,
            "text-background-padding": 2, "text-margin-y": -2}},
        {"selector": "node.op", "style": {"shape": "ellipse"}},
        {"selector": "node.input", "style": {"shape": "round-tag"}},
        {"selector": "edge", "style": {
            "width": 1.5, "line-color": "#969696", "curve-style": "bezier",
            "target-arrow-shape": "triangle", "target-arrow-color": "#969696",
            "label": "data(label)", "font-size": 8, "color": "#525252",
            "text-background-color": "#ffffff", "text-background-opacity": 0.8}},
        {"selector": "node.selected-layer", "style": {"border-width": 4, "border-color": "#2171b5"}},
        {"selector": "node.added", "style": {"border-width": 4, "border-color": "#238b45"}},
        {"selector": "node.reinitialized", "style": {
            "border-width": 4, "border-color": "#d94801", "border-style": "dashed"}},
        {"selector": "node.error", "style": {"border-width": 4, "border-color": "#cb181d"}},
    ]
    for category, color in COLORS.items():
        if category != "model":
            style.append({"selector": f"node.cat-{category}",
                          "style": {"background-color": color}})
    return style


def to_graphviz(graph, marks=None):
    """A static picture of a graph of :func:`keras_widget.to_networkx`: a ``graphviz.Digraph``
    with the same boxes, colours and nesting as the widget (nested models as clusters).

    ``marks`` maps node ids to ``MARKS`` (drawn as coloured borders). Display it in a notebook,
    or ``.render(...)`` it to a file (rendering needs Graphviz's ``dot`` program; building the
    source does not).
    """
    marks = marks or {}
    border = {"added": "#238b45", "reinitialized": "#d94801", "selected-layer": "#2171b5",
              "error": "#cb181d"}
    dot = graphviz.Digraph(graph.graph.get("name", "model"),
                           graph_attr={"rankdir": "TB", "fontname": "monospace"},
                           node_attr={"shape": "box", "style": "rounded,filled",
                                      "fontname": "monospace", "fontsize": "10"},
                           edge_attr={"fontname": "monospace", "fontsize": "8"})
    clusters = {None: dot}
    models = [n for n, d in graph.nodes(data=True) if d["kind"] == "model"]

    def container(node_id):
        parent = graph.nodes[node_id].get("parent_node")
        if parent not in clusters:
            sub = graphviz.Digraph(f"cluster_{len(clusters)}")
            outer = graph.nodes[parent]
            sub.attr(label=f"{outer['name']} ({outer['class_name']})", style="dashed")
            clusters[parent] = sub
        return clusters[parent]

    for node_id, d in graph.nodes(data=True):
        if d["kind"] == "model":
            continue
        color = next((border[m] for m in marks.get(node_id, ()) if m in border), "#636363")
        container(node_id).node(node_id, label=node_label(d, node_id),
                                fillcolor=COLORS.get(d["category"], COLORS["other"]),
                                color=color, penwidth="3" if node_id in marks else "1",
                                shape="ellipse" if d["kind"] == "op" else "box")
    # Inner clusters go inside their enclosing ones, deepest first.
    for model_id in sorted(models, key=lambda n: -graph.nodes[n]["path"].count("/")):
        if model_id in clusters:
            container(model_id).subgraph(clusters[model_id])
    for src, dst, d in graph.edges(data=True):
        dot.edge(src, dst, label=shape_text(d["shape"]))
    return dot


class Viewport(anywidget.AnyWidget):
    """An invisible widget for what ipycytoscape has no message for, in the editor it sits in:
    move the canvas to a node (``send({"center": node_id})``), and run the layout again once
    the graph's elements have all arrived in the browser."""

    _esm = pathlib.Path(__file__).parent / "static" / "viewport.js"
    layout = traitlets.Dict(LAYOUT).tag(sync=True)


class GraphView:
    """The ipycytoscape widget and what is drawn in it.

    ``on_click(node_id)`` is called when a node is clicked. The click handler is registered here,
    before the widget is ever displayed (ipycytoscape may drop handlers registered later).
    """

    def __init__(self, on_click=None, height="640px"):
        self.widget = CytoscapeWidget(layout=widgets.Layout(height=height, width="100%"))
        self.widget.set_style(stylesheet())
        self.widget.cytoscape_layout = dict(LAYOUT)
        self.widget.min_zoom = 0.05
        self.widget.max_zoom = 4.0
        # No tooltip key in our data: a click selects, it does not pop a tooltip up.
        self.widget.set_tooltip_source("no-tooltip")
        self.widget.user_zooming_enabled = True
        self.widget.wheel_sensitivity = 0.3
        self.widget.on("node", "click", self._clicked)
        self._on_click = on_click
        self.marks = {}
        self.viewport = Viewport()  # the editor puts it next to the canvas

    def center(self, node_id):
        """Move the canvas so that ``node_id`` is in the middle (a no-op where not displayed)."""
        self.viewport.send({"center": node_id})

    def _clicked(self, event):
        node_id = event.get("data", {}).get("id")
        if node_id is not None and self._on_click is not None:
            self._on_click(node_id)

    def draw(self, graph, marks=None):
        """Replace what is drawn by ``graph``; the old node and edge widgets are closed."""
        self.marks = {k: set(v) for k, v in (marks or {}).items()}
        cyto_graph = self.widget.graph
        old = list(cyto_graph.nodes) + list(cyto_graph.edges)
        with self.widget.hold_sync():
            cyto_graph.clear()
            cyto_graph.add_graph_from_json(elements(graph, self.marks), directed=True)
        for w in old:  # graph.clear() forgets them but leaves them open in the kernel
            w.close()

    def mark(self, node_ids, mark, only=True):
        """Put ``mark`` on ``node_ids``; with ``only``, take it off every other node."""
        node_ids = set(node_ids)
        for node in self.widget.graph.nodes:
            nid = node.data["id"]
            current = self.marks.setdefault(nid, set())
            changed = False
            if nid in node_ids and mark not in current:
                current.add(mark)
                changed = True
            elif only and nid not in node_ids and mark in current:
                current.discard(mark)
                changed = True
            if changed:
                base = [c for c in node.classes.split() if c not in MARKS]
                node.classes = " ".join(base + sorted(current))

    def fit(self):
        """Zoom out to show the whole graph (it stays fitted after redraws until :meth:`actual_size`)."""
        self._run_layout({**LAYOUT, "fit": True})

    def actual_size(self):
        """Back to zoom 1 at the top left of the graph."""
        self._run_layout({**LAYOUT, "zoom": 1, "pan": {"x": 0, "y": 0}})
        self.widget.cytoscape_layout = dict(LAYOUT)  # later redraws keep the viewport

    def _run_layout(self, layout):
        if self.widget.cytoscape_layout == layout:
            self.widget.relayout()
        else:
            self.widget.cytoscape_layout = layout
