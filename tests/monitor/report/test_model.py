"""The report's CSV: rows in rank order, cells as a spreadsheet user reads them; its JSON as it was."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from monitor.report import Report, report_csv, report_json, report_of
from monitor.report.html import LISTED, report_html, report_html_parts
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import Deadline, DeadlineOutcome, IndicatorStanding, UnitScorecard, parse_period
from rules.review.deadlines import DeadlineTally
from rules.state import Extension
from tests.conftest import vn
from tests.rules.fixtures import DEADLINE_RULES, pack

DUE = vn(2024, 8, 1)


def _deadline(outcome: DeadlineOutcome, days: int | None = None) -> Deadline:
    return Deadline("task-overdue", f"T-{days}", "Rà soát", DUE, outcome, DUE, days)


def _report(tmp_path: Path) -> Report:
    ratio = IndicatorStanding("online-low", "online_dossier_ratio", 0.5, "below", 0.458, 0.6, DUE, True)
    cards = [  # in roster (unit id) order, which is not rank order
        UnitScorecard("VN-01", "Lai Châu"),  # nothing due: no rank
        UnitScorecard(
            "VN-02", "Lào Cai", (_deadline(DeadlineOutcome.LATE, 8), _deadline(DeadlineOutcome.LATE, 10)), reported=True
        ),
        UnitScorecard("VN-03", "Hà Giang", (_deadline(DeadlineOutcome.ON_TIME),), (ratio,), reported=True),
        UnitScorecard(
            "VN-04", "Cao Bằng", (_deadline(DeadlineOutcome.ON_TIME), _deadline(DeadlineOutcome.LATE, 3)), reported=True
        ),
        UnitScorecard("VN-05", "Sơn La", (_deadline(DeadlineOutcome.ON_TIME),), reported=True),  # ties VN-03
    ]
    return report_of(pack(tmp_path, DEADLINE_RULES), parse_period("2024-Q3"), cards, vn(2024, 10, 2))


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_rows_come_rank_1_first_then_the_unranked_by_unit_id(tmp_path: Path) -> None:
    rows = _rows(report_csv(_report(tmp_path)))
    assert [(r["rank"], r["unit_id"]) for r in rows] == [
        ("1", "VN-03"),  # a tie on score, overdue and late: by unit id
        ("2", "VN-05"),
        ("3", "VN-04"),
        ("4", "VN-02"),
        ("", "VN-01"),
    ]


def test_csv_cells_read_as_a_spreadsheet_user_expects(tmp_path: Path) -> None:
    rows = {r["unit_id"]: r for r in _rows(report_csv(_report(tmp_path)))}
    late = rows["VN-02"]  # late by 8 and 10 days: the median is 9.0 to Python
    assert (late["late_median_days"], late["late_worst_days"], late["score"]) == ("9", "10", "0")
    kept = rows["VN-03"]
    assert (kept["score"], kept["reported"], kept["online_dossier_ratio_meets_target"]) == ("1", "true", "true")
    assert (kept["online_dossier_ratio_start"], kept["online_dossier_ratio_change"]) == ("0.458", "0.142")
    assert rows["VN-04"]["score"] == "0.5"
    assert rows["VN-01"]["reported"] == "false"


def test_the_json_keeps_its_order_and_its_types(tmp_path: Path) -> None:
    data = report_json(_report(tmp_path))
    assert [u["unit_id"] for u in data["units"]] == ["VN-01", "VN-02", "VN-03", "VN-04", "VN-05"]
    assert data["ranking"] == ["VN-03", "VN-05", "VN-04", "VN-02"]
    late = data["units"][1]
    assert late["deadlines"]["late_median_days"] == 9.0 and late["score"] == 0.0 and late["reported"] is True
    assert data["units"][2]["indicators"][0]["meets_target"] is True


def test_the_html_names_a_date_deadline_by_its_date_and_lists_each_extension(tmp_path: Path) -> None:
    granted = Extension(date(2024, 8, 15), "125/QĐ-BCĐ06", "to-cong-tac", vn(2024, 7, 22, 9), "x-1", "Tổ công tác")
    extended = Deadline(
        "task-overdue",
        "NV-7",
        "Rà soát",
        vn(2024, 8, 16),  # the end of 15/08: a date
        DeadlineOutcome.EXTENDED,
        vn(2024, 8, 2),
        first_due=vn(2024, 7, 20),  # the end of 19/07
        extension=granted,
        dated=(True, True),
    )
    late = Deadline("task-overdue", "NV-8", "Báo cáo", vn(2024, 8, 1), DeadlineOutcome.LATE, vn(2024, 8, 3), 2)
    cards = [UnitScorecard("VN-22", "Nghệ An", (extended, late), reported=True)]
    html = report_html(report_of(pack(tmp_path, DEADLINE_RULES), parse_period("2024-Q3"), cards, vn(2024, 10, 2)))
    extensions = html.split("<h2>Hạn được gia hạn</h2>", 1)[1].split("<h2>", 1)[0]
    assert "19/07/2024" in extensions and "15/08/2024" in extensions and "125/QĐ-BCĐ06" in extensions
    assert "16/08/2024 00:00" not in html and "20/07/2024 00:00" not in html  # a date is not the next midnight
    assert "01/08/2024 00:00" in html  # an instant keeps its time
    assert "trong thời hạn gia hạn" in extensions and "Tổ công tác" in extensions


def test_the_csv_has_the_json_numbers_of_every_unit_without_reading_its_deadlines(tmp_path: Path) -> None:
    report = _report(tmp_path)
    data = {u["unit_id"]: u for u in report_json(report)["units"]}
    assert sum(len(u["items"]) for u in data.values()) == 6
    assert "items" not in report_json(report, items=False)["units"][1]
    for row in _rows(report_csv(report)):
        numbers = data[row["unit_id"]]["deadlines"]
        assert (row["on_time"], row["late"], row["overdue"]) == tuple(
            str(numbers[k]) for k in ("on_time", "late", "overdue")
        )


def test_a_long_table_of_deadlines_lists_the_earliest_due_says_how_many_more_and_the_json_lists_them_all(
    tmp_path: Path,
) -> None:
    overdue = tuple(
        Deadline("task-overdue", f"HS-{n}", "Hồ sơ", DUE + timedelta(hours=n), DeadlineOutcome.OVERDUE, None, 30)
        for n in range(1450)
    )
    late = tuple(
        Deadline("task-overdue", f"NV-{n}", "Nhiệm vụ", DUE, DeadlineOutcome.LATE, DUE, 2) for n in range(LISTED)
    )
    cards = [UnitScorecard("VN-22", "Nghệ An", overdue + late, reported=True), UnitScorecard("VN-40", "Bình Thuận")]
    report = report_of(pack(tmp_path, DEADLINE_RULES), parse_period("2024-Q3"), cards, vn(2024, 10, 2))
    parts = list(report_html_parts(report))
    page = report_html(report)
    assert "".join(parts) == page
    assert [n for n in range(1450) if f"HS-{n}<" in page] == list(range(LISTED)), "the earliest due"
    assert page.count("hạn khác") == 1 and "… và 1.350 hạn khác" in page, "how many more, once"
    assert all(f"NV-{n}<" in page for n in range(LISTED)), "a table of exactly LISTED is whole"
    assert len(page) < 100_000
    (listed,) = [u for u in report_json(report)["units"] if u["unit_id"] == "VN-22"]
    assert len(listed["items"]) == 1450 + LISTED


def _kept_for_a_page(card: UnitScorecard, shown: int) -> UnitScorecard:
    """``card`` as a worker makes it for a page: its deadlines counted, only those the page shows kept."""
    tally = DeadlineTally(shown)
    for deadline in card.deadlines:
        tally.add(deadline)
    return replace(card, deadlines=tally.kept(), counts=tally.counts(), shown=shown)


def test_a_page_of_scorecards_that_keep_only_what_it_shows_is_the_page_of_every_deadline(tmp_path: Path) -> None:
    """Hà Giang's scorecard (merged into Tuyên Quang on 1/7/2025) rolls up into Tuyên Quang's either way."""
    due = vn(2025, 6, 1)
    extension = Extension(due=date(2025, 6, 20), reference="QĐ 12", granted_by="tct", granted_at=due, event_id="x")

    def deadlines(prefix: str, n: int) -> tuple[Deadline, ...]:
        outcomes = (DeadlineOutcome.OVERDUE, DeadlineOutcome.LATE, DeadlineOutcome.ON_TIME, DeadlineOutcome.EXTENDED)
        return tuple(
            Deadline(
                "task-overdue",
                f"{prefix}-{i}",
                "Hồ sơ",
                due + timedelta(hours=i % 37),  # many share a due instant
                outcomes[i % 4],
                None,
                i % 11 if outcomes[i % 4] in (DeadlineOutcome.OVERDUE, DeadlineOutcome.LATE) else None,
                extension=extension if i % 9 == 0 else None,
            )
            for i in range(n)
        )

    every = [
        UnitScorecard("VN-03", "Hà Giang", deadlines("HG", 700), reported=True, ended_at=vn(2025, 7, 1)),
        UnitScorecard("VN-07", "Tuyên Quang", deadlines("TQ", 900), reported=True),
        UnitScorecard("VN-22", "Nghệ An", deadlines("NA", 30), reported=True),
    ]
    rules = load_pack([BUNDLED_PACK])  # the units of Vietnam before and after the 2025 arrangement
    whole = report_of(rules, parse_period("2025-Q2"), every, vn(2025, 7, 2), units_at=vn(2025, 7, 2))
    page = report_of(
        rules, parse_period("2025-Q2"), [_kept_for_a_page(c, LISTED) for c in every], vn(2025, 7, 2), vn(2025, 7, 2)
    )
    (tuyen_quang,) = [c for c in page.cards if c.unit_id == "VN-07"]
    assert [c.unit_id for c in tuyen_quang.rolled_up] == ["VN-03"], "Hà Giang rolled up into Tuyên Quang"
    assert tuyen_quang.count(DeadlineOutcome.OVERDUE) == 175 + 225 > LISTED, "more than the page lists"
    assert len(tuyen_quang.deadlines) <= 2 * 2 * LISTED + len(tuyen_quang.extended) < 1600, "two units' first"
    assert report_html(page) == report_html(whole)
    # Tuyên Quang's from a worker of an earlier version, which keeps every deadline: the same page.
    mixed = [_kept_for_a_page(every[0], LISTED), every[1], _kept_for_a_page(every[2], LISTED)]
    assert report_html(report_of(rules, parse_period("2025-Q2"), mixed, vn(2025, 7, 2), vn(2025, 7, 2))) == (
        report_html(whole)
    )
    short = [_kept_for_a_page(every[2], 3)]  # kept for a shorter table than the page's: refused, not cut short
    with pytest.raises(ValueError, match="keeps the first 3 of its overdue deadlines, not 100"):
        report_html(report_of(rules, parse_period("2025-Q2"), short, vn(2025, 7, 2), vn(2025, 7, 2)))
    assert report_csv(page) == report_csv(whole)
    assert report_json(page, items=False) == report_json(whole, items=False)
    with pytest.raises(ValueError, match="keeps only the deadlines a page shows"):
        report_json(page)
