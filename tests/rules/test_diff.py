"""What changes between two rule packs: the bundled pack against an edited copy of itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from rules.loading import BUNDLED_PACK, load_pack, pack_diff

EID_RULE = """      - id: eid-activation-low
        kind: threshold
"""


def edited_copy(tmp_path: Path) -> Path:
    """The bundled pack with one threshold raised, one rule removed, one added, and a ministry off its roster."""
    new = tmp_path / "new"
    shutil.copytree(BUNDLED_PACK, new)
    rules = new / "de-an-06.yaml"
    text = rules.read_text(encoding="utf-8")
    assert 'below: 0.5\n        resolve_above: 0.52\n        summary: "{unit_name}: tỷ lệ hồ sơ' in text
    text = text.replace(
        'below: 0.5\n        resolve_above: 0.52\n        summary: "{unit_name}: tỷ lệ hồ sơ',
        'below: 0.6\n        resolve_above: 0.62\n        summary: "{unit_name}: tỷ lệ hồ sơ',
    )
    start = text.index("      - id: eid-activation-low")
    end = text.index("      - id:", start + 10)
    removed = text[start:end]
    text = text[:start] + text[end:]
    added = removed.replace("eid-activation-low", "eid-activation-very-low").replace("below: 0.5", "below: 0.3")
    text = text[:start] + added.replace("resolve_above: 0.52", "resolve_above: 0.32") + text[start:]
    rules.write_text(text, encoding="utf-8")
    ministries = new / "units" / "ministries.yaml"
    lines = ministries.read_text(encoding="utf-8").splitlines(keepends=True)
    ministries.write_text("".join(line for line in lines if "id: BQP," not in line), encoding="utf-8")
    return new


def test_the_diff_names_rules_added_removed_and_changed_and_roster_members(tmp_path: Path) -> None:
    old, new = load_pack([BUNDLED_PACK]), load_pack([edited_copy(tmp_path)])
    diff = pack_diff(old, new)
    assert (diff.added, diff.removed) == (("eid-activation-very-low",), ("eid-activation-low",))
    changed = {c.rule_id: c.diff for c in diff.changed}
    threshold = changed["online-dossier-ratio-low"].splitlines()
    assert "-below: 0.5" in threshold and "+below: 0.6" in threshold and "+resolve_above: 0.62" in threshold
    assert not any("schedule" in line or "labels" in line for line in threshold), "defaults are not shown"
    # The roster rule's definition names its roster files, which did not change: only the roster's members did.
    assert "inspection-plan-2024" not in changed
    [ministries] = diff.rosters
    assert (ministries.roster, ministries.added, ministries.removed) == ("ministries", (), ("BQP",))
    assert diff.old_version == old.version and diff.new_version == new.version != old.version
    text = diff.text()
    assert "+ rule eid-activation-very-low (added)" in text and "- rule eid-activation-low (removed)" in text
    assert "~ roster ministries: 0 unit(s) added, 1 removed" in text and "    - BQP" in text
    assert diff.as_json()["rosters_changed"] == [{"roster": "ministries", "units_added": [], "units_removed": ["BQP"]}]


def test_a_pack_against_itself_has_no_changes() -> None:
    pack = load_pack([BUNDLED_PACK])
    diff = pack_diff(pack, load_pack([BUNDLED_PACK]))
    assert diff.empty and diff.text().endswith("no rule or roster changes")
