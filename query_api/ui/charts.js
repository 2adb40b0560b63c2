// Small shared helpers: channel colours and icons, formatting, and two SVG charts (line, bars).
import { apiFetch, forbiddenMessage } from "./auth.js";
import { h, svg } from "./dom.js";

export const CHANNELS = {
  web: { label: "Web", color: "#3b5bdb" },
  app: { label: "Mobile app", color: "#7048e8" },
  voice: { label: "Voice", color: "#e8590c" },
  ivr: { label: "IVR", color: "#868e96" },
  store: { label: "Store", color: "#2f9e44" },
  email: { label: "Email", color: "#1098ad" },
  chat: { label: "Chat", color: "#d6336c" },
  social: { label: "Social", color: "#f08c00" },
  messaging: { label: "Messaging", color: "#0ca678" },
  task: { label: "Task", color: "#6741d9" },
};
const EXTRA_COLORS = ["#5c7cfa", "#20c997", "#fab005", "#ae3ec9", "#495057", "#ff6b6b"];

export function channelColor(key, index = 0) {
  return (CHANNELS[key] && CHANNELS[key].color) || EXTRA_COLORS[index % EXTRA_COLORS.length];
}
export function channelLabel(key) {
  return (CHANNELS[key] && CHANNELS[key].label) || key;
}

// 24x24 stroke icons, drawn for this project: [tag, attributes] of each shape.
const circle = (cx, cy, r) => ["circle", { cx, cy, r }];
const rect = (x, y, width, height, rx) => ["rect", { x, y, width, height, rx }];
const path = (d) => ["path", { d }];
const ICON_SHAPES = {
  web: [circle(12, 12, 9), ["ellipse", { cx: 12, cy: 12, rx: 4, ry: 9 }], path("M3 12h18M5 7h14M5 17h14")],
  app: [rect(7, 2.5, 10, 19, 2), path("M10.5 5h3"), circle(12, 18, 1)],
  voice: [path("M4 14v-2a8 8 0 0 1 16 0v2"), rect(3, 13, 4, 6, 1.5), rect(17, 13, 4, 6, 1.5), path("M19 19c0 1.5-2 2.5-5 2.5")],
  ivr: [[7, 6], [12, 6], [17, 6], [7, 11], [12, 11], [17, 11], [7, 16], [12, 16], [17, 16], [12, 21]].map(([x, y]) => circle(x, y, 1.3)),
  store: [path("M3 9l2-5h14l2 5"), path("M3 9c0 1.7 1.3 3 3 3s3-1.3 3-3c0 1.7 1.3 3 3 3s3-1.3 3-3c0 1.7 1.3 3 3 3s3-1.3 3-3"),
    path("M5 12v9h14v-9"), path("M10 21v-5h4v5")],
  email: [rect(3, 5, 18, 14, 2), path("M3.5 6l8.5 7 8.5-7")],
  chat: [path("M4 5h16v11H9l-5 4z"), path("M8 9h8M8 12h5")],
  social: [circle(6, 12, 2.5), circle(18, 6, 2.5), circle(18, 18, 2.5), path("M8.2 10.8l7.6-3.6M8.2 13.2l7.6 3.6")],
  messaging: [rect(6, 2.5, 12, 19, 2), path("M9 8h6M9 11h4"), circle(12, 18, 1)],
  task: [rect(4, 4, 16, 17, 2), path("M9 3v3h6V3"), path("M8 12l2.5 2.5L16 9")],
  other: [circle(12, 12, 8), path("M12 8v5M12 16v.5")],
  clock: [circle(12, 12, 9), path("M12 7v5l3 2")],
};

/** A stroke icon as an SVG element: a channel's (`other` for an unknown one), or `clock`. */
export function icon(key, className = "ch-icon") {
  const shapes = Object.hasOwn(ICON_SHAPES, key) ? ICON_SHAPES[key] : ICON_SHAPES.other;
  return svg("svg", {
    class: className, viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": 1.7,
    "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
  }, shapes.map(([tag, attrs]) => svg(tag, attrs)));
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

export function formatPercent(rate) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "–";
  return `${(rate * 100).toFixed(1)}%`;
}

export function formatDateTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }) + " UTC";
}

