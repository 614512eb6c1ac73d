"""Whose code wrote a log line: the monitor's, or a library's (faust, mode, aiokafka, ...).

A line is the monitor's own when the code that logged it lies in one of its
packages, whatever its logger is called. faust's services subclassed in a
monitor module (the app, its consumer, the table recovery) log under that
module's logger, but their start-up chatter and recovery tables are written
by faust's code: they are faust's lines. Where a record does not say where it
was logged (``logging._srcfile`` unset), its logger's name decides.

Two policies read this: how much of the libraries' lines a worker writes
(``monitor.worker.runner``), and which lines may carry event text that must
be escaped (``monitor.cli.terminal``).
"""

from __future__ import annotations

import importlib.util
import logging
import os

__all__ = ["OWN_PACKAGES", "written_by_monitor"]

#: The packages of this project: their code may log event text, and their INFO lines are worth reading.
OWN_PACKAGES = ("monitor", "events", "rules")


def _package_directory(name: str) -> str:
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return os.path.join(locations[0], "") if locations else f"\0{name}"  # never a prefix of a real path


_DIRECTORIES = tuple(_package_directory(name) for name in OWN_PACKAGES)


def written_by_monitor(record: logging.LogRecord) -> bool:
    """Whether the code that logged ``record`` is the monitor's (its file lies in one of ``OWN_PACKAGES``)."""
    if os.path.isabs(record.pathname):
        return record.pathname.startswith(_DIRECTORIES)
    return record.name.partition(".")[0] in OWN_PACKAGES
