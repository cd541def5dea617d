// The front-end piece keras-widget adds to ipycytoscape, for the editor this (invisible)
// widget sits in:
// - move the canvas to a node when the kernel asks: {center: node id};
// - lay the graph out again once its elements have all arrived. ipycytoscape runs the layout
//   right after asking for the node and edge views, which are made asynchronously: on a busy
//   machine the edges can come after it, and dagre then puts every node in one row.

function graphOf(el) {
  const editor = el.closest(".keras-widget-editor");
  const graph = editor && editor.querySelector(".kw-graph");
  return graph && graph._cyreg && graph._cyreg.cy; // cytoscape keeps its instance there
}

function render({ model, el }) {
  el.style.display = "none";
  let cy = null;
  let timer = null;
  const relayout = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (cy && !cy.destroyed()) cy.layout(model.get("layout")).run();
    }, 150);
  };
  // ipycytoscape may make a new cytoscape instance (a new render): follow it.
  const watch = setInterval(() => {
    if (!el.isConnected && cy) {
      clearInterval(watch);
      return;
    }
    const current = graphOf(el);
    if (current && current !== cy) {
      cy = current;
      cy.on("add remove", relayout);
      relayout();
    }
  }, 300);
  model.on("msg:custom", (msg) => {
    const target = graphOf(el);
    if (!target || !msg || !msg.center) return;
    const node = target.getElementById(msg.center);
    if (node.empty()) return;
    target.animate({ center: { eles: node }, zoom: Math.max(target.zoom(), 0.8) },
                   { duration: 250 });
  });
  return () => {
    clearInterval(watch);
    clearTimeout(timer);
  };
}

export default { render };
