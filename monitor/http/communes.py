"""``/api/v1/communes``: the communes in force — of one province, or all 3,321 — each with its figures, a page at a time.

Every commune the unit registry has in force today is listed, whether or not
it has reported (a commune that never did is a finding too), with the figures
of ``/api/v1/units`` where it has them. The list is searched (``q``: name or
code, without diacritics: ``ba dinh`` finds Phường Ba Đình), filtered by
province and ordered by attention (worst open alert, then most overdue, then
name) or by name; each answer counts the communes by worst severity for the
province's tally. Pure: the pack, the gathered summaries and the query in,
an ``Answer`` out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitor.http.answers import Answer, json_answer, page_of, page_window, query_param, unknown_value
from monitor.viewers import Scope
from rules.language import SEVERITIES, RulePack
from rules.units import Level
from rules.vietnamese import datetime_text, name_order, search_folded

__all__ = ["COMMUNE_SORTS", "commune_rows", "communes"]

#: The orders the list can be given in.
COMMUNE_SORTS = ("attention", "name")
_PAGE = 100
_RANK = {severity: n for n, severity in enumerate(SEVERITIES)}


def commune_rows(
    pack: RulePack, summaries: Mapping[str, Mapping[str, Any]], now: datetime, province: str | None = None
) -> list[dict[str, Any]]:
    """Each commune in force at ``now`` (of ``province``, if given) with its figures, in the registry's order."""
    registry = pack.units
    rows = []
    for unit in registry.in_force(now, Level.COMMUNE, province):
        summary = summaries.get(unit.id, {})
        parent = unit.parent or ""
        rows.append(
            {
                "unit_id": unit.id,
                "unit_name": unit.name,
                "kind": unit.kind,
                "province_id": parent,
                "province_name": registry.name(parent, now) if parent else "",
                "overdue": int(summary.get("overdue", 0)),
                "alerts_firing": int(summary.get("alerts_firing", 0)),
                "worst_severity": summary.get("worst_severity"),
                "tasks_total": int(summary.get("tasks_total", 0)),
                "last_event_at": summary.get("last_event_at"),
            }
        )
    return rows


def _displayed(pack: RulePack, row: dict[str, Any]) -> dict[str, Any]:
    """The row with the text the console shows of its last report (made for the rows of a page only)."""
    last = row["last_event_at"]
    return {**row, "display": {"last_event": datetime_text(datetime.fromisoformat(last), pack.tz) if last else ""}}


def _attention(row: Mapping[str, Any]) -> tuple[Any, ...]:
    worst = row["worst_severity"]
    return (_RANK.get(worst, len(_RANK)), -row["overdue"], *_by_name(row))


def _by_name(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return *name_order(row["unit_name"]), row["unit_id"]


def communes(
    pack: RulePack, summaries: Iterable[Mapping[str, Any]], now: datetime, query: Mapping[str, str], scope: Scope
) -> Answer:
    """``GET /api/v1/communes?province=VN-22&q=&sort=attention|name&limit=100&offset=0``.

    ``count`` is of the communes the search finds; ``in_force`` of the province's (or the country's) communes
    today; ``by_severity`` counts those by their worst open alert (``ok``: none); ``provinces`` are those in
    force, by name, to choose from. A viewer who sees some units is shown those only.
    """
    province = query_param(query, "province")
    if province is not None:
        unit = pack.units.get(province)
        if unit is None or unit.level is not Level.PROVINCE:
            return json_answer({"error": f"province: {province!r} is not a province the unit registry knows"}, 404)
    order = query_param(query, "sort") or "attention"
    if order not in COMMUNE_SORTS:
        return unknown_value("sort", order, COMMUNE_SORTS)
    window = page_window(query, default=_PAGE)
    if isinstance(window, Answer):
        return window
    limit, offset = window
    by_id = {str(s["unit_id"]): s for s in summaries}
    rows = [r for r in commune_rows(pack, by_id, now, province) if scope.admits(r["unit_id"])]
    tally = Counter(r["worst_severity"] or "ok" for r in rows)
    needle = search_folded(query_param(query, "q") or "").strip()
    found = [r for r in rows if not needle or needle in search_folded(f"{r['unit_name']} {r['unit_id']}")]
    found.sort(key=_attention if order == "attention" else _by_name)
    shown = [_displayed(pack, row) for row in found[offset : offset + limit]]
    page = page_of(shown, len(found), limit, offset, "communes")
    provinces = sorted(pack.units.in_force(now, Level.PROVINCE), key=lambda u: name_order(u.name))
    return json_answer(
        {
            "province": {"id": province, "name": pack.unit_name(province)} if province else None,
            "provinces": [{"id": u.id, "name": u.name} for u in provinces],
            "in_force": len(rows),
            "by_severity": {s: tally[s] for s in (*SEVERITIES, "ok") if tally[s]},
            **page,
        }
    )
