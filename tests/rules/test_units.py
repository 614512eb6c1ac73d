"""The unit registry: codes resolved at an instant through lineage, its checks, and the bundled Vietnamese data."""

from __future__ import annotations

import functools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rules.exceptions import RuleFileError
from rules.loading import BUNDLED_PACK, load_pack
from rules.units import Level, Refused, Resolved, UnitRegistry, UnitSpec

BEFORE = datetime(2025, 6, 30, 16, 59, tzinfo=UTC)  # 23:59 on 30 June in Vietnam
AFTER = datetime(2025, 6, 30, 17, 0, tzinfo=UTC)  # 00:00 on 1 July in Vietnam: the merger


@functools.cache
def _bundled() -> UnitRegistry:
    return load_pack([BUNDLED_PACK]).units


def _registry(*units: dict[str, object]) -> UnitRegistry:
    return UnitRegistry.of(UnitSpec.model_validate(u) for u in units)


LINEAGE = _registry(
    {"id": "VN-07", "name": "Tuyên Quang", "level": "province", "national": "08"},
    {"id": "VN-03", "name": "Hà Giang", "level": "province", "national": "02", "until": "2025-07-01",
     "merged_into": ["VN-07"]},
    {"id": "VN-02", "name": "Lào Cai", "level": "province",
     "codes": [{"code": "10", "kind": "national", "until": "2025-07-01"},
               {"code": "15", "kind": "national", "from": "2025-07-01"}]},
    {"id": "VN-06", "name": "Yên Bái", "level": "province", "national": "15", "until": "2025-07-01",
     "merged_into": ["VN-02"]},
    {"id": "A~2025", "name": "Xã A", "level": "commune", "parent": "VN-03", "national": "00700", "until": "2025-07-01",
     "merged_into": ["B", "C"]},
    {"id": "B", "name": "Xã B", "level": "commune", "parent": "VN-07", "national": "00701", "from": "2025-07-01"},
    {"id": "C", "name": "Xã C", "level": "commune", "parent": "VN-07", "national": "00702", "from": "2025-07-01"},
)  # fmt: skip


def test_a_code_means_the_unit_it_named_at_the_instant_then_its_successor() -> None:
    assert LINEAGE.resolve("VN-03", BEFORE) == Resolved("VN-03", "VN-03", "id", "VN-03")
    assert LINEAGE.resolve("VN-03", AFTER) == Resolved("VN-07", "VN-03", "id", "VN-03", former=True)
    assert LINEAGE.resolve("02", AFTER) == Resolved("VN-07", "02", "national", "VN-03", former=True)
    # A national code reused on 1 July: Yên Bái's 15 before, Lào Cai's after; Lào Cai's old 10 still reaches it.
    assert LINEAGE.resolve("15", BEFORE) == Resolved("VN-06", "15", "national", "VN-06")
    assert LINEAGE.resolve("15", AFTER) == Resolved("VN-02", "15", "national", "VN-02")
    assert LINEAGE.resolve("10", AFTER) == Resolved("VN-02", "10", "national", "VN-02", former=True)
    assert LINEAGE.resolve("ZZ-99", AFTER) is None  # unknown to the registry: taken as it comes


def test_a_code_of_a_unit_split_or_not_yet_in_existence_is_refused_with_a_reason() -> None:
    split = LINEAGE.resolve("00700", AFTER)
    assert isinstance(split, Refused)
    assert split.reason == (
        "Xã A (A~2025) was split on 2025-07-01 among Xã B (B), Xã C (C); report under the new unit's code"
    )
    early = LINEAGE.resolve("00701", BEFORE)
    assert isinstance(early, Refused) and "only from 2025-07-01; on 2025-06-30 it named no unit" in early.reason
    ended = _registry({"id": "X", "name": "Gone", "until": "2020-01-01"}).resolve("X", AFTER)
    assert ended == Refused("Gone (X) ceased to exist on 2020-01-01 and has no successor")


