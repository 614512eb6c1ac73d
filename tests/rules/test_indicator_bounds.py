"""Indicator bounds declared in rule files: loaded into the pack, checked there, mistakes located."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.exceptions import RuleFileError
from rules.loading import BUNDLED_PACK, load_pack
from tests.conftest import vn
from tests.rules.fixtures import THRESHOLD_RULES, indicator, pack

BOUNDS = "indicators:\n  online_dossier_ratio: {min: 0, max: 1}\n  backlog: {min: 0}\n"


def test_the_bundled_pack_bounds_its_ratio_indicators_to_zero_and_one() -> None:
    bounds = load_pack([BUNDLED_PACK]).indicator_bounds
    ratios = {
        "online_dossier_ratio",
        "dossier_digitisation_ratio",
        "eid_activation_ratio",
        "essential_services_online_ratio",
    }
    assert set(bounds) == ratios
    assert {(b.min, b.max) for b in bounds.values()} == {(0.0, 1.0)}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("online_dossier_ratio", -5, "indicator 'online_dossier_ratio': value -5 is outside its bounds [0, 1]"),
        ("online_dossier_ratio", 1.0000001, "value 1 is outside its bounds [0, 1]"),
        ("backlog", -1, "indicator 'backlog': value -1 is outside its bounds [0, inf]"),
        ("online_dossier_ratio", 0.0, None),
        ("online_dossier_ratio", 1.0, None),
        ("backlog", 1e300, None),
        ("unbounded", -5, None),
    ],
)
def test_the_pack_refuses_values_outside_the_bounds(
    tmp_path: Path, name: str, value: float, reason: str | None
) -> None:
    refusal = pack(tmp_path, BOUNDS + THRESHOLD_RULES).refusal(indicator(vn(2024, 7, 1), value, name=name))
    assert refusal == reason if reason is None else reason in (refusal or "")


def test_bounds_in_the_wrong_order_are_a_located_mistake(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        pack(tmp_path, "indicators:\n  ratio: {min: 1, max: 0}\n" + THRESHOLD_RULES)
    assert ":2: field 'indicators.ratio': min (1) is above max (0)" in str(caught.value)


def test_one_indicator_bounded_differently_in_two_files_is_a_mistake(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BOUNDS + THRESHOLD_RULES, encoding="utf-8")
    other = "indicators:\n  online_dossier_ratio: {min: 0, max: 100}\n" + THRESHOLD_RULES.replace("online-low", "x")
    (tmp_path / "b.yaml").write_text(other, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_pack([tmp_path])
    assert (
        "b.yaml:2: field 'indicators.online_dossier_ratio': indicator 'online_dossier_ratio' has other bounds in"
        in (str(caught.value))
    )
