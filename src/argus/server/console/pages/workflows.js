import { api, field, h, readAsBase64, toast, view } from "../lib.js";

const EXAMPLE_WORKFLOW = {
  version: "1.0",
  inputs: [{ type: "WorkflowImage", name: "image" }],
  steps: [
    { type: "roboflow_core/roboflow_object_detection_model@v2", name: "model", images: "$inputs.image",
      model_id: "yolov3-tiny-416" },
    { type: "roboflow_core/bounding_box_visualization@v1", name: "boxes", image: "$inputs.image",
      predictions: "$steps.model.predictions" },
  ],
  outputs: [
    { type: "JsonField", name: "predictions", selector: "$steps.model.predictions" },
    { type: "JsonField", name: "annotated", selector: "$steps.boxes.image" },
  ],
};
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

// Every `$inputs.x` / `$steps.name...` selector in a step's fields: the graph's edges.
function selectorsIn(value, found = []) {
  if (typeof value === "string") {
    const match = value.match(/^\$(inputs|steps)\.([^.\s]+)/);
    if (match) found.push(`${match[1]}:${match[2]}`);
  } else if (Array.isArray(value)) value.forEach((v) => selectorsIn(v, found));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => selectorsIn(v, found));
  return found;
}

// Inputs, steps and outputs as columns by depth, edges from each selector to the node that uses it.
function drawGraph(spec, errors) {
  const nodes = new Map();
  for (const input of spec.inputs || []) nodes.set(`inputs:${input.name}`, { label: input.name, kind: "input", from: [] });
  for (const step of spec.steps || []) {
    const { type, name, ...fields } = step;
    nodes.set(`steps:${name}`, { label: name, detail: String(type || "").replace(/^roboflow_core\//, ""), kind: "step",
      from: [...new Set(selectorsIn(fields))], step: name });
  }
  for (const output of spec.outputs || []) {
    nodes.set(`outputs:${output.name}`, { label: output.name, kind: "output", from: selectorsIn(output.selector) });
  }
  const depth = (key, seen = new Set()) => {
    const node = nodes.get(key);
    if (!node || seen.has(key)) return 0;
    if (node.depth !== undefined) return node.depth;
    seen.add(key);
    node.depth = node.from.length ? 1 + Math.max(...node.from.map((f) => depth(f, seen))) : 0;
    return node.depth;
  };
  [...nodes.keys()].forEach((key) => depth(key));
  const columns = [];
  for (const [key, node] of nodes) (columns[node.depth] ||= []).push(key);
  // Top to bottom, one row per depth, so the graph fits beside the editor.
  const width = 180, height = 50, gapX = 24, gapY = 44;
  const position = new Map();
  columns.forEach((keys, row) => keys.forEach((key, index) => position.set(key, {
    x: 10 + index * (width + gapX), y: 10 + row * (height + gapY) })));
  const totalWidth = 20 + Math.max(1, ...columns.map((c) => c.length)) * (width + gapX);
  const totalHeight = 20 + columns.length * (height + gapY);
  const failed = new Set(errors.map((e) => e.block_id));
  const drawing = svg("svg", { viewBox: `0 0 ${totalWidth} ${totalHeight}`, width: totalWidth, height: totalHeight,
    role: "img", "aria-label": "the workflow's step graph", id: "workflow-graph" });
  for (const [key, node] of nodes) {
    for (const source of node.from) {
      const a = position.get(source), b = position.get(key);
      if (!a || !b) continue;
      drawing.append(svg("path", { class: "edge", d: `M${a.x + width / 2},${a.y + height} C${a.x + width / 2},`
        + `${a.y + height + gapY / 2} ${b.x + width / 2},${b.y - gapY / 2} ${b.x + width / 2},${b.y}` }));
    }
  }
  const clip = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
  for (const [key, node] of nodes) {
    const { x, y } = position.get(key);
    const classes = `node ${node.kind}${node.step && failed.has(node.step) ? " error" : ""}`;
    const group = svg("g", { class: classes, "data-node": key, ...(node.step ? { "data-step": node.step } : {}) },
      svg("title", {}, `${node.label}: ${node.detail || node.kind}`),
      svg("rect", { x, y, width, height, rx: 8 }),
      svg("text", { x: x + 10, y: y + 21, class: "name" }, clip(node.label, 24)),
      svg("text", { x: x + 10, y: y + 38, class: "detail" }, clip(node.detail || node.kind, 30)));
    drawing.append(group);
  }
  return drawing;
}

// A workflow output as HTML: images ({type: "base64"}) are shown, the rest as JSON.
function renderOutput(value) {
  if (value && typeof value === "object" && value.type === "base64" && typeof value.value === "string") {
    return h("img", { class: "output-image", src: `data:image/jpeg;base64,${value.value}`, alt: "workflow image output" });
  }
  return h("pre", {}, JSON.stringify(value, (k, v) => (k === "value" && typeof v === "string" && v.length > 200
    ? `${v.slice(0, 40)}… (${v.length} characters)` : v), 2));
}

export async function workflows() {
  const saved = h("select", { id: "saved-workflows" });
  const workspace = h("input", { id: "wf-workspace", value: "local" });
  const workflowId = h("input", { id: "wf-id", placeholder: "an id to save it under" });
  const editor = h("textarea", { id: "workflow-editor", rows: "22", spellcheck: "false" },
    JSON.stringify(EXAMPLE_WORKFLOW, null, 2));
  const errorsBox = h("div", { id: "workflow-errors" });
  const graph = h("div", { class: "graph-wrap" });
  const file = h("input", { id: "wf-image", type: "file", accept: "image/*" });
  const outputs = h("div", { id: "workflow-outputs" });
  const parse = () => {
    try {
      return JSON.parse(editor.value);
    } catch (error) {
      errorsBox.replaceChildren(h("p", { class: "bad" }, `Not JSON: ${error.message}`));
      return null;
    }
  };
  const showErrors = (spec, error) => {
    const blocks = error?.details?.blocks_errors || [];
    errorsBox.replaceChildren(error ? h("div", { class: "bad" }, h("p", {}, error.message),
      blocks.length ? h("ul", {}, blocks.map((b) => h("li", { dataset: { step: b.block_id || "" } },
        h("strong", {}, `step ${b.block_id}`), b.property_name ? ` · field ${b.property_name}` : "",
        `: ${b.block_details || ""}`))) : "") : h("p", { class: "ok" }, "Compiles."));
    graph.replaceChildren(drawGraph(spec, blocks));
  };
  const validate = async () => {
    const spec = parse();
    if (!spec) return null;
    try {
      await api("/workflows/validate", { method: "POST", body: spec });
      showErrors(spec, null);
      return spec;
    } catch (error) {
      showErrors(spec, error);
      return null;
    }
  };
  const run = async () => {
    const spec = await validate();
    if (!spec) return;
    if (!file.files[0]) { toast("Choose an image to run the workflow on."); return; }
    outputs.replaceChildren("running…");
    try {
      const answer = await api("/workflows/run", { method: "POST", body: { specification: spec,
        inputs: { image: { type: "base64", value: await readAsBase64(file.files[0]) } } } });
      outputs.replaceChildren(...answer.outputs.map((result, index) => h("div", { class: "panel" },
        h("h2", {}, `Image ${index + 1}`), Object.entries(result).map(([name, value]) =>
          h("div", { dataset: { output: name } }, h("h3", {}, name), renderOutput(value))))));
    } catch (error) {
      outputs.replaceChildren(h("p", { class: "bad" }, error.message));
    }
  };
  const loadSaved = async () => {
    if (!saved.value) return;
    const [ws, id] = saved.value.split("/");
    try {
      const { specification } = await api(`/workflows/store/${ws}/${id}`);
      editor.value = JSON.stringify(specification, null, 2);
      workspace.value = ws;
      workflowId.value = id;
      validate();
    } catch (error) { toast(error.message); }
  };
  const save = async () => {
    const spec = parse();
    if (!spec) return;
    try {
      await api(`/workflows/store/${workspace.value}/${workflowId.value}`, { method: "PUT", body: spec });
      toast(`saved ${workspace.value}/${workflowId.value}`, "info");
      listSaved();
    } catch (error) {
      toast(error.message);
      showErrors(spec, error);
    }
  };
  const listSaved = async () => {
    try {
      const { workflows: items } = await api("/workflows/store");
      saved.replaceChildren(h("option", { value: "" }, items.length ? "open a saved workflow…" : "no saved workflows yet"),
        ...items.map((w) => h("option", { value: `${w.workspace}/${w.workflow_id}` }, `${w.workspace}/${w.workflow_id}`)));
    } catch (error) { toast(error.message); }
  };
  saved.addEventListener("change", loadSaved);
  view.replaceChildren(h("h1", {}, "Workflows"),
    h("div", { class: "result" },
      h("section", { class: "panel" },
        h("div", { class: "controls" }, field("Saved", saved), field("Workspace", workspace), field("Id", workflowId),
          h("button", { type: "button", id: "wf-save", onclick: save }, "Save")),
        h("label", { for: "workflow-editor", class: "muted" }, "Definition (Roboflow's workflow JSON)"), editor,
        h("div", { class: "controls" }, field("Image", file),
          h("button", { type: "button", id: "wf-validate", onclick: validate }, "Validate"),
          h("button", { type: "button", id: "wf-run", class: "primary", onclick: run }, "Run"))),
      h("section", { class: "panel" }, h("h2", {}, "Graph"), errorsBox, graph)),
    h("section", { class: "panel wide" }, h("h2", {}, "Outputs"), outputs));
  await listSaved();
  await validate();
  return () => {};
}
