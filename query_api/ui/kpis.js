// KPI dashboard: GET /ihub/v1/analytics/kpis grouped by channel, agent and store.
import { barChart, channelColor, channelLabel, formatPercent, formatSeconds, lineChart, getJson, showEmptyStore, showError, storeIsEmpty } from "./charts.js";
import { ANALYTICS, READ, pageNeeding } from "./auth.js";
import { h } from "./dom.js";

const KPIS = "/ihub/v1/analytics/kpis";
const TOP = 10;
const $ = (id) => document.getElementById(id);

const state = { from: "", to: "", interval: "day", fcrDays: 7, showAll: { agent: false, store: false }, data: {}, seq: 0, auth: null };

const isoDate = (d) => d.toISOString().slice(0, 10);
const wholeDays = (n) => Number.isInteger(n) && n >= 1 && n <= 365; // what the API takes as fcrDays
function addDays(dateString, days) {
  const d = new Date(`${dateString}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return isoDate(d);
}

function query(groupBy) {
  const p = new URLSearchParams({
    from: `${state.from}T00:00:00Z`,
    to: `${addDays(state.to, 1)}T00:00:00Z`, // the API's `to` is exclusive; the picker's is inclusive
    interval: state.interval,
    groupBy,
    fcrDays: String(state.fcrDays),
  });
  return `${KPIS}?${p}`;
}

function syncUrl() {
  const p = new URLSearchParams({ from: state.from, to: state.to, interval: state.interval, fcrDays: String(state.fcrDays) });
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

function syncControls() {
  $("from").value = state.from;
  $("to").value = state.to;
  $("fcr").value = String(state.fcrDays);
  for (const b of $("interval").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.interval === state.interval));
  const span = Math.round((Date.parse(state.to) - Date.parse(state.from)) / 86400000) + 1;
  for (const b of $("presets").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(state.to === isoDate(new Date()) && Number(b.dataset.days) === span));
  }
}

async function load() {
  if (!state.from || !state.to || state.from > state.to) {
    showError("Choose a period whose start is not after its end.");
    return;
  }
  const seq = ++state.seq;
  document.body.dataset.state = "loading";
  document.querySelector("main").classList.add("loading");
  showError("");
  syncControls();
  syncUrl();
  try {
    const [channel, agent, store] = await Promise.all(["channel", "agent", "store"].map((g) => getJson(query(g))));
    if (seq !== state.seq) return;
    state.data = { channel, agent, store };
    render();
    const empty = await emptyStore(channel);
    if (seq === state.seq) showEmptyStore(empty);
  } catch (err) {
    if (seq === state.seq) showError(`Could not load the KPIs: ${err.message}`);
  } finally {
    if (seq === state.seq) {
      document.body.dataset.state = "ready";
      document.querySelector("main").classList.remove("loading");
    }
  }
}

/** Whether the store holds no interaction at all, when the period holds none. Only the list can
 * tell, and only a user who may read interactions may ask it; a failure of that check is no news. */
async function emptyStore(report) {
  if (report.groups.length || !state.auth.may(READ)) return false;
  return storeIsEmpty().catch(() => false);
}

function card(id, value, sub) {
  const node = $(id);
  node.querySelector(".value").textContent = value;
  node.querySelector(".sub").textContent = sub;
}

function render() {
  const { channel, agent, store } = state.data;
  $("period-note").textContent =
    `Period ${channel.from} → ${channel.to} (end exclusive) · interval ${channel.interval} · FCR window ${channel.fcrDays} days`;
  $("fcr-hint").textContent = `no repeat contact for the same reason within ${channel.fcrDays} days`;

  const groups = channel.groups;
  const topChannel = groups[0];
  card("card-channel", topChannel ? channelLabel(topChannel.key) : "–", topChannel ? `${topChannel.volume} interactions` : "no data");
  const timed = groups.filter((g) => g.avgHandlingSeconds !== null && g.avgHandlingSeconds !== undefined);
  const fastest = timed.reduce((best, g) => (!best || g.avgHandlingSeconds < best.avgHandlingSeconds ? g : best), null);
  card("card-fast", fastest ? channelLabel(fastest.key) : "–", fastest ? `${formatSeconds(fastest.avgHandlingSeconds)} on average` : "no data");
  card("card-agent", agent.groups[0] ? agent.groups[0].key : "–", agent.groups[0] ? `${agent.groups[0].volume} interactions` : "no data");
  card("card-store", store.groups[0] ? store.groups[0].key : "–", store.groups[0] ? `${store.groups[0].volume} interactions` : "no data");

  // volume over time: one line per channel over the union of the buckets the API returned
  const buckets = [...new Set(groups.flatMap((g) => g.series.map((s) => s.t)))].sort();
  const series = groups.map((g, i) => ({
    key: g.key, label: channelLabel(g.key), color: channelColor(g.key, i),
    points: new Map(g.series.map((s) => [s.t, s.volume])),
  }));
  lineChart($("volume-chart"), { buckets, series, interval: channel.interval });

  const byChannel = [...groups].sort((a, b) => a.key.localeCompare(b.key));
  barChart($("aht-chart"), byChannel.map((g, i) => ({
    key: g.key, label: channelLabel(g.key), color: channelColor(g.key, i), value: g.avgHandlingSeconds ?? 0,
    text: formatSeconds(g.avgHandlingSeconds),
  })), { name: "average handling time per channel" });
  barChart($("fcr-chart"), byChannel.map((g, i) => ({
    key: g.key, label: channelLabel(g.key), color: channelColor(g.key, i), value: g.firstContactResolutionRate ?? 0,
    text: formatPercent(g.firstContactResolutionRate),
  })), { max: 1, name: "first-contact resolution per channel" });

  board("agent", agent.groups);
  board("store", store.groups);
}

function board(kind, groups) {
  const table = $(`board-${kind}`);
  const rows = state.showAll[kind] ? groups : groups.slice(0, TOP);
  const toggle = document.querySelector(`[data-toggle="${kind}"]`);
  toggle.textContent = state.showAll[kind] ? `Top ${TOP}` : `Show all ${groups.length}`;
  toggle.classList.toggle("hidden", groups.length <= TOP);
  const maxVolume = Math.max(1, ...groups.map((g) => g.volume));
  const num = (name) => h("th", { class: "num" }, name);
  const head = h("tr", {}, h("th", { class: "rank" }, "#"), h("th", {}, kind === "agent" ? "Agent" : "Store"),
    num("Volume"), num("Avg handling"), num("Resolved"), num("FCR"));
  const body = rows.map((g, i) => {
    const bar = h("i");
    bar.style.width = `${(100 * g.volume) / maxVolume}%`;
    return h("tr", { "data-key": g.key },
      h("td", { class: "rank" }, String(i + 1)),
      h("td", { class: "key" }, g.key),
      h("td", { class: "num volume", "data-value": g.volume }, String(g.volume), h("span", { class: "meter" }, bar)),
      h("td", { class: "num aht", "data-value": g.avgHandlingSeconds ?? "", title: `${g.avgHandlingSeconds ?? "–"} s` },
        formatSeconds(g.avgHandlingSeconds)),
      h("td", { class: "num resolved", "data-value": g.resolutionRate ?? "" }, formatPercent(g.resolutionRate)),
      h("td", { class: "num fcr", "data-value": g.firstContactResolutionRate ?? "" }, formatPercent(g.firstContactResolutionRate)));
  });
  if (!body.length) {
    body.push(h("tr", {}, h("td", { colspan: 6, class: "empty" }, `No ${kind === "agent" ? "agent" : "store"} interactions in this period`)));
  }
  table.replaceChildren(h("thead", {}, head), h("tbody", {}, body));
}

async function init() {
  state.auth = await pageNeeding(ANALYTICS, "see the KPI dashboards");
  if (!state.auth) return;
  const p = new URLSearchParams(location.search);
  const today = isoDate(new Date());
  state.to = p.get("to") || today;
  state.from = p.get("from") || addDays(state.to, -29);
  if (["hour", "day", "week", "month"].includes(p.get("interval"))) state.interval = p.get("interval");
  const fcr = Number(p.get("fcrDays"));
  if (wholeDays(fcr)) state.fcrDays = fcr;

  for (const b of $("presets").querySelectorAll("button")) {
    b.addEventListener("click", () => {
      state.to = today;
      state.from = addDays(today, 1 - Number(b.dataset.days));
      load();
    });
  }
  for (const b of $("interval").querySelectorAll("button")) {
    b.addEventListener("click", () => { state.interval = b.dataset.interval; load(); });
  }
  $("from").addEventListener("change", () => { state.from = $("from").value; load(); });
  $("to").addEventListener("change", () => { state.to = $("to").value; load(); });
  $("fcr").addEventListener("change", () => {
    const v = Number($("fcr").value);
    if (wholeDays(v)) { state.fcrDays = v; load(); }
  });
  $("refresh").addEventListener("click", load);
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.data.channel) render(); }, 150);
  });
  for (const t of document.querySelectorAll("[data-toggle]")) {
    t.addEventListener("click", () => {
      state.showAll[t.dataset.toggle] = !state.showAll[t.dataset.toggle];
      board(t.dataset.toggle, state.data[t.dataset.toggle].groups);
    });
  }
  load();
}

init();
