// The Code view: the current model's source, the lines the last edit changed highlighted, and
// a Copy button (the clipboard is the browser's: the kernel cannot reach it).

function render({ model, el }) {
  el.classList.add("kw-code-view");
  const bar = document.createElement("div");
  bar.style.cssText = "display:flex;align-items:center;gap:8px;margin:4px 0";
  const title = document.createElement("b");
  title.textContent = "Code (functional API)";
  const copy = document.createElement("button");
  copy.className = "kw-copy jupyter-button";
  copy.textContent = "Copy";
  const note = document.createElement("span");
  note.style.cssText = "color:#525252;font-size:90%";
  bar.append(title, copy, note);
  const pre = document.createElement("pre");
  pre.className = "kw-code-source";
  pre.style.cssText = "margin:0;padding:4px;max-height:360px;overflow:auto;" +
    "border:1px solid #d9d9d9;font-size:12px;line-height:1.4";
  el.append(bar, pre);

  const draw = () => {
    const changed = new Set(model.get("changed"));
    pre.textContent = "";
    model.get("code").split("\n").forEach((line, i) => {
      const div = document.createElement("div");
      div.textContent = line || " ";
      if (changed.has(i)) {
        div.className = "kw-changed";
        div.style.background = "#c7e9c0"; // the green of "added" in the graph
      }
      pre.append(div);
    });
    note.textContent = changed.size ? `${changed.size} line(s) changed by the last edit` : "";
    const first = pre.querySelector(".kw-changed");
    if (first) pre.scrollTop = first.offsetTop - pre.offsetTop - 40;
  };
  copy.addEventListener("click", async () => {
    const text = model.get("code");
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      // No clipboard API (plain http on another host): copy through a selected text area.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    copy.textContent = "Copied";
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  model.on("change:code", draw);
  model.on("change:changed", draw);
  draw();
}

export default { render };