function el(name, attrs = {}, parent = null) {
  const node = svg(name, attrs);
  if (parent) parent.appendChild(node);
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

// a step for four gridlines: 1, 2, 2.5 (from 25 up) or 5 times a power of ten, never below 1 (counts)
function niceStep(value) {
  if (value <= 1) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of exp >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

function bucketLabel(iso, interval) {
  const d = new Date(iso);
  const opts = { timeZone: "UTC" };
  if (interval === "hour") Object.assign(opts, { month: "short", day: "numeric", hour: "2-digit" });
  else if (interval === "month") Object.assign(opts, { year: "numeric", month: "short" });
  else Object.assign(opts, { month: "short", day: "numeric" });
  return d.toLocaleString(undefined, opts);
}

/**
 * Multi-series line chart.
 * series: [{key, label, color, points: Map(t -> value)}]; buckets: sorted list of t (ISO strings).
 */
export function lineChart(container, { buckets, series, interval, valueLabel = "volume" }) {
  container.replaceChildren();
  container.classList.add("chart");
  const W = Math.max(360, container.clientWidth || 760), H = 300, M = { top: 12, right: 16, bottom: 28, left: 40 };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${valueLabel} over time` }, container);
  if (!buckets.length || !series.length) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "bar-value" }, svg).textContent = "No data in this period";
    return;
  }
  const hidden = new Set();
  let max = 0;
  for (const s of series) for (const t of buckets) max = Math.max(max, s.points.get(t) || 0);
  const yMax = 4 * niceStep(max / 4);
  const iw = W - M.left - M.right, ih = H - M.top - M.bottom;
  const x = (i) => M.left + (buckets.length === 1 ? iw / 2 : (i * iw) / (buckets.length - 1));
  const y = (v) => M.top + ih - (v / yMax) * ih;

  const grid = el("g", { class: "grid" }, svg);
  const axis = el("g", { class: "axis" }, svg);
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, grid);
    el("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, axis).textContent = Number.isInteger(v) ? v : v.toFixed(1);
  }
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((t, i) => {
    if (i % labelEvery === 0) el("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, axis).textContent = bucketLabel(t, interval);
  });

  const lines = el("g", { class: "lines" }, svg);
  const paths = new Map();
  for (const s of series) {
    const d = buckets.map((t, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(s.points.get(t) || 0).toFixed(1)}`).join("");
    const path = el("path", { d, class: "series", stroke: s.color, "data-key": s.key }, lines);
    const title = el("title", {}, path);
    title.textContent = s.label;
    paths.set(s.key, path);
  }

  const guide = el("line", { class: "guide hidden", y1: M.top, y2: M.top + ih }, svg);
  const tip = document.createElement("div");
  tip.className = "tooltip hidden";
  container.appendChild(tip);
  const overlay = el("rect", { x: M.left, y: M.top, width: iw, height: ih, fill: "transparent" }, svg);
  overlay.addEventListener("mousemove", (ev) => {
    const box = svg.getBoundingClientRect();
    const px = ((ev.clientX - box.left) / box.width) * W;
    const i = Math.max(0, Math.min(buckets.length - 1, Math.round(((px - M.left) / iw) * (buckets.length - 1))));
    guide.setAttribute("x1", x(i)); guide.setAttribute("x2", x(i));
    guide.classList.remove("hidden");
    const rows = series.filter((s) => !hidden.has(s.key))
      .map((s) => h("tr", {}, h("td", {}, swatch(s.color), " ", s.label), h("td", {}, String(s.points.get(buckets[i]) || 0))));
    tip.replaceChildren(h("b", {}, bucketLabel(buckets[i], interval)), h("table", {}, rows));
    tip.classList.remove("hidden");
    const left = (x(i) / W) * box.width;
    tip.style.left = `${left + 12 + tip.offsetWidth > box.width ? left - tip.offsetWidth - 12 : left + 12}px`;
    tip.style.top = "8px";
  });
  overlay.addEventListener("mouseleave", () => { guide.classList.add("hidden"); tip.classList.add("hidden"); });

  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.key = s.key;
    b.append(swatch(s.color), s.label);
    b.addEventListener("click", () => {
      if (hidden.has(s.key)) hidden.delete(s.key); else hidden.add(s.key);
      b.classList.toggle("off", hidden.has(s.key));
      paths.get(s.key).classList.toggle("hidden", hidden.has(s.key));
    });
    legend.appendChild(b);
  }
  container.appendChild(legend);
}

