"""Records fetched together apply in one transaction, or not at all (then one by one).

The batch path is driven directly with records, against the real MongoDB: whether the
broker hands over one record or many at a time is up to the broker, and these rules
must hold either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, EventConsumer, Record
from quorum_common.events import PoisonEvent, Topics
from quorum_common.kafka import make_broker
from support import events
from support.servers import Servers

TENANT = "tenant-batches"


@dataclass
class Applied:
    """A handler that writes one document per event, in the consumer's transaction."""

    database: AsyncDatabase[dict[str, Any]]
    poison_ids: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        event_id = event.envelope.event_id
        self.calls.append(event_id)
        await self.database["effects"].insert_one({"_id": event_id}, session=session)
        if event_id in self.poison_ids:
            raise PoisonEvent(f"{event_id} can never apply")

    async def effects(self) -> set[str]:
        return {d["_id"] async for d in self.database["effects"].find({})}

    async def marks(self) -> set[str]:
        return {d["_id"] async for d in self.database[PROCESSED].find({})}


@pytest.fixture
async def setup(
    infra: Servers, isolation: Isolation
) -> AsyncIterator[tuple[EventConsumer, Applied]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    database = client[isolation.database("batches")]
    for name in (PROCESSED, "effects"):  # a transaction cannot create a collection
        await database.create_collection(name)
    applied = Applied(database)
    consumer = EventConsumer(
        name="batches",
        broker=make_broker(infra.kafka_bootstrap_servers, "batches-test"),
        client=client,
        database=database,
        topics=Topics(isolation.topic_prefix),
        sources=["unused"],
        handle=applied,
    )
    try:
        yield consumer, applied
    finally:
        await client.close()


def record(value: bytes, offset: int) -> Record:
    return Record("ideas", 0, offset, b"key", value, {})


def idea_events(count: int) -> list[events_pb2.Event]:
    first = events.submitted(TENANT, "bakery")
    others = [
        events.endorsed(TENANT, first.envelope.idea_id, f"org-{n}", n + 2) for n in range(count - 1)
    ]
    return [first, *others]


async def test_a_batch_applies_its_new_events_in_order_and_skips_the_known_ones(
    setup: tuple[EventConsumer, Applied],
) -> None:
    consumer, applied = setup
    history = idea_events(4)
    ids = [e.envelope.event_id for e in history]
    # The first two were applied before (a redelivery after a crash, say).
    assert await consumer._apply_batch(
        [record(e.SerializeToString(), n) for n, e in enumerate(history[:2])]
    )
    applied.calls.clear()

    taken = await consumer._apply_batch(
        [record(e.SerializeToString(), n) for n, e in enumerate(history)]
    )

    assert taken
    assert applied.calls == ids[2:]
    assert await applied.effects() == set(ids)
    assert await applied.marks() == set(ids)


async def test_a_poison_event_in_a_batch_leaves_nothing_of_it_behind(
    setup: tuple[EventConsumer, Applied],
) -> None:
    consumer, applied = setup
    history = idea_events(3)
    applied.poison_ids.add(history[1].envelope.event_id)

    taken = await consumer._apply_batch(
        [record(e.SerializeToString(), n) for n, e in enumerate(history)]
    )

    # Refused whole: the first event's effect and mark were rolled back with the rest,
    # so going one by one (where the poison is dead-lettered) applies each exactly once.
    assert not taken
    assert await applied.effects() == set()
    assert await applied.marks() == set()


@pytest.mark.parametrize("problem", ["undecodable", "same event twice", "single record"])
async def test_batches_the_fast_path_cannot_take_go_one_by_one_untouched(
    setup: tuple[EventConsumer, Applied], problem: str
) -> None:
    consumer, applied = setup
    history = idea_events(2)
    values = [e.SerializeToString() for e in history]
    if problem == "undecodable":
        values.append(b"\xff\x00 not a protobuf")
    elif problem == "same event twice":
        values.append(values[0])
    else:
        values = values[:1]

    taken = await consumer._apply_batch([record(v, n) for n, v in enumerate(values)])

    assert not taken
    assert applied.calls == []
    assert await applied.marks() == set()
