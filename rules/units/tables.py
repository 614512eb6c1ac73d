"""Units as CSV rows: the long lists (3,321 communes, the 10,000 before them) that YAML would make slow.

A table's first line names its columns, a subset of ``TABLE_COLUMNS``;
each further line is one unit. Empty cells are left out; ``merged_into``
holds one or more ids separated by spaces. Rows are validated by the same
model as a YAML registry file (``UnitSpec``), so both say the same thing the
same way; each row keeps its line for the messages.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

__all__ = ["TABLE_COLUMNS", "TableRow", "read_table"]

#: The columns a unit table may have (``id`` and ``name`` are required).
TABLE_COLUMNS = ("id", "name", "level", "kind", "parent", "from", "until", "merged_into", "national", "iso")


@dataclass(frozen=True, slots=True)
class TableRow:
    """One unit's row: its 1-based line and its cells as a registry file would give them."""

    line: int
    data: dict[str, Any]


def read_table(text: str) -> tuple[list[TableRow], list[tuple[int, str, str]]]:
    """The rows of a unit table, and its problems as (line, field, message).

    A header naming an unknown column, or missing ``id`` or ``name``, is one problem and no rows.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [(1, "(file)", "the table is empty; its first line names the columns")]
    except csv.Error as exc:
        return [], [(1, "(file)", f"not a valid CSV table: {exc}")]
    columns = [c.strip() for c in header]
    unknown = [c for c in columns if c not in TABLE_COLUMNS]
    missing = [c for c in ("id", "name") if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        why = (
            f"unknown column(s) {', '.join(unknown)}"
            if unknown
            else f"missing column(s) {', '.join(missing)}"
            if missing
            else "a column is named twice"
        )
        return [], [(1, "(file)", f"{why}; a unit table has the columns {', '.join(TABLE_COLUMNS)}")]
    rows: list[TableRow] = []
    problems: list[tuple[int, str, str]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                problems.append((line, "(row)", f"{len(cells)} cells where the header names {len(columns)} columns"))
                continue
            data: dict[str, Any] = {column: cell.strip() for column, cell in zip(columns, cells, strict=True)}
            data = {column: value for column, value in data.items() if value}
            if "merged_into" in data:
                data["merged_into"] = data["merged_into"].split()
            rows.append(TableRow(line, data))
    except csv.Error as exc:
        problems.append((reader.line_num, "(row)", f"not a valid CSV row: {exc}"))
    return rows, problems
