"""Idempotent event consumption with a dead-letter topic.

Each consumed event is applied in one MongoDB transaction together with a record
of its event id (unique `_id`), so a redelivered event changes nothing. An event
that can never be applied (undecodable, failing validation) is published to the
consumer's dead-letter topic with the reason, and the stream moves on. Any other
failure (MongoDB unreachable, ...) is retried with backoff; the offset is committed
only after the effect is, so a crash loses nothing.

Records the broker hands over together (up to MAX_BATCH, never waiting for more) are
applied in one transaction, with one processed mark per event: same guarantees, the
transaction's cost shared. Whenever a batch cannot go through whole — a poison record,
a concurrent duplicate, any failure — nothing of it is kept and its records go one by
one, each in its own transaction, which is where dead-lettering and backoff live.

Each record is processed in a "process <topic>" span whose parent is the producer's
context from the record's headers (see outbox.py), and timed per subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common import observability
from quorum_common.events import PoisonEvent, Topics, decode, event_type, now
from quorum_common.mongo import in_transaction

log = logging.getLogger(__name__)

PROCESSED = "processed_events"
PROCESSED_INDEXES = [
    # Kept longer than Kafka's retention, so no redelivery can outlive its record.
    IndexModel(
        [("processed_at", ASCENDING)],
        name="expire_processed",
        expireAfterSeconds=int(timedelta(days=30).total_seconds()),
    )
]

# Applies one event inside the transaction; raises PoisonEvent if it never can.
Handler = Callable[[AsyncClientSession, events_pb2.Event], Awaitable[None]]


# Records taken from the broker at once and applied in one transaction. A batch is what
# the consumer has already fetched, so it never waits to fill one: under no load it is a
# single record, under load the per-transaction cost is shared (docs/benchmarks.md).
MAX_BATCH = 100
# How long one poll waits for records. faststream sleeps as long again after a poll that
# found none, so this bounds the delay a record arriving into a quiet consumer sees.
POLL_MS = 10


@dataclass(frozen=True)
class Record:
    """One consumed Kafka record, as this module needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, record: Any) -> Record:
        return cls(
            topic=str(record.topic),
            partition=int(record.partition),
            offset=int(record.offset),
            key=record.key,
            value=bytes(record.value or b""),
            headers={k: v.decode(errors="replace") for k, v in record.headers or ()},
        )


