// The front-end piece keras-widget adds to ipycytoscape, for the editor this (invisible)
// widget sits in. It draws into ipycytoscape's own cytoscape instance:
// - the elements: at first those of the "initial" trait (the drawing the editor was made
//   with, before any view asked); then, as differences from the kernel ({diff: {remove, add,
//   update}}), or all of them ({reset: [...]}) when this view asks ({want: "all", have: the
//   initial_version it drew}) after a (re)render and the kernel has newer ones; it says when
//   it has first drawn them ({drawn: true});
// - lays the graph out once a change has arrived, and opens it at its top, in the canvas;
// - moves the canvas: {center: id}, {fit: true}, {top: true}, {zoom: factor};
// - the mouse wheel scrolls the page; Ctrl/Cmd + wheel zooms (as map widgets do);
// - cytoscape caches where its canvas is on the page: a scroll of any ancestor (JupyterLab
//   scrolls the notebook, not the window) makes it stale, so clicks would miss. Invalidate it
//   on every scroll and before every press.
// - keys inside the editor (not while typing in a field): Ctrl/Cmd+Z undo, Ctrl/Cmd+Shift+Z or
//   Ctrl+Y redo, Delete/Backspace delete the selected layer (the kernel asks first): {key};
// - a press on Apply: {apply_press: true}, and false when it ends off the button;
// - {png: {full, name}}: download the canvas (or the whole graph at zoom 1) as a PNG, and tell
//   the kernel what was written ({png_done: {name, bytes}}).
// - the elements drawn are kept in this model's front-end state ("drawn", never sent to the
//   kernel), so that a notebook saved with its widget state shows the graph when reopened
//   without a kernel: JupyterLab saves every model's state, and our elements come as messages.

function graphOf(el) {
  const editor = el.closest(".keras-widget-editor");
  const graph = editor && editor.querySelector(".kw-graph");
  return graph && graph._cyreg && graph._cyreg.cy; // cytoscape keeps its instance there
}

function invalidate(cy) {
  if (!cy || cy.destroyed()) return;
  const r = cy.renderer && cy.renderer();
  if (r && r.invalidateContainerClientCoordsCache) r.invalidateContainerClientCoordsCache();
}

