"""Connection security for an existing Kafka cluster (TLS, SASL), from the settings.

One place turns the settings into what aiokafka clients and the faust app
take, so the worker, ``publish``, ``alerts tail`` and topic creation connect
the same way.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from typing import Any, Protocol

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.helpers import create_ssl_context

from monitor.exceptions import BrokerUnreachable
from monitor.settings import Settings

__all__ = [
    "Startable",
    "client_options",
    "faust_credentials",
    "reader_options",
    "shown_servers",
    "start_client",
    "whole_topic_reader",
]


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of an SSL protocol (its files were checked as the settings were built)."""
    if "SSL" not in settings.kafka_security_protocol:
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
    )
    return context


def _sasl(settings: Settings) -> tuple[str, str]:
    """The SASL user name and password (the settings refuse a SASL protocol without them)."""
    assert settings.kafka_sasl_username is not None and settings.kafka_sasl_password is not None
    return settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value()


_READER_FETCH_WAIT_MS = 100


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka producers, consumers and admin clients."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        username, password = _sasl(settings)
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options


def reader_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for the consumers that read whole topics (``whole_topic_reader``).

    Their fetches wait 0.1 s at most for new records, not aiokafka's 0.5 s: a
    broker that answers a fetch only when its wait runs out (the embedded one)
    made each read of a topic's end, which a rebalance's takeover waits for,
    take that long. Kafka answers as soon as records arrive.
    """
    return client_options(settings) | {"fetch_max_wait_ms": _READER_FETCH_WAIT_MS}


def faust_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """The faust app's ``broker_credentials``."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings)
    if protocol == "SSL":
        assert context is not None
        return faust.SSLCredentials(context)
    username, password = _sasl(settings)
    return faust.SASLCredentials(
        username=username, password=password, ssl_context=context, mechanism=settings.kafka_sasl_mechanism
    )


def shown_servers(bootstrap: str) -> str:
    """The brokers of ``bootstrap`` as an error message may name them: never a user or password."""
    return ",".join(server.rpartition("@")[2] for server in bootstrap.split(","))


class Startable(Protocol):
    """An aiokafka producer, consumer or admin client: connects on ``start``."""

    async def start(self) -> None: ...


async def start_client(client: Startable, bootstrap: str) -> None:
    """Connect an aiokafka client; a cluster that does not answer is one clear error, not a traceback.

    aiokafka logs each failed connection attempt at ERROR before it raises:
    while connecting, those lines are held back, so an operator who named the
    wrong address reads one line saying which address did not answer.

    Raises:
        BrokerUnreachable: no broker of ``bootstrap`` answered.
    """
    chatty = logging.getLogger("aiokafka")
    level = chatty.level
    chatty.setLevel(logging.CRITICAL)
    try:
        await client.start()
    except (KafkaError, OSError) as exc:
        closing = getattr(client, "stop", None) or getattr(client, "close", None)
        if closing is not None:
            with contextlib.suppress(KafkaError, OSError):  # it never connected: nothing to release but the object
                await closing()
        reason = "no broker answered" if isinstance(exc, KafkaConnectionError) else str(exc)
        raise BrokerUnreachable(
            f"cannot reach the broker at {shown_servers(bootstrap)} (--broker or MONITOR_BROKER): {reason}"
        ) from None
    finally:
        chatty.setLevel(level)


async def whole_topic_reader(bootstrap: str, topic: str, client: dict[str, Any]) -> AIOKafkaConsumer:
    """A started consumer outside any group, assigned every partition of ``topic`` (none if it does not exist).

    Where it starts reading is the caller's to set (unset: the beginning).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **client
    )
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()  # a topic created moments ago
        partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    return consumer
