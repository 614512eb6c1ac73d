"""Settings derived from others: where alert links point."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])
def test_links_to_an_address_that_binds_every_interface_are_flagged(host: str) -> None:
    settings = Settings(web_host=host, web_port=6066)
    assert settings.unreachable_links is not None and "MONITOR_PUBLIC_URL" in settings.unreachable_links
    public = Settings(web_host=host, public_url="https://compliance.example.org/")
    assert public.unreachable_links is None and public.base_url == "https://compliance.example.org"


def test_links_to_a_named_host_are_fine() -> None:
    assert Settings(web_host="127.0.0.1").unreachable_links is None


def test_alert_targets_are_checked_and_named_when_the_settings_are_built() -> None:
    settings = Settings(
        alertmanager_url="am-1=http://am:9093;http://am2:9093/",
        webhook_url=["https://hooks.example.org/h?token=s3cret"],
    )
    assert [t.sink for t in settings.alertmanager_url] == ["alertmanager/am-1", "alertmanager/am2"]
    assert [t.url for t in settings.webhook_url] == ["https://hooks.example.org/h?token=s3cret"]  # sent as configured
    assert Settings().alertmanager_url == () and Settings().webhook_url == ()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("ftp://am:21/?token=s3cret", "entry 1 (ftp://am:21/?***): not an http(s) URL with a host"),
        ("http://ok,http://am:99999?token=s3cret", "entry 2 (http://am:99999?***): not a URL"),
        ("a=http://x?token=s3cret,a=http://y", "2 entries are named 'a'; give each a different name with NAME=URL"),
    ],
)
def test_a_bad_alert_target_is_refused_when_the_settings_are_built(values: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(webhook_url=values)
    (error,) = raised.value.errors()
    assert error["loc"] == ("webhook_url",) and error["msg"].startswith(message) and "s3cret" not in error["msg"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, []),
        ({"web_host": "0.0.0.0"}, ["MONITOR_ADVERTISED_URL"]),  # links matter only where alerts are delivered
        ({"web_host": "0.0.0.0", "webhook_url": "http://hook"}, ["MONITOR_PUBLIC_URL", "MONITOR_ADVERTISED_URL"]),
        (
            {"web_host": "::", "alertmanager_url": "http://am", "public_url": "https://c.example.org"},
            ["MONITOR_ADVERTISED_URL"],
        ),
        (
            {
                "web_host": "0.0.0.0",
                "public_url": "https://c",
                "advertised_url": "http://w-0:6066",
                "cluster_token": "t",
            },
            [],
        ),
        # A worker among others (it advertises itself) whose internal endpoints answer anyone.
        ({"web_host": "0.0.0.0", "public_url": "https://c", "advertised_url": "http://w-0:6066"}, ["CLUSTER_TOKEN"]),
    ],
)
def test_the_warnings_the_entry_point_logs_are_worked_out_from_the_settings(
    settings: dict[str, str], expected: list[str]
) -> None:
    warnings = Settings(**settings).warnings  # type: ignore[arg-type]
    assert len(warnings) == len(expected)
    assert all(name in warning for name, warning in zip(expected, warnings, strict=True))


def test_rule_files_in_the_environment_are_paths_separated_by_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.setenv("MONITOR_RULES", "rules/packs/de-an-06.yaml, /etc/monitor/rules")
    settings = Settings()
    assert settings.rules == (Path("rules/packs/de-an-06.yaml"), Path("/etc/monitor/rules"))
    assert not settings.rules_from_topic  # named: the topic is not followed
    monkeypatch.setenv("MONITOR_RULES", "/etc/monitor/rules")  # one path, as an operator writes it (not JSON)
    assert Settings().rules == (Path("/etc/monitor/rules"),)