function render({ model, el }) {
  el.style.display = "none";
  let cy = null;
  let timer = null;
  let placed = false; // the first layout of this canvas puts the graph's top in view
  const top = () => {
    if (!cy || cy.destroyed() || cy.elements().empty()) return;
    const bb = cy.elements().boundingBox();
    const w = cy.width();
    cy.zoom(1);
    let x = Math.max(12, (w - bb.w) / 2) - bb.x1;
    if (bb.w > w - 24) {
      // Wider than the canvas (keras-hub's padding mask fans out to every layer): the
      // graph's first node in the middle, not its left edge.
      const first = cy.nodes().filter((n) => !n.isParent())
        .min((n) => n.position("y")).ele;
      x = Math.min(12 - bb.x1, Math.max(w - 12 - bb.x2, w / 2 - first.position("x")));
    }
    cy.pan({ x, y: 12 - bb.y1 });
  };
  // After a new layout, a graph narrower than the canvas is kept inside it horizontally.
  const keepInView = () => {
    const bb = cy.elements().renderedBoundingBox();
    const w = cy.width();
    if (bb.w <= w && (bb.x1 < 0 || bb.x2 > w)) cy.panBy({ x: (w - bb.w) / 2 - bb.x1, y: 0 });
  };
  // `wait`: a short pause gathers the changes that arrive together (a diff, then a centre)
  // into one layout; a whole drawing ({reset}) is laid out at once.
  const relayout = (wait = 30) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!cy || cy.destroyed() || cy.elements().empty()) return;
      const layout = model.get("graph_layout");
      cy.layout(layout).run();
      if (!placed && !layout.fit) top();
      else if (!layout.fit) keepInView();
      if (!placed) {
        // Drawn: the kernel now sends what it keeps for later (the form's fields, the
        // code), once the canvas has been painted.
        requestAnimationFrame(() => setTimeout(() => model.send({ drawn: true }), 0));
      }
      placed = true;
    }, wait);
  };
  // A copy of what is drawn, a moment after the last change (off the path of a redraw).
  let snap = null;
  const keep = () => {
    clearTimeout(snap);
    snap = setTimeout(() => {
      if (!cy || cy.destroyed()) return;
      model.set("drawn", cy.elements().map((e) => ({
        group: e.group(), data: { ...e.data() }, classes: e.classes().join(" ") })));
    }, 500);
  };
  const apply = (msg) => {
    if (!cy || cy.destroyed()) return;
    if (msg.reset || msg.diff) keep();
    if (msg.reset) {
      cy.batch(() => {
        cy.elements().remove();
        cy.add(msg.reset);
      });
      relayout(0);
    }
    if (msg.diff) {
      const d = msg.diff;
      cy.batch(() => {
        for (const id of d.remove) cy.getElementById(id).remove();
        for (const e of d.update) {
          const ele = cy.getElementById(e.data.id);
          ele.data(e.data);
          ele.classes(e.classes);
        }
        if (d.add.length) cy.add(d.add);
      });
      if (d.remove.length || d.add.length) relayout();
    }
  };
  const onScroll = () => invalidate(cy);
  // The canvas gets its final size only once the page has laid the editor out, which can be
  // after the first drawing (drawn at once from the widget's state): until the person (or the
  // kernel) moves the view, the graph's top stays placed in the canvas as it is now.
  let moved = false;
  const resized = new ResizeObserver(() => {
    if (!cy || cy.destroyed()) return;
    cy.resize();
    if (placed && !moved && !model.get("graph_layout").fit) top();
  });
  const onPress = () => {
    moved = true;
    invalidate(cy);
  };
  const onWheel = (e) => {
    if (!cy || !(e.ctrlKey || e.metaKey)) return; // a plain wheel scrolls the page
    moved = true;
    e.preventDefault();
    const box = cy.container().getBoundingClientRect();
    const level = cy.zoom() * Math.pow(1.0015, -e.deltaY);
    cy.zoom({ level: Math.min(cy.maxZoom(), Math.max(cy.minZoom(), level)),
              renderedPosition: { x: e.clientX - box.left, y: e.clientY - box.top } });
  };
  document.addEventListener("scroll", onScroll, true);
  // JupyterLab keeps the focus on the page, not on the canvas: the keys are this editor's
  // while the last press of the mouse was inside it.
  let armed = false;
  // A press on Apply blurs the field being typed in, which sends its value just before the
  // click: the kernel would preview that value (a dry run) and then apply it. {apply_press:
  // true} tells it that Apply is coming; false, that the press ended elsewhere.
  let pressingApply = false;
  const onDocPress = (e) => {
    editor = editor || el.closest(".keras-widget-editor");
    armed = Boolean(editor && editor.contains(e.target));
    pressingApply = armed && Boolean(e.target.closest && e.target.closest(".kw-apply"));
    if (pressingApply) model.send({ apply_press: true });
  };
  const onDocRelease = (e) => {
    if (pressingApply && !(e.target.closest && e.target.closest(".kw-apply"))) {
      model.send({ apply_press: false });
    }
    pressingApply = false;
  };
  const onKey = (e) => {
    if (!armed) return;
    const t = e.target;
    if (t && (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || t.isContentEditable)) {
      return; // typing in a field: the field's own keys
    }
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    let key = null;
    if (mod && k === "z") key = e.shiftKey ? "redo" : "undo";
    else if (mod && k === "y") key = "redo";
    else if (!mod && (e.key === "Delete" || e.key === "Backspace")) key = "delete";
    if (!key) return;
    e.preventDefault();
    e.stopPropagation(); // not the notebook's own undo or cell deletion
    model.send({ key });
  };
  let editor = null; // found once the widget is in the page (not yet when render runs)
  document.addEventListener("mousedown", onDocPress, true);
  document.addEventListener("mouseup", onDocRelease, true);
  document.addEventListener("keydown", onKey, true);
  const png = (req) => {
    const opts = { bg: "#ffffff", output: "blob" };
    if (req.full) Object.assign(opts, { full: true, scale: 1 / cy.zoom(), maxWidth: 16384,
                                        maxHeight: 16384 });
    else opts.scale = 2; // sharp on a high-density screen
    const blob = cy.png(opts);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = req.name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    model.send({ png_done: { name: req.name, bytes: blob.size } });
  };
  let container = null;
  // ipycytoscape may make a new cytoscape instance (a new render): follow it. Looked for
  // often until the first one is there (the drawing waits for it), then every 200 ms.
  let watch = null;
  const follow = () => {
    if (!el.isConnected && cy) {
      clearInterval(watch);
      return;
    }
    const current = graphOf(el);
    if (current && current !== cy) {
      cy = current;
      placed = false;
      if (container) {
        container.removeEventListener("wheel", onWheel, true);
        container.removeEventListener("mousedown", onPress, true);
        resized.unobserve(container);
      }
      if (!editor) editor = el.closest(".keras-widget-editor");
      container = cy.container();
      moved = false;
      resized.observe(container);
      container.addEventListener("wheel", onWheel, { capture: true, passive: false });
      container.addEventListener("mousedown", onPress, true);
      // Draw at once what this model holds: reopened from a saved notebook, what was drawn
      // (the kernel, if any, then resets); else the drawing the editor was made with, then
      // ask the kernel whether it is still current.
      const saved = model.get("drawn");
      const initial = model.get("initial");
      let have = null;
      if (cy.elements().empty()) {
        if (saved && saved.length) apply({ reset: saved });
        else if (initial && initial.length) {
          apply({ reset: initial });
          have = model.get("initial_version");
        }
      }
      model.send({ want: "all", have });
    }
  };
  let looks = 0;
  const soon = () => {
    follow();
    if (cy || ++looks > 200) watch = setInterval(follow, 200);
    else watch = setTimeout(soon, 10);
  };
  soon();
  model.on("msg:custom", (msg) => {
    if (!msg) return;
    apply(msg);
    if (!cy || cy.destroyed()) return;
    if (msg.center || msg.zoom) moved = true;
    if (msg.center) {
      const node = cy.getElementById(msg.center);
      if (node.empty()) return;
      // After a change the layout runs first; centre on where the node ends up.
      setTimeout(() => {
        if (cy.destroyed()) return;
        cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 0.8) },
                   { duration: 200 });
      }, 250);
    }
    if (msg.png) png(msg.png);
    if (msg.fit) cy.fit(undefined, 12);
    if (msg.top) top();
    if (msg.zoom) {
      cy.zoom({ level: Math.min(cy.maxZoom(), Math.max(cy.minZoom(), cy.zoom() * msg.zoom)),
                renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    }
  });
  return () => {
    clearInterval(watch);
    clearTimeout(timer);
    clearTimeout(snap);
    document.removeEventListener("scroll", onScroll, true);
    document.removeEventListener("mousedown", onDocPress, true);
    document.removeEventListener("mouseup", onDocRelease, true);
    document.removeEventListener("keydown", onKey, true);
    if (container) {
      container.removeEventListener("wheel", onWheel, true);
      container.removeEventListener("mousedown", onPress, true);
    }
    resized.disconnect();
  };
}

export default { render };
