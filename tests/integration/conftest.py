"""A service running in this test's event loop against the real broker and MongoDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.events import Topics
from quorum_devtools.sinks import MailSink
from quorum_validation.__main__ import serve
from quorum_validation.settings import ValidationSettings
from support.ideas_service import Running, running_ideas
from support.notifications_service import RunningNotifications, running_notifications
from support.servers import Servers, free_port
from support.serving import serving


@dataclass
class RunningValidation:
    channel: grpc.aio.Channel
    topics: Topics
    database: AsyncDatabase[dict[str, Any]]
    bootstrap: str


@pytest.fixture
async def validation(infra: Servers, isolation: Isolation) -> AsyncIterator[RunningValidation]:
    settings = ValidationSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=isolation.topic_prefix,
        validation_mongodb_database=isolation.database("validation"),
        validation_grpc_port=free_port(),
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        async with serving(
            "validation", lambda stop: serve(settings, stop), settings.validation_grpc_port
        ) as channel:
            yield RunningValidation(
                channel,
                Topics(isolation.topic_prefix),
                client[settings.validation_mongodb_database],
                infra.kafka_bootstrap_servers,
            )
    finally:
        await client.close()


@pytest.fixture(scope="module")
async def ideas(infra: Servers) -> AsyncIterator[Running]:
    """The ideas service as `__main__` wires it, one per module (support/ideas_service.py)."""
    async with running_ideas(infra) as running:
        yield running


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own, so tests sharing a service never see each other's ideas."""
    return f"tenant-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def mail() -> AsyncIterator[MailSink]:
    """A real SMTP server the notifications service sends its e-mail to."""
    sink = MailSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
async def notifications(
    infra: Servers, isolation: Isolation, mail: MailSink
) -> AsyncIterator[RunningNotifications]:
    """The notifications service sending to `mail` (support/notifications_service.py)."""
    async with running_notifications(
        infra, isolation, notifications_smtp_port=mail.port
    ) as running:
        yield running
