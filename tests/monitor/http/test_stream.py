"""The console's event stream: what queued up goes in one write, each transition's text made once for all consoles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from events.models import TaskStatus
from monitor.actions.book import ActionBook
from monitor.delivery.feed import AlertFeed
from monitor.http.stream import BATCH, RELOAD, StreamTexts, next_text
from monitor.viewers import Scope
from rules.engine import apply_event
from rules.language import RulePack
from rules.state import AlertTransition
from tests.conftest import vn
from tests.rules.fixtures import DEADLINE_RULES, pack, task

EVERYONE = Scope("", "", None)
NGHE_AN = Scope("nghean", "Nghệ An", frozenset({"VN-22"}))


@dataclass
class _Operators:
    book: ActionBook = field(default_factory=ActionBook)


@dataclass
class _Worker:
    """The parts of a worker the stream reads; ``now`` counts how often a text was made."""

    pack: RulePack
    operators: _Operators = field(default_factory=_Operators)
    asked_now: int = 0

    def now(self) -> datetime:
        self.asked_now += 1
        return vn(2024, 8, 25)


def _transitions(tmp_path: Path, count: int) -> tuple[RulePack, list[AlertTransition]]:
    rules = pack(tmp_path, DEADLINE_RULES)
    out: list[AlertTransition] = []
    for unit in ("VN-22", "VN-40"):
        state = None
        for n in range(count):
            event = task(
                vn(2024, 7, 20), TaskStatus.IN_PROGRESS, unit=unit, task_id=f"T-{n}", deadline=date(2024, 7, 1)
            )
            applied = apply_event(rules, state, event, vn(2024, 7, 20))
            state = applied.state
            out += applied.transitions
    return rules, out


def _events(text: bytes) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in text.decode().splitlines() if line.startswith("data: ")]


async def test_what_queued_up_goes_in_one_write_of_at_most_batch_items(tmp_path: Path) -> None:
    rules, transitions = _transitions(tmp_path, 130)
    worker, feed = _Worker(rules), AlertFeed(backlog=10_000)
    queue = feed.subscribe()
    for transition in transitions:
        feed.on_transition(transition)
    sizes = []
    while not queue.empty():
        text, ended = await next_text(queue, EVERYONE, worker, StreamTexts())  # type: ignore[arg-type]
        assert not ended
        sizes.append(len(_events(text)))
    assert sum(sizes) == len(transitions) >= 260 and max(sizes) == BATCH


async def test_a_transition_is_written_once_for_every_console_and_each_viewer_sees_its_units(tmp_path: Path) -> None:
    rules, transitions = _transitions(tmp_path, 3)
    worker, feed, texts = _Worker(rules), AlertFeed(), StreamTexts()
    everyone, nghe_an = feed.subscribe(), feed.subscribe()
    for transition in transitions:
        feed.on_transition(transition)
    all_units, _ = await next_text(everyone, EVERYONE, worker, texts)  # type: ignore[arg-type]
    made = worker.asked_now
    own, _ = await next_text(nghe_an, NGHE_AN, worker, texts)  # type: ignore[arg-type]
    assert worker.asked_now == made == len(transitions)  # the second console's texts were the first's
    assert {e["unit_id"] for e in _events(all_units)} == {"VN-22", "VN-40"}
    assert {e["unit_id"] for e in _events(own)} == {"VN-22"}
    assert _events(own) == [e for e in _events(all_units) if e["unit_id"] == "VN-22"]


async def test_a_console_dropped_by_the_feed_gets_what_it_had_then_reload_and_its_stream_ends(tmp_path: Path) -> None:
    rules, transitions = _transitions(tmp_path, 2)
    worker, feed = _Worker(rules), AlertFeed(backlog=2)
    queue = feed.subscribe()
    for transition in transitions[:3]:
        feed.on_transition(transition)
    text, ended = await next_text(queue, EVERYONE, worker, StreamTexts())  # type: ignore[arg-type]
    assert ended and text.endswith(RELOAD) and len(_events(text)) == 3  # two transitions, then the reload's {}
    assert feed.subscribers == 0
