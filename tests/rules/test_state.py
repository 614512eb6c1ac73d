"""States built from events without pydantic's validation are the states pydantic would build."""

from __future__ import annotations

import copy
import pickle

from rules.state import IndicatorState, TaskState
from tests.conftest import vn
from tests.rules.fixtures import indicator, task


def test_a_task_built_from_events_is_what_validation_builds() -> None:
    first = TaskState.from_event(task(vn(2024, 7, 19), deadline=vn(2024, 7, 30), labels={"lĩnh vực": "tư pháp"}))
    built = TaskState.from_event(task(vn(2024, 7, 20), "completed", deadline=vn(2024, 7, 30)), first)
    validated = TaskState.model_validate(built.model_dump())
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_extra is None and built.__pydantic_private__ is None
    assert list(built.first_reached) == ["in_progress", "completed"]
    assert built.model_copy(update={"title": "x"}).title == "x" and built.title is None
    assert copy.deepcopy(built) == built and pickle.loads(pickle.dumps(built)) == built


def test_an_indicator_built_from_an_event_is_what_validation_builds() -> None:
    built = IndicatorState.from_event(indicator(vn(2024, 7, 19), 0.458))
    validated = IndicatorState.model_validate(built.model_dump())
    assert built == validated and built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set and built.model_extra is None
