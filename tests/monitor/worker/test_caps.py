"""The per-unit caps on task kinds and indicators: pure, against a unit's state as the engine keeps it."""

from __future__ import annotations

from pathlib import Path

from monitor.worker.caps import UnitCaps
from rules.engine import apply_event
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.state import UnitState
from tests.conftest import vn
from tests.rules.fixtures import BOTH_RULES, indicator, pack, task

NOW = vn(2024, 7, 1)


def _unit(rules: RulePack, kinds: int, indicators: int) -> UnitState:
    state: UnitState | None = None
    for n in range(kinds):
        state = apply_event(rules, state, task(NOW, task_id=f"T-{n}", kind=f"k{n}"), NOW).state
    for n in range(indicators):
        state = apply_event(rules, state, indicator(NOW, 0.5, name=f"i{n}"), NOW).state
    assert state is not None
    return state


def test_a_new_kind_over_the_cap_is_refused_and_known_kinds_still_pass(tmp_path: Path) -> None:
    rules = pack(tmp_path, BOTH_RULES)
    caps = UnitCaps(max_kinds=3, max_indicators=10)
    full = _unit(rules, 3, 0)
    refused = caps.refusal(full, task(NOW, task_id="T-new", kind="k-new"))
    assert refused is not None and refused[0] == "kinds" and "MONITOR_MAX_KINDS_PER_UNIT" in refused[1]
    assert caps.refusal(full, task(NOW, task_id="T-new", kind="k1")) is None  # a kind it has
    assert caps.refusal(full, task(NOW, task_id="T-0", kind="k0")) is None  # an update of a task it has
    assert caps.refusal(_unit(rules, 2, 0), task(NOW, task_id="T-new", kind="k-new")) is None  # room for one more
    assert caps.refusal(None, task(NOW, kind="anything")) is None  # a unit's first event


def test_a_task_moving_to_a_new_kind_counts_against_the_cap(tmp_path: Path) -> None:
    rules = pack(tmp_path, BOTH_RULES)
    full = _unit(rules, 3, 0)
    refused = UnitCaps(max_kinds=3, max_indicators=10).refusal(full, task(NOW, task_id="T-0", kind="k-other"))
    assert refused is not None and refused[0] == "kinds"


def test_a_new_indicator_over_the_cap_is_refused_and_reported_ones_still_pass(tmp_path: Path) -> None:
    rules = pack(tmp_path, BOTH_RULES)
    caps = UnitCaps(max_kinds=10, max_indicators=2)
    full = _unit(rules, 0, 2)
    refused = caps.refusal(full, indicator(NOW, 0.4, name="i-new"))
    assert refused is not None and refused[0] == "indicators" and "'i-new'" in refused[1]
    assert caps.refusal(full, indicator(NOW, 0.4, name="i1")) is None


def test_the_pack_knows_the_kinds_and_indicators_its_rules_name(tmp_path: Path) -> None:
    rules = pack(tmp_path, BOTH_RULES)
    assert "task" in rules.known_kinds and "online_dossier_ratio" in rules.known_indicators
    assert "*" not in rules.known_indicators


def test_the_bundled_pack_knows_its_kinds_and_indicators() -> None:
    rules = load_pack([BUNDLED_PACK])
    assert {"task", "dossier", "inspection_plan"} <= rules.known_kinds
    assert {"online_dossier_ratio", "eid_activation_ratio"} <= rules.known_indicators
