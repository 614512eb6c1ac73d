from __future__ import annotations

from events.schema import render_schemas
from tests.conftest import REPO


def test_committed_schemas_match_the_models() -> None:
    from rules.loading import render_rule_schemas

    for name, text in {**render_schemas(), **render_rule_schemas()}.items():
        committed = (REPO / "deploy" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == text, f"deploy/schemas/{name} is stale: run `make schemas` and commit it"


def test_schemas_name_the_required_fields() -> None:
    import json

    task = json.loads(render_schemas()["task-status.schema.json"])
    assert set(task["required"]) == {"event_id", "source", "unit_id", "task_id", "status", "occurred_at"}
    indicator = json.loads(render_schemas()["indicator.schema.json"])
    assert set(indicator["required"]) == {"event_id", "source", "unit_id", "indicator", "occurred_at"}


def test_bundled_rule_files_validate_against_the_generated_schemas() -> None:
    import json

    import jsonschema
    import yaml

    from rules.loading import BUNDLED_PACK, render_rule_schemas

    schemas = {name: json.loads(text) for name, text in render_rule_schemas().items()}
    checked = 0
    for path in sorted(BUNDLED_PACK.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        name = (
            "roster.schema.json"
            if "roster" in data
            else "units.schema.json"
            if "registry" in data
            else "rule-tests.schema.json"
            if "tests" in data
            else "rules.schema.json"
        )
        jsonschema.validate(json.loads(json.dumps(data, default=str)), schemas[name])
        checked += 1
    assert checked >= 5
    bad = {"groups": [{"name": "g", "rules": [{"id": "x", "kind": "deadline", "warn_before": ["soon"]}]}]}
    try:
        jsonschema.validate(bad, schemas["rules.schema.json"])
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepted a bad duration")


def test_committed_dashboard_matches_the_code() -> None:
    from monitor.devtools.grafana import render_dashboard

    committed = (REPO / "deploy" / "grafana" / "dashboards" / "compliance.json").read_text(encoding="utf-8")
    assert committed == render_dashboard(), "deploy/grafana/dashboards/compliance.json is stale: run `make schemas`"
