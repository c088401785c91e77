// The Argus console: plain ES module, no framework, no build step. Everything shown comes from the server's
// own API; the API key is entered once, kept in sessionStorage and sent as a bearer header (never in a URL).

const KEY_STORAGE = "argus.apiKey";
const POLL_MS = 2000;
const HISTORY_S = 300;
const CONSOLE_ROUTES = new Set(["/", "/metrics", "/info", "/healthz", "/readiness", "/model/registry",
  "/models/store", "/models/zoo"]);
const TASK_ROUTES = {
  "object-detection": "object_detection", "instance-segmentation": "instance_segmentation",
  "keypoint-detection": "keypoints_detection", "classification": "classification",
  "multi-label-classification": "classification",
};
const PALETTE = ["#ff3b30", "#34c759", "#0a84ff", "#ff9f0a", "#bf5af2", "#64d2ff", "#ffd60a", "#ff375f"];

const view = document.getElementById("view");
let leaveView = () => {};

// ------------------------------------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, message, details = {}) { super(message); this.status = status; this.details = details; }
}

function apiKey() { return sessionStorage.getItem(KEY_STORAGE) || ""; }

async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let details = {};
    try {
      details = await response.json();
      message = details.message || details.detail || message;
      if (typeof message !== "string") message = JSON.stringify(message);
    } catch { /* not JSON */ }
    if (response.status === 401) message = `${message} Enter the API key at the top right.`;
    throw new ApiError(response.status, message, details);
  }
  return raw ? response.text() : response.json();
}

function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = kind === "info" ? "info" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// Small DOM helper: h("td", {class: "x"}, "text", child).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function megabytes(bytes) { return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`; }

// ------------------------------------------------------------------------------------------ the key

function setUpKeyForm() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const forget = document.getElementById("key-forget");
  const show = () => {
    forget.hidden = !apiKey();
    input.placeholder = apiKey() ? "key set for this tab" : "if the server asks for one";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    input.value = "";
    show();
    render();
  });
  forget.addEventListener("click", () => { sessionStorage.removeItem(KEY_STORAGE); show(); render(); });
  show();
}

// ------------------------------------------------------------------------------------- metrics

// The Prometheus text format: `name{a="b",c="d"} value` per line (comments skipped).
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

function sum(samples, name, keep = () => true) {
  return samples.filter((s) => s.name === name && keep(s.labels)).reduce((total, s) => total + s.value, 0);
}

function drawChart(canvas, points, { unit, colour, minimum = 1 }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 140;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#5d6675";
  if (points.length < 2) {
    g.fillText("collecting samples…", 8, height / 2);
    return;
  }
  const now = points[points.length - 1].t;
  const top = Math.max(...points.map((p) => p.v), minimum) * 1.15;
  const x = (t) => 36 + (width - 44) * (1 - (now - t) / (HISTORY_S * 1000));
  const y = (v) => height - 18 - (height - 30) * (v / top);
  g.strokeStyle = "#dde1e7";
  g.beginPath(); g.moveTo(36, y(0)); g.lineTo(width - 8, y(0)); g.stroke();
  g.fillText(`${top.toPrecision(3)} ${unit}`, 2, 12);
  g.fillText("0", 24, y(0) + 4);
  g.fillText("5 min ago", 36, height - 4);
  g.fillText("now", width - 30, height - 4);
  g.strokeStyle = colour;
  g.lineWidth = 2;
  g.beginPath();
  points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))));
  g.stroke();
}

// ------------------------------------------------------------------------------------- overview

const history = { rate: [], latency: [], errors: [], last: null };

