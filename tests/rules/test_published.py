"""A pack as the rules topic carries it: its files, read back into the same pack; the packs in force over time."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from rules.exceptions import RuleFileError
from rules.loading import BUNDLED_PACK, PackTimeline, PublishedPack, load_pack, pack_files

APPLIED = datetime(2024, 7, 10, 8, 0, tzinfo=UTC)


def _bundled_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "pack"
    shutil.copytree(BUNDLED_PACK, directory)
    return directory


def test_the_published_files_load_into_the_pack_that_was_applied(tmp_path: Path) -> None:
    directory = _bundled_copy(tmp_path)
    pack = load_pack([directory])
    files = pack_files(directory)
    # Rules, the rosters they name by a relative path, and the pack's own tests.
    assert {"de-an-06.yaml", "units/provinces-34.yaml", "tests/de-an-06.test.yaml"} <= set(files)
    record = PublishedPack.of(pack, files, applied_at=APPLIED, applied_by="ops@vn", message="20/7 plan")
    read = PublishedPack.model_validate_json(record.model_dump_json())
    assert read == record and read.key == pack.version.encode()
    loaded = read.load(tmp_path / "cache")
    assert loaded.version == pack.version and loaded.unit_names == pack.unit_names
    assert (tmp_path / "cache" / record.content / "de-an-06.yaml").read_text(encoding="utf-8") == files["de-an-06.yaml"]
    assert read.load().version == pack.version  # in a temporary directory


def test_files_that_do_not_match_their_hash_are_refused(tmp_path: Path) -> None:
    directory = _bundled_copy(tmp_path)
    files = pack_files(directory)
    record = PublishedPack.of(load_pack([directory]), files, applied_at=APPLIED, applied_by="ops")
    tampered = record.model_copy(update={"files": {**files, "de-an-06.yaml": files["de-an-06.yaml"] + "\n# x\n"}})
    with pytest.raises(RuleFileError, match="do not match the pack's hash"):
        tampered.load()


@pytest.mark.parametrize("name", ["../escape.yaml", "/etc/rules.yaml", "rules.txt"])
def test_a_file_outside_the_pack_is_not_a_pack_file(name: str) -> None:
    with pytest.raises(ValidationError, match="is not the path of a rule, roster or unit file inside the pack"):
        PublishedPack(version="v", content="c", files={name: "x"}, applied_at=APPLIED, applied_by="ops")


def test_the_version_changes_with_a_units_name_and_an_indicators_bounds(tmp_path: Path) -> None:
    rules = (
        "indicators:\n  x: {min: 0, max: %s}\n"
        "groups:\n  - name: g\n    rules:\n      - {id: r, kind: threshold, indicator: x, below: 0.5}\n"
        '      - {id: plan, kind: deadline, due: "2024-07-20T00:00:00+07:00", roster: u.yaml}\n'
    )
    roster = "roster: u\nunits:\n  - {id: VN-22, name: %s}\n"

    def version(bound: str, name: str) -> str:
        (tmp_path / "r.yaml").write_text(rules % bound, encoding="utf-8")
        (tmp_path / "u.yaml").write_text(roster % name, encoding="utf-8")
        return load_pack([tmp_path]).version

    base = version("1", "Nghệ An")
    assert version("1", "Nghệ An") == base
    assert version("100", "Nghệ An") != base
    assert version("1", "Tỉnh Nghệ An") != base


def test_the_timeline_says_which_pack_was_in_force_at_an_instant(tmp_path: Path) -> None:
    first = load_pack([BUNDLED_PACK])
    second = load_pack([BUNDLED_PACK / "de-an-06.yaml", BUNDLED_PACK / "units"])
    timeline = PackTimeline([(APPLIED + timedelta(days=1), second), (APPLIED, first)])
    assert timeline.at(APPLIED - timedelta(seconds=1)) is None
    assert timeline.at(APPLIED) is first
    assert timeline.at(APPLIED + timedelta(hours=23)) is first
    assert timeline.at(APPLIED + timedelta(days=1)) is second
