"""A whole Quorum of its own for a test: the four services as processes, logs kept."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from quorum_devtools import platform
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
) -> Iterator[tuple[platform.Platform, Processes]]:
    """Start the services on free ports with their own topics and databases; stop them.

    Each service logs to `logs/<service>.log` (printed when the start fails). A clean
    shutdown is part of the contract: every service still running exits 0 on SIGTERM.
    """
    settings = platform.Platform(
        extra_env=dict(extra_env or {}),
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        http_port=free_port(),
        topic_prefix=topic_prefix,
        database_prefix=database_prefix,
        gateway_ca_file=gateway_ca_file,
    )
    handles = {service: (logs / f"{service}.log").open("wb") for service in platform.SERVICES}
    processes = platform.start(settings, output=handles)
    try:
        platform.wait_serving(settings, processes, timeout=60)
        yield settings, processes
    except platform.StartFailedError:
        for service in platform.SERVICES:
            print(f"--- {service} log ---\n{(logs / f'{service}.log').read_text()}")
        raise
    finally:
        codes = platform.stop(processes)
        for handle in handles.values():
            handle.close()
    assert codes == dict.fromkeys(platform.SERVICES, 0), codes
