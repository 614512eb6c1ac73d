"""The console's own answers: one unit in full (``/api/v1/units/{unit_id}``) and the rosters (``/api/v1/rosters``).

Functions from request parts to an ``Answer``, as in ``monitor.http.views``;
the texts they carry come from ``monitor.http.figures``.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from monitor.http.answers import Answer, json_answer
from monitor.http.figures import indicator_rows, overdue_display, rosters_view
from monitor.http.protocol import WorkerView
from monitor.http.units import overdue_items, unit_summary
from monitor.http.viewers import OPEN
from monitor.http.views import known_unit
from monitor.viewers import Scope
from rules.state import UnitState

__all__ = ["rosters", "unit_detail", "unit_downloads"]


def unit_downloads(unit_id: str) -> dict[str, str]:
    """Where the unit's lists are downloaded as CSV: its overdue list and its firing alerts."""
    return {
        "overdue_csv": f"/api/v1/units/{quote(unit_id, safe='')}/overdue?format=csv",
        "alerts_csv": f"/api/v1/alerts?{urlencode({'unit_id': unit_id, 'format': 'csv'})}",
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
        }
    )


def rosters(worker: WorkerView, scope: Scope = OPEN) -> Answer:
    """``/api/v1/rosters``: the rosters the rules name (the console's overview has a tile per unit of each).

    A viewer who sees some units is shown those of each roster (and no roster it sees none of).
    """
    shown = rosters_view(worker.pack, worker.now())
    if scope.units is not None:
        shown = [
            {**roster, "units": units}
            for roster in shown
            if (units := [u for u in roster["units"] if scope.admits(u["id"])])
        ]
    return json_answer({"rosters": shown})
