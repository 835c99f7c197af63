// The stepper's page: plays the frames that autograd/viz/stepper.py computed over the SVG Graphviz laid
// out once. An ES module in the shape anywidget loads (export default { render }); the standalone page
// inlines it and calls render() with a model that only reads. No build step, no dependencies, no network.
//
// Data (model.get("data")): svg (the graph, its changing texts tagged "data", "grad", "label"), nodes
// [{id, name, data, kind, why}], edges [{id, parent, child, local}], frames [{phase, counter, narration,
// node, edge, label, grad, grad_text, final}], title [lines], legend [{kind, text, fill}].

const CSS = `
.cr-stepper { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.4; color: #111; outline: none; }
.cr-stepper:focus-visible { box-shadow: 0 0 0 2px #0072b2; }
.cr-stepper .cr-title { margin: 0 0 6px; }
.cr-stepper .cr-title p { margin: 0; }
.cr-stepper .cr-title p:first-child { font-weight: 600; }
.cr-stepper .cr-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 6px 0; }
.cr-stepper button { font: inherit; padding: 3px 12px; border: 1px solid #4d4d4d; border-radius: 4px;
  background: #f5f5f5; color: #111; cursor: pointer; }
.cr-stepper button:hover { background: #e8e8e8; }
.cr-stepper button:disabled { color: #767676; cursor: default; }
.cr-stepper .cr-speed { display: inline-flex; align-items: center; gap: 4px; margin-left: 8px; }
.cr-stepper .cr-counter { margin-left: 8px; font-variant-numeric: tabular-nums; font-weight: 600; }
.cr-stepper .cr-graph { overflow-x: auto; }
.cr-stepper .cr-graph svg { max-width: 100%; height: auto; display: block; }
.cr-stepper .cr-narration { min-height: 2.8em; margin: 6px 0; padding: 6px 8px; background: #f5f5f5;
  border-left: 4px solid #0072b2; }
.cr-stepper .cr-legend { display: flex; flex-wrap: wrap; gap: 10px; font-size: 13px; color: #333; }
.cr-stepper .cr-legend span { display: inline-flex; align-items: center; gap: 4px; }
.cr-stepper .cr-legend i { display: inline-block; width: 18px; height: 12px; border: 1px solid #4d4d4d;
  border-radius: 3px; }
.cr-stepper .cr-legend i.root { border: 3px solid #000; width: 14px; height: 8px; }
.cr-stepper .cr-legend i.stub, .cr-stepper .cr-legend i.constant { border-style: dashed; }
.cr-stepper .cr-legend i.line { border: 0; height: 0; border-top: 3px solid; border-radius: 0; }
.cr-stepper .cr-legend i.todo { border-top-style: dashed; border-top-width: 2px; }
.cr-stepper g.node { cursor: pointer; }
.cr-stepper g.node.pending { opacity: 0.25; }
.cr-stepper g.edge.pending { opacity: 0.1; }
.cr-stepper g.node.current > path, .cr-stepper g.node.current > polygon { stroke: #d55e00; stroke-width: 3.5px; }
.cr-stepper g.edge.todo path { stroke: #9a9a9a; stroke-width: 1px; stroke-dasharray: 5 3; }
.cr-stepper g.edge.todo polygon { stroke: #9a9a9a; fill: #9a9a9a; }
.cr-stepper g.edge.todo text { fill: #4d4d4d; }
.cr-stepper g.edge.done path { stroke: #0072b2; stroke-width: 1.6px; stroke-dasharray: none; }
.cr-stepper g.edge.done polygon { stroke: #0072b2; fill: #0072b2; }
.cr-stepper g.edge.done text { fill: #0072b2; }
.cr-stepper g.edge.now path { stroke: #d55e00; stroke-width: 3px; stroke-dasharray: none; }
.cr-stepper g.edge.now polygon { stroke: #d55e00; fill: #d55e00; }
.cr-stepper g.edge.now text { fill: #d55e00; font-weight: bold; }
.cr-stepper.cr-pathing g.node:not(.onpath), .cr-stepper.cr-pathing g.edge:not(.onpath) { opacity: 0.15; }
.cr-stepper.cr-pathing g.node.picked > path, .cr-stepper.cr-pathing g.node.picked > polygon {
  stroke: #cc79a7; stroke-width: 4px; }
.cr-stepper.cr-pathing g.edge.onpath path { stroke-width: 3px; }
`;

