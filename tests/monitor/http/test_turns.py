"""Work done in turns: another task runs between two slices or parts, and the result is the whole work's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from monitor.http.turns import each_in_turns, joined_in_turns


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
