from __future__ import annotations

from datetime import datetime, timedelta

from monitor.clock import NeverBackwards
from tests.conftest import utc


def test_the_clock_holds_still_while_the_wall_clock_steps_back() -> None:
    wall = [utc(2024, 7, 20, 12)]
    clock = NeverBackwards(lambda: wall[0])
    assert clock() == utc(2024, 7, 20, 12)
    wall[0] += timedelta(days=1)  # a jump forward is time passing
    assert clock() == utc(2024, 7, 21, 12)
    wall[0] -= timedelta(hours=1)  # a step back is held
    held: list[datetime] = [clock() for _ in range(3)]
    assert held == [utc(2024, 7, 21, 12)] * 3
    wall[0] += timedelta(hours=1, seconds=1)  # and released once the wall clock passes it
    assert clock() == utc(2024, 7, 21, 12, 0, 1)
