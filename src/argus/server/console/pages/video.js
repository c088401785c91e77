import { api, field, h, toast, view } from "../lib.js";

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

export async function video() {
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
