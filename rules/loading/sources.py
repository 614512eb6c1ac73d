"""Reading rule-side files safely: bounded size, nesting and alias expansion; paths kept inside the pack.

A rule file is data from whoever wrote the pack. A 353-byte "billion laughs"
file expands to gigabytes through YAML aliases, 5,000 nested brackets exhaust
Python's recursion, and a roster path ``../../../../etc/passwd`` reads any
file the worker can. Each is refused here with a one-line reason and a line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "SourceError",
    "compose",
    "confined",
    "read_source",
]

#: Largest rule file, roster or rule test file read (the bundled pack's largest file is a few KiB).
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of mappings and sequences (the bundled pack nests 7 deep).
MAX_DEPTH = 64
#: Most values one file may hold once its aliases are expanded (the bundled pack's largest holds a few hundred).
MAX_VALUES = 100_000


class SourceError(Exception):
    """A file that is not read or parsed, for a reason given in one line; ``line`` is 1-based, if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def read_source(path: Path) -> str:
    """The text of a UTF-8 file of at most ``MAX_FILE_BYTES``.

    Raises:
        SourceError: the file cannot be read, is too large or is not UTF-8.
    """
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # never more, whatever the file (or device) holds
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(f"the file is larger than {MAX_FILE_BYTES} bytes; split it into smaller files")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(f"not UTF-8 text (byte offset {exc.start}); save the file as UTF-8", line) from None


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's composer recurses once per nesting level; stop before Python's recursion limit does."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.get_mark().line + 1  # where the reader is: at most a token past the deepest value
                raise SourceError(f"values nested more than {MAX_DEPTH} levels deep; a rule file needs far fewer", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose(text: str) -> yaml.Node | None:
    """The YAML node graph of ``text`` (aliases still shared, not expanded); ``None`` for an empty document.

    Raises:
        SourceError: the nesting is deeper than ``MAX_DEPTH``.
        yaml.MarkedYAMLError: the text is not valid YAML.
    """
    loader = _DepthLimitedLoader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def confined(base: Path, reference: str, root: Path) -> Path | None:
    """The file ``reference`` names relative to ``base``, or ``None`` when it resolves outside ``root``.

    Symbolic links are followed before the check, so a link cannot lead out either.
    """
    target = (base / reference).resolve()
    return target if target.is_relative_to(root.resolve()) else None