// A model for the standalone page: the data never changes there, so it only reads.
export function staticModel(data) {
  return { get: (key) => (key === "data" ? data : undefined), on() {}, off() {} };
}

function element(tag, attrs = {}, text = "") {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
}

function render({ model, el }) {
  const data = model.get("data");
  const root = element("div", { class: "cr-stepper", tabindex: "0", role: "group",
                                "aria-label": "Backprop stepper" });
  root.append(element("style", {}, CSS));

  const title = element("div", { class: "cr-title" });
  for (const line of data.title) title.append(element("p", {}, line));

  // Controls: buttons whose text is their accessible name, a speed slider, the counter.
  const controls = element("div", { class: "cr-controls" });
  const buttons = {};
  for (const name of ["Reset", "Back", "Step", "Play"]) {
    buttons[name] = element("button", { type: "button" }, name);
    controls.append(buttons[name]);
  }
  const speedLabel = element("label", { class: "cr-speed" }, "Speed ");
  const speed = element("input", { type: "range", min: "0.5", max: "8", step: "0.5", value: "2",
                                   "aria-label": "Speed (steps per second)" });
  const speedText = element("output", {}, "2 steps/s");
  speedLabel.append(speed, speedText);
  const counter = element("span", { class: "cr-counter" });
  controls.append(speedLabel, counter);

  const graph = element("div", { class: "cr-graph" });
  graph.innerHTML = data.svg; // our own SVG from Graphviz: every user label in it is escaped
  const narration = element("p", { class: "cr-narration", "aria-live": "polite" });

  const legend = element("div", { class: "cr-legend", "aria-label": "Legend" });
  for (const entry of data.legend) {
    const swatch = element("i", { class: entry.kind });
    if (["now", "done", "todo"].includes(entry.kind)) {
      swatch.classList.add("line");
      swatch.style.borderTopColor = entry.fill;
    } else {
      swatch.style.background = entry.fill;
    }
    const item = element("span");
    item.append(swatch, document.createTextNode(entry.text));
    legend.append(item);
  }
  const hint = element("span", {}, "Click a node: its paths to the root and how its grad adds up.");
  legend.append(hint);

  root.append(title, controls, graph, narration, legend);
  el.append(root);

  // The SVG pieces each frame changes, found once.
  const svg = graph.querySelector("svg");
  const nodeGroup = {};
  for (const node of data.nodes) nodeGroup[node.id] = svg.querySelector(`g.node[id="${node.id}"]`);
  const edgeGroup = {};
  for (const edge of data.edges) edgeGroup[edge.id] = svg.querySelector(`g.edge[id="${edge.id}"]`);
  const nodeOf = Object.fromEntries(data.nodes.map((n) => [n.id, n]));
  const childrenOf = {};
  for (const edge of data.edges) (childrenOf[edge.parent] ??= []).push(edge);

  let frame = 0;
  let timer = null;
  let picked = null;

  // The state after frame k, replayed from the start: which nodes are computed, each grad cell, each
  // traversed edge's label. One frame per node and per edge: replaying a few thousand takes a millisecond.
  const everyNode = new Set(data.nodes.map((n) => n.id));
  function stateAt(k) {
    let computed = new Set();
    const grads = new Map();
    const traversed = new Map();
    for (let i = 0; i <= k; i++) {
      const f = data.frames[i];
      if (f.phase === "forward") computed.add(f.node);
      if (f.phase === "backward") {
        computed = everyNode; // the forward pass is over: every value is known
        if (f.edge) traversed.set(f.edge, f.label);
        if (f.grad) grads.set(f.grad, [f.grad_text, f.final]);
      }
    }
    return { computed, grads, traversed };
  }

  function setText(group, cls, text, italic) {
    const t = group && group.querySelector(`text.${cls}`);
    if (!t) return;
    t.textContent = text;
    if (italic) t.setAttribute("font-style", "italic");
    else t.removeAttribute("font-style");
  }

  function show(k) {
    frame = Math.max(0, Math.min(k, data.frames.length - 1));
    const f = data.frames[frame];
    const { computed, grads, traversed } = stateAt(frame);
    for (const node of data.nodes) {
      const g = nodeGroup[node.id];
      if (!g) continue;
      const done = computed.has(node.id);
      g.classList.toggle("pending", !done);
      g.classList.toggle("current", f.node === node.id);
      setText(g, "data", done ? node.data : "data ?", false);
      const grad = grads.get(node.id);
      setText(g, "grad", grad ? grad[0] : "", grad ? !grad[1] : false);
    }
    for (const edge of data.edges) {
      const g = edgeGroup[edge.id];
      if (!g) continue;
      const seen = computed.has(edge.child);
      const label = traversed.get(edge.id);
      g.classList.toggle("pending", !seen);
      g.classList.toggle("now", f.edge === edge.id);
      g.classList.toggle("done", label !== undefined && f.edge !== edge.id);
      g.classList.toggle("todo", label === undefined);
      setText(g, "label", label !== undefined ? label : seen ? edge.local : "", false);
    }
    counter.textContent = f.counter;
    if (!picked) narration.textContent = f.narration;
    buttons.Back.disabled = buttons.Reset.disabled = frame === 0;
    buttons.Step.disabled = frame === data.frames.length - 1;
  }

  function pause() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    buttons.Play.textContent = "Play";
  }

  function play() {
    if (frame === data.frames.length - 1) show(0);
    buttons.Play.textContent = "Pause";
    timer = setInterval(() => {
      if (frame >= data.frames.length - 1) pause();
      else show(frame + 1);
    }, 1000 / Number(speed.value));
  }

  function unpick() {
    picked = null;
    root.classList.remove("cr-pathing");
    svg.querySelectorAll(".onpath, .picked").forEach((g) => g.classList.remove("onpath", "picked"));
  }

  // Clicking a node: light every path from it to the root and say how its grad adds up.
  function pick(id) {
    if (picked === id) {
      unpick();
      show(frame);
      return;
    }
    unpick();
    picked = id;
    root.classList.add("cr-pathing");
    const stack = [id];
    const seen = new Set(stack);
    while (stack.length) {
      const here = stack.pop();
      nodeGroup[here]?.classList.add("onpath");
      for (const edge of childrenOf[here] ?? []) {
        edgeGroup[edge.id]?.classList.add("onpath");
        if (!seen.has(edge.child)) {
          seen.add(edge.child);
          stack.push(edge.child);
        }
      }
    }
    nodeGroup[id]?.classList.add("picked");
    narration.textContent = nodeOf[id].why;
  }

  const act = {
    Reset: () => { pause(); unpick(); show(0); },
    Back: () => { pause(); unpick(); show(frame - 1); },
    Step: () => { pause(); unpick(); show(frame + 1); },
    Play: () => { unpick(); timer === null ? play() : pause(); },
  };
  for (const [name, fn] of Object.entries(act)) buttons[name].addEventListener("click", fn);
  speed.addEventListener("input", () => {
    speedText.textContent = `${speed.value} steps/s`;
    if (timer !== null) { pause(); play(); }
  });
  for (const node of data.nodes) {
    nodeGroup[node.id]?.addEventListener("click", () => { root.focus(); pick(node.id); });
  }
  root.addEventListener("keydown", (event) => {
    const onControl = event.target.closest && event.target.closest("button, input");
    // A focused button or slider keeps its own keys (space presses a button, arrows move the slider).
    if (onControl && [" ", "Enter", "ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const keys = { ArrowRight: act.Step, ArrowLeft: act.Back, Home: act.Reset, " ": act.Play,
                   End: () => { pause(); unpick(); show(data.frames.length - 1); },
                   Escape: () => { unpick(); show(frame); } };
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });

  show(0);
  return () => pause(); // anywidget calls this when the view is removed
}

export default { render };
