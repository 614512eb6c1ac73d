"""Scorecard arithmetic at its boundaries, on states and alert records the engine itself produced (a simulation)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from events.models import Event, TaskStatus, TaskStatusEvent
from rules.language import RulePack
from rules.review import (
    Deadline,
    DeadlineOutcome,
    ScorecardBuilder,
    UnitScorecard,
    parse_period,
    rank,
    scorecard,
    warned_deadlines,
)
from rules.simulation import Simulation
from rules.state import UnitState
from tests.conftest import VN, vn
from tests.rules.fixtures import NV99_COMPLETED, NV99_STARTED, indicator, pack, task
from tests.rules.test_extensions import extension

RULES = """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        severity: critical
        select: {kind: task}
        due_from: deadline
        expect_status: [completed]
        warn_before: [7d]
      - id: dossier-within
        kind: deadline
        select: {kind: dossier}
        within: 3wd
        after_status: in_progress
        expect_status: [completed]
      - id: inspection-plan
        kind: deadline
        select: {kind: inspection_plan}
        roster: units.yaml
        expect_status: [completed]
        due: "2024-07-20T00:00:00+07:00"
      - id: online-low
        kind: threshold
        indicator: online_dossier_ratio
        below: 0.5
        resolve_above: 0.52
"""
UNITS = """roster: provinces
units:
  - {id: VN-22, name: Nghệ An}
  - {id: VN-40, name: Bình Thuận}
  - {id: VN-01, name: Lai Châu}
