"""The four services as real processes against the real broker and MongoDB."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from conftest import Isolation

from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.platforms import own_platform
from support.servers import Servers


@pytest.fixture
def started(
    infra: Servers, isolation: Isolation, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[platform.Platform, dict[str, subprocess.Popen[bytes]]]]:
    """A whole Quorum of its own: own ports, topics and databases; logs in tmp_path.

    With its processes, for tests that stop one. `@pytest.mark.platform_env(NAME="value")`
    adds settings for the services.
    """
    marker = request.node.get_closest_marker("platform_env")
    with own_platform(
        infra,
        isolation.topic_prefix,
        isolation.database_prefix,
        tmp_path,
        dict(marker.kwargs) if marker else None,
    ) as started:
        yield started


@pytest.fixture
def running(
    started: tuple[platform.Platform, dict[str, subprocess.Popen[bytes]]],
) -> platform.Platform:
    """The platform's settings (ports, topic prefix, databases) for its clients."""
    return started[0]


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
