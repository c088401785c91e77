import { api, h, readAsBase64, toast, view } from "../lib.js";

const TASK_ROUTES = {
  "object-detection": "object_detection", "instance-segmentation": "instance_segmentation",
  "keypoint-detection": "keypoints_detection", "classification": "classification",
  "multi-label-classification": "classification",
};
const PALETTE = ["#ff3b30", "#34c759", "#0a84ff", "#ff9f0a", "#bf5af2", "#64d2ff", "#ffd60a", "#ff375f"];


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

export async function playground() {
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
