"""Work done in turns: another task runs between two slices or parts, and the result is the whole work's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from monitor.turns import RECORDS_FIRST, each_in_turns, joined_in_turns, records_first


async def _meanwhile(work: asyncio.Future[object], seen: list[str]) -> None:
    while not work.done():
        seen.append("other")
        await asyncio.sleep(0)


async def test_a_page_joined_in_turns_lets_other_tasks_run_between_its_parts() -> None:
    seen: list[str] = []

    def parts() -> Iterator[str]:
        for n in range(3):
            seen.append(f"part {n}")
            yield f"<p>{n}</p>"

    work = asyncio.ensure_future(joined_in_turns(parts()))
    other = asyncio.ensure_future(_meanwhile(work, seen))
    assert await work == "<p>0</p><p>1</p><p>2</p>"
    await other
    assert seen[:5] == ["part 0", "other", "part 1", "other", "part 2"]


async def test_each_in_turns_turns_after_every_slice_and_keeps_the_order() -> None:
    seen: list[str] = []

    def work(n: int) -> int:
        seen.append(f"item {n}")
        return n * n

    task = asyncio.ensure_future(each_in_turns(range(5), work, size=2))
    other = asyncio.ensure_future(_meanwhile(task, seen))
    assert await task == [0, 1, 4, 9, 16]
    await other
    assert seen[:6] == ["item 0", "item 1", "other", "item 2", "item 3", "other"]


class _Agent:
    """Records queued for an agent that handles one a turn of the loop; ``lumps`` of them come every ``every`` turns."""

    def __init__(self, lumps: int, every: int) -> None:
        self.lumps, self.every = lumps, every
        self.queued = 0
        self.turns = 0

    def waiting(self) -> bool:
        return self.queued > 0

    def clock(self) -> float:
        """A tenth of a millisecond a turn: time passes only as the loop turns."""
        return self.turns * 1e-4

    async def run(self, until: asyncio.Future[object]) -> None:
        while not until.done():
            if self.turns % self.every == 0:
                self.queued += self.lumps
            await asyncio.sleep(0)
            self.queued = max(0, self.queued - 1)
            self.turns += 1


async def test_slices_wait_while_records_are_queued_for_the_agent() -> None:
    agent = _Agent(lumps=20, every=50)
    queued_at_slices: list[int] = []

    def work(n: int) -> int:
        queued_at_slices.append(agent.queued)
        return n

    task = asyncio.ensure_future(
        each_in_turns(range(40), work, size=2, pause=lambda: records_first(agent.waiting, agent.clock))
    )
    other = asyncio.ensure_future(agent.run(task))
    assert await task == list(range(40))
    await other
    assert set(queued_at_slices) == {0}, "no slice while a record waits"
    assert agent.turns >= 2 * 20, "the lumps came and were handled meanwhile"


async def test_slices_go_on_under_a_stream_of_records_that_never_ends() -> None:
    agent = _Agent(lumps=2, every=1)  # two come for each one handled: the queue only grows
    task = asyncio.ensure_future(
        each_in_turns(range(6), str, size=1, pause=lambda: records_first(agent.waiting, agent.clock))
    )
    other = asyncio.ensure_future(agent.run(task))
    assert await task == [str(n) for n in range(6)]
    await other
    bound = round(RECORDS_FIRST / 1e-4)  # turns a pause lasts at most, on the agent's clock
    assert 6 * bound <= agent.turns <= 6 * (bound + 2), (
        f"each pause about {bound} turns long, not {agent.turns / 6:.0f}"
    )


async def test_a_pause_with_no_record_waiting_is_one_turn() -> None:
    agent = _Agent(lumps=0, every=1)
    task = asyncio.ensure_future(
        each_in_turns(range(10), str, size=1, pause=lambda: records_first(agent.waiting, agent.clock))
    )
    other = asyncio.ensure_future(agent.run(task))
    await task
    await other
    assert agent.turns <= 11