async def _no_decoding(message: KafkaMessage) -> None:
    # The records are read raw from message.raw_message: faststream would otherwise try
    # JSON on records without a content type, and a poison record must reach us raw.
    return None


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        broker: KafkaBroker,
        client: AsyncMongoClient[dict[str, Any]],
        database: AsyncDatabase[dict[str, Any]],
        topics: Topics,
        sources: list[str],
        handle: Handler,
        after_commit: Callable[[], None] | None = None,
        max_backoff_seconds: float = 30.0,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.name = name
        self._broker = broker
        self._client = client
        self._processed = database[PROCESSED]
        self._dead_letter_topic = topics.dead_letter(name)
        # The prefix isolates consumer groups as it isolates topics: copies of the
        # platform sharing a broker (tests, benchmarks) must never share a group.
        self._group_id = f"{topics.prefix}quorum-{name}"
        self._sources = sources
        self._handle = handle
        self._after_commit = after_commit
        self._max_backoff = max_backoff_seconds
        self._max_batch = max_batch
        self._failures: dict[str, int] = {}

    @property
    def dead_letter_topic(self) -> str:
        return self._dead_letter_topic

    def subscribe(self) -> None:
        """Register with the broker; call before the broker starts."""
        subscriber = self._broker.subscriber(
            *self._sources,
            group_id=self._group_id,
            auto_offset_reset="earliest",
            # On an exception every partition of the batch is rewound to its first
            # record of the batch; what was applied is skipped on redelivery.
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=self._max_batch,
            batch_timeout_ms=POLL_MS,
            decoder=_no_decoding,
        )
        subscriber(self.on_batch)

    async def on_batch(self, _: Any, message: KafkaMessage) -> None:
        raw = message.raw_message
        records = [Record.of(r) for r in (raw if isinstance(raw, tuple) else (raw,))]
        if not await self._apply_batch(records):
            # Something in the batch needs the careful path: a poison record, a
            # duplicate delivered concurrently, a failure. One transaction each, exactly
            # as before batching; applied records are skipped as duplicates.
            for record in records:
                await self.on_record(record)
        for record in records:
            self._observe_lag(message.consumer, record)

    async def _apply_batch(self, records: list[Record]) -> bool:
        """Apply the whole batch in one transaction; False if it must go record by record.

        Each record gets its CONSUMER span around its own handler call, inside the
        shared transaction (so the events it causes join its trace).
        """
        if len(records) < 2:
            return False
        events: list[tuple[Record, events_pb2.Event]] = []
        for record in records:
            try:
                events.append((record, decode(record.value)))
            except PoisonEvent:
                return False
        ids = [event.envelope.event_id for _, event in events]
        if len(set(ids)) != len(ids):
            return False

        async def work(session: AsyncClientSession) -> bool:
            seen = {
                doc["_id"]
                async for doc in self._processed.find(
                    {"_id": {"$in": ids}}, projection={"_id": 1}, session=session
                )
            }
            fresh = [(r, e) for r, e in events if e.envelope.event_id not in seen]
            if fresh:
                await self._processed.insert_many(
                    [_processed_mark(event) for _, event in fresh], session=session
                )
            for record, event in events:
                with self._processing(record) as processing:
                    _describe(processing, event)
                    if event.envelope.event_id in seen:
                        processing.outcome = "duplicate"
                    else:
                        await self._handle(session, event)
                        processing.outcome = "applied"
            return bool(fresh)

        try:
            applied = await in_transaction(self._client, work)
        except Exception as error:
            log.debug("%s applies a batch of %d one by one: %r", self.name, len(records), error)
            return False
        if applied and self._after_commit is not None:
            self._after_commit()
        return True

    def _processing(self, record: Record) -> AbstractContextManager[observability.Processing]:
        return observability.processing(
            group=self._group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            headers=record.headers,
        )

    async def on_record(self, record: Record) -> None:
        """Apply, skip or dead-letter one record in its own transaction."""
        with self._processing(record) as processing:
            processing.outcome = await self._process(record, processing)

    async def _process(self, record: Record, processing: observability.Processing) -> str:
        """Apply, skip or dead-letter one record; the outcome names which."""
        try:
            event = decode(record.value)
        except PoisonEvent as poison:
            await self._dead_letter(record, str(poison))
            return "dead_lettered"
        _describe(processing, event)
        try:
            await in_transaction(self._client, lambda s: self._apply(s, event))
            applied = True
        except DuplicateKeyError:
            applied = False  # processed before, or a concurrent delivery got there first
        except PoisonEvent as poison:
            await self._dead_letter(record, str(poison))
            return "dead_lettered"
        except Exception as error:
            # Transient (or a bug): back off, then let the broker redeliver it.
            await self._back_off(event.envelope.event_id, error)
            raise
        self._failures.pop(event.envelope.event_id, None)
        if applied and self._after_commit is not None:
            self._after_commit()
        log.debug(
            "%s %s %s",
            "applied" if applied else "skipped duplicate",
            event_type(event),
            event.envelope.event_id,
        )
        return "applied" if applied else "duplicate"

    def _observe_lag(self, consumer: Any, record: Record) -> None:
        # The consumer already knows each partition's high watermark from its last
        # fetch, so lag costs no request; a consumer without one reports nothing.
        highwater = getattr(consumer, "highwater", None)
        if highwater is None or record.offset < 0:
            return
        try:
            end = highwater(TopicPartition(record.topic, record.partition))
        except Exception:
            return
        if isinstance(end, int):
            observability.record_consumer_lag(
                self._group_id, record.topic, record.partition, end - record.offset - 1
            )

    async def _apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        # The mark goes in first: for an event seen before, its unique _id fails the
        # insert (DuplicateKeyError, handled by the caller as a duplicate) and the
        # transaction aborts with nothing done, which spares every event a lookup.
        await self._processed.insert_one(_processed_mark(event), session=session)
        await self._handle(session, event)

    async def _back_off(self, event_id: str, error: Exception) -> None:
        attempts = self._failures.get(event_id, 0) + 1
        self._failures[event_id] = attempts
        delay = min(self._max_backoff, 0.1 * 2 ** (attempts - 1))
        log.warning(
            "%s could not apply event %s (attempt %d, retrying in %.1fs): %r",
            self.name,
            event_id,
            attempts,
            delay,
            error,
        )
        await asyncio.sleep(delay)

    async def _dead_letter(self, record: Record, reason: str) -> None:
        headers = dict(record.headers)
        headers.update(
            {
                "quorum-dlq-reason": reason,
                "quorum-dlq-consumer": self.name,
                "quorum-dlq-origin": f"{record.topic}/{record.partition}@{record.offset}",
            }
        )
        # Whoever inspects the dead letter lands on this failed processing span.
        headers.update(observability.current_trace_context())
        log.error(
            "%s dead-lettered %s/%s@%s: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            reason,
        )
        # Confirmed before the offset is committed: the poison is kept, not lost.
        await self._broker.publish(
            record.value, topic=self._dead_letter_topic, key=record.key, headers=headers
        )


def _processed_mark(event: events_pb2.Event) -> dict[str, Any]:
    return {
        "_id": event.envelope.event_id,
        "tenant_id": event.envelope.tenant_id,
        "type": event_type(event),
        "processed_at": now(),
    }


def _describe(processing: observability.Processing, event: events_pb2.Event) -> None:
    processing.span.set_attributes(
        {
            "messaging.message.id": event.envelope.event_id,
            "quorum.event.type": event_type(event),
            "quorum.tenant.id": event.envelope.tenant_id,
        }
    )
