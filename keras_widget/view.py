"""Draw the graph: ``networkx.DiGraph`` in, cytoscape.js elements and a stylesheet out.

:class:`GraphView` owns the ipycytoscape widget: dagre layout top to bottom, one box per call of
an operation (name, class, output shape), colours by kind of layer, nested models as compound
boxes, arrows along the data flow.
"""
from __future__ import annotations

import contextlib
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

# A graph of at most this many nodes opens with its blocks open (nested models stay closed).
SMALL = 40

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


def _shapes_text(shapes, most=2):
    text = " | ".join(shape_text(s) for s in shapes[:most])
    return text + (f" | … ({len(shapes)})" if len(shapes) > most else "") if shapes else "—"


def block_label(hierarchy, block_id, is_open=False):
    """A block's box: its name, how many layers it holds, its parameters, the shapes in and out
    (an open block shows only its name above its members)."""
    block = hierarchy.blocks[block_id]
    title = block.name
    if block.model:
        title += f" ({hierarchy.graph.nodes[block_id]['class_name']})"
    if is_open:
        return title + "  ▾"
    s = hierarchy.summary(block_id)
    return (f"{title}  ▸\n{s['layers']} layers · {s['params']:,} params\n"
            f"{_shapes_text(s['inputs'])} → {_shapes_text(s['outputs'])}")


def _node_element(graph, node_id, marks, parent):
    d = graph.nodes[node_id]
    data = {"id": node_id,
            "label": (node_label(d, node_id) if d["kind"] != "model"
                      else f"{d['name']} ({d['class_name']})"),
            "path": d["path"], "kind": d["kind"], "category": d["category"]}
    if parent:
        data["parent"] = parent
    classes = [d["kind"], "cat-" + d["category"]] + sorted(marks.get(node_id, ()))
    return {"data": data, "classes": " ".join(classes)}