"""
Q3 = parse_period("2024-Q3").bounds(VN)
Bounds = tuple[datetime, datetime]


@pytest.fixture
def rules(tmp_path: Path) -> RulePack:
    (tmp_path / "units.yaml").write_text(UNITS, encoding="utf-8")
    return pack(tmp_path, RULES)


def _run(rules: RulePack, events: list[tuple[datetime, Event]], until: datetime) -> Simulation:
    simulation = Simulation.start(rules, vn(2024, 6, 1))
    for at, event in events:
        simulation.deliver(event, at)
    simulation.run_until(until)
    return simulation


AFTER_Q3 = vn(2024, 10, 15)


def _card(rules: RulePack, simulation: Simulation, unit: str, now: datetime = AFTER_Q3) -> UnitScorecard:
    mine = [t for _, t in simulation.transitions if t.labels.get("unit_id") == unit]
    return scorecard(rules, unit, simulation.states.get(unit), warned_deadlines(mine), Q3, now)


def _outcomes(card: UnitScorecard) -> dict[str, tuple[DeadlineOutcome, int | None]]:
    return {d.task_id or d.rule_id: (d.outcome, d.days_late) for d in card.deadlines}


def test_a_completion_at_the_due_instant_is_late_as_the_alert_says_and_one_a_moment_before_is_on_time(
    rules: RulePack,
) -> None:
    due = vn(2024, 8, 10, 17)
    events = [
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-22", task_id="AT", deadline=due)),
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-22", task_id="BEFORE", deadline=due)),
        (
            vn(2024, 8, 10, 16, 59),
            task(vn(2024, 8, 10, 16, 59), "completed", unit="VN-22", task_id="BEFORE", deadline=due),
        ),
        (due, task(due, TaskStatus.COMPLETED, unit="VN-22", task_id="AT", deadline=due)),
    ]
    simulation = _run(rules, events, vn(2024, 10, 1))
    card = _card(rules, simulation, "VN-22")
    assert _outcomes(card)["AT"] == (DeadlineOutcome.LATE, 0) and _outcomes(card)["BEFORE"] == (
        DeadlineOutcome.ON_TIME,
        None,
    )
    resolved = {
        t.labels["task_id"]: t.annotations["resolution"] for _, t in simulation.transitions if t.status == "resolved"
    }
    assert resolved == {"AT": "completed_late", "BEFORE": "completed"}  # the alerts say the same
    # Due-soon warnings: the one kept late was ignored, the one kept on time heeded.
    assert (card.warnings.heeded, card.warnings.ignored, card.warnings.open) == (1, 1, 0)
    # The unit's 20/7 inspection plan is overdue too: one of three deadlines on time.
    assert card.score == pytest.approx(1 / 3) and card.lateness == (0, 0)


def test_late_by_one_working_day_counts_working_days(rules: RulePack) -> None:
    # In progress on Wednesday 4/9 2024 (a holiday in Vietnam is 2/9, and 3/9 that year): 3 working days → Monday 9/9.
    start = vn(2024, 9, 4, 9)
    events = [
        (start, task(start, unit="VN-40", task_id="HS-1", kind="dossier")),
        # Due at the end of Monday 9/9; completed during Tuesday 10/9: one working day late (the weekend between
        # the start and the due does not count, nor does anything before the due).
        (vn(2024, 9, 11, 10), task(vn(2024, 9, 11, 10), "completed", unit="VN-40", task_id="HS-1", kind="dossier")),
    ]
    simulation = _run(rules, events, vn(2024, 10, 1))
    card = _card(rules, simulation, "VN-40")
    (deadline,) = [d for d in card.deadlines if d.rule_id == "dossier-within"]
    (record,) = [t for _, t in simulation.transitions if t.status == "resolved" and t.rule_id == "dossier-within"]
    assert deadline.outcome is DeadlineOutcome.LATE and deadline.days_late == int(record.annotations["late_days"])
    assert deadline.days_late == 1


def test_a_cancelled_task_counts_in_no_score_and_an_open_one_is_overdue_at_the_end_with_its_age(
    rules: RulePack,
) -> None:
    events = [
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-40", task_id="GONE", deadline=vn(2024, 8, 1))),
        (vn(2024, 7, 20), task(vn(2024, 7, 20), "cancelled", unit="VN-40", task_id="GONE", deadline=vn(2024, 8, 1))),
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-40", task_id="OPEN", deadline=vn(2024, 9, 20))),
        # Completed after the quarter: at the quarter's end it was still overdue.
        (vn(2024, 10, 5), task(vn(2024, 10, 5), "completed", unit="VN-40", task_id="OPEN", deadline=vn(2024, 9, 20))),
    ]
    simulation = _run(rules, events, vn(2024, 10, 10))
    card = _card(rules, simulation, "VN-40")
    outcomes = _outcomes(card)
    assert outcomes["GONE"] == (DeadlineOutcome.CANCELLED, None)
    # Due at midnight starting 20/9, the quarter ends at midnight starting 1/10: 11 whole days.
    assert outcomes["OPEN"] == (DeadlineOutcome.OVERDUE, 11)
    assert card.judged == 2 and card.count(DeadlineOutcome.CANCELLED) == 1  # OPEN and the unit's inspection plan
    # Judged in the middle of the quarter, a deadline later in it is not yet due.
    early = _card(rules, simulation, "VN-40", now=vn(2024, 9, 1))
    assert _outcomes(early)["OPEN"] == (DeadlineOutcome.NOT_YET_DUE, None)


def test_each_overdue_deadline_is_as_old_as_its_own_due_instant_though_a_unit_has_many_due_together(
    rules: RulePack,
) -> None:
    dues = {"A": vn(2024, 9, 20), "B": vn(2024, 9, 25, 17), "C": vn(2024, 9, 25, 8), "D": vn(2024, 9, 25, 8)}
    events = [(vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-40", task_id=t, deadline=due)) for t, due in dues.items()]
    simulation = _run(rules, events, vn(2024, 9, 30, 12))
    outcomes = _outcomes(_card(rules, simulation, "VN-40", now=vn(2024, 9, 30, 12)))
    # At noon on 30/9: 10 days since 20/9 00:00; 4 days and 19 hours since 25/9 17:00, 5 days and 4 since 8:00.
    assert {t: outcomes[t] for t in dues} == {
        "A": (DeadlineOutcome.OVERDUE, 10),
        "B": (DeadlineOutcome.OVERDUE, 4),
        "C": (DeadlineOutcome.OVERDUE, 5),
        "D": (DeadlineOutcome.OVERDUE, 5),
    }


def test_a_rostered_unit_that_never_reported_misses_its_roster_deadline_and_an_unlisted_unit_has_none(
    rules: RulePack,
) -> None:
    events = [
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-93", task_id="T-9", deadline=vn(2024, 7, 25))),
        (vn(2024, 7, 2), task(vn(2024, 7, 2), "completed", unit="VN-93", task_id="T-9", deadline=vn(2024, 7, 25))),
    ]
    simulation = _run(rules, events, vn(2024, 10, 1))
    silent = _card(rules, simulation, "VN-01")
    assert silent.reported is False and silent.last_report is None and silent.days_silent is None
    assert [(d.rule_id, d.outcome, d.days_late) for d in silent.deadlines] == [
        ("inspection-plan", DeadlineOutcome.OVERDUE, 73)  # 20/7 to 1/10: 31 + 31 + 11 days
    ]
    assert silent.score == 0.0
    # A unit on no roster (merged away, or never listed) is judged on its own tasks only.
    merged = _card(rules, simulation, "VN-93")
    assert [(d.task_id, d.outcome) for d in merged.deadlines] == [("T-9", DeadlineOutcome.ON_TIME)]
    assert merged.score == 1.0 and merged.reported and merged.last_report == vn(2024, 7, 2)
    assert merged.days_silent == 91  # from its last report, 2/7 00:00, to the quarter's end, 1/10 00:00


def test_indicators_at_the_start_and_the_end_of_the_period_against_their_target(rules: RulePack) -> None:
    events = [
        (vn(2024, 6, 5), indicator(vn(2024, 6, 5), 0.40, unit="VN-22")),
        (vn(2024, 8, 5), indicator(vn(2024, 8, 5), 0.48, unit="VN-22")),
        (vn(2024, 9, 5), indicator(vn(2024, 9, 5), 0.55, unit="VN-22")),
        (vn(2024, 10, 5), indicator(vn(2024, 10, 5), 0.30, unit="VN-22")),  # after the quarter: not its end
    ]
    simulation = _run(rules, events, vn(2024, 10, 10))
    (standing,) = _card(rules, simulation, "VN-22").indicators
    assert (standing.indicator, standing.target, standing.direction) == ("online_dossier_ratio", 0.5, "below")
    assert (standing.start, standing.end, standing.end_at, standing.meets_target) == (0.40, 0.55, vn(2024, 9, 5), True)
    assert standing.change == pytest.approx(0.15)


def test_the_ranking_is_by_score_then_fewer_overdue_then_fewer_late(rules: RulePack) -> None:
    def card(unit: str, outcomes: list[DeadlineOutcome]) -> UnitScorecard:
        deadlines = tuple(Deadline("r", f"T{i}", "t", vn(2024, 8, 1), o) for i, o in enumerate(outcomes))
        return UnitScorecard(unit, unit, deadlines)

    cards = [
        card("VN-01", [DeadlineOutcome.ON_TIME, DeadlineOutcome.OVERDUE]),
        card("VN-02", [DeadlineOutcome.ON_TIME, DeadlineOutcome.LATE]),
        card("VN-03", [DeadlineOutcome.ON_TIME]),
        card("VN-04", [DeadlineOutcome.CANCELLED]),  # nothing to judge: not ranked
        card("VN-05", [DeadlineOutcome.ON_TIME, DeadlineOutcome.LATE]),
    ]
    assert [c.unit_id for c in rank(cards)] == ["VN-03", "VN-02", "VN-05", "VN-01"]


class _Walked(tuple[Deadline, ...]):
    """A scorecard's deadlines, counting the passes made over them."""

    passes = 0

    def __iter__(self) -> Iterator[Deadline]:
        type(self).passes += 1
        return super().__iter__()


