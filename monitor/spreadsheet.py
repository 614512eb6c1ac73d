"""CSV for spreadsheets: every CSV the monitor writes goes through ``csv_bytes``, so no cell is a formula.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel and LibreOffice as a formula (``=HYPERLINK(…)``,
``+cmd|' /C calc'!A0``), whoever wrote it. Following OWASP's "CSV
injection" advice such a cell is written with a leading ``'``, which the
spreadsheet shows as text. Numbers are written as numbers: only text is
neutralised, so a negative count stays a number a spreadsheet can sum.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["FORMULA_STARTS", "csv_bytes", "safe_cell"]

#: What makes a spreadsheet read a text cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value as a CSV cell no spreadsheet runs: text that starts like a formula gets a leading ``'``.

    Args:
        value: The cell's value; ``int`` and ``float`` pass unchanged, ``None`` is an empty cell,
            anything else is written as its text.

    Returns:
        The value to hand to the CSV writer.
    """
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """Rows as CSV a spreadsheet opens correctly and safely: UTF-8 with a byte-order mark, CRLF lines.

    Args:
        columns: The header row, and which keys of each row are written (others are left out).
        rows: One mapping per line; a missing key is an empty cell.

    Returns:
        The file's bytes.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(name)) for name in columns])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
