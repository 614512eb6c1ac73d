from __future__ import annotations

import argparse
import ssl
from pathlib import Path

import faust
import pytest

from monitor.cli.common import settings_from
from monitor.exceptions import MonitorError
from monitor.kafka.client import client_options, faust_credentials
from monitor.settings import Settings


def test_plaintext_by_default() -> None:
    settings = Settings()
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_scram_over_tls() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="monitor",
        kafka_sasl_password="s3cret",  # type: ignore[arg-type]
    )
    options = client_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-512" and credentials.protocol.value == "SASL_SSL"
    assert "s3cret" not in repr(settings)  # the password is a secret


def test_missing_credentials_and_files_are_clear_errors_when_the_settings_are_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(MonitorError, match="MONITOR_KAFKA_SASL_USERNAME and MONITOR_KAFKA_SASL_PASSWORD"):
        settings_from(argparse.Namespace())
    monkeypatch.setenv("MONITOR_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("MONITOR_KAFKA_SSL_CAFILE", str(tmp_path / "nope.pem"))
    with pytest.raises(MonitorError, match="does not exist") as refused:
        settings_from(argparse.Namespace())
    assert str(refused.value).startswith(f"MONITOR_KAFKA_SSL_CAFILE={tmp_path / 'nope.pem'}")
