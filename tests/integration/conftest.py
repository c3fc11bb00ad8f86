"""A service running in this test's event loop against the real broker and MongoDB."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from conftest import Isolation
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.events import Topics
from quorum_devtools.sinks import MailSink
from quorum_validation.__main__ import serve
from quorum_validation.settings import ValidationSettings
from support.ideas_service import Running, running_ideas
from support.notifications_service import RunningNotifications, running_notifications
from support.servers import Servers, free_port


@dataclass
class RunningValidation:
    channel: grpc.aio.Channel
    topics: Topics
    database: AsyncDatabase[dict[str, Any]]
    bootstrap: str


async def _wait_serving(channel: grpc.aio.Channel, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 60
    stub = health_pb2_grpc.HealthStub(channel)
    while True:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("validation stopped during start")
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if answer.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("validation not SERVING after 60s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def validation(infra: Servers, isolation: Isolation) -> AsyncIterator[RunningValidation]:
    settings = ValidationSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=isolation.topic_prefix,
        validation_mongodb_database=isolation.database("validation"),
        validation_grpc_port=free_port(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{settings.validation_grpc_port}") as channel:
        try:
            await _wait_serving(channel, task)
            yield RunningValidation(
                channel,
                Topics(isolation.topic_prefix),
                client[settings.validation_mongodb_database],
                infra.kafka_bootstrap_servers,
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
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
