"""A stored subject's derived keys: its task by kind and by due instant, and its wake-up in time order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest
from faust.stores.rocksdb import Store

from events.models import TaskStatus
from monitor.state.keys import (
    ENCODER,
    FORMAT_KEY,
    RESTORING_KEY,
    SUBJECT,
    SubjectItem,
    derived,
    due_key,
    in_changelog,
    item_key,
    kind_prefix,
    wake_key,
)
from rules.state import Extension, IndicatorState, Reached, TaskState

_AT = datetime(2024, 7, 20, 1, 2, 3, tzinfo=UTC)
_TASK = TaskState(
    task_id="HS-000.1/2024",
    kind="hồ_sơ",
    status=TaskStatus.IN_PROGRESS,
    occurred_at=_AT,
    event_id="e-1",
    deadline=date(2024, 7, 31),
    title="Cấp căn cước",
    labels={"ward": "Phường 1"},
    first_reached=Reached(in_progress=_AT),
    source="portal",
    seen=("portal\x1fe-0",),
    unit_code="VN-40",
)
_EXTENDED = msgspec.structs.replace(
    _TASK,
    extension=Extension(
        due=datetime(2024, 8, 15, 17, tzinfo=timezone(timedelta(hours=7))),
        reference="QĐ 12",
        granted_by="VN-40",
        granted_at=_AT,
        event_id="x-1",
    ),
)
_UNDATED = msgspec.structs.replace(_TASK, deadline=None)
_INDICATOR = IndicatorState(indicator="online_share", value=0.8, occurred_at=_AT, event_id="i-1", source="portal")


@pytest.mark.parametrize(
    ("subject", "item", "expected"),
    [
        ("task:HS-000.1/2024", SubjectItem(task=_TASK, wakeup=1_721_000_000.25), ["kind", "due", "wake"]),
        ("task:HS-000.1/2024", SubjectItem(task=_TASK), ["kind", "due"]),
        ("task:HS-000.1/2024", SubjectItem(task=_EXTENDED), ["kind", "due"]),
        ("task:HS-000.1/2024", SubjectItem(task=_UNDATED), ["kind"]),
        ("task:HS-000.1/2024", SubjectItem(wakeup=1_721_000_000.0), ["wake"]),  # the task gone, its alert awake
        ("indicator:online_share", SubjectItem(indicator=_INDICATOR, wakeup=1_721_000_000.0), []),  # held in memory
    ],
    ids=["task awake", "task asleep", "task extended", "task undated", "wake-up alone", "indicator"],
)
def test_a_subject_derives_its_task_by_kind_and_due_instant_and_a_task_s_wake_up_from_its_stored_bytes(
    subject: str, item: SubjectItem, expected: list[str]
) -> None:
    # ``derived`` reads only the fields it needs from the bytes: what it derives must be what the whole item says.
    keys = {
        "kind": kind_prefix("VN-40", _TASK.kind) + _TASK.task_id.encode(),
        "wake": wake_key("VN-40", item.wakeup or 0.0, subject),
        "due": due_key("VN-40", item.task.indexed_due() or 0.0, _TASK.task_id) if item.task is not None else b"",
    }
    written = list(derived(item_key("VN-40", SUBJECT, subject), ENCODER.encode(item)))
    assert written == [(keys[name], b"") for name in expected]


def test_the_changelog_holds_every_item_and_none_of_the_derived_or_local_keys() -> None:
    items = [item_key("VN-22", part, name) for part, name in (("", ""), ("a", "fp"), ("o", "fp"), ("p", "fp"))]
    items.append(item_key("VN-22", "s", "task:NV-1"))
    local = [FORMAT_KEY, RESTORING_KEY, Store.offset_key, kind_prefix("VN-22", "task") + b"NV-1"]
    local += [wake_key("VN-22", 1.0, "task:NV-1"), due_key("VN-22", 1.0, "NV-1")]
    assert [key for key in items + local if in_changelog(key)] == items
