"""Who answers for a unit, and how every unit is gathered: the pure decisions of ``monitor.http.cluster``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from pydantic import ValidationError

from monitor.http import cluster
from monitor.http.cluster import (
    CLUSTER_CREDENTIAL,
    Ask,
    Gather,
    Local,
    PeerAnswer,
    PeerClient,
    Unavailable,
    peer_refusal,
    plan_gather,
    route,
)
from monitor.http.download import unit_id_problem
from monitor.settings import Settings

ME, OTHER = "http://worker-0:6066", "http://worker-1:6066"


@contextlib.asynccontextmanager
async def _serving(path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A peer on a free loopback port answering ``path`` with ``handler``: its base URL, stopped on leaving."""
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_the_owner_answers_and_any_other_worker_asks_it() -> None:
    owners = {0: ME, 1: OTHER}
    assert route(0, owners, ME, answers=True, forwarded=False) == Local()
    assert route(1, owners, ME, answers=False, forwarded=False) == Ask(OTHER)


def test_a_forwarded_request_is_answered_here_or_refused_never_sent_on() -> None:
    decision = route(1, {0: ME, 1: OTHER}, ME, answers=False, forwarded=True)
    assert isinstance(decision, Unavailable) and "partition 1" in decision.reason


def test_while_partitions_move_nobody_answers() -> None:
    # The assignment is changing (no owners known), or this worker owns it but has not read its units yet.
    assert isinstance(route(1, {}, ME, answers=False, forwarded=False), Unavailable)
    assert isinstance(route(0, {0: ME}, ME, answers=False, forwarded=False), Unavailable)


def test_gathering_asks_each_other_worker_once_for_all_its_partitions() -> None:
    plan = plan_gather({0: ME, 1: OTHER, 2: OTHER, 3: ME}, 4, ME)
    assert plan == Gather(local=(0, 3), remote={OTHER: (1, 2)})


def test_gathering_refuses_while_a_partition_has_no_owner() -> None:
    plan = plan_gather({0: ME, 2: OTHER}, 4, ME)
    assert isinstance(plan, Unavailable) and "1, 3" in plan.reason


def test_a_worker_binding_every_address_is_told_to_advertise_a_url() -> None:
    assert Settings(web_host="0.0.0.0").unreachable_peers is not None
    assert Settings(web_host="0.0.0.0", advertised_url="http://worker-0:6066/").peer_url == "http://worker-0:6066"
    assert Settings(web_host="127.0.0.1", web_port=7000).peer_url == "http://127.0.0.1:7000"
    assert Settings(web_host="127.0.0.1").unreachable_peers is None


def test_an_advertised_url_must_be_one_a_worker_can_ask() -> None:
    with pytest.raises(ValidationError, match="http"):
        Settings(advertised_url="worker-0:6066")


def test_a_path_step_is_no_unit_id() -> None:
    assert unit_id_problem("..") is not None and unit_id_problem(".") is not None
    assert unit_id_problem("VN-22") is None


def test_the_internal_endpoints_answer_only_the_cluster_credential_when_one_is_set() -> None:
    assert peer_refusal(None, None) is None  # none configured: open, as before
    assert peer_refusal("secret", "secret") is None
    for presented in (None, "", "Secret", "secret "):
        refused = peer_refusal("secret", presented)
        assert refused is not None and CLUSTER_CREDENTIAL in refused


def test_a_peer_s_answer_is_read_whole_however_it_arrives_and_refused_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A quarter's scorecards from the other worker are megabytes: they used to come cut at their first chunks."""
    body = b"[" + b",".join(b'{"unit_id":"VN-%02d","n":%d}' % (n % 34, n) for n in range(200_000)) + b"]"

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start in range(0, len(body), 50_000):
            await response.write(body[start : start + 50_000])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def run() -> tuple[PeerAnswer | Unavailable, PeerAnswer | Unavailable]:
        async with _serving("/big", chunked) as base:
            client = PeerClient()
            try:
                whole = await client.get(base, "/big")
                monkeypatch.setattr(cluster, "MAX_PEER_ANSWER_BYTES", len(body) - 1)
                over = await client.get(base, "/big")
            finally:
                await client.close()
        return whole, over

    whole, over = asyncio.run(run())
    assert isinstance(whole, PeerAnswer) and whole.body == body and len(json.loads(whole.body)) == 200_000
    assert isinstance(over, Unavailable) and "answered more than" in over.reason


def test_a_long_piece_of_work_gets_the_patience_asked_for_and_a_timeout_is_named_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A report's scorecards take a peer seconds: with the client's own timeout they came back unavailable."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        return web.json_response([])

    async def run() -> tuple[PeerAnswer | Unavailable, PeerAnswer | Unavailable]:
        async with _serving("/slow", slow) as base:
            client = PeerClient(timeout=0.2)
            try:
                hurried = await client.get(base, "/slow")
                patient = await client.get(base, "/slow", timeout=5.0)
            finally:
                await client.close()
        return hurried, patient

    hurried, patient = asyncio.run(run())
    assert isinstance(hurried, Unavailable) and "did not answer" in hurried.reason
    assert isinstance(patient, PeerAnswer) and patient.status == 200
    [said] = [r.getMessage() for r in caplog.records if "could not ask" in r.getMessage()]
    assert said.endswith(": TimeoutError"), said
