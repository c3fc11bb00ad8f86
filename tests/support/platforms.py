"""A whole Quorum of its own for a test: the four services as processes, logs kept.

`replicas=2` runs each service as two processes (platform.py: own ports, shared
database and consumer group, the gateway balancing over a backend's replicas).
"""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from quorum_devtools import platform
from quorum_devtools.infra import LocalInfra
from support.servers import Servers, free_port

Processes = dict[str, subprocess.Popen[bytes]]


@contextmanager
def own_platform(
    infra: Servers,
    topic_prefix: str,
    database_prefix: str,
    logs: Path,
    extra_env: Mapping[str, str] | None = None,
    gateway_ca_file: str = "",
    replicas: int = 1,
) -> Iterator[tuple[platform.Platform, Processes]]:
    """Start the services on free ports with their own topics and databases; stop them.

    Each replica logs to `logs/<name>.log` (`ideas`, `ideas-2`, ...; printed when the
    start fails). A clean shutdown is part of the contract: every replica still running
    exits 0 on SIGTERM.
    """
    settings = replicated(
        on_free_ports(
            infra.kafka_bootstrap_servers,
            infra.mongodb_uri,
            topic_prefix,
            database_prefix,
            extra_env,
            gateway_ca_file,
        ),
        replicas,
    )
    handles = {name: (logs / f"{name}.log").open("wb") for name in settings.names}
    processes = platform.start(settings, output=handles)
    try:
        platform.wait_serving(settings, processes, timeout=60)
        yield settings, processes
    except platform.StartFailedError:
        for name in settings.names:
            print(f"--- {name} log ---\n{(logs / f'{name}.log').read_text()}")
        raise
    finally:
        codes = platform.stop(processes)
        for handle in handles.values():
            handle.close()
    assert codes == dict.fromkeys(settings.names, 0), codes


def on_free_ports(
    kafka_bootstrap_servers: str,
    mongodb_uri: str,
    topic_prefix: str,
    database_prefix: str,
    extra_env: Mapping[str, str] | None = None,
    gateway_ca_file: str = "",
) -> platform.Platform:
    """Platform settings on free ports with topics and databases of their own, so the
    platform can run beside any other (another test, another engineer's `make test`)."""
    return platform.Platform(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        mongodb_uri=mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        http_port=free_port(),
        topic_prefix=topic_prefix,
        database_prefix=database_prefix,
        extra_env=dict(extra_env or {}),
        gateway_ca_file=gateway_ca_file,
    )


@contextmanager
def on_servers_of_its_own(
    folder: Path, letter: str
) -> Iterator[tuple[LocalInfra, platform.Platform]]:
    """A broker and a mongod of its own in `folder` (a test may kill them, and a kill
    inside a transaction leaves it open on mongod only as long as the local servers'
    short lifetime, infra.py), with platform settings on free ports, text logs, and
    topics and databases named `<letter><tag>`; the servers stop afterwards."""
    infra = LocalInfra(folder / "servers", free_port(), free_port())
    infra.up()
    tag = f"{letter}{uuid.uuid4().hex[:8]}"
    try:
        yield (
            infra,
            on_free_ports(
                infra.bootstrap_servers,
                infra.mongodb_uri,
                f"{tag}.",
                f"{tag}_",
                {"LOG_FORMAT": "text"},
            ),
        )
    finally:
        infra.down()


def replicated(settings: platform.Platform, replicas: int) -> platform.Platform:
    """The same platform with `replicas` processes of each service, on more free ports."""
    if replicas <= 1:
        return settings
    more = {service: [free_port() for _ in range(replicas - 1)] for service in platform.SERVICES}
    return dataclasses.replace(
        settings,
        more_ports=more,
        more_http_ports=[free_port() for _ in range(replicas - 1)],
    )
