"""Units as data: who exists when, under which codes, and what became of them.

``model``: what a registry file says (``UnitSpec``, ``UnitFile``);
``tables``: the same units as CSV rows (the long lists: communes);
``registry``: ``UnitRegistry``, compiled for the hot path (``resolve`` a code
at an instant) and for rosters, reports and the console (units in force,
lineage); ``placing``: an event put on the unit it belongs to (``place``).
"""

from rules.units.model import Code, CodeKind, FormerName, Level, UnitFile, UnitSpec
from rules.units.placing import UNREGISTERED_CODE, Placed, place
from rules.units.registry import Refused, Resolved, Unit, UnitProblem, UnitRegistry
from rules.units.tables import TABLE_COLUMNS, TableRow, read_table

__all__ = [
    "TABLE_COLUMNS",
    "UNREGISTERED_CODE",
    "Code",
    "CodeKind",
    "FormerName",
    "Level",
    "Placed",
    "Refused",
    "Resolved",
    "TableRow",
    "Unit",
    "UnitFile",
    "UnitProblem",
    "UnitRegistry",
    "UnitSpec",
    "place",
    "read_table",
]
