"""JSON Schema of rule files, rosters, unit registry files and rule tests, generated from the models (for editors)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from rules.language import Roster, RuleFile
from rules.loading.rule_test_format import RuleTestFile
from rules.units import UnitFile

__all__ = ["RULE_SCHEMA_FILES", "render_rule_schemas"]

RULE_SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "rules.schema.json": RuleFile,
    "roster.schema.json": Roster,
    "units.schema.json": UnitFile,
    "rule-tests.schema.json": RuleTestFile,
}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema(by_alias=True)}


def render_rule_schemas() -> dict[str, str]:
    """Return file name → JSON text for every rule-side schema."""
    return {
        name: json.dumps(_schema(model), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for name, model in RULE_SCHEMA_FILES.items()
    }
