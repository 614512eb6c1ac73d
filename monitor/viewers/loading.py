"""Reading the viewers file (``MONITOR_VIEWERS``), and following its changes while the worker runs.

Read as the publisher registry is: YAML within the rule files' budgets,
every mistake named by file, line and field, a roster a viewer names checked
against the rule pack's. ``ViewersFile`` reads the file again when it
changes (a token added or revoked takes effect without a restart); a changed
file that does not validate is logged and the viewers in force stay.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from monitor.publishers.loading import RegistryFileError, check_rosters, parse_document
from monitor.viewers.registry import ViewerAccess, ViewerRegistry, viewer_access
from rules.language import RulePack

__all__ = ["ViewersFile", "load_viewers"]

log = logging.getLogger(__name__)

#: How often, at most, a worker looks whether the viewers file changed.
RECHECK_SECONDS = 2.0


def load_viewers(path: Path, pack: RulePack) -> ViewerRegistry:
    """The viewers in ``path``, checked against ``pack``'s rosters.

    Raises:
        RegistryFileError: with every problem found.
    """
    parsed, registry = parse_document(path, ViewerRegistry, "viewers")
    if registry is not None:
        entries: list[tuple[str, tuple[str | int, ...], tuple[str, ...]]] = [
            (f"viewer '{v.id}'", ("viewers", i), v.rosters) for i, v in enumerate(registry.viewers)
        ]
        if registry.anonymous is not None:
            entries.append(("anonymous readers", ("anonymous",), registry.anonymous.rosters))
        check_rosters(parsed, entries, pack)
    if parsed.problems or registry is None:
        raise RegistryFileError(parsed.problems)
    return registry


class ViewersFile:
    """The viewers in force on a worker: the file, read at start and again whenever it changes.

    Args:
        path: The viewers file.
        pack: The rule pack in force (its rosters give a viewer's units).

    Raises:
        RegistryFileError: the file does not validate at start.
    """

    def __init__(self, path: Path, pack: RulePack) -> None:
        self.path = path
        self._pack = pack
        self._stamp = self._stamp_now()
        self._access = viewer_access(load_viewers(path, pack), pack)
        self._checked = time.monotonic()

    def _stamp_now(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def use_pack(self, pack: RulePack) -> None:
        """Bind the viewers to a new rule pack's rosters."""
        self._pack = pack
        self._access = viewer_access(self._access.registry, pack)

    def access(self) -> ViewerAccess:
        """The viewers in force, read again first if the file changed (looked at every ``RECHECK_SECONDS``)."""
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:
            return self._access
        self._checked = now
        stamp = self._stamp_now()
        if stamp == self._stamp:
            return self._access
        self._stamp = stamp
        try:
            registry = load_viewers(self.path, self._pack)
        except (RegistryFileError, OSError) as exc:
            log.error("viewers file %s changed but cannot be used; the viewers in force stay: %s", self.path, exc)
            return self._access
        self._access = viewer_access(registry, self._pack)
        log.warning(
            "viewers: read %s again: %d viewers (version %s)", self.path, len(registry.viewers), self._access.version
        )
        return self._access
