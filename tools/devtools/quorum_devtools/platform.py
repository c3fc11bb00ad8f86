"""The four services as OS processes: their settings, start, health, stop.

Used by `make run` (quorum_devtools.run) and by the end-to-end tests, so both run
the platform exactly the same way.

A service may run as several replicas on this machine (`Platform.more_ports`): each
replica is a process of its own with its own gRPC port (a gateway replica its own HTTP
port too), named `<service>` for the first and `<service>-2`, `<service>-3`, ... for
the others. The replicas of a service share its database and its consumer group, and
each keeps a static group member id of its own (the default: host name and gRPC port).
The gateway reaches the replicas of a backend through one gRPC target naming all of
them (`ipv4:127.0.0.1:p1,127.0.0.1:p2`), over which its channels balance round-robin.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quorum_devtools.infra import IDLE_PAUSE_MAX_MS

# Start order: backends before the gateway that watches them.
SERVICES = ("ideas", "validation", "notifications", "gateway")
DEFAULT_PORTS = {"gateway": 50051, "ideas": 50061, "validation": 50062, "notifications": 50063}
DEFAULT_HTTP_PORT = 8080  # the gateway's HTTP/JSON door


@dataclass
class Platform:
    """Settings for one running copy of Quorum."""

    kafka_bootstrap_servers: str
    mongodb_uri: str
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    topic_prefix: str = ""
    database_prefix: str = "quorum_"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    http_port: int = DEFAULT_HTTP_PORT
    # The CA that signed the gateway's certificate when GATEWAY_TLS_* are set, for the
    # health checks; else QUORUM_TLS_CA_FILE (the client's), else the system's CAs. The
    # internal services' CA is GRPC_TLS_CA_FILE's.
    gateway_ca_file: str = ""
    # The gRPC ports of a service's replicas after the first (which is on `ports`).
    more_ports: Mapping[str, Sequence[int]] = field(default_factory=dict)
    # The HTTP ports of the gateway's replicas after the first, one per more_ports entry.
    more_http_ports: Sequence[int] = ()

    def replicas(self, service: str) -> list[str]:
        """The names of a service's replicas: `ideas`, then `ideas-2`, `ideas-3`, ..."""
        more = len(self.more_ports.get(service, ()))
        return [service, *(f"{service}-{k}" for k in range(2, more + 2))]

    @property
    def names(self) -> list[str]:
        """Every replica of every service, in start order."""
        return [name for service in SERVICES for name in self.replicas(service)]

    def port(self, name: str) -> int:
        """The gRPC port of a replica (a service's name is its first replica)."""
        service, index = replica_of(name)
        return self.ports[service] if index == 0 else self.more_ports[service][index - 1]

    def target(self, service: str) -> str:
        """The gRPC target naming every replica of a service (round_robin balances)."""
        ports = [self.port(name) for name in self.replicas(service)]
        if len(ports) == 1:
            return f"127.0.0.1:{ports[0]}"
        return "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)

    def env(self, name: str | None = None) -> dict[str, str]:
        """The environment of a replica's process (by default the first's, for tools)."""
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URI": self.mongodb_uri,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "PYTHONUNBUFFERED": "1",
        }
        env.setdefault("KAFKA_IDLE_PAUSE_MAX_MS", str(IDLE_PAUSE_MAX_MS))
        for service in SERVICES:
            upper = service.upper()
            env[f"{upper}_GRPC_PORT"] = str(self.ports[service])
            env[f"{upper}_MONGODB_DATABASE"] = f"{self.database_prefix}{service}"
        env["GATEWAY_HTTP_PORT"] = str(self.http_port)
        env["IDEAS_ADDRESS"] = self.target("ideas")
        env["VALIDATION_ADDRESS"] = self.target("validation")
        env["NOTIFICATIONS_ADDRESS"] = self.target("notifications")
        if name is not None:
            service, index = replica_of(name)
            env[f"{service.upper()}_GRPC_PORT"] = str(self.port(name))
            if service == "gateway" and index > 0:
                env["GATEWAY_HTTP_PORT"] = str(self.more_http_ports[index - 1])
        env.update(self.extra_env)
        return env

    def address(self, name: str) -> str:
        """A replica's gRPC address (a service's name is its first replica)."""
        return f"127.0.0.1:{self.port(name)}"

    @property
    def http_url(self) -> str:
        """The base URL of the gateway's HTTP/JSON API."""
        scheme = "https" if self.env().get("GATEWAY_TLS_CERT_FILE") else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    def credentials(self, service: str) -> grpc.ChannelCredentials | None:
        """How to reach a service's gRPC port, as its settings have it: None for
        plaintext, else TLS (mutual TLS to the internal services)."""
        env = self.env()
        if service == "gateway":
            if not env.get("GATEWAY_TLS_CERT_FILE"):
                return None
            ca_file = self.gateway_ca_file or env.get("QUORUM_TLS_CA_FILE")
            ca = Path(ca_file).read_bytes() if ca_file else None
            return grpc.ssl_channel_credentials(root_certificates=ca)
        if not env.get("GRPC_TLS_CA_FILE"):
            return None
        # Mutual TLS: this side presents the certificate the gateway presents.
        return grpc.ssl_channel_credentials(
            root_certificates=Path(env["GRPC_TLS_CA_FILE"]).read_bytes(),
            private_key=Path(env["GRPC_TLS_KEY_FILE"]).read_bytes(),
            certificate_chain=Path(env["GRPC_TLS_CERT_FILE"]).read_bytes(),
        )


def replica_of(name: str) -> tuple[str, int]:
    """The service of a replica's name and the replica's index (0 for the first)."""
    service, _, number = name.partition("-")
    return service, int(number) - 1 if number else 0


def start(
    platform: Platform, output: Mapping[str, IO[bytes] | int] | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Start every replica of every service as its own process (`python -m quorum_<service>`)."""
    return {
        name: start_service(platform, name, (output or {}).get(name, subprocess.PIPE))
        for name in platform.names
    }


def start_service(
    platform: Platform,
    name: str,
    output: IO[bytes] | int = subprocess.PIPE,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start one replica's process (also to restart one that died), named as in `names`."""
    service, _ = replica_of(name)
    return subprocess.Popen(
        [sys.executable, "-m", f"quorum_{service}"],
        env={**platform.env(name), **(extra_env or {})},
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the supervisor, not the terminal, decides when they stop
    )


def serving(
    address: str, timeout: float = 1.0, credentials: grpc.ChannelCredentials | None = None
) -> bool:
    with (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    ) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


class StartFailedError(Exception):
    pass


def wait_serving(
    platform: Platform, processes: Mapping[str, subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    """Block until every replica reports SERVING; raise if one exits or time runs out."""
    deadline = time.monotonic() + timeout
    pending = list(platform.names)
    while pending:
        for name in list(pending):
            code = processes[name].poll()
            if code is not None:
                raise StartFailedError(f"{name} exited with code {code} during start")
            service, _ = replica_of(name)
            if serving(platform.address(name), credentials=platform.credentials(service)):
                pending.remove(name)
        if pending and time.monotonic() > deadline:
            raise StartFailedError(f"not SERVING after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            time.sleep(0.1)


def stop(processes: Mapping[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> dict[str, int]:
    """SIGTERM everything (gateway replicas first), wait, SIGKILL stragglers; exit codes."""
    for service in reversed(SERVICES):
        for name, process in processes.items():
            if replica_of(name)[0] == service and process.poll() is None:
                process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes = {}
    for service, process in processes.items():
        try:
            codes[service] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            codes[service] = process.wait()
    return codes
