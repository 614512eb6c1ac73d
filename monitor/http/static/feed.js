"use strict";
// The ops console (feed.html): the alert feed, the national overview and one unit's view, chosen by the URL.
//
//   /                          firing alerts, most urgent first; filters ?unit= &severity= &rule= &sort= &q=
//                              (?state=resolved: those that ended lately, how; ?state=all: both). The API
//                              filters, searches, orders and counts (`/api/v1/alerts`, its `facets`): the page
//                              asks it again whenever a filter changes or the stream brings a transition.
//   /?view=overview            a tile per rostered unit, coloured by its worst open alert
//   /?view=unit&unit=VN-22     one unit: open alerts, overdue list, indicators against targets, CSV downloads,
//                              its lineage (the units merged into it, or the one it became) and its alert history
//   /?view=communes            the communes in force, a page at a time: ?province=VN-22 &q= (no diacritics
//                              needed) &sort=attention|name &offset=; the API searches, orders and pages
//   /?view=publisher           a publishing system, with its own token: its events taken and refused, why
//
// Every date, percentage and count of days comes from the API (`display`), computed in Python: this file only
// shows them. The event stream is opened once the first data is on screen, from a worker (feed-stream.js), so
// that it never holds the page's loading (a headless browser waiting for the network to go quiet would wait forever).

const $ = (id) => document.getElementById(id);
// The server's words, asked for once at the start (`GET /api/v1/rules`, `learn`): the severities, most urgent
// first, with their names; the orders a list can be sorted in, with theirs.
let SEVERITIES = [];
let SEVERITY_TEXT = {};
let SORTS = {};
const STATES = { firing: "Đang mở", resolved: "Đã kết thúc gần đây", all: "Tất cả" };
const PARAMETER_TEXT = {
  severity: "mức độ", rule_id: "quy tắc", sort: "thứ tự", unit_id: "đơn vị", format: "định dạng", state: "trạng thái",
};
const VIEWS = ["feed", "overview", "unit", "communes", "publisher", "silences"];
const PAGE = 300;                    // alerts put on screen at once (a phone stays fast); more on request
const COMMUNE_PAGE = 100;            // communes on a page
const HISTORY_ROWS = 20;             // a unit's latest alert intervals shown; the CSV has them all
const LIVE_RENDER_MS = 100;          // live transitions arriving together are drawn once
const REFRESH_MS = 5 * 60 * 1000;    // days overdue change with the date: ask again now and then

const params = new URLSearchParams(location.search);
const view = params.get("view") || "feed";
const filters = {
  unit: params.get("unit") || "",
  severity: params.get("severity") || "",
  rule: params.get("rule") || "",
  state: params.get("state") || "firing",
  sort: params.get("sort") || "",
  q: params.get("q") || "",
  province: params.get("province") || "",
  offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
};
// Alerts that ended are read newest first; open ones, most urgent first.
const defaultSort = () => (filters.state === "resolved" ? "newest" : "attention");
filters.sort = filters.sort || defaultSort();

const alerts = new Map();            // one unit's view: key -> its open alert (as /api/v1/alerts gives it)
let feed = { alerts: [], count: 0, facets: { severity: {}, unit: [] } };  // the feed: the API's last answer
const fresh = new Set();             // keys of alerts that arrived live: highlighted once
let units = new Map();               // unit_id -> summary (/api/v1/units)
let rules = [];                      // rule ids
let rosters = [];                    // /api/v1/rosters
let detail = null;                   // /api/v1/units/{unit}
let pastAlerts = null;               // the unit's latest alert intervals (/api/v1/alerts/history)
let communes = null;                 // /api/v1/communes: the page shown
let communesInForce = 0;             // /api/v1/rosters: the overview's link to the communes says how many
let provinceMap = null;              // /static/vietnam-provinces.json: the overview's map, asked for once
let shown = PAGE;
let invalid = null;                  // why the filters cannot be applied (a message), or null
let live = false;                    // the event stream is connected
let asking = null;                   // the feed's question on its way (a promise), or null
let askAgain = false;                // the filters changed, or a transition came, while it was on its way
let me = null;                       // who reads (/api/v1/viewers/me): only a signed-in viewer acts on its units' alerts

// --- the API ------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJSON(url, headers) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { headers: { Accept: "application/json", ...headers } });
    if (response.status === 503 && attempt < 15) {  // partitions moving between workers: ask again shortly
      setStatus("down", "máy chủ đang phân chia lại dữ liệu, thử lại…");
      await sleep(1000 * (Number(response.headers.get("Retry-After")) || 2));
      continue;
    }
    if (attempt > 0) setStatus(live ? "live" : "", live ? "trực tiếp" : "đang kết nối…");
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }
}

async function getAll(path, key) {
  const items = [];
  let offset = 0;
  for (let page = 0; page < 20 && offset !== null; page++) {
    const body = await getJSON(`${path}${path.includes("?") ? "&" : "?"}limit=5000&offset=${offset}`);
    items.push(...body[key]);
    offset = body.next_offset;
  }
  return items;
}

// --- helpers ------------------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

function unitHref(unitId) {
  return "/?" + new URLSearchParams({ view: "unit", unit: unitId });
}

function unitName(unitId) {
  const summary = units.get(unitId);
  if (summary) return summary.unit_name;
  for (const a of alerts.values()) if (a.unit_id === unitId) return a.unit_name;
  for (const row of feed.facets.unit) if (row.unit_id === unitId) return row.unit_name;
  return unitId;
}

function setStatus(cls, text) {
  $("status").className = cls;
  $("status").textContent = text;
}

function showProblem(message) {
  $("problem").hidden = !message;
  $("problem").replaceChildren(...(message ? [el("p", { text: message })] : []));
}

