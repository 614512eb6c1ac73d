"use strict";
// The firing alerts of this worker's partitions, newest first, kept live by server-sent events.
const alerts = new Map();           // fingerprint -> alert view
const fresh = new Set();            // fingerprints that arrived live, highlighted once
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("severity").value = params.get("severity") || "";

function since(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return "vừa xong";
  if (s < 5400) return Math.round(s / 60) + " phút";
  if (s < 172800) return Math.round(s / 3600) + " giờ";
  return Math.round(s / 86400) + " ngày";
}

function text(tag, cls, value) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.textContent = value;
  return el;
}

function render() {
  const unit = $("unit").value, severity = $("severity").value;
  const needle = $("search").value.trim().toLowerCase();
  const list = $("alerts");
  list.replaceChildren();
  const shown = [...alerts.values()]
    .filter((a) => (!unit || a.unit_id === unit) && (!severity || a.severity === severity))
    .filter((a) => !needle || JSON.stringify(a).toLowerCase().includes(needle))
    .sort((a, b) => (b.received || 0) - (a.received || 0) || Date.parse(b.starts_at) - Date.parse(a.starts_at));
  for (const a of shown) {
    const li = document.createElement("li");
    li.className = "alert " + a.severity + (fresh.has(a.fingerprint) ? " new" : "");
    li.dataset.fingerprint = a.fingerprint;
    li.dataset.unit = a.unit_id;
    li.dataset.rule = a.rule_id;
    li.dataset.subject = a.labels.task_id || a.labels.indicator || "";
    li.append(text("span", "sev", a.severity), text("span", "summary", a.summary || a.rule_id),
              text("span", "since", since(a.starts_at)));
    const task = a.labels.task_id ? " · " + a.labels.task_id : a.labels.indicator ? " · " + a.labels.indicator : "";
    li.append(text("span", "meta", `${a.unit_name} (${a.unit_id}) · ${a.rule_id} · ${a.stage}${task}`));
    list.append(li);
  }
  fresh.clear();
  $("empty").hidden = shown.length > 0;
  const counts = {};
  for (const a of alerts.values()) counts[a.severity] = (counts[a.severity] || 0) + 1;
  $("counts").replaceChildren(...["critical", "warning", "info"].filter((s) => counts[s])
    .map((s) => text("span", "count " + s, `${counts[s]} ${s}`)));
  const units = [...new Map([...alerts.values()].map((a) => [a.unit_id, a.unit_name])).entries()]
    .sort((x, y) => x[1].localeCompare(y[1], "vi"));
  const select = $("unit"), keep = select.value || params.get("unit") || "";
  select.replaceChildren(new Option("tất cả", ""), ...units.map(([id, name]) => new Option(`${name} (${id})`, id)));
  select.value = units.some(([id]) => id === keep) ? keep : "";
}

async function load() {
  // The answer comes a page at a time; a bounded number of pages (a phone cannot show more anyway).
  const fresh = new Map();
  let offset = 0;
  for (let page = 0; page < 20 && offset !== null; page++) {
    const response = await fetch(`/api/v1/alerts?state=firing&limit=5000&offset=${offset}`);
    const body = await response.json();
    for (const a of body.alerts) fresh.set(a.fingerprint, a);
    offset = body.next_offset;
  }
  alerts.clear();
  for (const [fingerprint, a] of fresh) alerts.set(fingerprint, a);
  render();
}

function connect() {
  const source = new EventSource("/api/v1/alerts/stream");
  source.addEventListener("hello", () => { $("status").className = "live"; $("status").textContent = "trực tiếp"; load(); });
  source.addEventListener("transition", (event) => {
    const t = JSON.parse(event.data);
    if (t.status === "firing") {
      alerts.set(t.fingerprint, { ...t, received: Date.now() });
      fresh.add(t.fingerprint);
    } else {
      alerts.delete(t.fingerprint);
    }
    render();
  });
  source.addEventListener("reload", () => load());
  source.onerror = () => { $("status").className = "down"; $("status").textContent = "mất kết nối, đang thử lại…"; };
}

for (const id of ["unit", "severity"]) $(id).addEventListener("change", () => {
  const q = new URLSearchParams();
  if ($("unit").value) q.set("unit", $("unit").value);
  if ($("severity").value) q.set("severity", $("severity").value);
  history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
  render();
});
$("search").addEventListener("input", render);
setInterval(render, 60000);  // keep "since" fresh
connect();