def test_a_scorecard_counts_its_deadlines_once_however_often_a_report_asks_for_its_figures() -> None:
    outcomes = [DeadlineOutcome.ON_TIME, DeadlineOutcome.LATE, DeadlineOutcome.OVERDUE, DeadlineOutcome.CANCELLED]
    deadlines = _Walked(Deadline("r", f"T{i}", "t", vn(2024, 8, 1), outcomes[i % 4]) for i in range(400))
    card = UnitScorecard("VN-22", "Nghệ An", deadlines)
    _Walked.passes = 0
    for _ in range(3):  # as a report does: its ranking, its chart, its tables
        figures = (card.score, card.kept, card.judged, [card.count(o) for o in DeadlineOutcome])
    assert figures[:3] == (100 / 300, 100, 300) and figures[3][list(DeadlineOutcome).index(DeadlineOutcome.LATE)] == 100
    assert _Walked.passes == 1, f"{_Walked.passes} passes over the unit's deadlines for its figures"
    assert card == UnitScorecard("VN-22", "Nghệ An", tuple(deadlines)), "the count is no part of the scorecard"


def test_a_completion_that_omits_the_deadline_title_and_kind_is_late_against_the_deadline_in_force(
    rules: RulePack,
) -> None:
    # The README's NV-99: due at the end of 19/7, completed on 24/7 by an event that repeats none of it.
    started = TaskStatusEvent.model_validate(NV99_STARTED)
    done = TaskStatusEvent.model_validate(NV99_COMPLETED)
    simulation = _run(rules, [(started.occurred_at, started), (done.occurred_at, done)], vn(2024, 10, 1))
    assert _outcomes(_card(rules, simulation, "VN-22"))["NV-99"] == (DeadlineOutcome.LATE, 4)
    [resolved] = [t for _, t in simulation.transitions if t.status == "resolved" and t.labels.get("task_id") == "NV-99"]
    assert resolved.annotations["resolution"] == "completed_late" and resolved.annotations["late_days"] == "4"
    assert "Rà soát, cắt giảm thủ tục hành chính" in resolved.annotations["summary"]  # the title stayed


