"""The engine on a simulated clock, and the rule tests run on it.

``clock``: ``Simulation``, ``simulate`` and ``replay`` (what ``monitor
replay`` and ``monitor report`` run); ``rule_tests``: rule test files run
scenario by scenario (``monitor rules test``), and a pack checked with its
tests before it is put in force.
"""

from rules.simulation.clock import Simulation, TimedTransition, replay, simulate
from rules.simulation.rule_tests import checked_pack, run_test_file

__all__ = [
    "Simulation",
    "TimedTransition",
    "checked_pack",
    "replay",
    "run_test_file",
    "simulate",
]
