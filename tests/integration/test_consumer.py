"""The set-based consumer against the real broker and MongoDB.

Records fetched together apply in one transaction with one handler call, or not at all
(then one by one, where poison is dead-lettered and failures are retried). The batch
rules are driven with records handed to `on_records` directly, because how many records
the broker hands over at once is up to the broker; the loop itself (offsets, retries,
idle pauses) runs against the broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.structs import ConsumerRecord
from conftest import Isolation
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.consumer import EventConsumer
from quorum_common.events import PoisonEvent, Topics, headers
from quorum_common.kafka import RelayProducer, ensure_topics, make_broker
from quorum_common.processed import PROCESSED, Consumed
from quorum_common.unit_of_work import Unit
from support import events
from support.kafka import Collector
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "tenant-consumer"
WITHIN = 30.0


@dataclass
class Applied:
    """A handler writing one document per event in the consumer's transaction."""

    database: AsyncDatabase[dict[str, Any]]
    poison_ids: set[str] = field(default_factory=set)
    # Event ids that fail (as if MongoDB were unreachable) this many more times.
    failing: dict[str, int] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)

    async def __call__(self, unit: Unit, consumed: Sequence[Consumed]) -> None:
        ids = [c.event.envelope.event_id for c in consumed]
        self.calls.append(ids)
        await self.database["effects"].insert_many([{"_id": i} for i in ids], session=unit.session)
        for event_id in ids:
            if event_id in self.poison_ids:
                raise PoisonEvent(f"{event_id} can never apply")
            if self.failing.get(event_id, 0) > 0:
                self.failing[event_id] -= 1
                raise ConnectionError("the database went away")

    async def effects(self) -> list[str]:
        return [d["_id"] async for d in self.database["effects"].find({})]

    async def marks(self) -> set[str]:
        return {d["_id"] async for d in self.database[PROCESSED].find({})}


@dataclass
class Setup:
    applied: Applied
    topics: Topics
    broker: KafkaBroker
    bootstrap: str
    make: Callable[..., EventConsumer]


@pytest.fixture
async def setup(infra: Servers, isolation: Isolation) -> AsyncIterator[Setup]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    database = client[isolation.database("consumer")]
    for name in (PROCESSED, "effects"):  # a transaction cannot create a collection
        await database.create_collection(name)
    topics = Topics(isolation.topic_prefix)
    await ensure_topics(
        infra.kafka_bootstrap_servers, [topics.ideas, topics.dead_letter("test")], 10.0
    )
    broker = make_broker(infra.kafka_bootstrap_servers, "consumer-test")
    await broker.start()
    applied = Applied(database)
    # Each consumer's dead-letter producer, stopped at the end as `__main__` stops its own.
    producers: list[RelayProducer] = []

    def make(**overrides: Any) -> EventConsumer:
        producers.append(RelayProducer(infra.kafka_bootstrap_servers, "consumer-test-dlq"))
        settings: dict[str, Any] = {
            "name": "test",
            "bootstrap_servers": infra.kafka_bootstrap_servers,
            "dead_letters": producers[-1],
            "client": client,
            "database": database,
            "topics": topics,
            "sources": [topics.ideas],
            "handle": applied,
            "idle_pause_max_ms": 100,
            "max_backoff_seconds": 0.2,
        }
        settings.update(overrides)
        return EventConsumer(**settings)

    try:
        yield Setup(applied, topics, broker, infra.kafka_bootstrap_servers, make)
    finally:
        for producer in producers:
            await producer.stop()
        await broker.stop()
        await client.close()