def test_a_deadline_on_the_last_day_of_a_period_is_one_of_that_period_not_of_the_next(rules: RulePack) -> None:
    # Due on 30/09 (a date): at midnight that night, the end of Q3; one due on 01/10 is Q4's.
    events = [
        (vn(2024, 9, 1), task(vn(2024, 9, 1), unit="VN-22", task_id="LAST", deadline=date(2024, 9, 30))),
        (vn(2024, 9, 1), task(vn(2024, 9, 1), unit="VN-22", task_id="NEXT", deadline=date(2024, 10, 1))),
        (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-22", task_id="FIRST", deadline=date(2024, 6, 30))),
    ]
    simulation = _run(rules, events, vn(2024, 10, 3))
    assert set(_outcomes(_card(rules, simulation, "VN-22"))) == {"LAST", "inspection-plan"}  # 20/07, a roster's
    q4 = scorecard(rules, "VN-22", simulation.states["VN-22"], set(), parse_period("2024-Q4").bounds(VN), AFTER_Q3)
    assert {d.task_id for d in q4.deadlines} == {"NEXT"}


def _every_task_read(
    rules: RulePack,
    unit: str,
    state: UnitState | None,
    warned: set[tuple[str, str | None]],
    bounds: Bounds,
    now: datetime,
) -> UnitScorecard:
    """The scorecard of a builder given every one of the unit's tasks (not only those ``tasks`` picks)."""
    builder = ScorecardBuilder(rules, unit, state, bounds, now, warned)
    for known in state.tasks.values() if state is not None else ():
        builder.add(known)
    return builder.card()


def _mixed_events(seed: int) -> list[tuple[datetime, Event]]:
    """A few months of tasks, dossiers and inspection plans in three units: deadlines as dates and instants on
    and beside the quarters' edges, completions on time and late, cancellations, extensions in and out of Q3."""
    chance = random.Random(seed)
    edges = [date(2024, 6, 30), date(2024, 7, 1), date(2024, 9, 30), date(2024, 10, 1), date(2024, 12, 31)]
    events: list[tuple[datetime, Event]] = []
    for n in range(120):
        unit = chance.choice(["VN-22", "VN-40", "VN-01"])
        kind = chance.choice(["task", "task", "dossier", "inspection_plan"])
        day = (
            chance.choice(edges) if chance.random() < 0.4 else date(2024, 6, 1) + timedelta(days=chance.randrange(200))
        )
        deadline: date | datetime | None = day
        if chance.random() < 0.3:
            deadline = vn(day.year, day.month, day.day) + timedelta(hours=chance.choice([-7, 0, 17]))
        if chance.random() < 0.1:
            deadline = None
        opened = vn(2024, 6, 2) + timedelta(hours=chance.randrange(24 * 150))
        task_id = f"{kind[:2].upper()}-{n}"
        events.append((opened, task(opened, unit=unit, task_id=task_id, kind=kind, deadline=deadline)))
        if chance.random() < 0.3:
            due = chance.choice(edges) + timedelta(days=chance.choice([0, 3, 40]))
            granted = opened + timedelta(days=1)
            events.append((granted, extension(granted, due, task_id=task_id, unit=unit, event_id=f"x-{task_id}")))
        if chance.random() < 0.7:
            done = opened + timedelta(hours=chance.randrange(24 * 60))
            status = TaskStatus.CANCELLED if chance.random() < 0.1 else TaskStatus.COMPLETED
            events.append((done, task(done, status, unit=unit, task_id=task_id, kind=kind)))
    return sorted(events, key=lambda pair: pair[0])


def _assert_a_page_s_scorecard_says_the_same(card: UnitScorecard, page: UnitScorecard) -> None:
    """A scorecard that keeps only the deadlines a page shows has every figure of the one that keeps them all."""
    assert page.counts is not None and page.shown == 2 and card.counts is None
    assert {o: page.count(o) for o in DeadlineOutcome} == {o: card.count(o) for o in DeadlineOutcome}
    assert (page.due, page.judged, page.score) == (card.due, card.judged, card.score)
    assert (page.lateness, page.oldest_overdue, page.warnings) == (card.lateness, card.oldest_overdue, card.warnings)
    for outcome in (DeadlineOutcome.OVERDUE, DeadlineOutcome.LATE):
        assert page.first(outcome, 2) == card.first(outcome, 2)
    assert page.extended == card.extended
    assert len(page.deadlines) <= 4 + len(card.extended)


@pytest.mark.parametrize("seed", range(4))
def test_a_scorecard_read_through_the_index_by_due_instant_is_the_one_of_every_task_read(
    rules: RulePack, seed: int
) -> None:
    """``ScorecardBuilder.tasks`` gives only the tasks that may count; the scorecard is the same as every task's.

    Every period around the events, judged during it (some tasks reported after the judging instant: every task
    is read then) and after it (the tasks due in it, and the kinds a ``within`` or roster rule needs whole).
    """
    events = _mixed_events(seed)
    simulation = _run(rules, events, vn(2024, 12, 31))
    compared: set[tuple[str, DeadlineOutcome]] = set()
    for text in ("2024-Q2", "2024-Q3", "2024-Q4", "2024-08", "2024-10"):
        bounds = parse_period(text).bounds(VN)
        for now in (bounds[1] - timedelta(days=20), bounds[1] + timedelta(days=3), vn(2025, 1, 1)):
            for unit in ("VN-22", "VN-40", "VN-01"):
                mine = [t for _, t in simulation.transitions if t.labels.get("unit_id") == unit]
                state, warned = simulation.states.get(unit), warned_deadlines(mine)
                card = scorecard(rules, unit, state, warned, bounds, now)
                assert card == _every_task_read(rules, unit, state, warned, bounds, now), (text, now, unit)
                compared |= {(d.rule_id, d.outcome) for d in card.deadlines}
                _assert_a_page_s_scorecard_says_the_same(card, scorecard(rules, unit, state, warned, bounds, now, 2))
    outcomes = {outcome for _, outcome in compared}
    assert {"task-overdue", "dossier-within", "inspection-plan"} <= {rule for rule, _ in compared}
    assert outcomes >= {
        DeadlineOutcome.ON_TIME,
        DeadlineOutcome.LATE,
        DeadlineOutcome.OVERDUE,
        DeadlineOutcome.EXTENDED,
    }


def test_a_scorecard_after_its_period_reads_only_the_tasks_due_in_it_and_the_kinds_its_rules_need_whole(
    rules: RulePack,
) -> None:
    """A unit's tasks due in other quarters are not read for a quarter's scorecard (the dossiers' ``within``
    rule and the roster deadline of 20/7 need their kinds whole: those are read too)."""
    events: list[tuple[datetime, Event]] = []
    for n in range(200):  # due in the fourth quarter
        events.append(
            (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-22", task_id=f"Q4-{n}", deadline=date(2024, 11, 5)))
        )
    for n in range(5):  # due in the third
        events.append(
            (vn(2024, 7, 1), task(vn(2024, 7, 1), unit="VN-22", task_id=f"Q3-{n}", deadline=date(2024, 8, 5)))
        )
    events.append((vn(2024, 7, 2), task(vn(2024, 7, 2), unit="VN-22", task_id="KH-1", kind="inspection_plan")))
    events.append((vn(2024, 7, 2), task(vn(2024, 7, 2), unit="VN-22", task_id="HS-1", kind="dossier")))
    simulation = _run(rules, events, vn(2024, 7, 3))
    builder = ScorecardBuilder(rules, "VN-22", simulation.states["VN-22"], Q3, AFTER_Q3)
    read = sorted(t.task_id for t in builder.tasks())
    assert read == ["HS-1", "KH-1", *(f"Q3-{n}" for n in range(5))]
    q4 = ScorecardBuilder(
        rules, "VN-22", simulation.states["VN-22"], parse_period("2024-Q4").bounds(VN), vn(2025, 1, 2)
    )
    assert len([t for t in q4.tasks() if t.task_id.startswith("Q4-")]) == 200


def test_what_was_warned_about_is_given_before_any_task_or_refused(rules: RulePack) -> None:
    """A task given before ``warn`` would have had its deadlines counted as not warned about."""
    opened = task(vn(2024, 7, 1), unit="VN-22", task_id="NV-1", deadline=date(2024, 8, 1))
    state = _run(rules, [(vn(2024, 7, 1), opened)], vn(2024, 7, 2)).states["VN-22"]
    builder = ScorecardBuilder(rules, "VN-22", state, Q3, AFTER_Q3)
    builder.warn({("task-overdue", "NV-1")})
    given = list(builder.tasks())
    assert [t.task_id for t in given] == ["NV-1"]
    builder.add(given[0])
    assert builder.card().warnings.ignored == 1, "its deadline missed after a warning"
    with pytest.raises(RuntimeError, match="what was warned about comes first"):
        builder.warn(set())
