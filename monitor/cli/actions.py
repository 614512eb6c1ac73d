"""``monitor alerts ack | unack | assign | note | actions | extend``: act on alerts from a terminal, through a worker's API.

The command asks a worker (``--url``; by default this machine's, on the
port the settings give) with a viewer's token (``MONITOR_VIEWER_TOKEN``,
kept out of the command line and so out of the shell's history and the
process list). The worker checks the viewer and its units, as it does for
the console: an action is the same whichever way it comes. A refusal is one
line with the worker's reason and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, tzinfo
from typing import Any

from monitor.cli.common import ExitCode, settings_from
from monitor.cli.terminal import printable
from monitor.exceptions import MonitorError
from monitor.settings import Settings
from rules.loading import load_pack

__all__ = ["ask_worker", "register_actions"]

_TIMEOUT = 15.0  # an action waits up to 5 s on the worker for its own record to come back


def _url(settings: Settings, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"


def ask_worker(
    base: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """The worker's status and JSON answer to ``GET`` (or, with ``body``, ``POST``) ``path``.

    Raises:
        MonitorError: the worker could not be reached, or did not answer JSON.
    """
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        status, raw = int(exc.code), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MonitorError(f"cannot reach the worker at {base}: {reason} (--url, or MONITOR_PUBLIC_URL)") from None
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        raise MonitorError(f"the worker at {base} answered {status} without JSON: is it a monitor worker?") from None
    return status, answer if isinstance(answer, dict) else {"answer": answer}


def _refused(status: int, answer: dict[str, Any]) -> int:
    reason = answer.get("error") or f"status {status}"
    hint = " (MONITOR_VIEWER_TOKEN: a viewer's token)" if status == 401 else ""
    print(f"error: {printable(str(reason))}{hint}", file=sys.stderr)
    return ExitCode.FAILED


def _zone(settings: Settings) -> tzinfo:
    """The zone times are shown in: the rule pack's (the settings' rule files, the bundled pack by default)."""
    return load_pack(settings.rules).tz


def _when(text: str, tz: tzinfo) -> str:
    return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S%z")


def _said(action: dict[str, Any], tz: tzinfo) -> str:
    """One line: when (in the rule pack's zone, as ``alerts tail`` shows times), who, what."""
    what = action["action"]
    if action.get("owner") is not None:
        what += f" → {action['owner'] or '(nobody)'}"
    note = f"  «{action['note']}»" if action.get("note") else ""
    return printable(f"{_when(action['at'], tz)}  {action['who']}  {what}{note}")


def cmd_act(args: argparse.Namespace) -> int:
    """Acknowledge, take back, assign or note one alert."""
    settings = settings_from(args)
    token = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    body: dict[str, Any] = {"action": args.action}
    if args.action == "assign":
        body["owner"] = args.owner
    if getattr(args, "note", None) is not None:
        body["note"] = args.note
    path = f"/api/v1/alerts/{urllib.parse.quote(args.fingerprint, safe='')}/actions"
    status, answer = ask_worker(_url(settings, args.url), path, token, body)
    if status not in (201, 202):
        return _refused(status, answer)
    alert = answer.get("alert") or {}
    about = " ".join(
        printable(str(part)) for part in (alert.get("unit_id"), alert.get("rule_id"), alert.get("summary")) if part
    )
    print(f"{_said(answer['action'], _zone(settings))}\n  {about}")
    if status == 202:
        print(f"  {answer.get('note', '')}")
    return ExitCode.OK


def cmd_actions(args: argparse.Namespace) -> int:
    """Every action taken on one alert."""
    settings = settings_from(args)
    token = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    path = f"/api/v1/alerts/{urllib.parse.quote(args.fingerprint, safe='')}/actions"
    status, answer = ask_worker(_url(settings, args.url), path, token)
    if status != 200:
        return _refused(status, answer)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return ExitCode.OK
    tz = _zone(settings)
    for action in answer["actions"]:
        print(_said(action, tz))
    standing = answer["standing"]
    ack, owner = standing["acknowledged"], standing["owner"]
    print(
        f"now: {'acknowledged by ' + printable(ack['who']) if ack else 'not acknowledged'}; "
        f"owner: {printable(owner['owner']) if owner else 'nobody'}"
    )
    return ExitCode.OK


def cmd_extend(args: argparse.Namespace) -> int:
    """Grant a unit a new deadline: for one of its tasks, or under a roster deadline rule."""
    settings = settings_from(args)
    token = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    body: dict[str, Any] = {"due": args.due, "reference": args.reference}
    body["task_id" if args.task is not None else "rule_id"] = args.task if args.task is not None else args.rule
    if args.note is not None:
        body["note"] = args.note
    path = f"/api/v1/units/{urllib.parse.quote(args.unit, safe='')}/extensions"
    status, answer = ask_worker(_url(settings, args.url), path, token, body)
    if status != 202:
        return _refused(status, answer)
    granted = answer["extension"]
    subject = f"task {granted['task_id']}" if granted.get("task_id") else f"roster deadline {granted['rule_id']}"
    print(printable(f"{granted['unit_id']} {subject}: due {granted['due']} ({granted['reference']})"))
    print(f"  {printable(answer.get('note', ''))}")
    return ExitCode.OK


def register_actions(alerts_commands: Any) -> None:
    """Add ``alerts ack``, ``unack``, ``assign``, ``note``, ``actions`` and ``extend`` to the ``alerts`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the worker to ask (default: MONITOR_PUBLIC_URL, else this machine's port)")
    how = (
        "Acts through a worker's API as the viewer whose token is in MONITOR_VIEWER_TOKEN: the worker checks that "
        "the viewer may see the alert's unit. FINGERPRINT is the alert's (the console, /api/v1/alerts, "
        "'monitor alerts tail --json')."
    )
    for name, action, text in (
        ("ack", "acknowledge", "acknowledge an alert: seen, someone is on it (until it escalates)"),
        ("unack", "unacknowledge", "take an acknowledgement back"),
        ("assign", "assign", "give an alert an owner ('' for nobody)"),
        ("note", "note", "add a note to an alert"),
    ):
        command = alerts_commands.add_parser(
            name, parents=[common], help=text, description=f"{text[0].upper()}{text[1:]}. {how}"
        )
        command.add_argument("fingerprint", metavar="FINGERPRINT")
        if action == "assign":
            command.add_argument("owner", metavar="OWNER", help="who owns it, e.g. 'Anh Tuấn, Sở TT&TT'")
        elif action == "note":
            command.add_argument("note", metavar="TEXT")
        elif action == "acknowledge":
            command.add_argument("--note", help="a note with the acknowledgement")
        command.set_defaults(func=cmd_act, action=action)
    listed = alerts_commands.add_parser(
        "actions",
        parents=[common],
        help="every action taken on an alert, and where it stands",
        description=f"Every action taken on an alert, oldest first, and where it stands now. {how}",
    )
    listed.add_argument("fingerprint", metavar="FINGERPRINT")
    listed.add_argument("--json", action="store_true", help="the worker's answer as JSON")
    listed.set_defaults(func=cmd_actions)
    extend = alerts_commands.add_parser(
        "extend",
        parents=[common],
        help="grant a unit a new deadline, with the decision's reference",
        description="Grant a unit a new deadline for one of its tasks (--task) or under a roster deadline (--rule), "
        "as the working group decided: its alerts follow the new due instant, and reports count a task kept by it "
        "as kept within an extension. Recorded through a worker's API as the viewer whose token is in "
        "MONITOR_VIEWER_TOKEN, who must be let grant extensions ('extends: true' in the viewers file).",
    )
    extend.add_argument("unit", metavar="UNIT", help="the unit, e.g. VN-22")
    subject = extend.add_mutually_exclusive_group(required=True)
    subject.add_argument("--task", help="the task whose deadline moves")
    subject.add_argument("--rule", help="the roster deadline rule whose due instant moves, for this unit alone")
    extend.add_argument("--due", required=True, help="the new deadline: a date (2024-08-15) or an instant with offset")
    extend.add_argument("--reference", required=True, help="the decision's reference, e.g. 125/QĐ-BCĐ06")
    extend.add_argument("--note", help="a note with it")
    extend.set_defaults(func=cmd_extend)