async function overview() {
  const status = h("span", { class: "stat" }, "…");
  const ready = h("div", { class: "muted" });
  const version = h("div", { class: "stat" }, "…");
  const uuid = h("div", { class: "muted" });
  const providers = h("div");
  const memory = h("div", { class: "stat" }, "…");
  const loaded = h("div", { class: "table-wrap" });
  const rateChart = h("canvas", { class: "chart", "aria-label": "requests per second, last 5 minutes" });
  const latencyChart = h("canvas", { class: "chart", "aria-label": "mean latency, last 5 minutes" });
  const rateNow = h("span", { class: "muted" });
  const latencyNow = h("span", { class: "muted" });
  view.replaceChildren(
    h("h1", {}, "Overview"),
    h("div", { class: "grid" },
      h("section", { class: "panel", id: "health-panel" }, h("h2", {}, "Health"), status, ready),
      h("section", { class: "panel", id: "version-panel" }, h("h2", {}, "Version"), version, uuid),
      h("section", { class: "panel" }, h("h2", {}, "Execution providers"), providers),
      h("section", { class: "panel" }, h("h2", {}, "Memory"), memory,
        h("div", { class: "muted" }, "resident set of the server process")),
      h("section", { class: "panel" }, h("h2", {}, "Requests per second ", rateNow), rateChart,
        h("div", { class: "muted" }, "API requests, the console's own polling left out")),
      h("section", { class: "panel" }, h("h2", {}, "Mean latency ", latencyNow), latencyChart),
      h("section", { class: "panel wide" }, h("h2", {}, "Loaded models"), loaded)));

  const [info, health, readiness] = await Promise.allSettled([api("/info"), api("/healthz"), api("/readiness")]);
  if (info.status === "fulfilled") {
    version.textContent = `${info.value.name} ${info.value.version}`;
    uuid.textContent = `server ${info.value.uuid} · ${info.value.onnxruntime || "onnxruntime"}`;
    const unusable = info.value.unusable_execution_providers || {};
    providers.replaceChildren(
      h("ul", {}, info.value.execution_providers.map((p) => h("li", { class: "ok" }, p))),
      Object.keys(unusable).length ? h("ul", {}, Object.entries(unusable).map(([p, why]) =>
        h("li", { class: "warn" }, `${p}: ${why}`))) : "");
  }
  status.textContent = health.status === "fulfilled" ? "healthy" : "not answering";
  status.className = `stat ${health.status === "fulfilled" ? "ok" : "bad"}`;
  ready.textContent = readiness.status === "fulfilled" ? "ready" : `not ready: ${readiness.reason.message}`;

  const refresh = async () => {
    try {
      const [registry, text] = await Promise.all([api("/model/registry"), api("/metrics", { raw: true })]);
      const models = registry.models.filter((m) => m.request_aliases.length || !registry.models.some(
        (other) => other.request_aliases.includes(m.model_id)));
      loaded.replaceChildren(models.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["model", "task", "input", "aliases"].map((c) => h("th", {}, c)))),
        h("tbody", {}, models.map((m) => h("tr", {}, h("td", {}, m.model_id), h("td", {}, m.task_type),
          h("td", {}, `${m.input_width}×${m.input_height}`), h("td", {}, m.request_aliases.join(", "))))))
        : h("div", { class: "empty" }, "No models loaded yet — ", h("a", { href: "#/models" }, "pull the zoo detector"),
          " or send a request."));
      const samples = parseMetrics(text);
      const rss = sum(samples, "process_resident_memory_bytes");
      memory.textContent = rss ? megabytes(rss) : "n/a";
      const api_ = (labels) => !CONSOLE_ROUTES.has(labels.route) && !(labels.route || "").startsWith("/console");
      const now = Date.now();
      const point = { t: now, count: sum(samples, "argus_http_request_duration_seconds_count", api_),
        seconds: sum(samples, "argus_http_request_duration_seconds_sum", api_) };
      if (history.last) {
        const dt = (now - history.last.t) / 1000;
        const requests = point.count - history.last.count;
        history.rate.push({ t: now, v: Math.max(requests, 0) / dt });
        history.latency.push({ t: now, v: requests > 0 ? (point.seconds - history.last.seconds) / requests * 1000 : 0 });
      }
      history.last = point;
      for (const series of [history.rate, history.latency]) {
        while (series.length && now - series[0].t > HISTORY_S * 1000) series.shift();
      }
      const lastRate = history.rate.at(-1);
      const lastLatency = history.latency.at(-1);
      rateNow.textContent = lastRate ? `· ${lastRate.v.toFixed(1)} now` : "";
      latencyNow.textContent = lastLatency ? `· ${lastLatency.v.toFixed(1)} ms now` : "";
      drawChart(rateChart, history.rate, { unit: "req/s", colour: "#2454d6" });
      drawChart(latencyChart, history.latency, { unit: "ms", colour: "#b35c00" });
    } catch (error) {
      loaded.replaceChildren(h("div", { class: "empty" }, error.message));
    }
  };
  await refresh();
  const timer = setInterval(refresh, POLL_MS);
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------- models

