"""The four services as real processes against the real broker and MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from conftest import Isolation

from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.servers import Servers, free_port


@pytest.fixture
def running(
    infra: Servers, isolation: Isolation, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[platform.Platform]:
    """A whole Quorum of its own: own ports, topics and databases; logs in tmp_path.

    `@pytest.mark.platform_env(NAME="value")` adds settings for the services.
    """
    marker = request.node.get_closest_marker("platform_env")
    settings = platform.Platform(
        extra_env=dict(marker.kwargs) if marker else {},
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        topic_prefix=isolation.topic_prefix,
        database_prefix=isolation.database_prefix,
    )
    logs = {service: (tmp_path / f"{service}.log").open("wb") for service in platform.SERVICES}
    processes = platform.start(settings, output=logs)
    try:
        platform.wait_serving(settings, processes, timeout=60)
        yield settings
    except platform.StartFailedError:
        for service in platform.SERVICES:
            print(f"--- {service} log ---\n{(tmp_path / f'{service}.log').read_text()}")
        raise
    finally:
        codes = platform.stop(processes)
        for handle in logs.values():
            handle.close()
    # A clean shutdown is part of the contract: SIGTERM → exit 0.
    assert codes == dict.fromkeys(platform.SERVICES, 0), codes


@pytest.fixture
def admin_key(running: platform.Platform) -> str:
    """The first VENDOR_ADMIN key of a fresh tenant, from the bootstrap command."""
    return bootstrap_tenant(running.env(), "acme-software")


@pytest.fixture
async def gateway(running: platform.Platform, admin_key: str) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to the gateway that calls as the tenant's admin."""
    async with channel(running.address("gateway"), admin_key) as admin:
        yield admin


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The fault-injection run outlasts the default timeout: restarts, then convergence
    # (its own bounds fail it long before these when something is stuck).
    seconds = 3600 if config.getoption("--chaos") else 400
    for item in items:
        if item.nodeid.startswith("tests/e2e/test_fault_injection.py"):
            item.add_marker(pytest.mark.timeout(seconds), append=False)
