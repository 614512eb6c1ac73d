"""Roster rules over the units in force: the 63 provinces of 2024, the 34 of 2026, the communes of one province."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from rules.loading import BUNDLED_PACK, load_pack
from rules.simulation import Simulation
from rules.state import AlertTransition
from tests.conftest import VN

RULES = """\
groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: plan-2024
        kind: deadline
        select: {kind: plan_2024}
        roster: units/provinces.yaml
        due: "2024-07-20T00:00:00+07:00"
        summary: "{unit_name}"
      - id: plan-2026
        kind: deadline
        select: {kind: plan_2026}
        roster: [units/provinces.yaml, communes-nghe-an.yaml]
        due: "2026-07-20T00:00:00+07:00"
        summary: "{unit_name}"
      - id: silent
        kind: staleness
        max_age: 30d
        roster: units/provinces.yaml
        start: "2025-05-01T00:00:00+07:00"
        summary: "{unit_name}"
"""
COMMUNES = "roster: communes-nghe-an\nselect: {level: commune, parent: VN-22}\n"


@pytest.fixture(scope="module")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    pack_dir: Path = tmp_path_factory.mktemp("pack")
    shutil.copytree(BUNDLED_PACK / "units", pack_dir / "units")
    (pack_dir / "rules.yaml").write_text(RULES, encoding="utf-8")
    (pack_dir / "communes-nghe-an.yaml").write_text(COMMUNES, encoding="utf-8")
    simulation = Simulation.start(load_pack([pack_dir]), datetime(2024, 7, 1, tzinfo=VN))
    simulation.run_until(datetime(2026, 8, 1, tzinfo=VN))
    return simulation


def _fired(simulation: Simulation, rule_id: str, stage: str) -> dict[str, datetime]:
    """Unit → when the rule's alert reached ``stage``."""
    return {
        t.unit_id: at
        for at, t in simulation.transitions
        if t.rule_id == rule_id and t.stage == stage and t.status == "firing"
    }


def _resolved(simulation: Simulation, rule_id: str) -> dict[str, AlertTransition]:
    return {t.unit_id: t for _, t in simulation.transitions if t.rule_id == rule_id and t.status == "resolved"}


def test_a_roster_deadline_expects_the_units_in_force_at_its_due_instant(simulation: Simulation) -> None:
    units = simulation.pack.units
    of_2024 = _fired(simulation, "plan-2024", "overdue")
    assert len(of_2024) == 63 and {"VN-03", "VN-07", "VN-40", "VN-57"} <= of_2024.keys()
    of_2026 = _fired(simulation, "plan-2026", "overdue")
    provinces = {u for u in of_2026 if units.get(u) is not None and units.get(u).level == "province"}  # type: ignore[union-attr]
    communes = set(of_2026) - provinces
    assert len(provinces) == 34 and "VN-03" not in provinces and {"VN-07", "VN-35", "VN-22"} <= provinces
    assert len(communes) == 130 and all(units.get(c).parent == "VN-22" for c in communes)  # type: ignore[union-attr]
    assert set(of_2026.values()) == {datetime(2026, 7, 20, tzinfo=VN)}


def test_a_unit_that_ceases_to_exist_has_its_roster_alerts_end_then(simulation: Simulation) -> None:
    merger = datetime(2025, 7, 1, tzinfo=VN)
    ended = _resolved(simulation, "plan-2024")
    # Hà Giang's missed 2024 plan ends with Hà Giang; Tuyên Quang's own stays overdue.
    assert ended["VN-03"].annotations["resolution"] == "unit_ended" and ended["VN-03"].ends_at == merger
    assert "VN-07" not in ended and len(ended) == 29
    # Staleness: the 63 from 2025-05-01 (a month later, stale); the 29 merged ones end on 1 July.
    stale = _fired(simulation, "silent", "stale")
    assert len(stale) == 63
    gone = _resolved(simulation, "silent")
    assert set(gone) == set(ended) and {t.ends_at for t in gone.values()} == {merger}
