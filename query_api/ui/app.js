// Customer 360: a party's interactions, newest first, from GET /ihub/v1/parties/{id}/timeline; or
// those of a contact no party holds (the TMF list by customerIdentifier.id).
import { LIST, channelColor, channelLabel, formatDateTime, formatSeconds, getJson, getList, icon, showEmptyStore, showError } from "./charts.js";
import { READ, pageNeeding } from "./auth.js";
import { h } from "./dom.js";

const DIRECTORY = "/ihub/v1/parties";
const TIMELINE = (party) => `${DIRECTORY}/${encodeURIComponent(party)}/timeline`;
const FACETS = ["channel", "status", "reason"];
const KNOWN = new Set(["id", "href", "creationDate", "description", "reason", "status", "statusChangeDate", "channel",
  "interactionDate", "note", "relatedParty", "direction", "interactionItem", "attachment", "interactionRelationship",
  "customerIdentifier", "customerResolution"]);

const $ = (id) => document.getElementById(id);

const state = {
  party: "",
  partyName: "", // the directory's name of the party picked by a contact
  contact: "", // or the key of a contact no party holds, whose interactions are shown
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
  if (state.contact) p.set("contact", state.contact);
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
    if (!seen.size) box.append(h("span", { class: "label" }, "none yet"));
    for (const [id, name] of seen) {
      const chip = h("button", { type: "button", class: "chip", "data-party": id }, name || id, h("span", { class: "sub" }, id));
      chip.addEventListener("click", () => openParty(id, name));
      box.appendChild(chip);
    }
  } catch (err) {
    box.append(h("span", { class: "label" }, `(could not load: ${err.message})`));
  }
}

// -- the finder: a party id, else a contact (phone number, email address, scheme:id), else a name --

const NAME_SEARCH_ITEMS = 200; // the most recent interactions naming a party of that name, read for the choice
let finding = 0;

// One character of a name in a pattern: punctuation escaped, and a non-ASCII letter as a class of
// both its cases, since the search engine's `(?i)` folds ASCII letters only.
function patternChar(char) {
  if (/[.*+?^${}()|[\]\\]/.test(char)) return `\\${char}`;
  const lower = char.toLowerCase(), upper = char.toUpperCase();
  return char > "\x7f" && lower !== upper && lower.length === 1 && upper.length === 1 ? `[${lower}${upper}]` : char;
}

// The typed name as an RE2 pattern (what `.regex` takes, both stores), to use with `(?i)`: its words
// in order, any whitespace between them.
function namePattern(text) {
  return text.split(/\s+/).map((word) => [...word].map(patternChar).join("")).join("\\s+");
}

// The parties whose name contains the typed name, ignoring case, newest interaction first.
async function partiesNamed(text) {
  const pattern = namePattern(text);
  const p = new URLSearchParams({
    "relatedParty.name.regex": `(?i)${pattern}`,
    fields: "relatedParty",
    sort: "-interactionDate.startDateTime",
    limit: String(NAME_SEARCH_ITEMS),
  });
  const named = new RegExp(pattern, "i");
  const found = new Map();
  for (const item of await getJson(`${LIST}?${p}`)) {
    for (const party of item.relatedParty || []) {
      if (typeof party.name === "string" && named.test(party.name) && !found.has(party.id)) found.set(party.id, party);
    }
  }
  return [...found.values()];
}

// A name has no digit, "@" or ":"; only other text is asked of the directory, which decides.
const MIGHT_BE_CONTACT = /[\d@:]/;

// What the directory answers for a contact as typed: the parties holding it ({id, name,
// @referredType, contactMedium}), or [{contact, status: "unresolved", interactions}], or [];
// null when the text is no contact (the directory's 400).
async function holders(text) {
  if (!MIGHT_BE_CONTACT.test(text)) return null;
  try {
    return await getJson(`${DIRECTORY}?${new URLSearchParams({ contact: text })}`);
  } catch (err) {
    if (err.status === 400) return null;
    throw err;
  }
}

// The box under the finder, emptied; shown while there is `text` to answer.
function matchesBox(text) {
  const box = $("matches");
  box.replaceChildren();
  box.classList.toggle("hidden", text === "");
  return box;
}

const label = (text) => h("span", { class: "label" }, text);