async function models() {
  const store = h("div", { class: "table-wrap" }, "loading…");
  const zoo = h("div", { class: "table-wrap" }, "loading…");
  const details = h("div");
  view.replaceChildren(h("h1", {}, "Models"),
    h("div", { class: "grid" },
      h("section", { class: "panel wide" }, h("h2", {}, "Store"), store, details),
      h("section", { class: "panel wide" }, h("h2", {}, "Zoo"), zoo)));

  const act = async (label, path, modelId) => {
    try {
      await api(path, { method: "POST", body: { model_id: modelId } });
      toast(`${label}: ${modelId}`, "info");
    } catch (error) {
      toast(error.message);
    }
    await refresh();
  };

  const showManifest = async (modelId) => {
    try {
      const { manifest } = await api(`/models/store/${modelId}`);
      details.replaceChildren(h("h2", {}, `Manifest of ${modelId}`),
        h("p", { class: "muted" }, `${manifest.task}, ${manifest.family}, ${manifest.input_width}×${manifest.input_height}, `
          + `${manifest.class_names.length} classes: ${manifest.class_names.slice(0, 12).join(", ")}`
          + (manifest.class_names.length > 12 ? "…" : "")),
        h("pre", { id: "manifest" }, JSON.stringify(manifest, null, 2)));
    } catch (error) {
      toast(error.message);
    }
  };

  const refresh = async () => {
    try {
      const [stored, catalogue] = await Promise.all([api("/models/store"), api("/models/zoo")]);
      const fallback = catalogue.models.find((m) => m.default) || catalogue.models[0];
      store.replaceChildren(stored.models.length ? h("table", { id: "store-table" },
        h("thead", {}, h("tr", {}, ["model", "task", "family", "input", "classes", "size", "state", ""]
          .map((c) => h("th", {}, c)))),
        h("tbody", {}, stored.models.map((m) => h("tr", { dataset: { model: m.model_id } },
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => showManifest(m.model_id) }, m.model_id)),
          h("td", {}, m.task), h("td", {}, m.family), h("td", {}, `${m.input_width}×${m.input_height}`),
          h("td", {}, m.classes), h("td", {}, megabytes(m.size_bytes)),
          h("td", {}, h("span", { class: m.loaded ? "badge on" : "badge" }, m.loaded ? "loaded" : "on disk"),
            m.optimization ? h("span", { class: "badge" }, m.optimization.precision) : ""),
          h("td", {}, m.loaded
            ? h("button", { type: "button", onclick: () => act("unloaded", "/model/remove", m.model_id) }, "Unload")
            : h("button", { type: "button", class: "primary", onclick: () => act("loaded", "/model/add", m.model_id) },
              "Load"))))))
        : h("div", { class: "empty" }, "No models in the store yet — ",
          fallback ? h("button", { type: "button", class: "primary",
            onclick: () => act("pulled and loaded", "/model/add", fallback.alias) }, `pull ${fallback.alias}`) : "",
          " or import one with ", h("code", {}, "argus models import")));
      zoo.replaceChildren(h("table", { id: "zoo-table" },
        h("thead", {}, h("tr", {}, ["alias", "store id", "licence", "", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, catalogue.models.map((m) => h("tr", { dataset: { alias: m.alias } },
          h("td", {}, h("strong", {}, m.alias), h("div", { class: "muted" }, m.description)),
          h("td", {}, m.model_id), h("td", {}, m.license),
          h("td", {}, h("span", { class: m.in_store ? "badge on" : "badge" }, m.in_store ? "in store" : "not pulled")),
          h("td", {}, h("button", { type: "button", onclick: () => act("pulled and loaded", "/model/add", m.alias) },
            m.in_store ? "Load" : "Pull and load")))))));
    } catch (error) {
      store.replaceChildren(h("div", { class: "empty" }, error.message));
      zoo.replaceChildren("");
    }
  };
  await refresh();
  return () => {};
}

// ------------------------------------------------------------------------------------ playground

function readAsBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function colourOf(classId) { return PALETTE[Math.abs(classId || 0) % PALETTE.length]; }

// Draws the server's JSON on the image: boxes, polygons, keypoints (classification is listed beside it).
function drawPredictions(canvas, image, answer) {
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const g = canvas.getContext("2d");
  g.drawImage(image, 0, 0);
  const line = Math.max(2, Math.round(canvas.width / 400));
  let boxes = 0;
  for (const p of answer.predictions || []) {
    if (p.width === undefined) continue; // classification
    const colour = colourOf(p.class_id);
    if (p.points && p.points.length) {
      g.fillStyle = `${colour}55`;
      g.beginPath();
      p.points.forEach((pt, i) => (i ? g.lineTo(pt.x, pt.y) : g.moveTo(pt.x, pt.y)));
      g.closePath();
      g.fill();
    }
    g.strokeStyle = colour;
    g.lineWidth = line;
    g.strokeRect(p.x - p.width / 2, p.y - p.height / 2, p.width, p.height);
    boxes += 1;
    for (const k of p.keypoints || []) {
      g.fillStyle = colour;
      g.beginPath();
      g.arc(k.x, k.y, line * 2, 0, 2 * Math.PI);
      g.fill();
    }
    const label = `${p.class} ${(p.confidence * 100).toFixed(0)}%`;
    g.font = `${Math.max(12, line * 7)}px system-ui, sans-serif`;
    const textWidth = g.measureText(label).width;
    const top = Math.max(0, p.y - p.height / 2 - line * 9);
    g.fillStyle = colour;
    g.fillRect(p.x - p.width / 2, top, textWidth + line * 4, line * 9);
    g.fillStyle = "#fff";
    g.fillText(label, p.x - p.width / 2 + line * 2, top + line * 7);
  }
  canvas.dataset.boxes = String(boxes);
}

