"""Real peers the monitor delivers to: Alertmanager (Debian package) and a webhook receiver."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from monitor.devtools.broker import free_port
from tests.conftest import require_tool
from tests.integration.kafka import http_get, wait_for

_AM_CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
"""


class Alertmanager:
    """``prometheus-alertmanager`` on a loopback port, with no clustering; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_tool("prometheus-alertmanager")
        self.port = free_port()
        self.workdir = workdir
        (workdir / "alertmanager.yml").write_text(_AM_CONFIG, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        with (self.workdir / "alertmanager.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.workdir / 'alertmanager.yml'}",
                    f"--storage.path={self.workdir / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for("alertmanager to be ready", lambda: http_get(self.url + "/-/ready")[0] == 200, timeout=30)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def alerts(self) -> list[dict[str, Any]]:
        status, body = http_get(self.url + "/api/v2/alerts")
        return json.loads(body) if status == 200 else []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class WebhookReceiver:
    """An HTTP receiver on a loopback port that refuses the first ``failures`` requests (503: with ``fail_task``,
    the first that carry an alert about that task), and, with ``refuse_task``, every payload about that task (400)."""

    def __init__(self, failures: int = 0, refuse_task: str | None = None, fail_task: str | None = None) -> None:
        self.port = free_port()
        self.failures = failures
        self.fail_task = fail_task  # only payloads about this task count toward ``failures``
        self.refuse_task = refuse_task  # a payload with an alert about this task is refused (400)
        self.attempts = 0
        self.payloads: list[dict[str, Any]] = []
        self.authorization: list[str] = []
        self.queries: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        tasks = {a["labels"].get("task_id") for a in payload["alerts"]}
        if self.fail_task is None or self.fail_task in tasks:
            self.attempts += 1
            if self.attempts <= self.failures:
                return web.Response(status=503, text="not yet")
        if self.refuse_task is not None and self.refuse_task in tasks:
            return web.Response(status=400, text=f"task {self.refuse_task} is not ours")
        self.authorization.append(request.headers.get("Authorization", ""))
        self.queries.append(request.query_string)
        self.payloads.append(payload)
        return web.Response(status=200)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def alerts(self, status: str) -> list[dict[str, Any]]:
        return [a for p in self.payloads for a in p["alerts"] if a["status"] == status]
