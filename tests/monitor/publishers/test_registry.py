"""The publisher registry: who may report which unit, read from a file with every mistake located."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.devtools.demo import DEMO_PUBLISHERS, demo_events, demo_publishers_for, demo_sources, demo_units
from monitor.publishers import (
    Cause,
    PublishedRegistry,
    RegistryFileError,
    admission,
    load_registry,
    registry_changes,
    registry_version,
    token_hash,
)
from rules.loading import BUNDLED_PACK, load_pack
from rules.units import Placed, place

BUNDLED = load_pack([BUNDLED_PACK])

REGISTRY = """\
description: two provinces, the national portal, a ministry
publishers:
  - id: nghean-dvc
    units: [VN-22]
    tokens: [{{sha256: {}, label: first}}, {{sha256: {}, label: rotated}}]
  - id: binhthuan-dvc
    units: [VN-40]
  - id: dvcqg
    rosters: [provinces-63]
  - id: bca-dvc
    units: [BCA]
""".format(token_hash("old-token"), token_hash("new-token"))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "publishers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_publisher_reports_its_own_units_and_nothing_else(tmp_path: Path) -> None:
    admitted = admission(load_registry(_write(tmp_path, REGISTRY), BUNDLED), BUNDLED)
    assert admitted.refusal("nghean-dvc", "VN-22") is None
    assert admitted.refusal("dvcqg", "VN-40") is None  # a roster: every province
    assert admitted.refusal("bca-dvc", "BCA") is None
    other = admitted.refusal("nghean-dvc", "VN-40")  # Nghệ An's system reporting Bình Thuận
    assert other is not None and other.cause is Cause.NOT_ITS_UNIT
    assert "nghean-dvc" in other.reason and "VN-40" in other.reason and admitted.version in other.reason
    assert (r := admitted.refusal("dvcqg", "BCA")) is not None and r.cause is Cause.NOT_ITS_UNIT  # not in its roster
    made_up = admitted.refusal("nghean-dvc", "ZZ-99")
    assert made_up is not None and made_up.cause is Cause.UNROSTERED and "publisher registry" in made_up.reason
    stranger = admitted.refusal("someone-else", "VN-22")
    assert stranger is not None and stranger.cause is Cause.UNREGISTERED and "publisher registry" in stranger.reason


def test_units_on_no_roster_are_refused_unless_the_registry_allows_them(tmp_path: Path) -> None:
    text = REGISTRY.replace("  - id: bca-dvc\n    units: [BCA]", "  - id: pilot\n    units: [VN-22-XA-01]")
    closed = admission(load_registry(_write(tmp_path, text), BUNDLED), BUNDLED)
    assert (r := closed.refusal("pilot", "VN-22-XA-01")) is not None and r.cause is Cause.UNROSTERED
    opened = admission(load_registry(_write(tmp_path, "allow_unrostered: true\n" + text), BUNDLED), BUNDLED)
    assert opened.refusal("pilot", "VN-22-XA-01") is None
    assert (r := opened.refusal("nghean-dvc", "VN-22-XA-01")) is not None and r.cause is Cause.NOT_ITS_UNIT


def test_a_token_names_its_publisher_and_a_rotated_token_works_beside_the_old_one(tmp_path: Path) -> None:
    admitted = admission(load_registry(_write(tmp_path, REGISTRY), BUNDLED), BUNDLED)
    assert admitted.identify("old-token") == "nghean-dvc" and admitted.identify("new-token") == "nghean-dvc"
    assert admitted.identify("guess") is None
    wrong = admitted.refusal_from("nghean-dvc", "binhthuan-dvc", "VN-40")  # its token, another's source
    assert wrong is not None and wrong.cause is Cause.NOT_ITS_SOURCE
    assert admitted.refusal_from("nghean-dvc", "nghean-dvc", "VN-22") is None


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            "publishers:\n  - id: a\n    units: [VN-22]\n    must_sign: true\n",
            2,
            "publishers.0",
            ["must sign", "no key"],
        ),
        ("publishers:\n  - id: a\n    units: [VN-22]\n    must_sing: true\n", 4, "publishers.0.must_sing", ["unknown"]),
        ("publishers:\n  - id: a\n    unit: [VN-22]\n", 3, "publishers.0.unit", ["unknown field"]),
        ("publishers:\n  - id: a\n", 2, "publishers.0", ["may report no unit"]),
        (
            "publishers:\n  - id: a\n    rosters: [provinces-34]\n",
            3,
            "publishers.0.rosters.0",
            ["provinces-34", "provinces-63"],
        ),
        (
            "publishers:\n  - id: a\n    units: [VN-22]\n    tokens: [{sha256: abc}]\n",
            4,
            "publishers.0.tokens.0.sha256",
            ["pattern"],
        ),
        ("", None, "publishers", ["empty"]),
    ],
)
def test_a_broken_registry_names_file_line_and_field(
    tmp_path: Path, text: str, line: int | None, field: str, words: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RegistryFileError) as refused:
        load_registry(path, BUNDLED)
    (problem,) = refused.value.problems
    assert (problem.path, problem.line, problem.field) == (path, line, field)
    assert all(word in problem.message for word in words), problem.message


def test_a_publisher_or_a_token_given_twice_is_refused(tmp_path: Path) -> None:
    twice = REGISTRY + "  - id: nghean-dvc\n    units: [VN-22]\n"
    with pytest.raises(RegistryFileError, match="publisher 'nghean-dvc' is listed twice"):
        load_registry(_write(tmp_path, twice), BUNDLED)
    shared = REGISTRY + f"  - id: thief\n    units: [VN-40]\n    tokens: [{{sha256: {token_hash('old-token')}}}]\n"
    with pytest.raises(RegistryFileError, match="one token hash is given twice"):
        load_registry(_write(tmp_path, shared), BUNDLED)


def test_the_version_changes_with_the_content_only(tmp_path: Path) -> None:
    first = load_registry(_write(tmp_path, REGISTRY))
    again = load_registry(_write(tmp_path, "# a comment\n" + REGISTRY))
    changed = load_registry(_write(tmp_path, REGISTRY.replace("[VN-40]", "[VN-40, VN-22]")))
    assert registry_version(first) == registry_version(again) != registry_version(changed)


def test_the_demo_registry_binds_every_demo_event_to_a_publisher_that_may_send_it() -> None:
    assert demo_publishers_for(BUNDLED) == DEMO_PUBLISHERS
    admitted = admission(load_registry(DEMO_PUBLISHERS, BUNDLED), BUNDLED)
    from datetime import UTC, datetime

    events = demo_events(now := datetime.now(UTC), *demo_units(BUNDLED, now))
    placed = [place(e, BUNDLED.units) for e in events]  # as the worker does: a code on the unit it means
    assert events and all(isinstance(p, Placed) for p in placed)
    assert all(admitted.refusal(p.event.source, p.event.unit_id, named=p.named) is None for p in placed)  # type: ignore[union-attr]
    assert {p.event.unit_code for p in placed if p.event.unit_id == "VN-16690"} == {"16690"}  # type: ignore[union-attr]
    assert demo_sources()["VN-22"] == "nghean-dvc" and admitted.identify("demo-nghean-dvc") == "nghean-dvc"
    assert admitted.refusal("nghean-dvc", "VN-40") is not None


def test_what_a_registry_changes_is_said_publisher_by_publisher(tmp_path: Path) -> None:
    old = load_registry(_write(tmp_path, REGISTRY))
    changed = REGISTRY.replace("units: [VN-40]", "units: [VN-40, VN-22]").replace(
        "  - id: bca-dvc\n    units: [BCA]\n", ""
    )
    rotated = changed.replace(token_hash("old-token"), token_hash("newer-token"))
    new = load_registry(_write(tmp_path, rotated + "  - id: bqp-dvc\n    units: [BQP]\n"))
    assert registry_changes(old, new) == [
        "- bca-dvc: BCA",
        "~ nghean-dvc: tokens: 1 added, 1 removed",
        "~ binhthuan-dvc: VN-40 → VN-40, VN-22",
        "+ bqp-dvc: BQP",
    ]
    assert registry_changes(None, old)[2] == "+ dvcqg: roster provinces-63"
    assert registry_changes(old, old) == []


def test_a_published_registry_whose_version_does_not_match_its_content_is_no_registry(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    registry = load_registry(_write(tmp_path, REGISTRY))
    record = PublishedRegistry.of(registry, applied_at=datetime(2026, 12, 4, tzinfo=UTC), applied_by="ops")
    assert PublishedRegistry.model_validate_json(record.model_dump_json()) == record
    tampered = record.model_dump_json().replace('"units":["VN-40"]', '"units":["VN-40","VN-22"]')
    assert tampered != record.model_dump_json()
    with pytest.raises(ValueError, match="the record says version"):
        PublishedRegistry.model_validate_json(tampered)
