"""Rules: models, loading and the pure evaluation engine."""

from rules.alerts import AlertTransition, fingerprint
from rules.engine import Outcome, Result, advance, apply_event
from rules.loader import load_pack, load_rule_file
from rules.pack import RulePack
from rules.state import UnitState

__all__ = [
    "AlertTransition",
    "Outcome",
    "Result",
    "RulePack",
    "UnitState",
    "advance",
    "apply_event",
    "fingerprint",
    "load_pack",
    "load_rule_file",
]
