// The silences view (?view=silences): every silence that may touch the viewer's units, in force, to come or ended,
// who made it and why; a viewer who may ends one early. Silences are made through the API (docs/api.md).
// Loaded before feed.js, whose helpers ($, el, getJSON, showProblem, setStatus, me) it uses once the page runs.
"use strict";

const SILENCE_STATE_TEXT = { active: "đang tắt", pending: "sắp tới", expired: "đã hết" };

// A viewer who sees every unit ends any silence; one who sees some units, those of its units.
function mayEnd(s) {
  if (!me || !me.identified || s.state === "expired") return false;
  const unit = (s.matchers || {}).unit_id;
  return me.all_units || (unit !== undefined && (me.units || []).some((u) => u.unit_id === unit));
}

function silenceRow(s) {
  const display = s.display;  // what it matches and when, in words (the API writes them)
  const when = display.from ? `${display.from} – ${display.until}` : "–";
  const ended = s.expired_at ? ` · kết thúc sớm bởi ${s.expired_by || "?"}` : "";
  const end = mayEnd(s) ? el("button", { type: "button", class: "plain end-silence" }, "Kết thúc") : null;
  if (end) end.addEventListener("click", () => endSilence(s));
  return el("tr", { class: `silence ${s.state}`, "data-id": s.id },
    el("td", { "data-label": "Trạng thái" }, SILENCE_STATE_TEXT[s.state] || s.state),
    el("td", { "data-label": "Áp dụng cho" }, display.matches),
    el("td", { "data-label": "Lịch" }, display.schedule),
    el("td", { "data-label": "Lần này / lần tới" }, when + ended),
    el("td", { "data-label": "Lý do" }, s.reason, el("br"), el("small", {}, `${s.who}`)),
    el("td", { class: "act-cell" }, ...(end ? [end] : [])));
}

async function loadSilences() {
  const body = await getJSON("/api/v1/silences");
  const order = { active: 0, pending: 1, expired: 2 };
  const rows = body.silences.slice().sort((a, b) => order[a.state] - order[b.state]).map(silenceRow);
  $("silences").querySelector("tbody").replaceChildren(...rows);
  $("silences-empty").hidden = rows.length > 0;
  $("silences").hidden = rows.length === 0;
  setStatus("live", `${body.silences.filter((s) => s.state === "active").length} đang tắt`);
}

async function endSilence(s) {
  const response = await fetch(`/api/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" })
    .catch((error) => ({ ok: false, status: 0, json: async () => ({ error: error.message }) }));
  if (!response.ok) {
    const reason = (await response.json().catch(() => ({}))).error || `HTTP ${response.status}`;
    showProblem(`Không kết thúc được: ${reason}`);
    return;
  }
  showProblem(null);
  $("announce").textContent = `Đã kết thúc tắt thông báo: ${s.display.matches}`;
  loadSilences();
}
