// The one front-end piece keras-widget adds to ipycytoscape: move the canvas of the editor
// this (invisible) widget sits in, when the kernel asks: {center: node id}.
function render({ model, el }) {
  el.style.display = "none";
  model.on("msg:custom", (msg) => {
    const editor = el.closest(".keras-widget-editor");
    const graph = editor && editor.querySelector(".kw-graph");
    const cy = graph && graph._cyreg && graph._cyreg.cy; // cytoscape keeps its instance there
    if (!cy || !msg || !msg.center) return;
    const node = cy.getElementById(msg.center);
    if (node.empty()) return;
    cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 0.8) }, { duration: 250 });
  });
}

export default { render };
