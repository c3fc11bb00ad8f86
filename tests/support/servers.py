"""Real Kafka and MongoDB for the tests, from the first source that has them:

1. KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI, when both are set (`make test` sets them);
2. else, when a Docker engine answers, `apache/kafka` and `mongo` (a one-member
   replica set) started with testcontainers;
3. else the project's own local servers (noida-db and mongod), started in a
   temporary folder on free ports and stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from quorum_devtools.infra import LocalInfra, Server, kafka_answers, mongo_primary


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    source: str


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before in this test process.

    The kernel may offer a port again as soon as the socket that found it is closed, and
    a platform asks for its ports one by one: without the memory two replicas could get
    the same port (the servers refuse to share one, so that fails at start instead of
    splitting the calls between them).
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def _docker_answers() -> bool:
    # Where no engine can listen, do not ask: docker-py's failed attempt leaves its
    # socket to the garbage collector, a ResourceWarning in whichever test runs then.
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        from testcontainers.core.docker_client import DockerClient

        docker = DockerClient().client
    except Exception:
        return False
    try:
        return bool(docker.ping())
    except Exception:
        return False
    finally:
        docker.close()


def _wait(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.2)


@contextmanager
def _containers() -> Iterator[Servers]:
    from testcontainers.core.container import DockerContainer

    kafka_port = free_port()
    kafka = (
        DockerContainer("apache/kafka:3.9.1")
        .with_bind_ports(9092, kafka_port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{kafka_port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
    )
    mongo_port = free_port()
    mongo = (
        DockerContainer("mongo:7.0")
        .with_bind_ports(27017, mongo_port)
        .with_command("--replSet rs0 --bind_ip_all --port 27017")
    )
    with kafka, mongo:
        _wait(lambda: kafka_answers(kafka_port), "kafka container")
        # The member's host is the mapped port so that clients outside Docker reach it.
        _wait(lambda: _initiate_mapped(mongo_port), "mongo container")
        yield Servers(
            f"127.0.0.1:{kafka_port}",
            f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
            "testcontainers",
        )


def _initiate_mapped(port: int) -> bool:
    return mongo_primary(port, initiate=True)


@contextmanager
def _local() -> Iterator[Servers]:
    with tempfile.TemporaryDirectory(prefix="quorum-test-") as folder:
        infra = LocalInfra(Path(folder), free_port(), free_port())
        try:
            infra.up()
            yield Servers(infra.bootstrap_servers, infra.mongodb_uri, "local servers")
        finally:
            infra.down()


@contextmanager
def servers() -> Iterator[Servers]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    uri = os.environ.get("MONGODB_URI")
    if bootstrap and uri:
        yield Servers(bootstrap, uri, "environment")
    elif _docker_answers():
        with _containers() as found:
            yield found
    else:
        with _local() as found:
            yield found


@contextmanager
def private_broker(folder: Path) -> Iterator[Server]:
    """A noida-db of the caller's own (free port, data in `folder`), to kill and restart.

    A test that injects broker faults owns its broker: it never touches a shared one.
    """
    broker = Server("kafka", free_port(), folder)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def restart(server: Server) -> None:
    """Start a stopped or killed local server again, on its port and data."""
    # The dead server's listening socket may outlive it for a moment.
    _wait(lambda: not _port_answers(server.port), f"port {server.port} to be released", 30)
    server.start()


def _port_answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def sigkill(server: Server) -> None:
    """Kill a local server the hard way (no snapshot, no clean shutdown) and reap it."""
    pid = server.pid()
    assert pid is not None, f"{server.name} is not running"
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: server.pid() is None, f"{server.name} to die", timeout=30)