function partyChip(party, sub) {
  const chip = h("button", { type: "button", class: "chip", "data-party": party.id },
    party.name || party.id, h("span", { class: "sub" }, sub));
  chip.addEventListener("click", () => openParty(party.id, party.name));
  return chip;
}

function showMatches(text, parties) {
  const box = matchesBox(text);
  if (!text) return;
  if (!parties.length) {
    box.append(label(`No party has the id or a name like “${text}”.`));
    return;
  }
  box.append(label(`Parties named like “${text}”:`));
  for (const party of parties) box.append(partyChip(party, `${party.id} · ${party["@referredType"] || party.role || "party"}`));
}

// A TMF632 ContactMedium as its type and value, e.g. "mobile +351912345678".
function mediumText(medium) {
  const found = { ...medium, ...(medium.characteristic || {}) };
  return [medium.mediumType, found.phoneNumber || found.emailAddress || found.socialNetworkId].filter(Boolean).join(" ");
}

function showHolders(text, held) {
  const box = matchesBox(text);
  const unresolved = held.find((entry) => entry.status === "unresolved");
  if (unresolved) {
    const count = unresolved.interactions;
    const carry = count === 1 ? "1 interaction carries it" : `${count} interactions carry it`;
    const show = h("button", { type: "button", class: "chip", "data-contact": unresolved.contact },
      count === 1 ? "Show it" : `Show the ${count}`);
    show.addEventListener("click", () => openContact(unresolved.contact));
    box.append(label(`No party holds ${identifierText(unresolved.contact)}; ${carry}.`), show);
  } else if (!held.length) {
    box.append(label(`No party holds “${text}”, and no interaction carries it.`));
  } else {
    box.append(label(`Parties holding “${text}”:`));
    for (const party of held) box.append(partyChip(party, `${party.id} · ${mediumText(party.contactMedium || {})}`));
  }
}

// What the finder box holds: a party with interactions by that id opens; otherwise the parties
// holding it as a contact are listed to pick from (or the contact, held by nobody, with its
// interactions); otherwise the parties with such a name (the only one opens).
async function find(text) {
  text = text.trim();
  if (!text) return;
  const seq = ++finding;
  setBusy(true);
  showError("");
  try {
    const byId = await getJson(`${TIMELINE(text)}?limit=1`);
    if (seq !== finding) return;
    if (byId.items.length) return openParty(text);
    const held = await holders(text);
    if (seq !== finding) return;
    if (held) {
      showHolders(text, held);
    } else {
      const parties = await partiesNamed(text);
      if (seq !== finding) return;
      if (parties.length === 1) return openParty(parties[0].id, parties[0].name);
      showMatches(text, parties);
    }
  } catch (err) {
    if (seq === finding) showError(`Could not find the party: ${err.message}`);
  }
  if (seq === finding) setBusy(false);
}

// -- timeline -------------------------------------------------------------------------------

function openParty(id, name = "") {
  id = id.trim();
  if (!id) return;
  $("party-input").value = id;
  show(id, name || "", "");
}

// The interactions carrying a contact key no party holds.
function openContact(key) {
  show("", "", key);
}

function show(party, partyName, contact) {
  finding++; // a find still under way gives way
  matchesBox("");
  Object.assign(state, { party, partyName, contact });
  for (const f of FACETS) { state.selected[f].clear(); state.known[f].clear(); }
  state.from = state.to = state.q = "";
  $("from").value = $("to").value = $("q").value = "";
  load();
}

// A page of a contact's interactions, newest first, like a timeline's (the list pages by offset and
// has no facets).
async function contactPage(cursor) {
  const offset = Number(cursor) || 0;
  const p = new URLSearchParams({
    "customerIdentifier.id": state.contact,
    sort: "-interactionDate.startDateTime",
    limit: String(state.pageSize),
    offset: String(offset),
  });
  const { body, total } = await getList(`${LIST}?${p}`);
  const next = offset + body.length;
  return { items: body, total, nextCursor: body.length && next < total ? String(next) : null };
}

