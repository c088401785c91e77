// Shared by the console's pages: the API client, the DOM helper, messages and charts.

export const KEY_STORAGE = "argus.apiKey";
export const POLL_MS = 2000;
export const HISTORY_S = 300;
export const view = document.getElementById("view");

export class ApiError extends Error {
  constructor(status, message, details = {}) { super(message); this.status = status; this.details = details; }
}

export function apiKey() { return sessionStorage.getItem(KEY_STORAGE) || ""; }

export async function api(path, { method = "GET", body, raw = false } = {}) {
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

export function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = kind === "info" ? "info" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// Small DOM helper: h("td", {class: "x"}, "text", child).
export function h(tag, attributes = {}, ...children) {
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

export function megabytes(bytes) { return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`; }

export function field(label, input) { return h("label", { for: input.id }, label, input); }

export function readAsBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// The Prometheus text format: `name{a="b",c="d"} value` per line (comments skipped).
export function parseMetrics(text) {
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

export function sum(samples, name, keep = () => true) {
  return samples.filter((s) => s.name === name && keep(s.labels)).reduce((total, s) => total + s.value, 0);
}

export function drawChart(canvas, points, { unit, colour, minimum = 1 }) {
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
