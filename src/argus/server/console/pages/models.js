import { api, h, megabytes, toast, view } from "../lib.js";

export async function models() {
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
      const summary = manifest.kind
        ? `a ${manifest.kind} bundle: ${Object.entries(manifest.files).map(([role, file]) => `${role} ${file}`).join(", ")}`
        : `${manifest.task}, ${manifest.family}, ${manifest.input_width}×${manifest.input_height}, `
          + `${manifest.class_names.length} classes: ${manifest.class_names.slice(0, 12).join(", ")}`
          + (manifest.class_names.length > 12 ? "…" : "");
      details.replaceChildren(h("h2", {}, `Manifest of ${modelId}`), h("p", { class: "muted" }, summary),
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
          h("td", {}, m.task), h("td", {}, m.family),
          h("td", {}, m.input_width ? `${m.input_width}×${m.input_height}` : "—"),
          h("td", {}, m.classes ?? "—"), h("td", {}, megabytes(m.size_bytes)),
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
