"""JSON Schema of the events, generated from the models (never by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from events.models import IndicatorEvent, TaskStatusEvent

__all__ = ["SCHEMA_FILES", "render_schemas", "write_schemas"]

SCHEMA_FILES: dict[str, type[TaskStatusEvent] | type[IndicatorEvent]] = {
    "task-status.schema.json": TaskStatusEvent,
    "indicator.schema.json": IndicatorEvent,
}


def _schema(model: type[TaskStatusEvent] | type[IndicatorEvent]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render_schemas() -> dict[str, str]:
    """Return file name → JSON text for every event schema."""
    return {
        name: json.dumps(_schema(model), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for name, model in SCHEMA_FILES.items()
    }


def write_schemas(directory: Path, extra: dict[str, str] | None = None) -> list[Path]:
    """Write the event schemas (and ``extra`` name → text) into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in {**render_schemas(), **(extra or {})}.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
