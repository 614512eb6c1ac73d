"""CSV for spreadsheets: every CSV the monitor writes goes through ``csv_bytes``, so no cell is a formula.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel and LibreOffice as a formula (``=HYPERLINK(…)``,
``+cmd|' /C calc'!A0``), whoever wrote it. Following OWASP's "CSV
injection" advice such a cell is written with a leading ``'``, which the
spreadsheet shows as text. Numbers are written as numbers: only text is
neutralised, so a negative count stays a number a spreadsheet can sum.

Cells are written as a spreadsheet user reads them, not as Python prints
them: a whole number is ``9``, not ``9.0`` (a ratio of exactly 1 is ``1``,
others keep their decimals, ``0.458``: fractions of one, for the sheet to
format as a percentage); a yes-or-no is ``true`` or ``false`` (``TRUE_CELL``,
``FALSE_CELL``), as in the JSON of the same figures and as Excel and
LibreOffice read a boolean, never Python's ``True``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["FALSE_CELL", "FORMULA_STARTS", "TRUE_CELL", "Sheet", "csv_bytes", "safe_cell"]

#: What makes a spreadsheet read a text cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A yes-or-no cell, in every CSV the monitor writes.
TRUE_CELL = "true"
FALSE_CELL = "false"


def safe_cell(value: object) -> object:
    """A value as a CSV cell no spreadsheet runs: text that starts like a formula gets a leading ``'``.

    Args:
        value: The cell's value; ``None`` is an empty cell, a ``bool`` is ``TRUE_CELL`` or ``FALSE_CELL``,
            an ``int`` passes unchanged, a whole ``float`` becomes an ``int`` (``9.0`` → ``9``) and any other
            ``float`` passes unchanged; anything else is written as its text.

    Returns:
        The value to hand to the CSV writer.
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return TRUE_CELL if value else FALSE_CELL
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Sheet:
    """A CSV file written row by row, as ``csv_bytes`` writes it (a long one can be written in slices).

    Args:
        columns: The header row, and which keys of each row are written (others are left out).
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self._columns = columns
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, lineterminator="\r\n")
        self._writer.writerow([safe_cell(name) for name in columns])

    def add(self, row: Mapping[str, object]) -> None:
        """One line; a missing key is an empty cell."""
        self._writer.writerow([safe_cell(row.get(name)) for name in self._columns])

    def bytes(self) -> bytes:
        """The file's bytes: UTF-8 with a byte-order mark, CRLF lines."""
        return "\ufeff".encode() + self._out.getvalue().encode("utf-8")


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """Rows as CSV a spreadsheet opens correctly and safely: UTF-8 with a byte-order mark, CRLF lines.

    Args:
        columns: The header row, and which keys of each row are written (others are left out).
        rows: One mapping per line; a missing key is an empty cell.

    Returns:
        The file's bytes.
    """
    sheet = Sheet(columns)
    for row in rows:
        sheet.add(row)
    return sheet.bytes()
