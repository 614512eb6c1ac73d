"""The console's own answers: one unit in full (``/api/v1/units/{unit_id}``) and the rosters (``/api/v1/rosters``).

Functions from request parts to an ``Answer``, as in ``monitor.http.views``;
the texts they carry come from ``monitor.http.figures``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from monitor.http.answers import Answer, json_answer
from monitor.http.figures import indicator_rows, overdue_display, rosters_view
from monitor.http.protocol import WorkerView
from monitor.http.units import overdue_items, unit_summary
from monitor.http.viewers import OPEN
from monitor.http.views import known_unit
from monitor.viewers import Scope
from rules.language import RulePack
from rules.state import UnitState
from rules.units import Level
from rules.vietnamese import date_text

__all__ = ["lineage_view", "rosters", "unit_detail", "unit_downloads"]


def unit_downloads(unit_id: str) -> dict[str, str]:
    """Where the unit's lists are downloaded as CSV: its overdue list, its firing alerts, its alert history."""
    return {
        "overdue_csv": f"/api/v1/units/{quote(unit_id, safe='')}/overdue?format=csv",
        "alerts_csv": f"/api/v1/alerts?{urlencode({'unit_id': unit_id, 'format': 'csv'})}",
        "history_csv": f"/api/v1/alerts/history?{urlencode({'unit_id': unit_id, 'format': 'csv'})}",
    }


def lineage_view(pack: RulePack, unit_id: str, now: datetime) -> dict[str, Any]:
    """Where the unit comes from and what it became, as the registry says: with dates, names and levels.

    ``predecessors``: the units merged (or split) into it, nearest first, each with the instant it ended and
    whether it went whole into this one; ``successors``: for a unit that no longer exists, the units in force
    ``now`` that it became; ``communes``: how many communes of a province are in force ``now``.
    """
    registry = pack.units
    unit = registry.get(unit_id)
    if unit is None:
        return {
            "level": None,
            "from": None,
            "until": None,
            "until_display": "",
            "predecessors": [],
            "successors": [],
            "communes": 0,
        }

    def named(other: str) -> dict[str, Any]:
        known = registry.get(other)
        ended = known.end if known is not None else None
        return {
            "unit_id": other,
            "unit_name": registry.name(other),
            "until": ended.isoformat() if ended is not None else None,
            "until_display": date_text(ended, pack.tz) if ended is not None else "",
            "whole": registry.merged_whole(other),
        }

    alive = unit.alive(now)
    return {
        "level": unit.level.value,
        "from": unit.start.isoformat() if unit.start is not None else None,
        "until": unit.end.isoformat() if unit.end is not None else None,
        "until_display": date_text(unit.end, pack.tz) if unit.end is not None else "",
        "predecessors": [named(p) for p in registry.predecessors(unit_id)],
        "successors": [] if alive else [named(s) for s in registry.successors(unit_id, now)],
        "communes": len(registry.in_force(now, Level.COMMUNE, unit_id)) if unit.level is Level.PROVINCE else 0,
    }


def unit_detail(worker: WorkerView, unit_id: str) -> Answer:
    """``/api/v1/units/{unit_id}``: one unit as the console's unit view shows it (asked of the unit's owner).

    Its summary (as in ``/api/v1/units``, with ``worst_severity``), the
    rosters it is on, its overdue list (the rows of ``/overdue``, each with
    ``display`` texts), its indicators against the targets of the threshold
    rules about them, and the CSV downloads of its lists.
    """
    state = known_unit(worker, unit_id)
    if isinstance(state, Answer):
        return state
    pack = worker.pack
    now = worker.now()
    held = state if state is not None else UnitState(unit_id=unit_id)
    overdue = overdue_items(pack, state, now) if state is not None else []
    return json_answer(
        {
            "unit_id": unit_id,
            "unit_name": pack.unit_name(unit_id),
            "rosters": [roster.roster for roster in pack.rosters if unit_id in pack.members(roster)],
            "summary": unit_summary(pack, held),
            "overdue": [{**row, "display": overdue_display(pack, held, row)} for row in overdue],
            "indicators": indicator_rows(pack, held, now),
            "downloads": unit_downloads(unit_id),
            "lineage": lineage_view(pack, unit_id, now),
        }
    )


def rosters(worker: WorkerView, scope: Scope = OPEN) -> Answer:
    """``/api/v1/rosters``: the rosters the rules name (the console's overview has a tile per unit of each).

    With ``communes_in_force``: how many communes the unit registry has in force now (the overview links them).

    A viewer who sees some units is shown those of each roster (and no roster it sees none of).
    """
    shown = rosters_view(worker.pack, worker.now())
    if scope.units is not None:
        shown = [
            {**roster, "units": units}
            for roster in shown
            if (units := [u for u in roster["units"] if scope.admits(u["id"])])
        ]
    communes = len(worker.pack.units.in_force(worker.now(), Level.COMMUNE))  # the registry's: no unit is asked
    return json_answer({"rosters": shown, "communes_in_force": communes})