async function playground() {
  const select = h("select", { id: "model" });
  const confidence = h("input", { id: "confidence", type: "range", min: "0", max: "1", step: "0.05", value: "0.4" });
  const iou = h("input", { id: "iou", type: "range", min: "0", max: "1", step: "0.05", value: "0.5" });
  const confidenceValue = h("span", {}, "0.40");
  const iouValue = h("span", {}, "0.50");
  const classFilter = h("input", { id: "class-filter", type: "text", placeholder: "e.g. person, car" });
  const file = h("input", { id: "image-file", type: "file", accept: "image/*" });
  const run = h("button", { id: "run", type: "button", class: "primary", disabled: true }, "Run");
  const webcam = h("button", { type: "button", id: "webcam" }, "Webcam frame");
  const drop = h("div", { class: "drop", id: "drop" }, "Drop an image here, or choose one: ", file, " ", webcam);
  const canvas = h("canvas", { id: "drawing", width: "640", height: "360", "aria-label": "image with predictions" });
  const scores = h("ul", { class: "bars", id: "scores" });
  const json = h("pre", { id: "answer" }, "Pick a model and an image, then Run.");
  const video = h("video", { autoplay: true, playsinline: true, muted: true, hidden: true });
  let picked = null; // the Blob to send
  let image = null; // its decoded HTMLImageElement

  const updateRun = () => { run.disabled = !(picked && select.value); };
  confidence.addEventListener("input", () => { confidenceValue.textContent = Number(confidence.value).toFixed(2); });
  iou.addEventListener("input", () => { iouValue.textContent = Number(iou.value).toFixed(2); });
  select.addEventListener("change", updateRun);

  const pick = async (blob) => {
    picked = blob;
    image = new Image();
    image.src = URL.createObjectURL(blob);
    await image.decode();
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    canvas.getContext("2d").drawImage(image, 0, 0);
    delete canvas.dataset.boxes;
    updateRun();
  };
  file.addEventListener("change", () => file.files[0] && pick(file.files[0]));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const dropped = event.dataTransfer.files[0];
    if (dropped) pick(dropped);
  });
  webcam.addEventListener("click", async () => {
    if (!navigator.mediaDevices?.getUserMedia) { toast("This browser gives no camera here (it needs https or localhost)."); return; }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      await video.play();
      const frame = h("canvas", { width: video.videoWidth, height: video.videoHeight });
      frame.getContext("2d").drawImage(video, 0, 0);
      video.srcObject.getTracks().forEach((track) => track.stop());
      frame.toBlob((blob) => blob && pick(blob), "image/jpeg", 0.92);
    } catch (error) {
      toast(`Camera: ${error.message}`);
    }
  });

  run.addEventListener("click", async () => {
    const option = select.selectedOptions[0];
    const route = TASK_ROUTES[option.dataset.task] || "object_detection";
    const body = { model_id: select.value, image: { type: "base64", value: await readAsBase64(picked) },
      confidence: Number(confidence.value), iou_threshold: Number(iou.value) };
    const classes = classFilter.value.split(",").map((c) => c.trim()).filter(Boolean);
    if (classes.length) body.class_filter = classes;
    run.disabled = true;
    run.textContent = "Running…";
    try {
      const answer = await api(`/infer/${route}`, { method: "POST", body });
      json.textContent = JSON.stringify(answer, null, 2);
      drawPredictions(canvas, image, answer);
      const classified = (answer.predictions || []).filter((p) => p.width === undefined);
      scores.replaceChildren(...classified.map((p) => h("li", {}, h("span", {}, p.class),
        h("span", { class: "bar", style: undefined, dataset: { confidence: p.confidence } }),
        h("span", {}, `${(p.confidence * 100).toFixed(1)}%`))));
      scores.querySelectorAll(".bar").forEach((bar) => { bar.style.width = `${Number(bar.dataset.confidence) * 100}%`; });
    } catch (error) {
      json.textContent = error.message;
      toast(error.message);
    } finally {
      run.textContent = "Run";
      updateRun();
    }
  });

  view.replaceChildren(h("h1", {}, "Playground"),
    h("section", { class: "panel" },
      h("div", { class: "controls" },
        h("label", { for: "model" }, "Model", select),
        h("label", { for: "confidence" }, h("span", {}, "Confidence ", confidenceValue), confidence),
        h("label", { for: "iou" }, h("span", {}, "IoU ", iouValue), iou),
        h("label", { for: "class-filter" }, "Classes (comma-separated; empty for all)", classFilter),
        run),
      h("div", { style: undefined }, drop, video)),
    h("div", { class: "result" },
      h("section", { class: "panel" }, canvas, scores),
      h("section", { class: "panel" }, h("h2", {}, "Response"), json)));

  try {
    const [stored, catalogue] = await Promise.all([api("/models/store"), api("/models/zoo")]);
    const options = stored.models.map((m) => h("option", { value: m.model_id, dataset: { task: m.task } },
      `${m.model_id} (${m.task})`));
    const inStore = new Set(stored.models.map((m) => m.model_id));
    for (const entry of catalogue.models) {
      const task = stored.models.find((m) => m.model_id === entry.model_id)?.task || "object-detection";
      if (!inStore.has(entry.alias)) {
        options.push(h("option", { value: entry.alias, dataset: { task } }, `${entry.alias} (zoo alias)`));
      }
    }
    select.replaceChildren(...options);
    if (!options.length) select.replaceChildren(h("option", { value: "" }, "no models: pull one on the Models page"));
  } catch (error) {
    toast(error.message);
  }
  updateRun();
  return () => {};
}

