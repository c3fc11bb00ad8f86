"""The outbox relay recovers by itself when its broker crashes under it.

The broker is this test's own noida-db: SIGKILLed right after it acknowledged a batch
(it loses what it had not snapshotted yet, about a second's worth) and started again on
the same port and data. The relay must drain what is owed afterwards without its
process being restarted, although the broker forgot the producer's state (an
idempotent producer then fails each send with OutOfOrderSequenceNumber for as long as
it lives), and every event acknowledged before the crash must be on the topic again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.outbox import COLLECTION as OUTBOX
from quorum_common.outbox import EXPIRY_INDEX, EXPIRY_MARGIN, RETENTION, Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_devtools.infra import Server
from support import events
from support.servers import Servers, private_broker, restart, sigkill
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "tenant-relay-recovery"
WITHIN = 60.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Server]:
    with private_broker(tmp_path) as server:
        yield server


async def owe(client: AsyncMongoClient[Any], outbox: Outbox, count: int) -> set[str]:
    history = [events.submitted(TENANT, f"org-{n}") for n in range(count)]

    async def work(unit: Unit) -> None:
        unit.publish(history)

    await commit(client, outbox, work)
    return {e.envelope.event_id for e in history}


async def drained(database: AsyncDatabase[Any]) -> None:
    async def empty() -> bool:
        return not await database[OUTBOX].count_documents({"owed": True})

    await until(empty, "the relay draining the outbox", WITHIN)


async def on_topic(bootstrap: str, topic: str, wanted: set[str]) -> set[str]:
    """Event ids read from the topic until every wanted one is there."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: set[str] = set()
    try:
        deadline = time.monotonic() + WITHIN
        while not wanted <= found:
            assert time.monotonic() < deadline, f"{len(wanted - found)} events not on the topic"
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                found.update(events_pb2.Event.FromString(r.value).envelope.event_id for r in batch)
    finally:
        await consumer.stop()
    return found


async def test_the_relay_drains_after_its_broker_was_killed_and_restarted(
    infra: Servers, isolation: Isolation, broker: Server
) -> None:
    bootstrap = f"127.0.0.1:{broker.port}"
    topic = f"{isolation.topic_prefix}quorum.ideas.v1"
    await ensure_topics(bootstrap, [topic], 10.0)
    # A clean restart makes the topic durable (noida-db writes its data on SIGTERM): a
    # platform's topics exist long before its broker crashes.
    broker.stop()
    restart(broker)
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    database = client[isolation.database("relay")]
    outbox = Outbox(database, topic)
    producer = RelayProducer(bootstrap, "relay-recovery-test")
    relay = asyncio.create_task(outbox.run_relay(producer, sweep_seconds=0.2))
    try:
        before = await owe(client, outbox, 40)
        await drained(database)
        await on_topic(bootstrap, topic, before)

        sigkill(broker)
        restart(broker)

        after = await owe(client, outbox, 40)
        await drained(database)
        # Lost acknowledged records were found by their offsets and published again.
        assert before | after <= await on_topic(bootstrap, topic, before | after)
        assert not relay.done()
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await client.close()


async def test_the_retention_window_is_a_setting_and_a_changed_one_is_applied(
    infra: Servers, isolation: Isolation
) -> None:
    """OUTBOX_RETENTION_SECONDS: the relay expires rows past it, the TTL index follows."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    database = client[isolation.database("retention")]
    try:
        await Outbox(database, "unused").prepare()
        first = await database[OUTBOX].index_information()
        assert first[EXPIRY_INDEX]["expireAfterSeconds"] == int(
            (RETENTION + EXPIRY_MARGIN).total_seconds()
        )
        short = Outbox(database, "unused", timedelta(seconds=30))
        await short.prepare()
        changed = await database[OUTBOX].index_information()
        assert changed[EXPIRY_INDEX]["expireAfterSeconds"] == int(
            (timedelta(seconds=30) + EXPIRY_MARGIN).total_seconds()
        )
        published = datetime.now(UTC)
        await database[OUTBOX].insert_many(
            [
                {"_id": "past", "owed": False, "published_at": published - timedelta(seconds=31)},
                {"_id": "within", "owed": False, "published_at": published - timedelta(seconds=20)},
            ]
        )
        await short.expire()
        assert [row["_id"] async for row in database[OUTBOX].find()] == ["within"]
    finally:
        await client.close()
