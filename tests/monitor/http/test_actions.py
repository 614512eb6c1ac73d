"""Acting on an alert over HTTP: who may, on which alert, and how the list orders what was acknowledged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from monitor.actions import AlertAction
from monitor.http.actions import action_taken, alert_actions, new_action
from monitor.http.answers import Answer
from monitor.http.viewers import OPEN, who_reads
from monitor.http.views import alerts
from monitor.publishers import token_hash
from monitor.viewers import Scope, ViewersFile
from tests.monitor.http.test_console import BUNDLED, _nghe_an, _Worker

VIEWERS = f"""\
viewers:
  - id: nghean-stttt
    name: Sở TT&TT Nghệ An
    units: [VN-22]
    tokens: [{{sha256: {token_hash("viewer-nghean")}}}]
  - id: hanoi-stttt
    units: [VN-HN]
    tokens: [{{sha256: {token_hash("viewer-hanoi")}}}]
anonymous:
  all: true
"""


@dataclass
class _Acting(_Worker):
    viewers: ViewersFile | None = None
    settings: Any = field(default_factory=lambda: SimpleNamespace(auth_proxy_header=None))


def _worker(tmp_path: Path) -> _Acting:
    base = _nghe_an()
    path = tmp_path / "viewers.yaml"
    path.write_text(VIEWERS, encoding="utf-8")
    return _Acting(base.pack, base.states, base.firing, viewers=ViewersFile(path, BUNDLED))


def _scope(worker: _Acting, token: str | None) -> Scope:
    scope = who_reads(worker, {"Authorization": f"Bearer {token}"} if token else {})  # type: ignore[arg-type]
    assert isinstance(scope, Scope)
    return scope


def _take(worker: _Acting, token: str, fingerprint: str, body: dict[str, Any]) -> AlertAction:
    action = new_action(worker, _scope(worker, token), fingerprint, json.dumps(body).encode())  # type: ignore[arg-type]
    assert isinstance(action, AlertAction), json.loads(action.body)
    assert worker.operators.book.take(action)  # as the actions topic would bring it back
    return action


async def _listed(worker: _Acting) -> list[dict[str, Any]]:
    answer = await alerts(worker, {"unit": "VN-22"})  # type: ignore[arg-type]
    assert answer.status == 200
    listed: list[dict[str, Any]] = json.loads(answer.body)["alerts"]
    return listed


async def test_an_acknowledged_alert_goes_after_the_others_of_its_severity_and_says_who(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    before = await _listed(worker)
    top = before[0]
    same = [a for a in before if a["severity"] == top["severity"]]
    assert len(same) >= 2, "two alerts of one severity in the fixture"
    action = _take(worker, "viewer-nghean", top["fingerprint"], {"action": "acknowledge", "note": "đang xử lý"})
    assert (action.by, action.by_name, action.stage, action.severity) == (
        "nghean-stttt",
        "Sở TT&TT Nghệ An",
        top["stage"],
        top["severity"],
    )
    after = await _listed(worker)
    order = [a["fingerprint"] for a in after if a["severity"] == top["severity"]]
    assert order[-1] == top["fingerprint"] and order[:-1] == [a["fingerprint"] for a in same[1:]]
    shown = next(a for a in after if a["fingerprint"] == top["fingerprint"])
    assert shown["actions"]["acknowledged"]["who"] == "Sở TT&TT Nghệ An"
    assert shown["actions"]["notes"][0]["note"] == "đang xử lý"
    # The answer to the action shows the alert as it now stands.
    taken = action_taken(worker, action, read_back=True)  # type: ignore[arg-type]
    assert taken.status == 201 and json.loads(taken.body)["alert"]["actions"]["acknowledged"]["by"] == "nghean-stttt"
    assert action_taken(worker, action, read_back=False).status == 202  # type: ignore[arg-type]
    trail = json.loads(alert_actions(worker, _scope(worker, "viewer-nghean"), top["fingerprint"]).body)  # type: ignore[arg-type]
    assert [a["action"] for a in trail["actions"]] == ["acknowledge"]


async def test_the_csv_names_who_acknowledged_and_the_owner(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    fingerprint = (await _listed(worker))[0]["fingerprint"]
    _take(worker, "viewer-nghean", fingerprint, {"action": "acknowledge"})
    _take(worker, "viewer-nghean", fingerprint, {"action": "assign", "owner": "Anh Tuấn"})
    answer = await alerts(worker, {"unit": "VN-22", "format": "csv"})  # type: ignore[arg-type]
    text = answer.body.decode("utf-8-sig")
    row = next(line for line in text.splitlines() if fingerprint in line)
    assert "Sở TT&TT Nghệ An" in row and "Anh Tuấn" in row


async def test_acting_needs_a_viewer_of_the_alerts_unit(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    fingerprint = (await _listed(worker))[0]["fingerprint"]
    body = b'{"action": "acknowledge"}'

    def status(scope: Scope, fp: str = fingerprint, sent: bytes = body) -> int:
        answer = new_action(worker, scope, fp, sent)  # type: ignore[arg-type]
        assert isinstance(answer, Answer)
        return answer.status

    assert status(_scope(worker, None)) == 401  # an anonymous reader reads, but is nobody
    assert status(_scope(worker, "viewer-hanoi")) == 403  # another province's alert
    assert status(_scope(worker, "viewer-nghean"), fp="no-such") == 404
    assert status(_scope(worker, "viewer-nghean"), sent=b'{"action": "assign"}') == 400
    assert status(_scope(worker, "viewer-nghean"), sent=b"x" * 20_000) == 413
    worker.viewers = None
    assert status(OPEN) == 403  # no viewers file: nobody has an identity to act under


def test_an_alert_that_ended_takes_a_note_only(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    alert = worker.firing.pop(0)
    ended = alert.model_copy(update={"status": "resolved", "ends_at": alert.starts_at})
    worker.resolved.append(ended)
    scope = _scope(worker, "viewer-nghean")
    refused = new_action(worker, scope, alert.fingerprint, b'{"action": "acknowledge"}')  # type: ignore[arg-type]
    assert isinstance(refused, Answer) and refused.status == 409
    noted = new_action(worker, scope, alert.fingerprint, b'{"action": "note", "note": "xong"}')  # type: ignore[arg-type]
    assert isinstance(noted, AlertAction) and noted.starts_at == alert.starts_at


@pytest.mark.parametrize("reading", [False, True])
async def test_no_list_is_answered_before_the_actions_topic_is_read(tmp_path: Path, reading: bool) -> None:
    worker = _worker(tmp_path)
    worker.operators.current = not reading
    assert (await alerts(worker, {})).status == (503 if reading else 200)  # type: ignore[arg-type]


def test_an_action_must_say_it_is_json() -> None:
    from monitor.http.actions import content_refusal

    assert content_refusal("application/json; charset=utf-8") is None
    for sent in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        refused = content_refusal(sent)
        assert refused is not None and refused.status == 415