// -------------------------------------------------------------------------------------- endpoints

const NAMESPACE_STORAGE = "argus.namespace";

function namespace() { return sessionStorage.getItem(NAMESPACE_STORAGE) || "default"; }

function field(label, input) { return h("label", { for: input.id }, label, input); }

// The create/update form: the Inference Endpoints spec's fields people set (name, model, access, scaling, env).
function endpointForm(models, current, onSaved) {
  const editing = Boolean(current);
  const spec = current || { type: "authenticated", model: { env: {} }, compute: { scaling: { minReplica: 0, maxReplica: 1,
    scaleToZeroTimeout: 15, measure: { pendingRequests: 1.5 } } } };
  const scaling = spec.compute.scaling;
  const name = h("input", { id: "ep-name", required: true, pattern: "[a-z0-9]([a-z0-9\\-]{0,30}[a-z0-9])?", title: "lower-case letters, digits and dashes; 32 at most", value: spec.name || "",
    disabled: editing });
  const model = h("select", { id: "ep-model" }, models.map((m) => h("option", { value: m.model_id,
    selected: m.model_id === spec.model.repository }, m.model_id)));
  const type = h("select", { id: "ep-type" }, ["public", "authenticated", "private"].map((t) =>
    h("option", { value: t, selected: t === spec.type }, t)));
  const min = h("input", { id: "ep-min", type: "number", min: "0", max: "64", value: scaling.minReplica });
  const max = h("input", { id: "ep-max", type: "number", min: "1", max: "64", value: scaling.maxReplica });
  const idle = h("input", { id: "ep-idle", type: "number", min: "1", step: "any", value: scaling.scaleToZeroTimeout ?? "" });
  const pending = h("input", { id: "ep-pending", type: "number", min: "0.1", step: "any",
    value: scaling.measure?.pendingRequests ?? 1.5 });
  const env = h("textarea", { id: "ep-env", rows: "3", placeholder: "KEY=value, one per line" },
    Object.entries(spec.model.env || {}).map(([k, v]) => `${k}=${v}`).join("\n"));
  const form = h("form", { id: "endpoint-form", class: "panel" },
    h("h2", {}, editing ? `Update ${spec.name}` : "Create an endpoint"),
    h("div", { class: "controls" }, field("Name", name), field("Model", model), field("Access", type),
      field("Min replicas", min), field("Max replicas", max), field("Idle minutes before zero (min 0 only)", idle),
      field("Scale up above pending requests per replica", pending), field("Environment", env),
      h("button", { type: "submit", class: "primary" }, editing ? "Update" : "Create")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const minimum = Number(min.value);
    const body = {
      type: type.value,
      model: { repository: model.value, env: Object.fromEntries(env.value.split("\n").map((line) => line.trim())
        .filter(Boolean).map((line) => [line.split("=")[0].trim(), line.slice(line.indexOf("=") + 1)])) },
      compute: { scaling: { minReplica: minimum, maxReplica: Number(max.value),
        scaleToZeroTimeout: minimum === 0 && idle.value ? Number(idle.value) : null,
        measure: { pendingRequests: Number(pending.value) } } },
    };
    try {
      if (editing) await api(`/v2/endpoint/${namespace()}/${spec.name}`, { method: "PUT", body });
      else await api(`/v2/endpoint/${namespace()}`, { method: "POST", body: { name: name.value, ...body } });
      toast(`${editing ? "updated" : "created"} ${editing ? spec.name : name.value}`, "info");
      onSaved();
    } catch (error) {
      toast(error.message);
    }
  });
  return form;
}

