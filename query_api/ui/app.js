// Customer 360: a party's interactions, newest first, from GET /ihub/v1/parties/{id}/timeline.
import { LIST, channelColor, channelIcon, channelLabel, escapeHtml, formatDateTime, formatSeconds, getJson, showEmptyStore, showError } from "./charts.js";
import { READ, pageNeeding } from "./auth.js";

const TIMELINE = (party) => `/ihub/v1/parties/${encodeURIComponent(party)}/timeline`;
const FACETS = ["channel", "status", "reason"];
const KNOWN = new Set(["id", "href", "creationDate", "description", "reason", "status", "statusChangeDate", "channel",
  "interactionDate", "note", "relatedParty", "direction", "interactionItem", "attachment", "interactionRelationship"]);

const CLOCK = '<svg class="clock" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/></svg>';
const $ = (id) => document.getElementById(id);

const state = {
  party: "",
  selected: { channel: new Set(), status: new Set(), reason: new Set() },
  from: "", to: "", q: "",
  pageSize: 20,
  items: [],
  nextCursor: null,
  known: { channel: new Set(), status: new Set(), reason: new Set() }, // values seen for this party
  seq: 0,
};

function setBusy(busy) {
  document.body.dataset.state = busy ? "loading" : "ready";
  $("workspace").classList.toggle("loading", busy);
}

function params(cursor) {
  const p = new URLSearchParams();
  for (const f of FACETS) if (state.selected[f].size) p.set(f, [...state.selected[f]].join(","));
  if (state.from) p.set("from", `${state.from}T00:00:00Z`);
  if (state.to) p.set("to", `${state.to}T23:59:59Z`);
  if (state.q) p.set("q", state.q);
  if (cursor) p.set("cursor", cursor);
  p.set("limit", String(state.pageSize));
  return p;
}

function syncUrl() {
  const p = new URLSearchParams();
  if (state.party) p.set("party", state.party);
  for (const f of FACETS) if (state.selected[f].size) p.set(f, [...state.selected[f]].join(","));
  if (state.from) p.set("from", state.from);
  if (state.to) p.set("to", state.to);
  if (state.q) p.set("q", state.q);
  if (state.pageSize !== 20) p.set("limit", String(state.pageSize));
  history.replaceState(null, "", `${location.pathname}${p.toString() ? "?" + p : ""}`);
}

// -- suggestions: customers of the most recent interactions (TMF683 list) -----------------------

async function loadSuggestions(auth) {
  const box = $("suggestions");
  try {
    const url = `${LIST}?sort=-interactionDate.startDateTime&limit=60&fields=relatedParty`;
    const items = await getJson(url);
    // no interaction at all: say how to fill the store (a token for one party sees only its own, so
    // an empty list says nothing about the store then)
    if (!items.length && !auth.partyId) {
      showEmptyStore(true);
      $("intro").classList.add("hidden");
    }
    const seen = new Map();
    for (const item of items) {
      for (const party of item.relatedParty || []) {
        if (party.role === "agent" || party.role === "store" || seen.has(party.id)) continue;
        seen.set(party.id, party.name || "");
      }
      if (seen.size >= 8) break;
    }
    if (!seen.size) box.insertAdjacentHTML("beforeend", '<span class="label">none yet</span>');
    for (const [id, name] of seen) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.dataset.party = id;
      chip.innerHTML = `${escapeHtml(name || id)}<span class="sub">${escapeHtml(id)}</span>`;
      chip.addEventListener("click", () => openParty(id));
      box.appendChild(chip);
    }
  } catch (err) {
    box.insertAdjacentHTML("beforeend", `<span class="label">(could not load: ${escapeHtml(err.message)})</span>`);
  }
}

// -- timeline -------------------------------------------------------------------------------

function openParty(id) {
  id = id.trim();
  if (!id) return;
  $("party-input").value = id;
  state.party = id;
  for (const f of FACETS) { state.selected[f].clear(); state.known[f].clear(); }
  state.from = state.to = state.q = "";
  $("from").value = $("to").value = $("q").value = "";
  load();
}

async function load(cursor = null) {
  if (!state.party) return;
  const seq = ++state.seq;
  setBusy(true);
  showError("");
  syncUrl();
  try {
    const page = await getJson(`${TIMELINE(state.party)}?${params(cursor)}`);
    if (seq !== state.seq) return; // a newer request superseded this one
    state.items = cursor ? state.items.concat(page.items) : page.items;
    state.nextCursor = page.nextCursor;
    render(page, !cursor);
  } catch (err) {
    if (seq === state.seq) showError(`Could not load the timeline: ${err.message}`);
  } finally {
    if (seq === state.seq) setBusy(false);
  }
}