def record(event: events_pb2.Event | bytes, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = event if isinstance(event, bytes) else event.SerializeToString()
    extra = [] if isinstance(event, bytes) else [(k, v.encode()) for k, v in headers(event).items()]
    return ConsumerRecord("ideas", 0, offset, 0, 0, b"key", value, None, 3, len(value), extra)


def idea_events(count: int) -> list[events_pb2.Event]:
    first = events.submitted(TENANT, "bakery")
    idea = first.envelope.idea_id
    return [first, *(events.endorsed(TENANT, idea, f"org-{n}", n + 2) for n in range(count - 1))]


def ids(history: Sequence[events_pb2.Event]) -> list[str]:
    return [e.envelope.event_id for e in history]


async def dead_letters(setup: Setup, count: int) -> list[Any]:
    """The test consumer's dead letters, once there are `count` of them."""
    async with Collector(setup.bootstrap, setup.topics.dead_letter("test")) as dead:
        await dead.wait_for(lambda: len(dead.records) >= count, f"{count} dead letters", WITHIN)
        return list(dead.records)


# --- one batch, one transaction, one handler call -----------------------------------


async def test_a_batch_is_one_handler_call_in_order_and_known_events_are_skipped(
    setup: Setup,
) -> None:
    consumer, applied = setup.make(), setup.applied
    history = idea_events(4)
    # The first two were applied before (a redelivery after a crash, say).
    await consumer.on_records([record(e, n) for n, e in enumerate(history[:2])])
    applied.calls.clear()

    await consumer.on_records([record(e, n) for n, e in enumerate(history)])

    assert applied.calls == [ids(history[2:])]
    assert await applied.effects() == ids(history)
    assert await applied.marks() == set(ids(history))


async def test_the_same_event_twice_in_one_fetch_applies_once(setup: Setup) -> None:
    consumer, applied = setup.make(), setup.applied
    history = idea_events(2)

    await consumer.on_records([record(e, n) for n, e in enumerate([*history, history[0]])])

    assert applied.calls == [ids(history)]
    assert await applied.effects() == ids(history)


async def test_a_poison_event_goes_to_the_dead_letters_and_the_others_apply_once(
    setup: Setup,
) -> None:
    consumer, applied = setup.make(), setup.applied
    history = idea_events(3)
    poison = history[1].envelope.event_id
    applied.poison_ids.add(poison)

    await consumer.on_records([record(e, n) for n, e in enumerate(history)])

    # The batch was refused whole (nothing of it kept), then each went alone.
    assert applied.calls == [ids(history), *([i] for i in ids(history))]
    effects = await applied.effects()
    assert sorted(effects) == sorted(i for i in ids(history) if i != poison)
    assert await applied.marks() == set(effects)
    (dead,) = await dead_letters(setup, 1)
    assert dict(dead.headers)["quorum-dlq-reason"].decode() == f"{poison} can never apply"


async def test_an_undecodable_record_is_dead_lettered_before_the_batch(setup: Setup) -> None:
    consumer, applied = setup.make(), setup.applied
    history = idea_events(2)
    records = [record(history[0], 0), record(b"\xff\x00 not a protobuf", 1), record(history[1], 2)]

    await consumer.on_records(records)

    assert applied.calls == [ids(history)]
    (dead,) = await dead_letters(setup, 1)
    assert dead.value == b"\xff\x00 not a protobuf"
    assert dict(dead.headers)["quorum-dlq-reason"].decode().startswith("undecodable")


async def test_a_handler_keyed_by_event_id_needs_no_marks(setup: Setup) -> None:
    consumer, applied = setup.make(marks=False), setup.applied
    history = idea_events(3)
    await consumer.on_records([record(e, n) for n, e in enumerate(history[:2])])

    # Redelivered with one new event: the known ones fail their insert and count as
    # duplicates one by one, the new one is applied.
    await consumer.on_records([record(e, n) for n, e in enumerate(history)])

    assert sorted(await applied.effects()) == sorted(ids(history))
    assert await applied.marks() == set()
    assert consumer.applied == 3


async def test_events_a_handler_does_not_take_pass_without_a_trace_in_the_database(
    setup: Setup,
) -> None:
    consumer, applied = setup.make(kinds=["IdeaEndorsed"]), setup.applied
    history = idea_events(3)

    await consumer.on_records([record(e, n) for n, e in enumerate(history)])

    assert applied.calls == [ids(history[1:])]
    assert await applied.marks() == set(ids(history[1:]))


# --- the loop against the broker ------------------------------------------------------


async def test_a_failure_is_retried_from_the_broker_and_applies_exactly_once(
    setup: Setup,
) -> None:
    consumer, applied = setup.make(), setup.applied
    history = idea_events(5)
    flaky = history[2].envelope.event_id
    applied.failing[flaky] = 2
    for event in history:
        await setup.broker.publish(
            event.SerializeToString(),
            topic=setup.topics.ideas,
            key=event.envelope.idea_id.encode(),
            headers=headers(event),
        )

    await consumer.start()
    try:

        async def all_applied() -> bool:
            return sorted(await applied.effects()) == sorted(ids(history))

        await until(all_applied, "every event applied", WITHIN)
    finally:
        await consumer.stop()
    assert applied.failing[flaky] == 0
    assert len(await applied.effects()) == len(history)

    # A new consumer of the group starts after what was committed: nothing again.
    applied.calls.clear()
    marker = idea_events(1)[0]
    await setup.broker.publish(
        marker.SerializeToString(), topic=setup.topics.ideas, key=b"k", headers=headers(marker)
    )
    again = setup.make()
    await again.start()
    try:

        async def marker_applied() -> bool:
            return marker.envelope.event_id in await applied.effects()

        await until(marker_applied, "the next event", WITHIN)
    finally:
        await again.stop()
    assert applied.calls == [[marker.envelope.event_id]]


@pytest.fixture
def fetches() -> Iterator[list[str]]:
    """The fetch requests this process sends to the broker (a spy; behaviour unchanged)."""
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


# An idle spell, counted in the consumer's own polls: unpaused, each waits its long poll
# while the fetcher asks again and again; paused, each is one round of fetches.
IDLE_POLLS = 4


async def idle_fetches_then_receive(setup: Setup, fetches: list[str], pause_ms: int) -> int:
    """Fetches sent during a quiet spell of IDLE_POLLS polls; then a record must arrive."""
    consumer, applied = setup.make(idle_pause_max_ms=pause_ms), setup.applied
    await consumer.start()
    try:

        async def joined() -> bool:
            return consumer.joined

        # The group is joined in the background; the spell measured is the idle loop's.
        await until(joined, "the consumer in its group", WITHIN)
        started, polled = len(fetches), consumer.polls

        async def quiet_spell_over() -> bool:
            return consumer.polls >= polled + IDLE_POLLS

        await until(quiet_spell_over, "the consumer's idle polls", WITHIN)
        idle = len(fetches) - started
        event = idea_events(1)[0]
        await setup.broker.publish(
            event.SerializeToString(), topic=setup.topics.ideas, key=b"k", headers=headers(event)
        )

        async def received() -> bool:
            return event.envelope.event_id in await applied.effects()

        await until(received, "the record after a quiet spell", WITHIN)
    finally:
        await consumer.stop()
    return idle


async def test_an_idle_consumer_pauses_and_still_receives(
    setup: Setup, infra: Servers, fetches: list[str]
) -> None:
    unpaused = await idle_fetches_then_receive(setup, fetches, 0)
    paused = await idle_fetches_then_receive(setup, fetches, 100)

    if infra.source != "testcontainers":
        # noida-db answers an empty fetch at once, so an unpaused idle consumer asks again
        # and again while it waits out each long poll (Kafka's long poll makes it wait
        # instead); paused, it asks once a round. Counted per poll, not per second, so a
        # busy machine changes neither count much.
        assert paused * 10 < unpaused, (paused, unpaused)
