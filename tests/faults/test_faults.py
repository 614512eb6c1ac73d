"""Fault scenarios once, with a small workload: 0 lost, 0 duplicated, 0 wrong, 0 wrong views.

``make chaos`` runs the same scenarios three times each at 3,000 tasks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.faults.scenarios import FAKETIME, SCENARIOS, Scenario

pytestmark = pytest.mark.integration

ITEMS = 200


def _unable(scenario: Scenario) -> str | None:
    """Why this machine cannot run the scenario, if it cannot."""
    if scenario.name == "disk full" and os.geteuid() != 0:
        return "mounting a small tmpfs needs root (CI runs as root)"
    if scenario.name == "clock jump" and not FAKETIME.exists():
        return f"{FAKETIME} is missing: apt-get install faketime (.ci/run installs it)"
    return None


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name.replace(" ", "-").replace(",", "") for s in SCENARIOS])
def test_the_alerts_topic_and_every_view_stay_exact(scenario: Scenario, tmp_path: Path) -> None:
    reason = _unable(scenario)
    if reason is not None:
        unavailable(reason)
    report = scenario.run(tmp_path, ITEMS)
    assert report.clean, "\n".join(report.detail)