async function endpoints() {
  const ns = h("input", { id: "namespace", value: namespace() });
  const list = h("div", { class: "table-wrap" }, "loading…");
  const formSlot = h("div");
  const detail = h("div");
  const keys = h("div", { class: "table-wrap" });
  const audit = h("div", { class: "table-wrap" });
  let timers = [];
  const stopTimers = () => { timers.forEach(clearInterval); timers = []; };
  ns.addEventListener("change", () => { sessionStorage.setItem(NAMESPACE_STORAGE, ns.value.trim() || "default"); refresh(); });
  view.replaceChildren(h("h1", {}, "Endpoints"),
    h("div", { class: "grid" },
      h("section", { class: "panel wide" }, h("div", { class: "controls" }, field("Namespace", ns)), list),
      h("div", { class: "wide" }, formSlot), h("div", { class: "wide" }, detail),
      h("section", { class: "panel wide" }, h("h2", {}, "Keys"), keys),
      h("section", { class: "panel wide" }, h("h2", {}, "Audit log"), audit)));

  let stored = [];
  const saved = () => { formSlot.replaceChildren(); refresh(); }; // a fresh create form after each save
  const act = async (name, action) => {
    try {
      if (action === "delete") {
        if (!window.confirm(`Delete ${name}?`)) return;
        await api(`/v2/endpoint/${namespace()}/${name}`, { method: "DELETE", raw: true });
      } else {
        await api(`/v2/endpoint/${namespace()}/${name}/${action}`, { method: "POST" });
      }
      toast(`${name}: ${action}`, "info");
    } catch (error) {
      toast(error.message);
    }
    refresh();
  };

  const showDetail = (endpoint) => {
    stopTimers();
    const requests = h("canvas", { class: "chart", "aria-label": "requests per interval" });
    const latency = h("canvas", { class: "chart", "aria-label": "p95 latency" });
    const replicas = h("canvas", { class: "chart", "aria-label": "ready replicas" });
    const logs = h("pre", { id: "endpoint-logs" }, "loading logs…");
    detail.replaceChildren(h("section", { class: "panel" }, h("h2", {}, `${endpoint.name}: traffic and replicas`),
      h("div", { class: "grid" }, h("div", {}, h("div", { class: "muted" }, "requests"), requests),
        h("div", {}, h("div", { class: "muted" }, "p95 latency"), latency),
        h("div", {}, h("div", { class: "muted" }, "ready replicas"), replicas)),
      h("h2", {}, "Log tail"), logs));
    const load = async () => {
      try {
        const [metrics, text] = await Promise.all([api(`/v2/endpoint/${namespace()}/${endpoint.name}/metrics`),
          api(`/v2/endpoint/${namespace()}/${endpoint.name}/logs`, { raw: true })]);
        const points = (key) => metrics.samples.map((s) => ({ t: Date.parse(s.at), v: key(s) || 0 }));
        drawChart(requests, points((s) => s.requests), { unit: "req", colour: "#2454d6" });
        drawChart(latency, points((s) => s.latencyMs.p95), { unit: "ms", colour: "#b35c00" });
        drawChart(replicas, points((s) => s.readyReplica), { unit: "replicas", colour: "#1d7a46" });
        logs.textContent = text.split("\n").slice(-200).join("\n") || "(no log lines yet)";
        logs.scrollTop = logs.scrollHeight;
      } catch (error) {
        logs.textContent = error.message;
      }
    };
    load();
    timers.push(setInterval(load, POLL_MS));
  };

  const refreshKeys = async () => {
    const name = h("input", { id: "key-name", placeholder: "what the key is for" });
    const role = h("select", { id: "key-role" }, ["invoke", "admin"].map((r) => h("option", { value: r }, r)));
    const secret = h("div", { id: "key-secret" });
    try {
      const { items } = await api(`/v2/endpoint-keys/${namespace()}`);
      keys.replaceChildren(
        h("form", { class: "controls", id: "key-create", onsubmit: async (event) => {
          event.preventDefault();
          try {
            const created = await api(`/v2/endpoint-keys/${namespace()}`, { method: "POST",
              body: { name: name.value, role: role.value } });
            await refreshKeys();
            keys.querySelector("#key-secret").replaceChildren(h("p", { class: "warn" },
              "Copy this key now; it is not shown again: ", h("code", {}, created.secret)));
          } catch (error) { toast(error.message); }
        } }, field("Name", name), field("Role", role), h("button", { type: "submit" }, "Create key")),
        secret,
        items.length ? h("table", {}, h("thead", {}, h("tr", {}, ["name", "role", "prefix", "created", ""].map((c) => h("th", {}, c)))),
          h("tbody", {}, items.map((k) => h("tr", {}, h("td", {}, k.name), h("td", {}, k.role), h("td", {}, h("code", {}, k.prefix)),
            h("td", {}, k.createdAt), h("td", {}, h("button", { type: "button", onclick: async () => {
              try { await api(`/v2/endpoint-keys/${namespace()}/${k.id}`, { method: "DELETE" }); refreshKeys(); }
              catch (error) { toast(error.message); }
            } }, "Revoke"))))))
          : h("div", { class: "empty" }, "No keys in this namespace yet."));
    } catch (error) {
      keys.replaceChildren(h("div", { class: "empty" }, error.message));
    }
    try {
      const { items } = await api(`/v2/endpoint-audit/${namespace()}`);
      audit.replaceChildren(items.length ? h("table", {}, h("thead", {}, h("tr", {}, ["when", "who", "action", "target"]
        .map((c) => h("th", {}, c)))), h("tbody", {}, items.slice(0, 100).map((e) => h("tr", {}, h("td", {}, e.at || e.createdAt || ""),
        h("td", {}, e.actor || e.principal || ""), h("td", {}, e.action), h("td", {}, e.target || e.endpoint || "")))))
        : h("div", { class: "empty" }, "Nothing happened in this namespace yet."));
    } catch (error) {
      audit.replaceChildren(h("div", { class: "empty" }, error.message));
    }
  };

  const refresh = async () => {
    try {
      const [{ items }, store] = await Promise.all([api(`/v2/endpoint/${namespace()}`), api("/models/store")]);
      stored = store.models;
      list.replaceChildren(items.length ? h("table", { id: "endpoint-table" },
        h("thead", {}, h("tr", {}, ["name", "model", "access", "state", "replicas", "url", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, items.map((e) => h("tr", { dataset: { endpoint: e.name } },
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => showDetail(e) }, e.name)),
          h("td", {}, e.model.repository), h("td", {}, e.type),
          h("td", {}, h("span", { class: `badge state-${e.status.state}` }, e.status.state), h("div", { class: "muted" }, e.status.message)),
          h("td", {}, `${e.status.readyReplica}/${e.status.targetReplica} (${e.compute.scaling.minReplica}–${e.compute.scaling.maxReplica})`),
          h("td", {}, h("code", {}, e.status.url || "")),
          h("td", {},
            e.status.state === "paused"
              ? h("button", { type: "button", onclick: () => act(e.name, "resume") }, "Resume")
              : h("button", { type: "button", onclick: () => act(e.name, "pause") }, "Pause"),
            " ", h("button", { type: "button", onclick: () => act(e.name, "scale-to-zero") }, "Scale to zero"),
            " ", h("button", { type: "button", onclick: () => formSlot.replaceChildren(endpointForm(stored, e, saved)) }, "Edit"),
            " ", h("button", { type: "button", onclick: () => act(e.name, "delete") }, "Delete"))))))
        : h("div", { class: "empty" }, `No endpoints in ${namespace()} yet — create one below.`));
      if (!formSlot.querySelector("form")) formSlot.replaceChildren(endpointForm(stored, null, saved));
    } catch (error) {
      list.replaceChildren(h("div", { class: "empty" }, error.message));
    }
    refreshKeys();
  };
  await refresh();
  timers.push(setInterval(() => { if (!detail.childElementCount) refresh(); }, POLL_MS * 3));
  return stopTimers;
}

