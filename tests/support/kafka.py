"""Talking to the real broker from tests: publish events, collect what services publish."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from quorum.events.v1 import events_pb2
from quorum_common.events import event_type, headers
from quorum_common.kafka import ensure_topics
from support.waiting import until


async def publish(bootstrap: str, topic: str, *events: events_pb2.Event | bytes) -> None:
    """Publish as a service's outbox relay would: keyed by idea id, typed by header."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            if isinstance(event, bytes):
                await producer.send_and_wait(topic, event, key=b"poison")
                continue
            await producer.send_and_wait(
                topic,
                event.SerializeToString(),
                key=event.envelope.idea_id.encode(),
                headers=[(k, v.encode()) for k, v in headers(event).items()],
            )
    finally:
        await producer.stop()


async def fill_partition(bootstrap: str, topic: str, count: int) -> list[RecordMetadata]:
    """Create `topic` and write `event 0` … `event {count - 1}` to its partition 0, in
    order; where each landed, for tests that read the log back at known offsets."""
    await ensure_topics(bootstrap, [topic], 10.0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        return [
            await (await producer.send(topic, f"event {n}".encode(), partition=0))
            for n in range(count)
        ]
    finally:
        await producer.stop()


class Collector:
    """Every record on some topics since the collector started, decoded when possible."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self.records: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        await self._consumer.start()
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()

    async def _collect(self) -> None:
        async for record in self._consumer:
            self.records.append(record)

    def events(self, kind: str | None = None, idea_id: str | None = None) -> list[events_pb2.Event]:
        found = []
        for record in self.records:
            event = events_pb2.Event()
            try:
                event.ParseFromString(record.value)
            except Exception:
                continue
            if kind is not None and event_type(event) != kind:
                continue
            if idea_id is not None and event.envelope.idea_id != idea_id:
                continue
            found.append(event)
        return found

    async def wait_for(self, check: Callable[[], bool], what: str, within: float = 30.0) -> None:
        """Poll until `check` holds; the deadline only guards against hanging."""
        await until(check, what, within)
