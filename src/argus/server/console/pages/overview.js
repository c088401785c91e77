import { HISTORY_S, POLL_MS, api, drawChart, h, megabytes, parseMetrics, sum, view } from "../lib.js";

const CONSOLE_ROUTES = new Set(["/", "/metrics", "/info", "/healthz", "/readiness", "/model/registry",
  "/models/store", "/models/zoo"]);

const history = { rate: [], latency: [], errors: [], last: null };

export async function overview() {
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
