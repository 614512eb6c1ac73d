"""Rules: the rule language, the pure evaluation engine, and everything around them, one subpackage per concern.

From the ground up (each imports only the ones before it, through their
facades, and ``rules.exceptions``):

- ``rules.state``: what the engine keeps and writes: ``UnitState`` and its
  items, the subjects of alerts, ``AlertTransition`` and ``fingerprint``.
- ``rules.language``: the rule language and its compiled form: one module per
  rule kind (deadline, threshold, staleness, aggregate) and what they share
  (durations, the working-day calendar, matchers, templates, rosters), and
  ``RulePack``/``CompiledRule``.
- ``rules.vietnamese``: the Vietnamese texts of alerts and figures: alert
  summaries, resolution texts, numbers, dates and durations as readers write
  them.
- ``rules.engine``: evaluation: ``apply_event``, ``advance``, ``seed``.
- ``rules.loading``: reading, checking and publishing packs: rule files and
  rosters from YAML, the rule test file format, JSON Schemas, a published
  pack, the diff of two packs (uses ``rules.language`` only).
- ``rules.review``: review periods and unit scorecards.
- ``rules.simulation``: the engine on a simulated clock (``monitor replay``)
  and the rule tests run on it (``monitor rules test``).

``rules.exceptions`` holds the package's errors. The data folders stay here:
``rules/packs`` (the bundled pack, its rosters and rule tests) and
``rules/examples``.
"""

__all__: list[str] = []