def test_units_in_force_lineage_and_names_over_time() -> None:
    assert [u.id for u in LINEAGE.in_force(BEFORE, Level.PROVINCE)] == ["VN-07", "VN-03", "VN-02", "VN-06"]
    assert [u.id for u in LINEAGE.in_force(AFTER, Level.PROVINCE)] == ["VN-07", "VN-02"]
    assert [u.id for u in LINEAGE.in_force(AFTER, parent="VN-07")] == ["B", "C"]
    assert LINEAGE.predecessors("VN-07") == ("VN-03",)
    assert LINEAGE.predecessors("B") == ("A~2025",) and not LINEAGE.merged_whole("A~2025")
    assert LINEAGE.successors("VN-06", AFTER) == ("VN-02",)
    hue = _registry({"id": "VN-26", "name": "Huế", "former_names": [{"name": "Thừa Thiên Huế", "until": "2025-01-01"}]})
    assert hue.name("VN-26", datetime(2024, 6, 1, tzinfo=UTC)) == "Thừa Thiên Huế"
    assert hue.name("VN-26", AFTER) == hue.name("VN-26") == "Huế"


def test_every_inconsistency_is_named() -> None:
    broken = _registry(
        {"id": "A", "name": "A", "parent": "NOWHERE"},
        {"id": "B", "name": "B", "parent": "C"},
        {"id": "C", "name": "C", "parent": "B"},
        {"id": "D", "name": "D", "national": "01"},
        {"id": "E", "name": "E", "national": "01", "from": "2020-01-01"},
        {"id": "F", "name": "F", "until": "2021-01-01", "merged_into": ["G"]},
        {"id": "G", "name": "G", "from": "2022-01-01"},
        {"id": "A", "name": "A again"},
    )
    said = {(p.unit, p.field, p.message) for p in broken.problems}
    assert ("A", "parent", "parent 'NOWHERE' is not declared in the registry") in said
    assert any(f == "parent" and m.startswith("a cycle: ") for _, f, m in said)
    assert ("E", "codes", "code '01' names both 'D' and 'E' at the same time (from 2020-01-01)") in said
    assert ("F", "merged_into", "merged into 'G' on 2021-01-01, but 'G' exists only from 2022-01-01") in said
    assert ("A", "id", "unit 'A' is declared twice") in said
    assert not LINEAGE.problems


