"""What a commit may cover: the consecutive offsets that follow the last commit, never a hole."""

from __future__ import annotations

from monitor.kafka.positions import commit_run, uncommitted


def test_the_run_starts_at_the_floor_and_stops_at_the_first_hole() -> None:
    assert commit_run([10, 11, 12, 14, 15], 10) == [10, 11, 12]


def test_a_hole_at_the_floor_holds_the_commit_however_much_follows() -> None:
    assert commit_run([11, 12, 13], 10) == []  # faust would commit 14: it lets one missing offset through
    assert commit_run([602, 603], 499) == []  # nor a skipped-over range, faust's "gap"


def test_offsets_below_the_floor_were_committed_already() -> None:
    assert commit_run([8, 9, 10, 11], 10) == [10, 11]
    assert commit_run([8, 9], 10) == []


def test_without_a_floor_the_run_starts_at_the_lowest() -> None:
    assert commit_run([3, 4, 6], None) == [3, 4]
    assert commit_run([], None) == []


def test_partitions_without_a_committed_offset_are_the_ones_to_rewind() -> None:
    assert uncommitted({"a": None, "b": 0, "c": 7}) == ["a", "b"]
