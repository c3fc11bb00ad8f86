"""Settings shared by every service, read from environment variables only.

Each service subclasses `ServiceSettings` with its own prefixed fields. A bad value
stops the process with one line naming the variable (see `load_settings`).
Telemetry is not here: the standard OTEL_* variables configure it (observability.py).
"""

from __future__ import annotations

import socket
import sys
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from quorum_common.errors import StartupError
from quorum_common.secretbox import check_keys


# The fields every service declares under its own prefix (IDEAS_GRPC_PORT, ...): the
# bounds and defaults are the same rule everywhere, so they are stated here once.
def listen_host(api: str) -> Any:
    """The address `api` binds: loopback unless told (a container binds 0.0.0.0)."""
    return Field(default="127.0.0.1", description=f"Address the {api} binds")


def listen_port(api: str, default: int) -> Any:
    """The port `api` listens on; 0 takes a free one (the tests' in-process services)."""
    return Field(default=default, ge=0, le=65535, description=f"Port of the {api}")


def own_database(default: str, description: str) -> Any:
    """The service's own MongoDB database: no service reads another's."""
    return Field(default=default, min_length=1, description=description)


def _fernet_keys(value: SecretStr) -> SecretStr:
    check_keys(value.get_secret_value())
    return value


# Fernet key(s), comma separated: the first encrypts, all decrypt (secretbox.py).
FernetKeys = Annotated[SecretStr, AfterValidator(_fernet_keys)]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Kafka brokers, comma separated host:port"
    )
    kafka_topic_prefix: str = Field(
        default="", description="Prepended to every topic name (isolates tests and tenants)"
    )
    kafka_topic_retention_ms: int = Field(
        default=0,
        ge=0,
        description="retention.ms of the topics a service creates (0: the broker's default); "
        "kept shorter only where a broker's cost grows with its whole log (the bench on the "
        "local noida-db)",
    )
    kafka_idle_pause_max_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Longest pause of an idle consumer (1 ms after an empty poll, doubling); "
        "only for brokers that answer empty fetches at once (the local noida-db); 0 on Kafka",
    )
    kafka_consumer_linger_ms: int = Field(
        default=30,
        ge=0,
        le=1000,
        description="After a fetch that brought events, how long a consumer waits before "
        "fetching again, so that what arrives meanwhile is applied in the same transaction: "
        "under load fewer, larger batches (less CPU per event) for at most this much latency",
    )
    kafka_group_instance_id: str = Field(
        default="",
        description="This replica's static member id in its consumer groups: stable across "
        "its restarts, unique among replicas; empty: host name and gRPC port",
    )
    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27027/?replicaSet=rs0",
        description="MongoDB replica set URI (transactions need a replica set)",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="The event loop: uvloop (libuv; less CPU per endorsement than the "
        "standard library's, docs/benchmarks.md) or asyncio",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "text"] = Field(
        default="json", description="json (one object per line) or text (for a terminal)"
    )
    startup_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long to wait for Kafka and MongoDB at start"
    )
    outbox_retention_seconds: int = Field(
        default=120,
        ge=10,
        description="How long a published outbox row is kept, with the partition and offset "
        "the broker acknowledged, to publish it again if the broker loses it (longer than a "
        "broker restart takes)",
    )
    grpc_max_connection_age_seconds: float = Field(
        default=0,
        ge=0,
        description="Close each client connection after this long (0: never), so clients "
        "re-resolve a headless Service and balance over new replicas too",
    )

    grpc_tls_ca_file: str = Field(
        default="",
        description="Mutual TLS between the gateway and the internal services: the CA (PEM) "
        "that signed every service's certificate; empty: plaintext inside the platform",
    )
    grpc_tls_cert_file: str = Field(
        default="",
        description="This service's certificate chain (PEM) for the internal mutual TLS",
    )
    grpc_tls_key_file: str = Field(
        default="",
        validate_default=True,
        description="This service's private key (PEM) for the internal mutual TLS",
    )

    @field_validator("grpc_tls_key_file")
    @classmethod
    def _internal_tls_whole(cls, value: str, info: ValidationInfo) -> str:
        given = [bool(info.data.get(f"grpc_tls_{n}_file")) for n in ("ca", "cert")] + [bool(value)]
        if any(given) and not all(given):
            raise ValueError(
                "GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE go together"
            )
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_form(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()


def group_instance_id(settings: ServiceSettings, grpc_port: int) -> str:
    """The replica's static group member id (KIP-345): the setting, else host and port.

    A restarted replica must come back under the id it had, so that the group hands it
    its partitions at once instead of waiting for the dead member to be expelled (which
    noida-db never does). Replicas must not share one: a second member under the same id
    fences the first. The host name is the pod's on Kubernetes, and replicas on one
    machine have distinct ports, so the default is stable and unique in both cases.
    """
    return settings.kafka_group_instance_id or f"{socket.gethostname()}:{grpc_port}"


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings; on a bad value raise StartupError naming the variable."""
    try:
        return cls()
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise StartupError(f"{name}: {message}") from None


def die(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)
