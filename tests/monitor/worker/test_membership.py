"""The zombie fence, on a stepping clock: no broker, no waiting."""

from __future__ import annotations

from monitor.worker.health import Health
from monitor.worker.membership import Membership


class _World:
    """A clock that sleeping moves, and a consumer whose generation and rebalancing the test sets."""

    def __init__(self) -> None:
        self.now = 100.0
        self.generation: int | None = 7
        self.slept = 0.0
        self.on_sleep: list[tuple[float, object]] = []  # (after this much sleeping, do this)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        for at, action in list(self.on_sleep):
            if self.slept >= at:
                action()  # type: ignore[operator]
                self.on_sleep.remove((at, action))


def _membership(world: _World, health: Health) -> Membership:
    return Membership(
        10.0,
        2.0,
        lambda: world.generation,
        health,
        monotonic=world.monotonic,
        sleep=world.sleep,
    )


async def test_a_running_worker_may_act_at_once() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 4.9  # under half the session timeout
    assert await membership.may_act() and world.slept == 0 and health.problems() == {}


async def test_after_a_stall_the_worker_carries_on_once_heartbeats_confirm_it_is_a_member() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 30  # stood still: the consumer thread kept heartbeating, nothing changed
    assert await membership.may_act()
    assert 5.9 <= world.slept <= 6.1  # three heartbeat intervals of doubt
    assert health.problems() == {} and not membership.fenced
    assert await membership.may_act() and 5.9 <= world.slept <= 6.1  # no second doubt


async def test_a_frozen_worker_whose_generation_was_reset_is_fenced_until_assigned_again() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 60  # SIGSTOP for a minute: the group went on without it
    world.on_sleep.append((0.3, lambda: setattr(world, "generation", -1)))  # the first heartbeat: unknown member
    assert not await membership.may_act()
    assert world.slept < 1 and membership.fenced and "membership" in health.problems()
    world.generation = 9
    assert not await membership.may_act()  # still fenced: rejoining is not enough, state must be rebuilt
    membership.assigned()
    assert await membership.may_act() and health.problems() == {}


async def test_a_changed_generation_after_a_stall_fences() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 20
    world.on_sleep.append((2.0, lambda: setattr(world, "generation", 8)))
    assert not await membership.may_act() and membership.fenced


async def test_a_stall_noticed_by_the_stamp_task_is_still_checked_later() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 30
    membership._notice()  # the background task saw the gap, then stamped again
    membership.stamp()
    world.on_sleep.append((0.1, lambda: setattr(world, "generation", -1)))
    assert not await membership.may_act() and membership.fenced


async def test_long_work_of_its_own_is_excused() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 30  # reading a million items: the consumer thread kept heartbeating
    membership.excuse()
    assert await membership.may_act() and world.slept == 0


async def test_a_worker_in_doubt_answers_for_nothing_until_the_doubt_is_settled() -> None:
    world, health = _World(), Health()
    membership = _membership(world, health)
    assert not membership.in_doubt()
    world.now += 40  # resumed after a freeze, before any record or check
    assert membership.in_doubt()
    assert await membership.may_act()  # the consumer's heartbeats confirm it: only a stall
    assert not membership.in_doubt()
    world.now += 40
    world.generation = -1
    assert not await membership.may_act()
    assert membership.in_doubt() and membership.fenced


async def test_partitions_assigned_while_the_doubt_is_checked_end_it_without_a_fence() -> None:
    """The group rebalanced while the worker checked: it is a member of the new generation, with state to rebuild."""
    world, health = _World(), Health()
    membership = _membership(world, health)
    world.now += 20
    world.on_sleep.append((0.5, membership.assigned))  # the consumer rejoined and partitions were assigned
    world.on_sleep.append((1.0, lambda: setattr(world, "generation", 8)))  # seen after the assignment
    assert await membership.may_act() and not membership.fenced
    assert health.problems() == {}
