"""A tally of a period's deadlines counts them as a count of them all does, and keeps the first of them a page shows."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules.review.deadlines import Deadline, DeadlineCounts, DeadlineOutcome, DeadlineTally, Warnings, order, summed
from rules.state.items import Extension

_START = datetime(2026, 10, 1, tzinfo=UTC)
_EXTENSION = Extension(due=date(2026, 12, 1), reference="QĐ 1", granted_by="tct", granted_at=_START, event_id="x-1")
_LISTED = (DeadlineOutcome.OVERDUE, DeadlineOutcome.LATE)


@st.composite
def _deadline(draw: st.DrawFn) -> Deadline:
    outcome = draw(st.sampled_from(list(DeadlineOutcome)))
    days = draw(st.none() | st.integers(0, 40)) if outcome in _LISTED else None
    return Deadline(
        rule_id=draw(st.sampled_from(["task-overdue", "dossier-due"])),
        task_id=draw(st.none() | st.sampled_from([f"T{n}" for n in range(12)])),
        title=draw(st.sampled_from(["a", "b"])),  # equal in order, told apart by what they are
        due=_START + timedelta(days=draw(st.integers(0, 8))),  # many share a due instant: the order's other keys count
        outcome=outcome,
        days_late=days,
        unit_id=draw(st.none() | st.sampled_from(["VN-03", "VN-08"])),
        extension=_EXTENSION if draw(st.booleans()) else None,
    )


_WARNED = st.sets(
    st.tuples(st.sampled_from(["task-overdue", "dossier-due"]), st.none() | st.sampled_from(["T1", "T2"]))
)


def _tally(deadlines: list[Deadline], warned: set[tuple[str, str | None]], shown: int | None) -> DeadlineTally:
    tally = DeadlineTally(shown)
    for deadline in deadlines:
        tally.add(deadline, (deadline.rule_id, deadline.task_id) in warned)
    return tally


def _first(deadlines: list[Deadline], outcome: DeadlineOutcome, n: int) -> list[Deadline]:
    return [d for d in sorted(deadlines, key=order) if d.outcome is outcome][:n]


@given(st.lists(_deadline(), max_size=60), _WARNED, st.integers(0, 6))
def test_a_tally_counts_as_a_count_of_every_deadline_and_keeps_the_first_of_each_table(
    deadlines: list[Deadline], warned: set[tuple[str, str | None]], shown: int
) -> None:
    tally = _tally(deadlines, warned, shown)
    counts = tally.counts()
    assert counts == DeadlineCounts.of(deadlines)
    assert counts.total == len(deadlines)
    late = [d.days_late for d in deadlines if d.outcome is DeadlineOutcome.LATE and d.days_late is not None]
    median, worst = counts.lateness
    assert (median, worst) == ((statistics.median(late), max(late)) if late else (None, None))
    assert type(median) is type(statistics.median(late) if late else None)  # of ints an int, of two a float
    overdue = [d.days_late or 0 for d in deadlines if d.outcome is DeadlineOutcome.OVERDUE]
    assert counts.oldest_overdue == max(overdue, default=None)
    outcomes = [d.outcome for d in deadlines if (d.rule_id, d.task_id) in warned]
    assert tally.warnings == Warnings(
        heeded=outcomes.count(DeadlineOutcome.ON_TIME) + outcomes.count(DeadlineOutcome.EXTENDED),
        ignored=outcomes.count(DeadlineOutcome.LATE) + outcomes.count(DeadlineOutcome.OVERDUE),
        open=outcomes.count(DeadlineOutcome.NOT_YET_DUE),
    )
    kept = list(tally.kept())
    assert kept == sorted(kept, key=order)
    for outcome in _LISTED:
        assert [d for d in kept if d.outcome is outcome][:shown] == _first(deadlines, outcome, shown)
    assert [d for d in kept if d.extension is not None] == [d for d in sorted(deadlines, key=order) if d.extension]
    assert len(kept) <= 2 * shown + sum(d.extension is not None for d in deadlines)
    assert list(_tally(deadlines, warned, None).kept()) == sorted(deadlines, key=order)


@given(st.lists(st.lists(_deadline(), max_size=20), min_size=1, max_size=4), _WARNED, st.integers(0, 6))
def test_tallies_of_parts_summed_and_their_deadlines_kept_together_are_those_of_the_whole(
    parts: list[list[Deadline]], warned: set[tuple[str, str | None]], shown: int
) -> None:
    """As a unit and those merged into it, or two workers' units, fold into one scorecard (``rules.review.lineage``)."""
    whole = [d for part in parts for d in part]
    tallies = [_tally(part, warned, shown) for part in parts]
    assert summed(t.counts() for t in tallies) == DeadlineCounts.of(whole)
    together = sorted((d for t in tallies for d in t.kept()), key=order)
    for outcome in _LISTED:
        assert [d for d in together if d.outcome is outcome][:shown] == _first(whole, outcome, shown)
