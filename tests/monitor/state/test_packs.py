"""Records of the rules topic read into entries; the packs a worker has known, with what each changed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.structs import ConsumerRecord

from monitor.state.packs import AppliedPack, PackEntry, PackLog
from rules.loading import BUNDLED_PACK, PublishedPack, load_pack, pack_files

APPLIED = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


def _record(offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "compliance.rules", 0, offset, 1_751_335_200_000, 0, b"k", value, None, 1, len(value or b""), ()
    )


def test_a_record_is_a_pack_or_says_why_it_is_not(tmp_path: Path) -> None:
    pack = load_pack([BUNDLED_PACK])
    published = PublishedPack.of(pack, pack_files(BUNDLED_PACK), applied_at=APPLIED, applied_by="ops")
    entry = PackEntry.of(_record(3, published.model_dump_json().encode()))
    assert (entry.offset, entry.pack, entry.problem) == (3, published, None)
    assert entry.published_at == datetime(2025, 7, 1, 2, 0, tzinfo=UTC)
    garbage = PackEntry.of(_record(4, b'{"version": "v"}'))
    assert garbage.pack is None and garbage.problem is not None and garbage.problem.startswith("not a rule pack: ")
    assert "content" in garbage.problem
    tombstone = PackEntry.of(_record(5, None))
    assert tombstone.pack is None and tombstone.problem == "a tombstone (no pack)"


def test_the_log_says_what_each_pack_changed_newest_first(tmp_path: Path) -> None:
    first = load_pack([BUNDLED_PACK])
    changed = tmp_path / "pack"
    shutil.copytree(BUNDLED_PACK, changed)
    rules = changed / "de-an-06.yaml"
    rules.write_text(
        rules.read_text(encoding="utf-8").replace(
            "below: 0.8\n        resolve_above: 0.82\n", "below: 0.85\n        resolve_above: 0.87\n"
        ),
        encoding="utf-8",
    )
    second = load_pack([changed])
    log = PackLog(limit=3)
    log.add(AppliedPack(first.version, APPLIED, "", "", "start", first))
    log.add(AppliedPack("broken", APPLIED, "ops", "", "rules topic offset 1", None, "does not load"))
    log.add(AppliedPack(second.version, APPLIED, "ops", "raise", "rules topic offset 2", second))
    shown = log.with_diffs()
    assert [entry.version for entry, _ in shown] == [second.version, "broken", first.version]
    newest_diff = shown[0][1]
    assert newest_diff is not None and newest_diff.old_version == first.version  # across the one that did not load
    assert [c.rule_id for c in newest_diff.changed] == ["dossier-digitisation-low"]
    assert shown[1][1] is None and shown[2][1] is None
    log.add(AppliedPack(first.version, APPLIED, "ops", "back", "rules topic offset 3", first))
    assert [e.message for e in log.entries()] == ["", "raise", "back"]  # the oldest went: the log is bounded
