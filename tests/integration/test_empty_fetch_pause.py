"""KAFKA_EMPTY_FETCH_PAUSE_MS: an idle consumer stops hammering a broker that answers
empty fetches at once, and still gets every record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from conftest import Isolation

from quorum_common.kafka import ensure_topics, pause_after_empty_fetches
from quorum_devtools.infra import EMPTY_FETCH_PAUSE_MS
from support.servers import Servers

IDLE_SECONDS = 1.0


@pytest.fixture
def fetches() -> Iterator[list[str]]:
    """The fetch requests this process's consumers send to the broker, by their class name."""
    original = AIOKafkaClient.send
    sent: list[str] = []

    async def counted(self: Any, node_id: Any, request: Any, **kwargs: Any) -> Any:
        if type(request).__name__.startswith("FetchRequest"):
            sent.append(type(request).__name__)
        return await original(self, node_id, request, **kwargs)

    AIOKafkaClient.send = counted
    try:
        yield sent
    finally:
        AIOKafkaClient.send = original
        # Back to the pause every test process runs with (tests/conftest.py).
        pause_after_empty_fetches(EMPTY_FETCH_PAUSE_MS / 1000)


@pytest.fixture
async def topic(infra: Servers, isolation: Isolation) -> str:
    name = f"{isolation.topic_prefix}pause"
    await ensure_topics(infra.kafka_bootstrap_servers, [name], 10.0)
    return name


async def idle_then_receive(bootstrap: str, topic: str) -> bytes:
    """Consume an empty topic for IDLE_SECONDS, then publish one record and read it."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await asyncio.sleep(IDLE_SECONDS)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"after a quiet spell")
        finally:
            await producer.stop()
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
        return bytes(record.value)
    finally:
        await consumer.stop()


async def test_a_paused_consumer_fetches_rarely_and_still_receives(
    infra: Servers, topic: str, fetches: list[str]
) -> None:
    pause_after_empty_fetches(0.1)

    received = await idle_then_receive(infra.kafka_bootstrap_servers, topic)

    assert received == b"after a quiet spell"
    # At most one fetch per 100 ms pause while idle, plus the one that found the record.
    assert 1 <= len(fetches) <= IDLE_SECONDS / 0.1 + 3, len(fetches)


async def test_pause_zero_restores_aiokafkas_own_fetch(
    infra: Servers, topic: str, fetches: list[str]
) -> None:
    pause_after_empty_fetches(0.1)
    pause_after_empty_fetches(0)

    received = await idle_then_receive(infra.kafka_bootstrap_servers, topic)

    assert received == b"after a quiet spell"
    if infra.source != "testcontainers":
        # noida-db answers empty fetches at once, so unpaused an idle consumer asks
        # again and again (Kafka's long poll would make it wait 500 ms instead).
        assert len(fetches) > IDLE_SECONDS / 0.1 + 3, len(fetches)
