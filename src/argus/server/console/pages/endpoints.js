import { POLL_MS, api, drawChart, field, h, toast, view } from "../lib.js";

const NAMESPACE_STORAGE = "argus.namespace";

function namespace() { return sessionStorage.getItem(NAMESPACE_STORAGE) || "default"; }

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

export async function endpoints() {
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
