"""A rule pack as published to the rules topic: its files, its version, who applied it, when and why.

``monitor rules apply`` publishes one ``PublishedPack`` per pack; every
worker that follows the topic loads the newest one (``load``) the same way
``monitor rules check`` loads a directory, so a pack in force on the topic is
exactly the files that were checked and tested when it was applied.

The record holds every file of the applied directory (rules, rosters, unit
registries and tables, the pack's own rule tests) by its path inside that
directory, so rosters named by a relative path resolve as they did on the
applier's disk. The files travel compressed (layout 2: ``archive``, a
zlib-compressed JSON object, base64): the bundled unit tables alone are a
megabyte of text, a fifth of that compressed. Records of layout 1 (``files``
as they are) are still read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from rules.exceptions import RuleFileError, RuleProblem
from rules.language import RulePack
from rules.loading.loader import PACK_SUFFIXES, load_pack, rule_files_in

__all__ = ["MAX_PACK_BYTES", "PackTimeline", "PublishedPack", "content_hash", "pack_files"]

#: A pack larger than this (compressed) is refused by ``rules apply`` (a broker's default largest record is 1 MiB).
MAX_PACK_BYTES = 900_000
#: The most a record's archive may hold once decompressed: a record that claims more is refused unread.
MAX_UNPACKED_BYTES = 32 * 1024 * 1024


def pack_files(directory: Path) -> dict[str, str]:
    """Every rule, roster, unit and rule-test file under ``directory``, by its POSIX path inside it.

    Raises:
        RuleFileError: a file that is not UTF-8 text, or no rule files at all.
    """
    files: dict[str, str] = {}
    for path in rule_files_in([directory]):
        name = path.relative_to(directory).as_posix()
        try:
            files[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RuleFileError([RuleProblem(path, None, None, "(file)", f"not UTF-8 text: {exc}")]) from None
    if not files:
        raise RuleFileError([RuleProblem(directory, None, None, "(file)", "no rule files (*.yaml) found")])
    return files


def content_hash(files: dict[str, str]) -> str:
    """A hash of the files' names and contents (what a record is checked against when read)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0" + files[name].encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


class PublishedPack(BaseModel):
    """One record of the rules topic: a whole pack and where it came from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: int = Field(default=2, description="The record's layout; a worker reads layouts it knows (1 and 2).")
    version: str = Field(min_length=1, description="The pack's version (``RulePack.version``): what alerts carry.")
    content: str = Field(min_length=1, description="A hash of the files, checked when the record is read.")
    files: dict[str, str] = Field(min_length=1, description="Every file of the pack, by its path in the pack.")
    applied_at: AwareDatetime
    applied_by: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=2000)

    @field_validator("files")
    @classmethod
    def _relative(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or not name or path.suffix not in PACK_SUFFIXES:
                raise ValueError(f"{name!r} is not the path of a rule, roster or unit file inside the pack")
        return files

    @model_validator(mode="before")
    @classmethod
    def _unpack(cls, data: Any) -> Any:
        """A layout-2 record's ``archive`` read back into ``files``, within ``MAX_UNPACKED_BYTES``."""
        if not isinstance(data, dict) or "archive" not in data:
            return data
        archive = data["archive"]
        if not isinstance(archive, str):
            raise ValueError("'archive' must be a base64 string")
        try:
            packed = base64.b64decode(archive, validate=True)
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, MAX_UNPACKED_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError(f"'archive' holds more than {MAX_UNPACKED_BYTES:,} bytes, or is cut short")
            files = json.loads(raw)
        except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"'archive' is not a compressed pack: {exc}") from None
        return {**{k: v for k, v in data.items() if k != "archive"}, "files": files}

    @model_serializer(mode="wrap")
    def _pack(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.format >= 2 and "files" in data:
            raw = json.dumps(data.pop("files"), ensure_ascii=False, sort_keys=True).encode("utf-8")
            data["archive"] = base64.b64encode(zlib.compress(raw, 9)).decode("ascii")
        return data

    @classmethod
    def of(
        cls, pack: RulePack, files: dict[str, str], *, applied_at: datetime, applied_by: str, message: str = ""
    ) -> PublishedPack:
        """The record of a loaded ``pack`` read from ``files``."""
        return cls(
            version=pack.version,
            content=content_hash(files),
            files=files,
            applied_at=applied_at,
            applied_by=applied_by,
            message=message,
        )

    @property
    def key(self) -> bytes:
        """The record's key: its version, so that compaction keeps the last record of every version."""
        return self.version.encode("utf-8")

    def write(self, directory: Path) -> Path:
        """Write the files under ``directory`` (created, and meant for this pack alone) and return it."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return directory

    def load(self, directory: Path | None = None) -> RulePack:
        """The pack, loaded from its files written under ``directory/<content>`` (a temporary one when ``None``).

        Raises:
            RuleFileError: the files do not match their hash, or do not load (each problem).
        """
        if content_hash(self.files) != self.content:
            where = Path(f"<pack {self.version}>")
            raise RuleFileError([RuleProblem(where, None, None, "(file)", "the files do not match the pack's hash")])
        if directory is not None:
            return load_pack([self.write(directory / self.content)])
        with tempfile.TemporaryDirectory(prefix="monitor-pack-") as tmp:
            return load_pack([self.write(Path(tmp))])


class PackTimeline:
    """The packs in force over time: each from its ``applied_at`` until the next one's.

    Args:
        entries: ``(applied_at, pack)`` pairs in any order.
    """

    def __init__(self, entries: Iterable[tuple[datetime, RulePack]]) -> None:
        self.entries: Sequence[tuple[datetime, RulePack]] = sorted(entries, key=lambda e: e[0])

    def at(self, instant: datetime) -> RulePack | None:
        """The pack in force at ``instant``; ``None`` before the first."""
        found = None
        for applied_at, pack in self.entries:
            if applied_at > instant:
                break
            found = pack
        return found