def test_a_registry_file_or_table_with_mistakes_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n      - {id: r, kind: deadline, due_from: deadline}\n", encoding="utf-8"
    )
    (tmp_path / "provinces.yaml").write_text(
        "registry: p\nunits:\n  - {id: P1, name: One, level: province}\n  - {id: P2, name: Two, national: '01'}\n"
        "  - {id: P3, name: Three, national: '01'}\n",
        encoding="utf-8",
    )
    (tmp_path / "communes.csv").write_text(
        "id,name,parent,from\nC1,Xã Một,P1,2025-07-01\nC2,Xã Hai,P9,2025-07-01\nC3,Xã Ba,P1,1 July\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError) as caught:
        load_pack([tmp_path])
    said = {(p.path.name, p.line, p.field, p.message) for p in caught.value.problems}
    assert ("communes.csv", 3, "units.C2.parent", "parent 'P9' is not declared in the registry") in said
    assert any(name == "communes.csv" and line == 4 and field == "from" for name, line, field, _ in said)
    assert ("provinces.yaml", 5, "units.P3.codes", "code '01' names both 'P2' and 'P3' at the same time") in said


def test_the_bundled_registry_is_vietnam_before_and_after_the_2025_arrangement() -> None:
    units = _bundled()
    assert not units.problems
    now = datetime(2026, 12, 1, tzinfo=UTC)
    provinces = units.in_force(now, Level.PROVINCE)
    communes = units.in_force(now, Level.COMMUNE)
    # Resolution 202/2025/QH15: 34 provinces; the communes of the 34 resolutions of 16 June 2025: 3,321.
    assert len(provinces) == 34 and len(communes) == 3321
    assert Counter(c.kind for c in communes) == {"commune": 2621, "ward": 687, "special_zone": 13}
    assert len(units.in_force(datetime(2024, 7, 1, tzinfo=UTC), Level.PROVINCE)) == 63
    per_province = Counter(c.parent for c in communes)
    assert (per_province["VN-HN"], per_province["VN-SG"], per_province["VN-22"]) == (126, 168, 130)
    assert sum(per_province.values()) == 3321 and set(per_province) == {p.id for p in provinces}
    # Hà Giang into Tuyên Quang, Bình Thuận into Lâm Đồng, Bình Dương and Bà Rịa - Vũng Tàu into Hồ Chí Minh.
    assert units.resolve("VN-03", now) == Resolved("VN-07", "VN-03", "id", "VN-03", former=True)
    assert units.resolve("60", now) == Resolved("VN-35", "60", "national", "VN-40", former=True)
    assert set(units.predecessors("VN-SG")) >= {"VN-57", "VN-43"}
    assert units.resolve("40", now) == Resolved("VN-22", "40", "national", "VN-22")
    assert units.name("VN-26", datetime(2024, 1, 1, tzinfo=UTC)) == "Thừa Thiên Huế"


@pytest.mark.parametrize(
    ("code", "day", "applied_to"),
    [
        ("VN-03", "2024-05-10", "VN-03"),
        ("02", "2024-05-10", "VN-03"),
        ("VN-03", "2026-03-02", "VN-07"),
        ("02", "2026-03-02", "VN-07"),
        ("15", "2024-05-10", "VN-06"),
        ("15", "2026-03-02", "VN-02"),
        ("10", "2026-03-02", "VN-02"),
        ("00004", "2026-03-02", "VN-00004"),
        ("00007", "2026-03-02", None),
        ("VN-00004", "2024-05-10", None),
        ("BKHDT", "2026-03-02", "BTC"),
        ("UBDT", "2026-03-02", "BDTTG"),
    ],
)
def test_the_readme_s_worked_example_holds_on_the_bundled_registry(code: str, day: str, applied_to: str | None) -> None:
    found = _bundled().resolve(code, datetime.fromisoformat(f"{day}T09:00:00+07:00"))
    if applied_to is None:
        assert isinstance(found, Refused)
    else:
        assert isinstance(found, Resolved) and found.unit == applied_to


def test_an_answer_kept_for_a_span_between_changes_is_the_answer_at_every_instant_of_it() -> None:
    """``resolve`` keeps its answers per span between code and unit changes: asked in any order, it never differs.

    The second registry has a code that begins on a day when no unit begins or ends: a span taken from the
    units' changes alone would answer for it before that day what it answers after.
    """
    late_code = _registry(
        {"id": "VN-09", "name": "Cao Bằng", "level": "province",
         "codes": [{"code": "77", "kind": "national", "from": "2024-03-01"}]},
        {"id": "VN-07", "name": "Tuyên Quang", "level": "province", "until": "2025-07-01"},
    )  # fmt: skip
    rng = random.Random(7)
    for registry in (LINEAGE, late_code, _bundled()):
        codes = sorted(registry._claims)
        if len(codes) > 400:
            codes = rng.sample(codes, 400)
        edges = registry._code_changes
        instants = [datetime(2000, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)]
        instants += [edge + timedelta(microseconds=d) for edge in edges for d in (-1, 0, 1)]
        asked = [(code, at) for code in codes for at in instants]
        rng.shuffle(asked)
        for code, at in asked:
            assert registry.resolve(code, at) == registry._resolve(code, at), (code, at)
    assert late_code.resolve("77", datetime(2024, 2, 1, tzinfo=UTC)) == Refused(
        "unit code '77' names Cao Bằng (VN-09) only from 2024-03-01; on 2024-02-01 it named no unit"
    )