function render(page, fresh) {
  $("intro").classList.add("hidden");
  $("workspace").classList.remove("hidden");
  if (fresh) {
    renderFacets(page.facets);
    $("timeline").innerHTML = "";
  }
  const list = $("timeline");
  const start = fresh ? 0 : list.children.length;
  for (const item of state.items.slice(start)) list.appendChild(renderItem(item));

  const total = (page.facets.status || []).reduce((sum, f) => sum + f.count, 0);
  $("total").textContent = String(total);
  $("shown-count").textContent = state.items.length ? `Showing ${state.items.length} of ${total}` : "";
  $("no-items").classList.toggle("hidden", state.items.length > 0);
  $("more").classList.toggle("hidden", !state.nextCursor);

  const me = findParty();
  $("party-name").textContent = (me && me.name) || state.party;
  $("party-id").textContent = me ? `${state.party} · ${me["@referredType"] || me.role || "party"}` : state.party;
  const initials = ((me && me.name) || state.party).split(/[\s-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  $("avatar").textContent = initials || "?";
}

function findParty() {
  for (const item of state.items) for (const p of item.relatedParty || []) if (p.id === state.party) return p;
  return null;
}

function renderFacets(facets) {
  for (const f of FACETS) {
    const counts = new Map((facets[f] || []).map((x) => [x.value, x.count]));
    for (const v of counts.keys()) state.known[f].add(v);
    for (const v of state.selected[f]) state.known[f].add(v);
    const values = [...state.known[f]].sort((a, b) => (counts.get(b) || 0) - (counts.get(a) || 0) || a.localeCompare(b));
    const ul = $(`facet-${f}`);
    ul.innerHTML = "";
    if (!values.length) ul.innerHTML = '<li class="zero"><span class="name">none</span></li>';
    for (const v of values) {
      const count = counts.get(v) || 0;
      const li = document.createElement("li");
      li.dataset.value = v;
      li.className = count ? "" : "zero";
      const icon = f === "channel" ? `<span style="color:${channelColor(v)}">${channelIcon(v)}</span>` : "";
      const name = f === "channel" ? channelLabel(v) : v;
      li.innerHTML = `<label><input type="checkbox" ${state.selected[f].has(v) ? "checked" : ""}>${icon}` +
        `<span class="name" title="${escapeHtml(v)}">${escapeHtml(name)}</span><span class="count">${count}</span></label>`;
      li.querySelector("input").addEventListener("change", (ev) => {
        if (ev.target.checked) state.selected[f].add(v); else state.selected[f].delete(v);
        load();
      });
      ul.appendChild(li);
    }
  }
}

function when(item) {
  return (item.interactionDate && item.interactionDate.startDateTime) || item.creationDate;
}

function handlingSeconds(item) {
  const d = item.interactionDate || {};
  if (!d.startDateTime || !d.endDateTime) return null;
  return (Date.parse(d.endDateTime) - Date.parse(d.startDateTime)) / 1000;
}

function roleParty(item, role) {
  return (item.relatedParty || []).find((p) => p.role === role);
}

function renderItem(item) {
  const channel = (item.channel && item.channel[0]) || {};
  const key = channel.id || "other";
  const color = channelColor(key);
  const agent = roleParty(item, "agent");
  const store = roleParty(item, "store");
  const handling = handlingSeconds(item);
  const li = document.createElement("li");
  li.className = "tl-item";
  li.dataset.id = item.id;
  li.dataset.channel = (item.channel || []).map((c) => c.id).join(",");
  li.dataset.status = item.status || "";
  const meta = [
    `<span>${escapeHtml(channel.name || channelLabel(key))}</span>`,
    item.status ? `<span class="badge ${escapeHtml(item.status)}">${escapeHtml(item.status)}</span>` : "",
    handling !== null ? `<span title="handling time">${CLOCK}${formatSeconds(handling)}</span>` : "",
    agent ? `<span>agent ${escapeHtml(agent.name || agent.id)}</span>` : "",
    store ? `<span>at ${escapeHtml(store.name || store.id)}</span>` : "",
    item.direction ? `<span>${escapeHtml(item.direction)}</span>` : "",
  ].join("");
  li.innerHTML = `
    <span class="tl-icon" style="color:${color}" title="${escapeHtml(channelLabel(key))}">${channelIcon(key)}</span>
    <div class="tl-card">
      <button type="button" class="tl-summary" aria-expanded="false">
        <span class="tl-title">${escapeHtml(item.reason || item.description || "(no reason)")}</span>
        <span class="tl-when">${escapeHtml(formatDateTime(when(item)))}</span>
        <span class="tl-meta">${meta}</span>
        <span class="tl-caret">details ▾</span>
      </button>
      <div class="tl-details"></div>
    </div>`;
  const button = li.querySelector(".tl-summary");
  button.addEventListener("click", () => {
    const open = !li.classList.contains("open");
    if (open && !li.querySelector(".tl-details").childElementCount) li.querySelector(".tl-details").innerHTML = details(item);
    li.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    li.querySelector(".tl-caret").textContent = open ? "hide ▴" : "details ▾";
  });
  return li;
}

function details(item) {
  const rows = [];
  const add = (label, html) => rows.push(`<dt>${escapeHtml(label)}</dt><dd>${html}</dd>`);
  const d = item.interactionDate || {};
  add("Reason", escapeHtml(item.reason || "–"));
  add("Description", escapeHtml(item.description || "–"));
  add("Status", `<span class="badge ${escapeHtml(item.status || "")}">${escapeHtml(item.status || "–")}</span>` +
    (item.statusChangeDate ? ` since ${escapeHtml(formatDateTime(item.statusChangeDate))}` : ""));
  add("Direction", escapeHtml(item.direction || "–"));
  add("Channel", (item.channel || []).map((c) => `${escapeHtml(c.name || c.id)} <small>(${escapeHtml(c.id)}${c.role ? ", " + escapeHtml(c.role) : ""})</small>`).join(", ") || "–");
  add("Started", escapeHtml(formatDateTime(d.startDateTime)));
  add("Ended", escapeHtml(formatDateTime(d.endDateTime)));
  const handling = handlingSeconds(item);
  add("Handling", handling !== null ? `${formatSeconds(handling)} <small>(${handling} s)</small>` : "–");
  add("Created", escapeHtml(formatDateTime(item.creationDate)));
  const agent = roleParty(item, "agent");
  add("Agent", agent ? escapeHtml(agent.name || agent.id) : "–");
  const others = (item.relatedParty || []).filter((p) => p.role !== "agent");
  add("Related parties", others.map((p) => `${escapeHtml(p.name || p.id)} <small>(${escapeHtml(p.id)}, ${escapeHtml(p.role || "")})</small>`).join("<br>") || "–");
  const notes = item.note || [];
  add("Notes", notes.length
    ? `<ul class="notes">${notes.map((n) => `<li>${escapeHtml(n.text || "")} <small>${escapeHtml(n.author || "")}${n.date ? " · " + escapeHtml(formatDateTime(n.date)) : ""}</small></li>`).join("")}</ul>`
    : "–");
  for (const k of ["interactionItem", "attachment", "interactionRelationship"]) {
    if (item[k] && item[k].length) add(k, `<pre>${escapeHtml(JSON.stringify(item[k], null, 2))}</pre>`);
  }
  const extension = Object.fromEntries(Object.entries(item).filter(([k]) => !KNOWN.has(k)));
  add("Extension attributes", Object.keys(extension).length ? `<pre>${escapeHtml(JSON.stringify(extension, null, 2))}</pre>` : "none");
  add("Id", `<code>${escapeHtml(item.id)}</code>`);
  return `<dl>${rows.join("")}</dl>`;
}

// -- wiring ---------------------------------------------------------------------------------

function applyInputs() {
  state.from = $("from").value;
  state.to = $("to").value;
  state.q = $("q").value.trim();
  load();
}

async function init() {
  const auth = await pageNeeding(READ, "search customers or read their interactions");
  if (!auth) return;
  $("finder").addEventListener("submit", (ev) => { ev.preventDefault(); openParty($("party-input").value); });
  $("apply").addEventListener("click", applyInputs);
  $("q").addEventListener("keydown", (ev) => { if (ev.key === "Enter") applyInputs(); });
  $("from").addEventListener("change", applyInputs);
  $("to").addEventListener("change", applyInputs);
  $("clear").addEventListener("click", () => {
    for (const f of FACETS) state.selected[f].clear();
    $("from").value = $("to").value = $("q").value = "";
    applyInputs();
  });
  $("more").addEventListener("click", () => { if (state.nextCursor) load(state.nextCursor); });

  const p = new URLSearchParams(location.search);
  const limit = parseInt(p.get("limit") || "", 10);
  if (limit >= 1 && limit <= 200) state.pageSize = limit;
  loadSuggestions(auth);
  if (p.get("party")) {
    state.party = p.get("party");
    $("party-input").value = state.party;
    for (const f of FACETS) for (const v of (p.get(f) || "").split(",")) if (v) state.selected[f].add(v);
    $("from").value = state.from = p.get("from") || "";
    $("to").value = state.to = p.get("to") || "";
    $("q").value = state.q = p.get("q") || "";
    load();
  } else {
    document.body.dataset.state = "ready";
  }
}

init();
