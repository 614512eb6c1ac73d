from __future__ import annotations

from events.schema import render_schemas
from tests.conftest import REPO


def test_committed_schemas_match_the_models() -> None:
    for name, text in render_schemas().items():
        committed = (REPO / "deploy" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == text, f"deploy/schemas/{name} is stale: run `make schemas` and commit it"


def test_schemas_name_the_required_fields() -> None:
    import json

    task = json.loads(render_schemas()["task-status.schema.json"])
    assert set(task["required"]) == {"event_id", "source", "unit_id", "task_id", "status", "occurred_at"}
    indicator = json.loads(render_schemas()["indicator.schema.json"])
    assert set(indicator["required"]) == {"event_id", "source", "unit_id", "indicator", "occurred_at"}
