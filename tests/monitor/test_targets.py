"""Peers are named by a short stable name, never by their URL (which may hold a token)."""

from __future__ import annotations

import pytest

from monitor.exceptions import MonitorError
from monitor.targets import parse_targets


def test_a_peer_is_named_by_its_host_or_the_name_configured() -> None:
    targets = parse_targets(
        "webhook",
        "MONITOR_WEBHOOK_URL",
        ["https://hooks.example.org/h?token=s3cret", "ops=https://bot:pw@chat.example.org/x"],
    )
    assert [t.sink for t in targets] == ["webhook/hooks.example.org", "webhook/ops"]
    assert targets[0].url == "https://hooks.example.org/h?token=s3cret"  # sent as configured
    assert "s3cret" not in repr(targets) and "pw" not in repr(targets)


def test_peers_sharing_a_host_get_its_port_then_a_number() -> None:
    urls = ["http://am:9093", "http://am:9094", "https://hooks.slack.com/a", "https://hooks.slack.com/b", "http://x"]
    names = [t.name for t in parse_targets("alertmanager", "MONITOR_ALERTMANAGER_URL", urls)]
    assert names == ["am:9093", "am:9094", "hooks.slack.com:443-1", "hooks.slack.com:443-2", "x"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ftp://am:21/?token=s3cret"], "MONITOR_WEBHOOK_URL entry 1 (ftp://am:21/?***): not an http(s) URL"),
        (["http://ok", "http://am:99999?token=s3cret"], "MONITOR_WEBHOOK_URL entry 2 (http://am:99999?***): not a URL"),
        (["a=http://x?token=s3cret", "a=http://y"], "MONITOR_WEBHOOK_URL: 2 entries are named 'a'"),
        (["x=http://y", "http://x"], "MONITOR_WEBHOOK_URL: 2 entries are named 'x'"),
    ],
)
def test_a_bad_entry_is_named_without_its_secret(values: list[str], expected: str) -> None:
    with pytest.raises(MonitorError) as raised:
        parse_targets("webhook", "MONITOR_WEBHOOK_URL", values)
    message = str(raised.value)
    assert message.startswith(expected) and "s3cret" not in message and "\n" not in message
