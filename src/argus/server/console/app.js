// The Argus console: plain ES modules, no framework, no build step. Everything shown comes from the server's
// own API; the API key is entered once, kept in sessionStorage and sent as a bearer header (never in a URL).

import { KEY_STORAGE, apiKey, h, view } from "./lib.js";
import { endpoints } from "./pages/endpoints.js";
import { models } from "./pages/models.js";
import { overview } from "./pages/overview.js";
import { playground } from "./pages/playground.js";
import { video } from "./pages/video.js";
import { workflows } from "./pages/workflows.js";

let leaveView = () => {};

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
