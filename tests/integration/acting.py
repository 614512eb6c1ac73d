"""What the tests of viewers who act share: Nghệ An's and Hà Nội's viewers, and a JSON call to a worker's API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from monitor.publishers import token_hash

__all__ = ["HA_NOI", "NGHE_AN", "call", "viewers_file"]

NGHE_AN = {"Authorization": "Bearer viewer-nghean"}
HA_NOI = {"Authorization": "Bearer viewer-hanoi"}


def viewers_file(tmp_path: Path, more: str = "") -> Path:
    """A viewers file: Nghệ An's office (VN-22) and Hà Nội's (VN-HN), then ``more`` (e.g. an ``anonymous`` part)."""
    path = tmp_path / "viewers.yaml"
    path.write_text(
        f"""\
viewers:
  - id: nghean-stttt
    name: Sở TT&TT Nghệ An
    units: [VN-22]
    tokens: [{{sha256: {token_hash("viewer-nghean")}}}]
  - id: hanoi-stttt
    name: Sở TT&TT Hà Nội
    units: [VN-HN]
    tokens: [{{sha256: {token_hash("viewer-hanoi")}}}]
{more}""",
        encoding="utf-8",
    )
    return path


def call(url: str, headers: dict[str, str], body: Any = None, method: str | None = None) -> tuple[int, Any]:
    """The status and JSON answer of a request (a ``POST`` of ``body`` as JSON, when given)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **headers}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")
