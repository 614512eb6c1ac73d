"""No log line shows the token or user of a URL: what the redaction keeps and what it hides."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import monitor
from monitor.cli.terminal import SafeLogRecord
from monitor.redact import RedactingFilter, redact_text, redact_url


def test_a_url_keeps_where_it_points_and_loses_its_secrets() -> None:
    assert redact_url("https://bot:p@ss@hooks.example.org:8443/x/y?token=s3cret&a=1#f") == (
        "https://***@hooks.example.org:8443/x/y?***"
    )
    assert redact_url("http://am-1:9093") == "http://am-1:9093"
    assert redact_url("kafka://admin:pw@kafka-1:9092") == "kafka://***@kafka-1:9092"
    assert redact_url("http://[::1") == "***"  # not a URL at all: nothing of it is shown


def test_every_url_in_a_text_is_redacted_and_the_rest_kept() -> None:
    text = "POST http://u:pw@a:1/h?token=s3cret failed; kafka://x:y@b:9092 too, see https://c/d?k=v#top."
    assert redact_text(text) == "POST http://***@a:1/h?*** failed; kafka://***@b:9092 too, see https://c/d?***#top."
    assert redact_text("no url here: a@b, ?q=1") == "no url here: a@b, ?q=1"


def test_the_filter_redacts_messages_arguments_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("delivery to %s failed", "https://hooks.example.org/h?token=s3cret")
        try:
            raise ValueError("bad URL http://user:hunter2@am:9093/")
        except ValueError:
            logger.exception("sending failed")
    finally:
        logger.removeHandler(handler)
    written = out.getvalue()
    assert "s3cret" not in written and "hunter2" not in written
    assert "https://hooks.example.org/h?***" in written and "http://***@am:9093/" in written


def test_event_text_in_an_argument_stays_on_its_line_and_the_monitors_own_lines_are_kept() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    where = str(Path(monitor.__file__).parent / "delivery" / "queue.py")  # logged by the monitor's code
    hostile = "answered 400 for https://hooks.example.org/h?token=s3cret for Kế hoạch\nCRITICAL forged line"
    handler.handle(
        SafeLogRecord("monitor.delivery", logging.WARNING, where, 1, "delivery failed (%s)", (hostile,), None)
    )
    handler.handle(
        SafeLogRecord(
            "monitor.worker",
            logging.ERROR,
            where,
            1,
            "rules not reloaded:\n  %s\n  pack %s stays in force",
            ("rules/packs/x.yaml: unknown kind\nCRITICAL forged", "2024.1"),
            None,
        )
    )
    lines = out.getvalue().splitlines()
    assert lines == [
        "WARNING delivery failed (answered 400 for https://hooks.example.org/h?*** for Kế hoạch\\x0aCRITICAL forged line)",
        "ERROR rules not reloaded:",
        "  rules/packs/x.yaml: unknown kind\\x0aCRITICAL forged",
        "  pack 2024.1 stays in force",
    ]
