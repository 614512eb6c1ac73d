"""Event files: an empty CSV cell is a field left out, and keeps the value known from earlier events."""

from __future__ import annotations

from pathlib import Path

from events.files import read_rows
from events.models import TaskStatusEvent
from rules.state import TaskState


def test_an_empty_csv_cell_is_a_field_left_out_not_a_null(tmp_path: Path) -> None:
    path = tmp_path / "tasks.csv"
    path.write_text(
        "event_id,source,unit_id,task_id,status,deadline,title,occurred_at\n"
        "e-1,nghean-dvc,VN-22,NV-99,in_progress,2024-07-19,Rà soát,2024-07-02T09:00:00+07:00\n"
        "e-2,nghean-dvc,VN-22,NV-99,completed,,,2024-07-24T10:00:00+07:00\n",
        encoding="utf-8",
    )
    rows = list(read_rows(path))
    assert [row.error for row in rows] == [None, None]
    started, done = (row.events[0] for row in rows)
    assert isinstance(started, TaskStatusEvent) and isinstance(done, TaskStatusEvent)
    assert {"deadline", "title"} & done.model_fields_set == set()
    task = TaskState.from_event(done, TaskState.from_event(started))
    assert (str(task.deadline), task.title) == ("2024-07-19", "Rà soát")
