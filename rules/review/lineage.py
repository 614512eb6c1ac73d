"""Reports across a restructuring: which units a period is reported on, and whose figures roll into whose.

Pure: the pack's unit registry and scorecards in, scorecards out. A period is
reported on the units in force at its end (or at any instant the reader
chooses, ``units_at``): a unit merged away before then has its scorecard
folded into the one of the unit it became — through every merger since — and
listed there by name, so a period that spans the 2025 merger shows Tuyên
Quang with Hà Giang's deadlines counted and named, and a 2024 period can be
put beside a 2026 one on the same units. A unit split among several, or ended
with none, keeps its own scorecard: its figures cannot be shared out.

Each unit is judged only while it existed (``scorecard`` clips the period to
its life), as the engine stops judging a unit the day it ends, so nothing is
counted twice when a task reported under the old unit is reported again
under the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from rules.language import RulePack, whole_days
from rules.review.deadlines import Warnings, order, summed
from rules.review.scorecard import UnitScorecard
from rules.units import Level, UnitRegistry

__all__ = ["carrier", "period_units", "province_problem", "roll_up"]


def period_units(
    pack: RulePack, bounds: tuple[datetime, datetime], reported: Iterable[str], communes_of: str | None = None
) -> list[str]:
    """The units a report of ``bounds`` has a scorecard for, sorted.

    Every unit some roster names and every unit that reported but a commune, that existed at some instant of
    the period (a unit the registry does not know always did). ``communes_of``: instead, the communes of that province (and
    of the provinces merged into it) that existed in the period, reported or not.
    """
    start, end = bounds
    registry = pack.units
    if communes_of is not None:
        provinces = (communes_of, *registry.predecessors(communes_of))
        chosen = {u for p in provinces for u in registry.select(Level.COMMUNE, p)}
    else:  # a commune that reported is in its province's report by commune (``communes_of``), not ranked with them
        chosen = set(pack.rostered_units) | {u for u in reported if _level(registry, u) is not Level.COMMUNE}
    return sorted(u for u in chosen if (unit := registry.get(u)) is None or unit.overlaps(start, end))


def _level(registry: UnitRegistry, unit_id: str) -> Level | None:
    unit = registry.get(unit_id)
    return unit.level if unit is not None else None


def province_problem(pack: RulePack, unit_id: str, what: str) -> str | None:
    """Why ``unit_id`` (given as ``what``) cannot have its communes reported, or ``None``: a province it must be."""
    unit = pack.units.get(unit_id)
    if unit is None or unit.level is not Level.PROVINCE:
        return f"{what}: {unit_id!r} is not a province the unit registry knows"
    return None


def carrier(registry: UnitRegistry, unit_id: str, at: datetime) -> str:
    """The unit whose scorecard carries ``unit_id``'s figures in a report on the units in force at ``at``.

    The one unit it became by ``at`` (through every merger since), or itself: still in force, not yet formed,
    split among several units, or ended with no successor.
    """
    became = registry.successors(unit_id, at)
    return became[0] if len(became) == 1 else unit_id


def _folded(pack: RulePack, own: UnitScorecard, rolled: Sequence[UnitScorecard], until: datetime) -> UnitScorecard:
    """``own`` with ``rolled``'s deadlines counted as its own (each naming its unit) and ``rolled`` listed.

    Scorecards that keep only the deadlines a page shows (``UnitScorecard.counts``) fold into one that keeps
    those of each, and counts them all: the first ``shown`` of all are among them.
    """
    deadlines = list(own.deadlines)
    for card in rolled:
        deadlines += [replace(d, unit_id=d.unit_id or card.unit_id) for d in card.deadlines]
    deadlines.sort(key=order)
    every = (own, *rolled)
    partial = [c.shown or 0 for c in every if c.counts is not None]
    last = max((c.last_report for c in every if c.last_report is not None), default=None)
    return replace(
        own,
        deadlines=tuple(deadlines),
        warnings=Warnings(
            heeded=sum(c.warnings.heeded for c in every),
            ignored=sum(c.warnings.ignored for c in every),
            open=sum(c.warnings.open for c in every),
        ),
        last_report=last,
        days_silent=whole_days(last, until, pack.tz) if last is not None else None,
        reported=any(c.reported for c in every),
        rolled_up=tuple(sorted(rolled, key=lambda c: c.unit_id)),
        counts=summed(c.counted() for c in every) if partial else None,
        shown=min(partial) if partial else None,
    )


def roll_up(pack: RulePack, cards: Iterable[UnitScorecard], units_at: datetime, until: datetime) -> list[UnitScorecard]:
    """The scorecards on the units in force at ``units_at``: each predecessor's folded into its carrier's.

    Args:
        pack: The rules and their unit registry.
        cards: One scorecard per unit, as ``scorecard`` makes them.
        units_at: The instant whose units the report is on (the period's end, or the instant it is judged at).
        until: The instant the report is judged at (for the days without a report of a folded card).

    A carrier with no scorecard of its own (it is on no roster and never reported) gets an empty one.
    """
    registry = pack.units
    own: dict[str, UnitScorecard] = {}
    rolled: dict[str, list[UnitScorecard]] = {}
    for card in cards:
        into = carrier(registry, card.unit_id, units_at)
        if into == card.unit_id:
            own[card.unit_id] = card
        else:
            rolled.setdefault(into, []).append(card)
    for into, predecessors in rolled.items():
        base = own.get(into) or UnitScorecard(unit_id=into, name=registry.name(into, units_at))
        own[into] = _folded(pack, base, predecessors, until)
    return sorted(own.values(), key=lambda c: c.unit_id)