function compareKeys(x, y) {
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    if (x[i] === undefined) return -1;
    if (y[i] === undefined) return 1;
    return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

// The API's orders (`sort=`): every alert carries its key for each (`order`), computed by the API.
const ordered = (sort) => (a, b) => compareKeys(a.order[sort] || a.attention, b.order[sort] || b.attention);

// A firing alert is one per fingerprint; an alert may have ended several times lately.
const key = (a) => (a.status === "resolved" ? `${a.fingerprint}@${a.ends_at}` : a.fingerprint);

function remember(a) {
  alerts.set(key(a), a);
}

// --- one alert ------------------------------------------------------------------------------------------

function alertItem(a, withUnit) {
  const d = a.display || {};
  const ended = a.status === "resolved";
  const stage = ended ? `đã kết thúc: ${d.resolution || ""}` : d.overdue || d.stage || a.stage;
  const facts = [];
  if (withUnit) facts.push(el("a", { class: "unit", href: unitHref(a.unit_id) }, `${a.unit_name} (${a.unit_id})`));
  if (d.value) facts.push(el("span", { class: "figure" }, d.target ? `${d.value} · mục tiêu ${d.target}` : d.value));
  if (d.due) facts.push(el("span", {}, `hạn ${d.due}`));
  if (d.last_report) facts.push(el("span", {}, `lần cuối: ${d.last_report}`));
  if (d.escalated) facts.push(el("span", { class: "escalated" }, d.escalated_to ? `${d.escalated} · báo ${d.escalated_to}` : d.escalated));
  // The code the report came under, when not the unit's own (a former province's, a national code).
  if (a.reported_as) facts.push(el("span", { class: "code", title: "Mã đơn vị trong dữ liệu gửi đến" }, `gửi theo mã ${a.reported_as}`));
  facts.push(el("span", {}, `từ ${d.starts || a.starts_at}`));
  if (ended && d.ends) facts.push(el("span", {}, `kết thúc ${d.ends}`));
  const subject = a.labels.task_id || (a.labels.indicator !== "*" && a.labels.indicator);
  facts.push(el("span", { class: "rule" }, subject ? `${a.rule_id} · ${subject}` : a.rule_id));
  return el("li", {
    class: `alert ${a.severity}${ended ? " resolved" : ""}${fresh.has(key(a)) ? " new" : ""}${a.actions && a.actions.acknowledged ? " acknowledged" : ""}${a.silenced ? " silenced" : ""}`,
    "data-fingerprint": a.fingerprint, "data-status": a.status, "data-unit": a.unit_id, "data-rule": a.rule_id,
    "data-severity": a.severity, "data-stage": a.stage, "data-subject": subject || "",
  },
  el("p", { class: "badge" }, el("span", { class: "sev" }, SEVERITY_TEXT[a.severity] || a.severity),
    el("span", { class: "stage" }, stage)),
  el("p", { class: "summary" }, a.summary || a.rule_id),
  el("p", { class: "facts" }, ...facts.flatMap((f, i) => (i ? [el("span", { class: "sep", "aria-hidden": "true" }, " · "), f] : [f]))),
  ...opsLine(a));
}

// --- operators' actions -----------------------------------------------------------------------------------

// A signed-in viewer acts on the alerts of the units it sees, while they fire (the API checks it again).
function canAct(a) {
  if (!me || !me.identified || a.status !== "firing") return false;
  return me.all_units || (me.units || []).some((u) => u.unit_id === a.unit_id);
}

// Who acknowledged it, who owns it, its last note; and, for a viewer who may act, the buttons.
function opsLine(a) {
  const s = a.actions || {};
  const parts = [];
  if (s.acknowledged) {
    parts.push(el("span", { class: "ack" }, `✓ Đã nhận xử lý: ${s.acknowledged.who} · ${s.acknowledged.at_text}`));
  } else if (s.acknowledgement_cleared && a.status === "firing") {
    parts.push(el("span", { class: "ack-cleared" },
      `Đã chuyển mức sau khi ${s.acknowledgement_cleared.who} nhận xử lý: cần nhận lại`));
  }
  if (s.owner) parts.push(el("span", { class: "owner" }, `Phụ trách: ${s.owner.owner}`));
  if (a.silenced) {
    parts.push(el("span", { class: "silenced", title: `Tắt thông báo bởi ${a.silenced.who}` },
      `Đã tắt thông báo đến ${a.silenced.until_text}: ${a.silenced.reason}`));
  }
  const notes = s.notes || [];
  if (notes.length) {
    const last = notes[notes.length - 1];
    parts.push(el("span", { class: "note", title: notes.map((n) => `${n.at_text} ${n.who}: ${n.note}`).join("\n") },
      `Ghi chú${notes.length > 1 ? ` (${notes.length})` : ""}: «${last.note}» — ${last.who}, ${last.at_text}`));
  }
  const buttons = canAct(a) ? [
    s.acknowledged ? actButton(a, "unacknowledge", "Bỏ nhận") : actButton(a, "acknowledge", "Nhận xử lý"),
    actButton(a, "assign", s.owner ? "Đổi phụ trách" : "Giao phụ trách"),
    actButton(a, "note", "Ghi chú"),
    ...(canExtend(a) ? [extendButton(a)] : []),
  ] : [];
  if (!parts.length && !buttons.length) return [];
  return [el("div", { class: "ops" }, ...parts, ...(buttons.length ? [el("span", { class: "ops-buttons" }, ...buttons)] : []))];
}

function actButton(a, action, label) {
  const button = el("button", { type: "button", class: `plain act act-${action}`, "data-action": action }, label);
  button.addEventListener("click", () => (action === "assign" || action === "note" ? askText(a, action) : act(a, { action })));
  return button;
}

// --- extensions: the working group moves a deadline ------------------------------------------------------

// A deadline's alert (due soon, overdue), for a viewer the viewers file lets grant extensions ('extends: true').
function canExtend(a) {
  return Boolean(me && me.extends) && (a.stage === "due_soon" || a.stage === "overdue");
}

function extendButton(a) {
  const button = el("button", { type: "button", class: "plain act act-extend", "data-action": "extend" }, "Gia hạn");
  button.addEventListener("click", () => askExtension(a));
  return button;
}

// The new deadline and the decision's reference, typed in a dialog; the alert follows once the unit's worker applies it.
function askExtension(a) {
  const dialog = $("extend-dialog");
  const task = a.labels.task_id;
  $("extend-alert").textContent = a.summary;
  $("extend-due").value = "";
  $("extend-reference").value = "";
  $("extend-note").value = "";
  $("extend-form").onsubmit = async (event) => {
    event.preventDefault();
    const body = { due: $("extend-due").value, reference: $("extend-reference").value.trim() };
    if (!body.due || !body.reference) return;
    if (task) body.task_id = task; else body.rule_id = a.rule_id;
    const note = $("extend-note").value.trim();
    if (note) body.note = note;
    const response = await fetch(`/api/v1/units/${encodeURIComponent(a.unit_id)}/extensions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }).catch((error) => ({ ok: false, status: 0, json: async () => ({ error: error.message }) }));
    if (!response.ok) {
      const reason = (await response.json().catch(() => ({}))).error || `HTTP ${response.status}`;
      showProblem(`Không gia hạn được: ${reason}`);
      return;
    }
    showProblem(null);
    $("announce").textContent = `Đã ghi nhận gia hạn đến ${body.due.split("-").reverse().join("/")} (${body.reference}): ${a.summary}`;
    dialog.close();
  };
  $("extend-cancel").onclick = () => dialog.close();
  dialog.showModal();
  $("extend-due").focus();
}

const ACT_TEXT = {
  acknowledge: "Đã nhận xử lý", unacknowledge: "Đã bỏ nhận", assign: "Đã giao phụ trách", note: "Đã ghi chú",
};

async function act(a, body) {
  const response = await fetch(`/api/v1/alerts/${encodeURIComponent(a.fingerprint)}/actions`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }).catch((error) => ({ ok: false, status: 0, json: async () => ({ error: error.message }) }));
  if (!response.ok) {
    const reason = (await response.json().catch(() => ({}))).error || `HTTP ${response.status}`;
    showProblem(`Không thực hiện được: ${reason}`);
    return false;
  }
  showProblem(null);
  $("announce").textContent = `${ACT_TEXT[body.action]}: ${a.summary}`;
  load();  // the list as it now stands (the stream tells every other console)
  return true;
}

// The owner or the note, typed in a dialog: it stays open while the list behind it is drawn again.
function askText(a, action) {
  const dialog = $("act-dialog");
  const assign = action === "assign";
  $("act-title").textContent = assign ? "Giao phụ trách" : "Thêm ghi chú";
  $("act-alert").textContent = a.summary;
  $("act-label").textContent = assign ? "Người hoặc đơn vị phụ trách (để trống: không ai)" : "Ghi chú";
  $("act-text").value = assign && a.actions && a.actions.owner ? a.actions.owner.owner : "";
  $("act-text").maxLength = assign ? 200 : 2000;
  $("act-form").onsubmit = async (event) => {
    event.preventDefault();
    const text = $("act-text").value.trim();
    if (!assign && !text) return;
    if (await act(a, assign ? { action, owner: text } : { action, note: text })) dialog.close();
  };
  $("act-cancel").onclick = () => dialog.close();
  dialog.showModal();
  $("act-text").focus();
}

// --- the feed ------------------------------------------------------------------------------------------

function writeUrl() {
  const q = new URLSearchParams();
  if (filters.unit) q.set("unit", filters.unit);
  if (filters.severity) q.set("severity", filters.severity);
  if (filters.rule) q.set("rule", filters.rule);
  if (filters.state !== "firing") q.set("state", filters.state);
  if (filters.sort !== defaultSort()) q.set("sort", filters.sort);
  if (filters.q.trim()) q.set("q", filters.q.trim());
  history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
}

function fillSelect(select, options, value) {
  const known = options.some(([v]) => v === value);
  const all = [...options, ...(value && !known ? [[value, `«${value}» (không có)`]] : [])];
  const signature = JSON.stringify(all);
  if (select.dataset.options !== signature) {  // rebuilt only when they change: an open list stays open
    select.replaceChildren(...all.map(([v, label]) => new Option(label, v)));
    select.dataset.options = signature;
  }
  if (select.value !== value) select.value = value;
}

function renderFilters() {
  const ids = new Set([...units.keys(), ...feed.facets.unit.map((row) => row.unit_id)]);
  const named = [...ids].map((id) => [id, `${unitName(id)} (${id})`])
    .sort((x, y) => x[1].localeCompare(y[1], "vi"));
  fillSelect($("unit"), [["", "tất cả"], ...named], filters.unit);
  fillSelect($("severity"), [["", "tất cả"], ...SEVERITIES.map((s) => [s, SEVERITY_TEXT[s]])], filters.severity);
  fillSelect($("rule"), [["", "tất cả"], ...rules.map((r) => [r, r])], filters.rule);
  fillSelect($("sort"), Object.entries(SORTS), filters.sort);
  fillSelect($("state"), Object.entries(STATES), filters.state);
  if ($("search").value !== filters.q) $("search").value = filters.q;
}

function countButton(label, count, pressed, cls, onClick) {
  const button = el("button", { type: "button", class: `count ${cls}`, "aria-pressed": pressed ? "true" : "false" },
    el("span", { class: "label" }, label), " ", el("span", { class: "n" }, String(count)));
  button.addEventListener("click", onClick);
  return button;
}

function setFilter(name, value) {
  filters[name] = value;
  shown = PAGE;
  writeUrl();
  askFeed();
}

function renderCounts() {
  const bySeverity = feed.facets.severity;
  const total = SEVERITIES.reduce((n, s) => n + (bySeverity[s] || 0), 0);
  $("counts").replaceChildren(
    countButton("Tất cả", total, !filters.severity, "all", () => setFilter("severity", "")),
    ...SEVERITIES.map((s) => countButton(SEVERITY_TEXT[s], bySeverity[s] || 0, filters.severity === s, s,
      () => setFilter("severity", filters.severity === s ? "" : s))));

  const rows = [...feed.facets.unit].sort((x, y) => (y.critical || 0) - (x.critical || 0) || y.total - x.total
    || String(x.unit_name).localeCompare(String(y.unit_name), "vi"));
  $("unit-counts").replaceChildren(...rows.map((row) => {
    const worst = SEVERITIES.find((s) => row[s]) || "info";
    const parts = SEVERITIES.filter((s) => row[s]).map((s) => `${row[s]} ${SEVERITY_TEXT[s].toLowerCase()}`);
    const button = el("button", {
      type: "button", class: `chip ${worst}`, "data-unit": row.unit_id, title: parts.join(", "),
      "aria-pressed": filters.unit === row.unit_id ? "true" : "false",
    }, el("span", { class: "name" }, row.unit_name), " ",
    el("span", { class: "n" }, String(row.total)),
    el("span", { class: "visually-hidden" }, ` cảnh báo: ${parts.join(", ")}`));
    button.addEventListener("click", () => setFilter("unit", filters.unit === row.unit_id ? "" : row.unit_id));
    return el("li", {}, button);
  }));
  if (!rows.length) $("unit-counts").append(el("li", { class: "none" }, "không có"));
}

function renderFeed() {
  renderFilters();
  renderCounts();
  const list = $("alerts");
  const link = $("unit-link");
  link.hidden = !filters.unit || !!invalid;
  if (filters.unit && !invalid) {
    link.replaceChildren(el("a", { href: unitHref(filters.unit) }, `Xem trang đơn vị ${unitName(filters.unit)} →`));
  }
  if (invalid) {
    list.replaceChildren();
    $("empty").hidden = false;
    $("empty").replaceChildren("Bộ lọc không hợp lệ, không có gì để hiện. ", el("a", { href: "/" }, "Xóa bộ lọc"));
    $("more").hidden = true;
    return;
  }
  const visible = feed.alerts;  // the API's order, one page of `shown`
  if (filters.sort === "unit") {
    const groups = new Map();
    const totals = new Map(feed.facets.unit.map((row) => [row.unit_id, row.total]));
    for (const a of visible) (groups.get(a.unit_id) || groups.set(a.unit_id, []).get(a.unit_id)).push(a);
    list.replaceChildren(...[...groups.entries()].map(([unitId, items]) => el("li", { class: "group", "data-unit": unitId },
      el("h3", {}, el("a", { href: unitHref(unitId) }, `${items[0].unit_name} (${unitId})`), " ",
        el("span", { class: "n" }, `${totals.get(unitId) || items.length} cảnh báo`)),
      el("ol", { class: "alerts" }, ...items.map((a) => alertItem(a, false))))));
  } else {
    list.replaceChildren(...visible.map((a) => alertItem(a, true)));
  }
  fresh.clear();
  const listed = SEVERITIES.reduce((n, s) => n + (feed.facets.severity[s] || 0), 0);
  $("empty").hidden = feed.count > 0;
  $("empty").textContent = listed || filters.unit || filters.q.trim() ? "Không có cảnh báo nào khớp bộ lọc."
    : filters.state === "firing" ? "Không có cảnh báo nào đang mở." : "Không có cảnh báo nào kết thúc gần đây.";
  $("more").hidden = feed.count <= visible.length;
  $("more").textContent = `Hiện thêm (còn ${feed.count - visible.length})`;
}

function filterProblem(error) {
  const body = error.body || {};
  if (body.parameter && body.allowed) {
    return `Không có ${PARAMETER_TEXT[body.parameter] || body.parameter} «${body.value}». `
      + `Chọn một trong: ${body.allowed.join(", ")}.`;
  }
  return `Bộ lọc không hợp lệ: ${error.message}`;
}

function feedQuery() {
  const asked = new URLSearchParams();
  if (filters.unit) asked.set("unit_id", filters.unit);
  if (filters.severity) asked.set("severity", filters.severity);
  if (filters.rule) asked.set("rule_id", filters.rule);
  if (filters.q.trim()) asked.set("q", filters.q.trim());
  asked.set("sort", filters.sort);
  asked.set("state", filters.state);
  asked.set("limit", String(shown));
  return asked;
}

// What the filters ask for, from the API: one question on its way at a time, and one more after it when the
// filters changed (or a transition came) meanwhile, so the last answer drawn is for the last question.
// The list says it is waiting (`aria-busy`) from the moment it is asked until the answer is drawn.
function askFeed() {
  $("alerts").setAttribute("aria-busy", "true");
  if (asking) {
    askAgain = true;
    return asking;
  }
  asking = (async () => {
    do {
      askAgain = false;
      let answer = null;
      let problem = null;
      try {
        answer = await getJSON(`/api/v1/alerts?${feedQuery()}`);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400)) throw error;
        problem = filterProblem(error);
      }
      if (askAgain) continue;
      feed = answer || { alerts: [], count: 0, facets: { severity: {}, unit: [] } };
      invalid = problem;
      if (!invalid && filters.unit && !units.has(filters.unit) && !feed.facets.unit.some((r) => r.unit_id === filters.unit)) {
        invalid = `Không có đơn vị «${filters.unit}»: đơn vị này chưa gửi dữ liệu nào và không có trong danh sách đơn vị.`;
      }
      showProblem(invalid);
      renderFeed();
    } while (askAgain);
  })().catch((error) => {
    showProblem(`Không tải được dữ liệu: ${error.message}`);
    setStatus("down", "lỗi khi tải");
  }).finally(() => {
    asking = null;
    $("alerts").setAttribute("aria-busy", "false");
  });
  return asking;
}

async function loadFeed() {
  $("alerts").setAttribute("aria-busy", "true");  // until the answer to the filters is drawn (`askFeed`)
  let summaries = [];
  let loadedRules = null;
  try {
    [summaries, loadedRules] = await Promise.all([getAll("/api/v1/units", "units"), getJSON("/api/v1/rules")]);
  } catch (error) {
    $("alerts").setAttribute("aria-busy", "false");
    throw error;
  }
  units = new Map(summaries.map((u) => [u.unit_id, u]));
  rules = loadedRules.rules.map((r) => r.id).sort();
  await askFeed();
}

// --- the national overview -------------------------------------------------------------------------------

function tile(unitId, name) {
  const summary = units.get(unitId) || { overdue: 0, worst_severity: null, alerts_firing: 0 };
  const worst = summary.worst_severity;
  return el("li", {}, el("a", { class: `tile ${worst || "ok"}`, href: unitHref(unitId), "data-unit": unitId,
    "data-severity": worst || "", "data-overdue": String(summary.overdue || 0) },
  el("span", { class: "name" }, name),
  el("span", { class: "state" }, worst ? SEVERITY_TEXT[worst] : "Không cảnh báo"),
  el("span", { class: "over" }, `${unitId} · `, el("strong", {}, String(summary.overdue || 0)), " quá hạn")));
}

function tally(ids) {
  const counts = { critical: 0, warning: 0, info: 0, ok: 0 };
  for (const id of ids) counts[(units.get(id) || {}).worst_severity || "ok"] += 1;
  return el("p", { class: "tally" }, el("span", { class: "of" }, `${ids.length} đơn vị:`), ...SEVERITIES.filter((s) => counts[s]).map((s) =>
    el("span", { class: `count ${s}` }, `${counts[s]} ${SEVERITY_TEXT[s].toLowerCase()}`)),
  el("span", { class: "count ok" }, `${counts.ok} không cảnh báo`));
}

function renderOverview() {
  const rostered = new Set();
  const sections = rosters.map((roster) => {
    roster.units.forEach((u) => rostered.add(u.id));
    const title = roster.description || roster.roster;
    const tiles = el("ul", { class: "tiles" }, ...roster.units.map((u) => tile(u.id, u.name)));
    const drawn = mapOf(roster);
    const body = [tally(roster.units.map((u) => u.id)), drawn ? el("div", { class: "with-map" }, drawn, tiles) : tiles];
    if (roster.in_force === false) {  // a former structure (the 63 provinces before 2025-07-01): one click away
      return el("details", { class: "roster former", "data-roster": roster.roster },
        el("summary", {}, el("h3", {}, title)), ...body);
    }
    return el("section", { class: "roster", "data-roster": roster.roster }, el("h3", {}, title), ...body);
  });
  // Communes have their own list (3,321 tiles would drown the page): the link above leads to it.
  const others = [...units.values()].filter((u) => !rostered.has(u.unit_id) && u.level !== "commune")
    .sort((x, y) => x.unit_name.localeCompare(y.unit_name, "vi"));
  if (others.length) {
    sections.push(el("section", { class: "roster", "data-roster": "" }, el("h3", {}, "Đơn vị khác (không thuộc danh sách nào)"),
      tally(others.map((u) => u.unit_id)), el("ul", { class: "tiles" }, ...others.map((u) => tile(u.unit_id, u.unit_name)))));
  }
  if (communesInForce) {
    sections.unshift(el("p", { class: "communes-link" }, el("a", { href: "/?view=communes", id: "all-communes" },
      `Xã, phường: ${communesInForce.toLocaleString("vi-VN")} đơn vị cấp xã đang tồn tại →`)));
  }
  $("rosters").replaceChildren(...sections);
  const total = { critical: 0, warning: 0, info: 0 };
  for (const u of units.values()) for (const s of SEVERITIES) total[s] += (u.alerts_by_severity || {})[s] || 0;
  const overdue = [...units.values()].reduce((n, u) => n + (u.overdue || 0), 0);
  $("overview-counts").replaceChildren(...SEVERITIES.map((s) => el("span", { class: `count ${s}` },
    `${SEVERITY_TEXT[s]} ${total[s]}`)), el("span", { class: "count all" }, `Quá hạn ${overdue}`));
}

// --- the map ---------------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

// A roster of provinces drawn as a map coloured like its tiles: today's 34 (each the former provinces it joined,
// filled alike, under its outline) or the 63 of before. Null for a roster that is not provinces of the map.
function mapOf(roster) {
  if (!provinceMap) return null;
  const ids = roster.units.map((u) => u.id);
  const current = roster.in_force !== false && ids.every((id) => id in provinceMap.outlines);
  if (!current && !ids.every((id) => id in provinceMap.provinces)) return null;
  const names = Object.fromEntries(roster.units.map((u) => [u.id, u.name]));
  const became = {};  // former province -> the one of today it is part of
  if (current) {
    for (const r of rosters) for (const u of r.units) if (u.became) became[u.id] = u.became;
  }
  const severity = (id) => (units.get(id) || {}).worst_severity || "ok";
  const shapes = Object.entries(provinceMap.provinces).map(([id, d]) => {
    const owner = current ? (became[id] || id) : id;
    if (!(owner in names)) return null;
    return svg("a", { href: unitHref(owner), "data-unit": owner },
      svg("path", { d, class: `province ${severity(owner)}`, "data-province": id },
        svg("title", {}, owner === id ? names[owner] : `${names[owner]} (gồm ${provinceMap.names[id] || id} trước 2025)`)));
  }).filter(Boolean);
  const outlines = current
    ? Object.entries(provinceMap.outlines).filter(([id]) => id in names).map(([id, d]) => svg("path", { d, class: "outline" }))
    : [];
  const islands = Object.values(provinceMap.islands).map((i) => svg("g", { class: "island" },
    ...[[0, 0], [6, 4], [-5, 6], [3, -6]].map(([dx, dy]) => svg("circle", { cx: i.x + dx, cy: i.y + dy, r: 1.8 })),
    svg("text", { x: i.x - 10, y: i.y + 6, "text-anchor": "end" }, i.name)));
  const title = current ? "Bản đồ 34 tỉnh, thành phố" : "Bản đồ 63 tỉnh, thành phố trước 01/07/2025";
  return el("figure", { class: "map", "data-map": current ? "current" : "former" },
    svg("svg", { viewBox: provinceMap.viewBox, role: "img", "aria-label": title, class: current ? "current" : "former" },
      svg("title", {}, title), ...shapes, ...outlines, ...islands),
    el("figcaption", {}, "Ranh giới: Natural Earth (phạm vi công cộng)"));
}

async function loadOverview() {
  const [body, summaries, drawn] = await Promise.all([getJSON("/api/v1/rosters"), getAll("/api/v1/units", "units"),
    provinceMap || getJSON("/static/vietnam-provinces.json").catch(() => null)]);
  provinceMap = drawn;
  rosters = body.rosters;
  communesInForce = body.communes_in_force || 0;
  units = new Map(summaries.map((u) => [u.unit_id, u]));
  renderOverview();
}

// --- one unit ------------------------------------------------------------------------------------------

function cell(label, ...content) {
  return el("td", { "data-label": label }, ...content);
}

function renderUnit() {
  if (!detail) return;
  const u = detail;
  document.title = `${u.unit_name} — Giám sát tuân thủ`;
  $("unit-title").textContent = `${u.unit_name} (${u.unit_id})`;
  $("unit-crumb").textContent = u.unit_name;
  const names = Object.fromEntries(rosters.map((r) => [r.roster, r.description || r.roster]));
  $("unit-rosters").textContent = u.rosters.length ? "Thuộc: " + u.rosters.map((r) => names[r] || r).join("; ") : "";
  renderLineage(u.lineage);
  $("exports").replaceChildren(
    el("a", { class: "button", id: "export-overdue", href: u.downloads.overdue_csv, download: `overdue-${u.unit_id}.csv` },
      "Tải danh sách quá hạn (CSV)"),
    el("a", { class: "button", id: "export-alerts", href: u.downloads.alerts_csv, download: `alerts-${u.unit_id}.csv` },
      "Tải cảnh báo đang mở (CSV)"),
    el("a", { class: "button plain", href: "/?" + new URLSearchParams({ unit: u.unit_id }) }, "Lọc bảng cảnh báo"));
  const s = u.summary;
  const severities = SEVERITIES.filter((x) => s.alerts_by_severity[x])
    .map((x) => `${s.alerts_by_severity[x]} ${SEVERITY_TEXT[x].toLowerCase()}`).join(", ");
  const stat = (term, value, extra) => el("div", {}, el("dt", {}, term),
    el("dd", {}, el("strong", {}, String(value)), extra ? ` ${extra}` : ""));
  $("unit-stats").replaceChildren(
    stat("Cảnh báo đang mở", s.alerts_firing, severities ? `(${severities})` : ""),
    stat("Quá hạn", s.overdue),
    stat("Nhiệm vụ đã báo cáo", s.tasks_total));

  const open = [...alerts.values()].filter((a) => a.unit_id === u.unit_id).sort(ordered("attention"));
  $("unit-alerts").replaceChildren(...open.map((a) => alertItem(a, false)));
  $("unit-alerts-empty").hidden = open.length > 0;
  fresh.clear();

  $("overdue").querySelector("tbody").replaceChildren(...u.overdue.map((row) => el("tr", {
    class: row.severity, "data-task": row.task_id, "data-rule": row.rule_id,
  },
  cell("Nhiệm vụ", el("span", { class: "title" }, row.title || row.task_id),
    el("span", { class: "sub" }, [row.task_id, row.kind].filter(Boolean).join(" · "))),
  cell("Hạn", row.display.due || ""),
  cell("Quá hạn", el("strong", {}, row.display.overdue)),
  cell("Trạng thái", row.display.status),
  cell("Báo cáo bởi", row.display.reported || "—"))));
  $("overdue").hidden = !u.overdue.length;
  $("overdue-empty").hidden = u.overdue.length > 0;

  $("indicators").querySelector("tbody").replaceChildren(...u.indicators.map((row) => el("tr", {
    class: row.meets === null ? "unknown" : row.meets ? "meets" : "misses", "data-indicator": row.indicator,
  },
  cell("Chỉ tiêu", el("span", { class: "title" }, row.indicator), el("span", { class: "sub" }, row.rule_id)),
  cell("Giá trị", el("strong", {}, row.display.value)),
  cell("Mục tiêu", row.display.target),
  cell("Đánh giá", el("span", { class: "verdict" }, row.display.assessment)),
  cell("Báo cáo", [row.display.reported, row.period, row.display.reported_by].filter(Boolean).join(" · ") || "—"))));
  $("indicators").hidden = !u.indicators.length;
  $("indicators-empty").hidden = u.indicators.length > 0;
  renderHistory();
}

function unitLink(other) {
  return el("a", { href: unitHref(other.unit_id), "data-unit": other.unit_id }, `${other.unit_name} (${other.unit_id})`);
}

function joined(nodes) {
  return nodes.flatMap((node, i) => (i ? ["; ", node] : [node]));
}

// Where the unit comes from (the units merged into it: their alert history is in their own view, one click
// away) or what it became; a province's communes.
function renderLineage(lineage) {
  const parts = [];
  if (lineage.successors.length) {
    parts.push(`Đơn vị đã được sắp xếp từ ${lineage.until_display}, nay thuộc: `, ...joined(lineage.successors.map(unitLink)),
      ". Lịch sử cảnh báo của đơn vị trước đó ở cuối trang.");
  }
  if (lineage.predecessors.length) {
    const merged = lineage.predecessors.map((p) => el("span", { class: "predecessor" }, unitLink(p),
      p.until_display ? ` (từ ${p.until_display}${p.whole ? "" : ", một phần"})` : ""));
    parts.push("Sáp nhập vào đơn vị này: ", ...joined(merged), " — bấm tên để xem lịch sử cảnh báo trước đó.");
  }
  $("unit-lineage").replaceChildren(...parts);
  $("unit-lineage").hidden = !parts.length;
  const link = $("unit-communes");
  link.hidden = !lineage.communes;
  if (lineage.communes) {
    link.replaceChildren(el("a", { class: "button plain", id: "to-communes",
      href: "/?" + new URLSearchParams({ view: "communes", province: detail.unit_id }) },
    `Xem ${lineage.communes.toLocaleString("vi-VN")} xã, phường của ${detail.unit_name} →`));
  }
}

function renderHistory() {
  const rows = pastAlerts ? pastAlerts.intervals : [];
  $("unit-history").querySelector("tbody").replaceChildren(...rows.map((i) => el("tr", {
    class: i.ended_at ? "" : i.severity, "data-fingerprint": i.fingerprint, "data-unit": i.unit_id,
  },
  cell("Cảnh báo", el("span", { class: "title" }, i.summary), el("span", { class: "sub" }, i.rule_id)),
  cell("Bắt đầu", i.display.started),
  cell("Kết thúc", i.display.ended || "đang mở"),
  cell("Kết quả", i.display.resolution || "—"))));
  $("unit-history").hidden = !rows.length;
  $("unit-history-empty").hidden = rows.length > 0;
  const more = pastAlerts && pastAlerts.count > rows.length;
  $("unit-history-more").hidden = !more;
  if (more) {
    $("unit-history-more").replaceChildren(`${rows.length} khoảng gần nhất trong ${pastAlerts.count}; `,
      el("a", { href: detail.downloads.history_csv, download: `history-${detail.unit_id}.csv` }, "tải tất cả (CSV)"));
  }
}

async function loadUnit() {
  if (!filters.unit) {
    showProblem("Chưa chọn đơn vị: mở một ô ở trang Toàn quốc.");
    return;
  }
  const unit = encodeURIComponent(filters.unit);
  try {
    const [body, found, roster, past] = await Promise.all([
      getJSON(`/api/v1/units/${unit}`), getAll(`/api/v1/alerts?state=firing&unit_id=${unit}`, "alerts"),
      getJSON("/api/v1/rosters"), getJSON(`/api/v1/alerts/history?unit_id=${unit}&limit=${HISTORY_ROWS}`).catch(() => null),
    ]);
    detail = body;
    rosters = roster.rosters;
    pastAlerts = past;
    refill(found);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
      showProblem(error.status === 404
        ? `Không có đơn vị «${filters.unit}»: đơn vị này chưa gửi dữ liệu nào và không có trong danh sách đơn vị.`
        : `Mã đơn vị không hợp lệ: ${error.message}`);
      return;
    }
    throw error;
  }
  showProblem(null);
  renderUnit();
}

// --- the communes ---------------------------------------------------------------------------------------

function communesQuery() {
  const q = new URLSearchParams({ limit: String(COMMUNE_PAGE), offset: String(filters.offset) });
  if (filters.province) q.set("province", filters.province);
  if (filters.q) q.set("q", filters.q);
  if (filters.sort && filters.sort !== "attention") q.set("sort", filters.sort);
  return q;
}

function renderCommunes() {
  const c = communes;
  if (!c) return;
  const where = c.province ? c.province.name : "cả nước";
  document.title = `Xã, phường — ${where} — Giám sát tuân thủ`;
  $("communes-title").textContent = `Xã, phường của ${where} (${c.in_force.toLocaleString("vi-VN")})`;
  $("communes-crumb").replaceChildren(...(c.province ? [" › ", el("a", { href: unitHref(c.province.id) }, c.province.name)] : []));
  const select = $("communes-province");
  if (select.options.length !== c.provinces.length + 1) {
    fillSelect(select, [["", "Cả nước"], ...c.provinces.map((p) => [p.id, p.name])], filters.province);
  }
  select.value = filters.province;
  $("communes-sort").value = filters.sort === "name" ? "name" : "attention";
  if (document.activeElement !== $("communes-q")) $("communes-q").value = filters.q;
  const counts = c.by_severity;
  $("communes-tally").replaceChildren(el("span", { class: "of" }, `${c.in_force.toLocaleString("vi-VN")} đơn vị:`),
    ...SEVERITIES.filter((s) => counts[s]).map((s) => el("span", { class: `count ${s}` }, `${counts[s]} ${SEVERITY_TEXT[s].toLowerCase()}`)),
    el("span", { class: "count ok" }, `${counts.ok || 0} không cảnh báo`));
  $("communes").querySelector("tbody").replaceChildren(...c.communes.map((row) => el("tr", {
    class: row.worst_severity || "", "data-unit": row.unit_id,
  },
  cell("Xã, phường", el("a", { class: "title", href: unitHref(row.unit_id) }, row.unit_name), el("span", { class: "sub" }, row.unit_id)),
  cell("Tỉnh, thành phố", row.province_name),
  cell("Cảnh báo", row.worst_severity ? `${row.alerts_firing} · ${SEVERITY_TEXT[row.worst_severity]}` : "Không"),
  cell("Quá hạn", el("strong", {}, String(row.overdue))),
  cell("Nhiệm vụ", String(row.tasks_total)),
  cell("Báo cáo gần nhất", row.display.last_event || "chưa báo cáo"))));
  $("communes").hidden = !c.communes.length;
  $("communes-empty").hidden = c.communes.length > 0;
  const last = c.offset + c.communes.length;
  $("communes-page").textContent = c.count ? `${(c.offset + 1).toLocaleString("vi-VN")}–${last.toLocaleString("vi-VN")} / ${c.count.toLocaleString("vi-VN")}` : "";
  $("communes-prev").disabled = c.offset === 0;
  $("communes-next").disabled = c.next_offset === null;
  performance.mark("communes-painted");
}

function showCommunes(found) {  // the first page, asked for at the start: drawn, or asked for again if it failed
  if (!found) return load();
  loaded = true;
  communes = found;
  renderCommunes();
  return null;
}

async function loadCommunes() {
  const asked = communesQuery().toString();
  try {
    const found = await getJSON(`/api/v1/communes?${asked}`);
    if (communesQuery().toString() !== asked) return;  // the reader moved on while it was on its way
    communes = found;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 404)) {
      showProblem(error.message);
      return;
    }
    throw error;
  }
  showProblem(null);
  renderCommunes();
}

function setCommunes(changes) {
  Object.assign(filters, changes);
  const q = communesQuery();
  q.delete("limit");
  if (q.get("offset") === "0") q.delete("offset");
  q.set("view", "communes");
  history.replaceState(null, "", "?" + q);
  loadCommunes();
}

function wireCommunes() {
  $("communes-province").addEventListener("change", () => setCommunes({ province: $("communes-province").value, offset: 0 }));
  $("communes-sort").addEventListener("change", () => setCommunes({ sort: $("communes-sort").value, offset: 0 }));
  $("communes-q").addEventListener("input", () => setCommunes({ q: $("communes-q").value.trim(), offset: 0 }));
  $("communes-filters").addEventListener("submit", (event) => event.preventDefault());
  $("communes-prev").addEventListener("click", () => setCommunes({ offset: Math.max(0, filters.offset - COMMUNE_PAGE) }));
  $("communes-next").addEventListener("click", () => { if (communes && communes.next_offset !== null) setCommunes({ offset: communes.next_offset }); });
}

// --- live updates ----------------------------------------------------------------------------------------

let renderTimer = null;
let reloadTimer = null;

function render() {
  if (view === "feed") renderFeed();
  else if (view === "unit") renderUnit();
  else if (view === "communes") renderCommunes();
  else renderOverview();
}

function later(fn, ms) {
  return setTimeout(() => fn(), ms);
}

let loading = 0;
let loaded = false;                  // load() has run once
let meanwhile = [];                  // transitions that came while an answer was on its way

// The rule pack in force, in the header: its version, since when, and where it came from.
function showPack(pack) {
  const node = $("pack");
  node.textContent = `Bộ quy tắc ${pack.version} · từ ${pack.display.applied_at}`;
  node.dataset.version = pack.version;
  node.title = [pack.source, pack.applied_by, pack.message].filter(Boolean).join(" · ");
}

function learn(pack) {
  SEVERITIES = pack.severities.map((s) => s.id);
  SEVERITY_TEXT = Object.fromEntries(pack.severities.map((s) => [s.id, s.text]));
  SORTS = Object.fromEntries(pack.sorts.map((s) => [s.id, s.text]));
  showPack(pack);
}

function load() {
  const loaders = { overview: loadOverview, unit: loadUnit, communes: loadCommunes, publisher: loadPublisher, silences: loadSilences };
  const loader = loaders[view] || loadFeed;
  if (loaded) getJSON("/api/v1/rules").then(showPack, () => null);  // the first time, main() has just asked
  loaded = true;
  loading += 1;
  return loader().catch((error) => {
    showProblem(`Không tải được dữ liệu: ${error.message}`);
    setStatus("down", "lỗi khi tải");
  }).finally(() => {
    loading -= 1;
    if (!loading) meanwhile = [];
  });
}

// The answer replaces what the page held; what the stream said since it was asked for is applied again on top
// (an answer may have been written just before a transition the stream has already brought).
function refill(found) {
  alerts.clear();
  for (const a of found) remember(a);
  for (const t of meanwhile) apply(t);
}

function apply(t) {
  if (t.status === "firing") remember(t);
  else alerts.delete(t.fingerprint);
}

function reloadSoon(ms) {  // many transitions, one reload of what the view shows from the units' state
  if (reloadTimer === null) reloadTimer = later(() => { reloadTimer = null; load(); }, ms);
}

function onTransition(t) {
  if (view === "publisher" || view === "silences") return;  // asked again every few minutes (REFRESH_MS)
  if (view === "overview" || view === "communes") return reloadSoon(2000);
  if (view === "unit" && t.unit_id !== filters.unit) return;
  fresh.add(key(t));
  if (t.status === "firing") $("announce").textContent = `Cảnh báo mới: ${t.summary}`;
  if (view === "feed") {  // transitions arriving together are asked for once
    $("alerts").setAttribute("aria-busy", "true");
    if (renderTimer === null) renderTimer = later(() => { renderTimer = null; askFeed(); }, LIVE_RENDER_MS);
    return;
  }
  if (loading) meanwhile.push(t);
  apply(t);
  reloadSoon(1000);
  if (renderTimer === null) renderTimer = later(() => { renderTimer = null; render(); }, LIVE_RENDER_MS);
}

function onAction(action) {  // someone acted on an alert, here or on another worker: the list as it now stands
  if (view === "feed") askFeed();
  else if (view === "unit" && action.unit_id === filters.unit) reloadSoon(300);
}

function onStream(type, data) {
  if (type === "hello") {
    live = true;
    setStatus("live", "trực tiếp");
    load();  // what changed between the first answer and the stream's start
  } else if (type === "transition") {
    onTransition(JSON.parse(data));
  } else if (type === "action") {
    onAction(JSON.parse(data));
  } else if (type === "reload") {
    load();
  } else if (type === "error") {
    live = false;
    setStatus("down", "mất kết nối, đang thử lại…");
  }
}

function streamHere() {
  const source = new EventSource("/api/v1/alerts/stream");
  for (const type of ["hello", "transition", "action", "reload"]) source.addEventListener(type, (e) => onStream(type, e.data));
  source.onerror = () => onStream("error");
}

function startStream() {
  let worker = null;
  try {
    worker = new Worker("/static/feed-stream.js");
  } catch (error) {
    worker = null;
  }
  if (worker === null) return streamHere();
  worker.onmessage = (event) => {
    if (event.data.type === "unsupported") {  // no EventSource in workers on this browser: open it here
      worker.terminate();
      streamHere();
    } else {
      onStream(event.data.type, event.data.data);
    }
  };
  worker.onerror = () => { worker.terminate(); streamHere(); };
}

// --- start --------------------------------------------------------------------------------------------

function wire() {
  const bind = (id, name) => $(id).addEventListener("change", () => setFilter(name, $(id).value));
  bind("unit", "unit");
  bind("severity", "severity");
  bind("rule", "rule");
  bind("sort", "sort");
  $("state").addEventListener("change", () => {  // another list: ask for it
    filters.state = $("state").value;
    filters.sort = defaultSort();
    shown = PAGE;
    writeUrl();
    askFeed();
  });
  $("search").addEventListener("input", () => setFilter("q", $("search").value));
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("clear").addEventListener("click", () => {
    Object.assign(filters, { unit: "", severity: "", rule: "", state: "firing", sort: "attention", q: "" });
    setFilter("q", "");
  });
  $("more").addEventListener("click", () => { shown += PAGE; askFeed(); });
}

// --- one publisher -------------------------------------------------------------------------------------

// The token stays in this tab only (sessionStorage): it is the publisher's credential.
const TOKEN_KEY = "publisher-token";

function renderPublisher(p) {
  $("publisher-detail").hidden = false;
  $("publisher-name").textContent = p.name ? `${p.name} (${p.publisher})` : p.publisher;
  $("publisher-reports").textContent = `Được báo cáo cho: ${p.may_report} · danh sách nguồn ${p.registry}`;
  const d = p.last_day;
  const since = p.display.accepted_counted_since;
  const stat = (term, value, extra) => el("div", {}, el("dt", {}, term),
    el("dd", {}, el("strong", {}, String(value)), extra ? ` ${extra}` : ""));
  const causes = Object.entries(d.refused_by_cause).map(([c, n]) => `${n} ${p.display.refused_by_cause[c] || c}`).join("; ");
  $("publisher-stats").replaceChildren(
    stat("Được nhận trong 24 giờ qua", d.accepted, since ? `(đếm từ ${since})` : ""),
    stat("Bị từ chối trong 24 giờ qua", d.refused, causes ? `(${causes})` : ""));
  $("publisher-refusals").querySelector("tbody").replaceChildren(...p.refusals.map((r) => el("tr", { "data-cause": r.cause },
    cell("Thời điểm", r.display.at),
    cell("Lý do", el("span", { class: "title" }, r.display.cause), el("span", { class: "sub" }, r.reason)),
    cell("Số sự kiện", String(r.events)),
    cell("Đọc từ", r.topic === "http" ? "HTTP" : `${r.topic} [${r.partition}] @${r.offset}`))));
  $("publisher-refusals").hidden = !p.refusals.length;
  $("publisher-refusals-empty").hidden = p.refusals.length > 0;
  $("publisher-units").querySelector("tbody").replaceChildren(...p.units.map((u) => el("tr", { "data-unit": u.unit_id },
    cell("Đơn vị", el("a", { href: unitHref(u.unit_id) }, `${u.unit_name} (${u.unit_id})`)),
    cell("Báo cáo gần nhất", u.display.last_report || "chưa báo cáo"))));
}

async function loadPublisher() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return;
  try {
    renderPublisher(await getJSON("/api/v1/publishers/me", { Authorization: `Bearer ${token}` }));
    showProblem(null);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("publisher-detail").hidden = true;
    showProblem(error.status === 403 ? "Mã truy cập không đúng: không có hệ thống gửi nào dùng mã này."
      : error.status === 404 ? "Chưa có danh sách nguồn dữ liệu: mọi hệ thống được gửi cho mọi đơn vị."
        : `Không tải được dữ liệu: ${error.message}`);
  }
}

function wirePublisher() {
  $("publisher-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("publisher-token").value);
    $("publisher-token").value = "";
    loadPublisher();
  });
}

// --- who reads ----------------------------------------------------------------------------------------

// With a viewers file, the worker answers only a viewer: the token typed here becomes a session cookie
// (HttpOnly: this page never holds it), which the stream, the reports and the CSV links send too.
function showViewer(who) {
  me = who;
  if (me.open) return;
  if (me.anonymous) {  // reads as nobody: signing in lets it act
    $("sign-in").hidden = false;
    $("sign-in").addEventListener("click", () => askSignIn(null, true));
    return;
  }
  $("viewer").hidden = false;
  const what = me.all_units ? "mọi đơn vị" : me.units.map((u) => u.unit_name).join(", ");
  $("viewer-name").textContent = me.name;
  $("viewer").title = `Người xem ${me.viewer}: ${what}`;
  $("sign-out").addEventListener("click", () => {
    fetch("/api/v1/session", { method: "DELETE" }).finally(() => location.reload());
  });
}

function askSignIn(message, toAct = false) {
  for (const name of VIEWS) $(`${name}-view`).hidden = true;
  $("signin-view").hidden = false;
  if (toAct) {
    $("signin-view").querySelector(".hint").textContent = "Ai cũng xem được cảnh báo. Để nhận xử lý, giao phụ trách "
      + "hoặc ghi chú cho cảnh báo của đơn vị mình, hãy đăng nhập bằng mã truy cập người xem được cấp.";
  }
  setStatus("", "");
  if (message) showProblem(message);
  $("signin-form").onsubmit = async (event) => {
    event.preventDefault();
    const response = await fetch("/api/v1/session", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: $("signin-token").value }),
    });
    $("signin-token").value = "";
    if (response.ok) location.reload();
    else showProblem(response.status === 403 ? "Mã truy cập không đúng: không có người xem nào dùng mã này."
      : "Không đăng nhập được: " + ((await response.json().catch(() => ({}))).error || response.status));
  };
}

async function whoReads() {
  try {
    showViewer(await getJSON("/api/v1/viewers/me"));
    return true;
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
    askSignIn(error.status === 403 ? "Mã truy cập không còn hiệu lực; hãy đăng nhập lại." : null);
    return false;
  }
}

async function main() {
  if (!VIEWS.includes(view)) {
    showProblem(`Không có chế độ xem «${view}». Chọn một trong: ${VIEWS.join(", ")}.`);
    setStatus("down", "");
    return;
  }
  const current = { overview: "nav-overview", unit: "nav-overview", communes: "nav-overview", publisher: "nav-publisher",
    silences: "nav-silences" }[view] || "nav-feed";
  $(current).setAttribute("aria-current", "page");
  if (view === "publisher") {  // a publisher signs in with its own token, not a viewer's
    $("publisher-view").hidden = false;
    wirePublisher();
    setStatus("", "");
    return loadPublisher();
  }
  if (!(await whoReads().catch(() => true))) return;
  $(`${view}-view`).hidden = false;
  if (view === "feed") wire();
  if (view === "communes") wireCommunes();
  // The communes' first page is asked for with the rules, not after them: the list is drawn as soon as both are in.
  const first = view === "communes" ? getJSON(`/api/v1/communes?${communesQuery()}`).catch(() => null) : null;
  getJSON("/api/v1/rules").then(learn).then(() => (first ? first.then(showCommunes) : load()), (error) => {
    showProblem(`Không tải được dữ liệu: ${error.message}`);
    setStatus("down", "lỗi khi tải");
  }).then(() => {
    // Opened once the first data is on screen (or failed to come: the stream's hello asks again).
    if ($("status").className !== "down") setStatus("", "đang kết nối…");
    if (document.readyState === "complete") startStream();
    else window.addEventListener("load", startStream, { once: true });
    setInterval(load, REFRESH_MS);
  });
}

main();