// -------------------------------------------------------------------------------------- workflows

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

async function workflows() {
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

// ------------------------------------------------------------------------------------------ video

function previewWorkflow(modelId) {
  return {
    version: "1.0",
    inputs: [{ type: "WorkflowImage", name: "image" }],
    steps: [{ type: "roboflow_core/roboflow_object_detection_model@v2", name: "model", images: "$inputs.image",
      model_id: modelId },
    { type: "roboflow_core/bounding_box_visualization@v1", name: "boxes", image: "$inputs.image",
      predictions: "$steps.model.predictions" }],
    outputs: [{ type: "JsonField", name: "predictions", selector: "$steps.model.predictions" },
      { type: "JsonField", name: "annotated", selector: "$steps.boxes.image" }],
  };
}

async function video() {
  const list = h("div", { class: "table-wrap", id: "pipelines" }, "loading…");
  const preview = h("div", { id: "video-preview" }, h("div", { class: "empty" }, "Start a pipeline, then preview it."));
  const stats = h("div", { class: "muted", id: "video-stats" });
  let timers = [];
  const stopTimers = () => { timers.forEach(clearInterval); timers = []; };
  view.replaceChildren(h("h1", {}, "Video"), h("div", { id: "video-body" }, "loading…"));
  try {
    await api("/inference_pipelines/list");
  } catch (error) {
    view.replaceChildren(h("h1", {}, "Video"), h("div", { class: "empty", id: "video-off" }, error.status === 403
      ? "The stream API is off on this server. Start it with ARGUS_ENABLE_STREAM_API=true (and ARGUS_MEDIA_DIR "
        + "for files, ARGUS_ALLOW_PRIVATE_URLS for cameras on the local network)."
      : error.message));
    return () => {};
  }
  const source = h("input", { id: "video-source", placeholder: "rtsp://camera/stream, or a file under ARGUS_MEDIA_DIR" });
  const model = h("select", { id: "video-model" });
  const fps = h("input", { id: "video-fps", type: "number", min: "1", max: "60", value: "10" });
  const start = h("button", { type: "submit", class: "primary" }, "Start");
  const form = h("form", { id: "video-form", class: "controls" }, field("Source", source), field("Model", model),
    field("Max frames per second", fps), start);
  try {
    const [stored, catalogue] = await Promise.all([api("/models/store"), api("/models/zoo")]);
    const ids = [...stored.models.filter((m) => m.task === "object-detection").map((m) => m.model_id),
      ...catalogue.models.map((m) => m.alias)];
    model.replaceChildren(...[...new Set(ids)].map((id) => h("option", { value: id }, id)));
  } catch (error) { toast(error.message); }

  const watch = (pipelineId) => {
    stopTimers();
    let frames = 0;
    const started = Date.now();
    const poll = async () => {
      try {
        const [consumed, status] = await Promise.all([
          api(`/inference_pipelines/${pipelineId}/consume`),
          api(`/inference_pipelines/${pipelineId}/status`)]);
        frames += consumed.outputs.length;
        const last = consumed.outputs.at(-1);
        if (last?.annotated) {
          preview.replaceChildren(h("img", { class: "output-image", alt: "the latest annotated frame",
            src: `data:image/jpeg;base64,${last.annotated.value}` }),
          h("p", {}, `${(last.predictions?.predictions || []).length} detections in the latest frame`));
        }
        const report = status.report || {};
        const state = report.sources_metadata?.[0]?.state || "unknown";
        const throughput = report.inference_throughput;
        stats.textContent = `${pipelineId}: ${state} · ${frames} frames shown · `
          + `${typeof throughput === "number" ? throughput.toFixed(1) : "?"} frames/s inferred · `
          + `${((Date.now() - started) / 1000).toFixed(0)} s watched`;
      } catch (error) {
        stats.textContent = error.message;
        stopTimers();
      }
    };
    poll();
    timers.push(setInterval(poll, 700));
  };

  const command = async (pipelineId, operation) => {
    try {
      await api(`/inference_pipelines/${pipelineId}/${operation}`, { method: "POST", body: {} });
      toast(`${pipelineId}: ${operation}`, "info");
      if (operation === "terminate") stopTimers();
    } catch (error) { toast(error.message); }
    refresh();
  };

  const refresh = async () => {
    try {
      const { pipelines } = await api("/inference_pipelines/list");
      list.replaceChildren(pipelines.length ? h("table", {}, h("thead", {}, h("tr", {}, ["pipeline", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, pipelines.map((id) => h("tr", { dataset: { pipeline: id } }, h("td", {}, h("code", {}, id)),
          h("td", {}, ["preview", "pause", "resume", "terminate"].map((operation) => h("button", { type: "button",
            onclick: () => (operation === "preview" ? watch(id) : command(id, operation)) }, operation)))))))
        : h("div", { class: "empty" }, "No pipelines running."));
    } catch (error) {
      list.replaceChildren(h("div", { class: "empty" }, error.message));
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reference = source.value.trim();
    const body = {
      video_configuration: { type: "VideoConfiguration", video_reference: /^\d+$/.test(reference) ? Number(reference) : reference,
        max_fps: Number(fps.value) || null },
      processing_configuration: { type: "WorkflowConfiguration", workflow_specification: previewWorkflow(model.value) },
      sink_configuration: { type: "MemorySinkConfiguration", results_buffer_size: 16 },
    };
    try {
      const started = await api("/inference_pipelines/initialise", { method: "POST", body });
      toast(`started ${started.context.pipeline_id}`, "info");
      await refresh();
      watch(started.context.pipeline_id);
    } catch (error) { toast(error.message); }
  });

  view.replaceChildren(h("h1", {}, "Video"),
    h("div", { class: "result" },
      h("section", { class: "panel" }, h("h2", {}, "Start a pipeline"), form, h("h2", {}, "Pipelines"), list),
      h("section", { class: "panel" }, h("h2", {}, "Preview"), stats, preview)));
  await refresh();
  return stopTimers;
}

// ---------------------------------------------------------------------------------------- router

const PAGES = { overview, models, playground, workflows, video, endpoints };

async function render() {
  leaveView();
  leaveView = () => {};
  const name = (location.hash.replace(/^#\//, "") || "overview").split("/")[0];
  const page = PAGES[name] || overview;
  for (const link of document.querySelectorAll(".top nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name}`);
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  try {
    leaveView = (await page()) || (() => {});
  } catch (error) {
    view.replaceChildren(h("div", { class: "empty" }, error.message));
  }
  document.body.dataset.page = name;
}

setUpKeyForm();
window.addEventListener("hashchange", render);
render();