def elements(graph, marks=None, hierarchy=None, expanded=()):
    """Cytoscape elements (``{"nodes": [...], "edges": [...]}``) for a graph of
    :func:`keras_widget.to_networkx`. ``marks`` maps node ids to extra classes (``MARKS``).

    With a :class:`keras_widget.blocks.Hierarchy`, blocks not in ``expanded`` are one box each
    (class ``block``; a closed block carries the marks of the layers inside it), open ones are
    compound boxes around their members, and an edge between two boxes stands for the edges
    between their members, labelled with the shapes that flow. Without one, every node is drawn.
    """
    marks = marks or {}
    if hierarchy is None:
        nodes = [_node_element(graph, n, marks, graph.nodes[n].get("parent_node"))
                 for n in graph]
        edges = [((u, v), [d["shape"]]) for u, v, d in graph.edges(data=True)]
    else:
        nodes = []
        for item, parent, is_open in hierarchy.visible(expanded):
            if item not in hierarchy.blocks:
                nodes.append(_node_element(graph, item, marks, parent))
                continue
            block = hierarchy.blocks[item]
            inner = set()
            if not is_open:
                for n in hierarchy.leaves(item):
                    inner.update(marks.get(n, ()))
            classes = (["model", "cat-model"] if block.model else ["block"]) + \
                ["open" if is_open else "closed"] + sorted(inner)
            data = {"id": item, "label": block_label(hierarchy, item, is_open),
                    "path": graph.nodes[item]["path"] if block.model else block.name,
                    "kind": "model" if block.model else "block",
                    "category": "model" if block.model else "block"}
            if parent:
                data["parent"] = parent
            nodes.append({"data": data, "classes": " ".join(classes)})
        edges = list(hierarchy.visible_edges(expanded).items())
    return {"nodes": nodes,
            "edges": [{"data": {"id": f"{u}->{v}", "source": u, "target": v,
                                "label": _shapes_text(shapes)}, "classes": "directed"}
                      for (u, v), shapes in edges]}


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
        # A closed block or nested model: one box, a line more, a double border to say
        # "there is more inside" (click to open it).
        {"selector": "node.closed", "style": {
            "height": 64, "width": 230, "text-max-width": 224, "text-valign": "center",
            "border-style": "double", "border-width": 4, "font-weight": "normal",
            "background-opacity": 1, "text-background-opacity": 0, "text-margin-y": 0}},
        {"selector": "node.block", "style": {"background-color": "#eef3fb"}},
        {"selector": "node.block.open", "style": {
            "text-valign": "top", "text-halign": "center", "font-weight": "bold",
            "background-opacity": 0.35, "border-style": "dashed", "padding": 12,
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


def made(cls, css=None, layout=None, **kwargs):
    """``cls(**kwargs)``, a widget, with its CSS class (a stable handle for the browser tests
    and for people's own styling) and its layout (a dict, or a Layout to share) given at
    creation: each set afterwards is one more message to the browser when the editor opens."""
    if not isinstance(layout, widgets.Layout):
        layout = widgets.Layout(**(layout or {}))
    return cls(_dom_classes=(css,) if css else (), layout=layout, **kwargs)


class Viewport(anywidget.AnyWidget):
    """The front-end piece keras-widget adds to ipycytoscape, in the editor it sits in.

    ipycytoscape's protocol is one widget per element, kept in a list that the browser re-creates
    from the first removed element on (and then loses the edges of the re-created nodes). So the
    elements go to the same cytoscape instance as differences in one message each
    (``{"diff": {"remove": [ids], "add": [elements], "update": [elements]}}``), and in full
    when a view asks (``{"want": "all", "have": version}``, e.g. on display or page reload).
    Until a view has asked, there is no view to send differences to: the whole drawing is kept
    in the ``initial`` trait instead, which comes with the widget's state, so that a new view
    draws it at once and then asks only whether it is still current (``have``: the
    ``initial_version`` it drew). The view says when it has drawn and laid the graph out
    (``{"drawn": true}``), so that what the editor makes for later comes after the drawing,
    not before it. It also moves the canvas (``center``, ``fit``, ``zoom``) and lays the graph
    out after each change. The browser keeps a copy of what it drew in this model's state
    (``drawn``, not a trait: the kernel never gets it), which JupyterLab saves with the
    notebook's widget state: reopened without its kernel, the notebook shows the graph.
    """

    _esm = pathlib.Path(__file__).parent / "static" / "viewport.js"
    # Not "layout": that name is the DOM layout widget of every widget (a dict there breaks the
    # front end: "Cannot read properties of undefined (reading 'then')").
    graph_layout = traitlets.Dict(LAYOUT).tag(sync=True)
    initial = traitlets.List().tag(sync=True)  # the whole drawing, before any view asked
    initial_version = traitlets.Int(0).tag(sync=True)

    def __init__(self, everything=None, **kwargs):
        super().__init__(**kwargs)
        self._everything = everything or (lambda: [])
        self._asked = False  # a view has asked for the drawing: differences go to views
        self._stale = False  # differences were sent since `initial` was set
        self.on_key = None  # on_key("undo" | "redo" | "delete"): a key pressed in the editor
        self.on_png = None  # on_png(name, size in bytes): the browser wrote a PNG
        self.on_apply_press = None  # on_apply_press(bool): the mouse went down on Apply / not
        self.on_drawn = None  # on_drawn(): a view has drawn the whole graph and laid it out
        self.on_msg(self._handle)

    def changed(self, diff):
        """Send ``diff`` (``{"remove", "add", "update"}``) to the views; before any view has
        asked for the drawing, keep the whole drawing in ``initial`` instead."""
        if not self._asked:
            with self.hold_sync():
                self.initial = self._everything()
                self.initial_version += 1
            return
        self._stale = True
        self.send({"diff": diff})

    def _handle(self, _widget, content, _buffers):
        if not isinstance(content, dict):
            return
        if content.get("want") == "all":
            self._asked = True
            if content.get("have") != self.initial_version or self._stale:
                self.send({"reset": self._everything()})
        if content.get("drawn") and self.on_drawn:
            self.on_drawn()
        if content.get("key") in ("undo", "redo", "delete") and self.on_key:
            self.on_key(content["key"])
        if isinstance(content.get("apply_press"), bool) and self.on_apply_press:
            self.on_apply_press(content["apply_press"])
        if isinstance(content.get("png_done"), dict) and self.on_png:
            self.on_png(content["png_done"].get("name"), content["png_done"].get("bytes"))


def _identity(element):
    d = element["data"]
    return d.get("parent"), d.get("source"), d.get("target")


class GraphView:
    """The ipycytoscape canvas and what is drawn in it: a graph grouped into blocks
    (:mod:`keras_widget.blocks`), closed unless in ``expanded``.

    ``shown`` is ``{element id: cytoscape element}`` as the browser has it. Every change
    (:meth:`draw`, :meth:`mark`, :meth:`expand`, :meth:`collapse`) sends only the elements
    that differ. ``on_click(node_id)`` is called when a layer's node is clicked; a click on a
    block opens or closes it (a nested model also calls ``on_click``). The click handler is
    registered before the widget is ever displayed (ipycytoscape may drop later ones).
    """

    def __init__(self, on_click=None, height="640px", css=None, **layout):
        # Everything set at creation: each trait set afterwards is one more message.
        self.widget = made(
            CytoscapeWidget, css, {"height": height, "width": "100%", **layout},
            cytoscape_style=stylesheet(), cytoscape_layout=dict(LAYOUT),
            min_zoom=0.02,  # Fit must reach a whole expanded graph
            max_zoom=4.0,
            # No tooltip key in our data: a click selects, it does not pop a tooltip up.
            tooltip_source="no-tooltip",
            # The wheel scrolls the page; viewport.js zooms on Ctrl/Cmd + wheel.
            user_zooming_enabled=False,
            # The click handler's slot, so that .on() below changes no synced trait.
            _interaction_handlers={"node": {"click": widgets.CallbackDispatcher()}})
        self.widget.on("node", "click", self._clicked)
        self._on_click = on_click
        self.marks = {}
        self.graph = None
        self.hierarchy = None
        self.expanded = set()
        self.shown = {}
        self._held = 0  # inside batch(): changes wait for one diff at its end
        self.viewport = Viewport(everything=self._everything)  # the editor puts it next to the canvas

    # -- what is drawn ------------------------------------------------------------------------

    def draw(self, graph, marks=None):
        """Draw ``graph`` (grouped into blocks); the open blocks that still exist stay open.
        Only the elements that differ from what is shown are sent."""
        from .blocks import Hierarchy

        first = self.graph is None
        self.graph = graph
        self.hierarchy = Hierarchy(graph)
        self.expanded = {b for b in self.expanded if b in self.hierarchy.blocks}
        if first and len(graph) <= SMALL:  # a small model opens with its blocks open
            self.expanded = {b for b, block in self.hierarchy.blocks.items() if not block.model}
        self.marks = {k: set(v) for k, v in (marks or {}).items() if k in graph}
        self._sync()

    def _everything(self):
        return [el for el in self.shown.values() if "source" not in el["data"]] + \
            [el for el in self.shown.values() if "source" in el["data"]]

    @contextlib.contextmanager
    def batch(self):
        """Changes made inside ``with view.batch():`` go to the browser as one diff at its end
        (one message, one layout)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._sync()

    def _sync(self):
        if self.graph is None or self._held:
            return
        els = elements(self.graph, self.marks, self.hierarchy, self.expanded)
        new = {el["data"]["id"]: el for el in els["nodes"] + els["edges"]}
        old = self.shown
        # Moved into or out of an open block, or an edge with new ends: remove and add again
        # (cytoscape cannot change an element's parent or ends through its data).
        remove = [i for i in old if i not in new or _identity(old[i]) != _identity(new[i])]
        gone = set(remove)
        # Removing a box removes what is drawn inside it: that is added again too.
        for i, el in new.items():  # parents come before their members
            if el["data"].get("parent") in gone and i in old and i not in gone:
                remove.append(i)
                gone.add(i)
        add = [el for i, el in new.items() if i not in old or i in gone]
        update = [el for i, el in new.items() if i in old and i not in gone and old[i] != el]
        self.shown = new
        if remove or add or update:
            # Edges first, children before their open block: nothing is removed twice.
            remove.sort(key=lambda i: "source" not in old[i]["data"])
            self.viewport.changed({"remove": remove, "add": add, "update": update})

    def mark(self, node_ids, mark, only=True):
        """Put ``mark`` on ``node_ids``; with ``only``, take it off every other node. A closed
        block shows the marks of the layers inside it."""
        node_ids = set(node_ids)
        for nid in node_ids:
            self.marks.setdefault(nid, set()).add(mark)
        if only:
            for nid, current in self.marks.items():
                if nid not in node_ids:
                    current.discard(mark)
        self._sync()

    # -- blocks ---------------------------------------------------------------------------------

    def expand(self, block_ids):
        """Open blocks (their enclosing blocks too)."""
        for b in block_ids:
            self.expanded.update(self.hierarchy.ancestors(b) + [b])
        self._sync()

    def collapse(self, block_ids):
        """Close blocks (the blocks inside them stay as they were, for when they open again)."""
        self.expanded.difference_update(block_ids)
        self._sync()

    def toggle(self, block_id):
        """Open a closed block, close an open one."""
        if block_id in self.expanded:
            self.collapse([block_id])
        else:
            self.expand([block_id])

    def expand_all(self):
        """Open every block: every layer is drawn."""
        self.expand(list(self.hierarchy.blocks))

    def collapse_all(self):
        """Close every block: the default, bounded view."""
        self.expanded.clear()
        self._sync()

    def reveal(self, node_ids):
        """Open the blocks that hold ``node_ids`` (a nested model's own node: its enclosing
        blocks), so that they are drawn."""
        blocks = set()
        for n in node_ids:
            blocks.update(self.hierarchy.ancestors(n))
        if not blocks <= self.expanded:
            self.expand(blocks)

    def shown_for(self, node_id):
        """The element id drawn for a graph node (itself, or the closed block holding it)."""
        return self.hierarchy.representative(node_id, self.expanded)

    # -- the canvas -----------------------------------------------------------------------------

    def center(self, node_id):
        """Move the canvas so that ``node_id`` (or the box holding it) is in the middle (a no-op
        where not displayed)."""
        self.viewport.send({"center": self.shown_for(node_id)})

    def _clicked(self, event):
        node_id = event.get("data", {}).get("id")
        if node_id is None or self.hierarchy is None:
            return
        if node_id in self.hierarchy.blocks:
            self.toggle(node_id)
            if not self.hierarchy.blocks[node_id].model:
                return
        if node_id in self.graph and self._on_click is not None:
            self._on_click(node_id)

    def fit(self):
        """Zoom out to show the whole graph (it stays fitted after redraws until
        :meth:`actual_size`)."""
        self.viewport.graph_layout = {**LAYOUT, "fit": True}
        self.viewport.send({"fit": True})

    def actual_size(self):
        """Back to zoom 1 at the top of the graph."""
        self.viewport.graph_layout = dict(LAYOUT)
        self.viewport.send({"top": True})

    def png(self, name, full=False):
        """Ask the browser to download the canvas as ``name`` (a PNG), or with ``full`` the
        whole graph at zoom 1 (up to 16,384 pixels a side). A no-op where not displayed."""
        self.viewport.send({"png": {"name": name, "full": bool(full)}})

    def zoom(self, factor):
        """Zoom in (``factor`` > 1) or out around the middle of the canvas."""
        self.viewport.send({"zoom": factor})