function swatch(color) {
  const mark = h("span", { class: "swatch" });
  mark.style.background = color;
  return mark;
}

/** Horizontal bars: rows [{key, label, color, value, text}], value scaled against max (or opts.max). */
export function barChart(container, rows, { max = null, name = "" } = {}) {
  container.replaceChildren();
  container.classList.add("chart");
  const rowH = 28, W = Math.max(300, container.clientWidth || 460), labelW = 90, valueW = 70;
  const H = Math.max(rowH, rows.length * rowH) + 4;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": name }, container);
  if (!rows.length) {
    el("text", { x: W / 2, y: H / 2 + 4, "text-anchor": "middle", class: "bar-value" }, svg).textContent = "No data";
    return;
  }
  const top = max ?? niceMax(Math.max(...rows.map((r) => r.value || 0)));
  const bw = W - labelW - valueW;
  rows.forEach((r, i) => {
    const yy = i * rowH + 4;
    const g = el("g", { class: "bar", "data-key": r.key, "data-value": String(r.value) }, svg);
    el("text", { x: labelW - 8, y: yy + 15, "text-anchor": "end", class: "bar-label" }, g).textContent = r.label;
    el("rect", { x: labelW, y: yy + 3, width: bw, height: 16, rx: 4, fill: "#f1f3f7" }, g);
    el("rect", { x: labelW, y: yy + 3, width: Math.max(0, (bw * (r.value || 0)) / top), height: 16, rx: 4, fill: r.color }, g);
    el("text", { x: W - valueW + 8, y: yy + 15, class: "bar-value" }, g).textContent = r.text;
  });
}

/** GET a JSON resource of the API (with the signed-in user's token); on failure an Error with the
 * TMF Error's message and the answer's `status`. */
export async function getJson(url) {
  return (await getList(url)).body;
}

/** The same, with the list's total (its X-Total-Count header; null without one). */
export async function getList(url) {
  const response = await apiFetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = response.status === 403 ? forbiddenMessage(response, body) : (body && body.message) || `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  const total = response.headers.get("X-Total-Count");
  return { body, total: total === null ? null : Number(total) };
}

/** Show (or, with an empty message, hide) the page's error banner. */
export function showError(message) {
  const banner = document.getElementById("error");
  banner.textContent = message;
  banner.classList.toggle("hidden", !message);
}

// -- an empty store: say so, and how to fill it ----------------------------------------------------

export const LIST = "/tmf-api/partyInteraction/v4/partyInteraction";

/** Whether the store holds no interaction the user may read (one item asked for, not a count). */
export async function storeIsEmpty() {
  return (await getJson(`${LIST}?limit=1&fields=id`)).length === 0;
}

function emptyStorePanel() {
  const code = (text) => h("code", {}, text);
  return h("section", { id: "empty-store", class: "panel empty-store", role: "status" },
    h("h2", {}, "No interactions yet"),
    h("p", {}, "The store is empty, so there is nothing to show. To fill it:"),
    h("ul", {},
      // the embedded store has one process at a time: the demo writes into it while the server is stopped
      h("li", {}, "demo customer histories: stop the server and start it again with ", code("make run DEMO=1"),
        ", or run ", code("ihub demo"), " (with the same ", code("--data-dir"), ") before ", code("ihub serve"),
        "; in full mode ", code("ihub demo --store search"), " while it runs;"),
      h("li", {}, "your own interactions: POST them to ", code(LIST), " (see the ", h("a", { href: "/docs" }, "API docs"), ")."),
    ),
  );
}

/** Show (or hide) the panel that says the store is empty and how to fill it, below the error banner. */
export function showEmptyStore(shown) {
  let panel = document.getElementById("empty-store");
  if (!panel && shown) {
    panel = emptyStorePanel();
    document.getElementById("error").after(panel);
  }
  if (panel) panel.classList.toggle("hidden", !shown);
}
