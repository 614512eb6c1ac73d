"""Hostile HTTP clients against a real worker's web server, over real sockets.

Bodies sent in pieces as a network delivers them, chunked bodies over the
limit, bodies that are not JSON, download names and unit ids that would
break a header, connections that never finish their request head, and more
connections than the worker should hold.
"""

from __future__ import annotations

import http.client
import json
import selectors
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import MonitorProcess, produce, task_event, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
TOKEN = "tinh-nghe-an"


@contextmanager
def _connect(worker: MonitorProcess, timeout: float = 15.0) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=timeout) as sock:
        yield sock


def _answer(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def _request(
    worker: MonitorProcess, method: str, path: str, headers: dict[str, str], parts: Iterable[bytes] = ()
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request with its body sent in ``parts``, a pause between them (as a slow network delivers it)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with _connect(worker) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for part in parts:
                sock.sendall(part)
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the whole body was sent; the answer says why
        return _answer(sock)


def _post(worker: MonitorProcess, body: bytes, piece: int = 65_536) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    headers["Content-Length"] = str(len(body))
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    status, _, answer = _request(worker, "POST", "/api/v1/events", headers, parts)
    return status, json.loads(answer)


def _chunked(body: bytes, piece: int = 65_536) -> Iterator[bytes]:
    for i in range(0, len(body), piece):
        chunk = body[i : i + piece]
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def _batch(count: int) -> bytes:
    return b"[" + b",".join(task_event(f"big-{i}", f"NV-{i}", "in_progress") for i in range(count)) + b"]"


def test_ingestion_reads_whole_bodies_and_says_why_it_refuses_one(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with worker_process(broker.url, tmp_path, env={"MONITOR_INGEST_TOKEN": TOKEN}) as worker:
        worker.wait_ready()

        # A valid batch of about 475 kB, arriving in 64 kB pieces: read whole, accepted whole.
        big = _batch(1800)
        assert 400_000 < len(big) < 1024 * 1024
        assert _post(worker, big) == (202, {"accepted": 1800, "records": 1})

        # 2 MB chunked (no Content-Length to refuse it by): 413 once it is over the limit.
        auth = {"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"}
        status, _, answer = _request(worker, "POST", "/api/v1/events", auth, _chunked(_batch(8000)))
        assert status == 413 and "over the limit of 1048576 bytes" in json.loads(answer)["error"]

        # Not JSON: 400 with the reason and where; nothing accepted.
        status, body = _post(worker, b'[{"event_id": "e-1", "unit_id": "VN-22",')
        assert status == 400 and "the body is not JSON" in body["error"] and "line 1, column" in body["error"]
        status, body = _post(worker, b"[" * 200_000 + b"]" * 200_000)
        assert status == 400 and "nested deeper than" in body["error"]
        surrogate = task_event("s-1", "NV-1", "in_progress").replace(b'"title": "', b'"title": "\\ud800')
        status, body = _post(worker, surrogate)
        assert status == 400 and "lone UTF-16 surrogate" in body["error"] and "$.title" in body["error"]

        # The worker still takes a good event after all of it.
        assert _post(worker, task_event("ok-1", "NV-1", "in_progress")) == (202, {"accepted": 1, "records": 1})


def _units(worker: MonitorProcess) -> set[str]:
    status, _, body = _request(worker, "GET", "/api/v1/units", {})
    return {u["unit_id"] for u in json.loads(body)["units"]} if status == 200 else set()


def test_every_answer_is_safe_and_downloads_name_any_unit(broker: EmbeddedBroker, tmp_path: Path) -> None:
    evil = "EVIL\"q'"
    formula = '=HYPERLINK("http://evil.example","bấm")'
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        for unit in ("VN\r\n22", evil):  # the decoder may refuse the first; the HTTP layer must not trust it
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event(f"e-{unit}", "NV-1", "in_progress", unit=unit, title=formula),
                key=unit.encode(),
            )
        wait_for("the unit with a quote in its id", lambda: evil in _units(worker), log=worker.log)

        for path in ("/", "/static/feed.js", "/api/v1/units", "/healthz", "/metrics", "/no-such-page"):
            status, headers, _ = _request(worker, "GET", path, {})
            assert status == (404 if path == "/no-such-page" else 200), path
            assert "default-src 'self'" in headers["Content-Security-Policy"], path
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
            assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY", path
            assert headers["Server"] is None, path
        status, headers, body = _request(worker, "GET", "/", {})
        assert b"<script>" not in body and b"<style>" not in body  # nothing the policy would block

        status, headers, body = _request(worker, "GET", f"/api/v1/units/{quote(evil)}/overdue?format=csv", {})
        assert status == 200
        kind, params = parse_content_disposition(headers["Content-Disposition"])
        assert kind == "attachment" and content_disposition_filename(params, "filename") == f"overdue-{evil}.csv"
        assert f"'{formula}" in body.decode("utf-8-sig").replace('""', '"')  # the title is text, not a formula

        def crlf_answer() -> tuple[int, bytes] | None:
            status, _, body = _request(worker, "GET", "/api/v1/units/VN%0D%0A22/overdue?format=csv", {})
            return (
                (status, body) if status != 404 else None
            )  # 404 until the unit is processed, on a decoder that keeps it

        status, body = wait_for("an answer about the unit id with CR/LF", crlf_answer, timeout=10, log=worker.log)  # type: ignore[misc]
        assert status == 400 and "a control character (U+000D) at position 2" in json.loads(body)["error"]


def _readable(socks: Iterable[socket.socket], timeout: float) -> list[socket.socket]:
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        return [key.fileobj for key, _ in selector.select(timeout)]  # type: ignore[misc]


def _closed(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (it is sent one more header line, as a slow client would)."""
    try:
        if _readable([sock], 0) and not sock.recv(4096):
            return True
        sock.sendall(b"X-Slow: 1\r\n")
    except OSError:  # reset: closed with the slow client's lines unread
        return True
    return False


def test_slow_clients_are_closed_and_connections_capped_while_the_worker_works(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    timeout, cap, flood = 4.0, 20, 40
    env = {"MONITOR_WEB_HEADER_TIMEOUT": str(timeout), "MONITOR_WEB_MAX_CONNECTIONS": str(cap)}
    with worker_process(broker.url, tmp_path, env=env) as worker, ExitStack() as stack:
        worker.wait_ready()
        stream = stack.enter_context(_connect(worker))
        stream.sendall(b"GET /api/v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        seen = b""
        while b"event: hello" not in seen:
            seen += stream.recv(4096)

        opened = time.monotonic()
        slow = [stack.enter_context(_connect(worker)) for _ in range(flood)]
        refused: dict[socket.socket, bytes] = {}  # over the cap: answered at once
        while time.monotonic() < opened + 2:
            refused.update((sock, sock.recv(4096)) for sock in _readable(set(slow) - set(refused), 0.2))
        admitted = [sock for sock in slow if sock not in refused]
        assert 0 < len(admitted) <= cap - 1  # the stream holds one
        for answer in refused.values():
            assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in answer
            assert b"Content-Security-Policy: default-src 'self'" in answer
        for sock in admitted:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a request head never finished

        # The worker works on meanwhile: an event is processed and its alert streamed.
        produce(broker.bootstrap, TOPICS.task_status, task_event("slow-1", "NV-41", "in_progress"), key=b"VN-22")
        closed_at: dict[socket.socket, float] = {}
        streamed_at = None
        while len(closed_at) < len(admitted) and time.monotonic() < opened + timeout + 10:
            for sock in admitted:
                if sock not in closed_at and _closed(sock):
                    closed_at[sock] = time.monotonic() - opened
            if streamed_at is None and _readable([stream], 0):
                seen += stream.recv(65_536)
                if b"NV-41" in seen:
                    streamed_at = time.monotonic() - opened
            time.sleep(0.5)
        assert len(closed_at) == len(admitted), "slow connections left open"
        assert timeout - 1 <= min(closed_at.values()) and max(closed_at.values()) <= timeout + 3, closed_at
        assert streamed_at is not None and streamed_at < max(closed_at.values())

        # The alert stream, a request in progress, outlives the header timeout; the cap has room again.
        produce(broker.bootstrap, TOPICS.task_status, task_event("slow-2", "NV-42", "in_progress"), key=b"VN-22")
        while b"NV-42" not in seen:
            seen += stream.recv(65_536)
        assert _request(worker, "GET", "/healthz", {})[0] == 200
