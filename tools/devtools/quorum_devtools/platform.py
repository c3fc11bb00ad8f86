"""The four services as OS processes: their settings, start, health, stop.

Used by `make run` (quorum_devtools.run) and by the end-to-end tests, so both run
the platform exactly the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
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

    def env(self) -> dict[str, str]:
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
        env["IDEAS_ADDRESS"] = f"127.0.0.1:{self.ports['ideas']}"
        env["VALIDATION_ADDRESS"] = f"127.0.0.1:{self.ports['validation']}"
        env["NOTIFICATIONS_ADDRESS"] = f"127.0.0.1:{self.ports['notifications']}"
        env.update(self.extra_env)
        return env

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

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


def start(
    platform: Platform, output: Mapping[str, IO[bytes] | int] | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Start every service as its own process (`python -m quorum_<service>`)."""
    return {
        service: start_service(platform, service, (output or {}).get(service, subprocess.PIPE))
        for service in SERVICES
    }


def start_service(
    platform: Platform, service: str, output: IO[bytes] | int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """Start one service's process (also to restart one that died)."""
    return subprocess.Popen(
        [sys.executable, "-m", f"quorum_{service}"],
        env=platform.env(),
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
    """Block until every service reports SERVING; raise if one exits or time runs out."""
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    while pending:
        for service in list(pending):
            code = processes[service].poll()
            if code is not None:
                raise StartFailedError(f"{service} exited with code {code} during start")
            if serving(platform.address(service), credentials=platform.credentials(service)):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            raise StartFailedError(f"not SERVING after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            time.sleep(0.1)


def stop(processes: Mapping[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> dict[str, int]:
    """SIGTERM everything (gateway first), wait, SIGKILL stragglers; exit codes."""
    for service in reversed(SERVICES):
        process = processes.get(service)
        if process is not None and process.poll() is None:
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
