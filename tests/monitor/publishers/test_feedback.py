"""What a publisher is told: refusals read back from dead-letter headers, counts over the last day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.publishers import RefusalLog, Tally, refusals_of, refused_header

NOW = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def _headers(refused: dict[tuple[str, str], int], topic: str = "compliance.task-status") -> list[tuple[str, bytes]]:
    return [
        ("dlq_reason", b"item 0: publisher 'nghean-dvc' may not report unit 'VN-40'"),
        ("dlq_topic", topic.encode()),
        ("dlq_partition", b"3" if topic != "http" else b"-1"),
        ("dlq_offset", b"41" if topic != "http" else b"-1"),
        refused_header(refused),
    ]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_a_dead_letter_is_told_to_each_publisher_it_names() -> None:
    refused = {("nghean-dvc", "not_its_unit"): 2, ("_unregistered", "unregistered"): 1}
    told = refusals_of(_headers(refused), _ms(NOW))
    assert sorted((who, r.cause, r.count) for who, r in told) == [
        ("_unregistered", "unregistered", 1),
        ("nghean-dvc", "not_its_unit", 2),
    ]
    (_, first), _ = told
    assert (first.topic, first.partition, first.offset, first.at) == ("compliance.task-status", 3, 41, NOW)
    assert "may not report unit 'VN-40'" in first.reason
    ((_, request),) = refusals_of(_headers({("nghean-dvc", "not_its_source"): 1}, "http"), _ms(NOW))
    assert (request.topic, request.partition, request.offset) == ("http", None, None)
    # A dead letter nobody attributed (a record that was not JSON) is told to no one; a broken header neither.
    assert refusals_of([("dlq_reason", b"not JSON")], _ms(NOW)) == []
    assert refusals_of([("dlq_refused", b"[[1,")], _ms(NOW)) == []


def test_the_last_day_counts_by_cause_and_keeps_the_newest_refusals_first() -> None:
    log = RefusalLog(recent=3)
    for hours_ago, cause in ((30, "unrostered"), (5, "not_its_unit"), (2, "not_its_unit"), (1, "unrostered"), (0, "x")):
        at = NOW - timedelta(hours=hours_ago)
        log.extend(refusals_of(_headers({("nghean-dvc", cause): 1}), _ms(at)))
    assert log.last_day("nghean-dvc", NOW) == {"not_its_unit": 2, "unrostered": 1, "x": 1}  # not the one 30 h ago
    assert [r.cause for r in log.recent("nghean-dvc")] == ["x", "unrostered", "not_its_unit"]  # the last 3
    assert log.last_day("binhthuan-dvc", NOW) == {} and log.recent("binhthuan-dvc") == []


def test_a_tally_counts_the_last_day_only() -> None:
    tally = Tally(NOW - timedelta(days=3))
    tally.add("nghean-dvc", NOW - timedelta(hours=40), 7)
    tally.add("nghean-dvc", NOW - timedelta(hours=3), 2)
    tally.add("nghean-dvc", NOW, 1)
    assert tally.last_day("nghean-dvc", NOW) == 3 and tally.last_day("other", NOW) == 0