async function load(cursor = null) {
  if (!state.party && !state.contact) return;
  const seq = ++state.seq;
  setBusy(true);
  showError("");
  syncUrl();
  try {
    const page = state.contact ? await contactPage(cursor) : await getJson(`${TIMELINE(state.party)}?${params(cursor)}`);
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
  // a contact's interactions come without facets to filter by
  $("workspace").classList.toggle("single", !page.facets);
  $("filters").classList.toggle("hidden", !page.facets);
  if (fresh) {
    if (page.facets) renderFacets(page.facets);
    $("timeline").replaceChildren();
  }
  const list = $("timeline");
  const start = fresh ? 0 : list.children.length;
  for (const item of state.items.slice(start)) list.appendChild(renderItem(item));

  const total = page.facets ? (page.facets.status || []).reduce((sum, f) => sum + f.count, 0) : page.total;
  $("total").textContent = String(total);
  $("shown-count").textContent = state.items.length ? `Showing ${state.items.length} of ${total}` : "";
  $("no-items").classList.toggle("hidden", state.items.length > 0);
  $("more").classList.toggle("hidden", !state.nextCursor);

  if (state.contact) {
    $("party-name").textContent = identifierText(state.contact);
    $("party-id").textContent = "held by no party: its interactions are linked to nobody";
    $("avatar").textContent = "?";
    return;
  }
  const me = findParty();
  const name = (me && me.name) || state.partyName || state.party;
  $("party-name").textContent = name;
  $("party-id").textContent = me ? `${state.party} · ${me["@referredType"] || me.role || "party"}` : state.party;
  const initials = name.split(/[\s-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
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
    ul.replaceChildren();
    if (!values.length) ul.append(h("li", { class: "zero" }, h("span", { class: "name" }, "none")));
    for (const v of values) {
      const count = counts.get(v) || 0;
      const box = h("input", { type: "checkbox", checked: state.selected[f].has(v) });
      box.addEventListener("change", (ev) => {
        if (ev.target.checked) state.selected[f].add(v); else state.selected[f].delete(v);
        load();
      });
      const name = f === "channel" ? channelLabel(v) : v;
      ul.append(h("li", { "data-value": v, class: count ? null : "zero" },
        h("label", {}, box, f === "channel" ? colored(h("span", {}, icon(v)), channelColor(v)) : null,
          h("span", { class: "name", title: v }, name), h("span", { class: "count" }, String(count)))));
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

function colored(element, color) {
  element.style.color = color;
  return element;
}

// A normalised identifier key (`phone:+351912345678`, `email:ana@example.com`, `crm:C-1`) as its
// scheme and value.
function identifierText(key) {
  key = String(key);
  const at = key.indexOf(":");
  return at < 0 ? key : `${key.slice(0, at)} ${key.slice(at + 1)}`;
}

// Why an interaction carrying customer identifiers names no customer (storage/identity.py).
const UNLINKED = {
  unresolved: "customer not identified",
  shared: "shared contact: not linked",
  conflict: "contacts of different parties: not linked",
};
const unlinked = (status) => (Object.hasOwn(UNLINKED, status) ? UNLINKED[status] : null);

// A short note on how the customer was found from the channel's identifiers, where it tells a CSR
// something: linked by which identifier, or why nobody was linked.
function resolutionNote(item) {
  const r = item.customerResolution || {};
  if (r.status === "linked" && r.identifier) {
    return h("span", { class: "resolution linked" }, `linked by ${identifierText(r.identifier)}`);
  }
  if (!unlinked(r.status) || (r.status === "unresolved" && state.contact)) return null; // a contact's page says so
  return h("span", { class: `resolution ${r.status}` }, unlinked(r.status));
}

const small = (text) => h("small", {}, text);
// A related party's name where it carries one, with its id beside it.
const nameAndId = (p) => (p.name ? [p.name, " ", small(`(${p.id})`)] : p.id);
const badge = (status) => h("span", { class: `badge ${status || ""}` }, status || "–");

function renderItem(item) {
  const channel = (item.channel && item.channel[0]) || {};
  const key = channel.id || "other";
  const agent = roleParty(item, "agent");
  const store = roleParty(item, "store");
  const customer = roleParty(item, "customer");
  const handling = handlingSeconds(item);
  const meta = [
    h("span", {}, channel.name || channelLabel(key)),
    item.status ? badge(item.status) : null,
    handling !== null ? h("span", { title: "handling time" }, icon("clock", "clock"), formatSeconds(handling)) : null,
    customer && customer.id !== state.party ? h("span", {}, `customer ${customer.name || customer.id}`) : null,
    resolutionNote(item),
    agent ? h("span", {}, `agent ${agent.name || agent.id}`) : null,
    store ? h("span", {}, `at ${store.name || store.id}`) : null,
    item.direction ? h("span", {}, item.direction) : null,
  ];
  const caret = h("span", { class: "tl-caret" }, "details ▾");
  const button = h("button", { type: "button", class: "tl-summary", "aria-expanded": "false" },
    h("span", { class: "tl-title" }, item.reason || item.description || "(no reason)"),
    h("span", { class: "tl-when" }, formatDateTime(when(item))),
    h("span", { class: "tl-meta" }, meta),
    caret);
  const detailsBox = h("div", { class: "tl-details" });
  const li = h("li", {
    class: "tl-item",
    "data-id": item.id,
    "data-channel": (item.channel || []).map((c) => c.id).join(","),
    "data-status": item.status || "",
  },
  colored(h("span", { class: "tl-icon", title: channelLabel(key) }, icon(key)), channelColor(key)),
  h("div", { class: "tl-card" }, button, detailsBox));
  button.addEventListener("click", () => {
    const open = !li.classList.contains("open");
    if (open && !detailsBox.childElementCount) detailsBox.append(details(item));
    li.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    caret.textContent = open ? "hide ▴" : "details ▾";
  });
  return li;
}

/** Joins nodes (or strings) with a separator, as a list of children. */
function joined(parts, separator) {
  return parts.flatMap((part, i) => (i ? [separator(), part] : [part]));
}

function details(item) {
  const dl = h("dl");
  const add = (label, ...value) => dl.append(h("dt", {}, label), h("dd", {}, ...value));
  const d = item.interactionDate || {};
  add("Reason", item.reason || "–");
  add("Description", item.description || "–");
  add("Status", badge(item.status), item.statusChangeDate ? ` since ${formatDateTime(item.statusChangeDate)}` : null);
  add("Direction", item.direction || "–");
  const channels = (item.channel || []).map((c) => [c.name || c.id, " ", small(`(${c.id}${c.role ? ", " + c.role : ""})`)]);
  add("Channel", channels.length ? joined(channels, () => ", ") : "–");
  add("Started", formatDateTime(d.startDateTime));
  add("Ended", formatDateTime(d.endDateTime));
  const handling = handlingSeconds(item);
  add("Handling", handling !== null ? [formatSeconds(handling), " ", small(`(${handling} s)`)] : "–");
  add("Created", formatDateTime(item.creationDate));
  const agent = roleParty(item, "agent");
  add("Agent", agent ? nameAndId(agent) : "–");
  const others = (item.relatedParty || []).filter((p) => p.role !== "agent")
    .map((p) => [p.name || p.id, " ", small(`(${p.id}, ${p.role || ""})`)]);
  add("Related parties", others.length ? joined(others, () => h("br")) : "–");
  // written by the channel adapters and resolution, yet read as data of any shape
  const identifiers = (Array.isArray(item.customerIdentifier) ? item.customerIdentifier : [])
    .map((i) => (i && i.id ? identifierText(i.id) : `${(i && i.kind) || ""} ${(i && i.value) || ""}`));
  if (identifiers.length) add("Customer identifiers", joined(identifiers, () => ", "));
  const resolution = item.customerResolution;
  if (resolution && typeof resolution === "object") {
    add("Identification", resolution.status === "linked"
      ? [`linked to ${resolution.partyId} by `, identifierText(resolution.identifier || "")]
      : [resolution.status || "–", unlinked(resolution.status) ? small(` (${unlinked(resolution.status)})`) : null]);
  }
  const notes = item.note || [];
  add("Notes", notes.length
    ? h("ul", { class: "notes" }, notes.map((n) =>
      h("li", {}, n.text || "", " ", small(`${n.author || ""}${n.date ? " · " + formatDateTime(n.date) : ""}`))))
    : "–");
  for (const k of ["interactionItem", "attachment", "interactionRelationship"]) {
    if (item[k] && item[k].length) add(k, h("pre", {}, JSON.stringify(item[k], null, 2)));
  }
  const extension = Object.fromEntries(Object.entries(item).filter(([k]) => !KNOWN.has(k)));
  add("Extension attributes", Object.keys(extension).length ? h("pre", {}, JSON.stringify(extension, null, 2)) : "none");
  add("Id", h("code", {}, item.id));
  return dl;
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
  $("finder").addEventListener("submit", (ev) => { ev.preventDefault(); find($("party-input").value); });
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
  } else if (p.get("contact")) {
    openContact(p.get("contact"));
  } else {
    document.body.dataset.state = "ready";
  }
}

init();
