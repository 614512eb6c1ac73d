from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

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


def test_missing_credentials_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="MONITOR_KAFKA_SASL_USERNAME and MONITOR_KAFKA_SASL_PASSWORD"):
        client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT"))
    with pytest.raises(MonitorError, match="does not exist"):
        client_options(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "nope.pem"))
