"""The one settings object: built once in the entry point from flags and ``MONITOR_*`` env."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from events.codec import DEFAULT_MAX_RECORD_BYTES
from monitor.targets import Target, TargetError, parse_targets, split_entries
from rules.loading import BUNDLED_PACK

__all__ = [
    "DEFAULT_ALERT_RESEND_INTERVAL",
    "DEFAULT_DELIVERY_QUEUE_LIMIT",
    "DEFAULT_LOG_LEVEL",
    "DEFAULT_PARTITIONS",
    "DEFAULT_TICK_INTERVAL",
    "DEFAULT_WEB_HOST",
    "DEFAULT_WEB_PORT",
    "LOG_LEVELS",
    "LogLevel",
    "Settings",
]

#: What ``log_level`` may be (``--log-level``, ``MONITOR_LOG_LEVEL``), from the most lines to the fewest.
LogLevel: TypeAlias = Literal["debug", "info", "warning", "error"]
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)

# Defaults the flags' help texts and the delivery sinks repeat: each written once, here.
DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = 6066
DEFAULT_PARTITIONS = 4
DEFAULT_TICK_INTERVAL = 5.0  # seconds
DEFAULT_LOG_LEVEL: LogLevel = "warning"
DEFAULT_ALERT_RESEND_INTERVAL = 60.0  # seconds
DEFAULT_DELIVERY_QUEUE_LIMIT = 10_000  # notifications per peer

#: The kind of peer each target setting lists: the first part of its sinks' ``sink`` label.
_TARGET_KINDS = {"alertmanager_url": "alertmanager", "webhook_url": "webhook"}
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # what a server binds to listen on every interface


class Settings(BaseSettings):
    """Everything a worker needs to know; each field can be set as ``MONITOR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", frozen=True, extra="ignore")

    broker: str = Field(
        default="kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s), kafka://host:port;host2:port"
    )
    topic_prefix: str = Field(default="compliance.", description="Prefix of every topic name.")
    partitions: int = Field(
        default=DEFAULT_PARTITIONS, ge=1, le=1024, description="Partitions of topics the monitor creates."
    )
    replication_factor: int = Field(
        default=1, ge=1, description="Replication of topics the monitor creates (3 in production)."
    )
    rules: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(BUNDLED_PACK,), description="Rule files or directories (MONITOR_RULES: separated by commas)."
    )
    app_id: str = Field(default="compliance-monitor", description="Consumer group and table name prefix.")
    web_host: str = Field(default=DEFAULT_WEB_HOST, description="Address the HTTP server binds.")
    web_port: int = Field(default=DEFAULT_WEB_PORT, ge=1, le=65535)
    web_header_timeout: float = Field(
        default=15.0,
        gt=0,
        description="Seconds a client has, from connecting or from its last answer, to send a complete request "
        "head; slower or idle connections are closed.",
    )
    web_max_connections: int = Field(
        default=512,
        ge=1,
        description="HTTP connections open at once (each open feed page holds one); more are answered 503.",
    )
    data_dir: Path = Field(default=Path(".monitor-data"), description="Worker's local state directory.")
    tick_interval: float = Field(default=DEFAULT_TICK_INTERVAL, gt=0, description="Seconds between wall-clock ticks.")
    max_record_bytes: int = Field(
        default=DEFAULT_MAX_RECORD_BYTES,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest record value accepted, in bytes; also what the worker fetches per partition and the "
        "largest record it produces (larger ones are dead-lettered with their value cut).",
    )
    max_kinds_per_unit: int = Field(
        default=50, ge=1, description="Task kinds one unit may have; an event that would add one more is dead-lettered."
    )
    max_indicators_per_unit: int = Field(
        default=200,
        ge=1,
        description="Indicators one unit may report; an event that would add one more is dead-lettered.",
    )
    max_clock_skew: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds an event's occurred_at may lie ahead of the worker's clock; events further ahead "
        "are dead-lettered.",
    )
    flush_interval: float = Field(
        default=0.05,
        gt=0,
        le=5.0,
        description="Seconds handled records' state may gather before it is made durable and their alerts published.",
    )
    fetch_max_wait: float = Field(
        default=0.03,
        gt=0,
        le=30.0,
        description="Seconds a fetch waits at the broker for new records (a broker that answers only when it "
        "expires holds each event this long).",
    )
    max_staged_writes: int = Field(
        default=10_000,
        ge=0,
        description="State writes a worker gathers before it makes them durable at once (0: after every record).",
    )
    rocksdb_write_buffer: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of recent writes each partition's RocksDB holds in memory before writing them to disk "
        "(at most two such buffers per partition).",
    )
    rocksdb_block_cache: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Bytes of RocksDB blocks cached in memory, one cache for every partition, index and filter "
        "blocks included (reads of items not decoded in memory).",
    )
    item_cache: int = Field(
        default=50_000,
        ge=0,
        description="Tasks (and other items) a worker keeps decoded in memory, the least recently used dropped "
        "first; every other item is read from RocksDB when an event or a deadline asks for it.",
    )
    session_timeout: float = Field(default=10.0, gt=0, description="Consumer group session timeout, seconds.")
    heartbeat_interval: float = Field(default=2.0, gt=0, description="Consumer group heartbeat, seconds.")
    broker_loss_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without the broker, or without the monitor's topics, after which a worker exits non-zero.",
    )
    recovery_consistency_check: bool = Field(
        default=True,
        description="Refuse to take a partition over when the local store claims more of its changelog than the "
        "broker holds (faust's check; off on the embedded broker, which reports a changelog's end short of it).",
    )
    log_level: LogLevel = Field(
        default=DEFAULT_LOG_LEVEL,
        description="Level of faust's, mode's and aiokafka's log lines; the monitor's own are written from INFO "
        "up (from DEBUG with debug).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How to connect to an existing Kafka cluster."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate, for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key, for mutual TLS.")
    alertmanager_url: Annotated[tuple[Target, ...], NoDecode] = Field(
        default=(),
        description="Alertmanager base URL(s), comma-separated, each URL or NAME=URL (the name its metrics and log "
        "lines show; by default its host); alerts are POSTed to /api/v2/alerts.",
    )
    webhook_url: Annotated[tuple[Target, ...], NoDecode] = Field(
        default=(),
        description="Webhook URL(s), comma-separated, each URL or NAME=URL (as for alertmanager_url); Alertmanager "
        "webhook payload version 4.",
    )
    webhook_token: SecretStr | None = Field(default=None, description="Bearer token sent to webhooks.")
    alert_resend_interval: float = Field(
        default=DEFAULT_ALERT_RESEND_INTERVAL, gt=0, description="Seconds between re-sends of firing alerts."
    )
    delivery_queue_limit: int = Field(
        default=DEFAULT_DELIVERY_QUEUE_LIMIT, gt=0, description="Alerts held per peer while it is down."
    )
    public_url: str | None = Field(default=None, description="URL of this worker's web server, for generatorURL links.")
    advertised_url: str | None = Field(
        default=None,
        description="URL the other workers reach this worker's web server at, to ask it about the units it owns "
        "(default: http://WEB_HOST:WEB_PORT); unique per worker, e.g. the pod's name under a headless Service.",
    )
    max_unlisted_units: int = Field(
        default=200, ge=0, description="Units on no roster shown one by one in metrics; the rest are folded."
    )
    cluster_token: SecretStr | None = Field(
        default=None,
        description="The credential workers send each other (/api/v1/internal/*): set, those endpoints answer "
        "only a request that carries it; unset, anyone who reaches the port. It also seals the extensions a viewer "
        "grants (unset, none can be granted).",
    )
    publishers: Path | None = Field(
        default=None,
        description="The publisher registry file: which publisher may report which unit, with its HTTP tokens. "
        "Unset, every publisher may report every unit (open mode).",
    )
    viewers: Path | None = Field(
        default=None,
        description="The viewers file: who may read the API, the console, the reports and the stream, and which units "
        "each sees (bearer tokens kept hashed, or user names from MONITOR_AUTH_PROXY_HEADER). Unset, anyone who "
        "reaches the port reads every unit.",
    )
    auth_proxy_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,100}$",
        description="The request header in which a trusted authenticating proxy (oauth2-proxy) names the user, e.g. "
        "X-Forwarded-Email; matched against the viewers' 'users'. Set it only when no request reaches the worker "
        "but through the proxy.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token /metrics asks for (Prometheus: 'authorization' in the scrape config); unset, "
        "/metrics answers whoever reaches the port.",
    )
    trusted_keys: Path | None = Field(
        default=None,
        description="The working group's public keys (a YAML file of 'keys: [{id, public_key}]'): set, a rule pack or "
        "publisher registry record is put in force only if one of them signed it (monitor rules apply --sign-key); "
        "unset, any record of the rules and publishers topics is.",
    )
    ingest_token: SecretStr | None = Field(
        default=None, description="Bearer token for POST /api/v1/events; unset, HTTP ingestion is off."
    )
    viewer_token: SecretStr | None = Field(
        default=None,
        description="A viewer's token, which 'monitor alerts ack', 'assign' and 'note' send to the worker they ask.",
    )
    ingest_max_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body accepted by HTTP ingestion."
    )
    no_color: str = Field(
        default="",
        validation_alias="NO_COLOR",
        description="The no-color.org convention, read as NO_COLOR (no prefix): set and not empty, output has no colour.",
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        """Rule files from the environment: one path, or several separated by commas (a list as given otherwise)."""
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("alertmanager_url", "webhook_url", mode="before")
    @classmethod
    def _targets(cls, value: Any, info: ValidationInfo) -> Any:
        """Entries (a comma-separated string from the environment, or a list) as targets, checked and named."""
        if isinstance(value, str):
            value = split_entries(value)
        if not isinstance(value, Sequence) or not all(isinstance(entry, str) for entry in value):
            return value  # targets built already, or something pydantic refuses by itself
        name = str(info.field_name)
        setting = f"{cls.model_config.get('env_prefix', '')}{name.upper()}"
        try:
            return tuple(parse_targets(_TARGET_KINDS[name], setting, value))
        except TargetError as exc:  # the error names the setting: the message says only which entry and why
            raise PydanticCustomError("alert_target", "{detail}", {"detail": exc.detail}) from None

    @field_validator(
        "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", "publishers", "trusted_keys", "viewers"
    )
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        """A file named (TLS, the publisher registry) must be there when the settings are built, not when used."""
        if value is not None and not value.is_file():
            raise PydanticCustomError("tls_file", "the file does not exist")
        return value

    @model_validator(mode="after")
    def _viewers_between_workers(self) -> Settings:
        """With viewers, workers ask each other for units only with the cluster credential (else none would answer)."""
        if self.viewers is not None and self.advertised_url is not None and self.cluster_token is None:
            prefix = self.model_config.get("env_prefix", "")
            raise PydanticCustomError(
                "viewers_without_cluster_token",
                "{prefix}VIEWERS with {prefix}ADVERTISED_URL (workers that ask each other) needs "
                "{prefix}CLUSTER_TOKEN: without it /api/v1/internal/* would answer every unit to anyone",
                {"prefix": prefix},
            )
        return self

    @model_validator(mode="after")
    def _proxy_names_viewers(self) -> Settings:
        """A proxy's user header is matched against the viewers file: without one it would admit nobody."""
        if self.auth_proxy_header is not None and self.viewers is None:
            prefix = self.model_config.get("env_prefix", "")
            raise PydanticCustomError(
                "proxy_without_viewers",
                "{prefix}AUTH_PROXY_HEADER needs {prefix}VIEWERS: the file that says which units each user sees",
                {"prefix": prefix},
            )
        return self

    @model_validator(mode="after")
    def _sasl_credentials(self) -> Settings:
        """A SASL protocol needs a user name and a password, said when the settings are built."""
        if self.kafka_security_protocol.startswith("SASL") and (
            self.kafka_sasl_username is None or self.kafka_sasl_password is None
        ):
            prefix = self.model_config.get("env_prefix", "")
            raise PydanticCustomError(
                "sasl_credentials",
                "{setting}={protocol} needs {prefix}KAFKA_SASL_USERNAME and {prefix}KAFKA_SASL_PASSWORD",
                {
                    "setting": f"{prefix}KAFKA_SECURITY_PROTOCOL",
                    "protocol": self.kafka_security_protocol,
                    "prefix": prefix,
                },
            )
        return self

    @property
    def rules_from_topic(self) -> bool:
        """Whether the worker follows the rules topic: no rule files were named (``--rules``, ``MONITOR_RULES``)."""
        return "rules" not in self.model_fields_set

    @property
    def colour(self) -> bool:
        """Whether output may be coloured at all (a terminal is also needed): not when ``NO_COLOR`` is set."""
        return not self.no_color

    @property
    def grant_key(self) -> bytes | None:
        """The key extensions are sealed with (``events.grants``): the cluster credential; ``None`` without one."""
        return self.cluster_token.get_secret_value().encode("utf-8") if self.cluster_token is not None else None

    @property
    def base_url(self) -> str:
        """Where this worker's web server is reached."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def peer_url(self) -> str:
        """Where the other workers reach this worker's web server."""
        return (self.advertised_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a worker's entry point warns of, once, before the worker starts.

        Links or peers that lead nowhere, and a shared ingestion token a
        publisher registry makes useless. The links alerts carry matter only when alerts are delivered (to an
        Alertmanager or a webhook); the address peers ask matters always.
        """
        links = self.unreachable_links if self.alertmanager_url or self.webhook_url else None
        shared = (
            "MONITOR_INGEST_TOKEN is ignored: with a publisher registry (MONITOR_PUBLISHERS) each publisher "
            "sends its own token"
            if self.ingest_token is not None and self.publishers is not None
            else None
        )
        internal = (
            "MONITOR_CLUSTER_TOKEN is unset: /api/v1/internal/*, where workers ask each other for units, answers "
            "anyone who reaches the port"
            if self.advertised_url is not None and self.cluster_token is None
            else None
        )
        found = (links, self.unreachable_peers, shared, internal)
        return tuple(warning for warning in found if warning is not None)

    @property
    def unreachable_peers(self) -> str | None:
        """Why other workers could not reach this one, or ``None`` when they can (as far as can be told here)."""
        if self.advertised_url or self.web_host.strip("[]") not in _EVERY_ADDRESS:
            return None
        return (
            f"MONITOR_ADVERTISED_URL is not set and the web server binds {self.web_host}: the other workers "
            f"would ask {self.peer_url} about this worker's units; set MONITOR_ADVERTISED_URL to a URL of this "
            "worker they reach"
        )

    @property
    def unreachable_links(self) -> str | None:
        """Why the links alerts carry (``generatorURL``) would lead nowhere, or ``None`` when they lead here.

        Without ``public_url`` they point at the address the server binds; an
        address that stands for every interface (``0.0.0.0`` in a container)
        is no place a browser can go.
        """
        if self.public_url or self.web_host.strip("[]") not in _EVERY_ADDRESS:
            return None
        return (
            f"MONITOR_PUBLIC_URL is not set and the web server binds {self.web_host}: alert links "
            f"(generatorURL) point at {self.base_url}, which no browser reaches; set MONITOR_PUBLIC_URL "
            "to the URL users open the feed page at"
        )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("advertised_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("advertised_url must be an http:// or https:// URL the other workers reach")
        return value

    @field_validator("broker")
    @classmethod
    def _kafka_url(cls, value: str) -> str:
        if "://" not in value:
            value = f"kafka://{value}"
        if not value.startswith("kafka://"):
            raise ValueError("broker must look like kafka://host:port")
        return value

    @property
    def bootstrap_servers(self) -> str:
        """The broker address(es) as a plain Kafka client wants them."""
        return self.broker.removeprefix("kafka://").replace(";", ",")
