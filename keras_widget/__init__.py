"""keras-widget: see and edit a Keras 3 functional model, in a notebook or in a script.

    import keras_widget as kw
    r = kw.replace_layer(model, "d2", keras.layers.Dense(128))
    r.model, r.report
    kw.to_code(model)       # the functional-API source of its architecture
    kw.replace_layer(model, "d2", keras.layers.Dense(128), dry_run=True).report  # a preview
    kw.ModelEditor(model)   # the widget

``kw.debug(True)`` (or ``KERAS_WIDGET_DEBUG=1``) shows the full exception chain of an
``EditError`` instead of its sentence alone.
"""
import sys

from .edits import (Edit, add_output, delete_layer, edit_layer, inline_model, insert_layer,
                    remove_output, rename_layer, replace_all, replace_layer, set_input_shape)
from .codegen import to_code
from .errors import EditError, debug
from .graph import to_networkx
from .report import EditReport, EditResult


def to_graphviz(model_or_graph, marks=None):
    """A static ``graphviz.Digraph`` of a model (or of a graph from :func:`to_networkx`)."""
    from .view import to_graphviz as draw

    graph = model_or_graph if hasattr(model_or_graph, "nodes") else to_networkx(model_or_graph)
    return draw(graph, marks)


__version__ = "0.1.0"


if "ipykernel" in sys.modules:
    # In a notebook the widget is what is used: its imports (ipywidgets, ipycytoscape, about a
    # second) are paid with the package's, not by the cell that first shows an editor.
    from .editor import ModelEditor


def __getattr__(name):
    # The widget pulls in ipywidgets; scripts that only edit models never import it.
    if name == "ModelEditor":
        from .editor import ModelEditor

        return ModelEditor
    raise AttributeError(f"module 'keras_widget' has no attribute {name!r}")


__all__ = ["EditError", "EditReport", "EditResult", "Edit", "ModelEditor", "add_output", "debug",
           "delete_layer", "edit_layer", "inline_model", "insert_layer", "remove_output",
           "rename_layer", "replace_all", "replace_layer", "set_input_shape", "to_code",
           "to_graphviz", "to_networkx"]
