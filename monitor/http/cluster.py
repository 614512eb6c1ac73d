"""One answer from every worker: a unit is answered for by the worker that owns its partition, asked by the others.

Every worker follows the whole alerts topic, so alerts need no routing. A
unit's state lives only with the worker that owns its partition: any other
worker asks that one over HTTP (the owner's advertised URL comes with the
group's assignment, as for faust's ``app.router``) and passes its answer on.
While the assignment changes, or a new owner is still reading a partition's
units, the answer is a 503 with ``Retry-After``: never another worker's stale
or partial view.

The decisions (``route``, ``plan_gather``) are pure; ``PeerClient`` is the I/O.
"""

from __future__ import annotations

import hmac
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

__all__ = [
    "ANSWERED_BY",
    "CLUSTER_CREDENTIAL",
    "FORWARDED",
    "MAX_PEER_ANSWER_BYTES",
    "RETRY_AFTER_SECONDS",
    "Ask",
    "Gather",
    "Local",
    "PeerAnswer",
    "PeerClient",
    "Unavailable",
    "peer_refusal",
    "plan_gather",
    "route",
]

log = logging.getLogger(__name__)

#: Set on a request one worker sends another: the receiver answers itself or not at all (no second hop).
FORWARDED = "X-Monitor-Forwarded"
#: The cluster credential a worker sends another (``MONITOR_CLUSTER_TOKEN``): ``/api/v1/internal/*`` asks for it.
CLUSTER_CREDENTIAL = "X-Monitor-Cluster"
#: The advertised URL of the worker whose state the answer comes from.
ANSWERED_BY = "X-Monitor-Answered-By"
#: What a 503 tells a client to wait: about one rebalance step.
RETRY_AFTER_SECONDS = 2
#: The most of another worker's answer passed on (a unit's whole overdue CSV fits many times over).
MAX_PEER_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Local:
    """This worker answers."""


@dataclass(frozen=True, slots=True)
class Ask:
    """The worker at ``url`` answers."""

    url: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No worker can answer correctly now; ``reason`` says why (a 503)."""

    reason: str


def _rebalancing(partitions: str) -> Unavailable:
    return Unavailable(
        f"no worker holds partition {partitions} now: the workers are rebalancing (or two advertise one URL; "
        "see MONITOR_ADVERTISED_URL)"
    )


def route(
    partition: int, owners: Mapping[int, str], me: str, *, answers: bool, forwarded: bool
) -> Local | Ask | Unavailable:
    """Who answers for a unit in ``partition``.

    Args:
        partition: The unit's partition.
        owners: Each partition's owner as the assignment says (empty while it changes).
        me: This worker's advertised URL.
        answers: Whether this worker owns the partition and has read its units.
        forwarded: Whether another worker sent the request (then it is answered here or not at all).
    """
    if answers:
        return Local()
    if forwarded:
        return Unavailable(f"this worker does not hold partition {partition} now; it is moving between workers")
    owner = owners.get(partition)
    if owner is None:
        return _rebalancing(str(partition))
    if owner == me:
        return Unavailable(f"this worker is reading the units of partition {partition}, which it has just taken over")
    return Ask(owner)


@dataclass(frozen=True, slots=True)
class Gather:
    """Which partitions to answer for here, and which to ask each other worker for."""

    local: tuple[int, ...]
    remote: Mapping[str, tuple[int, ...]]


def plan_gather(owners: Mapping[int, str], partitions: int, me: str) -> Gather | Unavailable:
    """How to answer for every partition ``0..partitions-1`` (and any other the assignment names), or why not."""
    wanted = set(range(partitions)) | set(owners)
    missing = sorted(wanted - set(owners))
    if missing:
        return _rebalancing(", ".join(map(str, missing)))
    by_owner: dict[str, list[int]] = defaultdict(list)
    for partition in sorted(wanted):
        by_owner[owners[partition]].append(partition)
    local = tuple(by_owner.pop(me, ()))
    return Gather(local, {url: tuple(parts) for url, parts in sorted(by_owner.items())})


def peer_refusal(configured: str | None, presented: str | None, *, closed: bool = False) -> str | None:
    """Why a request to ``/api/v1/internal/*`` is refused (401), or ``None`` when it carries the cluster credential.

    Open (``None``) when no credential is configured, unless ``closed`` (viewers are configured: those
    endpoints answer every unit, so without a credential they answer nobody).
    """
    if not configured:
        if closed:
            return (
                "this endpoint answers the other workers only, and MONITOR_CLUSTER_TOKEN is unset: with viewers "
                "(MONITOR_VIEWERS) set it on every worker"
            )
        return None
    if presented is None or not hmac.compare_digest(presented.encode(), configured.encode()):
        return f"this endpoint answers the other workers only: send the cluster credential ({CLUSTER_CREDENTIAL})"
    return None


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    """What another worker answered."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str]


#: Headers of a peer's answer passed on to the client.
_PASSED_ON = ("Content-Disposition", "Retry-After")


class PeerClient:
    """Asks other workers over HTTP (one connection pool, opened on first use)."""

    def __init__(self, timeout: float = 5.0, credential: str | None = None) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._headers = {FORWARDED: "1", **({CLUSTER_CREDENTIAL: credential} if credential else {})}

    async def get(
        self,
        base_url: str,
        path_and_query: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> PeerAnswer | Unavailable:
        """``GET`` a path from the worker at ``base_url``; ``Unavailable`` when it cannot be reached in time.

        ``headers`` go with the request (a viewer's credentials, for the worker that answers to check);
        ``timeout``: seconds for the whole answer, instead of the client's (a long piece of work, such as a report).
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = base_url.rstrip("/") + path_and_query
        try:
            sent = {**self._headers, **headers} if headers else self._headers
            # The session's own unless asked for (``timeout=None`` would mean no timeout at all to aiohttp).
            patience = aiohttp.ClientTimeout(total=timeout) if timeout is not None else self._timeout
            async with self._session.get(url, headers=sent, allow_redirects=False, timeout=patience) as response:
                # The whole body: ``content.read(n)`` returns what has arrived, up to n bytes (a large answer, such
                # as a quarter's scorecards, came cut at its first chunks and failed to decode).
                read = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    read += chunk
                    if len(read) > MAX_PEER_ANSWER_BYTES:
                        return Unavailable(f"the worker at {base_url} answered more than {MAX_PEER_ANSWER_BYTES} bytes")
                body = bytes(read)
                headers = {name: response.headers[name] for name in _PASSED_ON if name in response.headers}
                content_type = response.headers.get("Content-Type", "application/octet-stream")
                return PeerAnswer(response.status, body, content_type, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not ask the worker at %s: %s", base_url, str(exc) or type(exc).__name__)
            return Unavailable(f"the worker that owns these units ({base_url}) did not answer")

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
