"""Event files as bulk publishers export them: JSON lines or CSV, read and validated row by row."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from events.codec import Rejection, decode_object
from events.models import Event, EventKind

__all__ = ["FileFormat", "Row", "format_of", "read_rows"]

FileFormat = str  # "jsonl" or "csv"
_CSV_EMPTY = ("",)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a file: the events it holds, or why it was refused."""

    line: int
    events: tuple[Event, ...]
    error: str | None = None


def format_of(path: Path) -> FileFormat:
    """``csv`` for ``*.csv``, else JSON lines."""
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _events(value: Any, kind: EventKind | None) -> tuple[tuple[Event, ...], str | None]:
    items = value if isinstance(value, list) else [value]
    if not items:
        return (), "empty array"
    events: list[Event] = []
    for index, item in enumerate(items):
        result = decode_object(item, kind)
        if isinstance(result, Rejection):
            where = f"item {index}: " if isinstance(value, list) else ""
            return (), where + result.reason
        events.append(result)
    return tuple(events), None


def _decoded(lines: Iterable[bytes], bad: dict[int, str]) -> Iterator[str]:
    """The lines as text; a line that is not UTF-8 is noted in ``bad`` (by line number) and yielded with U+FFFD.

    A file from a legacy system (Windows-1258, TCVN3) must not stop the rest
    of the file from being read: its bad lines are refused one by one.
    """
    for number, raw in enumerate(lines, start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad[number] = f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1} (save the file as UTF-8)"
            yield raw.decode("utf-8", errors="replace")


def _jsonl(path: Path, kind: EventKind | None) -> Iterator[Row]:
    bad: dict[int, str] = {}
    with path.open("rb") as handle:
        for number, text in enumerate(_decoded(handle, bad), start=1):
            if number in bad:
                yield Row(number, (), bad[number])
                continue
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(number, (), f"not JSON: {exc.msg} (column {exc.colno})")
                continue
            events, error = _events(value, kind)
            yield Row(number, events, error)


def _csv_record(row: dict[str, str | None]) -> dict[str, Any]:
    """CSV cells as event fields: empty cells are absent, ``labels.X`` columns (or a JSON ``labels``) are labels."""
    record: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell.strip() in _CSV_EMPTY:
            continue
        if column.startswith("labels."):
            labels[column.removeprefix("labels.")] = cell
        elif column == "labels":
            record["labels"] = json.loads(cell)
        elif column in ("value", "numerator", "denominator"):
            record[column] = float(cell)
        else:
            record[column] = cell
    if labels:
        record["labels"] = {**record.get("labels", {}), **labels}
    return record


def _csv(path: Path, kind: EventKind | None) -> Iterator[Row]:
    bad: dict[int, str] = {}
    with path.open("rb") as handle:
        reader = csv.DictReader(_decoded(handle, bad))
        first = 2  # the first line of the row being read (the header is line 1)
        for row in reader:
            number = reader.line_num
            spanned = [bad[n] for n in range(first, number + 1) if n in bad]
            first = number + 1
            if spanned:
                yield Row(number, (), spanned[0])
                continue
            try:
                record = _csv_record(row)
            except (ValueError, json.JSONDecodeError) as exc:
                yield Row(number, (), f"bad cell: {exc}")
                continue
            events, error = _events(record, kind)
            yield Row(number, events, error)


def read_rows(path: Path, kind: EventKind | None = None, fmt: FileFormat | None = None) -> Iterator[Row]:
    """Every non-blank line of an event file, validated.

    Args:
        path: A ``.jsonl``/``.json`` (one JSON value per line) or ``.csv`` file (a header row of field names).
        kind: The event type of bare rows; ``None`` tells it from the fields (``task_id`` or ``indicator``).
        fmt: ``jsonl`` or ``csv``; from the file name when ``None``.
    """
    reader = _csv if (fmt or format_of(path)) == "csv" else _jsonl
    yield from reader(path, kind)
