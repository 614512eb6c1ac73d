from __future__ import annotations

from monitor.cli.alerts import format_line
from rules.alerts import AlertFilter
from tests.rules.fixtures import transition as _transition


def test_tail_line_and_filter() -> None:
    transition = _transition()
    line = format_line(transition, colour=False)
    assert "FIRING" in line and "VN-22" in line and "NV-27" in line and "Nghệ An: nhiệm vụ quá hạn" in line
    assert format_line(transition, colour=True).startswith("\033[1;31m")
    assert AlertFilter(unit_id="VN-22", severity="critical").matches(transition)
    assert not AlertFilter(rule_id="other").matches(transition)
